"""``tg.func`` (torch.func): functional_call, grad, grad_and_value, vjp, jvp, jacrev,
jacfwd, hessian and vmap, against derivatives derived by hand, NumPy finite differences
and per-sample ``loss.backward()``.

The functions and their derivatives used throughout:

    p(x) = Σ x³ + 2x            ∇p = 3x² + 2
    s(x) = x sin x              s' = sin x + x cos x
                                s'' = 2 cos x − x sin x
                                s''' = −3 sin x − x cos x
    m(x, y) = Σ x·y + Σ y²      ∂m/∂x = y,  ∂m/∂y = x + 2y
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.func as func
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


def tensor(values, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def host(t):
    return t.numpy()


def p(x):
    return (x ** 3 + 2 * x).sum()


def s(x):
    return x * x.sin()


def m(x, y):
    return (x * y).sum() + (y ** 2).sum()


# --- grad and grad_and_value ---


def test_grad_of_a_polynomial(device):
    x = tensor([-1.5, 0.0, 0.5, 2.0], device)
    g = func.grad(p)(x)
    assert g.device == device and g.shape == (4,)
    np.testing.assert_allclose(host(g), 3 * host(x) ** 2 + 2)
    assert not g.requires_grad and g.grad_fn is None


def test_nested_grad_gives_the_second_and_third_derivatives(device):
    for value in (-1.3, 0.4, 2.2):
        x = tensor(value, device)
        first = func.grad(s)(x)
        second = func.grad(func.grad(s))(x)
        third = func.grad(func.grad(func.grad(s)))(x)
        assert math.isclose(first.item(), math.sin(value) + value * math.cos(value),
                            rel_tol=1e-12)
        assert math.isclose(second.item(), 2 * math.cos(value) - value * math.sin(value),
                            rel_tol=1e-12)
        assert math.isclose(third.item(), -3 * math.sin(value) - value * math.cos(value),
                            rel_tol=1e-12)
        assert not second.requires_grad and not third.requires_grad


def test_grad_leaves_the_inputs_requires_grad_and_grad_alone():
    x = tensor([1.0, 2.0])
    func.grad(p)(x)
    assert not x.requires_grad and x.grad is None
    y = tensor([1.0, 2.0], requires_grad=True)
    func.grad(p)(y)
    assert y.requires_grad and y.grad is None and y.is_leaf


def test_grad_of_a_tensor_that_requires_grad_is_differentiable_by_backward():
    """∇p = 3x² + 2 keeps its graph to x: Σ ∇p backpropagates 6x into x.grad."""
    x = tensor([0.5, -1.0, 3.0], requires_grad=True)
    g = func.grad(p)(x)
    assert g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(host(x.grad), 6 * host(x))


def test_grad_through_a_captured_tensor_that_requires_grad():
    """grad wrt x of Σ x·w is w: a result that depends on w, differentiable wrt w."""
    w = tensor([2.0, -3.0], requires_grad=True)
    x = tensor([1.0, 1.0])
    g = func.grad(lambda x: (x * w).sum())(x)
    np.testing.assert_allclose(host(g), [2.0, -3.0])
    (g * tensor([5.0, 7.0])).sum().backward()
    np.testing.assert_allclose(host(w.grad), [5.0, 7.0])


def test_grad_under_no_grad_still_differentiates_and_returns_no_graph():
    x = tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        g = func.grad(p)(x)
    np.testing.assert_allclose(host(g), [5.0, 14.0])
    assert not g.requires_grad


def test_grad_argnums_as_an_int_a_negative_int_and_a_tuple():
    x, y = tensor([1.0, 2.0]), tensor([3.0, -1.0])
    np.testing.assert_allclose(host(func.grad(m)(x, y)), host(y))
    np.testing.assert_allclose(host(func.grad(m, argnums=1)(x, y)), host(x) + 2 * host(y))
    np.testing.assert_allclose(host(func.grad(m, argnums=-1)(x, y)), host(x) + 2 * host(y))
    gx, gy = func.grad(m, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(host(gx), host(y))
    np.testing.assert_allclose(host(gy), host(x) + 2 * host(y))


def test_grad_with_respect_to_a_pytree_of_parameters():
    """L = Σ (w·x + b)² + Σ c[0]·c[1]: the gradient has the dict's structure."""
    params = {"w": tensor([1.0, 2.0]), "b": tensor(0.5),
              "c": [tensor([1.0, -2.0]), tensor([3.0, 4.0])]}
    x = tensor([3.0, -1.0])

    def loss(params, x):
        z = params["w"] * x + params["b"]
        return (z ** 2).sum() + (params["c"][0] * params["c"][1]).sum()

    g = func.grad(loss)(params, x)
    assert set(g) == {"w", "b", "c"} and isinstance(g["c"], list)
    z = np.array([1.0, 2.0]) * np.array([3.0, -1.0]) + 0.5
    np.testing.assert_allclose(host(g["w"]), 2 * z * np.array([3.0, -1.0]))
    np.testing.assert_allclose(g["b"].item(), 2 * z.sum())
    np.testing.assert_allclose(host(g["c"][0]), [3.0, 4.0])
    np.testing.assert_allclose(host(g["c"][1]), [1.0, -2.0])


