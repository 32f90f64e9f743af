"""PyTorch's rules in the core's edges: hook handles, the root gradient's dtype,
grad-mode decorators on generators and classes, ``split(0)``, and the factories'
arguments (``size=``, negative sizes, ``eye``'s n and m, ``full``'s dtype,
``memory_format``). Each test states PyTorch's behaviour it checks."""

import re
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg


# -- hook handles ---------------------------------------------------------------------

def _square_grad_with(hooks, device):
    """d(sum x^2)/dx = 2x at x = [1, 2] after the hooks (each multiplies by its factor)."""
    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    handles = [x.register_hook(hook) for hook in hooks]
    return x, handles


def test_each_handle_removes_its_own_registration_of_the_same_hook(device):
    double = lambda grad: grad * 2  # noqa: E731
    x, (first, second) = _square_grad_with([double, double], device)
    first.remove()
    first.remove()  # a second remove of the same handle removes nothing more
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.array([2.0, 4.0]) * 2)  # one double left
    second.remove()
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_a_hook_handle_is_a_context_manager(device):
    x, _ = _square_grad_with([], device)
    with x.register_hook(lambda grad: grad * 3):
        (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])
    x.grad = None
    (x * x).sum().backward()  # removed at the block's end
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_a_hook_may_remove_itself_while_it_runs(device):
    x, _ = _square_grad_with([], device)
    calls = []

    def once(grad):
        calls.append(1)
        handle.remove()
        return grad * 10
    handle = x.register_hook(once)
    x.register_hook(lambda grad: grad + 1)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [21.0, 41.0])  # both ran, in order
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0])
    assert calls == [1]


def test_register_hook_refuses_what_cannot_be_called():
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="register_hook"):
        x.register_hook(3)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.tensor([1.0]).register_hook(lambda grad: grad)


# -- the root gradient's dtype --------------------------------------------------------

@pytest.mark.parametrize("retain_graph", [False, True])  # the twin and the engine's loop
def test_a_root_gradient_of_another_dtype_is_cast_to_the_output_s(device, retain_graph):
    """PyTorch's engine casts a given gradient to the output's dtype (validate_outputs)."""
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    y = x * x
    y.backward(tg.tensor([1.0, 0.5, 0.25], dtype=tg.float64, device=device),
               retain_graph=retain_graph)
    assert x.grad.dtype == tg.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 1.5])


def test_a_float64_grad_output_for_a_float32_output_in_grad_with_create_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    v = tg.tensor([3.0, 4.0], dtype=tg.float64, requires_grad=True)
    (g,) = tg.autograd.grad(x ** 3, x, v, create_graph=True)
    assert g.dtype == tg.float32 and g.requires_grad
    np.testing.assert_allclose(g.numpy(), 3 * np.array([1.0, 4.0]) * [3.0, 4.0])
    g.sum().backward()  # through the cast: d/dv of sum(3x^2 v) = 3x^2, in v's dtype
    assert v.grad.dtype == tg.float64
    np.testing.assert_allclose(v.grad.numpy(), [3.0, 12.0])


# -- grad-mode switches as decorators --------------------------------------------------

def test_no_grad_on_a_generator_holds_inside_and_gives_the_mode_back_at_each_yield():
    @tg.no_grad()
    def modes():
        for _ in range(3):
            yield tg.is_grad_enabled()
    inner, outer = [], []
    for mode in modes():
        inner.append(mode)
        outer.append(tg.is_grad_enabled())
    assert inner == [False] * 3 and outer == [True] * 3


def test_enable_grad_on_a_generator_records_inside_no_grad():
    @tg.enable_grad
    def squares(x):
        received = yield x * x
        yield received * x

    x = tg.tensor([2.0], requires_grad=True)
    with tg.no_grad():
        steps = squares(x)
        first = next(steps)
        second = steps.send(tg.tensor([3.0]))
        assert not tg.is_grad_enabled()
    assert first.requires_grad and second.requires_grad
    assert first.item() == 4.0 and second.item() == 6.0


