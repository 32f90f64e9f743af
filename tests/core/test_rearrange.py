"""Rearranging and selecting (ops/rearrange.py): flip, roll, repeat, diagonal, scatter, ...

``REARRANGE_OPS`` is this file's op table. The module adds no Function of its own
(every function is a composition of the core ops), so test_two_modes.py needs it
only for extra coverage; gradcheck, gradgradcheck and the two-path comparison run
over it here, on shapes drawn by hypothesis. Then: forward values against NumPy
(``np.roll``, ``np.take_along_axis``, ``np.add.at``, loops written here), gradients
derived by hand, views and copies, the in-place random fills, ``new_*``, and errors.
"""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_ops_gradcheck import (CUBE, MATRIX, NONSCALAR, Op, fixed, host, leaves, pattern_mask,
                                shapes)
from test_ops_gradcheck import draw_domain as draw
from test_two_modes import assert_the_two_paths_agree, gradients


# --- helpers the table uses: index tensors made from the drawn shapes ---

def ints(values, like):
    """An int64 tensor on ``like``'s device."""
    return tg.tensor(np.asarray(values, dtype=np.int64), device=like.device)


def weighted(pieces, dim=0):
    """Stack pieces with a different weight each, so a misplaced piece shows."""
    return tg.stack([piece * (position + 1) for position, piece in enumerate(pieces)], dim)


