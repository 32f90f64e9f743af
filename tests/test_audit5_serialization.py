"""Fifth audit of checkpoints (tg.save / tg.load) against ``torch.save`` / ``torch.load``:
file objects, ``map_location`` as a dict or a function, OrderedDicts, and the errors of a
missing file. Each "was:" test failed before its fix; the rest pin behaviours found
right. Loading never unpickles: every file here is our own JSON + .npy format."""

import collections
import errno
import io
import json
import zipfile

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend, nn
from tinygrad_opt.serialization import CheckpointError


def _host(tensor):
    return backend.to_host(tensor.data)


def _tree(rng, device):
    return {"w": tg.tensor(rng.standard_normal((3, 2)).astype(np.float32), device=device,
                           requires_grad=True),
            "steps": tg.tensor(np.arange(4), device=device), "epoch": 7,
            "table": rng.standard_normal(5), "empty": tg.tensor(np.zeros((0, 3)), device=device)}


def _check_tree(back, original, device):
    assert set(back) == set(original) and back["epoch"] == 7
    for key in ("w", "steps", "empty"):
        assert back[key].device == device
        assert back[key].dtype == original[key].dtype
        assert back[key].shape == original[key].shape
        np.testing.assert_array_equal(_host(back[key]), _host(original[key]))
    assert back["w"].requires_grad and not back["steps"].requires_grad
    np.testing.assert_array_equal(back["table"], original["table"])


# --- file objects, as torch.save(obj, buffer) / torch.load(buffer) -------------------------

def test_was_refused_a_bytesio_round_trip(rng, device):
    tree = _tree(rng, device)
    buffer = io.BytesIO()
    tg.save(tree, buffer)
    buffer.seek(0)
    _check_tree(tg.load(buffer, map_location=device), tree, device)


def test_was_refused_open_files_and_data_before_the_archive(tmp_path, rng):
    # torch.save writes at the file's current position; torch.load reads from it
    tree = _tree(rng, "cpu")
    buffer = io.BytesIO()
    buffer.write(b"my header")
    tg.save(tree, buffer)
    buffer.seek(len(b"my header"))
    _check_tree(tg.load(buffer), tree, "cpu")
    path = tmp_path / "opened.ckpt"
    with open(path, "wb") as file:
        tg.save(tree, file)
        assert not file.closed                                # left open, as torch.save
    _check_tree(tg.load(path), tree, "cpu")                   # the same bytes as a path
    with open(path, "rb") as file:
        _check_tree(tg.load(file), tree, "cpu")


def test_was_refused_an_unseekable_writer():
    class Sink:                                               # write() only, as a socket
        def __init__(self):
            self.chunks, self.flushed = [], False

        def write(self, data):
            self.chunks.append(bytes(data))
            return len(data)

        def flush(self):
            self.flushed = True

    sink = Sink()
    tg.save({"x": tg.tensor([1.5, -2.0])}, sink)
    assert sink.flushed
    back = tg.load(io.BytesIO(b"".join(sink.chunks)))
    np.testing.assert_array_equal(back["x"].numpy(), np.array([1.5, -2.0], np.float32))


def test_file_objects_that_cannot_be_read_are_refused_clearly(tmp_path):
    class Stream:                                              # read() but no seek()
        def read(self, size=-1):
            return b""

    with pytest.raises(TypeError, match="load: f must be .* seekable.*Stream has no seek"):
        tg.load(Stream())
    with pytest.raises(TypeError, match="save: f is a text file"):
        tg.save({"x": 1}, io.StringIO())
    with pytest.raises(TypeError, match="load: f is a text file"):
        tg.load(io.StringIO("PK"))
    with pytest.raises(CheckpointError, match="<BytesIO>' is empty"):
        tg.load(io.BytesIO())
    buffer = io.BytesIO()
    tg.save({"x": tg.ones(4)}, buffer)
    with pytest.raises(CheckpointError, match="<BytesIO>"):
        tg.load(io.BytesIO(buffer.getvalue()[:-30]))           # truncated


# --- map_location: a dict {saved location: device} or fn(array, location) ------------------

