"""The lazy transposed convolutions, LazyBatchNorm3d and the lazy instance norms: the size
read from the first input (also an unbatched one), uninitialised tensors exactly where the
ordinary class has tensors, the same parameters, buffers and output as the ordinary class
under the same seed, the options kept, the math checked against plain NumPy (a transposed
convolution scattered by hand, instance normalisation, their gradients), state dicts both
ways, and the errors of a later input whose channels do not fit. On cpu and strict."""

import math
import re
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn
from tinygrad_opt.func import functional_call
from tinygrad_opt.nn.lazy import UninitializedBuffer, UninitializedParameter, is_lazy

NORMS = [  # (lazy class, ordinary class, input shape: C = 3 always)
    (nn.LazyBatchNorm3d, nn.BatchNorm3d, (4, 3, 2, 3, 2)),
    (nn.LazyInstanceNorm1d, nn.InstanceNorm1d, (2, 3, 5)),
    (nn.LazyInstanceNorm1d, nn.InstanceNorm1d, (3, 5)),             # unbatched
    (nn.LazyInstanceNorm2d, nn.InstanceNorm2d, (2, 3, 4, 3)),
    (nn.LazyInstanceNorm2d, nn.InstanceNorm2d, (3, 4, 3)),          # unbatched
    (nn.LazyInstanceNorm3d, nn.InstanceNorm3d, (2, 3, 2, 3, 2)),
    (nn.LazyInstanceNorm3d, nn.InstanceNorm3d, (3, 2, 3, 2)),       # unbatched
]

OPTIONS = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=2)
CONV_TRANSPOSES = [  # (lazy class, ordinary class, input shape: C = 4 always, options)
    (nn.LazyConvTranspose1d, nn.ConvTranspose1d, (2, 4, 5), OPTIONS),
    (nn.LazyConvTranspose1d, nn.ConvTranspose1d, (4, 5), dict(bias=False)),  # unbatched
    (nn.LazyConvTranspose2d, nn.ConvTranspose2d, (2, 4, 3, 4), OPTIONS),
    (nn.LazyConvTranspose2d, nn.ConvTranspose2d, (4, 3, 4),
     dict(stride=(1, 2), padding=(0, 1), output_padding=(0, 1), bias=False)),
    (nn.LazyConvTranspose3d, nn.ConvTranspose3d, (1, 4, 2, 3, 2), OPTIONS),
    (nn.LazyConvTranspose3d, nn.ConvTranspose3d, (4, 2, 2, 3),
     dict(stride=(2, 1, 1), padding=(0, 1, 0), dilation=(1, 1, 2))),
]
KEPT = ("kernel_size", "stride", "padding", "output_padding", "groups", "dilation",
        "padding_mode", "out_channels")


def tensor(shape, device, seed=0, dtype=tg.float32):
    values = np.random.default_rng(seed).standard_normal(shape)
    return tg.tensor(values, dtype=dtype, device=device)


def assert_same(a, b):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def assert_raises_as(expected_call, call):
    """``call`` raises the exception of ``expected_call``: same type, same message."""
    with pytest.raises(Exception) as expected:
        expected_call()
    with pytest.raises(type(expected.value), match=re.escape(str(expected.value))):
        call()


def conv_transpose1d_reference(x, w, b, stride, padding, output_padding, groups, dilation):
    """y[n, g·O + o, i·s − p + j·d] += x[n, g·I + c, i] · w[g·I + c, o, j], then + b:
    each input value scatters a copy of the kernel (O, I channels per group)."""
    batch, in_channels, length = x.shape
    _, out_per_group, kernel = w.shape
    in_per_group = in_channels // groups
    out_length = (length - 1) * stride - 2 * padding + dilation * (kernel - 1) \
        + output_padding + 1
    y = np.zeros((batch, out_per_group * groups, out_length))
    for n in range(batch):
        for ci in range(in_channels):
            g = ci // in_per_group
            for o in range(out_per_group):
                for i in range(length):
                    for j in range(kernel):
                        position = i * stride - padding + j * dilation
                        if 0 <= position < out_length:
                            y[n, g * out_per_group + o, position] += x[n, ci, i] * w[ci, o, j]
    return y if b is None else y + b[None, :, None]


# ------------------------------------------------------------------ before the first call

