"""Gradient checkpointing (``tg.utils.checkpoint``): gradients equal to the plain call's
(inputs and captured parameters, to 1e-12 in float64; one case against a NumPy
transcription of the chain rule), the function run twice and no graph kept inside the
block, dropout replayed, checkpoint_sequential, kwargs and non-tensor arguments,
tuple outputs, create_graph (Hessian-vector products), hooks, errors.

``CHECKPOINT_OPS`` is this file's op table (the lead joins it to test_two_modes.py's
TABLE); gradcheck, gradgradcheck and the two-path comparison run over it here. Its
new Function is Checkpoint."""

import pathlib
import sys
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn
from tinygrad_opt.utils.checkpoint import Checkpoint, checkpoint, checkpoint_sequential

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "core"))
from test_ops_gradcheck import SETTINGS, Op, draw_inputs, fixed  # noqa: E402
from test_two_modes import assert_the_two_paths_agree  # noqa: E402


def _sin_exp(u, v):
    return (u * v).sin() + u.exp()


def _two_outputs(u):
    first, three, second = checkpoint(lambda a: (a.sin(), 3, a.cos() * a), u)
    return first * second.sum() * three


CHECKPOINT_OPS = [
    Op("checkpoint_elementwise", lambda a, b: checkpoint(_sin_exp, a, b), 2),
    Op("checkpoint_matmul_tanh", lambda x, w: checkpoint(lambda a, b: (a @ b).tanh(), x, w), 2,
       shapes=fixed(lambda n, i, o: [(n, i), (i, o)], 3)),
    Op("checkpoint_tuple_outputs", _two_outputs, 1),
]


@pytest.mark.parametrize("op", CHECKPOINT_OPS, ids=[op.name for op in CHECKPOINT_OPS])
@SETTINGS
@given(data=st.data())
def test_gradcheck_gradgradcheck_and_two_paths(op, device, data):
    inputs = draw_inputs(op, device, data)
    assert tg.gradcheck(op.fn, inputs)
    assert tg.gradgradcheck(op.fn, inputs)
    arrays = [x.numpy() for x in inputs]
    assert_the_two_paths_agree(op, arrays, np.random.default_rng(1), device)


# ------------------------------------------------------------------------ helpers

def mlp(device, sizes=(4, 6, 3)):
    """Two Linear layers with tanh between, float64."""
    model = nn.Sequential(nn.Linear(sizes[0], sizes[1]), nn.Tanh(), nn.Linear(sizes[1], sizes[2]))
    return model.to(device, tg.float64)


def leaf(rng, shape, device, requires_grad=True):
    return tg.tensor(rng.standard_normal(shape), dtype=tg.float64, device=device,
                     requires_grad=requires_grad)


def grads_of(loss, tensors):
    return [g.numpy() for g in tg.grad(loss, tensors)]


def assert_close(got, expected, tolerance=1e-12):
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=tolerance)


# ------------------------------------------------------------- gradients as the plain call

def test_two_checkpointed_blocks_give_the_plain_gradients(device, rng):
    first, second = mlp(device), mlp(device, (3, 5, 2))
    x = leaf(rng, (7, 4), device)
    weights = tg.tensor(rng.standard_normal((7, 2)), dtype=tg.float64, device=device)
    tensors = [x, *first.parameters(), *second.parameters()]

    def loss(run):
        return (run(second, run(first, x)) ** 2 * weights).sum()

    plain = grads_of(loss(lambda block, h: block(h)), tensors)
    checkpointed = grads_of(loss(lambda block, h: checkpoint(block, h)), tensors)
    assert_close(checkpointed, plain)
    # .backward() fills the same values into every .grad
    loss(lambda block, h: checkpoint(block, h)).backward()
    assert_close([t.grad.numpy() for t in tensors], plain)


