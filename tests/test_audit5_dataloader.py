"""Audit of DataLoader's options and the data sets against torch.utils.data: a data set's
batched ``__getitems__`` (and Subset's / StackDataset's forwarding of it), samplers read
lazily batch by batch (an endless sampler works), the warning when a stream gives more
than ``len(loader)`` promised, and the messages and warnings of TensorDataset and
random_split. References are written out in plain Python / NumPy."""

import itertools
import math
import warnings

import numpy as np
import pytest

from tinygrad_opt.data import (DataLoader, Dataset, IterableDataset, Sampler, StackDataset,
                               Subset, TensorDataset, random_split)

T = 20  # seconds: the timeout of the one loader with workers


# --- __getitems__: one call per batch ------------------------------------------------------

class Batched(Dataset):
    """Only batched reads: ``__getitems__(keys)`` gives the samples ``values[k]``."""

    def __init__(self, values):
        self.values, self.calls = values, []

    def __len__(self):
        return len(self.values)

    def __getitem__(self, index):
        raise AssertionError("__getitem__ must not be called: the data set has __getitems__")

    def __getitems__(self, keys):
        self.calls.append(list(keys))
        return [self.values[k] for k in keys]


class OneByOne(Dataset):
    def __init__(self, values):
        self.values = values

    def __len__(self):
        return len(self.values)

    def __getitem__(self, index):
        return self.values[index]


def test_a_data_set_with_getitems_is_read_once_per_batch(rng, device):
    # PyTorch's fetcher: dataset.__getitems__(batch_indices), then collate_fn
    values = rng.standard_normal((7, 3)).astype(np.float32)
    dataset = Batched(values)
    loader = DataLoader(dataset, batch_size=3, shuffle=True, seed=4, device=device)
    batches = [batch.numpy() for batch in loader]
    order = np.random.default_rng(4).permutation(7)          # the loader's epoch order
    expected = [order[i:i + 3].tolist() for i in range(0, 7, 3)]
    assert dataset.calls == expected
    assert all(type(k) is int for call in dataset.calls for k in call)
    for got, keys in zip(batches, expected):
        np.testing.assert_array_equal(got, values[keys])


def test_subset_and_stack_dataset_forward_getitems(rng):
    values = rng.standard_normal((8, 2))
    inner = Batched(values)
    subset = Subset(inner, [7, 5, 3, 1])
    batches = [batch.numpy() for batch in DataLoader(subset, batch_size=3)]
    assert inner.calls == [[7, 5, 3], [1]]                    # indices mapped, one call each
    np.testing.assert_array_equal(batches[0], values[[7, 5, 3]])
    np.testing.assert_array_equal(batches[1], values[[1]])
    # StackDataset: batched fields read through __getitems__, the others one by one
    batched, labels = Batched(values), np.arange(8) * 10
    stacked = StackDataset(x=batched, y=OneByOne(labels))
    got = stacked.__getitems__([2, 6])
    assert [sorted(sample) for sample in got] == [["x", "y"], ["x", "y"]]
    np.testing.assert_array_equal(np.stack([sample["x"] for sample in got]), values[[2, 6]])
    assert [sample["y"] for sample in got] == [20, 60]
    batch = next(iter(DataLoader(stacked, batch_size=4)))
    np.testing.assert_array_equal(batch["x"].numpy(), values[:4])
    np.testing.assert_array_equal(batch["y"].numpy(), labels[:4])
    assert batched.calls == [[2, 6], [0, 1, 2, 3]]
    got = StackDataset(Batched(values), OneByOne(labels)).__getitems__([1, 0])
    assert all(type(sample) is tuple and len(sample) == 2 for sample in got)
    np.testing.assert_array_equal(np.stack([sample[0] for sample in got]), values[[1, 0]])
    assert [sample[1] for sample in got] == [10, 0]


def test_without_batching_a_data_set_is_read_by_getitem(rng):
    # PyTorch: batch_size=None reads dataset[index], never __getitems__
    values = rng.standard_normal(4)

    class Both(Batched):
        def __getitem__(self, index):
            return self.values[index]

    dataset = Both(values)
    samples = [sample.numpy() for sample in DataLoader(dataset, batch_size=None)]
    np.testing.assert_array_equal(np.stack(samples), values)
    assert dataset.calls == []


# --- samplers are read lazily ---------------------------------------------------------------

class Endless(Sampler):
    """0, 1, ..., n-1, 0, 1, ... for ever; more than ``limit`` draws is an error."""

    def __init__(self, n, limit=100):
        self.n, self.limit = n, limit

    def __iter__(self):
        for draw in itertools.count():
            if draw >= self.limit:
                raise RuntimeError("the sampler was read ahead of the batches")
            yield draw % self.n


