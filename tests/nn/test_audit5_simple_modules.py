"""Audit of the simple nn modules: the padding modules, Upsample and its two fixed forms,
Flatten/Unflatten, the channel and alpha dropouts, Bilinear, CosineSimilarity,
PairwiseDistance, Identity, Softmax2d, PixelShuffle/PixelUnshuffle/ChannelShuffle and
Fold/Unfold.

Every reference is plain NumPy written from PyTorch's documented formulas; gradients by
gradcheck in float64. The regressions pinned here: dropout2d and dropout3d refusing the
inputs PyTorch takes with a deprecation warning (a 2-D (N, C) input to Dropout2d after a
Flatten; dropout3d reads any input but a 5-D one as unbatched), AlphaDropout and
FeatureAlphaDropout overwriting their input when built with inplace=True (PyTorch's modules
do not pass it on), feature_alpha_dropout refusing a 1-D input even in evaluation, the
padding modules' unnamed TypeError for a non-integer padding, CircularPad's error for an
input of the wrong rank, and Unflatten taking a non-int dim.
"""

import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn

SELU_LIMIT = 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717


def t(array, device="cpu", grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=tg.float64, device=device,
                     requires_grad=grad)


def quietly(function, *args):
    """function(*args) with the warnings it gives: (result, [message, ...])."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*args)
    return result, [str(w.message) for w in caught]


def ratios_per(y, x, leading):
    """y / x grouped by the first ``leading`` dims: each group must be one factor."""
    ratios = (y / x).reshape(int(np.prod(x.shape[:leading])), -1)
    np.testing.assert_allclose(ratios, ratios[:, :1] * np.ones_like(ratios), rtol=1e-12)
    return ratios[:, 0]


# ------------------------------------------------------------------------ channel dropout

def test_dropout2d_takes_other_dims_with_pytorchs_deprecation_warning(device, rng):
    # PyTorch warns ("Received a 2-D input to dropout2d, which is deprecated") and drops each
    # entry of the first two dims: a 2-D (N, C) input is element-wise dropout, 5-D per (n, c).
    x = rng.uniform(0.5, 1.5, (60, 50))
    y, messages = quietly(nn.Dropout2d(0.4), t(x, device))
    assert any("2-D input" in m for m in messages)
    factors = ratios_per(y.numpy(), x, 2)
    assert set(np.round(factors, 12)) == {0.0, round(1 / 0.6, 12)}
    assert abs((factors == 0).mean() - 0.4) < 0.05
    x5 = rng.uniform(0.5, 1.5, (30, 20, 2, 1, 3))
    y5, messages = quietly(F.dropout2d, t(x5, device), 0.5)
    assert any("5-D input" in m for m in messages)
    assert set(np.round(ratios_per(y5.numpy(), x5, 2), 12)) == {0.0, 2.0}   # per (n, c)
    layer = nn.Dropout2d(0.5).eval()
    same = t(x, device)
    assert quietly(layer, same)[0] is same                              # eval: identity
    line = t(x[0], device)
    with pytest.raises(RuntimeError, match="dropout2d: feature dropout needs at least 2"):
        quietly(F.dropout2d, line, 0.5)
    np.testing.assert_array_equal(quietly(F.dropout2d, line, 1.0)[0].numpy(), 0 * x[0])


def test_dropout3d_reads_every_input_but_a_5d_one_as_unbatched(device, rng):
    # PyTorch unsqueezes all but a 5-D input to put a batch of 1 in front: the "channels"
    # are then dim 0 of the input, whole slices of it kept or dropped, with a warning.
    x = rng.uniform(0.5, 1.5, (200, 3, 2))
    y, messages = quietly(nn.Dropout3d(0.3), t(x, device))
    assert any("3-D input" in m for m in messages)
    factors = ratios_per(y.numpy(), x, 1)
    assert set(np.round(factors, 12)) == {0.0, round(1 / 0.7, 12)}
    assert abs((factors == 0).mean() - 0.3) < 0.1
    x6 = rng.uniform(0.5, 1.5, (40, 3, 2, 1, 1, 2))                      # 6-D: per dim 0 only
    y6, _ = quietly(F.dropout3d, t(x6, device), 0.5)
    assert set(np.round(ratios_per(y6.numpy(), x6, 1), 12)) == {0.0, 2.0}
    inplace = t(x, device)
    assert quietly(F.dropout3d, inplace, 0.5, True, True)[0] is inplace
    assert set(np.round(ratios_per(inplace.numpy(), x, 1), 12)) == {0.0, 2.0}
    scalar = t(2.0, device)
    assert quietly(F.dropout3d, scalar, 0.5, False)[0] is scalar
    with pytest.raises(RuntimeError, match="dropout3d: feature dropout"):
        quietly(F.dropout3d, scalar, 0.5)


def test_channel_dropout_gradient_is_its_mask(device, rng):
    x = t(rng.uniform(0.5, 1.5, (6, 5, 2, 2)), device, grad=True)
    for layer in (nn.Dropout2d(0.5), nn.Dropout3d(0.5)):
        x.grad = None
        y, _ = quietly(layer, x)
        y.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), y.numpy() / x.numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- alpha dropout

@pytest.mark.parametrize("cls, leading", [(nn.AlphaDropout, 3), (nn.FeatureAlphaDropout, 2)])
def test_alpha_dropout_modules_never_overwrite_their_input(cls, leading, device, rng):
    # PyTorch's AlphaDropout.forward is F.alpha_dropout(input, self.p, self.training): the
    # inplace flag is stored and printed but not passed on, so the input stays as it was.
    p = 0.3
    a = 1 / math.sqrt((SELU_LIMIT ** 2 * p + 1) * (1 - p))
    b = a * SELU_LIMIT * p
    x = rng.uniform(0.5, 1.5, (30, 20, 3))
    source = t(x, device)
    layer = cls(p, inplace=True)
    y = layer(source).numpy()
    np.testing.assert_array_equal(source.numpy(), x)
    kept = np.isclose(y, a * x + b, rtol=1e-12)
    dropped = np.isclose(y, -a * SELU_LIMIT + b, rtol=1e-12)
    assert np.all(kept | dropped) and kept.any() and dropped.any()
    groups = kept.reshape(int(np.prod(x.shape[:leading])), -1)
    assert np.all(groups.all(axis=1) | ~groups.any(axis=1))
    assert repr(layer) == f"{cls.__name__}(p=0.3, inplace=True)"


def test_feature_alpha_dropout_asks_for_two_dims_only_when_it_drops(device, rng):
    # PyTorch returns the input in evaluation (and for p = 0) and zeros for p = 1 before
    # make_feature_noise checks for an (N, C, *) input.
    x = t(rng.standard_normal(5), device)
    assert F.feature_alpha_dropout(x, 0.5, training=False) is x
    assert nn.FeatureAlphaDropout(0.5).eval()(x) is x
    assert F.feature_alpha_dropout(x, 0.0, training=True) is x
    np.testing.assert_array_equal(F.feature_alpha_dropout(x, 1.0, True).numpy(), np.zeros(5))
    with pytest.raises(RuntimeError, match="feature_alpha_dropout: .*at least 2"):
        F.feature_alpha_dropout(x, 0.5, training=True)


# --------------------------------------------------------------------------------- padding

def np_pad(x, pad, mode, value=0.0):
    """PyTorch's F.pad in NumPy: pad pairs from the last dim; reflect and replicate read the
    whole input (then a negative amount crops), circular crops first and then wraps."""
    for k in range(len(pad) // 2):
        axis = x.ndim - 1 - k
        before, after = pad[2 * k], pad[2 * k + 1]
        size = x.shape[axis]
        if mode in ("constant", "circular"):
            x = np.take(x, np.arange(max(-before, 0), size - max(-after, 0)), axis)
            widths = [(0, 0)] * x.ndim
            widths[axis] = (max(before, 0), max(after, 0))
            x = (np.pad(x, widths, "constant", constant_values=value) if mode == "constant"
                 else np.pad(x, widths, "wrap"))
        else:
            widths = [(0, 0)] * x.ndim
            widths[axis] = (max(before, 0), max(after, 0))
            x = np.pad(x, widths, {"reflect": "reflect", "replicate": "edge"}[mode])
            x = np.take(x, np.arange(max(-before, 0), x.shape[axis] - max(-after, 0)), axis)
    return x


@pytest.mark.parametrize("cls, padding, shape", [
    (nn.ReflectionPad1d, (2, -1), (3, 4)),                      # unbatched (C, W)
    (nn.ReplicationPad2d, (-1, 2, 1, 0), (2, 3, 4)),            # unbatched (C, H, W)
    (nn.CircularPad2d, (1, -1, 0, 2), (1, 2, 3, 3)),
    (nn.CircularPad3d, 1, (2, 2, 3, 2)),                        # unbatched (C, D, H, W)
    (nn.ReflectionPad3d, (1, 0, 0, 1, 1, -1), (1, 1, 3, 2, 3)),
    (nn.ZeroPad1d, (-1, 3), (5,)),                              # constant: any rank
])
def test_padding_modules_match_numpy_and_gradcheck(cls, padding, shape, device, rng):
    x = rng.standard_normal(shape)
    layer = cls(padding)
    np.testing.assert_array_equal(layer(t(x, device)).numpy(),
                                  np_pad(x, layer.padding, layer.mode))
    assert tg.gradcheck(layer, [t(x, device, grad=True)])


def test_constant_pad_values_and_reprs(device, rng):
    x = rng.standard_normal((2, 3, 2))
    layer = nn.ConstantPad2d((1, 0, -1, 2), 3.5)
    np.testing.assert_array_equal(layer(t(x, device)).numpy(),
                                  np_pad(x, (1, 0, -1, 2), "constant", 3.5))
    assert repr(layer) == "ConstantPad2d(padding=(1, 0, -1, 2), value=3.5)"
    assert repr(nn.ZeroPad3d(1)) == "ZeroPad3d((1, 1, 1, 1, 1, 1))" and nn.ZeroPad3d(1).value == 0
    with pytest.raises(ValueError, match=r"reflect padding \(3, 3\) must be smaller"):
        nn.ReflectionPad1d(3)(t(x, device))


def test_padding_modules_name_themselves_for_a_non_integer_padding():
    with pytest.raises(TypeError, match="ZeroPad2d: padding must be an int or a tuple of 4"):
        nn.ZeroPad2d(2.0)
    with pytest.raises(TypeError, match="ReflectionPad1d: padding must be .* got \\(1.5, 1\\)"):
        nn.ReflectionPad1d((1.5, 1))
    # any iterable of integers is a padding, as PyTorch's _pair/_quadruple read it
    assert nn.ConstantPad1d(np.array([1, 2]), 0.0).padding == (1, 2)
    assert nn.ReplicationPad1d(amount for amount in (0, 3)).padding == (0, 3)


def test_circular_pad_modules_check_the_input_rank_themselves():
    # PyTorch's _CircularPadNd._check_input_dim: ValueError "expected 2D or 3D input"
    with pytest.raises(ValueError, match=r"CircularPad1d: expected a 2-D or 3-D input"):
        nn.CircularPad1d(1)(tg.zeros(1, 1, 2, 3))
    with pytest.raises(ValueError, match=r"CircularPad3d: expected a 4-D or 5-D input"):
        nn.CircularPad3d(1)(tg.zeros(2, 3, 3))


# ------------------------------------------------------------------------------ resampling

def np_linear_weights(in_size, out_size, align_corners, scale=None):
    """(out, in) interpolation matrix of PyTorch's linear modes
    (area_pixel_compute_source_index, the source index clamped at 0)."""
    out = np.arange(out_size, dtype=np.float64)
    if align_corners:
        source = out * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    else:
        ratio = 1 / scale if scale is not None else in_size / out_size
        source = np.maximum((out + 0.5) * ratio - 0.5, 0.0)
    low = np.minimum(np.floor(source).astype(int), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    weights = np.zeros((out_size, in_size))
    weights[np.arange(out_size), low] += 1 - (source - low)
    weights[np.arange(out_size), high] += source - low
    return weights


def test_upsampling_bilinear2d_aligns_corners_for_size_and_scale_factor(device, rng):
    x = rng.standard_normal((2, 3, 3, 4))
    for layer, (oh, ow) in ((nn.UpsamplingBilinear2d(size=(5, 7)), (5, 7)),
                            (nn.UpsamplingBilinear2d(scale_factor=1.5), (4, 6))):
        expected = np.einsum("oh,nchw,pw->ncop", np_linear_weights(3, oh, True), x,
                             np_linear_weights(4, ow, True))
        np.testing.assert_allclose(layer(t(x, device)).numpy(), expected, rtol=1e-12)
    assert tg.gradcheck(nn.UpsamplingBilinear2d(size=(4, 5)), [t(x[:1, :1], grad=True)])
    assert repr(nn.UpsamplingBilinear2d(scale_factor=2)) == \
        "UpsamplingBilinear2d(scale_factor=2.0, mode='bilinear')"


def test_upsample_recompute_scale_factor_and_nearest(device, rng):
    # scale 1.7 of 3 gives 5 outputs; without recompute the source index uses 1/1.7,
    # with it 3/5 (PyTorch's recompute_scale_factor).
    x = rng.standard_normal((1, 2, 3))
    for recompute, scale in ((None, 1.7), (True, None)):
        layer = nn.Upsample(scale_factor=1.7, mode="linear", recompute_scale_factor=recompute)
        expected = np.einsum("ncl,ol->nco", x, np_linear_weights(3, 5, False, scale))
        np.testing.assert_allclose(layer(t(x, device)).numpy(), expected, rtol=1e-12)
    nearest = nn.UpsamplingNearest2d(size=(3, 5))(t(x[:, :, :2, None] * np.ones(2), device))
    rows, cols = np.floor(np.arange(3) * 2 / 3).astype(int), np.floor(np.arange(5) * 2 / 5)
    np.testing.assert_array_equal(
        nearest.numpy(), (x[:, :, :2, None] * np.ones(2))[:, :, rows][..., cols.astype(int)])
    assert repr(nn.Upsample(size=(4, 5), mode="bilinear")) == \
        "Upsample(size=(4, 5), mode='bilinear')"


# ------------------------------------------------------------------------------- structure

def test_flatten_and_unflatten(device, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    flat = nn.Flatten(1, -2)(t(x, device))
    np.testing.assert_array_equal(flat.numpy(), x.reshape(2, 12, 5))
    back = nn.Unflatten(-2, (3, -1))(flat)
    np.testing.assert_array_equal(back.numpy(), x)
    assert nn.Flatten(0)(t(1.5)).shape == (1,)                           # 0-D: one entry
    assert nn.Flatten()(t(np.zeros((0, 3, 2)))).shape == (0, 6)
    assert repr(nn.Unflatten(1, (2, 2))) == "Unflatten(dim=1, unflattened_size=(2, 2))"
    with pytest.raises(ValueError, match="Unflatten: sizes"):
        nn.Unflatten(1, (5, -1))(flat)
    with pytest.raises(TypeError, match="Unflatten: dim must be an int, got 1.0"):
        nn.Unflatten(1.0, (2, 3))


def test_identity_ignores_its_arguments(device):
    x = t([1.0, 2.0], device)
    layer = nn.Identity(54, unused_argument1=0.1, unused_argument2=False)
    assert layer(x) is x and repr(layer) == "Identity()" and not list(layer.parameters())


# ------------------------------------------------------------------------------- bilinear

def test_bilinear_values_shapes_init_and_gradient(device, rng):
    tg.manual_seed(3)
    layer = nn.Bilinear(20, 3, 4, dtype=tg.float64, device=device)
    weight, bias = layer.weight.numpy(), layer.bias.numpy()
    bound = 1 / math.sqrt(20)                                 # 1/√in1_features, as PyTorch
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert np.abs(bias).max() <= bound
    x1, x2 = rng.standard_normal((2, 5, 20)), rng.standard_normal((2, 5, 3))
    expected = np.einsum("...i,kij,...j->...k", x1, weight, x2) + bias
    np.testing.assert_allclose(layer(t(x1, device), t(x2, device)).numpy(), expected,
                               rtol=1e-12)
    one = layer(t(x1[0, 0], device), t(x2[0, 0], device))           # unbatched
    np.testing.assert_allclose(one.numpy(), expected[0, 0], rtol=1e-12)
    plain = nn.Bilinear(2, 3, 4, bias=False, dtype=tg.float64)
    assert plain.bias is None and "bias=False" in repr(plain)
    assert tg.gradcheck(plain, [t(rng.standard_normal((3, 2)), grad=True),
                                t(rng.standard_normal((3, 3)), grad=True)])


# ---------------------------------------------------------------- distances and Softmax2d

def test_distance_modules_defaults(device, rng):
    x1, x2 = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    norms = np.maximum(np.linalg.norm(x1, axis=1), 1e-8) * np.maximum(
        np.linalg.norm(x2, axis=1), 1e-8)
    np.testing.assert_allclose(nn.CosineSimilarity()(t(x1, device), t(x2, device)).numpy(),
                               (x1 * x2).sum(1) / norms, rtol=1e-12)      # dim=1
    distance = nn.PairwiseDistance()(t(x1, device), t(x2, device)).numpy()
    np.testing.assert_allclose(distance, np.linalg.norm(x1 - x2 + 1e-6, axis=-1), rtol=1e-12)
    assert nn.PairwiseDistance(keepdim=True)(t(x1), t(x2)).shape == (3, 4, 1)
    assert repr(nn.CosineSimilarity()) == "CosineSimilarity()"


def test_softmax2d_on_3d_and_4d_inputs(device, rng):
    for shape in ((3, 2, 4), (2, 3, 2, 4)):
        x = rng.standard_normal(shape)
        e = np.exp(x - x.max(-3, keepdims=True))
        np.testing.assert_allclose(nn.Softmax2d()(t(x, device)).numpy(),
                                   e / e.sum(-3, keepdims=True), rtol=1e-12)
    with pytest.raises(ValueError, match="Softmax2d: expected a 3-D"):
        nn.Softmax2d()(t(np.zeros((2, 3))))
    assert tg.gradcheck(nn.Softmax2d(), [t(rng.standard_normal((2, 2, 3)), grad=True)])


# ------------------------------------------------------------------------------ shuffles

def test_shuffle_modules_follow_their_index_formulas(device, rng):
    r = 2
    x = rng.standard_normal((2, 1, 3 * r * r, 2, 3))                   # two batch dims
    y = nn.PixelShuffle(r)(t(x, device)).numpy()
    expected = np.empty((2, 1, 3, 2 * r, 3 * r))
    for c, h, w, i, j in np.ndindex(3, 2, 3, r, r):  # y[c, hr + i, wr + j] = x[cr² + ir + j, h, w]
        expected[..., c, h * r + i, w * r + j] = x[..., c * r * r + i * r + j, h, w]
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(nn.PixelUnshuffle(r)(t(y, device)).numpy(), x)
    channels = rng.standard_normal((2, 6, 2))
    shuffled = nn.ChannelShuffle(3)(t(channels, device)).numpy()     # (g, C/g) -> (C/g, g)
    order = np.arange(6).reshape(3, 2).T.ravel()
    np.testing.assert_array_equal(shuffled, channels[:, order])
    assert [repr(m) for m in (nn.PixelShuffle(2), nn.PixelUnshuffle(3), nn.ChannelShuffle(2))] \
        == ["PixelShuffle(upscale_factor=2)", "PixelUnshuffle(downscale_factor=3)",
            "ChannelShuffle(groups=2)"]


def test_fold_and_unfold_modules(device, rng):
    x = rng.standard_normal((2, 3, 4))                                  # unbatched (C, H, W)
    columns = nn.Unfold((2, 3), padding=(1, 0), stride=(2, 1))(t(x, device)).numpy()
    padded = np.pad(x, ((0, 0), (1, 1), (0, 0)))
    expected = np.stack([padded[:, a:a + 2, b:b + 3].reshape(-1)
                         for a in range(0, 3, 2) for b in range(2)], axis=-1)
    np.testing.assert_array_equal(columns, expected)
    fold = nn.Fold((3, 4), (2, 3), padding=(1, 0), stride=(2, 1))
    image = fold(t(expected, device)).numpy()
    counts = np.zeros((1, 5, 4))                       # the windows covering each padded pixel
    for a in range(0, 3, 2):
        for b in range(2):
            counts[:, a:a + 2, b:b + 3] += 1
    np.testing.assert_allclose(image, x * counts[:, 1:4], rtol=1e-12)
    assert repr(fold) == ("Fold(output_size=(3, 4), kernel_size=(2, 3), dilation=1, "
                          "padding=(1, 0), stride=(2, 1))")
