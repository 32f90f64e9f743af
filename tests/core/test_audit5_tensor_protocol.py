"""Audit of the Tensor's Python protocol against PyTorch: ``iter`` and ``in``,
``operator.index`` of a bool tensor, ``copy.deepcopy`` (graph leaves only), pickling and
``copy.copy`` (a new leaf, as PyTorch's ``__reduce_ex__``), ``new_tensor`` of a Tensor,
``from_numpy`` of a read-only array and ``asarray(..., requires_grad=True)`` of a tensor
with a history; then pins for ``bool``/``int``/``len``/``format``/``hash``, ``item``,
``tolist``, ``type()`` and the size helpers (every reference written in NumPy)."""

import copy
import operator
import pickle
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg


def on(device, data, dtype=None, requires_grad=False):
    return tg.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


# --- iter and in ---

def test_iter_of_a_0d_tensor_says_iteration(device):
    # PyTorch: TypeError 'iteration over a 0-d tensor' (we said 'len() of a 0-d tensor')
    x = on(device, 2.5)
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(x)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(x)
    rows = list(on(device, [[1, 2], [3, 4]]))
    assert [row.tolist() for row in rows] == [[1, 2], [3, 4]]


@pytest.mark.parametrize("element", [np.array(2), np.array([1, 5]), np.array([5, 6]),
                                     np.array([[3], [9]]), np.array(4.0), np.array(7.5)])
def test_contains_is_element_equals_tensor_anywhere(element, device, rng):
    # PyTorch's __contains__: (element == self).any(); a tensor element broadcasts against
    # the tensor (we iterated the rows and asked bool() of each comparison: "ambiguous")
    matrix = np.array([[1, 2], [3, 4]])
    x = on(device, matrix)
    expected = bool((element == matrix).any())
    value = element.item() if element.ndim == 0 else on(device, element)
    assert (value in x) is expected


def test_contains_of_nan_empty_and_a_wrong_type(device):
    assert (float("nan") in on(device, [float("nan"), 1.0])) is bool(
        (np.nan == np.array([np.nan, 1.0])).any())
    assert (1 in on(device, np.zeros((0, 2), np.int64))) is False
    assert (True in on(device, [0, 1])) is True              # True == 1, as in PyTorch
    with pytest.raises(RuntimeError, match="__contains__ only supports Tensor or scalar.*str"):
        "a" in on(device, [1, 2])
    with pytest.raises(RuntimeError, match="__contains__ only supports Tensor or scalar.*list"):
        [1, 2] in on(device, [1, 2])


# --- operator.index ---

def test_index_of_a_one_element_bool_tensor_is_its_int(device):
    # PyTorch's __index__ takes the integral dtypes with bool included (we refused bool)
    assert operator.index(on(device, True)) == 1 and operator.index(on(device, [False])) == 0
    assert type(operator.index(on(device, True))) is int
    assert [10, 20, 30][on(device, True)] == 20
    for bad in (on(device, 1.0), on(device, [True, False])):
        with pytest.raises(TypeError, match="only integer tensors of a single element"):
            operator.index(bad)


# --- copy.deepcopy, copy.copy and pickle ---

def test_deepcopy_refuses_a_non_leaf():
    # PyTorch: only graph leaves support deepcopy (we copied the tensor with its grad_fn)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(x * 2)
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy({"y": x.exp()})


def test_deepcopy_of_a_leaf_copies_values_grad_and_flags(device, rng):
    values = rng.standard_normal(3)
    x = on(device, values, requires_grad=True)
    x.grad = on(device, np.ones(3))
    y = x[:2]                                    # a view of a leaf that needs no grad record
    with tg.no_grad():
        z = x * 1                                # made under no_grad: a leaf
    copied, twice, copied_z = copy.deepcopy([x, x, z])
    assert copied is twice and copied is not x             # the memo: one copy per tensor
    assert copied.requires_grad and copied.is_leaf and copied.device == device
    np.testing.assert_array_equal(copied.numpy(), values)
    np.testing.assert_array_equal(copied.grad.numpy(), np.ones(3))
    assert copied.grad is not x.grad and copied._version == 0
    with tg.no_grad():
        copied.add_(1.0)
        copied.grad.mul_(5.0)
    np.testing.assert_array_equal(x.numpy(), values)        # its own memory, its own grad
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))
    np.testing.assert_array_equal(copied_z.numpy(), values)
    assert y.grad_fn is not None  # (a recorded view: deepcopy refuses it, as PyTorch)
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(y)


