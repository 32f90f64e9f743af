"""DataLoader(batch_size=None): batching off, PyTorch's rules. Each sample comes on its own,
in the sampler's (or the stream's) order, through ``default_convert``: arrays and NumPy
scalars become Tensors on the loader's device, structures are kept (a tuple becomes a
list, as PyTorch), Python numbers and strings stay as they are."""

from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import data
from tinygrad_opt.data import (DataLoader, Dataset, IterableDataset, TensorDataset,
                               default_convert)

Point = namedtuple("Point", ["x", "label"])


class Rows(Dataset):
    """Sample i: (float32 array [i, 10·i], i)."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.array([i, 10 * i], dtype=np.float32), i


class Stream(IterableDataset):
    """The dicts {'x': int64 array [k, k²], 'name': 'k'} for k = 0..3, a stream."""

    def __iter__(self):
        for k in range(4):
            yield {"x": np.array([k, k * k]), "name": str(k)}


def test_default_convert_follows_pytorchs_rules(device):
    converted = default_convert(np.arange(6.0).reshape(2, 3), device)
    assert isinstance(converted, tg.Tensor) and converted.shape == (2, 3)
    assert converted.device == device and converted.dtype == np.float64
    np.testing.assert_array_equal(converted.numpy(), np.arange(6.0).reshape(2, 3))
    scalar = default_convert(np.float32(1.5), device)
    assert scalar.shape == () and scalar.dtype == np.float32 and scalar.item() == 1.5
    assert default_convert(3, device) == 3 and isinstance(default_convert(3), int)
    assert default_convert(2.5, device) == 2.5 and default_convert("a", device) == "a"
    strings = np.array(["a", "b"])
    assert default_convert(strings, device) is strings
    as_list = default_convert((np.int64(7), "s", 1.0), device)
    assert isinstance(as_list, list) and as_list[1:] == ["s", 1.0]
    assert as_list[0].dtype == np.int64 and as_list[0].item() == 7
    point = default_convert(Point(np.ones(2), 4), device)
    assert type(point) is Point and point.label == 4
    np.testing.assert_array_equal(point.x.numpy(), [1.0, 1.0])
    nested = default_convert(OrderedDict(a=[np.zeros(1), {"b": np.int32(2)}]), device)
    assert type(nested) is OrderedDict and isinstance(nested["a"], list)
    assert nested["a"][1]["b"].dtype == np.int32 and nested["a"][0].device == device


def test_default_convert_moves_tensors_to_the_device(device):
    host = tg.tensor([1.0, 2.0])
    moved = default_convert(host, device)
    assert moved.device == device and moved.numpy().tolist() == [1.0, 2.0]
    assert default_convert(host, "cpu") is host
    on_device = tg.tensor([3.0], device=device)
    assert default_convert(on_device, device) is on_device


def test_unbatched_loader_yields_each_sample_converted(device):
    loader = DataLoader(Rows(), batch_size=None, device=device)
    assert len(loader) == 5
    samples = list(loader)
    assert len(samples) == 5
    for i, (x, label) in enumerate(samples):
        assert x.shape == (2,) and x.dtype == np.float32 and x.device == device
        np.testing.assert_array_equal(x.numpy(), [i, 10 * i])
        assert label == i and isinstance(label, int)      # a Python number stays one


def test_unbatched_loader_follows_the_sampler_and_shuffle():
    loader = DataLoader(Rows(), batch_size=None, sampler=[3, 0, 3])
    assert len(loader) == 3
    assert [label for _, label in loader] == [3, 0, 3]
    shuffled = DataLoader(Rows(), batch_size=None, shuffle=True, seed=5)
    order = [label for _, label in shuffled]
    assert order == np.random.default_rng(5).permutation(5).tolist()


def test_unbatched_tensor_dataset_gives_rows_without_a_batch_dim(device):
    X, y = np.arange(8.0).reshape(4, 2), np.arange(4)
    rows = list(DataLoader(TensorDataset(X, y), batch_size=None, device=device))
    assert len(rows) == 4 and isinstance(rows[0], list)   # PyTorch: a tuple becomes a list
    x2, y2 = rows[2]
    assert x2.shape == (2,) and y2.shape == () and y2.dtype == np.int64
    np.testing.assert_array_equal(x2.numpy(), [4.0, 5.0])
    assert y2.item() == 2 and x2.device == device


def test_unbatched_iterable_dataset(device):
    loader = DataLoader(Stream(), batch_size=None, device=device)
    samples = list(loader)
    assert [s["name"] for s in samples] == ["0", "1", "2", "3"]
    for k, sample in enumerate(samples):
        assert sample["x"].device == device and sample["x"].dtype == np.int64
        np.testing.assert_array_equal(sample["x"].numpy(), [k, k * k])
    with pytest.raises(TypeError, match="has no __len__"):
        len(loader)


def test_unbatched_collate_fn_gets_one_sample_at_a_time():
    loader = DataLoader(Rows(), batch_size=None, collate_fn=lambda sample: sample[1] * 2)
    assert list(loader) == [0, 2, 4, 6, 8]


def test_unbatched_errors_and_names():
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(Rows(), batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="unspecified shuffle"):
        DataLoader(Stream(), batch_size=None, shuffle=True)
    assert "default_convert" in data.__all__ and data.default_convert is default_convert
    assert DataLoader(Rows(), batch_size=None).batch_size is None
