"""Fuzzing higher-order and forward-mode derivatives of the surface outside the core.

The core's ops have their own fuzzer (test_audit_fuzz.py) and every op class sits in an
op table with one fixed draw (test_ops_gradcheck.py and the tables it names). This file
draws, with hypothesis, the *arguments* of the Tensor methods and ``tg.*`` functions of
ops/math_ops.py, special.py, statistics.py, everyday.py, rearrange.py, cumulative.py,
einsum.py, conveniences.py and linalg_methods.py: shapes (broadcasting operands), dims,
``keepdim``, exponents, norms' ``p``, reduce modes, einsum equations, and float64 values
from each function's domain (``DOMAINS``: log needs x > 0, acos |x| < 1, ...; values are
kept away from kinks and ties, so finite differences are valid). For each drawn case:

1. ``tg.gradcheck`` and ``tg.gradgradcheck`` hold (first derivatives and the derivative
   of the recorded backward against central differences), in reverse mode and with
   ``check_forward_ad`` / ``check_fwd_over_rev``.
2. The plain backward (arrays) and the recorded one (``create_graph=True``) give the same
   first gradient.
3. Forward mode: the tangent of ``forward_ad`` (J·v) and ``tg.func.jvp`` agree with each
   other, with a central difference along v, and with reverse mode through
   uᵀ(J v) = (Jᵀu)ᵀ v; ``tg.func.jacfwd`` equals ``jacrev`` and
   ``tg.autograd.functional.jacobian``.
4. For s(x) = Σ W ⊙ f(x): ``tg.func.hessian`` is symmetric, equals
   ``tg.autograd.functional.hessian`` and central differences of ``tg.func.grad``; ``hvp``
   and ``vhp`` equal differences of the gradient along v.

A coverage test introspects the methods ``Tensor`` inherits from the classes of those
modules (and the ``tg.special`` functions): every public name is a fuzzed case, a
function that must return tensors that do not require grad (comparisons, argsort,
integer results: checked), or listed in ``NOT_FUZZED`` with its reason.

``FUZZ_HIGHER_EXAMPLES=N`` draws N examples of each case (all four properties) and N of
each property over random cases (default: one of each case, 12 random ones, so the file
stays fast); ``HYPOTHESIS_PROFILE=explore`` draws new examples on each run.
"""

import math
import os
from typing import Callable, NamedTuple

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt.autograd import forward_ad as fwAD
from tinygrad_opt.autograd import functional as AF

ASKED = os.environ.get("FUZZ_HIGHER_EXAMPLES")
EXAMPLES = int(ASKED or 12)     # draws of the test over random cases
PER_CASE = int(ASKED or 1)      # draws of each case in test_each_case
EXPLORE = os.environ.get("HYPOTHESIS_PROFILE") == "explore"   # new draws each run
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not EXPLORE,
                    suppress_health_check=list(HealthCheck))
ONE_EACH = settings(max_examples=PER_CASE, deadline=None, database=None,
                    derandomize=not EXPLORE,
                    suppress_health_check=list(HealthCheck))
EPS = 1e-6
f64 = np.float64


# --- domains: (rng, shape) -> float64 values ---

def uniform(low, high):
    return lambda rng, shape: rng.uniform(low, high, shape)


def away(*kinks, low=-2.0, high=2.0, gap=0.1):
    """Values in [low, high] at least ``gap`` from every kink."""
    def draw(rng, shape):
        values = rng.uniform(low, high, shape)
        for kink in kinks:
            near = np.abs(values - kink) < gap
            values[near] = kink + np.where(values[near] >= kink, 2 * gap, -2 * gap)
        return values
    return draw


def distinct(rng, shape):
    """No two values within 0.1 of each other (no ties for sorts, max, median)."""
    n = math.prod(shape)
    values = (rng.permutation(n) - n / 2) * 0.3 + rng.uniform(-0.05, 0.05, n)
    return values.reshape(shape)


def non_integer(rng, shape):
    """At least 0.1 from every integer and half-integer (floor, round, fmod kinks)."""
    values = rng.uniform(-3, 3, shape)
    return np.floor(values * 2) / 2 + rng.uniform(0.1, 0.4, shape)


def with_zeros(rng, shape):
    """Real values, about a third exactly 0 (products through a zero: cumprod, prod)."""
    values = rng.uniform(-2, 2, shape)
    return np.where(rng.random(shape) < 0.35, 0.0, values)


DOMAINS = {
    "real": uniform(-2, 2), "positive": uniform(0.5, 2), "unit": uniform(-0.9, 0.9),
    "above_one": uniform(1.2, 3), "probability": uniform(0.1, 0.9),
    "nonzero": away(0.0), "distinct": distinct, "non_integer": non_integer,
    "with_zeros": with_zeros, "above_minus_one": uniform(-0.7, 2),
}
real, positive, unit, nonzero = (DOMAINS[k] for k in ("real", "positive", "unit", "nonzero"))


# --- a case: draw(data) -> (fn, [arrays]) ---

class Case(NamedTuple):
    name: str
    build: Callable           # (draw, rng) -> (fn, list of float64 arrays)
    tolerance: float = 1e-4   # rtol of the finite-difference comparisons
    hessian: bool = True      # the Hessian checks (False: f is piecewise linear there)


CASES: list = []


def case(name, tolerance=1e-4, hessian=True):
    def register(build):
        CASES.append(Case(name, build, tolerance, hessian))
        return build
    return register


def shape_of(draw, min_dims=0, max_dims=3, min_side=1, max_side=4):
    return draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                 max_side=max_side))


def broadcast(draw, count, min_dims=0, max_dims=3):
    return list(draw(hnp.mutually_broadcastable_shapes(
        num_shapes=count, min_dims=min_dims, max_dims=max_dims, min_side=1,
        max_side=3)).input_shapes)


def dim_of(draw, ndim):
    return draw(st.integers(-ndim, ndim - 1)) if ndim else 0


def unary(name, fn, domain="real", min_dims=0, hessian=True, tolerance=1e-4):
    @case(name, tolerance, hessian)
    def build(draw, rng):
        return fn, [DOMAINS[domain](rng, shape_of(draw, min_dims))]


def nary(name, fn, *domains, hessian=True, tolerance=1e-4):
    @case(name, tolerance, hessian)
    def build(draw, rng):
        shapes = broadcast(draw, len(domains))
        if set(domains) == {"distinct"}:   # no ties across the operands either
            pieces = np.split(distinct(rng, (sum(math.prod(s) for s in shapes),)),
                              np.cumsum([math.prod(s) for s in shapes])[:-1])
            return fn, [piece.reshape(s) for piece, s in zip(pieces, shapes)]
        return fn, [DOMAINS[d](rng, s) for d, s in zip(domains, shapes)]


def reduction(name, fn, domain="real", min_side=1, hessian=True, tolerance=1e-4):
    """fn(x, dim, keepdim) for a dim and keepdim drawn."""
    @case(name, tolerance, hessian)
    def build(draw, rng):
        shape = shape_of(draw, 1, min_side=min_side)
        dim, keepdim = dim_of(draw, len(shape)), draw(st.booleans())
        return (lambda x: fn(x, dim, keepdim)), [DOMAINS[domain](rng, shape)]


# math_ops.py (elementwise: the tg.* function or the method, spellings alike)
for _name, _domain in [("acos", "unit"), ("arccos", "unit"), ("asin", "unit"),
                       ("arcsin", "unit"), ("atanh", "unit"), ("arctanh", "unit"),
                       ("acosh", "above_one"), ("arccosh", "above_one"), ("asinh", "real"),
                       ("arcsinh", "real"), ("atan", "real"), ("arctan", "real"),
                       ("cosh", "real"), ("sinh", "real"), ("erf", "real"),
                       ("exp2", "real"), ("expm1", "real"), ("log10", "positive"),
                       ("log2", "positive"), ("log1p", "above_minus_one"),
                       ("reciprocal", "nonzero"), ("rsqrt", "positive"), ("sinc", "real"),
                       ("nan_to_num", "real"), ("frac", "non_integer"),
                       ("erfc", "real"), ("erfinv", "unit"), ("lgamma", "positive"),
                       ("digamma", "positive"), ("i0", "real"), ("sgn", "nonzero"),
                       ("absolute", "nonzero"), ("deg2rad", "real"), ("rad2deg", "real"),
                       ("negative", "real"), ("positive", "real"), ("square", "real"),
                       ("neg", "real")]:
    unary(_name, (lambda n: lambda x: getattr(x, n)())(_name), _domain)
for _name in ["floor", "ceil", "trunc", "round", "fix"]:   # zero gradient away from the jumps
    unary(_name, (lambda n: lambda x: getattr(x, n)() * x)(_name), "non_integer")
