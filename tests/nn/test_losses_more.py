"""The losses of nn/functional_loss_more.py and nn/loss_more.py against plain-NumPy formulas.

Every reference below is written here from PyTorch's documented definition, never
by calling back into the package; a few cases are worked out by hand. Gradients
are checked with float64 central differences (tg.gradcheck), second derivatives
for most. Everything runs on the cpu and strict devices (the ``device`` fixture).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn

REDUCTIONS = ["mean", "sum", "none"]


# --------------------------------------------------------------------------
# NumPy references
# --------------------------------------------------------------------------

def ref_reduce(values, reduction):
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def ref_log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def ref_margin_ranking(x1, x2, y, margin):
    return np.maximum(0.0, -y * (x1 - x2) + margin)


def ref_hinge_embedding(x, y, margin):
    return np.where(y == 1, x, np.maximum(0.0, margin - x))


def ref_soft_margin(x, y):
    return np.logaddexp(0.0, -y * x)                    # log(1 + exp(-y x))


def ref_multilabel_soft_margin(x, y, w=1.0):
    terms = y * ref_log_sigmoid(x) + (1 - y) * ref_log_sigmoid(-x)
    return -(w * terms).mean(axis=-1)


def ref_multilabel_margin(x, y):
    """PyTorch's definition, loop by loop, for x (N, C) and y (N, C)."""
    num_samples, num_classes = x.shape
    losses = np.zeros(num_samples)
    for n in range(num_samples):
        targets = []
        for label in y[n]:
            if label < 0:
                break
            targets.append(label)
        for j in targets:
            for i in range(num_classes):
                if i not in targets:
                    losses[n] += max(0.0, 1.0 - (x[n, j] - x[n, i]))
        losses[n] /= num_classes
    return losses


def ref_distance(a, b, p=2.0, eps=1e-6):
    difference = np.abs(a - b + eps)
    if p == np.inf:
        return difference.max(axis=-1)
    return (difference ** p).sum(axis=-1) ** (1.0 / p)


def ref_triplet(a, pos, neg, margin=1.0, p=2.0, eps=1e-6, swap=False, distance=None):
    distance = distance or (lambda u, v: ref_distance(u, v, p, eps))
    d_pos = distance(a, pos)
    d_neg = distance(a, neg)
    if swap:
        d_neg = np.minimum(d_neg, distance(pos, neg))
    return np.maximum(0.0, margin + d_pos - d_neg)


def ref_poisson(x, y, log_input=True, full=False, eps=1e-8):
    loss = np.exp(x) - y * x if log_input else x - y * np.log(x + eps)
    if full:
        stirling = np.zeros_like(y)
        for index, value in np.ndenumerate(y):
            if value > 1:  # log(y!) ~ y log y - y + 0.5 log(2 pi y)
                stirling[index] = (value * math.log(value) - value
                                   + 0.5 * math.log(2 * math.pi * value))
        loss = loss + stirling
    return loss


def ref_gaussian(x, y, var, full=False, eps=1e-6):
    v = np.maximum(var, eps)
    loss = 0.5 * (np.log(v) + (x - y) ** 2 / v)
    return loss + 0.5 * math.log(2 * math.pi) if full else loss


def ref_cosine(x1, x2, y, margin=0.0):
    cos = (x1 * x2).sum(-1) / np.sqrt(((x1 ** 2).sum(-1) + 1e-12) * ((x2 ** 2).sum(-1) + 1e-12))
    return np.where(y == 1, 1 - cos, np.maximum(0.0, cos - margin))


def tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


def close(result, expected, rtol=1e-6, atol=1e-9):
    np.testing.assert_allclose(result.numpy(), expected, rtol=rtol, atol=atol)


