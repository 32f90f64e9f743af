"""Forward mode, ``tg.autograd.forward_ad`` (PyTorch's ``torch.autograd.forward_ad``).

The tangent that forward mode carries to an op's output must be J·ẋ. For every entry
of the op tables (the core table, the fused and nn ops, and the tables of the files
in ``test_two_modes.OTHER_TABLES``) it is compared with the double-vjp JVP of
``tg.autograd.functional.jvp`` and with a central finite difference along ẋ; then
hand-derived tangents (sin, x·y, matmul, a small MLP), the level's life cycle, the
errors, in-place writes and the cost of the hook.
"""

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_two_modes import OTHER_TABLES, TABLE
from tinygrad_opt.autograd import engine
from tinygrad_opt.autograd import forward_ad as fwAD
from tinygrad_opt.autograd.grad_mode import flags


def _other_tables() -> list:
    """The entries of OTHER_TABLES, imported as test_two_modes' ``other_tables`` fixture
    does (tests/ and tests/nn added to the path)."""
    for folder in (Path(__file__).parent.parent, Path(__file__).parent.parent / "nn"):
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
    return [op for module, table in OTHER_TABLES.items()
            for op in getattr(importlib.import_module(module), table)]


ALL_OPS = TABLE + _other_tables()

ONE_DRAW = settings(max_examples=1, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def forward_mode(fn, inputs, tangents):
    """(fn(inputs), its tangent) by forward mode."""
    with fwAD.dual_level():
        duals = [fwAD.make_dual(x, t) for x, t in zip(inputs, tangents)]
        return fwAD.unpack_dual(fn(*duals))


def central_difference(fn, arrays, tangent_arrays, device, eps):
    """(fn(x + eps·ẋ) − fn(x − eps·ẋ)) / (2·eps), in float64 NumPy."""
    def at(sign):
        shifted = [tg.tensor(x + sign * eps * t, dtype=tg.float64, device=device)
                   for x, t in zip(arrays, tangent_arrays)]
        return fn(*shifted).numpy()
    return (at(1.0) - at(-1.0)) / (2 * eps)


# Entries whose function writes into a tensor in place (x[i] = v, scatter, index_put,
# sin_, ...): in-place ops do not carry tangents, and the result raises instead of
# giving a wrong tangent.
IN_PLACE = {"setitem_column", "setitem_rows_broadcast", "write_through_a_view", "scatter",
            "scatter_value", "index_add_in_place", "index_fill_tensor_value", "masked_scatter",
            "sin_", "cos_", "reciprocal_", "clamp_min_", "clamp_max_tensor_", "floor_", "round_",
            "index_put",
            "index_put_accumulate_repeats", "put_accumulate", "index_put_bool_mask"}


def test_the_special_sets_name_table_entries():
    names = {op.name for op in ALL_OPS}
    assert IN_PLACE <= names


@pytest.mark.parametrize("op", ALL_OPS, ids=[op.name for op in ALL_OPS])
@ONE_DRAW
@given(data=st.data())
def test_the_tangent_of_every_op_is_the_jvp(op, device, data):
    """One small draw per entry (the op's own domain keeps it away from kinks)."""
    shapes = data.draw(op.shapes(op.arity), label="shapes")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    arrays = op.domain(rng, shapes)  # away from the kinks of the op (its own domain)
    tangent_arrays = [rng.standard_normal(np.shape(x)) for x in arrays]
    inputs = [tg.tensor(x, dtype=tg.float64, device=device) for x in arrays]
    tangents = [tg.tensor(t, dtype=tg.float64, device=device) for t in tangent_arrays]
    if op.name in IN_PLACE:  # (refused at the write, or at the next use of what it wrote)
        with pytest.raises(RuntimeError, match="in place"):
            forward_mode(op.fn, inputs, tangents)
        return

    primal, tangent = forward_mode(op.fn, inputs, tangents)

    output, jvp = tg.autograd.functional.jvp(op.fn, tuple(inputs), tuple(tangents))
    assert tangent is not None and not tangent.requires_grad
    assert tangent.shape == primal.shape == output.shape
    assert tangent.dtype == primal.dtype and tangent.device == primal.device
    np.testing.assert_allclose(primal.numpy(), output.numpy(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(tangent.numpy(), jvp.numpy(), rtol=1e-9, atol=1e-11)
    tolerance = op.tolerance
    difference = central_difference(op.fn, arrays, tangent_arrays, device,
                                    tolerance.get("eps", 1e-6))
    np.testing.assert_allclose(tangent.numpy(), difference, rtol=tolerance.get("rtol", 1e-3),
                               atol=tolerance.get("atol", 1e-5))


# --- tangents derived by hand ---

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
T = np.array([[1.0, 0.5, -2.0], [0.0, 3.0, 1.0]])


def as_tensors(device, *arrays):
    return [tg.tensor(array, dtype=tg.float64, device=device) for array in arrays]


def test_sin(device):
    # y = sin x:   ẏ = cos(x)·ẋ
    x, t = as_tensors(device, X, T)
    primal, tangent = forward_mode(lambda x: x.sin(), [x], [t])
    np.testing.assert_allclose(primal.numpy(), np.sin(X), rtol=1e-15)
    np.testing.assert_allclose(tangent.numpy(), np.cos(X) * T, rtol=1e-14, atol=1e-15)


def test_product_rule(device):
    # y = a·b:   ẏ = ȧ·b + a·ḃ
    b_value, b_tangent = np.array([2.0, -1.0, 0.5]), np.array([0.5, 0.5, -1.0])
    a, ta, b, tb = as_tensors(device, X, T, b_value, b_tangent)
    _, tangent = forward_mode(lambda a, b: a * b, [a, b], [ta, tb])
    np.testing.assert_allclose(tangent.numpy(), T * b_value + X * b_tangent, rtol=1e-15)


def test_only_the_dual_input_contributes(device):
    # y = a·c with c not dual:   ẏ = ȧ·c
    a, ta, c = as_tensors(device, X, T, X[::-1])
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(fwAD.make_dual(a, ta) * c).tangent
    np.testing.assert_allclose(tangent.numpy(), T * X[::-1], rtol=1e-15)


def test_matmul(device):
    # Y = A·B:   Ẏ = Ȧ·B + A·Ḃ
    rng = np.random.default_rng(1)
    A, dA, B, dB = (rng.standard_normal(shape) for shape in [(2, 3), (2, 3), (3, 4), (3, 4)])
    _, tangent = forward_mode(lambda a, b: a @ b, as_tensors(device, A, B),
                              as_tensors(device, dA, dB))
    expected = np.einsum("ik,kj->ij", dA, B) + np.einsum("ik,kj->ij", A, dB)
    np.testing.assert_allclose(tangent.numpy(), expected, rtol=1e-13, atol=1e-14)


def test_small_mlp(device):
    """out = tanh(x·W1ᵀ + b1)·W2ᵀ + b2 with tangents on x, W1 and b2:
    ḣ = (1 − h²) ⊙ (ẋ·W1ᵀ + x·Ẇ1ᵀ),   ȯut = ḣ·W2ᵀ + ḃ2."""
    rng = np.random.default_rng(2)
    x, W1, b1, W2, b2 = (rng.standard_normal(shape)
                         for shape in [(4, 3), (5, 3), (5,), (2, 5), (2,)])
    dx, dW1, db2 = (rng.standard_normal(shape) for shape in [(4, 3), (5, 3), (2,)])
    tensors = as_tensors(device, x, W1, b1, W2, b2)
    with fwAD.dual_level():
        x_, W1_, b2_ = (fwAD.make_dual(value, tangent) for value, tangent
                        in zip([tensors[0], tensors[1], tensors[4]],
                               as_tensors(device, dx, dW1, db2)))
        out = (x_ @ W1_.T + tensors[2]).tanh() @ tensors[3].T + b2_
        primal, tangent = fwAD.unpack_dual(out)
    h = np.tanh(np.einsum("ni,hi->nh", x, W1) + b1)
    h_dot = (1 - h ** 2) * (np.einsum("ni,hi->nh", dx, W1) + np.einsum("ni,hi->nh", x, dW1))
    np.testing.assert_allclose(primal.numpy(), np.einsum("nh,oh->no", h, W2) + b2,
                               rtol=1e-13)
    np.testing.assert_allclose(tangent.numpy(), np.einsum("nh,oh->no", h_dot, W2) + db2,
                               rtol=1e-12, atol=1e-14)


def test_float32_and_views(device):
    # views carry the matching part of the tangent: (ẋ)[0], (ẋ)ᵀ, ẋ reshaped
    x, t = (tg.tensor(array, dtype=tg.float32, device=device) for array in (X, T))
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, t)
        views = [dual[0], dual.T, dual.reshape(3, 2), dual[:, ::-1]]
        tangents = [fwAD.unpack_dual(view).tangent for view in views]
    for tangent, expected in zip(tangents, [T[0], T.T, T.reshape(3, 2), T[:, ::-1]]):
        assert tangent.dtype == tg.float32 and tangent.device == device
        np.testing.assert_array_equal(tangent.numpy(), expected.astype(np.float32))


# --- make_dual, unpack_dual and the level ---


def test_make_dual_shares_values_and_keeps_the_tangent_as_given(device):
    x, t = as_tensors(device, X, T)
    with fwAD.dual_level() as level:
        assert level == 0
        dual = fwAD.make_dual(x, t)
        unpacked = fwAD.unpack_dual(dual)
        assert isinstance(unpacked, fwAD.UnpackedDualTensor)
        assert unpacked.tangent is t and unpacked[1] is t
        assert dual is not x and fwAD.unpack_dual(x).tangent is None  # x itself stays plain
        np.testing.assert_array_equal(unpacked.primal.numpy(), X)
        assert fwAD.unpack_dual(unpacked.primal).tangent is None      # the primal has none


def test_unpack_dual_of_tensors_without_tangents(device):
    x, y = as_tensors(device, X, T)
    assert tuple(fwAD.unpack_dual(x)) == (x, None)  # outside a level: the tensor itself
    assert fwAD.unpack_dual(x).primal is x
    with fwAD.dual_level():
        primal, tangent = fwAD.unpack_dual(x + y)  # no input has a tangent
        assert tangent is None
        np.testing.assert_array_equal(primal.numpy(), X + T)
        assert fwAD.unpack_dual((x > 0).sum()).tangent is None
        dual = fwAD.make_dual(x, y)
        assert fwAD.unpack_dual(dual.argmax()).tangent is None  # an integer output


def test_leaving_the_level_drops_the_tangents(device):
    x, t = as_tensors(device, X, T)
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, t)
        y = dual.exp()
        assert fwAD.unpack_dual(y).tangent is not None
        assert fwAD._tangents
    assert flags.forward_ad is None and not fwAD._tangents
    assert fwAD.unpack_dual(y).tangent is None
    with fwAD.dual_level():  # a new level knows nothing of the old tangents
        assert fwAD.unpack_dual(y).tangent is None and fwAD.unpack_dual(y.sin()).tangent is None


def test_an_error_inside_the_block_still_closes_the_level():
    with pytest.raises(ZeroDivisionError):
        with fwAD.dual_level():
            1 / 0
    assert flags.forward_ad is None and fwAD._current_level == -1


def test_enter_and_exit_by_hand_and_as_a_decorator(device):
    x, t = as_tensors(device, X, T)
    assert fwAD.enter_dual_level() == 0
    try:
        tangent = fwAD.unpack_dual(fwAD.make_dual(x, t) * 2.0).tangent
    finally:
        fwAD.exit_dual_level(level=0)
    np.testing.assert_array_equal(tangent.numpy(), 2 * T)

    @fwAD.dual_level()
    def jvp_of_cube(x, t):
        return fwAD.unpack_dual(fwAD.make_dual(x, t) ** 3).tangent

    np.testing.assert_allclose(jvp_of_cube(x, t).numpy(), 3 * X ** 2 * T, rtol=1e-14)
    assert flags.forward_ad is None


def test_tangents_die_with_their_tensors(device):
    x, t = as_tensors(device, X, T)
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, t)
        for _ in range(5):
            dual.sin().cos()  # each intermediate's tangent leaves with it
        assert len(fwAD._tangents) == 1
        del dual
        assert not fwAD._tangents


