"""The rest of torch.utils.data: ConcatDataset, StackDataset, IterableDataset and
ChainDataset through the DataLoader, the samplers (Sequential, Random, SubsetRandom,
WeightedRandom, Batch), default_collate on nested samples, get_worker_info.

Seeded samplers do not reproduce PyTorch's random numbers, so they are checked by
properties: coverage, no repeats, frequencies against the probabilities they should have,
reproducibility with a seed and a fresh order each epoch."""

from collections import namedtuple

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset,
                               IterableDataset, RandomSampler, Sampler, SequentialSampler,
                               StackDataset, SubsetRandomSampler, TensorDataset,
                               WeightedRandomSampler, class_weights, default_collate,
                               get_worker_info)


class Numbers(Dataset):
    """Sample i is ``offset + i``: a map-style data set read one by one."""

    def __init__(self, n, offset=0):
        self.n, self.offset = n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.offset + i


class Stream(IterableDataset):
    """The stream start, start+1, ..., stop-1 as (float features [v, -v], int label v)."""

    def __init__(self, start, stop):
        self.start, self.stop = start, stop
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        for v in range(self.start, self.stop):
            yield np.array([v, -v], dtype=np.float64), v


class SizedStream(Stream):
    def __len__(self):
        return self.stop - self.start


def _labels(loader):
    """The label batch of each batch, as lists."""
    return [labels.numpy().tolist() for _, labels in loader]


# --- ConcatDataset and StackDataset ----------------------------------------------------

def test_concat_dataset_lengths_and_every_index():
    parts = [Numbers(3, 0), Numbers(0, 100), Numbers(4, 10), Numbers(2, 20)]
    concat = ConcatDataset(parts)
    assert concat.cumulative_sizes == [3, 3, 7, 9]
    assert len(concat) == 9
    expected = [0, 1, 2, 10, 11, 12, 13, 20, 21]     # the empty part contributes nothing
    assert [concat[i] for i in range(9)] == expected
    assert [concat[i] for i in range(-9, 0)] == expected   # negative: from the end
    with pytest.raises(ValueError, match="absolute value of index"):
        concat[-10]
    with pytest.raises(IndexError, match="out of range"):
        concat[9]


def test_concat_dataset_errors_and_plus():
    with pytest.raises(ValueError, match="should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="does not support IterableDataset"):
        ConcatDataset([Numbers(2), Stream(0, 2)])
    both = Numbers(2, 0) + Numbers(3, 50)
    assert isinstance(both, ConcatDataset) and [both[i] for i in range(5)] == [0, 1, 50, 51, 52]


def test_concat_of_tensor_datasets_through_the_loader(device):
    a = TensorDataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 2]))
    b = TensorDataset(np.arange(6.0, 10.0).reshape(2, 2), np.array([3, 4]))
    loader = DataLoader(a + b, batch_size=2, shuffle=True, seed=0, device=device)
    seen = []
    for X, y in loader:
        assert X.device == device and X.dtype == np.float64 and y.dtype == np.int64
        np.testing.assert_array_equal(X.numpy(), np.stack([2.0 * y.numpy(),
                                                            2.0 * y.numpy() + 1], axis=1))
        seen += y.numpy().tolist()
    assert sorted(seen) == [0, 1, 2, 3, 4] and len(loader) == 3


def test_stack_dataset_tuples_and_dicts():
    stacked = StackDataset(Numbers(3, 0), Numbers(3, 10))
    assert len(stacked) == 3 and stacked[2] == (2, 12)
    named = StackDataset(x=Numbers(3, 0), y=Numbers(3, 10))
    assert named[1] == {"x": 1, "y": 11}
    batch = next(iter(DataLoader(named, batch_size=3)))
    assert batch["x"].numpy().tolist() == [0, 1, 2] and batch["y"].numpy().tolist() == [10, 11, 12]
    with pytest.raises(ValueError, match=r"size mismatch.*\[3, 2\]"):
        StackDataset(Numbers(3), Numbers(2))
    with pytest.raises(ValueError, match="both types are given"):
        StackDataset(Numbers(3), y=Numbers(3))
    with pytest.raises(ValueError, match="at least one dataset"):
        StackDataset()


# --- IterableDataset through the DataLoader --------------------------------------------

