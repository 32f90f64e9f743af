"""Audit of the reductions and norms outside the reading path (prod, cumsum/cumprod,
logcumsumexp, amax/amin/aminmax, var_mean/std_mean, nansum/nanmean, count_nonzero,
all/any, Tensor.norm, linalg.vector_norm/matrix_norm/norm, dist, cdist, pdist,
pairwise_distance, cosine_similarity, F.normalize, logsumexp, softmax with dtype=):
values against plain-NumPy references written from PyTorch's documented formulas,
float64 gradchecks away from the kinks, and the gradients AT the kinks that PyTorch
chooses.

Bugs fixed: pdist(p=inf) shared the gradient among tied coordinates (PyTorch's pdist
kernel, as cdist's, gives each tie all of it); all/any of a uint8 tensor gave bool
(PyTorch documents uint8) and refused a list of dims; prod of a 0-d tensor over dim 0
returned the input itself (keepdim=True) or a view of it, so in-place writes to the
result changed the input."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg

F = tg.nn.functional
LA = tg.linalg
INF = math.inf
NAN = math.nan


def leaf(values):
    return tg.tensor(np.array(values, dtype=np.float64), dtype=tg.float64, requires_grad=True)


def value_and_grad(function, values):
    """function(x) and d(Σ function(x))/dx."""
    x = leaf(values)
    y = function(x)
    (y.sum() if y.ndim else y).backward()
    return y.numpy(), x.grad.numpy()


def data(shape, seed=0):
    """float64 values away from 0 and without ties."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + np.sign(rng.standard_normal(shape)) * 0.2


# --- prod, cumprod, cumsum ---

def test_prod_gradient_with_zeros():
    # one zero: that entry gets the product of the others, the rest 0; two zeros: all 0
    assert value_and_grad(lambda t: t.prod(), [2., 0., 3.])[1].tolist() == [0, 6, 0]
    assert value_and_grad(lambda t: t.prod(), [2., 0., 0.])[1].tolist() == [0, 0, 0]
    y, g = value_and_grad(lambda t: t.prod(1, keepdim=True), [[2., 0., 3.], [1., 2., 3.]])
    assert y.shape == (2, 1) and g.tolist() == [[0, 6, 0], [6, 3, 2]]
    y, g = value_and_grad(lambda t: t.prod((0, 1)), [[2., 0., 3.], [1., 2., 3.]])
    assert g.tolist() == [[0, 36, 0], [0, 0, 0]]
    x = data((3, 4))
    x[0, 1] = x[1, 2] = x[0, 3] = 0
    assert tg.gradcheck(lambda t: t.prod(1), [leaf(x)])
    assert tg.gradgradcheck(lambda t: t.prod(), [leaf(x)])
    assert tg.gradgradcheck(lambda t: t.prod(), [leaf([[2., 0., 3.]])])


def test_prod_dtypes_and_empty():
    assert tg.tensor([1, 2, 3], dtype=tg.int32).prod().dtype == tg.int64
    assert tg.tensor([True, True]).prod().dtype == tg.int64
    assert tg.tensor([2, 3], dtype=tg.int32).prod(dtype=tg.float64).item() == 6.0
    assert tg.tensor(np.zeros((0, 3))).prod(0).tolist() == [1, 1, 1]


def test_prod_of_0d_with_keepdim_is_a_new_tensor():
    x = leaf(3.0)
    y = x.prod(0, keepdim=True)
    assert y is not x and y.shape == () and y.grad_fn is not None   # was: x itself
    y.backward()
    assert x.grad.item() == 1
    for keepdim in (True, False):    # not a view either: writing to it leaves the input be
        z = tg.tensor(3.0)
        w = z.prod(0, keepdim=keepdim)
        w.add_(1)
        assert z.item() == 3.0 and w.item() == 4.0


