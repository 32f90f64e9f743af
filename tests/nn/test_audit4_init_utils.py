"""Audit (fourth round) of ``nn.init`` and ``nn.utils`` against PyTorch's documented
semantics. Every expected value is computed here in NumPy from the documented formula
(PyTorch is never imported).

Bugs found: structured pruning with a ``dim`` outside the weight's dims (``ln_structured``
wrapped it round and pruned another dim; PyTorch raises IndexError), ``global_unstructured``
with ``importance_scores`` that is not a dict (PyTorch's TypeError), ``amount`` given as a
bool (PyTorch takes it as the count 0 or 1), ``vector_to_parameters`` with a vector longer
than the parameters or of shape (N, 1) (PyTorch copies the leading slices),
``parametrizations.orthogonal`` with 'householder' and ``use_trivialization=False``
(refused; PyTorch starts it at the weight's geqrf). Pinned as
right: trunc_normal_'s CDF, orthogonal_'s gain on a 4-D weight, kaiming/xavier on conv
weights by fan, the hook-based weight_norm's and the parametrized spectral_norm's
gradients, pruning masks against a NumPy ranking, conv/linear + BatchNorm fusion."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import init, utils
from tinygrad_opt.nn.utils import parametrizations, prune


def t64(array, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


# --------------------------------------------------------------------------- nn.init

def _normal_cdf(x):
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def test_trunc_normal_follows_the_truncated_cdf(device):
    # F(x) = (Φ((x − μ)/σ) − Φ(α)) / (Φ(β) − Φ(α)) on [a, b]: a Kolmogorov-Smirnov
    # distance below 1.63/√n (the 1% level) for 20 000 draws
    mean, std, a, b = 0.5, 2.0, -1.0, 3.0
    x = init.trunc_normal_(tg.zeros(20000, dtype=tg.float64, device=device), mean, std, a,
                           b).numpy()
    assert x.min() >= a and x.max() <= b
    x = np.sort(x)
    low, high = _normal_cdf((a - mean) / std), _normal_cdf((b - mean) / std)
    cdf = (_normal_cdf((x - mean) / std) - low) / (high - low)
    empirical = np.arange(1, x.size + 1) / x.size
    assert np.abs(cdf - empirical).max() < 1.63 / math.sqrt(x.size)


def test_orthogonal_of_a_4d_weight_has_gain_times_orthonormal_rows(device):
    # rows = shape[0] = 6, cols = 2·3·3 = 18 ≥ rows: W Wᵀ = gain² I
    w = init.orthogonal_(tg.zeros(6, 2, 3, 3, dtype=tg.float64, device=device), gain=1.5)
    flat = w.numpy().reshape(6, -1)
    np.testing.assert_allclose(flat @ flat.T, 2.25 * np.eye(6), atol=1e-12)
    tall = init.orthogonal_(tg.zeros(12, 3, dtype=tg.float64, device=device), gain=0.5).numpy()
    np.testing.assert_allclose(tall.T @ tall, 0.25 * np.eye(3), atol=1e-12)


@pytest.mark.parametrize("fill, kwargs, std", [
    # conv weight (32, 8, 3, 3): fan_in = 72, fan_out = 288
    (init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(2 / 288)),
    (init.kaiming_uniform_, {"a": 0.3}, math.sqrt(2 / 1.09) / math.sqrt(72)),
    (init.kaiming_normal_, {"nonlinearity": "tanh"}, (5 / 3) / math.sqrt(72)),
    (init.xavier_uniform_, {"gain": 3.0}, 3.0 * math.sqrt(2 / 360)),
    (init.xavier_normal_, {"gain": 0.5}, 0.5 * math.sqrt(2 / 360)),
])
def test_conv_weight_fills_by_fan(fill, kwargs, std, device):
    w = fill(tg.zeros(32, 8, 3, 3, dtype=tg.float64, device=device), **kwargs).numpy()
    assert abs(w.mean()) < 4 * std / math.sqrt(w.size)
    assert abs(w.std() / std - 1) < 0.04
    if fill in (init.kaiming_uniform_, init.xavier_uniform_):     # U(−√3·std, √3·std)
        assert np.abs(w).max() <= math.sqrt(3) * std


def test_dirac_with_more_outputs_per_group_than_inputs(device):
    # out/groups = 3 > in = 2: each group's third output channel stays all 0
    w = init.dirac_(tg.zeros(6, 2, 3, 4, device=device), groups=2).numpy()
    expected = np.zeros((6, 2, 3, 4), dtype=np.float32)
    for group in range(2):
        for d in range(2):
            expected[group * 3 + d, d, 1, 2] = 1
    np.testing.assert_array_equal(w, expected)


# ------------------------------------------------------------------------- clipping

def test_clip_grad_norm_inf_and_one_over_several_parameters(device, rng):
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    for norm_type, total in ((float("inf"), max(np.abs(g).max() for g in grads)),
                             (1.0, sum(np.abs(g).sum() for g in grads))):
        params = [nn.Parameter(t64(np.zeros_like(g), device)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = t64(g, device)
        params.insert(1, nn.Parameter(t64(np.zeros(2), device)))      # no grad: skipped
        result = utils.clip_grad_norm_(params, 0.5, norm_type=norm_type)
        np.testing.assert_allclose(result.item(), total)
        coef = min(1.0, 0.5 / (total + 1e-6))
        np.testing.assert_allclose(params[0].grad.numpy(), grads[0] * coef)
        np.testing.assert_allclose(params[2].grad.numpy(), grads[1] * coef)
        assert params[1].grad is None


# ------------------------------------------------------------------ flat parameters

def test_vector_to_parameters_takes_the_leading_slices_of_a_longer_vector(device):
    # PyTorch copies vec[pointer:pointer + numel] into each parameter and does not check
    # that the vector ends there: a longer vector (or an (N, 1) column) is accepted
    params = [nn.Parameter(tg.zeros(2, 2, device=device)), nn.Parameter(tg.zeros(3, device=device))]
    utils.vector_to_parameters(tg.arange(10, dtype=tg.float32, device=device), params)
    np.testing.assert_array_equal(params[0].numpy(), [[0, 1], [2, 3]])
    np.testing.assert_array_equal(params[1].numpy(), [4, 5, 6])
    column = tg.arange(7, dtype=tg.float32, device=device).reshape(7, 1) * 2
    utils.vector_to_parameters(column, params)
    np.testing.assert_array_equal(params[0].numpy(), [[0, 2], [4, 6]])
    np.testing.assert_array_equal(params[1].numpy(), [8, 10, 12])


def test_vector_to_parameters_refuses_a_short_vector_naming_the_sizes():
    params = [nn.Parameter(tg.zeros(2, 2)), nn.Parameter(tg.zeros(3))]
    with pytest.raises(ValueError, match=r"vector_to_parameters: vec of shape \(5,\)"):
        utils.vector_to_parameters(tg.zeros(5), params)
    with pytest.raises(ValueError, match=r"vector_to_parameters: vec of shape \(1, 7\)"):
        utils.vector_to_parameters(tg.zeros(1, 7), params)
    with pytest.raises(ValueError, match=r"vector_to_parameters: vec of shape \(\)"):
        utils.vector_to_parameters(tg.tensor(1.0), params)
    np.testing.assert_array_equal(params[0].numpy(), np.zeros((2, 2)))  # nothing copied


# -------------------------------------------------------------------------- pruning

@pytest.mark.parametrize("dim", [2, 5, -3])
def test_structured_pruning_refuses_a_dim_outside_the_weight(dim):
    # PyTorch's _validate_pruning_dim: IndexError, the module left as it was
    for apply in (lambda m: prune.ln_structured(m, "weight", amount=1, n=2, dim=dim),
                  lambda m: prune.random_structured(m, "weight", amount=1, dim=dim)):
        layer = nn.Linear(4, 3)
        with pytest.raises(IndexError, match=rf"invalid index dim={dim} .*shape \(3, 4\)"):
            apply(layer)
        assert list(layer._parameters) == ["weight", "bias"] and not prune.is_pruned(layer)


def test_ln_structured_negative_dim_prunes_the_columns(rng):
    layer = nn.Linear(5, 3).to(dtype=tg.float64)
    w = rng.standard_normal((3, 5))
    layer.weight.data[...] = w
    prune.ln_structured(layer, "weight", amount=2, n=1, dim=-1)
    dropped = np.argsort(np.abs(w).sum(0))[:2]                     # two smallest L1 columns
    expected = np.ones((3, 5))
    expected[:, dropped] = 0
    np.testing.assert_array_equal(layer.weight_mask.numpy(), expected)
    np.testing.assert_array_equal(layer.weight.numpy(), w * expected)


def test_amount_as_a_bool_is_a_count():
    # PyTorch checks isinstance(amount, numbers.Real): True counts as the integer 1
    layer = nn.Linear(3, 2).to(dtype=tg.float64)
    w = np.array([[3.0, -0.5, 2.0], [0.25, -4.0, 1.0]])
    layer.weight.data[...] = w
    prune.l1_unstructured(layer, "weight", amount=True)
    np.testing.assert_array_equal(layer.weight_mask.numpy(), np.abs(w) != 0.25)
    prune.l1_unstructured(layer, "weight", amount=False)            # nothing more
    np.testing.assert_array_equal(layer.weight_mask.numpy(), np.abs(w) != 0.25)


def test_global_unstructured_checks_its_importance_scores_type():
    layer = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="global_unstructured.*importance_scores.*dict"):
        prune.global_unstructured([(layer, "weight")], prune.L1Unstructured,
                                  importance_scores=[tg.ones(2, 3)], amount=1)
    with pytest.raises(TypeError, match="global_unstructured.*parameters.*Iterable"):
        prune.global_unstructured(layer, prune.L1Unstructured, amount=1)
    assert not prune.is_pruned(layer)


def test_global_unstructured_by_given_scores_and_gradient_through_the_mask(rng):
    a, b = nn.Linear(3, 2).to(dtype=tg.float64), nn.Linear(2, 2).to(dtype=tg.float64)
    scores = rng.standard_normal(10)
    prune.global_unstructured([(a, "weight"), (b, "weight")], prune.L1Unstructured,
                              importance_scores={(a, "weight"): t64(scores[:6].reshape(2, 3))},
                              amount=0.4)
    # b ranks by its own weight; round(0.4 · 10) = 4 smallest |score| go
    ranked = np.concatenate([np.abs(scores[:6]), np.abs(b.weight_orig.numpy().ravel())])
    keep = np.ones(10)
    keep[np.argsort(ranked)[:4]] = 0
    np.testing.assert_array_equal(a.weight_mask.numpy().ravel(), keep[:6])
    np.testing.assert_array_equal(b.weight_mask.numpy().ravel(), keep[6:])
    x = rng.standard_normal((4, 3))
    a(t64(x)).sum().backward()                                      # d/dW = mask · Σ_n x
    np.testing.assert_allclose(a.weight_orig.grad.numpy(),
                               keep[:6].reshape(2, 3) * x.sum(0)[None, :])


# --------------------------------------------------------------- weight/spectral norm

def test_hook_weight_norm_gradient_for_a_conv_along_dim_1(rng):
    conv = nn.Conv1d(3, 4, 2).to(dtype=tg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        utils.weight_norm(conv, dim=1)
    g, v = conv.weight_g.numpy(), conv.weight_v.numpy()             # (1, 3, 1), (4, 3, 2)
    C = rng.standard_normal((4, 3, 2))                              # dL/dw
    x = rng.standard_normal((2, 3, 5))
    conv(t64(x))                                                    # the hook recomputes w
    (conv.weight * t64(C)).sum().backward()
    norm = np.sqrt((v ** 2).sum(axis=(0, 2), keepdims=True))
    # w = g v/‖v‖:  dL/dg = Σ C v/‖v‖,  dL/dv = g/‖v‖ C − g Σ(C v) v/‖v‖³
    dg = (C * v / norm).sum(axis=(0, 2), keepdims=True)
    dv = g / norm * C - g * (C * v).sum(axis=(0, 2), keepdims=True) * v / norm ** 3
    np.testing.assert_allclose(conv.weight_g.grad.numpy(), dg, rtol=1e-10)
    np.testing.assert_allclose(conv.weight_v.grad.numpy(), dv, rtol=1e-10, atol=1e-14)


def test_parametrized_spectral_norm_in_eval_mode_value_and_gradient(device, rng):
    conv = nn.Conv2d(2, 3, 2).to(dtype=tg.float64).to(device)
    parametrizations.spectral_norm(conv, n_power_iterations=2)
    conv.eval()
    sn = conv.parametrizations.weight[0]
    u, v = sn._u.numpy().copy(), sn._v.numpy().copy()
    W = conv.parametrizations.weight.original.numpy()
    W_mat = W.reshape(3, -1)
    sigma = u @ W_mat @ v
    np.testing.assert_allclose(conv.weight.numpy(), W / sigma)
    np.testing.assert_array_equal(sn._u.numpy(), u)                 # eval: no iteration
    C = rng.standard_normal(W.shape)
    (conv.weight * t64(C, device)).sum().backward()
    # d(W/σ)/dW with σ = uᵀ W v (u, v constants): C/σ − Σ(C W)/σ² · u vᵀ
    expected = C / sigma - (C * W).sum() / sigma ** 2 * np.outer(u, v).reshape(W.shape)
    np.testing.assert_allclose(conv.parametrizations.weight.original.grad.numpy(), expected,
                               rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------------- fusion

def test_fuse_conv_bn_weights_against_the_formula(rng):
    w, b = rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(4)
    mean, var = rng.standard_normal(4), rng.uniform(0.5, 2.0, 4)
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    fused_w, fused_b = utils.fuse_conv_bn_weights(t64(w), t64(b), t64(mean), t64(var), 1e-3,
                                                  t64(gamma), t64(beta))
    scale = gamma / np.sqrt(var + 1e-3)
    np.testing.assert_allclose(fused_w.numpy(), w * scale[:, None, None, None])
    np.testing.assert_allclose(fused_b.numpy(), (b - mean) * scale + beta)
    wt = rng.standard_normal((3, 4, 2, 2))                          # ConvTranspose: (in, out, k)
    tw, tb = utils.fuse_conv_bn_weights(t64(wt, requires_grad=True), None, t64(mean),
                                        t64(var), 1e-3, None, None, transpose=True)
    scale = 1 / np.sqrt(var + 1e-3)                                 # γ = 1, β = 0, b = 0
    np.testing.assert_allclose(tw.numpy(), wt * scale[None, :, None, None])
    np.testing.assert_allclose(tb.numpy(), -mean * scale)
    assert not tb.requires_grad and tw.requires_grad


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_orthogonal_householder_without_trivialization(device, rng, shape):
    # PyTorch's right_inverse for householder: LAPACK's geqrf of W (reflectors below the
    # diagonal, ±1 on it), so the layer starts at the Q of W = QR with diag(R) > 0
    class Holder(nn.Module):
        def __init__(self, w):
            super().__init__()
            self.weight = nn.Parameter(t64(w, device))

    w = rng.standard_normal(shape)
    holder = Holder(w)
    parametrizations.orthogonal(holder, orthogonal_map="householder", use_trivialization=False)
    assert not hasattr(holder.parametrizations.weight[0], "base")
    tall = w if shape[-2] >= shape[-1] else np.swapaxes(w, -1, -2)
    q, r = np.linalg.qr(tall)
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    expected = q if shape[-2] >= shape[-1] else np.swapaxes(q, -1, -2)
    np.testing.assert_allclose(holder.weight.numpy(), expected, atol=1e-12)
    holder.weight = t64(rng.standard_normal(shape), device)          # assignment works too
    value = holder.weight.numpy()
    gram = value.swapaxes(-1, -2) @ value if shape[-2] >= shape[-1] else \
        value @ value.swapaxes(-1, -2)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(min(shape[-2:])), gram.shape),
                               atol=1e-12)
    (holder.weight * t64(rng.standard_normal(shape), device)).sum().backward()
    assert np.isfinite(holder.parametrizations.weight.original.grad.numpy()).all()
