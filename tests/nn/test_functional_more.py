"""nn/functional_more.py and nn/layers_more.py: one_hot, pad (four modes, crops), normalize,
cosine_similarity, pairwise_distance, pdist, interpolate (nearest, nearest-exact, linear,
bilinear, area), pixel (un)shuffle, channel and alpha dropout, bilinear, instance norm,
local response norm, and their modules.

Values are compared with independent NumPy formulas written here (np.pad, explicit loops,
einsum) and with small hand-derived cases; gradients with float64 gradcheck (and
gradgradcheck where cheap) on the cpu and strict devices. No new Function subclass: every
form is a composition, so there is no ``NN_MORE_OPS`` table."""

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


def t(array, device, grad=False, dtype=tg.float64):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=grad)


def check_gradients(fn, inputs, second=True):
    assert tg.gradcheck(fn, inputs)
    if second:
        assert tg.gradgradcheck(fn, inputs)


# ------------------------------------------------------------------------------------ one_hot

def test_one_hot_values_dtype_and_inferred_classes(device):
    labels = tg.tensor(np.array([[0, 2], [3, 1]]), device=device)
    y = F.one_hot(labels)
    assert y.dtype == tg.int64 and y.shape == (2, 2, 4) and y.device == device
    np.testing.assert_array_equal(y.numpy(), np.eye(4, dtype=np.int64)[[[0, 2], [3, 1]]])
    wide = F.one_hot(labels, num_classes=6)
    assert wide.shape == (2, 2, 6) and wide.numpy()[..., 4:].sum() == 0
    assert F.one_hot(tg.tensor(np.zeros(0, dtype=np.int64)), 3).shape == (0, 3)


def test_one_hot_errors():
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(tg.tensor(np.array([0, -1])))
    with pytest.raises(ValueError, match="smaller than num_classes"):
        F.one_hot(tg.tensor(np.array([0, 3])), num_classes=3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(tg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="empty"):
        F.one_hot(tg.tensor(np.zeros(0, dtype=np.int64)))


# ------------------------------------------------------------------------------------ padding

NUMPY_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def np_pad(x, pad, mode, value=0.0):
    """Reference: PyTorch's pad tuple (last dim first) with np.pad; negative amounts crop,
    after padding for reflect/replicate/constant, before it for circular (PyTorch)."""
    widths = [(0, 0)] * x.ndim
    crops = [slice(None)] * x.ndim
    for k in range(len(pad) // 2):
        axis = x.ndim - 1 - k
        before, after = pad[2 * k], pad[2 * k + 1]
        widths[axis] = (max(before, 0), max(after, 0))
        crops[axis] = (max(-before, 0), max(-after, 0))
    crop = [slice(c[0], -c[1] or None) if isinstance(c, tuple) else c for c in crops]
    kwargs = {"constant_values": value} if mode == "constant" else {}
    if mode == "circular":
        return np.pad(x[tuple(crop)], widths, "wrap")
    padded = np.pad(x, widths, NUMPY_MODE[mode], **kwargs)
    after_crop = [slice(c[0], padded.shape[axis] - c[1]) if isinstance(c, tuple) else c
                  for axis, c in enumerate(crops)]
    return padded[tuple(after_crop)]


def test_pad_hand_cases(device):
    x = t([[[1.0, 2.0, 3.0]]], device)
    cases = {"constant": [0, 0, 1, 2, 3, 0, 0], "reflect": [3, 2, 1, 2, 3, 2, 1],
             "replicate": [1, 1, 1, 2, 3, 3, 3], "circular": [2, 3, 1, 2, 3, 1, 2]}
    for mode, expected in cases.items():
        np.testing.assert_array_equal(F.pad(x, (2, 2), mode).numpy()[0, 0], expected)
    np.testing.assert_array_equal(F.pad(x, (1, 0), value=-5.0).numpy()[0, 0], [-5, 1, 2, 3])
    np.testing.assert_array_equal(F.pad(x, (-1, 2), "circular").numpy()[0, 0], [2, 3, 2, 3])
    np.testing.assert_array_equal(F.pad(x, (-1, 2), "reflect").numpy()[0, 0], [2, 3, 2, 1])


PAD_CASES = [
    ("constant", (3, 4, 5), (1, 2)), ("constant", (3, 4, 5), (0, 1, 2, 1, 1, 0)),
    ("constant", (2, 3, 4), (-1, 2, 1, -2)), ("reflect", (2, 3, 5), (2, 3)),
    ("reflect", (1, 2, 4, 5), (1, 3, 2, 0)), ("reflect", (2, 4, 5), (-1, 2)),
    ("replicate", (2, 3, 4), (3, 1)), ("replicate", (1, 2, 3, 4), (2, 1, -1, 3)),
    ("circular", (2, 3, 4), (2, 4)), ("circular", (1, 2, 3, 4), (1, 2, 3, 0)),
    ("circular", (2, 2, 5), (-2, 3)), ("replicate", (1, 2, 2, 3, 3), (1, 1, 1, 0, 0, 2)),
    ("reflect", (2, 3, 3, 3), (1, 1, 2, 2, 1, 0)),
]


@pytest.mark.parametrize("mode, shape, pad", PAD_CASES)
def test_pad_matches_numpy_and_gradcheck(mode, shape, pad, device):
    rng = np.random.default_rng(0)
    array = rng.standard_normal(shape)
    value = 0.5 if mode == "constant" else None
    y = F.pad(t(array, device), pad, mode, value)
    expected = np_pad(array, pad, mode, 0.5 if value else 0.0)
    np.testing.assert_array_equal(y.numpy(), expected)
    check_gradients(lambda x: F.pad(x, pad, mode, value), [t(array, device, grad=True)],
                    second=len(array.ravel()) < 40)


@settings(max_examples=25, deadline=None)
@given(shape=hnp.array_shapes(min_dims=3, max_dims=4, min_side=1, max_side=5),
       mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]),
       amounts=st.lists(st.integers(-2, 3), min_size=4, max_size=4),
       dims=st.integers(1, 2))
