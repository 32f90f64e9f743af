"""Paths of the core that the rest of the suite left unexecuted: the engine's argument
checks, the base classes of custom ops, forward-mode and gradcheck corner cases, the
PyTorch-style ``Function`` (ctx), factories, shape and view-write errors, the optimizer
base class and state loading, and the 'strict' test device's array protocol.

Each test asserts what a PyTorch user would expect: the exception type and a message that
names what was wrong, or the values and gradients (hand-derived). Four of them found bugs,
fixed with them: a ctx-style Function without ``backward``, a hook returning a gradient of
another dtype, ``+`` on a bool tensor, and a Tensor state entry given to ``load_state_dict``.
"""

import copy

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.autograd import GradcheckError, gradcheck, gradgradcheck
from tinygrad_opt.autograd import forward_ad as fwAD
from tinygrad_opt.autograd.function import Function as CoreFunction
from tinygrad_opt.backend import strict
from tinygrad_opt.optim.optimizer import Optimizer, required


def leaf(values, device="cpu", dtype=tg.float64):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=True)


def other_device(device):
    return "strict" if device == "cpu" else "cpu"


# --- engine: tg.autograd.grad's checks of its arguments ---

def test_grad_of_an_output_that_does_not_require_grad_names_the_output(device):
    x = leaf([1.0, 2.0], device)
    constant = tg.tensor([1.0, 2.0], device=device)
    with pytest.raises(RuntimeError, match="output 1 does not require grad"):
        tg.autograd.grad([(x * 2).sum(), constant.sum()], x)


def test_grad_with_respect_to_a_tensor_that_does_not_require_grad_names_the_input(device):
    x = leaf([1.0, 2.0], device)
    constant = tg.tensor([1.0, 2.0], device=device)
    with pytest.raises(RuntimeError, match="input 1 does not require grad"):
        tg.autograd.grad((x * constant).sum(), [x, constant])


def test_grad_outputs_given_as_host_data_become_a_tensor_of_the_outputs_dtype_and_device(device):
    x = leaf([1.0, -2.0], device)
    (grad,) = tg.autograd.grad(x * 3, x, grad_outputs=[np.array([1.0, 10.0])])
    assert grad.device == device and grad.dtype == tg.float64
    np.testing.assert_allclose(grad.numpy(), [3.0, 30.0])


def test_grad_outputs_on_another_device_are_refused_naming_both_devices(device):
    x = leaf([1.0, 2.0], device)
    wrong = tg.ones(2, dtype=tg.float64, device=other_device(device))
    with pytest.raises(RuntimeError, match=f"gradient is on device '{other_device(device)}' "
                                           f"but the output is on '{device}'"):
        tg.autograd.grad(x * 2, x, grad_outputs=[wrong])


# --- the core Function's base methods, and the ctx-style Function ---

def test_core_function_without_forward_or_backward_raises_not_implemented():
    class NoForward(CoreFunction):
        pass

    class NoBackward(CoreFunction):
        def forward(self, a):
            return a * 2

    x = leaf([1.0, 2.0])
    with pytest.raises(NotImplementedError):
        NoForward.apply(x)
    y = NoBackward.apply(x)
    np.testing.assert_allclose(y.numpy(), [2.0, 4.0])
    with pytest.raises(NotImplementedError):
        y.sum().backward()


