"""Audit of tg.distributions transforms, constraints, TransformedDistribution and KL against
PyTorch's semantics: the bugs found (KL of TransformedDistributions summing over batch
dims, independent(...).check on too few dims, positive_definite's symmetry tolerance and
non-square input, StickBreakingTransform onto the 1-simplex) and behaviours verified right
that no other test pinned (log-det conventions, clipping at the extremes, cdf of decreasing
chains, Uniform KL supports, KL gradients, unregistered pairs). Expected values are written
out by hand or in NumPy."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.distributions as D
from tinygrad_opt.distributions import constraints
from tinygrad_opt.distributions import transforms as T


def t(value, device, dtype=tg.float64):
    return tg.tensor(np.asarray(value, dtype=np.float64), dtype=dtype, device=device)


def host(value):
    return np.asarray(value.numpy())


def normal_cdf(x, loc, scale):
    return 0.5 * (1 + math.erf((x - loc) / (scale * math.sqrt(2))))


def normal_log_pdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi)


# --- KL of TransformedDistributions ---

def test_kl_of_transformed_distributions_keeps_the_batch_shape(device):
    # PyTorch returns kl_divergence(p.base_dist, q.base_dist): one KL per batch entry
    # (we summed it over len(event_shape) more dims, here the batch dim).
    eye = np.eye(3)
    p = D.TransformedDistribution(D.MultivariateNormal(t(np.zeros((2, 3)), device),
                                                       t(eye, device)), [T.ExpTransform()])
    q = D.TransformedDistribution(D.MultivariateNormal(t(np.ones((2, 3)), device),
                                                       t(eye, device)), [T.ExpTransform()])
    assert p.batch_shape == (2,) and p.event_shape == (3,)
    divergence = host(D.kl_divergence(p, q))
    np.testing.assert_allclose(divergence, [1.5, 1.5], rtol=1e-12)  # ½‖μp − μq‖² each


def test_kl_of_stick_breaking_transformed_normals(device):
    # The base becomes Independent(Normal, 1): its KL already sums the 3 coordinates.
    p_loc = np.array([[0.0, 0.5, -1.0], [1.0, 2.0, 0.0]])
    p = D.TransformedDistribution(D.Normal(t(p_loc, device), t(1.0, device)),
                                  [T.StickBreakingTransform()])
    q = D.TransformedDistribution(D.Normal(t(np.zeros((2, 3)), device), t(2.0, device)),
                                  [T.StickBreakingTransform()])
    assert p.batch_shape == (2,) and p.event_shape == (4,)
    expected = (0.5 * (0.25 + p_loc ** 2 / 4 - 1 - math.log(0.25))).sum(-1)
    np.testing.assert_allclose(host(D.kl_divergence(p, q)), expected, rtol=1e-12)


# --- constraints ---

def test_independent_check_with_too_few_dims_raises(device):
    # PyTorch: ValueError "Expected value.dim() >= 2 but got 1" (we returned True).
    with pytest.raises(ValueError, match=r"value.dim\(\) >= 2 but got 1"):
        constraints.independent(constraints.positive, 2).check(t([1.0, 2.0], device))
    with pytest.raises(ValueError, match=r">= 1 but got 0"):
        constraints.real_vector.check(t(1.0, device))
    checked = constraints.independent(constraints.positive, 2).check(
        t([[[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 0.0]]], device))
    assert host(checked).tolist() == [True, False]


def test_positive_definite_check_uses_symmetric_tolerance_and_cholesky(device):
    # PyTorch: positive_definite is symmetric (isclose, atol 1e-6, rtol 1e-5) then
    # cholesky_ex(value).info == 0; a non-square value is not positive definite.
    check = constraints.positive_definite.check
    assert bool(host(check(t([[1.0, 0.5 + 5e-6], [0.5, 1.0]], device))))
    assert bool(host(check(t([[1000.0, 500.005], [500.0, 1000.0]], device))))
    assert not bool(host(check(t([[1.0, 0.5 + 2e-5], [0.5, 1.0]], device))))
    batch = t([[[2.0, 1.0], [1.0, 2.0]], [[1.0, 1.0], [1.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]],
              device)
    assert host(check(batch)).tolist() == [True, False, False]
    not_square = check(t(np.ones((4, 2, 3)), device))
    assert not_square.shape == (4,) and not host(not_square).any()
    assert constraints.positive_definite.event_dim == 2


def test_constraint_boundaries(device):
    x = t([0.0, 1.0, 0.5, -1e-9, 1 + 1e-9, math.nan, math.inf], device)

    def check(constraint):
        return host(constraint.check(x)).tolist()

    assert check(constraints.interval(0.0, 1.0)) == [True, True, True, False, False, False,
                                                     False]
    assert check(constraints.half_open_interval(0.0, 1.0)) == [True, False, True, False,
                                                               False, False, False]
    assert check(constraints.positive) == [False, True, True, False, True, False, True]
    assert check(constraints.nonnegative) == [True, True, True, False, True, False, True]
    assert check(constraints.real) == [True, True, True, True, True, False, True]
    assert check(constraints.integer_interval(0, 1)) == [True, True, False, False, False,
                                                         False, False]
    simplex = host(constraints.simplex.check(t(
        [[0.5, 0.5], [0.5, 0.5 + 9e-7], [0.5, 0.5 + 1.1e-6], [1.5, -0.5]], device)))
    assert simplex.tolist() == [True, True, False, False]           # |Σx − 1| < 1e-6
    assert constraints.integer_interval(0, 3).is_discrete
    assert not constraints.half_open_interval(0.0, 1.0).is_discrete
    assert constraints.independent(constraints.simplex, 1).event_dim == 2


def test_corr_cholesky_and_lower_cholesky_checks(device):
    assert bool(host(constraints.corr_cholesky.check(t([[1.0, 0.0], [0.6, 0.8]], device))))
    assert not bool(host(constraints.corr_cholesky.check(t([[1.0, 0.0], [0.6, 0.81]],
                                                             device))))
    lower = constraints.lower_cholesky.check(t([[[1.0, 0.0], [0.5, 2.0]],
                                                [[1.0, 0.1], [0.5, 2.0]],
                                                [[0.0, 0.0], [0.5, 2.0]]], device))
    assert host(lower).tolist() == [True, False, False]


# --- transforms ---

def test_stick_breaking_onto_the_one_point_simplex(device):
    # PyTorch pads with ones: from ℝ⁰ the only point of the 1-simplex is [1] (we gave an
    # empty result).
    transform = T.StickBreakingTransform()
    x = tg.zeros(2, 0, dtype=tg.float64, device=device)
    y = transform(x)
    assert y.shape == (2, 1)
    np.testing.assert_array_equal(host(y), [[1.0], [1.0]])
    assert transform.inv(y).shape == (2, 0)
    np.testing.assert_array_equal(host(transform.log_abs_det_jacobian(x, y)), [0.0, 0.0])


def test_stick_breaking_log_det_against_the_numerical_jacobian(rng, device):
    transform = T.StickBreakingTransform()
    x = rng.normal(size=4)
    y = transform(t(x, device))
    np.testing.assert_allclose(host(y[:1]), [math.exp(-math.log(1 + math.exp(
        math.log(4) - x[0])))], rtol=1e-12)                        # y₀ = σ(x₀ − log 4)
    columns = []
    for j in range(4):
        step = np.zeros(4)
        step[j] = 1e-6
        plus = host(transform(t(x + step, device)))[:-1]
        minus = host(transform(t(x - step, device)))[:-1]
        columns.append((plus - minus) / 2e-6)
    expected = np.linalg.slogdet(np.stack(columns, -1))[1]        # ∂y₀..₃/∂x, K − 1 = 4
    log_det = host(transform.log_abs_det_jacobian(t(x, device), y))
    assert log_det == pytest.approx(expected, abs=1e-7)
    np.testing.assert_allclose(host(transform.inv(y)), x, atol=1e-12)


def test_compose_log_det_sums_a_later_part_over_the_whole_event(device):
    # As PyTorch: an elementwise part after StickBreaking adds its log-det for all K
    # entries of the simplex vector (K log 3 here, not (K − 1) log 3).
    compose = T.ComposeTransform([T.AffineTransform(0.0, 2.0), T.StickBreakingTransform(),
                                  T.AffineTransform(1.0, 3.0)])
    assert compose.domain.event_dim == 1 and compose.codomain.event_dim == 1
    x = t([0.3, -0.2, 0.1, 0.5], device)
    y = compose(x)
    stick = T.StickBreakingTransform()
    middle = stick(2 * x)
    expected = 4 * math.log(2) + host(stick.log_abs_det_jacobian(2 * x, middle)) + 5 * math.log(3)
    assert host(compose.log_abs_det_jacobian(x, y)) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(host(compose.inv(y)), host(x), atol=1e-12)


def test_sigmoid_transform_clips_at_the_extremes(device):
    # PyTorch clamps σ(x) to [tiny, 1 − eps]: logit of the clamp, log-det −|x| − ...
    transform = T.SigmoidTransform()
    x = t([-40.0, 0.0, 40.0], device, tg.float32)
    y = transform(x)
    eps32 = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(host(y), [math.exp(-40), 0.5, 1 - eps32], rtol=1e-6)
    back = host(transform.inv(y))
    assert back[0] == pytest.approx(-40, rel=1e-5) and back[1] == 0
    assert back[2] == pytest.approx(math.log((1 - eps32) / eps32), rel=1e-5)
    np.testing.assert_allclose(host(transform.log_abs_det_jacobian(x, y)),
                               [-40.0, -2 * math.log(2), -40.0], rtol=1e-6)


def test_tanh_inverse_is_not_clipped_but_the_cache_returns_x(device):
    # PyTorch's TanhTransform does not clamp atanh: tanh(40) = 1 maps back to +inf, unless
    # cache_size=1 hands back the very x.
    x = t([-40.0, 0.5, 40.0], device, tg.float32)
    plain = T.TanhTransform()
    back = host(plain.inv(plain(x)))
    assert back[0] == -math.inf and back[2] == math.inf
    assert back[1] == pytest.approx(0.5, rel=1e-6)
    cached = T.TanhTransform(cache_size=1)
    assert cached.inv(cached(x)) is x
    log_det = host(plain.log_abs_det_jacobian(x, plain(x)))
    np.testing.assert_allclose(log_det, [2 * (math.log(2) - 40), math.log(1 - math.tanh(0.5) ** 2),
                                         2 * (math.log(2) - 40)], rtol=1e-5)


def test_affine_transform_log_det_with_event_dims(device):
    x = t(np.arange(6.0).reshape(2, 3), device)
    vector = T.AffineTransform(t([1.0, 2.0, 3.0], device), t([0.5, -2.0, 3.0], device),
                               event_dim=1)
    np.testing.assert_allclose(host(vector.log_abs_det_jacobian(x, vector(x))),
                               [math.log(3), math.log(3)], rtol=1e-12)
    matrix = T.AffineTransform(0.0, t([[1.0, 2.0, 3.0], [1.0, 1.0, 0.5]], device), event_dim=1)
    np.testing.assert_allclose(host(matrix.log_abs_det_jacobian(x, matrix(x))),
                               [math.log(6), math.log(0.5)], rtol=1e-12)
    number = T.AffineTransform(0.0, 2.0, event_dim=2)
    assert host(number.log_abs_det_jacobian(x, number(x))) == pytest.approx(6 * math.log(2))
    assert T.AffineTransform(0.0, -2.0).sign == -1
    assert host(T.AffineTransform(0.0, t([-1.0, 2.0], device)).sign).tolist() == [-1, 1]


# --- TransformedDistribution ---

def test_transformed_cdf_and_icdf_with_a_sign_per_entry(device):
    # sign = scale.sign(): the cdf flips only where the scale is negative.
    base = D.Normal(t([0.0, 1.0], device), t([1.0, 2.0], device))
    distribution = D.TransformedDistribution(base, [T.AffineTransform(0.0, t([-1.0, 2.0],
                                                                             device))])
    cdf = host(distribution.cdf(t([0.5, 0.5], device)))
    np.testing.assert_allclose(cdf, [1 - normal_cdf(-0.5, 0, 1), normal_cdf(0.25, 1, 2)],
                               rtol=1e-12)
    np.testing.assert_allclose(host(distribution.icdf(t(cdf, device))), [0.5, 0.5],
                               rtol=1e-9)


def test_transformed_log_prob_sums_the_log_det_over_the_event(device):
    # An AffineTransform with event_dim=1 makes one 3-vector event of 3 Normals.
    base = D.Normal(t(np.zeros(3), device), t(np.ones(3), device))
    scale = [1.0, 2.0, 3.0]
    distribution = D.TransformedDistribution(
        base, [T.AffineTransform(0.0, t(scale, device), event_dim=1)])
    assert distribution.batch_shape == () and distribution.event_shape == (3,)
    value = [1.0, 1.0, 1.0]
    expected = sum(normal_log_pdf(v / s, 0, 1) for v, s in zip(value, scale)) - math.log(6)
    assert host(distribution.log_prob(t(value, device))) == pytest.approx(expected, rel=1e-12)


# --- KL ---

def test_kl_uniform_uniform_supports(device):
    # PyTorch: log((hq − lq)/(hp − lp)) where [lp, hp] ⊂ [lq, hq], else +inf.
    p = D.Uniform(t([0.0, 0.0, 0.0, 0.0, -1.0], device), t([1.0, 1.0, 1.0, 1.0, 2.0], device))
    q = D.Uniform(t([0.0, -1.0, 0.5, 2.0, 0.0], device), t([1.0, 2.0, 1.5, 3.0, 1.0], device))
    divergence = host(D.kl_divergence(p, q))
    np.testing.assert_allclose(divergence[:2], [0.0, math.log(3)], atol=1e-15)
    assert np.isposinf(divergence[2:]).all()          # overlapping, disjoint, q inside p
    broadcast = host(D.kl_divergence(D.Uniform(t([[0.0], [1.0]], device), t(3.0, device)),
                                     D.Uniform(t([0.0, 1.0, 2.0], device), t(4.0, device))))
    assert broadcast.shape == (2, 3)
    np.testing.assert_allclose(broadcast[0, 0], math.log(4 / 3))
    np.testing.assert_allclose(broadcast[1, :2], [math.log(2), math.log(1.5)])
    assert np.isposinf([broadcast[0, 1], broadcast[0, 2], broadcast[1, 2]]).all()


def test_kl_normal_normal_gradient(device):
    loc = t([0.3], device).requires_grad_()
    scale = t([1.2], device).requires_grad_()
    D.kl_divergence(D.Normal(loc, scale), D.Normal(t(1.0, device), t(2.0, device))).sum().backward()
    # ∂/∂μp = (μp − μq)/σq², ∂/∂σp = σp/σq² − 1/σp
    np.testing.assert_allclose(host(loc.grad), [(0.3 - 1.0) / 4], rtol=1e-12)
    np.testing.assert_allclose(host(scale.grad), [1.2 / 4 - 1 / 1.2], rtol=1e-12)


def test_kl_of_a_distribution_with_itself_is_zero(device):
    two = t([1.0, 2.0], device)
    families = [
        D.Weibull(two, t([1.0, 3.0], device)), D.HalfCauchy(two), D.HalfNormal(two),
        D.Kumaraswamy(two, t([1.0, 3.0], device)), D.LogNormal(t([0.0, 1.0], device), two),
        D.Pareto(two, two), D.Gumbel(t([0.0, 1.0], device), two),
        D.Geometric(t([0.1, 0.3], device)), D.Binomial(5, t([0.0, 0.3], device)),
        D.Independent(D.Normal(t([[0.0, 1.0]], device), two), 1),
    ]
    for distribution in families:
        divergence = host(D.kl_divergence(distribution, distribution))
        assert divergence.shape == distribution.batch_shape, type(distribution).__name__
        np.testing.assert_allclose(divergence, 0.0, atol=1e-12)


def test_unregistered_kl_pairs_raise(device):
    one = t(1.0, device)
    pairs = [(D.Normal(one, one), D.Cauchy(one, one)),
             (D.Poisson(one), D.Geometric(t(0.5, device))),        # two exponential families
             (D.Gamma(one, one), D.Laplace(one, one)),
             (D.Weibull(one, t(2.0, device)), D.Weibull(one, t(3.0, device))),
             (D.Binomial(3, t(0.5, device)), D.Binomial(5, t(0.5, device)))]
    for p, q in pairs:
        with pytest.raises(NotImplementedError):
            D.kl_divergence(p, q)


def test_a_dependent_property_is_a_dependent_constraint_on_the_class(device):
    # PyTorch's _DependentProperty subclasses property and _Dependent: on the class,
    # is_dependent(Uniform.support) is True and check raises; on an instance, the support.
    assert constraints.is_dependent(D.Uniform.support)
    assert constraints.is_dependent(D.TransformedDistribution.support)
    assert D.Uniform.support.event_dim == 0 and not D.Uniform.support.is_discrete
    with pytest.raises(ValueError, match="dependent constraint"):
        D.Uniform.support.check(t(1.0, device))
    uniform = D.Uniform(t(0.0, device), t(2.0, device))
    assert host(uniform.support.check(t([1.0, 3.0], device))).tolist() == [True, False]
