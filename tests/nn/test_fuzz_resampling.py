"""Randomised (hypothesis) checks of the resampling, pooling-option and transposed-convolution
functions of ``tinygrad_opt.nn.functional``.

Each test draws options and small shapes, runs the function in float64 and compares
(1) its forward with a NumPy loop written from PyTorch's documented definition, (2) the
gradient of L = Σ y·R (R random) with central differences of that reference. Covered:
``interpolate`` (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area; size=
or an integer or fractional scale_factor, align_corners, recompute_scale_factor) and the
``upsample*`` aliases, ``grid_sample`` (every mode × padding_mode × align_corners, 4-D and
5-D, points outside the image) and ``affine_grid``, ``lp_pool1d/2d/3d`` (stride, ceil_mode),
``max_unpool1d/2d/3d`` after ``max_pool*d(return_indices=True)`` (padding, dilation,
ceil_mode, output_size), the adaptive pools with sizes that do not divide the input and None
in output_size, ``fractional_max_pool2d`` (output_size / output_ratio, given samples),
``conv_transpose1d/2d/3d`` (against a loop and as the adjoint of ``conv*d``:
<conv(x), y> = <x, conv_transpose(y)>), ``fold``/``unfold``, ``pad`` in its four modes with
negative amounts, ``pixel_shuffle``/``pixel_unshuffle`` and ``channel_shuffle``.

The plain layers (Conv*, Pool* modules, norms, embedding, RNNs) are in test_fuzz_layers.py.
By default each test draws a few examples (derandomised, so CI is deterministic);
``RESAMPLING_FUZZ_EXAMPLES=N`` draws N per test (with ``HYPOTHESIS_PROFILE=explore`` new ones).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from fuzzing import examples, fuzz_settings

EXAMPLES = examples("RESAMPLING_FUZZ_EXAMPLES", 8)
fuzz = fuzz_settings(EXAMPLES)

EPS = 1e-6                       # central-difference step (float64)


# ----------------------------------------------------------------------------- machinery

def _numeric(f, array: np.ndarray) -> np.ndarray:
    """Central differences of the scalar f() with respect to ``array`` (changed in place)."""
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        old = array[i]
        array[i] = old + EPS
        plus = f()
        array[i] = old - EPS
        minus = f()
        array[i] = old
        grad[i] = (plus - minus) / (2 * EPS)
    return grad


def check(function, reference, inputs: dict, grads=None, device="cpu", rtol=1e-7, atol=1e-9,
          grad_atol=1e-6):
    """``function(tensors)`` against ``reference(arrays)`` (float64): the forward values,
    then the gradients of L = Σ y·R to every input named in ``grads`` (default: all) against
    central differences of the reference. A missing gradient counts as zeros."""
    grads = list(inputs) if grads is None else grads
    tensors = {name: tg.tensor(value, device=device, requires_grad=name in grads)
               for name, value in inputs.items()}
    out = function(tensors)
    expected = np.asarray(reference(inputs), dtype=np.float64)
    assert tuple(out.shape) == expected.shape, (out.shape, expected.shape)
    np.testing.assert_allclose(out.numpy(), expected, rtol=rtol, atol=atol)
    if not grads:
        return out
    weight = np.random.default_rng(expected.size).standard_normal(expected.shape)
    (out * tg.tensor(weight, device=device)).sum().backward()
    for name in grads:
        numeric = _numeric(lambda: float((reference(inputs) * weight).sum()), inputs[name])
        got = tensors[name].grad
        got = np.zeros_like(numeric) if got is None else got.numpy()
        np.testing.assert_allclose(got, numeric, rtol=1e-5, atol=grad_atol, err_msg=name)
    return out


def _along(array: np.ndarray, axis: int, matrix: np.ndarray) -> np.ndarray:
    """Apply the (out, in) matrix along ``axis``: y[..., j, ...] = Σ_i M[j, i]·x[..., i, ...]."""
    return np.moveaxis(np.tensordot(matrix, np.moveaxis(array, axis, 0), axes=1), 0, axis)


# ------------------------------------------------------------------------- interpolation

CUBIC_A = -0.75


def cubic_weight(s: float) -> float:
    """Keys' cubic convolution kernel with A = −0.75 (PyTorch's bicubic)."""
    s = abs(s)
    if s <= 1:
        return ((CUBIC_A + 2) * s - (CUBIC_A + 3)) * s * s + 1
    if s < 2:
        return ((CUBIC_A * s - 5 * CUBIC_A) * s + 8 * CUBIC_A) * s - 4 * CUBIC_A
    return 0.0


def resample_matrix(mode: str, n_in: int, n_out: int, scale, align_corners: bool):
    """The (out, in) matrix of one spatial dim of ``F.interpolate`` (PyTorch's CPU rules;
    ``scale`` is the user's scale factor or None, then s = in/out)."""
    m = np.zeros((n_out, n_in))
    if mode in ("nearest", "nearest-exact"):
        # compute_scales_value<float>: 1/scale or in/out, in float32; nearest copies when
        # out = in and takes j >> 1 when out = 2·in (PyTorch's nearest_idx).
        s = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
        for j in range(n_out):
            if mode == "nearest" and n_out == n_in:
                i = j
            elif mode == "nearest" and n_out == 2 * n_in:
                i = j // 2
            else:
                offset = np.float32(0.5) if mode == "nearest-exact" else np.float32(0)
                i = min(int(np.floor((np.float32(j) + offset) * s)), n_in - 1)
            m[j, i] = 1
        return m
    if mode == "area":                            # adaptive average pooling
        for j in range(n_out):
            lo, hi = math.floor(j * n_in / n_out), math.ceil((j + 1) * n_in / n_out)
            m[j, lo:hi] = 1 / (hi - lo)
        return m
    if align_corners:
        s = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
        s = 1.0 / scale if scale else n_in / n_out
    for j in range(n_out):
        u = s * j if align_corners else s * (j + 0.5) - 0.5
        if mode == "bicubic":                     # u not clamped; taps clamped into the input
            i = min(math.floor(u), n_in - 1)
            t = min(max(u - i, 0.0), 1.0)
            for k in range(-1, 3):
                m[j, min(max(i + k, 0), n_in - 1)] += cubic_weight(t - k)
        elif n_out == n_in:                       # linear: PyTorch copies a dim of equal size
            m[j, j] = 1
        else:
            u = max(u, 0.0)
            i = min(math.floor(u), n_in - 1)
            lam = min(max(u - i, 0.0), 1.0)
            m[j, i] += 1 - lam
            m[j, min(i + 1, n_in - 1)] += lam
    return m


def ref_interpolate(x, out_sizes, scales, mode, align_corners):
    for axis, (n_out, scale) in enumerate(zip(out_sizes, scales)):
        x = _along(x, 2 + axis, resample_matrix(mode, x.shape[2 + axis], n_out, scale,
                                                bool(align_corners)))
    return x


MODES_BY_DIMS = {1: ["nearest", "nearest-exact", "linear", "area"],
                 2: ["nearest", "nearest-exact", "bilinear", "bicubic", "area"],
                 3: ["nearest", "nearest-exact", "trilinear", "area"]}


@st.composite
def interpolate_config(draw):
    nd = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(MODES_BY_DIMS[nd]))
    sizes = tuple(draw(st.integers(1, 5 if nd < 3 else 3)) for _ in range(nd))
    align = (draw(st.sampled_from([None, False, True]))
             if mode in ("linear", "bilinear", "bicubic", "trilinear") else None)
    how = draw(st.sampled_from(["size", "scale", "scales"]))
    factor = st.sampled_from([0.5, 0.7, 1.0, 1.2, 1.5, 1.7, 2, 2.5, 3])
    if how == "size":
        size = tuple(draw(st.integers(1, 7 if nd < 3 else 4)) for _ in range(nd))
        arg = dict(size=size if nd > 1 or draw(st.booleans()) else size[0])
        out, scales = size, (None,) * nd
    else:
        factors = ((draw(factor),) * nd if how == "scale"
                   else tuple(draw(factor) for _ in range(nd)))
        recompute = draw(st.sampled_from([None, False, True]))
        arg = dict(scale_factor=factors[0] if how == "scale" else factors,
                   recompute_scale_factor=recompute)
        out = tuple(math.floor(n * float(f)) for n, f in zip(sizes, factors))
        scales = (None,) * nd if recompute else tuple(float(f) for f in factors)
    return dict(nd=nd, mode=mode, sizes=sizes, align_corners=align, arg=arg, out=out,
                scales=scales, batch=draw(st.integers(1, 2)))