def test_reverse_mode_through_a_dual_tensor(device):
    # make_dual and unpack_dual are views in the graph: d/dx Σ exp(x) = exp(x)
    x, t = as_tensors(device, X, T)
    x.requires_grad_()
    with fwAD.dual_level():
        primal, tangent = fwAD.unpack_dual(fwAD.make_dual(x, t).exp())
        primal.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(X), rtol=1e-15)
    np.testing.assert_allclose(tangent.numpy(), np.exp(X) * T, rtol=1e-15)
    assert tangent.requires_grad  # exp(x)·t depends on x, which requires grad (PyTorch)


def test_a_tangent_that_requires_grad_gives_a_differentiable_tangent(device):
    # ẏ = cos(x)·ẋ, so d/dẋ Σ w·ẏ = w·cos(x)  (forward-over-reverse, in the tangent)
    x, t, w = as_tensors(device, X, T, X[::-1])
    t.requires_grad_()
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(fwAD.make_dual(x, t).sin() * 2.0).tangent
    assert tangent.requires_grad
    (tangent * w).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), 2 * np.cos(X) * X[::-1], rtol=1e-14)


# --- errors ---


def test_make_dual_checks_its_arguments(device):
    x, t = as_tensors(device, X, T)
    with pytest.raises(RuntimeError, match="no level exists"):
        fwAD.make_dual(x, t)
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match=r"different size.*of size \(2, 3\) while the "
                                               r"given forward gradient is of size \(3,\)"):
            fwAD.make_dual(x, t[0])
        with pytest.raises(RuntimeError, match="same dtype as primal, but got: float32"):
            fwAD.make_dual(x, t.float())
        with pytest.raises(ValueError, match="primal to be floating point.*int64"):
            fwAD.make_dual(tg.tensor([1, 2], device=device), tg.tensor([1.0, 2.0]))
        with pytest.raises(ValueError, match="tangent to be floating point.*int64"):
            fwAD.make_dual(tg.tensor([1.0, 2.0], device=device), tg.tensor([1, 2]))
        other = "cpu" if device != "cpu" else "strict"
        with pytest.raises(RuntimeError, match=f"same device as primal.*'{other}'"):
            fwAD.make_dual(x, t.to(other))
        dual = fwAD.make_dual(x, t)
        with pytest.raises(RuntimeError, match="already has a forward gradient at the same "
                                               "level 0"):
            fwAD.make_dual(dual, t)
        with pytest.raises(RuntimeError, match="level 1 is not the current"):
            fwAD.unpack_dual(dual, level=1)


