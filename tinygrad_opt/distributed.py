"""Data-parallel training over MPI: backprop plus one collective per step.

Start ``P`` copies of the same training script (``mpirun -n P python train.py``).
Each copy is a *rank* ``0 .. P-1``. Data-parallel SGD is then four pieces:

1. :func:`init` connects the ranks and says who this process is;
2. :func:`broadcast_parameters` copies rank 0's weights to every rank, so all
   start from the same model;
3. :class:`DistributedSampler` gives each rank its own shard of every epoch's
   permutation (rank ``r`` takes positions ``r, r + P, r + 2P, ...``);
4. :func:`all_reduce_gradients`, called between ``loss.backward()`` and
   ``optimizer.step()``, replaces every gradient by its mean over the ranks::

       g = (g_0 + g_1 + ... + g_{P-1}) / P

With each rank's loss the mean over its ``B`` examples, ``g`` is the gradient
of the mean loss over all ``P·B`` examples of the step: the same step as one
process with batch ``P·B``. Every rank then applies the same update to the same
weights, so the weights stay equal without ever being sent again.

The gradients of all parameters travel in ONE flat buffer, so a step costs one
collective (``MPI_Allreduce``), not one per parameter: on a network each call
has a fixed latency, and a model has many small parameters.

Not synchronised: BatchNorm's running statistics (each rank normalises with its
own batch and keeps its own running mean and variance; rank 0's are the ones it
saves) and random layers such as Dropout (each rank draws its own masks).

``fit(..., distributed=True)`` (:mod:`tinygrad_opt.train`) and
``mpirun -n 2 tinygrad-opt train --distributed`` use these pieces; see
docs/scale-out.md for several machines, and :func:`dask_client` for running the
trials of a hyperparameter search on a Dask cluster instead.

MPI (``mpi4py``, with the ``mpich`` wheel) and Dask (``distributed``) are the
optional ``distributed`` extra; they are imported only when a function here
needs them, so ``import tinygrad_opt`` works without them.
"""

from __future__ import annotations

import math
import os
import shutil
import sys

import numpy as np  # host buffers for the collectives (MPI sends host memory)

from tinygrad_opt import backend
from tinygrad_opt._checks import whole_number
from tinygrad_opt.data import Sampler
from tinygrad_opt.nn.module import snapshot

__all__ = ["init", "rank", "world_size", "broadcast_parameters", "all_reduce_gradients",
           "DistributedSampler", "all_gather", "broadcast", "gather_epoch", "find_mpirun",
           "launch_environment", "dask_client"]

EXTRA_HINT = "pip install 'tinygrad_opt[distributed]'"

_communicator = None  # MPI.COMM_WORLD once init() has run


# --- who am I ---------------------------------------------------------------------------

def _mpi():
    """The ``mpi4py.MPI`` module, or a clear error naming the extra."""
    try:
        from mpi4py import MPI  # importing it starts MPI (MPI_Init)
    except (ImportError, RuntimeError) as error:  # not installed, or no MPI library found
        raise RuntimeError(f"distributed training needs mpi4py and an MPI library, the "
                           f"'distributed' extra: {EXTRA_HINT} ({error})") from None
    return MPI


def init() -> tuple[int, int]:
    """Join the MPI job this process was started in; returns ``(rank, world_size)``.

    Under ``mpirun -n P`` every process gets its rank ``0 .. P-1``; a process
    started without ``mpirun`` is a job of one, ``(0, 1)``. Calling it again
    returns the same answer.
    """
    global _communicator
    if _communicator is None:
        _communicator = _mpi().COMM_WORLD
    return _communicator.Get_rank(), _communicator.Get_size()


def _comm():
    init()
    return _communicator


def rank() -> int:
    """This process's rank, ``0 .. world_size() - 1`` (calls :func:`init` if needed)."""
    return init()[0]


def world_size() -> int:
    """The number of processes in the job (calls :func:`init` if needed)."""
    return init()[1]


# --- the collectives ----------------------------------------------------------------------

def broadcast(value, root: int = 0):
    """``root``'s ``value`` (any picklable object) on every rank."""
    return _comm().bcast(value if rank() == root else None, root=root)


def all_gather(value) -> list:
    """Every rank's ``value`` (any picklable object), as a list in rank order, on every rank."""
    return _comm().allgather(value)