unary("tan", lambda x: x.tan(), "unit")
unary("round_decimals", lambda x: tg.round(x / 10, decimals=1) * x, "non_integer")
unary("logit", lambda x: x.logit(), "probability")
unary("logit_eps", lambda x: x.logit(eps=0.05), "probability")
unary("sinc_near_zero", lambda x: (x * 1e-3).sinc(), "real", tolerance=1e-3)
unary("hardshrink", lambda x: x.hardshrink(0.5), "real", hessian=False)
unary("clamp_min_scalar", lambda x: x.clamp_min(0.3) * x, "non_integer")
unary("clamp_max_scalar", lambda x: x.clamp_max(-0.3) * x, "non_integer")
nary("atan2", lambda a, b: a.atan2(b), "real", "nonzero")
nary("arctan2", lambda a, b: tg.arctan2(a, b), "nonzero", "positive")
nary("hypot", lambda a, b: a.hypot(b), "nonzero", "nonzero")
nary("xlogy", lambda a, b: a.xlogy(b), "real", "positive")
nary("lerp_tensor_weight", lambda a, b, w: a.lerp(b, w), "real", "real", "real")
nary("lerp_scalar_weight", lambda a, b: tg.lerp(a, b, 0.3), "real", "real")
nary("clamp_min_tensor", lambda a, b: a.clamp_min(b), "distinct", "distinct", hessian=False)
nary("clamp_max_tensor", lambda a, b: a.clamp_max(b), "distinct", "distinct", hessian=False)
nary("fmax", lambda a, b: a.fmax(b), "distinct", "distinct", hessian=False)
nary("fmin", lambda a, b: tg.fmin(a, b), "distinct", "distinct", hessian=False)
nary("logaddexp", lambda a, b: a.logaddexp(b), "real", "real")
nary("logaddexp2", lambda a, b: a.logaddexp2(b), "real", "real")
nary("copysign", lambda a, b: a.copysign(b), "nonzero", "nonzero")
nary("float_power_tensor", lambda a, b: a.float_power(b), "positive", "real")
nary("ldexp", lambda a, b: a.ldexp(b), "real", "real")
nary("xlog1py", lambda a, b: tg.special.xlog1py(a, b), "real", "above_minus_one")
nary("zeta_q", lambda q: tg.special.zeta(tg.tensor(3.5, dtype=tg.float64, device=q.device),
                                         q), "positive")
nary("mul", lambda a, b: a.mul(b), "real", "real")
nary("multiply", lambda a, b: a.multiply(b), "real", "real")
nary("true_divide", lambda a, b: a.true_divide(b), "real", "nonzero")
nary("addcmul", lambda a, b, c: a.addcmul(b, c, value=-0.7), "real", "real", "real")
nary("addcdiv", lambda a, b, c: tg.addcdiv(a, b, c, value=1.3), "real", "real", "nonzero")
nary("where_method", lambda a, b: a.where(a > 0, b), "nonzero", "real")
nary("masked_fill_tensor_value",
     lambda a, v: a.masked_fill(a > 0, v.sum()), "nonzero", "real")

for _name, _domain in [("i0e", "real"), ("i1", "real"), ("i1e", "real"), ("erfcx", "real"),
                       ("ndtr", "real"), ("log_ndtr", "real"), ("ndtri", "probability"),
                       ("entr", "positive"), ("expit", "real"), ("gammaln", "positive"),
                       ("psi", "positive")]:
    unary("special." + _name, (lambda n: lambda x: getattr(tg.special, n)(x))(_name), _domain)


@case("fmod_remainder")
def _(draw, rng):
    a_shape, b_shape = broadcast(draw, 2)
    b = away(0.0, gap=0.3)(rng, b_shape)
    a = rng.uniform(-3, 3, a_shape)
    ratio = a / b     # the kinks: a/b an integer
    assume(np.all(np.abs(ratio - np.round(ratio)) > 0.05))
    name = draw(st.sampled_from(["fmod", "remainder"]))
    return (lambda a, b: getattr(a, name)(b) * a), [a, b]


@case("divide_rounding")
def _(draw, rng):
    a_shape, b_shape = broadcast(draw, 2)
    a, b = rng.uniform(-3, 3, a_shape), away(0.0, gap=0.3)(rng, b_shape)
    ratio = a / b
    assume(np.all(np.abs(ratio - np.round(ratio)) > 0.05))
    mode = draw(st.sampled_from([None, "trunc", "floor"]))
    name = draw(st.sampled_from(["div", "divide"]))
    return (lambda a, b: getattr(a, name)(b, rounding_mode=mode) * a + b), [a, b]


@case("floor_divide")
def _(draw, rng):
    a_shape, b_shape = broadcast(draw, 2)
    a, b = rng.uniform(-3, 3, a_shape), away(0.0, gap=0.3)(rng, b_shape)
    ratio = a / b
    assume(np.all(np.abs(ratio - np.round(ratio)) > 0.05))
    return (lambda a, b: a.floor_divide(b) * a * b), [a, b]


@case("add_sub_alpha")
def _(draw, rng):
    shapes = broadcast(draw, 2)
    alpha = draw(st.sampled_from([1, -2, 0.5]))
    name = draw(st.sampled_from(["add", "sub", "subtract"]))
    return (lambda a, b: getattr(a, name)(b, alpha=alpha)), [real(rng, s) for s in shapes]


@case("pow")
def _(draw, rng):
    shapes = broadcast(draw, 2)
    exponent = draw(st.sampled_from([2, 3, -1, 0.5, 2.5, "tensor"]))
    base = positive(rng, shapes[0])
    if exponent == "tensor":
        return (lambda a, b: a.pow(b)), [base, real(rng, shapes[1])]
    return (lambda a: a.pow(exponent)), [base]


@case("float_power_scalar")
def _(draw, rng):
    exponent = draw(st.sampled_from([2, -1.5, 0.5, 3]))
    return (lambda a: a.float_power(exponent)), [positive(rng, shape_of(draw))]


@case("polygamma")
def _(draw, rng):
    n = draw(st.integers(0, 3))
    return (lambda x: x.polygamma(n)), [positive(rng, shape_of(draw))]


@case("mvlgamma")
def _(draw, rng):
    p = draw(st.integers(1, 4))
    return (lambda x: x.mvlgamma(p)), [uniform((p - 1) / 2 + 0.3, 3)(rng, shape_of(draw))]


@case("frexp_mantissa")
def _(draw, rng):
    x = nonzero(rng, shape_of(draw))
    assume(np.all(np.abs(np.log2(np.abs(x)) - np.round(np.log2(np.abs(x)))) > 0.05))
    return (lambda x: x.frexp().mantissa), [x]


@case("renorm")
def _(draw, rng):
    shape = shape_of(draw, 2)
    dim, p = dim_of(draw, len(shape)), draw(st.sampled_from([1, 2, 3]))
    x = nonzero(rng, shape)
    moved = np.moveaxis(x, dim, 0).reshape(shape[dim], -1)
    norms = (np.abs(moved) ** p).sum(1) ** (1 / p)
    maxnorm = float(np.median(norms)) * 0.9 + 0.05
    assume(np.all(np.abs(norms - maxnorm) > 0.05))
    return (lambda x: x.renorm(p, dim, maxnorm)), [x]


@case("unfold")
def _(draw, rng):
    shape = shape_of(draw, 1)
    dim = dim_of(draw, len(shape))
    size = draw(st.integers(1, shape[dim]))
    step = draw(st.integers(1, 3))
    return (lambda x: x.unfold(dim, size, step)), [real(rng, shape)]


# cumulative.py and the reductions of conveniences.py
reduction("cumsum", lambda x, d, k: x.cumsum(d))
reduction("cumprod", lambda x, d, k: x.cumprod(d))
reduction("cumprod_with_zeros", lambda x, d, k: x.cumprod(d), "with_zeros")
reduction("prod_dim", lambda x, d, k: x.prod(d, keepdim=k))
reduction("prod_dim_with_zeros", lambda x, d, k: x.prod(d, keepdim=k), "with_zeros")
unary("prod_all_with_zeros", lambda x: x.prod(), "with_zeros")
unary("prod_all", lambda x: x.prod(), "real")
reduction("amax", lambda x, d, k: x.amax(d, keepdim=k), "distinct", hessian=False)
reduction("amin", lambda x, d, k: x.amin((d,), keepdim=k), "distinct", hessian=False)
reduction("logcumsumexp", lambda x, d, k: x.logcumsumexp(d))
reduction("cummax", lambda x, d, k: x.cummax(d).values, "distinct", hessian=False)
reduction("cummin", lambda x, d, k: tg.cummin(x, d).values, "distinct", hessian=False)
reduction("median_dim", lambda x, d, k: x.median(d, keepdim=k).values, "distinct",
          hessian=False)
reduction("nanmedian_dim", lambda x, d, k: x.nanmedian(d, keepdim=k).values, "distinct",
          hessian=False)
