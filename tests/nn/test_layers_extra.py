"""nn/functional_extra.py and nn/layers_extra.py: rms_norm, fold/unfold modules, LP pooling,
max pooling with indices and max_unpool, channel shuffle, gumbel softmax, embedding bag,
adaptive max 1-D and 3-D pooling, and the CTC loss.

Values are compared with independent NumPy written here (explicit window loops, bag loops,
and for CTC a brute-force sum over every alignment of a tiny input); gradients with float64
gradcheck (and gradgradcheck where smooth) on the cpu and strict devices. No new Function
subclass: every form is a composition, so there is no ``EXTRA_NN_OPS`` table.
"""

import itertools
import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import backend, nn


def t(array, device, grad=False, dtype=tg.float64):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=grad)


def ints(array, device):
    return tg.tensor(np.asarray(array, dtype=np.int64), device=device)


def check_gradients(fn, inputs, second=True):
    assert tg.gradcheck(fn, inputs)
    if second:
        assert tg.gradgradcheck(fn, inputs)


def windows_2d(x, k, s, p=(0, 0), d=(1, 1), pad_value=0.0):
    """Reference im2col by loops: (N, C, H, W) -> (N, C, OH, OW, kh·kw) and the flat index
    (or −1 for padding) of every window element."""
    N, C, H, W = x.shape
    OH = (H + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    OW = (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    values = np.full((N, C, OH, OW, k[0] * k[1]), pad_value)
    where = np.full((OH, OW, k[0] * k[1]), -1)
    for oh, ow, i, j in itertools.product(range(OH), range(OW), range(k[0]), range(k[1])):
        h, w = oh * s[0] + i * d[0] - p[0], ow * s[1] + j * d[1] - p[1]
        if 0 <= h < H and 0 <= w < W:
            values[:, :, oh, ow, i * k[1] + j] = x[:, :, h, w]
            where[oh, ow, i * k[1] + j] = h * W + w
    return values, where


# ------------------------------------------------------------------------------------- rms_norm

def test_rms_norm_values_default_eps_and_gradients(device, rng):
    x = rng.normal(size=(2, 3, 4))
    gamma = rng.normal(size=(3, 4))
    y = F.rms_norm(t(x, device), (3, 4), t(gamma, device), eps=1e-3)
    expected = x / np.sqrt((x ** 2).mean(axis=(1, 2), keepdims=True) + 1e-3) * gamma
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    # eps=None is the dtype's machine epsilon: visible on an all-zero-but-tiny row
    tiny = np.full((1, 4), 1e-9)
    y32 = F.rms_norm(t(tiny, device, dtype=tg.float32), 4)
    eps32 = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(y32.numpy(), tiny / np.sqrt(1e-18 + eps32), rtol=1e-5)
    y64 = F.rms_norm(t(tiny, device), 4)
    np.testing.assert_allclose(y64.numpy(), tiny / np.sqrt(1e-18 + np.finfo(np.float64).eps))
    check_gradients(lambda a, g: F.rms_norm(a, 4, g, 1e-2),
                    [t(x[0], device, True), t(gamma[0], device, True)])


def test_rms_norm_errors():
    with pytest.raises(ValueError, match="does not end with normalized_shape"):
        F.rms_norm(tg.zeros(2, 3), (2,))
    with pytest.raises(ValueError, match="weight of shape"):
        F.rms_norm(tg.zeros(2, 3), 3, tg.ones(2))
    with pytest.raises(TypeError, match="rms_norm: expected a floating-point input, got int64"):
        F.rms_norm(tg.tensor([[1, 2, 3]]), 3)


def test_rms_norm_module_parameters_repr_and_forward(device, rng):
    layer = nn.RMSNorm([2, 3], eps=1e-4, device=device, dtype=tg.float64)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert list(layer.state_dict()) == ["weight"]
    assert layer.weight.shape == (2, 3) and layer.weight.dtype == tg.float64
    np.testing.assert_array_equal(layer.weight.numpy(), np.ones((2, 3)))
    assert repr(layer) == "RMSNorm((2, 3), eps=0.0001, elementwise_affine=True)"
    x = rng.normal(size=(4, 2, 3))
    expected = x / np.sqrt((x ** 2).mean(axis=(1, 2), keepdims=True) + 1e-4)
    np.testing.assert_allclose(layer(t(x, device)).numpy(), expected, rtol=1e-12)
    bare = nn.RMSNorm(3, elementwise_affine=False)
    assert bare.weight is None and list(bare.parameters()) == [] and bare.eps is None
    assert nn.RMSNorm(3).weight.dtype == tg.float32


# ---------------------------------------------------------------------------------- fold, unfold

def test_fold_and_unfold_modules_match_loops(device, rng):
    x = rng.normal(size=(2, 2, 4, 5))
    unfold = nn.Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=(2, 1))
    cols = unfold(t(x, device))
    values, _ = windows_2d(x, (2, 3), (2, 1), (1, 1))                    # (N, C, OH, OW, K)
    N, C, OH, OW, K = values.shape
    expected = values.transpose(0, 1, 4, 2, 3).reshape(N, C * K, OH * OW)
    np.testing.assert_allclose(cols.numpy(), expected)
    assert repr(unfold) == "Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=(2, 1))"
    fold = nn.Fold(output_size=(4, 5), kernel_size=(2, 3), padding=1, stride=(2, 1))
    assert repr(fold) == ("Fold(output_size=(4, 5), kernel_size=(2, 3), dilation=1, "
                          "padding=1, stride=(2, 1))")
    # fold(unfold(x)) multiplies each pixel by the number of windows that cover it
    _, where = windows_2d(x[:1, :1], (2, 3), (2, 1), (1, 1))
    counts = np.bincount(where[where >= 0], minlength=20).reshape(4, 5)
    np.testing.assert_allclose(fold(cols).numpy(), x * counts)
    assert list(fold.parameters()) == []


# ------------------------------------------------------------------------------------ LP pooling

@pytest.mark.parametrize("p", [2, 3.0, 1.5])
def test_lp_pool2d_matches_numpy_and_gradcheck(p, device, rng):
    x = rng.uniform(0.5, 2.0, size=(1, 2, 5, 4))
    y = F.lp_pool2d(t(x, device), p, (2, 3), stride=(2, 1))
    values, _ = windows_2d(x, (2, 3), (2, 1))
    np.testing.assert_allclose(y.numpy(), (values ** p).sum(-1) ** (1 / p), rtol=1e-12)
    check_gradients(lambda a: F.lp_pool2d(a, p, 2), [t(x[:, :1], device, True)])
    module = nn.LPPool2d(p, 2)
    assert repr(module) == f"LPPool2d(norm_type={p}, kernel_size=2, stride=None, ceil_mode=False)"
    np.testing.assert_allclose(module(t(x, device)).numpy(),
                               F.lp_pool2d(t(x, device), p, 2, 2).numpy())


def test_lp_pool1d_matches_numpy_unbatched_and_gradcheck(device, rng):
    x = rng.normal(size=(2, 3, 7))
    y = F.lp_pool1d(t(x, device), 2, 3, stride=2)                        # windows 0-2, 2-4, 4-6
    expected = np.stack([np.sqrt((x[..., i:i + 3] ** 2).sum(-1)) for i in (0, 2, 4)], -1)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(nn.LPPool1d(2, 3, 2)(t(x[0], device)).numpy(), expected[0])
    check_gradients(lambda a: F.lp_pool1d(a, 2, 2), [t(x[:1], device, True)])
    # an odd p with a negative window sum: the root of a negative number is NaN, as PyTorch
    with np.errstate(invalid="ignore"):
        negative = F.lp_pool1d(t([[[-1.0, -2.0]]], device), 3, 2)
    assert np.isnan(negative.numpy()).all()


def test_lp_pool_ceil_mode_keeps_the_last_partial_window_as_pytorch(device):
    """PyTorch: avg_pool(x^p, ceil_mode=True) · k, then the root: a partial window's
    mean is over its elements only (no padding), then times the full window size."""
    x = np.arange(1.0, 6.0).reshape(1, 1, 5) / 2                  # 0.5 ... 2.5
    got = F.lp_pool1d(t(x, device), 2, 2, ceil_mode=True)
    windows = [x[0, 0, 0:2], x[0, 0, 2:4], x[0, 0, 4:5]]           # the last holds one
    expected = [np.sqrt(np.mean(w ** 2) * 2) for w in windows]
    np.testing.assert_allclose(got.numpy()[0, 0], expected, rtol=1e-6)
    module = nn.LPPool1d(2, 2, ceil_mode=True)
    np.testing.assert_allclose(module(t(x, device)).numpy(), got.numpy())
    image = t(np.arange(25.0).reshape(1, 1, 5, 5), device)
    assert F.lp_pool2d(image, 1, 2, ceil_mode=True).shape == (1, 1, 3, 3)


def test_lp_pool_errors():
    with pytest.raises(ValueError, match="lp_pool1d: expected a 3-D or 2-D input"):
        F.lp_pool1d(tg.ones(4), 2, 2)


# ------------------------------------------------------------------- max pooling with indices

@pytest.mark.parametrize("k, s, p, d", [((2, 2), (2, 2), (0, 0), (1, 1)),
                                        ((3, 2), (1, 2), (1, 1), (1, 1)),
                                        ((2, 2), (1, 1), (1, 0), (2, 2))])
def test_max_pool2d_with_indices_matches_loops(k, s, p, d, device, rng):
    x = rng.permutation(2 * 3 * 5 * 6).reshape(2, 3, 5, 6) * 0.1 - 9.0
    y, indices = F.max_pool2d_with_indices(t(x, device), k, s, p, d)
    values, where = windows_2d(x, k, s, p, d, pad_value=-np.inf)
    best = values.argmax(-1)                                             # (N, C, OH, OW)
    np.testing.assert_array_equal(y.numpy(), values.max(-1))
    assert indices.dtype == tg.int64 and indices.device == device
    expected = np.take_along_axis(np.broadcast_to(where, values.shape), best[..., None],
                                  -1)[..., 0]
    np.testing.assert_array_equal(indices.numpy(), expected)
    np.testing.assert_array_equal(y.numpy(), F.max_pool2d(t(x, device), k, s, p, d).numpy())


def test_max_pool_with_indices_gradient_goes_to_the_first_maximum(device):
    x = t([[[[1.0, 3.0], [3.0, 0.0]]]], device, True)
    y, indices = F.max_pool2d_with_indices(x, 2)
    assert indices.numpy().item() == 1                                  # the first of the tie
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0.0, 1.0], [0.0, 0.0]]]])
    distinct = np.array([5, 1, 9, 3, 0, 7, 2, 11, 8, 4, 10, 6.0]).reshape(1, 1, 3, 4)
    check_gradients(lambda a: F.max_pool2d_with_indices(a, 2, 1)[0], [t(distinct, device, True)])


