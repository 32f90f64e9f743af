"""Convolution and pooling as functions (im2col); the layers are in ``nn/conv.py``.

``Im2Col`` and ``Col2Im`` (``nn/im2col.py``) are the two primitives, each with its
own backward; ``conv2d``, ``max_pool2d``, ``avg_pool2d``, ``unfold`` and ``fold``
are compositions on them, reached as ``F.conv2d`` and so on (``nn/functional.py``
imports them from this file). Three compositions run as one fused op each, for speed:
``conv2d`` (same float dtypes: ``fused_conv.Conv2d``), ``max_pool2d``
(``fused_conv.MaxPool2d``) and ``avg_pool2d`` of floats (``fused_conv.AvgPool2d``); the
compositions stay the definitions, written in their docstrings and comments, and are
the fused ops' test oracles.

Everything else here is a composition too, with no backward code: the 1-D
forms (``conv1d``, ``max_pool1d``, ``avg_pool1d``) are the 2-D ones over a
height-1 image; adaptive pooling (``adaptive_avg_pool2d``,
``adaptive_max_pool2d``, ``adaptive_avg_pool1d``) is slices, a mean or max and
a stack; ``group_norm`` is reshape, mean and variance.

As in PyTorch, every function also takes one unbatched sample, ``(C, L)`` or
``(C, H, W)``: it gets a batch dim of one, runs, and loses it again (``_batched``).
The poolings' ``ceil_mode`` keeps a last window that runs past the end of the
input (see :func:`pool_output_size`): the input gets the missing rows at its end,
filled with a value that changes no window's result (−inf for max, 0 for a sum),
and the floor-mode im2col of that is the ceil-mode one.
"""

from __future__ import annotations

import math
import numbers

from tinygrad_opt import backend
from tinygrad_opt.nn import fused_conv
from tinygrad_opt.nn.im2col import (Col2Im, Im2Col, _tap_slice, conv_output_size,  # noqa: F401
                                    window_argmax)
from tinygrad_opt.ops import elementwise
from tinygrad_opt.ops.elementwise import where
from tinygrad_opt.ops.shape import cat, stack
from tinygrad_opt.ops.statistics import computed_in_float32
from tinygrad_opt.tensor import Tensor


# --------------------------------- convolution and pooling (im2col; the layers are in nn/conv.py)

def _is_int(value) -> bool:
    """A Python or NumPy integer (``np.int64(3)`` too, as PyTorch accepts), never a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _pair(value, name: str, op_name: str) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(3, 2)`` stays; anything else is an error naming the op."""
    if _is_int(value):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(map(_is_int, value)):
        return (int(value[0]), int(value[1]))
    raise TypeError(f"{op_name}: {name} must be an int or a pair of ints, got {value!r}")


def _check_image(x: Tensor, op_name: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{op_name}: expected a 4-D input (N, C, H, W), got shape {x.shape}")


BATCHED_LAYOUTS = {1: ("(N, C, L)", "(C, L)"), 2: ("(N, C, H, W)", "(C, H, W)")}


def _batched(input: Tensor, spatial: int, op_name: str) -> tuple[Tensor, bool]:
    """``(N, C, *spatial)`` as it is, an unbatched ``(C, *spatial)`` with a batch of one added.

    Returns the batched input and whether a batch dim was added (to drop it again)."""
    if input.ndim == spatial + 2:
        return input, False
    if input.ndim == spatial + 1:
        return input.unsqueeze(0), True
    batched, unbatched = BATCHED_LAYOUTS[spatial]
    raise ValueError(f"{op_name}: expected a {spatial + 2}-D input {batched}, got shape "
                     f"{input.shape} (or a {spatial + 1}-D {unbatched}: one unbatched sample)")


def _unbatched(outputs, added: bool):
    """Drop the batch dim ``_batched`` added: from one Tensor or each of a tuple of them."""
    if not added:
        return outputs
    if isinstance(outputs, tuple):
        return tuple(output.squeeze(0) for output in outputs)
    return outputs.squeeze(0)


def _window_options(kernel_size, stride, padding, dilation, op_name: str) -> tuple:
    """Checked pairs ``(kernel_size, stride, padding, dilation)`` of a sliding window."""
    kernel_size = _pair(kernel_size, "kernel_size", op_name)
    stride = _pair(stride, "stride", op_name)
    padding = _pair(padding, "padding", op_name)
    dilation = _pair(dilation, "dilation", op_name)
    if min(kernel_size) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op_name}: kernel_size {kernel_size}, stride {stride} and dilation "
                         f"{dilation} must be positive and padding {padding} non-negative")
    return kernel_size, stride, padding, dilation


def _output_size(x: Tensor, options: tuple, op_name: str) -> tuple[int, int]:
    """(OH, OW) of a sliding window with checked ``options`` over x; raises if x is too small."""
    kernel_size, stride, padding, dilation = options
    H, W = x.shape[2:]
    OH = conv_output_size(H, kernel_size[0], stride[0], padding[0], dilation[0])
    OW = conv_output_size(W, kernel_size[1], stride[1], padding[1], dilation[1])
    if OH < 1 or OW < 1:
        raise ValueError(
            f"{op_name}: input of shape {x.shape} is too small for kernel_size {kernel_size} "
            f"with padding {padding} and dilation {dilation} (output would be {OH}x{OW})")
    return OH, OW


