"""Audit of the spatial and resampling functionals and their modules: F.interpolate and
the Upsample modules, F.pad and the padding modules, F.unfold / F.fold, pixel_shuffle,
pixel_unshuffle, channel_shuffle, F.grid_sample and F.affine_grid.

Every reference is written here in plain NumPy, one output element at a time, from
PyTorch's documented index formulas (``nearest_idx``, ``area_pixel_compute_source_index``,
the cubic convolution with A = −0.75, ``grid_sampler_compute_source_index``,
``linspace_from_neg_one``); gradients by gradcheck in float64. The regressions pinned
here: F.fold's unchecked options, grid_sample's nearest mode leaving the grid without a
(zero) gradient, interpolating modes and grid_sample silently accepting integer data, and
the padding modules refusing a NumPy integer padding.
"""

import itertools
import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn
from test_fuzz_resampling import _fold as fold_coordinate  # noqa: E402 (PyTorch's coordinates)
from test_fuzz_resampling import _unnormalize as unnormalize  # noqa: E402

A = -0.75


def t(array, device="cpu", grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=tg.float64, device=device,
                     requires_grad=grad)


# ------------------------------------------------------------------------ NumPy references

def cubic(s):
    s = abs(s)
    if s <= 1:
        return (A + 2) * s ** 3 - (A + 3) * s ** 2 + 1
    return A * s ** 3 - 5 * A * s ** 2 + 8 * A * s - 4 * A if s < 2 else 0.0


