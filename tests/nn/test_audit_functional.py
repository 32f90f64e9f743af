"""Audit of nn.functional and the losses against PyTorch's documented semantics.

Each expected value is a plain-NumPy formula written here from the definition (or
derived by hand in a comment). The first part pins the fixes of the audit; the second
checks, as a PyTorch user would, the loss options that were found right (so that they
stay right): class weights, ignore_index, label smoothing, probability targets,
(N, C, d1, ...) inputs, BCE's clamp at -100, var broadcasting, the triplet swap.
"""

import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F


def tensor(array, requires_grad=False):
    return tg.tensor(np.asarray(array), requires_grad=requires_grad)


def ref_log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# ------------------------------------------------------------------ softmax family: dim, dtype

@pytest.mark.parametrize("shape, implicit_dim", [((4,), 0), ((2, 3), 1), ((2, 3, 4), 0),
                                                 ((2, 3, 2, 2), 1)])
def test_softmax_without_dim_uses_pytorchs_implicit_dim_and_warns(shape, implicit_dim):
    x = np.random.default_rng(0).normal(size=shape)
    for function, reference in ((F.softmax, lambda a: np.exp(ref_log_softmax(a, implicit_dim))),
                                (F.log_softmax, lambda a: ref_log_softmax(a, implicit_dim)),
                                (F.softmin, lambda a: np.exp(ref_log_softmax(-a, implicit_dim)))):
        with pytest.warns(UserWarning, match="implicit dimension"):
            out = function(tensor(x))
        np.testing.assert_allclose(out.numpy(), reference(x), rtol=1e-12)


def test_softmax_with_dim_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.softmax(tensor(np.ones((2, 3, 4))), dim=-1)


def test_softmax_dtype_casts_first():
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    for function in (F.softmax, F.log_softmax, F.softmin):
        out = function(tensor(x), dim=1, dtype=tg.float64)
        assert out.dtype == np.float64
    expected = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(F.softmax(tensor(x), 1, dtype=tg.float64).numpy()[0], expected,
                               rtol=1e-15)


def test_softmax_of_a_0d_tensor():
    x = tensor(np.float64(3.5), requires_grad=True)
    assert F.softmax(x, 0).item() == 1.0                    # one value: probability 1
    assert F.log_softmax(x, -1).item() == 0.0
    F.log_softmax(x, 0).backward()
    assert x.grad.item() == 0.0
    with pytest.raises(IndexError, match="dim 1 is out of range"):
        F.softmax(x, 1)


# ------------------------------------------------------------------------------------ embedding

def test_embedding_negative_padding_idx_counts_from_the_end():
    weight = tensor(np.arange(15.0).reshape(5, 3), requires_grad=True)
    out = F.embedding(tensor([0, 4, 4]), weight, padding_idx=-1)        # -1 is row 4
    np.testing.assert_array_equal(out.numpy(), [[0, 1, 2], [12, 13, 14], [12, 13, 14]])
    out.sum().backward()
    expected = np.zeros((5, 3))
    expected[0] = 1                                                   # row 4: no gradient
    np.testing.assert_array_equal(weight.grad.numpy(), expected)


@pytest.mark.parametrize("padding_idx", [5, -6])
def test_embedding_padding_idx_out_of_range_raises(padding_idx):
    with pytest.raises(ValueError, match="padding_idx"):
        F.embedding(tensor([0]), tensor(np.zeros((5, 3))), padding_idx=padding_idx)


