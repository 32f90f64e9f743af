"""DataLoader with worker processes (num_workers > 0), as PyTorch's multi-process loading:
the batches of num_workers=0 for map-style data sets, streams split with get_worker_info and
interleaved round-robin, per-worker seeds and worker_init_fn, persistent workers, errors and
timeouts raised in the main process, and no process left behind.

Every loader here has timeout=20 (a hang fails instead of stalling the suite); the
examples drawn by hypothesis grow with DATA_WORKERS_EXAMPLES."""

import gc
import multiprocessing
import os
import random
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.data import (BatchSampler, DataLoader, Dataset, IterableDataset,
                               RandomSampler, TensorDataset, get_worker_info)

EXAMPLES = int(os.environ.get("DATA_WORKERS_EXAMPLES", "8"))
T = 20  # seconds: the timeout of every loader with workers


pytestmark = pytest.mark.usefixtures("no_process_left_behind")  # (conftest.py)


def _host(batch):
    """A batch as nested Python lists, Tensors as their arrays' lists (and their dtype)."""
    if isinstance(batch, tg.Tensor):
        return ("Tensor", str(batch.dtype), batch.numpy().tolist())
    if isinstance(batch, dict):
        return {key: _host(value) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return [_host(item) for item in batch]
    return batch


def _epochs(loader, n=2):
    return [[_host(batch) for batch in loader] for _ in range(n)]


class Records(Dataset):
    """Sample i: a dict of an array, an int label and a name, read one by one."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.array([i, i * i], dtype=np.float32), "label": i % 3, "name": f"s{i}"}


def _pairs(samples):
    return [(int(s["x"][0]), s["name"]) for s in samples]


# --- map-style: the batches of num_workers=0 ---------------------------------------------

@settings(max_examples=EXAMPLES, deadline=None)
@given(n=st.integers(1, 23), batch_size=st.integers(1, 6), drop_last=st.booleans(),
       shuffle=st.booleans(), workers=st.integers(1, 3), prefetch=st.integers(1, 3),
       kind=st.sampled_from(["tensors", "records", "sampler", "batch_sampler", "collate_fn",
                             "unbatched", "global_rng"]),
       seed=st.integers(0, 2**31))
def test_map_style_batches_are_those_of_num_workers_0(n, batch_size, drop_last, shuffle,
                                                      workers, prefetch, kind, seed):
    X = np.random.default_rng(seed).normal(size=(n, 3))
    dataset = TensorDataset(X, np.arange(n)) if kind in ("tensors", "global_rng") else Records(n)

    generators = []

    def loader(**worker_options):
        tg.manual_seed(seed)
        generators[:] = [np.random.default_rng(seed)]
        options = {"batch_size": batch_size, "drop_last": drop_last, "shuffle": shuffle,
                   "seed": generators[0]}
        if kind == "sampler":
            options = {"batch_size": batch_size, "sampler": RandomSampler(dataset, seed=seed)}
        elif kind == "batch_sampler":
            options = {"batch_sampler": BatchSampler(RandomSampler(dataset, seed=seed),
                                                     batch_size, drop_last)}
        elif kind == "collate_fn":
            options["collate_fn"] = _pairs
        elif kind == "unbatched":
            options = {"batch_size": None, "shuffle": shuffle, "seed": generators[0]}
        elif kind == "global_rng":
            del options["seed"]              # shuffled by the framework's generator
        return DataLoader(dataset, **options, **worker_options)

    def single(base_seed_draws):
        # a new pool of workers first draws its base seed from the loader's generator (the
        # framework's without one), as PyTorch's iterator: one int64 before the epoch's order
        reference = loader()
        epochs = []
        for draws in base_seed_draws:
            source = generators[0] if reference.seed is not None else backend.host_rng()
            source.integers(2**63, size=draws)
            epochs.append([_host(batch) for batch in reference])
        return epochs

    assert _epochs(loader(num_workers=workers, prefetch_factor=prefetch, timeout=T)) == \
        single([1, 1])
    assert _epochs(loader(num_workers=workers, persistent_workers=True, timeout=T)) == \
        single([1, 0])                       # persistent workers are seeded once


def test_custom_collate_fn_batch_sampler_and_strings_cross_as_they_are():
    collate = lambda samples: {"names": [s["name"] for s in samples],  # noqa: E731
                               "x": tg.Tensor(np.stack([s["x"] for s in samples]))}
    options = {"batch_sampler": [[4, 0], [2], [1, 3, 5]], "collate_fn": collate}
    single = [_host(batch) for batch in DataLoader(Records(6), **options)]
    loaded = [_host(batch) for batch in DataLoader(Records(6), num_workers=2, timeout=T,
                                                   **options)]
    assert loaded == single
    assert loaded[0]["names"] == ["s4", "s0"] and loaded[0]["x"][1] == "float32"


def test_batches_arrive_on_the_loader_device_and_keep_their_dtype():
    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, num_workers=2, timeout=T,
                        device="strict")
    batches = list(loader)
    assert [(b[0].device, b[1].device) for b in batches] == [("strict", "strict")] * 2
    assert batches[0][1].dtype == tg.int64
    np.testing.assert_array_equal(batches[1][0].numpy(), X[4:])


# --- iterable-style: each worker its own stream ----------------------------------------

class Shards(IterableDataset):
    """Numbers 0..n-1; in worker k of K the numbers k, k+K, k+2K, ... (get_worker_info)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def _round_robin(per_worker):
    """The batches of the workers taken in turn, a worker leaving once it has no more."""
    batches, streams = [], [iter(b) for b in per_worker]
    active = list(range(len(streams)))
    while active:
        for worker in list(active):
            batch = next(streams[worker], None)
            if batch is None:
                active.remove(worker)
            else:
                batches.append(batch)
    return batches


def _cut(numbers, batch_size, drop_last):
    batches = [numbers[i:i + batch_size] for i in range(0, len(numbers), batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


@settings(max_examples=EXAMPLES, deadline=None)
@given(n=st.integers(0, 20), workers=st.integers(1, 4), batch_size=st.integers(1, 5),
       drop_last=st.booleans(), prefetch=st.integers(1, 3), persistent=st.booleans())
def test_a_stream_is_split_by_worker_and_its_batches_interleave(n, workers, batch_size,
                                                                 drop_last, prefetch,
                                                                 persistent):
    loader = DataLoader(Shards(n), batch_size=batch_size, drop_last=drop_last,
                        num_workers=workers, prefetch_factor=prefetch, timeout=T,
                        persistent_workers=persistent)
    # batch_size and drop_last apply to each worker's stream, as in PyTorch
    per_worker = [_cut(list(range(k, n, workers)), batch_size, drop_last)
                  for k in range(workers)]
    expected = _round_robin(per_worker)
    for _ in range(2):                       # the second epoch: each stream from its start
        assert [batch.numpy().tolist() for batch in loader] == expected


def test_a_stream_without_batching_interleaves_its_samples():
    loader = DataLoader(Shards(7), batch_size=None, num_workers=3, timeout=T)
    assert [sample for sample in loader] == [0, 1, 2, 3, 4, 5, 6]
    loader = DataLoader(Shards(7), batch_size=2, num_workers=2, timeout=T)
    assert [b.numpy().tolist() for b in loader] == [[0, 2], [1, 3], [4, 6], [5]]


def test_get_worker_info_in_the_main_process_is_none():
    assert get_worker_info() is None


# --- seeds and worker_init_fn -------------------------------------------------------------

_INIT_CALLS = []                             # in a worker: its worker_init_fn calls


def _record_init(worker_id):
    _INIT_CALLS.append(worker_id)


class WhoLoads(Dataset):
    """Sample i says which worker read it, and draws from the seeded generators there."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {"index": i, "worker": info.id, "num_workers": info.num_workers,
                "seed": info.seed, "same_dataset": isinstance(info.dataset, WhoLoads),
                "initial_seed": backend.initial_seed(), "inits": list(_INIT_CALLS),
                "pid": os.getpid(), "random": random.random(),
                "rand": tg.rand(2).numpy().tolist()}


def _samples(loader):
    return [sample for batch in loader for sample in batch]


def test_worker_init_fn_runs_once_in_each_worker_with_its_id():
    loader = DataLoader(WhoLoads(), batch_size=2, num_workers=3, timeout=T, collate_fn=list,
                        worker_init_fn=_record_init)
    samples = _samples(loader)
    assert [s["index"] for s in samples] == list(range(8))
    assert [s["worker"] for s in samples] == [0, 0, 1, 1, 2, 2, 0, 0]  # batches round-robin
    assert all(s["inits"] == [s["worker"]] for s in samples)
    assert all(s["num_workers"] == 3 and s["same_dataset"] for s in samples)
    assert _INIT_CALLS == []                 # never in the main process
    assert len({s["pid"] for s in samples} | {os.getpid()}) == 4


def test_worker_seeds_are_base_plus_id_distinct_and_reproducible():
    def draws(**options):
        loader = DataLoader(WhoLoads(), batch_size=2, num_workers=2, timeout=T,
                            collate_fn=list, **options)
        return [[(s["worker"], s["seed"], s["initial_seed"], s["random"], s["rand"])
                 for s in _samples(loader)] for _ in range(2)]

    first, again = draws(seed=5), draws(seed=5)
    assert first == again                    # the same generator: the same seeds and draws
    for epoch in first:
        seeds = {worker: seed for worker, seed, *_ in epoch}
        assert seeds[1] == seeds[0] + 1      # base_seed + worker_id
        assert all(initial == seed % 2**64 for _, seed, initial, *_ in epoch)
        by_worker = [[draw[3:] for draw in epoch if draw[0] == w] for w in (0, 1)]
        assert by_worker[0] != by_worker[1]  # the workers' augmentations differ
    assert first[0][0][1] != first[1][0][1]  # a new base seed for each epoch's workers
    assert draws(seed=6)[0] != first[0]
    tg.manual_seed(3)
    from_global = draws()
    tg.manual_seed(3)
    assert draws() == from_global            # no generator: the framework's, reproducibly


# --- persistent workers, shutting down --------------------------------------------------

def test_persistent_workers_are_kept_between_epochs():
    loader = DataLoader(WhoLoads(), batch_size=2, num_workers=2, timeout=T, collate_fn=list,
                        persistent_workers=True)
    first = _samples(loader)
    kept = {process.pid for process in multiprocessing.active_children()}
    assert kept == {s["pid"] for s in first} and len(kept) == 2
    second = _samples(loader)
    assert {s["pid"] for s in second} == kept
    assert [s["index"] for s in second] == list(range(8))
    assert {s["seed"] for s in second} == {s["seed"] for s in first}  # seeded once
    abandoned = iter(loader)
    next(abandoned)                          # leave an epoch with batches in flight
    assert [s["index"] for s in _samples(loader)] == list(range(8))
    with pytest.raises(RuntimeError, match="iter\\(loader\\) was called again"):
        next(abandoned)
    del loader, abandoned
    gc.collect()
    assert multiprocessing.active_children() == []


def test_workers_stop_at_the_end_of_each_epoch_without_persistent_workers():
    loader = DataLoader(WhoLoads(), batch_size=2, num_workers=2, timeout=T, collate_fn=list)
    threads = threading.active_count()
    first = {s["pid"] for s in _samples(loader)}
    assert multiprocessing.active_children() == []
    assert {s["pid"] for s in _samples(loader)}.isdisjoint(first)
    assert threading.active_count() == threads  # no thread in the main process: fork is safe


def test_leaving_the_loop_early_stops_the_workers_even_with_big_batches_in_flight():
    X = np.zeros((2000, 100))                # 200 rows: 160 kB a batch, more than a pipe holds
    loader = DataLoader(TensorDataset(X), batch_size=200, num_workers=2, timeout=T)
    for _ in loader:
        assert len(multiprocessing.active_children()) == 2
        break
    assert multiprocessing.active_children() == []
    iterator = iter(loader)
    next(iterator)
    time.sleep(0.2)                          # let the workers fill the pipes
    start = time.monotonic()
    del iterator                             # an iterator collected mid-epoch stops them too
    assert multiprocessing.active_children() == []
    assert time.monotonic() - start < 1.5    # they stop: they are not left to be terminated


# --- errors -------------------------------------------------------------------------------

class FailsAt(Dataset):
    def __init__(self, bad):
        self.bad = bad

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == self.bad:
            raise ValueError(f"sample {i} is broken")
        return np.float32(i)


def test_an_exception_in_a_worker_is_raised_naming_the_worker_with_its_traceback():
    loader = DataLoader(FailsAt(3), batch_size=2, num_workers=2, timeout=T)
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 1") \
            as caught:
        list(loader)                         # indices 2, 3: the second batch, worker 1's
    text = str(caught.value)
    assert "Original Traceback (most recent call last)" in text
    assert "in __getitem__" in text and "sample 3 is broken" in text
    assert multiprocessing.active_children() == []
    assert len(list(DataLoader(FailsAt(-1), batch_size=2, num_workers=2, timeout=T))) == 4


def test_worker_init_fn_errors_and_unpicklable_exceptions_are_raised_too():
    class LocalError(Exception):
        pass

    def init(worker_id):
        raise LocalError(f"init of {worker_id} failed")

    loader = DataLoader(FailsAt(-1), batch_size=2, num_workers=2, timeout=T,
                        worker_init_fn=init, persistent_workers=True)
    with pytest.raises(RuntimeError, match="(?s)Caught LocalError in DataLoader worker "
                                           "process 0.*init of 0 failed"):
        next(iter(loader))
    assert multiprocessing.active_children() == []  # an error stops persistent workers too


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            time.sleep(1.0)
        return np.float32(i)


def test_timeout_raises_naming_it_when_a_batch_is_late():
    loader = DataLoader(Slow(), batch_size=1, num_workers=2, timeout=0.2)
    batches = iter(loader)
    assert next(batches).item() == 0 and next(batches).item() == 1
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
        next(batches)
    assert multiprocessing.active_children() == []


def test_a_worker_that_dies_is_reported_not_waited_for():
    class Dies(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            if i == 1:
                os._exit(3)
            return np.float32(i)

    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader worker .* exited unexpectedly"):
        list(DataLoader(Dies(), batch_size=1, num_workers=2, timeout=T))
    assert time.monotonic() - start < 5      # seen as it dies, not when the timeout runs out


def test_tensors_off_the_cpu_are_refused_in_workers():
    collate = lambda samples: tg.Tensor(np.stack(samples), device="strict")  # noqa: E731
    loader = DataLoader(FailsAt(-1), batch_size=4, num_workers=1, timeout=T,
                        collate_fn=collate)
    with pytest.raises(RuntimeError, match="Tensor on 'strict'; worker processes send CPU"):
        list(loader)


# --- options ------------------------------------------------------------------------------

def test_multiprocessing_context_by_name_or_object():
    X = np.arange(10.0).reshape(5, 2)
    generator = np.random.default_rng(1)
    generator.integers(2**63)                # what the workers' base seed draws first
    single = _epochs(DataLoader(TensorDataset(X), batch_size=2, shuffle=True, seed=generator), 1)
    spawned = DataLoader(TensorDataset(X), batch_size=2, shuffle=True, seed=1, num_workers=1,
                         timeout=T, multiprocessing_context="spawn")
    assert _epochs(spawned, 1) == single
    forked = DataLoader(TensorDataset(X), batch_size=2, shuffle=True, seed=1, num_workers=1,
                        timeout=T, multiprocessing_context=multiprocessing.get_context("fork"))
    assert _epochs(forked, 1) == single
    with pytest.raises(ValueError, match="valid start method"):
        DataLoader(TensorDataset(X), num_workers=1, multiprocessing_context="threads")
    with pytest.raises(TypeError, match="valid context object"):
        DataLoader(TensorDataset(X), num_workers=1, multiprocessing_context=3)


def test_worker_options_refused_or_defaulted():
    with pytest.raises(ValueError, match="prefetch_factor must be at least 1"):
        DataLoader(Records(3), num_workers=1, prefetch_factor=0)
    assert DataLoader(Records(3), num_workers=2).prefetch_factor == 2
    assert DataLoader(Records(3)).prefetch_factor is None
    loader = DataLoader(Records(5), batch_size=2, num_workers=2, timeout=T)
    assert len(loader) == 3 and len(list(loader)) == 3
