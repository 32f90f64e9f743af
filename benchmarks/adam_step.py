"""Adam step time against the memory-traffic floor.

An Adam step is memory bound: per parameter it must read θ, g, m, v and write
θ, m, v, seven float32 values = 28 bytes. The floor is the time to move those
bytes at the speed this machine copies a large array (``copyto``, timed in the
same run, as bytes read + bytes written per second). The ratio says how many
times slower than that floor our step runs: one tensor of 10 million
parameters, and 100 tensors of 100,000 (the same bytes, plus per-tensor
Python overhead).

Most of the gap on the CPU is not arithmetic but fresh memory: each NumPy
temporary of a large array is a new allocation that the kernel maps page by
page (the ``faults/step`` column). With glibc told to keep freed memory
(``MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000``) the
same code runs about 2x (one tensor) to 4x (100 tensors) faster here. On the
GPU, CuPy's memory pool reuses blocks, so there is no such cost; there one
10M tensor runs near the floor while 100 small tensors are bound by the ~15
kernel launches (and the Python) per tensor of a step.

Run: ``python -m benchmarks.adam_step [--device cpu|cuda] [--repeats 7]``.
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_opt as tg
from .common import measure, minor_faults_per_call
from tinygrad_opt import backend, optim

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


def adam_step_seconds(shapes, device: str, repeats: int) -> tuple[float, float]:
    """Median time of one Adam step over parameters of the given shapes, and the
    minor page faults per step (fresh memory for NumPy's temporaries)."""
    params = []
    for shape in shapes:
        p = tg.tensor(np.zeros(shape, dtype=np.float32), device=device, requires_grad=True)
        p.grad = tg.randn(*shape, dtype=np.float32, device=device)
        params.append(p)
    optimizer = optim.Adam(params, lr=1e-3)
    seconds = _median_seconds(optimizer.step, device, repeats)
    return seconds, minor_faults_per_call(optimizer.step, calls=3)


def main(quick: bool = False, device: str = "cpu", repeats: int | None = None) -> list[dict]:
    """Run the benchmark, print a table, and return its rows (``quick``: 3 repeats)."""
    device = backend.check_device(device)
    repeats = repeats or (3 if quick else 7)

    bandwidth = copy_bandwidth(device, repeats)
    floor = TOTAL * BYTES_PER_PARAMETER / bandwidth
    rows = []
    for label, shapes in [("1 x 10M", [(TOTAL,)]), ("100 x 100k", [(TOTAL // 100,)] * 100)]:
        seconds, faults = adam_step_seconds(shapes, device, repeats)
        rows.append({"case": label, "ms": seconds * 1e3, "floor_ms": floor * 1e3,
                     "ratio": seconds / floor, "page_faults": faults})

    print(f"\nAdam step, {TOTAL:,} float32 parameters on {device}; copy bandwidth "
          f"{bandwidth / 1e9:.1f} GB/s; floor = {BYTES_PER_PARAMETER} B/param = "
          f"{floor * 1e3:.2f} ms (medians of {repeats})")
    print(f"  {'case':<12} {'step ms':>9} {'floor ms':>9} {'x floor':>8} {'faults/step':>12}")
    for row in rows:
        print(f"  {row['case']:<12} {row['ms']:>9.2f} {row['floor_ms']:>9.2f} "
              f"{row['ratio']:>8.1f} {row['page_faults']:>12.0f}")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    main(quick=args.quick, device=args.device, repeats=args.repeats)
