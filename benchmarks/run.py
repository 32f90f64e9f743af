"""``tinygrad-opt bench``: every benchmark, each a ratio to NumPy measured in the same run."""

from __future__ import annotations

import os
import platform


def main(quick: bool = False, only=None) -> None:
    from . import adam_step, floor, fused_cpu, gpu, mlp_step, op_overhead, step_profile
    print(f"tinygrad_opt benchmarks on {platform.machine()}, {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}; medians over repeats, 'noise' is the median "
          "absolute deviation over the median (timings on a shared machine vary)")
    suites = {"ops": lambda: op_overhead.main(quick=quick),
              "mlp": lambda: mlp_step.main(quick=quick),
              "adam": lambda: adam_step.main(quick=quick),
              "fused": lambda: fused_cpu.main(quick=quick),
              "profile": lambda: step_profile.main(quick=quick),
              "floor": lambda: floor.main(quick=quick),
              "gpu": lambda: gpu.main(quick=quick)}
    for name, suite in suites.items():
        if (only is None and name not in ("gpu", "floor")) or (only is not None and name in only):
            suite()


if __name__ == "__main__":
    main()