def test_the_gradients_match_a_numpy_transcription_of_the_chain_rule(device, rng):
    model = mlp(device)
    x = leaf(rng, (5, 4), device)
    (checkpoint(model, x) ** 2).sum().backward()
    W1, b1 = model[0].weight.numpy(), model[0].bias.numpy()
    W2, b2 = model[2].weight.numpy(), model[2].bias.numpy()
    xv = x.numpy()
    h = np.tanh(xv @ W1.T + b1)        # (5, 6)
    y = h @ W2.T + b2                  # (5, 3)
    grad_y = 2 * y                     # L = Σ y²
    grad_h = grad_y @ W2
    grad_z = grad_h * (1 - h ** 2)
    expected = [grad_z @ W1, grad_z.T @ xv, grad_z.sum(0), grad_y.T @ h, grad_y.sum(0)]
    got = [t.grad.numpy() for t in (x, model[0].weight, model[0].bias, model[2].weight,
                                    model[2].bias)]
    assert_close(got, expected)


def test_parameters_alone_get_gradients_when_the_input_needs_none(device, rng):
    model = mlp(device)
    x = leaf(rng, (3, 4), device, requires_grad=False)
    params = list(model.parameters())
    plain = grads_of(model(x).sin().sum(), params)
    assert_close(grads_of(checkpoint(model, x).sin().sum(), params), plain)


def test_a_layer_applied_three_times_through_checkpoints(device, rng):
    """The same weights inside the block and below its input (weight tying): the
    checkpoint must not count the path below its input twice."""
    layer = nn.Linear(4, 4).to(device, tg.float64)
    x = leaf(rng, (2, 4), device)

    def run(step):
        z = x
        for _ in range(3):
            z = step(z)
        return (z ** 2).sum()

    tensors = [x, layer.weight, layer.bias]
    plain = grads_of(run(lambda z: layer(z).tanh()), tensors)
    checkpointed = grads_of(run(lambda z: checkpoint(lambda a: layer(a).tanh(), z)), tensors)
    assert_close(checkpointed, plain)


def test_a_captured_non_leaf_tensor_passes_its_gradient_on(device, rng):
    x = leaf(rng, (3,), device)
    h = x * 2.0                                    # captured, not an argument
    (grad,) = tg.grad(checkpoint(lambda a: a * h, x).sum(), x)
    np.testing.assert_allclose(grad.numpy(), 4 * x.numpy(), rtol=1e-15)   # d(2x²)/dx = 4x


# ---------------------------------------------------------------- memory: twice, no graph

def test_the_function_runs_twice_and_the_forward_keeps_no_graph_inside(device, rng):
    model = mlp(device)
    x = leaf(rng, (3, 4), device)
    calls, inside = [], []

    def block(a):
        calls.append(1)
        hidden = model[1](model[0](a))
        inside.append(weakref.ref(hidden))
        return model[2](hidden)

    y = checkpoint(block, x)
    assert len(calls) == 1
    assert inside[0]() is None                     # the block's intermediate is freed
    assert type(y.grad_fn) is Checkpoint
    assert [t is x for t in y.grad_fn.inputs] == [True] + [False] * 4
    assert {id(t) for t in y.grad_fn.inputs[1:]} == {id(p) for p in model.parameters()}
    recorded = [t.grad_fn for t in y.grad_fn.inputs if t.grad_fn is not None]
    assert recorded == []                          # one op in the graph: the Checkpoint
    y.sum().backward()
    assert len(calls) == 2
    assert inside[1]() is None                     # the recomputation is freed after backward


def test_the_walk_stops_at_the_block_inputs(device, rng):
    """The graph below a non-leaf input (the rest of the network) is not the block's:
    its leaves are no inputs of the Checkpoint op, and its ops are walked once, by the
    outer engine."""
    model = mlp(device)
    below = leaf(rng, (3, 4), device)
    x = below.exp()
    y = checkpoint(model, x)
    assert [t is x for t in y.grad_fn.inputs] == [True] + [False] * 4
    assert all(t is not below for t in y.grad_fn.inputs)
    tensors = [below, *model.parameters()]
    assert_close(grads_of(y.sum(), tensors), grads_of(model(below.exp()).sum(), tensors))


def test_under_no_grad_it_is_the_plain_call(device, rng):
    model = mlp(device)
    x = leaf(rng, (3, 4), device)
    calls = []
    with tg.no_grad():
        y = checkpoint(lambda a: calls.append(1) or model(a), x)
    assert y.grad_fn is None and len(calls) == 1
    np.testing.assert_allclose(y.numpy(), model(x).numpy(), rtol=0, atol=0)


