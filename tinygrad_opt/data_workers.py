"""Worker processes for ``DataLoader(num_workers > 0)``, as PyTorch's multi-process loading.

The main process keeps the order. For a map-style data set it draws the index lists
from the sampler as ``num_workers=0`` does and hands them to the workers
round-robin, ``prefetch_factor`` per worker in flight; a worker fetches and collates
its batch (``DataLoader._fetch``) and sends it back, and the main process yields the
batches in the order the tasks went out: the batches of ``num_workers=0`` for the
same index lists.

A stream (:class:`IterableDataset`) has no indices: each worker iterates its own copy
(``get_worker_info()`` tells it which worker it is, to split the stream) and batches it
with ``batch_size`` and ``drop_last`` of its own; a task asks a worker for its next
batch, so the batches interleave round-robin, and a worker whose stream has ended
leaves the rotation.

Worker ``k`` seeds the framework's generator (``tg.manual_seed``) and Python's
``random`` with ``base_seed + k``, then calls ``worker_init_fn(k)``. ``base_seed`` is
drawn once per pool of workers from the loader's generator (or the framework's), before
the epoch's order, as PyTorch draws it: restoring that generator's state gives the same
seeds and orders again. (PyTorch's loader draws it with ``num_workers=0`` too; ours does
not, so that seeded runs without workers keep their orders: with a shuffling generator,
the orders with workers are those of ``num_workers=0`` after that one extra draw.)

Each worker talks to the main process over two pipes, and the main process runs no
thread, so forking it is safe. A batch crosses as a pickle in which every Tensor is
replaced by its NumPy array; the main process rebuilds the Tensors (on the loader's
device for the default collation, on the CPU where a ``collate_fn`` made them).
"""

from __future__ import annotations

import collections
import copy
import io
import itertools
import multiprocessing
import os
import pickle
import queue
import random
import signal
import sys
import threading
import time
import traceback
import weakref
from multiprocessing import connection
from typing import Iterator

from tinygrad_opt import backend

_END = object()        # marks the end of an iterator
_POLL_S = 1.0          # how often an idle worker checks that the main process lives
_JOIN_S = 2.0          # how long a stopping worker may take before it is terminated

worker_info = None     # this process's WorkerInfo, set in worker processes only


class WorkerInfo:
    """What :func:`get_worker_info` returns in a worker: ``id`` (0 .. num_workers-1),
    ``num_workers``, ``seed`` (``base_seed + id``) and ``dataset`` (the worker's copy)."""

    __slots__ = ("id", "num_workers", "seed", "dataset")

    def __init__(self, id: int, num_workers: int, seed: int, dataset) -> None:
        for name, value in zip(self.__slots__, (id, num_workers, seed, dataset)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self) -> str:
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={self.dataset!r})")


def start_context(context):
    """The multiprocessing context of ``multiprocessing_context=``: None (the platform's
    default, chosen when the workers start), a start method's name, or a context."""
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"DataLoader: multiprocessing_context option should specify a "
                             f"valid start method in {methods!r}, but got "
                             f"multiprocessing_context={context!r}")
        return multiprocessing.get_context(context)
    if context is not None and not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(f"DataLoader: multiprocessing_context option should be a valid context "
                        f"object or a string specifying the start method, but got "
                        f"multiprocessing_context={context!r}")
    return context


# --- the main process ----------------------------------------------------------

