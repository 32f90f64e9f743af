"""Audit of the vanishing-gradient study's numbers (tinygrad_opt/experiments.py) against a
NumPy forward/backward written here, and of the data set generators' documented contracts."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.datasets import load_digits, make_imbalanced, moons, spiral, xor
from tinygrad_opt.experiments import (PROBE_SIZE, SPLIT_SEED, deep_mlp, layer_table,
                                      summary_table, vanishing_study)

ACTIVATIONS = {   # (f, f') in float64
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0) * 1.0),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)),
                lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2),
}


def split(train_samples):
    """The study's data, by its documented recipe: a fixed permutation, the first fifth
    for testing, standardized with the (kept) training samples' mean and population std."""
    X, y = load_digits()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    test, train = order[:len(y) // 5], order[len(y) // 5:][:train_samples]
    mean, std = X[train].astype(np.float64).mean(0), X[train].astype(np.float64).std(0)
    std[std == 0] = 1.0
    return (X[train] - mean) / std, y[train], (X[test] - mean) / std, y[test]


def initial_weights(kind, seed, depth, width):
    tg.manual_seed(seed)
    model = deep_mlp(kind, depth, width, 64, 10)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return [(m.weight.numpy().astype(np.float64), m.bias.numpy().astype(np.float64))
            for m in linears]


def forward(kind, layers, x):
    """Pre-activations of every layer; the last one is the logits."""
    f = ACTIVATIONS[kind][0]
    h, pre = x, []
    for index, (W, b) in enumerate(layers):
        pre.append(h @ W.T + b)
        h = f(pre[-1]) if index < len(layers) - 1 else pre[-1]
    return pre


def cross_entropy_parts(logits, y):
    """Mean cross-entropy (PyTorch's reduction='mean') and dL/dlogits."""
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    grad = np.exp(log_p)
    grad[np.arange(len(y)), y] -= 1.0
    return -log_p[np.arange(len(y)), y].mean(), grad / len(y)


def weight_grad_norms(kind, layers, x, y):
    """||dL/dW_k||_F of every Linear layer, input first, by hand backpropagation."""
    f, df = ACTIVATIONS[kind]
    pre = forward(kind, layers, x)
    inputs = [x] + [f(z) for z in pre[:-1]]
    _, delta = cross_entropy_parts(pre[-1], y)
    norms = [0.0] * len(layers)
    for k in reversed(range(len(layers))):
        norms[k] = np.linalg.norm(delta.T @ inputs[k])
        if k:
            delta = (delta @ layers[k][0]) * df(pre[k - 1])
    return np.array(norms)


@pytest.mark.parametrize("kind", ["relu", "tanh", "sigmoid"])
def test_gradient_norms_saturation_and_dead_units_match_a_hand_computation(kind):
    # ||dL/dW|| per Linear on the first 256 training images; saturated: |z| beyond 2 (tanh)
    # or 4 (sigmoid); dead: z <= 0 on the whole probe batch; both averaged over the layers
    result = vanishing_study((kind,), depth=4, width=8, epochs=0, seed=3, train_samples=300,
                             log=None)[kind]
    layers = initial_weights(kind, 3, 4, 8)
    x_train, y_train, _, _ = split(300)
    x, y = x_train[:PROBE_SIZE], y_train[:PROBE_SIZE]
    np.testing.assert_allclose(result["grad_init"], weight_grad_norms(kind, layers, x, y),
                               rtol=2e-4)
    pre = forward(kind, layers, x)[:-1]
    if kind == "relu":
        expected = np.mean([np.mean((z <= 0).all(axis=0)) for z in pre])
        assert result["dead_init"] == pytest.approx(expected, abs=1e-12)
        assert math.isnan(result["saturated_init"])
    else:
        threshold = {"tanh": 2.0, "sigmoid": 4.0}[kind]
        expected = np.mean([np.mean(np.abs(z) > threshold) for z in pre])
        assert result["saturated_init"] == pytest.approx(expected, abs=1e-12)
        assert math.isnan(result["dead_init"])


def test_train_loss_is_the_per_sample_mean_and_accuracy_is_on_the_test_split():
    # lr 0: the weights never move, so the epoch's loss is the mean cross-entropy over all
    # 100 training samples (batches of 64 and 36 weighted by size, not a mean of batch means)
    result = vanishing_study(("relu",), depth=3, width=8, epochs=2, lr=0.0, batch_size=64,
                             seed=5, train_samples=100, log=None)["relu"]
    layers = initial_weights("relu", 5, 3, 8)
    x_train, y_train, x_test, y_test = split(100)
    loss, _ = cross_entropy_parts(forward("relu", layers, x_train)[-1], y_train)
    accuracy = np.mean(forward("relu", layers, x_test)[-1].argmax(1) == y_test)
    assert len(y_test) == 359 and len(result["train_loss"]) == 2
    np.testing.assert_allclose(result["train_loss"], [loss, loss], rtol=1e-5)
    assert result["test_accuracy"] == [pytest.approx(accuracy)] * 2
    assert result["grad_steps"].shape == (4, 3)             # 2 epochs x 2 batches
    np.testing.assert_allclose(result["grad_trained"], result["grad_init"], rtol=1e-6)


def test_same_seed_same_numbers_and_another_seed_other_numbers():
    def run(seed):
        return vanishing_study(("tanh",), depth=4, width=8, epochs=1, seed=seed,
                               train_samples=128, log=None)["tanh"]
    first, again, other = run(1), run(1), run(2)
    for key in ("grad_init", "grad_trained", "grad_steps", "train_loss", "test_accuracy"):
        np.testing.assert_array_equal(np.asarray(first[key]), np.asarray(again[key]))
    assert not np.allclose(first["grad_init"], other["grad_init"])
    assert first["train_loss"] != other["train_loss"]


def fake_result(init, trained, saturated=math.nan, dead=math.nan, loss=(), accuracy=()):
    return {"grad_init": np.array(init), "grad_trained": np.array(trained),
            "saturated_init": saturated, "dead_init": dead, "train_loss": list(loss),
            "test_accuracy": list(accuracy), "layer_names": [], "seconds": 0.0}


def test_summary_table_reports_first_over_last_and_percentages():
    results = {"a": fake_result([0.5, 3.0, 2.0], [6.0, 1.0, 3.0], saturated=0.25,
                                loss=[2.0, 0.75], accuracy=[0.5, 0.875]),
               "b": fake_result([1e-10, 4.0], [1.0, 8.0], dead=0.1234)}
    rows = {line.split()[0]: line.split() for line in summary_table(results).splitlines()[2:]}
    assert rows["a"][1:] == ["0.5", "2", "0.25", "2", "25.0%", "-", "0.75", "0.875"]
    assert rows["b"][1:] == ["1e-10", "4", "2.5e-11", "0.125", "-", "12.3%", "-", "-"]


def test_layer_table_puts_layer_k_of_every_model_in_row_k():
    results = {"deep": fake_result([1.0, 2.0, 3.0], [0, 0, 0]),
               "short": fake_result([7.0, 8.0], [0, 0])}
    lines = layer_table(results).splitlines()
    assert [line.split() for line in lines[2:]] == [["L1", "1", "7"], ["L2", "2", "8"],
                                                    ["L3", "3", "-"]]
    assert layer_table(results, "grad_trained").splitlines()[2].split() == ["L1", "0", "0"]


# --- data sets ---------------------------------------------------------------------------

def test_generators_accept_whole_float_sizes():
    # whole_number accepts 10.0 as documented, so the generator must not fail inside NumPy
    for call, n in [(lambda: moons(7.0, seed=0), 7), (lambda: xor(6.0, seed=0), 6),
                    (lambda: spiral(3.0, 2.0, seed=0), 6),
                    (lambda: make_imbalanced(10.0, 0.3, n_features=3.0, seed=0), 10)]:
        X, y = call()
        assert X.shape[0] == len(y) == n and X.dtype == np.float32 and y.dtype == np.int64
    assert make_imbalanced(10.0, 0.3, n_features=3.0, seed=0)[0].shape == (10, 3)
    np.testing.assert_array_equal(moons(7.0, seed=0)[0], moons(7, seed=0)[0])


@pytest.mark.parametrize("generator", [moons, xor, spiral])
@pytest.mark.parametrize("noise", [-0.1, math.nan, math.inf, "0.1"])
def test_generators_reject_a_noise_that_is_not_a_standard_deviation(generator, noise):
    # scikit-learn's make_moons refuses noise < 0; NaN/inf would make every point NaN/inf
    with pytest.raises(ValueError, match=f"{generator.__name__}: noise must be"):
        generator(noise=noise, seed=0)


def test_noise_zero_puts_moons_exactly_on_the_half_circles():
    X, y = moons(9, noise=0.0, seed=0, shuffle=False)
    outer, inner = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    assert len(outer) == 4 and len(inner) == 5               # class 0: n // 2
    np.testing.assert_allclose(np.hypot(*outer.T), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1.0, inner[:, 1] - 0.5), 1.0, atol=1e-6)


