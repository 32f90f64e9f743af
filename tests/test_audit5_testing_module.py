"""tg.testing (PyTorch's torch.testing): assert_close, assert_allclose and make_tensor,
against hand-computed expectations (NumPy in the dtype compared) and PyTorch's documented
report texts."""

import math
import re
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.testing import assert_allclose, assert_close, make_tensor


def _message(excinfo) -> str:
    return str(excinfo.value)


def _f32(x) -> float:
    """A Python float holding a float32 value (what ``.item()`` of a float32 gives)."""
    return float(np.float32(x))


# --- assert_close: the report -----------------------------------------------------------

def test_report_counts_mismatches_and_names_the_greatest_differences(device):
    expected = tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    actual = tg.tensor([[1.0, 2.4], [3.5, 4.0]], device=device)
    # greatest |a − e| is at (1, 0) (0.5), greatest |a − e| / |e| at (0, 1) (0.4 / 2)
    absolute = _f32(np.float32(3.5) - np.float32(3.0))
    relative = _f32((np.float32(2.4) - np.float32(2.0)) / np.float32(2.0))
    with pytest.raises(AssertionError) as excinfo:
        assert_close(actual, expected)
    assert _message(excinfo) == (
        "Tensor-likes are not close!\n\n"
        "Mismatched elements: 2 / 4 (50.0%)\n"
        f"Greatest absolute difference: {absolute} at index (1, 0) (up to 1e-05 allowed)\n"
        f"Greatest relative difference: {relative} at index (0, 1) (up to 1.3e-06 allowed)")


def test_report_of_pytorchs_documented_example(device):
    expected = tg.tensor([1.0, 2.0, 3.0], device=device)
    actual = tg.tensor([1.0, 4.0, 5.0], device=device)
    with pytest.raises(AssertionError) as excinfo:
        assert_close(actual, expected, msg=lambda text: f"Header\n\n{text}\n\nFooter")
    assert _message(excinfo) == (
        "Header\n\nTensor-likes are not close!\n\n"
        "Mismatched elements: 2 / 3 (66.7%)\n"
        "Greatest absolute difference: 2.0 at index (1,) (up to 1e-05 allowed)\n"
        "Greatest relative difference: 1.0 at index (1,) (up to 1.3e-06 allowed)\n\nFooter")
    with pytest.raises(AssertionError) as excinfo:
        assert_close(actual, expected, msg="Argh, the tensors are not close!")
    assert _message(excinfo) == "Argh, the tensors are not close!"


def test_integer_report_is_an_equality_report_with_float32_relative_difference(device):
    expected = tg.tensor([[1, 3], [7, 0]], device=device)
    actual = tg.tensor([[1, 4], [7, 2]], device=device)
    with pytest.raises(AssertionError) as excinfo:
        assert_close(actual, expected)
    # int64 differences (1 at (0, 1), 2 at (1, 1)); relative 1/3 in float32, 2/0 = inf
    assert _message(excinfo) == (
        "Tensor-likes are not equal!\n\n"
        "Mismatched elements: 2 / 4 (50.0%)\n"
        "Greatest absolute difference: 2 at index (1, 1)\n"
        "Greatest relative difference: inf at index (1, 1)")
    with pytest.raises(AssertionError) as excinfo:
        assert_close(tg.tensor([5, 4], device=device), tg.tensor([5, 3], device=device))
    assert f"Greatest relative difference: {_f32(np.float32(1) / np.float32(3))} at index (1,)" \
        in _message(excinfo)


def test_report_counts_only_mismatched_elements_for_the_greatest_differences(device):
    expected = tg.tensor([1000.0, 1.0], device=device)
    actual = tg.tensor([1005.0, 1.5], device=device)   # 5 <= 0.01·1000 (close); 0.5 > 0.01
    with pytest.raises(AssertionError) as excinfo:
        assert_close(actual, expected, rtol=0.01, atol=0.0)
    assert _message(excinfo) == (
        "Tensor-likes are not close!\n\n"
        "Mismatched elements: 1 / 2 (50.0%)\n"
        "Greatest absolute difference: 0.5 at index (1,) (up to 0.0 allowed)\n"
        "Greatest relative difference: 0.5 at index (1,) (up to 0.01 allowed)")