def test_pad_matches_numpy_on_drawn_shapes(shape, mode, amounts, dims):
    """Drawn shapes and amounts (crops included); a case PyTorch refuses must raise."""
    array = np.random.default_rng(0).standard_normal(shape)
    pad = tuple(amounts[:2 * dims])
    try:
        expected = np_pad(array, pad, mode)
    except ValueError:  # np.pad refuses (reflecting a size-1 dim); so must we
        expected = None
    sizes = [shape[-1 - k] + pad[2 * k] + pad[2 * k + 1] for k in range(dims)]
    kept = [shape[-1 - k] - max(-pad[2 * k], 0) - max(-pad[2 * k + 1], 0) for k in range(dims)]
    refused = (mode != "constant" and (min(sizes) < 1 or len(shape) > dims + 2)) or \
        (mode == "constant" and min(sizes) < 0) or \
        (mode == "reflect" and any(max(pad[2 * k:2 * k + 2]) >= shape[-1 - k]
                                   for k in range(dims))) or \
        (mode == "circular" and any(max(pad[2 * k:2 * k + 2]) > kept[k] for k in range(dims)))
    if refused:
        with pytest.raises((ValueError, NotImplementedError)):
            F.pad(tg.tensor(array), pad, mode)
        return
    assert expected is not None
    np.testing.assert_array_equal(F.pad(tg.tensor(array), pad, mode).numpy(), expected)


def test_pad_gradient_counts_each_read(device):
    """Reflect reads x[1] three times for [a b c] padded by (1, 1)... so its gradient is 3."""
    x = t([[[1.0, 2.0, 3.0]]], device, grad=True)
    F.pad(x, (1, 1), "reflect").sum().backward()            # b [a b c] b
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [1, 3, 1])
    x.grad = None
    F.pad(x, (2, 2), "replicate").sum().backward()          # a a [a b c] c c
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [3, 1, 3])


def test_pad_errors():
    x = tg.zeros(1, 2, 3)
    with pytest.raises(ValueError, match="even length"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match="covers 4 dims"):
        F.pad(x, (1,) * 8)
    with pytest.raises(ValueError, match="smaller than the size 3"):
        F.pad(x, (3, 0), "reflect")
    with pytest.raises(ValueError, match="more than once"):
        F.pad(x, (4, 0), "circular")
    with pytest.raises(ValueError, match="takes no value"):
        F.pad(x, (1, 1), "reflect", value=2.0)
    with pytest.raises(NotImplementedError, match="last 1, 2 or 3 dims"):
        F.pad(tg.zeros(3), (1, 1), "replicate")
    with pytest.raises(ValueError, match="mode must be one of"):
        F.pad(x, (1, 1), "mirror")
    with pytest.raises(ValueError, match="negative size"):
        F.pad(x, (-2, -2))


