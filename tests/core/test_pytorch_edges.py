"""PyTorch's semantics at the edges (issue "Trust at the edges"): type promotion,
reductions over empty or repeated dims and of 0-d tensors, expand, empty indices,
and ``tg.tensor`` copying a Tensor. Expected values are written from PyTorch's
documented behaviour (docs/deviations.md, "Type promotion", has the rule)."""

import numpy as np
import pytest

import tinygrad_opt as tg


def t(values, dtype):
    return tg.tensor(np.array(values), dtype=dtype)


# (left, right, expected dtype of left + right): the promotion table of docs/deviations.md
PROMOTION = [
    (lambda: t([1.0, 2.0], "float32"), lambda: t(1.0, "float64"), "float32"),
    (lambda: t([1.0, 2.0], "float16"), lambda: t(1.0, "float32"), "float16"),
    (lambda: t(1.0, "float64"), lambda: t([1.0, 2.0], "float32"), "float32"),
    (lambda: t([1.0, 2.0], "float32"), lambda: t([1.0, 2.0], "float64"), "float64"),
    (lambda: t(1.0, "float32"), lambda: t(1.0, "float64"), "float64"),
    (lambda: t([1, 2], "int64"), lambda: t([1.0, 2.0], "float64"), "float64"),
    (lambda: t([1, 2], "int64"), lambda: t(1.5, "float64"), "float64"),  # higher category
    (lambda: t([1, 2], "int32"), lambda: t(1.5, "float16"), "float16"),
    (lambda: t([True, False], "bool"), lambda: t(1.5, "float64"), "float64"),
    (lambda: t([1, 2], "int64"), lambda: 2.5, "float32"),
    (lambda: t([1.0, 2.0], "float16"), lambda: 2.5, "float16"),
    (lambda: t([1, 2], "int32"), lambda: t([1, 2], "int64"), "int64"),
    (lambda: t([1, 2], "int32"), lambda: t(5, "int64"), "int32"),   # 0-d: same category
    (lambda: t([1, 2], "int8"), lambda: t(5, "int64"), "int8"),
    (lambda: t([1, 2], "uint8"), lambda: t([1, 2], "int8"), "int16"),
    (lambda: t(1, "int32"), lambda: t(5, "int64"), "int64"),
    (lambda: t([1, 2], "int32"), lambda: 1, "int32"),
    (lambda: t([True, False], "bool"), lambda: t(5, "int64"), "int64"),  # bool < int
    (lambda: t([True, False], "bool"), lambda: t([1, 2], "int32"), "int32"),
    (lambda: t([True, False], "bool"), lambda: 2, "int64"),
    (lambda: t([True, False], "bool"), lambda: True, "bool"),
    (lambda: t([True, False], "bool"), lambda: 1.5, "float32"),
]


@pytest.mark.parametrize("left, right, expected", PROMOTION)
def test_binary_promotion_follows_pytorch(left, right, expected):
    a, b = left(), right()
    assert (a + b).dtype == np.dtype(expected)
    if isinstance(b, tg.Tensor):
        assert (b + a).dtype == np.dtype(expected)


def test_promotion_gives_each_input_its_gradient_in_its_own_dtype():
    a = tg.tensor([1.0, 2.0], requires_grad=True)                     # float32
    b = tg.tensor(3.0, dtype="float64", requires_grad=True)           # 0-d float64
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(b.grad.numpy(), 3.0)


@pytest.mark.parametrize("make", [
    lambda: tg.tensor([1, 2]) / tg.tensor([2, 4]),
    lambda: tg.tensor([1, 2]) / 2,
    lambda: 1 / tg.tensor([1, 2]),
    lambda: tg.tensor([1, 2]).exp(),
    lambda: tg.tensor([1, 4]).sqrt(),
    lambda: tg.tensor([1, 2]).sigmoid(),
    lambda: tg.tensor([1, 2]).log(),
    lambda: tg.cat([tg.tensor([1, 2]), tg.ones(2)]),
    lambda: tg.tensor([0, 1, 2]).clamp(0.5, 1.5),
])
def test_integers_meet_float_functions_as_the_default_float32(make):
    assert make().dtype == np.float32 == tg.get_default_dtype()


def test_the_default_dtype_is_float32_for_python_floats_and_factories():
    assert tg.get_default_dtype() == tg.float32
    for made in (tg.tensor([1.5]), tg.tensor(2.0), tg.zeros(2), tg.rand(2), tg.full((2,), 0.5),
                 tg.linspace(0, 1, 3)):
        assert made.dtype == tg.get_default_dtype()


