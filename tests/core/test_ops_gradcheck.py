"""The op table: every differentiable op, first and second derivatives.

One line per op: ``Op(name, fn, number of inputs, input domain, shapes)``.
Each line runs ``tg.gradcheck`` (float64 central differences) and
``tg.gradgradcheck`` (the same for the derivative of the backward pass) on
shapes drawn by hypothesis: 0-3 dims, sizes 1-4, size-1 axes, and operands of
binary ops that broadcast against each other. Values come from the op's domain
(positive for log/sqrt, away from the kinks of abs/relu/clip, no ties for
max/min), so that finite differences are valid.
"""

from math import prod
from typing import Callable, NamedTuple

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg

# --- input domains: (rng, shapes) -> one float64 array per input ---


def real(rng, shape):
    return rng.uniform(-2.0, 2.0, shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from(*kinks, gap=0.1):
    """Real values at least ``gap`` from every kink (central differences need a smooth
    neighbourhood)."""
    def draw(rng, shape):
        values = real(rng, shape)
        for kink in kinks:
            near = np.abs(values - kink) < gap
            values[near] = kink + np.where(values[near] >= kink, gap, -gap) * 2
        return values
    return draw


nonzero = away_from(0.0)


def each(draw):
    """The same domain for every input."""
    return lambda rng, shapes: [draw(rng, shape) for shape in shapes]


def per_input(*draws):
    """One domain per input."""
    return lambda rng, shapes: [draw(rng, shape) for draw, shape in zip(draws, shapes)]


def distinct(rng, shapes):
    """Values that differ by at least 0.15 across all inputs: no ties for max/min/maximum."""
    sizes = [prod(shape) for shape in shapes]
    count = sum(sizes)
    values = (rng.permutation(count) - count / 2) * 0.25 + rng.uniform(-0.05, 0.05, count)
    pieces = np.split(values, np.cumsum(sizes)[:-1])
    return [piece.reshape(shape) for piece, shape in zip(pieces, shapes)]


def with_zeros(rng, shape):
    """Real values with about a third set to exactly 0 (products through a zero): the
    products are linear in each entry, so central differences stay exact there."""
    values = real(rng, shape)
    return np.where(rng.random(shape) < 0.35, 0.0, values)


REAL, POSITIVE, NONZERO = each(real), each(positive), each(nonzero)

# --- shapes: strategies for the list of input shapes ---


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """One shape for a unary op; mutually broadcastable shapes for more inputs."""
    def strategy(arity):
        if arity == 1:
            return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                    max_side=max_side).map(lambda shape: [shape])
        return hnp.mutually_broadcastable_shapes(
            num_shapes=arity, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
            max_side=max_side).map(lambda drawn: list(drawn.input_shapes))
    return strategy


def fixed(build, count):
    """Shapes made by ``build`` from ``count`` sizes drawn in 1..3 (matmul, cat)."""
    sizes = st.lists(st.integers(1, 3), min_size=count, max_size=count)
    return lambda arity: sizes.map(lambda drawn: build(*drawn))


ANY = shapes()
NONSCALAR = shapes(min_dims=1)
MATRIX = shapes(min_dims=2)
CUBE = shapes(min_dims=3)
SAME = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def same_shapes(arity):
    return SAME.map(lambda shape: [shape] * arity)


def cat_shapes(dim):
    """Shapes equal except along ``dim`` (0 or -1)."""
    def build(rest, first, second, third):
        if dim == 0:
            return [(first,) + rest, (second,) + rest, (third,) + rest]
        return [rest + (first,), rest + (second,), rest + (third,)]
    rests = hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3)
    sides = st.integers(1, 3)
    return lambda arity: st.builds(build, rests, sides, sides, sides).map(
        lambda drawn: drawn[:arity])


# --- helpers the table uses ---

OTHER_DEVICE = {"cpu": "strict", "strict": "cpu", "cuda": "cpu"}


def pattern_mask(x, shape=None):
    """A fixed boolean mask (every other element) on x's device."""
    shape = x.shape if shape is None else shape
    mask = (np.arange(prod(shape)) % 2 == 0).reshape(shape)
    return tg.tensor(mask, device=x.device)


