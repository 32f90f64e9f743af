"""PyTorch's top-level copies of nn.functional (functional_aliases.py): ``tg.conv2d``,
``tg.dropout(input, p, train)``, ``tg.batch_norm(input, weight, bias, running_mean, ...)``,
the in-place forms (``tg.relu_``, ``tg.dropout_``, ...), ``tg.range``, ``tg.poisson``,
``tg.split_with_sizes`` and the settings.

``ALIASES`` is the table: each line calls an alias positionally, as PyTorch code writes
it, with arguments that all differ from their defaults, and F by keyword; the two must
give the same values and gradients (an argument passed to the wrong place shows), and
each alias passes gradcheck in float64. Then the trickiest orders (batch_norm,
instance_norm, layer_norm, embedding, the losses' reduction enum, pos_weight) against
NumPy formulas written here, the in-place forms against their out-of-place twins,
range against its definition, and poisson's samples against the Poisson pmf.
"""

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F


def leaf(rng, *shape, device="cpu", low=-1.0, high=1.0):
    """A float64 leaf that requires grad, uniform on [low, high)."""
    return tg.tensor(rng.uniform(low, high, shape), dtype=tg.float64, requires_grad=True,
                     device=device)


def const(values, device="cpu", dtype=tg.float64):
    return tg.tensor(np.asarray(values), dtype=dtype, device=device)


def host(t):
    return tg.backend.to_host(t.data)


@dataclass
class Alias:
    name: str
    make: Callable      # (rng, device) -> the arguments
    alias: Callable     # the tg.* call, positional as in PyTorch
    reference: Callable  # the F.* call it must equal, by keyword


def log_probs(z):
    return z.log_softmax(2)


