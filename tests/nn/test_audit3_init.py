"""Audit of nn.init and of every layer's default initialisation against PyTorch's
documented formulas (reference values written in plain NumPy / math)."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import init


def param(*shape, device="cpu", dtype="float32"):
    return nn.Parameter(tg.zeros(*shape, device=device, dtype=dtype))


def assert_bounded(values, bound, near=0.98):
    """|values| <= bound, and the largest close to it (a large tensor reaches its edge)."""
    top = float(np.abs(values).max())
    assert top <= bound
    assert top > near * bound


# ------------------------------------------------------------------------- the fixed bug

def test_kaiming_mode_is_case_insensitive():
    # PyTorch's _calculate_correct_fan lower-cases mode: 'FAN_OUT' is 'fan_out'.
    weight = param(40, 500)
    values = init.kaiming_uniform_(weight, mode="FAN_OUT", nonlinearity="relu").numpy()
    assert_bounded(values, math.sqrt(2) * math.sqrt(3 / 40))
    values = init.kaiming_normal_(param(300, 400), mode="Fan_In", nonlinearity="relu").numpy()
    assert values.std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(param(2, 2), mode="FAN_AVG")


# ------------------------------------------------------------------------- gains and fans

def test_calculate_gain_remaining_entries():
    for name in ("conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d"):
        assert init.calculate_gain(name) == 1
    assert init.calculate_gain("leaky_relu", 1) == pytest.approx(1.0)  # an int slope
    assert init.calculate_gain("tanh", 123) == pytest.approx(5 / 3)      # param ignored
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", True)                           # bool refused


@pytest.mark.parametrize("shape, fans", [((3, 5), (5, 3)), ((6, 4, 7), (28, 42)),
                                         ((6, 4, 2, 3), (24, 36)),
                                         ((6, 4, 2, 3, 5), (120, 180))])
def test_fans_2d_to_5d(shape, fans):
    assert init._calculate_fan_in_and_fan_out(tg.empty(*shape)) == fans


@pytest.mark.parametrize("shape", [(), (4,)])
def test_fans_need_two_dims(shape):
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(tg.zeros(shape))
    with pytest.raises(ValueError):
        init.xavier_uniform_(tg.zeros(shape))


# ------------------------------------------------------------------------- the initialisers

def test_kaiming_uniform_bound_for_conv_fan_out_and_leaky_slope(device):
    weight = param(64, 8, 3, 3, device=device)           # fan_in 72, fan_out 576
    values = init.kaiming_uniform_(weight, a=0.2, mode="fan_out").numpy()
    assert_bounded(values, math.sqrt(3.0) * math.sqrt(2 / 1.04) / math.sqrt(576))
    values = init.kaiming_normal_(weight, nonlinearity="tanh").numpy()
    assert values.std() == pytest.approx(5 / 3 / math.sqrt(72), rel=0.03)


def normal_cdf(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def truncated_moments(mean, std, a, b):
    """Mean and std of N(mean, std²) truncated to [a, b] (closed form)."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    z = normal_cdf(beta) - normal_cdf(alpha)
    m = (pdf(alpha) - pdf(beta)) / z
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - m * m
    return mean + std * m, std * math.sqrt(var)


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 1.5),
                                             (0.0, 0.02, -0.04, 0.04), (1.0, 1.0, 2.5, 4.0)])
def test_trunc_normal_within_bounds_with_the_truncated_moments(mean, std, a, b, device):
    values = init.trunc_normal_(param(200, 200, device=device), mean, std, a, b).numpy()
    assert values.min() >= a and values.max() <= b
    expected_mean, expected_std = truncated_moments(mean, std, a, b)
    assert values.mean() == pytest.approx(expected_mean, abs=0.02 * expected_std + 1e-6)
    assert values.std() == pytest.approx(expected_std, rel=0.02)