@fuzz
@given(config=interpolate_config())
def test_interpolate_matches_reference(device, config):
    c = config
    assume(min(c["out"]) >= 1)
    x = np.random.default_rng(len(str(c))).standard_normal((c["batch"], 2) + c["sizes"])
    check(lambda t: F.interpolate(t["x"], mode=c["mode"], align_corners=c["align_corners"],
                                  **c["arg"]),
          lambda a: ref_interpolate(a["x"], c["out"], c["scales"], c["mode"],
                                    c["align_corners"]),
          {"x": x}, device=device)


@fuzz
@given(data=st.data())
def test_upsample_aliases_are_interpolate(data):
    """F.upsample (any mode), upsample_nearest and upsample_bilinear (align_corners=True)."""
    sizes = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    factor = data.draw(st.sampled_from([2, 1.5, 3]))
    mode = data.draw(st.sampled_from(["nearest", "bilinear", "bicubic", "area"]))
    x = np.random.default_rng(sum(sizes)).standard_normal((1, 2) + sizes)
    out = tuple(math.floor(n * factor) for n in sizes)
    align = True if mode in ("bilinear", "bicubic") else None
    with pytest.warns(UserWarning, match="deprecated"):
        y = F.upsample(tg.tensor(x), scale_factor=factor, mode=mode, align_corners=align)
    np.testing.assert_allclose(y.numpy(), ref_interpolate(x, out, (factor,) * 2, mode, align),
                               rtol=1e-7, atol=1e-9)
    with pytest.warns(UserWarning, match="deprecated"):
        y = F.upsample_nearest(tg.tensor(x), scale_factor=factor)
    np.testing.assert_allclose(y.numpy(), ref_interpolate(x, out, (factor,) * 2, "nearest",
                                                          None))
    with pytest.warns(UserWarning, match="deprecated"):
        y = F.upsample_bilinear(tg.tensor(x), size=out)
    np.testing.assert_allclose(y.numpy(), ref_interpolate(x, out, (None,) * 2, "bilinear", True),
                               rtol=1e-7, atol=1e-9)


# -------------------------------------------------------------------------- grid sampling

def _unnormalize(coordinate, n, align_corners):
    return (coordinate + 1) / 2 * (n - 1) if align_corners else ((coordinate + 1) * n - 1) / 2


def _reflect(u, twice_low, twice_high):
    if twice_low == twice_high:
        return 0.0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    d = abs(u - low)
    extra, flips = math.fmod(d, span), math.floor(d / span)
    return extra + low if flips % 2 == 0 else span - extra + low


