"""Audit of the shape-manipulation surface outside the reading path (split/chunk/tensor_split,
movedim, roll, flip, rot90, repeat/tile/repeat_interleave, narrow, diag/diagonal/diag_embed,
tril/triu, meshgrid, combinations, stacks, block_diag, broadcast_to, ...): the bugs fixed,
then PyTorch's behaviour checked and pinned, every reference written in plain NumPy."""

import itertools

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd import gradcheck, gradgradcheck


def T(values, **kwargs):
    return tg.tensor(np.asarray(values), **kwargs)


def leaf(rng, *shape):
    return T(rng.standard_normal(shape), requires_grad=True)  # float64


# --- bugs fixed ---

def test_broadcast_to_takes_minus_one_to_keep_a_size():
    # PyTorch's broadcast_to is expand: -1 keeps that dim's size
    assert tg.broadcast_to(T([1.0, 2.0]), (3, -1)).shape == (3, 2)
    assert T(np.zeros((2, 1))).broadcast_to((4, -1, 5)).shape == (4, 2, 5)
    with pytest.raises(ValueError, match=r"cannot broadcast shape \(3,\) to \(2,\)"):
        T([1.0, 2.0, 3.0]).broadcast_to((2,))


def test_split_refuses_negative_sizes_that_happen_to_add_up():
    with pytest.raises(ValueError, match=r"split: sizes must be non-negative, got \[7, -1\]"):
        tg.split(T(np.arange(6.0)), [7, -1])
    with pytest.raises(ValueError, match="non-negative"):
        T(np.arange(6.0)).split((-1, 7))


def test_swapaxes_swapdims_and_movedim_of_a_0d_tensor_are_itself():
    x = T(3.0)
    for result in (tg.swapaxes(x, 0, -1), tg.swapdims(x, -1, 0), tg.movedim(x, 0, -1),
                   x.moveaxis(0, 0)):
        assert result.shape == () and result.item() == 3.0
    with pytest.raises(IndexError, match="swapaxes: dim 1 is out of range"):
        tg.swapaxes(x, 0, 1)


def test_narrow_with_a_negative_length_names_the_length():
    with pytest.raises(ValueError, match="narrow: length must be non-negative, got -1"):
        T(np.zeros(4)).narrow(0, 0, -1)


def test_tile_with_negative_dims_names_tile():
    with pytest.raises(ValueError, match=r"tile: dims must be non-negative, got \(-1,\)"):
        T(np.zeros((2, 3))).tile(-1)


# --- splitting (pinned) ---

