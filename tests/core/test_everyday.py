"""PyTorch's remaining everyday spellings (ops/everyday.py): values against NumPy in a
table, dtypes, errors naming the function, the Tensor-only methods (strides, type names,
random fills, apply_), and EVERYDAY_OPS, the table of its differentiable compositions,
run through gradcheck and gradgradcheck (float64) on shapes drawn by hypothesis.
ops/everyday.py defines no Function: every gradient is that of the core ops it calls."""

import itertools
from typing import Callable, NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_ops_gradcheck import (MATRIX, NONSCALAR, Op, away_from, distinct, draw_inputs, each,
                                fixed, joined, per_input, positive, real, shapes)
from test_two_modes import assert_the_two_paths_agree

TRAPEZOID = getattr(np, "trapezoid", None) or np.trapz


def host(t):
    return t.numpy()


def on(device, data, dtype=None):
    """A tensor of ``data`` on ``device``: NumPy arrays keep their dtype, Python floats
    become float32 (as ``tg.tensor``)."""
    return tg.tensor(data, dtype=dtype, device=device)


def leaf(array, device):
    return tg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True, device=device)


# --- the gradient table: compositions, checked by finite differences ---

def coordinates(rng, shapes_drawn):
    """Samples f and increasing, unevenly spaced coordinates for the last dim."""
    f_shape, points = shapes_drawn
    return [real(rng, f_shape), np.cumsum(rng.uniform(0.5, 1.5, points))]


def counts(w):
    """Integer frequency weights 1, 2, 3, 1, 2, ... for cov."""
    return tg.tensor(np.arange(w.shape[0]) % 3 + 1, device=w.device)


def rows_0_2(x):
    return tg.tensor([2, 0], device=x.device)


def sum_of(pieces, weights=(1.0, 2.0, 3.0)):
    """A weighted sum of same-shaped outputs (so a misplaced one shows)."""
    return sum(piece * weight for piece, weight in zip(pieces, weights))


VARIABLES = fixed(lambda v, n: [(v, n + 2)], 2)       # (variables, observations ≥ 3)
PAIR_ROWS = fixed(lambda n, m: [(m, n + 1), (n + 1,)], 2)
EVEN_SIDES = shapes(min_dims=1, min_side=2)
THREE_SIDES = shapes(min_dims=1, max_dims=2, min_side=3)

EVERYDAY_OPS = [
    # products and distances
    Op("addr", lambda m, a, b: tg.addr(m, a, b, beta=0.5, alpha=2.0), 3,
       shapes=fixed(lambda n, m: [(n, m), (n,), (m,)], 2)),
    Op("addr_broadcast_input", lambda m, a, b: m.addr(a, b), 3,
       shapes=fixed(lambda n, m: [(m,), (n,), (m,)], 2)),
    Op("mv", lambda a, v: tg.mv(a, v), 2, shapes=fixed(lambda n, m: [(n, m), (m,)], 2)),
    Op("vdot", lambda a, b: a.vdot(b), 2, shapes=fixed(lambda n: [(n,), (n,)], 1)),
    Op("dist_2", lambda a, b: tg.dist(a, b), 2, distinct),
    Op("dist_1", lambda a, b: a.dist(b, 1), 2, distinct),
    Op("dist_3", lambda a, b: tg.dist(a, b, p=3), 2, distinct),
    # statistics and calculus on samples
    Op("cov", lambda x: tg.cov(x), 1, shapes=VARIABLES),
    Op("cov_1d_correction_0", lambda x: tg.cov(x, correction=0), 1,
       shapes=fixed(lambda n: [(n + 1,)], 1)),
    Op("cov_aweights", lambda x, w: tg.cov(x, aweights=w), 2, per_input(real, positive),
       fixed(lambda v, n: [(v, n + 2), (n + 2,)], 2)),
    Op("cov_fweights_aweights", lambda x, w: tg.cov(x, fweights=counts(w), aweights=w,
                                                    correction=2), 2,
       per_input(real, positive), fixed(lambda v, n: [(v, n + 2), (n + 2,)], 2)),
    Op("corrcoef", lambda x: tg.corrcoef(x), 1, shapes=VARIABLES),
    Op("trapezoid", lambda y: tg.trapezoid(y), 1, shapes=NONSCALAR),
    Op("trapezoid_x", lambda y, x: tg.trapezoid(y, x), 2, shapes=PAIR_ROWS),
    Op("trapz_dx_dim0", lambda y: tg.trapz(y, dx=0.5, dim=0), 1, shapes=NONSCALAR),
    Op("cumulative_trapezoid_x", lambda y, x: tg.cumulative_trapezoid(y, x), 2,
       shapes=PAIR_ROWS),
    Op("gradient_all_dims", lambda f: tg.stack(list(tg.gradient(f, spacing=0.5))), 1,
       shapes=EVEN_SIDES),
    Op("gradient_edge_order_2", lambda f: tg.gradient(f, dim=0, edge_order=2)[0], 1,
       shapes=THREE_SIDES),
    Op("gradient_coordinates", lambda f, c: tg.gradient(f, spacing=[c], dim=-1)[0], 2,
       coordinates, fixed(lambda n, m: [(m, n + 2), (n + 2,)], 2)),
    Op("gradient_coordinates_order_2",
       lambda f, c: tg.gradient(f, spacing=(c,), dim=1, edge_order=2)[0], 2,
       coordinates, fixed(lambda n, m: [(m, n + 3), (n + 3,)], 2)),
    # pairwise and elementwise
    Op("fmax", lambda a, b: tg.fmax(a, b), 2, distinct),
    Op("fmin", lambda a, b: a.fmin(b), 2, distinct),
    Op("hardshrink", lambda x: tg.hardshrink(x), 1, each(away_from(-0.5, 0.5))),
    Op("deg2rad", lambda x: x.deg2rad(), 1),
    Op("rad2deg", lambda x: tg.rad2deg(x), 1),
    # writing into a copy, selecting, rearranging
    Op("select", lambda x: x.select(-1, 0), 1, shapes=NONSCALAR),
    Op("select_scatter", lambda x, s: tg.select_scatter(x, s, 1, -1), 2,
       shapes=fixed(lambda a, b: [(a, b + 1), (a,)], 2)),
    Op("slice_scatter", lambda x, s: x.slice_scatter(s, 1, 0, None, 2), 2,
       shapes=fixed(lambda a, b: [(a, 2 * b), (a, b)], 2)),
    Op("index_copy", lambda x, s: tg.index_copy(x, 0, rows_0_2(x), s), 2,
       shapes=fixed(lambda a, b: [(a + 2, b), (2, b)], 2)),
    Op("diagflat", lambda x: tg.diagflat(x, 1), 1, shapes=shapes(max_dims=2)),
    Op("msort", lambda x: x.msort(), 1, distinct, NONSCALAR),
    Op("combinations", lambda x: tg.combinations(x, 2, with_replacement=True), 1,
       shapes=fixed(lambda n: [(n,)], 1)),
    Op("unflatten", lambda x: x.unflatten(0, (2, -1)), 1,
       shapes=fixed(lambda a, b: [(2 * a, b)], 2)),
    Op("sum_to_size", lambda x: x.sum_to_size(1, x.shape[-1]), 1, shapes=MATRIX),
    Op("broadcast_tensors", lambda a, b: sum_of(tg.broadcast_tensors(a, b)), 2),
    Op("tensor_split", lambda x: joined(tg.tensor_split(x, 3, -1), -1), 1, shapes=NONSCALAR),
    Op("hsplit_indices", lambda x: joined(x.hsplit([1, 2]), 1 if x.ndim > 1 else 0), 1,
       shapes=shapes(min_dims=1, min_side=2)),
    Op("hstack_vstack", lambda a, b: tg.hstack([a, b]) + tg.vstack([a, b]).sum(), 2,
       shapes=fixed(lambda n: [(n,), (n,)], 1)),
    Op("dstack_column_stack", lambda a, b: sum_of([tg.dstack([a, b]).sum(-1),
                                                   tg.column_stack([a, b])[:, :1]]), 2,
       shapes=fixed(lambda n: [(n, 1), (n, 1)], 1)),
    Op("svd_reconstructs", lambda A: (lambda r: r.U @ tg.diag_embed(r.S) @ r.V.T)(tg.svd(A)),
       1, shapes=fixed(lambda m: [(m + 1, 2)], 1)),
]