def signs(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


# --------------------------------------------------------------------------
# Values for every reduction
# --------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_loss(reduction, device, rng):
    x1, x2, y = rng.normal(size=6), rng.normal(size=6), signs(rng, 6)
    for margin in (0.0, 0.5):
        expected = ref_reduce(ref_margin_ranking(x1, x2, y, margin), reduction)
        close(F.margin_ranking_loss(tensor(x1, device), tensor(x2, device), tensor(y, device),
                                    margin, reduction=reduction), expected)
        module = nn.MarginRankingLoss(margin, reduction=reduction)
        close(module(tensor(x1, device), tensor(x2, device), tensor(y, device)), expected)


def test_margin_ranking_loss_broadcasts_same_ndim_inputs(device, rng):
    x1, x2, y = rng.normal(size=(3, 1)), rng.normal(size=(1, 4)), signs(rng, (3, 4))
    result = F.margin_ranking_loss(tensor(x1, device), tensor(x2, device), tensor(y, device),
                                   0.2, reduction="none")
    assert result.shape == (3, 4)
    close(result, ref_margin_ranking(x1, x2, y, 0.2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss(reduction, device, rng):
    x, y = np.abs(rng.normal(size=(4, 5))) * 2, signs(rng, (4, 5))
    for margin in (1.0, 2.5):
        expected = ref_reduce(ref_hinge_embedding(x, y, margin), reduction)
        close(F.hinge_embedding_loss(tensor(x, device), tensor(y, device), margin,
                                     reduction=reduction),
              expected)
        module = nn.HingeEmbeddingLoss(margin, reduction=reduction)
        close(module(tensor(x, device), tensor(y, device)), expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(reduction, device, rng):
    x, y = rng.normal(size=(4, 3)) * 3, signs(rng, (4, 3))
    expected = ref_reduce(ref_soft_margin(x, y), reduction)
    close(F.soft_margin_loss(tensor(x, device), tensor(y, device), reduction=reduction), expected)
    close(nn.SoftMarginLoss(reduction=reduction)(tensor(x, device), tensor(y, device)), expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss(reduction, weighted, device, rng):
    x = rng.normal(size=(5, 4)) * 3
    y = (rng.uniform(size=(5, 4)) > 0.5).astype(np.float64)
    w = rng.uniform(0.5, 2.0, size=4) if weighted else None
    expected = ref_reduce(ref_multilabel_soft_margin(x, y, 1.0 if w is None else w), reduction)
    weight = None if w is None else tensor(w, device)
    close(F.multilabel_soft_margin_loss(tensor(x, device), tensor(y, device), weight,
                                        reduction=reduction),
          expected)
    module = nn.MultiLabelSoftMarginLoss(weight=None if w is None else list(w),
                                         reduction=reduction).to(device)
    close(module(tensor(x, device), tensor(y, device)), expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss(reduction, device, rng):
    x = rng.normal(size=(4, 5))
    y = np.array([[3, 0, -1, 1, 2],        # 3 and 0 listed; entries after -1 ignored
                  [0, 1, 2, 3, 4],         # every class a target: nothing to beat, 0
                  [-1, 2, 2, 2, 2],        # none listed: 0
                  [4, 4, 1, -1, -1]])      # a repeated target counts twice, as in PyTorch
    expected = ref_reduce(ref_multilabel_margin(x, y), reduction)
    close(F.multilabel_margin_loss(tensor(x, device), tensor(y, device), reduction=reduction),
          expected)
    module = nn.MultiLabelMarginLoss(reduction=reduction)
    close(module(tensor(x, device), tensor(y, device)), expected)


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_multilabel_margin_loss_random_lists(num_samples, num_classes, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_samples, num_classes))
    y = np.full((num_samples, num_classes), -1)
    for n in range(num_samples):
        labels = rng.permutation(num_classes)[:rng.integers(0, num_classes + 1)]
        y[n, :len(labels)] = labels
    close(F.multilabel_margin_loss(tg.tensor(x), tg.tensor(y), reduction="none"),
          ref_multilabel_margin(x, y))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2, 3, np.inf])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_loss(reduction, p, swap, device, rng):
    a, pos, neg = (rng.normal(size=(5, 3)) for _ in range(3))
    expected = ref_reduce(ref_triplet(a, pos, neg, 0.7, p, 1e-6, swap), reduction)
    inputs = [tensor(v, device) for v in (a, pos, neg)]
    close(F.triplet_margin_loss(*inputs, margin=0.7, p=p, swap=swap, reduction=reduction),
          expected)
    module = nn.TripletMarginLoss(margin=0.7, p=p, swap=swap, reduction=reduction)
    close(module(*inputs), expected)


def test_triplet_margin_loss_eps_and_unbatched(device, rng):
    a, pos, neg = (rng.normal(size=4) for _ in range(3))
    result = F.triplet_margin_loss(tensor(a, device), tensor(pos, device), tensor(neg, device),
                                   margin=2.0, eps=0.1, reduction="none")
    assert result.shape == ()
    close(result, ref_triplet(a, pos, neg, 2.0, 2, 0.1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance_loss(reduction, swap, device, rng):
    a, pos, neg = (rng.normal(size=(6, 3)) for _ in range(3))
    inputs = [tensor(v, device) for v in (a, pos, neg)]
    # the default distance is pairwise_distance: the triplet loss with p = 2, eps = 1e-6
    expected = ref_reduce(ref_triplet(a, pos, neg, 1.0, 2, 1e-6, swap), reduction)
    close(F.triplet_margin_with_distance_loss(*inputs, swap=swap, reduction=reduction),
          expected)
    # a distance of one's own: the L1 distance, no eps

    def manhattan(u, v):
        return (u - v).abs().sum(dim=-1)
    expected = ref_reduce(ref_triplet(a, pos, neg, 0.3, swap=swap,
                                      distance=lambda u, v: np.abs(u - v).sum(-1)), reduction)
    close(F.triplet_margin_with_distance_loss(*inputs, distance_function=manhattan, margin=0.3,
                                              swap=swap, reduction=reduction), expected)
    module = nn.TripletMarginWithDistanceLoss(distance_function=manhattan, margin=0.3, swap=swap,
                                              reduction=reduction)
    close(module(*inputs), expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input, full", [(True, False), (True, True), (False, False),
                                             (False, True)])
def test_poisson_nll_loss(reduction, log_input, full, device, rng):
    y = rng.poisson(2.0, size=(4, 5)).astype(np.float64)     # counts, 0 and 1 among them
    y[0, :3] = [0.0, 1.0, 7.0]
    x = rng.normal(size=(4, 5)) if log_input else rng.uniform(0.1, 4.0, size=(4, 5))
    expected = ref_reduce(ref_poisson(x, y, log_input, full, 1e-8), reduction)
    close(F.poisson_nll_loss(tensor(x, device), tensor(y, device), log_input, full,
                             reduction=reduction), expected)
    module = nn.PoissonNLLLoss(log_input=log_input, full=full, reduction=reduction)
    close(module(tensor(x, device), tensor(y, device)), expected)


def test_poisson_nll_loss_eps_only_for_rates(device):
    x, y = tensor([0.0, 1.0], device), tensor([2.0, 3.0], device)
    # log_input=False: x - y log(x + eps); at x = 0 the eps keeps it finite
    close(F.poisson_nll_loss(x, y, log_input=False, eps=1e-3, reduction="none"),
          [-2 * np.log(1e-3), 1 - 3 * np.log(1 + 1e-3)])
    close(F.poisson_nll_loss(x, y, eps=1e-3, reduction="none"), [1.0, np.e - 3.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1)])
def test_gaussian_nll_loss(reduction, full, var_shape, device, rng):
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    var = rng.uniform(0.2, 2.0, size=var_shape)
    var[0] = 1e-8                                     # below eps: clamped
    broadcast_var = var.reshape(4, -1)                # (4,) is one variance per row
    expected = ref_reduce(ref_gaussian(x, y, broadcast_var, full, 1e-6), reduction)
    close(F.gaussian_nll_loss(tensor(x, device), tensor(y, device), tensor(var, device), full,
                              reduction=reduction), expected)
    module = nn.GaussianNLLLoss(full=full, reduction=reduction)
    close(module(tensor(x, device), tensor(y, device), tensor(var, device)), expected)


def test_gaussian_nll_loss_scalar_var_broadcast_target_and_dtype(device, rng):
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 1))
    result = F.gaussian_nll_loss(tensor(x, device), tensor(y, device), 0.5, eps=1e-3,
                                 reduction="none")
    assert result.shape == (4, 3)
    close(result, ref_gaussian(x, y, 0.5, eps=1e-3))
    # a float64 var does not turn a float32 loss into float64
    x32 = tensor(x.astype(np.float32), device)
    result = F.gaussian_nll_loss(x32, tensor(y.astype(np.float32), device),
                                 tensor(np.full(4, 0.5), device))
    assert result.dtype == np.float32
    close(result, ref_gaussian(x, y, 0.5).mean(), rtol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_loss(reduction, device, rng):
    x1, x2, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 4)), signs(rng, 6)
    for margin in (0.0, -0.3, 0.4):
        expected = ref_reduce(ref_cosine(x1, x2, y, margin), reduction)
        close(F.cosine_embedding_loss(tensor(x1, device), tensor(x2, device), tensor(y, device),
                                      margin, reduction=reduction), expected)
        module = nn.CosineEmbeddingLoss(margin, reduction=reduction)
        close(module(tensor(x1, device), tensor(x2, device), tensor(y, device)), expected)


