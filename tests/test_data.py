"""DataLoader, TensorDataset, Subset, random_split, standardize and balanced_indices."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt.data import (DataLoader, Dataset, Subset, TensorDataset, balanced_indices,
                               random_split, standardize)


def _dataset(n=103):
    """Row i has features (i, -i) and label i % 5, so every batch can be checked."""
    X = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float32)   # (n, 2)
    y = (np.arange(n) % 5).astype(np.int64)                                   # (n,)
    return TensorDataset(X, y)


def _epoch_rows(loader):
    """The row ids one epoch visits, in order, after checking features and labels agree."""
    rows = []
    for X, y in loader:
        features = X.numpy()
        ids = features[:, 0].astype(np.int64)
        np.testing.assert_array_equal(features[:, 1], -features[:, 0])
        np.testing.assert_array_equal(y.numpy(), ids % 5)
        rows.append(ids)
    return np.concatenate(rows) if rows else np.zeros(0, np.int64)


# --- TensorDataset and Subset ----------------------------------------------------

def test_tensor_dataset_indexing_returns_tuples():
    X = np.arange(12.0).reshape(6, 2)
    y = np.arange(6)
    ds = TensorDataset(X, y)
    assert len(ds) == 6
    item = ds[4]
    assert isinstance(item, tuple) and len(item) == 2
    np.testing.assert_array_equal(item[0], [8.0, 9.0])
    assert item[1] == 4


def test_tensor_dataset_accepts_tensors():
    ds = TensorDataset(tg.tensor(np.arange(6.0).reshape(3, 2)), tg.tensor([0, 1, 2]))
    features, label = ds[1]
    assert isinstance(features, tg.Tensor)
    np.testing.assert_array_equal(features.numpy(), [2.0, 3.0])
    assert label.item() == 1


def test_tensor_dataset_length_mismatch_names_the_lengths():
    with pytest.raises(ValueError, match=r"\[5, 4\]"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError):
        TensorDataset()


def test_subset_maps_indices():
    ds = _dataset(10)
    sub = Subset(ds, [7, 2, 2])
    assert len(sub) == 3
    assert sub[0][0].tolist() == [7.0, -7.0]
    assert sub[2][1] == 2


# --- DataLoader: epochs ---------------------------------------------------------

def test_every_sample_once_in_order_without_shuffle():
    loader = DataLoader(_dataset(103), batch_size=10)
    np.testing.assert_array_equal(_epoch_rows(loader), np.arange(103))
    assert len(loader) == 11
    assert [len(y) for _, y in loader] == [10] * 10 + [3]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), drop_last=st.booleans(),
       seed=st.integers(0, 10))
def test_every_sample_exactly_once_per_epoch(n, batch_size, drop_last, seed):
    loader = DataLoader(_dataset(n), batch_size=batch_size, shuffle=True, drop_last=drop_last,
                        seed=seed)
    for _ in range(2):
        rows = _epoch_rows(loader)
        if drop_last:
            assert len(rows) == (n // batch_size) * batch_size
            assert len(np.unique(rows)) == len(rows)  # no repeats
        else:
            np.testing.assert_array_equal(np.sort(rows), np.arange(n))
        assert len(loader) == (n // batch_size if drop_last else -(-n // batch_size))


def test_shuffle_reproducible_and_different_each_epoch():
    first = DataLoader(_dataset(), batch_size=8, shuffle=True, seed=5)
    second = DataLoader(_dataset(), batch_size=8, shuffle=True, seed=5)
    epochs_first = [_epoch_rows(first) for _ in range(3)]
    epochs_second = [_epoch_rows(second) for _ in range(3)]
    for a, b in zip(epochs_first, epochs_second):
        np.testing.assert_array_equal(a, b)           # same seed, same sequence of epochs
    assert not np.array_equal(epochs_first[0], epochs_first[1])
    assert not np.array_equal(epochs_first[1], epochs_first[2])
    assert not np.array_equal(epochs_first[0], np.arange(103))
    other = DataLoader(_dataset(), batch_size=8, shuffle=True, seed=6)
    assert not np.array_equal(_epoch_rows(other), epochs_first[0])


def test_shuffle_without_seed_follows_manual_seed():
    loader = DataLoader(_dataset(), batch_size=8, shuffle=True)
    tg.manual_seed(3)
    a = _epoch_rows(loader)
    tg.manual_seed(3)
    b = _epoch_rows(loader)
    np.testing.assert_array_equal(a, b)


def test_drop_last():
    loader = DataLoader(_dataset(103), batch_size=10, drop_last=True)
    sizes = [len(y) for _, y in loader]
    assert sizes == [10] * 10 and len(loader) == 10
    np.testing.assert_array_equal(_epoch_rows(loader), np.arange(100))


def test_sampler_order_and_repeats():
    loader = DataLoader(_dataset(20), batch_size=3, sampler=[5, 1, 1, 7, 19])
    np.testing.assert_array_equal(_epoch_rows(loader), [5, 1, 1, 7, 19])
    assert len(loader) == 2
    np.testing.assert_array_equal(_epoch_rows(loader), [5, 1, 1, 7, 19])  # re-iterated


def test_sampler_object_with_fresh_order_each_epoch():
    class Reversed:
        def __init__(self):
            self.calls = 0

        def __iter__(self):
            self.calls += 1
            return iter(range(4 + self.calls, -1, -1))

    sampler = Reversed()
    loader = DataLoader(_dataset(20), batch_size=4, sampler=sampler)
    np.testing.assert_array_equal(_epoch_rows(loader), [5, 4, 3, 2, 1, 0])
    np.testing.assert_array_equal(_epoch_rows(loader), [6, 5, 4, 3, 2, 1, 0])


def test_sampler_excludes_shuffle():
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(_dataset(), sampler=[0, 1], shuffle=True)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_dataset(), batch_size=batch_size)


# --- DataLoader: batches -----------------------------------------------------------

def test_batches_are_tensors_on_device_with_dtypes_kept(device):
    X = np.random.default_rng(0).standard_normal((30, 3))          # float64
    y = np.arange(30, dtype=np.int64)
    w = np.ones((30, 2), dtype=np.float32)
    loader = DataLoader(TensorDataset(X, y, w), batch_size=7, shuffle=True, seed=0, device=device)
    seen = []
    for batch in loader:
        assert isinstance(batch, list) and len(batch) == 3     # PyTorch's [X, y, w]
        features, labels, weights = batch
        assert all(isinstance(t, tg.Tensor) and t.device == device for t in batch)
        assert features.dtype == np.float64 and labels.dtype == np.int64
        assert weights.dtype == np.float32 and not features.requires_grad
        np.testing.assert_array_equal(features.numpy(), X[labels.numpy()])
        seen.append(labels.numpy())
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(30))


def test_dataset_of_device_tensors(device):
    X = tg.tensor(np.arange(20.0).reshape(10, 2), device=device)
    y = tg.tensor(np.arange(10), device=device)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, seed=1, device="cpu")
    for features, labels in loader:
        assert features.device == "cpu" and labels.dtype == np.int64
        np.testing.assert_array_equal(features.numpy()[:, 0], 2.0 * labels.numpy())


def test_subset_of_tensor_dataset_through_loader(device):
    train, _ = random_split(_dataset(50), [30, 20], seed=0)
    inner = Subset(train, np.arange(10))                            # nested subsets
    expected = train.indices[:10]
    rows = _epoch_rows(DataLoader(inner, batch_size=4, device=device))
    np.testing.assert_array_equal(rows, expected)


def test_generic_dataset_is_collated(device):
    class Squares(Dataset):
        def __len__(self):
            return 9

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i, float(i) / 2

    batches = list(DataLoader(Squares(), batch_size=4, device=device))
    assert len(batches) == 3
    features, labels, halves = batches[0]
    assert features.device == device and features.dtype == np.float32
    assert labels.dtype == np.int64 and halves.dtype == np.float32
    np.testing.assert_array_equal(features.numpy(), [[0, 0], [1, 1], [2, 4], [3, 9]])
    np.testing.assert_array_equal(labels.numpy(), [0, 1, 2, 3])
    np.testing.assert_array_equal(batches[2][1].numpy(), [8])


def test_empty_dataset_gives_no_batches():
    loader = DataLoader(TensorDataset(np.zeros((0, 2)), np.zeros(0)), batch_size=3)
    assert list(loader) == [] and len(loader) == 0


# --- random_split -------------------------------------------------------------------

def test_random_split_counts_disjoint_and_covering():
    parts = random_split(_dataset(100), [60, 30, 10], seed=0)
    assert [len(p) for p in parts] == [60, 30, 10]
    everything = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(everything), np.arange(100))
    assert not np.array_equal(parts[0].indices, np.arange(60))   # random, not a prefix


@pytest.mark.parametrize("n, fractions, sizes", [(10, [0.7, 0.2, 0.1], [7, 2, 1]),
                                                 (11, [0.5, 0.5], [6, 5]),
                                                 (10, [0.34, 0.33, 0.33], [4, 3, 3])])
def test_random_split_fractions(n, fractions, sizes):
    parts = random_split(_dataset(n), fractions, seed=1)
    assert [len(p) for p in parts] == sizes
    assert len(np.unique(np.concatenate([p.indices for p in parts]))) == n


def test_random_split_reproducible():
    a = random_split(_dataset(), [0.8, 0.2], seed=9)
    b = random_split(_dataset(), [0.8, 0.2], seed=9)
    c = random_split(_dataset(), [0.8, 0.2], seed=10)
    np.testing.assert_array_equal(a[0].indices, b[0].indices)
    assert not np.array_equal(a[0].indices, c[0].indices)


@pytest.mark.parametrize("lengths", [[50, 40], [0.5, 0.4], [-1, 104], []])
def test_random_split_bad_lengths(lengths):
    with pytest.raises(ValueError, match="random_split"):
        random_split(_dataset(103), lengths)


# --- standardize --------------------------------------------------------------------

def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, (200, 3))
    val = rng.normal(-5.0, 0.5, (50, 3))
    train_std, val_std, (mean, std) = standardize(train, val)
    expected_mean = train.sum(axis=0) / len(train)
    expected_std = np.sqrt(((train - expected_mean) ** 2).sum(axis=0) / len(train))
    np.testing.assert_allclose(mean, expected_mean)
    np.testing.assert_allclose(std, expected_std)
    np.testing.assert_allclose(train_std.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(train_std.std(axis=0), 1.0)
    np.testing.assert_allclose(val_std, (val - expected_mean) / expected_std)
    assert abs(val_std.mean()) > 1.0                              # not re-centred on itself


def test_standardize_constant_feature_and_integers():
    train = np.array([[1, 5], [3, 5], [5, 5]])
    (train_std, (mean, std)) = standardize(train)
    assert train_std.dtype == np.float32
    np.testing.assert_allclose(std, [np.sqrt(8 / 3), 1.0], rtol=1e-6)
    np.testing.assert_allclose(train_std[:, 1], 0.0)
    assert np.all(np.isfinite(train_std))


def test_standardize_tensors(device):
    rng = np.random.default_rng(1)
    train = rng.normal(size=(20, 2)).astype(np.float32)
    test = rng.normal(size=(5, 2)).astype(np.float32)
    train_std, test_std, (mean, std) = standardize(tg.tensor(train, device=device),
                                                   tg.tensor(test, device=device))
    assert isinstance(test_std, tg.Tensor) and test_std.device == device
    assert mean.device == device and test_std.dtype == np.float32
    np.testing.assert_allclose(test_std.numpy(), (test - train.mean(0)) / train.std(0),
                               rtol=1e-5)


# --- balanced_indices -----------------------------------------------------------------

LABELS = np.array([0] * 50 + [1] * 10 + [2] * 5)


def test_oversampling_equal_counts_keeps_every_sample():
    indices = balanced_indices(LABELS, mode="over", seed=0)
    assert indices.dtype == np.int64
    assert np.bincount(LABELS[indices]).tolist() == [50, 50, 50]
    assert set(indices.tolist()) == set(range(len(LABELS)))      # nothing dropped
    assert np.all(np.bincount(indices)[:50] == 1)                 # majority untouched


def test_undersampling_equal_counts_without_replacement():
    indices = balanced_indices(LABELS, mode="under", seed=0)
    assert np.bincount(LABELS[indices]).tolist() == [5, 5, 5]
    assert len(np.unique(indices)) == len(indices)
    assert set(np.flatnonzero(LABELS == 2).tolist()) <= set(indices.tolist())


def test_balanced_indices_reproducible_shuffled_and_tensor_labels():
    a = balanced_indices(tg.tensor(LABELS), mode="over", seed=3)
    b = balanced_indices(LABELS, mode="over", seed=3)
    c = balanced_indices(LABELS, mode="over", seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.all(np.diff(LABELS[a]) >= 0)                   # classes mixed, not sorted


def test_balanced_indices_as_sampler():
    X = np.arange(len(LABELS), dtype=np.float32)[:, None]
    loader = DataLoader(TensorDataset(X, LABELS), batch_size=16,
                        sampler=balanced_indices(LABELS, "under", seed=0))
    labels = np.concatenate([y.numpy() for _, y in loader])
    assert np.bincount(labels).tolist() == [5, 5, 5]


def test_balanced_indices_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        balanced_indices(LABELS, mode="smote")