reduction("mode", lambda x, d, k: x.mode(d, keepdim=k).values, "distinct", hessian=False)
reduction("nansum", lambda x, d, k: x.nansum(d, keepdim=k))
reduction("nanmean", lambda x, d, k: x.nanmean(d, keepdim=k))
reduction("sort_values", lambda x, d, k: x.sort(d, descending=k).values * x, "distinct")
reduction("msort", lambda x, d, k: x.msort() * x, "distinct")
reduction("aminmax", lambda x, d, k: tg.stack(list(x.aminmax(dim=d, keepdim=k))), "distinct",
          hessian=False)
reduction("var_mean", lambda x, d, k: tg.stack(list(tg.var_mean(x, d, keepdim=k))),
          min_side=2)
reduction("std_mean", lambda x, d, k: tg.stack(list(tg.std_mean(x, d, keepdim=k,
                                                                correction=0))))
reduction("trapezoid", lambda x, d, k: tg.trapezoid(x, dx=0.7, dim=d))
reduction("cumulative_trapezoid", lambda x, d, k: tg.cumulative_trapezoid(x, dim=d))
reduction("gradient", lambda x, d, k: tg.stack(list(tg.gradient(x, spacing=0.5, dim=d))),
          min_side=2)
reduction("gradient_edge2", lambda x, d, k: tg.stack(list(tg.gradient(x, dim=d,
                                                                      edge_order=2))),
          min_side=3)
unary("median_all", lambda x: x.median(), "distinct", hessian=False)
unary("nanmedian_all", lambda x: x.nanmedian(), "distinct", hessian=False)
unary("nansum_all", lambda x: x.nansum(), "real")
unary("aminmax_all", lambda x: tg.stack(list(x.aminmax())), "distinct", hessian=False)


@case("kthvalue")
def _(draw, rng):
    shape = shape_of(draw, 1)
    dim = dim_of(draw, len(shape))
    k, keepdim = draw(st.integers(1, shape[dim])), draw(st.booleans())
    return (lambda x: x.kthvalue(k, dim, keepdim=keepdim).values * x.sum()), \
        [distinct(rng, shape)]


@case("topk")
def _(draw, rng):
    shape = shape_of(draw, 1)
    dim = dim_of(draw, len(shape))
    k, largest = draw(st.integers(1, shape[dim])), draw(st.booleans())
    return (lambda x: x.topk(k, dim, largest=largest).values ** 2), [distinct(rng, shape)]


@case("quantile")
def _(draw, rng):
    shape = shape_of(draw, 1)
    dim = draw(st.sampled_from([None, dim_of(draw, len(shape))]))
    interpolation = draw(st.sampled_from(["linear", "lower", "higher", "midpoint",
                                          "nearest"]))
    q = draw(st.sampled_from([0.3, 0.5, "tensor"]))
    keepdim = draw(st.booleans())
    name = draw(st.sampled_from(["quantile", "nanquantile"]))

    def fn(x):
        qq = tg.tensor([0.1, 0.65], dtype=tg.float64, device=x.device) if q == "tensor" else q
        return getattr(x, name)(qq, dim, keepdim=keepdim, interpolation=interpolation) ** 2
    return fn, [distinct(rng, shape)]


@case("norm")
def _(draw, rng):
    shape = shape_of(draw, 1)
    p = draw(st.sampled_from(["fro", 1, 2, 3, 0.5, math.inf, -math.inf, -1]))
    dim = draw(st.sampled_from([None, dim_of(draw, len(shape))]))
    keepdim = draw(st.booleans())
    domain = distinct if p in (math.inf, -math.inf) else nonzero
    if domain is distinct:
        assume(math.prod(shape) > 0)
    x = domain(rng, shape)
    if domain is distinct:
        x = x + np.sign(x) * 0.2     # |x| without ties: no value near 0
        assume(len(set(np.round(np.abs(x), 6).ravel())) == x.size)
    if p == "fro" and dim is not None:
        dim = (dim,)
    return (lambda x: x.norm(p, dim, keepdim=keepdim)), [x]


@case("norm_nuc_and_matrix")
def _(draw, rng):
    shape = shape_of(draw, 2, 3, min_side=2, max_side=3)
    p = draw(st.sampled_from(["fro", "nuc"]))
    dims = (-2, -1) if len(shape) == 3 or p == "nuc" else None
    return (lambda x: x.norm(p, dims)), [real(rng, shape)]


@case("dist")
def _(draw, rng):
    shapes = broadcast(draw, 2)
    p = draw(st.sampled_from([2, 1, 3, 0.5, math.inf]))
    a, b = distinct(rng, shapes[0]), distinct(rng, shapes[1]) + 0.05
    diff = np.abs(np.broadcast_to(a, np.broadcast_shapes(*shapes)) - b)
    assume(np.all(diff > 0.05))
    if p == math.inf:
        assume(len(set(np.round(diff, 6).ravel())) == diff.size)
    return (lambda a, b: a.dist(b, p)), [a, b]


@case("tril_triu")
def _(draw, rng):
    shape = shape_of(draw, 2)
    diagonal, name = draw(st.integers(-2, 2)), draw(st.sampled_from(["tril", "triu"]))
    return (lambda x: getattr(x, name)(diagonal) * x), [real(rng, shape)]


@case("gather_take_along_dim")
def _(draw, rng):
    shape = shape_of(draw, 1)
    dim = dim_of(draw, len(shape))
    index_shape = list(shape)
    index_shape[dim] = draw(st.integers(1, 4))
    index = rng.integers(0, shape[dim], index_shape)
    name = draw(st.sampled_from(["gather", "take_along_dim"]))

    def fn(x):
        i = tg.tensor(index, device=x.device)
        return (x.gather(dim, i) if name == "gather" else x.take_along_dim(i, dim)) ** 2
    return fn, [real(rng, shape)]


@case("masked_fill")
def _(draw, rng):
    shape = shape_of(draw)
    value = draw(st.sampled_from([0.0, -1.5]))
    return (lambda x: x.masked_fill(x > 0, value) * x), [nonzero(rng, shape)]


@case("split_chunk")
def _(draw, rng):
    shape = shape_of(draw, 1)
    dim = dim_of(draw, len(shape))
    name = draw(st.sampled_from(["split", "chunk", "tensor_split"]))
    pieces_count = draw(st.integers(1, 3))

    def fn(x):
        pieces = getattr(x, name)(pieces_count, dim)
        return tg.cat([p * (i + 1) for i, p in enumerate(pieces)], dim) ** 2
    return fn, [real(rng, shape)]


@case("hvd_split")
def _(draw, rng):
    shape = shape_of(draw, 3, 3)
    name = draw(st.sampled_from(["hsplit", "vsplit", "dsplit"]))
    axis = {"vsplit": 0, "hsplit": 1, "dsplit": 2}[name]
    sections = [draw(st.integers(0, shape[axis]))]

    def fn(x):
        pieces = getattr(x, name)(sections)
        return tg.cat([p * (i + 1) for i, p in enumerate(pieces)], axis) ** 2
    return fn, [real(rng, shape)]


@case("shape_spellings")
def _(draw, rng):
    shape = shape_of(draw, 2, 3)
    name = draw(st.sampled_from(["t", "mT", "ravel", "fliplr", "flipud", "broadcast_to",
                                 "expand_as", "reshape_as", "view_as", "type_as", "unbind",
                                 "sum_to_size", "diagflat", "atleast_3d", "contiguous"]))

    def fn(x):
        if name == "t":
            return x.reshape(x.shape[0], -1).t() ** 2
        if name == "mT":
            return x.mT ** 2
        if name == "broadcast_to":
            return x.broadcast_to((2,) + x.shape) ** 2
        if name == "expand_as":
            return x.expand_as(tg.zeros((2,) + x.shape, device=x.device)) ** 2
        if name in ("reshape_as", "view_as"):
            return getattr(x, name)(tg.zeros((x.numel(),), device=x.device)) ** 2
        if name == "type_as":
            return x.type_as(x) ** 2
        if name == "unbind":
            return tg.stack([p * (i + 1) for i, p in enumerate(x.unbind(1))]) ** 2
        if name == "sum_to_size":
            return x.sum_to_size((1,) + x.shape[1:]) ** 2
        if name == "atleast_3d":
            return tg.atleast_3d(x[0]) ** 2
        return getattr(x, name)() ** 2
    return fn, [real(rng, shape)]


# rearrange.py
@case("flip_roll_rot90")
def _(draw, rng):
    shape = shape_of(draw, 2)
    ndim = len(shape)
    dims = tuple(sorted(set(draw(st.lists(st.integers(0, ndim - 1), min_size=1,
                                          max_size=ndim)))))
    shifts = tuple(draw(st.integers(-5, 5)) for _ in dims)
    k = draw(st.integers(-3, 4))
    name = draw(st.sampled_from(["flip", "roll", "roll_flat", "rot90"]))

    def fn(x):
        if name == "flip":
            y = x.flip(dims)
        elif name == "roll":
            y = x.roll(shifts, dims)
        elif name == "roll_flat":
            y = tg.roll(x, shifts[0])
        else:
            y = x.rot90(k, (0, ndim - 1))
        return y * tg.arange(y.numel(), device=x.device).reshape(y.shape).astype(x.dtype) \
            + y ** 2
    return fn, [real(rng, shape)]


