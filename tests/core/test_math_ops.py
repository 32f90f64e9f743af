"""More elementwise math (ops/math_ops.py): tan, atanh, atan2, expm1, floor, fmod, lerp, ...

``MATH_OPS`` is this file's op table (the lead joins it to test_two_modes.py's
TABLE): gradcheck, gradgradcheck and the two-path comparison run over it here, on
shapes drawn by hypothesis, with domains kept away from the kinks, steps and
singularities. Then: forward values against formulas written here (Python's
``math`` module, element by element, or NumPy expressions of other functions),
dtypes, exact zero gradients of the staircases, ``where``-routed inf/NaN
gradients, hand-derived gradients at the special points, the operators, and errors.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_ops_gradcheck import (NONZERO, POSITIVE, Op, away_from, each, host, leaves, nonzero,
                                per_input, positive, real, with_zeros)
from test_ops_gradcheck import draw_domain as draw
from test_two_modes import assert_the_two_paths_agree, gradients
from tinygrad_opt.ops import math_ops


# --- input domains ---

def uniform(low, high):
    return each(lambda rng, shape: rng.uniform(low, high, shape))


def between_steps(rng, shape):
    """Values at least 0.1 from every whole and half number (the steps of floor, ceil,
    trunc and round)."""
    whole = rng.integers(-2, 2, shape)
    part = rng.uniform(0.1, 0.4, shape) + 0.5 * rng.integers(0, 2, shape)
    return whole + part


def between_tenth_steps(rng, shape):
    """Values at least 0.02 from every step of round(x, decimals=1), at (k + ½)/10."""
    return rng.integers(-20, 20, shape) / 10 + rng.uniform(-0.03, 0.03, shape)


def divisor(rng, shape):
    """±1.5, within 1%."""
    return rng.choice([-1.5, 1.5], shape) * rng.uniform(0.99, 1.01, shape)


def off_multiples(rng, shapes):
    """(a, b) with b = ±1.5 (within 1%) and a = 1.5·(k + u), u in [0.25, 0.75]: a / b stays
    at least 0.2 from every whole number (the steps of trunc and floor), whatever b an
    element of a meets after broadcasting."""
    a_shape, b_shape = shapes
    a = 1.5 * (rng.integers(-2, 2, a_shape) + rng.uniform(0.25, 0.75, a_shape))
    return [a, divisor(rng, b_shape)]


def logit_inputs(rng, shape):
    """Values in (0, 1) at least 0.05 from the clamping bounds 0.2 and 0.8."""
    low, high = rng.uniform(0.02, 0.15, shape), rng.uniform(0.85, 0.98, shape)
    middle = rng.uniform(0.25, 0.75, shape)
    return np.where(rng.random(shape) < 0.3, low, np.where(rng.random(shape) < 0.5, high, middle))


def clamp_bound_inputs(rng, shapes):
    """x, lo < hi with x at least 0.1 from every bound: below all lo, between, or above
    all hi (ties are ClampByTensors' kinks)."""
    x_shape, lo_shape, hi_shape = shapes
    pieces = [rng.uniform(-1.4, -1.1, x_shape), rng.uniform(-0.1, 0.1, x_shape),
              rng.uniform(1.1, 1.4, x_shape)]
    x = np.choose(rng.integers(0, 3, x_shape), pieces)
    return [x, rng.uniform(-1.0, -0.2, lo_shape), rng.uniform(0.2, 1.0, hi_shape)]


MATH_OPS = [
    # exponentials and logarithms
    Op("expm1", lambda x: x.expm1(), 1),
    Op("exp2", lambda x: tg.exp2(x), 1),
    Op("log2", lambda x: x.log2(), 1, POSITIVE),
    Op("log10", lambda x: tg.log10(x), 1, POSITIVE),
    Op("log1p_method", lambda x: x.log1p(), 1, uniform(-0.5, 2.0)),
    Op("rsqrt", lambda x: x.rsqrt(), 1, POSITIVE),
    Op("reciprocal", lambda x: tg.reciprocal(x), 1, NONZERO),
    # trigonometric and hyperbolic
    Op("tan", lambda x: x.tan(), 1, uniform(-1.2, 1.2)),
    Op("asin", lambda x: x.asin(), 1, uniform(-0.9, 0.9)),
    Op("arccos", lambda x: tg.arccos(x), 1, uniform(-0.9, 0.9)),
    Op("atan", lambda x: x.arctan(), 1),
    Op("atan2", lambda y, x: tg.atan2(y, x), 2, per_input(nonzero, real)),  # off the cut y = 0
    Op("hypot", lambda a, b: a.hypot(b), 2, NONZERO),
    Op("sinh", lambda x: x.sinh(), 1),
    Op("cosh", lambda x: tg.cosh(x), 1),
    Op("asinh", lambda x: x.arcsinh(), 1),
    Op("acosh", lambda x: tg.acosh(x), 1, uniform(1.2, 3.0)),
    Op("atanh", lambda x: x.atanh(), 1, uniform(-0.9, 0.9)),
    # special functions
    Op("erf_method", lambda x: x.erf(), 1, uniform(-4.0, 4.0)),
    Op("erfc", lambda x: tg.erfc(x), 1, uniform(-4.0, 4.0)),
    Op("sinc", lambda x: x.sinc(), 1, NONZERO),
    # staircases (gradient 0 between the steps) and what is built on them
    Op("floor", lambda x: x.floor(), 1, each(between_steps)),
    Op("ceil", lambda x: tg.ceil(x), 1, each(between_steps)),
    Op("round", lambda x: x.round(), 1, each(between_steps)),
    Op("round_decimals", lambda x: tg.round(x, decimals=1), 1, each(between_tenth_steps)),
    Op("round_negative_decimals", lambda x: (x * 100).round(decimals=-1), 1,
       each(between_tenth_steps)),
    Op("trunc", lambda x: x.trunc(), 1, each(between_steps)),
    Op("frac", lambda x: x.frac(), 1, each(between_steps)),
    Op("fmod", lambda a, b: tg.fmod(a, b), 2, off_multiples),
    Op("remainder", lambda a, b: a.remainder(b), 2, off_multiples),
    Op("mod_operator", lambda a, b: a % b, 2, off_multiples),
    Op("rmod_number", lambda b: 2.2 % b, 1, each(divisor)),
    Op("floor_divide", lambda a, b: tg.floor_divide(a, b), 2, off_multiples),
    Op("rfloordiv_number", lambda b: 2.2 // b, 1, each(divisor)),
    # compositions and where-routed functions
    Op("lerp_tensor_weight", lambda a, b, w: tg.lerp(a, b, w), 3),  # both of its forms
    Op("lerp_number_weights", lambda a, b: a.lerp(b, 0.3) * a.lerp(b, 0.8), 2),
    Op("logit", lambda x: x.logit(), 1, uniform(0.1, 0.9)),
    Op("logit_eps", lambda x: tg.logit(x, eps=0.2), 1, each(logit_inputs)),
    Op("xlogy", lambda x, y: tg.xlogy(x, y), 2, per_input(real, positive)),
    Op("xlogy_at_zeros", lambda x, y: x.xlogy(y), 2, per_input(with_zeros, positive)),
    Op("clamp_min", lambda x: x.clamp_min(0.3), 1, each(away_from(0.3))),
    Op("clamp_max", lambda x: tg.clamp_max(x, -0.2), 1, each(away_from(-0.2))),
    Op("nan_to_num", lambda x: x.nan_to_num(), 1),
    Op("clamp_tensor_bounds", lambda x, lo, hi: x.clamp(lo, hi), 3, clamp_bound_inputs),
]

SETTINGS = settings(max_examples=3, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
IDS = [op.name for op in MATH_OPS]


def test_table_names_are_unique():
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("op", MATH_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradcheck(op, device, data):
    _, arrays = draw(op, data)
    assert tg.gradcheck(op.fn, leaves(arrays, device), **op.tolerance)


@pytest.mark.parametrize("op", MATH_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradgradcheck(op, device, data):
    _, arrays = draw(op, data)
    assert tg.gradgradcheck(op.fn, leaves(arrays, device), **op.tolerance)


@pytest.mark.parametrize("op", MATH_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    rng, arrays = draw(op, data)
    assert_the_two_paths_agree(op, arrays, rng, device, same_output_dtype=True)


def test_every_function_of_the_module_is_in_the_table():
    """Each Function subclass of ops/math_ops.py makes a node of some entry's graph."""
    from tinygrad_opt.autograd.function import Function
    classes = {value for value in vars(math_ops).values()
               if isinstance(value, type) and issubclass(value, Function)
               and value.__module__ == math_ops.__name__}
    assert len(classes) > 20
    rng, seen = np.random.default_rng(0), set()
    for op in MATH_OPS:
        inputs = leaves(op.domain(rng, [(2, 3)] * op.arity), "cpu")
        output = op.fn(*inputs)
        grads = tg.grad(output, inputs, grad_outputs=tg.ones_like(output), create_graph=True,
                        allow_unused=True)
        pending = [output, *[g for g in grads if g is not None]]
        while pending:
            node = pending.pop().grad_fn
            if node is not None:
                seen.add(type(node))
                pending.extend(node.inputs)
    assert classes - seen == set()


# --- forward values: Python's math module element by element, or other NumPy functions ---

def by_element(function):
    """``function`` (from Python's ``math``, or a lambda) applied to each element."""
    return np.vectorize(function, otypes=[np.float64])


X = np.array([[-1.75, -0.5, 0.0], [0.3, 1.25, 2.5]])
U = np.array([[-0.9, -0.3, 0.0], [0.2, 0.5, 0.95]])          # inside (−1, 1)
P = np.array([[0.25, 0.5, 1.0], [2.0, 8.0, 1000.0]])          # positive
STEPS = np.array([[-2.5, -1.5, -0.5, -0.49], [0.5, 1.5, 2.5, 2.51]])  # halves: to even
A = np.array([5.5, -5.5, 5.5, -5.5, 0.75, -3.0])
B = np.array([2.0, 2.0, -2.0, -2.0, 0.5, 1.5])

FORWARD = [
    # name, ours, reference, input
    ("expm1", lambda x: x.expm1(), by_element(math.expm1), X),
    ("exp2", lambda x: tg.exp2(x), lambda x: np.exp(x * np.log(2.0)), X),
    ("log2", lambda x: tg.log2(x), lambda x: np.log(x) / np.log(2.0), P),
    ("log10", lambda x: x.log10(), by_element(math.log10), P),
    ("log1p", lambda x: tg.log1p(x), by_element(math.log1p), P),
    ("rsqrt", lambda x: tg.rsqrt(x), lambda x: 1 / np.sqrt(x), P),
    ("reciprocal", lambda x: x.reciprocal(), lambda x: 1 / x, P),
    ("tan", lambda x: tg.tan(x), lambda x: np.sin(x) / np.cos(x), X),
    ("asin", lambda x: tg.asin(x), lambda x: np.arctan(x / np.sqrt(1 - x * x)), U),
    ("acos", lambda x: x.acos(), lambda x: np.pi / 2 - np.arctan(x / np.sqrt(1 - x * x)), U),
    ("atan", lambda x: tg.atan(x), by_element(math.atan), X),
    ("sinh", lambda x: tg.sinh(x), lambda x: (np.exp(x) - np.exp(-x)) / 2, X),
    ("cosh", lambda x: x.cosh(), lambda x: (np.exp(x) + np.exp(-x)) / 2, X),
    ("asinh", lambda x: tg.asinh(x), by_element(math.asinh), X),
    ("acosh", lambda x: tg.arccosh(x), lambda x: np.log(x + np.sqrt(x * x - 1)), P + 1),
    ("atanh", lambda x: tg.arctanh(x), lambda x: np.log((1 + x) / (1 - x)) / 2, U),
    ("erf", lambda x: tg.erf(x), by_element(math.erf), X),
    ("erfc", lambda x: x.erfc(), by_element(math.erfc), X),
    ("sinc", lambda x: tg.sinc(x), by_element(lambda v: 1.0 if v == 0 else
                                              math.sin(math.pi * v) / (math.pi * v)), X),
    ("floor", lambda x: tg.floor(x), by_element(math.floor), STEPS),
    ("ceil", lambda x: x.ceil(), by_element(math.ceil), STEPS),
    ("trunc", lambda x: tg.trunc(x), by_element(math.trunc), STEPS),
    ("round_half_to_even", lambda x: tg.round(x), by_element(round), STEPS),
    ("round_decimals", lambda x: (x / 7).round(decimals=2),
     by_element(lambda v: round(v / 7 * 100) / 100), STEPS),
    ("frac", lambda x: x.frac(), by_element(lambda v: math.modf(v)[0]), STEPS),
    ("nan_to_num_finite", lambda x: tg.nan_to_num(x), lambda x: x, X),
    ("logit", lambda x: tg.logit(x), lambda x: np.log(x) - np.log(1 - x), U / 2 + 0.5),
    ("logit_eps", lambda x: x.logit(eps=0.1), lambda x: np.log(np.clip(x, 0.1, 0.9) /
                                                             (1 - np.clip(x, 0.1, 0.9))),
     U / 2 + 0.5),
    ("clamp_min", lambda x: tg.clamp_min(x, 0.3), lambda x: np.where(x > 0.3, x, 0.3), X),
    ("clamp_max", lambda x: x.clamp_max(0.3), lambda x: np.where(x < 0.3, x, 0.3), X),
]

FORWARD_BINARY = [
    ("atan2", lambda a, b: tg.atan2(a, b), by_element(math.atan2)),
    ("arctan2_method", lambda a, b: a.arctan2(b), by_element(math.atan2)),
    ("hypot", lambda a, b: tg.hypot(a, b), by_element(math.hypot)),
    ("fmod", lambda a, b: tg.fmod(a, b), by_element(math.fmod)),
    ("remainder", lambda a, b: tg.remainder(a, b), by_element(lambda a, b: a % b)),
    ("mod_operator", lambda a, b: a % b, by_element(lambda a, b: a % b)),
    ("floor_divide", lambda a, b: a.floor_divide(b), by_element(lambda a, b: a // b)),
    ("floordiv_operator", lambda a, b: a // b, by_element(lambda a, b: a // b)),
    ("lerp", lambda a, b: tg.lerp(a, b, 0.25), lambda a, b: a + 0.25 * (b - a)),
    ("lerp_tensor_weight", lambda a, b: a.lerp(b, b / 4), lambda a, b: a + b / 4 * (b - a)),
    ("xlogy", lambda a, b: tg.xlogy(a, b.abs()), lambda a, b: a * np.log(np.abs(b))),
]


@pytest.mark.parametrize("name, ours, reference, x", FORWARD, ids=[f[0] for f in FORWARD])
def test_forward_matches_reference(name, ours, reference, x, device):
    result = ours(tg.tensor(x, device=device))
    assert result.dtype == tg.float64 and result.device == device
    np.testing.assert_allclose(host(result), reference(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, ours, reference", FORWARD_BINARY,
                         ids=[f[0] for f in FORWARD_BINARY])
def test_binary_forward_matches_reference(name, ours, reference, device):
    a, b = tg.tensor(A, device=device), tg.tensor(B, device=device)
    result = ours(a, b)
    assert result.dtype == tg.float64 and result.device == device
    np.testing.assert_allclose(host(result), reference(A, B), rtol=1e-13, atol=1e-15)


def test_binary_functions_broadcast(device):
    column = tg.tensor([[1.0], [-2.0]], dtype=tg.float64, device=device)
    row = tg.tensor([0.5, -3.0, 4.0], dtype=tg.float64, device=device)
    expected = by_element(math.atan2)(np.array([[1.0], [-2.0]]), np.array([0.5, -3.0, 4.0]))
    np.testing.assert_allclose(host(tg.atan2(column, row)), expected, rtol=1e-13)
    assert (column % row).shape == (2, 3) and tg.hypot(row, 2.0).shape == (3,)
    assert tg.lerp(column, row, tg.tensor(0.7, device=device)).shape == (2, 3)


def test_exact_where_composing_would_round(device):
    tiny = tg.tensor([1e-10, -1e-12, 1e-300], dtype=tg.float64, device=device)
    np.testing.assert_allclose(host(tiny.expm1()), [math.expm1(1e-10), math.expm1(-1e-12),
                                                    1e-300], rtol=1e-15)
    powers = tg.tensor([2.0 ** k for k in range(-60, 61, 7)], dtype=tg.float64, device=device)
    assert host(powers.log2()).tolist() == list(range(-60, 61, 7))
    assert host(tg.tensor([1e-3, 1e5], dtype=tg.float64, device=device).log10()).tolist() \
        == [-3.0, 5.0]
    big = tg.tensor([1e200, 3e-200], dtype=tg.float64, device=device)
    np.testing.assert_allclose(host(tg.hypot(big, big)), [math.sqrt(2) * 1e200,
                                                          math.sqrt(2) * 3e-200], rtol=1e-15)
    # lerp with weight 1 gives ``end`` exactly (start + 1·(end − start) does not here)
    start, end = -1.021609701005447, 1.7305722205704264
    assert start + (end - start) != end
    a = tg.tensor([start], dtype=tg.float64, device=device)
    b = tg.tensor([end], dtype=tg.float64, device=device)
    assert host(a.lerp(b, 1.0)).tolist() == [end]
    assert host(a.lerp(b, tg.tensor([1.0], dtype=tg.float64, device=device))).tolist() == [end]


def test_sinc_xlogy_heaviside_and_nan_to_num_at_their_special_points(device):
    x = tg.tensor([0.0, 1.0, -2.0, 0.5], dtype=tg.float64, device=device)
    np.testing.assert_allclose(host(x.sinc()), [1.0, 0.0, 0.0, 2 / math.pi], atol=1e-16)
    a = tg.tensor([0.0, 0.0, 0.0, 0.0, 2.0], dtype=tg.float64, device=device)
    b = tg.tensor([0.0, -1.0, np.inf, np.nan, np.e], dtype=tg.float64, device=device)
    with np.errstate(invalid="ignore"):
        assert host(tg.xlogy(a, b)).tolist()[:3] == [0.0, 0.0, 0.0]
        assert np.isnan(host(tg.xlogy(a, b))[3])            # NaN stays NaN
    np.testing.assert_allclose(host(tg.xlogy(a, b))[4], 2.0)
    steps = tg.tensor([-1.5, 0.0, 2.0, np.nan], dtype=tg.float64, device=device)
    assert host(steps.heaviside(tg.tensor(0.5, dtype=tg.float64, device=device)))[:3].tolist() \
        == [0.0, 0.5, 1.0]
    assert host(tg.heaviside(steps, 0.25))[3] == 0.0         # NaN > 0 is False, as PyTorch
    special = tg.tensor([np.nan, np.inf, -np.inf, 1.5], dtype=tg.float32, device=device)
    big = np.finfo(np.float32).max
    assert host(special.nan_to_num()).tolist() == [0.0, float(big), float(-big), 1.5]
    assert host(tg.nan_to_num(special, nan=1.0, posinf=2.0, neginf=-3.0)).tolist() == \
        [1.0, 2.0, -3.0, 1.5]


# --- dtypes ---

def test_integer_inputs_of_float_functions_give_float32(device):
    ints = tg.tensor([1, 2, 3], device=device)
    for name in ("expm1", "exp2", "log2", "log10", "log1p", "rsqrt", "reciprocal", "tan",
                 "atan", "sinh", "cosh", "asinh", "erf", "erfc", "sinc", "logit"):
        with np.errstate(divide="ignore", invalid="ignore"):  # logit(1) = inf, logit(2) NaN
            assert getattr(tg, name)(ints).dtype == tg.float32, name
    assert tg.atan2(ints, ints).dtype == tg.float32
    assert tg.hypot(ints, 2).dtype == tg.float32 and ints.xlogy(ints).dtype == tg.float32
    np.testing.assert_allclose(host(ints.tan()), np.sin([1, 2, 3]) / np.cos([1, 2, 3]),
                               rtol=1e-6)
    assert tg.atan2(ints, tg.tensor([1.0], dtype=tg.float64, device=device)).dtype == tg.float64


def test_float32_stays_float32(device):
    x = tg.tensor([0.25, 0.5], device=device)
    for name in ("expm1", "log2", "tan", "asin", "atanh", "sinc", "floor", "round", "frac",
                 "nan_to_num", "erfc"):
        assert getattr(x, name)().dtype == tg.float32, name
    assert (x % 0.2).dtype == tg.float32 and x.atan2(x).dtype == tg.float32


def test_staircases_keep_integers_whole_and_integer(device):
    ints = tg.tensor([-3, 0, 7], device=device)
    for name in ("floor", "ceil", "round", "trunc"):
        result = getattr(ints, name)()
        assert result.dtype == tg.int64 and host(result).tolist() == [-3, 0, 7], name
    assert host(ints.nan_to_num()).tolist() == [-3, 0, 7]
    assert (ints // 2).dtype == tg.int64 and host(ints // 2).tolist() == [-2, 0, 3]
    assert host(ints % 2).tolist() == [1, 0, 1] and host(ints.fmod(2)).tolist() == [-1, 0, 1]
    assert host(ints % -2).tolist() == [-1, 0, -1]
    assert host(7 // ints[::2]).tolist() == [-3, 1] and host(7 % ints[::2]).tolist() == [-2, 0]
    assert (ints % 2.5).dtype == tg.float32              # an int tensor meeting a float


# --- gradients: exact zeros, hand-derived values, where-routed inf/NaN ---

def test_staircases_have_exactly_zero_gradient_even_at_steps_and_for_inf(device):
    x = tg.tensor([-1.5, -1.0, 0.0, 0.5, 2.5, 0.3], dtype=tg.float64, requires_grad=True,
                  device=device)
    upstream = tg.tensor([np.inf, np.nan, -np.inf, 1.0, 2.0, np.inf], dtype=tg.float64,
                         device=device)
    staircases = [lambda v: v.floor(), lambda v: v.ceil(), lambda v: v.round(),
                  lambda v: v.trunc(), lambda v: v.round(decimals=1),
                  lambda v: v.round(decimals=-1), lambda v: v // 0.5,
                  lambda v: tg.floor_divide(2.0, v + 3)]
    for staircase in staircases:
        assert staircase(x).requires_grad                    # as PyTorch: the output takes part
        for create_graph in (False, True):
            (grad,) = tg.grad(staircase(x), x, grad_outputs=upstream, create_graph=create_graph)
            assert host(grad).tolist() == [0.0] * 6


def test_frac_fmod_remainder_gradients_by_hand(device):
    x = tg.tensor([-1.75, 0.5, 2.25], dtype=tg.float64, requires_grad=True, device=device)
    x.frac().sum().backward()
    assert host(x.grad).tolist() == [1.0, 1.0, 1.0]
    a = tg.tensor([5.5, -5.5, 5.5, -5.5], dtype=tg.float64, requires_grad=True, device=device)
    b = tg.tensor([2.0, 2.0, -2.0, -2.0], dtype=tg.float64, requires_grad=True, device=device)
    tg.fmod(a, b).sum().backward()
    assert host(a.grad).tolist() == [1.0] * 4
    assert host(b.grad).tolist() == [-2.0, 2.0, 2.0, -2.0]      # −trunc(a / b)
    a.grad = b.grad = None
    (a % b).sum().backward()
    assert host(a.grad).tolist() == [1.0] * 4
    assert host(b.grad).tolist() == [-2.0, 3.0, 3.0, -2.0]      # −⌊a / b⌋


def test_lerp_and_logit_gradients_by_hand(device):
    start = tg.tensor([1.0, -2.0], dtype=tg.float64, requires_grad=True, device=device)
    end = tg.tensor([3.0, 4.0], dtype=tg.float64, requires_grad=True, device=device)
    weight = tg.tensor([0.25, 0.75], dtype=tg.float64, requires_grad=True, device=device)
    tg.lerp(start, end, weight).sum().backward()
    assert host(start.grad).tolist() == [0.75, 0.25]
    assert host(end.grad).tolist() == [0.25, 0.75]
    assert host(weight.grad).tolist() == [2.0, 6.0]             # end − start
    x = tg.tensor([0.05, 0.5, 0.95], dtype=tg.float64, requires_grad=True, device=device)
    x.logit(eps=0.1).backward(tg.tensor([np.inf, 1.0, np.nan], dtype=tg.float64,
                                        device=device))
    assert host(x.grad).tolist() == [0.0, 4.0, 0.0]             # 0 outside [eps, 1 − eps]


def test_where_routed_gradients_give_zero_on_the_masked_side(device):
    special = tg.tensor([np.nan, np.inf, -np.inf, 1.5], dtype=tg.float64, requires_grad=True,
                        device=device)
    special.nan_to_num().backward(tg.tensor([np.inf, np.nan, np.inf, 2.0], dtype=tg.float64,
                                            device=device))
    assert host(special.grad).tolist() == [0.0, 0.0, 0.0, 2.0]
    x = tg.tensor([0.0, 0.5], dtype=tg.float64, requires_grad=True, device=device)
    with np.errstate(invalid="ignore"):  # inf · 0 on the unselected side
        x.sinc().backward(tg.tensor([np.inf, 1.0], dtype=tg.float64, device=device))
    np.testing.assert_allclose(host(x.grad), [0.0, -4 / math.pi], rtol=1e-14)
    x.grad = None
    (first,) = tg.grad(x.sinc().sum(), x, create_graph=True)
    (second,) = tg.grad(first.sum(), x)
    assert np.isfinite(host(second)).all()                       # no 0/0 on the unselected side
    low = tg.tensor([-1.0, 0.5], dtype=tg.float64, requires_grad=True, device=device)
    tg.clamp_min(low, 0.0).backward(tg.tensor([np.inf, 3.0], dtype=tg.float64, device=device))
    assert host(low.grad).tolist() == [0.0, 3.0]


def test_xlogy_gradient_conventions(device):
    # d/dx = log y, but 0 where x = 0 and y ≤ 0 (whatever the upstream gradient);
    # d/dy = x / y (so NaN at x = y = 0, as PyTorch's)
    x = tg.tensor([0.0, 0.0, 0.0, 2.0], dtype=tg.float64, requires_grad=True, device=device)
    y = tg.tensor([0.0, -1.0, 3.0, 4.0], dtype=tg.float64, requires_grad=True, device=device)
    upstream = tg.tensor([np.inf, np.inf, 1.0, 1.0], dtype=tg.float64, device=device)
    with np.errstate(invalid="ignore", divide="ignore"):
        (grad_x,) = tg.grad(tg.xlogy(x, y), x, grad_outputs=upstream)
        (grad_y,) = tg.grad(tg.xlogy(x, y).sum(), y)
    np.testing.assert_allclose(host(grad_x), [0.0, 0.0, math.log(3.0), math.log(4.0)])
    assert np.isnan(host(grad_y)[0])
    np.testing.assert_allclose(host(grad_y)[1:], [0.0, 0.0, 0.5])
    # a zero upstream gradient gives 0 even where log y = −inf (xlogy(0, 0) = 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        (grad_x,) = tg.grad(tg.xlogy(x[3:], y[:1]), x, grad_outputs=tg.zeros(1,
                            dtype=tg.float64, device=device))
    assert host(grad_x).tolist() == [0.0, 0.0, 0.0, 0.0]


def test_heaviside_and_xor_have_no_gradient(device):
    x = tg.tensor([-1.0, 0.0, 2.0], requires_grad=True, device=device)
    assert not x.heaviside(tg.tensor([0.5], device=device)).requires_grad
    assert host(x.heaviside(tg.tensor([0.5], device=device))).tolist() == [0.0, 0.5, 1.0]


# --- operators ---

def test_floordiv_and_mod_operators_follow_python(device):
    pairs = [(a, b) for a in (-7.5, -3.0, -0.25, 0.0, 2.0, 7.5) for b in (-2.0, -0.5, 1.5, 4.0)]
    a = tg.tensor([p[0] for p in pairs], dtype=tg.float64, device=device)
    b = tg.tensor([p[1] for p in pairs], dtype=tg.float64, device=device)
    assert host(a // b).tolist() == [x // y for x, y in pairs]
    assert host(a % b).tolist() == [x % y for x, y in pairs]
    assert host(a.fmod(b)).tolist() == [math.fmod(x, y) for x, y in pairs]
    assert host(3.0 // b).tolist() == [3.0 // y for _, y in pairs]
    assert host(3.0 % b).tolist() == [3.0 % y for _, y in pairs]
    assert host(a // 2).tolist() == [x // 2 for x, _ in pairs]


def test_xor_operators(device):
    flags = tg.tensor([True, False, True], device=device)
    others = tg.tensor([True, True, False], device=device)
    assert host(flags ^ others).tolist() == [False, True, True]
    assert (flags ^ others).dtype == tg.bool_
    assert host(True ^ flags).tolist() == [False, True, False]
    ints = tg.tensor([5, 6, 12], device=device)
    assert host(ints ^ 3).tolist() == [6, 5, 15] and host(3 ^ ints).tolist() == [6, 5, 15]
    assert host(tg.bitwise_xor(ints, ints)).tolist() == [0, 0, 0]


def test_format_as_pytorch(device):
    scalar = tg.tensor(1.23456, device=device)
    assert f"{scalar:.2f}" == "1.23" and f"{scalar:>8.3f}" == "   1.235"
    assert f"{tg.tensor(7, device=device):03d}" == "007"
    assert f"{scalar}" == format(scalar.item())                 # PyTorch: the bare number
    vector = tg.tensor([1.5, 2.0], device=device)
    assert f"{vector}" == repr(vector) and "{}".format(vector) == repr(vector)
    with pytest.raises(TypeError):
        f"{vector:.2f}"
    with pytest.raises(TypeError):
        f"{tg.tensor([1.5], device=device):.2f}"                 # (PyTorch: only 0-d)


# --- errors ---

def test_errors_name_the_function(device):
    ints = tg.tensor([4, 5], device=device)
    with pytest.raises(ZeroDivisionError, match="floor_divide"):
        ints // tg.tensor([1, 0], device=device)
    with pytest.raises(ZeroDivisionError, match="remainder"):
        ints % 0
    with pytest.raises(ZeroDivisionError, match="fmod"):
        tg.fmod(ints, 0)
    with pytest.raises(TypeError, match="bitwise_xor.*float32"):
        tg.tensor([1.0], device=device) ^ tg.tensor([True], device=device)
    with pytest.raises(TypeError, match="tan: expected a Tensor, got float"):
        tg.tan(1.0)
    with pytest.raises(TypeError, match="fmod: expected a Tensor"):
        tg.fmod(2.0, 3.0)
    with pytest.raises(TypeError, match="decimals"):
        tg.tensor([1.5], device=device).round(decimals=1.5)
    with pytest.raises(TypeError, match="round: decimals=1 needs a floating-point"):
        ints.round(decimals=1)
    with pytest.raises(TypeError, match="heaviside.*float32 and float64"):
        tg.tensor([1.0], device=device).heaviside(tg.tensor([0.5], dtype=tg.float64,
                                                            device=device))
    with pytest.raises(ValueError, match=r"atan2: shapes \(2,\) and \(3,\)"):
        tg.atan2(tg.ones(2, device=device), tg.ones(3, device=device))
    with pytest.raises(ValueError, match="heaviside: shapes"):
        tg.heaviside(tg.ones(2, device=device), tg.ones(3, device=device))


def test_function_forms_and_aliases():
    for name in math_ops.__all__:
        assert getattr(tg, name) is getattr(math_ops, name), name
        assert callable(getattr(tg.Tensor, name)), name
    assert tg.arcsin is tg.asin and tg.arctan2 is tg.atan2 and tg.arctanh is tg.atanh
    assert tg.Tensor.log1p.__doc__ and tg.Tensor.__floordiv__ is math_ops.floor_divide
