"""Volumetric (3-D) convolution, pooling and channel dropout as functions: NCDHW.

The 2-D layers' recipe (``nn/functional_conv.py``) with one more spatial axis.
``vol2col`` copies every kd×kh×kw window of a volume into one column, so a 3-D
convolution is ONE matrix product::

    x (N, C, D, H, W)  --vol2col-->  cols (N, C·kd·kh·kw, L)     L = OD·OH·OW windows
    weight (O, C, kd, kh, kw)  -->   W (O, C·kd·kh·kw)
    y = W @ cols                     (N, O, L)  -->  reshape (N, O, OD, OH, OW)

``Vol2Col`` (gather windows) and ``Col2Vol`` (scatter-add them back) are the two
primitives, each the other's backward, as Im2Col and Col2Im are; everything else
here is a composition with no backward code of its own:

* ``conv3d`` is the matmul above; ``conv_transpose3d`` is its adjoint,
  ``col2vol(Wᵀ @ x)``, then cropped (as ``conv_transpose2d``);
* ``max_pool3d`` / ``avg_pool3d`` reshape the columns to (N, C, kd·kh·kw, L) and
  take the max or the mean over the window axis;
* ``dropout3d`` and ``feature_alpha_dropout`` draw one keep-or-drop per channel.

Every function also takes one unbatched sample ``(C, D, H, W)``, as PyTorch. The
layers are in ``nn/conv3d.py``. ``nn/functional.py`` star-imports this file, so it
imports nothing from there (nor any Module file).
"""

from __future__ import annotations

import math
import warnings

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.nn.functional_conv import (_is_int, _lowest, _pool_option, _pool_stride,
                                             _tap_slice, _unbatched, check_average_dtype,
                                             integer_average,
                                             check_groups, check_transpose_options,
                                             check_transpose_tensors, conv_output_size,
                                             conv_transpose_output_size, pool_output_size)
from tinygrad_opt.nn.functional_more import (SELU_NEGATIVE_LIMIT, _check_floating,
                                             _check_probability,
                                             _feature_dropout, pad)
from tinygrad_opt.nn.im2col import window_argmax
from tinygrad_opt.ops.conveniences import write_back
from tinygrad_opt.ops.elementwise import where
from tinygrad_opt.tensor import Tensor

__all__ = ["Vol2Col", "Col2Vol", "conv3d", "conv_transpose3d", "max_pool3d", "avg_pool3d",
           "dropout3d", "feature_alpha_dropout"]


# ------------------------------------------------------------ the 3-D im2col and its transpose

def _triple(value, name: str, op_name: str) -> tuple[int, int, int]:
    """``3`` -> ``(3, 3, 3)``; a triple of ints stays; anything else is an error naming the op."""
    if _is_int(value):
        return (int(value),) * 3
    if isinstance(value, (tuple, list)) and len(value) == 3 and all(map(_is_int, value)):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise TypeError(f"{op_name}: {name} must be an int or a triple of ints, got {value!r}")


def _output_sizes(input_shape: tuple, options: tuple) -> tuple[int, int, int]:
    """``(OD, OH, OW)`` of a window sliding over the last three dims of ``input_shape``."""
    kernel_size, stride, padding, dilation = options
    return tuple(conv_output_size(size, k, s, p, d) for size, k, s, p, d in
                 zip(input_shape[-3:], kernel_size, stride, padding, dilation))