@case("repeat_tile_interleave")
def _(draw, rng):
    shape = shape_of(draw, 1, 2, max_side=3)
    name = draw(st.sampled_from(["repeat", "tile", "repeat_interleave",
                                 "repeat_interleave_tensor"]))
    reps = tuple(draw(st.integers(1, 2)) for _ in range(len(shape) + draw(st.integers(0, 1))))
    dim = dim_of(draw, len(shape))
    counts = rng.integers(0, 3, shape[dim])

    def fn(x):
        if name == "repeat":
            y = x.repeat(*reps)
        elif name == "tile":
            y = x.tile(reps)
        elif name == "repeat_interleave":
            y = x.repeat_interleave(2, dim)
        else:
            y = x.repeat_interleave(tg.tensor(counts, device=x.device), dim)
        return y * y.sin()
    return fn, [real(rng, shape)]


@case("narrow_select_movedim")
def _(draw, rng):
    shape = shape_of(draw, 2)
    ndim = len(shape)
    dim, other = dim_of(draw, ndim), dim_of(draw, ndim)
    start = draw(st.integers(0, shape[dim] - 1))
    length = draw(st.integers(0, shape[dim] - start))
    name = draw(st.sampled_from(["narrow", "select", "movedim", "moveaxis", "swapaxes",
                                 "swapdims", "unflatten", "diagonal"]))

    def fn(x):
        if name == "narrow":
            y = x.narrow(dim, start, length)
        elif name == "select":
            y = x.select(dim, start)
        elif name in ("movedim", "moveaxis"):
            y = getattr(x, name)(dim, other)
        elif name in ("swapaxes", "swapdims"):
            y = getattr(x, name)(dim, other)
        elif name == "unflatten":
            y = x.unflatten(dim, (1, shape[dim], 1))
        else:
            y = x.diagonal(start - 1, 0, -1) if dim % ndim != other % ndim else x.diagonal()
        return y ** 3
    return fn, [real(rng, shape)]


@case("diag_embed_trace")
def _(draw, rng):
    shape = shape_of(draw, 1, 3)
    offset = draw(st.integers(-2, 2))
    name = draw(st.sampled_from(["diag", "diag_embed", "trace", "diagflat", "vander",
                                 "block_diag"]))

    def fn(x):
        if name == "diag":
            return (x.reshape(-1).diag(offset) if x.ndim != 2 else x.diag(offset)) ** 2
        if name == "diag_embed":
            return x.diag_embed(offset) ** 2
        if name == "trace":
            return x.reshape(x.shape[0], -1).trace() ** 2
        if name == "diagflat":
            return x.diagflat(offset) ** 2
        if name == "vander":
            return tg.vander(x.reshape(-1), N=3, increasing=offset > 0)
        return tg.block_diag(x.reshape(x.shape[0], -1), x[:1].reshape(1, -1) * 2) ** 2
    return fn, [real(rng, shape)]


@case("diff")
def _(draw, rng):
    shape = shape_of(draw, 1)
    dim = dim_of(draw, len(shape))
    n = draw(st.integers(0, 3))
    ends = draw(st.sampled_from(["none", "prepend", "append", "both"]))
    arrays = [real(rng, shape)]
    side = list(shape)
    side[dim] = 2
    if ends != "none":
        arrays.append(real(rng, side))

    def fn(x, *extra):
        pre = extra[0] if ends in ("prepend", "both") else None
        app = extra[0] if ends in ("append", "both") else None
        return x.diff(n, dim, prepend=pre, append=app) ** 2
    return fn, arrays


@case("cross")
def _(draw, rng):
    a_shape, b_shape = broadcast(draw, 2, 0, 2)   # torch.cross: the same number of dims
    ndim = max(len(a_shape), len(b_shape))
    a_shape = (1,) * (ndim - len(a_shape)) + a_shape + (3,)
    b_shape = (1,) * (ndim - len(b_shape)) + b_shape + (3,)
    return (lambda a, b: a.cross(b, dim=-1)), [real(rng, a_shape), real(rng, b_shape)]


@case("cdist")
def _(draw, rng):
    n, m, d = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,)]))
    p = draw(st.sampled_from([2.0, 1.0, 3.0, 0.5, math.inf]))
    x1, x2 = distinct(rng, batch + (n, d)), distinct(rng, batch + (m, d)) + 0.05
    diff = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
    assume(np.all(diff > 0.05))
    if p == math.inf:
        assume(all(len(set(np.round(row, 6))) == d for row in diff.reshape(-1, d)))
    return (lambda a, b: tg.cdist(a, b, p)), [x1, x2]


# Functions written as a write into a clone (``out = x.clone(); out[i] = v``): forward mode
# refuses them (docs/deviations.md, forward mode: in-place writes of dual tensors raise),
# which the forward-mode check asserts; tg.func.jvp (reverse mode) still covers them.
WRITES = {"index_copy", "index_fill", "scatter", "scatter_value", "masked_scatter",
          "index_put", "put", "select_scatter", "slice_scatter"}


@case("index_ops")
def _(draw, rng):
    shape = shape_of(draw, 1)
    dim = dim_of(draw, len(shape))
    count = draw(st.integers(1, 4))
    index = rng.integers(0, shape[dim], count)
    unique_index = rng.permutation(shape[dim])[:min(count, shape[dim])]
    name = draw(st.sampled_from(["index_select", "index_add", "index_copy", "index_fill",
                                 "index_reduce", "take"]))
    source_shape = list(shape)
    source_shape[dim] = len(unique_index) if name == "index_copy" else count
    reduce = draw(st.sampled_from(["prod", "mean", "amax", "amin"]))
    include_self = draw(st.booleans())
    arrays = [real(rng, shape)]
    if name in ("index_add", "index_copy", "index_reduce"):
        arrays.append(real(rng, source_shape))
    if name == "index_reduce" and reduce in ("amax", "amin"):
        arrays = [distinct(rng, shape), distinct(rng, source_shape) + 0.05]

    def fn(x, *source):
        i = tg.tensor(unique_index if name == "index_copy" else index, device=x.device)
        if name == "index_select":
            return x.index_select(dim, i) ** 2
        if name == "index_add":
            return x.index_add(dim, i, source[0], alpha=-1.5) ** 2
        if name == "index_copy":
            return x.index_copy(dim, i, source[0]) ** 2
        if name == "index_fill":
            return x.index_fill(dim, i, -2.0) ** 2
        if name == "take":
            return x.take(tg.tensor(rng_index, device=x.device)) ** 2
        return x.index_reduce(dim, i, source[0], reduce, include_self=include_self) * x
    rng_index = rng.integers(-math.prod(shape), math.prod(shape), 5)
    fn.writes = name in WRITES
    return fn, arrays


@case("scatter_ops")
def _(draw, rng):
    shape = shape_of(draw, 1)
    dim = dim_of(draw, len(shape))
    index_shape = [draw(st.integers(1, side)) for side in shape]
    index = rng.integers(0, shape[dim], index_shape)
    name = draw(st.sampled_from(["scatter", "scatter_value", "scatter_add", "scatter_reduce",
                                 "masked_scatter", "masked_select", "index_put", "put",
                                 "select_scatter", "slice_scatter"]))
    reduce = draw(st.sampled_from(["sum", "prod", "mean"]))
    include_self = draw(st.booleans())
    accumulate = draw(st.booleans())
    # scatter (not _add) needs one write per position: a permutation along dim
    unique = np.argsort(rng.random(shape), axis=dim)
    unique = unique[tuple(slice(0, s) for s in index_shape)]
    x, src = real(rng, shape), real(rng, index_shape)
    mask = rng.random(shape) < 0.5
    flat_index = rng.permutation(math.prod(shape))[:3] if accumulate is False else \
        rng.integers(0, math.prod(shape), 4)
    sel_shape = shape[:dim % len(shape)] + shape[dim % len(shape) + 1:]
    start = draw(st.integers(0, shape[dim] - 1))
    slice_shape = list(shape)
    slice_shape[dim] = len(range(start, shape[dim], 2))

    def fn(x, s):
        dev = x.device
        if name == "scatter":
            return x.scatter(dim, tg.tensor(unique, device=dev), s) * x
        if name == "scatter_value":
            return x.scatter(dim, tg.tensor(unique, device=dev), -1.0) * x + s.sum()
        if name == "scatter_add":
            return x.scatter_add(dim, tg.tensor(index, device=dev), s) ** 2
        if name == "scatter_reduce":
            return x.scatter_reduce(dim, tg.tensor(index, device=dev), s, reduce,
                                    include_self=include_self) * x
        if name == "masked_scatter":
            return x.masked_scatter(tg.tensor(mask, device=dev), s.reshape(-1).repeat(
                math.prod(shape))) * x
        if name == "masked_select":
            return x.masked_select(tg.tensor(mask, device=dev)) ** 2 + s.sum()
        if name == "index_put":
            i = tg.tensor(flat_index, device=dev)
            values = (s.reshape(-1)[:1] * tg.arange(1, len(flat_index) + 1, device=dev)).sin()
            return x.reshape(-1).index_put((i,), values,
                                           accumulate=accumulate) * x.reshape(-1)
        if name == "put":
            i = tg.tensor(flat_index, device=dev)
            return x.put(i, s.reshape(-1)[:1].expand(len(flat_index)) * 2,
                         accumulate=accumulate) * x
        if name == "select_scatter":
            return x.select_scatter(s.reshape(-1)[0].expand(sel_shape), dim, start) * x
        return x.slice_scatter(s.reshape(-1)[:1].expand(slice_shape), dim, start,
                               None, 2) * x
    fn.writes = name in WRITES
    return fn, [x, src]


