"""More of PyTorch's everyday Tensor surface (ops/rearrange.py): cdist, block_diag, cross,
atleast_*d, vander, rot90, ravel, scatter_reduce, index_reduce, unique(dim=),
unique_consecutive, and the in-place math methods (sin_, clamp_min_, floor_, ...).

``SURFACE_OPS`` is this file's op table. Every function here is a composition of the
core ops (no Function of its own; the table also holds ops/surface_more.py's Igamma), so
test_two_modes.py needs it only for coverage;
gradcheck, gradgradcheck (float64) and the two-path comparison run over it here. Then:
values against NumPy expressions written here (a broadcast formula for cdist, hand-built
blocks, a Python loop over the indices for scatter_reduce), gradients derived by hand at
the points where PyTorch picks one (zero distance, ties, zeros in a product), the in-place
variants against their out-of-place ops, and errors.
"""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_ops_gradcheck import (MATRIX, NONSCALAR, NONZERO, POSITIVE, REAL, Op, away_from,
                                distinct, each, fixed, per_input, real, shapes, with_zeros)
from test_two_modes import assert_the_two_paths_agree

MODIFIED = "modified by an in-place operation"


def ints(values, like):
    """An int64 tensor on ``like``'s device."""
    return tg.tensor(np.asarray(values, dtype=np.int64), device=like.device)


def host(t):
    return tg.backend.to_host(t.data)


def leaf(values, device, dtype=tg.float64):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, requires_grad=True,
                     device=device)


# --- helpers the table uses ---

def repeated_rows(n, k, m):
    """An index (k, m) into n rows along dim 0 with repeats: entry (i, j) is (i·m + j) mod n."""
    return np.arange(k * m).reshape(k, m) % n


def scatter_reduce_with(reduce, include_self=True):
    def fn(x, src):
        index = ints(repeated_rows(x.shape[0], src.shape[0], x.shape[1]), x)
        return x.scatter_reduce(0, index, src, reduce, include_self=include_self)
    return fn


def index_reduce_with(reduce, include_self=True):
    def fn(x, source):   # source (n, 3) into the columns 0, 0, last of x (n, m)
        index = ints([0, 0, x.shape[1] - 1], x)
        return tg.index_reduce(x, 1, index, source, reduce, include_self=include_self)
    return fn


def flat_weighted(pieces):
    """The pieces flattened and joined, each with its own weight, so a misplaced one shows."""
    return tg.cat([piece.reshape(-1) * (position + 1) for position, piece in enumerate(pieces)])


TWO_SETS = fixed(lambda p, r, m: [(p, m), (r, m)], 3)
INTO_ROWS = fixed(lambda n, m, k: [(n, m), (k + 1, m)], 3)
INTO_COLUMNS = fixed(lambda n, m: [(n, m), (n, 3)], 2)
ONE_D = shapes(min_dims=1, max_dims=1)
NO_TIES = distinct      # values at least 0.15 apart: no ties for amax/amin/p=inf

