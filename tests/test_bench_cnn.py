"""The CNN benchmark's hand-written NumPy network computes what tinygrad_opt computes.

``tinygrad-opt bench --only cnn`` reports the ratio of our training step to
benchmarks/cnn_step.py's ``HandCNN``; the ratio means something only if both do the
same work: the same loss and the same parameters after each SGD step (ties in the
max pooling shared equally in both), on both workloads.
"""

import subprocess
import sys

import numpy as np
import pytest

from tinygrad_opt.benchmarks import cnn_step


@pytest.mark.parametrize("size, channels, batch", cnn_step.WORKLOADS)
def test_the_hand_written_cnn_steps_like_ours(size, channels, batch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, 1, size, size)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    model = cnn_step.model_of(size, channels)
    hand = cnn_step.HandCNN(model)
    step = cnn_step.ours(model, x, y)
    for _ in range(3):
        ours_loss = step().item()
        np.testing.assert_allclose(ours_loss, hand.step(x, y), rtol=1e-5)
        for ours, theirs in zip(model.parameters(), hand.params):
            np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-7)


def test_the_hand_pooling_shares_tied_maxima():
    x = np.array([[[[1.0, 1.0], [0.0, 1.0]]]], np.float32)
    out = cnn_step.pool_forward(x)
    grad = cnn_step.pool_backward(np.full((1, 1, 1, 1), 3.0, np.float32), out, x)
    np.testing.assert_array_equal(grad[0, 0], [[1.0, 1.0], [0.0, 1.0]])


def test_bench_cnn_prints_a_ratio_per_workload():
    result = subprocess.run([sys.executable, "-m", "tinygrad_opt", "bench", "--quick",
                             "--only", "cnn"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.strip().startswith("CNN ") and "|" in line]
    assert len(rows) == len(cnn_step.WORKLOADS)
    for row in rows:
        assert float(row.split("|")[3].strip().rstrip("x")) > 0
