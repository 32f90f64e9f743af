"""The compiled CPU optimizer kernels (optim/fused_cpu.py) against the memory floor and NumPy.

An Adam step must read θ, g, m, v and write θ, m, v: 28 bytes per float32
parameter. The floor is the time to move those bytes at the speed this machine
runs ``a += b`` over 10M float32 (12 bytes per element: read a and b, write a),
timed in the same run, pair by pair with each step: ``x floor`` = (step time /
``a += b`` time) x 12/28, the median of the pairs. Both the floor and NumPy's
reference run on one core; the compiled kernels use all of them for groups of
a million parameters or more (Numba's threads), so a ratio under 1 is possible.

Rows (issue 21; targets reported, not asserted): Adam over one tensor of 10M
(target <= 1.5x the floor) and over 100 tensors of 100k (<= 2x), each also with
the readable rule (fused=False) for contrast; one training step of the MLP
784-512-512-10 at batch 128 with Adam against the hand-written NumPy step of
benchmarks/mlp_step.py (<= 1.0x). The first step's cost is measured in fresh
processes: with an empty Numba cache (the kernel compiles), with the cache
this checkout has (the kernel loads from disk), and with the readable rule.

Time with the wall clock (the default): TINYGRAD_OPT_BENCH_CLOCK=thread would
leave out the work of Numba's other threads.

Run: ``python -m benchmarks.fused_cpu [--quick]`` or ``tinygrad-opt bench --only fused``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

import tinygrad_opt as tg
from .common import compare
from .mlp_step import HandMLP, ours as mlp_step
from tinygrad_opt import optim
from tinygrad_opt.optim import fused

TOTAL = 10_000_000
ADAM_BYTES, ADD_BYTES = 28, 12  # per parameter: Adam reads 4 arrays, writes 3; a += b: 2 and 1

FIRST_STEP = """
import time
start = time.perf_counter()
import numpy as np, tinygrad_opt as tg
from tinygrad_opt import optim
p = tg.zeros(1000, requires_grad=True)
p.grad = tg.ones(1000)
optim.Adam([p], fused={fused}).step()
print(time.perf_counter() - start)
"""


def adam_step(shapes, fused_option):
    """One Adam step over float32 parameters of the given shapes, as a function."""
    params = []
    for shape in shapes:
        p = tg.zeros(*shape, requires_grad=True)
        p.grad = tg.randn(*shape)
        params.append(p)
    return optim.Adam(params, lr=1e-3, fused=fused_option).step


def first_step_seconds(cache_dir: str | None, fused_option: bool = True) -> float:
    """Seconds from a fresh interpreter to the end of its first Adam step (imports
    included); ``cache_dir``: a Numba cache folder to use instead of the usual one."""
    environment = dict(os.environ)
    if cache_dir is not None:
        environment["NUMBA_CACHE_DIR"] = cache_dir
    script = FIRST_STEP.format(fused=fused_option)
    output = subprocess.run([sys.executable, "-c", script], env=environment, check=True,
                            capture_output=True, text=True).stdout
    return float(output.split()[-1])


def main(quick: bool = False, repeats: int | None = None) -> list[dict]:
    """Run the benchmark, print a table, and return its rows (``quick``: 5 repeats)."""
    if fused.compiled_cpu() is None:
        print('\nCompiled CPU optimizer kernels: Numba is not installed '
              '(pip install "tinygrad_opt[fast]"); skipped')
        return []
    import numba
    repeats = repeats or (5 if quick else 15)
    a, b = np.ones(TOTAL, dtype=np.float32), np.ones(TOTAL, dtype=np.float32)

    def add():
        a.__iadd__(b)

    rows = []
    for label, shapes in [("1 x 10M", [(TOTAL,)]), ("100 x 100k", [(TOTAL // 100,)] * 100)]:
        for fused_option, rule in [(True, "compiled"), (False, "readable")]:
            step = adam_step(shapes, fused_option)
            seconds, add_seconds, ratio, noise = compare(step, add, repeats=repeats, warmup=2)
            rows.append({"workload": f"Adam step, {label} float32, {rule}", "ms": seconds * 1e3,
                         "reference": f"floor {add_seconds * ADAM_BYTES / ADD_BYTES * 1e3:.2f} ms",
                         "ratio": ratio * ADD_BYTES / ADAM_BYTES, "noise": noise,
                         "unit": "x floor"})

    sizes, batch = (784, 512, 512, 10), 128
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    hand = HandMLP(sizes, batch, "adam")
    for fused_option, rule in [(None, "compiled (default)"), (False, "readable")]:
        step = mlp_step(sizes, batch, "adam", x, y, fused=fused_option)
        seconds, hand_seconds, ratio, noise = compare(step, lambda: hand.step(x, y),
                                                      repeats=repeats, warmup=2)
        rows.append({"workload": f"MLP 784-512-512-10, batch 128, Adam step, {rule}",
                     "ms": seconds * 1e3, "reference": f"hand {hand_seconds * 1e3:.2f} ms",
                     "ratio": ratio, "noise": noise, "unit": "x hand"})

    with tempfile.TemporaryDirectory() as empty_cache:
        cold = first_step_seconds(empty_cache)
    warm = first_step_seconds(None)
    readable = first_step_seconds(None, fused_option=False)

    print(f"\nCompiled CPU optimizer kernels (Numba {numba.__version__}, "
          f"{numba.get_num_threads()} threads, layer {numba.threading_layer()}): paired medians "
          f"of {repeats}; floor = {ADAM_BYTES} B/param at the speed of `a += b` (one core)")
    print(f"  {'workload':61} {'ms':>8}  {'reference':>18} {'ratio':>12} {'noise':>6}")
    for row in rows:
        print(f"  {row['workload']:61} {row['ms']:8.2f}  {row['reference']:>18} "
              f"{row['ratio']:5.2f} {row['unit']:<6} {row['noise']:6.0%}")
    print(f"  first Adam step of a fresh process, imports included: compiled {cold:.1f} s "
          f"with an empty Numba cache, {warm:.1f} s from the disk cache; readable {readable:.1f} s")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    main(quick=args.quick, repeats=args.repeats)