def test_cosine_embedding_loss_unbatched_and_int_targets(device, rng):
    x1, x2 = rng.normal(size=4), rng.normal(size=4)
    result = F.cosine_embedding_loss(tensor(x1, device), tensor(x2, device), tensor(-1, device),
                                     reduction="none")
    assert result.shape == ()
    close(result, ref_cosine(x1, x2, -1))
    x1, x2 = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    close(F.cosine_embedding_loss(tensor(x1, device), tensor(x2, device), [1, -1, 1]),
          ref_cosine(x1, x2, np.array([1, -1, 1])).mean())


# --------------------------------------------------------------------------
# Small cases worked out by hand
# --------------------------------------------------------------------------

def test_hand_checked_values(device):
    def t(values):
        return tensor(np.array(values, dtype=np.float64), device)

    # max(0, -y (x1 - x2) + margin): -(1 - 2) + 0.5 = 1.5 and -(2 - 1) + 0.5 < 0
    close(F.margin_ranking_loss(t([1.0, 2.0]), t([2.0, 1.0]), t([1.0, 1.0]), 0.5, reduction="none"),
          [1.5, 0.0])
    # y = 1: x itself; y = -1: max(0, 1 - x)
    close(F.hinge_embedding_loss(t([0.3, 0.3, 2.0]), t([1.0, -1.0, -1.0]), reduction="none"),
          [0.3, 0.7, 0.0])
    # log(1 + e^0) = log 2
    close(F.soft_margin_loss(t([0.0, 0.0]), t([1.0, -1.0]), reduction="sum"), 2 * np.log(2.0))
    # PyTorch's documented example: 0.25 * ((1 - (0.1 - 0.2)) + (1 - (0.1 - 0.4))
    #                                       + (1 - (0.8 - 0.2)) + (1 - (0.8 - 0.4))) = 0.85
    close(F.multilabel_margin_loss(t([[0.1, 0.2, 0.4, 0.8]]), tensor(np.array([[3, 0, -1, 1]]),
                                                                      device)), 0.85)
    # d(a, p) = 5 and d(a, n) = 1 (eps = 0): max(0, 1 + 5 - 1) = 5
    close(F.triplet_margin_loss(t([[0.0, 0.0]]), t([[3.0, 4.0]]), t([[0.0, 1.0]]), eps=0.0),
          5.0)
    # x = 0 (rate 1), y = 2: e^0 - 0 = 1; full adds 2 log 2 - 2 + 0.5 log(4 pi)
    close(F.poisson_nll_loss(t([0.0]), t([2.0]), full=True),
          1 + 2 * np.log(2.0) - 2 + 0.5 * np.log(4 * np.pi))
    # 0.5 (log 2 + (1 - 3)^2 / 2) = 0.5 log 2 + 1
    close(F.gaussian_nll_loss(t([1.0]), t([3.0]), t([2.0])), 0.5 * np.log(2.0) + 1)
    # orthogonal pair: cos = 0; y = 1 costs 1, y = -1 with margin -0.5 costs 0.5
    close(F.cosine_embedding_loss(t([[1.0, 0.0], [1.0, 0.0]]), t([[0.0, 1.0], [0.0, 1.0]]),
                                  t([1.0, -1.0]), margin=-0.5, reduction="none"), [1.0, 0.5])


