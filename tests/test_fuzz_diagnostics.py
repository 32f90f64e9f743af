"""Randomised (hypothesis) checks of tinygrad_opt/diagnostics.py against NumPy recomputations.

* ``Monitor`` during training of random MLPs (depths, widths, activations, weight scales,
  frozen layers, SGD / Adam, batch sizes, seeds, eval passes between steps): every gradient
  norm, weight norm and update ratio against NumPy norms of the parameters before and after
  each step and of their ``.grad``; every activation mean, std, saturated fraction (``|x| >``
  4 for sigmoid, 2 for tanh) and dead fraction (units ≤ 0 on every sample of the batch)
  against a NumPy forward pass; then the hooks are gone (the hook registries hold only the
  user's own hook again) and the model computes what it did with them.
* One activation module on inputs of any shape with exact thresholds and zeros in them;
  huge weights, gradients and activations (norms accumulated in float64, not overflowing).
* ``check_initial_loss`` (ln C, NumPy cross-entropy, verdict and message),
  ``overfit_small_batch`` (against a NumPy replica of SGD on least squares),
  ``lr_range_test`` (the geometric rates, the bias-corrected average of the losses the
  loss function saw, the early stop, the suggestion, batches cycled, the model restored),
  ``check_update_ratios`` and ``check_learning_curves`` (the documented rules, re-written).
* Bad inputs (bad ranges, steps, empty or one-shot loaders, empty or non-finite data, too
  few classes, mismatched curves) raise ValueError naming what was wrong.

``DIAGNOSTICS_FUZZ_EXAMPLES=N`` draws N examples per test (default 5);
``HYPOTHESIS_PROFILE=explore`` draws new ones.
"""

import math
import os
import types

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn, optim
from tinygrad_opt.data import DataLoader, TensorDataset
from tinygrad_opt.diagnostics import (Monitor, check_initial_loss, check_learning_curves,
                                      check_update_ratios, layer_grad_norms, lr_range_test,
                                      overfit_small_batch)
from fuzzing import examples, fuzz_settings

EXAMPLES = examples("DIAGNOSTICS_FUZZ_EXAMPLES", 5)
fuzz = fuzz_settings(EXAMPLES)

# the host and the conftest's other device ('strict' on CI; TINYGRAD_OPT_TEST_DEVICE=cuda)
DEVICES = st.sampled_from(["cpu", os.environ.get("TINYGRAD_OPT_TEST_DEVICE", "strict")])
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
THRESHOLDS = {"Sigmoid": 4.0, "Tanh": 2.0}          # the documented defaults
SATURATING = ("Sigmoid", "Tanh")
RECTIFIERS = ("ReLU", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")   # diverging runs overflow


def norm64(array) -> float:
    return float(np.linalg.norm(np.asarray(array, dtype=np.float64).ravel()))


def host(tensor) -> np.ndarray:
    return tensor.detach().numpy().astype(np.float64)


def make_activation(kind: str, option: float):
    """The module of ``kind`` (``option`` is its slope or alpha) and its NumPy twin."""
    if kind == "ReLU":
        return nn.ReLU(), lambda x: np.maximum(x, 0)
    if kind == "LeakyReLU":
        return nn.LeakyReLU(option), lambda x: np.where(x > 0, x, option * x)
    if kind == "ELU":
        return nn.ELU(option), lambda x: np.where(x > 0, x, option * np.expm1(x))
    if kind == "SELU":
        return nn.SELU(), lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))
    if kind == "Sigmoid":
        return nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))
    if kind == "Tanh":
        return nn.Tanh(), np.tanh
    if kind == "PReLU":
        module = nn.PReLU(init=option)
        return module, lambda x: np.where(x > 0, x, host(module.weight) * x)
    if kind == "RReLU":
        return nn.RReLU(), None                          # random slopes: no twin
    raise AssertionError(kind)


def fraction_bounds(lower: np.ndarray, upper: np.ndarray):
    """(lowest, highest) fraction a comparison can give when values within ``eps`` of its
    threshold may fall either way: ``lower`` / ``upper`` are the strict / loose outcomes."""
    return float(np.mean(lower)), float(np.mean(upper))


def expected_activation_stats(kind: str, pre: np.ndarray, out: np.ndarray, thresholds,
                              eps: float = 0.0):
    """(mean, std, saturated bounds, dead bounds) by the documented definitions."""
    saturated = dead = (math.nan, math.nan)
    if kind in SATURATING:
        threshold = thresholds[kind]
        saturated = fraction_bounds(np.abs(pre) > threshold + eps, np.abs(pre) > threshold - eps)
    if kind in RECTIFIERS:
        units = pre.reshape(pre.shape[0], -1)                       # (N, units)
        dead = fraction_bounds((units <= -eps).all(axis=0), (units <= eps).all(axis=0))
    return out.mean(), out.std(), saturated, dead


