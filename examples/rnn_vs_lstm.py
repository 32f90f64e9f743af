"""Experiment: vanilla RNN vs LSTM on the adding problem. Do gates keep gradients alive?

Claim (lecture notes, "梯度消失梯度爆炸以及怎么解决", LSTM): backpropagation through
time multiplies the gradient by W_hhᵀ·diag(tanh') once per step, so in a vanilla
RNN the gradient that reaches step 1 from a loss at step T shrinks geometrically
with T and long-range dependencies cannot be learned. In an LSTM the cell path
c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t multiplies it only by the forget gate f_t, which the
network can hold near 1: "gates keep the gradient alive".

The adding problem (Hochreiter & Schmidhuber, 1997): each of the T steps carries
a value u_t ~ U(0, 1) and a marker m_t ∈ {0, 1}; exactly two steps are marked, one
in each half. The target is the sum of the two marked values, read from the
last output. Predicting the mean (1.0) gives the baseline MSE 1/6 ≈ 0.167; a
prediction within 0.04 of the target counts as correct (baseline 7.8%).

Measured, for T in LENGTHS:
1. the gradient that reaches step 1, ||∂L/∂x_1|| / ||∂L/∂x_T||, at initialisation
   (no training; longer sequences too, it is cheap);
2. the test MSE and accuracy after STEPS Adam steps, and the same gradient ratio
   after training.
Three models, hidden size 32, then Linear(32, 1) on the last output: a tanh RNN,
an LSTM with PyTorch's initialisation (forget gate f ≈ σ(0) = 0.5 at first), and
the same LSTM with the forget-gate bias set to 1 (Gers et al., 2000;
Jozefowicz et al., 2015), so f ≈ 0.73 at first. The grid was fixed before running.

    python examples/rnn_vs_lstm.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import json
import os
import time

import numpy as np

import tinygrad_opt as tg
from tinygrad_opt import nn, optim, viz
from tinygrad_opt.diagnostics import format_table
from tinygrad_opt.nn.recurrent import LSTM, RNN

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="vanilla RNN vs LSTM on the adding problem")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true",
                    help="T = 20 only, RNN and LSTM (forget bias 1): the test's run")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNG")
parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
args = parser.parse_args()

HIDDEN, BATCH_SIZE, STEPS, LR, CLIP = 32, 64, 300, 3e-2, 1.0
LENGTHS = (20,) if args.quick else (10, 20, 30)          # trained
GRADIENT_LENGTHS = (5, 10, 20, 40) if args.quick else (5, 10, 20, 40, 80)  # measured at init
MODELS = ("RNN (tanh)", "LSTM (forget bias 1)") if args.quick else (
    "RNN (tanh)", "LSTM", "LSTM (forget bias 1)")
TEST_SIZE, TOLERANCE = 1000, 0.04


# --- data: the adding problem ----------------------------------------------------------------
def adding_batch(rng, T, N):
    """x (T, N, 2): [value, marker] per step; y (N, 1): the sum of the two marked values."""
    values = rng.uniform(0.0, 1.0, (T, N))
    markers = np.zeros((T, N))
    markers[rng.integers(0, T // 2, N), np.arange(N)] = 1.0       # one in the first half
    markers[rng.integers(T // 2, T, N), np.arange(N)] = 1.0       # one in the second half
    x = np.stack([values, markers], axis=2).astype(np.float32)    # (T, N, 2)
    y = (values * markers).sum(axis=0).astype(np.float32)[:, None]  # (N, 1)
    return tg.tensor(x, device=args.device), tg.tensor(y, device=args.device)


# --- models ----------------------------------------------------------------------------------
class Regressor(nn.Module):
    """A recurrent layer over the sequence, then Linear(H, 1) on the last output."""

    def __init__(self, kind):
        super().__init__()
        if kind == "RNN (tanh)":
            self.rnn = RNN(2, HIDDEN, nonlinearity="tanh")
        else:
            self.rnn = LSTM(2, HIDDEN)
        if kind == "LSTM (forget bias 1)":
            forget = slice(HIDDEN, 2 * HIDDEN)                    # gate order i, f, g, o
            self.rnn.bias_ih_l0.data[forget] = 1.0
            self.rnn.bias_hh_l0.data[forget] = 0.0
        self.head = nn.Linear(HIDDEN, 1)

    def forward(self, x):
        output, _ = self.rnn(x)                                   # (T, N, H)
        return self.head(output[-1])                              # (N, 1)


def gradient_ratio(model, T, rng):
    """||∂L/∂x_1|| / ||∂L/∂x_T|| for the MSE loss at the last step (one batch)."""
    x, y = adding_batch(rng, T, BATCH_SIZE)
    x.requires_grad_()
    loss = ((model(x) - y) ** 2).mean()
    (grad_x,) = tg.grad(loss, [x])
    grad = grad_x.numpy()                                         # (T, N, 2)
    return float(np.linalg.norm(grad[0]) / np.linalg.norm(grad[-1]))


def make_model(kind):
    tg.manual_seed(args.seed)                                     # same init for every T
    return Regressor(kind).to(args.device)


# --- 1. gradient reaching step 1, at initialisation -------------------------------------
start = time.perf_counter()
at_init = {kind: {} for kind in MODELS}
for kind in MODELS:
    for T in GRADIENT_LENGTHS:
        at_init[kind][T] = gradient_ratio(make_model(kind), T, np.random.default_rng(args.seed))

# --- 2. training on the adding problem ----------------------------------------------------
results = []
for T in LENGTHS:
    for kind in MODELS:
        model = make_model(kind)
        optimizer = optim.Adam(model.parameters(), lr=LR)
        rng = np.random.default_rng(args.seed)                    # same batches for every model
        for step in range(STEPS):
            x, y = adding_batch(rng, T, BATCH_SIZE)
            optimizer.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            optimizer.step()
        x_test, y_test = adding_batch(np.random.default_rng(10_000 + args.seed), T, TEST_SIZE)
        with tg.no_grad():
            error = (model(x_test) - y_test).numpy()
        results.append({
            "T": T, "model": kind, "test_mse": float((error ** 2).mean()),
            "accuracy": float((np.abs(error) < TOLERANCE).mean()),
            "grad_ratio_init": gradient_ratio(make_model(kind), T, np.random.default_rng(1)),
            "grad_ratio_trained": gradient_ratio(model, T, np.random.default_rng(1)),
        })
seconds = time.perf_counter() - start

# --- results -------------------------------------------------------------------------------
print(f"adding problem, hidden {HIDDEN}, Adam lr {LR}, clip {CLIP}, {STEPS} steps of batch "
      f"{BATCH_SIZE}, seed {args.seed}, device {args.device}")
print("\n||dL/dx_1|| / ||dL/dx_T|| at initialisation (loss at the last step T):")
print(format_table(["model"] + [f"T={T}" for T in GRADIENT_LENGTHS],
                   [[kind] + [f"{at_init[kind][T]:.1e}" for T in GRADIENT_LENGTHS]
                    for kind in MODELS]))
print(f"\nafter training (baseline: MSE {1 / 6:.3f}, accuracy {1 - 0.96 ** 2:.1%}; "
      f"accuracy = |error| < {TOLERANCE}):")
print(format_table(["T", "model", "test MSE", "accuracy", "grad ratio init",
                    "grad ratio trained"],
                   [[r["T"], r["model"], f"{r['test_mse']:.4f}", f"{r['accuracy']:.1%}",
                     f"{r['grad_ratio_init']:.1e}", f"{r['grad_ratio_trained']:.1e}"]
                    for r in results]))
print(f"\nwall time: {seconds:.1f} s")
if args.json:
    with open(args.json, "w") as file:
        json.dump({"at_init": {kind: {str(T): v for T, v in ratios.items()}
                               for kind, ratios in at_init.items()},
                   "results": results, "seconds": seconds}, file, indent=1)
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    figure_data = {kind: {f"T={T}": at_init[kind][T] for T in GRADIENT_LENGTHS}
                   for kind in MODELS}
    print("wrote " + viz.plot_bars(figure_data, os.path.join(args.plot, "rnn_vs_lstm.png"),
                                   ylabel="||dL/dx_1|| / ||dL/dx_T|| at init (log)",
                                   title="gradient reaching step 1", logy=True))
else:
    print(viz.PLOT_HINT)