def test_cumprod_gradient_with_zeros_is_exact():
    # y = [2, 0, 0, 0, 0]; dΣy/dx_0 = 1, dΣy/dx_1 = 2 + 2·3 (y_3, y_4 hold the second 0)
    y, g = value_and_grad(lambda t: t.cumprod(0), [2., 0., 3., 0., 5.])
    assert y.tolist() == [2, 0, 0, 0, 0] and g.tolist() == [1, 8, 0, 0, 0]
    x = data((3, 4))
    x[0, 1] = x[1, 2] = x[0, 3] = 0
    for dim in (0, 1):
        assert tg.gradcheck(lambda t: t.cumprod(dim), [leaf(x)])
        assert tg.gradgradcheck(lambda t: t.cumprod(dim), [leaf(x)])
    assert tg.gradgradcheck(lambda t: t.cumsum(0), [leaf(x)])
    assert tg.tensor([1, 2], dtype=tg.int32).cumsum(0).dtype == tg.int64
    assert tg.tensor([1, 2], dtype=tg.int32).cumsum(0, dtype=tg.float32).dtype == tg.float32


def test_logcumsumexp_minus_inf():
    y, g = value_and_grad(lambda t: tg.logcumsumexp(t, 0), [0., -INF, 1.])
    np.testing.assert_allclose(y, [0, 0, np.logaddexp(0, 1)])
    # a −inf entry after a finite prefix gets 0 (PyTorch's formula: exp(−inf + finite))
    np.testing.assert_allclose(g, [2 + 1 / (1 + np.e), 0, np.e / (1 + np.e)])
    with np.errstate(all="ignore"):
        y = tg.logcumsumexp(leaf([-INF, -INF, 1.]), 0)
    assert y.numpy().tolist() == [-INF, -INF, 1.0]
    assert tg.gradgradcheck(lambda t: tg.logcumsumexp(t, 1), [leaf(data((3, 4)))])


# --- extremes, spread, NaN-skipping, counts ---

def test_amax_amin_aminmax_share_ties():
    assert value_and_grad(lambda t: t.amax(), [1., 3., 3.])[1].tolist() == [0, .5, .5]
    g = value_and_grad(lambda t: t.amin((0, 1)), [[1., 3.], [1., 1.]])[1]
    np.testing.assert_allclose(g, [[1 / 3, 0], [1 / 3, 1 / 3]])
    low, high = tg.aminmax(leaf([[1., 3.], [0., 5.]]), dim=1, keepdim=True)
    assert low.numpy().tolist() == [[1], [0]] and high.numpy().tolist() == [[3], [5]]
    assert tg.gradcheck(lambda t: tg.aminmax(t, dim=0), [leaf(data((3, 4)))])


def test_var_mean_std_mean_corrections():
    x = data((3, 4))
    v, m = tg.var_mean(leaf(x), (0, 1), correction=2)
    np.testing.assert_allclose(v.numpy(), x.var(ddof=2))
    np.testing.assert_allclose(m.numpy(), x.mean())
    s, _ = tg.std_mean(leaf(x), 1, False, True)            # (input, dim, unbiased, keepdim)
    np.testing.assert_allclose(s.numpy(), x.std(1, ddof=0, keepdims=True))
    s, _ = tg.std_mean(leaf(x), unbiased=False)
    np.testing.assert_allclose(s.numpy(), x.std())
    with np.errstate(all="ignore"):   # correction ≥ n: divided by max(0, n − c) = 0
        assert tg.var_mean(leaf([1., 3.]), correction=2)[0].item() == INF
        assert tg.std_mean(leaf([1., 3.]), correction=3)[0].item() == INF
        assert math.isnan(tg.var_mean(leaf([1.]))[0].item())          # 0 / 0
    assert tg.gradgradcheck(lambda t: tg.std_mean(t, (0, 1), correction=0), [leaf(x)])


