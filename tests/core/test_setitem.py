"""Differentiable ``x[index] = v`` (the SetItem op), PyTorch's semantics.

With L = Σ t · W after ``t[index] = v``, the hand-derived gradients are

    dL/dv           = W[index], summed over the axes along which v was broadcast
    dL/d(old t)     = W, with 0 where v was written (those values are gone)

W has a different value in every position, so a gradient sent to the wrong
place shows.
"""

import numpy as np
import pytest

import tinygrad_opt as tg

W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def leaf(values, device, dtype=tg.float64):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=True)


def weighted_sum(t):
    return (t * tg.tensor(W, dtype=t.dtype, device=t.device)).sum()


def target(device):
    """A leaf x and a non-leaf copy t of it that may be written into."""
    x = leaf(X, device)
    return x, x.clone()


def untouched(written):
    """W with 0 where ``written`` is True: the gradient of the target's old values."""
    return np.where(written, 0.0, W)


# --- index kinds ---

def test_slice(device):
    x, t = target(device)
    v = leaf([[7.0, 8.0]], device)
    t[1:, :2] = v
    np.testing.assert_array_equal(t.numpy(), [[0.5, -1.0, 2.0], [7.0, 8.0, -0.75]])
    weighted_sum(t).backward()
    np.testing.assert_array_equal(v.grad.numpy(), [[4.0, 5.0]])
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 2.0, 3.0], [0.0, 0.0, 6.0]])


def test_int_row(device):
    x, t = target(device)
    v = leaf([7.0, 8.0, 9.0], device)
    t[0] = v
    weighted_sum(t).backward()
    np.testing.assert_array_equal(v.grad.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0, 0.0], [4.0, 5.0, 6.0]])


def test_two_ints_and_a_zero_dim_value(device):
    x, t = target(device)
    v = leaf(7.0, device)
    t[1, -1] = v
    weighted_sum(t).backward()
    assert v.grad.shape == ()
    np.testing.assert_array_equal(v.grad.numpy(), 6.0)
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])


@pytest.mark.parametrize("value_shape", [(1,), (1, 1)])
def test_one_element_tensor_into_a_scalar_position(device, value_shape):
    x, t = target(device)
    v = leaf(np.full(value_shape, 7.0), device)
    t[0, 1] = v  # PyTorch allows it: a one-element tensor fits any single slot
    assert t.numpy()[0, 1] == 7.0
    weighted_sum(t).backward()
    assert v.grad.shape == value_shape
    np.testing.assert_array_equal(v.grad.numpy(), np.full(value_shape, 2.0))
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 3.0], [4.0, 5.0, 6.0]])


def test_integer_array_index(device):
    x, t = target(device)
    v = leaf([7.0, 8.0], device)
    t[[1, 0], [0, 2]] = v  # t[1, 0] = 7, t[0, 2] = 8
    np.testing.assert_array_equal(t.numpy(), [[0.5, -1.0, 8.0], [7.0, 0.25, -0.75]])
    weighted_sum(t).backward()
    np.testing.assert_array_equal(v.grad.numpy(), [4.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 2.0, 0.0], [0.0, 5.0, 6.0]])


def test_integer_array_of_columns_with_a_tensor_index(device):
    x, t = target(device)
    v = leaf([[7.0, 8.0], [9.0, 10.0]], device)
    t[:, tg.tensor([2, 0], device=device)] = v
    weighted_sum(t).backward()
    np.testing.assert_array_equal(v.grad.numpy(), [[3.0, 1.0], [6.0, 4.0]])
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 2.0, 0.0], [0.0, 5.0, 0.0]])


def test_boolean_mask(device):
    x, t = target(device)
    mask = t > 0.4  # [[T, F, T], [T, F, F]]
    v = leaf([7.0, 8.0, 9.0], device)
    t[mask] = v
    np.testing.assert_array_equal(t.numpy(), [[7.0, -1.0, 8.0], [9.0, 0.25, -0.75]])
    weighted_sum(t).backward()
    np.testing.assert_array_equal(v.grad.numpy(), [1.0, 3.0, 4.0])
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 2.0, 0.0], [0.0, 5.0, 6.0]])