def joined(pieces, dim):
    """Re-join pieces with a different weight each, so a misplaced piece shows."""
    return tg.cat([piece * (index + 1) for index, piece in enumerate(pieces)], dim)


class Op(NamedTuple):
    name: str
    fn: Callable
    arity: int
    domain: Callable = REAL
    shapes: Callable = ANY
    tolerance: dict = {}


OPS = [
    # arithmetic (binary ops broadcast their operands)
    Op("add", lambda a, b: a + b, 2),
    Op("sub", lambda a, b: a - b, 2),
    Op("mul", lambda a, b: a * b, 2),
    Op("div", lambda a, b: a / b, 2, per_input(real, nonzero)),
    Op("radd_scalar", lambda x: 2.5 + x, 1),
    Op("rsub_scalar", lambda x: 2.0 - x, 1),
    Op("rmul_scalar", lambda x: 3.0 * x, 1),
    Op("rdiv_scalar", lambda x: 2.0 / x, 1, NONZERO),
    Op("pow_int_scalar", lambda x: x ** 3, 1),
    Op("pow_float_scalar", lambda x: x ** 1.5, 1, POSITIVE),
    Op("pow_negative_scalar", lambda x: x ** -0.5, 1, POSITIVE),
    Op("pow_tensor_tensor", lambda a, b: a ** b, 2, per_input(positive, real)),
    Op("rpow_scalar", lambda x: 2.0 ** x, 1),
    Op("neg", lambda x: -x, 1),
    # elementwise
    Op("exp", lambda x: x.exp(), 1),
    Op("log", lambda x: x.log(), 1, POSITIVE),
    Op("sqrt", lambda x: x.sqrt(), 1, POSITIVE),
    Op("sin", lambda x: x.sin(), 1),
    Op("cos", lambda x: x.cos(), 1),
    Op("tanh", lambda x: x.tanh(), 1),
    Op("sigmoid", lambda x: x.sigmoid(), 1),
    Op("relu", lambda x: x.relu(), 1, NONZERO),
    Op("abs", lambda x: x.abs(), 1, NONZERO),
    Op("sign", lambda x: x.sign(), 1, NONZERO),  # gradient 0 away from 0
    Op("clone", lambda x: x.clone(), 1),
    Op("clip", lambda x: x.clip(-0.5, 0.5), 1, each(away_from(-0.5, 0.5))),
    Op("clip_min_only", lambda x: x.clip(min=0.3), 1, each(away_from(0.3))),
    Op("clamp_max_only", lambda x: x.clamp(max=-0.2), 1, each(away_from(-0.2))),
    Op("maximum", lambda a, b: tg.maximum(a, b), 2, distinct),
    Op("minimum", lambda a, b: tg.minimum(a, b), 2, distinct),
    Op("where", lambda a, b: tg.where(pattern_mask(a, np.broadcast_shapes(a.shape, b.shape)),
                                      a, b), 2),
    # reductions
    Op("sum_all", lambda x: x.sum(), 1),
    Op("sum_dim", lambda x: x.sum(dim=-1), 1, shapes=NONSCALAR),
    Op("sum_dims_keepdim", lambda x: x.sum(dim=(0, -1), keepdim=True), 1, shapes=MATRIX),
    Op("sum_axis_numpy", lambda x: x.sum(axis=0, keepdims=True), 1, shapes=NONSCALAR),
    Op("mean_all", lambda x: x.mean(), 1),
    Op("mean_dims_keepdim", lambda x: x.mean(dim=(0, -1), keepdim=True), 1, shapes=MATRIX),
    Op("var_biased", lambda x: x.var(dim=-1, correction=0), 1, shapes=NONSCALAR),
    Op("var_unbiased", lambda x: x.var(), 1, shapes=shapes(min_dims=1, min_side=2)),
    Op("var_unbiased_dim", lambda x: x.var(dim=0, keepdim=True), 1,
       shapes=shapes(min_dims=1, min_side=2)),
    Op("std", lambda x: x.std(dim=-1), 1, shapes=shapes(min_dims=1, min_side=2)),
    Op("max_all", lambda x: x.max(), 1, distinct),
    Op("max_dim", lambda x: x.max(dim=-1), 1, distinct, NONSCALAR),
    Op("max_dim_keepdim", lambda x: x.max(dim=0, keepdim=True), 1, distinct, NONSCALAR),
    Op("min_dim", lambda x: x.min(dim=-1), 1, distinct, NONSCALAR),
    Op("min_all", lambda x: x.min(), 1, distinct),
    Op("logsumexp_all", lambda x: x.logsumexp(), 1),
    Op("logsumexp_dim", lambda x: x.logsumexp(dim=-1, keepdim=True), 1, shapes=NONSCALAR),
    # running sums and products (ops/cumulative.py); prod is the last running product
    Op("cumsum_last", lambda x: x.cumsum(-1), 1),
    Op("cumsum_dim0", lambda x: tg.cumsum(x, 0), 1, shapes=NONSCALAR),
    Op("cumprod_last", lambda x: x.cumprod(-1), 1),
    Op("cumprod_dim0_zeros", lambda x: x.cumprod(0), 1, each(with_zeros), NONSCALAR),
    Op("cumprod_middle_zeros", lambda x: x.cumprod(1), 1, each(with_zeros), CUBE),
    Op("prod_all", lambda x: x.prod(), 1),
    Op("prod_all_zeros", lambda x: x.prod(), 1, each(with_zeros)),
    Op("prod_dim_keepdim_zeros", lambda x: x.prod(0, keepdim=True), 1, each(with_zeros),
       NONSCALAR),
    Op("prod_dims", lambda x: tg.prod(x, (0, -1)), 1, each(with_zeros), MATRIX),
    # shape
    Op("reshape", lambda x: x.reshape(-1, 1), 1),
    Op("view_reversed", lambda x: x.view(*reversed(x.shape)), 1),
    Op("transpose", lambda x: x.transpose(0, -1), 1, shapes=MATRIX),
    Op("T", lambda x: x.T, 1),
    Op("permute", lambda x: x.permute(2, 0, 1), 1, shapes=CUBE),
    Op("expand", lambda x: x.expand(2, *[3 if size == 1 else -1 for size in x.shape]), 1),
    Op("broadcast_to", lambda x: x.broadcast_to((2,) + tuple(3 if s == 1 else s
                                                             for s in x.shape)), 1),
    Op("squeeze_all", lambda x: x.squeeze(), 1),
    Op("squeeze_dim", lambda x: x.squeeze(0), 1, shapes=NONSCALAR),
    Op("unsqueeze", lambda x: x.unsqueeze(0), 1),
    Op("unsqueeze_last", lambda x: x.unsqueeze(-1), 1),
    Op("flatten", lambda x: x.flatten(), 1),
    Op("flatten_from_1", lambda x: x.flatten(1), 1, shapes=CUBE),
    # indexing (the backward is a scatter-add)
    Op("getitem_int", lambda x: x[0], 1, shapes=NONSCALAR),
    Op("getitem_slices", lambda x: x[1:, :2], 1, shapes=MATRIX),
    Op("getitem_none_ellipsis", lambda x: x[None, ..., -1], 1, shapes=NONSCALAR),
    Op("getitem_negative_step", lambda x: x[::-1, ..., ::-2], 1, shapes=MATRIX),
    Op("getitem_int_array_repeats", lambda x: x[[0, -1, 0, 0]], 1, shapes=NONSCALAR),
    Op("getitem_two_int_arrays", lambda x: x[[0, 0, -1], [-1, 0, -1]], 1, shapes=MATRIX),
    Op("getitem_tensor_index", lambda x: x[:, tg.tensor([0, 0, -1], device=x.device)], 1,
       shapes=MATRIX),
    Op("getitem_bool_mask", lambda x: x[pattern_mask(x)], 1, shapes=NONSCALAR),
    Op("getitem_bool_rows", lambda x: x[pattern_mask(x, x.shape[:1])], 1, shapes=NONSCALAR),
    # joining and splitting
    Op("cat_dim0", lambda a, b, c: tg.cat([a, b, c]), 3, shapes=cat_shapes(0)),
    Op("cat_dim_last", lambda a, b: tg.cat([a, b], dim=-1), 2, shapes=cat_shapes(-1)),
    Op("stack", lambda a, b: tg.stack([a, b]), 2, shapes=same_shapes),
    Op("stack_last", lambda a, b, c: tg.stack([a, b, c], dim=-1), 3, shapes=same_shapes),
    Op("split", lambda x: joined(x.split(2, dim=-1), -1), 1, shapes=NONSCALAR),
    Op("split_sections", lambda x: joined(x.split([1, x.shape[0] - 1]), 0), 1,
       shapes=shapes(min_dims=1, min_side=2)),
    Op("chunk", lambda x: joined(x.chunk(2, dim=0), 0), 1, shapes=NONSCALAR),
    # matrix products
    Op("matmul_1d_1d", lambda a, b: a @ b, 2, shapes=fixed(lambda k: [(k,), (k,)], 1)),
    Op("matmul_1d_2d", lambda a, b: a @ b, 2,
       shapes=fixed(lambda k, m: [(k,), (k, m)], 2)),
    Op("matmul_2d_1d", lambda a, b: a @ b, 2,
       shapes=fixed(lambda n, k: [(n, k), (k,)], 2)),
    Op("matmul_2d_2d", lambda a, b: a.matmul(b), 2,
       shapes=fixed(lambda n, k, m: [(n, k), (k, m)], 3)),
    Op("matmul_batched", lambda a, b: a @ b, 2,
       shapes=fixed(lambda b, n, k, m: [(b, n, k), (b, k, m)], 4)),
    Op("matmul_batched_3d_2d", lambda a, b: a @ b, 2,
       shapes=fixed(lambda b, n, k, m: [(b, n, k), (k, m)], 4)),
    Op("matmul_broadcast_batch", lambda a, b: a @ b, 2,
       shapes=fixed(lambda b, n, k, m: [(1, n, k), (b + 1, k, m)], 4)),
    Op("tg_matmul_batched_1d", lambda a, b: tg.matmul(a, b), 2,
       shapes=fixed(lambda b, n, k: [(b, n, k), (k,)], 3)),
    # dtype and device
    Op("astype_float64_noop", lambda x: x.astype(tg.float64), 1),
    Op("float32_round_trip", lambda x: x.float().double(), 1,
       tolerance=dict(eps=1e-3, atol=1e-4, rtol=1e-2)),
    Op("to_other_device", lambda x: x.to(OTHER_DEVICE[x.device]) * 2.0, 1),
]

