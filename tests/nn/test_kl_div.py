"""F.kl_div and nn.KLDivLoss against plain-NumPy formulas, float64 gradchecks, and the
0 log 0 = 0 corner (finite gradients for zero targets)."""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn

REDUCTIONS = ["none", "sum", "mean", "batchmean"]


# --------------------------------------------------------------------------
# NumPy references, written from the definition
# --------------------------------------------------------------------------

def ref_pointwise(log_q, target, log_target):
    """p (log p - log q), with 0 log 0 = 0; log_target: the target is log p."""
    if log_target:
        return np.exp(target) * (target - log_q)
    p_log_p = np.zeros_like(target)
    positive = target > 0
    p_log_p[positive] = target[positive] * np.log(target[positive])
    return p_log_p - target * log_q


def ref_kl_div(log_q, target, reduction, log_target=False):
    pointwise = ref_pointwise(log_q, target, log_target)
    if reduction == "none":
        return pointwise
    if reduction == "sum":
        return pointwise.sum()
    if reduction == "mean":
        return pointwise.sum() / pointwise.size
    return pointwise.sum() / log_q.shape[0]          # batchmean


def ref_log_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


def distributions(rng, shape, with_zeros=False):
    """log q and p of ``shape``, each normalised along the last axis."""
    log_q = ref_log_softmax(rng.normal(size=shape))
    p = rng.uniform(0.0, 1.0, size=shape)
    if with_zeros:
        p[..., 0] = 0.0
        p.reshape(-1)[1::3] = 0.0
    p = p / p.sum(axis=-1, keepdims=True)
    return log_q, p


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------

@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4), (6,)])
def test_kl_div_matches_numpy(shape, reduction, log_target, device, rng):
    log_q, p = distributions(rng, shape, with_zeros=not log_target)
    target = np.log(p) if log_target else p
    result = F.kl_div(tensor(log_q, device), tensor(target, device), reduction=reduction,
                      log_target=log_target)
    expected = ref_kl_div(log_q, target, reduction, log_target)
    assert result.shape == np.shape(expected)
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("log_target", [False, True])
def test_batchmean_is_the_kl_divergence_per_sample(log_target, rng):
    """'batchmean' is mean_n sum_c p log(p / q), the textbook KL(p || q) per row;
    'mean' is that divided again by the number of classes."""
    log_q, p = distributions(rng, (5, 7))
    per_row = (p * np.log(p / np.exp(log_q))).sum(axis=1)
    target = tg.tensor(np.log(p) if log_target else p)
    batchmean = F.kl_div(tg.tensor(log_q), target, reduction="batchmean",
                         log_target=log_target).item()
    mean = F.kl_div(tg.tensor(log_q), target, reduction="mean", log_target=log_target).item()
    np.testing.assert_allclose(batchmean, per_row.mean(), rtol=1e-12)
    np.testing.assert_allclose(mean, per_row.mean() / 7, rtol=1e-12)
    assert np.all(per_row > 0)


def test_kl_div_of_a_distribution_from_itself_is_zero(rng):
    log_q, p = distributions(rng, (3, 4), with_zeros=True)
    log_p = np.log(np.where(p > 0, p, 1.0))
    loss = F.kl_div(tg.tensor(log_p), tg.tensor(p), reduction="none")
    np.testing.assert_allclose(loss.numpy(), 0.0, atol=1e-15)


def test_batchmean_of_a_scalar_is_the_sum_and_float32_stays_float32():
    log_q, p = tg.tensor(np.array(np.log(0.25))), tg.tensor(np.array(0.5))   # float64, 0-d
    loss = F.kl_div(log_q, p, reduction="batchmean")
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), 0.5 * (np.log(0.5) - np.log(0.25)), rtol=1e-12)
    x = tg.tensor(np.full((2, 3), -1.0, dtype=np.float32))
    y = tg.tensor(np.full((2, 3), 0.5, dtype=np.float32))
    for reduction in REDUCTIONS:
        for log_target in (False, True):
            assert F.kl_div(x, y, reduction=reduction, log_target=log_target).dtype == tg.float32


def test_target_may_be_a_numpy_array(rng):
    log_q, p = distributions(rng, (3, 4))
    result = F.kl_div(tg.tensor(log_q), p, reduction="sum")
    np.testing.assert_allclose(result.item(), ref_kl_div(log_q, p, "sum"), rtol=1e-12)


# --------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------

