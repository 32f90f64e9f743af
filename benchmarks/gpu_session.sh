#!/usr/bin/env bash
# One GPU session in one command (the device machine is lent for minutes, not hours):
# what the machine has, the whole test suite on CuPy, then every GPU benchmark and
# PyTorch's eager time for the same MLP step, then the CPU suites on this machine's
# quiet cores (one BLAS thread). Logs go to $OUT (or ./gpu-logs).
# Run from the repository root on a machine with an NVIDIA GPU, CuPy and pytest.
set -uo pipefail
out="${OUT:-gpu-logs}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    python3 -c 'import sys, numpy, cupy; print(sys.version.split()[0], "numpy", numpy.__version__,
"cupy", cupy.__version__)'
    python3 -c 'import torch; print("torch", torch.__version__)' || echo "no torch"
} 2>&1 | tee "$out/machine.txt"
# The suite: every device-parametrised test on 'cpu' and 'cuda'.
timeout "${SUITE_SECONDS:-300}" python3 -m pytest --device cuda -n 8 -q -p no:cacheprovider \
    -o addopts="" 2>&1 | tee "$out/suite.txt" | tail -40
echo "suite exit: ${PIPESTATUS[0]}" | tee -a "$out/suite.txt"
# The benchmarks: ours on CuPy against hand-written CuPy, then PyTorch eager.
timeout "${BENCH_SECONDS:-180}" python3 -m tinygrad_opt bench --only gpu 2>&1 | tee "$out/bench.txt"
timeout 120 python3 benchmarks/external/torch_mlp.py 2>&1 | tee "$out/torch.txt"
# What a Python number costs as a 0-d device array: copied from the host (asarray, what
# ops/shape.py: as_operand does) or written by a fill kernel (full). On the H200 of
# 2026-12-04 the copy was the cheaper: 14.5 against 18.4 us.
python3 - <<'PY' 2>&1 | tee "$out/scalar.txt"
import time, cupy
for name, make in (("asarray", lambda: cupy.asarray(0.999, dtype=cupy.float32)),
                   ("full", lambda: cupy.full((), 0.999, dtype=cupy.float32))):
    for _ in range(100):
        make()
    cupy.cuda.Device().synchronize()
    start = time.perf_counter()
    for _ in range(2000):
        make()
    cupy.cuda.Device().synchronize()
    print(f"{name}: {(time.perf_counter() - start) / 2000 * 1e6:.2f} us per 0-d constant")
PY
OPENBLAS_NUM_THREADS=1 TINYGRAD_OPT_BENCH_CLOCK=thread timeout "${CPU_SECONDS:-240}" \
    python3 -m tinygrad_opt bench --only ops --only mlp --only profile 2>&1 | tee "$out/cpu.txt"
