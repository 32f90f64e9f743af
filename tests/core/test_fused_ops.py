"""The fused ops (Linear, LogSoftmax) against their composed twins, the oracles."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.ops import fused as linalg


def leaf(rng, shape, device):
    return tg.tensor(rng.standard_normal(shape), dtype="float64", device=device,
                     requires_grad=True)


@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_matches_the_composed_ops(device, rng, x_shape, with_bias):
    x, w = leaf(rng, x_shape, device), leaf(rng, (3, 4), device)
    b = leaf(rng, (3,), device) if with_bias else None
    inputs = (x, w, b) if with_bias else (x, w)

    def composed(x, w, b=None):
        y = x @ w.T
        return y if b is None else y + b
    fused, oracle = linalg.linear(*inputs), composed(*inputs)
    np.testing.assert_allclose(fused.numpy(), oracle.numpy(), rtol=1e-12)
    weights = tg.tensor(rng.standard_normal(fused.shape), dtype="float64", device=device)
    fused_grads = tg.grad((fused * weights).sum(), inputs)
    oracle_grads = tg.grad((oracle * weights).sum(), inputs)
    for ours, theirs in zip(fused_grads, oracle_grads):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)
    assert tg.gradcheck(linalg.linear, inputs)
    assert tg.gradgradcheck(linalg.linear, inputs)


@pytest.mark.parametrize("x_shape", [(32, 64), (1, 5), (7, 3, 5), (2, 2, 2, 5), (5,)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_gives_numpys_products_bit_for_bit(device, x_shape, dtype):
    # a 2-D x's products run by dot, the others by @: each the same numbers as NumPy's @
    rng = np.random.default_rng(3)
    in_features, out_features = x_shape[-1], 6
    arrays = [rng.standard_normal(shape).astype(dtype)
              for shape in (x_shape, (out_features, in_features), (out_features,))]
    x, w, b = [tg.tensor(a, device=device, requires_grad=True) for a in arrays]
    y = linalg.linear(x, w, b)
    g = rng.standard_normal(y.shape).astype(dtype)
    (y * tg.tensor(g, device=device)).sum().backward()
    xa, wa, ba = arrays
    rows, inputs = g.reshape(-1, out_features), xa.reshape(-1, in_features)
    np.testing.assert_array_equal(y.numpy(), xa @ wa.T + ba)
    np.testing.assert_array_equal(x.grad.numpy(), g @ wa)
    np.testing.assert_array_equal(w.grad.numpy(), rows.T @ inputs)
    np.testing.assert_array_equal(b.grad.numpy(), rows.sum(axis=0))


def test_linear_casts_the_input_and_names_bad_shapes_and_devices(rng):
    w = tg.tensor(rng.standard_normal((3, 4)), dtype="float32", requires_grad=True)
    x64 = tg.tensor(rng.standard_normal((2, 4)))  # float64 host data
    x64 = x64.double()
    assert linalg.linear(x64, w).dtype == np.float32
    with pytest.raises(ValueError, match=r"\(2, 5\).*in_features=4"):
        linalg.linear(tg.zeros(2, 5), w)
    with pytest.raises(RuntimeError, match="'strict'.*'cpu'"):
        linalg.linear(tg.zeros(2, 4, device="strict"), w)


@pytest.mark.parametrize("shape, dim", [((4, 5), 1), ((4, 5), 0), ((2, 3, 4), -1), ((6,), 0)])
def test_log_softmax_matches_the_composed_ops(device, rng, shape, dim):
    x = leaf(rng, shape, device)
    fused = x.log_softmax(dim)
    oracle = x - x.logsumexp(dim, keepdim=True)
    np.testing.assert_allclose(fused.numpy(), oracle.numpy(), rtol=1e-12, atol=1e-12)
    weights = tg.tensor(rng.standard_normal(shape), dtype="float64", device=device)
    (ours,) = tg.grad((fused * weights).sum(), [x])
    (theirs,) = tg.grad((oracle * weights).sum(), [x])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)
    assert tg.gradcheck(lambda x: x.log_softmax(dim), x)
    assert tg.gradgradcheck(lambda x: x.log_softmax(dim), x)


def test_log_softmax_is_stable_for_huge_logits(device):
    x = tg.tensor([[1e4, 0.0, -1e4]], dtype="float32", device=device, requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = x.log_softmax(1)
        y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [[0.0, -1e4, -2e4]], rtol=1e-6)
    assert np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_allclose(x.softmax(1).numpy(), [[1.0, 0.0, 0.0]])


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("repeat", [1, 640])  # 8 elements, 5,120
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_relu_twin_matches_the_readable_relu_with_inf_and_nan_upstream(
        device, create_graph, repeat, dtype):
    """The twin multiplies by the mask only when sum(g * y) is finite; every upstream and
    input that breaks the product (inf or NaN in g on either side, a NaN or inf input,
    sums that overflow) gives the readable selection's gradient."""
    from tinygrad_opt.ops import elementwise, fused
    base = [-2.0, -0.0, 0.0, 0.5, 3.0, -1.0, 2.0, -4.0]
    inputs = [np.tile(base, repeat), np.tile(base[:5] + [np.nan, 2.0, np.inf], repeat)]
    upstreams = [np.linspace(-1, 1, 8 * repeat),
                 np.tile([np.inf, -np.inf, np.nan, 1.0, 2.0, np.nan, np.inf, 1.0], repeat),
                 np.tile([1.0, 1.0, 1.0, np.inf, 1.0, 1.0, 1.0, 1.0], repeat),  # inf passed
                 np.tile([np.nan] + [1.0] * 7, repeat),                  # NaN, masked side
                 np.full(8 * repeat, 6e4 if dtype == "float16" else 1e30)]  # overflowing sum
    for values in inputs:
        for upstream in upstreams:
            grads = []
            for op in (fused.Relu, elementwise.Relu):
                x = tg.tensor(values, dtype=dtype, requires_grad=True, device=device)
                y = op.apply(x)
                (grad,) = tg.grad(y, x, grad_outputs=tg.tensor(upstream, dtype=dtype,
                                                              device=device),
                                  create_graph=create_graph)
                grads.append(grad.numpy())
            np.testing.assert_array_equal(grads[0], grads[1])
            assert np.all(grads[0][values <= 0] == 0)  # the masked side gets exactly 0
            nan_input = np.isnan(values)
            np.testing.assert_array_equal(grads[0][nan_input], upstream.astype(dtype)[nan_input])