@pytest.mark.parametrize("lazy_class, ordinary, input_shape, options", CONV_TRANSPOSES)
def test_a_lazy_conv_transpose_is_uninitialised_before_its_first_call(
        device, lazy_class, ordinary, input_shape, options):
    module = lazy_class(6, 3, device=device, **options)
    assert isinstance(module, ordinary) and module.has_uninitialized_params()
    assert type(module.weight) is UninitializedParameter
    assert module.weight.size() == (0,) and module.weight.device == device
    if options.get("bias", True):
        assert type(module.bias) is UninitializedParameter
    else:
        assert module.bias is None
    assert module.in_channels == 0 and module.out_channels == 6


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track_running_stats", [True, False])
@pytest.mark.parametrize("lazy_class, ordinary, input_shape", NORMS[:2] + NORMS[3:4])
def test_a_lazy_norm_is_uninitialised_where_the_ordinary_one_has_tensors(
        device, lazy_class, ordinary, input_shape, affine, track_running_stats):
    module = lazy_class(affine=affine, track_running_stats=track_running_stats,
                        device=device)
    reference = ordinary(3, affine=affine, track_running_stats=track_running_stats)
    for name in ("weight", "bias", "running_mean", "running_var"):
        if getattr(reference, name) is None:
            assert getattr(module, name) is None
        else:
            assert is_lazy(getattr(module, name)) and getattr(module, name).device == device
    assert isinstance(module.weight, UninitializedParameter) == affine
    assert isinstance(module.running_var, UninitializedBuffer) == track_running_stats
    assert list(module.state_dict()) == list(reference.state_dict())
    assert module.has_uninitialized_params() == (affine or track_running_stats)


def test_the_lazy_instance_norms_default_to_affine_and_tracked_statistics_as_pytorch():
    for lazy_class in (nn.LazyInstanceNorm1d, nn.LazyInstanceNorm2d, nn.LazyInstanceNorm3d,
                       nn.LazyBatchNorm3d):
        module = lazy_class()
        assert module.affine and module.track_running_stats
        assert module.eps == 1e-5 and module.momentum == 0.1
    module = nn.LazyInstanceNorm2d(eps=1e-3, momentum=None)
    assert module.eps == 1e-3 and module.momentum is None


def test_using_uninitialised_tensors_raises(device):
    x = tensor((2, 3, 5), device)
    conv = nn.LazyConvTranspose1d(4, 3)
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        F.conv_transpose1d(x, conv.weight, conv.bias)
    norm = nn.LazyInstanceNorm1d(device=device)
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        F.instance_norm(x, weight=norm.weight, bias=norm.bias)
    batch_norm = nn.LazyBatchNorm3d(device=device)
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        F.batch_norm(tensor((2, 3, 2, 2, 2), device), None, None, batch_norm.weight,
                     batch_norm.bias, training=True)


# ------------------------------------------------------------- the first call, the options