# --------------------------------------------------------------------------
# Stability at extreme inputs, and gradient corners
# --------------------------------------------------------------------------

def test_soft_margin_loss_huge_scores_finite(device):
    x = tg.tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=np.float32), device=device,
                  requires_grad=True)
    y = tensor(np.array([1.0, 1.0, -1.0, -1.0], dtype=np.float32), device)
    loss = F.soft_margin_loss(x, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.0, 1e4, 1e4, 0.0])
    loss.sum().backward()
    # d/dx softplus(-y x) = -y sigmoid(-y x): 0, -1, 1, 0
    np.testing.assert_allclose(x.grad.numpy(), [0.0, -1.0, 1.0, 0.0])


def test_multilabel_soft_margin_loss_huge_logits_finite(device):
    x = tg.tensor(np.array([[1e4, -1e4, 1e4, -1e4]], dtype=np.float32), device=device,
                  requires_grad=True)
    y = tensor(np.array([[1.0, 0.0, 0.0, 1.0]], dtype=np.float32), device)
    loss = F.multilabel_soft_margin_loss(x, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [2e4 / 4])
    loss.sum().backward()
    # d/dx = (sigmoid(x) - y) / C
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.0, 0.25, -0.25]])


def test_triplet_with_identical_inputs_has_finite_gradients(device):
    a = tensor(np.ones((2, 3)), device, requires_grad=True)
    pos = tensor(np.ones((2, 3)), device, requires_grad=True)
    neg = tensor(np.ones((2, 3)), device, requires_grad=True)
    loss = F.triplet_margin_loss(a, pos, neg, eps=0.0)     # every distance exactly 0
    close(loss, 1.0)
    loss.backward()
    for x in (a, pos, neg):
        np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def test_cosine_embedding_loss_zero_vector_is_finite(device):
    x1 = tensor(np.zeros((1, 3)), device, requires_grad=True)
    x2 = tensor(np.array([[1.0, 2.0, 2.0]]), device, requires_grad=True)
    loss = F.cosine_embedding_loss(x1, x2, tensor([1.0], device))
    close(loss, 1.0)                         # cos = 0 / 3e-6
    loss.backward()
    assert np.all(np.isfinite(x1.grad.numpy())) and np.all(np.isfinite(x2.grad.numpy()))


def test_poisson_full_target_zero_and_one_finite_gradient(device):
    x = tensor(np.array([0.5, 0.5, 0.5]), device, requires_grad=True)
    y = tensor(np.array([0.0, 1.0, 3.0]), device, requires_grad=True)
    loss = F.poisson_nll_loss(x, y, full=True, reduction="sum")
    loss.backward()
    # d/dy = -x, plus d(Stirling)/dy = log y + 1/(2y) where y > 1
    np.testing.assert_allclose(y.grad.numpy(), [-0.5, -0.5, -0.5 + np.log(3.0) + 1 / 6])
    np.testing.assert_allclose(x.grad.numpy(), np.exp(0.5) - np.array([0.0, 1.0, 3.0]))


