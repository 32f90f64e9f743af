"""examples/data_parallel.py (issue 19) runs end to end (``--quick``: 1 and 2 processes,
one epoch) and its table shows what docs/experiments.md reports in section 19.

It runs as a subprocess, the way a user runs it, and launches ``mpirun`` itself (once per
session, shared with the snapshot test: tests/examples_runner.py); it is skipped only
when the ``distributed`` extra (mpi4py, mpich) is not installed. Timings
on a shared 2-core machine are noise, so only the structure and the accuracies are
asserted.
"""

import importlib.util
import re

import pytest

from examples_runner import HAVE_MATPLOTLIB, output_of, quick_run

PLOT_HINT = "matplotlib is not installed: pip install 'tinygrad_opt[plot]'"


@pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                    reason="the distributed extra (mpi4py, mpich) is not installed: "
                    "pip install 'tinygrad_opt[distributed]'")
def test_data_parallel():
    output = output_of("data_parallel")      # --quick --seed 0 --device cpu --plot DIR
    plots = quick_run("data_parallel").plots
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("processes"))
    rows = {line.split()[0]: line.split()[1:] for line in lines[header + 2:header + 4]}
    assert set(rows) == {"1", "2"}
    assert rows["1"][0] == "64" and rows["2"][0] == "32"           # batch per process
    assert rows["1"][1] == rows["2"][1] == "23"                    # 1438 digits / 64: same steps
    accuracy_1, accuracy_2 = float(rows["1"][-1]), float(rows["2"][-1])
    assert accuracy_1 > 60 and abs(accuracy_1 - accuracy_2) <= 1.0  # the same training
    timings = [line for line in lines if line.startswith("wall time, ")]
    assert len(timings) == 2 and "(speed-up 1.00)" in timings[0]
    for line in timings:                       # steps/s, compute and all-reduce are measured
        numbers = [float(number) for number in re.findall(r"\d+\.?\d*", line)]
        assert len(numbers) == 5 and numbers[1] > 0 and numbers[3] > 0, line
    if HAVE_MATPLOTLIB:
        png = plots / "data_parallel.png"
        assert png.exists() and png.stat().st_size > 1000
        assert PLOT_HINT not in output
    else:
        assert PLOT_HINT in output
