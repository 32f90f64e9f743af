"""Four small PyTorch gaps: Subset / random_split keep PyTorch's ``indices``,
``tg.initial_seed()`` is always an int, ``tg.cuda``'s RNG-state functions, and the
MaxUnpool classes are siblings (PyTorch's ``_MaxUnpoolNd``), not subclasses of the 1d one."""

import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend, cuda, nn
from tinygrad_opt.data import DataLoader, Subset, TensorDataset, random_split

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------- Subset and random_split

def test_random_split_indices_are_lists_of_ints_that_concatenate():
    # PyTorch: randperm(n).tolist() sliced per part; train.indices + val.indices joins them
    train, val = random_split(range(10), [7, 3], seed=4)
    order = np.random.default_rng(4).permutation(10)            # the seeded order, as before
    assert type(train.indices) is list and all(type(i) is int for i in train.indices)
    assert train.indices == order[:7].tolist() and val.indices == order[7:].tolist()
    joined = train.indices + val.indices
    assert joined == order.tolist() and sorted(joined) == list(range(10))


def test_random_split_fractions_keep_the_seeded_values():
    parts = random_split(range(11), [0.5, 0.3, 0.2], seed=0)
    counts = [int(np.floor(11 * f)) for f in (0.5, 0.3, 0.2)]   # 5, 3, 2: one left over
    counts[0] += 1
    order = np.random.default_rng(0).permutation(11)
    bounds = np.cumsum([0] + counts)
    assert [p.indices for p in parts] == [order[a:b].tolist() for a, b in zip(bounds, bounds[1:])]


def test_subset_keeps_the_indices_object_it_was_given(rng):
    data = TensorDataset(rng.standard_normal((6, 2)))
    as_list, as_range, as_array = [4, 0, 4], range(1, 5), np.array([5, 2], dtype=np.int32)
    assert Subset(data, as_list).indices is as_list
    assert Subset(data, as_range).indices is as_range
    assert Subset(data, as_array).indices is as_array
    assert Subset(data, as_list).indices + [1] == [4, 0, 4, 1]   # a list, as PyTorch's


def test_loader_over_nested_subsets_of_lists_reads_the_right_rows(device, rng):
    X = rng.standard_normal((20, 3))
    y = np.arange(20)
    train, _ = random_split(TensorDataset(X, y), [12, 8], seed=1)
    inner = Subset(train, [11, 0, -1, 3, 3])                    # a list, negative included
    rows = np.asarray(train.indices)[[11, 0, -1, 3, 3]]
    batches = list(DataLoader(inner, batch_size=2, device=device))
    got_x = np.concatenate([backend.to_host(b[0].data) for b in batches])
    got_y = np.concatenate([backend.to_host(b[1].data) for b in batches])
    np.testing.assert_array_equal(got_y, y[rows])
    np.testing.assert_allclose(got_x, X[rows])
    assert batches[0][0].device == device


def test_subset_of_a_tensor_of_indices_reads_rows_one_by_one_and_in_slices(device, rng):
    X = rng.standard_normal((8, 2))
    keys = tg.tensor([6, 1, 3], device=device)
    subset = Subset(TensorDataset(X), keys)
    assert subset.indices is keys and len(subset) == 3
    np.testing.assert_allclose(subset[1][0], X[1])
    np.testing.assert_allclose(subset[0:2][0], X[[6, 1]])
    batch = next(iter(DataLoader(subset, batch_size=3)))
    np.testing.assert_allclose(batch[0].numpy(), X[[6, 1, 3]])


# ----------------------------------------------------------------------------- initial_seed

def test_initial_seed_is_an_int_before_any_manual_seed_and_replays_the_draws():
    # PyTorch: torch.initial_seed() is always an int (the seed the default generator
    # started from), so manual_seed(initial_seed()) gives the same draws again
    code = ("import tinygrad_opt as tg; s = tg.initial_seed(); "
            "assert s == tg.default_generator.initial_seed() == tg.random.initial_seed(); "
            "print(type(s).__name__, s, *tg.rand(4).numpy().tolist())")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.split()
    assert out[0] == "int" and 0 <= int(out[1]) < 2**64
    tg.manual_seed(int(out[1]))
    np.testing.assert_array_equal(tg.rand(4).numpy(), np.array(out[2:], dtype=np.float32))


# ------------------------------------------------------------------- tg.cuda's RNG state

@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)


def test_without_a_gpu_rng_state_functions_answer_as_pytorch(no_gpu):
    # PyTorch: get_rng_state starts CUDA (raises); get_rng_state_all is over device_count()
    # == 0 devices; set_rng_state queues its call for a CUDA that never starts
    with pytest.raises(RuntimeError, match="tg.cuda.get_rng_state: no CUDA GPU"):
        cuda.get_rng_state()
    assert cuda.get_rng_state_all() == []
    assert cuda.set_rng_state_all([]) is None
    assert cuda.set_rng_state({"seed": 3}) is None
    with pytest.raises(TypeError, match="tg.cuda.set_rng_state: new_state must be"):
        cuda.set_rng_state("not a state")


