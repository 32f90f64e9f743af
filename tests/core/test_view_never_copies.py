"""``view`` never copies, as PyTorch's; ``contiguous()`` makes a row-major copy when needed.

``view`` was ``reshape``: on a transposed tensor it returned a copy, so writes through the
"view" were silently lost (``x.T.view(-1)[0] = 100`` left ``x`` as it was). Now a shape that
needs a copy raises, and ``x.permute(...).contiguous().view(...)`` (PyTorch's idiom) works:
``contiguous()`` copies a tensor whose memory is not in row-major order.
"""

import numpy as np
import pytest

import tinygrad_opt as tg


def test_a_view_that_would_need_a_copy_raises_and_reshape_copies(device):
    x = tg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    with pytest.raises(RuntimeError, match=r"view: a tensor of shape \(3, 2\) .* cannot be "
                                           r"viewed as \(6,\) without a copy; use \.reshape"):
        x.T.view(-1)
    with pytest.raises(RuntimeError, match="without a copy"):
        x[:, ::2].view(4)
    flat = x.T.reshape(-1)  # a copy, as PyTorch's reshape where a view cannot be
    np.testing.assert_array_equal(flat.numpy(), [0, 3, 1, 4, 2, 5])


def test_a_view_shares_memory_and_version_with_its_tensor(device):
    x = tg.tensor(np.arange(6.0), device=device)
    v = x.view(2, 3)
    v[0, 0] = 100.0
    assert x[0].item() == 100.0 and x._version == v._version == 1
    assert x.T.view(3, 2).shape == (3, 2)  # the same shape: always a view
    empty = tg.zeros(0, 3, device=device)
    assert empty.T.view(-1).shape == (0,)  # nothing to copy


def test_contiguous_then_view_is_the_pytorch_idiom_and_keeps_the_graph(device):
    w = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, device=device)
    flat = w.permute(1, 0).contiguous().view(-1)   # [w00, w10, w01, w11, w02, w12]
    np.testing.assert_array_equal(flat.numpy(), [0, 3, 1, 4, 2, 5])
    (flat * tg.tensor(np.arange(6.0), device=device)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 2, 4], [1, 3, 5]])


def test_contiguous_returns_itself_or_a_row_major_copy(device):
    x = tg.tensor(np.arange(12.0).reshape(3, 4), device=device)
    assert x.contiguous() is x and x.is_contiguous()
    for strided in (x.T, x[:, ::2], x[:, :1], x.expand(2, 3, 4)[:, :, ::3]):
        assert not strided.is_contiguous()
        copy = strided.contiguous()
        assert copy is not strided and copy.is_contiguous()
        np.testing.assert_array_equal(copy.numpy(), strided.numpy())
        copy.view(-1)  # any view now works
    t = x.T.contiguous()
    t[0, 0] = -1.0  # its own memory
    assert x[0, 0].item() == 0.0
    assert x[1].is_contiguous() and x[:, 0:4].is_contiguous()


def test_views_of_memory_from_a_file_share_their_version(tmp_path):
    """A memmap's base is its file's mmap, not an array: the walk down the bases stops at
    the memmap itself, so a view of it shares its version counter (it was refused as a
    copy, and a write through it went unseen by ops that saved the tensor)."""
    mapped = np.memmap(tmp_path / "values.dat", dtype="float32", mode="w+", shape=(6,))
    x = tg.from_numpy(mapped)
    v = x.view(2, 3)
    v[0, 0] = 7.0
    assert x[0].item() == 7.0 and x._version == v._version == 1
    w = tg.tensor([1.0] * 6, requires_grad=True)
    y = w * x  # saves x
    v[1, 1] = 2.0  # a write through the view changes what Mul saved
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_view_dtype_reads_the_same_bytes(device):
    """``x.view(dtype)``, PyTorch's: a reinterpretation of the bytes, sharing memory and
    version; the last dim scales with the element size."""
    values = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    x = tg.tensor(values, device=device)
    bits = x.view(tg.int32)
    assert bits.dtype == tg.int32 and bits.shape == (2, 2)
    np.testing.assert_array_equal(bits.numpy(), values.view(np.int32))
    for spelling in ("int32", np.int32):
        assert x.view(spelling).dtype == tg.int32
    assert x.view(tg.uint8).shape == (2, 8) and x.view(tg.float16).shape == (2, 4)
    assert x.view(tg.float64).shape == (2, 1)
    bits[0, 0] = 0  # a write through the reinterpreting view: the float tensor sees it
    assert x[0, 0].item() == 0.0 and x._version == bits._version == 1
    assert x.view(np.int64(4)).shape == (4,)  # a NumPy integer is still a size


def test_view_dtype_refuses_what_cannot_be_read_and_has_no_gradient(device):
    with pytest.raises(RuntimeError, match="cannot be read as float64"):
        tg.tensor(np.ones(3, np.float32), device=device).view(tg.float64)  # 12 bytes
    with pytest.raises(RuntimeError, match="its last dim must be contiguous"):
        tg.tensor(np.ones((2, 4), np.float32), device=device).T.view(tg.float64)
    with pytest.raises(RuntimeError, match="cannot be read as"):
        tg.tensor(1.0, dtype=tg.float32, device=device).view(tg.float16)  # 0-d
    w = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    assert not w.view(tg.int32).requires_grad and not w.view(tg.float16).requires_grad
    same = w.view(w.dtype)  # the tensor's own dtype: a view in the graph
    assert same.requires_grad
    (same * 3).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0])


def test_a_write_through_view_dtype_of_a_tensor_in_a_graph_is_a_write_to_it(device):
    """As PyTorch's (a view(dtype) is a non-differentiable view, like ``detach()``): the
    write is allowed, bumps the shared version, so a backward through an op that saved
    the tensor raises, and one through ops that did not goes on."""
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    y = x * 2                                   # a non-leaf that requires grad
    saved = (y * y).sum()                       # Mul saves y
    passed = y.sum()                            # Sum keeps no value of y
    y.view(tg.int32)[0] = 0                     # 0 bits: 0.0
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 4.0, 6.0])
    assert y._version == 1 and y.requires_grad and y.grad_fn is not None
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*Mul"):
        saved.backward()
    passed.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
    leaf = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    squared = (leaf * leaf).sum()
    leaf.view(tg.int32)[1] = 0                  # a leaf's bits too (as x.detach()[1] = 0)
    assert leaf._version == 1 and leaf.is_leaf
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        squared.backward()