def source_index(j, n_in, n_out, mode, align_corners, scale_factor):
    """[(input index, weight), ...] of output j along one dim (PyTorch's CPU kernels)."""
    if mode in ("nearest", "nearest-exact"):
        if mode == "nearest" and n_out in (n_in, 2 * n_in):
            return [(j if n_out == n_in else j // 2, 1.0)]
        f32 = np.float32
        s = f32(1 / scale_factor) if scale_factor else f32(n_in) / f32(n_out)
        p = f32(j) + (f32(0.5) if mode == "nearest-exact" else f32(0))
        return [(min(int(np.floor(f32(p * s))), n_in - 1), 1.0)]
    if mode == "area":
        lo, hi = (j * n_in) // n_out, -(-(j + 1) * n_in // n_out)
        return [(i, 1 / (hi - lo)) for i in range(lo, hi)]
    if align_corners:
        s = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
        s = 1 / scale_factor if scale_factor else n_in / n_out
    u = s * j if align_corners else s * (j + 0.5) - 0.5
    if mode == "linear":
        if n_out == n_in:
            return [(j, 1.0)]                                     # PyTorch copies this dim
        u = max(u, 0.0)
        i = math.floor(u)
        lam = u - i
        return [(i, 1 - lam), (min(i + 1, n_in - 1), lam)]
    i = min(math.floor(u), n_in - 1)                              # cubic: u not clamped
    tt = min(max(u - i, 0.0), 1.0)
    weights = (cubic(tt + 1), cubic(tt), cubic(1 - tt), cubic(2 - tt))
    return [(min(max(i - 1 + k, 0), n_in - 1), w) for k, w in enumerate(weights)]


def np_interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                   recompute_scale_factor=None):
    dims = x.ndim - 2
    if size is not None:
        sizes = size if isinstance(size, tuple) else (size,) * dims
        factors = (None,) * dims
    else:
        factors = scale_factor if isinstance(scale_factor, tuple) else (scale_factor,) * dims
        sizes = [math.floor(n * f) for n, f in zip(x.shape[2:], factors)]
        if recompute_scale_factor:
            factors = (None,) * dims
    kind = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    for d in range(dims):
        moved = np.moveaxis(x, 2 + d, -1)
        out = np.zeros(moved.shape[:-1] + (sizes[d],))
        for j in range(sizes[d]):
            for i, w in source_index(j, moved.shape[-1], sizes[d], kind, bool(align_corners),
                                     factors[d]):
                out[..., j] += w * moved[..., i]
        x = np.moveaxis(out, -1, 2 + d)
    return x


def np_pad(x, pad, mode, value=0.0):
    """PyTorch's F.pad: reflect / replicate pad the whole dim then crop; circular and
    constant crop first, then pad."""
    for k in range(len(pad) // 2):
        axis, before, after = x.ndim - 1 - k, pad[2 * k], pad[2 * k + 1]
        widths = [(0, 0)] * x.ndim
        widths[axis] = (max(before, 0), max(after, 0))
        if mode in ("constant", "circular"):
            n = x.shape[axis]
            x = np.take(x, range(max(-before, 0), n - max(-after, 0)), axis=axis)
            x = (np.pad(x, widths, constant_values=value) if mode == "constant"
                 else np.pad(x, widths, mode="wrap"))
        else:
            x = np.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge"}[mode])
            n = x.shape[axis]
            x = np.take(x, range(max(-before, 0), n - max(-after, 0)), axis=axis)
    return x


def np_unfold(x, k, d, p, s):
    N, C, H, W = x.shape
    padded = np.pad(x, [(0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])])
    OH = (H + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    OW = (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    cols = np.zeros((N, C, k[0], k[1], OH, OW))
    for i, j, oh, ow in itertools.product(range(k[0]), range(k[1]), range(OH), range(OW)):
        cols[:, :, i, j, oh, ow] = padded[:, :, oh * s[0] + i * d[0], ow * s[1] + j * d[1]]
    return cols.reshape(N, C * k[0] * k[1], OH * OW)


def np_fold(cols, output_size, k, d, p, s):
    (H, W), N = output_size, cols.shape[0]
    C = cols.shape[1] // (k[0] * k[1])
    OH = (H + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    OW = (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    cols = cols.reshape(N, C, k[0], k[1], OH, OW)
    out = np.zeros((N, C, H + 2 * p[0], W + 2 * p[1]))
    for i, j, oh, ow in itertools.product(range(k[0]), range(k[1]), range(OH), range(OW)):
        out[:, :, oh * s[0] + i * d[0], ow * s[1] + j * d[1]] += cols[:, :, i, j, oh, ow]
    return out[:, :, p[0]:p[0] + H, p[1]:p[1] + W]


def np_grid_sample(x, grid, mode, padding_mode, align_corners):
    N, C, *sizes = x.shape
    dims = len(sizes)

    def read(n, index):
        inside = all(0 <= i < s for i, s in zip(index, sizes))
        return x[(n, slice(None)) + tuple(index)] if inside else np.zeros(C)

    out = np.zeros((N, C) + grid.shape[1:-1])
    for n in range(N):
        for pos in np.ndindex(*grid.shape[1:-1]):
            point = grid[(n,) + pos][::-1]                       # (z,) y, x: along (D,) H, W
            if mode == "bicubic":
                u = [unnormalize(c, s, align_corners) for c, s in zip(point, sizes)]
                low = [math.floor(v) for v in u]
                w = [[cubic(v - lo + 1 - k) for k in range(4)] for v, lo in zip(u, low)]
                value = np.zeros(C)
                for a, b in itertools.product(range(4), range(4)):
                    row = int(fold_coordinate(low[0] - 1 + a, sizes[0], padding_mode,
                                              align_corners))
                    col = int(fold_coordinate(low[1] - 1 + b, sizes[1], padding_mode,
                                              align_corners))
                    value += w[0][a] * w[1][b] * read(n, (row, col))
            else:
                u = [fold_coordinate(unnormalize(c, s, align_corners), s, padding_mode,
                                     align_corners) for c, s in zip(point, sizes)]
                if mode == "nearest":
                    value = read(n, [int(np.rint(v)) for v in u])
                else:
                    value = np.zeros(C)
                    for corner in itertools.product((0, 1), repeat=dims):
                        weight = np.prod([v - math.floor(v) if c else 1 - v + math.floor(v)
                                          for v, c in zip(u, corner)])
                        value += weight * read(n, [math.floor(v) + c for v, c in zip(u, corner)])
            out[(n, slice(None)) + pos] = value
    return out


def np_affine_grid(theta, size, align_corners):
    def line(n):
        if n == 1:
            return np.zeros(1)
        return np.linspace(-1, 1, n) * (1 if align_corners else (n - 1) / n)
    spatial = size[2:]
    lines = [line(n) for n in spatial]                            # (D,) H, W
    out = np.zeros((size[0], *spatial, len(spatial)))
    for n in range(size[0]):
        for pos in np.ndindex(*spatial):
            point = [lines[a][pos[a]] for a in range(len(spatial))][::-1] + [1.0]  # x, y, (z,) 1
            out[(n,) + pos] = theta[n] @ np.array(point)
    return out


# -------------------------------------------------------------------------------- interpolate

INTERPOLATE_CASES = [
    (3, "nearest"), (3, "nearest-exact"), (3, "linear"), (3, "area"),
    (4, "nearest"), (4, "nearest-exact"), (4, "bilinear"), (4, "bicubic"), (4, "area"),
    (5, "nearest"), (5, "trilinear"), (5, "area"),
]
SIZES = {3: (5,), 4: (3, 4), 5: (2, 3, 4)}


@pytest.mark.parametrize("ndim, mode", INTERPOLATE_CASES)
def test_interpolate_matches_pytorch_index_formulas(ndim, mode, device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2) + SIZES[ndim])
    dims = ndim - 2
    options = [dict(size=tuple([7, 2, 5][:dims])), dict(size=(1,) * dims),
               dict(scale_factor=1.7), dict(scale_factor=0.6), dict(scale_factor=2),
               dict(scale_factor=1.3), dict(scale_factor=1.7, recompute_scale_factor=True),
               dict(scale_factor=tuple([2.5, 0.75, 1.5][:dims]))]
    corners = [False, True] if mode in ("linear", "bilinear", "bicubic", "trilinear") else [None]
    for kwargs, align_corners in itertools.product(options, corners):
        expected = np_interpolate(x, mode=mode, align_corners=align_corners, **kwargs)
        got = F.interpolate(t(x, device), mode=mode, align_corners=align_corners, **kwargs)
        assert got.shape == expected.shape, (kwargs, align_corners)
        np.testing.assert_allclose(got.numpy(), expected, atol=1e-12,
                                   err_msg=f"{kwargs} align_corners={align_corners}")


def test_interpolate_hand_values():
    x = t([[[1.0, 2.0, 4.0]]])
    # linear, scale 2 (s = 1/2): u = (j + ½)/2 − ½ → 0, .25, .75, 1.25, 1.75, 2.25 (clamped)
    np.testing.assert_allclose(F.interpolate(x, scale_factor=2, mode="linear").numpy()[0, 0],
                               [1, 1.25, 1.75, 2.5, 3.5, 4])
    # non-integer scale: the source index uses 1/1.5, not in/out = 3/4
    np.testing.assert_allclose(F.interpolate(x, scale_factor=1.5, mode="nearest").numpy()[0, 0],
                               [1, 1, 2, 4])
    # nearest-exact: floor((j + ½)·3/4) → 0, 1, 1, 2
    np.testing.assert_allclose(F.interpolate(x, size=4, mode="nearest-exact").numpy()[0, 0],
                               [1, 2, 2, 4])


@pytest.mark.parametrize("mode", ["linear", "bicubic"])
def test_interpolating_modes_refuse_integer_input(mode):
    x = tg.tensor(np.arange(16).reshape(1, 1, 4, 4) if mode == "bicubic"
                  else np.arange(8).reshape(1, 2, 4))
    with pytest.raises(TypeError, match="floating-point"):
        F.interpolate(x, scale_factor=1.5, mode=mode)        # was: truncated weights / float64
    nearest = F.interpolate(x, scale_factor=2)               # nearest is a gather: ints are fine
    assert nearest.dtype == x.dtype


def test_interpolate_errors():
    x = t(np.zeros((1, 1, 2, 3)))
    with pytest.raises(ValueError):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError):
        F.interpolate(x)
    with pytest.raises(ValueError):
        F.interpolate(x, size=(2,))
    with pytest.raises(ValueError):
        F.interpolate(x, size=3, recompute_scale_factor=True)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=3, mode="nearest", align_corners=True)
    with pytest.raises(NotImplementedError):
        F.interpolate(t(np.zeros((1, 1, 3))), size=4, mode="bilinear")
    with pytest.raises(ValueError):
        F.interpolate(x, scale_factor=0.2)                   # output size 0


def test_upsample_modules():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 3, 4))
    np.testing.assert_allclose(nn.UpsamplingBilinear2d(scale_factor=2)(t(x)).numpy(),
                               np_interpolate(x, scale_factor=2, mode="bilinear",
                                              align_corners=True), atol=1e-12)
    np.testing.assert_allclose(nn.UpsamplingNearest2d(size=(5, 7))(t(x)).numpy(),
                               np_interpolate(x, size=(5, 7)))
    up = nn.Upsample(scale_factor=1.5, mode="bicubic", align_corners=False)
    np.testing.assert_allclose(up(t(x)).numpy(), np_interpolate(x, scale_factor=1.5,
                                                               mode="bicubic"), atol=1e-12)
    assert repr(nn.Upsample(scale_factor=2, mode="bilinear")) == \
        "Upsample(scale_factor=2.0, mode='bilinear')"
    assert repr(nn.Upsample(size=(3, 4))) == "Upsample(size=(3, 4), mode='nearest')"


