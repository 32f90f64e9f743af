"""Timing helpers shared by the benchmarks: medians, noise, page faults, peak memory."""

from __future__ import annotations

import gc
import resource
import statistics
import time


def measure(function, repeats: int = 20, warmup: int = 3, number: int = 1):
    """Median seconds per call of ``function`` over ``repeats`` timings of ``number``
    calls each, and the spread (median absolute deviation / median) as noise."""
    for _ in range(warmup):
        function()
    times = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(number):
                function()
            times.append((time.perf_counter() - start) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    median = statistics.median(times)
    spread = statistics.median(abs(t - median) for t in times) / median if median else 0.0
    return median, spread


def compare(mine, reference, repeats: int = 20, warmup: int = 3, number: int = 1):
    """Time ``mine`` and ``reference`` alternately, pair by pair, so that both see
    the same machine (a shared VM's speed drifts by 20% within seconds).

    Returns (median seconds of mine, median seconds of reference, median of the
    per-pair ratios, noise), noise being the median absolute deviation of the
    ratios over their median."""
    for _ in range(warmup):
        mine()
        reference()
    mine_times, reference_times = [], []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for function, times in ((mine, mine_times), (reference, reference_times)):
                start = time.perf_counter()
                for _ in range(number):
                    function()
                times.append((time.perf_counter() - start) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    ratios = [m / r for m, r in zip(mine_times, reference_times)]
    ratio = statistics.median(ratios)
    noise = statistics.median(abs(q - ratio) for q in ratios) / ratio
    return statistics.median(mine_times), statistics.median(reference_times), ratio, noise


def minor_faults_per_call(function, calls: int = 20) -> float:
    """Minor page faults per call in steady state (after a warm-up call)."""
    function()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        function()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def format_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} us"
    return f"{seconds * 1e3:8.2f} ms"


def print_table(title, rows, header=("workload", "ours", "reference", "ratio", "noise")):
    """Print rows of (name, ours_s, reference_s, extra...) as an aligned table."""
    print(f"\n{title}")
    print("  " + " | ".join(header))
    for row in rows:
        print("  " + " | ".join(str(cell) for cell in row))