def test_pad_modules_forward_and_repr(device):
    array = np.arange(24.0).reshape(1, 2, 3, 4)                        # (N, C, H, W)
    line = array[0]                                                     # (N, C, W)
    cases = [
        (nn.ZeroPad1d(2), line, np_pad(line, (2, 2), "constant")),
        (nn.ZeroPad2d((1, 0, 2, 1)), array, np_pad(array, (1, 0, 2, 1), "constant")),
        (nn.ConstantPad1d((1, 2), 3.5), line, np_pad(line, (1, 2), "constant", 3.5)),
        (nn.ConstantPad2d(1, -1.0), array, np_pad(array, (1, 1, 1, 1), "constant", -1.0)),
        (nn.ConstantPad3d((0, 1, 0, 0, 1, 0), 2.0), array,
         np_pad(array, (0, 1, 0, 0, 1, 0), "constant", 2.0)),
        (nn.ReflectionPad1d(2), line, np_pad(line, (2, 2), "reflect")),
        (nn.ReflectionPad2d((1, 2, 2, 1)), array, np_pad(array, (1, 2, 2, 1), "reflect")),
        (nn.ReflectionPad3d(1), array, np_pad(array, (1,) * 6, "reflect")),
        (nn.ReplicationPad1d((0, 3)), line, np_pad(line, (0, 3), "replicate")),
        (nn.ReplicationPad2d(2), array, np_pad(array, (2, 2, 2, 2), "replicate")),
        (nn.ReplicationPad3d((1, 0, 0, 1, 1, 0)), array,
         np_pad(array, (1, 0, 0, 1, 1, 0), "replicate")),
        (nn.CircularPad1d(1), line, np_pad(line, (1, 1), "circular")),
        (nn.CircularPad2d((1, 2, 0, 3)), array, np_pad(array, (1, 2, 0, 3), "circular")),
        (nn.CircularPad3d(1), array, np_pad(array, (1,) * 6, "circular")),
        (nn.ZeroPad3d(1), array, np_pad(array, (1,) * 6, "constant")),
    ]
    for module, source, expected in cases:
        np.testing.assert_array_equal(module(t(source, device)).numpy(), expected)
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ConstantPad1d(2, 3.5)) == "ConstantPad1d(padding=(2, 2), value=3.5)"
    assert repr(nn.ReflectionPad1d((3, 1))) == "ReflectionPad1d((3, 1))"
    assert repr(nn.ReplicationPad2d(1)) == "ReplicationPad2d((1, 1, 1, 1))"
    assert repr(nn.CircularPad2d(2)) == "CircularPad2d((2, 2, 2, 2))"
    assert repr(nn.CircularPad3d(1)) == "CircularPad3d((1, 1, 1, 1, 1, 1))"
    with pytest.raises(ValueError, match="tuple of 4 ints"):
        nn.ReflectionPad2d((1, 2))


# ------------------------------------------------------------------- normalisation, distances

def test_normalize_values_zero_vector_and_gradients(device):
    rng = np.random.default_rng(1)
    array = rng.standard_normal((3, 4, 2))
    for p, dim in ((2.0, 1), (1.0, -1), (3.0, 0), (math.inf, 1)):
        norm = np.linalg.norm(np.moveaxis(array, dim, -1), ord=p, axis=-1, keepdims=True)
        expected = array / np.moveaxis(norm, -1, dim)
        np.testing.assert_allclose(F.normalize(t(array, device), p, dim).numpy(), expected,
                                   rtol=1e-12)
    check_gradients(lambda x: F.normalize(x), [t(array, device, grad=True)])
    check_gradients(lambda x: F.normalize(x, 3.0, -1), [t(array, device, grad=True)])
    zero = t([[0.0, 0.0], [3.0, 4.0]], device, grad=True)
    y = F.normalize(zero, dim=1)
    np.testing.assert_array_equal(y.numpy(), [[0, 0], [0.6, 0.8]])
    y.sum().backward()
    assert np.isfinite(zero.grad.numpy()).all()
    np.testing.assert_allclose(zero.grad.numpy()[0], [1e12, 1e12])  # x / eps: slope 1/eps


def np_cosine(x1, x2, dim, eps):
    n1 = np.maximum(np.sqrt((x1 * x1).sum(dim, keepdims=True)), eps)
    n2 = np.maximum(np.sqrt((x2 * x2).sum(dim, keepdims=True)), eps)
    return (x1 * x2 / (n1 * n2)).sum(dim)


def test_cosine_similarity_values_broadcast_gradients_and_module(device):
    rng = np.random.default_rng(2)
    x1, x2 = rng.standard_normal((4, 5, 3)), rng.standard_normal((1, 5, 3))
    y = F.cosine_similarity(t(x1, device), t(x2, device))
    assert y.shape == (4, 3)
    np.testing.assert_allclose(y.numpy(), np_cosine(x1, x2 + 0 * x1, 1, 1e-8), rtol=1e-12)
    module = nn.CosineSimilarity(dim=-1, eps=1e-6)
    np.testing.assert_allclose(module(t(x1, device), t(x2, device)).numpy(),
                               np_cosine(x1, x2 + 0 * x1, -1, 1e-6), rtol=1e-12)
    assert repr(module) == "CosineSimilarity()"
    check_gradients(lambda a, b: F.cosine_similarity(a, b),
                    [t(x1[:2, :3], device, grad=True), t(x2[:, :3], device, grad=True)])


