"""Compiled one-pass CPU twins of the optimizers' readable update rules (the ``fast`` extra).

Why. The readable ``update`` is one NumPy expression per math line, and each
expression is a pass over memory: Adam reads and writes its arrays about fifteen
times a step, so a large parameter costs several times what the memory bus
allows. Here each rule is one loop, compiled by Numba, that reads θ, g and the
state once and writes θ and the state once (Adam: 28 bytes per float32
parameter instead of about 100), split into blocks that run on all cores
(``prange``). docs/optimizers.md has the arithmetic and the measured numbers.

How it is called. ``optim/fused.py: twin_of`` returns a :class:`GroupTwin` for
a parameter group on 'cpu' (``fused=None`` with Numba installed, or
``fused=True``). ``Optimizer.step`` hands it the group's parameters one by one,
as it would hand them to ``update``; the twin gathers them and, with the last,
updates the whole group in one compiled call: a model of 100 tensors is one
call, not 100 Python calls.

Each kernel below is the twin of one ``update``: the host part creates the same
state as the readable rule, with the same set-up (``state_arrays`` of
optim/state.py: PyTorch's key names in the rule's order, arrays of the
parameter's shape and dtype, Python int ``'step'``), and computes the same
Python-side scalars (bias corrections, learning-rate decay, ``1 − β1``); the
compiled loop repeats the readable rule's math lines in the same order, the
math as comments. Scalars are cast to the
parameters' dtype, as NumPy casts a Python float, so float32 parameters get
float32 arithmetic and the numbers equal the readable rule's up to rounding
(tests/optim/test_fused_cpu.py compares them step by step).

Compile cost. Each kernel compiles on its first call for each dtype (float32,
float64): one to two seconds each on a 2-core machine, once per machine, because
``cache=True`` stores the machine code on disk (``__pycache__`` beside this file,
or Numba's user cache directory when that is read-only). A later process pays
about 0.7 s at its first compiled step (importing Numba, loading the kernel)
and about 0.2 s for each further kernel or dtype. ``tinygrad-opt bench --only
fused`` prints the first step's time both ways.

Threads and processes. Numba's default threading layers are not safe
everywhere: GNU OpenMP ('omp') cannot be used in a process forked after it
started, and 'workqueue' aborts if two Python threads launch kernels at once.
So kernels launch under one lock, and a process forked from one that had
started OpenMP (e.g. a ``ProcessPoolExecutor`` trial of ``tinygrad_opt.tune``
after a training step in the parent) runs the readable rules instead
(:func:`launch_refused`). Idle threads wait passively (:func:`_start_threads`),
and a group of fewer than a million parameters runs on one thread
(:func:`_launch`).
"""

from __future__ import annotations

import functools
import os
import threading

import numba
import numpy as np
from numba import prange
from numba.typed import List

from tinygrad_opt.optim.state import state_arrays

BLOCK = 16_384  # elements per unit of parallel work: a block never spans two tensors
PARALLEL_SIZE = 1 << 20  # a group of fewer parameters runs on one thread
DTYPES = (np.float32, np.float64)

_launch_lock = threading.Lock()  # one launch at a time: the 'workqueue' layer is not thread safe
_forked_after_openmp = False


def _after_fork_in_child() -> None:
    global _forked_after_openmp
    try:
        layer = numba.threading_layer()  # ValueError: the parent had started no threads
    except ValueError:
        return
    _forked_after_openmp = _forked_after_openmp or layer == "omp"


os.register_at_fork(after_in_child=_after_fork_in_child)


def _start_threads() -> None:
    """Start Numba's threads, waiting passively unless the user chose an OMP_WAIT_POLICY.

    GNU OpenMP's default keeps an idle worker spinning for milliseconds after each
    parallel kernel; on a small machine that core is taken from the rest of the
    training step (the MLP step's NumPy work ran 60% slower beside it on 2 cores).
    The variable is set only while the threading layer loads, which is when GNU
    OpenMP reads it; other layers ignore it."""
    if "OMP_WAIT_POLICY" in os.environ:
        numba.get_num_threads()  # loads the threading layer
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        numba.get_num_threads()
    finally:
        del os.environ["OMP_WAIT_POLICY"]


_start_threads()