def test_trunc_normal_warns_for_a_mean_far_outside():
    with pytest.warns(UserWarning, match="more than 2 std"):
        values = init.trunc_normal_(param(50), mean=5.0, std=1.0, a=-1.0, b=1.0).numpy()
    assert values.min() >= -1.0 and values.max() <= 1.0


def reference_orthogonal(normal, gain):
    """PyTorch's recipe in NumPy: QR of the (transposed if wide) normal matrix, columns
    of Q times sign(diag R), transposed back, times gain."""
    rows, cols = normal.shape
    flat = normal.T if rows < cols else normal
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    return (q.T if rows < cols else q) * gain


@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (5, 5), (6, 2, 2, 2)])
def test_orthogonal_matches_the_recipe_and_is_orthogonal(shape):
    generator = tg.Generator().manual_seed(5)
    values = init.orthogonal_(param(*shape, dtype="float64"), gain=1.5,
                              generator=generator).numpy()
    rows = shape[0]
    flat = values.reshape(rows, -1)
    normal = np.random.default_rng(5).normal(0.0, 1.0, size=flat.shape)
    np.testing.assert_allclose(flat, reference_orthogonal(normal, 1.5), atol=1e-12)
    if rows <= flat.shape[1]:
        np.testing.assert_allclose(flat @ flat.T, 2.25 * np.eye(rows), atol=1e-12)
    else:
        np.testing.assert_allclose(flat.T @ flat, 2.25 * np.eye(flat.shape[1]), atol=1e-12)


def test_orthogonal_needs_two_dims_and_skips_empty():
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(param(4))
    empty = param(0, 3)
    assert init.orthogonal_(empty) is empty


def test_sparse_zeros_per_column_and_std(device):
    values = init.sparse_(param(300, 40, device=device), sparsity=0.1, std=0.5).numpy()
    np.testing.assert_array_equal((values == 0).sum(axis=0), 30)   # ceil(0.1·300)
    assert values[values != 0].std() == pytest.approx(0.5, rel=0.05)
    values = init.sparse_(param(7, 3, device=device), sparsity=0.3).numpy()
    np.testing.assert_array_equal((values == 0).sum(axis=0), 3)    # ceil(2.1)
    with pytest.raises(ValueError, match="2 dimensions"):
        init.sparse_(param(2, 2, 2), 0.5)


