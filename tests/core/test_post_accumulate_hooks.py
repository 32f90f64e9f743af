"""``Tensor.register_post_accumulate_grad_hook``: ``hook(leaf)`` after a backward wrote
``leaf.grad``, as PyTorch's (its use: an optimizer step inside backward)."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, optim


def test_the_hook_sees_each_accumulated_grad_and_its_handle_removes_it(device):
    v = tg.tensor([0.0, 0.0, 0.0], requires_grad=True, device=device)
    seen = []
    handle = v.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy()))
    v.backward(tg.tensor([1.0, 2.0, 3.0], device=device))
    (v * 2).sum().backward()                        # accumulates: [1, 2, 3] + 2
    np.testing.assert_array_equal(np.array(seen), [[1, 2, 3], [3, 4, 5]])
    handle.remove()
    (v * 2).sum().backward()
    assert len(seen) == 2


@pytest.mark.parametrize("how", ["plain", "create_graph", "inputs"])
def test_every_backward_that_writes_grad_calls_it_and_grad_does_not(how):
    w = tg.tensor([1.0, -2.0], dtype=tg.float64, requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda p: calls.append(p.grad.numpy().copy()))
    loss = (w * w).sum()
    if how == "plain":
        loss.backward()
    elif how == "create_graph":                     # the engine itself, not its twin
        loss.backward(create_graph=True)
    else:
        loss.backward(inputs=[w])
    np.testing.assert_array_equal(calls, [[2.0, -4.0]])
    tg.autograd.grad((w * 3).sum(), w)              # no .grad written: no call
    assert len(calls) == 1


def test_an_optimizer_step_inside_backward_gives_the_usual_step(rng):
    """PyTorch's "optimizer step in backward" recipe: one SGD per parameter, stepped and
    zeroed by the hook, ends where an ordinary step ends."""
    x = tg.tensor(rng.normal(size=(5, 3)))
    y = tg.tensor(rng.normal(size=(5, 2)))

    def model_and_loss(seed):
        tg.manual_seed(seed)
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        return model, lambda: ((model(x) - y) ** 2).mean()

    usual, loss = model_and_loss(0)
    opt = optim.SGD(usual.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        loss().backward()
        opt.step()
    inside, loss = model_and_loss(0)
    per_parameter = {p: optim.SGD([p], lr=0.1, momentum=0.9) for p in inside.parameters()}

    def step(p):
        per_parameter[p].step()
        per_parameter[p].zero_grad()

    for p in inside.parameters():
        p.register_post_accumulate_grad_hook(step)
    for _ in range(3):
        loss().backward()
    for a, b in zip(usual.parameters(), inside.parameters()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6)
        assert b.grad is None


def test_pytorchs_errors():
    leaf = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (leaf * 2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tg.tensor([1.0]).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(TypeError, match="callable"):
        leaf.register_post_accumulate_grad_hook(3)
    leaf.register_post_accumulate_grad_hook(lambda p: p * 2)
    with pytest.raises(RuntimeError, match="should return None"):
        (leaf * 2).sum().backward()


def test_a_dead_leaf_leaves_no_hooks_behind():
    from tinygrad_opt.autograd import tensor_hooks
    leaf = tg.tensor([1.0], requires_grad=True)
    leaf.register_post_accumulate_grad_hook(lambda p: None)
    key = id(leaf)
    assert key in tensor_hooks.post_accumulate
    del leaf
    assert key not in tensor_hooks.post_accumulate
