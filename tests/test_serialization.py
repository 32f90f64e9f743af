"""tg.save / tg.load: round trips, the documented layout, safety, atomic writes."""

import io
import json
import os
import pathlib
import zipfile

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, serialization
from tinygrad_opt.serialization import CheckpointError, load, save


def _state(device="cpu"):
    """Something shaped like {model, optimizer, scheduler, counters} checkpoints."""
    rng = np.random.default_rng(0)

    def tensor(array, requires_grad=False):
        return tg.tensor(array, device=device, requires_grad=requires_grad)

    return {
        "model": {
            "fc1.weight": tensor(rng.standard_normal((4, 3)).astype(np.float32), True),
            "fc1.bias": tensor(np.zeros(4, np.float32), True),
            "bn.running_var": tensor(np.ones(4)),                        # float64
            "bn.num_batches_tracked": tensor(np.array(12, dtype=np.int64)),
        },
        "optimizer": {
            "state": {0: {"step": tensor(np.array(3.0, np.float32)),
                          "exp_avg": tensor(rng.standard_normal((4, 3)).astype(np.float32))},
                      1: {"step": tensor(np.array(3.0, np.float32)),
                          "momentum_buffer": None}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                              "weight_decay": 0, "amsgrad": False, "nesterov": True,
                              "params": [0, 1], "foreach": None}],
        },
        "scheduler": {"last_epoch": 7, "base_lrs": [0.1], "_last_lr": [0.001]},
        "epoch": 7,
        "name": "mlp-ß",                                                  # non-ASCII string
        "history": (0.5, 0.25, float("inf"), float("nan")),
        "arrays": [np.arange(6, dtype=np.int64).reshape(2, 3),
                   np.linspace(0, 1, 5),                                  # float64
                   np.array([True, False]),
                   np.array(2.5, dtype=np.float32)],                      # 0-d
        "numpy_scalars": [np.float32(1.5), np.int64(-3), np.float64(0.1), np.bool_(True)],
        "int_and_str_keys": {1: "int one", "1": "string one", -5: None},
        "empty": {"list": [], "tuple": (), "dict": {}},
    }


def _assert_same(actual, expected, where="obj"):
    """Equal values, equal types (tuple stays tuple, int key stays int), equal dtypes."""
    if isinstance(expected, tg.Tensor):
        assert isinstance(actual, tg.Tensor), where
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, where
        assert actual.requires_grad == expected.requires_grad, where
        np.testing.assert_array_equal(actual.numpy(), expected.numpy(), err_msg=where)
        return
    assert type(actual) is type(expected), f"{where}: {type(actual)} != {type(expected)}"
    if isinstance(expected, dict):
        assert list(actual.keys()) == list(expected.keys()), where
        for key in expected:
            _assert_same(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_same(a, e, f"{where}[{i}]")
    elif isinstance(expected, (np.ndarray, np.generic)):
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, where
        np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, float) and np.isnan(expected):
        assert np.isnan(actual), where
    else:
        assert actual == expected, where


# --- round trips ---------------------------------------------------------------------

def test_round_trip_nested_state(tmp_path):
    state = _state()
    path = tmp_path / "run.ckpt"
    save(state, path)
    loaded = load(path)
    _assert_same(loaded, state)
    assert loaded["model"]["fc1.weight"].device == "cpu"
    assert isinstance(loaded["arrays"][0], np.ndarray)


def test_round_trip_across_devices(tmp_path, device):
    state = _state(device)
    path = str(tmp_path / "device.ckpt")
    save(state, path)
    on_device = load(path, device=device)
    _assert_same(on_device, _state("cpu"))
    assert on_device["model"]["fc1.weight"].device == device
    assert on_device["optimizer"]["state"][0]["exp_avg"].device == device
    assert load(path)["model"]["fc1.bias"].device == device   # PyTorch: where it was saved
    assert load(path, map_location="cpu")["model"]["fc1.bias"].device == "cpu"
    assert isinstance(on_device["arrays"][1], np.ndarray)          # arrays stay host arrays


