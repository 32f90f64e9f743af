"""Second audit of the Tensor methods outside the core files (ops/statistics.py,
ops/rearrange.py, ops/everyday.py, ops/math_ops.py, ops/cumulative.py, ops/surface_more.py,
ops/conveniences.py) against PyTorch's documented semantics. Expected values are NumPy
or worked by hand; each test names what PyTorch does."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg

inf, nan = math.inf, math.nan


def t64(data, requires_grad=False, device="cpu"):
    return tg.tensor(np.asarray(data, dtype=np.float64), requires_grad=requires_grad,
                     device=device)


# --- quantile interpolates with PyTorch's lerp ---

def _torch_lerp(low, high, weight):
    """PyTorch's lerp kernel: from the start for |w| < 0.5, from the end otherwise."""
    return np.where(np.abs(weight) < 0.5, low + (high - low) * weight,
                    high - (high - low) * (1 - weight))


def test_quantile_linear_and_midpoint_are_pytorchs_lerp_to_the_last_bit(device):
    # PyTorch: values_below.lerp_(values_above, weights), weights = rank - floor(rank)
    # (0.5 for midpoint); for weights >= 0.5 lerp counts back from values_above.
    rows = np.random.default_rng(0).standard_normal((200, 5)).astype(np.float32)
    q = np.array([0.1, 0.4, 0.6, 0.9], np.float32)
    ordered = np.sort(rows, axis=1)
    rank = q * np.float32(4)
    below, above = np.floor(rank), np.ceil(rank)                   # float32 both
    low, high = ordered[:, below.astype(int)], ordered[:, above.astype(int)]
    x, qt = tg.tensor(rows, device=device), tg.tensor(q, device=device)
    linear = tg.quantile(x, qt, dim=1).numpy()
    midpoint = tg.quantile(x, qt, dim=1, interpolation="midpoint").numpy()
    assert np.array_equal(linear, _torch_lerp(low, high, rank - below).T)
    assert np.array_equal(midpoint, _torch_lerp(low, high, np.float32(0.5)).T)


def test_quantile_between_a_number_and_an_infinity_is_pytorchs_lerp(device):
    # lerp(1, inf, 0.5) = inf - inf * 0.5 = NaN in PyTorch; lerp(-inf, 1, 0.5) = 1 - inf*0.5
    x = tg.tensor([1.0, inf], device=device)
    assert math.isnan(tg.quantile(x, 0.5).item())
    assert math.isnan(tg.quantile(x, 0.5, interpolation="midpoint").item())
    assert tg.quantile(x, 0.25).item() == inf                      # 1 + 0.25 * inf
    assert tg.quantile(tg.tensor([-inf, 1.0], device=device), 0.5).item() == -inf
    assert tg.quantile(x, 0.0).item() == 1.0


def test_quantile_gradient_through_the_far_branch_of_lerp():
    # weight 0.75 >= 0.5: the value is high - (high - low) * 0.25; the gradients are still
    # 1 - w and w, and a tensor q gets (high - low) * (n - 1).
    x = t64([4.0, 1.0, 2.0], requires_grad=True)
    q = t64(0.875, requires_grad=True)                              # rank 1.75
    y = tg.quantile(x, q)
    assert y.item() == pytest.approx(2 + 2 * 0.75)
    y.backward()
    assert x.grad.tolist() == pytest.approx([0.75, 0.0, 0.25])
    assert q.grad.item() == pytest.approx(2.0 * 2)


# --- unique and unique_consecutive of empty inputs ---

def test_unique_consecutive_of_an_empty_tensor_is_empty(device):
    # PyTorch: three empty results (values, inverse of the input's shape, counts)
    values, inverse, counts = tg.unique_consecutive(tg.zeros(0, 3, device=device),
                                                    return_inverse=True, return_counts=True)
    assert values.shape == (0,) and inverse.shape == (0, 3) and counts.shape == (0,)
    assert inverse.dtype == np.int64 and counts.dtype == np.int64


@pytest.mark.parametrize("function", [tg.unique, tg.unique_consecutive])
def test_unique_along_an_empty_dim_gives_the_empty_input_back(function, device):
    # PyTorch (unique_dim): size(dim) == 0 gives values of the input's shape, empty
    # inverse and counts
    values, inverse, counts = function(tg.zeros(2, 0, 3, device=device), dim=1,
                                       return_inverse=True, return_counts=True)
    assert values.shape == (2, 0, 3) and inverse.shape == (0,) and counts.shape == (0,)