def test_max_pool1d_with_indices_and_unpool1d(device, rng):
    x = rng.permutation(2 * 2 * 9).reshape(2, 2, 9) * 1.0
    y, indices = F.max_pool1d_with_indices(t(x, device), 3, 2, 1)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1)), constant_values=-np.inf)
    windows = np.stack([padded[..., o * 2:o * 2 + 3] for o in range(5)], 2)  # (N, C, 5, 3)
    np.testing.assert_array_equal(y.numpy(), windows.max(-1))
    np.testing.assert_array_equal(indices.numpy(), windows.argmax(-1) + np.arange(5) * 2 - 1)
    unpooled = F.max_unpool1d(y, indices, 3, 2, 1)                       # (5 − 1)·2 − 2 + 3 = 9
    expected = np.zeros((2, 2, 9))
    np.put_along_axis(expected, indices.numpy(), y.numpy(), -1)
    np.testing.assert_array_equal(unpooled.numpy(), expected)
    full = nn.MaxUnpool1d(3, 2, 1)(y, indices, output_size=(2, 2, 10))
    assert full.shape == (2, 2, 10) and repr(nn.MaxUnpool1d(3, 2, 1)) == (
        "MaxUnpool1d(kernel_size=(3,), stride=(2,), padding=(1,))")
    y0, i0 = F.max_pool1d_with_indices(t(x[0], device), 3, 2, 1)         # unbatched (C, L)
    np.testing.assert_array_equal(i0.numpy(), indices.numpy()[0])
    assert F.max_unpool1d(y0, i0, 3, 2, 1).shape == (2, 9)


