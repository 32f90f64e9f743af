"""Bad input to ``tinygrad-opt``: one line ``tinygrad-opt: error: ...`` naming what was wrong,
exit status 2, no traceback; good input still works.

Most checks call the CLI's ``main(argv)`` in this process (fast); a few run
``python -m tinygrad_opt`` as a user does, for the exit status and the absence of a
traceback. tests/test_cli.py has the older table of bad inputs; these are the ones it
missed. ``CLI_ERRORS_EXAMPLES`` raises the examples of the flag-value property test.
"""

import contextlib
import io
import os
import stat
import subprocess
import sys
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cli import build_parser, main
from tinygrad_opt.serialization import save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = int(os.environ.get("CLI_ERRORS_EXAMPLES", "60"))
QUICK_TRAIN = ["train", "--data", "moons", "--epochs", "1", "--hidden", "8", "--no-progress"]


def run_main(capsys, argv):
    """``(exit status, stdout, stderr)`` of ``main(argv)``, a parse error's SystemExit included."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *named):
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinygrad-opt: error:"), err
    for text in named:
        assert text in lines[0], (text, lines[0])


@pytest.mark.parametrize("argv, named", [
    # a negative seed reached NumPy's "expected non-negative integer", naming no flag
    (QUICK_TRAIN + ["--seed", "-1"], ["--seed", "'-1'"]),
    (["lr-find", "--steps", "2", "--seed", "-5"], ["--seed", "'-5'"]),
    (["vanishing", "--quick", "--models", "relu", "--epochs", "0", "--seed", "-1"], ["--seed"]),
    (["tune", "--trials", "1", "--epochs", "1", "--seed", "-1"], ["--seed"]),
    (QUICK_TRAIN + ["--seed", "1.5"], ["--seed", "'1.5'"]),
    # a layer that cannot fit in memory was a MemoryError traceback
    (QUICK_TRAIN[:-3] + ["--hidden", str(10 ** 12)], ["out of memory", "TiB"]),
    (["lr-find", "--steps", "2", "--hidden", str(10 ** 12)], ["out of memory"]),
    (["vanishing", "--quick", "--models", "relu", "--epochs", "0", "--width", str(10 ** 12)],
     ["out of memory"]),
    # a malformed Dask address gave Dask's "missing port number in address 'bogus'" alone
    (["tune", "--trials", "1", "--epochs", "1", "--scheduler", "bogus"],
     ["scheduler 'bogus'", "tcp://host:8786", "local:N"]),
])
def test_bad_flag_values_name_the_problem(capsys, argv, named):
    status, out, err = run_main(capsys, argv)
    assert_one_line_error(status, err, *named)
    assert "epoch 1/" not in out                        # refused before training


@pytest.mark.parametrize("argv", [
    ["train", "--epochs=--"], ["lr-find", "--batch-size=--"], ["tune", "--trials=--"],
    ["bench", "--only=--"],
])
def test_a_value_of_double_dash_is_not_an_empty_list(capsys, argv):
    """Python's argparse before 3.11.8 (CPython gh-109475) turned '--epochs=--' into
    epochs=[], past the flag's type check: 'train' then trained and failed in fit."""
    status, out, err = run_main(capsys, argv)
    assert_one_line_error(status, err, argv[1].split("=")[0])
    assert "epoch" not in out


@pytest.mark.parametrize("flag", ["--save", "--plot"])
def test_an_empty_path_is_refused_before_training(capsys, flag):
    """``--save ''`` trained, then failed on a temporary file's name; ``--plot ''`` likewise."""
    status, out, err = run_main(capsys, QUICK_TRAIN + [flag, ""])
    assert_one_line_error(status, err, flag, "empty")
    assert "epoch 1/" not in out


