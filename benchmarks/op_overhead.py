"""Per-op overhead: a chain of small elementwise ops, forward plus backward.

A chain of 1,000 elementwise ops (cycling mul, add, tanh, sub) on an (8,)
tensor (100 ops on the large tensor: backward must keep every intermediate,
400 MiB for 100 ops) measures the framework's fixed cost per op: Tensor and Function objects,
graph recording, the backward loop. The reference is the same chain written by
hand in NumPy, forward and backward (the backward keeps the tanh outputs and
multiplies the gradient by 0.999 and by 1 − y²; add and sub pass it through),
timed alternately with ours in the same run. On a (1024, 1024) tensor the
arithmetic dominates and the ratio shows what the framework's backward does
beyond the hand-written one (it also keeps, and frees, every intermediate).
"""

from __future__ import annotations

import numpy as np

import tinygrad_opt as tg
from .common import compare, format_time

CHAIN = 1000


def chain_of(y, length):
    """The chain's ops on ``y``, mul, add, tanh, sub, over and over (``length`` ops in
    all): the same text runs on our Tensors and on the floor's (benchmarks/floor.py)."""
    for _ in range(length // 4):
        y = y * 0.999
        y = y + 0.001
        y = y.tanh()
        y = y - 0.001
    return y


def ours(shape, device="cpu", chain=CHAIN):
    x = tg.rand(*shape, device=device, requires_grad=True)

    def run():
        chain_of(x, chain).sum().backward()
        x.grad = None
    return run


def numpy_reference(shape, chain=CHAIN):
    x = np.random.default_rng(0).random(shape, dtype=np.float32)

    def run():
        y = x
        tanh_outputs = []
        for i in range(chain // 4):
            y = y * 0.999
            y = y + 0.001
            y = np.tanh(y)
            tanh_outputs.append(y)
            y = y - 0.001
        grad = np.ones_like(y)                       # d sum(y) / dy
        for y in reversed(tanh_outputs):
            grad = grad * (1 - y * y)                # tanh' = 1 − y²
            grad = grad * 0.999                      # (y · 0.999)' = 0.999
        return grad
    return run


def main(quick: bool = False):
    rows = []
    for shape, chain, repeats in (((8,), CHAIN, 15), ((1024, 1024), CHAIN // 10, 5)):
        repeats = max(3, repeats // (3 if quick else 1))
        mine, reference, ratio, noise = compare(ours(shape, chain=chain),
                                                numpy_reference(shape, chain),
                                                repeats=repeats, warmup=1)
        rows.append((shape, mine / chain, reference / chain, ratio, noise))
    print("\nPer-op overhead: a chain of elementwise ops, forward + backward, "
          "ours vs NumPy by hand")
    print(f"  {'shape':>12} | {'ours/op':>11} | {'numpy/op':>11} | ratio | noise")
    for shape, mine, reference, ratio, noise in rows:
        print(f"  {str(shape):>12} | {format_time(mine)} | {format_time(reference)} | "
              f"{ratio:5.2f}x | {noise:.0%}")
    return rows


if __name__ == "__main__":
    main()