def test_max_unpool2d_inverts_pooling_and_gradcheck(device, rng):
    x = rng.permutation(48).reshape(1, 3, 4, 4) * 0.5
    y, indices = F.max_pool2d_with_indices(t(x, device), 2)
    unpool = nn.MaxUnpool2d(2)
    assert repr(unpool) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    out = unpool(y, indices)
    # each 2×2 block keeps its maximum where it was, zeros elsewhere
    blocks = x.reshape(1, 3, 2, 2, 2, 2)
    is_max = blocks == blocks.max(axis=(3, 5), keepdims=True)
    np.testing.assert_array_equal(out.numpy(), np.where(is_max, blocks, 0).reshape(x.shape))
    assert unpool(y, indices, output_size=(5, 5)).shape == (1, 3, 5, 5)
    check_gradients(lambda v: F.max_unpool2d(v, indices, 2), [t(y.numpy(), device, True)])


def test_max_unpool_errors(device):
    y, indices = F.max_pool2d_with_indices(t(np.arange(16.0).reshape(1, 1, 4, 4), device), 2)
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool2d(y, indices, 2, output_size=(6, 4))
    with pytest.raises(ValueError, match="invalid max index 19"):
        F.max_unpool2d(y, indices + 4, 2, output_size=(3, 3))
    with pytest.raises(RuntimeError, match="elements in indices should be type int64"):
        F.max_unpool2d(y, y, 2)
    values, where = F.max_pool2d_with_indices(y, 2, ceil_mode=True)   # (the plain one's)
    same_values, same_where = F.max_pool2d(y, 2, ceil_mode=True, return_indices=True)
    assert where.numpy().tolist() == same_where.numpy().tolist()