def test_was_refused_map_location_dict(rng, device):
    tree = _tree(rng, device)
    buffer = io.BytesIO()
    tg.save(tree, buffer)
    buffer.seek(0)
    _check_tree(tg.load(buffer, map_location={device: "cpu"}), tree, "cpu")
    # a location that is not a key: the Tensor goes back where it was saved (torch)
    buffer.seek(0)
    _check_tree(tg.load(buffer, map_location={"cuda:0": "cpu"}), tree, device)
    buffer.seek(0)
    _check_tree(tg.load(buffer, map_location={"cpu": "strict"}), tree,
                "strict" if device == "cpu" else device)


def test_was_refused_map_location_function(rng, device):
    tree = _tree(rng, device)
    tree["tied"] = tree["w"]                                   # one stored array, one call
    buffer = io.BytesIO()
    tg.save(tree, buffer)
    calls = []

    def keep_on_host(array, location):
        calls.append((type(array), location, array.copy()))
        return array

    buffer.seek(0)
    back = tg.load(buffer, map_location=keep_on_host)
    _check_tree(back, tree, "cpu")
    assert back["tied"] is back["w"]
    assert [(kind, location) for kind, location, _ in calls] == [(np.ndarray, device)] * 3
    for (_, _, seen), key in zip(calls, ("w", "steps", "empty")):
        np.testing.assert_array_equal(seen, _host(tree[key]))
    buffer.seek(0)                                             # None: where it was saved
    _check_tree(tg.load(buffer, map_location=lambda array, location: None), tree, device)
    buffer.seek(0)
    to_strict = tg.load(buffer, map_location=lambda array, location: backend.to_device(
        array, "strict"))
    _check_tree(to_strict, tree, "strict")


def test_map_location_errors_are_not_reported_as_a_corrupt_file(tmp_path):
    path = tmp_path / "m.ckpt"
    tg.save({"w": tg.tensor([1.0, 2.0])}, path)
    with pytest.raises(TypeError, match=r"load: map_location must map .* 0: 'cpu'"):
        tg.load(path, map_location={0: "cpu"})
    with pytest.raises(TypeError, match="load: map_location returned list for location 'cpu'"):
        tg.load(path, map_location=lambda array, location: [1.0, 2.0])
    with pytest.raises(ValueError, match=r"returned an array of shape \(2,\) and dtype "
                                         r"float64 .* shape \(2,\) and dtype float32"):
        tg.load(path, map_location=lambda array, location: array.astype(np.float64))
    with pytest.raises(ValueError, match="unknown device 'tpu'") as error:
        tg.load(path, map_location={"cpu": "tpu"})
    assert not isinstance(error.value, CheckpointError)
    with pytest.raises(ZeroDivisionError):                     # the function's own error
        tg.load(path, map_location=lambda array, location: 1 / 0)


def test_an_old_file_without_locations_maps_from_cpu(tmp_path):
    # version 1 and 2 files name no device: their Tensors were saved from 'cpu'
    path = tmp_path / "old.ckpt"
    header = {"format": "tinygrad_opt.checkpoint", "version": 1,
              "tree": {"dict": [["w", {"tensor": "a0", "requires_grad": False}]]}}
    np.savez(open(path, "wb"), a0=np.array([3.0, 4.0]),
             __structure__=np.frombuffer(json.dumps(header).encode(), np.uint8))
    back = tg.load(path, map_location={"cpu": "strict"})
    assert back["w"].device == "strict"
    np.testing.assert_array_equal(_host(back["w"]), [3.0, 4.0])
    seen = []
    tg.load(path, map_location=lambda array, location: seen.append(location))
    assert seen == ["cpu"]


def test_a_tampered_location_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "bad.ckpt"
    header = {"format": "tinygrad_opt.checkpoint", "version": 2,
              "tree": {"tensor": "a0", "requires_grad": False, "device": 5}}
    np.savez(open(path, "wb"), a0=np.ones(2),
             __structure__=np.frombuffer(json.dumps(header).encode(), np.uint8))
    with pytest.raises(CheckpointError, match="bad.ckpt.*device must be a string"):
        tg.load(path)


# --- OrderedDict and namedtuple ------------------------------------------------------------