SETTINGS = settings(max_examples=4, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
IDS = [op.name for op in EVERYDAY_OPS]


def test_table_names_are_unique():
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("op", EVERYDAY_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradcheck(op, device, data):
    assert tg.gradcheck(op.fn, draw_inputs(op, device, data), **op.tolerance)


@pytest.mark.parametrize("op", EVERYDAY_OPS, ids=IDS)
@settings(SETTINGS, max_examples=2)
@given(data=st.data())
def test_gradgradcheck(op, device, data):
    assert tg.gradgradcheck(op.fn, draw_inputs(op, device, data), **op.tolerance)


@pytest.mark.parametrize("op", EVERYDAY_OPS, ids=IDS)
@settings(SETTINGS, max_examples=1)
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    shapes_drawn = data.draw(op.shapes(op.arity), label="shapes")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    assert_the_two_paths_agree(op, op.domain(rng, shapes_drawn), rng, device)


def test_no_function_is_defined_here():
    from tinygrad_opt.autograd.function import Function
    from tinygrad_opt.ops import everyday
    assert not [value for value in vars(everyday).values()
                if isinstance(value, type) and issubclass(value, Function)]


def test_every_name_is_a_tg_function():
    from tinygrad_opt.ops import everyday
    for name in everyday.__all__:
        assert getattr(tg, name) is getattr(everyday, name), name
    assert tg.row_stack is tg.vstack and tg.trapz is tg.trapezoid


# --- values against NumPy: one line per case ---

class Case(NamedTuple):
    name: str
    ours: Callable          # tensors -> a tensor, a tuple of them, or a Python value
    numpy: Callable         # arrays -> the expected arrays
    inputs: Callable        # rng -> the input arrays


def grid(*shape_):
    return lambda rng: [rng.standard_normal(shape_)]


def ints(*arrays):
    return lambda rng: [np.array(array) for array in arrays]


def with_nans(rng):
    a = np.array([1.0, np.nan, 3.0, np.nan, -np.inf])
    b = np.array([2.0, 1.0, np.nan, np.nan, 0.0])
    return [a, b]


def np_cumulative_trapezoid(y, dx=1.0):
    return np.cumsum((y[..., 1:] + y[..., :-1]) / 2 * dx, axis=-1)


def scatter_copy(x, place, src):
    out = x.copy()
    out[place] = src
    return out


EDGES = np.array([-2.0, -0.5, 0.0, 0.25, 2.0])
POINTS = np.array([0.0, 0.3, 1.0, 1.1, 2.0])

CASES = [
    Case("cov", tg.cov, np.cov, grid(3, 5)),
    Case("cov_correction_0", lambda x: tg.cov(x, correction=0),
         lambda a: np.cov(a, ddof=0), grid(2, 4)),
    Case("cov_1d", tg.cov, np.cov, grid(6)),
    Case("cov_weights", lambda x, f, w: tg.cov(x, fweights=f, aweights=w),
         lambda a, f, w: np.cov(a, fweights=f, aweights=w),
         lambda rng: [rng.standard_normal((3, 5)), np.array([1, 0, 2, 3, 1]),
                      rng.uniform(0.1, 2.0, 5)]),
    Case("cov_fweights_correction_2", lambda x, f: tg.cov(x, fweights=f, correction=2),
         lambda a, f: np.cov(a, fweights=f, ddof=2),
         lambda rng: [rng.standard_normal((2, 4)), np.array([2, 1, 1, 3])]),
    Case("corrcoef", tg.corrcoef, np.corrcoef, grid(4, 6)),
    Case("corrcoef_1d", tg.corrcoef, np.corrcoef, grid(5)),
    Case("gradient", lambda f: tg.gradient(f), np.gradient, grid(3, 5)),
    Case("gradient_spacings_edge_2", lambda f: tg.gradient(f, spacing=[0.5, 2.0], edge_order=2),
         lambda a: np.gradient(a, 0.5, 2.0, edge_order=2), grid(3, 4)),
    Case("gradient_dim_scalar", lambda f: tg.gradient(f, spacing=3.0, dim=1),
         lambda a: (np.gradient(a, 3.0, axis=1),), grid(2, 3, 4)),
    Case("gradient_coordinates",
         lambda f, c: tg.gradient(f, spacing=[c], dim=-1),
         lambda a, c: (np.gradient(a, c, axis=-1),), lambda rng: [rng.standard_normal((2, 5)),
                                                                  POINTS]),
    Case("gradient_coordinates_edge_2",
         lambda f, c: tg.gradient(f, spacing=[c], dim=0, edge_order=2),
         lambda a, c: (np.gradient(a, c, axis=0, edge_order=2),),
         lambda rng: [rng.standard_normal((5, 2)), POINTS]),
    Case("histogram", lambda x: tg.histogram(x, 4), lambda a: np.histogram(a, 4), grid(30)),
    Case("histogram_range_weight_density",
         lambda x, w: tg.histogram(x, 3, range=(-1.0, 1.0), weight=w, density=True),
         lambda a, w: np.histogram(a, 3, range=(-1.0, 1.0), weights=w, density=True),
         lambda rng: [rng.standard_normal((4, 5)), rng.uniform(0, 1, (4, 5))]),
    Case("histogram_edges", lambda x, e: tg.histogram(x, e), lambda a, e: np.histogram(a, e),
         lambda rng: [rng.standard_normal(20), EDGES]),
    Case("histogram_one_value", lambda x: tg.histogram(x, 2), lambda a: np.histogram(a, 2),
         ints([3.0, 3.0, 3.0])),
    Case("trapezoid", tg.trapezoid, TRAPEZOID, grid(3, 5)),
    Case("trapezoid_x", tg.trapezoid, TRAPEZOID, lambda rng: [rng.standard_normal((2, 5)),
                                                               POINTS]),
    Case("trapezoid_dx_dim0", lambda y: tg.trapezoid(y, dx=0.5, dim=0),
         lambda a: TRAPEZOID(a, dx=0.5, axis=0), grid(4, 3)),
    Case("trapezoid_one_sample", tg.trapezoid, TRAPEZOID, grid(2, 1)),
    Case("cumulative_trapezoid", lambda y: tg.cumulative_trapezoid(y, dx=2.0),
         lambda a: np_cumulative_trapezoid(a, 2.0), grid(2, 5)),
    Case("isin", tg.isin, np.isin, ints([[1, 2], [3, 4]], [4, 1, 7])),
    Case("isin_invert", lambda a, b: tg.isin(a, b, invert=True),
         lambda a, b: np.isin(a, b, invert=True), ints([1, 2, 3, 4], [2, 3])),
    Case("isin_number", lambda a: tg.isin(a, 3), lambda a: np.isin(a, 3), ints([1, 3, 3])),
    Case("unravel_index", lambda i: tg.unravel_index(i, (3, 4)),
         lambda i: np.unravel_index(i, (3, 4)), ints([[0, 5], [11, 7]])),
    Case("unravel_index_negative", lambda i: tg.unravel_index(i, (2, 3)),
         lambda i: np.unravel_index(i % 6, (2, 3)), ints([-1, -6, 4])),
    Case("hsplit", lambda x: tg.hsplit(x, 2), lambda a: np.hsplit(a, 2), grid(3, 4)),
    Case("hsplit_1d_indices", lambda x: x.hsplit([1, 4]), lambda a: np.hsplit(a, [1, 4]),
         grid(6)),
    Case("vsplit", lambda x: tg.vsplit(x, [1]), lambda a: np.vsplit(a, [1]), grid(3, 2)),
    Case("dsplit", lambda x: tg.dsplit(x, 2), lambda a: np.dsplit(a, 2), grid(1, 2, 4)),
    Case("tensor_split_sections", lambda x: tg.tensor_split(x, 3, dim=1),
         lambda a: np.array_split(a, 3, axis=1), grid(2, 7)),
    Case("tensor_split_indices", lambda x: x.tensor_split([2, -1, 9]),
         lambda a: np.array_split(a, [2, -1, 9]), grid(5)),
    Case("hstack", lambda a, b: tg.hstack([a, b]), lambda a, b: np.hstack([a, b]),
         lambda rng: [rng.standard_normal((2, 1)), rng.standard_normal((2, 3))]),
    Case("vstack_row_stack", lambda a, b: (tg.vstack((a, b)), tg.row_stack([a, b])),
         lambda a, b: (np.vstack([a, b]),) * 2,
         lambda rng: [rng.standard_normal(3), rng.standard_normal((2, 3))]),
    Case("dstack", lambda a, b: tg.dstack([a, b]), lambda a, b: np.dstack([a, b]),
         lambda rng: [rng.standard_normal(3), rng.standard_normal((1, 3))]),
    Case("column_stack", lambda a, b: tg.column_stack([a, b]),
         lambda a, b: np.column_stack([a, b]),
         lambda rng: [rng.standard_normal(3), rng.standard_normal((3, 2))]),
    Case("gcd", tg.gcd, np.gcd, ints([12, -18, 0, 7], [8, 12, 0, -21])),
    Case("lcm", lambda a, b: a.lcm(b), np.lcm, ints([4, -6, 0], [6, 4, 5])),
    Case("fmax_nan", tg.fmax, np.fmax, with_nans),
    Case("fmin_nan", lambda a, b: a.fmin(b), np.fmin, with_nans),
    Case("fmax_int_float", tg.fmax, np.fmax, ints([1, 5, -2], [2.5, 0.5, -2.0])),
    Case("bitwise_and", tg.bitwise_and, np.bitwise_and, ints([12, 5, -1], [10, 3, 6])),
    Case("bitwise_or_bool", lambda a, b: a.bitwise_or(b), np.bitwise_or,
         ints([True, False, False], [True, True, False])),
    Case("bitwise_not", tg.bitwise_not, np.bitwise_not, ints([0, 5, -3])),
    Case("logical_xor", tg.logical_xor, np.logical_xor, ints([0.0, np.nan, 2.0, 0.0],
                                                             [1, 0, 3, 0])),
    Case("isneginf_isposinf", lambda x: (tg.isneginf(x), x.isposinf()),
         lambda a: (np.isneginf(a), np.isposinf(a)), ints([1.0, -np.inf, np.inf, np.nan])),
    Case("deg2rad", tg.deg2rad, np.deg2rad, ints([0.0, 90.0, -180.0])),
    Case("rad2deg_int", tg.rad2deg, lambda a: np.rad2deg(a).astype(np.float32), ints([0, 1, 3])),
    Case("fix", tg.fix, np.fix, ints([-1.5, -0.5, 0.5, 2.7])),
    Case("hardshrink", lambda x: x.hardshrink(1.0),
         lambda a: np.where(np.abs(a) > 1.0, a, 0.0), ints([-2.0, -1.0, 0.3, 1.0, 1.5])),
    Case("divide_trunc_int", lambda a, b: tg.divide(a, b, rounding_mode="trunc"),
         lambda a, b: np.trunc(a / b).astype(np.int64), ints([-7, 7, -6, 5, 0], [2, -2, 3, 5, 3])),
    Case("divide_floor_float", lambda a, b: a.divide(b, rounding_mode="floor"),
         np.floor_divide, ints([-7.5, 7.0], [2.0, -2.0])),
    Case("divide_trunc_float", lambda a, b: a.divide(b, rounding_mode="trunc"),
         lambda a, b: np.trunc(a / b), ints([-7.5, 7.0], [2.0, -2.0])),
    Case("true_divide_multiply_subtract", lambda a, b: (tg.true_divide(a, b), tg.multiply(a, b),
                                                        tg.subtract(a, b, alpha=2)),
         lambda a, b: (a / b, a * b, a - 2 * b), ints([1.0, -2.0], [4.0, 0.5])),
    Case("negative_absolute", lambda a: (tg.negative(a), tg.absolute(a), tg.positive(a)),
         lambda a: (-a, np.abs(a), a), ints([1.0, -2.0])),
    Case("comparisons", lambda a, b: (tg.greater(a, b), a.greater_equal(b), tg.less(a, b),
                                      a.less_equal(b), tg.not_equal(a, b)),
         lambda a, b: (a > b, a >= b, a < b, a <= b, a != b), ints([1, 2, 3], [2, 2, 2])),
    Case("diagflat", lambda x: tg.diagflat(x, -1), lambda a: np.diagflat(a, -1), grid(2, 2)),
    Case("msort", tg.msort, lambda a: np.sort(a, axis=0), grid(4, 3)),
    Case("combinations", lambda x: tg.combinations(x, 3),
         lambda a: np.array(list(itertools.combinations(a, 3))), grid(5)),
    Case("combinations_r1_too_long", lambda x: (tg.combinations(x, 1), tg.combinations(x, 4)),
         lambda a: (a.reshape(3, 1), np.zeros((0, 4))), grid(3)),
    Case("combinations_with_replacement", lambda x: tg.combinations(x, 2, with_replacement=True),
         lambda a: np.array(list(itertools.combinations_with_replacement(a, 2))), grid(3)),
    Case("kron_inner_outer_ger", lambda a, b: (a.kron(b), a.inner(b), a.outer(b), tg.ger(a, b)),
         lambda a, b: (np.kron(a, b), np.inner(a, b), np.outer(a, b), np.outer(a, b)),
         lambda rng: [rng.standard_normal(3), rng.standard_normal(3)]),
    Case("mm_mv_dot_vdot", lambda m, v: (m.mm(m.T), tg.mv(m, v), v.dot(v), tg.vdot(v, v)),
         lambda m, v: (m @ m.T, m @ v, v @ v, np.vdot(v, v)),
         lambda rng: [rng.standard_normal((2, 3)), rng.standard_normal(3)]),
    Case("addr", lambda m, a, b: tg.addr(m, a, b, beta=2.0, alpha=0.5),
         lambda m, a, b: 2.0 * m + 0.5 * np.outer(a, b),
         lambda rng: [rng.standard_normal((2, 3)), rng.standard_normal(2),
                      rng.standard_normal(3)]),
    Case("addmm_addmv_methods", lambda m, a, v: (m.addmm(a, a.T.mm(m)), v.addmv(a.T, v[:2])),
         lambda m, a, v: (m + a @ (a.T @ m), v + a.T @ v[:2]),
         lambda rng: [rng.standard_normal((2, 3)), rng.standard_normal((2, 2)),
                      rng.standard_normal(2)]),
    Case("dist", lambda a, b: (tg.dist(a, b), a.dist(b, 0), tg.dist(a, b, float("inf")),
                               tg.dist(a, b, 0.5)),
         lambda a, b: tuple(np.linalg.norm((a - b).ravel(), p) for p in (2, 0, np.inf, 0.5)),
         lambda rng: [rng.standard_normal((2, 3)), rng.standard_normal(3)]),
    Case("select", lambda x: (x.select(1, -1), tg.select(x, 0, 1)),
         lambda a: (a[:, -1], a[1]), grid(2, 3)),
    Case("select_scatter", lambda x, s: tg.select_scatter(x, s, 0, -1),
         lambda a, s: scatter_copy(a, -1, s), lambda rng: [rng.standard_normal((3, 2)),
                                                           rng.standard_normal(2)]),
    Case("slice_scatter", lambda x, s: x.slice_scatter(s, dim=1, start=1, step=2),
         lambda a, s: scatter_copy(a, (slice(None), slice(1, None, 2)), s),
         lambda rng: [rng.standard_normal((2, 5)), rng.standard_normal((2, 2))]),
    Case("index_copy", lambda x, i, s: x.index_copy(1, i, s),
         lambda a, i, s: scatter_copy(a, (slice(None), i), s),
         lambda rng: [rng.standard_normal((2, 4)), np.array([3, 0]),
                      rng.standard_normal((2, 2))]),
    Case("unflatten", lambda x: tg.unflatten(x, -1, (2, -1)),
         lambda a: a.reshape(3, 2, 2), grid(3, 4)),
    Case("t", tg.t, np.transpose, grid(2, 3)),
    Case("broadcast", lambda a, b: tg.broadcast_tensors(a, b),
         lambda a, b: np.broadcast_arrays(a, b), lambda rng: [rng.standard_normal((2, 1)),
                                                              rng.standard_normal(3)]),
    Case("sum_to_size", lambda x: x.sum_to_size(2, 1), lambda a: a.sum((0, 2)).reshape(2, 1),
         grid(4, 2, 3)),
    Case("svd_thin_and_full", lambda A: (tg.svd(A).S, tg.svd(A, some=False).U.shape,
                                         tg.svd(A, some=False).V.shape),
         lambda a: (np.linalg.svd(a, compute_uv=False), (4, 4), (2, 2)), grid(4, 2)),
]


def _assert_matches(ours, expected):
    if isinstance(expected, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(expected)
        for one, other in zip(ours, expected):
            _assert_matches(one, other)
        return
    if isinstance(ours, tg.Tensor):
        assert not ours.requires_grad
        ours = ours.numpy()
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=1e-6, atol=1e-12)
    assert np.shape(ours) == np.shape(expected)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_values_match_numpy(case, device):
    arrays = case.inputs(np.random.default_rng(0))
    tensors = [on(device, array) for array in arrays]
    _assert_matches(case.ours(*tensors), case.numpy(*arrays))


def test_case_names_are_unique():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))