def launch_refused() -> str | None:
    """Why the compiled kernels cannot run in this process, or None if they can."""
    if _forked_after_openmp:
        return ("this process was forked from one that had started GNU OpenMP (Numba's 'omp' "
                "threading layer), which cannot run after a fork; start worker processes with "
                "'spawn' or 'forkserver', or `pip install tbb` for Numba's fork-safe layer")
    return None


def _compiled(kernel):
    """``kernel`` compiled by Numba: blocks in parallel (``prange``), machine code cached on
    disk, NumPy's semantics for x/0 (inf or nan, no exception; also what lets loops
    vectorize), no fast-math (IEEE rounding, operations in the written order, as NumPy)."""
    return numba.njit(parallel=True, cache=True, error_model="numpy")(kernel)


def _launch(kernel, blocks, *args) -> None:
    """Run ``kernel(blocks, *args)``, one launch at a time. A group of fewer than
    PARALLEL_SIZE parameters runs on one thread: waking the others would cost more than
    they save (some microseconds when the cores are idle, milliseconds when they are busy)."""
    with _launch_lock:
        threads = numba.get_num_threads()
        if (blocks[:, 2] - blocks[:, 1]).sum() < PARALLEL_SIZE:
            numba.set_num_threads(1)
        try:
            kernel(blocks, *args)
        finally:
            numba.set_num_threads(threads)


# --- gathering a group, and the arrays a kernel takes ---

class GroupTwin:
    """The compiled twin of one parameter group's ``update``, called like ``update``.

    It gathers ``(θ, g, state)`` for each of the group's ``count`` parameters and,
    when the last arrives, runs ``kernel(thetas, gs, states, group, lists)`` once
    per dtype in the group. A parameter the kernels cannot take (not a C-contiguous,
    writable float32/float64 NumPy array, or state arrays of another layout) is
    updated at once by ``fallback``, the readable rule.
    """

    def __init__(self, kernel, fallback, count: int, lists: dict):
        self.kernel, self.fallback, self.count = kernel, fallback, count
        self.lists = lists  # dtype -> ListCache, kept by the optimizer from step to step
        self.seen = 0
        self.gathered: dict = {}  # dtype -> [(theta, g, state), ...]

    def __call__(self, theta, g, state: dict, group: dict) -> None:
        if fits(theta, g, state):
            self.gathered.setdefault(theta.dtype, []).append((theta, g, state))
        else:
            self.fallback(theta, g, state, group)
        self.seen += 1
        if self.seen == self.count:
            for dtype, items in self.gathered.items():
                thetas, gs, states = (list(column) for column in zip(*items))
                self.kernel(thetas, gs, states, group, self.lists.setdefault(dtype, ListCache()))


def _plain(array, dtype) -> bool:
    return (type(array) is np.ndarray and array.dtype == dtype and array.flags.c_contiguous
            and array.flags.writeable)


def fits(theta, g, state: dict) -> bool:
    """Whether a compiled kernel can update this parameter in place."""
    if not (_plain(theta, theta.dtype) and theta.dtype in DTYPES):
        return False
    if type(g) is not np.ndarray or g.dtype != theta.dtype or g.shape != theta.shape:
        return False
    return all(_plain(value, theta.dtype) and value.shape == theta.shape
               for value in state.values() if isinstance(value, np.ndarray))


def _flat(arrays) -> List:
    """A Numba typed list of 1-D views of the arrays (read-only or strided ones copied,
    which only ever happens to gradients: θ and the state are checked by :func:`fits`)."""
    return List([np.require(a, requirements="CW").reshape(-1) for a in arrays])


class ListCache:
    """The typed lists of a group's θ and state arrays, kept from step to step: building
    one costs about 16 µs + 1.2 µs per tensor. ``lists(name, arrays)`` rebuilds the list
    ``name`` when any of its arrays is a new object (``p.data`` replaced, a state loaded)."""

    def __init__(self):
        self.entries: dict = {}  # name -> (the arrays, their typed list)

    def __call__(self, name: str, arrays) -> List:
        arrays = list(arrays)
        kept = self.entries.get(name)
        if kept is not None and len(kept[0]) == len(arrays) and all(
                new is old for new, old in zip(arrays, kept[0])):
            return kept[1]
        typed = _flat(arrays)
        self.entries[name] = (arrays, typed)
        return typed

    def state(self, key: str, states) -> List:
        """The typed list of ``state[key]`` over the group's parameters."""
        return self(key, (state[key] for state in states))