def test_boolean_mask_of_rows(device):
    x, t = target(device)
    v = leaf([7.0, 8.0, 9.0], device)
    t[tg.tensor([False, True], device=device)] = v
    weighted_sum(t).backward()
    np.testing.assert_array_equal(v.grad.numpy(), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(x.grad.numpy(), untouched([[False] * 3, [True] * 3]))


# --- broadcasting: the value's gradient is summed back to its shape ---

def test_broadcast_row_into_a_two_row_slot(device):
    t = tg.zeros(2, 2, 3, dtype=tg.float64, device=device)
    v = leaf([7.0, 8.0, 9.0], device)
    t[0] = v  # (3,) into a (2, 3) slot
    np.testing.assert_array_equal(t.numpy()[0], [[7.0, 8.0, 9.0]] * 2)
    (t * tg.tensor(np.arange(12.0).reshape(2, 2, 3), device=device)).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [0.0 + 3.0, 1.0 + 4.0, 2.0 + 5.0])


def test_broadcast_size_one_axes(device):
    x, t = target(device)
    v = leaf([[7.0], [8.0]], device)  # (2, 1) into the (2, 2) slot t[:, 1:]
    t[:, 1:] = v
    weighted_sum(t).backward()
    np.testing.assert_array_equal(v.grad.numpy(), [[2.0 + 3.0], [5.0 + 6.0]])
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 0.0], [4.0, 0.0, 0.0]])


def test_broadcast_one_element_into_a_column(device):
    x, t = target(device)
    v = leaf([7.0], device)
    t[:, 1] = v
    weighted_sum(t).backward()
    np.testing.assert_array_equal(v.grad.numpy(), [2.0 + 5.0])


# --- values that carry no gradient ---

def test_python_number_into_a_non_leaf(device):
    x, t = target(device)
    t[0, :2] = 5.0
    np.testing.assert_array_equal(t.numpy()[0], [5.0, 5.0, 2.0])
    weighted_sum(t).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0, 3.0], [4.0, 5.0, 6.0]])


def test_value_without_grad_into_a_non_leaf(device):
    x, t = target(device)
    t[1] = tg.tensor([7.0, 8.0, 9.0], dtype=tg.float64, device=device)
    weighted_sum(t).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])


def test_value_of_another_dtype_gets_its_own_dtype_back(device):
    x, t = target(device)
    v = leaf([7.0, 8.0, 9.0], device, dtype=tg.float32)
    t[1] = v
    assert t.dtype == tg.float64
    weighted_sum(t).backward()
    assert v.grad.dtype == tg.float32
    np.testing.assert_array_equal(v.grad.numpy(), [4.0, 5.0, 6.0])


# --- a target that does not require grad ---

def test_buffer_without_grad_takes_a_value_that_requires_grad(device):
    w = leaf([3.0], device)
    buf = tg.zeros(3, dtype=tg.float64, device=device)
    buf[0:1] = w * 2
    assert buf.requires_grad and buf.grad_fn is not None
    (buf * tg.tensor([1.0, 10.0, 100.0], device=device)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0])


def test_buffer_filled_row_by_row_from_a_leaf(device):
    w = leaf([1.0, 2.0, 3.0], device)
    out = tg.zeros(2, 3, dtype=tg.float64, device=device)
    out[0] = w * w
    out[1] = w.sin()
    weighted_sum(out).backward()
    expected = 2 * np.array([1.0, 2.0, 3.0]) * W[0] + np.cos([1.0, 2.0, 3.0]) * W[1]
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-15)


