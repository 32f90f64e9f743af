"""Faster twins of the optimizers' readable update rules, outside the reading path.

``Optimizer.step`` asks :func:`twin_of` once per parameter group whether a
faster twin of the group's rule should run; the readable ``update`` in each
optimizer's file stays the definition, and the test oracle of every twin here
(tests/optim/test_fused.py, test_fused_cpu.py and test_chunked.py compare them
step by step).

Five kinds of twin:

* **GPU kernels** (``device='cuda'``). The readable update is one array
  expression per math line; on a GPU each is a kernel launch plus a temporary,
  about fifteen per tensor for Adam, each reading and writing the whole tensor
  again. Here the same math runs in one ``cupy.ElementwiseKernel``: one launch,
  one pass over memory. Each kernel function has the signature of
  ``Optimizer.update(theta, g, state, group)``, sets up the readable rule's
  ``state`` as the rule does (the same keys in the same order, with
  ``state_arrays`` of optim/state.py), and its body repeats the readable
  update's math lines in the same order.
* **Compiled CPU kernels** (``device='cpu'``, with Numba: ``pip install
  "tinygrad_opt[fast]"``). The same idea on the CPU: one Numba-compiled loop per
  rule, one pass over memory on all cores, one call for a whole parameter group
  (optim/fused_cpu.py, which says what the first call's compilation costs).
* **NumPy twins** (``device='cpu'``, where no compiled kernel runs). Adam's lines
  with ``out=`` buffers, over chunks of a large parameter shared among the cores
  (optim/fused_numpy.py); the readable rule's numbers, bit for bit.
* **Chunks** (the CPU, readable). An ``@elementwise`` rule runs over cache-sized
  slices of a large parameter (:func:`update_in_chunks`); same numbers, bit for bit.
* **Plain SGD** (off the GPU, a group under PLAIN_SGD_MAX_SIZE parameters, or where no
  kernel runs). Without momentum, weight decay and maximize, ``SGD.update`` comes down
  to θ ← θ − γ·g: :func:`plain_sgd` is that line alone, on whole arrays.

Each optimizer's ``fused`` option chooses. ``None`` (default), the first that applies:
plain SGD for a group under PLAIN_SGD_MAX_SIZE parameters off the GPU; a kernel where
there is one (the GPU kernel on 'cuda', the compiled one on 'cpu' when Numba is
installed and the group has COMPILED_MIN_SIZE parameters or more); on 'cpu' a NumPy
twin where the rule has one (a group of COMPILED_MIN_SIZE or more); plain SGD; the
readable rule ('strict', small groups on the CPU). ``False``: always the readable
rule. ``True``: always a kernel, or an error that says why there is none.
"""

from __future__ import annotations

import copy
import functools

from tinygrad_opt import backend, cuda
from tinygrad_opt.optim.state import state_arrays
from tinygrad_opt.tensor import Tensor

CHUNK_BYTES = 96 * 1024  # under glibc's 128 KiB mmap threshold; optimizer.chunk_bytes = None: never
# fused=None on 'cpu': a smaller group keeps the readable rule, as fast there (a compiled call
# costs about 60 us whatever its size: Adam breaks even near 50k parameters, SGD near 200k)
COMPILED_MIN_SIZE = 1 << 16
USE_NUMBA = True  # False: fused=None never runs the compiled CPU twins, as if Numba were missing
# fused=None off 'cuda': plain SGD over a smaller group runs whole arrays, before chunks and
# compiled twins (a 784-512-512-10 MLP's 670k parameters, measured in its training step:
# 250 us, 360 in chunks, 480 compiled; alone the compiled twin wins from 1M, on every core)
PLAIN_SGD_MAX_SIZE = 1 << 20


def twin_of(optimizer, group: dict, params: list):
    """The function that updates one parameter of ``group`` in place of
    ``optimizer.update``: a GPU kernel, a compiled CPU twin (which gathers the
    group's parameters and updates them all in one call, with the last one), the
    chunked rule, or ``update`` itself. ``params``: the parameters ``step`` will
    hand it, in order. An ``lr`` given as a one-element Tensor (PyTorch's
    ``lr=torch.tensor(0.01)``) reaches the rule as its value at this step."""
    update = _twin(optimizer, group, params)
    return _reading_tensors(update, group) if type(group.get("lr")) is Tensor else update


