"""Convolution and pooling as functions (im2col); the layers are in ``nn/conv.py``.

``Im2Col`` and ``Col2Im`` are the two primitives here, each with its own
backward; ``conv2d``, ``max_pool2d``, ``avg_pool2d``, ``unfold`` and ``fold``
are compositions on them, reached as ``F.conv2d`` and so on: ``nn/functional.py``
imports them from this file, which imports nothing from ``nn``.

Everything after them is a composition too, with no backward code: the 1-D
forms (``conv1d``, ``max_pool1d``, ``avg_pool1d``) are the 2-D ones over a
height-1 image; adaptive pooling (``adaptive_avg_pool2d``,
``adaptive_max_pool2d``, ``adaptive_avg_pool1d``) is slices, a mean or max and
a stack; ``group_norm`` is reshape, mean and variance.
"""

from __future__ import annotations

import math

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops.shape import stack
from tinygrad_opt.tensor import Tensor


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


# --------------------------------------- 1-D forms: the 2-D ones over a height-1 image (N, C, 1, L)

def _single(value, name: str, op_name: str) -> int:
    """``3`` -> ``3``; ``(3,)`` (PyTorch's 1-tuple) -> ``3``; anything else is an error."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"{op_name}: {name} must be an int or a 1-tuple of ints, got {value!r}")


def _check_sequence(x: Tensor, op_name: str) -> None:
    if x.ndim != 3:
        raise ValueError(f"{op_name}: expected a 3-D input (N, C, L), got shape {x.shape}")


def _check_window_1d(x: Tensor, kernel: int, stride: int, padding: int, dilation: int,
                     op_name: str) -> None:
    """The checks of ``_im2col``, with 1-D numbers in the message."""
    if kernel < 1 or stride < 1 or dilation < 1 or padding < 0:
        raise ValueError(f"{op_name}: kernel_size {kernel}, stride {stride} and dilation "
                         f"{dilation} must be positive and padding {padding} non-negative")
    length = conv_output_size(x.shape[2], kernel, stride, padding, dilation)
    if length < 1:
        raise ValueError(
            f"{op_name}: input of shape {x.shape} is too small for kernel_size {kernel} with "
            f"padding {padding} and dilation {dilation} (output length would be {length})")


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation): NCL, weight (O, C/groups, k)::

        y[n, o, t] = b[o] + Σ_{c,i} W[o, c, i] · x_pad[n, c, t·s + i·d]

    computed as :func:`conv2d` over a height-1 image: x ``(N, C, 1, L)`` and W
    ``(O, C/groups, 1, k)``, stride ``(1, s)``, padding ``(0, p)``, dilation
    ``(1, d)``; so im2col, the matmul and their backward are conv2d's. ``groups``
    and ``padding='valid'/'same'`` as in conv2d.
    Shapes: input (N, C, L) -> output (N, O, OL), OL = (L + 2p − d·(k − 1) − 1) // s + 1.
    """
    _check_sequence(input, "conv1d")
    if weight.ndim != 3:
        raise ValueError(f"conv1d: expected a 3-D weight (O, C/groups, k), "
                         f"got shape {weight.shape}")
    C = input.shape[1]
    O, C_per_group, k = weight.shape
    if groups < 1 or C % groups != 0 or O % groups != 0 or C_per_group * groups != C:
        raise ValueError(
            f"conv1d: input of shape {input.shape} (C={C}) and weight of shape {weight.shape} "
            f"do not match with groups={groups}: expected weight.shape[1] * groups == C and "
            "out channels divisible by groups")
    stride = _single(stride, "stride", "conv1d")
    dilation = _single(dilation, "dilation", "conv1d")
    if padding == "valid":
        padding = 0
    elif padding == "same":
        if stride != 1:
            raise ValueError("conv1d: padding='same' is not supported for strided convolutions")
        if dilation * (k - 1) % 2:
            raise ValueError(f"conv1d: padding='same' with kernel_size {k} and dilation "
                             f"{dilation} needs uneven padding, which is not supported")
        padding = dilation * (k - 1) // 2               # the window adds d·(k − 1) positions
    padding = _single(padding, "padding", "conv1d")
    _check_window_1d(input, k, stride, padding, dilation, "conv1d")
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, stride), (0, padding),
                 (1, dilation), groups)                # (N, O, 1, OL)
    return out.squeeze(2)                              # (N, O, OL)


