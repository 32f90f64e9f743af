"""Second audit of the losses and nn.functional extras against PyTorch's semantics.

Expected values are written here in NumPy from PyTorch's documented formulas (PyTorch is
not imported). The first tests pin the bugs this audit fixed; the rest pin behaviours
checked right but not covered elsewhere.
"""

import itertools

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F


def brute_force_ctc(log_probs, target, blank=0):
    """−log Σ over every alignment (path of length T) that collapses to ``target`` of
    exp(Σ_t log_probs[t, path_t]), and its gradient with respect to log_probs: for a
    path of probability P, d(−log Σ P)/d log_probs[t, c] = −Σ_{paths with c at t} P / Σ P.
    Returns (loss, gradient); (inf, zeros) when no path has nonzero probability."""
    T, C = log_probs.shape
    total, grad = 0.0, np.zeros_like(log_probs)
    for path in itertools.product(range(C), repeat=T):
        collapsed = [c for i, c in enumerate(path) if c != blank and (i == 0 or c != path[i - 1])]
        if collapsed != list(target):
            continue
        p = np.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
        total += p
        for t, c in enumerate(path):
            grad[t, c] -= p
    if total == 0:
        return np.inf, np.zeros_like(log_probs)
    return -np.log(total), grad / total


def log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# ------------------------------------------------------------------ ctc_loss with −inf log-probs

def test_ctc_loss_of_a_target_ruled_out_by_minus_inf_log_probs_is_inf(device, rng):
    # PyTorch: a label whose log-probability is −inf at every step has probability 0, so the
    # loss is inf (−log 0), and zero_infinity makes it 0 with a zero gradient. Before the
    # fix −inf met the finite "impossible" marker and the loss came out as 1e30, not inf,
    # zero_infinity left it, and the gradient was NaN.
    lp = log_softmax(rng.normal(size=(4, 2, 3)))
    lp[:, 0, 1] = -np.inf                                      # label 1 impossible, sample 0
    targets = tg.tensor(np.array([[1, 2], [1, 2]]), device=device)
    x = tg.tensor(lp, device=device, requires_grad=True)
    loss = F.ctc_loss(x, targets, [4, 4], [2, 2], reduction="none")
    expected_1, _ = brute_force_ctc(lp[:, 1], [1, 2])
    assert loss.numpy()[0] == np.inf
    np.testing.assert_allclose(loss.numpy()[1], expected_1, rtol=1e-10)

    x = tg.tensor(lp, device=device, requires_grad=True)
    loss = F.ctc_loss(x, targets, [4, 4], [2, 2], reduction="none", zero_infinity=True)
    np.testing.assert_allclose(loss.numpy(), [0.0, expected_1], rtol=1e-10)
    loss.sum().backward()
    grad = x.grad.numpy()
    assert not np.isnan(grad).any()
    np.testing.assert_array_equal(grad[:, 0], 0.0)


def test_ctc_loss_when_minus_inf_log_probs_block_every_path_at_one_step(device, rng):
    # Every class impossible at t = 2 for sample 0: no alignment survives, so PyTorch gives
    # inf, 0 with zero_infinity; sample 1 is untouched. The 'mean' of the batch divides each
    # loss by its target length first.
    lp = log_softmax(rng.normal(size=(5, 2, 4)))
    lp[2, 0, :] = -np.inf
    x = tg.tensor(lp, device=device, requires_grad=True)
    loss = F.ctc_loss(x, tg.tensor(np.array([[1, 2], [1, 3]]), device=device), [5, 5], [2, 2],
                      zero_infinity=True)
    expected_1, grad_1 = brute_force_ctc(lp[:, 1], [1, 3])
    np.testing.assert_allclose(loss.item(), (0.0 + expected_1 / 2) / 2, rtol=1e-10)
    loss.backward()
    grad = x.grad.numpy()
    np.testing.assert_array_equal(grad[:, 0], 0.0)
    np.testing.assert_allclose(grad[:, 1], grad_1 / 4, rtol=1e-8, atol=1e-12)
    assert F.ctc_loss(tg.tensor(lp, device=device), np.array([[1, 2], [1, 3]]), [5, 5],
                      [2, 2], reduction="sum").item() == np.inf


def test_ctc_loss_with_minus_inf_on_some_paths_only_is_finite_with_the_true_gradient(rng):
    # log-probabilities of −inf rule out some alignments; the rest keep the loss finite. The
    # gradient is the true derivative (0 at the −inf entries), with no NaN.
    lp = log_softmax(rng.normal(size=(5, 4)))
    lp[0, 0] = -np.inf                                         # blank impossible at t = 0
    lp[1:3, 2] = -np.inf                                       # label 2 only at t >= 3
    lp[:, 3] = -np.inf                                         # class 3 never
    x = tg.tensor(lp[:, None], requires_grad=True)             # (T, 1, C)
    loss = F.ctc_loss(x, np.array([[1, 2]]), [5], [2], reduction="sum")
    expected, expected_grad = brute_force_ctc(lp, [1, 2])
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-10)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy()[:, 0], expected_grad, rtol=1e-8, atol=1e-12)


