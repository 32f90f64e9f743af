"""Audit of the reliability edges: checkpoints, data loading, metrics, the training loop and
the command line. Each test pins a behaviour found wrong (or unclear) in the audit."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.serialization as serialization
from tinygrad_opt import nn
from tinygrad_opt.data import DataLoader, StackDataset, TensorDataset, random_split
from tinygrad_opt.metrics import confusion_matrix
from tinygrad_opt.train import EarlyStopping, History, evaluate, fit

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args):
    environment = dict(os.environ)
    environment["PYTHONPATH"] = REPO + os.pathsep + environment.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "tinygrad_opt", *args], capture_output=True,
                          text=True, timeout=120, env=environment)


# --- checkpoints ------------------------------------------------------------------------

def test_save_and_load_round_trip_every_dtype_and_plain_values(tmp_path):
    path = tmp_path / "all.ckpt"
    dtypes = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
              np.float16, np.float32, np.float64]
    tensors = {np.dtype(dtype).name: tg.tensor((np.arange(6).reshape(2, 3) % 3).astype(dtype))
               for dtype in dtypes}
    tree = {"tensors": tensors, "plain": [1, -2.5, "text", None, True, (3, {7: [0.0]})]}
    tg.save(tree, path)
    back = tg.load(path)
    for name, tensor in tensors.items():
        assert back["tensors"][name].dtype == tensor.dtype and back["tensors"][name].shape == (2, 3)
        np.testing.assert_array_equal(back["tensors"][name].numpy(), tensor.numpy())
    assert back["plain"] == [1, -2.5, "text", None, True, (3, {7: [0.0]})]


def test_a_write_that_fails_midway_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "good.ckpt"
    tg.save({"w": tg.ones(3)}, path)
    real_to_host, calls = serialization.backend.to_host, []

    def fails_on_the_second_tensor(array):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("conversion failed")
        return real_to_host(array)

    monkeypatch.setattr(serialization.backend, "to_host", fails_on_the_second_tensor)
    with pytest.raises(RuntimeError, match="conversion failed"):
        tg.save({"w": tg.zeros(3), "v": tg.zeros(2)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(tg.load(path)["w"].numpy(), [1.0, 1.0, 1.0])
    assert sorted(os.listdir(tmp_path)) == ["good.ckpt"]       # no temporary file left


def test_a_pickled_object_array_is_refused_even_inside_a_valid_structure(tmp_path):
    path = str(tmp_path / "evil.npz")
    structure = {"format": "tinygrad_opt.checkpoint", "version": 1, "tree": {"array": "a0"}}
    np.savez(path, a0=np.array([{"a": 1}, 2], dtype=object),
             __structure__=np.frombuffer(json.dumps(structure).encode(), np.uint8))
    with pytest.raises(serialization.CheckpointError, match="pickled object array"):
        tg.load(path)


def test_save_errors_name_the_checkpoint_not_a_temporary_file(tmp_path):
    missing = tmp_path / "no" / "such" / "model.ckpt"
    with pytest.raises(FileNotFoundError) as error:
        tg.save({"w": tg.ones(1)}, missing)
    assert f"'{missing}'" in str(error.value) and "does not exist" in str(error.value)
    assert ".tmp" not in str(error.value)
    with pytest.raises(IsADirectoryError, match="is a directory") as error:
        tg.save({"w": tg.ones(1)}, tmp_path)
    assert str(tmp_path) in str(error.value) and ".tmp" not in str(error.value)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        tg.save({"w": tg.ones(1)}, a_file / "model.ckpt")
    assert sorted(os.listdir(tmp_path)) == ["file"]           # nothing written anywhere
    assert not [name for name in os.listdir(tmp_path.parent) if name.endswith(".tmp")]


def test_load_takes_pytorchs_map_location_and_weights_only(tmp_path):
    path = tmp_path / "m.ckpt"
    tg.save({"w": tg.tensor([1.0, 2.0])}, path)
    back = tg.load(path, map_location="cpu", weights_only=True)
    assert back["w"].device == "cpu" and back["w"].numpy().tolist() == [1.0, 2.0]
    mapped = tg.load(path, map_location={"cuda:0": "cpu"})   # PyTorch's dict form
    assert mapped["w"].device == "cpu" and mapped["w"].numpy().tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="not both"):
        tg.load(path, device="cpu", map_location="cpu")


# --- data -------------------------------------------------------------------------------

def test_dataloader_batch_size_must_be_an_int_as_in_pytorch():
    dataset = TensorDataset(np.zeros((4, 2)), np.arange(4))
    for bad in (2.0, "4", 0, True):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            DataLoader(dataset, batch_size=bad)
    assert len(DataLoader(dataset, batch_size=np.int64(3))) == 2


def test_random_split_decides_fractions_by_pytorchs_rule():
    parts = random_split(list(range(5)), [0, 1], seed=0)    # sum 1 <= 5: fractions
    assert [len(part) for part in parts] == [0, 5]
    # floor(10/3) = 3 each, the one left over goes to the first part
    assert [len(part) for part in random_split(list(range(10)), [1 / 3] * 3, seed=0)] == [4, 3, 3]
    assert [len(p) for p in random_split(list(range(10)), tg.tensor([4, 6]), seed=0)] == [4, 6]
    with pytest.raises(ValueError, match="fraction at index 0 is not between 0 and 1"):
        random_split(list(range(10)), [1.5, -0.5])
    with pytest.raises(TypeError, match=r"lengths\[1\]"):
        random_split(list(range(10)), [5, "5"])


# --- metrics ----------------------------------------------------------------------------

def test_confusion_matrix_checks_num_classes():
    np.testing.assert_array_equal(confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=3),
                                  [[1, 0, 0], [1, 1, 0], [0, 0, 0]])
    for bad in (2.5, 0, True):
        with pytest.raises(ValueError, match="num_classes must be a positive int"):
            confusion_matrix([0, 1], [0, 1], num_classes=bad)


# --- the training loop ------------------------------------------------------------------

def test_best_epoch_skips_nan_and_early_stopping_checks_min_delta():
    history = History()
    for epoch, loss in enumerate([float("nan"), 0.5, 0.7]):
        history.append({"epoch": epoch, "val_loss": loss})
    assert history.best_epoch == 1
    only_nan = History()
    only_nan.append({"epoch": 0, "val_loss": float("nan")})
    assert only_nan.best_epoch is None
    with pytest.raises(ValueError, match="min_delta"):
        EarlyStopping(min_delta="0.1")


def test_fit_and_evaluate_name_a_batch_that_is_not_a_pair():
    X = np.zeros((4, 3), dtype=np.float32)
    y = np.array([0, 1, 0, 1])
    loader = DataLoader(StackDataset(x=TensorDataset(X), y=TensorDataset(y)), batch_size=2)
    model = nn.Linear(3, 2)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"pair \(x, y\).*yielded a dict"):
        fit(model, optimizer, nn.CrossEntropyLoss(), loader, progress=False)
    triples = DataLoader(TensorDataset(X, y, y), batch_size=2)
    with pytest.raises(TypeError, match="yielded a list of 3 items"):
        evaluate(model, triples)


# --- the command line -------------------------------------------------------------------

def test_cli_help_and_output_directories_checked_before_the_work(tmp_path):
    assert run_cli("--help").returncode == 0
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for arguments in (["train", "--plot", f"{a_file}/plots", "--epochs", "1"],
                      ["tune", "--save", f"{a_file}/runs", "--trials", "1", "--epochs", "1"]):
        result = run_cli(*arguments)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (f"tinygrad-opt: error: {arguments[1]} {arguments[2]}: "
                                         f"is under the file {a_file} and is not a directory")
        assert "epoch" not in result.stdout and "trial" not in result.stdout   # nothing ran


def test_standardize_treats_a_constant_float32_column_as_constant():
    """0.3 in float32 has a computed std of about 3e-8: dividing by it scaled rounding
    noise up to ±1; a constant column must come out (about) 0, as scikit-learn's."""
    from tinygrad_opt.data import standardize
    X = np.full((7, 2), 0.3, np.float32)
    X[:, 1] = np.arange(7)
    scaled, (mean, std) = standardize(X)
    assert np.abs(scaled[:, 0]).max() < 1e-6
    assert std[0] == 1.0 and np.isclose(std[1], 2.0)