def test_loaded_tensors_are_independent_leaves(tmp_path):
    weight = tg.tensor(np.ones(3), requires_grad=True)
    save({"w": weight}, tmp_path / "w.ckpt")
    loaded = load(tmp_path / "w.ckpt")["w"]
    assert loaded.is_leaf and loaded.requires_grad and loaded.grad is None
    (loaded * 2).sum().backward()
    np.testing.assert_array_equal(loaded.grad.numpy(), [2.0, 2.0, 2.0])
    assert weight.grad is None


def test_top_level_scalars_and_exact_path(tmp_path):
    for obj in [None, 3, "text", [1, (2, [3])], tg.tensor([1.0, 2.0])]:
        path = tmp_path / "plain.weights"                           # no .npz appended
        save(obj, path)
        assert sorted(os.listdir(tmp_path)) == ["plain.weights"]
        _assert_same(load(str(path)), obj)


def test_exposed_as_tg_save_and_load():
    assert tg.save is save and tg.load is load


def test_documented_layout(tmp_path):
    path = tmp_path / "layout.ckpt"
    save({"w": tg.tensor([1.0, 2.0], requires_grad=True), 3: (np.arange(2), None)}, path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["__structure__.npy", "a0.npy", "a1.npy"]
    with np.load(path, allow_pickle=False) as contents:
        structure = contents["__structure__"]
        assert structure.dtype == np.uint8 and structure.ndim == 1
        header = json.loads(structure.tobytes().decode("utf-8"))
        np.testing.assert_array_equal(contents["a1"], [0, 1])
    assert header == {
        "format": "tinygrad_opt.checkpoint", "version": 2,
        "tree": {"dict": [["w", {"tensor": "a0", "requires_grad": True}],
                          [3, {"tuple": [{"array": "a1"}, None]}]]}}


def test_unicode_structure_entry_is_accepted(tmp_path):
    """The format also allows the JSON as a 0-d unicode array."""
    header = {"format": "tinygrad_opt.checkpoint", "version": 1,
              "tree": {"list": [{"array": "a0"}, "x"]}}
    path = tmp_path / "unicode.ckpt"
    with open(path, "wb") as file:
        np.savez(file, a0=np.arange(3), __structure__=np.array(json.dumps(header)))
    loaded = load(path)
    np.testing.assert_array_equal(loaded[0], [0, 1, 2])
    assert loaded[1] == "x"


# --- refusing unsafe and broken files --------------------------------------------------

class _Payload:
    """Unpickling this calls Path.touch(marker): proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_pickled_object_array_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "payload-ran"
    header = {"format": "tinygrad_opt.checkpoint", "version": 1, "tree": {"array": "a0"}}
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as file:
        np.savez(file, a0=np.array([_Payload(marker)], dtype=object),
                 __structure__=np.frombuffer(json.dumps(header).encode(), np.uint8))
    with pytest.raises(CheckpointError, match="evil.ckpt.*pickled object array"):
        load(path)
    assert not marker.exists()
    # the payload is live: a loader that unpickles would have run it
    with np.load(path, allow_pickle=True) as contents:
        contents["a0"]
    assert marker.exists()


def test_pickle_file_is_refused_without_running_it(tmp_path):
    import pickle
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointError, match="evil.pkl.*not an .npz archive"):
        load(path)
    assert not marker.exists()


def _valid_bytes(tmp_path):
    path = tmp_path / "valid.ckpt"
    save(_state(), path)
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["empty", "half", "tail", "garbage", "text", "flipped"])
def test_damaged_files_are_refused_naming_the_path(tmp_path, damage):
    data = _valid_bytes(tmp_path)
    damaged = {
        "empty": b"",
        "half": data[: len(data) // 2],
        "tail": data[:-10],
        "garbage": np.random.default_rng(0).bytes(500),
        "text": b"epoch,loss\n1,0.5\n",
        # corrupt the bytes of the first array inside the zip (CRC mismatch)
        "flipped": data[:200] + bytes(b ^ 0xFF for b in data[200:260]) + data[260:],
    }[damage]
    path = tmp_path / f"{damage}.ckpt"
    path.write_bytes(damaged)
    with pytest.raises(CheckpointError, match=f"{damage}.ckpt"):
        load(path)


def _write_npz(path, **arrays):
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def _structure(header):
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


@pytest.mark.parametrize("case, message", [
    ("no_structure", "__structure__"),
    ("wrong_format", "format tag"),
    ("newer_version", "version 2"),
    ("missing_array", "'a7'"),
    ("bad_json", "JSON"),
    ("bad_node", "malformed"),
    ("object_structure", "pickled object array"),
])
def test_foreign_and_tampered_archives_are_refused(tmp_path, case, message):
    path = tmp_path / f"{case}.npz"
    good = {"format": "tinygrad_opt.checkpoint", "version": 1, "tree": {"array": "a0"}}
    if case == "no_structure":
        _write_npz(path, weights=np.ones(3))
    elif case == "wrong_format":
        _write_npz(path, a0=np.ones(3), __structure__=_structure({**good, "format": "other"}))
    elif case == "newer_version":
        _write_npz(path, a0=np.ones(3), __structure__=_structure({**good, "version": 3}))
    elif case == "missing_array":
        _write_npz(path, a0=np.ones(3), __structure__=_structure({**good, "tree": {
            "list": [{"array": "a0"}, {"tensor": "a7", "requires_grad": False}]}}))
    elif case == "bad_json":
        _write_npz(path, a0=np.ones(3), __structure__=np.frombuffer(b"{not json", np.uint8))
    elif case == "bad_node":
        _write_npz(path, a0=np.ones(3), __structure__=_structure({**good, "tree": {"set": [1]}}))
    else:  # a structure entry that would need pickle to read
        _write_npz(path, a0=np.ones(3), __structure__=np.array([{"format": 1}], dtype=object))
    with pytest.raises(CheckpointError, match=message) as error:
        load(path)
    assert str(path) in str(error.value)


def test_npy_file_and_missing_file(tmp_path):
    npy = tmp_path / "single.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(CheckpointError, match="single.npy"):
        load(npy)
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt"):
        load(tmp_path / "nowhere.ckpt")
    with pytest.raises(CheckpointError, match="directory"):
        load(tmp_path)
    assert issubclass(CheckpointError, ValueError)


# --- atomic writes ------------------------------------------------------------------------

def _previous_checkpoint(tmp_path):
    path = tmp_path / "model.ckpt"
    save({"epoch": 1, "w": tg.tensor([1.0, 2.0])}, path)
    return path, path.read_bytes()


def test_unsupported_object_fails_before_touching_the_file(tmp_path):
    path, before = _previous_checkpoint(tmp_path)
    bad = {"model": {"fc": [tg.tensor([1.0]), 2, {3, 4}]}, "epoch": 2}
    with pytest.raises(TypeError, match=r"\['model'\]\['fc'\]\[2\]: unsupported type set"):
        save(bad, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.ckpt"]


@pytest.mark.parametrize("bad, message", [
    ({(1, 2): 3}, "dict key"),
    ({"x": np.array([object()], dtype=object)}, "pickle"),
    ({"f": lambda: 0}, r"\['f'\]: unsupported type function"),
    ({"s": np.zeros(2, dtype=[("\u20ac", np.float32)])}, r"\['s'\]: field names"),
])
def test_other_unsupported_values(tmp_path, bad, message):
    with pytest.raises(TypeError, match=message):
        save(bad, tmp_path / "x.ckpt")
    assert os.listdir(tmp_path) == []


def test_reference_cycle_is_refused(tmp_path):
    cyclic = {"a": []}
    cyclic["a"].append(cyclic)
    with pytest.raises(ValueError, match="cycle"):
        save(cyclic, tmp_path / "x.ckpt")
    shared = [1.5]
    save({"a": shared, "b": shared}, tmp_path / "shared.ckpt")     # shared, not cyclic: fine
    assert load(tmp_path / "shared.ckpt") == {"a": [1.5], "b": [1.5]}


def test_crash_at_rename_keeps_previous_file(tmp_path, monkeypatch):
    path, before = _previous_checkpoint(tmp_path)

    def crash(source, target):
        raise OSError("simulated crash during rename")

    monkeypatch.setattr(serialization.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        save({"epoch": 2, "w": tg.tensor([3.0, 4.0])}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.ckpt"]
    assert load(path)["epoch"] == 1


def test_crash_mid_write_keeps_previous_file(tmp_path, monkeypatch):
    path, before = _previous_checkpoint(tmp_path)
    real_savez = np.savez

    def crash_after_some_bytes(file, **arrays):
        buffer = io.BytesIO()
        real_savez(buffer, **arrays)
        file.write(buffer.getvalue()[:100])                          # half-written archive
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.np, "savez", crash_after_some_bytes)
    with pytest.raises(KeyboardInterrupt):
        save({"epoch": 2, "w": tg.tensor([3.0, 4.0])}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.ckpt"]


def test_save_replaces_and_new_files_get_normal_permissions(tmp_path):
    path, _ = _previous_checkpoint(tmp_path)
    save({"epoch": 2}, path)
    assert load(path) == {"epoch": 2}
    fresh = tmp_path / "fresh.ckpt"
    save({}, fresh)
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask


# --- hand-made malicious archives: every member is checked before it is trusted -------------

def _npy_bytes(array=None, header=None):
    """A .npy member: ``array`` saved by NumPy, or a raw version-1.0 ``header`` dict and no data."""
    if header is None:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    text = repr(header).encode("latin1")
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def _archive(path, members, tree, compress=(), version=1):
    """A zip written by hand: ``members`` {name: .npy bytes}; ``compress`` names deflated ones."""
    header = {"format": "tinygrad_opt.checkpoint", "version": version, "tree": tree}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            method = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            archive.writestr(name + ".npy", data, compress_type=method)
        archive.writestr("__structure__.npy", _npy_bytes(_structure(header)))
    return path


def test_compressed_unreferenced_member_is_refused_without_inflating_it(tmp_path):
    """A small file whose extra member inflates to 64 MiB: refused, and never inflated."""
    import tracemalloc
    path = tmp_path / "bomb.ckpt"
    count = 8 << 20                                                   # 64 MiB of float64 zeros
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a0.npy", _npy_bytes(np.ones(3)))
        info = zipfile.ZipInfo("a1.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            member.write(_npy_bytes(header={"descr": "<f8", "fortran_order": False,
                                            "shape": (count,)}))
            zeros = bytes(1 << 20)
            for _ in range(count * 8 >> 20):
                member.write(zeros)
        header = {"format": "tinygrad_opt.checkpoint", "version": 1, "tree": {"array": "a0"}}
        archive.writestr("__structure__.npy", _npy_bytes(_structure(header)))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="bomb.ckpt.*'a1.npy' is compressed"):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_members_no_structure_node_refers_to_are_refused(tmp_path):
    path = _archive(tmp_path / "extra.ckpt", {"a0": _npy_bytes(np.ones(2)),
                                              "a1": _npy_bytes(np.zeros(5))}, {"array": "a0"})
    with pytest.raises(CheckpointError, match=r"extra.ckpt.*'a1.npy' is not referenced"):
        load(path)
    twice = _archive(tmp_path / "twice.ckpt", {"a0": _npy_bytes(np.ones(2))},
                     {"list": [{"array": "a0"}, {"tensor": "a0", "requires_grad": False}]})
    with pytest.raises(CheckpointError, match=r"twice.ckpt.*obj\[1\].*'a0.npy' a second time"):
        load(twice)  # version 1 never names a member twice


def test_compressed_members_are_refused(tmp_path):
    """np.savez_compressed makes an otherwise valid file that save never writes."""
    path = tmp_path / "compressed.ckpt"
    header = {"format": "tinygrad_opt.checkpoint", "version": 1, "tree": {"array": "a0"}}
    np.savez_compressed(open(path, "wb"), a0=np.ones(3), __structure__=_structure(header))
    with pytest.raises(CheckpointError, match="compressed.ckpt.*'a0.npy' is compressed"):
        load(path)


@pytest.mark.parametrize("shape, data, message", [
    ((10 ** 12, 10 ** 12), b"\0" * 8, "declares shape"),              # NumPy: MemoryError
    ((1 << 50, 0), b"", "impossible shape"),                          # 0 bytes, absurd axis
    ((1 << 40,), b"\0" * 8, "declares shape"),                        # 8 TiB declared, 8 B held
    ((10 ** 6,), b"\0" * 8, "declares shape"),                        # 8 MB declared, 8 B held
    ((1,), b"\0" * 800, "declares shape"),                            # more data than declared
    ((-1,), b"", "impossible shape"),
], ids=["huge", "absurd-axis", "8TiB", "8MB", "extra-data", "negative"])
def test_declared_shapes_must_match_the_stored_bytes(tmp_path, shape, data, message):
    npy = _npy_bytes(header={"descr": "<f8", "fortran_order": False, "shape": shape}) + data
    path = _archive(tmp_path / "shape.ckpt", {"a0": npy}, {"array": "a0"})
    with pytest.raises(CheckpointError, match=f"shape.ckpt.*'a0.npy'.*{message}"):
        load(path)


def _set_encrypted_flag(path, name):
    """Set bit 0 of the general-purpose flags in the member's local and central headers."""
    data = bytearray(path.read_bytes())
    encoded = name.encode()
    for signature, flags_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            if data[start + name_at:start + name_at + len(encoded)] == encoded:
                data[start + flags_at] |= 0x01
            start += 4
    path.write_bytes(bytes(data))


def test_encrypted_members_are_refused(tmp_path):
    path = _archive(tmp_path / "locked.ckpt", {"a0": _npy_bytes(np.ones(2))}, {"array": "a0"})
    _set_encrypted_flag(path, "a0.npy")
    with pytest.raises(CheckpointError, match="locked.ckpt.*'a0.npy' is encrypted"):
        load(path)


@pytest.mark.parametrize("array", [np.arange(3), np.array(["a", "b"]), np.array([True])],
                         ids=["int", "str", "bool"])
def test_non_float_tensor_marked_requires_grad_is_refused(tmp_path, array):
    path = _archive(tmp_path / "grad.ckpt", {"a0": _npy_bytes(array)},
                    {"dict": [["w", {"tensor": "a0", "requires_grad": True}]]})
    with pytest.raises(CheckpointError, match=r"grad.ckpt.*\['w'\].*'a0.npy'.*requires_grad"):
        load(path)
    ok = _archive(tmp_path / "fine.ckpt", {"a0": _npy_bytes(array)},
                  {"tensor": "a0", "requires_grad": False})
    if array.dtype.kind == "U":  # a Tensor holds no strings (as PyTorch's): save never wrote it
        with pytest.raises(CheckpointError, match="fine.ckpt.*dtype <U1"):
            load(ok)
        return
    np.testing.assert_array_equal(load(ok).numpy(), array)


def test_save_into_a_pipe_writes_through_it_and_keeps_the_pipe(tmp_path):
    # os.replace over a device or a pipe would delete the node (for /dev/null, as root);
    # torch.save writes into it, so do we
    import stat
    import threading
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = {}

    def read():
        with open(pipe, "rb") as reader:
            received["bytes"] = reader.read()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    save({"w": tg.tensor([1.0, 2.0])}, pipe)
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    copy = tmp_path / "copy.ckpt"
    copy.write_bytes(received["bytes"])
    assert load(copy)["w"].tolist() == [1.0, 2.0]


# --- shared memory and Parameters, as torch.save / torch.load keep them ---

def _header(path):
    with np.load(path, allow_pickle=False) as contents:
        return json.loads(contents["__structure__"].tobytes().decode("utf-8")), len(contents.files)


def test_tied_weights_are_stored_once_and_load_as_one_tensor(tmp_path):
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)           # one Linear twice: tied weights
    path = tmp_path / "tied.ckpt"
    save(model.state_dict(), path)
    header, members = _header(path)
    assert members == 3                                         # weight, bias, structure
    keys = dict(header["tree"]["dict"])
    assert keys["0.weight"] == keys["2.weight"] == {"tensor": "a0", "requires_grad": False}
    state = load(path)
    assert state["0.weight"] is state["2.weight"] and state["0.bias"] is state["2.bias"]
    np.testing.assert_array_equal(state["0.weight"].numpy(), shared.weight.numpy())
    other = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 3))
    other.load_state_dict(state)
    np.testing.assert_array_equal(other[2].weight.numpy(), shared.weight.numpy())


