"""Transposed convolutions: ``F.conv_transpose1d/2d`` and ``nn.ConvTranspose1d/2d``.

A convolution gathers: each output pixel is a dot product of the kernel with
the input window under it (``y = W @ im2col(x)``, see ``nn/conv.py``). A
*transposed* convolution scatters: each input pixel adds a copy of the kernel,
scaled by the pixel's value, into the output window at stride positions::

    y_full[n, o, h·s + i·d, w·s + j·d] += x[n, c, h, w] · W[c, o, i, j]

It is the adjoint of ``conv2d`` with the same weight (that is the word
"transposed"): ``⟨conv2d(x, W), y⟩ = ⟨x, conv_transpose2d(y, W)⟩``, so it is
what the gradient of ``conv2d`` with respect to its input computes, and it
maps a conv2d output shape back to the conv2d input shape (up-sampling in
decoders and GANs). Written with the two conv primitives, the scatter is::

    cols = Wᵀ @ x                  (N, C_out·kh·kw, H·W)   one scaled kernel per input pixel
    y_full = col2im(cols)          overlapping kernels add up
    y = y_full cropped by ``padding`` on each side, ``output_padding`` rows kept at the end

so no new backward code is needed: ``Col2Im``'s backward is ``Im2Col`` and
the rest are matmul, reshape and slices. Output size along one axis::

    OH = (H − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1

``padding`` here removes rows (it is the padding of the conv2d this one is the
adjoint of), and ``output_padding`` adds back rows at the bottom/right: a
conv2d with stride s maps s different input sizes to the same output size, and
``output_padding`` (< stride, or < dilation) picks which one to return.
"""

from __future__ import annotations

from tinygrad_opt.nn import init
from tinygrad_opt.nn.functional_conv import (Col2Im, _batched, _is_int, _pair, _single,
                                             _unbatched, check_transpose_options,
                                             check_transpose_tensors,
                                             conv_transpose_output_size)
from tinygrad_opt.nn.functional_more import pad
from tinygrad_opt.nn.module import Module, empty_parameter
from tinygrad_opt.tensor import Tensor

__all__ = ["conv_transpose1d", "conv_transpose2d", "ConvTranspose1d", "ConvTranspose2d"]


# ------------------------------------------------------------------- functional forms