# everyday.py and einsum.py: products
@case("products")
def _(draw, rng):
    n, m, k, b = (draw(st.integers(1, 3)) for _ in range(4))
    name = draw(st.sampled_from(["mm", "bmm", "mv", "dot", "vdot", "outer", "ger", "inner",
                                 "kron", "addmm", "addmv", "addr", "baddbmm", "addbmm",
                                 "chain_matmul", "tensordot"]))
    beta, alpha = draw(st.sampled_from([1, 0.5, -2])), draw(st.sampled_from([1, 0.3]))
    shapes = {"mm": [(n, k), (k, m)], "bmm": [(b, n, k), (b, k, m)], "mv": [(n, k), (k,)],
              "dot": [(k,), (k,)], "vdot": [(k,), (k,)], "outer": [(n,), (m,)],
              "ger": [(n,), (m,)], "inner": [(n, k), (b, m, k)], "kron": [(n, k), (m, b)],
              "addmm": [(m,), (n, k), (k, m)], "addmv": [(n,), (n, k), (k,)],
              "addr": [(n, 1), (n,), (m,)], "baddbmm": [(n, m), (b, n, k), (b, k, m)],
              "addbmm": [(1, m), (b, n, k), (b, k, m)], "chain_matmul": [(n, k), (k, m),
                                                                       (m, b)],
              "tensordot": [(n, k, m), (k, m, b)]}[name]

    def fn(*t):
        if name.startswith("add") or name == "baddbmm":
            return getattr(t[0], name)(t[1], t[2], beta=beta, alpha=alpha) ** 2
        if name == "chain_matmul":
            return tg.chain_matmul(*t) ** 2
        if name == "tensordot":
            return tg.tensordot(t[0], t[1], dims=2) ** 2
        return getattr(t[0], name)(t[1]) ** 2
    return fn, [real(rng, s) for s in shapes]


@st.composite
def einsum_equations(draw):
    """A random einsum: 1-3 operands over letters a-d (repeats within an operand take a
    diagonal), an explicit or implicit output, sometimes '...' broadcasting."""
    letters = "abcd"
    sizes = {c: draw(st.integers(1, 3)) for c in letters}
    count = draw(st.integers(1, 3))
    ellipsis = draw(st.booleans())
    batch = draw(st.sampled_from([(), (2,), (1,), (2, 1)])) if ellipsis else ()
    terms, shapes = [], []
    for _ in range(count):
        term = draw(st.lists(st.sampled_from(letters), min_size=0, max_size=3))
        dots = ellipsis and draw(st.booleans())
        own_batch = batch[len(batch) - draw(st.integers(0, len(batch))):] if dots else ()
        terms.append(("..." if dots else "") + "".join(term))
        shapes.append(own_batch + tuple(sizes[c] for c in term))
    used = sorted(set("".join(terms)) - {"."})
    explicit = draw(st.booleans())
    if explicit:
        out = "".join(draw(st.permutations(used))[:draw(st.integers(0, len(used)))])
        if any("..." in t for t in terms):
            out = "..." + out
        equation = ",".join(terms) + "->" + out
    else:
        equation = ",".join(terms)
    return equation, shapes


@case("einsum")
def _(draw, rng):
    equation, shapes = draw(einsum_equations())
    as_list = draw(st.booleans())
    if as_list:
        return (lambda *t: tg.einsum(equation, list(t)) ** 2), [real(rng, s) for s in shapes]
    return (lambda *t: tg.einsum(equation, *t) ** 2), [real(rng, s) for s in shapes]


@case("stacks_and_grids")
def _(draw, rng):
    shape = shape_of(draw, 1, 2, max_side=3)
    name = draw(st.sampled_from(["hstack", "vstack", "dstack", "column_stack", "meshgrid",
                                 "cartesian_prod", "combinations", "broadcast_tensors"]))
    r, replace = draw(st.integers(1, 3)), draw(st.booleans())

    def fn(a, b):
        if name in ("meshgrid", "cartesian_prod"):
            a, b = a.reshape(-1), b.reshape(-1)
            out = tg.meshgrid(a, b, indexing="xy") if name == "meshgrid" else \
                [tg.cartesian_prod(a, b)]
            return tg.stack([o.reshape(-1) for o in out]) ** 2
        if name == "combinations":
            return tg.combinations(a.reshape(-1), r, with_replacement=replace) ** 2
        if name == "broadcast_tensors":
            return tg.stack(tg.broadcast_tensors(a, b[..., :1])) ** 2
        return getattr(tg, name)([a, b * 2]) ** 2
    return fn, [real(rng, shape), real(rng, shape)]


@case("cov_corrcoef")
def _(draw, rng):
    shape = shape_of(draw, 1, 2, min_side=2, max_side=4)
    name = draw(st.sampled_from(["cov", "cov_weights", "corrcoef"]))
    correction = draw(st.integers(0, 1))
    obs = shape[-1]
    fweights = rng.integers(1, 3, obs)

    def fn(x, aw):
        if name == "cov":
            return tg.cov(x, correction=correction)
        if name == "cov_weights":
            return tg.cov(x, correction=correction, aweights=aw,
                          fweights=tg.tensor(fweights, device=x.device))
        return tg.corrcoef(x)
    x = real(rng, shape)
    if name == "corrcoef":
        assume(np.all(x.reshape(-1, obs).std(-1) > 0.2))
    return fn, [x, positive(rng, (obs,))]


# linalg_methods.py
@case("linalg_methods")
def _(draw, rng):
    n = draw(st.integers(1, 3))
    batch = draw(st.sampled_from([(), (2,)]))
    name = draw(st.sampled_from(["det", "logdet", "slogdet", "inverse", "pinverse",
                                 "matrix_power", "matrix_exp", "cholesky", "cholesky_upper",
                                 "qr"]))
    power = draw(st.sampled_from([-2, -1, 1, 2, 3]))   # (n = 0: the identity, no graph)
    a = rng.uniform(-1, 1, batch + (n, n)) + 2.5 * np.eye(n)   # well conditioned, det > 0
    if name == "pinverse":
        m = draw(st.integers(1, 3))
        a = rng.uniform(-1, 1, batch + (n + m, n)) + np.eye(n + m, n) * 2.5
    if name == "qr":
        a = rng.uniform(-1, 1, batch + (n + draw(st.integers(0, 2)), n))
        a[..., :n, :] += 2.5 * np.eye(n)

    def fn(x):
        if name == "slogdet":
            sign, logabs = x.slogdet()
            return logabs * sign
        if name == "matrix_power":
            return x.matrix_power(power)
        if name.startswith("cholesky"):
            spd = x @ x.mT + tg.eye(n, dtype=x.dtype, device=x.device)
            return spd.cholesky(upper=name == "cholesky_upper")
        if name == "qr":
            q, r = x.qr()
            return tg.cat([q.reshape(-1), r.reshape(-1)])
        return getattr(x, name)()
    return fn, [a]


