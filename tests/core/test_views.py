"""``diagonal`` is a view of its input's memory, as PyTorch's (tinygrad_opt/ops/views.py).

A write into the diagonal writes the tensor; the two share one version counter, so a
saved tensor changed through its diagonal is an error in backward; a recorded write
into the diagonal of a non-leaf sends gradients to the written values and to the rest
of the tensor; ``diag`` of a matrix stays a copy, as PyTorch's.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd.gradcheck import gradcheck, gradgradcheck


# (shape, offset, dim1, dim2): square and wide matrices, offsets on both sides and past
# the edge (an empty diagonal), a batch, and dims given in either order or negative
CASES = [((3, 3), 0, 0, 1), ((3, 5), 1, 0, 1), ((4, 3), -2, 0, 1), ((3, 3), 3, 0, 1),
         ((2, 3, 4), 0, 1, 2), ((2, 3, 4), -1, 2, 0), ((3, 2, 4), 1, -1, 0)]


def numpy_diagonal(array, offset, dim1, dim2):
    """The same diagonal by explicit loops over positions (the NumPy reference)."""
    dim1, dim2 = dim1 % array.ndim, dim2 % array.ndim
    others = [d for d in range(array.ndim) if d not in (dim1, dim2)]
    first1, first2 = max(-offset, 0), max(offset, 0)
    length = max(0, min(array.shape[dim1] - first1, array.shape[dim2] - first2))
    out = np.empty([array.shape[d] for d in others] + [length], array.dtype)
    for position in np.ndindex(*out.shape):
        index = [0] * array.ndim
        for d, i in zip(others, position[:-1]):
            index[d] = i
        index[dim1], index[dim2] = first1 + position[-1], first2 + position[-1]
        out[position] = array[tuple(index)]
    return out


@pytest.mark.parametrize("shape, offset, dim1, dim2", CASES)
def test_values_and_a_write_through_the_view(device, shape, offset, dim1, dim2):
    base = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    x = tg.tensor(base, device=device)
    view = x.diagonal(offset, dim1, dim2)
    np.testing.assert_array_equal(view.numpy(), numpy_diagonal(base, offset, dim1, dim2))
    view.fill_(-1.0)
    marked = np.zeros(shape, dtype=np.float32)
    marked_view = numpy_diagonal(np.arange(base.size).reshape(shape), offset, dim1, dim2)
    marked.reshape(-1)[marked_view.reshape(-1)] = 1
    expected = np.where(marked == 1, -1.0, base)
    np.testing.assert_array_equal(x.numpy(), expected)
    assert x._version == view._version == 1


def test_the_pytorch_idioms_write_the_matrix():
    a = tg.zeros(3, 3)
    a.diagonal().add_(0.5)            # jitter on a covariance's diagonal
    a.diagonal(1)[...] = 2.0          # a superdiagonal set through an index write
    a.diagonal(-1).copy_(tg.tensor([7.0, 8.0]))
    np.testing.assert_array_equal(a.numpy(), [[0.5, 2, 0], [7, 0.5, 2], [0, 8, 0.5]])


def test_diag_of_a_matrix_is_a_copy():
    x = tg.ones(3, 3)
    d = tg.diag(x)
    d.fill_(5.0)
    np.testing.assert_array_equal(x.numpy(), np.ones((3, 3)))
    assert x._version == 0


@pytest.mark.parametrize("shape, offset, dim1, dim2", CASES)
def test_gradients_against_finite_differences(shape, offset, dim1, dim2):
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal(shape), requires_grad=True)

    def f(x):
        return x.diagonal(offset, dim1, dim2) ** 2
    assert gradcheck(f, [x])
    assert gradgradcheck(f, [x])


def test_the_gradient_lands_on_the_diagonal(device):
    x = tg.zeros(3, 4, dtype=tg.float64, device=device, requires_grad=True)
    weights = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, device=device)
    (x.diagonal(1)[:3] * weights).sum().backward()
    expected = np.zeros((3, 4))
    expected[[0, 1, 2], [1, 2, 3]] = [1, 2, 3]
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_a_saved_tensor_changed_through_its_diagonal_raises():
    a = tg.randn(3, 3, requires_grad=True)
    b = a * 1.0
    loss = (b * b).sum()              # Mul saved b
    b.diagonal().mul_(2.0)            # b's memory changed through the view
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_a_saved_diagonal_changed_through_its_tensor_raises():
    a = tg.randn(3, 3, requires_grad=True)
    b = a * 1.0
    d = b.diagonal()
    loss = (d * d).sum()              # Mul saved the view d
    b.add_(1.0)                       # d's memory changed through b
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_a_recorded_write_into_the_diagonal_of_a_non_leaf():
    """b = 3a; b.diagonal() = v; L = Σ w ⊙ b: dL/da = 3w off the diagonal and 0 on it
    (overwritten), dL/dv = the diagonal of w."""
    rng = np.random.default_rng(1)
    a = tg.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    v = tg.tensor(rng.standard_normal(3), requires_grad=True)
    w = rng.standard_normal((3, 3))
    b = a * 3.0
    b.diagonal().copy_(v)
    (b * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(b.detach().numpy().diagonal(), v.detach().numpy())
    np.testing.assert_allclose(a.grad.numpy(), 3 * w * (1 - np.eye(3)))
    np.testing.assert_allclose(v.grad.numpy(), w.diagonal())


def test_a_write_into_the_diagonal_of_a_leaf_that_requires_grad_raises():
    x = tg.randn(3, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.diagonal().fill_(0.0)
    with tg.no_grad():                # PyTorch's way to do it
        x.diagonal().fill_(0.0)
    np.testing.assert_array_equal(x.detach().numpy().diagonal(), np.zeros(3))


def test_a_read_only_base_gives_a_read_only_diagonal():
    """An expand()ed tensor is a read-only NumPy view: its diagonal must not become a way
    to write into the memory the expansion shares."""
    row = tg.ones(3)
    with pytest.raises((RuntimeError, ValueError)):
        row.expand(3, 3).diagonal().fill_(2.0)
    np.testing.assert_array_equal(row.numpy(), np.ones(3))


def test_expand_that_repeats_nothing_is_a_writable_view(device):
    """``t.expand(1, n)`` adds a leading dim of size 1: no element repeats, so, as in
    PyTorch, it is a view that writes ``t`` (NumPy's broadcast views are read-only)."""
    t = tg.tensor([0.0, 1.0, 2.0], device=device)
    view = t.expand(1, 1, 3)
    view[0, 0, 1] = 9.0
    np.testing.assert_array_equal(t.numpy(), [0.0, 9.0, 2.0])
    assert t._version == view._version == 1
    leaf = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    (leaf.expand(1, 2) * tg.tensor([[3.0, 4.0]], dtype=tg.float64)).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), [3.0, 4.0])
    with pytest.raises(RuntimeError, match="more than one element"):
        t.expand(2, 3)[0, 0] = 1.0    # an expand that repeats stays unwritable