def test_the_same_tensor_or_array_twice_comes_back_as_one_object(tmp_path):
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    a = np.arange(4)
    path = tmp_path / "same.ckpt"
    save({"x": [t, t, t.detach()], "a": (a, a), "other": np.arange(4)}, path)
    assert _header(path)[1] == 4                                # t, a, the other, structure
    loaded = load(path)
    x0, x1, x2 = loaded["x"]
    assert x0 is x1 and x0.requires_grad and x2 is not x0 and not x2.requires_grad
    assert loaded["a"][0] is loaded["a"][1] and loaded["other"] is not loaded["a"][0]
    with tg.no_grad():
        x2[0] = 7.0                                             # shares memory with x0, as
    assert x0.tolist() == [7.0, 2.0]                            # torch.load's tensors do
    assert x0._version == x2._version                          # (one version counter)


def test_parameters_come_back_as_parameters(tmp_path):
    weight = nn.Parameter(tg.tensor([[1.0, 2.0]]))
    frozen = nn.Parameter(tg.tensor([3.0]), requires_grad=False)
    path = tmp_path / "params.ckpt"
    save({"weight": weight, "frozen": frozen, "plain": weight.detach()}, path)
    nodes = dict(_header(path)[0]["tree"]["dict"])
    assert nodes["weight"] == {"tensor": "a0", "requires_grad": True, "parameter": True}
    loaded = load(path)
    assert type(loaded["weight"]) is nn.Parameter and loaded["weight"].requires_grad
    assert type(loaded["frozen"]) is nn.Parameter and not loaded["frozen"].requires_grad
    assert type(loaded["plain"]) is tg.Tensor and not loaded["plain"].requires_grad
    assert loaded["weight"].is_leaf and loaded["weight"].tolist() == [[1.0, 2.0]]