# ----------------------------------------------------------------------------- adaptive pools

def bins(size, out):
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def test_adaptive_max_pool1d_and_3d_pools_match_loops(device, rng):
    x = rng.normal(size=(2, 3, 7))
    expected = np.stack([x[..., a:b].max(-1) for a, b in bins(7, 3)], -1)
    np.testing.assert_allclose(F.adaptive_max_pool1d(t(x, device), 3).numpy(), expected)
    module = nn.AdaptiveMaxPool1d(3)
    assert repr(module) == "AdaptiveMaxPool1d(output_size=3)"
    np.testing.assert_allclose(module(t(x[0], device)).numpy(), expected[0])
    v = rng.normal(size=(1, 2, 5, 4, 3))
    sizes = (2, None, 2)
    for name, reduce in (("AdaptiveAvgPool3d", np.mean), ("AdaptiveMaxPool3d", np.max)):
        out = getattr(nn, name)(sizes)(t(v, device)).numpy()
        expected = np.empty((1, 2, 2, 4, 2))
        for (i, (a, b)), (j, (c, e)), (k, (f, g)) in itertools.product(
                enumerate(bins(5, 2)), enumerate(bins(4, 4)), enumerate(bins(3, 2))):
            expected[..., i, j, k] = reduce(v[..., a:b, c:e, f:g], axis=(-3, -2, -1))
        np.testing.assert_allclose(out, expected, rtol=1e-12)
    check_gradients(lambda a: F.adaptive_avg_pool3d(a, 2), [t(v[:, :1, :3], device, True)])
    values, indices = nn.AdaptiveMaxPool3d(sizes, return_indices=True)(t(v, device))
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-12)  # (indices: test_nn_
    assert indices.dtype == np.int64 and indices.shape == expected.shape  # surface_more.py)
    with pytest.raises(ValueError, match="adaptive_avg_pool3d: expected a 5-D or 4-D"):
        F.adaptive_avg_pool3d(tg.ones(2, 3, 4), 2)


# ---------------------------------------------------------------------------- channel shuffle

def test_channel_shuffle_values_module_and_errors(device, rng):
    x = rng.normal(size=(2, 6, 2, 1))
    y = nn.ChannelShuffle(3)(t(x, device))
    order = [0, 2, 4, 1, 3, 5]                                           # c = g·2 + j -> j·3 + g
    np.testing.assert_array_equal(y.numpy(), x[:, order])
    assert repr(nn.ChannelShuffle(3)) == "ChannelShuffle(groups=3)"
    check_gradients(lambda a: F.channel_shuffle(a, 2) * a, [t(x[:1, :4], device, True)])
    with pytest.raises(ValueError, match="not divisible by groups 4"):
        F.channel_shuffle(t(x, device), 4)
    with pytest.raises(ValueError, match="at least 3 dims"):
        F.channel_shuffle(t(x[0, :, 0, 0], device), 2)


