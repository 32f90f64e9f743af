"""The compiled CPU kernels (optim/fused_cpu.py) against their readable twins.

Each optimizer runs twice on 'cpu' from the same start, once with the readable
``update`` (fused=False) and once with the compiled kernel (fused=True), and
every parameter and state entry must agree step by step: the same state keys,
the same step counters, the same numbers up to float rounding (rtol 1e-6 for
float32, 1e-12 for float64; today they are in fact bit-identical, since the
kernels repeat the rule's operations in its order and its dtype). Also: one
compiled call per group, what fused=None chooses, the error without Numba,
resuming from a state dict, and safety with threads and forked processes.

Tests that run a kernel skip when Numba is not installed (``pip install
"tinygrad_opt[fast]"``); the first run on a machine compiles every kernel
for float32 and float64 (about a minute on 2 cores), later runs load them
from Numba's disk cache.
"""

import copy
import multiprocessing
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import optim
from tinygrad_opt.optim import fused

from test_fused import CASES, run  # the GPU kernels' option table and step loop

needs_numba = pytest.mark.skipif(
    fused.compiled_cpu() is None,
    reason='Numba is not installed: pip install "tinygrad_opt[fast]" to test the compiled kernels')

MORE_CASES = [  # options the GPU table leaves out
    (optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True, maximize=True)),
    (optim.Adam, dict(lr=1e-2, bias_correction=False)),
    (optim.AdamW, dict(lr=1e-2, amsgrad=True, maximize=True, bias_correction=False)),
    (optim.Adagrad, dict(lr=0.1, maximize=True)),
    (optim.RMSprop, dict(lr=1e-2, alpha=0.9, momentum=0.5, weight_decay=0.01)),
    (optim.Adadelta, dict(lr=0.5, rho=0.8, maximize=True)),
    (optim.NAdam, dict(lr=1e-2, momentum_decay=1e-2, maximize=True)),
]
ALL_CASES = CASES + MORE_CASES
IDS = [f"{c.__name__}-{i}" for i, (c, _) in enumerate(ALL_CASES)]
# A tensor of several blocks (the last one ragged), an empty one, small ones.
SHAPES = [(7, 5), (5,), (3, 1, 2), (40_000,), (0,)]
TOLERANCE = {"float32": dict(rtol=1e-6, atol=1e-7), "float64": dict(rtol=1e-12, atol=1e-14)}


def assert_same_run(ours, theirs, dtype):
    """Parameters and state of two runs agree: keys and counters exactly, arrays to rounding."""
    (our_params, our_states), (their_params, their_states) = ours, theirs
    for mine, reference in zip(our_params, their_params):
        assert mine.dtype == reference.dtype
        np.testing.assert_allclose(mine, reference, **TOLERANCE[dtype])
    for mine, reference in zip(our_states, their_states):
        assert list(mine) == list(reference)  # the same keys, made in the same order
        for key in mine:
            if key == "step":
                assert type(mine[key]) is int and mine[key] == reference[key]
            else:
                np.testing.assert_allclose(mine[key], reference[key], **TOLERANCE[dtype],
                                           err_msg=key)


def launches(monkeypatch):
    """A list that records the kernel of every compiled call from now on."""
    fused_cpu = fused.compiled_cpu()
    calls = []
    original = fused_cpu._launch

    def counting_launch(kernel, *args):
        calls.append(kernel)
        return original(kernel, *args)
    monkeypatch.setattr(fused_cpu, "_launch", counting_launch)
    return calls


@needs_numba
@pytest.mark.parametrize("optimizer_class, options", ALL_CASES, ids=IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_kernel_matches_the_readable_update(monkeypatch, optimizer_class, options,
                                                     dtype):
    readable = run(optimizer_class, options, "cpu", dtype, fused=False, steps=12, shapes=SHAPES)
    calls = launches(monkeypatch)
    compiled = run(optimizer_class, options, "cpu", dtype, fused=True, steps=12, shapes=SHAPES)
    assert len(calls) == 12  # the kernel ran, once per step for the five tensors
    assert_same_run(compiled, readable, dtype)


def run_groups(optimizer_class, fused_option, dtype, steps=8):
    """Two parameter groups with different hyperparameters; the first tensor gets a
    gradient every other step only, so its step count differs from its group's others."""
    rng = np.random.default_rng(1)
    params = [tg.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=True)
              for shape in [(20_000,), (4, 3), (6,), (2, 5)]]
    second = dict(lr=0.003, weight_decay=0.02)
    if optimizer_class is optim.SGD:
        second.update(momentum=0.5)
    optimizer = optimizer_class([{"params": params[:2]}, {"params": params[2:], **second}],
                                fused=fused_option)
    for step in range(steps):
        for number, p in enumerate(params):
            has_grad = number != 0 or step % 2 == 0
            p.grad = tg.tensor(rng.standard_normal(p.shape), dtype=dtype) if has_grad else None
        optimizer.step()
    states = [dict(optimizer.state[p]) for p in params]
    return [p.numpy() for p in params], states


