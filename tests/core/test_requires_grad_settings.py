"""``x.requires_grad = ...`` set where PyTorch refuses it: a gradient is right or an error.

``requires_grad`` is a plain attribute (every op reads it), so the two assignments
PyTorch refuses at once are refused where they would change a gradient:

* a non-leaf set to False: the gradient through it would be silently dropped
  (``y = x * 2; y.requires_grad = False; ((y * 3) + x).sum()`` gave ``x.grad = 1``, not 7).
  An op on it that records nothing raises at once; one that records (another input needs
  grad) raises at backward;
* an integer or bool leaf set to True: its gradient was cast to the integer dtype
  (``(i * 2.5).sum()`` gave ``i.grad = 2``). Backward raises.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd import engine, fast_backward

TWIN = pytest.mark.parametrize("twin", [True, False], ids=["twin", "engine"])


@pytest.fixture
def twin_switch(monkeypatch):
    def set_twin(enabled):
        monkeypatch.setattr(fast_backward, "ENABLED", enabled)
        monkeypatch.setattr(engine, "rewirings", 0)
    return set_twin


def test_an_op_on_a_cut_non_leaf_that_records_nothing_raises_at_once(device):
    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x * 2
    y.requires_grad = False
    with pytest.raises(RuntimeError, match=r"Mul: an input of shape \(2,\) is the output of "
                                           r"Mul but its requires_grad was set to False"):
        y * 3
    assert x.grad is None


@TWIN
def test_a_recorded_op_on_a_cut_non_leaf_raises_at_backward(device, twin, twin_switch):
    twin_switch(twin)
    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x.exp()
    y.requires_grad = False
    z = (y * x).sum()  # recorded (x needs grad); y's path would be lost
    with pytest.raises(RuntimeError, match="Mul: an input of shape .* is the output of Exp"):
        z.backward()
    assert x.grad is None
    with pytest.raises(RuntimeError, match="use .detach"):
        tg.grad((y * x).sum(), x)


@TWIN
def test_cutting_after_use_keeps_the_gradient_and_detach_is_the_way(device, twin, twin_switch):
    twin_switch(twin)
    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x * 2
    z = ((y * 3) + x).sum()
    y.requires_grad = False  # after its consumers were recorded: nothing is lost
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 7.0])
    x.grad = None
    w = x * 2
    ((w.detach() * 3) + x).sum().backward()  # PyTorch's way to stop a gradient
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    v = x * 2
    v.detach_()  # in place: no grad_fn, requires_grad False, usable in any op
    np.testing.assert_array_equal((v * 3).numpy(), [6.0, 12.0])


def test_true_on_a_non_leaf_stays_allowed(device):
    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x * 2
    y.requires_grad = True
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


@TWIN
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_an_integer_leaf_set_to_require_grad_raises_at_backward(device, dtype, twin,
                                                                twin_switch):
    twin_switch(twin)
    i = tg.tensor(np.array([1, 0, 1]).astype(dtype), device=device)
    i.requires_grad = True  # (requires_grad_(True) refuses at once)
    w = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    loss = (i * 2.5 + w).sum()
    with pytest.raises(RuntimeError, match=f"a leaf of dtype {dtype} requires grad; only "
                                           "floating-point tensors can require gradients"):
        loss.backward()
    assert i.grad is None and w.grad is None
    with pytest.raises(TypeError, match="only floating-point tensors"):
        tg.tensor([1, 2], device=device).requires_grad_(True)


@TWIN
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_float_leaves_and_unused_integer_leaves_are_fine(device, dtype, twin, twin_switch):
    twin_switch(twin)
    i = tg.tensor([1, 2], device=device)
    i.requires_grad = True  # never on a backward path: nothing to refuse
    x = tg.tensor([1.0, 2.0], dtype=dtype, requires_grad=True, device=device)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.array([2.0, 4.0], dtype))
    assert i.grad is None