def test_a_switched_generator_passes_throw_close_and_its_return_value():
    seen = []

    @tg.no_grad()
    def worker():
        try:
            yield 1
        except ValueError:
            seen.append(("caught", tg.is_grad_enabled()))
            yield 2
        finally:
            seen.append(("closed", tg.is_grad_enabled()))
        return 7  # noqa: B901

    steps = worker()
    assert next(steps) == 1
    assert steps.throw(ValueError("x")) == 2
    steps.close()
    assert seen == [("caught", False), ("closed", False)]
    assert tg.is_grad_enabled()

    @tg.no_grad()
    def short():
        yield 1
        return 7
    steps = short()
    next(steps)
    with pytest.raises(StopIteration) as stop:
        next(steps)
    assert stop.value.value == 7


def test_decorating_a_class_warns_and_still_switches():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @tg.no_grad
        class Probe:
            def __init__(self):
                self.mode = tg.is_grad_enabled()
    assert any("Decorating classes is deprecated" in str(w.message) for w in caught)
    assert Probe().mode is False and tg.is_grad_enabled()


@pytest.mark.parametrize("switch", [tg.no_grad, tg.enable_grad])
def test_a_switch_without_a_mode_refuses_one(switch):
    """``torch.no_grad(False)`` is a TypeError (its __init__ takes no argument)."""
    with pytest.raises(TypeError):
        switch(False)
    with tg.set_grad_enabled(False):  # the switches that take a mode still do
        assert not tg.is_grad_enabled()


# -- split(0) --------------------------------------------------------------------------

def test_split_size_zero_splits_an_empty_dim_into_one_empty_piece(device):
    x = tg.zeros(3, 0, device=device)
    for pieces in (x.split(0, dim=1), tg.split(x, 0, 1)):
        assert [piece.shape for piece in pieces] == [(3, 0)]
    with pytest.raises(ValueError, match="split_size can only be 0 if dimension size is 0"):
        x.split(0, dim=0)


# -- the factories' arguments ---------------------------------------------------------

@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_factories_take_size_as_a_keyword(name, device):
    factory = getattr(tg, name)
    assert factory(size=(2, 3), device=device).shape == (2, 3)
    assert factory(size=[4], device=device).shape == (4,)
    with pytest.raises(TypeError, match=f"{name}: got the size twice"):
        factory(2, size=(2,))


@pytest.mark.parametrize("make", [lambda: tg.ones(-1), lambda: tg.zeros(2, -3),
                                  lambda: tg.empty((1, -2)), lambda: tg.rand(-1),
                                  lambda: tg.randn(size=(-4,)), lambda: tg.full((2, -1), 1.0)])
def test_a_negative_size_raises_pytorch_s_error(make):
    with pytest.raises(RuntimeError, match=r"Trying to create tensor with negative dimension -\d"):
        make()


def test_a_non_integer_size_is_refused():
    with pytest.raises(TypeError, match="zeros: the size must be ints"):
        tg.zeros(2.5)


def test_eye_checks_n_and_m(device):
    with pytest.raises(RuntimeError, match="eye: n must be greater or equal to 0, got -1"):
        tg.eye(-1)
    with pytest.raises(RuntimeError, match="eye: m must be greater or equal to 0, got -2"):
        tg.eye(2, -2)
    np.testing.assert_array_equal(tg.eye(2, 3, device=device).numpy(), np.eye(2, 3))
    assert tg.eye(0).shape == (0, 0)


@pytest.mark.parametrize("value, dtype", [(True, tg.bool), (2, tg.int64),
                                          (np.int32(2), tg.int64), (np.uint8(2), tg.int64),
                                          (2.5, tg.float32), (np.float64(2.5), tg.float32)])
def test_full_infers_pytorch_s_dtype(value, dtype):
    out = tg.full((2,), value)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), np.full(2, value).astype(out.numpy().dtype))
    assert tg.full(3, 1).shape == (3,)  # an int size


def test_full_follows_the_default_float_dtype():
    previous = tg.get_default_dtype()
    tg.set_default_dtype(tg.float64)
    try:
        assert tg.full((1,), 0.5).dtype == tg.float64
    finally:
        tg.set_default_dtype(previous)


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "rand_like", "randn_like"])
def test_like_factories_and_clone_take_memory_format(name, device):
    x = tg.ones(2, 3, dtype=tg.float64, device=device)
    out = getattr(tg, name)(x, memory_format=None)
    assert out.shape == (2, 3) and out.dtype == tg.float64 and out.device == x.device
    assert tg.full_like(x, 4.0, memory_format=None).numpy().tolist() == [[4.0] * 3] * 2
    copy = x.clone(memory_format=None)
    copy += 1  # its own memory
    assert x.numpy().tolist() == [[1.0] * 3] * 2 and copy.numpy().tolist() == [[2.0] * 3] * 2