def test_iterable_dataset_is_batched_in_stream_order(device):
    stream = Stream(0, 10)
    loader = DataLoader(stream, batch_size=3, device=device)
    batches = list(loader)
    assert [b[1].numpy().tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    features, labels = batches[1]
    assert features.device == device and features.dtype == np.float64
    np.testing.assert_array_equal(features.numpy(), [[3, -3], [4, -4], [5, -5]])
    assert labels.dtype == np.int64
    assert _labels(loader)[-1] == [9] and stream.passes == 2    # each epoch a new pass


def test_iterable_dataset_drop_last_and_len():
    assert _labels(DataLoader(Stream(0, 10), batch_size=3, drop_last=True)) == [
        [0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert _labels(DataLoader(Stream(0, 9), batch_size=3, drop_last=True))[-1] == [6, 7, 8]
    assert len(DataLoader(SizedStream(0, 10), batch_size=3)) == 4
    assert len(DataLoader(SizedStream(0, 10), batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(SizedStream(0, 9), batch_size=3)) == 3
    with pytest.raises(TypeError, match="Stream has no __len__"):
        len(DataLoader(Stream(0, 10), batch_size=3))
    with pytest.raises(TypeError, match="has no len"):
        len(Stream(0, 10))


def test_iterable_dataset_refuses_index_options_with_pytorchs_messages():
    stream = Stream(0, 4)
    with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected "
                                         "unspecified shuffle option, but got shuffle=True"):
        DataLoader(stream, shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option, but got "
                                         r"sampler=\[0, 1\]"):
        DataLoader(stream, sampler=[0, 1])
    with pytest.raises(ValueError, match="expected unspecified batch_sampler option"):
        DataLoader(stream, batch_sampler=[[0, 1]])
    assert len(list(DataLoader(stream, shuffle=False, batch_size=2))) == 2   # False is fine
    assert len(list(DataLoader(stream, shuffle=None, batch_size=2))) == 2    # None too


def test_iterable_dataset_with_collate_fn():
    loader = DataLoader(Stream(0, 5), batch_size=2,
                        collate_fn=lambda samples: [label for _, label in samples])
    assert list(loader) == [[0, 1], [2, 3], [4]]


def test_chain_dataset_and_plus():
    chain = ChainDataset([SizedStream(0, 3), SizedStream(10, 12)])
    assert [label for _, label in chain] == [0, 1, 2, 10, 11]
    assert len(chain) == 5
    assert _labels(DataLoader(chain, batch_size=2)) == [[0, 1], [2, 10], [11]]
    plus = Stream(0, 2) + Stream(5, 6)
    assert isinstance(plus, ChainDataset) and [v for _, v in plus] == [0, 1, 5]
    with pytest.raises(TypeError, match="ChainDataset only supports IterableDataset"):
        list(ChainDataset([Stream(0, 1), Numbers(2)]))


def test_get_worker_info_splits_a_stream_among_workers():
    class Sharded(IterableDataset):
        def __iter__(self):
            info = get_worker_info()
            if info is None:                       # single process: the whole stream
                return iter(range(6))
            return iter(range(info.id, 6, info.num_workers))

    assert get_worker_info() is None               # in the main process
    single = DataLoader(Sharded(), batch_size=4)
    assert [batch.numpy().tolist() for batch in single] == [[0, 1, 2, 3], [4, 5]]
    # two workers, each its share (0 2 4 | 1 3 5), batched on its own; round-robin
    loader = DataLoader(Sharded(), batch_size=4, num_workers=2, timeout=20)
    assert [batch.numpy().tolist() for batch in loader] == [[0, 2, 4], [1, 3, 5]]


# --- samplers ------------------------------------------------------------------------------

def test_sequential_sampler():
    sampler = SequentialSampler(Numbers(5))
    assert list(sampler) == [0, 1, 2, 3, 4] and len(sampler) == 5
    assert isinstance(sampler, Sampler)


def test_random_sampler_without_replacement_is_a_fresh_permutation_each_epoch():
    sampler = RandomSampler(Numbers(30), seed=1)
    epochs = [list(sampler) for _ in range(3)]
    for epoch in epochs:
        assert sorted(epoch) == list(range(30)) and all(type(i) is int for i in epoch)
    assert epochs[0] != epochs[1] and epochs[1] != epochs[2] and epochs[0] != list(range(30))
    again = RandomSampler(Numbers(30), generator=1)                 # generator= is the same
    assert [list(again) for _ in range(3)] == epochs
    assert list(RandomSampler(Numbers(30), seed=2)) != epochs[0]
    assert len(sampler) == 30


def test_random_sampler_num_samples_beyond_the_length_repeats_whole_permutations():
    sampler = RandomSampler(Numbers(4), num_samples=10, seed=0)
    drawn = list(sampler)
    assert len(drawn) == 10 and len(sampler) == 10
    assert sorted(drawn[:4]) == [0, 1, 2, 3] and sorted(drawn[4:8]) == [0, 1, 2, 3]
    assert len(set(drawn[8:])) == 2                                   # part of a permutation
    assert sorted(np.bincount(drawn).tolist()) == [2, 2, 3, 3]       # floor or ceil of 10 / 4


def test_random_sampler_with_replacement_is_uniform():
    draws = list(RandomSampler(Numbers(5), replacement=True, num_samples=20000, seed=0))
    assert len(draws) == 20000 and min(draws) == 0 and max(draws) == 4
    np.testing.assert_allclose(np.bincount(draws) / 20000, 0.2, atol=0.015)
    short = list(RandomSampler(Numbers(50), replacement=True, num_samples=30, seed=0))
    assert len(short) == 30 and len(set(short)) < 30                # repeats happen


def test_random_sampler_without_seed_follows_manual_seed():
    sampler = RandomSampler(Numbers(20))
    tg.manual_seed(4)
    first = list(sampler)
    tg.manual_seed(4)
    assert list(sampler) == first


def test_random_sampler_errors():
    with pytest.raises(TypeError, match="replacement should be a boolean value, but got "
                                        "replacement=1"):
        RandomSampler(Numbers(3), replacement=1)
    for bad in (0, -2, 2.5):
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            RandomSampler(Numbers(3), num_samples=bad)
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler(Numbers(0))
    with pytest.raises(ValueError, match="not both"):
        RandomSampler(Numbers(3), generator=1, seed=1)


def test_subset_random_sampler_covers_exactly_its_indices():
    indices = [7, 3, 11, 19, 2, 5]
    sampler = SubsetRandomSampler(indices, seed=0)
    epochs = [list(sampler) for _ in range(4)]
    for epoch in epochs:
        assert sorted(epoch) == sorted(indices)
    assert len({tuple(epoch) for epoch in epochs}) > 1 and len(sampler) == 6
    assert list(SubsetRandomSampler(indices, seed=0)) == epochs[0]     # reproducible


def test_weighted_sampler_with_replacement_draws_in_proportion_to_the_weights():
    weights = [1.0, 2.0, 0.0, 7.0]
    sampler = WeightedRandomSampler(weights, num_samples=20000, seed=0)
    draws = np.array(list(sampler))
    frequencies = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(frequencies, [0.1, 0.2, 0.0, 0.7], atol=0.015)
    assert np.count_nonzero(draws == 2) == 0                          # weight 0: never
    assert sampler.weights.dtype == np.float64 and len(sampler) == 20000


def test_weighted_sampler_without_replacement_draws_one_after_another():
    weights = np.array([1.0, 1.0, 8.0, 0.0])
    sampler = WeightedRandomSampler(weights, num_samples=2, replacement=False, seed=0)
    epochs = np.array([list(sampler) for _ in range(4000)])                 # (4000, 2)
    assert np.all(epochs[:, 0] != epochs[:, 1]) and not np.any(epochs == 3)
    # first draw: p_i = w_i / 10; the pair {0, 1} needs 0 then 1 or 1 then 0:
    # P = 0.1 · 1/9 + 0.1 · 1/9 = 0.0222 (a top-k sampler would never give it)
    np.testing.assert_allclose(np.bincount(epochs[:, 0], minlength=3) / 4000, [0.1, 0.1, 0.8],
                               atol=0.02)
    both = np.mean(np.all(np.sort(epochs, axis=1) == [0, 1], axis=1))
    assert 0.01 < both < 0.035
    every = list(WeightedRandomSampler([3.0, 0.0, 1.0, 2.0], 3, replacement=False, seed=1))
    assert sorted(every) == [0, 2, 3]                     # all the positive weights, once


def test_weighted_sampler_balances_classes_through_the_loader():
    y = np.array([0] * 90 + [1] * 10)
    X = np.arange(100.0)[:, None]
    weights = class_weights(y)[y]                            # w = N / (C · n_class) per sample
    sampler = WeightedRandomSampler(weights, num_samples=4000, seed=0)
    labels = np.concatenate([labels.numpy() for _, labels in
                             DataLoader(TensorDataset(X, y), batch_size=500, sampler=sampler)])
    assert len(labels) == 4000
    np.testing.assert_allclose(np.bincount(labels) / 4000, [0.5, 0.5], atol=0.03)


def test_weighted_sampler_errors():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            WeightedRandomSampler([1.0, 2.0], bad)
    with pytest.raises(ValueError, match="replacement should be a boolean value"):
        WeightedRandomSampler([1.0, 2.0], 2, replacement="no")
    with pytest.raises(ValueError, match=r"1d sequence .* shape \(2, 2\)"):
        WeightedRandomSampler([[1.0, 2.0], [3.0, 4.0]], 2)
    with pytest.raises(ValueError, match="finite and >= 0"):
        WeightedRandomSampler([1.0, -2.0], 2)
    with pytest.raises(ValueError, match="finite and >= 0"):
        WeightedRandomSampler([1.0, np.nan], 2)
    with pytest.raises(ValueError, match="sum to 0"):
        WeightedRandomSampler([0.0, 0.0], 2)
    with pytest.raises(ValueError, match="num_samples=3 without replacement from 2"):
        WeightedRandomSampler([1.0, 0.0, 2.0], 3, replacement=False)


def test_batch_sampler_groups_indices():
    assert list(BatchSampler(SequentialSampler(range(10)), 3, drop_last=False)) == [
        [0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(BatchSampler(range(10), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(BatchSampler(range(10), 3, False)) == 4
    assert len(BatchSampler(range(10), 3, True)) == 3
    assert len(BatchSampler(range(9), 3, False)) == 3
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
            BatchSampler(range(4), bad, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(4), 2, 1)


@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_is_batch_size_and_random_sampler_is_shuffle(drop_last):
    X, y = np.arange(46.0).reshape(23, 2), np.arange(23)
    dataset = TensorDataset(X, y)
    plain = _labels(DataLoader(dataset, batch_size=5, drop_last=drop_last))
    batched = DataLoader(dataset, batch_sampler=BatchSampler(SequentialSampler(dataset), 5,
                                                             drop_last))
    assert _labels(batched) == plain and len(batched) == len(plain)
    shuffled = DataLoader(dataset, batch_size=5, shuffle=True, seed=3, drop_last=drop_last)
    sampled = DataLoader(dataset, batch_sampler=BatchSampler(RandomSampler(dataset, seed=3), 5,
                                                             drop_last))
    for _ in range(2):                                              # two epochs, same order
        assert _labels(sampled) == _labels(shuffled)
    assert len(sampled) == len(shuffled) == (4 if drop_last else 5)


def test_batch_sampler_conflicts_with_pytorchs_message():
    batches = BatchSampler(range(4), 2, False)
    for options in ({"batch_size": 2}, {"shuffle": True}, {"sampler": range(4)},
                    {"drop_last": True}):
        with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive with "
                                             "batch_size, shuffle, sampler, and drop_last"):
            DataLoader(Numbers(4), batch_sampler=batches, **options)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(Numbers(4), sampler=SequentialSampler(range(4)), shuffle=True)


# --- default_collate ------------------------------------------------------------------------

def test_default_collate_nested_structures(device):
    samples = [(np.array([i, 2 * i], dtype=np.float32),
                {"label": i, "name": f"item{i}", "pair": (float(i) / 2, np.float64(i) / 4)},
                [True, i % 2 == 0])
               for i in range(3)]
    features, info, flags = default_collate(samples, device=device)
    assert features.device == device and features.dtype == np.float32
    np.testing.assert_array_equal(features.numpy(), [[0, 0], [1, 2], [2, 4]])
    assert set(info) == {"label", "name", "pair"}
    assert info["label"].dtype == np.int64 and info["label"].numpy().tolist() == [0, 1, 2]
    assert info["name"] == ["item0", "item1", "item2"]               # strings: a list
    halves, quarters = info["pair"]
    assert halves.dtype == np.float32 and halves.numpy().tolist() == [0.0, 0.5, 1.0]
    assert quarters.dtype == np.float64 and quarters.numpy().tolist() == [0.0, 0.25, 0.5]
    assert isinstance(flags, list)                        # a list sample stays a list
    assert flags[0].dtype == np.bool_ and flags[1].numpy().tolist() == [True, False, True]


def test_default_collate_tensors_named_tuples_and_mixed_numbers():
    Point = namedtuple("Point", ["x", "y"])
    batch = default_collate([Point(tg.tensor([1.0, 2.0]), 3), Point(tg.tensor([4.0, 5.0]), 6)])
    assert isinstance(batch, Point)
    assert batch.x.shape == (2, 2) and batch.x.numpy().tolist() == [[1, 2], [4, 5]]
    assert batch.y.numpy().tolist() == [3, 6]
    mixed = default_collate([1, 2.5, 3])                   # an int then floats: floats
    assert mixed.dtype == np.float32 and mixed.numpy().tolist() == [1.0, 2.5, 3.0]
    tg.set_default_dtype(tg.float64)
    try:
        assert default_collate([0.5, 1.5]).dtype == np.float64   # Python floats: the default
    finally:
        tg.set_default_dtype(tg.float32)


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"equal size, but got \(2,\) at entry 0 and \(3,\) "
                                           "at entry 1"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal "
                                           "size"):
        default_collate([(1, 2), (3,)])
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays, numbers, "
                                        "dicts or lists; found <class 'NoneType'>"):
        default_collate([None, None])
    with pytest.raises(TypeError, match="found an array of dtype <U"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(TypeError, match="found a mix"):
        default_collate([1, "a"])


def test_the_torch_utils_data_spelling_reaches_the_new_names():
    from tinygrad_opt.utils.data import ConcatDataset as Spelled, WeightedRandomSampler as W
    assert Spelled is ConcatDataset and W is WeightedRandomSampler
    assert tg.utils.data.get_worker_info is get_worker_info