def test_gaussian_clamp_passes_the_gradient_straight_through(device):
    var = tensor(np.array([1e-9, 0.5]), device, requires_grad=True)
    x = tensor(np.array([0.002, 1.0]), device, requires_grad=True)
    eps = 1e-6
    F.gaussian_nll_loss(x, tensor(np.zeros(2), device), var, eps=eps, reduction="sum").backward()
    v = np.array([eps, 0.5])                                  # max(var, eps)
    d = np.array([0.002, 1.0])
    # dl/dv of 0.5 (log v + d²/v) at the clamped v, handed to var unchanged (PyTorch's):
    # -1.5e6 for the clamped one, where a differentiated clamp would give 0
    np.testing.assert_allclose(var.grad.numpy(), 0.5 * (1 / v - d ** 2 / v ** 2))
    np.testing.assert_allclose(x.grad.numpy(), d / v)


def test_hinge_embedding_gradient_takes_one_side(device):
    x = tensor(np.array([0.3, 0.3, 2.0]), device, requires_grad=True)
    F.hinge_embedding_loss(x, tensor([1.0, -1.0, -1.0], device), reduction="sum").backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -1.0, 0.0])


def test_gradient_at_the_margin_flows_as_pytorchs_clamp_min(device):
    # tied scores with the default margin 0: loss 0, but the gradient is -y (x1) and y (x2),
    # as PyTorch's clamp_min gives it at exactly 0 (relu would give 0 and never move them)
    x1 = tensor(np.zeros(2), device, requires_grad=True)
    x2 = tensor(np.zeros(2), device, requires_grad=True)
    loss = F.margin_ranking_loss(x1, x2, tensor([1.0, -1.0], device), reduction="sum")
    close(loss, 0.0)
    loss.backward()
    np.testing.assert_array_equal(x1.grad.numpy(), [-1.0, 1.0])
    np.testing.assert_array_equal(x2.grad.numpy(), [1.0, -1.0])
    x = tensor(np.array([1.0]), device, requires_grad=True)   # x = margin, y = -1
    F.hinge_embedding_loss(x, tensor([-1.0], device)).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0])


def test_triplet_swap_uses_the_harder_negative(device):
    a = tensor(np.array([[0.0, 0.0]]), device)
    pos = tensor(np.array([[1.0, 0.0]]), device)
    neg = tensor(np.array([[2.0, 0.0]]), device)   # d(a, n) = 2 but d(p, n) = 1
    close(F.triplet_margin_loss(a, pos, neg, eps=0.0), 0.0)              # 1 + 1 - 2
    close(F.triplet_margin_loss(a, pos, neg, eps=0.0, swap=True), 1.0)   # 1 + 1 - 1


# --------------------------------------------------------------------------
# Gradients (float64 central differences) and second derivatives
# --------------------------------------------------------------------------

def _gradcheck_cases(rng, device):
    def leaf(*shape, low=None, high=None):
        values = rng.normal(size=shape) if low is None else rng.uniform(low, high, size=shape)
        return tensor(values, device, requires_grad=True)

    y_signs = tensor(signs(rng, 5), device)
    y_signs2 = tensor(signs(rng, (4, 3)), device)
    labels = tensor(np.array([[2, 0, -1], [1, -1, 2], [0, 1, 2], [-1, 0, 0]]), device)
    weight = tensor(rng.uniform(0.5, 2.0, size=3), device)
    # counts; no 1: the Stirling term jumps there (it starts at y > 1), no derivative
    counts = tensor(np.array([[0.0, 0.5, 2.0], [5.0, 3.0, 0.0], [1.5, 4.0, 2.0],
                              [9.0, 0.0, 0.2]]), device, requires_grad=True)

    def manhattan(u, v):
        return (u - v).abs().sum(dim=-1)

    return {
        "margin_ranking": (lambda a, b: F.margin_ranking_loss(a, b, y_signs, 0.3),
                           [leaf(5), leaf(5)]),
        "hinge_embedding": (lambda a: F.hinge_embedding_loss(a, y_signs2, 0.8, reduction="sum"),
                            [leaf(4, 3)]),
        "soft_margin": (lambda a: F.soft_margin_loss(a, y_signs2), [leaf(4, 3)]),
        "multilabel_soft_margin": (lambda a, t: F.multilabel_soft_margin_loss(a, t, weight),
                                   [leaf(4, 3), leaf(4, 3, low=0.0, high=1.0)]),
        "multilabel_margin": (lambda a: F.multilabel_margin_loss(a, labels, reduction="none"),
                              [leaf(4, 3)]),
        "triplet": (lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0),
                    [leaf(4, 3), leaf(4, 3), leaf(4, 3)]),
        "triplet_p1_swap": (lambda a, p, n: F.triplet_margin_loss(a, p, n, 3.0, p=1, swap=True),
                            [leaf(4, 3), leaf(4, 3), leaf(4, 3)]),
        "triplet_p3": (lambda a, p, n: F.triplet_margin_loss(a, p, n, 2.0, p=3, eps=0.1),
                       [leaf(4, 3), leaf(4, 3), leaf(4, 3)]),
        "triplet_distance": (lambda a, p, n: F.triplet_margin_with_distance_loss(
                                 a, p, n, distance_function=manhattan, margin=3.0, swap=True),
                             [leaf(4, 3), leaf(4, 3), leaf(4, 3)]),
        "triplet_default_distance": (lambda a, p, n: F.triplet_margin_with_distance_loss(
                                         a, p, n, margin=2.0), [leaf(4, 3), leaf(4, 3),
                                                                leaf(4, 3)]),
        "poisson": (lambda a: F.poisson_nll_loss(a, counts.detach()), [leaf(4, 3)]),
        "poisson_full": (lambda a, t: F.poisson_nll_loss(a, t, full=True, reduction="sum"),
                         [leaf(4, 3), counts]),
        "poisson_rates": (lambda a: F.poisson_nll_loss(a, counts.detach(), log_input=False),
                          [leaf(4, 3, low=0.5, high=3.0)]),
        "gaussian": (lambda a, t, v: F.gaussian_nll_loss(a, t, v, full=True),
                     [leaf(4, 3), leaf(4, 3), leaf(4, 3, low=0.3, high=2.0)]),
        "gaussian_row_var": (lambda a, v: F.gaussian_nll_loss(a, counts.detach(), v,
                                                              reduction="sum"),
                             [leaf(4, 3), leaf(4, low=0.3, high=2.0)]),
        "cosine": (lambda a, b: F.cosine_embedding_loss(a, b, y_signs, margin=-0.2),
                   [leaf(5, 3), leaf(5, 3)]),
    }


