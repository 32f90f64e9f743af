"""tg.cuda's PyTorch functions: PyTorch's answers without a GPU (this machine), and
the CuPy branch against a stand-in CuPy module that records what it is asked."""

import types

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend, cuda

NO_GPU = "no CUDA GPU is available"


@pytest.fixture
def no_gpu(monkeypatch):
    """A machine without CuPy or a GPU, whatever this one has."""
    monkeypatch.setattr(backend, "cuda_available", lambda: False)


def test_without_a_gpu_the_counts_and_memory_statistics_are_zero(no_gpu):
    assert cuda.is_available() is False
    assert cuda.device_count() == 0
    assert cuda.is_initialized() is False
    assert cuda.memory_allocated() == 0 and cuda.memory_allocated(0) == 0
    assert cuda.memory_reserved() == 0
    assert cuda.max_memory_allocated() == 0
    assert cuda.empty_cache() is None


@pytest.mark.parametrize("name", ["current_device", "get_device_name", "get_device_capability",
                                  "synchronize", "initial_seed", "reset_peak_memory_stats",
                                  "Stream", "Event"])
def test_without_a_gpu_the_functions_that_need_one_raise_naming_themselves(no_gpu, name):
    with pytest.raises(RuntimeError, match=f"tg.cuda.{name}: {NO_GPU}"):
        getattr(cuda, name)()


@pytest.mark.parametrize("gpu_name", [0, "cuda", "cuda:0"])
def test_without_a_gpu_set_device_and_a_device_block_raise(no_gpu, gpu_name):
    if gpu_name == "cuda":  # as PyTorch: set_device needs a number
        with pytest.raises(ValueError, match="tg.cuda.set_device: a device number is needed"):
            cuda.set_device(gpu_name)
    else:
        with pytest.raises(RuntimeError, match=f"tg.cuda.set_device: {NO_GPU}"):
            cuda.set_device(gpu_name)
    with pytest.raises(RuntimeError, match=f"tg.cuda.device: {NO_GPU}"):
        with cuda.device(gpu_name):
            pass


def test_without_a_gpu_none_and_negative_devices_and_streams_change_nothing(no_gpu):
    cuda.set_device(-1)
    with cuda.device(None), cuda.device(-1), cuda.stream(None):
        value = tg.ones(2).sum().item()
    assert value == 2.0


def test_without_a_gpu_cuda_seeding_is_silently_ignored_and_leaves_the_cpu_stream(no_gpu):
    """torch.cuda.manual_seed seeds CUDA's generator only: the CPU stream goes on."""
    tg.manual_seed(0)
    first = tg.rand(4).numpy()
    cuda.manual_seed(0)
    cuda.manual_seed_all(0)
    assert cuda.seed() is None and cuda.seed_all() is None
    second = tg.rand(4).numpy()
    reference = np.random.default_rng(0)
    np.testing.assert_array_equal(first, reference.uniform(0, 1, 4).astype(np.float32))
    np.testing.assert_array_equal(second, reference.uniform(0, 1, 4).astype(np.float32))


@pytest.mark.parametrize("bad", [1.5, "0", None, True])
def test_cuda_manual_seed_refuses_a_seed_that_is_not_an_int(no_gpu, bad):
    with pytest.raises(TypeError, match=f"tg.cuda.manual_seed_all: seed must be an int, "
                                        f"got {bad!r}"):
        cuda.manual_seed_all(bad)


def test_device_names_that_are_not_cuda_are_refused_naming_them(no_gpu):
    with pytest.raises(ValueError, match="tg.cuda.synchronize: expected a cuda device, got 'cpu'"):
        cuda.synchronize("cpu")
    with pytest.raises(ValueError, match="tg.cuda.get_device_name: device must be an int"):
        cuda.get_device_name(1.0)


class _FakeDevice:
    def __init__(self, fake, index):
        self.fake, self.index = fake, index

    def use(self):
        self.fake.current = self.index

    def synchronize(self):
        self.fake.synchronized.append(self.index)

    def __enter__(self):
        self.saved, self.fake.current = self.fake.current, self.index
        return self

    def __exit__(self, *exc):
        self.fake.current = self.saved


class _FakePool:
    def __init__(self, used, total):
        self.used, self.total, self.freed = used, total, 0

    def used_bytes(self):
        return self.used

    def total_bytes(self):
        return self.total

    def free_all_blocks(self):
        self.freed += 1