def _per_tensor(values, thetas):
    """One scalar per tensor, in the parameters' dtype (as NumPy casts a Python float)."""
    return np.array(values, dtype=thetas[0].dtype)


@functools.lru_cache(maxsize=64)
def _block_table(sizes: tuple) -> np.ndarray:
    """Rows (tensor k, start, stop) cutting every tensor into blocks of at most BLOCK."""
    rows = [(k, start, min(start + BLOCK, size))
            for k, size in enumerate(sizes) for start in range(0, size, BLOCK)]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def _blocks(thetas) -> np.ndarray:
    return _block_table(tuple(theta.size for theta in thetas))


# --- SGD ---

@_compiled
def sgd_kernel(blocks, thetas, gs, bs, first, lr, momentum, one_minus_dampening,
               weight_decay, maximize, nesterov):
    """SGD.update over blocks of a group's tensors (bs: the momentum buffers, when μ ≠ 0)."""
    for block in prange(len(blocks)):
        k, start, stop = blocks[block, 0], blocks[block, 1], blocks[block, 2]
        theta, grad, b = thetas[k][start:stop], gs[k][start:stop], bs[k][start:stop]
        for i in range(stop - start):  # from 0: no negative-index checks, so it vectorizes
            g = grad[i]
            if maximize:
                g = -g                                           # g ← −g
            if weight_decay != 0:
                g = g + weight_decay * theta[i]                  # g ← g + λ·θ
            if momentum != 0:
                if first[k]:
                    b[i] = g                                     # b ← g              (first step)
                else:
                    b[i] = momentum * b[i] + one_minus_dampening * g   # b ← μ·b + (1−τ)·g
                if nesterov:
                    g = g + momentum * b[i]                      # g ← g + μ·b
                else:
                    g = b[i]                                     # g ← b
            theta[i] -= lr * g                                   # θ ← θ − γ·g


def sgd(thetas, gs, states, group, lists: ListCache) -> None:
    """Compiled twin of ``SGD.update`` for a group's parameters of one dtype."""
    T = thetas[0].dtype.type
    momentum = group["momentum"]
    first = np.array([momentum != 0 and "momentum_buffer" not in state for state in states])
    for theta, state, is_first in zip(thetas, states, first):
        if is_first:
            state["momentum_buffer"] = np.empty_like(theta)     # written as b ← g in the kernel
    buffers = [state["momentum_buffer"] for state in states] if momentum != 0 else thetas
    _launch(sgd_kernel, _blocks(thetas), lists("theta", thetas), _flat(gs),
            lists("momentum_buffer", buffers), first,
            T(group["lr"]), T(momentum), T(1 - group["dampening"]), T(group["weight_decay"]),
            group["maximize"], group["nesterov"])


# --- Adam and AdamW ---

@_compiled
def adam_kernel(blocks, thetas, gs, ms, vs, v_maxs, c1, c2,
                lr, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay,
                one_minus_lr_weight_decay, maximize, decoupled, amsgrad):
    """Adam.update over blocks of a group's tensors (v_maxs: used with amsgrad only)."""
    for block in prange(len(blocks)):
        k, start, stop = blocks[block, 0], blocks[block, 1], blocks[block, 2]
        theta, grad = thetas[k][start:stop], gs[k][start:stop]
        m, v, v_max = ms[k][start:stop], vs[k][start:stop], v_maxs[k][start:stop]
        for i in range(stop - start):
            g = grad[i]
            if maximize:
                g = -g                                           # g ← −g
            if weight_decay != 0 and decoupled:
                theta[i] *= one_minus_lr_weight_decay            # θ ← θ − γ·λ·θ
            elif weight_decay != 0:
                g = g + weight_decay * theta[i]                  # g ← g + λ·θ
            m[i] = beta1 * m[i] + one_minus_beta1 * g            # m ← β1·m + (1−β1)·g
            v[i] = beta2 * v[i] + one_minus_beta2 * g * g        # v ← β2·v + (1−β2)·g²
            m_hat = m[i] / c1[k]                                 # m̂ ← m / c1
            if amsgrad:
                v_max[i] = np.maximum(v_max[i], v[i])            # v_max ← max(v_max, v)
                v_hat = v_max[i] / c2[k]                         # v̂ ← v_max / c2
            else:
                v_hat = v[i] / c2[k]                             # v̂ ← v / c2
            theta[i] -= lr * m_hat / (np.sqrt(v_hat) + eps)      # θ ← θ − γ·m̂ / (√v̂ + ε)