@needs_numba
@pytest.mark.parametrize("optimizer_class", [optim.SGD, optim.Adam, optim.AdamW, optim.Adagrad,
                                             optim.RMSprop, optim.Adadelta, optim.NAdam])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_two_groups_and_uneven_step_counts(monkeypatch, optimizer_class, dtype):
    readable = run_groups(optimizer_class, False, dtype)
    calls = launches(monkeypatch)
    compiled = run_groups(optimizer_class, True, dtype)
    assert_same_run(compiled, readable, dtype)
    assert len(calls) == 8 * 2  # one compiled call per group per step
    if "step" in compiled[1][0]:
        assert [state["step"] for state in compiled[1]] == [4, 8, 8, 8]


@needs_numba
@pytest.mark.parametrize("optimizer_class, options", ALL_CASES, ids=IDS)
def test_resume_from_a_state_dict(optimizer_class, options):
    """Compiled for 4 steps, saved, loaded into a new optimizer, 4 more steps: the
    readable rule's 8 uninterrupted steps. Resuming the readable rule's state
    with the kernel gives them too (the state is the same dict)."""
    rng = np.random.default_rng(2)
    start = [rng.standard_normal(shape).astype("float32") for shape in [(30_000,), (3, 4)]]
    grads = [[rng.standard_normal(x.shape).astype("float32") for x in start] for _ in range(8)]

    def steps(optimizer, params, which):
        for step in which:
            for p, grad in zip(params, grads[step]):
                p.grad = tg.tensor(grad)
            optimizer.step()

    def fresh(values, fused_option):
        params = [tg.tensor(value.copy(), requires_grad=True) for value in values]
        return params, optimizer_class(params, fused=fused_option, **options)

    whole_params, whole = fresh(start, False)
    steps(whole, whole_params, range(8))
    for first_fused in (True, False):
        params, optimizer = fresh(start, first_fused)
        steps(optimizer, params, range(4))
        saved = copy.deepcopy(optimizer.state_dict())
        params, resumed = fresh([p.numpy() for p in params], True)
        resumed.load_state_dict(saved)
        steps(resumed, params, range(4, 8))
        assert_same_run(([p.numpy() for p in params], [resumed.state[p] for p in params]),
                        ([p.numpy() for p in whole_params], [whole.state[p] for p in whole_params]),
                        "float32")


@needs_numba
def test_one_compiled_call_for_many_tensors(monkeypatch):
    calls = launches(monkeypatch)
    params = [tg.zeros(1000, requires_grad=True) for _ in range(100)]
    optimizer = optim.Adam(params, lr=0.1)  # fused=None, 100k parameters: compiled on 'cpu'
    for _ in range(3):
        for p in params:
            p.grad = tg.ones(1000)
        optimizer.step()
    assert len(calls) == 3
    assert all(p._version == 3 for p in params)  # every parameter's version still bumped
    np.testing.assert_allclose(params[99].numpy(), -0.3, rtol=1e-6)  # Adam: steps of lr


@needs_numba
def test_replaced_arrays_are_updated_not_the_old_ones():
    """The typed lists of θ and the state are kept between steps: a replaced ``p.data``
    or state array must be seen at the next step."""
    results = []
    for fused_option in (False, True):
        p = tg.tensor(np.linspace(-1, 1, 100), requires_grad=True)
        optimizer = optim.Adam([p], lr=0.1, amsgrad=True, fused=fused_option)
        for step in range(6):
            if step == 2:
                p.data = p.data * 0.5                          # a new array
            if step == 4:
                state = optimizer.state[p]
                state["exp_avg"] = state["exp_avg"].copy()     # a new state array
            p.grad = tg.tensor(np.cos(np.arange(100.0) + step))
            optimizer.step()
        results.append((p.numpy(), optimizer.state[p]["exp_avg"]))
    (readable, readable_m), (compiled, compiled_m) = results
    np.testing.assert_allclose(compiled, readable, rtol=1e-12)
    np.testing.assert_allclose(compiled_m, readable_m, rtol=1e-12)


