"""Signature audit of ``tg.nn.functional`` and ``tg.nn.init`` against PyTorch's.

A PyTorch user calls these functions as they call PyTorch's, often positionally and
with PyTorch's keywords (``F.relu(input=t)``). The table below is PyTorch's documented
signature of each function (parameter names, order and defaults); the first test
checks ours against it. The tests after it pin the fixes: a positional call in
PyTorch's order gives PyTorch's meaning (``F.nll_loss(x, y, w, None, 2)``: 2 is
``ignore_index``), and the values are checked against NumPy written here.
"""

import ast
import inspect
import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt.nn import init

# PyTorch's signatures: name, then each parameter as it may be passed positionally,
# ``name=default`` when it has a default ("INIT" rows are torch.nn.init's).
TORCH_SIGNATURES = """
adaptive_avg_pool1d input output_size
adaptive_avg_pool2d input output_size
adaptive_avg_pool3d input output_size
adaptive_max_pool1d input output_size return_indices=False
adaptive_max_pool2d input output_size return_indices=False
adaptive_max_pool2d_with_indices input output_size return_indices=False
adaptive_max_pool3d input output_size return_indices=False
affine_grid theta size align_corners=None
alpha_dropout input p=0.5 training=False inplace=False
avg_pool1d input kernel_size stride=None padding=0 ceil_mode=False count_include_pad=True
avg_pool2d input kernel_size stride=None padding=0 ceil_mode=False count_include_pad=True \
divisor_override=None
avg_pool3d input kernel_size stride=None padding=0 ceil_mode=False count_include_pad=True \
divisor_override=None
batch_norm input running_mean running_var weight=None bias=None training=False momentum=0.1 \
eps=1e-05
bilinear input1 input2 weight bias=None
binary_cross_entropy input target weight=None size_average=None reduce=None reduction='mean'
binary_cross_entropy_with_logits input target weight=None size_average=None reduce=None \
reduction='mean' pos_weight=None
celu input alpha=1.0 inplace=False
celu_ input alpha=1.0
channel_shuffle input groups
conv1d input weight bias=None stride=1 padding=0 dilation=1 groups=1
conv2d input weight bias=None stride=1 padding=0 dilation=1 groups=1
conv3d input weight bias=None stride=1 padding=0 dilation=1 groups=1
conv_transpose1d input weight bias=None stride=1 padding=0 output_padding=0 groups=1 dilation=1
conv_transpose2d input weight bias=None stride=1 padding=0 output_padding=0 groups=1 dilation=1
conv_transpose3d input weight bias=None stride=1 padding=0 output_padding=0 groups=1 dilation=1
cosine_embedding_loss input1 input2 target margin=0 size_average=None reduce=None \
reduction='mean'
cosine_similarity x1 x2 dim=1 eps=1e-08
cross_entropy input target weight=None size_average=None ignore_index=-100 reduce=None \
reduction='mean' label_smoothing=0.0
ctc_loss log_probs targets input_lengths target_lengths blank=0 reduction='mean' \
zero_infinity=False
dropout input p=0.5 training=True inplace=False
dropout1d input p=0.5 training=True inplace=False
dropout2d input p=0.5 training=True inplace=False
dropout3d input p=0.5 training=True inplace=False
elu input alpha=1.0 inplace=False
elu_ input alpha=1.0
embedding input weight padding_idx=None max_norm=None norm_type=2.0 scale_grad_by_freq=False \
sparse=False
embedding_bag input weight offsets=None max_norm=None norm_type=2 scale_grad_by_freq=False \
mode='mean' sparse=False per_sample_weights=None include_last_offset=False padding_idx=None
feature_alpha_dropout input p=0.5 training=False inplace=False
fold input output_size kernel_size dilation=1 padding=0 stride=1
fractional_max_pool2d input kernel_size output_size=None output_ratio=None \
return_indices=False _random_samples=None
gaussian_nll_loss input target var full=False eps=1e-06 reduction='mean'
gelu input approximate='none'
glu input dim=-1
grid_sample input grid mode='bilinear' padding_mode='zeros' align_corners=None
group_norm input num_groups weight=None bias=None eps=1e-05
gumbel_softmax logits tau=1 hard=False eps=1e-10 dim=-1
hardshrink input lambd=0.5
hardsigmoid input inplace=False
hardswish input inplace=False
hardtanh input min_val=-1.0 max_val=1.0 inplace=False
hardtanh_ input min_val=-1.0 max_val=1.0
hinge_embedding_loss input target margin=1.0 size_average=None reduce=None reduction='mean'
huber_loss input target reduction='mean' delta=1.0 weight=None
instance_norm input running_mean=None running_var=None weight=None bias=None \
use_input_stats=True momentum=0.1 eps=1e-05
interpolate input size=None scale_factor=None mode='nearest' align_corners=None \
recompute_scale_factor=None antialias=False
kl_div input target size_average=None reduce=None reduction='mean' log_target=False
l1_loss input target size_average=None reduce=None reduction='mean' weight=None
layer_norm input normalized_shape weight=None bias=None eps=1e-05
leaky_relu input negative_slope=0.01 inplace=False
leaky_relu_ input negative_slope=0.01
linear input weight bias=None
local_response_norm input size alpha=0.0001 beta=0.75 k=1.0
log_softmax input dim=None _stacklevel=3 dtype=None
logsigmoid input
lp_pool1d input norm_type kernel_size stride=None ceil_mode=False
lp_pool2d input norm_type kernel_size stride=None ceil_mode=False
lp_pool3d input norm_type kernel_size stride=None ceil_mode=False
margin_ranking_loss input1 input2 target margin=0 size_average=None reduce=None reduction='mean'
max_pool1d input kernel_size stride=None padding=0 dilation=1 ceil_mode=False return_indices=False
max_pool2d input kernel_size stride=None padding=0 dilation=1 ceil_mode=False return_indices=False
max_pool3d input kernel_size stride=None padding=0 dilation=1 ceil_mode=False return_indices=False
max_pool1d_with_indices input kernel_size stride=None padding=0 dilation=1 ceil_mode=False \
return_indices=False
max_pool2d_with_indices input kernel_size stride=None padding=0 dilation=1 ceil_mode=False \
return_indices=False
max_pool3d_with_indices input kernel_size stride=None padding=0 dilation=1 ceil_mode=False \
return_indices=False
max_unpool1d input indices kernel_size stride=None padding=0 output_size=None
max_unpool2d input indices kernel_size stride=None padding=0 output_size=None
max_unpool3d input indices kernel_size stride=None padding=0 output_size=None
mish input inplace=False
mse_loss input target size_average=None reduce=None reduction='mean' weight=None
multi_head_attention_forward query key value embed_dim_to_check num_heads in_proj_weight \
in_proj_bias bias_k bias_v add_zero_attn dropout_p out_proj_weight out_proj_bias training=True \
key_padding_mask=None need_weights=True attn_mask=None use_separate_proj_weight=False \
q_proj_weight=None k_proj_weight=None v_proj_weight=None static_k=None static_v=None \
average_attn_weights=True is_causal=False
multi_margin_loss input target p=1 margin=1.0 weight=None size_average=None reduce=None \
reduction='mean'
multilabel_margin_loss input target size_average=None reduce=None reduction='mean'
multilabel_soft_margin_loss input target weight=None size_average=None reduce=None \
reduction='mean'
nll_loss input target weight=None size_average=None ignore_index=-100 reduce=None \
reduction='mean'
normalize input p=2.0 dim=1 eps=1e-12 out=None
one_hot tensor num_classes=-1
pad input pad mode='constant' value=None
pairwise_distance x1 x2 p=2.0 eps=1e-06 keepdim=False
pdist input p=2
pixel_shuffle input upscale_factor
pixel_unshuffle input downscale_factor
poisson_nll_loss input target log_input=True full=False size_average=None eps=1e-08 \
reduce=None reduction='mean'
prelu input weight
relu input inplace=False
relu6 input inplace=False
relu_ input
rms_norm input normalized_shape weight=None eps=None
rrelu input lower=0.125 upper=0.3333333333333333 training=False inplace=False
rrelu_ input lower=0.125 upper=0.3333333333333333 training=False
scaled_dot_product_attention query key value attn_mask=None dropout_p=0.0 is_causal=False \
scale=None enable_gqa=False
selu input inplace=False
selu_ input
sigmoid input
silu input inplace=False
smooth_l1_loss input target size_average=None reduce=None reduction='mean' beta=1.0
soft_margin_loss input target size_average=None reduce=None reduction='mean'
softmax input dim=None _stacklevel=3 dtype=None
softmin input dim=None _stacklevel=3 dtype=None
softplus input beta=1.0 threshold=20.0
softshrink input lambd=0.5
softsign input
tanh input
tanhshrink input
threshold input threshold value inplace=False
threshold_ input threshold value
triplet_margin_loss anchor positive negative margin=1.0 p=2 eps=1e-06 swap=False \
size_average=None reduce=None reduction='mean'
unfold input kernel_size dilation=1 padding=0 stride=1
upsample input size=None scale_factor=None mode='nearest' align_corners=None
upsample_bilinear input size=None scale_factor=None
upsample_nearest input size=None scale_factor=None
INIT calculate_gain nonlinearity param=None
INIT uniform_ tensor a=0.0 b=1.0 generator=None
INIT normal_ tensor mean=0.0 std=1.0 generator=None
INIT trunc_normal_ tensor mean=0.0 std=1.0 a=-2.0 b=2.0 generator=None
INIT constant_ tensor val
INIT ones_ tensor
INIT zeros_ tensor
INIT eye_ tensor
INIT dirac_ tensor groups=1
INIT xavier_uniform_ tensor gain=1.0 generator=None
INIT xavier_normal_ tensor gain=1.0 generator=None
INIT kaiming_uniform_ tensor a=0 mode='fan_in' nonlinearity='leaky_relu' generator=None
INIT kaiming_normal_ tensor a=0 mode='fan_in' nonlinearity='leaky_relu' generator=None
INIT orthogonal_ tensor gain=1 generator=None
INIT sparse_ tensor sparsity std=0.01 generator=None
""".replace("\\\n", "")


