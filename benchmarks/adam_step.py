"""Adam step time against hand-written NumPy and the memory-traffic floor.

An Adam step is memory bound: per parameter it must read θ, g, m, v and write
θ, m, v, seven float32 values = 28 bytes. The floor is the time to move those
bytes at the speed this machine copies a large array (``copyto``, timed in the
same run, as bytes read + bytes written per second).

The reference (issue 8) is Adam written by hand in NumPy in one pass over the
whole arrays with a preallocated buffer and ``out=``, so it allocates nothing;
it is timed alternately with ours. Ours runs the readable rule over 96 KiB
chunks (``optim/fused.py: update_in_chunks``; ``fused=False``, the readable rule,
which the compiled kernels of benchmarks/fused_cpu.py replace by default when
Numba is installed): its temporaries stay in cache and come from the heap, not
from fresh pages (the ``faults/step`` column). Cases:
one tensor of 10 million parameters, and 100 tensors of 100,000 (the same
bytes, plus per-tensor Python overhead), with the readable rule; and the one tensor
with the default update, what ``optim.Adam(params)`` runs: the compiled kernel with
the ``fast`` extra, and the NumPy twin of optim/fused_numpy.py without it (the row
"no Numba"), both timed by the wall clock as their threads work on every core.

Run: ``python -m benchmarks.adam_step [--device cpu|cuda] [--repeats 7]``.
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_opt as tg
from .common import compare, measure, minor_faults_per_call
from tinygrad_opt import backend, optim
from tinygrad_opt.optim import fused as fused_twins

TOTAL = 10_000_000
BYTES_PER_PARAMETER = 28  # read θ, g, m, v; write θ, m, v: 7 × 4 bytes of float32


def _synchronize(device: str) -> None:
    if device == "cuda":
        backend.get_xp("cuda").cuda.Device().synchronize()


def _median_seconds(function, device: str, repeats: int) -> float:
    """Median seconds of ``function`` (the first calls warm up: state, kernels)."""
    def run():
        function()
        _synchronize(device)
    seconds, _ = measure(run, repeats=repeats, warmup=2)
    return seconds


def copy_bandwidth(device: str, repeats: int) -> float:
    """Bytes per second of a large float32 array copy (read + write)."""
    xp = backend.get_xp(device)
    source = backend.to_device(np.ones(TOTAL, dtype=np.float32), device)
    target = xp.empty_like(source)
    seconds = _median_seconds(lambda: xp.copyto(target, source), device, repeats)
    return 2 * source.nbytes / seconds


class HandAdam:
    """Adam over whole arrays, by hand: one buffer, ``out=``, no allocation per step."""

    def __init__(self, theta, g, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        xp = backend.xp_of(theta)
        self.theta, self.g, self.xp = theta, g, xp
        self.m, self.v = xp.zeros_like(theta), xp.zeros_like(theta)
        self.buffer = xp.empty_like(theta)
        self.lr, self.beta1, self.beta2, self.eps, self.t = lr, beta1, beta2, eps, 0

    def step(self):
        xp, g, m, v, buffer = self.xp, self.g, self.m, self.v, self.buffer
        self.t += 1
        m *= self.beta1
        xp.multiply(g, 1 - self.beta1, out=buffer)
        m += buffer
        v *= self.beta2
        xp.multiply(g, g, out=buffer)
        buffer *= 1 - self.beta2
        v += buffer
        xp.sqrt(v, out=buffer)
        buffer /= (1 - self.beta2 ** self.t) ** 0.5
        buffer += self.eps
        xp.divide(m, buffer, out=buffer)
        buffer *= self.lr / (1 - self.beta1 ** self.t)
        self.theta -= buffer


def adam_step(shapes, device: str, fused: bool | None = False, numba: bool = True):
    """One step of our Adam over parameters of the given shapes, as a function: by default
    the readable rule (in chunks); ``fused=None``, what ``optim.Adam(params)`` runs, and
    with ``numba=False`` what it runs without the ``fast`` extra (the NumPy twin)."""
    params = []
    for shape in shapes:
        p = tg.tensor(np.zeros(shape, dtype=np.float32), device=device, requires_grad=True)
        p.grad = tg.randn(*shape, dtype=np.float32, device=device)
        params.append(p)
    optimizer = optim.Adam(params, lr=1e-3, fused=fused)

    def step():
        use_numba, fused_twins.USE_NUMBA = fused_twins.USE_NUMBA, numba
        try:
            optimizer.step()
        finally:
            fused_twins.USE_NUMBA = use_numba
        _synchronize(device)
    return step


def main(quick: bool = False, device: str = "cpu", repeats: int | None = None) -> list[dict]:
    """Run the benchmark, print a table, and return its rows (``quick``: 3 repeats)."""
    device = backend.check_device(device)
    repeats = repeats or (3 if quick else 7)

    bandwidth = copy_bandwidth(device, repeats)
    floor = TOTAL * BYTES_PER_PARAMETER / bandwidth
    theta = backend.to_device(np.zeros(TOTAL, dtype=np.float32), device)
    hand = HandAdam(theta, backend.to_device(np.ones(TOTAL, dtype=np.float32), device))

    def hand_step():
        hand.step()
        _synchronize(device)
    rows = []
    # the readable rule over 1 x 10M and 100 x 100k; then the default update over 1 x 10M,
    # the compiled twin where Numba is installed, and the NumPy twin without it (both by
    # the wall clock: their work runs on every core)
    cases = [("1 x 10M", [(TOTAL,)], False, True),
             ("100 x 100k", [(TOTAL // 100,)] * 100, False, True),
             ("1 x 10M, default", [(TOTAL,)], None, True)]
    if device == "cpu":
        cases.append(("1 x 10M, no Numba", [(TOTAL,)], None, False))
    for label, shapes, fused, numba in cases:
        ours = adam_step(shapes, device, fused, numba)
        seconds, reference, ratio, noise = compare(ours, hand_step, repeats=repeats, warmup=2,
                                                   wall=fused is None)
        rows.append({"case": label, "ms": seconds * 1e3, "hand_ms": reference * 1e3,
                     "ratio": ratio, "noise": noise, "floor_ms": floor * 1e3,
                     "x_floor": seconds / floor,
                     "page_faults": minor_faults_per_call(ours, calls=3)})

    print(f"\nAdam step, {TOTAL:,} float32 parameters on {device}; 'hand' = NumPy by hand, one "
          f"pass, out= buffers; copy bandwidth {bandwidth / 1e9:.1f} GB/s, floor = "
          f"{BYTES_PER_PARAMETER} B/param = {floor * 1e3:.2f} ms (medians of {repeats})")
    print(f"  {'case':<17} {'ours ms':>9} {'hand ms':>9} {'ratio':>6} {'noise':>6} "
          f"{'x floor':>8} {'faults/step':>12}")
    for row in rows:
        print(f"  {row['case']:<17} {row['ms']:>9.2f} {row['hand_ms']:>9.2f} "
              f"{row['ratio']:>5.2f}x {row['noise']:>6.0%} {row['x_floor']:>8.1f} "
              f"{row['page_faults']:>12.0f}")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    main(quick=args.quick, device=args.device, repeats=args.repeats)