def _reading_tensors(update, group: dict):
    """``update``, handed ``group`` with its Tensor ``'lr'`` (PyTorch's
    ``lr=torch.tensor(0.01)``, which a scheduler may change in place; one element)
    replaced by its value now: the rules compute with numbers and arrays. (Only ``lr``:
    the one hyperparameter PyTorch's optimizers document as a float or a Tensor.)"""
    lr = group["lr"]
    if lr.numel() != 1:
        raise ValueError(f"Tensor lr must be 1-element, but it has shape {lr.shape}")
    numbers = {**group, "lr": lr.item()}
    return lambda theta, g, state, _group: update(theta, g, state, numbers)


def _twin(optimizer, group: dict, params: list):
    """twin_of's choice, for the group as it is."""
    device = params[0].device if params else "cpu"
    if cuda.capturing():
        _check_capturable(optimizer, group)
    fused = group.get("fused")
    readable = optimizer.update
    if device != "cuda":
        size = largest = 0  # the group's elements, and the bytes of its largest parameter
        for p in params:
            data = p.data
            size += data.size
            if data.nbytes > largest:
                largest = data.nbytes
        plain = fused is None and size < PLAIN_SGD_MAX_SIZE
        if plain and _plain_sgd_or(readable, group) is plain_sgd:
            return plain_sgd  # whole arrays: faster there than in chunks or compiled
        if getattr(readable, "elementwise", False) and _chunked(optimizer, largest):
            # the chunked rule, for a group with a parameter larger than a chunk
            readable = functools.partial(update_in_chunks, optimizer)  # (theta, g, state, group)
    if fused is False:
        return readable
    if fused is None and device == "cpu" and size < COMPILED_MIN_SIZE:
        return readable  # (plain SGD returned above)
    if device == "cpu" and len(set(map(id, params))) != len(params):
        # a parameter listed twice is updated twice per step (PyTorch's loop); the compiled
        # twin, which gathers the group's arrays into one call, would update it once
        return _plain_sgd_or(readable, group)
    twin, why_none = _fused_twin(optimizer, group, device, readable, len(params))
    if twin is None and fused is True:
        raise RuntimeError(f"{type(optimizer).__name__}: fused=True {why_none}")
    if twin is None and device == "cpu":  # no compiled twin runs: the NumPy one, if any
        twin = _numpy_twin(optimizer, readable)
    return twin or _plain_sgd_or(readable, group)


def _numpy_twin(optimizer, readable):
    """The NumPy twin (optim/fused_numpy.py) of ``optimizer.update`` when that is a rule
    with one (not a subclass's or an instance's own rule), handed ``readable``; else None."""
    from tinygrad_opt.optim import fused_numpy
    rule = getattr(optimizer.update, "__func__", None)
    twin = rule and fused_numpy.TWINS.get(f"{rule.__module__}.{rule.__qualname__}")
    return functools.partial(twin, readable) if twin else None


def _plain_sgd_or(readable, group: dict):
    """``plain_sgd`` where ``readable`` is ``SGD.update`` itself (not a subclass's or an
    instance's own) with momentum, weight decay and maximize off; else ``readable``."""
    rule = getattr(readable, "__func__", None)
    if (rule is not None and rule.__qualname__ == "SGD.update"
            and rule.__module__ == "tinygrad_opt.optim.sgd" and group["momentum"] == 0
            and group["weight_decay"] == 0 and not group["maximize"]):
        return plain_sgd
    return readable


def plain_sgd(theta, g, state: dict, group: dict) -> None:
    """``SGD.update`` with momentum, weight decay and maximize off: its one line that then
    acts, θ ← θ − γ·g, the same arrays bit for bit. The rule itself first reads four more
    options and calls ``maximize_and_decay``: 0.34 us a parameter alone, 1.8 us of a
    64-64-10 MLP's SGD step measured in it (2026-12-08; docs/benchmarks.md). It runs on
    whole arrays, one temporary each (PLAIN_SGD_MAX_SIZE says where that pays)."""
    theta -= group["lr"] * g


