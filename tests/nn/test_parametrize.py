"""nn.utils.parametrize, nn.utils.parametrizations (weight_norm, spectral_norm,
orthogonal) and the older hook-based nn.utils.weight_norm / spectral_norm.

References are hand formulas in NumPy: w = g·v/‖v‖ per row, the power iteration step by
step, np.linalg.svd for the spectral norm, WᵀW = I for the orthogonal maps. state_dict keys
are PyTorch's. No new Function subclass: every parametrization is a composition of ops.
"""

import copy
import pickle

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import utils
from tinygrad_opt.nn.utils import parametrizations, parametrize


def t(array, device, grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=tg.float64, device=device,
                     requires_grad=grad)


def linear(device, rows=4, columns=3, rng=None):
    layer = nn.Linear(columns, rows).double().to(device)
    if rng is not None:
        with tg.no_grad():
            layer.weight.data[...] = t(rng.normal(size=(rows, columns)), device).data
    return layer


class Symmetric(nn.Module):
    """X ↦ triu(X) + triu(X, 1)ᵀ, with right_inverse W ↦ triu(W)."""

    def forward(self, X):
        return X.triu() + X.triu(1).mT

    def right_inverse(self, W):
        return W.triu()


class Double(nn.Module):
    def forward(self, X):
        return 2 * X

    def right_inverse(self, W):
        return W / 2


def normalised(x):
    return x / np.linalg.norm(x)


# ------------------------------------------------------------------------------ parametrize

def test_register_parametrization_swaps_the_class_and_moves_the_parameter(device, rng):
    layer = linear(device, 3, 3, rng)
    weight = layer.weight
    W = weight.numpy().copy()
    assert parametrize.register_parametrization(layer, "weight", Symmetric()) is layer
    assert type(layer).__name__ == "ParametrizedLinear" and isinstance(layer, nn.Linear)
    assert parametrize.type_before_parametrizations(layer) is nn.Linear
    assert parametrize.is_parametrized(layer) and parametrize.is_parametrized(layer, "weight")
    assert not parametrize.is_parametrized(layer, "bias")
    assert list(layer.state_dict()) == ["bias", "parametrizations.weight.original"]
    original = layer.parametrizations.weight.original
    assert original is weight                                  # the same Parameter object
    np.testing.assert_array_equal(original.numpy(), np.triu(W))  # right_inverse ran
    expected = np.triu(W) + np.triu(W, 1).T
    np.testing.assert_array_equal(layer.weight.numpy(), expected)
    upstream = rng.normal(size=(3, 3))
    (layer.weight * t(upstream, device)).sum().backward()
    # d/dX Σ C ⊙ (triu X + triu(X, 1)ᵀ) = triu C + triu(Cᵀ, 1)
    np.testing.assert_allclose(original.grad.numpy(), np.triu(upstream) + np.triu(upstream.T, 1))
    x = rng.normal(size=(2, 3))
    np.testing.assert_allclose(layer(t(x, device)).numpy(),
                               x @ expected.T + layer.bias.numpy(), rtol=1e-12)


def test_assignment_goes_through_right_inverse_and_parameters_are_refused(device, rng):
    layer = linear(device, 3, 3, rng)
    parametrize.register_parametrization(layer, "weight", Symmetric())
    value = rng.normal(size=(3, 3))
    value = value + value.T
    layer.weight = t(value, device)
    np.testing.assert_allclose(layer.weight.numpy(), value)
    np.testing.assert_array_equal(layer.parametrizations.weight.original.numpy(), np.triu(value))
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        layer.weight = nn.Parameter(t(value, device))
    parametrize.register_parametrization(layer, "weight", nn.Identity())
    with pytest.raises(RuntimeError, match="Identity does not implement right_inverse"):
        layer.weight = t(value, device)


