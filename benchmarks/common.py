"""Timing helpers shared by the benchmarks: medians, noise, page faults, peak memory."""

from __future__ import annotations

import gc
import os
import resource
import statistics
import time

# The clock: wall time by default. TINYGRAD_OPT_BENCH_CLOCK=thread times the CPU time
# of this thread instead, which other processes on a busy machine do not inflate
# (set OPENBLAS_NUM_THREADS=1 with it, or BLAS work in other threads goes uncounted).
clock = time.thread_time if os.environ.get("TINYGRAD_OPT_BENCH_CLOCK") == "thread" \
    else time.perf_counter


def timings(functions, repeats: int, warmup: int = 3, number: int = 1, wall: bool = False):
    """Seconds per call of each function, ``repeats`` times, the functions taking
    turns (so that all see the same machine), with the garbage collector off.
    ``wall``: time by the wall clock whatever ``clock`` is (for work on other threads)."""
    timer = time.perf_counter if wall else clock
    for _ in range(warmup):
        for function in functions:
            function()
    times = [[] for _ in functions]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for function, its_times in zip(functions, times):
                start = timer()
                for _ in range(number):
                    function()
                its_times.append((timer() - start) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def _median_and_noise(values):
    """The median, and the median absolute deviation over the median."""
    median = statistics.median(values)
    spread = statistics.median(abs(v - median) for v in values) / median if median else 0.0
    return median, spread


def measure(function, repeats: int = 20, warmup: int = 3, number: int = 1):
    """Median seconds per call of ``function`` over ``repeats`` timings of ``number``
    calls each, and the spread (median absolute deviation / median) as noise."""
    [times] = timings([function], repeats, warmup, number)
    return _median_and_noise(times)


def compare(mine, reference, repeats: int = 20, warmup: int = 3, number: int = 1,
            wall: bool = False):
    """Time ``mine`` and ``reference`` alternately, pair by pair, so that both see
    the same machine (a shared VM's speed drifts by 20% within seconds).

    Returns (median seconds of mine, median seconds of reference, median of the
    per-pair ratios, noise), noise being the median absolute deviation of the
    ratios over their median. ``wall``: as in ``timings``."""
    mine_times, reference_times = timings([mine, reference], repeats, warmup, number, wall)
    ratio, noise = _median_and_noise([m / r for m, r in zip(mine_times, reference_times)])
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


def training_step(model, optimizer, loss_fn, inputs, targets):
    """One training step of ``model`` as a function: zero_grad, forward, loss, backward,
    step; it returns the loss."""
    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss
    return step
