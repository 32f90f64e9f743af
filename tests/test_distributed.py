"""tinygrad_opt.distributed: the sampler's shards, and data-parallel training under mpirun.

The claim: with float64 and the same seed, ``mpirun -n 2`` with ``B`` examples per
rank and step gives the same weights (to 1e-10) as one process with batch ``2B``
over the same examples. The reference below is a plain loop in this process; the
ranks run tests/data_parallel_ranks.py. The MPI tests launch ``mpirun`` themselves
and are skipped only when the ``distributed`` extra (mpi4py) is not installed.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import distributed as dist
from tinygrad_opt import nn
from tinygrad_opt.data import DataLoader, TensorDataset
from tinygrad_opt.train import fit

import data_parallel_ranks as ranks  # tests/ is on sys.path: the ranks' data, model, optimizer

ROOT = pathlib.Path(__file__).resolve().parent.parent
HAVE_MPI = importlib.util.find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="the distributed extra (mpi4py, mpich) is "
                               "not installed: pip install 'tinygrad_opt[distributed]'")


def run_mpi(processes: int, *command, cwd=None) -> subprocess.CompletedProcess:
    """``mpirun -n processes command...``; fails the test with the output on error."""
    env = dist.launch_environment()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run([dist.find_mpirun(), "-n", str(processes), *command],
                            capture_output=True, text=True, env=env, timeout=120, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


# --- the sampler (no MPI needed: rank and world size given) --------------------------------

def shards(n, replicas, **options):
    dataset = list(range(n))
    samplers = [dist.DistributedSampler(dataset, num_replicas=replicas, rank=r, **options)
                for r in range(replicas)]
    return samplers, [list(sampler) for sampler in samplers]


def test_the_shards_interleave_to_the_epochs_permutation():
    samplers, parts = shards(12, 3, seed=5)
    permutation = np.random.default_rng(5 + 0).permutation(12)          # seed + epoch
    assert all(len(part) == len(sampler) == 4 for part, sampler in zip(parts, samplers))
    for r in range(3):
        assert parts[r] == permutation[r::3].tolist()
    # the k-th batches of the ranks together are the k-th batch of one process
    batch = 2
    for k in range(2):
        together = sorted(sum((part[k * batch:(k + 1) * batch] for part in parts), []))
        assert together == sorted(permutation[k * batch * 3:(k + 1) * batch * 3].tolist())


def test_the_epoch_changes_only_by_set_epoch():
    # PyTorch's rule: iterating again repeats the epoch; set_epoch picks the next one
    sampler = dist.DistributedSampler(list(range(10)), num_replicas=2, rank=1, seed=0)
    first, second = list(sampler), list(sampler)
    assert first == second
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    assert second == np.random.default_rng(0 + 1).permutation(10)[1::2].tolist()
    sampler.set_epoch(0)
    assert list(sampler) == first
    ordered = dist.DistributedSampler(list(range(6)), num_replicas=2, rank=0, shuffle=False)
    assert list(ordered) == [0, 2, 4] and list(ordered) == [0, 2, 4]


def test_uneven_data_is_padded_or_dropped_so_every_rank_takes_as_many_steps():
    _, parts = shards(10, 4, shuffle=False)
    assert [len(part) for part in parts] == [3, 3, 3, 3]
    assert sorted(sum(parts, [])) == sorted(list(range(10)) + [0, 1])   # two count twice
    _, parts = shards(10, 4, shuffle=False, drop_last=True)
    assert parts == [[0, 4], [1, 5], [2, 6], [3, 7]]
    _, parts = shards(2, 3, shuffle=False)                                # fewer than ranks
    assert parts == [[0], [1], [0]]


def test_the_sampler_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rank must be an integer in \\[0, 1\\]"):
        dist.DistributedSampler(list(range(4)), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive integer"):
        dist.DistributedSampler(list(range(4)), num_replicas=0, rank=0)
    # fewer examples than ranks with drop_last: no example for anyone (PyTorch's 0), no error
    assert list(dist.DistributedSampler(list(range(2)), num_replicas=3, rank=0,
                                        drop_last=True)) == []


def test_fit_refuses_a_loader_without_a_distributed_sampler(monkeypatch):
    monkeypatch.setattr(dist, "world_size", lambda: 2)   # as if under mpirun -n 2
    loader = DataLoader(TensorDataset(np.zeros((4, 2)), np.zeros(4, dtype=np.int64)),
                        batch_size=2)
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="must draw from a DistributedSampler"):
        fit(model, tg.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), loader,
            progress=False, distributed=True)


def test_the_core_imports_without_the_extra():
    code = ("import sys; sys.modules['mpi4py'] = None; sys.modules['distributed'] = None\n"
            "import tinygrad_opt, tinygrad_opt.distributed as d, tinygrad_opt.train\n"
            "try:\n    d.init()\nexcept RuntimeError as e:\n    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "pip install 'tinygrad_opt[distributed]'" in result.stdout


# --- under mpirun -----------------------------------------------------------------------------

def one_process_with_batch_2b():
    """The reference: one process, batch 2B, the permutation epoch e of the sampler's rule."""
    tg.manual_seed(ranks.SEED)
    model = ranks.make_model()
    optimizer = ranks.make_optimizer(model)
    loss_fn = nn.CrossEntropyLoss()
    X, y = ranks.data()
    batch = 2 * ranks.BATCH_PER_RANK
    losses, accuracies = [], []
    for epoch in range(ranks.EPOCHS):
        order = np.random.default_rng(ranks.SEED + epoch).permutation(ranks.N)
        total, correct = 0.0, 0
        for start in range(0, ranks.N, batch):
            rows = order[start:start + batch]
            optimizer.zero_grad()
            output = model(tg.tensor(X[rows]))
            loss = loss_fn(output, tg.tensor(y[rows]))
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
            correct += int((output.numpy().argmax(axis=1) == y[rows]).sum())
        losses.append(total / ranks.N)
        accuracies.append(correct / ranks.N)
    return model, losses, accuracies


