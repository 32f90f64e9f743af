"""Every example runs end to end (``--quick``): its printed tables match a committed
snapshot, and show the key result.

The quick run of each example (``examples/<name>.py --quick --seed 0 --device cpu``,
a subprocess, the way a user runs it) is made once per session by
``tests/examples_runner.py`` and shared by all tests that read it.

* ``test_quick_run_matches_its_snapshot`` compares what every example in examples/
  prints (minus timing lines, figure paths and the matplotlib hint) with
  ``tests/snapshots/<name>.txt``. A change of numerics anywhere fails it. If the change
  is meant, regenerate the snapshots *and* the full tables of docs/experiments.md
  together: ``python examples/regenerate.py`` (``--snapshots`` for the snapshots alone;
  or ``TINYGRAD_OPT_UPDATE_SNAPSHOTS=1 pytest tests/test_examples.py`` to write them from
  this run).
* The other tests assert each example's key finding with margins (docs/experiments.md
  has the full-size numbers), so that a snapshot refreshed by mistake cannot hide a
  result that no longer holds.

BLAS is kept to one thread: these matrices are tiny, and threads only add overhead.
"""

import difflib
import math
import os
import re

import pytest

from examples_runner import (HAVE_MATPLOTLIB, ROOT, output_of, quick_run, regenerate, rows_of,
                             run_example, table)

PLOT_HINT = regenerate.PLOT_HINT
UPDATE = os.environ.get("TINYGRAD_OPT_UPDATE_SNAPSHOTS") == "1"


OPTIONAL = {"mpi4py", "numba", "cupy", "dask", "distributed"}   # extras an example may need


@pytest.mark.parametrize("name", regenerate.discover())
def test_quick_run_matches_its_snapshot(name):
    text = (ROOT / "examples" / f"{name}.py").read_text()
    for flag in ("--quick", "--seed", "--device", "--plot"):
        assert f'"{flag}"' in text, f"examples/{name}.py must accept {flag} (see regenerate.py)"
    missing = re.search(r"No module named '(\w+)", quick_run(name).stderr)
    if quick_run(name).returncode != 0 and missing and missing.group(1) in OPTIONAL:
        pytest.skip(f"examples/{name}.py needs {missing.group(1)}, an optional extra")
    output = output_of(name)
    plots = quick_run(name).plots
    if HAVE_MATPLOTLIB:
        pngs = sorted(plots.glob("*.png"))
        assert pngs and all(p.stat().st_size > 1000 for p in pngs), f"{name}: no figure"
        assert PLOT_HINT not in output
    else:
        assert PLOT_HINT in output
    path = regenerate.snapshot_path(name)
    if UPDATE:
        regenerate.write_snapshot(name, output)
        return
    create = (f"python examples/regenerate.py --snapshots --only {name}")
    assert path.exists(), (f"examples/{name}.py has no snapshot {path.relative_to(ROOT)}: "
                           f"create it with `{create}`, check it and commit it (and add the "
                           "example's section to docs/experiments.md)")
    expected, got = path.read_text(), regenerate.comparable(output)
    if got != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), got.splitlines(True),
                                            f"snapshot {path.name}", "this run"))
        pytest.fail(f"examples/{name}.py --quick printed something else than its snapshot. "
                    "If the numerics changed on purpose, regenerate the full tables and the "
                    "snapshots together: `python examples/regenerate.py` (or only the "
                    f"snapshots: `{create}`), and update the verdicts in "
                    f"docs/experiments.md.\n{diff}", pytrace=False)


def number(cell):
    return float(cell.rstrip("%"))


def test_vanishing_gradients(tmp_path):
    output = run_example("vanishing_gradients.py", tmp_path)
    rows = table(output, "Summary")
    first_over_last = {model: number(cells[2]) for model, cells in rows.items()}
    # sigmoid: the first layer's gradient is orders of magnitude below the last's
    assert first_over_last["sigmoid"] < 1e-3
    # ReLU+residual, ReLU and its variants, tanh and BatchNorm keep it within one order of
    # magnitude
    for model in ("relu+residual", "relu", "tanh", "sigmoid+batchnorm", "leaky_relu", "elu",
                  "selu", "maxout"):
        assert 0.1 < first_over_last[model] < 10, model
    sigmoid_first, residual_first = number(rows["sigmoid"][0]), number(rows["relu+residual"][0])
    assert sigmoid_first * 100 < residual_first
    # the per-layer table has one row per Linear layer (10 in quick mode)
    assert list(table(output, "Per-layer gradient norm ||dL/dW|| at init")) == [
        f"L{i}" for i in range(1, 11)]


