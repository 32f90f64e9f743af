"""Audit against PyTorch: activation checkpointing (``tg.utils.checkpoint``), anomaly mode
(``detect_anomaly``, ``set_detect_anomaly``, ``check_nan``) and tensor hooks
(``register_hook``, ``retain_grad``). Expected values written by hand or in NumPy."""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt.utils.checkpoint import checkpoint, checkpoint_sequential


def leaf(rng, shape, requires_grad=True):
    return tg.tensor(rng.standard_normal(shape), dtype=tg.float64, requires_grad=requires_grad)


# --- checkpoint ---------------------------------------------------------------------------

def test_checkpoint_gradcheck_with_fixed_tensor_number_and_keyword_arguments(rng):
    # torch: checkpoint(f, *args, use_reentrant=False, **kwargs) differentiates as f itself
    fixed = leaf(rng, (4,), requires_grad=False)

    def block(x, y, k, z=None, scale=1.0):
        return (x * y).sin() * k + z.exp() * scale

    def checkpointed(a, c):
        return checkpoint(block, a, fixed, 2.0, z=c, scale=3.0, use_reentrant=False)

    inputs = (leaf(rng, (4,)), leaf(rng, (4,)))
    assert tg.autograd.gradcheck(checkpointed, inputs)
    assert tg.autograd.gradgradcheck(checkpointed, inputs)


def test_checkpoint_tuple_with_constant_outputs_keeps_them_as_they_are(rng):
    x, y = leaf(rng, (3,)), leaf(rng, (3,), requires_grad=False)
    first, second, number, detached = checkpoint(
        lambda a, b: (a * 2, b * 3, 5, a.detach()), x, y, use_reentrant=False)
    assert number == 5 and not second.requires_grad and not detached.requires_grad
    np.testing.assert_allclose(second.numpy(), 3 * y.numpy())
    (first * first).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.numpy())  # d/dx (2x)^2


def test_checkpoint_of_a_view_and_of_the_identity(rng):
    x = leaf(rng, (4,))
    out = checkpoint(lambda a: a[1:], x, use_reentrant=False)
    (out * out).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.r_[0.0, 2 * x.numpy()[1:]])
    x.grad = None
    checkpoint(lambda a: a, x, use_reentrant=False).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(4))


def test_each_output_of_a_tuple_can_be_backpropagated_on_its_own(rng):
    # torch (use_reentrant=False): each output has its own graph; a backward from one
    # output frees that output's path only, so a second backward from another one works
    x = leaf(rng, (3,))
    first, second = checkpoint(lambda t: (t.sin(), t.cos()), x, use_reentrant=False)
    first.sum().backward()
    second.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.numpy()) - np.sin(x.numpy()))
    with pytest.raises(RuntimeError, match="second time"):
        first.sum().backward()  # its own path is freed, as in torch


def test_a_tuple_checkpoint_is_freed_once_every_output_has_been_backpropagated(rng):
    x = leaf(rng, (3,))
    first, second = checkpoint(lambda t: (t.sin(), t.cos()), x, use_reentrant=False)
    (gx,) = tg.autograd.grad(first.sum(), x)
    np.testing.assert_allclose(gx.numpy(), np.cos(x.numpy()))
    (gx,) = tg.autograd.grad(second.sum(), x)
    np.testing.assert_allclose(gx.numpy(), -np.sin(x.numpy()))
    both = checkpoint(lambda t: (t.sin(), t.cos()), x, use_reentrant=False)
    (both[0].sum() + both[1].sum()).backward()
    with pytest.raises(RuntimeError, match="second time"):
        (both[1] * 2).sum().backward()  # every output was used: the block is freed


def test_one_recomputation_per_backward_even_with_the_output_used_twice(rng):
    x, calls = leaf(rng, (3,)), []

    def block(a):
        calls.append(1)
        return a.exp()

    y = checkpoint(block, x, use_reentrant=False)
    (y * y + y).sum().backward()
    assert len(calls) == 2  # the forward and one recomputation
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * x.numpy()) + np.exp(x.numpy()))