@pytest.mark.parametrize("lazy_class, ordinary, input_shape, options", CONV_TRANSPOSES)
def test_a_lazy_conv_transpose_becomes_the_ordinary_one(device, lazy_class, ordinary,
                                                        input_shape, options):
    x = tensor(input_shape, device, seed=1)
    module = lazy_class(6, 3, device=device, **options)
    weight = module.weight
    tg.manual_seed(5)
    y = module(x)
    assert type(module) is ordinary and module.in_channels == 4
    assert module.weight is weight and type(weight) is nn.Parameter  # the same object
    tg.manual_seed(5)
    reference = ordinary(4, 6, 3, device=device, **options)
    assert module.weight.shape == reference.weight.shape
    assert module.weight.shape[:2] == (4, 6 // reference.groups)  # (C_in, C_out/groups, k...)
    assert_same(module.weight, reference.weight)
    if reference.bias is None:
        assert module.bias is None
    else:
        assert_same(module.bias, reference.bias)
    assert_same(y, reference(x))
    for name in KEPT:
        assert getattr(module, name) == getattr(reference, name), name
    assert repr(module) == repr(reference)
    fan_in = 6 // reference.groups * math.prod(reference.kernel_size)
    bound = 1 / math.sqrt(fan_in)  # PyTorch's U(−1/√fan_in, 1/√fan_in), drawn for real
    assert 0.5 * bound < np.abs(module.weight.numpy()).max() <= bound


def test_a_lazy_conv_transpose_takes_output_size_on_its_first_call(device):
    module = nn.LazyConvTranspose2d(2, 3, stride=2, device=device)
    y = module(tensor((1, 3, 4, 4), device), output_size=(10, 9))  # sizes 9 or 10 allowed
    assert y.shape == (1, 2, 10, 9) and module.in_channels == 3


@pytest.mark.parametrize("lazy_class, ordinary, input_shape", NORMS)
@pytest.mark.parametrize("affine, track_running_stats", [(True, True), (False, True),
                                                         (True, False), (False, False)])
def test_a_lazy_norm_becomes_the_ordinary_one(device, lazy_class, ordinary, input_shape,
                                              affine, track_running_stats):
    x = tensor(input_shape, device, seed=2)
    module = lazy_class(eps=1e-3, momentum=0.3, affine=affine,
                        track_running_stats=track_running_stats, device=device)
    reference = ordinary(3, eps=1e-3, momentum=0.3, affine=affine,
                         track_running_stats=track_running_stats, device=device)
    assert_same(module(x), reference(x))
    assert type(module) is ordinary and module.num_features == 3
    assert module.eps == 1e-3 and module.momentum == 0.3
    assert repr(module) == repr(reference)
    state, expected = module.state_dict(), reference.state_dict()
    assert list(state) == list(expected)
    for name, value in expected.items():
        assert type(state[name]) is tg.Tensor and state[name].shape == value.shape
        assert_same(state[name], value)  # the running statistics updated alike
    if affine:
        assert module.weight.tolist() == [1.0] * 3 and module.bias.tolist() == [0.0] * 3
    module.eval()
    reference.eval()
    assert_same(module(x), reference(x))


def test_a_lazy_instance_norm_against_numpy(device):
    """y = (x − μ_nc)/√(σ²_nc + eps) per sample and channel (γ = 1, β = 0 at first);
    running_mean ← 0.9·0 + 0.1·mean_n(μ_nc), running_var ← 0.9·1 + 0.1·mean_n(σ²_nc·m/(m−1))."""
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5))
    module = nn.LazyInstanceNorm2d(device=device).to(dtype=tg.float64)
    y = module(tg.tensor(x, device=device))
    mean = x.mean(axis=(2, 3), keepdims=True)
    variance = x.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(y.numpy(), (x - mean) / np.sqrt(variance + 1e-5), atol=1e-12)
    np.testing.assert_allclose(module.running_mean.numpy(), 0.1 * mean.mean(axis=0).ravel(),
                               atol=1e-12)
    unbiased = variance * 20 / 19
    np.testing.assert_allclose(module.running_var.numpy(),
                               0.9 + 0.1 * unbiased.mean(axis=0).ravel(), atol=1e-12)


