"""The backward engine: accumulation, graph freeing, hooks, grad mode, higher
derivatives, tg.grad / hessian / hvp, anomaly detection and the engine's own checks.

Reference values are hand-derived formulas evaluated with NumPy.
"""

import inspect
import runpy

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Function


def leaf(values, device="cpu", dtype=tg.float64):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=True)


# --- accumulation ---

def test_tensor_used_twice_accumulates(device):
    x = leaf([1.0, -2.0, 3.0], device)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, -2.0, 3.0]))
    y = leaf([1.0, 2.0], device)
    (y + y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [2.0, 2.0])


def test_grad_accumulates_across_backward_calls(device):
    x = leaf([1.0, 2.0], device)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * np.array([1.0, 2.0]))


def test_diamond_graph_sums_both_paths(device):
    x = leaf([0.5, 1.5], device)
    h = x.exp()
    (h * h.sin() + h).sum().backward()
    e = np.exp([0.5, 1.5])
    np.testing.assert_allclose(x.grad.numpy(), (np.sin(e) + e * np.cos(e) + 1) * e)


def test_retain_graph_allows_a_second_backward_with_the_same_values(device):
    x = leaf([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(first, np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_second_backward_through_freed_graph_names_the_op(device):
    a, b = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    y = a * b
    gradient = tg.ones(2, dtype=tg.float64, device=device)
    y.backward(gradient)
    with pytest.raises(RuntimeError, match="Mul") as error:
        y.backward(gradient)
    assert "retain_graph" in str(error.value)
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])  # the failed call added nothing


def test_backward_of_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.tensor([1.0, 2.0]).sum().backward()


# --- hooks and retain_grad ---

def test_hook_sees_the_gradient_and_can_replace_it(device):
    x = leaf([1.0, 2.0], device)
    seen = []
    x.register_hook(lambda grad: seen.append(grad.numpy()))
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])

    z = leaf([1.0, 2.0], device)
    h = z * 2
    h.register_hook(lambda grad: grad * 10)  # replaces the gradient flowing on to z
    h.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [20.0, 20.0])


def test_hook_handle_remove(device):
    x = leaf([1.0], device)
    calls = []
    handle = x.register_hook(lambda grad: calls.append(1) or grad * 0)
    handle.remove()
    (x * 5).sum().backward()
    assert calls == []
    np.testing.assert_allclose(x.grad.numpy(), [5.0])


def test_register_hook_needs_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.tensor([1.0]).register_hook(lambda grad: grad)


def test_retain_grad_keeps_a_non_leaf_gradient(device):
    x = leaf([1.0, -3.0], device)
    h = x * 2
    h.retain_grad()
    other = x * 3
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * np.array([2.0, -6.0]))
    with pytest.warns(UserWarning, match="not a leaf"):  # as PyTorch's, reading it warns
        assert other.grad is None  # non-leaves keep no grad unless asked
    np.testing.assert_allclose(x.grad.numpy(), 8 * np.array([1.0, -3.0]) + 3)


# --- grad mode ---

def test_no_grad_enable_grad_set_grad_enabled_as_context_managers():
    x = leaf([1.0])
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        assert (x * 2).grad_fn is None and not (x * 2).requires_grad
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            assert (x * 2).grad_fn is not None
        assert not tg.is_grad_enabled()
        with tg.set_grad_enabled(True):
            assert (x * 2).requires_grad
    assert tg.is_grad_enabled()
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert tg.is_grad_enabled()


def test_grad_mode_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with tg.no_grad():
            1 / 0
    assert tg.is_grad_enabled()


def test_grad_mode_decorators():
    x = leaf([1.0])

    @tg.no_grad()
    def without():
        return x * 2, tg.is_grad_enabled()

    @tg.enable_grad()
    def with_grad():
        return x * 2

    @tg.set_grad_enabled(False)
    def switched_off():
        return tg.is_grad_enabled()

    assert tg.is_grad_enabled()  # decorating switches nothing
    y, enabled = without()
    assert not enabled and y.grad_fn is None
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert with_grad().grad_fn is not None  # nesting: enable_grad wins inside no_grad
        assert not tg.is_grad_enabled()
    assert switched_off() is False
    assert tg.is_grad_enabled()