# -------------------------------------------------------------------------------------- pad

@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_matches_numpy_with_negative_amounts(mode, device):
    rng = np.random.default_rng(2)
    cases = [((2, 3, 5), (2, -1)), ((3, 5), (-2, 3)), ((1, 2, 4, 5), (1, -2, 3, 0)),
             ((2, 4, 5), (-1, 2, 2, -1)), ((1, 2, 3, 4, 5), (1, 2, -1, 1, 2, 0))]
    value = 1.5 if mode == "constant" else None
    for shape, pad in cases:
        x = rng.standard_normal(shape)
        expected = np_pad(x, pad, mode, value or 0.0)
        np.testing.assert_allclose(F.pad(t(x, device), pad, mode, value).numpy(), expected,
                                   err_msg=str((shape, pad)))


def test_pad_errors():
    x = t(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="smaller"):
        F.pad(x, (3, 0), "reflect")                         # reflect needs pad < size
    with pytest.raises(ValueError):
        F.pad(x, (4, 0), "circular")                        # wraps around more than once
    with pytest.raises(ValueError):
        F.pad(x, (1, 1), "replicate", 2.0)                  # value only with constant
    with pytest.raises(NotImplementedError):
        F.pad(t(np.zeros((1, 1, 2, 3))), (1, 1), "reflect")  # 1 padded dim needs 2-D or 3-D
    with pytest.raises(ValueError):
        F.pad(x, (1, 2, 3))


