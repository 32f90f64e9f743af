"""nn.utils.prune, get_total_norm / clip_grads_with_norm_, skip_init, stateless, and the
Module methods get_parameter, get_buffer, set_submodule, half, type and the pre-hooks."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import utils
from tinygrad_opt.nn.utils import prune

WEIGHT = np.array([[0.5, -0.1, 2.0, -3.0],
                   [0.05, 1.5, -0.7, 0.2],
                   [-0.3, 0.01, 0.9, -1.2]])                       # (3, 4), no ties in |w|


def linear_with(weight, device, bias=True):
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias).double().to(device)
    with tg.no_grad():
        layer.weight.data[...] = tg.tensor(weight, device=device).data
    return layer


def smallest_mask(scores, count, keep=None):
    """1 everywhere but at the ``count`` smallest |scores| among those where keep is 1."""
    keep = np.ones(scores.shape) if keep is None else keep.copy()
    candidates = np.flatnonzero(keep)
    order = candidates[np.argsort(np.abs(scores.ravel()[candidates]))]
    keep.ravel()[order[:count]] = 0
    return keep


# ------------------------------------------------------------------------ pruning

@pytest.mark.parametrize("amount, count", [(0.25, 3), (5, 5), (0.0, 0)])
def test_l1_unstructured_removes_the_smallest_magnitudes(device, amount, count):
    layer = linear_with(WEIGHT, device)
    assert prune.l1_unstructured(layer, "weight", amount=amount) is layer
    expected = smallest_mask(WEIGHT, count)
    np.testing.assert_array_equal(layer.weight_mask.numpy(), expected)
    np.testing.assert_array_equal(layer.weight.numpy(), WEIGHT * expected)
    assert list(layer.state_dict()) == ["bias", "weight_orig", "weight_mask"]
    assert [name for name, _ in layer.named_parameters()] == ["bias", "weight_orig"]
    assert not isinstance(layer.weight, nn.Parameter)
    assert prune.is_pruned(layer) and prune.is_pruned(nn.Sequential(layer))
    assert layer.weight_mask.device == device


def test_pruning_twice_combines_masks_on_what_is_left(device):
    layer = linear_with(WEIGHT, device)
    prune.l1_unstructured(layer, "weight", amount=0.5)             # 6 of 12
    prune.l1_unstructured(layer, "weight", amount=0.5)             # 3 of the 6 left
    first = smallest_mask(WEIGHT, 6)
    expected = smallest_mask(WEIGHT, 3, keep=first)
    np.testing.assert_array_equal(layer.weight_mask.numpy(), expected)
    assert expected.sum() == 3
    hooks = list(layer._forward_pre_hooks.values())
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer)
    assert len(hooks[0]) == 2


def test_ln_structured_drops_rows_of_smallest_l2_norm(device):
    layer = linear_with(WEIGHT, device)
    prune.ln_structured(layer, "weight", amount=1, n=2, dim=0)
    norms = np.linalg.norm(WEIGHT, axis=1)                          # (3,) per output unit
    expected = np.ones_like(WEIGHT)
    expected[np.argmin(norms)] = 0
    np.testing.assert_array_equal(layer.weight_mask.numpy(), expected)
    # then columns by L1 norm, among the kept rows only (structured container)
    prune.ln_structured(layer, "weight", amount=0.5, n=1, dim=1)
    column_norms = np.abs(WEIGHT * expected).sum(axis=0)           # (4,)
    expected[:, np.argsort(column_norms)[:2]] = 0
    np.testing.assert_array_equal(layer.weight_mask.numpy(), expected)


def test_ln_structured_needs_two_dims():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="multidimensional.*shape \\(2,\\) with 1 dims"):
        prune.ln_structured(layer, "bias", amount=1, n=2, dim=0)


def test_random_pruning_counts_and_structure(device):
    layer = linear_with(WEIGHT, device)
    prune.random_unstructured(layer, "weight", amount=5)
    assert layer.weight_mask.numpy().sum() == 12 - 5
    other = linear_with(WEIGHT, device)
    prune.random_structured(other, "weight", amount=2, dim=1)
    mask = other.weight_mask.numpy()
    assert sorted(mask.sum(axis=0).tolist()) == [0, 0, 3, 3]        # whole columns


def test_global_unstructured_ranks_across_modules(device):
    second = np.array([[0.02, -4.0], [0.6, -0.04]])
    a, b = linear_with(WEIGHT, device), linear_with(second, device)
    prune.global_unstructured([(a, "weight"), (b, "weight")],
                              pruning_method=prune.L1Unstructured, amount=4)
    joined = np.concatenate([WEIGHT.ravel(), second.ravel()])
    expected = smallest_mask(joined, 4)
    np.testing.assert_array_equal(a.weight_mask.numpy().ravel(), expected[:12])
    np.testing.assert_array_equal(b.weight_mask.numpy().ravel(), expected[12:])
    assert b.weight_mask.numpy().sum() == 2                          # 0.02 and -0.04 gone
    with pytest.raises(TypeError, match='Only "unstructured"'):
        prune.global_unstructured([(a, "weight")], prune.RandomStructured, amount=1)


def test_custom_from_mask_identity_and_importance_scores(device):
    layer = linear_with(WEIGHT, device)
    prune.identity(layer, "bias")
    np.testing.assert_array_equal(layer.bias_mask.numpy(), np.ones(3))
    given = (np.arange(12).reshape(3, 4) % 3 != 0).astype(float)
    prune.custom_from_mask(layer, "weight", tg.tensor(given, device=device))
    np.testing.assert_array_equal(layer.weight.numpy(), WEIGHT * given)
    other = linear_with(WEIGHT, device)
    scores = tg.tensor(np.arange(12.0).reshape(3, 4), device=device)  # prune the first 2
    prune.l1_unstructured(other, "weight", amount=2, importance_scores=scores)
    assert other.weight_mask.numpy().ravel().tolist()[:3] == [0.0, 0.0, 1.0]


def test_training_updates_weight_orig_only_where_the_mask_is_one(device):
    layer = linear_with(WEIGHT, device)
    prune.l1_unstructured(layer, "weight", amount=0.5)
    mask = layer.weight_mask.numpy()
    orig_before = layer.weight_orig.numpy().copy()
    optimizer = tg.optim.SGD(layer.parameters(), lr=0.1)
    x = tg.tensor(np.ones((2, 4)), device=device)
    layer(x).sum().backward()
    expected_grad = np.tile(2.0, (3, 4)) * mask                     # dL/dW = Σ_n x = 2, masked
    np.testing.assert_allclose(layer.weight_orig.grad.numpy(), expected_grad)
    optimizer.step()
    changed = layer.weight_orig.numpy() != orig_before
    np.testing.assert_array_equal(changed, mask == 1)
    out = layer(x)                                                   # the pre-hook recomputes
    np.testing.assert_allclose(layer.weight.numpy(), layer.weight_orig.numpy() * mask)
    np.testing.assert_allclose(out.numpy(), x.numpy() @ (layer.weight_orig.numpy() * mask).T
                               + layer.bias.numpy())


def test_remove_makes_the_pruning_permanent(device):
    layer = linear_with(WEIGHT, device)
    orig = layer.weight
    prune.l1_unstructured(layer, "weight", amount=3)
    prune.remove(layer, "weight")
    assert layer.weight is orig and isinstance(layer.weight, nn.Parameter)
    assert list(layer.state_dict()) == ["bias", "weight"]
    np.testing.assert_array_equal(layer.weight.numpy(), WEIGHT * smallest_mask(WEIGHT, 3))
    assert not prune.is_pruned(layer)
    with pytest.raises(ValueError, match="Parameter 'weight' of module .* has to be pruned"):
        prune.remove(layer, "weight")


def test_amount_is_checked():
    layer = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"amount=1.5 should either be a float in the range"):
        prune.l1_unstructured(layer, "weight", amount=1.5)
    with pytest.raises(ValueError, match="amount=-1"):
        prune.l1_unstructured(layer, "weight", amount=-1)
    with pytest.raises(TypeError, match="Invalid type for amount"):
        prune.l1_unstructured(layer, "weight", amount="half")
    with pytest.raises(ValueError, match="amount=5 should be smaller than the number of "
                                         "parameters to prune=4"):
        prune.l1_unstructured(layer, "weight", amount=5)


def test_prune_is_importable_with_torchs_spelling():
    from tinygrad_opt.nn.utils.prune import L1Unstructured, l1_unstructured
    assert l1_unstructured is nn.utils.prune.l1_unstructured
    assert L1Unstructured is utils.L1Unstructured


# -------------------------------------------------------------------- norm utilities

GRADS = [np.array([[3.0, -4.0], [0.5, 1.0]]), np.array([2.0, -2.0, 1.0])]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_get_total_norm_and_clip_grads_with_norm(device, norm_type):
    tensors = [tg.tensor(g, device=device) for g in GRADS]
    flat = np.concatenate([g.ravel() for g in GRADS])
    expected = np.linalg.norm(flat, ord=norm_type)
    total = utils.get_total_norm(tensors, norm_type)
    assert total.device == device
    assert total.item() == pytest.approx(expected, rel=1e-12)
    params = []
    for g in GRADS:
        p = nn.Parameter(tg.zeros(*g.shape, dtype=tg.float64, device=device))
        p.grad = tg.tensor(g, device=device)
        params.append(p)
    utils.clip_grads_with_norm_(params, 1.5, total)
    for p, g in zip(params, GRADS):
        np.testing.assert_allclose(p.grad.numpy(), g * min(1.0, 1.5 / (expected + 1e-6)),
                                   rtol=1e-12)


def test_total_norm_edge_cases():
    assert utils.get_total_norm([]).item() == 0.0
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* non-finite"):
        utils.get_total_norm([tg.tensor([1.0, math.inf])], error_if_nonfinite=True)
    p = nn.Parameter(tg.zeros(2))
    p.grad = tg.tensor([0.3, 0.4])
    utils.clip_grads_with_norm_([p], max_norm=10.0, total_norm=0.5)  # a plain number
    np.testing.assert_allclose(p.grad.numpy(), [0.3, 0.4], rtol=1e-6)


def test_clip_grad_value_clips_each_element(device):
    p = nn.Parameter(tg.zeros(3, device=device))
    p.grad = tg.tensor([-2.0, 0.5, 3.0], device=device)
    utils.clip_grad_value_([p], clip_value=1.0)
    np.testing.assert_array_equal(p.grad.numpy(), [-1.0, 0.5, 1.0])


def test_skip_init_and_stateless_functional_call(device):
    layer = utils.skip_init(nn.Linear, 3, 2, device=device)
    assert isinstance(layer, nn.Linear) and layer.weight.device == device
    with pytest.raises(RuntimeError, match="must support a 'device' arg"):
        utils.skip_init(nn.ReLU)
    weight = tg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    bias = tg.tensor([1.0, -1.0], device=device)
    x = tg.tensor(np.ones((1, 3)), device=device)
    out = nn.utils.stateless.functional_call(layer.double(), {"weight": weight, "bias": bias}, x)
    np.testing.assert_allclose(out.numpy(), [[4.0, 11.0]])


# ------------------------------------------------------------------ Module methods

def model():
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    net.register_buffer("steps", tg.tensor([0], dtype=tg.int64))
    return net


def test_get_parameter_buffer_and_errors():
    net = model()
    assert net.get_parameter("0.weight") is net[0].weight
    assert net.get_buffer("1.running_mean") is net[1].running_mean
    assert net.get_buffer("steps") is net.steps
    with pytest.raises(AttributeError, match="Linear has no attribute `scale`"):
        net.get_parameter("0.scale")
    with pytest.raises(AttributeError, match="Sequential has no attribute `7`"):
        net.get_parameter("7.weight")
    with pytest.raises(AttributeError, match="`running_mean` is not an nn.Parameter"):
        net.get_parameter("1.running_mean")
    with pytest.raises(AttributeError, match="`weight` is not a buffer"):
        net.get_buffer("0.weight")
    with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
        net.get_submodule("0.weight")


def test_set_submodule():
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 2)))
    new = nn.Linear(2, 5)
    net.set_submodule("0.0", new)
    assert net[0][0] is new and "0.0.weight" in net.state_dict()
    net.set_submodule("0.extra", nn.ReLU())
    assert isinstance(net[0].extra, nn.ReLU)
    with pytest.raises(AttributeError, match="Sequential has no attribute `other`"):
        net.set_submodule("0.other", nn.ReLU(), strict=True)
    with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
        net.set_submodule("0.0.weight", nn.ReLU())
    with pytest.raises(ValueError, match="without a target name"):
        net.set_submodule("", nn.ReLU())
    with pytest.raises(ValueError, match="is not an nn.Module"):
        net.set_submodule("0.1", 3)


def test_half_and_type(device):
    net = model().to(device)
    net.half()
    assert net[0].weight.dtype == tg.float16 and net.steps.dtype == tg.int64
    assert net[0].weight.device == device
    net.type(tg.float64)
    assert net[0].weight.dtype == tg.float64 and net.steps.dtype == tg.float64  # all of them


def test_forward_pre_hooks_order_kwargs_and_replacement():
    calls = []
    layer = nn.Linear(2, 2, bias=False)
    with tg.no_grad():
        layer.weight.data[...] = tg.eye(2).data

    def double(module, args):
        calls.append("double")
        return args[0] * 2                                           # a single value: wrapped

    def first(module, args):
        calls.append("first")

    def with_kwargs(module, args, kwargs):
        calls.append("kwargs")
        return (args[0] + 1,), kwargs

    layer.register_forward_pre_hook(double)
    handle = layer.register_forward_pre_hook(with_kwargs, with_kwargs=True)
    layer.register_forward_pre_hook(first, prepend=True)
    out = layer(tg.tensor([[1.0, 2.0]]))
    assert calls == ["first", "double", "kwargs"]
    np.testing.assert_allclose(out.numpy(), [[3.0, 5.0]])
    handle.remove()
    np.testing.assert_allclose(layer(tg.tensor([[1.0, 2.0]])).numpy(), [[2.0, 4.0]])
    layer.register_forward_pre_hook(lambda m, a, k: 3, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"tuple of \(new_args, new_kwargs\)"):
        layer(tg.tensor([[1.0, 2.0]]))


def test_full_backward_pre_hook_sees_and_replaces_the_output_gradient(device):
    layer = nn.Linear(2, 3).double().to(device)
    seen = []

    def hook(module, grad_output):
        seen.append(grad_output[0].numpy())
        return (grad_output[0] * 10,)

    handle = layer.register_full_backward_pre_hook(hook)
    x = tg.tensor(np.array([[1.0, -1.0]]), device=device, requires_grad=True)
    weights = np.array([[1.0, 2.0, 3.0]])
    (layer(x) * tg.tensor(weights, device=device)).sum().backward()
    np.testing.assert_array_equal(seen[0], weights)                  # dL/d output
    np.testing.assert_allclose(x.grad.numpy(), 10 * weights @ layer.weight.numpy())
    np.testing.assert_allclose(layer.bias.grad.numpy(), 10 * weights[0])
    handle.remove()
    x.grad = None
    (layer(x) * tg.tensor(weights, device=device)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), weights @ layer.weight.numpy())
    assert len(seen) == 1
