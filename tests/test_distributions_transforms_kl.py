"""tg.distributions, the third part: the transforms SoftplusTransform,
CumulativeDistributionTransform, ReshapeTransform, PositiveDefiniteTransform,
CorrCholeskyTransform, CatTransform and StackTransform (forward against NumPy
transcriptions, inverse round trips, log|det J| against finite-difference Jacobians in
float64, shapes, equality); biject_to / transform_to for corr_cholesky, positive_definite,
cat and stack; ExponentialFamily (its Bregman entropy and KL against the closed forms); and
the KL pairs between different families, against numerical integrals of p·(log p − log q)
written here with NumPy, and +∞ where the supports do not nest. Every test runs on the cpu
and strict devices."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.distributions as D
from fuzzing import examples, fuzz_settings
from tinygrad_opt.distributions import constraints, kl
from tinygrad_opt.distributions import transforms as T
from tinygrad_opt.distributions.exp_family import ExponentialFamily
from test_distributions import digamma, host, t  # the shared helpers



def numerical_jacobian(function, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """∂f/∂x by central differences, f: (n,) → (m,) in float64: an (m, n) matrix."""
    columns = []
    for j in range(x.size):
        step = np.zeros_like(x)
        step[j] = h
        columns.append((function(x + step) - function(x - step)) / (2 * h))
    return np.stack(columns, -1)


# --- elementwise transforms ---

def normal_cdf(x, loc, scale):
    return np.array([0.5 * (1 + math.erf((v - loc) / (scale * math.sqrt(2)))) for v in x])


ELEMENTWISE = {
    # name: (make(device), x, y = f(x) in NumPy, domain check of x)
    "Softplus": (lambda device: T.SoftplusTransform(), [-30.0, -2.0, 0.0, 0.7, 25.0],
                 lambda x: np.log1p(np.exp(x))),
    "NormalCdf": (lambda device: T.CumulativeDistributionTransform(
        D.Normal(t(0.5, device), t(2.0, device))), [-3.0, -0.5, 0.5, 2.0, 4.0],
                  lambda x: normal_cdf(x, 0.5, 2.0)),
    "ExponentialCdf": (lambda device: T.CumulativeDistributionTransform(
        D.Exponential(t(1.5, device))), [0.1, 0.5, 1.0, 2.0],
                       lambda x: 1 - np.exp(-1.5 * x)),
}


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_transforms_against_numpy_and_finite_differences(name, device):
    make, values, formula = ELEMENTWISE[name]
    transform = make(device)
    values = np.array(values)
    x = t(values, device)
    y = transform(x)
    np.testing.assert_allclose(host(y), formula(values), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(host(transform.inv(y)), values, rtol=1e-8, atol=1e-9)
    h = 1e-6
    slope = (formula(values + h) - formula(values - h)) / (2 * h)
    np.testing.assert_allclose(host(transform.log_abs_det_jacobian(x, y)), np.log(slope),
                               rtol=1e-6, atol=1e-6)
    assert transform.bijective and transform.sign == 1 and transform.event_dim == 0
    assert np.all(host(transform.codomain.check(y)))
    assert np.all(host(transform.domain.check(x)))
    assert transform.forward_shape((2, 5)) == (2, 5) == transform.inverse_shape((2, 5))


def test_softplus_stays_finite_far_out_and_is_smooth(device):
    softplus = T.SoftplusTransform()
    x = t([-50.0, 50.0], device)
    np.testing.assert_allclose(host(softplus(x)), [math.exp(-50.0), 50.0], rtol=1e-12)
    np.testing.assert_allclose(host(softplus.log_abs_det_jacobian(x, softplus(x))),
                               [-50.0, -math.exp(-50.0)], rtol=1e-12)
    x = t([[-1.3, 0.2, 2.5]], device, True)
    assert tg.gradcheck(lambda v: softplus(v), [x])
    assert tg.gradcheck(lambda v: softplus.inv(softplus(v) + 0.1), [x])
    assert tg.gradcheck(lambda v: softplus.log_abs_det_jacobian(v, softplus(v)), [x])


def test_cumulative_distribution_transform_makes_a_copula(device):
    """Normal(0, 1)'s cdf pushes N(0, 1) onto U(0, 1): log p_Y(y) = 0."""
    transform = T.CumulativeDistributionTransform(D.Normal(t(0.0, device), t(1.0, device)))
    uniform = D.TransformedDistribution(D.Normal(t(0.0, device), t(1.0, device)), [transform])
    y = t([0.05, 0.3, 0.5, 0.9], device)
    np.testing.assert_allclose(host(uniform.log_prob(y)), 0.0, atol=1e-9)
    assert transform.domain is constraints.real
    cached = transform.with_cache(1)
    assert isinstance(cached, T.CumulativeDistributionTransform) and cached._cache_size == 1
    assert cached.distribution is transform.distribution


# --- matrices ---

def corr_cholesky_numpy(x: np.ndarray) -> np.ndarray:
    """PyTorch's construction, entry by entry: r = tanh(x) row by row under the diagonal,
    then Lᵢⱼ = rᵢⱼ·√(1 − Σₖ₍ₖ<ⱼ₎ Lᵢₖ²) and Lᵢᵢ = √(1 − Σₖ₍ₖ<ᵢ₎ Lᵢₖ²)."""
    size = round((1 + math.sqrt(1 + 8 * x.size)) / 2)
    lower = np.zeros((size, size))
    r = iter(np.tanh(x))
    for i in range(size):
        for j in range(i):
            lower[i, j] = next(r) * math.sqrt(1 - np.sum(lower[i, :j] ** 2))
        lower[i, i] = math.sqrt(1 - np.sum(lower[i, :i] ** 2))
    return lower


