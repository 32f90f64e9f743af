"""PyTorch's autograd and torch.func tutorials, ported: the gaps they showed, sixth pass.

Fixed here (each test below failed before the fix):
* ``autograd.graph.saved_tensors_hooks(pack_hook, unpack_hook)``, ``save_on_cpu`` and
  ``disable_saved_tensors_hooks`` did not exist. They now apply to what a custom
  Function saves with ``ctx.save_for_backward``: pack at the recorded forward, unpack
  at each read of ``ctx.saved_tensors``, no version check on a packed tensor, and the
  unpacked tensor in its original's place in the graph (a double backward works);
* ``inference_mode(False)`` switched nothing; PyTorch's ``InferenceMode(False)`` sets grad
  mode on (inside ``no_grad`` too), as a block and as a decorator;
* ``func.vmap`` (and ``func.jacfwd``) with the default ``randomness='error'`` let a random
  op through; PyTorch raises.
References are by hand in NumPy.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt.autograd.graph import (disable_saved_tensors_hooks, save_on_cpu,
                                         saved_tensors_hooks)
from tinygrad_opt.func import jacfwd, vmap


class _Exp(tg.autograd.Function):
    """exp, saving its input, a None and its output: d exp(x)/dx = exp(x)."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(x, None, y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        x, nothing, y = ctx.saved_tensors
        assert nothing is None
        return grad_output * y


class _Cube(tg.autograd.Function):
    """x³, saving its input: d/dx = 3x², d²/dx² = 6x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x ** 2


def _leaf(values, device):
    return tg.tensor(values, dtype=tg.float64, device=device, requires_grad=True)


# --- saved tensor hooks ---


def test_saved_tensors_hooks_pack_at_forward_and_unpack_at_each_read(device, rng):
    a = rng.standard_normal(4)
    x = _leaf(a, device)
    log = []

    def pack(tensor):
        log.append(("pack", tensor.shape))
        return tensor.detach().clone()  # a copy: later writes to x do not reach it

    def unpack(packed):
        log.append(("unpack", packed.shape))
        return packed

    with saved_tensors_hooks(pack, unpack):
        y = _Exp.apply(x)
    assert log == [("pack", (4,)), ("pack", (4,))]  # x and y: the None is not packed
    with tg.no_grad():
        x.mul_(0.0)  # no version error: a packed tensor is not checked, as PyTorch's
    y.backward(tg.tensor(np.arange(1.0, 5.0), dtype=tg.float64, device=device))
    assert log[2:] == [("unpack", (4,)), ("unpack", (4,))]
    np.testing.assert_allclose(x.grad.numpy(), np.arange(1.0, 5.0) * np.exp(a), rtol=1e-12)


def test_saved_tensors_hooks_pack_nothing_when_nothing_is_recorded(device, rng):
    log = []
    x = tg.tensor(rng.standard_normal(3), dtype=tg.float64, device=device)  # no grad
    with saved_tensors_hooks(lambda t: log.append(t) or t, lambda t: t):
        y = _Exp.apply(x)
        with tg.no_grad():
            _Exp.apply(_leaf(rng.standard_normal(3), device))
    assert log == []
    np.testing.assert_allclose(y.numpy(), np.exp(x.numpy()), rtol=1e-12)


def test_unpacked_tensors_take_their_originals_place_for_a_double_backward(device, rng):
    a = rng.standard_normal(5)
    x = _leaf(a, device)
    with saved_tensors_hooks(lambda t: t.detach().numpy() if t.device == "cpu" else t.detach(),
                             lambda p: p if isinstance(p, tg.Tensor) else tg.tensor(p)):
        y = _Cube.apply(x)
    (g,) = tg.autograd.grad(y.sum(), x, create_graph=True)
    (gg,) = tg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g.detach().numpy(), 3 * a ** 2, rtol=1e-12)
    np.testing.assert_allclose(gg.numpy(), 6 * a, rtol=1e-12)


def test_save_on_cpu_keeps_values_and_passes_gradgradcheck(device, rng):
    a = rng.uniform(0.5, 1.5, size=(2, 3))
    x = _leaf(a, device)
    with save_on_cpu(pin_memory=False):
        y = _Exp.apply(x)
        assert tg.autograd.gradgradcheck(_Cube.apply, (x,))
    (packed_x, _, packed_y) = [p for p in y.grad_fn.ctx._saved]  # (value, original) pairs
    assert packed_x[0][0] == device and packed_x[0][1].device == "cpu"
    y.sum().backward()
    assert x.grad.device == device
    np.testing.assert_allclose(x.grad.numpy(), np.exp(a), rtol=1e-12)


def test_disable_saved_tensors_hooks_raises_its_message():
    with disable_saved_tensors_hooks("hooks are off here"):
        with pytest.raises(RuntimeError, match="hooks are off here"):
            with save_on_cpu():
                pass
    with saved_tensors_hooks(lambda t: t, lambda t: t):  # entered while hooks are active
        with pytest.raises(RuntimeError, match="not with hooks"):
            with disable_saved_tensors_hooks("not with hooks"):
                pass
    with saved_tensors_hooks(lambda t: t, lambda t: t):  # (enabled again afterwards)
        pass


def test_saved_tensors_hooks_refuse_bad_hooks():
    with pytest.raises(TypeError, match="pack_hook"):
        saved_tensors_hooks(3, lambda t: t)
    x = _leaf([1.0, 2.0], "cpu")
    with saved_tensors_hooks(lambda t: t, lambda t: "not a tensor"):
        y = _Cube.apply(x)
    with pytest.raises(TypeError, match="unpack hook"):
        y.sum().backward()


# --- inference_mode(False) ---


def test_inference_mode_false_records_inside_no_grad(rng):
    a = rng.standard_normal(3)
    x = tg.tensor(a, dtype=tg.float64, requires_grad=True)

    @tg.inference_mode(False)
    def doubled(t):
        return t * 2

    with tg.no_grad():
        with tg.inference_mode(False):
            y = x * 3
        z = doubled(x)
        assert not (x * 1).requires_grad
    assert y.requires_grad and z.requires_grad
    (y.sum() + z.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 5.0))


# --- vmap's randomness='error' ---


def test_vmap_default_randomness_refuses_a_random_op(device):
    x = tg.ones(4, 6, device=device)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        vmap(lambda row: F.dropout(row, 0.5, training=True))(x)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        vmap(lambda row: row + tg.rand(6, device=device))(x)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        jacfwd(lambda t: t * tg.rand(6, device=device))(x[0])
    different = vmap(lambda row: F.dropout(row, 0.5, training=True),
                     randomness="different")(x).numpy()
    assert set(np.unique(different)) <= {0.0, 2.0}  # kept entries scaled by 1/(1-p)
    kept = vmap(lambda row: F.dropout(row, 0.5, training=False))(x)  # no draw: allowed
    np.testing.assert_array_equal(kept.numpy(), np.ones((4, 6)))