def test_padding_modules_take_any_integer():
    x = np.arange(12.0).reshape(1, 3, 4)
    layer = nn.ReflectionPad1d(np.int64(2))                  # was: TypeError, not iterable
    assert len(layer.padding) == 2
    np.testing.assert_allclose(layer(t(x)).numpy(), np_pad(x, (2, 2), "reflect"))
    np.testing.assert_allclose(nn.ZeroPad2d(np.int32(1))(t(x)).numpy(),
                               np_pad(x, (1, 1, 1, 1), "constant"))
    assert repr(nn.ConstantPad1d((1, 2), 3.5)) == "ConstantPad1d(padding=(1, 2), value=3.5)"


# ----------------------------------------------------------------------------- fold, unfold

FOLD_CASES = [((2, 3), (1, 1), (0, 0), (1, 1)), ((3, 2), (2, 1), (1, 2), (2, 1)),
              ((2, 2), (1, 2), (1, 0), (1, 3))]


@pytest.mark.parametrize("k, d, p, s", FOLD_CASES)
def test_unfold_and_fold_match_numpy(k, d, p, s, device):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 8))
    cols = np_unfold(x, k, d, p, s)
    np.testing.assert_allclose(F.unfold(t(x, device), k, d, p, s).numpy(), cols)
    np.testing.assert_allclose(F.fold(t(cols, device), (7, 8), k, d, p, s).numpy(),
                               np_fold(cols, (7, 8), k, d, p, s))       # overlaps summed
    np.testing.assert_allclose(nn.Fold((7, 8), k, d, p, s)(t(cols[0], device)).numpy(),
                               np_fold(cols, (7, 8), k, d, p, s)[0])    # unbatched


