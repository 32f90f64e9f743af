"""nn.utils: gradient clipping, flat parameter vectors, L1/L2 penalties."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import utils


def params_with_grads(grads, device):
    params = []
    for grad in grads:
        p = nn.Parameter(tg.zeros(*np.shape(grad), dtype=tg.float64, device=device))
        p.grad = tg.tensor(np.array(grad, dtype=np.float64), device=device)
        params.append(p)
    return params


GRADS = [[[3.0, -4.0], [0.0, 1.0]], [2.0, -2.0, 1.0]]


def flat(grads):
    return np.concatenate([np.ravel(g) for g in grads])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_returns_total_norm_and_scales(norm_type, device):
    params = params_with_grads(GRADS, device)
    all_grads = flat(GRADS)
    if norm_type == math.inf:
        expected_total = np.abs(all_grads).max()
    else:
        expected_total = (np.abs(all_grads) ** norm_type).sum() ** (1 / norm_type)
    grad_arrays = [p.grad for p in params]
    total = utils.clip_grad_norm_(params, max_norm=1.5, norm_type=norm_type)
    assert isinstance(total, tg.Tensor) and total.device == device
    assert total.item() == pytest.approx(expected_total, rel=1e-12)
    coefficient = 1.5 / (expected_total + 1e-6)
    for p, g, original in zip(params, grad_arrays, GRADS):
        assert p.grad is g  # scaled in place
        np.testing.assert_allclose(p.grad.numpy(), np.array(original) * coefficient, rtol=1e-12)


def test_clip_grad_norm_leaves_small_gradients_alone(device):
    params = params_with_grads(GRADS, device)
    total = utils.clip_grad_norm_(params, max_norm=100.0)
    assert total.item() == pytest.approx(np.linalg.norm(flat(GRADS)))
    for p, original in zip(params, GRADS):
        np.testing.assert_array_equal(p.grad.numpy(), original)


def test_clip_grad_norm_single_tensor_and_missing_grads():
    param = nn.Parameter(tg.zeros(2))
    param.grad = tg.tensor([3.0, 4.0])
    unused = nn.Parameter(tg.zeros(3))
    total = utils.clip_grad_norm_([param, unused], 1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(param.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    assert unused.grad is None
    single = nn.Parameter(tg.zeros(2))
    single.grad = tg.tensor([0.0, 2.0])
    assert utils.clip_grad_norm_(single, 1.0).item() == pytest.approx(2.0)
    assert utils.clip_grad_norm_([unused], 1.0).item() == 0.0


def test_clip_grad_norm_non_finite():
    param = nn.Parameter(tg.zeros(2))
    param.grad = tg.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_([param], 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_on_a_model_after_backward():
    model = nn.Linear(4, 3)
    (model(tg.randn(8, 4)) * 100).sum().backward()
    before = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in model.parameters()))
    total = utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
    after = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in model.parameters()))
    assert total.item() == pytest.approx(before, rel=1e-5)
    assert after == pytest.approx(0.5, rel=1e-4)


def test_clip_grad_value(device):
    params = params_with_grads(GRADS, device)
    utils.clip_grad_value_(params, 1.5)
    np.testing.assert_array_equal(params[0].grad.numpy(), [[1.5, -1.5], [0.0, 1.0]])
    np.testing.assert_array_equal(params[1].grad.numpy(), [1.5, -1.5, 1.0])


def test_parameters_to_vector_and_back(device):
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1)).to(device)
    vector = utils.parameters_to_vector(model.parameters())
    assert vector.shape == (11,) and vector.device == device
    expected = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    np.testing.assert_array_equal(vector.numpy(), expected)
    (vector * tg.arange(11, dtype=tg.float32, device=device)).sum().backward()
    np.testing.assert_array_equal(model[0].weight.grad.numpy(), np.arange(6).reshape(2, 3))
    new_values = tg.arange(11, dtype=tg.float32, device=device)
    first_weight = model[0].weight
    utils.vector_to_parameters(new_values, model.parameters())
    assert model[0].weight is first_weight
    np.testing.assert_array_equal(model[0].weight.numpy(), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(model[1].bias.numpy(), [10])
    with pytest.raises(ValueError, match="11 elements"):
        utils.vector_to_parameters(tg.zeros(5, device=device), model.parameters())
    with pytest.raises(TypeError, match="Tensor"):
        utils.vector_to_parameters(np.zeros(11), model.parameters())


def test_l1_and_l2_penalties_values_and_gradients(device):
    a = nn.Parameter(tg.tensor([[1.0, -2.0], [0.5, 0.0]], dtype=tg.float64, device=device))
    b = nn.Parameter(tg.tensor([-3.0], dtype=tg.float64, device=device))
    l1 = utils.l1_penalty([a, b])
    l2 = utils.l2_penalty([a, b])
    assert l1.item() == pytest.approx(1 + 2 + 0.5 + 3)
    assert l2.item() == pytest.approx(1 + 4 + 0.25 + 9)  # plain sum of squares, no 1/2
    (l1 + l2).backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.sign(a.numpy()) + 2 * a.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), [-1.0 - 6.0])
    assert utils.l2_penalty([]).item() == 0.0 and utils.l1_penalty([]).item() == 0.0


def test_clip_grad_takes_the_names_of_api_md_and_of_pytorch():
    def grads():
        p = tg.tensor([3.0, 4.0], requires_grad=True)
        p.grad = tg.tensor([3.0, 4.0])
        return p
    for call in (lambda p: utils.clip_grad_norm_([p], 1.0),
                 lambda p: utils.clip_grad_norm_(params=[p], max_norm=1.0),        # API.md
                 lambda p: utils.clip_grad_norm_(parameters=[p], max_norm=1.0)):   # PyTorch
        p = grads()
        assert call(p).item() == pytest.approx(5.0)
        np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    for call in (lambda p: utils.clip_grad_value_([p], 3.5),
                 lambda p: utils.clip_grad_value_(params=[p], clip=3.5),
                 lambda p: utils.clip_grad_value_(parameters=[p], clip_value=3.5)):
        p = grads()
        call(p)
        np.testing.assert_array_equal(p.grad.numpy(), [3.0, 3.5])
    p = grads()
    with pytest.raises(TypeError, match="give params or parameters, not both"):
        utils.clip_grad_norm_([p], 1.0, parameters=[p])
    with pytest.raises(TypeError, match="missing the argument max_norm"):
        utils.clip_grad_norm_([p])
    with pytest.raises(TypeError, match="missing the argument clip"):
        utils.clip_grad_value_([p])
    with pytest.raises(TypeError, match="give clip or clip_value, not both"):
        utils.clip_grad_value_([p], 1.0, clip_value=2.0)
