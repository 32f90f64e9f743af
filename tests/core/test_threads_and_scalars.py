"""Grad mode is per thread (as PyTorch's), and optimizers update 0-d parameters."""

import threading

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import optim


def test_no_grad_in_one_thread_leaves_recording_on_in_another():
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def worker():
        with tg.no_grad():
            inside.set()
            release.wait(5)
            seen["worker"] = tg.is_grad_enabled()

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(5)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()           # recorded here while the other thread is in no_grad
    release.set()
    thread.join()
    assert seen["worker"] is False
    assert y.requires_grad and y.grad_fn is not None
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_a_new_thread_starts_with_recording_on():
    seen = []
    with tg.no_grad():
        thread = threading.Thread(target=lambda: seen.append(tg.is_grad_enabled()))
        thread.start()
        thread.join()
        assert not tg.is_grad_enabled()
    assert seen == [True]


@pytest.mark.parametrize("options", [
    dict(momentum=0.9, weight_decay=0.1), dict(momentum=0.9, maximize=True),
    dict(momentum=0.9, nesterov=True), dict(momentum=0.9, momentum_form="notes")])
def test_sgd_with_momentum_updates_a_0d_parameter_like_a_1d_one(device, options):
    scalar = tg.tensor(1.0, dtype="float64", requires_grad=True, device=device)
    vector = tg.tensor([1.0], dtype="float64", requires_grad=True, device=device)
    optimizers = [optim.SGD([p], lr=0.1, fused=False, **options) for p in (scalar, vector)]
    for step in range(3):
        for p, optimizer in zip((scalar, vector), optimizers):
            p.grad = tg.full(p.shape, 2.0 + step, dtype="float64", device=device)
            optimizer.step()
    assert scalar.shape == ()
    np.testing.assert_allclose(scalar.numpy(), vector.numpy()[0], rtol=1e-15)