def distinct_rows(count, size, columns, seed=0):
    """An index (count, columns): each column holds ``count`` distinct rows of ``size``
    (scatter's gradient to src is exact only where no place is written twice)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(size)[:count] for _ in range(columns)], axis=1)


def scatter_rows(x, src):
    """x (n + 1, m) with n rows of src (n + 1, m) scattered into distinct rows along dim 0."""
    n, m = x.shape[0] - 1, x.shape[1]
    return x.scatter(0, ints(distinct_rows(n, n + 1, m), x), src)


def scatter_add_repeats(x, src):
    """x (n, m) plus src (k, m) added along dim 0 at rows with repeats."""
    index = np.arange(src.shape[0] * x.shape[1]).reshape(src.shape[0], x.shape[1]) % x.shape[0]
    return tg.scatter_add(x, 0, ints(index, x), src)


def take_along_last(x):
    """take_along_dim on the last dim with indices (with repeats) that broadcast over dim 0."""
    n = x.shape[-1]
    index = (np.arange(2 * n)[::-1] % n).reshape((1,) * (x.ndim - 1) + (2 * n,))
    return tg.take_along_dim(x, ints(index, x), dim=-1)


def masked_scatter_pattern(x, source):
    """Every other place of x filled from source (which has enough elements)."""
    return x.masked_scatter(pattern_mask(x), source)


ONE_D = shapes(min_dims=1, max_dims=1)
TWO_D = shapes(min_dims=2, max_dims=2)
WIDE = shapes(min_dims=1, min_side=2)   # at least 2 along every dim

REARRANGE_OPS = [
    # repeating, flipping, rolling
    Op("repeat", lambda x: x.repeat(2, *(2,) * x.ndim), 1),
    Op("tile_short", lambda x: tg.tile(x, (3,)), 1, shapes=NONSCALAR),
    Op("repeat_interleave", lambda x: x.repeat_interleave(2, dim=0), 1, shapes=NONSCALAR),
    Op("repeat_interleave_counts", lambda x: tg.repeat_interleave(
        x, ints(np.arange(x.shape[-1]) % 3, x), dim=-1), 1, shapes=NONSCALAR),
    Op("flip_all", lambda x: x.flip(*range(x.ndim)), 1),
    Op("flip_dim0", lambda x: tg.flip(x, [0]), 1, shapes=NONSCALAR),
    Op("fliplr", lambda x: tg.fliplr(x), 1, shapes=MATRIX),
    Op("flipud", lambda x: x.flipud(), 1, shapes=NONSCALAR),
    Op("roll_flat", lambda x: x.roll(2), 1),
    Op("roll_dims", lambda x: tg.roll(x, (1, -3), (0, -1)), 1, shapes=MATRIX),
    # views under other names
    Op("narrow", lambda x: x.narrow(-1, 1, x.shape[-1] - 1), 1, shapes=WIDE),
    Op("unbind", lambda x: weighted(x.unbind(0), -1), 1, shapes=NONSCALAR),
    Op("movedim", lambda x: x.movedim((0, 1), (-1, 0)), 1, shapes=CUBE),
    Op("swapaxes", lambda x: tg.swapaxes(x, 0, -1), 1, shapes=MATRIX),
    Op("mT", lambda x: x.mT, 1, shapes=MATRIX),
    # selecting
    Op("index_select_repeats", lambda x: x.index_select(-1, ints([0, -1 % x.shape[-1], 0], x)),
       1, shapes=NONSCALAR),
    Op("masked_select_broadcast",
       lambda x: tg.masked_select(x, pattern_mask(x, x.shape[-1:])), 1, shapes=NONSCALAR),
    Op("take_repeats", lambda x: x.take(ints([[0, -1], [0, 0]], x)), 1),
    Op("take_along_dim", take_along_last, 1, shapes=NONSCALAR),
    Op("take_along_dim_flat", lambda x: x.take_along_dim(ints([0, 0, -1 % x.numel()], x)), 1),
    Op("diagonal", lambda x: x.diagonal(1, 0, -1), 1, shapes=MATRIX),
    Op("diagonal_below", lambda x: tg.diagonal(x, -1, dim1=-1, dim2=0), 1, shapes=MATRIX),
    Op("diag_of_vector", lambda x: tg.diag(x, 1), 1, shapes=ONE_D),
    Op("diag_of_matrix", lambda x: x.diag(-1), 1, shapes=TWO_D),
    Op("diag_embed", lambda x: tg.diag_embed(x, -1, 0, -1), 1, shapes=NONSCALAR),
    Op("trace", lambda x: x.trace(), 1, shapes=TWO_D),
    # scattering
    Op("scatter", scatter_rows, 2, shapes=fixed(lambda n, m: [(n + 1, m), (n + 1, m)], 2)),
    Op("scatter_value", lambda x: x.scatter(-1, ints(np.zeros(x.shape[:-1] + (1,)), x), 2.5),
       1, shapes=NONSCALAR),
    Op("scatter_add_repeats", scatter_add_repeats, 2,
       shapes=fixed(lambda n, m, k: [(n, m), (k + 1, m)], 3)),
    Op("index_add_alpha", lambda x, s: x.index_add(1, ints([0, 0, -1 % x.shape[1]], x), s,
                                                   alpha=-1.5), 2,
       shapes=fixed(lambda n, m: [(n, m), (n, 3)], 2)),
    Op("index_add_in_place", lambda x, s: x.clone().index_add_(0, ints([1, 0], x), s), 2,
       shapes=fixed(lambda m: [(3, m), (2, m)], 1)),
    Op("index_fill_tensor_value", lambda x, v: x.index_fill(0, ints([0, -1 % x.shape[0]], x),
                                                            v), 2,
       shapes=fixed(lambda n, m: [(n, m), ()], 2)),
    Op("masked_scatter", masked_scatter_pattern, 2,
       shapes=fixed(lambda n, m, k: [(n, m), (n * m + k,)], 3)),
    # differences
    Op("diff", lambda x: x.diff(), 1, shapes=NONSCALAR),
    Op("diff_twice_prepend_append", lambda x, a, b: tg.diff(x, 2, 0, prepend=a, append=b), 3,
       shapes=fixed(lambda n, m, k: [(n, m), (k, m), (1, m)], 3)),
    # grids
    Op("meshgrid_ij", lambda a, b: weighted(tg.meshgrid(a, b, indexing="ij")), 2,
       shapes=fixed(lambda n, m: [(n,), (m,)], 2)),
    Op("meshgrid_xy", lambda a, b, c: weighted(tg.meshgrid([a, b, c], indexing="xy")), 3,
       shapes=fixed(lambda n, m, k: [(n,), (m,), (k,)], 3)),
    Op("cartesian_prod", lambda a, b: tg.cartesian_prod(a, b), 2,
       shapes=fixed(lambda n, m: [(n,), (m,)], 2)),
]

SETTINGS = settings(max_examples=3, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
IDS = [op.name for op in REARRANGE_OPS]


def test_table_names_are_unique():
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("op", REARRANGE_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradcheck(op, device, data):
    _, arrays = draw(op, data)
    assert tg.gradcheck(op.fn, leaves(arrays, device), **op.tolerance)


@pytest.mark.parametrize("op", REARRANGE_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradgradcheck(op, device, data):
    _, arrays = draw(op, data)
    assert tg.gradgradcheck(op.fn, leaves(arrays, device), **op.tolerance)


@pytest.mark.parametrize("op", REARRANGE_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    rng, arrays = draw(op, data)
    assert_the_two_paths_agree(op, arrays, rng, device, same_output_dtype=True)


def test_the_module_adds_no_function_of_its_own():
    """Every gradient here is a composition of the core ops (the docstring's promise)."""
    from tinygrad_opt.autograd.function import Function
    from tinygrad_opt.ops import rearrange
    assert not [value for value in vars(rearrange).values()
                if isinstance(value, type) and issubclass(value, Function)
                and value.__module__ == rearrange.__name__]


# --- forward values against NumPy ---

A = np.arange(24, dtype=np.float64).reshape(2, 3, 4) * 0.5 - 3.0
M = np.array([[1.0, -2.0, 0.0, 4.0], [0.5, 0.0, 3.0, -1.0], [2.0, 2.0, -2.0, 0.0]])


def scatter_reference(x, dim, index, src):
    out = x.copy()
    for position in itertools.product(*map(range, index.shape)):
        target = list(position)
        target[dim] = index[position]
        out[tuple(target)] = src[position] if np.ndim(src) else src
    return out


VALUES = [
    # name, ours on (a, m), NumPy on (A, M)
    ("repeat", lambda a, m: m.repeat(2, 1, 3), lambda a, m: np.tile(m, (2, 1, 3))),
    ("tile_fewer", lambda a, m: a.tile(2), lambda a, m: np.tile(a, 2)),
    ("tile_more", lambda a, m: tg.tile(m, (2, 1, 2)), lambda a, m: np.tile(m, (2, 1, 2))),
    ("flip", lambda a, m: a.flip(0, 2), lambda a, m: np.flip(a, (0, 2))),
    ("fliplr", lambda a, m: tg.fliplr(a), lambda a, m: np.fliplr(a)),
    ("flipud", lambda a, m: m.flipud(), lambda a, m: np.flipud(m)),
    ("roll_flat", lambda a, m: a.roll(-5), lambda a, m: np.roll(a, -5)),
    ("roll_dims", lambda a, m: tg.roll(a, (1, 7, -2), (0, 1, -1)),
     lambda a, m: np.roll(a, (1, 7, -2), (0, 1, 2))),
    ("narrow", lambda a, m: a.narrow(2, -3, 2), lambda a, m: a[:, :, 1:3]),
    ("unbind", lambda a, m: tg.stack(a.unbind(1)), lambda a, m: np.stack([a[:, i] for i in
                                                                           range(3)])),
    ("movedim", lambda a, m: tg.movedim(a, 0, -1), lambda a, m: np.moveaxis(a, 0, -1)),
    ("moveaxis_two", lambda a, m: a.moveaxis((2, 0), (0, 1)),
     lambda a, m: np.moveaxis(a, (2, 0), (0, 1))),
    ("swapdims", lambda a, m: a.swapdims(0, 2), lambda a, m: np.swapaxes(a, 0, 2)),
    ("mT", lambda a, m: a.mT, lambda a, m: np.swapaxes(a, -1, -2)),
    ("index_select", lambda a, m: a.index_select(1, ints([2, 0, 2], a)),
     lambda a, m: np.take(a, [2, 0, 2], axis=1)),
    ("masked_select", lambda a, m: a.masked_select(tg.tensor(M[0] > 0, device=a.device)),
     lambda a, m: a[np.broadcast_to(M[0] > 0, a.shape)]),
    ("take", lambda a, m: tg.take(m, ints([[11, 0], [-1, 5]], m)),
     lambda a, m: m.ravel()[[[11, 0], [-1, 5]]]),
    ("take_along_dim", lambda a, m: m.take_along_dim(m.argsort(1), 1),
     lambda a, m: np.sort(m, axis=1)),
    ("take_along_dim_broadcast", lambda a, m: a.take_along_dim(ints([[[3], [0], [1]]], a), 2),
     lambda a, m: np.take_along_axis(a, np.broadcast_to([[[3], [0], [1]]], (2, 3, 1)), 2)),
    ("take_along_dim_flat", lambda a, m: m.take_along_dim(ints([[3, 11]], m)),
     lambda a, m: m.ravel()[[3, 11]]),
    ("diagonal", lambda a, m: a.diagonal(), lambda a, m: np.diagonal(a)),
    ("diagonal_offset_dims", lambda a, m: tg.diagonal(a, 1, 2, 0),
     lambda a, m: np.diagonal(a, 1, 2, 0)),
    ("diagonal_below", lambda a, m: m.diagonal(-1), lambda a, m: np.diagonal(m, -1)),
    ("diagonal_empty", lambda a, m: m.diagonal(5), lambda a, m: np.diagonal(m, 5)),
    ("diag_vector", lambda a, m: tg.diag(m[0], -2), lambda a, m: np.diag(m[0], -2)),
    ("diag_matrix", lambda a, m: m.diag(1), lambda a, m: np.diag(m, 1)),
    ("diag_embed", lambda a, m: tg.diag_embed(m), lambda a, m: np.stack([np.diag(r) for r in m])),
    ("diag_embed_dims", lambda a, m: m.diag_embed(1, 0, 2),
     lambda a, m: np.stack([np.diag(r, 1) for r in m]).transpose(1, 0, 2)),
    ("trace", lambda a, m: m.trace(), lambda a, m: np.trace(m)),
    ("scatter", lambda a, m: m.scatter(1, ints([[3, 0], [1, 2]], m), m[:, 1:] * 10),
     lambda a, m: scatter_reference(m, 1, np.array([[3, 0], [1, 2]]), m[:, 1:] * 10)),
    ("scatter_value", lambda a, m: tg.scatter(m, 0, ints([[2, 1, 0, 2]], m), value=-7.0),
     lambda a, m: scatter_reference(m, 0, np.array([[2, 1, 0, 2]]), -7.0)),
    ("scatter_add", lambda a, m: m.scatter_add(0, ints([[0, 1, 0, 0], [0, 2, 2, 0]], m), m[:2]),
     lambda a, m: scatter_add_reference(m, np.array([[0, 1, 0, 0], [0, 2, 2, 0]]), m[:2])),
    ("index_add", lambda a, m: tg.index_add(m, 1, ints([3, 0, 3], m), m[:, :3], alpha=2),
     lambda a, m: index_add_reference(m, [3, 0, 3], 2 * m[:, :3])),
    ("index_fill", lambda a, m: a.index_fill(2, ints([1, 3], a), 9.0),
     lambda a, m: np.where(np.isin(np.arange(4), [1, 3]), 9.0, a)),
    ("masked_scatter", lambda a, m: m.masked_scatter(tg.tensor(M > 0, device=m.device), a),
     lambda a, m: masked_scatter_reference(m, M > 0, a)),
    ("diff", lambda a, m: a.diff(), lambda a, m: np.diff(a)),
    ("diff_n_dim", lambda a, m: tg.diff(a, 2, 1), lambda a, m: np.diff(a, 2, 1)),
    ("diff_prepend_append", lambda a, m: m.diff(dim=0, prepend=m[:1] * 2, append=m),
     lambda a, m: np.diff(M, axis=0, prepend=M[:1] * 2, append=M)),
    ("diff_too_many", lambda a, m: m.diff(7, 0), lambda a, m: np.diff(m, 7, 0)),
    ("repeat_interleave", lambda a, m: m.repeat_interleave(2),
     lambda a, m: np.repeat(m.ravel(), 2)),
    ("repeat_interleave_counts", lambda a, m: m.repeat_interleave(ints([0, 2, 1], m), dim=0),
     lambda a, m: np.repeat(m, [0, 2, 1], axis=0)),
]


def scatter_add_reference(x, index, src):
    out = x.copy()
    np.add.at(out, (index, np.arange(index.shape[1])[None, :]), src)
    return out


def index_add_reference(x, index, source):
    out = x.copy()
    for position, column in enumerate(index):
        out[:, column] += source[:, position]
    return out


def masked_scatter_reference(x, mask, source):
    out = x.copy()
    out[mask] = source.ravel()[:mask.sum()]
    return out


@pytest.mark.parametrize("name, ours, reference", VALUES, ids=[line[0] for line in VALUES])
def test_values_match_numpy(name, ours, reference, device):
    a, m = tg.tensor(A, device=device), tg.tensor(M, device=device)
    result = ours(a, m)
    expected = reference(A, M)
    assert result.device == device and result.dtype == tg.float64
    assert result.shape == expected.shape
    np.testing.assert_array_equal(host(result), expected)


def test_index_sets_match_numpy(device):
    x = tg.tensor(M, device=device)
    assert x.nonzero().dtype == tg.int64
    np.testing.assert_array_equal(host(x.nonzero()), np.argwhere(M))
    np.testing.assert_array_equal(host(tg.argwhere(x)), np.argwhere(M))
    for ours, theirs in zip(tg.nonzero(x, as_tuple=True), np.nonzero(M)):
        np.testing.assert_array_equal(host(ours), theirs)
    assert x[0, 1].nonzero().shape == (1, 0) and x[0, 2].nonzero().shape == (0, 0)
    assert [host(part).tolist() for part in x[0, 0].nonzero(as_tuple=True)] == [[0]]
    for row, col, offset in [(3, 3, 0), (4, 2, 1), (2, 5, -1), (3, 4, 2)]:
        lower = tg.tril_indices(row, col, offset, device=device)
        upper = tg.triu_indices(row, col, offset, device=device)
        assert lower.dtype == upper.dtype == tg.int64 and lower.device == device
        np.testing.assert_array_equal(host(lower), np.stack(np.tril_indices(row, offset, col)))
        np.testing.assert_array_equal(host(upper), np.stack(np.triu_indices(row, offset, col)))
    # row by row, as PyTorch
    assert host(tg.tril_indices(3, 3)).tolist() == [[0, 1, 1, 2, 2, 2], [0, 0, 1, 0, 1, 2]]


def test_unique(device):
    data = np.array([[3, 1, 2], [1, 3, 3]])
    x = tg.tensor(data, device=device)
    values = x.unique()
    assert host(values).tolist() == [1, 2, 3] and values.dtype == x.dtype
    values, inverse, counts = tg.unique(x, return_inverse=True, return_counts=True)
    assert inverse.shape == x.shape and inverse.dtype == counts.dtype == tg.int64
    np.testing.assert_array_equal(host(values)[host(inverse)], data)
    assert host(counts).tolist() == [2, 1, 3]
    values, counts = x.unique(sorted=False, return_counts=True)
    assert host(values).tolist() == [1, 2, 3] and host(counts).tolist() == [2, 1, 3]
    floats = tg.tensor([0.5, -1.0, 0.5], requires_grad=True, device=device)
    assert not floats.unique().requires_grad


def test_meshgrid_and_cartesian_prod_match_numpy(device):
    a, b, c = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0]), np.array([-1.0, 0.0, 5.0, 7.0])
    tensors = [tg.tensor(v, device=device) for v in (a, b, c)]
    for indexing in ("ij", "xy"):
        ours = tg.meshgrid(*tensors, indexing=indexing)
        for grid, expected in zip(ours, np.meshgrid(a, b, c, indexing=indexing)):
            assert grid.shape == expected.shape
            np.testing.assert_array_equal(host(grid), expected)
    assert tg.meshgrid(tensors[0])[0].shape == (3,)
    assert [g.shape for g in tg.meshgrid(tensors[:2], indexing="xy")] == [(2, 3), (2, 3)]
    product = tg.cartesian_prod(*tensors)
    np.testing.assert_array_equal(host(product), list(itertools.product(a, b, c)))
    assert tg.cartesian_prod(tensors[1]) is tensors[1]


