"""Audit of ``tg.func`` and ``tg.autograd.functional`` against torch.func's documented
semantics: integer outputs and argument checks of ``jvp``, the dtype of ``jacfwd``'s
blocks, and a few nestings. Every reference is NumPy: analytic
derivatives or float64 central differences.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.func as func

AF = tg.autograd.functional


def tensor(values, device="cpu", dtype=np.float64, requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=dtype), device=device,
                     requires_grad=requires_grad)


def central(f, xs, vs, h=1e-6):
    """(f(x + h v) - f(x - h v)) / 2h for NumPy arrays: J·v, leaf by leaf of f's tuple."""
    plus = f(*[x + h * v for x, v in zip(xs, vs)])
    minus = f(*[x - h * v for x, v in zip(xs, vs)])
    return tuple((a - b) / (2 * h) for a, b in zip(plus, minus))


# --- jvp: integer outputs, empty primals, integer tangents ---


def test_jvp_of_an_integer_output_is_zeros_of_its_dtype(device, rng):
    """torch.func.jvp: an output without a tangent (an integer one) gets
    zeros_like(output); it raised a TypeError (a requires_grad on an int tensor)."""
    x, v = rng.uniform(0.5, 2.5, 4), rng.standard_normal(4)
    f = lambda a: ((a > 1.5).long(), a.sin() * a.sum())                    # noqa: E731
    out, tangent = func.jvp(f, (tensor(x, device),), (tensor(v, device),))
    np.testing.assert_array_equal(out[0].numpy(), (x > 1.5).astype(np.int64))
    assert tangent[0].dtype == out[0].dtype and tangent[0].shape == (4,)
    np.testing.assert_array_equal(tangent[0].numpy(), np.zeros(4, dtype=np.int64))
    (expected,) = central(lambda a: (np.sin(a) * a.sum(),), [x], [v])
    np.testing.assert_allclose(tangent[1].numpy(), expected, rtol=1e-6, atol=1e-8)
    with pytest.raises(RuntimeError, match="strict=True"):
        func.jvp(f, (tensor(x, device),), (tensor(v, device),), strict=True)


def test_jvp_refuses_empty_primals_and_an_integer_tangent():
    """As PyTorch: no primal at all is an error (it returned f() and a zero tangent),
    and so is a tangent that is not floating point (it was cast silently)."""
    with pytest.raises(RuntimeError, match="primals to contain at least one Tensor"):
        func.jvp(lambda: tensor(1.0), (), ())
    x = tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="tangent 0 must be floating point.*int64"):
        func.jvp(lambda a: a * 2, (x,), (tensor([1, 2], dtype=np.int64),))


# --- jacfwd's dtype is the output's, jacrev's the input's ---


def test_jacfwd_blocks_have_the_output_dtype_and_jacrev_the_input_dtype(device, rng):
    """torch.func.jacfwd pushes a tangent forward, so ∂out/∂x has out's dtype (an
    integer output: zeros); jacrev pulls a cotangent back, so it has x's dtype."""
    x = rng.uniform(-1, 1, 3).astype(np.float32)
    f = lambda a: a.double() ** 2                                           # noqa: E731
    expected = np.diag(2 * x.astype(np.float64))
    forward = func.jacfwd(f)(tensor(x, device, np.float32))
    reverse = func.jacrev(f)(tensor(x, device, np.float32))
    assert forward.dtype == tg.float64 and reverse.dtype == tg.float32
    np.testing.assert_allclose(forward.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(reverse.numpy(), expected, rtol=1e-6)
    # several outputs and inputs: each block takes its own output's dtype
    g = lambda a, b: ((a * b).float(), (a > 0).long())                     # noqa: E731
    a, b = rng.standard_normal(2), rng.standard_normal(2)
    (da, db), (ia, ib) = func.jacfwd(g, argnums=(0, 1))(tensor(a, device), tensor(b, device))
    assert da.dtype == db.dtype == tg.float32 and ia.dtype == ib.dtype == tg.int64
    np.testing.assert_allclose(da.numpy(), np.diag(b), rtol=1e-6)
    np.testing.assert_allclose(db.numpy(), np.diag(a), rtol=1e-6)
    np.testing.assert_array_equal(ia.numpy(), np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(RuntimeError, match="jacrev: output 1 of f has dtype int64"):
        func.jacrev(g)(tensor(a, device), tensor(b, device))


# --- nestings and options checked correct (kept as regression tests) ---


def test_hessian_with_a_tuple_argnums_has_the_mixed_blocks(device, rng):
    """H[i][j] = ∂²f/∂x_i∂x_j for f(a, b) = |a|²·|b|²: 2|b|²·I, 4·a bᵀ, 4·b aᵀ, 2|a|²·I."""
    a, b = rng.standard_normal(3), rng.standard_normal(2)
    f = lambda p, q: (p ** 2).sum() * (q ** 2).sum()                       # noqa: E731
    H = func.hessian(f, argnums=(0, 1))(tensor(a, device), tensor(b, device))
    np.testing.assert_allclose(H[0][0].numpy(), 2 * (b @ b) * np.eye(3), rtol=1e-12)
    np.testing.assert_allclose(H[0][1].numpy(), 4 * np.outer(a, b), rtol=1e-12)
    np.testing.assert_allclose(H[1][0].numpy(), 4 * np.outer(b, a), rtol=1e-12)
    np.testing.assert_allclose(H[1][1].numpy(), 2 * (a @ a) * np.eye(2), rtol=1e-12)


def test_functional_products_under_no_grad_with_create_graph_keep_a_graph(rng):
    """torch.autograd.functional records the products whenever create_graph=True, also
    inside no_grad: the result is differentiable with respect to v."""
    x = rng.uniform(-1, 1, 3)
    v = tensor(rng.standard_normal(3), requires_grad=True)
    with tg.no_grad():
        _, product = AF.hvp(lambda a: (a.sin() * a.sum()).sum(), tensor(x), v,
                            create_graph=True)
    product.sum().backward()
    # H = diag(-sin x)·Σx + cos x 1ᵀ + 1 cos xᵀ, and d(1ᵀ H v)/dv = H 1
    H = np.diag(-np.sin(x)) * x.sum() + np.outer(np.cos(x), np.ones(3)) \
        + np.outer(np.ones(3), np.cos(x))
    np.testing.assert_allclose(v.grad.numpy(), H @ np.ones(3), rtol=1e-10)


def test_vmap_of_jvp_with_nested_in_dims_and_negative_out_dims(device, rng):
    """vmap over dim 1 of the primal and dim 0 of the tangent, the batch put last."""
    xs, vs = rng.uniform(-1, 1, (3, 4)), rng.standard_normal((4, 3))
    jv = lambda p: func.jvp(lambda a: a.exp() * a[0], (p[0],), (p[1],))[1]  # noqa: E731
    got = func.vmap(jv, in_dims=((1, 0),), out_dims=-1)((tensor(xs, device),
                                                         tensor(vs, device)))
    assert got.shape == (3, 4)
    for i in range(4):
        (expected,) = central(lambda a: (np.exp(a) * a[0],), [xs[:, i]], [vs[i]])
        np.testing.assert_allclose(got.numpy()[:, i], expected, rtol=1e-6, atol=1e-8)
