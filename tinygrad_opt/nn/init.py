"""Weight initialisation, PyTorch's ``torch.nn.init`` with the same signatures.

Each function fills ``tensor`` in place (its array, on its own device, with
the framework's seeded random generator; no graph is recorded) and returns
it; given a backend array (``m.weight.data``), it fills that array and returns it. Why the scales matter: a layer with ``fan_in`` inputs of variance 1 and
weights of variance v gives outputs of variance ``fan_in · v``; choosing
``v = gain² / fan_in`` keeps the signal's size constant through depth, where
``gain`` makes up for what the nonlinearity removes (ReLU halves the
variance, so its gain is √2).

The random ones take PyTorch's ``generator=`` (a ``tg.Generator``: its own stream,
which other draws do not disturb); without one they draw from the generator that
``tg.manual_seed`` seeds.

* Xavier/Glorot (tanh, sigmoid nets): ``std = gain · √(2 / (fan_in + fan_out))``.
* Kaiming/He (ReLU nets):             ``std = gain / √fan``, fan = fan_in or fan_out.
* A uniform U(−b, b) has std b/√3, so the uniform versions use ``b = √3 · std``.

PyTorch's deprecated names without the underscore (``uniform``, ``xavier_normal``, ...)
are kept at the end: each warns, then calls its underscored function.
"""

from __future__ import annotations

import math
import warnings

from tinygrad_opt import backend
from tinygrad_opt import linalg as tlinalg
from tinygrad_opt.autograd.grad_mode import no_grad
from tinygrad_opt.tensor import Tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    ============================  =========================
    linear, conv*, sigmoid        1
    tanh                          5/3
    relu                          √2
    leaky_relu (slope a)          √(2 / (1 + a²)), a = 0.01 by default
    selu                          3/4
    ============================  =========================
    """
    linear_functions = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                        "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear_functions or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in, fan_out of a weight ``(out, in, *kernel)``: in·k and out·k, k = kernel size.

    A Linear weight ``(out_features, in_features)`` has fan_in = in_features.
    """
    if tensor.ndim < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions, "
            f"got shape {tuple(tensor.shape)}")
    receptive_field_size = math.prod(tensor.shape[2:])  # 1 for a Linear weight
    fan_in = tensor.shape[1] * receptive_field_size
    fan_out = tensor.shape[0] * receptive_field_size
    return fan_in, fan_out