# --- gradients that the table does not show ---

def test_fmax_gives_a_tie_wholly_to_input_and_skips_nan(device):
    a = leaf([1.0, 2.0, np.nan], device)
    b = leaf([1.0, 3.0, 0.5], device)
    tg.fmax(a, b).sum().backward()
    assert host(a.grad).tolist() == [1.0, 0.0, 0.0]
    assert host(b.grad).tolist() == [0.0, 1.0, 1.0]


def test_scatters_route_the_gradient(device):
    x = leaf(np.arange(6.0).reshape(2, 3), device)
    src = leaf([10.0, 20.0], device)
    (tg.select_scatter(x, src, 1, 1) * on(device, [[1.0, 2, 3], [4, 5, 6]])).sum().backward()
    assert host(x.grad).tolist() == [[1.0, 0.0, 3.0], [4.0, 0.0, 6.0]]
    assert host(src.grad).tolist() == [2.0, 5.0]
    y = tg.zeros(3, 2, dtype=tg.float64, device=device)
    source = leaf([[1.0, 2.0]], device)
    y.index_copy_(0, on(device, [1]), source)
    (y * 3.0).sum().backward()
    assert host(y).tolist() == [[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]]
    assert host(source.grad).tolist() == [[3.0, 3.0]]


def test_fill_diagonal_is_recorded_in_a_graph(device):
    x = leaf(np.ones((2, 2)), device)
    y = x * 2.0
    y.fill_diagonal_(0.0)
    y.sum().backward()
    assert host(y).tolist() == [[0.0, 2.0], [2.0, 0.0]]
    assert host(x.grad).tolist() == [[0.0, 2.0], [2.0, 0.0]]