def test_levels_do_not_nest_and_exit_in_order():
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
            fwAD.enter_dual_level()
        with pytest.raises(RuntimeError, match="not the last one that was created"):
            fwAD.exit_dual_level(level=1)
    with pytest.raises(RuntimeError, match="no forward AD level is open"):
        fwAD.exit_dual_level()


# --- in-place writes: they do not carry tangents, and say so ---


@pytest.mark.parametrize("write", ["setitem", "iadd", "relu_", "view", "into_plain",
                                   "iadd_into_plain"])
def test_an_in_place_write_of_or_into_a_dual_tensor_raises_at_the_write(write, device):
    """Not recorded (nothing requires grad), such a write would leave the written tensor's
    tangent stale, or drop the written value's: it is refused at once, naming SetItem."""
    x, t = as_tensors(device, X, T)
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, t)
        plain = tg.zeros(*X.shape, dtype=tg.float64, device=device)
        with pytest.raises(RuntimeError, match="SetItem writes a dual tensor in place"):
            if write == "setitem":
                dual[0, 1] = 5.0
            elif write == "iadd":
                dual += 1.0
            elif write == "relu_":
                dual.relu_()
            elif write == "view":
                dual[1][0] = 5.0
            elif write == "into_plain":
                plain[0] = dual[0]            # would silently drop the tangent
            else:
                plain += dual
        plain += 1.0                          # plain into plain: as ever
        assert plain.numpy()[0, 0] == 1.0


