"""Audit of the data utilities against torch.utils.data's documented rules: loaders over
data set subclasses, sampler keys that are not integers, other sequences in
default_collate, shuffling an empty data set, and random_split's remainder rule."""

import collections.abc
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt.data import (BatchSampler, DataLoader, Subset, TensorDataset,
                               default_collate, random_split)


def _host(batch):
    """A batch's Tensors as NumPy arrays, keeping the structure (tuple, list, dict)."""
    if isinstance(batch, tg.Tensor):
        return batch.numpy()
    if isinstance(batch, dict):
        return {key: _host(value) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(_host(value) for value in batch)
    return batch


# --- the loader reads a subclass through its own __getitem__ ---------------------------

class _Doubled(TensorDataset):
    """A TensorDataset whose samples are (2 x, y): PyTorch's loader reads dataset[i]."""

    def __getitem__(self, index):
        x, y = super().__getitem__(index)
        return 2 * x, y


class _Shifted(Subset):
    """A Subset whose inputs are moved by 100."""

    def __getitem__(self, index):
        x, y = super().__getitem__(index)
        return x + 100, y


def test_loader_reads_subclasses_of_tensor_dataset_and_subset_through_their_getitem():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6, dtype=np.int64)
    for dataset, expected_x in ((_Doubled(X, y), 2 * X),
                                (_Shifted(TensorDataset(X, y), [4, 0, 2]), X[[4, 0, 2]] + 100),
                                (Subset(_Doubled(X, y), [5, 1]), 2 * X[[5, 1]])):
        batches = [_host(batch) for batch in DataLoader(dataset, batch_size=2)]
        got_x = np.concatenate([batch[0] for batch in batches])
        np.testing.assert_array_equal(got_x, expected_x)
        assert got_x.dtype == np.float32
        got_y = np.concatenate([batch[1] for batch in batches])
        expected_y = np.array([dataset[i][1] for i in range(len(dataset))])
        np.testing.assert_array_equal(got_y, expected_y)


# --- a map-style data set may have keys that are not integers -------------------------

class _Recorder(dict):
    """A dict data set that records the keys it is asked for."""

    def __init__(self, *args):
        super().__init__(*args)
        self.asked = []

    def __getitem__(self, key):
        self.asked.append(key)
        return super().__getitem__(key)


def test_a_sampler_of_keys_reads_a_dict_data_set_by_its_keys():
    data = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0]), "3": np.array([5.0, 6.0])}
    loader = DataLoader(data, batch_size=2, sampler=["b", "3", "a"])
    got = [_host(batch) for batch in loader]
    np.testing.assert_array_equal(got[0], np.stack([data["b"], data["3"]]))
    np.testing.assert_array_equal(got[1], np.stack([data["a"]]))
    assert len(loader) == 2
    unbatched = [_host(sample) for sample in DataLoader(data, batch_size=None, sampler=["3"])]
    np.testing.assert_array_equal(unbatched[0], data["3"])
    by_batch = DataLoader(data, batch_sampler=BatchSampler(["a", "b", "3"], 2, drop_last=True))
    got = [_host(batch) for batch in by_batch]
    assert len(got) == 1
    np.testing.assert_array_equal(got[0], np.stack([data["a"], data["b"]]))
    assert list(BatchSampler(["x", "y", "z"], 2, drop_last=False)) == [["x", "y"], ["z"]]


def test_integer_keys_reach_the_data_set_as_ints_and_strings_of_digits_stay_strings():
    dataset = _Recorder({0: 10, 1: 11, 2: 12, "2": 20})
    batches = [_host(b) for b in DataLoader(dataset, batch_size=2, sampler=np.array([2, 0]))]
    np.testing.assert_array_equal(batches[0], [12, 10])
    assert dataset.asked == [2, 0] and all(type(key) is int for key in dataset.asked)
    dataset.asked.clear()
    batches = [_host(b) for b in DataLoader(dataset, batch_sampler=[["2", np.int64(1)]])]
    np.testing.assert_array_equal(batches[0], [20, 11])
    assert dataset.asked == ["2", 1] and type(dataset.asked[1]) is int


# --- default_collate: any sequence, not only tuples and lists --------------------------

class _Pair(collections.abc.Sequence):
    """A read-only sequence of two numbers (neither tuple nor list)."""

    def __init__(self, first, second):
        self.items = (first, second)

    def __getitem__(self, index):
        return self.items[index]

    def __len__(self):
        return 2


def test_default_collate_transposes_any_sequence():
    got = _host(default_collate([range(0, 2), range(5, 7)]))
    assert isinstance(got, list) and len(got) == 2        # range([...]) fails: a list
    np.testing.assert_array_equal(got[0], [0, 5])        # first fields of the samples
    np.testing.assert_array_equal(got[1], [1, 6])
    got = _host(default_collate([_Pair(1, 2.5), _Pair(3, 4.5)]))
    np.testing.assert_array_equal(got[0], [1, 3])
    assert got[0].dtype == np.int64
    np.testing.assert_array_equal(got[1], [2.5, 4.5])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([range(2), range(3)])


# --- shuffling an empty data set ------------------------------------------------------

def test_shuffling_an_empty_data_set_is_refused_as_by_random_sampler():
    # PyTorch builds RandomSampler(dataset), which refuses num_samples=0
    with pytest.raises(ValueError, match="num_samples"):
        DataLoader(TensorDataset(np.zeros((0, 2))), batch_size=2, shuffle=True)
    assert list(DataLoader(TensorDataset(np.zeros((0, 2))), batch_size=2)) == []


# --- random_split: PyTorch's remainder rule, against a reference ------------------------

def _split_lengths(n, fractions):
    """PyTorch's rule: floor(n * f) each, then the remainder one each, round robin."""
    lengths = [math.floor(n * f) for f in fractions]
    for k in range(n - sum(lengths)):
        lengths[k % len(lengths)] += 1
    return lengths


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 40), weights=st.lists(st.integers(1, 9), min_size=1, max_size=5),
       seed=st.integers(0, 100))
def test_random_split_by_fractions_follows_the_remainder_rule(n, weights, seed):
    fractions = [w / sum(weights) for w in weights]         # they sum to 1 (to rounding)
    parts = random_split(list(range(n)), fractions, generator=tg.Generator().manual_seed(seed))
    assert [len(part) for part in parts] == _split_lengths(n, fractions)
    seen = sorted(part[i] for part in parts for i in range(len(part)))
    assert seen == list(range(n))                         # disjoint, and every sample once
