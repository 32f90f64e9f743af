"""PyTorch's Tensor spellings (tinygrad_opt/ops/conveniences.py) and the top-level aliases.

Each method is a composition of core ops, so its gradient is checked here by finite
differences (float64) and its values against NumPy written out in the test, on the
host and on the strict device.
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg


def t64(array, device, requires_grad=True):
    return tg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad,
                     device=device)


# --- tg.float, tg.long, ... and tg.nn, tg.optim, ... ---

@pytest.mark.parametrize("alias, dtype", [("float", "float32"), ("double", "float64"),
                                          ("half", "float16"), ("long", "int64"),
                                          ("int", "int32"), ("bool", "bool")])
def test_pytorch_dtype_aliases(alias, dtype):
    assert getattr(tg, alias) == np.dtype(dtype)
    assert tg.zeros(2, dtype=getattr(tg, alias)).dtype == np.dtype(dtype)


def test_subpackages_are_attributes_after_import_tinygrad_opt():
    import tinygrad_opt.data
    import tinygrad_opt.nn
    import tinygrad_opt.optim
    assert tg.nn is tinygrad_opt.nn and tg.optim is tinygrad_opt.optim
    assert tg.data is tinygrad_opt.data
    assert {"nn", "optim", "float", "long"} <= set(dir(tg))
    with pytest.raises(AttributeError, match="no attribute 'Linearr'"):
        tg.Linearr


def test_python_builtins_are_not_hidden_inside_the_package():
    # the aliases are answered by __getattr__, not stored as globals named float/int/bool
    assert "float" not in vars(tg) and "int" not in vars(tg) and "bool" not in vars(tg)


# --- to() ---

def test_to_takes_every_pytorch_spelling(device):
    x = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    assert x.to(device) is x and x.to(dtype=tg.float32) is x
    assert x.to(tg.float64).dtype == np.float64 and x.to(tg.float64).device == device
    both = x.to("cpu", tg.float64)
    assert (both.device, both.dtype) == ("cpu", np.float64)
    like = tg.zeros(1, dtype=tg.float16, device="cpu")
    assert (x.to(like).device, x.to(like).dtype) == ("cpu", np.float16)
    assert x.to(device=device, dtype="float64").dtype == np.float64
    copied = x.to(device, copy=True)
    assert copied is not x and copied.data is not x.data
    (copied * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])  # the copy stays in the graph
    x.grad = None
    x.to("cpu", tg.float64, non_blocking=True).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.device == device


def test_to_refuses_what_it_cannot_read():
    x = tg.zeros(2)
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(devic="cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        x.to("gpu")
    with pytest.raises(TypeError, match="positional"):
        x.to("cpu", tg.float32, tg.float64)  # (PyTorch's to(device, dtype, non_blocking) works)


# --- dtypes and sizes ---

def test_dtype_shorthands():
    x = tg.tensor([0.0, 1.5, -2.0])
    assert x.half().dtype == np.float16 and x.double().dtype == np.float64
    assert x.int().tolist() == [0, 1, -2] and x.int().dtype == np.int32
    assert x.long().dtype == np.int64 and x.bool().tolist() == [False, True, True]
    assert x.type_as(tg.zeros(1, dtype=tg.float64)).dtype == np.float64


def test_layout_shorthands(device, rng):
    m = t64(rng.normal(size=(2, 3)), device)
    assert m.t().shape == (3, 2) and m.contiguous() is m
    v = t64([1.0, 2.0], device)
    assert v.t() is v
    assert m.view_as(tg.zeros(3, 2)).shape == (3, 2) and m.reshape_as(tg.zeros(6)).shape == (6,)
    assert v.reshape(2, 1).expand_as(m).shape == (2, 3)
    assert m.size() == (2, 3) and m.size(1) == 3 and m.numel() == 6 and m.dim() == 2
    with pytest.raises(ValueError, match="at most 2 dims"):
        tg.zeros(2, 2, 2).t()


# --- arithmetic names ---

def test_arithmetic_names_match_the_operators(device, rng):
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3,))
    x, y = t64(a, device, False), t64(b, device, False)
    np.testing.assert_allclose(x.add(y, alpha=3).numpy(), a + 3 * b)
    np.testing.assert_allclose(x.sub(y, alpha=0.5).numpy(), a - 0.5 * b)
    np.testing.assert_allclose(x.mul(y).numpy(), a * b)
    np.testing.assert_allclose(x.div(y).numpy(), a / b)
    np.testing.assert_allclose(x.pow(2).numpy(), a ** 2)
    np.testing.assert_allclose(x.neg().numpy(), -a)
    np.testing.assert_allclose(x.square().numpy(), a * a)


def test_in_place_arithmetic_names(device):
    x = tg.tensor([1.0, 2.0], device=device)
    assert x.add_(1, alpha=2) is x
    np.testing.assert_array_equal(x.numpy(), [3, 4])
    x.sub_(1).mul_(3).div_(2)
    np.testing.assert_array_equal(x.numpy(), [3, 4.5])


# --- gradients of the compositions ---

GRADCHECKS = [
    ("square", lambda x: x.square(), (2, 3)),
    ("add alpha", lambda x: x.add(x.exp(), alpha=-2.5), (3,)),
    ("t", lambda x: x.t() * tg.arange(6, dtype=tg.float64, device=x.device).reshape(3, 2),
     (2, 3)),
    ("expand_as", lambda x: x.expand_as(tg.zeros(4, 3, dtype=tg.float64, device=x.device)),
     (1, 3)),
    ("norm 2", lambda x: x.norm(), (2, 3)),
    ("norm 2 dim", lambda x: x.norm(dim=1, keepdim=True), (2, 3)),
    ("norm 3", lambda x: x.norm(3, dim=0), (2, 3)),
    ("norm fro", lambda x: x.norm("fro"), (4,)),
    ("masked_fill", lambda x: x.masked_fill(x > 0.3, -1.0), (3, 4)),
    ("gather", lambda x: x.gather(1, tg.tensor([[2, 0, 0], [1, 1, 3]], device=x.device)),
     (2, 4)),
    ("sort", lambda x: x.sort(0, descending=True).values * tg.arange(
        12, dtype=tg.float64, device=x.device).reshape(3, 4), (3, 4)),
    ("topk", lambda x: x.topk(2).values * tg.tensor([1.0, -3.0], dtype=tg.float64,
                                                     device=x.device), (3, 5)),
]


@pytest.mark.parametrize("name, fn, shape", GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_gradcheck(name, fn, shape, device, rng):
    x = t64(rng.normal(size=shape), device)
    assert tg.gradcheck(fn, (x,))


def test_in_place_methods_match_their_out_of_place_twin(device, rng):
    data = rng.normal(size=(3, 4))
    for name, args in [("relu", ()), ("clamp", (-0.2, 0.4)), ("neg", ()), ("abs", ()),
                       ("exp", ()), ("sigmoid", ()), ("tanh", ()), ("pow", (3,))]:
        out_of_place = t64(data, device)
        getattr(out_of_place * 1.0, name)(*args).sum().backward()
        in_place = t64(data, device)
        middle = in_place * 1.0
        assert getattr(middle, name + "_")(*args) is middle
        middle.sum().backward()
        np.testing.assert_allclose(in_place.grad.numpy(), out_of_place.grad.numpy(),
                                   err_msg=name)
    positive = t64(np.abs(data) + 0.5, device)
    for name in ("log", "sqrt"):
        ours = positive * 1.0
        getattr(ours, name + "_")()
        np.testing.assert_allclose(ours.numpy(), getattr(np, name)(np.abs(data) + 0.5))


def test_in_place_method_on_a_leaf_that_requires_grad_refuses():
    with pytest.raises(RuntimeError, match="leaf"):
        tg.tensor([1.0, -1.0], requires_grad=True).relu_()
    frozen = tg.tensor([1.0, -1.0])
    frozen.relu_()
    assert frozen.tolist() == [1.0, 0.0]


def test_norm_at_zero_has_a_zero_gradient(device):
    x = t64([[0.0, 0.0], [3.0, 4.0]], device)
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0], [0.6, 0.8]])
    z = t64(np.zeros(3), device)
    z.norm().backward()
    np.testing.assert_array_equal(z.grad.numpy(), np.zeros(3))


def test_norm_values_and_errors(rng):
    a = rng.normal(size=(3, 4))
    x = t64(a, "cpu", False)
    assert math.isclose(x.norm().item(), np.linalg.norm(a))
    assert math.isclose(x.norm(1).item(), np.abs(a).sum())
    assert math.isclose(x.norm(math.inf).item(), np.abs(a).max())
    np.testing.assert_allclose(x.norm(3, dim=1).numpy(), (np.abs(a) ** 3).sum(1) ** (1 / 3))
    assert math.isclose(x.norm(0.5).item(), (np.abs(a) ** 0.5).sum() ** 2)  # as PyTorch
    with pytest.raises(ValueError, match="p must be"):
        x.norm("max")


def test_masked_fill_values_dtype_and_mask_checks(device):
    x = tg.tensor([[1, 2, 3], [4, 5, 6]], device=device)
    mask = tg.tensor([True, False, True], device=device)
    assert x.masked_fill(mask, 0).tolist() == [[0, 2, 0], [0, 5, 0]]
    assert x.masked_fill(mask, 0).dtype == np.int64
    with pytest.raises(TypeError, match="bool tensor"):
        x.masked_fill(tg.tensor([1, 0, 1], device=device), 0)


def test_masked_fill_gives_a_tensor_value_the_gradient_of_the_filled_places(device):
    x = t64([1.0, 2.0, 3.0], device)
    value = t64(5.0, device)
    x.masked_fill(tg.tensor([True, False, True], device=device), value).sum().backward()
    assert value.grad.item() == 2.0
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 0])


def test_masked_fill_blocks_an_infinite_gradient_on_the_filled_side():
    x = tg.tensor([-1.0, 4.0], requires_grad=True)
    x.masked_fill(x < 0, 0.0).sqrt().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0.25])


# --- selection against NumPy ---

def test_gather_matches_take_along_axis(device, rng):
    a = rng.normal(size=(3, 4, 5))
    for dim in range(3):
        shape = [2, 3, 4]
        index = rng.integers(0, a.shape[dim], size=shape)
        ours = t64(a, device, False).gather(dim, tg.tensor(index, device=device))
        sliced = a[:2, :3, :4]
        take = np.take_along_axis(a[tuple(slice(None) if d == dim else slice(0, shape[d])
                                          for d in range(3))], index, axis=dim)
        np.testing.assert_array_equal(ours.numpy(), take)
        assert ours.shape == sliced.shape


def test_gather_errors():
    x = tg.zeros(2, 3)
    with pytest.raises(TypeError, match="integer tensor"):
        x.gather(1, tg.zeros(2, 1))
    with pytest.raises(ValueError, match="dims"):
        x.gather(1, tg.tensor([0, 1]))
    with pytest.raises(ValueError, match="larger"):
        x.gather(1, tg.tensor([[0], [1], [2]]))
    with pytest.raises(IndexError, match="out of range"):
        x.gather(2, tg.tensor([[0]]))


def test_sort_argsort_topk_match_numpy(device, rng):
    a = rng.permutation(24).reshape(4, 6).astype(np.float64)  # no ties
    x = t64(a, device, False)
    for dim in (0, 1, -1):
        np.testing.assert_array_equal(x.argsort(dim).numpy(), np.argsort(a, axis=dim))
        values, indices = x.sort(dim, descending=True)
        np.testing.assert_array_equal(values.numpy(), -np.sort(-a, axis=dim))
        np.testing.assert_array_equal(indices.numpy(), np.argsort(-a, axis=dim))
    values, indices = x.topk(3, dim=1)
    np.testing.assert_array_equal(values.numpy(), -np.sort(-a, axis=1)[:, :3])
    smallest = x.topk(2, dim=0, largest=False)
    np.testing.assert_array_equal(smallest.values.numpy(), np.sort(a, axis=0)[:2])
    assert indices.dtype == np.int64 and not indices.requires_grad
    with pytest.raises(ValueError, match="k=7 is out of range"):
        x.topk(7)


def test_topk_gradient_lands_on_the_picked_elements():
    x = tg.tensor([0.5, 3.0, -1.0, 2.0], requires_grad=True)
    x.topk(2).values.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_amax_amin_share_the_gradient_among_ties():
    x = tg.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 0.0]], requires_grad=True)
    (x.amax(1).sum() + x.amin(1).sum()).backward()
    assert x.grad.tolist() == [[1.0, 0.5, 0.5], [1.0, 0.5, 0.5]]


# --- comparisons and logic ---

def test_comparison_names_and_logic(device, rng):
    a, b = rng.integers(0, 3, size=(3, 4)), rng.integers(0, 3, size=(4,))
    x, y = tg.tensor(a, device=device), tg.tensor(b, device=device)
    for name, ref in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                      ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal),
                      ("logical_and", np.logical_and), ("logical_or", np.logical_or)]:
        np.testing.assert_array_equal(getattr(x, name)(y).numpy(), ref(a, b), err_msg=name)
    np.testing.assert_array_equal(x.logical_not().numpy(), a == 0)
    np.testing.assert_array_equal(x.all(1).numpy(), a.all(1))
    np.testing.assert_array_equal(x.any(0, keepdim=True).numpy(), a.any(0, keepdims=True))
    np.testing.assert_array_equal(x.all((0, -1)).numpy(), a.all((0, 1)))
    assert x.any().item() == a.any() and tg.tensor(0.0).all().item() is False


def test_isnan_isinf_isfinite(device):
    x = tg.tensor([1.0, math.nan, math.inf, -math.inf], device=device)
    assert x.isnan().tolist() == [False, True, False, False]
    assert x.isinf().tolist() == [False, False, True, True]
    assert x.isfinite().tolist() == [True, False, False, False]
    assert not x.isnan().requires_grad


# --- tg.<name> function forms (tinygrad_opt/functions.py) ---

def test_function_forms_call_the_methods(rng):
    a = rng.permutation(12).reshape(3, 4).astype(np.float64)
    x = tg.tensor(a)
    np.testing.assert_array_equal(tg.sort(x, 1).values.numpy(), np.sort(a, 1))
    np.testing.assert_array_equal(tg.topk(x, 2).indices.numpy(), np.argsort(-a, 1)[:, :2])
    np.testing.assert_allclose(tg.softmax(x, 1).numpy().sum(1), 1)
    np.testing.assert_array_equal(tg.square(x).numpy(), a * a)
    np.testing.assert_array_equal(tg.pow(x, 3).numpy(), a ** 3)
    np.testing.assert_array_equal(tg.gt(x, 5).numpy(), a > 5)
    np.testing.assert_array_equal(tg.tril(x, -1).numpy(), np.tril(a, -1))
    np.testing.assert_array_equal(tg.triu(x, 1).numpy(), np.triu(a, 1))
    assert tg.numel(x) == 12 and tg.amax(x).item() == 11 and tg.norm(x, 1).item() == 66
    assert tg.all.__doc__.startswith("True where every element")
    assert tg.concat([x, x]).shape == (6, 4) and tg.concatenate([x], 1).shape == (3, 4)


def test_tril_triu_gradients_are_exactly_zero_on_the_zeroed_side():
    x = tg.tensor([[1.0, 4.0], [9.0, 16.0]], requires_grad=True)
    tg.tril(x).sqrt().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, 0], [1 / 6, 0.125]], rtol=1e-6, atol=0)
    assert tg.gradcheck(lambda t: t.triu(-1) * 3, (t64(np.ones((2, 3, 4)), "cpu"),))
    with pytest.raises(ValueError, match="at least 2 dims"):
        tg.tril(tg.ones(3))


def test_from_numpy_shares_memory_and_as_tensor_copies_only_when_needed():
    a = np.arange(4.0)
    t = tg.from_numpy(a)
    t[0] = 9.0
    a[1] = 7.0
    assert a.tolist() == [9, 7, 2, 3] and t.tolist() == [9, 7, 2, 3] and t.dtype == np.float64
    with pytest.raises(TypeError, match="dtype <U1"):
        tg.from_numpy(np.array(["a"]))
    with pytest.raises(TypeError, match="NumPy array"):
        tg.from_numpy([1.0])
    assert tg.as_tensor(t) is t
    assert tg.as_tensor(t, dtype=tg.float32).dtype == np.float32
    assert tg.as_tensor([1, 2]).dtype == np.int64
    assert tg.is_tensor(t) and not tg.is_tensor(a)


def test_randperm_follows_the_framework_seed():
    tg.manual_seed(5)
    first = tg.randperm(10)
    tg.manual_seed(5)
    assert tg.randperm(10).tolist() == first.tolist()
    assert sorted(first.tolist()) == list(range(10)) and first.dtype == np.int64
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        tg.randperm(-1)


def test_allclose_and_equal():
    a = tg.tensor([1.0, 2.0, math.nan])
    assert not tg.allclose(a, a) and tg.allclose(a, a, equal_nan=True)
    assert tg.allclose(tg.tensor([1.0]), tg.tensor([1.0 + 1e-6]))
    assert not tg.allclose(tg.tensor([1.0]), tg.tensor([1.1]))
    assert tg.allclose(tg.tensor([1.0, 1.05]), tg.tensor([1.0, 1.0]), atol=0.1)
    assert tg.equal(tg.ones(2), tg.ones(2)) and not tg.equal(tg.ones(2), tg.ones(3))
    assert not tg.equal(tg.ones(2), tg.zeros(2))


def test_matrix_products_check_their_shapes(rng):
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(tg.mm(tg.tensor(a), tg.tensor(b)).numpy(), a @ b, rtol=1e-6)
    A, B = rng.normal(size=(5, 2, 3)), rng.normal(size=(5, 3, 4))
    np.testing.assert_allclose(tg.bmm(tg.tensor(A), tg.tensor(B)).numpy(), A @ B, rtol=1e-6)
    u, v = rng.normal(size=3), rng.normal(size=3)
    assert math.isclose(tg.dot(tg.tensor(u), tg.tensor(v)).item(), u @ v, rel_tol=1e-6)
    np.testing.assert_allclose(tg.outer(tg.tensor(u), tg.tensor(v)).numpy(), np.outer(u, v),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="mm: expected two matrices"):
        tg.mm(tg.tensor(A), tg.tensor(b))
    with pytest.raises(ValueError, match="bmm"):
        tg.bmm(tg.tensor(A), tg.tensor(B[:4]))
    with pytest.raises(ValueError, match="dot"):
        tg.dot(tg.tensor(u), tg.tensor(a))
    with pytest.raises(ValueError, match="outer"):
        tg.outer(tg.tensor(a), tg.tensor(u))


def test_inference_mode_records_nothing():
    x = tg.ones(2, requires_grad=True)
    with tg.inference_mode():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_the_arithmetic_functions_of_tg(device):
    x = tg.tensor([1.0, 2.0], device=device)
    y = tg.tensor([4.0, 8.0], device=device)
    assert tg.add(x, y, alpha=2).tolist() == [9.0, 18.0]
    assert tg.sub(y, x).tolist() == [3.0, 6.0]
    assert tg.mul(x, y).tolist() == [4.0, 16.0]
    assert tg.div(y, x).tolist() == [4.0, 4.0]
    assert tg.pow(2.0, x).tolist() == [2.0, 4.0]
    assert tg.pow(x, 2).tolist() == [1.0, 4.0]