def _torch_rows():
    for line in TORCH_SIGNATURES.strip().splitlines():
        words = line.split()
        module = F
        if words[0] == "INIT":
            module, words = init, words[1:]
        yield module, words[0], words[1:]


@pytest.mark.parametrize("module, name, params", list(_torch_rows()),
                         ids=[row[1] for row in _torch_rows()])
def test_signature_matches_pytorchs(module, name, params):
    """Same names in the same order, same defaults; anything extra of ours comes after
    PyTorch's positional parameters."""
    function = getattr(module, name, None)
    assert function is not None, f"{name} is missing"
    ours = list(inspect.signature(function).parameters.values())
    assert len(ours) >= len(params), f"{name}{inspect.signature(function)}"
    for position, (spec, parameter) in enumerate(zip(params, ours)):
        torch_name, has_default, default = spec.partition("=")
        assert parameter.name == torch_name, (name, position, parameter.name, torch_name)
        assert parameter.kind == parameter.POSITIONAL_OR_KEYWORD, (name, parameter)
        if has_default:
            expected = ast.literal_eval(default)
            assert parameter.default == expected and type(parameter.default) is not bool or \
                parameter.default is expected, (name, parameter.name, parameter.default)
        else:
            assert parameter.default is inspect.Parameter.empty, (name, parameter.name)
    for parameter in ours[len(params):]:
        assert parameter.kind != parameter.POSITIONAL_OR_KEYWORD or \
            parameter.default is not inspect.Parameter.empty, (name, parameter.name)


