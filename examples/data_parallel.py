"""Experiment 19: data-parallel training over MPI on the digits.

Claim: data-parallel SGD is ordinary mini-batch SGD. P processes that each take
B/P examples of a batch and average their gradients with one all-reduce make the
same step as one process with batch B, so they train the same model; they are
faster only when the computation they split outweighs the all-reduce they add.

The script runs itself under ``mpirun -n P`` for each number of processes P (the
``mpirun`` of the ``distributed`` extra's mpich wheel, beside this Python). Every
run trains the same MLP 64-256-256-10 with SGD + momentum and the same global
batch of 64 (64/P examples per process and step), from the same seed, on the
same batches. Each rank times its steps after the first (a warm-up): *compute* is
forward, backward and the update; *all-reduce* is ``distributed.all_reduce_gradients``,
which includes waiting for the slowest rank. Each process uses one thread.

    python examples/data_parallel.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

import tinygrad_opt as tg
from tinygrad_opt import distributed as dist
from tinygrad_opt import nn, optim, viz
from tinygrad_opt.data import DataLoader, TensorDataset, standardize
from tinygrad_opt.datasets import load_digits
from tinygrad_opt.diagnostics import format_table
from tinygrad_opt.train import evaluate

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="data-parallel training over MPI")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="1 and 2 processes, 1 epoch")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNG")
parser.add_argument("--rank-run", action="store_true",
                    help="internal: this process is one rank of an mpirun job")
args = parser.parse_args()

PROCESSES = (1, 2) if args.quick else (1, 2, 4)
EPOCHS = 1 if args.quick else 10
GLOBAL_BATCH = 64                      # examples per step, over all processes
HIDDEN = 256
LR, MOMENTUM = 0.02, 0.9


def run_rank():
    """One rank: its shard of the digits, the training loop with timers, a JSON report."""
    rank, world_size = dist.init()

    # --- data: the same split and standardization on every rank ----------------------------
    X, y = load_digits()
    order = np.random.default_rng(0).permutation(len(y))
    test_index, train_index = order[:len(y) // 5], order[len(y) // 5:]
    X_train, X_test, _ = standardize(X[train_index], X[test_index])
    train = TensorDataset(X_train, y[train_index])
    sampler = dist.DistributedSampler(train, seed=args.seed)     # this rank's shard per epoch
    loader = DataLoader(train, batch_size=GLOBAL_BATCH // world_size, sampler=sampler,
                        device=args.device)
    test_loader = DataLoader(TensorDataset(X_test, y[test_index]), batch_size=1024,
                             device=args.device)

    # --- model: the same initial weights on every rank (rank 0's) --------------------------
    tg.manual_seed(args.seed)
    model = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN),
                          nn.ReLU(), nn.Linear(HIDDEN, 10)).to(args.device)
    dist.broadcast_parameters(model)
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()

    # --- loop: backprop plus one collective per step ---------------------------------------
    compute_seconds = reduce_seconds = 0.0
    steps = 0
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)     # a new permutation per epoch (else the same one again)
        for x, target in loader:
            if steps == 1:           # step 0 warms up (Numba loads its kernels): not timed
                dist.all_gather(None)                            # start the clocks together
                start = time.perf_counter()
            began = time.perf_counter()
            optimizer.zero_grad()
            loss = loss_fn(model(x), target)
            loss.backward()
            backward_done = time.perf_counter()
            dist.all_reduce_gradients(model)                     # g = Σ_r g_r / P
            reduced = time.perf_counter()
            optimizer.step()
            if steps >= 1:
                compute_seconds += (backward_done - began) + (time.perf_counter() - reduced)
                reduce_seconds += reduced - backward_done
            steps += 1
    seconds = time.perf_counter() - start
    timed = steps - 1

    # --- results: rank 0 reports the means over the ranks -----------------------------------
    accuracy = evaluate(model, test_loader, metrics=("accuracy",))["accuracy"]
    reports = dist.all_gather({"compute": compute_seconds, "reduce": reduce_seconds})
    if rank == 0:
        print("RESULT " + json.dumps({
            "processes": world_size, "steps": steps, "steps_per_second": timed / seconds,
            "compute_ms": 1000 * np.mean([r["compute"] for r in reports]) / timed,
            "reduce_ms": 1000 * np.mean([r["reduce"] for r in reports]) / timed,
            "accuracy": accuracy}), flush=True)


def run_all():
    """Run this script under mpirun for each number of processes; print the table."""
    mpirun = dist.find_mpirun()
    env = dist.launch_environment()  # one thread per process: P processes, P cores
    results = []
    for processes in PROCESSES:
        command = [mpirun, "-n", str(processes), sys.executable, os.path.abspath(__file__),
                   "--rank-run", "--seed", str(args.seed), "--device", args.device]
        if args.quick:
            command.append("--quick")
        run = subprocess.run(command, capture_output=True, text=True, env=env)
        if run.returncode != 0:
            sys.exit(f"mpirun -n {processes} failed:\n{run.stdout}{run.stderr}")
        line = next(line for line in run.stdout.splitlines() if line.startswith("RESULT "))
        results.append(json.loads(line[len("RESULT "):]))

    print(f"Data-parallel SGD on the digits: MLP 64-{HIDDEN}-{HIDDEN}-10, global batch "
          f"{GLOBAL_BATCH}, {EPOCHS} epoch{'s' if EPOCHS > 1 else ''}, seed {args.seed}, "
          f"{args.device}")
    rows = [[str(r["processes"]), str(GLOBAL_BATCH // r["processes"]), str(r["steps"]),
             f"{100 * r['accuracy']:.2f}"] for r in results]
    print(format_table(["processes", "batch per process", "steps", "test acc %"], rows))
    # timings differ from run to run: they go on lines of their own, starting "wall time"
    print(f"wall time on {os.cpu_count()} CPU cores (steps after the first; compute and "
          "all-reduce: means over the ranks)")
    base = results[0]["steps_per_second"]
    for r in results:
        name = f"{r['processes']} process{'es' if r['processes'] > 1 else ''}:"
        print(f"wall time, {name:<12} {r['steps_per_second']:6.1f} steps/s (speed-up "
              f"{r['steps_per_second'] / base:.2f}); per step: compute {r['compute_ms']:.2f} "
              f"ms, all-reduce {r['reduce_ms']:.2f} ms")
    if viz.matplotlib_available():
        os.makedirs(args.plot, exist_ok=True)
        bars = {"compute": {f"{r['processes']} proc": r["compute_ms"] for r in results},
                "all-reduce": {f"{r['processes']} proc": r["reduce_ms"] for r in results}}
        print("wrote " + viz.plot_bars(bars, os.path.join(args.plot, "data_parallel.png"),
                                       ylabel="ms per step (mean over ranks)",
                                       title="data-parallel SGD: where a step's time goes"))
    else:
        print(viz.PLOT_HINT)


if args.rank_run:
    run_rank()
else:
    run_all()
