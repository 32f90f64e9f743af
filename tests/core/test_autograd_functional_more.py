"""``tg.autograd``: torch.autograd's names, and ``tg.autograd.functional``'s jacobian,
hessian, vjp, jvp, vhp and hvp, against Jacobians and Hessians derived by hand.

The functions and their derivatives used throughout:

    f(x) = x² ⊙ sin x           J = diag(2x sin x + x² cos x)
                                 ∂J_kk/∂x_k = 2 sin x + 4x cos x − x² sin x
    g(A, B) = A @ B              ∂(AB)_ik/∂A_jl = δ_ij B_lk,  ∂(AB)_ik/∂B_lm = A_il δ_km
    q(x) = ½ xᵀMx + bᵀx          ∇q = ½(M + Mᵀ)x + b,  H = ½(M + Mᵀ)
    s(x) = Σ x² sin x            H = diag(2 sin x + 4x cos x − x² sin x)
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd import functional as AF


def tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def f_np_jacobian_diagonal(x):
    return 2 * x * np.sin(x) + x ** 2 * np.cos(x)


def f_np_third(x):
    """d/dx of the Jacobian's diagonal: the second derivative of x² sin x."""
    return 2 * np.sin(x) + 4 * x * np.cos(x) - x ** 2 * np.sin(x)


def f(x):
    return x * x * x.sin()


# --- the tg.autograd namespace ---


def test_tg_autograd_offers_torch_autograd_names():
    from tinygrad_opt.autograd import engine, function, grad_mode, gradcheck, torch_style
    assert tg.autograd.grad is AF.grad is tg.grad  # engine.grad with PyTorch's later options
    assert tg.autograd.Function is torch_style.Function
    assert issubclass(tg.autograd.Function, function.Function)
    assert tg.autograd.gradcheck is tg.gradcheck
    assert tg.autograd.gradgradcheck is tg.gradgradcheck
    assert tg.autograd.GradcheckError is tg.GradcheckError  # (the function shadows the module,
    assert gradcheck is tg.gradcheck                        # as in torch.autograd)
    assert tg.autograd.no_grad is grad_mode.no_grad
    assert tg.autograd.enable_grad is grad_mode.enable_grad
    assert tg.autograd.set_grad_enabled is grad_mode.set_grad_enabled
    assert tg.autograd.detect_anomaly is tg.detect_anomaly
    assert tg.autograd.functional.jacobian is AF.jacobian
    assert callable(tg.autograd.backward)


class Cube(tg.autograd.Function):
    """y = x³   dy/dx = 3x²  (a user op through tg.autograd.Function)."""

    def forward(self, x):
        return x * x * x

    def backward(self, grad_output):
        (x,) = self.saved_inputs
        return grad_output * 3 * x * x


def test_a_user_function_through_tg_autograd_passes_gradcheck_and_gradgradcheck(device):
    x = tensor([0.5, -1.5, 2.0], device, requires_grad=True)
    assert tg.autograd.gradcheck(Cube.apply, x)
    assert tg.autograd.gradgradcheck(Cube.apply, x)
    (grad,) = tg.autograd.grad(Cube.apply(x).sum(), x)
    np.testing.assert_allclose(grad.numpy(), 3 * np.array([0.5, -1.5, 2.0]) ** 2)


def test_grad_modes_through_tg_autograd():
    x = tensor([1.0], "cpu", requires_grad=True)
    with tg.autograd.no_grad():
        assert not (x * 2).requires_grad
        with tg.autograd.enable_grad():
            assert (x * 2).requires_grad
    with tg.autograd.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


# --- backward, the function form ---


def test_backward_of_several_tensors_sums_their_weighted_gradients(device, rng):
    x_np, v_np = rng.standard_normal(4), rng.standard_normal(4)
    x, v = tensor(x_np, device, requires_grad=True), tensor(v_np, device)
    tg.autograd.backward([(x * x).sum(), x.sin()], [None, v])
    np.testing.assert_allclose(x.grad.numpy(), 2 * x_np + np.cos(x_np) * v_np, atol=1e-14)
    tg.autograd.backward((x * x).sum())  # a single tensor; accumulates like Tensor.backward
    np.testing.assert_allclose(x.grad.numpy(), 4 * x_np + np.cos(x_np) * v_np, atol=1e-14)


