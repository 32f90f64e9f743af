"""Audit of nn.utils, tg.func, gradcheck, the ctx-style Function and tg.Generator
against PyTorch's documented behaviour: one test per fix, hand-derived values."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.autograd import forward_ad

utils = nn.utils
D = tg.float64


# --- clip_grad_norm_ / clip_grad_value_ ---


def _with_grads():
    """Two parameters whose gradients are (3, -4) and (12,): ‖·‖₂ = 13, ‖·‖₁ = 19."""
    a = tg.zeros(1, 2, requires_grad=True)
    b = tg.zeros(1, requires_grad=True)
    a.grad = tg.tensor([[3.0, -4.0]])
    b.grad = tg.tensor([12.0])
    return a, b


@pytest.mark.parametrize("norm_type, total", [
    (2.0, 13.0), (1.0, 19.0), (math.inf, 12.0),
    (-math.inf, 3.0),   # PyTorch: min over the per-gradient minima |3|, |12|
    (0.0, 2.0),         # PyTorch: the count of nonzero per-gradient norms
])
def test_clip_grad_norm_total_is_the_norm_of_per_gradient_norms(norm_type, total):
    a, b = _with_grads()
    returned = utils.clip_grad_norm_([a, b], 1.0, norm_type=norm_type)
    assert returned.item() == pytest.approx(total, rel=1e-6)
    coefficient = min(1.0, 1.0 / (total + 1e-6))
    np.testing.assert_allclose(a.grad.numpy(), [[3.0 * coefficient, -4.0 * coefficient]],
                               rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), [12.0 * coefficient], rtol=1e-6)


def test_clip_grad_norm_and_value_take_foreach():
    a, b = _with_grads()
    total = utils.clip_grad_norm_([a, b], 26.0, 2.0, False, True)  # foreach positionally
    assert total.item() == pytest.approx(13.0)
    np.testing.assert_allclose(a.grad.numpy(), [[3.0, -4.0]], rtol=1e-6)  # under max_norm
    utils.clip_grad_norm_([a, b], max_norm=1.0, foreach=False)
    np.testing.assert_allclose(b.grad.numpy(), [12.0 / (13.0 + 1e-6)], rtol=1e-6)
    utils.clip_grad_value_([a, b], 0.25, foreach=None)
    np.testing.assert_allclose(a.grad.numpy(), [[3.0 / 13.0, -0.25]], rtol=1e-5)  # 3/13 < 0.25
    a, b = _with_grads()
    utils.clip_grad_value_([a, b], clip_value=3.5, foreach=True)
    np.testing.assert_array_equal(a.grad.numpy(), [[3.0, -3.5]])


def test_parameters_on_two_devices_is_a_type_error_as_pytorch():
    with pytest.raises(TypeError, match="different devices"):
        utils.parameters_to_vector([tg.zeros(2), tg.zeros(2, device="strict")])


# --- gradcheck / gradgradcheck ---


class _SinWrongBy1Percent(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * x.cos() * 1.01


def _x(values=(0.3, -1.2, 2.0)):
    return tg.tensor(list(values), dtype=D, requires_grad=True)


def test_gradcheck_error_is_a_runtime_error_as_pytorch():
    with pytest.raises(RuntimeError, match=r"element \(0,\)"):
        tg.gradcheck(_SinWrongBy1Percent.apply, (_x(),))
    assert issubclass(tg.GradcheckError, AssertionError)


def test_gradcheck_takes_pytorchs_options():
    x = _x()
    assert tg.gradcheck(lambda t: t.sin(), (x,), fast_mode=True, nondet_tol=0.0,
                        check_undefined_grad=True, check_grad_dtypes=True,
                        check_batched_grad=False, check_forward_ad=True,
                        check_backward_ad=True, masked=None)
    for options in [{"fast_mode": True}, {"check_forward_ad": True},
                    {"check_forward_ad": True, "check_backward_ad": False}]:
        assert tg.gradcheck(_SinWrongBy1Percent.apply, (x,), raise_exception=False,
                            **options) is False
    with pytest.raises(ValueError, match="at least one of check_forward_ad"):
        tg.gradcheck(lambda t: t, (x,), check_backward_ad=False)


def test_gradcheck_of_tuple_outputs_and_non_tensor_arguments():
    x, y = _x(), _x((1.0, 0.5, -0.7))
    assert tg.gradcheck(lambda a, b: (a * b, a.exp(), a.argmax()), (x, y))
    assert tg.gradcheck(lambda a, k: a * k, (x, 3.0))

    def second_output_wrong(a):
        return a.sin(), _SinWrongBy1Percent.apply(a)
    assert tg.gradcheck(second_output_wrong, (x,), raise_exception=False) is False


def test_gradcheck_undefined_grad_check_catches_a_backward_that_ignores_grad_output():
    class Offset(tg.autograd.Function):
        """y = x, with a backward that adds a constant 1e-3 whatever dL/dy is."""

        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output + 1e-3

    x = _x()
    with pytest.raises(tg.GradcheckError, match="zero output gradient"):
        tg.gradcheck(Offset.apply, (x,), atol=1e-2)
    assert tg.gradcheck(Offset.apply, (x,), atol=1e-2, check_undefined_grad=False)


def test_gradgradcheck_takes_grad_outputs_as_third_argument():
    x = _x()
    v = tg.tensor([0.5, -2.0, 1.0], dtype=D, requires_grad=True)
    assert tg.gradgradcheck(lambda a: a.sin() * a, (x,), (v,))
    assert tg.gradgradcheck(lambda a: a.sin() * a, (x,), v, check_fwd_over_rev=True)
    assert tg.gradgradcheck(lambda a: (a.sin(), a * a), (x,), (v, tg.ones(3, dtype=D)))

    class DetachedBackward(tg.autograd.Function):
        """y = x³ with a backward 3x²·g whose x² is detached: first derivatives right,
        second derivatives wrong."""

        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a ** 3

        @staticmethod
        def backward(ctx, grad_output):
            (a,) = ctx.saved_tensors
            return grad_output * 3 * a.detach() ** 2

    assert tg.gradcheck(DetachedBackward.apply, (x,))
    assert tg.gradgradcheck(DetachedBackward.apply, (x,), v, raise_exception=False) is False


# --- the ctx-style Function: PyTorch's setup_context spelling ---


def test_function_with_setup_context():
    class Exp(tg.autograd.Function):
        @staticmethod
        def forward(x):
            return x.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(output)
            ctx.shape = x.shape

        @staticmethod
        def backward(ctx, grad_output):
            (y,) = ctx.saved_tensors
            return grad_output * y

    x = _x()
    y = Exp.apply(x)
    np.testing.assert_allclose(y.detach().numpy(), np.exp([0.3, -1.2, 2.0]))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.3, -1.2, 2.0]))
    assert tg.gradgradcheck(Exp.apply, (x,))


# --- tg.func ---


def test_vmap_randomness_same_gives_every_sample_the_same_draws():
    tg.manual_seed(0)
    expected = tg.rand(3).numpy()
    after_one_draw = tg.rand(3).numpy()
    tg.manual_seed(0)
    same = tg.func.vmap(lambda row: row + tg.rand(3), randomness="same")(tg.zeros(4, 3))
    np.testing.assert_array_equal(same.numpy(), np.tile(expected, (4, 1)))
    np.testing.assert_array_equal(tg.rand(3).numpy(), after_one_draw)  # as after one call
    tg.manual_seed(0)
    different = tg.func.vmap(lambda row: row + tg.rand(3), randomness="different")(
        tg.zeros(4, 3)).numpy()
    assert not np.array_equal(different[0], different[1])


def test_stack_module_state_runs_an_ensemble_through_vmap():
    tg.manual_seed(0)
    models = [nn.Linear(3, 2) for _ in range(4)]
    params, buffers = tg.func.stack_module_state(models)
    assert set(params) == {"weight", "bias"} and buffers == {}
    assert params["weight"].shape == (4, 2, 3) and params["bias"].shape == (4, 2)
    assert params["weight"].is_leaf and params["weight"].requires_grad
    np.testing.assert_array_equal(params["weight"][2].detach().numpy(),
                                  models[2].weight.detach().numpy())
    base = nn.Linear(3, 2)
    x = tg.tensor([[1.0, 2.0, -1.0]])

    def run(p, b, x):
        return tg.func.functional_call(base, (p, b), (x,))
    out = tg.func.vmap(run, in_dims=(0, 0, None))(params, buffers, x)   # (4, 1, 2)
    for k, model in enumerate(models):
        w, bias = model.weight.detach().numpy(), model.bias.detach().numpy()
        np.testing.assert_allclose(out[k].detach().numpy(), x.numpy() @ w.T + bias, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(params["bias"].grad.numpy(), np.ones((4, 2)))
    norms = [nn.BatchNorm1d(3), nn.BatchNorm1d(3)]
    _, buffers = tg.func.stack_module_state(norms)
    assert buffers["running_var"].shape == (2, 3) and buffers["num_batches_tracked"].shape == (2,)
    with pytest.raises(RuntimeError, match="at least one model"):
        tg.func.stack_module_state([])
    with pytest.raises(RuntimeError, match="same training/eval mode"):
        tg.func.stack_module_state([nn.Linear(3, 2), nn.Linear(3, 2).eval()])
    with pytest.raises(RuntimeError, match="same class"):
        tg.func.stack_module_state([nn.Linear(3, 2), nn.Bilinear(3, 3, 2)])


# --- forward mode: every op of a small MLP against finite differences ---


def test_forward_ad_tangent_of_a_small_mlp_matches_finite_differences():
    rng = np.random.default_rng(0)
    w1, b1 = tg.tensor(rng.standard_normal((4, 3))), tg.tensor(rng.standard_normal(4))
    w2 = tg.tensor(rng.standard_normal((2, 4)))
    functional = nn.functional

    def mlp(x):
        h = x @ w1.T + b1
        h = h.tanh() + h.relu() * functional.gelu(h) - h.sigmoid() / (1 + functional.softplus(h))
        z = h @ w2.T
        z = functional.log_softmax(z, dim=1) + functional.layer_norm(z, (2,))
        return (z ** 2).mean(dim=0) + z.amax(dim=0) + z.logsumexp(0)

    x0, v = tg.tensor(rng.standard_normal((5, 3))), tg.tensor(rng.standard_normal((5, 3)))
    with forward_ad.dual_level():
        tangent = forward_ad.unpack_dual(mlp(forward_ad.make_dual(x0, v))).tangent
    eps = 1e-6
    numeric = (mlp(x0 + eps * v) - mlp(x0 - eps * v)).numpy() / (2 * eps)
    np.testing.assert_allclose(tangent.numpy(), numeric, rtol=1e-6, atol=1e-8)


# --- tg.Generator ---


def test_generator_manual_seed_takes_numpy_and_negative_integers_as_pytorch():
    a = tg.rand(3, generator=tg.Generator().manual_seed(np.int64(5))).numpy()
    np.testing.assert_array_equal(a, tg.rand(3, generator=tg.Generator().manual_seed(5)).numpy())
    g = tg.Generator().manual_seed(-1)
    assert g.initial_seed() == 2**64 - 1                      # the same 64 bits, unsigned
    np.testing.assert_array_equal(
        tg.rand(2, generator=g).numpy(),
        tg.rand(2, generator=tg.Generator().manual_seed(2**64 - 1)).numpy())
    with pytest.raises(RuntimeError, match="64-bit"):
        tg.Generator().manual_seed(2**64)
    with pytest.raises(TypeError, match="seed must be an int"):
        tg.Generator().manual_seed(1.5)


def test_tg_random_has_manual_seed_and_initial_seed():
    tg.random.manual_seed(11)
    assert tg.random.initial_seed() == 11 == tg.initial_seed()
    first = tg.rand(2).numpy()
    tg.manual_seed(11)
    np.testing.assert_array_equal(tg.rand(2).numpy(), first)