@pytest.mark.parametrize("groups", [1, 2])
def test_dirac_conv_passes_the_input_through(groups, rng):
    weight = init.dirac_(param(4, 4 // groups, 3, 3), groups=groups)
    x = tg.tensor(rng.standard_normal((2, 4, 5, 6)).astype(np.float32))
    out = F.conv2d(x, weight, padding=1, groups=groups)
    np.testing.assert_array_equal(out.numpy(), x.numpy())
    wide = init.dirac_(param(6, 2, 3), groups=2).numpy()   # out/groups 3 > in 2
    expected = np.zeros((6, 2, 3), np.float32)
    for g in range(2):
        for d in range(2):
            expected[g * 3 + d, d, 1] = 1
    np.testing.assert_array_equal(wide, expected)
    with pytest.raises(ValueError, match="divisible by groups"):
        init.dirac_(param(5, 2, 3), groups=2)
    with pytest.raises(ValueError, match="3, 4, or 5 dimensions"):
        init.dirac_(param(4, 4))


def test_eye_rectangular():
    np.testing.assert_array_equal(init.eye_(param(2, 4)).numpy(), np.eye(2, 4))
    np.testing.assert_array_equal(init.eye_(param(4, 2)).numpy(), np.eye(4, 2))


RANDOM = [
    (init.uniform_, {}), (init.normal_, {}), (init.xavier_uniform_, {}),
    (init.xavier_normal_, {}), (init.kaiming_uniform_, {}), (init.kaiming_normal_, {}),
    (init.trunc_normal_, {}), (init.orthogonal_, {}), (init.sparse_, {"sparsity": 0.5}),
]
FILLS = [(init.constant_, {"val": 0.5}), (init.zeros_, {}), (init.ones_, {}),
         (init.eye_, {}), (init.dirac_, {})]


@pytest.mark.parametrize("function, kwargs", RANDOM + FILLS)
def test_in_place_on_a_leaf_that_requires_grad(function, kwargs):
    shape = (4, 4, 3) if function is init.dirac_ else (5, 4)
    weight = param(*shape)
    used = (weight * weight).sum()                    # saved weight at version 0
    array = weight.data
    with tg.no_grad():
        assert function(weight, **kwargs) is weight
    assert function(weight, **kwargs) is weight      # outside no_grad too
    assert weight.data is array and weight.is_leaf and weight.requires_grad
    assert weight.grad_fn is None
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        used.backward()


@pytest.mark.parametrize("function, kwargs", RANDOM)
def test_generator_gives_its_own_reproducible_stream(function, kwargs):
    tg.manual_seed(3)
    plain = tg.randn(4).numpy()
    tg.manual_seed(3)
    first = function(param(6, 5), generator=tg.Generator().manual_seed(9), **kwargs).numpy()
    assert np.array_equal(tg.randn(4).numpy(), plain)   # global stream not disturbed
    second = function(param(6, 5), generator=tg.Generator().manual_seed(9), **kwargs).numpy()
    np.testing.assert_array_equal(first, second)
    with pytest.raises(TypeError, match="generator"):
        function(param(6, 5), generator=9, **kwargs)


def test_view_of_a_weight_is_filled_in_place():
    # e.g. orthogonal_ per gate block of an LSTM weight, as done with PyTorch
    weight = param(8, 4)
    init.orthogonal_(weight[:4])
    init.ones_(weight[4:])
    top = weight.numpy()[:4]
    np.testing.assert_allclose(top @ top.T, np.eye(4), atol=1e-6)
    np.testing.assert_array_equal(weight.numpy()[4:], 1.0)


def test_zero_element_kaiming_warns_and_is_a_no_op():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        empty = param(0, 4)
        assert init.kaiming_uniform_(empty) is empty
        assert init.kaiming_normal_(empty) is empty
    assert sum("zero-element" in str(w.message) for w in caught) == 2


# ------------------------------------------------------------------------- layer defaults

@pytest.mark.parametrize("make, fan_in", [
    (lambda: nn.Linear(60, 400), 60),
    (lambda: nn.Conv1d(6, 300, 5, groups=3), 10),
    (lambda: nn.Conv2d(8, 300, 3, groups=2), 36),
    (lambda: nn.Conv3d(4, 300, 2), 32),
    # transposed: weight (in, out/groups, *k), fan_in = out/groups · k, as PyTorch
    (lambda: nn.ConvTranspose1d(8, 300, 3), 900),
    (lambda: nn.ConvTranspose2d(8, 300, 3, groups=2), 1350),
    (lambda: nn.ConvTranspose3d(8, 300, 2, groups=4), 600),
    (lambda: nn.Bilinear(20, 30, 300), 20),            # bound 1/√in1_features
])
def test_linear_conv_bilinear_defaults(make, fan_in):
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    assert_bounded(layer.weight.numpy(), bound)
    assert_bounded(layer.bias.numpy(), bound, near=0.9)
    assert layer.weight.numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_linear_with_no_inputs_gets_zero_bias():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = nn.Linear(0, 3)
    np.testing.assert_array_equal(layer.bias.numpy(), 0.0)


@pytest.mark.parametrize("make", [
    lambda: nn.RNN(10, 25, num_layers=2, bidirectional=True),
    lambda: nn.GRU(10, 25, num_layers=2),
    lambda: nn.LSTM(10, 25, proj_size=5, bidirectional=True),
    lambda: nn.RNNCell(10, 25), lambda: nn.LSTMCell(10, 25), lambda: nn.GRUCell(10, 25),
])
def test_recurrent_defaults_all_uniform_over_sqrt_hidden(make):
    layer = make()
    names = [name for name, _ in layer.named_parameters()]
    if isinstance(layer, nn.LSTM):
        assert "weight_hr_l0" in names and "weight_hr_l0_reverse" in names
    for name, parameter in layer.named_parameters():
        assert_bounded(parameter.numpy(), 0.2, near=0.8)  # 1/√25


def test_embedding_defaults():
    embedding = nn.Embedding(2000, 50, padding_idx=-3)
    weight = embedding.weight.numpy()
    np.testing.assert_array_equal(weight[1997], 0.0)
    others = np.delete(weight, 1997, axis=0)
    assert abs(others.mean()) < 0.01 and others.std() == pytest.approx(1.0, rel=0.02)
    bag = nn.EmbeddingBag(2000, 50, padding_idx=4)
    np.testing.assert_array_equal(bag.weight.numpy()[4], 0.0)
    assert bag.weight.numpy().std() == pytest.approx(1.0, rel=0.02)
    with tg.no_grad():
        bag.weight.data[...] = 7
    bag.reset_parameters()
    np.testing.assert_array_equal(bag.weight.numpy()[4], 0.0)


def test_norm_defaults():
    for layer in (nn.BatchNorm1d(5), nn.BatchNorm2d(5), nn.GroupNorm(1, 5), nn.LayerNorm(5),
                  nn.InstanceNorm1d(5, affine=True, track_running_stats=True)):
        np.testing.assert_array_equal(layer.weight.numpy(), 1.0)
        np.testing.assert_array_equal(layer.bias.numpy(), 0.0)
    for layer in (nn.BatchNorm1d(5), nn.InstanceNorm2d(5, track_running_stats=True)):
        np.testing.assert_array_equal(layer.running_mean.numpy(), 0.0)
        np.testing.assert_array_equal(layer.running_var.numpy(), 1.0)
        assert int(layer.num_batches_tracked.item()) == 0
    np.testing.assert_array_equal(nn.RMSNorm(4).weight.numpy(), 1.0)
    assert nn.InstanceNorm1d(5).weight is None
    assert nn.LayerNorm(5, bias=False).bias is None


def test_prelu_default_and_reset():
    layer = nn.PReLU(3)
    np.testing.assert_array_equal(layer.weight.numpy(), np.float32(0.25))
    layer = nn.PReLU(2, init=0.1)
    with tg.no_grad():
        layer.weight.data[...] = 5
    layer.reset_parameters()
    np.testing.assert_array_equal(layer.weight.numpy(), np.float32(0.1))


def test_multihead_attention_defaults():
    E = 64
    attention = nn.MultiheadAttention(E, 4, add_bias_kv=True)
    assert_bounded(attention.in_proj_weight.numpy(), math.sqrt(6 / (E + 3 * E)))  # xavier
    np.testing.assert_array_equal(attention.in_proj_bias.numpy(), 0.0)
    np.testing.assert_array_equal(attention.out_proj.bias.numpy(), 0.0)
    assert_bounded(attention.out_proj.weight.numpy(), 1 / math.sqrt(E))   # Linear default
    both = np.concatenate([attention.bias_k.numpy().ravel(), attention.bias_v.numpy().ravel()])
    assert both.std() == pytest.approx(1 / math.sqrt(E), rel=0.25)     # xavier_normal
    separate = nn.MultiheadAttention(E, 4, kdim=32, vdim=16)
    for weight, fan_in in ((separate.q_proj_weight, E), (separate.k_proj_weight, 32),
                           (separate.v_proj_weight, 16)):
        assert_bounded(weight.numpy(), math.sqrt(6 / (E + fan_in)), near=0.95)


def test_transformer_redraws_matrices_xavier():
    model = nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=32)
    for name, parameter in model.named_parameters():
        if parameter.ndim > 1:
            fan_out, fan_in = parameter.shape
            assert np.abs(parameter.numpy()).max() <= math.sqrt(6 / (fan_in + fan_out)), name
    layer = model.encoder.layers[0]
    np.testing.assert_array_equal(layer.self_attn.in_proj_bias.numpy(), 0.0)
