"""Audit of the data utilities against torch.utils.data: DistributedSampler's shards for
every option (a NumPy reference of PyTorch's algorithm), its epochs (set_epoch only),
Subset with keys that are not integers, and default_collate's containers (PyTorch's
collate: a tuple becomes a list, a list stays a list, a named tuple keeps its type)."""

import collections
import collections.abc
import copy
import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, optim, train
from tinygrad_opt.data import (DataLoader, Dataset, Sampler, Subset, TensorDataset,
                               default_collate)
from tinygrad_opt.distributed import DistributedSampler
from test_audit4_data import _Pair  # a read-only sequence that a list cannot build


# --- DistributedSampler: a reference of PyTorch's algorithm -------------------------------

def _permutation(n, seed):
    """The shuffled order of one epoch: a generator seeded by ``seed + epoch`` alone."""
    return np.random.default_rng(seed).permutation(n).tolist()


def _reference_shard(n, replicas, rank, shuffle, drop_last, seed, epoch):
    """torch.utils.data.DistributedSampler.__iter__, written out in plain Python."""
    if drop_last and n % replicas != 0:
        num_samples = math.ceil((n - replicas) / replicas)
    else:
        num_samples = math.ceil(n / replicas)
    total_size = num_samples * replicas
    indices = _permutation(n, seed + epoch) if shuffle else list(range(n))
    if not drop_last:
        padding = total_size - len(indices)
        if padding <= len(indices):
            indices += indices[:padding]
        else:
            indices += (indices * math.ceil(padding / len(indices)))[:padding]
    else:
        indices = indices[:total_size]
    assert len(indices) == total_size
    return num_samples, indices[rank:total_size:replicas]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_matches_pytorch_for_every_size_and_rank(shuffle, drop_last):
    for n in (0, 1, 2, 3, 5, 7, 8, 12):
        for replicas in (1, 2, 3, 4, 5):
            for rank in range(replicas):
                for epoch in (0, 3):
                    sampler = DistributedSampler(list(range(n)), num_replicas=replicas,
                                                 rank=rank, shuffle=shuffle, seed=11,
                                                 drop_last=drop_last)
                    sampler.set_epoch(epoch)
                    num_samples, want = _reference_shard(n, replicas, rank, shuffle,
                                                         drop_last, 11, epoch)
                    got = list(sampler)
                    assert got == want, (n, replicas, rank, epoch)
                    assert len(sampler) == num_samples == len(got)
                    assert sampler.total_size == num_samples * replicas


def test_distributed_sampler_with_drop_last_and_fewer_samples_than_ranks_yields_nothing():
    for rank in range(3):
        sampler = DistributedSampler(list(range(2)), num_replicas=3, rank=rank, drop_last=True)
        assert len(sampler) == 0 and list(sampler) == []
        assert len(DataLoader(list(range(2)), batch_size=1, sampler=sampler)) == 0


def test_distributed_sampler_repeats_its_epoch_until_set_epoch():
    sampler = DistributedSampler(list(range(10)), num_replicas=2, rank=1, seed=4)
    first, second = list(sampler), list(sampler)
    assert first == second == _reference_shard(10, 2, 1, True, False, 4, 0)[1]
    assert sampler.epoch == 0
    sampler.set_epoch(1)
    assert list(sampler) == list(sampler) == _reference_shard(10, 2, 1, True, False, 4, 1)[1]
    # the order depends on seed + epoch only, as PyTorch's generator seed
    later = DistributedSampler(list(range(10)), num_replicas=2, rank=1, seed=5)
    assert list(later) == list(sampler)


def test_distributed_sampler_is_a_sampler():
    assert isinstance(DistributedSampler(range(4), num_replicas=2, rank=0), Sampler)


def test_fit_sets_the_epoch_of_a_distributed_sampler_so_training_reshuffles(rng):
    X = rng.normal(size=(8, 3)).astype(np.float32)
    dataset = TensorDataset(X, (X[:, 0] > 0).astype(np.int64))

    class Recording(DistributedSampler):
        def __iter__(self):
            order = list(super().__iter__())
            self.seen.append(order)
            return iter(order)

    sampler = Recording(dataset, num_replicas=1, rank=0, seed=2)
    sampler.seen = []
    model = nn.Linear(3, 2)
    train.fit(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
              DataLoader(dataset, batch_size=4, sampler=sampler), epochs=3, progress=False)
    assert sampler.seen == [_permutation(8, 2 + epoch) for epoch in range(3)]


