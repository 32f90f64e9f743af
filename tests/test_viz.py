"""viz plotting helpers: a clear error without matplotlib, real PNG files with it.

The error tests always run (matplotlib is hidden by monkeypatching the import);
the PNG tests need matplotlib (the ``plot`` extra) and are skipped without it.
"""

import sys

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, viz
from tinygrad_opt.datasets import moons, rosenbrock, saddle

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def moons_model():
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))


def calls(path):
    """One call of every plotting helper, writing to ``path``."""
    X, y = moons(60, seed=0)
    return {
        "curves": lambda: viz.plot_curves({"train_loss": [2.0, 1.0, 0.5],
                                           "val_accuracy": [0.2, 0.6, 0.9]}, path),
        "lr_schedule": lambda: viz.plot_lr_schedule({"cosine": [0.1, 0.05, 0.0]}, path),
        "grad_norms": lambda: viz.plot_grad_norms(np.array([[1e-6, 1e-2], [2e-6, 3e-2]]), path,
                                                  names=["L1", "L2"]),
        "grad_norm_bars": lambda: viz.plot_grad_norm_bars({"sigmoid": [1e-9, 1e-1],
                                                           "relu": [0.3, 0.5]}, path),
        "bars": lambda: viz.plot_bars({"a": 1.0, "b": 2.0}, path, ylabel="score"),
        "histograms": lambda: viz.plot_histograms({"l1": np.r_[np.zeros(5), 1.0, -2.0],
                                                   "l2": [0.1, -0.2, 0.3]}, path,
                                                  xlabel="weight"),
        "trajectories": lambda: viz.plot_trajectories(
            rosenbrock, {"gd": np.array([[-1.2, 1.0], [-1.0, 0.9], [0.5, 0.3]])}, path),
        "saddle": lambda: viz.plot_trajectories(saddle, {"gd": [[1.0, 1e-3], [0.5, 0.1]]}, path,
                                                minima=saddle.saddle_points),
        "decision_boundary": lambda: viz.plot_decision_boundary(moons_model(), X, y, path,
                                                                resolution=30),
    }


NAMES = list(calls("unused"))


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make ``import matplotlib`` (and its submodules) fail as if it were not installed."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import -> ImportError


@pytest.mark.parametrize("name", NAMES)
def test_without_matplotlib_each_helper_says_how_to_install_it(no_matplotlib, tmp_path, name):
    path = tmp_path / "figure.png"
    with pytest.raises(RuntimeError) as error:
        calls(str(path))[name]()
    assert str(error.value) == "matplotlib is not installed: pip install 'tinygrad_opt[plot]'"
    assert str(error.value) == viz.PLOT_HINT
    assert not path.exists()
    assert viz.matplotlib_available() is False


@pytest.mark.parametrize("name", NAMES)
def test_with_matplotlib_each_helper_writes_a_png(tmp_path, name):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"{name}.png"
    assert calls(str(path))[name]() == str(path)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert viz.matplotlib_available() is True


def test_decision_boundary_restores_training_mode_and_needs_no_graph(tmp_path):
    pytest.importorskip("matplotlib")
    model = moons_model()
    X, y = moons(40, seed=1)
    viz.plot_decision_boundary(model, X, y, str(tmp_path / "b.png"), resolution=20)
    assert model.training
    model.eval()
    viz.plot_decision_boundary(model, X, y, str(tmp_path / "c.png"), resolution=20)
    assert not model.training


def _texts(figure):
    return [(axes.get_xlabel(), axes.get_ylabel()) for axes in figure.axes]


def test_plot_curves_counts_epochs_from_1_with_integer_ticks(figures, tmp_path):
    viz.plot_curves({"train_loss": [2.0, 1.0, 0.5], "val_accuracy": [0.2, 0.6, 0.9]},
                    str(tmp_path / "c.png"))
    loss_axes, accuracy_axes = figures[0].axes
    assert list(loss_axes.lines[0].get_xdata()) == [1, 2, 3]
    assert _texts(figures[0]) == [("epoch", "loss"), ("epoch", "accuracy")]
    for axes in figures[0].axes:
        ticks = [tick for tick in axes.get_xticks() if 1 <= tick <= 3]
        assert ticks and all(float(tick).is_integer() for tick in ticks)


def test_plot_curves_takes_x_values(figures, tmp_path):
    path = str(tmp_path / "x.png")
    viz.plot_curves({"ensemble": [90.0, 93.0, 94.0, 95.0]}, path, x=[1, 2, 4, 8],
                    xlabel="number of models", ylabel="test accuracy %")
    line = figures[-1].axes[0].lines[0]
    assert list(line.get_xdata()) == [1, 2, 4, 8]
    assert _texts(figures[-1]) == [("number of models", "test accuracy %")]
    viz.plot_curves({"a": [1.0, 2.0], "b": [3.0, 4.0, 5.0]}, path, ylabel="score",
                    x={"a": [0.5, 1.5], "b": [1, 2, 3]})
    assert [list(line.get_xdata()) for line in figures[-1].axes[0].lines] == \
        [[0.5, 1.5], [1, 2, 3]]
    with pytest.raises(ValueError, match="3 x values for the 4 values of 'ensemble'"):
        viz.plot_curves({"ensemble": [1.0, 2.0, 3.0, 4.0]}, path, x=[1, 2, 3], ylabel="%")


def test_no_axis_is_labelled_just_value(figures, tmp_path):
    path = str(tmp_path / "v.png")
    viz.plot_curves({"SGD test_accuracy": [0.5, 0.7], "Adam test_accuracy": [0.6, 0.8]}, path)
    assert _texts(figures[-1]) == [("epoch", "accuracy")]
    with pytest.raises(ValueError, match="ylabel"):
        viz.plot_curves({"random": [3.0, 2.0], "bayes": [3.0, 1.0]}, path)
    with pytest.raises(ValueError, match="ylabel"):
        viz.plot_bars({"a": 1.0}, path)
    with pytest.raises(ValueError, match="xlabel"):
        viz.plot_histograms({"w": [0.1, 0.2]}, path)
    for call in calls(path).values():
        call()
    labels = [label for figure in figures for pair in _texts(figure) for label in pair]
    assert "value" not in labels