@pytest.mark.parametrize("function", [tg.unique, tg.unique_consecutive])
def test_unique_refuses_a_size_0_dim_that_is_not_the_dim(function, device):
    # PyTorch: "There are 0 sized dimensions, and they aren't selected, so unique cannot
    # be applied" (and with two size-0 dims: "more than one")
    with pytest.raises(ValueError, match="size-0 dims other than dim 0"):
        function(tg.zeros(3, 0, device=device), dim=0)
    with pytest.raises(ValueError, match="unique"):
        function(tg.zeros(0, 0, device=device), dim=0)


def test_unique_along_a_dim_sorts_slices_lexicographically_with_inverse_and_counts(device):
    # PyTorch: unique(dim=1) of columns [1,0], [2,1], [1,0], [0,5] -> [0,5], [1,0], [2,1]
    x = tg.tensor([[1, 2, 1, 0], [0, 1, 0, 5]], device=device)
    values, inverse, counts = tg.unique(x, dim=1, return_inverse=True, return_counts=True)
    assert values.tolist() == [[0, 1, 2], [5, 0, 1]]
    assert inverse.tolist() == [1, 2, 1, 0] and counts.tolist() == [1, 2, 1]


# --- histc bins in the input's dtype ---

def test_histc_finds_bins_in_float32_as_pytorchs_kernel(device):
    # PyTorch: the edges are linspace(min, max) in x's dtype and entry v goes to bin
    # int((v - edge_0) * bins / (edge_last - edge_0)), all in float32 for a float32 x
    low, high, bins = -0.5504321641939228, 1.1917621096767217, 28
    lo, hi = np.float32(low), np.float32(high)
    edges = lo + (hi - lo) * np.arange(bins + 1, dtype=np.float32) / np.float32(bins)
    x = np.concatenate([edges, np.nextafter(edges, np.float32(9)),
                        np.nextafter(edges, np.float32(-9))]).astype(np.float32)
    inside = (x >= lo) & (x <= hi)
    position = ((x[inside] - lo) * np.float32(bins) / (hi - lo)).astype(np.int64)
    expected = np.bincount(np.minimum(position, bins - 1), minlength=bins)
    result = tg.histc(tg.tensor(x, device=device), bins, low, high)
    assert result.dtype == np.float32
    assert result.numpy().tolist() == expected.tolist()


def test_histc_takes_the_data_range_whenever_min_equals_max(device):
    # PyTorch: min == max (not only 0) means the data's own range; all-equal data widen by 1
    x = tg.tensor([1.0, 2.0, 1.0, 5.0], device=device)
    assert tg.histc(x, bins=4, min=3, max=3).tolist() == [2.0, 1.0, 0.0, 1.0]
    assert tg.histc(tg.tensor([2.0, 2.0], device=device), bins=4).tolist() == [0, 0, 2, 0]
    assert tg.histc(x, bins=2, min=0, max=2).tolist() == [0.0, 3.0]   # 5 is left out


# --- searchsorted checks its sorter and sequence ---

def test_searchsorted_refuses_a_sorter_of_another_shape_instead_of_a_wrong_answer(device):
    # PyTorch: "boundary and sorter must have the same size" (a shorter sorter used to
    # sort only part of the sequence, silently)
    sequence = tg.tensor([3, 1, 2], device=device)
    with pytest.raises(ValueError, match="sorter of shape"):
        tg.searchsorted(sequence, tg.tensor([2], device=device),
                        sorter=tg.tensor([1, 2], device=device))


def test_searchsorted_names_a_bad_sorter_or_a_0d_sequence(device):
    # PyTorch: "sorter must be a tensor of long dtype", "sorter index out of range",
    # and a 0-d boundaries tensor is refused
    sequence, value = tg.tensor([3, 1, 2], device=device), tg.tensor([2], device=device)
    with pytest.raises(TypeError, match="searchsorted: sorter must be an integer tensor"):
        tg.searchsorted(sequence, value, sorter=tg.tensor([1.0, 2.0, 0.0], device=device))
    for bad in ([1, 2, 5], [1, -1, 0]):
        with pytest.raises(IndexError, match="searchsorted: sorter index out of range"):
            tg.searchsorted(sequence, value, sorter=tg.tensor(bad, device=device))
    with pytest.raises(ValueError, match="searchsorted: the sorted sequence must have"):
        tg.searchsorted(tg.tensor(3, device=device), tg.tensor(2, device=device))