def test_under_no_grad_nothing_is_recorded(device):
    w = leaf([3.0], device)
    buf = tg.zeros(3, dtype=tg.float64, device=device)
    with tg.no_grad():
        buf[0:1] = w * 2
    assert not buf.requires_grad and buf.grad_fn is None
    np.testing.assert_array_equal(buf.numpy(), [6.0, 0.0, 0.0])


# --- chains and later ops ---

def test_chained_setitems(device):
    x, t = target(device)
    a = leaf([7.0, 8.0, 9.0], device)
    b = leaf(10.0, device)
    t[0] = a
    t[0, 1] = b  # overwrites a[1]
    np.testing.assert_array_equal(t.numpy()[0], [7.0, 10.0, 9.0])
    weighted_sum(t).backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 0.0, 3.0])
    np.testing.assert_array_equal(b.grad.numpy(), 2.0)
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0, 0.0], [4.0, 5.0, 6.0]])


def test_ops_after_the_write_see_the_new_values(device):
    x, t = target(device)
    v = leaf(3.0, device)
    t[0, 0] = v
    (t * t).sum().backward()  # d/dv v² = 2v, d/dx x² = 2x elsewhere
    np.testing.assert_array_equal(v.grad.numpy(), 6.0)
    written = [[True, False, False], [False, False, False]]
    np.testing.assert_array_equal(x.grad.numpy(), np.where(written, 0.0, 2 * X))


def test_setitem_into_the_output_of_an_op_that_does_not_save_it(device):
    x = leaf(X, device)
    t = x * 2  # Mul saves x and 2, not its output
    t[1] = 0.0
    weighted_sum(t).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 4.0, 6.0], [0.0, 0.0, 0.0]])


# --- errors, as in PyTorch ---

def test_setitem_into_an_output_that_its_op_saved_raises(device):
    x = leaf([-1.0, 4.0], device)
    y = x.exp()  # Exp's backward reads y
    y[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*Exp"):
        y.sum().backward()


def test_setitem_into_a_tensor_that_a_later_op_saved_raises(device):
    x, t = target(device)
    squares = (t * t).sum()  # Mul saves t
    t[0] = 1.0
    with pytest.raises(RuntimeError, match="Mul"):
        squares.backward()


def test_writing_into_a_leaf_that_requires_grad_raises(device):
    x = leaf([1.0, 2.0, 3.0], device)
    with pytest.raises(RuntimeError, match="leaf"):
        x[0] = 5.0
    with pytest.raises(RuntimeError, match="leaf"):
        x[1:] = leaf([5.0, 6.0], device)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0, 3.0])


def test_writing_into_a_leaf_under_no_grad_is_allowed(device):
    x = leaf([1.0, 2.0, 3.0], device)
    with tg.no_grad():
        x[0] = 5.0
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 4.0, 6.0])



def test_writing_into_a_view_of_a_leaf_that_requires_grad_leaves_the_leaf_alone(device):
    # PyTorch raises ("a view of a leaf Variable that requires grad is being used in
    # an in-place operation"); a row that copied would also leave x as it was.
    x = leaf(X, device)
    row = x[0]
    try:
        row[0] = 5.0
    except RuntimeError as error:
        assert "leaf" in str(error)
    np.testing.assert_array_equal(x.numpy(), X)

# --- finite differences through a function that writes ---

def scatter_rows(x, v):
    """Fill a copy of x with v in three ways, then keep computing with it."""
    t = x.clone()
    t[0, 1:] = v.sin()                 # a slice
    t[[1, 1], [0, 2]] = v * v          # integer arrays
    t[t.detach() > 1.0] = 0.5          # a mask (fixed: detach) and a number
    return t * x


def test_gradcheck_and_gradgradcheck_through_setitem(device):
    x = leaf([[0.3, -0.7, 1.2], [0.9, 1.6, -0.2]], device)
    v = leaf([0.6, -1.1], device)
    assert tg.gradcheck(scatter_rows, [x, v])
    assert tg.gradgradcheck(scatter_rows, [x, v])


