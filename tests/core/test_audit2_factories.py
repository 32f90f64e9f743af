"""Audit of tensor creation and dtype conversion against PyTorch: result_type with
Python numbers out of an integer dtype's range, from_numpy / as_tensor of arrays in
the other byte order, and pins for dtype inference, arange / linspace / logspace
counts and endpoints, tril/triu indices, random factories, casts and promotion."""

import numpy as np
import pytest

import tinygrad_opt as tg


def on(device, data, dtype=None):
    return tg.tensor(data, dtype=dtype, device=device)


# --- result_type: only a Python number's type counts, not its value ---

def test_result_type_of_an_integer_tensor_and_an_out_of_range_python_int(device):
    # PyTorch: torch.result_type(uint8 tensor, -1) and (uint8 tensor, 300) are uint8
    # (an int scalar does not promote an integer tensor); we raised NumPy's OverflowError
    u8 = on(device, [1, 200], tg.uint8)
    assert tg.result_type(u8, -1) == tg.uint8
    assert tg.result_type(u8, 300) == tg.uint8
    assert tg.result_type(300, u8) == tg.uint8
    assert tg.result_type(on(device, [1], tg.int8), 200) == tg.int8
    assert tg.result_type(u8, 2.5) == tg.float32 and tg.result_type(u8, True) == tg.uint8


def test_result_type_with_a_complex_number_is_a_clear_error(device):
    # PyTorch: complex64; there are no complex dtypes here, and we said float32 silently
    with pytest.raises(TypeError, match="complex"):
        tg.result_type(on(device, [1.0]), 1j)


# --- from_numpy / as_tensor and byte order ---

def test_from_numpy_refuses_an_array_of_the_other_byte_order():
    # PyTorch: from_numpy raises (byte order different from the native one); we made a
    # tensor whose dtype ('>f8') compared unequal to tg.float64
    other = np.array([1.0, 2.0], dtype=np.dtype(np.float64).newbyteorder("S"))
    with pytest.raises(ValueError, match="byte order"):
        tg.from_numpy(other)


@pytest.mark.parametrize("kind", [np.float64, np.int32])
def test_as_tensor_of_the_other_byte_order_gives_the_native_dtype(kind):
    other = np.array([1, 2], dtype=np.dtype(kind).newbyteorder("S"))
    x = tg.as_tensor(other)
    assert x.dtype == np.dtype(kind) and x.tolist() == [1, 2]
    assert tg.as_tensor(other, dtype=tg.float32).dtype == tg.float32


def test_from_numpy_and_as_tensor_share_memory_both_ways():
    array = np.zeros(3)
    shared = tg.from_numpy(array)
    shared[0] = 5.0
    array[1] = 7.0
    assert array.tolist() == [5.0, 7.0, 0.0] and shared.tolist() == [5.0, 7.0, 0.0]
    copied = tg.as_tensor(array, dtype=tg.float32)   # a dtype change: a copy
    array[2] = 9.0
    assert copied.tolist() == [5.0, 7.0, 0.0]


# --- dtype inference of tg.tensor ---

@pytest.mark.parametrize("data, dtype, shape", [
    ([True, 2], np.int64, (2,)),          # PyTorch: bool meets int64 -> int64
    ([True, 2.5], np.float32, (2,)),
    ([[1], [2.0]], np.float32, (2, 1)),
    ([], np.float32, (0,)),               # an empty list: the default float
    ([[]], np.float32, (1, 0)),
])
def test_tensor_infers_dtype_from_mixed_python_data(data, dtype, shape, device):
    x = on(device, data)
    assert x.dtype == dtype and x.shape == shape


def test_tensor_of_a_list_of_0d_integer_tensors_keeps_their_dtype():
    x = tg.tensor([tg.tensor(1, dtype=tg.int32), tg.tensor(2, dtype=tg.int32)])
    assert x.dtype == tg.int32 and x.tolist() == [1, 2]


# --- arange / linspace / logspace / eye / tril_indices ---

@pytest.mark.parametrize("start, end, step", [
    (0, 1, 0.1), (1, 2.5, 0.5), (0, -1, -0.25), (-3.5, 1, 1), (5, 0, -1),
    (2, 2, 1), (0, 10, 3)])  # (0, 5, -1): PyTorch raises (test_range_rules.py)