def test_cosine_similarity_clamps_each_norm_separately(device):
    """‖x1‖ = 1e-9, ‖x2‖ = 2: separate clamps give 1e-9·2/(1e-8·2) = 0.1; clamping the
    product (the older formula) would give 2e-9/1e-8 = 0.2."""
    y = F.cosine_similarity(t([[1e-9, 0.0]], device), t([[2.0, 0.0]], device))
    np.testing.assert_allclose(y.numpy(), [0.1], rtol=1e-12)
    zero = t([[0.0, 0.0]], device, grad=True)
    F.cosine_similarity(zero, t([[1.0, 2.0]], device)).sum().backward()
    assert np.isfinite(zero.grad.numpy()).all()


def test_pairwise_distance_and_pdist(device):
    rng = np.random.default_rng(3)
    x1, x2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    for p in (1.0, 2.0, 3.0, math.inf):
        expected = np.linalg.norm(x1 - x2 + 1e-6, ord=p, axis=-1)
        np.testing.assert_allclose(F.pairwise_distance(t(x1, device), t(x2, device), p).numpy(),
                                   expected, rtol=1e-12)
    module = nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True)
    assert module(t(x1, device), t(x2, device)).shape == (4, 1)
    assert repr(module) == "PairwiseDistance()"
    check_gradients(lambda a, b: F.pairwise_distance(a, b),
                    [t(x1, device, grad=True), t(x2, device, grad=True)])
    rows = rng.standard_normal((4, 3))
    expected = [np.linalg.norm(rows[i] - rows[j]) for i in range(4) for j in range(i + 1, 4)]
    np.testing.assert_allclose(F.pdist(t(rows, device)).numpy(), expected, rtol=1e-12)
    check_gradients(lambda x: F.pdist(x, 3.0), [t(rows, device, grad=True)])
    with pytest.raises(ValueError, match="p must be a number >= 0"):
        F.pdist(t(rows, device), -0.5)  # (PyTorch's pdist takes any p >= 0)
    with pytest.raises(ValueError, match="2-D"):
        F.pdist(t(rows[0], device))


# ---------------------------------------------------------------------------------- resampling

def np_nearest_index(in_size, out_size, scale=None, exact=False):
    """PyTorch's CPU rule: a copy when out = in, j // 2 when out = 2·in, else float32."""
    if not exact and out_size == in_size:
        return np.arange(out_size)
    if not exact and out_size == 2 * in_size:
        return np.arange(out_size) // 2
    step = np.float32(1 / scale) if scale else np.float32(in_size) / np.float32(out_size)
    j = np.arange(out_size, dtype=np.float32) + np.float32(0.5 if exact else 0.0)
    return np.minimum(np.floor(j * step).astype(int), in_size - 1)


def np_linear_weights(in_size, out_size, align_corners, scale=None):
    """The (out, in) matrix of 1-D linear interpolation, written from PyTorch's rule."""
    matrix = np.zeros((out_size, in_size))
    for j in range(out_size):
        if align_corners:
            u = j * (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        else:
            step = 1 / scale if scale else in_size / out_size
            u = max(step * (j + 0.5) - 0.5, 0.0)
        i = int(np.floor(u))
        lam = u - i
        matrix[j, i] += 1 - lam
        matrix[j, min(i + 1, in_size - 1)] += lam
    return matrix


def test_interpolate_hand_cases(device):
    x = t([[[[0.0, 1.0], [2.0, 3.0]]]], device)
    half = F.interpolate(x, scale_factor=2, mode="bilinear").numpy()[0, 0]
    np.testing.assert_allclose(half[0], [0, 0.25, 0.75, 1])       # u = (j + ½)/2 − ½
    np.testing.assert_allclose(half[:, 0], [0, 0.5, 1.5, 2])
    corners = F.interpolate(x, size=3, mode="bilinear", align_corners=True).numpy()[0, 0]
    np.testing.assert_allclose(corners, [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]])
    nearest = F.interpolate(x, size=(3, 1)).numpy()[0, 0]          # floor(j·2/3) = 0, 0, 1
    np.testing.assert_array_equal(nearest, [[0], [0], [2]])
    line = t([[[0.0, 10.0, 20.0]]], device)
    np.testing.assert_allclose(F.interpolate(line, size=5, mode="linear",
                                             align_corners=True).numpy()[0, 0],
                               [0, 5, 10, 15, 20])


@pytest.mark.parametrize("kwargs", [
    dict(size=7), dict(scale_factor=2), dict(scale_factor=1.7), dict(size=2),
    dict(scale_factor=1.5, recompute_scale_factor=True), dict(size=6, mode="nearest-exact"),
])
def test_interpolate_nearest_1d_and_2d_match_numpy(kwargs, device):
    rng = np.random.default_rng(4)
    array = rng.standard_normal((2, 3, 5))
    mode = kwargs.pop("mode", "nearest")
    y = F.interpolate(t(array, device), mode=mode, **kwargs)
    out = kwargs.get("size") or math.floor(5 * kwargs["scale_factor"])
    scale = None if kwargs.get("recompute_scale_factor") else kwargs.get("scale_factor")
    index = np_nearest_index(5, out, scale, exact=mode == "nearest-exact")
    np.testing.assert_array_equal(y.numpy(), array[..., index])
    image = rng.standard_normal((1, 2, 4, 5))
    y2 = F.interpolate(t(image, device), mode=mode, **kwargs).numpy()
    out_h = kwargs.get("size") or math.floor(4 * kwargs["scale_factor"])
    rows = np_nearest_index(4, out_h, scale, exact=mode == "nearest-exact")
    np.testing.assert_array_equal(y2, image[:, :, rows][..., index])


