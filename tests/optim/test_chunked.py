"""The chunked update (optim/fused.py: update_in_chunks) against the whole-array update.

On the CPU the elementwise optimizers run their rule over 96 KiB slices of a
large parameter (for speed: see the method's docstring). Here ``chunk_bytes``
is made tiny so that small parameters are split into many slices, the last one
ragged, and every parameter and state entry must equal, bit for bit, the run
that updates whole arrays: an elementwise rule computes each element alone.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import optim
from tinygrad_opt.optim import fused
from tinygrad_opt.optim.optimizer import elementwise

from test_fused import CASES, run as run_steps  # the fused-kernel tests' settings and loop


def run(optimizer_class, options, device, dtype, chunk_bytes, steps=6, shapes=None):
    """Parameters and state after ``steps`` updates (the fused-kernel tests' loop);
    ``chunk_bytes=None`` updates whole arrays."""
    def configure(optimizer):
        optimizer.chunk_bytes = chunk_bytes
    return run_steps(optimizer_class, options, device, dtype, fused=False, steps=steps,
                     shapes=shapes or [(37, 29), (3,), (5, 1, 41)], configure=configure)


def assert_same(left, right):
    (left_params, left_states), (right_params, right_states) = left, right
    for ours, theirs in zip(left_params, right_params):
        np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(left_states, right_states):
        assert ours.keys() == theirs.keys()
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)


@pytest.mark.parametrize("optimizer_class, options", CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(CASES)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_chunked_update_equals_the_whole_array_update(device, optimizer_class, options, dtype):
    whole = run(optimizer_class, options, device, dtype, chunk_bytes=None)
    chunked = run(optimizer_class, options, device, dtype, chunk_bytes=200)
    assert_same(chunked, whole)


def test_chunking_really_splits_large_parameters(monkeypatch):
    calls = []
    original = optim.Adam.update

    @elementwise  # a replacement rule is chunked only if marked, as Adam's own
    def counting_update(self, theta, g, state, group):
        calls.append(theta.size)
        return original(self, theta, g, state, group)

    monkeypatch.setattr(optim.Adam, "update", counting_update)
    p = tg.zeros(1000, requires_grad=True)
    optimizer = optim.Adam([p])
    optimizer.chunk_bytes = 400  # 100 float32 elements
    p.grad = tg.ones(1000)
    optimizer.step()
    assert calls == [1, 1000]  # the dry run sees the state being created: whole update
    calls.clear()
    optimizer.step()
    assert calls == [1] + [100] * 10  # a one-element dry run, then ten slices
    assert optimizer.state[p]["step"] == 2
    assert optimizer.state[p]["exp_avg"].shape == (1000,)


def test_a_state_key_added_mid_run_is_created_whole():
    # Adam creates max_exp_avg_sq when amsgrad is switched on later: the dry run
    # sees the new key, so that step runs on whole arrays and the buffer is full size.
    params = [tg.tensor(np.linspace(-1, 1, 500), requires_grad=True) for _ in range(2)]
    optimizers = [optim.Adam([p], lr=0.1, fused=False) for p in params]
    optimizers[0].chunk_bytes = 96
    optimizers[1].chunk_bytes = None
    for step in range(4):
        for p, optimizer in zip(params, optimizers):
            optimizer.param_groups[0]["amsgrad"] = step >= 2
            p.grad = tg.tensor(np.cos(np.arange(500) + step))
            optimizer.step()
    np.testing.assert_array_equal(params[0].numpy(), params[1].numpy())
    assert optimizers[0].state[params[0]]["max_exp_avg_sq"].shape == (500,)


def test_non_contiguous_parameters_are_updated_whole():
    p = tg.zeros(40, 30, requires_grad=True)
    p.data = p.data.T  # a transposed view: slices of reshape(-1) would be copies
    q = tg.zeros(30, 40, requires_grad=True)
    grad = np.arange(1200.0, dtype=np.float32).reshape(30, 40)
    chunked = optim.SGD([p], lr=0.1, momentum=0.9, fused=False)
    whole = optim.SGD([q], lr=0.1, momentum=0.9, fused=False)
    chunked.chunk_bytes = 64
    for _ in range(3):
        p.grad, q.grad = tg.tensor(grad), tg.tensor(grad)
        chunked.step()
        whole.step()
    np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert np.abs(p.numpy()).sum() > 0


def test_big_parameter_default_chunks_match(device):
    # A parameter of 70,000 float32 elements is larger than the default 96 KiB
    # chunk (24,576 elements): the default settings take the chunked path.
    whole = run(optim.Adam, dict(lr=1e-2, amsgrad=True), device, "float32",
                chunk_bytes=None, steps=3, shapes=[(70_000,)])
    chunked = run(optim.Adam, dict(lr=1e-2, amsgrad=True), device, "float32",
                  chunk_bytes=fused.CHUNK_BYTES, steps=3, shapes=[(70_000,)])
    assert_same(chunked, whole)


def test_only_rules_marked_elementwise_are_chunked():
    sizes = []

    class NormalizedSGD(optim.SGD):
        """Not elementwise: every element depends on the whole gradient's norm."""

        def update(self, theta, g, state, group):
            sizes.append(theta.size)
            theta -= group["lr"] * g / (g * g).sum() ** 0.5

    class MarkedSGD(optim.SGD):
        @elementwise
        def update(self, theta, g, state, group):
            sizes.append(theta.size)
            theta -= group["lr"] * g

    g = np.arange(300.0, dtype=np.float32)
    for cls, expected_sizes, expected_step in [
            (NormalizedSGD, [300], -0.1 * g / np.sqrt((g * g).sum())),  # whole: one norm
            (MarkedSGD, [1, 100, 100, 100], -0.1 * g)]:                 # dry run, 3 slices
        sizes.clear()
        p = tg.zeros(300, requires_grad=True)
        optimizer = cls([p], lr=0.1)
        optimizer.chunk_bytes = 400
        p.grad = tg.tensor(g)
        optimizer.step()
        assert sizes == expected_sizes, cls.__name__
        np.testing.assert_allclose(p.numpy(), expected_step, rtol=1e-6)
