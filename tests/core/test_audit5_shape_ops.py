"""Audit of the shape and rearranging functions outside ops/shape.py (tensor_split, chunk,
unflatten, narrow, select, roll, repeat_interleave, rot90, block_diag, diag_embed, ...): the
bugs fixed, then PyTorch's behaviour pinned, every reference written in plain NumPy."""

import itertools

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd import gradcheck


def T(values, device="cpu", **kwargs):
    return tg.tensor(np.asarray(values), device=device, **kwargs)


def leaf(rng, *shape, device="cpu"):
    return T(rng.standard_normal(shape), device, requires_grad=True)  # float64


# --- bugs fixed ---

def test_narrow_of_a_0d_tensor_names_narrow(device):
    # PyTorch: "narrow() cannot be applied to a 0-dim tensor" (ours was NumPy's IndexError)
    with pytest.raises(IndexError, match="narrow: cannot be applied to a 0-d tensor"):
        tg.narrow(T(2.0, device), 0, 0, 1)
    a = np.arange(10.0)
    start = T(np.int64(-3), device)  # a 0-d integer tensor, counted from the end
    assert np.array_equal(tg.narrow(T(a, device), 0, start, 2).numpy(), a[-3:-1])


def test_roll_with_empty_dims_rolls_the_flattened_tensor(device, rng):
    # PyTorch's roll(x, s, dims=[]) is roll(x, s): the flattened tensor (ours raised)
    a = rng.standard_normal((3, 4))
    for dims in ([], ()):
        assert np.array_equal(tg.roll(T(a, device), 5, dims).numpy(), np.roll(a, 5))
    assert np.array_equal(T(a, device).roll(-2, []).numpy(), np.roll(a, -2))
    # PyTorch: "`shifts` required" (ours returned the tensor unrolled)
    with pytest.raises(ValueError, match="roll: shifts is required"):
        tg.roll(T(a, device), (), ())


def test_repeat_interleave_of_counts_alone_keeps_their_dtype(device):
    # PyTorch: the result of repeat_interleave(repeats) has the dtype of repeats (ours: int64)
    for dtype in (np.int32, np.int64):
        counts = np.array([2, 0, 3, 1], dtype=dtype)
        result = tg.repeat_interleave(T(counts, device))
        assert result.dtype == dtype
        assert np.array_equal(result.numpy(), np.repeat(np.arange(4), counts))
    empty = tg.repeat_interleave(T(np.zeros(0, dtype=np.int32), device))
    assert empty.shape == (0,) and empty.dtype == np.int32


def test_repeat_interleave_refuses_what_pytorch_refuses(device):
    # "repeat_interleave only accept 1D vector as repeat" (ours took a 0-d one)
    with pytest.raises(ValueError, match="repeats alone must be 1-D"):
        tg.repeat_interleave(T(np.int64(2), device))
    # "repeats has to be Long or Int tensor" (ours took uint8 and int16)
    for dtype in (np.uint8, np.int16):
        with pytest.raises(TypeError, match="repeats must be an int32 or int64 tensor"):
            tg.repeat_interleave(T(np.arange(3.0), device), T(np.ones(3, dtype=dtype), device))
        with pytest.raises(TypeError, match="repeats must be an int32 or int64 tensor"):
            tg.repeat_interleave(T(np.ones(3, dtype=dtype), device))
    a = np.arange(6.0).reshape(2, 3)
    repeats = np.array([1, 0, 2], dtype=np.int32)
    assert np.array_equal(tg.repeat_interleave(T(a, device), T(repeats, device), 1).numpy(),
                          np.repeat(a, repeats, axis=1))


def test_select_takes_numpy_and_tensor_integers(device):
    # PyTorch's int arguments take NumPy integers and one-element integer tensors
    a = np.arange(12.0).reshape(3, 4)
    for index in (np.int64(-1), np.int32(2), T(np.int64(1), device)):
        assert np.array_equal(tg.select(T(a, device), 1, index).numpy(), a[:, int(index)])
    out = tg.select_scatter(T(a, device), T(np.full(4, 9.0), device), 0, np.int64(-2))
    expected = a.copy()
    expected[-2] = 9.0
    assert np.array_equal(out.numpy(), expected)
    with pytest.raises(TypeError, match="select: index must be an int, got 1.0"):
        tg.select(T(a, device), 0, 1.0)
    with pytest.raises(TypeError, match="select: index must be an int, got True"):
        tg.select(T(a, device), 0, True)


def test_tensor_split_takes_numpy_integers(device):
    a = np.arange(11.0)
    pieces = tg.tensor_split(T(a, device), np.int64(4))
    expected = np.array_split(a, 4)  # the first size % n sections one longer, as PyTorch
    assert [p.numpy().tolist() for p in pieces] == [e.tolist() for e in expected]
    pieces = tg.tensor_split(T(a, device), [np.int64(2), np.int32(7)])
    assert [p.numpy().tolist() for p in pieces] == [e.tolist() for e in np.split(a, [2, 7])]
    with pytest.raises(TypeError, match=r"tensor_split: indices must be ints, got \[2.0\]"):
        tg.tensor_split(T(a, device), [2.0])