def test_relu_twin_multiplies_when_the_check_passes(monkeypatch):
    """A pin of the speed-up: finite g and y take the product, not ``where``."""
    from tinygrad_opt import backend
    from tinygrad_opt.ops import fused
    calls = []
    real = backend.np.where
    monkeypatch.setattr(backend.np, "where", lambda *a: calls.append(1) or real(*a))
    x = tg.tensor(np.linspace(-1, 1, 64), requires_grad=True)
    fused.Relu.apply(x).sum().backward()
    assert calls == [] and np.array_equal(x.grad.numpy(), (np.linspace(-1, 1, 64) > 0) * 1.0)
    (grad,) = tg.grad(fused.Relu.apply(x), x, grad_outputs=tg.full((64,), np.inf))
    assert calls and np.all(grad.numpy()[:32] == 0)  # inf upstream: the selection


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "uint8", "int64"])
def test_relu_twin_forward_equals_the_readable_forward(device, dtype):
    """The twin's forward compares with a 0-d zero (NumPy 2's slower path for the Python 0
    avoided): the same values, signed zeros and NaNs included, and the same dtype."""
    from tinygrad_opt.ops import elementwise, fused
    values = np.array([-2.5, -0.0, 0.0, 0.5, 3.0, np.nan, -np.inf, np.inf]
                      if dtype.startswith("float") else [-3, 0, 1, 7, -1, 2, 100, 5])
    if dtype == "uint8":
        values = np.abs(values)
    x = tg.tensor(values.astype(dtype), device=device)
    twin, readable = fused.Relu.apply(x), elementwise.Relu.apply(x)
    assert twin.dtype == readable.dtype == x.dtype
    np.testing.assert_array_equal(twin.numpy(), readable.numpy())
    assert np.array_equal(np.signbit(twin.numpy()), np.signbit(readable.numpy()))


def test_log_softmax_of_a_0d_or_integer_tensor_as_pytorch():
    """0-d: log softmax 0 and softmax 1 (PyTorch's values); integers: the default float."""
    x = tg.tensor(3.0, requires_grad=True)
    assert x.log_softmax(0).shape == () and x.log_softmax(0).item() == 0.0
    assert x.softmax(-1).item() == 1.0
    x.softmax(0).backward()
    assert x.grad.item() == 0.0
    ints = tg.tensor([1, 2])
    assert ints.softmax(0).dtype == "float32"
    assert np.allclose(ints.log_softmax(0).tolist(), [-np.log1p(np.e), -np.log1p(np.exp(-1))])
