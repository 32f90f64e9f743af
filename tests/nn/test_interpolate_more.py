"""F.interpolate's bicubic and trilinear modes, nearest / nearest-exact / area on 5-D
inputs and the copy rule of the linear modes; F.affine_grid and F.grid_sample; the
Upsample modules.

Values are compared with NumPy references written here from PyTorch's formulas, one
output pixel at a time (the cubic convolution kernel from its definition, PyTorch's
``grid_sampler_compute_source_index`` and its backward's grid gradient), with hand
numbers (PyTorch's documented ``nn.Upsample`` examples, exact cubic weights in 1/256),
with identity cases, and by gradcheck / gradgradcheck in float64 on the cpu and strict
devices. Every form is a composition of existing ops (no new ``Function``):
``INTERPOLATE_OPS`` lists them as ``Op`` entries for the two-path comparison."""

import math
import pathlib
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "core"))
from test_ops_gradcheck import Op, each, fixed  # noqa: E402
from test_two_modes import assert_the_two_paths_agree  # noqa: E402


def t(array, device, grad=False, dtype=tg.float64):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=grad)


# ------------------------------------------------------------------ NumPy references

A = -0.75


def keys(s):
    """The cubic convolution kernel (Keys, 1981) with a = −0.75, from its definition."""
    s = abs(s)
    if s <= 1:
        return (A + 2) * s ** 3 - (A + 3) * s ** 2 + 1
    if s < 2:
        return A * s ** 3 - 5 * A * s ** 2 + 8 * A * s - 4 * A
    return 0.0


def np_scale(in_size, out_size, align_corners, scale_factor):
    """PyTorch's area_pixel_compute_scale."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    return 1 / scale_factor if scale_factor else in_size / out_size


def np_source(j, in_size, out_size, align_corners, scale_factor):
    """PyTorch's area_pixel_compute_source_index (not clamped)."""
    scale = np_scale(in_size, out_size, align_corners, scale_factor)
    return scale * j if align_corners else scale * (j + 0.5) - 0.5


def np_linear_taps(j, in_size, out_size, align_corners, scale_factor):
    """[(index, weight), (index, weight)] of output j, with PyTorch's copy rule."""
    if in_size == out_size:
        return [(j, 1.0), (j, 0.0)]
    u = max(np_source(j, in_size, out_size, align_corners, scale_factor), 0.0)
    i = int(math.floor(u))
    lam = u - i
    return [(i, 1 - lam), (min(i + 1, in_size - 1), lam)]


def np_bicubic(image, out_h, out_w, align_corners=False, scales=(None, None)):
    """y[oy, ox] = Σ_a Σ_b keys(ty − a)·keys(tx − b)·x[clamp(iy + a), clamp(ix + b)]."""
    n, c, h, w = image.shape
    out = np.zeros((n, c, out_h, out_w))
    for oy in range(out_h):
        uy = np_source(oy, h, out_h, align_corners, scales[0])
        iy = min(math.floor(uy), h - 1)
        for ox in range(out_w):
            ux = np_source(ox, w, out_w, align_corners, scales[1])
            ix = min(math.floor(ux), w - 1)
            for a in range(-1, 3):
                for b in range(-1, 3):
                    row = min(max(iy + a, 0), h - 1)
                    col = min(max(ix + b, 0), w - 1)
                    weight = keys(uy - iy - a) * keys(ux - ix - b)
                    out[:, :, oy, ox] += weight * image[:, :, row, col]
    return out


def np_trilinear(volume, out_sizes, align_corners=False, scales=(None, None, None)):
    """Each output voxel: the 8 corners, weights the products of the three λ's."""
    n, c, *in_sizes = volume.shape
    out = np.zeros((n, c, *out_sizes))
    for od in range(out_sizes[0]):
        for oh in range(out_sizes[1]):
            for ow in range(out_sizes[2]):
                taps = [np_linear_taps(o, i, s, align_corners, f)
                        for o, i, s, f in zip((od, oh, ow), in_sizes, out_sizes, scales)]
                for d, wd in taps[0]:
                    for h, wh in taps[1]:
                        for w, ww in taps[2]:
                            out[:, :, od, oh, ow] += wd * wh * ww * volume[:, :, d, h, w]
    return out


def np_nearest(j, in_size, out_size, exact=False):
    """PyTorch's nearest_idx / nearest_exact_idx (no scale factor given)."""
    if not exact and out_size == in_size:
        return j
    if not exact and out_size == 2 * in_size:
        return j // 2
    scale = np.float32(in_size) / np.float32(out_size)
    offset = np.float32(0.5) if exact else np.float32(0.0)
    return min(int(np.floor((np.float32(j) + offset) * scale)), in_size - 1)


