"""The last nn pieces of nn/functional_extra.py and nn/layers_extra.py: fractional max
pooling, 3-D power pooling and unpooling, the in-place activations, the deprecated upsample
names, AdaptiveLogSoftmaxWithLoss, SyncBatchNorm, RNNBase and LazyConv3d.

References are NumPy loops written here (PyTorch's fractional interval formula, window
maxima, power sums, a plain log-softmax); gradients by float64 gradcheck. No new Function
subclass: every form is a composition of existing ops, so there is no op table.
"""

import itertools

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


def t(array, device, grad=False, dtype=tg.float64):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=grad)


def ints(array, device):
    return tg.tensor(np.asarray(array, dtype=np.int64), device=device)


# ----------------------------------------------------------------------- fractional max pooling

def fractional_starts(u, size, out, kernel, real=float):
    """PyTorch's generate_intervals, one plane, in the arithmetic type ``real``."""
    starts = []
    if out > 1:
        alpha = real(size - kernel) / real(out - 1)
        for i in range(out - 1):
            starts.append(int((real(i) + u) * alpha) - int(u * alpha))
    starts.append(size - kernel)
    return starts


def fractional_reference(x, kernel, out, samples, real=float):
    """Window loops: the first strict maximum of each window and its flat index."""
    N, C, H, W = x.shape
    (kh, kw), (OH, OW) = kernel, out
    y = np.zeros((N, C, OH, OW))
    where = np.zeros((N, C, OH, OW), dtype=np.int64)
    for n, c in itertools.product(range(N), range(C)):
        start_w = fractional_starts(samples[n, c, 0], W, OW, kw, real)
        start_h = fractional_starts(samples[n, c, 1], H, OH, kh, real)
        for i, j in itertools.product(range(OH), range(OW)):
            best, best_index = -np.inf, None
            for a, b in itertools.product(range(kh), range(kw)):
                h, w = start_h[i] + a, start_w[j] + b
                if x[n, c, h, w] > best:
                    best, best_index = x[n, c, h, w], h * W + w
            y[n, c, i, j], where[n, c, i, j] = best, best_index
    return y, where


@pytest.mark.parametrize("shape, kernel, out", [((2, 3, 9, 7), (2, 2), (4, 5)),
                                                 ((1, 2, 8, 8), (3, 2), (5, 3)),
                                                 ((1, 1, 5, 6), (2, 3), (1, 4))])
def test_fractional_max_pool2d_matches_the_interval_loop(device, rng, shape, kernel, out):
    x = rng.normal(size=shape)
    samples = rng.uniform(size=shape[:2] + (2,))
    y, indices = F.fractional_max_pool2d(t(x, device), kernel, output_size=out,
                                         return_indices=True,
                                         _random_samples=t(samples, device))
    expected, where = fractional_reference(x, kernel, out, samples)
    np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), where)
    assert indices.dtype == np.int64


def test_fractional_max_pool2d_float32_runs_the_intervals_in_float32(device, rng):
    x = rng.normal(size=(1, 2, 11, 13))
    samples = rng.uniform(size=(1, 2, 2)).astype(np.float32)
    y, indices = F.fractional_max_pool2d(t(x, device, dtype=tg.float32), 3, output_size=(4, 6),
                                         return_indices=True,
                                         _random_samples=t(samples, device, dtype=tg.float32))
    expected, where = fractional_reference(x.astype(np.float32), (3, 3), (4, 6), samples,
                                           real=np.float32)
    np.testing.assert_array_equal(indices.numpy(), where)
    np.testing.assert_array_equal(y.numpy(), expected.astype(np.float32))