# The rules whose update reads nothing from the host that changes step to step, so a CUDA
# graph may replay them (Adagrad only without lr_decay). Every other rule is refused:
# Adam, NAdam, Adamax, RAdam (bias corrections), ASGD (η, μ), Rprop and rules added later.
CAPTURABLE = ("SGD.update", "RMSprop.update", "Adadelta.update", "Adagrad.update")


def _check_capturable(optimizer, group: dict) -> None:
    """Under ``cuda.capture``: refuse a rule whose update reads its step count on the host
    (a graph would repeat the captured step's bias correction forever), and check before
    each replay that the group's hyperparameters are still the captured ones."""
    name = type(optimizer).__name__
    rule = type(optimizer).update.__qualname__  # the rule's code, as _fused_twin names it
    if rule not in CAPTURABLE or (rule == "Adagrad.update" and group.get("lr_decay", 0) != 0):
        raise cuda.CaptureError(
            f"capture: {name}'s update depends on its step count (or other numbers kept on "
            "the host), so a CUDA graph would repeat one step's numbers: capture the forward and "
            "backward only and call optimizer.step() after each replay")
    captured = {key: value for key, value in group.items() if key != "params"}

    def unchanged() -> None:
        for key, value in captured.items():
            if group.get(key) != value:
                raise cuda.CaptureError(
                    f"capture: {name}'s {key} changed since the step was captured "
                    f"({value!r} -> {group.get(key)!r}); a graph repeats the captured "
                    "value: capture the step again")
    cuda.before_each_replay(unchanged)


def _fused_twin(optimizer, group: dict, device: str, readable, count: int):
    """(the kernel twin of the group's rule on ``device``, None), or (None, why there is none)."""
    name = type(optimizer).update.__qualname__
    if name not in GPU_KERNELS:  # the GPU and the compiled CPU kernels cover the same rules
        return None, f"has no fused kernel for {name}"
    if device == "cuda":
        return GPU_KERNELS[name], None
    if device != "cpu":
        return None, f"needs parameters on 'cuda' or 'cpu'; this parameter is on '{device}'"
    cpu = compiled_cpu() if USE_NUMBA else None
    if cpu is None:
        return None, ('on \'cpu\' needs Numba: pip install "tinygrad_opt[fast]"' if USE_NUMBA
                      else "on 'cpu' needs Numba, and optim.fused.USE_NUMBA is False")
    if cpu.launch_refused():
        return None, f"cannot run compiled kernels here: {cpu.launch_refused()}"
    kernel = cpu.kernel_for(name, group)
    if kernel is None:
        return None, f"has no compiled CPU kernel for {name} with these options"
    # typed lists of the group's arrays, kept between steps (not in state_dict or pickles)
    lists = optimizer.__dict__.setdefault("_compiled_lists", {}).setdefault(id(group), {})
    return cpu.GroupTwin(kernel, readable, count, lists), None


@functools.lru_cache(maxsize=None)
def compiled_cpu():
    """The compiled CPU kernels (optim/fused_cpu.py), or None when Numba cannot be imported.
    Imported on first use, so that the package needs no Numba."""
    try:
        import numba  # noqa: F401  (the optional `fast` extra)
    except ImportError:
        return None
    from tinygrad_opt.optim import fused_cpu
    return fused_cpu


def _chunked(optimizer, largest: int) -> bool:
    """True when the largest parameter (``largest`` bytes) is larger than a chunk (the
    others run whole anyway): a group of small ones calls the rule directly (0.6 us a
    parameter less)."""
    chunk_bytes = getattr(optimizer, "chunk_bytes", CHUNK_BYTES)
    return bool(chunk_bytes) and largest > chunk_bytes