ALIASES = [
    Alias("conv1d", lambda r, d: [leaf(r, 2, 2, 7, device=d), leaf(r, 4, 1, 3, device=d),
                                  leaf(r, 4, device=d)],
          lambda x, w, b: tg.conv1d(x, w, b, 2, 1, 2, 2),
          lambda x, w, b: F.conv1d(x, w, bias=b, stride=2, padding=1, dilation=2, groups=2)),
    Alias("conv2d", lambda r, d: [leaf(r, 1, 2, 6, 6, device=d), leaf(r, 2, 2, 3, 3, device=d),
                                  leaf(r, 2, device=d)],
          lambda x, w, b: tg.conv2d(x, w, b, 3, 2, 2),
          lambda x, w, b: F.conv2d(x, w, bias=b, stride=3, padding=2, dilation=2)),
    Alias("conv3d", lambda r, d: [leaf(r, 1, 2, 4, 4, 4, device=d),
                                  leaf(r, 2, 1, 2, 2, 2, device=d), leaf(r, 2, device=d)],
          lambda x, w, b: tg.conv3d(x, w, b, 2, 1, 1, 2),
          lambda x, w, b: F.conv3d(x, w, bias=b, stride=2, padding=1, groups=2)),
    Alias("conv_transpose1d", lambda r, d: [leaf(r, 1, 2, 4, device=d),
                                            leaf(r, 2, 3, 3, device=d), leaf(r, 3, device=d)],
          lambda x, w, b: tg.conv_transpose1d(x, w, b, 2, 1, 1, 1, 2),
          lambda x, w, b: F.conv_transpose1d(x, w, bias=b, stride=2, padding=1,
                                             output_padding=1, dilation=2)),
    Alias("conv_transpose2d", lambda r, d: [leaf(r, 1, 2, 3, 3, device=d),
                                            leaf(r, 2, 1, 3, 3, device=d), leaf(r, 2, device=d)],
          lambda x, w, b: tg.conv_transpose2d(x, w, b, 2, 0, 1, 2),
          lambda x, w, b: F.conv_transpose2d(x, w, bias=b, stride=2, output_padding=1,
                                             groups=2)),
    Alias("conv_transpose3d", lambda r, d: [leaf(r, 1, 1, 2, 2, 2, device=d),
                                            leaf(r, 1, 2, 2, 2, 2, device=d),
                                            leaf(r, 2, device=d)],
          lambda x, w, b: tg.conv_transpose3d(x, w, b, 1, 1, 0, 1, 2),
          lambda x, w, b: F.conv_transpose3d(x, w, bias=b, padding=1, dilation=2)),
    Alias("conv_tbc", lambda r, d: [leaf(r, 5, 2, 3, device=d), leaf(r, 3, 3, 4, device=d),
                                    leaf(r, 4, device=d)],
          lambda x, w, b: tg.conv_tbc(x, w, b, 1),
          lambda x, w, b: F.conv_tbc(x, w, b, pad=1)),
    Alias("dropout", lambda r, d: [leaf(r, 4, 5, device=d)],
          lambda x: tg.dropout(x, 0.3, True),
          lambda x: F.dropout(x, p=0.3, training=True)),
    Alias("dropout-eval", lambda r, d: [leaf(r, 4, 5, device=d)],
          lambda x: tg.dropout(x, 0.3, False),
          lambda x: F.dropout(x, p=0.3, training=False)),
    Alias("alpha_dropout", lambda r, d: [leaf(r, 4, 5, device=d)],
          lambda x: tg.alpha_dropout(x, 0.3, True),
          lambda x: F.alpha_dropout(x, p=0.3, training=True)),
    Alias("feature_alpha_dropout", lambda r, d: [leaf(r, 3, 4, 5, device=d)],
          lambda x: tg.feature_alpha_dropout(x, 0.3, True),
          lambda x: F.feature_alpha_dropout(x, p=0.3, training=True)),
    # feature dropout draws one uniform per (n, c), as dropout2d / 1d / 3d / dropout do
    Alias("feature_dropout-4d", lambda r, d: [leaf(r, 3, 4, 2, 2, device=d)],
          lambda x: tg.feature_dropout(x, 0.4, True),
          lambda x: F.dropout2d(x, p=0.4, training=True)),
    Alias("feature_dropout-3d", lambda r, d: [leaf(r, 3, 4, 5, device=d)],
          lambda x: tg.feature_dropout(x, 0.4, True),
          lambda x: F.dropout1d(x, p=0.4, training=True)),
    Alias("feature_dropout-5d", lambda r, d: [leaf(r, 2, 3, 2, 1, 2, device=d)],
          lambda x: tg.feature_dropout(x, 0.4, True),
          lambda x: F.dropout3d(x, p=0.4, training=True)),
    Alias("feature_dropout-2d", lambda r, d: [leaf(r, 6, 5, device=d)],
          lambda x: tg.feature_dropout(x, 0.4, True),
          lambda x: F.dropout(x, p=0.4, training=True)),
    Alias("layer_norm", lambda r, d: [leaf(r, 2, 3, 4, device=d), leaf(r, 4, device=d),
                                      leaf(r, 4, device=d)],
          lambda x, w, b: tg.layer_norm(x, (4,), w, b, 0.1, False),
          lambda x, w, b: F.layer_norm(x, (4,), weight=w, bias=b, eps=0.1)),
    Alias("group_norm", lambda r, d: [leaf(r, 2, 4, 3, device=d), leaf(r, 4, device=d),
                                      leaf(r, 4, device=d)],
          lambda x, w, b: tg.group_norm(x, 2, w, b, 0.1, False),
          lambda x, w, b: F.group_norm(x, 2, weight=w, bias=b, eps=0.1)),
    Alias("batch_norm-train", lambda r, d: [leaf(r, 5, 3, device=d), leaf(r, 3, device=d),
                                            leaf(r, 3, device=d)],
          lambda x, w, b: tg.batch_norm(x, w, b, None, None, True, 0.3, 0.1, False),
          lambda x, w, b: F.batch_norm(x, None, None, weight=w, bias=b, training=True,
                                       momentum=0.3, eps=0.1)),
    Alias("batch_norm-eval", lambda r, d: [leaf(r, 5, 3, device=d), leaf(r, 3, device=d),
                                           leaf(r, 3, device=d),
                                           const([0.1, -0.2, 0.3], d), const([0.5, 2, 1], d)],
          lambda x, w, b, m, v: tg.batch_norm(x, w, b, m, v, False, 0.3, 0.1, False),
          lambda x, w, b, m, v: F.batch_norm(x, m, v, weight=w, bias=b, eps=0.1)),
    Alias("instance_norm", lambda r, d: [leaf(r, 2, 3, 5, device=d), leaf(r, 3, device=d),
                                         leaf(r, 3, device=d)],
          lambda x, w, b: tg.instance_norm(x, w, b, None, None, True, 0.3, 0.2, False),
          lambda x, w, b: F.instance_norm(x, weight=w, bias=b, use_input_stats=True,
                                          momentum=0.3, eps=0.2)),
    Alias("rms_norm", lambda r, d: [leaf(r, 2, 4, device=d), leaf(r, 4, device=d)],
          lambda x, w: tg.rms_norm(x, (4,), w, 0.1),
          lambda x, w: F.rms_norm(x, (4,), weight=w, eps=0.1)),
    Alias("embedding", lambda r, d: [leaf(r, 5, 3, device=d),
                                     const([[0, 2], [4, 2]], d, tg.int64)],
          lambda w, i: tg.embedding(w, i, 2),
          lambda w, i: F.embedding(i, w, padding_idx=2)),
    Alias("embedding-no-padding", lambda r, d: [leaf(r, 5, 3, device=d),
                                                const([[0, 2], [4, 2]], d, tg.int64)],
          lambda w, i: tg.embedding(w, i),
          lambda w, i: F.embedding(i, w)),
    Alias("max_pool1d", lambda r, d: [leaf(r, 1, 2, 9, device=d)],
          lambda x: tg.max_pool1d(x, 3, 2, 1, 2, True),
          lambda x: F.max_pool1d(x, 3, stride=2, padding=1, dilation=2, ceil_mode=True)),
    Alias("max_pool1d-default-stride", lambda r, d: [leaf(r, 1, 2, 9, device=d)],
          lambda x: tg.max_pool1d(x, 3),
          lambda x: F.max_pool1d(x, 3)),
    Alias("max_pool2d", lambda r, d: [leaf(r, 1, 1, 5, 5, device=d)],
          lambda x: tg.max_pool2d(x, 2, [], 1),
          lambda x: F.max_pool2d(x, 2, padding=1)),
    Alias("max_pool3d", lambda r, d: [leaf(r, 1, 1, 4, 4, 4, device=d)],
          lambda x: tg.max_pool3d(x, 2, 1, 0, 2),
          lambda x: F.max_pool3d(x, 2, stride=1, dilation=2)),
    Alias("max_pool1d_with_indices", lambda r, d: [leaf(r, 1, 2, 9, device=d)],
          lambda x: tg.max_pool1d_with_indices(x, 2, 3, 1),
          lambda x: F.max_pool1d(x, 2, stride=3, padding=1, return_indices=True)),
    Alias("avg_pool1d", lambda r, d: [leaf(r, 1, 2, 7, device=d)],
          lambda x: tg.avg_pool1d(x, 3, 2, 1, True, False),
          lambda x: F.avg_pool1d(x, 3, stride=2, padding=1, ceil_mode=True,
                                 count_include_pad=False)),
    Alias("adaptive_avg_pool1d", lambda r, d: [leaf(r, 1, 2, 7, device=d)],
          lambda x: tg.adaptive_avg_pool1d(x, 3),
          lambda x: F.adaptive_avg_pool1d(x, output_size=3)),
    Alias("adaptive_max_pool1d", lambda r, d: [leaf(r, 1, 2, 7, device=d)],
          lambda x: tg.adaptive_max_pool1d(x, 3),
          lambda x: F.adaptive_max_pool1d(x, 3, return_indices=True)),
    Alias("pixel_shuffle", lambda r, d: [leaf(r, 1, 8, 2, 2, device=d)],
          lambda x: tg.pixel_shuffle(x, 2),
          lambda x: F.pixel_shuffle(x, upscale_factor=2)),
    Alias("pixel_unshuffle", lambda r, d: [leaf(r, 1, 2, 4, 4, device=d)],
          lambda x: tg.pixel_unshuffle(x, 2),
          lambda x: F.pixel_unshuffle(x, downscale_factor=2)),
    Alias("channel_shuffle", lambda r, d: [leaf(r, 1, 6, 2, device=d)],
          lambda x: tg.channel_shuffle(x, 3),
          lambda x: F.channel_shuffle(x, groups=3)),
    Alias("native_channel_shuffle", lambda r, d: [leaf(r, 1, 6, 2, device=d)],
          lambda x: tg.native_channel_shuffle(x, 2),
          lambda x: F.native_channel_shuffle(x, groups=2)),
    Alias("constant_pad_nd", lambda r, d: [leaf(r, 2, 3, device=d)],
          lambda x: tg.constant_pad_nd(x, (1, 2), 0.5),
          lambda x: F.pad(x, (1, 2), value=0.5)),
    Alias("grid_sampler-bilinear-border", lambda r, d: [leaf(r, 1, 1, 3, 3, device=d),
                                                        leaf(r, 1, 2, 2, 2, device=d)],
          lambda x, g: tg.grid_sampler(x, g * 1.3, 0, 1, True),
          lambda x, g: F.grid_sample(x, g * 1.3, mode="bilinear", padding_mode="border",
                                     align_corners=True)),
    Alias("grid_sampler-nearest-reflection", lambda r, d: [leaf(r, 1, 1, 3, 3, device=d),
                                                           const([[[[0.2, -0.9], [1.4, 0.3]],
                                                                   [[-1.3, 0.6], [0.1, 0.8]]]],
                                                                 d)],
          lambda x, g: tg.grid_sampler(x, g, 1, 2, False),
          lambda x, g: F.grid_sample(x, g, mode="nearest", padding_mode="reflection",
                                     align_corners=False)),
    Alias("affine_grid_generator", lambda r, d: [leaf(r, 1, 2, 3, device=d)],
          lambda t: tg.affine_grid_generator(t, (1, 1, 3, 4), True),
          lambda t: F.affine_grid(t, (1, 1, 3, 4), align_corners=True)),
    Alias("bilinear", lambda r, d: [leaf(r, 3, 2, device=d), leaf(r, 3, 4, device=d),
                                    leaf(r, 5, 2, 4, device=d), leaf(r, 5, device=d)],
          lambda a, b, w, c: tg.bilinear(a, b, w, c),
          lambda a, b, w, c: F.bilinear(a, b, w, bias=c)),
    Alias("celu", lambda r, d: [leaf(r, 3, 4, device=d)],
          lambda x: tg.celu(x, 0.7), lambda x: F.celu(x, alpha=0.7)),
    Alias("selu", lambda r, d: [leaf(r, 3, 4, device=d)], tg.selu, F.selu),
    Alias("rrelu-eval", lambda r, d: [leaf(r, 3, 4, device=d)],
          lambda x: tg.rrelu(x, 0.1, 0.3), lambda x: F.rrelu(x, lower=0.1, upper=0.3)),
    Alias("rrelu-train", lambda r, d: [leaf(r, 3, 4, device=d)],
          lambda x: tg.rrelu(x, 0.1, 0.3, True),
          lambda x: F.rrelu(x, lower=0.1, upper=0.3, training=True)),
    Alias("prelu", lambda r, d: [leaf(r, 2, 3, 4, device=d), leaf(r, 3, device=d)],
          lambda x, w: tg.prelu(x, w), lambda x, w: F.prelu(x, weight=w)),
    Alias("threshold", lambda r, d: [leaf(r, 3, 4, device=d)],
          lambda x: tg.threshold(x, 0.1, -2.0),
          lambda x: F.threshold(x, threshold=0.1, value=-2.0)),
    Alias("hinge_embedding_loss", lambda r, d: [leaf(r, 6, device=d),
                                                const([1, -1, 1, -1, -1, 1], d)],
          lambda x, y: tg.hinge_embedding_loss(x, y, 0.5, 2),
          lambda x, y: F.hinge_embedding_loss(x, y, margin=0.5, reduction="sum")),
    Alias("kl_div", lambda r, d: [leaf(r, 3, 4, device=d), leaf(r, 3, 4, device=d, low=0.1)],
          lambda x, t: tg.kl_div(x, t, 2),
          lambda x, t: F.kl_div(x, t, reduction="sum")),
    Alias("kl_div-log-target", lambda r, d: [leaf(r, 3, 4, device=d), leaf(r, 3, 4, device=d)],
          lambda x, t: tg.kl_div(x, t, 0, log_target=True),
          lambda x, t: F.kl_div(x, t, reduction="none", log_target=True)),
    Alias("margin_ranking_loss", lambda r, d: [leaf(r, 5, device=d), leaf(r, 5, device=d),
                                               const([1, -1, 1, 1, -1], d)],
          lambda a, b, y: tg.margin_ranking_loss(a, b, y, 0.2, 0),
          lambda a, b, y: F.margin_ranking_loss(a, b, y, margin=0.2, reduction="none")),
    Alias("cosine_embedding_loss", lambda r, d: [leaf(r, 4, 3, device=d), leaf(r, 4, 3, device=d),
                                                 const([1, -1, -1, 1], d)],
          lambda a, b, y: tg.cosine_embedding_loss(a, b, y, 0.1, 2),
          lambda a, b, y: F.cosine_embedding_loss(a, b, y, margin=0.1, reduction="sum")),
    Alias("triplet_margin_loss", lambda r, d: [leaf(r, 4, 3, device=d), leaf(r, 4, 3, device=d),
                                               leaf(r, 4, 3, device=d)],
          lambda a, p, n: tg.triplet_margin_loss(a, p, n, 0.5, 1.0, 1e-3, True, 0),
          lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=0.5, p=1.0, eps=1e-3,
                                                swap=True, reduction="none")),
    Alias("poisson_nll_loss", lambda r, d: [leaf(r, 6, device=d, low=0.5, high=3.0),
                                            const([0, 1, 2, 3, 5, 2], d)],
          lambda x, t: tg.poisson_nll_loss(x, t, False, True, 0.01, 2),
          lambda x, t: F.poisson_nll_loss(x, t, log_input=False, full=True, eps=0.01,
                                          reduction="sum")),
    Alias("binary_cross_entropy_with_logits",
          lambda r, d: [leaf(r, 3, 4, device=d), const(r.uniform(0, 1, (3, 4)), d),
                        leaf(r, 3, 4, device=d, low=0.5), leaf(r, 4, device=d, low=0.5)],
          lambda x, t, w, pw: tg.binary_cross_entropy_with_logits(x, t, w, pw, 0),
          lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw,
                                                                 reduction="none")),
    Alias("ctc_loss", lambda r, d: [leaf(r, 6, 2, 4, device=d),
                                    const([[1, 2, 2], [3, 1, 0]], d, tg.int64)],
          lambda z, t: tg.ctc_loss(log_probs(z), t, (6, 5), (3, 2), 0, 2, True),
          lambda z, t: F.ctc_loss(log_probs(z), t, (6, 5), (3, 2), blank=0, reduction="sum",
                                  zero_infinity=True)),
    Alias("pdist", lambda r, d: [leaf(r, 4, 3, device=d)],
          lambda x: tg.pdist(x, 1.5), lambda x: F.pdist(x, p=1.5)),
    Alias("cosine_similarity", lambda r, d: [leaf(r, 3, 4, device=d), leaf(r, 3, 4, device=d)],
          lambda a, b: tg.cosine_similarity(a, b, 0, 1e-3),
          lambda a, b: F.cosine_similarity(a, b, dim=0, eps=1e-3)),
    Alias("pairwise_distance", lambda r, d: [leaf(r, 3, 4, device=d), leaf(r, 3, 4, device=d)],
          lambda a, b: tg.pairwise_distance(a, b, 1.0, 1e-3, True),
          lambda a, b: F.pairwise_distance(a, b, p=1.0, eps=1e-3, keepdim=True)),
]


