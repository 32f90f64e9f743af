"""Audit (fourth pass) of the losses: every loss with non-default options, in float64
and float32, and every loss on an empty batch.

Each expected value is written here in plain NumPy from PyTorch's documented formula;
PyTorch itself is never imported. Float targets, class weights and variances are given
as float64 (NumPy arrays or Tensors) on purpose: a float32 input must give a float32 loss
of the same value, as PyTorch's losses keep the input's dtype.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F


def ref_log_softmax(x, axis=1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def ref_log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def ref_distance(u, v, p, eps):
    """PyTorch's pairwise_distance: ||u - v + eps||_p over the last dim."""
    d = np.abs(u - v + eps)
    return d.max(-1) if p == np.inf else (d ** p).sum(-1) ** (1 / p)


def loss_cases(rng):
    """name -> (call(make, device), expected), ``make`` turning an array into the input
    Tensor of the dtype under test. Every option is away from its default."""
    x = rng.normal(size=(3, 4))
    y = rng.normal(size=(3, 4))
    w34 = rng.uniform(0.2, 1.5, size=(3, 4))
    wc = rng.uniform(0.2, 1.5, size=4)
    p = rng.uniform(0.05, 0.95, size=(3, 4))
    q = rng.uniform(size=(3, 4))
    labels = np.array([0, 3, 1])
    signs = np.array([1.0, -1.0, -1.0])
    z = rng.normal(size=(2, 3, 2, 2)) * 2
    z_target = rng.uniform(size=(2, 3, 2, 2))
    w311, pw311 = rng.uniform(0.2, 1.5, size=(3, 1, 1)), rng.uniform(0.5, 3.0, size=(3, 1, 1))
    logits = rng.normal(size=(2, 4, 3, 2))
    soft = rng.uniform(size=(2, 4, 3, 2))
    soft /= soft.sum(axis=1, keepdims=True)
    classes = rng.integers(0, 4, size=(2, 3, 2))
    classes[0, 0, 0] = classes[1, 2, 1] = 2                       # ignore_index=2: two ignored
    counts = rng.integers(0, 6, size=(3, 4)).astype(float)
    rates = rng.uniform(0.1, 3.0, size=(3, 4))
    var_rows = rng.uniform(0.0, 0.6, size=3)
    a, pos, neg = rng.normal(size=(3, 5)), rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    on_device = lambda array, device: tg.tensor(array, device=device)  # noqa: E731

    d = x - y
    log_probs = ref_log_softmax(logits)
    keep = classes != 2
    picked = np.take_along_axis(log_probs, np.where(keep, classes, 0)[:, None], 1)[:, 0]
    class_w = wc[np.where(keep, classes, 0)] * keep
    smooth = np.where(keep, -(log_probs * wc.reshape(1, 4, 1, 1)).sum(1), 0.0)
    ce_index = (0.8 * (-class_w * picked).sum() + 0.2 / 4 * smooth.sum()) / class_w.sum()
    soft_smoothed = 0.7 * soft + 0.3 / 4
    ce_soft = -(log_probs * soft_smoothed * wc.reshape(1, 4, 1, 1)).sum()
    stirling = np.where(counts > 1, counts * np.log(np.maximum(counts, 1)) - counts
                        + 0.5 * np.log(2 * np.pi * np.maximum(counts, 1)), 0.0)
    var = np.maximum(var_rows, 0.1)[:, None]
    hinge_mm = np.maximum(0.5 - x[np.arange(3), labels][:, None] + x, 0) ** 2
    hinge_mm[np.arange(3), labels] = 0
    lists = np.array([[3, 0, -1, 1], [1, -1, 3, 3], [-1, 0, 1, 2]])
    mlm = []
    for row, listed in zip(x, lists):
        targets = listed[:np.argmax(np.append(listed, -1) < 0)]
        others = [i for i in range(4) if i not in targets]
        mlm.append(sum(max(0.0, 1 - row[j] + row[i]) for j in targets for i in others) / 4)
    cos = (x * y).sum(1) / np.sqrt(((x * x).sum(1) + 1e-12) * ((y * y).sum(1) + 1e-12))
    cos_distance = lambda u, v: 1 - (u * v).sum(-1) / np.maximum(  # noqa: E731
        np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), 1e-8)

    def triplet(p_, swap, margin, eps):
        negative = ref_distance(a, neg, p_, eps)
        if swap:
            negative = np.minimum(negative, ref_distance(pos, neg, p_, eps))
        return np.maximum(0.0, margin + ref_distance(a, pos, p_, eps) - negative)

    cos_triplet = np.maximum(0.0, 0.5 + cos_distance(a, pos)
                             - np.minimum(cos_distance(a, neg), cos_distance(pos, neg)))
    return {
        "mse_loss weight": (
            lambda make, dev: F.mse_loss(make(x), y, weight=on_device(w34, dev)),
            (w34 * d ** 2).sum() / w34.sum()),
        "l1_loss weight sum": (
            lambda make, dev: F.l1_loss(make(x), y, weight=on_device(w34, dev), reduction="sum"),
            (w34 * np.abs(d)).sum()),
        "smooth_l1_loss beta": (
            lambda make, dev: F.smooth_l1_loss(make(x), y, reduction="none", beta=0.5),
            np.where(np.abs(d) < 0.5, 0.5 * d ** 2 / 0.5, np.abs(d) - 0.25)),
        "huber_loss delta weight": (
            lambda make, dev: F.huber_loss(make(x), y, delta=0.7, weight=on_device(w34, dev)),
            (w34 * np.where(np.abs(d) < 0.7, 0.5 * d ** 2, 0.7 * (np.abs(d) - 0.35))).mean()),
        "binary_cross_entropy class weight": (
            lambda make, dev: F.binary_cross_entropy(make(p), q, weight=on_device(wc, dev)),
            (-wc * (q * np.log(p) + (1 - q) * np.log1p(-p))).mean()),
        "binary_cross_entropy_with_logits pos_weight over channels": (
            lambda make, dev: F.binary_cross_entropy_with_logits(
                make(z), z_target, weight=on_device(w311, dev), pos_weight=pw311,
                reduction="none"),
            -w311 * (pw311 * z_target * ref_log_sigmoid(z)
                     + (1 - z_target) * ref_log_sigmoid(-z))),
        "cross_entropy K-dim weight ignore_index smoothing": (
            lambda make, dev: F.cross_entropy(make(logits), classes, weight=on_device(wc, dev),
                                              ignore_index=2, label_smoothing=0.2),
            ce_index),
        "cross_entropy K-dim probabilities weight smoothing": (
            lambda make, dev: F.cross_entropy(make(logits), soft, weight=on_device(wc, dev),
                                              label_smoothing=0.3, reduction="sum"),
            ce_soft),
        "nll_loss K-dim weight ignore_index": (
            lambda make, dev: F.nll_loss(make(log_probs), classes, weight=on_device(wc, dev),
                                         ignore_index=2, reduction="none"),
            -class_w * picked),
        "kl_div batchmean": (
            lambda make, dev: F.kl_div(make(x), q, reduction="batchmean"),
            (q * (np.log(q) - x)).sum() / 3),
        "kl_div log_target": (
            lambda make, dev: F.kl_div(make(x), y, reduction="sum", log_target=True),
            (np.exp(y) * (y - x)).sum()),
        "poisson_nll_loss rates full eps": (
            lambda make, dev: F.poisson_nll_loss(make(rates), counts, log_input=False, full=True,
                                                 eps=0.5, reduction="none"),
            rates - counts * np.log(rates + 0.5) + stirling),
        "gaussian_nll_loss var per row full eps": (
            lambda make, dev: F.gaussian_nll_loss(make(x), y, on_device(var_rows, dev),
                                                  full=True, eps=0.1),
            (0.5 * (np.log(var) + d ** 2 / var) + 0.5 * np.log(2 * np.pi)).mean()),
        "margin_ranking_loss broadcast": (
            lambda make, dev: F.margin_ranking_loss(make(x[:, :1]), y[:1], signs[:, None] + 0 * y,
                                                    margin=0.3, reduction="none"),
            np.maximum(0.0, -signs[:, None] * (x[:, :1] - y[:1]) + 0.3)),
        "hinge_embedding_loss margin": (
            lambda make, dev: F.hinge_embedding_loss(make(x[:, 0]), signs, margin=0.5,
                                                     reduction="sum"),
            np.where(signs == 1, x[:, 0], np.maximum(0.0, 0.5 - x[:, 0])).sum()),
        "soft_margin_loss": (
            lambda make, dev: F.soft_margin_loss(make(x[:, 0]), signs),
            np.log1p(np.exp(-signs * x[:, 0])).mean()),
        "multilabel_soft_margin_loss weight": (
            lambda make, dev: F.multilabel_soft_margin_loss(make(x), (q > 0.5) * 1.0,
                                                            weight=on_device(wc, dev),
                                                            reduction="none"),
            -(wc * ((q > 0.5) * ref_log_sigmoid(x) + (q <= 0.5) * ref_log_sigmoid(-x))).sum(1)
            / 4),
        "multilabel_margin_loss": (
            lambda make, dev: F.multilabel_margin_loss(make(x), lists, reduction="none"),
            np.array(mlm)),
        "multi_margin_loss p=2 margin weight": (
            lambda make, dev: F.multi_margin_loss(make(x), labels, p=2, margin=0.5,
                                                  weight=on_device(wc, dev), reduction="none"),
            wc[labels] * hinge_mm.sum(1) / 4),
        "cosine_embedding_loss margin": (
            lambda make, dev: F.cosine_embedding_loss(make(x), make(y), signs, margin=0.2,
                                                      reduction="none"),
            np.where(signs == 1, 1 - cos, np.maximum(0.0, cos - 0.2))),
        "triplet_margin_loss p=1 swap eps": (
            lambda make, dev: F.triplet_margin_loss(make(a), make(pos), make(neg), margin=2.0,
                                                    p=1, eps=1e-3, swap=True, reduction="none"),
            triplet(1, True, 2.0, 1e-3)),
        "triplet_margin_loss p=inf": (
            lambda make, dev: F.triplet_margin_loss(make(a), make(pos), make(neg), margin=3.0,
                                                    p=np.inf, reduction="sum"),
            triplet(np.inf, False, 3.0, 1e-6).sum()),
        "triplet_margin_with_distance_loss cosine swap": (
            lambda make, dev: F.triplet_margin_with_distance_loss(
                make(a), make(pos), make(neg), swap=True, margin=0.5, reduction="none",
                distance_function=lambda u, v: 1 - F.cosine_similarity(u, v)),
            cos_triplet),
    }