def test_split_chunk_and_tensor_split_follow_pytorchs_sizes():
    x = T(np.arange(7))
    assert [p.tolist() for p in tg.split(x, 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [p.tolist() for p in x.split([2, 5])] == [[0, 1], [2, 3, 4, 5, 6]]
    with pytest.raises(ValueError, match="do not add up to 7"):
        tg.split(x, [2, 3])
    # chunk: each ceil(n / chunks) long, so 6 elements in 4 chunks are 3 chunks of 2
    assert [p.tolist() for p in tg.chunk(T(np.arange(6)), 4)] == [[0, 1], [2, 3], [4, 5]]
    assert [p.shape for p in T(np.zeros((0, 2))).chunk(3)] == [(0, 2)] * 3
    # tensor_split: the first n % k sections one longer; indices; tensors of either
    assert [p.tolist() for p in tg.tensor_split(x, 3)] == [[0, 1, 2], [3, 4], [5, 6]]
    assert [p.shape for p in tg.tensor_split(T(np.zeros(3)), 5)] == [(1,)] * 3 + [(0,)] * 2
    assert [p.tolist() for p in x.tensor_split([1, 5, -1])] == [[0], [1, 2, 3, 4], [5], [6]]
    assert [p.tolist() for p in tg.tensor_split(x, T([1, 5]))] == [[0], [1, 2, 3, 4], [5, 6]]
    assert [p.tolist() for p in tg.tensor_split(x, T(3))] == [[0, 1, 2], [3, 4], [5, 6]]
    with pytest.raises(TypeError, match="0-d or 1-D integer tensor"):
        tg.tensor_split(x, T([1.0]))


def test_hsplit_vsplit_dsplit_and_unbind():
    m = T(np.arange(24.0).reshape(2, 3, 4))
    assert [p.shape for p in tg.hsplit(m, 3)] == [(2, 1, 4)] * 3
    assert [p.tolist() for p in tg.hsplit(T(np.arange(6)), 3)] == [[0, 1], [2, 3], [4, 5]]
    assert [p.shape for p in tg.vsplit(m, [1])] == [(1, 3, 4)] * 2
    assert [p.shape for p in tg.dsplit(m, [1, 3])] == [(2, 3, 1), (2, 3, 2), (2, 3, 1)]
    with pytest.raises(ValueError, match="dim 1 of size 3 .* does not split into 2"):
        tg.hsplit(m, 2)
    with pytest.raises(ValueError, match="vsplit: expected a tensor with at least 2 dims"):
        tg.vsplit(T([1.0, 2.0]), 1)
    pieces = tg.unbind(m, -1)
    assert len(pieces) == 4 and np.array_equal(pieces[1].numpy(), np.arange(24.0).reshape(2, 3, 4)[..., 1])


# --- rearranging (pinned) ---

def test_movedim_roll_flip_and_rot90_match_numpy():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = T(a)
    assert tg.movedim(x, [0, 1], [2, 0]).shape == np.moveaxis(a, [0, 1], [2, 0]).shape
    assert np.array_equal(tg.moveaxis(x, -1, 0).numpy(), np.moveaxis(a, -1, 0))
    assert np.array_equal(x.swapdims(0, -1).numpy(), np.swapaxes(a, 0, 2))
    assert np.array_equal(tg.roll(x, (1, -7), (0, 2)).numpy(), np.roll(a, (1, -7), (0, 2)))
    assert np.array_equal(tg.roll(x, 5).numpy(), np.roll(a, 5))  # no dims: flattened
    assert tg.roll(T(np.arange(6)), (1, 1), (0, 0)).tolist() == [4, 5, 0, 1, 2, 3]
    with pytest.raises(ValueError, match="roll: without dims give one shift"):
        tg.roll(x, (1, 2))
    assert np.array_equal(x.flip(0, 2).numpy(), a[::-1, :, ::-1])
    assert np.array_equal(tg.fliplr(x).numpy(), a[:, ::-1])
    assert np.array_equal(tg.flipud(x).numpy(), a[::-1])
    for k in range(-5, 6):
        assert np.array_equal(tg.rot90(x, k, (1, 2)).numpy(), np.rot90(a, k, (1, 2)))
    assert np.array_equal(tg.rot90(x, -1, [-1, 0]).numpy(), np.rot90(a, -1, (2, 0)))


def test_repeat_tile_and_repeat_interleave():
    a = np.arange(6).reshape(2, 3)
    x = T(a)
    assert np.array_equal(x.repeat(2, 1, 2).numpy(), np.tile(a, (2, 1, 2)))  # prepends dims
    with pytest.raises(ValueError, match="give at least one per dim"):
        x.repeat(2)
    assert np.array_equal(x.tile(2).numpy(), np.tile(a, (1, 2)))          # pads with 1s
    assert np.array_equal(tg.tile(x, (2, 1, 1)).numpy(), np.tile(a, (2, 1, 1)))
    assert tg.repeat_interleave(x, 2).tolist() == np.repeat(a, 2).tolist()  # dim=None
    assert np.array_equal(x.repeat_interleave(T([1, 0, 2]), dim=-1).numpy(),
                          np.repeat(a, [1, 0, 2], axis=1))
    assert x.repeat_interleave(3, dim=0, output_size=6).shape == (6, 3)
    assert tg.repeat_interleave(T([2, 0, 1])).tolist() == [0, 0, 2]
    with pytest.raises(ValueError, match="give one count, or one per element"):
        x.repeat_interleave(T([1, 2]), dim=1)


def test_narrow_diag_diagonal_diag_embed_and_triangles():
    a = np.arange(12.0).reshape(3, 4)
    assert T(np.arange(6)).narrow(0, -3, 2).tolist() == [3, 4]
    assert T(np.arange(6)).narrow(0, T(1), 2).tolist() == [1, 2]
    assert np.array_equal(tg.diag(T([1.0, 2.0]), -1).numpy(), np.diag([1.0, 2.0], -1))
    assert np.array_equal(tg.diag(T(a), 1).numpy(), np.diag(a, 1))
    b = np.arange(24.0).reshape(2, 3, 4)
    assert np.array_equal(tg.diagonal(T(b), 1, -1, 0).numpy(), np.diagonal(b, 1, 2, 0))
    # diag_embed: out[..., i, j] = x[..., k] on diagonal `offset` of the new dims dim1, dim2
    for offset, dim1, dim2 in [(1, 0, 2), (-1, 2, 0), (0, -1, -3)]:
        m = a.shape[-1] + abs(offset)
        expected = np.zeros(a.shape[:-1] + (m, m))
        for k in range(a.shape[-1]):
            expected[..., k + max(-offset, 0), k + max(offset, 0)] = a[..., k]
        expected = np.moveaxis(expected, (-2, -1), (dim1, dim2))
        assert np.array_equal(tg.diag_embed(T(a), offset, dim1, dim2).numpy(), expected)
    assert np.array_equal(tg.tril(T(b), -1).numpy(), np.tril(b, -1))
    assert np.array_equal(T(b).triu(2).numpy(), np.triu(b, 2))


def test_diagonal_is_a_view_and_diag_a_copy():
    base = T(np.zeros((2, 3)))
    base.diagonal(1).fill_(5.0)
    assert base.tolist() == [[0.0, 5.0, 0.0], [0.0, 0.0, 5.0]]
    other = T(np.zeros((2, 2)))
    tg.diag(other).fill_(5.0)
    assert other.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    # an in-place write through the view: the gradient goes through it
    x = T(np.ones((3, 3)), requires_grad=True)
    y = x * 1
    y.diagonal().mul_(2.0)
    (y * T(np.arange(9.0).reshape(3, 3))).sum().backward()
    assert np.array_equal(x.grad.numpy(), np.arange(9.0).reshape(3, 3) * (1 + np.eye(3)))


def test_grids_combinations_stacks_and_block_diag():
    grids = tg.meshgrid(T([1, 2]), T([3, 4, 5]), T([6, 7, 8, 9]), indexing="xy")
    for got, want in zip(grids, np.meshgrid([1, 2], [3, 4, 5], [6, 7, 8, 9], indexing="xy")):
        assert np.array_equal(got.numpy(), want)
    assert [g.shape for g in tg.meshgrid([T([1, 2]), T([3, 4, 5])])] == [(2, 3)] * 2
    assert tg.cartesian_prod(T([1, 2]), T([3, 4, 5])).tolist() == \
        [list(p) for p in itertools.product([1, 2], [3, 4, 5])]
    assert tg.combinations(T([1, 2, 3]), 2).tolist() == [[1, 2], [1, 3], [2, 3]]
    assert tg.combinations(T([1, 2, 3]), 2, with_replacement=True).tolist() == \
        [list(p) for p in itertools.combinations_with_replacement([1, 2, 3], 2)]
    assert tg.combinations(T([1, 2]), 3).shape == (0, 3)
    assert (tg.atleast_1d(T(1.0)).shape, tg.atleast_2d(T([1.0, 2.0])).shape,
            tg.atleast_3d(T([1.0, 2.0])).shape, tg.atleast_3d(T(np.zeros((3, 4)))).shape) == \
        ((1,), (1, 2), (1, 2, 1), (3, 4, 1))
    assert tg.column_stack([T([1, 2]), T([[3], [4]])]).tolist() == [[1, 3], [2, 4]]
    assert tg.row_stack([T([1, 2]), T([3, 4])]).tolist() == [[1, 2], [3, 4]]
    assert tg.hstack([T([1]), T([2, 3])]).tolist() == [1, 2, 3]
    assert tg.vstack([T([1, 2]), T([[3, 4]])]).shape == (2, 2)
    assert tg.dstack([T([1, 2]), T([3, 4])]).shape == (1, 2, 2)
    assert tg.block_diag(T([[1, 2]]), T(3), T([4, 5])).tolist() == \
        [[1, 2, 0, 0, 0], [0, 0, 3, 0, 0], [0, 0, 0, 4, 5]]


def test_flatten_unflatten_squeeze_as_and_take_along_dim():
    b = T(np.zeros((2, 3, 4)))
    assert tg.flatten(b, 1).shape == (2, 12)
    assert tg.unflatten(b, 2, (2, -1)).shape == (2, 3, 2, 2)
    assert T(np.zeros((1, 2, 1, 1))).squeeze((0, -1)).shape == (2, 1)
    assert T(np.arange(6.0)).view_as(T(np.zeros((2, 3)))).shape == (2, 3)
    assert T(np.arange(6.0)).reshape_as(T(np.zeros((3, 2)))).shape == (3, 2)
    assert T([[1.0], [2.0]]).expand_as(T(np.zeros((2, 3)))).tolist() == [[1.0] * 3, [2.0] * 3]
    a = np.arange(12.0).reshape(3, 4)
    index = np.array([[0, 1, 2, 0]])
    assert np.array_equal(tg.take_along_dim(T(a), T(index), 0).numpy(),
                          np.take_along_axis(a, index, 0))          # broadcast outside dim
    assert tg.take_along_dim(T(a), T([0, 11])).tolist() == [0.0, 11.0]
    shapes = [t.shape for t in tg.broadcast_tensors(T([[1], [2]]), T([1, 2, 3]))]
    assert shapes == [(2, 3), (2, 3)]


# --- gradients (float64 gradchecks) ---

GRADIENT_CASES = {
    "split": ((3, 4), lambda t: tg.split(t, [1, 3], 1)[1] * 2),
    "chunk": ((3, 4), lambda t: tg.stack([c.sum(0) for c in t.chunk(2, 1)])),
    "tensor_split": ((3, 4), lambda t: tg.tensor_split(t, 3, 1)[0] ** 2),
    "hsplit": ((2, 3, 4), lambda t: tg.hsplit(t, [1])[1]),
    "unbind": ((3, 4), lambda t: tg.stack(list(tg.unbind(t, 1))[::-1], 0)),
    "movedim": ((2, 3, 4), lambda t: tg.movedim(t, [0, 1], [2, 0]) ** 2),
    "roll": ((2, 3, 4), lambda t: tg.roll(t, (1, -2), (0, 2)) ** 2),
    "roll_flat": ((2, 3, 4), lambda t: tg.roll(t, 5) ** 2),
    "flip": ((2, 3, 4), lambda t: tg.flip(t, (0, 2)) ** 2),
    "rot90": ((2, 3, 4), lambda t: tg.rot90(t, -1, (2, 1)) ** 2),
    "repeat": ((3, 4), lambda t: t.repeat(2, 1, 2)),
    "tile": ((3, 4), lambda t: t.tile(2)),
    "repeat_interleave_tensor": ((3, 4), lambda t: tg.repeat_interleave(t, T([2, 0, 3]), 0)),
    "repeat_interleave_flat": ((3, 4), lambda t: tg.repeat_interleave(t, 2)),
    "narrow": ((3, 4), lambda t: t.narrow(1, -3, 2)),
    "diag_1d": ((5,), lambda t: tg.diag(t, -2)),
    "diag_2d": ((3, 4), lambda t: tg.diag(t, 1)),
    "diagonal": ((2, 3, 4), lambda t: tg.diagonal(t, 1, -1, 0) ** 2),
    "diagonal_of_a_result": ((2, 3, 4), lambda t: (t * 1).diagonal(-1, 1, 2) ** 2),
    "diag_embed": ((3, 4), lambda t: tg.diag_embed(t, 1, 0, 2)),
    "triangles": ((2, 3, 4), lambda t: tg.tril(t, -1) + t.triu(2)),
    "combinations": ((5,), lambda t: tg.combinations(t, 3, with_replacement=True) ** 2),
    "atleast_3d": ((5,), lambda t: tg.atleast_3d(t) * 2),
    "unflatten_squeeze": ((2, 3, 4), lambda t: tg.unflatten(t, 2, (2, 2)).reshape(1, 2, 3, 1, 4)
                          .squeeze((0, 3)) * 2),
    "take_along_dim": ((3, 4), lambda t: tg.take_along_dim(t, T([[0], [3], [3]]), 1)),
    "broadcast_to": ((3, 1), lambda t: tg.broadcast_to(t, (2, -1, 4)) ** 2),
    "expand_as": ((3, 4), lambda t: t.expand_as(T(np.zeros((2, 3, 4)))) ** 2),
    "swapaxes": ((3, 4), lambda t: t.swapaxes(0, 1) ** 2),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_gradients_of_the_shape_ops(name, rng):
    shape, function = GRADIENT_CASES[name]
    assert gradcheck(function, (leaf(rng, *shape),))


def test_gradients_of_the_ops_of_several_tensors(rng):
    s, t = leaf(rng, 5), leaf(rng, 3)
    assert gradcheck(lambda s, t: tg.meshgrid(s, t, indexing="xy")[0]
                     * tg.meshgrid(s, t, indexing="xy")[1], (s, t))
    assert gradcheck(lambda s, t: tg.cartesian_prod(s, t) ** 2, (s, t))
    assert gradcheck(lambda s, t: tg.column_stack([s, t.reshape(3, 1)]), (leaf(rng, 3), t))
    assert gradcheck(lambda s, t: tg.dstack([s, t]), (leaf(rng, 3), t))
    assert gradcheck(lambda s, t: tg.block_diag(s, t), (leaf(rng, 3, 4), s))
    assert gradcheck(lambda s, t: tg.broadcast_tensors(s, t)[0] * tg.broadcast_tensors(s, t)[1],
                     (leaf(rng, 3, 1), leaf(rng, 4)))


def test_second_order_through_diagonal_and_repeat_interleave(rng):
    x = leaf(rng, 3, 4)
    assert gradgradcheck(lambda t: tg.diagonal(t, 1) ** 2, (x,))
    assert gradgradcheck(lambda t: tg.repeat_interleave(t, T([1, 2, 0]), 0) ** 2, (x,))


def test_flatten_refuses_start_dim_after_end_dim():
    """(2, 3, 4).flatten(2, 1) gave shape (2, 3, 1, 4) silently; PyTorch refuses it."""
    x = tg.zeros(2, 3, 4)
    for start, end in [(2, 1), (2, 0), (-1, 0)]:
        with pytest.raises(RuntimeError, match="cannot come after end_dim"):
            x.flatten(start, end)
    assert x.flatten(1, 1).shape == (2, 3, 4) and x.flatten(-2).shape == (2, 12)


def test_transpose_of_a_0d_tensor_is_a_view_of_it():
    """PyTorch allows dims 0 and -1 on a 0-d tensor (IndexError here before)."""
    x = tg.tensor(2.0, requires_grad=True)
    y = x.transpose(0, -1)
    assert y.shape == () and y.item() == 2.0
    (y * 3).backward()
    assert x.grad.item() == 3.0
    with pytest.raises(IndexError, match="out of range"):
        x.transpose(0, 1)