def test_arange_counts_ceil_of_span_over_step(start, end, step, device):
    # PyTorch: ceil((end - start) / step) values start + i * step, int64 for ints
    x = tg.arange(start, end, step, device=device)
    count = max(0, int(np.ceil((end - start) / step)))
    integral = all(isinstance(v, int) for v in (start, end, step))
    assert x.dtype == (np.int64 if integral else np.float32) and x.shape == (count,)
    np.testing.assert_allclose(x.numpy(), start + np.arange(count) * step, rtol=1e-6)


def test_linspace_steps_zero_one_endpoints_and_integer_dtype(device):
    assert tg.linspace(0, 1, 0, device=device).shape == (0,)
    assert tg.linspace(2, 5, 1, device=device).tolist() == [2.0]      # PyTorch: [start]
    line = tg.linspace(-1.3, 2.7, 7, device=device).numpy()
    assert line[0] == np.float32(-1.3) and line[-1] == np.float32(2.7)  # endpoints exact
    # PyTorch: integer dtypes truncate start + i * (end - start) / (steps - 1)
    assert tg.linspace(0, 10, 4, dtype=tg.int64, device=device).tolist() == [0, 3, 6, 10]


def test_logspace_base_single_step_and_dtype(device):
    assert tg.logspace(0, 3, 4, base=2, device=device).tolist() == [1.0, 2.0, 4.0, 8.0]
    assert tg.logspace(2, 5, 1, device=device).tolist() == [100.0]   # base ** start
    x = tg.logspace(-1, 1, 3, dtype=tg.float64, device=device)
    assert x.dtype == np.float64
    np.testing.assert_allclose(x.numpy(), [0.1, 1.0, 10.0], rtol=1e-15)
    assert tg.logspace(0, 1, 0).shape == (0,)


def test_eye_rectangular_empty_and_bool(device):
    assert tg.eye(2, 0, device=device).shape == (2, 0)
    assert tg.eye(0, device=device).shape == (0, 0)
    x = tg.eye(2, 3, dtype=tg.bool, device=device)
    assert x.dtype == np.bool_ and x.tolist() == [[True, False, False], [False, True, False]]


@pytest.mark.parametrize("row, col, offset", [
    (3, 4, 1), (4, 3, -1), (2, 3, 10), (5, 2, -3), (3, 3, 0), (4, 3, 2), (0, 0, 0)])
def test_tril_and_triu_indices_match_numpy(row, col, offset, device):
    # PyTorch's row-major (row, col) pairs of the lower / upper triangle at offset
    lower = tg.tril_indices(row, col, offset, device=device)
    upper = tg.triu_indices(row, col, offset, device=device)
    assert lower.dtype == np.int64 and upper.dtype == np.int64
    np.testing.assert_array_equal(lower.numpy(), np.array(np.tril_indices(row, offset, col)))
    np.testing.assert_array_equal(upper.numpy(), np.array(np.triu_indices(row, offset, col)))


# --- random factories ---

def test_randint_high_is_exclusive_and_negative_bounds(device):
    x = tg.randint(-5, -2, (2000,), device=device)
    assert x.dtype == np.int64 and set(x.tolist()) == {-5, -4, -3}
    assert tg.randint(3, size=(2, 2)).shape == (2, 2)
    assert tg.randint(0, 5, (3,), dtype=tg.float32).dtype == np.float32


def test_seeding_replays_every_random_factory():
    def draw():
        return (tg.rand(3).tolist(), tg.randn(2).tolist(), tg.randperm(6).tolist(),
                tg.randint(0, 9, (4,)).tolist(), tg.normal(0.0, 1.0, size=(2,)).tolist(),
                tg.multinomial(tg.ones(5), 3).tolist())
    tg.manual_seed(11)
    first = draw()
    tg.manual_seed(11)
    assert draw() == first
    generator = tg.Generator().manual_seed(3)
    a = tg.randint(0, 100, (5,), generator=generator).tolist()
    generator.manual_seed(3)
    assert tg.randint(0, 100, (5,), generator=generator).tolist() == a


def test_randperm_is_a_permutation_in_the_dtype_asked(device):
    x = tg.randperm(50, dtype=tg.float32, device=device)
    assert x.dtype == np.float32 and sorted(x.tolist()) == list(range(50))
    assert tg.randperm(0).shape == (0,)