def outputs_and_gradients(case: Alias, call: Callable, device: str):
    """The host values of ``call``'s outputs and the gradients of Σ weights·(float outputs)
    with respect to the leaves, from fresh inputs (the same numbers every time) and the
    framework's generator seeded alike."""
    args = case.make(np.random.default_rng(0), device)
    tg.manual_seed(7)
    result = call(*args)
    results = result if isinstance(result, tuple) else (result,)
    leaves = [a for a in args if isinstance(a, tg.Tensor) and a.requires_grad]
    total = None
    for out in results:
        if out.dtype.kind == "f":
            weights = tg.tensor(np.cos(np.arange(out.numel())).reshape(out.shape),
                                dtype=out.dtype, device=out.device)
            term = (out * weights).sum()
            total = term if total is None else total + term
    if total is not None and total.requires_grad:
        total.backward()
    return [host(r) for r in results], [None if a.grad is None else host(a.grad) for a in leaves]


@pytest.mark.parametrize("case", ALIASES, ids=lambda case: case.name)
def test_alias_equals_the_F_function_in_values_and_gradients(case, device):
    values, gradients = outputs_and_gradients(case, case.alias, device)
    expected_values, expected_gradients = outputs_and_gradients(case, case.reference, device)
    assert len(values) == len(expected_values)
    for value, expected in zip(values, expected_values):
        assert value.shape == expected.shape and value.dtype == expected.dtype
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)
    for gradient, expected in zip(gradients, expected_gradients):
        assert (gradient is None) == (expected is None)
        if gradient is not None:
            np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-12)