def broadcast_parameters(module, root: int = 0) -> None:
    """Copy ``root``'s parameters and buffers into ``module`` on every rank.

    Call it once before training: the ranks seeded or initialised their models
    independently, and data-parallel SGD needs them equal. One collective: the
    whole state dict is sent as one message.
    """
    state = snapshot(module, lambda tensor: backend.to_host(tensor.data))  # (host arrays)
    module.load_state_dict(broadcast(state, root))


def all_reduce_gradients(module) -> None:
    """Replace each parameter's ``.grad`` by its mean over the ranks: ``g = Σ_r g_r / P``.

    Call it between ``loss.backward()`` and ``optimizer.step()``. All gradients
    are packed into one flat host buffer, summed across the ranks by one
    ``MPI_Allreduce``, divided by the world size and unpacked::

        buffer = [g_1.ravel(), g_2.ravel(), ..., has_grad_1, has_grad_2, ...]   # one message
        Allreduce(buffer, SUM)
        g_i = buffer[slice_i].reshape(shape_i) / P

    A parameter without a gradient on a rank (not used by its batch) counts as
    zero there; one that no rank used keeps ``.grad = None``, as in one process
    (the ``has_grad`` flags at the end of the buffer say which).
    """
    from tinygrad_opt.tensor import Tensor

    parameters = [p for p in module.parameters() if p.requires_grad]
    if not parameters or world_size() == 1:
        return                                   # the mean over one rank is its own gradient
    dtype = np.result_type(*(p.dtype for p in parameters))
    pieces = []
    for p in parameters:
        if p.grad is None:
            pieces.append(np.zeros(p.data.size, dtype=dtype))
        else:
            pieces.append(backend.to_host(p.grad.data).ravel())
    flags = np.array([p.grad is not None for p in parameters], dtype=dtype)
    buffer = np.concatenate(pieces + [flags]).astype(dtype, copy=False)     # (Σ sizes + n,)
    MPI = _mpi()
    _comm().Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)                    # Σ over the ranks
    total = buffer[:-len(parameters)]                    # (Σ sizes,)  Σ_r g_r, all parameters
    used = buffer[-len(parameters):] > 0                 # (n,)  some rank had a gradient
    size = world_size()
    offset = 0
    for p, used_somewhere in zip(parameters, used):
        count = p.data.size
        if used_somewhere:
            mean = (total[offset:offset + count] / size).reshape(p.shape)     # g = Σ_r g_r / P
            p.grad = Tensor(backend.to_device(mean.astype(p.dtype), p.device), device=p.device)
        offset += count


def gather_epoch(total_loss: float, count: int, targets: list, outputs: list) -> tuple:
    """One epoch's bookkeeping over all ranks, for :func:`~tinygrad_opt.train.fit`.

    Returns ``(Σ_r total_loss_r, Σ_r count_r, targets, outputs)`` where
    ``targets`` and ``outputs`` hold one host Tensor per rank (its batches
    concatenated), so the epoch's loss and metrics are those of all the
    examples every rank saw, and equal on every rank. One collective.
    """
    from tinygrad_opt.tensor import Tensor

    def host_concat(tensors):
        if not tensors:
            return None
        return np.concatenate([backend.to_host(tensor.data) for tensor in tensors])

    everyone = all_gather((total_loss, count, host_concat(targets), host_concat(outputs)))
    total_loss = sum(part[0] for part in everyone)                    # rank order: same sum
    count = sum(part[1] for part in everyone)
    targets = [Tensor(part[2], device="cpu") for part in everyone if part[2] is not None]
    outputs = [Tensor(part[3], device="cpu") for part in everyone if part[3] is not None]
    return total_loss, count, targets, outputs


# --- the data: one shard per rank -------------------------------------------------------------

