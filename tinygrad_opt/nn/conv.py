"""Convolution and pooling on NCHW images, written the CS231n way: im2col + matmul.

A convolution slides a small kernel over the image and, at every output
position, takes a dot product between the kernel and the input window under
it. ``im2col`` ("image to columns") copies every window into one column of a
matrix, so that all those dot products become ONE matrix product::

    x (N, C, H, W)  --im2col-->  cols (N, C·kh·kw, L)        L = OH·OW windows
    weight (O, C, kh, kw)  -->   W (O, C·kh·kw)
    y = W @ cols                 (N, O, L)  -->  reshape (N, O, OH, OW)

Pooling is im2col too: reshape the columns to (N, C, kh·kw, L) and take the
max (``max_pool2d``) or the mean (``avg_pool2d``) over the kh·kw window axis.

Only two primitives have hand-written backward code, and each one's backward
is the other: ``Im2Col`` (gather windows) and ``Col2Im`` (scatter-add windows
back, where overlapping windows accumulate). Both are linear, so the
derivative of im2col is col2im and vice versa; since each backward is written
with the other Function, double backward (gradgradcheck, Hessians) works.
Everything else (matmul, bias, max, mean) is a Tensor op whose gradient the
engine already knows.

Output size along one axis (PyTorch's formula, with floor division)::

    OH = (H + 2·padding − dilation·(kh − 1) − 1) // stride + 1

Padding is done inside Im2Col: the input is copied into a larger array filled
with the pad value (0 for convolution and average pooling, −inf for max
pooling, as PyTorch) and the windows are read from it. Col2Im accumulates
into the padded array and then cuts the border off: the gradient of a pad
value is dropped, exactly as the derivative of a constant.

The column layout ``(N, C·kh·kw, L)`` (channel slowest, then kernel row, then
kernel column) is PyTorch's ``F.unfold``, so ``unfold``/``fold`` here give the
same numbers as PyTorch's.

The 1-D layers (Conv1d, MaxPool1d, AvgPool1d) run the 2-D functions on a
height-1 image ``(N, C, 1, L)``; the adaptive poolings choose their windows
from the output size they are asked for (see ``adaptive_bins``). Every layer
also takes one unbatched sample, ``(C, L)`` or ``(C, H, W)``, as PyTorch; the
poolings have PyTorch's options (``ceil_mode``, ``return_indices``,
``count_include_pad``, ``divisor_override``).

The functions described here (``Im2Col``, ``Col2Im``, ``conv2d``, ``max_pool2d``,
``avg_pool2d``, ``unfold``, ``fold``, their 1-D and adaptive forms) live in
``nn/functional_conv.py`` (``F.conv2d``, ...); this file holds the layers that call them.
"""

from __future__ import annotations

from tinygrad_opt.nn import init
from tinygrad_opt.nn.functional_conv import (_check_divisor, _check_pool_padding, _is_int,
                                             _pair, _pool_stride, _single, adaptive_avg_pool1d,
                                             adaptive_avg_pool2d, adaptive_max_pool2d,
                                             avg_pool1d, avg_pool2d,
                                             conv1d, conv2d, max_pool1d, max_pool2d)
from tinygrad_opt.nn.functional_conv import fold, unfold  # noqa: F401 (``nn.conv.fold`` as before)
from tinygrad_opt.nn.functional_more import pad
from tinygrad_opt.nn.module import Module, empty_parameter
from tinygrad_opt.nn.normalization import _BatchNorm
from tinygrad_opt.tensor import Tensor


# ----------------------------------------------------------------------------- modules

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def check_conv_options(name: str, in_channels: int, out_channels: int, stride: tuple,
                       padding, groups, padding_mode: str) -> None:
    """The checks PyTorch's convolution layers make when built, with its messages."""
    if not _is_int(groups) or groups < 1:                   # a NumPy integer too, as PyTorch
        raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
    if in_channels % groups != 0 or out_channels % groups != 0:
        raise ValueError(f"{name}: in_channels {in_channels} and out_channels "
                         f"{out_channels} must be divisible by groups {groups}")
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{name}: padding must be an int, a tuple of ints, 'valid' or "
                             f"'same', got the invalid padding string {padding!r}")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError(f"{name}: padding='same' is not supported for strided "
                             f"convolutions (stride {stride})")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, but got "
                         f"padding_mode={padding_mode!r}")


def convolve(layer, input: Tensor, conv) -> Tensor:
    """``conv`` (``conv1d``/``conv2d``/``conv3d``) with the layer's weight and options. A
    ``padding_mode`` other than ``'zeros'`` pads ``input`` in that mode first (``F.pad``)
    and convolves without padding, as PyTorch."""
    check_conv_input(layer, input)
    padding = layer.padding
    if layer.padding_mode != "zeros":
        input = pad(input, reversed_padding(padding, layer.kernel_size, layer.dilation),
                    mode=layer.padding_mode)
        padding = 0
    return conv(input, layer.weight, layer.bias, layer.stride, padding, layer.dilation,
                layer.groups)


SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}