def test_backward_inputs_restricts_which_tensors_get_grad(device):
    x = tensor([1.0, 2.0], device, requires_grad=True)
    w = tensor([3.0, 4.0], device, requires_grad=True)
    h = x * w
    tg.autograd.backward(h.sum(), inputs=[x, h])
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(h.grad.numpy(), [1.0, 1.0])  # a non-leaf input gets .grad
    assert w.grad is None
    with pytest.raises(RuntimeError, match="inputs cannot be empty"):
        tg.autograd.backward((x * w).sum(), inputs=[])


def test_backward_frees_the_graph_unless_retained_and_create_graph_records():
    x = tensor([1.0, 2.0], "cpu", requires_grad=True)
    y = (x * x * x).sum()
    tg.autograd.backward(y, retain_graph=True)
    tg.autograd.backward(y)
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * np.array([1.0, 4.0]))
    with pytest.raises(RuntimeError, match="second time"):
        tg.autograd.backward(y)
    x.grad = None
    tg.autograd.backward((x * x * x).sum(), create_graph=True)  # x.grad = 3x², recorded
    assert x.grad.requires_grad
    (second,) = tg.grad(x.grad.sum(), x)
    np.testing.assert_allclose(second.numpy(), 6 * np.array([1.0, 2.0]))


def test_backward_errors_name_the_problem():
    x = tensor([1.0, 2.0], "cpu", requires_grad=True)
    with pytest.raises(RuntimeError, match="element 1 of tensors does not require grad"):
        tg.autograd.backward([x.sum(), tensor([1.0], "cpu")])
    with pytest.raises(RuntimeError, match="1 grad_tensors for 2 tensors"):
        tg.autograd.backward([x.sum(), x.sum()], [None])
    with pytest.raises(RuntimeError, match="shape"):
        tg.autograd.backward(x * 2)  # no gradient for a non-scalar


# --- jacobian ---


def test_jacobian_of_an_elementwise_function_is_diagonal(device, rng):
    x_np = rng.standard_normal(5)
    x = tensor(x_np, device)
    J = AF.jacobian(f, x)
    assert isinstance(J, tg.Tensor) and J.shape == (5, 5) and not J.requires_grad
    np.testing.assert_allclose(J.numpy(), np.diag(f_np_jacobian_diagonal(x_np)), atol=1e-14)
    assert x.grad is None and not x.requires_grad  # the caller's tensor is left alone


def test_jacobian_shape_is_output_shape_then_input_shape(device, rng):
    x_np = rng.standard_normal((2, 3))
    J = AF.jacobian(f, tensor(x_np, device))
    assert J.shape == (2, 3, 2, 3)
    expected = np.diag(f_np_jacobian_diagonal(x_np).reshape(-1)).reshape(2, 3, 2, 3)
    np.testing.assert_allclose(J.numpy(), expected, atol=1e-14)


def test_jacobian_of_matmul_for_a_tuple_of_inputs(device, rng):
    A_np, B_np = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    J = AF.jacobian(lambda A, B: A @ B, (tensor(A_np, device), tensor(B_np, device)))
    assert isinstance(J, tuple) and len(J) == 2
    assert J[0].shape == (2, 4, 2, 3) and J[1].shape == (2, 4, 3, 4)
    # ∂(AB)_ik/∂A_jl = δ_ij B_lk,   ∂(AB)_ik/∂B_lm = A_il δ_km
    expected_A = np.einsum("ij,lk->ikjl", np.eye(2), B_np)
    expected_B = np.einsum("il,km->iklm", A_np, np.eye(4))
    np.testing.assert_allclose(J[0].numpy(), expected_A, atol=1e-14)
    np.testing.assert_allclose(J[1].numpy(), expected_B, atol=1e-14)