def test_numpy_takes_force(device):
    x = tg.tensor([1.0, 2.0], device=device)
    np.testing.assert_array_equal(x.numpy(force=True), [1.0, 2.0])


# -- forward mode through Gamma sampling ---------------------------------------------

@pytest.mark.parametrize("make", [lambda a: tg.distributions.Gamma(a, tg.ones(2)),
                                  lambda a: tg.distributions.Beta(a, tg.ones(2)),
                                  lambda a: tg.distributions.Dirichlet(a)])
def test_forward_mode_through_gamma_sampling_is_refused(make):
    """PyTorch's ``_standard_gamma`` has no forward derivative: a dual concentration raises
    (ours gave no tangent, or one that needed requires_grad)."""
    from tinygrad_opt.autograd import forward_ad
    alpha = tg.tensor([2.0, 3.0])
    with forward_ad.dual_level():
        dual = forward_ad.make_dual(alpha, tg.ones(2))
        with pytest.raises(NotImplementedError, match="forward AD with _standard_gamma"):
            make(dual).rsample()
        plain = make(alpha).rsample()  # a plain concentration still samples in the level
    assert plain.shape == (2,) and bool((plain.numpy() > 0).all())


# -- integer powers -------------------------------------------------------------------

def _pytorch_integer_power(a, b):
    """PyTorch's integer kernel, element by element: 1/a^|b| truncated for b < 0."""
    out = []
    for x, n in zip(a.tolist(), b.tolist()):
        if n >= 0:
            out.append(x ** n)
        else:
            out.append(1 if x == 1 else (-1 if n % 2 else 1) if x == -1 else 0)
    return np.array(out)


@pytest.mark.parametrize("dtype", [tg.int64, tg.int32, tg.int16])
def test_an_integer_tensor_exponent_may_be_negative(device, dtype, rng):
    a = rng.integers(-3, 4, size=40)
    b = rng.integers(-4, 5, size=40)
    out = tg.tensor(a, dtype=dtype, device=device) ** tg.tensor(b, dtype=dtype, device=device)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), _pytorch_integer_power(a, b))
    reflected = 2 ** tg.tensor(b, device=device)  # pow(Scalar, Tensor): the tensor kernel
    np.testing.assert_array_equal(reflected.numpy(), _pytorch_integer_power(np.full(40, 2), b))


@pytest.mark.parametrize("power", [lambda x: x ** -1, lambda x: x.pow(-2),
                                   lambda x: tg.pow(x, np.int64(-1))])
def test_a_negative_python_integer_exponent_of_an_integer_tensor_raises(power):
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        power(tg.tensor([2, 3]))


def test_float_and_non_negative_integer_powers_are_unchanged():
    np.testing.assert_allclose((tg.tensor([2.0, 4.0]) ** -1).numpy(), [0.5, 0.25])
    np.testing.assert_allclose((tg.tensor([2, 4]) ** -1.0).numpy(), [0.5, 0.25])
    np.testing.assert_array_equal((tg.tensor([2, 4]) ** 3).numpy(), [8, 64])
    np.testing.assert_array_equal((tg.tensor([2, 3], dtype=tg.uint8) ** tg.tensor(
        [7, 2], dtype=tg.uint8)).numpy(), [128, 9])


@pytest.mark.parametrize("draw", [lambda d: tg.rand((), device=d), lambda d: tg.randn(device=d),
                                  lambda d: tg.randint(0, 3, (), device=d)])
def test_a_0d_draw_is_a_0d_tensor_on_its_device(draw, device):
    out = draw(device)
    assert out.shape == () and out.device == device


# -- the .grad attribute --------------------------------------------------------------

