"""Audit of forward mode (``tg.autograd.forward_ad``) against PyTorch: the cost of a
chain of ops, primals whose backward graph was freed, and a few tangents, each
checked against a NumPy reference (hand-derived JVPs, central finite differences).

Bugs pinned here (each test failed before its fix):
* the tangent of each op was found by ``engine.grad``, whose walk went down the whole
  graph below the op (the primals' and the tangents' graphs, to the leaves): the N-th
  op of a chain on a primal or tangent that requires grad walked N tensors, N² for the
  chain;
* that walk raised on a primal whose backward graph an earlier ``backward()`` had
  freed, where PyTorch's forward mode never reads the backward graph.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd import engine
from tinygrad_opt.autograd import forward_ad as fwAD


def f64(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=tg.float64, device=device,
                     requires_grad=requires_grad)


def sin_chain_reference(x, t, n):
    """(sinⁿ(x), its tangent along t): ẏ_{k+1} = cos(y_k)·ẏ_k."""
    for _ in range(n):
        x, t = np.sin(x), np.cos(x) * t
    return x, t


def run_chain(x, t, n, device, primal_grad, tangent_grad, monkeypatch):
    """Forward mode through n sin ops; returns (primal, tangent, tensors walked by the
    engine, tangent computations)."""
    walked, computed = [0], [0]
    order, jvp = engine.topological_order, fwAD._jvp_of_op

    def counting_order(*args, **kwargs):
        result = order(*args, **kwargs)
        walked[0] += len(result)
        return result

    def counting_jvp(*args, **kwargs):
        computed[0] += 1
        return jvp(*args, **kwargs)

    monkeypatch.setattr(engine, "topological_order", counting_order)
    monkeypatch.setattr(fwAD, "_jvp_of_op", counting_jvp)
    with fwAD.dual_level():
        d = fwAD.make_dual(f64(x, device, primal_grad), f64(t, device, tangent_grad))
        for _ in range(n):
            d = d.sin()
        primal, tangent = fwAD.unpack_dual(d)
    monkeypatch.undo()
    return primal, tangent, walked[0], computed[0]


@pytest.mark.parametrize("primal_grad,tangent_grad", [(True, False), (False, True)])
def test_a_chain_of_n_ops_costs_linear_in_n(device, rng, monkeypatch, primal_grad,
                                            tangent_grad):
    x, t = rng.uniform(0.2, 1.5, 5), rng.standard_normal(5)
    walks = {}
    for n in (10, 40):
        primal, tangent, walked, computed = run_chain(x, t, n, device, primal_grad,
                                                      tangent_grad, monkeypatch)
        assert computed == n  # one tangent computation per op
        walks[n] = walked
        y_ref, t_ref = sin_chain_reference(x, t, n)
        np.testing.assert_allclose(primal.detach().numpy(), y_ref, rtol=1e-13)
        np.testing.assert_allclose(tangent.detach().numpy(), t_ref, rtol=1e-12, atol=1e-15)
        assert tangent.requires_grad  # still a graph in the primal or the tangent
    # Linear: 4× the ops walk about 4× the tensors (quadratic walked about 16×).
    assert walks[40] <= 5 * walks[10], walks
    assert walks[40] <= 40 * 40, walks  # a bounded walk per op


def test_the_tangent_of_a_chain_stays_differentiable_in_the_primal(device, rng):
    # y = sin(sin(x)): ẏ = cos(sin x)·cos x·ẋ, so
    # d/dx Σ ẏ = (−sin(sin x)·cos²x − cos(sin x)·sin x)·ẋ
    x_value, t = rng.uniform(-1.0, 1.0, 4), rng.standard_normal(4)
    x = f64(x_value, device, requires_grad=True)
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(fwAD.make_dual(x, f64(t, device)).sin().sin()).tangent
    np.testing.assert_allclose(tangent.detach().numpy(),
                               np.cos(np.sin(x_value)) * np.cos(x_value) * t, rtol=1e-13)
    tangent.sum().backward()
    expected = (-np.sin(np.sin(x_value)) * np.cos(x_value) ** 2
                - np.cos(np.sin(x_value)) * np.sin(x_value)) * t
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


def test_a_primal_whose_backward_graph_was_freed_carries_tangents(device, rng):
    # PyTorch's forward mode never reads the backward graph: a freed one is no error.
    x_value, t, w = rng.uniform(0.1, 1.0, 3), rng.standard_normal(3), rng.standard_normal(3)
    x = f64(x_value, device, requires_grad=True)
    h = x.exp()
    h.sum().backward()  # frees Exp's saved values
    h_value = np.exp(x_value)
    with fwAD.dual_level():
        y = fwAD.make_dual(h, f64(t, device)).sin()
        primal, tangent = fwAD.unpack_dual(y)
        np.testing.assert_allclose(primal.detach().numpy(), np.sin(h_value), rtol=1e-14)
        np.testing.assert_allclose(tangent.detach().numpy(), np.cos(h_value) * t, rtol=1e-14)
        # h as the plain operand of a dual one: ẏ = ẇ·h
        z = fwAD.make_dual(f64(w, device), f64(t, device)) * h
        np.testing.assert_allclose(fwAD.unpack_dual(z).tangent.detach().numpy(), t * h_value,
                                   rtol=1e-14)


def numpy_logsumexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


OPS = {  # name: (tg function, the same in NumPy, input shapes)
    "matmul_broadcast": (lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4, 2)]),
    "div_broadcast": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1),
                      [(3, 1), (4,)]),
    "logsumexp": (lambda a: a.logsumexp(dim=1), lambda a: numpy_logsumexp(a, 1), [(3, 4)]),
    "where_tanh": (lambda a, b: tg.where(a > 0, a.tanh(), b.exp()),
                   lambda a, b: np.where(a > 0, np.tanh(a), np.exp(b)), [(5,), (5,)]),
}


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("requires_grad", [False, True])
def test_tangents_match_central_differences(name, requires_grad, device, rng):
    fn, numpy_fn, shapes = OPS[name]
    arrays = [rng.uniform(-1.0, 1.0, shape) for shape in shapes]
    arrays[0] = np.where(np.abs(arrays[0]) < 0.1, 0.5, arrays[0])  # where: off its kink
    tangent_arrays = [rng.standard_normal(shape) for shape in shapes]
    with fwAD.dual_level():
        duals = [fwAD.make_dual(f64(x, device, requires_grad), f64(t, device))
                 for x, t in zip(arrays, tangent_arrays)]
        primal, tangent = fwAD.unpack_dual(fn(*duals))
    eps = 1e-6
    difference = (numpy_fn(*[x + eps * t for x, t in zip(arrays, tangent_arrays)])
                  - numpy_fn(*[x - eps * t for x, t in zip(arrays, tangent_arrays)])) / (2 * eps)
    np.testing.assert_allclose(primal.detach().numpy(), numpy_fn(*arrays), rtol=1e-13)
    assert tangent.shape == primal.shape and tangent.dtype == tg.float64
    assert tangent.requires_grad == requires_grad
    np.testing.assert_allclose(tangent.detach().numpy(), difference, rtol=1e-7, atol=1e-8)


def test_unpack_dual_outside_a_level_and_nested_levels(device):
    x = f64([1.0, 2.0], device)
    primal, tangent = fwAD.unpack_dual(x)  # PyTorch: (tensor, None) with no level open
    assert primal is x and tangent is None
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
            fwAD.enter_dual_level()
        dual = fwAD.make_dual(x, f64([3.0, -1.0], device))
        np.testing.assert_array_equal(fwAD.unpack_dual(dual * 2).tangent.numpy(), [6.0, -2.0])
    assert fwAD.unpack_dual(dual).tangent is None  # dropped with the level
    with pytest.raises(RuntimeError, match="no level"):
        fwAD.make_dual(x, f64([3.0, -1.0], device))
