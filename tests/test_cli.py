"""The command line, run as a user runs it: ``python -m tinygrad_opt ...`` in a subprocess."""

import importlib.util
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.cli.args import PLOT_HINT
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


TOY_RUN = ["train", "--data", "moons", "--epochs", "2", "--hidden", "16,16", "--activation",
           "tanh", "--optimizer", "sgd", "--schedule", "cosine", "--batchnorm", "--dropout",
           "0.1", "--patience", "1"]


def test_the_toy_data_sets_and_no_progress_bars_in_redirected_output(tmp_path):
    result = run(*TOY_RUN)                                  # stdout and stderr are pipes
    assert result.returncode == 0, result.stderr
    assert "epoch 1/2" in result.stdout and "epoch 2/2" in result.stdout
    assert "%|" not in result.stdout + result.stderr        # no bars in a log file
    assert 0.0 <= final_accuracy(result.stdout) <= 1.0


def test_progress_bars_on_a_terminal():
    import fcntl
    import pty
    import struct
    import termios
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    environment = dict(os.environ)
    environment["PYTHONPATH"] = REPO + os.pathsep + environment.get("PYTHONPATH", "")
    process = subprocess.Popen([sys.executable, "-m", "tinygrad_opt", *TOY_RUN],
                               stdout=terminal, stderr=terminal, env=environment)
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:                                     # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=120) == 0
    text = output.decode(errors="replace")
    assert "%|" in text and "epoch 1/2" in text and "test accuracy" in text


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


def test_version():
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tinygrad-opt {tg.__version__}"


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


def train_checkpoint(path, change=None):
    """A small ``train --save``-shaped checkpoint; ``change(state)`` damages it first."""
    from tinygrad_opt.cli import train
    config = {"data": "digits", "model": "mlp", "hidden": [8], "activation": "relu",
              "batchnorm": False, "dropout": 0.0, "in_features": 64, "num_classes": 10,
              "val_fraction": 0.2}
    X, _, _ = train.load_data("digits")
    state = {"model": train.build_model(config).state_dict(), "config": config,
             "standardize": {"mean": X.mean(axis=0), "std": X.std(axis=0) + 1.0}}
    if change is not None:
        change(state)
    save(state, str(path))
    return str(path)


MALFORMED = {   # checkpoint name: how its train --save state is damaged
    "model_5": lambda state: state["config"].update(model=5),
    "config_list": lambda state: state.update(config=[1]),
    "state_5": lambda state: state.update(model=5),
    "mean_text": lambda state: state["standardize"].update(mean="0.5"),
    "mean_short": lambda state: state["standardize"].update(mean=np.zeros(3)),
    "val_fraction_text": lambda state: state["config"].update(val_fraction="0.2"),
    "hidden_absurd": lambda state: state["config"].update(hidden=[10 ** 12]),
    "hidden_many": lambda state: state["config"].update(hidden=[4096] * 60),
    "hidden_text": lambda state: state["config"].update(hidden="128"),
    "data_mnist": lambda state: state["config"].update(data="mnist"),
    "classes_3": lambda state: state["config"].update(num_classes=3),
    "no_standardize": lambda state: state.pop("standardize"),
}


BAD_INPUTS = [
    ["train", "--epochs", "0"],
    ["train", "--epochs", "-3"],
    ["train", "--epochs", "ten"],
    ["train", "--optimizer", "lamb"],
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
    ["train", "--weight-decay", "0.01", "--optimizer", "rprop"],
    ["train", "--no-such-flag"],
    ["train", "--load", "{tmp}/missing.ckpt"],
    ["train", "--load", "{corrupt}"],
    ["train", "--load", "{foreign}"],
    ["train", "--load", "{tmp}"],
    ["train", "--save", "{tmp}/no/such/dir/model.ckpt"],
    ["train", "--save", "{tmp}"],
    ["train", "--plot", "{corrupt}"],
    ["train", "--momentum", "1.5", "--optimizer", "sgd"],
    ["train", "--momentum", "1", "--optimizer", "rmsprop"],
    ["train", "--save", "{existing}"],                       # exists: needs --overwrite
    ["train", "--overwrite"],                                # without --save
    ["train", "--model", "cnn", "--hidden", "64"],           # the cnn ignores --hidden
    ["train", "--model", "cnn", "--batchnorm"],
    ["train", "--load", "{good}", "--data", "moons"],       # --load ignores what it trained with
    ["train", "--load", "{good}", "--optimizer", "sgd"],
    ["train", "--load", "{good}", "--epochs", "3"],
    ["train", "--load", "{good}", "--seed", "0"],            # even at its default value
    ["train", "--load", "{good}", "--save", "{tmp}/copy.ckpt"],
    *[["train", "--load", "{%s}" % name] for name in MALFORMED],
    ["bogus"],
    [],
]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    """Every BAD_INPUTS command line, run as subprocesses a few at a time (they are quick)."""
    tmp_path = tmp_path_factory.mktemp("bad")
    (tmp_path / "existing.ckpt").write_text("keep")
    places = {"tmp": str(tmp_path), "corrupt": corrupt_checkpoint(tmp_path),
              "foreign": foreign_checkpoint(tmp_path),
              "good": train_checkpoint(tmp_path / "good.ckpt"),
              "existing": str(tmp_path / "existing.ckpt")}
    for name, change in MALFORMED.items():
        places[name] = train_checkpoint(tmp_path / f"{name}.ckpt", change)
    assert run("train", "--load", places["good"], "--no-progress").returncode == 0
    command_lines = []
    for arguments in BAD_INPUTS:
        arguments = [argument.format(**places) for argument in arguments]
        if arguments[:1] == ["train"] and "--epochs" not in arguments \
                and "--load" not in arguments:
            arguments.extend(["--epochs", "1"])   # were a bad input accepted, it would be quick
        command_lines.append(arguments)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda arguments: run(*arguments), command_lines))
    assert (tmp_path / "existing.ckpt").read_text() == "keep"
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
    # the summary of issue 15's targets: the chain's, with the ratio of the (8,) row
    [target] = [line for line in result.stdout.splitlines() if "<= 4.00x" in line]
    assert target.split("|")[1].strip() == rows[0].split("|")[3].strip()
    assert target.split("|")[3].strip() == ("yes" if float(rows[0].split("|")[3].strip()
                                                            .rstrip("x")) <= 4 else "no")