def worker_batches(loader) -> Iterator:
    """One epoch of ``loader``'s batches, fetched by its worker processes."""
    pool = loader._worker_pool
    # a new pool's base seed is drawn before the epoch's order, as PyTorch's iterator draws
    # it before its sampler; persistent workers keep theirs (PyTorch's _reset draws none)
    base_seed = _base_seed(loader) if pool is None else None
    index_batches = None
    if not loader._iterable:
        index_batches = loader._index_batches()
        first = next(index_batches, _END)    # a sampler's error comes before any worker
        index_batches = itertools.chain([] if first is _END else [first], index_batches)
    if pool is None:
        pool = _WorkerPool(loader, base_seed)
        if loader.persistent_workers:
            loader._worker_pool = pool
    epoch = pool.epoch = pool.epoch + 1      # replies to an abandoned epoch are dropped
    try:
        yield from _in_order(pool, epoch, index_batches, loader.timeout)
    except Exception:                        # a worker's error, a timeout, a dead worker
        if pool.epoch == epoch:              # (not an iterator of an older epoch)
            loader._worker_pool = None       # the next epoch starts afresh
            pool.shutdown()
        raise
    finally:
        if not loader.persistent_workers:
            pool.shutdown()


def _in_order(pool, epoch: int, index_batches, timeout: float) -> Iterator:
    """Hand out tasks round-robin and yield the replies in the order the tasks went out."""
    in_flight = collections.deque()          # (task, worker_id), oldest first
    replies = {}                             # task -> (kind, value), come before its turn
    active = [True] * pool.num_workers       # False: that worker's stream has ended
    turns = itertools.cycle(range(pool.num_workers))
    tasks = itertools.count()

    def send_next_task():
        indices = None if index_batches is None else next(index_batches, _END)
        if indices is _END or not any(active):
            return
        worker_id = next(turns)
        while not active[worker_id]:
            worker_id = next(turns)
        task = next(tasks)
        pool.send(worker_id, (epoch, task, indices))
        in_flight.append((task, worker_id))

    for _ in range(pool.prefetch_factor * pool.num_workers):
        send_next_task()
    while in_flight:
        if pool.epoch != epoch:
            raise RuntimeError("DataLoader: iter(loader) was called again, and the persistent "
                               "workers now load that newer epoch; this iterator is over")
        task, worker_id = in_flight.popleft()
        while task not in replies:
            reply_epoch, done_task, kind, value = pool.receive(timeout)
            if reply_epoch == epoch:
                replies[done_task] = (kind, value)
        kind, value = replies.pop(task)
        if kind == "error":
            _reraise(worker_id, *value)
        if kind == "stop":                   # the worker's stream has ended
            if active[worker_id]:
                active[worker_id] = False
                send_next_task()
            continue
        send_next_task()
        yield value


def _current_rng(source):
    """The NumPy generator that a loader's or sampler's ``source`` draws from now: the
    framework's (None), a ``tg.Generator``'s current one, or a NumPy generator itself."""
    if source is None:
        return backend.host_rng()
    return source.numpy_rng if hasattr(source, "numpy_rng") else source


def _base_seed(loader) -> int:
    """One draw in [0, 2⁶³) from the loader's generator (the framework's without one), as
    PyTorch's ``torch.empty((), dtype=torch.int64).random_(generator=loader.generator)``:
    it advances that stream, so restoring the generator's state (``set_state``,
    ``tg.set_rng_state``) gives the same worker seeds and the same orders again. (PyTorch's
    ``num_workers=0`` draws it too; ours draws none, so its orders are as before.)"""
    return int(_current_rng(loader._rng).integers(2**63))


def _reraise(worker_id: int, type_name: str, text: str, exc_type) -> None:
    """Raise a worker's exception in the main process, as PyTorch's ExceptionWrapper."""
    message = (f"Caught {type_name} in DataLoader worker process {worker_id}.\n"
               f"Original {text}")
    if exc_type is KeyError:                 # str(KeyError) is the repr of its argument:
        message = _KeyErrorMessage(message)  # keep the traceback's lines readable
    try:
        error = exc_type(message)
    except Exception:                        # no class, or one that wants other arguments
        error = RuntimeError(message)
    raise error


class _KeyErrorMessage(str):
    """A message whose repr is itself (PyTorch's KeyErrorMessage)."""

    def __repr__(self) -> str:
        return self