# --- gradients derived by hand ---

def leaf(values, device):
    return tg.tensor(np.array(values, dtype=np.float64), requires_grad=True, device=device)


def test_scatter_gradients_by_hand(device):
    # out = x with out[index[i][j]][j] = src[i][j]: x's gradient is 0 where it was
    # overwritten; src's is the output gradient at the place it went, 0 where index
    # does not reach (src is larger than index)
    x = leaf(np.zeros((3, 2)), device)
    src = leaf(np.ones((2, 2)), device)
    weights = tg.tensor(np.arange(1.0, 7.0).reshape(3, 2), dtype=tg.float64, device=device)
    (x.scatter(0, ints([[2, 0]], x), src) * weights).sum().backward()
    assert host(x.grad).tolist() == [[1.0, 0.0], [3.0, 4.0], [0.0, 6.0]]
    assert host(src.grad).tolist() == [[5.0, 2.0], [0.0, 0.0]]


def test_scatter_add_and_index_add_gradients_by_hand(device):
    x = leaf(np.zeros(3), device)
    src = leaf([1.0, 1.0, 1.0, 1.0], device)
    weights = tg.tensor([1.0, 10.0, 100.0], dtype=tg.float64, device=device)
    (x.scatter_add(0, ints([2, 2, 0, 2], x), src) * weights).sum().backward()
    assert host(x.grad).tolist() == [1.0, 10.0, 100.0]          # passes through
    assert host(src.grad).tolist() == [100.0, 100.0, 1.0, 100.0]  # gathered back
    y = leaf(np.zeros((2, 3)), device)
    source = leaf(np.ones((2, 2)), device)
    (y.index_add(1, ints([2, 2], y), source, alpha=3.0) * weights).sum().backward()
    assert host(source.grad).tolist() == [[300.0, 300.0], [300.0, 300.0]]
    assert host(y.grad).tolist() == [[1.0, 10.0, 100.0]] * 2


