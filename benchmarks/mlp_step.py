"""One training step of an MLP: ours against a hand-written NumPy reference.

The reference is a CS231n-style network written by hand with preallocated
buffers (``np.matmul(..., out=)``, in-place ReLU masks, in-place SGD/Adam):
the fastest a NumPy program of this network can reasonably be. Both run in the
same process, alternately (pair by pair); we report medians and the median
of the pairs' ratios.
Workloads (issue 8): 784-512-512-10 at batch 128 and 64-64-10 at batch 32,
ReLU, softmax cross-entropy, SGD (lr 0.01) and Adam (lr 1e-3).
"""

from __future__ import annotations

import numpy as np

import tinygrad_opt as tg
from .common import compare, format_time, minor_faults_per_call, peak_memory_mb, training_step
from tinygrad_opt import nn, optim


class HandMLP:
    """y = W3·relu(W2·relu(W1·x + b1) + b2) + b3, written out in NumPy with buffers."""

    def __init__(self, sizes, batch, optimizer, seed=0, xp=np):
        self.xp = xp
        rng = np.random.default_rng(seed)
        self.params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1 / np.sqrt(fan_in)
            weight = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)
            bias = rng.uniform(-bound, bound, (fan_out,)).astype(np.float32)
            self.params += [xp.asarray(weight), xp.asarray(bias)]
        self.grads = [xp.empty_like(p) for p in self.params]
        self.m = [xp.zeros_like(p) for p in self.params]
        self.v = [xp.zeros_like(p) for p in self.params]
        self.tmp = [xp.empty_like(p) for p in self.params]
        self.t = 0
        self.optimizer = optimizer
        self.acts = [xp.empty((batch, size), np.float32) for size in sizes]
        self.deltas = [xp.empty((batch, size), np.float32) for size in sizes]
        self.rows = xp.arange(batch)

    def step(self, x, y):
        np = self.xp  # noqa: the same code runs on NumPy and CuPy
        acts, deltas, params, grads = self.acts, self.deltas, self.params, self.grads
        layers = len(params) // 2
        acts[0][...] = x
        for i in range(layers):
            np.matmul(acts[i], params[2 * i], out=acts[i + 1])
            acts[i + 1] += params[2 * i + 1]
            if i < layers - 1:
                np.maximum(acts[i + 1], 0, out=acts[i + 1])
        scores = acts[-1]
        delta = deltas[-1]
        np.subtract(scores, scores.max(axis=1, keepdims=True), out=delta)
        np.exp(delta, out=delta)
        delta /= delta.sum(axis=1, keepdims=True)          # softmax probabilities
        loss = -np.log(delta[self.rows, y]).mean()
        delta[self.rows, y] -= 1
        delta /= len(y)                                     # dL/dscores
        for i in reversed(range(layers)):
            np.matmul(acts[i].T, deltas[i + 1], out=grads[2 * i])
            deltas[i + 1].sum(axis=0, out=grads[2 * i + 1])
            if i > 0:
                np.matmul(deltas[i + 1], params[2 * i].T, out=deltas[i])
                deltas[i] *= acts[i] > 0                    # ReLU backward
        self.update()
        return loss

    def update(self):
        np = self.xp  # noqa
        if self.optimizer == "sgd":
            for p, g, tmp in zip(self.params, self.grads, self.tmp):
                np.multiply(g, 0.01, out=tmp)
                p -= tmp
            return
        self.t += 1
        b1, b2, lr, eps = 0.9, 0.999, 1e-3, 1e-8
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, g, m, v, tmp in zip(self.params, self.grads, self.m, self.v, self.tmp):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp /= c2 ** 0.5
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= lr / c1
            p -= tmp


def ours(sizes, batch, optimizer_name, x, y, device="cpu", fused=None):
    """One training step of our MLP, as a function (``fused``: the optimizer's option)."""
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out, device=device))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    if optimizer_name == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=0.01, fused=fused)
    else:
        optimizer = optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    return training_step(model, optimizer, nn.CrossEntropyLoss(), tg.tensor(x, device=device),
                         tg.tensor(y, device=device))


WORKLOADS = [((784, 512, 512, 10), 128, "sgd"), ((784, 512, 512, 10), 128, "adam"),
             ((64, 64, 10), 32, "sgd"), ((64, 64, 10), 32, "adam")]


def main(quick: bool = False):
    rng = np.random.default_rng(0)
    rows = []
    for sizes, batch, optimizer_name in WORKLOADS:
        x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], batch)
        small = sizes[0] < 100
        repeats = (30 if small else 15) // (3 if quick else 1)
        number = 20 if small else 1
        mine = ours(sizes, batch, optimizer_name, x, y)
        hand = HandMLP(sizes, batch, optimizer_name)
        t_mine, t_hand, ratio, noise = compare(mine, lambda: hand.step(x, y),
                                               repeats=repeats, number=number)
        faults = minor_faults_per_call(mine, calls=10)
        name = f"MLP {'-'.join(map(str, sizes))}, batch {batch}, {optimizer_name}"
        rows.append((name, t_mine, t_hand, ratio, noise, faults))
    print("\nMLP training step: ours vs hand-written NumPy (same run, alternating; medians)")
    print(f"  {'workload':44} | {'ours':>11} | {'hand NumPy':>11} | ratio | noise | faults/step")
    for name, t_mine, t_hand, ratio, noise, faults in rows:
        print(f"  {name:44} | {format_time(t_mine)} | {format_time(t_hand)} | {ratio:5.2f}x | "
              f"{noise:5.0%} | {faults:8.1f}")
    print(f"  peak memory: {peak_memory_mb():.0f} MiB")
    return rows


if __name__ == "__main__":
    main()
