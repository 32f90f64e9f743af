"""Volumetric layers: ``nn.Conv3d``, ``nn.ConvTranspose3d``, the 3-D pools and norms, and
channel dropout of volumes, outside the reading path.

Each layer keeps its options and calls its function in ``nn/functional_conv3d.py``
(``F.conv3d``, ...), where the math and its docstring live; names, arguments,
defaults, parameter layouts and initialisation are PyTorch's. The norms reuse the 1-D
and 2-D layers unchanged: BatchNorm and InstanceNorm already reduce over every spatial
axis, only the accepted input shape differs.
"""

from __future__ import annotations

from tinygrad_opt.nn import init
from tinygrad_opt.nn.conv import check_conv_options, conv_extra_repr, convolve
from tinygrad_opt.nn.conv_transpose import _ConvTransposeNd
from tinygrad_opt.nn.functional_conv3d import (_triple, avg_pool3d, conv3d, conv_transpose3d,
                                               dropout3d, feature_alpha_dropout, max_pool3d)
from tinygrad_opt.nn.layers import _DropoutNd
from tinygrad_opt.nn.layers_more import _InstanceNorm
from tinygrad_opt.nn.module import Module, empty_parameter
from tinygrad_opt.nn.normalization import _BatchNorm
from tinygrad_opt.tensor import Tensor

__all__ = ["Conv3d", "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "BatchNorm3d",
           "InstanceNorm3d", "Dropout3d", "FeatureAlphaDropout"]


class Conv3d(Module):
    """3-D convolution layer: ``y = conv3d(x, weight, bias)`` (see :func:`F.conv3d`).

    Shapes: x ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)`` -> y ``(N, C_out, OD, OH, OW)``
    or ``(C_out, OD, OH, OW)``; ``weight`` is ``(C_out, C_in/groups, kd, kh, kw)`` and
    ``bias`` ``(C_out,)``, PyTorch's layout.
    Initialisation is PyTorch's default: W and b ~ U(−1/√fan_in, 1/√fan_in), with
    fan_in = C_in/groups · kd · kh · kw.
    ``padding_mode`` other than ``'zeros'`` (``'reflect'``, ``'replicate'``,
    ``'circular'``) pads x with ``F.pad`` first and convolves without padding, as PyTorch.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _triple(kernel_size, "kernel_size", "Conv3d")
        self.stride = _triple(stride, "stride", "Conv3d")
        check_conv_options("Conv3d", in_channels, out_channels, self.stride, padding, groups,
                           padding_mode)
        self.padding = padding if isinstance(padding, str) else _triple(padding, "padding",
                                                                         "Conv3d")
        self.dilation = _triple(dilation, "dilation", "Conv3d")
        self.groups = groups
        self.padding_mode = padding_mode
        self.weight = empty_parameter(
            (out_channels, in_channels // groups) + self.kernel_size, device, dtype)
        self.register_parameter("bias", empty_parameter((out_channels,), device, dtype)
                                if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.layer_defaults_(self.weight, self.bias)  # U(±1/√fan_in), fan_in = in/groups·k³

    def forward(self, input: Tensor) -> Tensor:
        return convolve(self, input, conv3d)  # (N, C_in, D, H, W) -> (N, C_out, OD, OH, OW)

    def extra_repr(self) -> str:
        return conv_extra_repr(self)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution layer: ``y = conv_transpose3d(x, weight, bias)``
    (see :func:`F.conv_transpose3d`); the up-sampling layer of volumetric decoders.

    Shapes: x ``(N, C_in, D, H, W)`` -> y ``(N, C_out, OD, OH, OW)`` (N may be left out),
    ``OD = (D − 1)·sd − 2·pd + dd·(kd − 1) + opd + 1``; ``weight`` is
    ``(C_in, C_out/groups, kd, kh, kw)`` and ``bias`` ``(C_out,)``, PyTorch's layout.
    ``forward(x, output_size)`` picks the output_padding that gives ``output_size``.
    Initialisation is PyTorch's: W and b ~ U(−1/√fan_in, 1/√fan_in) with
    fan_in = weight.shape[1]·kd·kh·kw = C_out/groups · kd · kh · kw.
    """

    _dims = 3
    _function = staticmethod(conv_transpose3d)

    def _tuple(self, value, name: str) -> tuple:
        return _triple(value, name, type(self).__name__)


class _Pool3d(Module):
    """What MaxPool3d and AvgPool3d share: the window options as given (checked by the
    function on each call, as PyTorch); ``stride`` defaults to ``kernel_size``."""

    def __init__(self, kernel_size, stride, padding, ceil_mode: bool):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode


class MaxPool3d(_Pool3d):
    """Max pooling over kd×kh×kw windows (see :func:`F.max_pool3d`); ``stride`` defaults
    to ``kernel_size``. With ``return_indices=True`` the layer returns ``(y, indices)``
    (flat positions in each (D, H, W) volume). PyTorch's arguments, in its order.
    Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = dilation
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool3d(_Pool3d):
    """Average pooling over kd×kh×kw windows (see :func:`F.avg_pool3d`); ``stride``
    defaults to ``kernel_size``; ``ceil_mode=False``, ``count_include_pad=True`` and
    ``divisor_override=None`` as PyTorch.
    Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation for volumes ``(N, C, D, H, W)``: per channel c, the statistics
    are taken over the batch and all voxels (N·D·H·W values)::

        y = (x − μ_c) / √(σ²_c + eps) · γ_c + β_c

    with the biased variance for normalising and the unbiased one (·n/(n − 1)) for the
    running estimate; momentum, ``track_running_stats`` and evaluation are _BatchNorm's,
    reused unchanged. Only the accepted input shape differs.
    """

    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 5:
            raise ValueError(f"BatchNorm3d: expected 5D input (N, C, D, H, W), got shape "
                             f"{x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm3d: input of shape {x.shape} has {x.shape[1]} channels, "
                             f"the layer was built for {self.num_features}")


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or unbatched (C, D, H, W): each sample's
    channel normalised over its D·H·W voxels (``InstanceNorm1d`` has the formula);
    ``affine`` and ``track_running_stats`` default to False, as PyTorch."""
    spatial = 3


class Dropout3d(_DropoutNd):
    """Channel dropout for (N, C, D, H, W) or (C, D, H, W): whole channel volumes zeroed
    with probability ``p``, the others scaled by 1/(1 − p); identity in evaluation
    (``F.dropout3d``)."""

    def forward(self, input: Tensor) -> Tensor:
        return dropout3d(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels (``F.feature_alpha_dropout``): a dropped channel
    takes SELU's negative limit and an affine map keeps zero mean and unit variance;
    identity in evaluation. Input (N, C, *). ``inplace`` is kept and printed but, as in
    PyTorch's module, not passed on: the input is never overwritten."""

    def forward(self, input: Tensor) -> Tensor:
        return feature_alpha_dropout(input, self.p, self.training)