def test_was_a_dict_an_ordered_dict_round_trips(tmp_path, rng):
    inner = collections.OrderedDict([("z", 1), ("a", rng.standard_normal(2))])
    tree = {"state": collections.OrderedDict([("b", inner), ("a", [inner["a"], 2.5])]),
            "plain": {"k": 1}}
    path = tmp_path / "od.ckpt"
    tg.save(tree, path)
    back = tg.load(path)
    assert type(back) is dict and type(back["plain"]) is dict
    assert type(back["state"]) is collections.OrderedDict
    assert type(back["state"]["b"]) is collections.OrderedDict
    assert list(back["state"]) == ["b", "a"] and list(back["state"]["b"]) == ["z", "a"]
    np.testing.assert_array_equal(back["state"]["b"]["a"], inner["a"])
    assert back["state"]["a"][1] == 2.5
    # the node stays a "dict" node: an older reader loads it as a dict
    with np.load(path, allow_pickle=False) as contents:
        node = json.loads(contents["__structure__"].tobytes())["tree"]["dict"][0][1]
    assert node["ordered"] is True and [key for key, _ in node["dict"]] == ["b", "a"]


def test_was_a_dict_a_state_dict_comes_back_as_an_ordered_dict(tmp_path, rng):
    model = nn.Linear(3, 2)
    state = model.state_dict()
    path = tmp_path / "model.ckpt"
    tg.save(state, path)
    back = tg.load(path)
    assert type(back) is collections.OrderedDict and list(back) == list(state)
    for key in state:
        np.testing.assert_array_equal(back[key].numpy(), state[key].numpy())


def test_a_malformed_ordered_flag_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "flag.ckpt"
    header = {"format": "tinygrad_opt.checkpoint", "version": 2,
              "tree": {"dict": [["k", 1]], "ordered": "yes"}}
    np.savez(open(path, "wb"), __structure__=np.frombuffer(json.dumps(header).encode(),
                                                           np.uint8))
    with pytest.raises(CheckpointError, match="flag.ckpt.*'ordered' must be a bool"):
        tg.load(path)


def test_a_namedtuple_is_refused_when_saved(tmp_path):
    # its class could only be rebuilt by unpickling, which torch.load(weights_only=True)
    # refuses (Unsupported global); save refuses it before writing anything
    Pair = collections.namedtuple("Pair", "loss step")
    path = tmp_path / "nt.ckpt"
    with pytest.raises(TypeError, match=r"obj\['p'\]: a namedtuple \(Pair\) cannot be saved"):
        tg.save({"p": Pair(np.float64(0.25), 3)}, path)
    assert not path.exists()
    tg.save({"p": tuple(Pair(np.float64(0.25), 3))}, path)
    back = tg.load(path)["p"]
    assert type(back) is tuple and back == (0.25, 3) and type(back[0]) is np.float64


# --- the errors open() gives ---------------------------------------------------------------

def test_was_without_errno_a_missing_file(tmp_path):
    missing = tmp_path / "nowhere.ckpt"
    with pytest.raises(FileNotFoundError) as error:
        tg.load(missing)
    assert error.value.errno == errno.ENOENT and error.value.filename == str(missing)
    with pytest.raises(FileNotFoundError) as error:
        tg.save({"x": 1}, tmp_path / "no" / "dir.ckpt")
    assert error.value.errno == errno.ENOENT
    assert error.value.filename == str(tmp_path / "no" / "dir.ckpt")
    with pytest.raises(IsADirectoryError) as error:             # still a CheckpointError
        tg.load(tmp_path)
    assert isinstance(error.value, CheckpointError) and error.value.errno == errno.EISDIR
    assert error.value.filename == str(tmp_path)


def test_pathlib_paths_and_weights_only_work_with_every_map_location(tmp_path, rng):
    tree = _tree(rng, "cpu")
    path = tmp_path / "p.ckpt"
    tg.save(tree, path)
    with zipfile.ZipFile(path) as archive:                    # cpu Tensors: no device key
        text = archive.read("__structure__.npy")
    assert b'"device"' not in text
    for location in ("cpu", {"cpu": "cpu"}, lambda array, where: array):
        _check_tree(tg.load(path, map_location=location, weights_only=True), tree, "cpu")


def test_two_checkpoints_in_one_stream_are_not_confused():
    # zipfile reads the archive that ends the stream: loading the first of two saves gave
    # the second one's values without a word
    buffer = io.BytesIO()
    tg.save({"x": tg.tensor([1.0, 2.0])}, buffer)
    second = buffer.tell()
    tg.save({"x": tg.tensor([5.0])}, buffer)
    buffer.seek(second)
    np.testing.assert_array_equal(tg.load(buffer)["x"].numpy(), np.array([5.0], np.float32))
    buffer.seek(0)
    with pytest.raises(CheckpointError, match=f"starts at byte {second}, not at .* 0"):
        tg.load(buffer)
