"""One backward formula, two modes: the array path and the Tensor path agree.

A plain ``tg.grad(..., create_graph=False)`` runs every op's backward on backend
arrays; ``create_graph=True`` runs the same formula on Tensors and records it.
For every op of the gradcheck table (imported from test_ops_gradcheck.py) and
for SetItem, ViewOf, the fused ops, the readable ReLU, IndexAdd and the nn primitives
listed here, both paths must give the same gradients, in float32 and float64,
on cpu and strict, on shapes drawn by hypothesis; a test checks that every
Function of the package appears in some entry's graph. The reference is the
other path; gradcheck (test_ops_gradcheck.py, test_fused_ops.py) ties both to
finite differences.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from test_ops_gradcheck import NONSCALAR, NONZERO, OPS, Op, distinct, each, fixed
from tinygrad_opt.autograd.function import Function
from tinygrad_opt.func import _Seen
from tinygrad_opt.ops import elementwise
from tinygrad_opt.ops.indexing import IndexAdd


def uniform(low, high):
    return each(lambda rng, shape: rng.uniform(low, high, shape))


def class_targets(logits):
    """Class indices 0, 1, ..., wrapping at C, on the logits' device."""
    rows, classes = logits.shape
    return tg.tensor(np.arange(rows) % classes, device=logits.device)


def fold_2x2(cols):
    """F.fold of (N, C·4, L) windows of a 2×2 kernel, stride 1, into a (L + 1) × 2 image."""
    return F.fold(cols, output_size=(cols.shape[2] + 1, 2), kernel_size=2)


def set_column(x, v):
    """SetItem with a slice: x with column 0 replaced by v, times x."""
    t = x.clone()
    t[:, 0] = v
    return t * x


def set_rows(x, v):
    """SetItem with an integer array and a broadcast value: rows 0 and -1 become v."""
    t = x.clone()
    t[[0, -1]] = v.sin()
    return t * x


def write_through_a_view(x, v):
    """ViewOf (ops/view_writes.py): t[:, 0] *= v is tmp = t[:, 0]; tmp *= v, a write
    through the view tmp into t's graph (tmp remade from t by ViewOf); t[:, 0] = tmp."""
    t = x.clone()
    t[:, 0] *= v
    return t * x


def index_add_repeats(g):
    """IndexAdd (GetItem's backward, as an op) with a repeated row: rows 0, 0 and 2 of a
    zero (4, m) get g's rows, the repeats adding up."""
    index = tg.tensor([0, 0, 2], device=g.device).data
    return IndexAdd.apply(g, index=index, shape=(4, g.shape[1]))


