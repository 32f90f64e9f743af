"""Values and gradients of the core elementwise ops and reductions at their special points
(zeros, poles, infinities, NaN, ties, empty inputs), as PyTorch defines them.

The expected numbers are written by hand from PyTorch's derivative formulas
(tools/autograd/derivatives.yaml). One known difference is pinned as ours, and listed
in docs/deviations.md: logaddexp at ±inf ties.
"""

import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F

inf, nan = np.inf, np.nan
FLOATS = ["float64", "float32"]


def leaves(device, dtype, *values):
    return [tg.tensor(np.array(v, dtype=dtype), device=device, requires_grad=True)
            for v in values]


def run(f, *xs):
    """f(*xs), its .sum() backpropagated quietly (NumPy warns at 0/0, log 0, ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = f(*xs)
        y.sum().backward()
    return y.numpy()


def grads(*xs):
    return [x.grad.numpy() for x in xs]


def same(actual, expected, dtype=None):
    """Equal, NaN in the same places, and the sign of ±inf and ±0 where it matters."""
    np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected, dtype=actual.dtype))
    if dtype is not None:
        assert actual.dtype == np.dtype(dtype)


# --- pow ---

@pytest.mark.parametrize("dtype", FLOATS)
def test_pow_at_a_zero_base(device, dtype):
    x, y = leaves(device, dtype, [0.0, 0.0, 0.0, 0.0, 0.0], [2.0, 1.0, 0.5, 0.0, -1.0])
    same(run(lambda a, b: a ** b, x, y), [0.0, 0.0, 0.0, 1.0, inf], dtype)
    # PyTorch: d/dx = y·0^(y−1) (0 for y > 1, 1 at y = 1, inf for 0 < y < 1, -inf at y = -1),
    # 0 where y = 0; d/dy = 0 where x = 0 and y >= 0 (masked), else y·log 0 = -inf
    same(x.grad.numpy(), [0.0, 1.0, inf, 0.0, -inf], dtype)
    same(y.grad.numpy(), [0.0, 0.0, 0.0, 0.0, -inf], dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_pow_of_a_negative_base_with_integer_exponents(device, dtype):
    x, y = leaves(device, dtype, [-2.0, -2.0], [2.0, 3.0])
    same(run(lambda a, b: a ** b, x, y), [4.0, -8.0])
    same(x.grad.numpy(), [-4.0, 12.0])       # y·x^(y−1)
    same(y.grad.numpy(), [nan, nan])         # PyTorch: result·log(x), log of a negative: NaN


def test_pow_of_integers_stays_integer_and_refuses_a_negative_scalar_power(device):
    a = tg.tensor([3, -3, 0], device=device)
    assert (a ** 2).dtype == np.int64 and (a ** 2).tolist() == [9, 9, 0]
    assert (a ** 0).tolist() == [1, 1, 1]                      # 0 ** 0 = 1
    with pytest.raises((RuntimeError, ValueError), match="negative integer powers"):
        a ** -1                                               # as PyTorch's message


def test_integer_tensor_to_a_negative_integer_tensor_power_is_pytorch_s(device):
    """PyTorch's integer pow is powi: a negative exponent gives 1 for base 1, ±1 for base -1,
    else 0 (2 ** [3, -3] is [8, 0])."""
    base = tg.tensor([1, -1, 2, -1], device=device)
    assert (base ** tg.tensor([-3, -3, -1, -2], device=device)).tolist() == [1, -1, 0, 1]
    assert (base ** tg.tensor([3, 2, 0, 1], device=device)).tolist() == [1, 1, 1, -1]


def test_pow_zero_exponent_gives_a_nan_base_zero_gradient(device):
    (x,) = leaves(device, "float64", [nan, 2.0])
    same(run(lambda a: a ** 0, x), [1.0, 1.0])
    same(x.grad.numpy(), [0.0, 0.0])


# --- unary functions at their poles and overflow ---

SINGULAR = [  # name, function, inputs, values, gradients (PyTorch's formula at the point)
    ("sqrt", lambda x: x.sqrt(), [0.0, inf], [0.0, inf], [inf, 0.0]),       # 1/(2y)
    ("rsqrt", lambda x: x.rsqrt(), [0.0, -0.0, inf], [inf, -inf, 0.0], [-inf, inf, -0.0]),
    ("log", lambda x: x.log(), [0.0, inf], [-inf, inf], [inf, 0.0]),          # 1/x
    ("log1p", lambda x: x.log1p(), [-1.0, inf], [-inf, inf], [inf, 0.0]),     # 1/(1+x)
    ("log2", lambda x: x.log2(), [0.0], [-inf], [inf]),
    ("log10", lambda x: x.log10(), [0.0], [-inf], [inf]),
    ("reciprocal", lambda x: x.reciprocal(), [0.0, -0.0], [inf, -inf], [-inf, -inf]),
    ("exp", lambda x: x.exp(), [1000.0, -inf], [inf, 0.0], [inf, 0.0]),      # y
    ("expm1", lambda x: x.expm1(), [1000.0, -inf], [inf, -1.0], [inf, 0.0]),
    ("exp2", lambda x: x.exp2(), [2000.0, -inf], [inf, 0.0], [inf, 0.0]),
    ("asin", lambda x: x.asin(), [1.0, -1.0], [np.pi / 2, -np.pi / 2], [inf, inf]),
    ("acos", lambda x: x.acos(), [1.0, -1.0], [0.0, np.pi], [-inf, -inf]),
    ("atanh", lambda x: x.atanh(), [1.0, -1.0], [inf, -inf], [inf, inf]),
    ("acosh", lambda x: x.acosh(), [1.0], [0.0], [inf]),
    ("atan", lambda x: x.atan(), [inf, -inf], [np.pi / 2, -np.pi / 2], [0.0, 0.0]),
    ("tanh", lambda x: x.tanh(), [-1000.0, 1000.0], [-1.0, 1.0], [0.0, 0.0]),  # 1 − y², not NaN
    ("erf", lambda x: x.erf(), [inf, -inf], [1.0, -1.0], [0.0, 0.0]),
    ("erfc", lambda x: x.erfc(), [inf, -inf], [0.0, 2.0], [-0.0, -0.0]),
    ("erfinv", lambda x: x.erfinv(), [1.0, -1.0], [inf, -inf], [inf, inf]),
    ("abs", lambda x: x.abs(), [0.0, -0.0, -inf], [0.0, 0.0, inf], [0.0, 0.0, -1.0]),
    ("sign", lambda x: x.sign(), [0.0, -2.0, inf], [0.0, -1.0, 1.0], [0.0, 0.0, 0.0]),
    ("lgamma", lambda x: x.lgamma(), [0.0, -1.0, -2.0], [inf, inf, inf], [-inf, nan, nan]),
    ("digamma", lambda x: x.digamma(), [0.0, -0.0, -1.0], [-inf, inf, nan], [inf, inf, inf]),
    ("logit", lambda x: x.logit(), [0.0, 1.0, 2.0], [-inf, inf, nan], [inf, inf, nan]),
    ("sinc", lambda x: x.sinc(), [0.0], [1.0], [0.0]),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name, f, inputs, values, gradients", SINGULAR,
                         ids=[case[0] for case in SINGULAR])
def test_unary_functions_at_poles_and_overflow(device, dtype, name, f, inputs, values,
                                               gradients):
    (x,) = leaves(device, dtype, inputs)
    y = run(f, x)
    np.testing.assert_allclose(y, values, rtol=1e-6)  # (π/2 rounds in float32)
    assert y.dtype == np.dtype(dtype)
    same(x.grad.numpy(), gradients, dtype)


# --- division ---

@pytest.mark.parametrize("dtype", FLOATS)
def test_division_by_zero_values_and_gradients(device, dtype):
    a, b = leaves(device, dtype, [1.0, 0.0, -1.0], [0.0, 0.0, 0.0])
    same(run(lambda p, q: p / q, a, b), [inf, nan, -inf])
    same(a.grad.numpy(), [inf, inf, inf])        # 1/b
    same(b.grad.numpy(), [-inf, nan, inf])       # −a/b²


def test_integer_division_by_zero_raises_and_true_division_gives_floats(device):
    a, zero = tg.tensor([3, -3, 0], device=device), tg.tensor([0, 0, 0], device=device)
    for f in (lambda: a // zero, lambda: a % 0, lambda: tg.fmod(a, 0),
              lambda: tg.div(a, zero, rounding_mode="trunc"),
              lambda: tg.div(a, zero, rounding_mode="floor")):
        with pytest.raises(ZeroDivisionError):     # PyTorch: "ZeroDivisionError" on the CPU
            f()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        quotient = a / zero
    assert quotient.dtype == np.float32
    same(quotient.numpy(), [inf, -inf, nan])


@pytest.mark.parametrize("dtype", FLOATS)
def test_fmod_and_remainder_by_zero_gradients(device, dtype):
    for f in (tg.fmod, tg.remainder):
        a, b = leaves(device, dtype, [5.0], [0.0])
        same(run(f, a, b), [nan])
        # PyTorch: d/da = 1, d/db = −div(a, b, rounding) = −(5/0) = −inf
        same(a.grad.numpy(), [1.0])
        same(b.grad.numpy(), [-inf])


# --- selections: clamp, where, maximum, fmax, atan2, hypot, logaddexp ---

@pytest.mark.parametrize("dtype", FLOATS)
def test_clamp_with_min_above_max_gives_max_and_no_gradient(device, dtype):
    (x,) = leaves(device, dtype, [0.5, 2.0, -1.0, nan])
    same(run(lambda t: t.clamp(1.0, 0.0), x), [0.0, 0.0, 0.0, nan])
    same(x.grad.numpy(), [0.0, 0.0, 0.0, 0.0])  # PyTorch: 1 only where min <= x <= max


def test_where_gives_the_unselected_branch_zero_even_at_nan_and_nan_through_its_0_over_0(
        device):
    c, a, b = leaves(device, "float64", [1.0, 0.0], [1.0, 2.0], [nan, 3.0])
    same(run(lambda c, a, b: tg.where(c > 0, a, b), c, a, b), [1.0, 3.0])
    same(a.grad.numpy(), [1.0, 0.0])
    same(b.grad.numpy(), [0.0, 1.0])
    # the masked 0 meets log's 1/x at x = 0: 0/0 = NaN, as in PyTorch (the well-known case)
    (x,) = leaves(device, "float64", [0.0, 2.0])
    same(run(lambda t: tg.where(t > 0, t.log(), 0.0), x), [0.0, np.log(2.0)])
    same(x.grad.numpy(), [nan, 0.5])


@pytest.mark.parametrize("dtype", FLOATS)
def test_fmax_and_fmin_give_ties_and_nan_partners_to_the_first_argument(device, dtype):
    values = [[1.0, 2.0, nan, 1.0, nan], [1.0, 1.0, 1.0, nan, nan]]
    a, b = leaves(device, dtype, *values)
    same(run(tg.fmax, a, b), [1.0, 2.0, 1.0, 1.0, nan])
    # PyTorch: self gets grad where self >= other or other is NaN, other the rest
    same(a.grad.numpy(), [1.0, 1.0, 0.0, 1.0, 1.0])
    same(b.grad.numpy(), [0.0, 0.0, 1.0, 0.0, 0.0])
    a, b = leaves(device, dtype, *values)
    same(run(tg.fmin, a, b), [1.0, 1.0, 1.0, 1.0, nan])
    same(a.grad.numpy(), [1.0, 0.0, 0.0, 1.0, 1.0])
    same(b.grad.numpy(), [0.0, 1.0, 1.0, 0.0, 0.0])


def test_maximum_and_minimum_with_nan_send_the_gradient_to_both(device):
    for f in (tg.maximum, tg.minimum):
        a, b = leaves(device, "float64", [nan, 1.0, 2.0], [1.0, nan, 2.0])
        same(run(f, a, b), [nan, nan, 2.0])
        same(a.grad.numpy(), [1.0, 1.0, 0.5])
        same(b.grad.numpy(), [1.0, 1.0, 0.5])


def test_relu_passes_the_gradient_at_nan(device):
    for f in (lambda t: t.relu(), F.relu):
        (x,) = leaves(device, "float32", [nan, -1.0, 0.0, 2.0])
        same(run(f, x), [nan, 0.0, 0.0, 2.0])
        same(x.grad.numpy(), [1.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("dtype", FLOATS)
def test_atan2_and_hypot_at_the_origin(device, dtype):
    a, b = leaves(device, dtype, [0.0, 0.0, -0.0], [0.0, -0.0, -0.0])
    y = run(tg.atan2, a, b)
    np.testing.assert_allclose(y, [0.0, np.pi, -np.pi], rtol=1e-7)  # the signed zeros
    # PyTorch: grad·b/(a² + b²) and −grad·a/(a² + b²): 0/0 at the origin
    same(a.grad.numpy(), [nan, nan, nan])
    same(b.grad.numpy(), [nan, nan, nan])
    a, b = leaves(device, dtype, [0.0], [0.0])
    same(run(tg.hypot, a, b), [0.0])
    same(a.grad.numpy(), [nan])                  # PyTorch: grad·a/result = 0/0
    same(b.grad.numpy(), [nan])


@pytest.mark.parametrize("dtype", FLOATS)
def test_logaddexp_with_minus_infinity(device, dtype):
    a, b = leaves(device, dtype, [-inf, -inf, 0.0], [-inf, 0.0, 0.0])
    same(run(tg.logaddexp, a, b), [-inf, 0.0, np.log(2.0)])
    same(a.grad[1:].numpy(), [0.0, 0.5])         # 1/(1 + e^(b−a))
    same(b.grad[1:].numpy(), [1.0, 0.5])


def test_logaddexp_gradient_at_equal_infinities_is_shared(device):
    """PyTorch's backward, grad/(1 + exp(b − a)), is NaN at a = b = ±inf; here the limit
    along a = b, ½ each (listed in docs/deviations.md)."""
    a, b = leaves(device, "float64", [-inf, inf], [-inf, inf])
    same(run(tg.logaddexp, a, b), [-inf, inf])
    same(a.grad.numpy(), [0.5, 0.5])
    same(b.grad.numpy(), [0.5, 0.5])


@pytest.mark.parametrize("dtype", FLOATS)
def test_lerp_with_an_infinite_end_gives_the_weight_an_infinite_gradient(device, dtype):
    a, b, w = leaves(device, dtype, [0.0, 1.0, 1.0], [1.0, inf, -inf], [0.5, 0.0, 0.75])
    same(run(tg.lerp, a, b, w), [0.5, nan, nan])  # 1 + 0·inf; −inf + inf (PyTorch too)
    # PyTorch: grad·(1 − w), grad·w, grad·(end − input) (was NaN: 0·inf of the other branch)
    same(a.grad.numpy(), [0.5, 1.0, 0.25])
    same(b.grad.numpy(), [0.5, 0.0, 0.75])
    same(w.grad.numpy(), [1.0, inf, -inf])


# --- reductions ---

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("p", [1, 2, 3, inf])
def test_norm_and_dist_at_zero_have_zero_gradient(device, dtype, p):
    (x,) = leaves(device, dtype, [0.0, 0.0])
    same(run(lambda t: t.norm(p=p), x), 0.0)
    same(x.grad.numpy(), [0.0, 0.0])              # PyTorch masks the 0/0 where the norm is 0
    a, b = leaves(device, dtype, [1.0, 2.0], [1.0, 2.0])
    same(run(lambda s, t: tg.dist(s, t, p=p), a, b), 0.0)
    np.testing.assert_array_equal(a.grad.numpy() + b.grad.numpy(), [0.0, 0.0])
    assert np.isfinite(a.grad.numpy()).all()


@pytest.mark.parametrize("dtype", FLOATS)
def test_var_and_std_of_one_element(device, dtype):
    for reduce in (lambda t: t.var(), lambda t: t.std(), lambda t: t.var(dim=0)):
        (x,) = leaves(device, dtype, [3.0])
        same(run(reduce, x), nan)               # PyTorch: n − 1 = 0 → NaN (and a warning)
        same(x.grad.numpy(), [nan])            # (2/0)·(x − mean) = inf·0
    (x,) = leaves(device, dtype, [3.0])
    same(run(lambda t: t.var(correction=0), x), 0.0)
    same(x.grad.numpy(), [0.0])


def test_reductions_of_an_empty_tensor(device):
    empty = tg.tensor(np.zeros(0), device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(empty.mean().item()) and np.isnan(empty.var().item())
        assert np.isnan(tg.tensor(np.zeros((0, 2)), device=device).mean(0).numpy()).all()
    assert empty.sum().item() == 0.0 and empty.prod().item() == 1.0
    assert empty.norm().item() == 0.0 and empty.logsumexp(0).item() == -inf
    for reduce in (lambda: empty.max(), lambda: empty.amin(), lambda: empty.argmax()):
        with pytest.raises((RuntimeError, ValueError, IndexError),
                           match="empty|Expected reduction dim to be specified"):
            reduce()                               # PyTorch raises too
    assert tg.tensor(np.zeros((0, 3)), device=device).amax(1).shape == (0,)


def test_argmax_and_argmin_pick_the_first_nan_and_the_first_tie(device):
    x = tg.tensor([1.0, nan, 3.0, nan], device=device)
    assert x.argmax().item() == 1 and x.argmin().item() == 1   # PyTorch: NaN wins both
    y = tg.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 0.0]], device=device)
    assert y.argmax(1).tolist() == [1, 0] and y.argmin(1).tolist() == [0, 1]


@pytest.mark.parametrize("dtype", FLOATS)
def test_max_amax_amin_with_nan_and_infinities(device, dtype):
    (x,) = leaves(device, dtype, [1.0, nan, 3.0, nan])
    same(run(lambda t: t.max(), x), nan)
    same(x.grad.numpy(), [0.0, 0.5, 0.0, 0.5])   # PyTorch: evenly among the NaNs
    (x,) = leaves(device, dtype, [-inf, -inf])
    same(run(lambda t: t.amax(), x), -inf)
    same(x.grad.numpy(), [0.5, 0.5])
    (x,) = leaves(device, dtype, [inf, 1.0])
    same(run(lambda t: t.amin(), x), 1.0)
    same(x.grad.numpy(), [0.0, 1.0])


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_with_infinite_maxima(device, dtype):
    (x,) = leaves(device, dtype, [[-inf, -inf], [inf, 1.0], [0.0, 0.0]])
    same(run(lambda t: t.logsumexp(1), x), [-inf, inf, np.log(2.0)])
    # PyTorch: grad·exp(x − result): exp(−inf + inf) and exp(inf − inf) are NaN
    same(x.grad.numpy(), [[nan, nan], [nan, 0.0], [0.5, 0.5]])


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_of_an_all_minus_inf_row_is_nan_and_leaves_other_rows(device, dtype):
    for f in (lambda t: t.softmax(1), lambda t: t.log_softmax(1)):
        (x,) = leaves(device, dtype, [[-inf, -inf], [0.0, 0.0]])
        y = run(f, x)
        same(y[0], [nan, nan])
        np.testing.assert_allclose(y[1], [0.5, 0.5] if y[1, 0] > 0 else np.log([0.5, 0.5]))
        same(x.grad.numpy()[0], [nan, nan])
        np.testing.assert_allclose(x.grad.numpy()[1], [0.0, 0.0], atol=1e-7)


def test_softmax_of_a_row_holding_plus_inf_is_all_nan(device):
    x = tg.tensor([[inf, 1.0]], device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        same(x.softmax(1).numpy(), [[nan, nan]])
        same(x.log_softmax(1).numpy(), [[nan, nan]])