def assert_within(value: float, bounds, what: str):
    low, high = bounds
    if math.isnan(low):
        assert math.isnan(value), f"{what}: {value}, expected NaN"
    else:
        assert low - 1e-12 <= value <= high + 1e-12, f"{what}: {value} not in {bounds}"


# ============================================================================ Monitor

@st.composite
def mlps(draw):
    depth = draw(st.integers(0, 3))                             # hidden layers
    widths = [draw(st.integers(1, 6)) for _ in range(depth + 1)]
    kinds = [draw(st.sampled_from(["ReLU", "LeakyReLU", "PReLU", "ELU", "SELU", "Sigmoid",
                                   "Tanh", None])) for _ in range(depth)]
    options = [draw(st.floats(0.01, 1.5)) for _ in range(depth)]
    classes = draw(st.integers(2, 4))
    scales = [draw(st.sampled_from([0.0, 0.3, 1.0, 4.0])) for _ in range(depth + 1)]
    shifts = [draw(st.floats(-3, 3)) for _ in range(depth + 1)]
    return widths, kinds, options, classes, scales, shifts


def build_mlp(widths, kinds, options, classes, scales, shifts, seed):
    """Sequential(Linear, [activation], Linear, ...); returns it, the NumPy twins of its
    modules and the indices of its Linear layers."""
    tg.manual_seed(seed)
    sizes = widths + [classes]
    layers, twins, linears = [], [], []
    for index in range(len(sizes) - 1):
        linear = nn.Linear(sizes[index], sizes[index + 1])
        with tg.no_grad():
            linear.weight.mul_(scales[index])
            linear.bias.add_(shifts[index])
        linears.append(len(layers))
        layers.append(linear)
        twins.append(("Linear", None))
        if index < len(kinds) and kinds[index] is not None:
            module, twin = make_activation(kinds[index], options[index])
            layers.append(module)
            twins.append((kinds[index], twin))
    return nn.Sequential(*layers).double(), twins, linears


def numpy_forward(model, twins, x):
    """Every activation module's (kind, pre-activation, output), and the logits."""
    records = []
    for module, (kind, twin) in zip(model, twins):
        if kind == "Linear":
            x = x @ host(module.weight).T + host(module.bias)
        else:
            out = twin(x)
            records.append((kind, x, out))
            x = out
    return records, x


@fuzz
@given(spec=mlps(), batch=st.integers(1, 8), steps=st.integers(1, 3), seed=st.integers(0, 99),
       optimizer=st.sampled_from(["sgd", "momentum", "adam"]), lr=st.floats(1e-3, 0.5),
       device=DEVICES, choose=st.booleans(), freeze=st.booleans(), evaluate=st.booleans(),
       removal=st.sampled_from(["remove", "disable", "context"]))