@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_input_and_target(reduction, log_target, device, rng):
    log_q = tensor(rng.normal(size=(3, 4)), device, requires_grad=True)
    p = rng.uniform(0.05, 1.0, size=(3, 4))
    target = tensor(np.log(p) if log_target else p, device, requires_grad=True)

    def loss(a, b):
        value = F.kl_div(a, b, reduction=reduction, log_target=log_target)
        return value if reduction != "none" else (value * value).sum()
    assert tg.gradcheck(loss, [log_q, target])


@pytest.mark.parametrize("log_target", [False, True])
def test_gradgradcheck(log_target, rng):
    log_q = tg.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    p = rng.uniform(0.05, 1.0, size=(2, 3))
    target = tg.tensor(np.log(p) if log_target else p, requires_grad=True)
    assert tg.gradgradcheck(
        lambda a, b: F.kl_div(a, b, reduction="batchmean", log_target=log_target),
        [log_q, target])


def test_zero_targets_give_finite_gradients(device, rng):
    """Where p == 0 the term is the constant 0: both gradients are exactly 0 there;
    elsewhere dl/dlog q = -p and dl/dp = log p + 1 - log q (divided by N for batchmean)."""
    log_q_array, p = distributions(rng, (4, 5), with_zeros=True)
    zero = p == 0
    assert zero.any() and not zero.all()
    log_q = tensor(log_q_array, device, requires_grad=True)
    target = tensor(p, device, requires_grad=True)
    loss = F.kl_div(log_q, target, reduction="batchmean")
    assert np.isfinite(loss.item())
    loss.backward()
    grad_input, grad_target = log_q.grad.numpy(), target.grad.numpy()
    assert np.all(np.isfinite(grad_input)) and np.all(np.isfinite(grad_target))
    np.testing.assert_allclose(grad_input, -p / 4, rtol=1e-12, atol=0)
    safe_p = np.where(zero, 1.0, p)
    expected_target_grad = np.where(zero, 0.0, (np.log(safe_p) + 1 - log_q_array) / 4)
    np.testing.assert_allclose(grad_target, expected_target_grad, rtol=1e-12, atol=1e-15)


def test_zero_targets_under_softmax_training_stay_finite(rng):
    """A student trained toward a one-hot teacher (exact zeros) gets finite updates."""
    logits = tg.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    one_hot = np.eye(4)[[0, 2, 3]]
    loss = nn.KLDivLoss(reduction="batchmean")(F.log_softmax(logits, dim=1), one_hot)
    loss.backward()
    softmax = np.exp(ref_log_softmax(logits.numpy()))
    np.testing.assert_allclose(logits.grad.numpy(), (softmax - one_hot) / 3, rtol=1e-10)


# --------------------------------------------------------------------------
# Module, errors
# --------------------------------------------------------------------------

@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_module_matches_function(reduction, log_target, device, rng):
    log_q, p = distributions(rng, (3, 4))
    target = tensor(np.log(p) if log_target else p, device)
    module = nn.KLDivLoss(reduction=reduction, log_target=log_target)
    expected = F.kl_div(tensor(log_q, device), target, reduction=reduction,
                        log_target=log_target)
    np.testing.assert_array_equal(module(tensor(log_q, device), target).numpy(),
                                  expected.numpy())


def test_module_defaults_and_repr():
    module = nn.KLDivLoss()
    assert module.reduction == "mean" and module.log_target is False
    assert repr(module) == "KLDivLoss(reduction='mean', log_target=False)"
    assert repr(nn.KLDivLoss(reduction="batchmean", log_target=True)) == \
        "KLDivLoss(reduction='batchmean', log_target=True)"
    assert list(module.state_dict()) == []


def test_unknown_reduction_is_a_clear_error():
    x = tg.zeros(2, 3)
    with pytest.raises(ValueError, match="kl_div: reduction must be 'mean', 'batchmean', "
                                         "'sum' or 'none', got 'avg'"):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be .*'batchmean'.*'avg'"):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(ValueError, match="MSELoss: reduction must be 'mean', 'sum' or 'none', "
                                         "got 'batchmean'"):
        nn.MSELoss(reduction="batchmean")                 # batchmean is kl_div's alone


def test_shape_mismatch_names_both_shapes(device):
    x = tensor(np.zeros((4, 3)), device)
    with pytest.raises(ValueError, match=r"kl_div: input shape \(4, 3\) and target shape "
                                         r"\(4, 1\) differ"):
        F.kl_div(x, tensor(np.full((4, 1), 0.5), device))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3,\)"):
        nn.KLDivLoss(log_target=True)(x, tensor(np.zeros(3), device))