def test_a_recorded_setitem_of_a_dual_value_names_the_op(device):
    x, t = as_tensors(device, X[0], T[0])
    x.requires_grad_()
    with fwAD.dual_level():
        target = tg.zeros(5, dtype=tg.float64, device=device)
        with pytest.raises(RuntimeError, match="SetItem"):
            target[1:4] = fwAD.make_dual(x, t)  # recorded: x requires grad


def test_checkpoint_with_inputs_that_require_grad_names_the_op(device):
    from tinygrad_opt.utils.checkpoint import checkpoint
    x, t = as_tensors(device, X, T)
    x.requires_grad_()
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, t)
        with pytest.raises(RuntimeError, match="Checkpoint of a dual tensor"):
            checkpoint(lambda a: a.sin() * a, dual)
        tangent = fwAD.unpack_dual(checkpoint(lambda a: a.sin() * a, dual.detach())).tangent
    assert tangent is None  # detach() drops the tangent, as in PyTorch


def test_ops_on_tensors_without_tangents_and_their_views_work_unchanged(device):
    x, y = as_tensors(device, X, T)
    x.requires_grad_()
    with fwAD.dual_level():
        z = (x[0] * y.T[:, 1]).exp()
        z.sum().backward()
        w = y.clone()
        w[0] = 1.0  # in place on a tensor without tangent: allowed
        w += 2.0
    np.testing.assert_allclose(x.grad.numpy()[0], np.exp(X[0] * T[1]) * T[1], rtol=1e-15)
    np.testing.assert_array_equal(w.numpy(), np.vstack([np.ones(3), T[1]]) + 2.0)


# --- the hook's cost ---


def test_outside_a_level_the_hook_is_off_and_inside_it_skips_plain_ops(device, monkeypatch):
    """Outside a level ``flags.forward_ad`` is None (Function.apply's one check); inside,
    ops whose inputs have no tangent return at once: no recomputation, no backward."""
    assert flags.forward_ad is None
    calls = []
    run_backward = engine.run_backward
    monkeypatch.setattr(engine, "run_backward", lambda *args, **kwargs: calls.append(1) or
                        run_backward(*args, **kwargs))
    x, t = as_tensors(device, X, T)
    outside = ((x @ t.T).tanh() * 3.0).sum()
    with fwAD.dual_level():
        assert flags.forward_ad is fwAD._carry
        inside = ((x @ t.T).tanh() * 3.0).sum()
        assert not calls and not fwAD._tangents
        fwAD.make_dual(x, t).sin()
        assert calls  # a dual input: the double-vjp trick ran
    assert flags.forward_ad is None
    np.testing.assert_array_equal(outside.numpy(), inside.numpy())


# --- docstrings ---


def test_every_public_name_has_a_docstring():
    for name in fwAD.__all__:
        assert getattr(fwAD, name).__doc__, name