def test_embedding_max_norm_renormalises_looked_up_rows_in_place(device):
    weight = tg.tensor(np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]]), device=device,
                       requires_grad=True)
    version = weight._version
    out = F.embedding(tg.tensor(np.array([0, 1, 1]), device=device), weight, max_norm=1.0)
    # row 0 has norm 5 > 1: scaled by 1 / (5 + 1e-7); row 1 (norm 0.5) and row 2 (not
    # looked up) are unchanged
    row0 = np.array([3.0, 4.0]) / (5 + 1e-7)
    np.testing.assert_allclose(out.numpy(), [row0, [0.3, 0.4], [0.3, 0.4]], rtol=1e-15)
    np.testing.assert_allclose(weight.numpy(), [row0, [0.3, 0.4], [6.0, 8.0]], rtol=1e-15)
    assert weight._version > version
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad.to("cpu").numpy(), [[1, 1], [2, 2], [0, 0]])
    l1 = tensor([[3.0, -4.0]])
    np.testing.assert_allclose(F.embedding(tensor([0]), l1, max_norm=2.0, norm_type=1).numpy(),
                               [[3.0 * 2 / (7 + 1e-7), -4.0 * 2 / (7 + 1e-7)]], rtol=1e-15)


# ----------------------------------------------------- mse, l1, huber: weight= (PyTorch 2.6)

def test_mse_and_l1_weight_mean_divides_by_the_weight_sum():
    rng = np.random.default_rng(1)
    x, y, w = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.uniform(size=(3, 4))
    for function, pointwise in ((F.mse_loss, (x - y) ** 2), (F.l1_loss, np.abs(x - y))):
        weighted = w * pointwise
        np.testing.assert_allclose(function(tensor(x), tensor(y), weight=tensor(w)).item(),
                                   weighted.sum() / w.sum(), rtol=1e-12)
        np.testing.assert_allclose(
            function(tensor(x), tensor(y), reduction="sum", weight=tensor(w)).item(),
            weighted.sum(), rtol=1e-12)
        np.testing.assert_allclose(
            function(tensor(x), tensor(y), reduction="none", weight=tensor(w)).numpy(),
            weighted, rtol=1e-12)
        with pytest.raises(ValueError, match="weight of shape"):
            function(tensor(x), tensor(y), weight=tensor(w[0]))


def test_huber_weight_mean_is_the_plain_mean():
    d = np.array([-3.0, -0.5, 0.2, 2.0])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    huber = np.where(np.abs(d) < 1.5, 0.5 * d * d, 1.5 * (np.abs(d) - 0.75))
    out = F.huber_loss(tensor(d), tensor(np.zeros(4)), delta=1.5, weight=tensor(w))
    np.testing.assert_allclose(out.item(), (w * huber).mean(), rtol=1e-12)


# ------------------------------------------------- the losses found right, pinned by the audit

@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_class_indices_spatial(label_smoothing, weighted, reduction):
    """(N, C, d) logits, ignore_index -100, per-class weights: 'mean' divides by the sum of
    the weights of the non-ignored targets, the smoothing term too (PyTorch's rule)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4, 5))
    y = rng.integers(0, 4, size=(3, 5))
    y[0, 1] = y[2, 3] = -100
    w = rng.uniform(0.5, 2.0, size=4) if weighted else np.ones(4)
    log_p = ref_log_softmax(x, 1)
    kept = y != -100
    classes = np.where(kept, y, 0)
    nll = np.where(kept, -np.take_along_axis(log_p, classes[:, None], 1)[:, 0] * w[classes], 0)
    smooth = np.where(kept, -(log_p * w[None, :, None]).sum(1), 0)
    per = (1 - label_smoothing) * nll + label_smoothing / 4 * smooth
    expected = {"none": per, "sum": per.sum(), "mean": per.sum() / (w[classes] * kept).sum()}
    out = F.cross_entropy(tensor(x), tensor(y), tensor(w) if weighted else None,
                          reduction=reduction, label_smoothing=label_smoothing)
    np.testing.assert_allclose(out.numpy(), expected[reduction], rtol=1e-12)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets_with_weight(label_smoothing):
    """Soft labels: q = (1 - eps) target + eps / C; 'mean' divides by the number of
    predictions, not by the weights."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4, 2))
    target = rng.dirichlet(np.ones(4), size=(3, 2)).transpose(0, 2, 1)
    w = rng.uniform(0.5, 2.0, size=4)
    q = target * (1 - label_smoothing) + label_smoothing / 4
    per = -(ref_log_softmax(x, 1) * q * w[None, :, None]).sum(1)
    out = F.cross_entropy(tensor(x), tensor(target), tensor(w), label_smoothing=label_smoothing)
    np.testing.assert_allclose(out.item(), per.mean(), rtol=1e-12)