def test_no_grad_instance_switches_on_entry_and_can_be_reused():
    context = tg.no_grad()
    assert tg.is_grad_enabled()  # making it switches nothing (as in PyTorch)
    x = leaf([1.0])
    for _ in range(2):
        with context:
            assert (x * 2).grad_fn is None
        assert tg.is_grad_enabled()
    with tg.no_grad():
        reused = tg.enable_grad()
        with reused:
            assert tg.is_grad_enabled()
        assert not tg.is_grad_enabled()


def test_set_grad_enabled_as_a_call_switches_at_once():
    try:
        tg.set_grad_enabled(False)
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()


# --- deep graphs ---

def test_ten_thousand_op_chain_backprops_without_recursion():
    x = leaf([0.5])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000], rtol=1e-10)
    np.testing.assert_allclose(y.numpy(), [0.5 * 1.0001 ** 10_000], rtol=1e-10)


def test_deep_graph_can_be_dropped_without_backward():
    x = leaf([0.5])
    y = x
    for _ in range(10_000):
        y = y + 1.0
    del y  # deallocating the chain must not recurse either


# --- higher derivatives ---

def test_second_derivative_of_sin_times_exp(device):
    values = np.array([-1.0, 0.3, 2.0])
    x = leaf(values, device)
    (first,) = tg.grad((x.sin() * x.exp()).sum(), x, create_graph=True)
    (second,) = tg.grad(first.sum(), x)
    np.testing.assert_allclose(first.numpy(), np.exp(values) * (np.sin(values) + np.cos(values)))
    np.testing.assert_allclose(second.numpy(), 2 * np.exp(values) * np.cos(values))


def test_second_derivative_of_rational_function_by_backward(device):
    values = np.array([-2.0, 0.5, 1.0, 3.0])
    x = leaf(values, device)
    y = (x ** 3 / (1 + x * x)).sum()
    y.backward(create_graph=True)
    first = x.grad
    np.testing.assert_allclose(first.numpy(), (values**4 + 3 * values**2) / (1 + values**2) ** 2)
    assert first.requires_grad
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (6 * values - 2 * values**3) / (1 + values**2) ** 3)


def test_third_derivative():
    x = leaf([0.7])
    (d1,) = tg.grad((x ** 4).sum(), x, create_graph=True)
    (d2,) = tg.grad(d1.sum(), x, create_graph=True)
    (d3,) = tg.grad(d2.sum(), x)
    np.testing.assert_allclose(d3.numpy(), [24 * 0.7])


# --- tg.grad ---

def test_grad_returns_a_tuple_and_leaves_dot_grad_alone(device):
    x, w = leaf([1.0, 2.0], device), leaf([3.0, -1.0], device)
    result = tg.grad((x * w).sum(), [x, w])
    assert isinstance(result, tuple) and len(result) == 2
    np.testing.assert_allclose(result[0].numpy(), [3.0, -1.0])
    np.testing.assert_allclose(result[1].numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None
    assert not result[0].requires_grad


def test_grad_with_grad_outputs_for_a_non_scalar_output(device):
    x = leaf([1.0, 2.0, 3.0], device)
    v = tg.tensor([1.0, 0.5, -2.0], dtype=tg.float64, device=device)
    (gx,) = tg.grad(x * x, x, grad_outputs=v)
    np.testing.assert_allclose(gx.numpy(), 2 * np.array([1.0, 2.0, 3.0]) * [1.0, 0.5, -2.0])
    with pytest.raises(RuntimeError, match=r"\(3,\)"):
        tg.grad(x * x, x)


def test_grad_of_several_outputs_sums_them():
    x = leaf([2.0])
    (gx,) = tg.grad([(x * x).sum(), (x * 3).sum()], [x])
    np.testing.assert_allclose(gx.numpy(), [7.0])


def test_grad_allow_unused():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.grad((x * 2).sum(), [x, unused])
    gx, gu = tg.grad((x * 2).sum(), [x, unused], allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), [2.0])
    assert gu is None


def test_grad_create_graph_gives_differentiable_gradients():
    x = leaf([1.5])
    (gx,) = tg.grad((x ** 3).sum(), x, create_graph=True)
    assert gx.requires_grad and gx.grad_fn is not None
    (ggx,) = tg.grad(gx.sum(), x)
    np.testing.assert_allclose(ggx.numpy(), [6 * 1.5])