def test_unflatten_takes_numpy_integers_and_names_its_errors(device):
    a = np.arange(24.0).reshape(2, 12)
    result = tg.unflatten(T(a, device), -1, (np.int64(3), -1))
    assert np.array_equal(result.numpy(), a.reshape(2, 3, 4))
    # PyTorch: a -1 next to a 0 cannot be inferred (ours: the error of an inner reshape)
    with pytest.raises(ValueError, match=r"unflatten: sizes \(0, -1\) leave the −1 ambiguous"):
        tg.unflatten(T(np.zeros((2, 0)), device), 1, (0, -1))
    # a 0-d tensor has no dim (ours: "tuple index out of range")
    with pytest.raises(IndexError, match="unflatten: a 0-d tensor has no dim"):
        tg.unflatten(T(1.0, device), 0, (1,))


def test_chunk_of_a_0d_tensor_names_chunk(device):
    # PyTorch: "chunk expects at least a 1-dimensional tensor" (ours: "tuple index out of range")
    for call in (lambda x: x.chunk(1), lambda x: tg.chunk(x, 2)):
        with pytest.raises(IndexError, match="chunk: expected a tensor with at least 1 dim"):
            call(T(1.0, device))


# --- PyTorch's behaviour, pinned ---

def test_chunk_may_give_fewer_pieces(device):
    # PyTorch: pieces of ceil(n / chunks); 10 in 6 chunks gives 5 pieces of 2
    a = np.arange(10.0)
    for chunks in range(1, 12):
        size = -(-10 // chunks)
        expected = [a[i:i + size].tolist() for i in range(0, 10, size)]
        assert [p.numpy().tolist() for p in T(a, device).chunk(chunks)] == expected


def test_rot90_roll_and_triangles_match_numpy(device, rng):
    a = rng.standard_normal((2, 3, 4))
    x = T(a, device)
    for k, dims in itertools.product((-5, -1, 0, 2, 3, 4), ((0, 1), (2, 0), (-1, -2))):
        assert np.array_equal(tg.rot90(x, k, dims).numpy(),
                              np.rot90(a, k, axes=tuple(d % 3 for d in dims)))
    for shifts, dims in (((1, -2), (0, 2)), ((3, 3, -1), (2, 2, 0)), (-13, None)):
        assert np.array_equal(tg.roll(x, shifts, dims).numpy(), np.roll(a, shifts, axis=dims))
    for diagonal in (-9, -1, 0, 2, 9):
        assert np.array_equal(tg.tril(x, diagonal).numpy(), np.tril(a, diagonal))
        assert np.array_equal(x.triu(diagonal).numpy(), np.triu(a, diagonal))
    with pytest.raises(ValueError, match="rot90: the rotation dims must differ"):
        tg.rot90(x, 1, (0, -3))


def test_diag_embed_and_block_diag_match_numpy(device, rng):
    a = rng.standard_normal((2, 3))
    for offset, dim1, dim2 in ((1, 0, 2), (-1, -1, -2), (0, 1, 0)):
        m = 3 + abs(offset)
        expected = np.zeros((2, m, m))            # (..., rows, columns), then moved
        for k in range(3):
            expected[:, k + max(-offset, 0), k + max(offset, 0)] = a[:, k]
        expected = np.moveaxis(expected, (-2, -1), (dim1, dim2))
        assert np.array_equal(tg.diag_embed(T(a, device), offset, dim1, dim2).numpy(), expected)
    # 0-d and 1-D blocks; a 0-d tensor's dtype counts only when of a higher category
    blocks = [T(np.array([1, 2], dtype=np.int32), device), T(np.int64(3), device),
              T(np.array([[1.5]], dtype=np.float32), device)]
    out = tg.block_diag(*blocks)
    assert out.dtype == np.float32
    assert np.array_equal(out.numpy(), [[1, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 1.5]])
    assert tg.block_diag(*blocks[:2]).dtype == np.int32


def test_combinations_match_itertools(device, rng):
    a = rng.standard_normal(4)
    for r, replace in itertools.product(range(1, 6), (False, True)):
        choose = itertools.combinations_with_replacement if replace else itertools.combinations
        expected = np.array([[a[i] for i in row] for row in choose(range(4), r)]).reshape(-1, r)
        assert np.array_equal(tg.combinations(T(a, device), r, replace).numpy(), expected)


def test_gradients_of_the_fixed_paths(rng):
    x = leaf(rng, 3, 4)
    assert gradcheck(lambda t: tg.roll(t, 5, []) ** 2, (x,))
    assert gradcheck(lambda t: tg.select(t, 1, np.int64(-1)) ** 2, (x,))
    assert gradcheck(lambda t: tg.narrow(t, 1, T(np.int64(-3)), 2) ** 2, (x,))
    assert gradcheck(lambda t: tg.unflatten(t, 1, (np.int64(2), -1)) ** 2, (x,))
    assert gradcheck(lambda t: tg.repeat_interleave(t, T(np.array([2, 0, 1], np.int32)), 0),
                     (x,))