def test_fractional_max_pool2d_gradient_goes_to_each_window_maximum(device, rng):
    x = rng.normal(size=(2, 2, 7, 6))
    samples = rng.uniform(size=(2, 2, 2))
    xt = t(x, device, grad=True)
    y, indices = F.fractional_max_pool2d(xt, 2, output_size=(4, 3), return_indices=True,
                                         _random_samples=t(samples, device))
    weights = rng.normal(size=y.shape)
    (y * t(weights, device)).sum().backward()
    expected = np.zeros((2, 2, 42))
    for n, c in itertools.product(range(2), range(2)):
        np.add.at(expected[n, c], indices.numpy()[n, c].ravel(), weights[n, c].ravel())
    np.testing.assert_allclose(xt.grad.numpy(), expected.reshape(x.shape))
    assert tg.gradcheck(lambda a: F.fractional_max_pool2d(
        a, 2, output_size=(4, 3), _random_samples=t(samples, device)), [t(x, device, True)])


def test_fractional_max_pool2d_output_ratio_unbatched_and_seeded_draws(device, rng):
    x = rng.normal(size=(3, 10, 9))
    tg.manual_seed(3)
    y = F.fractional_max_pool2d(t(x, device), 2, output_ratio=0.5)
    assert y.shape == (3, 5, 4)                                   # ⌊10·0.5⌋, ⌊9·0.5⌋
    tg.manual_seed(3)
    np.testing.assert_array_equal(F.fractional_max_pool2d(t(x, device), 2, output_ratio=0.5)
                                  .numpy(), y.numpy())
    samples = rng.uniform(size=(1, 3, 2))
    unbatched = F.fractional_max_pool2d(t(x, device), 2, output_size=(5, 4),
                                        _random_samples=t(samples, device))
    expected, _ = fractional_reference(x[None], (2, 2), (5, 4), samples)
    np.testing.assert_array_equal(unbatched.numpy(), expected[0])
    values, indices = F.fractional_max_pool2d_with_indices(
        t(x, device), 2, (5, 4), _random_samples=t(samples, device))
    np.testing.assert_array_equal(values.numpy(), expected[0])
    assert indices.shape == (3, 5, 4)


def test_fractional_max_pool2d_module_and_unpool_round_trip(device, rng):
    x = rng.normal(size=(1, 2, 8, 8))
    samples = t(rng.uniform(size=(1, 2, 2)), device)
    pool = nn.FractionalMaxPool2d(2, output_size=4, return_indices=True,
                                  _random_samples=samples)
    assert "_random_samples" in dict(pool.named_buffers())
    y, indices = pool(t(x, device))
    back = F.max_unpool2d(y, indices, 2, output_size=(8, 8))      # maxima back in place
    kept = back.numpy().reshape(1, 2, 64)
    np.testing.assert_array_equal(np.take_along_axis(kept, indices.numpy().reshape(1, 2, -1),
                                                     2), y.numpy().reshape(1, 2, -1))
    assert "output_size=(4, 4)" in repr(pool)


def test_fractional_max_pool2d_errors(device):
    x = tg.zeros((1, 1, 6, 6), device=device)
    with pytest.raises(ValueError, match="either an output_size or an output_ratio"):
        F.fractional_max_pool2d(x, 2)
    with pytest.raises(ValueError, match="pool height 3 too large relative to input height 6"):
        F.fractional_max_pool2d(x, 3, output_size=(5, 2))
    with pytest.raises(ValueError, match=r"_random_samples must have shape \(1, 1, 2\)"):
        F.fractional_max_pool2d(x, 2, output_size=3, _random_samples=tg.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="expected a 4-D or 3-D input"):
        F.fractional_max_pool2d(tg.zeros((6, 6), device=device), 2, output_size=3)
    with pytest.raises(ValueError, match="only one of output_size and output_ratio"):
        nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5)
    with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
        nn.FractionalMaxPool2d(2, output_ratio=1.5)
    with pytest.raises(ValueError, match="either an output size, or a pooling ratio"):
        nn.FractionalMaxPool2d(2)


# ---------------------------------------------------------------------- 3-D power pooling

