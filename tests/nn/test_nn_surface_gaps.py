"""The last of PyTorch's nn surface: nn/functional_surface.py (``native_channel_shuffle``,
``nn.grad``'s convolution gradients), nn/layers_surface.py (``RNNCellBase``, ``Container``,
``NLLLoss2d``, the ``nn.parameter`` namespace) and the appended nn/utils.py functions (the
BatchNorm fusions, ``clip_grad_norm``, ``rnn.invert_permutation``, three sub-modules).

References are NumPy written here from the documented formulas: explicit loops over the
output and kernel positions of a convolution, the BatchNorm formula
``(z − μ)/√(σ² + ε)·γ + β``, ``inverse[p[i]] = i``. Gradients by float64 gradcheck.
"""

import itertools
import math
import warnings

import numpy as np
import pytest
from fuzzing import examples, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


def t(array, device, grad=False, dtype=tg.float64):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=grad)


# ----------------------------------------------------------------- native_channel_shuffle

def test_native_channel_shuffle_values(device):
    x = np.arange(2 * 6 * 2, dtype=np.float64).reshape(2, 6, 2)
    groups = 3
    expected = np.empty_like(x)
    per_group = 6 // groups
    for g in range(groups):
        for j in range(per_group):
            expected[:, j * groups + g] = x[:, g * per_group + j]
    np.testing.assert_array_equal(F.native_channel_shuffle(t(x, device), groups).numpy(),
                                  expected)


def test_native_channel_shuffle_errors():
    with pytest.raises(ValueError, match="not divisible by groups 4"):
        F.native_channel_shuffle(tg.zeros(1, 6, 2), 4)
    with pytest.raises(ValueError, match="at least 3 dims"):
        F.native_channel_shuffle(tg.zeros(6, 2), 2)


# ------------------------------------------------------------------------------ nn.grad

def numpy_conv_gradients(x, w, g, stride, padding, dilation, groups):
    """∂⟨conv(x, w), g⟩/∂x and /∂w by explicit loops over output and kernel positions:
    y[n, o, j] = Σ_{c, k} x[n, group(o)·C_in/G + c, j·s − p + k·d] · w[o, c, k]."""
    grad_x, grad_w = np.zeros_like(x), np.zeros_like(w)
    out_channels, in_per_group = w.shape[:2]
    out_per_group = out_channels // groups
    for n, o in itertools.product(range(x.shape[0]), range(out_channels)):
        first_channel = (o // out_per_group) * in_per_group
        for j in itertools.product(*(range(size) for size in g.shape[2:])):
            for k in itertools.product(*(range(size) for size in w.shape[2:])):
                i = [j_ * s - p + k_ * d for j_, k_, s, p, d in
                     zip(j, k, stride, padding, dilation)]
                if any(i_ < 0 or i_ >= size for i_, size in zip(i, x.shape[2:])):
                    continue
                for c in range(in_per_group):
                    grad_x[(n, first_channel + c, *i)] += g[(n, o, *j)] * w[(o, c, *k)]
                    grad_w[(o, c, *k)] += g[(n, o, *j)] * x[(n, first_channel + c, *i)]
    return grad_x, grad_w


def output_size(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@fuzz_settings(examples("NN_SURFACE_FUZZ_EXAMPLES", 12))
@given(dims=st.sampled_from([1, 2, 3]), stride=st.integers(1, 2), padding=st.integers(0, 1),
       dilation=st.integers(1, 2), groups=st.sampled_from([1, 2]), seed=st.integers(0, 99))
def test_conv_gradients_match_the_loops(dims, stride, padding, dilation, groups, seed):
    rng = np.random.default_rng(seed)
    sizes, kernel = [5, 4, 3][:dims], [2, 3, 2][:dims]
    x = rng.standard_normal((2, 2 * groups, *sizes))
    w = rng.standard_normal((2 * groups, 2, *kernel))
    out = [output_size(n, k, stride, padding, dilation) for n, k in zip(sizes, kernel)]
    g = rng.standard_normal((2, 2 * groups, *out))
    expected_x, expected_w = numpy_conv_gradients(x, w, g, [stride] * dims, [padding] * dims,
                                                  [dilation] * dims, groups)
    conv_input = getattr(nn.grad, f"conv{dims}d_input")
    conv_weight = getattr(nn.grad, f"conv{dims}d_weight")
    grad_x = conv_input(x.shape, t(w, "cpu"), t(g, "cpu"), stride, padding, dilation, groups)
    grad_w = conv_weight(t(x, "cpu"), w.shape, t(g, "cpu"), stride, padding, dilation, groups)
    np.testing.assert_allclose(grad_x.numpy(), expected_x, atol=1e-12)
    np.testing.assert_allclose(grad_w.numpy(), expected_w, atol=1e-12)


def test_conv2d_gradients_on_the_device(device):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 4, 5)), rng.standard_normal((3, 2, 2, 3))
    g = rng.standard_normal((1, 3, 2, 3))
    expected_x, expected_w = numpy_conv_gradients(x, w, g, (2, 2), (0, 1), (1, 1), 1)
    grad_x = F.grad.conv2d_input(x.shape, t(w, device), t(g, device), stride=2,
                                 padding=(0, 1))
    grad_w = F.grad.conv2d_weight(t(x, device), w.shape, t(g, device), stride=2,
                                  padding=(0, 1))
    assert grad_x.device == device and grad_w.device == device
    np.testing.assert_allclose(grad_x.numpy(), expected_x, atol=1e-12)
    np.testing.assert_allclose(grad_w.numpy(), expected_w, atol=1e-12)