def test_index_fill_and_masked_scatter_gradients_by_hand(device):
    x = leaf(np.ones((3, 2)), device)
    value = leaf(0.0, device)
    weights = tg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=tg.float64, device=device)
    (x.index_fill(0, ints([0, 2], x), value) * weights).sum().backward()
    assert host(x.grad).tolist() == [[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]]
    assert host(value.grad) == 1.0 + 2.0 + 5.0 + 6.0
    x.grad = None
    source = leaf([1.0, 1.0, 1.0, 1.0], device)
    mask = tg.tensor([[True, False], [False, True], [True, False]], device=device)
    (x.masked_scatter(mask, source) * weights).sum().backward()
    assert host(x.grad).tolist() == [[0.0, 2.0], [3.0, 0.0], [0.0, 6.0]]
    assert host(source.grad).tolist() == [1.0, 4.0, 5.0, 0.0]   # the 4th is never used


def test_selection_gradients_by_hand(device):
    x = leaf([1.0, 2.0, 3.0], device)
    weights = tg.tensor([1.0, 10.0, 100.0, 1000.0], dtype=tg.float64, device=device)
    (x.take(ints([2, -1, 0, 2], x)) * weights).sum().backward()
    assert host(x.grad).tolist() == [100.0, 0.0, 1011.0]      # picked three times: added
    x.grad = None
    (x.flip(0) * weights[:3]).sum().backward()
    assert host(x.grad).tolist() == [100.0, 10.0, 1.0]
    x.grad = None
    (x.roll(1) * weights[:3]).sum().backward()                # y = [x2, x0, x1]
    assert host(x.grad).tolist() == [10.0, 100.0, 1.0]
    x.grad = None
    x.repeat(2, 2).sum().backward()                          # each element used 4 times
    assert host(x.grad).tolist() == [4.0, 4.0, 4.0]
    x.grad = None
    tg.diag(x, -1).sum().backward()
    assert host(x.grad).tolist() == [1.0, 1.0, 1.0]
    row = leaf([[1.0, 2.0]], device)
    mask = tg.tensor([[True, False], [True, True], [False, True]], device=device)
    row.masked_select(mask).sum().backward()                 # the row, broadcast to 3 rows
    assert host(row.grad).tolist() == [[2.0, 2.0]]