# ----------------------------------------------------------------------------- gumbel softmax

def test_gumbel_softmax_uses_the_seeded_generator(device, rng):
    logits = rng.normal(size=(3, 4))
    tg.manual_seed(7)
    uniform = backend.to_host(backend.random_uniform((3, 4), backend.float64, device))
    gumbels = -np.log(-np.log1p(-uniform))
    tg.manual_seed(7)
    y = F.gumbel_softmax(t(logits, device), tau=0.5)
    z = (logits + gumbels) / 0.5
    expected = np.exp(z - z.max(-1, keepdims=True))
    np.testing.assert_allclose(y.numpy(), expected / expected.sum(-1, keepdims=True),
                               rtol=1e-12)


def test_gumbel_softmax_hard_is_one_hot_with_the_soft_gradient(device, rng):
    logits = t(rng.normal(size=(2, 5, 3)), device, True)
    weights = t(rng.normal(size=(2, 5, 3)), device)
    tg.manual_seed(3)
    hard = F.gumbel_softmax(logits, hard=True, dim=1)
    tg.manual_seed(3)
    soft = F.gumbel_softmax(logits, dim=1)
    values = hard.numpy()
    assert set(np.unique(values)) <= {0.0, 1.0}
    np.testing.assert_array_equal(values.sum(1), np.ones((2, 3)))
    np.testing.assert_array_equal(values.argmax(1), soft.numpy().argmax(1))
    (hard_grad,) = tg.grad((hard * weights).sum(), [logits])
    (soft_grad,) = tg.grad((soft * weights).sum(), [logits])
    np.testing.assert_allclose(hard_grad.numpy(), soft_grad.numpy(), rtol=1e-12)


def test_gumbel_softmax_samples_follow_the_softmax():
    logits = tg.tensor(np.log(np.array([[0.2, 0.5, 0.3]])).repeat(20000, 0))
    picks = F.gumbel_softmax(logits, tau=1.0, hard=True).numpy().mean(0)
    np.testing.assert_allclose(picks, [0.2, 0.5, 0.3], atol=0.015)
    with pytest.raises(ValueError, match="tau must be positive"):
        F.gumbel_softmax(logits, tau=0.0)


# ------------------------------------------------------------------------------ embedding bag

def ref_embedding_bag(weight, bags, mode, weights=None, padding_idx=None):
    out = np.zeros((len(bags), weight.shape[1]))
    for b, bag in enumerate(bags):
        scales = np.ones(len(bag)) if weights is None else np.asarray(weights[b])
        kept = [(i, w) for i, w in zip(bag, scales) if i != padding_idx]
        if not kept:
            continue
        rows = np.array([weight[i] * w for i, w in kept])
        out[b] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[mode]
    return out


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_with_offsets_matches_loops(mode, device, rng):
    weight = rng.normal(size=(6, 3))
    flat = [1, 2, 4, 4, 3, 0, 5, 2]
    offsets = [0, 3, 3, 6]                                # bags: [1 2 4] [] [4 3 0] [5 2]
    bags = [flat[0:3], [], flat[3:6], flat[6:]]
    y = F.embedding_bag(ints(flat, device), t(weight, device), ints(offsets, device), mode=mode)
    np.testing.assert_allclose(y.numpy(), ref_embedding_bag(weight, bags, mode), rtol=1e-12)
    last = F.embedding_bag(ints(flat, device), t(weight, device), ints(offsets + [8], device),
                           mode=mode, include_last_offset=True)
    np.testing.assert_allclose(last.numpy(), y.numpy())
    padded = F.embedding_bag(ints(flat, device), t(weight, device), ints(offsets, device),
                             mode=mode, padding_idx=4)
    np.testing.assert_allclose(padded.numpy(), ref_embedding_bag(weight, bags, mode,
                                                                 padding_idx=4), rtol=1e-12)
    check_gradients(lambda w: F.embedding_bag(ints(flat, device), w, ints(offsets, device),
                                               mode=mode, padding_idx=4),
                    [t(weight, device, True)], second=mode != "max")


