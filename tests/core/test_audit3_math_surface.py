"""Audit of the binary/unary elementwise math surface outside the reading path (fmod,
remainder, rounded division, copysign, logaddexp, xlogy, nan_to_num, bitwise and logical
ops, ...): PyTorch's values at special points, dtypes, and float64 gradchecks. Reference
values are written by hand from PyTorch's documented formulas (no PyTorch here)."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd import gradcheck, gradgradcheck

inf, nan = math.inf, math.nan


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _host(t):
    return np.asarray(t.tolist())


def _f64(values, rng=None):
    return tg.tensor(values, dtype=tg.float64, requires_grad=True)


# --- bugs fixed ---

def test_remainder_zero_keeps_the_dividends_sign_as_pytorchs_kernel(device):
    # PyTorch: m = fmod(a, b); m += b where m != 0 and sign(m) != sign(b). A zero result
    # is fmod's zero, with a's sign (NumPy's remainder gives it b's sign).
    a = tg.tensor([-4.0, 4.0, -0.0, 0.0, 5.0, -5.0, 5.0, -5.0, -3.0, 3.0], device=device)
    b = tg.tensor([2.0, -2.0, 2.0, -2.0, 3.0, 3.0, -3.0, -3.0, inf, -inf], device=device)
    r = _host(tg.remainder(a, b))
    assert r.tolist() == [0.0, 0.0, 0.0, 0.0, 2.0, 1.0, -1.0, -2.0, inf, -inf]
    assert np.signbit(r).tolist() == [True, False, True, False,
                                      False, False, True, True, False, True]
    assert np.signbit(_host(tg.tensor([-4.0], dtype=tg.float16) % 2)).tolist() == [True]
    assert math.isnan(tg.remainder(tg.tensor([1.0]), 0.0).item())
    # fmod: the sign of the dividend; integers keep Python's semantics
    assert tg.fmod(a[:8], b[:8]).tolist() == [-0.0, 0.0, -0.0, 0.0, 2.0, -2.0, 2.0, -2.0]
    assert (tg.tensor([5, -5, 5, -5]) % tg.tensor([3, 3, -3, -3])).tolist() == [2, 1, -1, -2]


def test_bitwise_xor_promotes_like_the_other_bitwise_ops():
    i8 = tg.tensor([1, 2], dtype=tg.int8)
    for op in (tg.bitwise_xor, tg.bitwise_and, tg.bitwise_or):
        assert op(i8, tg.tensor(3)).dtype == tg.int8  # a 0-d tensor does not widen
    assert tg.bitwise_xor(i8, tg.tensor(3)).tolist() == [2, 1]
    assert tg.bitwise_xor(tg.tensor([1], dtype=tg.uint8), tg.tensor([1], dtype=tg.int8)).dtype \
        == tg.int16
    assert (tg.tensor([True, False]) ^ 3).tolist() == [2, 3]
    with pytest.raises(TypeError, match="bitwise_xor"):
        tg.bitwise_xor(3, tg.tensor([1]))


def test_nan_to_num_accepts_none_for_nan_as_pytorchs_schema():
    x = tg.tensor([nan, inf, -inf, 1.0])
    assert tg.nan_to_num(x, nan=None).tolist() == tg.nan_to_num(x).tolist()


# --- division, remainders ---

def test_integer_division_by_zero_raises_and_float_gives_inf_or_nan(device):
    a = tg.tensor([5, -5], device=device)
    for call in (lambda: tg.fmod(a, 0), lambda: tg.remainder(a, 0), lambda: a // 0,
                 lambda: a % tg.tensor([1, 0], device=device),
                 lambda: tg.div(a, 0, rounding_mode="trunc"),
                 lambda: tg.div(a, 0, rounding_mode="floor")):
        with pytest.raises(ZeroDivisionError):
            call()
    assert tg.div(a, 0).tolist() == [inf, -inf]                    # true division: float32
    x = tg.tensor([5.0, -5.0, 5.0, 0.0], device=device)
    zero = tg.tensor([0.0, 0.0, -0.0, 0.0], device=device)
    for mode in ("floor", "trunc"):
        q = _host(tg.div(x, zero, rounding_mode=mode))
        assert q[:3].tolist() == [inf, -inf, -inf] and math.isnan(q[3])


def test_rounded_division_of_ints_and_floats():
    a, b = tg.tensor([7, -7, 7, -7, 6]), tg.tensor([2, 2, -2, -2, 3])
    assert tg.div(a, b, rounding_mode="trunc").tolist() == [3, -3, -3, 3, 2]
    assert tg.div(a, b, rounding_mode="floor").tolist() == [3, -4, -4, 3, 2]
    assert tg.div(a, b, rounding_mode="floor").dtype == tg.int64
    assert tg.div(a, b).dtype == tg.true_divide(a, b).dtype == tg.float32
    assert tg.div(a, 2.5, rounding_mode="trunc").tolist() == [2.0, -2.0, 2.0, -2.0, 2.0]
    assert tg.div(a.float(), 2, rounding_mode="floor").tolist() == [3.0, -4.0, 3.0, -4.0, 3.0]
    assert np.signbit(_host(tg.floor_divide(tg.tensor([-0.0]), 3.0))).tolist() == [True]
    assert tg.floor_divide(tg.tensor([-1.0, 1.0]), inf).tolist() == [-1.0, 0.0]
    assert tg.fmod(tg.tensor([5, -5]), 2.5).dtype == tg.float32
    with pytest.raises(ValueError, match="rounding_mode"):
        tg.div(a, b, rounding_mode="round")


def test_remainder_and_fmod_gradients():
    a, b = _f64([5.3, -5.3, 5.3, -0.7]), _f64([3.0, 3.0, -3.0, 0.4])
    assert gradcheck(tg.fmod, (a, b)) and gradcheck(tg.remainder, (a, b))
    assert gradgradcheck(tg.remainder, (a, b))
    tg.remainder(a, b).sum().backward()
    assert b.grad.tolist() == [-1.0, 2.0, 2.0, 2.0]                 # −⌊a / b⌋


# --- copysign, hypot, logaddexp, xlogy ---

def test_copysign_values_and_gradient():
    y = _host(tg.copysign(tg.tensor([1.0, -2.0, 0.0, 3.0]), tg.tensor([-0.0, 0.0, -1.0, nan])))
    assert y.tolist() == [-1.0, 2.0, 0.0, 3.0] and np.signbit(y).tolist() == [1, 0, 1, 0]
    assert tg.copysign(tg.tensor([1, 2]), -1.0).dtype == tg.float32
    a, b = _f64([0.0, 2.0, -2.0, 1.5]), _f64([-1.0, -0.0, 0.0, 2.0])
    tg.copysign(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, -1.0, -1.0, 1.0] and b.grad.tolist() == [0.0] * 4
    assert gradcheck(tg.copysign, (_f64([0.5, -1.2]), _f64([-2.0, -3.0])))


def test_hypot_and_logaddexp_special_points():
    assert tg.hypot(tg.tensor([3.0, 1e300, inf], dtype=tg.float64),
                    tg.tensor([4.0, 1e300, nan], dtype=tg.float64)).tolist() == \
        [5.0, 1e300 * math.sqrt(2), inf]
    x = tg.tensor([1000.0, -1000.0, -inf, inf, -inf, inf])
    y = tg.tensor([1000.0, -1000.0, -inf, inf, 0.0, -inf])
    out = tg.logaddexp(x, y).tolist()
    assert out[2:] == [-inf, inf, 0.0, inf]
    assert out[:2] == pytest.approx([1000 + math.log(2), -1000 + math.log(2)])
    assert tg.logaddexp2(x, y).tolist()[:4] == pytest.approx([1001.0, -999.0, -inf, inf])
    a, b = _f64([1000.0, -inf, 0.0]), _f64([0.0, 0.0, 0.0])
    tg.logaddexp(a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 0.0, 0.5] and b.grad.tolist() == [0.0, 1.0, 0.5]
    for f in (tg.hypot, tg.logaddexp, tg.logaddexp2):
        assert gradcheck(f, (_f64([0.3, -1.7, 2.0]), _f64([1.1, 0.4, -2.5])))


def test_xlogy_and_xlog1py_special_points_and_gradients():
    assert _host(tg.xlogy(tg.tensor([0.0, 0.0, 0.0, 1.0, 0.0]),
                          tg.tensor([0.0, nan, -1.0, 0.0, inf]))).tolist() == \
        pytest.approx([0.0, nan, 0.0, -inf, 0.0], nan_ok=True)
    assert _host(tg.special.xlog1py(tg.tensor([0.0, 0.0, 1.0]),
                                    tg.tensor([-1.0, nan, -1.0]))).tolist() == \
        pytest.approx([0.0, nan, -inf], nan_ok=True)
    assert tg.xlogy(tg.tensor([0, 2]), tg.tensor([0, 3])).dtype == tg.float32
    a, b = _f64([0.0, 0.0, 2.0]), _f64([0.0, -1.0, 3.0])
    tg.xlogy(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, math.log(3.0)]              # 0 where a = 0, b ≤ 0
    assert gradcheck(tg.xlogy, (_f64([0.4, -1.3]), _f64([0.7, 2.2])))
    assert gradcheck(tg.special.xlog1py, (_f64([0.4, -1.3]), _f64([-0.7, 2.2])))


# --- nan_to_num, clamp with tensor bounds, addcmul/addcdiv, heaviside ---

def test_nan_to_num_defaults_per_dtype_and_gradient():
    for dtype in (tg.float16, tg.float32, tg.float64):
        big = float(np.finfo(np.dtype(dtype)).max)
        assert tg.nan_to_num(tg.tensor([nan, inf, -inf, 1.0], dtype=dtype)).tolist() == \
            [0.0, big, -big, 1.0]
    assert tg.nan_to_num(tg.tensor([3])).tolist() == [3]
    x = _f64([nan, inf, 2.0])
    tg.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-2.0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]


def test_clamp_with_tensor_bounds():
    x = tg.tensor([-2.0, 0.5, 3.0, 1.0])
    assert tg.clamp(x, tg.tensor([0.0, 0.0, 0.0, 2.0]), tg.tensor([1.0])).tolist() == \
        [0.0, 0.5, 1.0, 1.0]                                          # min > max: max
    assert x.clip(tg.tensor([0.0]), tg.tensor([[1.0], [2.0]])).shape == (2, 4)
    assert tg.clamp(tg.tensor([1, 5]), 1.5, 3.5).tolist() == [1.5, 3.5]
    assert math.isnan(tg.clamp(tg.tensor([0.3]), tg.tensor([nan]), 0.5).item())
    # away from ties the gradient goes to x inside, to the active bound outside
    x, lo, hi = _f64([-3.0, 0.1, 3.0, 0.0]), _f64([-1.0, -1.0, -1.0, 2.0]), _f64([1.0] * 4)
    tg.clamp(x, lo, hi).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 0.0]
    assert lo.grad.tolist() == [1.0, 0.0, 0.0, 0.0] and hi.grad.tolist() == [0.0, 0.0, 1.0, 1.0]


def test_addcmul_addcdiv_heaviside():
    one = tg.tensor([1.0, 1.0])
    assert tg.addcmul(one, tg.tensor([2.0, 3.0]), tg.tensor([4.0, 5.0]), value=0.5).tolist() == \
        [5.0, 8.5]
    assert tg.addcdiv(one, tg.tensor([2.0, 3.0]), tg.tensor([4.0, 5.0]), value=2).tolist() == \
        pytest.approx([2.0, 2.2])
    with pytest.raises(RuntimeError, match="addcdiv"):
        tg.addcdiv(one, tg.tensor([2, 3]), tg.tensor([4, 5]))
    assert gradcheck(lambda a, b, c: tg.addcdiv(a, b, c, value=0.3),
                     (_f64([1.0]), _f64([2.0]), _f64([-1.5])))
    assert tg.heaviside(tg.tensor([-1.0, 0.0, -0.0, 2.0, nan]), tg.tensor([0.5])).tolist() == \
        [0.0, 0.5, 0.5, 1.0, 0.0]


# --- integer functions, bits and logic ---

def test_gcd_lcm_bitwise_and_shifts():
    a, b = tg.tensor([-12, 0, 0, 7, -4]), tg.tensor([18, 0, -5, 0, -6])
    assert tg.gcd(a, b).tolist() == [6, 0, 5, 7, 2]
    assert tg.lcm(a, b).tolist() == [36, 0, 0, 0, 12]
    i, j = tg.tensor([12, -7, 0, 5]), tg.tensor([10, 3, -1, 1])
    assert (i & j).tolist() == [8, 1, 0, 1] and (i | j).tolist() == [14, -5, -1, 5]
    assert (i ^ j).tolist() == [6, -6, -1, 4] and (~i).tolist() == [-13, 6, -1, -6]
    assert tg.bitwise_not(tg.tensor([True, False])).tolist() == [False, True]
    assert (tg.tensor([1, -3]) << 2).tolist() == [4, -12]
    assert (tg.tensor([16, -16, -8, 8]) >> tg.tensor([2, 2, 64, 64])).tolist() == [4, -4, -1, 0]
    assert (tg.tensor([1, 2], dtype=tg.int8) << 3).dtype == tg.int8
    assert (1 << tg.tensor([1, 2])).tolist() == [2, 4]
    with pytest.raises(TypeError):
        tg.tensor([1.0]) << 1


def test_logical_ops_give_bool_for_any_dtype():
    x = tg.tensor([1.0, 0.0, nan, -0.0])
    y = tg.tensor([2, 2, 0, 0])
    assert tg.logical_and(x, y).tolist() == [True, False, False, False]
    assert tg.logical_or(x, y).tolist() == [True, True, True, False]
    assert tg.logical_xor(x, y).tolist() == [False, True, True, False]
    assert tg.logical_not(x).tolist() == [False, True, False, True]
    assert tg.logical_and(tg.tensor([1, 0]), 0.5).dtype == tg.bool


# --- powers, frexp/ldexp ---

def test_pow_float_power_frexp_ldexp():
    with pytest.raises(Exception, match="Integers to negative integer powers"):
        tg.tensor([2, 3]) ** -1
    assert (tg.tensor([2, 3]) ** 2).dtype == tg.int64
    assert tg.float_power(tg.tensor([2, 3]), -1).dtype == tg.float64
    assert tg.float_power(tg.tensor([2.0], dtype=tg.float16), 2.5).dtype == tg.float64
    m, e = tg.frexp(tg.tensor([8.0, 0.0, -3.0, 1e-310], dtype=tg.float64))
    assert e.dtype == tg.int32 and e.tolist() == [4, 0, 2, -1029]
    assert (_host(m) * 2.0 ** _host(e)).tolist() == [8.0, 0.0, -3.0, 1e-310]
    assert tg.ldexp(tg.tensor([1, 3]), tg.tensor([3, -1])).tolist() == [8.0, 1.5]
    assert gradcheck(lambda x: tg.frexp(x).mantissa, (_f64([6.0, 0.7, -3.0]),))
    assert gradcheck(tg.float_power, (_f64([0.5, 2.0]), _f64([1.5, -0.5])))


# --- sign, rounding, special points ---

def test_sign_signbit_rounding():
    x = tg.tensor([-2.0, -0.0, 0.0, 3.0, -inf])
    assert tg.sgn(x).tolist() == [-1.0, 0.0, 0.0, 1.0, -1.0]
    assert tg.signbit(x).tolist() == [True, True, False, False, True]
    assert tg.signbit(tg.tensor([-2, 0])).tolist() == [True, False]
    assert tg.round(tg.tensor([0.5, 1.5, 2.5, -0.5, -2.5])).tolist() == \
        [0.0, 2.0, 2.0, -0.0, -2.0]
    assert tg.round(tg.tensor([15.0, 25.0, -25.0]), decimals=-1).tolist() == [20.0, 20.0, -20.0]
    assert tg.round(tg.tensor([1.125, 0.125], dtype=tg.float64), decimals=2).tolist() == \
        [1.12, 0.12]
    assert np.signbit(_host(tg.trunc(tg.tensor([-0.5, 0.5])))).tolist() == [True, False]
    f = _host(tg.frac(tg.tensor([-2.5, 2.75, inf])))
    assert f[:2].tolist() == [-0.5, 0.75] and math.isnan(f[2])
    x = _f64([1.25, -2.5])
    (tg.round(x, decimals=1) + tg.trunc(x) + tg.frac(x)).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_rsqrt_erfinv_sinc_logit_lerp_special_points_and_gradients():
    assert tg.rsqrt(tg.tensor([0.0, -0.0, 4.0, inf])).tolist() == [inf, -inf, 0.5, 0.0]
    assert tg.rsqrt(tg.tensor([4])).dtype == tg.float32
    assert tg.erfinv(tg.tensor([-1.0, 1.0, 0.0])).tolist() == [-inf, inf, 0.0]
    assert math.isnan(tg.erfinv(tg.tensor([1.5])).item())
    assert tg.sinc(tg.tensor([0.0, -0.0])).tolist() == [1.0, 1.0]
    assert tg.logit(tg.tensor([0.0, 1.0, 0.5])).tolist() == [-inf, inf, 0.0]
    assert tg.logit(tg.tensor([0.0, 1.0]), eps=0.25).tolist() == \
        pytest.approx([-math.log(3), math.log(3)])
    x = _f64([0.25, 0.1, 0.9])
    tg.logit(x, eps=0.25).sum().backward()
    assert x.grad.tolist() == pytest.approx([1 / (0.25 * 0.75), 0.0, 0.0])
    x = _f64([0.0, 1.0])
    tg.sinc(x).sum().backward()
    assert x.grad.tolist() == [0.0, -1.0]
    assert tg.lerp(tg.tensor([0.0, 1.0]), tg.tensor([10.0, -1.0]), tg.tensor([0.5, 2.0])).tolist() \
        == [5.0, -3.0]
    for f, inputs in ((tg.rsqrt, (_f64([0.3, 2.0]),)), (tg.erfinv, (_f64([-0.9, 0.2, 0.7]),)),
                      (tg.sinc, (_f64([0.0, 0.3, -1.7]),)), (tg.logit, (_f64([0.2, 0.6]),)),
                      (tg.lerp, (_f64([0.0, 1.0]), _f64([2.0, -1.0]), _f64([0.2, 0.9])))):
        assert gradcheck(f, inputs)