# ---------------------------------------------------------- the activations take input=

X = np.array([-2.5, -0.3, 0.0, 0.7, 4.0])


@pytest.mark.parametrize("name, options", [
    ("sigmoid", {}), ("tanh", {}), ("relu", {}), ("relu6", {}), ("elu", {"alpha": 0.5}),
    ("selu", {}), ("celu", {"alpha": 2.0}), ("gelu", {"approximate": "tanh"}), ("silu", {}),
    ("mish", {}), ("softsign", {}), ("logsigmoid", {}), ("tanhshrink", {}),
    ("hardsigmoid", {}), ("hardswish", {}), ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("leaky_relu", {"negative_slope": 0.2}), ("hardshrink", {"lambd": 0.4}),
    ("softshrink", {"lambd": 0.4}), ("softplus", {"beta": 2.0, "threshold": 3.0}),
    ("threshold", {"threshold": 0.5, "value": -1.0}), ("glu", {"dim": 0}),
    ("rrelu", {"lower": 0.1, "upper": 0.3}), ("softmax", {"dim": 0}),
    ("log_softmax", {"dim": 0}), ("softmin", {"dim": 0}), ("dropout", {"p": 0.0}),
])
def test_functions_take_pytorchs_input_keyword(name, options):
    x = X[:4] if name == "glu" else X
    by_keyword = getattr(F, name)(input=tg.tensor(x), **options)
    positional = getattr(F, name)(tg.tensor(x), *options.values())
    np.testing.assert_array_equal(by_keyword.numpy(), positional.numpy())