def test_nansum_nanmean_count_nonzero():
    y, g = value_and_grad(tg.nansum, [NAN, NAN])
    assert y == 0 and g.tolist() == [0, 0]
    with np.errstate(all="ignore"):
        y = tg.nanmean(leaf([[NAN, 1.], [NAN, NAN]]), 1).numpy()
    assert y[0] == 1 and math.isnan(y[1])
    counts = tg.tensor([[0, 1, 2], [0, 0, 3]])
    assert tg.count_nonzero(counts, dim=(0, 1)).item() == 3
    assert tg.count_nonzero(counts, dim=0).tolist() == [0, 1, 2]
    assert tg.count_nonzero(tg.tensor([NAN, 0., 1.])).item() == 2     # NaN is nonzero


def test_all_any():
    x = tg.tensor([[0, 1, 2], [1, 1, 3]])
    assert not x.all((0, 1)).item() and x.all(1).tolist() == [False, True]
    assert x.all([0, 1]).item() is False and tg.any(x, dim=[0, 1]).item()   # (lists: was TypeError)
    empty = tg.tensor(np.zeros((0, 3)))
    assert empty.all().item() and not empty.any().item() and empty.all(0).tolist() == [True] * 3
    assert tg.tensor([NAN]).all().item()
    assert x.all().dtype == tg.bool


def test_all_any_of_uint8_are_uint8():
    x = tg.tensor([[1, 0], [2, 3]], dtype=tg.uint8)
    assert x.all(1).dtype == tg.uint8 and x.all(1).tolist() == [0, 1]   # was bool
    assert tg.any(x).dtype == tg.uint8 and tg.any(x).item() == 1


# --- norms ---

def test_tensor_norm_values():
    x = np.array([[3., 0., -4.], [1., -1., 2.]])
    a = np.abs(x)
    expected = {0: (a > 0).sum(1), 1: a.sum(1), 2: np.sqrt((a ** 2).sum(1)),
                3: (a ** 3).sum(1) ** (1 / 3), INF: a.max(1), -INF: a.min(1), "fro": None}
    for p, value in expected.items():
        value = np.sqrt((a ** 2).sum(1)) if p == "fro" else value
        np.testing.assert_allclose(leaf(x).norm(p, 1).numpy(), value)
    assert leaf(x).norm(2, 1, keepdim=True).shape == (2, 1)
    np.testing.assert_allclose(leaf(x).norm("nuc").item(), np.linalg.norm(x, "nuc"))
    np.testing.assert_allclose(leaf(x).norm().item(), np.linalg.norm(x))
    assert tg.tensor([3., 4.], dtype=tg.float32).norm(dtype=tg.float64).dtype == tg.float64


def test_norm_gradients_at_the_kinks():
    zero = [0., 0.]
    for p in (2, 1, 3, 0.5, INF):      # PyTorch: 0 at the zero vector (2: not 0/0)
        assert value_and_grad(lambda t: t.norm(p), zero)[1].tolist() == [0, 0]
    # p < 1: a zero entry gets 0 (PyTorch masks x == 0), the rest |x|^(p−1)·N^(1−p)
    assert value_and_grad(lambda t: t.norm(0.5), [0., 4.])[1].tolist() == [0, 1]
    assert value_and_grad(lambda t: LA.vector_norm(t, -1), [1., 0., 4.])[1].tolist() == [0] * 3
    g = value_and_grad(lambda t: LA.vector_norm(t, -1), [1., 2., 4.])[1]
    np.testing.assert_allclose(g, np.array([1, 1 / 4, 1 / 16]) * (4 / 7) ** 2)
    # ±inf: tied extremes share sign(x)·g (linalg_vector_norm's mask.sum)
    assert value_and_grad(lambda t: t.norm(INF), [3., -3., 1.])[1].tolist() == [.5, -.5, 0]
    assert value_and_grad(lambda t: t.norm(-INF), [3., -1., 1.])[1].tolist() == [0, -.5, .5]
    assert value_and_grad(lambda t: t.norm(0), [3., 0.])[1].tolist() == [0, 0]