# --- ops recorded before a write keep the values they saw (PyTorch's semantics) ---

def test_an_op_that_read_the_target_before_the_write_is_not_rewired(device):
    x = leaf([1.0, 2.0, 3.0], device)
    y = x.clone()
    z = y + 1          # made from the old y: dz/dx = 1 everywhere, v plays no part
    v = leaf(7.0, device)
    y[0] = v
    z.sum().backward()
    np.testing.assert_array_equal(z.numpy(), [2.0, 3.0, 4.0])
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])
    assert v.grad is None


def test_a_value_computed_from_the_target_itself(device):
    x = leaf([1.0, 2.0, 3.0], device)
    t = x.clone()
    t[0] = t[1] * 2    # t = [2·x1, x1, x2]
    np.testing.assert_array_equal(t.numpy(), [4.0, 2.0, 3.0])
    (t * tg.tensor([1.0, 10.0, 100.0], dtype=tg.float64, device=device)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0 + 10.0, 100.0])


def write_through_a_view(x, v):
    t = x.clone()
    row = t[0]         # basic indexing: shares t's memory, as in NumPy and PyTorch
    row[1] = v         # so t changes too; its gradient must follow what the forward did
    return t * 1


def test_a_recorded_write_through_a_view_goes_into_its_base(device):
    # As PyTorch (CopySlices): the write is recorded on t, and row is made again from the
    # new t (ops/view_writes.py). It used to be refused: "index that tensor itself".
    x = leaf(X, device)
    v = leaf(0.6, device)
    weighted_sum(write_through_a_view(x, v)).backward()
    np.testing.assert_array_equal(v.grad.numpy(), W[0, 1])
    np.testing.assert_array_equal(x.grad.numpy(), untouched(np.array(
        [[False, True, False], [False, False, False]])))
    assert tg.gradcheck(write_through_a_view, [x, v])
    assert tg.gradgradcheck(write_through_a_view, [x, v])
    assert tg.gradcheck(lambda x, v: _write_into(x, v), [x, v])  # the same, written on t


def _write_into(x, v):
    t = x.clone()
    t[0, 1] = v
    return t * 1

# --- a view taken before a recorded write into its tensor, used after it ---

def _buffer_and_view(make_view, device):
    """buf (no grad), a view v of it, then buf[0:2] = w * 2 (recorded): v shows 2w."""
    w = leaf([1.0, 2.0], device)
    buf = tg.zeros(3, dtype=tg.float64, device=device)
    v = make_view(buf)
    buf[0:2] = w * 2
    return w, buf, v


VIEWS = {"slice": lambda b: b[0:2], "reshape": lambda b: b.reshape(3, 1)[0:2, 0],
         "transpose": lambda b: b.reshape(1, 3).T[0:2, 0]}
WEIGHTS = np.array([3.0, 5.0])


@pytest.mark.parametrize("make_view", VIEWS.values(), ids=VIEWS.keys())
@pytest.mark.parametrize("use", ["op", "op_reflected", "value_of_a_write", "in_place_add",
                                 "in_place_mul_of_the_view", "write_into_the_view"])
