"""``tinygrad-opt tune``: the command run in a subprocess, through argparse, as a user runs it.

The subprocess builds a parser with ``tinygrad_opt.cli.tune.add_tune_command`` (what
tinygrad_opt/cli/__init__.py does to register the command) and calls the ``run`` it sets.
"""

import argparse
import json
import os
import re
import subprocess
import sys

import pytest

from tinygrad_opt.cli import tune as tune_cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = """
import argparse, sys
from tinygrad_opt.cli import tune
parser = argparse.ArgumentParser(prog="tinygrad-opt")
commands = parser.add_subparsers(dest="command", required=True)
tune.add_tune_command(commands)
args = parser.parse_args(sys.argv[1:])
sys.exit(args.run(args))
"""


def run_tune(*args, timeout=120):
    environment = dict(os.environ)
    environment["PYTHONPATH"] = REPO + os.pathsep + environment.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", SCRIPT, "tune", *args], capture_output=True,
                          text=True, timeout=timeout, env=environment)


def parse(*args):
    parser = argparse.ArgumentParser(prog="tinygrad-opt")
    tune_cli.add_tune_command(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["tune", *args])


def test_tune_random_search_prints_table_best_and_saves(tmp_path):
    directory = tmp_path / "search"
    result = run_tune("--trials", "3", "--epochs", "2", "--save", str(directory))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert len(re.findall(r"^trial \d/3 ", out, flags=re.MULTILINE)) == 3     # progress lines
    assert "random search, mode=max: 3 trials, 0 failed" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("rank"))
    for column in ("lr", "schedule", "decay", "weight_decay", "dropout"):
        assert column in header
    assert "momentum" not in header and "hidden" not in header     # adam; width not searched
    best_line = re.search(r"best configuration \(trial (\d)\): lr=\S+, "
                          r"schedule=(none|step|exponential|inverse-time), decay=\S+, "
                          r"weight_decay=\S+, dropout=\S+$", out, flags=re.MULTILINE)
    assert best_line
    accuracy = re.search(r"validation accuracy: (\d\.\d+)", out)
    names = sorted(name for name in os.listdir(directory) if name != "search.json")
    assert len(names) == 3
    first = json.loads((directory / names[0]).read_text())
    values = [json.loads((directory / name).read_text())["value"] for name in names]
    assert values == sorted(values, reverse=True)            # mode max: best file first
    assert first["number"] == int(best_line.group(1))
    assert first["value"] == pytest.approx(float(accuracy.group(1)), abs=1e-4)
    assert first["extras"]["epochs"] == 2
    assert 0.0 <= first["extras"]["test_accuracy"] <= 1.0


def test_tune_bayes_with_two_workers():
    result = run_tune("--method", "bayes", "--trials", "4", "--epochs", "1", "--workers", "2",
                      "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "bayes search, mode=max: 4 trials" in result.stdout
    assert "trial 1/4" not in result.stdout                  # --no-progress
    assert "best configuration" in result.stdout


def test_tune_coarse_to_fine_stages_train_longer(capsys):
    assert tune_cli._stages(6, 8) == [{"n_trials": 3, "budget": 2}, {"n_trials": 2, "budget": 4},
                                      {"n_trials": 1, "budget": 8}]
    assert tune_cli._stages(2, 8) == [{"n_trials": 1, "budget": 4}, {"n_trials": 1, "budget": 8}]
    args = parse("--method", "coarse-to-fine", "--trials", "3", "--epochs", "2", "--no-progress")
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "coarse-to-fine search" in out and "budget" in out
    assert re.search(r"\(2 epochs\)", out)                   # the best is from the last stage


def test_tune_bad_input():
    result = run_tune("--method", "annealing")
    assert result.returncode == 2 and "invalid choice" in result.stderr
    result = run_tune("--trials", "0")
    assert result.returncode == 2 and "positive integer" in result.stderr


def test_tune_refuses_overwrite_without_save(capsys):
    args = parse("--trials", "2", "--epochs", "1", "--overwrite")
    with pytest.raises(ValueError, match="--overwrite applies to --save"):
        args.run(args)
    assert "trial 1/2" not in capsys.readouterr().out


def test_tune_refuses_to_overwrite_an_earlier_search_before_searching(tmp_path, capsys):
    (tmp_path / "01_0.9_trial000.json").write_text("{}")
    (tmp_path / "search.json").write_text(json.dumps({"files": ["01_0.9_trial000.json",
                                                                "search.json"]}))
    args = parse("--trials", "2", "--epochs", "1", "--save", str(tmp_path))
    with pytest.raises(ValueError, match="--overwrite"):
        args.run(args)
    assert "trial 1/2" not in capsys.readouterr().out          # failed before the search


def test_tune_searches_the_notes_first_hyperparameters_and_momentum_for_sgd():
    from tinygrad_opt.tune import Choice, LogUniform, Uniform
    adam = tune_cli.search_space(epochs=3, seed=1)
    assert isinstance(adam["lr"], LogUniform) and isinstance(adam["decay"], LogUniform)
    assert isinstance(adam["weight_decay"], LogUniform) and isinstance(adam["dropout"], Uniform)
    assert list(adam["schedule"].options) == ["none", "step", "exponential", "inverse-time"]
    assert "momentum" not in adam and adam["optimizer"] == "adam"
    sgd = tune_cli.search_space(epochs=3, seed=1, optimizer="sgd")
    assert isinstance(sgd["momentum"], Choice) and sgd["lr"].hi == 1.0


def test_tune_schedules_follow_the_notes_formulas():
    import math
    from tinygrad_opt import optim
    import tinygrad_opt as tg
    lrs = {}
    for name in ("step", "exponential", "inverse-time"):
        optimizer = optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
        scheduler = tune_cli.make_scheduler(name, 0.1, optimizer)
        lrs[name] = []
        for _ in range(8):
            lrs[name].append(optimizer.param_groups[0]["lr"])
            scheduler.step()
    assert lrs["exponential"][5] == pytest.approx(math.exp(-0.5))
    assert lrs["inverse-time"][5] == pytest.approx(1 / 1.5)
    assert lrs["step"][:8] == [1.0] * 7 + [0.5]                # halve every round(ln2/0.1) = 7
    assert tune_cli.make_scheduler("none", 0.1, optimizer) is None


def test_tune_with_sgd_searches_momentum():
    result = run_tune("--optimizer", "sgd", "--trials", "2", "--epochs", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.strip().startswith("rank"))
    assert "momentum" in header
    assert re.search(r"momentum=(0\.5|0\.9|0\.95|0\.99)$", result.stdout, flags=re.MULTILINE)