def test_norm_gradchecks_away_from_kinks():
    x = data((3, 4))
    for p in (1, 2, 3, 0.5, 1.5, -1.5, INF, -INF):
        assert tg.gradcheck(lambda t: t.norm(p, 1), [leaf(x)])
        assert tg.gradcheck(lambda t: LA.vector_norm(t, p, (0, 1)), [leaf(x)])
    assert tg.gradgradcheck(lambda t: t.norm(3, 1), [leaf(x)])
    A = data((2, 3, 4), seed=1)
    for ord in ("fro", "nuc", 2, -2, 1, -1, INF, -INF):
        expected = [np.linalg.norm(a, ord) for a in A]
        np.testing.assert_allclose(LA.matrix_norm(leaf(A), ord).numpy(), expected)
        assert tg.gradcheck(lambda t: LA.matrix_norm(t, ord), [leaf(A)])
    expected = [np.linalg.norm(A[:, i, :].T, -1) for i in range(3)]      # dims reversed
    np.testing.assert_allclose(LA.matrix_norm(leaf(A), -1, dim=(2, 0)).numpy(), expected)
    assert LA.matrix_norm(leaf(A), 2, dim=(0, 2), keepdim=True).shape == (1, 3, 1)
    assert LA.vector_norm(tg.tensor([3., 4.], dtype=tg.float32), dtype=tg.float64).dtype \
        == tg.float64


def test_dist():
    zeros = tg.zeros(3, dtype=tg.float64)
    assert tg.dist(leaf([1., 0., 2.]), zeros, 0).item() == 2
    assert tg.dist(leaf([1., 0., -2.]), zeros, INF).item() == 2
    assert value_and_grad(lambda t: tg.dist(t, zeros), [0., 0., 0.])[1].tolist() == [0] * 3
    assert tg.gradcheck(lambda a, b: tg.dist(a, b, 3), [leaf(data((3, 4))), leaf(data((4,), 2))])


# --- distances ---

def test_cdist_values_and_kinks():
    a, b = np.array([[0., 0.], [1., 2.]]), np.array([[0., 0.], [3., -1.], [1., 5.]])
    d = a[:, None] - b[None]
    for p in (0, 1, 2, 3, 0.5, INF):
        expected = ((d != 0).sum(-1) if p == 0 else np.abs(d).max(-1) if p == INF
                    else (np.abs(d) ** p).sum(-1) ** (1 / p))
        np.testing.assert_allclose(tg.cdist(leaf(a), leaf(b), p).numpy(), expected)
    constant = tg.tensor(b, dtype=tg.float64)
    g = value_and_grad(lambda t: tg.cdist(t, constant), a)[1]
    # the coincident pair (row 0 with row 0) contributes 0, as PyTorch
    np.testing.assert_allclose(g[0], d[0, 1] / np.linalg.norm(d[0, 1])
                               + d[0, 2] / np.linalg.norm(d[0, 2]))
    g = value_and_grad(lambda t: tg.cdist(t, constant, INF), a)[1]
    assert g.tolist() == [[-1, -1], [0, 1]]
    x, y = data((3, 4)), data((5, 4), 1)
    for p in (0, 1, 2, 3, 0.5, INF):
        assert tg.gradcheck(lambda s, t: tg.cdist(s, t, p), [leaf(x), leaf(y)])
    mm = tg.cdist(leaf(a), leaf(b), compute_mode="use_mm_for_euclid_dist").numpy()
    np.testing.assert_allclose(mm, np.sqrt((d ** 2).sum(-1)))