def test_an_endless_sampler_is_read_batch_by_batch(rng):
    # PyTorch's BatchSampler takes batch_size indices at a time from the sampler
    values = rng.standard_normal((5, 2))
    dataset = TensorDataset(values)
    loader = DataLoader(dataset, batch_size=4, sampler=Endless(5))
    got = [batch[0].numpy() for batch in itertools.islice(loader, 3)]
    keys = [[draw % 5 for draw in range(4 * b, 4 * b + 4)] for b in range(3)]
    for batch, expected in zip(got, keys):
        np.testing.assert_array_equal(batch, values[expected])
    unbatched = DataLoader(OneByOne(values), batch_size=None, sampler=Endless(5))
    got = [sample.numpy() for sample in itertools.islice(unbatched, 7)]
    np.testing.assert_array_equal(np.stack(got), values[[d % 5 for d in range(7)]])


def test_a_finite_sampler_still_gives_its_batches_and_drops_the_last():
    order = [4, 0, 3, 3, 1, 2, 0]

    def batches(**options):
        loader = DataLoader(OneByOne(np.arange(5) * 2), sampler=order, **options)
        return [batch.numpy().tolist() for batch in loader]

    assert batches(batch_size=3) == [[8, 0, 6], [6, 2, 4], [0]]
    assert batches(batch_size=3, drop_last=True) == [[8, 0, 6], [6, 2, 4]]
    assert batches(batch_size=7, drop_last=True) == [[2 * i for i in order]]


# --- a stream longer than its reported length -----------------------------------------------

class Stream(IterableDataset):
    """The samples 0 .. n-1, but ``len`` reports ``reported``."""

    def __init__(self, n, reported):
        self.n, self.reported = n, reported

    def __len__(self):
        return self.reported

    def __iter__(self):
        return iter(range(self.n))


def _read(loader):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches = [batch.numpy().tolist() for batch in loader]
    return batches, [str(w.message) for w in caught]


@pytest.mark.parametrize("n, reported, batch_size", [(5, 3, 1), (8, 3, 2), (4, 4, 1)])
def test_a_stream_longer_than_its_len_warns(n, reported, batch_size):
    # PyTorch: after len(loader), each batch beyond len(dataset) (the number it recorded,
    # compared with the batches yielded) warns "Length of IterableDataset ... reported"
    loader = DataLoader(Stream(n, reported), batch_size=batch_size)
    assert len(loader) == math.ceil(reported / batch_size)
    batches, messages = _read(loader)
    assert batches == [list(range(n))[i:i + batch_size] for i in range(0, n, batch_size)]
    n_batches = math.ceil(n / batch_size)
    assert len(messages) == max(0, n_batches - reported)
    for yielded, message in zip(range(reported + 1, n_batches + 1), messages):
        assert f"was reported to be {reported}" in message
        assert f"but {yielded} samples have been fetched" in message
    assert _read(DataLoader(Stream(n, reported), batch_size=batch_size))[1] == []  # no len()


def test_an_unsplit_stream_with_workers_warns_about_the_replicas():
    loader = DataLoader(Stream(2, 2), batch_size=1, num_workers=2, timeout=T)
    assert len(loader) == 2
    batches, messages = _read(loader)
    assert batches == [[0], [0], [1], [1]]                    # each worker reads it whole
    assert len(messages) == 2
    assert all("multiprocessing" in message for message in messages)


# --- messages and warnings ------------------------------------------------------------------

def test_tensor_dataset_size_mismatch_uses_pytorchs_words():
    with pytest.raises(ValueError, match="Size mismatch between tensors.*\\[4, 3\\]"):
        TensorDataset(np.zeros(4), np.zeros((3, 2)))


def test_random_split_warns_about_an_empty_part():
    # PyTorch: fractions giving a part of 0 samples warn (the split goes on)
    with pytest.warns(UserWarning, match="split at index 2 is 0"):
        parts = random_split(range(4), [0.5, 0.5, 0.0], seed=0)
    counts = [int(math.floor(4 * f)) for f in (0.5, 0.5, 0.0)]   # remainder 0
    assert [len(part) for part in parts] == counts
    order = np.random.default_rng(0).permutation(4)
    assert [part.indices for part in parts] == [order[:2].tolist(),
                                                         order[2:].tolist(), []]


def test_a_subset_subclass_is_read_through_its_getitem_even_over_getitems(rng):
    # a subclass's own __getitem__ wins over the inherited batched read (newer PyTorch)
    values = rng.standard_normal((6, 2))

    class Negated(Subset):
        def __getitem__(self, index):
            return -self.dataset.values[self.indices[index]]

    inner = Batched(values)
    batches = [batch.numpy() for batch in DataLoader(Negated(inner, [5, 2, 0]), batch_size=2)]
    np.testing.assert_array_equal(np.concatenate(batches), -values[[5, 2, 0]])
    assert inner.calls == []