# the padding row's gradient is 0 by definition; nearest sampling is piecewise constant in grid
NOT_GRADCHECKED = {"embedding", "grid_sampler-nearest-reflection"}


@pytest.mark.parametrize("case", [c for c in ALIASES if c.name not in NOT_GRADCHECKED],
                         ids=lambda case: case.name)
def test_alias_passes_gradcheck(case):
    """float64 central differences; the random ones reseed per call, so each is a fixed
    function of its inputs (a fixed mask, fixed slopes)."""
    args = case.make(np.random.default_rng(0), "cpu")
    places = [i for i, a in enumerate(args) if isinstance(a, tg.Tensor) and a.requires_grad]

    def function(*leaves):
        filled = list(args)
        for place, value in zip(places, leaves):
            filled[place] = value
        tg.manual_seed(7)
        result = case.alias(*filled)
        return result[0] if isinstance(result, tuple) else result

    assert tg.gradcheck(function, tuple(args[i] for i in places))


# --- the tricky argument orders, against NumPy ---

def test_batch_norm_takes_weight_and_bias_before_the_running_statistics(device, rng):
    x = rng.normal(size=(6, 3))
    w, b = np.array([1.5, -0.5, 2.0]), np.array([0.1, 0.2, -0.3])
    mean0, var0 = np.array([0.3, -0.1, 0.0]), np.array([1.0, 2.0, 0.5])
    running_mean, running_var = const(mean0, device), const(var0, device)
    momentum, eps = 0.2, 1e-3
    y = tg.batch_norm(const(x, device), const(w, device), const(b, device), running_mean,
                      running_var, True, momentum, eps, False)
    mean, biased = x.mean(0), x.var(0)
    np.testing.assert_allclose(host(y), (x - mean) / np.sqrt(biased + eps) * w + b, rtol=1e-10)
    np.testing.assert_allclose(host(running_mean), (1 - momentum) * mean0 + momentum * mean)
    np.testing.assert_allclose(host(running_var),
                               (1 - momentum) * var0 + momentum * x.var(0, ddof=1))
    evaluated = tg.batch_norm(const(x, device), const(w, device), const(b, device),
                              const(mean0, device), const(var0, device), False, momentum, eps,
                              True)
    np.testing.assert_allclose(host(evaluated), (x - mean0) / np.sqrt(var0 + eps) * w + b)


