"""The command line, run as a user runs it: ``python -m tinygrad_opt ...`` in a subprocess."""

import importlib.util
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import tinygrad_opt as tg
from tinygrad_opt.cli import PLOT_HINT
from tinygrad_opt.serialization import load, save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, timeout=120):
    environment = dict(os.environ)
    environment["PYTHONPATH"] = REPO + os.pathsep + environment.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "tinygrad_opt", *args], capture_output=True,
                          text=True, timeout=timeout, env=environment)


def final_accuracy(stdout: str) -> float:
    """The number on the last line, ``test accuracy: 0.9xxx``."""
    last = stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"test accuracy: (\d\.\d+)", last)
    assert match, f"unexpected last line {last!r}"
    return float(match.group(1))


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """``train`` with the default hyperparameters (and --save, which changes nothing else)."""
    checkpoint = tmp_path_factory.mktemp("cli") / "digits.ckpt"
    start = time.perf_counter()
    result = run("train", "--no-progress", "--save", str(checkpoint))
    seconds = time.perf_counter() - start
    return result, seconds, checkpoint


def test_train_with_defaults_reaches_97_percent_on_digits(default_run):
    result, seconds, _ = default_run
    assert result.returncode == 0, result.stderr
    assert final_accuracy(result.stdout) >= 0.97
    assert seconds < 60
    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 40                          # the default number of epochs
    assert all(key in epoch_lines[-1] for key in ("train_loss", "val_loss", "val_accuracy", "lr"))
    assert "%|" not in result.stderr                        # --no-progress: no bars


def test_save_then_load_gives_the_same_test_accuracy(default_run):
    result, _, checkpoint = default_run
    assert result.returncode == 0, result.stderr
    state = load(checkpoint)
    assert {"model", "optimizer", "config"} <= set(state)
    assert state["config"]["hidden"] == [128]
    loaded = run("train", "--load", str(checkpoint))
    assert loaded.returncode == 0, loaded.stderr
    assert final_accuracy(loaded.stdout) == final_accuracy(result.stdout)
    assert "epoch 1/" not in loaded.stdout                  # evaluated, not trained


def test_progress_bars_and_the_toy_data_sets(tmp_path):
    result = run("train", "--data", "moons", "--epochs", "2", "--hidden", "16,16",
                 "--activation", "tanh", "--optimizer", "sgd", "--schedule", "cosine",
                 "--batchnorm", "--dropout", "0.1", "--patience", "1")
    assert result.returncode == 0, result.stderr
    assert "epoch 1/2" in result.stdout                     # summary lines with bars on too
    assert 0.0 <= final_accuracy(result.stdout) <= 1.0


def test_plot_writes_pngs_or_says_how_to_install_matplotlib(tmp_path):
    plot_dir = tmp_path / "plots"
    result = run("train", "--epochs", "1", "--no-progress", "--plot", str(plot_dir))
    assert result.returncode == 0, result.stderr
    if importlib.util.find_spec("matplotlib") is None:
        assert PLOT_HINT in result.stdout + result.stderr
        assert "pip install 'tinygrad_opt[plot]'" in PLOT_HINT
    else:
        assert sorted(os.listdir(plot_dir)) == ["accuracy.png", "loss.png", "lr.png"]
    final_accuracy(result.stdout)                              # training went on to the end


def test_help_exits_zero():
    result = run("train", "--help")
    assert result.returncode == 0
    assert "--hidden" in result.stdout and "--schedule" in result.stdout


def corrupt_checkpoint(tmp_path):
    path = tmp_path / "corrupt.ckpt"
    path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    return str(path)


def foreign_checkpoint(tmp_path):
    path = tmp_path / "foreign.ckpt"
    save({"weights": [1, 2, 3]}, str(path))
    return str(path)