# conveniences.py's in-place spellings: x[...] = x.clone().name(...), recorded
IN_PLACE = {
    "sin_": ("real", ()), "cos_": ("real", ()), "exp_": ("real", ()), "log_": ("positive", ()),
    "sqrt_": ("positive", ()), "tanh_": ("real", ()), "sigmoid_": ("real", ()),
    "relu_": ("nonzero", ()), "abs_": ("nonzero", ()), "neg_": ("real", ()),
    "reciprocal_": ("nonzero", ()), "floor_": ("non_integer", ()),
    "ceil_": ("non_integer", ()), "round_": ("non_integer", ()),
    "trunc_": ("non_integer", ()), "clamp_": ("non_integer", (-0.75, 1.25)),
    "clip_": ("non_integer", (0.25,)), "clamp_min_": ("non_integer", (-0.75,)),
    "clamp_max_": ("non_integer", (0.25,)), "digamma_": ("positive", ()),
    "lgamma_": ("positive", ()), "erfinv_": ("unit", ()), "i0_": ("real", ()),
    "sgn_": ("nonzero", ()), "polygamma_": ("positive", (1,)),
    "mvlgamma_": ("above_one", (2,)), "pow_": ("positive", (1.5,)),
    "mul_": ("real", (-1.5,)), "div_": ("real", (4.0,)), "add_": ("real", (2.0,)),
    "sub_": ("real", (0.5,)), "ldexp_": ("real", (2.0,)), "renorm_": ("nonzero", (2, 0, 0.5)),
}
TENSOR_IN_PLACE = {"addcmul_": "real", "addcdiv_": "nonzero", "copysign_": "nonzero",
                   "mul_": "real", "div_": "nonzero", "add_": "real", "sub_": "real",
                   "pow_": "real", "masked_fill_": "real"}


@case("in_place")
def _(draw, rng):
    tensor_arg = draw(st.booleans())
    names = sorted(TENSOR_IN_PLACE if tensor_arg else IN_PLACE)
    name = draw(st.sampled_from(names))
    shape = shape_of(draw, 1 if name == "renorm_" else 0)
    if not tensor_arg:
        domain, args = IN_PLACE[name]

        def fn(x):
            y = x * 1.0                  # a non-leaf to write into
            return getattr(y, name)(*args) * x
        fn.writes = True
        return fn, [DOMAINS[domain](rng, shape)]
    other = DOMAINS[TENSOR_IN_PLACE[name]](rng, shape)
    base = positive(rng, shape) if name == "pow_" else real(rng, shape)

    def fn(x, o):
        y = x * 1.0
        if name in ("addcmul_", "addcdiv_"):
            return getattr(y, name)(x, o, value=0.5) * x
        if name == "masked_fill_":
            return y.masked_fill_(x > 0, o.sum()) * x
        return getattr(y, name)(o) * x
    fn.writes = True
    if name == "masked_fill_":
        base = nonzero(rng, shape)
    return fn, [base, other]


CASE_NAMES = [c.name for c in CASES]
BY_NAME = {c.name: c for c in CASES}
assert len(set(CASE_NAMES)) == len(CASE_NAMES)


# --- the properties ---

def tensors(arrays, device, requires_grad=True):
    return [tg.tensor(np.asarray(a, dtype=f64), dtype=tg.float64, device=device,
                      requires_grad=requires_grad) for a in arrays]


def draw_case(data, only=None):
    chosen = BY_NAME[only] if only else data.draw(st.sampled_from(CASES), label="case")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    fn, arrays = chosen.build(lambda s, label=None: data.draw(s, label=label), rng)
    arrays = [np.asarray(a, dtype=f64) for a in arrays]
    return chosen, fn, arrays, rng


def packed(fn, arrays):
    """(g(z), z0): fn as a function of one flat vector z holding every input."""
    shapes = [a.shape for a in arrays]
    sizes = [a.size for a in arrays]

    def g(z):
        pieces, start = [], 0
        for shape, size in zip(shapes, sizes):
            pieces.append(z[start:start + size].reshape(shape))
            start += size
        return fn(*pieces)
    z0 = np.concatenate([a.reshape(-1) for a in arrays]) if arrays else np.zeros(0)
    return g, z0


def numpy_of(fn, arrays, device):
    """fn at arrays, without any graph, as a NumPy array."""
    with tg.no_grad():
        return np.asarray(fn(*tensors(arrays, device, requires_grad=False)).numpy(), f64)


def close(actual, expected, rtol, atol, what):
    np.testing.assert_allclose(np.asarray(actual, f64), np.asarray(expected, f64), rtol=rtol,
                               atol=atol, err_msg=what)


def check_gradcheck(case_, fn, arrays, device):
    inputs = tuple(tensors(arrays, device))
    tol = dict(eps=EPS, atol=1e-5, rtol=max(case_.tolerance, 1e-4))
    forward = not getattr(fn, "writes", False)
    assert tg.gradcheck(fn, inputs, check_forward_ad=forward, **tol)
    assert tg.gradgradcheck(fn, inputs, check_fwd_over_rev=forward, **tol)


def check_two_modes(fn, arrays, device, rng):
    inputs = tensors(arrays, device)
    out = fn(*inputs)
    weights = tg.tensor(rng.standard_normal(out.shape), dtype=tg.float64, device=device)
    plain = tg.autograd.grad(out, inputs, weights, retain_graph=True, allow_unused=True)
    recorded = tg.autograd.grad(out, inputs, weights, create_graph=True, allow_unused=True)
    for p, r, x in zip(plain, recorded, inputs):
        assert (p is None) == (r is None)
        if p is None:
            continue
        assert not p.requires_grad
        assert p.shape == r.shape == x.shape and p.dtype == r.dtype == tg.float64
        close(p.numpy(), r.numpy(), 1e-10, 1e-12, "plain vs recorded backward")


def check_forward_mode(case_, fn, arrays, device, rng):
    inputs = tensors(arrays, device, requires_grad=False)
    v_arrays = [rng.standard_normal(a.shape) for a in arrays]
    v = tensors(v_arrays, device, requires_grad=False)
    value = numpy_of(fn, arrays, device)
    _, jvp_func = tg.func.jvp(fn, tuple(inputs), tuple(v))
    if getattr(fn, "writes", False):
        with pytest.raises(RuntimeError, match="in place"), fwAD.dual_level():
            fn(*[fwAD.make_dual(x, t) for x, t in zip(inputs, v)])
        tangent = jvp_func
    else:
        with fwAD.dual_level():
            primal, tangent = fwAD.unpack_dual(fn(*[fwAD.make_dual(x, t)
                                                    for x, t in zip(inputs, v)]))
        close(primal.numpy(), value, 1e-12, 1e-12, "forward_ad primal")
        assert tangent is not None and tangent.shape == primal.shape
    close(tangent.numpy(), jvp_func.numpy(), 1e-9, 1e-10, "forward_ad vs tg.func.jvp")
    _, jvp_functional = AF.jvp(fn, tuple(inputs), tuple(v))
    close(tangent.numpy(), jvp_functional.numpy(), 1e-9, 1e-10,
          "forward_ad vs autograd.functional.jvp")
    plus = numpy_of(fn, [a + EPS * t for a, t in zip(arrays, v_arrays)], device)
    minus = numpy_of(fn, [a - EPS * t for a, t in zip(arrays, v_arrays)], device)
    close(tangent.numpy(), (plus - minus) / (2 * EPS), case_.tolerance, 1e-5,
          "forward_ad vs central difference")
    # uᵀ(J v) = (Jᵀ u)ᵀ v, with Jᵀu from reverse mode (tg.func.vjp)
    u = tg.tensor(rng.standard_normal(value.shape), dtype=tg.float64, device=device)
    _, vjp_fn = tg.func.vjp(fn, *inputs)
    pulled = vjp_fn(u)
    reverse = sum(float((p * t).sum().item()) for p, t in zip(pulled, v))
    forward = float((u * tangent).sum().item())
    assert math.isclose(forward, reverse, rel_tol=1e-9, abs_tol=1e-10), (forward, reverse)


def check_jacobians(fn, arrays, device):
    g, z0 = packed(fn, arrays)
    z = tensors([z0], device, requires_grad=False)[0]
    rev = tg.func.jacrev(g)(z)
    fwd = tg.func.jacfwd(g)(z)
    functional = AF.jacobian(g, z)
    assert rev.shape == fwd.shape == functional.shape
    close(fwd.numpy(), rev.numpy(), 1e-10, 1e-12, "jacfwd vs jacrev")
    close(functional.numpy(), rev.numpy(), 1e-10, 1e-12, "functional.jacobian vs jacrev")
    # the rows by vmap over vjp (torch.func's recipe for jacrev), and vmap(jvp) for columns
    out, vjp_fn = tg.func.vjp(g, z)
    m, n = out.numel(), z0.size
    if m and n:
        eye_out = tg.tensor(np.eye(m).reshape((m,) + out.shape), dtype=tg.float64,
                            device=device)
        rows = tg.func.vmap(vjp_fn)(eye_out)[0]
        close(rows.numpy().reshape(m, n), rev.numpy().reshape(m, n), 1e-10, 1e-12,
              "vmap(vjp) vs jacrev")
        columns = tg.func.vmap(lambda t: tg.func.jvp(g, (z,), (t,))[1])(
            tg.tensor(np.eye(n), dtype=tg.float64, device=device))
        close(columns.numpy().reshape(n, m).T, rev.numpy().reshape(m, n), 1e-9, 1e-11,
              "vmap(jvp) vs jacrev")