def test_instance_norm_takes_weight_and_bias_first(device, rng):
    x = rng.normal(size=(2, 3, 5))
    w, b = np.array([2.0, 0.5, -1.0]), np.array([0.0, 1.0, 3.0])
    y = tg.instance_norm(const(x, device), const(w, device), const(b, device), None, None,
                         True, 0.1, 1e-3, False)
    mean, var = x.mean(2, keepdims=True), x.var(2, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-3) * w[:, None] + b[:, None]
    np.testing.assert_allclose(host(y), expected, rtol=1e-10)


def test_layer_norm_positional_eps(device, rng):
    x = rng.normal(size=(2, 3, 4))
    w, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    y = tg.layer_norm(const(x, device), (3, 4), const(w, device), const(b, device), 0.5)
    mean, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    np.testing.assert_allclose(host(y), (x - mean) / np.sqrt(var + 0.5) * w + b, rtol=1e-10)


def test_embedding_takes_the_table_first_and_negative_padding_means_none(device, rng):
    table = rng.normal(size=(5, 3))
    indices = np.array([[0, 2], [4, 2]])
    for padding_idx, frozen in ((-1, None), (2, 2)):
        weight = tg.tensor(table, requires_grad=True, device=device)
        y = tg.embedding(weight, const(indices, device, tg.int64), padding_idx)
        np.testing.assert_array_equal(host(y), table[indices])
        y.sum().backward()
        expected = np.zeros_like(table)
        np.add.at(expected, indices.ravel(), 1.0)
        if frozen is not None:
            expected[frozen] = 0.0
        np.testing.assert_array_equal(host(weight.grad), expected)


