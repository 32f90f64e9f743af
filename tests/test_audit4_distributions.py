"""tg.distributions, fourth audit against PyTorch's semantics: finite gradients where a
Categorical has categories of probability zero (logits of −∞, the usual way to mask
actions), and pins of behaviours verified right but untested before. References are
written here in NumPy from the documented formulas."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.distributions as D
from test_audit2_distribution_families import host, t  # float64 tensors; an array on the host


def softmax(x):
    e = np.exp(x - np.max(x[np.isfinite(x)]))
    return e / e.sum()


# --- Categorical with −∞ logits: the value as PyTorch's, a finite gradient for any scale ---

MASKED_LOGITS = [0.5, -math.inf, 1.0, -0.3]


def entropy_gradient(logits):
    """dH/dlⱼ = −pⱼ(log pⱼ + H) for the categories with pⱼ > 0, 0 for the masked ones."""
    p = softmax(np.asarray(logits))
    active = p > 0
    entropy = -np.sum(p[active] * np.log(p[active]))
    gradient = np.zeros_like(p)
    gradient[active] = -p[active] * (np.log(p[active]) + entropy)
    return entropy, gradient


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_categorical_entropy_gradient_with_a_masked_category(scale, device):
    # PyTorch clamps the −∞ logit to finfo.min: an upstream gradient above 1 then overflows
    # to −∞ and 0·(−∞) makes every gradient NaN; the entropy of the unmasked categories
    # has a finite gradient, and the masked one gets 0
    expected_entropy, expected_gradient = entropy_gradient(MASKED_LOGITS)
    logits = t(MASKED_LOGITS, device, requires_grad=True)
    entropy = D.Categorical(logits=logits).entropy()
    (scale * entropy).backward()
    np.testing.assert_allclose(host(entropy), expected_entropy, rtol=1e-12)
    np.testing.assert_allclose(host(logits.grad), scale * expected_gradient, rtol=1e-10,
                               atol=1e-15)


def test_one_hot_categorical_and_multinomial_entropy_gradient_with_a_masked_category(device):
    expected_entropy, expected_gradient = entropy_gradient(MASKED_LOGITS)
    logits = t(MASKED_LOGITS, device, requires_grad=True)
    (2 * D.OneHotCategorical(logits=logits).entropy()).backward()
    np.testing.assert_allclose(host(logits.grad), 2 * expected_gradient, rtol=1e-10,
                               atol=1e-15)
    # Multinomial(n): n·H(p) − log n! + Σᵢ E[log xᵢ!]; the second sum by brute force over
    # the Binomial(n, pᵢ) of each count, its gradient by central differences in the logits
    n = 3

    def reference(raw):
        p = softmax(raw)
        h = -np.sum(p[p > 0] * np.log(p[p > 0]))
        ks = np.arange(1, n + 1)
        binomial = np.array([[math.comb(n, k) * pi ** k * (1 - pi) ** (n - k) for k in ks]
                             for pi in p])
        return n * h - math.lgamma(n + 1) + np.sum(binomial * [math.lgamma(k + 1) for k in ks])

    raw = np.asarray(MASKED_LOGITS)
    numeric = np.zeros_like(raw)
    for j in np.flatnonzero(np.isfinite(raw)):
        step = np.zeros_like(raw)
        step[j] = 1e-6
        numeric[j] = (reference(raw + step) - reference(raw - step)) / 2e-6
    logits = t(MASKED_LOGITS, device, requires_grad=True)
    entropy = D.Multinomial(n, logits=logits).entropy()
    entropy.backward()
    np.testing.assert_allclose(host(entropy), reference(raw), rtol=1e-10)
    np.testing.assert_allclose(host(logits.grad), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("scale", [1.0, 4.0])
def test_categorical_kl_gradient_with_a_masked_category(scale, device):
    # KL(p ‖ q) = Σ pₖ(log pₖ − log qₖ); d/dlⱼ (p's logits) = pⱼ(aⱼ − Σ pₖaₖ),
    # aₖ = log pₖ − log qₖ; the masked category (pₖ = 0) adds nothing and gets 0
    q_logits = np.array([0.2, -0.4, 0.9, 0.1])
    p = softmax(np.asarray(MASKED_LOGITS))
    q = softmax(q_logits)
    active = p > 0
    a = np.zeros_like(p)
    a[active] = np.log(p[active]) - np.log(q[active])
    expected_kl = np.sum(p[active] * a[active])
    expected_gradient = p * (a - np.sum(p * a))
    logits = t(MASKED_LOGITS, device, requires_grad=True)
    kl = D.kl_divergence(D.Categorical(logits=logits), D.Categorical(logits=t(q_logits, device)))
    (scale * kl).backward()
    np.testing.assert_allclose(host(kl), expected_kl, rtol=1e-12)
    np.testing.assert_allclose(host(logits.grad), scale * expected_gradient, rtol=1e-10,
                               atol=1e-15)
    logits = t(MASKED_LOGITS, device, requires_grad=True)
    kl = D.kl_divergence(D.OneHotCategorical(logits=logits),
                         D.OneHotCategorical(logits=t(q_logits, device)))
    kl.backward()
    np.testing.assert_allclose(host(logits.grad), expected_gradient, rtol=1e-10, atol=1e-15)


def test_categorical_entropy_and_kl_with_zero_probabilities_keep_pytorchs_values(device):
    # probs with zeros: PyTorch's logits are log(clamp(p, eps)), finite, and 0·log 0 = 0;
    # KL is ∞ where q has a zero that p has not
    p = np.array([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])
    q = np.array([[0.25, 0.25, 0.5], [0.0, 0.5, 0.5]])
    distribution_p = D.Categorical(probs=t(p, device))
    distribution_q = D.Categorical(probs=t(q, device))
    expected_entropy = [-(0.5 * math.log(0.5)) * 2,
                        -sum(x * math.log(x) for x in p[1])]
    np.testing.assert_allclose(host(distribution_p.entropy()), expected_entropy, rtol=1e-12)
    expected_kl = [0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.5), math.inf]
    np.testing.assert_allclose(host(D.kl_divergence(distribution_p, distribution_q)),
                               expected_kl, rtol=1e-12)


# --- log_prob at the ends of the supports (validation on: each value is in the support) ---

def test_log_prob_at_the_support_boundaries(device):
    log = math.log
    cases = [
        # (distribution, values, log p by hand)
        (D.Exponential(t(2.0, device)), [0.0], [log(2.0)]),
        (D.Gamma(t([1.0, 0.5, 2.0], device), t(3.0, device)), [0.0, 0.0, 0.0],
         [log(3.0), math.inf, -math.inf]),                  # x^(α−1) at 0: 1, ∞, 0
        (D.Beta(t([1.0, 2.0, 1.0], device), t([1.0, 1.0, 3.0], device)), [0.0, 1.0, 0.0],
         [0.0, log(2.0), log(3.0)]),                        # B(2, 1) = ½, B(1, 3) = ⅓
        (D.Beta(t(2.0, device), t(3.0, device)), [0.0, 1.0], [-math.inf, -math.inf]),
        (D.Dirichlet(t([1.0, 2.0, 3.0], device)), [[1.0, 0.0, 0.0]], [-math.inf]),
        (D.Dirichlet(t([1.0, 1.0, 2.0], device)), [[0.0, 0.0, 1.0]],
         [math.lgamma(4.0) - math.lgamma(2.0)]),            # Γ(4)/(Γ(1)Γ(1)Γ(2))·1
        (D.Uniform(t(0.0, device), t(2.0, device)), [0.0, 2.0], [-log(2.0), -math.inf]),
        (D.Pareto(t(1.5, device), t(2.0, device)), [1.5], [log(2.0) - log(1.5)]),
        (D.HalfNormal(t(2.0, device)), [0.0], [log(2.0) - log(2.0 * math.sqrt(2 * math.pi))]),
        (D.HalfCauchy(t(2.0, device)), [0.0], [log(2.0 / (math.pi * 2.0))]),
        (D.Poisson(t(0.0, device)), [0.0, 1.0], [0.0, -math.inf]),
        (D.Geometric(t(1.0, device)), [0.0, 1.0], [0.0, -math.inf]),
        (D.Chi2(t(2.0, device)), [0.0], [log(0.5)]),       # χ²(2) = Exp(½)
        (D.ContinuousBernoulli(t(0.2, device)), [0.0, 1.0],
         [log(0.8) + log(2 * math.atanh(0.6) / 0.6), log(0.2) + log(2 * math.atanh(0.6) / 0.6)]),
        (D.Bernoulli(t(0.3, device)), [0.0, 1.0], [log(0.7), log(0.3)]),
    ]
    for distribution, values, expected in cases:
        got = host(distribution.log_prob(t(values, device)))
        np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=repr(distribution))
    # probs of 0 and 1: PyTorch's logits are log(clamp(p, eps, 1 − eps)), so the impossible
    # counts get a finite log p of n·log eps, the certain ones −n·eps (0 to 1e-15)
    eps = np.finfo(np.float64).eps
    binomial = D.Binomial(t(5.0, device), probs=t([0.0, 1.0], device))
    got = host(binomial.log_prob(t([[0.0, 5.0], [5.0, 0.0]], device)))
    np.testing.assert_allclose(got[0], [0.0, 0.0], atol=1e-14)
    np.testing.assert_allclose(got[1], [5 * (log(eps) - math.log1p(-eps))] * 2, rtol=1e-12)
