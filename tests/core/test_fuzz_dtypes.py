"""Dtype fuzzer: result dtypes against PyTorch's type promotion, gradients in their input's
dtype, layers and optimizers that keep float16/float64.

PyTorch's rule, written once (``torch_result_dtype``): categories bool < int < float; among
the operands of the highest category, tensors with dims decide, then 0-d tensors, then
Python numbers; a Python float meeting only ints and bools gives the default float dtype.
The project's own choices (docs/deviations.md "Type promotion", tests/core/test_default_dtype.py)
are followed where they differ: float-valued functions of integers give the default float.

DTYPE_FUZZ_EXAMPLES raises the number of hypothesis examples (default 25).
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn

EXAMPLES = int(os.environ.get("DTYPE_FUZZ_EXAMPLES", "25"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,  # the fixture sets
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # it once

FLOATS = [np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)]
DTYPES = FLOATS + [np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.int16), np.dtype(np.int8),
                   np.dtype(np.uint8), np.dtype(np.bool_)]


@pytest.fixture(params=["float32", "float64"])
def default_dtype(request):
    """Each test once under the usual default and once under float64; restored after."""
    tg.set_default_dtype(getattr(tg, request.param))
    yield np.dtype(request.param)
    tg.set_default_dtype(tg.float32)


def category(dtype) -> int:
    return {"b": 0, "i": 1, "u": 1, "f": 2}[np.dtype(dtype).kind]


def python_dtype(value):
    """A Python number as PyTorch sees it before promotion."""
    if isinstance(value, bool):
        return np.dtype(np.bool_)
    if isinstance(value, int):
        return np.dtype(np.int64)
    return np.dtype(tg.get_default_dtype())


def torch_result_dtype(*operands):
    """PyTorch's ``result_type``: each operand ("dims", dtype), ("zero-d", dtype) or
    ("python", value). The highest category wins; among the operands of that category the
    ones with dims decide, else the 0-d tensors, else the Python numbers (a Python float
    gives the default float dtype); within one priority the widest dtype wins."""
    described = [("python", python_dtype(v)) if kind == "python" else (kind, np.dtype(v))
                 for kind, v in operands]
    top = max(category(dtype) for _, dtype in described)
    for priority in ("dims", "zero-d", "python"):
        group = [dtype for kind, dtype in described if kind == priority and category(dtype) == top]
        if group:
            return np.result_type(*group)
    raise AssertionError("no operand")


def make(operand, rng, shape=(3,)):
    kind, value = operand
    if kind == "python":
        return value
    values = rng.uniform(0.5, 2.0, shape if kind == "dims" else ())
    if np.dtype(value).kind != "f":
        values = rng.integers(1, 3, shape if kind == "dims" else ())
    return tg.tensor(values.astype(value))


def test_the_rule_gives_pytorchs_documented_examples():
    assert torch_result_dtype(("dims", np.int32), ("python", 1.0)) == np.float32
    assert torch_result_dtype(("dims", np.uint8), ("zero-d", np.int64)) == np.uint8
    assert torch_result_dtype(("dims", np.float32), ("zero-d", np.float64)) == np.float32
    assert torch_result_dtype(("dims", np.int64), ("zero-d", np.float64)) == np.float64
    assert torch_result_dtype(("zero-d", np.float16), ("python", 2.5)) == np.float16
    assert torch_result_dtype(("dims", np.bool_), ("python", 2)) == np.int64


# --- binary ops: name -> (function, takes a Python number second, float-valued) ---

BINARY = {
    "add": (lambda a, b: a + b, True, False),
    "radd": (lambda a, b: b + a, True, False),
    "sub": (lambda a, b: a - b, True, False),
    "mul": (lambda a, b: a * b, True, False),
    "rmul": (lambda a, b: b * a, True, False),
    "div": (lambda a, b: a / b, True, True),
    "rdiv": (lambda a, b: b / a, True, True),
    "true_divide": (lambda a, b: tg.true_divide(a, b), True, True),
    "maximum": (tg.maximum, False, False),
    "minimum": (tg.minimum, False, False),
    "fmax": (tg.fmax, False, False),
    "where": (lambda a, b: tg.where(tg.tensor([True, False, True]), a, b), True, False),
    "eq": (lambda a, b: a == b, True, None),
    "lt": (lambda a, b: a < b, True, None),
}


def expected_binary(name, first, second):
    """The dtype PyTorch gives, or None where it raises."""
    dtype = torch_result_dtype(first, second)
    function, takes_python, float_valued = BINARY[name]
    if float_valued is None:
        return np.dtype(np.bool_)
    if name == "sub" and dtype == np.bool_:
        return None  # "Subtraction, the `-` operator, with two bool tensors is not supported"
    if float_valued and dtype.kind != "f":
        return np.dtype(tg.get_default_dtype())
    return dtype


def operands(python=True):
    tensors = st.tuples(st.sampled_from(["dims", "zero-d"]), st.sampled_from(DTYPES))
    if not python:
        return tensors
    return tensors | st.tuples(st.just("python"), st.sampled_from([2, 2.5, True]))


def check_result(got_or_error, want):
    if want is None:
        assert isinstance(got_or_error, Exception), f"PyTorch raises, got {got_or_error}"
    else:
        assert not isinstance(got_or_error, Exception), f"raised {got_or_error!r}"
        assert got_or_error == want


def run(function, *args):
    try:
        return np.dtype(function(*args).dtype)
    except (TypeError, ValueError, RuntimeError) as error:
        return error


@SETTINGS
@given(name=st.sampled_from(sorted(BINARY)), first=operands(python=False), data=st.data())
def test_binary_ops_promote_as_pytorch(name, first, data, default_dtype):
    function, takes_python, _ = BINARY[name]
    second = data.draw(operands(python=takes_python), label="second")
    rng = np.random.default_rng(0)
    got = run(function, make(first, rng), make(second, rng))
    check_result(got, expected_binary(name, first, second))


# Float-valued binary functions (ops/math_ops.py, ops/special.py): an integer operand meeting
# a float one is promoted to it, as PyTorch (float16 with an int tensor gives float16, an int
# tensor with a 0-d float64 gives float64); two integer operands give the default float.
FLOAT_BINARY = {"atan2": tg.atan2, "hypot": tg.hypot, "xlogy": tg.xlogy,
                "copysign": tg.copysign, "logaddexp": tg.logaddexp,
                "logaddexp2": tg.logaddexp2}


@pytest.mark.parametrize("name", sorted(FLOAT_BINARY))
def test_float_valued_binary_functions_agree_where_no_int_meets_a_float(name):
    rng = np.random.default_rng(0)
    for first in [("dims", dtype) for dtype in DTYPES]:
        for second in [("dims", d) for d in DTYPES] + [("zero-d", d) for d in DTYPES]:
            want = torch_result_dtype(first, second)
            want = want if want.kind == "f" else np.dtype(tg.get_default_dtype())
            assert run(FLOAT_BINARY[name], make(first, rng), make(second, rng)) == want


@pytest.mark.parametrize("name", sorted(FLOAT_BINARY))
def test_float_valued_binary_functions_promote_an_int_with_a_float(name):
    half = tg.tensor(np.array([0.5, 1.5], np.float16))
    ints = tg.tensor([1, 2])
    assert FLOAT_BINARY[name](half, ints).dtype == np.float16
    assert FLOAT_BINARY[name](ints, tg.tensor(np.array(2.0))).dtype == np.float64


@pytest.mark.parametrize("function", [
    lambda a, b: a ** b, tg.fmod, tg.remainder, tg.floor_divide], ids=["pow", "fmod", "remainder", "floor_divide"])
def test_bool_with_bool_never_gives_int8(function):
    flags = tg.tensor([True, False])
    try:
        dtype = function(flags, flags).dtype
    except (TypeError, RuntimeError):
        return  # raising, as PyTorch may, is fine
    assert dtype != np.int8


def test_add_with_alpha_keeps_the_promoted_dtype():
    ints, flags = tg.tensor([1, 2], dtype=tg.int32), tg.tensor([True, False])
    total = tg.add(ints, flags, alpha=2)
    assert total.dtype == np.int32 and total.tolist() == [3, 2]   # torch.add: int32
    assert tg.sub(ints, flags, alpha=3).tolist() == [-2, 2]
    assert tg.sub(ints, flags, alpha=3).dtype == np.int32
    assert tg.add(tg.tensor([0.5], dtype=tg.float16), flags[:1], alpha=2).dtype == np.float16


# --- unary functions of one tensor: float dtypes kept, ints give the default float ---

FLOAT_VALUED = {
    "exp": tg.exp, "log": lambda x: tg.log(x.abs() + 1), "sqrt": lambda x: x.abs().sqrt(),
    "sin": tg.sin, "tanh": tg.tanh, "sigmoid": tg.sigmoid, "erf": tg.erf, "expm1": tg.expm1,
    "log1p": lambda x: tg.log1p(x.abs()), "rsqrt": lambda x: tg.rsqrt(x.abs() + 1),
    "atan": tg.atan, "asinh": tg.asinh, "reciprocal": lambda x: tg.reciprocal(x.abs() + 1),
    "mean": tg.mean, "var": tg.var, "std": tg.std, "softmax": lambda x: tg.softmax(x, -1),
    "log_softmax": lambda x: tg.log_softmax(x, -1), "logsumexp": lambda x: tg.logsumexp(x, -1),
    "x / 2": lambda x: x / 2, "2 / x": lambda x: 2 / (x.abs() + 1),
    "clamp float bounds": lambda x: tg.clamp(x, -0.5, 0.5),
    "F.gelu": F.gelu, "F.silu": F.silu, "F.softplus": F.softplus, "F.elu": F.elu,
    "F.leaky_relu": F.leaky_relu, "F.hardswish": F.hardswish, "F.mish": F.mish,
    "F.normalize": F.normalize, "F.layer_norm": lambda x: F.layer_norm(x, x.shape[-1:]),
    "F.cross_entropy": lambda x: F.cross_entropy(x, tg.zeros(x.shape[0], dtype=tg.int64)),
    "F.cross_entropy none": lambda x: F.cross_entropy(
        x, tg.zeros(x.shape[0], dtype=tg.int64), reduction="none"),
    "F.mse_loss": lambda x: F.mse_loss(x, x.detach() * 0),
    "F.rrelu eval": F.rrelu,
}
KEEPS_DTYPE = {
    "abs": tg.abs, "neg": lambda x: -x, "max": tg.max, "amax": lambda x: tg.amax(x, -1),
    "flip": lambda x: x.flip(0), "x * 2": lambda x: x * 2, "x + 1": lambda x: x + 1,
    "F.relu": F.relu, "F.max_pool1d": lambda x: F.max_pool1d(x[None], 2, padding=1),
    "F.max_pool1d indices": lambda x: F.max_pool1d(x[None], 2, padding=1,
                                                   return_indices=True)[0],
    "F.max_pool2d ceil": lambda x: F.max_pool2d(x[None, None], 2, ceil_mode=True),
    "F.max_pool2d indices": lambda x: F.max_pool2d(x[None, None], 2, padding=1,
                                                   return_indices=True)[0],
    "F.max_pool3d indices": lambda x: F.max_pool3d(x[None, None, None], (1, 2, 2),
                                                   padding=(0, 1, 1), return_indices=True)[0],
    "F.pad": lambda x: F.pad(x, (1, 1)),
}
WIDENS_INTS = {"sum": tg.sum, "cumsum": lambda x: tg.cumsum(x, -1), "prod": tg.prod}


def values_of(dtype, rng, shape):
    if dtype.kind == "f":
        return rng.uniform(-2.0, 2.0, shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(-3, 4, shape).astype(dtype)


def unary_expected(name, dtype):
    if name in FLOAT_VALUED:
        if dtype.kind == "b" and name in ("neg", "F.leaky_relu", "F.mse_loss", "F.elu"):
            return None
        return dtype if dtype.kind == "f" else np.dtype(tg.get_default_dtype())
    if name in WIDENS_INTS:
        return dtype if dtype.kind == "f" else np.dtype(np.int64)
    if dtype.kind == "b" and name in ("neg", "abs", "F.relu", "x * 2", "x + 1"):
        return None  # PyTorch refuses some, NumPy others: not checked
    return dtype


UNARY = {**FLOAT_VALUED, **KEEPS_DTYPE, **WIDENS_INTS}
SHAPES = st.tuples(st.integers(2, 4), st.integers(2, 4))


@SETTINGS
@given(name=st.sampled_from(sorted(UNARY)), dtype=st.sampled_from(DTYPES), shape=SHAPES,
       seed=st.integers(0, 2**16))
def test_unary_result_dtype(name, dtype, shape, seed, default_dtype):
    want = unary_expected(name, dtype)
    if want is None:
        return
    x = tg.tensor(values_of(dtype, np.random.default_rng(seed), shape))
    assert run(UNARY[name], x) == want


@SETTINGS
@given(name=st.sampled_from(sorted(UNARY)), dtype=st.sampled_from(FLOATS), shape=SHAPES,
       seed=st.integers(0, 2**16))
def test_gradients_have_their_inputs_dtype(name, dtype, shape, seed, default_dtype):
    """A float16/float32 path never computes in float64 (the output dtype is the witness),
    and .grad has the input's dtype."""
    x = tg.tensor(values_of(dtype, np.random.default_rng(seed), shape), requires_grad=True)
    y = UNARY[name](x)
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad is not None and x.grad.dtype == dtype


