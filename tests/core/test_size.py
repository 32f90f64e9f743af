"""``x.shape`` and ``x.size()`` are a ``tg.Size``, PyTorch's ``torch.Size``: a tuple of ints,
so every tuple idiom works, and its type lets the legacy constructors read
``tg.FloatTensor(x.shape)`` as a shape (it gave the values [2., 3.] before, silently)."""

import pickle

import numpy as np
import pytest

import tinygrad_opt as tg


def test_shape_and_size_are_sizes_that_behave_as_tuples(device):
    x = tg.zeros(2, 3, 4, device=device)
    for shape in (x.shape, x.size()):
        assert type(shape) is tg.Size and isinstance(shape, tuple)
        assert shape == (2, 3, 4) and tuple(shape) == (2, 3, 4) and list(shape) == [2, 3, 4]
        n, c, w = shape
        assert (n, c, w) == (2, 3, 4) and shape[-1] == 4 and type(shape[0]) is int
        assert hash(shape) == hash((2, 3, 4)) and {shape: 1}[(2, 3, 4)] == 1
        assert repr(shape) == "(2, 3, 4)" and f"{shape}" == "(2, 3, 4)"
    assert x.shape.numel() == 24 == x.numel() and tg.zeros(()).shape.numel() == 1
    assert type(x.shape[1:]) is tg.Size and x.shape[1:] == (3, 4)
    grown = x.shape + (5,)
    assert type(grown) is tg.Size and grown == (2, 3, 4, 5)
    assert (1,) + x.shape == (1, 2, 3, 4)  # (a tuple on the left: a tuple, as PyTorch)
    assert x.reshape(x.shape[0], -1).shape == (2, 12)
    assert tg.zeros(x.shape).shape == x.shape and np.zeros(x.shape).shape == (2, 3, 4)
    assert pickle.loads(pickle.dumps(x.shape)) == (2, 3, 4)


def test_a_legacy_constructor_reads_a_size_as_a_shape_and_a_tuple_as_values():
    x = tg.zeros(2, 3)
    empty = tg.FloatTensor(x.shape)
    assert empty.shape == (2, 3) and empty.dtype == tg.float32
    assert tg.DoubleTensor(x.size()).shape == (2, 3)
    np.testing.assert_array_equal(tg.FloatTensor((2, 3)).numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(tg.FloatTensor([2, 3]).numpy(), [2.0, 3.0])
    with pytest.raises(RuntimeError, match="negative dimension"):
        tg.FloatTensor(tg.Size((2, -1)))