def test_integer_clamp_with_float_bounds_clamps_in_float():
    np.testing.assert_allclose(tg.tensor([0, 1, 2]).clamp(0.5, 1.5).numpy(), [0.5, 1.0, 1.5])


def test_sum_over_no_dims_sums_everything_and_repeated_dims_raise():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.sum(dim=()).item() == 10.0
    assert x.mean(dim=()).item() == 2.5
    with pytest.raises(RuntimeError, match="more than once"):
        x.sum(dim=(0, 0))
    with pytest.raises(RuntimeError, match="more than once"):
        x.sum(dim=(1, -1))


@pytest.mark.parametrize("reduce", [
    lambda x, d: x.sum(d), lambda x, d: x.mean(d), lambda x, d: x.max(d),
    lambda x, d: x.logsumexp(d)])
@pytest.mark.parametrize("dim", [0, -1])
def test_a_0d_tensor_reduces_over_dim_0_or_minus_1(reduce, dim):
    x = tg.tensor(2.5, dtype="float64", requires_grad=True)
    y = reduce(x, dim)
    assert y.shape == () and y.item() == pytest.approx(2.5)
    y.backward()
    assert x.grad.item() == pytest.approx(1.0)
    with pytest.raises(IndexError):
        reduce(x, 1)


def test_max_over_a_non_empty_dim_of_an_empty_tensor_is_empty():
    values = tg.zeros(0, 3).max(1)
    assert values.shape == (0,)
    with pytest.raises(ValueError, match="empty"):
        tg.zeros(0, 3).max(0)


def test_expand_refuses_minus_1_for_a_new_leading_dim():
    x = tg.ones(3)
    assert x.expand(2, -1).shape == (2, 3)
    with pytest.raises(ValueError, match="new leading dim 0"):
        x.expand(-1, 3)


def test_an_empty_index_list_gives_an_empty_result():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x[[]]
    assert y.shape == (0, 2)
    (y.sum() + x.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones((2, 2)))


def test_tensor_of_a_tensor_copies_as_torch_tensor(device):
    original = tg.tensor([1.0, 2.0], device=device)
    copy = tg.tensor(original)
    copy += 1
    np.testing.assert_allclose(original.numpy(), [1.0, 2.0])
    shared = tg.Tensor(original)  # the constructor shares, as nn.Parameter(t) needs
    assert shared.data is original.data


def test_split_and_chunk_of_an_empty_dim_give_pytorchs_pieces():
    x = tg.zeros(0, 3)
    assert [piece.shape for piece in x.split(2)] == [(0, 3)]           # one empty piece
    assert [piece.shape for piece in x.chunk(3)] == [(0, 3)] * 3       # `chunks` empty pieces
    assert [piece.shape for piece in tg.zeros(5).split(2)] == [(2,), (2,), (1,)]
    assert [piece.shape for piece in tg.zeros(5).chunk(2)] == [(3,), (2,)]


def test_logsumexp_and_softmax_over_an_empty_dim():
    x = tg.zeros(0, 3, dtype="float64", requires_grad=True)
    y = x.logsumexp(0)                     # log of a sum over nothing
    np.testing.assert_array_equal(y.numpy(), [-np.inf] * 3)
    y.sum().backward()
    assert x.grad.shape == (0, 3)
    assert tg.zeros(3, 0).logsumexp(1).numpy().tolist() == [-np.inf] * 3
    assert tg.zeros(3, 0).softmax(1).shape == (3, 0)
    assert tg.zeros(0, 3).softmax(1).shape == (0, 3)


def test_an_int_and_an_index_array_apart_follow_pytorchs_placement(device):
    values = np.arange(24.0).reshape(2, 3, 4)
    t = tg.tensor(values, requires_grad=True, device=device)
    y = t[0, :, [0, 1]]                          # PyTorch: t[0][:, [0, 1]], shape (3, 2)
    assert y.shape == (3, 2)
    np.testing.assert_array_equal(y.numpy(), values[0][:, [0, 1]])
    (y * tg.tensor(np.arange(6.0).reshape(3, 2), device=device)).sum().backward()
    expected = np.zeros((2, 3, 4))
    expected[0][:, [0, 1]] = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(t.grad.numpy(), expected)
    # adjacent int and array, and arrays alone, agree with NumPy and PyTorch alike
    assert t[:, 0, [0, 1]].shape == (2, 2)
    assert t[[0, 1], 0].shape == (2, 4)
    np.testing.assert_array_equal(t[1, [0, 2], 3].numpy(), values[1, [0, 2], 3])