def test_deepcopy_keeps_the_subclass_and_its_state():
    weight = tg.nn.Parameter(tg.tensor([1.0, 2.0]))
    copied = copy.deepcopy(weight)
    assert type(copied) is tg.nn.Parameter and copied.requires_grad
    buffer = tg.nn.Buffer(tg.tensor([3.0]), persistent=False)
    copied_buffer = copy.deepcopy(buffer)
    assert type(copied_buffer) is tg.nn.Buffer and copied_buffer.persistent is False
    np.testing.assert_array_equal(copied_buffer.numpy(), np.array([3.0], np.float32))
    model = tg.nn.Linear(2, 1)
    model.weight.grad = tg.ones_like(model.weight)
    twin = copy.deepcopy(model)
    np.testing.assert_array_equal(twin.weight.numpy(), model.weight.numpy())
    np.testing.assert_array_equal(twin.weight.grad.numpy(), np.ones((1, 2), np.float32))


def test_pickle_of_a_non_leaf_gives_a_leaf_that_requires_grad(rng):
    # PyTorch pickles any tensor as its values and requires_grad (a new leaf, no grad, no
    # hooks); we failed on a non-leaf ("cannot pickle 'weakref.ReferenceType' object")
    values = rng.standard_normal(4)
    x = tg.tensor(values, requires_grad=True)
    y = x * 3.0
    loaded = pickle.loads(pickle.dumps(y))
    assert loaded.is_leaf and loaded.requires_grad and loaded.grad is None
    np.testing.assert_array_equal(loaded.numpy(), values * 3.0)
    loaded.sum().backward()                        # a leaf of its own graph
    np.testing.assert_array_equal(loaded.grad.numpy(), np.ones(4))
    assert x.grad is None


def test_pickle_drops_grad_and_hooks_and_keeps_the_subclass(rng):
    x = tg.tensor(rng.standard_normal(2), requires_grad=True)
    x.grad = tg.ones_like(x)
    x.register_hook(lambda grad: grad * 2)         # a lambda: not picklable, not kept
    loaded = pickle.loads(pickle.dumps(x))
    assert loaded.grad is None and loaded.requires_grad and loaded._hooks is None
    np.testing.assert_array_equal(loaded.numpy(), x.numpy())
    ints = pickle.loads(pickle.dumps(tg.tensor([[1, 2]], dtype=tg.int16)))
    assert ints.dtype == tg.int16 and ints.tolist() == [[1, 2]] and not ints.requires_grad
    weight = pickle.loads(pickle.dumps(tg.nn.Parameter(tg.tensor([1.5]))))
    assert type(weight) is tg.nn.Parameter and weight.requires_grad
    buffer = pickle.loads(pickle.dumps(tg.nn.Buffer(tg.tensor([1.0]), persistent=False)))
    assert type(buffer) is tg.nn.Buffer and buffer.persistent is False


def test_copy_copy_shares_memory_as_a_new_leaf(rng):
    # PyTorch's copy.copy goes through __reduce_ex__: the same memory, a new leaf
    values = rng.standard_normal(3)
    x = tg.tensor(values, requires_grad=True)
    y = x * 2.0
    shallow = copy.copy(y)
    assert shallow is not y and shallow.is_leaf and shallow.requires_grad
    assert np.shares_memory(shallow.data, y.data)
    leaf = copy.copy(x)
    assert leaf.is_leaf and leaf.requires_grad and np.shares_memory(leaf.data, x.data)
    np.testing.assert_array_equal(shallow.numpy(), values * 2.0)


# --- new_tensor, from_numpy, as_tensor, asarray ---