def test_activation_values_by_keyword():
    np.testing.assert_allclose(F.relu(input=tg.tensor(X)).numpy(), np.maximum(X, 0))
    np.testing.assert_allclose(F.softplus(input=tg.tensor(X), beta=2.0).numpy(),
                               np.log1p(np.exp(2 * X)) / 2, rtol=1e-12)
    np.testing.assert_allclose(F.elu(input=tg.tensor(X), alpha=0.5).numpy(),
                               np.where(X > 0, X, 0.5 * np.expm1(X)), rtol=1e-12)


def test_layers_take_pytorchs_input_keyword(rng):
    x = rng.normal(size=(4, 3))
    w, b = rng.normal(size=(2, 3)), rng.normal(size=2)
    out = F.linear(input=tg.tensor(x), weight=tg.tensor(w), bias=tg.tensor(b))
    np.testing.assert_allclose(out.numpy(), x @ w.T + b, rtol=1e-12)
    normed = F.layer_norm(input=tg.tensor(x), normalized_shape=(3,))
    centred = x - x.mean(1, keepdims=True)
    np.testing.assert_allclose(normed.numpy(), centred / np.sqrt(centred.var(1, keepdims=True)
                                                                 + 1e-5), rtol=1e-10)
    mean, var = tg.tensor(np.zeros(3)), tg.tensor(np.full(3, 4.0))
    np.testing.assert_allclose(F.batch_norm(input=tg.tensor(x), running_mean=mean,
                                            running_var=var).numpy(),
                               x / np.sqrt(4 + 1e-5), rtol=1e-12)
    weight = tg.tensor(np.array([0.25]))
    np.testing.assert_allclose(F.prelu(input=tg.tensor(X), weight=weight).numpy(),
                               np.where(X > 0, X, 0.25 * X))


# --------------------------------------------- softmax: the third parameter is _stacklevel

