"""The vanishing-gradient study, run by examples/vanishing_gradients.py and ``tinygrad-opt
vanishing`` (tinygrad_opt/cli/vanishing.py).

The claim (lecture notes, "梯度消失梯度爆炸"): the gradient of an early layer is a
product of one factor per later layer, ``W_k · f'(z_k)``. Sigmoid's derivative is at
most 1/4, so in a deep sigmoid net the product shrinks geometrically and the first
layers barely learn. The fixes: ReLU (derivative 1 where active) and the notes'
variants of it (LeakyReLU, ELU, SELU, maxout), BatchNorm (pulls pre-activations back
out of the flat tails), residual connections (``d(x + f(x))/dx = I + df/dx``: the
identity term carries the gradient).

The study trains nine ``depth``-layer MLPs on the shipped digits, same data, same
optimizer, same batches, and measures every layer's gradient norm ‖∂L/∂W‖ on a fixed
probe batch at initialisation and after training (with a :class:`~tinygrad_opt.diagnostics.Monitor`,
which also records saturation and dead units). Models (``depth`` counts Linear layers)::

    sigmoid             [Linear → Sigmoid] × (depth−1) → Linear
    tanh                [Linear → Tanh] × (depth−1) → Linear
    relu                [Linear → ReLU] × (depth−1) → Linear
    relu+residual       Linear → ReLU → ResidualBlock × (depth−2)/2 → Linear
                        (ResidualBlock: x + fc2(relu(fc1(x))), no normalisation)
    sigmoid+batchnorm   [Linear → BatchNorm1d → Sigmoid] × (depth−1) → Linear
    leaky_relu          [Linear → LeakyReLU(0.01)] × (depth−1) → Linear
    elu                 [Linear → ELU(1)] × (depth−1) → Linear
    selu                [Linear → SELU] × (depth−1) → Linear
    maxout              [Maxout(2 pieces)] × (depth−1) → Linear
                        (nn.Maxout: a Linear to 2·width values, max over each pair)

Initialisation: each Linear that feeds an activation gets the scheme recommended for
that activation (Xavier-normal with gain 1 for sigmoid and 5/3 for tanh, Kaiming-normal
for ReLU, ELU and LeakyReLU (with its slope), LeCun-normal N(0, 1/fan_in) for SELU, as
Klambauer et al. prescribe, and for maxout: the max of two zero-mean pieces keeps the
second moment, E[max(a, b)²] = E[a²], so gain 1 keeps the scale); the output layer and
the second Linear of each residual branch keep PyTorch's default U(±1/√fan_in). So the
sigmoid net is not handicapped by a bad initialisation: what vanishes is due to σ' ≤ 1/4.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np  # host-side data preparation and result tables

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn, optim
from tinygrad_opt._checks import whole_number
from tinygrad_opt.data import DataLoader, TensorDataset, standardize
from tinygrad_opt.datasets import load_digits
from tinygrad_opt.diagnostics import Monitor, format_table

KINDS = ("sigmoid", "tanh", "relu", "relu+residual", "sigmoid+batchnorm", "leaky_relu", "elu",
         "selu", "maxout")
SPLIT_SEED = 0          # the train/test split is the same whatever the seed
PROBE_SIZE = 256        # samples in the fixed batch on which gradients are measured


# --- models --------------------------------------------------------------------------------

def _activation_layer(kind: str, in_features: int, out_features: int) -> list:
    """``[Linear, (BatchNorm1d,) activation]`` with the activation's recommended init."""
    linear = nn.Linear(in_features, out_features)
    if kind.startswith("sigmoid"):
        nn.init.xavier_normal_(linear.weight, gain=nn.init.calculate_gain("sigmoid"))
        layers = [linear, nn.BatchNorm1d(out_features)] if "batchnorm" in kind else [linear]
        return layers + [nn.Sigmoid()]
    if kind == "tanh":
        nn.init.xavier_normal_(linear.weight, gain=nn.init.calculate_gain("tanh"))
        return [linear, nn.Tanh()]
    if kind == "leaky_relu":
        nn.init.kaiming_normal_(linear.weight, a=0.01, nonlinearity="leaky_relu")
        return [linear, nn.LeakyReLU(0.01)]
    if kind == "selu":
        nn.init.kaiming_normal_(linear.weight, nonlinearity="linear")   # LeCun normal
        return [linear, nn.SELU()]
    if kind == "maxout":
        maxout = nn.Maxout(in_features, out_features, pieces=2)
        nn.init.kaiming_normal_(maxout.linear.weight, nonlinearity="linear")
        return [maxout]
    nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
    return [linear, nn.ELU() if kind == "elu" else nn.ReLU()]