class _WorkerPool:
    """``loader.num_workers`` worker processes and their pipes."""

    def __init__(self, loader, base_seed: int) -> None:
        context = loader.multiprocessing_context or multiprocessing.get_context()
        worker_loader = copy.copy(loader)    # what a worker runs: collates on the CPU
        worker_loader.device, worker_loader.multiprocessing_context = "cpu", None
        self.num_workers, self.epoch = loader.num_workers, 0
        self.prefetch_factor = loader.prefetch_factor
        self.device = loader.device if loader.collate_fn is None else "cpu"
        self.processes, self.task_pipes, self.result_pipes = [], [], []
        self._finalizer = weakref.finalize(self, _shut_down, os.getpid(), self.processes,
                                           self.task_pipes, self.result_pipes)
        for worker_id in range(self.num_workers):
            task_reader, task_writer = context.Pipe(duplex=False)
            result_reader, result_writer = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker_loop, name=f"DataLoader worker {worker_id}", daemon=True,
                args=(worker_loader, worker_id, base_seed + worker_id, loader.worker_init_fn,
                      task_reader, result_writer, os.getpid()))
            process.start()
            task_reader.close()              # the worker's ends: a dead worker reads as EOF
            result_writer.close()
            self.processes.append(process)
            self.task_pipes.append(task_writer)
            self.result_pipes.append(result_reader)

    def send(self, worker_id: int, message) -> None:
        try:
            self.task_pipes[worker_id].send(message)
        except OSError:
            raise _dead_worker_error([self.processes[worker_id]]) from None

    def receive(self, timeout: float):
        """The next reply of any worker: ``(epoch, task, kind, value)``."""
        sentinels = [process.sentinel for process in self.processes]
        ready = connection.wait(self.result_pipes + sentinels, timeout=timeout or None)
        if not ready:
            raise RuntimeError(f"DataLoader timed out after {timeout} seconds")
        for pipe in self.result_pipes:
            if pipe in ready:
                try:
                    return _BatchUnpickler(pipe.recv_bytes(), self.device).load()
                except EOFError:
                    break
        raise _dead_worker_error(self.processes)

    def shutdown(self) -> None:
        self._finalizer()                    # runs once; also when the pool is collected


def _dead_worker_error(processes) -> RuntimeError:
    """PyTorch's error for workers that died: the signal that killed one, if any."""
    ended = connection.wait([process.sentinel for process in processes], timeout=_JOIN_S)
    for process in processes:
        if process.sentinel in ended:
            process.join(_JOIN_S)            # it has ended: wait for its exit code
        if process.exitcode is not None and process.exitcode < 0:
            number = -process.exitcode
            name = signal.strsignal(number) or f"signal {number}"
            return RuntimeError(f"DataLoader worker (pid {process.pid}) is killed by signal: "
                                f"{name}.")
    dead = [process.pid for process in processes if not process.is_alive()]
    codes = [process.exitcode for process in processes if not process.is_alive()]
    return RuntimeError(f"DataLoader worker (pid(s) {dead}) exited unexpectedly "
                        f"(exit code(s) {codes})")


def _shut_down(owner_pid: int, processes, task_pipes, result_pipes) -> None:
    """Ask each worker to stop and wait for it, reading (and dropping) the batches it
    still sends; a worker not done within ``_JOIN_S`` seconds is terminated."""
    if os.getpid() != owner_pid:             # a forked copy of the pool: not its workers
        return
    for pipe in task_pipes:
        try:
            pipe.send(None)
        except OSError:                      # that worker is gone already
            pass
    open_pipes, alive = list(result_pipes), list(processes)
    deadline = time.monotonic() + _JOIN_S
    while alive and time.monotonic() < deadline:
        sentinels = [process.sentinel for process in alive]
        ready = connection.wait(open_pipes + sentinels, timeout=deadline - time.monotonic())
        for pipe in [pipe for pipe in open_pipes if pipe in ready]:
            try:
                pipe.recv_bytes()            # a batch nobody waits for any more
            except (EOFError, OSError):
                open_pipes.remove(pipe)
        alive = [process for process in alive if process.is_alive()]
    for process in processes:
        if process.is_alive():
            process.terminate()
        process.join()
    for pipe in task_pipes + result_pipes:
        pipe.close()


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles a worker's reply, rebuilding each Tensor (sent as its array) on ``device``."""

    def __init__(self, data: bytes, device: str) -> None:
        super().__init__(io.BytesIO(data))
        self.device = device

    def persistent_load(self, saved):
        _, array, requires_grad = saved      # ("Tensor", array, requires_grad)
        return _tensor_type()(backend.to_device(array, self.device), device=self.device,
                              requires_grad=requires_grad)


