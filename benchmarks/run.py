"""``tinygrad-opt bench``: every benchmark, each a ratio to NumPy measured in the same run.

After the suites, a summary holds each speed target of Core 2.0 (issue 15) against the
ratio this run measured: ``targets`` reads the rows the suites return.
"""

from __future__ import annotations

import os
import platform

# (name, suite, how to find its ratio in the suite's rows, the target ratio)
TARGETS = [
    ("per-op chain on (8,), fwd + bwd", "ops",
     lambda rows: next(row[3] for row in rows if row[0] == (8,)), 4.0),
    ("MLP 64-64-10, batch 32, SGD step", "mlp",
     lambda rows: next(row[3] for row in rows if row[0] == "MLP 64-64-10, batch 32, sgd"), 2.0),
    ("MLP 784-512-512-10, batch 128, SGD step", "mlp",
     lambda rows: next(row[3] for row in rows if row[0].endswith("batch 128, sgd")), 1.15),
    ("MLP 784-512-512-10, batch 128, Adam step", "mlp",
     lambda rows: next(row[3] for row in rows if row[0].endswith("batch 128, adam")), 1.15),
    ("Adam over 10M parameters (one-pass hand Adam)", "adam",
     lambda rows: next(row["ratio"] for row in rows if row["case"] == "1 x 10M, default"), 0.8),
]
# printed under the summary: the default without Numba (the NumPy twin) and the readable rule
OTHER_ADAM = [("without Numba (the NumPy twin)", "1 x 10M, no Numba"),
              ("the readable Adam rule over 10M (fused=False)", "1 x 10M")]
# the floor's rows (benchmarks/floor.py) for the two small targets: what a minimal
# framework with the same guarantees reaches on this machine
FLOOR_ROWS = {"per-op chain on (8,), fwd + bwd": 0, "MLP 64-64-10, batch 32, SGD step": 1}


def targets(results: dict) -> list:
    """(name, measured ratio, target, floor ratio or None) for each target measured in
    this run (the floor suite measures ours on the two small targets too)."""
    summary = []
    floor_rows = results.get("floor")
    for name, suite, ratio_of, target in TARGETS:
        row = floor_rows[FLOOR_ROWS[name]] if floor_rows and name in FLOOR_ROWS else None
        if suite in results:
            summary.append((name, ratio_of(results[suite]), target, row and row[3]))
        elif row is not None:
            summary.append((name, row[1], target, row[3]))
    return summary


def print_targets(summary: list, results: dict) -> None:
    print("\nCore 2.0 speed targets (issue 15): ratios to hand-written NumPy in this run")
    print(f"  {'target':46} | ratio  | target   | met | floor (benchmarks/floor.py)")
    for name, ratio, target, floor in summary:
        floor_text = "" if floor is None else f"{floor:.2f}x"
        met = "yes" if ratio <= target else "no"
        print(f"  {name:46} | {ratio:5.2f}x | <= {target:4.2f}x | {met:3} | {floor_text}")
    if "adam" in results:
        from tinygrad_opt.optim import fused
        ratios = {row["case"]: row["ratio"] for row in results["adam"]}
        default = "the compiled twin" if fused.compiled_cpu() else "the NumPy twin (no Numba)"
        others = "; ".join(f"{name}: {ratios[case]:.2f}x" for name, case in OTHER_ADAM
                           if case in ratios)
        print(f"  (Adam's default update is {default}; {others})")


def main(quick: bool = False, only=None) -> dict:
    """Run the suites (all but 'gpu' and 'floor' by default, or those in ``only``), then
    the targets' summary; returns each suite's rows by name."""
    from . import adam_step, cnn_step, floor, fused_cpu, gpu, mlp_step, op_overhead, step_profile
    print(f"tinygrad_opt benchmarks on {platform.machine()}, {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}; medians over repeats, 'noise' is the median "
          "absolute deviation over the median (timings on a shared machine vary)")
    suites = {"ops": lambda: op_overhead.main(quick=quick),
              "mlp": lambda: mlp_step.main(quick=quick),
              "cnn": lambda: cnn_step.main(quick=quick),
              "adam": lambda: adam_step.main(quick=quick),
              "fused": lambda: fused_cpu.main(quick=quick),
              "profile": lambda: step_profile.main(quick=quick),
              "floor": lambda: floor.main(quick=quick),
              "gpu": lambda: gpu.main(quick=quick)}
    results = {}
    for name, suite in suites.items():
        if (only is None and name not in ("gpu", "floor")) or (only is not None and name in only):
            results[name] = suite()
    summary = targets(results)
    if summary:
        print_targets(summary, results)
    return results


if __name__ == "__main__":
    main()