# --- functions of a float input of each dtype: output and gradient in that dtype ---

LABELS = tg.tensor([0, 2, 1, 0])


def same(x):
    return tg.tensor(np.ones(x.shape, x.dtype))


NN_FUNCTIONS = {
    "F.conv1d": lambda x: F.conv1d(x.reshape(1, 4, 3), tg.tensor(np.ones((2, 4, 2), x.dtype))),
    "F.conv2d": lambda x: F.conv2d(x.reshape(1, 1, 4, 3),
                                   tg.tensor(np.ones((2, 1, 2, 2), x.dtype))),
    "F.conv_transpose1d": lambda x: F.conv_transpose1d(
        x.reshape(1, 4, 3), tg.tensor(np.ones((4, 2, 2), x.dtype))),
    "F.avg_pool2d": lambda x: F.avg_pool2d(x.reshape(1, 1, 4, 3), 2, padding=1,
                                           count_include_pad=False),
    "F.lp_pool1d": lambda x: F.lp_pool1d(x.reshape(1, 4, 3), 2, 2),
    "F.adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x.reshape(1, 1, 4, 3), 2),
    "F.interpolate bilinear": lambda x: F.interpolate(x.reshape(1, 1, 4, 3), scale_factor=2,
                                                      mode="bilinear"),
    "F.grid_sample": lambda x: F.grid_sample(x.reshape(1, 1, 4, 3),
                                             tg.tensor(np.zeros((1, 2, 2, 2), x.dtype))),
    "F.batch_norm": lambda x: F.batch_norm(x, None, None, training=True),
    "F.group_norm": lambda x: F.group_norm(x.reshape(4, 3, 1), 3),
    "F.rms_norm": lambda x: F.rms_norm(x, (3,)),
    "F.dropout": lambda x: F.dropout(x, 0.3),
    "F.dropout1d": lambda x: F.dropout1d(x.reshape(4, 3, 1), 0.3),
    "F.alpha_dropout": lambda x: F.alpha_dropout(x, 0.3, True),
    "F.rrelu train": lambda x: F.rrelu(x, training=True),
    "F.gumbel_softmax": lambda x: F.gumbel_softmax(x),
    "F.sdpa": lambda x: F.scaled_dot_product_attention(x[None], x[None], x[None],
                                                       is_causal=True, dropout_p=0.2),
    "F.cross_entropy smoothing": lambda x: F.cross_entropy(x, LABELS, label_smoothing=0.1),
    "F.cross_entropy weight": lambda x: F.cross_entropy(
        x, LABELS, weight=tg.tensor(np.ones(3, x.dtype))),
    "F.nll_loss": lambda x: F.nll_loss(F.log_softmax(x, 1), LABELS),
    "F.bce_with_logits": lambda x: F.binary_cross_entropy_with_logits(
        x, (x.detach() > 0).to(x.dtype)),
    "F.binary_cross_entropy": lambda x: F.binary_cross_entropy(
        x.sigmoid(), (x.detach() > 0).to(x.dtype)),
    "F.kl_div": lambda x: F.kl_div(F.log_softmax(x, 1), F.softmax(x.detach(), 1),
                                   reduction="batchmean"),
    "F.huber_loss": lambda x: F.huber_loss(x, x.detach().flip(0)),
    "F.gaussian_nll_loss": lambda x: F.gaussian_nll_loss(x, x.detach().flip(0), same(x),
                                                         full=True),
    "F.poisson_nll_loss": lambda x: F.poisson_nll_loss(x, x.detach().abs()),
    "F.triplet_margin_loss": lambda x: F.triplet_margin_loss(x, x.detach().flip(0),
                                                             x.detach().flip(1)),
    "F.multi_margin_loss": lambda x: F.multi_margin_loss(x, LABELS, p=2),
    "F.ctc_loss": lambda x: F.ctc_loss(F.log_softmax(x.reshape(4, 1, 3), 2),
                                       tg.tensor([[1, 2]]), tg.tensor([4]), tg.tensor([2])),
    "F.cosine_embedding_loss": lambda x: F.cosine_embedding_loss(
        x, x.detach().flip(0), tg.tensor(np.array([1, -1, 1, -1], x.dtype))),
    "linalg.vector_norm": lambda x: tg.linalg.vector_norm(x, 3),
    "linalg.det": lambda x: tg.linalg.det(x[:3] + tg.eye(3, dtype=x.dtype) * 3),
    "linalg.solve": lambda x: tg.linalg.solve(x[:3] + tg.eye(3, dtype=x.dtype) * 3, x[3]),
    "linalg.svdvals": tg.linalg.svdvals,
    "linalg.matrix_norm nuc": lambda x: tg.linalg.matrix_norm(x, "nuc"),
}
LINALG_REFUSES_HALF = {name for name in NN_FUNCTIONS
                       if name.startswith("linalg.") and name != "linalg.vector_norm"}