def test_a_lazy_conv_transpose_and_its_gradients_against_numpy(device):
    """y as scattered by hand; for loss = Σ y·r: ∂/∂W[c, o, j] = Σ_{n,i} x[n,c,i]·r[n, g·O+o,
    i·s − p + j·d] (positions inside y), ∂/∂b[o] = Σ_{n,l} r[n, o, l]."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 5))
    module = nn.LazyConvTranspose1d(6, 3, dtype=tg.float64, device=device, **OPTIONS)
    y = module(tg.tensor(x, device=device))
    w, b = module.weight.numpy(), module.bias.numpy()
    expected = conv_transpose1d_reference(x, w, b, 2, 1, 1, 2, 2)
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12)
    r = rng.standard_normal(expected.shape)
    (y * tg.tensor(r, device=device)).sum().backward()
    grad_w = np.zeros_like(w)
    for c in range(4):
        for o in range(3):
            for j in range(3):
                for n in range(2):
                    for i in range(5):
                        position = i * 2 - 1 + j * 2
                        if 0 <= position < expected.shape[2]:
                            grad_w[c, o, j] += x[n, c, i] * r[n, (c // 2) * 3 + o, position]
    np.testing.assert_allclose(module.weight.grad.numpy(), grad_w, atol=1e-12)
    np.testing.assert_allclose(module.bias.grad.numpy(), r.sum(axis=(0, 2)), atol=1e-12)


def test_gradients_reach_the_materialised_norm_parameters(device):
    """loss = Σ y·r: ∂/∂β_c = Σ r[:, c], ∂/∂γ_c = Σ r[:, c]·x̂[:, c]."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 2, 3, 2))
    r = rng.standard_normal(x.shape)
    for lazy_class, axes in ((nn.LazyBatchNorm3d, (0, 2, 3, 4)),
                             (nn.LazyInstanceNorm3d, (2, 3, 4))):
        module = lazy_class(device=device, dtype=tg.float64)
        y = module(tg.tensor(x, device=device))
        (y * tg.tensor(r, device=device)).sum().backward()
        mean = x.mean(axis=axes, keepdims=True)
        normalised = (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
        np.testing.assert_allclose(module.bias.grad.numpy(), r.sum(axis=(0, 2, 3, 4)))
        np.testing.assert_allclose(module.weight.grad.numpy(),
                                   (r * normalised).sum(axis=(0, 2, 3, 4)), atol=1e-12)


@pytest.mark.parametrize("lazy", [lambda: nn.LazyConvTranspose2d(2, 2, stride=2, groups=2),
                                  lambda: nn.LazyInstanceNorm2d()])
def test_gradcheck_through_a_materialised_module(device, lazy):
    module = lazy().to(device, tg.float64)
    x = tensor((2, 2, 3, 3), device, seed=6, dtype=tg.float64).requires_grad_()
    module(x)
    weight = module.weight.detach().requires_grad_()
    bias = tensor(tuple(module.bias.shape), device, seed=7, dtype=tg.float64).requires_grad_()
    assert tg.autograd.gradcheck(
        lambda x, weight, bias: functional_call(module, {"weight": weight, "bias": bias}, x),
        (x, weight, bias))


# ------------------------------------------------------------------------------ training

def test_a_lazy_decoder_trains_with_an_optimizer_made_before_its_first_call(device):
    model = nn.Sequential(nn.LazyConvTranspose2d(4, 2, stride=2), nn.LazyInstanceNorm2d(),
                          nn.ReLU(), nn.LazyConvTranspose2d(1, 3, padding=1)).to(device)
    optimizer = tg.optim.Adam(model.parameters(), lr=0.05)
    x = tensor((2, 3, 3, 3), device, seed=8)
    target = tensor((2, 1, 6, 6), device, seed=9)
    losses = []
    for _ in range(25):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert [type(m) for m in model] == [nn.ConvTranspose2d, nn.InstanceNorm2d, nn.ReLU,
                                        nn.ConvTranspose2d]
    assert model[0].weight.shape == (3, 4, 2, 2) and model[3].weight.shape == (4, 1, 3, 3)
    assert losses[-1] < 0.7 * losses[0]


# ----------------------------------------------------------------------------- state dicts

def test_an_ordinary_state_loads_into_a_lazy_module_and_back(device):
    tg.manual_seed(1)
    source = nn.ConvTranspose2d(6, 4, 3, groups=2, bias=False, device=device)
    module = nn.LazyConvTranspose2d(4, 3, groups=2, bias=False, device=device)
    module.load_state_dict(source.state_dict())
    assert type(module) is nn.ConvTranspose2d and module.in_channels == 6
    x = tensor((1, 6, 3, 3), device)
    assert_same(module(x), source(x))
    lazy = nn.LazyConvTranspose3d(4, 2, device=device)
    lazy(tensor((1, 5, 2, 2, 2), device))  # materialised by a call, then saved
    target = nn.ConvTranspose3d(5, 4, 2, device=device)
    target.load_state_dict(lazy.state_dict())
    assert_same(target.weight, lazy.weight)
    assert_same(target.bias, lazy.bias)
    for lazy_class, ordinary in ((nn.LazyBatchNorm3d, nn.BatchNorm3d),
                                 (nn.LazyInstanceNorm1d, nn.InstanceNorm1d)):
        trained = ordinary(7, affine=True, track_running_stats=True, device=device)
        trained.running_mean.data[...] = trained.running_mean.data + 2
        trained.num_batches_tracked.data[...] = 3
        norm = lazy_class(device=device)
        norm.load_state_dict(trained.state_dict())
        assert type(norm) is ordinary and norm.num_features == 7
        assert norm.running_mean.tolist() == [2.0] * 7 and norm.num_batches_tracked.item() == 3


def test_an_uninitialised_state_does_not_load_into_an_ordinary_module(device):
    state = nn.LazyInstanceNorm2d().state_dict()
    assert isinstance(state["weight"], UninitializedParameter)
    assert isinstance(state["running_mean"], UninitializedBuffer)
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        nn.InstanceNorm2d(3, affine=True, track_running_stats=True).load_state_dict(state)
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        nn.ConvTranspose1d(2, 3, 2).load_state_dict(nn.LazyConvTranspose1d(3, 2).state_dict())
    module = nn.LazyConvTranspose1d(3, 2, device=device)
    module.load_state_dict(nn.LazyConvTranspose1d(3, 2).state_dict())
    assert type(module) is nn.LazyConvTranspose1d and module.has_uninitialized_params()


def test_a_lazy_norm_without_tensors_stays_lazy_after_loading_an_empty_state(device):
    module = nn.LazyInstanceNorm2d(affine=False, track_running_stats=False, device=device)
    assert module.state_dict() == {}
    module.load_state_dict({})
    assert type(module) is nn.LazyInstanceNorm2d  # nothing told it its size
    module(tensor((2, 5, 3, 3), device))
    assert type(module) is nn.InstanceNorm2d and module.num_features == 5


# ---------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("lazy_class, ordinary, input_shape, options", CONV_TRANSPOSES)
def test_a_later_input_with_other_channels_raises_as_the_ordinary_module(
        device, lazy_class, ordinary, input_shape, options):
    module = lazy_class(6, 3, device=device, **options)
    module(tensor(input_shape, device))
    reference = ordinary(4, 6, 3, device=device, **options)
    channel_dim = 1 if len(input_shape) == reference._dims + 2 else 0
    bad_shape = list(input_shape)
    bad_shape[channel_dim] = 8
    bad = tensor(tuple(bad_shape), device)
    assert_raises_as(lambda: reference(bad), lambda: module(bad))


@pytest.mark.parametrize("lazy_class, ordinary, input_shape", NORMS)
def test_a_later_norm_input_with_other_channels_fails_as_the_ordinary_module(
        device, lazy_class, ordinary, input_shape):
    unbatched = len(input_shape) == getattr(ordinary, "spatial", 3) + 1  # (C, *spatial)
    channel_dim = 0 if unbatched else 1
    bad_shape = list(input_shape)
    bad_shape[channel_dim] = 4
    bad = tensor(tuple(bad_shape), device)
    module = lazy_class(device=device)
    module(tensor(input_shape, device))
    assert_raises_as(lambda: ordinary(3, affine=True, track_running_stats=True,
                                      device=device)(bad), lambda: module(bad))
    if ordinary is nn.BatchNorm3d:
        return
    plain = lazy_class(affine=False, track_running_stats=False, device=device)
    plain(tensor(input_shape, device))
    with pytest.warns(UserWarning, match="num_features is not used because affine=False"):
        y = plain(bad)  # only warns, as the ordinary InstanceNorm (and PyTorch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(y, ordinary(3, device=device)(bad))


def test_errors_of_the_first_call(device):
    with pytest.raises(ValueError, match=r"LazyConvTranspose2d: expected a 3D \(unbatched\) "
                                         r"or 4D \(batched\) input, got shape \(2, 3\)"):
        nn.LazyConvTranspose2d(4, 3)(tensor((2, 3), device))
    with pytest.raises(ValueError, match="in_channels 3 .* divisible by groups 2"):
        nn.LazyConvTranspose1d(4, 3, groups=2)(tensor((1, 3, 5), device))
    with pytest.raises(ValueError, match=r"LazyBatchNorm3d: expected a 5D input "
                                         r"\(N, C, D, H, W\) .* got shape \(2, 3, 4, 4\)"):
        nn.LazyBatchNorm3d()(tensor((2, 3, 4, 4), device))
    module = nn.LazyInstanceNorm3d()
    with pytest.raises(ValueError, match=r"LazyInstanceNorm3d: expected a 4D \(unbatched\) or "
                                         r"5D \(batched\) input, got shape \(2, 3, 4\)"):
        module(tensor((2, 3, 4), device))
    assert type(module) is nn.LazyInstanceNorm3d and module.has_uninitialized_params()


def test_errors_of_the_constructor():
    with pytest.raises(ValueError, match="LazyConvTranspose2d: out_channels 5 must be "
                                         "divisible by groups 2"):
        nn.LazyConvTranspose2d(5, 3, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer, got 0"):
        nn.LazyConvTranspose1d(4, 3, groups=0)
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.LazyConvTranspose3d(4, 3, padding_mode="reflect")