def test_grad_and_value_and_has_aux():
    x = tensor([1.0, 2.0])

    def with_aux(x):
        value = p(x)
        return value, {"twice": 2 * value, "label": "p"}

    g, value = func.grad_and_value(p)(x)
    np.testing.assert_allclose(host(g), [5.0, 14.0])
    assert value.item() == 1 + 2 + 8 + 4
    g, aux = func.grad(with_aux, has_aux=True)(x)
    np.testing.assert_allclose(host(g), [5.0, 14.0])
    assert aux["twice"].item() == 30 and aux["label"] == "p"
    assert not aux["twice"].requires_grad
    g, (value, aux) = func.grad_and_value(with_aux, has_aux=True)(x)
    assert value.item() == 15 and aux["twice"].item() == 30 and not value.requires_grad


def test_grad_gives_zeros_for_an_unused_argument_and_a_constant_output():
    x, y = tensor([1.0, 2.0]), tensor([3.0])
    gx, gy = func.grad(lambda x, y: (x ** 2).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(host(gy), [0.0])
    np.testing.assert_allclose(host(gx), [2.0, 4.0])
    np.testing.assert_allclose(host(func.grad(lambda x: tensor(3.0))(x)), [0.0, 0.0])


def test_grad_passes_keyword_arguments_through():
    g = func.grad(lambda x, scale=1.0: (scale * x ** 2).sum())(tensor([1.0, 2.0]), scale=3.0)
    np.testing.assert_allclose(host(g), [6.0, 12.0])


def test_grad_errors_name_what_was_wrong():
    x = tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"scalar Tensor, got tensor with 1 dims"):
        func.grad(lambda x: x ** 2)(x)
    with pytest.raises(RuntimeError, match=r"scalar Tensor.*shape \(1,\)"):
        func.grad(lambda x: x.sum().reshape(1))(x)
    with pytest.raises(RuntimeError, match=r"\(output, aux\) if has_aux is True"):
        func.grad(p, has_aux=True)(x)
    with pytest.raises(RuntimeError, match=r"argnums=2, but only 1 positional inputs"):
        func.grad(p, argnums=2)(x)
    with pytest.raises(RuntimeError, match="argnums elements must be unique"):
        func.grad(m, argnums=(0, 0))(x, x)
    with pytest.raises(ValueError, match="only Tensors, got a float"):
        func.grad(lambda a: a * 2)(1.5)
    with pytest.raises(TypeError, match="floating-point"):
        func.grad(lambda a: a.sum())(tg.tensor([1, 2]))


# --- vjp and jvp ---


def pair(x, y):
    return x * y, x.sin()