def test_losses_take_pytorchs_reduction_enum(device, rng):
    x, t = rng.normal(size=(3, 4)), rng.uniform(0.1, 1, size=(3, 4))
    pointwise = t * (np.log(t) - x)
    for reduction, expected in ((0, pointwise), (1, pointwise.mean()), (2, pointwise.sum()),
                                ("sum", pointwise.sum())):
        got = tg.kl_div(const(x, device), const(t, device), reduction)
        np.testing.assert_allclose(host(got), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="kl_div: reduction must be 0"):
        tg.kl_div(const(x, device), const(t, device), 3)


def test_binary_cross_entropy_with_logits_takes_pos_weight_before_reduction(device, rng):
    x, t = rng.normal(size=(3, 4)), rng.uniform(size=(3, 4))
    w, pos_weight = rng.uniform(0.5, 2, size=(3, 4)), np.array([1.0, 2.0, 3.0, 0.5])
    got = tg.binary_cross_entropy_with_logits(const(x, device), const(t, device),
                                              const(w, device), const(pos_weight, device), 2)
    sigmoid = 1 / (1 + np.exp(-x))
    expected = -w * (pos_weight * t * np.log(sigmoid) + (1 - t) * np.log(1 - sigmoid))
    np.testing.assert_allclose(host(got), expected.sum(), rtol=1e-10)


def test_poisson_nll_loss_takes_every_argument_in_order(device, rng):
    x, t = rng.normal(size=5), np.array([0.0, 1.0, 2.0, 4.0, 1.0])
    got = tg.poisson_nll_loss(const(x, device), const(t, device), True, False, 1e-8, 1)
    np.testing.assert_allclose(host(got), (np.exp(x) - t * x).mean(), rtol=1e-10)


def test_max_pool1d_empty_stride_is_the_kernel_size_and_adaptive_max_gives_indices(device):
    x = np.array([[[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0]]])
    pooled = tg.max_pool1d(const(x, device), 3, [])
    np.testing.assert_array_equal(host(pooled), x.reshape(1, 1, 3, 3).max(-1))
    values, indices = tg.adaptive_max_pool1d(const(x, device), 3)
    np.testing.assert_array_equal(host(values), [[[4.0, 9.0, 6.0]]])
    np.testing.assert_array_equal(host(indices), [[[2, 5, 7]]])


def test_activations_against_their_formulas(device, rng):
    x = rng.normal(size=(3, 4))
    alpha = 0.7
    celu = np.maximum(x, 0) + np.minimum(0, alpha * (np.exp(x / alpha) - 1))
    np.testing.assert_allclose(host(tg.celu(const(x, device), alpha)), celu, rtol=1e-12)
    np.testing.assert_array_equal(host(tg.threshold(const(x, device), 0.1, -2.0)),
                                  np.where(x > 0.1, x, -2.0))
    slope = (0.1 + 0.3) / 2
    np.testing.assert_allclose(host(tg.rrelu(const(x, device), 0.1, 0.3)),
                               np.where(x >= 0, x, slope * x), rtol=1e-12)


@pytest.mark.parametrize("shape", [(5, 4), (5, 4, 3), (3, 4, 2, 2), (2, 3, 2, 1, 2)])
def test_feature_dropout_keeps_or_zeroes_whole_channels(shape, device):
    x = np.arange(1, math.prod(shape) + 1, dtype=np.float64).reshape(shape)
    p = 0.5
    y = host(tg.feature_dropout(const(x, device), p, True))
    per_channel = (y / x).reshape(shape[0], shape[1], -1)              # (N, C, L)
    assert np.all(per_channel == per_channel[:, :, :1])                # one factor a channel
    assert set(np.unique(per_channel)) <= {0.0, 1 / (1 - p)}
    assert 0 < (per_channel == 0).mean() < 1
    assert tg.feature_dropout(const(x, device), p, False).tolist() == x.tolist()
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        tg.feature_dropout(const([1.0, 2.0], device), p, True)


# --- the in-place forms write into their input ---

IN_PLACE = [
    ("relu_", lambda y: tg.relu_(y), lambda x: F.relu(x)),
    ("selu_", lambda y: tg.selu_(y), lambda x: F.selu(x)),
    ("celu_", lambda y: tg.celu_(y, 0.7), lambda x: F.celu(x, alpha=0.7)),
    ("threshold_", lambda y: tg.threshold_(y, 0.1, -2.0), lambda x: F.threshold(x, 0.1, -2.0)),
    ("rrelu_", lambda y: tg.rrelu_(y, 0.1, 0.3, True),
     lambda x: F.rrelu(x, 0.1, 0.3, training=True)),
    ("dropout_", lambda y: tg.dropout_(y, 0.3, True), lambda x: F.dropout(x, 0.3)),
    ("alpha_dropout_", lambda y: tg.alpha_dropout_(y, 0.3, True),
     lambda x: F.alpha_dropout(x, 0.3, training=True)),
    ("feature_dropout_", lambda y: tg.feature_dropout_(y, 0.3, True),
     lambda x: F.dropout2d(x, 0.3)),
    ("feature_alpha_dropout_", lambda y: tg.feature_alpha_dropout_(y, 0.3, True),
     lambda x: F.feature_alpha_dropout(x, 0.3, training=True)),
]