def test_interpolate_nearest_uses_the_given_scale_factor(device):
    """in = 3, scale 2.1 → out 6 = 2·in: PyTorch's CPU kernel takes j // 2; in = 10, scale
    0.35 → out 3: floor(j/0.35) = 0, 2, 5 where in/out = 10/3 would give 0, 3, 6."""
    three = t([[[0.0, 1.0, 2.0]]], device)
    np.testing.assert_array_equal(F.interpolate(three, scale_factor=2.1).numpy()[0, 0],
                                  [0, 0, 1, 1, 2, 2])            # floor(j/2.1): 0 0 0 1 1 2
    x = t(np.arange(10.0).reshape(1, 1, 10), device)
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=0.35).numpy()[0, 0], [0, 2, 5])
    np.testing.assert_array_equal(
        F.interpolate(x, scale_factor=0.35, recompute_scale_factor=True).numpy()[0, 0],
        [0, 3, 6])


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size, scale", [((7, 3), None), ((2, 9), None), (None, (1.5, 2.5))])
def test_interpolate_bilinear_matches_numpy_and_gradcheck(align_corners, size, scale, device):
    rng = np.random.default_rng(5)
    image = rng.standard_normal((2, 2, 4, 5))
    y = F.interpolate(t(image, device), size=size, scale_factor=scale, mode="bilinear",
                      align_corners=align_corners)
    out = size or (math.floor(4 * scale[0]), math.floor(5 * scale[1]))
    scales = (None, None) if scale is None else scale
    rows = np_linear_weights(4, out[0], align_corners, scales[0])    # (out_h, 4)
    cols = np_linear_weights(5, out[1], align_corners, scales[1])    # (out_w, 5)
    expected = np.einsum("ai,ncij,bj->ncab", rows, image, cols)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    small = t(image[:1, :1], device, grad=True)
    check_gradients(lambda x: F.interpolate(x, size=size, scale_factor=scale, mode="bilinear",
                                            align_corners=align_corners), [small])


@pytest.mark.parametrize("align_corners", [None, True])
def test_interpolate_linear_matches_numpy_and_gradcheck(align_corners, device):
    rng = np.random.default_rng(6)
    array = rng.standard_normal((2, 3, 4))
    for out in (1, 3, 9):
        y = F.interpolate(t(array, device), size=out, mode="linear", align_corners=align_corners)
        expected = array @ np_linear_weights(4, out, bool(align_corners)).T
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    check_gradients(lambda x: F.interpolate(x, scale_factor=2.5, mode="linear",
                                            align_corners=align_corners),
                    [t(array, device, grad=True)])
    check_gradients(lambda x: F.interpolate(x, size=6), [t(array, device, grad=True)])


def test_interpolate_area_is_adaptive_average_pooling(device):
    array = np.arange(2 * 6.0).reshape(1, 2, 6)
    y = F.interpolate(t(array, device), size=3, mode="area").numpy()
    np.testing.assert_allclose(y, array.reshape(1, 2, 3, 2).mean(-1))
    image = np.arange(16.0).reshape(1, 1, 4, 4)
    y2 = F.interpolate(t(image, device), scale_factor=0.5, mode="area").numpy()
    np.testing.assert_allclose(y2, image.reshape(1, 1, 2, 2, 2, 2).mean((3, 5)))


def test_interpolate_keeps_float32(device):
    x = tg.randn(1, 2, 3, 3, device=device)
    for mode in ("nearest", "bilinear", "area"):
        y = F.interpolate(x, size=(5, 4), mode=mode)
        assert y.dtype == tg.float32 and y.shape == (1, 2, 5, 4) and y.device == device


def test_interpolate_errors():
    x3, x4 = tg.zeros(1, 1, 4), tg.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x3)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x3, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(x3, size=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="bilinear mode needs a 4-D input"):
        F.interpolate(x3, size=2, mode="bilinear")
    with pytest.raises(NotImplementedError, match="linear mode needs a 3-D input"):
        F.interpolate(x4, size=2, mode="linear")
    with pytest.raises(ValueError, match="2 spatial dims"):
        F.interpolate(x4, size=(2, 2, 2))
    with pytest.raises(ValueError, match="greater than 0"):
        F.interpolate(x4, scale_factor=0.1)


