"""Regression tests of the audit of linalg, the special functions, statistics and einsum
against PyTorch's documented behaviour. Each test failed before its fix; references are
hand-derived or Python's ``math`` (no SciPy)."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from test_ops_gradcheck import host

linalg = tg.linalg


def t(values, device, requires_grad=False, dtype=tg.float64):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=requires_grad)


# --- special functions ---

def test_entr_of_nan_is_nan(device):
    """PyTorch's entr passes NaN through (it was −inf, the value for x < 0)."""
    result = host(tg.special.entr(t([math.nan, -1.0, 0.0, 0.5], device)))
    assert math.isnan(result[0])
    assert result[1:].tolist() == [-math.inf, 0.0, -0.5 * math.log(0.5)]


@pytest.mark.parametrize("x", [-1e-10, -1e-300, -1.0000000001, -2.9999999, -3.5])
def test_lgamma_keeps_its_digits_near_zero_and_the_negative_integers(device, x):
    """The reflection formula took |sin πx| from x − ⌊x⌋, which loses the digits of x
    just below an integer: lgamma(−1e-10) was off by 8e-8 and lgamma(−1e-300) was inf."""
    value = host(tg.special.gammaln(t([x], device)))[0]
    assert value == pytest.approx(math.lgamma(x), rel=1e-14)
    if abs(x) > 1e-30 and abs(x - round(x)) > 1e-6:                  # the same in float32
        x32 = float(np.float32(x))
        value = host(tg.special.gammaln(t([x32], device, dtype=tg.float32)))[0]
        assert value == pytest.approx(math.lgamma(x32), rel=1e-6)


def test_logit_gradient_as_pytorch_at_the_edges(device):
    """dy/dx = 1/(x(1 − x)): +inf at 0 and 1 (it was NaN from the composed log of a
    quotient), NaN outside [0, 1] (it was a finite number)."""
    x = t([0.0, 1.0, -1.0, 2.0, 0.25], device, requires_grad=True)
    tg.logit(x).sum().backward()
    grad = host(x.grad)
    assert grad[:2].tolist() == [math.inf, math.inf]
    assert np.isnan(grad[2:4]).all()
    assert grad[4] == pytest.approx(1 / (0.25 * 0.75))


def test_logit_with_eps_passes_nan_and_negative_eps_does_not_clamp(device):
    """With eps, a NaN entry has a NaN gradient (x < eps and x > 1 − eps are both False
    for NaN, as in PyTorch; it was 0); eps < 0 means no clamping, as eps=None."""
    x = t([math.nan, 0.05, 0.1, 0.5], device, requires_grad=True)
    tg.logit(x, eps=0.1).sum().backward()
    grad = host(x.grad)
    assert math.isnan(grad[0])
    assert grad[1:].tolist() == pytest.approx([0.0, 1 / (0.1 * 0.9), 4.0])
    assert host(tg.logit(t([0.05], device), eps=-1.0))[0] == pytest.approx(
        math.log(0.05 / 0.95))


def test_logit_second_derivative(device):
    """d²/dx² logit = (2x − 1) / (x(1 − x))²."""
    x = t([0.2, 0.7], device, requires_grad=True)
    (grad,) = tg.grad(tg.logit(x).sum(), [x], create_graph=True)
    (second,) = tg.grad(grad.sum(), [x])
    expected = [(2 * v - 1) / (v * (1 - v)) ** 2 for v in (0.2, 0.7)]
    assert host(second).tolist() == pytest.approx(expected)


# --- linalg ---

@pytest.mark.parametrize("ord", [math.inf, -math.inf, -1, -0.5])
def test_vector_norm_without_identity_on_an_empty_dim_raises(device, ord):
    """PyTorch raises RuntimeError (a max, a min or Σ|x|^p with p < 0 of no entries has no
    value); it was NumPy's ValueError for ±inf and an inf result for p < 0."""
    empty = t(np.zeros((0, 3)), device)
    with pytest.raises(RuntimeError, match="vector_norm.*empty"):
        linalg.vector_norm(empty, ord)
    with pytest.raises(RuntimeError, match="vector_norm.*empty"):
        linalg.vector_norm(empty, ord, dim=0)
    assert linalg.vector_norm(empty, ord, dim=1).shape == (0,)   # no empty dim is reduced


def test_vector_norm_with_identity_on_an_empty_tensor_is_zero(device):
    empty = t(np.zeros((0, 3)), device)
    for ord in (0, 1, 2, 3.5):
        assert host(linalg.vector_norm(empty, ord)).item() == 0.0


def test_eigh_takes_uplo_in_either_case(device):
    """PyTorch upper-cases UPLO ('l' and 'u' are accepted); 'u' was refused."""
    A = np.array([[2.0, 7.0], [1.0, 3.0]])            # lower triangle 1, upper triangle 7
    upper = np.linalg.eigvalsh(np.triu(A) + np.triu(A, 1).T)
    lower = np.linalg.eigvalsh(np.tril(A) + np.tril(A, -1).T)
    np.testing.assert_allclose(host(linalg.eigvalsh(t(A, device), "u")), upper)
    np.testing.assert_allclose(host(linalg.eigh(t(A, device), UPLO="l").eigenvalues), lower)
    with pytest.raises(ValueError, match="UPLO"):
        linalg.eigh(t(A, device), "X")


def test_slogdet_gradient_at_a_singular_matrix_is_nan_not_an_error(device):
    """log|det A| has no derivative at a singular A: PyTorch's gradient is not finite; ours
    raised LinAlgError naming linalg.inv from inside backward. The other matrices of the
    batch keep their gradient A⁻ᵀ."""
    A = np.array([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 1.0], [1.0, 3.0]]])
    x = t(A, device, requires_grad=True)
    linalg.slogdet(x).logabsdet.sum().backward()
    grad = host(x.grad)
    assert np.isnan(grad[0]).all()
    np.testing.assert_allclose(grad[1], [[0.6, -0.2], [-0.2, 0.4]])   # A⁻ᵀ, det = 5
    x = t(A, device, requires_grad=True)
    (grad,) = tg.grad(linalg.logdet(x).sum(), [x], create_graph=True)
    assert np.isnan(host(grad)[0]).all()
    np.testing.assert_allclose(host(grad)[1], [[0.6, -0.2], [-0.2, 0.4]])


def test_matrix_norm_error_lists_every_order(device):
    with pytest.raises(ValueError, match="'nuc', 1, -1, 2, -2, inf or -inf"):
        linalg.matrix_norm(t(np.eye(2), device), 3)