def strict_lower(matrix: np.ndarray) -> np.ndarray:
    return matrix[np.tril_indices(matrix.shape[-1], -1)]


@pytest.mark.parametrize("size", [2, 3, 5])
def test_corr_cholesky_against_numpy_and_the_numerical_jacobian(size, device):
    rng = np.random.default_rng(size)
    count = size * (size - 1) // 2
    values = rng.normal(size=(3, count)) * 1.5                      # (3, N)
    transform = T.CorrCholeskyTransform()
    x = t(values, device)
    y = transform(x)
    assert y.shape == (3, size, size)
    for row in range(3):
        np.testing.assert_allclose(host(y)[row], corr_cholesky_numpy(values[row]),
                                   rtol=1e-12, atol=1e-14)
    assert np.all(host(constraints.corr_cholesky.check(y)))
    np.testing.assert_allclose(host(transform.inv(y)), values, rtol=1e-9, atol=1e-10)
    log_det = host(transform.log_abs_det_jacobian(x, y))
    assert log_det.shape == (3,)
    for row in range(3):
        jacobian = numerical_jacobian(lambda v: strict_lower(corr_cholesky_numpy(v)),
                                      values[row])
        assert jacobian.shape == (count, count)
        np.testing.assert_allclose(log_det[row], np.linalg.slogdet(jacobian)[1], rtol=1e-6,
                                   atol=1e-6)
    assert transform.forward_shape((4, count)) == (4, size, size)
    assert transform.inverse_shape((4, size, size)) == (4, count)
    assert transform.bijective and transform.domain.event_dim == 1
    assert transform.codomain is constraints.corr_cholesky


def test_corr_cholesky_shapes_gradients_and_errors(device):
    transform = T.CorrCholeskyTransform()
    x = t(np.linspace(-1, 1, 6).reshape(1, 6), device, True)
    assert tg.gradcheck(lambda v: transform(v), [x])
    assert tg.gradcheck(lambda v: transform.log_abs_det_jacobian(v, transform(v)), [x])
    assert tg.gradcheck(lambda v: transform.inv(transform(v)), [x])
    with pytest.raises(ValueError, match="D\\(D − 1\\)/2"):
        transform.forward_shape((2, 4))
    with pytest.raises(ValueError, match="not square"):
        transform.inverse_shape((3, 4))
    assert transform != T.CorrCholeskyTransform() and transform == transform  # as PyTorch
    y = transform(t(np.zeros((2, 3, 1)), device))                   # D = 2, batch (2, 3)
    np.testing.assert_allclose(host(y), np.broadcast_to(np.eye(2), (2, 3, 2, 2)))
    one = transform(t(np.zeros((3, 0)), device))                    # D = 1: L = [[1]]
    np.testing.assert_array_equal(host(one), np.ones((3, 1, 1)))


def test_positive_definite_transform(device):
    rng = np.random.default_rng(3)
    values = rng.normal(size=(2, 3, 3))
    transform = T.PositiveDefiniteTransform()
    x = t(values, device)
    y = transform(x)
    lower = np.tril(values, -1) + np.exp(np.diagonal(values, axis1=-2, axis2=-1))[..., None] * (
        np.eye(3))
    np.testing.assert_allclose(host(y), lower @ np.swapaxes(lower, -1, -2), rtol=1e-12)
    assert np.all(host(constraints.positive_definite.check(y)))
    # the inverse gives back the lower triangle (the upper one was dropped)
    np.testing.assert_allclose(host(transform.inv(y)), np.tril(values), rtol=1e-9, atol=1e-12)
    assert not transform.bijective
    assert transform == T.PositiveDefiniteTransform()
    assert transform != T.LowerCholeskyTransform()
    with pytest.raises(NotImplementedError):
        transform.log_abs_det_jacobian(x, y)


def test_reshape_transform(device):
    transform = T.ReshapeTransform((2, 3), (3, 2))
    values = np.arange(24.0).reshape(4, 2, 3)
    x = t(values, device)
    y = transform(x)
    np.testing.assert_array_equal(host(y), values.reshape(4, 3, 2))
    np.testing.assert_array_equal(host(transform.inv(y)), values)
    log_det = host(transform.log_abs_det_jacobian(x, y))
    np.testing.assert_array_equal(log_det, np.zeros(4))
    assert transform.forward_shape((5, 4, 2, 3)) == (5, 4, 3, 2)
    assert transform.inverse_shape((5, 3, 2)) == (5, 2, 3)
    assert transform.domain.event_dim == 2 and transform.codomain.event_dim == 2
    assert transform.bijective
    assert transform.with_cache(1).out_shape == (3, 2)
    with pytest.raises(ValueError, match="different numbers of elements"):
        T.ReshapeTransform((2, 3), (4,))
    with pytest.raises(ValueError, match="does not end in"):
        transform.forward_shape((4, 3, 2))
    with pytest.raises(ValueError, match="fewer dims"):
        transform.inverse_shape((2,))
    flatten = T.ReshapeTransform((2, 2), (4,))
    assert flatten.domain.event_dim == 2 and flatten.codomain.event_dim == 1