def _pool1d_options(input: Tensor, kernel_size, stride, padding, dilation,
                    op_name: str) -> tuple[int, int, int, int]:
    """Checked ``(k, s, p, d)`` of a 1-D pooling; ``stride`` defaults to ``kernel_size``."""
    _check_sequence(input, op_name)
    kernel = _single(kernel_size, "kernel_size", op_name)
    stride = kernel if stride is None else _single(stride, "stride", op_name)
    padding = _single(padding, "padding", op_name)
    dilation = _single(dilation, "dilation", op_name)
    if padding > kernel // 2:
        raise ValueError(f"{op_name}: pad should be at most half of effective kernel size, "
                         f"but got padding {padding} and kernel_size {kernel}")
    _check_window_1d(input, kernel, stride, padding, dilation, op_name)
    return kernel, stride, padding, dilation


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1) -> Tensor:
    """Max over each window of k positions::

        y[n, c, t] = max_i x_pad[n, c, t·s + i·d]

    :func:`max_pool2d` over a height-1 image (−inf padding, ties share the
    gradient); ``stride`` defaults to ``kernel_size``.
    Shapes: (N, C, L) -> (N, C, OL).
    """
    k, s, p, d = _pool1d_options(input, kernel_size, stride, padding, dilation, "max_pool1d")
    out = max_pool2d(input.unsqueeze(2), (1, k), (1, s), (0, p), (1, d))  # (N, C, 1, OL)
    return out.squeeze(2)                                                 # (N, C, OL)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0,
               count_include_pad: bool = True) -> Tensor:
    """Mean over each window of k positions::

        y[n, c, t] = (1 / k) Σ_i x_pad[n, c, t·s + i]

    :func:`avg_pool2d` over a height-1 image (zero padding; with
    ``count_include_pad=False`` the divisor is the number of real positions);
    ``stride`` defaults to ``kernel_size``. Shapes: (N, C, L) -> (N, C, OL).
    """
    k, s, p, _ = _pool1d_options(input, kernel_size, stride, padding, 1, "avg_pool1d")
    out = avg_pool2d(input.unsqueeze(2), (1, k), (1, s), (0, p),
                     count_include_pad)                                   # (N, C, 1, OL)
    return out.squeeze(2)                                                 # (N, C, OL)


# ------------------------------------------------------- adaptive pooling: the output size is given

