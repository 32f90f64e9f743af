"""Functional forms of the layers: ``import tinygrad_opt.nn.functional as F``.

Every function here is a composition of Tensor ops, so its gradient comes
from the engine and needs no backward code: reading ``F.elu`` is reading the
formula. Two exceptions are primitives with their own backward, each for a
reason stated in its docstring: ``erf`` (NumPy has none) and ``log1p``
(``log(1 + e)`` loses every digit of a tiny ``e``).

Numerical care, once for all: a branch that ``where`` does not select still
takes part in backward (with a zero gradient), and ``0 * inf = nan``. So no
branch is ever allowed to overflow, even where it is not used: ELU feeds
``exp`` only ``min(x, 0)``, softplus only ``-|x|``.

Every functional form lives here, and the layer modules import from this file,
never the other way round: the activations and normalisations, then
convolution and pooling (im2col; the layers are in ``nn/conv.py``), embedding,
and the losses (their Modules are in ``nn/loss.py``).
"""

from __future__ import annotations

import math

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Function
from tinygrad_opt.ops import fused
from tinygrad_opt.ops.fused import CrossEntropy
from tinygrad_opt.tensor import Tensor


def _random_tensor(like: Tensor, low: float, high: float) -> Tensor:
    """Uniform samples on [low, high) with ``like``'s shape, dtype and device (no grad)."""
    array = backend.random_uniform(like.shape, like.dtype, like.device, low, high)
    return Tensor(array, device=like.device)


# ---------------------------------------------------------------- two primitives