class Vol2Col(Function):
    """cols = vol2col(x): every kd×kh×kw window of the padded x as one column.

    x ``(N, C, D, H, W)`` -> cols ``(N, C·kd·kh·kw, OD·OH·OW)`` with::

        cols[n, (c, a, i, j), (od, oh, ow)]
            = x_padded[n, c, od·sd + a·dd, oh·sh + i·dh, ow·sw + j·dw]

    where (c, a, i, j) and (od, oh, ow) are flattened row-major. vol2col only
    copies values, so it is linear and its derivative is the transpose map:
    ``dL/dx = col2vol(dL/dcols)``, which adds each column entry back to the
    voxel it was copied from (a voxel in k overlapping windows gets k terms).
    """

    def forward(self, x: "Array", kernel_size, stride, padding, dilation,
                pad_value=0.0) -> "Array":
        xp = backend.xp_of(x)
        N, C, D, H, W = x.shape
        (kd, kh, kw), (sd, sh, sw), (pd, ph, pw), (dd, dh, dw) = (kernel_size, stride, padding,
                                                                  dilation)
        self.input_shape = x.shape
        self.options = (kernel_size, stride, padding, dilation)
        OD, OH, OW = _output_sizes(x.shape, self.options)
        # 1. Pad: the input sits in the middle of an array filled with pad_value.
        x_padded = xp.full((N, C, D + 2 * pd, H + 2 * ph, W + 2 * pw), pad_value, dtype=x.dtype)
        x_padded[:, :, pd:pd + D, ph:ph + H, pw:pw + W] = x
        # 2. Gather: what kernel tap (a, i, j) multiplies at every output position is one
        #    strided view of the padded input (see _tap_slice); kd·kh·kw block copies.
        cols = xp.empty((N, C, kd, kh, kw, OD, OH, OW), dtype=x.dtype)
        for a in range(kd):
            depths = _tap_slice(a, dd, sd, OD)
            for i in range(kh):
                rows = _tap_slice(i, dh, sh, OH)
                for j in range(kw):
                    columns = _tap_slice(j, dw, sw, OW)
                    block = x_padded[:, :, depths, rows, columns]  # (N, C, OD, OH, OW)
                    cols[:, :, a, i, j] = block
        return cols.reshape(N, C * kd * kh * kw, OD * OH * OW)

    def backward(self, grad_output: "Grad") -> "Grads":
        return Col2Vol.apply(grad_output, input_shape=self.input_shape, options=self.options)


class Col2Vol(Function):
    """x = col2vol(cols): the transpose of vol2col; each column entry is added back
    to the voxel it came from, and overlapping windows accumulate.

    cols ``(N, C·kd·kh·kw, OD·OH·OW)`` -> x ``(N, C, D, H, W)``::

        x_padded[n, c, od·sd + a·dd, oh·sh + i·dh, ow·sw + j·dw]
            += cols[n, (c, a, i, j), (od, oh, ow)]

    then the padding border is cut off. col2vol is linear, and its derivative is
    vol2col (with zero padding: the gradient never sees a pad value).
    """

    def forward(self, cols: "Array", input_shape: tuple, options: tuple) -> "Array":
        xp = backend.xp_of(cols)
        N, C, D, H, W = input_shape
        (kd, kh, kw), (sd, sh, sw), (pd, ph, pw), (dd, dh, dw) = options
        OD, OH, OW = _output_sizes(input_shape, options)
        self.options = options
        cols = cols.reshape(N, C, kd, kh, kw, OD, OH, OW)
        x_padded = xp.zeros((N, C, D + 2 * pd, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
        # Within one tap the output positions read distinct voxels, so a plain += is
        # exact; voxels shared by several taps (overlapping windows) get one term per tap.
        for a in range(kd):
            depths = _tap_slice(a, dd, sd, OD)
            for i in range(kh):
                rows = _tap_slice(i, dh, sh, OH)
                for j in range(kw):
                    columns = _tap_slice(j, dw, sw, OW)
                    x_padded[:, :, depths, rows, columns] += cols[:, :, a, i, j]
        return x_padded[:, :, pd:pd + D, ph:ph + H, pw:pw + W]  # (N, C, D, H, W)

    def backward(self, grad_output: "Grad") -> "Grads":
        kernel_size, stride, padding, dilation = self.options
        return Vol2Col.apply(grad_output, kernel_size=kernel_size, stride=stride,
                             padding=padding, dilation=dilation, pad_value=0.0)


# -------------------------------------------------------------------------- shared checks

def _batched(input: Tensor, op_name: str) -> tuple[Tensor, bool]:
    """``(N, C, D, H, W)`` as it is; an unbatched ``(C, D, H, W)`` with a batch of one added.

    Returns the batched input and whether a batch dim was added (``_unbatched`` drops it)."""
    if input.ndim == 5:
        return input, False
    if input.ndim == 4:
        return input.unsqueeze(0), True
    raise ValueError(f"{op_name}: expected a 5-D input (N, C, D, H, W), got shape "
                     f"{input.shape} (or a 4-D (C, D, H, W): one unbatched sample)")


def _window_options(kernel_size, stride, padding, dilation, op_name: str) -> tuple:
    """Checked triples ``(kernel_size, stride, padding, dilation)`` of a sliding window."""
    kernel_size = _triple(kernel_size, "kernel_size", op_name)
    stride = _triple(stride, "stride", op_name)
    padding = _triple(padding, "padding", op_name)
    dilation = _triple(dilation, "dilation", op_name)
    if min(kernel_size) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op_name}: kernel_size {kernel_size}, stride {stride} and dilation "
                         f"{dilation} must be positive and padding {padding} non-negative")
    return kernel_size, stride, padding, dilation