def test_chained_parametrizations_remove_and_restore_the_class(device, rng):
    layer = linear(device, 3, 3, rng)
    W = layer.weight.numpy().copy()
    parametrize.register_parametrization(layer, "weight", Symmetric())
    parametrize.register_parametrization(layer, "weight", Double())
    assert len(layer.parametrizations.weight) == 2
    symmetric = np.triu(W) + np.triu(W, 1).T
    np.testing.assert_allclose(layer.weight.numpy(), 2 * symmetric)
    parametrize.register_parametrization(layer, "bias", Double())
    original = layer.parametrizations.weight.original
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer).__name__ == "ParametrizedLinear"         # bias is still parametrized
    assert layer.weight is original and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(layer.weight.numpy(), 2 * symmetric)   # leave_parametrized
    parametrize.remove_parametrizations(layer, "bias", leave_parametrized=False)
    assert type(layer) is nn.Linear and "parametrizations" not in layer._modules
    assert list(layer.state_dict()) == ["weight", "bias"]
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(layer, "weight")


def test_remove_without_leaving_parametrized_keeps_the_original(device, rng):
    layer = linear(device, 3, 3, rng)
    W = layer.weight.numpy().copy()
    parametrize.register_parametrization(layer, "weight", Double())
    np.testing.assert_allclose(layer.weight.numpy(), W)          # 2 · (W / 2)
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    np.testing.assert_allclose(layer.weight.numpy(), W / 2)


def test_buffers_can_be_parametrized(device):
    module = nn.Module()
    module.register_buffer("scale", t([1.0, 2.0], device))
    parametrize.register_parametrization(module, "scale", Double())
    assert list(module.state_dict()) == ["parametrizations.scale.original"]
    assert "original" in module.parametrizations.scale._buffers
    np.testing.assert_allclose(module.scale.numpy(), [1.0, 2.0])


def test_safety_checks_and_errors(device, rng):
    class Shrink(nn.Module):
        def forward(self, X):
            return X[:2]

    layer = linear(device, 3, 3, rng)
    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(layer, "weight", Shrink())
    assert type(layer) is nn.Linear                             # nothing changed
    parametrize.register_parametrization(layer, "weight", Shrink(), unsafe=True)
    assert layer.weight.shape == (2, 3)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a "
                                         "parametrized element with name 'kernel'"):
        parametrize.register_parametrization(layer, "kernel", Double())
    with pytest.raises(ValueError, match="requires one or more modules"):
        parametrize.ParametrizationList([], layer.bias)


def test_cached_computes_each_value_once(device, rng):
    class Counting(nn.Module):
        calls = 0

        def forward(self, X):
            Counting.calls += 1
            return X * 1.0

    layer = linear(device, rng=rng)
    parametrize.register_parametrization(layer, "weight", Counting())
    Counting.calls = 0
    layer.weight, layer.weight                                  # noqa: B018
    assert Counting.calls == 2
    with parametrize.cached():
        first = layer.weight
        with parametrize.cached():
            assert layer.weight is first
        assert layer.weight is first                            # still the outer context
    assert Counting.calls == 3
    assert layer.weight is not first


def test_deepcopy_works_and_pickling_refuses(device, rng):
    layer = linear(device, rng=rng)
    parametrizations.weight_norm(layer)
    twin = copy.deepcopy(layer)
    np.testing.assert_array_equal(twin.weight.numpy(), layer.weight.numpy())
    with tg.no_grad():
        twin.parametrizations.weight.original0.data[...] *= 2
    np.testing.assert_allclose(twin.weight.numpy(), 2 * layer.weight.numpy())
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer) is nn.Linear and type(twin).__name__ == "ParametrizedLinear"
    np.testing.assert_allclose(twin.weight.numpy(), 2 * layer.weight.numpy())
    twin_copy = copy.deepcopy(twin)
    np.testing.assert_array_equal(twin_copy.weight.numpy(), twin.weight.numpy())
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(twin)


# ------------------------------------------------------------------------------ weight_norm