def _im2col(x: Tensor, kernel_size, stride, padding, dilation, op_name: str,
            pad_value: float = 0.0) -> tuple[Tensor, int, int]:
    """Checked im2col: ``(cols (N, C·kh·kw, OH·OW), OH, OW)``."""
    _check_image(x, op_name)
    kernel_size, stride, padding, dilation = _window_options(kernel_size, stride, padding,
                                                             dilation, op_name)
    OH, OW = _output_size(x, (kernel_size, stride, padding, dilation), op_name)
    cols = Im2Col.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                        dilation=dilation, pad_value=pad_value)
    return cols, OH, OW


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col: ``(N, C, H, W)`` -> ``(N, C·kh·kw, L)``, every sliding window as a
    column (PyTorch's ``F.unfold``, same layout); an unbatched ``(C, H, W)`` gives
    ``(C·kh·kw, L)``. See :class:`Im2Col`."""
    x, added = _batched(input, 2, "unfold")
    cols, _, _ = _im2col(x, kernel_size, stride, padding, dilation, "unfold")
    return _unbatched(cols, added)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """col2im: ``(N, C·kh·kw, L)`` -> ``(N, C, H, W)`` with ``(H, W) = output_size``,
    overlapping windows summed (PyTorch's ``F.fold``; the adjoint of ``unfold``); an
    unbatched ``(C·kh·kw, L)`` gives ``(C, H, W)``."""
    H, W = _pair(output_size, "output_size", "fold")
    kernel_size, stride, padding, dilation = options = _window_options(
        kernel_size, stride, padding, dilation, "fold")            # positive sizes, as unfold
    if input.ndim not in (2, 3) or input.shape[-2] % (kernel_size[0] * kernel_size[1]) != 0:
        raise ValueError(f"fold: expected an input (N, C·kh·kw, L) or (C·kh·kw, L) with "
                         f"kernel_size {kernel_size}, got shape {input.shape}")
    if input.ndim == 2:                                # unbatched: a batch of one, dropped
        return fold(input.unsqueeze(0), output_size, kernel_size, dilation, padding,
                    stride).squeeze(0)
    N, CK, L = input.shape
    C = CK // (kernel_size[0] * kernel_size[1])
    OH, OW = (conv_output_size(size, k, s, p, d) for size, k, s, p, d in
              zip((H, W), *options))
    if OH < 1 or OW < 1:                               # (else L = OH·OW could still match)
        raise ValueError(f"fold: output_size {(H, W)} is too small for kernel_size "
                         f"{kernel_size} with padding {padding} and dilation {dilation} "
                         f"(the grid of windows would be {OH}x{OW})")
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
    ``padding`` may also be ``'valid'`` (0) or ``'same'`` (stride 1: padding
    ⌊dilation·(k − 1)/2⌋ on each side, and when dilation·(k − 1) is odd one zero more
    at the end, as PyTorch).
    Shapes: input (N, C, H, W) or unbatched (C, H, W) -> output (N, O, OH, OW) or
    (O, OH, OW), OH as in :func:`conv_output_size`.
    """
    x, added = _batched(input, 2, "conv2d")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-D weight (O, C/groups, kh, kw), "
                         f"got shape {weight.shape}")
    N, C, H, W = x.shape
    O, C_per_group, kh, kw = weight.shape
    groups = check_groups(groups, "conv2d")
    if C % groups != 0 or O % groups != 0 or C_per_group * groups != C:
        layouts = (" (a 3-D input is one unbatched image (C, H, W), a 4-D input a batch "
                   "(N, C, H, W))" if added else "")
        raise ValueError(
            f"conv2d: input of shape {input.shape} (C={C}) and weight of shape {weight.shape} "
            f"do not match with groups={groups}: expected weight.shape[1] * groups == C and "
            f"out channels divisible by groups{layouts}")
    if input.device != weight.device:
        raise RuntimeError(f"conv2d: input is on device '{input.device}', weight on "
                           f"'{weight.device}'")
    check_bias(bias, O, weight, "conv2d")
    padding, (extra_rows, extra_columns) = _resolve_padding(padding, (kh, kw), stride, dilation,
                                                            "conv2d")
    x = _extend(x, extra_rows, extra_columns, 0.0)     # 'same', odd d·(k − 1): a zero at the end
    if x.dtype == weight.dtype and (bias is None or bias.dtype == x.dtype) and \
            backend.is_floating(x.dtype):  # the composition below as one op, for speed
        options = _window_options((kh, kw), stride, padding, dilation, "conv2d")
        OH, OW = _output_size(x, options, "conv2d")
        out = fused_conv.Conv2d.apply(x, weight, *([] if bias is None else [bias]), options=options,
                           groups=groups)              # (N, O, OH·OW)
        return _unbatched(out.reshape(N, O, OH, OW), added)
    return _unbatched(conv2d_composed(x, weight, bias, stride, padding, dilation, groups), added)


def conv2d_composed(x: Tensor, weight: Tensor, bias, stride, padding, dilation,
                    groups: int) -> Tensor:
    """conv2d of a batch x (N, C, H, W), as the composition that defines it: im2col, then
    one product. ``conv2d`` runs it for integer and mixed dtypes (as PyTorch's promotion)
    and the fused ``Conv2d`` op (nn/fused_conv.py) otherwise, whose test oracle it is."""
    if x.dtype != weight.dtype:  # (the product does not promote: the dtypes meet first)
        x, weight = elementwise._promote(x, weight)
    N, C = x.shape[:2]
    O, C_per_group, kh, kw = weight.shape
    cols, OH, OW = _im2col(x, (kh, kw), stride, padding, dilation, "conv2d")
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


def check_bias(bias: Tensor | None, out_channels: int, weight: Tensor, op_name: str) -> None:
    """A bias must have one entry per output channel: shape ``(out_channels,)``."""
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(f"{op_name}: bias of shape {bias.shape} does not match the "
                         f"{out_channels} out channels of a weight of shape {weight.shape}")


def check_groups(groups, op_name: str) -> int:
    """``groups`` as a positive int. As PyTorch's argument parser, a Python or NumPy integer
    is one, a bool or a float is not (a TypeError); zero or less is a ValueError."""
    if not _is_int(groups):
        raise TypeError(f"{op_name}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{op_name}: groups must be a positive integer, got {groups}")
    return int(groups)


def check_transpose_tensors(input: Tensor, weight: Tensor, bias: Tensor | None, groups,
                            op_name: str) -> int:
    """PyTorch's checks of a transposed convolution's tensors, naming the shapes as given
    (batched or not): weight ``(C_in, C_out/groups, *kernel)`` for the input's C_in channels,
    ``groups`` dividing C_in, bias ``(C_out,)``, one device. Returns groups as an int."""
    groups = check_groups(groups, op_name)
    C_in = input.shape[input.ndim - weight.ndim + 1]    # (N, C_in, *spatial) or (C_in, ...)
    if C_in % groups != 0:
        raise ValueError(f"{op_name}: groups must be a positive integer dividing the {C_in} "
                         f"input channels of an input of shape {input.shape}, got {groups}")
    if weight.shape[0] != C_in:
        raise ValueError(f"{op_name}: weight of shape {weight.shape} expects an input with "
                         f"{weight.shape[0]} channels, got an input of shape {input.shape} "
                         f"({C_in} channels)")
    check_bias(bias, weight.shape[1] * groups, weight, op_name)
    if input.device != weight.device:
        raise RuntimeError(f"{op_name}: input is on device '{input.device}', weight on "
                           f"'{weight.device}'")
    return groups


def _resolve_padding(padding, kernel_size, stride, dilation, op_name: str):
    """``(padding, (extra_rows, extra_columns))``: ``'valid'`` is (0, 0), ``'same'`` the padding
    that keeps the size (stride 1), PyTorch's: the window adds ``t = d·(k − 1)`` positions per
    axis, ``⌊t/2⌋`` are padded on each side and, when t is odd, one more zero at the end (the
    extra). Ints and pairs are returned as they are, with no extra."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if isinstance(padding, str) and padding != "same":
        raise ValueError(f"{op_name}: padding must be an int, a pair, 'valid' or 'same', "
                         f"got {padding!r}")
    if padding != "same":
        return padding, (0, 0)
    if _pair(stride, "stride", op_name) != (1, 1):
        raise ValueError(f"{op_name}: padding='same' is not supported for strided convolutions")
    dilation = _pair(dilation, "dilation", op_name)
    total = [d * (k - 1) for d, k in zip(dilation, kernel_size)]  # rows the window adds
    return (total[0] // 2, total[1] // 2), (total[0] % 2, total[1] % 2)


def _pool_option(value):
    """A pooling option as its one entry when given as a 1-tuple: PyTorch's pooling kernels
    repeat ``(3,)`` over every spatial dim, as ``3`` (``F.unfold``'s im2col does not)."""
    return value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value


def _pool_stride(stride, kernel_size):
    """A pooling's ``stride``: ``kernel_size`` when None or empty (``()``, PyTorch's default
    in its kernels), else as given."""
    empty = isinstance(stride, (tuple, list)) and len(stride) == 0
    return kernel_size if stride is None or empty else stride


def _check_pool_padding(kernel_size, padding, op_name: str) -> None:
    kernel_size = _pair(_pool_option(kernel_size), "kernel_size", op_name)
    padding = _pair(_pool_option(padding), "padding", op_name)
    if any(p > k // 2 for p, k in zip(padding, kernel_size)):
        raise ValueError(f"{op_name}: pad should be at most half of effective kernel size, "
                         f"but got padding {padding} and kernel_size {kernel_size}")


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                     ceil_mode: bool = False) -> int:
    """The output size of a pooling along one axis (PyTorch's rule).

    ``ceil_mode=False``: :func:`conv_output_size`, every window inside the padded
    input. ``ceil_mode=True``: the division rounds up, keeping a last window that
    runs past the end, unless that window would start in the right padding (every
    window starts inside the input or the left padding)::

        out = ⌈(size + 2·padding − dilation·(kernel − 1) − 1) / stride⌉ + 1
        out = out − 1      if (out − 1)·stride ≥ size + padding
    """
    if not ceil_mode:
        return conv_output_size(size, kernel, stride, padding, dilation)
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = -(-span // stride) + 1                       # ⌈span / stride⌉ + 1
    if (out - 1) * stride >= size + padding:           # the last window starts in the padding
        out -= 1
    return out


def _lowest(dtype) -> float | int | bool:
    """The value a max pooling pads with, which never wins a window: −inf for floats, the
    smallest value of an integer dtype and False for bool (integers pool in their own
    dtype, as PyTorch's ``max_pool2d(..., return_indices=True)``; −inf would make floats)."""
    if backend.is_floating(dtype):
        return -math.inf
    return False if dtype == backend.bool_ else int(backend.np.iinfo(dtype).min)


def _extend(x: Tensor, rows: int, columns: int, fill: float) -> Tensor:
    """x ``(N, C, H, W)`` with ``rows`` more rows and ``columns`` more columns of ``fill``
    at the end: ``(N, C, H + rows, W + columns)`` (a ``cat``; the gradient drops the fill)."""
    xp = backend.get_xp(x.device)
    N, C, H, W = x.shape
    if rows:
        block = Tensor(xp.full((N, C, rows, W), fill, dtype=x.dtype), device=x.device)
        x = cat([x, block], dim=2)                     # (N, C, H + rows, W)
    if columns:
        block = Tensor(xp.full((N, C, H + rows, columns), fill, dtype=x.dtype), device=x.device)
        x = cat([x, block], dim=3)                     # (N, C, H + rows, W + columns)
    return x


def _pool_input(x: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool,
                fill: float, op_name: str) -> tuple[Tensor, tuple]:
    """Checked options of a 2-D pooling and the input its floor-mode im2col reads.

    Returns ``(x_ready, (kernel_size, stride, padding, dilation))``, each option a pair (a
    1-tuple is repeated, as PyTorch); ``stride`` defaults to ``kernel_size`` (None or
    empty). With ``ceil_mode`` the last windows may run
    past the padded input: ``x_ready`` is x with the rows and columns they miss added at
    its end, filled with ``fill``, so that im2col of ``x_ready`` (floor mode) has exactly
    :func:`pool_output_size` windows per axis. Without, ``x_ready`` is x.
    """
    _check_image(x, op_name)
    stride = _pool_stride(stride, kernel_size)
    options = _window_options(*map(_pool_option, (kernel_size, stride, padding, dilation)),
                              op_name)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = options
    _check_pool_padding((kh, kw), (ph, pw), op_name)
    H, W = x.shape[2:]
    OH = pool_output_size(H, kh, sh, ph, dh, ceil_mode)
    OW = pool_output_size(W, kw, sw, pw, dw, ceil_mode)
    if OH < 1 or OW < 1:
        raise ValueError(
            f"{op_name}: input of shape {x.shape} is too small for kernel_size {(kh, kw)} "
            f"with padding {(ph, pw)} and dilation {(dh, dw)} (output would be {OH}x{OW})")
    # The last window covers padded rows (OH − 1)·sh + i·dh, i < kh: those past H + 2·ph.
    missing_rows = max(0, (OH - 1) * sh + dh * (kh - 1) + 1 - (H + 2 * ph))
    missing_columns = max(0, (OW - 1) * sw + dw * (kw - 1) + 1 - (W + 2 * pw))
    return _extend(x, missing_rows, missing_columns, fill), options


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over each kh×kw window::

        y[n, c, oh, ow] = max_{i,j} x_pad[n, c, oh·sh + i·dh, ow·sw + j·dw]

    Padding is with −inf (a pad never wins), as PyTorch; ``stride`` defaults to
    ``kernel_size``; ``ceil_mode=True`` keeps a last window that runs past the end
    (:func:`pool_output_size`), the max of the positions it has. Gradient: dL/dy
    goes to the window's maximum; when several elements of a window tie for the
    maximum they share it equally (the core ``max`` rule). PyTorch gives all of it
    to the first one; values agree, and gradients agree whenever there is no tie.
    As PyTorch's kernel, a window holding NaNs is NaN and its last NaN gets dL/dy,
    and a window of −inf (every position −inf or padding) gives all of it to its
    first position in x (the element ``return_indices`` names).

    ``return_indices=True`` returns ``(y, indices)``: ``indices[n, c, oh, ow] = h·W + w``
    of the window's first maximum (last NaN; first in-bounds position of a −inf
    window), flat in its (H, W) plane as PyTorch (what
    ``F.max_unpool2d`` takes); y is then read from x there, so the whole gradient
    goes to that element, as in PyTorch.
    Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW), twice with indices.
    """
    x, added = _batched(input, 2, "max_pool2d")
    ready, options = _pool_input(x, kernel_size, stride, padding, dilation, ceil_mode,
                                 _lowest(x.dtype), "max_pool2d")
    if return_indices:
        return _unbatched(_max_pool2d_with_indices(x, ready, options), added)
    # im2col's windows, then their max: cols (N, C·kh·kw, L) -> (N, C, kh·kw, L) -> max over
    # the window axis; one fused op computes the same without copying the windows out, and
    # routes the gradient of NaN and −inf windows as the indices above do
    kernel_size, stride, padding, dilation = options
    return _unbatched(fused_conv.MaxPool2d.apply(ready, kernel_size=kernel_size, stride=stride,
                                                 padding=padding, dilation=dilation,
                                                 pad_value=_lowest(x.dtype)), added)


def _max_pool2d_with_indices(x: Tensor, ready: Tensor, options: tuple) -> tuple[Tensor, Tensor]:
    """Each window's maximum and its flat index ``h·W + w`` in x's (H, W) plane.

    ``ready`` is x as :func:`_pool_input` returns it (extended at its end in ceil mode).
    The argmax is taken on the arrays (no graph): im2col of ``ready``'s values, and the
    same im2col of a plane that holds each input position's flat index, −1 in the
    padding and the extension; ``window_argmax`` (nn/im2col.py) picks the
    position as PyTorch's kernel: the first maximum, the last NaN of a window holding
    NaNs, the first in-bounds position of a window of −inf (an integer dtype's
    smallest). The output is then x gathered at those indices, so its gradient goes to
    the chosen element only. A window wholly in the padding (possible with dilation)
    has the index −1 and the value −inf (an integer dtype's smallest).
    """
    N, C, H, W = x.shape
    xp = backend.get_xp(x.device)
    cols, OH, OW = _im2col(ready.detach(), *options, "max_pool2d", pad_value=_lowest(x.dtype))
    (kh, kw) = options[0]
    values = cols.data.reshape(N, C, kh * kw, OH * OW)             # (N, C, kh·kw, L)
    plane = xp.full((1, 1) + ready.shape[2:], -1, dtype=backend.int64)
    plane[0, 0, :H, :W] = xp.arange(H * W).reshape(H, W)          # h·W + w; −1 past x
    where_from, _, _ = _im2col(Tensor(plane, device=x.device), *options, "max_pool2d",
                               pad_value=-1)                       # (1, kh·kw, L)
    indices = window_argmax(values, where_from.data[0], xp)        # (N, C, L)
    in_plane = indices >= 0
    safe = Tensor(xp.where(in_plane, indices, 0), device=x.device)
    picked = x.reshape(N, C, H * W).gather(2, safe)                # (N, C, L)
    output = where(Tensor(in_plane, device=x.device), picked, _lowest(x.dtype))
    indices = Tensor(indices.reshape(N, C, OH, OW), device=x.device)
    return output.reshape(N, C, OH, OW), indices


def _check_divisor(divisor_override, op_name: str) -> None:
    if divisor_override is None:
        return
    if not isinstance(divisor_override, int) or isinstance(divisor_override, bool):
        raise TypeError(f"{op_name}: divisor_override must be an int or None, "
                        f"got {divisor_override!r}")
    if divisor_override == 0:
        raise ValueError(f"{op_name}: divisor must be not zero (divisor_override=0)")


def check_average_dtype(x: Tensor, op_name: str) -> None:
    """PyTorch's CPU average pooling takes floats and int64 only (its kernels' dispatch):
    another integer type, bool or complex is refused."""
    if not (backend.is_floating(x.dtype) or x.dtype == backend.int64):
        raise TypeError(f"{op_name}: expected a floating-point or int64 input, got "
                        f"{x.dtype}")


def integer_average(sums: Tensor, divisor) -> Tensor:
    """An int64 input's windows, as PyTorch's CPU kernel: ``sum / divisor`` in integer
    arithmetic, truncated toward zero as C++'s ``/`` (so ``-7 / 2 = -3``), staying int64."""
    return sums.div(divisor, rounding_mode="trunc")


def _window_sizes(x: Tensor, ready: Tensor, options: tuple, count_include_pad: bool,
                  op_name: str) -> Tensor:
    """The divisor of each window of an average pooling, PyTorch's: ``(1, 1, OH·OW)``.

    It counts the window's positions inside the padded input (``count_include_pad``) or
    inside the input only; positions past the padded input (ceil mode) never count. The
    count is the window sum of a 0/1 mask over the padded ``ready`` plane, by im2col.
    """
    xp = backend.get_xp(x.device)
    H, W = x.shape[2:]
    (kh, kw), (sh, sw), (ph, pw), _ = options
    rows, columns = ready.shape[2] + 2 * ph, ready.shape[3] + 2 * pw
    mask = xp.zeros((1, 1, rows, columns), dtype=x.dtype)
    if count_include_pad:
        mask[:, :, :H + 2 * ph, :W + 2 * pw] = 1       # the input and its padding
    else:
        mask[:, :, ph:ph + H, pw:pw + W] = 1           # the input only
    cols, _, _ = _im2col(Tensor(mask, device=x.device), (kh, kw), (sh, sw), 0, 1, op_name)
    return cols.sum(dim=1, keepdim=True)               # (1, 1, OH·OW)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over each kh×kw window::

        y[n, c, oh, ow] = (1 / divisor) Σ_{i,j} x_pad[n, c, oh·sh + i, ow·sw + j]

    Padding is with zeros; ``stride`` defaults to ``kernel_size``; ``ceil_mode=True``
    keeps a last window that runs past the end (:func:`pool_output_size`). The
    divisor is PyTorch's: ``divisor_override`` if given; else the number of the
    window's positions inside the padded input (kh·kw, fewer only for a ceil-mode
    window past the end) with ``count_include_pad=True`` (the default), or inside
    the input only with False. An int64 input gives int64, as PyTorch's CPU kernel: the
    window sum divided by the divisor in integer arithmetic, truncated toward zero.
    Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW).
    """
    _check_divisor(divisor_override, "avg_pool2d")
    x, added = _batched(input, 2, "avg_pool2d")
    check_average_dtype(x, "avg_pool2d")
    ready, options = _pool_input(x, kernel_size, stride, padding, 1, ceil_mode, 0.0,
                                 "avg_pool2d")
    if backend.is_floating(x.dtype):  # the composition below as one op, for speed
        kernel_size, stride, padding, _ = options
        divisor = divisor_override
        if divisor is None:
            divisor = fused_conv.window_counts(x.shape, ready.shape, kernel_size, stride,
                                               padding, count_include_pad,
                                               backend.get_xp(x.device), x.dtype)
        return _unbatched(fused_conv.AvgPool2d.apply(ready, kernel_size=kernel_size,
                                                     stride=stride, padding=padding,
                                                     divisor=divisor), added)
    cols, OH, OW = _im2col(ready, *options, "avg_pool2d")
    N, C = x.shape[:2]
    (kh, kw) = options[0]
    sums = cols.reshape(N, C, kh * kw, OH * OW).sum(dim=2)  # (N, C, L): the windows summed
    if divisor_override is not None:
        divisor = divisor_override
    else:
        divisor = _window_sizes(x, ready, options, count_include_pad, "avg_pool2d")  # (1, 1, L)
    return _unbatched(integer_average(sums, divisor).reshape(N, C, OH, OW), added)


# --------------------------------------- 1-D forms: the 2-D ones over a height-1 image (N, C, 1, L)

def _single(value, name: str, op_name: str) -> int:
    """``3`` -> ``3``; ``(3,)`` (PyTorch's 1-tuple) -> ``3``; anything else is an error."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if _is_int(value):
        return int(value)
    raise TypeError(f"{op_name}: {name} must be an int or a 1-tuple of ints, got {value!r}")


def _check_sequence(x: Tensor, op_name: str) -> None:
    if x.ndim != 3:
        raise ValueError(f"{op_name}: expected a 3-D input (N, C, L), got shape {x.shape}")


def _check_window_1d(x: Tensor, kernel: int, stride: int, padding: int, dilation: int,
                     op_name: str, ceil_mode: bool = False) -> None:
    """The checks of ``_im2col``, with 1-D numbers in the message."""
    if kernel < 1 or stride < 1 or dilation < 1 or padding < 0:
        raise ValueError(f"{op_name}: kernel_size {kernel}, stride {stride} and dilation "
                         f"{dilation} must be positive and padding {padding} non-negative")
    length = pool_output_size(x.shape[2], kernel, stride, padding, dilation, ceil_mode)
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
    and ``padding='valid'/'same'`` as in conv2d (an odd d·(k − 1) pads one zero more at
    the end).
    Shapes: input (N, C, L) or unbatched (C, L) -> output (N, O, OL) or (O, OL),
    OL = (L + 2p − d·(k − 1) − 1) // s + 1.
    """
    x, added = _batched(input, 1, "conv1d")
    if weight.ndim != 3:
        raise ValueError(f"conv1d: expected a 3-D weight (O, C/groups, k), "
                         f"got shape {weight.shape}")
    C = x.shape[1]
    O, C_per_group, k = weight.shape
    groups = check_groups(groups, "conv1d")
    if C % groups != 0 or O % groups != 0 or C_per_group * groups != C:
        layouts = (" (a 2-D input is one unbatched sequence (C, L), a 3-D input a batch "
                   "(N, C, L))" if added else "")
        raise ValueError(
            f"conv1d: input of shape {input.shape} (C={C}) and weight of shape {weight.shape} "
            f"do not match with groups={groups}: expected weight.shape[1] * groups == C and "
            f"out channels divisible by groups{layouts}")
    stride = _single(stride, "stride", "conv1d")
    dilation = _single(dilation, "dilation", "conv1d")
    check_bias(bias, O, weight, "conv1d")
    if input.device != weight.device:
        raise RuntimeError(f"conv1d: input is on device '{input.device}', weight on "
                           f"'{weight.device}'")
    if isinstance(padding, str):                        # 'valid' or 'same', as in conv2d
        (_, padding), (_, extra) = _resolve_padding(padding, (1, k), (1, stride),
                                                    (1, dilation), "conv1d")
    else:
        padding, extra = _single(padding, "padding", "conv1d"), 0
    x = _extend(x.unsqueeze(2), 0, extra, 0.0)          # (N, C, 1, L + extra)
    _check_window_1d(x.squeeze(2), k, stride, padding, dilation, "conv1d")
    out = conv2d(x, weight.unsqueeze(2), bias, (1, stride), (0, padding),
                 (1, dilation), groups)                # (N, O, 1, OL)
    return _unbatched(out.squeeze(2), added)           # (N, O, OL) or (O, OL)


def _pool1d_options(x: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool,
                    op_name: str) -> tuple[int, int, int, int]:
    """Checked ``(k, s, p, d)`` of a 1-D pooling of a batched x; ``stride`` defaults to
    ``kernel_size``."""
    _check_sequence(x, op_name)
    kernel = _single(kernel_size, "kernel_size", op_name)
    stride = _single(_pool_stride(stride, kernel), "stride", op_name)
    padding = _single(padding, "padding", op_name)
    dilation = _single(dilation, "dilation", op_name)
    if padding > kernel // 2:
        raise ValueError(f"{op_name}: pad should be at most half of effective kernel size, "
                         f"but got padding {padding} and kernel_size {kernel}")
    _check_window_1d(x, kernel, stride, padding, dilation, op_name, ceil_mode)
    return kernel, stride, padding, dilation


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over each window of k positions::

        y[n, c, t] = max_i x_pad[n, c, t·s + i·d]

    :func:`max_pool2d` over a height-1 image (−inf padding, ties share the
    gradient, ``ceil_mode``); ``stride`` defaults to ``kernel_size``. With
    ``return_indices=True`` also the position in L of each window's first maximum
    (``F.max_unpool1d`` takes it). Shapes: (N, C, L) or (C, L) -> (..., OL).
    """
    x, added = _batched(input, 1, "max_pool1d")
    k, s, p, d = _pool1d_options(x, kernel_size, stride, padding, dilation, ceil_mode,
                                 "max_pool1d")
    out = max_pool2d(x.unsqueeze(2), (1, k), (1, s), (0, p), (1, d), ceil_mode,
                     return_indices)                  # (N, C, 1, OL), twice with indices
    if return_indices:                                # index h·L + l = l: the plane has h = 0
        return _unbatched((out[0].squeeze(2), out[1].squeeze(2)), added)
    return _unbatched(out.squeeze(2), added)          # (N, C, OL) or (C, OL)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over each window of k positions::

        y[n, c, t] = (1 / divisor) Σ_i x_pad[n, c, t·s + i]

    :func:`avg_pool2d` over a height-1 image (zero padding, ``ceil_mode``; the
    divisor k, or the number of real positions with ``count_include_pad=False``);
    ``stride`` defaults to ``kernel_size``. PyTorch's avg_pool1d has no
    ``divisor_override``. An int64 input gives int64 (as avg_pool2d).
    Shapes: (N, C, L) or (C, L) -> (..., OL).
    """
    x, added = _batched(input, 1, "avg_pool1d")
    check_average_dtype(x, "avg_pool1d")
    k, s, p, _ = _pool1d_options(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool1d")
    out = avg_pool2d(x.unsqueeze(2), (1, k), (1, s), (0, p), ceil_mode,
                     count_include_pad)                                   # (N, C, 1, OL)
    return _unbatched(out.squeeze(2), added)                              # (N, C, OL)


# ------------------------------------------------------- adaptive pooling: the output size is given

def adaptive_bins(size: int, out_size: int) -> list[tuple[int, int]]:
    """PyTorch's bins: bin i covers ``[floor(i·size/out), ceil((i+1)·size/out))``.

    The bins cover the input, neighbours overlap by at most one position, and
    when ``out_size`` divides ``size`` they are the windows of a pooling with
    kernel = stride = size/out. ``adaptive_bins(5, 3) == [(0, 2), (1, 4), (3, 5)]``.
    """
    return [((i * size) // out_size, -(-((i + 1) * size) // out_size)) for i in range(out_size)]


def _adaptive_sizes(input: Tensor, output_size, spatial: int, op_name: str) -> tuple:
    """``output_size`` as one int per spatial dim: an int is repeated, None keeps the input's.
    NumPy integers count as ints, as in PyTorch's int lists."""
    if input.ndim not in (spatial + 1, spatial + 2):
        layout = "(N, C, H, W) or (C, H, W)" if spatial == 2 else "(N, C, L) or (C, L)"
        raise ValueError(f"{op_name}: expected a {spatial + 2}-D or {spatial + 1}-D input "
                         f"{layout}, got shape {input.shape}")
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * spatial
    if len(sizes) != spatial or not all(
            size is None or (_is_int(size) and size > 0) for size in sizes):
        raise ValueError(f"{op_name}: output_size must be a positive int or {spatial} of them "
                         f"(None keeps that size), got {output_size!r}")
    _check_adaptive_input(input, spatial, op_name)
    in_sizes = input.shape[input.ndim - spatial:]
    return tuple(size if out is None else int(out) for size, out in zip(in_sizes, sizes))


def check_adaptive_average_dtype(input: Tensor, op_name: str) -> None:
    """PyTorch's adaptive average pooling has no integer kernel (unlike avg_pool2d's int64
    one): an integer or bool input is refused rather than averaged as floats."""
    if input.dtype.kind in "biu":
        raise TypeError(f"{op_name}: expected a floating-point input, got {input.dtype}")


def _check_adaptive_input(input: Tensor, spatial: int, op_name: str) -> None:
    """PyTorch's check: no empty spatial dim (a bin of nothing has no mean and no max);
    an empty batch or channel dim gives an empty output."""
    if 0 in input.shape[input.ndim - spatial:]:
        raise ValueError(f"{op_name}: expected input to have non-zero size for non-batch "
                         f"dimensions, got shape {input.shape}")


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
    check_adaptive_average_dtype(input, "adaptive_avg_pool2d")
    rows = _adaptive_reduce(input, OH, -2, "mean")       # (..., OH, W)
    return _adaptive_reduce(rows, OW, -1, "mean")        # (..., OH, OW)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max over each of OH×OW bins (the bins of :func:`adaptive_avg_pool2d`)::

        y[n, c, i, j] = max x[n, c, h0(i):h1(i), w0(j):w1(j)]

    reduced one axis at a time (the max of row maxima); ties share the gradient,
    as in ``max_pool2d``. ``return_indices=True`` returns ``(y, indices)``, with
    ``indices[n, c, i, j] = h·W + w`` of the bin's first maximum, or its last NaN (flat
    in the (H, W) plane, as PyTorch); y is then read from x there, so the whole gradient goes to
    that element, as in PyTorch.
    Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW), twice with indices.
    """
    OH, OW = _adaptive_sizes(input, output_size, 2, "adaptive_max_pool2d")
    if return_indices:
        x, added = _batched(input, 2, "adaptive_max_pool2d")
        return _unbatched(_adaptive_max_pool2d_with_indices(x, OH, OW), added)
    rows = _adaptive_reduce(input, OH, -2, "max")        # (..., OH, W)
    return _adaptive_reduce(rows, OW, -1, "max")         # (..., OH, OW)


def _adaptive_max_pool2d_with_indices(x: Tensor, OH: int, OW: int) -> tuple[Tensor, Tensor]:
    """The argmax of each bin on the arrays (no graph), then y = x gathered at it.

    The argmax is PyTorch's (``window_argmax``, nn/im2col.py): the bin's
    first maximum, or its last NaN when it holds NaNs."""
    xp = backend.xp_of(x.data)
    N, C, H, W = x.shape
    indices = xp.empty((N, C, OH, OW), dtype=backend.int64)
    plane = xp.arange(H * W, dtype=backend.int64).reshape(H, W)             # h·W + w
    for i, (top, bottom) in enumerate(adaptive_bins(H, OH)):
        for j, (left, right) in enumerate(adaptive_bins(W, OW)):
            count = (bottom - top) * (right - left)
            window = x.data[:, :, top:bottom, left:right]                   # (N, C, bh, bw)
            where_from = plane[top:bottom, left:right].reshape(count, 1)    # (bh·bw, 1)
            indices[:, :, i, j] = window_argmax(window.reshape(N, C, count, 1), where_from,
                                                 xp)[:, :, 0]               # (N, C)
    indices = Tensor(indices, device=x.device)
    output = x.reshape(N, C, H * W).gather(2, indices.reshape(N, C, OH * OW))  # (N, C, OH·OW)
    return output.reshape(N, C, OH, OW), indices


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Mean over each of OL bins: ``y[n, c, i] = mean x[n, c, floor(i·L/OL):ceil((i+1)·L/OL)]``.

    Shapes: (N, C, L) or (C, L) -> (..., OL).
    """
    (OL,) = _adaptive_sizes(input, output_size, 1, "adaptive_avg_pool1d")
    check_adaptive_average_dtype(input, "adaptive_avg_pool1d")
    return _adaptive_reduce(input, OL, -1, "mean")       # (..., OL)