SURFACE_OPS = [
    # cdist: every p, batched with broadcasting
    Op("cdist_p2", lambda a, b: tg.cdist(a, b), 2, NO_TIES, TWO_SETS),
    Op("cdist_p1", lambda a, b: tg.cdist(a, b, p=1), 2, NO_TIES, TWO_SETS),
    Op("cdist_p3", lambda a, b: tg.cdist(a, b, p=3.0), 2, NO_TIES, TWO_SETS),
    Op("cdist_p_half", lambda a, b: tg.cdist(a, b, p=0.5), 2, NO_TIES, TWO_SETS,
       dict(atol=1e-5, rtol=1e-4)),
    Op("cdist_inf", lambda a, b: tg.cdist(a, b, p=float("inf")), 2, NO_TIES, TWO_SETS),
    Op("cdist_p0", lambda a, b: tg.cdist(a, b, p=0), 2, NO_TIES, TWO_SETS),
    Op("cdist_batched", lambda a, b: tg.cdist(a, b), 2, NO_TIES,
       fixed(lambda p, r, m: [(2, 1, p, m), (3, r, m)], 3)),
    # blocks, cross products, shapes
    Op("block_diag", lambda a, b, c: tg.block_diag(a, b, c), 3,
       shapes=fixed(lambda n, m, k: [(n, m), (k,), ()], 3)),
    Op("cross_dim_none", lambda a, b: tg.cross(a, b), 2,
       shapes=fixed(lambda n, m: [(n, 3, m), (n, 3, m)], 2)),
    Op("cross_broadcast", lambda a, b: a.cross(b, dim=-1), 2,
       shapes=fixed(lambda n: [(1, 3), (n, 3)], 1)),
    Op("atleast_3d", lambda a, b, c: flat_weighted(tg.atleast_3d(a, b, c)), 3,
       shapes=fixed(lambda n: [(), (n,), (n, 1)], 1)),
    Op("vander", lambda x: tg.vander(x, N=4), 1, each(with_zeros), ONE_D),
    Op("vander_increasing", lambda x: tg.vander(x, increasing=True), 1, REAL,
       shapes(min_dims=1, max_dims=1, min_side=2)),      # (N = 1: ones, no gradient)
    Op("rot90", lambda x: x.rot90(), 1, shapes=MATRIX),
    Op("rot90_back", lambda x: tg.rot90(x, -1, (0, -1)), 1, shapes=MATRIX),
    Op("rot90_twice", lambda x: tg.rot90(x, 2, [-1, -2]), 1, shapes=MATRIX),
    Op("ravel", lambda x: tg.ravel(x), 1),
    # reducing into places
    Op("scatter_reduce_sum", scatter_reduce_with("sum"), 2, shapes=INTO_ROWS),
    Op("scatter_reduce_sum_no_self", scatter_reduce_with("sum", False), 2, shapes=INTO_ROWS),
    Op("scatter_reduce_mean", scatter_reduce_with("mean"), 2, shapes=INTO_ROWS),
    Op("scatter_reduce_mean_no_self", scatter_reduce_with("mean", False), 2,
       shapes=INTO_ROWS),
    Op("scatter_reduce_prod", scatter_reduce_with("prod"), 2, each(with_zeros), INTO_ROWS),
    Op("scatter_reduce_prod_no_self", scatter_reduce_with("prod", False), 2, each(with_zeros),
       INTO_ROWS),
    Op("scatter_reduce_amax", scatter_reduce_with("amax"), 2, NO_TIES, INTO_ROWS),
    Op("scatter_reduce_amin_no_self", scatter_reduce_with("amin", False), 2, NO_TIES,
       INTO_ROWS),
    Op("index_reduce_prod", index_reduce_with("prod"), 2, each(with_zeros), INTO_COLUMNS),
    Op("index_reduce_mean_no_self", index_reduce_with("mean", False), 2, shapes=INTO_COLUMNS),
    Op("index_reduce_amax", index_reduce_with("amax"), 2, NO_TIES, INTO_COLUMNS),
    # in-place math through a non-leaf: x[...] = x.op(...), recorded as SetItem
    Op("sin_", lambda x: (x * 1.0).sin_(), 1),
    Op("cos_", lambda x: (x * 1.0).cos_(), 1),
    Op("reciprocal_", lambda x: (x * 1.0).reciprocal_(), 1, NONZERO),
    Op("clamp_min_", lambda x: (x * 1.0).clamp_min_(0.3), 1, each(away_from(0.3))),
    Op("clamp_max_tensor_", lambda x, m: (x * 1.0).clamp_max_(m), 2,
       per_input(real, lambda rng, shape: real(rng, shape) + 0.05),
       fixed(lambda n, m: [(n, m), (m,)], 2)),
    Op("floor_", lambda x: (x * 2.0).floor_() * x, 1, each(away_from(-1.0, 0.0, 1.0))),
    Op("round_", lambda x: (x * 1.0).round_(decimals=1) + x, 1, POSITIVE),
    # the one op of ops/surface_more.py (its other functions: tests/core/test_surface_gaps.py);
    # a is a constant, as the gradient in a is not implemented (as PyTorch)
    Op("igamma_x", lambda x: tg.igamma(x.detach() * 0 + 2.5, x), 1, POSITIVE),
    Op("igammac_x", lambda x: tg.igammac(x.detach() * 0 + 0.7, x), 1, POSITIVE),
]