def test_conv_gradients_are_differentiable(device):
    rng = np.random.default_rng(1)
    w, g = t(rng.standard_normal((2, 3, 2)), device, True), t(
        rng.standard_normal((2, 2, 4)), device, True)
    x = t(rng.standard_normal((2, 3, 5)), device, True)
    assert tg.autograd.gradcheck(
        lambda w, g: nn.grad.conv1d_input((2, 3, 5), w, g), (w, g))
    assert tg.autograd.gradcheck(
        lambda x, g: nn.grad.conv1d_weight(x, (2, 3, 2), g), (x, g))


def test_conv_gradients_record_no_graph_without_grad_inputs():
    w, g = tg.randn(2, 3, 2, dtype=tg.float64), tg.randn(2, 2, 4, dtype=tg.float64)
    assert not nn.grad.conv1d_input((2, 3, 5), w, g).requires_grad
    with tg.no_grad():
        w.requires_grad_()
        assert not nn.grad.conv1d_input((2, 3, 5), w, g).requires_grad


def test_conv_gradient_errors():
    w, g = tg.zeros(2, 3, 2), tg.zeros(2, 2, 3)
    with pytest.raises(ValueError, match=r"conv1d_input: grad_output of shape \(2, 2, 3\).*"
                                         r"\(2, 2, 4\)"):
        nn.grad.conv1d_input((2, 3, 5), w, g)
    with pytest.raises(TypeError, match="conv1d_weight: weight_size"):
        nn.grad.conv1d_weight(tg.zeros(2, 3, 5), (2, 3.5, 2), g)


def test_grad_namespace_imports_and_is_pytorchs_nn_grad():
    from tinygrad_opt.nn.grad import conv3d_weight
    assert conv3d_weight is nn.grad.conv3d_weight and F.grad is nn.grad
    assert conv3d_weight.__name__ == "conv3d_weight"
    names = list(__import__("inspect").signature(nn.grad.conv2d_input).parameters)
    assert names == ["input_size", "weight", "grad_output", "stride", "padding", "dilation",
                     "groups"]


# --------------------------------------------------------------------------- RNNCellBase

class TwoGateCell(nn.RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, bias, num_chunks=2)