def test_ctc_loss_nan_log_probs_stay_nan():
    # PyTorch propagates a NaN; it is not mistaken for an impossible target (inf or 0).
    lp = np.log(np.full((4, 1, 3), 1 / 3))
    lp[1, 0, 0] = np.nan
    for zero_infinity in (False, True):
        loss = F.ctc_loss(tg.tensor(lp), np.array([[1, 2]]), [4], [2], reduction="none",
                          zero_infinity=zero_infinity)
        assert np.isnan(loss.numpy()).all()


def test_ctc_loss_takes_lengths_as_tuples_or_tensors_and_targets_either_layout(rng):
    # PyTorch: input_lengths/target_lengths as tuples or tensors; targets padded (N, S) or
    # concatenated 1-D; 'mean' = mean over the batch of loss_n / target_length_n.
    lp = log_softmax(rng.normal(size=(4, 2, 3)))
    expected = [brute_force_ctc(lp[:4, 0], [1, 1])[0], brute_force_ctc(lp[:3, 1], [2])[0]]
    mean = (expected[0] / 2 + expected[1] / 1) / 2
    padded, flat = np.array([[1, 1], [2, 0]]), np.array([1, 1, 2])
    for targets, lengths in [(padded, ((4, 3), (2, 1))), (flat, ((4, 3), (2, 1))),
                             (tg.tensor(flat), (tg.tensor(np.array([4, 3])),
                                                tg.tensor(np.array([2, 1]))))]:
        loss = F.ctc_loss(tg.tensor(lp), targets, *lengths)
        np.testing.assert_allclose(loss.item(), mean, rtol=1e-10)


# ------------------------------------------------------------------------------ rms_norm eps

def test_rms_norm_float16_default_eps_is_float16s_machine_epsilon():
    # PyTorch: eps=None means torch.finfo(input.dtype).eps, 2^-10 for float16 (the mean
    # square is taken in float32, eps stays float16's). Before the fix the float16 input was
    # cast to float32 first and float32's eps (2^-23) was used: [0.707, 1.414, -0.707]
    # instead of [0.29, 0.58, -0.29] here.
    values = np.array([[1e-2, 2e-2, -1e-2]], np.float16)
    got = F.rms_norm(tg.tensor(values), (3,))
    assert got.dtype == np.float16
    x = values.astype(np.float32)
    expected = x / np.sqrt((x * x).mean(-1, keepdims=True) + np.finfo(np.float16).eps)
    np.testing.assert_allclose(got.numpy().astype(np.float32), expected, rtol=2e-3)
    layer = tg.nn.RMSNorm(3, dtype=tg.float16)                 # eps=None: the same default
    np.testing.assert_allclose(layer(tg.tensor(values)).numpy().astype(np.float32), expected,
                               rtol=2e-3)


def test_rms_norm_default_eps_per_dtype(rng):
    # float32 and float64 use their own finfo eps (visible on tiny inputs).
    for dtype in (np.float32, np.float64):
        x = (rng.normal(size=(2, 5)) * 1e-4).astype(dtype)
        eps = np.finfo(dtype).eps
        expected = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
        np.testing.assert_allclose(F.rms_norm(tg.tensor(x), 5).numpy(), expected,
                                   rtol=1e-5 if dtype == np.float32 else 1e-12)


# -------------------------------------------------------------------- pinned loss behaviours