def np_area(volume, out_sizes):
    """Adaptive average pooling: bin i of a dim covers [floor(i·in/out), ceil((i+1)·in/out))."""
    n, c, *in_sizes = volume.shape
    out = np.zeros((n, c, *out_sizes))
    for index in np.ndindex(*out_sizes):
        box = tuple(slice(i * size // o, -(-(i + 1) * size // o))
                    for i, size, o in zip(index, in_sizes, out_sizes))
        out[(slice(None), slice(None)) + index] = volume[(slice(None), slice(None)) + box].mean(
            axis=(2, 3, 4))
    return out


def np_grid_source(coord, size, padding_mode, align_corners):
    """PyTorch's grid_sampler_compute_source_index_set_grad: (pixel coordinate, slope)."""
    if align_corners:
        u, slope = (coord + 1) / 2 * (size - 1), (size - 1) / 2
    else:
        u, slope = ((coord + 1) * size - 1) / 2, size / 2
    if padding_mode == "reflection":
        twice_low, twice_high = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
        if twice_low == twice_high:
            return 0.0, 0.0
        low, span = twice_low / 2, (twice_high - twice_low) / 2
        sign = -1.0 if u - low < 0 else 1.0
        distance = abs(u - low)
        extra = math.fmod(distance, span)
        if math.floor(distance / span) % 2 == 0:
            u, slope = extra + low, slope * sign
        else:
            u, slope = span - extra + low, -slope * sign
    if padding_mode != "zeros":
        if u <= 0:
            u, slope = 0.0, 0.0
        elif u >= size - 1:
            u, slope = float(size - 1), 0.0
    return u, slope


def np_grid_sample(image, grid, mode, padding_mode, align_corners, grad_output=None):
    """Output, and with grad_output the input and grid gradients of PyTorch's backward."""
    n_batch, channels, h, w = image.shape
    _, out_h, out_w, _ = grid.shape
    out = np.zeros((n_batch, channels, out_h, out_w))
    grad_image, grad_grid = np.zeros_like(image), np.zeros_like(grid)

    def value(n, row, col):
        inside = 0 <= row < h and 0 <= col < w
        return image[n, :, row, col] if inside else np.zeros(channels)

    for n, i, j in np.ndindex(n_batch, out_h, out_w):
        ux, gx = np_grid_source(grid[n, i, j, 0], w, padding_mode, align_corners)
        uy, gy = np_grid_source(grid[n, i, j, 1], h, padding_mode, align_corners)
        if mode == "nearest":
            row, col = round(uy), round(ux)                # Python rounds halves to even
            out[n, :, i, j] = value(n, row, col)
            if grad_output is not None and 0 <= row < h and 0 <= col < w:
                grad_image[n, :, row, col] += grad_output[n, :, i, j]
            continue
        x0, y0 = math.floor(ux), math.floor(uy)
        nw, ne = value(n, y0, x0), value(n, y0, x0 + 1)
        sw, se = value(n, y0 + 1, x0), value(n, y0 + 1, x0 + 1)
        wx1, wy1 = ux - x0, uy - y0                        # λ, μ
        wx0, wy0 = x0 + 1 - ux, y0 + 1 - uy
        out[n, :, i, j] = nw * wx0 * wy0 + ne * wx1 * wy0 + sw * wx0 * wy1 + se * wx1 * wy1
        if grad_output is None:
            continue
        g = grad_output[n, :, i, j]
        for row, col, weight in ((y0, x0, wx0 * wy0), (y0, x0 + 1, wx1 * wy0),
                                 (y0 + 1, x0, wx0 * wy1), (y0 + 1, x0 + 1, wx1 * wy1)):
            if 0 <= row < h and 0 <= col < w:
                grad_image[n, :, row, col] += weight * g
        gix = np.sum(g * (-nw * wy0 + ne * wy0 - sw * wy1 + se * wy1))
        giy = np.sum(g * (-nw * wx0 - ne * wx1 + sw * wx0 + se * wx1))
        grad_grid[n, i, j] = gix * gx, giy * gy
    if grad_output is None:
        return out
    return out, grad_image, grad_grid


def np_affine_grid(theta, size, align_corners):
    """grid[n, i, j] = theta[n] @ (x_j, y_i, 1), the centres' normalised coordinates."""
    n_batch, _, h, w = size

    def centre(k, count):
        if count == 1:
            return 0.0
        return -1 + 2 * k / (count - 1) if align_corners else (2 * k + 1) / count - 1

    grid = np.zeros((n_batch, h, w, 2))
    for n, i, j in np.ndindex(n_batch, h, w):
        grid[n, i, j] = theta[n] @ np.array([centre(j, w), centre(i, h), 1.0])
    return grid


def normalised(pixel, size, align_corners):
    """The grid coordinate whose pixel coordinate is ``pixel`` (the inverse unnormalize)."""
    return 2 * pixel / (size - 1) - 1 if align_corners else (2 * pixel + 1) / size - 1


def smooth_grid(rng, shape, height, width, align_corners, low=-2.0, high=1.0):
    """A grid whose pixel coordinates keep their fractional parts in {0.2, 0.35, 0.65, 0.8}
    (± 0.02): away from floor's jumps, the borders and the mirror points, so central
    differences see a smooth neighbourhood."""
    fractions = rng.choice([0.2, 0.35, 0.65, 0.8], size=shape + (2,))
    fractions = fractions + rng.uniform(-0.02, 0.02, shape + (2,))
    columns = rng.integers(math.floor(low), width + math.floor(high), shape) + fractions[..., 0]
    rows = rng.integers(math.floor(low), height + math.floor(high), shape) + fractions[..., 1]
    return np.stack([normalised(columns, width, align_corners),
                     normalised(rows, height, align_corners)], axis=-1)


# ------------------------------------------------------------------------- hand numbers

def test_pytorch_upsample_documentation_examples(device):
    """nn.Upsample's documented outputs for [[1, 2], [3, 4]] (and the same in a 3×3 zero
    image, where only the bottom and right edge differ)."""
    x = t(np.arange(1.0, 5.0).reshape(1, 1, 2, 2), device)
    half = nn.Upsample(scale_factor=2, mode="bilinear")(x).numpy()[0, 0]
    np.testing.assert_allclose(half, [[1.0, 1.25, 1.75, 2.0], [1.5, 1.75, 2.25, 2.5],
                                      [2.5, 2.75, 3.25, 3.5], [3.0, 3.25, 3.75, 4.0]])
    corners = nn.UpsamplingBilinear2d(scale_factor=2)(x).numpy()[0, 0]
    third = 1 / 3
    np.testing.assert_allclose(corners, [[1, 1 + third, 2 - third, 2],
                                         [2 - third, 2, 2 + third, 3 - third],
                                         [2 + third, 3 - third, 3, 3 + third],
                                         [3, 3 + third, 4 - third, 4]], rtol=1e-12)
    x3 = t(np.pad(np.arange(1.0, 5.0).reshape(2, 2), ((0, 1), (0, 1)))[None, None], device)
    padded = F.interpolate(x3, scale_factor=2, mode="bilinear").numpy()[0, 0]
    np.testing.assert_allclose(padded, [[1.0, 1.25, 1.75, 1.5, 0.5, 0.0],
                                        [1.5, 1.75, 2.25, 1.875, 0.625, 0.0],
                                        [2.5, 2.75, 3.25, 2.625, 0.875, 0.0],
                                        [2.25, 2.4375, 2.8125, 2.25, 0.75, 0.0],
                                        [0.75, 0.8125, 0.9375, 0.75, 0.25, 0.0],
                                        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    nearest = nn.UpsamplingNearest2d(scale_factor=2)(x).numpy()[0, 0]
    np.testing.assert_array_equal(nearest, [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4],
                                            [3, 3, 4, 4]])


def test_bicubic_hand_weights(device):
    """An impulse at column 1 of 4, doubled: u = (j + ½)/2 − ½. Output 0 sits at u = −¼
    (i = −1, t = ¾: taps −2, −1, 0, 1) and reads column 1 with w(2 − t) = w(1¼) = −27/256;
    output 1 at u = ¼ (i = 0, t = ¼) with w(1 − t) = w(¾) = 67/256; output 3 at u = 1¼
    (i = 1) with w(t) = w(¼) = 225/256. The four weights at t = ¼ are −27, 225, 67, −9
    (/256): they sum to 1."""
    impulse = t([[[[0.0, 1.0, 0.0, 0.0]]]], device)
    y = F.interpolate(impulse, scale_factor=(1, 2), mode="bicubic").numpy()[0, 0, 0]
    assert (y[0], y[1], y[3]) == (-27 / 256, 67 / 256, 225 / 256)
    ramp = t([[[[0.0, 1.0, 2.0, 3.0]]]], device)
    y = F.interpolate(ramp, scale_factor=(1, 2), mode="bicubic").numpy()[0, 0, 0]
    assert y[3] == (-27 * 0 + 225 * 1 + 67 * 2 - 9 * 3) / 256   # = 1.296875, not 1.25:
    # A = −0.75 does not reproduce a ramp (Keys' A = −½ would)


def test_grid_sample_hand_cases(device):
    """[[1, 2], [3, 4]] sampled at the centre (the mean), at the top-left corner
    (−1, −1): zeros padding without align_corners reads a quarter of pixel (0, 0), border
    padding reads it whole, align_corners puts −1 on its centre; at x = −1.5 reflection
    mirrors u = −1 at −½ onto column 0."""
    image = t([[[[1.0, 2.0], [3.0, 4.0]]]], device)

    def sample(x, y, **kwargs):
        grid = t([[[[x, y]]]], device)
        return F.grid_sample(image, grid, **kwargs).numpy().item()

    assert sample(0.0, 0.0) == 2.5
    assert sample(-1.0, -1.0) == 0.25
    assert sample(1.0, 1.0) == 1.0
    assert sample(-1.0, -1.0, padding_mode="border") == 1.0
    assert sample(-1.0, -1.0, align_corners=True) == 1.0
    assert sample(-1.5, -1.0, padding_mode="reflection") == 1.0
    assert sample(0.5, -0.5, align_corners=True) == 2.25  # u = ¾, v = ¼: ¾·1.75 + ¼·3.75
    assert sample(0.2, 0.9, mode="nearest") == 4.0        # u = 0.7, v = 1.4 → (1, 1)
    assert sample(0.0, 0.0, mode="nearest") == 1.0        # u = v = ½: rounds to even, 0
    assert sample(-0.5, -0.5, mode="nearest", align_corners=True) == 1.0  # ¼ → 0


def test_affine_grid_hand_values(device):
    identity = t([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], device)
    grid = F.affine_grid(identity, (1, 1, 2, 3)).numpy()[0]
    np.testing.assert_allclose(grid[..., 0], [[-2 / 3, 0, 2 / 3]] * 2, rtol=1e-15)
    np.testing.assert_allclose(grid[..., 1], [[-0.5] * 3, [0.5] * 3])
    corners = F.affine_grid(identity, (1, 1, 2, 3), align_corners=True).numpy()[0]
    np.testing.assert_allclose(corners[..., 0], [[-1, 0, 1]] * 2)
    np.testing.assert_allclose(corners[..., 1], [[-1] * 3, [1] * 3])
    shifted = t([[[2.0, 0.0, 0.5], [0.0, 1.0, -1.0]]], device)  # x' = 2x + ½, y' = y − 1
    grid = F.affine_grid(shifted, (1, 3, 1, 2), align_corners=True).numpy()[0, 0]
    np.testing.assert_allclose(grid, [[-1.5, -1.0], [2.5, -1.0]])  # height 1: y = 0


# ------------------------------------------------------------------ against NumPy

@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size, scale", [((5, 7), None), ((2, 3), None), ((1, 9), None),
                                         (None, (1.7, 0.6)), (None, (2, 2))])