@needs_numba
def test_small_groups_run_on_one_thread(monkeypatch):
    import numba
    threads = numba.get_num_threads()
    settings = []
    original = numba.set_num_threads

    def recording(count):
        settings.append(count)
        original(count)
    monkeypatch.setattr(numba, "set_num_threads", recording)
    for size, expected in [(1000, [1, threads]), (fused.compiled_cpu().PARALLEL_SIZE, [threads])]:
        settings.clear()
        p = tg.zeros(size, requires_grad=True)
        p.grad = tg.ones(size)
        optim.SGD([p], lr=0.1, fused=True).step()
        assert settings == expected, size  # one thread for the small group, then restored
        assert numba.get_num_threads() == threads


@needs_numba
def test_mixed_dtypes_and_strided_parameters_in_one_group(monkeypatch):
    """One call per dtype; a parameter the kernels cannot take in place (a transposed
    view) is updated by the readable rule; all numbers as the readable rule's."""
    def make():
        rng = np.random.default_rng(3)
        transposed = tg.tensor(rng.standard_normal((40, 30)), dtype="float32", requires_grad=True)
        transposed.data = transposed.data.T
        return [tg.tensor(rng.standard_normal((50,)), dtype="float32", requires_grad=True),
                tg.tensor(rng.standard_normal((50,)), dtype="float64", requires_grad=True),
                transposed]

    results = []
    for fused_option in (False, True):
        params = make()
        optimizer = optim.RMSprop(params, lr=0.01, momentum=0.9, fused=fused_option)
        calls = launches(monkeypatch)
        for step in range(5):
            for p in params:
                p.grad = tg.tensor(np.cos(np.arange(p.data.size) + step).reshape(p.shape),
                                   dtype=p.dtype)
            optimizer.step()
        results.append(([p.numpy() for p in params], calls))
    (readable, _), (compiled, calls) = results
    assert len(calls) == 5 * 2  # float32 and float64 parameters: a call each per step
    for ours, theirs in zip(compiled, readable):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