def test_zero_dim_tensors_get_the_scalar_report(device):
    with pytest.raises(AssertionError) as excinfo:
        assert_close(tg.tensor(1.0, device=device), tg.tensor(1.1, device=device))
    expected, actual = _f32(1.1), 1.0
    assert _message(excinfo) == (
        "Scalars are not close!\n\n"
        f"Expected {expected} but got {actual}.\n"
        f"Absolute difference: {abs(actual - expected)} (up to 1e-05 allowed)\n"
        f"Relative difference: {abs(actual - expected) / expected} (up to 1.3e-06 allowed)")


def test_nan_is_close_only_with_equal_nan(device):
    nan = tg.tensor(float("nan"), device=device)
    with pytest.raises(AssertionError) as excinfo:
        assert_close(nan, nan.clone())
    assert _message(excinfo) == (  # PyTorch's documented text
        "Scalars are not close!\n\nExpected nan but got nan.\n"
        "Absolute difference: nan (up to 1e-05 allowed)\n"
        "Relative difference: nan (up to 1.3e-06 allowed)")
    assert_close(nan, nan.clone(), equal_nan=True)
    # a NaN mismatch is the greatest difference (as torch.max), wherever it is
    with pytest.raises(AssertionError) as excinfo:
        assert_close(tg.tensor([1.0, float("nan"), 3.0], device=device),
                     tg.tensor([1.0, 2.0, 10.0], device=device))
    assert "Mismatched elements: 2 / 3 (66.7%)" in _message(excinfo)
    assert "Greatest absolute difference: nan at index (1,)" in _message(excinfo)


def test_infinities_are_close_only_to_the_same_infinity(device):
    values = tg.tensor([math.inf, -math.inf, 1.0], device=device)
    assert_close(values, values.clone())
    for other in ([-math.inf, -math.inf, 1.0], [3e38, -math.inf, 1.0]):
        with pytest.raises(AssertionError, match=r"Mismatched elements: 1 / 3 \(33\.3%\)"):
            assert_close(values, tg.tensor(other, device=device))


# --- assert_close: the tolerances -------------------------------------------------------

@pytest.mark.parametrize("dtype, rtol, atol", [("float16", 1e-3, 1e-5),
                                               ("float32", 1.3e-6, 1e-5),
                                               ("float64", 1e-7, 1e-7)])
def test_default_tolerances_just_inside_and_just_outside(device, dtype, rtol, atol):
    expected = np.array([1.0, 100.0, -3.0], dtype=dtype)
    allowed = atol + rtol * np.abs(expected)
    inside = (expected + allowed * np.array([0.9, -0.9, 0.9])).astype(dtype)
    outside = (expected + allowed * np.array([0.0, 1.2, 0.0])).astype(dtype)
    # the reference: |a − e| <= atol + rtol·|e| in the dtype compared
    bound = (atol + np.abs(rtol * expected)).astype(dtype)
    assert (np.abs(inside - expected) <= bound).all()
    assert not np.abs(outside - expected)[1] <= bound[1]
    e = tg.tensor(expected, device=device)
    assert_close(tg.tensor(inside, device=device), e)
    with pytest.raises(AssertionError) as excinfo:
        assert_close(tg.tensor(outside, device=device), e)
    assert "Mismatched elements: 1 / 3 (33.3%)" in _message(excinfo)
    assert f"at index (1,) (up to {atol} allowed)" in _message(excinfo)
    assert f"at index (1,) (up to {rtol} allowed)" in _message(excinfo)


def test_float16_one_ulp_inside_two_ulps_outside(device):
    one = np.float16(1.0)
    ulp = np.spacing(one)                    # 2^-10 < 1e-3·1 + 1e-5 < 2^-9
    assert ulp <= 1e-5 + 1e-3 < 2 * ulp
    e = tg.tensor(np.array([one]), device=device)
    assert_close(tg.tensor(np.array([one + ulp]), device=device), e)
    with pytest.raises(AssertionError):
        assert_close(tg.tensor(np.array([one + 2 * ulp], dtype=np.float16), device=device), e)