def check_hessians(case_, fn, arrays, device, rng):
    g, z0 = packed(fn, arrays)
    weights = rng.standard_normal(np.shape(numpy_of(fn, arrays, device)))

    def s(z):
        return (g(z) * tg.tensor(weights, dtype=tg.float64, device=z.device)).sum()

    z = tensors([z0], device, requires_grad=False)[0]
    hessian = tg.func.hessian(s)(z).numpy()
    n = z0.size
    assert hessian.shape == (n, n)
    close(hessian, hessian.T, 1e-8, 1e-9, "hessian symmetric")
    close(AF.hessian(s, z).numpy(), hessian, 1e-10, 1e-12, "functional.hessian vs func")
    grad = tg.func.grad(s)

    def grad_at(zz):
        return grad(tensors([zz], device, requires_grad=False)[0]).numpy()
    eps = 1e-5
    numeric = np.stack([(grad_at(z0 + eps * e) - grad_at(z0 - eps * e)) / (2 * eps)
                        for e in np.eye(n)], axis=1) if n else np.zeros((0, 0))
    close(hessian, numeric, max(case_.tolerance, 1e-4) * 10, 1e-5,
          "hessian vs differences of grad")
    v = rng.standard_normal(n)
    vt = tensors([v], device, requires_grad=False)[0]
    along = (grad_at(z0 + eps * v) - grad_at(z0 - eps * v)) / (2 * eps)
    _, hv = AF.hvp(s, z, vt)
    _, vh = AF.vhp(s, z, vt)
    close(hv.numpy(), along, max(case_.tolerance, 1e-4) * 10, 1e-5, "hvp vs differences")
    close(vh.numpy(), along, max(case_.tolerance, 1e-4) * 10, 1e-5, "vhp vs differences")
    close(hv.numpy(), hessian @ v, 1e-8, 1e-10, "hvp vs hessian")


def _run(data, prop, device, only=None):
    case_, fn, arrays, rng = draw_case(data, only)
    assume(all(a.size for a in arrays))
    if prop == "gradcheck":
        check_gradcheck(case_, fn, arrays, device)
    elif prop == "two_modes":
        check_two_modes(fn, arrays, device, rng)
    elif prop == "forward":
        check_forward_mode(case_, fn, arrays, device, rng)
        check_jacobians(fn, arrays, device)
    elif sum(a.size for a in arrays) <= 24:
        check_hessians(case_, fn, arrays, device, rng)


@pytest.mark.parametrize("prop", ["gradcheck", "two_modes", "forward", "hessian"])
@SETTINGS
@given(data=st.data())
def test_random_cases(prop, data):
    """Cases drawn at random from the whole table (cpu)."""
    _run(data, prop, "cpu")


@pytest.mark.parametrize("name", CASE_NAMES)
@ONE_EACH
@given(data=st.data())
def test_each_case_once(name, device, data):
    """One draw of every case: all four properties (cpu and strict)."""
    for prop in ("gradcheck", "two_modes", "forward", "hessian"):
        _run(data, prop, device, only=name)


# --- coverage: every method Tensor inherits from these modules is classified ---

# Names the cases above differentiate (a case may draw among several of them).
FUZZED = {
    "acos", "arccos", "asin", "arcsin", "atanh", "arctanh", "acosh", "arccosh", "asinh",
    "arcsinh", "atan", "arctan", "cosh", "sinh", "erf", "exp2", "expm1", "log10", "log2",
    "log1p", "reciprocal", "rsqrt", "sinc", "nan_to_num", "frac", "erfc", "erfinv", "lgamma",
    "digamma", "i0", "sgn", "absolute", "deg2rad", "rad2deg", "negative", "positive",
    "square", "neg", "floor", "ceil", "trunc", "round", "fix", "tan", "logit", "hardshrink",
    "clamp_min", "clamp_max", "atan2", "arctan2", "hypot", "xlogy", "lerp", "fmax", "fmin",
    "logaddexp", "logaddexp2", "copysign", "float_power", "ldexp", "mul", "multiply",
    "true_divide", "addcmul", "addcdiv", "where", "masked_fill", "fmod", "remainder", "div",
    "divide", "floor_divide", "add", "sub", "subtract", "pow", "polygamma", "mvlgamma",
    "frexp", "renorm", "unfold", "cumsum", "cumprod", "prod", "amax", "amin",
    "logcumsumexp", "cummax", "cummin", "median", "nanmedian", "mode", "nansum", "nanmean",
    "sort", "msort", "aminmax", "kthvalue", "topk", "quantile", "nanquantile", "norm", "dist",
    "tril", "triu", "gather", "take_along_dim", "split", "chunk", "tensor_split", "hsplit",
    "vsplit", "dsplit", "t", "mT", "ravel", "fliplr", "flipud", "broadcast_to", "expand_as",
    "reshape_as", "view_as", "type_as", "unbind", "sum_to_size", "diagflat", "contiguous",
    "flip", "roll", "rot90", "repeat", "tile", "repeat_interleave", "narrow", "select",
    "movedim", "moveaxis", "swapaxes", "swapdims", "unflatten", "diagonal", "diag",
    "diag_embed", "trace", "diff", "cross", "index_select", "index_add", "index_copy",
    "index_fill", "index_reduce", "take", "scatter", "scatter_add", "scatter_reduce",
    "masked_scatter", "masked_select", "index_put", "put", "select_scatter", "slice_scatter",
    "mm", "bmm", "mv", "dot", "vdot", "outer", "ger", "inner", "kron", "addmm", "addmv",
    "addr", "baddbmm", "addbmm", "det", "logdet", "slogdet", "inverse", "pinverse",
    "matrix_power", "matrix_exp", "cholesky", "qr",
} | set(IN_PLACE) | set(TENSOR_IN_PLACE)


# Names that cannot be differentiated: called on a float64 tensor that requires grad,
# every Tensor they return must not require grad.
NON_DIFFERENTIABLE = {
    "eq": lambda x: x.eq(x * 2), "ne": lambda x: x.ne(1.0), "lt": lambda x: x.lt(0.0),
    "le": lambda x: x.le(x), "gt": lambda x: x.gt(0.5), "ge": lambda x: x.ge(x * 0.5),
    "greater": lambda x: x.greater(0.0), "greater_equal": lambda x: x.greater_equal(x),
    "less": lambda x: x.less(1.0), "less_equal": lambda x: x.less_equal(x),
    "not_equal": lambda x: x.not_equal(x), "isclose": lambda x: x.isclose(x * 1.0),
    "logical_and": lambda x: x.logical_and(x), "logical_or": lambda x: x.logical_or(x),
    "logical_not": lambda x: x.logical_not(), "logical_xor": lambda x: x.logical_xor(x),
    "all": lambda x: x.all(), "any": lambda x: x.any(0), "isnan": lambda x: x.isnan(),
    "isinf": lambda x: x.isinf(), "isfinite": lambda x: x.isfinite(),
    "isneginf": lambda x: x.isneginf(), "isposinf": lambda x: x.isposinf(),
    "isreal": lambda x: x.isreal(), "signbit": lambda x: x.signbit(),
    "argsort": lambda x: x.argsort(0), "argmin": lambda x: x.argmin(),
    "argwhere": lambda x: x.argwhere(), "nonzero": lambda x: x.nonzero(),
    "count_nonzero": lambda x: x.count_nonzero(), "histc": lambda x: x.histc(4),
    "bincount": lambda x: (x.abs() * 3).long().reshape(-1).bincount(),
    "unique": lambda x: x.unique(return_inverse=True, return_counts=True),
    "unique_consecutive": lambda x: x.unique_consecutive(return_counts=True),
    "heaviside": lambda x: x.heaviside(x), "nextafter": lambda x: x.nextafter(x * 2),
    "bitwise_and": lambda x: x.long().bitwise_and(3),
    "bitwise_or": lambda x: x.long().bitwise_or(3),
    "bitwise_xor": lambda x: x.long().bitwise_xor(3),
    "bitwise_not": lambda x: x.long().bitwise_not(),
    "gcd": lambda x: x.long().gcd(x.long()), "lcm": lambda x: x.long().lcm(x.long() + 1),
    "long": lambda x: x.long(), "int": lambda x: x.int(), "bool": lambda x: x.bool(),
    "byte": lambda x: x.abs().byte(), "char": lambda x: x.char(), "short": lambda x: x.short(),
    "multinomial": lambda x: x.abs().reshape(-1).multinomial(2),
    "bernoulli": lambda x: (x.abs() / 3).bernoulli(),
    "sort.indices": lambda x: x.sort(0).indices, "topk.indices": lambda x: x.topk(1).indices,
    "kthvalue.indices": lambda x: x.kthvalue(1).indices,
    "median.indices": lambda x: x.median(0).indices, "mode.indices": lambda x: x.mode().indices,
    "cummax.indices": lambda x: x.cummax(0).indices,
    "cummin.indices": lambda x: x.cummin(0).indices,
    "frexp.exponent": lambda x: x.frexp().exponent,
    "new_zeros": lambda x: x.new_zeros(2), "new_ones": lambda x: x.new_ones(2),
    "new_full": lambda x: x.new_full((2,), 3.0), "new_empty": lambda x: x.new_empty(2),
    "new_tensor": lambda x: x.new_tensor([1.0]),
}