def test_monitor_records_what_numpy_computes_and_removes_its_hooks(
        spec, batch, steps, seed, optimizer, lr, device, choose, freeze, evaluate, removal):
    model, twins, linears = build_mlp(*spec, seed)
    model.to(device)
    rng = np.random.default_rng(seed)
    names = [f"{index}.weight" for index in linears]
    if freeze:                                        # a frozen layer: no grad, no update
        model[linears[0]].weight.requires_grad_(False)
    all_names = [name for name, _ in model.named_parameters()]
    count = rng.integers(1, len(all_names) + 1)
    tracked = [str(name) for name in rng.permutation(all_names)[:count]] if choose else names
    params = dict(model.named_parameters())
    activations = [str(i) for i, (kind, _) in enumerate(twins) if kind != "Linear"]
    user_calls = []
    hooked = model[len(model) - 1]
    hooked.register_forward_hook(lambda module, inputs, output: user_calls.append(1))
    baseline = {name: (len(m._forward_hooks), len(m._backward_hooks))
                for name, m in model.named_modules()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt = optim.Adam(trainable, lr=lr)
    else:
        opt = optim.SGD(trainable, lr=lr, momentum=0.9 if optimizer == "momentum" else 0.0)

    monitor = Monitor(model, parameters=None if not choose else tracked)
    assert monitor.param_names == tracked
    assert monitor.activation_names == activations
    assert monitor.activation_kinds == [twins[int(name)][0] for name in activations]
    expected = {key: [] for key in ("grad", "weight", "ratio", "mean", "std")}
    saturated_bounds, dead_bounds = [], []
    x = None
    for _ in range(steps):
        x = rng.standard_normal((batch, spec[0][0]))
        y = rng.integers(0, spec[3], batch)
        before = {name: host(p) for name, p in params.items()}
        records, _ = numpy_forward(model, twins, x)
        opt.zero_grad()
        loss = F.cross_entropy(model(tg.tensor(x, device=device)), tg.tensor(y, device=device))
        loss.backward()
        if evaluate:                                   # not recorded: eval mode
            model.eval()
            model(tg.tensor(10 * x, device=device))
            model.train()
        grads = {name: None if p.grad is None else host(p.grad) for name, p in params.items()}
        monitor.step(opt)
        after = {name: host(p) for name, p in params.items()}
        expected["grad"].append([math.nan if grads[name] is None else norm64(grads[name])
                                 for name in tracked])
        expected["weight"].append([norm64(before[name]) for name in tracked])
        expected["ratio"].append([norm64(after[name] - before[name]) / norm64(before[name])
                                  if norm64(before[name]) > 0 else math.nan
                                  for name in tracked])
        stats = [expected_activation_stats(kind, pre, out, THRESHOLDS, eps=1e-9)
                 for kind, pre, out in records]
        expected["mean"].append([s[0] for s in stats])
        expected["std"].append([s[1] for s in stats])
        saturated_bounds.append([s[2] for s in stats])
        dead_bounds.append([s[3] for s in stats])

    assert monitor.steps == list(range(steps))
    for got, key in [(monitor.grad_norms, "grad"), (monitor.weight_norms, "weight"),
                     (monitor.update_ratios, "ratio"), (monitor.activation_means, "mean"),
                     (monitor.activation_stds, "std")]:
        want = np.array(expected[key], dtype=np.float64).reshape(got.shape)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=key)
    for step in range(steps):
        for column, name in enumerate(activations):
            assert_within(monitor.saturated_fractions[step, column],
                          saturated_bounds[step][column], f"saturated {name} step {step}")
            assert_within(monitor.dead_fractions[step, column], dead_bounds[step][column],
                          f"dead {name} step {step}")
    norms = layer_grad_norms(model)
    assert list(norms) == names
    for name in names:
        want = math.nan if params[name].grad is None else norm64(host(params[name].grad))
        np.testing.assert_allclose(norms[name], want, rtol=1e-9)

    probe = tg.tensor(x, device=device)
    with_hooks = host(model(probe))
    if removal == "remove":
        monitor.remove()
    elif removal == "disable":
        monitor.enabled = False
    else:
        monitor.__exit__(None, None, None)
    assert {name: (len(m._forward_hooks), len(m._backward_hooks))
            for name, m in model.named_modules()} == baseline
    calls = len(user_calls)
    np.testing.assert_array_equal(host(model(probe)), with_hooks)
    np.testing.assert_allclose(with_hooks, numpy_forward(model, twins, x)[1], rtol=1e-9,
                               atol=1e-12)
    assert len(user_calls) == calls + 1              # the user's own hook stays
    monitor.record()                                 # off: records nothing more
    assert monitor.grad_norms.shape == (steps, len(tracked))
    assert not monitor.enabled


@fuzz
@given(kind=st.sampled_from(list(SATURATING + RECTIFIERS)), data=st.data(), device=DEVICES,
       custom=st.booleans(), inplace=st.booleans())
def test_one_activation_module_on_any_shape(kind, data, device, custom, inplace):
    """Exact values (0, ±threshold) in the draw: the comparisons are |x| > t and x ≤ 0."""
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    threshold = data.draw(st.sampled_from([0.5, 1.0, 3.0])) if custom else THRESHOLDS.get(kind)
    special = [0.0, -0.0] + ([threshold, -threshold] if kind in SATURATING else [])
    values = st.one_of(st.sampled_from(special), st.floats(-8, 8), st.floats(-1e-3, 1e-3))
    pre = np.array(data.draw(st.lists(values, min_size=int(np.prod(shape)),
                                      max_size=int(np.prod(shape)))), np.float64).reshape(shape)
    module, twin = make_activation(kind, data.draw(st.floats(0.01, 1.5)))
    if inplace and hasattr(module, "inplace"):
        module.inplace = True
    model = nn.Sequential(module).double().to(device)
    thresholds = dict(THRESHOLDS)
    if custom and kind in SATURATING:
        thresholds[kind] = threshold
    monitor = Monitor(model, saturation_thresholds={kind: threshold} if custom else None)
    out = host(model(tg.tensor(pre.copy(), device=device)))
    monitor.record()
    if twin is not None:
        np.testing.assert_allclose(out, twin(pre), rtol=1e-12, atol=1e-15)
    mean, std, saturated, dead = expected_activation_stats(kind, pre, out, thresholds)
    assert monitor.activation_means[0, 0] == pytest.approx(mean, rel=1e-9, abs=1e-15)
    assert monitor.activation_stds[0, 0] == pytest.approx(std, rel=1e-9, abs=1e-15)
    assert_within(monitor.saturated_fractions[0, 0], saturated, "saturated")
    assert_within(monitor.dead_fractions[0, 0], dead, "dead")


