"""F.grid_sample on volumes (5-D: trilinear 'bilinear' and 'nearest') and mode='bicubic' on
images, against NumPy loops written here from PyTorch's formulas (``grid_sampler_unnormalize``,
``compute_coordinates``, Keys' cubic kernel with A = −0.75), hand numbers, identity grids,
and gradcheck / gradgradcheck in float64 in the input and the grid. Every form is a
composition of existing ops (no new ``Function``)."""

import itertools
import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F

A = -0.75


def t(array, device, grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), device=device, requires_grad=grad)


def np_unnormalize(coord, size, align_corners):
    return (coord + 1) / 2 * (size - 1) if align_corners else ((coord + 1) * size - 1) / 2


def np_reflect(u, size, align_corners):
    """Mirror u at 0 and n − 1 (align_corners) or at −½ and n − ½ until it is inside."""
    twice_low, twice_high = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
    if twice_low == twice_high:
        return 0.0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    distance = abs(u - low)
    extra = math.fmod(distance, span)
    return extra + low if math.floor(distance / span) % 2 == 0 else span - extra + low


def np_fold(u, size, padding_mode, align_corners):
    """PyTorch's compute_coordinates: reflection mirrors, border and reflection clamp."""
    if padding_mode == "reflection":
        u = np_reflect(u, size, align_corners)
    if padding_mode != "zeros":
        u = min(max(u, 0.0), size - 1.0)
    return u


def np_grid_sample_3d(volume, grid, mode, padding_mode, align_corners):
    """PyTorch's grid_sampler_3d, one output voxel at a time."""
    n_batch, channels, *sizes = volume.shape
    out = np.zeros((n_batch, channels) + grid.shape[1:4])

    def value(n, position):
        inside = all(0 <= p < size for p, size in zip(position, sizes))
        return volume[(n, slice(None)) + tuple(position)] if inside else np.zeros(channels)

    for n, i, j, k in np.ndindex(grid.shape[:4]):
        x, y, z = grid[n, i, j, k]
        u = [np_fold(np_unnormalize(c, size, align_corners), size, padding_mode, align_corners)
             for c, size in zip((z, y, x), sizes)]                # along D, H, W
        if mode == "nearest":
            out[n, :, i, j, k] = value(n, [round(p) for p in u])  # halves to even
            continue
        low = [math.floor(p) for p in u]
        frac = [p - f for p, f in zip(u, low)]
        for corner in itertools.product((0, 1), repeat=3):
            weight = np.prod([f if c else 1 - f for f, c in zip(frac, corner)])
            out[n, :, i, j, k] += weight * value(n, [f + c for f, c in zip(low, corner)])
    return out


def keys(s):
    """Keys' cubic convolution kernel W(s), A = −0.75."""
    s = abs(s)
    if s <= 1:
        return (A + 2) * s ** 3 - (A + 3) * s ** 2 + 1
    if s < 2:
        return A * s ** 3 - 5 * A * s ** 2 + 8 * A * s - 4 * A
    return 0.0


def np_grid_sample_bicubic(image, grid, padding_mode, align_corners):
    """PyTorch's bicubic grid_sampler_2d: u, v unnormalised (not folded); each integer tap
    folded by compute_coordinates, outside taps read 0."""
    n_batch, channels, h, w = image.shape
    out = np.zeros((n_batch, channels) + grid.shape[1:3])

    def tap(index, size):
        if padding_mode == "zeros":
            return index
        return int(np_fold(float(index), size, padding_mode, align_corners))

    for n, i, j in np.ndindex(grid.shape[:3]):
        u = np_unnormalize(grid[n, i, j, 0], w, align_corners)
        v = np_unnormalize(grid[n, i, j, 1], h, align_corners)
        left, top = math.floor(u), math.floor(v)
        for a, b in np.ndindex(4, 4):
            row, col = tap(top - 1 + a, h), tap(left - 1 + b, w)
            if 0 <= row < h and 0 <= col < w:
                weight = keys(v - (top - 1 + a)) * keys(u - (left - 1 + b))
                out[n, :, i, j] += weight * image[n, :, row, col]
    return out


def normalised(pixel, size, align_corners):
    """The grid coordinate whose pixel coordinate is ``pixel``."""
    return 2 * pixel / (size - 1) - 1 if align_corners else (2 * pixel + 1) / size - 1


def smooth_grid(rng, shape, sizes, align_corners):
    """Points whose pixel coordinates keep fractional parts in {0.2, 0.35, 0.65, 0.8}
    (± 0.02), from −2 to n: away from floor's jumps, borders and mirror points.
    ``sizes`` along (W, H[, D]), the grid's last axis order."""
    columns = []
    for size in sizes:
        fraction = rng.choice([0.2, 0.35, 0.65, 0.8], size=shape)
        pixel = rng.integers(-2, size, shape) + fraction + rng.uniform(-0.02, 0.02, shape)
        columns.append(normalised(pixel, size, align_corners))
    return np.stack(columns, axis=-1)