def test_rnn_cell_base_parameters_and_state_dict():
    cell = TwoGateCell(3, 4)
    assert list(cell.state_dict()) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert [tuple(p.shape) for p in cell.parameters()] == [(8, 3), (8, 4), (8,), (8,)]
    bound = 1 / math.sqrt(4)
    assert all(np.abs(p.numpy()).max() <= bound for p in cell.parameters())
    no_bias = TwoGateCell(3, 4, bias=False)
    assert list(no_bias.state_dict()) == ["weight_ih", "weight_hh"]
    assert no_bias.bias_ih is None and no_bias.bias_hh is None


def test_rnn_cell_base_repr_and_isinstance():
    assert repr(TwoGateCell(3, 4)) == "TwoGateCell(3, 4)"
    assert repr(TwoGateCell(3, 4, bias=False)) == "TwoGateCell(3, 4, bias=False)"
    assert repr(nn.RNNCellBase(2, 5, True, 3)) == "RNNCellBase(2, 5)"
    for cell in (nn.RNNCell(2, 3), nn.LSTMCell(2, 3), nn.GRUCell(2, 3), TwoGateCell(2, 3)):
        assert isinstance(cell, nn.RNNCellBase)
    assert issubclass(nn.GRUCell, nn.RNNCellBase) and issubclass(TwoGateCell, nn.RNNCellBase)
    assert not isinstance(nn.Linear(2, 3), nn.RNNCellBase)
    assert not isinstance(nn.RNN(2, 3), nn.RNNCellBase)
    assert not isinstance(nn.GRUCell(2, 3), TwoGateCell)


# ---------------------------------------------------------- Container, NLLLoss2d, parameter

def test_container_is_deprecated_and_registers_its_keywords():
    with pytest.warns(FutureWarning, match="nn.Container is deprecated"):
        container = nn.Container(fc=nn.Linear(2, 3), act=nn.ReLU())
    assert list(container.state_dict()) == ["fc.weight", "fc.bias"]
    assert repr(container) == "Container(\n  (fc): Linear(in_features=2, out_features=3, " \
                              "bias=True)\n  (act): ReLU()\n)"


def test_nll_loss_2d_is_deprecated_nll_loss(device):
    rng = np.random.default_rng(2)
    log_probs = rng.standard_normal((2, 3, 2, 2))
    target = rng.integers(0, 3, size=(2, 2, 2))
    weight = np.array([0.5, 1.0, 2.0])
    with pytest.warns(UserWarning, match="NLLLoss2d has been deprecated"):
        loss = nn.NLLLoss2d(t(weight, device), None, -100, None, "sum")
    assert isinstance(loss, nn.NLLLoss) and loss.reduction == "sum"
    expected = 0.0
    for n, i, j in itertools.product(range(2), range(2), range(2)):
        label = target[n, i, j]
        expected -= weight[label] * log_probs[n, label, i, j]
    value = loss(t(log_probs, device), tg.tensor(target, device=device))
    np.testing.assert_allclose(value.numpy(), expected, rtol=1e-12)


def test_parameter_namespace():
    from tinygrad_opt.nn.parameter import Parameter, UninitializedParameter, is_lazy
    assert Parameter is nn.Parameter and UninitializedParameter is nn.UninitializedParameter
    assert nn.parameter.UninitializedBuffer is nn.UninitializedBuffer
    assert is_lazy(UninitializedParameter()) and not is_lazy(Parameter(tg.zeros(2)))


# ------------------------------------------------------------------------------- fusion

def bn_stats(rng, channels):
    return (rng.standard_normal(channels), rng.uniform(0.5, 2.0, channels),
            rng.standard_normal(channels), rng.standard_normal(channels))


