"""Audit of the core losses against PyTorch's documented semantics (second pass).

cross_entropy, nll_loss, binary_cross_entropy (with logits), the regression
losses and their Modules. Every expected value is written here in plain NumPy
from PyTorch's definition; PyTorch itself is never imported.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


def tensor(values, device, **kwargs):
    return tg.tensor(np.asarray(values), device=device, **kwargs)


def ref_log_softmax(x, axis=1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# --------------------------------------------------------------------------
# binary_cross_entropy: the target's range, log(1 - p) of a tiny p
# --------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [1.5, -0.25, float("nan")])
def test_bce_rejects_targets_outside_the_unit_interval(bad, device):
    # PyTorch: RuntimeError "all elements of target should be between 0 and 1" (CPU; a
    # device assert on CUDA). Before the fix a target of 1.5 gave a silent, negative loss.
    p = tensor([0.3, 0.6], device)
    with pytest.raises(ValueError, match="all elements of target must be probabilities"):
        F.binary_cross_entropy(p, tensor([1.0, bad], device))
    with pytest.raises(ValueError, match="target"):
        nn.BCELoss()(p, tensor([bad, 0.0], device))
    # soft targets inside [0, 1] (the ends included) are fine
    got = F.binary_cross_entropy(p, tensor([0.0, 0.25], device), reduction="none")
    expected = [-np.log(0.7), -(0.25 * np.log(0.6) + 0.75 * np.log(0.4))]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


def test_bce_log_of_one_minus_a_tiny_probability_keeps_its_precision(device):
    # PyTorch computes log(1 - p) as log1p(-p): p = 1e-8 with y = 0 costs 1e-8 in float32,
    # where 1 - p rounds to 1 and log(1 - p) gave 0 before the fix.
    p32 = tensor(np.float32([1e-8, 3e-9]), device)
    got = F.binary_cross_entropy(p32, tensor(np.float32([0.0, 0.0]), device), reduction="none")
    np.testing.assert_allclose(got.numpy(), [1e-8, 3e-9], rtol=1e-6)
    p64 = np.array([1e-12, 0.25, 1 - 1e-9])
    y64 = np.array([0.0, 0.5, 0.0])
    got = F.binary_cross_entropy(tensor(p64, device), tensor(y64, device), reduction="none")
    expected = -(y64 * np.log(p64) + (1 - y64) * np.log1p(-p64))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13)
    # the clamp and the gradient at the ends are unchanged: p = 1, y = 0 costs 100 (grad 0);
    # p = 0, y = 0 costs 0 with gradient 1 / (1 - p) = 1
    x = tensor([1.0, 0.0], device, requires_grad=True)
    loss = F.binary_cross_entropy(x, tensor([0.0, 0.0], device), reduction="sum")
    loss.backward()
    np.testing.assert_allclose(loss.item(), 100.0)
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1.0])


# --------------------------------------------------------------------------
# Loss modules: weight vectors are buffers even when None at construction
# --------------------------------------------------------------------------

def test_a_weight_assigned_after_construction_is_a_buffer_that_moves(device, rng):
    # PyTorch registers weight (and BCEWithLogitsLoss's pos_weight) as buffers even when
    # None, so `loss_fn.weight = w` later makes w a buffer: in state_dict, moved by .to().
    # Before the fix it became a plain attribute, left behind by .to(device).
    module = nn.CrossEntropyLoss()
    assert module.weight is None and "weight" not in module.state_dict()
    module.weight = tg.tensor([1.0, 2.0, 3.0])
    assert list(module.state_dict()) == ["weight"]
    module.to(device)
    assert module.weight.device == device
    x = rng.normal(size=(4, 3))
    y = np.array([0, 2, 1, 2])
    w = np.array([1.0, 2.0, 3.0])
    picked = -ref_log_softmax(x)[np.arange(4), y]
    np.testing.assert_allclose(module(tensor(x, device), tensor(y, device)).item(),
                               (w[y] * picked).sum() / w[y].sum(), rtol=1e-6)
    logits_loss = nn.BCEWithLogitsLoss()
    assert dict(logits_loss.named_buffers()) == {}
    logits_loss.pos_weight = tg.tensor([2.0])
    assert list(logits_loss.state_dict()) == ["pos_weight"]


# --------------------------------------------------------------------------
# Unbatched inputs: the target's shape
# --------------------------------------------------------------------------

def test_an_unbatched_target_of_the_wrong_shape_names_the_shapes_given(device):
    # PyTorch: an unbatched input (C,) takes a 0-d class index (or, for cross_entropy,
    # probabilities of shape (C,)); a (1,) target is a size mismatch. Before the fix the
    # message named the internal batch of one, (1, 4) and (1, 1).
    x = tensor(np.zeros(4), device)
    for fn in (F.cross_entropy, F.nll_loss, F.multi_margin_loss):
        with pytest.raises(ValueError, match=r"unbatched input of shape \(4,\).*"
                                             r"got target shape \(1,\)"):
            fn(x, tensor(np.array([2]), device))
    with pytest.raises(ValueError, match=r"probabilities of shape \(4,\).*\(3,\)"):
        F.cross_entropy(x, tensor(np.full(3, 1 / 3), device))


def test_unbatched_cross_entropy_with_weight_smoothing_and_ignore_index(device, rng):
    # PyTorch: (C,) logits with a 0-d target are one prediction; 'none' gives a 0-d loss,
    # 'mean' divides by w[y]; ignoring the only target makes 'mean' 0/0 = nan.
    x = rng.normal(size=5)
    w = rng.uniform(0.5, 2.0, size=5)
    log_p = ref_log_softmax(x[None])[0]
    eps = 0.2
    loss = (1 - eps) * -w[3] * log_p[3] + eps / 5 * -(w * log_p).sum()
    kwargs = dict(weight=tensor(w, device), label_smoothing=eps)
    none = F.cross_entropy(tensor(x, device), tensor(np.int64(3), device), reduction="none",
                           **kwargs)
    assert none.shape == ()
    np.testing.assert_allclose(none.item(), loss, rtol=1e-12)
    mean = F.cross_entropy(tensor(x, device), 3, **kwargs)
    np.testing.assert_allclose(mean.item(), loss / w[3], rtol=1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        ignored = F.cross_entropy(tensor(x, device), 3, ignore_index=3, **kwargs)
    assert np.isnan(ignored.item())
    probs = rng.dirichlet(np.ones(5))
    soft = F.cross_entropy(tensor(x, device), tensor(probs, device), reduction="none")
    assert soft.shape == ()
    np.testing.assert_allclose(soft.item(), -(probs * log_p).sum(), rtol=1e-12)


# --------------------------------------------------------------------------
# Edge cases pinned (verified right, untested before)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.3}, {"weighted": True}])
def test_an_empty_batch_gives_nan_mean_zero_sum_and_an_empty_none(options, device):
    # PyTorch: the mean over no predictions is nan, the sum 0, 'none' an empty tensor, for
    # class indices and for probabilities (cross_entropy_loss_prob_target fills nan).
    options = dict(options)
    weight = tensor([1.0, 2.0, 3.0], device) if options.pop("weighted", False) else None
    x = tensor(np.zeros((0, 3, 2)), device, requires_grad=True)
    targets = {"index": tensor(np.zeros((0, 2), np.int64), device),
               "probabilities": tensor(np.zeros((0, 3, 2)), device)}
    for kind, target in targets.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = F.cross_entropy(x, target, weight=weight, **options)
        assert np.isnan(mean.item()), kind
        total = F.cross_entropy(x, target, weight=weight, reduction="sum", **options)
        assert total.item() == 0.0, kind
        total.backward()
        assert x.grad.shape == (0, 3, 2)
        none = F.cross_entropy(x, target, weight=weight, reduction="none", **options)
        assert none.shape == (0, 2), kind
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(F.nll_loss(tensor(np.zeros((0, 3)), device),
                                   tensor(np.zeros(0, np.int64), device), weight=weight).item())


def test_all_targets_ignored(device, rng):
    # PyTorch: every target equal to ignore_index gives 'mean' = 0/0 = nan (with a weight and
    # with label smoothing too), 'sum' = 0 and 'none' zeros; the gradient is 0.
    x = tensor(rng.normal(size=(3, 4, 2)), device, requires_grad=True)
    y = tensor(np.full((3, 2), 1), device)
    kwargs = dict(weight=tensor([1.0, 2.0, 3.0, 4.0], device), ignore_index=1,
                  label_smoothing=0.1)
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(F.cross_entropy(x, y, **kwargs).item())
        assert np.isnan(F.nll_loss(x, y, ignore_index=1).item())
    total = F.cross_entropy(x, y, reduction="sum", **kwargs)
    assert total.item() == 0.0
    total.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4, 2)))
    np.testing.assert_array_equal(F.cross_entropy(x, y, reduction="none", **kwargs).numpy(),
                                  np.zeros((3, 2)))


@pytest.mark.parametrize("target_dtype", [np.uint8, np.int32, np.int16])
def test_small_integer_targets_and_float16_float64_inputs(target_dtype, device, rng):
    # PyTorch: the loss keeps the input's dtype (float16 stays float16, computed to float16's
    # precision; float64 exact); uint8 class targets are accepted (int32/int16 widened here).
    x = rng.normal(size=(6, 4, 3))
    y = rng.integers(0, 4, size=(6, 3))
    w = rng.uniform(0.5, 2.0, size=4)
    picked = -ref_log_softmax(x)[np.arange(6)[:, None], y, np.arange(3)[None, :]]
    smooth = -(ref_log_softmax(x) * w[None, :, None]).sum(1)
    expected = (0.9 * w[y] * picked + 0.1 / 4 * smooth).sum() / w[y].sum()
    for dtype, rtol in ((np.float16, 3e-3), (np.float64, 1e-12)):
        got = F.cross_entropy(tensor(x.astype(dtype), device),
                              tensor(y.astype(target_dtype), device),
                              weight=tensor(w.astype(dtype), device), label_smoothing=0.1)
        assert got.dtype == dtype
        np.testing.assert_allclose(float(got.item()), expected, rtol=rtol)
        nll = F.nll_loss(tensor(x.astype(dtype), device), tensor(y.astype(target_dtype), device),
                         reduction="sum")
        assert nll.dtype == dtype
        np.testing.assert_allclose(float(nll.item()),
                                   -x[np.arange(6)[:, None], y, np.arange(3)[None, :]].sum(),
                                   rtol=rtol)


def test_out_of_range_uint8_target_names_the_value(device):
    # PyTorch: "Target 255 is out of bounds"; here an IndexError naming value and class count
    x = tensor(np.zeros((3, 4)), device)
    with pytest.raises(IndexError, match="target value 255 is out of range for 4 classes"):
        F.cross_entropy(x, tensor(np.array([0, 255, 1], np.uint8), device))
    with pytest.raises(IndexError, match="target value 4 .* 4 classes"):
        F.nll_loss(x, tensor(np.array([0, 4, 1], np.uint8), device), ignore_index=3)


def test_bce_with_logits_pos_weight_broadcasts_over_a_spatial_class_dim(device, rng):
    # PyTorch: pos_weight broadcasts like any tensor, so a (C, 1) pos_weight weights the
    # class dim of (N, C, L) input; a (C,) one lines up with the last dim and must fit it.
    # With extreme logits the loss and the gradient stay finite.
    x = rng.normal(size=(2, 3, 4)) * 3
    x[0, 0, 0], x[1, 2, 3] = 1e4, -1e4
    y = rng.uniform(size=(2, 3, 4))
    pw = np.array([0.5, 2.0, 4.0])
    w = rng.uniform(0.5, 2.0, size=(1, 1, 4))
    xt = tensor(x, device, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(xt, tensor(y, device), weight=tensor(w, device),
                                              pos_weight=tensor(pw.reshape(3, 1), device),
                                              reduction="sum")
    log_sig = -np.logaddexp(0, -x)                        # log sigmoid(x), stable
    log_one_minus = -np.logaddexp(0, x)                   # log(1 - sigmoid(x))
    pwb = pw.reshape(1, 3, 1)
    expected = (-w * (pwb * y * log_sig + (1 - y) * log_one_minus)).sum()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
    loss.backward()
    sig = np.exp(log_sig)
    grad = w * (sig * (1 + (pwb - 1) * y) - pwb * y)      # d/dx, PyTorch's formula
    np.testing.assert_allclose(xt.grad.numpy(), grad, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"pos_weight of shape \(3,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(xt, tensor(y, device), pos_weight=tensor(pw, device))


def test_gradients_with_weight_ignore_index_and_smoothing_match_finite_differences(rng):
    # float64 central differences (tg.autograd.gradcheck) through every option at once,
    # on spatial class-index targets, probability targets (gradient to the target too),
    # nll_loss, and binary cross-entropy with a gradient to the target.
    x = tg.tensor(rng.normal(size=(3, 4, 2)), requires_grad=True)
    y = rng.integers(0, 4, size=(3, 2))
    y[0, 0] = y[2, 1] = 2
    w = tg.tensor(rng.uniform(0.3, 2.0, size=4))
    q = tg.tensor(rng.dirichlet(np.ones(4), size=(3, 2)).transpose(0, 2, 1), requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        assert tg.autograd.gradcheck(
            lambda a: F.cross_entropy(a, tg.tensor(y), weight=w, ignore_index=2,
                                      reduction=reduction, label_smoothing=0.3), (x,))
        assert tg.autograd.gradcheck(
            lambda a, b: F.cross_entropy(a, b, weight=w, reduction=reduction,
                                         label_smoothing=0.3), (x, q))
        assert tg.autograd.gradcheck(
            lambda a: F.nll_loss(a, tg.tensor(y), weight=w, ignore_index=2,
                                 reduction=reduction), (x,))
    p = tg.tensor(rng.uniform(1e-6, 0.05, size=(3, 4)), requires_grad=True)  # log1p region
    t = tg.tensor(rng.uniform(size=(3, 4)), requires_grad=True)
    bw = tg.tensor(rng.uniform(0.5, 2.0, size=(4,)))
    assert tg.autograd.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=bw), (p, t),
                                 eps=1e-9)


def test_legacy_flags_in_the_modules_positional_places():
    # PyTorch: NLLLoss(weight, size_average, ignore_index, reduce, reduction) and
    # CrossEntropyLoss(weight, size_average, ignore_index, reduce, ...): reduce=False gives
    # 'none', size_average=False 'sum', each with a deprecation UserWarning.
    with pytest.warns(UserWarning, match="reduction='none'"):
        module = nn.NLLLoss(None, None, 3, False)
    assert (module.reduction, module.ignore_index) == ("none", 3)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        module = nn.CrossEntropyLoss(None, False, 0)
    assert (module.reduction, module.ignore_index) == ("sum", 0)
    x = tg.tensor(np.log(np.array([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]])))
    # class 0 ignored: only the second row counts, -log softmax(x)[1, 2] = -log 0.5
    np.testing.assert_allclose(module(x, tg.tensor([0, 2])).item(), np.log(2.0), rtol=1e-12)


@pytest.mark.parametrize("ignore_index", [0, 1])
def test_probability_targets_refuse_an_ignore_index_as_pytorch(ignore_index):
    logits, soft = tg.zeros(2, 3), tg.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match=f"ignore_index={ignore_index} is not supported"):
        F.cross_entropy(logits, soft, ignore_index=ignore_index)
    with pytest.raises(ValueError, match="is not supported"):
        tg.nn.CrossEntropyLoss(ignore_index=ignore_index)(logits, soft)
    assert np.isclose(F.cross_entropy(logits, soft, ignore_index=-1).item(), np.log(3))
