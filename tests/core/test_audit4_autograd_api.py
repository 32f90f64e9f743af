"""The autograd API around the engine, against PyTorch's documented semantics.

``torch.autograd.grad``'s positional order (``only_inputs`` before ``allow_unused``) and
its checks, gradcheck leaving out the outputs that do not require grad, the options
PyTorch refuses together in ``jacobian``, ``inference_mode(False)``; and hooks, gradient
accumulation, double backward and the functional products, each against a NumPy
reference written from the formula.
"""

import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd import functional as AF


def _leaf(values, device):
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True, device=device)


# --- tg.autograd.grad: PyTorch's signature and argument checks ---


def test_grad_takes_only_inputs_in_pytorchs_position(device):
    # grad(outputs, inputs, grad_outputs, retain_graph, create_graph, only_inputs,
    #      allow_unused, is_grads_batched, materialize_grads)
    x, unused = _leaf([1.0, 2.0, 3.0], device), _leaf([4.0], device)
    y = (x ** 3).sum()
    gx, gu = tg.autograd.grad(y, [x, unused], None, None, False, True, True)
    np.testing.assert_allclose(gx.numpy(), 3 * np.array([1.0, 2.0, 3.0]) ** 2)
    assert gu is None
    x = _leaf([1.0, 2.0], device)
    (g,) = tg.autograd.grad((x * x).sum(), x, only_inputs=True)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


def test_grad_only_inputs_false_warns_and_is_ignored():
    x = _leaf([1.0, -2.0], "cpu")
    with pytest.warns(FutureWarning, match="only_inputs"):
        (g,) = tg.autograd.grad((x * x * x).sum(), x, only_inputs=False)
    np.testing.assert_allclose(g.numpy(), 3 * np.array([1.0, -2.0]) ** 2)
    assert x.grad is None  # still returned, never accumulated


def test_grad_refuses_a_grad_outputs_count_that_differs_from_the_outputs(device):
    x = _leaf([1.0, 2.0], device)
    a, b = x * 2, x * x
    one = tg.tensor(np.ones(2), device=device)
    with pytest.raises(RuntimeError, match="grad: got 2 outputs and 1 grad_outputs"):
        tg.autograd.grad([a, b], x, grad_outputs=[one], retain_graph=True)
    with pytest.raises(RuntimeError, match="grad: got 2 outputs and 1 grad_outputs"):
        tg.autograd.grad([a, b], x, grad_outputs=one, retain_graph=True)
    # the right count: Σ_k v_kᵀ ∂out_k/∂x = 2·v_a + 2x·v_b
    va, vb = np.array([1.0, -1.0]), np.array([0.5, 3.0])
    (g,) = tg.autograd.grad([a, b], x, grad_outputs=[tg.tensor(va, device=device),
                                                      tg.tensor(vb, device=device)])
    np.testing.assert_allclose(g.numpy(), 2 * va + 2 * np.array([1.0, 2.0]) * vb)


def test_materialized_zeros_require_grad_as_pytorchs(device):
    # PyTorch fills with zeros_like(input, requires_grad=True): a result can be
    # differentiated (or summed into a loss) like any other gradient
    x, unused = _leaf([1.0, 2.0], device), _leaf([[3.0, 4.0]], device)
    gx, gu = tg.autograd.grad((x * x).sum(), [x, unused], materialize_grads=True)
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(gu.numpy(), np.zeros((1, 2)))
    assert gu.requires_grad and gu.is_leaf
    gu.sum().backward()
    np.testing.assert_array_equal(gu.grad.numpy(), np.ones((1, 2)))


# --- gradcheck and gradgradcheck ---