@fuzz
@given(exponent=st.floats(18, 37), shape=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       seed=st.integers(0, 99), device=DEVICES)
@example(exponent=19.5, shape=(2, 3), seed=0, device="cpu")
def test_huge_weights_gradients_and_activations_have_finite_norms(exponent, shape, seed,
                                                                  device):
    """float32 values near 1e19 and above square to inf: the norms and the std are
    accumulated in float64 (the module's docstring), as NumPy's float64 norm is."""
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(shape[1], shape[0]), nn.ReLU()).to(device)
    weight = (rng.uniform(0.5, 1.0, shape) * 10.0 ** exponent).astype(np.float32)
    with tg.no_grad():
        model[0].weight.copy_(tg.tensor(weight, device=device))
    monitor = Monitor(model)
    x = np.abs(rng.standard_normal((3, shape[1]))).astype(np.float32) + 0.5
    out = model(tg.tensor(x, device=device))
    (out / 10.0 ** exponent).sum().backward()
    grad = model[0].weight.grad.numpy()
    monitor.record()
    assert monitor.weight_norms[0, 0] == pytest.approx(norm64(weight), rel=1e-6)
    assert monitor.grad_norms[0, 0] == pytest.approx(norm64(grad), rel=1e-6)
    assert layer_grad_norms(model)["0.weight"] == pytest.approx(norm64(grad), rel=1e-6)
    values = out.numpy().astype(np.float64)
    if np.isfinite(values).all():
        assert monitor.activation_stds[0, 0] == pytest.approx(values.std(), rel=1e-5, abs=1)
        assert monitor.activation_means[0, 0] == pytest.approx(values.mean(), rel=1e-6)


# ============================================================================ sanity checks

def numpy_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


@fuzz
@given(classes=st.integers(2, 9), features=st.integers(1, 6), n=st.integers(1, 12),
       scale=st.sampled_from([0.0, 0.01, 0.3, 3.0, 30.0]), leak=st.booleans(),
       override=st.booleans(), rtol=st.one_of(st.floats(0.01, 0.5), st.floats(-1.2, -0.8)),
       seed=st.integers(0, 99),
       training=st.booleans(), as_tensor=st.booleans(), device=DEVICES)
def test_check_initial_loss_against_ln_c(classes, features, n, scale, leak, override, rtol,
                                         seed, training, as_tensor, device):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    if leak:                                             # the labels are in the inputs
        X = 5.0 * np.eye(classes)[y]
        W, b = np.eye(classes), np.zeros(classes)
    else:
        X = rng.standard_normal((n, features))
        W = scale * rng.standard_normal((classes, X.shape[1]))
        b = scale * rng.standard_normal(classes)
    model = nn.Linear(X.shape[1], classes).double()
    with tg.no_grad():
        model.weight.copy_(tg.tensor(W))
        model.bias.copy_(tg.tensor(b))
    model.to(device).train(training)
    assumed = int(rng.integers(2, 12)) if override else classes
    loss = numpy_cross_entropy(X @ W.T + b, y)
    expected = math.log(assumed)
    if rtol < 0:                      # −f: f times the actual deviation, near the boundary
        rtol = -rtol * abs(loss - expected) / expected
    inputs = (tg.tensor(X), tg.tensor(y)) if as_tensor else (X, y)
    result = check_initial_loss(model, F.cross_entropy, *inputs,
                                num_classes=assumed if override else None, rtol=rtol)
    assert result.value == pytest.approx(loss, rel=1e-9, abs=1e-12)
    assert result.expected == f"ln {assumed} = {expected:.4g}"
    assert model.training == training                   # the mode is left alone
    assert all(p.grad is None for p in model.parameters())   # under no_grad
    if abs(abs(loss - expected) - rtol * expected) < 1e-9:
        return                                          # on the boundary: either verdict
    passed = abs(loss - expected) <= rtol * expected
    assert result.passed == passed
    assert str(result).startswith("[ok]" if passed else "[FAIL]")
    if passed:
        assert f"≈ ln {assumed}" in result.message
    elif loss > expected:
        assert "too large" in result.message
    else:
        assert "leaking" in result.message