def test_corrcoef_of_two_rows_matches_a_hand_formula_and_its_gradient(device):
    a = np.array([[1.0, 2.0, 4.0], [2.0, 1.0, 0.0]])
    x = leaf(a, device)
    r = tg.corrcoef(x)
    np.testing.assert_allclose(host(r), np.corrcoef(a), rtol=1e-12)
    assert tg.gradcheck(lambda t: tg.corrcoef(t)[0, 1], [x])


# --- dtypes ---

def test_dtypes(device):
    i32 = on(device, [1, 2], tg.int32)
    f32 = on(device, [1.0, 2.0])
    assert tg.deg2rad(i32).dtype == tg.float32 and tg.cov(on(device, [1, 2, 4])).dtype == tg.float32
    assert tg.fmax(i32, f32).dtype == tg.float32 and tg.fmax(i32, 1).dtype == tg.int32
    assert tg.gcd(i32, on(device, [4, 6])).dtype == tg.int64 and tg.gcd(i32, 2).dtype == tg.int32
    assert tg.divide(i32, 2, rounding_mode="floor").dtype == tg.int32
    hist, edges = tg.histogram(on(device, [1.0, 2.0], tg.float64), 2)
    assert hist.dtype == edges.dtype == tg.float64
    assert all(c.dtype == tg.int64 for c in tg.unravel_index(i32, (3,)))
    assert tg.isin(f32, 1.0).dtype == tg.bool_ and tg.isreal(i32).numpy().all()
    assert tg.logspace(0, 1, 2, dtype=tg.float64).dtype == tg.float64
    assert tg.logspace(0, 1, 2).dtype == tg.get_default_dtype()
    assert (f32.byte().dtype, f32.char().dtype, f32.short().dtype) == (
        np.uint8, np.int8, np.int16)
    assert tg.result_type(i32, 2.0) == tg.float32 and tg.result_type(i32, 2) == tg.int32
    assert tg.result_type(2, 3) == tg.int64 and tg.result_type(2, 3.0) == tg.float32
    assert tg.result_type(on(device, [True]), 2) == tg.int64
    assert tg.result_type(i32, on(device, [1.0], tg.float64)) == tg.float64
    assert tg.result_type(f32, on(device, 1.0, tg.float64)) == tg.float32  # 0-d: same category
    assert tg.is_floating_point(f32) and not i32.is_floating_point()