def layer_defaults_(weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's default init of Linear and Conv layers (their ``reset_parameters``):
    W ~ kaiming_uniform(a=√5), which is U(−1/√fan_in, 1/√fan_in), and b ~ the same
    U(−1/√fan_in, 1/√fan_in), fan_in from W (``in_features``, or in/groups · kernel)."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    """fan_in or fan_out of ``tensor`` as ``mode`` says (in any case: 'FAN_IN' too, as
    PyTorch, which lower-cases it)."""
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _has_no_elements(tensor: Tensor) -> bool:
    """True (with PyTorch's warning) for a tensor of size 0: there is nothing to fill,
    and its fan may be 0."""
    if math.prod(tensor.shape) == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=4)  # (user)
        return True
    return False


def _rng(generator, op: str):
    """The NumPy generator behind a ``tg.Generator`` (None: the framework's own)."""
    if generator is None:
        return None
    if not hasattr(generator, "numpy_rng"):
        raise TypeError(f"{op}: generator must be a tg.Generator or None, "
                        f"got {type(generator).__name__}")
    return generator.numpy_rng


def _fill(tensor: Tensor, array) -> Tensor:
    """Copy ``array`` into ``tensor``'s own array, in place and unrecorded (its version
    goes up, so a graph that saved the tensor refuses backward, as in PyTorch)."""
    with no_grad():
        tensor.data[...] = array
        tensor._version += 1
    return tensor


def _check_draw(tensor: Tensor, op: str) -> None:
    """The random fills draw floats: a tensor of another dtype is refused, as PyTorch's
    (its ``uniform_``/``normal_`` have no integer kernels)."""
    if not backend.is_floating(tensor.dtype):
        raise TypeError(f"{op}: draws floats; the tensor has dtype {tensor.dtype}")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of U(a, b), a ≤ b."""
    _check_draw(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expects a <= b for the range [a, b), got a={a}, b={b}")
    rng = _rng(generator, "uniform_")
    return _fill(tensor, backend.random_uniform(tensor.shape, tensor.dtype, tensor.device, a, b,
                                                rng=rng))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of N(mean, std²), std ≥ 0."""
    _check_draw(tensor, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_: expects std >= 0, got std={std}")
    rng = _rng(generator, "normal_")
    return _fill(tensor, backend.random_normal(tensor.shape, tensor.dtype, tensor.device,
                                               mean, std, rng=rng))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value ``val``."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): U(−b, b) with b = gain · √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # U(−b, b) has standard deviation b/√3
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std²) with std = gain · √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He et al. (2015): U(−b, b) with b = gain · √(3 / fan).

    ``gain = calculate_gain(nonlinearity, a)``; ``a`` is the negative slope of a
    leaky ReLU (0 gives ReLU's √2). ``mode='fan_in'`` keeps the forward
    signal's variance, ``'fan_out'`` the backward gradient's. A tensor with no
    elements (a ``Linear(0, n)`` weight) is left as it is, with a warning, as PyTorch.
    """
    if _has_no_elements(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He et al. (2015): N(0, std²) with std = gain / √fan (see ``kaiming_uniform_``)."""
    if _has_no_elements(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill with samples of N(mean, std²) conditioned on a ≤ x ≤ b (a and b are values,
    not numbers of std), by inverting the CDF::

        u ~ U(Φ((a − mean)/std), Φ((b − mean)/std))     x = mean + std · Φ⁻¹(u)

    with Φ⁻¹(u) = √2 · erfinv(2u − 1); the result is clamped to [a, b] against rounding.
    A mean more than 2 std outside [a, b] warns, as PyTorch: u's interval is then so
    narrow that rounding may pile the samples up at a bound.
    """
    def normal_cdf(value: float) -> float:
        return (1.0 + math.erf(value / math.sqrt(2.0))) / 2.0

    _check_draw(tensor, "trunc_normal_")
    if not std > 0 or not a <= b:
        raise ValueError(f"trunc_normal_: expects std > 0 and a <= b, got std={std}, a={a}, "
                         f"b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=3)

    low, high = normal_cdf((a - mean) / std), normal_cdf((b - mean) / std)
    uniform = backend.random_uniform(tensor.shape, tensor.dtype, tensor.device,
                                     2 * low - 1, 2 * high - 1,
                                     rng=_rng(generator, "trunc_normal_"))    # 2u − 1
    with no_grad():
        samples = Tensor(uniform, device=tensor.device).erfinv() * (std * math.sqrt(2.0))
        samples = (samples + mean).clip(a, b)
    return _fill(tensor, samples.data)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013): the
    tensor seen as rows = shape[0] by cols = the rest; the Q of the QR decomposition of a
    standard normal matrix, its columns' signs fixed by R's diagonal (so Q is uniform
    over the orthogonal matrices). Rows are orthonormal when rows ≤ cols, else columns.
    """
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    if math.prod(tensor.shape) == 0:
        return tensor  # nothing to fill
    _check_draw(tensor, "orthogonal_")
    rows = tensor.shape[0]
    cols = math.prod(tensor.shape) // rows
    normal = backend.random_normal((rows, cols), tensor.dtype, tensor.device,
                                   rng=_rng(generator, "orthogonal_"))
    with no_grad():
        flat = Tensor(normal, device=tensor.device)                     # (rows, cols)
        if rows < cols:
            flat = flat.T                                               # (cols, rows)
        q, r = tlinalg.qr(flat)                                         # q: (m, k)
        q = q * r.diagonal().sign()                                     # column signs
        if rows < cols:
            q = q.T                                                     # (rows, cols)
        q = (q * gain).reshape(tensor.shape)
    return _fill(tensor, q.data)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal, zeros elsewhere):
    a Linear layer that passes its inputs through (as far as the shapes allow)."""
    if tensor.ndim != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    xp = backend.get_xp(tensor.device)
    return _fill(tensor, xp.eye(tensor.shape[0], tensor.shape[1], dtype=tensor.dtype))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a convolution weight (out, in, *kernel), 3-D to 5-D, with the Dirac delta: the
    convolution keeps as many input channels as it can (in each of ``groups`` groups of
    out/groups output channels): weight[g·out/groups + d, d, centre] = 1, zeros elsewhere,
    the centre being kernel_size // 2 in every spatial dim."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"Only tensors with 3, 4, or 5 dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    if tensor.shape[0] % groups != 0:
        raise ValueError(f"dim 0 must be divisible by groups: {tensor.shape[0]} and "
                         f"groups={groups}")
    out_per_group = tensor.shape[0] // groups
    centre = tuple(size // 2 for size in tensor.shape[2:])
    xp = backend.get_xp(tensor.device)
    weight = xp.zeros(tensor.shape, dtype=tensor.dtype)
    for group in range(groups):
        for channel in range(min(out_per_group, tensor.shape[1])):
            weight[(group * out_per_group + channel, channel) + centre] = 1
    return _fill(tensor, weight)


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """Fill a 2-D tensor (rows, cols) as a sparse matrix (Martens, 2010): N(0, std²)
    samples, then in each column ``ceil(sparsity · rows)`` entries, at random rows, set
    to 0."""
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: only tensors with 2 dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    _check_draw(tensor, "sparse_")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    rng = _rng(generator, "sparse_")
    values = backend.random_normal((rows, cols), tensor.dtype, tensor.device, 0.0, std, rng=rng)
    host_rng = rng or backend.host_rng()
    keep = backend.get_xp("cpu").ones((rows, cols), dtype=bool)   # on the host
    for column in range(cols):
        keep[host_rng.permutation(rows)[:num_zeros], column] = False  # its zeroed rows
    keep = backend.to_device(keep, tensor.device)
    return _fill(tensor, values * keep)


# ------------------------------------------------------------ a parameter's array, filled

def _fills_arrays(method):
    """``method`` that also fills a backend array (a parameter's ``.data`` here, where
    PyTorch's ``.data`` is a Tensor): PyTorch code such as ``nn.init.normal_(m.weight.data,
    0.0, 0.02)`` fills the parameter's memory in place and gets back what it passed."""
    def fill(tensor, *args, **kwargs):
        if backend.is_array(tensor):
            method(Tensor._make(tensor), *args, **kwargs)  # a Tensor over the same memory
            return tensor
        return method(tensor, *args, **kwargs)

    fill.__name__ = fill.__qualname__ = method.__name__
    fill.__doc__, fill.__wrapped__ = method.__doc__, method
    return fill


uniform_, normal_, constant_ = map(_fills_arrays, (uniform_, normal_, constant_))
zeros_, ones_, eye_, dirac_ = map(_fills_arrays, (zeros_, ones_, eye_, dirac_))
xavier_uniform_, xavier_normal_ = map(_fills_arrays, (xavier_uniform_, xavier_normal_))
kaiming_uniform_, kaiming_normal_ = map(_fills_arrays, (kaiming_uniform_, kaiming_normal_))
trunc_normal_, orthogonal_, sparse_ = map(_fills_arrays, (trunc_normal_, orthogonal_, sparse_))


# ------------------------------------------------------------ PyTorch's deprecated old names

def _deprecated(method):
    """The old name of ``method`` (``uniform`` for ``uniform_``), as PyTorch still has it:
    a FutureWarning that it is deprecated, then ``method`` with the same arguments."""
    new_name = method.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of "
                      f"`nn.init.{new_name}`.", FutureWarning, stacklevel=2)
        return method(*args, **kwargs)

    deprecated_init.__name__ = deprecated_init.__qualname__ = old_name
    deprecated_init.__doc__ = (f"Deprecated: :func:`{new_name}` with the same arguments, "
                               "after a FutureWarning saying so.")
    return deprecated_init


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