def numpy_least_squares_sgd(X, Y, W, b, lr, momentum, steps):
    """PyTorch's SGD (buffer = g at the first step, then μ·buffer + g) on mean((XWᵀ+b−Y)²),
    stopping after the first non-finite loss like overfit_small_batch."""
    W, b = W.copy(), b.copy()
    buffers = None
    losses = []
    for _ in range(steps):
        residual = X @ W.T + b - Y                                  # (N, k)
        losses.append(float(np.mean(residual ** 2)))
        scale = 2.0 / residual.size
        grads = (scale * residual.T @ X, scale * residual.sum(axis=0))
        if momentum:
            buffers = grads if buffers is None else tuple(momentum * v + g
                                                         for v, g in zip(buffers, grads))
            grads = buffers
        W, b = W - lr * grads[0], b - lr * grads[1]
        if not math.isfinite(losses[-1]):
            break
    return losses, W, b


@fuzz
@given(n=st.integers(1, 6), features=st.integers(1, 5), outputs=st.integers(1, 3),
       steps=st.integers(1, 40), factor=st.one_of(st.floats(0.05, 1.9),
                                                    st.floats(1e150, 1e200)),
       momentum=st.sampled_from([0.0, 0.5]),
       margin=st.one_of(st.floats(0.5, 0.99), st.floats(1.01, 1.5)), seed=st.integers(0, 99),
       device=DEVICES)