def lp3d_reference(x, p, k, s):
    N, C, D, H, W = x.shape
    out = [(size - kk) // ss + 1 for size, kk, ss in zip((D, H, W), k, s)]
    y = np.zeros((N, C, *out))
    for od, oh, ow in itertools.product(*map(range, out)):
        window = x[:, :, od * s[0]:od * s[0] + k[0], oh * s[1]:oh * s[1] + k[1],
                   ow * s[2]:ow * s[2] + k[2]]
        y[:, :, od, oh, ow] = (window ** p).sum(axis=(2, 3, 4)) ** (1 / p)
    return y


@pytest.mark.parametrize("p, k, s", [(2, (2, 2, 2), None), (3, (2, 3, 1), (1, 2, 1)),
                                      (1.5, 2, 1)])
def test_lp_pool3d_matches_the_window_sums(device, rng, p, k, s):
    x = rng.uniform(0.2, 1.5, size=(2, 2, 4, 5, 3))
    y = F.lp_pool3d(t(x, device), p, k, s)
    k3 = (k,) * 3 if isinstance(k, int) else k
    s3 = k3 if s is None else ((s,) * 3 if isinstance(s, int) else s)
    np.testing.assert_allclose(y.numpy(), lp3d_reference(x, p, k3, s3), rtol=1e-12)
    layer = nn.LPPool3d(p, k, s)
    np.testing.assert_allclose(layer(t(x[0], device)).numpy(), lp3d_reference(x, p, k3, s3)[0],
                               rtol=1e-12)
    assert tg.gradcheck(lambda a: F.lp_pool3d(a, p, k, s), [t(x[:1], device, True)])


# -------------------------------------------------------------------------- 3-D unpooling

def test_max_unpool3d_round_trip_with_max_pool3d(device, rng):
    x = rng.normal(size=(2, 3, 4, 6, 4))
    pooled, indices = F.max_pool3d(t(x, device), 2, return_indices=True)
    back = F.max_unpool3d(pooled, indices, 2)
    assert back.shape == x.shape
    expected = np.zeros((2, 3, 96))
    np.put_along_axis(expected, indices.numpy().reshape(2, 3, -1), pooled.numpy().reshape(2, 3, -1),
                      2)
    np.testing.assert_array_equal(back.numpy(), expected.reshape(x.shape))
    # the maxima are back at their places, so pooling again gives the same values
    np.testing.assert_array_equal(F.max_pool3d(back, 2).numpy(), pooled.numpy())
    layer = nn.MaxUnpool3d(2)
    np.testing.assert_array_equal(layer(pooled, indices).numpy(), back.numpy())
    unbatched = F.max_unpool3d(pooled[0], indices[0], 2)
    np.testing.assert_array_equal(unbatched.numpy(), back.numpy()[0])
    assert tg.gradcheck(lambda a: F.max_unpool3d(a, indices, 2), [t(pooled.numpy(), device, True)])


def test_max_unpool3d_output_size_stride_and_errors(device, rng):
    x = rng.normal(size=(1, 1, 5, 5, 5))
    pooled, indices = F.max_pool3d(t(x, device), 3, stride=2, return_indices=True)
    back = F.max_unpool3d(pooled, indices, 3, stride=2, output_size=(5, 5, 5))
    assert back.shape == (1, 1, 5, 5, 5)
    np.testing.assert_array_equal(back.numpy().ravel()[indices.numpy().ravel()],
                                  pooled.numpy().ravel())
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool3d(pooled, indices, 3, stride=2, output_size=(9, 9, 9))
    with pytest.raises(ValueError, match="invalid max index"):
        F.max_unpool3d(pooled, indices + 1000, 3, stride=2)
    with pytest.raises(RuntimeError, match="elements in indices should be type int64"):
        F.max_unpool3d(pooled, pooled, 3, stride=2)
    with pytest.raises(ValueError, match="max_unpool3d: expected a 5-D or 4-D input"):
        F.max_unpool3d(pooled[0, 0, 0], indices[0, 0, 0], 3)


# ---------------------------------------------------------------------- in-place activations

IN_PLACE = [
    ("relu_", (), lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    ("leaky_relu_", (0.2,), lambda x: np.where(x > 0, x, 0.2 * x),
     lambda x: np.where(x > 0, 1.0, 0.2)),
    ("elu_", (0.7,), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1)),
     lambda x: np.where(x > 0, 1.0, 0.7 * np.exp(x))),
    ("hardtanh_", (-0.5, 0.8), lambda x: np.clip(x, -0.5, 0.8),
     lambda x: ((x > -0.5) & (x < 0.8)) * 1.0),
    ("threshold_", (0.3, -2.0), lambda x: np.where(x > 0.3, x, -2.0), lambda x: (x > 0.3) * 1.0),
]