# ------------------------------------------------------------------------- randomness

def _dropout_block(layer):
    return lambda a: F.dropout(layer(a).tanh(), 0.5, training=True) * 3.0


@pytest.mark.parametrize("preserve", [True, False])
def test_dropout_is_replayed_with_preserve_rng_state(device, rng, preserve):
    layer = nn.Linear(4, 8).to(device, tg.float64)
    x = leaf(rng, (6, 4), device)
    tensors = [x, layer.weight, layer.bias]
    block = _dropout_block(layer)
    tg.manual_seed(5)
    plain = grads_of((block(x) ** 2).sum(), tensors)
    after_plain = tg.rand(4).numpy()
    tg.manual_seed(5)
    y = checkpoint(block, x, preserve_rng_state=preserve)
    tg.rand(3)  # draws between forward and backward do not change the replayed mask
    got = grads_of((y ** 2).sum(), tensors)
    if preserve:
        assert_close(got, plain)
    else:
        assert max(np.abs(a - b).max() for a, b in zip(got, plain)) > 1e-3
    tg.manual_seed(5)
    checkpoint(block, x, preserve_rng_state=preserve)
    np.testing.assert_array_equal(tg.rand(4).numpy(), after_plain)  # the stream goes on


# ----------------------------------------------------------------- arguments and outputs

def test_kwargs_and_non_tensor_arguments(device, rng):
    x, bias = leaf(rng, (3, 4), device), leaf(rng, (4,), device)
    calls = []

    def block(a, power, name, nothing, *, shift, scale=1.0):
        calls.append((power, name, nothing, scale))
        return ((a + shift) ** power * scale).sin()

    plain = grads_of(block(x, 3, "cube", None, shift=bias, scale=0.5).sum(), [x, bias])
    y = checkpoint(block, x, 3, "cube", None, shift=bias, scale=0.5)
    assert_close(grads_of(y.sum(), [x, bias]), plain)
    assert calls[1:] == [(3, "cube", None, 0.5)] * 2


def test_tuple_outputs_share_one_recomputation(device, rng):
    x = leaf(rng, (2, 3), device)
    calls = []

    def block(a):
        calls.append(1)
        return a.exp(), "label", a.sum(0), tg.tensor([1, 2], device=device)

    def loss(outputs):
        first, label, second, counts = outputs
        assert label == "label" and counts.tolist() == [1, 2]
        return (first * 2).sum() + (second ** 2).sum()

    plain = grads_of(loss(block(x)), [x])
    outputs = checkpoint(block, x)
    assert type(outputs) is tuple and len(outputs) == 4
    assert_close(grads_of(loss(outputs), [x]), plain)
    assert len(calls) == 3  # plain, forward, one recomputation for both outputs


def test_an_output_that_needs_no_gradient_is_returned_as_it_is(device, rng):
    x = leaf(rng, (3,), device, requires_grad=False)
    y = checkpoint(lambda a: a * 2, x)
    assert y.grad_fn is None and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), 2 * x.numpy())


def test_an_unsupported_output_type_is_an_error(device, rng):
    x = leaf(rng, (3,), device)
    with pytest.raises(TypeError, match="returned a dict"):
        checkpoint(lambda a: {"y": a * 2}, x)


def test_nested_checkpoints(device, rng):
    model = mlp(device)
    x = leaf(rng, (3, 4), device)
    tensors = [x, *model.parameters()]
    plain = grads_of(model(x).cos().sum(), tensors)
    outer = checkpoint(lambda a: checkpoint(model, a).cos(), x)
    assert_close(grads_of(outer.sum(), tensors), plain)


# -------------------------------------------------------------------------- create_graph

def test_hessian_vector_products_through_a_checkpoint(device, rng):
    model = mlp(device)
    x = leaf(rng, (3, 4), device)
    v = tg.tensor(rng.standard_normal((3, 4)), dtype=tg.float64, device=device)
    weight = model[0].weight

    def hvp(run):
        (grad_x,) = tg.grad((run(x) ** 2).sum(), x, create_graph=True)
        return grads_of((grad_x * v).sum(), [x, weight])  # H_xx·v and H_wx·v

    assert_close(hvp(lambda a: checkpoint(model, a)), hvp(model))