def test_searchsorted_with_a_sorter_row_by_row_and_side_right(device):
    # PyTorch: each row is sorted by its sorter row; side='right' counts entries <= v
    sequence = tg.tensor([[5, 1, 3, 3], [0, 9, 4, 4]], device=device)
    sorter = tg.tensor([[1, 2, 3, 0], [0, 2, 3, 1]], device=device)
    values = tg.tensor([[3, 4], [4, 10]], device=device)
    assert tg.searchsorted(sequence, values, sorter=sorter).tolist() == [[1, 3], [1, 4]]
    assert tg.searchsorted(sequence, values, sorter=sorter,
                           side="right").tolist() == [[3, 3], [3, 4]]


# --- clear errors for a float where an int belongs ---

def test_narrow_and_tensor_split_name_a_float_argument(device):
    # PyTorch raises TypeError for a float start/length or sections (before: Python's
    # "slice indices must be integers" and "'float' object is not iterable")
    x = tg.arange(6.0, device=device).reshape(2, 3)
    with pytest.raises(TypeError, match="narrow: start must be an int"):
        tg.narrow(x, 0, 0.5, 1)
    with pytest.raises(TypeError, match="narrow: length must be an int"):
        x.narrow(1, 1, 1.0)
    with pytest.raises(TypeError, match="tensor_split: indices_or_sections must be"):
        tg.tensor_split(x, 1.5)
    assert tg.narrow(x, 1, np.int64(-2), 2).tolist() == [[1.0, 2.0], [4.0, 5.0]]
    assert [p.shape for p in tg.tensor_split(x, (1,), dim=1)] == [(2, 1), (2, 2)]


# --- lerp of float16 in float32, rounded once ---

def _lerp_in_float32(start, end, weight):
    start, end, weight = (np.asarray(v).astype(np.float32) for v in (start, end, weight))
    return _torch_lerp(start, end, weight).astype(np.float16)


def test_lerp_of_float16_is_computed_in_float32_and_rounded_once(device):
    # PyTorch's lerp kernel computes Half in float ("opmath") and rounds the result once;
    # in float16 each of the three steps rounded (a quarter of these were an ulp off)
    rng = np.random.default_rng(1)
    start, end = (rng.standard_normal((2, 2000)) * 100).astype(np.float16)
    weight = rng.random(2000).astype(np.float16)
    x, y = tg.tensor(start, device=device), tg.tensor(end, device=device)
    tensor_weight = tg.lerp(x, y, tg.tensor(weight, device=device))
    number_weight = x.lerp(y, 0.3)
    assert tensor_weight.dtype == np.float16 and number_weight.dtype == np.float16
    assert np.array_equal(tensor_weight.numpy(), _lerp_in_float32(start, end, weight))
    assert np.array_equal(number_weight.numpy(), _lerp_in_float32(start, end, 0.3))


def test_lerp_of_float16_gives_float16_gradients():
    start = tg.tensor(np.array([1.0, 2.0], np.float16), requires_grad=True)
    end = tg.tensor(np.array([3.0, 6.0], np.float16), requires_grad=True)
    weight = tg.tensor(np.array([0.25, 0.75], np.float16), requires_grad=True)
    tg.lerp(start, end, weight).sum().backward()
    assert start.grad.dtype == end.grad.dtype == weight.grad.dtype == np.float16
    assert start.grad.tolist() == [0.75, 0.25] and end.grad.tolist() == [0.25, 0.75]
    assert weight.grad.tolist() == [2.0, 4.0]


# --- trapezoid in PyTorch's order of operations; float16 running log-sum-exp ---