def test_embedding_bag_2d_and_per_sample_weights(device, rng):
    weight = rng.normal(size=(5, 2))
    index = [[0, 3, 3], [4, 1, 2]]
    scales = rng.normal(size=(2, 3))
    y = F.embedding_bag(ints(index, device), t(weight, device), mode="sum",
                        per_sample_weights=t(scales, device))
    np.testing.assert_allclose(y.numpy(), ref_embedding_bag(weight, index, "sum", scales))
    mean = F.embedding_bag(ints(index, device), t(weight, device))      # mode='mean' default
    np.testing.assert_allclose(mean.numpy(), ref_embedding_bag(weight, index, "mean"))
    check_gradients(lambda w, s: F.embedding_bag(ints(index, device), w, mode="sum",
                                                 per_sample_weights=s),
                    [t(weight, device, True), t(scales, device, True)])


def test_embedding_bag_errors(device):
    weight = t(np.ones((4, 2)), device)
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(ints([[0, 1]], device), weight, per_sample_weights=t([[1, 1]], device))
    with pytest.raises(ValueError, match="offsets must be None for a 2-D input"):
        F.embedding_bag(ints([[0, 1]], device), weight, ints([0], device))
    with pytest.raises(ValueError, match="offsets has to be a 1-D tensor"):
        F.embedding_bag(ints([0, 1], device), weight)
    with pytest.raises(ValueError, match="must start at 0"):
        F.embedding_bag(ints([0, 1], device), weight, ints([1], device))
    with pytest.raises(IndexError, match="index 4 is out of range for 4"):
        F.embedding_bag(ints([0, 4], device), weight, ints([0], device))
    with pytest.raises(ValueError, match="mode must be"):
        nn.EmbeddingBag(4, 2, mode="min")
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.EmbeddingBag(4, 2, sparse=True)


def test_embedding_bag_module(device, rng):
    bag = nn.EmbeddingBag(5, 3, mode="sum", padding_idx=-1, device=device, dtype=tg.float64)
    assert list(bag.state_dict()) == ["weight"] and bag.weight.shape == (5, 3)
    np.testing.assert_array_equal(bag.weight.numpy()[4], np.zeros(3))
    assert bag.padding_idx == 4
    assert repr(bag) == "EmbeddingBag(5, 3, mode='sum', padding_idx=4)"
    assert repr(nn.EmbeddingBag(5, 3)) == "EmbeddingBag(5, 3, mode='mean')"
    weight = bag.weight.numpy()
    y = bag(ints([1, 4, 2, 3], device), ints([0, 2], device))
    np.testing.assert_allclose(y.numpy(), [weight[1], weight[2] + weight[3]])
    y.sum().backward()
    np.testing.assert_array_equal(bag.weight.grad.numpy(), [[0] * 3] + [[1] * 3] * 3 + [[0] * 3])
    frozen = nn.EmbeddingBag.from_pretrained(t(rng.normal(size=(3, 2)), device), mode="max")
    assert not frozen.weight.requires_grad and frozen.mode == "max"


# ---------------------------------------------------------------------------------------- CTC

def collapse(path, blank):
    out = []
    for i, c in enumerate(path):
        if c != blank and (i == 0 or c != path[i - 1]):
            out.append(c)
    return out


def brute_force_ctc(log_probs, target, blank=0):
    """−log Σ over every path of length T (C^T of them) that collapses to target, and its
    gradient with respect to log_probs (the expected count of each (t, c) on those paths)."""
    T, C = log_probs.shape
    total, grad = 0.0, np.zeros((T, C))
    for path in itertools.product(range(C), repeat=T):
        if collapse(path, blank) == list(target):
            probability = np.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
            total += probability
            for t, c in enumerate(path):
                grad[t, c] += probability
    if total == 0:
        return math.inf, grad
    return -np.log(total), -grad / total


def log_softmax(z):
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


CASES = [  # (T, target): repeats, target length 0, a full-length target, an impossible one
    (5, [1, 2]), (5, [1, 1]), (4, []), (3, [2, 1, 2]), (4, [1, 1, 1])]


