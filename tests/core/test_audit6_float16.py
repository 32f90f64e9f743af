"""float16 end to end, as PyTorch on the CPU: products accumulated in float32 and rounded
once (dot, vdot, linear, addmm and its kin, conv), reductions, normalisations and losses
against a NumPy reference of the same rule, gradient dtypes and values against float64,
and a float16 training step with SGD and Adam.

The crafted case: a = 1 + 2⁻¹⁰ and w = 1 − 2⁻¹¹ are float16, a·w = 1 + 2⁻¹¹ − 2⁻²¹ is just
below the float16 midpoint of 1 and 1 + 2⁻¹⁰, so rounding it alone gives 1; with a bias of
2048 (ulp 2) the exact 2049.0005 rounds to 2050, while 2048 + 1 = 2049 is a tie that
rounds to the even 2048. PyTorch's gemm rounds once: 2050.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn, optim

H, S = np.float16, np.float32
A, W, BIAS = 1 + 2 ** -10, 1 - 2 ** -11, 2048.0


def _half(values, device, requires_grad=False):
    return tg.tensor(np.asarray(values).astype(H), device=device, requires_grad=requires_grad)


def _assert_rounded_once(got, reference, ulps=0):
    """got is float16 and within ``ulps`` float16 ulps of the float32 reference rounded once."""
    assert got.dtype == H
    expected = np.asarray(reference, S).astype(H)
    assert got.shape == expected.shape
    error = np.abs(got.numpy().astype(np.float64) - expected.astype(np.float64))
    ulp = np.abs(np.spacing(expected)).astype(np.float64)
    assert (error <= ulps * ulp).all(), (got.numpy(), expected)


# --- products: one rounding (fixed) ---

def test_dot_and_vdot_accumulate_in_float32(device, rng):
    a, b = _half([300.0, 300.0], device, True), _half([300.0, -300.0], device)
    for function in (tg.dot, tg.vdot, lambda u, v: u.dot(v)):
        assert function(a, b).numpy() == 0  # products of 90,000 were inf: inf − inf = NaN
    tg.dot(a, b).backward()
    assert a.grad.dtype == H
    np.testing.assert_array_equal(a.grad.numpy(), [300.0, -300.0])
    u, v = rng.standard_normal(200).astype(H), rng.standard_normal(200).astype(H)
    reference = (u.astype(S) * v.astype(S)).sum()
    _assert_rounded_once(tg.dot(_half(u, device), _half(v, device)), reference, ulps=1)


def test_linear_with_bias_rounds_once(device):
    x, w, b = _half([[A]], device), _half([[W]], device), _half([BIAS], device)
    assert F.linear(x, w, b).numpy()[0, 0] == 2050
    layer = nn.Linear(1, 1, dtype=tg.float16).to(device)
    with tg.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(b)
    assert layer(x).numpy()[0, 0] == 2050
    assert F.linear(x.reshape(1, 1, 1), w, b).numpy()[0, 0, 0] == 2050


def test_linear_float16_matches_float32_reference(device, rng):
    x = rng.standard_normal((6, 5, 32)).astype(H)
    w, b = rng.standard_normal((7, 32)).astype(H), rng.standard_normal(7).astype(H) * 50
    got = F.linear(_half(x, device), _half(w, device), _half(b, device))
    _assert_rounded_once(got, x.astype(S) @ w.astype(S).T + b.astype(S), ulps=1)


@pytest.mark.parametrize("name", ["addmm", "addmv", "baddbmm", "addbmm"])
def test_addmm_family_rounds_once(name, device):
    one = {"addmm": ((1, 1), (1, 1)), "addmv": ((1, 1), (1,)),
           "baddbmm": ((1, 1, 1), (1, 1, 1)), "addbmm": ((1, 1, 1), (1, 1, 1))}[name]
    left = _half(np.full(one[0], A), device)
    right = _half(np.full(one[1], W), device)
    got = getattr(tg, name)(_half([BIAS], device), left, right)
    assert got.dtype == H
    assert got.numpy().reshape(-1)[0] == 2050
    scaled = getattr(tg, name)(_half([BIAS], device), left, right, beta=0.5, alpha=2)
    assert scaled.numpy().reshape(-1)[0] == np.float32(0.5 * BIAS + 2 * A * W).astype(H)


def test_addmm_float16_matches_float32_reference_and_gradient_dtype(device, rng):
    c, a, b = (rng.standard_normal(s).astype(H) for s in ((4, 3), (4, 16), (16, 3)))
    mat1 = _half(a, device, requires_grad=True)
    got = tg.addmm(_half(c, device), mat1, _half(b, device), alpha=0.5)
    _assert_rounded_once(got, c.astype(S) + 0.5 * (a.astype(S) @ b.astype(S)), ulps=1)
    got.sum().backward()
    assert mat1.grad.dtype == H
    np.testing.assert_allclose(mat1.grad.numpy(), 0.5 * np.ones((4, 3)) @ b.astype(np.float64).T,
                               rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("dims", [1, 2])
def test_conv_with_bias_rounds_once(dims, device):
    shape = (1,) * (dims + 2)
    x, w, b = _half(np.full(shape, A), device), _half(np.full(shape, W), device), \
        _half([BIAS], device)
    got = (F.conv1d if dims == 1 else F.conv2d)(x, w, b)
    assert got.dtype == H and got.numpy().reshape(-1)[0] == 2050


def test_conv2d_float16_reference_and_gradients(device, rng):
    x, w = rng.standard_normal((2, 3, 5, 5)).astype(H), rng.standard_normal((4, 3, 3, 3)).astype(H)
    b = (rng.standard_normal(4) * 20).astype(H)
    columns = np.lib.stride_tricks.sliding_window_view(np.pad(x.astype(S), ((0, 0), (0, 0),
                                                       (1, 1), (1, 1))), (3, 3), axis=(2, 3))
    reference = np.einsum("nchwij,ocij->nohw", columns, w.astype(S)) + b.astype(S)[:, None, None]
    inputs = [_half(v, device, True) for v in (x, w, b)]
    got = F.conv2d(*inputs, padding=1)
    _assert_rounded_once(got, reference, ulps=1)
    got.sum().backward()
    wide = [tg.tensor(v.astype(np.float64), requires_grad=True) for v in (x, w, b)]
    F.conv2d(*wide, padding=1).sum().backward()
    for half, exact in zip(inputs, wide):
        assert half.grad.dtype == H
        np.testing.assert_allclose(half.grad.numpy(), exact.grad.numpy(), rtol=2e-3, atol=2e-2)


# --- reductions, normalisations, losses (checked: float32 accumulation, one rounding) ---

def _log_softmax(x, axis):
    shifted = x - x.max(axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis, keepdims=True))


def _normalized(x, axes):
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5)


CHECKS = {  # name -> (our function of x, the float32 reference of x32)
    "sum": (lambda x: x.sum(1), lambda x: x.sum(1)),
    "mean past float16": (lambda x: (x * 200).mean(), lambda x: (x * 200).astype(H).astype(S).mean()),
    "var": (lambda x: x.var(1), lambda x: x.var(1, ddof=1)),
    "std": (lambda x: x.std(0), lambda x: x.std(0, ddof=1)),
    "norm": (lambda x: x.norm(dim=1), lambda x: np.sqrt((x * x).sum(1))),
    "logsumexp": (lambda x: x.logsumexp(1),
                  lambda x: np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1)),
    "cumsum": (lambda x: x.cumsum(1), lambda x: np.cumsum(x, 1)),
    "softmax": (lambda x: F.softmax(x, 1), lambda x: np.exp(_log_softmax(x, 1))),
    "log_softmax": (lambda x: F.log_softmax(x, 1), lambda x: _log_softmax(x, 1)),
    "layer_norm": (lambda x: F.layer_norm(x, (x.shape[1],)), lambda x: _normalized(x, 1)),
    "batch_norm": (lambda x: F.batch_norm(x, None, None, training=True),
                   lambda x: _normalized(x, 0)),
    "group_norm": (lambda x: F.group_norm(x.reshape(4, 6, 10), 3),
                   lambda x: _normalized(x.reshape(4, 3, 20), 2).reshape(4, 6, 10)),
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_statistics_match_float32_reference(name, device, rng):
    x = (rng.standard_normal((4, 60)) * 8).astype(H)
    ours, reference = CHECKS[name]
    _assert_rounded_once(ours(_half(x, device)), reference(x.astype(S)), ulps=1)


def test_prod_and_cumprod_match_float32_reference(device, rng):
    x = (1 + rng.standard_normal((3, 20)) * 0.05).astype(H)
    _assert_rounded_once(_half(x, device).prod(1), x.astype(S).prod(1), ulps=1)
    _assert_rounded_once(_half(x, device).cumprod(1), np.cumprod(x.astype(S), 1), ulps=1)


def test_losses_match_float32_reference(device, rng):
    x, y = (rng.standard_normal((4, 30)) * 3).astype(H), rng.standard_normal((4, 30)).astype(H)
    x32, y32 = x.astype(S), y.astype(S)
    _assert_rounded_once(F.mse_loss(_half(x, device), _half(y, device)),
                         ((x32 - y32) ** 2).mean(), ulps=1)
    labels = (y > 0).astype(H)
    bce = np.maximum(x32, 0) - x32 * labels + np.log1p(np.exp(-np.abs(x32)))
    _assert_rounded_once(F.binary_cross_entropy_with_logits(_half(x, device),
                                                            _half(labels, device)),
                         bce.mean(), ulps=1)
    target = rng.integers(0, 30, 4)
    # PyTorch: log_softmax rounded to float16, then nll_loss's mean
    picked = _log_softmax(x32, 1).astype(H).astype(S)[np.arange(4), target]
    _assert_rounded_once(F.cross_entropy(_half(x, device), tg.tensor(target, device=device)),
                         -picked.mean(), ulps=1)


def test_sum_with_dtype_float32_is_not_rounded(device):
    x = _half([60000.0, 60000.0], device)
    assert x.sum().numpy() == np.inf
    assert x.sum(dtype=tg.float32).dtype == S and x.sum(dtype=tg.float32).numpy() == 120000
    assert x.mean().numpy() == 60000  # float32 sum, then one rounding (PyTorch's mean_out)


@pytest.mark.parametrize("name", ["sum", "var", "norm", "log_softmax", "cross_entropy",
                                  "layer_norm", "linear", "bmm"])
def test_gradients_are_float16_and_close_to_float64(name, device, rng):
    x = (rng.standard_normal((4, 12)) * 3).astype(H)
    w = rng.standard_normal((5, 12)).astype(H)
    target = tg.tensor(rng.integers(0, 12, 4), device=device)
    function = {
        "sum": lambda x, w: x.sum(1), "var": lambda x, w: x.var(1),
        "norm": lambda x, w: x.norm(dim=1), "log_softmax": lambda x, w: F.log_softmax(x, 1),
        "cross_entropy": lambda x, w: F.cross_entropy(x, target),
        "layer_norm": lambda x, w: F.layer_norm(x, (12,)),
        "linear": lambda x, w: F.linear(x, w), "bmm": lambda x, w: tg.bmm(
            x.reshape(2, 2, 12), w[:4].reshape(2, 12, 2)),
    }[name]
    half = [_half(v, device, True) for v in (x, w)]
    wide = [tg.tensor(v.astype(np.float64), device=device, requires_grad=True) for v in (x, w)]
    out_half, out_wide = function(*half), function(*wide)
    assert out_half.dtype == H
    seed = rng.standard_normal(out_half.shape).astype(H)
    out_half.backward(_half(seed, device))
    out_wide.backward(tg.tensor(seed.astype(np.float64), device=device))
    for h, d in zip(half, wide):
        if d.grad is None:
            assert h.grad is None
            continue
        assert h.grad.dtype == H
        exact = d.grad.numpy()
        np.testing.assert_allclose(h.grad.numpy(), exact, rtol=3e-3,
                                   atol=3e-3 * max(np.abs(exact).max(), 1e-3))


# --- a float16 training step ---

def _mlp_step(device, rng, make_optimizer):
    x = rng.standard_normal((8, 6)).astype(H)
    target = rng.integers(0, 3, 8)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).to(tg.float16).to(device)
    before = [p.numpy().astype(np.float64) for p in model.parameters()]
    optimizer = make_optimizer(model.parameters())
    loss = F.cross_entropy(model(_half(x, device)), tg.tensor(target, device=device))
    loss.backward()
    grads = [p.grad.numpy().astype(np.float64) for p in model.parameters()]
    assert loss.dtype == H and all(p.grad.dtype == H for p in model.parameters())
    # the float64 forward and backward of the same float16 weights
    w1, b1, w2, b2 = before
    hidden = x.astype(np.float64) @ w1.T + b1
    logits = np.maximum(hidden, 0) @ w2.T + b2
    p = np.exp(_log_softmax(logits, 1))
    np.testing.assert_allclose(float(loss.numpy()), -np.log(p[np.arange(8), target]).mean(),
                               rtol=2e-3)
    g_logits = (p - np.eye(3)[target]) / 8
    g_hidden = (g_logits @ w2) * (hidden > 0)
    exact = [g_hidden.T @ x.astype(np.float64), g_hidden.sum(0), g_logits.T @ np.maximum(
        hidden, 0), g_logits.sum(0)]
    for got, want in zip(grads, exact):
        np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-3)
    optimizer.step()
    assert all(p.dtype == H for p in model.parameters())
    return model, optimizer, before, grads


def test_float16_mlp_sgd_step(device, rng):
    model, _, before, grads = _mlp_step(device, rng, lambda ps: optim.SGD(ps, lr=0.5))
    for p, old, g in zip(model.parameters(), before, grads):
        np.testing.assert_allclose(p.numpy(), (old - 0.5 * g).astype(H), rtol=2e-3, atol=1e-3)


def test_float16_adam_keeps_float16_state_and_eps_underflows_as_pytorch(device, rng):
    model, optimizer, before, grads = _mlp_step(
        device, rng, lambda ps: optim.Adam(ps, lr=1e-2, eps=1e-4))
    for p, old, g in zip(model.parameters(), before, grads):
        state = optimizer.state[p]
        assert state["exp_avg"].dtype == H and state["exp_avg_sq"].dtype == H
        # step 1: m̂ = g, v̂ = g² (bias corrected), θ − γ g / (|g| + ε)
        expected = old - 1e-2 * g / (np.sqrt(np.asarray(0.001 * g * g, H).astype(np.float64)
                                             / 0.001) + 1e-4)
        np.testing.assert_allclose(p.numpy(), expected, rtol=2e-3, atol=2e-4)
        assert np.isfinite(p.numpy()).all()
    # eps = 1e-8 is 0 in float16 (its smallest subnormal is 6e-8): PyTorch's float16
    # Adam gives 0 / 0 = NaN where the gradient is 0, and so must we
    theta = _half([1.0, 2.0], device, requires_grad=True)
    adam = optim.Adam([theta], lr=0.1)
    (theta[0] * 3).backward()
    with np.errstate(invalid="ignore", divide="ignore"):
        adam.step()
    values = theta.numpy()
    assert values[0] == np.asarray(1.0 - 0.1, H) and np.isnan(values[1])