def test_softmax_third_positional_is_stacklevel_not_dtype():
    x = tg.tensor(np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
    expected = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    for function, reference in ((F.softmax, expected), (F.log_softmax, np.log(expected))):
        out = function(x, 1, 5)               # PyTorch: _stacklevel=5, dtype stays None
        assert out.dtype == tg.float32
        np.testing.assert_allclose(out.numpy()[0], reference, rtol=1e-6)
        widened = function(x, 1, 3, tg.float64)   # dtype is the fourth
        assert widened.dtype == tg.float64
        np.testing.assert_allclose(widened.numpy()[0], reference, rtol=1e-12)
    assert F.softmin(x, 1, 3, dtype=tg.float64).dtype == tg.float64


def test_softmax_stacklevel_names_the_caller():
    with pytest.warns(UserWarning, match="implicit dimension") as record:
        F.softmax(tg.tensor(np.ones(3)))
    assert record[0].filename == __file__


# ------------------------------------- the losses: size_average and reduce in PyTorch's places

def test_nll_and_cross_entropy_fifth_positional_is_ignore_index():
    log_p = np.log(np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]))
    target = np.array([1, 0, 1])
    kept = np.array([True, False, True])         # ignore_index=0 drops the second row
    picked = log_p[np.arange(3), target]
    expected = -picked[kept].mean()
    out = F.nll_loss(tg.tensor(log_p), tg.tensor(target), None, None, 0)
    np.testing.assert_allclose(out.item(), expected, rtol=1e-12)
    out = F.cross_entropy(tg.tensor(log_p), tg.tensor(target), None, None, 0)
    np.testing.assert_allclose(out.item(), expected, rtol=1e-12)   # rows sum to 1: same
    out = F.cross_entropy(tg.tensor(log_p), tg.tensor(target), None, None, -100, None, "sum",
                          0.0)
    np.testing.assert_allclose(out.item(), -picked.sum(), rtol=1e-12)