# --- cat and stack ---

def test_cat_transform_elementwise_parts(device):
    rng = np.random.default_rng(4)
    values = rng.normal(size=(4, 6))
    parts = [T.ExpTransform(), T.identity_transform, T.AffineTransform(1.0, -2.0)]
    transform = T.CatTransform(parts, dim=-1, lengths=[2, 1, 3])
    x = t(values, device)
    y = transform(x)
    expected = np.concatenate([np.exp(values[:, :2]), values[:, 2:3], 1 - 2 * values[:, 3:]],
                              -1)
    np.testing.assert_allclose(host(y), expected, rtol=1e-12)
    np.testing.assert_allclose(host(transform.inv(y)), values, rtol=1e-12, atol=1e-15)
    # event_dim 0: the log-dets are joined entry by entry, log |dy/dx| per entry
    expected_log_det = np.concatenate([values[:, :2], np.zeros((4, 1)),
                                       np.full((4, 3), math.log(2.0))], -1)
    np.testing.assert_allclose(host(transform.log_abs_det_jacobian(x, y)), expected_log_det,
                               rtol=1e-12, atol=1e-15)
    assert transform.bijective and transform.event_dim == 0 and transform.length == 6
    assert np.all(host(transform.codomain.check(y)))
    with pytest.raises(ValueError, match="expected 6 entries along dim -1"):
        transform(t(np.zeros((4, 5)), device))
    with pytest.raises(ValueError, match="2 lengths for 3 transforms"):
        T.CatTransform(parts, lengths=[1, 2])
    assert not T.CatTransform([T.ExpTransform(), T.AbsTransform()]).bijective


def test_cat_transform_of_vector_parts_sums_the_log_det(device):
    """dim inside the event: one log-det per row, that of the whole row's Jacobian."""
    rng = np.random.default_rng(5)
    values = rng.normal(size=(3, 5))
    parts = [T.IndependentTransform(T.SigmoidTransform(), 1),
             T.AffineTransform(0.5, t([3.0, -0.5, 2.0], device), event_dim=1)]
    transform = T.CatTransform(parts, dim=-1, lengths=[2, 3])
    x = t(values, device)
    y = transform(x)
    log_det = host(transform.log_abs_det_jacobian(x, y))
    assert log_det.shape == (3,) and transform.event_dim == 1

    def forward(v):
        return np.concatenate([1 / (1 + np.exp(-v[:2])), 0.5 + np.array([3.0, -0.5, 2.0]) * v[2:]])

    for row in range(3):
        np.testing.assert_allclose(host(y)[row], forward(values[row]), rtol=1e-12)
        jacobian = numerical_jacobian(forward, values[row])
        np.testing.assert_allclose(log_det[row], np.linalg.slogdet(jacobian)[1], rtol=1e-7)


def test_stack_transform(device):
    rng = np.random.default_rng(6)
    values = rng.normal(size=(5, 3))
    parts = [T.ExpTransform(), T.SigmoidTransform(), T.AffineTransform(0.0, 3.0)]
    transform = T.StackTransform(parts, dim=1)
    x = t(values, device)
    y = transform(x)
    expected = np.stack([np.exp(values[:, 0]), 1 / (1 + np.exp(-values[:, 1])),
                         3 * values[:, 2]], 1)
    np.testing.assert_allclose(host(y), expected, rtol=1e-12)
    np.testing.assert_allclose(host(transform.inv(y)), values, rtol=1e-9, atol=1e-12)
    h = 1e-6
    slope = (np.stack([np.exp(values[:, 0] + h), 1 / (1 + np.exp(-values[:, 1] - h)),
                       3 * (values[:, 2] + h)], 1) - np.stack(
        [np.exp(values[:, 0] - h), 1 / (1 + np.exp(-values[:, 1] + h)),
         3 * (values[:, 2] - h)], 1)) / (2 * h)
    np.testing.assert_allclose(host(transform.log_abs_det_jacobian(x, y)), np.log(slope),
                               rtol=1e-7, atol=1e-8)
    assert transform.bijective
    assert np.all(host(transform.codomain.check(y)))
    with pytest.raises(ValueError, match="expected 3 entries along dim 1"):
        transform(t(np.zeros((5, 2)), device))
    cached = transform.with_cache(1)
    assert all(part._cache_size == 1 for part in cached.transforms)
    with pytest.raises(ValueError, match="must be a Transform"):
        T.StackTransform([T.ExpTransform(), "exp"])


def test_cat_and_stack_gradcheck(device):
    x = t([[0.3, -0.7, 1.1], [0.2, 0.5, -1.4]], device, True)
    cat = T.CatTransform([T.ExpTransform(), T.TanhTransform()], dim=-1, lengths=[1, 2])
    stack = T.StackTransform([T.SoftplusTransform(), T.ExpTransform()], dim=0)
    assert tg.gradcheck(lambda v: cat(v), [x])
    assert tg.gradcheck(lambda v: cat.log_abs_det_jacobian(v, cat(v)), [x])
    assert tg.gradcheck(lambda v: stack(v), [x])
    assert tg.gradcheck(lambda v: stack.log_abs_det_jacobian(v, stack(v)), [x])


