"""``grad_fn.next_functions`` and ``AccumulateGrad`` (tg.autograd.graph), as PyTorch's
``torch.autograd.graph.Node`` shows a graph: one ``(node, 0)`` per input, the leaf's
``AccumulateGrad`` node for a leaf that requires grad, ``(None, 0)`` for an input that
needs no gradient."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd.graph import AccumulateGrad, Node


def test_next_functions_lead_to_the_inputs_ops_and_the_leaves(device):
    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    c = tg.tensor([3.0, 4.0], device=device)
    h = x * c
    y = (h.exp() + x).sum()
    (add, index), = y.grad_fn.next_functions
    assert add is y.grad_fn.inputs[0].grad_fn and index == 0
    (exp, _), (x_node, _) = add.next_functions
    assert type(exp).__name__ == "Exp" and exp.next_functions == ((h.grad_fn, 0),)
    assert isinstance(x_node, AccumulateGrad) and x_node.variable is x
    assert x_node.next_functions == () and x_node.name() == "torch::autograd::AccumulateGrad"
    mul_edges = h.grad_fn.next_functions
    assert mul_edges[0][0] is x_node  # one AccumulateGrad node per leaf while held
    assert mul_edges[1] == (None, 0)  # c needs no gradient


def test_a_walk_from_the_loss_reaches_every_leaf_that_requires_grad():
    """A graph walker in PyTorch's style (as torchviz draws): the AccumulateGrad nodes it
    meets are exactly the leaves the loss depends on that require grad."""
    model = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.Tanh(), tg.nn.Linear(4, 1))
    frozen = tg.nn.Linear(3, 3).requires_grad_(False)
    loss = model(frozen(tg.ones(2, 3))).pow(2).mean()
    seen, pending, leaves = set(), [loss.grad_fn], []
    while pending:
        node = pending.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        assert isinstance(node, Node)
        if isinstance(node, AccumulateGrad):
            leaves.append(node.variable)
        pending.extend(next_node for next_node, _ in node.next_functions)
    assert sorted(id(p) for p in leaves) == sorted(id(p) for p in model.parameters())
    loss.backward()  # the walk changed nothing: backward still works
    assert all(p.grad is not None for p in model.parameters())


def test_a_ctx_style_function_is_a_node_too():
    class Square(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            return x * x * k

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 2 * x, None

    x = tg.tensor([1.5], dtype=tg.float64, requires_grad=True)
    y = Square.apply(x, 3.0)
    ((node, _),) = y.grad_fn.next_functions
    assert isinstance(node, AccumulateGrad) and node.variable is x


def test_freed_edges_raise_and_retained_ones_stay():
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    assert y.grad_fn.next_functions[0][0].next_functions[0][0].variable is x
    y.backward()  # frees the graph
    with pytest.raises(RuntimeError, match="backward has freed this part of the graph"):
        y.grad_fn.next_functions
    np.testing.assert_allclose(x.grad.numpy(), [4.0, -8.0])
