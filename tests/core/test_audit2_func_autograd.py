"""Audit of tg.func, tg.autograd.functional, forward_ad, gradcheck and PyTorch-style
Functions against PyTorch's documented semantics: expected values by hand or in NumPy.

    J of f(x, y) = (2x, x_2·Σ_k x_k·c_k(y))  with c = column sums of y @ y
    custom Functions with a static jvp (PyTorch's forward-mode rule for them)
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd import forward_ad as fwAD
from tinygrad_opt.autograd import functional as AF
from test_torch_style_function import Exp  # noqa: E402 (the docs' Exp: dy/dx = y)


def t64(array, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


# --- PyTorch-style Functions in forward mode ---


class NumpyExpWithoutJvp(Exp):
    """y = exp(x), computed through NumPy (no Tensor op carries a tangent); backward is
    Exp's, from the saved output."""

    @staticmethod
    def forward(ctx, x):
        y = tg.tensor(np.exp(x.numpy()))
        ctx.save_for_backward(y)
        return y


class NumpyExp(NumpyExpWithoutJvp):
    """The same with its jvp: ẏ = y·ẋ."""

    @staticmethod
    def jvp(ctx, tangent):
        (y,) = ctx.saved_tensors
        return tangent * y


@pytest.mark.parametrize("requires_grad", [False, True])
def test_a_custom_functions_jvp_gives_the_tangent(rng, requires_grad):
    # PyTorch: forward mode through a custom Function calls its jvp staticmethod
    x0, v0 = rng.standard_normal(4), rng.standard_normal(4)
    with fwAD.dual_level():
        dual = fwAD.make_dual(t64(x0, requires_grad=requires_grad), t64(v0))
        primal, tangent = fwAD.unpack_dual(NumpyExp.apply(dual))
    assert tangent is not None
    np.testing.assert_allclose(primal.numpy(), np.exp(x0), rtol=1e-15)
    np.testing.assert_allclose(tangent.numpy(), np.exp(x0) * v0, rtol=1e-14)


