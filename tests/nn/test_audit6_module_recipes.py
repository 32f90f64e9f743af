"""PyTorch's nn.Module recipes and notes, ported: the gaps found by the sixth pass.

* ``parametrize.transfer_parametrizations_and_params`` (missing): the target module gets
  the same parametrization modules and the very ``original`` Parameters of the source;
* full backward hooks and backward pre-hooks that return a *list* of gradients, as the
  "Modules" note's ``backward_hook`` does (PyTorch only checks the length).

References are NumPy formulas written here: triu(X) + triu(X, 1)ᵀ, g·v/‖v‖ per row, the
gradient of sum(x Wᵀ + b) with respect to x (ones · W).
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn.utils import parametrizations, parametrize


def host(tensor):
    return tensor.detach().cpu().numpy()


def filled_linear(rng, device, rows=3, columns=3):
    layer = nn.Linear(columns, rows).double().to(device)
    with tg.no_grad():
        layer.weight.copy_(tg.tensor(rng.normal(size=(rows, columns)), device=device))
        layer.bias.copy_(tg.tensor(rng.normal(size=rows), device=device))
    return layer


class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).mT


class Doubled(nn.Module):
    def forward(self, X):
        return 2 * X


def symmetric_np(X):
    return np.triu(X) + np.triu(X, 1).T


# ------------------------------------------------ transfer_parametrizations_and_params

def test_transfer_shares_original_and_parametrization(rng, device):
    source = filled_linear(rng, device)
    parametrize.register_parametrization(source, "weight", Symmetric())
    target = filled_linear(rng, device)
    out = parametrize.transfer_parametrizations_and_params(source, target)
    assert out is target
    assert parametrize.is_parametrized(target, "weight")
    assert parametrize.type_before_parametrizations(target) is nn.Linear
    original = source.parametrizations.weight.original
    assert target.parametrizations.weight.original is original          # the same object
    assert target.parametrizations.weight[0] is source.parametrizations.weight[0]
    np.testing.assert_allclose(host(target.weight), symmetric_np(host(original)))
    # one optimizer step on the source's original moves the target's weight too
    source.weight.sum().backward()
    tg.optim.SGD([original], lr=0.5).step()
    np.testing.assert_allclose(host(target.weight), symmetric_np(host(original)))
    assert list(target.state_dict()) == ["bias", "parametrizations.weight.original"]


def test_transfer_creates_missing_tensor_and_picks_tensor_name(rng, device):
    source = filled_linear(rng, device)
    parametrize.register_parametrization(source, "weight", Symmetric())
    parametrize.register_parametrization(source, "bias", Doubled())
    bias_original = host(source.parametrizations.bias.original)
    empty = nn.Module()
    parametrize.transfer_parametrizations_and_params(source, empty, "bias")
    assert list(empty.parametrizations) == ["bias"]        # only the tensor asked for
    assert not hasattr(empty, "weight")
    assert empty.parametrizations.bias.original is source.parametrizations.bias.original
    np.testing.assert_allclose(host(empty.bias), 2 * bias_original)
    with pytest.raises(KeyError, match="tensor_name='running_mean'"):
        parametrize.transfer_parametrizations_and_params(source, nn.Module(), "running_mean")
    plain = nn.Linear(2, 2)
    assert parametrize.transfer_parametrizations_and_params(nn.Linear(2, 2), plain) is plain
    assert not parametrize.is_parametrized(plain)


def test_transfer_weight_norm_shares_every_original(rng, device):
    source = filled_linear(rng, device, rows=2, columns=4)
    parametrizations.weight_norm(source)
    target = filled_linear(rng, device, rows=2, columns=4)
    parametrize.transfer_parametrizations_and_params(source, target)
    lists = source.parametrizations.weight, target.parametrizations.weight
    assert lists[1].original0 is lists[0].original0
    assert lists[1].original1 is lists[0].original1
    g, v = host(lists[0].original0), host(lists[0].original1)            # (2, 1), (2, 4)
    np.testing.assert_allclose(host(target.weight),
                               g * v / np.linalg.norm(v, axis=1, keepdims=True))


# ------------------------------------------ backward hooks that return a list

def test_full_backward_hook_may_return_a_list(rng, device):
    """The "Modules" note's hook: ``[torch.ones_like(gi) * 42. for gi in grad_inputs]``."""
    layer = filled_linear(rng, device)
    layer.register_full_backward_hook(
        lambda module, grad_input, grad_output: [tg.ones_like(g) * 42.0 for g in grad_input])
    x = tg.tensor(rng.normal(size=(2, 3)), device=device, requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_allclose(host(x.grad), np.full((2, 3), 42.0))
    np.testing.assert_allclose(host(layer.weight.grad), np.ones((3, 2)) @ host(x))


def test_backward_pre_hook_may_return_a_list(rng, device):
    layer = filled_linear(rng, device)
    layer.register_full_backward_pre_hook(lambda module, grad_output: [3.0 * grad_output[0]])
    x = tg.tensor(rng.normal(size=(2, 3)), device=device, requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_allclose(host(x.grad), 3.0 * np.ones((2, 3)) @ host(layer.weight))
    with pytest.raises(RuntimeError, match="got 2, but expected 1"):
        bad = filled_linear(rng, device)
        bad.register_full_backward_hook(lambda module, gi, go: [gi[0], gi[0]])
        bad(x).sum().backward()
