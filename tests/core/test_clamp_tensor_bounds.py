"""``clamp``/``clip`` with Tensor bounds against PyTorch's rules, written out in NumPy.

PyTorch computes y = min(max(x, lo), hi) and routes the gradient (its
``clamp_backward`` and ``clamp_backward_min_max``): to x where lo <= x <= hi, to lo
where x < lo and lo < hi, to hi where x > hi or hi < lo. So at a tie the whole
gradient is x's (maximum/minimum would split it half and half), and where lo > hi
all of it is hi's.
"""

import numpy as np
import pytest

import tinygrad_opt as tg


def reference(x, lo, hi, g):
    """y and the three gradients by PyTorch's rules (None: that bound is absent), each
    summed back to its operand's shape."""
    y = x
    if lo is not None:
        y = np.maximum(y, lo)
    if hi is not None:
        y = np.minimum(y, hi)
    g = np.broadcast_to(g, y.shape)
    with np.errstate(invalid="ignore"):
        x_mask = np.ones(y.shape, bool)
        if lo is not None:
            x_mask = x_mask & (x >= lo)
        if hi is not None:
            x_mask = x_mask & (x <= hi)
        lo_mask = None if lo is None else ((x < lo) if hi is None else (x < lo) & (lo < hi))
        hi_mask = None if hi is None else ((x > hi) if lo is None else (x > hi) | (hi < lo))

    def reduced(mask, shape):
        if mask is None:
            return None
        grad = np.where(np.broadcast_to(mask, y.shape), g, 0.0)
        while grad.ndim > len(shape):
            grad = grad.sum(axis=0)
        for axis, size in enumerate(shape):
            if size == 1 and grad.shape[axis] != 1:
                grad = grad.sum(axis=axis, keepdims=True)
        return grad
    return (y, reduced(x_mask, np.shape(x)),
            reduced(lo_mask, None if lo is None else np.shape(lo)),
            reduced(hi_mask, None if hi is None else np.shape(hi)))


def run(device, x, lo, hi, g):
    tensors = [None if a is None else tg.tensor(a, dtype=tg.float64, device=device,
                                                 requires_grad=True) for a in (x, lo, hi)]
    y = tensors[0].clamp(tensors[1], tensors[2])
    y.backward(tg.tensor(np.broadcast_to(g, y.shape).copy(), dtype=tg.float64, device=device))
    return (y.numpy(),) + tuple(None if t is None else t.grad.numpy() for t in tensors)


def check(device, x, lo, hi, g):
    ours, expected = run(device, x, lo, hi, g), reference(np.asarray(x, float),
                                                           None if lo is None else np.asarray(lo, float),
                                                           None if hi is None else np.asarray(hi, float),
                                                           np.asarray(g, float))
    for name, a, b in zip(("y", "x.grad", "lo.grad", "hi.grad"), ours, expected):
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_ties_go_to_x_and_crossed_bounds_to_hi(device):
    """x equal to lo or hi: all of the gradient is x's; lo > hi: every y is hi and all
    of the gradient is hi's (maximum/minimum gave half to each at a tie)."""
    x = [0.0, 1.0, 2.0, 3.0, 5.0, 1.5, 1.0]
    lo = [1.0, 1.0, 1.0, 4.0, 1.0, 1.5, 1.0]
    hi = [2.0, 2.0, 2.0, 2.0, 4.0, 1.5, 1.0]
    g = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    check(device, x, lo, hi, g)
    _, x_grad, lo_grad, hi_grad = run(device, x, lo, hi, g)
    assert x_grad.tolist() == [0, 2, 3, 0, 0, 6, 7]      # the ties: x's
    assert lo_grad.tolist() == [1, 0, 0, 0, 0, 0, 0]
    assert hi_grad.tolist() == [0, 0, 0, 4, 5, 0, 0]     # lo > hi: hi's


