"""tg.distributions, audit regressions: each test pins a fix made after comparing the
families with SciPy and PyTorch's semantics. Expected values are derived by hand (in the
comments) or computed here with NumPy. Every device-parametrised test runs on the cpu and
strict devices."""

import math
import time

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.distributions as D


def t(values, device, requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def host(x):
    return tg.backend.to_host(x.data)


# --- Binomial: log p(k) is smooth in the logits, so its Hessian is right at l = 0 ---

def test_binomial_log_prob_second_derivative_at_logit_zero(device):
    # log p(k) = k·l − n·log(1 + e^l) + const:  d/dl = k − n·σ(l),  d²/dl² = −n·σ(l)(1 − σ(l)),
    # so at l = 0 (p = ½, the usual starting point): d/dl = k − n/2 and d²/dl² = −n/4.
    n, k = 6.0, t([0.0, 2.0, 5.0], device)
    logits = t([0.0, 0.0, 0.0], device, requires_grad=True)
    log_prob = D.Binomial(n, logits=logits).log_prob(k).sum()
    (first,) = tg.autograd.grad(log_prob, logits, create_graph=True)
    (second,) = tg.autograd.grad(first.sum(), logits)
    np.testing.assert_allclose(host(first), [0.0 - 3.0, 2.0 - 3.0, 5.0 - 3.0], atol=1e-12)
    np.testing.assert_allclose(host(second), [-1.5, -1.5, -1.5], atol=1e-12)


def test_binomial_log_prob_second_derivative_in_probs_at_one_half(device):
    # log p(k) = k·log p + (n − k)·log(1 − p) + const:  d²/dp² = −k/p² − (n − k)/(1 − p)²,
    # −4n = −24 at p = ½ for every k.
    probs = t([0.5, 0.5], device, requires_grad=True)
    log_prob = D.Binomial(6, probs=probs).log_prob(t([1.0, 4.0], device)).sum()
    (first,) = tg.autograd.grad(log_prob, probs, create_graph=True)
    (second,) = tg.autograd.grad(first.sum(), probs)
    np.testing.assert_allclose(host(first), [(1 - 3) * 4.0, (4 - 3) * 4.0], atol=1e-9)
    np.testing.assert_allclose(host(second), [-24.0, -24.0], atol=1e-6)


def test_binomial_log_prob_gradgradcheck_through_zero_and_large_logits():
    value = tg.tensor([1.0, 2.0, 0.0, 3.0], dtype=tg.float64)
    logits = tg.tensor([0.0, -1.5, 30.0, -30.0], dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(lambda l: D.Binomial(4, logits=l).log_prob(value), [logits])


def test_binomial_log_prob_exact_for_large_logits():
    # l = 21, k = n = 7: log p = 7·l − 7·log(1 + e^l) = −7·log1p(e^−21) ≈ −5.3e−9, which a
    # softplus cut off at 20 (softplus(l) = l there) would round to 0.
    logits = tg.tensor([21.0, -21.0, 0.0], dtype=tg.float64)
    value = tg.tensor([7.0, 0.0, 3.0], dtype=tg.float64)
    expected = [-7 * math.log1p(math.exp(-21.0)), -7 * math.log1p(math.exp(-21.0)),
                math.log(35.0) - 7 * math.log(2.0)]                      # C(7, 3)/2⁷
    np.testing.assert_allclose(host(D.Binomial(7, logits=logits).log_prob(value)), expected,
                               rtol=1e-4, atol=1e-13)


# --- Multinomial: samples drawn per sample, not per trial ---

@pytest.mark.parametrize("sample_shape", [(), (3,), (2, 3)])
def test_multinomial_sample_shapes_and_counts(sample_shape, device):
    probs = t([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]], device)
    samples = D.Multinomial(6, probs).sample(sample_shape)
    assert samples.shape == sample_shape + (2, 3)
    assert samples.dtype == probs.dtype
    counts = host(samples)
    assert (counts >= 0).all() and (counts == np.round(counts)).all()
    assert (counts.sum(-1) == 6).all()


def test_multinomial_sample_moments(device):
    # each count is Binomial(n, pᵢ): mean n·pᵢ, variance n·pᵢ(1 − pᵢ)
    tg.manual_seed(0)
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    counts = host(D.Multinomial(6, t(probs, device)).sample((100_000,)))
    mean, variance = 6 * probs, 6 * probs * (1 - probs)
    standard_error = np.sqrt(variance / 100_000)
    assert (np.abs(counts.mean(0) - mean) < 5 * standard_error).all()
    np.testing.assert_allclose(counts.var(0), variance, rtol=0.03)


def test_multinomial_sample_with_a_large_total_count_is_fast(device):
    # n = 10⁶ trials per sample: drawing one Categorical per trial would hold
    # n × samples × K entries; the counts are drawn per sample instead.
    tg.manual_seed(1)
    start = time.perf_counter()
    samples = D.Multinomial(10**6, t([0.25, 0.25, 0.5], device)).sample((20,))
    assert time.perf_counter() - start < 0.5
    counts = host(samples)
    assert counts.shape == (20, 3) and (counts.sum(-1) == 10**6).all()
    # each count is within 6 standard deviations (√(n·p(1 − p)) ≤ 500) of n·p
    assert (np.abs(counts - [250_000, 250_000, 500_000]) < 3000).all()


def test_multinomial_expanded_sample_shape(device):
    multinomial = D.Multinomial(4, t([0.5, 0.5], device)).expand((3,))
    samples = multinomial.sample((2,))
    assert samples.shape == (2, 3, 2)
    assert (host(samples).sum(-1) == 4).all()


# --- expand keeps the validation setting (PyTorch copies _validate_args) ---

def test_chi2_expand_keeps_validation(device):
    chi2 = D.Chi2(t([1.0, 2.0], device))
    expanded = chi2.expand((3, 2))
    assert expanded.batch_shape == (3, 2)
    assert expanded._validate_args is True
    with pytest.raises(ValueError, match="support"):
        expanded.log_prob(t(-1.0, device))
    # χ²(2) has p(x) = e^(−x/2)/2: log p(2) = −1 − log 2
    np.testing.assert_allclose(host(expanded.log_prob(t(2.0, device)))[:, 1],
                               [-1 - math.log(2)] * 3, rtol=1e-12)
    quiet = D.Chi2(t([1.0, 2.0], device), validate_args=False).expand((3, 2))
    assert quiet._validate_args is False
    quiet.log_prob(t(-1.0, device))                                   # no check: no error


def test_independent_expand_keeps_validation(device):
    base = D.Normal(t(np.zeros((2, 3)), device), t(np.ones((2, 3)), device))
    for validate in (True, False):
        independent = D.Independent(base, 1, validate_args=validate)
        expanded = independent.expand((4, 2))
        assert expanded.batch_shape == (4, 2) and expanded.event_shape == (3,)
        assert expanded._validate_args is validate


# --- Independent.enumerate_support: the base's, when nothing is reinterpreted ---

def test_independent_enumerate_support(device):
    base = D.Bernoulli(t([0.2, 0.7], device))
    independent = D.Independent(base, 0)
    assert independent.has_enumerate_support
    np.testing.assert_array_equal(host(independent.enumerate_support()), [[0, 0], [1, 1]])
    assert independent.enumerate_support(expand=False).shape == (2, 1)
    reinterpreted = D.Independent(base, 1)
    assert not reinterpreted.has_enumerate_support
    with pytest.raises(NotImplementedError, match="cartesian product"):
        reinterpreted.enumerate_support()


# --- Dirichlet.mode: NaN where no αᵢ exceeds 1 but not all are below 1 ---

def test_dirichlet_mode_without_a_single_most_likely_point(device):
    concentration = t([[1.0, 1.0, 0.5],     # (α − 1)⁺ = 0: 0/0, no single mode → NaN
                       [1.0, 1.0, 1.0],     # the flat Dirichlet → NaN
                       [2.0, 3.0, 1.0],     # (1, 2, 0)/3
                       [2.0, 1.0, 0.5],     # (1, 0, 0)
                       [0.5, 0.9, 0.2]],    # all below 1: the vertex of the largest α
                      device)
    mode = host(D.Dirichlet(concentration).mode)
    assert np.isnan(mode[:2]).all()
    np.testing.assert_allclose(mode[2:], [[1 / 3, 2 / 3, 0], [1, 0, 0], [0, 1, 0]],
                               atol=1e-15)