FUSED_AND_NN = [
    # the readable originals of the twins, and the ops that only backward formulas make
    Op("relu_readable", lambda x: elementwise.Relu.apply(x), 1, NONZERO),
    Op("index_add_repeats", index_add_repeats, 1, shapes=fixed(lambda m: [(3, m + 1)], 1)),
    # ops/indexing.py: SetItem (x[index] = v)
    Op("setitem_column", set_column, 2, shapes=fixed(lambda n, m: [(n, m), (n,)], 2)),
    Op("setitem_rows_broadcast", set_rows, 2,
       shapes=fixed(lambda n, m: [(n + 1, m), (1, m)], 2)),
    # ops/view_writes.py: ViewOf (a write through a view)
    Op("write_through_a_view", write_through_a_view, 2,
       shapes=fixed(lambda n, m: [(n, m), (n,)], 2)),
    # ops/fused.py
    Op("linear", F.linear, 3, shapes=fixed(lambda n, i, o: [(n, i), (o, i), (o,)], 3)),
    Op("linear_3d_no_bias", F.linear, 2,
       shapes=fixed(lambda b, n, i, o: [(b, n, i), (o, i)], 4)),
    Op("linear_1d_input", F.linear, 3, shapes=fixed(lambda i, o: [(i,), (o, i), (o,)], 2)),
    Op("log_softmax_last", lambda x: x.log_softmax(-1), 1, shapes=NONSCALAR),
    Op("log_softmax_dim0", lambda x: F.log_softmax(x, 0), 1, shapes=NONSCALAR),
    Op("cross_entropy_mean", lambda x: F.cross_entropy(x, class_targets(x)), 1,
       shapes=fixed(lambda n, c: [(n, c + 1)], 2)),
    Op("cross_entropy_sum", lambda x: F.cross_entropy(x, class_targets(x), reduction="sum"),
       1, shapes=fixed(lambda n, c: [(n, c + 1)], 2)),
    # nn primitives: Log1p, Erf (both branches: |x| <= 2 and 2 < |x| < 6), Im2Col, Col2Im
    Op("log1p", F.log1p, 1, uniform(-0.5, 2.0)),
    Op("erf", F.erf, 1, uniform(-4.0, 4.0)),
    Op("conv2d_padding", lambda x, w, b: F.conv2d(x, w, b, padding=1), 3,
       shapes=fixed(lambda n, c, o, h: [(n, c, h + 1, h), (o, c, 2, 2), (o,)], 4)),
    Op("conv2d_stride_dilation", lambda x, w: F.conv2d(x, w, stride=2, dilation=2, padding=1),
       2, shapes=fixed(lambda n, c, o: [(n, c, 4, 5), (o, c, 2, 2)], 3)),
    Op("unfold", lambda x: F.unfold(x, kernel_size=2, padding=1), 1,
       shapes=fixed(lambda n, c, h: [(n, c, h, h + 1)], 3)),
    Op("fold", fold_2x2, 1, shapes=fixed(lambda n, c, l: [(n, 4 * c, l)], 3)),
    Op("max_pool2d", lambda x: F.max_pool2d(x, 2, padding=1), 1, distinct,
       fixed(lambda n, c, h: [(n, c, h + 1, h)], 3)),
    Op("avg_pool2d", lambda x: F.avg_pool2d(x, 2, stride=1), 1,
       shapes=fixed(lambda n, c, h: [(n, c, h + 1, h + 1)], 3)),
    # nn/fused_conv.py and nn/fused_norm.py (with the entries above)
    Op("conv2d_groups", lambda x, w: F.conv2d(x, w, groups=2), 2,
       shapes=fixed(lambda n, c, o: [(n, 2 * c, 4, 3), (2 * o, c, 2, 2)], 3)),
    Op("max_pool2d_overlapping", lambda x: F.max_pool2d(x, (2, 3), stride=1, dilation=(2, 1)),
       1, distinct, fixed(lambda n, c, h: [(n, c, h + 3, h + 2)], 3)),
    Op("avg_pool2d_padded_ceil", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                         count_include_pad=False), 1,
       shapes=fixed(lambda n, c, h: [(n, c, h + 3, h + 4)], 3)),
    Op("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), 3,
       shapes=fixed(lambda n, c, h: [(n + 1, c, h), (c,), (c,)], 3)),
    Op("layer_norm", lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b), 3,
       shapes=fixed(lambda n, d: [(n, d + 1), (d + 1,), (d + 1,)], 2)),
    Op("batch_norm_train_no_affine", lambda x: F.batch_norm(x, None, None, training=True), 1,
       shapes=fixed(lambda n, c: [(n + 1, c)], 2)),
    Op("gelu", lambda x: F.gelu(x), 1),
    # func.py: the alias through which vmap(out_dims=None) shows func a mapped input
    Op("vmap_probe_alias", lambda x: _Seen.apply(x), 1),
]

TABLE = OPS + FUSED_AND_NN

# The op tables of the pieces outside the core (module: table). Each of those test
# files runs gradcheck, gradgradcheck and the two-path comparison over its own table;
# the test that every Function is covered reads them too.
OTHER_TABLES = {"test_einsum": "EINSUM_OPS", "test_rearrange": "REARRANGE_OPS",
                "test_math_ops": "MATH_OPS", "test_linalg": "LINALG_OPS",
                "test_statistics": "STATISTICS_OPS", "test_surface_more": "SURFACE_OPS",
                "test_linalg_decompositions": "DECOMPOSITION_OPS", "test_conv3d": "CONV3D_OPS",
                "test_special": "SPECIAL_OPS", "test_checkpoint": "CHECKPOINT_OPS",
                "test_linalg_more": "LINALG_MORE_OPS",
                "test_torch_style_function": "TORCH_STYLE_OPS", "test_lobpcg": "LOBPCG_OPS"}


