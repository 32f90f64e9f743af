"""Regressions from the audit of the Tensor operations outside the core files
(ops/conveniences.py, ops/everyday.py, ops/rearrange.py, ops/cumulative.py, functions.py)
against PyTorch's documented semantics. Each expected value is NumPy or worked by hand."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg


def t64(data, requires_grad=False, device="cpu"):
    return tg.tensor(np.asarray(data, dtype=np.float64), requires_grad=requires_grad,
                     device=device)


# --- sort, argsort, topk: stable ties, NaN largest, every dtype descending ---

def test_sort_is_stable_with_many_ties_and_takes_pytorchs_stable_keyword(device):
    a = np.random.default_rng(0).integers(0, 3, size=200)  # NumPy's default sort is unstable
    x = tg.tensor(a, device=device)
    ascending = np.argsort(a, kind="stable")
    descending = np.argsort(-a, kind="stable")  # ints: negation keeps ties in order
    assert x.argsort().tolist() == ascending.tolist()
    assert x.argsort(stable=True).tolist() == ascending.tolist()
    assert x.sort(stable=True, descending=True).indices.tolist() == descending.tolist()
    assert tg.sort(x, dim=0, descending=True, stable=True).values.tolist() == \
        a[descending].tolist()


def test_sort_descending_of_bool_unsigned_and_the_lowest_int(device):
    flags = tg.tensor([True, False, True], device=device)
    assert flags.sort(descending=True).indices.tolist() == [0, 2, 1]
    small = tg.tensor(np.array([1, 0, 2], np.uint8), device=device)
    assert small.sort(descending=True).values.tolist() == [2, 1, 0]
    lowest = np.iinfo(np.int64).min
    big = tg.tensor([1, 3, lowest], device=device)
    assert big.argsort(descending=True).tolist() == [1, 0, 2]


def test_nan_sorts_as_the_largest_value(device):
    x = tg.tensor([1.0, math.nan, 0.0], device=device)
    assert x.argsort().tolist() == [2, 0, 1]
    assert x.argsort(descending=True).tolist() == [1, 0, 2]
    values, indices = x.topk(1)
    assert math.isnan(values.item()) and indices.tolist() == [1]


def test_topk_of_a_0d_tensor(device):
    values, indices = tg.tensor(3.0, device=device).topk(1)
    assert values.shape == () and values.item() == 3.0
    assert indices.shape == () and indices.item() == 0


# --- running sums and products keep the dtype they are asked for ---

def test_cumsum_cumprod_prod_keep_an_int32_dtype(device):
    x = tg.tensor([1, 2, 3], dtype=tg.int32, device=device)
    assert x.cumsum(0, dtype=tg.int32).dtype == np.int32
    assert x.cumprod(0, dtype=tg.int32).tolist() == [1, 2, 6]
    assert x.cumprod(0, dtype=tg.int32).dtype == np.int32
    assert x.prod(dtype=tg.int32).dtype == np.int32
    assert x.prod(0, dtype=tg.int32).item() == 6
    assert x.cumsum(0).dtype == np.int64  # without dtype: int64, as PyTorch
    wraps = tg.tensor(np.array([200, 100], np.uint8), device=device)
    assert wraps.cumsum(0, dtype=tg.backend.np.uint8).tolist() == [200, 44]


# --- gather refuses indices outside [0, size) ---

def test_gather_refuses_negative_and_too_large_indices(device):
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    with pytest.raises(IndexError, match="gather: index out of range"):
        x.gather(1, tg.tensor([[-1], [0]], device=device))
    with pytest.raises(IndexError, match="gather: index out of range"):
        x.gather(1, tg.tensor([[2], [0]], device=device))
    assert x.gather(1, tg.tensor([[1], [0]], device=device)).tolist() == [[2.0], [3.0]]


# --- tril / triu keep the dtype ---

@pytest.mark.parametrize("dtype", [tg.bool_, np.uint8, tg.int32, tg.float16])
def test_tril_triu_keep_the_dtype(dtype, device):
    x = tg.tensor(np.ones((2, 2)), dtype=dtype, device=device)
    assert x.tril().dtype == dtype and x.triu(1).dtype == dtype
    assert x.triu(1).numpy().astype(int).tolist() == [[0, 1], [0, 0]]


# --- norm takes every p PyTorch's does ---

def test_norm_takes_p_0_fractions_minus_inf_nuc_and_dtype(device):
    a = np.array([[3.0, -4.0, 0.0], [1.0, 2.0, 2.0]])
    x = t64(a, device=device)
    assert x.norm(0).item() == 5.0                                      # the count of x != 0
    assert math.isclose(x.norm(0.5).item(), (np.abs(a) ** 0.5).sum() ** 2)
    assert x.norm(-math.inf, dim=1).tolist() == [0.0, 1.0]             # min |x|
    singular_values = np.linalg.svd(a, compute_uv=False)
    assert math.isclose(x.norm("nuc").item(), singular_values.sum())
    assert tg.tensor([3.0, 4.0]).norm(dtype=tg.float64).dtype == np.float64
    leaf = t64(a + 0.5, requires_grad=True)
    assert tg.gradcheck(lambda t: t.norm(0.5, dim=1), [leaf])


# --- div takes rounding_mode ---

def test_div_takes_rounding_mode(device):
    x = tg.tensor([-7, 7], device=device)
    assert x.div(2, rounding_mode="floor").tolist() == [-4, 3]
    assert tg.div(x, 2, rounding_mode="trunc").tolist() == [-3, 3]
    assert tg.div(x, 2).tolist() == [-3.5, 3.5]
    y = tg.tensor([-7.0, 7.0], device=device)
    y.div_(2, rounding_mode="floor")
    assert y.tolist() == [-4.0, 3.0]


# --- repeat_interleave(repeats) and narrow with a tensor start ---

def test_repeat_interleave_with_the_counts_alone(device):
    counts = tg.tensor([2, 0, 3], device=device)
    assert tg.repeat_interleave(counts).tolist() == [0, 0, 2, 2, 2]
    assert counts.repeat_interleave().tolist() == [0, 0, 2, 2, 2]


def test_narrow_takes_a_0d_integer_tensor_start(device):
    x = tg.arange(12.0, device=device).reshape(3, 4)
    assert x.narrow(1, tg.tensor(1, device=device), 2).tolist() == [[1, 2], [5, 6], [9, 10]]
    with pytest.raises(TypeError, match="narrow"):
        x.narrow(1, tg.tensor([1], device=device), 2)


# --- functions.py: allclose with infinities, as_tensor sharing, softmax dtype, errors ---

def test_allclose_treats_equal_infinities_as_close_and_opposite_ones_not(device):
    inf = tg.tensor([math.inf, 1.0], device=device)
    assert tg.allclose(inf, inf)
    assert not tg.allclose(tg.tensor([-math.inf], device=device),
                           tg.tensor([math.inf], device=device))
    assert not tg.allclose(tg.tensor([math.inf], device=device),
                           tg.tensor([1.0], device=device))


def test_as_tensor_shares_a_numpy_array_of_its_dtype():
    a = np.arange(3.0)
    t = tg.as_tensor(a)
    a[0] = 9.0
    assert t.tolist() == [9.0, 1.0, 2.0] and t.dtype == np.float64
    copied = tg.as_tensor(a, dtype=tg.float32)   # another dtype: a copy
    a[1] = 7.0
    assert copied.tolist() == [9.0, 1.0, 2.0]


def test_softmax_functions_take_dtype_and_refuse_a_non_tensor():
    x = tg.tensor([1.0, 2.0])
    assert tg.softmax(x, 0, dtype=tg.float64).dtype == np.float64
    assert tg.log_softmax(x, dim=0, dtype=tg.float64).dtype == np.float64
    with pytest.raises(TypeError, match="add\\(\\): expected a Tensor"):
        tg.add(1, x)


# --- in-place methods refuse a float result in an integer tensor ---

def test_in_place_math_refuses_a_float_result_in_an_integer_tensor(device):
    x = tg.tensor([3, -4], device=device)
    with pytest.raises(RuntimeError, match="exp_: result type float32"):
        x.exp_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.clamp_(0.5, 1.5)
    assert x.tolist() == [3, -4]                   # untouched
    assert x.clamp_(0, 1).tolist() == [1, 0]       # an int result fits


def test_size_of_a_dim_out_of_range_names_size():
    x = tg.zeros(2, 3)
    assert x.size(-1) == 3
    with pytest.raises(IndexError, match="size: dim 2 is out of range"):
        x.size(2)