def test_gradgradcheck_through_a_checkpointed_module(device, rng):
    model = mlp(device, (2, 3, 1))
    x = leaf(rng, (2, 2), device)
    weight = model[0].weight
    assert tg.gradgradcheck(lambda a, w: checkpoint(lambda b: model(b) * w.sum(), a),
                            [x, weight])


# ------------------------------------------------------------------------ hooks, errors

def test_a_parameter_hook_runs_once_on_the_total_gradient(device, rng):
    model = mlp(device)
    x = leaf(rng, (3, 4), device)
    seen = []

    def hook(grad):
        seen.append(1)
        return grad * 2

    model[0].weight.register_hook(hook)
    (plain,) = grads_of(model(x).sum() + model(x).sum(), [model[0].weight])
    assert len(seen) == 1
    (got,) = grads_of(checkpoint(model, x).sum() + checkpoint(model, x).sum(),
                      [model[0].weight])
    assert len(seen) == 2
    assert_close([got], [plain])


def test_an_input_written_in_place_after_forward_refuses_backward(device, rng):
    model = mlp(device)
    x = leaf(rng, (3, 4), device)
    y = checkpoint(model, x)
    with tg.no_grad():
        model[0].weight.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_a_second_backward_needs_retain_graph(device, rng):
    model = mlp(device)
    x = leaf(rng, (3, 4), device)
    y = checkpoint(model, x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-15)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_a_recomputation_that_differs_is_an_error(device, rng):
    x = leaf(rng, (3,), device)
    calls = []

    def moody(a):
        calls.append(1)
        return a.sin() if len(calls) == 1 else a.sin().cos()

    with pytest.raises(RuntimeError, match="recorded 2 ops where the forward recorded 1"):
        checkpoint(moody, x).sum().backward()
    calls.clear()
    checkpoint(moody, x, determinism_check="none").sum().backward()  # unchecked: runs


def test_unsupported_options_are_errors(rng):
    x = leaf(rng, (3,), "cpu")
    with pytest.raises(NotImplementedError, match="context_fn"):
        checkpoint(lambda a: a, x, context_fn=lambda: None)
    with pytest.raises(ValueError, match="determinism_check"):
        checkpoint(lambda a: a, x, determinism_check="strict")


# ----------------------------------------------------------------- checkpoint_sequential

@pytest.mark.parametrize("segments", [1, 2, 3])
def test_checkpoint_sequential_gives_the_plain_gradients(device, rng, segments):
    layers = [nn.Linear(3, 3).to(device, tg.float64) for _ in range(3)]
    calls = [0, 0, 0]

    def counted(i):
        def run(a):
            calls[i] += 1
            return layers[i](a).tanh()
        return run

    functions = [counted(i) for i in range(3)]
    x = leaf(rng, (2, 3), device)
    tensors = [x] + [p for layer in layers for p in layer.parameters()]
    z = x
    for function in functions:
        z = function(z)
    plain = grads_of(z.sin().sum(), tensors)
    calls[:] = [0, 0, 0]
    y = checkpoint_sequential(functions, segments, x)
    assert_close(grads_of(y.sin().sum(), tensors), plain)
    size = 3 // segments
    checkpointed = size * (segments - 1)          # the functions of the first segments
    assert calls == [2] * checkpointed + [1] * (3 - checkpointed)


def test_checkpoint_sequential_takes_a_sequential_and_checks_its_arguments(device, rng):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(device, tg.float64)
    x = leaf(rng, (2, 3), device)
    tensors = [x, *model.parameters()]
    plain = grads_of(model(x).sum(), tensors)
    y = checkpoint_sequential(model, 2, x, use_reentrant=False, preserve_rng_state=False)
    assert_close(grads_of(y.sum(), tensors), plain)
    with pytest.raises(ValueError, match="segments must be in 1..3"):
        checkpoint_sequential(model, 0, x)
    with pytest.raises(ValueError, match="unexpected keyword arguments: debug"):
        checkpoint_sequential(model, 2, x, debug=True)


def test_the_torch_spelling(rng):
    assert tg.utils.checkpoint.checkpoint is checkpoint
    assert tg.utils.checkpoint.checkpoint_sequential is checkpoint_sequential