def test_optimizers_2d(tmp_path):
    output = run_example("optimizers_2d.py", tmp_path)
    rosenbrock = table(output, "rosenbrock")
    assert int(rosenbrock["Newton"][0]) <= 10                 # a few Newton steps
    assert rosenbrock["SGD"][0] == "max steps"                # 200 SGD steps are not enough
    saddle = table(output, "saddle")
    assert saddle["SGD"][0] == "max steps"                    # SGD lingers at the saddle
    for name in ("Adagrad", "RMSprop", "Adam"):               # adaptive steps escape
        assert int(saddle[name][0]) < 100, name
    assert number(saddle["Newton"][1]) == 0 and saddle["Newton"][2] == "(0, 0)"  # stuck on it


def test_optimizers_mlp(tmp_path):
    output = run_example("optimizers_mlp.py", tmp_path)
    rows = table(output)
    final_loss = {name: number(cells[1]) for name, cells in rows.items()}
    assert len(rows) == 7
    assert final_loss["Momentum"] < final_loss["SGD"] / 2     # same lr, momentum goes faster
    assert final_loss["Nesterov"] < final_loss["SGD"] / 2
    assert number(rows["L-BFGS (full batch)"][2]) > 0.9       # test accuracy


def test_lr_schedules(tmp_path):
    output = run_example("lr_schedules.py", tmp_path)
    rows = table(output)
    last_lr = {name: number(cells[0]) for name, cells in rows.items()}
    # quick mode: 6 epochs, the rate of epoch t = 5 (the last one)
    assert last_lr["constant"] == pytest.approx(0.1)
    assert last_lr["step (x0.5 / 5 ep)"] == pytest.approx(0.05)
    assert last_lr["exponential (k=0.1)"] == pytest.approx(0.1 * math.exp(-0.5), rel=1e-3)
    assert last_lr["1/t (k=0.5)"] == pytest.approx(0.1 / 3.5, rel=1e-3)
    assert last_lr["cosine"] == pytest.approx(0.05 * (1 + math.cos(math.pi * 5 / 6)), rel=1e-3)
    assert all(number(cells[-1]) > 0.9 for cells in rows.values())   # test accuracy


def test_dead_relu(tmp_path):
    output = run_example("dead_relu.py", tmp_path)
    rows = rows_of(output)
    dead = {(cells[0], float(cells[1])): number(cells[3]) for cells in rows}
    assert len(dead) == 4
    assert all(number(cells[2]) == 0 for cells in rows)    # no dead units at initialisation
    assert dead["ReLU", 0.01] == 0                           # a small rate kills none
    assert dead["ReLU", 1.0] >= 2                            # a large one kills some (percent)


def test_l1_vs_l2(tmp_path):
    output = run_example("l1_vs_l2.py", tmp_path)
    rows = table(output)
    exact_zeros = {name: int(cells[0]) for name, cells in rows.items()}
    assert exact_zeros["L1 (coord. desc.)"] >= 40            # 45 features carry no signal
    assert exact_zeros["L1 (penalty)"] == 0                  # the subgradient never lands on 0
    assert exact_zeros["L2 (penalty)"] == 0 and exact_zeros["none"] == 0
    assert all(cells[2] == "5/5" for cells in rows.values())


def test_focal_loss(tmp_path):
    output = run_example("focal_loss.py", tmp_path)
    rows = table(output)
    assert rows["focal gamma=0"][1:] == rows["BCE"][1:]      # gamma = 0 is BCE, exactly
    recall = {name: number(cells[2]) for name, cells in rows.items()}
    g_mean = {name: number(cells[4]) for name, cells in rows.items()}
    auc = {name: number(cells[5]) for name, cells in rows.items()}
    for name in ("BCE pos_weight=50", "BCE over-sampling", "BCE under-sampling"):
        assert recall[name] > recall["BCE"] + 0.3, name
        assert g_mean[name] > g_mean["BCE"] + 0.2, name
    assert max(auc.values()) - min(auc.values()) < 0.05       # the ranking barely changes


def test_regularisation(tmp_path):
    output = run_example("regularisation.py", tmp_path)
    rows = table(output)
    assert list(rows) == ["baseline", "dropout 0.5", "L2 1e-3", "early stopping"]
    baseline = rows["baseline"]
    assert number(baseline[4]) == 1.0                        # memorises the 200 samples
    assert number(baseline[6]) > 0.05                        # train-validation gap


def test_second_order(tmp_path):
    output = run_example("second_order.py", tmp_path)
    rows = table(output)
    assert int(rows["Newton"][0]) <= 15
    assert int(rows["L-BFGS"][0]) <= 60
    assert rows["gradient descent"][0] == "not in 300"


def test_examples_accept_device_and_seed(tmp_path):
    output = run_example("second_order.py", tmp_path, "--device", "strict", "--seed", "3")
    assert "seed 3" in output and int(table(output)["Newton"][0]) <= 15
