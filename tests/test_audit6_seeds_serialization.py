"""Audit 6: DataLoader worker seeds drawn from the loader's generator stream (restoring its
state reproduces the seeds and the order, as PyTorch's ``_base_seed``), loaders and
samplers following their ``tg.Generator`` after ``manual_seed``, and checkpoints: a
namedtuple refused at save (PyTorch's ``torch.load(weights_only=True)`` refuses it),
``map_location=None`` restoring each Tensor's saved device, and PyTorch's error for a CUDA
location without a GPU. Every reference is a plain NumPy draw."""

import collections

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend, serialization
from tinygrad_opt.data import (DataLoader, Dataset, RandomSampler, SubsetRandomSampler,
                               TensorDataset, WeightedRandomSampler, get_worker_info)

T = 20  # seconds: the timeout of every loader with workers
N = 6


class WhoSeeds(Dataset):
    """Sample i: (i, the id of the worker that read it, that worker's seed)."""

    def __len__(self):
        return N

    def __getitem__(self, i):
        info = get_worker_info()
        return i, info.id, info.seed


def _epoch(loader):
    return [sample for batch in loader for sample in batch]


def _reference(state, epochs, draws_base_seed):
    """The NumPy draws of PyTorch's iterator: per epoch, a base seed (one int64 in
    [0, 2**63)) when a pool of workers starts, then the permutation of the epoch."""
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    out = []
    for epoch in range(epochs):
        base = int(rng.integers(2**63)) if draws_base_seed[epoch] else None
        out.append((base, rng.permutation(N).tolist()))
    return out


def _check_epoch(samples, base, order, workers):
    assert [i for i, _, _ in samples] == order
    for position, (_, worker, seed) in enumerate(samples):
        assert worker == position % workers          # batch_size=1, round-robin
        assert seed == base + worker                  # get_worker_info().seed


@pytest.mark.usefixtures("no_process_left_behind")
def test_restoring_the_generator_state_reproduces_worker_seeds_and_order():
    g = tg.Generator().manual_seed(11)
    loader = DataLoader(WhoSeeds(), batch_size=1, shuffle=True, generator=g, num_workers=2,
                        timeout=T, collate_fn=list)
    state = g.get_state()
    first = [_epoch(loader), _epoch(loader)]
    g.set_state(state)
    assert [_epoch(loader), _epoch(loader)] == first
    for samples, (base, order) in zip(first, _reference(state["bit_generator"], 2, [1, 1])):
        _check_epoch(samples, base, order, 2)
    assert first[0][0][2] != first[1][0][2]           # a new base seed for each epoch


@pytest.mark.usefixtures("no_process_left_behind")
def test_without_a_generator_the_seeds_follow_the_framework_state():
    tg.manual_seed(3)
    state = tg.get_rng_state()
    loader = DataLoader(WhoSeeds(), batch_size=1, shuffle=True, num_workers=2, timeout=T,
                        collate_fn=list)
    first = _epoch(loader)
    tg.set_rng_state(state)
    assert _epoch(loader) == first
    ((base, order),) = _reference(state["bit_generator"], 1, [1])
    _check_epoch(first, base, order, 2)


@pytest.mark.usefixtures("no_process_left_behind")
def test_persistent_workers_draw_their_base_seed_once():
    g = tg.Generator().manual_seed(4)
    state = g.get_state()
    loader = DataLoader(WhoSeeds(), batch_size=1, shuffle=True, generator=g, num_workers=2,
                        timeout=T, collate_fn=list, persistent_workers=True)
    epochs = [_epoch(loader), _epoch(loader)]
    del loader
    (base, first), (_, second) = _reference(state["bit_generator"], 2, [1, 0])
    _check_epoch(epochs[0], base, first, 2)
    _check_epoch(epochs[1], base, second, 2)          # PyTorch's _reset draws no seed


def test_a_loader_follows_its_generator_after_manual_seed(device):
    g = tg.Generator()
    X = np.arange(2.0 * N).reshape(N, 2)
    loader = DataLoader(TensorDataset(X), batch_size=N, shuffle=True, generator=g,
                        device=device)
    g.manual_seed(5)                                  # after the loader was made
    (x,) = next(iter(loader))
    assert x.device == device
    np.testing.assert_array_equal(x.numpy(), X[np.random.default_rng(5).permutation(N)])
    default = DataLoader(TensorDataset(X), batch_size=N, shuffle=True,
                         generator=tg.default_generator, device=device)
    tg.manual_seed(7)                                 # reseeds the framework's generator
    (x,) = next(iter(default))
    np.testing.assert_array_equal(x.numpy(), X[np.random.default_rng(7).permutation(N)])


def test_samplers_follow_their_generator_after_manual_seed():
    g = tg.Generator()
    random_sampler = RandomSampler(range(N), generator=g)
    subset = SubsetRandomSampler([10, 20, 30, 40], generator=g)
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    weighted = WeightedRandomSampler(weights, 5, generator=g)
    g.manual_seed(9)
    reference = np.random.default_rng(9)
    assert list(random_sampler) == reference.permutation(N).tolist()
    assert list(subset) == [[10, 20, 30, 40][p] for p in reference.permutation(4)]
    assert list(weighted) == reference.choice(4, size=5, p=weights / weights.sum()).tolist()


# --- serialization ---------------------------------------------------------------------

def test_a_namedtuple_is_refused_at_save_before_writing(tmp_path):
    Pair = collections.namedtuple("Pair", "loss step")
    path = tmp_path / "nt.ckpt"
    with pytest.raises(TypeError, match=r"obj\['runs'\]\[1\]: a namedtuple \(Pair\) cannot "
                                        r"be saved.*weights_only=True"):
        tg.save({"runs": [(1, 2), Pair(0.5, 3)]}, path)
    assert not path.exists()
    tg.save({"runs": [(1, 2), tuple(Pair(0.5, 3)), Pair(0.5, 3)._asdict()]}, path)
    back = tg.load(path)["runs"]
    assert back == [(1, 2), (0.5, 3), {"loss": 0.5, "step": 3}] and type(back[1]) is tuple


def test_default_map_location_restores_the_saved_device(tmp_path, device, rng):
    values = rng.standard_normal((2, 3))
    path = tmp_path / "w.ckpt"
    tg.save({"w": tg.tensor(values, device=device), "c": tg.tensor(values[0])}, path)
    back = tg.load(path)
    assert back["w"].device == device and back["c"].device == "cpu"
    np.testing.assert_array_equal(back["w"].numpy(), values)
    np.testing.assert_array_equal(back["c"].numpy(), values[0])
    assert tg.load(path, map_location="cpu")["w"].device == "cpu"


def test_a_cuda_location_without_a_gpu_is_pytorchs_error(tmp_path, monkeypatch, rng):
    values = rng.standard_normal(3)
    path = tmp_path / "gpu.ckpt"
    with monkeypatch.context() as patch:              # a file written on a GPU
        patch.setattr(serialization, "_location", lambda array: "cuda:0")
        tg.save({"w": tg.tensor(values)}, path)
    for map_location in (None, {"strict": "cpu"}, lambda array, location: None):
        if backend.cuda_available():
            assert tg.load(path, map_location=map_location)["w"].device == "cuda"
        else:
            with pytest.raises(RuntimeError, match=r"saved on 'cuda:0'.*"
                                                   r"map_location='cpu'"):
                tg.load(path, map_location=map_location)
    for map_location in ("cpu", {"cuda:0": "cpu"}):
        w = tg.load(path, map_location=map_location)["w"]
        assert w.device == "cpu"
        np.testing.assert_array_equal(w.numpy(), values)