@pytest.mark.parametrize("call", [
    lambda x, y, p, s, r: F.mse_loss(x, y, None, None, r),
    lambda x, y, p, s, r: F.l1_loss(x, y, None, None, r),
    lambda x, y, p, s, r: F.smooth_l1_loss(x, y, None, None, r, 0.5),
    lambda x, y, p, s, r: F.binary_cross_entropy(p, s, None, None, None, r),
    lambda x, y, p, s, r: F.binary_cross_entropy_with_logits(x, s, None, None, None, r),
    lambda x, y, p, s, r: F.kl_div(x, p, None, None, r, False),
    lambda x, y, p, s, r: F.soft_margin_loss(x, s * 2 - 1, None, None, r),
    lambda x, y, p, s, r: F.hinge_embedding_loss(x, s * 2 - 1, 0.5, None, None, r),
    lambda x, y, p, s, r: F.margin_ranking_loss(x, y, s * 2 - 1, 0.1, None, None, r),
    lambda x, y, p, s, r: F.multilabel_soft_margin_loss(x, s, None, None, None, r),
    lambda x, y, p, s, r: F.poisson_nll_loss(x, s, True, False, None, 1e-8, None, r),
])
def test_reduction_in_pytorchs_position(rng, call):
    x = tg.tensor(rng.normal(size=(3, 4)))
    y = tg.tensor(rng.normal(size=(3, 4)))
    p = tg.tensor(rng.uniform(0.1, 0.9, size=(3, 4)))
    s = tg.tensor(np.array([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")             # no deprecation warning without the flags
        total = call(x, y, p, s, "sum")
        each = call(x, y, p, s, "none")
    assert total.shape == () and each.shape in ((3, 4), (3,))   # (3,): one loss per sample
    np.testing.assert_allclose(total.item(), each.numpy().sum(), rtol=1e-12)


def test_reduction_in_pytorchs_position_has_the_right_values(rng):
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(F.mse_loss(tg.tensor(x), tg.tensor(y), None, None, "sum").item(),
                               ((x - y) ** 2).sum(), rtol=1e-12)
    np.testing.assert_allclose(F.l1_loss(tg.tensor(x), tg.tensor(y), None, None, "none").numpy(),
                               np.abs(x - y), rtol=1e-12)
    d = np.abs(x - y)
    smooth = np.where(d < 0.5, 0.5 * d ** 2 / 0.5, d - 0.25)
    np.testing.assert_allclose(
        F.smooth_l1_loss(tg.tensor(x), tg.tensor(y), None, None, "sum", 0.5).item(),
        smooth.sum(), rtol=1e-12)
    log_p = np.log(np.array([[0.3, 0.7]]))
    p = np.array([[0.5, 0.5]])
    np.testing.assert_allclose(F.kl_div(tg.tensor(log_p), tg.tensor(p), None, None, "sum").item(),
                               (p * (np.log(p) - log_p)).sum(), rtol=1e-12)


def test_poisson_nll_eps_is_the_sixth_positional():
    x, y = np.array([0.0, 2.0]), np.array([1.0, 3.0])
    out = F.poisson_nll_loss(tg.tensor(x), tg.tensor(y), False, False, None, 0.5)
    np.testing.assert_allclose(out.item(), (x - y * np.log(x + 0.5)).mean(), rtol=1e-12)


def test_margin_and_triplet_losses_in_pytorchs_order():
    x = np.array([[0.2, 0.9, 0.1], [0.8, 0.3, 0.5]])
    y = np.array([1, 0])
    # multi_margin p=1, margin=1: l_n = Σ_{i≠y} max(0, 1 − x[y] + x[i]) / C
    rows = [max(0, 1 - 0.9 + 0.2) + max(0, 1 - 0.9 + 0.1),
            max(0, 1 - 0.8 + 0.3) + max(0, 1 - 0.8 + 0.5)]
    out = F.multi_margin_loss(tg.tensor(x), tg.tensor(y), 1, 1.0, None, None, None, "sum")
    np.testing.assert_allclose(out.item(), sum(rows) / 3, rtol=1e-12)
    labels = np.array([[1, -1, 0], [0, 2, -1]])
    out = F.multilabel_margin_loss(tg.tensor(x), tg.tensor(labels), None, None, "none")
    assert out.shape == (2,)
    a, pos, neg = np.zeros((1, 2)), np.array([[3.0, 4.0]]), np.array([[0.0, 1.0]])
    out = F.triplet_margin_loss(tg.tensor(a), tg.tensor(pos), tg.tensor(neg), 1.0, 2, 0.0,
                                False, None, None, "none")
    np.testing.assert_allclose(out.numpy(), [1 + 5 - 1])
    u, v = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    out = F.cosine_embedding_loss(tg.tensor(u), tg.tensor(v), tg.tensor(np.array([1.0])), 0.0,
                                  None, None, "none")
    np.testing.assert_allclose(out.numpy(), [1.0], rtol=1e-10)


def test_deprecated_flags_give_pytorchs_reduction_with_a_warning(rng):
    x, y = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    squared = (x - y) ** 2
    with pytest.warns(UserWarning, match="reduction='sum'"):
        out = F.mse_loss(tg.tensor(x), tg.tensor(y), False)          # size_average=False
    np.testing.assert_allclose(out.item(), squared.sum(), rtol=1e-12)
    with pytest.warns(UserWarning, match="reduction='none'"):
        out = F.mse_loss(tg.tensor(x), tg.tensor(y), reduce=False)
    np.testing.assert_allclose(out.numpy(), squared, rtol=1e-12)
    with pytest.warns(UserWarning, match="reduction='mean'"):
        out = F.mse_loss(tg.tensor(x), tg.tensor(y), True, True, "sum")  # the flags decide
    np.testing.assert_allclose(out.item(), squared.mean(), rtol=1e-12)


def test_a_reduction_in_the_flags_place_is_a_clear_error():
    x = tg.tensor(np.zeros(3))
    with pytest.raises(TypeError, match=r"size_average .*reduction='sum'"):
        F.mse_loss(x, x, "sum")
    with pytest.raises(TypeError, match=r"size_average .*reduction='none'"):
        F.kl_div(x, x, "none")
    with pytest.raises(TypeError, match="reduce must be a bool"):
        F.cross_entropy(tg.tensor(np.zeros((1, 2))), tg.tensor(np.array([0])), None, None,
                        -100, "mean")


# -------------------------------------------------------------------- the smaller additions

def test_normalize_out():
    out = tg.zeros(2, 2, dtype=tg.float64)
    result = F.normalize(tg.tensor(np.array([[3.0, 4.0], [0.0, 2.0]])), 2.0, 1, 1e-12, out)
    assert result is out
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.8], [0.0, 1.0]], rtol=1e-12)


