"""Audit of the in-place Tensor methods outside the reading path against PyTorch's
documented semantics. Bugs fixed: ``add_``/``sub_``/``mul_``/``div_`` refusing a result
of another kind (an integer tensor += float: before, a NumPy UFuncTypeError, or a silent
truncation when the operand required grad), ``fill_`` taking a 0-d value from another
device, and the shape in-places (``t_``, ``unsqueeze_``, ...) bumping the version. Pins of
what was verified right: values and ``is self``, the version bump, leaf refusal and
``no_grad``, gradients through the write (float64 gradchecks), writes into views, and
expanded tensors refusing. Expected values are written here in NumPy or by hand."""

import numpy as np
import pytest

import tinygrad_opt as tg


def host(t):
    return tg.backend.to_host(t.data)


def f64(values, requires_grad=False, device="cpu"):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=tg.float64,
                     requires_grad=requires_grad, device=device)


# --- bug: a result of another kind cannot go into the tensor (PyTorch's canCast) ---

REFUSED = {
    "int add_ float": lambda: tg.tensor([1, 2]).add_(1.5),
    "int add_ float tensor that requires grad": lambda: tg.tensor([1, 2]).add_(
        tg.tensor([1.5, 2.5], requires_grad=True)),
    "int mul_ float tensor that requires grad": lambda: tg.tensor([1, 2]).mul_(
        tg.tensor([1.5, 2.5], requires_grad=True)),
    "int sub_ float alpha": lambda: tg.tensor([1, 2]).sub_(tg.tensor([1, 1]), alpha=0.5),
    "int true div_": lambda: tg.tensor([2, 4]).div_(2),
    "int floor div_ by a float": lambda: tg.tensor([-3, 2]).div_(2.0, rounding_mode="floor"),
    "bool add_ int": lambda: tg.tensor([True, False]).add_(1),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_arithmetic_in_places_refuse_a_result_of_another_kind(name):
    # PyTorch: "result type Float can't be cast to the desired output type Long"
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        REFUSED[name]()


def test_arithmetic_in_places_keep_results_of_the_same_kind():
    x = tg.tensor([1.0, 2.0])
    assert x.add_(tg.tensor([1, 1])) is x and x.dtype == tg.float32  # float += int
    np.testing.assert_array_equal(host(x), [2.0, 3.0])
    y = tg.tensor([1, 2], dtype=tg.int32).add_(tg.tensor([1, 2]), alpha=3)  # int32 += int64
    assert y.dtype == tg.int32
    np.testing.assert_array_equal(host(y), [4, 8])
    z = tg.tensor([-3, 2]).div_(2, rounding_mode="floor")
    assert z.dtype == tg.int64
    np.testing.assert_array_equal(host(z), [-2, 1])
    np.testing.assert_array_equal(host(tg.tensor([-3, 2]).div_(2, rounding_mode="trunc")),
                                  [-1, 1])
    b = tg.tensor([True, False]).mul_(tg.tensor([True, True]))
    assert b.dtype == tg.bool
    np.testing.assert_array_equal(host(b), [True, False])


def test_arithmetic_in_places_name_a_device_mismatch(device):
    if device == "cpu":
        pytest.skip("needs a second device")
    with pytest.raises(RuntimeError, match="add_: operands are on different devices"):
        tg.zeros(2, device=device).add_(tg.ones(2))


# --- bug: fill_ takes a 0-d value from another device (PyTorch: value.item()) ---

def test_fill_takes_a_0d_value_from_another_device(device):
    other = "cpu" if device != "cpu" else device
    x = tg.zeros(3, dtype=tg.float64, device=device) * 1.0
    value = f64(2.5, requires_grad=True, device=other)
    assert x.fill_(value) is x
    np.testing.assert_array_equal(host(x), [2.5, 2.5, 2.5])
    (x * f64([1.0, 2.0, 3.0], device=device)).sum().backward()
    assert value.grad.device == other and host(value.grad) == 6.0
    with pytest.raises(ValueError, match="0-d"):
        tg.zeros(2).fill_(tg.tensor([1.0]))


# --- bug: the shape in-places bump the version (an op that saved x refuses) ---

@pytest.mark.parametrize("name, args, shape", [
    ("t_", (), (3, 2)), ("transpose_", (0, 1), (3, 2)), ("swapaxes_", (0, 1), (3, 2)),
    ("unsqueeze_", (0,), (1, 2, 3)), ("squeeze_", (), (2, 3))])
def test_shape_in_places_bump_the_version(name, args, shape):
    w = f64(np.ones((2, 3)), requires_grad=True)
    x = f64(np.arange(6.0).reshape(2, 3))
    loss = (x * w).sum()  # saves x for w's gradient
    before = x._version
    assert getattr(x, name)(*args) is x
    assert x.shape == shape and x._version == before + 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_t_in_place_keeps_the_memory():
    x = f64(np.arange(6.0).reshape(2, 3))
    row = x[0]
    x.t_().add_(1.0)
    np.testing.assert_array_equal(host(x), np.arange(6.0).reshape(2, 3).T + 1)
    np.testing.assert_array_equal(host(row), [1.0, 2.0, 3.0])


# --- pins: values, is self, one version bump ---

X = np.array([[0.5, -1.25, 2.0], [3.0, -0.5, 1.5]])
ONES, IDX = np.ones((2, 3)), np.array([[0, 0, 2], [1, 1, 0]])
VALUES = {
    "add_": (lambda x: x.add_(f64(ONES), alpha=2.5), X + 2.5),
    "sub_": (lambda x: x.sub_(2.0, alpha=-1.5), X + 3.0),
    "mul_": (lambda x: x.mul_(f64([1.0, 2.0, 3.0])), X * [1.0, 2.0, 3.0]),
    "div_": (lambda x: x.div_(f64([[2.0], [4.0]])), X / [[2.0], [4.0]]),
    "div_ floor": (lambda x: x.div_(2.0, rounding_mode="floor"), np.floor(X / 2)),
    "pow_": (lambda x: x.pow_(2), X ** 2),
    "clamp_ tensor bounds": (lambda x: x.clamp_(f64([0.0, -1.0, 0.0]), f64([[1.0], [2.0]])),
                             np.minimum(np.maximum(X, [0.0, -1.0, 0.0]), [[1.0], [2.0]])),
    "clip_ min above max": (lambda x: x.clip_(2.0, 1.0), np.full((2, 3), 1.0)),
    "addcmul_": (lambda x: x.addcmul_(f64(X), f64([1.0, 2.0, 3.0]), value=0.5),
                 X + 0.5 * X * [1.0, 2.0, 3.0]),
    "addcdiv_": (lambda x: x.addcdiv_(f64(ONES), f64([[2.0], [4.0]]), value=2.0),
                 X + 2.0 / np.array([[2.0], [4.0]])),
    "lerp_ tensor weight": (lambda x: x.lerp_(f64(ONES), f64([0.0, 0.5, 1.0])),
                            X + [0.0, 0.5, 1.0] * (1 - X)),
    "exp_": (lambda x: x.exp_(), np.exp(X)),
    "sigmoid_": (lambda x: x.sigmoid_(), 1 / (1 + np.exp(-X))),
    "tanh_": (lambda x: x.tanh_(), np.tanh(X)),
    "relu_": (lambda x: x.relu_(), np.maximum(X, 0)),
    "abs_": (lambda x: x.abs_(), np.abs(X)),
    "neg_": (lambda x: x.neg_(), -X),
    "reciprocal_": (lambda x: x.reciprocal_(), 1 / X),
    "floor_": (lambda x: x.floor_(), np.floor(X)),
    "round_": (lambda x: x.round_(), np.round(X)),  # half to even, as PyTorch
    "sign_": (lambda x: x.sign_(), np.sign(X)),
    "fill_ 0-d tensor": (lambda x: x.fill_(f64(7.0)), np.full((2, 3), 7.0)),
    "zero_": (lambda x: x.zero_(), np.zeros((2, 3))),
    "copy_ broadcast and cast": (lambda x: x.copy_(tg.tensor([1, 2, 3])),
                                 np.tile([1.0, 2.0, 3.0], (2, 1))),
    "masked_fill_": (lambda x: x.masked_fill_(tg.tensor([True, False, True]), f64(9.0)),
                     np.where([True, False, True], 9.0, X)),
    "index_fill_": (lambda x: x.index_fill_(1, tg.tensor([2, 0]), -1.0),
                    np.where([True, False, True], -1.0, X)),
    "index_copy_": (lambda x: x.index_copy_(0, tg.tensor([1, 0]), f64(X[::-1] * 2)), X * 2),
    "index_add_ alpha": (lambda x: x.index_add_(1, tg.tensor([0, 0, 2]), f64(ONES), alpha=2),
                         X + [[4.0, 0.0, 2.0]]),
    "scatter_": (lambda x: x.scatter_(1, tg.tensor([[2], [0]]), f64([[8.0], [9.0]])),
                 np.array([[0.5, -1.25, 8.0], [9.0, -0.5, 1.5]])),
    "scatter_add_": (lambda x: x.scatter_add_(1, tg.tensor(IDX), f64(ONES)),
                     X + [[2.0, 0.0, 1.0], [1.0, 2.0, 0.0]]),
    "scatter_reduce_ sum include_self": (
        lambda x: x.scatter_reduce_(1, tg.tensor(IDX), f64(ONES * 3), "sum"),
        X + [[6.0, 0.0, 3.0], [3.0, 6.0, 0.0]]),
    "scatter_reduce_ amax without self": (
        lambda x: x.scatter_reduce_(1, tg.tensor(IDX), f64([[1.0, 4.0, 2.0], [0.0, 7.0, 5.0]]),
                                    "amax", include_self=False),
        np.array([[4.0, -1.25, 2.0], [5.0, 7.0, 1.5]])),
    "scatter_reduce_ mean": (
        lambda x: x.scatter_reduce_(1, tg.tensor(IDX), f64(ONES * 3), "mean"),
        np.array([[(0.5 + 6) / 3, -1.25, 2.5], [3.0, (-0.5 + 6) / 3, 1.5]])),
    "put_ accumulate": (lambda x: x.put_(tg.tensor([0, 0, -1]), f64([1.0, 2.0, 4.0]),
                                         accumulate=True),
                        X + [[3.0, 0, 0], [0, 0, 4.0]]),
    "index_put_ accumulate": (
        lambda x: x.index_put_((tg.tensor([1, 1]), tg.tensor([2, 2])), f64(1.5),
                               accumulate=True),
        X + [[0, 0, 0], [0, 0, 3.0]]),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_in_place_values_return_self_and_bump_the_version(name):
    apply, expected = VALUES[name]
    x = f64(X)
    before = x._version
    assert apply(x) is x
    assert x.dtype == tg.float64 and x._version > before
    np.testing.assert_allclose(host(x), expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["add_", "exp_", "clamp_ tensor bounds", "addcmul_",
                                  "lerp_ tensor weight", "fill_ 0-d tensor", "index_add_ alpha",
                                  "scatter_reduce_ mean", "put_ accumulate", "round_"])
def test_in_place_refuses_a_leaf_that_requires_grad_but_not_under_no_grad(name):
    apply, expected = VALUES[name]
    x = f64(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        apply(x)
    with pytest.raises(RuntimeError, match="leaf"):
        apply(f64(np.zeros((3, 2, 3)), requires_grad=True)[1])  # a view of a leaf
    with tg.no_grad():
        assert apply(x) is x
    assert x.requires_grad and x.grad_fn is None
    np.testing.assert_allclose(host(x), expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["mul_", "exp_", "copy_ broadcast and cast",
                                  "scatter_add_", "index_fill_"])
def test_in_place_after_a_saved_tensor_refuses_backward(name):
    w = f64(ONES, requires_grad=True)
    x = f64(X)
    loss = (x * w).sum()
    VALUES[name][0](x)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


# --- pins: gradients flow through the write, to the operand and to what came before ---

GRADS = {
    "add_ alpha": lambda x, w, v: (x * 1).add_(w, alpha=2.5),
    "sub_ alpha": lambda x, w, v: (x * 1).sub_(v, alpha=-1.5),
    "mul_": lambda x, w, v: (x * 1).mul_(w),
    "div_": lambda x, w, v: (x * 1).div_(w),
    "pow_ tensor": lambda x, w, v: (x * 1).pow_(w),
    "clamp_ tensor bounds": lambda x, w, v: (x * 1).clamp_(w - 0.2, v + 0.2),
    "addcmul_": lambda x, w, v: (x * 1).addcmul_(w, v, value=0.7),
    "addcdiv_": lambda x, w, v: (x * 1).addcdiv_(w, v, value=0.7),
    "lerp_ tensor weight": lambda x, w, v: (x * 1).lerp_(w, v),
    "exp_": lambda x, w, v: (x * w).exp_(),
    "log_": lambda x, w, v: (x * w).log_(),
    "sqrt_": lambda x, w, v: (x * w).sqrt_(),
    "sigmoid_": lambda x, w, v: (x * w).sigmoid_(),
    "tanh_": lambda x, w, v: (x * w).tanh_(),
    "reciprocal_": lambda x, w, v: (x * w).reciprocal_(),
    "relu_ abs_": lambda x, w, v: (x - w).relu_() + (x - w).abs_(),
    "fill_ 0-d": lambda x, w, v: (x * 1).fill_(v.sum()) * w,
    "copy_ broadcast": lambda x, w, v: (x * 1).copy_(v) * w + x,
    "masked_fill_": lambda x, w, v: (x * 1).masked_fill_(tg.tensor([True, False, True]),
                                                         v.sum()) * w,
    "index_copy_": lambda x, w, v: (x * 1).index_copy_(1, tg.tensor([2, 0]), w[:, :2]),
    "index_add_ alpha": lambda x, w, v: (x * 1).index_add_(1, tg.tensor([2, 0, 2]), w,
                                                           alpha=1.7),
    "scatter_reduce_ prod": lambda x, w, v: (x * 1).scatter_reduce_(
        0, tg.tensor([[0, 1, 0], [1, 0, 1]]), w, "prod", include_self=False),
    "put_ accumulate": lambda x, w, v: (x * 1).put_(tg.tensor([0, 5, 0]), v, accumulate=True),
    "index_put_": lambda x, w, v: (x * 1).index_put_((tg.tensor([0, 1]),), v),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_flow_through_the_in_place_write(name):
    rng = np.random.default_rng(3)
    x, w = (f64(rng.uniform(0.5, 1.5, (2, 3)), requires_grad=True) for _ in range(2))
    v = f64(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    assert tg.gradcheck(GRADS[name], (x, w, v))


def test_writes_into_views_change_the_base_and_its_gradient():
    def through_views(x, w, v):
        y = x * 1
        y[0].add_(v)
        y[:, 1].mul_(w[0, :2])
        y.diagonal().zero_()
        return y * w

    rng = np.random.default_rng(4)
    x, w = (f64(rng.uniform(0.5, 1.5, (2, 3)), requires_grad=True) for _ in range(2))
    v = f64(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    assert tg.gradcheck(through_views, (x, w, v))
    y = f64(np.arange(6.0).reshape(2, 3))
    y[0].add_(1.0)
    y.diagonal().zero_()
    np.testing.assert_array_equal(host(y), [[0.0, 2.0, 3.0], [3.0, 0.0, 5.0]])
    base = f64(np.ones((2, 3)))  # no grad until a view's write brings one in
    base[1].mul_(v)
    (base * f64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    np.testing.assert_array_equal(host(v.grad), [4.0, 5.0, 6.0])


def test_copy_from_another_device_casts_and_sends_the_gradient_back(device):
    src = f64([1.0, 2.0], requires_grad=True)  # on the CPU
    dst = tg.zeros(3, 2, device=device)       # float32
    assert dst.copy_(src) is dst
    assert dst.dtype == tg.float32 and dst.device == device
    np.testing.assert_array_equal(host(dst), [[1.0, 2.0]] * 3)
    (dst * tg.tensor([[1.0, 2.0]], device=device)).sum().backward()
    assert src.grad.dtype == tg.float64 and src.grad.device == "cpu"
    np.testing.assert_array_equal(host(src.grad), [3.0, 6.0])
    with pytest.raises(ValueError, match="does not broadcast"):
        tg.zeros(2, 3).copy_(tg.ones(3, 2))


@pytest.mark.parametrize("write", [
    lambda e: e.add_(1.0), lambda e: e.exp_(), lambda e: e.zero_(), lambda e: e.fill_(1.0),
    lambda e: e.copy_(tg.ones(3, 2)), lambda e: e.addcmul_(tg.ones(3, 2), tg.ones(3, 2)),
    lambda e: e.index_add_(0, tg.tensor([0]), tg.ones(1, 2)), lambda e: e.clamp_(0.0, 1.0)])
def test_in_place_on_an_expanded_tensor_refuses(write):
    for source in (tg.tensor([1.0, 2.0]), tg.tensor([1.0, 2.0], requires_grad=True) * 1):
        expanded = source.expand(3, 2)
        with pytest.raises(RuntimeError, match="single memory location"):
            write(expanded)
        np.testing.assert_array_equal(host(source), [1.0, 2.0])


def test_augmented_assignment_refuses_a_result_the_dtype_cannot_hold():
    """``x += v`` (Tensor._in_place) checks as add_ does: with an operand that requires grad
    the recorded write truncated silently ([1, 2] += [1.5, 2.5] gave [2, 4]); with a plain
    float it failed inside NumPy with NumPy's message."""
    for other in (1.5, tg.tensor([1.5, 2.5], requires_grad=True)):
        x = tg.tensor([1, 2])
        with pytest.raises(RuntimeError, match="result type float32 can't be cast to the "
                                               "desired output type int64"):
            x += other
        assert x.numpy().tolist() == [1, 2] and x._version == 0
    x = tg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        x /= 2                                   # a true division is a float result
    b = tg.tensor([True, False])
    with pytest.raises(RuntimeError, match="output type bool"):
        b += 1
    y, z = tg.tensor([1.0, 2.0]), tg.tensor([1, 2])
    y += tg.tensor([1, 2])                       # a float tensor takes an integer operand
    z *= 3                                       # an integer one an integer operand
    assert y.numpy().tolist() == [2.0, 4.0] and z.numpy().tolist() == [3, 6]
