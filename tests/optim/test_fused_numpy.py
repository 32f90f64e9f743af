"""The NumPy twin of Adam (optim/fused_numpy.py) against its oracle, the readable rule.

The twin runs Adam's lines with ``out=`` buffers over chunks of a parameter, the chunks
of a large one shared among threads. Here the chunks are made tiny and the thread
threshold zero, so that small parameters run as many ragged chunks on three threads,
and every parameter and state entry must equal the readable rule's (``fused=False``)
bit for bit, step by step. Also: where ``fused=None`` picks the twin, where the twin
hands a step back to the readable rule, and the threads (every element once, errors,
forked processes).
"""

import multiprocessing
import sys
import threading
import time

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import optim
from tinygrad_opt.optim import fused, fused_numpy

from test_chunked import assert_same
from test_fused import run

CASES = [
    (optim.Adam, dict(lr=1e-2)),
    (optim.Adam, dict(lr=1e-2, weight_decay=0.1)),
    (optim.Adam, dict(lr=1e-2, weight_decay=0.1, maximize=True, amsgrad=True)),
    (optim.Adam, dict(lr=1e-2, maximize=True, bias_correction=False)),
    (optim.Adam, dict(lr=3e-2, betas=(0.5, 0.9), eps=1e-3, amsgrad=True)),
    (optim.AdamW, dict(lr=1e-2)),
    (optim.AdamW, dict(lr=1e-2, weight_decay=0.3, amsgrad=True, maximize=True)),
    (optim.Adam, dict(lr=tg.tensor(0.02))),  # a Tensor lr reaches the twin as a number
]
SHAPES = [(37, 29), (3,), (5, 1, 41), (0,), ()]


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Every group takes the NumPy twin (no compiled twin, no size threshold), in chunks of
    40 bytes on three threads; returns the list of (theta.size) per twin call."""
    monkeypatch.setattr(fused, "USE_NUMBA", False)
    monkeypatch.setattr(fused, "COMPILED_MIN_SIZE", 0)
    monkeypatch.setattr(fused_numpy, "CHUNK_BYTES", 40)
    monkeypatch.setattr(fused_numpy, "THREADS", 3)
    monkeypatch.setattr(fused_numpy, "THREADED_MIN_SIZE", 0)
    calls = []
    original = fused_numpy.over_chunks

    def counting(lines, theta):
        calls.append(theta.size)
        return original(lines, theta)
    monkeypatch.setattr(fused_numpy, "over_chunks", counting)
    return calls


@pytest.mark.parametrize("optimizer_class, options", CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(CASES)])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # float16: ε rounds to 0, 0/0 in both
def test_twin_equals_the_readable_rule_bit_for_bit(tiny_chunks, optimizer_class, options,
                                                   dtype):
    readable = run(optimizer_class, options, "cpu", dtype, fused=False, steps=6, shapes=SHAPES)
    assert tiny_chunks == []
    twin = run(optimizer_class, options, "cpu", dtype, fused=None, steps=6, shapes=SHAPES)
    assert tiny_chunks == [37 * 29, 3, 5 * 41, 0, 1] * 6  # every parameter, every step
    assert_same(twin, readable)  # NaNs too (float16's eps is 0) in the same places
    for twin_state, readable_state in zip(twin[1], readable[1]):
        assert list(twin_state) == list(readable_state)  # the same keys in the same order
        assert type(twin_state["step"]) is int and twin_state["step"] == 6


def test_fused_none_picks_the_twin_where_no_compiled_twin_runs(device, monkeypatch):
    monkeypatch.setattr(fused, "USE_NUMBA", False)
    big = fused.COMPILED_MIN_SIZE

    class OwnRule(optim.Adam):  # a subclass's own rule: not Adam.update
        def update(self, theta, g, state, group):
            super().update(theta, g, state, group)

    def chosen(optimizer_class, sizes, **options):
        params = [tg.zeros(size, device=device, requires_grad=True) for size in sizes]
        optimizer = optimizer_class(params, **options)
        twin = fused.twin_of(optimizer, optimizer.param_groups[0], params)
        return getattr(twin, "func", None) is fused_numpy.adam

    on_cpu = device == "cpu"
    assert chosen(optim.Adam, [big]) == on_cpu
    assert chosen(optim.AdamW, [big // 2, big // 2], amsgrad=True) == on_cpu
    assert not chosen(optim.Adam, [big - 1])  # a small group: the readable rule
    assert not chosen(optim.Adam, [big], fused=False)
    assert not chosen(OwnRule, [big])
    assert not chosen(optim.NAdam, [big])  # no twin here for its rule
    instance = optim.Adam([tg.zeros(big, requires_grad=True)])
    instance.update = lambda theta, g, state, group: None  # an instance's own rule
    group = instance.param_groups[0]
    assert fused.twin_of(instance, group, group["params"]) is instance.update
    if on_cpu:
        with pytest.raises(RuntimeError, match="fused=True on 'cpu' needs Numba, and "
                                               "optim.fused.USE_NUMBA is False"):
            chosen(optim.Adam, [big], fused=True)


@pytest.mark.skipif(fused.compiled_cpu() is None, reason="Numba is not installed")
def test_with_numba_the_compiled_twin_comes_first():
    big = fused.COMPILED_MIN_SIZE
    params = [tg.zeros(big, requires_grad=True)]
    optimizer = optim.Adam(params)
    twin = fused.twin_of(optimizer, optimizer.param_groups[0], params)
    assert isinstance(twin, fused.compiled_cpu().GroupTwin)


def _arguments(dtype=np.float32, size=12):
    rng = np.random.default_rng(3)
    theta = rng.standard_normal(size).astype(dtype)
    g = rng.standard_normal(size).astype(dtype)
    group = optim.Adam([tg.zeros(1, requires_grad=True)], amsgrad=True).param_groups[0]
    return theta, g, {}, dict(group)


@pytest.mark.parametrize("change", [
    "theta not contiguous", "int theta", "g float64", "g of another shape", "lr float64",
    "eps float32", "step int64", "exp_avg float64", "exp_avg of another shape",
    "exp_avg not contiguous", "max_exp_avg_sq a list"])
def test_the_twin_hands_the_step_to_the_readable_rule_where_bits_could_differ(change):
    theta, g, state, group = _arguments()
    if change == "theta not contiguous":
        theta, g = theta.reshape(3, 4).T, g.reshape(3, 4).T
    elif change == "int theta":
        theta = theta.astype(np.int64)
        g = g.astype(np.int64)
    elif change == "g float64":
        g = g.astype(np.float64)
    elif change == "g of another shape":
        g = g[:1]
    elif change == "lr float64":
        group["lr"] = np.float64(1e-3)  # NumPy would compute lr·m̂ in float64
    elif change == "eps float32":
        group["eps"] = np.float32(1e-8)
    elif change == "step int64":
        state["step"] = np.int64(4)  # β^t would be a float64 scalar
    else:
        name = "max_exp_avg_sq" if "max" in change else "exp_avg"
        value = np.zeros_like(theta)
        value = {"exp_avg float64": value.astype(np.float64),
                 "exp_avg of another shape": value[:3],
                 "exp_avg not contiguous": np.zeros(24, np.float32)[::2],
                 "max_exp_avg_sq a list": [0.0] * 12}[change]
        state[name] = value
    handed = []
    fused_numpy.adam(lambda *arguments: handed.append(arguments), theta, g, state, group)
    assert len(handed) == 1 and handed[0][0] is theta and handed[0][2] is state


def test_the_twin_runs_itself_on_plain_arguments():
    theta, g, state, group = _arguments()
    expected_theta, expected_state = theta.copy(), {}
    optim.Adam.update(None, expected_theta, g, expected_state, group)
    fused_numpy.adam(lambda *arguments: pytest.fail("handed to the readable rule"),
                     theta, g, state, group)
    np.testing.assert_array_equal(theta, expected_theta)
    assert list(state) == list(expected_state) == ["step", "exp_avg", "exp_avg_sq",
                                                   "max_exp_avg_sq"]


def test_chunks_cover_every_element_once_on_several_threads(monkeypatch):
    monkeypatch.setattr(fused_numpy, "CHUNK_BYTES", 64)  # 16 float32 elements
    monkeypatch.setattr(fused_numpy, "THREADS", 3)
    monkeypatch.setattr(fused_numpy, "THREADED_MIN_SIZE", 100)
    runs = []
    original = fused_numpy._run
    monkeypatch.setattr(fused_numpy, "_run", lambda lines, theta, start, stop, size: (
        runs.append((start, stop)), original(lines, theta, start, stop, size)))
    for size, threads in [(99, 1), (100, 3), (1000, 3), (40, 1), (0, 1)]:
        seen, lock = [], threading.Lock()
        runs.clear()

        def lines(start, stop, a, b, c):
            assert len(a) == len(b) == len(c) == stop - start <= 16
            assert a.dtype == np.float32 and not np.shares_memory(a, b)
            with lock:
                seen.append((start, stop, threading.current_thread().name))

        fused_numpy.over_chunks(lines, np.zeros(size, np.float32))
        covered = sorted(index for start, stop, _ in seen for index in range(start, stop))
        assert covered == list(range(size))
        assert len(runs) == threads and runs[0][0] == 0 and runs[-1][1] == size
        assert all(stop == start for (_, stop), (start, _) in zip(runs, runs[1:]))
        names = {name for *_, name in seen}
        if threads > 1:  # the caller takes the first run, a worker (one or two) the others
            assert threading.current_thread().name in names and len(names) >= 2


def test_a_workers_error_is_raised_after_every_run_has_ended(monkeypatch):
    monkeypatch.setattr(fused_numpy, "CHUNK_BYTES", 64)
    monkeypatch.setattr(fused_numpy, "THREADS", 2)
    monkeypatch.setattr(fused_numpy, "THREADED_MIN_SIZE", 0)
    done = []

    def lines(start, stop, a, b, c):
        if start == 16 * 4:  # the first chunk of the worker's run
            raise ValueError("in a worker")
        done.append(start)

    with pytest.raises(ValueError, match="in a worker"):
        fused_numpy.over_chunks(lines, np.zeros(16 * 8, np.float32))
    assert sorted(done) == [0, 16, 32, 48]  # the caller's run finished; the worker's stopped

    def slow_worker(start, stop, a, b, c):
        if start == 0:
            raise ValueError("in the caller")
        if start >= 16 * 4:
            time.sleep(0.05)
            done.append(start)

    done.clear()
    with pytest.raises(ValueError, match="in the caller"):
        fused_numpy.over_chunks(slow_worker, np.zeros(16 * 8, np.float32))
    assert sorted(done) == [64, 80, 96, 112]  # the worker had finished before the error


def _step_in_child(queue):
    try:
        queue.put(_large_step(fused=None).tolist())
    except BaseException as error:  # noqa: BLE001 (reported to the parent)
        queue.put(repr(error))


def _large_step(fused):
    p = tg.tensor(np.linspace(-1, 1, 3000, dtype=np.float32), requires_grad=True)
    p.grad = tg.tensor(np.cos(np.arange(3000, dtype=np.float32)))
    optimizer = optim.Adam([p], lr=0.1, fused=fused)
    optimizer.step()
    optimizer.step()
    return p.numpy()


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_a_forked_process_makes_its_own_worker_threads(monkeypatch):
    monkeypatch.setattr(fused, "USE_NUMBA", False)
    monkeypatch.setattr(fused, "COMPILED_MIN_SIZE", 0)
    monkeypatch.setattr(fused_numpy, "CHUNK_BYTES", 400)
    monkeypatch.setattr(fused_numpy, "THREADS", 2)
    monkeypatch.setattr(fused_numpy, "THREADED_MIN_SIZE", 0)
    expected = _large_step(fused=False)
    np.testing.assert_array_equal(_large_step(fused=None), expected)  # the parent's workers
    parent_pool = fused_numpy._pool
    assert parent_pool is not None
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_step_in_child, args=(queue,))
    child.start()
    result = queue.get(timeout=60)  # the parent's pool has no threads in the child: no hang
    child.join(timeout=60)
    assert child.exitcode == 0, result
    np.testing.assert_array_equal(np.array(result, np.float32), expected)
    assert fused_numpy._pool is parent_pool