@pytest.mark.parametrize("index, pytorch_shape", [
    ((slice(None), [0], slice(None), 0), (2, 1, 5)),        # PyTorch issue 157569's case
    ((0, Ellipsis, [0, 1]), (3, 5, 2)),                      # with ...: ints first as well
    ((0, None, slice(None), [0, 1]), (1, 3, 2, 7)),          # with None
    ((Ellipsis, 0, [1, 2]), (2, 3, 2)),                      # adjacent: as NumPy
    ((np.array([[True, False, True], [False, True, True]]), 0), (4, 7)),  # a mask spans 2
])
def test_ints_index_first_with_none_and_ellipsis_too_reading_and_writing(index, pytorch_shape):
    """PyTorch applies integers before index arrays (``x[first][rest]``), whatever else the
    index holds; reading, writing (``x[index] = v`` with v of the read shape) and the
    gradient (ops/index_order.py)."""
    values = np.arange(2 * 3 * 5 * 7.0).reshape(2, 3, 5, 7)
    first = tuple(part if type(part) is int or part is Ellipsis else slice(None)
                  for part in index if part is not None)
    if isinstance(index[0], np.ndarray):
        first = (slice(None), slice(None), 0)
    rest = tuple(part for part in index if type(part) is not int)
    expected = values[first][rest]                     # the two steps, written out in NumPy
    assert expected.shape == pytorch_shape
    x = tg.tensor(values, requires_grad=True)
    y = x[index]
    assert y.shape == pytorch_shape
    np.testing.assert_array_equal(y.numpy(), expected)
    weights = np.random.default_rng(0).standard_normal(pytorch_shape)
    (y * tg.tensor(weights)).sum().backward()
    grad = np.zeros_like(values)
    view = grad[first]
    view[rest] += weights                               # no repeats in these indices
    np.testing.assert_array_equal(x.grad.numpy(), grad)
    written = tg.tensor(values)
    written[index] = tg.tensor(-weights)
    copy = values.copy()
    copy[first][rest] = -weights
    np.testing.assert_array_equal(written.numpy(), copy)


def test_a_0d_integer_tensor_indexes_as_an_int(device):
    """PyTorch selects with a 0-d integer tensor (``x[logits.argmax()]``) as with an int:
    the result is a view (a write into it reaches x), and it indexes before index arrays.
    NumPy reads a 0-d array as an index array: a copy, placed with the arrays."""
    values = np.arange(24.0).reshape(2, 3, 4)
    x = tg.tensor(values, device=device)
    i = tg.tensor(1, device=device)
    assert x[tg.tensor(0, device=device), :, [0, 1]].shape == (3, 2)   # x[0][:, [0, 1]]
    row = x[i]
    row[0, 0] = -1.0                                    # x[1] is a view: x sees the write
    assert x.numpy()[1, 0, 0] == -1.0
    x[i, 2] = tg.tensor(np.full(4, 7.0), device=device)
    assert (x.numpy()[1, 2] == 7.0).all()
    assert x[np.asarray(1)].shape == (3, 4)             # a 0-d NumPy array alike
    a = tg.tensor(values, device=device, requires_grad=True)
    (a[i][:, 1] * tg.tensor([1.0, 2.0, 3.0], device=device)).sum().backward()
    expected = np.zeros_like(values)
    expected[1, :, 1] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(a.grad.numpy(), expected)


def test_sum_and_mean_take_a_dtype_and_cast_before_reducing():
    x = tg.tensor([1e8, 1.0, -1e8], dtype="float32", requires_grad=True)
    total = x.sum(dtype=tg.float64)       # float32 would lose the 1.0 beside 1e8
    assert total.dtype == np.float64 and total.item() == 1.0
    total.backward()
    assert x.grad.dtype == np.float32 and x.grad.numpy().tolist() == [1.0, 1.0, 1.0]
    assert x.mean(dtype="float64").item() == pytest.approx(1 / 3, rel=1e-12)
    assert tg.tensor([[1, 2], [3, 4]]).sum(1, dtype=tg.float32).numpy().tolist() == [3.0, 7.0]
    assert tg.tensor([1, 2]).mean(dtype=tg.float64).dtype == np.float64
    assert tg.tensor([True, True]).sum().dtype == np.int64            # bool: int64 as before
    assert tg.sum(tg.tensor([0.5, 0.25]), dtype=tg.float64).dtype == np.float64


