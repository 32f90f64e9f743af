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


def test_the_bench_suite_prints_both_ratios(capsys):
    rows = floor.main(quick=True)
    assert [name for name, _, _ in rows] == ["per-op chain on (8,), fwd + bwd",
                                              "MLP 64-64-10, batch 32, sgd step"]
    assert all(ours > 0 and lowest > 0 for _, ours, lowest in rows)
    assert "The floor" in capsys.readouterr().out