def test_small_facts(device):
    assert tg.broadcast_shapes((2, 1), (3,), 1) == (2, 3)
    assert tg.broadcast_shapes() == ()
    assert tg.is_nonzero(on(device, [[0.5]])) and not tg.is_nonzero(on(device, 0))
    x = on(device, np.zeros((2, 3)), tg.float32)
    assert x.nelement() == 6 and x.element_size() == 4 and x.is_contiguous()
    assert x.pin_memory() is x
    assert tg.t(on(device, [1.0, 2.0])).shape == (2,)
    assert tg.allclose(x, x) and x.allclose(x + 1e-9) and x.equal(x.clone())


# --- errors name the function ---

@pytest.mark.parametrize("call, error, message", [
    (lambda d: tg.cov(on(d, np.zeros((2, 2, 2)))), ValueError, "cov: .*two or fewer"),
    (lambda d: tg.cov(on(d, np.zeros((2, 3))), fweights=on(d, [1.0, 2, 3])), TypeError,
     "cov: fweights"),
    (lambda d: tg.cov(on(d, np.zeros((2, 3))), aweights=on(d, [1.0, -2, 3])), ValueError,
     "cov: aweights cannot be negative"),
    (lambda d: tg.cov(on(d, np.zeros((2, 3))), fweights=on(d, [1, 2])), ValueError,
     "cov: fweights has 2 entries"),
    (lambda d: tg.gcd(on(d, [1.0]), on(d, [2.0])), TypeError, "gcd: only integer"),
    (lambda d: tg.bitwise_and(on(d, [1.0]), 1), TypeError, "bitwise_and"),
    (lambda d: tg.bitwise_not(on(d, [1.0])), TypeError, "bitwise_not"),
    (lambda d: tg.fmax(on(d, [1.0, 2.0]), on(d, [1.0, 2.0, 3.0])), ValueError, "fmax: shapes"),
    (lambda d: tg.logical_xor(on(d, [1, 2]), on(d, [1, 2, 3])), ValueError, "logical_xor"),
    (lambda d: tg.hsplit(on(d, np.zeros((2, 5))), 2), ValueError, "hsplit: dim 1 of size 5"),
    (lambda d: tg.vsplit(on(d, [1.0, 2.0]), 2), ValueError, "vsplit: .*at least 2"),
    (lambda d: tg.dsplit(on(d, np.zeros((2, 2))), 2), ValueError, "dsplit"),
    (lambda d: tg.tensor_split(on(d, [1.0]), 0), ValueError, "tensor_split: the number"),
    (lambda d: tg.hstack(on(d, [1.0])), TypeError, "hstack"),
    (lambda d: tg.select(on(d, np.zeros((2, 3))), 1, 3), IndexError, "select: index 3"),
    (lambda d: tg.select_scatter(on(d, np.zeros((2, 3))), on(d, np.zeros(3)), 1, 0),
     ValueError, "select_scatter: src of shape"),
    (lambda d: tg.slice_scatter(on(d, np.zeros(4)), on(d, np.zeros(3)), 0, 0, None, 2),
     ValueError, "slice_scatter: src of shape"),
    (lambda d: tg.index_copy(on(d, np.zeros(3)), 0, on(d, [3]), on(d, np.ones(1))), IndexError,
     "index_copy: index 3"),
    (lambda d: tg.index_copy(on(d, np.zeros(3)), 0, on(d, [1]), on(d, [1.0], tg.float32)),
     TypeError, "index_copy: source has dtype"),
    (lambda d: tg.unflatten(on(d, np.zeros((2, 6))), 1, (4, -1)), ValueError, "unflatten"),
    (lambda d: tg.unravel_index(on(d, [6]), (2, 3)), IndexError, "unravel_index: index 6"),
    (lambda d: tg.unravel_index(on(d, [1.0]), (2, 3)), TypeError, "unravel_index"),
    (lambda d: tg.combinations(on(d, np.zeros((2, 2))), 2), ValueError, "combinations: .*1-D"),
    (lambda d: tg.histogram(on(d, [1, 2]), 2), TypeError, "histogram: .*floating"),
    (lambda d: tg.histogram(on(d, [1.0, 2.0]), 2, range=(1.0, 0.0)), ValueError,
     "histogram: range"),
    (lambda d: tg.histogram(on(d, [1.0, np.nan]), 2), ValueError, "histogram"),
    (lambda d: tg.trapezoid(on(d, [1.0, 2.0]), on(d, [1.0, 2.0, 3.0])), ValueError,
     "trapezoid: there must be one x"),
    (lambda d: tg.trapezoid(on(d, [1.0]), on(d, [1.0]), dx=1.0), TypeError, "trapezoid"),
    (lambda d: tg.gradient(on(d, [1.0, 2.0]), edge_order=2), ValueError,
     "gradient: each dim needs at least"),
    (lambda d: tg.gradient(on(d, np.zeros((3, 3))), spacing=[1.0]), ValueError,
     "gradient: 1 spacings for 2 dims"),
    (lambda d: tg.gradient(on(d, np.zeros(3)), edge_order=3), ValueError, "edge_order"),
    (lambda d: tg.divide(on(d, [1.0]), 2, rounding_mode="round"), ValueError, "divide"),
    (lambda d: tg.dist(on(d, [1, 2]), on(d, [1, 2])), TypeError, "dist"),
    (lambda d: tg.mv(on(d, np.zeros((2, 3))), on(d, np.zeros(2))), ValueError, "mv: "),
    (lambda d: tg.vdot(on(d, np.zeros(2)), on(d, np.zeros(3))), ValueError, "vdot"),
    (lambda d: tg.addr(on(d, np.zeros((2, 2))), on(d, np.zeros((2, 1))), on(d, np.zeros(2))),
     ValueError, "addr: vec1 must be 1-D"),
    (lambda d: tg.is_nonzero(on(d, [1.0, 2.0])), RuntimeError, "is_nonzero"),
    (lambda d: tg.positive(on(d, [True])), RuntimeError, "positive"),
    (lambda d: tg.broadcast_shapes((2,), (3,)), ValueError, "broadcast_shapes"),
    (lambda d: tg.broadcast_tensors(on(d, [1, 2]), on(d, [1, 2, 3])), ValueError,
     "broadcast_tensors"),
    (lambda d: tg.isin(1, 2), TypeError, "isin"),
    (lambda d: on(d, np.zeros((2, 3))).sum_to_size(3, 1), ValueError, "sum_to_size"),
    (lambda d: on(d, np.zeros((2, 3, 3))).fill_diagonal_(1.0), ValueError,
     "fill_diagonal_: all dims"),
    (lambda d: on(d, np.zeros(3)).fill_diagonal_(1.0), ValueError, "fill_diagonal_: .*2 dims"),
    (lambda d: on(d, [1.0]).type("float"), ValueError, "type: invalid type 'float'"),
    (lambda d: on(d, [1.0]).type("torch.sparse.FloatTensor"), ValueError, "type: invalid"),
    (lambda d: on(d, [1.0]).random_(5, 2), ValueError, "random_: expects from < to"),
    (lambda d: on(d, [1], tg.int32).exponential_(), TypeError, "exponential_: draws floats"),
    (lambda d: on(d, [1.0]).geometric_(1.5), ValueError, "geometric_"),
    (lambda d: on(d, [1.0]).log_normal_(std=0.0), ValueError, "log_normal_"),
])
def test_errors_name_the_function(call, error, message, device):
    with pytest.raises(error, match=message):
        call(device)