def test_min_gradients_are_plus_zero_off_the_minimum_as_in_pytorch():
    x = tg.tensor([[3.0, 1.0, 1.0], [0.0, 2.0, 5.0]], requires_grad=True)
    (x.min() + x.min(dim=1).sum() + x.amin(dim=0).sum()).backward()
    # min(): 1 at [1, 0]; min(dim=1): ½ to each tie of row 0, 1 at [1, 0]; amin(0): 1 a column
    expected = np.array([[0, 1.5, 1.5], [3, 0, 0]], np.float32)
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    assert not np.signbit(x.grad.numpy()).any()                   # no -0. printed
    with pytest.raises(ValueError, match="Min: cannot take the min over an empty dim"):
        tg.zeros(0).min()


@pytest.mark.parametrize("cast", [lambda x: x.long(), lambda x: x.to(tg.int32),
                                  lambda x: x.astype("bool"), lambda x: (x * 2).int()])
def test_an_integer_or_bool_result_carries_no_gradient_as_in_pytorch(cast):
    """Rounding's derivative is 0 almost everywhere: PyTorch cuts the graph at an integer
    result (requires_grad False), so a backward through it raises instead of passing
    the gradient through as if the cast were the identity."""
    x = tg.tensor([1.4, 2.6], requires_grad=True)
    result = cast(x)
    assert result.requires_grad is False and result.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        result.float().sum().backward()
    assert x.grad is None


@pytest.mark.parametrize("a, b, dtype, expected", [
    (1.0, 0, "float32", [1.0, 0.0]), (1, 0, "int64", [1, 0]),
    (True, False, "bool", [True, False]), (2.5, -1.5, "float32", [2.5, -1.5])])
def test_where_takes_two_python_numbers_as_pytorch(device, a, b, dtype, expected):
    """torch.where(condition, 1.0, 0): the numbers take the default float (or int64, bool)
    and the condition's device."""
    condition = tg.tensor([True, False], device=device)
    result = tg.where(condition, a, b)
    assert result.dtype == dtype and result.device == device
    assert result.tolist() == expected
    with pytest.raises(TypeError, match="condition, a or b must be a Tensor"):
        tg.where([True, False], a, b)


def test_max_and_min_of_two_tensors_are_elementwise_as_torch_max(device):
    a = tg.tensor([1.0, 5.0, 3.0], requires_grad=True, device=device)
    b = tg.tensor([2.0, 2.0, 3.0], requires_grad=True, device=device)
    assert tg.max(a, b).tolist() == [2.0, 5.0, 3.0] and a.min(b).tolist() == [1.0, 2.0, 3.0]
    tg.max(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 1.0, 0.5] and b.grad.tolist() == [1.0, 0.0, 0.5]


def test_matmul_refuses_mixed_dtypes_as_pytorch_and_sum_keeps_a_given_integer_dtype():
    # PyTorch: "expected m1 and m2 to have the same dtype" / "dot : expected both vectors
    # to have same dtype": a product never promotes, not even int32 @ float32
    for a, b in ((tg.ones(2, 3, dtype=tg.int32), tg.ones(3, dtype=tg.float32)),
                 (tg.ones(3, dtype=tg.float32), tg.ones(3, dtype=tg.float64)),
                 (tg.ones(2, 2, dtype=tg.float64), tg.ones(2, 2, 2, dtype=tg.float32))):
        with pytest.raises(TypeError, match="MatMul: .* expected one dtype, got"):
            a @ b
    assert (tg.ones(2, 3, dtype=tg.int32) @ tg.ones(3, dtype=tg.int32)).dtype == "int32"
    F = tg.nn.functional  # layers built on the product refuse too (conv2d casts first)
    with pytest.raises(TypeError, match="expected one dtype"):
        F.conv3d(tg.ones(1, 1, 2, 2, 2), tg.ones(1, 1, 1, 1, 1, dtype=tg.float64))
    with pytest.raises(TypeError, match="expected one dtype"):
        F.bilinear(tg.ones(2, 3), tg.ones(2, 4), tg.ones(5, 3, 4, dtype=tg.float64))
    assert F.conv2d(tg.ones(1, 1, 2, 2), tg.ones(1, 1, 1, 1, dtype=tg.float64)).dtype == "float64"
    ints = tg.tensor([1, 2, 3], dtype=tg.int32)
    assert ints.sum(dtype=tg.int32).dtype == "int32" and ints.sum().dtype == "int64"
    assert ints.sum(dtype=tg.int32).item() == 6


