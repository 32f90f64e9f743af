"""One training step of a small CNN: ours against a hand-written NumPy reference.

The network is LeNet-sized, the kind this framework's users train on a CPU::

    conv 3x3 (pad 1) -> ReLU -> max pool 2x2 -> conv 3x3 (pad 1) -> ReLU -> max pool 2x2
    -> flatten -> linear -> softmax cross-entropy, SGD (lr 0.01)

The reference is written by hand as a NumPy programmer would (CS231n's fast layers):
im2col as one copy per kernel tap (faster here than one copy of a strided window
view), each convolution one batched matrix product forward and two backward (the
weight's gradient summed over the batch: faster than ``tensordot``), col2im as one
``+=`` per tap, and the 2x2 max pool as the maximum of its four strided views (a
reshape's ``max(axis=(3, 5))`` is 20 times slower), its backward a mask per view.
Tied maxima share the gradient equally, as in our ``max`` (ReLU
makes ties: a window of four negatives pools four zeros), so both compute the same
numbers (tests/test_bench_cnn.py checks this). Both run in the same process, taking
turns, as in ``mlp_step``.
"""

from __future__ import annotations

import numpy as np

import tinygrad_opt as tg
from .common import compare, format_time, training_step
from tinygrad_opt import nn, optim

# (image size, channels of the two convolutions, batch)
WORKLOADS = [(28, (8, 16), 64), (8, (8, 16), 32)]


def model_of(size: int, channels: tuple, seed: int = 0):
    """Our CNN for ``size`` x ``size`` single-channel images and 10 classes."""
    tg.manual_seed(seed)
    c1, c2 = channels
    return nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(c2 * (size // 4) ** 2, 10))


def ours(model, x, y):
    """One SGD step of our model on (x, y), as a function."""
    return training_step(model, optim.SGD(model.parameters(), lr=0.01), nn.CrossEntropyLoss(),
                         tg.tensor(x), tg.tensor(y))


def conv_forward(x, w, b):
    """3x3 convolution with padding 1: (N, C, H, W) -> (N, O, H, W), and the columns."""
    N, C, H, W = x.shape
    O = w.shape[0]
    padded = np.zeros((N, C, H + 2, W + 2), dtype=x.dtype)
    padded[:, :, 1:-1, 1:-1] = x
    cols = np.empty((N, C, 3, 3, H, W), dtype=x.dtype)
    for i in range(3):                                             # im2col: one copy per tap
        for j in range(3):
            cols[:, :, i, j] = padded[:, :, i:i + H, j:j + W]
    cols = cols.reshape(N, C * 9, H * W)
    out = w.reshape(O, C * 9) @ cols + b[:, None]                  # (N, O, H·W)
    return out.reshape(N, O, H, W), cols


def conv_backward(dout, cols, x_shape, w, need_dx=True):
    """Gradients of conv_forward: dx (None unless ``need_dx``), dw, db."""
    N, C, H, W = x_shape
    O = w.shape[0]
    dout = dout.reshape(N, O, H * W)
    dw = (dout @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    db = dout.sum(axis=(0, 2))
    if not need_dx:
        return None, dw, db
    dcols = (w.reshape(O, C * 9).T @ dout).reshape(N, C, 3, 3, H, W)
    dpadded = np.zeros((N, C, H + 2, W + 2), dtype=dout.dtype)
    for i in range(3):                                             # col2im: one += per tap
        for j in range(3):
            dpadded[:, :, i:i + H, j:j + W] += dcols[:, :, i, j]
    return dpadded[:, :, 1:-1, 1:-1], dw, db


TAPS = ((0, 0), (0, 1), (1, 0), (1, 1))


def pool_forward(x):
    """2x2 max pool, stride 2: the maximum of the four strided views."""
    a, b, c, d = (x[:, :, i::2, j::2] for i, j in TAPS)
    return np.maximum(np.maximum(a, b), np.maximum(c, d))


def pool_backward(dout, out, x):
    """The gradient to each window's maxima, shared equally among ties."""
    masks = [x[:, :, i::2, j::2] == out for i, j in TAPS]
    share = dout / (masks[0].astype(dout.dtype) + masks[1] + masks[2] + masks[3])
    dx = np.empty_like(x)
    for (i, j), mask in zip(TAPS, masks):
        np.multiply(mask, share, out=dx[:, :, i::2, j::2])
    return dx


class HandCNN:
    """The same network and SGD step written out in NumPy (parameters copied from ours)."""

    def __init__(self, model, lr: float = 0.01):
        self.params = [p.data.copy() for p in model.parameters()]
        self.lr = lr

    def step(self, x, y):
        w1, b1, w2, b2, w3, b3 = self.params
        N = x.shape[0]
        a1, cols1 = conv_forward(x, w1, b1)
        r1 = np.maximum(a1, 0)
        p1 = pool_forward(r1)
        a2, cols2 = conv_forward(p1, w2, b2)
        r2 = np.maximum(a2, 0)
        p2 = pool_forward(r2)
        flat = p2.reshape(N, -1)
        scores = flat @ w3.T + b3
        shifted = scores - scores.max(axis=1, keepdims=True)
        exps = np.exp(shifted)
        sums = exps.sum(axis=1, keepdims=True)
        rows = np.arange(N)
        loss = -(shifted[rows, y] - np.log(sums[:, 0])).mean()
        dscores = exps / sums
        dscores[rows, y] -= 1
        dscores /= N
        dw3, db3 = dscores.T @ flat, dscores.sum(axis=0)
        dp2 = (dscores @ w3).reshape(p2.shape)
        da2 = pool_backward(dp2, p2, r2) * (a2 > 0)
        dp1, dw2, db2 = conv_backward(da2, cols2, p1.shape, w2)
        da1 = pool_backward(dp1, p1, r1) * (a1 > 0)
        _, dw1, db1 = conv_backward(da1, cols1, x.shape, w1, need_dx=False)
        for p, g in zip(self.params, (dw1, db1, dw2, db2, dw3, db3)):
            p -= self.lr * g
        return loss


def main(quick: bool = False):
    rng = np.random.default_rng(0)
    rows = []
    for size, channels, batch in WORKLOADS:
        x = rng.standard_normal((batch, 1, size, size)).astype(np.float32)
        y = rng.integers(0, 10, batch)
        model = model_of(size, channels)
        hand = HandCNN(model)
        repeats = 5 if quick else 15
        number = 1 if size > 16 else 10
        t_mine, t_hand, ratio, noise = compare(ours(model, x, y), lambda: hand.step(x, y),
                                               repeats=repeats, number=number)
        name = f"CNN {size}x{size}, conv {channels[0]}-{channels[1]}, batch {batch}, sgd"
        rows.append((name, t_mine, t_hand, ratio, noise))
    print("\nCNN training step: ours vs hand-written NumPy (same run, alternating; medians)")
    print(f"  {'workload':44} | {'ours':>11} | {'hand NumPy':>11} | ratio | noise")
    for name, t_mine, t_hand, ratio, noise in rows:
        print(f"  {name:44} | {format_time(t_mine)} | {format_time(t_hand)} | {ratio:5.2f}x | "
              f"{noise:5.0%}")
    return rows


if __name__ == "__main__":
    main()