def test_pdist_inf_gives_each_tie_the_whole_gradient():
    # PyTorch's pdist kernel (as cdist's): grad · sign(d) where |d| = the distance
    y, g = value_and_grad(lambda t: F.pdist(t, INF), [[0., 0.], [3., -3.]])
    assert y.tolist() == [3] and g.tolist() == [[-1, 1], [1, -1]]   # was ±0.5
    x = data((5, 4))
    for p in (1, 2, 3, INF):
        i, j = np.triu_indices(5, 1)
        diff = np.abs(x[i] - x[j])
        expected = diff.max(-1) if p == INF else (diff ** p).sum(-1) ** (1 / p)
        np.testing.assert_allclose(F.pdist(leaf(x), p).numpy(), expected)
        assert tg.gradcheck(lambda t: F.pdist(t, p), [leaf(x)])
    g = value_and_grad(F.pdist, [[1., 2.], [1., 2.], [4., 6.]])[1]
    np.testing.assert_allclose(g[:2], [[-.6, -.8], [-.6, -.8]])   # the coincident pair: 0


def test_pairwise_distance_cosine_similarity_normalize():
    x1, x2 = data((3, 4)), data((3, 4), 1)
    expected = np.sqrt(((x1 - x2 + 1e-6) ** 2).sum(-1))        # eps added to the difference
    np.testing.assert_allclose(F.pairwise_distance(leaf(x1), leaf(x2)).numpy(), expected)
    assert F.pairwise_distance(leaf(x1), leaf(x2), keepdim=True).shape == (3, 1)
    for p in (1, 3, INF):
        assert tg.gradcheck(lambda a, b: F.pairwise_distance(a, b, p), [leaf(x1), leaf(x2)])
    # cosine: x1·x2 / (max(‖x1‖, eps) · max(‖x2‖, eps)), PyTorch's documented formula
    n1, n2 = np.linalg.norm(x1, axis=1), np.linalg.norm(x2, axis=1)
    np.testing.assert_allclose(F.cosine_similarity(leaf(x1), leaf(x2)).numpy(),
                               (x1 * x2).sum(1) / (n1 * n2))
    assert tg.gradcheck(lambda a, b: F.cosine_similarity(a, b), [leaf(x1), leaf(x2)])
    y, g = value_and_grad(lambda t: F.cosine_similarity(t, tg.ones(1, 2, dtype=tg.float64)),
                          [[0., 0.]])
    assert y.tolist() == [0] and np.allclose(g, 1 / (np.sqrt(2) * 1e-8))
    # normalize: x / max(‖x‖_p, eps); the clamp passes no gradient below eps
    y, g = value_and_grad(lambda t: F.normalize(t, dim=1), [[0., 0.], [3., 4.]])
    assert y.tolist() == [[0, 0], [.6, .8]] and g[0].tolist() == [1e12, 1e12]
    assert value_and_grad(lambda t: F.normalize(t, dim=0, eps=1.0), [.3, .4])[1].tolist() == [1, 1]
    np.testing.assert_allclose(F.normalize(leaf([[3., -4.]]), p=1).numpy(), [[3 / 7, -4 / 7]])
    assert tg.gradcheck(lambda t: F.normalize(t, p=3), [leaf(x1)])


# --- logsumexp and softmax ---

def test_logsumexp_infinities_and_softmax_dtype():
    with np.errstate(all="ignore"):
        y = leaf([[-INF, -INF], [0., 1.], [INF, 1.]]).logsumexp(1).numpy()
    assert y[0] == -INF and y[2] == INF and np.isclose(y[1], np.logaddexp(0, 1))
    assert tg.gradgradcheck(lambda t: t.logsumexp(1), [leaf(data((3, 4)))])
    x = tg.tensor([1., 2.], dtype=tg.float32, requires_grad=True)
    for softmax in (F.softmax, F.log_softmax, tg.softmax, tg.log_softmax):
        assert softmax(x, 0, dtype=tg.float64).dtype == tg.float64
    x.softmax(0, dtype=tg.float64)[0].backward()
    assert x.grad.dtype == tg.float32
    np.testing.assert_allclose(x.grad.numpy(), [np.exp(1) * np.exp(2) / np.exp([1, 2]).sum() ** 2]
                               * np.array([1, -1]), rtol=1e-6)