class DistributedSampler(Sampler):
    """The indices of this rank's shard of each epoch's permutation (PyTorch's name).

    Epoch ``e`` visits the permutation ``default_rng(seed + e).permutation(N)``
    (``arange(N)`` without ``shuffle``); rank ``r`` of ``P`` takes its positions
    ``r, r + P, r + 2P, ...``. So the ``k``-th batches of the ranks, together,
    are the ``k``-th batch of ``P·B`` that one process would take from the same
    permutation.

    Every rank must run the same number of steps (an all-reduce waits for all),
    ``num_samples`` each:

    * unless ``drop_last``: ``ceil(N / P)``, the permutation padded with its first
      indices (repeated as often as needed) up to ``P · num_samples`` (a few
      examples count twice in that epoch);
    * with ``drop_last``: ``floor(N / P)``, its tail dropped instead (none at all
      when ``N < P``, as PyTorch's ``ceil((N - P) / P)``).

    As in PyTorch, the epoch changes only by ``set_epoch(e)``: iterating twice
    without it gives the same order, so call it at the start of every epoch
    (:func:`~tinygrad_opt.train.fit` does). Use it as
    ``DataLoader(dataset, batch_size=B, sampler=DistributedSampler(dataset))``.
    ``num_replicas`` and ``rank`` default to the MPI job's (:func:`init`).
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            job_rank, job_size = init()
            num_replicas = job_size if num_replicas is None else num_replicas
            rank = job_rank if rank is None else rank
        if not whole_number(num_replicas):
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, "
                             f"got {num_replicas!r}")
        if not whole_number(rank, 0) or rank >= num_replicas:
            raise ValueError(f"DistributedSampler: rank must be an integer in "
                             f"[0, {num_replicas - 1}], got {rank!r}")
        n = len(dataset)
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        if self.drop_last:
            self.num_samples = n // self.num_replicas                # examples per rank (N < P: 0)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Make every following ``iter()`` visit epoch ``epoch``'s permutation."""
        self.epoch = int(epoch)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            # seeded by seed + epoch alone, as PyTorch's generator (mod 2**64: never negative)
            order = np.random.default_rng((self.seed + self.epoch) % 2**64).permutation(n)
        else:
            order = np.arange(n)                                      # (N,)
        if self.total_size > n:                                       # pad: every rank equal
            repeats = math.ceil(self.total_size / n)
            order = np.tile(order, repeats)
        order = order[:self.total_size]                               # (P * num_samples,)
        return iter(order[self.rank::self.num_replicas].tolist())     # (num_samples,)

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last}, "
                f"epoch={self.epoch})")


# --- launching --------------------------------------------------------------------------------

def find_mpirun() -> str:
    """The path of ``mpirun`` (or ``mpiexec``): beside this Python first, where the
    ``mpich`` wheel of the extra puts it, then on ``PATH``; a clear error if none."""
    here = os.path.dirname(sys.executable)
    for name in ("mpirun", "mpiexec"):
        candidate = os.path.join(here, name)
        if os.access(candidate, os.X_OK):
            return candidate
    for name in ("mpirun", "mpiexec"):
        found = shutil.which(name)
        if found is not None:
            return found
    raise RuntimeError(f"no mpirun or mpiexec found beside {sys.executable} or on PATH: "
                       f"{EXTRA_HINT} (its mpich wheel provides them)")


def launch_environment() -> dict:
    """``os.environ`` for the ranks of an ``mpirun`` job started from Python: one thread
    per process (BLAS, OpenMP, Numba: P processes share the cores), and OpenMPI's
    consent to start ranks as root, which it refuses otherwise (containers often run
    as root; MPICH, the extra's MPI, ignores these two variables)."""
    return dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
                OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


# --- hyperparameter search on Dask -------------------------------------------------------------

def dask_client(scheduler: str):
    """A Dask ``Client`` for a search: ``'local:N'`` starts a cluster of ``N`` worker
    processes (one thread each) on this machine; anything else is the address of a
    running ``dask scheduler`` (``'tcp://host:8786'``). Close it when done (it is a
    context manager); trials run on ``client.get_executor()``."""
    try:
        from distributed import Client
    except ImportError as error:
        raise RuntimeError(f"--scheduler needs Dask's distributed scheduler, the "
                           f"'distributed' extra: {EXTRA_HINT} ({error})") from None
    if scheduler.startswith("local:"):
        count = scheduler[len("local:"):]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"scheduler {scheduler!r}: expected local:N with N a positive "
                             "integer, e.g. local:4")
        # the client owns the cluster it starts: client.close() stops the workers too
        return Client(n_workers=int(count), threads_per_worker=1, processes=True,
                      dashboard_address=":0")
    try:
        return Client(scheduler, timeout=10)
    except OSError as error:
        raise OSError(f"cannot reach the Dask scheduler at {scheduler!r}: {error}") from None
    except ValueError as error:  # Dask's parse of the address: "missing port number in ..."
        raise ValueError(f"scheduler {scheduler!r}: expected the address of a running Dask "
                         f"scheduler (tcp://host:8786) or local:N ({error})") from None
