"""im2col and col2im: every convolution and pooling window as a column, and back.

``Im2Col`` copies each kh×kw window of a padded image out as one column; ``Col2Im``,
its transpose, adds columns back to the pixels they came from. Each is the other's
derivative. ``nn/functional_conv.py`` builds convolution and pooling on them, and the
fused ops of ``nn/fused_conv.py`` use them too. ``window_argmax`` is the index rule
of every max pool with ``return_indices`` (1-D to 3-D, adaptive, fractional).
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads


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


def window_argmax(values, where_from, xp):
    """The flat input index PyTorch's max pooling returns for each window.

    ``values`` (N, C, K, L) are the K taps of each of the L windows (the padding holds the
    dtype's lowest value) and ``where_from`` (K, L) the input index each tap reads (−1 in
    the padding). PyTorch scans a window's in-bounds taps in order, holding the first
    one's index and −inf, and moves to a tap whose value is greater, or NaN. So the index
    is that of the first maximum, of the last NaN when there is one, and of the first
    in-bounds tap when every value is −inf (the dtype's lowest): (N, C, L).
    """
    K, L = where_from.shape
    windows = xp.arange(L)
    best = values.argmax(axis=2)                                   # (N, C, L): first maximum
    if backend.is_floating(values.dtype):
        is_nan = xp.isnan(values)                                  # (N, C, K, L)
        last_nan = K - 1 - is_nan[:, :, ::-1].argmax(axis=2)       # (N, C, L)
        best = xp.where(is_nan.any(axis=2), last_nan, best)
    indices = where_from[best, windows]                            # (N, C, L); −1: a pad won
    first_in_bounds = where_from[(where_from >= 0).argmax(axis=0), windows]   # (L,)
    return xp.where(indices >= 0, indices, first_in_bounds)
