"""Audit of copy construction from a Tensor against PyTorch: ``tg.tensor(t)`` copies and
warns once, at the caller's line (``sourceTensor.detach().clone()`` is the recommended
spelling); ``Tensor(t)`` and ``nn.Parameter(t)`` share ``t``'s memory without a warning;
``t.new_tensor(source)`` warns once, its own warning, at the caller's line (it warned a
second time, from inside the package); and public functions that take tensors or data
(``as_tensor``, ``asarray``, ``F.embedding``, a loss's ``weight``, distributions,
``update_bn``) never make the package itself warn. Every reference is NumPy."""

import inspect
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import functional as F

COPY_TEXT = "To copy construct from a tensor"


def on(device, data, dtype=None, requires_grad=False):
    return tg.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


# --- tg.tensor(t): one warning at the caller's line, a real copy cut from the graph ---

def test_tensor_of_a_tensor_warns_at_the_callers_line_and_copies(device, rng):
    values = rng.standard_normal(4)
    source = on(device, values, tg.float64, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        copied = tg.tensor(source)
    assert len(caught) == 1 and caught[0].category is UserWarning
    message = str(caught[0].message)
    assert message.startswith(COPY_TEXT) and "sourceTensor.detach().clone()" in message
    assert "sourceTensor.detach().clone().requires_grad_(True)" in message
    assert caught[0].filename == __file__ and caught[0].lineno == line   # stacklevel=2
    assert copied.is_leaf and not copied.requires_grad and copied.grad_fn is None
    assert copied.dtype == tg.float64 and copied.device == source.device
    with tg.no_grad():
        copied[0] = 99.0                               # its own memory: source unchanged
    np.testing.assert_array_equal(source.detach().numpy(), values)
    np.testing.assert_array_equal(copied.numpy(), np.concatenate([[99.0], values[1:]]))


def test_tensor_of_a_tensor_options_follow_torch_tensor(device, rng):
    values = rng.standard_normal(3)
    source = on(device, values, tg.float64)
    with pytest.warns(UserWarning, match=COPY_TEXT):
        made = tg.tensor(source, dtype=tg.float32, requires_grad=True)
    assert made.is_leaf and made.requires_grad and made.dtype == tg.float32
    np.testing.assert_allclose(made.detach().numpy(), values.astype(np.float32))
    made.sum().backward()                              # a leaf of its own graph
    np.testing.assert_array_equal(made.grad.numpy(), np.ones(3, np.float32))
    assert source.grad is None
    empty = on(device, np.zeros((0, 2)), tg.float64)
    with pytest.warns(UserWarning, match=COPY_TEXT):
        assert tg.tensor(empty).shape == (0, 2)


def test_tensor_and_parameter_of_a_tensor_share_memory_without_warning(device, rng):
    values = rng.standard_normal(3)
    source = on(device, values, tg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view = tg.Tensor(source)
        weight = nn.Parameter(source)
        nn.Buffer(source)
        tg.tensor(values)                              # a NumPy array: no warning either
    with tg.no_grad():
        source[1] = -7.0
    expected = values.copy()
    expected[1] = -7.0
    np.testing.assert_array_equal(view.numpy(), expected)
    np.testing.assert_array_equal(weight.detach().numpy(), expected)
    assert weight.requires_grad and weight.is_leaf


# --- new_tensor: one warning, its own, at the caller's line ---

def test_new_tensor_of_a_tensor_warns_once_at_the_callers_line(device, rng):
    # it warned twice: its own warning, then tg.tensor's, pointing inside rearrange.py
    values = rng.standard_normal(3)
    x = on(device, [0], tg.int64)
    source = on(device, values, tg.float64, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        made = x.new_tensor(source, dtype=tg.float32, requires_grad=True)
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert "new_tensor" in str(caught[0].message) and "detach().clone()" in str(caught[0].message)
    assert caught[0].filename == __file__ and caught[0].lineno == line
    assert made.is_leaf and made.requires_grad and made.dtype == tg.float32
    assert made.device == x.device
    np.testing.assert_allclose(made.detach().numpy(), values.astype(np.float32))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        same_dtype = on(device, [0.0], tg.float64).new_tensor(source)
    assert len(caught) == 1
    with tg.no_grad():
        same_dtype[0] = 5.0                            # a copy, even with nothing to convert
    np.testing.assert_array_equal(source.detach().numpy(), values)
    assert not same_dtype.requires_grad and same_dtype.grad_fn is None
    integer = x.new_tensor(np.array([1.9, -1.9]))      # other data: no warning, self's dtype
    assert integer.dtype == tg.int64 and integer.tolist() == [1, -1]


# --- public functions whose internal tg.tensor(...) calls guard against Tensors ---

def test_public_paths_given_tensors_do_not_warn(device, rng):
    values = rng.standard_normal(4)
    source = on(device, values, tg.float64)
    indices = on(device, [[0, 2], [1, 1]], tg.int64)
    table = on(device, rng.standard_normal((3, 2)), tg.float64)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=COPY_TEXT)
        converted = tg.as_tensor(source, dtype=tg.float32)
        copied = tg.asarray(source, copy=True)
        looked_up = F.embedding(indices, table)
        loss = nn.CrossEntropyLoss(weight=on(device, [1.0, 2.0], tg.float64))
        gamma = tg.distributions.Gamma(on(device, [2.0], tg.float64),
                                       on(device, [3.0], tg.float64))
        log_prob = gamma.log_prob(on(device, [0.5], tg.float64))
        normal = tg.distributions.Normal(source, 1.0)       # (broadcast_all)
        kind = tg.result_type(source, 1)
    np.testing.assert_allclose(converted.numpy(), values.astype(np.float32))
    np.testing.assert_array_equal(copied.numpy(), values)
    np.testing.assert_array_equal(looked_up.numpy(), table.numpy()[[[0, 2], [1, 1]]])
    np.testing.assert_array_equal(loss.weight.numpy(), [1.0, 2.0])
    # Gamma(α=2, λ=3): α·log λ + (α − 1)·log x − λx − log Γ(α), Γ(2) = 1
    np.testing.assert_allclose(log_prob.numpy(), [2 * np.log(3) + np.log(0.5) - 1.5])
    assert normal.loc is source and kind == tg.float64
    np.testing.assert_array_equal(normal.scale.numpy(), np.ones(4))


def test_update_bn_with_tensor_batches_does_not_warn(device, rng):
    from tinygrad_opt.optim.swa_utils import update_bn
    batches = [rng.standard_normal((4, 2)) for _ in range(2)]
    model = nn.BatchNorm1d(2).to(device)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=COPY_TEXT)
        update_bn([on(device, batch, tg.float32) for batch in batches], model)
    # momentum None: the running mean is the plain average of the batch means
    expected = np.mean([batch.mean(axis=0) for batch in batches], axis=0)
    np.testing.assert_allclose(model.running_mean.numpy(), expected, rtol=1e-5)