def test_multi_margin_loss_p2_margin_and_weight_of_the_target_class(rng):
    # PyTorch: l_n = Σ_{i≠y} w[y] · max(0, margin − x[y] + x[i])^p / C (weight of the
    # *target* class, not of i).
    x, y = rng.normal(size=(3, 4)), np.array([0, 3, 1])
    w = rng.uniform(0.5, 2, size=4)
    expected = np.array([sum(w[y[n]] * max(0.0, 0.7 - x[n, y[n]] + x[n, i]) ** 2
                             for i in range(4) if i != y[n]) / 4 for n in range(3)])
    got = F.multi_margin_loss(tg.tensor(x), tg.tensor(y), p=2, margin=0.7,
                              weight=tg.tensor(w), reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_poisson_nll_rates_with_the_full_stirling_term():
    # PyTorch, log_input=False: x − y·log(x + eps); full adds y·log y − y + ½·log(2πy)
    # only where y > 1.
    x, y = np.array([0.5, 1.5, 2.0, 3.0, 0.2]), np.array([0.0, 1.0, 2.0, 3.5, 7.0])
    safe = np.where(y > 1, y, 1.0)
    stirling = np.where(y > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe), 0)
    expected = x - y * np.log(x + 1e-8) + stirling
    got = F.poisson_nll_loss(tg.tensor(x), tg.tensor(y), log_input=False, full=True,
                             reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_gaussian_nll_homoscedastic_var_shapes_and_eps_clamp(rng):
    # PyTorch: var (N, D), (N,) or (N, 1); var clamped at eps; 'mean' over all N·D terms.
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    var = np.array([0.5, 1e-9, 2.0, 0.1])
    clamped = np.maximum(var, 1e-6)[:, None]
    expected = 0.5 * (np.log(clamped) + (x - y) ** 2 / clamped) + 0.5 * np.log(2 * np.pi)
    for shape in [(4,), (4, 1)]:
        got = F.gaussian_nll_loss(tg.tensor(x), tg.tensor(y), tg.tensor(var.reshape(shape)),
                                  full=True, reduction="mean")
        np.testing.assert_allclose(got.item(), expected.mean(), rtol=1e-12)


def test_nll_loss_spatial_weight_and_ignore_index_mean_divides_by_the_kept_weights(rng):
    # PyTorch: (N, C, d1, d2) log-probs; 'mean' = Σ w[y]·(−lp[y]) / Σ w[y] over the
    # positions whose target is not ignore_index.
    lp = log_softmax(rng.normal(size=(2, 4, 3, 2)), axis=1)
    y = rng.integers(0, 4, size=(2, 3, 2))
    y[0, 0, 0], y[1, 2, 1] = 2, 2
    w = rng.uniform(0.5, 2, size=4)
    picked = -np.take_along_axis(lp, y[:, None], 1)[:, 0]
    kept = y != 2
    expected = (w[y] * picked * kept).sum() / (w[y] * kept).sum()
    got = F.nll_loss(tg.tensor(lp), tg.tensor(y), weight=tg.tensor(w), ignore_index=2)
    np.testing.assert_allclose(got.item(), expected, rtol=1e-12)


# ---------------------------------------------------------------- pinned functional behaviours

def test_embedding_bag_padding_idx_and_empty_bags_in_every_mode(rng):
    # PyTorch: entries equal to padding_idx are left out (not counted by the mean); an
    # empty bag (or one of padding only) gives zeros.
    W = rng.normal(size=(6, 3))
    indices = np.array([1, 2, 4, 5, 4, 3, 2, 0, 4])
    offsets = np.array([0, 2, 2, 5, 8])                       # bags: [1 2] [] [4 5 4] [3 2 0] [4]
    bags = [[1, 2], [], [5], [3, 2, 0], []]                   # without padding_idx 4
    for mode, reduce in [("sum", np.sum), ("mean", np.mean), ("max", np.max)]:
        got = F.embedding_bag(tg.tensor(indices), tg.tensor(W), tg.tensor(offsets), mode=mode,
                              padding_idx=4)
        expected = [reduce(W[b], axis=0) if b else np.zeros(3) for b in bags]
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_gumbel_softmax_hard_is_one_hot_with_the_soft_samples_gradient(rng):
    # PyTorch: hard=True returns y_hard − y_soft.detach() + y_soft: a one-hot of the soft
    # sample's argmax in value, the soft sample's gradient (straight-through).
    logits = rng.normal(size=(3, 5))
    upstream = tg.tensor(rng.normal(size=(3, 5)))
    results = []
    for hard in (True, False):
        tg.manual_seed(7)
        x = tg.tensor(logits, requires_grad=True)
        y = F.gumbel_softmax(x, tau=0.5, hard=hard, dim=1)
        (y * upstream).sum().backward()
        results.append((y.numpy(), x.grad.numpy()))
    (y_hard, grad_hard), (y_soft, grad_soft) = results
    np.testing.assert_array_equal(y_hard, np.eye(5)[y_soft.argmax(1)])
    np.testing.assert_allclose(grad_hard, grad_soft, rtol=1e-12)


def test_interpolate_nearest_exact_and_linear_scale_factor_versus_recomputed():
    # PyTorch: nearest-exact reads floor((j + ½)·s) (s = in/out in float32); linear uses
    # s = 1/scale_factor unless recompute_scale_factor, then s = in/out.
    x = np.arange(7.0)[None, None]
    for out in (3, 5, 10, 13):
        step = np.float32(7) / np.float32(out)
        index = np.minimum(np.floor((np.arange(out) + np.float32(0.5)) * step).astype(int), 6)
        got = F.interpolate(tg.tensor(x), size=out, mode="nearest-exact")
        np.testing.assert_array_equal(got.numpy()[0, 0], index)

    x = np.array([0.0, 1.0, 4.0, 9.0, 16.0])[None, None]

    def linear(step, out):
        u = np.maximum((np.arange(out) + 0.5) * step - 0.5, 0)
        i = np.floor(u).astype(int)
        lam = u - i
        return (1 - lam) * x[0, 0, i] + lam * x[0, 0, np.minimum(i + 1, 4)]

    given = F.interpolate(tg.tensor(x), scale_factor=1.7, mode="linear")
    recomputed = F.interpolate(tg.tensor(x), scale_factor=1.7, mode="linear",
                               recompute_scale_factor=True)
    np.testing.assert_allclose(given.numpy()[0, 0], linear(1 / 1.7, 8), rtol=1e-12)
    np.testing.assert_allclose(recomputed.numpy()[0, 0], linear(5 / 8, 8), rtol=1e-12)


def test_lp_pool1d_ceil_mode_scales_a_partial_window_by_k_over_its_count(rng):
    # PyTorch: (avg_pool1d(x^p, ceil_mode) · k)^(1/p); the last, partial window's average
    # is over its 2 elements, then times k = 3.
    x = rng.uniform(0.5, 2, size=(1, 2, 8))
    got = F.lp_pool1d(tg.tensor(x), 2, 3, stride=2, ceil_mode=True)
    expected = np.stack([np.sqrt((x[..., s:s + 3] ** 2).mean(-1) * 3) for s in (0, 2, 4, 6)],
                        -1)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_local_response_norm_with_a_window_wider_than_the_channels(rng):
    # PyTorch: the squares are zero-padded by n//2 before and (n−1)//2 after along C,
    # averaged over n, then y = x / (k + α·avg)^β.
    x = rng.normal(size=(2, 3, 4))
    n = 6
    squares = np.pad(x ** 2, ((0, 0), (n // 2, (n - 1) // 2), (0, 0)))
    average = np.stack([squares[:, c:c + n].sum(1) for c in range(3)], 1) / n
    got = F.local_response_norm(tg.tensor(x), n, alpha=0.3, beta=0.6, k=2.0)
    np.testing.assert_allclose(got.numpy(), x / (2.0 + 0.3 * average) ** 0.6, rtol=1e-12)


def test_conv_gradients_as_functions_with_stride_dilation_and_groups(rng):
    # torch.nn.grad.conv2d_input / conv2d_weight equal the autograd gradients of conv2d.
    x = tg.tensor(rng.normal(size=(2, 4, 7, 6)), requires_grad=True)
    w = tg.tensor(rng.normal(size=(6, 2, 3, 2)), requires_grad=True)
    options = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    y = F.conv2d(x, w, None, **options)
    g = tg.tensor(rng.normal(size=y.shape))
    (y * g).sum().backward()
    got_input = tg.nn.grad.conv2d_input(x.shape, w.detach(), g, **options)
    got_weight = tg.nn.grad.conv2d_weight(x.detach(), w.shape, g, **options)
    np.testing.assert_allclose(got_input.numpy(), x.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_weight.numpy(), w.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["multilabel_soft_margin", "poisson_rates", "gaussian_rows",
                                  "cosine_margin", "triplet_p1_swap", "multilabel_margin"])
def test_gradcheck_of_loss_options(name, rng):
    x = tg.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    y = tg.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    z = tg.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    labels = (rng.uniform(size=(3, 4)) > 0.5) * 1.0
    cases = {
        "multilabel_soft_margin": (lambda a, w: F.multilabel_soft_margin_loss(
            a, labels, weight=w), (x, tg.tensor(rng.uniform(0.5, 2, 4), requires_grad=True))),
        "poisson_rates": (lambda a: F.poisson_nll_loss(a, np.array([[0, 1, 2, 5.0]] * 3),
                                                       log_input=False, full=True),
                          (tg.tensor(rng.uniform(0.5, 3, (3, 4)), requires_grad=True),)),
        "gaussian_rows": (lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=True),
                          (x, y, tg.tensor(rng.uniform(0.5, 2, 3), requires_grad=True))),
        "cosine_margin": (lambda a, b: F.cosine_embedding_loss(a, b, np.array([1, -1, -1]),
                                                                margin=-0.5), (x, y)),
        "triplet_p1_swap": (lambda a, b, c: F.triplet_margin_loss(a, b, c, p=1, swap=True,
                                                                   margin=3.0), (x, y, z)),
        "multilabel_margin": (lambda a: F.multilabel_margin_loss(
            a, np.array([[3, 0, -1, 1], [1, -1, 0, 0], [0, 1, 2, 3]])), (x,)),
    }
    function, inputs = cases[name]
    assert tg.autograd.gradcheck(function, inputs)