def test_trapezoid_with_a_constant_spacing_is_pytorchs_formula_in_float16(device):
    # PyTorch: (y.sum(dim) - (y_0 + y_last) * 0.5) * dx; a float16 sum is accumulated in
    # float32 and rounded once. Summing float16 pair averages rounds 28 times instead.
    rng = np.random.default_rng(2)
    y = (np.round(rng.uniform(100, 250, (20, 30)) * 8) / 8).astype(np.float16)
    total = y.astype(np.float32).sum(axis=1).astype(np.float16)   # exact in float32
    ends = y[:, 0] + y[:, -1]                                     # float16 ops, as PyTorch's
    expected = (total - ends * np.float16(0.5)) * np.float16(2.0)
    result = tg.trapezoid(tg.tensor(y, device=device), dx=2.0)
    assert result.dtype == np.float16
    assert np.array_equal(result.numpy(), expected)


def test_trapezoid_and_cumulative_trapezoid_values_and_gradients(device):
    # NumPy's trapezoid values; the gradient of the constant-spacing rule is dx inside and
    # dx / 2 at the two ends, of the sample-point rule (x_{i+1} - x_{i-1}) / 2 inside
    y = t64([1.0, 2.0, 4.0, 7.0], requires_grad=True, device=device)
    x = t64([0.0, 1.0, 3.0, 3.5], requires_grad=True, device=device)
    assert tg.trapezoid(y, dx=0.5).item() == pytest.approx(np.trapezoid([1, 2, 4, 7], dx=0.5))
    assert tg.cumulative_trapezoid(y, dx=2.0).tolist() == pytest.approx([3.0, 9.0, 20.0])
    tg.trapezoid(y, dx=0.5).backward()
    assert y.grad.tolist() == pytest.approx([0.25, 0.5, 0.5, 0.25])
    y.grad = None
    tg.trapezoid(y, x).backward()
    assert y.grad.tolist() == pytest.approx([0.5, 1.5, 1.25, 0.25])
    assert x.grad.tolist() == pytest.approx([-1.5, -1.5, -2.5, 5.5])   # (y_{i-1} - y_{i+1}) / 2
    assert tg.trapezoid(t64([2.0], device=device)).item() == 0.0
    assert tg.trapezoid(tg.zeros(3, 0, device=device), dim=1).tolist() == [0.0, 0.0, 0.0]


def test_logcumsumexp_of_float16_rounds_each_entry_once(device):
    # PyTorch's CPU kernel accumulates Half in float (acc_type) and rounds each entry
    rows = (np.random.default_rng(3).standard_normal((50, 40)) * 3).astype(np.float16)
    expected = np.logaddexp.accumulate(rows.astype(np.float32), axis=1).astype(np.float16)
    result = tg.logcumsumexp(tg.tensor(rows, device=device), 1)
    assert result.dtype == np.float16
    assert np.array_equal(result.numpy(), expected)


# --- aminmax along a full dim of an empty tensor ---

def test_aminmax_along_a_full_dim_of_an_empty_tensor_is_empty(device):
    # PyTorch: aminmax(zeros(0, 3), dim=1) gives two empty tensors of shape (0,); only a
    # reduction over an empty dim raises
    low, high = tg.aminmax(tg.zeros(0, 3, device=device), dim=1)
    assert low.shape == high.shape == (0,)
    low, high = tg.aminmax(tg.zeros(0, 3, device=device), dim=-1, keepdim=True)
    assert low.shape == high.shape == (0, 1)
    with pytest.raises(ValueError, match="aminmax: cannot take the min and max"):
        tg.aminmax(tg.zeros(0, 3, device=device), dim=0)
    with pytest.raises(ValueError, match="aminmax: cannot take the min and max"):
        tg.aminmax(tg.zeros(0, 3, device=device))


# --- behaviours checked against PyTorch and pinned ---

def test_topk_smallest_skips_nan_and_sort_descending_puts_nans_first_in_order(device):
    # PyTorch: NaN is the largest value, so largest=False never picks it, and a stable
    # descending sort puts the NaNs first, in their original order
    x = tg.tensor([3.0, nan, 1.0, nan, 1.0], device=device)
    values, indices = x.topk(2, largest=False)
    assert values.tolist() == [1.0, 1.0] and indices.tolist() == [2, 4]
    assert x.sort(descending=True, stable=True).indices.tolist() == [1, 3, 0, 2, 4]