def adaptive_bins(size: int, out_size: int) -> list[tuple[int, int]]:
    """PyTorch's bins: bin i covers ``[floor(i·size/out), ceil((i+1)·size/out))``.

    The bins cover the input, neighbours overlap by at most one position, and
    when ``out_size`` divides ``size`` they are the windows of a pooling with
    kernel = stride = size/out. ``adaptive_bins(5, 3) == [(0, 2), (1, 4), (3, 5)]``.
    """
    return [((i * size) // out_size, -(-((i + 1) * size) // out_size)) for i in range(out_size)]


def _adaptive_sizes(input: Tensor, output_size, spatial: int, op_name: str) -> tuple:
    """``output_size`` as one int per spatial dim: an int is repeated, None keeps the input's."""
    if input.ndim not in (spatial + 1, spatial + 2):
        layout = "(N, C, H, W) or (C, H, W)" if spatial == 2 else "(N, C, L) or (C, L)"
        raise ValueError(f"{op_name}: expected a {spatial + 2}-D or {spatial + 1}-D input "
                         f"{layout}, got shape {input.shape}")
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * spatial
    if len(sizes) != spatial or not all(
            size is None or (isinstance(size, int) and not isinstance(size, bool) and size > 0)
            for size in sizes):
        raise ValueError(f"{op_name}: output_size must be a positive int or {spatial} of them "
                         f"(None keeps that size), got {output_size!r}")
    in_sizes = input.shape[input.ndim - spatial:]
    return tuple(size if out is None else out for size, out in zip(in_sizes, sizes))


def _adaptive_reduce(x: Tensor, out_size: int, dim: int, reduce: str) -> Tensor:
    """Reduce each bin of dim ``dim`` (negative) to one value: (..., L, ...) -> (..., out, ...)."""
    pieces = []
    for start, end in adaptive_bins(x.shape[dim], out_size):
        index = (Ellipsis, slice(start, end)) + (slice(None),) * (-dim - 1)
        window = x[index]                                # (..., end − start, ...)
        pieces.append(window.mean(dim=dim) if reduce == "mean" else window.max(dim=dim))
    return stack(pieces, dim=dim)                        # (..., out, ...)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Mean over each of OH×OW bins, whose sizes follow from the input's::

        y[n, c, i, j] = mean x[n, c, h0(i):h1(i), w0(j):w1(j)]
        h0(i) = floor(i·H/OH)    h1(i) = ceil((i+1)·H/OH)   (w likewise)

    ``output_size`` is an int, a pair, or a pair with None (keep that size).
    A bin is a rectangle, so its mean is the mean over W of the means over H:
    the bins are reduced one axis at a time (slices, mean, stack; no backward
    code). Bins may differ in size by one when OH does not divide H.
    Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW).
    """
    OH, OW = _adaptive_sizes(input, output_size, 2, "adaptive_avg_pool2d")
    rows = _adaptive_reduce(input, OH, -2, "mean")       # (..., OH, W)
    return _adaptive_reduce(rows, OW, -1, "mean")        # (..., OH, OW)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False) -> Tensor:
    """Max over each of OH×OW bins (the bins of :func:`adaptive_avg_pool2d`)::

        y[n, c, i, j] = max x[n, c, h0(i):h1(i), w0(j):w1(j)]

    reduced one axis at a time (the max of row maxima); ties share the gradient,
    as in ``max_pool2d``. Values only: ``return_indices=True`` is not supported.
    Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW).
    """
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices=True is not supported")
    OH, OW = _adaptive_sizes(input, output_size, 2, "adaptive_max_pool2d")
    rows = _adaptive_reduce(input, OH, -2, "max")        # (..., OH, W)
    return _adaptive_reduce(rows, OW, -1, "max")         # (..., OH, OW)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Mean over each of OL bins: ``y[n, c, i] = mean x[n, c, floor(i·L/OL):ceil((i+1)·L/OL)]``.

    Shapes: (N, C, L) or (C, L) -> (..., OL).
    """
    (OL,) = _adaptive_sizes(input, output_size, 1, "adaptive_avg_pool1d")
    return _adaptive_reduce(input, OL, -1, "mean")       # (..., OL)


# -------------------------------------------------- group normalisation (the conv nets' LayerNorm)

def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample's channel groups (Wu & He, 2018)::

        μ, σ² = mean and biased variance of x[n, group g] over (C/G, *spatial)
        y[n, c, ...] = (x[n, c, ...] − μ) / √(σ² + eps) · γ[c] + β[c]

    G = 1 normalises each sample over all its values (LayerNorm over (C, *)),
    G = C each channel of each sample alone (InstanceNorm). Statistics are per
    sample, so training and evaluation compute the same thing. γ and β are per
    channel, shape (C,). Shapes: (N, C, *) -> (N, C, *).
    """
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected an input (N, C, *), got shape {input.shape}")
    N, C = input.shape[:2]
    if num_groups < 1 or C % num_groups != 0:
        raise ValueError(f"group_norm: num_channels {C} (input of shape {input.shape}) must be "
                         f"divisible by num_groups {num_groups}")
    for name, parameter in (("weight", weight), ("bias", bias)):
        if parameter is not None and tuple(parameter.shape) != (C,):
            raise ValueError(f"group_norm: {name} of shape {parameter.shape} does not match "
                             f"the {C} channels of an input of shape {input.shape}")
    groups = input.reshape(N, num_groups, -1)            # (N, G, C/G · prod(spatial))
    mean = groups.mean(dim=2, keepdim=True)              # (N, G, 1)
    centered = groups - mean
    var = (centered * centered).mean(dim=2, keepdim=True)  # (N, G, 1), biased
    x_hat = (centered / (var + eps).sqrt()).reshape(input.shape)  # (N, C, *)
    per_channel = (1, C) + (1,) * (input.ndim - 2)       # γ, β broadcast over N and *
    if weight is not None:
        x_hat = x_hat * weight.reshape(per_channel)
    if bias is not None:
        x_hat = x_hat + bias.reshape(per_channel)
    return x_hat
