"""One rank of the data-parallel check in tests/test_distributed.py, run as

    mpirun -n 2 python tests/data_parallel_ranks.py OUT_DIR

1. ``all_reduce_gradients`` averages the gradients of the ranks with ONE collective,
   and a parameter without a gradient counts as zero (``None`` only if no rank has one);
2. ``fit(..., distributed=True)`` trains a float64 MLP with ``BATCH_PER_RANK``
   examples per rank and step; each rank writes its final weights to
   ``OUT_DIR/rank<r>.npz``. The test compares them with one process trained with
   batch ``2 * BATCH_PER_RANK`` over the same examples.

The data, model and optimizer are defined here and imported by the test, so
both sides build the same ones.
"""

import sys

import numpy as np

import tinygrad_opt as tg
from tinygrad_opt import distributed as dist
from tinygrad_opt import nn, optim
from tinygrad_opt.data import DataLoader, TensorDataset
from tinygrad_opt.train import fit

N, FEATURES, CLASSES = 96, 5, 3
BATCH_PER_RANK, EPOCHS, SEED = 8, 3, 0
COLLECTIVES = {"Allreduce", "allreduce", "Reduce", "reduce", "Bcast", "bcast", "Allgather",
               "allgather", "Gather", "gather", "Scatter", "scatter", "Alltoall", "alltoall"}


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    X = rng.normal(size=(N, FEATURES))                      # (N, 5) float64
    y = rng.integers(0, CLASSES, size=N)                    # (N,)
    return X, y


def make_model():
    return nn.Sequential(nn.Linear(FEATURES, 16), nn.Tanh(), nn.Linear(16, CLASSES)).double()


def make_optimizer(model):
    return optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)


class CountingCommunicator:
    """Wraps the MPI communicator and records the names of the methods called on it."""

    def __init__(self, communicator):
        self.communicator = communicator
        self.calls = []

    def __getattr__(self, name):
        method = getattr(self.communicator, name)

        def recorded(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)
        return recorded


def check_all_reduce(rank: int, size: int) -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2), nn.Linear(2, 2)).double()
    used_everywhere, used_on_last_rank = model[0].weight, model[1].weight
    used_everywhere.grad = tg.full(used_everywhere.shape, rank + 1.0, dtype=tg.float64)
    if rank == size - 1:
        used_on_last_rank.grad = tg.full(used_on_last_rank.shape, 4.0, dtype=tg.float64)
    counting = CountingCommunicator(dist._communicator)
    dist._communicator = counting
    try:
        dist.all_reduce_gradients(model)
    finally:
        dist._communicator = counting.communicator
    collectives = [name for name in counting.calls if name in COLLECTIVES]
    assert collectives == ["Allreduce"], f"rank {rank}: collectives {collectives}"
    assert np.all(used_everywhere.grad.numpy() == (size + 1) / 2), used_everywhere.grad
    assert np.all(used_on_last_rank.grad.numpy() == 4.0 / size), used_on_last_rank.grad
    unused = [name for name, p in model.named_parameters() if p.grad is None]
    assert unused == ["0.bias", "1.bias", "2.weight", "2.bias"], unused


def main(out_dir: str) -> None:
    rank, size = dist.init()
    assert (dist.rank(), dist.world_size()) == (rank, size) and size == 2 and dist.init()[0] == rank
    check_all_reduce(rank, size)
    tg.manual_seed(SEED + 100 * rank)   # the ranks start different: broadcast_parameters fixes it
    model = make_model()
    X, y = data()
    dataset = TensorDataset(X, y)
    loader = DataLoader(dataset, batch_size=BATCH_PER_RANK,
                        sampler=dist.DistributedSampler(dataset, seed=SEED))
    history = fit(model, make_optimizer(model), nn.CrossEntropyLoss(), loader, epochs=EPOCHS,
                  metrics=("accuracy",), progress=False, distributed=True)
    arrays = {name: p.numpy() for name, p in model.named_parameters()}
    np.savez(f"{out_dir}/rank{rank}.npz", train_loss=np.array(history["train_loss"]),
             train_accuracy=np.array(history["train_accuracy"]), **arrays)


if __name__ == "__main__":
    main(sys.argv[1])