def test_overfit_small_batch_against_a_numpy_replica(n, features, outputs, steps, factor,
                                                     momentum, margin, seed, device):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features))
    Y = rng.standard_normal((n, outputs))
    tg.manual_seed(seed)
    model = nn.Linear(features, outputs).double().to(device)
    W0, b0 = host(model.weight), host(model.bias)
    augmented = np.hstack([X, np.ones((n, 1))])
    curvature = 2.0 / (n * outputs) * np.linalg.eigvalsh(augmented.T @ augmented).max()
    lr = factor / curvature
    losses, W, b = numpy_least_squares_sgd(X, Y, W0, b0, lr, momentum, steps)
    final = losses[-1]
    if math.isfinite(final) and final > 0:           # reachable (margin > 1) or just not
        target = final * margin
    else:
        target = 1e-300 if margin > 1 else 0.0
    result = overfit_small_batch(model, F.mse_loss,
                                 optim.SGD(model.parameters(), lr=lr, momentum=momentum),
                                 X, Y, steps=steps, target_loss=target)
    got = result.details["losses"]
    assert len(got) == len(losses)
    np.testing.assert_allclose(got, losses, rtol=1e-7, atol=1e-300)
    assert result.value == got[-1] or (math.isnan(result.value) and math.isnan(got[-1]))
    passed = math.isfinite(final) and final <= target
    assert result.passed == passed
    assert f"{n} samples" in result.message
    if passed:
        assert f"in {len(losses)} steps" in result.message
    elif not math.isfinite(final):
        assert "too high" in result.message and len(got) <= steps
    else:
        assert f"not <= {target:g}" in result.message
    if math.isfinite(final):                         # the model was trained in place
        np.testing.assert_allclose(host(model.weight), W, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(host(model.bias), b, rtol=1e-6, atol=1e-9)


def expected_range_test(raw, lr_min, lr_max, steps, smoothing, divergence):
    """The documented rule, written again: rates, smoothed losses, stop, suggestion."""
    rates = [math.exp(math.log(lr_min) + i / (steps - 1) * (math.log(lr_max) - math.log(lr_min)))
             for i in range(steps)]
    smoothed, average, best = [], 0.0, math.inf
    for step, value in enumerate(raw):
        average = smoothing * average + (1 - smoothing) * value
        smoothed.append(average / (1 - smoothing ** (step + 1)))
        if not math.isfinite(smoothed[-1]) or smoothed[-1] > divergence * best:
            break
        best = min(best, smoothed[-1])
    finite = [i for i, value in enumerate(smoothed) if math.isfinite(value)]
    lowest = min(finite, key=lambda i: smoothed[i])
    return rates, smoothed, lowest


@fuzz
@given(features=st.integers(1, 4), hidden=st.integers(1, 6), batch=st.integers(2, 6),
       batches=st.integers(1, 4), steps=st.integers(2, 25),
       low=st.floats(-7, -1), decades=st.floats(0.3, 7), smoothing=st.floats(0, 0.99),
       divergence=st.floats(1.5, 10), momentum=st.sampled_from([None, 0.5]),
       norm=st.booleans(), as_list=st.booleans(), training=st.booleans(),
       seed=st.integers(0, 99), device=DEVICES)
@example(features=2, hidden=3, batch=4, batches=2, steps=6, low=-300.0, decades=400.0,
         smoothing=0.5, divergence=4.0, momentum=None, norm=False, as_list=True,
         training=True, seed=0, device="cpu")                # lr_max / lr_min overflows
def test_lr_range_test_rates_losses_suggestion_and_restored_model(
        features, hidden, batch, batches, steps, low, decades, smoothing, divergence, momentum,
        norm, as_list, training, seed, device):
    rng = np.random.default_rng(seed)
    lr_min = 10.0 ** low
    lr_max = 10.0 ** (low + decades)
    tg.manual_seed(seed)
    layers = [nn.BatchNorm1d(features)] if norm else []
    model = nn.Sequential(*layers, nn.Linear(features, hidden), nn.Tanh(),
                          nn.Linear(hidden, 1)).to(device).train(training)
    X = rng.standard_normal((batch * batches, features)).astype(np.float32)
    Y = rng.standard_normal((batch * batches, 1)).astype(np.float32)
    if as_list:
        loader = [(tg.tensor(X[i * batch:(i + 1) * batch], device=device),
                   tg.tensor(Y[i * batch:(i + 1) * batch], device=device))
                  for i in range(batches)]
    else:
        loader = DataLoader(TensorDataset(X, Y), batch_size=batch, device=device)
    state = {name: host(value).copy() for name, value in model.state_dict().items()}
    parameters = list(model.parameters())
    probe = tg.tensor(X[:batch], device=device)
    model.eval()
    probe_out = host(model(probe))
    model.train(training)

    raw, targets, applied, built = [], [], [], []

    def loss_fn(output, target):
        loss = F.mse_loss(output, target)
        raw.append(float(loss.item()))
        targets.append(host(target))
        return loss

    class SpySGD(optim.SGD):
        def __init__(self, params, **kwargs):
            built.append(kwargs)
            super().__init__(params, **kwargs)

        def step(self, closure=None):
            applied.append([group["lr"] for group in self.param_groups])
            return super().step(closure)

    kwargs = {} if momentum is None else {"momentum": momentum}
    lrs, losses, suggested = lr_range_test(model, loss_fn, SpySGD, loader, lr_min=lr_min,
                                           lr_max=lr_max, steps=steps, smoothing=smoothing,
                                           divergence=divergence, **kwargs)
    rates, smoothed, lowest = expected_range_test(raw, lr_min, lr_max, steps, smoothing,
                                                  divergence)
    assert len(lrs) == len(losses) == len(raw) == len(applied) == len(smoothed)
    assert len(lrs) == steps or len(lrs) < steps and (
        not math.isfinite(smoothed[-1]) or smoothed[-1] > divergence * min(smoothed[:-1]))
    np.testing.assert_allclose(lrs, rates[:len(lrs)], rtol=1e-12)
    assert lrs[0] == lr_min and all(math.isfinite(lr) for lr in lrs)
    assert [[lr] * len(group) for lr, group in zip(lrs, applied)] == applied
    np.testing.assert_allclose(losses, smoothed, rtol=1e-12)
    assert suggested == pytest.approx(rates[lowest] / 10, rel=1e-12)
    assert all(kw == {"lr": kw["lr"], **kwargs} for kw in built) and len(built) == 1
    for step, target in enumerate(targets):                     # the batches, cycled
        index = step % batches
        np.testing.assert_array_equal(target, Y[index * batch:(index + 1) * batch])
    assert model.training == training
    assert all(a is b for a, b in zip(model.parameters(), parameters))
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(host(value), state[name], err_msg=name)
    model.eval()
    np.testing.assert_array_equal(host(model(probe)), probe_out)


@fuzz
@given(data=st.data(), layers=st.integers(1, 3), steps=st.integers(0, 5),
       low=st.floats(1e-5, 1e-3), spread=st.floats(2, 1e3))
def test_check_update_ratios_medians_and_verdict(data, layers, steps, low, spread):
    high = low * spread
    bands = [st.floats(1e-7, 1.0), st.floats(0.5 * low, 2 * low), st.floats(low, high),
             st.floats(0.5 * high, 2 * high)]
    columns = []
    for _ in range(layers):                      # each layer's ratios around one place
        band = data.draw(st.sampled_from(bands))
        columns.append(data.draw(st.lists(st.one_of(band, st.just(math.nan)) if
                                          data.draw(st.booleans()) else band,
                                          min_size=steps, max_size=steps)))
    table = np.array(columns, np.float64).reshape(layers, steps).T      # (steps, layers)
    names = [f"{i}.weight" for i in range(layers)]
    monitor = types.SimpleNamespace(update_ratios=table, param_names=names)
    result = check_update_ratios(monitor, low=low, high=high)
    medians = {}
    for column, name in enumerate(names):
        finite = [v for v in table[:, column] if math.isfinite(v)]
        medians[name] = float(np.median(finite)) if finite else math.nan
    assert list(result.details["ratios"]) == names
    np.testing.assert_allclose(list(result.details["ratios"].values()),
                               list(medians.values()), rtol=1e-12)
    finite = [m for m in medians.values() if math.isfinite(m)]
    np.testing.assert_allclose(result.value, np.median(finite) if finite else math.nan)
    assert result.passed == (all(math.isfinite(m) and low <= m <= high
                                 for m in medians.values()))
    if any(m > high for m in medians.values()):
        assert "too high" in result.message
    elif any(m < low for m in medians.values()):
        assert "too low" in result.message


def learning_curve_verdict(train, val):
    """The docstring of check_learning_curves, rule by rule."""
    if not all(math.isfinite(v) for v in train + (val or [])) or train[-1] > train[0]:
        return "diverged"
    if train[0] - train[-1] < 0.1 * train[0]:
        return "stalled"
    rises = sum(b > a for a, b in zip(train, train[1:]))
    if len(train) >= 4 and rises > (len(train) - 1) / 3:
        return "oscillating"
    if val:
        best = int(np.argmin(val))
        if len(val) - 1 - best > 2 and val[-1] > 1.1 * val[best] and train[-1] < train[best]:
            return "overfitting"
    return "ok"


@st.composite
def learning_curves(draw):
    """Random curves, and curves built near each rule's boundary."""
    shape = draw(st.sampled_from(["random", "stalled", "oscillating", "overfitting"]))
    epochs = draw({"oscillating": st.sampled_from([4, 7, 10]),
                   "overfitting": st.integers(4, 10)}.get(shape, st.integers(1, 10)))
    falling = sorted(draw(st.lists(st.floats(0.01, 5.0), min_size=epochs, max_size=epochs,
                                   unique=True)), reverse=True)
    if shape == "random":
        train = draw(st.lists(st.floats(0.01, 5.0), min_size=epochs, max_size=epochs))
        val = draw(st.one_of(st.none(), st.lists(st.floats(0.01, 5.0), min_size=epochs,
                                                max_size=epochs)))
        if draw(st.booleans()):                                  # a NaN or an inf somewhere
            where = draw(st.integers(0, epochs - 1))
            curve = val if val is not None and draw(st.booleans()) else train
            curve[where] = draw(st.sampled_from([math.nan, math.inf]))
        return train, val
    if shape == "stalled":                                       # fell by about 10%
        return falling[:-1] + [falling[0] * draw(st.floats(0.85, 0.95))], None
    if shape == "oscillating":                                   # rises near a third
        train = [5.0 * 0.8 ** i for i in range(epochs)]
        count = (epochs - 1) // 3 + draw(st.integers(0, 1))
        for where in sorted(draw(st.lists(st.integers(1, epochs - 1), min_size=count,
                                          max_size=count, unique=True))):
            train[where] = train[where - 1] * 1.01
        return train, None
    best = max(epochs - 4 + draw(st.integers(-2, 1)), 0)       # lowest validation loss
    rise = draw(st.floats(1.0, 1.2))
    val = [1.0 + 0.5 * (best - i) for i in range(best + 1)]
    val += [1.0 + (rise - 1.0) * (i - best) / (epochs - 1 - best)
            for i in range(best + 1, epochs)]
    return [5.0 * 0.7 ** i for i in range(epochs)], val


@fuzz
@given(curves=learning_curves())
def test_check_learning_curves_follows_the_documented_rules(curves):
    train, val = curves
    result = check_learning_curves(train, val)
    verdict = learning_curve_verdict(train, val)
    assert result.details["verdict"] == verdict
    assert result.passed == (verdict == "ok")
    assert result.value == train[-1] or math.isnan(result.value) and math.isnan(train[-1])


# ============================================================================ bad inputs

def small_classifier(device, outputs=3):
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, outputs)).to(device)


