"""Fourth audit of checkpoints (tg.save / tg.load) and activation checkpointing, against
``torch.save`` / ``torch.load`` and ``torch.utils.checkpoint``.

The first tests pin behaviours found wrong in the audit (each failed before its fix);
the rest pin behaviours found right but untested by the earlier audits."""

import os
import pathlib

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, optim
from tinygrad_opt.serialization import CheckpointError
from tinygrad_opt.utils.checkpoint import checkpoint, checkpoint_sequential


# --- found wrong, now fixed ---------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: nn.LazyLinear(3), lambda: nn.LazyBatchNorm1d()])
def test_an_uninitialized_lazy_state_dict_is_refused_before_writing(tmp_path, make):
    # was: the placeholder was saved as an empty (0,) Parameter, and loading that file
    # into a fresh lazy module crashed with IndexError; torch's weights_only load refuses
    # UninitializedParameter too. A module called once saves and loads as usual.
    path = tmp_path / "lazy.ckpt"
    path.write_bytes(b"previous")
    module = make()
    with pytest.raises(TypeError, match=r"obj\['weight'\]: an uninitialized parameter"):
        tg.save(module.state_dict(), path)
    assert path.read_bytes() == b"previous" and os.listdir(tmp_path) == ["lazy.ckpt"]
    module(tg.tensor(np.arange(8, dtype=np.float32).reshape(2, 4)))
    tg.save(module.state_dict(), path)
    fresh = make()
    fresh.load_state_dict(tg.load(path))
    for key, value in module.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key].numpy(), value.numpy())


def test_save_never_changes_the_process_umask(tmp_path, monkeypatch):
    # was: a new file's mode came from os.umask(0) then os.umask(old), a window in which a
    # file another thread creates gets mode 0o666; the system applies the umask instead
    umask = os.umask(0o022)
    os.umask(umask)
    calls = []
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or umask)
    fresh = tmp_path / "fresh.ckpt"
    tg.save({"w": tg.tensor([1.0, 2.0])}, fresh)
    assert calls == []
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask
    os.chmod(fresh, 0o600)          # a replaced private file keeps its mode, and the data
    real_savez, modes = np.savez, []  # being written is never readable by others either

    def savez(file, **arrays):
        modes.append(os.fstat(file.fileno()).st_mode & 0o777)
        real_savez(file, **arrays)

    monkeypatch.setattr(np, "savez", savez)
    tg.save({"w": tg.tensor([3.0])}, fresh)
    assert modes == [0o600 & ~umask] and fresh.stat().st_mode & 0o777 == 0o600
    assert tg.load(fresh)["w"].tolist() == [3.0] and os.listdir(tmp_path) == ["fresh.ckpt"]


# --- found right, now pinned ---------------------------------------------------------------

DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
          np.uint64, np.float16, np.float32, np.float64, np.complex64]


def test_every_dtype_and_layout_round_trips_on_the_device(tmp_path, device, rng):
    # torch.save/torch.load keep each tensor's dtype, shape and values; 0-d, empty and
    # Fortran-ordered tensors included
    values = rng.standard_normal((3, 4)) * 50
    tree = {np.dtype(dtype).name: tg.tensor(values.astype(dtype), device=device)
            for dtype in DTYPES}
    tree["fortran"] = tg.tensor(np.asfortranarray(values), device=device)
    tree["zero_d"] = tg.tensor(np.int16(-7), device=device)
    tree["empty"] = tg.zeros((2, 0, 3), dtype=tg.float64, device=device)
    tg.save(tree, tmp_path / "dtypes.ckpt")
    back = tg.load(tmp_path / "dtypes.ckpt", map_location=device)
    assert list(back) == list(tree)
    for key, tensor in tree.items():
        assert back[key].device == device and back[key].dtype == tensor.dtype, key
        assert back[key].shape == tensor.shape, key
        np.testing.assert_array_equal(back[key].numpy(), tensor.numpy())
    np.testing.assert_array_equal(back["int8"].numpy(), values.astype(np.int8))
    assert back["zero_d"].item() == -7