def _adam_scalars(group, T) -> tuple:
    """The arguments Adam's and NAdam's kernels share, in their order: γ, β1, 1 − β1, β2,
    1 − β2, ε, λ, 1 − γ·λ (as T), maximize, decoupled."""
    lr, weight_decay = group["lr"], group["weight_decay"]
    beta1, beta2 = group["betas"]
    return (T(lr), T(beta1), T(1 - beta1), T(beta2), T(1 - beta2), T(group["eps"]),
            T(weight_decay), T(1 - lr * weight_decay), group["maximize"],
            group["decoupled_weight_decay"])


def adam(thetas, gs, states, group, lists: ListCache) -> None:
    """Compiled twin of ``Adam.update`` (so of AdamW) for a group's parameters of one dtype."""
    T = thetas[0].dtype.type
    beta1, beta2 = group["betas"]
    for theta, state in zip(thetas, states):
        state["step"] = state.get("step", 0) + 1               # t ← t + 1
        state_arrays(state, theta, "exp_avg", "exp_avg_sq")    # m, v start at 0
        if group["amsgrad"]:
            state_arrays(state, theta, "max_exp_avg_sq")       # v_max starts at 0
    steps = [state["step"] for state in states]
    corrected = group.get("bias_correction", True)               # False: c1 = c2 = 1 (the notes)
    v_maxs = [state["max_exp_avg_sq"] for state in states] if group["amsgrad"] else thetas
    _launch(adam_kernel, _blocks(thetas), lists("theta", thetas), _flat(gs),
            lists.state("exp_avg", states),
            lists.state("exp_avg_sq", states),
            lists("max_exp_avg_sq", v_maxs),
            _per_tensor([1 - beta1 ** t if corrected else 1.0 for t in steps], thetas),  # c1
            _per_tensor([1 - beta2 ** t if corrected else 1.0 for t in steps], thetas),  # c2
            *_adam_scalars(group, T), group["amsgrad"])


# --- Adagrad ---

@_compiled
def adagrad_kernel(blocks, thetas, gs, sums, lr_t, eps, weight_decay, maximize):
    """Adagrad.update over blocks of a group's tensors."""
    for block in prange(len(blocks)):
        k, start, stop = blocks[block, 0], blocks[block, 1], blocks[block, 2]
        theta, grad, s = thetas[k][start:stop], gs[k][start:stop], sums[k][start:stop]
        for i in range(stop - start):
            g = grad[i]
            if maximize:
                g = -g                                           # g ← −g
            if weight_decay != 0:
                g = g + weight_decay * theta[i]                  # g ← g + λ·θ
            s[i] += g * g                                        # s ← s + g²
            theta[i] -= lr_t[k] * g / (np.sqrt(s[i]) + eps)      # θ ← θ − γ̃·g / (√s + ε)


def adagrad(thetas, gs, states, group, lists: ListCache) -> None:
    """Compiled twin of ``Adagrad.update`` for a group's parameters of one dtype."""
    T = thetas[0].dtype.type
    for theta, state in zip(thetas, states):
        state["step"] = state.get("step", 0) + 1               # t ← t + 1
        if "sum" not in state:
            state["sum"] = np.full_like(theta, group["initial_accumulator_value"])
    lr_t = [group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])   # γ̃ ← γ / (1 + (t−1)·η)
            for state in states]
    _launch(adagrad_kernel, _blocks(thetas), lists("theta", thetas), _flat(gs),
            lists.state("sum", states), _per_tensor(lr_t, thetas),
            T(group["eps"]),
            T(group["weight_decay"]), group["maximize"])


# --- RMSprop ---