def test_jacobian_of_several_outputs(device, rng):
    x_np, y_np = rng.standard_normal(3), rng.standard_normal(2)
    x, y = tensor(x_np, device), tensor(y_np, device)

    def pair(x, y):
        return x.sin(), (x * x).sum() * y  # (3,), (2,)
    J = AF.jacobian(pair, (x, y))
    assert [[block.shape for block in row] for row in J] == [[(3, 3), (3, 2)], [(2, 3), (2, 2)]]
    np.testing.assert_allclose(J[0][0].numpy(), np.diag(np.cos(x_np)), atol=1e-14)
    np.testing.assert_allclose(J[0][1].numpy(), np.zeros((3, 2)))  # sin x ignores y
    np.testing.assert_allclose(J[1][0].numpy(), np.outer(y_np, 2 * x_np), atol=1e-14)
    np.testing.assert_allclose(J[1][1].numpy(), np.eye(2) * (x_np ** 2).sum(), atol=1e-14)
    J_single_input = AF.jacobian(lambda x: (x.sin(), x.exp()), x)  # tuple out, one input
    assert isinstance(J_single_input, tuple) and len(J_single_input) == 2
    np.testing.assert_allclose(J_single_input[1].numpy(), np.diag(np.exp(x_np)), atol=1e-14)
    with pytest.raises(RuntimeError, match="output 0 of func does not depend on input 1"):
        AF.jacobian(pair, (x, y), strict=True)


def test_jacobian_create_graph_can_be_differentiated_again(device, rng):
    x_np = rng.standard_normal(4)
    x = tensor(x_np, device, requires_grad=True)
    J = AF.jacobian(f, x, create_graph=True)
    assert J.requires_grad
    np.testing.assert_allclose(J.numpy(), np.diag(f_np_jacobian_diagonal(x_np)), atol=1e-14)
    (d_trace,) = tg.grad(J.sum(), x)  # Σ_k J_kk = Σ_k (2x sin x + x² cos x)_k
    np.testing.assert_allclose(d_trace.numpy(), f_np_third(x_np), atol=1e-13)
    assert x.grad is None


def test_jacobian_of_an_output_without_graph_is_zero_or_a_strict_error(device):
    x = tensor([1.0, 2.0], device)
    constant = tensor([5.0, 6.0, 7.0], device)
    J = AF.jacobian(lambda x: constant, x)
    np.testing.assert_allclose(J.numpy(), np.zeros((3, 2)))
    with pytest.raises(RuntimeError, match="output 0 of func does not require grad"):
        AF.jacobian(lambda x: constant, x, strict=True)
    with pytest.raises(RuntimeError, match=r"result 0 does not depend on the inputs .*"
                                           "create_graph=True"):
        AF.jacobian(lambda x: 3 * x, x, create_graph=True, strict=True)  # J has no graph


def test_jacobian_options_and_argument_errors(device):
    x = tensor([0.5, 1.0], device)
    J = AF.jacobian(f, x, vectorize=True)  # accepted; the same passes
    np.testing.assert_allclose(J.numpy(), np.diag(f_np_jacobian_diagonal(np.array([0.5, 1.0]))))
    with pytest.raises(NotImplementedError, match="forward-mode"):
        AF.jacobian(f, x, strategy="forward-mode")
    with pytest.raises(TypeError, match="inputs must be a Tensor or a tuple of Tensors"):
        AF.jacobian(f, (x, 2.0))
    with pytest.raises(TypeError, match="outputs of func .* float"):
        AF.jacobian(lambda x: 2.0, x)


# --- vjp and jvp ---


def linear_plus_sine_problem(rng, device):
    """h(x) = Mx + sin x, J = M + diag(cos x)."""
    M_np, x_np = rng.standard_normal((3, 3)), rng.standard_normal(3)
    M = tensor(M_np, device)
    return M_np, x_np, (lambda x: M @ x + x.sin())


def test_vjp_is_v_transposed_times_J(device, rng):
    M_np, x_np, h = linear_plus_sine_problem(rng, device)
    v_np = rng.standard_normal(3)
    output, product = AF.vjp(h, tensor(x_np, device), tensor(v_np, device))
    np.testing.assert_allclose(output.numpy(), M_np @ x_np + np.sin(x_np), atol=1e-14)
    np.testing.assert_allclose(product.numpy(), M_np.T @ v_np + np.cos(x_np) * v_np,
                               atol=1e-14)
    assert not output.requires_grad and not product.requires_grad


