"""The fused BatchNorm and LayerNorm ops of nn/fused_norm.py against their compositions.

In training mode ``F.batch_norm`` runs one op; its definition is the composition
written here as in nn/functional.py (the batch mean and biased variance as Tensor ops,
x̂ = (x − μ)/√(σ² + eps), γ·x̂ + β). The op must give the same values (bit for bit),
the same first gradients in a plain and a recorded backward, second derivatives, the
same running statistics, on 'cpu' and 'strict', with and without γ and β.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn
from tinygrad_opt.nn import fused_norm


def composed(x, weight, bias, eps):
    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(dim=dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dim=dims, keepdim=True)
    y = centered / (var + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y, mean, var


def assert_same_gradients(y, oracle, inputs, rng, device):
    """The same first gradients as the oracle's, in a plain and in a recorded backward."""
    g = tg.tensor(rng.standard_normal(y.shape), device=device)
    for create_graph in (False, True):
        ours = tg.grad((y * g).sum(), inputs, retain_graph=True, create_graph=create_graph)
        theirs = tg.grad((oracle * g).sum(), inputs, retain_graph=True,
                         create_graph=create_graph)
        for mine, expected in zip(ours, theirs):
            assert mine.requires_grad == expected.requires_grad
            assert mine.shape == expected.shape
            np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)


cases = st.fixed_dictionaries({
    "shape": st.sampled_from([(6, 3), (4, 2, 5), (3, 2, 4, 3), (2, 2, 2, 3, 2)]),
    "weight": st.booleans(), "bias": st.booleans(), "eps": st.sampled_from([1e-5, 0.1]),
    "momentum": st.sampled_from([0.1, 0.5]), "seed": st.integers(0, 2**16)})


@settings(max_examples=30, deadline=None)
@given(case=cases)
def test_batch_norm_matches_its_composition(case):
    for device in ("cpu", "strict"):
        rng = np.random.default_rng(case["seed"])
        shape, C = case["shape"], case["shape"][1]

        def leaf(array):
            return tg.tensor(array, dtype="float64", device=device, requires_grad=True)
        x = leaf(rng.standard_normal(shape) * 3 + 1)
        weight = leaf(rng.standard_normal(C)) if case["weight"] else None
        bias = leaf(rng.standard_normal(C)) if case["bias"] else None
        running_mean = tg.tensor(rng.standard_normal(C), device=device)
        running_var = tg.tensor(rng.random(C) + 0.5, device=device)
        expected_mean, expected_var = running_mean.numpy().copy(), running_var.numpy().copy()
        y = F.batch_norm(x, running_mean, running_var, weight, bias, training=True,
                         momentum=case["momentum"], eps=case["eps"])
        assert type(y.grad_fn) is fused_norm.BatchNorm
        oracle, mean, var = composed(x, weight, bias, case["eps"])
        np.testing.assert_array_equal(y.numpy(), oracle.numpy())  # the same operations
        n = x.numpy().size // C
        m = case["momentum"]
        np.testing.assert_allclose(running_mean.numpy(),
                                   (1 - m) * expected_mean + m * mean.numpy().ravel())
        np.testing.assert_allclose(running_var.numpy(),
                                   (1 - m) * expected_var + m * var.numpy().ravel() * n / (n - 1))
        assert_same_gradients(y, oracle, [t for t in (x, weight, bias) if t is not None], rng,
                              device)


@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_batch_norm_gradcheck_and_second_derivatives(device, rng, affine):
    x = tg.tensor(rng.standard_normal((4, 3, 2)), device=device, requires_grad=True)
    weight = tg.tensor(rng.standard_normal(3), device=device, requires_grad=True)
    bias = tg.tensor(rng.standard_normal(3), device=device, requires_grad=True)
    inputs = {"both": (x, weight, bias), "weight": (x, weight), "none": (x,)}[affine]

    def norm(x, weight=None, bias=None):
        return F.batch_norm(x, None, None, weight, bias, training=True)
    assert tg.gradcheck(norm, inputs)
    assert tg.gradgradcheck(norm, inputs)


def test_batch_norm_output_is_its_own_array_without_affine(rng):
    x = tg.tensor(rng.standard_normal((5, 2)), requires_grad=True)
    y = F.batch_norm(x, None, None, training=True)
    expected = tg.grad((y * y).sum(), [x], retain_graph=True)[0].numpy()
    y2 = y * 1
    y2.data[...] = 0  # another tensor's memory: the op's saved x̂ is untouched
    np.testing.assert_array_equal(tg.grad((y * y).sum(), [x])[0].numpy(), expected)