def test_the_jvp_is_used_instead_of_forwards_own_ops():
    """PyTorch runs forward with forward grad off: the tangent is jvp's, even where it
    differs from the derivative of forward's ops (here a deliberately scaled one)."""
    class TwiceTheSlope(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * 3

        @staticmethod
        def jvp(ctx, tangent):
            return tangent * 6

    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(TwiceTheSlope.apply(fwAD.make_dual(t64([1.0, 2.0]),
                                                                      t64([1.0, -1.0])))).tangent
    np.testing.assert_array_equal(tangent.numpy(), [6.0, -6.0])


def test_a_custom_function_whose_tangent_is_lost_in_forward_raises_pytorchs_error():
    # PyTorch: "You must implement the jvp function for custom autograd.Function to use it
    # with forward mode AD"; this gave a tangent of None, silently
    with fwAD.dual_level():
        dual = fwAD.make_dual(t64([0.5, 1.0]), t64([1.0, 2.0]))
        with pytest.raises(NotImplementedError, match="must implement the jvp function"):
            NumpyExpWithoutJvp.apply(dual)


def test_jvp_arguments_outputs_and_their_checks(rng):
    """jvp gets one tangent per forward argument: a Tensor without one gets zeros
    (materialize_grads), a number None; it returns one per output, None for an output
    that is not differentiable; an argument returned as it is gets a view (its own
    tangent), and the argument's tangent stays as it was."""
    seen = {}

    class Mixed(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, k):
            ctx.save_for_backward(a, b)
            index = a.argmax()
            ctx.mark_non_differentiable(index)
            return a * b * k, index, a

        @staticmethod
        def backward(ctx, grad, grad_index, grad_a):
            a, b = ctx.saved_tensors
            return grad * b * 2 + grad_a, grad * a * 2, None

        @staticmethod
        def jvp(ctx, tangent_a, tangent_b, tangent_k):
            seen["b"], seen["k"] = tangent_b, tangent_k
            a, b = ctx.saved_tensors
            return (tangent_a * b + a * tangent_b) * 2, None, tangent_a * 10

    a0, b0, va = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    with fwAD.dual_level():
        a = fwAD.make_dual(t64(a0), t64(va))
        product, index, same = Mixed.apply(a, t64(b0), 2.0)
        np.testing.assert_allclose(fwAD.unpack_dual(product).tangent.numpy(), 2 * va * b0)
        assert fwAD.unpack_dual(index).tangent is None
        np.testing.assert_allclose(fwAD.unpack_dual(same).tangent.numpy(), 10 * va)
        np.testing.assert_array_equal(fwAD.unpack_dual(a).tangent.numpy(), va)
        np.testing.assert_array_equal(same.numpy(), a0)
    np.testing.assert_array_equal(seen["b"].numpy(), np.zeros(3))
    assert seen["k"] is None


def test_jvp_returning_the_wrong_number_or_a_tangent_for_an_integer_output_raises():
    class Count(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

        @staticmethod
        def jvp(ctx, tangent):
            return tangent * 2, tangent

    class Index(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x.argmax()

        @staticmethod
        def backward(ctx, grad, grad_index):
            return grad * 2

        @staticmethod
        def jvp(ctx, tangent):
            return tangent * 2, tangent

    with fwAD.dual_level():
        dual = fwAD.make_dual(t64([1.0, 2.0]), t64([1.0, 1.0]))
        with pytest.raises(RuntimeError, match=r"invalid number of forward gradients "
                                               r"\(expected 1 but got 2\)"):
            Count.apply(dual)
        with pytest.raises(RuntimeError, match="position 1.*not a differentiable Tensor"):
            Index.apply(dual)


def test_a_custom_function_without_jvp_still_carries_tangents_through_its_ops(rng):
    """(A deviation kept: without jvp, forward's own Tensor ops carry the tangent; for a
    recorded call, backward gives it.)"""
    class Exp(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

    x0, v0 = rng.standard_normal(3), rng.standard_normal(3)
    for requires_grad in (False, True):
        with fwAD.dual_level():
            dual = fwAD.make_dual(t64(x0, requires_grad=requires_grad), t64(v0))
            tangent = fwAD.unpack_dual(Exp.apply(dual)).tangent
        np.testing.assert_allclose(tangent.numpy(), np.exp(x0) * v0, rtol=1e-14)


def test_reverse_mode_through_a_function_with_jvp_is_unchanged(rng):
    x0, v0 = rng.standard_normal(3), rng.standard_normal(3)
    x = t64(x0, requires_grad=True)
    with fwAD.dual_level():
        y = NumpyExp.apply(fwAD.make_dual(x, t64(v0)))
        y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x0), rtol=1e-15)


# --- jacobian(strategy="forward-mode") ---


def _f(x, y):
    c = (y @ y).sum(0)
    return x * 2, (x[:2] * c).sum() * x[2]


def _f_jacobian(x, y):
    """By hand: out_0 = 2x; out_1 = x_2·Σ_k x_k c_k (k < 2), c_k = Σ_i (y y)_ik."""
    c = (y @ y).sum(0)
    d_out1_dx = np.array([x[2] * c[0], x[2] * c[1], x[0] * c[0] + x[1] * c[1]])
    # ∂c_k/∂y_ab = Σ_i ∂(y y)_ik/∂y_ab = δ_kb Σ_i y_ia + y_bk
    d_c_dy = np.zeros((2, 2, 2))
    for k in range(2):
        for a in range(2):
            for b in range(2):
                d_c_dy[k, a, b] = (k == b) * y[:, a].sum() + y[b, k]
    d_out1_dy = x[2] * (x[0] * d_c_dy[0] + x[1] * d_c_dy[1])
    return ((2 * np.eye(3), np.zeros((3, 2, 2))), (d_out1_dx, d_out1_dy))


def test_jacobian_forward_mode_matches_the_hand_jacobian_and_its_nesting(rng):
    # PyTorch: strategy="forward-mode" with vectorize=True gives the same J as reverse mode
    x0, y0 = rng.standard_normal(3), rng.standard_normal((2, 2))
    expected = _f_jacobian(x0, y0)
    for strategy in ("forward-mode", "reverse-mode"):
        J = AF.jacobian(_f, (t64(x0), t64(y0)), vectorize=True, strategy=strategy)
        assert isinstance(J, tuple) and all(isinstance(row, tuple) and len(row) == 2
                                            for row in J)
        for row, expected_row in zip(J, expected):
            for block, expected_block in zip(row, expected_row):
                assert block.shape == expected_block.shape
                np.testing.assert_allclose(block.numpy(), expected_block, rtol=1e-12,
                                           atol=1e-14)


def test_jacobian_forward_mode_of_single_zero_d_and_empty_inputs(rng):
    x0 = rng.standard_normal(3)
    J = AF.jacobian(lambda x: x.sin(), t64(x0, requires_grad=True), vectorize=True,
                    strategy="forward-mode")
    assert isinstance(J, tg.Tensor) and not J.requires_grad
    np.testing.assert_allclose(J.numpy(), np.diag(np.cos(x0)), rtol=1e-14)
    scalar = AF.jacobian(lambda x: x ** 3, t64(1.5), vectorize=True, strategy="forward-mode")
    assert scalar.shape == () and scalar.item() == pytest.approx(6.75, rel=1e-14)
    empty = AF.jacobian(lambda x: x * 2, t64(np.zeros(0)), vectorize=True,
                        strategy="forward-mode")
    assert empty.shape == (0, 0)
    unused = AF.jacobian(lambda x, y: x * 2, (t64(x0), t64(np.ones(2))), vectorize=True,
                         strategy="forward-mode")
    np.testing.assert_array_equal(unused[1].numpy(), np.zeros((3, 2)))


def test_hessian_with_a_forward_mode_outer_jacobian(rng):
    x0 = rng.standard_normal(3)
    H = AF.hessian(lambda x: (x ** 2 * x.sin()).sum(), t64(x0), vectorize=True,
                   outer_jacobian_strategy="forward-mode")
    second = 2 * np.sin(x0) + 4 * x0 * np.cos(x0) - x0 ** 2 * np.sin(x0)
    np.testing.assert_allclose(H.numpy(), np.diag(second), rtol=1e-12, atol=1e-14)


def test_jacobian_forward_mode_refuses_what_pytorch_refuses():
    x = t64([0.5, 1.0])
    with pytest.raises(NotImplementedError, match="vectorize=True"):
        AF.jacobian(lambda t: t * 2, x, strategy="forward-mode")
    with pytest.raises(NotImplementedError, match="create_graph=True"):
        AF.jacobian(lambda t: t * 2, x, vectorize=True, strategy="forward-mode",
                    create_graph=True)
    with pytest.raises(RuntimeError, match="strict=True"):
        AF.jacobian(lambda t: t * 2, x, vectorize=True, strategy="forward-mode", strict=True)
    with pytest.raises(ValueError, match="forward-mode.*reverse-mode"):
        AF.jacobian(lambda t: t * 2, x, strategy="sideways")


# --- tg.autograd.functional: behaviours verified right, pinned ---


def test_hvp_and_vhp_of_a_non_quadratic_function_against_the_hand_hessian(rng):
    # f = x0·x1·x2 + x0·Σ sin x: H_ij = [i≠j] x_k (k the third) + ∂²(x0 Σ sin x)/∂x_i∂x_j
    x0, v0 = rng.standard_normal(3), rng.standard_normal(3)
    H = np.array([[0, x0[2], x0[1]], [x0[2], 0, x0[0]], [x0[1], x0[0], 0]], dtype=float)
    H[0, :] += np.cos(x0)
    H[:, 0] += np.cos(x0)
    H[np.diag_indices(3)] += -x0[0] * np.sin(x0)

    def f(x):
        return x[0] * x[1] * x[2] + x.sin().sum() * x[0]

    for product in (AF.hvp, AF.vhp):
        value, result = product(f, t64(x0), t64(v0))
        np.testing.assert_allclose(result.numpy(), H @ v0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(AF.hessian(f, t64(x0)).numpy(), H, rtol=1e-12, atol=1e-14)


def test_vhp_strict_blames_the_gradient_for_a_linear_function():
    # PyTorch: "The jacobian of the user-provided function is independent of input 0"
    # (the gradient is constant); this said the output did not depend on input 0
    x = t64([1.0, 2.0])
    for product in (AF.vhp, AF.hvp):
        with pytest.raises(RuntimeError, match="the gradient of func does not depend on "
                                               "input 0"):
            product(lambda t: (3 * t).sum(), x, x, strict=True)


def test_jacobian_of_tuple_to_tuple_is_a_tuple_of_tuples_and_strict_names_the_input(rng):
    x, y = t64(rng.standard_normal(3)), t64(rng.standard_normal(2))
    J = AF.jacobian(lambda a, b: (a * 2, a.sum()), (x, y))
    assert [[block.shape for block in row] for row in J] == [[(3, 3), (3, 2)], [(3,), (2,)]]
    np.testing.assert_array_equal(J[1][1].numpy(), np.zeros(2))
    with pytest.raises(RuntimeError, match="output 0 of func does not depend on input 1"):
        AF.jacobian(lambda a, b: (a * 2, a.sum()), (x, y), strict=True)


def test_jacobian_keeps_float32(rng):
    x0 = rng.standard_normal(3).astype(np.float32)
    J = AF.jacobian(lambda x: x.exp(), tg.tensor(x0))
    assert J.dtype == tg.float32
    np.testing.assert_allclose(J.numpy(), np.diag(np.exp(x0)), rtol=1e-6)


# --- tg.func: behaviours verified right, pinned ---


def test_grad_with_a_one_element_argnums_tuple_returns_a_one_tuple(rng):
    x, y = t64(rng.standard_normal(3)), t64(rng.standard_normal(3))
    g = tg.func.grad(lambda a, b: (a * b).sum(), argnums=(1,))(x, y)
    assert isinstance(g, tuple) and len(g) == 1
    np.testing.assert_array_equal(g[0].numpy(), x.numpy())


def test_jacrev_with_tuple_argnums_and_has_aux(rng):
    x0, y0 = rng.standard_normal(3), rng.standard_normal(2)
    (jx, jy), aux = tg.func.jacrev(lambda a, b: (a[:2] * b, a.sum()), argnums=(0, 1),
                                   has_aux=True)(t64(x0), t64(y0))
    expected_x = np.zeros((2, 3))
    expected_x[[0, 1], [0, 1]] = y0
    np.testing.assert_array_equal(jx.numpy(), expected_x)
    np.testing.assert_array_equal(jy.numpy(), np.diag(x0[:2]))
    assert aux.item() == pytest.approx(x0.sum())


def test_vmap_of_vmap_over_dim_one_and_per_sample_grads_with_none(rng):
    Y0 = rng.standard_normal((2, 4, 3))
    sums = tg.func.vmap(tg.func.vmap(lambda row: row.sum()), in_dims=1)(t64(Y0))
    np.testing.assert_allclose(sums.numpy(), Y0.sum(2).T, rtol=1e-14)  # (4, 2)
    w0, X0 = rng.standard_normal(3), rng.standard_normal((5, 3))
    grads = tg.func.vmap(tg.func.grad(lambda w, x: (x * w).sum() ** 2),
                         in_dims=(None, 0))(t64(w0), t64(X0))
    np.testing.assert_allclose(grads.numpy(), 2 * (X0 @ w0)[:, None] * X0, rtol=1e-13)


def test_functional_call_writes_batchnorm_statistics_into_the_given_buffers(rng):
    X0 = rng.standard_normal((6, 3))
    bn = tg.nn.BatchNorm1d(3)
    params = {name: p.detach().clone() for name, p in bn.named_parameters()}
    buffers = {name: b.clone() for name, b in bn.named_buffers()}
    tg.func.functional_call(bn, (params, buffers), (t64(X0).float(),))
    np.testing.assert_allclose(buffers["running_mean"].numpy(), 0.1 * X0.mean(0), rtol=1e-5)
    np.testing.assert_allclose(buffers["running_var"].numpy(),
                               0.9 + 0.1 * X0.var(0, ddof=1), rtol=1e-5)
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(3))


# --- gradcheck: behaviours verified right, pinned ---


def _scaled_square(scale):
    class ScaledSquare(tg.autograd.Function):
        """y = x², with backward g·x·scale (2 is right)."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x * scale

    return ScaledSquare.apply


def test_gradcheck_tolerance_is_atol_plus_rtol_times_the_numeric_value(rng):
    # PyTorch: allclose(analytical, numerical, rtol, atol): |a − n| ≤ atol + rtol·|n|
    x = t64(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    assert tg.autograd.gradcheck(_scaled_square(2.001), (x,))  # 5e-4 relative: within 1e-3
    assert not tg.autograd.gradcheck(_scaled_square(2.01), (x,), raise_exception=False)
    assert tg.autograd.gradcheck(_scaled_square(2.01), (x,), rtol=1e-2)
    assert not tg.autograd.gradcheck(_scaled_square(2.01), (x,), fast_mode=True,
                                     raise_exception=False)
    with pytest.raises(tg.autograd.GradcheckError, match="input 0 element"):
        tg.autograd.gradcheck(_scaled_square(2.01), (x,))


def test_gradcheck_forward_ad_checks_a_custom_functions_jvp():
    # PyTorch: check_forward_ad compares the jvp staticmethod with finite differences
    class WrongJvp(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

        @staticmethod
        def jvp(ctx, tangent):
            return tangent * 3  # the true slope is 2

    x = t64([0.3, -1.2], requires_grad=True)
    assert tg.autograd.gradcheck(WrongJvp.apply, (x,))  # backward is right
    assert not tg.autograd.gradcheck(WrongJvp.apply, (x,), check_forward_ad=True,
                                     raise_exception=False)


def test_jvp_gets_none_for_a_tangentless_argument_without_materialize_grads():
    seen = {}

    class Product(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.set_materialize_grads(False)
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            return grad * b, grad * a

        @staticmethod
        def jvp(ctx, tangent_a, tangent_b):
            seen["b"] = tangent_b
            a, b = ctx.saved_tensors
            return tangent_a * b

    with fwAD.dual_level():
        out = Product.apply(fwAD.make_dual(t64([1.0, 2.0]), t64([1.0, 1.0])), t64([3.0, 4.0]))
        np.testing.assert_array_equal(fwAD.unpack_dual(out).tangent.numpy(), [3.0, 4.0])
    assert seen["b"] is None