def test_in_place_spellings_celu_selu_rrelu():
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    x = tg.tensor(X.copy())
    assert F.celu_(x, 2.0) is x
    np.testing.assert_allclose(x.numpy(), np.where(X > 0, X, 2 * np.expm1(X / 2)), rtol=1e-12)
    x = tg.tensor(X.copy())
    assert F.selu_(x) is x
    np.testing.assert_allclose(x.numpy(), scale * np.where(X > 0, X, alpha * np.expm1(X)),
                               rtol=1e-12)
    x = tg.tensor(X.copy())
    assert F.rrelu_(x, 0.1, 0.3) is x                         # eval: the mean slope 0.2
    np.testing.assert_allclose(x.numpy(), np.where(X > 0, X, 0.2 * X), rtol=1e-12)


def test_with_indices_forms():
    x = tg.tensor(np.arange(64.0).reshape(1, 1, 4, 4, 4))
    values, indices = F.max_pool3d_with_indices(x, 2)
    flat = np.array([21, 23, 29, 31, 53, 55, 61, 63])         # each 2×2×2 block's last entry
    np.testing.assert_array_equal(values.numpy().ravel(), flat)
    np.testing.assert_array_equal(indices.numpy().ravel(), flat)
    values, indices = F.adaptive_max_pool2d_with_indices(
        tg.tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2)
    np.testing.assert_array_equal(indices.numpy().ravel(), [5, 7, 13, 15])


# -------------------------------------------------------------------- init: generator=

@pytest.mark.parametrize("fill", [
    lambda t, g: init.uniform_(t, -2.0, 3.0, g),
    lambda t, g: init.normal_(t, 1.0, 0.5, g),
    lambda t, g: init.trunc_normal_(t, 0.0, 1.0, -1.0, 1.0, g),
    lambda t, g: init.xavier_uniform_(t, 1.0, g),
    lambda t, g: init.xavier_normal_(t, 1.0, g),
    lambda t, g: init.kaiming_uniform_(t, 0, "fan_in", "leaky_relu", g),
    lambda t, g: init.kaiming_normal_(t, 0, "fan_in", "leaky_relu", g),
    lambda t, g: init.orthogonal_(t, 1.0, g),
    lambda t, g: init.sparse_(t, 0.5, 0.01, g),
])
def test_init_draws_from_the_generator(fill):
    first = fill(tg.zeros(6, 4), tg.Generator().manual_seed(7)).numpy()
    tg.manual_seed(0)
    tg.rand(5)                                     # the framework's stream moves ...
    second = fill(tg.zeros(6, 4), tg.Generator().manual_seed(7)).numpy()
    np.testing.assert_array_equal(first, second)   # ... the generator's does not
    third = fill(tg.zeros(6, 4), tg.Generator().manual_seed(8)).numpy()
    assert not np.array_equal(first, third)


def test_init_generator_values_and_errors():
    generator = tg.Generator().manual_seed(3)
    expected = np.random.default_rng(3).uniform(-1.0, 1.0, size=(2, 3)).astype(np.float32)
    np.testing.assert_array_equal(init.uniform_(tg.zeros(2, 3), -1.0, 1.0,
                                                generator=generator).numpy(), expected)
    with pytest.raises(TypeError, match="generator must be a tg.Generator"):
        init.normal_(tg.zeros(2), generator=3)


def test_sparse_zeros_per_column():
    weight = init.sparse_(tg.zeros(10, 300, dtype=tg.float64), 0.25, std=2.0,
                          generator=tg.Generator().manual_seed(0)).numpy()
    zeros_per_column = (weight == 0).sum(axis=0)
    np.testing.assert_array_equal(zeros_per_column, math.ceil(0.25 * 10))
    nonzero = weight[weight != 0]
    assert abs(nonzero.std() - 2.0) < 0.15 and abs(nonzero.mean()) < 0.15
    with pytest.raises(ValueError, match="2 dimensions"):
        init.sparse_(tg.zeros(3), 0.5)