# --- Subset forwards its indices to the data set as they are ----------------------------------

class _Letters(Dataset):
    """A map-style data set keyed by strings: ``ds['b'] == 1``."""

    def __init__(self):
        self.values = {"a": 0, "b": 1, "c": 2, "d": 3}

    def __len__(self):
        return len(self.values)

    def __getitem__(self, key):
        return self.values[key]


def test_subset_with_string_keys_forwards_them(device):
    subset = Subset(_Letters(), ["d", "b"])
    assert len(subset) == 2 and subset[0] == 3 and subset[1] == 1 and subset[-1] == 1
    batch = next(iter(DataLoader(subset, batch_size=2, device=device)))
    assert batch.device == device and batch.numpy().tolist() == [3, 1]


def test_subset_with_integer_indices_still_reads_rows(rng, device):
    X = rng.normal(size=(6, 2))
    subset = Subset(TensorDataset(X), tg.tensor([4, 1, 2]))
    np.testing.assert_array_equal(subset[0][0], X[4])
    (rows,) = next(iter(DataLoader(subset, batch_size=3, device=device)))
    np.testing.assert_array_equal(rows.numpy(), X[[4, 1, 2]])


# --- default_collate: PyTorch's containers ------------------------------------------------

Point = collections.namedtuple("Point", ["x", "y"])


class _Row(list):
    """A list subclass with an extra attribute, kept by PyTorch's copy-and-fill."""
    tag = "row"


def _host(batch):
    """The batch with its Tensors as nested Python lists, containers' types kept."""
    if isinstance(batch, tg.Tensor):
        return batch.numpy().tolist()
    if isinstance(batch, collections.abc.Mapping):
        return {key: _host(value) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return [_host(value) for value in batch]
    return batch


def _reference_collate(batch):
    """PyTorch's collate (containers and numbers), Tensors replaced by nested lists."""
    elem = batch[0]
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, (bool, int, float, np.ndarray, np.generic)):
        return np.asarray(batch).tolist()
    if isinstance(elem, collections.abc.Mapping):
        return {key: _reference_collate([d[key] for d in batch]) for key in elem}
    transposed = list(zip(*batch))
    return [_reference_collate(list(samples)) for samples in transposed]


def test_default_collate_makes_tuples_lists_and_keeps_named_tuples_and_lists(device):
    samples = [(np.array([i, -i]), {"label": i, "pair": (i, str(i))}, [i, i * 2])
               for i in range(3)]
    got = default_collate(samples, device=device)
    assert type(got) is list and len(got) == 3
    assert type(got[1]["pair"]) is list and type(got[2]) is list
    assert got[0].device == device
    assert _host(got) == _reference_collate(samples)
    named = default_collate([Point(1, (2, 3)), Point(4, (5, 6))])
    assert type(named) is Point and type(named.y) is list
    assert _host(named) == [[1, 4], [[2, 5], [3, 6]]]


def test_default_collate_rebuilds_other_containers_as_pytorch():
    rows = default_collate([_Row([1, 2]), _Row([3, 4])])
    assert type(rows) is _Row and _host(list(rows)) == [[1, 3], [2, 4]]
    for samples in ([range(0, 2), range(5, 7)], [_Pair(1, 2), _Pair(3, 4)]):
        got = default_collate(samples)      # cannot be built from a list: a list
        assert type(got) is list and _host(got) == _reference_collate(samples)
    counts = collections.defaultdict(int, a=1)
    got = default_collate([counts, copy.copy(counts)])
    assert type(got) is collections.defaultdict and got.default_factory is int
    assert _host(got) == {"a": [1, 1]}
    ordered = collections.OrderedDict([("b", 1.5), ("a", 2.5)])
    got = default_collate([ordered, ordered])
    assert type(got) is collections.OrderedDict and list(got) == ["b", "a"]


def test_loader_batches_of_tuple_samples_are_lists_on_both_paths(rng, device):
    X, y = rng.normal(size=(5, 2)), np.arange(5)

    class Plain(Dataset):                   # read sample by sample, then collated
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return X[i], int(y[i])

    fast = list(DataLoader(TensorDataset(X, y), batch_size=2, device=device))
    slow = list(DataLoader(Plain(), batch_size=2, device=device))
    assert [type(batch) for batch in fast] == [type(batch) for batch in slow] == [list] * 3
    for got, want in zip(fast, slow):
        np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    # unpacking, as the training loops do, is unchanged
    features, labels = fast[0]
    np.testing.assert_array_equal(features.numpy(), X[:2])
