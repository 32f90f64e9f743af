"""Fused convolution and pooling: compositions of ``nn/functional_conv.py`` as one op each.

Each is a named twin of a composition that stays the definition, written in the
docstrings and comments of ``conv2d``, ``max_pool2d`` and ``avg_pool2d`` there (and run
there for the inputs the twins do not take); the tests compare every fused op
with its composition, values, gradients and second derivatives
(tests/nn/test_fused_conv.py). Each pays for itself on every step of a small CNN
(``tinygrad-opt bench --only cnn``; docs/benchmarks.md has the measurements):

* ``Conv2d``: ``W.reshape(O, K) @ im2col(x) + b`` is eight ops forward (reshapes,
  broadcasts, the product, the bias) and as many backward; one here, whose backward
  reuses the forward's columns for dL/dW.
* ``MaxPool2d``: im2col copies every window out and ``max`` reduces over the window
  axis; here the windows are never copied: each kernel tap of all windows is one
  strided view of the input, and the maximum is a running maximum over those views.
* ``AvgPool2d``: the same for ``avg_pool2d``'s im2col and sum, a running sum over the
  views, and its divisor counted on a 0/1 plane by the same views (``window_counts``).
"""

from __future__ import annotations

import math

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.autograd.grad_mode import flags
from tinygrad_opt.nn.im2col import Col2Im, Im2Col, _tap_slice, conv_output_size


def tap_views(x_padded, kernel_size, stride, dilation, out_size):
    """The kh·kw strided views of a padded (N, C, H, W) array, one per kernel tap
    (i, j) in row-major order: view (i, j) holds, for every window, its tap (i, j)."""
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = kernel_size, stride, dilation, out_size
    return [x_padded[:, :, _tap_slice(i, dh, sh, OH), _tap_slice(j, dw, sw, OW)]
            for i in range(kh) for j in range(kw)]


class MaxPool2d(Function):
    """y = the maximum of each kh×kw window of x padded with ``pad_value`` (−inf)::

        y[n, c, oh, ow] = max_{i,j} x_pad[n, c, oh·sh + i·dh, ow·sw + j·dw]

    Tap (i, j) of every window is one strided view of x_pad (``tap_views``), so y is
    the running maximum of kh·kw views. dL/dx: each window's dL/dy goes to its taps
    that equal the maximum, shared equally among ties (the rule of ``max``); as
    PyTorch's kernel, all of it to the last NaN of a NaN window and to the first tap in
    x of a −inf one (``_winners``); selected with ``where`` (so a tap that is not a
    maximum gets exactly 0, even from an infinite dL/dy). Laid out as im2col's columns,
    those shares are what ``Col2Im`` adds back to the pixels (a pixel in several windows
    gets one term from each);
    ``Col2Im`` is differentiable, so a recorded backward has second derivatives.
    """

    def forward(self, x: "Array", kernel_size, stride, padding, dilation, pad_value) -> "Array":
        self.options = (kernel_size, stride, padding, dilation)
        self.pad_value = pad_value
        taps = tap_views(self._padded(x), kernel_size, stride, dilation, self._out_size(x))
        out = taps[0].copy()
        for tap in taps[1:]:
            backend.xp_of(x).maximum(out, tap, out=out)
        return out

    def backward(self, grad_output: "Grad") -> "Grads":
        x = self.saved_input(0)                            # checked: unchanged since forward
        if flags.grad:  # recorded: which taps won is fixed, so the masks are arrays anyway
            x = x.data
        y = self._output_array(x)
        xp = backend.xp_of(x)
        (kh, kw), stride, _, dilation = self.options
        N, C, OH, OW = y.shape
        is_max = self._winners(x, y, xp)                             # tap k won its window
        ties = is_max[0].astype(y.dtype)
        for won in is_max[1:]:
            ties += won                                              # (N, C, OH, OW)
        share = grad_output / xp.maximum(ties, 1)  # (a NaN window has no tap equal to y: 0/1)
        if flags.grad or backend.device_of(x) != "cpu" or not xp.isfinite(share).all():
            # the readable selection, then Col2Im (a GPU's where does not branch)
            columns = self.xp.where(xp.stack(is_max, axis=2), share.reshape(N, C, 1, OH, OW), 0)
            return Col2Im.apply(columns.reshape(N, C * kh * kw, OH * OW), input_shape=x.shape,
                                options=self.options)
        # The same numbers for a finite share, faster: 0 · share = 0, so the product selects
        # as where does (branch-free: where is 10x slower on a random mask, see fused.Relu),
        # and each tap's shares go straight back through its view (Col2Im's loop, with no
        # columns in between); windows that do not overlap are written, not added to.
        grad = xp.zeros(self._padded(x).shape, dtype=share.dtype)
        disjoint = all(s >= d * (k - 1) + 1 for s, d, k in zip(stride, dilation, (kh, kw)))
        for won, tap in zip(is_max, tap_views(grad, (kh, kw), stride, dilation, (OH, OW))):
            if disjoint:
                xp.multiply(won, share, out=tap)
            else:
                tap += won * share
        (ph, pw), (H, W) = self.options[2], x.shape[2:]
        return grad[:, :, ph:ph + H, pw:pw + W]

    def _output_array(self, x):
        """y as forward returned it or, if y was since written in place, y again from x
        (PyTorch's backward reads its saved indices, not y, so ``MaxPool2d`` followed by
        ``ReLU(inplace=True)`` trains there; only a write to x is refused)."""
        output = self.output_ref()
        if output._versions[0] == self.versions[-1]:
            return output.data
        kernel_size, stride, padding, dilation = self.options
        return self.forward(x, kernel_size, stride, padding, dilation, self.pad_value)

    def _winners(self, x, y, xp):
        """Per kernel tap, where it won its window: the taps equal to the maximum (ties
        share), except as PyTorch's kernel (the tap its ``return_indices`` names) in a
        window whose maximum is NaN, its last NaN tap, and in one of −inf (every tap −inf
        or padding), its first tap in x (a window wholly in the padding: none)."""
        (kh, kw), stride, _, dilation = self.options
        taps = tap_views(self._padded(x), (kh, kw), stride, dilation, y.shape[2:])
        is_max = [tap == y for tap in taps]       # a NaN window: all False; −inf: pads too
        if not backend.is_floating(y.dtype) or (backend.device_of(x) == "cpu" and
                                                 xp.isfinite(y).all()):
            return is_max                         # (on a GPU, no test: the masks below)
        looking = xp.isnan(y)                     # (N, C, OH, OW): NaN windows not yet served
        for k in reversed(range(len(taps))):      # a NaN window: its last NaN tap
            last = looking & xp.isnan(taps[k])
            is_max[k] |= last
            looking &= ~last
        in_x = xp.ones((1, 1) + x.shape[2:], dtype=backend.bool_)
        inside = tap_views(self._padded(in_x, fill=False), (kh, kw), stride, dilation,
                           y.shape[2:])           # tap k reads x, not the padding
        lowest = y == -xp.inf
        looking = lowest.copy()                   # −inf windows not yet served
        for k in range(len(taps)):                # a −inf window: its first tap in x
            first = looking & inside[k]
            is_max[k] = xp.where(lowest, first, is_max[k])
            looking &= ~first
        return is_max

    def _padded(self, x, fill=None):
        """x padded with ``fill`` (default the op's ``pad_value``)."""
        (ph, pw) = self.options[2]
        if not ph and not pw:
            return x
        N, C, H, W = x.shape
        fill = self.pad_value if fill is None else fill
        padded = backend.xp_of(x).full((N, C, H + 2 * ph, W + 2 * pw), fill, dtype=x.dtype)
        padded[:, :, ph:ph + H, pw:pw + W] = x
        return padded

    def _out_size(self, x):
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.options
        return (conv_output_size(x.shape[2], kh, sh, ph, dh),
                conv_output_size(x.shape[3], kw, sw, pw, dw))


