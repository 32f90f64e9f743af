"""Functional forms of the layers: ``import tinygrad_opt.nn.functional as F``.

Every function here is a composition of Tensor ops, so its gradient comes
from the engine and needs no backward code: reading ``F.elu`` is reading the
formula. The two exceptions, primitives with their own backward, live in
``nn/functional_primitives.py``: ``erf`` (NumPy has none) and ``log1p``
(``log(1 + e)`` loses every digit of a tiny ``e``), with ``softplus``, which the
losses share.

Numerical care, once for all: a branch that ``where`` does not select still
takes part in backward (with a zero gradient), and ``0 * inf = nan``. So no
branch is ever allowed to overflow, even where it is not used: ELU feeds
``exp`` only ``min(x, 0)``, softplus only ``-|x|``.

``F`` is every functional form, in four files split by idea: this one (the
activations, linear, dropout, the normalisations, embedding),
``nn/functional_primitives.py`` (erf, log1p, softplus),
``nn/functional_conv.py`` (convolution and pooling, im2col; the layers are in
``nn/conv.py``) and ``nn/functional_loss.py`` (the losses; their Modules are in
``nn/loss.py``). This file imports the other three's public names below, so
``F.conv2d`` and ``F.cross_entropy`` work; none of them imports this file, and
the layer modules import from these files, never the other way round.

PyTorch's ``inplace=True`` (relu, elu, dropout, ...) writes the result into x and
returns x itself: one helper, ``_in_place``, does it for every function.
"""

from __future__ import annotations

import math
import numbers
import warnings

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.nn.functional_conv import (Col2Im, Im2Col, adaptive_avg_pool1d,  # noqa: F401
                                             adaptive_avg_pool2d, adaptive_max_pool2d,
                                             avg_pool1d, avg_pool2d, conv1d, conv2d,
                                             conv_output_size, fold, group_norm, max_pool1d,
                                             max_pool2d, unfold)
from tinygrad_opt.nn.functional_loss import (LOG_FLOOR, REDUCTIONS,  # noqa: F401
                                             binary_cross_entropy,
                                             binary_cross_entropy_with_logits, cross_entropy,
                                             focal_loss, hinge_loss, huber_loss, kl_div, l1_loss,
                                             mse_loss, multi_margin_loss, nll_loss,
                                             sigmoid_focal_loss, smooth_l1_loss)
from tinygrad_opt.nn.functional_primitives import (Erf, Log1p, _affine,  # noqa: F401
                                                   _check_per_channel, _renorm_rows,
                                                   _update_running, erf, log1p, softplus)
from tinygrad_opt.nn.functional_more import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.nn.functional_more import _check_floating
from tinygrad_opt.nn.functional_loss_more import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.nn.attention import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.nn.conv_transpose import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.nn.functional_extra import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.nn.functional_conv3d import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.nn.functional_surface import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.nn import fused_norm
from tinygrad_opt.ops import fused
from tinygrad_opt.ops.elementwise import floating as _floating
from tinygrad_opt.ops.statistics import computed_in_float32
from tinygrad_opt.ops.shape import normalize_dim, same_device
from tinygrad_opt.tensor import Tensor


def _random_tensor(like: Tensor, low: float, high: float) -> Tensor:
    """Uniform samples on [low, high) with ``like``'s shape, dtype and device (no grad)."""
    array = backend.random_uniform(like.shape, like.dtype, like.device, low, high)
    return Tensor(array, device=like.device)


def _in_place(input: Tensor, function, *args) -> Tensor:
    """PyTorch's inplace=True: x[...] = function(x.clone(), ...), then x itself (see
    ``write_back``). A float result refuses to go into an integer or bool x, as PyTorch
    (``elu(x, inplace=True)`` of an int64 x): the write would truncate it silently."""
    result = function(input.clone(), *args)
    if backend.is_floating(result.dtype) and not backend.is_floating(input.dtype):
        raise RuntimeError(f"{function.__name__}: inplace=True needs a floating-point input: "
                           f"the result, {result.dtype}, cannot be written into {input.dtype}")
    input[...] = result
    return input