def set_bn(bn, mean, var, gamma, beta, device):
    bn.running_mean.data[...] = t(mean, device).data
    bn.running_var.data[...] = t(var, device).data
    if bn.weight is not None:
        bn.weight.data[...] = t(gamma, device).data
        bn.bias.data[...] = t(beta, device).data


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("with_bias", [True, False])
def test_fuse_conv_bn_weights_formula(device, transpose, with_bias):
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((4, 3, 2, 2) if transpose else (3, 4, 2, 2))
    bias = rng.standard_normal(3) if with_bias else None
    mean, var, gamma, beta = bn_stats(rng, 3)
    eps = 1e-3
    fused_w, fused_b = nn.utils.fuse_conv_bn_weights(
        t(weight, device, grad=True), None if bias is None else t(bias, device), t(mean, device),
        t(var, device), eps, t(gamma, device), t(beta, device), transpose=transpose)
    scale = gamma / np.sqrt(var + eps)
    shape = (1, 3, 1, 1) if transpose else (3, 1, 1, 1)
    b = np.zeros(3) if bias is None else bias
    assert isinstance(fused_w, nn.Parameter) and isinstance(fused_b, nn.Parameter)
    assert fused_w.requires_grad and not fused_b.requires_grad and fused_w.is_leaf
    np.testing.assert_allclose(fused_w.numpy(), weight * scale.reshape(shape), rtol=1e-12)
    np.testing.assert_allclose(fused_b.numpy(), (b - mean) * scale + beta, rtol=1e-12)


def test_fuse_conv_bn_weights_without_affine():
    mean, var = np.array([1.0, -2.0]), np.array([4.0, 0.25])
    weight = np.ones((2, 1, 1))
    fused_w, fused_b = nn.utils.fuse_conv_bn_weights(
        t(weight, "cpu"), None, t(mean, "cpu"), t(var, "cpu"), 0.0, None, None)
    np.testing.assert_allclose(fused_w.numpy().ravel(), 1 / np.sqrt(var))
    np.testing.assert_allclose(fused_b.numpy(), -mean / np.sqrt(var))


def test_fuse_conv_bn_eval_computes_bn_of_conv(device):
    rng = np.random.default_rng(4)
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False).double().to(device).eval()
    bn = nn.BatchNorm2d(3, eps=1e-4).double().to(device).eval()
    mean, var, gamma, beta = bn_stats(rng, 3)
    set_bn(bn, mean, var, gamma, beta, device)
    x = t(rng.standard_normal((2, 2, 4, 4)), device)
    fused = nn.utils.fuse_conv_bn_eval(conv, bn)
    z = conv(x).numpy()                                              # the unfused conv
    expected = ((z - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-4)
                * gamma.reshape(1, 3, 1, 1) + beta.reshape(1, 3, 1, 1))
    np.testing.assert_allclose(fused(x).numpy(), expected, rtol=1e-10, atol=1e-12)
    assert fused is not conv and conv.bias is None                    # conv left alone
    assert list(fused.state_dict()) == ["weight", "bias"] and fused.bias.shape == (3,)


