"""Second audit of checkpoints (tg.save / tg.load), resuming training from them and the
``tinygrad-opt`` command line's checkpoint flags, against ``torch.save`` / ``torch.load``.

The first tests pin behaviours found wrong in the audit (each failed before its fix);
the rest pin behaviours found right but untested."""

import contextlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, optim
from tinygrad_opt.cli import main
from tinygrad_opt.optim import lr_scheduler
from tinygrad_opt.serialization import CheckpointError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK_TRAIN = ["train", "--data", "moons", "--epochs", "1", "--hidden", "4", "--no-progress"]


def run_main(argv):
    """``(exit status, stdout, stderr)`` of the CLI's ``main(argv)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


def assert_one_line_error(status, err, *named):
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("tinygrad-opt: error:"), err
    for text in named:
        assert text in lines[0], (text, lines[0])


@pytest.fixture
def not_root(monkeypatch):
    """``os.access`` as for an ordinary user: a file without write permission bits is not
    writable (root, who runs some CI, may write anything)."""
    real_access = os.access

    def access(path, mode, **kwargs):
        if mode & os.W_OK and os.path.isfile(path) and not os.stat(path).st_mode & 0o222:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)


# --- bugs found -------------------------------------------------------------------------

def test_a_path_ending_with_a_separator_or_an_empty_path_is_refused(tmp_path):
    # torch.save opens the path: open('dir/', 'wb') is IsADirectoryError, open('') ENOENT;
    # we wrote a file named 'dir' (which load('dir/') then could not find)
    with pytest.raises(IsADirectoryError, match="it is a directory") as error:
        tg.save({"w": tg.ones(2)}, str(tmp_path / "new") + os.sep)
    assert f"'{tmp_path / 'new'}{os.sep}'" in str(error.value)
    with pytest.raises(FileNotFoundError, match="the path is empty"):
        tg.save({"w": tg.ones(2)}, "")                   # was: IsADirectoryError naming the cwd
    assert os.listdir(tmp_path) == []


def test_a_read_only_checkpoint_is_not_replaced(tmp_path, not_root):
    # torch.save opens the file for writing: PermissionError for a read-only file; the
    # rename of the atomic write replaced it instead
    path = tmp_path / "keep.ckpt"
    tg.save({"w": tg.tensor([1.0, 2.0])}, path)
    before = path.read_bytes()
    os.chmod(path, 0o444)
    try:
        with pytest.raises(PermissionError, match="read-only") as error:
            tg.save({"w": tg.zeros(2)}, path)
        assert str(path) in str(error.value)
        assert path.read_bytes() == before and os.listdir(tmp_path) == ["keep.ckpt"]
    finally:
        os.chmod(path, 0o644)


def test_bytes_paths_work_as_in_open(tmp_path):
    # open() takes bytes paths; save raised "can only concatenate str (not "bytes") to str"
    path = os.fsencode(tmp_path / "bytes.ckpt")
    tg.save({"w": tg.tensor([1.5])}, path)
    assert tg.load(path)["w"].tolist() == [1.5]


def _nested(depth: int, kind: str):
    value = 1
    for _ in range(depth):
        value = {"k": value} if kind == "dict" else [value]
    return value


@pytest.mark.parametrize("kind", ["dict", "list"])
def test_what_save_writes_load_reads_back_however_deep(tmp_path, kind):
    # 331 nested dicts saved but load said "nested too deeply": a file that never loads.
    # Now 100 levels round-trip and a deeper tree is refused by save, naming where
    path = tmp_path / "deep.ckpt"
    tg.save(_nested(100, kind), path)
    assert tg.load(path) == _nested(100, kind)
    with pytest.raises(ValueError, match="nested more than 100 deep") as error:
        tg.save({"top": _nested(101, kind)}, tmp_path / "deeper.ckpt")
    assert str(error.value).startswith("obj['top']")
    assert sorted(os.listdir(tmp_path)) == ["deep.ckpt"]


@pytest.mark.parametrize("array, dtype", [
    (np.ones((4, 2), np.complex64), "complex64"),          # was loaded, imaginary part dropped
    (np.full((4, 2), "a"), "<U1"),                         # was "could not convert string"
    (np.zeros((4, 2), "M8[s]"), "datetime64[s]"),          # was loaded as numbers
])
def test_cli_load_refuses_model_weights_that_are_not_real_numbers(tmp_path, array, dtype):
    good = tmp_path / "good.ckpt"
    assert run_main(QUICK_TRAIN + ["--save", str(good)])[0] == 0
    checkpoint = tg.load(good)
    assert checkpoint["model"]["0.weight"].shape == (4, 2)
    checkpoint["model"]["0.weight"] = array
    tg.save(checkpoint, tmp_path / "bad.ckpt")
    status, out, err = run_main(["train", "--load", str(tmp_path / "bad.ckpt")])
    assert_one_line_error(status, err, "'0.weight'", dtype, "expected real numbers")


def test_cli_save_checks_a_directory_path_and_a_read_only_file_before_training(tmp_path,
                                                                             not_root):
    # these failed only after the whole training (in tg.save), or wrote somewhere else
    status, out, err = run_main(QUICK_TRAIN + ["--save", str(tmp_path / "new") + os.sep])
    assert_one_line_error(status, err, "is a directory")
    locked = tmp_path / "locked.ckpt"
    locked.write_bytes(b"old")
    os.chmod(locked, 0o444)
    try:
        status, out, err = run_main(QUICK_TRAIN + ["--save", str(locked), "--overwrite"])
        assert_one_line_error(status, err, "read-only")
        assert "epoch" not in out and locked.read_bytes() == b"old"
    finally:
        os.chmod(locked, 0o644)


# --- right, and now pinned ---------------------------------------------------------------

def test_edge_tensors_and_arrays_round_trip_exactly(tmp_path, rng):
    # torch.save keeps 0-d and empty tensors, complex dtypes, and saves a view's values
    base = rng.standard_normal((3, 4))
    tree = {
        "scalar": tg.tensor(np.float32(-2.5)),
        "empty": tg.zeros((0, 3), dtype=tg.float16),
        "complex": tg.tensor(np.array([1 + 2j, -3j], np.complex128)),
        "transposed": tg.tensor(base).T,                        # not C-contiguous
        "strided": tg.tensor(np.arange(10))[1:9:3],             # a view: only its values
        "fortran": np.asfortranarray(base),
        "big_endian": np.arange(4, dtype=">i4"),
        "big": tg.tensor(rng.standard_normal(4_500_000).astype(np.float32)),  # > 16 MiB chunk
    }
    tg.save(tree, tmp_path / "edges.ckpt")
    back = tg.load(tmp_path / "edges.ckpt")
    assert back["scalar"].shape == () and back["scalar"].item() == -2.5
    assert back["empty"].shape == (0, 3) and back["empty"].dtype == tg.float16
    assert back["complex"].dtype == np.complex128
    assert back["complex"].numpy().tolist() == [1 + 2j, -3j]
    np.testing.assert_array_equal(back["transposed"].numpy(), base.T)
    assert back["strided"].numpy().tolist() == [1, 4, 7]
    np.testing.assert_array_equal(back["fortran"], base)
    assert back["big_endian"].dtype == np.dtype(">i4")
    assert back["big_endian"].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(back["big"].numpy(), tree["big"].numpy())


def test_plain_values_round_trip_with_their_types(tmp_path):
    # pickle keeps Python ints of any size, -0.0, NumPy scalar types and any str
    tree = {"big": -2**80, 2**63: 5e-324, "neg_zero": -0.0, "\ud800key": "value\x00\udcff",
            "scalars": (np.uint64(2**64 - 1), np.complex64(1j), np.float16(0.1), np.str_("ß"))}
    tg.save(tree, tmp_path / "plain.ckpt")
    back = tg.load(tmp_path / "plain.ckpt")
    assert back == tree and list(back) == list(tree)
    assert np.copysign(1.0, back["neg_zero"]) == -1.0
    assert [type(x) for x in back["scalars"]] == [type(x) for x in tree["scalars"]]
    assert back["scalars"][2] == np.float16(0.1)


def test_requires_grad_and_parameters_come_back_as_saved(tmp_path):
    # torch.load: a tensor saved with requires_grad (even a non-leaf) is a leaf that
    # requires grad, no graph and no .grad; a frozen Parameter stays a frozen Parameter
    weight = tg.tensor([1.0, 2.0], requires_grad=True)
    doubled = weight * 2
    doubled.sum().backward()
    tree = {"w": weight, "y": doubled, "frozen": nn.Parameter(tg.ones(2), requires_grad=False)}
    tg.save(tree, tmp_path / "grad.ckpt")
    back = tg.load(tmp_path / "grad.ckpt")
    for name in ("w", "y"):
        assert back[name].requires_grad and back[name].is_leaf
        assert back[name].grad is None and back[name].grad_fn is None
    assert back["y"].tolist() == [2.0, 4.0]
    assert isinstance(back["frozen"], nn.Parameter) and not back["frozen"].requires_grad


def test_unicode_file_names(tmp_path):
    path = tmp_path / "модель ✓ ß.ckpt"
    tg.save({"w": tg.tensor([3.0])}, path)
    assert tg.load(str(path))["w"].tolist() == [3.0]
    assert os.listdir(tmp_path) == ["модель ✓ ß.ckpt"]


def test_every_truncation_and_byte_flip_is_refused_or_harmless(tmp_path):
    # a damaged file raises CheckpointError, or (a flip in bytes nobody reads) loads the
    # same values: never another exception, never different numbers
    tree = {"w": tg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True),
            "s": [1, 2.5, "x", None], 3: (np.int16(7),)}
    tg.save(tree, tmp_path / "good.ckpt")
    raw = (tmp_path / "good.ckpt").read_bytes()
    damaged = tmp_path / "damaged.ckpt"
    cases = [raw[:n] for n in range(0, len(raw), 3)]
    cases += [raw[:i] + bytes([raw[i] ^ 0x5A]) + raw[i + 1:] for i in range(len(raw))]
    for data in cases:
        damaged.write_bytes(data)
        try:
            back = tg.load(damaged)
        except CheckpointError:
            continue
        assert back["w"].tolist() == [[0, 1, 2], [3, 4, 5]] and back["w"].requires_grad
        assert back["s"] == [1, 2.5, "x", None] and back[3] == (7,)
        assert type(back[3][0]) is np.int16


OPTIMIZERS = {
    "SGD": dict(lr=0.05, momentum=0.9, nesterov=True), "Adam": dict(lr=0.01, amsgrad=True),
    "AdamW": dict(lr=0.01), "NAdam": dict(lr=0.01), "RAdam": dict(lr=0.01),
    "Adamax": dict(lr=0.01), "Adagrad": dict(lr=0.05), "Adadelta": dict(lr=1.0),
    "RMSprop": dict(lr=0.01, momentum=0.5, centered=True), "Rprop": dict(lr=0.01),
    "ASGD": dict(lr=0.01), "Adafactor": dict(lr=0.01), "LBFGS": dict(lr=0.5, history_size=3),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_resuming_from_a_checkpoint_gives_the_uninterrupted_run(tmp_path, name, device):
    # torch: model, optimizer and scheduler state_dicts through torch.save/torch.load
    # continue the run exactly (the same numbers as never stopping)
    inputs = np.random.default_rng(1).standard_normal((5, 8, 3)).astype(np.float32)

    def build():
        tg.manual_seed(0)
        model = nn.Linear(3, 2).to(device)
        optimizer = getattr(optim, name)(model.parameters(), **OPTIMIZERS[name])
        return model, optimizer, lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    def train(model, optimizer, scheduler, steps):
        for i in steps:
            x = tg.tensor(inputs[i], device=device)

            def closure():
                optimizer.zero_grad()
                loss = (model(x) ** 2).mean()
                loss.backward()
                return loss
            optimizer.step(closure)
            scheduler.step()

    model, optimizer, scheduler = build()
    train(model, optimizer, scheduler, range(5))
    uninterrupted = [p.numpy() for p in model.parameters()]

    model, optimizer, scheduler = build()
    train(model, optimizer, scheduler, range(2))
    tg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict()}, tmp_path / "run.ckpt")
    state = tg.load(tmp_path / "run.ckpt", map_location=device)
    model, optimizer, scheduler = build()
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    train(model, optimizer, scheduler, range(2, 5))
    for resumed, expected in zip(model.parameters(), uninterrupted):
        assert resumed.device == device
        np.testing.assert_array_equal(resumed.numpy(), expected)


def test_adam_state_dict_keeps_int_steps_int_keys_and_betas_tuples(tmp_path):
    model = nn.Linear(2, 1)
    adam = optim.Adam(model.parameters(), lr=0.1, betas=(0.8, 0.9))
    for _ in range(3):
        adam.zero_grad()
        model(tg.ones(4, 2)).sum().backward()
        adam.step()
    tg.save(adam.state_dict(), tmp_path / "adam.ckpt")
    back = tg.load(tmp_path / "adam.ckpt")
    assert list(back["state"]) == [0, 1] and back["state"][0]["step"] == 3
    assert type(back["state"][0]["step"]) is type(adam.state_dict()["state"][0]["step"])
    assert back["param_groups"][0]["betas"] == (0.8, 0.9)
    assert type(back["param_groups"][0]["betas"]) is tuple
    np.testing.assert_array_equal(back["state"][1]["exp_avg_sq"],
                                  adam.state_dict()["state"][1]["exp_avg_sq"])


SCHEDULERS = {
    "OneCycleLR": lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=12),
    "CyclicLR": lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=2),
    "CosineAnnealingWarmRestarts": lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 3),
    "ReduceLROnPlateau": lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=0),
    "SequentialLR": lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.LinearLR(o, 0.5, total_iters=2), lr_scheduler.ExponentialLR(o, 0.9)],
        milestones=[2]),
    "ChainedScheduler": lambda o: lr_scheduler.ChainedScheduler(
        [lr_scheduler.ConstantLR(o, 0.5, total_iters=3), lr_scheduler.ExponentialLR(o, 0.9)]),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_state_survives_a_checkpoint(tmp_path, name):
    # the lr after resuming equals the uninterrupted schedule's at every step
    def build():
        optimizer = optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9)
        return optimizer, SCHEDULERS[name](optimizer)

    def advance(optimizer, scheduler, steps, start=0):
        lrs = []
        for i in range(start, start + steps):
            optimizer.step()
            scheduler.step(1.0 + (i % 2)) if name == "ReduceLROnPlateau" else scheduler.step()
            lrs.append(optimizer.param_groups[0]["lr"])
        return lrs

    optimizer, scheduler = build()
    expected = advance(optimizer, scheduler, 9)
    optimizer, scheduler = build()
    first = advance(optimizer, scheduler, 4)
    tg.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
            tmp_path / "sched.ckpt")
    state = tg.load(tmp_path / "sched.ckpt")
    optimizer, scheduler = build()
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    assert first + advance(optimizer, scheduler, 5, start=4) == expected


def test_cli_bad_checkpoint_as_a_subprocess_is_one_line(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    environment = dict(os.environ)
    environment["PYTHONPATH"] = REPO + os.pathsep + environment.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-m", "tinygrad_opt", "train", "--load", str(text)],
                            capture_output=True, text=True, timeout=120, env=environment)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"tinygrad-opt: error: '{text}' is not a tinygrad_opt checkpoint (not an .npz archive)"]