def test_vjp_with_tuples_and_a_default_v_for_a_scalar(device, rng):
    A_np, B_np = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    A, B = tensor(A_np, device), tensor(B_np, device)
    output, (gA, gB) = AF.vjp(lambda A, B: (A @ B).sum(), (A, B))  # v = 1
    np.testing.assert_allclose(output.numpy(), (A_np @ B_np).sum())
    np.testing.assert_allclose(gA.numpy(), np.ones((2, 2)) @ B_np.T, atol=1e-14)
    np.testing.assert_allclose(gB.numpy(), A_np.T @ np.ones((2, 2)), atol=1e-14)
    outputs, product = AF.vjp(lambda A: (A.sum(), A * 2), A,
                              (tensor(2.0, device), tensor(np.ones((2, 3)), device)))
    assert isinstance(outputs, tuple) and len(outputs) == 2
    np.testing.assert_allclose(product.numpy(), np.full((2, 3), 2.0 + 2.0))


def test_vjp_errors_name_the_problem(device, rng):
    _, x_np, h = linear_plus_sine_problem(rng, device)
    x = tensor(x_np, device)
    with pytest.raises(RuntimeError, match="v can be None only"):
        AF.vjp(h, x)
    with pytest.raises(RuntimeError, match=r"v\[0\] has shape \(2,\) but the output"):
        AF.vjp(h, x, tensor([1.0, 2.0], device))
    with pytest.raises(RuntimeError, match="v has 2 tensors but the output of func has 1"):
        AF.vjp(h, x, (x, x))
    with pytest.raises(RuntimeError, match="the output of func does not depend on input 1"):
        AF.vjp(lambda x, y: x.sum(), (x, x), strict=True)
    _, (_, unused) = AF.vjp(lambda x, y: x.sum(), (x, x))
    np.testing.assert_allclose(unused.numpy(), np.zeros(3))


def test_vjp_create_graph_and_a_v_of_another_dtype(device, rng):
    x_np = rng.standard_normal(3)
    x = tensor(x_np, device, requires_grad=True)
    v = tg.tensor(np.ones(3, dtype=np.float32), device=device)
    _, product = AF.vjp(f, x, v, create_graph=True)  # (2x sin x + x² cos x), recorded
    assert product.dtype == tg.float64 and product.requires_grad
    (second,) = tg.grad(product.sum(), x)
    np.testing.assert_allclose(second.numpy(), f_np_third(x_np), atol=1e-13)


def test_jvp_is_J_times_v_by_the_double_vjp_trick(device, rng):
    M_np, x_np, h = linear_plus_sine_problem(rng, device)
    v_np = rng.standard_normal(3)
    output, product = AF.jvp(h, tensor(x_np, device), tensor(v_np, device))
    np.testing.assert_allclose(output.numpy(), M_np @ x_np + np.sin(x_np), atol=1e-14)
    np.testing.assert_allclose(product.numpy(), M_np @ v_np + np.cos(x_np) * v_np, atol=1e-14)
    assert not product.requires_grad


def test_jvp_of_matmul_with_tuples(device, rng):
    A_np, B_np = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    dA, dB = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    output, product = AF.jvp(lambda A, B: A @ B, (tensor(A_np, device), tensor(B_np, device)),
                             (tensor(dA, device), tensor(dB, device)))
    np.testing.assert_allclose(product.numpy(), dA @ B_np + A_np @ dB, atol=1e-14)  # product rule
    outputs, products = AF.jvp(lambda x: (x * x, x.sum()), tensor([3.0], device))  # v = 1
    assert isinstance(products, tuple)
    np.testing.assert_allclose(products[0].numpy(), [6.0])
    np.testing.assert_allclose(products[1].numpy(), 1.0)