def test_a_view_taken_before_a_recorded_write_is_made_again_from_its_tensor(make_view, use,
                                                                            device):
    # v shows 2w after buf[0:2] = w * 2. It used to give no gradient through v, silently
    # ((v * 3).sum() + w.sum() gave w.grad = [1, 1]; then it raised); PyTorch remakes v's
    # graph from buf's new one, and so do we (engine.remake_stale_views): [7, 7].
    w, buf, v = _buffer_and_view(make_view, device)
    np.testing.assert_array_equal(v.numpy(), [2.0, 4.0])
    weights = tg.tensor(WEIGHTS, dtype=tg.float64, device=device)
    out = tg.zeros(2, dtype=tg.float64, device=device)
    if use == "op":
        loss = (v * weights).sum()                         # dL/dw = 2 · weights
    elif use == "op_reflected":
        loss = (weights * v).sum()
    elif use == "value_of_a_write":
        out[...] = v                                       # out = 2w
        loss = (out * weights).sum()
    elif use == "in_place_add":
        out += v
        loss = (out * weights).sum()
    elif use == "in_place_mul_of_the_view":
        v *= 1.0                                           # a write through v into buf
        loss = (buf[0:2] * weights).sum()
    else:
        v[...] = v * 1.0
        loss = (buf[0:2] * weights).sum()
    (loss + w.sum()).backward()
    np.testing.assert_array_equal(w.grad.numpy(), 2 * WEIGHTS + 1)


def test_a_view_taken_after_the_write_carries_the_gradient(device):
    w, buf, _ = _buffer_and_view(VIEWS["slice"], device)
    v = buf[0:2]
    ((v * 3).sum() + w.sum()).backward()
    np.testing.assert_array_equal(w.grad.numpy(), [7.0, 7.0])  # 3 · 2 + 1


def test_uses_before_the_write_keep_the_view_as_it_was(device):
    x = leaf([1.0, 2.0, 3.0], device)
    w = leaf(10.0, device)
    h = x * 1
    v = h[0:2]
    early = (v * 100).sum()                                # x0, x1 as they were
    h[0] = w                                               # v now shows [w, x1]
    late = (v * 1000).sum()                                # remade: w and x1
    (early + late).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 1100.0, 0.0])
    np.testing.assert_array_equal(w.grad.numpy(), 1000.0)


def test_what_needs_no_gradient_from_a_view_is_left_alone(device):
    w, buf, v = _buffer_and_view(VIEWS["slice"], device)
    with tg.no_grad():
        np.testing.assert_array_equal((v * 3).numpy(), [6.0, 12.0])
    assert not v.requires_grad                             # not remade under no_grad
    detached = buf.detach()  # not a view op: cut from the graph, as PyTorch's detach()
    loss = (detached[0:2] * 3).sum() + w.sum()
    loss.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])


def test_a_detach_taken_before_the_write_is_no_view(device):
    w = leaf([1.0, 2.0], device)
    buf = tg.zeros(3, dtype=tg.float64, device=device)
    detached = buf.detach()
    buf[0:2] = w * 2
    out = detached * 1
    np.testing.assert_array_equal(out.numpy(), [2.0, 4.0, 0.0])  # PyTorch: same values,
    assert not out.requires_grad                                 # and no graph


# --- writes through views (ops/view_writes.py), as PyTorch's CopySlices ---

def test_in_place_arithmetic_on_a_slice_is_recorded_on_the_tensor(device):
    # t[:, 0] *= v is tmp = t[:, 0]; tmp *= v; t[:, 0] = tmp: tmp's write goes into t.
    x = leaf(X, device)
    v = leaf([2.0, -3.0], device)
    t = x * 1
    t[:, 0] *= v
    np.testing.assert_array_equal(t.numpy()[:, 0], X[:, 0] * [2.0, -3.0])
    weighted_sum(t).backward()
    expected_x = W.copy()
    expected_x[:, 0] *= [2.0, -3.0]                      # d(x · v)/dx = v on column 0
    np.testing.assert_array_equal(x.grad.numpy(), expected_x)
    np.testing.assert_array_equal(v.grad.numpy(), W[:, 0] * X[:, 0])


@pytest.mark.parametrize("make_view", [lambda t: t.T[1], lambda t: t.reshape(6)[2:5],
                                       lambda t: t[:, ::-1][0], lambda t: t[1].unsqueeze(0)[0]],
                         ids=["transpose", "reshape_slice", "negative_step", "unsqueeze"])
