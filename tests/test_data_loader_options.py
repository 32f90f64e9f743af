"""DataLoader's PyTorch options: collate_fn, batch_sampler, and the worker options it
accepts while loading in the calling process."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.data import DataLoader, Dataset, TensorDataset, default_collate


class Pairs(Dataset):
    """Sample i is (i as a float array of 2, i % 3) - a data set read one by one."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.array([i, -i], dtype=np.float64), i % 3


def test_collate_fn_receives_the_samples_of_each_batch_in_order():
    seen = []

    def collate(samples):
        seen.append([int(x[0]) for x, _ in samples])
        return len(samples)

    loader = DataLoader(Pairs(), batch_size=3, collate_fn=collate)
    assert list(loader) == [3, 3, 1]
    assert seen == [[0, 1, 2], [3, 4, 5], [6]]


def test_collate_fn_also_replaces_the_tensor_dataset_fast_path():
    X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    loader = DataLoader(TensorDataset(X, y), batch_size=2,
                        collate_fn=lambda samples: [s[1].item() for s in samples])
    assert list(loader) == [[0, 1], [2, 3], [4]]


def test_default_collate_is_what_the_loader_does_without_collate_fn():
    samples = [Pairs()[i] for i in range(3)]
    X, y = default_collate(samples)
    np.testing.assert_array_equal(X.numpy(), [[0, 0], [1, -1], [2, -2]])
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2]
    (X2, y2), = list(DataLoader(Pairs(), batch_size=3, sampler=[0, 1, 2]))
    np.testing.assert_array_equal(X2.numpy(), X.numpy())
    with pytest.raises(ValueError, match="no samples"):
        default_collate([])


def test_batch_sampler_gives_the_batches():
    X = np.arange(14.0).reshape(7, 2)
    loader = DataLoader(TensorDataset(X), batch_sampler=[[6, 0], [3], [1, 2, 4]])
    got = [batch[0].numpy()[:, 0].tolist() for batch in loader]
    assert got == [[12.0, 0.0], [6.0], [2.0, 4.0, 8.0]]
    assert len(loader) == 3
    assert [len(b[0]) for b in DataLoader(Pairs(), batch_sampler=[[1, 2], [5]])] == [2, 1]


def test_batch_sampler_excludes_the_batching_options():
    for options in ({"batch_size": 4}, {"shuffle": True}, {"sampler": [0]},
                    {"drop_last": True}):
        with pytest.raises(ValueError, match="mutually exclusive"):
            DataLoader(Pairs(), batch_sampler=[[0]], **options)
    with pytest.raises(TypeError, match="batch_sampler has no len"):
        len(DataLoader(Pairs(), batch_sampler=iter([[0]])))


def test_worker_options_are_accepted_and_give_the_batches_of_num_workers_0():
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20)
    generator = np.random.default_rng(3)
    generator.integers(2**63)  # the workers' base seed is drawn first, as in PyTorch
    plain = DataLoader(TensorDataset(X, y), batch_size=6, shuffle=True, seed=generator)
    ported = DataLoader(TensorDataset(X, y), batch_size=6, shuffle=True, seed=3, num_workers=4,
                        pin_memory=True, persistent_workers=True, prefetch_factor=2,
                        worker_init_fn=lambda worker_id: None, timeout=0)
    for (a, b), (c, d) in zip(plain, ported, strict=True):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="num_workers must be an integer >= 0, got -1"):
        DataLoader(Pairs(), num_workers=-1)
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(Pairs(), collate_fn=3)
    with pytest.raises(ValueError, match="batch_size=None .* exclusive with drop_last"):
        DataLoader(Pairs(), batch_size=None, drop_last=True)


def test_batch_size_none_yields_the_samples_one_by_one():
    """Batching off: sample i as it is, its arrays Tensors (tests/test_data_unbatched.py
    has the rest)."""
    samples = list(DataLoader(Pairs(), batch_size=None))
    assert len(samples) == 7
    x, label = samples[4]
    np.testing.assert_array_equal(x.numpy(), [4.0, -4.0])
    assert label == 1


def test_tg_data_is_the_module():
    assert tg.data.default_collate is default_collate