@pytest.mark.parametrize("options", [dict(kernel_size=0), dict(kernel_size=2, stride=0),
                                     dict(kernel_size=2, padding=-1),
                                     dict(kernel_size=2, dilation=0)])
def test_fold_checks_its_options(options):
    # was: ZeroDivisionError, or a window-count error naming the wrong cause
    with pytest.raises(ValueError, match="fold: kernel_size .* must be positive"):
        F.fold(t(np.zeros((1, 4, 12))), (4, 5), **options)


@pytest.mark.parametrize("shape, output_size, kernel", [((1, 4, 0), (1, 1), 2),
                                                        ((1, 9, 1), (1, 1), 3)])
def test_fold_refuses_an_empty_grid_of_windows(shape, output_size, kernel):
    # OH·OW = L although OH, OW < 1 (0·0 = 0, (−1)·(−1) = 1): was zeros, or a reshape error
    with pytest.raises(ValueError, match="too small"):
        F.fold(t(np.ones(shape)), output_size, kernel)


def test_fold_shape_errors():
    with pytest.raises(ValueError):
        F.fold(t(np.zeros((1, 5, 12))), (4, 5), 2)           # channels not divisible by k·k
    with pytest.raises(ValueError):
        F.fold(t(np.zeros((1, 4, 11))), (4, 5), 2)           # L ≠ number of windows


# ------------------------------------------------------------------------------ shuffles