@pytest.mark.parametrize("which", ["low", "high"])
def test_one_bound_ties_go_to_x(device, which):
    x, bound, g = [0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [1.0, 2.0, 4.0]
    lo, hi = (bound, None) if which == "low" else (None, bound)
    check(device, x, lo, hi, g)
    _, x_grad, *bound_grads = run(device, x, lo, hi, g)
    assert x_grad.tolist() == ([0, 2, 4] if which == "low" else [1, 2, 0])


def test_nan_propagates_and_gets_no_gradient(device):
    nan = float("nan")
    y, x_grad, lo_grad, hi_grad = run(device, [nan, 0.5, 0.5], [0.0, nan, 0.0],
                                      [1.0, 1.0, nan], [1.0, 1.0, 1.0])
    assert np.isnan(y).all()                              # NaN anywhere: NaN, as PyTorch
    assert x_grad.tolist() == [0, 0, 0] and lo_grad.tolist() == [0, 0, 0]
    assert hi_grad.tolist() == [0, 0, 0]


def test_masked_side_gets_zero_from_inf_and_nan_gradients(device):
    x, lo, hi = [0.0, 1.5, 3.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]
    _, x_grad, lo_grad, hi_grad = run(device, x, lo, hi, [np.inf, np.nan, -np.inf])
    assert x_grad[0] == 0 and x_grad[2] == 0 and np.isnan(x_grad[1])
    assert lo_grad.tolist()[1:] == [0, 0] and lo_grad[0] == np.inf
    assert hi_grad.tolist()[:2] == [0, 0] and hi_grad[2] == -np.inf


@pytest.mark.parametrize("shapes", [((4, 3), (3,), (1, 3)), ((1, 3), (2, 1), None),
                                    ((2, 3), None, ()), ((3,), (2, 3), (2, 1))])
def test_broadcast_bounds_against_the_reference(device, rng, shapes):
    """Random values with ties planted: y and every gradient summed back to its shape."""
    x_shape, lo_shape, hi_shape = shapes
    x = rng.integers(-3, 4, size=x_shape).astype(float)   # integers: ties are frequent
    lo = None if lo_shape is None else rng.integers(-2, 2, size=lo_shape).astype(float)
    hi = None if hi_shape is None else rng.integers(-1, 3, size=hi_shape).astype(float)
    out_shape = np.broadcast_shapes(*[np.shape(a) for a in (x, lo, hi) if a is not None])
    check(device, x, lo, hi, rng.normal(size=out_shape))


def test_gradcheck_and_gradgradcheck_away_from_ties(device, rng):
    x = tg.tensor(rng.normal(size=(3, 4)), dtype=tg.float64, device=device, requires_grad=True)
    lo = tg.tensor(rng.normal(size=(4,)) - 0.7, dtype=tg.float64, device=device,
                   requires_grad=True)
    hi = tg.tensor(rng.normal(size=(3, 1)) + 0.7, dtype=tg.float64, device=device,
                   requires_grad=True)
    assert tg.gradcheck(lambda a, b, c: a.clamp(b, c) ** 2, [x, lo, hi])
    assert tg.gradgradcheck(lambda a, b, c: a.clamp(b, c) ** 2, [x, lo, hi])


def test_dtypes_and_refusals():
    """PyTorch's result type of the three operands; bool refused; shapes that do not
    broadcast named."""
    ints = tg.tensor([1, 5, 9])
    assert ints.clamp(tg.tensor([2]), tg.tensor([6])).tolist() == [2, 5, 6]
    assert ints.clamp(tg.tensor([2]), tg.tensor([6])).dtype == tg.int64
    assert ints.clamp(tg.tensor([2.5])).dtype == tg.float32
    assert tg.tensor([1.0], dtype=tg.float32).clamp(tg.tensor([0.0], dtype=tg.float64)).dtype \
        == tg.float64
    x = tg.tensor([0.5, 2.0], requires_grad=True)
    y = x.clamp(np.array([1.0, 1.0], np.float32), 1.5)     # an array and a number
    assert y.tolist() == [1.0, 1.5] and y.dtype == tg.float32
    with pytest.raises(RuntimeError, match="bool"):
        tg.tensor([True]).clamp(tg.tensor([False]))
    with pytest.raises(ValueError, match="clamp: shapes"):
        tg.ones(3).clamp(tg.zeros(2))


def test_a_write_to_a_bound_after_forward_raises():
    """The masks read the bounds' values: a bound written since forward is an error."""
    x = tg.tensor([0.0, 2.0], requires_grad=True)
    lo = tg.tensor([1.0, 1.0])
    y = x.clamp(min=lo)
    lo[0] = 5.0
    with pytest.raises(RuntimeError, match="in-place operation: an input of ClampByTensors"):
        y.sum().backward()