GRADCHECK_NAMES = ["margin_ranking", "hinge_embedding", "soft_margin", "multilabel_soft_margin",
                   "multilabel_margin", "triplet", "triplet_p1_swap", "triplet_p3",
                   "triplet_distance", "triplet_default_distance", "poisson", "poisson_full",
                   "poisson_rates", "gaussian", "gaussian_row_var", "cosine"]


@pytest.mark.parametrize("name", GRADCHECK_NAMES)
def test_gradcheck(name, device, rng):
    fn, inputs = _gradcheck_cases(rng, device)[name]
    assert tg.gradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["soft_margin", "multilabel_soft_margin", "multilabel_margin",
                                  "triplet", "triplet_p3", "poisson_full", "poisson_rates",
                                  "gaussian", "cosine"])
def test_gradgradcheck(name, device, rng):
    fn, inputs = _gradcheck_cases(rng, device)[name]
    assert tg.gradgradcheck(fn, inputs)


def test_gradient_of_each_loss_is_not_zero(rng):
    """The gradchecks above can fail: every case has a nonzero gradient to compare."""
    for name in GRADCHECK_NAMES:
        fn, inputs = _gradcheck_cases(rng, "cpu")[name]
        fn(*inputs).sum().backward()
        assert any(np.abs(x.grad.numpy()).max() > 1e-3 for x in inputs), name


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

def _calls(device):
    x = tensor(np.zeros((2, 3)), device)
    pm = tensor(np.ones((2, 3)), device)
    row = tensor(np.ones(2), device)
    labels = tensor(np.array([[0, -1, 0], [1, 2, -1]]), device)
    return {
        "margin_ranking_loss": lambda r: F.margin_ranking_loss(row, row, row, reduction=r),
        "hinge_embedding_loss": lambda r: F.hinge_embedding_loss(x, pm, reduction=r),
        "soft_margin_loss": lambda r: F.soft_margin_loss(x, pm, reduction=r),
        "multilabel_soft_margin_loss": lambda r: F.multilabel_soft_margin_loss(x, x, reduction=r),
        "multilabel_margin_loss": lambda r: F.multilabel_margin_loss(x, labels, reduction=r),
        "triplet_margin_loss": lambda r: F.triplet_margin_loss(x, x, x, reduction=r),
        "triplet_margin_with_distance_loss":
            lambda r: F.triplet_margin_with_distance_loss(x, x, x, reduction=r),
        "poisson_nll_loss": lambda r: F.poisson_nll_loss(x, x, reduction=r),
        "gaussian_nll_loss": lambda r: F.gaussian_nll_loss(x, x, pm, reduction=r),
        "cosine_embedding_loss": lambda r: F.cosine_embedding_loss(x, x, row, reduction=r),
    }


MODULES = [nn.MarginRankingLoss, nn.HingeEmbeddingLoss, nn.SoftMarginLoss,
           nn.MultiLabelSoftMarginLoss, nn.MultiLabelMarginLoss, nn.TripletMarginLoss,
           nn.TripletMarginWithDistanceLoss, nn.PoissonNLLLoss, nn.GaussianNLLLoss,
           nn.CosineEmbeddingLoss]


def test_bad_reduction_raises(device):
    for name, call in _calls(device).items():
        call("sum")  # the call itself is valid
        with pytest.raises(ValueError, match=f"{name}: reduction must be 'mean', 'sum' or "
                                             "'none', got 'avg'"):
            call("avg")
    for module in MODULES:
        with pytest.raises(ValueError, match=f"{module.__name__}: reduction"):
            module(reduction="avg")


