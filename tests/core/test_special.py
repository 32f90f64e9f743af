"""Special functions and the other elementwise methods (ops/special.py), ``tg.special``
(tinygrad_opt/special.py) and the random factories normal, bernoulli, multinomial.

``SPECIAL_OPS`` is this file's op table (the lead joins it to test_two_modes.py's
TABLE): gradcheck, gradgradcheck and the two-path comparison run over it here, on
shapes drawn by hypothesis, with domains kept away from poles and kinks. Then: forward
values against references written here (Python's ``math``, NumPy's own functions,
exact identities: ψ(1) = −γ, ψ'(1) = π²/6, recurrences, reflections, integrals
computed by the trapezoid rule), PyTorch's values at the poles, dtypes, the indexed
writes, sampling statistics with fixed seeds, reproducibility, finfo/iinfo and errors.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.special as special
from test_ops_gradcheck import (NONZERO, Op, each, fixed, host, leaves, per_input, real, shapes,
                                with_zeros)
from test_ops_gradcheck import draw_domain as draw
from test_two_modes import assert_the_two_paths_agree
from tinygrad_opt.ops import special as special_ops

GAMMA = 0.5772156649015329  # Euler's constant
APERY = 1.2020569031595942  # ζ(3)


# --- input domains ---

def uniform(low, high):
    return each(lambda rng, shape: rng.uniform(low, high, shape))


def between_poles(rng, shape):
    """Negative and positive values at least 0.2 from every integer ≤ 0 (the poles of
    lgamma, digamma, polygamma)."""
    negative = -rng.integers(0, 4, shape) - rng.uniform(0.2, 0.8, shape)
    return np.where(rng.random(shape) < 0.5, negative, rng.uniform(0.2, 6.0, shape))


def bessel_inputs(rng, shape):
    """Both branches of the Bessel functions: |x| in [0.3, 4] (series) or [20.5, 23]
    (asymptotic), either sign (for the scaled ones, whose values are all below 1)."""
    size = np.where(rng.random(shape) < 0.6, rng.uniform(0.3, 4.0, shape),
                    rng.uniform(20.5, 23.0, shape))
    return size * rng.choice([-1.0, 1.0], shape)


def bessel_far(rng, shape):
    """|x| in [20.5, 23], either sign: the asymptotic branch alone (mixed with small x, the
    huge values of I₀ would drown the small ones in gradcheck's projected sum)."""
    return rng.uniform(20.5, 23.0, shape) * rng.choice([-1.0, 1.0], shape)


def rows_off_maxnorm(rng, shapes_drawn):
    """Rows (slices along dim 0) with 2-norms of 0.5 or 3 (maxnorm 1 is far from both)."""
    (shape,) = shapes_drawn
    x = rng.uniform(-2.0, 2.0, shape)
    norms = np.sqrt((x * x).reshape(shape[0], -1).sum(axis=1))
    targets = rng.choice([0.5, 3.0], shape[0])
    return [x * (targets / norms).reshape((-1,) + (1,) * (len(shape) - 1))]


def above_minus_one(rng, shape):
    return rng.uniform(-0.5, 2.0, shape)


def f64(values, device):
    return tg.tensor(np.asarray(values, dtype=np.float64), device=device)


def on_device(x, values):
    return tg.tensor(values, device=x.device)


SMALL = shapes(max_dims=2, max_side=3)  # the special functions are costly: small shapes

SPECIAL_OPS = [
    # the gamma family: each backward is the next function
    Op("lgamma", lambda x: x.lgamma(), 1, each(between_poles), SMALL),
    Op("digamma", lambda x: tg.digamma(x), 1, each(between_poles), SMALL),
    Op("polygamma_0", lambda x: tg.polygamma(0, x), 1, uniform(0.3, 5.0), SMALL),
    Op("polygamma_1", lambda x: x.polygamma(1), 1, each(between_poles), SMALL),
    Op("polygamma_3", lambda x: tg.polygamma(3, x), 1, uniform(0.5, 5.0), SMALL),
    Op("mvlgamma", lambda x: tg.mvlgamma(x, 3), 1, uniform(1.2, 4.0), SMALL),
    Op("gammaln", lambda x: special.gammaln(x), 1, uniform(0.2, 12.0), SMALL),
    Op("zeta_q", lambda q: special.zeta(3.0, q), 1, uniform(0.5, 3.0), SMALL),
    # error functions and the normal distribution
    Op("erfinv", lambda x: x.erfinv(), 1, uniform(-0.95, 0.95), SMALL),
    Op("erfc_accurate", lambda x: special.erfc(x), 1, uniform(-3.0, 5.0), SMALL),
    Op("erfcx", lambda x: special.erfcx(x), 1, uniform(-2.0, 5.0), SMALL),
    Op("ndtr", lambda x: special.ndtr(x), 1, uniform(-6.0, 6.0), SMALL),
    Op("log_ndtr", lambda x: special.log_ndtr(x), 1, uniform(-8.0, 6.0), SMALL),
    Op("ndtri", lambda p: special.ndtri(p), 1, uniform(0.02, 0.98), SMALL),
    # Bessel functions of order 0 and 1, plain and scaled
    Op("i0", lambda x: tg.i0(x), 1, uniform(-4.0, 4.0), SMALL),
    Op("i0_far", lambda x: x.i0(), 1, each(bessel_far), SMALL),
    Op("i1", lambda x: special.i1(x), 1, uniform(-4.0, 4.0), SMALL),
    Op("i1_far", lambda x: special.i1(x), 1, each(bessel_far), SMALL),
    Op("i0e", lambda x: special.i0e(x), 1, each(bessel_inputs), SMALL),
    Op("i1e", lambda x: special.i1e(x), 1, each(bessel_inputs), SMALL),
    # x·log terms
    Op("xlog1py", lambda a, b: special.xlog1py(a, b), 2, per_input(real, above_minus_one),
       SMALL),
    Op("xlog1py_at_zeros", lambda a, b: special.xlog1py(a, b), 2,
       per_input(with_zeros, above_minus_one), SMALL),
    Op("entr", lambda x: special.entr(x), 1, uniform(0.2, 3.0), SMALL),
    # composed elementwise functions
    Op("logaddexp", lambda a, b: tg.logaddexp(a, b), 2),
    Op("logaddexp2_method", lambda a, b: a.logaddexp2(b), 2),
    Op("copysign", lambda a, b: tg.copysign(a, b), 2, NONZERO),
    Op("sgn", lambda x: x.sgn(), 1, NONZERO),
    Op("addcmul", lambda a, b, c: tg.addcmul(a, b, c, value=0.5), 3),
    Op("addcdiv", lambda a, b, c: a.addcdiv(b, c, value=-2.0), 3,
       per_input(real, real, lambda rng, shape: rng.choice([-1, 1], shape)
                 * rng.uniform(0.5, 2.0, shape))),
    Op("float_power", lambda a, b: tg.float_power(a, b), 2,
       per_input(lambda rng, shape: rng.uniform(0.5, 2.0, shape), real)),
    Op("ldexp", lambda a, b: tg.ldexp(a, b), 2),
    Op("frexp_mantissa", lambda x: tg.frexp(x).mantissa, 1),
    Op("renorm_p2", lambda x: tg.renorm(x, 2, 0, 1.0), 1, rows_off_maxnorm,
       fixed(lambda n, m: [(n + 1, m + 1)], 2)),
    Op("renorm_p3_dim1", lambda x: x.transpose(0, 1).renorm(3, 1, 1.0), 1,
       lambda rng, s: [rows_off_maxnorm(rng, s)[0] * 0.8], fixed(lambda n, m: [(n + 1, m)], 2)),
    # windows and indexed writes
    Op("unfold_overlapping", lambda x: x.unfold(-1, 2, 1), 1,
       shapes=fixed(lambda n, m: [(n, m + 1)], 2)),
    Op("unfold_dim0_step2", lambda x: x.unfold(0, 2, 2) * 1.5, 1,
       shapes=fixed(lambda n, m: [(n + 1, m)], 2)),
    Op("index_put", lambda x, v: tg.index_put(x, (on_device(x, [0, -1]),), v), 2,
       shapes=fixed(lambda n, m: [(n + 1, m), (m,)], 2)),
    Op("index_put_accumulate_repeats",
       lambda x, v: x.index_put((on_device(x, [0, 0, -1]), on_device(x, [0, 0, 1])), v,
                                accumulate=True), 2,
       shapes=fixed(lambda n, m: [(n + 1, m + 1), (3,)], 2)),
    Op("put_accumulate", lambda x, v: x.put(on_device(x, [0, -1, 0]), v, accumulate=True), 2,
       shapes=fixed(lambda n, m: [(n, m + 1), (3,)], 2)),
    Op("index_put_bool_mask", lambda x, v: x.index_put((x.detach() > 0,), v.sum()), 2,
       shapes=fixed(lambda n, m: [(n, m), (m,)], 2)),
    # an order past ops/polynomials.py's COMPILED_FROM_ORDER: the compiled Recurrence op
    Op("legendre_compiled_order", lambda x: special.legendre_polynomial_p(x, 300), 1,
       uniform(-0.5, 0.5), SMALL),
]

SETTINGS = settings(max_examples=2, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
IDS = [op.name for op in SPECIAL_OPS]
FLOAT64_OUTPUT = {"float_power"}  # its result is float64 whatever the inputs


def test_table_names_are_unique():
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("op", SPECIAL_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradcheck(op, device, data):
    _, arrays = draw(op, data)
    assert tg.gradcheck(op.fn, leaves(arrays, device), **op.tolerance)


@pytest.mark.parametrize("op", SPECIAL_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradgradcheck(op, device, data):
    _, arrays = draw(op, data)
    assert tg.gradgradcheck(op.fn, leaves(arrays, device), **op.tolerance)


@pytest.mark.parametrize("op", SPECIAL_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    rng, arrays = draw(op, data)
    assert_the_two_paths_agree(op, arrays, rng, device,
                               same_output_dtype=op.name not in FLOAT64_OUTPUT)


@settings(max_examples=1, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_every_function_of_the_module_is_in_the_table(data):
    """Each Function subclass of ops/special.py makes a node of some entry's graph."""
    from tinygrad_opt.autograd.function import Function
    classes = {value for value in vars(special_ops).values()
               if isinstance(value, type) and issubclass(value, Function)
               and value.__module__ == special_ops.__name__}
    assert len(classes) >= 16
    rng, seen = np.random.default_rng(0), set()
    for op in SPECIAL_OPS:
        inputs = leaves(op.domain(rng, data.draw(op.shapes(op.arity), label=op.name)), "cpu")
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


# --- the gamma family: values ---

def by_element(function):
    return np.vectorize(function, otypes=[np.float64])


def test_lgamma_matches_math_lgamma(device):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(1e-3, 40, 400), -rng.uniform(0, 30, 200),
                        10.0 ** rng.uniform(-300, 300, 100), [0.5, 1.5, 2.5, 1e-310]])
    x = x[x != np.floor(x)]
    ours = host(tg.lgamma(tg.tensor(x, device=device)))
    # math.lgamma is accurate to ~1e-16 absolute near its zeros at 1 and 2
    np.testing.assert_allclose(ours, by_element(math.lgamma)(x), rtol=1e-13, atol=2e-15)


def test_lgamma_exact_values_and_poles(device):
    whole = np.arange(1.0, 25.0)
    x = tg.tensor(np.concatenate([whole, [0.5, -0.5, -1.5]]), device=device)
    exact = [math.log(math.factorial(n - 1)) for n in range(1, 25)]
    root_pi = math.sqrt(math.pi)  # Γ(½) = √π, Γ(−½) = −2√π, Γ(−3/2) = 4√π/3
    expected = exact + [math.log(root_pi), math.log(2 * root_pi), math.log(4 * root_pi / 3)]
    np.testing.assert_allclose(host(tg.lgamma(x)), expected, rtol=1e-15, atol=1e-15)
    poles = tg.tensor([0.0, -0.0, -1.0, -7.0, -np.inf, np.inf, np.nan], device=device)
    np.testing.assert_array_equal(host(tg.lgamma(poles)),
                                  [np.inf, np.inf, np.inf, np.inf, np.inf, np.inf, np.nan])


def harmonic(n):
    return float(sum(Fraction(1, k) for k in range(1, n + 1)))


def test_digamma_identities(device):
    n = np.arange(0, 30)
    x = tg.tensor(np.concatenate([n + 1.0, n + 0.5]), device=device)
    # ψ(n + 1) = −γ + H_n,   ψ(n + ½) = −γ − 2 ln 2 + Σ_{k=1}^{n} 2/(2k − 1)
    halves = [-GAMMA - 2 * math.log(2) + float(sum(Fraction(2, 2 * k - 1)
                                                   for k in range(1, m + 1))) for m in n]
    expected = [-GAMMA + harmonic(m) for m in n] + halves
    np.testing.assert_allclose(host(tg.digamma(x)), expected, rtol=1e-14)


def test_digamma_reflection_recurrence_and_finite_differences(device):
    rng = np.random.default_rng(1)
    x = rng.uniform(-12, 12, 300)
    x = x[np.abs(x - np.round(x)) > 0.05]
    psi = host(tg.digamma(tg.tensor(x, device=device)))
    psi_next = host(tg.digamma(tg.tensor(x + 1, device=device)))
    np.testing.assert_allclose(psi_next - psi, 1 / x, rtol=1e-12, atol=1e-13)
    psi_reflected = host(tg.digamma(tg.tensor(1 - x, device=device)))
    np.testing.assert_allclose(psi_reflected - psi, math.pi / np.tan(math.pi * x),
                               rtol=1e-11, atol=1e-12)
    # d/dx log|Γ(x)| by a fourth-order central difference of math.lgamma
    x = x[np.abs(x - np.round(x)) > 0.25]  # the error h⁴·ψ⁽⁵⁾/30 stays below 1e-8 there
    psi = host(tg.digamma(tg.tensor(x, device=device)))
    h = 1e-3
    lg = by_element(math.lgamma)
    derivative = (lg(x - 2 * h) - 8 * lg(x - h) + 8 * lg(x + h) - lg(x + 2 * h)) / (12 * h)
    np.testing.assert_allclose(psi, derivative, rtol=1e-8, atol=1e-8)


def test_digamma_and_polygamma_at_the_poles_as_pytorch(device):
    x = tg.tensor([0.0, -0.0, -1.0, -4.0, -np.inf, np.inf], device=device)
    np.testing.assert_array_equal(host(tg.digamma(x)),
                                  [-np.inf, np.inf, np.nan, np.nan, np.nan, np.inf])
    zero = tg.tensor([0.0, -2.0], device=device)
    np.testing.assert_array_equal(host(tg.polygamma(1, zero)), [np.inf, np.inf])
    np.testing.assert_array_equal(host(tg.polygamma(2, zero)), [-np.inf, -np.inf])


def test_polygamma_known_values(device):
    one_half = f64([1.0, 0.5], device)
    pi = math.pi
    # ψ'(1) = π²/6, ψ'(½) = π²/2;  ψ''(1) = −2ζ(3), ψ''(½) = −14ζ(3);
    # ψ'''(1) = π⁴/15;  ψ⁽⁵⁾(1) = 5!·ζ(6) = 120·π⁶/945
    np.testing.assert_allclose(host(tg.polygamma(1, one_half)), [pi**2 / 6, pi**2 / 2],
                               rtol=1e-15)
    np.testing.assert_allclose(host(one_half.polygamma(2)), [-2 * APERY, -14 * APERY],
                               rtol=1e-15)
    np.testing.assert_allclose(host(tg.polygamma(3, one_half[:1])), [pi**4 / 15], rtol=1e-15)
    np.testing.assert_allclose(host(tg.polygamma(5, one_half[:1])), [120 * pi**6 / 945],
                               rtol=1e-15)
    # ψ'(n + 1) = π²/6 − Σ_{k≤n} 1/k²
    n = np.arange(1, 40)
    expected = [pi**2 / 6 - float(sum(Fraction(1, k * k) for k in range(1, m + 1))) for m in n]
    np.testing.assert_allclose(host(tg.polygamma(1, tg.tensor(n + 1.0, device=device))),
                               expected, rtol=1e-14)


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_polygamma_recurrence(n, device):
    """ψ⁽ⁿ⁾(x + 1) = ψ⁽ⁿ⁾(x) + (−1)ⁿ·n!/xⁿ⁺¹, negative x included."""
    rng = np.random.default_rng(n)
    x = np.concatenate([rng.uniform(0.05, 30, 100), between_poles(rng, (60,))])
    now = host(tg.polygamma(n, tg.tensor(x, device=device)))
    after = host(tg.polygamma(n, tg.tensor(x + 1, device=device)))
    step = (-1) ** n * math.factorial(n) / x ** (n + 1)
    scale = np.abs(after) + np.abs(now) + np.abs(step)
    assert (np.abs(after - (now + step)) <= 1e-13 * scale).all()


def test_zeta_values(device):
    pi = math.pi
    s = f64([2.0, 4.0, 2.0, 3.0, 1.0, 0.5], device)
    q = f64([1.0, 1.0, 0.5, 1.0, 2.0, 1.0], device)
    np.testing.assert_allclose(host(special.zeta(s, q)),
                               [pi**2 / 6, pi**4 / 90, pi**2 / 2, APERY, np.inf, np.nan],
                               rtol=1e-15)
    rng = np.random.default_rng(3)
    s, q = rng.uniform(1.1, 12, 50), rng.uniform(0.1, 20, 50)
    # ζ(s, q) − ζ(s, q + 1) = q^(−s)
    difference = host(special.zeta(tg.tensor(s, device=device), tg.tensor(q, device=device))
                      - special.zeta(tg.tensor(s, device=device),
                                     tg.tensor(q + 1, device=device)))
    np.testing.assert_allclose(difference, q ** -s, rtol=1e-11)
    assert special.zeta(2.0, tg.tensor([1.0], device=device)).shape == (1,)
    by_number = special.zeta(f64([2.0, 4.0, np.nan], device), 1.0)  # q: a 0-d operand
    np.testing.assert_allclose(host(by_number), [pi**2 / 6, pi**4 / 90, np.nan], rtol=1e-15)
    assert np.isnan(host(tg.polygamma(2, f64([np.nan], device)))).all()


def test_mvlgamma_is_the_sum_of_lgammas(device):
    x = np.array([1.6, 2.0, 3.7, 10.0])
    expected = [3 / 2 * math.log(math.pi) + sum(math.lgamma(v - i / 2) for i in range(3))
                for v in x]
    np.testing.assert_allclose(host(tg.mvlgamma(tg.tensor(x, device=device), 3)), expected,
                               rtol=1e-13)
    assert special.multigammaln is tg.mvlgamma
    with pytest.raises(ValueError, match=r"greater than \(p-1\)/2"):
        tg.tensor([0.9, 2.0], device=device).mvlgamma(3)
    with pytest.raises(ValueError, match="p must be an int >= 1"):
        tg.mvlgamma(tg.tensor([2.0]), 0)


def test_gamma_family_gradients_by_hand(device):
    x = tg.tensor([0.5, 1.0, 3.0], dtype=tg.float64, requires_grad=True, device=device)
    (first,) = tg.grad(tg.lgamma(x).sum(), x, create_graph=True)
    pi = math.pi
    np.testing.assert_allclose(host(first), [-GAMMA - 2 * math.log(2), -GAMMA, 1.5 - GAMMA],
                               rtol=1e-14)
    (second,) = tg.grad(first.sum(), x, create_graph=True)  # trigamma
    np.testing.assert_allclose(host(second), [pi**2 / 2, pi**2 / 6, pi**2 / 6 - 1.25],
                               rtol=1e-14)
    (third,) = tg.grad(second.sum(), x)  # ψ''
    np.testing.assert_allclose(host(third)[1], -2 * APERY, rtol=1e-14)


# --- error functions, the normal distribution ---

def test_erfinv_inverts_math_erf(device):
    rng = np.random.default_rng(4)
    y = np.concatenate([rng.uniform(-1, 1, 500), 10.0 ** -rng.uniform(1, 300, 50)])
    x = host(tg.erfinv(tg.tensor(y, device=device)))
    np.testing.assert_allclose(by_element(math.erf)(x), y, rtol=1e-15, atol=3e-16)
    near_one = 1 - 10.0 ** -np.arange(1, 16)  # erfc(erfinv(y)) = 1 − y, exact here
    x = host(tg.tensor(np.concatenate([near_one, -near_one]), device=device).erfinv())
    np.testing.assert_allclose(by_element(math.erfc)(x[:15]), 1 - near_one, rtol=1e-13)
    np.testing.assert_allclose(x[15:], -x[:15], rtol=0)
    known = f64([0.5, 0.0, 1.0, -1.0, 1.5, np.nan], device).erfinv()
    np.testing.assert_allclose(host(known), [0.4769362762044699, 0.0, np.inf, -np.inf,
                                             np.nan, np.nan], rtol=1e-15)


def test_erfinv_gradient_by_hand(device):
    x = tg.tensor([-0.9, 0.0, 0.3, 0.99], dtype=tg.float64, requires_grad=True, device=device)
    y = tg.erfinv(x)
    y.sum().backward()
    expected = math.sqrt(math.pi) / 2 * np.exp(host(y) ** 2)
    np.testing.assert_allclose(host(x.grad), expected, rtol=1e-15)


def test_erfc_and_erfcx_keep_their_digits_in_the_tail(device):
    x = np.concatenate([np.linspace(-6, 27, 331), [-np.inf, np.inf, 40.0]])
    np.testing.assert_allclose(host(special.erfc(tg.tensor(x, device=device))),
                               by_element(math.erfc)(x), rtol=1e-13, atol=0)
    moderate = np.linspace(-5, 9, 141)
    expected = np.exp(moderate ** 2) * by_element(math.erfc)(moderate)
    np.testing.assert_allclose(host(special.erfcx(tg.tensor(moderate, device=device))),
                               expected, rtol=1e-12)
    large = np.array([1e2, 1e4, 1e8])  # erfcx(x) = (1 − 1/(2x²) + 3/(4x⁴) − …) / (x√π)
    u = 1 / (2 * large**2)
    asymptotic = (1 - u + 3 * u**2 - 15 * u**3 + 105 * u**4) / (large * math.sqrt(math.pi))
    np.testing.assert_allclose(host(special.erfcx(tg.tensor(large, device=device))),
                               asymptotic, rtol=1e-13)
    assert special.erfc(tg.tensor([10.0], device=device)).item() > 0  # 1 − erf(10) is 0


def asymptotic_tail(x):
    """−1/x² + 3/x⁴ − 15/x⁶ + 105/x⁸ − 945/x¹⁰: Φ(x) = φ(x)/(−x)·(1 + this) for x → −∞."""
    return sum((-1) ** k * math.prod(range(1, 2 * k, 2)) / x ** (2 * k) for k in range(1, 6))


def test_ndtr_and_log_ndtr(device):
    x = np.linspace(-30, 8, 381)
    phi = 0.5 * by_element(math.erfc)(-x / math.sqrt(2))
    np.testing.assert_allclose(host(special.ndtr(tg.tensor(x, device=device))), phi,
                               rtol=1e-12)
    log_phi = np.where(x > 0, np.log1p(-0.5 * by_element(math.erfc)(x / math.sqrt(2))),
                       np.log(phi))  # (log of a number near 1 would lose its digits)
    np.testing.assert_allclose(host(special.log_ndtr(tg.tensor(x, device=device))),
                               log_phi, rtol=1e-12)
    # far below, Φ underflows: log Φ(x) = −x²/2 − log(−x) − log √(2π) + log(1 − 1/x² + 3/x⁴)
    far = np.array([-40.0, -1e3, -1e5, -1e150])
    expected = (-far**2 / 2 - np.log(-far) - 0.5 * math.log(2 * math.pi)
                + np.log1p(asymptotic_tail(far)))
    np.testing.assert_allclose(host(special.log_ndtr(tg.tensor(far, device=device))),
                               expected, rtol=1e-14)
    up = special.log_ndtr(f64([10.0, 40.0, np.inf, -np.inf], device))
    np.testing.assert_allclose(host(up), [-0.5 * math.erfc(10 / math.sqrt(2)), 0.0, 0.0,
                                          -np.inf], rtol=1e-13)


def test_log_ndtr_gradient_far_below(device):
    """d/dx log Φ(x) = φ(x)/Φ(x) ≈ −x·(1 + 1/x² − …)⁻¹… ≈ −x for very negative x."""
    x = tg.tensor([-50.0, -1e4], dtype=tg.float64, requires_grad=True, device=device)
    special.log_ndtr(x).sum().backward()
    value = np.array([-50.0, -1e4])
    mills = -value / (1 + asymptotic_tail(value))
    np.testing.assert_allclose(host(x.grad), mills, rtol=1e-12)


def test_ndtri_inverts_the_normal_distribution(device):
    p = np.concatenate([np.linspace(0.001, 0.999, 199), 10.0 ** -np.arange(4, 300, 7.0)])
    x = host(special.ndtri(tg.tensor(p, device=device)))
    back = 0.5 * by_element(math.erfc)(-x / math.sqrt(2))
    np.testing.assert_allclose(back, p, rtol=5e-13)  # (erfc of the rounded x/√2: ~x²·1e-16)
    known = special.ndtri(f64([0.975, 0.5, 0.0, 1.0, -0.1, 0.8413447460685429, np.nan],
                              device))
    np.testing.assert_allclose(host(known), [1.959963984540054, 0.0, -np.inf, np.inf, np.nan,
                                             1.0, np.nan], rtol=1e-14, atol=1e-15)


def test_xlog1py_and_entr(device):
    a = tg.tensor([0.0, 0.0, 2.0, -1.5, 0.0], device=device)
    b = tg.tensor([-1.0, np.nan, 0.5, 3.0, 2.0], device=device)
    np.testing.assert_allclose(host(special.xlog1py(a, b)),
                               [0.0, np.nan, 2 * math.log1p(0.5), -1.5 * math.log(4), 0.0])
    x = tg.tensor([0.0, 0.5, 2.0, -1.0], dtype=tg.float64, requires_grad=True, device=device)
    y = special.entr(x)
    np.testing.assert_allclose(host(y), [0.0, 0.5 * math.log(2), -2 * math.log(2), -np.inf])
    (y * tg.tensor([1.0, 1.0, 1.0, 0.0], device=device, dtype=tg.float64)).sum().backward()
    grad = host(x.grad)  # −(1 + log x): +inf at 0 (PyTorch's), NaN·0 below
    assert grad[0] == np.inf
    np.testing.assert_allclose(grad[1:3], [-(1 + math.log(0.5)), -(1 + math.log(2.0))])


# --- Bessel functions ---

def bessel_by_quadrature(order, x, scaled):
    """(1/π)∫₀^π e^(x·cos t − s)·cos(νt) dt with s = |x| when scaled, by the trapezoid
    rule (spectrally accurate: the integrand is smooth, even and 2π-periodic)."""
    t = np.linspace(0, np.pi, 801)
    shift = np.abs(x)[:, None] if scaled else 0.0
    values = np.exp(x[:, None] * np.cos(t) - shift) * np.cos(order * t)
    weights = np.full(t.size, 1.0)
    weights[[0, -1]] = 0.5
    return (values * weights).sum(axis=1) * (t[1] - t[0]) / np.pi


@pytest.mark.parametrize("name, order, scaled", [("i0", 0, False), ("i1", 1, False),
                                                  ("i0e", 0, True), ("i1e", 1, True)])
def test_bessel_functions_match_quadrature(name, order, scaled, device):
    x = np.concatenate([np.linspace(-60, 60, 241), [0.0, 0.01, 19.999, 20.001]])
    ours = host(getattr(special, name)(tg.tensor(x, device=device)))
    np.testing.assert_allclose(ours, bessel_by_quadrature(order, x, scaled), rtol=1e-13,
                               atol=1e-300)
    tiny = np.array([1e-8, -1e-300])
    ours = host(getattr(special, name)(f64(tiny, device)))
    expected = np.ones(2) if order == 0 else tiny / 2  # 1 + x²/4 + …, x/2 + x³/16 + …
    np.testing.assert_allclose(ours, expected * (np.exp(-np.abs(tiny)) if scaled else 1),
                               rtol=1e-15)


def test_i0_matches_numpy_and_overflows_like_pytorch(device):
    x = np.linspace(-700, 700, 701)
    np.testing.assert_allclose(host(tg.i0(tg.tensor(x, device=device))), np.i0(x),
                               rtol=1e-13)
    big = f64([800.0, -800.0], device)
    np.testing.assert_array_equal(host(tg.i0(big)), [np.inf, np.inf])
    # i0e(x) = (1 + Σₖ Π_{j≤k} (2j − 1)²/(8j·x)) / √(2πx), asymptotically
    series = 1 + sum(math.prod((2 * j - 1) ** 2 / (8 * j * 800) for j in range(1, k + 1))
                     for k in range(1, 8))
    np.testing.assert_allclose(host(special.i0e(big)), series / np.sqrt(2 * np.pi * 800),
                               rtol=1e-15)
    assert tg.special.i0 is tg.i0


def test_bessel_gradients_at_zero_and_by_hand(device):
    x = tg.tensor([0.0, 1.0, -2.0], dtype=tg.float64, requires_grad=True, device=device)
    (grad_i1,) = tg.grad(special.i1(x).sum(), x)
    (grad_i1e,) = tg.grad(special.i1e(x).sum(), x)
    (grad_i0,) = tg.grad(tg.i0(x).sum(), x)
    values = np.array([0.0, 1.0, -2.0])
    i0, i1 = (bessel_by_quadrature(n, values, False) for n in (0, 1))
    np.testing.assert_allclose(host(grad_i0), i1, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(host(grad_i1), [0.5, i0[1] - i1[1], i0[2] - i1[2] / -2.0],
                               rtol=1e-14)
    scale = np.exp(-np.abs(values))
    expected = scale * i0 - scale * i1 * (np.sign(values) + 1 / np.where(values, values, 1))
    expected[0] = 0.5
    np.testing.assert_allclose(host(grad_i1e), expected, rtol=1e-14)


# --- dtypes and the tg.special namespace ---

FLOAT_VALUED = [
    ("lgamma", tg.lgamma), ("digamma", tg.digamma), ("polygamma", lambda x: tg.polygamma(2, x)),
    ("erfinv", tg.erfinv), ("i0", tg.i0), ("i0e", special.i0e), ("i1", special.i1),
    ("i1e", special.i1e), ("erfc", special.erfc), ("erfcx", special.erfcx),
    ("ndtr", special.ndtr), ("log_ndtr", special.log_ndtr), ("ndtri", special.ndtri),
    ("entr", special.entr), ("expit", special.expit), ("mvlgamma", lambda x: x.mvlgamma(1)),
    ("logaddexp", lambda x: tg.logaddexp(x, x)), ("copysign", lambda x: tg.copysign(x, -1)),
    ("ldexp", lambda x: tg.ldexp(x, x)), ("xlog1py", lambda x: special.xlog1py(x, x)),
]


@pytest.mark.parametrize("name, function", FLOAT_VALUED, ids=[f[0] for f in FLOAT_VALUED])
def test_integer_inputs_give_float32_and_floats_keep_their_dtype(name, function, device):
    integers = tg.tensor([1, 2, 3], device=device)
    assert integers.dtype == tg.int64
    assert function(integers).dtype == tg.float32
    for dtype in (tg.float32, tg.float64):
        assert function(tg.tensor([0.25, 0.5], dtype=dtype, device=device)).dtype == dtype
    # float32 is computed in float64 and rounded once
    x = np.array([0.25, 0.5], dtype=np.float32)
    ours = host(function(tg.tensor(x, device=device)))
    exact = host(function(tg.tensor(x.astype(np.float64), device=device)))
    np.testing.assert_allclose(ours, exact.astype(np.float32), rtol=2e-7)


def test_special_namespace_names():
    expected = {"erf", "erfc", "erfinv", "expit", "logit", "xlogy", "xlog1py", "gammaln",
                "digamma", "psi", "polygamma", "multigammaln", "i0", "i0e", "i1", "i1e",
                "ndtr", "ndtri", "log_ndtr", "entr", "sinc", "round", "exp2", "expm1",
                "log1p", "logsumexp", "softmax", "log_softmax", "zeta", "erfcx"}
    assert expected <= set(special.__all__)
    for name in special.__all__:
        assert (getattr(special, name).__doc__ or "").strip(), name
    assert special.psi is special.digamma is tg.digamma and special.gammaln is tg.lgamma
    assert special.erf is tg.erf and special.xlogy is tg.xlogy and special.round is tg.round
    assert tg.special is special


def test_special_softmax_logsumexp_expit(device):
    x = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    t = tg.tensor(x, device=device)
    softmax = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(host(special.softmax(t, 1)), softmax, rtol=1e-14)
    np.testing.assert_allclose(host(special.log_softmax(t, dim=1)), np.log(softmax),
                               rtol=1e-14)
    assert special.softmax(t, 0, dtype=tg.float32).dtype == tg.float32
    np.testing.assert_allclose(host(special.logsumexp(t, 0)),
                               np.log(np.exp(x).sum(axis=0)), rtol=1e-14)
    np.testing.assert_allclose(host(special.expit(t)), 1 / (1 + np.exp(-x)), rtol=1e-14)


# --- the other elementwise functions ---

def test_logaddexp_values_infinities_and_ties(device):
    a = np.array([1.0, -1000.0, 800.0, -np.inf, np.inf, 0.5, 2.0])
    b = np.array([2.0, -1000.5, 700.0, -np.inf, np.inf, -np.inf, 2.0])
    ta, tb = (tg.tensor(v, device=device) for v in (a, b))
    np.testing.assert_allclose(host(tg.logaddexp(ta, tb)), np.logaddexp(a, b), rtol=1e-15)
    np.testing.assert_allclose(host(ta.logaddexp2(tb)), np.logaddexp2(a, b), rtol=1e-15)
    x = tg.tensor([3.0, -2.0], dtype=tg.float64, requires_grad=True, device=device)
    y = tg.tensor([3.0, 1.0], dtype=tg.float64, requires_grad=True, device=device)
    tg.logaddexp(x, y).sum().backward()
    sigma = 1 / (1 + math.exp(3.0))  # σ(−2 − 1)
    np.testing.assert_allclose(host(x.grad), [0.5, sigma], rtol=1e-15)
    np.testing.assert_allclose(host(y.grad), [0.5, 1 - sigma], rtol=1e-15)


def test_copysign_sgn_signbit_nextafter(device):
    a = np.array([1.5, -2.0, 0.0, 3.0, -0.0])
    b = np.array([-1.0, 2.0, -3.0, -0.0, 5.0])
    x = tg.tensor(a, requires_grad=True, device=device)
    other = tg.tensor(b, requires_grad=True, device=device)
    y = tg.copysign(x, other)
    np.testing.assert_array_equal(host(y), np.copysign(a, b))
    np.testing.assert_array_equal(np.signbit(host(y)), np.signbit(np.copysign(a, b)))
    y.sum().backward()
    np.testing.assert_array_equal(host(x.grad), [-1.0, -1.0, 0.0, -1.0, 0.0])
    np.testing.assert_array_equal(host(other.grad), np.zeros(5))
    np.testing.assert_array_equal(host(tg.copysign(tg.tensor([2, -3], device=device), 1.0)),
                                  [2.0, 3.0])
    s = tg.tensor([-2.0, -0.0, 0.0, 5.0, np.nan], device=device)
    np.testing.assert_array_equal(host(s.sgn()), [-1.0, 0.0, 0.0, 1.0, np.nan])
    np.testing.assert_array_equal(host(tg.signbit(s)), [True, True, False, False, False])
    assert tg.signbit(tg.tensor([-1, 2], device=device)).dtype == tg.bool_
    step = tg.nextafter(f64([1.0, 1.0], device), f64([2.0, 0.0], device))
    np.testing.assert_array_equal(host(step), np.nextafter([1.0, 1.0], [2.0, 0.0]))
    assert not tg.nextafter(x, 2.0).requires_grad
    with pytest.raises(TypeError, match="nextafter: expects float tensors"):
        tg.nextafter(tg.tensor([1, 2], device=device), 3)


def test_ldexp_frexp_float_power(device):
    x = np.array([0.75, -3.0, 0.0, 1e-310, 6e5])
    e = np.array([2, -1, 5, 3, -20])
    np.testing.assert_array_equal(host(tg.ldexp(tg.tensor(x, device=device),
                                                tg.tensor(e, device=device))), np.ldexp(x, e))
    mantissa, exponent = tg.frexp(tg.tensor(x, device=device))
    np.testing.assert_array_equal(host(mantissa), np.frexp(x)[0])
    np.testing.assert_array_equal(host(exponent), np.frexp(x)[1])
    assert exponent.dtype == tg.int32 and not exponent.requires_grad
    t = tg.tensor([3.0, -0.3], dtype=tg.float64, requires_grad=True, device=device)
    tg.frexp(t).mantissa.sum().backward()
    np.testing.assert_array_equal(host(t.grad), [0.25, 2.0])  # 2^(−exponent)
    with pytest.raises(TypeError, match="frexp: only floating-point"):
        tg.frexp(tg.tensor([1, 2], device=device))
    power = tg.float_power(tg.tensor([2, 3], device=device), 0.5)
    assert power.dtype == tg.float64
    np.testing.assert_allclose(host(power), np.sqrt([2.0, 3.0]), rtol=1e-16)
    np.testing.assert_allclose(host(tg.float_power(2, tg.tensor([0.5], device=device))),
                               [math.sqrt(2)], rtol=1e-16)
    assert tg.tensor([1.5], device=device).float_power(2).dtype == tg.float64


def test_addcmul_addcdiv(device):
    a, b, c = (np.array(v) for v in ([1.0, 2.0], [[3.0], [4.0]], [0.5, -2.0]))
    ta, tb, tc = (tg.tensor(v, device=device) for v in (a, b, c))
    np.testing.assert_allclose(host(tg.addcmul(ta, tb, tc, value=2)), a + 2 * b * c)
    np.testing.assert_allclose(host(ta.addcdiv(tb, tc, value=-0.5)), a - 0.5 * b / c)
    y = tg.tensor([1.0, 1.0], device=device)
    assert y.addcmul_(tc, tc, value=2) is y
    np.testing.assert_allclose(host(y), [1.5, 9.0])
    with pytest.raises(RuntimeError, match="addcdiv: integer division"):
        tg.addcdiv(ta, tg.tensor([1, 2], device=device), tg.tensor([3, 4], device=device))


def test_renorm_values(device):
    x = np.array([[3.0, 4.0], [0.3, 0.4], [-6.0, 8.0]])
    ours = host(tg.renorm(tg.tensor(x, device=device), 2, 0, 1.0))
    norms = np.sqrt((x**2).sum(axis=1, keepdims=True))
    expected = np.where(norms > 1.0, x / (norms + 1e-7), x)
    np.testing.assert_allclose(ours, expected, rtol=1e-15)
    columns = host(tg.tensor(x, device=device).renorm(1, 1, 5.0))
    sums = np.abs(x).sum(axis=0, keepdims=True)
    np.testing.assert_allclose(columns, np.where(sums > 5, x * 5 / (sums + 1e-7), x))
    infinite = host(tg.renorm(tg.tensor(x, device=device), math.inf, 0, 2.0))
    top = np.abs(x).max(axis=1, keepdims=True)
    np.testing.assert_allclose(infinite, np.where(top > 2, x * 2 / (top + 1e-7), x))
    with pytest.raises(ValueError, match="renorm: input needs at least 2 dims"):
        tg.renorm(tg.tensor([1.0], device=device), 2, 0, 1.0)
    with pytest.raises(ValueError, match="renorm: p must be > 0"):
        tg.renorm(tg.tensor(x, device=device), 0, 0, 1.0)


# --- unfold and the indexed writes ---

def test_unfold_windows_and_gradient_counts(device):
    x = np.arange(24.0).reshape(2, 12)
    t = tg.tensor(x, requires_grad=True, device=device)
    windows = t.unfold(1, 4, 3)
    expected = np.lib.stride_tricks.sliding_window_view(x, 4, axis=1)[:, ::3]
    assert windows.shape == (2, 3, 4)
    np.testing.assert_array_equal(host(windows), expected)
    t.unfold(1, 3, 1).sum().backward()  # element j is in min(j + 1, 3, 12 − j) windows
    counts = [min(j + 1, 3, 12 - j) for j in range(12)]
    np.testing.assert_array_equal(host(t.grad), [counts, counts])
    cube = tg.tensor(np.arange(30.0).reshape(5, 3, 2), device=device)
    assert cube.unfold(0, 2, 2).shape == (2, 3, 2, 2)
    np.testing.assert_array_equal(host(cube.unfold(0, 2, 2))[1, :, :, 0],
                                  np.arange(30.0).reshape(5, 3, 2)[2])
    with pytest.raises(ValueError, match="unfold: maximum size"):
        t.unfold(0, 3, 1)
    with pytest.raises(ValueError, match="unfold: step must be > 0"):
        t.unfold(1, 2, 0)


def test_index_put_and_put(device):
    base = np.arange(12.0).reshape(3, 4)
    rows, columns = tg.tensor([0, 2, 0], device=device), tg.tensor([1, 3, 1], device=device)
    x = tg.tensor(base, device=device)
    assert x.index_put_((rows, columns), tg.tensor([10.0, 20.0, 30.0], dtype=tg.float64,
                                                   device=device), accumulate=True) is x
    expected = base.copy()
    np.add.at(expected, ([0, 2, 0], [1, 3, 1]), [10.0, 20.0, 30.0])
    np.testing.assert_array_equal(host(x), expected)
    y = tg.index_put(tg.tensor(base, device=device), (tg.tensor([1], device=device),),
                     tg.tensor(-1.0, dtype=tg.float64, device=device))
    np.testing.assert_array_equal(host(y), np.where(np.arange(3)[:, None] == 1, -1, base))
    z = tg.tensor(base, device=device)
    z.put_(tg.tensor([0, -1, 5, 0], device=device),
           tg.tensor([1.0, 2.0, 3.0, 4.0], dtype=tg.float64, device=device), accumulate=True)
    flat = base.ravel().copy()
    np.add.at(flat, [0, -1, 5, 0], [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(host(z), flat.reshape(3, 4))
    w = tg.put(tg.tensor(base, device=device), tg.tensor([[1, 2]], device=device),
               tg.tensor([7.0, 8.0], dtype=tg.float64, device=device))
    np.testing.assert_array_equal(host(w).ravel()[:3], [0.0, 7.0, 8.0])
    with pytest.raises(IndexError, match="put_: index out of range"):
        w.put_(tg.tensor([12], device=device), tg.tensor([1.0], dtype=tg.float64,
                                                         device=device))
    with pytest.raises(ValueError, match="as many elements"):
        w.put_(tg.tensor([1, 2], device=device), tg.tensor([1.0], dtype=tg.float64,
                                                           device=device))
    with pytest.raises(TypeError, match="index_put_: indices must be a tuple"):
        w.index_put_(tg.tensor([1], device=device), tg.tensor(1.0, device=device))


def test_index_put_gradients(device):
    x = tg.tensor(np.ones((3, 2)), requires_grad=True, device=device)
    v = tg.tensor([5.0, 6.0], dtype=tg.float64, requires_grad=True, device=device)
    index = (tg.tensor([0, 0], device=device), tg.tensor([1, 1], device=device))
    (x.index_put(index, v, accumulate=True) * 3).sum().backward()
    np.testing.assert_array_equal(host(x.grad), np.full((3, 2), 3.0))
    np.testing.assert_array_equal(host(v.grad), [3.0, 3.0])  # each repeat gets its gradient
    x.grad = v.grad = None
    (x.index_put((tg.tensor([2], device=device),), v) * 2).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [[2.0, 2.0], [2.0, 2.0], [0.0, 0.0]])
    np.testing.assert_array_equal(host(v.grad), [2.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf"):
        x.index_put_(index, v)


def test_index_put_takes_none_for_a_whole_dim(device):
    """PyTorch's indices are ``Tensor?[]``: None stands for ``:``. With W = arange(12),
    x.index_put((None, [0, 2]), v) writes v's columns into columns 0 and 2 (their
    gradient 0 there), accumulate=True adds both of v's columns into column 1."""
    a = tg.tensor(np.zeros((3, 4)), requires_grad=True, device=device)
    v = tg.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True, device=device)
    w = tg.tensor(np.arange(12.0).reshape(3, 4), device=device)
    written = a.index_put((None, tg.tensor([0, 2], device=device)), v)
    added = a.index_put((None, tg.tensor([1, 1], device=device)), v, accumulate=True)
    np.testing.assert_array_equal(host(written), [[0, 0, 1, 0], [2, 0, 3, 0], [4, 0, 5, 0]])
    np.testing.assert_array_equal(host(added), [[0, 1, 0, 0], [0, 5, 0, 0], [0, 9, 0, 0]])
    ((written + added) * w).sum().backward()
    np.testing.assert_array_equal(host(a.grad), [[0, 2, 2, 6], [4, 10, 6, 14], [8, 18, 10, 22]])
    np.testing.assert_array_equal(host(v.grad), [[1, 3], [9, 11], [17, 19]])


# --- random factories ---

def test_normal_overloads_and_statistics(device):
    tg.manual_seed(5)
    samples = host(tg.normal(2.0, 3.0, (200_000,), device=device))
    assert samples.dtype == np.float32
    assert abs(samples.mean() - 2.0) < 0.03 and abs(samples.std() - 3.0) < 0.03
    mean = tg.tensor([-5.0, 0.0, 5.0], device=device)
    std = tg.tensor([[0.5, 1.0, 2.0]], device=device).expand(100_000, 3)
    draws = host(tg.normal(mean, std))
    assert draws.shape == (100_000, 3)
    np.testing.assert_allclose(draws.mean(axis=0), [-5.0, 0.0, 5.0], atol=0.03)
    np.testing.assert_allclose(draws.std(axis=0), [0.5, 1.0, 2.0], rtol=0.02)
    exact = host(tg.normal(mean, 0.0))
    np.testing.assert_array_equal(exact, [-5.0, 0.0, 5.0])
    around = host(tg.normal(1.0, tg.full((50_000,), 0.1, device=device)))
    assert abs(around.mean() - 1.0) < 0.003 and abs(around.std() - 0.1) < 0.003
    assert not tg.normal(mean.requires_grad_(), 1.0).requires_grad
    with pytest.raises(ValueError, match="std >= 0"):
        tg.normal(mean, -1.0)
    with pytest.raises(TypeError, match="give size"):
        tg.normal(0.0, 1.0)


def test_bernoulli_frequencies(device):
    tg.manual_seed(6)
    p = tg.tensor([[0.1, 0.5, 0.9, 0.0, 1.0]], device=device).expand(100_000, 5)
    draws = host(tg.bernoulli(p))
    assert draws.dtype == np.float32 and set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_allclose(draws.mean(axis=0), [0.1, 0.5, 0.9, 0.0, 1.0], atol=0.006)
    fixed_p = host(tg.zeros(100_000, dtype=tg.float64, device=device).bernoulli(0.3))
    assert abs(fixed_p.mean() - 0.3) < 0.006 and fixed_p.dtype == np.float64
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        tg.bernoulli(tg.tensor([0.5, 1.5], device=device))


def test_multinomial_with_replacement_frequencies(device):
    tg.manual_seed(7)
    weights = np.array([1.0, 2.0, 3.0, 0.0, 4.0])
    picks = host(tg.multinomial(tg.tensor(weights, device=device), 200_000, replacement=True))
    assert picks.dtype == np.int64 and picks.shape == (200_000,)
    frequencies = np.bincount(picks, minlength=5) / picks.size
    np.testing.assert_allclose(frequencies, weights / weights.sum(), atol=0.004)
    assert frequencies[3] == 0
    rows = host(tg.tensor([[0.0, 1.0], [1.0, 0.0]], device=device).multinomial(10, True))
    np.testing.assert_array_equal(rows, [[1] * 10, [0] * 10])


def test_multinomial_without_replacement(device):
    tg.manual_seed(8)
    weights = np.array([1.0, 2.0, 3.0, 0.0])
    table = tg.tensor(np.tile(weights, (40_000, 1)), device=device)
    picks = host(tg.multinomial(table, 2))
    assert picks.shape == (40_000, 2)
    assert (picks[:, 0] != picks[:, 1]).all() and not (picks == 3).any()
    first = np.bincount(picks[:, 0], minlength=4) / len(picks)
    np.testing.assert_allclose(first, weights / 6, atol=0.008)
    # the second draw is from the weights left: P(j second) = Σ_{i≠j} wᵢ/W · wⱼ/(W − wᵢ)
    second = np.bincount(picks[:, 1], minlength=4) / len(picks)
    expected = [sum(weights[i] / 6 * weights[j] / (6 - weights[i]) for i in range(3) if i != j)
                for j in range(3)] + [0.0]
    np.testing.assert_allclose(second, expected, atol=0.008)
    everything = host(tg.multinomial(tg.tensor([1.0, 1.0, 5.0, 2.0, 1.0], device=device), 5))
    np.testing.assert_array_equal(np.sort(everything), np.arange(5))
    with pytest.raises(ValueError, match="without replacement from 4 categories"):
        tg.multinomial(tg.tensor(weights, device=device), 5)
    with pytest.raises(ValueError, match="3 positive weights"):
        tg.multinomial(tg.tensor(weights, device=device), 4)
    with pytest.raises(ValueError, match="finite and >= 0"):
        tg.multinomial(tg.tensor([1.0, -1.0], device=device), 1)
    with pytest.raises(ValueError, match="positive sum"):
        tg.multinomial(tg.tensor([0.0, 0.0], device=device), 1, True)


def test_randint_like(device):
    tg.manual_seed(9)
    x = tg.zeros(2000, dtype=tg.float64, device=device)
    draws = tg.randint_like(x, 3, 7)
    values = host(draws)
    assert draws.dtype == tg.float64 and draws.shape == (2000,) and draws.device == device
    assert set(np.unique(values)) == {3.0, 4.0, 5.0, 6.0}
    upper = tg.randint_like(tg.zeros(500, dtype=tg.int32, device=device), 2)
    assert upper.dtype == tg.int32 and set(np.unique(host(upper))) == {0, 1}
    with pytest.raises(RuntimeError, match="random_ expects .from. to be less than .to."):
        tg.randint_like(x, 5, 5)


FACTORIES = [
    ("normal", lambda d: tg.normal(0.0, 1.0, (4,), device=d)),
    ("normal_tensor", lambda d: tg.normal(tg.zeros(4, device=d), 1.0)),
    ("bernoulli", lambda d: tg.bernoulli(tg.full((8,), 0.5, device=d))),
    ("multinomial", lambda d: tg.multinomial(tg.ones(6, device=d), 4)),
    ("multinomial_replacement", lambda d: tg.multinomial(tg.ones(6, device=d), 8, True)),
    ("randint_like", lambda d: tg.randint_like(tg.zeros(6, device=d), 100)),
]


@pytest.mark.parametrize("name, make", FACTORIES, ids=[f[0] for f in FACTORIES])
def test_manual_seed_makes_the_factories_reproducible(name, make, device):
    tg.manual_seed(123)
    first, second = host(make(device)), host(make(device))
    tg.manual_seed(123)
    again = host(make(device))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)  # the generator moves on


# --- finfo and iinfo ---

def test_finfo_and_iinfo_as_pytorch():
    single = tg.finfo(tg.float32)
    assert (single.bits, single.eps, single.tiny, single.resolution) == (32, 2.0**-23,
                                                                        2.0**-126, 1e-06)
    assert single.max == (2 - 2.0**-23) * 2.0**127 and single.min == -single.max
    assert single.smallest_normal == single.tiny and single.dtype == "float32"
    double = tg.finfo(tg.float64)
    assert (double.bits, double.eps, double.tiny, double.resolution) == (64, 2.0**-52,
                                                                        2.0**-1022, 1e-15)
    half = tg.finfo("float16")
    assert (half.eps, half.max, half.tiny, half.resolution) == (2.0**-10, 65504.0, 2.0**-14,
                                                                0.001)
    assert tg.finfo().dtype == tg.get_default_dtype().name
    integer = tg.iinfo(tg.int32)
    assert (integer.bits, integer.min, integer.max) == (32, -2**31, 2**31 - 1)
    assert tg.iinfo(tg.int64).max == 2**63 - 1 and tg.iinfo(tg.int64).dtype == "int64"
    with pytest.raises(TypeError, match="finfo: expects a floating-point dtype"):
        tg.finfo(tg.int64)
    with pytest.raises(TypeError, match="iinfo: expects an integer dtype"):
        tg.iinfo(tg.float32)


# --- top-level names and errors ---

def test_top_level_names_and_tensor_methods():
    for name in ("lgamma", "digamma", "polygamma", "mvlgamma", "erfinv", "i0", "logaddexp",
                 "logaddexp2", "sgn", "signbit", "addcmul", "addcdiv", "renorm",
                 "float_power", "copysign", "nextafter", "ldexp", "frexp", "index_put", "put",
                 "normal", "bernoulli", "multinomial", "randint_like", "finfo", "iinfo"):
        assert hasattr(tg, name), name
    for name in ("lgamma", "digamma", "polygamma", "mvlgamma", "erfinv", "i0", "logaddexp",
                 "addcmul_", "addcdiv_", "unfold", "index_put_", "put_", "bernoulli",
                 "multinomial", "lgamma_", "polygamma_", "copysign_", "renorm_"):
        assert hasattr(tg.Tensor, name), name


def test_in_place_special_methods(device):
    x = tg.tensor([0.5, 2.0, 4.0], dtype=tg.float64, device=device)
    expected = host(tg.polygamma(2, x))
    assert x.polygamma_(2) is x
    np.testing.assert_array_equal(host(x), expected)
    leaf = tg.tensor([1.0], requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.lgamma_()


def test_errors_name_the_function(device):
    x = tg.tensor([1.0, 2.0], device=device)
    with pytest.raises(ValueError, match="polygamma: n must be an int >= 0"):
        tg.polygamma(-1, x)
    with pytest.raises(TypeError, match="lgamma: expected a Tensor"):
        tg.lgamma([1.0])
    with pytest.raises(NotImplementedError, match="zeta"):
        s = tg.tensor([2.0], dtype=tg.float64, requires_grad=True, device=device)
        special.zeta(s, tg.tensor([1.0], dtype=tg.float64, device=device)).sum().backward()


def test_tg_erfc_and_the_method_are_the_accurate_erfc():
    x = tg.tensor([10.0, 5.0, -1.0], dtype=tg.float64)
    expected = [math.erfc(10.0), math.erfc(5.0), math.erfc(-1.0)]   # 2.1e-45: 1 − erf gives 0
    np.testing.assert_allclose(tg.erfc(x).numpy(), expected, rtol=1e-13)
    np.testing.assert_allclose(x.erfc().numpy(), expected, rtol=1e-13)
    assert tg.erfc is tg.special.erfc