# --- biject_to / transform_to ---

REGISTRY_CASES = {
    # name: (constraint, unconstrained shape, biject_to type or None, transform_to type)
    "corr_cholesky": (constraints.corr_cholesky, (4, 6), T.CorrCholeskyTransform,
                      T.CorrCholeskyTransform),
    "positive_definite": (constraints.positive_definite, (4, 3, 3), None,
                          T.PositiveDefiniteTransform),
    "positive_semidefinite": (constraints.positive_semidefinite, (4, 3, 3), None,
                              T.PositiveDefiniteTransform),
    "cat": (constraints.cat([constraints.positive, constraints.interval(-1.0, 2.0),
                             constraints.real], dim=-1, lengths=[2, 1, 2]), (4, 5),
            T.CatTransform, T.CatTransform),
    "cat_simplex": (constraints.cat([constraints.simplex, constraints.simplex], dim=0,
                                    lengths=[2, 2]), (4, 3), T.CatTransform, T.CatTransform),
    "stack": (constraints.stack([constraints.positive, constraints.unit_interval,
                                 constraints.less_than(3.0)], dim=-1), (4, 3),
              T.StackTransform, T.StackTransform),
}


@pytest.mark.parametrize("name", list(REGISTRY_CASES))
@fuzz_settings(examples("DISTRIBUTIONS_TRANSFORMS_FUZZ_EXAMPLES", 5))
@given(seed=st.integers(0, 2 ** 16), spread=st.sampled_from([0.1, 1.0, 3.0]))
def test_biject_to_and_transform_to_land_in_the_constraint(name, device, seed, spread):
    constraint, shape, biject_type, transform_type = REGISTRY_CASES[name]
    x = t(np.random.default_rng(seed).normal(size=shape) * spread, device)
    registries = [(D.transform_to, transform_type)]
    if biject_type is None:
        with pytest.raises(NotImplementedError):
            D.biject_to(constraint)
    else:
        registries.append((D.biject_to, biject_type))
    for registry, expected_type in registries:
        transform = registry(constraint)
        assert type(transform) is expected_type
        y = transform(x)
        assert np.all(host(constraint.check(y))), (name, host(y))
    if biject_type is not None:
        bijection = D.biject_to(constraint)
        assert bijection.bijective
        y = bijection(x)
        np.testing.assert_allclose(host(bijection.inv(y)), host(x), rtol=1e-7, atol=1e-7)


def test_biject_to_cat_parts_follow_the_constraints(device):
    constraint = constraints.cat([constraints.positive, constraints.simplex], dim=0,
                                 lengths=[1, 3])
    transform = D.biject_to(constraint)
    assert isinstance(transform.transforms[0], T.ExpTransform)
    assert isinstance(transform.transforms[1], T.StickBreakingTransform)
    assert transform.lengths == [1, 3] and transform.dim == 0
    assert isinstance(D.transform_to(constraint).transforms[1], T.SoftmaxTransform)
    stacked = D.transform_to(constraints.stack([constraints.simplex] * 2, dim=0))
    assert all(isinstance(part, T.SoftmaxTransform) for part in stacked.transforms)


# --- ExponentialFamily ---

class NormalByNaturalParams(D.Normal):
    """N(μ, σ²): θ = (μ/σ², −1/(2σ²)), F(θ) = −θ₁²/(4θ₂) + ½·log(−π/θ₂), k = 0."""

    @property
    def _natural_params(self):
        return (self.loc / self.scale ** 2, -0.5 / self.scale ** 2)

    def _log_normalizer(self, x, y):
        return -0.25 * x ** 2 / y + 0.5 * (-math.pi / y).log()

    @property
    def _mean_carrier_measure(self):
        return 0


class GammaByNaturalParams(D.Gamma):
    """Gamma(α, β): θ = (α − 1, −β), F(θ) = log Γ(θ₁ + 1) − (θ₁ + 1)·log(−θ₂), k = 0."""

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return tg.lgamma(x + 1) + (x + 1) * (-y.reciprocal()).log()

    @property
    def _mean_carrier_measure(self):
        return 0


class DirichletByNaturalParams(D.Dirichlet):
    """Dir(α): θ = α, F(θ) = Σ log Γ(θ) − log Γ(Σθ), k(x) = −Σ log x, so E[k] =
    −Σ (ψ(αᵢ) − ψ(α₀))."""

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return tg.lgamma(x).sum(-1) - tg.lgamma(x.sum(-1))

    @property
    def _mean_carrier_measure(self):
        alpha = self.concentration
        return -(tg.digamma(alpha) - tg.digamma(alpha.sum(-1, keepdim=True))).sum(-1)