@pytest.fixture(scope="module")
def other_tables() -> list:
    """The entries of OTHER_TABLES (imported here, outside any hypothesis test: those
    files import this one; those of tests/ and tests/nn are found by adding those to the
    path, as a run of the whole suite does)."""
    import importlib
    import sys
    from pathlib import Path
    for folder in (Path(__file__).parent.parent, Path(__file__).parent.parent / "nn"):
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
    return [op for module, table in OTHER_TABLES.items()
            for op in getattr(importlib.import_module(module), table)]
TOLERANCE = {tg.float32: dict(rtol=2e-6, atol=1e-6), tg.float64: dict(rtol=1e-13, atol=1e-13)}

SETTINGS = settings(max_examples=3, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def gradients(op, inputs, grad_output, create_graph):
    """d(Σ op(inputs) · grad_output)/d inputs, by the array or the Tensor path."""
    output = op.fn(*inputs)
    return tg.grad(output, inputs, grad_outputs=grad_output, create_graph=create_graph,
                   allow_unused=True)


def test_table_names_are_unique():
    names = [op.name for op in TABLE]
    assert len(names) == len(set(names))


def _every_function_class():
    """Every Function subclass of the package (each of its modules imported first)."""
    import importlib
    import pkgutil
    skipped = ("tinygrad_opt.cli", "tinygrad_opt.distributed", "tinygrad_opt.benchmarks")
    for module in pkgutil.walk_packages(tg.__path__, "tinygrad_opt."):
        if module.name.startswith(skipped):
            continue
        try:
            importlib.import_module(module.name)
        except ModuleNotFoundError as error:  # a module of an optional extra not installed
            if error.name not in ("numba", "matplotlib", "cupy", "dask", "distributed"):
                raise
    found, pending = set(), [Function]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            if subclass.__module__.startswith("tinygrad_opt."):  # (not the tests' own)
                found.add(subclass)
    # The ctx style's base class, and its node whose backward raises by design:
    from tinygrad_opt.autograd.torch_style import Function as CtxStyle, OnceDifferentiable
    return found - {CtxStyle, OnceDifferentiable}


# (generate only: a failure here is a missing table entry, which shrinking and hypothesis's
# traced "explain" pass over every op would take many minutes to report)
@settings(max_examples=1, deadline=None, derandomize=True, database=None,
          phases=(Phase.generate,))
@given(data=st.data())
def test_the_table_runs_every_op_of_the_package(other_tables, data):
    """Each Function subclass makes a node of some table op's graph, forward or recorded
    backward, so that no op escapes the two-path comparison (and a new op must join)."""
    rng = np.random.default_rng(0)
    made = set()  # (the nodes stay alive: no id is reused)
    for op in TABLE + other_tables:
        arrays = op.domain(rng, data.draw(op.shapes(op.arity), label=op.name))
        inputs = [tg.tensor(array, dtype=tg.float64, requires_grad=True) for array in arrays]
        output = op.fn(*inputs)
        ones = tg.ones(*output.shape, dtype=output.dtype, device=output.device)
        recorded = tg.grad(output, inputs, grad_outputs=ones, create_graph=True,
                           allow_unused=True)
        pending = [output, *[grad for grad in recorded if grad is not None]]
        while pending:
            function = pending.pop().grad_fn
            if function is not None and function not in made:
                made.add(function)
                pending.extend(function.inputs)
    covered = {type(function) for function in made}
    missing = sorted(cls.__qualname__ for cls in _every_function_class() - covered)
    assert not missing, f"ops in no table entry: {missing}"


PRIMITIVES = {op.name: op for op in FUSED_AND_NN
              if op.name in ("log1p", "erf", "relu_readable", "index_add_repeats")}


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_the_nn_primitives_pass_gradcheck_and_gradgradcheck(name, device):
    """Log1p, Erf (both of its branches), the readable Relu (its twin is in the gradcheck
    table of core ops) and IndexAdd are not in that table."""
    op = PRIMITIVES[name]
    arrays = op.domain(np.random.default_rng(0), [(3, 5)])
    inputs = [tg.tensor(array, dtype=tg.float64, requires_grad=True, device=device)
              for array in arrays]
    assert tg.gradcheck(op.fn, inputs)
    assert tg.gradgradcheck(op.fn, inputs)


@pytest.mark.parametrize("op", TABLE, ids=[op.name for op in TABLE])
@SETTINGS
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    shapes_drawn = data.draw(op.shapes(op.arity), label="shapes")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    assert_the_two_paths_agree(op, op.domain(rng, shapes_drawn), rng, device)


def assert_the_two_paths_agree(op, arrays, rng, device, same_output_dtype=False):
    """For float32 and float64 inputs made of ``arrays``: the gradients of a plain backward
    (arrays) and of ``create_graph=True`` (Tensors) agree, with the inputs' shapes, dtype
    and device, and the plain ones record nothing. (The other op tables' files use it.)"""
    for dtype in (tg.float32, tg.float64):
        inputs = [tg.tensor(array, dtype=dtype, requires_grad=True, device=device)
                  for array in arrays]
        with tg.no_grad():
            output = op.fn(*inputs)
        if same_output_dtype:
            assert output.dtype == dtype
        grad_output = tg.tensor(rng.standard_normal(output.shape), dtype=output.dtype,
                                device=output.device)
        plain = gradients(op, inputs, grad_output, create_graph=False)
        recorded = gradients(op, inputs, grad_output, create_graph=True)
        for x, from_arrays, from_tensors in zip(inputs, plain, recorded):
            assert from_arrays is not None and from_tensors is not None
            assert from_arrays.shape == from_tensors.shape == x.shape
            assert from_arrays.dtype == from_tensors.dtype == dtype
            assert from_arrays.device == from_tensors.device == device
            assert from_arrays.grad_fn is None  # a plain backward records nothing
            np.testing.assert_allclose(from_arrays.numpy(), from_tensors.numpy(),
                                       **TOLERANCE[dtype])


# --- the two paths really are two paths ---

def test_tensor_path_records_and_array_path_does_not(device):
    x = tg.tensor([0.5, -1.0], dtype=tg.float64, requires_grad=True, device=device)
    (plain,) = tg.grad(x.exp().sum(), x)
    (recorded,) = tg.grad(x.exp().sum(), x, create_graph=True)
    assert plain.grad_fn is None and not plain.requires_grad
    assert recorded.grad_fn is not None and recorded.requires_grad
    (second,) = tg.grad(recorded.sum(), x)  # d/dx Σ e^x = e^x again
    np.testing.assert_allclose(second.numpy(), np.exp([0.5, -1.0]), rtol=1e-15)


def test_cross_entropy_recomputes_log_probabilities_for_the_tensor_path(device):
    # dL/dx = (softmax(x) − onehot(y)) / N; its derivative along x needs the
    # recorded LogSoftmax, not the forward's saved array.
    logits = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    x = tg.tensor(logits, dtype=tg.float64, requires_grad=True, device=device)
    (recorded,) = tg.grad(F.cross_entropy(x, tg.tensor([1, 2], device=device)), x,
                          create_graph=True)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    one_hot = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(recorded.numpy(), (softmax - one_hot) / 2, rtol=1e-14)
    # d/dx Σ_c dL/dx[n, c] · v[c] = softmax ⊙ (v − softmax·v) / N
    v = np.array([1.0, -2.0, 0.5])
    (second,) = tg.grad((recorded * tg.tensor(v, device=device)).sum(), x)
    expected = softmax * (v - (softmax * v).sum(axis=1, keepdims=True)) / 2
    np.testing.assert_allclose(second.numpy(), expected, rtol=1e-12, atol=1e-15)