def test_save_never_replaces_a_file_that_is_not_a_regular_file(capsys, tmp_path):
    """``--save /dev/full --overwrite`` (run as root) renamed a checkpoint over the device
    node; a named pipe stands in for it here."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    status, out, err = run_main(capsys, QUICK_TRAIN + ["--save", str(pipe), "--overwrite"])
    assert_one_line_error(status, err, "--save", str(pipe), "not a regular file")
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)         # still the pipe
    assert "epoch 1/" not in out


def test_lr_find_over_a_huge_range_prints_no_numpy_warnings(capsys):
    """The range test runs the rate until the loss diverges; that printed RuntimeWarnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, out, err = run_main(capsys, ["lr-find", "--hidden", "8", "--lr-min", "1e-300",
                                             "--lr-max", "1e300", "--steps", "4"])
    assert status == 0, err
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], \
        [str(w.message) for w in caught]
    assert "suggested learning rate" in out


def test_damaged_checkpoints_and_other_files_are_one_line_errors(capsys, tmp_path):
    """Already handled (regression checks): truncated, empty, text, a directory, a missing file."""
    from tinygrad_opt.cli import train
    config = {"data": "moons", "model": "mlp", "hidden": [4], "activation": "relu",
              "batchnorm": False, "dropout": 0.0, "in_features": 2, "num_classes": 2,
              "val_fraction": 0.2}
    good = tmp_path / "good.ckpt"
    save({"model": train.build_model(config).state_dict(), "config": config,
          "standardize": {"mean": train.load_data("moons")[0].mean(axis=0),
                          "std": train.load_data("moons")[0].std(axis=0)}}, str(good))
    assert run_main(capsys, ["train", "--load", str(good)])[0] == 0
    data = good.read_bytes()
    files = {"truncated": data[: len(data) // 2], "empty": b"", "text": b"hello\n",
             "npy": b"\x93NUMPY\x01\x00" + data[:40]}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    for path in [*(tmp_path / name for name in files), tmp_path, tmp_path / "missing"]:
        status, _, err = run_main(capsys, ["train", "--load", str(path)])
        assert_one_line_error(status, err, str(path))


@pytest.mark.parametrize("argv", [
    ["train", "--seed", "-1", "--epochs", "1"],
    ["train", "--hidden", str(10 ** 12), "--epochs", "1"],
])
def test_as_a_subprocess_exit_status_2_and_no_traceback(argv):
    environment = dict(os.environ)
    environment["PYTHONPATH"] = REPO + os.pathsep + environment.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-m", "tinygrad_opt", *argv], capture_output=True,
                            text=True, timeout=60, env=environment)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("tinygrad-opt: error:")


COUNT_FLAGS = {  # command: the flags whose value is a count or a seed
    "train": ["--epochs", "--batch-size", "--patience", "--seed"],
    "lr-find": ["--batch-size", "--steps", "--seed"],
    "vanishing": ["--depth", "--width", "--batch-size", "--seed"],
    "tune": ["--trials", "--epochs", "--workers", "--seed"],
}


@settings(max_examples=EXAMPLES, deadline=None)
@given(command=st.sampled_from(sorted(COUNT_FLAGS)), data=st.data(),
       text=st.one_of(st.integers(-10 ** 6, 10 ** 6).map(str),
                      st.sampled_from(["", "abc", "1.5", "nan", "inf", "-0", "1e3", "0x10",
                                       " 7", "٣"]),
                      st.text(max_size=6)))
def test_count_flags_parse_or_fail_with_one_line_naming_the_flag(command, data, text):
    """Parsing only: every text either becomes a valid value (an integer, >= 0 for a seed,
    >= 1 for the others) or a one-line error naming the flag and the text."""
    flag = data.draw(st.sampled_from(COUNT_FLAGS[command]))
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = build_parser().parse_args([command, f"{flag}={text}"])
    except SystemExit as exit_:
        assert_one_line_error(exit_.code, stderr.getvalue(), f"argument {flag}")
        return
    value = getattr(args, flag[2:].replace("-", "_"))
    assert isinstance(value, int) and value >= (0 if flag == "--seed" else 1)