def test_the_random_stream_after_a_checkpoint_is_that_of_a_plain_run(rng):
    # torch: preserve_rng_state restores the generator after the recomputation
    x = leaf(rng, (50,))

    def block(a):
        return F.dropout(a, 0.5, training=True)

    tg.manual_seed(3)
    y = checkpoint(block, x, use_reentrant=False)
    y.sum().backward()
    after_checkpoint = tg.rand(4).numpy()
    tg.manual_seed(3)
    plain = block(x)
    after_plain = tg.rand(4).numpy()
    np.testing.assert_array_equal(y.numpy(), plain.numpy())
    np.testing.assert_array_equal(after_checkpoint, after_plain)
    np.testing.assert_array_equal(x.grad.numpy() != 0, y.numpy() != 0)  # the same mask


def test_a_hook_registered_inside_the_block_fires_once(rng):
    x, fired = leaf(rng, (3,)), []

    def block(a):
        h = a * 2
        h.register_hook(lambda g: fired.append(g.numpy().copy()))
        return h.exp()

    checkpoint(block, x, use_reentrant=False).sum().backward()
    assert len(fired) == 1
    np.testing.assert_allclose(fired[0], np.exp(2 * x.numpy()))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * x.numpy()))


def test_a_hook_on_a_non_leaf_argument_sees_the_total_gradient_once(rng):
    x, calls = leaf(rng, (3,)), []
    y = x * 1
    y.register_hook(lambda g: calls.append(1) or g * 3)
    checkpoint(lambda t: t * t + t, y, use_reentrant=False).sum().backward()
    assert calls == [1]
    np.testing.assert_allclose(x.grad.numpy(), 3 * (2 * x.numpy() + 1))


def test_double_backward_through_a_checkpoint(rng):
    x = leaf(rng, (3,))
    y = checkpoint(lambda t: (t ** 3).sum(), x, use_reentrant=False)
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.numpy() ** 2)
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())


def test_checkpoint_sequential_runs_the_last_segment_plainly(rng):
    # torch: every segment but the last is checkpointed; the output's grad_fn is the last op
    x = leaf(rng, (3,))
    functions = [lambda t: t * 2, lambda t: t.sin(), lambda t: t + 1, lambda t: t ** 2,
                 lambda t: t.exp()]
    u = np.sin(2 * x.numpy()) + 1
    for segments in range(1, 6):
        x.grad = None
        y = checkpoint_sequential(functions, segments, x, use_reentrant=False)
        assert type(y.grad_fn).__name__ == "Exp"
        y.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(),
                                   np.exp(u ** 2) * 2 * u * np.cos(2 * x.numpy()) * 2)
    with pytest.raises(ValueError, match="segments"):
        checkpoint_sequential(functions, 6, x, use_reentrant=False)


# --- anomaly mode --------------------------------------------------------------------------

def test_detect_anomaly_with_check_nan_false_keeps_the_mode_without_the_check():
    """As PyTorch: the mode is on (ops record where they were made), the NaN check is off."""
    with tg.autograd.detect_anomaly(check_nan=False):
        assert tg.autograd.is_anomaly_enabled()
        assert not tg.autograd.is_anomaly_check_nan_enabled()
        x = tg.tensor([0.0], dtype=tg.float64, requires_grad=True)
        y = x.sqrt() * 0
        assert "test_audit2_checkpoint_hooks.py" in y.grad_fn.trace  # the traces are kept
        with np.errstate(invalid="ignore", divide="ignore"):
            y.sum().backward()  # 0 * inf: a NaN gradient, unchecked
        assert np.isnan(x.grad.numpy()).all()
    assert not tg.autograd.is_anomaly_enabled()
    with tg.autograd.set_detect_anomaly(True, check_nan=False):
        assert tg.autograd.is_anomaly_enabled()
        assert not tg.autograd.is_anomaly_check_nan_enabled()
    assert not tg.autograd.is_anomaly_enabled()