def _tensor_type():
    # imported lazily, as in data.py: tinygrad_opt/__init__ imports the core
    from tinygrad_opt.tensor import Tensor
    return Tensor


# --- a worker process ----------------------------------------------------------

def _worker_loop(loader, worker_id, seed, worker_init_fn, tasks, results, parent_pid) -> None:
    """Seed, run ``worker_init_fn``, then answer tasks until told to stop (None)."""
    global worker_info
    # workers load on the CPU: CuPy is unusable in a forked child, and seeding it would
    # start a CUDA context in each worker, so the backend is told that there is no GPU
    backend._cuda_checked = False
    random.seed(seed)
    backend.manual_seed(seed)                # tg.manual_seed: the host generators
    worker_info = WorkerInfo(worker_id, loader.num_workers, seed, loader.dataset)
    inbox = queue.SimpleQueue()              # tasks are read at once, so a send never blocks
    threading.Thread(target=_read_tasks, args=(tasks, inbox), daemon=True).start()
    init_failure = None
    try:
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception:
        init_failure = _failure()
    stream, stream_epoch = None, None
    try:
        while (message := _next_task(inbox, parent_pid)) is not None:
            epoch, task, indices = message
            if loader._iterable and epoch != stream_epoch:
                stream, stream_epoch = loader._batches(), epoch  # a new epoch: a new pass
            try:
                if init_failure is not None:
                    reply = ("error", init_failure)
                elif loader._iterable:
                    batch = next(stream, _END)
                    reply = ("stop", None) if batch is _END else ("batch", batch)
                else:
                    reply = ("batch", loader._fetch(indices))
                data = _dump_batch((epoch, task) + reply)
            except Exception:
                data = _dump_batch((epoch, task, "error", _failure()))
            results.send_bytes(data)
    except (KeyboardInterrupt, BrokenPipeError):  # the main process stops or is stopping
        pass


def _read_tasks(tasks, inbox) -> None:
    while True:
        try:
            message = tasks.recv()
        except (EOFError, OSError):
            message = None
        inbox.put(message)
        if message is None:
            return


def _next_task(inbox, parent_pid: int):
    """The next task, or None to stop (asked to, or the main process has died)."""
    while True:
        try:
            return inbox.get(timeout=_POLL_S)
        except queue.Empty:
            if os.getppid() != parent_pid:
                return None


def _failure() -> tuple:
    """The exception being handled, to send: ``(type name, traceback text, type or None)``."""
    exc_type = sys.exc_info()[0]
    name = exc_type.__name__
    try:
        pickle.dumps(exc_type)
    except Exception:                        # a class defined in a function, say
        exc_type = None
    return name, traceback.format_exc(), exc_type


class _BatchPickler(pickle.Pickler):
    """Pickles a worker's reply, each Tensor as its NumPy array (CPU Tensors only)."""

    def persistent_id(self, obj):
        if not isinstance(obj, _tensor_type()):
            return None
        if obj.device != "cpu":
            raise RuntimeError(f"DataLoader worker: the batch holds a Tensor on '{obj.device}'; "
                               "worker processes send CPU data only (give the data set CPU "
                               "arrays, or use num_workers=0)")
        return ("Tensor", obj.data, obj.requires_grad)


def _dump_batch(reply) -> bytes:
    buffer = io.BytesIO()
    _BatchPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(reply)
    return buffer.getvalue()