def test_given_tolerances_replace_the_defaults(device):
    e = tg.tensor([10.0, 20.0], device=device)
    a = tg.tensor([10.5, 20.0], device=device)
    assert_close(a, e, rtol=0.0, atol=0.5)        # |0.5| <= 0.5
    assert_close(a, e, rtol=0.05, atol=0.0)       # 0.5 <= 0.05·10
    with pytest.raises(AssertionError, match=r"\(up to 0\.4 allowed\)"):
        assert_close(a, e, rtol=0.0, atol=0.4)


def test_rtol_and_atol_must_come_together():
    with pytest.raises(ValueError, match=r"Both 'rtol' and 'atol' must be either specified or "
                       r"omitted, but got no atol\."):
        assert_close(tg.tensor([1.0]), tg.tensor([1.0]), rtol=1e-3)
    with pytest.raises(ValueError, match="but got no rtol"):
        assert_close(1.0, 1.0, atol=1e-3)


def test_mixed_dtypes_need_check_dtype_false_and_take_the_looser_tolerances(device):
    e = tg.tensor([1.0], device=device)                                  # float32
    a = tg.tensor(np.array([1.0 + 2.0 ** -10], dtype=np.float16), device=device)
    with pytest.raises(AssertionError) as excinfo:
        assert_close(a, e)
    assert _message(excinfo) == ("The values for attribute 'dtype' do not match: "
                                 "float16 != float32.")
    assert_close(a, e, check_dtype=False)  # 2^-10 <= 1e-3 + 1e-5 (float16's), not float32's
    with pytest.raises(AssertionError):
        assert_close(tg.tensor([1.0 + 2.0 ** -10], device=device), e)
    # integers meet floats in the float dtype (PyTorch's promote_types: float16 here)
    assert_close(tg.tensor([1, 2], device=device),
                 tg.tensor(np.array([1.0, 2.0], dtype=np.float16), device=device),
                 check_dtype=False)


def test_rng_cases_agree_with_the_formula(device, rng):
    for _ in range(20):
        expected = rng.normal(size=(3, 4)).astype(np.float32)
        actual = (expected + rng.normal(scale=2e-5, size=(3, 4))).astype(np.float32)
        rtol, atol = rng.choice([1e-6, 1e-5, 1e-4]), rng.choice([1e-6, 1e-5, 3e-5])
        close = np.abs(actual - expected) <= np.float32(atol) + np.abs(np.float32(rtol) * expected)
        if close.all():
            assert_close(tg.tensor(actual, device=device), tg.tensor(expected, device=device),
                         rtol=rtol, atol=atol)
        else:
            with pytest.raises(AssertionError) as excinfo:
                assert_close(tg.tensor(actual, device=device),
                             tg.tensor(expected, device=device), rtol=rtol, atol=atol)
            count = int((~close).sum())
            assert f"Mismatched elements: {count} / 12 ({count / 12:.1%})" in _message(excinfo)


# --- assert_close: attributes, inputs, structure --------------------------------------

def test_shape_device_and_stride_checks(device):
    with pytest.raises(AssertionError) as excinfo:
        assert_close(tg.zeros(2, 3, device=device), tg.zeros(3, 2, device=device))
    assert _message(excinfo) == "The values for attribute 'shape' do not match: (2, 3) != (3, 2)."
    if device != "cpu":
        with pytest.raises(AssertionError) as excinfo:
            assert_close(tg.ones(2), tg.ones(2, device=device))
        assert _message(excinfo) == ("The values for attribute 'device' do not match: "
                                     f"cpu != {device}.")
        assert_close(tg.ones(2), tg.ones(2, device=device), check_device=False)
        with pytest.raises(AssertionError, match="Mismatched elements: 1 / 2"):
            assert_close(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 3.0], device=device),
                         check_device=False)
    base = tg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    transposed = base.transpose(0, 1)
    copy = tg.tensor(np.arange(6.0).reshape(2, 3).T.copy(), device=device)
    assert_close(transposed, copy)                        # check_stride=False by default
    with pytest.raises(AssertionError) as excinfo:
        assert_close(transposed, copy, check_stride=True)
    assert _message(excinfo) == ("The values for attribute 'stride()' do not match: "
                                 "(1, 3) != (2, 1).")
    assert_close(tg.zeros(0, 3, device=device), tg.zeros(0, 3, device=device))
    assert_close(tg.zeros(1, 1, device=device), tg.zeros(1, 1, device=device), check_layout=False)