@_compiled
def rmsprop_kernel(blocks, thetas, gs, vs, g_avgs, bs, lr, alpha, one_minus_alpha, eps,
                   weight_decay, momentum, maximize, centered):
    """RMSprop.update over blocks (g_avgs: used if centered; bs: if μ > 0)."""
    for block in prange(len(blocks)):
        k, start, stop = blocks[block, 0], blocks[block, 1], blocks[block, 2]
        theta, grad, v = thetas[k][start:stop], gs[k][start:stop], vs[k][start:stop]
        g_avg, b = g_avgs[k][start:stop], bs[k][start:stop]
        for i in range(stop - start):
            g = grad[i]
            if maximize:
                g = -g                                           # g ← −g
            if weight_decay != 0:
                g = g + weight_decay * theta[i]                  # g ← g + λ·θ
            v[i] = alpha * v[i] + one_minus_alpha * g * g        # v ← α·v + (1−α)·g²
            v_tilde = v[i]                                       # ṽ ← v
            if centered:
                g_avg[i] = alpha * g_avg[i] + one_minus_alpha * g   # ḡ ← α·ḡ + (1−α)·g
                v_tilde = v[i] - g_avg[i] * g_avg[i]             # ṽ ← v − ḡ²
            if momentum > 0:
                b[i] = momentum * b[i] + g / (np.sqrt(v_tilde) + eps)   # b ← μ·b + g / (√ṽ + ε)
                theta[i] -= lr * b[i]                            # θ ← θ − γ·b
            else:
                theta[i] -= lr * g / (np.sqrt(v_tilde) + eps)    # θ ← θ − γ·g / (√ṽ + ε)


def rmsprop(thetas, gs, states, group, lists: ListCache) -> None:
    """Compiled twin of ``RMSprop.update`` for a group's parameters of one dtype."""
    T = thetas[0].dtype.type
    momentum, centered = group["momentum"], group["centered"]
    names = ["square_avg"] + (["grad_avg"] if centered else []) + \
        (["momentum_buffer"] if momentum > 0 else [])
    for theta, state in zip(thetas, states):
        state["step"] = state.get("step", 0) + 1               # t ← t + 1  (PyTorch's count)
        state_arrays(state, theta, *names)                     # v, ḡ, b start at 0
    g_avgs = [state["grad_avg"] for state in states] if centered else thetas
    buffers = [state["momentum_buffer"] for state in states] if momentum > 0 else thetas
    _launch(rmsprop_kernel, _blocks(thetas), lists("theta", thetas), _flat(gs),
            lists.state("square_avg", states),
            lists("grad_avg", g_avgs), lists("momentum_buffer", buffers),
            T(group["lr"]), T(group["alpha"]),
            T(1 - group["alpha"]), T(group["eps"]), T(group["weight_decay"]), T(momentum),
            group["maximize"], centered)


# --- Adadelta ---

@_compiled
def adadelta_kernel(blocks, thetas, gs, vs, us, lr, rho, one_minus_rho, eps, weight_decay,
                    maximize):
    """Adadelta.update over blocks of a group's tensors."""
    for block in prange(len(blocks)):
        k, start, stop = blocks[block, 0], blocks[block, 1], blocks[block, 2]
        theta, grad = thetas[k][start:stop], gs[k][start:stop]
        v, u = vs[k][start:stop], us[k][start:stop]
        for i in range(stop - start):
            g = grad[i]
            if maximize:
                g = -g                                           # g ← −g
            if weight_decay != 0:
                g = g + weight_decay * theta[i]                  # g ← g + λ·θ
            v[i] = rho * v[i] + one_minus_rho * g * g            # v ← ρ·v + (1−ρ)·g²
            delta = np.sqrt(u[i] + eps) / np.sqrt(v[i] + eps) * g   # Δx ← √(u + ε) / √(v + ε) · g
            u[i] = rho * u[i] + one_minus_rho * delta * delta    # u ← ρ·u + (1−ρ)·Δx²
            theta[i] -= lr * delta                               # θ ← θ − γ·Δx


def adadelta(thetas, gs, states, group, lists: ListCache) -> None:
    """Compiled twin of ``Adadelta.update`` for a group's parameters of one dtype."""
    T = thetas[0].dtype.type
    for theta, state in zip(thetas, states):
        state["step"] = state.get("step", 0) + 1               # t ← t + 1  (PyTorch's count)
        state_arrays(state, theta, "square_avg", "acc_delta")  # v, u start at 0
    _launch(adadelta_kernel, _blocks(thetas), lists("theta", thetas), _flat(gs),
            lists.state("square_avg", states),
            lists.state("acc_delta", states),
            T(group["lr"]),
            T(group["rho"]), T(1 - group["rho"]), T(group["eps"]), T(group["weight_decay"]),
            group["maximize"])


