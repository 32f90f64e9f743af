"""Audit of random sampling and the dropout family against PyTorch's documented behaviour.

Reference values are written independently in NumPy (exact probabilities, moments of
the distributions); statistics use seeded large samples with tolerances of several
standard errors. Regressions first, then the behaviour checked and pinned.
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn as nn
import tinygrad_opt.nn.functional as F


class _FixedUniform:
    """A stand-in ``tg.Generator`` whose uniform draws are all ``value`` (a legal draw
    of [0, 1)), to reach the edge of an inverse-transform sampler deterministically."""

    def __init__(self, value):
        self.numpy_rng = self
        self.value = value

    def uniform(self, low=0.0, high=1.0, size=None):
        return np.full(size, self.value)


# ------------------------------------------------------------------ regressions

def test_multinomial_with_replacement_stays_in_range_for_the_largest_uniform_draw():
    # Ten weights of 0.1: their running sum ends at 0.9999999999999999, their pairwise
    # sum at 1.0. The cdf used to be divided by the latter, and u = 1 − 2⁻⁵³ (a legal
    # draw) then passed every entry: index 11, out of range for 11 categories (and the
    # zero-weight category 10 was reachable too).
    weights = tg.tensor([0.1] * 10 + [0.0], dtype=tg.float64)
    largest = np.nextafter(1.0, 0.0)
    picks = tg.multinomial(weights, 3, replacement=True,
                           generator=_FixedUniform(largest)).numpy()
    np.testing.assert_array_equal(picks, [9, 9, 9])   # the last category of positive weight
    rows = tg.multinomial(tg.stack([weights, weights]), 2, True,
                          generator=_FixedUniform(largest)).numpy()
    np.testing.assert_array_equal(rows, [[9, 9], [9, 9]])


def test_multinomial_without_replacement_never_draws_a_zero_weight_next_to_a_tiny_one():
    # A subnormal float64 weight made Exp(1)/w overflow to inf, tying with the zero
    # weights' inf key: the zero-weight category 0 was drawn ~98% of the time.
    weights = tg.tensor([[0.0, 1e-310, 1.0]] * 400, dtype=tg.float64)
    picks = tg.multinomial(weights, 2).numpy()                      # (400, 2)
    assert not (picks == 0).any()
    assert (np.sort(picks, axis=1) == [1, 2]).all()


def test_random_refuses_a_from_below_an_integer_dtype_instead_of_wrapping():
    # PyTorch: "from is out of bounds for int8". It used to wrap: values far above `to`.
    with pytest.raises(ValueError, match=r"random_: .* int8 \(\[-128, 127\]\).* from=-1000"):
        tg.zeros(10, dtype=tg.int8).random_(-1000, 5)
    with pytest.raises(ValueError, match="int32"):
        tg.zeros(3, dtype=tg.int32).random_(-2 ** 40, 5)
    values = tg.zeros(4000, dtype=tg.int8).random_(-128, -120).numpy()   # the edge is fine
    assert values.min() == -128 and values.max() == -121


def test_randperm_refuses_an_n_its_dtype_cannot_hold_exactly():
    # PyTorch: "n cannot be greater than 2049 for Half type"; an int8 n − 1 > 127 overflows;
    # bool is not implemented. These used to return rounded or wrapped duplicates.
    half = tg.randperm(2049, dtype=tg.float16).numpy().astype(np.int64)
    np.testing.assert_array_equal(np.sort(half), np.arange(2049))
    with pytest.raises(ValueError, match="randperm: n=2050 is too large for dtype float16"):
        tg.randperm(2050, dtype=tg.float16)
    np.testing.assert_array_equal(np.sort(tg.randperm(128, dtype=tg.int8).numpy()),
                                  np.arange(128))
    with pytest.raises(ValueError, match="n=129 .* int8"):
        tg.randperm(129, dtype=tg.int8)
    with pytest.raises(TypeError, match="bool"):
        tg.randperm(2, dtype=tg.bool)


# ------------------------------------------------------------------ multinomial

def _chi_square(counts, probabilities):
    expected = counts.sum() * probabilities
    keep = expected > 0
    return (((counts - expected) ** 2)[keep] / expected[keep]).sum()


def test_multinomial_with_replacement_follows_unnormalised_weights(device):
    weights = np.array([0.0, 2.0, 0.0, 5.0, 3.0])                 # sums to 10
    picks = tg.multinomial(tg.tensor(weights, device=device), 50000, True)
    assert picks.dtype == tg.int64 and picks.shape == (50000,) and picks.device == device
    counts = np.bincount(picks.numpy(), minlength=5)
    assert counts[0] == counts[2] == 0                            # zero weight: never
    assert _chi_square(counts, weights / weights.sum()) < 20       # 2 dof: p ≈ 5e-5


def test_multinomial_without_replacement_draws_distinct_categories_in_draw_order(device):
    w = np.array([1.0, 2.0, 3.0, 4.0])
    rows = 40000
    picks = tg.multinomial(tg.tensor(np.tile(w, (rows, 1)), device=device), 2).numpy()
    assert picks.shape == (rows, 2) and (picks[:, 0] != picks[:, 1]).all()
    p = w / w.sum()
    second = np.array([sum(p[i] * w[j] / (w.sum() - w[i]) for i in range(4) if i != j)
                       for j in range(4)])                        # exact, by hand
    assert _chi_square(np.bincount(picks[:, 0], minlength=4), p) < 25
    assert _chi_square(np.bincount(picks[:, 1], minlength=4), second) < 25
    one_d = tg.multinomial(tg.tensor(w), 4).numpy()
    np.testing.assert_array_equal(np.sort(one_d), np.arange(4))


@pytest.mark.parametrize("weights, samples, replacement", [
    ([1.0, 2.0], 3, False),                                       # more than categories
    ([0.0, 1.0, 0.0], 2, False),                                  # more than positives
    ([[1.0, 1.0], [0.0, 0.0]], 1, True),                          # a row of zeros
    ([1.0, -0.5], 1, True), ([1.0, math.inf], 1, True), ([1.0, math.nan], 1, True),
    ([[[1.0]]], 1, True), (1.0, 1, True), ([1.0, 2.0], 0, True),
])
def test_multinomial_refuses_bad_weights_or_counts(weights, samples, replacement):
    with pytest.raises(ValueError, match="multinomial"):
        tg.multinomial(tg.tensor(weights), samples, replacement)


# ------------------------------------------------------------ bernoulli, normal, poisson

def test_bernoulli_tensor_and_float_p(device):
    p = tg.tensor(np.tile([0.0, 0.25, 0.9, 1.0], (20000, 1)), device=device)
    draws = tg.bernoulli(p)
    assert draws.dtype == p.dtype and draws.device == device and not draws.requires_grad
    mean = draws.numpy().mean(axis=0)
    assert mean[0] == 0 and mean[3] == 1
    np.testing.assert_allclose(mean[1:3], [0.25, 0.9], atol=0.015)  # > 4 standard errors
    ones = tg.bernoulli(tg.full((40000,), 7.0, dtype=tg.float64), p=0.3)  # input's values unused
    assert ones.dtype == tg.float64 and abs(ones.numpy().mean() - 0.3) < 0.01
    for bad in (lambda: tg.bernoulli(tg.tensor([0.5, 1.5])),
                lambda: tg.bernoulli(tg.tensor([-0.1])), lambda: tg.bernoulli(tg.zeros(2), p=2.0),
                lambda: tg.bernoulli(tg.tensor([math.nan]))):
        with pytest.raises(ValueError, match="bernoulli"):
            bad()


def test_normal_overloads_broadcast_and_match_their_moments(device):
    mean = tg.tensor([[0.0], [10.0]], dtype=tg.float64, device=device)       # (2, 1)
    std = tg.tensor([1.0, 3.0, 0.0], dtype=tg.float64, device=device)        # (3,)
    many = np.stack([tg.normal(mean, std).numpy() for _ in range(4000)])     # (4000, 2, 3)
    np.testing.assert_allclose(many.mean(0), [[0, 0, 0], [10, 10, 10]], atol=0.2)
    np.testing.assert_allclose(many.std(0), [[1, 3, 0], [1, 3, 0]], atol=0.12)
    assert tg.normal(mean).shape == (2, 1) and tg.normal(mean).device == device
    assert tg.normal(2.0, std).shape == (3,)
    numbers = tg.normal(5.0, 2.0, (200000,), dtype=tg.float64).numpy()
    assert numbers.dtype == np.float64
    assert abs(numbers.mean() - 5) < 0.02 and abs(numbers.std() - 2) < 0.02
    assert tg.normal(0.0, 1.0, (2, 3), requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="std >= 0"):
        tg.normal(mean, -1.0)
    with pytest.raises(ValueError, match="std >= 0"):
        tg.normal(0.0, -1.0, (2,))
    with pytest.raises(TypeError, match="size"):
        tg.normal(0.0, 1.0)


def test_poisson_has_mean_and_variance_lambda(device):
    rates = tg.tensor(np.tile([0.0, 0.5, 4.0, 30.0], (40000, 1)), device=device)
    counts = tg.poisson(rates)
    assert counts.dtype == rates.dtype and counts.device == device
    values = counts.numpy()
    assert (values[:, 0] == 0).all() and (values == np.round(values)).all()
    np.testing.assert_allclose(values.mean(0)[1:], [0.5, 4.0, 30.0], rtol=0.02)
    np.testing.assert_allclose(values.var(0)[1:], [0.5, 4.0, 30.0], rtol=0.05)
    with pytest.raises(ValueError, match="poisson"):
        tg.poisson(tg.tensor([-1.0]))


# ------------------------------------------------------------ integers, *_like, randperm

def test_randint_and_randint_like(device):
    draws = tg.randint(-3, 4, (70000,), device=device)
    assert draws.dtype == tg.int64 and draws.device == device
    counts = np.bincount(draws.numpy() + 3, minlength=7)
    assert counts.size == 7 and _chi_square(counts, np.full(7, 1 / 7)) < 30
    assert tg.randint(5, (3, 2)).shape == (3, 2) and tg.randint(5, (4,)).numpy().max() < 5
    like = tg.randint_like(tg.zeros(5000, dtype=tg.float64, device=device), 2, 6)
    assert like.dtype == tg.float64 and like.device == device
    assert set(np.unique(like.numpy())) == {2.0, 3.0, 4.0, 5.0}
    assert set(np.unique(tg.randint_like(tg.zeros(2000, dtype=tg.int32), 3).numpy())) == {0, 1, 2}
    with pytest.raises(RuntimeError, match="random_ expects 'from' to be less than 'to'"):
        tg.randint(5, 5, (2,))  # (PyTorch's words)
    with pytest.raises(RuntimeError, match="but got from=4 >= to=2"):
        tg.randint_like(tg.zeros(3), 4, 2)


def test_rand_like_and_randn_like_take_dtype_device_and_requires_grad(device):
    x = tg.zeros(3, 4, dtype=tg.float64, device=device)
    for factory in (tg.rand_like, tg.randn_like):
        same = factory(x)
        assert (same.shape, same.dtype, same.device, same.requires_grad) == \
            ((3, 4), tg.float64, device, False)
        other = factory(x, dtype=tg.float32, device="cpu", requires_grad=True)
        assert (other.dtype, other.device, other.requires_grad) == (tg.float32, "cpu", True)
    uniform = tg.rand_like(tg.zeros(100000)).numpy()
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean() - 0.5) < 0.005
    with pytest.raises(TypeError):
        tg.rand_like(tg.zeros(3, dtype=tg.int64))


def test_randperm_is_a_permutation(device):
    order = tg.randperm(1000, device=device)
    assert order.dtype == tg.int64 and order.device == device
    np.testing.assert_array_equal(np.sort(order.numpy()), np.arange(1000))
    assert tg.randperm(0).shape == (0,)
    with pytest.raises(ValueError, match="randperm"):
        tg.randperm(-1)


# ------------------------------------------------------------ in-place samplers

@pytest.mark.parametrize("name, args, mean, var, low, high", [
    ("uniform_", (2.0, 5.0), 3.5, 0.75, 2.0, 5.0),
    ("normal_", (1.0, 2.0), 1.0, 4.0, -math.inf, math.inf),
    ("bernoulli_", (0.3,), 0.3, 0.21, 0.0, 1.0),
    ("exponential_", (2.0,), 0.5, 0.25, 0.0, math.inf),
    ("geometric_", (0.25,), 4.0, 12.0, 1.0, math.inf),             # (1 − p)/p²
    ("log_normal_", (0.0, 0.5), math.exp(0.125), (math.exp(0.25) - 1) * math.exp(0.25),
     0.0, math.inf),
    ("random_", (3, 7), 4.5, 1.25, 3.0, 6.0),
])
def test_in_place_samplers_have_their_distribution_and_bump_the_version(name, args, mean,
                                                                       var, low, high):
    x = tg.zeros(200000, dtype=tg.float64)
    before = x._version
    assert getattr(x, name)(*args) is x
    assert x._version > before
    values = x.numpy()
    assert values.min() >= low and values.max() <= high
    assert abs(values.mean() - mean) < 5 * math.sqrt(var / values.size) + 1e-12
    np.testing.assert_allclose(values.var(), var, rtol=0.03)


def test_in_place_samplers_integer_forms_and_refusals():
    assert set(np.unique(tg.zeros(2000, dtype=tg.int64).random_(5).numpy())) == set(range(5))
    assert tg.zeros(20000, dtype=tg.float16).random_().numpy().max() <= 2048
    assert (tg.zeros(1000, dtype=tg.int64).geometric_(0.5).numpy() >= 1).all()
    with pytest.raises(RuntimeError, match="leaf"):
        tg.zeros(3, requires_grad=True).normal_()
    for bad in (lambda: tg.zeros(3).uniform_(2, 1), lambda: tg.zeros(3).normal_(0, -1),
                lambda: tg.zeros(3).bernoulli_(1.5), lambda: tg.zeros(3).exponential_(0),
                lambda: tg.zeros(3).geometric_(1.0), lambda: tg.zeros(3).log_normal_(0, 0),
                lambda: tg.zeros(3, dtype=tg.uint8).random_(-1, 3)):
        with pytest.raises(ValueError):
            bad()


# ------------------------------------------------------------------ generators

def test_generator_state_round_trip_and_the_same_stream_as_the_global_one():
    g = tg.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    state = g.get_state()
    first = (tg.randn(5, generator=g).numpy(), tg.multinomial(tg.ones(9), 4, generator=g).numpy())
    for _ in range(2):                                            # the state is not consumed
        g.set_state(state)
        again = (tg.randn(5, generator=g).numpy(),
                 tg.multinomial(tg.ones(9), 4, generator=g).numpy())
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a, b)
    tg.manual_seed(7)
    np.testing.assert_array_equal(tg.randn(5).numpy(), first[0])
    tg.manual_seed(123)                                           # a generator's own stream
    g.manual_seed(7)
    np.testing.assert_array_equal(tg.randn(5, generator=g).numpy(), first[0])
    fresh = tg.Generator()
    assert fresh.seed() == fresh.initial_seed()
    assert tg.Generator().manual_seed(-1).initial_seed() == 2 ** 64 - 1


# ------------------------------------------------------------------ dropout family

def test_dropout_scaling_edges_and_gradient(device):
    x = tg.ones(100000, device=device)
    y = F.dropout(x, 0.3).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.01
    assert F.dropout(x, 0.0) is x and F.dropout(x, 0.5, training=False) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), np.zeros(100000))
    z = tg.ones(6, device=device)
    assert F.dropout(z, 0.5, inplace=True) is z and set(np.unique(z.numpy())) <= {0.0, 2.0}
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.2)
    t = tg.tensor(np.random.default_rng(1).standard_normal(12), dtype=tg.float64,
                  requires_grad=True)

    def same_mask(v):
        tg.manual_seed(5)
        return F.dropout(v, 0.4)
    assert tg.gradcheck(same_mask, [t])


@pytest.mark.parametrize("function, shape, channel_dims", [
    (F.dropout1d, (60, 40, 7), 2), (F.dropout1d, (2400, 7), 1),    # ≥ 2400 channels each
    (F.dropout2d, (60, 40, 3, 4), 2), (F.dropout3d, (60, 40, 2, 3, 2), 2),
    (F.dropout3d, (2400, 2, 3, 2), 1),
])
def test_channel_dropout_zeroes_whole_channels(function, shape, channel_dims, device):
    y = function(tg.ones(*shape, device=device), 0.4).numpy()
    per_channel = y.reshape(int(np.prod(shape[:channel_dims])), -1)
    assert (per_channel.min(1) == per_channel.max(1)).all()           # one draw per channel
    assert set(np.unique(per_channel)) == {0.0, np.float32(1 / 0.6)}
    assert abs((per_channel[:, 0] == 0).mean() - 0.4) < 0.05   # 5 s.e.


def test_channel_dropout_input_dims_as_pytorch():
    with pytest.raises(RuntimeError, match="dropout1d"):           # PyTorch errors too
        F.dropout1d(tg.ones(2, 3, 4, 5), 0.5)
    with pytest.warns(UserWarning, match="3-D"):                 # PyTorch warns: (N, C, L)
        y = F.dropout2d(tg.ones(50, 40, 6), 0.5).numpy()
    assert (y.std(-1) == 0).all()


def _selu_affine(p):
    alpha = 1.0507009873554804934 * 1.6732632423543772848            # SELU's λα
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    return alpha, a, a * alpha * p


def test_alpha_dropout_keeps_zero_mean_unit_variance_and_its_affine_values(device):
    p = 0.2
    alpha, a, b = _selu_affine(p)
    x = np.random.default_rng(2).standard_normal(400000)
    y = F.alpha_dropout(tg.tensor(x, device=device), p, training=True).numpy()
    dropped = np.isclose(y, -a * alpha + b)
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + b, rtol=1e-12)
    assert abs(dropped.mean() - p) < 0.005
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.01
    np.testing.assert_array_equal(F.alpha_dropout(tg.tensor(x)).numpy(), x)  # training=False
    np.testing.assert_array_equal(F.alpha_dropout(tg.ones(3), 1.0, True).numpy(), 0.0)
    t = tg.tensor(x[:10], requires_grad=True)

    def same_mask(v):
        tg.manual_seed(3)
        return F.alpha_dropout(v, 0.5, True)
    assert tg.gradcheck(same_mask, [t])


def test_feature_alpha_dropout_shares_a_draw_per_channel_and_keeps_the_moments(device):
    p = 0.3
    alpha, a, b = _selu_affine(p)
    x = np.random.default_rng(3).standard_normal((3000, 40, 4))
    y = F.feature_alpha_dropout(tg.tensor(x, device=device), p, training=True).numpy()
    dropped = np.isclose(y, -a * alpha + b).all(axis=2)              # (N, C): whole channels
    kept = ~dropped
    np.testing.assert_allclose(y[kept], a * x[kept] + b, rtol=1e-12)
    assert abs(dropped.mean() - p) < 0.01
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.01
    xx = tg.tensor(x[:2])
    assert F.feature_alpha_dropout(xx, p) is xx                      # training=False default


@pytest.mark.parametrize("module, shape", [
    (nn.Dropout, (3, 4)), (nn.Dropout1d, (2, 3, 4)), (nn.Dropout2d, (2, 3, 4, 4)),
    (nn.Dropout3d, (2, 3, 2, 2, 2)), (nn.AlphaDropout, (3, 4)),
    (nn.FeatureAlphaDropout, (2, 3, 4)),
])
def test_dropout_modules_are_the_identity_in_eval_mode(module, shape):
    x = tg.randn(*shape)
    layer = module(0.5).eval()
    assert layer(x) is x


def test_rrelu_training_slopes_are_uniform_and_are_the_gradient(device):
    lower, upper = 0.1, 0.3
    x = tg.tensor(-np.random.default_rng(4).uniform(0.5, 2.0, 100000), dtype=tg.float64,
                  device=device, requires_grad=True)
    y = F.rrelu(x, lower, upper, training=True)
    y.sum().backward()
    slopes = y.detach().numpy() / x.detach().numpy()
    assert slopes.min() >= lower and slopes.max() < upper
    assert abs(slopes.mean() - 0.2) < 0.001 and abs(slopes.var() - 0.04 / 12) < 1e-4
    np.testing.assert_allclose(x.grad.numpy(), slopes, rtol=1e-12)
    positive = tg.tensor([0.5, 2.0], dtype=tg.float64)
    np.testing.assert_array_equal(F.rrelu(positive, lower, upper, True).numpy(), [0.5, 2.0])
    t = tg.tensor([-1.3, -0.2, 0.7, 1.9], dtype=tg.float64, requires_grad=True)

    def same_slopes(v):
        tg.manual_seed(9)
        return F.rrelu(v, lower, upper, training=True)
    assert tg.gradcheck(same_slopes, [t])


def test_rrelu_eval_uses_the_mean_slope():
    t = tg.tensor([-2.0, -0.5, 0.25, 3.0], dtype=tg.float64, requires_grad=True)
    np.testing.assert_allclose(F.rrelu(t, 0.1, 0.3).detach().numpy(), [-0.4, -0.1, 0.25, 3.0])
    assert tg.gradcheck(lambda v: F.rrelu(v, 0.1, 0.3), [t])
    module = nn.RReLU(0.1, 0.3).eval()
    np.testing.assert_allclose(module(t).detach().numpy(), [-0.4, -0.1, 0.25, 3.0])
    with pytest.raises(ValueError, match="lower bound"):
        F.rrelu(t, 0.5, 0.1)


def test_float32_uniform_draws_stay_below_their_upper_bound():
    """Draws are made in float64 and rounded to float32: one within 2**-25 of 1 rounded up
    to 1.0 (seed 0, 2**24 draws: max was 1.0). PyTorch's rand is on [0, 1)."""
    tg.manual_seed(0)
    assert tg.rand(2 ** 24).max().item() < 1.0
    tg.manual_seed(0)
    x = tg.empty(2 ** 24).uniform_(-1.0, 1.0)
    assert x.max().item() < 1.0 and x.min().item() >= -1.0
