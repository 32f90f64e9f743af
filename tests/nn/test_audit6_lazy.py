"""Lazy modules against PyTorch's LazyModuleMixin: an uninitialised parameter or buffer has
no shape (reading it raises PyTorch's error, ``size()`` gives the placeholder's ``(0,)``),
so an uninitialised state loads into a lazy module but not into an initialised one;
``initialize_parameters`` does nothing once the module is initialised, so running it by
hand before the first call (or twice) is allowed. Values checked against plain NumPy."""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn
from tinygrad_opt.nn.lazy import UninitializedBuffer, UninitializedParameter

NO_SHAPE = "Can't access the shape of an uninitialized parameter or buffer"


def conv1d_reference(x, w, b):
    """y[n, o, l] = b[o] + Σ_{c,k} x[n, c, l + k]·w[o, c, k] (stride 1, no padding)."""
    length = x.shape[2] - w.shape[2] + 1
    windows = np.stack([x[:, :, k:k + length] for k in range(w.shape[2])], axis=-1)
    return np.einsum("nclk,ock->nol", windows, w) + b[None, :, None]


# ------------------------------------------------------------- the shape of a placeholder

def test_an_uninitialized_tensor_has_no_shape_but_a_size(device):
    module = nn.LazyBatchNorm1d(device=device)
    for tensor in (module.weight, module.running_mean, UninitializedParameter(device=device),
                   UninitializedBuffer(device=device)):
        with pytest.raises(RuntimeError, match=NO_SHAPE):
            tensor.shape  # noqa: B018
        assert tensor.size() == (0,) and tensor.size(0) == 0  # PyTorch allows size()
        assert tensor.device == device and tensor.dtype == tg.float32
    linear = nn.LazyLinear(3, device=device)
    x = tg.tensor(np.ones((2, 4)), dtype=tg.float32, device=device)
    with pytest.raises(RuntimeError, match=NO_SHAPE):
        F.linear(x, linear.weight, linear.bias)
    y = linear(x)  # the first call gives the shapes
    assert linear.weight.shape == (3, 4) and linear.bias.shape == (3,)
    np.testing.assert_allclose(y.numpy(), np.ones((2, 4)) @ linear.weight.numpy().T
                               + linear.bias.numpy(), rtol=1e-6)


def test_an_uninitialized_state_does_not_load_into_an_initialized_module(device, rng):
    target = nn.Linear(4, 3, device=device)
    before = target.weight.numpy().copy()
    with pytest.raises(RuntimeError, match=NO_SHAPE):
        target.load_state_dict(nn.LazyLinear(3).state_dict())
    np.testing.assert_array_equal(target.weight.numpy(), before)  # nothing copied
    with pytest.raises(RuntimeError, match=NO_SHAPE):
        nn.BatchNorm2d(3).load_state_dict(nn.LazyBatchNorm2d().state_dict())


def test_an_uninitialized_state_loads_into_a_lazy_module(device, rng):
    """As PyTorch: the placeholders are copied into the placeholders, the module stays
    lazy, and its first call still reads the size and gives the ordinary values."""
    norm = nn.LazyBatchNorm1d(device=device, dtype=tg.float64)
    result = norm.load_state_dict(nn.LazyBatchNorm1d().state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert type(norm) is nn.LazyBatchNorm1d and norm.has_uninitialized_params()
    x = rng.standard_normal((6, 4))
    y = norm(tg.tensor(x, device=device))
    assert type(norm) is nn.BatchNorm1d and norm.num_features == 4
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(norm.running_var.numpy(), 0.9 + 0.1 * x.var(0, ddof=1),
                               atol=1e-12)


# ------------------------------------------------------- initialize_parameters by hand

@pytest.mark.parametrize("make, ordinary, shape", [
    (lambda d: nn.LazyLinear(3, device=d, dtype=tg.float64),
     lambda d: nn.Linear(5, 3, device=d, dtype=tg.float64), (2, 5)),
    (lambda d: nn.LazyConv1d(3, 2, device=d, dtype=tg.float64),
     lambda d: nn.Conv1d(5, 3, 2, device=d, dtype=tg.float64), (2, 5, 4)),
    (lambda d: nn.LazyBatchNorm1d(device=d, dtype=tg.float64),
     lambda d: nn.BatchNorm1d(5, device=d, dtype=tg.float64), (4, 5)),
])
def test_initialize_parameters_by_hand_then_the_first_call(device, rng, make, ordinary,
                                                           shape):
    """PyTorch's initialize_parameters returns at once when nothing is uninitialised: a
    second run, or the first call after a run by hand, keeps the parameters."""
    x_values = rng.standard_normal(shape)
    x = tg.tensor(x_values, device=device)
    module = make(device)
    tg.manual_seed(11)
    module.initialize_parameters(x)
    assert not module.has_uninitialized_params() and isinstance(module, nn.LazyModuleMixin)
    weight = module.weight.numpy().copy()
    module.initialize_parameters(x)  # nothing to do
    np.testing.assert_array_equal(module.weight.numpy(), weight)
    tg.manual_seed(11)
    reference = ordinary(device)  # the same draws as the ordinary class
    np.testing.assert_array_equal(weight, reference.weight.numpy())
    y = module(x)
    assert type(module) is type(reference)
    np.testing.assert_array_equal(module.weight.numpy(), weight)
    w, b = weight, module.bias.numpy()
    if isinstance(reference, nn.Linear):
        expected = x_values @ w.T + b
    elif isinstance(reference, nn.Conv1d):
        expected = conv1d_reference(x_values, w, b)
    else:
        expected = (x_values - x_values.mean(0)) / np.sqrt(x_values.var(0) + 1e-5) * w + b
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12)


def test_an_uninitialized_state_loads_into_a_lazy_module_with_assign(device, rng):
    """``assign=True`` puts the placeholders themselves in (PyTorch's setattr); the first
    call then materialises them."""
    module = nn.LazyLinear(2, device=device, dtype=tg.float64)
    state = nn.LazyLinear(2, device=device, dtype=tg.float64).state_dict()
    module.load_state_dict(state, assign=True)
    assert module.weight is state["weight"] and module.has_uninitialized_params()
    x = rng.standard_normal((3, 4))
    y = module(tg.tensor(x, device=device))
    assert type(module) is nn.Linear and module.weight.shape == (2, 4)
    np.testing.assert_allclose(y.numpy(), x @ module.weight.numpy().T + module.bias.numpy(),
                               atol=1e-12)