def test_jvp_strict_and_create_graph(device, rng):
    x_np = rng.standard_normal(3)
    x, y = tensor(x_np, device, requires_grad=True), tensor(np.ones(3), device)
    with pytest.raises(RuntimeError, match="does not depend on input 1"):
        AF.jvp(lambda x, y: x * 2, (x, y), (y, y), strict=True)
    _, product = AF.jvp(lambda x, y: x * 2, (x, y), (y, 3 * y))
    np.testing.assert_allclose(product.numpy(), np.full(3, 2.0))
    with pytest.raises(RuntimeError, match="v can be None only"):
        AF.jvp(f, x)
    _, product = AF.jvp(f, x, y, create_graph=True)  # diag(J)·1, recorded
    (second,) = tg.grad(product.sum(), x)
    np.testing.assert_allclose(second.numpy(), f_np_third(x_np), atol=1e-13)


# --- vhp, hvp and hessian ---


def quadratic(rng, device, n=4):
    M_np, b_np = rng.standard_normal((n, n)), rng.standard_normal(n)  # M not symmetric
    M, b = tensor(M_np, device), tensor(b_np, device)
    return M_np, b_np, (lambda x: 0.5 * (x @ (M @ x)) + b @ x)


@pytest.mark.parametrize("product", [AF.vhp, AF.hvp])
def test_vhp_and_hvp_of_a_quadratic_form(device, rng, product):
    M_np, b_np, q = quadratic(rng, device)
    x_np, v_np = rng.standard_normal(4), rng.standard_normal(4)
    value, result = product(q, tensor(x_np, device), tensor(v_np, device))
    np.testing.assert_allclose(value.numpy(), 0.5 * x_np @ M_np @ x_np + b_np @ x_np)
    np.testing.assert_allclose(result.numpy(), 0.5 * (M_np + M_np.T) @ v_np, atol=1e-14)
    assert not value.requires_grad and not result.requires_grad


@pytest.mark.parametrize("product", [AF.vhp, AF.hvp])
def test_vhp_and_hvp_with_tuple_inputs(device, rng, product):
    """s(x, y) = Σx² + xᵀMy: H = [[2I, M], [Mᵀ, 0]]."""
    M_np = rng.standard_normal((2, 3))
    vx, vy = rng.standard_normal(2), rng.standard_normal(3)
    M = tensor(M_np, device)
    inputs = (tensor(rng.standard_normal(2), device), tensor(rng.standard_normal(3), device))
    _, (hx, hy) = product(lambda x, y: (x * x).sum() + x @ (M @ y), inputs,
                          (tensor(vx, device), tensor(vy, device)))
    np.testing.assert_allclose(hx.numpy(), 2 * vx + M_np @ vy, atol=1e-14)
    np.testing.assert_allclose(hy.numpy(), M_np.T @ vx, atol=1e-14)


def test_vhp_keeps_the_output_shape_and_create_graph_differentiates_again(device, rng):
    x_np = rng.standard_normal(3)
    x = tensor(x_np, device, requires_grad=True)
    value, result = AF.vhp(lambda x: (x * x * x).sum().reshape(1), x, tensor(np.ones(3), device),
                           create_graph=True)
    assert value.shape == (1,)  # as func returned it
    np.testing.assert_allclose(result.numpy(), 6 * x_np, atol=1e-14)  # H = diag(6x)
    (third,) = tg.grad(result.sum(), x)
    np.testing.assert_allclose(third.numpy(), np.full(3, 6.0))