@pytest.mark.parametrize("name, in_place, out_of_place", IN_PLACE, ids=[c[0] for c in IN_PLACE])
def test_in_place_form_writes_into_its_input(name, in_place, out_of_place, device):
    values = np.random.default_rng(1).normal(size=(3, 4, 2, 2))
    x = tg.tensor(values, requires_grad=True, device=device)
    y = x * 1.0                                                        # a non-leaf to write
    tg.manual_seed(5)
    returned = in_place(y)
    assert returned is y
    twin = tg.tensor(values, requires_grad=True, device=device)
    tg.manual_seed(5)
    expected = out_of_place(twin)
    np.testing.assert_allclose(host(y), host(expected), rtol=1e-12)
    weights = tg.tensor(np.cos(np.arange(values.size)).reshape(values.shape), device=device)
    (y * weights).sum().backward()
    (expected * weights).sum().backward()
    np.testing.assert_allclose(host(x.grad), host(twin.grad), rtol=1e-12)


def test_in_place_form_refuses_a_leaf_that_requires_grad():
    x = tg.tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        tg.relu_(x)


def test_in_place_dropout_without_training_leaves_the_input_alone(device):
    x = const([1.0, -2.0, 3.0], device)
    assert tg.dropout_(x, 0.5, False) is x and x.tolist() == [1.0, -2.0, 3.0]
    assert tg.feature_dropout_(x.reshape(1, 3), 0.5, False).tolist() == [[1.0, -2.0, 3.0]]


# --- range, poisson, split_with_sizes ---

@pytest.mark.parametrize("start, end, step", [(1, 4, 1), (0, 1, 0.25), (4, 2, -0.5),
                                              (0, 1, 0.3), (-2.5, -2.5, 1), (0, 10, 3)])
def test_range_includes_the_end_and_warns(start, end, step, device):
    count = math.floor((end - start) / step) + 1
    expected = [start + i * step for i in range(count)]
    with pytest.warns(UserWarning, match="range is deprecated.*use tg.arange"):
        got = tg.range(start, end, step, device=device)
    assert got.dtype == tg.get_default_dtype() and got.device == device
    np.testing.assert_allclose(host(got), expected, rtol=1e-6)


def test_range_dtype_requires_grad_out_and_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ints = tg.range(1, 4, dtype=tg.int64)
        assert ints.dtype == np.int64 and ints.tolist() == [1, 2, 3, 4]
        assert tg.range(0, 1, 0.5, requires_grad=True).requires_grad
        out = tg.zeros(3)
        assert tg.range(2, 4, out=out) is out and out.tolist() == [2.0, 3.0, 4.0]
        with pytest.raises(RuntimeError, match="step must be nonzero"):
            tg.range(1, 5, 0)
        with pytest.raises(RuntimeError, match="inconsistent with step sign"):
            tg.range(1, -3, 1)


def test_poisson_samples_follow_the_poisson_pmf(device):
    """20,000 draws at λ = 3: each frequency of k = 0..8 within 5 standard errors of
    λᵏe^(−λ)/k!, the mean and variance within 5 standard errors of λ (a normal or
    geometric sampler of the right mean misses the pmf by many)."""
    rate, n = 3.0, 20_000
    samples = host(tg.poisson(tg.full((n,), rate, dtype=tg.float64, device=device)))
    assert samples.dtype == np.float64 and np.all(samples == np.round(samples))
    for k in range(9):
        pmf = rate ** k * math.exp(-rate) / math.factorial(k)
        assert abs((samples == k).mean() - pmf) < 5 * math.sqrt(pmf * (1 - pmf) / n), k
    assert abs(samples.mean() - rate) < 5 * math.sqrt(rate / n)
    assert abs(samples.var(ddof=1) - rate) < 5 * math.sqrt((rate + 2 * rate ** 2) / n)


def test_poisson_of_a_rate_tensor_keeps_its_shape_and_zero_rates_give_zeros(device):
    rates = np.array([[0.0, 0.5], [40.0, 1000.0]])
    samples = host(tg.poisson(const(np.repeat(rates[None], 4000, 0), device)))  # (4000, 2, 2)
    assert samples.shape == (4000, 2, 2)
    assert np.all(samples[:, 0, 0] == 0)
    np.testing.assert_allclose(samples.mean(0), rates, atol=5 * np.sqrt(rates.max() / 4000))


def test_poisson_is_seeded_by_manual_seed_and_by_a_generator(device):
    rates = tg.full((50,), 5.0, device=device)
    tg.manual_seed(3)
    first = host(tg.poisson(rates))
    tg.manual_seed(3)
    np.testing.assert_array_equal(host(tg.poisson(rates)), first)
    assert not np.array_equal(host(tg.poisson(rates)), first)        # the stream moves on
    from_generator = host(tg.poisson(rates, tg.Generator().manual_seed(9)))
    tg.manual_seed(3)
    np.testing.assert_array_equal(host(tg.poisson(rates, tg.Generator().manual_seed(9))),
                                  from_generator)
    np.testing.assert_array_equal(host(tg.poisson(rates)), first)    # untouched by the other