def test_vjp_of_two_outputs_and_two_primals_called_twice(device):
    """(u1, u2)ᵀ·J = (u1·y + u2·cos x,  u1·x)."""
    x, y = tensor([0.3, -1.2], device), tensor([2.0, 5.0], device)
    output, vjp_fn = func.vjp(pair, x, y)
    np.testing.assert_allclose(host(output[0]), host(x) * host(y))
    assert not output[0].requires_grad
    for u1, u2 in (([1.0, 0.0], [0.0, 1.0]), ([2.0, -1.0], [0.5, 3.0])):
        gx, gy = vjp_fn((tensor(u1, device), tensor(u2, device)))
        np.testing.assert_allclose(host(gx), np.array(u1) * host(y)
                                   + np.array(u2) * np.cos(host(x)))
        np.testing.assert_allclose(host(gy), np.array(u1) * host(x))


def test_vjp_of_one_primal_returns_a_one_tuple_and_checks_the_cotangents():
    x = tensor([0.5, 1.0])
    output, vjp_fn, aux = func.vjp(lambda x: (x ** 2, "aux"), x, has_aux=True)
    assert aux == "aux"
    (g,) = vjp_fn(tensor([1.0, 3.0]))
    np.testing.assert_allclose(host(g), [1.0, 6.0])
    with pytest.raises(RuntimeError, match="structure of cotangents"):
        vjp_fn((tensor([1.0, 3.0]),))
    with pytest.raises(RuntimeError, match=r"cotangent 0 is \(3,\) but output 0 has shape"):
        vjp_fn(tensor([1.0, 3.0, 4.0]))


def test_jvp_by_the_double_vjp_trick(device):
    """J·v of (x·y, sin x) with tangents (vx, vy): (vx·y + x·vy, cos x·vx)."""
    x, y = tensor([0.3, -1.2], device), tensor([2.0, 5.0], device)
    vx, vy = tensor([1.0, -2.0], device), tensor([0.5, 0.25], device)
    output, (jv_product, jv_sin) = func.jvp(pair, (x, y), (vx, vy))
    np.testing.assert_allclose(host(output[1]), np.sin(host(x)))
    np.testing.assert_allclose(host(jv_product), host(vx) * host(y) + host(x) * host(vy))
    np.testing.assert_allclose(host(jv_sin), np.cos(host(x)) * host(vx))
    assert not jv_product.requires_grad and not x.requires_grad


def test_jvp_zeros_strict_aux_and_errors():
    x = tensor([1.0, 2.0])
    constant = tensor([7.0])
    _, (jv_square, jv_constant) = func.jvp(lambda x: (x ** 2, constant), (x,), (x,))
    np.testing.assert_allclose(host(jv_square), [2.0, 8.0])
    np.testing.assert_allclose(host(jv_constant), [0.0])
    with pytest.raises(RuntimeError, match="independent of the inputs"):
        func.jvp(lambda x: (x ** 2, constant), (x,), (x,), strict=True)
    _, jv, aux = func.jvp(lambda x: (x ** 3, 5), (x,), (tensor([1.0, 1.0]),), has_aux=True)
    np.testing.assert_allclose(host(jv), [3.0, 12.0])
    assert aux == 5
    with pytest.raises(RuntimeError, match="expected primals to be a tuple"):
        func.jvp(lambda x: x, x, x)
    with pytest.raises(RuntimeError, match="same python structure"):
        func.jvp(m, (x, x), (x,))
    with pytest.raises(RuntimeError, match=r"tangent 0 must be a Tensor of its primal's shape"):
        func.jvp(lambda x: x, (x,), (tensor([1.0]),))


def test_jvp_composes_with_grad():
    """d/dx of the directional derivative x ↦ s'(x)·1 is s''(x)."""
    x = tensor(0.8)
    second = func.grad(lambda x: func.jvp(s, (x,), (tensor(1.0),))[1])(x)
    assert math.isclose(second.item(), 2 * math.cos(0.8) - 0.8 * math.sin(0.8), rel_tol=1e-12)


# --- Jacobians and Hessians, against central differences in float64 ---