def test_a_write_through_any_view_reaches_the_right_elements(make_view, device):
    x = leaf(X, device)
    v = leaf(0.5, device)
    t = x * 1
    view = make_view(t)
    marker = np.arange(6.0).reshape(2, 3)
    expected = make_view(tg.tensor(marker)).numpy()     # which elements of t the view holds
    view[0] = v * 4                                       # its first element: marker value k
    written = marker == expected.reshape(-1)[0]
    np.testing.assert_array_equal(t.numpy(), np.where(written, 2.0, X))
    weighted_sum(t).backward()
    np.testing.assert_array_equal(x.grad.numpy(), untouched(written))
    np.testing.assert_array_equal(v.grad.numpy(), 4 * W[written].sum())


def test_a_view_written_through_is_made_again_from_its_base(device):
    # After the write the view's own graph leads to the write too; ops that used the view
    # before the write keep the gradient of the view as it was.
    x = leaf([1.0, 2.0, 3.0], device)
    v = leaf(10.0, device)
    t = x * 1
    view = t[0:2]
    before = view * 100                                  # used before the write: x[0:2]
    view[0] = v
    after = view * 1000                                  # used after: [v, x1]
    (before.sum() + after.sum() + t.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0 + 0 + 0, 100 + 1000 + 1, 1.0])
    np.testing.assert_array_equal(v.grad.numpy(), 1000.0 + 1.0)


def test_a_write_through_a_view_of_a_buffer_puts_the_buffer_in_the_graph(device):
    w = leaf([1.0, 2.0], device)
    buf = tg.zeros(2, 3, dtype=tg.float64, device=device)
    buf[1][0:2] = w * 2                                  # buf[1] is a view of buf
    assert buf.requires_grad
    (buf * tg.tensor(W, dtype=tg.float64, device=device)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), 2 * W[1, 0:2])


def test_writes_through_views_of_leaves_and_expands_refuse_and_siblings_are_remade(device):
    w = leaf([1.0, 2.0, 3.0], device)
    with pytest.raises(RuntimeError, match="leaf tensor"):
        w[0:2][0] = 5.0                                  # into a leaf that requires grad
    t = w * 1
    with pytest.raises(RuntimeError, match="single memory location"):
        t.expand(2, 3)[0, 0] = 5.0                       # two elements, one memory cell
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    sibling = t[0:2]
    v = leaf(7.0, device)
    t[0:2][0] = v                                        # writes t[0]; sibling predates it
    (sibling * tg.tensor([2.0, 3.0], dtype=tg.float64, device=device)).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), 2.0)   # sibling is remade: [v, w1]
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 3.0, 0.0])


@pytest.mark.parametrize("record", [False, True])
def test_a_value_overlapping_its_target_is_read_before_the_write(monkeypatch, record):
    """``x[:4] = x[1:5]``: NumPy copies the overlap first (memmove), but CuPy's copy kernels
    read and write at once; so setitem hands the backend a value of its own memory. (The
    strict device stands in for CuPy: the test refuses, in its ``__setitem__``, a value
    that shares memory with the array written into.)"""
    from tinygrad_opt.backend import strict
    plain_setitem = strict.StrictArray.__setitem__

    def refusing_overlap(self, index, value):
        if isinstance(value, strict.StrictArray):
            assert not np.shares_memory(self._array, value._array), "overlapping write"
        plain_setitem(self, index, value)
    monkeypatch.setattr(strict.StrictArray, "__setitem__", refusing_overlap)
    a = tg.tensor(np.arange(6.0), device="strict", requires_grad=record)
    x = a * 1
    x[:4] = x[1:5]
    x[1:] = x[:5]
    np.testing.assert_array_equal(x.numpy(), [1.0, 1.0, 2.0, 3.0, 4.0, 4.0])
    if record:  # x = [a1, a1, a2, a3, a4, a4]
        (x * tg.tensor(np.arange(1.0, 7.0), device="strict")).sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), [0, 3, 3, 4, 11, 0])