class Conv2d(Function):
    """y = W ⋆ x + b, a 2-D convolution with ``groups`` groups, as im2col and a product::

        cols = im2col(x)                          (N, G, K, L), K = C/G·kh·kw, L = OH·OW
        y[n, g] = W[g] @ cols[n, g] + b[g]        W (G, O/G, K): group g's filters as rows

    dL/dW[g] = Σ_n dL/dy[n, g] @ cols[n, g]ᵀ,   dL/db = Σ_{n, l} dL/dy,
    dL/dx = col2im(W[g]ᵀ @ dL/dy[n, g])  (the transpose of im2col adds the columns back).

    A plain backward reuses the forward's columns (the composition's MatMul saves them
    too); a recorded one makes them again with the differentiable ``Im2Col``, so the
    same formulas record a graph and second derivatives work.
    """

    def forward(self, x: "Array", weight: "Array", bias: "Array" = None, options=None,
                groups: int = 1) -> "Array":
        self.options, self.groups = options, groups
        if x.dtype == backend.float16:  # in float32, bias included, rounded once (as Linear)
            wide = backend.float32
            bias = None if bias is None else bias.astype(wide)
            out = self.forward(x.astype(wide), weight.astype(wide), bias, options, groups)
            self.cols = self.cols.astype(x.dtype)             # backward's columns: x's dtype
            return out.astype(x.dtype)
        cols = Im2Col().forward(x, *options)                  # (N, C·kh·kw, L): arrays
        N, O, G = x.shape[0], weight.shape[0], groups
        K, L = math.prod(weight.shape[1:]), cols.shape[-1]    # no -1 in the shapes: N may be 0
        self.cols = cols.reshape(N, G, K, L)                  # (N, G, K, L)
        out = weight.reshape(G, O // G, K) @ self.cols        # (N, G, O/G, L)
        out = out.reshape(N, O, L)                            # (N, O, L)
        if bias is not None:
            out += bias[:, None]                              # one b[o] per output channel
        return out

    def backward(self, grad_output: "Grad") -> "Grads":
        x, weight = self.saved_input(0), self.saved_input(1)
        xp, G = self.xp, self.groups
        N, O, L = grad_output.shape
        K = math.prod(weight.shape[1:])                                   # C/G·kh·kw; N may be 0
        grad = grad_output.reshape(N, G, O // G, L)                       # (N, G, O/G, L)
        w = weight.reshape(G, O // G, K)                                  # (G, O/G, K)
        cols = self.cols
        if flags.grad:  # recorded: columns that know they come from x
            kernel_size, stride, padding, dilation = self.options
            cols = Im2Col.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                                dilation=dilation).reshape(N, G, K, L)
        grads = [None, None, None][:len(self.inputs)]
        if self.needs_input_grad[0]:
            grad_cols = (xp.swapaxes(w, -1, -2) @ grad).reshape(N, G * K, L)  # (N, C·kh·kw, L)
            grads[0] = Col2Im.apply(grad_cols, input_shape=x.shape, options=self.options)
        if self.needs_input_grad[1]:
            grads[1] = (grad @ xp.swapaxes(cols, -1, -2)).sum(axis=0).reshape(weight.shape)
        if len(self.inputs) == 3 and self.needs_input_grad[2]:
            grads[2] = grad_output.sum(axis=(0, 2))                       # (O,)
        return tuple(grads)


class AvgPool2d(Function):
    """y = the mean of each kh×kw window of x padded with zeros, divided by ``divisor``::

        y[n, c, oh, ow] = (1 / divisor[oh, ow]) Σ_{i,j} x_pad[n, c, oh·sh + i, ow·sw + j]

    The sum is a running sum over the kernel taps' strided views (``tap_views``), in tap
    order (the composition's reduction over the window axis may group 8 or more terms
    otherwise: equal to rounding). ``divisor``: an int (``divisor_override``) or
    PyTorch's count per window (``window_counts``).
    dL/dx: every tap of a window gets dL/dy / divisor, added back through the same views
    (``Col2Im``'s loop; a recorded backward runs ``Col2Im`` itself, so it has second
    derivatives).
    """

    def forward(self, x: "Array", kernel_size, stride, padding, divisor) -> "Array":
        self.options, self.divisor = (kernel_size, stride, padding, (1, 1)), divisor
        (ph, pw), (N, C, H, W) = padding, x.shape
        padded = x
        if ph or pw:
            padded = backend.xp_of(x).zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
            padded[:, :, ph:ph + H, pw:pw + W] = x
        self.out_size = (conv_output_size(H, kernel_size[0], stride[0], ph, 1),
                         conv_output_size(W, kernel_size[1], stride[1], pw, 1))
        taps = tap_views(padded, kernel_size, stride, (1, 1), self.out_size)
        sums = taps[0].copy()
        for tap in taps[1:]:
            sums += tap
        return sums / divisor

    def backward(self, grad_output: "Grad") -> "Grads":
        (kh, kw), stride, (ph, pw), _ = self.options
        N, C, H, W = self.inputs[0].shape
        OH, OW = self.out_size
        share = grad_output / self.divisor                                # (N, C, OH, OW)
        if flags.grad:  # recorded: every tap's column is the share, then Col2Im
            columns = share.reshape(N, C, 1, OH * OW).broadcast_to((N, C, kh * kw, OH * OW))
            return Col2Im.apply(columns.reshape(N, C * kh * kw, OH * OW),
                                input_shape=(N, C, H, W), options=self.options)
        xp = backend.xp_of(share)
        grad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=share.dtype)
        for tap in tap_views(grad, (kh, kw), stride, (1, 1), (OH, OW)):
            tap += share
        return grad[:, :, ph:ph + H, pw:pw + W]


def window_counts(input_shape, ready_shape, kernel_size, stride, padding, count_include_pad,
                  xp, dtype):
    """PyTorch's divisor of each window of an average pooling, (OH, OW): its positions in
    the padded input (``count_include_pad``) or in the input only; positions past the
    padded input (ceil mode's extension, ``ready_shape``) never count. Each window's sum
    of a 0/1 plane, by the same tap views."""
    (H, W), (ph, pw) = input_shape[2:], padding
    plane = xp.zeros((ready_shape[2] + 2 * ph, ready_shape[3] + 2 * pw), dtype=dtype)
    if count_include_pad:
        plane[:H + 2 * ph, :W + 2 * pw] = 1      # the input and its padding
    else:
        plane[ph:ph + H, pw:pw + W] = 1          # the input only
    out_size = (conv_output_size(ready_shape[2], kernel_size[0], stride[0], ph, 1),
                conv_output_size(ready_shape[3], kernel_size[1], stride[1], pw, 1))
    taps = tap_views(plane[None, None], kernel_size, stride, (1, 1), out_size)
    return sum(taps[1:], taps[0].copy())[0, 0]