def test_multinomial_without_replacement_is_distinct_and_refuses_bad_rows(device):
    rows = tg.multinomial(on(device, np.ones((20, 6))), 6)
    for row in rows.tolist():
        assert sorted(row) == list(range(6))
    zero = on(device, [0.0, 0.0, 1.0])   # the only positive weight is always drawn first
    assert tg.multinomial(zero, 1).tolist() == [2]
    with pytest.raises(ValueError, match="positive sum"):
        tg.multinomial(on(device, [[1.0, 1.0], [0.0, 0.0]]), 1)
    with pytest.raises(ValueError, match="without replacement"):
        tg.multinomial(on(device, [1.0, 0.0, 1.0]), 3)


# --- casts ---

def test_float_to_integer_casts_truncate_toward_zero(device):
    x = on(device, [-2.7, -0.5, 0.5, 2.7])
    for cast, dtype in ((x.long, np.int64), (x.int, np.int32), (x.short, np.int16)):
        y = cast()
        assert y.dtype == dtype and y.tolist() == [-2, 0, 0, 2]
    assert int(on(device, -2.7)) == -2


def test_bool_cast_is_true_for_every_nonzero_including_nan(device):
    x = on(device, [0.0, -0.0, 1e-30, float("nan"), -float("inf")])
    assert x.bool().tolist() == [False, False, True, True, True]
    assert bool(on(device, float("nan"))) and not bool(on(device, [[-0.0]]))


@pytest.mark.parametrize("dtype, kind", [
    (tg.float16, float), (tg.float64, float), (tg.int32, int), (tg.uint8, int),
    (tg.bool, bool)])
def test_item_and_tolist_give_python_scalars(dtype, kind, device):
    x = on(device, [1], dtype)
    assert type(x.item()) is kind and type(x.tolist()[0]) is kind
    assert type(on(device, 1, dtype).tolist()) is kind


@pytest.mark.parametrize("source, target, expected", [
    (tg.float32, tg.int32, False), (tg.float64, tg.bool, False), (tg.int8, tg.bool, False),
    (tg.int64, tg.float16, True), (tg.bool, tg.uint8, True), (tg.int64, tg.uint8, True),
    (tg.float64, tg.float16, True)])
def test_can_cast_refuses_only_a_lower_category(source, target, expected):
    assert tg.can_cast(source, target) is expected


@pytest.mark.parametrize("first, second, expected", [
    (tg.uint8, tg.int8, tg.int16), (tg.bool, tg.int8, tg.int8),
    (tg.int64, tg.float16, tg.float16), (tg.uint8, tg.int64, tg.int64),
    (tg.float16, tg.float32, tg.float32), (tg.bool, tg.bool, tg.bool)])
def test_promote_types_table(first, second, expected):
    assert tg.promote_types(first, second) == expected
    assert tg.promote_types(second, first) == expected


def test_writing_through_detach_is_seen_by_backward():
    # PyTorch: detach shares the version counter, so backward of y * y raises
    y = tg.tensor([1.0, 2.0], requires_grad=True)
    z = y * y
    y.detach().add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


def test_full_infers_dtype_and_casts_the_fill_value(device):
    assert tg.full((2,), 2.7, dtype=tg.int64, device=device).tolist() == [2, 2]
    assert tg.full_like(on(device, [1, 2]), 2.7).tolist() == [2, 2]   # x's dtype
    assert tg.full((1,), 2.5, dtype=tg.float64, device=device).dtype == np.float64


def test_float32_arange_is_start_plus_i_step_rounded_once(device):
    """PyTorch computes start + i·step in double and rounds; NumPy's float32 arange adds a
    rounded float32 step, so its error grew past two steps at 1e4 (0.023 with step 0.01)."""
    values = tg.arange(1e4, 1e4 + 1, 0.01, device=device).numpy()
    expected = (1e4 + np.arange(len(values)) * 0.01).astype(np.float32)
    np.testing.assert_array_equal(values, expected)
    big = tg.arange(16777216.0, 16777220.0, device=device)  # 2^24: float32 spacing 2
    np.testing.assert_array_equal(big.numpy(), [16777216, 16777216, 16777218, 16777220])
    assert big.dtype == tg.float32 and tg.arange(3, device=device).dtype == tg.int64