def test_assigning_a_grad_checks_kind_dtype_device_and_shape(device):
    x = tg.zeros(3, requires_grad=True, device=device)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None"):
        x.grad = np.zeros(3, dtype=np.float32)
    with pytest.raises(RuntimeError, match="gradient with dtype 'float64'"):
        x.grad = tg.zeros(3, dtype=tg.float64, device=device)
    with pytest.raises(RuntimeError,
                       match=r"gradient of size '\[1\]' to a tensor of size '\[3\]'"):
        x.grad = tg.zeros(1, device=device)  # (an optimizer would broadcast it silently)
    other = "strict" if device == "cpu" else "cpu"
    with pytest.raises(RuntimeError, match="gradient with device type"):
        x.grad = tg.zeros(3, device=other)
    x.grad = tg.ones(3, device=device)
    tg.optim.SGD([x], lr=0.5).step()
    np.testing.assert_allclose(x.numpy(), [-0.5] * 3)
    x.grad = None
    assert x.grad is None


def test_reading_grad_of_a_non_leaf_warns_unless_it_retains_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h, kept = x * 2, x * 3
    kept.retain_grad()
    (h + kept).sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor is being accessed"):
        assert h.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(kept.grad.numpy(), [1.0, 1.0])  # retained: no warning
        np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])     # a leaf: no warning


# -- argmax/argmin over nothing, randint's empty range ------------------------------

@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_an_arg_reduction_over_an_empty_dim_raises_pytorch_s_index_error(name, device):
    with pytest.raises(IndexError, match=rf"{name}\(\): Expected reduction dim to be specified "
                                         r"for input.numel\(\) == 0"):
        getattr(tg.zeros(0, device=device), name)()
    with pytest.raises(IndexError, match=rf"{name}\(\): Expected reduction dim 1 to have "
                                         "non-zero size"):
        getattr(tg.zeros(2, 0, device=device), name)(1)
    out = getattr(tg.zeros(0, 3, device=device), name)(1)  # over a dim that has entries
    assert out.shape == (0,) and out.dtype == tg.int64


@pytest.mark.parametrize("low, high", [(5, 5), (5, 3)])
def test_randint_refuses_an_empty_range(low, high, device):
    with pytest.raises(RuntimeError, match=f"random_ expects 'from' to be less than 'to', but "
                                           f"got from={low} >= to={high}"):
        tg.randint(low, high, (2,), device=device)
    assert set(tg.randint(low - 1, low, (6,), device=device).numpy().tolist()) == {low - 1}


# -- NumPy conversions ---------------------------------------------------------------

def test_np_array_of_a_tensor_is_a_copy_and_asarray_shares():
    """np.array(t) copies (copy=True): a write into it must not change t behind its
    version counter, which a saved tensor's check relies on."""
    t = tg.tensor([1.0, 2.0])
    copied = np.array(t)
    copied[0] = 99.0
    assert t.tolist() == [1.0, 2.0] and t._version == 0
    assert np.shares_memory(np.asarray(t), t.data)  # asarray may share (copy=None)
    assert np.array(t, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("array", [np.array([1, None], dtype=object), np.array(["a", "b"]),
                                   np.array(["2026-12-07"], dtype="datetime64[D]")])
def test_a_tensor_of_objects_strings_or_dates_is_refused(array):
    message = re.escape(f"can't convert an array of dtype {array.dtype}")
    with pytest.raises(TypeError, match=message):
        tg.tensor(array)
    with pytest.raises(TypeError, match="can't convert an array"):
        tg.as_tensor(array)


def test_squeeze_refuses_a_repeated_dim(device):
    x = tg.zeros(1, 2, 1, device=device)
    with pytest.raises(RuntimeError, match="appears multiple times"):
        x.squeeze((0, 0))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        x.squeeze((2, -1))  # the same dim, spelled twice
    assert x.squeeze((0, 2)).shape == (2,) and x.squeeze((1,)).shape == (1, 2, 1)


def test_an_optimizer_refuses_a_tensor_lr_of_several_elements():
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"Tensor learning rate must be 1-element, .* shape \(2,\)"):
        tg.optim.SGD([p], lr=tg.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="Invalid learning rate: -0.5"):
        tg.optim.Adam([p], lr=tg.tensor(-0.5))
    tg.optim.SGD([p], lr=tg.tensor([0.1]))  # one element: accepted, as PyTorch