class Log1p(Function):
    """y = log(1 + x).   dy/dx = 1 / (1 + x).

    A primitive because ``log(1 + x)`` composed of two ops rounds ``1 + x`` to
    1 when ``|x|`` is below the float epsilon and returns 0 instead of ``x``;
    ``xp.log1p`` keeps every digit. Softplus and BCE-with-logits need this.
    """

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).log1p(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output / (1 + x)


def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for tiny x (see ``Log1p``)."""
    return Log1p.apply(x)


class Erf(Function):
    """y = erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt.   dy/dx = (2/√π) e^(−x²).

    A primitive because NumPy has no erf. The forward evaluates two
    polynomials, Chebyshev fits made for this file (with mpmath, to 1e-18) and
    expanded into powers of s; their coefficients sum to about 1 in absolute
    value, so Horner's rule loses nothing:

    * ``|x| ≤ 2``:    erf(x)  = x · G(s),               s = x²/2 − 1 ∈ [−1, 1]
    * ``2 < |x| < 6``: erfc(|x|) = e^(−x²)/|x| · H(s),  s = 6/|x| − 2 ∈ [−1, 1]
    * ``|x| ≥ 6``:    erf(x) = ±1 (erfc(6) ≈ 2e-17 is below float64's resolution)

    Accurate to a few units in the last place, in float64 and in float32.
    """

    G = (0.674933236039655, -0.2611118609312454, 0.11947913860985186, -0.04866277744915503,
         0.017128344571816653, -0.005234875836158878, 0.001405091423652028,
         -0.00033514353352396425, 7.180100843849609e-05, -1.3946273745435833e-05,
         2.4758020496978075e-06, -4.0450946099912016e-07, 6.119567714146862e-08,
         -8.617701483059107e-09, 1.1348248891775e-09, -1.4013463829861674e-10,
         1.6331415164389115e-11, -1.8923035835006617e-12, 1.9723520410355402e-13)
    H = (0.5370034535441699, -0.023826556739807003, -0.003204801317103938, 0.000905926898512243,
         -7.918369000299698e-05, -1.243025638953138e-05, 5.915637396848956e-06,
         -1.0172708488449049e-06, 1.1240279703132703e-08, 4.793985502936637e-08,
         -1.5840737523869455e-08, 2.5353286063377724e-09, 7.347343847850663e-11,
         -1.8639916176811568e-10, 6.473934995932704e-11, -1.2265645371243546e-11,
         2.67005693513259e-13, 8.432848572385547e-13, -3.6093181709905695e-13,
         6.170488273726176e-14)

    def forward(self, x: "Array") -> "Array":
        xp = backend.xp_of(x)
        if x.dtype == backend.float16:
            return self.forward(x.astype(backend.float32)).astype(x.dtype)
        size = xp.abs(x)
        near = xp.clip(x, -2.0, 2.0)  # each branch sees only its own range: no overflow
        erf_near = near * _horner(self.G, near * near / 2 - 1)
        far = xp.clip(size, 2.0, 6.0)
        erfc_far = xp.exp(-far * far) / far * _horner(self.H, 6 / far - 2)
        erf_far = xp.sign(x) * (1 - erfc_far)
        return xp.where(size <= 2, erf_near, xp.where(size < 6, erf_far, xp.sign(x)))

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output * (2 / math.sqrt(math.pi)) * self.xp.exp(-x * x)


def _horner(coefficients, s):
    """a_0 + a_1·s + ... + a_n·sⁿ as (...(a_n·s + a_{n−1})·s + ...)·s + a_0, in place."""
    result = coefficients[-1] * s + coefficients[-2]
    for a in reversed(coefficients[:-2]):
        result *= s
        result += a
    return result


def erf(x: Tensor) -> Tensor:
    """The error function, elementwise (see ``Erf``)."""
    return Erf.apply(x)


# ------------------------------------------------------------------ activations

def sigmoid(x: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e^−x); never overflows (the core op works from e^−|x|)."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """tanh(x) = (e^x − e^−x) / (e^x + e^−x)."""
    return x.tanh()


def relu(x: Tensor) -> Tensor:
    """max(x, 0); the derivative at 0 is taken as 0 (as PyTorch)."""
    return x.relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope·x otherwise."""
    return tg.where(x > 0, x, x * negative_slope)


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """x for x > 0, a·x otherwise, with ``a = weight`` learned per channel (dim 1).

    ``weight`` has one element (shared by all channels) or ``C`` elements for an
    input ``(N, C, ...)``.
    """
    if weight.ndim != 1:
        raise ValueError(f"prelu: weight must be 1-D, got shape {weight.shape}")
    channels = weight.shape[0]
    if channels != 1:
        if x.ndim < 2 or x.shape[1] != channels:
            raise ValueError(
                f"prelu: weight of {channels} elements needs an input (N, {channels}, ...), "
                f"got shape {x.shape}")
        slope = weight.reshape(1, channels, *([1] * (x.ndim - 2)))  # (1, C, 1, ...)
    else:
        slope = weight.reshape(*([1] * x.ndim)) if x.ndim > 0 else weight.reshape(())
    return tg.where(x > 0, x, x * slope)


def rrelu(x: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False) -> Tensor:
    """Randomized leaky ReLU: x for x > 0, a·x otherwise.

    Training: a fresh slope ``a ~ U(lower, upper)`` per element and per call.
    Evaluation: the mean slope ``a = (lower + upper) / 2``.
    """
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    slope = _random_tensor(x, lower, upper)  # same shape as x, no gradient
    return tg.where(x > 0, x, x * slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, α(e^x − 1) otherwise.

    ``exp`` only sees ``min(x, 0)``, so a large positive x cannot overflow in the
    unused branch (its inf would turn into nan in backward).
    """
    negative_part = tg.where(x > 0, 0.0, x)  # min(x, 0), derivative 1 at x = 0 as PyTorch
    return tg.where(x > 0, x, alpha * (negative_part.exp() - 1))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: Tensor) -> Tensor:
    """λ·ELU(x, α) with λ ≈ 1.0507 and α ≈ 1.6733 (the self-normalising constants)."""
    return SELU_SCALE * elu(x, SELU_ALPHA)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x·Φ(x) with Φ the standard normal CDF.

    ``approximate='none'``: Φ(x) = ½(1 + erf(x/√2)).
    ``approximate='tanh'``: Φ(x) ≈ ½(1 + tanh(√(2/π)(x + 0.044715x³))).
    """
    if approximate == "none":
        return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + inner.tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Tensor) -> Tensor:
    """SiLU (swish): x·σ(x)."""
    return x * x.sigmoid()


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """(1/β)·log(1 + e^(βx)), and x itself where βx > threshold (as PyTorch).

    Stable form: log(1 + e^z) = max(z, 0) + log1p(e^−|z|), where e^−|z| ≤ 1.
    ``max`` and ``−|z|`` are built from ``where`` so that the derivative at
    z = 0 comes out as σ(0) = ½ (relu and abs would both give 0 there).
    """
    z = x * beta
    positive_part = tg.where(z > 0, z, 0.0)   # max(z, 0)
    negative_part = tg.where(z > 0, 0.0, z)   # min(z, 0)
    minus_abs = negative_part - positive_part  # −|z|
    softplus_z = positive_part + log1p(minus_abs.exp())
    return tg.where(z > threshold, x, softplus_z / beta)


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return x / (1 + x.abs())


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; gradient 1 strictly inside, 0 outside and
    on the edges (PyTorch's convention)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is greater than max_val {max_val}")
    clipped_low = tg.where(x <= min_val, min_val, x)
    return tg.where(x >= max_val, max_val, clipped_low)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """softmax(x)_i = e^(x_i) / Σ_j e^(x_j) along ``dim``; computed as exp(log_softmax)
    so that no exponential overflows."""
    return log_softmax(x, dim).exp()


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """log softmax(x)_i = x_i − log Σ_j e^(x_j), stable (one fused op: ops/fused.py)."""
    return x.log_softmax(dim)


# ----------------------------------------------------------------------- layers

def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ Wᵀ + b with W of shape (out_features, in_features) (PyTorch's layout).

    One fused op (``ops/linalg.py: Linear``), for speed; ``x @ weight.T + bias``
    computes the same and is its oracle in the tests."""
    return fused.linear(x, weight, bias)  # (..., in) -> (..., out)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale survivors by 1/(1−p).

    The scaling keeps E[output] = x, so evaluation (``training=False``) is the
    identity and needs no rescaling.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = backend.random_uniform(x.shape, x.dtype, x.device) >= p  # bool, P(keep) = 1 − p
    mask = keep.astype(x.dtype) / (1 - p)
    return x * Tensor(mask, device=x.device)


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
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
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input (N, C, ...), got shape {x.shape}")
    channels = x.shape[1]
    stat_shape = (1, channels) + (1,) * (x.ndim - 2)  # (1, C, 1, ...): broadcasts over x
    if training:
        reduce_dims = (0,) + tuple(range(2, x.ndim))  # every axis but the channels
        count = x.data.size // channels
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, "
                f"got input of shape {x.shape}")
        mean = x.mean(dim=reduce_dims, keepdim=True)           # (1, C, 1, ...)
        centered = x - mean                                     # (N, C, ...)
        var = (centered * centered).mean(dim=reduce_dims, keepdim=True)  # biased
        if running_mean is not None:
            _update_running(running_mean, mean, momentum)
        if running_var is not None:
            _update_running(running_var, var * (count / (count - 1)), momentum)  # unbiased
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when "
                             "training=False")
        mean = running_mean.reshape(stat_shape)
        var = running_var.reshape(stat_shape)
        centered = x - mean
    x_hat = centered / (var + eps).sqrt()  # (N, C, ...), zero mean, unit variance
    return _affine(x_hat, weight, bias, stat_shape)


def _update_running(running: Tensor, batch_stat: Tensor, momentum: float) -> None:
    """running ← (1 − momentum)·running + momentum·batch_stat, in place, no graph."""
    batch_array = batch_stat.data.reshape(running.shape)
    running.data[...] = (1 - momentum) * running.data + momentum * batch_array


def _affine(x_hat: Tensor, weight: Tensor | None, bias: Tensor | None, shape) -> Tensor:
    """γ·x̂ + β with γ, β reshaped to broadcast over x̂ (either may be None)."""
    if weight is not None:
        x_hat = x_hat * weight.reshape(shape)
    if bias is not None:
        x_hat = x_hat + bias.reshape(shape)
    return x_hat


def layer_norm(x: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample over its last ``len(normalized_shape)`` axes::

        μ = mean(x)    σ² = mean((x − μ)²)    y = (x − μ) / √(σ² + eps) · γ + β

    γ and β have shape ``normalized_shape``; statistics are per sample, so
    training and evaluation compute the same thing.
    """
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(x.shape[x.ndim - k:]) != normalized_shape or x.ndim < k:
        raise ValueError(
            f"layer_norm: input of shape {x.shape} does not end with normalized_shape "
            f"{normalized_shape}")
    dims = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(dim=dims, keepdim=True)                                # (..., 1, 1)
    centered = x - mean
    var = (centered * centered).mean(dim=dims, keepdim=True)           # biased
    x_hat = centered / (var + eps).sqrt()
    if weight is not None:
        x_hat = x_hat * weight  # normalized_shape broadcasts over the leading axes
    if bias is not None:
        x_hat = x_hat + bias
    return x_hat


# --------------------------------- convolution and pooling (im2col; the layers are in nn/conv.py)

def _pair(value, name: str, op_name: str) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(3, 2)`` stays; anything else is an error naming the op."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        return (value[0], value[1])
    raise TypeError(f"{op_name}: {name} must be an int or a pair of ints, got {value!r}")


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """``(size + 2·padding − dilation·(kernel − 1) − 1) // stride + 1`` (PyTorch's formula).

    The window of output position o covers input rows o·stride + i·dilation
    for i = 0..kernel−1 (in padded coordinates); the last position whose whole
    window fits inside the padded input is the output size minus one.
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _tap_slice(tap: int, dilation: int, stride: int, out_size: int) -> slice:
    """The padded-input rows (or columns) that kernel tap ``tap`` sees, one per output.

    Output position o reads padded row ``o·stride + tap·dilation``; for
    o = 0, 1, ..., out_size−1 these rows form the strided slice
    ``tap·dilation : tap·dilation + stride·(out_size − 1) + 1 : stride``.
    """
    start = tap * dilation
    return slice(start, start + stride * (out_size - 1) + 1, stride)


class Im2Col(Function):
    """cols = im2col(x): every kh×kw window of the padded x as one column.

    x ``(N, C, H, W)`` -> cols ``(N, C·kh·kw, OH·OW)`` with::

        cols[n, (c, i, j), (oh, ow)] = x_padded[n, c, oh·sh + i·dh, ow·sw + j·dw]

    where (c, i, j) and (oh, ow) are flattened row-major. im2col is linear in
    x (it only copies values), so its derivative is the transpose map:
    ``dL/dx = col2im(dL/dcols)``, which adds each column entry back to the
    pixel it was copied from (a pixel in k overlapping windows gets k terms).
    """

    def forward(self, x: "Array", kernel_size, stride, padding, dilation, pad_value=0.0) -> "Array":
        xp = backend.xp_of(x)
        N, C, H, W = x.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
        OH = conv_output_size(H, kh, sh, ph, dh)
        OW = conv_output_size(W, kw, sw, pw, dw)
        self.input_shape = x.shape
        self.options = (kernel_size, stride, padding, dilation)
        # 1. Pad: the input sits in the middle of an array filled with pad_value.
        x_padded = xp.full((N, C, H + 2 * ph, W + 2 * pw), pad_value, dtype=x.dtype)
        x_padded[:, :, ph:ph + H, pw:pw + W] = x
        # 2. Gather: for each kernel tap (i, j), the values it multiplies at every
        #    output position form a strided view of the padded input (see _tap_slice).
        #    The loop runs kh·kw times (9 for a 3×3 kernel); each step moves a whole
        #    (N, C, OH, OW) block, so the work is vectorised over images and positions.
        cols = xp.empty((N, C, kh, kw, OH, OW), dtype=x.dtype)
        for i in range(kh):
            rows = _tap_slice(i, dh, sh, OH)
            for j in range(kw):
                columns = _tap_slice(j, dw, sw, OW)
                cols[:, :, i, j] = x_padded[:, :, rows, columns]  # (N, C, OH, OW)
        return cols.reshape(N, C * kh * kw, OH * OW)

    def backward(self, grad_output: "Grad") -> "Grads":
        return Col2Im.apply(grad_output, input_shape=self.input_shape, options=self.options)


class Col2Im(Function):
    """x = col2im(cols): the transpose of im2col; each column entry is added
    back to the pixel it came from, and overlapping windows accumulate.

    cols ``(N, C·kh·kw, OH·OW)`` -> x ``(N, C, H, W)``::

        x_padded[n, c, oh·sh + i·dh, ow·sw + j·dw] += cols[n, (c, i, j), (oh, ow)]

    then the padding border is cut off. col2im is linear, and its derivative is
    im2col (with zero padding: the gradient never sees a pad value).
    """

    def forward(self, cols: "Array", input_shape: tuple, options: tuple) -> "Array":
        xp = backend.xp_of(cols)
        N, C, H, W = input_shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = options
        OH = conv_output_size(H, kh, sh, ph, dh)
        OW = conv_output_size(W, kw, sw, pw, dw)
        self.options = options
        cols = cols.reshape(N, C, kh, kw, OH, OW)
        x_padded = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
        # The same kh·kw strided views as in Im2Col, now accumulated: within one tap
        # the output positions read distinct pixels, so a plain += is exact; pixels
        # shared by several taps (overlapping windows) get one term per tap.
        for i in range(kh):
            rows = _tap_slice(i, dh, sh, OH)
            for j in range(kw):
                columns = _tap_slice(j, dw, sw, OW)
                x_padded[:, :, rows, columns] += cols[:, :, i, j]  # (N, C, OH, OW)
        return x_padded[:, :, ph:ph + H, pw:pw + W]  # cut the padding off: (N, C, H, W)

    def backward(self, grad_output: "Grad") -> "Grads":
        kernel_size, stride, padding, dilation = self.options
        return Im2Col.apply(grad_output, kernel_size=kernel_size, stride=stride,
                            padding=padding, dilation=dilation, pad_value=0.0)


def _check_image(x: Tensor, op_name: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{op_name}: expected a 4-D input (N, C, H, W), got shape {x.shape}")


def _im2col(x: Tensor, kernel_size, stride, padding, dilation, op_name: str,
            pad_value: float = 0.0) -> tuple[Tensor, int, int]:
    """Checked im2col: ``(cols (N, C·kh·kw, OH·OW), OH, OW)``."""
    _check_image(x, op_name)
    kernel_size = _pair(kernel_size, "kernel_size", op_name)
    stride = _pair(stride, "stride", op_name)
    padding = _pair(padding, "padding", op_name)
    dilation = _pair(dilation, "dilation", op_name)
    if min(kernel_size) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op_name}: kernel_size {kernel_size}, stride {stride} and dilation "
                         f"{dilation} must be positive and padding {padding} non-negative")
    H, W = x.shape[2:]
    OH = conv_output_size(H, kernel_size[0], stride[0], padding[0], dilation[0])
    OW = conv_output_size(W, kernel_size[1], stride[1], padding[1], dilation[1])
    if OH < 1 or OW < 1:
        raise ValueError(
            f"{op_name}: input of shape {x.shape} is too small for kernel_size {kernel_size} "
            f"with padding {padding} and dilation {dilation} (output would be {OH}x{OW})")
    cols = Im2Col.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                        dilation=dilation, pad_value=pad_value)
    return cols, OH, OW


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col: ``(N, C, H, W)`` -> ``(N, C·kh·kw, L)``, every sliding window as a
    column (PyTorch's ``F.unfold``, same layout). See :class:`Im2Col`."""
    cols, _, _ = _im2col(input, kernel_size, stride, padding, dilation, "unfold")
    return cols


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """col2im: ``(N, C·kh·kw, L)`` -> ``(N, C, H, W)`` with ``(H, W) = output_size``,
    overlapping windows summed (PyTorch's ``F.fold``; the adjoint of ``unfold``)."""
    H, W = _pair(output_size, "output_size", "fold")
    kernel_size = _pair(kernel_size, "kernel_size", "fold")
    options = (kernel_size, _pair(stride, "stride", "fold"), _pair(padding, "padding", "fold"),
               _pair(dilation, "dilation", "fold"))
    if input.ndim != 3 or input.shape[1] % (kernel_size[0] * kernel_size[1]) != 0:
        raise ValueError(f"fold: expected an input (N, C·kh·kw, L) with kernel_size "
                         f"{kernel_size}, got shape {input.shape}")
    N, CK, L = input.shape
    C = CK // (kernel_size[0] * kernel_size[1])
    OH, OW = (conv_output_size(size, k, s, p, d) for size, k, s, p, d in
              zip((H, W), *options))
    if OH * OW != L:
        raise ValueError(f"fold: input of shape {input.shape} has {L} windows, but "
                         f"output_size {(H, W)} gives {OH}x{OW} = {OH * OW}")
    return Col2Im.apply(input, input_shape=(N, C, H, W), options=options)


# ------------------------------------------------------------------- functional forms

def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as every framework): NCHW, weight (O, C/groups, kh, kw).

    ::

        y[n, o, oh, ow] = b[o] + Σ_{c,i,j} W[o, c, i, j] · x_pad[n, c, oh·sh + i·dh, ow·sw + j·dw]

    computed as ``W.reshape(O, C·kh·kw) @ im2col(x)``. With ``groups = G`` the
    C input channels and O output channels are split into G groups and group g's
    outputs see only group g's inputs (G = C is a depthwise convolution).
    ``padding`` may also be ``'valid'`` (0) or ``'same'`` (stride 1, symmetric
    padding dilation·(k − 1)/2, which must be a whole number).
    Shapes: input (N, C, H, W) -> output (N, O, OH, OW), OH as in
    :func:`conv_output_size`.
    """
    _check_image(input, "conv2d")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-D weight (O, C/groups, kh, kw), "
                         f"got shape {weight.shape}")
    N, C, H, W = input.shape
    O, C_per_group, kh, kw = weight.shape
    if groups < 1 or C % groups != 0 or O % groups != 0 or C_per_group * groups != C:
        raise ValueError(
            f"conv2d: input of shape {input.shape} (C={C}) and weight of shape {weight.shape} "
            f"do not match with groups={groups}: expected weight.shape[1] * groups == C and "
            "out channels divisible by groups")
    if input.device != weight.device:
        raise RuntimeError(f"conv2d: input is on device '{input.device}', weight on "
                           f"'{weight.device}'")
    padding = _resolve_padding(padding, (kh, kw), stride, dilation)
    cols, OH, OW = _im2col(input, (kh, kw), stride, padding, dilation, "conv2d")
    K = C_per_group * kh * kw                          # inputs of one dot product
    if groups == 1:
        out = weight.reshape(O, K) @ cols              # (O, K) @ (N, K, L) -> (N, O, L)
    else:
        cols = cols.reshape(N, groups, K, OH * OW)     # (N, G, K, L): (c, i, j) is c-major
        w = weight.reshape(groups, O // groups, K)     # (G, O/G, K)
        out = (w @ cols).reshape(N, O, OH * OW)        # (N, G, O/G, L) -> (N, O, L)
    if bias is not None:
        out = out + bias.reshape(1, O, 1)              # (N, O, L)
    return out.reshape(N, O, OH, OW)


def _resolve_padding(padding, kernel_size, stride, dilation):
    """Turn ``'valid'``/``'same'`` into numbers; leave ints and pairs as they are."""
    if padding == "valid":
        return 0
    if padding != "same":
        return padding
    if _pair(stride, "stride", "conv2d") != (1, 1):
        raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
    dilation = _pair(dilation, "dilation", "conv2d")
    total = [d * (k - 1) for d, k in zip(dilation, kernel_size)]  # rows the window adds
    if any(t % 2 for t in total):
        raise ValueError(f"conv2d: padding='same' with kernel_size {kernel_size} and dilation "
                         f"{dilation} needs uneven padding, which is not supported")
    return (total[0] // 2, total[1] // 2)


def _check_pool_padding(kernel_size, padding, op_name: str) -> None:
    kernel_size = _pair(kernel_size, "kernel_size", op_name)
    padding = _pair(padding, "padding", op_name)
    if any(p > k // 2 for p, k in zip(padding, kernel_size)):
        raise ValueError(f"{op_name}: pad should be at most half of effective kernel size, "
                         f"but got padding {padding} and kernel_size {kernel_size}")


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1) -> Tensor:
    """Max over each kh×kw window::

        y[n, c, oh, ow] = max_{i,j} x_pad[n, c, oh·sh + i·dh, ow·sw + j·dw]

    Padding is with −inf (a pad never wins), as PyTorch; ``stride`` defaults to
    ``kernel_size``. Gradient: dL/dy goes to the window's maximum; when several
    elements of a window tie for the maximum they share it equally (the core
    ``max`` rule). PyTorch gives all of it to the first one; values agree, and
    gradients agree whenever there is no tie.
    Shapes: (N, C, H, W) -> (N, C, OH, OW).
    """
    stride = kernel_size if stride is None else stride
    _check_pool_padding(kernel_size, padding, "max_pool2d")
    cols, OH, OW = _im2col(input, kernel_size, stride, padding, dilation, "max_pool2d",
                           pad_value=-math.inf)
    N, C = input.shape[:2]
    windows = cols.reshape(N, C, -1, OH * OW)            # (N, C, kh·kw, L)
    return windows.max(dim=2).reshape(N, C, OH, OW)      # (N, C, OH, OW)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0,
               count_include_pad: bool = True) -> Tensor:
    """Mean over each kh×kw window::

        y[n, c, oh, ow] = (1 / (kh·kw)) Σ_{i,j} x_pad[n, c, oh·sh + i, ow·sw + j]

    Padding is with zeros. With ``count_include_pad=True`` (PyTorch's default)
    the divisor is always kh·kw; with False it is the number of real (non-pad)
    pixels in the window. ``stride`` defaults to ``kernel_size``.
    Shapes: (N, C, H, W) -> (N, C, OH, OW).
    """
    stride = kernel_size if stride is None else stride
    _check_pool_padding(kernel_size, padding, "avg_pool2d")
    cols, OH, OW = _im2col(input, kernel_size, stride, padding, 1, "avg_pool2d")
    N, C = input.shape[:2]
    windows = cols.reshape(N, C, -1, OH * OW)            # (N, C, kh·kw, L)
    if count_include_pad:
        return windows.mean(dim=2).reshape(N, C, OH, OW)
    # The number of real pixels per window: im2col of an all-ones image.
    xp = backend.get_xp(input.device)
    ones = Tensor(xp.ones((1, 1) + input.shape[2:], dtype=input.dtype), device=input.device)
    counts, _, _ = _im2col(ones, kernel_size, stride, padding, 1, "avg_pool2d")
    counts = counts.sum(dim=1, keepdim=True)             # (1, 1, L)
    return (windows.sum(dim=2) / counts).reshape(N, C, OH, OW)


# -------------------------------------------------------------------------------------- embedding

def embedding(input, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Row lookup: ``y[..., :] = weight[input[...], :]``.

    Shapes: integer indices ``(*)`` and weight ``(num_embeddings, D)`` -> ``(*, D)``.
    The gradient of a row is the sum of the output gradients of every position
    that looked it up (indexing's backward scatter-adds). Positions equal to
    ``padding_idx`` get the row's value but send it no gradient: their rows
    are taken from ``weight.detach()``.
    """
    if not isinstance(input, Tensor):
        input = tg.tensor(backend.to_device(input, weight.device), device=weight.device)
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {input.dtype}")
    count = weight.shape[0]
    if input.data.size > 0:
        low, high = input.data.min().item(), input.data.max().item()
        if low < 0 or high >= count:
            raise IndexError(f"embedding: index {low if low < 0 else high} is out of range "
                             f"for {count} embeddings (input of shape {input.shape})")
    rows = weight[input]                                  # (*, D)
    if padding_idx is None:
        return rows
    keep = (input != padding_idx).unsqueeze(-1)           # (*, 1): False at padding
    return tg.where(keep, rows, weight.detach()[input])   # same values, no gradient at padding


# --------------------------------------------------------- losses (the Modules are in nn/loss.py)

REDUCTIONS = ("mean", "sum", "none")
LOG_FLOOR = -100.0  # PyTorch's BCE clamps log(p) and log(1 - p) at -100


# --------------------------------------------------------------------------
# Shared helpers: argument checks, conversions, reduction
# --------------------------------------------------------------------------

def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply a reduction to per-element losses."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_tensor(op: str, what: str, value, like: Tensor, cast: bool = False) -> Tensor:
    """A target or weight as a Tensor on ``like``'s device.

    Arrays, lists and numbers are moved to the device explicitly, floats in
    ``like``'s dtype. Tensors must already live on that device; with ``cast``
    (weight vectors) a floating Tensor is converted to ``like``'s dtype too, so
    a float32 weight does not turn a float64 loss into float32 or back."""
    if isinstance(value, Tensor):
        if value.device != like.device:
            raise RuntimeError(
                f"{op}: {what} is on device '{value.device}' but input is on '{like.device}'; "
                f"move it with .to('{like.device}') (a loss module: loss_fn.to('{like.device}'))")
        if cast and backend.is_floating(value.dtype) and value.dtype != like.dtype:
            return value.astype(like.dtype)
        return value
    array = backend.to_device(value, like.device)
    if backend.is_floating(array.dtype) or array.dtype == backend.bool_:
        array = array.astype(like.dtype)
    return Tensor(array)


def _check_same_shape(op: str, input: Tensor, target: Tensor) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{op}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} "
            "differ; they must be equal")


def _check_broadcasts_to(op: str, what: str, tensor: Tensor, shape: tuple) -> None:
    """``tensor`` must broadcast to ``shape`` without changing it."""
    try:
        result = backend.broadcast_shapes(tuple(tensor.shape), tuple(shape))
    except ValueError:
        result = None
    if result != tuple(shape):
        raise ValueError(
            f"{op}: {what} of shape {tuple(tensor.shape)} does not broadcast to the input "
            f"shape {tuple(shape)}")


def _pointwise_arguments(op: str, input: Tensor, target, reduction: str) -> Tensor:
    """Checks shared by the elementwise losses; returns target as a Tensor."""
    _check_reduction(op, reduction)
    target = _as_tensor(op, "target", target, input)
    _check_same_shape(op, input, target)
    return target


def _clamped_log(p: Tensor) -> Tensor:
    """max(log(p), -100), PyTorch's clamp in binary cross-entropy.

    log(0) is never evaluated: where p == 0 the log is taken of 1 instead and
    the result replaced by -100. So the value is finite and the gradient there
    is 0 rather than 0 * inf = nan."""
    positive = p > 0
    safe_p = tg.where(positive, p, tg.ones_like(p))
    floor = tg.full(tuple(p.shape), LOG_FLOOR, dtype=p.dtype, device=p.device)
    return tg.where(positive, safe_p.log(), floor).clip(min=LOG_FLOOR)


def _log_softmax(x: Tensor, dim: int = 1) -> Tensor:
    """log softmax(x) = x - logsumexp(x), run as the fused LogSoftmax op (ops/fused.py):
    the largest logit is subtracted first, so +-1e4 logits give finite log-probabilities."""
    return x.log_softmax(dim)


def _class_weight(op: str, weight, input: Tensor, num_classes: int):
    """A per-class weight vector of shape (C,) as a Tensor, or None."""
    if weight is None:
        return None
    weight = _as_tensor(op, "weight", weight, input, cast=True)
    if tuple(weight.shape) != (num_classes,):
        raise ValueError(
            f"{op}: weight must have shape ({num_classes},), one entry per class, "
            f"got {tuple(weight.shape)}")
    return weight


def _classes_last(x: Tensor) -> Tensor:
    """(N, C, d1, ..., dk) -> (N*d1*...*dk, C): one row of class scores per prediction."""
    if x.ndim == 2:
        return x
    num_classes = x.shape[1]
    dims = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.permute(*dims).reshape(-1, num_classes)


def _class_broadcast(vector: Tensor, ndim: int) -> Tensor:
    """A (C,) vector reshaped to (1, C, 1, ..., 1) to broadcast along the class dim."""
    return vector.reshape(1, -1, *([1] * (ndim - 2)))


def _class_targets(op: str, input: Tensor, target, ignore_index=None):
    """Check integer class targets for scores of shape (N, C, d1, ...).

    Returns the int64 target array on the input's device, of shape
    (N, d1, ...), and how many targets equal ``ignore_index``. Raises on a
    float target, a wrong shape, or a class outside 0..C-1 (``ignore_index``
    excepted), reading the targets once on the host."""
    if isinstance(target, Tensor):
        if target.device != input.device:
            raise RuntimeError(
                f"{op}: target is on device '{target.device}' but input is on '{input.device}'")
        array = target.data
    else:
        array = backend.to_device(target, input.device)
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: class-index targets must be integers, got dtype {array.dtype} "
            f"of shape {tuple(array.shape)} (class probabilities need the input's shape "
            f"{tuple(input.shape)})")
    if array.dtype != backend.int64:
        array = array.astype(backend.int64)
    expected = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(array.shape) != expected:
        raise ValueError(
            f"{op}: input shape {tuple(input.shape)} needs class-index targets of shape "
            f"{expected}, got target shape {tuple(array.shape)}")
    num_classes = input.shape[1]
    host = backend.to_host(array)
    low, high = (host.min(), host.max()) if host.size else (0, 0)
    if 0 <= low and high < num_classes and not (
            ignore_index is not None and low <= ignore_index <= high):
        return array, 0  # the usual case, checked with two reductions
    out_of_range = (host < 0) | (host >= num_classes)
    num_ignored = 0
    if ignore_index is not None:
        ignored = host == ignore_index
        num_ignored = int(ignored.sum())
        out_of_range &= ~ignored
    if out_of_range.any():
        bad = host[out_of_range].reshape(-1)[0].item()
        allowed = "" if ignore_index is None else f" (or ignore_index={ignore_index})"
        raise IndexError(
            f"{op}: target value {bad} is out of range for {num_classes} classes: "
            f"expected 0..{num_classes - 1}{allowed}")
    return array, num_ignored


def _one_prediction_as_batch(input: Tensor, target):
    """An unbatched prediction (C,) with a scalar target becomes a batch of one:
    input (1, C), target (1,) (or (1, C) for probability targets)."""
    if isinstance(target, Tensor):
        return input.unsqueeze(0), target.unsqueeze(0)
    array = backend.to_device(target, input.device)
    return input.unsqueeze(0), array.reshape((1,) + tuple(array.shape))


def _is_probability_target(input: Tensor, target) -> bool:
    """PyTorch's rule: a floating target of the input's own shape holds class probabilities."""
    if not isinstance(target, Tensor) and not backend.is_array(target):
        target = backend.to_host(target)  # lists and numbers: a host NumPy array
    return backend.is_floating(target.dtype) and tuple(target.shape) == tuple(input.shape)


# --------------------------------------------------------------------------
# Regression losses
# --------------------------------------------------------------------------

def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error (the square loss):  l = (x - y)^2.

    dl/dx = 2 (x - y): the pull grows with the error, so outliers dominate."""
    target = _pointwise_arguments("mse_loss", input, target, reduction)
    difference = input - target
    return _reduce(difference * difference, reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean absolute error:  l = |x - y|.

    dl/dx = sign(x - y) (0 at x = y, as PyTorch): every error pulls equally hard."""
    target = _pointwise_arguments("l1_loss", input, target, reduction)
    return _reduce((input - target).abs(), reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Huber loss: square near the target, absolute beyond ``delta``::

        d = x - y
        l = 0.5 d^2                  if |d| < delta
        l = delta (|d| - 0.5 delta)  otherwise

    The two pieces meet with equal value and slope at |d| = delta."""
    target = _pointwise_arguments("huber_loss", input, target, reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    difference = input - target
    size = difference.abs()
    quadratic = 0.5 * difference * difference
    linear = delta * (size - 0.5 * delta)
    return _reduce(tg.where(size < delta, quadratic, linear), reduction)


def smooth_l1_loss(input: Tensor, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1 loss: Huber loss divided by beta, so the linear part has slope 1::

        d = x - y
        l = 0.5 d^2 / beta   if |d| < beta
        l = |d| - 0.5 beta   otherwise

    beta = 0 gives the L1 loss, as in PyTorch."""
    target = _pointwise_arguments("smooth_l1_loss", input, target, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    difference = input - target
    size = difference.abs()
    quadratic = 0.5 * difference * difference / beta
    linear = size - 0.5 * beta
    return _reduce(tg.where(size < beta, quadratic, linear), reduction)


# --------------------------------------------------------------------------
# Binary classification
# --------------------------------------------------------------------------

def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on probabilities p = input in [0, 1]::

        l = -w * [y log(p) + (1 - y) log(1 - p)]

    each log clamped below at -100 as PyTorch does, so p = 0 or 1 gives a
    finite loss. The gradient is the derivative of this formula as computed:
    0 for a clamped log. At p exactly 0 or 1 that differs from PyTorch, whose
    hand-written gradient is (p - y) / max(p(1 - p), 1e-12); on logits,
    binary_cross_entropy_with_logits is exact and stable everywhere.
    ``weight`` broadcasts to the input shape.
    Raises if some p lies outside [0, 1] (or is nan)."""
    op = "binary_cross_entropy"
    target = _pointwise_arguments(op, input, target, reduction)
    inside = (input.data >= 0) & (input.data <= 1)
    if not inside.all().item():
        raise ValueError(f"{op}: all elements of input must be probabilities in [0, 1]")
    loss = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    if weight is not None:
        weight = _as_tensor(op, "weight", weight, input, cast=True)
        _check_broadcasts_to(op, "weight", weight, input.shape)
        loss = weight * loss
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """Binary cross-entropy on logits x (p = sigmoid(x)), with weights::

        l = -w * [pw * y * log sigmoid(x) + (1 - y) * log(1 - sigmoid(x))]

    computed in the form that never overflows, from log sigmoid(x) = -softplus(-x)
    and log(1 - sigmoid(x)) = -x - softplus(-x)::

        l = w * [(1 - y) x + (1 + (pw - 1) y) softplus(-x)]

    ``pos_weight`` (pw) multiplies the loss of positives: a vector of shape (C,)
    weights each class (last dim), pw > 1 raises recall. ``weight`` (w) broadcasts
    to the input shape."""
    op = "binary_cross_entropy_with_logits"
    target = _pointwise_arguments(op, input, target, reduction)
    softplus_minus_x = softplus(-input, threshold=math.inf)  # exact for every x
    if pos_weight is None:
        loss = (1 - target) * input + softplus_minus_x
    else:
        pos_weight = _as_tensor(op, "pos_weight", pos_weight, input, cast=True)
        _check_broadcasts_to(op, "pos_weight", pos_weight, input.shape)
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_minus_x
    if weight is not None:
        weight = _as_tensor(op, "weight", weight, input, cast=True)
        _check_broadcasts_to(op, "weight", weight, input.shape)
        loss = weight * loss
    return _reduce(loss, reduction)


def hinge_loss(input: Tensor, target, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """Binary hinge loss (the SVM loss) on scores s with labels y in {-1, +1}::

        l = max(0, margin - y * s)

    Zero once a sample is on the right side with room ``margin`` to spare; a
    label of 0 (the 0/1 convention) is rejected, since it would silently give
    a constant loss."""
    op = "hinge_loss"
    target = _pointwise_arguments(op, input, target, reduction)
    host = backend.to_host(target.data)
    if not ((host == 1) | (host == -1)).all():
        bad = host[(host != 1) & (host != -1)].reshape(-1)[0].item()
        raise ValueError(f"{op}: targets must be -1 or +1, got {bad}")
    return _reduce((margin - target * input).relu(), reduction)


def sigmoid_focal_loss(input: Tensor, target, alpha: float = 0.25, gamma: float = 2.0,
                       reduction: str = "mean") -> Tensor:
    """Binary focal loss on logits (Lin et al. 2017, as torchvision computes it)::

        p     = sigmoid(x)
        ce    = binary_cross_entropy_with_logits(x, y)            per element
        p_t   = p y + (1 - p)(1 - y)          probability of the true label
        l     = alpha_t * (1 - p_t)^gamma * ce
        alpha_t = alpha y + (1 - alpha)(1 - y)   (left out when alpha < 0)

    (1 - p_t)^gamma shrinks the loss of easy, well-classified samples, so the
    many easy negatives of an imbalanced problem stop dominating the gradient.
    gamma = 0 and alpha < 0 give binary_cross_entropy_with_logits."""
    op = "sigmoid_focal_loss"
    target = _pointwise_arguments(op, input, target, reduction)
    if gamma < 0:
        raise ValueError(f"{op}: gamma must be non-negative, got {gamma}")
    loss = binary_cross_entropy_with_logits(input, target, reduction="none")
    if gamma != 0:  # (1 - p_t)^0 = 1; skipping it also avoids 0 * 0^-1 in its gradient
        p = input.sigmoid()
        p_t = p * target + (1 - p) * (1 - target)
        loss = loss * (1 - p_t) ** gamma
    if alpha >= 0:
        alpha_t = alpha * target + (1 - alpha) * (1 - target)
        loss = alpha_t * loss
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------
# Multiclass classification
# --------------------------------------------------------------------------

def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the true class, on log-probabilities::

        l_n = -w[y_n] * input[n, y_n]        (0 where y_n == ignore_index)
        'mean' = sum_n l_n / sum_n w[y_n]    over the non-ignored n

    input (N, C) or (N, C, d1, ...) of log-probabilities (e.g. log_softmax
    output), target (N,) or (N, d1, ...) of integer classes; an unbatched
    input (C,) takes a scalar target. With no weight, w = 1 and 'mean' is the
    mean over the non-ignored predictions (nan if all are ignored, as PyTorch)."""
    op = "nll_loss"
    _check_reduction(op, reduction)
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a scalar")
    if input.ndim == 1:
        batch_input, batch_target = _one_prediction_as_batch(input, target)
        loss = nll_loss(batch_input, batch_target, weight, ignore_index, reduction)
        return loss.reshape(()) if reduction == "none" else loss
    target, num_ignored = _class_targets(op, input, target, ignore_index)
    weight = _class_weight(op, weight, input, input.shape[1])
    losses, keep, total_weight = _picked_nll(input, target, weight, ignore_index, num_ignored)
    if reduction == "mean":
        return losses.sum() / total_weight
    if reduction == "sum":
        return losses.sum()
    return losses


def _picked_nll(log_probs: Tensor, target, weight, ignore_index: int, num_ignored: int):
    """Per-prediction losses l_n = -w[y_n] log p[n, y_n], 0 where y_n is ignored.

    log_probs (N, C, d...), target an int64 array (N, d...). Returns the losses
    (a Tensor of the target's shape), the keep mask (1 kept, 0 ignored; None
    when nothing is ignored) and the 'mean' denominator sum_n w[y_n] over the
    kept n (a Tensor, or a Python count when there is no weight)."""
    xp = backend.get_xp(log_probs.device)
    flat_target = target.reshape(-1)                                # (M,)
    num_predictions = flat_target.shape[0]
    keep = None
    if num_ignored:
        kept = flat_target != ignore_index                          # (M,) bool
        flat_target = xp.where(kept, flat_target, 0)                # ignored read class 0 ...
        keep = Tensor(kept.astype(log_probs.dtype))                 # ... and are multiplied by 0
    rows = xp.arange(num_predictions)                               # (M,)
    picked = _classes_last(log_probs)[rows, flat_target]            # (M,) log p[n, y_n]
    if weight is None:
        sample_weight = keep                                        # (M,) or None: w = 1
        total_weight = num_predictions - num_ignored
    else:
        sample_weight = weight[flat_target]                         # (M,) w[y_n]
        if keep is not None:
            sample_weight = sample_weight * keep
        total_weight = sample_weight.sum()
    losses = -picked if sample_weight is None else -(sample_weight * picked)  # (M,)
    if keep is not None:
        keep = keep.reshape(*target.shape)
    return losses.reshape(*target.shape), keep, total_weight


def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy on logits, PyTorch's ``F.cross_entropy``.

    input: logits (N, C), (N, C, d1, ...) or an unbatched (C,). With
    log p = log_softmax(input, dim=1) = input - logsumexp(input) (finite for
    logits of +-1e4), two kinds of target:

    Class indices, integers of shape (N, d1, ...)::

        l_n = -w[y_n] log p[n, y_n]            (0 where y_n == ignore_index)
        'mean' = sum_n l_n / sum_n w[y_n]      over the non-ignored n

      With label smoothing eps the true class gets 1 - eps and every class eps/C;
      as in PyTorch the result is::

        (1 - eps) * nll + (eps / C) * smooth,   smooth_n = -sum_c w[c] log p[n, c]

      where smooth is reduced like nll (ignored n dropped, 'mean' divided by
      the same sum_n w[y_n]).

    Class probabilities, floats of the input's shape (soft labels)::

        q = (1 - eps) target + eps / C
        l_n = -sum_c w[c] q[n, c] log p[n, c]
        'mean' = sum_n l_n / (number of predictions)   (weights do not normalise)

      ignore_index does not apply to probability targets.
    """
    op = "cross_entropy"
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a scalar")
    if input.ndim == 1:
        batch_input, batch_target = _one_prediction_as_batch(input, target)
        loss = cross_entropy(batch_input, batch_target, weight, ignore_index, reduction,
                             label_smoothing)
        return loss.reshape(()) if reduction == "none" else loss
    num_classes = input.shape[1]
    weight = _class_weight(op, weight, input, num_classes)
    if _is_probability_target(input, target):
        return _soft_cross_entropy(_log_softmax(input, dim=1),
                                   _as_tensor(op, "target", target, input),
                                   weight, reduction, label_smoothing)
    target, num_ignored = _class_targets(op, input, target, ignore_index)
    if (input.ndim == 2 and weight is None and num_ignored == 0 and label_smoothing == 0
            and reduction != "none" and input.shape[0] > 0):
        scale = 1 / input.shape[0] if reduction == "mean" else 1
        return CrossEntropy.apply(input, target=target, scale=scale)  # the fused op
    log_probs = _log_softmax(input, dim=1)                        # (N, C, d...)
    losses, keep, total_weight = _picked_nll(log_probs, target, weight, ignore_index,
                                             num_ignored)                     # (N, d...)
    if label_smoothing > 0:
        class_weight = 1 if weight is None else _class_broadcast(weight, input.ndim)
        smooth = -(log_probs * class_weight).sum(dim=1)                       # (N, d...)
        if keep is not None:
            smooth = smooth * keep                                            # ignored: 0
        losses = (1 - label_smoothing) * losses + (label_smoothing / num_classes) * smooth
    if reduction == "mean":
        return losses.sum() / total_weight
    if reduction == "sum":
        return losses.sum()
    return losses


def _soft_cross_entropy(log_probs: Tensor, target: Tensor, weight, reduction: str,
                        label_smoothing: float) -> Tensor:
    """Cross-entropy against class probabilities: l_n = -sum_c w[c] q[n, c] log p[n, c]."""
    _check_same_shape("cross_entropy", log_probs, target)
    num_classes = log_probs.shape[1]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / num_classes
    weighted = log_probs * target                                   # (N, C, d...)
    if weight is not None:
        weighted = weighted * _class_broadcast(weight, log_probs.ndim)
    losses = -weighted.sum(dim=1)                                   # (N, d...)
    return _reduce(losses, reduction)


def multi_margin_loss(input: Tensor, target, p: int = 1, margin: float = 1.0, weight=None,
                      reduction: str = "mean") -> Tensor:
    """Multiclass hinge loss (the multiclass SVM loss), PyTorch's definition::

        l_n = w[y_n] / C * sum_{i != y_n} max(0, margin - x[n, y_n] + x[n, i])^p

    Each wrong class i pays only if its score comes within ``margin`` of the
    true class's score. p is 1 or 2; input (N, C) or an unbatched (C,)."""
    op = "multi_margin_loss"
    _check_reduction(op, reduction)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got {p}")
    if input.ndim == 1:
        batch_input, batch_target = _one_prediction_as_batch(input, target)
        loss = multi_margin_loss(batch_input, batch_target, p, margin, weight, reduction)
        return loss.reshape(()) if reduction == "none" else loss
    if input.ndim != 2:
        raise ValueError(f"{op}: input must be (N, C) or (C,), got shape {tuple(input.shape)}")
    num_samples, num_classes = input.shape
    target, _ = _class_targets(op, input, target)
    weight = _class_weight(op, weight, input, num_classes)
    xp = backend.get_xp(input.device)
    rows = xp.arange(num_samples)
    true_score = input[rows, target].reshape(num_samples, 1)                # (N, 1)
    violation = (margin - true_score + input).relu()                         # (N, C)
    if p == 2:
        violation = violation * violation
    wrong_class = xp.arange(num_classes).reshape(1, -1) != target.reshape(-1, 1)  # (N, C)
    violation = violation * Tensor(wrong_class.astype(input.dtype))          # drop i == y_n
    losses = violation.sum(dim=1) / num_classes                              # (N,)
    if weight is not None:
        losses = losses * weight[target]
    return _reduce(losses, reduction)


def focal_loss(input: Tensor, target, gamma: float = 2.0, alpha=None,
               reduction: str = "mean") -> Tensor:
    """Multiclass focal loss on logits::

        log p_y = log_softmax(x)[y]     (stable for large logits)
        l_n     = -alpha[y_n] * (1 - p_y)^gamma * log p_y

    input (N, C) or (N, C, d1, ...), integer targets (N, d1, ...). ``alpha``
    is a per-class weight vector of shape (C,), a number (the same for every
    class) or None (1). 'mean' is the plain mean over predictions (not divided
    by the alpha weights). gamma = 0 with alpha None is cross_entropy."""
    op = "focal_loss"
    _check_reduction(op, reduction)
    if gamma < 0:
        raise ValueError(f"{op}: gamma must be non-negative, got {gamma}")
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C) or (N, C, d1, ...), "
                         f"got shape {tuple(input.shape)}")
    target, _ = _class_targets(op, input, target)
    xp = backend.get_xp(input.device)
    flat_target = target.reshape(-1)                                        # (M,)
    rows = xp.arange(flat_target.shape[0])
    log_p = _classes_last(_log_softmax(input, dim=1))[rows, flat_target]    # (M,) log p_y
    losses = -log_p
    if gamma != 0:  # (1 - p_y)^0 = 1; skipping it also avoids 0 * 0^-1 in its gradient
        losses = (1 - log_p.exp()) ** gamma * losses
    if alpha is not None:
        if isinstance(alpha, (int, float)):
            losses = alpha * losses
        else:
            alpha = _class_weight(op, alpha, input, input.shape[1])
            losses = alpha[flat_target] * losses                            # (M,) alpha[y]
    return _reduce(losses.reshape(*target.shape), reduction)