def test_tensor_requiring_grad_is_compared_by_value(device):
    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x * 2
    assert_close(y, tg.tensor([2.0, 4.0], device=device))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])  # the graph is intact


def test_numpy_arrays_numbers_bools_and_none():
    assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-8]))
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 2"):
        assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.1]))
    assert_close(np.float32(0.5), 0.5)                   # NumPy scalars as Python numbers
    assert_close(1.0, 1.0 + 1.5e-7)                      # float64's 1e-7 + 1e-7·1
    with pytest.raises(AssertionError) as excinfo:
        assert_close(1.0 + 3e-7, 1.0)
    assert _message(excinfo) == (
        "Scalars are not close!\n\n"
        f"Expected 1.0 but got {1.0 + 3e-7}.\n"
        f"Absolute difference: {1.0 + 3e-7 - 1.0} (up to 1e-07 allowed)\n"
        f"Relative difference: {1.0 + 3e-7 - 1.0} (up to 1e-07 allowed)")
    with pytest.raises(AssertionError) as excinfo:
        assert_close(1, 1.0)
    assert _message(excinfo) == ("The (d)types do not match: <class 'int'> != "
                                 "<class 'float'>.")
    assert_close(1, 1.0, check_dtype=False)
    with pytest.raises(AssertionError, match="Expected 0 but got 1.\nAbsolute difference: 1\n"
                       "Relative difference: inf$"):
        assert_close(1, 0)
    assert_close(np.bool_(True), True)
    with pytest.raises(AssertionError, match="^Booleans mismatch: True is not False$"):
        assert_close(True, False)
    assert_close(None, None)
    with pytest.raises(AssertionError, match="^None mismatch: None is not 1$"):
        assert_close(None, 1)


def test_unrelated_types_are_a_type_error():
    t = tg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="No comparison pair was able to handle inputs of type "
                       "<class 'numpy.ndarray'> and <class 'tinygrad_opt.tensor.Tensor'>"):
        assert_close(t.numpy(), t)
    with pytest.raises(TypeError, match="No comparison pair"):
        assert_close(t, 1.0)
    with pytest.raises(TypeError, match="No comparison pair"):
        assert_close("ab", "ab")
    parameter = nn.Parameter(tg.tensor([1.0, 2.0]))
    assert_close(parameter, t)                            # directly related: compared
    with pytest.raises(TypeError, match="No comparison pair"):
        assert_close(parameter, t, allow_subclasses=False)


def test_sequences_and_mappings_are_walked_and_the_path_is_named(device):
    one = tg.tensor([1.0], device=device)
    assert_close([one, 2.0, np.array(3.0)], (one.clone(), 2.0, np.array(3.0)))
    assert_close({"b": 2.0, "a": one}, {"a": one.clone(), "b": 2.0})
    with pytest.raises(AssertionError) as excinfo:
        assert_close([1.0, 2.0], [1.0, 2.0, 3.0])
    assert _message(excinfo) == "The length of the sequences mismatch: 2 != 3"
    with pytest.raises(AssertionError) as excinfo:
        assert_close({"a": 1, "b": 2}, {"a": 1, "c": 2})
    assert _message(excinfo) == ("The keys of the mappings do not match:\n"
                                 "Missing keys in the actual mapping: ['c']\n"
                                 "Additional keys in the actual mapping: ['b']")
    with pytest.raises(AssertionError) as excinfo:
        assert_close([1.0, {"w": tg.tensor([1.0, 2.0], device=device)}],
                     [1.0, {"w": tg.tensor([1.0, 2.5], device=device)}])
    assert _message(excinfo).endswith("\n\nThe failure occurred for item [1]['w']")
    assert "Greatest absolute difference: 0.5 at index (1,)" in _message(excinfo)
    with pytest.raises(AssertionError) as excinfo:  # a callable msg sees the path too
        assert_close([0, [1, 5]], [0, [1, 6]], msg=lambda text: text.upper())
    assert _message(excinfo).endswith("THE FAILURE OCCURRED FOR ITEM [1][1]")