@pytest.mark.parametrize("name, args, value, slope", IN_PLACE, ids=[row[0] for row in IN_PLACE])
def test_in_place_activation_values_and_gradients(device, rng, name, args, value, slope):
    x = rng.normal(size=(3, 4))
    leaf = t(x, device, grad=True)
    hidden = leaf * 2.0                                            # a non-leaf
    result = getattr(F, name)(hidden, *args)
    assert result is hidden                                        # in place: x itself
    np.testing.assert_allclose(hidden.numpy(), value(2 * x), rtol=1e-12)
    upstream = rng.normal(size=x.shape)
    (hidden * t(upstream, device)).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), 2 * slope(2 * x) * upstream, rtol=1e-12)
    out_of_place = {"relu_": F.relu, "leaky_relu_": F.leaky_relu, "elu_": F.elu,
                    "hardtanh_": F.hardtanh, "threshold_": F.threshold}[name]
    other = t(x, device, grad=True)
    (out_of_place(other * 2.0, *args) * t(upstream, device)).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), other.grad.numpy())


@pytest.mark.parametrize("name, args", [(row[0], row[1]) for row in IN_PLACE])
def test_in_place_activation_refuses_a_leaf_that_requires_grad(device, name, args):
    leaf = t([[-1.0, 2.0]], device, grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(F, name)(leaf, *args)
    with tg.no_grad():                                             # allowed there
        assert getattr(F, name)(leaf, *args) is leaf


def test_hardtanh_in_place_with_an_inverted_range_is_clamp(device):
    # PyTorch's hardtanh_ is clamp_(min_val, max_val), unchecked: min_val > max_val gives
    # max_val everywhere.
    x = t([1.0, -3.0, 0.5], device)
    assert F.hardtanh_(x, 1, 0) is x
    np.testing.assert_array_equal(x.numpy(), np.minimum(np.maximum([1.0, -3.0, 0.5], 1), 0))


# -------------------------------------------------------------------- deprecated upsample names

def test_upsample_aliases_warn_and_equal_interpolate(device, rng):
    x = t(rng.normal(size=(1, 2, 3, 4)), device)
    with pytest.warns(UserWarning, match="upsample is deprecated"):
        y = F.upsample(x, scale_factor=2, mode="bilinear")
    np.testing.assert_array_equal(y.numpy(), F.interpolate(x, scale_factor=2,
                                                           mode="bilinear").numpy())
    with pytest.warns(UserWarning, match="upsample_nearest is deprecated"):
        y = F.upsample_nearest(x, size=(6, 8))
    np.testing.assert_array_equal(y.numpy(), x.numpy().repeat(2, axis=2).repeat(2, axis=3))
    corners = t([[[[0.0, 2.0], [4.0, 6.0]]]], device)
    with pytest.warns(UserWarning, match="upsample_bilinear is deprecated"):
        y = F.upsample_bilinear(corners, size=3)
    # align_corners=True: the corners stay, the centre is the mean of the four
    np.testing.assert_allclose(y.numpy()[0, 0], [[0, 1, 2], [2, 3, 4], [4, 5, 6]])


# ----------------------------------------------------------------- AdaptiveLogSoftmaxWithLoss

def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def asm_reference(module, x):
    """Every class's log-probability from the weights, by the head/tail formula."""
    head = x @ module.head.weight.numpy().T
    if module.head.bias is not None:
        head = head + module.head.bias.numpy()
    head = log_softmax(head)
    columns = [head[:, :module.shortlist_size]]
    for i, projection in enumerate(module.tail):
        hidden = x @ projection[0].weight.numpy().T
        columns.append(log_softmax(hidden @ projection[1].weight.numpy().T)
                       + head[:, module.shortlist_size + i:module.shortlist_size + i + 1])
    return np.concatenate(columns, axis=1)


def asm(device, head_bias=False):
    return nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 9, 15], div_value=2.0,
                                         head_bias=head_bias).double().to(device)