def test_var_and_std_read_a_second_positional_argument_as_unbiased_as_pytorch():
    """torch's x.var(dim, unbiased, keepdim): x.var(0, False) is the biased variance."""
    a = np.array([[1.0, 2.0], [3.0, 5.0]])
    x = tg.tensor(a)
    assert np.allclose(x.var(0, False).tolist(), a.var(0))
    assert np.allclose(x.var(0, True).tolist(), a.var(0, ddof=1))
    assert x.std(0, False, True).shape == (1, 2)
    assert np.allclose(x.std(0, False, True).tolist(), a.std(0, keepdims=True))
    assert np.allclose(tg.var(x, 1, False).tolist(), a.var(1))


def test_var_and_std_of_a_bool_first_argument_are_pytorchs_unbiased_overload():
    """x.var(False) is the population variance over all entries, as torch's var(unbiased):
    it was read as dim 0 (a silently different number)."""
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x = tg.tensor(a)
    assert np.isclose(x.var(False).item(), a.var()) and np.isclose(x.std(True).item(),
                                                                   a.std(ddof=1))
    assert np.isclose(tg.std(x, False).item(), a.std())


def test_backward_inputs_and_softmax_dtype_and_requires_grad_keyword():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [3.0, 4.0] and b.grad is None
    assert tg.tensor([1.0, 2.0]).softmax(0, tg.float64).dtype == "float64"
    assert tg.tensor([1.0, 2.0]).log_softmax(-1, dtype=tg.float64).dtype == "float64"
    assert tg.ones(2).requires_grad_(requires_grad=True).requires_grad


def test_a_negative_global_seed_wraps_around_as_pytorchs():
    """torch.manual_seed(-3) works; torch.initial_seed() then gives 2**64 - 3."""
    tg.manual_seed(-3)
    first = tg.rand(3).tolist()
    assert tg.initial_seed() == 2**64 - 3
    tg.manual_seed(2**64 - 3)
    assert tg.rand(3).tolist() == first
    tg.manual_seed(0)


IDENTITY_VIEWS = {
    "reshape": lambda x: x.reshape(2, 2), "view": lambda x: x.view(2, 2),
    "squeeze": lambda x: x.squeeze(), "permute": lambda x: x.permute(0, 1),
    "transpose": lambda x: x.transpose(1, 1), "expand": lambda x: x.expand(2, 2),
    "flatten": lambda x: x.flatten(1, 1), "tg.reshape": lambda x: tg.reshape(x, (2, 2)),
}


@pytest.mark.parametrize("make", IDENTITY_VIEWS.values(), ids=IDENTITY_VIEWS.keys())
def test_a_view_op_that_changes_nothing_still_gives_a_tensor_of_its_own(make):
    # Found by the gradient fuzzer: x.squeeze() of a tensor without size-1 dims returned x
    # itself, so retain_grad (and hooks) on the "view" got x's whole gradient. In PyTorch
    # it is a view of its own: its .grad holds only what flowed through it.
    x = tg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True) * 1
    y = make(x)
    assert y is not x and y.shape == x.shape
    y.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    ((x * 3).sum() + (y * 5).sum()).backward()
    np.testing.assert_array_equal(y.grad.numpy(), np.full((2, 2), 5.0))
    np.testing.assert_array_equal(seen[0], np.full((2, 2), 5.0))
    y_data = y.numpy().copy()
    with tg.no_grad():
        x[0, 0] = 10.0  # a view: it shares x's memory and version counter
    assert y.numpy()[0, 0] == 10.0 and y._version == x._version and y_data[0, 0] == 1.0


def test_an_empty_boolean_mask_stays_a_mask():
    # Found by the gradient fuzzer: an empty NumPy mask of shape (0, 2) was cast to int64
    # like an empty list, so it indexed axis 0 with a (0, 2) index array: (0, 2, 2).
    mask = np.zeros((0, 2), dtype=bool)
    x = tg.zeros(0, 2, dtype=tg.float64, requires_grad=True)
    assert x[mask].shape == (0,) == np.zeros((0, 2))[mask].shape
    y = x * 1
    y[mask] = tg.zeros(0, dtype=tg.float64, requires_grad=True)  # writes nothing
    y.sum().backward()
    assert x.grad.shape == (0, 2)
    assert tg.zeros(3)[[]].shape == (0,)  # an empty list is still an empty index


def test_flatten_of_a_0d_tensor_takes_dim_0_or_minus_1_only():
    """PyTorch: a 0-d tensor flattens to shape (1,), and its dims range over [-1, 0]."""
    scalar = tg.tensor(3.0)
    for dims in [(), (0,), (-1,), (0, -1)]:
        assert scalar.flatten(*dims).shape == (1,)
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        scalar.flatten(2)
    with pytest.raises(IndexError, match="dim 1 is out of range"):
        tg.nn.Flatten()(scalar)  # start_dim=1