def test_ctx_function_without_backward_raises_not_implemented_naming_backward():
    class OneOutput(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

    class TwoOutputs(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, a * 3

    x = leaf([1.0, 2.0])
    with pytest.raises(NotImplementedError, match="backward"):
        OneOutput.apply(x).sum().backward()
    first, second = TwoOutputs.apply(x)
    with pytest.raises(NotImplementedError, match="backward"):
        (first.sum() + second.sum()).backward()


def test_base_setup_context_raises_not_implemented():
    ctx = tg.autograd.torch_style.FunctionCtx(tg.autograd.Function, "Backward", (True,))
    with pytest.raises(NotImplementedError, match="setup_context"):
        tg.autograd.Function.setup_context(ctx, (), None)


def test_save_for_backward_refuses_a_non_tensor_naming_its_type():
    class SavesArray(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(np.ones(2))
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with pytest.raises(TypeError, match="save_for_backward takes Tensors or None, got a ndarray"):
        SavesArray.apply(leaf([1.0, 2.0]))


def test_saved_tensors_read_after_backward_freed_them_raise():
    kept = {}

    class Square(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            kept["ctx"] = ctx
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * 2 * a

    x = leaf([1.0, -3.0])
    Square.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -6.0])
    with pytest.raises(RuntimeError, match="second time.*SquareBackward.*retain_graph=True"):
        kept["ctx"].saved_tensors


def test_forward_returning_its_argument_returns_a_view_whose_gradient_is_the_custom_one():
    class Same(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = leaf([1.0, 2.0])
    y = Same.apply(x)
    assert y is not x and y.grad_fn is not None
    np.testing.assert_allclose(y.numpy(), [1.0, 2.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_backward_returning_an_array_is_refused_naming_the_function():
    class ArrayGrad(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return np.ones(2)

    with pytest.raises(RuntimeError, match="ArrayGradBackward returned a ndarray as gradient 0; "
                                           "expected a Tensor or None"):
        ArrayGrad.apply(leaf([1.0, 2.0])).sum().backward()


def test_a_non_tensor_output_of_forward_is_returned_as_is_and_gets_no_gradient():
    seen = {}

    class WithCount(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, 3

        @staticmethod
        def backward(ctx, g, g_count):
            seen["g_count"] = g_count
            return g * 2

    x = leaf([1.0, 2.0])
    y, count = WithCount.apply(x)
    assert count == 3
    y.sum().backward()
    assert seen["g_count"] is None
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_outputs_of_two_float_dtypes_keep_their_dtypes():
    # as PyTorch: outputs carrying gradients may differ in dtype (packed in the widest)
    class Mixed(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, (a * 3).astype(tg.float32)

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 3

    a = leaf([1.0, 2.0])
    doubled, tripled = Mixed.apply(a)
    assert (doubled.dtype, tripled.dtype) == (tg.float64, tg.float32)
    (doubled.sum() + tripled.sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), [5.0, 5.0])


def test_once_differentiable_under_create_graph_without_differentiable_grad_outputs():
    class Cube(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a ** 3

        @staticmethod
        @tg.autograd.once_differentiable
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * 3 * a * a

    x = leaf([1.0, -2.0])
    (grad,) = tg.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(grad.numpy(), [3.0, 12.0])
    assert not grad.requires_grad  # computed without recording, nothing to differentiate


def test_autograd_backward_takes_a_single_grad_tensor_not_in_a_tuple():
    x = leaf([1.0, 2.0])
    tg.autograd.backward(x * x, grad_tensors=tg.tensor([1.0, 10.0], dtype=tg.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 40.0])


# --- tensor hooks ---

def test_a_hook_that_changes_the_gradients_dtype_is_refused():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: g.astype(tg.float32))
    with pytest.raises(RuntimeError, match="changed the type"):
        (x * x).sum().backward()


# --- forward mode ---

def test_make_dual_with_the_current_level_given_explicitly():
    x = tg.tensor([1.0, -2.0], dtype=tg.float64)
    with fwAD.dual_level() as level:
        dual = fwAD.make_dual(x, tg.tensor([1.0, 0.5], dtype=tg.float64), level=level)
        primal, tangent = fwAD.unpack_dual(dual * dual, level=level)
    np.testing.assert_allclose(primal.numpy(), [1.0, 4.0])
    np.testing.assert_allclose(tangent.numpy(), [2.0, -2.0])  # 2·x·ẋ


def test_make_dual_of_a_non_tensor_raises_type_error():
    with fwAD.dual_level():
        with pytest.raises(TypeError, match="expected two Tensors, got ndarray and Tensor"):
            fwAD.make_dual(np.ones(2), tg.ones(2))


def test_make_dual_with_a_dual_tangent_is_refused():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64)
    with fwAD.dual_level():
        dual_tangent = fwAD.make_dual(tg.ones(2, dtype=tg.float64), tg.ones(2, dtype=tg.float64))
        with pytest.raises(RuntimeError, match="based on a Tensor that has a forward gradient"):
            fwAD.make_dual(x, dual_tangent)


def test_a_dual_tensor_written_in_place_through_its_primal_refuses_to_carry_a_tangent():
    x = tg.tensor([1.0, -2.0], dtype=tg.float64)
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, tg.ones(2, dtype=tg.float64))
        x[0] = 5.0  # the dual shares x's memory: its tangent no longer fits its values
        with pytest.raises(RuntimeError, match=r"dual tensor of shape \(2,\) was changed in place"):
            dual * 2


def test_a_dual_tensor_cast_to_integers_has_no_tangent():
    with fwAD.dual_level():
        dual = fwAD.make_dual(tg.tensor([1.5, -2.0], dtype=tg.float64),
                              tg.ones(2, dtype=tg.float64))
        primal, tangent = fwAD.unpack_dual(dual.astype(tg.int64))
        assert fwAD.unpack_dual(dual > 0).tangent is None
    assert tangent is None
    assert primal.dtype == tg.int64 and primal.numpy().tolist() == [1, -2]


# --- gradcheck and gradgradcheck ---

def test_gradcheck_refuses_a_function_that_returns_no_tensor():
    with pytest.raises(TypeError, match="fn must return a Tensor or a tuple of Tensors, got float"):
        gradcheck(lambda a: 3.0, (leaf([1.0]),))


def test_gradcheck_refuses_a_function_with_no_floating_point_output():
    with pytest.raises(TypeError, match="no floating-point Tensor"):
        gradcheck(lambda a: a > 0, (leaf([1.0, -1.0]),))


def test_gradcheck_without_an_input_that_requires_grad_raises_value_error():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda a: a * 2, (tg.tensor([1.0], dtype=tg.float64),))


def test_gradcheck_of_forward_mode_only():
    class WrongSlope(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3  # the true slope is 2

    x = leaf([0.3, -1.2])
    assert gradcheck(lambda a: a.sin(), (x,), check_forward_ad=True, check_backward_ad=False)
    assert not gradcheck(WrongSlope.apply, (x,), check_forward_ad=True, check_backward_ad=False,
                         raise_exception=False)


def test_gradcheck_reports_a_gradient_of_another_dtype():
    x = leaf([0.3, -1.2])
    x.register_hook(lambda g: g.astype(tg.float32))  # (PyTorch refuses this in the hook)
    with pytest.raises(RuntimeError, match="float32"):
        gradcheck(lambda a: a * a, (x,), check_grad_dtypes=True)


def test_gradcheck_reports_a_backward_that_is_not_reentrant():
    class Jittery(tg.autograd.Function):
        calls = 0

        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            Jittery.calls += 1
            return g * (2 + Jittery.calls * 1e-9)

    x = leaf([0.5, -1.0])
    with pytest.raises(GradcheckError, match="not reentrant.*nondet_tol=0.0"):
        gradcheck(Jittery.apply, (x,))
    assert gradcheck(Jittery.apply, (x,), nondet_tol=1e-6)


def test_gradgradcheck_needs_one_mode_to_check():
    with pytest.raises(ValueError, match="check_fwd_over_rev or check_rev_over_rev"):
        gradgradcheck(lambda a: a * a, (leaf([1.0]),), check_rev_over_rev=False)


def test_gradgradcheck_refuses_more_grad_outputs_than_outputs():
    ones = tg.ones(2, dtype=tg.float64)
    with pytest.raises(ValueError, match="2 grad_outputs for 1 floating-point outputs"):
        gradgradcheck(lambda a: a * a, (leaf([1.0, 2.0]),), grad_outputs=(ones, ones))


def test_gradgradcheck_of_a_function_that_ignores_its_inputs():
    other = leaf([1.0])
    with pytest.raises(GradcheckError, match="does not depend on its inputs"):
        gradgradcheck(lambda a: other * 2, (leaf([1.0, 2.0]),))


# --- factories ---

def test_randint_with_one_bound_draws_from_zero_to_it():
    draws = tg.randint(5, size=(2000,))
    assert draws.dtype == tg.int64 and draws.shape == (2000,)
    assert set(draws.numpy().tolist()) == {0, 1, 2, 3, 4}


def test_randint_with_a_dtype():
    draws = tg.randint(2, 5, (500,), dtype=tg.int32)
    assert draws.dtype == tg.int32
    assert set(draws.numpy().tolist()) == {2, 3, 4}


def test_an_unknown_dtype_name_raises_type_error_naming_it():
    with pytest.raises(TypeError, match="not a dtype: 'float33'"):
        tg.zeros(2, dtype="float33")


# --- elementwise, linalg, reductions, shapes ---

def test_where_casts_a_non_bool_condition(device):
    # a documented deviation (docs/deviations.md): PyTorch wants a bool condition
    condition = tg.tensor([1, 0, 2], device=device)
    a = leaf([1.0, 2.0, 3.0], device)
    b = leaf([-1.0, -2.0, -3.0], device)
    y = tg.where(condition, a, b)
    np.testing.assert_allclose(y.numpy(), [1.0, -2.0, 3.0])
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 1.0, 0.0])


def test_clip_without_bounds_raises():
    with pytest.raises(ValueError, match="at least one of min and max"):
        tg.ones(3).clamp()


def test_matmul_of_a_0d_operand_raises_naming_the_shapes():
    with pytest.raises(ValueError, match=r"MatMul: \(\) @ \(2,\): .*at least 1 dim"):
        tg.tensor(2.0) @ tg.ones(2)


def test_matmul_with_batch_dims_that_do_not_broadcast_raises():
    with pytest.raises(ValueError, match="batch dimensions cannot be broadcast"):
        tg.ones(2, 3, 4) @ tg.ones(3, 4, 5)


def test_argmax_over_two_dims_raises():
    with pytest.raises(ValueError, match="argmax: takes a single dim, got \\(0, 1\\)"):
        tg.ones(2, 3).argmax(dim=(0, 1))


def test_broadcast_to_a_shape_the_input_does_not_broadcast_to():
    with pytest.raises(ValueError, match=r"cannot broadcast shape \(3, 1\) to \(4,\)"):
        tg.ones(3, 1).broadcast_to((4,))  # broadcastable together, but to (3, 4)
    with pytest.raises(ValueError, match=r"cannot broadcast shape \(3,\) to \(2,\)"):
        tg.ones(3).broadcast_to((2,))


def test_permute_with_a_repeated_dim_raises():
    with pytest.raises(ValueError, match="not a permutation"):
        tg.ones(2, 3).permute(0, 0)


def test_cat_of_mismatched_shapes_names_the_tensor():
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 4\).*outside dim 0"):
        tg.cat([tg.ones(2, 3), tg.ones(2, 4)], dim=0)


def test_stack_of_different_shapes_names_the_tensor():
    with pytest.raises(ValueError, match=r"stack: tensor 1 has shape \(3, 2\)"):
        tg.stack([tg.ones(2, 3), tg.ones(3, 2)])


def test_split_into_pieces_of_size_zero_raises():
    with pytest.raises(ValueError, match="split_size can only be 0 if dimension size is 0"):
        tg.ones(2, 3).split(0, dim=1)


def test_unary_plus_is_the_tensor_itself():
    x = leaf([1.0, -2.0])
    assert +x is x


def test_unary_plus_on_a_bool_tensor_is_refused_like_positive():
    with pytest.raises((TypeError, RuntimeError), match="bool"):
        +tg.tensor([True, False])


def test_maximum_method_with_a_gradient_for_the_larger_side():
    x = leaf([1.0, 5.0])
    other = leaf([3.0, 2.0])
    y = x.maximum(other)
    np.testing.assert_allclose(y.numpy(), [3.0, 5.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1.0])
    np.testing.assert_allclose(other.grad.numpy(), [1.0, 0.0])


# --- writes through views ---

def test_write_through_a_self_overlapping_view_is_refused():
    memory = np.arange(5.0, dtype=np.float32)
    windows = tg.from_numpy(as_strided(memory, shape=(4, 2), strides=(4, 4))[...])
    view = windows[0:2]  # rows [0, 1] and [1, 2]: element 1 twice
    value = tg.tensor(7.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="more than one element.*single memory location"):
        view[0] = value * 1
    np.testing.assert_allclose(memory, [0.0, 1.0, 2.0, 3.0, 4.0])  # nothing written


def test_write_through_a_view_of_a_0d_tensor_reaches_it_with_its_gradient():
    s = leaf(3.0) * 1
    view = s.reshape(1)
    w = leaf(5.0)
    view[0] = w * 2
    assert s.item() == 10.0 and s.grad_fn is not None
    (s * 3).backward()
    assert w.grad.item() == 6.0


def test_write_into_an_empty_view_of_an_empty_tensor():
    e = tg.zeros(0, requires_grad=True) * 1
    view = e[0:0]
    w = leaf(5.0)
    view[...] = w * 2
    assert e.shape == (0,) and e.grad_fn is not None
    (e.sum() + w).backward()
    assert w.grad.item() == 1.0  # nothing was written, so only the direct term


def test_write_into_a_custom_functions_view_output_is_refused():
    # PyTorch also refuses an in-place write into a view that a custom Function returned
    t = tg.tensor(np.arange(4.0))
    a = t[0:2].detach().requires_grad_()
    b = t[2:4].detach()

    class FirstHalf(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a[0:2]

        @staticmethod
        def backward(ctx, g):
            return g, None

    view = FirstHalf.apply(a, b)
    with pytest.raises(RuntimeError, match="clone"):
        view[0] = leaf(5.0) * 2


# --- the optimizer base class ---

def test_betas_must_be_a_pair():
    with pytest.raises(ValueError, match="Invalid betas: \\(0.9,\\)"):
        tg.optim.Adam([leaf([1.0])], betas=(0.9,))


def test_required_parameter_repr():
    assert repr(required) == "<required parameter>"


def test_a_group_without_a_required_hyperparameter_is_refused():
    class Bare(Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, dict(lr=lr))

    with pytest.raises(ValueError, match="didn't specify a value of required optimization "
                                         "parameter 'lr'"):
        Bare([leaf([1.0])])


def test_an_optimizer_without_an_update_rule_names_itself_on_step():
    class Bare(Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

    p = leaf([1.0])
    p.grad = tg.ones(1, dtype=tg.float64)
    with pytest.raises(NotImplementedError, match="Bare must implement update"):
        Bare([p]).step()


def test_add_param_group_checks_its_argument():
    opt = tg.optim.SGD([leaf([1.0])], lr=0.1)
    with pytest.raises(TypeError, match="param_group must be a dict, but got list"):
        opt.add_param_group([leaf([2.0])])
    with pytest.raises(ValueError, match="'params'"):
        opt.add_param_group({"lr": 0.5})


def test_zero_grad_without_none_detaches_a_gradient_made_with_create_graph():
    p = leaf([1.0, 2.0])
    (p ** 3).sum().backward(create_graph=True)
    assert p.grad.grad_fn is not None
    tg.optim.SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert p.grad is not None and p.grad.grad_fn is None and not p.grad.requires_grad
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])


def _sgd_state_dict():
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = tg.tensor([1.0, 1.0])
    opt.step()
    return copy.deepcopy(opt.state_dict())


def test_load_state_dict_with_state_for_an_unknown_parameter_is_refused():
    # (stricter than PyTorch, which keeps such an entry unused)
    state = _sgd_state_dict()
    state["state"][7] = {"momentum_buffer": np.zeros(2, dtype=np.float32)}
    opt = tg.optim.SGD([tg.tensor([1.0, 2.0], requires_grad=True)], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="state for parameter 7"):
        opt.load_state_dict(state)


def test_load_state_dict_casts_a_tensor_entry_to_the_parameters_dtype():
    state = _sgd_state_dict()
    state["state"][0]["momentum_buffer"] = tg.tensor([10.0, 20.0], dtype=tg.float64)
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict(state)
    buffer = opt.state[p]["momentum_buffer"]
    assert buffer.dtype == tg.float32
    np.testing.assert_allclose(backend.to_host(getattr(buffer, "data", buffer)), [10.0, 20.0])


def test_a_loaded_tensor_momentum_buffer_is_used_by_step():
    state = _sgd_state_dict()
    state["state"][0]["momentum_buffer"] = tg.tensor([10.0, 20.0])
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict(state)
    p.grad = tg.zeros(2)
    opt.step()  # buf = 0.9·buf + g = [9, 18]; p -= 0.1·buf
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.9, 2.0 - 1.8], rtol=1e-6)