SETTINGS = settings(max_examples=2, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
IDS = [op.name for op in SURFACE_OPS]


def draw(op, data):
    shapes_drawn = data.draw(op.shapes(op.arity), label="shapes")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    return np.random.default_rng(seed), op.domain(np.random.default_rng(seed), shapes_drawn)


def leaves(arrays, device):
    return [tg.tensor(array, dtype=tg.float64, requires_grad=True, device=device)
            for array in arrays]


def test_table_names_are_unique():
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("op", SURFACE_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradcheck(op, device, data):
    _, arrays = draw(op, data)
    assert tg.gradcheck(op.fn, leaves(arrays, device), **op.tolerance)


@pytest.mark.parametrize("op", SURFACE_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradgradcheck(op, device, data):
    _, arrays = draw(op, data)
    assert tg.gradgradcheck(op.fn, leaves(arrays, device), **op.tolerance)


@pytest.mark.parametrize("op", SURFACE_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    rng, arrays = draw(op, data)
    assert_the_two_paths_agree(op, arrays, rng, device, same_output_dtype=True)


# --- cdist ---

def cdist_reference(a, b, p):
    """The broadcast formula: d[..., i, j, k] = a[..., i, k] − b[..., j, k]."""
    d = np.abs(a[..., :, None, :] - b[..., None, :, :])
    if p == 0:
        return (d != 0).sum(-1).astype(a.dtype)
    if p == np.inf:
        return d.max(-1)
    return (d ** p).sum(-1) ** (1.0 / p)


@pytest.mark.parametrize("p", [0, 1, 2, 3, 0.5, np.inf])
def test_cdist_matches_the_broadcast_formula(p, device, rng):
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((1, 5, 4))
    b[0, 0] = a[1, 2]                                     # one zero distance
    b[0, 1, :2] = a[0, 0, :2]                             # and a distance with d_k = 0
    ours = tg.cdist(tg.tensor(a, device=device), tg.tensor(b, device=device), p=p)
    assert ours.shape == (2, 3, 5) and ours.dtype == tg.float64
    np.testing.assert_allclose(host(ours), cdist_reference(a, b, p), rtol=1e-12, atol=1e-14)
    assert host(ours)[1, 2, 0] == 0.0


def test_cdist_float32_and_empty_columns(device):
    a = tg.tensor([[0.0, 3.0], [1.0, 1.0]], device=device)
    b = tg.tensor([[4.0, 0.0]], device=device)
    distances = tg.cdist(a, b)
    assert distances.dtype == tg.float32
    assert host(distances).tolist() == [[5.0], [np.float32(np.sqrt(10.0))]]
    empty = tg.cdist(tg.zeros(2, 0, device=device), tg.zeros(3, 0, device=device))
    assert host(empty).tolist() == [[0.0] * 3] * 2


@pytest.mark.parametrize("p", [2, 3.0, 1.5, 0.5, 1])
def test_cdist_gradient_is_zero_at_zero_distance(p, device):
    # PyTorch's _cdist_backward: 0 where dist = 0 (and, for p < 1, where d = 0).
    x1 = leaf([[1.0, 2.0], [0.0, 0.0]], device)
    x2 = leaf([[1.0, 2.0]], device)                        # row 0 of x1: distance 0
    (g1, g2) = tg.grad(tg.cdist(x1, x2, p=p).sum(), [x1, x2])
    d = np.array([-1.0, -2.0])                            # x1[1] − x2[0]
    dist = (np.abs(d) ** p).sum() ** (1 / p)
    expected = np.sign(d) * np.abs(d) ** (p - 1) / dist ** (p - 1)
    np.testing.assert_allclose(host(g1), [[0.0, 0.0], expected], rtol=1e-13)
    np.testing.assert_allclose(host(g2), [-expected], rtol=1e-13)


def test_cdist_gradient_for_p_below_one_is_zero_at_a_zero_coordinate(device):
    x1 = leaf([[1.0, 3.0]], device)
    x2 = leaf([[1.0, 2.0]], device)                        # d = (0, 1): dist = 1
    (g1,) = tg.grad(tg.cdist(x1, x2, p=0.5).sum(), [x1])
    assert host(g1).tolist() == [[0.0, 1.0]]              # no inf · 0 = NaN at d = 0


def test_cdist_inf_gives_every_tied_coordinate_the_whole_gradient(device):
    # PyTorch: grad · sign(d) · [|d| = dist], each tie in full (amax would share it).
    x1 = leaf([[3.0, -1.0, 0.5]], device)
    x2 = leaf([[1.0, 1.0, 0.0]], device)                   # d = (2, −2, 0.5): two ties
    (g1, g2) = tg.grad(tg.cdist(x1, x2, p=float("inf")).sum(), [x1, x2])
    assert host(g1).tolist() == [[1.0, -1.0, 0.0]]
    assert host(g2).tolist() == [[-1.0, 1.0, 0.0]]
    (g0,) = tg.grad(tg.cdist(x1, x1.detach(), p=float("inf")).sum(), [x1])
    assert host(g0).tolist() == [[0.0, 0.0, 0.0]]         # dist 0: sign(0) = 0


def test_cdist_p0_counts_and_has_a_zero_gradient(device):
    x1 = leaf([[1.0, 2.0, 3.0]], device)
    x2 = leaf([[1.0, 0.0, 0.0], [1.0, 2.0, 3.0]], device)
    distances = tg.cdist(x1, x2, p=0)
    assert host(distances).tolist() == [[2.0, 0.0]] and distances.requires_grad
    distances.sum().backward()
    assert host(x1.grad).tolist() == [[0.0, 0.0, 0.0]]


def test_cdist_p2_gradient_by_hand(device):
    x1 = leaf([[0.0, 0.0]], device)
    x2 = leaf([[3.0, 4.0]], device)
    tg.cdist(x1, x2).sum().backward()                     # d/dx1 |x1 − x2| = (x1 − x2) / 5
    np.testing.assert_allclose(host(x1.grad), [[-0.6, -0.8]], rtol=1e-15)
    np.testing.assert_allclose(host(x2.grad), [[0.6, 0.8]], rtol=1e-15)


# --- block_diag, cross, atleast, vander, rot90, ravel ---

def test_block_diag_matches_hand_built_arrays(device):
    a = tg.tensor([[1, 2], [3, 4]], device=device)
    b = tg.tensor([5.0, 6.0, 7.0], dtype=tg.float32, device=device)
    c = tg.tensor(8, device=device)
    result = tg.block_diag(a, b, c)
    expected = np.array([[1, 2, 0, 0, 0, 0],
                         [3, 4, 0, 0, 0, 0],
                         [0, 0, 5, 6, 7, 0],
                         [0, 0, 0, 0, 0, 8]], dtype=np.float32)
    assert result.dtype == tg.float32 and result.device == device   # int64 meets float32
    np.testing.assert_array_equal(host(result), expected)
    assert tg.block_diag(a).dtype == tg.int64
    assert tg.block_diag(a, tg.zeros(0, 2, device=device)).shape == (2, 4)
    assert tg.block_diag().shape == (1, 0)                  # as torch.block_diag()
    assert tg.block_diag(b, tg.tensor(1.0, dtype=tg.float64, device=device)).dtype == tg.float32


def test_block_diag_gradient_is_each_block_of_the_output_gradient(device):
    a, b = leaf([[1.0, 2.0]], device), leaf([3.0], device)
    weights = tg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    (tg.block_diag(a, b) * weights).sum().backward()
    assert host(a.grad).tolist() == [[0.0, 1.0]] and host(b.grad).tolist() == [5.0]


def test_cross_matches_numpy(device, rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    ours = tg.cross(tg.tensor(a, device=device), tg.tensor(b, device=device))
    np.testing.assert_allclose(host(ours), np.cross(a, b), rtol=1e-14)
    # dim=None: the first dim of size 3 (here 0, where linalg.cross would take -1)
    a, b = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    ta, tb = tg.tensor(a, device=device), tg.tensor(b, device=device)
    np.testing.assert_allclose(host(ta.cross(tb)), np.cross(a, b, axis=0), rtol=1e-14)
    np.testing.assert_allclose(host(tg.cross(ta, tb, dim=-1)), np.cross(a, b), rtol=1e-14)
    # broadcasting over the other dims, and integers
    a, b = rng.standard_normal((1, 3, 2)), rng.standard_normal((5, 3, 2))
    ours = tg.cross(tg.tensor(a, device=device), tg.tensor(b, device=device), dim=1)
    np.testing.assert_allclose(host(ours), np.cross(a, b, axis=1), rtol=1e-14)
    e1, e2 = ints([1, 0, 0], ours), ints([0, 1, 0], ours)
    assert tg.cross(e1, e2).dtype == tg.int64 and host(tg.cross(e1, e2)).tolist() == [0, 0, 1]


def test_cross_gradient_by_hand(device):
    a, b = leaf([1.0, 2.0, 3.0], device), leaf([4.0, 5.0, 6.0], device)
    g = tg.tensor([1.0, 0.0, 0.0], dtype=tg.float64, device=device)
    (tg.cross(a, b) * g).sum().backward()   # y0 = a1 b2 − a2 b1
    assert host(a.grad).tolist() == [0.0, 6.0, -5.0] and host(b.grad).tolist() == [0.0, -3.0, 2.0]


def test_atleast(device):
    scalar, vector = tg.tensor(1.0, device=device), tg.tensor([1.0, 2.0], device=device)
    matrix = tg.ones(2, 3, device=device)
    assert tg.atleast_1d(scalar).shape == (1,) and tg.atleast_1d(vector) is vector
    assert [t.shape for t in tg.atleast_2d(scalar, vector, matrix)] == [(1, 1), (1, 2), (2, 3)]
    assert [t.shape for t in tg.atleast_3d([scalar, vector, matrix])] == [
        (1, 1, 1), (1, 2, 1), (2, 3, 1)]
    assert [t.shape for t in tg.atleast_3d(scalar, vector, matrix)] == [
        np.atleast_3d(np.ones(s)).shape for s in [(), (2,), (2, 3)]]
    assert isinstance(tg.atleast_2d([vector]), tuple) and tg.atleast_1d() == ()
    cube = tg.ones(1, 2, 3, 4, device=device)
    assert tg.atleast_3d(cube) is cube


def test_vander_matches_numpy(device):
    x = np.array([2.0, -1.0, 0.0, 3.0])
    for N, increasing in [(None, False), (6, True), (1, False), (0, True)]:
        ours = tg.vander(tg.tensor(x, device=device), N, increasing)
        np.testing.assert_array_equal(host(ours), np.vander(x, N, increasing))
        assert ours.dtype == tg.float64
    integers = tg.vander(tg.tensor([1, 2, 3], dtype=tg.int32, device=device), increasing=True)
    assert integers.dtype == tg.int64
    assert host(integers).tolist() == [[1, 1, 1], [1, 2, 4], [1, 3, 9]]


def test_vander_gradient_at_zero_is_exact(device):
    x = leaf([0.0, 2.0], device)
    tg.vander(x, 4).sum().backward()             # d/dx (x³ + x² + x + 1) = 3x² + 2x + 1
    assert host(x.grad).tolist() == [1.0, 17.0]


def test_rot90_matches_numpy(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = tg.tensor(a, device=device)
    for k in range(-5, 6):
        for dims in [(0, 1), (1, 0), (0, -1), (2, 1)]:
            np.testing.assert_array_equal(host(tg.rot90(x, k, dims)), np.rot90(a, k, dims))
    assert host(x.rot90()).tolist() == np.rot90(a).tolist()
    rotated = x.rot90(4)
    rotated[...] = 0.0                                  # new memory, as PyTorch
    assert host(x).tolist() == a.tolist()


def test_ravel(device):
    x = tg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    assert host(tg.ravel(x)).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert x.T.ravel().tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    assert tg.ravel(tg.tensor(7.0, device=device)).shape == (1,)


def test_top_level_aliases_exist():
    for name in ("flatten", "ravel", "squeeze", "unsqueeze", "transpose", "permute", "reshape",
                 "cartesian_prod"):
        assert callable(getattr(tg, name)), name


# --- scatter_reduce and index_reduce ---

IDENTITY = {"sum": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}


def scatter_reduce_reference(x, dim, index, src, reduce, include_self):
    """A Python loop over the indices: gather each place's group, then reduce it."""
    groups = {position: ([x[position]] if include_self else [])
              for position in itertools.product(*map(range, x.shape))}
    targeted = set()
    for position in itertools.product(*map(range, index.shape)):
        target = list(position)
        target[dim] = index[position]
        groups[tuple(target)].append(src[position])
        targeted.add(tuple(target))
    out = x.copy()
    for place, group in groups.items():
        if place not in targeted:
            continue
        if reduce == "sum":
            out[place] = sum(group)
        elif reduce == "prod":
            out[place] = np.prod(group)
        elif reduce == "amax":
            out[place] = max(group)
        elif reduce == "amin":
            out[place] = min(group)
        elif np.issubdtype(x.dtype, np.floating):
            out[place] = sum(group) / len(group)
        else:
            out[place] = sum(group) // len(group)
    return out


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_matches_a_loop(reduce, include_self, device, rng):
    x = rng.integers(-3, 4, (3, 4)).astype(np.float64)
    src = rng.integers(-3, 4, (4, 3)).astype(np.float64)
    index = rng.integers(0, 3, (2, 3))                     # covers src[:2, :3]
    for dim, index_used in [(0, index), (1, rng.integers(0, 4, (3, 2)))]:
        ours = tg.tensor(x, device=device).scatter_reduce(
            dim, ints(index_used, tg.tensor(x, device=device)), tg.tensor(src, device=device),
            reduce, include_self=include_self)
        expected = scatter_reduce_reference(x, dim, index_used, src, reduce, include_self)
        np.testing.assert_allclose(host(ours), expected, rtol=1e-14)
    # integers: the mean floor-divides, as PyTorch
    xi, srci = x.astype(np.int64), src.astype(np.int64)
    t = tg.tensor(xi, device=device)
    ours = tg.scatter_reduce(t, 0, ints(index, t), tg.tensor(srci, device=device), reduce,
                             include_self=include_self)
    assert ours.dtype == tg.int64
    np.testing.assert_array_equal(host(ours),
                                  scatter_reduce_reference(xi, 0, index, srci, reduce,
                                                           include_self))


def test_index_reduce_matches_a_loop(device, rng):
    x = rng.standard_normal((3, 4))
    source = rng.standard_normal((3, 5))
    index = np.array([0, 3, 0, 0, 2])
    for reduce in ("prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            t = tg.tensor(x, device=device)
            ours = t.index_reduce(1, ints(index, t), tg.tensor(source, device=device), reduce,
                                  include_self=include_self)
            full_index = np.broadcast_to(index, source.shape)
            expected = scatter_reduce_reference(x, 1, full_index, source, reduce, include_self)
            np.testing.assert_allclose(host(ours), expected, rtol=1e-14)


def test_scatter_reduce_amax_ties_share_the_gradient_self_included(device):
    # PyTorch: the gradient is shared equally among the members equal to the result.
    x = leaf([1.0, 5.0, 3.0], device)
    src = leaf([5.0, 5.0, 2.0, 3.0], device)
    index = ints([1, 1, 0, 2], x)
    out = x.scatter_reduce(0, index, src, "amax")         # [max(1, 2), max(5, 5, 5), max(3, 3)]
    assert host(out).tolist() == [2.0, 5.0, 3.0]
    out.sum().backward()
    np.testing.assert_allclose(host(x.grad), [0.0, 1 / 3, 1 / 2], rtol=1e-15)
    np.testing.assert_allclose(host(src.grad), [1 / 3, 1 / 3, 1.0, 1 / 2], rtol=1e-15)
    x.grad = None
    low = leaf([1.0, 7.0, 1.0, 3.0], device)
    out = x.scatter_reduce(0, index, low, "amin")         # [min(1, 1), min(5, 1, 7), min(3, 3)]
    assert host(out).tolist() == [1.0, 1.0, 3.0]
    out.sum().backward()
    np.testing.assert_allclose(host(x.grad), [0.5, 0.0, 0.5], rtol=1e-15)
    np.testing.assert_allclose(host(low.grad), [1.0, 0.0, 0.5, 0.5], rtol=1e-15)


def test_scatter_reduce_without_self_gives_self_nothing_where_written(device):
    # x[1] = 5 equals the max of the src values sent there but takes no part: src gets
    # the whole gradient (PyTorch's backward would count x[1] among the ties and lose half).
    x = leaf([1.0, 5.0], device)
    src = leaf([5.0, 1.0], device)
    out = x.scatter_reduce(0, ints([1, 1], x), src, "amax", include_self=False)
    out.sum().backward()
    assert host(out).tolist() == [1.0, 5.0]
    assert host(x.grad).tolist() == [1.0, 0.0] and host(src.grad).tolist() == [1.0, 0.0]


def test_scatter_reduce_prod_gradient_with_zeros(device):
    # dL/dmember = product of the other members: exact with one zero or two
    x = leaf([2.0, 0.0, 3.0], device)
    src = leaf([0.0, 4.0, 5.0, 0.0, 7.0], device)
    index = ints([0, 0, 1, 2, 2], x)
    out = x.scatter_reduce(0, index, src, "prod")    # [2·0·4, 0·5, 3·0·7]
    out.sum().backward()
    assert host(out).tolist() == [0.0, 0.0, 0.0]
    assert host(x.grad).tolist() == [0.0, 5.0, 0.0]
    assert host(src.grad).tolist() == [8.0, 0.0, 0.0, 21.0, 0.0]


def test_scatter_reduce_mean_gradient_is_one_over_the_count(device):
    x = leaf([1.0, 1.0, 1.0], device)
    src = leaf([1.0, 1.0, 1.0], device)
    x.scatter_reduce(0, ints([0, 0, 2], x), src, "mean").sum().backward()
    np.testing.assert_allclose(host(x.grad), [1 / 3, 1.0, 1 / 2], rtol=1e-15)
    np.testing.assert_allclose(host(src.grad), [1 / 3, 1 / 3, 1 / 2], rtol=1e-15)


def test_scatter_reduce_in_place(device):
    x = tg.zeros(3, device=device)
    assert x.scatter_reduce_(0, ints([0, 0, 2], x), tg.tensor([1.0, 2.0, 3.0], device=device),
                             "amax", include_self=False) is x
    assert host(x).tolist() == [2.0, 0.0, 3.0]
    y = tg.ones(2, 2, device=device)
    y.index_reduce_(0, ints([1], y), tg.tensor([[4.0, 5.0]], device=device), "prod")
    assert host(y).tolist() == [[1.0, 1.0], [4.0, 5.0]]


# --- unique(dim=) and unique_consecutive ---

def test_unique_along_a_dim_matches_numpy(device, rng):
    a = rng.integers(0, 2, (6, 3))
    for dim in (0, 1, -1):
        values, inverse, counts = tg.unique(tg.tensor(a, device=device), dim=dim,
                                            return_inverse=True, return_counts=True)
        expected = np.unique(a, axis=dim % 2, return_inverse=True, return_counts=True)
        np.testing.assert_array_equal(host(values), expected[0])
        np.testing.assert_array_equal(host(inverse), expected[1].reshape(-1))
        np.testing.assert_array_equal(host(counts), expected[2])
        assert inverse.dtype == counts.dtype == tg.int64
    cube = tg.tensor(np.array([[[1, 2]], [[0, 5]], [[1, 2]]]), device=device)
    assert host(cube.unique(dim=0)).tolist() == [[[0, 5]], [[1, 2]]]


def test_unique_consecutive(device):
    x = tg.tensor([[1, 1, 2], [2, 1, 1]], device=device)
    values, inverse, counts = x.unique_consecutive(return_inverse=True, return_counts=True)
    assert host(values).tolist() == [1, 2, 1]             # flattened: 1 1 2 2 1 1
    assert host(inverse).tolist() == [[0, 0, 1], [1, 2, 2]]
    assert host(counts).tolist() == [2, 2, 2]
    rows = tg.tensor([[1, 2], [1, 2], [0, 0], [1, 2]], device=device)
    values, counts = tg.unique_consecutive(rows, return_counts=True, dim=0)
    assert host(values).tolist() == [[1, 2], [0, 0], [1, 2]] and host(counts).tolist() == [2, 1, 1]
    assert host(tg.unique_consecutive(tg.tensor(3.0, device=device))).tolist() == [3.0]


# --- in-place math: each is x[...] = x.op(...) ---

IN_PLACE = [  # (method, arguments, keyword arguments, values it is tried on)
    ("exp_", (), {}, [0.5, -1.0, 2.0]),
    ("log_", (), {}, [0.5, 1.5, 2.0]),
    ("sqrt_", (), {}, [0.5, 1.5, 2.0]),
    ("abs_", (), {}, [0.5, -1.5, 2.0]),
    ("neg_", (), {}, [0.5, -1.5, 2.0]),
    ("sigmoid_", (), {}, [0.5, -1.5, 2.0]),
    ("tanh_", (), {}, [0.5, -1.5, 2.0]),
    ("clamp_", (-1.0, 1.0), {}, [0.5, -1.5, 2.0]),
    ("clamp_min_", (0.0,), {}, [0.5, -1.5, 2.0]),
    ("clamp_max_", (1.0,), {}, [0.5, -1.5, 2.0]),
    ("floor_", (), {}, [0.5, -1.5, 2.25]),
    ("ceil_", (), {}, [0.5, -1.5, 2.25]),
    ("round_", (), {}, [0.4, -1.6, 2.25]),
    ("trunc_", (), {}, [0.5, -1.5, 2.25]),
    ("reciprocal_", (), {}, [0.5, -1.5, 2.0]),
    ("pow_", (3,), {}, [0.5, -1.5, 2.0]),
    ("sin_", (), {}, [0.5, -1.5, 2.0]),
    ("cos_", (), {}, [0.5, -1.5, 2.0]),
    ("mul_", ([2.0, -1.0, 0.5],), {}, [0.5, -1.5, 2.0]),
    ("div_", ([2.0, -1.0, 0.5],), {}, [0.5, -1.5, 2.0]),
    ("add_", ([2.0, -1.0, 0.5],), {"alpha": 2.0}, [0.5, -1.5, 2.0]),
    ("sub_", ([2.0, -1.0, 0.5],), {"alpha": 0.5}, [0.5, -1.5, 2.0]),
]
IN_PLACE_IDS = [entry[0] for entry in IN_PLACE]


def arguments(args, device):
    return [tg.tensor(arg, dtype=tg.float64, device=device) if isinstance(arg, list) else arg
            for arg in args]


@pytest.mark.parametrize("name, args, kwargs, values", IN_PLACE, ids=IN_PLACE_IDS)
def test_in_place_gradient_through_a_non_leaf_equals_the_out_of_place_one(
        name, args, kwargs, values, device):
    weights = tg.tensor([1.0, -2.0, 3.0], dtype=tg.float64, device=device)
    w = leaf(values, device)
    y = w * 1.5                                           # a non-leaf
    assert getattr(y, name)(*arguments(args, device), **kwargs) is y
    (y * weights).sum().backward()
    reference = leaf(values, device)
    out_of_place = getattr(reference * 1.5, name[:-1])(*arguments(args, device), **kwargs)
    (out_of_place * weights).sum().backward()
    np.testing.assert_allclose(host(y), host(out_of_place), rtol=1e-15)
    np.testing.assert_allclose(host(w.grad), host(reference.grad), rtol=1e-15)


@pytest.mark.parametrize("name, args, kwargs, values", IN_PLACE, ids=IN_PLACE_IDS)
def test_in_place_on_a_leaf_that_requires_grad_raises(name, args, kwargs, values, device):
    w = leaf(values, device)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(w, name)(*arguments(args, device), **kwargs)
    assert host(w).tolist() == values
    with tg.no_grad():                                     # allowed there, as in PyTorch
        getattr(w, name)(*arguments(args, device), **kwargs)


@pytest.mark.parametrize("name, args, kwargs, values", IN_PLACE, ids=IN_PLACE_IDS)
def test_in_place_bumps_the_version_and_a_saved_tensor_then_raises(
        name, args, kwargs, values, device):
    plain = tg.tensor(values, dtype=tg.float64, device=device)
    before = plain._version
    getattr(plain, name)(*arguments(args, device), **kwargs)
    assert plain._version == before + 1
    w, v = leaf(values, device), leaf([1.0, 2.0, 3.0], device)
    y = w * 1.0
    z = v * y                                             # Mul saves y for v's gradient
    getattr(y, name)(*arguments(args, device), **kwargs)
    with pytest.raises(RuntimeError, match=MODIFIED):
        z.sum().backward()


def test_in_place_values_by_hand(device):
    x = tg.tensor([0.25, -1.5, 2.5], dtype=tg.float64, device=device)
    assert host(x.clone().floor_()).tolist() == [0.0, -2.0, 2.0]
    assert host(x.clone().ceil_()).tolist() == [1.0, -1.0, 3.0]
    assert host(x.clone().round_()).tolist() == [0.0, -2.0, 2.0]     # halves to even
    assert host(x.clone().trunc_()).tolist() == [0.0, -1.0, 2.0]
    assert host(x.clone().reciprocal_()).tolist() == [4.0, -1 / 1.5, 0.4]
    assert host(x.clone().clamp_min_(0.0)).tolist() == [0.25, 0.0, 2.5]
    assert host(x.clone().clamp_max_(0.0)).tolist() == [0.0, -1.5, 0.0]
    assert host(x.clone().round_(decimals=1)).tolist() == [0.2, -1.5, 2.5]
    integers = tg.tensor([1, -2, 3], device=device)
    assert host(integers.floor_()).tolist() == [1, -2, 3] and integers.dtype == tg.int64


# --- errors name the function and what was wrong ---

ERRORS = [
    (lambda x, i: tg.cdist(x[0], x), ValueError, r"cdist: x1 must have at least 2 dims, got "
                                                 r"shape \(3,\)"),
    (lambda x, i: tg.cdist(x, x[:, :2]), ValueError, "cdist: .* must have the same number of "
                                                     "columns, got 3 and 2"),
    (lambda x, i: tg.cdist(x, x, p=-1), ValueError, "cdist: p must be a non-negative number"),
    (lambda x, i: tg.cdist(i, i), TypeError, "cdist: only floating-point dtypes are supported, "
                                             "x1 has int64"),
    (lambda x, i: tg.cdist(x, x.float()), TypeError, "cdist: x1 .* must have the same dtype"),
    (lambda x, i: tg.cdist(x, x, compute_mode="fast"), ValueError, "cdist: compute_mode"),
    (lambda x, i: tg.cdist(x[None].expand(2, 2, 3), x[None].expand(3, 2, 3)), ValueError,
     "cdist: the batch dims"),
    (lambda x, i: tg.block_diag(x[None]), ValueError, r"block_diag: expected tensors of at "
                                                      r"most 2 dims, tensor 0 has shape"),
    (lambda x, i: tg.block_diag(x, [1.0]), TypeError, "block_diag: expected a Tensor"),
    (lambda x, i: tg.cross(x, x[0]), ValueError, "cross: input .* must have the same number "
                                                 "of dims"),
    (lambda x, i: tg.cross(x[:, :2], x[:, :2]), ValueError, r"cross: no dim of size 3 in "
                                                            r"input of shape \(2, 2\)"),
    (lambda x, i: tg.cross(x, x, dim=0), ValueError, "cross: dim 0 must have size 3"),
    (lambda x, i: tg.cross(x, x.float()), TypeError, "cross: input is float64 and other "
                                                     "float32"),
    (lambda x, i: tg.atleast_2d(1.0), TypeError, "atleast_2d: expected a Tensor"),
    (lambda x, i: tg.vander(x), ValueError, r"vander: x must be a 1-D tensor, got shape"),
    (lambda x, i: tg.vander(x[0], N=-1), ValueError, "vander: N must be a non-negative int"),
    (lambda x, i: x.rot90(1, (0,)), ValueError, r"rot90: expected 2 rotation dims"),
    (lambda x, i: x.rot90(1, (1, -1)), ValueError, "rot90: the rotation dims must differ"),
    (lambda x, i: x[0].rot90(), ValueError, "rot90: expected a tensor with at least 2 dims"),
    (lambda x, i: x.scatter_reduce(0, i, x, "max"), ValueError,
     "scatter_reduce: reduce must be one of sum, prod, mean, amax, amin; got 'max'"),
    (lambda x, i: x.scatter_reduce(0, i, 1.0, "sum"), TypeError, "scatter_reduce: src must "
                                                                  "be a tensor"),
    (lambda x, i: x.scatter_reduce(0, i + 2, x, "sum"), IndexError,
     "scatter_reduce: index 2 is out of range for dim 0 of size 2"),
    (lambda x, i: x.scatter_reduce(0, i, x.float(), "sum"), TypeError,
     "scatter_reduce: src has dtype float32 but the tensor has float64"),
    (lambda x, i: x.index_reduce(0, i[0], x, "sum"), ValueError,
     "index_reduce: reduce must be one of prod, mean, amax, amin; got 'sum'"),
    (lambda x, i: x.index_reduce(0, i[0, :1], x, "prod"), ValueError,
     r"index_reduce: source of shape \(2, 3\) .* expected \(1, 3\)"),
    (lambda x, i: x.index_reduce(0, i, x, "prod"), ValueError, "index_reduce: index must be"),
    (lambda x, i: i.sin_(), RuntimeError, "sin_: result type float32 can't be cast to the "
                                          "tensor's dtype int64"),
    (lambda x, i: x[0].clone().clamp_min_(x), RuntimeError, r"clamp_min_: the result of shape "
                                                            r"\(2, 3\) does not fit"),
    (lambda x, i: tg.unique(x, dim=2), IndexError, "unique: dim 2 is out of range"),
]


@pytest.mark.parametrize("call, error, message", ERRORS,
                         ids=[str(index) for index in range(len(ERRORS))])
def test_errors_name_the_function(call, error, message, device):
    x = tg.tensor(np.arange(1.0, 7.0).reshape(2, 3), device=device)
    i = tg.tensor(np.zeros((2, 3), dtype=np.int64), device=device)
    with pytest.raises(error, match=message):
        call(x, i)