@pytest.mark.parametrize("case", ["lr order", "lr sign", "lr nonfinite", "steps", "smoothing",
                                  "divergence", "empty loader", "one-shot loader", "nan batch"])
@fuzz
@given(data=st.data(), device=DEVICES)
def test_lr_range_test_bad_inputs_name_what_was_wrong(case, data, device):
    model = small_classifier(device)
    state = {name: host(value).copy() for name, value in model.state_dict().items()}
    x = tg.tensor(np.ones((3, 2), np.float32), device=device)
    y = tg.tensor(np.array([0, 1, 2]), device=device)
    loader = [(x, y)] * 2
    options = {"lr_min": 1e-3, "lr_max": 1.0, "steps": 5}
    word = case.split()[0]
    if case == "lr order":
        options["lr_min"] = data.draw(st.floats(1e-6, 1e3))
        options["lr_max"] = options["lr_min"] * data.draw(st.floats(1e-3, 1.0))
    elif case == "lr sign":
        options["lr_min"] = data.draw(st.floats(-1e3, 0.0))
    elif case == "lr nonfinite":
        key = data.draw(st.sampled_from(["lr_min", "lr_max"]))
        options[key] = data.draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        word = key
    elif case == "steps":
        options["steps"] = data.draw(st.sampled_from([-3, 0, 1, 2.5, True, "5", None]))
    elif case == "smoothing":
        options["smoothing"] = data.draw(st.sampled_from([-0.1, 1.0, 1.5, math.nan]))
    elif case == "divergence":
        options["divergence"] = data.draw(st.sampled_from([1.0, 0.5, -2.0, math.nan]))
    elif case == "empty loader":
        loader, word = data.draw(st.sampled_from([[], (), iter([])])), "no batch"
    elif case == "one-shot loader":
        loader, word = iter(loader), "after 2 batches"           # cannot be cycled
    else:
        nan = tg.tensor(np.full((3, 2), np.nan, np.float32), device=device)
        loader, word = [(nan, y)], "not finite"
    with pytest.raises(ValueError, match=word):
        lr_range_test(model, F.cross_entropy, optim.SGD, loader, **options)
    for name, value in model.state_dict().items():              # nothing was changed
        np.testing.assert_array_equal(host(value), state[name])