def test_a_generator_seed_advances_an_int_seed_repeats():
    rng = np.random.default_rng(4)
    first, second = xor(20, seed=rng)[0], xor(20, seed=rng)[0]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(xor(20, seed=np.random.default_rng(4))[0], first)
    np.testing.assert_array_equal(xor(20, seed=4)[0], xor(20, seed=4)[0])


def test_make_imbalanced_means_lie_class_sep_apart_along_the_diagonal():
    X, y = make_imbalanced(40000, 0.25, n_features=4, class_sep=3.0, seed=1)
    difference = X[y == 1].mean(0).astype(np.float64) - X[y == 0].mean(0)
    np.testing.assert_allclose(difference, np.full(4, 3.0 / 2.0), atol=0.05)   # 3 / sqrt(4)
    assert (y == 1).sum() == 10000


@pytest.mark.parametrize("setting, message", [
    (dict(train_samples=-5), "train_samples must be a positive integer or None, got -5"),
    (dict(train_samples=2.5), "train_samples must be a positive integer"),
    (dict(epochs=-1), "epochs must be an integer >= 0, got -1"),
])
def test_study_rejects_settings_that_would_silently_change_the_run(setting, message):
    # train_samples=-5 used to train on all but the last 5 samples; epochs=-1 on none
    with pytest.raises(ValueError, match=f"vanishing_study: {message}"):
        vanishing_study(("relu",), depth=3, width=4, log=None, **setting)