@pytest.mark.parametrize("fn", [F.hinge_embedding_loss, F.soft_margin_loss,
                                F.multilabel_soft_margin_loss, F.poisson_nll_loss])
def test_shape_mismatch_names_both_shapes(fn, device):
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 1\)"):
        fn(tensor(np.zeros((4, 3)), device), tensor(np.ones((4, 1)), device))


def test_shape_errors(device):
    def z(*shape):
        return tensor(np.ones(shape), device)

    with pytest.raises(ValueError, match=r"same number of dims.*\(3,\), \(3, 1\) and \(3,\)"):
        F.margin_ranking_loss(z(3), z(3, 1), z(3))
    with pytest.raises(ValueError, match=r"\(3,\), \(4,\) and \(3,\).*do not broadcast"):
        F.margin_ranking_loss(z(3), z(4), z(3))
    with pytest.raises(ValueError, match=r"anchor 2D \(2, 3\), positive 1D \(3,\)"):
        F.triplet_margin_loss(z(2, 3), z(3), z(2, 3))
    with pytest.raises(ValueError, match=r"same number of dimensions"):
        F.triplet_margin_with_distance_loss(z(2, 3), z(2, 3), z(3))
    with pytest.raises(ValueError, match=r"1D target needs 2D inputs.*\(2, 3, 1\)"):
        F.cosine_embedding_loss(z(2, 3, 1), z(2, 3, 1), z(2))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 3\) and target shape \(3,\)"):
        F.cosine_embedding_loss(z(2, 3), z(2, 3), z(3))
    with pytest.raises(ValueError, match=r"target must be \(N,\) or a scalar"):
        F.cosine_embedding_loss(z(2, 3), z(2, 3), z(2, 1))
    with pytest.raises(ValueError, match=r"input shape \(2, 3\) and target shape \(2, 2\)"):
        F.multilabel_margin_loss(z(2, 3), tensor(np.zeros((2, 2), dtype=np.int64), device))
    with pytest.raises(ValueError, match=r"\(N, C\) or \(C,\).*\(2, 3, 4\)"):
        F.multilabel_margin_loss(z(2, 3, 4), tensor(np.zeros((2, 3, 4), dtype=np.int64), device))
    with pytest.raises(ValueError, match=r"weight of shape \(2,\) does not broadcast"):
        F.multilabel_soft_margin_loss(z(2, 3), z(2, 3), weight=z(2))
    with pytest.raises(ValueError, match=r"target of shape \(2, 2\) does not broadcast"):
        F.gaussian_nll_loss(z(2, 3), z(2, 2), z(2, 3))


@pytest.mark.parametrize("var_shape", [(3,), (2, 2), (1, 3), (2, 3, 1)])
def test_gaussian_var_of_the_wrong_size(var_shape, device):
    x = tensor(np.zeros((2, 3)), device)
    with pytest.raises(ValueError, match=r"var of shape .* does not fit the input shape "
                                         r"\(2, 3\): it must be \(2, 3\), \(2,\) or \(2, 1\)"):
        F.gaussian_nll_loss(x, x, tensor(np.ones(var_shape), device))


def test_gaussian_negative_var_raises(device):
    x = tensor(np.zeros(3), device)
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative entries"):
        F.gaussian_nll_loss(x, x, tensor([1.0, -0.1, 1.0], device))
    with pytest.raises(ValueError, match="var has negative entries"):
        F.gaussian_nll_loss(x, x, -1.0)
    F.gaussian_nll_loss(x, x, tensor([1.0, 0.0, 1.0], device))  # 0 is allowed (clamped)


@pytest.mark.parametrize("call", [
    lambda x, y: F.margin_ranking_loss(x, x, y),
    lambda x, y: F.hinge_embedding_loss(x, y),
    lambda x, y: F.soft_margin_loss(x, y),
    lambda x, y: F.cosine_embedding_loss(x.reshape(3, 1), x.reshape(3, 1), y),
], ids=["margin_ranking", "hinge_embedding", "soft_margin", "cosine_embedding"])
def test_plus_minus_one_targets_are_checked(call, device):
    x = tensor(np.array([0.5, 0.1, 0.2]), device)
    with pytest.raises(ValueError, match="target values must be 1 or -1, got 0"):
        call(x, tensor([1.0, 0.0, -1.0], device))
    call(x, tensor(np.array([1, -1, -1]), device))  # integer labels are fine


def test_multilabel_margin_target_errors(device):
    x = tensor(np.zeros((2, 4)), device)
    with pytest.raises(IndexError, match="target value 4 is out of range for 4 classes: "
                                         "expected 0..3"):
        F.multilabel_margin_loss(x, tensor(np.array([[0, 4, -1, 0], [1, -1, 0, 0]]), device))
    with pytest.raises(TypeError, match="integer class indices, got dtype float64"):
        F.multilabel_margin_loss(x, tensor(np.zeros((2, 4)), device))
    # after the end of a list (any negative value) entries are ignored, as in PyTorch
    y = np.array([[1, -5, 9, 9], [-1, 7, 7, 7]])
    close(F.multilabel_margin_loss(x, tensor(y, device), reduction="none"),
          ref_multilabel_margin(np.zeros((2, 4)), y))