# --- the Tensor-only methods ---

def test_stride_and_data_ptr_describe_the_memory(device):
    x = on(device, np.zeros((2, 3)))
    assert x.stride() == (3, 1) and x.T.stride() == (1, 3) and x.stride(-2) == 3
    assert x.expand(4, 2, 3).stride() == (0, 3, 1)
    assert x.detach().data_ptr() == x.data_ptr() != x.clone().data_ptr()
    assert x[1].data_ptr() == x.data_ptr() + 3 * x.element_size()


def test_type_names_and_casts(device):
    suffix = "" if device == "cpu" else f"{device}."
    assert on(device, [1.0]).type() == f"tinygrad_opt.{suffix}FloatTensor"
    assert on(device, [1]).type() == f"tinygrad_opt.{suffix}LongTensor"
    assert on(device, [True]).type() == f"tinygrad_opt.{suffix}BoolTensor"
    assert on(device, [1.0]).type(tg.float64).dtype == tg.float64
    assert on(device, [1.5]).type("torch.IntTensor").numpy().tolist() == [1]
    assert on(device, [1.5]).type("tinygrad_opt.DoubleTensor").dtype == tg.float64


def test_random_fills_follow_pytorch_s_parameterisations(device):
    n = 20000
    x = tg.zeros(n, dtype=tg.float64, device=device)
    samples = host(x.exponential_(2.0))
    assert samples.min() >= 0 and abs(samples.mean() - 0.5) < 0.02
    samples = host(x.geometric_(0.25))
    assert samples.min() == 1 and np.all(samples == np.round(samples))
    assert abs(samples.mean() - 4.0) < 0.1 and abs((samples == 1).mean() - 0.25) < 0.02
    samples = host(x.log_normal_(0.5, 0.25))
    assert abs(np.log(samples).mean() - 0.5) < 0.01 and abs(np.log(samples).std() - 0.25) < 0.01
    samples = host(x.random_(3, 7))
    assert set(np.unique(samples)) == {3.0, 4.0, 5.0, 6.0}
    assert set(np.unique(host(x.random_(2)))) == {0.0, 1.0}
    top = host(tg.zeros(n, dtype=tg.float32, device=device).random_())
    assert top.max() <= 2 ** 24 and top.max() > 2 ** 23 and np.all(top == np.round(top))
    small = host(tg.zeros(n, dtype=tg.int64, device=device).random_(-2, 1))
    assert set(np.unique(small)) == {-2, -1, 0}
    bools = tg.zeros(100, dtype=tg.bool_, device=device).random_()
    assert bools.dtype == tg.bool_ and 0 < host(bools).sum() < 100
    counts = host(tg.zeros(n, dtype=tg.int32, device=device).geometric_(0.5))
    assert counts.dtype == np.int32 and counts.min() == 1
    tg.manual_seed(3)
    first = host(tg.zeros(5, device=device).exponential_())
    tg.manual_seed(3)
    assert np.array_equal(first, host(tg.zeros(5, device=device).exponential_()))