def test_ctc_loss_matches_brute_force_values_and_gradients(device, rng):
    logits = rng.normal(size=(5, len(CASES), 3))
    lp = log_softmax(logits)
    lengths = [T for T, _ in CASES]
    targets = [target for _, target in CASES]
    padded = np.zeros((len(CASES), 3), dtype=np.int64)
    for n, target in enumerate(targets):
        padded[n, :len(target)] = target
    log_probs = t(lp, device, True)
    losses = F.ctc_loss(log_probs, ints(padded, device), lengths, [len(s) for s in targets],
                        reduction="none")
    reference = [brute_force_ctc(lp[:T, n], target) for n, (T, target) in enumerate(CASES)]
    np.testing.assert_allclose(losses.numpy(), [loss for loss, _ in reference], rtol=1e-10)
    assert losses.numpy()[-1] == math.inf                   # [1, 1, 1] needs T ≥ 5
    losses[:-1].sum().backward()
    expected = np.zeros_like(lp)
    for n, (T, _) in enumerate(CASES[:-1]):
        expected[:T, n] = reference[n][1]
    np.testing.assert_allclose(log_probs.grad.numpy(), expected, atol=1e-12)


def test_ctc_loss_reductions_targets_layouts_and_module(device, rng):
    lp = log_softmax(rng.normal(size=(4, 2, 4)))
    targets, lengths = [[3, 1, 3], [2]], [4, 3]
    reference = np.array([brute_force_ctc(lp[:T, n], s)[0] for n, (T, s) in
                          enumerate(zip(lengths, targets))])
    padded = ints([[3, 1, 3], [2, 0, 0]], device)
    concatenated = ints([3, 1, 3, 2], device)
    for layout in (padded, concatenated):
        loss = F.ctc_loss(t(lp, device), layout, ints(lengths, device), ints([3, 1], device))
        np.testing.assert_allclose(loss.numpy(), (reference / [3, 1]).mean(), rtol=1e-10)
    module = nn.CTCLoss(blank=0, reduction="sum")
    assert repr(module) == "CTCLoss(blank=0, reduction='sum', zero_infinity=False)"
    np.testing.assert_allclose(module(t(lp, device), padded, lengths, [3, 1]).numpy(),
                               reference.sum(), rtol=1e-10)
    # blank elsewhere than 0, and an unbatched (T, C) input
    single = F.ctc_loss(t(lp[:, 0], device), ints([1, 0], device), 4, 2, blank=3,
                        reduction="none")
    np.testing.assert_allclose(single.numpy(), brute_force_ctc(lp[:, 0], [1, 0], blank=3)[0])


def test_ctc_loss_zero_infinity(device, rng):
    lp = t(log_softmax(rng.normal(size=(2, 2, 3))), device, True)
    loss = F.ctc_loss(lp, ints([[1, 1], [1, 2]], device), [2, 2], [2, 2], reduction="none",
                      zero_infinity=True)
    assert loss.numpy()[0] == 0.0 and np.isfinite(loss.numpy()[1])
    loss.sum().backward()
    np.testing.assert_array_equal(lp.grad.numpy()[:, 0], np.zeros((2, 3)))
    assert F.ctc_loss(lp, ints([[1, 1], [1, 2]], device), [2, 2], [2, 2]).numpy() == math.inf


def test_ctc_loss_gradcheck_through_log_softmax(device, rng):
    logits = t(rng.normal(size=(4, 2, 3)), device, True)
    targets = ints([[1, 2], [2, 0]], device)

    def loss(z):
        return F.ctc_loss(z.log_softmax(-1), targets, [4, 3], [2, 1])
    check_gradients(loss, [logits])


def test_ctc_loss_errors(device):
    lp = t(np.log(np.full((3, 1, 3), 1 / 3)), device)
    with pytest.raises(ValueError, match="other than the blank 0"):
        F.ctc_loss(lp, ints([[0, 1]], device), [3], [2])
    with pytest.raises(ValueError, match=r"input_lengths \[4\] must lie in \[0, T = 3\]"):
        F.ctc_loss(lp, ints([[2, 1]], device), [4], [2])
    with pytest.raises(ValueError, match="one entry per batch element"):
        F.ctc_loss(lp, ints([[2, 1]], device), [3, 3], [2])
    with pytest.raises(ValueError, match="reduction must be"):
        nn.CTCLoss(reduction="batchmean")
    with pytest.raises(ValueError, match="blank 5 must be a class index"):
        F.ctc_loss(lp, ints([[2, 1]], device), [3], [2], blank=5)
