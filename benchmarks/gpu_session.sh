#!/usr/bin/env bash
# One GPU session in one command (the device machine is lent for minutes, not hours):
# what the machine has, the whole test suite on CuPy, then every GPU benchmark and
# PyTorch's eager time for the same MLP step. Logs go to $OUT (or ./gpu-logs).
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