def test_option_errors(device):
    x = tensor(np.zeros((2, 3)), device)
    with pytest.raises(ValueError, match=r"triplet_margin_loss: p must be a number, got nan"):
        F.triplet_margin_loss(x, x, x, p=float("nan"))  # (any other p is PyTorch's norm degree)
    with pytest.raises(ValueError, match=r"TripletMarginLoss: p must be a number, got '2'"):
        nn.TripletMarginLoss(p="2")
    with pytest.raises(ValueError, match="margin must be greater than 0, got 0"):
        F.triplet_margin_with_distance_loss(x, x, x, margin=0)
    with pytest.raises(ValueError, match="TripletMarginWithDistanceLoss: margin must be greater"):
        nn.TripletMarginWithDistanceLoss(margin=-1.0)
    with pytest.raises(TypeError):
        F.triplet_margin_with_distance_loss(x, x, x, None)  # options are keyword-only
    with pytest.raises(TypeError):
        nn.GaussianNLLLoss(True)                            # keyword-only, as in PyTorch


# --------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------

def test_module_reprs():
    assert repr(nn.MarginRankingLoss()) == "MarginRankingLoss(margin=0.0, reduction='mean')"
    assert repr(nn.HingeEmbeddingLoss(2.0)) == "HingeEmbeddingLoss(margin=2.0, reduction='mean')"
    assert repr(nn.SoftMarginLoss(reduction="sum")) == "SoftMarginLoss(reduction='sum')"
    assert repr(nn.MultiLabelSoftMarginLoss()) == "MultiLabelSoftMarginLoss(reduction='mean')"
    assert repr(nn.MultiLabelMarginLoss()) == "MultiLabelMarginLoss(reduction='mean')"
    assert repr(nn.TripletMarginLoss(swap=True)) == (
        "TripletMarginLoss(margin=1.0, p=2.0, eps=1e-06, swap=True, reduction='mean')")

    def cosine_distance(u, v):
        return u

    assert repr(nn.TripletMarginWithDistanceLoss(distance_function=cosine_distance)) == (
        "TripletMarginWithDistanceLoss(distance_function=cosine_distance, margin=1.0, "
        "swap=False, reduction='mean')")
    assert repr(nn.PoissonNLLLoss(log_input=False)) == (
        "PoissonNLLLoss(log_input=False, full=False, eps=1e-08, reduction='mean')")
    assert repr(nn.GaussianNLLLoss(full=True)) == (
        "GaussianNLLLoss(full=True, eps=1e-06, reduction='mean')")
    assert repr(nn.CosineEmbeddingLoss(0.5, reduction="none")) == (
        "CosineEmbeddingLoss(margin=0.5, reduction='none')")


def test_module_defaults_match_pytorch():
    assert nn.MarginRankingLoss().margin == 0.0
    assert nn.HingeEmbeddingLoss().margin == 1.0
    loss = nn.TripletMarginLoss()
    assert (loss.margin, loss.p, loss.eps, loss.swap) == (1.0, 2.0, 1e-6, False)
    loss = nn.PoissonNLLLoss()
    assert (loss.log_input, loss.full, loss.eps) == (True, False, 1e-8)
    assert (nn.GaussianNLLLoss().full, nn.GaussianNLLLoss().eps) == (False, 1e-6)
    assert nn.CosineEmbeddingLoss().margin == 0.0
    assert all(module().reduction == "mean" for module in MODULES)


def test_multilabel_soft_margin_weight_is_a_buffer(device, rng):
    module = nn.MultiLabelSoftMarginLoss(weight=[1.0, 2.0, 3.0])
    assert "weight" in module.state_dict()
    module.to(device)
    x, y = rng.normal(size=(4, 3)), (rng.uniform(size=(4, 3)) > 0.5).astype(np.float64)
    close(module(tensor(x, device), tensor(y, device)),
          ref_multilabel_soft_margin(x, y, np.array([1.0, 2.0, 3.0])).mean(), rtol=1e-6)
    assert nn.MultiLabelSoftMarginLoss().weight is None


def test_public_names():
    import tinygrad_opt.nn.functional_loss_more as functional_more
    import tinygrad_opt.nn.loss_more as loss_more
    for name in functional_more.__all__:
        assert getattr(F, name) is getattr(functional_more, name)
        assert getattr(functional_more, name).__doc__
    for name in loss_more.__all__:
        assert getattr(nn, name) is getattr(loss_more, name)
        assert getattr(loss_more, name).__doc__
    assert len(functional_more.__all__) == len(loss_more.__all__) == 10