@pytest.mark.parametrize("case", ["steps", "empty", "nonfinite", "target"])
@fuzz
@given(data=st.data(), device=DEVICES)
def test_overfit_small_batch_bad_inputs_name_what_was_wrong(case, data, device):
    model = small_classifier(device)
    state = {name: host(value).copy() for name, value in model.state_dict().items()}
    X, y = np.ones((4, 2), np.float32), np.array([0, 1, 2, 0])
    options = {"steps": 5}
    if case == "steps":
        options["steps"], word = data.draw(st.sampled_from([0, -1, 2.5, True, None])), "steps"
    elif case == "empty":
        X, y, word = X[:0], y[:0], "empty"
    elif case == "nonfinite":
        X[data.draw(st.integers(0, 3)), 1] = data.draw(st.sampled_from([np.nan, np.inf]))
        word = "not finite"
    else:
        options["target_loss"], word = math.nan, "target_loss"
    with pytest.raises(ValueError, match=word):
        overfit_small_batch(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1),
                            X, y, **options)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(host(value), state[name])


@pytest.mark.parametrize("case", ["classes", "one output", "rtol", "empty", "nonfinite"])
@fuzz
@given(data=st.data(), device=DEVICES)
def test_check_initial_loss_bad_inputs_name_what_was_wrong(case, data, device):
    model = small_classifier(device, outputs=1 if case == "one output" else 3)
    X, y = np.ones((4, 2), np.float32), np.array([0, 1, 2, 0])
    options = {}
    if case == "classes":
        options["num_classes"], word = data.draw(st.integers(-3, 1)), "num_classes"
    elif case == "one output":
        X, y, word = X, np.ones((4, 1), np.float32), "num_classes"
        loss_fn = F.binary_cross_entropy_with_logits
    elif case == "rtol":
        options["rtol"], word = data.draw(st.sampled_from([-0.1, math.nan])), "rtol"
    elif case == "empty":
        X, y, word = X[:0], y[:0], "empty"
    else:
        X[data.draw(st.integers(0, 3)), 0] = data.draw(st.sampled_from([np.nan, -np.inf]))
        word = "not finite"
    with pytest.raises(ValueError, match=word):
        check_initial_loss(model, loss_fn if case == "one output" else F.cross_entropy, X, y,
                           **options)
    if case == "one output":                 # the hint works: one logit, two classes
        result = check_initial_loss(model, loss_fn, X, y, num_classes=2, rtol=10.0)
        assert result.expected == f"ln 2 = {math.log(2):.4g}"


def test_check_learning_curves_refuses_curves_of_different_lengths():
    with pytest.raises(ValueError, match="val_losses"):
        check_learning_curves([2.3, 1.0], [3.0, 2.0, 1.0, 0.5, 0.6, 0.7, 0.8, 0.9])