SETTINGS = settings(max_examples=8, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def draw_domain(op, data):
    """(a generator, the op's input arrays) on shapes and a seed drawn by hypothesis; the
    generator starts where the arrays' did (the other op tables' files use this too)."""
    shapes_drawn = data.draw(op.shapes(op.arity), label="shapes")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    return np.random.default_rng(seed), op.domain(np.random.default_rng(seed), shapes_drawn)


def leaves(arrays, device, dtype=tg.float64):
    """The arrays as tensors that require grad."""
    return [tg.tensor(array, dtype=dtype, requires_grad=True, device=device) for array in arrays]


def host(t):
    """A tensor's values as a host array (an explicit copy on any device)."""
    return tg.backend.to_host(t.data)


def draw_inputs(op, device, data):
    return leaves(draw_domain(op, data)[1], device)


def test_table_names_are_unique():
    names = [op.name for op in OPS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
@SETTINGS
@given(data=st.data())
def test_gradcheck(op, device, data):
    inputs = draw_inputs(op, device, data)
    assert tg.gradcheck(op.fn, inputs, **op.tolerance)


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
@SETTINGS
@given(data=st.data())
def test_gradgradcheck(op, device, data):
    inputs = draw_inputs(op, device, data)
    assert tg.gradgradcheck(op.fn, inputs, **op.tolerance)


# --- forward values against independent NumPy formulas ---

A = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
B = np.array([0.2, 1.0, -3.0])
M = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])

