"""``tinygrad_opt.utils.data``: torch.utils.data's spelling of ``tinygrad_opt.data``."""

import numpy as np
import pytest

import tinygrad_opt as tg


def test_torch_spelling_imports_the_same_objects():
    from tinygrad_opt.utils.data import DataLoader, TensorDataset, random_split
    assert DataLoader is tg.data.DataLoader and TensorDataset is tg.data.TensorDataset
    assert random_split is tg.data.random_split
    assert tg.utils.data.DataLoader is tg.data.DataLoader
    assert "DataLoader" in dir(tg.utils.data)


def test_a_loader_made_through_the_alias_batches():
    from tinygrad_opt.utils.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(np.arange(6.0).reshape(3, 2)), batch_size=2)
    batches = [batch[0].numpy().tolist() for batch in loader]
    assert batches == [[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0]]]


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        tg.utils.data.NoSuchLoader