def test_upsample_modules(device):
    rng = np.random.default_rng(7)
    image = rng.standard_normal((1, 2, 3, 3))
    x = t(image, device)
    up = nn.Upsample(scale_factor=2, mode="bilinear")
    np.testing.assert_allclose(up(x).numpy(), F.interpolate(x, scale_factor=2.0,
                                                            mode="bilinear").numpy())
    assert repr(up) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert repr(nn.Upsample(size=(4, 5))) == "Upsample(size=(4, 5), mode='nearest')"
    nearest = nn.UpsamplingNearest2d(scale_factor=2)
    np.testing.assert_array_equal(nearest(x).numpy(), image.repeat(2, 2).repeat(2, 3))
    bilinear = nn.UpsamplingBilinear2d(size=5)
    rows = np_linear_weights(3, 5, True)
    expected = np.einsum("ai,ncij,bj->ncab", rows, image, rows)
    np.testing.assert_allclose(bilinear(x).numpy(), expected, rtol=1e-12)
    assert repr(bilinear) == "UpsamplingBilinear2d(size=5, mode='bilinear')"


def np_pixel_shuffle(x, r):
    n, channels, h, w = x.shape
    out = np.zeros((n, channels // (r * r), h * r, w * r))
    for c in range(channels // (r * r)):
        for i in range(r):
            for j in range(r):
                out[:, c, i::r, j::r] = x[:, c * r * r + i * r + j]
    return out


def test_pixel_shuffle_and_unshuffle(device):
    rng = np.random.default_rng(8)
    array = rng.standard_normal((2, 8, 2, 3))
    y = F.pixel_shuffle(t(array, device), 2)
    np.testing.assert_array_equal(y.numpy(), np_pixel_shuffle(array, 2))
    np.testing.assert_array_equal(F.pixel_unshuffle(y, 2).numpy(), array)
    batched = rng.standard_normal((2, 2, 9, 1, 2))                      # extra batch dim
    shuffled = nn.PixelShuffle(3)(t(batched, device))
    assert shuffled.shape == (2, 2, 1, 3, 6)
    np.testing.assert_array_equal(shuffled.numpy()[1], np_pixel_shuffle(batched[1], 3))
    assert repr(nn.PixelShuffle(3)) == "PixelShuffle(upscale_factor=3)"
    assert repr(nn.PixelUnshuffle(2)) == "PixelUnshuffle(downscale_factor=2)"
    check_gradients(lambda x: F.pixel_shuffle(x, 2), [t(array[:1], device, grad=True)])
    check_gradients(lambda x: F.pixel_unshuffle(x, 2), [t(array[:1, :2, :2, :2], device,
                                                          grad=True)])
    with pytest.raises(ValueError, match="not divisible by upscale_factor"):
        F.pixel_shuffle(t(array, device), 3)
    with pytest.raises(ValueError, match="divisible by downscale_factor"):
        F.pixel_unshuffle(t(array, device), 2)
    with pytest.raises(ValueError, match="positive integer"):
        F.pixel_shuffle(t(array, device), 0)


# ------------------------------------------------------------------------------------- dropout

@pytest.mark.parametrize("name, shape, spatial", [
    ("dropout1d", (40, 50, 6), 1), ("dropout1d", (2000, 5), 1), ("dropout2d", (40, 50, 2, 3), 2),
])
def test_channel_dropout_zeroes_whole_channels_and_scales(name, shape, spatial, device):
    p = 0.3
    x = tg.ones(*shape, dtype=tg.float64, device=device, requires_grad=True)
    y = getattr(F, name)(x, p)
    values = y.numpy()
    channels = values.reshape(-1, int(np.prod(shape[-spatial:])))      # one row per channel
    assert set(np.unique(values)) <= {0.0, 1 / (1 - p)}
    assert (channels.min(1) == channels.max(1)).all()                   # whole channels
    dropped = (channels[:, 0] == 0).mean()
    assert abs(dropped - p) < 4 * math.sqrt(p * (1 - p) / len(channels))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)               # grad = mask / (1 − p)
    assert getattr(F, name)(x, p, training=False) is x
    assert getattr(F, name)(x, 0.0) is x
    np.testing.assert_array_equal(getattr(F, name)(x, 1.0).numpy(), np.zeros(shape))


def test_channel_dropout_modules_seed_eval_and_errors(device):
    module = nn.Dropout2d(p=0.5)
    x = tg.randn(4, 6, 3, 3, device=device)
    tg.manual_seed(5)
    first = module(x).numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(module(x).numpy(), first)
    assert (first == 0).any() and (first != 0).any()
    module.eval()
    assert module(x) is x
    one_d = nn.Dropout1d(0.5)
    assert (one_d(tg.ones(3, 8, 5, device=device)).numpy().std(-1) == 0).all()
    assert repr(one_d) == "Dropout1d(p=0.5)" and repr(nn.AlphaDropout(0.2)) == "AlphaDropout(p=0.2)"
    with pytest.raises(RuntimeError, match="2-D .* or 3-D"):
        F.dropout1d(tg.ones(2, 3, 4, 5), 0.5)
    with pytest.warns(UserWarning, match="2-D input"):         # PyTorch: deprecated, not refused
        F.dropout2d(tg.ones(2, 3), 0.5)
    with pytest.warns(UserWarning, match="3-D input"):
        y = F.dropout2d(tg.ones(30, 40, 5), 0.5)
    assert (y.numpy().std(-1) == 0).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout1d(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.alpha_dropout(tg.ones(2), -0.1, True)


def test_channel_dropout_inplace(device):
    x = tg.ones(2, 3, 4, dtype=tg.float64, device=device)
    y = F.dropout1d(x, 0.5, inplace=True)
    assert y is x
    assert set(np.unique(x.numpy())) <= {0.0, 2.0}


def test_alpha_dropout_values_statistics_and_module(device):
    alpha = 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717
    p = 0.2
    a = 1 / math.sqrt((alpha ** 2 * p + 1) * (1 - p))
    b = a * alpha * p
    rng = np.random.default_rng(9)
    array = rng.standard_normal(200_000)
    x = t(array, device, grad=True)
    assert F.alpha_dropout(x, p) is x                                  # training=False default
    y = F.alpha_dropout(x, p, training=True)
    values = y.numpy()
    kept = np.isclose(values, a * array + b, rtol=0, atol=1e-12)
    dropped = np.isclose(values, -alpha * a + b, rtol=0, atol=1e-12)
    assert (kept | dropped).all()
    assert abs(dropped.mean() - p) < 0.005
    assert abs(values.mean()) < 0.01 and abs(values.std() - 1) < 0.01  # statistics kept
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, a, 0.0))
    np.testing.assert_array_equal(F.alpha_dropout(x, 1.0, True).numpy(), np.zeros_like(array))
    module = nn.AlphaDropout(p)
    assert module(x).numpy().std() > 0.9 and not np.array_equal(module(x).numpy(), array)
    module.eval()
    assert module(x) is x


# --------------------------------------------------------------------- structure and bilinear

def test_unflatten(device):
    x = tg.randn(2, 12, 3, device=device)
    module = nn.Unflatten(1, (2, -1, 3))
    assert module(x).shape == (2, 2, 2, 3, 3)
    np.testing.assert_array_equal(module(x).numpy(), x.numpy().reshape(2, 2, 2, 3, 3))
    assert nn.Unflatten(-1, [3, 1])(x).shape == (2, 12, 3, 1)
    assert repr(module) == "Unflatten(dim=1, unflattened_size=(2, -1, 3))"
    with pytest.raises(ValueError, match="do not multiply up to the size 12"):
        nn.Unflatten(1, (5, 2))(x)
    with pytest.raises(TypeError, match="tuple or list of ints"):
        nn.Unflatten(1, 12)


def test_bilinear_values_gradients_init_and_repr(device):
    rng = np.random.default_rng(10)
    x1, x2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 5))
    weight, bias = rng.standard_normal((6, 4, 5)), rng.standard_normal(6)
    y = F.bilinear(t(x1, device), t(x2, device), t(weight, device), t(bias, device))
    expected = np.einsum("...i,kij,...j->...k", x1, weight, x2) + bias
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    check_gradients(F.bilinear, [t(x1[0], device, grad=True), t(x2[0], device, grad=True),
                                 t(weight[:2], device, grad=True), t(bias[:2], device, grad=True)])
    layer = nn.Bilinear(16, 3, 50, device=device)
    assert layer.weight.shape == (50, 16, 3) and layer.bias.shape == (50,)
    for param in (layer.weight, layer.bias):
        values = param.numpy()
        assert np.abs(values).max() <= 0.25 and np.abs(values).max() > 0.2   # U(±1/√16)
    no_bias = nn.Bilinear(4, 5, 6, bias=False)
    assert no_bias.bias is None and len(list(no_bias.parameters())) == 1
    assert repr(no_bias) == "Bilinear(in1_features=4, in2_features=5, out_features=6, bias=False)"
    with pytest.raises(ValueError, match="same leading dims"):
        F.bilinear(t(x1, device), t(x2[:1], device), t(weight, device))