FORWARD = [
    # name, tinygrad_opt expression, NumPy formula (on A, B, M)
    ("add_broadcast", lambda a, b, m: a + b, lambda a, b, m: a + b),
    ("sub", lambda a, b, m: a - b, lambda a, b, m: a - b),
    ("mul", lambda a, b, m: a * b, lambda a, b, m: a * b),
    ("div", lambda a, b, m: a / b, lambda a, b, m: a / b),
    ("pow", lambda a, b, m: a.abs() ** b, lambda a, b, m: np.abs(a) ** b),
    ("exp", lambda a, b, m: a.exp(), lambda a, b, m: np.exp(a)),
    ("log", lambda a, b, m: a.abs().log(), lambda a, b, m: np.log(np.abs(a))),
    ("sqrt", lambda a, b, m: a.abs().sqrt(), lambda a, b, m: np.sqrt(np.abs(a))),
    ("sin_cos", lambda a, b, m: a.sin() + a.cos(), lambda a, b, m: np.sin(a) + np.cos(a)),
    ("tanh", lambda a, b, m: a.tanh(), lambda a, b, m: np.tanh(a)),
    ("sigmoid", lambda a, b, m: a.sigmoid(), lambda a, b, m: 1 / (1 + np.exp(-a))),
    ("relu", lambda a, b, m: a.relu(), lambda a, b, m: np.where(a > 0, a, 0.0)),
    ("sign", lambda a, b, m: a.sign(), lambda a, b, m: np.sign(a)),
    ("clip", lambda a, b, m: a.clip(-0.5, 1.0), lambda a, b, m: np.minimum(np.maximum(a, -0.5), 1)),
    ("maximum", lambda a, b, m: tg.maximum(a, b), lambda a, b, m: np.where(a > b, a, b)),
    ("minimum", lambda a, b, m: tg.minimum(a, b), lambda a, b, m: np.where(a < b, a, b)),
    ("where", lambda a, b, m: tg.where(a > 0, a, b), lambda a, b, m: np.where(a > 0, a, b)),
    ("sum", lambda a, b, m: a.sum(dim=1), lambda a, b, m: a[:, 0] + a[:, 1] + a[:, 2]),
    ("mean", lambda a, b, m: a.mean(), lambda a, b, m: a.sum() / a.size),
    ("var_unbiased", lambda a, b, m: a.var(dim=1),
     lambda a, b, m: ((a - a.mean(1, keepdims=True)) ** 2).sum(1) / 2),
    ("var_biased", lambda a, b, m: a.var(correction=0),
     lambda a, b, m: ((a - a.mean()) ** 2).sum() / 6),
    ("std", lambda a, b, m: a.std(dim=0), lambda a, b, m: np.abs(a[0] - a[1]) / np.sqrt(2)),
    ("cumsum", lambda a, b, m: a.cumsum(1), lambda a, b, m: np.cumsum(a, 1)),
    ("cumprod", lambda a, b, m: m.cumprod(0), lambda a, b, m: np.cumprod(m, 0)),
    ("prod", lambda a, b, m: a.prod(1), lambda a, b, m: np.prod(a, 1)),
    ("prod_all_with_zero", lambda a, b, m: m.prod(), lambda a, b, m: np.prod(m)),
    ("max", lambda a, b, m: a.max(dim=0), lambda a, b, m: np.where(a[0] > a[1], a[0], a[1])),
    ("min", lambda a, b, m: a.min(), lambda a, b, m: np.sort(a.ravel())[0]),
    ("logsumexp", lambda a, b, m: a.logsumexp(dim=1),
     lambda a, b, m: np.log(np.exp(a).sum(axis=1))),
    ("matmul", lambda a, b, m: a @ m, lambda a, b, m: np.einsum("ik,kj->ij", a, m)),
    ("matvec", lambda a, b, m: a @ b, lambda a, b, m: (a * b).sum(axis=1)),
    ("getitem", lambda a, b, m: a[[1, 1, 0], ::-1],
     lambda a, b, m: np.stack([a[1, ::-1], a[1, ::-1], a[0, ::-1]])),
    ("cat", lambda a, b, m: tg.cat([a, b.reshape(1, 3)]), lambda a, b, m: np.vstack([a, b])),
    ("stack", lambda a, b, m: tg.stack([b, b * 2], dim=1),
     lambda a, b, m: np.column_stack([b, b * 2])),
    ("permute", lambda a, b, m: a.reshape(1, 2, 3).permute(2, 0, 1),
     lambda a, b, m: a.T.reshape(3, 1, 2)),
]