def test_diff_gradient_is_the_difference_stencil(device):
    # Σ w_i (x_{i+2} − 2 x_{i+1} + x_i): dx_j = w_{j−2} − 2 w_{j−1} + w_j
    x = leaf([1.0, 4.0, 9.0, 16.0, 25.0], device)
    second = x.diff(2)
    assert host(second).tolist() == [2.0, 2.0, 2.0]
    (second * tg.tensor([1.0, 10.0, 100.0], dtype=tg.float64, device=device)).sum().backward()
    assert host(x.grad).tolist() == [1.0, 8.0, 81.0, -190.0, 100.0]


def test_trace_and_diagonal_gradients(device):
    x = leaf(np.arange(6.0).reshape(2, 3), device)
    (gradient,) = tg.grad(x.trace(), [x], create_graph=True)
    assert host(gradient).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    x.diagonal(1).sum().backward()
    assert host(x.grad).tolist() == [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


# --- dtypes, views and copies ---

def test_integer_and_bool_tensors(device):
    ints_2d = tg.tensor(np.array([[1, 2], [3, 4]]), device=device)
    assert ints_2d.flip(1).dtype == tg.int64 and host(ints_2d.flip(1)).tolist() == [[2, 1], [4, 3]]
    assert host(ints_2d.diag()).tolist() == [1, 4] and ints_2d.trace().item() == 5
    flags = tg.tensor([True, True, False, False, True], device=device)
    changes = flags.diff()
    assert changes.dtype == tg.bool_ and host(changes).tolist() == [False, True, False, True]
    zeros = tg.zeros(2, 3, dtype=tg.int64, device=device)
    one_hot = zeros.scatter(1, ints([[2], [0]], zeros), 1)
    assert one_hot.dtype == tg.int64 and host(one_hot).tolist() == [[0, 0, 1], [1, 0, 0]]


def test_views_write_through_and_copies_do_not(device):
    x = tg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    x.narrow(1, 1, 1)[...] = -1.0           # narrow, unbind, movedim are views (as PyTorch)
    x.unbind(0)[1][0] = -2.0
    assert host(x).tolist() == [[0.0, -1.0, 2.0], [-2.0, -1.0, 5.0]]
    for copy in (x.flip(0), x.roll(0), x.repeat(1, 1), x.tile(1), tg.flip(x, [])):
        copy[...] = 100.0                   # flip, roll, repeat return new memory
    assert host(x).tolist() == [[0.0, -1.0, 2.0], [-2.0, -1.0, 5.0]]


def test_in_place_scatters(device):
    x = tg.zeros(2, 4, device=device)
    assert x.scatter_(1, ints([[1], [3]], x), 1.0) is x
    assert host(x).tolist() == [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    x.index_fill_(1, ints([0], x), 5.0).scatter_add_(0, ints([[1, 1, 1, 1]], x), x[:1])
    assert host(x).tolist() == [[5.0, 1.0, 0.0, 0.0], [10.0, 1.0, 0.0, 1.0]]
    version = x._version
    x.index_add_(0, ints([0], x), tg.ones(1, 4, device=device))
    x.masked_scatter_(x > 5, tg.tensor([-3.0, -4.0], device=device))
    assert host(x).tolist() == [[-3.0, 2.0, 1.0, 1.0], [-4.0, 1.0, 0.0, 1.0]]
    assert x._version == version + 2
    w = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match="leaf"):
        w.scatter_(0, ints([0], w), 0.0)


# --- new tensors and in-place fills ---

def test_new_tensors_take_dtype_and_device(device):
    x = tg.tensor(np.ones(2), dtype=tg.float64, device=device)
    for made in (x.new_zeros(2, 3), x.new_ones((2, 3)), x.new_empty([2, 3]),
                 x.new_full((2, 3), 7)):
        assert made.shape == (2, 3) and made.dtype == tg.float64 and made.device == device
        assert not made.requires_grad
    assert host(x.new_full([2], 7)).tolist() == [7.0, 7.0]
    assert host(x.new_zeros(2)).tolist() == [0.0, 0.0] and host(x.new_ones(())) == 1.0
    ints_made = x.new_zeros(3, dtype=tg.int64, device="cpu")
    assert ints_made.dtype == tg.int64 and ints_made.device == "cpu"
    assert x.new_ones(2, requires_grad=True).requires_grad
    data = x.new_tensor([1, 2])
    assert data.dtype == tg.float64 and data.device == device and host(data).tolist() == [1, 2]
    integer = tg.tensor([1, 2], device=device)
    assert integer.new_tensor([2.7]).dtype == tg.int64      # self's dtype, as PyTorch
    source = tg.tensor([1.0], requires_grad=True, device=device)
    copied = x.new_tensor(source)
    copied[0] = 5.0
    assert not copied.requires_grad and host(source).tolist() == [1.0]


def test_random_fills_are_seeded_and_in_range(device):
    x = tg.empty(1000, dtype=tg.float64, device=device)
    tg.manual_seed(3)
    first = host(x.uniform_(-2.0, 5.0)).copy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(host(x.uniform_(-2.0, 5.0)), first)
    assert first.min() >= -2.0 and first.max() < 5.0 and abs(first.mean() - 1.5) < 0.3
    samples = host(x.normal_(3.0, 0.5))
    assert abs(samples.mean() - 3.0) < 0.1 and abs(samples.std() - 0.5) < 0.05
    coins = host(x.bernoulli_(0.25))
    assert set(np.unique(coins)) <= {0.0, 1.0} and abs(coins.mean() - 0.25) < 0.06
    p = tg.tensor([0.0, 1.0, 0.0], dtype=tg.float64, device=device)
    flags = tg.zeros(4, 3, dtype=tg.int64, device=device).bernoulli_(p)
    assert host(flags).tolist() == [[0, 1, 0]] * 4
    before = x._version
    x.normal_()
    assert x._version == before + 1


def test_random_fills_on_tensors_that_require_grad(device):
    w = tg.ones(3, requires_grad=True, device=device)
    for fill in (lambda: w.uniform_(), lambda: w.normal_(), lambda: w.bernoulli_()):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being "
                                               "used in an in-place operation"):
            fill()
    assert host(w).tolist() == [1.0, 1.0, 1.0]
    with tg.no_grad():
        w.uniform_(2.0, 3.0)                          # initialisation, as nn.init does
    assert w.requires_grad and host(w).min() >= 2.0
    y = w * 2.0                                      # in a graph: a recorded write
    y.normal_()
    y.sum().backward()
    assert host(w.grad).tolist() == [0.0, 0.0, 0.0]  # the samples do not depend on w