CASE_NAMES = list(loss_cases(np.random.default_rng(0)))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_loss_with_options_matches_numpy_in_float64_and_float32(name, device, rng):
    call, expected = loss_cases(rng)[name]
    got = call(lambda array: tg.tensor(array, device=device), device)
    assert got.dtype == np.float64 and got.shape == np.shape(expected)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    # float32 input, float64 targets and weights: the loss stays float32, same value
    got = call(lambda array: tg.tensor(np.float32(array), device=device), device)
    assert got.dtype == np.float32 and got.shape == np.shape(expected)
    np.testing.assert_allclose(got.numpy(), expected, rtol=2e-5, atol=2e-6)


# --------------------------------------------------------------------------
# Empty batches: PyTorch's mean over no samples is nan, the sum 0, 'none' empty
# --------------------------------------------------------------------------

def empty_cases(device):
    zeros = lambda *shape: tg.tensor(np.zeros(shape), device=device)        # noqa: E731
    ints = lambda *shape: tg.tensor(np.zeros(shape, np.int64), device=device)  # noqa: E731
    return {
        # name: (call(input, reduction), input shape, 'none' shape)
        "multi_margin_loss": (lambda x, r: F.multi_margin_loss(
            x, ints(0), p=2, weight=zeros(3) + 1, reduction=r), (0, 3), (0,)),
        "multilabel_margin_loss": (lambda x, r: F.multilabel_margin_loss(
            x, ints(0, 3), reduction=r), (0, 3), (0,)),
        "multilabel_soft_margin_loss": (lambda x, r: F.multilabel_soft_margin_loss(
            x, zeros(0, 3), weight=zeros(3) + 1, reduction=r), (0, 3), (0,)),
        "cosine_embedding_loss": (lambda x, r: F.cosine_embedding_loss(
            x, x + 1, zeros(0), reduction=r), (0, 3), (0,)),
        "triplet_margin_loss": (lambda x, r: F.triplet_margin_loss(
            x, x + 1, x - 1, swap=True, reduction=r), (0, 3), (0,)),
        "triplet_margin_with_distance_loss": (lambda x, r: F.triplet_margin_with_distance_loss(
            x, x + 1, x - 1, reduction=r), (0, 3), (0,)),
        "margin_ranking_loss": (lambda x, r: F.margin_ranking_loss(
            x, x + 1, zeros(0), reduction=r), (0,), (0,)),
        "hinge_embedding_loss": (lambda x, r: F.hinge_embedding_loss(
            x, zeros(0), reduction=r), (0,), (0,)),
        "soft_margin_loss": (lambda x, r: F.soft_margin_loss(x, zeros(0), reduction=r),
                             (0,), (0,)),
        "poisson_nll_loss": (lambda x, r: F.poisson_nll_loss(
            x, zeros(0, 3), full=True, reduction=r), (0, 3), (0, 3)),
        "gaussian_nll_loss": (lambda x, r: F.gaussian_nll_loss(
            x, zeros(0, 3), zeros(0) + 1, full=True, reduction=r), (0, 3), (0, 3)),
        "kl_div": (lambda x, r: F.kl_div(x, zeros(0, 3), reduction=r), (0, 3), (0, 3)),
        "binary_cross_entropy_with_logits": (lambda x, r: F.binary_cross_entropy_with_logits(
            x, zeros(0, 3), pos_weight=zeros(3) + 2, reduction=r), (0, 3), (0, 3)),
        "huber_loss": (lambda x, r: F.huber_loss(x, zeros(0, 3), reduction=r), (0, 3), (0, 3)),
    }


@pytest.mark.parametrize("name", list(empty_cases("cpu")))
def test_an_empty_batch_gives_nan_mean_zero_sum_and_an_empty_none(name, device):
    call, shape, none_shape = empty_cases(device)[name]
    x = tg.tensor(np.zeros(shape), device=device, requires_grad=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = call(x, "mean")
    assert mean.shape == () and np.isnan(mean.item())
    total = call(x, "sum")
    assert total.shape == () and total.item() == 0.0
    total.backward()
    assert x.grad.shape == shape
    assert call(x, "none").shape == none_shape