def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution (the adjoint of :func:`conv2d`): NCHW, weight
    ``(C_in, C_out/groups, kh, kw)``, PyTorch's layout and argument order.

    Every input pixel scatters its kernel, scaled by its value, into the output::

        y_full[n, g·C_out/G + o, h·sh + i·dh, w·sw + j·dw] += x[n, c, h, w] · W[c, o, i, j]
        y = y_full[:, :, ph : ph + OH, pw : pw + OW] + b      (rows past y_full are 0)

    for every input channel c of group g = c // (C_in/G). Computed as
    ``col2im(Wᵀ @ x)`` with no padding, then cropped: see the module docstring.
    ``output_padding`` (each smaller than its stride or its dilation) adds rows
    at the bottom and columns at the right. Gradients come from Col2Im (whose
    backward is Im2Col) and matmul: ``dL/dx = conv2d(dL/dy, W)`` in effect.
    Shapes: input (N, C_in, H, W) or unbatched (C_in, H, W) -> output (N, C_out, OH, OW)
    or (C_out, OH, OW), with ``OH = (H − 1)·sh − 2·ph + dh·(kh − 1) + oph + 1`` (OW likewise).
    """
    op_name = "conv_transpose2d"
    x, added = _batched(input, 2, op_name)
    if weight.ndim != 4:
        raise ValueError(f"{op_name}: expected a 4-D weight (C_in, C_out/groups, kh, kw), "
                         f"got shape {weight.shape}")
    N, C_in, H, W = x.shape
    _, C_out_per_group, kh, kw = weight.shape
    groups = check_transpose_tensors(input, weight, bias, groups, op_name)
    stride = _pair(stride, "stride", op_name)
    padding = _pair(padding, "padding", op_name)
    output_padding = _pair(output_padding, "output_padding", op_name)
    dilation = _pair(dilation, "dilation", op_name)
    check_transpose_options((kh, kw), stride, padding, output_padding, dilation, op_name)
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    OH = conv_transpose_output_size(H, kh, sh, ph, oph, dh)
    OW = conv_transpose_output_size(W, kw, sw, pw, opw, dw)
    if OH < 1 or OW < 1:
        raise ValueError(f"{op_name}: input of shape {input.shape} with kernel_size {(kh, kw)}, "
                         f"stride {stride}, padding {padding}, output_padding {output_padding} "
                         f"and dilation {dilation} gives an output of {OH}x{OW}, too small")
    C_out = C_out_per_group * groups
    G = groups
    K = C_out_per_group * kh * kw                      # one input pixel's scaled kernels
    # 1. Each input pixel times its kernels: cols = Wᵀ @ x within each group.
    x = x.reshape(N, G, C_in // G, H * W)              # (N, G, C_in/G, L), L = H·W
    w = weight.reshape(G, C_in // G, K)                # (G, C_in/G, K)
    cols = w.transpose(1, 2) @ x                       # (G, K, C_in/G) @ (...) -> (N, G, K, L)
    cols = cols.reshape(N, C_out * kh * kw, H * W)     # (N, C_out·kh·kw, L): (o, i, j) c-major
    # 2. Scatter-add the kernels into the full, uncropped output (conv2d's col2im, no padding):
    #    a conv2d without padding over FH rows has exactly H windows, one per input row.
    FH = conv_transpose_output_size(H, kh, sh, 0, 0, dh)
    FW = conv_transpose_output_size(W, kw, sw, 0, 0, dw)
    full = Col2Im.apply(cols, input_shape=(N, C_out, FH, FW),
                        options=((kh, kw), stride, (0, 0), dilation))  # (N, C_out, FH, FW)
    # 3. Crop `padding` from each end; keep `output_padding` more at the end (zeros past FH).
    out = pad(full, (-pw, opw - pw, -ph, oph - ph))   # (N, C_out, OH, OW)
    if bias is not None:
        out = out + bias.reshape(1, C_out, 1, 1)       # (N, C_out, OH, OW)
    return _unbatched(out, added)                      # (C_out, OH, OW) for an unbatched input


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution (the adjoint of :func:`conv1d`): NCL, weight
    ``(C_in, C_out/groups, k)``::

        y_full[n, g·C_out/G + o, t·s + i·d] += x[n, c, t] · W[c, o, i]
        y = y_full[:, :, p : p + OL] + b

    computed as :func:`conv_transpose2d` over a height-1 image: x ``(N, C_in, 1, L)``
    and W ``(C_in, C_out/groups, 1, k)``, stride ``(1, s)``, padding ``(0, p)``,
    output_padding ``(0, op)``, dilation ``(1, d)``.
    Shapes: input (N, C_in, L) or unbatched (C_in, L) -> output (N, C_out, OL) or
    (C_out, OL), OL = (L − 1)·s − 2p + d·(k − 1) + op + 1.
    """
    op_name = "conv_transpose1d"
    x, added = _batched(input, 1, op_name)
    if weight.ndim != 3:
        raise ValueError(f"{op_name}: expected a 3-D weight (C_in, C_out/groups, k), "
                         f"got shape {weight.shape}")
    # the checks of conv_transpose2d, with this op's name and 1-D shapes in the messages
    groups = check_transpose_tensors(input, weight, bias, groups, op_name)
    stride = _single(stride, "stride", op_name)
    padding = _single(padding, "padding", op_name)
    output_padding = _single(output_padding, "output_padding", op_name)
    dilation = _single(dilation, "dilation", op_name)
    options = ((weight.shape[2],), (stride,), (padding,), (output_padding,), (dilation,))
    check_transpose_options(*options, op_name)
    length = conv_transpose_output_size(x.shape[2], weight.shape[2], stride, padding,
                                        output_padding, dilation)
    if length < 1:
        raise ValueError(f"{op_name}: input of shape {input.shape} with kernel_size "
                         f"{options[0]}, stride {options[1]}, padding {options[2]}, "
                         f"output_padding {options[3]} and dilation {options[4]} gives an "
                         f"output of {length}, too small")
    out = conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, stride),
                           (0, padding), (0, output_padding), groups, (1, dilation))
    return _unbatched(out.squeeze(2), added)           # (N, C_out, 1, OL) -> (N, C_out, OL)


# ----------------------------------------------------------------------------- modules