class _FakeDevice:
    def __init__(self, fake, index):
        self.fake, self.index = fake, index

    def __enter__(self):
        self.saved, self.fake.current = self.fake.current, self.index

    def __exit__(self, *exc):
        self.fake.current = self.saved


@pytest.fixture
def gpu(monkeypatch):
    """A stand-in CuPy with two GPUs: one seeded NumPy generator per GPU stands for its
    cuRAND generator (``cupy.random.seed``, then draws)."""
    fake = types.SimpleNamespace(current=0, generators={})
    fake.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 2, getDevice=lambda: fake.current),
        Device=lambda i: _FakeDevice(fake, i))

    def seed(s):
        fake.generators[fake.current] = np.random.default_rng(s)

    fake.random = types.SimpleNamespace(
        seed=seed, rand=lambda n: fake.generators[fake.current].random(n))
    get_xp = backend.get_xp
    monkeypatch.setattr(backend, "cuda_available", lambda: True)
    monkeypatch.setattr(backend, "get_xp", lambda d: fake if d == "cuda" else get_xp(d))
    return fake


def test_on_a_gpu_set_rng_state_replays_the_draws_since_get_rng_state(gpu):
    state = cuda.get_rng_state()
    first = gpu.random.rand(5)
    gpu.random.rand(3)                                           # the stream moves on
    cuda.set_rng_state(state)
    np.testing.assert_array_equal(gpu.random.rand(5), first)
    states = cuda.get_rng_state_all()
    assert len(states) == 2 and gpu.current == 0
    with _FakeDevice(gpu, 1):
        second = gpu.random.rand(4)
    cuda.set_rng_state_all(states)
    with _FakeDevice(gpu, 1):
        np.testing.assert_array_equal(gpu.random.rand(4), second)
    cuda.set_rng_state(states[1], "cuda:1")
    with _FakeDevice(gpu, 1):
        np.testing.assert_array_equal(gpu.random.rand(4), second)


# ----------------------------------------------------------------------- MaxUnpool classes

def test_max_unpool_classes_are_siblings_not_subclasses_of_the_1d_one():
    one, two, three = nn.MaxUnpool1d(2), nn.MaxUnpool2d(2), nn.MaxUnpool3d(2)
    assert not isinstance(two, nn.MaxUnpool1d) and not isinstance(three, nn.MaxUnpool1d)
    assert not isinstance(three, nn.MaxUnpool2d) and not isinstance(one, nn.MaxUnpool2d)
    base = type(one).__mro__[1]
    assert base.__name__ == "_MaxUnpoolNd" and all(isinstance(m, base) for m in (two, three))
    assert repr(two) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(three) == ("MaxUnpool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2), "
                           "padding=(0, 0, 0))")
    assert dict(two.state_dict()) == {} and dict(three.state_dict()) == {}


def test_max_unpool2d_puts_each_maximum_back_in_place(device, rng):
    x = rng.standard_normal((2, 3, 4, 6))
    pooled, indices = nn.functional.max_pool2d(tg.tensor(x, device=device), 2,
                                               return_indices=True)
    out = nn.MaxUnpool2d(2)(pooled, indices).numpy()
    # NumPy reference: each 2x2 window's maximum at its place, zeros elsewhere
    windows = x.reshape(2, 3, 2, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 3, 4)
    keep = windows == windows.max(-1, keepdims=True)
    expected = (windows * keep).reshape(2, 3, 2, 3, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    np.testing.assert_allclose(out, expected.reshape(2, 3, 4, 6))


def test_an_unseeded_trainer_shuffles_anew_while_a_seeded_one_repeats(monkeypatch):
    """ensemble.trainer seeds its loader with tg.initial_seed() only after a manual_seed:
    unseeded, initial_seed() is the same import-time seed on every call, and each model
    must still get an order of its own."""
    from tinygrad_opt import ensemble, train
    from tinygrad_opt.backend import randomness
    orders = []

    def fake_fit(model, optimizer, loss_fn, loader, epochs, **kwargs):
        orders.append([int(i) for (_, i) in loader for i in i.numpy()])

    monkeypatch.setattr(train, "fit", fake_fit)  # (trainer imports it when it runs)
    data = TensorDataset(np.zeros((16, 1), np.float32), np.arange(16))
    train_fn = ensemble.trainer(lambda p: tg.optim.SGD(p, lr=0.1), tg.nn.MSELoss(),
                                batch_size=4)
    monkeypatch.setattr(randomness, "seeded", False)
    train_fn(tg.nn.Linear(1, 1), data)
    train_fn(tg.nn.Linear(1, 1), data)
    assert orders[0] != orders[1] and sorted(orders[0]) == list(range(16))
    tg.manual_seed(5)
    train_fn(tg.nn.Linear(1, 1), data)
    tg.manual_seed(5)
    train_fn(tg.nn.Linear(1, 1), data)
    assert orders[2] == orders[3]
    assert orders[2] == np.random.default_rng(5).permutation(16).tolist()
