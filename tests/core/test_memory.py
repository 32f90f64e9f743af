"""The graph is owned and freed explicitly: backward without retain_graph releases
the intermediate tensors (and their arrays), and the graph has no reference
cycles, so dropping the output frees it even with the cycle collector off."""

import gc
import weakref

import numpy as np
import pytest

import tinygrad_opt as tg


@pytest.fixture
def no_cycle_collector():
    """Objects must die by reference counting alone: that proves there is no cycle."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def build(device):
    """y = Σ 3·exp(2x) on a big-ish x; weak references to the intermediate tensors
    and their arrays, taken through grad_fn.inputs (no strong name survives)."""
    x = tg.tensor(np.linspace(-1, 1, 200_000), requires_grad=True, device=device)
    y = ((x * 2).exp() * 3).sum()
    tripled = y.grad_fn.inputs[0]
    exponentiated = tripled.grad_fn.inputs[0]
    doubled = exponentiated.grad_fn.inputs[0]
    intermediates = (tripled, exponentiated, doubled)
    refs = [weakref.ref(t) for t in intermediates] + [weakref.ref(t.data) for t in intermediates
                                                      if type(t.data) is np.ndarray]
    return x, y, refs


def expected_grad():
    x = np.linspace(-1, 1, 200_000)
    return 6 * np.exp(2 * x)


def test_backward_releases_the_intermediates(device, no_cycle_collector):
    x, y, refs = build(device)
    assert all(ref() is not None for ref in refs)
    y.backward()
    assert all(ref() is None for ref in refs)
    assert y.grad_fn is not None  # the root survives, its op emptied
    assert y.item() == pytest.approx(3 * np.exp(2 * np.linspace(-1, 1, 200_000)).sum())
    np.testing.assert_allclose(x.grad.numpy(), expected_grad())


def test_retain_graph_keeps_them_until_the_output_is_dropped(device, no_cycle_collector):
    x, y, refs = build(device)
    y.backward(retain_graph=True)
    assert all(ref() is not None for ref in refs)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * expected_grad())
    assert all(ref() is None for ref in refs)


def test_dropping_the_output_frees_an_unused_graph(device, no_cycle_collector):
    x, y, refs = build(device)
    del y
    assert all(ref() is None for ref in refs)
    assert x.grad is None


def test_grad_releases_the_intermediates_too(device, no_cycle_collector):
    x, y, refs = build(device)
    (gx,) = tg.grad(y, x)
    assert all(ref() is None for ref in refs)
    np.testing.assert_allclose(gx.numpy(), expected_grad())


def test_no_grad_records_nothing_and_keeps_no_inputs(device, no_cycle_collector):
    x = tg.tensor(np.ones(1000), requires_grad=True, device=device)
    with tg.no_grad():
        y = (x * 2).exp().sum()
        z = x[:10] @ x[:10]
    for result in (y, z):
        assert result.grad_fn is None and not result.requires_grad and result.is_leaf
    x_ref = weakref.ref(x)
    del x
    assert x_ref() is None  # nothing made under no_grad points back to x
    assert y.item() == pytest.approx(1000 * np.exp(2.0))


def test_op_refers_to_its_output_weakly(device):
    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x.exp()
    function = y.grad_fn
    assert function.output is y
    del y
    assert function.output is None
