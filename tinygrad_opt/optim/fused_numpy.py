"""NumPy twins of readable update rules for large parameters, where no compiled twin runs.

Why. On the CPU the readable ``update`` of a large parameter runs over 96 KiB
chunks (``fused.update_in_chunks``), so that its temporaries stay in cache. Each
chunk still pays the rule's Python lines and a fresh temporary for each expression,
and the whole step runs on one core. Here the rule's lines run on the same arrays,
but each expression writes into one of three scratch buffers with ``out=``, so
nothing is allocated. A chunk can then be 512 KiB, a fifth of the Python calls.
The chunks of a parameter of a million elements or more are shared among the
machine's cores: NumPy releases the GIL inside each call, so the threads' loops run
at the same time.

The numbers are the readable rule's, bit for bit: the same operations on the same
dtype in the same order, each element computed alone. tests/optim/test_fused_numpy.py
compares every option step by step. Where that could not hold, the twin hands the step
to the readable rule:
- a non-contiguous parameter or state array;
- a gradient or state array of another dtype or shape;
- a hyperparameter or step count that is not a Python number (a NumPy float64 scalar
  would make NumPy compute in float64).

``fused=None`` picks a twin from here for a CPU group of 65,536 parameters or more
when no compiled twin runs: Numba is not installed, or ``fused.USE_NUMBA`` is False.
docs/benchmarks.md has the timings.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading

from tinygrad_opt import backend
from tinygrad_opt.optim.state import state_arrays

CHUNK_BYTES = 512 * 1024  # per array; a thread's chunk of θ, g, m, v and scratch stays in L3
THREADS = min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count() or 1)  # the calling thread and THREADS - 1 workers
# elements: a smaller parameter runs on the calling thread alone (as fused_cpu.PARALLEL_SIZE;
# a 784 x 512 weight: 0.84 ms on one thread, 0.56 ms on two, on the 2-core VM)
THREADED_MIN_SIZE = 1 << 20

_local = threading.local()  # each thread's scratch buffers, by dtype and length
_pool_lock = threading.Lock()
_pool = _pool_key = None


def adam(readable, theta, g, state: dict, group: dict) -> None:
    """``Adam.update`` (optim/adam.py; AdamW too) with ``out=`` buffers, in chunks (a
    large θ's on every core). ``readable``: the rule to hand the step to where the twin
    cannot run."""
    lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
    weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
    names = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if amsgrad else ())
    if not _same_bits(theta, g, state, names, lr, beta1, beta2, eps, weight_decay):
        return readable(theta, g, state, group)
    xp = backend.xp_of(theta)
    t = state["step"] = state.get("step", 0) + 1               # t ← t + 1
    arrays = state_arrays(state, theta, *names)                 # m, v (v_max) start at 0
    if group["bias_correction"]:
        c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t                 # c1 ← 1 − β1^t,  c2 ← 1 − β2^t
    else:
        c1 = c2 = 1.0
    maximize = group["maximize"]
    decoupled = weight_decay != 0 and group.get("decoupled_weight_decay", False)
    l2 = weight_decay != 0 and not decoupled
    flat = [a.reshape(-1) for a in [theta, g] + arrays]

    def lines(start: int, stop: int, a, b, c) -> None:
        theta, g, m, v, *v_max = (array[start:stop] for array in flat)
        if maximize:
            g = xp.negative(g, out=c)                           # g ← −g
        if decoupled:
            theta *= 1 - lr * weight_decay                      # θ ← θ − γ·λ·θ
        elif l2:
            g = xp.add(g, xp.multiply(weight_decay, theta, out=a), out=c)   # g ← g + λ·θ
        m *= beta1                                              # m ← β1·m + (1−β1)·g
        m += xp.multiply(1 - beta1, g, out=a)
        v *= beta2                                              # v ← β2·v + (1−β2)·g²
        v += xp.multiply(xp.multiply(1 - beta2, g, out=a), g, out=a)
        m_hat = xp.divide(m, c1, out=b)                         # m̂ ← m / c1
        if amsgrad:
            xp.maximum(v_max[0], v, out=v_max[0])               # v_max ← max(v_max, v)
            v_hat = xp.divide(v_max[0], c2, out=a)              # v̂ ← v_max / c2
        else:
            v_hat = xp.divide(v, c2, out=a)                     # v̂ ← v / c2
        lr_m_hat = xp.multiply(lr, m_hat, out=b)                # θ ← θ − γ·m̂ / (√v̂ + ε)
        theta -= xp.divide(lr_m_hat, xp.add(xp.sqrt(v_hat, out=a), eps, out=a), out=b)

    over_chunks(lines, theta)


def _same_bits(theta, g, state: dict, names: tuple, *numbers) -> bool:
    """True where the twin computes what the readable rule computes, bit for bit."""
    if not (theta.dtype.kind == "f" and theta.flags.c_contiguous and g.dtype == theta.dtype
            and g.shape == theta.shape and type(state.get("step", 0)) is int):
        return False
    for name in names:
        if name in state:
            array = state[name]
            if not (backend.is_array(array) and array.shape == theta.shape
                    and array.dtype == theta.dtype and array.flags.c_contiguous):
                return False
    return all(type(number) in (int, float) for number in numbers)


def over_chunks(lines, theta) -> None:
    """Call ``lines(start, stop, a, b, c)`` for consecutive chunks of θ's flattened
    elements, with three scratch buffers of the chunk's length; a large θ's chunks are
    split into one run of consecutive chunks per thread, the first on the calling thread."""
    size = max(1, CHUNK_BYTES // theta.itemsize)
    count = -(-theta.size // size)  # chunks
    threads = max(1, min(THREADS, count)) if theta.size >= THREADED_MIN_SIZE else 1
    bounds = [min(theta.size, count * i // threads * size) for i in range(threads + 1)]
    runs = [(bounds[i], bounds[i + 1]) for i in range(threads)]
    futures = [_workers().submit(_run, lines, theta, start, stop, size)
               for start, stop in runs[1:]]
    try:
        _run(lines, theta, *runs[0], size)
    finally:
        concurrent.futures.wait(futures)  # no worker writes after the step has returned
    for future in futures:
        future.result()  # a worker's error, raised here


def _run(lines, theta, start: int, stop: int, size: int) -> None:
    """``lines`` over the chunks of [start, stop), with this thread's scratch buffers."""
    buffers = _scratch(theta, size)
    for low in range(start, stop, size):
        high = min(low + size, stop)
        lines(low, high, *(buffer[:high - low] for buffer in buffers))


def _scratch(theta, size: int) -> list:
    """This thread's three scratch buffers of ``size`` elements of θ's dtype."""
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    key = (theta.dtype, size)
    if key not in buffers:
        buffers[key] = [backend.xp_of(theta).empty(size, theta.dtype) for _ in range(3)]
    return buffers[key]


def _workers() -> concurrent.futures.ThreadPoolExecutor:
    """The worker threads, made on first use, and again in a forked process (which
    has none of its parent's threads) or after ``THREADS`` changed."""
    global _pool, _pool_key
    with _pool_lock:
        if _pool_key != (os.getpid(), THREADS):
            _pool = concurrent.futures.ThreadPoolExecutor(
                max(1, THREADS - 1), thread_name_prefix="tinygrad_opt-update")
            _pool_key = (os.getpid(), THREADS)
        return _pool


# the readable rules with a twin here, by module and qualified name
TWINS = {"tinygrad_opt.optim.adam.Adam.update": adam}