def test_grad_frees_the_graph_unless_retained():
    x = leaf([1.0])
    y = (x * x).sum()
    tg.grad(y, x, retain_graph=True)
    tg.grad(y, x)
    with pytest.raises(RuntimeError, match="second time"):
        tg.grad(y, x)


# --- hessian and hvp ---

def quadratic_problem(rng, n=4):
    A = rng.standard_normal((n, n))  # not symmetric on purpose
    b = rng.standard_normal(n)
    return A, b


def test_hessian_of_quadratic_is_symmetric_part_of_A(device, rng):
    A, b = quadratic_problem(rng)
    A_t = tg.tensor(A, device=device)
    b_t = tg.tensor(b, device=device)
    x = tg.tensor(rng.standard_normal(4), device=device)
    H = tg.hessian(lambda x: 0.5 * (x @ (A_t @ x)) + b_t @ x, x)
    assert H.shape == (4, 4)
    np.testing.assert_allclose(H.numpy(), (A + A.T) / 2, atol=1e-12)
    assert not H.requires_grad


def test_hessian_shape_is_input_shape_twice():
    c = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x = tg.tensor(np.ones((2, 3)))
    H = tg.hessian(lambda x: (x * x * tg.tensor(c)).sum() * 0.5, x)
    assert H.shape == (2, 3, 2, 3)
    expected = np.diag(c.reshape(-1)).reshape(2, 3, 2, 3)
    np.testing.assert_allclose(H.numpy(), expected)


def test_hessian_of_tuple_inputs_is_tuple_of_tuples(rng):
    M = rng.standard_normal((2, 3))
    x, y = tg.tensor(rng.standard_normal(2)), tg.tensor(rng.standard_normal(3))
    H = tg.hessian(lambda x, y: x @ (tg.tensor(M) @ y) + (x * x).sum(), (x, y))
    assert isinstance(H, tuple) and all(isinstance(row, tuple) for row in H)
    assert [[block.shape for block in row] for row in H] == [[(2, 2), (2, 3)], [(3, 2), (3, 3)]]
    np.testing.assert_allclose(H[0][0].numpy(), 2 * np.eye(2))
    np.testing.assert_allclose(H[0][1].numpy(), M)
    np.testing.assert_allclose(H[1][0].numpy(), M.T)
    np.testing.assert_allclose(H[1][1].numpy(), np.zeros((3, 3)))


def test_hvp_returns_value_and_hessian_times_v(device, rng):
    A, b = quadratic_problem(rng)
    A_t, b_t = tg.tensor(A, device=device), tg.tensor(b, device=device)
    x_np, v_np = rng.standard_normal(4), rng.standard_normal(4)
    x, v = tg.tensor(x_np, device=device), tg.tensor(v_np, device=device)
    value, product = tg.hvp(lambda x: 0.5 * (x @ (A_t @ x)) + b_t @ x, x, v)
    np.testing.assert_allclose(value.item(), 0.5 * x_np @ A @ x_np + b @ x_np)
    np.testing.assert_allclose(product.numpy(), (A + A.T) / 2 @ v_np)
    assert product.shape == (4,)


# --- anomaly detection ---

def test_detect_anomaly_names_the_op_and_where_it_was_made():
    x = leaf([-1.0, 1.0])  # sqrt(-1) is NaN, and so is its derivative (an inf would pass)
    with tg.detect_anomaly(), np.errstate(invalid="ignore"):
        y = x.sqrt().sum(); line = inspect.currentframe().f_lineno  # noqa: E702
        with pytest.raises(RuntimeError) as error:
            y.backward()
    message = str(error.value)
    assert "Sqrt" in message
    assert f'test_engine.py", line {line}' in message
    assert "x.sqrt().sum()" in message


def test_detect_anomaly_reports_user_code_in_a_folder_named_like_the_package(tmp_path):
    folder = tmp_path / "tinygrad_opt" / "examples"  # e.g. a clone of the repository
    folder.mkdir(parents=True)
    script = folder / "script.py"
    script.write_text("def make(x):\n    return x.sqrt().sum()  # the creating line\n")
    namespace = runpy.run_path(str(script))
    x = leaf([-1.0])
    with tg.detect_anomaly(), np.errstate(invalid="ignore"):
        y = namespace["make"](x)
        with pytest.raises(RuntimeError) as error:
            y.backward()
    assert "script.py" in str(error.value) and "the creating line" in str(error.value)