def test_float_division_rounding_modes_and_remainders_at_zero_and_infinity(device):
    # PyTorch: floor/trunc division by 0 give ±inf (0/0 NaN); remainder takes the
    # divisor's sign, so remainder(-5, inf) = inf while fmod(-5, inf) = -5
    x = tg.tensor([-7.0, 7.0, 0.0], device=device)
    zero = tg.tensor([0.0, -0.0, 0.0], device=device)
    floor = tg.div(x, zero, rounding_mode="floor").tolist()
    trunc = tg.div(x, zero, rounding_mode="trunc").tolist()
    assert floor[:2] == [-inf, -inf] and math.isnan(floor[2])
    assert trunc[:2] == [-inf, -inf] and math.isnan(trunc[2])
    y = tg.tensor([5.0, -5.0], device=device)
    assert tg.remainder(y, inf).tolist() == [5.0, inf]
    assert tg.fmod(y, inf).tolist() == [5.0, -5.0]
    assert tg.remainder(tg.tensor([-7, 7], device=device), -2).tolist() == [-1, -1]
    assert tg.fmod(tg.tensor([-7, 7], device=device), -2).tolist() == [-1, 1]


def test_median_kthvalue_and_nanmedian_pick_pytorchs_entries(device):
    # PyTorch: median of an even count is the lower middle; a NaN row gives its first NaN;
    # nanmedian of an all-NaN row is NaN; kthvalue counts NaN as the largest
    x = tg.tensor([[4.0, 1.0, 3.0, 2.0], [2.0, nan, 0.0, nan]], device=device)
    values, indices = x.median(1)
    assert values[0].item() == 2.0 and indices.tolist() == [3, 1]
    assert math.isnan(values[1].item())
    values, indices = x.nanmedian(1)
    assert values.tolist() == [2.0, 0.0] and indices.tolist() == [3, 2]
    assert math.isnan(tg.tensor([nan, nan], device=device).nanmedian().item())
    values, indices = x.kthvalue(3, 1)
    assert values[0].item() == 3.0 and math.isnan(values[1].item())
    assert indices.tolist() == [2, 1]


def test_repeat_tile_roll_and_repeat_interleave_take_numpy_integers(device):
    # PyTorch takes NumPy integers for int arguments (through __index__); these refused
    # them ("expected ints, got (np.int64(2),)") where reshape and zeros took them
    x = tg.tensor([[1, 2]], device=device)
    two = np.int64(2)
    assert x.repeat(two, 1).tolist() == [[1, 2], [1, 2]]
    assert tg.tile(x, (np.int32(2),)).tolist() == [[1, 2, 1, 2]]
    assert tg.roll(x, np.int64(1), np.int64(1)).tolist() == [[2, 1]]
    assert tg.repeat_interleave(x, two, dim=1).tolist() == [[1, 1, 2, 2]]
    assert tg.flip(x, (np.int64(-1),)).tolist() == [[2, 1]]
    with pytest.raises(TypeError, match="repeat: expected ints"):
        x.repeat(True, 1)


def test_copy_names_a_source_that_does_not_broadcast(device):
    # PyTorch: copy_ broadcasts src to the tensor's shape and raises otherwise (before: a
    # NumPy "could not broadcast input array" message without the op's name)
    x = tg.zeros(2, 3, device=device)
    with pytest.raises(ValueError, match=r"copy_: src of shape \(3, 1\) does not broadcast"):
        x.copy_(tg.ones(3, 1, device=device))
    with pytest.raises(ValueError, match="copy_"):
        x.copy_(tg.ones(1, 2, 3, device=device))
    assert x.copy_(tg.tensor([1.0, 2.0, 3.0], device=device)).tolist() == [[1, 2, 3]] * 2
    assert x.copy_(tg.tensor(5.0, device=device)).tolist() == [[5.0] * 3] * 2


@pytest.mark.parametrize("chunks, error", [(0, ValueError), (-2, ValueError), (2.0, TypeError),
                                           (True, TypeError)])
def test_chunk_names_a_count_that_is_not_a_positive_int(chunks, error):
    with pytest.raises(error, match="chunk: chunks must be"):  # (0 was a ZeroDivisionError)
        tg.ones(4).chunk(chunks)
    with pytest.raises(error, match="chunk: chunks must be"):
        tg.chunk(tg.ones(4), chunks)


def test_chunk_takes_a_numpy_integer():
    pieces = tg.chunk(tg.arange(5), np.int64(2))
    assert [piece.numpy().tolist() for piece in pieces] == [[0, 1, 2], [3, 4]]