def numerical_jacobian(f, x, eps=1e-6):
    """∂f/∂x by central differences, of shape f(x).shape + x.shape (NumPy in, NumPy out)."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = eps
        step = step.reshape(x.shape)
        columns.append((f(x + step) - f(x - step)) / (2 * eps))
    jacobian = np.stack(columns, axis=-1)
    return jacobian.reshape(np.shape(f(x)) + x.shape)


A = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]])


def vector_f(x, y):
    """R³ × R² -> R²: (A·sin x) ⊙ y + x₀·x₂"""
    return (tensor(A, x.device) @ x.sin()) * y + x[0] * x[2]


def vector_f_np(x, y):
    return (A @ np.sin(x)) * y + x[0] * x[2]


@pytest.mark.parametrize("transform", [func.jacrev, func.jacfwd])
def test_jacobians_against_central_differences(transform, device):
    x0, y0 = np.array([0.3, -0.7, 1.1]), np.array([2.0, -0.5])
    x, y = tensor(x0, device), tensor(y0, device)
    jx = transform(vector_f)(x, y)
    assert jx.shape == (2, 3)
    np.testing.assert_allclose(host(jx), numerical_jacobian(lambda v: vector_f_np(v, y0), x0),
                               rtol=1e-7, atol=1e-9)
    jx, jy = transform(vector_f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(host(jy), numerical_jacobian(lambda v: vector_f_np(x0, v), y0),
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(host(transform(vector_f, argnums=1)(x, y)), host(jy))


def test_jacrev_of_several_outputs_and_a_pytree_input_with_aux():
    """Outputs {'a': x·w, 'b': Σx²}: entries of the outputs' structure, each the input's."""
    x = tensor([1.0, 2.0])
    w = tensor([3.0, -1.0])

    def f(inputs):
        x, w = inputs["x"], inputs["w"]
        return {"a": x * w, "b": (x ** 2).sum()}, "aux"

    jac, aux = func.jacrev(f, has_aux=True)({"x": x, "w": w})
    assert aux == "aux"
    np.testing.assert_allclose(host(jac["a"]["x"]), np.diag([3.0, -1.0]))
    np.testing.assert_allclose(host(jac["a"]["w"]), np.diag([1.0, 2.0]))
    assert jac["b"]["x"].shape == (2,)
    np.testing.assert_allclose(host(jac["b"]["x"]), [2.0, 4.0])
    np.testing.assert_allclose(host(jac["b"]["w"]), [0.0, 0.0])


def scalar_f(x, y):
    """Σ exp(x)·x + x₀·x₁·y₀ + Σ y³"""
    return (x.exp() * x).sum() + x[0] * x[1] * y[0] + (y ** 3).sum()


def scalar_f_grad_np(x, y):
    gx = np.exp(x) * (x + 1) + np.array([x[1] * y[0], x[0] * y[0], 0.0])
    gy = 3 * y ** 2 + np.array([x[0] * x[1], 0.0])
    return gx, gy


def test_hessian_against_central_differences_of_the_gradient(device):
    x0, y0 = np.array([0.2, -0.4, 0.9]), np.array([1.5, -0.3])
    x, y = tensor(x0, device), tensor(y0, device)
    H = func.hessian(scalar_f)(x, y)
    assert H.shape == (3, 3)
    np.testing.assert_allclose(
        host(H), numerical_jacobian(lambda v: scalar_f_grad_np(v, y0)[0], x0),
        rtol=1e-7, atol=1e-8)
    blocks = func.hessian(scalar_f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(
        host(blocks[0][1]), numerical_jacobian(lambda v: scalar_f_grad_np(x0, v)[0], y0),
        rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(
        host(blocks[1][1]), numerical_jacobian(lambda v: scalar_f_grad_np(x0, v)[1], y0),
        rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(host(blocks[1][0]), host(blocks[0][1]).T, rtol=1e-12)
    assert not H.requires_grad


def test_jacrev_chunk_size_is_checked():
    with pytest.raises(ValueError, match="chunk_size"):
        func.jacrev(p, chunk_size=0)


# --- vmap ---


def test_vmap_maps_each_argument_over_its_in_dim(device):
    xs = tensor(np.arange(6.0).reshape(2, 3), device)     # mapped over dim 1: 3 samples
    ys = tensor([10.0, 20.0, 30.0], device)                # mapped over dim 0
    w = tensor([1.0, -1.0], device)                        # not mapped

    def f(x, y, w):
        return (x * w).sum() + y

    out = func.vmap(f, in_dims=(1, 0, None))(xs, ys, w)
    expected = (host(xs) * host(w)[:, None]).sum(axis=0) + host(ys)
    np.testing.assert_allclose(host(out), expected)
    np.testing.assert_allclose(host(func.vmap(f, in_dims=(-1, 0, None))(xs, ys, w)), expected)


def test_vmap_nested_outputs_out_dims_and_kwargs():
    xs = tensor(np.arange(6.0).reshape(3, 2))

    def f(x, scale=1.0):
        return {"double": scale * x, "parts": (x.sum(), x[0])}

    out = func.vmap(f, out_dims={"double": 1, "parts": 0})(xs, scale=2.0)
    np.testing.assert_allclose(host(out["double"]), 2.0 * host(xs).T)
    np.testing.assert_allclose(host(out["parts"][0]), host(xs).sum(axis=1))
    np.testing.assert_allclose(host(out["parts"][1]), host(xs)[:, 0])
    out = func.vmap(lambda x: (x, x.sum()), out_dims=(-1, 0))(xs)
    assert out[0].shape == (2, 3) and out[1].shape == (3,)


def test_vmap_of_a_dict_input_with_nested_in_dims_and_out_dims_none():
    x, y = tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), tensor([1.0, 10.0])
    dot = func.vmap(lambda d: (d["x"] * d["y"]).sum(), in_dims=({"x": 0, "y": None},))
    np.testing.assert_allclose(host(dot({"x": x, "y": y})), [21.0, 43.0, 65.0])
    both = func.vmap(lambda x: (x.sum(), y * 2), out_dims=(0, None))(x)
    np.testing.assert_allclose(host(both[1]), [2.0, 20.0])
    with pytest.raises(ValueError, match="differs between samples"):
        func.vmap(lambda x: x * 2, out_dims=None)(x)


def test_nested_vmap():
    """vmap(vmap(dot)): (2, 3, 4) · (2, 3, 4) -> (2, 3)"""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    out = func.vmap(func.vmap(lambda u, v: (u * v).sum()))(tensor(a), tensor(b))
    np.testing.assert_allclose(host(out), (a * b).sum(axis=-1))


def test_vmap_of_grad_and_grad_of_vmap():
    xs = tensor([-1.0, 0.5, 2.0])
    np.testing.assert_allclose(host(func.vmap(func.grad(s))(xs)),
                               np.sin(host(xs)) + host(xs) * np.cos(host(xs)))
    np.testing.assert_allclose(host(func.vmap(func.grad(func.grad(s)))(xs)),
                               2 * np.cos(host(xs)) - host(xs) * np.sin(host(xs)))
    g = func.grad(lambda xs: func.vmap(s)(xs).sum())(xs)       # Σ_i s(x_i): ∂/∂x_i = s'(x_i)
    np.testing.assert_allclose(host(g), np.sin(host(xs)) + host(xs) * np.cos(host(xs)))
    g = func.grad(lambda xs: func.vmap(func.grad(s))(xs).sum())(xs)   # ∂/∂x_i = s''(x_i)
    np.testing.assert_allclose(host(g), 2 * np.cos(host(xs)) - host(xs) * np.sin(host(xs)))


def test_vmap_errors_name_what_was_wrong():
    x, y = tensor([1.0, 2.0]), tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"in_dims is not compatible.*2 entries for 1 arg"):
        func.vmap(lambda x: x, in_dims=(0, 0))(x)
    with pytest.raises(ValueError, match=r"in_dims is not compatible.*1 entries for 2 arg"):
        func.vmap(lambda x, y: x, in_dims=(0,))(x, x)
    with pytest.raises(ValueError, match="expected `in_dims` to be int or"):
        func.vmap(lambda x: x, in_dims=[0])(x)
    with pytest.raises(ValueError, match=r"same size in the mapped dimension, got sizes \[2, 3\]"):
        func.vmap(lambda x, y: x.sum() + y.sum())(x, y)
    with pytest.raises(ValueError, match=r"in_dim=1 .* dimensionality 1"):
        func.vmap(lambda x: x, in_dims=1)(x)
    with pytest.raises(ValueError, match="cannot vmap over non-Tensor"):
        func.vmap(lambda x, n: x * n)(x, 3)
    with pytest.raises(ValueError, match="at least one Tensor to vmap over"):
        func.vmap(lambda x: x, in_dims=(None,))(x)
    with pytest.raises(ValueError, match="must only return Tensors, got type float"):
        func.vmap(lambda x: 1.0)(x)
    with pytest.raises(ValueError, match="out_dims is not compatible"):
        func.vmap(lambda x: (x, x), out_dims=(0, 0, 0))(x)
    with pytest.raises(ValueError, match="got no inputs"):
        func.vmap(lambda: x)()
    with pytest.raises(ValueError, match="randomness"):
        func.vmap(lambda x: x, randomness="sometimes")


# --- functional_call, and per-sample gradients of a small MLP ---


def mlp(device="cpu"):
    tg.manual_seed(3)
    return nn.Sequential(nn.Linear(3, 5, device=device, dtype=tg.float64), nn.Tanh(),
                         nn.Linear(5, 2, device=device, dtype=tg.float64))


def test_per_sample_gradients_of_an_mlp_equal_one_backward_per_sample(device):
    model = mlp(device)
    rng = np.random.default_rng(0)
    X, Y = tensor(rng.normal(size=(4, 3)), device), tensor(rng.normal(size=(4, 2)), device)
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss(params, x, y):
        prediction = func.functional_call(model, params, (x.unsqueeze(0),))
        return F.mse_loss(prediction, y.unsqueeze(0))

    per_sample = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(params, X, Y)
    assert set(per_sample) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert per_sample["0.weight"].shape == (4, 5, 3)
    assert all(p.grad is None for p in model.parameters())   # the model was not touched
    for i in range(4):
        model.zero_grad()
        F.mse_loss(model(X[i:i + 1]), Y[i:i + 1]).backward()
        for name, parameter in model.named_parameters():
            np.testing.assert_allclose(host(per_sample[name][i]), host(parameter.grad),
                                       rtol=1e-10, atol=1e-12)


def test_functional_call_uses_the_given_tensors_and_restores_the_module():
    model = mlp()
    originals = {name: p for name, p in model.named_parameters()}
    x = tensor([[0.5, -1.0, 2.0]])
    new = {name: tensor(np.full(p.shape, 0.1), requires_grad=True)
           for name, p in originals.items()}
    out = func.functional_call(model, new, x)             # args not a tuple: one argument
    hidden = np.tanh(host(x) @ np.full((3, 5), 0.1) + 0.1)
    np.testing.assert_allclose(host(out), hidden @ np.full((5, 2), 0.1) + 0.1)
    out.sum().backward()                                  # gradients reach the given tensors
    np.testing.assert_allclose(host(new["2.bias"].grad), [1.0, 1.0])
    assert all(p.grad is None for p in model.parameters())
    for name, p in model.named_parameters():
        assert p is originals[name] and isinstance(p, nn.Parameter)
    assert model[0].weight is originals["0.weight"]       # the attribute too


def test_functional_call_restores_the_module_after_forward_raises():
    model = mlp()
    before = dict(model.named_parameters())
    with pytest.raises(ValueError):
        func.functional_call(model, {"0.weight": tensor(np.zeros((5, 3)))},
                             (tensor(np.zeros((1, 4))),))   # wrong width: Linear raises
    assert all(after is before[name] for name, after in model.named_parameters())
    assert model[0].weight is before["0.weight"]


def test_functional_call_merges_a_tuple_of_dicts_and_rejects_duplicate_keys():
    model = mlp()
    x = tensor([[1.0, 0.0, -1.0]])
    weights = {n: p.detach() * 2 for n, p in model.named_parameters() if n.endswith("weight")}
    biases = {n: p.detach() * 0 for n, p in model.named_parameters() if n.endswith("bias")}
    out = func.functional_call(model, (weights, biases), (x,))
    hidden = np.tanh(host(x) @ (2 * host(model[0].weight)).T)
    np.testing.assert_allclose(host(out), hidden @ (2 * host(model[2].weight)).T)
    with pytest.raises(ValueError, match=r"\['0.bias'\] appeared in multiple dictionaries"):
        func.functional_call(model, (biases, {"0.bias": biases["0.bias"]}), (x,))


def test_functional_call_strict_kwargs_buffers_and_unknown_keys():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(tg.ones(2, dtype=tg.float64))
            self.register_buffer("shift", tg.zeros(2, dtype=tg.float64))

        def forward(self, x, power=1):
            return self.weight * x ** power + self.shift + getattr(self, "extra", 0.0)

    module = Scaled()
    x = tensor([2.0, 3.0])
    out = func.functional_call(module, {"shift": tensor([1.0, 1.0])}, (x,), {"power": 2})
    np.testing.assert_allclose(host(out), [5.0, 10.0])
    out = func.functional_call(module, {"extra": tensor([100.0, 0.0])}, x)
    np.testing.assert_allclose(host(out), [102.0, 3.0])
    assert "extra" not in module.__dict__ and host(module.shift).tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\): 'extra'.*\n.*Missing "
                                           r"key\(s\): 'shift'"):
        func.functional_call(module, {"weight": x, "extra": x}, x, strict=True)
    with pytest.raises(AttributeError, match="no submodule 'inner'"):
        func.functional_call(module, {"inner.weight": x}, x)
    with pytest.raises(TypeError, match="must be a Tensor"):
        func.functional_call(module, {"weight": [1.0, 2.0]}, x)
    with pytest.raises(TypeError, match="'0' names a submodule"):
        func.functional_call(mlp(), {"0": x}, x)
    assert module.weight.tolist() == [1.0, 1.0] and "extra" not in module.__dict__


def test_functional_call_with_tied_weights():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2, bias=False, dtype=tg.float64)
            self.b = nn.Linear(2, 2, bias=False, dtype=tg.float64)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    module = Tied()
    x = tensor([[1.0, 2.0]])
    eye, double = tensor(np.eye(2)), tensor(2 * np.eye(2))
    np.testing.assert_allclose(host(func.functional_call(module, {"a.weight": double}, x)),
                               [[4.0, 8.0]])                      # both replaced: 2·2·x
    W = host(module.a.weight)
    untied = func.functional_call(module, {"a.weight": double}, x, tie_weights=False)
    np.testing.assert_allclose(host(untied), (2 * host(x)) @ W.T)  # b keeps its own
    with pytest.raises(ValueError, match="which are tied"):
        func.functional_call(module, {"a.weight": double, "b.weight": eye}, x)
    assert module.b.weight is module.a.weight


def test_functional_call_writes_in_place_buffer_updates_to_the_given_tensors():
    """BatchNorm in training updates running_mean in place: the given buffer is updated
    (as PyTorch documents), the module's own stays at 0."""
    bn = nn.BatchNorm1d(2, momentum=0.5, dtype=tg.float64)
    running_mean = tensor([0.0, 0.0])
    batch = tensor([[1.0, 2.0], [3.0, 6.0]])
    func.functional_call(bn, {"running_mean": running_mean}, batch)
    np.testing.assert_allclose(host(running_mean), [1.0, 2.0])   # 0.5·0 + 0.5·mean
    np.testing.assert_allclose(host(bn.running_mean), [0.0, 0.0])