def test_bicubic_matches_numpy(align_corners, size, scale, device):
    rng = np.random.default_rng(1)
    image = rng.standard_normal((2, 2, 4, 5))
    y = F.interpolate(t(image, device), size=size, scale_factor=scale, mode="bicubic",
                      align_corners=align_corners)
    out = size or (math.floor(4 * scale[0]), math.floor(5 * scale[1]))
    scales = (None, None) if scale is None else scale
    expected = np_bicubic(image, *out, align_corners, scales)
    assert y.shape == (2, 2) + tuple(out)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size, scale", [((3, 5, 2), None), ((1, 2, 6), None),
                                         (None, (1.2, 1.5, 0.7))])
def test_trilinear_matches_numpy(align_corners, size, scale, device):
    """scale 1.2 on a depth of 3 gives 3 again: PyTorch copies that dim."""
    rng = np.random.default_rng(2)
    volume = rng.standard_normal((1, 2, 3, 4, 3))
    y = F.interpolate(t(volume, device), size=size, scale_factor=scale, mode="trilinear",
                      align_corners=align_corners)
    out = size or tuple(math.floor(n * f) for n, f in zip((3, 4, 3), scale))
    scales = (None,) * 3 if scale is None else scale
    expected = np_trilinear(volume, out, align_corners, scales)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_linear_modes_copy_a_dim_whose_size_does_not_change(device):
    """in = out = 4 with scale_factor 1.1: PyTorch's kernel copies (it does not use
    u = (j + ½)/1.1 − ½); a dim that changes is still interpolated with 1/1.1."""
    rng = np.random.default_rng(3)
    line = rng.standard_normal((1, 2, 4))
    y = F.interpolate(t(line, device), scale_factor=1.1, mode="linear")
    np.testing.assert_array_equal(y.numpy(), line)
    image = rng.standard_normal((1, 1, 4, 10))
    y = F.interpolate(t(image, device), scale_factor=1.1, mode="bilinear").numpy()
    weights = np.zeros((11, 10))
    for j in range(11):
        for index, weight in np_linear_taps(j, 10, 11, False, 1.1):
            weights[j, index] += weight
    np.testing.assert_allclose(y, image @ weights.T, rtol=1e-12)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("out", [(2, 6, 3), (5, 3, 1), (3, 8, 4)])