def test_new_tensor_of_a_tensor_warns_and_copies(device):
    # PyTorch warns: sourceTensor.detach().clone() is the recommended spelling
    x = on(device, [0.0], tg.float64)
    source = on(device, [1.5, 2.5], requires_grad=True)
    with pytest.warns(UserWarning, match="detach\\(\\).clone\\(\\)"):
        made = x.new_tensor(source)
    assert made.dtype == tg.float64 and made.is_leaf and not made.requires_grad
    np.testing.assert_array_equal(made.numpy(), np.array([1.5, 2.5]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")             # other data: no warning
        assert x.new_tensor([1, 2]).tolist() == [1.0, 2.0]


def test_from_numpy_of_a_read_only_array_warns_and_shares():
    array = np.arange(3.0)
    array.flags.writeable = False
    with pytest.warns(UserWarning, match="not writable"):
        x = tg.from_numpy(array)
    assert np.shares_memory(x.data, array) and x.tolist() == [0.0, 1.0, 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tg.from_numpy(np.arange(3.0))


def test_asarray_with_requires_grad_keeps_a_tensors_history(rng):
    # PyTorch: "if obj is also a tensor with an autograd history then the returned tensor
    # will have the same history" (we detached it: the gradient never reached x)
    values = rng.standard_normal(3)
    x = tg.tensor(values, dtype=tg.float64, requires_grad=True)
    y = x * 3.0
    same = tg.asarray(y, requires_grad=True)
    assert same is y and same.grad_fn is not None
    copied = tg.asarray(y, copy=True, requires_grad=True)   # clone: history kept
    assert copied.grad_fn is not None and not np.shares_memory(copied.data, y.data)
    (same.sum() + (copied * copied).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0 + 2.0 * 9.0 * values, rtol=1e-12)
    assert tg.gradcheck(lambda a: tg.asarray(a * 2.0, copy=True, requires_grad=True) ** 2,
                        (tg.tensor(values, dtype=tg.float64, requires_grad=True),))


def test_asarray_requires_grad_of_a_leaf_sets_it_in_place(device):
    # PyTorch returns obj itself and sets its requires_grad
    leaf = on(device, [1.0, 2.0])
    same = tg.asarray(leaf, requires_grad=True)
    assert same is leaf and leaf.requires_grad and leaf.is_leaf
    array = np.array([1.0, 2.0])
    shared = tg.asarray(array, requires_grad=True)
    assert shared.requires_grad and np.shares_memory(shared.data, array)
    with pytest.raises(TypeError, match="floating-point"):
        tg.asarray(on(device, [1, 2]), requires_grad=True)


def test_as_tensor_shares_only_a_cpu_array_of_its_dtype(device):
    array = np.array([1.0, 2.0])
    assert np.shares_memory(tg.as_tensor(array).data, array)
    copied = tg.as_tensor(array, dtype=tg.float32)
    assert copied.dtype == tg.float32 and not np.shares_memory(copied.data, array)
    moved = tg.as_tensor(array, device=device)
    assert moved.device == device and moved.tolist() == [1.0, 2.0]
    x = on(device, [1.0])
    assert tg.as_tensor(x) is x and tg.as_tensor(x, dtype=tg.float64).dtype == tg.float64


# --- pins: PyTorch's conversions, formats and sizes ---

def test_bool_int_float_and_format_of_one_element(device):
    assert bool(on(device, [0.5])) is True and bool(on(device, 0)) is False
    for bad in (on(device, [1, 2]), on(device, np.zeros(0))):
        with pytest.raises(RuntimeError, match="Boolean value of Tensor with (more than one "
                                               "value|no values) is ambiguous"):
            bool(bad)
    assert int(on(device, -2.7)) == int(np.float32(-2.7)) and float(on(device, [[3]])) == 3.0
    assert f"{on(device, 3.14159):.2f}" == f"{np.float32(3.14159).item():.2f}"
    assert f"{on(device, 7):>4d}" == "   7"
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{on(device, [1.0, 2.0]):.2f}"               # PyTorch: 0-d tensors only
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{on(device, [1.0]):.2f}"
    x = on(device, [1.0])
    assert hash(x) != hash(on(device, [1.0])) and {x: 1}[x] == 1


def test_item_tolist_type_and_sizes(device):
    assert type(on(device, True).item()) is bool and type(on(device, 3).item()) is int
    assert type(on(device, 2.0).tolist()) is float
    assert on(device, [1.1], tg.float16).tolist() == [float(np.float16(1.1))]
    names = {tg.float32: "FloatTensor", tg.float64: "DoubleTensor", tg.int64: "LongTensor",
             tg.bool_: "BoolTensor", tg.uint8: "ByteTensor", tg.float16: "HalfTensor"}
    prefix = "tinygrad_opt." if device == "cpu" else f"tinygrad_opt.{device}."
    for dtype, name in names.items():
        x = on(device, np.zeros((2, 3)), dtype)
        assert x.type() == prefix + name
        size = np.dtype(dtype).itemsize
        assert x.element_size() == x.itemsize == size and x.nbytes == 6 * size
        assert x.is_floating_point() == (np.dtype(dtype).kind == "f")
        assert x.is_signed() == (np.dtype(dtype).kind in "fi") and not x.is_complex()
    assert on(device, [1]).type(tg.float64).dtype == tg.float64
    assert on(device, [1]).type("torch.DoubleTensor").dtype == tg.float64
    assert on(device, 1.0).dim() == 0 and tg.zeros(0, 3).ndimension() == 2
    assert tg.zeros(0, 3).numel() == 0 and tg.zeros(2, 3).nelement() == 6
    assert reversed(on(device, [1, 2, 3])).tolist() == [3, 2, 1]