class Rate(ExponentialFamily):
    """An Exponential(λ) written only through its natural parameter θ = −λ, F(θ) = −log(−θ)."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, rate, validate_args=None):
        self.rate = rate
        super().__init__(rate.shape, validate_args=validate_args)

    @property
    def _natural_params(self):
        return (-self.rate,)

    def _log_normalizer(self, x):
        return -(-x).log()

    @property
    def _mean_carrier_measure(self):
        return 0


class OtherRate(Rate):
    """The same family under another type: no Bregman KL across types."""


def test_exponential_families_are_exponential_families():
    for family in (D.Normal(0.0, 1.0), D.Bernoulli(0.3), D.Beta(2.0, 3.0), D.Gamma(2.0, 1.0),
                   D.Chi2(3.0), D.Exponential(1.0), D.Poisson(2.0),
                   D.Dirichlet(tg.tensor([1.0, 2.0]))):
        assert isinstance(family, ExponentialFamily), type(family).__name__
    assert not isinstance(D.Laplace(0.0, 1.0), ExponentialFamily)
    assert D.ExponentialFamily is ExponentialFamily
    with pytest.raises(NotImplementedError, match="Beta has no _mean_carrier_measure"):
        ExponentialFamily.entropy(D.Beta(2.0, 3.0))  # (its carrier −log x(1 − x) is not 0)


def test_bregman_entropy_equals_the_closed_forms(device):
    loc, scale = [0.5, -2.0, 3.0], [0.3, 1.0, 4.0]
    normal = NormalByNaturalParams(t(loc, device), t(scale, device))
    np.testing.assert_allclose(host(ExponentialFamily.entropy(normal)),
                               0.5 * np.log(2 * math.pi * math.e * np.array(scale) ** 2),
                               rtol=1e-12)
    concentration, rate = [0.5, 2.0, 7.5], [1.0, 0.2, 3.0]
    gamma = GammaByNaturalParams(t(concentration, device), t(rate, device))
    expected = [a - math.log(b) + math.lgamma(a) + (1 - a) * digamma(a)
                for a, b in zip(concentration, rate)]
    np.testing.assert_allclose(host(ExponentialFamily.entropy(gamma)), expected, rtol=1e-10)
    alphas = [[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]]
    dirichlet = DirichletByNaturalParams(t(alphas, device))
    expected = []
    for alpha in alphas:
        total = sum(alpha)
        log_beta = sum(math.lgamma(a) for a in alpha) - math.lgamma(total)
        expected.append(log_beta + (total - len(alpha)) * digamma(total)
                        - sum((a - 1) * digamma(a) for a in alpha))
    np.testing.assert_allclose(host(ExponentialFamily.entropy(dirichlet)), expected, rtol=1e-10)
    rate_family = Rate(t([0.5, 2.0], device))
    np.testing.assert_allclose(host(rate_family.entropy()), 1 - np.log([0.5, 2.0]), rtol=1e-12)
    with tg.no_grad():
        np.testing.assert_allclose(host(rate_family.entropy()), 1 - np.log([0.5, 2.0]))


def test_bregman_kl_equals_the_closed_forms(device):
    p_rate, q_rate = np.array([0.5, 2.0, 1.0]), np.array([1.5, 0.3, 1.0])
    divergence = D.kl_divergence(Rate(t(p_rate, device)), Rate(t(q_rate, device)))
    ratio = q_rate / p_rate
    np.testing.assert_allclose(host(divergence), ratio - np.log(ratio) - 1, rtol=1e-12,
                               atol=1e-15)
    p = NormalByNaturalParams(t([0.0, 1.0], device), t([1.0, 0.5], device))
    q = NormalByNaturalParams(t([0.5, -1.0], device), t([2.0, 0.7], device))
    variance_ratio = (np.array([1.0, 0.5]) / np.array([2.0, 0.7])) ** 2
    expected = 0.5 * (variance_ratio + (np.array([-0.5, 2.0]) / np.array([2.0, 0.7])) ** 2
                      - 1 - np.log(variance_ratio))
    np.testing.assert_allclose(host(kl._kl_expfamily_expfamily(p, q)), expected, rtol=1e-10)
    p = DirichletByNaturalParams(t([[1.0, 2.0, 3.0]], device))
    q = DirichletByNaturalParams(t([[2.0, 0.5, 1.0]], device))
    np.testing.assert_allclose(host(kl._kl_expfamily_expfamily(p, q)),
                               host(D.kl_divergence(D.Dirichlet(p.concentration),
                                                    D.Dirichlet(q.concentration))),
                               rtol=1e-10)
    with pytest.raises(NotImplementedError, match="Bregman"):
        D.kl_divergence(Rate(t([1.0], device)), OtherRate(t([1.0], device)))
    q_rate = t([1.5], device, True)
    D.kl_divergence(Rate(t([0.5], device)), Rate(q_rate)).sum().backward()
    np.testing.assert_allclose(host(q_rate.grad), [1 / 0.5 - 1 / 1.5], rtol=1e-12)


# --- KL between families ---

def log_normal_pdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - math.log(scale * math.sqrt(2 * math.pi))


def log_gamma_pdf(x, concentration, rate):
    return (concentration * math.log(rate) - math.lgamma(concentration)
            + (concentration - 1) * np.log(x) - rate * x)


def log_beta_pdf(x, a, b):
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    return (a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - log_beta


def log_gumbel_pdf(x, loc, scale):
    z = (x - loc) / scale
    return -z - np.exp(-z) - math.log(scale)


def log_laplace_pdf(x, loc, scale):
    return -np.abs(x - loc) / scale - math.log(2 * scale)


def log_pareto_pdf(x, scale, alpha):
    return math.log(alpha) + alpha * math.log(scale) - (alpha + 1) * np.log(x)


def log_continuous_bernoulli_pdf(x, lam):
    log_c = math.log(2 * math.atanh(1 - 2 * lam) / (1 - 2 * lam))
    return log_c + x * math.log(lam) + (1 - x) * math.log(1 - lam)


GRID = 400_000


def midpoints(low, high):
    return low + (np.arange(GRID) + 0.5) * (high - low) / GRID


# family: (make(params, device), log density(x, *params), grid of p's support(*params)
#          or None for the quantile grid below)
FAMILIES = {
    "Normal": (lambda a, b, d: D.Normal(t(a, d), t(b, d)), log_normal_pdf,
               lambda a, b: midpoints(a - 15 * b, a + 15 * b)),
    "Gamma": (lambda a, b, d: D.Gamma(t(a, d), t(b, d)), log_gamma_pdf,
              lambda a, b: midpoints(0.0, (a + 40 * math.sqrt(a) + 40) / b)),
    "Exponential": (lambda a, d: D.Exponential(t(a, d)),
                    lambda x, a: math.log(a) - a * x, lambda a: midpoints(0.0, 60 / a)),
    "Beta": (lambda a, b, d: D.Beta(t(a, d), t(b, d)), log_beta_pdf,
             lambda a, b: midpoints(0.0, 1.0)),
    "Uniform": (lambda a, b, d: D.Uniform(t(a, d), t(b, d)),
                lambda x, a, b: np.full_like(x, -math.log(b - a)), midpoints),
    "Gumbel": (lambda a, b, d: D.Gumbel(t(a, d), t(b, d)), log_gumbel_pdf,
               lambda a, b: midpoints(a - 6 * b, a + 60 * b)),
    "Laplace": (lambda a, b, d: D.Laplace(t(a, d), t(b, d)), log_laplace_pdf,
                lambda a, b: midpoints(a - 60 * b, a + 60 * b)),
    "Pareto": (lambda a, b, d: D.Pareto(t(a, d), t(b, d)), log_pareto_pdf, None),
    "ContinuousBernoulli": (lambda a, d: D.ContinuousBernoulli(probs=t(a, d)),
                            log_continuous_bernoulli_pdf, lambda a: midpoints(0.0, 1.0)),
}

# (p family, p params, q family, q params)
KL_PAIRS = [
    ("Beta", (2.0, 3.0), "ContinuousBernoulli", (0.3,)),
    ("Beta", (1.5, 4.0), "Exponential", (2.5,)),
    ("Beta", (2.0, 1.5), "Gamma", (3.0, 2.0)),
    ("Beta", (3.0, 2.0), "Normal", (0.2, 0.4)),
    ("Beta", (2.5, 2.0), "Uniform", (-0.5, 1.5)),
    ("ContinuousBernoulli", (0.2,), "Exponential", (0.7,)),
    ("ContinuousBernoulli", (0.8,), "Normal", (1.0, 0.5)),
    ("ContinuousBernoulli", (0.4,), "Uniform", (-1.0, 2.0)),
    ("Exponential", (1.5,), "Gamma", (2.5, 0.8)),
    ("Exponential", (0.7,), "Gumbel", (0.5, 1.5)),
    ("Exponential", (2.0,), "Normal", (-0.5, 1.2)),
    ("Gamma", (2.5, 1.5), "Exponential", (0.6,)),
    ("Gamma", (3.0, 2.0), "Gumbel", (1.0, 0.8)),
    ("Gamma", (1.5, 0.5), "Normal", (2.0, 3.0)),
    ("Gumbel", (0.5, 1.3), "Normal", (1.0, 2.0)),
    ("Laplace", (-0.5, 0.7), "Normal", (0.5, 1.5)),
    ("Normal", (0.3, 0.8), "Gumbel", (-0.5, 1.5)),
    ("Normal", (1.0, 1.5), "Laplace", (-0.5, 0.9)),
    ("Pareto", (1.5, 3.0), "Exponential", (0.8,)),
    ("Pareto", (0.5, 4.0), "Gamma", (2.0, 1.5)),
    ("Pareto", (1.0, 6.0), "Normal", (1.0, 2.0)),
    ("Uniform", (0.2, 0.7), "Beta", (2.0, 3.0)),
    ("Uniform", (0.0, 1.0), "Beta", (1.5, 0.8)),
    ("Uniform", (0.1, 0.9), "ContinuousBernoulli", (0.3,)),
    ("Uniform", (0.0, 2.0), "Exponential", (1.5,)),
    ("Uniform", (0.5, 3.0), "Gamma", (2.0, 1.5)),
    ("Uniform", (-1.0, 2.0), "Gumbel", (0.5, 1.2)),
    ("Uniform", (-1.0, 2.0), "Normal", (0.5, 0.8)),
    ("Uniform", (2.0, 5.0), "Pareto", (1.5, 2.5)),
]


def kl_by_integral(p_name, p_params, q_name, q_params) -> float:
    """∫ p·(log p − log q) by the midpoint rule on p's support; Pareto through its quantile
    x = s·(1 − u)^(−1/α), u ~ U(0, 1) (its tail is too long for a grid)."""
    _, log_p, grid = FAMILIES[p_name]
    _, log_q, _ = FAMILIES[q_name]
    if grid is None:
        scale, alpha = p_params
        x = scale * (1 - midpoints(0.0, 1.0)) ** (-1 / alpha)
        return float(np.mean(log_p(x, *p_params) - log_q(x, *q_params)))
    x = grid(*p_params)
    density_log = log_p(x, *p_params)
    integrand = np.exp(density_log) * (density_log - log_q(x, *q_params))
    return float(np.sum(integrand) * (x[1] - x[0]))


@pytest.mark.parametrize("p_name, p_params, q_name, q_params", KL_PAIRS,
                         ids=[f"{p}-{q}-{i}" for i, (p, _, q, _) in enumerate(KL_PAIRS)])
def test_kl_between_families_against_a_numerical_integral(p_name, p_params, q_name, q_params,
                                                          device):
    p = FAMILIES[p_name][0](*p_params, device)
    q = FAMILIES[q_name][0](*q_params, device)
    closed_form = host(D.kl_divergence(p, q))
    expected = kl_by_integral(p_name, p_params, q_name, q_params)
    assert closed_form.shape == ()
    assert closed_form == pytest.approx(expected, rel=2e-4, abs=2e-5), (closed_form, expected)


def test_kl_bernoulli_poisson_by_the_sum(device):
    probs, rate = np.array([0.1, 0.5, 0.9]), np.array([0.3, 2.0, 1.0])
    expected = []
    for pi, lam in zip(probs, rate):
        log_q = [-lam, math.log(lam) - lam]
        expected.append((1 - pi) * (math.log(1 - pi) - log_q[0])
                        + pi * (math.log(pi) - log_q[1]))
    divergence = D.kl_divergence(D.Bernoulli(t(probs, device)), D.Poisson(t(rate, device)))
    np.testing.assert_allclose(host(divergence), expected, rtol=1e-12)


INFINITE_PAIRS = [
    (p, q) for p, qs in {
        "Beta": ["Pareto"], "ContinuousBernoulli": ["Pareto"],
        "Exponential": ["Beta", "ContinuousBernoulli", "Pareto", "Uniform"],
        "Gamma": ["Beta", "ContinuousBernoulli", "Pareto", "Uniform"],
        "Gumbel": ["Beta", "ContinuousBernoulli", "Exponential", "Gamma", "Pareto", "Uniform"],
        "Laplace": ["Beta", "ContinuousBernoulli", "Exponential", "Gamma", "Pareto", "Uniform"],
        "Normal": ["Beta", "ContinuousBernoulli", "Exponential", "Pareto", "Uniform"],
        "Pareto": ["Beta", "ContinuousBernoulli", "Uniform"],
    }.items() for q in qs]

PARAMS = {"Beta": ([2.0, 3.0], [1.5, 0.5]), "ContinuousBernoulli": ([0.3, 0.6],),
          "Exponential": ([1.0, 2.0],), "Gamma": ([2.0, 0.5], [1.0, 3.0]),
          "Gumbel": ([0.0, 1.0], [1.0, 2.0]), "Laplace": ([0.0, 1.0], [1.0, 2.0]),
          "Normal": ([0.0, 1.0], [1.0, 2.0]), "Pareto": ([1.0, 0.5], [3.0, 2.0]),
          "Uniform": ([-10.0, 0.0], [10.0, 1000.0])}


@pytest.mark.parametrize("p_name, q_name", INFINITE_PAIRS)
def test_kl_is_infinite_where_the_supports_do_not_nest(p_name, q_name, device):
    p = FAMILIES[p_name][0](*PARAMS[p_name], device)
    q = FAMILIES[q_name][0](*PARAMS[q_name], device)
    divergence = host(D.kl_divergence(p, q))
    assert divergence.shape == (2,)
    assert np.all(np.isposinf(divergence))


def test_kl_is_infinite_where_the_parameters_leave_the_support(device):
    def kl(p, q):
        return host(D.kl_divergence(p, q))

    uniform = D.Uniform(t([0.2, -0.1, 0.5], device), t([0.8, 0.5, 1.2], device))
    assert np.isposinf(kl(uniform, D.Beta(t(2.0, device), t(2.0, device)))).tolist() == [
        False, True, True]
    cont = D.ContinuousBernoulli(probs=t(0.3, device))
    assert np.isposinf(kl(uniform, cont)).tolist() == [False, True, True]
    assert np.isposinf(kl(uniform, D.Exponential(t(1.0, device)))).tolist() == [
        False, True, False]
    assert np.isposinf(kl(uniform, D.Gamma(t(2.0, device), t(1.0, device)))).tolist() == [
        False, True, False]
    assert np.isposinf(kl(uniform, D.Pareto(t(0.3, device), t(2.0, device)))).tolist() == [
        True, True, False]
    pareto = D.Pareto(t(1.0, device), t([0.8, 1.5, 2.5], device))
    assert np.isposinf(kl(pareto, D.Exponential(t(1.0, device)))).tolist() == [
        True, False, False]
    assert np.isposinf(kl(pareto, D.Gamma(t(2.0, device), t(1.0, device)))).tolist() == [
        True, False, False]
    assert np.isposinf(kl(pareto, D.Normal(t(0.0, device), t(1.0, device)))).tolist() == [
        True, True, False]
    interval = D.Uniform(t([-0.1, 0.0, 0.2], device), t([1.0, 1.1, 1.0], device))
    beta = D.Beta(t(2.0, device), t(2.0, device))
    assert np.isposinf(kl(beta, interval)).tolist() == [False, False, True]
    assert np.isposinf(kl(cont, interval)).tolist() == [False, False, True]
    poisson = D.Poisson(t([1.0, 2.0], device))
    assert np.all(np.isposinf(kl(poisson, D.Bernoulli(t(0.5, device)))))
    assert np.all(np.isposinf(kl(poisson, D.Binomial(10, t(0.5, device)))))


def test_kl_between_families_gradcheck(device):
    a, b = t(2.0, device, True), t(3.0, device, True)
    loc, scale = t(0.3, device, True), t(0.8, device, True)
    assert tg.gradcheck(lambda a, b, m, s: D.kl_divergence(D.Beta(a, b), D.Normal(m, s)),
                        [a, b, loc, scale])
    assert tg.gradcheck(lambda m, s, a, b: D.kl_divergence(D.Normal(m, s), D.Gumbel(a, b)),
                        [loc, scale, a, b])
    assert tg.gradcheck(lambda m, s, a, b: D.kl_divergence(D.Normal(m, s), D.Laplace(a, b)),
                        [loc, scale, a, b])
    low, high = t(0.2, device, True), t(0.7, device, True)
    assert tg.gradcheck(lambda lo, hi, a, b: D.kl_divergence(D.Uniform(lo, hi), D.Beta(a, b)),
                        [low, high, a, b])
    assert tg.gradcheck(lambda a, b, r: D.kl_divergence(D.Gamma(a, b), D.Exponential(r)),
                        [a, b, scale])


# --- the families' natural parameters: Bregman entropy and KL equal the closed forms ---

def _family_pairs(device):
    """(p, q) of each family that defines θ and F, float64."""
    f = lambda values: tg.tensor(np.array(values, np.float64), device=device)  # noqa: E731
    return {
        "Normal": (D.Normal(f([0.3, -1.0]), f([0.7, 2.0])), D.Normal(f([1.0, 0.5]), f([1.5, 0.4]))),
        "Exponential": (D.Exponential(f([0.5, 3.0])), D.Exponential(f([2.0, 0.7]))),
        "Gamma": (D.Gamma(f([2.5, 0.8]), f([1.5, 3.0])), D.Gamma(f([1.2, 4.0]), f([0.6, 2.0]))),
        "Beta": (D.Beta(f([2.0, 0.5]), f([3.0, 1.5])), D.Beta(f([1.0, 2.5]), f([0.7, 4.0]))),
        "Dirichlet": (D.Dirichlet(f([[1.0, 2.0, 0.5]])), D.Dirichlet(f([[3.0, 0.4, 1.1]]))),
        "Bernoulli": (D.Bernoulli(probs=f([0.2, 0.9])), D.Bernoulli(probs=f([0.6, 0.3]))),
        "Poisson": (D.Poisson(f([0.5, 4.0])), D.Poisson(f([2.0, 1.5]))),
        "ContinuousBernoulli": (D.ContinuousBernoulli(f([0.2, 0.9, 0.5002])),
                                D.ContinuousBernoulli(f([0.7, 0.3, 0.4]))),
    }


@pytest.mark.parametrize("family", ["Normal", "Exponential", "Gamma", "Beta", "Dirichlet",
                                    "Bernoulli", "Poisson", "ContinuousBernoulli"])
def test_bregman_kl_of_each_family_equals_its_closed_form(family, device):
    from tinygrad_opt.distributions.kl import _kl_expfamily_expfamily
    p, q = _family_pairs(device)[family]
    assert isinstance(p, D.ExponentialFamily)
    bregman = _kl_expfamily_expfamily(p, q).numpy()
    np.testing.assert_allclose(bregman, D.kl_divergence(p, q).numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("family", ["Normal", "Exponential", "Gamma", "Bernoulli",
                                    "ContinuousBernoulli"])
def test_bregman_entropy_of_the_families_with_a_zero_carrier(family, device):
    """F(θ) − ⟨θ, ∇F(θ)⟩ is the entropy where the carrier measure is 0 (PyTorch defines
    ``_mean_carrier_measure`` for exactly these)."""
    p, _ = _family_pairs(device)[family]
    bregman = D.ExponentialFamily.entropy(p).numpy()
    np.testing.assert_allclose(bregman, p.entropy().numpy(), rtol=1e-9, atol=1e-12)


def test_wishart_is_an_exponential_family(device):
    """θ = (−Σ⁻¹/2, (ν − p − 1)/2): the Bregman entropy is Wishart's closed form, and the
    Bregman KL (what kl_divergence now gives for two Wisharts, as PyTorch) is the Monte
    Carlo mean of log p − log q within 4 standard errors."""
    cov = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    p = D.Wishart(t(5.5, device), covariance_matrix=t(cov, device))
    q = D.Wishart(t(4.0, device), covariance_matrix=t(0.7 * cov, device))
    assert isinstance(p, ExponentialFamily)
    np.testing.assert_allclose(host(ExponentialFamily.entropy(p)), host(p.entropy()),
                               rtol=1e-12)
    tg.manual_seed(0)
    x = p.sample((20000,))
    log_ratio = host(p.log_prob(x) - q.log_prob(x))
    standard_error = log_ratio.std() / math.sqrt(log_ratio.size)
    assert abs(host(D.kl_divergence(p, q)) - log_ratio.mean()) < 4 * standard_error