def test_pixel_shuffle_unshuffle_and_channel_shuffle(device):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 8, 2, 3))                 # extra batch dims
    expected = np.zeros((2, 3, 2, 4, 6))
    for c, h, w in itertools.product(range(2), range(4), range(6)):
        expected[:, :, c, h, w] = x[:, :, c * 4 + (h % 2) * 2 + w % 2, h // 2, w // 2]
    shuffled = F.pixel_shuffle(t(x, device), 2)
    np.testing.assert_allclose(shuffled.numpy(), expected)
    np.testing.assert_allclose(F.pixel_unshuffle(shuffled, 2).numpy(), x)
    np.testing.assert_allclose(nn.PixelShuffle(2)(t(x, device)).numpy(), expected)
    y = rng.standard_normal((2, 6, 2, 3))
    grouped = np.stack([y[:, g * 2 + j] for j in range(2) for g in range(3)], 1)
    np.testing.assert_allclose(F.channel_shuffle(t(y, device), 3).numpy(), grouped)
    np.testing.assert_allclose(nn.ChannelShuffle(3)(t(y, device)).numpy(), grouped)
    with pytest.raises(ValueError):
        F.pixel_shuffle(t(np.zeros((1, 3, 2, 2))), 2)
    with pytest.raises(ValueError):
        F.pixel_unshuffle(t(np.zeros((1, 1, 3, 4))), 2)
    with pytest.raises(ValueError):
        F.channel_shuffle(t(np.zeros((1, 5, 2))), 2)


# ------------------------------------------------------------------ grid_sample, affine_grid

GRID_CASES = [(2, mode, padding, corners)
              for mode in ("bilinear", "nearest", "bicubic")
              for padding in ("zeros", "border", "reflection") for corners in (False, True)]
GRID_CASES += [(3, mode, padding, corners) for mode in ("bilinear", "nearest")
               for padding in ("zeros", "border", "reflection") for corners in (False, True)]


@pytest.mark.parametrize("dims, mode, padding_mode, align_corners", GRID_CASES)
def test_grid_sample_matches_pytorch_formulas(dims, mode, padding_mode, align_corners):
    rng = np.random.default_rng(5)
    sizes = (3, 4) if dims == 2 else (2, 3, 4)
    x = rng.standard_normal((2, 2) + sizes)
    grid = rng.uniform(-1.8, 1.8, (2,) + (2,) * (dims - 1) + (4, dims))  # inside and outside
    grid[0, (0,) * (dims - 1) + (0,)] = -1.0                 # the corners exactly
    grid[0, (0,) * (dims - 1) + (1,)] = 1.0
    got = F.grid_sample(t(x), t(grid), mode, padding_mode, align_corners).numpy()
    np.testing.assert_allclose(got, np_grid_sample(x, grid, mode, padding_mode, align_corners),
                               atol=1e-12)


def test_grid_sample_nearest_gives_the_grid_a_zero_gradient(device):
    rng = np.random.default_rng(6)
    x = t(rng.standard_normal((1, 2, 3, 3)), device)
    grid = t(rng.uniform(-1, 1, (1, 2, 2, 2)), device, grad=True)
    out = F.grid_sample(x, grid, "nearest", align_corners=False)
    assert out.requires_grad                                 # was False: grid not in the graph
    np.testing.assert_allclose(out.numpy(), np_grid_sample(x.numpy(), grid.numpy(), "nearest",
                                                           "zeros", False))
    (grad,) = tg.autograd.grad(out.sum(), [grid])            # was: "input 0 was not used"
    np.testing.assert_array_equal(grad.numpy(), np.zeros((1, 2, 2, 2)))
    volume = t(rng.standard_normal((1, 1, 2, 3, 3)), device, grad=True)
    points = t(rng.uniform(-1, 1, (1, 1, 2, 2, 3)), device, grad=True)
    F.grid_sample(volume, points, "nearest").sum().backward()
    assert points.grad is not None and not points.grad.numpy().any()
    assert volume.grad.numpy().sum() == 4                    # each of 4 points reads one voxel


def test_grid_sample_refuses_an_integer_grid():
    x = tg.tensor(np.arange(16).reshape(1, 1, 4, 4))
    with pytest.raises(TypeError, match="floating-point grid"):  # was: a float32 result
        F.grid_sample(x, tg.tensor(np.zeros((1, 2, 2, 2), dtype=np.int64)))
    with pytest.raises(ValueError):
        F.grid_sample(t(np.zeros((2, 1, 3, 3))), t(np.zeros((1, 2, 2, 2))))   # batch sizes
    with pytest.raises(ValueError):
        F.grid_sample(t(np.zeros((1, 1, 2, 3, 3))), t(np.zeros((1, 1, 2, 2, 3))), "bicubic")


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_numpy(align_corners, device):
    rng = np.random.default_rng(7)
    for size in [(2, 1, 3, 4), (2, 3, 1, 5), (2, 1, 2, 1)]:
        theta = rng.standard_normal((2, 2, 3))
        np.testing.assert_allclose(F.affine_grid(t(theta, device), size, align_corners).numpy(),
                                   np_affine_grid(theta, size, align_corners), atol=1e-12)
    theta = rng.standard_normal((1, 3, 4))
    np.testing.assert_allclose(F.affine_grid(t(theta, device), (1, 1, 2, 3, 4),
                                             align_corners).numpy(),
                               np_affine_grid(theta, (1, 1, 2, 3, 4), align_corners),
                               atol=1e-12)
    x = rng.standard_normal((1, 2, 3, 5))                    # the identity map
    identity = F.affine_grid(t([[[1.0, 0, 0], [0, 1, 0]]], device), (1, 2, 3, 5), align_corners)
    np.testing.assert_allclose(F.grid_sample(t(x, device), identity,
                                             align_corners=align_corners).numpy(), x, atol=1e-12)


# -------------------------------------------------------------------------------- gradients

def test_gradients_of_interpolate_and_pad():
    rng = np.random.default_rng(8)
    inputs = {3: t(rng.standard_normal((1, 2, 4)), grad=True),
              4: t(rng.standard_normal((1, 2, 3, 4)), grad=True),
              5: t(rng.standard_normal((1, 1, 2, 3, 3)), grad=True)}
    for ndim, mode in INTERPOLATE_CASES:
        x = inputs[ndim]
        corners = [False, True] if mode in ("linear", "bilinear", "bicubic",
                                            "trilinear") else [None]
        for kwargs, align_corners in itertools.product(
                [dict(scale_factor=1.7), dict(size=tuple(n - 1 or 1 for n in x.shape[2:]))],
                corners):
            assert tg.gradcheck(lambda v: F.interpolate(v, mode=mode, align_corners=align_corners,
                                                        **kwargs), [x]), (ndim, mode, kwargs)
    for mode in ("constant", "reflect", "replicate", "circular"):
        assert tg.gradcheck(lambda v: F.pad(v, (2, -1, 1, 2), mode), [inputs[4]]), mode
        assert tg.gradcheck(lambda v: F.pad(v, (1, 1, 2, 0, 1, -1), mode), [inputs[5]]), mode


def test_gradients_of_fold_unfold_and_shuffles():
    rng = np.random.default_rng(9)
    x = t(rng.standard_normal((2, 2, 5, 6)), grad=True)
    assert tg.gradcheck(lambda v: F.unfold(v, (2, 3), (2, 1), (1, 0), (1, 2)), [x])
    cols = t(rng.standard_normal((2, 12, 9)), grad=True)
    assert tg.gradcheck(lambda v: F.fold(v, (4, 5), (2, 3)), [cols])
    y = t(rng.standard_normal((2, 8, 2, 3)), grad=True)
    assert tg.gradcheck(lambda v: F.pixel_shuffle(v, 2), [y])
    assert tg.gradcheck(lambda v: F.channel_shuffle(v, 4), [y])
    assert tg.gradcheck(lambda v: F.pixel_unshuffle(v, 2), [t(rng.standard_normal((1, 2, 4, 6)),
                                                               grad=True)])


@pytest.mark.parametrize("dims, mode, padding_mode, align_corners",
                         [case for case in GRID_CASES if case[1] != "nearest"])
def test_grid_sample_gradients_in_input_and_grid(dims, mode, padding_mode, align_corners):
    rng = np.random.default_rng(10)
    sizes = (3, 4) if dims == 2 else (2, 3, 3)
    x = t(rng.standard_normal((2, 2) + sizes), grad=True)
    grid = t(rng.uniform(-1.5, 1.5, (2,) + (2,) * (dims - 1) + (3, dims)), grad=True)
    assert tg.gradcheck(lambda a, b: F.grid_sample(a, b, mode, padding_mode, align_corners),
                        [x, grid])


def test_affine_grid_gradient():
    rng = np.random.default_rng(11)
    assert tg.gradcheck(lambda v: F.affine_grid(v, (2, 1, 3, 4), False),
                        [t(rng.standard_normal((2, 2, 3)), grad=True)])
    assert tg.gradcheck(lambda v: F.affine_grid(v, (2, 1, 2, 3, 4), True),
                        [t(rng.standard_normal((2, 3, 4)), grad=True)])