@SETTINGS
@given(name=st.sampled_from(sorted(NN_FUNCTIONS)), dtype=st.sampled_from(FLOATS),
       seed=st.integers(0, 2**16))
def test_nn_and_linalg_functions_keep_the_float_dtype(name, dtype, seed, default_dtype):
    x = tg.tensor(np.random.default_rng(seed).uniform(-0.9, 0.9, (4, 3)).astype(dtype),
                  requires_grad=True)
    if dtype == np.float16 and name in LINALG_REFUSES_HALF:
        with pytest.raises(TypeError, match="float32 or float64"):
            NN_FUNCTIONS[name](x)  # as PyTorch's CPU linalg ("Low precision dtypes")
        return
    y = NN_FUNCTIONS[name](x)
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype


# --- modules made in float16/float64 through forward, backward and optimizer steps ---

MODULES = {
    "Linear": (lambda dtype: nn.Linear(3, 2, dtype=dtype), (4, 3)),
    "Conv1d": (lambda dtype: nn.Conv1d(2, 3, 2, dtype=dtype), (2, 2, 5)),
    "Conv2d": (lambda dtype: nn.Conv2d(2, 3, 2, dtype=dtype), (2, 2, 4, 4)),
    "ConvTranspose2d": (lambda dtype: nn.ConvTranspose2d(2, 3, 2, dtype=dtype), (2, 2, 3, 3)),
    "BatchNorm1d": (lambda dtype: nn.BatchNorm1d(3, dtype=dtype), (4, 3)),
    "BatchNorm2d": (lambda dtype: nn.BatchNorm2d(2, dtype=dtype), (2, 2, 3, 3)),
    "LayerNorm": (lambda dtype: nn.LayerNorm(3, dtype=dtype), (4, 3)),
    "GroupNorm": (lambda dtype: nn.GroupNorm(1, 2, dtype=dtype), (2, 2, 3)),
    "RMSNorm": (lambda dtype: nn.RMSNorm(3, dtype=dtype), (4, 3)),
    "InstanceNorm1d": (lambda dtype: nn.InstanceNorm1d(2, affine=True,
                                                       track_running_stats=True,
                                                       dtype=dtype), (2, 2, 3)),
    "PReLU": (lambda dtype: nn.PReLU(dtype=dtype), (4, 3)),
    "LSTM": (lambda dtype: nn.LSTM(3, 4, dtype=dtype), (2, 1, 3)),
    "GRUCell": (lambda dtype: nn.GRUCell(3, 4, dtype=dtype), (2, 3)),
    "TransformerEncoderLayer": (lambda dtype: nn.TransformerEncoderLayer(
        4, 2, 8, dropout=0.1, dtype=dtype), (3, 1, 4)),
}
OPTIMIZERS = {"SGD": lambda params: tg.optim.SGD(params, lr=0.01, momentum=0.9),
              "Adam": lambda params: tg.optim.Adam(params, lr=0.01),
              "AdamW": lambda params: tg.optim.AdamW(params, lr=0.01)}