def test_poisson_has_no_gradient_and_refuses_bad_rates():
    rates = tg.tensor([1.0, 2.0], requires_grad=True)
    assert not tg.poisson(rates).requires_grad
    with pytest.raises(ValueError, match="poisson: the rates must be non-negative"):
        tg.poisson(tg.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="poisson: the rates must be non-negative"):
        tg.poisson(tg.tensor([math.nan]))
    with pytest.raises(TypeError, match="poisson: expected a floating-point Tensor"):
        tg.poisson(tg.tensor([1, 2]))


def test_split_with_sizes(device):
    x = tg.tensor(np.arange(12.0).reshape(3, 4), device=device)
    pieces = tg.split_with_sizes(x, [1, 3], 1)
    assert [p.tolist() for p in pieces] == [[[0.0], [4.0], [8.0]],
                                            [[1, 2, 3], [5, 6, 7], [9, 10, 11]]]
    assert [p.shape for p in tg.split_with_sizes(x, (2, 1))] == [(2, 4), (1, 4)]
    with pytest.raises(ValueError, match="do not add up"):
        tg.split_with_sizes(x, [1, 1], 1)
    with pytest.raises(TypeError, match="split_with_sizes: split_sizes must be a list"):
        tg.split_with_sizes(x, 2)


# --- settings ---

@pytest.fixture
def restored_settings():
    threads = tg.get_num_threads()
    deterministic = tg.are_deterministic_algorithms_enabled()
    warn_only = tg.is_deterministic_algorithms_warn_only_enabled()
    printing = np.get_printoptions()
    keys = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")
    tensor_printing = {key: getattr(tg.tensor_str.PRINT_OPTS, key) for key in keys}
    yield
    for key, value in tensor_printing.items():
        setattr(tg.tensor_str.PRINT_OPTS, key, value)
    tg.set_num_threads(threads)
    tg.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    np.set_printoptions(**printing)


def test_num_threads_round_trip(restored_settings):
    assert isinstance(tg.get_num_threads(), int) and tg.get_num_threads() >= 1
    tg.set_num_threads(3)
    assert tg.get_num_threads() == 3
    with pytest.raises(RuntimeError, match="positive integer"):
        tg.set_num_threads(0)
    with pytest.raises(TypeError, match="set_num_threads: expected an int"):
        tg.set_num_threads(2.0)
    assert tg.get_num_threads() == 3


def test_deterministic_flags_round_trip(restored_settings):
    tg.use_deterministic_algorithms(True)
    assert tg.are_deterministic_algorithms_enabled()
    assert not tg.is_deterministic_algorithms_warn_only_enabled()
    assert tg.get_deterministic_debug_mode() == 2
    tg.use_deterministic_algorithms(True, warn_only=True)
    assert tg.is_deterministic_algorithms_warn_only_enabled()
    assert tg.get_deterministic_debug_mode() == 1
    tg.set_deterministic_debug_mode("default")
    assert not tg.are_deterministic_algorithms_enabled()
    assert tg.get_deterministic_debug_mode() == 0
    tg.set_deterministic_debug_mode(2)
    assert tg.are_deterministic_algorithms_enabled()
    assert not tg.is_deterministic_algorithms_warn_only_enabled()
    with pytest.raises(RuntimeError, match="invalid mode"):
        tg.set_deterministic_debug_mode("loud")
    with pytest.raises(TypeError, match="mode must be a bool"):
        tg.use_deterministic_algorithms(1)


def test_set_printoptions_changes_how_tensors_print(restored_settings):
    numpy_precision = np.get_printoptions()["precision"]
    x = tg.tensor([1.23456789, 2.5], dtype=tg.float64)
    tg.set_printoptions(precision=2)
    assert repr(x) == "tensor([1.23, 2.50], dtype=float64)"
    tg.set_printoptions(precision=3, sci_mode=True)
    assert repr(x) == "tensor([1.235e+00, 2.500e+00], dtype=float64)"
    tiny = tg.tensor([1e-5, 1.0], dtype=tg.float64)
    tg.set_printoptions(precision=5)                    # sci_mode back to None: chosen
    assert repr(tiny) == "tensor([1.00000e-05, 1.00000e+00], dtype=float64)"
    tg.set_printoptions(precision=5, sci_mode=False)    # fixed, at the width chosen above
    assert repr(tiny) == "tensor([    0.00001,     1.00000], dtype=float64)"
    tg.set_printoptions(profile="short")
    options = tg.tensor_str.PRINT_OPTS
    assert (options.precision, options.edgeitems, options.threshold) == (2, 2, 1000)
    tg.set_printoptions(profile="full", linewidth=120)
    assert (options.threshold, options.linewidth) == (math.inf, 120)
    assert np.get_printoptions()["precision"] == numpy_precision    # NumPy's are its own
    with pytest.raises(ValueError, match="unknown profile"):
        tg.set_printoptions(profile="long")


def test_is_inference_mode_enabled():
    assert not tg.is_inference_mode_enabled()
    with tg.inference_mode():
        assert tg.is_inference_mode_enabled()
    assert not tg.is_inference_mode_enabled()