def _fold(u, n, padding_mode, align_corners):
    """PyTorch's compute_coordinates: the padding's fold of a pixel coordinate."""
    if padding_mode == "border":
        return min(max(u, 0.0), n - 1.0)
    if padding_mode == "reflection":
        u = _reflect(u, 0, 2 * (n - 1)) if align_corners else _reflect(u, -1, 2 * n - 1)
        return min(max(u, 0.0), n - 1.0)
    return u


def ref_grid_sample(x, grid, mode, padding_mode, align_corners):
    """One point at a time: y[n, :, *p] from x[n] at the normalised point grid[n, *p]."""
    N, C = x.shape[:2]
    sizes = x.shape[2:]
    dims = len(sizes)
    y = np.zeros((N, C) + grid.shape[1:-1])

    def read(n, index):                            # 0 outside the image
        if all(0 <= i < s for i, s in zip(index, sizes)):
            return x[(n, slice(None)) + tuple(index)]
        return np.zeros(C)

    for n in range(N):
        for p in np.ndindex(grid.shape[1:-1]):
            point = grid[(n,) + p]                 # (x, y[, z]): along W, H[, D]
            raw = [_unnormalize(point[dims - 1 - a], sizes[a], align_corners)
                   for a in range(dims)]           # along D, H, W
            if mode == "bicubic":
                low = [math.floor(u) for u in raw]
                t = [u - i for u, i in zip(raw, low)]
                value = np.zeros(C)
                for a in range(4):
                    for b in range(4):
                        taps = [low[0] - 1 + a, low[1] - 1 + b]
                        if padding_mode != "zeros":
                            taps = [int(_fold(float(k), s, padding_mode, align_corners))
                                    for k, s in zip(taps, sizes)]
                        value += (cubic_weight(t[0] - (a - 1)) * cubic_weight(t[1] - (b - 1))
                                  * read(n, taps))
            else:
                u = [_fold(v, s, padding_mode, align_corners) for v, s in zip(raw, sizes)]
                if mode == "nearest":
                    value = read(n, [int(np.rint(v)) for v in u])
                else:
                    low = [math.floor(v) for v in u]
                    value = np.zeros(C)
                    for corner in itertools.product((0, 1), repeat=dims):
                        weight = math.prod(v - i if c else 1 - (v - i)
                                           for v, i, c in zip(u, low, corner))
                        value += weight * read(n, [i + c for i, c in zip(low, corner)])
            y[(n, slice(None)) + p] = value
    return y


@fuzz
@given(data=st.data(), mode=st.sampled_from(["bilinear", "nearest", "bicubic"]),
       padding_mode=st.sampled_from(["zeros", "border", "reflection"]),
       align_corners=st.sampled_from([None, False, True]))
def test_grid_sample_matches_reference(device, data, mode, padding_mode, align_corners):
    dims = 2 if mode == "bicubic" else data.draw(st.integers(2, 3))
    sizes = tuple(data.draw(st.integers(1, 4 if dims == 2 else 3)) for _ in range(dims))
    outs = tuple(data.draw(st.integers(1, 3)) for _ in range(dims))
    rng = np.random.default_rng(len(str((sizes, outs, mode, padding_mode))))
    x = rng.standard_normal((2, 2) + sizes)
    spread = data.draw(st.sampled_from([0.9, 1.6, 3.5]))      # > 1: points outside the image
    grid = rng.uniform(-spread, spread, (2,) + outs + (dims,))
    check(lambda t: F.grid_sample(t["x"], t["grid"], mode, padding_mode, align_corners),
          lambda a: ref_grid_sample(a["x"], a["grid"], mode, padding_mode, bool(align_corners)),
          {"x": x, "grid": grid}, device=device, grad_atol=1e-5)


def ref_affine_grid(theta, size, align_corners):
    N, dims = theta.shape[0], theta.shape[1]
    spatial = size[2:]

    def position(j, n):
        if n == 1:
            return 0.0
        v = -1 + 2 * j / (n - 1)
        return v if align_corners else v * (n - 1) / n

    grid = np.zeros((N,) + tuple(spatial) + (dims,))
    for n in range(N):
        for p in np.ndindex(*spatial):
            point = [position(p[a], spatial[a]) for a in reversed(range(dims))]  # x, y[, z]
            grid[(n,) + p] = theta[n] @ np.array(point + [1.0])
    return grid