def test_fuse_conv_transpose_bn_eval(device):
    rng = np.random.default_rng(5)
    conv = nn.ConvTranspose2d(2, 3, 2, stride=2).double().to(device).eval()
    bn = nn.BatchNorm2d(3).double().to(device).eval()
    mean, var, gamma, beta = bn_stats(rng, 3)
    set_bn(bn, mean, var, gamma, beta, device)
    x = t(rng.standard_normal((1, 2, 2, 3)), device)
    z = conv(x).numpy()
    expected = ((z - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5)
                * gamma.reshape(1, 3, 1, 1) + beta.reshape(1, 3, 1, 1))
    fused = nn.utils.fusion.fuse_conv_bn_eval(conv, bn, transpose=True)
    np.testing.assert_allclose(fused(x).numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("features", [3, 1])
def test_fuse_linear_bn_eval(device, features):
    rng = np.random.default_rng(6)
    linear = nn.Linear(4, 3).double().to(device).eval()
    bn = nn.BatchNorm1d(features).double().to(device).eval()
    mean, var, gamma, beta = bn_stats(rng, features)
    set_bn(bn, mean, var, gamma, beta, device)
    x = rng.standard_normal((5, 4))
    z = x @ linear.weight.numpy().T + linear.bias.numpy()           # (5, 3)
    expected = (z - mean) / np.sqrt(var + 1e-5) * gamma + beta
    fused = nn.utils.fuse_linear_bn_eval(linear, bn)
    assert isinstance(fused, nn.Linear) and fused.weight.shape == (3, 4)
    np.testing.assert_allclose(fused(t(x, device)).numpy(), expected, rtol=1e-10, atol=1e-12)


def test_fuse_linear_bn_weights_keeps_dtypes():
    w, b = tg.randn(3, 2, dtype=tg.float32), tg.randn(3, dtype=tg.float32)
    stats = [tg.randn(3, dtype=tg.float64), tg.ones(3, dtype=tg.float64)]
    fused_w, fused_b = nn.utils.fuse_linear_bn_weights(w, b, *stats, 1e-5, None, None)
    assert fused_w.dtype == tg.float32 and fused_b.dtype == tg.float32


def test_fusion_errors():
    conv, bn = nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        nn.utils.fuse_conv_bn_eval(conv, bn)
    no_stats = nn.BatchNorm2d(3, track_running_stats=False).eval()
    with pytest.raises(AssertionError, match="no running statistics"):
        nn.utils.fuse_conv_bn_eval(conv.eval(), no_stats)
    with pytest.raises(AssertionError, match=r"out_features == bn.num_features.*3 and 2"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(2, 3).eval(), nn.BatchNorm1d(2).eval())


# --------------------------------------------------- clip_grad_norm, invert_permutation

def test_clip_grad_norm_is_deprecated_clip_grad_norm_(device):
    grads = [np.array([3.0, 0.0]), np.array([[0.0], [4.0]])]
    params = []
    for grad in grads:
        p = nn.Parameter(tg.zeros(*grad.shape, dtype=tg.float64, device=device))
        p.grad = t(grad, device)
        params.append(p)
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        total = nn.utils.clip_grad_norm(params, 1.0)
    np.testing.assert_allclose(total.numpy(), 5.0)
    factor = 1.0 / (5.0 + 1e-6)
    for p, grad in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), grad * factor, rtol=1e-12)


@pytest.mark.parametrize("dtype", [tg.int64, tg.int32])
def test_invert_permutation(device, dtype):
    permutation = np.random.default_rng(7).permutation(7)
    expected = np.empty(7, dtype=np.int64)
    for i, p in enumerate(permutation):
        expected[p] = i
    inverse = nn.utils.rnn.invert_permutation(tg.tensor(permutation, dtype=dtype,
                                                        device=device))
    assert inverse.dtype == dtype and inverse.device == device
    np.testing.assert_array_equal(inverse.numpy(), expected)
    assert nn.utils.rnn.invert_permutation(None) is None


def test_utils_sub_modules_import():
    from tinygrad_opt.nn.utils.clip_grad import clip_grad_norm_, get_total_norm
    from tinygrad_opt.nn.utils.convert_parameters import parameters_to_vector
    from tinygrad_opt.nn.utils.fusion import fuse_linear_bn_weights
    from tinygrad_opt.nn.utils.rnn import invert_permutation
    assert clip_grad_norm_ is nn.utils.clip_grad_norm_
    assert get_total_norm is nn.utils.get_total_norm
    assert parameters_to_vector is nn.utils.parameters_to_vector
    assert fuse_linear_bn_weights is nn.utils.fuse_linear_bn_weights
    assert invert_permutation is nn.utils.invert_permutation


def test_nothing_warns_on_import_of_the_namespaces():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nn.parameter.Parameter is nn.Parameter
        assert nn.utils.fusion.fuse_conv_bn_eval is nn.utils.fuse_conv_bn_eval