def test_adaptive_log_softmax_layout_and_parameter_names():
    module = nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 9, 15], div_value=2.0, head_bias=True)
    shapes = {name: p.shape for name, p in module.named_parameters()}
    assert shapes == {"head.weight": (7, 16), "head.bias": (7,),
                      "tail.0.0.weight": (8, 16), "tail.0.1.weight": (5, 8),
                      "tail.1.0.weight": (4, 16), "tail.1.1.weight": (6, 4),
                      "tail.2.0.weight": (2, 16), "tail.2.1.weight": (5, 2)}
    assert module.cutoffs == [4, 9, 15, 20] and module.head_size == 7


def test_adaptive_log_softmax_output_loss_log_prob_and_predict(device, rng):
    module = asm(device, head_bias=True)
    x = rng.normal(size=(12, 16))
    target = np.array([0, 3, 4, 8, 9, 14, 15, 19, 2, 11, 17, 5])
    output, loss = module(t(x, device), ints(target, device))
    log_prob = module.log_prob(t(x, device)).numpy()
    np.testing.assert_allclose(log_prob, asm_reference(module, x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.exp(log_prob).sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(output.numpy(), log_prob[np.arange(12), target], rtol=1e-12)
    np.testing.assert_allclose(loss.item(), -log_prob[np.arange(12), target].mean(), rtol=1e-12)
    np.testing.assert_array_equal(module.predict(t(x, device)).numpy(), log_prob.argmax(axis=1))
    # push some rows' head argmax into the clusters: predict must look inside the tails
    with tg.no_grad():
        module.head.bias.data[...] = t([0, 0, 0, 0, 6.0, 0, 6.0], device).data
    log_prob = module.log_prob(t(x, device)).numpy()
    prediction = module.predict(t(x, device)).numpy()
    assert (prediction >= 4).any()
    np.testing.assert_array_equal(prediction, log_prob.argmax(axis=1))
    single_output, single_loss = module(t(x[0], device), ints(target[0], device))
    assert single_output.shape == () and single_loss.shape == ()
    assert module.log_prob(t(x[0], device)).shape == (20,)
    assert module.predict(t(x[0], device)).shape == ()


def test_adaptive_log_softmax_gradients(device, rng):
    module = asm(device)
    x = rng.normal(size=(6, 16))
    target = ints([1, 5, 12, 16, 19, 7], device)
    _, loss = module(t(x, device), target)
    loss.backward()
    by_forward = {name: p.grad.numpy() for name, p in module.named_parameters()}
    module.zero_grad()
    # the same loss read off log_prob (every tail on every row): same gradients
    log_prob = module.log_prob(t(x, device))
    (-log_prob[np.arange(6), target.numpy()].mean()).backward()
    for name, p in module.named_parameters():
        np.testing.assert_allclose(by_forward[name], p.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert tg.gradcheck(lambda a: module(a, target).loss, [t(x, device, True)])


def test_adaptive_log_softmax_errors(device):
    with pytest.raises(ValueError, match="cutoffs should be a sequence of length larger than 0"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [])
    for cutoffs in ([5, 3], [0, 4], [4, 10], [3, 3]):
        with pytest.raises(ValueError, match="unique, positive integers sorted"):
            nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs)
    module = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4]).to(device)
    x = tg.zeros((3, 8), device=device)
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 9\]"):
        module(x, ints([0, 10, 2], device))
    with pytest.raises(RuntimeError, match="same size in the batch dimension"):
        module(x, ints([0, 1], device))
    with pytest.raises(RuntimeError, match="multi-target not supported"):
        module(x, ints([[0]], device))
    with pytest.raises(ValueError, match=r"expected an input of shape \(N, 8\)"):
        module.log_prob(tg.zeros((3, 7), device=device))