def test_random_fill_errors(device):
    x = tg.zeros(3, device=device)
    with pytest.raises(ValueError, match="uniform_: expects a <= b"):
        x.uniform_(1.0, 0.0)
    with pytest.raises(ValueError, match="normal_: expects std >= 0"):
        x.normal_(0.0, -1.0)
    with pytest.raises(ValueError, match=r"bernoulli_: expects p in \[0, 1\]"):
        x.bernoulli_(1.5)
    with pytest.raises(ValueError, match=r"bernoulli_: p of shape \(2,\)"):
        x.bernoulli_(tg.tensor([0.5, 0.5], device=device))
    with pytest.raises(TypeError, match="uniform_: draws floats; the tensor has dtype int64"):
        tg.zeros(3, dtype=tg.int64, device=device).uniform_()


def test_detach_in_place(device):
    w = tg.ones(3, requires_grad=True, device=device)
    y = w * 2.0
    assert y.detach_() is y and y.grad_fn is None and not y.requires_grad
    assert w.detach_() is w and not w.requires_grad
    v = tg.ones(3, requires_grad=True, device=device) * 1.0
    with pytest.raises(RuntimeError, match="detach_: can't detach a view"):
        v[1:].detach_()


# --- errors name the function and what was wrong ---

ERRORS = [
    (lambda x, m: x.repeat(2), ValueError, r"repeat: 1 repeats \(2,\) for a tensor of 2 dims"),
    (lambda x, m: x.flip(0, -2), ValueError, "flip: dim 0 appears more than once"),
    (lambda x, m: x.flip(2), IndexError, "flip: dim 2 is out of range"),
    (lambda x, m: x[0].fliplr(), ValueError, r"fliplr: .* got shape \(3,\)"),
    (lambda x, m: x.roll((1, 2)), ValueError, "roll: without dims give one shift"),
    (lambda x, m: x.roll(1, (0, 1)), ValueError, r"roll: shifts \(1,\) and dims \(0, 1\)"),
    (lambda x, m: x.narrow(1, 2, 2), ValueError, r"narrow: start \(2\) \+ length \(2\) exceeds"),
    (lambda x, m: x.narrow(0, -3, 1), IndexError, "narrow: start -3 is out of range for dim 0"),
    (lambda x, m: x.movedim((0, 0), (0, 1)), ValueError, "movedim: repeated dim"),
    (lambda x, m: x.movedim(0, (0, 1)), ValueError, "movedim: source"),
    (lambda x, m: x[0].mT, ValueError, r"mT: .* got shape \(3,\)"),
    (lambda x, m: x.index_select(1, ints([0, 3], x)), IndexError,
     r"index_select: index 3 is out of range for dim 1 of size 3 \(shape \(2, 3\)\)"),
    (lambda x, m: x.index_select(0, ints([-1], x)), IndexError, "index_select: index -1"),
    (lambda x, m: x.index_select(0, [0]), TypeError, "index_select: index must be an integer"),
    (lambda x, m: x.index_select(0, ints([[0]], x)), ValueError, "index_select: index must be"
                                                                 " 0-d or 1-D"),
    (lambda x, m: x.masked_select(x > 0), None, None),
    (lambda x, m: x.masked_select(x), TypeError, "masked_select: the mask must be a bool"),
    (lambda x, m: x.masked_select(m[:, :2]), ValueError, r"masked_select: the mask of shape "
                                                         r"\(2, 2\)"),
    (lambda x, m: x.take(ints([6], x)), IndexError, "take: index 6 is out of range for a "
                                                    "tensor of 6 elements"),
    (lambda x, m: x.take_along_dim(ints([0], x), 0), ValueError,
     "take_along_dim: indices have 1 dims"),
    (lambda x, m: x.take_along_dim(ints([[0, 0]], x), 0), ValueError,
     r"take_along_dim: indices of shape \(1, 2\) do not broadcast"),
    (lambda x, m: x.diagonal(0, 1, -1), ValueError, "diagonal: dim1 and dim2 are the same"),
    (lambda x, m: x[0].diagonal(), ValueError, "diagonal: expected a tensor with at least 2"),
    (lambda x, m: tg.diag(x[None]), ValueError, r"diag: expected a 1-D or 2-D tensor, got "
                                                r"shape \(1, 2, 3\)"),
    (lambda x, m: x[0].trace(), ValueError, "trace: expected a matrix"),
    (lambda x, m: x.scatter(0, ints([[0, 2]], x), x), IndexError,
     r"scatter: index 2 is out of range for dim 0 of size 2"),
    (lambda x, m: x.scatter(0, ints([0], x), x), ValueError, "scatter: index has 1 dims but "
                                                             "the tensor has 2"),
    (lambda x, m: x.scatter(1, ints([[0], [0], [0]], x), x), ValueError,
     r"scatter: index of shape \(3, 1\) is larger than the tensor of shape \(2, 3\) at dim 0"),
    (lambda x, m: x.scatter(0, ints([[0, 0]], x), x[:, :1]), ValueError,
     r"scatter: index of shape \(1, 2\) is larger than src of shape \(2, 1\) at dim 1"),
    (lambda x, m: x.scatter(0, ints([[0]], x), x.float()), TypeError,
     "scatter: src has dtype float32 but the tensor has float64"),
    (lambda x, m: x.scatter(0, ints([[0]], x), 1.0, reduce="max"), ValueError,
     "scatter: reduce must be 'add' or 'multiply', got 'max'"),
    (lambda x, m: x.scatter_add(0, ints([[0]], x), 1.0), TypeError, "scatter_add: src must be"),
    (lambda x, m: x.index_add(0, ints([0], x), x), ValueError,
     r"index_add: source of shape \(2, 3\) .* expected \(1, 3\)"),
    (lambda x, m: x.index_fill(0, ints([0], x), x[0]), ValueError,
     r"index_fill: value must be a number or a 0-d tensor, got shape \(3,\)"),
    (lambda x, m: x.masked_scatter(x > 0, x[0]), ValueError,
     r"masked_scatter: the mask has 6 True places but source \(shape \(3,\)\) only 3"),
    (lambda x, m: x.diff(prepend=x[0]), ValueError, r"diff: prepend has shape \(3,\)"),
    (lambda x, m: x[0, 0].diff(), ValueError, "diff: expected a tensor with at least 1 dim"),
    (lambda x, m: tg.meshgrid(x, indexing="ij"), ValueError, r"meshgrid: expected 0-d or 1-D "
                                                             r"tensors, tensor 0 has shape"),
    (lambda x, m: tg.meshgrid(x[0], x[0], indexing="yx"), ValueError, "meshgrid: indexing"),
    (lambda x, m: tg.meshgrid(x[0], ints([1], x)), TypeError, "meshgrid: tensor 1 is int64"),
    (lambda x, m: tg.tril_indices(-1, 2), ValueError, "tril_indices: row and col must be"),
    (lambda x, m: tg.flip([1.0], 0), TypeError, "flip: expected a Tensor, got list"),
    (lambda x, m: x[0, 0].unbind(), IndexError, "unbind: a 0-d tensor has no dim"),
    (lambda x, m: x.repeat_interleave(-1), ValueError, "repeat_interleave: repeats must be "
                                                       "non-negative, got -1"),
    (lambda x, m: x.repeat_interleave(ints([1, 2], x), dim=1), ValueError,
     r"repeat_interleave: repeats of shape \(2,\) for dim 1 of size 3"),
    (lambda x, m: x.repeat_interleave(2, output_size=5), ValueError,
     "repeat_interleave: output_size 5 but the repeats give 12"),
]


@pytest.mark.parametrize("call, error, message", ERRORS,
                         ids=[str(index) for index in range(len(ERRORS))])
def test_errors_name_the_function(call, error, message, device):
    x = tg.tensor(np.arange(1.0, 7.0).reshape(2, 3), device=device)
    m = tg.tensor(np.ones((2, 2)) > 0, device=device)
    if error is None:   # a line that must work: the one beside it is refused for its own reason
        call(x, m)
        return
    with pytest.raises(error, match=message):
        call(x, m)


def test_index_on_another_device_is_refused():
    x = tg.tensor(np.ones((2, 3)))
    index = tg.tensor([0], device="strict")
    with pytest.raises(RuntimeError, match="index_select: index is on 'strict' but the tensor "
                                           "is on 'cpu'"):
        x.index_select(0, index)