def test_bench_adam_reports_the_default_update_with_and_without_numba():
    """`tinygrad-opt bench --only adam`: the readable rule, the default update and the
    default without Numba (the NumPy twin) against the hand-written one-pass Adam."""
    result = subprocess.run([sys.executable, "-m", "tinygrad_opt", "bench", "--quick",
                             "--only", "adam"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    ratios = {}
    for line in result.stdout.splitlines():
        for case in ("1 x 10M, no Numba", "1 x 10M, default", "100 x 100k", "1 x 10M"):
            if line.strip().startswith(case):
                ratios[case] = float(line.strip()[len(case):].split()[2].rstrip("x"))
                break
    assert set(ratios) == {"1 x 10M", "100 x 100k", "1 x 10M, default", "1 x 10M, no Numba"}
    assert all(ratio > 0 for ratio in ratios.values())
    [target] = [line for line in result.stdout.splitlines() if "<= 0.80x" in line]
    assert float(target.split("|")[1].strip().rstrip("x")) == ratios["1 x 10M, default"]
    [others] = [line for line in result.stdout.splitlines() if "Adam's default update" in line]
    assert f"without Numba (the NumPy twin): {ratios['1 x 10M, no Numba']:.2f}x" in others
    assert f"(fused=False): {ratios['1 x 10M']:.2f}x" in others


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


def test_save_onto_an_existing_file_needs_overwrite(tmp_path):
    path = tmp_path / "model.ckpt"
    path.write_text("an earlier run")
    refused = run("train", "--epochs", "1", "--no-progress", "--save", str(path))
    assert refused.returncode == 2 and "--overwrite" in refused.stderr
    assert path.read_text() == "an earlier run"                 # refused before training
    assert "epoch 1/1" not in refused.stdout
    replaced = run("train", "--epochs", "1", "--no-progress", "--save", str(path),
                   "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert load(path)["config"]["epochs"] == 1


def test_a_diverging_run_prints_one_line_counting_epochs_from_1():
    result = run("train", "--optimizer", "sgd", "--lr", "10000", "--epochs", "3",
                 "--no-progress")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr       # no RuntimeWarnings
    assert "RuntimeWarning" not in result.stderr
    assert re.fullmatch(r"tinygrad-opt: error: fit: the training loss became nan in epoch "
                        r"1/3; lower the learning rate or clip gradients\n", result.stderr)


@pytest.mark.parametrize("flags, header", [
    (["--epochs", "0"], "10 Linear layers of width 64, 0 epochs"),
    (["--depth", "4"], "4 Linear layers of width 64, 2 epochs"),
])
def test_vanishing_quick_keeps_explicit_depth_and_epochs(flags, header):
    result = run("vanishing", "--quick", "--models", "sigmoid,relu", *flags)
    assert result.returncode == 0, result.stderr
    assert header in result.stdout.splitlines()[0]


@pytest.mark.parametrize("argv, expected", [
    (["train", "--data", "digits", "--no-progress"], {"data", "no_progress"}),  # default values
    (["train", "--dat", "moons"], {"data"}),                                   # abbreviated
    (["train"], set()),
    (["bench", "--quick", "--only", "ops", "--only", "mlp"], {"quick"}),        # append: left out
    (["vanishing", "--quick", "--epochs", "10"], {"quick", "epochs"}),
])
def test_given_flags_are_the_ones_written(argv, expected):
    from tinygrad_opt import cli
    args = cli.build_parser().parse_args(argv)
    assert cli.given_flags(argv, args) == expected
    assert args.only == ["ops", "mlp"] if argv[0] == "bench" else True


def test_every_listed_optimizer_and_activation_trains_the_mlp():
    """Each ``--optimizer`` and ``--activation`` choice builds, and three SGD-sized steps of
    each optimizer lower the loss of a small MLP on fixed data (in process: the choices
    are the dicts the parser lists)."""
    from tinygrad_opt import nn
    from tinygrad_opt.cli.train import ACTIVATIONS, OPTIMIZERS, build_mlp, build_optimizer
    rng = np.random.default_rng(0)
    X = tg.tensor(rng.normal(size=(64, 4)), dtype=tg.float32)
    y = tg.tensor((X.numpy()[:, 0] > 0).astype(np.int64))
    for activation in ACTIVATIONS:
        model = build_mlp(4, (8,), 2, activation)
        assert type(model[1]).__name__ == ACTIVATIONS[activation]
        assert model(X).shape == (64, 2)
    for name, (class_name, _) in OPTIMIZERS.items():
        tg.manual_seed(0)
        model = build_mlp(4, (8,), 2, "tanh")
        optimizer = build_optimizer(name, model.parameters())
        assert type(optimizer).__name__ == class_name
        losses = []
        for _ in range(4):
            loss = nn.functional.cross_entropy(model(X), y)
            losses.append(loss.item())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        assert losses[-1] < losses[0], (name, losses)


def test_a_newer_optimizer_and_activation_from_the_command_line():
    result = run("train", "--data", "moons", "--epochs", "2", "--hidden", "8",
                 "--optimizer", "radam", "--activation", "mish", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert 0.0 <= final_accuracy(result.stdout) <= 1.0