def test_nearest_5d_matches_numpy(mode, out, device):
    rng = np.random.default_rng(4)
    volume = rng.standard_normal((2, 1, 3, 4, 2))
    y = F.interpolate(t(volume, device), size=out, mode=mode).numpy()
    exact = mode == "nearest-exact"
    index = [[np_nearest(j, n, o, exact) for j in range(o)] for n, o in zip((3, 4, 2), out)]
    expected = volume[:, :, index[0]][:, :, :, index[1]][..., index[2]]
    np.testing.assert_array_equal(y, expected)


def test_area_5d_matches_numpy(device):
    rng = np.random.default_rng(5)
    volume = rng.standard_normal((1, 2, 5, 4, 6))
    for out in ((2, 3, 4), (5, 1, 6), (3, 4, 3)):
        y = F.interpolate(t(volume, device), size=out, mode="area").numpy()
        np.testing.assert_allclose(y, np_area(volume, out), rtol=1e-12)
    halved = F.interpolate(t(volume[:, :, :4], device), scale_factor=0.5, mode="area").numpy()
    np.testing.assert_allclose(halved, np_area(volume[:, :, :4], (2, 2, 3)), rtol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_matches_numpy(mode, padding_mode, align_corners, device):
    rng = np.random.default_rng(6)
    image = rng.standard_normal((2, 3, 4, 5))
    grid = rng.uniform(-2.5, 2.5, (2, 3, 4, 2))
    grid[0, 0, :2] = [[-1.0, -1.0], [1.0, 1.0]]               # the corners themselves
    y = F.grid_sample(t(image, device), t(grid, device), mode=mode,
                      padding_mode=padding_mode, align_corners=align_corners)
    expected = np_grid_sample(image, grid, mode, padding_mode, align_corners)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_gradients_match_pytorchs_backward(padding_mode, align_corners, device):
    """The input and grid gradients of PyTorch's backward kernel, transcribed: slopes
    (n − 1)/2 or n/2, times 0 where border-clamped (at the border too), times ±1 where
    mirrored; points outside with zeros padding read and get nothing."""
    rng = np.random.default_rng(7)
    image = rng.standard_normal((1, 2, 3, 4))
    grid = rng.uniform(-2.0, 2.0, (1, 3, 3, 2))
    grid[0, 0, 0] = [-1.0, 0.3]                               # x = −1: an edge
    grid[0, 0, 1] = [normalised(0.0, 4, align_corners), normalised(2.0, 3, align_corners)]
    grad_output = rng.standard_normal((1, 2, 3, 3))
    x, g = t(image, device, grad=True), t(grid, device, grad=True)
    (F.grid_sample(x, g, padding_mode=padding_mode, align_corners=align_corners)
     * t(grad_output, device)).sum().backward()
    _, grad_image, grad_grid = np_grid_sample(image, grid, "bilinear", padding_mode,
                                              align_corners, grad_output)
    np.testing.assert_allclose(x.grad.numpy(), grad_image, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.grad.numpy(), grad_grid, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_numpy(align_corners, device):
    rng = np.random.default_rng(8)
    theta = rng.standard_normal((2, 2, 3))
    for size in ((2, 3, 4, 5), (2, 1, 1, 3), (2, 1, 3, 1)):
        grid = F.affine_grid(t(theta, device), size, align_corners=align_corners)
        assert grid.shape == (2, size[2], size[3], 2)
        np.testing.assert_allclose(grid.numpy(), np_affine_grid(theta, size, align_corners),
                                   rtol=1e-12, atol=1e-15)


def test_affine_grid_5d(device):
    """(N, 3, 4) and (N, C, D, H, W): the point (x, y, z, 1) of each voxel centre."""
    rng = np.random.default_rng(9)
    theta = rng.standard_normal((1, 3, 4))
    grid = F.affine_grid(t(theta, device), (1, 1, 2, 3, 4)).numpy()
    assert grid.shape == (1, 2, 3, 4, 3)
    for d, h, w in np.ndindex(2, 3, 4):
        point = np.array([(2 * w + 1) / 4 - 1, (2 * h + 1) / 3 - 1, (2 * d + 1) / 2 - 1, 1])
        np.testing.assert_allclose(grid[0, d, h, w], theta[0] @ point, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------- identities

@pytest.mark.parametrize("mode, ndim", [
    ("nearest", 5), ("nearest-exact", 4), ("area", 5), ("bilinear", 4), ("bicubic", 4),
    ("trilinear", 5), ("linear", 3)])
def test_scale_one_is_the_identity(mode, ndim, device):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((1, 2, 3, 4, 3)[:ndim])
    options = [dict(size=x.shape[2:]), dict(scale_factor=1.0)]
    if mode in ("bilinear", "bicubic", "trilinear", "linear"):
        options.append(dict(size=x.shape[2:], align_corners=True))
    for kwargs in options:
        y = F.interpolate(t(x, device), mode=mode, **kwargs).numpy()
        np.testing.assert_allclose(y, x, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_identity_theta_reproduces_the_input(mode, padding_mode, align_corners, device):
    rng = np.random.default_rng(11)
    image = rng.standard_normal((2, 3, 4, 5))
    identity = t(np.tile(np.eye(2, 3), (2, 1, 1)), device)
    grid = F.affine_grid(identity, image.shape, align_corners=align_corners)
    y = F.grid_sample(t(image, device), grid, mode=mode, padding_mode=padding_mode,
                      align_corners=align_corners)
    np.testing.assert_allclose(y.numpy(), image, rtol=1e-12, atol=1e-12)


def test_non_finite_grid_points_read_zero(device):
    image = t(np.ones((1, 1, 2, 2)), device)
    grid = t([[[[np.nan, 0.0], [np.inf, 0.0], [0.0, -np.inf], [1e30, 0.0]]]], device)
    np.testing.assert_array_equal(F.grid_sample(image, grid).numpy(), np.zeros((1, 1, 1, 4)))


# -------------------------------------------------------------------------- gradients

def check_gradients(fn, inputs, second=True):
    assert tg.gradcheck(fn, inputs)
    if second:
        assert tg.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("kwargs", [
    dict(size=(5, 3), mode="bicubic"), dict(scale_factor=1.5, mode="bicubic", align_corners=True),
    dict(size=(1, 3, 2), mode="trilinear"), dict(size=(3, 2, 4), mode="trilinear",
                                                 align_corners=True),
    dict(size=(3, 1, 4), mode="nearest"), dict(size=(1, 3, 2), mode="nearest-exact"),
    dict(size=(2, 1, 2), mode="area")])
def test_interpolate_gradcheck(kwargs, device):
    rng = np.random.default_rng(12)
    ndim = 4 if kwargs["mode"] == "bicubic" else 5
    x = t(rng.standard_normal((1, 2, 2, 3, 3)[:ndim]), device, grad=True)
    check_gradients(lambda x: F.interpolate(x, **kwargs), [x],
                    second=kwargs["mode"] in ("bicubic", "trilinear"))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_gradcheck_in_input_and_grid(padding_mode, align_corners, device):
    rng = np.random.default_rng(13)
    image = t(rng.standard_normal((1, 2, 3, 4)), device, grad=True)
    grid = t(smooth_grid(rng, (1, 2, 3), 3, 4, align_corners), device, grad=True)
    check_gradients(lambda x, g: F.grid_sample(x, g, padding_mode=padding_mode,
                                               align_corners=align_corners),
                    [image, grid], second=padding_mode == "zeros")


def test_grid_sample_nearest_gradcheck_and_second_order(device):
    rng = np.random.default_rng(14)
    image = t(rng.standard_normal((1, 1, 3, 3)), device, grad=True)
    grid = t(smooth_grid(rng, (1, 2, 2), 3, 3, False), device)
    check_gradients(lambda x: F.grid_sample(x, grid, mode="nearest",
                                            padding_mode="reflection"), [image])
    grid = t(smooth_grid(rng, (1, 2, 2), 3, 3, True), device, grad=True)
    check_gradients(lambda x, g: F.grid_sample(x, g, padding_mode="border",
                                               align_corners=True), [image, grid])


def test_spatial_transformer_gradcheck_in_theta(device):
    """affine_grid then grid_sample: the gradient reaches theta through the grid."""
    rng = np.random.default_rng(15)
    image = t(rng.standard_normal((1, 1, 4, 4)), device)
    theta = t([[[0.83, -0.21, 0.07], [0.18, 0.91, -0.117]]], device, grad=True)  # no u ∈ ℤ

    def transform(theta):
        return F.grid_sample(image, F.affine_grid(theta, (1, 1, 3, 3)))

    check_gradients(transform, [theta])
    check_gradients(lambda theta: F.affine_grid(theta, (1, 2, 2, 3), align_corners=True),
                    [t(rng.standard_normal((1, 2, 3)), device, grad=True)])


# --------------------------------------------------------------------- dtypes, errors

def test_float32_stays_float32(device):
    image = tg.randn(1, 2, 3, 4, device=device)
    volume = tg.randn(1, 2, 2, 3, 2, device=device)
    for x, mode in ((image, "bicubic"), (volume, "trilinear"), (volume, "nearest"),
                    (volume, "area"), (volume, "nearest-exact")):
        y = F.interpolate(x, scale_factor=2, mode=mode)
        assert y.dtype == tg.float32 and y.device == device
        assert y.shape == x.shape[:2] + tuple(2 * n for n in x.shape[2:])
    theta = tg.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], device=device)
    grid = F.affine_grid(theta, (1, 2, 3, 4))
    assert grid.dtype == tg.float32
    y = F.grid_sample(image, grid)
    assert y.dtype == tg.float32 and y.device == device
    np.testing.assert_allclose(y.numpy(), image.numpy(), rtol=1e-6, atol=1e-6)
    expected = np_bicubic(image.numpy().astype(np.float64), 5, 7)
    np.testing.assert_allclose(F.interpolate(image, size=(5, 7), mode="bicubic").numpy(),
                               expected, rtol=1e-5, atol=1e-5)


def test_interpolate_errors():
    x3, x4, x5 = tg.zeros(1, 1, 4), tg.zeros(1, 1, 4, 4), tg.zeros(1, 1, 2, 2, 2)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x4, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x5)
    with pytest.raises(NotImplementedError, match="unknown mode 'cubic'"):
        F.interpolate(x4, size=2, mode="cubic")
    with pytest.raises(NotImplementedError, match="bicubic mode needs a 4-D input"):
        F.interpolate(x5, size=2, mode="bicubic")
    with pytest.raises(NotImplementedError, match="trilinear mode needs a 5-D input"):
        F.interpolate(x4, size=2, mode="trilinear")
    with pytest.raises(NotImplementedError, match="bilinear mode needs a 4-D input"):
        F.interpolate(x3, size=2, mode="bilinear")
    with pytest.raises(NotImplementedError, match=r"got shape \(1, 4\)"):
        F.interpolate(tg.zeros(1, 4), size=2)
    with pytest.raises(NotImplementedError, match="antialias=True"):
        F.interpolate(x4, size=2, mode="bilinear", antialias=True)
    with pytest.raises(ValueError, match="antialias is restricted"):
        F.interpolate(x5, size=2, mode="trilinear", antialias=True)
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(x5, size=2, mode="area", align_corners=False)
    with pytest.raises(ValueError, match="3 spatial dims"):
        F.interpolate(x5, size=(2, 2))


def test_grid_sample_and_affine_grid_errors():
    x, grid = tg.zeros(1, 1, 3, 3), tg.zeros(1, 2, 2, 2)
    with pytest.raises(ValueError, match="mode"):
        F.grid_sample(x, grid, mode="linear")
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(x, grid, padding_mode="circular")
    with pytest.raises(ValueError, match="'bicubic' supports only 4-D"):
        F.grid_sample(tg.zeros(1, 1, 2, 2, 2), tg.zeros(1, 2, 2, 2, 3), mode="bicubic")
    with pytest.raises(ValueError, match=r"grid \(N, Ho, Wo, 2\)"):
        F.grid_sample(x, tg.zeros(1, 2, 2, 3))
    with pytest.raises(ValueError, match="batch size 2"):
        F.grid_sample(x, tg.zeros(2, 2, 2, 2))
    with pytest.raises(ValueError, match="same dtype"):
        F.grid_sample(x, tg.zeros(1, 2, 2, 2, dtype=tg.float64))
    theta = tg.zeros(1, 2, 3)
    with pytest.raises(ValueError, match=r"\(1, 2, 3\).*\(1, 3, 4\)"):
        F.affine_grid(tg.zeros(1, 3, 4), (1, 1, 2, 2))
    with pytest.raises(ValueError, match="positive output size"):
        F.affine_grid(theta, (1, 1, 0, 2))
    with pytest.raises(NotImplementedError, match="4-D"):
        F.affine_grid(theta, (1, 1, 2))
    with pytest.raises(ValueError, match="floating point"):
        F.affine_grid(tg.tensor(np.zeros((1, 2, 3), dtype=np.int64)), (1, 1, 2, 2))


def test_upsample_module_on_5d_and_bicubic(device):
    rng = np.random.default_rng(16)
    volume = rng.standard_normal((1, 1, 2, 2, 3))
    up = nn.Upsample(scale_factor=(1, 2, 1), mode="trilinear", align_corners=True)
    expected = np_trilinear(volume, (2, 4, 3), True)
    np.testing.assert_allclose(up(t(volume, device)).numpy(), expected, rtol=1e-12)
    image = rng.standard_normal((1, 2, 3, 3))
    bicubic = nn.Upsample(size=(4, 5), mode="bicubic")
    np.testing.assert_allclose(bicubic(t(image, device)).numpy(), np_bicubic(image, 4, 5),
                               rtol=1e-12, atol=1e-12)
    assert repr(bicubic) == "Upsample(size=(4, 5), mode='bicubic')"


# --------------------------------------------------------------- the two-path table

def grid_sample_bilinear(x, g):
    return F.grid_sample(x, g, padding_mode="reflection")


def grid_sample_border_corners(x, g):
    return F.grid_sample(x, g, padding_mode="border", align_corners=True)


def image_and_smooth_grid(align_corners):
    """The domain of (image, grid) entries: a normal image, a grid of ``smooth_grid``."""
    def draw(rng, shapes):
        image_shape, grid_shape = shapes
        return [rng.standard_normal(image_shape),
                smooth_grid(rng, grid_shape[:3], *image_shape[2:], align_corners)]
    return draw


INTERPOLATE_OPS = [
    # compositions (gathers, weighted sums, where): no new Function
    Op("interpolate_bicubic", lambda x: F.interpolate(x, scale_factor=1.5, mode="bicubic"),
       1, shapes=fixed(lambda n, h, w: [(n, 1, h + 1, w)], 3)),
    Op("interpolate_trilinear",
       lambda x: F.interpolate(x, size=(2, 3, 2), mode="trilinear", align_corners=True), 1,
       shapes=fixed(lambda d, h, w: [(1, 1, d, h, w)], 3)),
    Op("interpolate_area_5d", lambda x: F.interpolate(x, size=(1, 2, 1), mode="area"), 1,
       shapes=fixed(lambda c, h, w: [(1, c, 2, h + 1, w)], 3)),
    Op("grid_sample_reflection", grid_sample_bilinear, 2, image_and_smooth_grid(False),
       fixed(lambda c, h, w: [(1, c, h + 1, w + 1), (1, h, w, 2)], 3)),
    Op("grid_sample_border_align_corners", grid_sample_border_corners, 2,
       image_and_smooth_grid(True),
       fixed(lambda c, h, w: [(1, c, h + 1, w + 1), (1, h, w, 2)], 3)),
    Op("affine_grid", lambda theta: F.affine_grid(theta, (2, 1, 2, 3)), 1,
       each(lambda rng, shape: rng.uniform(-1, 1, shape)), fixed(lambda: [(2, 2, 3)], 0)),
]

TABLE_SETTINGS = settings(max_examples=2, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])


def draw(op, data, device):
    shapes = data.draw(op.shapes(op.arity), label="shapes")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    return op.domain(rng, shapes), rng


@pytest.mark.parametrize("op", INTERPOLATE_OPS, ids=[op.name for op in INTERPOLATE_OPS])
@TABLE_SETTINGS
@given(data=st.data())
def test_table_gradcheck_gradgradcheck_and_two_paths(op, device, data):
    arrays, rng = draw(op, data, device)
    inputs = [tg.tensor(array, dtype=tg.float64, requires_grad=True, device=device)
              for array in arrays]
    assert tg.gradcheck(op.fn, inputs)
    assert tg.gradgradcheck(op.fn, inputs)
    assert_the_two_paths_agree(op, arrays, rng, device, same_output_dtype=True)