class _ConvTransposeNd(Module):
    """What ConvTranspose1d and ConvTranspose2d share: options, parameters, PyTorch's init,
    ``output_size`` -> ``output_padding`` and the repr. Subclasses set ``_dims`` (spatial
    dims), ``_tuple`` (an option as a ``_dims``-tuple) and ``_function``."""

    _dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if not _is_int(groups) or groups < 1:               # a NumPy integer too, as PyTorch
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups != 0 or out_channels % groups != 0:
            raise ValueError(f"{name}: in_channels {in_channels} and out_channels "
                             f"{out_channels} must be divisible by groups {groups}")
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}, '
                             f"got padding_mode={padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = self._tuple(kernel_size, "kernel_size")
        self.stride = self._tuple(stride, "stride")
        self.padding = self._tuple(padding, "padding")
        self.output_padding = self._tuple(output_padding, "output_padding")
        self.dilation = self._tuple(dilation, "dilation")
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = True
        # PyTorch's layout for transposed convs: (C_in, C_out/groups, *kernel).
        self.weight = empty_parameter(
            (in_channels, out_channels // groups) + self.kernel_size, device, dtype)
        self.register_parameter("bias", empty_parameter((out_channels,), device, dtype)
                                if bias else None)
        self.reset_parameters()

    def _tuple(self, value, name: str) -> tuple:
        return _pair(value, name, type(self).__name__)

    def reset_parameters(self) -> None:
        """PyTorch's init: W ~ kaiming_uniform(a=√5) = U(±1/√fan_in) and b ~ U(±1/√fan_in),
        with fan_in computed from the weight as for any conv: weight.shape[1] · kernel
        = out_channels/groups · kh · kw (the weight's dim 1 is C_out/groups here)."""
        init.layer_defaults_(self.weight, self.bias)

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """``self.output_padding``, or the one that gives ``output_size`` (PyTorch's rule).

        ``output_size`` lists the spatial sizes (N and C may lead, as in ``y.shape``); each
        must lie in ``[min, min + stride − 1]`` where min is the size with output_padding 0.
        """
        if output_size is None:
            return self.output_padding
        name, dims = type(self).__name__, self._dims
        non_spatial = 2 if input.ndim == dims + 2 else 1
        output_size = tuple(output_size)
        if len(output_size) == non_spatial + dims:
            output_size = output_size[non_spatial:]
        if len(output_size) != dims:
            raise ValueError(f"{name}: for {input.ndim}D input, output_size must have {dims} "
                             f"or {non_spatial + dims} elements (got {len(output_size)})")
        in_sizes = input.shape[input.ndim - dims:]
        min_sizes = tuple(conv_transpose_output_size(size, k, s, p, 0, d) for size, k, s, p, d
                          in zip(in_sizes, self.kernel_size, self.stride, self.padding,
                                 self.dilation))
        max_sizes = tuple(low + s - 1 for low, s in zip(min_sizes, self.stride))
        if any(not low <= size <= high
               for size, low, high in zip(output_size, min_sizes, max_sizes)):
            raise ValueError(f"{name}: requested an output size of {output_size}, but valid "
                             f"sizes range from {min_sizes} to {max_sizes} (for an input of "
                             f"spatial size {in_sizes})")
        return tuple(size - low for size, low in zip(output_size, min_sizes))

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        """``y = conv_transpose(x, weight, bias)``; ``output_size`` (optional) picks the
        output_padding that gives that size, as PyTorch."""
        output_padding = self._output_padding(input, output_size)
        return type(self)._function(input, self.weight, self.bias, self.stride, self.padding,
                                    output_padding, self.groups, self.dilation)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * self._dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution layer: ``y = conv_transpose2d(x, weight, bias)``
    (see :func:`conv_transpose2d`); the up-sampling layer of decoders.

    Shapes: x ``(N, C_in, H, W)`` -> y ``(N, C_out, OH, OW)`` (N may be left out) with
    ``OH = (H − 1)·sh − 2·ph + dh·(kh − 1) + oph + 1``; ``weight`` is
    ``(C_in, C_out/groups, kh, kw)`` and ``bias`` ``(C_out,)``, PyTorch's layout.
    ``forward(x, output_size)`` picks the output_padding that gives ``output_size``.
    Initialisation is PyTorch's: W and b ~ U(−1/√fan_in, 1/√fan_in) with
    fan_in = weight.shape[1]·kh·kw = C_out/groups · kh · kw.
    Only ``padding_mode='zeros'`` exists for transposed convolutions, as in PyTorch.
    """

    _dims = 2
    _function = staticmethod(conv_transpose2d)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution layer: ``y = conv_transpose1d(x, weight, bias)``
    (see :func:`conv_transpose1d`).

    Shapes: x ``(N, C_in, L)`` -> y ``(N, C_out, OL)`` (N may be left out),
    OL = (L − 1)·s − 2p + d·(k − 1) + op + 1;
    ``weight`` is ``(C_in, C_out/groups, k)`` and ``bias`` ``(C_out,)``, PyTorch's layout.
    Options are stored as 1-tuples (``kernel_size=(k,)``), as PyTorch. Initialisation as
    ConvTranspose2d, with fan_in = C_out/groups · k.
    """

    _dims = 1
    _function = staticmethod(conv_transpose1d)

    def _tuple(self, value, name: str) -> tuple:
        return (_single(value, name, type(self).__name__),)