def check_conv_input(layer, input: Tensor) -> None:
    """A convolution layer's input is ``(N, in_channels, *spatial)`` or one unbatched sample
    ``(in_channels, *spatial)``. Checked before any ``padding_mode`` padding, so that the
    error names the layer and the shape it was given (not the padded one, nor ``pad``)."""
    dims, C = len(layer.kernel_size), layer.in_channels
    if input.ndim not in (dims + 1, dims + 2) or input.shape[input.ndim - dims - 1] != C:
        spatial = SPATIAL_NAMES[dims]
        raise ValueError(f"{type(layer).__name__}: expected an input (N, {C}, {spatial}) or "
                         f"unbatched ({C}, {spatial}) with in_channels={C} channels, got "
                         f"shape {input.shape}")


def reversed_padding(padding, kernel_size: tuple, dilation: tuple) -> tuple:
    """``F.pad``'s amounts for a layer's ``padding`` (ints, 'valid' or 'same'): (before, after)
    per spatial axis, the last axis first. 'same' pads ⌊d·(k − 1)/2⌋ before and the rest
    after, as PyTorch."""
    if padding == "valid":
        per_axis = [(0, 0)] * len(kernel_size)
    elif padding == "same":
        totals = [d * (k - 1) for d, k in zip(dilation, kernel_size)]
        per_axis = [(total // 2, total - total // 2) for total in totals]
    else:
        per_axis = [(p, p) for p in padding]
    return tuple(amount for pair in reversed(per_axis) for amount in pair)


def conv_extra_repr(layer: Module) -> str:
    """PyTorch's repr of a convolution layer: the options that differ from the defaults."""
    dims = len(layer.kernel_size)
    text = (f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}, "
            f"stride={layer.stride}")
    if layer.padding != (0,) * dims:
        text += f", padding={layer.padding}"
    if layer.dilation != (1,) * dims:
        text += f", dilation={layer.dilation}"
    if layer.groups != 1:
        text += f", groups={layer.groups}"
    if layer.bias is None:
        text += ", bias=False"
    if layer.padding_mode != "zeros":
        text += f", padding_mode={layer.padding_mode}"
    return text


class Conv2d(Module):
    """2-D convolution layer: ``y = conv2d(x, weight, bias)`` (see :func:`conv2d`).

    Shapes: x ``(N, C_in, H, W)`` or ``(C_in, H, W)`` -> y ``(N, C_out, OH, OW)`` or
    ``(C_out, OH, OW)``; ``weight`` is ``(C_out, C_in/groups, kh, kw)`` and ``bias``
    ``(C_out,)``, PyTorch's layout.
    Initialisation is PyTorch's default: ``kaiming_uniform_(W, a=√5)``, that is
    W ~ U(−1/√fan_in, 1/√fan_in), and b ~ U(−1/√fan_in, 1/√fan_in), with
    fan_in = C_in/groups · kh · kw.
    ``padding_mode`` other than ``'zeros'`` (``'reflect'``, ``'replicate'``,
    ``'circular'``) pads x with ``F.pad`` in that mode first and convolves without
    padding, as PyTorch.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = _pair(stride, "stride", "Conv2d")
        check_conv_options("Conv2d", in_channels, out_channels, self.stride, padding, groups,
                           padding_mode)
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding",
                                                                       "Conv2d")
        self.dilation = _pair(dilation, "dilation", "Conv2d")
        self.groups = groups
        self.padding_mode = padding_mode
        self.weight = empty_parameter(
            (out_channels, in_channels // groups) + self.kernel_size, device, dtype)
        self.register_parameter("bias", empty_parameter((out_channels,), device, dtype)
                                if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.layer_defaults_(self.weight, self.bias)  # U(±1/√fan_in), fan_in = in/groups·k·k

    def forward(self, input: Tensor) -> Tensor:
        return convolve(self, input, conv2d)  # (N, C_in, H, W) -> (N, C_out, OH, OW), N optional

    def extra_repr(self) -> str:
        return conv_extra_repr(self)


class _Pool2d(Module):
    """What MaxPool2d and AvgPool2d share: the window options, checked once;
    ``stride`` defaults to ``kernel_size``."""

    def __init__(self, kernel_size, stride, padding, ceil_mode: bool):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        _check_pool_padding(kernel_size, padding, type(self).__name__)


class MaxPool2d(_Pool2d):
    """Max pooling over kh×kw windows (see :func:`max_pool2d`); ``stride`` defaults
    to ``kernel_size``. With ``return_indices=True`` the layer returns ``(y, indices)``
    (flat positions in each (H, W) plane, for ``nn.MaxUnpool2d``). PyTorch's
    arguments, in its order. Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = dilation
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        text = (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}")
        return text + (", ceil_mode=True" if self.ceil_mode else "")


class AvgPool2d(_Pool2d):
    """Average pooling over kh×kw windows (see :func:`avg_pool2d`); ``stride``
    defaults to ``kernel_size``; ``ceil_mode=False``, ``count_include_pad=True`` and
    ``divisor_override=None`` as PyTorch.
    Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        _check_divisor(divisor_override, "AvgPool2d")
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation for images ``(N, C, H, W)``: per channel c, the
    statistics are taken over the batch and all pixels (N·H·W values)::

        y = (x − μ_c) / √(σ²_c + eps) · γ_c + β_c

    Everything else (biased variance for normalising, unbiased for the running
    estimate, momentum, ``track_running_stats``, eval mode) is _BatchNorm's,
    which this class reuses unchanged: ``F.batch_norm`` already reduces over
    every axis but the channel axis 1. Only the accepted input shape differs.
    """

    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 4:
            raise ValueError(f"BatchNorm2d: expected 4D input (N, C, H, W), got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d: input of shape {x.shape} has {x.shape[1]} channels, "
                             f"the layer was built for {self.num_features}")


# ------------------------------------------------------------------------------ 1-D layers

class Conv1d(Module):
    """1-D convolution layer: ``y = conv1d(x, weight, bias)`` (see :func:`conv1d`).

    Shapes: x ``(N, C_in, L)`` or ``(C_in, L)`` -> y ``(N, C_out, OL)`` or ``(C_out, OL)``;
    ``weight`` is ``(C_out, C_in/groups, k)`` and ``bias`` ``(C_out,)``, PyTorch's layout.
    Initialisation is PyTorch's default, as Conv2d: W and b ~ U(−1/√fan_in,
    1/√fan_in) with fan_in = C_in/groups · k. ``padding_mode`` as in Conv2d.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = (_single(kernel_size, "kernel_size", "Conv1d"),)  # PyTorch: (k,)
        self.stride = (_single(stride, "stride", "Conv1d"),)
        check_conv_options("Conv1d", in_channels, out_channels, self.stride, padding, groups,
                           padding_mode)
        self.padding = padding if isinstance(padding, str) else (_single(padding, "padding",
                                                                         "Conv1d"),)
        self.dilation = (_single(dilation, "dilation", "Conv1d"),)
        self.groups = groups
        self.padding_mode = padding_mode
        self.weight = empty_parameter(
            (out_channels, in_channels // groups) + self.kernel_size, device, dtype)
        self.register_parameter("bias", empty_parameter((out_channels,), device, dtype)
                                if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.layer_defaults_(self.weight, self.bias)  # U(±1/√fan_in), fan_in = in/groups·k

    def forward(self, input: Tensor) -> Tensor:
        return convolve(self, input, conv1d)  # (N, C_in, L) -> (N, C_out, OL), N optional

    def extra_repr(self) -> str:
        return conv_extra_repr(self)


class _Pool1d(Module):
    """What MaxPool1d and AvgPool1d share: the window options, checked once;
    ``stride`` defaults to ``kernel_size``."""

    def __init__(self, kernel_size, stride, padding, ceil_mode: bool):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _single(kernel_size, "kernel_size", name)
        self.stride = _single(_pool_stride(stride, self.kernel_size), "stride", name)
        self.padding = _single(padding, "padding", name)
        self.ceil_mode = ceil_mode
        if self.padding > self.kernel_size // 2:
            raise ValueError(f"{name}: pad should be at most half of effective kernel size, "
                             f"but got padding {self.padding} and kernel_size {self.kernel_size}")


class MaxPool1d(_Pool1d):
    """Max pooling over windows of k positions (see :func:`max_pool1d`); ``stride``
    defaults to ``kernel_size``; with ``return_indices=True`` the layer returns
    ``(y, indices)`` (for ``nn.MaxUnpool1d``). PyTorch's arguments, in its order.
    Shapes: (N, C, L) or (C, L) -> (..., OL)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = _single(dilation, "dilation", "MaxPool1d")
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        text = (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}")
        return text + (", ceil_mode=True" if self.ceil_mode else "")


class AvgPool1d(_Pool1d):
    """Average pooling over windows of k positions (see :func:`avg_pool1d`); ``stride``
    defaults to ``kernel_size``; ``ceil_mode=False`` and ``count_include_pad=True`` as
    PyTorch (whose AvgPool1d has no ``divisor_override``).
    Shapes: (N, C, L) or (C, L) -> (..., OL)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


# ------------------------------------------------------------------------ adaptive pooling

class _AdaptivePool(Module):
    """What the adaptive poolings share: the ``output_size`` they are asked for."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool):
    """Mean over an OH×OW grid of bins sized from the input (see
    :func:`adaptive_avg_pool2d`); ``output_size`` is an int, a pair, or a pair
    with None (keep that size). Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW)."""

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool2d(input, self.output_size)


class AdaptiveMaxPool2d(_AdaptivePool):
    """Max over an OH×OW grid of bins sized from the input (see
    :func:`adaptive_max_pool2d`); with ``return_indices=True`` the layer returns
    ``(y, indices)``, flat positions in each (H, W) plane.
    Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW)."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveAvgPool1d(_AdaptivePool):
    """Mean over OL bins sized from the input (see :func:`adaptive_avg_pool1d`).
    Shapes: (N, C, L) or (C, L) -> (..., OL)."""

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool1d(input, self.output_size)
