"""diagnostics.Monitor: every recorded number against a hand computation in NumPy."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn, optim
from tinygrad_opt.diagnostics import Monitor, format_table, layer_grad_norms


def set_weights(linear, weight, bias, device):
    linear.weight.data = tg.tensor(np.asarray(weight, np.float32), device=device).data
    linear.bias.data = tg.tensor(np.asarray(bias, np.float32), device=device).data


def small_model(device):
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Sigmoid(), nn.Linear(6, 5), nn.ReLU(),
                         nn.Linear(5, 3)).to(device)


def forward_backward(model, device, rng):
    x = tg.tensor(rng.standard_normal((8, 4)).astype(np.float32), device=device)
    y = tg.tensor(rng.integers(0, 3, 8), device=device)
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    return x


def test_tracks_the_weight_matrices_and_activation_modules_in_order(device):
    monitor = Monitor(small_model(device))
    assert monitor.param_names == ["0.weight", "2.weight", "4.weight"]
    assert monitor.activation_names == ["1", "3"]
    assert monitor.activation_kinds == ["Sigmoid", "ReLU"]
    with pytest.raises(KeyError, match="no parameter named"):
        Monitor(small_model(device), parameters=["nope.weight"])


def test_grad_and_weight_norms_equal_numpy_norms(device, rng):
    model = small_model(device)
    monitor = Monitor(model, parameters=["0.weight", "0.bias", "4.weight"])
    forward_backward(model, device, rng)
    monitor.record()
    params = dict(model.named_parameters())
    expected_grads = [np.linalg.norm(params[name].grad.numpy().astype(np.float64))
                      for name in monitor.param_names]
    expected_weights = [np.linalg.norm(params[name].numpy().astype(np.float64))
                        for name in monitor.param_names]
    assert monitor.grad_norms.shape == (1, 3)
    np.testing.assert_allclose(monitor.grad_norms[0], expected_grads, rtol=1e-6)
    np.testing.assert_allclose(monitor.weight_norms[0], expected_weights, rtol=1e-6)
    assert np.isnan(monitor.update_ratios[0]).all()  # record() makes no update
    norms = layer_grad_norms(model)
    assert list(norms) == ["0.weight", "2.weight", "4.weight"]
    assert norms["0.weight"] == pytest.approx(expected_grads[0], rel=1e-6)


def test_update_ratio_after_one_sgd_step_is_lr_grad_over_weight(device, rng):
    model = small_model(device)
    monitor = Monitor(model)
    optimizer = optim.SGD(model.parameters(), lr=0.3)
    forward_backward(model, device, rng)
    before = {name: p.numpy().astype(np.float64).copy() for name, p in model.named_parameters()}
    grads = {name: p.grad.numpy().astype(np.float64) for name, p in model.named_parameters()}
    monitor.step(optimizer)
    after = {name: p.numpy().astype(np.float64) for name, p in model.named_parameters()}
    for column, name in enumerate(monitor.param_names):
        change = np.linalg.norm(after[name] - before[name]) / np.linalg.norm(before[name])
        rule = 0.3 * np.linalg.norm(grads[name]) / np.linalg.norm(before[name])
        assert monitor.update_ratios[0, column] == pytest.approx(change, rel=1e-5)
        assert monitor.update_ratios[0, column] == pytest.approx(rule, rel=1e-4)
        assert monitor.weight_norms[0, column] == pytest.approx(np.linalg.norm(before[name]),
                                                                rel=1e-6)


def test_dead_relu_fraction_on_a_layer_with_known_dead_units(device):
    layer = nn.Linear(3, 4)
    # inputs are positive; units 1 and 3 have negative weights and bias: never active
    set_weights(layer, [[1, 0, 0], [-1, -1, -1], [0, 1, 0], [-2, 0, -1]],
                [0.0, -0.5, -0.2, 0.0], device)
    model = nn.Sequential(layer, nn.ReLU())
    monitor = Monitor(model)
    x = tg.tensor(np.array([[1, 2, 3], [0.5, 0.1, 4], [2, 0.3, 0.1]], np.float32), device=device)
    output = model(x)
    monitor.record()
    assert monitor.dead_fractions[0, 0] == pytest.approx(2 / 4)
    assert np.isnan(monitor.saturated_fractions[0, 0])  # ReLU does not saturate
    out = output.numpy().astype(np.float64)
    assert monitor.activation_means[0, 0] == pytest.approx(out.mean(), rel=1e-6)
    assert monitor.activation_stds[0, 0] == pytest.approx(out.std(), rel=1e-6)


def test_dead_fraction_needs_a_unit_inactive_on_every_sample(device):
    monitor_model = nn.Sequential(nn.LeakyReLU())
    monitor = Monitor(monitor_model)
    pre = np.array([[-1.0, 2.0, 0.0, -3.0, -1.0],
                    [-2.0, -1.0, 0.0, 1e-3, -0.5]], np.float32)   # dead: columns 0, 2, 4
    monitor_model(tg.tensor(pre, device=device))
    monitor.record()
    assert monitor.dead_fractions[0, 0] == pytest.approx(3 / 5)


@pytest.mark.parametrize("kind, threshold", [(nn.Sigmoid, 4.0), (nn.Tanh, 2.0)])
def test_saturated_fraction_counts_pre_activations_beyond_the_threshold(device, kind, threshold):
    model = nn.Sequential(kind())
    monitor = Monitor(model)
    pre = np.array([[-5.0, -0.99 * threshold, 0.0, 1.01 * threshold],
                    [10.0, 3.0 * threshold, -1.5 * threshold, 0.5]], np.float32)
    model(tg.tensor(pre, device=device))
    monitor.record()
    expected = np.mean(np.abs(pre) > threshold)                  # 5 of 8
    assert monitor.saturated_fractions[0, 0] == pytest.approx(expected)
    assert np.isnan(monitor.dead_fractions[0, 0])
    custom = Monitor(model, saturation_thresholds={kind.__name__: 6.0})
    model(tg.tensor(pre, device=device))
    custom.record()
    assert custom.saturated_fractions[0, 0] == pytest.approx(np.mean(np.abs(pre) > 6.0))


def test_eval_mode_forwards_are_not_recorded(device):
    model = nn.Sequential(nn.ReLU())
    monitor = Monitor(model)
    model.eval()
    model(tg.ones(2, 3, device=device))
    model.train()
    monitor.record()
    assert np.isnan(monitor.activation_means[0, 0])


def test_rows_accumulate_over_steps(device, rng):
    model = small_model(device)
    monitor = Monitor(model)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        forward_backward(model, device, rng)
        monitor.step(optimizer)
    result = monitor.as_dict()
    assert result["grad_norms"].shape == result["update_ratios"].shape == (3, 3)
    assert result["dead_fractions"].shape == result["activation_means"].shape == (3, 2)
    assert result["steps"].tolist() == [0, 1, 2]
    assert np.isfinite(result["update_ratios"]).all() and (result["update_ratios"] > 0).all()
    text = monitor.table()
    assert text.startswith("step 2") and "4.weight" in text and "Sigmoid" in text
    assert f"{monitor.grad_norms[-1, 0]:.4g}" in text
    assert monitor.table(0).startswith("step 0")


def test_off_means_no_hooks_and_nothing_recorded(device, rng):
    model = small_model(device)
    monitor = Monitor(model, enabled=False)
    assert all(not m._forward_hooks for m in model.modules())
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    forward_backward(model, device, rng)
    monitor.step(optimizer)
    monitor.record()
    assert monitor.grad_norms.shape == (0, 3) and monitor._pending is None
    monitor.enabled = True
    assert sum(len(m._forward_hooks) for m in model.modules()) == 2
    forward_backward(model, device, rng)
    monitor.record()
    assert monitor.grad_norms.shape == (1, 3)
    monitor.enabled = False
    assert all(not m._forward_hooks for m in model.modules())
    with Monitor(model) as scoped:
        assert sum(len(m._forward_hooks) for m in model.modules()) == 2
    assert all(not m._forward_hooks for m in model.modules()) and not scoped.enabled


def test_after_step_without_before_step_is_an_error(device):
    monitor = Monitor(small_model(device))
    with pytest.raises(RuntimeError, match="before_step"):
        monitor.after_step()
    assert "nothing recorded" in monitor.table()


def test_format_table_aligns_columns_and_shows_nan_as_dash():
    text = format_table(["name", "value"], [["a", 0.000123456], ["long name", math.nan]])
    assert text.splitlines() == ["name       value",
                                 "---------  ---------",
                                 "a          0.0001235",
                                 "long name  -"]


def test_a_model_without_activation_modules_records_empty_activation_columns(device, rng):
    """Maxout (a layer, not an activation module) and functional activations: no hooks,
    zero activation columns, and the parameter rows still work."""
    tg.manual_seed(0)
    model = nn.Sequential(nn.Maxout(4, 6, pieces=2), nn.Linear(6, 3)).to(device)
    monitor = Monitor(model)
    forward_backward(model, device, rng)
    monitor.record()
    assert monitor.activation_names == []
    assert monitor.dead_fractions.shape == (1, 0)
    assert monitor.grad_norms.shape == (1, 2) and np.all(monitor.grad_norms > 0)


def test_selu_counts_as_a_rectifier(device):
    model = nn.Sequential(nn.Linear(2, 2), nn.SELU()).to(device)
    set_weights(model[0], [[1.0, 0.0], [-1.0, 0.0]], [0.0, 0.0], device)
    monitor = Monitor(model)
    model(tg.tensor(np.array([[1.0, 0.0], [2.0, 0.0]], np.float32), device=device))
    monitor.record()
    assert monitor.activation_kinds == ["SELU"]
    assert monitor.dead_fractions[0, 0] == 0.5          # the second unit is negative on both


# --- sanity checks (why a network does not converge) ---------------------------------------

from tinygrad_opt.data import DataLoader, TensorDataset  # noqa: E402
from tinygrad_opt.diagnostics import (check_initial_loss, check_learning_curves,  # noqa: E402
                                      check_update_ratios, lr_range_test,
                                      overfit_small_batch)


def classification_data(rng, n=40, features=5, classes=4):
    X = rng.standard_normal((n, features)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return X, y


def test_initial_loss_is_ln_c_for_zero_logits_and_flags_large_or_leaking_logits(device, rng):
    X, y = classification_data(rng)
    model = nn.Linear(5, 4).to(device)
    set_weights(model, np.zeros((4, 5)), np.zeros(4), device)
    result = check_initial_loss(model, F.cross_entropy, X, y)
    assert result.passed and result.value == pytest.approx(math.log(4), rel=1e-6)
    assert "ln 4" in str(result) and str(result).startswith("[ok]")
    set_weights(model, 10 * rng.standard_normal((4, 5)), np.zeros(4), device)   # big logits
    result = check_initial_loss(model, F.cross_entropy, X, y)
    assert not result.passed and result.value > 2 * math.log(4) and "too large" in result.message
    # the labels leak into the inputs: a confident, right answer before any training
    leaky = np.eye(4, dtype=np.float32)[y] * 5                                  # (N, 4)
    model = nn.Linear(4, 4).to(device)
    set_weights(model, np.eye(4), np.zeros(4), device)
    result = check_initial_loss(model, F.cross_entropy, leaky, y)
    assert not result.passed and result.value < 0.5 and "leaking" in result.message


def test_overfit_small_batch_passes_with_a_sane_rate_and_fails_far_off(device, rng):
    X, y = classification_data(rng, n=20)

    def attempt(lr, steps=150):
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 4)).to(device)
        return overfit_small_batch(model, F.cross_entropy, optim.Adam(model.parameters(), lr=lr),
                                   X, y, steps=steps)

    good = attempt(0.03)
    assert good.passed and good.value <= 0.01 and len(good.details["losses"]) == 150
    slow = attempt(1e-6)
    assert not slow.passed and slow.value > 1.0 and "learning rate far off" in slow.message


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_overfit_small_batch_reports_divergence(device, rng):
    X, y = classification_data(rng, n=20)
    X = X * 1e3
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 4)).to(device)
    result = overfit_small_batch(model, F.cross_entropy, optim.SGD(model.parameters(), lr=1e3),
                                 X, y, steps=50)
    assert not result.passed and "too high" in result.message
    assert len(result.details["losses"]) < 50                    # stopped at the first NaN/inf


@pytest.mark.parametrize("lr, verdict", [(1e-3, "ok"), (10.0, "high"), (1e-7, "low")])
def test_update_ratio_check_flags_rates_far_from_1e_3(lr, verdict, device, rng):
    X, y = classification_data(rng)
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 4)).to(device)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    monitor = Monitor(model)
    x, target = tg.tensor(X, device=device), tg.tensor(y, device=device)
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(x), target).backward()
        monitor.step(optimizer)
    result = check_update_ratios(monitor)
    assert set(result.details["ratios"]) == {"0.weight", "2.weight"}
    assert result.value == pytest.approx(np.median(list(result.details["ratios"].values())))
    assert result.passed == (verdict == "ok")
    if verdict != "ok":
        assert f"too {verdict}" in result.message


@pytest.mark.parametrize("train, val, verdict", [
    ([2.3, 1.2, 0.6, 0.3, 0.2], None, "ok"),
    ([2.3, 1.0, float("nan")], None, "diverged"),
    ([2.3, 2.0, 2.6, 3.1], None, "diverged"),
    ([2.30, 2.29, 2.28, 2.27], None, "stalled"),
    ([2.3, 1.0, 1.4, 0.9, 1.3, 0.8, 1.2], None, "oscillating"),
    ([2.3, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05], [2.3, 1.1, 0.7, 0.8, 0.9, 1.0, 1.1], "overfitting"),
    ([2.3, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05], [2.3, 1.1, 0.7, 0.6, 0.55, 0.5, 0.5], "ok"),
])
def test_learning_curves_verdicts(train, val, verdict):
    result = check_learning_curves(train, val)
    assert result.details["verdict"] == verdict
    assert result.passed == (verdict == "ok")


def test_lr_range_test_restores_the_model_and_suggests_a_rate_below_divergence(device, rng):
    """Least squares with curvature L = λmax(XᵀX/N)·2: gradient descent diverges above
    2/L, so the loss of the range test turns up there and the suggestion lies below."""
    X = rng.standard_normal((256, 4)).astype(np.float32)
    w_true = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    y = (X @ w_true)[:, None].astype(np.float32)
    L = 2 * np.linalg.eigvalsh(X.T @ X / len(X)).max()
    tg.manual_seed(0)
    model = nn.Linear(4, 1).to(device)
    before = {name: value.numpy().copy() for name, value in model.state_dict().items()}
    loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True, seed=0, device=device)
    lrs, losses, suggested = lr_range_test(model, F.mse_loss, optim.SGD, loader, lr_min=1e-4,
                                           lr_max=100.0, steps=80)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[name])
    ratios = np.array(lrs[1:]) / np.array(lrs[:-1])
    np.testing.assert_allclose(ratios, (100.0 / 1e-4) ** (1 / 79), rtol=1e-9)
    assert len(lrs) < 80                                   # stopped once the loss blew up
    assert losses[-1] > 4 * min(losses) or not math.isfinite(losses[-1])
    assert suggested == pytest.approx(lrs[int(np.nanargmin(losses))] / 10)
    assert 1e-3 < suggested < 2 / L


def test_lr_range_test_rejects_bad_ranges(device):
    model = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="lr_min < lr_max"):
        lr_range_test(model, F.mse_loss, optim.SGD, [], lr_min=1.0, lr_max=0.1)