def test_binary_cross_entropy_clamps_log_at_minus_100():
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.25])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    out = F.binary_cross_entropy(tensor(p), tensor(y), reduction="none")
    np.testing.assert_allclose(out.numpy(), [100, 100, 0, 0, -np.log(0.25)], rtol=1e-15)


def test_bce_with_logits_extreme_logits_and_pos_weight():
    x = np.array([-100.0, 100.0, 0.0, 30.0])
    y = np.array([1.0, 0.0, 0.5, 1.0])
    pos_weight = 3.0
    log_sigmoid, log_one_minus = -np.logaddexp(0, -x), -np.logaddexp(0, x)
    expected = -(pos_weight * y * log_sigmoid + (1 - y) * log_one_minus)
    logits = tensor(x, requires_grad=True)
    out = F.binary_cross_entropy_with_logits(logits, tensor(y), reduction="none",
                                             pos_weight=tensor(np.array(pos_weight)))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    out.sum().backward()
    sigmoid = 1 / (1 + np.exp(-x))
    # dl/dx = (1 + (pw - 1) y) sigmoid(x) - pw y
    np.testing.assert_allclose(logits.grad.numpy(),
                               (1 + (pos_weight - 1) * y) * sigmoid - pos_weight * y, rtol=1e-12,
                               atol=1e-15)


@pytest.mark.parametrize("var_shape", [(4,), (4, 1), (4, 3)])
def test_gaussian_nll_var_broadcasting(var_shape):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    var = rng.uniform(0.1, 2.0, size=var_shape)
    v = var.reshape(4, -1)
    expected = 0.5 * (np.log(v) + (x - y) ** 2 / v) + 0.5 * np.log(2 * np.pi)
    out = F.gaussian_nll_loss(tensor(x), tensor(y), tensor(var), full=True, reduction="sum")
    np.testing.assert_allclose(out.item(), expected.sum(), rtol=1e-12)


def test_triplet_margin_swap_uses_the_harder_negative():
    rng = np.random.default_rng(5)
    a, p, n = (rng.normal(size=(5, 3)) for _ in range(3))

    def distance(u, v):
        return np.sqrt(((u - v + 1e-6) ** 2).sum(-1))

    expected = np.maximum(0, 0.5 + distance(a, p) - np.minimum(distance(a, n), distance(p, n)))
    out = F.triplet_margin_loss(tensor(a), tensor(p), tensor(n), margin=0.5, swap=True,
                                reduction="none")
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_multilabel_margin_stops_at_the_first_negative_target():
    x = np.array([[0.1, 0.2, 0.4, 0.8], [0.5, -0.2, 0.3, 0.0]])
    y = np.array([[3, 0, -1, 1], [-1, 1, 2, 3]])
    # row 0: targets {3, 0}, others {1, 2}; row 1: no targets, loss 0
    row0 = sum(max(0.0, 1 - (x[0, j] - x[0, i])) for j in (3, 0) for i in (1, 2)) / 4
    out = F.multilabel_margin_loss(tensor(x), tensor(y), reduction="none")
    np.testing.assert_allclose(out.numpy(), [row0, 0.0], rtol=1e-12)


def test_kl_div_log_target_batchmean():
    rng = np.random.default_rng(6)
    log_q = ref_log_softmax(rng.normal(size=(3, 4)), 1)
    log_p = ref_log_softmax(rng.normal(size=(3, 4)), 1)
    out = F.kl_div(tensor(log_q), tensor(log_p), reduction="batchmean", log_target=True)
    np.testing.assert_allclose(out.item(), (np.exp(log_p) * (log_p - log_q)).sum() / 3,
                               rtol=1e-12)