@pytest.mark.parametrize("name, ours, reference", FORWARD, ids=[line[0] for line in FORWARD])
def test_forward_matches_numpy(name, ours, reference, device):
    a, b, m = (tg.tensor(array, device=device) for array in (A, B, M))
    result = ours(a, b, m)
    assert result.device == device and result.dtype == np.float64
    np.testing.assert_allclose(result.numpy(), reference(A, B, M), rtol=1e-12, atol=1e-12)


def test_sigmoid_is_stable_at_large_inputs(device):
    x = tg.tensor([-1000.0, -30.0, 0.0, 30.0, 1000.0], requires_grad=True, device=device)
    # overflow (exp(1000)) would be the bug; underflow (exp(-1000) = 0) is the right answer
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = x.sigmoid()
        y.sum().backward()
    expected = np.array([0.0, np.exp(-30.0) / (1 + np.exp(-30.0)), 0.5,
                         1 / (1 + np.exp(-30.0)), 1.0])
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    assert y.dtype == np.float32
    # dy/dx = y(1 - y): in float32, 1 - y is 0 once y rounds to 1 (as in PyTorch)
    np.testing.assert_allclose(x.grad.numpy(), expected * (1 - expected), rtol=1e-5, atol=1e-12)


def test_logsumexp_of_huge_values_and_minus_infinity(device):
    x = tg.tensor([[1000.0, 1000.0, -np.inf], [-1000.0, -1000.5, -999.0],
                   [-np.inf, 0.0, -np.inf]], dtype=tg.float64, device=device)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        result = x.logsumexp(dim=1)
    expected = [1000.0 + np.log(2.0),
                -999.0 + np.log(np.exp(-1.0) + np.exp(-1.5) + 1.0),
                0.0]
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12)
    all_minus_infinity = tg.tensor([[-np.inf, -np.inf], [0.0, 0.0]], device=device)
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer; NumPy warns
        result = all_minus_infinity.logsumexp(dim=-1, keepdim=True)
    np.testing.assert_allclose(result.numpy(), [[-np.inf], [np.log(2.0)]])