def test_without_detect_anomaly_nan_passes_silently():
    x = leaf([0.0, 1.0])
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    assert np.isinf(x.grad.numpy()[0])


def test_detect_anomaly_quiet_for_finite_gradients_and_restored_after():
    x = leaf([1.0, 4.0])
    with tg.detect_anomaly():
        x.sqrt().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 0.25])
    from tinygrad_opt.autograd import anomaly
    assert not anomaly.is_anomaly_enabled()


# --- the engine's checks and gradcheck's report ---

class SquareWithOneWrongElement(Function):
    """y = x².   dy/dx = 2x, except this backward adds 1 at element (1, 2) (a planted bug)."""

    def forward(self, x):
        return x * x

    def backward(self, grad_output):
        (x,) = self.saved_inputs
        error = np.zeros(x.shape)
        error[1, 2] = 1.0
        return grad_output * 2 * x + error


class WrongShape(Function):
    """y = 2x, with a backward that forgets the shape."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad_output):
        return grad_output.sum(keepdims=True).reshape(1)


def test_gradcheck_names_the_worst_element():
    x = tg.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    with pytest.raises(tg.GradcheckError, match=r"input 0 element \(1, 2\)"):
        tg.gradcheck(SquareWithOneWrongElement.apply, [x])
    assert tg.gradcheck(SquareWithOneWrongElement.apply, [x], raise_exception=False) is False
    assert tg.gradcheck(lambda x: x * x, [x])


def test_gradcheck_of_a_non_contiguous_input(device):
    transposed = np.arange(1.0, 7.0).reshape(3, 2).T  # a strided view, not contiguous
    x = tg.tensor(transposed, requires_grad=True, device=device)
    assert tg.gradcheck(lambda x: x * x.exp(), [x])
    assert tg.gradgradcheck(lambda x: x * x.exp(), [x])


def test_gradcheck_warns_for_float32_as_pytorch():
    with pytest.warns(UserWarning, match="not a double precision floating point"):
        tg.gradcheck(lambda x: x * 2, [tg.tensor([1.0], requires_grad=True)], eps=1e-3)


def test_engine_checks_gradient_shapes_and_names_the_op():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"WrongShape.*\(1,\).*\(3,\)"):
        WrongShape.apply(x).sum().backward()


# --- gradients never alias ---

def test_leaf_grads_never_alias_each_other(device):
    a, b = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    (a + b).sum().backward()
    assert a.grad.data is not b.grad.data
    with tg.no_grad():
        a.grad += 1
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_leaf_grad_never_aliases_the_callers_gradient(device):
    a, b = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    gradient = tg.tensor([1.0, 1.0], dtype=tg.float64, device=device)
    (a + b).backward(gradient)
    a.backward(gradient)
    gradient.zero_()
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_leaf_grads_never_alias_with_create_graph(device):
    a, b = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad and a.grad.data is not b.grad.data
    with tg.no_grad():
        a.grad.zero_()
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_grad_from_broadcast_is_writable(device):
    x = leaf([1.0, 2.0], device)
    x.sum().backward()  # the gradient is a broadcast (read-only) view before it is stored
    x.grad.zero_()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0])
    y = leaf([1.0, 2.0], device)
    y.sum().backward(create_graph=True)
    with tg.no_grad():
        y.grad.zero_()
    np.testing.assert_allclose(y.grad.numpy(), [0.0, 0.0])


def test_leaf_grad_dtype_matches_leaf_with_mixed_dtypes():
    x = tg.tensor([1.0, 2.0], requires_grad=True)  # float32
    y = (x * np.array([2.0, 3.0])).sum()  # a float64 NumPy array: the product is float64
    assert y.dtype == tg.float64
    y.backward()
    assert x.grad.dtype == tg.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 3.0])
    w = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    (x * w).sum().backward()
    assert x.grad.dtype == tg.float32 and w.grad.dtype == tg.float64


def test_cat_and_stack_of_mixed_dtypes_give_each_leaf_its_own_grad_dtype(device):
    a = tg.tensor([1.0, 2.0], requires_grad=True, device=device)  # float32
    b = tg.tensor([3.0, 4.0], dtype=tg.float64, requires_grad=True, device=device)
    joined = tg.cat([a, b])
    assert joined.dtype == tg.float64
    (joined * tg.tensor([1.0, 2.0, 3.0, 4.0], dtype=tg.float64, device=device)).sum().backward()
    assert a.grad.dtype == tg.float32 and b.grad.dtype == tg.float64
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 4.0])
    a.grad = None
    tg.stack([a, b]).sum().backward()
    assert a.grad.dtype == tg.float32


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
def test_engine_checks_gradient_dtypes_and_names_the_op(create_graph, device):
    from tinygrad_opt.autograd.function import Function

    class WrongDtype(Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad_output):
            return grad_output.astype("float64")  # the input is float32

    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match="WrongDtype.backward returned a float64 gradient "
                                           "for a float32 input"):
        WrongDtype.apply(x).sum().backward(create_graph=create_graph)


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
def test_engine_checks_the_gradient_device_and_names_the_op(create_graph):
    """A gradient on another device than its input (here 'cpu' for a 'strict' input)
    would reach .grad on the wrong device; the engine refuses it, naming the op."""
    from tinygrad_opt import backend
    from tinygrad_opt.autograd.function import Function

    class ToHost(Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad_output):
            if isinstance(grad_output, tg.Tensor):
                return grad_output.to("cpu") * 2
            return backend.to_host(grad_output) * 2

    x = tg.tensor([1.0, 2.0], requires_grad=True, device="strict")
    with pytest.raises(RuntimeError, match="ToHost.backward returned a gradient on 'cpu' for "
                                           "an input on 'strict'"):
        ToHost.apply(x).sum().backward(create_graph=create_graph)
    assert x.grad is None
    y = tg.tensor([1.0, 2.0], requires_grad=True)  # on 'cpu' the same op is right
    ToHost.apply(y).sum().backward(create_graph=create_graph)
    np.testing.assert_array_equal(y.grad.numpy(), [2.0, 2.0])


def test_grad_leaves_the_graph_below_an_intermediate_input_intact():
    # Like torch.autograd.grad: only the ops between the outputs and the requested
    # inputs run (and are freed); the ops that made an intermediate input stay.
    x = leaf([1.0, 2.0])
    h = x * x               # made by Mul, below the requested input
    y = (h * 3).sum()
    (gh,) = tg.grad(y, h)
    np.testing.assert_allclose(gh.numpy(), [3.0, 3.0])
    h.sum().backward()      # the graph below h was neither run nor freed
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    with pytest.raises(RuntimeError, match="second time"):
        tg.grad(y, h)       # the part that ran was freed


def test_grad_with_inputs_above_and_below_each_other_sums_every_path():
    x = leaf([1.5])
    h = x * x
    y = (h * x).sum()       # y = x^3 through h and directly
    gh, gx = tg.grad(y, [h, x])
    np.testing.assert_allclose(gh.numpy(), [1.5])            # dy/dh = x
    np.testing.assert_allclose(gx.numpy(), [3 * 1.5 ** 2])   # dy/dx = 3x^2, all paths


def test_grad_does_not_run_ops_that_lead_to_no_requested_input():
    ran = []

    class Traced(Function):
        def forward(self, x):
            return x * 1

        def backward(self, grad_output):
            ran.append(True)
            return grad_output

    x = leaf([1.0])
    z = leaf([2.0])
    y = (Traced.apply(x) * z).sum()
    (gz,) = tg.grad(y, z)
    np.testing.assert_allclose(gz.numpy(), [1.0])
    assert ran == []        # the branch to x leads to no requested input


# --- what a custom Function's backward returns is checked, in both modes ---

class TooFew(Function):
    """y = a·b, with a backward that forgets b's gradient."""

    def forward(self, a, b):
        return a * b

    def backward(self, grad_output):
        a, b = self.saved_inputs
        return grad_output * b