def test_random_fills_refuse_a_leaf_that_requires_grad(device):
    x = leaf([1.0, 2.0], device)
    for fill in (lambda: x.exponential_(), lambda: x.geometric_(0.5),
                 lambda: x.log_normal_(), lambda: x.random_()):
        with pytest.raises(RuntimeError, match="leaf"):
            fill()
    with tg.no_grad():
        assert host(x.random_(1, 2)).tolist() == [1.0, 1.0]


def test_apply_calls_the_function_on_each_element_on_the_cpu_only(device):
    x = on(device, [[1.0, 2.0], [3.0, 4.0]])
    if device != "cpu":
        with pytest.raises(RuntimeError, match="apply_: only for CPU"):
            x.apply_(abs)
        return
    version = x._version
    assert x.apply_(lambda v: v * v + 1) is x
    assert host(x).tolist() == [[2.0, 5.0], [10.0, 17.0]] and x._version == version + 1
    y = on(device, [1, 2], tg.int32).apply_(lambda v: v / 2 + 1)
    assert y.dtype == tg.int32 and host(y).tolist() == [1, 2]
    with pytest.raises(RuntimeError, match="requires grad"):
        leaf([1.0], device).apply_(abs)


def test_fill_diagonal_wraps_a_tall_matrix_as_numpy(device):
    expected = np.zeros((7, 3))
    np.fill_diagonal(expected, 5.0, wrap=True)
    assert np.array_equal(host(tg.zeros(7, 3, device=device).fill_diagonal_(5.0, wrap=True)),
                          expected)
    expected = np.zeros((7, 3))
    np.fill_diagonal(expected, 5.0)
    assert np.array_equal(host(tg.zeros(7, 3, device=device).fill_diagonal_(5.0)), expected)
    cube = host(tg.zeros(2, 2, 2, device=device).fill_diagonal_(1.0))
    assert cube[0, 0, 0] == cube[1, 1, 1] == 1.0 and cube.sum() == 2.0