# ------------------------------------------------------------------ activations

def sigmoid(input: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e^−x); never overflows (the core op works from e^−|x|)."""
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    """tanh(x) = (e^x − e^−x) / (e^x + e^−x)."""
    return input.tanh()


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); the derivative at 0 is taken as 0 (as PyTorch).
    ``inplace=True``: the result is written into x, which is returned (``_in_place``)."""
    if inplace:
        return _in_place(input, relu)
    return input.relu()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope·x otherwise (``inplace``: as in ``relu``)."""
    if inplace:
        return _in_place(input, leaky_relu, negative_slope)
    return tg.where(input > 0, input, input * negative_slope)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x for x > 0, a·x otherwise, with ``a = weight`` learned per channel (dim 1).

    ``weight`` has one element (shared by all channels; 0-d or 1-D, as PyTorch) or ``C``
    elements for an input ``(N, C, ...)``.
    """
    if weight.ndim > 1:
        raise ValueError(f"prelu: weight must be 0-D or 1-D, got shape {weight.shape}")
    weight = weight.reshape(-1)                                  # (1,) or (C,)
    channels = weight.shape[0]
    if channels != 1:
        if input.ndim < 2 or input.shape[1] != channels:
            raise ValueError(
                f"prelu: weight of {channels} elements needs an input (N, {channels}, ...), "
                f"got shape {input.shape}")
        slope = weight.reshape(1, channels, *([1] * (input.ndim - 2)))  # (1, C, 1, ...)
    else:
        slope = weight.reshape(*([1] * input.ndim)) if input.ndim > 0 else weight.reshape(())
    return tg.where(input > 0, input, input * slope)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: x for x > 0, a·x otherwise.

    Training: a fresh slope ``a ~ U(lower, upper)`` per element and per call.
    Evaluation: the mean slope ``a = (lower + upper) / 2``. ``inplace``: as in ``relu``.
    lower > upper raises, in both modes (PyTorch's check in ``at::rrelu``).
    """
    if lower > upper:
        raise ValueError(f"rrelu: lower bound {lower} should be less than or equal to the "
                         f"upper bound {upper}")
    if inplace:
        return _in_place(input, rrelu, lower, upper, training)
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    _check_floating(input, "rrelu")
    slope = _random_tensor(input, lower, upper)  # same shape as x, no gradient
    return tg.where(input <= 0, input * slope, input)  # (PyTorch's test: a NaN keeps slope 1)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, α(e^x − 1) otherwise (``inplace``: as in ``relu``).

    ``expm1`` only sees ``min(x, 0)``, so a large positive x cannot overflow in the
    unused branch (its inf would turn into nan in backward); e^x − 1 taken as ``expm1``
    keeps its digits for tiny x (``exp(x) − 1`` in float32 lost 1% at x = −2e-6).
    """
    if inplace:
        return _in_place(input, elu, alpha)
    negative = input <= 0          # PyTorch's test: a NaN takes the x piece (gradient 1)
    negative_part = tg.where(negative, input, 0.0)  # min(x, 0), derivative 1 at x = 0 as PyTorch
    return tg.where(negative, alpha * negative_part.expm1(), input)  # e^x − 1, no cancellation


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """λ·ELU(x, α) with λ ≈ 1.0507 and α ≈ 1.6733 (the self-normalising constants);
    ``inplace``: as in ``relu``."""
    if inplace:
        return _in_place(input, selu)
    return SELU_SCALE * elu(input, SELU_ALPHA)


@computed_in_float32
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x·Φ(x) with Φ the standard normal CDF.

    ``approximate='none'``: Φ(x) = ½(1 + erf(x/√2)).
    ``approximate='tanh'``: Φ(x) ≈ ½(1 + tanh(√(2/π)(x + 0.044715x³))).

    A float16 x is computed in float32, as PyTorch's kernels do: for x < −3, 1 + erf
    is a small difference of numbers near 1, and float16's 3 digits left nothing of it
    (GELU(−3.83) was off by 2,000 float16 ulps; now 1).
    """
    if approximate == "none":
        return 0.5 * input * (1 + erf(input * (1 / math.sqrt(2))))
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (input + 0.044715 * input * input * input)
        return 0.5 * input * (1 + inner.tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """SiLU (swish): x·σ(x) (``inplace``: as in ``relu``).

    A float16 x is computed in float32 and rounded once, as PyTorch's kernel: σ(x) of
    x < −10 is subnormal in float16, with few digits left (SiLU(−17) was 40% too large).
    """
    if inplace:
        return _in_place(input, silu)
    if input.dtype == backend.float16:
        return silu(input.float()).half()
    return input * input.sigmoid()


# softplus(x, beta, threshold) is in nn/functional_primitives.py: the losses use it too.


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return input / (1 + input.abs())


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val]; gradient 1 strictly inside, 0 outside and
    on the edges (PyTorch's convention). ``inplace``: as in ``relu``. An integer x
    stays integer, clipped to the bounds truncated to integers (see ``_integer_bounds``).

    As PyTorch's, this is clamp, min(max(x, min_val), max_val), and the order of the
    bounds is not checked: min_val > max_val gives max_val everywhere, gradient 0
    (``nn.Hardtanh`` refuses such a range when it is built)."""
    if not backend.is_floating(input.dtype):
        min_val, max_val = _integer_bounds("hardtanh", input, min_val, max_val)
    if inplace:
        return _in_place(input, hardtanh, min_val, max_val)
    clipped_low = tg.where(input <= min_val, min_val, input)
    return tg.where(clipped_low >= max_val, max_val, clipped_low)  # (max applied last)


def _integer_bounds(name: str, input: Tensor, *bounds: float) -> tuple:
    """The scalars of hardtanh and threshold for an integer input, as PyTorch: each
    truncated towards zero (``int(2.5) = 2``, ``int(-0.5) = 0``), so the result keeps the
    input's integer dtype. A bool input is refused; uint8 refuses a negative bound."""
    if input.dtype == tg.bool_:
        raise RuntimeError(f"{name}: Boolean inputs are not supported, as in PyTorch")
    integers = tuple(int(bound) for bound in bounds)
    if name == "hardtanh" and input.dtype.kind == "u" and min(integers) < 0:
        raise RuntimeError("hardtanh: cannot do hardtanh on an unsigned type with negative "
                           f"limits, got {bounds}")
    return integers


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """ReLU6(x) = min(max(x, 0), 6) = hardtanh(x, 0, 6), as PyTorch computes it.

    Derivative: 1 for 0 < x < 6, 0 otherwise; 0 at both kinks, x = 0 and x = 6
    (PyTorch's hardtanh convention). ``inplace``: as in ``relu``.
    """
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """Hardsigmoid(x) = 0 for x ≤ −3, 1 for x ≥ 3, (x + 3)/6 between: a piecewise-linear σ.

    Derivative: 1/6 for −3 < x < 3, 0 otherwise; 0 at both kinks x = ±3 (PyTorch).
    ``inplace``: as in ``relu``. A NaN, in no piece, stays NaN with gradient 0, as in
    PyTorch's backward, (−3 < x < 3) ? g/6 : 0.
    """
    if inplace:
        return _in_place(input, hardsigmoid)
    inside = (input > -3) & (input < 3)
    outer = tg.where(input >= 3, 1.0, tg.where(input <= -3, 0.0, input.detach()))  # NaN: x
    return tg.where(inside, (input + 3) / 6, outer)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """Hardswish(x) = x·hardsigmoid(x): 0 for x ≤ −3, x for x ≥ 3, x(x + 3)/6 between
    (MobileNetV3's cheap SiLU).

    Derivative: 0 for x ≤ −3, (2x + 3)/6 = x/3 + 1/2 for −3 < x < 3, 1 for x ≥ 3. At the
    kinks the outer piece's slope: 0 at x = −3 and 1 at x = 3, as PyTorch since 2.7
    (older releases gave −1/2 and 3/2 there). ``inplace``: as in ``relu``.

    The middle piece only sees −3 < x < 3 (0 elsewhere), so x = ±inf gives the outer
    pieces' gradients, 0 and 1, not 0·inf = nan; a NaN falls in the last piece, as in
    PyTorch's backward (nan, gradient 1).
    """
    if inplace:
        return _in_place(input, hardswish)
    inside = (input > -3) & (input < 3)
    middle = tg.where(inside, input, 0.0)                   # x on (−3, 3), else 0
    upper = tg.where(inside, middle * (middle + 3) / 6, input)
    return tg.where(input <= -3, 0.0, upper)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """CELU(x) = x for x > 0, α(e^(x/α) − 1) otherwise (Barron, 2017); α ≠ 0.

    Derivative: 1 for x > 0, e^(x/α) otherwise, so 1 at x = 0 from both sides (ELU's
    exponent scaled by 1/α: continuous derivative for every α). ``expm1`` only sees
    ``min(x, 0)/α``, as in ``elu``. ``inplace``: as in ``relu``.
    """
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0")
    if inplace:
        return _in_place(input, celu, alpha)
    negative = input <= 0                            # (as elu: a NaN takes the x piece)
    negative_part = tg.where(negative, input, 0.0)   # min(x, 0)
    return tg.where(negative, alpha * (negative_part / alpha).expm1(), input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mish(x) = x·tanh(softplus(x)) (Misra, 2019): smooth, no kink.

    Derivative: tanh(s) + x·σ(x)·(1 − tanh²(s)) with s = softplus(x). Softplus runs
    without its threshold (the exact formula, as PyTorch's mish); its stable form never
    overflows. ``inplace``: as in ``relu``. A float16 x is computed in float32, as in
    ``silu`` (the same subnormal σ in the left tail).
    """
    if inplace:
        return _in_place(input, mish)
    if input.dtype == backend.float16:
        return mish(input.float()).half()
    return input * softplus(input, 1.0, math.inf).tanh()


def logsigmoid(input: Tensor) -> Tensor:
    """LogSigmoid(x) = log σ(x) = −softplus(−x) = min(x, 0) − log(1 + e^−|x|).

    Derivative: 1 − σ(x) = σ(−x); smooth. Stable for any x (log of the computed σ
    would give log(0) = −inf at x = −1000); no softplus threshold, as PyTorch.
    """
    return -softplus(-_floating(input), 1.0, math.inf)  # (ints: −x of a uint8 would wrap)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """Threshold(x) = x for x > threshold, ``value`` otherwise.

    Derivative: 1 for x > threshold, 0 otherwise; 0 at x = threshold (PyTorch).
    Written as PyTorch's kernel, ``x <= threshold ? value : x``, so a NaN stays NaN
    (NaN <= t is False) and gets the upstream gradient. ``inplace``: as in ``relu``. An
    integer x stays integer, with ``threshold`` and ``value`` truncated to integers, as
    PyTorch's kernel casts them to x's dtype (``_integer_bounds``); a bool x is refused.
    """
    if not backend.is_floating(input.dtype):  # (a bool input is refused there)
        threshold, value = _integer_bounds("threshold", input, threshold, value)
    if inplace:  # the argument hides this function's name: the alias _threshold is it
        return _in_place(input, _threshold, threshold, value)
    return tg.where(input <= threshold, value, input)


_threshold = threshold


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Hardshrink(x) = x for |x| > λ, 0 for −λ ≤ x ≤ λ.

    Derivative: 1 for |x| > λ, 0 otherwise; 0 at x = ±λ (PyTorch). The test is
    PyTorch's, −λ ≤ x ≤ λ → 0, so a NaN (never inside) stays NaN.
    """
    inside = (input >= -lambd) & (input <= lambd)
    return tg.where(inside, 0.0, input)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Softshrink(x) = x − λ for x > λ, x + λ for x < −λ, 0 between (λ ≥ 0): shrinks
    every value towards 0 by λ (the proximal step of an L1 penalty).

    Derivative: 1 for |x| > λ, 0 otherwise; 0 at x = ±λ (PyTorch). Only −λ ≤ x ≤ λ
    gives 0, so a NaN (never inside) stays NaN, as PyTorch (pytorch/pytorch#138421).
    """
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be greater or equal to 0, got {lambd}")
    inside = (input >= -lambd) & (input <= lambd)
    shrunk = tg.where(input > lambd, input - lambd, input + lambd)  # x ∓ λ outside
    return tg.where(inside, 0.0, shrunk)


def tanhshrink(input: Tensor) -> Tensor:
    """Tanhshrink(x) = x − tanh(x).     Derivative: tanh²(x); smooth."""
    return input - input.tanh()


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit (Dauphin et al., 2017): GLU(x) = a·σ(b), where a and b are the
    first and second halves of x along ``dim``: (..., 2n, ...) -> (..., n, ...).

    Derivatives: ∂y/∂a = σ(b), ∂y/∂b = a·σ(b)(1 − σ(b)); smooth.
    """
    if input.ndim == 0:
        raise ValueError("glu: a 0-d tensor has no dimension to halve")
    size = input.shape[normalize_dim(dim, input.ndim, "glu")]
    if size % 2:
        raise ValueError(f"glu: halving dimension {dim} must be even, but it has size {size} "
                         f"(input of shape {input.shape})")
    first, second = input.chunk(2, dim)  # (..., n, ...) each
    return first * second.sigmoid()


def maxout(input: Tensor, pieces: int) -> Tensor:
    """The maxout activation (Goodfellow et al., 2013): the last dim, of size
    ``out * pieces``, cut into ``out`` groups of ``pieces`` consecutive values,
    and the max of each group: ``y[..., j] = max_k x[..., j * pieces + k]``.
    ``nn.Maxout`` is a Linear to ``out * pieces`` followed by this. The gradient
    goes to each group's maximum (shared equally among ties)."""
    if isinstance(pieces, bool) or not isinstance(pieces, int) or pieces < 1:
        raise ValueError(f"maxout: pieces must be a positive integer, got {pieces!r}")
    if input.ndim == 0 or input.shape[-1] % pieces:
        raise ValueError(f"maxout: the last dim of the input (shape {input.shape}) must be "
                         f"a multiple of pieces={pieces}")
    groups = input.reshape(*input.shape[:-1], input.shape[-1] // pieces, pieces)
    return groups.max(-1)                                   # (..., out, pieces) -> (..., out)


def _log_softmax(op: str, x: Tensor, dim: int | None, dtype, stacklevel: int = 3,
                 exp: bool = False) -> Tensor:
    """log softmax of x along ``dim``, the one fused op (ops/fused.py) behind softmax,
    log_softmax and softmin; ``exp=True``: its exponential, the softmax.
    ``dtype``: x is cast to it first (as PyTorch). A float16 x is computed in float32
    and the result cast back, as PyTorch's kernels do (``fused.softmax``, ``log_softmax``).
    ``dim=None`` is PyTorch's deprecated implicit choice, with its warning: dim 0 for a
    0-, 1- or 3-D input, dim 1 (the channels) otherwise. A 0-d x is a distribution of
    one value. ``stacklevel`` is PyTorch's ``_stacklevel`` (the third parameter of softmax and co.,
    before ``dtype``): which caller the warning names (3: the one calling ``F.softmax``)."""
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1
        warnings.warn(f"{op}: the implicit dimension choice is deprecated; pass dim=X "
                      f"(this call uses dim={dim})", UserWarning, stacklevel=stacklevel)
    dim = normalize_dim(dim, x.ndim, op)
    if dtype is not None:
        x = x.astype(dtype)
    return x.softmax(dim) if exp else x.log_softmax(dim)  # (0-d: log 1 = 0)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """softmax(x)_i = e^(x_i) / Σ_j e^(x_j) along ``dim``; computed as exp(log_softmax)
    so that no exponential overflows. ``dim``, ``_stacklevel`` and ``dtype`` (give it
    by keyword, as in PyTorch, whose third parameter is ``_stacklevel``): see
    ``_log_softmax``."""
    return _log_softmax("softmax", input, dim, dtype, _stacklevel, exp=True)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """log softmax(x)_i = x_i − log Σ_j e^(x_j), stable (one fused op: ops/fused.py)."""
    return _log_softmax("log_softmax", input, dim, dtype, _stacklevel)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """softmin(x) = softmax(−x) along ``dim``: weights that favour the smallest values.
    Jacobian: ∂y_i/∂x_j = −y_i(δ_ij − y_j)."""
    negated = -_floating(input)  # (ints: the default float first; −x of a uint8 would wrap)
    return _log_softmax("softmin", negated, dim, dtype, _stacklevel, exp=True)


# ----------------------------------------------------------------------- layers

def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ Wᵀ + b with W of shape (out_features, in_features) (PyTorch's layout).

    One fused op (``ops/fused.py: Linear``), for speed; ``x @ weight.T + bias``
    computes the same and is its oracle in the tests. A bias must broadcast over
    ``(..., out_features)``: (out_features,), (1,) or 0-d."""
    try:
        return fused.linear(input, weight, bias)  # (..., in) -> (..., out)
    except ValueError:  # (checked only here: the step's hot path pays nothing)
        if bias is not None and weight.ndim == 2 and bias.ndim > 0 and \
                bias.shape[-1] not in (1, weight.shape[0]):
            raise ValueError(f"linear: bias of shape {bias.shape} does not match "
                             f"out_features={weight.shape[0]} (weight {weight.shape})") from None
        raise


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale survivors by 1/(1−p).

    The scaling keeps E[output] = x, so evaluation (``training=False``) is the
    identity and needs no rescaling. ``inplace=True`` writes the result into x and
    returns x (``_in_place``); when there is nothing to drop, x is returned untouched.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    _check_floating(input, "dropout")
    if inplace:
        return _in_place(input, dropout, p, training)
    if p == 1.0:
        return input * 0.0
    uniform = backend.random_uniform(input.shape, input.dtype, input.device)
    keep = uniform >= p                                      # bool, P(keep) = 1 − p
    mask = keep.astype(input.dtype) / (1 - p)
    return input * Tensor(mask, device=input.device)


@computed_in_float32
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over every axis but the channel axis 1: (N, C) or (N, C, L, ...).

    Training (batch statistics, n = values per channel)::

        μ = mean(x)                   σ² = mean((x − μ)²)      (biased: / n)
        y = (x − μ) / √(σ² + eps) · γ + β
        running_mean ← (1 − momentum)·running_mean + momentum·μ
        running_var  ← (1 − momentum)·running_var  + momentum·σ²·n/(n − 1)   (unbiased)

    Evaluation (``training=False``) uses running_mean and running_var instead
    of μ and σ². μ and σ² are Tensor ops on x, so the gradient through the batch
    statistics comes from the engine. The running buffers are updated in place.
    Training raises for exactly one value per channel; an empty input gives an empty
    output and changes no running statistic (as PyTorch).
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input (N, C, ...), got shape {input.shape}")
    same_device("batch_norm", input, *[t for t in (running_mean, running_var, weight, bias)
                                       if t is not None])
    _check_per_channel("batch_norm", input, running_mean=running_mean,
                       running_var=running_var, weight=weight, bias=bias)
    channels = input.shape[1]
    stat_shape = (1, channels) + (1,) * (input.ndim - 2)  # (1, C, 1, ...): broadcasts over x
    if input.data.size == 0:
        # As PyTorch: an empty input gives an empty output, still joined to the graph (x·γ + β,
        # so γ and β get zero gradients), and leaves the running statistics untouched.
        return _affine(input, weight, bias, stat_shape)
    if training:
        reduce_dims = (0,) + tuple(range(2, input.ndim))  # every axis but the channels
        count = input.data.size // channels
        if count == 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, "
                f"got input of shape {input.shape}")
        affine = [t for t in (weight, bias) if t is not None]
        if backend.is_floating(input.dtype) and all(t.dtype == input.dtype and
                                                    t.shape == (channels,) for t in affine):
            statistics = []  # the composition below as one op, for speed (nn/fused_norm.py)
            out = fused_norm.BatchNorm.apply(input, *affine, dims=reduce_dims,
                                             affine_shape=stat_shape,
                                             has_weight=weight is not None, eps=eps,
                                             statistics=statistics)
            mean, var = (Tensor._make(array) for array in statistics[0])
            _update_running_statistics(running_mean, running_var, mean, var, count, momentum)
            return out
        mean = input.mean(dim=reduce_dims, keepdim=True)           # (1, C, 1, ...)
        centered = input - mean                                     # (N, C, ...)
        var = (centered * centered).mean(dim=reduce_dims, keepdim=True)  # biased
        _update_running_statistics(running_mean, running_var, mean, var, count, momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when "
                             "training=False")
        mean = running_mean.reshape(stat_shape)
        var = running_var.reshape(stat_shape)
        centered = input - mean
    x_hat = centered / (var + eps).sqrt()  # (N, C, ...), zero mean, unit variance
    return _affine(x_hat, weight, bias, stat_shape)


def _update_running_statistics(running_mean, running_var, mean, var, count, momentum):
    """The running averages of batch_norm (either may be None): the mean, and the
    variance made unbiased (σ²·n/(n − 1))."""
    if running_mean is not None:
        _update_running(running_mean, mean, momentum)
    if running_var is not None:
        _update_running(running_var, var * (count / (count - 1)), momentum)


@computed_in_float32
def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample over its last ``len(normalized_shape)`` axes::

        μ = mean(x)    σ² = mean((x − μ)²)    y = (x − μ) / √(σ² + eps) · γ + β

    γ and β have shape ``normalized_shape``; statistics are per sample, so
    training and evaluation compute the same thing. As PyTorch, normalized_shape has at
    least one size (an int, NumPy's too, is one) and γ, β must have exactly that shape.
    """
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(size) for size in normalized_shape)
    k = len(normalized_shape)
    if k == 0:  # no axis to normalise over (PyTorch raises too)
        raise ValueError(f"layer_norm: normalized_shape {normalized_shape} must have at least "
                         f"one size")
    if tuple(input.shape[input.ndim - k:]) != normalized_shape or input.ndim < k:
        raise ValueError(
            f"layer_norm: input of shape {input.shape} does not end with normalized_shape "
            f"{normalized_shape}")
    for name, parameter in (("weight", weight), ("bias", bias)):
        if parameter is not None and tuple(parameter.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} of shape {parameter.shape} does not match "
                             f"normalized_shape {normalized_shape}")
    dims = tuple(range(input.ndim - k, input.ndim))
    affine = [t for t in (weight, bias) if t is not None]
    same_device("layer_norm", input, *affine)
    if backend.is_floating(input.dtype) and all(t.dtype == input.dtype and
                                                t.shape == normalized_shape for t in affine):
        return fused_norm.LayerNorm.apply(input, *affine, dims=dims,  # the composition below
                                          affine_shape=normalized_shape,  # as one op, for speed
                                          has_weight=weight is not None, eps=eps)
    mean = input.mean(dim=dims, keepdim=True)                                # (..., 1, 1)
    centered = input - mean
    var = (centered * centered).mean(dim=dims, keepdim=True)           # biased
    x_hat = centered / (var + eps).sqrt()
    if weight is not None:
        x_hat = x_hat * weight  # normalized_shape broadcasts over the leading axes
    if bias is not None:
        x_hat = x_hat + bias
    return x_hat


# -------------------------------------------------------------------------------------- embedding

def embedding(input, weight: Tensor, padding_idx: int | None = None, max_norm=None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """Row lookup: ``y[..., :] = weight[input[...], :]``.

    Shapes: integer indices ``(*)`` and weight ``(num_embeddings, D)`` -> ``(*, D)``.
    The gradient of a row is the sum of the output gradients of every position
    that looked it up (indexing's backward scatter-adds). Positions equal to
    ``padding_idx`` (negative: counted from the end, as PyTorch) get the row's value
    but send it no gradient: their rows are taken from ``weight.detach()``.

    ``max_norm``: before the lookup, every row that ``input`` looks up whose
    ``norm_type``-norm exceeds max_norm is rescaled in place, under no-grad, as PyTorch::

        w_i ← w_i · max_norm / (‖w_i‖ + 1e-7)      where ‖w_i‖ > max_norm

    ``scale_grad_by_freq``: the gradient each position sends its row is divided by how
    many times that index occurs in ``input`` (the mini-batch), as PyTorch.
    Indices must be int32 or int64, as PyTorch's.
    """
    if sparse:
        raise NotImplementedError("embedding: sparse=True is not supported: sparse gradients "
                                  "need sparse tensors, and there are none here (use "
                                  "sparse=False)")
    if not isinstance(input, Tensor):
        input = tg.tensor(backend.to_device(input, weight.device), device=weight.device)
    if input.dtype not in (backend.int32, backend.int64):
        raise TypeError(f"embedding: indices must be integers (int32 or int64), got dtype "
                        f"{input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: 'weight' must be 2-D (num_embeddings, embedding_dim), "
                         f"got shape {weight.shape}")
    same_device("embedding", input, weight)
    count = weight.shape[0]
    if padding_idx is not None:
        if not -count <= padding_idx < count:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                             f"num_embeddings ({count}): in [{-count}, {count - 1}]")
        padding_idx %= count                              # -1: the last row
    if input.data.size > 0:
        low, high = input.data.min().item(), input.data.max().item()
        if low < 0 or high >= count:
            raise IndexError(f"embedding: index {low if low < 0 else high} is out of range "
                             f"for {count} embeddings (input of shape {input.shape})")
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    rows = weight[input]                                  # (*, D)
    if scale_grad_by_freq:
        rows = _gradient_divided_by_frequency(rows, input, count)
    if padding_idx is None:
        return rows
    keep = (input != padding_idx).unsqueeze(-1)           # (*, 1): False at padding
    return tg.where(keep, rows, weight.detach()[input])   # same values, no gradient at padding


def _gradient_divided_by_frequency(rows: Tensor, input: Tensor, count: int) -> Tensor:
    """``rows`` (*, D), whose gradient at each position is divided by the number of times
    its index occurs in ``input``: r̄ + (r − r̄)·s, with r̄ = rows.detach(), is exactly
    ``rows`` in value (r − r̄ = 0) and has gradient s = 1 / count."""
    xp = backend.xp_of(input.data)
    frequency = xp.bincount(input.data.reshape(-1), minlength=count)        # (num_embeddings,)
    scale = (1.0 / frequency[input.data]).astype(rows.dtype)[..., None]      # (*, 1)
    fixed = rows.detach()
    return fixed + (rows - fixed) * Tensor(scale, device=rows.device)


# PyTorch's in-place spellings: ``F.relu_(x)`` is ``F.relu(x, inplace=True)``.

def relu_(input: Tensor) -> Tensor:
    """``relu(x, inplace=True)``: x = max(x, 0), returned."""
    return relu(input, inplace=True)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``leaky_relu(x, negative_slope, inplace=True)``."""
    return leaky_relu(input, negative_slope, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``elu(x, alpha, inplace=True)``."""
    return elu(input, alpha, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``hardtanh(x, min_val, max_val, inplace=True)``."""
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """``threshold(x, threshold, value, inplace=True)``."""
    return _threshold(input, threshold, value, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``celu(x, alpha, inplace=True)``."""
    return celu(input, alpha, inplace=True)


def selu_(input: Tensor) -> Tensor:
    """``selu(x, inplace=True)``."""
    return selu(input, inplace=True)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    """``rrelu(x, lower, upper, training, inplace=True)``."""
    return rrelu(input, lower, upper, training, inplace=True)