def test_a_version_1_checkpoint_still_loads(tmp_path):
    path = _archive(tmp_path / "old.ckpt", {"a0": _npy_bytes(np.ones(2, np.float32))},
                    {"list": [{"tensor": "a0", "requires_grad": True}]})
    (loaded,) = load(path)
    assert type(loaded) is tg.Tensor and loaded.requires_grad and loaded.tolist() == [1.0, 1.0]


def test_a_version_2_member_named_twice_is_read_once(tmp_path):
    path = _archive(tmp_path / "twice2.ckpt", {"a0": _npy_bytes(np.ones(2))},
                    {"list": [{"array": "a0"}, {"tensor": "a0", "requires_grad": False},
                              {"array": "a0"}]}, version=2)
    first, tensor, again = load(path)
    assert first is again and tensor.tolist() == [1.0, 1.0]
    bad = _archive(tmp_path / "badflag.ckpt", {"a0": _npy_bytes(np.ones(2))},
                   {"tensor": "a0", "requires_grad": False, "parameter": "yes"}, version=2)
    with pytest.raises(CheckpointError, match="badflag.ckpt.*must be bools"):
        load(bad)


def test_sharing_holds_for_device_tensors(tmp_path):
    t = tg.tensor([1.0, 2.0], device="strict")
    path = tmp_path / "strict.ckpt"
    save([t, t.detach(), t.data], path)
    assert _header(path)[1] == 2                                # one member, the structure
    a, b, array = load(path, device="strict")
    assert a is b and a.device == "strict" and type(array) is np.ndarray