class TooMany(Function):
    """y = 2x, with a backward that returns a gradient for an input that does not exist."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad_output):
        return grad_output * 2, grad_output


class AlwaysArray(Function):
    """y = 2x, with a backward that drops to arrays even when the backward is recorded."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad_output):
        data = grad_output.data if isinstance(grad_output, tg.Tensor) else grad_output
        return data * 2


class AlwaysTensor(Function):
    """y = 2x, with a backward that makes a Tensor even in a plain backward."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad_output):
        if isinstance(grad_output, tg.Tensor):
            return grad_output * 2
        return tg.Tensor(grad_output * 2, device=self.inputs[0].device)


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
def test_backward_returning_too_few_gradients_raises_naming_the_op(create_graph, device):
    a, b = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    with pytest.raises(RuntimeError, match="TooFew.backward returned 1 gradients for 2 inputs"):
        tg.grad(TooFew.apply(a, b).sum(), [a, b], create_graph=create_graph)
    assert a.grad is None and b.grad is None


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
def test_backward_returning_too_many_gradients_raises_naming_the_op(create_graph, device):
    x = leaf([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match="TooMany.backward returned 2 gradients for 1 input"):
        TooMany.apply(x).sum().backward(create_graph=create_graph)
    assert x.grad is None


def test_backward_returning_a_wrong_shape_under_create_graph_raises_naming_the_op(device):
    x = leaf([1.0, 2.0, 3.0], device)
    with pytest.raises(RuntimeError, match=r"WrongShape.*\(1,\).*\(3,\)"):
        tg.grad(WrongShape.apply(x).sum(), x, create_graph=True)


def test_backward_returning_a_bare_array_under_create_graph_raises_naming_the_op(device):
    x = leaf([1.0, 2.0], device)
    (plain,) = tg.grad(AlwaysArray.apply(x).sum(), x)  # an array is right in a plain backward
    np.testing.assert_array_equal(plain.numpy(), [2.0, 2.0])
    with pytest.raises(RuntimeError, match="AlwaysArray.backward returned a .*Tensor"):
        tg.grad(AlwaysArray.apply(x).sum(), x, create_graph=True)


def test_backward_returning_a_tensor_in_a_plain_backward_raises_naming_the_op(device):
    x = leaf([1.0, 2.0], device)
    (recorded,) = tg.grad(AlwaysTensor.apply(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(recorded.numpy(), [2.0, 2.0])
    with pytest.raises(RuntimeError, match="AlwaysTensor.backward returned a Tensor where an "
                                           "array was expected"):
        AlwaysTensor.apply(x).sum().backward()


def test_backward_may_return_none_for_an_input(device):
    class OnlyFirst(Function):
        """y = a + b, with a backward that gives b nothing (allowed: None)."""

        def forward(self, a, b):
            return a + b

        def backward(self, grad_output):
            return grad_output, None

    a, b = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    OnlyFirst.apply(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0])
    assert b.grad is None


class ScaledExp(Function):
    """y = a · exp(b).   dy/da = exp(b), dy/db = y.

    Written as the core ops are: the inputs from ``self.saved_inputs``, the output
    from ``self.saved_output``, NumPy's names from ``self.xp``. ``seen`` records what
    the formula was handed, to show the mode."""

    seen = []

    def forward(self, a, b):
        return a * backend.xp_of(b).exp(b)

    def backward(self, grad_output):
        (a, b), xp = self.saved_inputs, self.xp
        ScaledExp.seen.append((type(grad_output), type(a), type(self.saved_output)))
        return grad_output * xp.exp(b), grad_output * self.saved_output


def test_custom_function_with_saved_inputs_and_xp_runs_in_both_modes(device):
    values_a, values_b = np.array([1.5, -2.0]), np.array([0.5, -1.0])
    a, b = leaf(values_a, device), leaf(values_b, device)
    ScaledExp.seen = []
    plain = tg.grad(ScaledExp.apply(a, b).sum(), [a, b])
    recorded = tg.grad(ScaledExp.apply(a, b).sum(), [a, b], create_graph=True)
    array_type = type(a.data)
    assert ScaledExp.seen == [(array_type,) * 3, (tg.Tensor,) * 3]
    for grads in (plain, recorded):
        np.testing.assert_allclose(grads[0].numpy(), np.exp(values_b), rtol=1e-15)
        np.testing.assert_allclose(grads[1].numpy(), values_a * np.exp(values_b), rtol=1e-15)
    # d/db (dy/da) = exp(b): the recorded backward can be differentiated again
    (second,) = tg.grad(recorded[0].sum(), b)
    np.testing.assert_allclose(second.numpy(), np.exp(values_b), rtol=1e-15)


def test_custom_function_with_saved_inputs_and_xp_passes_gradcheck(device):
    a = leaf([1.5, -2.0, 0.25], device)
    b = leaf([0.5, -1.0, 0.75], device)
    assert tg.gradcheck(ScaledExp.apply, [a, b])
    assert tg.gradgradcheck(ScaledExp.apply, [a, b])