def first_output(y):
    while isinstance(y, (tuple, list)):
        y = y[0]
    return y


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [tg.float16, tg.float64], ids=["float16", "float64"])
@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_keep_their_dtype_through_training_steps(name, dtype, optimizer):
    make, shape = MODULES[name]
    model = make(dtype)
    x = tg.tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype),
                  requires_grad=True)
    step = OPTIMIZERS[optimizer](model.parameters())
    for _ in range(2):
        step.zero_grad()
        y = first_output(model(x))
        assert y.dtype == dtype
        y.sum().backward()
        assert x.grad.dtype == dtype
        assert {p.grad.dtype for p in model.parameters() if p.grad is not None} == {dtype}
        step.step()
    assert {p.dtype for p in model.parameters()} == {dtype}
    assert all(b.dtype == dtype for n, b in model.named_buffers() if "num_batches" not in n)
    assert all(v.dtype == dtype for state in step.state.values() for k, v in state.items()
               if k != "step" and hasattr(v, "dtype"))


# --- the bugs fixed here ---

@pytest.mark.parametrize("pool", [
    lambda x: F.max_pool1d(x, 2, padding=1, return_indices=True)[0],
    lambda x: F.max_pool2d(x[None], (1, 2), padding=(0, 1), return_indices=True)[0],
    lambda x: F.max_pool3d(x[None, None], (1, 1, 2), padding=(0, 0, 1),
                           return_indices=True)[0],
    lambda x: F.max_pool1d(x, 2, ceil_mode=True),
], ids=["1d indices", "2d indices", "3d indices", "1d ceil"])
@pytest.mark.parametrize("dtype", [tg.int64, tg.int32])
def test_max_pooling_an_integer_tensor_keeps_its_dtype_and_values(pool, dtype):
    """It gave float32 with indices (−inf in the padding) and cast −inf to an integer."""
    x = tg.tensor([[[-1, -5, -3, -4, -2]]], dtype=dtype)
    with np.errstate(invalid="raise"):
        y = pool(x)
    assert y.dtype == dtype
    assert y.reshape(-1).tolist() == [-1, -3, -2]