@needs_numba
def test_what_fused_none_chooses(device, monkeypatch):
    # The compiled kernel on 'cpu' for a group of COMPILED_MIN_SIZE parameters or more; a
    # smaller group, 'strict' and fused=False keep the readable rule (fused=True: always).
    calls = launches(monkeypatch)
    big = fused.COMPILED_MIN_SIZE
    for fused_option, sizes, kernels_run in [
            (None, [big], device == "cpu"), (None, [big // 2, big // 2], device == "cpu"),
            (None, [big - 1], False), (False, [big], False), (True, [10], device == "cpu")]:
        if fused_option is True and device != "cpu":
            continue  # an error on 'strict': test_fused.py
        calls.clear()
        params = [tg.zeros(size, device=device, requires_grad=True) for size in sizes]
        optimizer = optim.SGD(params, lr=0.1, momentum=0.9, fused=fused_option)
        for p in params:
            p.grad = tg.ones(p.shape[0], device=device)
        optimizer.step()
        assert bool(calls) == kernels_run, (device, fused_option, sizes)
        for p in params:
            np.testing.assert_allclose(p.numpy(), -0.1, rtol=1e-6)


@needs_numba
def test_rules_without_a_compiled_kernel():
    class NormalizedSGD(optim.SGD):  # a rule of one's own: its update is not SGD's
        def update(self, theta, g, state, group):
            theta -= group["lr"] * g / (g * g).sum() ** 0.5

    p = tg.ones(4, requires_grad=True)
    p.grad = tg.ones(4)
    NormalizedSGD([p], lr=0.1).step()  # fused=None: the subclass's own rule
    np.testing.assert_allclose(p.numpy(), 0.95)
    with pytest.raises(RuntimeError, match="fused=True has no fused kernel for .*NormalizedSGD"):
        NormalizedSGD([p], lr=0.1, fused=True).step()
    # SGD's lecture-notes form of momentum has no kernel either
    notes = optim.SGD([{"params": [p], "momentum_form": "notes", "fused": True}], lr=0.1,
                      momentum=0.9)
    with pytest.raises(RuntimeError, match="no compiled CPU kernel for SGD.update"):
        notes.step()
    notes.param_groups[0]["fused"] = None
    notes.step()  # the readable rule
    assert "velocity" in notes.state[p]


def test_dispatch_on_cuda_picks_the_gpu_kernels():
    """twin_of's 'cuda' branch, checked without a GPU: only the parameters' device is read."""
    class OnCuda:
        device = "cuda"

    class NormalizedSGD(optim.SGD):
        def update(self, theta, g, state, group):
            theta -= group["lr"] * g / (g * g).sum() ** 0.5

    for optimizer_class in [optim.SGD, optim.Adam, optim.AdamW, optim.Adagrad, optim.RMSprop,
                            optim.Adadelta, optim.NAdam, NormalizedSGD]:
        kernel = fused.GPU_KERNELS.get(optimizer_class.update.__qualname__)
        for fused_option in (None, True, False):
            optimizer = optimizer_class([tg.zeros(3, requires_grad=True)], fused=fused_option)
            group = optimizer.param_groups[0]
            if fused_option is True and kernel is None:
                with pytest.raises(RuntimeError, match="fused=True has no fused kernel"):
                    fused.twin_of(optimizer, group, [OnCuda()])
                continue
            twin = fused.twin_of(optimizer, group, [OnCuda()])
            expected = optimizer.update if fused_option is False or kernel is None else kernel
            assert twin == expected, (optimizer_class.__name__, fused_option)


@pytest.fixture
def without_numba(monkeypatch):
    """As if Numba were not installed: ``import numba`` raises ImportError."""
    monkeypatch.setitem(sys.modules, "numba", None)
    fused.compiled_cpu.cache_clear()
    yield
    fused.compiled_cpu.cache_clear()


@pytest.mark.parametrize("optimizer_class, options", CASES[:1] + CASES[4:5],
                         ids=["SGD", "Adam"])
def test_without_numba_fused_true_says_what_to_install(without_numba, optimizer_class, options):
    assert fused.compiled_cpu() is None
    with pytest.raises(RuntimeError, match=r"fused=True on 'cpu' needs Numba: "
                                           r'pip install "tinygrad_opt\[fast\]"'):
        run(optimizer_class, options, "cpu", "float32", fused=True, steps=1)
    readable = run(optimizer_class, options, "cpu", "float32", fused=False, steps=3)
    default = run(optimizer_class, options, "cpu", "float32", fused=None, steps=3)
    for ours, theirs in zip(default[0], readable[0]):
        np.testing.assert_array_equal(ours, theirs)  # fused=None, a small group: the readable rule


@needs_numba
def test_every_kernel_is_cached_on_disk():
    fused_cpu = fused.compiled_cpu()
    for name in ["sgd", "adam", "adagrad", "rmsprop", "adadelta", "nadam"]:
        kernel = getattr(fused_cpu, f"{name}_kernel")
        assert type(kernel._cache).__name__ != "NullCache", name  # numba.njit(cache=True)


def train_a_little(fused_option=None):
    """Three Adam steps on two tensors (a top-level function, so a worker process can run it);
    fused=None: compiled, the group having more than COMPILED_MIN_SIZE parameters."""
    params = [tg.tensor(np.linspace(-1, 1, 70_000), dtype="float32", requires_grad=True),
              tg.tensor(np.ones((3, 3)), dtype="float32", requires_grad=True)]
    optimizer = optim.Adam(params, lr=0.01, fused=fused_option)
    for step in range(3):
        for p in params:
            p.grad = tg.tensor(np.sin(p.numpy() + step), dtype="float32")
        optimizer.step()
    return [p.numpy() for p in params]


@needs_numba
def test_a_forked_worker_after_compiled_steps_still_trains():
    # Once the parent has run a kernel, Numba's default threading layer on Linux (GNU
    # OpenMP) kills a forked child that launches one; such a child runs the readable rule.
    expected = train_a_little(fused_option=False)
    train_a_little(fused_option=True)  # the parent runs the kernels
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        in_child = pool.submit(train_a_little).result(timeout=300)  # as tinygrad_opt.tune's trials
    for ours, theirs in zip(in_child, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@needs_numba
def test_kernels_launched_from_several_threads_at_once():
    # Numba's 'workqueue' threading layer aborts the process on concurrent launches:
    # the kernels launch under a lock. (The twin is called directly: Optimizer.step
    # itself is not thread safe, its no_grad flag being one per process.)
    expected = train_a_little(fused_option=False)
    fused_cpu = fused.compiled_cpu()
    group = optim.Adam([tg.zeros(1, requires_grad=True)], lr=0.01).param_groups[0]
    results = [None] * 4

    def worker(number):
        thetas = [np.linspace(-1, 1, 70_000).astype("float32"), np.ones((3, 3), "float32")]
        states = [{}, {}]
        for step in range(3):
            fused_cpu.adam(thetas, [np.sin(theta + step) for theta in thetas], states, group,
                           fused_cpu.ListCache())
        results[number] = thetas
    threads = [threading.Thread(target=worker, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        for ours, theirs in zip(result, expected):
            np.testing.assert_allclose(ours, theirs, rtol=1e-6)