def _fake_cupy():
    """A stand-in CuPy with two GPUs, from CuPy's documented API."""
    fake = types.SimpleNamespace(current=0, synchronized=[], seeds=[])
    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 2, getDevice=lambda: fake.current,
        getDeviceProperties=lambda i: {"name": f"Fake GPU {i}".encode(), "major": 8 + i,
                                       "minor": 6})
    fake.cuda = types.SimpleNamespace(
        runtime=runtime, Device=lambda i: _FakeDevice(fake, i),
        Stream=lambda **options: ("stream", fake.current, options),
        Event=lambda **options: ("event", options))
    fake.random = types.SimpleNamespace(seed=lambda s: fake.seeds.append((fake.current, s)))
    fake.pool, fake.pinned = _FakePool(1024, 4096), _FakePool(0, 0)
    fake.get_default_memory_pool = lambda: fake.pool
    fake.get_default_pinned_memory_pool = lambda: fake.pinned
    return fake


@pytest.fixture
def gpu(monkeypatch):
    fake = _fake_cupy()
    get_xp = backend.get_xp
    monkeypatch.setattr(backend, "cuda_available", lambda: True)
    monkeypatch.setattr(backend, "get_xp",
                        lambda device: fake if device == "cuda" else get_xp(device))
    monkeypatch.setattr(cuda, "_seed", None)
    return fake


def test_on_a_gpu_the_device_functions_ask_cupy(gpu):
    assert cuda.is_available() and cuda.is_initialized()
    assert cuda.device_count() == 2
    assert cuda.current_device() == 0
    assert cuda.get_device_name() == "Fake GPU 0"
    assert cuda.get_device_name("cuda:1") == "Fake GPU 1"
    assert cuda.get_device_capability(1) == (9, 6)
    cuda.synchronize()
    cuda.synchronize(1)
    assert gpu.synchronized == [0, 1]
    with pytest.raises(ValueError,
                       match=r"tg.cuda.synchronize: device 2 does not exist \(2 GPUs\)"):
        cuda.synchronize(2)


def test_on_a_gpu_set_device_and_a_device_block_switch_and_restore(gpu):
    cuda.set_device("cuda:1")
    assert cuda.current_device() == 1
    cuda.set_device(-1)
    assert cuda.current_device() == 1
    with cuda.device(0):
        assert cuda.current_device() == 0
    assert cuda.current_device() == 1


def test_on_a_gpu_manual_seed_seeds_the_current_gpu_and_manual_seed_all_every_gpu(gpu):
    cuda.set_device(1)
    cuda.manual_seed(-1)  # as PyTorch: the unsigned 64-bit number with the same bits
    assert gpu.seeds == [(1, 2**64 - 1)]
    assert cuda.initial_seed() == 2**64 - 1
    cuda.manual_seed_all(7)
    assert gpu.seeds[1:] == [(0, 7), (1, 7)] and gpu.current == 1
    assert cuda.initial_seed() == 7
    tg.manual_seed(11)  # seeds CuPy too, later: that is now the GPU's seed
    assert cuda.initial_seed() == 11


def test_on_a_gpu_seed_all_draws_one_seed_for_every_gpu(gpu):
    cuda.seed_all()
    (first, a), (second, b) = gpu.seeds
    assert (first, second) == (0, 1) and a == b and 0 <= a < 2**63
    assert cuda.initial_seed() == a


def test_on_a_gpu_memory_statistics_read_cupys_pool(gpu):
    assert cuda.memory_allocated() == 1024
    assert cuda.memory_reserved(1) == 4096
    cuda.empty_cache()
    assert gpu.pool.freed == 1 and gpu.pinned.freed == 1
    with pytest.raises(NotImplementedError, match="max_memory_allocated: CuPy's memory pool"):
        cuda.max_memory_allocated()


def test_on_a_gpu_stream_and_event_are_cupys_with_pytorchs_defaults(gpu):
    assert cuda.Stream(1) == ("stream", 1, {"non_blocking": True})
    assert gpu.current == 0
    assert cuda.Stream(priority=-1) == ("stream", 0, {"non_blocking": True, "priority": -1})
    assert cuda.Event() == ("event", {"block": False, "disable_timing": True,
                                      "interprocess": False})
    assert cuda.Event(enable_timing=True)[1]["disable_timing"] is False