NOT_FUZZED = {
    # Python values, not tensors
    **dict.fromkeys(["allclose", "equal", "is_floating_point", "is_contiguous", "dim", "numel",
                     "nelement", "size", "stride", "element_size", "data_ptr", "tolist",
                     "type", "dim_order", "is_shared"], "returns a Python value"),
    # memory and streams: the same values in other memory, or a tensor of another class
    **dict.fromkeys(["share_memory_", "record_stream", "resize_", "resize_as_",
                     "as_subclass"], "memory, not math (tests/core/test_audit6_tensor_methods.py)"),
    # the same tensor, a copy or another dtype/device (core ops)
    **dict.fromkeys(["cpu", "cuda", "float", "double", "half", "copy", "pin_memory",
                     "detach_"], "a cast, move or copy: the core's"),
    # random draws and fills in place (no gradient; tested where they are defined)
    **dict.fromkeys(["bernoulli_", "normal_", "uniform_", "exponential_", "geometric_",
                     "log_normal_", "cauchy_", "random_", "fill_diagonal_", "apply_"],
                    "fills values in place (no function of x to differentiate)"),
    # writes of given values, x[...] = v (their gradients: tests/core/test_inplace.py)
    **dict.fromkeys(["zero_", "fill_", "copy_"], "x[...] = v: the recorded write's gradient"),
    # in-place spellings (``_in_place``) of fuzzed functions with index arguments
    **dict.fromkeys(["index_add_", "index_copy_", "index_fill_", "index_put_",
                     "index_reduce_", "masked_scatter_", "put_", "scatter_",
                     "scatter_add_", "scatter_reduce_"],
                    "x[...] = x.clone().name(...): the fuzzed function and a recorded write"),
}


def introspected_names() -> set:
    from tinygrad_opt.ops import (conveniences, everyday, linalg_methods, math_ops,
                                  rearrange, special, statistics)
    classes = [math_ops.MathMethods, special.SpecialMethods, statistics.StatisticsMethods,
               everyday.EverydayMethods, rearrange.RearrangeMethods,
               linalg_methods.LinalgMethods, conveniences.Conveniences]
    return {n for cls in classes for n in vars(cls) if not n.startswith("_")}


def test_every_method_is_fuzzed_or_classified():
    names = introspected_names()
    non_diff = {n.split(".")[0] for n in NON_DIFFERENTIABLE if "." not in n}
    groups = [FUZZED, non_diff, set(NOT_FUZZED)]
    unclassified = names - set().union(*groups)
    assert not unclassified, f"classify these methods: {sorted(unclassified)}"
    overlap = (FUZZED & non_diff) | (FUZZED & set(NOT_FUZZED)) | (non_diff & set(NOT_FUZZED))
    assert not overlap, sorted(overlap)
    for name in FUZZED | non_diff:   # no stale names
        assert hasattr(tg.Tensor, name), name


# tg.special's functions that are no case of their own: the Tensor method of that name
# (a case above), or a function of another area.
SPECIAL_AS_METHOD = {"digamma", "erf", "erfc", "erfinv", "exp2", "expm1", "i0", "lgamma",
                     "log1p", "logit", "mvlgamma", "polygamma", "sinc", "xlogy", "round"}
SPECIAL_ELSEWHERE = {"softmax", "log_softmax", "logsumexp",   # the core / nn
                     "multigammaln", "zeta", "xlog1py",       # zeta_q and xlog1py cases
                     "floating", "annotations",               # not functions of tensors
                     # tests/core/test_surface_gaps.py (values, gradients, dtypes):
                     "gammainc", "gammaincc", "modified_bessel_i0", "modified_bessel_i1",
                     "spherical_bessel_j0", "chebyshev_polynomial_t", "chebyshev_polynomial_u",
                     "chebyshev_polynomial_v", "chebyshev_polynomial_w",
                     "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
                     "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w",
                     "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
                     "legendre_polynomial_p",
                     # tests/core/test_bessel.py (no derivative, as PyTorch):
                     "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_k0",
                     "modified_bessel_k1", "scaled_modified_bessel_k0",
                     "scaled_modified_bessel_k1", "airy_ai"}


def test_every_special_function_is_fuzzed_or_classified():
    special = {n for n in dir(tg.special) if not n.startswith("_")}
    fuzzed = {c.name.split(".")[1] for c in CASES if c.name.startswith("special.")}
    assert special - fuzzed - SPECIAL_AS_METHOD - SPECIAL_ELSEWHERE == set()
    assert SPECIAL_AS_METHOD <= FUZZED
    x = tg.tensor(np.array([0.3, 0.7, 1.4]), dtype=tg.float64)
    for name in SPECIAL_AS_METHOD - {"mvlgamma", "polygamma", "xlogy", "round"}:
        np.testing.assert_array_equal(getattr(tg.special, name)(x).numpy(),
                                      getattr(x, name)().numpy(), err_msg=name)
    np.testing.assert_array_equal(tg.special.multigammaln(x + 1, 2).numpy(),
                                  x.add(1).mvlgamma(2).numpy())


@pytest.mark.parametrize("name", sorted(NON_DIFFERENTIABLE))
def test_non_differentiable_results_do_not_require_grad(name, device):
    x = tg.tensor(np.array([[1.5, -0.5, 2.25], [0.75, 3.0, -1.25]]), dtype=tg.float64,
                  device=device, requires_grad=True)
    out = NON_DIFFERENTIABLE[name](x)
    results = list(out) if isinstance(out, (tuple, list)) else [out]
    assert results
    for result in results:
        assert isinstance(result, tg.Tensor), type(result)
        assert not result.requires_grad, name


# --- regressions found by this fuzzer ---

def _lcse_weighted_gradient(x):
    """∇ Σ_i x_i·y_i for y = logcumsumexp(x), in NumPy:
    ∂/∂x_j = y_j + Σ_{i≥j} x_i·exp(x_j − y_i)."""
    y = np.logaddexp.accumulate(x)
    return y + np.array([sum(x[i] * np.exp(x[j] - y[i]) for i in range(j, len(x)))
                         for j in range(len(x))])


def test_logcumsumexp_second_derivative_through_a_zero_cotangent(device):
    """LogCumSumExp's backward split g into log g⁺ and log g⁻ and routed nothing at g = 0:
    its derivative in g was 0 there, not exp(x_j − y_i). A Hessian through a zero
    cotangent (here g = x with x_0 = 0) lost the term, and tg.func.jvp (the double-vjp
    trick at u = 0) gave a zero tangent."""
    x0 = np.array([0.0, 0.5, -1.0])
    x = tg.tensor(x0, dtype=tg.float64, device=device)
    hessian = tg.func.hessian(lambda t: (t.logcumsumexp(0) * t).sum())(x).numpy()
    eps = 1e-6
    expected = np.stack([(_lcse_weighted_gradient(x0 + eps * e)
                          - _lcse_weighted_gradient(x0 - eps * e)) / (2 * eps)
                         for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(hessian, expected, rtol=1e-6, atol=1e-8)
    # y_0 = x_0, so ∂²(y_0²)/∂x_0² = 2 at x_0 = 0 (the cotangent 2·y_0 is 0 there)
    square = tg.func.hessian(lambda t: t.logcumsumexp(0)[0] ** 2)(x).numpy()
    np.testing.assert_allclose(square, np.diag([2.0, 0.0, 0.0]), atol=1e-12)
    # J·v with J_ij = exp(x_j − y_i) for j ≤ i
    v = np.array([1.0, -2.0, 0.5])
    y = np.logaddexp.accumulate(x0)
    jv = [sum(np.exp(x0[j] - y[i]) * v[j] for j in range(i + 1)) for i in range(3)]
    _, tangent = tg.func.jvp(lambda t: t.logcumsumexp(0), (x,),
                             (tg.tensor(v, dtype=tg.float64, device=device),))
    np.testing.assert_allclose(tangent.numpy(), jv, rtol=1e-12)


def test_logcumsumexp_backward_keeps_its_precision_with_zero_cotangents():
    """The constant added at g = 0 (2⁻⁶⁰·max|g|) cancels without a trace next to a
    cotangent 10⁻¹⁰ times smaller than another."""
    x0 = np.array([0.0, 20.0, 1.0, -3.0])
    g = np.array([0.0, 1e-10, 0.0, 1.0])
    x = tg.tensor(x0, dtype=tg.float64, requires_grad=True)
    x.logcumsumexp(0).backward(tg.tensor(g, dtype=tg.float64))
    y = np.logaddexp.accumulate(x0)
    expected = [sum(g[i] * np.exp(x0[j] - y[i]) for i in range(j, 4)) for j in range(4)]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-13)