# --------------------------------------------------------------------------- SyncBatchNorm

def test_sync_batch_norm_normalises_any_rank(device, rng):
    for shape in [(4, 3), (2, 3, 5), (2, 3, 2, 3, 2)]:
        x = rng.normal(2.0, 3.0, size=shape)
        layer = nn.SyncBatchNorm(3).double().to(device)
        y = layer(t(x, device)).numpy()
        axes = tuple(d for d in range(len(shape)) if d != 1)
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-12)
        n = x.size // 3
        np.testing.assert_allclose(layer.running_mean.numpy(), 0.1 * mean.ravel(), rtol=1e-12)
        np.testing.assert_allclose(layer.running_var.numpy(),
                                   0.9 + 0.1 * var.ravel() * n / (n - 1), rtol=1e-12)
    with pytest.raises(ValueError, match="expected at least 2D input"):
        nn.SyncBatchNorm(3)(tg.zeros(3, device=device))
    with pytest.raises(ValueError, match="has 4 channels"):
        nn.SyncBatchNorm(3)(tg.zeros((2, 4), device=device))


def test_convert_sync_batchnorm_keeps_parameters_and_statistics(device, rng):
    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3),
                          nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.BatchNorm1d(4)))
    model = model.double().to(device)
    x = t(rng.normal(size=(5, 2, 2, 2)), device)
    model(x)                                           # running statistics move
    model.eval()
    before = model(x).numpy()
    bn2d, bn1d = model[1], model[2][2]
    keys = list(model.state_dict())
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert list(converted.state_dict()) == keys                   # same names, same order
    assert type(converted[1]) is nn.SyncBatchNorm and type(converted[2][2]) is nn.SyncBatchNorm
    assert converted[1].weight is bn2d.weight and converted[2][2].bias is bn1d.bias
    assert converted[1].running_mean is bn2d.running_mean
    assert converted[1].num_batches_tracked.item() == 1 and not converted[1].training
    np.testing.assert_array_equal(converted(x).numpy(), before)
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(4))
    assert type(single) is nn.SyncBatchNorm


# --------------------------------------------------------------------- RNNBase, LazyConv3d

def test_rnn_base_is_the_common_base():
    for layer in (nn.RNN(3, 4), nn.LSTM(3, 4, num_layers=2), nn.GRU(3, 4)):
        assert isinstance(layer, nn.RNNBase)
    lstm = nn.LSTM(3, 4, num_layers=2)
    assert (lstm.mode, lstm.input_size, lstm.hidden_size, lstm.num_layers) == ("LSTM", 3, 4, 2)
    base = nn.RNNBase("GRU", 3, 5)
    assert base.weight_ih_l0.shape == (15, 3)


def test_lazy_conv3d_reads_in_channels_and_becomes_conv3d(device, rng):
    layer = nn.LazyConv3d(4, 2, padding=1).to(device)
    x = t(rng.normal(size=(2, 3, 3, 4, 3)), device, dtype=tg.float32)
    y = layer(x)
    assert type(layer) is nn.Conv3d and layer.in_channels == 3
    assert layer.weight.shape == (4, 3, 2, 2, 2)
    np.testing.assert_allclose(y.numpy(), F.conv3d(x, layer.weight, layer.bias,
                                                   padding=1).numpy())