# --- NAdam ---

@_compiled
def nadam_kernel(blocks, thetas, gs, ms, vs, mu_next, c_next, one_minus_mu_t, c_t,
                 bias_correction2, lr, beta1,
                 one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay,
                 one_minus_lr_weight_decay, maximize, decoupled):
    """NAdam.update over blocks of a group's tensors. The μ schedule comes from the host,
    per tensor: μ_{t+1}, c_next = 1 − Π_t·μ_{t+1}, 1 − μ_t and c_t = 1 − Π_t."""
    for block in prange(len(blocks)):
        k, start, stop = blocks[block, 0], blocks[block, 1], blocks[block, 2]
        theta, grad = thetas[k][start:stop], gs[k][start:stop]
        m, v = ms[k][start:stop], vs[k][start:stop]
        for i in range(stop - start):
            g = grad[i]
            if maximize:
                g = -g                                           # g ← −g
            if weight_decay != 0 and decoupled:
                theta[i] *= one_minus_lr_weight_decay            # θ ← θ − γ·λ·θ
            elif weight_decay != 0:
                g = g + weight_decay * theta[i]                  # g ← g + λ·θ
            m[i] = beta1 * m[i] + one_minus_beta1 * g            # m ← β1·m + (1−β1)·g
            v[i] = beta2 * v[i] + one_minus_beta2 * g * g        # v ← β2·v + (1−β2)·g²
            m_hat = (mu_next[k] * m[i] / c_next[k]              # m̂ ← μ_{t+1}·m / (1 − Π_t·μ_{t+1})
                     + one_minus_mu_t[k] * g / c_t[k])          #      + (1−μ_t)·g / (1 − Π_t)
            v_hat = v[i] / bias_correction2[k]                   # v̂ ← v / (1 − β2^t)
            theta[i] -= lr * m_hat / (np.sqrt(v_hat) + eps)      # θ ← θ − γ·m̂ / (√v̂ + ε)


def nadam(thetas, gs, states, group, lists: ListCache) -> None:
    """Compiled twin of ``NAdam.update`` for a group's parameters of one dtype."""
    T = thetas[0].dtype.type
    psi = group["momentum_decay"]
    beta1, beta2 = group["betas"]
    mu_t, mu_next = [], []
    for theta, state in zip(thetas, states):
        t = state["step"] = state.get("step", 0) + 1           # t ← t + 1
        state.setdefault("mu_product", 1.0)                    # Π_0 = 1
        state_arrays(state, theta, "exp_avg", "exp_avg_sq")    # m, v start at 0
        mu_t.append(beta1 * (1 - 0.5 * 0.96 ** (t * psi)))            # μ_t ← β1·(1 − ½·0.96^(t·ψ))
        mu_next.append(beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi)))   # μ_{t+1}
        state["mu_product"] *= mu_t[-1]                               # Π_t ← Π_{t−1}·μ_t
    products = [state["mu_product"] for state in states]
    corrections2 = [1 - beta2 ** state["step"] for state in states]
    if not group.get("bias_correction", True):  # Π = 0 and 1 − β2^t = 1: no divisions
        products, corrections2 = [0.0] * len(states), [1.0] * len(states)
    _launch(nadam_kernel, _blocks(thetas), lists("theta", thetas), _flat(gs),
            lists.state("exp_avg", states),
            lists.state("exp_avg_sq", states),
            _per_tensor(mu_next, thetas),
            _per_tensor([1 - p * n for p, n in zip(products, mu_next)], thetas),   # c_next
            _per_tensor([1 - m for m in mu_t], thetas),
            _per_tensor([1 - p for p in products], thetas),                         # c_t
            _per_tensor(corrections2, thetas),
            *_adam_scalars(group, T))


def kernel_for(name: str, group: dict):
    """The compiled twin of the rule ``name`` (an ``update``'s ``__qualname__``) with the
    group's options, or None (SGD's notes form of momentum has none)."""
    if name == "SGD.update" and group.get("momentum_form", "pytorch") != "pytorch" \
            and group["momentum"] != 0:
        return None
    return KERNELS.get(name)


KERNELS = {"SGD.update": sgd, "Adam.update": adam, "Adagrad.update": adagrad,
           "RMSprop.update": rmsprop, "Adadelta.update": adadelta, "NAdam.update": nadam}