BAD_INPUTS = [
    ["train", "--epochs", "0"],
    ["train", "--epochs", "-3"],
    ["train", "--epochs", "ten"],
    ["train", "--optimizer", "adamax"],
    ["train", "--activation", "swish"],
    ["train", "--data", "mnist"],
    ["train", "--lr", "fast"],
    ["train", "--lr", "-0.1"],
    ["train", "--lr", "nan"],
    ["train", "--hidden", "128,,64"],
    ["train", "--hidden", "0"],
    ["train", "--hidden", "big"],
    ["train", "--dropout", "1.5"],
    ["train", "--batch-size", "0"],
    ["train", "--val-fraction", "0.9"],
    ["train", "--schedule", "linear"],
    ["train", "--momentum", "0.9", "--optimizer", "adam"],
    ["train", "--no-such-flag"],
    ["train", "--load", "{tmp}/missing.ckpt"],
    ["train", "--load", "{corrupt}"],
    ["train", "--load", "{foreign}"],
    ["train", "--load", "{tmp}"],
    ["train", "--save", "{tmp}/no/such/dir/model.ckpt"],
    ["train", "--save", "{tmp}"],
    ["train", "--plot", "{corrupt}"],
    ["bogus"],
    [],
]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    """Every BAD_INPUTS command line, run as subprocesses a few at a time (they are quick)."""
    tmp_path = tmp_path_factory.mktemp("bad")
    places = {"tmp": str(tmp_path), "corrupt": corrupt_checkpoint(tmp_path),
              "foreign": foreign_checkpoint(tmp_path)}
    command_lines = []
    for arguments in BAD_INPUTS:
        arguments = [argument.format(**places) for argument in arguments]
        if arguments[:1] == ["train"] and "--epochs" not in arguments:
            arguments.extend(["--epochs", "1"])   # were a bad input accepted, it would be quick
        command_lines.append(arguments)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda arguments: run(*arguments), command_lines))
    return dict(zip(map(tuple, BAD_INPUTS), results))


@pytest.mark.parametrize("arguments", BAD_INPUTS, ids=lambda a: " ".join(a) or "no-command")
def test_bad_input_gives_a_one_line_error_and_exit_code_2(arguments, bad_runs):
    result = bad_runs[tuple(arguments)]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tinygrad-opt: error:")


def test_cuda_without_a_gpu_is_a_clean_error():
    result = run("train", "--device", "cuda", "--epochs", "1")
    if tg.cuda.is_available():
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 2
        assert result.stderr.startswith("tinygrad-opt: error:") and "Traceback" not in result.stderr


def test_bench_command_prints_ratios_against_numpy():
    """`tinygrad-opt bench` runs on an install and reports ours vs the NumPy reference."""
    result = subprocess.run([sys.executable, "-m", "tinygrad_opt", "bench", "--quick",
                             "--only", "ops"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.strip().startswith("(")]
    assert len(rows) == 2  # the (8,) and (1024, 1024) chains
    for row in rows:
        ratio = float(row.split("|")[3].strip().rstrip("x"))
        assert ratio > 0


def test_bench_profile_splits_the_small_step():
    """`tinygrad-opt bench --only profile` shows where a small step's time goes."""
    result = subprocess.run([sys.executable, "-m", "tinygrad_opt", "bench", "--quick",
                             "--only", "profile"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    shares = [int(line.split()[-1].rstrip("%")) for line in out.splitlines()
              if line.strip().split(" ")[0] in ("zero_grad", "forward", "loss", "backward",
                                                "step")]
    assert len(shares) == 5 and 95 <= sum(shares) <= 105  # the parts make up the step
    for op in ("Linear.backward", "CrossEntropy.backward", "Relu.backward", "topological sort"):
        assert op in out
    assert "g.T @ x" in out and "ratio" in out


def test_train_cnn_on_digits_reaches_98_percent_from_the_command_line():
    """Issue 11: the small CNN reaches 98% test accuracy on the digits from the CLI."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "tinygrad_opt", "train", "--model", "cnn",
                             "--no-progress"], capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 0, result.stderr
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", result.stdout).group(1))
    assert accuracy >= 0.98