def test_svd_and_cholesky_top_level(device):
    a = np.random.default_rng(1).standard_normal((3, 2))
    U, S, V = tg.svd(on(device, a))
    np.testing.assert_allclose(host(U) @ np.diag(host(S)) @ host(V).T, a, atol=1e-12)
    U0, S0, V0 = tg.svd(on(device, a), compute_uv=False)
    assert host(U0).shape == (3, 3) and not host(U0).any() and host(V0).shape == (2, 2)
    np.testing.assert_allclose(host(S0), host(S), rtol=1e-12)
    spd = a.T @ a + np.eye(2)
    np.testing.assert_allclose(host(tg.cholesky(on(device, spd))), np.linalg.cholesky(spd),
                               rtol=1e-12)
    upper = host(tg.cholesky(on(device, spd), upper=True))
    np.testing.assert_allclose(upper.T @ upper, spd, rtol=1e-12)


def test_vmap_is_func_vmap(device):
    x = on(device, np.arange(6.0).reshape(2, 3))
    assert host(tg.vmap(lambda row: row.sum())(x)).tolist() == [3.0, 12.0]
    assert host(tg.vmap(lambda column: column * 2, in_dims=1, out_dims=1)(x)).tolist() == \
        (2 * np.arange(6.0).reshape(2, 3)).tolist()


def test_logspace_matches_numpy(device):
    np.testing.assert_allclose(host(tg.logspace(-1, 2, 4, base=2.0, dtype=tg.float64,
                                                device=device)),
                               np.logspace(-1, 2, 4, base=2.0), rtol=1e-12)
    x = tg.logspace(0, 1, 3, device=device, requires_grad=True)
    assert x.requires_grad and x.device == device
