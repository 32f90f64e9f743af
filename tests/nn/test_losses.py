"""Losses (API.md section 4) against independent plain-NumPy formulas.

Every reference below is written from the loss's textbook / PyTorch definition
in NumPy, never by calling back into the package. Gradients are checked with
central differences in float64 (tg.gradcheck), second derivatives for a few.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt.nn import loss as L

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


def ref_log_softmax(x, axis=1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def ref_mse(x, y):
    return (x - y) ** 2


def ref_l1(x, y):
    return np.abs(x - y)


def ref_huber(x, y, delta):
    d = x - y
    return np.where(np.abs(d) < delta, 0.5 * d ** 2, delta * (np.abs(d) - 0.5 * delta))


def ref_smooth_l1(x, y, beta):
    d = np.abs(x - y)
    if beta == 0:
        return d
    return np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta)


def ref_hinge(s, y, margin):
    return np.maximum(0.0, margin - y * s)


def ref_bce(p, y, w=1.0):
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100.0)
        log_q = np.maximum(np.log(1 - p), -100.0)
    return -w * (y * log_p + (1 - y) * log_q)


def ref_bce_logits(x, y, w=1.0, pos_weight=1.0):
    log_sigmoid = -np.logaddexp(0.0, -x)          # log(1 / (1 + e^-x))
    log_one_minus_sigmoid = -np.logaddexp(0.0, x)  # log(1 / (1 + e^x))
    return -w * (pos_weight * y * log_sigmoid + (1 - y) * log_one_minus_sigmoid)


def ref_cross_entropy(x, y, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """Index targets: per prediction (1-eps) w[y] (-log p_y) + eps/C sum_c w[c] (-log p_c);
    'mean' divides by the sum of w[y] over the non-ignored predictions."""
    num_classes = x.shape[1]
    log_p = np.moveaxis(ref_log_softmax(x, 1), 1, -1).reshape(-1, num_classes)
    flat = y.reshape(-1)
    w = np.ones(num_classes) if weight is None else weight
    losses = np.zeros(len(flat))
    w_y = np.zeros(len(flat))
    for n, cls in enumerate(flat):
        if cls == ignore_index:
            continue
        nll = -w[cls] * log_p[n, cls]
        smooth = -(w * log_p[n]).sum()
        losses[n] = (1 - eps) * nll + eps / num_classes * smooth
        w_y[n] = w[cls]
    if reduction == "none":
        return losses.reshape(y.shape)
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / w_y.sum()


def ref_soft_cross_entropy(x, q, weight=None, reduction="mean", eps=0.0):
    num_classes = x.shape[1]
    q = (1 - eps) * q + eps / num_classes
    w = np.ones(num_classes) if weight is None else weight
    w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
    losses = -(w * q * ref_log_softmax(x, 1)).sum(axis=1)
    return ref_reduce(losses, reduction)


def ref_multi_margin(x, y, p=1, margin=1.0, weight=None):
    num_samples, num_classes = x.shape
    losses = np.zeros(num_samples)
    for n in range(num_samples):
        total = 0.0
        for i in range(num_classes):
            if i != y[n]:
                total += max(0.0, margin - x[n, y[n]] + x[n, i]) ** p
        w = 1.0 if weight is None else weight[y[n]]
        losses[n] = w * total / num_classes
    return losses


def ref_sigmoid_focal(x, y, alpha, gamma):
    p = 1 / (1 + np.exp(-x))
    ce = ref_bce_logits(x, y)
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


def ref_focal(x, y, gamma, alpha=None):
    log_p = np.moveaxis(ref_log_softmax(x, 1), 1, -1).reshape(-1, x.shape[1])
    flat = y.reshape(-1)
    log_p_y = log_p[np.arange(len(flat)), flat]
    a = np.ones(x.shape[1]) if alpha is None else np.asarray(alpha)
    losses = -a[flat] * (1 - np.exp(log_p_y)) ** gamma * log_p_y
    return losses.reshape(y.shape)


def tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


def close(result, expected, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(result.numpy(), expected, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------
# Elementwise losses: values for every reduction
# --------------------------------------------------------------------------

POINTWISE = [
    ("mse", lambda x, y, r: L.mse_loss(x, y, reduction=r), ref_mse),
    ("l1", lambda x, y, r: L.l1_loss(x, y, reduction=r), ref_l1),
    ("huber", lambda x, y, r: L.huber_loss(x, y, r), lambda x, y: ref_huber(x, y, 1.0)),
    ("huber_d0.5", lambda x, y, r: L.huber_loss(x, y, r, delta=0.5),
     lambda x, y: ref_huber(x, y, 0.5)),
    ("smooth_l1", lambda x, y, r: L.smooth_l1_loss(x, y, reduction=r),
     lambda x, y: ref_smooth_l1(x, y, 1)),
    ("smooth_l1_b0.5", lambda x, y, r: L.smooth_l1_loss(x, y, reduction=r, beta=0.5),
     lambda x, y: ref_smooth_l1(x, y, 0.5)),
    ("smooth_l1_b0", lambda x, y, r: L.smooth_l1_loss(x, y, reduction=r, beta=0.0),
     lambda x, y: ref_smooth_l1(x, y, 0.0)),
    ("bce_logits", lambda x, y, r: L.binary_cross_entropy_with_logits(x, y, reduction=r),
     ref_bce_logits),
]


@pytest.mark.parametrize("name, fn, ref", POINTWISE, ids=[row[0] for row in POINTWISE])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_values(name, fn, ref, reduction, device, rng):
    x = rng.normal(size=(5, 4)) * 2
    y = rng.normal(size=(5, 4)) if "bce" not in name else rng.uniform(size=(5, 4))
    result = fn(tensor(x.astype(np.float32), device), tensor(y.astype(np.float32), device),
                reduction)
    close(result, ref_reduce(ref(x, y), reduction), rtol=1e-5, atol=1e-5)
    assert result.dtype == np.float32


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_values(reduction, device, rng):
    s = rng.normal(size=(7,)) * 2
    y = rng.choice([-1.0, 1.0], size=7)
    close(L.hinge_loss(tensor(s, device), tensor(y, device), margin=0.5, reduction=reduction),
          ref_reduce(ref_hinge(s, y, 0.5), reduction))
    close(L.HingeLoss(margin=0.5, reduction=reduction)(tensor(s, device), tensor(y, device)),
          ref_reduce(ref_hinge(s, y, 0.5), reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_values_with_weight(reduction, device, rng):
    p = rng.uniform(0.01, 0.99, size=(4, 3))
    y = rng.uniform(size=(4, 3))
    w = rng.uniform(0.5, 2, size=(3,))  # broadcasts over the rows
    result = L.binary_cross_entropy(tensor(p, device), tensor(y, device), tensor(w, device),
                                    reduction=reduction)
    close(result, ref_reduce(ref_bce(p, y, w), reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_weight_and_pos_weight(reduction, device, rng):
    x = rng.normal(size=(6, 3)) * 3
    y = (rng.uniform(size=(6, 3)) > 0.5).astype(np.float64)
    w = rng.uniform(0.5, 2, size=(6, 1))
    pos_weight = np.array([0.5, 2.0, 5.0])  # per class, along the last dim
    result = L.binary_cross_entropy_with_logits(tensor(x, device), tensor(y, device),
                                                tensor(w, device), reduction=reduction,
                                                pos_weight=tensor(pos_weight, device))
    close(result, ref_reduce(ref_bce_logits(x, y, w, pos_weight), reduction))
    module = L.BCEWithLogitsLoss(weight=tensor(w, device), reduction=reduction,
                                 pos_weight=tensor(pos_weight, device))
    close(module(tensor(x, device), tensor(y, device)), result.numpy())


# --------------------------------------------------------------------------
# Binary losses: saturation, exact zeros, clamped logs
# --------------------------------------------------------------------------

def test_bce_with_logits_huge_logits_finite(device):
    x = tg.tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=np.float32), device=device,
                  requires_grad=True)
    y = tensor(np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32), device)
    loss = L.binary_cross_entropy_with_logits(x, y, reduction="none",
                                              pos_weight=tensor(np.float32([3.0]), device))
    np.testing.assert_allclose(loss.numpy(), [1e4, 3e4, 0.0, 0.0])
    loss.sum().backward()
    # d/dx = (1 + (pw - 1) y) sigmoid(x) - pw y  ->  1, -3, 0, 0
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -3.0, 0.0, 0.0])


def test_bce_with_logits_gradient_at_zero_logit(device):
    # softplus'(0) = 1/2 exactly: the gradient at x = 0 is sigmoid(0) - y = 0.5 - y
    x = tensor(np.zeros(2), device, requires_grad=True)
    L.binary_cross_entropy_with_logits(x, tensor([1.0, 0.0], device), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [-0.5, 0.5])


def test_bce_probabilities_zero_and_one(device):
    p = tensor(np.array([0.0, 1.0, 0.0, 1.0, 0.5]), device, requires_grad=True)
    y = tensor(np.array([1.0, 0.0, 0.0, 1.0, 1.0]), device)
    loss = L.binary_cross_entropy(p, y, reduction="none")
    # log clamped at -100, as PyTorch: a confident wrong answer costs 100
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0, 0.0, 0.0, np.log(2.0)], atol=1e-12)
    loss.sum().backward()
    grad = p.grad.numpy()
    assert np.all(np.isfinite(grad))
    # away from the clamp the gradient is the exact -y/p + (1-y)/(1-p)
    np.testing.assert_allclose(grad[2:], [1.0, -1.0, -2.0])


def test_bce_rejects_values_outside_unit_interval(device):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        L.binary_cross_entropy(tensor([0.5, 1.5], device), tensor([0.0, 1.0], device))


def test_exact_zero_error_has_zero_loss_and_gradient(device):
    x = tensor(np.array([0.0, 1.5, -2.0]), device, requires_grad=True)
    for fn in (L.mse_loss, L.l1_loss, L.huber_loss, L.smooth_l1_loss):
        x.grad = None
        loss = fn(x, tensor(np.array([0.0, 1.5, -2.0]), device), reduction="sum")
        assert loss.item() == 0.0
        loss.backward()
        np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def test_huber_is_delta_times_smooth_l1(device, rng):
    x = rng.normal(size=20) * 3
    y = rng.normal(size=20)
    huber = L.huber_loss(tensor(x, device), tensor(y, device), "none", delta=2.0)
    smooth = L.smooth_l1_loss(tensor(x, device), tensor(y, device), reduction="none", beta=2.0)
    np.testing.assert_allclose(huber.numpy(), 2.0 * smooth.numpy())


# --------------------------------------------------------------------------
# Cross-entropy and NLL
# --------------------------------------------------------------------------

CE_CASES = [
    dict(),
    dict(weight=True),
    dict(ignore=True),
    dict(eps=0.1),
    dict(weight=True, ignore=True),
    dict(weight=True, ignore=True, eps=0.2),
    dict(ignore=True, eps=0.3),
]


@pytest.mark.parametrize("case", CE_CASES, ids=lambda case: "-".join(case) or "plain")
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_index_targets(case, shape, reduction, device, rng):
    x = rng.normal(size=shape) * 2
    target_shape = (shape[0],) + shape[2:]
    y = rng.integers(0, shape[1], size=target_shape)
    ignore_index = 2 if case.get("ignore") else -100  # class 2 is ignored where it occurs
    y.reshape(-1)[0] = ignore_index if case.get("ignore") else y.reshape(-1)[0]
    weight = rng.uniform(0.2, 3.0, size=shape[1]) if case.get("weight") else None
    eps = case.get("eps", 0.0)
    result = L.cross_entropy(tensor(x, device), tensor(y, device),
                             None if weight is None else tensor(weight, device),
                             ignore_index=ignore_index, reduction=reduction,
                             label_smoothing=eps)
    expected = ref_cross_entropy(x, y, weight, ignore_index, reduction, eps)
    close(result, expected, rtol=1e-10, atol=1e-12)
    module = L.CrossEntropyLoss(None if weight is None else tensor(weight, device),
                                ignore_index=ignore_index, reduction=reduction,
                                label_smoothing=eps)
    close(module(tensor(x, device), tensor(y, device)), expected, rtol=1e-10, atol=1e-12)


def test_cross_entropy_default_ignore_index_and_array_targets(device, rng):
    x = rng.normal(size=(5, 3))
    y = np.array([0, -100, 2, 1, -100])
    result = L.cross_entropy(tensor(x, device), y)  # a host NumPy array as target
    close(result, ref_cross_entropy(x, y), rtol=1e-10)
    # the ignored rows get zero gradient, the others softmax - onehot over 3 kept rows
    xt = tensor(x, device, requires_grad=True)
    L.cross_entropy(xt, [0, -100, 2, 1, -100]).backward()  # a list works too
    softmax = np.exp(ref_log_softmax(x))
    expected = softmax.copy()
    expected[[0, 2, 3], [0, 2, 1]] -= 1
    expected[[1, 4]] = 0
    np.testing.assert_allclose(xt.grad.numpy(), expected / 3, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_an_ignored_prediction_with_minus_inf_leaves_loss_and_gradients_finite(
        reduction, weighted, device):
    """PyTorch skips ignored predictions: a -inf log-probability in one (a class the
    model rules out) must not turn the loss into NaN (0 * -inf), nor any gradient."""
    log_probs = np.array([[-np.inf, 0.0], [0.0, -np.inf], [-0.5, -1.0]])
    target = np.array([-100, 0, 0])
    weight = np.array([2.0, 3.0]) if weighted else None
    lp = tensor(log_probs, device, requires_grad=True)
    w = tensor(weight, device, requires_grad=True) if weighted else None
    loss = L.nll_loss(lp, tensor(target, device), w, reduction=reduction)
    kept_losses = np.array([0.0, 0.0, 0.5]) * (2.0 if weighted else 1.0)  # rows 1, 2: class 0
    expected = {"none": kept_losses, "sum": kept_losses.sum(),
                "mean": kept_losses.sum() / (4.0 if weighted else 2.0)}[reduction]
    close(loss, expected, rtol=1e-12)
    loss.sum().backward()
    grad = lp.grad.numpy()
    assert np.isfinite(grad).all()
    scale = {"none": 1.0, "sum": 1.0, "mean": 1 / (4.0 if weighted else 2.0)}[reduction]
    np.testing.assert_allclose(grad, np.array([[0.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
                               * (2.0 if weighted else 1.0) * scale, rtol=1e-12)
    if weighted:
        assert np.isfinite(w.grad.numpy()).all()


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_cross_entropy_skips_an_ignored_row_of_minus_inf_logits(eps, device):
    x = np.array([[0.0, -np.inf, 1.0], [0.0, 1.0, 2.0]])
    xt = tensor(x, device, requires_grad=True)
    loss = L.cross_entropy(xt, tensor(np.array([-100, 2]), device), label_smoothing=eps)
    close(loss, ref_cross_entropy(x[1:], np.array([2]), eps=eps), rtol=1e-10)
    loss.backward()
    grad = xt.grad.numpy()
    np.testing.assert_array_equal(grad[0], [0.0, 0.0, 0.0])
    assert np.isfinite(grad).all()


def test_cross_entropy_all_ignored_mean_is_nan_like_pytorch(device, rng):
    x = tensor(rng.normal(size=(2, 3)), device)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = L.cross_entropy(x, tensor(np.array([-100, -100]), device))
    assert np.isnan(result.item())
    assert L.cross_entropy(x, tensor(np.array([-100, -100]), device), reduction="sum").item() == 0


@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probability_targets(shape, reduction, eps, weighted, device, rng):
    x = rng.normal(size=shape)
    q = rng.uniform(size=shape)
    q = q / q.sum(axis=1, keepdims=True)
    weight = rng.uniform(0.5, 2, size=shape[1]) if weighted else None
    result = L.cross_entropy(tensor(x, device), tensor(q, device),
                             None if weight is None else tensor(weight, device),
                             reduction=reduction, label_smoothing=eps)
    close(result, ref_soft_cross_entropy(x, q, weight, reduction, eps), rtol=1e-10, atol=1e-12)


def test_label_smoothing_equals_smoothed_one_hot_targets(device, rng):
    x = rng.normal(size=(6, 5))
    y = rng.integers(0, 5, size=6)
    one_hot = np.eye(5)[y]
    smoothed = L.cross_entropy(tensor(x, device), tensor(y, device), label_smoothing=0.3)
    soft = L.cross_entropy(tensor(x, device), tensor(one_hot, device), label_smoothing=0.3)
    np.testing.assert_allclose(smoothed.item(), soft.item(), rtol=1e-12)


def test_cross_entropy_unbatched(device, rng):
    x = rng.normal(size=4)
    result = L.cross_entropy(tensor(x, device), 2, reduction="none")
    assert result.shape == ()
    np.testing.assert_allclose(result.item(), -ref_log_softmax(x[None])[0, 2], rtol=1e-12)
    result = L.cross_entropy(tensor(x, device), tensor(np.array(1), device))
    np.testing.assert_allclose(result.item(), -ref_log_softmax(x[None])[0, 1], rtol=1e-12)


def test_cross_entropy_huge_logits_finite(device):
    x = tg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=np.float32),
                  device=device, requires_grad=True)
    y = tensor(np.array([1, 0]), device)
    loss = L.cross_entropy(x, y, reduction="none", label_smoothing=0.1)
    values = loss.numpy()
    assert np.all(np.isfinite(values))
    # row 0: -log p_1 = 2e4; row 1: -log p_0 = 2e4 + log 2 (two tied winners)
    smooth0 = (0 + 2e4 + 1e4) / 3  # -mean_c log p_c for row 0
    np.testing.assert_allclose(values[0], 0.9 * 2e4 + 0.1 * smooth0, rtol=1e-6)
    loss.sum().backward()
    grad = x.grad.numpy()
    assert np.all(np.isfinite(grad))
    # softmax - smoothed one-hot: row 1 splits the probability between the tied classes
    np.testing.assert_allclose(grad[1], [0.0 - (0.9 + 0.1 / 3), 0.5 - 0.1 / 3, 0.5 - 0.1 / 3],
                               atol=1e-6)


def test_cross_entropy_ties_give_log_num_classes(device):
    x = tensor(np.zeros((3, 4)), device, requires_grad=True)
    loss = L.cross_entropy(x, tensor(np.array([0, 1, 3]), device))
    np.testing.assert_allclose(loss.item(), np.log(4.0), rtol=1e-12)
    loss.backward()
    expected = np.full((3, 4), 0.25)
    expected[[0, 1, 2], [0, 1, 3]] -= 1
    np.testing.assert_allclose(x.grad.numpy(), expected / 3, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction, device, rng):
    log_p = ref_log_softmax(rng.normal(size=(3, 5, 2)))
    y = rng.integers(0, 5, size=(3, 2))
    y[1, 0] = 4
    weight = rng.uniform(0.5, 2, size=5)
    # nll on log-probabilities is cross-entropy's reference with eps = 0 (log_softmax is idempotent)
    expected = ref_cross_entropy(log_p, y, weight, 4, reduction)
    result = L.nll_loss(tensor(log_p, device), tensor(y, device), tensor(weight, device),
                        ignore_index=4, reduction=reduction)
    close(result, expected, rtol=1e-10, atol=1e-12)
    module = L.NLLLoss(tensor(weight, device), ignore_index=4, reduction=reduction)
    close(module(tensor(log_p, device), tensor(y, device)), expected, rtol=1e-10, atol=1e-12)
    # a direct formula for the unweighted (N, C) case: -mean_n log_p[n, y_n]
    flat = log_p[:, :, 0]
    result = L.nll_loss(tensor(flat, device), tensor(y[:, 0], device), reduction=reduction)
    close(result, ref_reduce(-flat[np.arange(3), y[:, 0]], reduction), rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(2, 5), st.lists(st.integers(1, 3), max_size=2),
       st.floats(0.0, 1.0), st.booleans(), st.integers(0, 2**31 - 1))
def test_cross_entropy_random_shapes(batch, classes, extra, eps, weighted, seed):
    rng = np.random.default_rng(seed)
    shape = (batch, classes) + tuple(extra)
    x = rng.normal(size=shape) * 3
    y = rng.integers(-1, classes, size=(batch,) + tuple(extra))  # -1 is ignore_index here
    weight = rng.uniform(0.1, 2, size=classes) if weighted else None
    for reduction in ("sum", "none"):
        result = L.cross_entropy(tg.tensor(x), tg.tensor(y), weight, ignore_index=-1,
                                 reduction=reduction, label_smoothing=eps)
        np.testing.assert_allclose(result.numpy(),
                                   ref_cross_entropy(x, y, weight, -1, reduction, eps),
                                   rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------
# Margins and focal losses
# --------------------------------------------------------------------------

@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin_loss(p, weighted, reduction, device, rng):
    x = rng.normal(size=(6, 4))
    y = rng.integers(0, 4, size=6)
    weight = rng.uniform(0.5, 2, size=4) if weighted else None
    expected = ref_reduce(ref_multi_margin(x, y, p, 0.7, weight), reduction)
    result = L.multi_margin_loss(tensor(x, device), tensor(y, device), p, 0.7,
                                 None if weight is None else tensor(weight, device),
                                 reduction=reduction)
    close(result, expected, rtol=1e-12, atol=1e-14)
    module = L.MultiMarginLoss(p, 0.7, None if weight is None else tensor(weight, device),
                               reduction=reduction)
    close(module(tensor(x, device), tensor(y, device)), expected, rtol=1e-12, atol=1e-14)


def test_multi_margin_ties_and_satisfied_margins(device):
    # all scores equal: each wrong class violates by exactly the margin
    x = tensor(np.zeros((2, 3)), device)
    np.testing.assert_allclose(
        L.multi_margin_loss(x, tensor(np.array([0, 2]), device), reduction="none").numpy(),
        [2 / 3, 2 / 3])
    # true class ahead by more than the margin: zero loss, zero gradient
    x = tensor(np.array([[5.0, 0.0, 1.0]]), device, requires_grad=True)
    loss = L.multi_margin_loss(x, tensor(np.array([0]), device))
    assert loss.item() == 0.0
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (-1.0, 2.0), (0.6, 0.5), (0.25, 0.0)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_focal_loss(alpha, gamma, reduction, device, rng):
    x = rng.normal(size=(5, 3)) * 2
    y = (rng.uniform(size=(5, 3)) > 0.7).astype(np.float64)
    result = L.sigmoid_focal_loss(tensor(x, device), tensor(y, device), alpha, gamma, reduction)
    close(result, ref_reduce(ref_sigmoid_focal(x, y, alpha, gamma), reduction), rtol=1e-10)


def test_sigmoid_focal_gamma0_no_alpha_is_bce_with_logits(device, rng):
    x = rng.normal(size=(4, 3)) * 3
    y = rng.uniform(size=(4, 3))
    focal = L.sigmoid_focal_loss(logits=tensor(x, device), targets=tensor(y, device), alpha=-1,
                                 gamma=0.0, reduction="none")  # API.md's argument names
    bce = L.binary_cross_entropy_with_logits(tensor(x, device), tensor(y, device),
                                             reduction="none")
    np.testing.assert_allclose(focal.numpy(), bce.numpy(), rtol=1e-14)


def test_sigmoid_focal_huge_logits_finite(device):
    x = tg.tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=np.float32), device=device,
                  requires_grad=True)
    y = tensor(np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32), device)
    loss = L.sigmoid_focal_loss(x, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.75e4, 0.25e4, 0.0, 0.0])
    loss.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, "vector", 0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_loss(gamma, alpha, reduction, device, rng):
    x = rng.normal(size=(6, 3)) * 2
    y = rng.integers(0, 3, size=6)
    a = rng.uniform(0.2, 1, size=3) if alpha == "vector" else alpha
    ref_alpha = None if a is None else (a if alpha == "vector" else np.full(3, a))
    expected = ref_reduce(ref_focal(x, y, gamma, ref_alpha), reduction)
    a_arg = tensor(a, device) if alpha == "vector" else a
    close(L.focal_loss(tensor(x, device), tensor(y, device), gamma, a_arg, reduction), expected,
          rtol=1e-10, atol=1e-12)
    close(L.FocalLoss(gamma, a_arg, reduction)(tensor(x, device), tensor(y, device)), expected,
          rtol=1e-10, atol=1e-12)


def test_focal_loss_spatial_and_plain_mean(device, rng):
    x = rng.normal(size=(2, 3, 4))
    y = rng.integers(0, 3, size=(2, 4))
    alpha = np.array([0.2, 1.0, 3.0])
    result = L.focal_loss(tensor(x, device), tensor(y, device), 2.0, tensor(alpha, device))
    # 'mean' is the plain mean over the 8 predictions, not divided by the alphas
    np.testing.assert_allclose(result.item(), ref_focal(x, y, 2.0, alpha).mean(), rtol=1e-10)


def test_focal_gamma0_equals_cross_entropy(device, rng):
    x = rng.normal(size=(7, 4)) * 3
    y = rng.integers(0, 4, size=7)
    focal = L.FocalLoss(gamma=0.0)(tensor(x, device), tensor(y, device))
    ce = L.CrossEntropyLoss()(tensor(x, device), tensor(y, device))
    np.testing.assert_allclose(focal.item(), ce.item(), rtol=1e-13)


def test_focal_huge_logits_finite(device):
    x = tg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype=np.float32),
                  device=device, requires_grad=True)
    loss = L.focal_loss(x, tensor(np.array([0, 0]), device), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.0, 2e4])  # confident right: 0; wrong: ~2e4
    loss.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


# --------------------------------------------------------------------------
# Gradients (float64 central differences) and second derivatives
# --------------------------------------------------------------------------

def _gradcheck_cases(rng, device):
    x = tensor(rng.normal(size=(4, 3)), device, requires_grad=True)
    y = tensor(rng.normal(size=(4, 3)), device)
    probs = tensor(rng.uniform(0.05, 0.95, size=(4, 3)), device, requires_grad=True)
    soft = tensor(rng.uniform(size=(4, 3)), device, requires_grad=True)
    labels = tensor(rng.integers(0, 3, size=4), device)
    signs = tensor(rng.choice([-1.0, 1.0], size=(4, 3)), device)
    weight = tensor(rng.uniform(0.5, 2, size=3), device)
    x3 = tensor(rng.normal(size=(2, 3, 2)), device, requires_grad=True)
    labels3 = tensor(np.array([[0, 2], [1, -100]]), device)
    return {
        "mse": (lambda a: L.mse_loss(a, y), [x]),
        "l1": (lambda a: L.l1_loss(a, y, reduction="sum"), [x]),
        "huber": (lambda a: L.huber_loss(a, y, delta=0.7), [x]),
        "smooth_l1": (lambda a: L.smooth_l1_loss(a, y, reduction="none", beta=0.7), [x]),
        "bce": (lambda p, t: L.binary_cross_entropy(p, t, weight), [probs, soft]),
        "bce_logits": (lambda a, t: L.binary_cross_entropy_with_logits(a, t, weight,
                                                                        pos_weight=weight),
                       [x, soft]),
        "cross_entropy": (lambda a: L.cross_entropy(a, labels, weight, label_smoothing=0.1),
                          [x]),
        "cross_entropy_spatial": (lambda a: L.cross_entropy(a, labels3, weight,
                                                            label_smoothing=0.2), [x3]),
        "cross_entropy_soft": (lambda a, t: L.cross_entropy(a, t, weight), [x, soft]),
        "nll": (lambda a: L.nll_loss(a, labels, weight, reduction="sum"), [x]),
        "multi_margin": (lambda a: L.multi_margin_loss(a, labels, 2, 0.9, weight), [x]),
        "hinge": (lambda a: L.hinge_loss(a, signs, 0.5, "none"), [x]),
        "sigmoid_focal": (lambda a, t: L.sigmoid_focal_loss(a, t), [x, soft]),
        "focal": (lambda a: L.focal_loss(a, labels, 2.0, weight), [x]),
    }


GRADCHECK_NAMES = ["mse", "l1", "huber", "smooth_l1", "bce", "bce_logits", "cross_entropy",
                   "cross_entropy_spatial", "cross_entropy_soft", "nll", "multi_margin", "hinge",
                   "sigmoid_focal", "focal"]


@pytest.mark.parametrize("name", GRADCHECK_NAMES)
def test_gradcheck(name, device, rng):
    fn, inputs = _gradcheck_cases(rng, device)[name]
    assert tg.gradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["mse", "cross_entropy", "cross_entropy_soft", "bce_logits",
                                  "focal"])
def test_gradgradcheck(name, device, rng):
    fn, inputs = _gradcheck_cases(rng, device)[name]
    assert tg.gradgradcheck(fn, inputs)


def test_gradcheck_catches_a_wrong_loss(rng):
    """The gradient tests can fail: a loss whose value ignores a term is caught."""
    x = tg.tensor(rng.normal(size=(3,)), requires_grad=True)
    with pytest.raises(AssertionError):
        def detached_square(a):
            return (a - a.detach()) + a.detach() * a.detach()  # value a^2, gradient 1
        tg.gradcheck(detached_square, [x])


# --------------------------------------------------------------------------
# Errors and modules
# --------------------------------------------------------------------------

def _calls(device):
    x = tensor(np.zeros((2, 3)), device)
    y = tensor(np.zeros((2, 3)), device)
    labels = tensor(np.array([0, 1]), device)
    signs = tensor(np.ones((2, 3)), device)
    probs = tensor(np.full((2, 3), 0.5), device)
    return [
        lambda r: L.mse_loss(x, y, reduction=r), lambda r: L.l1_loss(x, y, reduction=r),
        lambda r: L.huber_loss(x, y, r), lambda r: L.smooth_l1_loss(x, y, reduction=r),
        lambda r: L.binary_cross_entropy(probs, y, reduction=r),
        lambda r: L.binary_cross_entropy_with_logits(x, y, reduction=r),
        lambda r: L.cross_entropy(x, labels, reduction=r),
        lambda r: L.nll_loss(x, labels, reduction=r),
        lambda r: L.multi_margin_loss(x, labels, reduction=r),
        lambda r: L.hinge_loss(x, signs, reduction=r),
        lambda r: L.sigmoid_focal_loss(x, y, reduction=r),
        lambda r: L.focal_loss(x, labels, reduction=r),
    ]


def test_bad_reduction_raises(device):
    for call in _calls(device):
        with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'.*'avg'"):
            call("avg")
    modules = [L.MSELoss, L.L1Loss, L.HuberLoss, L.SmoothL1Loss, L.BCELoss, L.BCEWithLogitsLoss,
               L.CrossEntropyLoss, L.NLLLoss, L.MultiMarginLoss, L.HingeLoss, L.FocalLoss]
    for module in modules:
        with pytest.raises(ValueError, match=f"{module.__name__}: reduction"):
            module(reduction="avg")


@pytest.mark.parametrize("fn", [L.mse_loss, L.l1_loss, L.huber_loss, L.smooth_l1_loss,
                                L.binary_cross_entropy, L.binary_cross_entropy_with_logits,
                                L.sigmoid_focal_loss])
def test_shape_mismatch_names_both_shapes(fn, device):
    x = tensor(np.full((4, 3), 0.5), device)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 1\)"):
        fn(x, tensor(np.zeros((4, 1)), device))


def test_bad_class_index_message(device):
    x = tensor(np.zeros((3, 4)), device)
    for fn in (L.cross_entropy, L.nll_loss, L.multi_margin_loss, L.focal_loss):
        with pytest.raises(IndexError, match="target value 7 is out of range for 4 classes"):
            fn(x, tensor(np.array([0, 7, 1]), device))
        with pytest.raises(IndexError, match="target value -3 .* 4 classes"):
            fn(x, tensor(np.array([0, -3, 1]), device))
    # ignore_index is not out of range; other negative values are
    L.cross_entropy(x, tensor(np.array([0, -100, 1]), device))
    with pytest.raises(IndexError, match="-1"):
        L.cross_entropy(x, tensor(np.array([0, -1, 1]), device))


def test_class_target_shape_and_dtype_errors(device):
    x = tensor(np.zeros((3, 4)), device)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3,\).*\(2,\)"):
        L.cross_entropy(x, tensor(np.array([0, 1]), device))
    with pytest.raises(TypeError, match=r"integers.*probabilities.*\(3, 4\)"):
        L.cross_entropy(x, tensor(np.array([0.0, 1.0, 2.0]), device))
    # int32 targets (a host array) are accepted and widened
    result = L.cross_entropy(x, np.array([0, 3, 1], dtype=np.int32), reduction="sum")
    np.testing.assert_allclose(result.item(), 3 * np.log(4.0), rtol=1e-12)
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        L.cross_entropy(x, tensor(np.array([0, 1, 2]), device), weight=tensor([1.0, 2.0], device))


def test_hinge_rejects_zero_one_labels(device):
    with pytest.raises(ValueError, match="-1 or \\+1, got 0"):
        L.hinge_loss(tensor([0.3, -0.2], device), tensor([1.0, 0.0], device))


def test_option_validation():
    with pytest.raises(ValueError, match="label_smoothing"):
        L.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="p == 1 and p == 2"):
        L.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="gamma"):
        L.FocalLoss(gamma=-1.0)
    with pytest.raises(ValueError, match="delta"):
        L.HuberLoss(delta=0.0)


def test_modules_match_functions_and_repr(device, rng):
    x = tensor(rng.normal(size=(4, 3)), device)
    y = tensor(rng.normal(size=(4, 3)), device)
    probs = tensor(rng.uniform(0.1, 0.9, size=(4, 3)), device)
    targets = tensor(rng.uniform(size=(4, 3)), device)
    pairs = [
        (L.MSELoss(reduction="sum")(x, y), L.mse_loss(x, y, reduction="sum")),
        (L.L1Loss()(x, y), L.l1_loss(x, y)),
        (L.HuberLoss(delta=0.3)(x, y), L.huber_loss(x, y, delta=0.3)),
        (L.SmoothL1Loss(beta=0.3)(x, y), L.smooth_l1_loss(x, y, beta=0.3)),
        (L.BCELoss(reduction="none")(probs, targets),
         L.binary_cross_entropy(probs, targets, reduction="none")),
    ]
    for module_value, function_value in pairs:
        np.testing.assert_array_equal(module_value.numpy(), function_value.numpy())
    assert "delta=0.3" in repr(L.HuberLoss(delta=0.3))
    assert "label_smoothing=0.1" in repr(L.CrossEntropyLoss(label_smoothing=0.1))


def test_loss_module_weight_is_a_buffer_that_moves(device, rng):
    module = L.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])
    assert "weight" in module.state_dict()
    module.to(device)
    x = rng.normal(size=(4, 3))
    y = np.array([0, 2, 1, 2])
    np.testing.assert_allclose(module(tensor(x, device), tensor(y, device)).item(),
                               ref_cross_entropy(x, y, np.array([1.0, 2.0, 3.0])), rtol=1e-6)
    assert L.CrossEntropyLoss().weight is None


def test_weight_on_another_device_is_a_clear_error():
    x = tg.tensor(np.zeros((2, 3)), device="strict")
    with pytest.raises(RuntimeError, match="weight is on device 'cpu' but input is on 'strict'"):
        L.cross_entropy(x, tg.tensor(np.array([0, 1]), device="strict"),
                        weight=tg.tensor([1.0, 1.0, 1.0]))