# ------------------------------------------------------------------------- volumes

@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_volume_matches_numpy(mode, padding_mode, align_corners, device):
    rng = np.random.default_rng(1)
    volume = rng.standard_normal((2, 2, 3, 4, 2))
    grid = rng.uniform(-2.2, 2.2, (2, 2, 3, 2, 3))
    grid[0, 0, 0, :2] = [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]   # the corners themselves
    y = F.grid_sample(t(volume, device), t(grid, device), mode=mode,
                      padding_mode=padding_mode, align_corners=align_corners)
    assert y.shape == (2, 2, 2, 3, 2) and y.device == device
    expected = np_grid_sample_3d(volume, grid, mode, padding_mode, align_corners)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_trilinear_hand_number(device):
    """The centre of a 2×2×2 cube with align_corners: the mean of its 8 corners; the
    point (x, y, z) = (1, −1, 0) is halfway along z between two corners."""
    volume = np.arange(8.0).reshape(1, 1, 2, 2, 2)             # value 4z + 2y + x
    grid = t([[[[[0.0, 0.0, 0.0], [1.0, -1.0, 0.0]]]]], device)  # (1, 1, 1, 2, 3)
    y = F.grid_sample(t(volume, device), grid, align_corners=True).numpy()
    np.testing.assert_allclose(y.ravel(), [3.5, 3.0], rtol=1e-15)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_identity_theta_reproduces_a_volume(mode, padding_mode, align_corners, device):
    rng = np.random.default_rng(2)
    volume = rng.standard_normal((2, 3, 3, 4, 2))
    identity = t(np.tile(np.eye(3, 4), (2, 1, 1)), device)
    grid = F.affine_grid(identity, volume.shape, align_corners=align_corners)
    y = F.grid_sample(t(volume, device), grid, mode=mode, padding_mode=padding_mode,
                      align_corners=align_corners)
    np.testing.assert_allclose(y.numpy(), volume, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_trilinear_gradcheck_in_input_and_grid(padding_mode, align_corners, device):
    rng = np.random.default_rng(3)
    volume = t(rng.standard_normal((1, 2, 2, 3, 2)), device, grad=True)
    grid = t(smooth_grid(rng, (1, 2, 1, 2), (2, 3, 2), align_corners), device, grad=True)

    def sample(x, g):
        return F.grid_sample(x, g, padding_mode=padding_mode, align_corners=align_corners)

    assert tg.gradcheck(sample, [volume, grid])
    if padding_mode == "zeros":
        assert tg.gradgradcheck(sample, [volume, grid])


def test_nearest_volume_gradient_goes_to_the_read_voxels(device):
    volume = t(np.zeros((1, 1, 2, 2, 2)), device, grad=True)
    grid = t([[[[[-0.9, 0.9, 0.9], [-0.9, 0.9, 0.9], [5.0, 0.0, 0.0]]]]], device)
    F.grid_sample(volume, grid, mode="nearest").sum().backward()
    expected = np.zeros((1, 1, 2, 2, 2))
    expected[0, 0, 1, 1, 0] = 2.0                              # read twice; 5.0 is outside
    np.testing.assert_array_equal(volume.grad.numpy(), expected)


# ------------------------------------------------------------------------- bicubic

def test_bicubic_hand_numbers(device):
    """Halfway between pixels the taps weigh (−3/32, 19/32, 19/32, −3/32). At x = −1
    without align_corners (u = −½) the taps −2, −1, 0, 1 read, by padding mode,
    0, 0, a, b (zeros), a, a, a, b (border), b, a, a, b (reflection about −½)."""
    row = np.array([[[[2.0, 1.0, 0.0, 0.0]]]])                   # (1, 1, 1, 4): a=2, b=1
    halfway = t([[[[0.0, 0.0]]]], device)                        # u = 1.5 with align_corners
    impulse = t(np.array([[[[0.0, 1.0, 0.0, 0.0]]]]), device)
    y = F.grid_sample(impulse, halfway, mode="bicubic", align_corners=True)
    assert y.numpy().item() == 19 / 32
    edge = t([[[[-1.0, 0.0]]]], device)
    expected = {"zeros": 19 / 32 * 2 - 3 / 32 * 1, "border": (19 / 16 - 3 / 32) * 2 - 3 / 32,
                "reflection": 19 / 16 * 2 - 3 / 16 * 1}
    for padding_mode, value in expected.items():
        y = F.grid_sample(t(row, device), edge, mode="bicubic", padding_mode=padding_mode)
        assert y.numpy().item() == pytest.approx(value, abs=1e-15)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_bicubic_matches_numpy(padding_mode, align_corners, device):
    rng = np.random.default_rng(4)
    image = rng.standard_normal((2, 2, 4, 5))
    grid = rng.uniform(-2.5, 2.5, (2, 3, 4, 2))
    grid[0, 0, :2] = [[-1.0, -1.0], [1.0, 1.0]]
    y = F.grid_sample(t(image, device), t(grid, device), mode="bicubic",
                      padding_mode=padding_mode, align_corners=align_corners)
    assert y.shape == (2, 2, 3, 4) and y.device == device
    expected = np_grid_sample_bicubic(image, grid, padding_mode, align_corners)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_bicubic_identity_grid_reproduces_the_input(padding_mode, device):
    rng = np.random.default_rng(5)
    image = rng.standard_normal((1, 2, 4, 3))
    for align_corners in (False, True):
        identity = t(np.eye(2, 3)[None], device)
        grid = F.affine_grid(identity, image.shape, align_corners=align_corners)
        y = F.grid_sample(t(image, device), grid, mode="bicubic", padding_mode=padding_mode,
                          align_corners=align_corners)
        np.testing.assert_allclose(y.numpy(), image, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_bicubic_gradcheck_in_input_and_grid(padding_mode, align_corners, device):
    rng = np.random.default_rng(6)
    image = t(rng.standard_normal((1, 1, 3, 4)), device, grad=True)
    grid = t(smooth_grid(rng, (1, 2, 2), (4, 3), align_corners), device, grad=True)

    def sample(x, g):
        return F.grid_sample(x, g, mode="bicubic", padding_mode=padding_mode,
                             align_corners=align_corners)

    assert tg.gradcheck(sample, [image, grid])
    if padding_mode == "reflection":
        assert tg.gradgradcheck(sample, [image, grid])


def test_bicubic_non_finite_points_read_zero(device):
    image = t(np.ones((1, 1, 2, 2)), device)
    grid = t([[[[np.nan, 0.0], [np.inf, 0.0], [0.0, -np.inf]]]], device)
    for padding_mode in ("zeros", "border", "reflection"):
        y = F.grid_sample(image, grid, mode="bicubic", padding_mode=padding_mode)
        np.testing.assert_array_equal(y.numpy(), np.zeros((1, 1, 1, 3)))


# ------------------------------------------------------------------- dtypes, errors

def test_float32_stays_float32(device):
    volume = tg.randn(1, 2, 2, 3, 2, device=device)
    grid = F.affine_grid(tg.tensor(np.eye(3, 4, dtype=np.float32)[None], device=device),
                         volume.shape)
    y = F.grid_sample(volume, grid)
    assert y.dtype == np.float32 and y.device == device
    np.testing.assert_allclose(y.numpy(), volume.numpy(), rtol=1e-6, atol=1e-6)
    image = tg.randn(1, 2, 3, 4, device=device)
    grid = tg.zeros(1, 2, 2, 2, device=device)
    y = F.grid_sample(image, grid, mode="bicubic")
    assert y.dtype == np.float32
    expected = np_grid_sample_bicubic(image.numpy().astype(np.float64), np.zeros((1, 2, 2, 2)),
                                      "zeros", False)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_errors_name_the_shapes():
    volume = tg.zeros(1, 1, 2, 2, 2)
    with pytest.raises(ValueError, match="'bicubic' supports only 4-D"):
        F.grid_sample(volume, tg.zeros(1, 2, 2, 2, 3), mode="bicubic")
    with pytest.raises(ValueError, match=r"grid \(N, Do, Ho, Wo, 3\).*\(1, 2, 2, 2, 2\)"):
        F.grid_sample(volume, tg.zeros(1, 2, 2, 2, 2))
    with pytest.raises(ValueError, match=r"grid \(N, Do, Ho, Wo, 3\)"):
        F.grid_sample(volume, tg.zeros(1, 2, 2, 3))
    with pytest.raises(ValueError, match=r"4-D input .* or a 5-D input.*\(1, 1, 2\)"):
        F.grid_sample(tg.zeros(1, 1, 2), tg.zeros(1, 2, 1))
    with pytest.raises(ValueError, match="empty spatial dim"):
        F.grid_sample(tg.zeros(1, 1, 0, 2, 2), tg.zeros(1, 1, 1, 1, 3))
    with pytest.raises(ValueError, match="batch size 2"):
        F.grid_sample(volume, tg.zeros(2, 1, 1, 1, 3))