def test_weight_norm_is_g_times_the_unit_rows(device, rng):
    layer = linear(device, rng=rng)
    W = layer.weight.numpy().copy()
    parametrizations.weight_norm(layer)
    assert list(layer.state_dict()) == ["bias", "parametrizations.weight.original0",
                                        "parametrizations.weight.original1"]
    g = layer.parametrizations.weight.original0
    v = layer.parametrizations.weight.original1
    assert g.shape == (4, 1) and isinstance(g, nn.Parameter)
    np.testing.assert_allclose(g.numpy()[:, 0], np.linalg.norm(W, axis=1), rtol=1e-12)
    np.testing.assert_allclose(layer.weight.numpy(), W, rtol=1e-12)
    new_g, new_v = rng.uniform(0.5, 2, size=(4, 1)), rng.normal(size=(4, 3))
    with tg.no_grad():
        g.data[...] = t(new_g, device).data
        v.data[...] = t(new_v, device).data
    expected = new_g * new_v / np.linalg.norm(new_v, axis=1, keepdims=True)
    np.testing.assert_allclose(layer.weight.numpy(), expected, rtol=1e-12)
    norm = layer.parametrizations.weight[0]
    assert tg.gradcheck(norm, [t(new_g, device, True), t(new_v, device, True)])
    assert tg.gradgradcheck(norm, [t(new_g, device, True), t(new_v, device, True)])
    other = linear(device)
    parametrizations.weight_norm(other)
    other.load_state_dict(layer.state_dict())                  # the same keys load
    np.testing.assert_allclose(other.weight.numpy(), expected, rtol=1e-12)
    parametrize.remove_parametrizations(layer, "weight")
    assert list(layer.state_dict()) == ["bias", "weight"]
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.requires_grad
    np.testing.assert_allclose(layer.weight.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("dim, g_shape", [(None, ()), (1, (1, 3)), (-2, (4, 1))])
def test_weight_norm_dims(device, rng, dim, g_shape):
    layer = linear(device, rng=rng)
    W = layer.weight.numpy().copy()
    parametrizations.weight_norm(layer, dim=dim)
    g = layer.parametrizations.weight.original0
    assert g.shape == g_shape
    axis = None if dim is None else (1 - dim % 2)
    np.testing.assert_allclose(g.numpy(), np.linalg.norm(W, axis=axis, keepdims=dim is not None)
                               .reshape(g_shape), rtol=1e-12)
    np.testing.assert_allclose(layer.weight.numpy(), W, rtol=1e-12)


# ---------------------------------------------------------------------------- spectral_norm

def test_spectral_norm_power_iteration_step_by_step(device, rng):
    layer = linear(device, rng=rng)
    W = layer.weight.numpy().copy()
    parametrizations.spectral_norm(layer)
    assert list(layer.state_dict()) == ["bias", "parametrizations.weight.original",
                                        "parametrizations.weight.0._u",
                                        "parametrizations.weight.0._v"]
    norm = layer.parametrizations.weight[0]
    u, v = norm._u.numpy().copy(), norm._v.numpy().copy()
    np.testing.assert_allclose(v, normalised(W.T @ u), rtol=1e-12)   # the last step at init
    weight = layer.weight.numpy()                              # training: one more step
    u = normalised(W @ v)
    v = normalised(W.T @ u)
    np.testing.assert_allclose(norm._u.numpy(), u, rtol=1e-12)
    np.testing.assert_allclose(norm._v.numpy(), v, rtol=1e-12)
    np.testing.assert_allclose(weight, W / (u @ W @ v), rtol=1e-12)
    u_now = norm._u.numpy().copy()
    layer.eval()                                               # evaluation: no step
    np.testing.assert_allclose(layer.weight.numpy(), W / (u @ W @ v), rtol=1e-12)
    np.testing.assert_array_equal(norm._u.numpy(), u_now)
    assert not norm.training


def test_spectral_norm_sigma_converges_to_the_largest_singular_value(device, rng):
    conv = nn.Conv2d(3, 5, 2).double().to(device)
    parametrizations.spectral_norm(conv, n_power_iterations=5)
    W = conv.parametrizations.weight.original.numpy().reshape(5, -1)
    for _ in range(20):
        weight = conv.weight
    singular_values = np.linalg.svd(weight.numpy().reshape(5, -1), compute_uv=False)
    np.testing.assert_allclose(singular_values[0], 1.0, rtol=1e-9)
    np.testing.assert_allclose(weight.numpy().reshape(5, -1) * np.linalg.svd(
        W, compute_uv=False)[0], W, rtol=1e-8)
    conv.eval()
    norm = conv.parametrizations.weight[0]
    assert tg.gradcheck(norm, [t(W.reshape(5, 3, 2, 2), device, True)])
    transposed = nn.ConvTranspose2d(3, 4, 2)
    parametrizations.spectral_norm(transposed)
    assert transposed.parametrizations.weight[0].dim == 1
    assert transposed.parametrizations.weight[0]._u.shape == (4,)


def test_spectral_norm_gradient_and_errors(device, rng):
    layer = linear(device, rng=rng)
    parametrizations.spectral_norm(layer)
    x = t(rng.normal(size=(2, 3)), device)
    layer(x).sum().backward()
    assert layer.parametrizations.weight.original.grad.shape == (4, 3)
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
        parametrizations.spectral_norm(linear(device), n_power_iterations=0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        parametrizations.spectral_norm(linear(device), dim=2)
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'kernel'"):
        parametrizations.spectral_norm(linear(device), "kernel")
    vector = nn.Module()
    vector.register_parameter("scale", nn.Parameter(t([3.0, 4.0], device)))
    parametrizations.spectral_norm(vector, "scale")
    np.testing.assert_allclose(vector.scale.numpy(), [0.6, 0.8])


# ------------------------------------------------------------------------------- orthogonal

def assert_orthonormal(W):
    W = W if W.shape[0] >= W.shape[1] else W.T                 # columns of the tall form
    np.testing.assert_allclose(W.T @ W, np.eye(W.shape[1]), atol=1e-10)


@pytest.mark.parametrize("rows, columns, orthogonal_map", [
    (4, 4, None), (4, 4, "cayley"), (5, 3, None), (3, 5, "matrix_exp"), (5, 3, "cayley"),
    (3, 4, "householder")])
def test_orthogonal_stays_orthogonal_through_training(device, rng, rows, columns,
                                                       orthogonal_map):
    layer = linear(device, rows, columns, rng)
    W = layer.weight.numpy().copy()
    parametrizations.orthogonal(layer, orthogonal_map=orthogonal_map)
    assert list(layer.state_dict()) == ["bias", "parametrizations.weight.original",
                                        "parametrizations.weight.0.base"]
    start = layer.weight.numpy()
    assert_orthonormal(start)
    if rows == columns:                       # the orthogonal factor of W's QR, diag(R) > 0
        Q, R = np.linalg.qr(W)
        np.testing.assert_allclose(start, Q * np.sign(np.diag(R)), atol=1e-10)
    optimizer = tg.optim.SGD(layer.parameters(), lr=0.1)
    x, y = t(rng.normal(size=(8, columns)), device), t(rng.normal(size=(8, rows)), device)
    for _ in range(3):
        optimizer.zero_grad()
        ((layer(x) - y) ** 2).mean().backward()
        optimizer.step()
    assert np.abs(layer.weight.numpy() - start).max() > 1e-3   # it moved
    assert_orthonormal(layer.weight.numpy())


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_maps_gradcheck(device, rng, orthogonal_map):
    layer = linear(device, 4, 3, rng)
    parametrizations.orthogonal(layer, orthogonal_map=orthogonal_map)
    orth = layer.parametrizations.weight[0]
    X = rng.normal(size=(4, 3)) * 0.3
    # householder reads the signs of trunc(diag X), flat away from the integers
    X[np.arange(3), np.arange(3)] = [1.5, -1.5, 1.5]
    assert tg.gradcheck(orth, [t(X, device, True)])
    Q = orth(t(X, device)).numpy()
    assert_orthonormal(Q)


def test_orthogonal_householder_matches_the_reflections(device, rng):
    layer = linear(device, 4, 2, rng)
    parametrizations.orthogonal(layer, orthogonal_map="householder")
    orth = layer.parametrizations.weight[0]
    X = rng.normal(size=(4, 2))
    X[[0, 1], [0, 1]] = [1.0, -1.0]
    product = np.eye(4)
    for i in range(2):
        v = np.tril(X, -1)[:, i] + np.eye(4)[:, i]
        product = product @ (np.eye(4) - 2 / (v @ v) * np.outer(v, v))
    expected = orth.base.numpy() @ (product[:, :2] * [1.0, -1.0])
    np.testing.assert_allclose(orth(t(X, device)).numpy(), expected, atol=1e-12)


def test_orthogonal_assignment_and_errors(device, rng):
    layer = linear(device, 3, 3, rng)
    parametrizations.orthogonal(layer)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    layer.weight = t(Q, device)
    np.testing.assert_allclose(layer.weight.numpy(), Q, atol=1e-12)
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices"):
        parametrizations.orthogonal(nn.BatchNorm1d(3))
    with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp"'):
        parametrizations.orthogonal(linear(device), orthogonal_map="qr")
    with pytest.raises(ValueError, match=r"of shape \(3, 3\). Got a tensor of shape \(2, 3\)"):
        layer.weight = t(np.zeros((2, 3)), device)


# ---------------------------------------------------------------- the older hook-based forms

def test_old_weight_norm_keys_values_and_removal(device, rng):
    layer = linear(device, rng=rng)
    W = layer.weight.numpy().copy()
    with pytest.warns(FutureWarning, match="deprecated"):
        assert utils.weight_norm(layer) is layer
    assert list(layer.state_dict()) == ["bias", "weight_g", "weight_v"]
    np.testing.assert_allclose(layer.weight_g.numpy()[:, 0], np.linalg.norm(W, axis=1))
    new_g = rng.uniform(0.5, 2, size=(4, 1))
    with tg.no_grad():
        layer.weight_g.data[...] = t(new_g, device).data
    x = rng.normal(size=(2, 3))
    out = layer(t(x, device))                                    # the hook recomputes weight
    expected = new_g * W / np.linalg.norm(W, axis=1, keepdims=True)
    np.testing.assert_allclose(layer.weight.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), x @ expected.T + layer.bias.numpy(), rtol=1e-12)
    out.sum().backward()
    assert layer.weight_g.grad.shape == (4, 1) and layer.weight_v.grad.shape == (4, 3)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"), \
            pytest.warns(FutureWarning):
        utils.weight_norm(layer)
    utils.remove_weight_norm(layer)
    assert list(layer.state_dict()) == ["bias", "weight"]
    assert isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(layer.weight.numpy(), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        utils.remove_weight_norm(layer)


def test_old_spectral_norm_hook_steps_and_removal(device, rng):
    layer = linear(device, rng=rng)
    W = layer.weight.numpy().copy()
    utils.spectral_norm(layer)
    assert list(layer.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    u, v = layer.weight_u.numpy().copy(), layer.weight_v.numpy().copy()
    layer(t(np.zeros((1, 3)), device))                            # training: v first, then u
    v = normalised(W.T @ u)
    u = normalised(W @ v)
    np.testing.assert_allclose(layer.weight_u.numpy(), u, rtol=1e-12)
    np.testing.assert_allclose(layer.weight.numpy(), W / (u @ W @ v), rtol=1e-12)
    u_now = layer.weight_u.numpy().copy()
    layer.eval()
    layer(t(np.zeros((1, 3)), device))
    np.testing.assert_array_equal(layer.weight_u.numpy(), u_now)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        utils.spectral_norm(layer)
    utils.remove_spectral_norm(layer)
    assert list(layer.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(layer.weight.numpy(), W / (u @ W @ v), rtol=1e-12)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        utils.remove_spectral_norm(layer)
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
        utils.spectral_norm(linear(device), n_power_iterations=0)


def test_parametrized_weight_norm_loads_a_state_dict_of_the_older_form(device, rng):
    # as PyTorch's compatibility hook: weight_g / weight_v become original0 / original1,
    # also under a child's prefix; the caller's dict is left as it was
    old = nn.Sequential(linear(device, rng=rng), nn.Tanh())
    with pytest.warns(FutureWarning):
        utils.weight_norm(old[0])
    with tg.no_grad():
        old[0].weight_g.data[...] = t(rng.uniform(0.5, 2, size=(4, 1)), device).data
    state = old.state_dict()
    new = nn.Sequential(linear(device, rng=rng), nn.Tanh())
    parametrizations.weight_norm(new[0])
    missing, unexpected = new.load_state_dict(state)
    assert missing == [] and unexpected == []
    assert list(state) == ["0.bias", "0.weight_g", "0.weight_v"]
    np.testing.assert_array_equal(new[0].parametrizations.weight.original0.numpy(),
                                  old[0].weight_g.numpy())
    x = t(rng.normal(size=(2, 3)), device)
    np.testing.assert_allclose(new(x).numpy(), old(x).numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="Unexpected key"):   # only the pair is renamed
        new.load_state_dict({"0.bias": state["0.bias"], "0.weight_g": state["0.weight_g"]})