def test_softmax2d(device):
    rng = np.random.default_rng(11)
    array = rng.standard_normal((2, 3, 2, 2))
    e = np.exp(array)
    np.testing.assert_allclose(nn.Softmax2d()(t(array, device)).numpy(),
                               e / e.sum(1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(nn.Softmax2d()(t(array[0], device)).numpy(),
                               (e / e.sum(1, keepdims=True))[0], rtol=1e-12)
    assert repr(nn.Softmax2d()) == "Softmax2d()"
    with pytest.raises(ValueError, match="3-D .* or 4-D"):
        nn.Softmax2d()(t(array[0, 0], device))


# ----------------------------------------------------------------------------- normalisation

def np_instance_norm(x, eps=1e-5):
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def test_instance_norm_values_and_gradients(device):
    rng = np.random.default_rng(12)
    array = rng.standard_normal((2, 3, 4, 5)) * 3 + 1
    np.testing.assert_allclose(F.instance_norm(t(array, device)).numpy(),
                               np_instance_norm(array), rtol=1e-10, atol=1e-12)
    weight, bias = rng.standard_normal(3), rng.standard_normal(3)
    y = F.instance_norm(t(array, device), weight=t(weight, device), bias=t(bias, device))
    expected = np_instance_norm(array) * weight[:, None, None] + bias[:, None, None]
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    check_gradients(lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
                    [t(array[:, :2, :2, :3], device, grad=True),
                     t(weight[:2], device, grad=True), t(bias[:2], device, grad=True)])
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(t(array[..., :1, :1], device))


def test_instance_norm_modules_running_stats_and_repr(device):
    rng = np.random.default_rng(13)
    array = rng.standard_normal((4, 3, 6)) * 2 + 5
    plain = nn.InstanceNorm1d(3)
    assert plain.weight is None and plain.running_mean is None
    np.testing.assert_allclose(plain(t(array, device)).numpy(), np_instance_norm(array),
                               rtol=1e-10, atol=1e-12)
    unbatched = plain(t(array[0], device))                              # (C, L)
    np.testing.assert_allclose(unbatched.numpy(), np_instance_norm(array[:1])[0], rtol=1e-10)
    tracked = nn.InstanceNorm1d(3, momentum=0.2, affine=True, track_running_stats=True,
                                device=device, dtype=tg.float64)
    tracked(t(array, device))
    mean = array.mean(2).mean(0)
    var = array.var(2, ddof=1).mean(0)
    np.testing.assert_allclose(tracked.running_mean.numpy(), 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(tracked.running_var.numpy(), 0.8 + 0.2 * var, rtol=1e-12)
    tracked.eval()
    running = (array - tracked.running_mean.numpy()[:, None]) / np.sqrt(
        tracked.running_var.numpy()[:, None] + 1e-5)
    np.testing.assert_allclose(tracked(t(array, device)).numpy(), running, rtol=1e-10)
    assert sorted(tracked.state_dict()) == ["bias", "num_batches_tracked", "running_mean",
                                            "running_var", "weight"]
    assert repr(nn.InstanceNorm2d(3)) == ("InstanceNorm2d(3, eps=1e-05, momentum=0.1, "
                                          "affine=False, track_running_stats=False)")
    image = rng.standard_normal((2, 3, 4, 4))
    np.testing.assert_allclose(nn.InstanceNorm2d(3)(t(image, device)).numpy(),
                               np_instance_norm(image), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="3-D or 4-D"):
        nn.InstanceNorm2d(3)(t(array, device)[0])
    with pytest.raises(ValueError, match="match num_features"):
        nn.InstanceNorm1d(5, affine=True)(t(array, device))
    with pytest.warns(UserWarning, match="match num_features"):
        nn.InstanceNorm1d(5)(t(array, device))


def np_local_response_norm(x, size, alpha, beta, k):
    channels = x.shape[1]
    out = np.empty_like(x)
    for c in range(channels):
        low, high = max(0, c - size // 2), min(channels, c + (size - 1) // 2 + 1)
        total = (x[:, low:high] ** 2).sum(1)
        out[:, c] = x[:, c] / (k + alpha / size * total) ** beta
    return out


def test_local_response_norm(device):
    rng = np.random.default_rng(14)
    array = rng.standard_normal((2, 5, 3, 2))
    for size in (1, 2, 3, 4):
        y = F.local_response_norm(t(array, device), size, alpha=0.5, beta=0.75, k=2.0)
        np.testing.assert_allclose(y.numpy(), np_local_response_norm(array, size, 0.5, 0.75,
                                                                     2.0), rtol=1e-12)
    module = nn.LocalResponseNorm(3, alpha=0.1)
    np.testing.assert_allclose(module(t(array[..., 0], device)).numpy(),
                               np_local_response_norm(array[..., 0], 3, 0.1, 0.75, 1.0),
                               rtol=1e-12)
    assert repr(module) == "LocalResponseNorm(3, alpha=0.1, beta=0.75, k=1.0)"
    check_gradients(lambda x: F.local_response_norm(x, 3, 0.5, 0.75, 1.0),
                    [t(array[:1, :, :1, :], device, grad=True)])
    with pytest.raises(ValueError, match="3-D or higher"):
        F.local_response_norm(t(array[0, :, 0], device), 2)


def test_public_names_are_exported():
    import tinygrad_opt.nn.functional_more as functional_more
    import tinygrad_opt.nn.layers_more as layers_more
    for name in functional_more.__all__:
        assert getattr(F, name) is getattr(functional_more, name)
    for name in layers_more.__all__:
        assert getattr(nn, name) is getattr(layers_more, name)