# -------------------------------------------------- group normalisation (the conv nets' LayerNorm)

@computed_in_float32
def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample's channel groups (Wu & He, 2018)::

        μ, σ² = mean and biased variance of x[n, group g] over (C/G, *spatial)
        y[n, c, ...] = (x[n, c, ...] − μ) / √(σ² + eps) · γ[c] + β[c]

    G = 1 normalises each sample over all its values (LayerNorm over (C, *)),
    G = C each channel of each sample alone (InstanceNorm). Statistics are per
    sample, so training and evaluation compute the same thing. γ and β are per
    channel, shape (C,). Shapes: (N, C, *) -> (N, C, *); N = 0 gives an empty output.
    As PyTorch, an input with one value in all (N · C/G · prod(spatial) = 1) is refused.
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
    group_size = C // num_groups * math.prod(input.shape[2:])   # values per (sample, group)
    if N * group_size == 1:  # PyTorch's check (_verify_batch_size): nothing to normalise over
        raise ValueError(f"group_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {input.shape} with num_groups {num_groups}")
    # Sizes spelled out, not -1: an empty batch (N = 0) reshapes too, as PyTorch.
    groups = input.reshape(N, num_groups, group_size)    # (N, G, C/G · prod(spatial))
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


# --- the shape rules of the transposed convolutions (nn/conv_transpose.py, functional_conv3d.py)

def conv_transpose_output_size(size: int, kernel: int, stride: int, padding: int,
                               output_padding: int, dilation: int) -> int:
    """``(size − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1`` along
    one axis: the last input position scatters its kernel up to row
    ``(size − 1)·stride + dilation·(kernel − 1)``; ``padding`` crops that many rows from
    each end, ``output_padding`` keeps that many more at the end."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def check_transpose_options(kernel_size, stride, padding, output_padding, dilation,
                            op_name: str) -> None:
    """Positive kernel, stride and dilation; non-negative paddings; and PyTorch's rule that
    each output_padding is smaller than its stride or its dilation."""
    if min(kernel_size) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op_name}: kernel_size {kernel_size}, stride {stride} and dilation "
                         f"{dilation} must be positive")
    if min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"{op_name}: padding {padding} and output_padding {output_padding} "
                         "must be non-negative")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"{op_name}: output padding must be smaller than either stride or "
                         f"dilation, but got output_padding {output_padding}, stride {stride} "
                         f"and dilation {dilation}")