@needs_mpi
def test_two_ranks_with_batch_b_equal_one_process_with_batch_2b(tmp_path):
    run_mpi(2, sys.executable, str(ROOT / "tests" / "data_parallel_ranks.py"), str(tmp_path))
    rank0, rank1 = np.load(tmp_path / "rank0.npz"), np.load(tmp_path / "rank1.npz")
    model, losses, accuracies = one_process_with_batch_2b()
    for name, parameter in model.named_parameters():
        assert np.array_equal(rank0[name], rank1[name]), f"{name}: the ranks differ"
        np.testing.assert_allclose(rank0[name], parameter.numpy(), rtol=0, atol=1e-10,
                                   err_msg=name)
    assert not np.allclose(rank0["0.weight"], ranks.make_model()[0].weight.numpy())  # trained
    np.testing.assert_allclose(rank0["train_loss"], losses, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(rank0["train_accuracy"], accuracies)


@needs_mpi
def test_train_distributed_command_reports_and_saves_on_rank_0_only(tmp_path):
    result = run_mpi(2, sys.executable, "-m", "tinygrad_opt", "train", "--distributed",
                     "--epochs", "2", "--hidden", "16", "--lr", "0.01", "--no-progress",
                     "--save", "model.npz",
                     cwd=tmp_path)
    out = result.stdout
    assert "distributed: 2 processes (MPI), batch 32 per process, 64 per step" in out
    assert out.count("test accuracy:") == 1 and out.count("epoch 2/2") == 1
    assert out.count("saved checkpoint to model.npz") == 1
    assert float(out.split("test accuracy:")[1]) > 0.8      # 0.91 on 2026-12-04
    assert [path.name for path in tmp_path.iterdir()] == ["model.npz"]


def test_the_launch_environment_gives_one_thread_per_rank_and_openmpi_root_consent(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "8")
    monkeypatch.setenv("SOMETHING_ELSE", "kept")
    env = dist.launch_environment()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        assert env[name] == "1"
    assert env["OMPI_ALLOW_RUN_AS_ROOT"] == env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] == "1"
    assert env["SOMETHING_ELSE"] == "kept"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "8"   # a copy: this process is untouched