def test_structure_errors_come_first_and_ignore_msg():
    # a value mismatch at [0], then a length mismatch at [1]: the structure error is raised
    with pytest.raises(AssertionError) as excinfo:
        assert_close([1.0, [1, 2]], [2.0, [1]], msg="custom")
    assert _message(excinfo) == ("The length of the sequences mismatch: 2 != 1\n\n"
                                 "The failure occurred for item [1]")
    with pytest.raises(TypeError):  # an unrelated leaf after a mismatching one
        assert_close([1.0, tg.tensor([1.0])], [2.0, 1.0], msg="custom")
    with pytest.raises(AssertionError) as excinfo:  # the first failing comparison wins
        assert_close([1.0, tg.tensor([1.0])], [2.0, tg.tensor([3.0])], msg=None)
    assert "Expected 2.0 but got 1.0." in _message(excinfo)


# --- assert_allclose -------------------------------------------------------------------

def test_assert_allclose_is_deprecated_with_older_tolerances():
    with pytest.warns(FutureWarning, match="assert_close"):
        assert_allclose(tg.tensor([1.0001]), tg.tensor([1.0]))   # 1e-4·1 + 1e-5 (float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(AssertionError, match=r"\(up to 0\.0001 allowed\)"):
            assert_allclose(tg.tensor([1.0002]), tg.tensor([1.0]))
        assert_allclose(tg.tensor([float("nan"), 1.0]), [float("nan"), 1.0])  # NaN == NaN
        with pytest.raises(AssertionError):
            assert_allclose(tg.tensor([float("nan")]), [float("nan")], equal_nan=False)
        assert_allclose([1.0, 2.0], tg.tensor(np.array([1.0, 2.0])))  # dtypes promoted
        # float64: 1e-5·|e| + 1e-8
        assert_allclose(np.array([100.0 + 9e-4]), np.array([100.0]))
        with pytest.raises(AssertionError):
            assert_allclose(np.array([100.0 + 1.1e-3]), np.array([100.0]))
        with pytest.raises(AssertionError, match="^mine$"):
            assert_allclose(tg.tensor([1, 2]), [1, 3], msg="mine")
        with pytest.raises(ValueError, match="but got no atol"):
            assert_allclose(tg.tensor([1.0]), [1.0], rtol=1e-3)


# --- make_tensor ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, low, high", [("float16", -9, 9), ("float32", -9, 9),
                                              ("float64", -9, 9), ("int8", -9, 10),
                                              ("int16", -9, 10), ("int32", -9, 10),
                                              ("int64", -9, 10), ("uint8", 0, 10),
                                              ("bool", 0, 2)])
def test_make_tensor_default_ranges(device, dtype, low, high):
    x = make_tensor(4000, dtype=dtype, device=device)
    assert x.shape == (4000,) and x.dtype == np.dtype(dtype) and x.device == device
    values = x.numpy().astype(np.float64)
    assert values.min() >= low and values.max() < high
    if dtype.startswith(("int", "uint", "bool")):
        np.testing.assert_array_equal(np.unique(values), np.arange(low, high))
    else:
        assert values.min() < low + 0.1 and values.max() > high - 0.1
        assert abs(values.mean() - (low + high) / 2) < 0.5          # uniform, not clumped


def test_make_tensor_shapes_bounds_and_clamping(device):
    for shape in [(2, 3), ([2, 3],), ((2, 3),)]:
        assert make_tensor(*shape, dtype=tg.float32, device=device).shape == (2, 3)
    assert make_tensor(dtype=tg.float32, device=device).shape == ()
    assert make_tensor(0, 4, dtype=tg.int64, device=device).shape == (0, 4)
    values = make_tensor(2000, dtype=tg.float64, device=device, low=0.5, high=0.75).numpy()
    assert values.min() >= 0.5 and values.max() < 0.75
    ints = make_tensor(2000, dtype=tg.int64, device=device, low=-2.5, high=2.5).numpy()
    np.testing.assert_array_equal(np.unique(ints), [-2, -1, 0, 1, 2])   # both bounds ceiled
    int8 = make_tensor(5000, dtype=tg.int8, device=device, low=-1000, high=1000).numpy()
    assert int8.min() >= -128 and int8.max() <= 127 and int8.min() < -100 and int8.max() > 100
    uint8 = make_tensor(500, dtype=tg.uint8, device=device, low=-5, high=3).numpy()
    np.testing.assert_array_equal(np.unique(uint8), [0, 1, 2])
    wide = make_tensor(100, dtype=tg.float64, device=device, low=-math.inf, high=math.inf)
    assert np.isfinite(wide.numpy()).all() and np.abs(wide.numpy()).max() > 1e300
    half = make_tensor(100, dtype=tg.float16, device=device, low=-1e6, high=1e6).numpy()
    assert np.isfinite(half).all() and np.abs(half).max() > 1e4