def test_device_training_resumes_from_a_checkpoint_loaded_to_the_host(tmp_path, device):
    # torch: load with map_location='cpu', then load_state_dict moves the model's values
    # and the optimizer's state to the parameters' device; the run goes on unchanged
    data = np.random.default_rng(2).standard_normal((5, 4, 3)).astype(np.float32)

    def build():
        tg.manual_seed(1)
        model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).to(device)
        return model, optim.Adam(model.parameters(), lr=0.05, amsgrad=True)

    def train(model, adam, steps):
        for i in steps:
            adam.zero_grad()
            (model(tg.tensor(data[i], device=device)) ** 2).mean().backward()
            adam.step()

    model, adam = build()
    train(model, adam, range(5))
    expected = {key: value.numpy() for key, value in model.state_dict().items()}
    model, adam = build()
    train(model, adam, range(2))
    tg.save({"model": model.state_dict(), "adam": adam.state_dict()}, tmp_path / "run.ckpt")
    state = tg.load(tmp_path / "run.ckpt", map_location="cpu")
    assert state["model"]["0.weight"].device == "cpu"
    model, adam = build()
    model.load_state_dict(state["model"])
    adam.load_state_dict(state["adam"])
    train(model, adam, range(2, 5))
    for key, value in model.state_dict().items():
        assert value.device == device
        np.testing.assert_array_equal(value.numpy(), expected[key])


class _Payload:
    """Unpickling it would create the file ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_pytorch_style_zip_with_a_pickle_payload_is_refused_unrun(tmp_path):
    # weights_only: the zip layout torch.save writes (archive/data.pkl), and a pickle
    # added to a checkpoint under an .npy name, are both refused without unpickling
    import pickle
    import zipfile
    marker = tmp_path / "ran"
    payload = pickle.dumps(_Payload(str(marker)))
    torch_like = tmp_path / "model.pt"
    with zipfile.ZipFile(torch_like, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3\n")
    with pytest.raises(CheckpointError, match="model.pt.*'archive/data.pkl'"):
        tg.load(torch_like, weights_only=False)
    disguised = tmp_path / "disguised.ckpt"
    tg.save({"w": tg.tensor([1.0, 2.0])}, disguised)
    with zipfile.ZipFile(disguised, "a") as archive:
        archive.writestr("a1.npy", payload)
    with pytest.raises(CheckpointError, match="disguised.ckpt"):
        tg.load(disguised)
    assert not marker.exists()


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_non_leaf_tensors_inside_a_list_argument_get_the_plain_gradients(use_reentrant, rng):
    # torch (non-reentrant) differentiates through tensors nested in the arguments; here
    # both use_reentrant values give that mechanism, with the plain run's gradients
    x0, y0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))

    def block(pair, scale):
        return (pair[0] * pair[1]).sin() * scale, pair[0].exp()

    def gradients(checkpointed):
        a = tg.tensor(x0, requires_grad=True)
        b = tg.tensor(y0, requires_grad=True)
        pair = [a * 2, b.tanh()]
        first, second = (checkpoint(block, pair, 3.0, use_reentrant=use_reentrant)
                         if checkpointed else block(pair, 3.0))
        ((first * second).sum() + first.sum()).backward()
        return a.grad.numpy(), b.grad.numpy()

    got, plain = gradients(True), gradients(False)
    np.testing.assert_allclose(got[0], plain[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], plain[1], rtol=1e-12)
    a, b = 2 * x0, np.tanh(y0)                   # the chain rule written out by hand
    df = 3 * np.cos(a * b) * (np.exp(a) + 1)      # d/d(a·b) of sin(a·b)·3·(eᵃ + 1)
    np.testing.assert_allclose(got[0], 2 * (df * b + 3 * np.sin(a * b) * np.exp(a)),
                               rtol=1e-10)
    np.testing.assert_allclose(got[1], df * a * (1 - b ** 2), rtol=1e-10)


def test_checkpoint_sequential_with_dropout_replays_the_masks(rng):
    # preserve_rng_state (the default): the recomputed segments draw the forward's masks,
    # so gradients equal the plain run's, and the stream after backward is the plain one
    model = nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.5), nn.Tanh(), nn.Linear(6, 6),
                          nn.Dropout(0.3), nn.Linear(6, 2)).to(tg.float64)
    x0 = rng.standard_normal((5, 4))

    def run(checkpointed):
        tg.manual_seed(11)
        model.zero_grad()
        x = tg.tensor(x0, requires_grad=True)
        y = checkpoint_sequential(model, 3, x, use_reentrant=False) if checkpointed else model(x)
        (y ** 2).sum().backward()
        return [x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()] + \
            [tg.rand(3).numpy()]

    for got, plain in zip(run(True), run(False)):
        np.testing.assert_allclose(got, plain, rtol=1e-12)
