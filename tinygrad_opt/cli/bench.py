"""``tinygrad-opt bench``: time the framework against hand-written NumPy (ratios, same run).

The suites live in benchmarks/ (installed as ``tinygrad_opt.benchmarks``); docs/benchmarks.md
explains what they measure.
"""

from __future__ import annotations


def add_bench_command(subparsers) -> None:
    bench = subparsers.add_parser(
        "bench", help="time the framework against hand-written NumPy (ratios, same run)")
    bench.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    suites = ("ops", "mlp", "cnn", "adam", "fused", "profile", "floor", "gpu")
    bench.add_argument("--only", choices=suites, action="append",
                       help="run only these suites (repeatable); 'fused' times the compiled CPU "
                       "optimizer kernels (needs Numba); 'profile' shows where a small step's "
                       "time goes; 'floor' times a minimal framework with the same guarantees "
                       "(not run by default); 'gpu' needs CuPy and a GPU")
    bench.set_defaults(run=run_bench)


def run_bench(args) -> int:
    try:
        from tinygrad_opt.benchmarks import run  # benchmarks/, installed with the package
    except ModuleNotFoundError:  # a legacy editable install: use the checkout's folder
        from benchmarks import run
    run.main(quick=args.quick, only=args.only)
    return 0