def deep_mlp(kind: str, depth: int = 16, width: int = 64, in_features: int = 64,
             num_classes: int = 10) -> nn.Sequential:
    """A ``depth``-Linear-layer MLP of one of :data:`KINDS` (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"deep_mlp: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if depth < 3:
        raise ValueError(f"deep_mlp: depth must be at least 3 Linear layers, got {depth}")
    if kind == "relu+residual":
        if depth % 2:
            raise ValueError(f"deep_mlp: relu+residual needs an even depth "
                             f"(1 + 2 per block + 1 Linear layers), got {depth}")
        layers = _activation_layer("relu", in_features, width)
        for _ in range((depth - 2) // 2):
            block = nn.ResidualBlock(width, activation=nn.ReLU, norm=False)
            nn.init.kaiming_normal_(block.fc1.weight, nonlinearity="relu")
            layers.append(block)
        return nn.Sequential(*layers, nn.Linear(width, num_classes))
    layers = _activation_layer(kind, in_features, width)
    for _ in range(depth - 2):
        layers += _activation_layer(kind, width, width)
    return nn.Sequential(*layers, nn.Linear(width, num_classes))


# --- the study -----------------------------------------------------------------------------

def _probe_gradients(model, monitor, x, y) -> None:
    """One forward/backward on the probe batch; the monitor records a row (no update)."""
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    monitor.record()
    model.zero_grad()


def vanishing_study(kinds=KINDS, depth: int = 16, width: int = 64, epochs: int = 10,
                    batch_size: int = 64, lr: float = 0.01, momentum: float = 0.9,
                    seed: int = 0, device: str = "cpu", train_samples: int | None = None,
                    log=print) -> dict:
    """Train one model per kind; return ``{kind: result dict}``.

    Each result holds ``layer_names``, ``grad_init`` and ``grad_trained`` (per-layer
    gradient norms on the probe batch, input layer first), ``grad_steps``
    (steps, layers) during training, ``saturated_init``/``dead_init`` (mean over the
    activation layers at initialisation), ``train_loss`` (per epoch), ``test_accuracy``
    (per epoch) and ``seconds``. ``train_samples`` keeps only that many training
    samples (for quick runs): a positive integer, or ``None`` for all of them.
    """
    if train_samples is not None and not whole_number(train_samples):
        raise ValueError(f"vanishing_study: train_samples must be a positive integer or None, "
                         f"got {train_samples!r}")  # (a negative one would slice off the end)
    if not whole_number(epochs, minimum=0):
        raise ValueError(f"vanishing_study: epochs must be an integer >= 0, got {epochs!r}")
    # data: the digits, standardized with the training split's statistics
    X, y = load_digits()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    n_test = len(y) // 5
    test_index, train_index = order[:n_test], order[n_test:]
    if train_samples is not None:
        train_index = train_index[:int(train_samples)]
    X_train, X_test, _ = standardize(X[train_index], X[test_index])
    y_train, y_test = y[train_index], y[test_index]
    probe_x = tg.tensor(X_train[:PROBE_SIZE], device=device)
    probe_y = tg.tensor(y_train[:PROBE_SIZE], device=device)
    test_x = tg.tensor(X_test, device=device)

    results = {}
    for kind in kinds:
        started = time.perf_counter()
        tg.manual_seed(seed)                              # same initial draw for every kind
        model = deep_mlp(kind, depth, width, X.shape[1], 10).to(device)
        optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size,
                            shuffle=True, seed=seed, device=device)
        monitor = Monitor(model)
        _probe_gradients(model, monitor, probe_x, probe_y)          # row 0: at init
        losses, accuracies = [], []
        for epoch in range(int(epochs)):
            model.train()
            total, count = 0.0, 0
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                monitor.step(optimizer)                             # rows 1..: training
                total += loss.item() * yb.shape[0]
                count += yb.shape[0]
            losses.append(total / count)
            model.eval()
            with tg.no_grad():
                predicted = model(test_x).argmax(1).numpy()
            accuracies.append(float((predicted == y_test).mean()))
        model.train()
        _probe_gradients(model, monitor, probe_x, probe_y)          # last row: trained
        grads = monitor.grad_norms
        results[kind] = {
            "layer_names": monitor.param_names,
            "grad_init": grads[0],
            "grad_trained": grads[-1],
            "grad_steps": grads[1:-1],
            "saturated_init": _mean_or_nan(monitor.saturated_fractions[0]),
            "dead_init": _mean_or_nan(monitor.dead_fractions[0]),
            "saturated_trained": _mean_or_nan(monitor.saturated_fractions[-1]),
            "dead_trained": _mean_or_nan(monitor.dead_fractions[-1]),
            "train_loss": losses,
            "test_accuracy": accuracies,
            "seconds": time.perf_counter() - started,
        }
        monitor.remove()
        if log is not None:
            final = f"loss {losses[-1]:.3f}, test acc {accuracies[-1]:.3f}" if epochs else ""
            log(f"{kind:<18} {final}".rstrip())
    return results


def _mean_or_nan(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def summary_table(results: dict) -> str:
    """One row per model: first/last layer gradient norms, their ratio, saturation,
    dead units, final loss and test accuracy."""
    rows = []
    for kind, result in results.items():
        init, trained = result["grad_init"], result["grad_trained"]
        rows.append([kind, init[0], init[-1], init[0] / init[-1], trained[0] / trained[-1],
                     _percent(result["saturated_init"]), _percent(result["dead_init"]),
                     result["train_loss"][-1] if result["train_loss"] else math.nan,
                     result["test_accuracy"][-1] if result["test_accuracy"] else math.nan])
    headers = ["model", "|g| first (init)", "|g| last (init)", "first/last (init)",
               "first/last (trained)", "saturated", "dead", "train loss", "test acc"]
    return format_table(headers, rows)


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}%"


def layer_table(results: dict, which: str = "grad_init") -> str:
    """Per-layer gradient norms: one row per Linear layer (input first), one column per model.

    Models have the same number of Linear layers, so row k is the k-th layer of each.
    """
    kinds = list(results)
    depth = max(len(results[kind][which]) for kind in kinds)
    rows = []
    for layer in range(depth):
        rows.append([f"L{layer + 1}"] + [results[kind][which][layer]
                                         if layer < len(results[kind][which]) else math.nan
                                         for kind in kinds])
    return format_table(["layer"] + kinds, rows)


def plot_vanishing(results: dict, directory: str) -> list[str]:
    """Write the study's PNGs to ``directory``; RuntimeError without matplotlib."""
    from tinygrad_opt import viz

    os.makedirs(directory, exist_ok=True)
    def per_layer(which):
        return {kind: {f"L{i + 1}": value for i, value in enumerate(result[which])}
                for kind, result in results.items()}
    paths = [
        viz.plot_grad_norm_bars(per_layer("grad_init"),
                                os.path.join(directory, "vanishing_init.png"),
                                title="gradient norm per layer at initialisation"),
        viz.plot_grad_norm_bars(per_layer("grad_trained"),
                                os.path.join(directory, "vanishing_trained.png"),
                                title="gradient norm per layer after training"),
        viz.plot_curves({kind: result["train_loss"] for kind, result in results.items()},
                        os.path.join(directory, "vanishing_curves.png"),
                        ylabel="training loss (cross-entropy)", title="training loss per epoch"),
    ]
    for kind, result in results.items():
        names = [f"L{i + 1}" for i in range(len(result["layer_names"]))]
        filename = "vanishing_steps_" + kind.replace("+", "_") + ".png"
        paths.append(viz.plot_grad_norms(result["grad_steps"], os.path.join(directory, filename),
                                         names=names, title=f"{kind}: gradient norm per layer"))
    return paths


def timing_line(results: dict) -> str:
    """``wall time: sigmoid 1.1 s, ...``: printed apart from the tables, which repeat
    exactly from run to run while the times do not (examples/regenerate.py)."""
    return "wall time: " + ", ".join(f"{kind} {result['seconds']:.1f} s"
                                     for kind, result in results.items())


def report(results: dict) -> str:
    """The three tables the study prints."""
    return ("Per-layer gradient norm ||dL/dW|| at initialisation (L1 = input layer):\n"
            + layer_table(results, "grad_init")
            + "\n\nPer-layer gradient norm after training:\n"
            + layer_table(results, "grad_trained")
            + "\n\nSummary:\n" + summary_table(results))