def test_anomaly_mode_switches_nest_and_decorate():
    with tg.autograd.detect_anomaly():
        assert tg.autograd.is_anomaly_check_nan_enabled()
        with tg.autograd.set_detect_anomaly(False):
            assert not tg.autograd.is_anomaly_enabled()
            assert not tg.autograd.is_anomaly_check_nan_enabled()
        assert tg.autograd.is_anomaly_enabled() and tg.autograd.is_anomaly_check_nan_enabled()

    @tg.autograd.detect_anomaly()
    def inside():
        return tg.autograd.is_anomaly_enabled(), tg.autograd.is_anomaly_check_nan_enabled()

    assert inside() == (True, True)

    @tg.autograd.set_detect_anomaly(True)
    def switched():
        return tg.autograd.is_anomaly_enabled()

    assert not tg.autograd.is_anomaly_enabled()  # decorating switched nothing
    assert switched() and not tg.autograd.is_anomaly_enabled()


def test_detect_anomaly_names_the_op_and_where_it_was_made():
    x = tg.tensor([0.0, 1.0], dtype=tg.float64, requires_grad=True)
    with tg.autograd.detect_anomaly():
        y = x.sqrt()  # the line the error must show
        with pytest.raises(RuntimeError, match=r"Sqrt.backward[\s\S]*y = x.sqrt\(\)"), \
                np.errstate(invalid="ignore", divide="ignore"):
            (y * 0).sum().backward()


def test_a_nan_in_the_forward_alone_is_no_anomaly():
    # torch checks what each backward returns: log(-1) is NaN, its gradient 1/x is finite
    x = tg.tensor([-1.0, 2.0], dtype=tg.float64, requires_grad=True)
    with tg.autograd.detect_anomaly(), np.errstate(invalid="ignore"):
        x.log().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 0.5])


# --- tensor hooks --------------------------------------------------------------------------

def test_hooks_run_in_order_each_seeing_the_replacement_before_it(rng):
    x, seen = leaf(rng, (2,)), []
    x.register_hook(lambda g: seen.append(("first", g.numpy().copy())))
    handle = x.register_hook(lambda g: g * 10)
    x.register_hook(lambda g: seen.append(("last", g.numpy().copy())))
    (x * x).sum().backward()
    np.testing.assert_allclose(seen[0][1], 2 * x.numpy())
    np.testing.assert_allclose(seen[1][1], 20 * x.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 20 * x.numpy())
    handle.remove()
    handle.remove()  # a second remove does nothing
    x.grad, seen[:] = None, []
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())
    assert [name for name, _ in seen] == ["first", "last"]


def test_a_non_leaf_used_twice_runs_its_hooks_once_and_retains_the_hooked_gradient(rng):
    # torch >= 2.0: the retained .grad is the gradient after all the tensor's hooks
    x, calls = leaf(rng, (2,)), []
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    y.register_hook(lambda g: calls.append(1))
    ((y * y).sum() + y.sum()).backward()
    assert calls == [1]
    expected = 2 * (2 * 3 * x.numpy() + 1)
    np.testing.assert_allclose(y.grad.numpy(), expected)
    np.testing.assert_allclose(x.grad.numpy(), 3 * expected)


def test_autograd_grad_returns_the_hooked_gradient(rng):
    # torch: a tensor's hooks run before autograd.grad captures its gradient
    x = leaf(rng, (2,))
    x.register_hook(lambda g: g * 5)
    (gx,) = tg.autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(gx.numpy(), 10 * x.numpy())


def test_a_hook_under_create_graph_is_differentiated_through():
    x = tg.tensor([2.0], dtype=tg.float64, requires_grad=True)
    y = x ** 3
    y.register_hook(lambda g: g * x)  # dL/dx = 3x^2 * x = 3x^3
    (g,) = tg.autograd.grad(y.sum(), x, create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g.detach().numpy(), [24.0])
    np.testing.assert_allclose(h.numpy(), [36.0])  # 9x^2


def test_a_hook_returning_a_wrong_value_is_a_clear_error():
    x = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    x.register_hook(lambda g: 5)
    with pytest.raises(TypeError, match="returned a int"):
        (x * 1).sum().backward()
    y = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    y.register_hook(lambda g: g.reshape(1, 1))
    with pytest.raises(RuntimeError, match="changed the size"):
        (y * 1).sum().backward()