def test_max_pooling_a_bool_tensor_pads_with_false():
    y = F.max_pool1d(tg.tensor([[[False, False, True]]]), 2, padding=1)
    assert y.dtype == np.bool_ and y.tolist() == [[[False, True]]]  # the pad was True


@pytest.mark.parametrize("dropout", [
    lambda x: F.dropout(x, 0.5), lambda x: F.dropout(x, 1.0),
    lambda x: F.dropout1d(x, 0.5), lambda x: F.dropout2d(x[None], 0.5),
    lambda x: F.dropout3d(x[None], 0.5), lambda x: F.alpha_dropout(x, 0.5, True),
    lambda x: F.feature_alpha_dropout(x, 0.5, True), lambda x: F.rrelu(x, training=True),
    lambda x: nn.Dropout(0.5)(x),
], ids=["dropout", "dropout p=1", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
        "feature_alpha_dropout", "rrelu", "nn.Dropout"])
def test_dropout_of_an_integer_tensor_is_refused(dropout):
    """It zeroed everything (the mask drawn in int64 truncates to 0) and gave float64."""
    with pytest.raises(TypeError, match="expected a floating-point input, got int64"):
        dropout(tg.arange(1, 9).reshape(2, 2, 2))


def test_dropout_off_passes_an_integer_tensor_through():
    x = tg.arange(4)
    assert F.dropout(x, 0.5, training=False) is x and F.dropout(x, 0.0) is x


def test_cross_entropy_of_integer_logits_gives_the_default_float(default_dtype):
    """The fused path gave float64; the composed ones (reduction='none', weights) the
    default float, as every float-valued function of integers here."""
    logits, classes = tg.tensor([[1, 2, 3], [3, 1, 0]]), tg.tensor([0, 2])
    assert F.cross_entropy(logits, classes).dtype == default_dtype
    assert F.cross_entropy(logits, classes, reduction="none").dtype == default_dtype
