"""An in-place write, in grad mode, into a view made out of the graph of a tensor that
requires grad (under no_grad) is refused, as in PyTorch: it would change the tensor's
values without its graph, so the tensor's gradient would be silently wrong (it was:
``x = w * 1; with no_grad: v = x[:2]; v.mul_(2); x.sum().backward()`` gave w.grad = 1s)."""

import numpy as np
import pytest

import tinygrad_opt as tg

WRITES = {
    "mul_": lambda v: v.mul_(2),
    "*=": lambda v: v.__imul__(2),
    "add_": lambda v: v.add_(1.0),
    "x[0] = number": lambda v: v.__setitem__(0, 5.0),
    "zero_": lambda v: v.zero_(),
    "fill_": lambda v: v.fill_(3.0),
    "copy_": lambda v: v.copy_(tg.ones(2)),
    "clamp_": lambda v: v.clamp_(0.0, 0.5),
}


def _no_grad_view(device):
    w = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    x = w * 1.0                               # a tensor in the graph
    with tg.no_grad():
        v = x[:2]                             # a view of its memory, out of its graph
    return w, x, v


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_into_a_no_grad_view_with_grad_on_is_refused(device, write):
    w, x, v = _no_grad_view(device)
    with pytest.raises(RuntimeError, match=r"view \(of shape \(2,\)\).*made under no_grad"):
        WRITES[write](v)
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0, 3.0])  # nothing written
    x.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0, 1.0])


def test_a_value_that_requires_grad_is_refused_too(device):
    w, x, v = _no_grad_view(device)
    with pytest.raises(RuntimeError, match="made under no_grad"):
        v[0] = w[0] * 5


def test_the_view_and_the_write_both_under_no_grad_are_not_tracked(device):
    # PyTorch's first way out: the write changes x's values, its graph stays x = w * 1
    w, x, v = _no_grad_view(device)
    with tg.no_grad():
        v.mul_(2)
    np.testing.assert_array_equal(x.detach().numpy(), [2.0, 4.0, 3.0])
    x.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0, 1.0])


def test_the_view_and_the_write_both_with_grad_are_tracked(device):
    # the second way out: x = [2 w0, 2 w1, w2], so d sum(x) / dw = [2, 2, 1]
    w = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    x = w * 1.0
    v = x[:2]
    v.mul_(2)
    np.testing.assert_array_equal(x.detach().numpy(), [2.0, 4.0, 3.0])
    x.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 1.0])


def test_views_that_are_not_differentiable_may_be_written(device):
    w, x, _ = _no_grad_view(device)
    x.detach()[0] = 7.0                       # detach(): PyTorch allows it, untracked
    x.view(tg.int32)[1] = 0                   # view(dtype): not differentiable either
    np.testing.assert_array_equal(x.detach().numpy(), [7.0, 0.0, 3.0])
    assert x._version == 2                    # an op that saved x will refuse


def test_views_of_tensors_that_need_no_grad_are_written_as_before(device):
    plain = tg.zeros(4, device=device)
    view = plain[1:3]
    view.mul_(2)
    view += 1
    view[0] = 5.0
    np.testing.assert_array_equal(plain.numpy(), [0.0, 5.0, 1.0, 0.0])


def test_a_view_of_a_leaf_taken_before_it_required_grad_is_refused(device):
    leaf = tg.zeros(3, device=device)
    view = leaf[:2]
    leaf.requires_grad_()
    with pytest.raises(RuntimeError, match="of a leaf tensor .* in-place operation"):
        view.mul_(2)


def test_a_no_grad_view_made_stale_by_a_recorded_write_is_made_again_and_tracked(device):
    # buf's recorded write (buf[2] = w2 * 3) leaves the no-grad view stale; the next write
    # makes it again from buf first, so it is in the graph and its write is tracked
    w = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    buf = tg.zeros(3, device=device)
    with tg.no_grad():
        view = buf[:2]
    buf[2] = w[1] * 3                         # buf = [0, 0, 3 w1]
    view += w[0]                              # buf = [w0, w0, 3 w1]
    np.testing.assert_array_equal(buf.detach().numpy(), [1.0, 1.0, 6.0])
    buf.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 3.0])