def test_load_state_dict_turns_a_0d_step_array_into_a_python_number():
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.Adam([p], lr=0.1)
    p.grad = tg.ones(2)
    opt.step()
    state = copy.deepcopy(opt.state_dict())
    state["state"][0]["step"] = np.array(5)  # as a file format may give it back
    opt.load_state_dict(state)
    assert opt.state[p]["step"] == 5 and type(opt.state[p]["step"]) is int


def test_fused_true_where_compiled_kernels_cannot_run_says_why(monkeypatch):
    pytest.importorskip("numba")
    from tinygrad_opt.optim import fused_cpu
    monkeypatch.setattr(fused_cpu, "_forked_after_openmp", True)
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    p.grad = tg.ones(2)
    opt = tg.optim.SGD([p], lr=0.1, fused=True)
    with pytest.raises(RuntimeError, match="fused=True cannot run compiled kernels here.*forked"):
        opt.step()
    np.testing.assert_array_equal(p.numpy(), [1.0, 2.0])


# --- the backend and the 'strict' test device ---

def test_cupy_without_a_usable_gpu_means_no_cuda(monkeypatch):
    class BrokenCuPy:  # CuPy installed, but its runtime fails (no driver)
        class cuda:
            class runtime:
                @staticmethod
                def getDeviceCount():
                    raise RuntimeError("cudaErrorInsufficientDriver")

    monkeypatch.setattr(backend, "cupy", BrokenCuPy)
    monkeypatch.setattr(backend, "_cuda_checked", None)
    assert backend.cuda_available() is False
    with pytest.raises(RuntimeError, match="CuPy or a GPU is not available"):
        tg.zeros(2, device="cuda")


def test_unknown_devices_are_refused_by_the_array_functions():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        backend.get_xp("tpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        backend.to_device(np.ones(2), "tpu")


def test_strict_arrays_iterate_by_row_and_have_a_length():
    array = strict.asarray(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    assert len(array) == 3
    rows = list(array)
    assert all(type(row) is strict.StrictArray for row in rows)
    assert [row.tolist() for row in rows] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]


def test_strict_get_and_copy_give_arrays_of_their_own():
    array = strict.asarray(np.array([1.0, 2.0]))
    host = array.get()  # CuPy's explicit device-to-host copy
    assert type(host) is np.ndarray
    host[0] = 9.0
    duplicate = copy.copy(array)
    assert type(duplicate) is strict.StrictArray
    duplicate[1] = 7.0
    assert array.tolist() == [1.0, 2.0]


def test_strict_repr_and_asnumpy_of_host_data():
    array = strict.asarray(np.array([1.0, 2.0]))
    assert repr(array).startswith("strict.array([1., 2.]")
    host = strict.asnumpy([1.0, 2.0])
    assert type(host) is np.ndarray and host.tolist() == [1.0, 2.0]