def test_max_and_min_share_the_gradient_among_ties(device):
    x = tg.tensor([1.0, 3.0, 3.0], requires_grad=True, device=device)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.5, 0.5])
    y = tg.tensor([2.0, 1.0, 1.0], requires_grad=True, device=device)
    y.min().backward()
    np.testing.assert_allclose(y.grad.numpy(), [0.0, 0.5, 0.5])
    rows = tg.tensor([[5.0, 5.0, 5.0], [1.0, 4.0, 2.0]], requires_grad=True, device=device)
    rows.max(dim=1).sum().backward()
    np.testing.assert_allclose(rows.grad.numpy(), [[1 / 3, 1 / 3, 1 / 3], [0.0, 1.0, 0.0]])


def test_maximum_and_minimum_ties_give_half_to_each(device):
    a = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    b = tg.tensor([1.0, 5.0, 0.0], requires_grad=True, device=device)
    tg.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.5, 1.0, 0.0])
    a.grad, b.grad = None, None
    tg.minimum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 1.0, 0.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.5, 0.0, 1.0])


def test_relu_abs_clip_derivative_at_the_kink(device):
    x = tg.tensor([-1.0, 0.0, 2.0], requires_grad=True, device=device)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])
    x.grad = None
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0, 1.0])
    x.grad = None
    x.clip(-1.0, 1.0).sum().backward()  # the edges count as inside
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 0.0])


def test_integer_index_repeats_accumulate(device):
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])