def test_vhp_errors(device):
    x = tensor([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match="single-element Tensor, got shape"):
        AF.vhp(lambda x: x * x, x, x)
    with pytest.raises(RuntimeError, match="single Tensor, got a tuple"):
        AF.hvp(lambda x: (x.sum(), x.sum()), x, x)
    with pytest.raises(RuntimeError, match="v can be None only"):
        AF.hvp(lambda x: (x * x).sum(), x)
    with pytest.raises(RuntimeError, match="does not depend on input 0"):
        AF.vhp(lambda x: (3 * x).sum(), x, x, strict=True)  # linear: the gradient is constant
    _, zero = AF.vhp(lambda x: (3 * x).sum(), x, x)
    np.testing.assert_allclose(zero.numpy(), [0.0, 0.0])
    value, result = AF.hvp(lambda x: (x * x * x).sum(), tensor([2.0], device))  # v = 1
    np.testing.assert_allclose(result.numpy(), [12.0])


def test_hessian_of_x_squared_sine(device, rng):
    x_np = rng.standard_normal((2, 2))
    H = AF.hessian(lambda x: f(x).sum(), tensor(x_np, device))
    assert H.shape == (2, 2, 2, 2) and not H.requires_grad
    expected = np.diag(f_np_third(x_np).reshape(-1)).reshape(2, 2, 2, 2)
    np.testing.assert_allclose(H.numpy(), expected, atol=1e-13)


def test_hessian_of_a_quadratic_form_and_of_a_tuple(device, rng):
    M_np, _, q = quadratic(rng, device)
    H = AF.hessian(q, tensor(rng.standard_normal(4), device))
    np.testing.assert_allclose(H.numpy(), 0.5 * (M_np + M_np.T), atol=1e-14)
    A_np, B_np = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    H = AF.hessian(lambda A, B: (A @ B).sum(), (tensor(A_np, device), tensor(B_np, device)))
    # Σ_ik (AB)_ik: ∂²/∂A_ij∂B_lm = δ_jl (independent of i, m); the diagonal blocks are 0
    np.testing.assert_allclose(H[0][0].numpy(), np.zeros((2, 3, 2, 3)))
    np.testing.assert_allclose(H[0][1].numpy(), np.einsum("i,jl,m->ijlm", np.ones(2),
                                                          np.eye(3), np.ones(2)))
    np.testing.assert_allclose(H[1][0].numpy(), np.transpose(H[0][1].numpy(), (2, 3, 0, 1)))
    np.testing.assert_allclose(H[1][1].numpy(), np.zeros((3, 2, 3, 2)))


def test_hessian_create_graph_can_be_differentiated_again(device, rng):
    x_np = rng.standard_normal(3)
    x = tensor(x_np, device, requires_grad=True)
    H = AF.hessian(lambda x: (x * x * x * x).sum() / 12, x, create_graph=True)  # diag(x²)
    assert H.requires_grad
    np.testing.assert_allclose(H.numpy(), np.diag(x_np ** 2), atol=1e-14)
    (third,) = tg.grad(H.sum(), x)
    np.testing.assert_allclose(third.numpy(), 2 * x_np, atol=1e-14)


def test_hessian_strict_raises_where_pytorch_does(device, rng):
    x, y = tensor([1.0, 2.0], device), tensor([3.0, 4.0], device)
    with pytest.raises(RuntimeError, match="gradient of func with respect to input 0 does "
                                           "not depend on the inputs"):
        AF.hessian(lambda x: (3 * x).sum(), x, strict=True)  # linear
    with pytest.raises(RuntimeError, match="does not depend on input 0"):
        AF.hessian(lambda x, y: x @ y, (x, y), strict=True)  # bilinear: ∂²/∂x² has no path
    H = AF.hessian(lambda x, y: (x * x).sum(), (x, y))  # y unused: zeros, not an error
    np.testing.assert_allclose(H[0][0].numpy(), 2 * np.eye(2))
    np.testing.assert_allclose(H[1][1].numpy(), np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="single-element Tensor, got shape"):
        AF.hessian(lambda x: x * x, x)


def test_jvp_is_right_where_a_backward_formula_has_a_kink_at_a_zero_cotangent():
    """logcumsumexp's backward takes log u⁺ of the cotangent: the dummy u of the
    double-vjp trick must not be 0 (it gave a tangent of 0)."""
    x = np.array([0.3, -1.2, 2.0, 0.5])
    v = np.array([1.0, -0.5, 0.25, 2.0])
    f = lambda t: t.logcumsumexp(0)                                   # noqa: E731
    _, tangent = tg.autograd.functional.jvp(f, tg.tensor(x), tg.tensor(v))
    h = 1e-6
    central = (f(tg.tensor(x + h * v)).numpy() - f(tg.tensor(x - h * v)).numpy()) / (2 * h)
    np.testing.assert_allclose(tangent.numpy(), central, rtol=1e-6, atol=1e-8)
    assert np.abs(central).max() > 0.1