def test_gradcheck_leaves_out_outputs_that_do_not_require_grad(device):
    # PyTorch checks only the differentiable outputs: one computed from a detached
    # input has no analytic gradient to compare, whatever its numeric one
    x = _leaf([0.5, 1.5, 2.0], device)
    assert tg.autograd.gradcheck(lambda a: (a * a, a.detach() * 3), (x,))
    assert tg.autograd.gradgradcheck(lambda a: (a ** 3, a.detach() * 3), (x,))
    # grad_outputs then has one tensor per differentiable output
    v = tg.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True, device=device)
    assert tg.autograd.gradgradcheck(lambda a: (a.detach() * 3, a ** 3), (x,), (v,))
    # a wrong derivative is still found next to a detached output

    class Half(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return grad * a  # d(a²)/da is 2a

    assert not tg.autograd.gradcheck(lambda a: (Half.apply(a), a.detach()), (x,),
                                     raise_exception=False)


def test_gradcheck_of_a_function_with_no_differentiable_output(device):
    x = _leaf([0.5, 1.5], device)
    # the numeric derivative must then be zero (PyTorch: "expected to be zero")
    with pytest.raises(tg.autograd.GradcheckError, match="numeric"):
        tg.autograd.gradcheck(lambda a: a.detach() * 3, (x,))
    constant = tg.tensor(np.ones(2), device=device)
    assert tg.autograd.gradcheck(lambda a: constant * 1, (x,))


# --- autograd.functional ---


def test_jacobian_and_hessian_refuse_strict_with_vectorize_as_pytorch():
    x = tg.tensor(np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="jacobian: strict=True and vectorize=True"):
        AF.jacobian(lambda a: a ** 2, x, strict=True, vectorize=True)
    with pytest.raises(RuntimeError, match="jacobian: strict=True and vectorize=True"):
        AF.hessian(lambda a: (a ** 3).sum(), x, strict=True, vectorize=True)
    # each alone is accepted: J = diag(2x), H = diag(6x)
    np.testing.assert_allclose(AF.jacobian(lambda a: a ** 2, x, vectorize=True).numpy(),
                               np.diag([2.0, 4.0]))
    np.testing.assert_allclose(AF.hessian(lambda a: (a ** 3).sum(), x, strict=True).numpy(),
                               np.diag([6.0, 12.0]))


# --- grad modes ---


def test_inference_mode_false_turns_recording_on():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with tg.inference_mode(False):
        assert tg.is_grad_enabled()
        y = x * 2
    assert y.requires_grad
    with tg.no_grad():
        with tg.inference_mode(mode=False):  # PyTorch's InferenceMode(False): grad mode on
            assert tg.is_grad_enabled() and (x * 2).requires_grad
        assert not tg.is_grad_enabled()
    with tg.inference_mode(True):
        assert not tg.is_grad_enabled() and not (x * 2).requires_grad
    assert tg.is_grad_enabled()

    @tg.inference_mode(False)
    def recording():
        return tg.is_grad_enabled()

    @tg.inference_mode()
    def not_recording():
        return tg.is_grad_enabled()

    @tg.inference_mode
    def bare():
        return tg.is_grad_enabled()

    assert recording() and not not_recording() and not bare()
    assert tg.is_grad_enabled()


# --- checked and correct: hooks, accumulation, double backward, the products ---


def test_hooks_run_in_order_and_a_returned_tensor_replaces_the_gradient(device, rng):
    a = rng.standard_normal(3)
    x = _leaf(a, device)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    h.register_hook(lambda g: g * 2)
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = x.register_hook(lambda g: g + 1)
    (h * h).sum().backward(retain_graph=True)
    dh = 2 * (3 * a)                        # d(h·h)/dh
    np.testing.assert_allclose(seen[0], dh)
    np.testing.assert_allclose(seen[1], 2 * dh)
    np.testing.assert_allclose(x.grad.numpy(), 3 * 2 * dh + 1)
    handle.remove()
    (h * h).sum().backward()                # accumulates; the leaf hook is gone
    np.testing.assert_allclose(x.grad.numpy(), 2 * (3 * 2 * dh) + 1)


def test_retain_grad_and_backward_inputs_on_a_non_leaf(device, rng):
    a = rng.standard_normal(4)
    x = _leaf(a, device)
    h = x.exp()
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * np.exp(a))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * a))
    x2 = _leaf(a, device)
    w = _leaf(a[::-1].copy(), device)
    h2 = x2 * w
    (h2 * h2).sum().backward(inputs=[h2, w])
    np.testing.assert_allclose(h2.grad.numpy(), 2 * a * a[::-1])
    np.testing.assert_allclose(w.grad.numpy(), 2 * a * a[::-1] * a)
    assert x2.grad is None


def test_create_graph_backward_gives_a_differentiable_grad(device, rng):
    a = rng.standard_normal(3)
    x = _leaf(a, device)
    (x.sin() * x).sum().backward(create_graph=True)
    first = np.sin(a) + a * np.cos(a)
    np.testing.assert_allclose(x.grad.numpy(), first)
    (second,) = tg.autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(second.numpy(), 2 * np.cos(a) - a * np.sin(a))


def test_functional_products_match_the_hand_derivatives(device, rng):
    a, v = rng.standard_normal(3), rng.standard_normal(3)
    x = tg.tensor(a, device=device)
    vt = tg.tensor(v, device=device)

    def f(t):
        return (t.exp() * t).sum()          # ∂f = eˣ(1+x), ∂²f = diag(eˣ(2+x))
    hessian = np.diag(np.exp(a) * (2 + a))
    np.testing.assert_allclose(AF.hessian(f, x).numpy(), hessian)
    for product in (AF.hvp, AF.vhp):
        value, hv = product(f, x, vt)
        np.testing.assert_allclose(value.numpy(), (np.exp(a) * a).sum())
        np.testing.assert_allclose(hv.numpy(), hessian @ v)

    def g(t):
        return t * t.sum()                  # J = diag(Σt) + t·1ᵀ
    jacobian = np.diag(np.full(3, a.sum())) + np.outer(a, np.ones(3))
    np.testing.assert_allclose(AF.jacobian(g, x).numpy(), jacobian)
    np.testing.assert_allclose(AF.jvp(g, x, vt)[1].numpy(), jacobian @ v)
    np.testing.assert_allclose(AF.vjp(g, x, vt)[1].numpy(), v @ jacobian)


def test_detect_anomaly_names_the_op_whose_backward_made_a_nan(device):
    x = tg.tensor(np.array([-1.0, 1.0]), requires_grad=True, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's invalid-value warning
        with tg.autograd.detect_anomaly():
            y = x.sqrt().sum()
            with pytest.raises(RuntimeError, match="Sqrt.backward returned NaN values"):
                y.backward()
        assert not tg.autograd.is_anomaly_enabled()
        x.sqrt().sum().backward()        # off: the NaN passes through, as in PyTorch
    assert np.isnan(x.grad.numpy()[0]) and x.grad.numpy()[1] == pytest.approx(0.5)


def test_detect_anomaly_lets_an_infinite_gradient_pass(device):
    """PyTorch's check looks for NaN only: sqrt'(0) = inf is a right gradient."""
    x = tg.tensor(np.array([0.0, 4.0]), requires_grad=True, device=device)
    with np.errstate(divide="ignore"), tg.autograd.detect_anomaly():
        x.sqrt().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [np.inf, 0.25])