@fuzz
@given(data=st.data(), align_corners=st.sampled_from([None, False, True]))
def test_affine_grid_matches_reference_and_identity_resamples(device, data, align_corners):
    dims = data.draw(st.integers(2, 3))
    spatial = tuple(data.draw(st.integers(1, 4)) for _ in range(dims))
    size = (2, 3) + spatial
    rng = np.random.default_rng(sum(spatial))
    theta = rng.standard_normal((2, dims, dims + 1))
    check(lambda t: F.affine_grid(t["theta"], size, align_corners),
          lambda a: ref_affine_grid(a["theta"], size, bool(align_corners)),
          {"theta": theta}, device=device)
    # The identity map resamples the input unchanged (same align_corners on both).
    identity = np.tile(np.eye(dims, dims + 1), (2, 1, 1))
    x = rng.standard_normal(size)
    grid = F.affine_grid(tg.tensor(identity, device=device), size, align_corners)
    for mode in ("bilinear", "nearest"):
        y = F.grid_sample(tg.tensor(x, device=device), grid, mode, "zeros", align_corners)
        np.testing.assert_allclose(y.numpy(), x, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------- pooling

def pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size (a last ceil-mode window must start inside the input
    or the left padding)."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def ref_lp_pool(x, p, kernel, stride, ceil_mode):
    """PyTorch: avg_pool(x^p, padding 0) · Π kernel, then the p-th root. A ceil-mode window
    that overhangs the input averages over its elements inside (then times the full
    kernel)."""
    nd = len(kernel)
    sizes = x.shape[2:]
    outs = [pool_out(sizes[i], kernel[i], stride[i], 0, 1, ceil_mode) for i in range(nd)]
    y = np.zeros(x.shape[:2] + tuple(outs))
    for pos in np.ndindex(*outs):
        box = tuple(slice(pos[i] * stride[i], min(pos[i] * stride[i] + kernel[i], sizes[i]))
                    for i in range(nd))
        window = x[(slice(None), slice(None)) + box] ** p
        count = math.prod(b.stop - b.start for b in box)
        y[(slice(None), slice(None)) + pos] = (
            window.reshape(x.shape[:2] + (-1,)).sum(-1) / count * math.prod(kernel)) ** (1 / p)
    return y


@fuzz
@given(data=st.data(), nd=st.integers(1, 3), p=st.sampled_from([1, 2, 3, 1.5]),
       ceil_mode=st.booleans())
def test_lp_pool_matches_reference(device, data, nd, p, ceil_mode):
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    stride = (None if data.draw(st.booleans())
              else tuple(data.draw(st.integers(1, 3)) for _ in range(nd)))
    sizes = tuple(data.draw(st.integers(k, k + 3)) for k in kernel)
    rng = np.random.default_rng(sum(sizes) + nd)
    x = rng.uniform(0.2, 1.5, (2, 2) + sizes)        # positive: x^1.5 and the root are real
    function = {1: F.lp_pool1d, 2: F.lp_pool2d, 3: F.lp_pool3d}[nd]
    arg = (lambda v: v if v is None or nd > 1 else v[0])  # noqa: E731
    check(lambda t: function(t["x"], p, arg(kernel), arg(stride), ceil_mode),
          lambda a: ref_lp_pool(a["x"], p, kernel, kernel if stride is None else stride,
                                ceil_mode),
          {"x": x}, device=device)


def ref_unpool(y, index, out_sizes):
    out = np.zeros(y.shape[:2] + tuple(out_sizes))
    plane = out.reshape(y.shape[:2] + (-1,))
    for n, c in np.ndindex(*y.shape[:2]):
        plane[n, c, index[n, c].ravel()] = y[n, c].ravel()
    return out


@fuzz
@given(data=st.data(), nd=st.integers(1, 3), ceil_mode=st.booleans())
def test_max_unpool_inverts_max_pool(device, data, nd, ceil_mode):
    """max_unpool puts each maximum back where max_pool(return_indices=True) found it;
    output_size anywhere strictly within ± stride of the default."""
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    padding = tuple(data.draw(st.integers(0, k // 2)) for k in kernel)
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    sizes = tuple(data.draw(st.integers(1, 5)) for _ in range(nd))
    outs = [pool_out(sizes[i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode)
            for i in range(nd)]
    assume(min(outs) >= 1)
    default = [(o - 1) * s - 2 * p + k for o, s, p, k in zip(outs, stride, padding, kernel)]
    wanted = [d + data.draw(st.integers(-s + 1, s - 1)) for d, s in zip(default, stride)]
    use_size = data.draw(st.booleans())
    out_sizes = wanted if use_size else default
    assume(min(out_sizes) >= 1)
    pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
    unpool = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}[nd]
    x = np.random.default_rng(sum(sizes)).permutation(4 * math.prod(sizes)).reshape(
        (2, 2) + sizes).astype(np.float64)              # distinct values: no ties
    y, index = pool(tg.tensor(x, device=device), kernel, stride, padding, dilation, ceil_mode,
                    return_indices=True)
    y_np, index_np = y.numpy(), index.numpy()
    assume(index_np.max() < math.prod(out_sizes))      # else max_unpool refuses the indices
    assume(np.isfinite(y_np).all())                     # a window wholly in the padding: −inf
    # Each index is where its maximum is (the pooled value equals the input there).
    np.testing.assert_array_equal(x.reshape(2, 2, -1)[np.arange(2)[:, None, None],
                                                      np.arange(2)[None, :, None],
                                                      index_np.reshape(2, 2, -1)],
                                  y_np.reshape(2, 2, -1))
    # Overlapping windows may write one maximum twice; PyTorch's gradient is a gather
    # (each pooled value gets the output gradient at its index), not the last write's.
    pooled = tg.tensor(y_np, device=device, requires_grad=True)
    out = check(lambda t: unpool(pooled, index, kernel, stride, padding,
                                 out_sizes if use_size else None),
                lambda a: ref_unpool(y_np, index_np, out_sizes), {}, grads=[], device=device)
    weight = np.random.default_rng(0).standard_normal(out.shape)
    (out * tg.tensor(weight, device=device)).sum().backward()
    gathered = np.take_along_axis(weight.reshape(2, 2, -1), index_np.reshape(2, 2, -1), -1)
    np.testing.assert_allclose(pooled.grad.numpy(), gathered.reshape(y_np.shape))
    # One unbatched sample; output_size may also name the leading dims (PyTorch takes both).
    full = data.draw(st.booleans())
    size = (tuple(out_sizes) if not full else (2,) + tuple(out_sizes)) if use_size else None
    single = unpool(tg.tensor(y_np[1], device=device), index[1], kernel, stride, padding, size)
    np.testing.assert_array_equal(single.numpy(), out.numpy()[1])


@fuzz
@given(data=st.data(), nd=st.integers(1, 3), kind=st.sampled_from(["avg", "max"]))
def test_adaptive_pools_with_none_and_uneven_bins(device, data, nd, kind):
    sizes = tuple(data.draw(st.integers(1, 7 if nd < 3 else 4)) for _ in range(nd))
    outs = tuple(data.draw(st.one_of(st.none(), st.integers(1, 5))) if nd > 1
                 else data.draw(st.integers(1, 5)) for _ in range(nd))
    real = tuple(n if o is None else o for n, o in zip(sizes, outs))
    batched = data.draw(st.booleans())
    function = getattr(F, f"adaptive_{kind}_pool{nd}d")
    arg = outs if nd > 1 and data.draw(st.booleans()) else (
        outs[0] if nd == 1 or len(set(outs)) == 1 else outs)
    x = np.random.default_rng(sum(sizes)).standard_normal((2, 3) + sizes)
    x = x if batched else x[0]

    def ref(a):
        xb = a["x"] if batched else a["x"][None]
        y = np.zeros(xb.shape[:2] + real)
        bins = [[(math.floor(i * n / o), math.ceil((i + 1) * n / o)) for i in range(o)]
                for n, o in zip(sizes, real)]
        for pos in np.ndindex(*real):
            box = tuple(slice(*bins[a][pos[a]]) for a in range(nd))
            window = xb[(slice(None), slice(None)) + box].reshape(xb.shape[:2] + (-1,))
            y[(slice(None), slice(None)) + pos] = (window.mean(-1) if kind == "avg"
                                                   else window.max(-1))
        return y if batched else y[0]

    check(lambda t: function(t["x"], arg), ref, {"x": x}, device=device)


def fractional_starts(u, size, out, kernel):
    """PyTorch's generate_intervals: α = (size − k)/(out − 1),
    start_i = ⌊(i + u)·α⌋ − ⌊u·α⌋ for i < out − 1, the last = size − k."""
    if out == 1:
        return [size - kernel]
    alpha = (size - kernel) / (out - 1)
    return [int((i + u) * alpha) - int(u * alpha) for i in range(out - 1)] + [size - kernel]


@fuzz
@given(data=st.data())
def test_fractional_max_pool2d_shape_and_values(device, data):
    kernel = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    sizes = (data.draw(st.integers(kernel[0], 8)), data.draw(st.integers(kernel[1], 8)))
    if data.draw(st.booleans()):
        ratio = (data.draw(st.sampled_from([0.3, 0.5, 0.7, 0.9])),
                 data.draw(st.sampled_from([0.3, 0.5, 0.7, 0.9])))
        out = tuple(int(n * r) for n, r in zip(sizes, ratio))
        arg = dict(output_ratio=ratio if ratio[0] != ratio[1] else ratio[0])
    else:
        out = tuple(data.draw(st.integers(1, n - k + 1)) for n, k in zip(sizes, kernel))
        arg = dict(output_size=out)
    assume(min(out) >= 1 and all(o + k - 1 <= n for o, k, n in zip(out, kernel, sizes)))
    rng = np.random.default_rng(sum(sizes))
    x = rng.permutation(4 * math.prod(sizes)).reshape((2, 2) + sizes).astype(np.float64)
    samples = rng.uniform(0, 1, (2, 2, 2))        # (N, C, 2): (u_w, u_h) per plane

    def ref(a):
        y = np.zeros((2, 2) + out)
        for n, c in np.ndindex(2, 2):
            rows = fractional_starts(samples[n, c, 1], sizes[0], out[0], kernel[0])
            columns = fractional_starts(samples[n, c, 0], sizes[1], out[1], kernel[1])
            for i, j in np.ndindex(*out):
                y[n, c, i, j] = a["x"][n, c, rows[i]:rows[i] + kernel[0],
                                       columns[j]:columns[j] + kernel[1]].max()
        return y

    y = check(lambda t: F.fractional_max_pool2d(
        t["x"], kernel, _random_samples=tg.tensor(samples, device=device), **arg),
        ref, {"x": x}, device=device)
    assert tuple(y.shape) == (2, 2) + out


# ------------------------------------------------------------------ transposed convolution

def ref_conv(x, w, stride, padding, dilation, groups):
    """y[n, o, p] = Σ_{c, t} w[o, c, t]·x_pad[n, g·C/G + c, p·s + t·d]."""
    nd = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    O, cg = w.shape[:2]
    kernel = w.shape[2:]
    outs = [(x.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
            for i in range(nd)]
    y = np.zeros((x.shape[0], O) + tuple(outs))
    for o in range(O):
        g = o // (O // groups)
        for pos in np.ndindex(*outs):
            for tap in np.ndindex(*kernel):
                box = tuple(pos[i] * stride[i] + tap[i] * dilation[i] for i in range(nd))
                y[(slice(None), o) + pos] += (x[(slice(None), slice(g * cg, (g + 1) * cg)) + box]
                                              @ w[(o, slice(None)) + tap])
    return y


def ref_conv_transpose(x, w, stride, padding, output_padding, dilation, groups):
    """Each x[n, ci, p] adds x·w[ci, o, t] at output p·s + t·d − padding."""
    nd = x.ndim - 2
    C = x.shape[1]
    cg_out, kernel = w.shape[1], w.shape[2:]
    outs = [(x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1)
            + output_padding[i] + 1 for i in range(nd)]
    y = np.zeros((x.shape[0], cg_out * groups) + tuple(outs))
    for ci in range(C):
        g = ci // (C // groups)
        for pos in np.ndindex(*x.shape[2:]):
            for tap in np.ndindex(*kernel):
                idx = tuple(pos[i] * stride[i] + tap[i] * dilation[i] - padding[i]
                            for i in range(nd))
                if all(0 <= idx[i] < outs[i] for i in range(nd)):
                    y[(slice(None), slice(g * cg_out, (g + 1) * cg_out)) + idx] += (
                        x[(slice(None), ci) + pos][:, None] * w[(ci, slice(None)) + tap])
    return y


@fuzz
@given(data=st.data(), nd=st.integers(1, 3))
def test_conv_transpose_is_the_adjoint_of_conv(device, data, nd):
    """With W shared: <conv(x, W), y> = <x, conv_transpose(y, W)> for the output_padding
    that gives back x's size; and conv_transpose matches a loop, gradients included."""
    groups = data.draw(st.integers(1, 2))
    cin, cout = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    top = 3 if nd < 3 else 2
    kernel = tuple(data.draw(st.integers(1, top)) for _ in range(nd))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple(data.draw(st.integers(0, 2)) for _ in range(nd))
    sizes = tuple(data.draw(st.integers(1, 6 if nd < 3 else 4)) for _ in range(nd))
    outs = [(n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, p, d, k, s in zip(sizes, padding, dilation, kernel, stride)]
    assume(min(outs) >= 1)
    output_padding = tuple(n - ((o - 1) * s - 2 * p + d * (k - 1) + 1) for n, o, s, p, d, k
                           in zip(sizes, outs, stride, padding, dilation, kernel))
    assume(all(0 <= op < max(s, d) for op, s, d in zip(output_padding, stride, dilation)))
    rng = np.random.default_rng(sum(sizes) + nd)
    x = rng.standard_normal((2, cin) + sizes)
    y = rng.standard_normal((2, cout) + tuple(outs))
    w = rng.standard_normal((cout, cin // groups) + kernel)    # conv's (O, C/G, *k)
    # conv_transpose's weight (C_in', C_out'/G, *k) with C_in' = cout: the same W.
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    conv_t = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[nd]
    forward = conv(tg.tensor(x, device=device), tg.tensor(w, device=device), None, stride,
                   padding, dilation, groups).numpy()
    np.testing.assert_allclose(forward, ref_conv(x, w, stride, padding, dilation, groups),
                               rtol=1e-7, atol=1e-9)
    back = check(lambda t: conv_t(t["y"], t["w"], None, stride, padding, output_padding,
                                  groups, dilation),
                 lambda a: ref_conv_transpose(a["y"], a["w"], stride, padding, output_padding,
                                              dilation, groups),
                 {"y": y, "w": w}, device=device, grads=["y", "w"] if nd < 3 else ["y"])
    np.testing.assert_allclose((forward * y).sum(), (x * back.numpy()).sum(), rtol=1e-9)


# ------------------------------------------------------------------ fold / unfold, padding

def ref_unfold(x, kernel, dilation, padding, stride):
    N, C = x.shape[:2]
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    outs = [(x.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
            for i in range(2)]
    cols = np.zeros((N, C * kernel[0] * kernel[1], outs[0] * outs[1]))
    for c, i, j in np.ndindex(C, *kernel):
        for oh, ow in np.ndindex(*outs):
            cols[:, (c * kernel[0] + i) * kernel[1] + j, oh * outs[1] + ow] = \
                x[:, c, oh * stride[0] + i * dilation[0], ow * stride[1] + j * dilation[1]]
    return cols


@fuzz
@given(data=st.data())
def test_unfold_matches_loop_and_fold_is_its_adjoint(device, data):
    kernel = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    dilation = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    padding = (data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2)))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    sizes = (data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6)))
    assume(all(n + 2 * p >= d * (k - 1) + 1
               for n, p, d, k in zip(sizes, padding, dilation, kernel)))
    rng = np.random.default_rng(sum(sizes))
    x = rng.standard_normal((2, 2) + sizes)
    # An int argument where all are equal (PyTorch takes either).
    squash = (lambda v: v[0] if v[0] == v[1] else v)  # noqa: E731
    cols = check(lambda t: F.unfold(t["x"], squash(kernel), squash(dilation), squash(padding),
                                    squash(stride)),
                 lambda a: ref_unfold(a["x"], kernel, dilation, padding, stride),
                 {"x": x}, device=device)
    c = rng.standard_normal(cols.shape)
    back = F.fold(tg.tensor(c, device=device), sizes, kernel, dilation, padding, stride)
    np.testing.assert_allclose((cols.numpy() * c).sum(), (x * back.numpy()).sum(), rtol=1e-9)
    # fold(unfold(x)) = x · (how many windows cover each pixel)
    ones = F.fold(F.unfold(tg.ones(1, 1, *sizes, dtype=tg.float64), kernel, dilation, padding,
                           stride), sizes, kernel, dilation, padding, stride).numpy()
    round_trip = F.fold(cols, sizes, kernel, dilation, padding, stride).numpy()
    np.testing.assert_allclose(round_trip, x * ones, rtol=1e-12, atol=1e-12)
    # Unbatched, as PyTorch: (C, H, W) -> (C·kh·kw, L) and back to (C, H, W).
    single = F.unfold(tg.tensor(x[1], device=device), kernel, dilation, padding, stride)
    np.testing.assert_array_equal(single.numpy(), cols.numpy()[1])
    np.testing.assert_array_equal(F.fold(single, sizes, kernel, dilation, padding,
                                         stride).numpy(), round_trip[1])


NP_PAD = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
          "circular": "wrap"}


def ref_pad(x, pad, mode, value):
    """Per dim (from the last): circular crops negative amounts first and wraps what is
    left; the other modes pad the whole input and then crop."""
    for k in range(len(pad) // 2):
        axis = x.ndim - 1 - k
        before, after = pad[2 * k], pad[2 * k + 1]
        crop = slice(max(-before, 0), x.shape[axis] - max(-after, 0))
        widths = [(0, 0)] * x.ndim
        widths[axis] = (max(before, 0), max(after, 0))
        if mode in ("circular", "constant"):
            x = x[(slice(None),) * axis + (crop,)]
            extra = dict(constant_values=value) if mode == "constant" else {}
            x = np.pad(x, widths, mode=NP_PAD[mode], **extra)
        else:
            x = np.pad(x, widths, mode=NP_PAD[mode])
            start = max(-before, 0)
            x = x[(slice(None),) * axis + (slice(start, x.shape[axis] - max(-after, 0)),)]
    return x


@fuzz
@given(data=st.data(), mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]))
def test_pad_modes_with_negative_amounts(device, data, mode):
    dims = data.draw(st.integers(1, 3))
    extra = data.draw(st.integers(1, 2)) if mode != "constant" else data.draw(st.integers(0, 3))
    sizes = tuple(data.draw(st.integers(1, 4)) for _ in range(dims + extra))
    if mode == "constant":
        dims = min(dims, len(sizes))
    spatial = sizes[len(sizes) - dims:][::-1]            # the padded dims, last first
    pad = []
    for n in spatial:
        low = -(n - 1)
        high = n - 1 if mode == "reflect" else n if mode == "circular" else 3
        before, after = data.draw(st.integers(low, high)), data.draw(st.integers(low, high))
        assume(n + before + after >= 1 and (mode != "reflect" or max(before, after) < n))
        if mode == "circular":
            kept = n - max(-before, 0) - max(-after, 0)
            assume(kept >= 1 and max(before, after) <= kept)
        pad += [before, after]
    value = data.draw(st.sampled_from([None, 0.0, 1.5])) if mode == "constant" else None
    x = np.random.default_rng(sum(sizes)).standard_normal(sizes)
    check(lambda t: F.pad(t["x"], tuple(pad), mode, value),
          lambda a: ref_pad(a["x"], pad, mode, 0.0 if value is None else value),
          {"x": x}, device=device)


# ------------------------------------------------------------------ shuffles

@fuzz
@given(data=st.data())
def test_pixel_and_channel_shuffles_match_loops(device, data):
    r = data.draw(st.integers(1, 3))
    lead = tuple(data.draw(st.integers(1, 2)) for _ in range(data.draw(st.integers(0, 2))))
    C, H, W = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)), data.draw(
        st.integers(1, 3))
    x = np.random.default_rng(r + H + W).standard_normal(lead + (C * r * r, H, W))

    def shuffle(a):
        y = np.zeros(lead + (C, H * r, W * r))
        for c, h, w, i, j in np.ndindex(C, H, W, r, r):
            y[..., c, h * r + i, w * r + j] = a["x"][..., c * r * r + i * r + j, h, w]
        return y

    y = check(lambda t: F.pixel_shuffle(t["x"], r), shuffle, {"x": x}, device=device)
    back = check(lambda t: F.pixel_unshuffle(t["y"], r),
                 lambda a: x, {"y": y.numpy()}, grads=[], device=device)
    np.testing.assert_array_equal(back.numpy(), x)

    groups = data.draw(st.integers(1, 3))
    per = data.draw(st.integers(1, 3))
    z = np.random.default_rng(groups * per).standard_normal((2, groups * per, H, W)[:3 + (W % 2)])

    def channels(a):
        out = np.empty_like(a["z"])
        for g, j in np.ndindex(groups, per):
            out[:, j * groups + g] = a["z"][:, g * per + j]
        return out

    check(lambda t: F.channel_shuffle(t["z"], groups), channels, {"z": z}, device=device)


# ------------------------------------------------------------------ the layers

@fuzz
@given(data=st.data())
def test_layers_pass_their_positional_arguments_in_pytorchs_order(data):
    """Each layer built with PyTorch's positional argument order gives its functional form
    (checked against the references above)."""
    nn = tg.nn
    rng = np.random.default_rng(0)
    x2 = tg.tensor(rng.uniform(0.2, 1.5, (2, 4, 5, 6)))
    x3 = tg.tensor(rng.uniform(0.2, 1.5, (1, 2, 4, 5, 3)))
    amounts = [data.draw(st.integers(0, 2)) for _ in range(6)]
    value = data.draw(st.sampled_from([0.5, -2.0]))
    cases = []
    for dims in (1, 2, 3):
        pad = tuple(amounts[:2 * dims])
        x = {1: x2[:, :, 0], 2: x2, 3: x3}[dims]
        cases += [(getattr(nn, f"ConstantPad{dims}d")(pad, value), x,
                   F.pad(x, pad, "constant", value)),
                  (getattr(nn, f"ZeroPad{dims}d")(pad), x, F.pad(x, pad)),
                  (getattr(nn, f"ReflectionPad{dims}d")(pad), x, F.pad(x, pad, "reflect")),
                  (getattr(nn, f"ReplicationPad{dims}d")(pad), x, F.pad(x, pad, "replicate")),
                  (getattr(nn, f"CircularPad{dims}d")(pad), x, F.pad(x, pad, "circular")),
                  (getattr(nn, f"ReflectionPad{dims}d")(amounts[0]), x,
                   F.pad(x, (amounts[0],) * 2 * dims, "reflect"))]
    k, s = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))
    p, ceil = data.draw(st.sampled_from([1, 2, 1.5])), data.draw(st.booleans())
    x1 = x2[:, :, 0]
    cases += [(nn.LPPool1d(p, k + 1, s, ceil), x1, F.lp_pool1d(x1, p, k + 1, s, ceil)),
              (nn.LPPool2d(p, (k, 2), s, ceil), x2, F.lp_pool2d(x2, p, (k, 2), s, ceil)),
              (nn.LPPool3d(p, (k, 2, 1), s, ceil), x3, F.lp_pool3d(x3, p, (k, 2, 1), s, ceil))]
    factor = data.draw(st.sampled_from([1.5, 2, 0.5]))
    mode = data.draw(st.sampled_from(["nearest", "bilinear", "bicubic", "area",
                                      "nearest-exact"]))
    align = data.draw(st.booleans()) if mode in ("bilinear", "bicubic") else None
    recompute = data.draw(st.sampled_from([None, True]))
    cases += [(nn.Upsample(None, factor, mode, align, recompute), x2,
               F.interpolate(x2, None, factor, mode, align, recompute)),
              (nn.Upsample((3, 7), None, mode, align), x2,
               F.interpolate(x2, (3, 7), None, mode, align)),
              (nn.UpsamplingNearest2d(None, factor), x2, F.interpolate(x2, None, factor)),
              (nn.UpsamplingBilinear2d((4, 2)), x2,
               F.interpolate(x2, (4, 2), None, "bilinear", True)),
              (nn.PixelShuffle(2), x2, F.pixel_shuffle(x2, 2)),
              (nn.PixelUnshuffle(1), x2, F.pixel_unshuffle(x2, 1)),
              (nn.ChannelShuffle(2), x2, F.channel_shuffle(x2, 2))]
    kernel, dilation = (2, data.draw(st.integers(1, 2))), data.draw(st.integers(1, 2))
    padding, stride = data.draw(st.integers(0, 1)), (1, data.draw(st.integers(1, 2)))
    cols = F.unfold(x2, kernel, dilation, padding, stride)
    cases += [(nn.Unfold(kernel, dilation, padding, stride), x2, cols),
              (nn.Fold((5, 6), kernel, dilation, padding, stride), cols,
               F.fold(cols, (5, 6), kernel, dilation, padding, stride))]
    out = data.draw(st.one_of(st.none(), st.integers(1, 3)))
    cases += [(nn.AdaptiveAvgPool3d((2, out, 1)), x3, F.adaptive_avg_pool3d(x3, (2, out, 1))),
              (nn.AdaptiveMaxPool3d((out, 3, 2)), x3, F.adaptive_max_pool3d(x3, (out, 3, 2))),
              (nn.AdaptiveMaxPool1d(3), x1, F.adaptive_max_pool1d(x1, 3))]
    samples = tg.tensor(rng.uniform(0, 1, (2, 4, 2)))
    ratio = data.draw(st.sampled_from([0.5, (0.6, 0.5)]))
    cases += [(nn.FractionalMaxPool2d(2, (2, 3), None, False, samples), x2,
               F.fractional_max_pool2d(x2, 2, (2, 3), _random_samples=samples)),
              (nn.FractionalMaxPool2d((2, 1), None, ratio, False, samples), x2,
               F.fractional_max_pool2d(x2, (2, 1), output_ratio=ratio,
                                       _random_samples=samples))]
    for layer, x, expected in cases:
        np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-12,
                                   err_msg=repr(layer))
    for nd, unpool in ((1, nn.MaxUnpool1d), (2, nn.MaxUnpool2d), (3, nn.MaxUnpool3d)):
        x = {1: x1, 2: x2, 3: x3}[nd]
        pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
        y, index = pool(x, 2, s, 1, return_indices=True)
        got = unpool(2, s, 1)(y, index, x.shape[2:])
        np.testing.assert_allclose(got.numpy(), getattr(F, f"max_unpool{nd}d")(
            y, index, 2, s, 1, x.shape[2:]).numpy(), err_msg=f"MaxUnpool{nd}d")


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_an_empty_batch_unpools(device, nd):
    """N = 0 is allowed (PyTorch checks only the non-batch dims): an empty result and an
    empty gradient, not a reshape error (a -1 is ambiguous with 0 elements)."""
    x = tg.zeros((0, 2) + (4,) * nd, device=device, requires_grad=True)
    y, index = getattr(F, f"max_pool{nd}d")(x, 2, return_indices=True)
    out = getattr(F, f"max_unpool{nd}d")(y, index, 2)
    assert tuple(out.shape) == (0, 2) + (4,) * nd
    out.sum().backward()
    assert tuple(x.grad.shape) == tuple(x.shape)


def test_an_empty_batch_fractional_max_pools(device):
    x = tg.zeros(0, 2, 5, 4, device=device, requires_grad=True)
    y, index = F.fractional_max_pool2d(x, 2, (3, 2), return_indices=True)
    assert tuple(y.shape) == tuple(index.shape) == (0, 2, 3, 2)
    y.sum().backward()
    assert tuple(x.grad.shape) == tuple(x.shape)


def test_interpolate_takes_numpy_integer_sizes():
    # PyTorch repeats any non-sequence size over the spatial dims; a NumPy integer counts
    x = tg.tensor(np.arange(6.0).reshape(1, 1, 2, 3))
    expected = F.interpolate(x, size=(4, 4)).numpy()
    for size in (np.int64(4), [np.int64(4), 4], (np.int32(4), np.int64(4))):
        np.testing.assert_array_equal(F.interpolate(x, size=size).numpy(), expected)
    with pytest.raises(TypeError):
        F.interpolate(x, size=2.5)
