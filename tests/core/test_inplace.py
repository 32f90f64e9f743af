"""In-place safety: a tensor that an op saved for backward and that is changed in
place before the backward makes the backward raise (naming the op, the shape and
``.clone()``), as PyTorch's "modified by an inplace operation", instead of giving
a silently wrong gradient. Writes to tensors that no op saved stay allowed.

Expected gradients are hand-derived: d Σ w·x / dw = x, d Σ e^x / dx = e^x.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, optim

MODIFIED = "modified by an in-place operation"


def leaf(values, device, requires_grad=True):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=tg.float64, device=device,
                     requires_grad=requires_grad)


def write_index(x):
    x[0] = 100.0


def add_in_place(x):
    x += 1.0


def sub_in_place(x):
    x -= tg.tensor([1.0, 2.0], dtype=x.dtype, device=x.device)


def mul_in_place(x):
    x *= 3.0


def div_in_place(x):
    x /= 2.0


def zero_in_place(x):
    x.zero_()


def fill_in_place(x):
    x.fill_(7.0)


def copy_in_place(x):
    x.copy_(tg.tensor([5.0, 6.0], dtype=x.dtype, device=x.device))


WRITES = [write_index, add_in_place, sub_in_place, mul_in_place, div_in_place, zero_in_place,
          fill_in_place, copy_in_place]


# --- every kind of in-place write bumps the version ---

@pytest.mark.parametrize("write", WRITES, ids=[write.__name__ for write in WRITES])
def test_every_in_place_write_bumps_the_version(write, device):
    x = leaf([3.0, 4.0], device, requires_grad=False)
    before = x._version
    write(x)
    assert x._version == before + 1


def test_out_of_place_ops_and_reads_leave_the_version_alone(device):
    x = leaf([3.0, 4.0], device, requires_grad=False)
    _ = x + 1, x * 2, x[0], x.clone(), x.numpy(), x.sum()
    assert x._version == 0


# --- writes to what an op saved raise, naming the op ---

def test_write_to_a_saved_input_raises_naming_mul(device):
    w = leaf([1.0, 2.0], device)
    x = leaf([3.0, 4.0], device, requires_grad=False)
    y = (w * x).sum()
    x[0] = 100.0
    with pytest.raises(RuntimeError, match=f"{MODIFIED}.*Mul"):
        y.backward()
    assert w.grad is None  # not the silently wrong [100, 4]


@pytest.mark.parametrize("write", WRITES, ids=[write.__name__ for write in WRITES])
def test_each_kind_of_write_to_a_saved_tensor_raises(write, device):
    w = leaf([1.0, 2.0], device)
    x = leaf([3.0, 4.0], device, requires_grad=False)
    y = (w * x).sum()
    write(x)
    with pytest.raises(RuntimeError, match="Mul"):
        y.backward()


def test_write_to_a_saved_output_raises_naming_exp(device):
    x = leaf([1.0, 2.0], device)
    y = x.exp()  # Exp saves its output: dy/dx = y
    z = y.sum()
    with tg.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match=f"{MODIFIED}.*Exp"):
        z.backward()
    assert x.grad is None


def test_in_place_write_to_a_saved_leaf_under_no_grad_raises(device):
    w = leaf([1.0, 2.0], device)
    y = (w * w).sum()
    with tg.no_grad():
        w -= 0.5          # the update a hand-written SGD step makes
    with pytest.raises(RuntimeError, match="Mul"):
        y.backward()


def test_error_message_names_the_shape_and_suggests_clone(device):
    w = leaf(np.ones((2, 3)), device)
    x = leaf(np.ones((2, 3)), device, requires_grad=False)
    y = (w * x).sum()
    x += 1
    with pytest.raises(RuntimeError) as error:
        y.backward()
    message = str(error.value)
    assert "Mul" in message and "(2, 3)" in message and ".clone()" in message


def test_the_tensor_path_checks_too(device):
    w = leaf([1.0, 2.0], device)
    x = leaf([3.0, 4.0], device, requires_grad=False)
    y = (w * x).sum()
    x[1] = -1.0
    with pytest.raises(RuntimeError, match="Mul"):
        tg.grad(y, w, create_graph=True)


def test_retain_graph_second_backward_after_an_in_place_write_raises(device):
    w = leaf([1.0, 2.0], device)
    x = leaf([3.0, 4.0], device, requires_grad=False)
    y = (w * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 4.0])
    x[1] = 5.0
    with pytest.raises(RuntimeError, match=f"{MODIFIED}.*Mul"):
        y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 4.0])  # nothing was added


def test_optimizer_step_between_forward_and_second_backward_raises(device):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).to(device)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    x = tg.tensor(np.arange(6.0).reshape(2, 3) / 6, device=device)
    loss = model(x).sum()
    loss.backward(retain_graph=True)
    versions = [p._version for p in model.parameters()]
    optimizer.step()
    assert [p._version for p in model.parameters()] == [v + 1 for v in versions]
    with pytest.raises(RuntimeError, match=f"{MODIFIED}.*Linear"):
        loss.backward()


def test_optimizer_step_between_forward_and_the_first_backward_raises(device):
    """The step of an earlier iteration's gradients, taken after this forward saved the
    weights: the backward would compute with the stepped weights, so it refuses."""
    w = leaf([1.0, 2.0], device)
    optimizer = optim.SGD([w], lr=0.5)
    (w * w).sum().backward()            # gradients of a previous iteration
    loss = (w * w * 3).sum()            # Mul saves w
    optimizer.step()
    with pytest.raises(RuntimeError, match=f"{MODIFIED}.*Mul"):
        loss.backward()


def test_optimizer_step_after_backward_then_a_new_forward_is_fine(device):
    w = leaf([1.0, 2.0], device)
    optimizer = optim.SGD([w], lr=0.5)
    (w * w).sum().backward()            # dL/dw = 2w = [2, 4]
    optimizer.step()                    # w ← w − 0.5·[2, 4] = [0, 0]
    optimizer.zero_grad()
    (w * w * 3).sum().backward()        # a new graph saves the new w
    np.testing.assert_array_equal(w.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])


# --- writes that no saved tensor sees do not raise ---

def test_write_to_an_input_that_add_did_not_save_is_fine(device):
    w = leaf([1.0, 2.0], device)
    x = leaf([3.0, 4.0], device, requires_grad=False)
    y = x + w            # Add saves nothing: dy/dw = 1
    x[0] = 100.0
    x += 1
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])


def test_write_before_the_forward_is_fine(device):
    w = leaf([1.0, 2.0], device)
    x = leaf([3.0, 4.0], device, requires_grad=False)
    x[0] = 10.0          # the version moves before Mul records it
    (w * x).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [10.0, 4.0])


def test_write_to_an_unrelated_tensor_is_fine(device):
    w = leaf([1.0, 2.0], device)
    x = leaf([3.0, 4.0], device, requires_grad=False)
    other = x.copy()     # its own memory and its own version
    y = (w * x).sum()
    other[0] = 100.0
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 4.0])



def test_mul_reads_only_the_input_the_wanted_gradient_needs(device):
    # t * 2: t's gradient is 2·g, so t is not needed and a write to it does not raise
    # (PyTorch saves only the other operand); t * w with w wanting a gradient needs t.
    x = leaf([1.0, 2.0, 3.0], device)
    t = x.clone()
    z = (t * 2).sum()              # dz/dx = 2: the Mul reads the 2, not t
    w = leaf([1.0, 1.0, 1.0], device)
    y = (t * w).sum()              # dy/dw = t: t is read
    t[0] = 100.0
    z.backward(retain_graph=True)  # (y's backward goes through the same Clone)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: an input of Mul"):
        y.backward()


def test_matmul_reads_only_the_input_the_wanted_gradient_needs(device):
    a = leaf([[1.0, 2.0]], device, requires_grad=False)
    b = leaf([[3.0], [4.0]], device)
    y = (a @ b).sum()              # dy/db = aᵀ: a is read, b is not
    with tg.no_grad():
        b += 1.0
    y.backward()
    np.testing.assert_array_equal(b.grad.numpy(), [[1.0], [2.0]])
    y = (a @ b).sum()
    a[0, 0] = 7.0
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: an input of MatMul"):
        y.backward()


def test_an_element_read_is_a_view_on_every_device(device):
    # t[1] looks into t's memory (as CuPy and PyTorch give it; NumPy alone copies an
    # element out), so it sees a later write, and an op that saved it raises.
    t = leaf([1.0, 2.0, 3.0], device, requires_grad=False)
    w = leaf(3.0, device)
    element = t[1]
    y = element * w
    t[1] = 10.0
    assert element.item() == 10.0 and element._version == t._version == 1
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: an input of Mul, of shape \\(\\)"):
        y.backward()


VIEWS = {  # a view of t = [[1, 2], [3, 4]] and its values before t[0] is overwritten
    "getitem_row": (lambda t: t[0], [1.0, 2.0]),
    "reshape_then_slice": (lambda t: t.reshape(-1)[:2], [1.0, 2.0]),
    "transpose_row": (lambda t: t.T[0], [1.0, 3.0]),
    "detach": (lambda t: t.detach(), [[1.0, 2.0], [3.0, 4.0]]),
}


def backward_is_an_error_or_gives(y, w, expected):
    """PyTorch raises (a view shares its base's version counter); a view that copied
    would give the old values' gradient. The new values' gradient is wrong either way."""
    try:
        y.backward()
    except RuntimeError as error:
        assert MODIFIED in str(error) and "Mul" in str(error)
    else:
        np.testing.assert_array_equal(w.grad.numpy(), expected)


@pytest.mark.parametrize("name", VIEWS)
def test_write_to_the_base_of_a_saved_view_is_never_silently_wrong(name, device):
    # Basic indexing, reshape, transpose and detach share memory with their base (as
    # in NumPy and PyTorch), so t[0] = 5 also changes what Mul saved through the view.
    make_view, before = VIEWS[name]
    t = leaf([[1.0, 2.0], [3.0, 4.0]], device, requires_grad=False)
    view = make_view(t)
    w = leaf(np.ones(view.shape), device)
    y = (view * w).sum()
    t[0] = 5.0
    backward_is_an_error_or_gives(y, w, before)


@pytest.mark.parametrize("name", VIEWS)
def test_write_through_a_view_of_a_saved_base_is_never_silently_wrong(name, device):
    make_view, _ = VIEWS[name]
    t = leaf([[1.0, 2.0], [3.0, 4.0]], device, requires_grad=False)
    w = leaf(np.ones((2, 2)), device)
    y = (t * w).sum()
    view = make_view(t)
    view += 10.0  # changes t's memory when view shares it
    backward_is_an_error_or_gives(y, w, [[1.0, 2.0], [3.0, 4.0]])


# --- .clone() before the write keeps the saved tensor intact ---

def test_clone_before_writing_a_saved_input_gives_the_right_gradient(device):
    w = leaf([1.0, 2.0], device)
    x = leaf([3.0, 4.0], device, requires_grad=False)
    y = (w * x).sum()
    x_changed = x.clone()
    x_changed[0] = 100.0
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(x_changed.numpy(), [100.0, 4.0])


def test_clone_before_writing_a_saved_output_gives_the_right_gradient(device):
    x = leaf([1.0, 2.0], device)
    y = x.exp()
    z = y.sum()
    y_changed = y.clone()
    with tg.no_grad():
        y_changed += 1
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]), rtol=1e-15)


def test_an_op_whose_output_is_a_view_of_a_written_tensor_still_backprops():
    # The output of a view op shares its input's version counter, which need not be 0.
    from tinygrad_opt.autograd.function import Function

    class SquareView(Function):
        """y = x reshaped (a view of x), dy/dx = 1, with a backward that reads its output."""

        def forward(self, x):
            return x.reshape(2, 2)

        def backward(self, grad_output):
            y = self.saved_output
            return (grad_output + 0 * y).reshape(4)

    base = tg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    h = base * 1
    with tg.no_grad():
        h += 1                          # h's counter is at 1 before the view is made
    y = SquareView.apply(h)
    assert y._version == h._version == 1
    y.sum().backward()
    np.testing.assert_array_equal(base.grad.numpy(), [1.0, 1.0, 1.0, 1.0])
    z = SquareView.apply(base * 1)
    with tg.no_grad():
        z += 1                          # now its saved output changed: an error
    with pytest.raises(RuntimeError, match="its output of SquareView"):
        z.sum().backward()


# --- in-place arithmetic while gradients flow: recorded, as PyTorch records it ---

def test_adding_a_tensor_that_requires_grad_into_a_buffer_is_recorded(device):
    """`buf += w` into a buffer that needs no gradient used to add w's values and drop
    its gradient; now buf becomes part of the graph: d Σ (buf·w) / dw = 2w."""
    w = leaf([1.0, 2.0], device)
    buf = leaf([0.0, 0.0], device, requires_grad=False)
    buf += w
    assert buf.requires_grad
    (buf * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 4.0])


def test_in_place_arithmetic_on_a_non_leaf_gives_the_out_of_place_gradients(device):
    """z = ((3x − w)·w) / 2 + 1, written with -=, *=, /= and += on z, against the
    hand-derived gradients dz/dx = 3w/2 and dz/dw = (3x − 2w)/2."""
    x, w = leaf([1.0, 2.0], device), leaf([0.5, -1.5], device)
    z = x * 3.0
    z -= w
    z *= w  # the product's gradient for w reads the old z: a copy is kept, as in PyTorch
    z /= 2.0
    z += 1.0
    z.sum().backward()
    xs, ws = np.array([1.0, 2.0]), np.array([0.5, -1.5])
    np.testing.assert_allclose(z.numpy(), (3 * xs - ws) * ws / 2 + 1)
    np.testing.assert_allclose(x.grad.numpy(), 3 * ws / 2)
    np.testing.assert_allclose(w.grad.numpy(), (3 * xs - 2 * ws) / 2)


def test_ops_that_used_the_tensor_before_the_write_keep_their_gradient(device):
    x = leaf([1.0, 2.0], device)
    z = x * 2.0
    h = z * 3.0  # uses z before the write
    z += 1.0
    (h.sum() + (z * z).sum()).backward()
    xs = np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), 6.0 + 2 * (2 * xs + 1) * 2)


def test_in_place_add_on_an_op_output_that_the_op_saved_raises_at_backward(device):
    x = leaf([1.0, 2.0], device)
    y = x.exp()  # Exp saves its output
    y += 1.0     # allowed, as in PyTorch ...
    with pytest.raises(RuntimeError, match=f"{MODIFIED}.*Exp"):
        y.sum().backward()  # ... and the backward through Exp refuses


def test_in_place_arithmetic_on_a_leaf_that_requires_grad_raises_in_grad_mode(device):
    x = leaf([1.0, 2.0], device)
    for write in (add_in_place, mul_in_place, lambda t: t.zero_()):
        with pytest.raises(RuntimeError, match="leaf tensor of shape"):
            write(x)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])  # nothing was written
    with tg.no_grad():
        x -= 0.5  # the classic update, under no_grad: in place, no graph
    assert x.grad_fn is None and x._version == 1
    np.testing.assert_array_equal(x.numpy(), [0.5, 1.5])


def test_zero_on_a_non_leaf_is_recorded(device):
    x = leaf([1.0, 2.0], device)
    z = x * 2.0
    z.zero_()
    (z + x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])  # none through the zeros


def test_in_place_add_keeps_the_target_dtype(device):
    a = tg.zeros(2, dtype=tg.float32, device=device)
    b = leaf([1.0, 2.0], device)  # float64
    a += b
    assert a.dtype == tg.float32 and a.requires_grad
    a.sum().backward()
    assert b.grad.dtype == tg.float64
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_in_place_add_into_an_indexed_part_is_right(device):
    """Python runs t[i] += v as tmp = t[i]; tmp += v; t[i] = tmp. With a slice tmp is a
    view, and the write goes through it into buf's graph (ops/view_writes.py), as PyTorch;
    with an integer array tmp is a copy. Either way the gradient flows."""
    w = leaf([1.0], device)
    buf = leaf([0.0, 0.0, 0.0], device, requires_grad=False)
    buf[0:1] += w
    (buf * tg.tensor([3.0, 5.0, 7.0], dtype=tg.float64, device=device)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0])
    w.grad = None
    buf = leaf([0.0, 0.0, 0.0], device, requires_grad=False)
    buf[[0]] += w
    (buf * tg.tensor([3.0, 5.0, 7.0], dtype=tg.float64, device=device)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0])
    buf = leaf([0.0, 0.0, 0.0], device, requires_grad=False)
    w.grad = None
    buf[0:1] = buf[0:1] + w  # the spelling the error suggests
    (buf * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0])


IN_PLACE = {"+=": ("__iadd__", np.add), "-=": ("__isub__", np.subtract),
            "*=": ("__imul__", np.multiply), "/=": ("__itruediv__", np.divide)}


@pytest.mark.parametrize("op", IN_PLACE)
@pytest.mark.parametrize("value_shape", [(3,), (1, 3), (2, 1), (2, 3), ()])
@pytest.mark.parametrize("target_needs_grad", [True, False])
def test_in_place_arithmetic_matches_its_out_of_place_twin(op, value_shape, target_needs_grad,
                                                           device, rng):
    """z op= v on a (2, 3) z against z op v, values and gradients, for broadcast values;
    z is a non-leaf made from x, or a buffer that requires no gradient."""
    method, numpy_op = IN_PLACE[op]
    xs = rng.uniform(0.5, 2.0, (2, 3))
    vs = rng.uniform(0.5, 2.0, value_shape)
    weights = rng.standard_normal((2, 3))

    def run(in_place):
        x, v = leaf(xs, device), leaf(vs, device)
        z = x * 1.0 if target_needs_grad else leaf(xs, device, requires_grad=False)
        if in_place:
            result = getattr(z, method)(v)
            assert result is z
        else:
            z = getattr(z, method.replace("__i", "__", 1))(v)
        loss = (z * tg.tensor(weights, dtype=tg.float64, device=device)).sum()
        loss.backward()
        return z.numpy(), (x.grad.numpy() if target_needs_grad else None), v.grad.numpy()

    for ours, theirs in zip(run(in_place=True), run(in_place=False)):
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-14)
    np.testing.assert_allclose(run(True)[0], numpy_op(xs, vs), rtol=1e-14)


# --- indices and class targets written after forward: right or an error ---
# An index array is the op's own copy, so a later write to the caller's index Tensor or
# NumPy array cannot move the gradient. The fused cross-entropy takes its targets as an
# input, as PyTorch's nll_loss saves them: a write to them raises at backward.

LOGITS = np.array([[0.3, -1.2, 2.0], [1.5, 0.2, -0.7], [-0.4, 0.9, 0.1], [2.2, -0.3, 0.5]])


def _index_of_kind(kind, device):
    if kind == "tensor":
        return tg.tensor([0, 1], device=device)
    if kind == "mask":
        return tg.tensor(np.array([True, True, False, False]), device=device)
    return np.array([0, 1])  # a host array, moved (on cpu: used) as the index


@pytest.mark.parametrize("kind", ["tensor", "mask", "numpy"])
def test_writing_an_index_after_indexing_leaves_the_gradient_right(kind, device):
    x = leaf(LOGITS, device)
    index = _index_of_kind(kind, device)
    picked = x[index]                          # rows 0 and 1
    index[0] = index[3] if kind == "mask" else 3   # the caller's index now points elsewhere
    (picked * picked).sum().backward()
    expected = np.zeros_like(LOGITS)
    expected[:2] = 2 * LOGITS[:2]              # d Σ x[i]² / dx = 2x on the picked rows
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_writing_the_index_of_a_recorded_setitem_leaves_the_gradients_right(device):
    buffer = leaf(np.zeros(4), device, requires_grad=False)
    value = leaf([5.0, 7.0], device)
    index = tg.tensor([1, 2], device=device)
    buffer[index] = value
    index[0] = 0
    (buffer * leaf([1.0, 2.0, 3.0, 4.0], device, requires_grad=False)).sum().backward()
    np.testing.assert_allclose(value.grad.numpy(), [2.0, 3.0])  # the weights at 1 and 2


def test_writing_embedding_indices_after_the_lookup_leaves_the_gradient_right(device):
    weight = leaf(np.arange(8.0).reshape(4, 2), device)
    indices = tg.tensor([3, 3, 0], device=device)
    rows = nn.functional.embedding(indices, weight)
    indices[0] = 1
    rows.sum().backward()
    np.testing.assert_allclose(weight.grad.numpy(), [[1, 1], [0, 0], [0, 0], [2, 2]])


def _softmax_minus_one_hot(targets):
    p = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
    return (p - np.eye(3)[targets]) / len(targets)


def test_writing_the_targets_of_the_fused_cross_entropy_raises_naming_it(device):
    x = leaf(LOGITS, device)
    targets = tg.tensor([0, 2, 1, 0], device=device)
    loss = nn.functional.cross_entropy(x, targets)
    assert loss.grad_fn.name == "CrossEntropy"
    targets[0] = 1
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: an input of CrossEntropy, of shape"):
        loss.backward()


def test_the_fused_cross_entropy_under_create_graph_checks_its_targets(device):
    x = leaf(LOGITS, device)
    targets = tg.tensor([0, 2, 1, 0], device=device)
    loss = nn.functional.cross_entropy(x, targets)
    targets[1] = 0
    with pytest.raises(RuntimeError, match="an input of CrossEntropy"):
        tg.grad(loss, x, create_graph=True)


@pytest.mark.parametrize("loss_name", ["cross_entropy_smoothed", "nll_loss", "focal_loss",
                                       "multi_margin_loss", "cross_entropy_numpy_targets"])
def test_writing_the_targets_of_a_composed_loss_leaves_the_gradient_right(loss_name, device):
    F = nn.functional
    targets = [0, 2, 1, 0]

    def run(write):
        x = leaf(LOGITS, device)
        given = np.array(targets) if loss_name.endswith("numpy_targets") else \
            tg.tensor(targets, device=device)
        loss = {"cross_entropy_smoothed": lambda: F.cross_entropy(x, given, label_smoothing=0.1),
                "nll_loss": lambda: F.nll_loss(x.log_softmax(1), given),
                "focal_loss": lambda: F.focal_loss(x, given),
                "multi_margin_loss": lambda: F.multi_margin_loss(x, given),
                "cross_entropy_numpy_targets": lambda: F.cross_entropy(x, given)}[loss_name]()
        if write:
            given[0] = 1
        loss.backward()
        return x.grad.numpy()

    np.testing.assert_allclose(run(write=True), run(write=False))
    if loss_name == "cross_entropy_numpy_targets":
        np.testing.assert_allclose(run(write=True), _softmax_minus_one_hot(targets))


def test_writing_a_numpy_bound_of_clamp_after_forward_leaves_the_gradient_right():
    x = leaf([1.0, 2.0, 3.0], "cpu")
    low = np.array([1.5, 1.5, 1.5])
    clamped = x.clamp(min=low)                 # x < 1.5 is clamped: no gradient to x there
    low[:] = 0.0
    clamped.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1.0, 1.0])
    np.testing.assert_allclose(clamped.numpy(), [1.5, 2.0, 3.0])


def test_numpy_scalar_bounds_of_clamp_stay_one_clip_op(device):
    x = leaf([1.0, 2.0, 3.0], device)
    clamped = x.clamp(min=np.float64(1.5), max=2.5)
    assert clamped.grad_fn.name == "Clip"
    clamped.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1.0, 0.0])


# --- fill_ and copy_: writes like x[...] = v, recorded when a gradient must flow ---

def test_fill_sets_every_element_and_returns_the_tensor(device):
    x = leaf([[1.0, 2.0], [3.0, 4.0]], device, requires_grad=False)
    assert x.fill_(2.5) is x
    np.testing.assert_array_equal(x.numpy(), np.full((2, 2), 2.5))
    x.fill_(tg.tensor(-1.0, dtype=tg.float64, device=device))
    np.testing.assert_array_equal(x.numpy(), -np.ones((2, 2)))


@pytest.mark.parametrize("value", [tg.tensor([1.0, 2.0]), np.array([1.0, 2.0]), [1.0, 2.0]],
                         ids=["tensor", "array", "list"])
def test_fill_takes_a_number_or_a_0d_tensor_only(value):
    with pytest.raises(ValueError, match=r"fill_: .* 0-d tensor, got shape \(2,\)"):
        tg.zeros(2).fill_(value)


def test_fill_with_a_0d_tensor_that_requires_grad_gets_the_summed_gradient(device):
    buffer = leaf(np.zeros((2, 3)), device, requires_grad=False)
    value = leaf(1.5, device)
    buffer.fill_(value)
    (buffer * leaf(np.arange(6.0).reshape(2, 3), device, requires_grad=False)).sum().backward()
    np.testing.assert_allclose(value.grad.numpy(), 15.0)  # Σ of the weights 0..5


def test_copy_broadcasts_casts_and_sends_the_gradient_to_the_source(device):
    target = tg.zeros(2, 3, dtype=tg.float64, device=device)
    source = tg.tensor([[1.0, 2.0, 3.0]], requires_grad=True, device=device)  # float32, (1, 3)
    assert target.copy_(source) is target
    assert target.dtype == tg.float64
    np.testing.assert_array_equal(target.numpy(), [[1, 2, 3], [1, 2, 3]])
    (target * target).sum().backward()
    assert source.grad.dtype == tg.float32
    np.testing.assert_allclose(source.grad.numpy(), [[4.0, 8.0, 12.0]])  # Σ over rows of 2·v


def test_copy_from_another_device_moves_the_values_and_the_gradient_back(device):
    source = leaf([1.0, -2.0], "cpu")
    target = leaf(np.zeros(2), device, requires_grad=False)
    target.copy_(source)
    assert target.device == device
    (target * 3.0).sum().backward()
    assert source.grad.device == "cpu"
    np.testing.assert_allclose(source.grad.numpy(), [3.0, 3.0])


@pytest.mark.parametrize("write", [fill_in_place, copy_in_place], ids=["fill_", "copy_"])
def test_fill_and_copy_into_a_leaf_that_requires_grad_raise(write, device):
    with pytest.raises(RuntimeError, match="leaf tensor .* cannot be changed in place"):
        write(leaf([1.0, 2.0], device))
    with tg.no_grad():
        x = leaf([1.0, 2.0], device)
        write(x)  # allowed under no_grad, as in PyTorch (an initialiser's write)
        assert x._version == 1


# --- every in-place write of the library bumps the version (not only SGD-like steps) ---

def _closure_optimizers():
    return {"LBFGS": lambda params: optim.LBFGS(params, max_iter=3),
            "Newton": lambda params: optim.Newton(params),
            "CoordinateDescent": lambda params: optim.CoordinateDescent(params, l1=0.1)}


@pytest.mark.parametrize("name", sorted(_closure_optimizers()))
def test_a_closure_optimizers_step_makes_an_earlier_graph_refuse(name, device):
    w = leaf([1.0, 2.0], device)
    optimizer = _closure_optimizers()[name]([w])
    saved_w = (w * w).sum()                    # Mul saved w

    def closure():
        optimizer.zero_grad()
        loss = ((w - 3.0) ** 2).sum()
        loss.backward()
        return loss

    before = w._version
    optimizer.step(closure)
    assert w._version > before
    assert not np.allclose(w.numpy(), [1.0, 2.0])  # the step moved w
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: an input of Mul"):
        saved_w.backward()


def _linear_and_a_graph_through_it(device):
    tg.manual_seed(0)
    layer = nn.Linear(2, 1).to(device).double()
    x = leaf([[1.0, 2.0]], device)
    return layer, x, layer(x).sum()            # Linear saved its weight (for x's gradient)


@pytest.mark.parametrize("write", ["load_state_dict", "init", "vector_to_parameters"])
def test_library_writes_into_parameters_make_an_earlier_graph_refuse(write, device):
    layer, x, out = _linear_and_a_graph_through_it(device)
    if write == "load_state_dict":
        layer.load_state_dict({name: value * 0 + 5 for name, value in layer.state_dict().items()})
    elif write == "init":
        nn.init.constant_(layer.weight, 7.0)
    else:
        vector = tg.tensor([4.0, 5.0, 6.0], dtype=tg.float64, device=device)
        nn.utils.vector_to_parameters(vector, layer.parameters())
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: an input of Linear"):
        out.backward()


def test_averaged_model_update_makes_a_graph_through_the_average_refuse(device):
    layer, x, _ = _linear_and_a_graph_through_it(device)
    averaged = optim.swa_utils.AveragedModel(layer)
    averaged.update_parameters(layer)
    out = averaged(x).sum()
    with tg.no_grad():
        layer.weight.fill_(3.0)
    averaged.update_parameters(layer)          # w̄ moves: the graph read the old one
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: an input of Linear"):
        out.backward()


def test_batchnorm_statistics_update_leaves_an_eval_graph_right_or_refusing(device):
    """An eval-mode graph reads the running statistics; a training-mode forward then
    updates them in place (their versions go up). The eval graph's backward keeps to
    the statistics it read (its ops saved values computed from them, not the buffers)."""
    def eval_graph(norm):
        x = leaf([[1.0, 2.0], [3.0, 5.0]], device)
        norm.eval()
        return x, (norm(x) * x).sum()

    norm = nn.BatchNorm1d(2).to(device).double()
    norm.running_mean.fill_(0.5)
    expected_x, expected = eval_graph(norm)
    expected.backward()
    x, out = eval_graph(norm)
    before = norm.running_mean._version, norm.num_batches_tracked._version
    norm.train()
    norm(leaf([[4.0, 1.0], [0.0, 9.0]], device, requires_grad=False))  # updated in place
    assert (norm.running_mean._version, norm.num_batches_tracked._version) == \
        (before[0] + 1, before[1] + 1)
    try:
        out.backward()
    except RuntimeError as error:  # an error is right too; a different gradient is not
        assert MODIFIED in str(error)
    else:
        np.testing.assert_allclose(x.grad.numpy(), expected_x.grad.numpy())


@pytest.mark.parametrize("write", ["clip_grad_norm_", "clip_grad_value_", "zero_grad_to_zeros",
                                   "optimizer_zero_grad_to_zeros"])
def test_library_writes_into_gradients_bump_their_version(write, device):
    layer, x, out = _linear_and_a_graph_through_it(device)
    out.backward()
    grads = [p.grad for p in layer.parameters()]
    if write == "clip_grad_norm_":
        nn.utils.clip_grad_norm_(layer.parameters(), max_norm=1e-3)
    elif write == "clip_grad_value_":
        nn.utils.clip_grad_value_(layer.parameters(), 1e-3)
    elif write == "zero_grad_to_zeros":
        layer.zero_grad(set_to_none=False)
    else:
        optim.SGD(layer.parameters(), lr=0.1).zero_grad(set_to_none=False)
    assert [grad._version for grad in grads] == [1, 1]
    assert all(p.grad is grad for p, grad in zip(layer.parameters(), grads))  # (in place)


def test_embedding_reset_bumps_the_weights_version():
    embedding = nn.Embedding(4, 2, padding_idx=0)
    before = embedding.weight._version
    embedding.reset_parameters()
    assert embedding.weight._version > before
    np.testing.assert_array_equal(embedding.weight.numpy()[0], [0.0, 0.0])


@pytest.mark.parametrize("write", [lambda b: b.__iadd__(1), lambda b: b.__setitem__(0, 7.0)],
                         ids=["+=", "setitem"])
def test_a_recorded_write_reports_the_versions_the_tensor_really_has(write, device):
    """b is in the graph, so the write is recorded (b's old self lives on inside it):
    the error gives b's saved and current versions, 0 and 1."""
    w = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = w * 1
    c = b * b
    write(b)
    assert b._version == 1
    with pytest.raises(RuntimeError, match="of Mul, of shape \\(2,\\), is at version 1; "
                                           "expected version 0"):
        c.sum().backward()
