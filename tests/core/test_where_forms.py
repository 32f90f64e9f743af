"""``tg.where``'s two forms, as ``torch.where``: three arguments select elementwise (the
``Where`` op, gradients to both branches); the condition alone gives the positions where
it holds, ``nonzero(condition, as_tuple=True)``."""

import numpy as np
import pytest

import tinygrad_opt as tg


@pytest.mark.parametrize("shape", [(2, 3), (4,), (), (0, 2), (2, 1, 3)])
def test_the_condition_alone_gives_its_positions_per_dim(device, rng, shape):
    mask = rng.random(shape) < 0.5
    positions = tg.where(tg.tensor(mask, device=device))
    expected = np.nonzero(mask.reshape(1) if mask.ndim == 0 else mask)
    assert isinstance(positions, tuple) and len(positions) == len(expected)
    for ours, theirs in zip(positions, expected):
        assert ours.dtype == tg.int64 and ours.numpy().tolist() == theirs.tolist()


def test_a_numeric_condition_counts_its_nonzero_entries():
    rows, columns = tg.where(tg.tensor([[0.0, 2.5], [-1.0, 0.0]]))
    assert rows.tolist() == [0, 1] and columns.tolist() == [1, 0]


def test_three_arguments_still_select_with_gradients(device):
    x = tg.tensor([1.0, -2.0, 3.0], dtype=tg.float64, device=device, requires_grad=True)
    y = tg.where(x > 0, x * 2, 0.0)
    y.sum().backward()
    assert y.tolist() == [2.0, 0.0, 6.0] and x.grad.tolist() == [2.0, 0.0, 2.0]


def test_one_branch_alone_is_refused():
    with pytest.raises(TypeError, match="where: expected where\\(condition\\) or"):
        tg.where(tg.tensor([True]), 1.0)