def test_batch_norm_raises_after_an_in_place_write_to_its_input(rng):
    x = tg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    a = x * 1
    y = F.batch_norm(a, None, None, training=True).sum()
    with tg.no_grad():
        a.add_(1)
    with pytest.raises(RuntimeError, match="in-place operation: an input of BatchNorm"):
        y.backward()


def test_batch_norm_of_mixed_dtypes_or_in_evaluation_runs_the_composition(rng):
    layer = nn.BatchNorm1d(3)  # float32 parameters
    x64 = tg.tensor(rng.standard_normal((4, 3)), dtype="float64")
    assert type(layer(x64).grad_fn) is not fused_norm.BatchNorm
    layer.eval()
    assert type(layer(tg.tensor(rng.standard_normal((4, 3)), dtype="float32")).grad_fn) \
        is not fused_norm.BatchNorm


def test_batch_norm_layer_trains_the_same_as_the_composition(rng):
    """A BatchNorm2d layer's parameters and running statistics after SGD steps."""
    x = tg.tensor(rng.standard_normal((6, 2, 3, 3)), dtype="float64")
    target = tg.tensor(rng.standard_normal((6, 2, 3, 3)), dtype="float64")
    layer = nn.BatchNorm2d(2, dtype="float64")
    weight = tg.tensor(layer.weight.numpy(), requires_grad=True)
    bias = tg.tensor(layer.bias.numpy(), requires_grad=True)
    running_mean, running_var = np.zeros(2), np.ones(2)
    optimizer = tg.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        ((layer(x) - target) ** 2).mean().backward()
        optimizer.step()
        y, mean, var = composed(x, weight, bias, 1e-5)
        gw, gb = tg.grad(((y - target) ** 2).mean(), [weight, bias])
        with tg.no_grad():
            weight -= 0.1 * gw
            bias -= 0.1 * gb
        running_mean = 0.9 * running_mean + 0.1 * mean.numpy().ravel()
        running_var = 0.9 * running_var + 0.1 * var.numpy().ravel() * 54 / 53
    np.testing.assert_allclose(layer.weight.numpy(), weight.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.bias.numpy(), bias.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layer.running_mean.numpy(), running_mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.numpy(), running_var, rtol=1e-12)


def layer_norm_composed(x, normalized_shape, weight, bias, eps):
    dims = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean = x.mean(dim=dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dim=dims, keepdim=True)
    y = centered / (var + eps).sqrt()
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


ln_cases = st.fixed_dictionaries({
    "shape": st.sampled_from([((6, 3), 1), ((4, 2, 5), 1), ((3, 2, 4), 2), ((2, 1, 3), 2),
                              ((5,), 1)]),
    "weight": st.booleans(), "bias": st.booleans(), "eps": st.sampled_from([1e-5, 0.1]),
    "seed": st.integers(0, 2**16)})


@settings(max_examples=30, deadline=None)
@given(case=ln_cases)
def test_layer_norm_matches_its_composition(case):
    (shape, k), eps = case["shape"], case["eps"]
    normalized_shape = shape[len(shape) - k:]
    for device in ("cpu", "strict"):
        rng = np.random.default_rng(case["seed"])

        def leaf(array):
            return tg.tensor(array, dtype="float64", device=device, requires_grad=True)
        x = leaf(rng.standard_normal(shape) * 2 - 1)
        weight = leaf(rng.standard_normal(normalized_shape)) if case["weight"] else None
        bias = leaf(rng.standard_normal(normalized_shape)) if case["bias"] else None
        y = F.layer_norm(x, normalized_shape, weight, bias, eps)
        assert type(y.grad_fn) is fused_norm.LayerNorm
        oracle = layer_norm_composed(x, normalized_shape, weight, bias, eps)
        np.testing.assert_array_equal(y.numpy(), oracle.numpy())  # the same operations
        assert_same_gradients(y, oracle, [t for t in (x, weight, bias) if t is not None], rng,
                              device)


def test_layer_norm_gradcheck_and_second_derivatives(device, rng):
    x = tg.tensor(rng.standard_normal((3, 2, 4)), device=device, requires_grad=True)
    weight = tg.tensor(rng.standard_normal((2, 4)), device=device, requires_grad=True)
    bias = tg.tensor(rng.standard_normal((2, 4)), device=device, requires_grad=True)

    def norm(x, weight, bias):
        return F.layer_norm(x, (2, 4), weight, bias)
    assert tg.gradcheck(norm, (x, weight, bias))
    assert tg.gradgradcheck(norm, (x, weight, bias))


def test_layer_norm_of_mixed_dtypes_runs_the_composition(rng):
    layer = nn.LayerNorm(3)  # float32 parameters
    y = layer(tg.tensor(rng.standard_normal((4, 3)), dtype="float64"))
    assert type(y.grad_fn) is not fused_norm.LayerNorm