def test_make_tensor_is_seeded_by_manual_seed(device):
    tg.manual_seed(3)
    first = make_tensor(5, dtype=tg.float32, device=device).numpy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(make_tensor(5, dtype=tg.float32, device=device).numpy(), first)


def test_make_tensor_errors():
    with pytest.raises(ValueError, match="`low` must be less than `high`, but got 2 >= 1"):
        make_tensor(3, dtype=tg.float32, device="cpu", low=2, high=1)
    with pytest.raises(ValueError, match="`low` must be less than `high`"):
        make_tensor(3, dtype=tg.int64, device="cpu", low=1, high=1)
    with pytest.raises(ValueError, match="cannot be NaN"):
        make_tensor(3, dtype=tg.float32, device="cpu", low=math.nan)
    with pytest.raises(ValueError, match=re.escape("is [300, 400), but uint8 only supports "
                                                   "[0, 256)")):
        make_tensor(3, dtype=tg.uint8, device="cpu", low=300, high=400)
    with pytest.raises(ValueError, match="requires_grad=True` is not supported"):
        make_tensor(3, dtype=tg.int64, device="cpu", requires_grad=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        make_tensor(3, dtype=tg.float32, device="cpu", noncontiguous=True,
                    memory_format="channels_last")
    with pytest.raises(TypeError, match="make_tensor: the requested dtype 'uint16'"):
        make_tensor(3, dtype=np.uint16, device="cpu")
    with pytest.raises(TypeError, match="dtype"):
        make_tensor(3, device="cpu")                      # dtype is required, as PyTorch's
    with pytest.raises(RuntimeError, match="make_tensor: Trying to create tensor with negative "
                       "dimension -2"):
        make_tensor(3, -2, dtype=tg.float32, device="cpu")
    with pytest.raises(TypeError, match="make_tensor: the size must be ints"):
        make_tensor(2.5, dtype=tg.float32, device="cpu")


def test_make_tensor_low_equal_high_for_floats_warns_and_fills(device):
    with pytest.warns(FutureWarning, match="low == high"):
        x = make_tensor(4, dtype=tg.float32, device=device, low=2.5, high=2.5)
    np.testing.assert_array_equal(x.numpy(), np.full(4, 2.5, np.float32))


def test_make_tensor_requires_grad_noncontiguous_and_exclude_zero(device):
    x = make_tensor(3, 4, dtype=tg.float64, device=device, requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.grad_fn is None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 3.0))
    y = make_tensor(3, 4, dtype=tg.float32, device=device, noncontiguous=True)
    assert y.shape == (3, 4) and y.stride() == (8, 2)
    assert_close(y, tg.tensor(y.numpy().copy(), device=device))   # same values, own memory
    assert make_tensor(1, dtype=tg.float32, device=device, noncontiguous=True).stride() == (1,)
    assert make_tensor(3, 4, dtype=tg.float32, device=device, memory_format="contiguous"
                       ).stride() == (4, 1)
    ones = make_tensor(50, dtype=tg.int32, device=device, low=0, high=1, exclude_zero=True)
    np.testing.assert_array_equal(ones.numpy(), np.ones(50, np.int32))
    assert make_tensor(8, dtype=tg.bool_, device=device, exclude_zero=True).numpy().all()
    with pytest.warns(FutureWarning):
        tiny = make_tensor(4, dtype=tg.float16, device=device, low=0.0, high=0.0,
                           exclude_zero=True, noncontiguous=True)
    np.testing.assert_array_equal(tiny.numpy(), np.full(4, np.finfo(np.float16).tiny))
    mixed = make_tensor(3000, dtype=tg.int8, device=device, low=-1, high=2, exclude_zero=True)
    np.testing.assert_array_equal(np.unique(mixed.numpy()), [-1, 1])


def test_namespace():
    assert tg.testing.assert_close is assert_close
    assert tg.testing.make_tensor is make_tensor
    assert set(tg.testing.__all__) == {"assert_close", "make_tensor", "assert_allclose"}