def update_in_chunks(optimizer, theta, g, state: dict, group: dict) -> None:
    """Run an ``@elementwise`` ``update`` over slices of ``chunk_bytes`` of the
    flattened arrays.

    Why: on the CPU every NumPy temporary of a large array is fresh memory
    that the kernel maps page by page, and it has left the cache before the
    next line reads it. Temporaries of 96 KiB (below glibc's 128 KiB mmap
    threshold) are recycled from the heap and stay in cache: Adam over 10M
    float32 parameters went from 92 ms and 5,112 page faults a step to about
    42 ms and none (docs/benchmarks.md). The numbers are the same: an
    elementwise rule computes each element alone.

    The first step (state created) and any step that adds state keys run
    whole; a dry run of the rule on a one-element copy tells which.
    """
    update = optimizer.update
    chunk_bytes = getattr(optimizer, "chunk_bytes", CHUNK_BYTES)
    size = max(1, (chunk_bytes or theta.nbytes) // theta.itemsize)
    if theta.size <= size:
        return update(theta, g, state, group)
    arrays = [key for key, value in state.items()
              if backend.is_array(value) and value.shape == theta.shape]
    if not all(a.flags.c_contiguous for a in [theta] + [state[key] for key in arrays]):
        return update(theta, g, state, group)
    probe = {key: (value.reshape(-1)[:1].copy() if key in arrays else copy.copy(value))
             for key, value in state.items()}
    update(theta.reshape(-1)[:1].copy(), g.reshape(-1)[:1], probe, group)
    if probe.keys() != state.keys():
        return update(theta, g, state, group)
    flat = {key: state[key].reshape(-1) for key in arrays}
    theta_flat, g_flat = theta.reshape(-1), g.reshape(-1)
    for start in range(0, theta.size, size):
        piece = slice(start, start + size)
        chunk_state = dict(state, **{key: flat[key][piece] for key in arrays})
        update(theta_flat[piece], g_flat[piece], chunk_state, group)
    state.update({key: value for key, value in chunk_state.items() if key not in arrays})


# --- the GPU kernels ---

_kernels = {}  # compiled on first use, one per variant


def _kernel(name: str, inputs: str, outputs: str, body: str):
    """A cached ``cupy.ElementwiseKernel`` (compiled once, on first use)."""
    if name not in _kernels:
        _kernels[name] = _cupy().ElementwiseKernel(inputs, outputs, body, f"tinygrad_opt_{name}")
    return _kernels[name]


def _cupy():
    return backend.get_xp("cuda")


def _scalars(theta, *values):
    """Python numbers as scalars of the parameter's dtype (the kernels' type T)."""
    return [theta.dtype.type(value) for value in values]


def sgd(theta, g, state: dict, group: dict) -> None:
    """Fused twin of ``SGD.update`` (PyTorch's momentum form only)."""
    if group.get("momentum_form", "pytorch") == "notes" and group["momentum"] != 0:
        raise RuntimeError("SGD: momentum_form='notes' has no fused GPU kernel; pass fused=False")
    cupy = _cupy()
    sign = -1.0 if group["maximize"] else 1.0
    lr, momentum, dampening, weight_decay = _scalars(
        theta, group["lr"], group["momentum"], group["dampening"], group["weight_decay"])
    if group["momentum"] == 0:
        _kernel("sgd", "T g, T lr, T weight_decay, T sign", "T theta", """
            T d = sign * g + weight_decay * theta;     // g ← ±g + λ·θ
            theta -= lr * d;                           // θ ← θ − γ·g
        """)(g, lr, weight_decay, theta.dtype.type(sign), theta)
        return
    first = "momentum_buffer" not in state
    if first:
        state["momentum_buffer"] = cupy.empty_like(theta)
    _kernel("sgd_momentum",
            "T g, T lr, T momentum, T dampening, T weight_decay, T sign, bool nesterov, "
            "bool first", "T theta, T b", """
            T d = sign * g + weight_decay * theta;     // g ← ±g + λ·θ
            b = first ? d : momentum * b + (1 - dampening) * d;   // b ← μ·b + (1−τ)·g
            d = nesterov ? d + momentum * b : b;       // g ← g + μ·b  or  g ← b
            theta -= lr * d;                           // θ ← θ − γ·g
        """)(g, lr, momentum, dampening, weight_decay, theta.dtype.type(sign),
             bool(group["nesterov"]), first, theta, state["momentum_buffer"])


def adam(theta, g, state: dict, group: dict) -> None:
    """Fused twin of ``Adam.update`` (and so of AdamW, with decoupled weight decay)."""
    t = state["step"] = state.get("step", 0) + 1               # t ← t + 1
    m, v = state_arrays(state, theta, "exp_avg", "exp_avg_sq")  # m, v start at 0
    amsgrad = group["amsgrad"]
    beta1, beta2 = group["betas"]
    decoupled = group["decoupled_weight_decay"]
    corrected = group.get("bias_correction", True)              # False: c1 = c2 = 1 (the notes)
    scalars = _scalars(theta, group["lr"], beta1, beta2, group["eps"], group["weight_decay"],
                       -1.0 if group["maximize"] else 1.0, 1 - beta1 ** t if corrected else 1.0,
                       1 - beta2 ** t if corrected else 1.0)
    inputs = ("T g, T lr, T beta1, T beta2, T eps, T weight_decay, T sign, "
              "T bias_correction1, T bias_correction2, bool decoupled")
    body = """
        T d = sign * g;                                          // g ← ±g
        if (decoupled) theta -= lr * weight_decay * theta;       // θ ← θ − γ·λ·θ
        else d += weight_decay * theta;                          // g ← g + λ·θ
        m = beta1 * m + (1 - beta1) * d;                         // m ← β1·m + (1−β1)·g
        v = beta2 * v + (1 - beta2) * d * d;                     // v ← β2·v + (1−β2)·g²
        T m_hat = m / bias_correction1;                          // m̂ ← m / (1 − β1^t)
        {v_hat}
        theta -= lr * m_hat / (sqrt(v_hat) + eps);               // θ ← θ − γ·m̂ / (√v̂ + ε)
    """
    if amsgrad:
        [v_max] = state_arrays(state, theta, "max_exp_avg_sq")  # v_max starts at 0
        kernel = _kernel("adam_amsgrad", inputs, "T theta, T m, T v, T v_max", body.format(
            v_hat="v_max = max(v_max, v); T v_hat = v_max / bias_correction2;"))
        kernel(g, *scalars, decoupled, theta, m, v, v_max)
    else:
        kernel = _kernel("adam", inputs, "T theta, T m, T v",
                         body.format(v_hat="T v_hat = v / bias_correction2;"))
        kernel(g, *scalars, decoupled, theta, m, v)


def adagrad(theta, g, state: dict, group: dict) -> None:
    """Fused twin of ``Adagrad.update``."""
    cupy = _cupy()
    t = state["step"] = state.get("step", 0) + 1               # t ← t + 1
    if "sum" not in state:
        state["sum"] = cupy.full_like(theta, group["initial_accumulator_value"])
    lr_t = group["lr"] / (1 + (t - 1) * group["lr_decay"])      # γ̃ ← γ / (1 + (t−1)·η)
    _kernel("adagrad", "T g, T lr_t, T eps, T weight_decay, T sign", "T theta, T s", """
        T d = sign * g + weight_decay * theta;     // g ← ±g + λ·θ
        s += d * d;                                // s ← s + g²
        theta -= lr_t * d / (sqrt(s) + eps);       // θ ← θ − γ̃·g / (√s + ε)
    """)(g, *_scalars(theta, lr_t, group["eps"], group["weight_decay"],
                      -1.0 if group["maximize"] else 1.0), theta, state["sum"])


def rmsprop(theta, g, state: dict, group: dict) -> None:
    """Fused twin of ``RMSprop.update`` (plain, centered, with momentum)."""
    state["step"] = state.get("step", 0) + 1                   # t ← t + 1  (PyTorch's count)
    centered, momentum = group["centered"], group["momentum"]
    buffers = state_arrays(state, theta, "square_avg",         # v, ḡ, b start at 0
                           *(["grad_avg"] if centered else []),
                           *(["momentum_buffer"] if momentum > 0 else []))
    outputs = ["T theta", "T v"] + (["T g_avg"] if centered else []) + \
        (["T b"] if momentum > 0 else [])
    body = """
        T d = sign * g + weight_decay * theta;           // g ← ±g + λ·θ
        v = alpha * v + (1 - alpha) * d * d;             // v ← α·v + (1−α)·g²
        T v_tilde = v;                                   // ṽ ← v
    """
    if centered:
        body += """
        g_avg = alpha * g_avg + (1 - alpha) * d;         // ḡ ← α·ḡ + (1−α)·g
        v_tilde = v - g_avg * g_avg;                     // ṽ ← v − ḡ²
    """
    if momentum > 0:
        body += """
        b = momentum * b + d / (sqrt(v_tilde) + eps);    // b ← μ·b + g / (√ṽ + ε)
        theta -= lr * b;                                 // θ ← θ − γ·b
    """
    else:
        body += """
        theta -= lr * d / (sqrt(v_tilde) + eps);         // θ ← θ − γ·g / (√ṽ + ε)
    """
    kernel = _kernel(f"rmsprop_{int(centered)}{int(momentum > 0)}",
                     "T g, T lr, T alpha, T eps, T weight_decay, T sign, T momentum",
                     ", ".join(outputs), body)
    kernel(g, *_scalars(theta, group["lr"], group["alpha"], group["eps"],
                        group["weight_decay"], -1.0 if group["maximize"] else 1.0, momentum),
           theta, *buffers)


def adadelta(theta, g, state: dict, group: dict) -> None:
    """Fused twin of ``Adadelta.update``."""
    state["step"] = state.get("step", 0) + 1                   # t ← t + 1  (PyTorch's count)
    v, u = state_arrays(state, theta, "square_avg", "acc_delta")  # v, u start at 0
    _kernel("adadelta", "T g, T lr, T rho, T eps, T weight_decay, T sign", "T theta, T v, T u", """
        T d = sign * g + weight_decay * theta;             // g ← ±g + λ·θ
        v = rho * v + (1 - rho) * d * d;                   // v ← ρ·v + (1−ρ)·g²
        T delta = sqrt(u + eps) / sqrt(v + eps) * d;       // Δx ← √(u + ε) / √(v + ε) · g
        u = rho * u + (1 - rho) * delta * delta;           // u ← ρ·u + (1−ρ)·Δx²
        theta -= lr * delta;                               // θ ← θ − γ·Δx
    """)(g, *_scalars(theta, group["lr"], group["rho"], group["eps"], group["weight_decay"],
                      -1.0 if group["maximize"] else 1.0),
         theta, v, u)


def nadam(theta, g, state: dict, group: dict) -> None:
    """Fused twin of ``NAdam.update`` (the μ schedule is computed on the host)."""
    t = state["step"] = state.get("step", 0) + 1               # t ← t + 1
    state.setdefault("mu_product", 1.0)                        # Π_0 = 1
    m, v = state_arrays(state, theta, "exp_avg", "exp_avg_sq")  # m, v start at 0
    beta1, beta2 = group["betas"]
    psi = group["momentum_decay"]
    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    state["mu_product"] *= mu_t
    mu_product = state["mu_product"]
    bias_correction2 = 1 - beta2 ** t
    if not group.get("bias_correction", True):  # Π = 0 and 1 − β2^t = 1: no divisions
        mu_product, bias_correction2 = 0.0, 1.0
    _kernel("nadam",
            "T g, T lr, T beta1, T beta2, T eps, T weight_decay, T sign, T mu_t, T mu_next, "
            "T mu_product, T bias_correction2, bool decoupled", "T theta, T m, T v", """
        T d = sign * g;                                          // g ← ±g
        if (decoupled) theta -= lr * weight_decay * theta;       // θ ← θ − γ·λ·θ
        else d += weight_decay * theta;                          // g ← g + λ·θ
        m = beta1 * m + (1 - beta1) * d;                         // m ← β1·m + (1−β1)·g
        v = beta2 * v + (1 - beta2) * d * d;                     // v ← β2·v + (1−β2)·g²
        T m_hat = mu_next * m / (1 - mu_product * mu_next)
                  + (1 - mu_t) * d / (1 - mu_product);           // m̂
        T v_hat = v / bias_correction2;                          // v̂ ← v / (1 − β2^t)
        theta -= lr * m_hat / (sqrt(v_hat) + eps);               // θ ← θ − γ·m̂ / (√v̂ + ε)
    """)(g, *_scalars(theta, group["lr"], beta1, beta2, group["eps"], group["weight_decay"],
                      -1.0 if group["maximize"] else 1.0, mu_t, mu_next, mu_product,
                      bias_correction2),
         bool(group["decoupled_weight_decay"]), theta, m, v)


GPU_KERNELS = {"SGD.update": sgd, "Adam.update": adam, "Adagrad.update": adagrad,
               "RMSprop.update": rmsprop, "Adadelta.update": adadelta, "NAdam.update": nadam}
