"""The floor framework of benchmarks/floor.py computes what tinygrad_opt computes.

Its ratio in ``tinygrad-opt bench --only floor`` is only a floor for ours if it
does the same work: the same gradients on the chain, the same loss and the same
parameters after SGD steps of the small MLP, and the same refusals.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.benchmarks import floor
from tinygrad_opt import nn, optim


def test_the_chain_gives_our_gradient():
    start = np.random.default_rng(0).random(8, dtype=np.float32)
    x = floor.Tensor(start.copy(), requires_grad=True)
    y = x
    for _ in range(25):
        y = ((y * 0.999 + 0.001).tanh()) - 0.001
    floor.backward(y.sum())
    ours = tg.tensor(start, requires_grad=True)
    z = ours
    for _ in range(25):
        z = ((z * 0.999 + 0.001).tanh()) - 0.001
    z.sum().backward()
    np.testing.assert_allclose(x.grad.data, ours.grad.numpy(), rtol=1e-6)
    assert x.grad.data.dtype == np.float32


def test_the_chain_runner_clears_the_gradient():
    x = floor.Tensor(np.ones(8, np.float32), requires_grad=True)
    floor.chain(x, 8)()
    assert x.grad is None


def test_the_mlp_steps_like_ours():
    rng = np.random.default_rng(1)
    inputs = rng.standard_normal((32, 64)).astype(np.float32)
    labels = rng.integers(0, 10, 32)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    twin = floor.MLP(model, inputs, labels)
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(3):
        optimizer.zero_grad()
        loss = loss_fn(model(tg.tensor(inputs)), tg.tensor(labels))
        loss.backward()
        optimizer.step()
        np.testing.assert_allclose(twin.step().data, loss.item(), rtol=1e-5)
    for ours, theirs in zip(model.parameters(), twin.params):
        np.testing.assert_allclose(theirs.data, ours.numpy(), rtol=1e-5, atol=1e-7)
        assert theirs.versions[0] == 3  # each step bumps the version, as ours does


def test_the_floor_keeps_our_refusals():
    w = floor.Tensor(np.ones(2, np.float32), requires_grad=True)
    x = floor.Tensor(np.array([2.0, 4.0], np.float32))
    y = (w * x).sum()
    x.versions[0] += 1  # an in-place write to a saved input
    with pytest.raises(RuntimeError, match="in-place"):
        floor.backward(y)
    scores = floor.Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    with pytest.raises(IndexError):
        floor.CrossEntropy.apply(scores, floor.Tensor(np.array([0, 3])))
    with pytest.raises(IndexError):
        floor.CrossEntropy.apply(scores, floor.Tensor(np.array([0, -1])))


def test_the_floor_loop_gives_our_gradients_to_our_tensors():
    from tinygrad_opt.autograd import fast_backward
    rng = np.random.default_rng(2)
    inputs = tg.tensor(rng.standard_normal((8, 5)).astype(np.float32))
    labels = tg.tensor(rng.integers(0, 3, 8))
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(model(inputs), labels).backward()
    expected = [p.grad.numpy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    ours = fast_backward.backward
    with floor.the_floor_loop():
        assert fast_backward.backward is floor.ours_with_the_floor_loop
        loss = loss_fn(model(inputs), labels)
        loss.backward()
        assert tg.is_grad_enabled()  # the loop switched recording off only while it ran
        with pytest.raises(NotImplementedError, match="plain backward"):
            loss_fn(model(inputs), labels).backward(retain_graph=True)
    assert fast_backward.backward is ours
    for p, grad in zip(model.parameters(), expected):
        assert type(p.grad) is tg.Tensor
        np.testing.assert_array_equal(p.grad.numpy(), grad)
    with pytest.raises(RuntimeError, match="in-place"):  # our version checks still run
        with floor.the_floor_loop():
            hidden = model[0](inputs)
            loss = model[2](hidden.relu()).sum()
            model[2].weight._version += 1  # as an in-place write does
            loss.backward()


def test_the_bench_suite_prints_three_ratios(capsys):
    rows = floor.main(quick=True)
    assert [row[0] for row in rows] == ["per-op chain on (8,), fwd + bwd",
                                        "MLP 64-64-10, batch 32, sgd step"]
    assert all(len(row) == 4 and min(row[1:]) > 0 for row in rows)
    out = capsys.readouterr().out
    assert "The floor" in out and "the floor's backward loop" in out


def test_the_steps_without_layers_compute_what_ours_computes():
    """Each variant of ``without_layers`` (modules, loss checks, optimizer taken away)
    takes the same three SGD steps as ours from the same parameters."""
    rng = np.random.default_rng(2)
    inputs = rng.standard_normal((32, 64)).astype(np.float32)
    labels = rng.integers(0, 10, 32)
    variants, params = floor.without_layers(inputs, labels)
    start = [p.data.copy() for p in params]
    after = []
    for name, step in variants:
        for p, value in zip(params, start):
            p.data[...] = value
        for _ in range(3):
            step()
        after.append([p.data.copy() for p in params])
    assert [name for name, _ in variants][0] == "ours"
    assert not np.allclose(after[0][0], start[0])  # the steps moved the weights
    for other in after[1:]:
        for ours, theirs in zip(after[0], other):
            np.testing.assert_allclose(theirs, ours, rtol=1e-6, atol=1e-7)
