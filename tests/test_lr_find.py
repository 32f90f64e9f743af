"""``tinygrad-opt lr-find``: the learning-rate range test on the digits MLP."""

import importlib.util
import re

import pytest

from tinygrad_opt.cli import main

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def test_lr_find_prints_the_curve_and_a_rate_below_the_divergence(tmp_path, capsys):
    status = main(["lr-find", "--optimizer", "sgd", "--steps", "60", "--lr-min", "1e-4",
                   "--lr-max", "100", "--seed", "1", "--plot", str(tmp_path)])
    assert status == 0
    output = capsys.readouterr().out
    assert "seed 1" in output and "sgd" in output
    rows = re.findall(r"^(\d+)\s+(\S+)\s+(\S+)$", output, flags=re.MULTILINE)
    lrs = [float(lr) for _, lr, _ in rows]
    assert lrs[0] == 1e-4 and lrs == sorted(lrs) and len(rows) <= 15
    assert "stopped early: the loss diverged" in output      # 100 is far too high for SGD
    lowest = float(re.search(r"lowest smoothed loss \S+ at lr (\S+)", output).group(1))
    suggested = float(re.search(r"suggested learning rate: (\S+)", output).group(1))
    assert suggested == pytest.approx(lowest / 10, rel=1e-2)
    assert 1e-3 < suggested < lrs[-1] / 10
    if HAVE_MATPLOTLIB:
        assert (tmp_path / "lr_find.png").stat().st_size > 1000


def test_lr_find_rejects_an_empty_range(capsys):
    assert main(["lr-find", "--lr-min", "1", "--lr-max", "0.1"]) == 2
    assert "--lr-min (1) must be below --lr-max (0.1)" in capsys.readouterr().err
