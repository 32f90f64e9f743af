"""Audit of ``tg.func``: ``linearize`` (torch.func.linearize: the output and a jvp_fn that
reuses one run of func) and ``vmap``'s out_dims=None (PyTorch refuses an output computed
from the mapped inputs, a BatchedTensor, even when every sample gives the same values,
and passes a non-Tensor output through). References are analytic derivatives in NumPy.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.func as func


def tensor(values, device="cpu", dtype=np.float64, requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=dtype), device=device,
                     requires_grad=requires_grad)


def other_device(device):
    return "strict" if device == "cpu" else "cpu"


# --- linearize ---


def test_linearize_gives_the_output_and_jvps_at_the_primals(device, rng):
    """f(x, y) = (sin(x)·y, Σ x·y):  J·(u, v) = (cos(x)·u·y + sin(x)·v, Σ u·y + x·v),
    for two different tangents from one linearize."""
    x, y = rng.uniform(-2, 2, (3, 2)), rng.uniform(-2, 2, (3, 2))
    f = lambda a, b: (a.sin() * b, (a * b).sum())                          # noqa: E731
    out, jvp_fn = func.linearize(f, tensor(x, device), tensor(y, device))
    np.testing.assert_allclose(out[0].numpy(), np.sin(x) * y, rtol=1e-12)
    np.testing.assert_allclose(out[1].numpy(), (x * y).sum(), rtol=1e-12)
    for _ in range(2):
        u, v = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
        got = jvp_fn(tensor(u, device), tensor(v, device))
        assert isinstance(got, tuple) and got[0].device == device
        np.testing.assert_allclose(got[0].numpy(), np.cos(x) * u * y + np.sin(x) * v,
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[1].numpy(), (u * y + x * v).sum(), rtol=1e-10)
        assert not got[0].requires_grad


def test_linearize_runs_func_once_and_takes_pytrees(device, rng):
    """A dict primal and a nested output (PyTorch's nested-input test); func's Python
    code runs once however often jvp_fn is called; an output independent of the
    primals gets zeros."""
    x, y, z = (rng.uniform(0.5, 2, 3) for _ in range(3))
    calls = []

    def f(arg):
        calls.append(1)
        a, (b, c) = arg["x"], arg["yz"]
        return {"a": a.sum(), "b": {"c": b + c, "d": (a * c, b.exp())},
                "k": tg.ones(2, dtype=tg.float64, device=device)}

    primal = {"x": tensor(x, device), "yz": (tensor(y, device), tensor(z, device))}
    out, jvp_fn = func.linearize(f, primal)
    np.testing.assert_allclose(out["b"]["d"][0].numpy(), x * z, rtol=1e-12)
    for _ in range(3):
        u, v, w = (rng.standard_normal(3) for _ in range(3))
        got = jvp_fn({"x": tensor(u, device), "yz": (tensor(v, device), tensor(w, device))})
        np.testing.assert_allclose(got["a"].numpy(), u.sum(), rtol=1e-12)
        np.testing.assert_allclose(got["b"]["c"].numpy(), v + w, rtol=1e-12)
        np.testing.assert_allclose(got["b"]["d"][0].numpy(), u * z + x * w, rtol=1e-12)
        np.testing.assert_allclose(got["b"]["d"][1].numpy(), np.exp(y) * v, rtol=1e-12)
        np.testing.assert_array_equal(got["k"].numpy(), np.zeros(2))
    assert len(calls) == 1
    assert "linearize" in func.__all__ and tg.func.linearize is func.linearize


def test_linearize_jvp_fn_under_vmap_and_grad(rng):
    """vmap(jvp_fn)(T) = the JVP of each row of T (PyTorch's composition test), and
    jvp_fn is linear in the tangent: ∂Σ(J·v)/∂v = Jᵀ·1 = cos(x)."""
    x, t = rng.uniform(-2, 2, 4), rng.standard_normal((3, 4))
    _, jvp_fn = func.linearize(lambda a: a.sin(), tensor(x))
    np.testing.assert_allclose(func.vmap(jvp_fn)(tensor(t)).numpy(), np.cos(x) * t,
                               rtol=1e-12)
    np.testing.assert_allclose(func.grad(lambda v: jvp_fn(v).sum())(tensor(t[0])).numpy(),
                               np.cos(x), rtol=1e-12)


def test_linearize_checks_each_tangent_as_pytorch(device, rng):
    """RuntimeErrors: the tangents' structure ("same argspec as the primals"), then each
    one's shape, device and dtype against its primal's."""
    x = tensor(rng.standard_normal((3, 1)), device)
    _, jvp_fn = func.linearize(lambda a: a.sin(), x)
    t = tensor(rng.standard_normal((3, 1)), device)
    with pytest.raises(RuntimeError, match="to have the same argspec as the primals"):
        jvp_fn((t, t))
    with pytest.raises(RuntimeError, match="tangent:0 with shape .* doesn't match the shape"):
        jvp_fn(t.unsqueeze(0))
    with pytest.raises(RuntimeError, match="doesn't match the dtype"):
        jvp_fn(t.astype(tg.float32))
    with pytest.raises(RuntimeError, match="doesn't match the device"):
        jvp_fn(t.to(other_device(device)))
    with pytest.raises(RuntimeError, match="at least one Tensor"):
        func.linearize(lambda: tg.ones(1))
    np.testing.assert_allclose(jvp_fn(t).numpy(), np.cos(x.numpy()) * t.numpy(), rtol=1e-12)


# --- vmap, out_dims=None ---


def test_vmap_out_dims_none_refuses_an_output_computed_from_the_mapped_input(device, rng):
    """PyTorch: "can not return a BatchedTensor when out_dim is None", also when every
    sample happens to give the same values (x·0, or an expanded input); ours returned
    them. An output not computed from the mapped inputs (a captured tensor's y·2,
    or an unmapped argument) is returned as it is."""
    x, y = rng.standard_normal((3, 2)), rng.standard_normal(2)
    xs, ys = tensor(x, device), tensor(y, device)
    with pytest.raises(ValueError, match="can not return a BatchedTensor when out_dim is None"):
        func.vmap(lambda a: a * 0, out_dims=None)(xs)
    with pytest.raises(ValueError, match="BatchedTensor"):
        func.vmap(lambda a: (a.sum(), a.sum() * 0.0), out_dims=(0, None))(xs)
    same = tensor(y, device).unsqueeze(0).expand(4, 2)       # every sample the same
    with pytest.raises(ValueError, match="BatchedTensor"):
        func.vmap(lambda a: a.exp(), out_dims=None)(same)
    sums, doubled = func.vmap(lambda a: (a.sum(), ys * 2), out_dims=(0, None))(xs)
    np.testing.assert_allclose(sums.numpy(), x.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(doubled.numpy(), 2 * y, rtol=1e-12)
    assert not sums.requires_grad and not doubled.requires_grad
    out, passed = func.vmap(lambda a, b: (a * b, b), in_dims=(0, None),
                            out_dims=(1, None))(xs, ys)
    np.testing.assert_allclose(out.numpy(), (x * y).T, rtol=1e-12)
    np.testing.assert_allclose(passed.numpy(), y)


def test_vmap_out_dims_none_passes_non_tensors_and_keeps_gradients(rng):
    """PyTorch returns a non-Tensor output whose out_dim is None as it is (and asks
    "Did you mean to set out_dim= to None" for an int out_dim); ours refused both.
    Tracing the mapped input leaves the results' gradients as they were:
    out = x·w (mapped), w² (not), ∂Σ(Σ out + Σ w²)/∂w = Σ_i x_i + 2w."""
    x, w0 = rng.standard_normal((3, 2)), rng.standard_normal(2)
    xs, w = tensor(x), tensor(w0, requires_grad=True)
    out, count, nothing = func.vmap(lambda a: (a * w, 3, None), out_dims=(0, None, None))(xs)
    assert count == 3 and nothing is None
    with pytest.raises(ValueError, match="Did you mean to set out_dims= to None"):
        func.vmap(lambda a: (a, 3))(xs)
    mapped, squared = func.vmap(lambda a: (a * w, w * w), out_dims=(0, None))(xs)
    np.testing.assert_allclose(mapped.numpy(), x * w0, rtol=1e-12)
    (mapped.sum() + squared.sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), x.sum(axis=0) + 2 * w0, rtol=1e-12)
    assert not xs.requires_grad and xs.grad is None


def test_vmap_out_dims_none_with_integer_inputs_and_in_place_writes(rng):
    """An integer input leaves no graph: its output is judged by its values (a mapped
    one differs between samples). An in-place write into a mapped input still reaches
    the caller's tensor while the output is traced."""
    idx = tg.tensor(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="BatchedTensor"):
        func.vmap(lambda i: i * 2, out_dims=None)(idx)
    x = rng.standard_normal((3, 2))
    xs, c = tensor(x), tensor([1.0, -1.0])

    def scaled(a):
        a.mul_(2)
        return a.sum(), c + 1

    sums, shifted = func.vmap(scaled, out_dims=(0, None))(xs)
    np.testing.assert_allclose(xs.numpy(), 2 * x, rtol=1e-12)
    np.testing.assert_allclose(sums.numpy(), 2 * x.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(shifted.numpy(), [2.0, 0.0])
