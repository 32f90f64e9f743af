"""Audit of forward mode (``tg.autograd.forward_ad``) against PyTorch's semantics.

References are written in NumPy (float64): hand-derived JVPs and central finite
differences, plus J·v from reverse mode (``tg.autograd.functional.jvp``).

Bugs pinned here (each test failed before its fix):
* a tangent was never differentiable with respect to a primal (or another input) that
  requires grad: PyTorch's ẏ = cos(x)·ẋ is a graph in x (reverse over forward, H·v);
* an op without a derivative (``tg.special.bessel_j0``, ``geqrf``, ...) gave a dual input's
  output no tangent (or a zero one) instead of raising, as PyTorch does, naming the op.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt.autograd import forward_ad as fwAD
from tinygrad_opt.autograd.grad_mode import flags

RNG = np.random.default_rng(1234)
X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
T = np.array([[1.0, 0.5, -2.0], [0.0, 3.0, 1.0]])


def f64(array, requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=tg.float64,
                     requires_grad=requires_grad)


def forward_mode(fn, arrays, tangent_arrays):
    """(primal, tangent) of fn at the arrays along the tangent arrays."""
    with fwAD.dual_level():
        duals = [fwAD.make_dual(f64(x), f64(t)) for x, t in zip(arrays, tangent_arrays)]
        return fwAD.unpack_dual(fn(*duals))


def central_difference(fn, arrays, tangent_arrays, eps=1e-6):
    def at(sign):
        return fn(*[f64(x + sign * eps * t) for x, t in zip(arrays, tangent_arrays)]).numpy()
    return (at(1.0) - at(-1.0)) / (2 * eps)


# --- bug: the tangent is differentiable in the primals (reverse over forward) ---


def test_tangent_is_differentiable_with_respect_to_a_primal_that_requires_grad():
    # ẏ = 2·cos(x)·ẋ, so d/dx Σ w·ẏ = −2·sin(x)·ẋ·w
    x, t, w = f64(X, requires_grad=True), f64(T), f64(X[::-1])
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(fwAD.make_dual(x, t).sin() * 2.0).tangent
    assert tangent.requires_grad
    np.testing.assert_allclose(tangent.detach().numpy(), 2 * np.cos(X) * T, rtol=1e-14)
    (tangent * w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -2 * np.sin(X) * T * X[::-1], rtol=1e-13)


def test_tangent_is_differentiable_with_respect_to_a_plain_input_that_requires_grad():
    # Ẏ = Ẋ·W (W carries no tangent), so d/dW Σ C·Ẏ = Ẋᵀ·C
    W_value, C = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 4))
    W = f64(W_value, requires_grad=True)
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(fwAD.make_dual(f64(X), f64(T)) @ W).tangent
    assert tangent.requires_grad
    (tangent * f64(C)).sum().backward()
    np.testing.assert_allclose(W.grad.numpy(), T.T @ C, rtol=1e-13, atol=1e-14)


def test_reverse_over_forward_gives_the_hessian_vector_product():
    # f(x) = Σ exp(x)·x + xᵀAx:  ∇f·v by forward mode, then its gradient in x is H·v,
    # H = diag(exp(x)·(2 + x)) + A + Aᵀ
    n = 4
    x_value, v, A = RNG.standard_normal(n), RNG.standard_normal(n), RNG.standard_normal((n, n))
    x = f64(x_value, requires_grad=True)
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, f64(v))
        out = (dual.exp() * dual).sum() + dual @ f64(A) @ dual
        directional = fwAD.unpack_dual(out).tangent
    gradient = np.exp(x_value) * (1 + x_value) + (A + A.T) @ x_value
    np.testing.assert_allclose(directional.item(), gradient @ v, rtol=1e-13)
    directional.backward()
    hessian = np.diag(np.exp(x_value) * (2 + x_value)) + A + A.T
    np.testing.assert_allclose(x.grad.numpy(), hessian @ v, rtol=1e-12, atol=1e-13)


def test_no_graph_is_kept_when_nothing_requires_grad_or_in_no_grad():
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(fwAD.make_dual(f64(X), f64(T)).exp()).tangent
        assert not tangent.requires_grad
        with tg.no_grad():  # forward mode still runs; no graph is recorded
            tangent = fwAD.unpack_dual(fwAD.make_dual(f64(X, True), f64(T)).exp()).tangent
        assert not tangent.requires_grad
    np.testing.assert_allclose(tangent.numpy(), np.exp(X) * T, rtol=1e-14)


# --- bug: ops without a derivative raise under forward mode ---


@pytest.mark.parametrize("requires_grad", [False, True])
def test_an_op_without_a_derivative_raises_naming_it(requires_grad):
    x = f64([0.5, 1.5], requires_grad=requires_grad)
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, f64([1.0, 1.0]))
        with pytest.raises(NotImplementedError, match="derivative for 'bessel_j0' is not "
                                                      "implemented"):
            tg.special.bessel_j0(dual)
        with pytest.raises(NotImplementedError, match="'geqrf'"):
            tg.geqrf(fwAD.make_dual(f64(RNG.standard_normal((3, 3))), f64(np.ones((3, 3)))))
        # the primal (no tangent) and plain tensors still work, as constants
        values = tg.special.bessel_j0(fwAD.unpack_dual(dual).primal.detach())
        assert fwAD.unpack_dual(values).tangent is None
    assert values.shape == (2,)


# --- pinned: tangents of a broad sample of ops (FD and reverse-mode J·v) ---


def _cases():
    def r(*shape):
        return RNG.standard_normal(shape)
    labels = tg.tensor([0, 2, 1])
    return {
        "add_broadcast": (lambda a, b: a + b, [r(3, 1), r(4)]),
        "mul_div_broadcast": (lambda a, b: a * b / (b * b + 1.0), [r(2, 3, 1), r(1, 4)]),
        "scalar_0d_dual": (lambda a, s: a * s + s, [r(3), np.array(1.5)]),
        "sum_mean": (lambda a: a.sum(dim=1) + a.mean(), [r(3, 4)]),
        "max_dim": (lambda a: a.max(dim=1)[0], [r(3, 4)]),
        "var_std": (lambda a: a.var(dim=0) + a.std(), [r(3, 4)]),
        "logsumexp": (lambda a: a.logsumexp(dim=1), [r(3, 4)]),
        "matmul_batched": (lambda a, b: a @ b, [r(2, 3, 4), r(4, 5)]),
        "reshape_permute_index": (lambda a: a.reshape(2, 6).permute(1, 0)[1:5:2], [r(3, 4)]),
        "advanced_index": (lambda a: a[tg.tensor([0, 2, 2]), 1:], [r(3, 4)]),
        "cat_stack": (lambda a, b: tg.stack([tg.cat([a, b], 0), tg.cat([b, a], 0)], 1),
                      [r(2, 3), r(1, 3)]),
        "softmax": (lambda a: a.softmax(dim=-1), [r(3, 4)]),
        "log_softmax": (lambda a: F.log_softmax(a, dim=0), [r(3, 4)]),
        "where_clamp": (lambda a, b: tg.where(a > 0, a, b).clamp(-0.5, 0.5), [r(3, 4), r(3, 4)]),
        "conv2d": (lambda x, w, b: F.conv2d(x, w, b, padding=1, stride=2),
                   [r(2, 3, 5, 5), r(4, 3, 3, 3), r(4)]),
        "fused_linear_relu": (lambda x, w, b: F.relu(F.linear(x, w, b)),
                              [r(5, 3), r(4, 3), r(4)]),
        "cross_entropy": (lambda x: F.cross_entropy(x, labels), [r(3, 4)]),
        "max_pool2d": (lambda x: F.max_pool2d(x, 2), [r(1, 2, 4, 4)]),
        "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                       [r(4, 3), r(3), r(3)]),
        "layer_norm": (lambda x, w, b: F.layer_norm(x, (3,), w, b), [r(4, 3), r(3), r(3)]),
        "linalg_solve": (lambda a, b: tg.linalg.solve(a, b),
                         [r(3, 3) + 3 * np.eye(3), r(3, 2)]),
    }


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
def test_tangent_matches_finite_differences_and_reverse_mode(name):
    fn, arrays = CASES[name]
    tangent_arrays = [RNG.standard_normal(np.shape(x)) for x in arrays]
    primal, tangent = forward_mode(fn, arrays, tangent_arrays)
    assert tangent is not None and tangent.shape == primal.shape
    assert tangent.dtype == primal.dtype == tg.float64
    np.testing.assert_allclose(tangent.numpy(), central_difference(fn, arrays, tangent_arrays),
                               rtol=1e-6, atol=1e-6)
    _, jv = tg.autograd.functional.jvp(fn, tuple(f64(x) for x in arrays),
                                       tuple(f64(t) for t in tangent_arrays))
    np.testing.assert_allclose(tangent.numpy(), jv.numpy(), rtol=1e-10, atol=1e-12)


def test_kinks_follow_pytorch():
    # relu'(0) = 0; clamp passes the tangent on its bounds; |x|'(0) = 0;
    # max() with ties reads the mean of the tied tangents (evenly_read_jvp)
    x, t = np.array([-1.0, 0.0, 0.5, 2.0]), np.array([1.0, 2.0, 3.0, 4.0])
    assert forward_mode(lambda a: a.relu(), [x], [t]).tangent.numpy().tolist() == [0, 0, 3, 4]
    assert forward_mode(lambda a: a.clamp(-1.0, 0.5), [x], [t]).tangent.numpy().tolist() == \
        [1, 2, 3, 0]
    assert forward_mode(lambda a: a.abs(), [x], [t]).tangent.numpy().tolist() == [-1, 0, 3, 4]
    tied = forward_mode(lambda a: a.max(), [np.array([1.0, 3.0, 3.0])], [np.array([5.0, 1.0, 2.0])])
    assert tied.tangent.item() == 1.5


# --- pinned: the API's rules ---


def test_integer_primals_and_outputs_carry_no_tangent():
    with fwAD.dual_level():
        with pytest.raises(ValueError, match="primal to be floating point"):
            fwAD.make_dual(tg.tensor([1, 2]), f64([1.0, 2.0]))
        dual = fwAD.make_dual(f64(X), f64(T))
        assert fwAD.unpack_dual(dual.long()).tangent is None
        assert fwAD.unpack_dual(dual.argmax()).tangent is None
        assert fwAD.unpack_dual(dual > 0).tangent is None


def test_level_rules_and_unpacked_named_tuple():
    with fwAD.dual_level() as level:
        assert level == 0
        with pytest.raises(RuntimeError, match="Nested forward mode AD"):
            fwAD.enter_dual_level()
        y = fwAD.make_dual(f64(X), f64(T)) * 3.0
        unpacked = fwAD.unpack_dual(y)
        assert unpacked.primal is unpacked[0] and unpacked.tangent is unpacked[1]
        np.testing.assert_array_equal(unpacked.tangent.numpy(), 3 * T)
        with pytest.raises(RuntimeError, match="different size"):
            fwAD.make_dual(f64(X), f64(T[0]))
    assert flags.forward_ad is None
    assert fwAD.unpack_dual(y).tangent is None  # dropped with the level


def test_in_place_write_of_a_dual_tensor_raises_naming_setitem():
    with fwAD.dual_level():
        dual = fwAD.make_dual(f64(X), f64(T))
        with pytest.raises(RuntimeError, match="SetItem writes a dual tensor in place"):
            dual.mul_(2.0)
