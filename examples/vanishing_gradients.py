"""Experiment 1: vanishing gradients in deep MLPs, and the three fixes.

Claim (lecture notes, "梯度消失梯度爆炸以及怎么解决"): backprop multiplies one factor
W_k·f'(z_k) per layer; with sigmoid (f' ≤ 1/4) the product shrinks geometrically,
so the first layer's gradient is orders of magnitude smaller than the last one's
and the early layers barely learn. ReLU, BatchNorm and residual connections
(d(x + f(x))/dx = I + df/dx) keep it from vanishing.

    python examples/vanishing_gradients.py [--quick] [--seed 0] [--device cpu] [--plot DIR]

The study itself (models, data, training loop) is tinygrad_opt/experiments.py, so
that `tinygrad-opt vanishing` runs exactly the same thing; read it top to bottom.
"""

import argparse

from tinygrad_opt import viz
from tinygrad_opt.experiments import KINDS, plot_vanishing, report, timing_line, vanishing_study

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="vanishing gradients in deep MLPs")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="depth 10, 2 epochs, 512 samples")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()

DEPTH = 10 if args.quick else 16           # Linear layers per model
WIDTH = 64
EPOCHS = 2 if args.quick else 10
TRAIN_SAMPLES = 512 if args.quick else None  # None: the whole training split (1438 digits)
LR, MOMENTUM, BATCH_SIZE = 0.01, 0.9, 64     # the same SGD for every model

# --- data, models, training loop: nine models, same data, same optimizer ----------------
print(f"{len(KINDS)} models of {DEPTH} Linear layers (width {WIDTH}), {EPOCHS} epochs of SGD "
      f"(lr {LR}, momentum {MOMENTUM}), seed {args.seed}, device {args.device}")
results = vanishing_study(KINDS, depth=DEPTH, width=WIDTH, epochs=EPOCHS,
                          batch_size=BATCH_SIZE, lr=LR, momentum=MOMENTUM, seed=args.seed,
                          device=args.device, train_samples=TRAIN_SAMPLES)

# --- results -------------------------------------------------------------------------------
print()
print(report(results))
sigmoid, residual = results["sigmoid"]["grad_init"], results["relu+residual"]["grad_init"]
print(f"\nat initialisation the first layer's gradient is {sigmoid[-1] / sigmoid[0]:.2g} times "
      f"smaller than the last one's with sigmoid, {residual[-1] / residual[0]:.2g} times with "
      f"ReLU+residual")
print(timing_line(results))
if viz.matplotlib_available():
    print("wrote " + ", ".join(plot_vanishing(results, args.plot)))
else:
    print(viz.PLOT_HINT)