def _vol2col(x: Tensor, options: tuple, op_name: str, pad_value: float = 0.0
             ) -> tuple[Tensor, tuple[int, int, int]]:
    """Vol2Col of a batched x after checking that at least one window fits:
    ``(cols (N, C·kd·kh·kw, OD·OH·OW), (OD, OH, OW))``."""
    kernel_size, stride, padding, dilation = options
    sizes = _output_sizes(x.shape, options)
    if min(sizes) < 1:
        raise ValueError(
            f"{op_name}: input of shape {x.shape} is too small for kernel_size {kernel_size} "
            f"with padding {padding} and dilation {dilation} (output would be "
            f"{'x'.join(map(str, sizes))})")
    cols = Vol2Col.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                         dilation=dilation, pad_value=pad_value)
    return cols, sizes


# ------------------------------------------------------------------------------ convolution

def _same_padding(x: Tensor, kernel_size: tuple, stride, dilation, op_name: str
                  ) -> tuple[Tensor, tuple]:
    """PyTorch's ``padding='same'`` (stride 1): the window adds ``d·(k − 1)`` positions per
    axis; ``⌊d·(k − 1)/2⌋`` are padded on each side and, when that is odd, one more zero
    at the end of x. Returns (x, padding)."""
    if _triple(stride, "stride", op_name) != (1, 1, 1):
        raise ValueError(f"{op_name}: padding='same' is not supported for strided convolutions")
    dilation = _triple(dilation, "dilation", op_name)
    total = [d * (k - 1) for d, k in zip(dilation, kernel_size)]     # (D, H, W) order
    extra = [t % 2 for t in total]                                   # the uneven rest
    if any(extra):
        x = pad(x, (0, extra[2], 0, extra[1], 0, extra[0]))         # one zero at the end
    return x, tuple(t // 2 for t in total)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-D convolution (cross-correlation): NCDHW, weight (O, C/groups, kd, kh, kw).

    ::

        y[n, o, od, oh, ow] = b[o] + Σ_{c,a,i,j} W[o, c, a, i, j]
                              · x_pad[n, c, od·sd + a·dd, oh·sh + i·dh, ow·sw + j·dw]

    computed as ``W.reshape(O, C·kd·kh·kw) @ vol2col(x)``. With ``groups = G`` the
    channels are split into G groups and group g's outputs see only group g's inputs.
    ``padding`` is an int, a triple, ``'valid'`` (0) or ``'same'`` (stride 1; an uneven
    d·(k − 1) puts the extra zero at the end, as PyTorch).
    Shapes: input (N, C, D, H, W) or unbatched (C, D, H, W) -> (N, O, OD, OH, OW) or
    (O, OD, OH, OW), ``OD = (D + 2·pd − dd·(kd − 1) − 1) // sd + 1`` (OH, OW likewise).
    """
    op_name = "conv3d"
    x, added = _batched(input, op_name)
    if weight.ndim != 5:
        raise ValueError(f"{op_name}: expected a 5-D weight (O, C/groups, kd, kh, kw), "
                         f"got shape {weight.shape}")
    N, C = x.shape[:2]
    O, C_per_group, kd, kh, kw = weight.shape
    groups = check_groups(groups, op_name)
    if C % groups != 0 or O % groups != 0 or C_per_group * groups != C:
        raise ValueError(
            f"{op_name}: input of shape {input.shape} (C={C}) and weight of shape "
            f"{weight.shape} do not match with groups={groups}: expected weight.shape[1] * "
            f"groups == C and out channels divisible by groups")
    if bias is not None and tuple(bias.shape) != (O,):
        raise ValueError(f"{op_name}: bias of shape {bias.shape} does not match the {O} out "
                         f"channels of a weight of shape {weight.shape}")
    if input.device != weight.device:
        raise RuntimeError(f"{op_name}: input is on device '{input.device}', weight on "
                           f"'{weight.device}'")
    if padding == "valid":
        padding = 0
    elif padding == "same":
        x, padding = _same_padding(x, (kd, kh, kw), stride, dilation, op_name)
    elif isinstance(padding, str):
        raise ValueError(f"{op_name}: padding must be an int, a triple, 'valid' or 'same', "
                         f"got {padding!r}")
    options = _window_options((kd, kh, kw), stride, padding, dilation, op_name)
    cols, (OD, OH, OW) = _vol2col(x, options, op_name)
    K = C_per_group * kd * kh * kw                     # inputs of one dot product
    L = OD * OH * OW                                   # output positions
    if groups == 1:
        out = weight.reshape(O, K) @ cols              # (O, K) @ (N, K, L) -> (N, O, L)
    else:
        cols = cols.reshape(N, groups, K, L)           # (N, G, K, L): (c, a, i, j) is c-major
        w = weight.reshape(groups, O // groups, K)     # (G, O/G, K)
        out = (w @ cols).reshape(N, O, L)              # (N, G, O/G, L) -> (N, O, L)
    if bias is not None:
        out = out + bias.reshape(1, O, 1)              # (N, O, L)
    return _unbatched(out.reshape(N, O, OD, OH, OW), added)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """3-D transposed convolution (the adjoint of :func:`conv3d`): NCDHW, weight
    ``(C_in, C_out/groups, kd, kh, kw)``, PyTorch's layout and argument order.

    Every input voxel scatters its kernel, scaled by its value, into the output::

        y_full[n, g·C_out/G + o, d·sd + a·dd, h·sh + i·dh, w·sw + j·dw]
            += x[n, c, d, h, w] · W[c, o, a, i, j]
        y = y_full[:, :, pd : pd + OD, ph : ph + OH, pw : pw + OW] + b   (0 past y_full)

    for every input channel c of group g = c // (C_in/G). Computed as
    ``col2vol(Wᵀ @ x)`` without padding, then cropped. ``output_padding`` (each smaller
    than its stride or its dilation) keeps more at the end of each axis.
    Shapes: input (N, C_in, D, H, W) or unbatched (C_in, D, H, W) -> (N, C_out, OD, OH, OW)
    or (C_out, OD, OH, OW), with ``OD = (D − 1)·sd − 2·pd + dd·(kd − 1) + opd + 1``
    (OH, OW alike).
    """
    op_name = "conv_transpose3d"
    x, added = _batched(input, op_name)
    if weight.ndim != 5:
        raise ValueError(f"{op_name}: expected a 5-D weight (C_in, C_out/groups, kd, kh, kw), "
                         f"got shape {weight.shape}")
    N, C_in, D, H, W = x.shape
    _, C_out_per_group, kd, kh, kw = weight.shape
    groups = check_transpose_tensors(input, weight, bias, groups, op_name)
    C_out = C_out_per_group * groups
    kernel_size = (kd, kh, kw)
    stride = _triple(stride, "stride", op_name)
    padding = _triple(padding, "padding", op_name)
    output_padding = _triple(output_padding, "output_padding", op_name)
    dilation = _triple(dilation, "dilation", op_name)
    check_transpose_options(kernel_size, stride, padding, output_padding, dilation, op_name)
    sizes = tuple(conv_transpose_output_size(*axis) for axis in
                  zip((D, H, W), kernel_size, stride, padding, output_padding, dilation))
    if min(sizes) < 1:
        raise ValueError(f"{op_name}: input of shape {input.shape} with kernel_size "
                         f"{kernel_size}, stride {stride}, padding {padding}, output_padding "
                         f"{output_padding} and dilation {dilation} gives an output of "
                         f"{'x'.join(map(str, sizes))}, too small")
    G = groups
    K = C_out_per_group * kd * kh * kw                 # one input voxel's scaled kernels
    # 1. Each input voxel times its kernels: cols = Wᵀ @ x within each group.
    x = x.reshape(N, G, C_in // G, D * H * W)          # (N, G, C_in/G, L), L = D·H·W
    w = weight.reshape(G, C_in // G, K)                # (G, C_in/G, K)
    cols = w.transpose(1, 2) @ x                       # (G, K, C_in/G) @ (...) -> (N, G, K, L)
    cols = cols.reshape(N, C_out * kd * kh * kw, D * H * W)  # (o, a, i, j) is o-major
    # 2. Scatter-add the kernels into the full, uncropped output: col2vol without padding
    #    (a conv3d without padding over the full output has exactly D·H·W windows).
    full_sizes = tuple(conv_transpose_output_size(size, k, s, 0, 0, d) for size, k, s, d
                       in zip((D, H, W), kernel_size, stride, dilation))
    full = Col2Vol.apply(cols, input_shape=(N, C_out) + full_sizes,
                         options=(kernel_size, stride, (0, 0, 0), dilation))  # (N, C_out, FD, ..)
    # 3. Crop `padding` from each end; keep `output_padding` more at the end (zeros past it).
    (pd, ph, pw), (opd, oph, opw) = padding, output_padding
    out = pad(full, (-pw, opw - pw, -ph, oph - ph, -pd, opd - pd))  # (N, C_out, OD, OH, OW)
    if bias is not None:
        out = out + bias.reshape(1, C_out, 1, 1, 1)
    return _unbatched(out, added)


# --------------------------------------------------------------------------------- pooling

def _pool_input(x: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool,
                fill: float, op_name: str) -> tuple[Tensor, tuple]:
    """Checked options of a 3-D pooling and the input its (floor-mode) vol2col reads.

    Returns ``(x_ready, (kernel_size, stride, padding, dilation))``, each a triple (a
    1-tuple is repeated, as PyTorch); ``stride`` defaults to ``kernel_size`` (None or
    empty). With ``ceil_mode`` the last windows may run
    past the padded input (:func:`pool_output_size`): ``x_ready`` is x with the slices
    they miss added at the end of each axis, filled with ``fill`` (a value that changes
    no window's result), so that vol2col of ``x_ready`` has exactly those windows.
    """
    stride = _pool_stride(stride, kernel_size)
    options = _window_options(*map(_pool_option, (kernel_size, stride, padding, dilation)),
                              op_name)
    kernel_size, stride, padding, dilation = options
    if any(p > k // 2 for p, k in zip(padding, kernel_size)):
        raise ValueError(f"{op_name}: pad should be at most half of effective kernel size, "
                         f"but got padding {padding} and kernel_size {kernel_size}")
    sizes = tuple(pool_output_size(size, k, s, p, d, ceil_mode) for size, k, s, p, d in
                  zip(x.shape[2:], *options))
    if min(sizes) < 1:
        raise ValueError(
            f"{op_name}: input of shape {x.shape} is too small for kernel_size {kernel_size} "
            f"with padding {padding} and dilation {dilation} (output would be "
            f"{'x'.join(map(str, sizes))})")
    # The last window covers padded positions (out − 1)·s + t·d, t < k: those past size + 2p.
    missing = [max(0, (out - 1) * s + d * (k - 1) + 1 - (size + 2 * p)) for out, size, k, s, p, d
               in zip(sizes, x.shape[2:], *options)]                       # (D, H, W) order
    if any(missing):
        x = pad(x, (0, missing[2], 0, missing[1], 0, missing[0]), value=fill)
    return x, options


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over each kd×kh×kw window::

        y[n, c, od, oh, ow] = max_{a,i,j} x_pad[n, c, od·sd + a·dd, oh·sh + i·dh,
                                                ow·sw + j·dw]

    Padding is with −inf (a pad never wins), as PyTorch; ``stride`` defaults to
    ``kernel_size``; ``ceil_mode=True`` keeps a last window that runs past the end.
    Gradient: dL/dy goes to the window's maximum; elements that tie for it share it
    equally (the core ``max`` rule, as ``max_pool2d`` here; PyTorch gives all of it to
    one of them). ``return_indices=True`` returns ``(y, indices)`` with
    ``indices = d·H·W + h·W + w`` of the window's first maximum (its last NaN if any; its
    first in-bounds position if all are −inf), flat in its (D, H, W) volume as PyTorch;
    y is then read from x there, so that element gets the gradient.
    Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW), twice with indices.
    """
    x, added = _batched(input, "max_pool3d")
    ready, options = _pool_input(x, kernel_size, stride, padding, dilation, ceil_mode,
                                 _lowest(x.dtype), "max_pool3d")
    if return_indices:
        return _unbatched(_max_pool3d_with_indices(x, ready, options), added)
    cols, (OD, OH, OW) = _vol2col(ready, options, "max_pool3d", pad_value=_lowest(x.dtype))
    N, C = x.shape[:2]
    (kd, kh, kw) = options[0]
    windows = cols.reshape(N, C, kd * kh * kw, OD * OH * OW)  # (N, C, kd·kh·kw, L); N may be 0
    # a copy of max's output: its backward reads that output, and PyTorch's (which reads
    # saved indices) lets a following ReLU(inplace=True) write to y
    y = windows.max(dim=2).reshape(N, C, OD, OH, OW)
    return _unbatched(y.clone() if y.requires_grad else y, added)


def _max_pool3d_with_indices(x: Tensor, ready: Tensor, options: tuple) -> tuple[Tensor, Tensor]:
    """Each window's maximum and its flat index ``d·H·W + h·W + w`` in x's volume.

    The argmax is taken on the arrays (no graph): vol2col of ``ready``'s values, and the
    same vol2col of a volume holding each position's flat index (−1 in the padding and
    the ceil-mode extension); :func:`window_argmax` picks the position as PyTorch does.
    The output is x gathered there; a window wholly in the padding (possible with
    dilation) has the index −1 and the value −inf.
    """
    N, C, D, H, W = x.shape
    xp = backend.get_xp(x.device)
    cols, (OD, OH, OW) = _vol2col(ready.detach(), options, "max_pool3d",
                                  pad_value=_lowest(x.dtype))
    L = OD * OH * OW
    (kd, kh, kw) = options[0]
    values = cols.data.reshape(N, C, kd * kh * kw, L)              # (N, C, kd·kh·kw, L)
    volume = xp.full((1, 1) + ready.shape[2:], -1, dtype=backend.int64)
    volume[0, 0, :D, :H, :W] = xp.arange(D * H * W).reshape(D, H, W)  # flat index; −1 past x
    where_from, _ = _vol2col(Tensor(volume, device=x.device), options, "max_pool3d",
                             pad_value=-1)                         # (1, kd·kh·kw, L)
    indices = window_argmax(values, where_from.data[0], xp)        # (N, C, L)
    in_volume = indices >= 0
    safe = Tensor(xp.where(in_volume, indices, 0), device=x.device)
    picked = x.reshape(N, C, D * H * W).gather(2, safe)            # (N, C, L)
    output = where(Tensor(in_volume, device=x.device), picked, _lowest(x.dtype))
    indices = Tensor(indices.reshape(N, C, OD, OH, OW), device=x.device)
    return output.reshape(N, C, OD, OH, OW), indices


def _window_counts(size: int, out: int, kernel: int, stride: int, padding: int,
                   count_include_pad: bool, xp):
    """Along one axis, how many positions of each window count in the average: those
    inside the padded input ``[0, size + 2p)``, or inside the input ``[p, p + size)`` only
    (padded coordinates; window o covers ``[o·s, o·s + k)``). A window's divisor is the
    product of its three counts, since windows and the regions counted are boxes."""
    start = xp.arange(out) * stride                                # (out,)
    end = start + kernel
    if count_include_pad:
        return xp.minimum(end, size + 2 * padding) - start
    return xp.minimum(end, padding + size) - xp.maximum(start, padding)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over each kd×kh×kw window::

        y[n, c, od, oh, ow] = (1 / divisor) Σ_{a,i,j} x_pad[n, c, od·sd + a, oh·sh + i,
                                                           ow·sw + j]

    Padding is with zeros; ``stride`` defaults to ``kernel_size``; ``ceil_mode=True``
    keeps a last window that runs past the end. The divisor is PyTorch's:
    ``divisor_override`` if given; else the number of the window's positions inside the
    padded input (kd·kh·kw, fewer only for a ceil-mode window past the end) with
    ``count_include_pad=True`` (the default), or inside the input only with False.
    An int64 input gives int64, as PyTorch's CPU kernel: the window sum divided by the
    divisor in integer arithmetic, truncated toward zero.
    Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW).
    """
    op_name = "avg_pool3d"
    if divisor_override is not None and (not isinstance(divisor_override, int)
                                         or isinstance(divisor_override, bool)
                                         or divisor_override == 0):
        raise ValueError(f"{op_name}: divisor_override must be a non-zero int or None, "
                         f"got {divisor_override!r}")
    x, added = _batched(input, op_name)
    check_average_dtype(x, op_name)
    ready, options = _pool_input(x, kernel_size, stride, padding, 1, ceil_mode, 0.0, op_name)
    cols, (OD, OH, OW) = _vol2col(ready, options, op_name)
    N, C = x.shape[:2]
    (kd, kh, kw) = options[0]
    sums = cols.reshape(N, C, kd * kh * kw, OD * OH * OW).sum(dim=2)   # (N, C, L)
    if divisor_override is not None:
        divisor = divisor_override
    else:
        xp = backend.get_xp(x.device)
        kernel_size, stride, padding, _ = options
        d, h, w = (_window_counts(size, out, k, s, p, count_include_pad, xp) for size, out, k, s, p
                   in zip(x.shape[2:], (OD, OH, OW), kernel_size, stride, padding))
        counts = d[:, None, None] * h[None, :, None] * w[None, None, :]   # (OD, OH, OW)
        divisor = Tensor(counts.reshape(1, 1, -1).astype(x.dtype), device=x.device)  # (1, 1, L)
    if not backend.is_floating(x.dtype):
        return _unbatched(integer_average(sums, divisor).reshape(N, C, OD, OH, OW), added)
    return _unbatched((sums / divisor).reshape(N, C, OD, OH, OW), added)


# --------------------------------------------------------------------------------- dropout

def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel dropout for ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``: each channel
    volume is zeroed as a whole with probability p, the others scaled by 1/(1 − p) (so
    E[y] = x); evaluation is the identity. ``inplace``: as ``F.dropout``.

    Any other number of dims is accepted with PyTorch's deprecation warning and read, as
    PyTorch does, as unbatched: one draw per entry of the first dim, shared by the rest."""
    _check_probability(p)
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: received a {input.ndim}-D input, which PyTorch deprecates "
                      "(dropout3d is channel dropout of a 4-D or 5-D input); each entry of "
                      "its first dim is dropped whole; use dropout instead", stacklevel=2)
    if not training or p == 0.0:
        return input
    # PyTorch puts a batch dim of 1 in front of all but a 5-D input: the channels are dim 0
    batched = input.ndim == 5
    mask_shape = input.shape[:2 if batched else 1] + (1,) * (input.ndim - (2 if batched else 1))
    return _feature_dropout(input, p, mask_shape, input.ndim + (not batched), inplace,
                            "dropout3d")                               # (N, C, 1, 1, 1)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Alpha dropout (see ``F.alpha_dropout``) of whole channels: one keep-or-drop draw per
    entry of the first two dims (``(N, C)``, as PyTorch), shared by all positions after.
    A dropped channel is set to SELU's negative limit −α' (α' = λα ≈ 1.7581), and then::

        a = 1 / √((α'²·p + 1)(1 − p))        b = a·α'·p
        y = a·x + b where kept,   y = −a·α' + b where dropped

    which keeps zero mean and unit variance for SELU networks. ``training=False`` by
    default, as PyTorch; p = 1 gives zeros. ``inplace``: as ``F.dropout``.
    """
    _check_probability(p)
    if not training or p == 0.0:  # (before the dims are asked for, as PyTorch)
        return input
    _check_floating(input, "feature_alpha_dropout")
    if inplace:
        return write_back(input, feature_alpha_dropout, p, training)
    if p == 1.0:
        return input * 0.0
    if input.ndim < 2:
        raise RuntimeError(f"feature_alpha_dropout: feature dropout requires at least 2 "
                           f"dimensions (N, C, *) in the input, got shape {input.shape}")
    alpha = SELU_NEGATIVE_LIMIT
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    b = a * alpha * p
    mask_shape = input.shape[:2] + (1,) * (input.ndim - 2)          # (N, C, 1, ...)
    keep = backend.random_uniform(mask_shape, input.dtype, input.device) >= p
    kept_or_limit = where(Tensor(keep, device=input.device), input, -alpha)  # broadcast
    return a * kept_or_limit + b
