"""Experiment 2: optimizers on 2-D test surfaces (Rosenbrock, Beale, a saddle).

Claims (lecture notes, "参数更新" and "逐参数适应学习率方法"):
* momentum "rolls a ball": it builds up speed along a consistent direction, so it
  crosses long flat valleys faster than plain SGD; Nesterov looks ahead first;
* Adagrad's ever-growing cache makes its steps ever smaller ("stops learning too
  early"); RMSprop's moving average fixes that; Adam adds momentum to RMSprop;
* SGD "gets stuck at saddle points"; momentum helps escape;
* Newton's method needs no learning rate and converges in a few steps near a
  minimum (it also jumps straight to a saddle point: H is indefinite there).

Every optimizer starts from the surface's customary start point and runs until it
is within TOLERANCE of the minimum (on the saddle: until it has escaped, f < -1) or
MAX_STEPS. Learning rates are fixed per optimizer, the same on every surface,
chosen once before running (not tuned to a result).

    python examples/optimizers_2d.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import math
import os
import time

import numpy as np

import tinygrad_opt as tg
from tinygrad_opt import optim, viz
from tinygrad_opt.datasets import beale, rosenbrock, saddle
from tinygrad_opt.diagnostics import format_table

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="optimizers on 2-D surfaces")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0, help="(the runs are deterministic)")
parser.add_argument("--quick", action="store_true", help="at most 200 steps per run")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()
tg.manual_seed(args.seed)

MAX_STEPS = 200 if args.quick else 2000
TOLERANCE = 1e-3           # ||p - p*|| at which a run counts as converged
ESCAPED = -1.0             # on the saddle x^2 - y^2: f below this means "escaped"
SURFACES = {"rosenbrock": rosenbrock, "beale": beale, "saddle": saddle}
OPTIMIZERS = {             # name: (class, keyword arguments)
    "SGD": (optim.SGD, dict(lr=1e-3)),
    "Momentum": (optim.SGD, dict(lr=1e-3, momentum=0.9)),
    "Nesterov": (optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True)),
    "Adagrad": (optim.Adagrad, dict(lr=0.1)),
    "RMSprop": (optim.RMSprop, dict(lr=0.01)),
    "Adam": (optim.Adam, dict(lr=0.01)),
    "Newton": (optim.Newton, dict(lr=1.0)),
    "L-BFGS": (optim.LBFGS, dict(lr=1.0, max_iter=1, history_size=10,
                                 line_search_fn="strong_wolfe")),
}


def finished(name, surface, point, value):
    """Converged to a minimum, or (saddle) escaped it."""
    if name == "saddle":
        return value < ESCAPED
    return min(np.linalg.norm(point - np.array(m)) for m in surface.minima) < TOLERANCE


# --- the loop: one run per (surface, optimizer) --------------------------------------------
runs = {}
for surface_name, surface in SURFACES.items():
    for optimizer_name, (optimizer_class, kwargs) in OPTIMIZERS.items():
        p = tg.tensor(surface.start, dtype=tg.float64, device=args.device, requires_grad=True)
        optimizer = optimizer_class([p], **kwargs)

        def closure():
            optimizer.zero_grad()
            loss = surface(p)
            loss.backward()
            return loss

        path, status, started = [p.numpy().copy()], "max steps", time.perf_counter()
        for step in range(1, MAX_STEPS + 1):
            optimizer.step(closure)
            point = p.numpy().copy()
            with tg.no_grad():
                value = surface(p).item()
            path.append(point)
            if finished(surface_name, surface, point, value):
                status = step
                break
            if not (np.isfinite(value) and np.all(np.isfinite(point))) or abs(value) > 1e12:
                status = f"diverged at {step}"
                break
        runs[surface_name, optimizer_name] = dict(
            path=np.array(path), status=status, value=value, point=point,
            seconds=time.perf_counter() - started)

# --- results -------------------------------------------------------------------------------
for surface_name, surface in SURFACES.items():
    goal = (f"steps to f < {ESCAPED} (escape)" if surface_name == "saddle"
            else f"steps to |p - p*| < {TOLERANCE:g}")
    rows = []
    for optimizer_name in OPTIMIZERS:
        run = runs[surface_name, optimizer_name]
        rows.append([optimizer_name, run["status"], run["value"],
                     f"({run['point'][0]:.4g}, {run['point'][1]:.4g})"])
    print(f"\n{surface_name}: start {surface.start}, at most {MAX_STEPS} steps")
    print(format_table(["optimizer", goal, "final f", "final point"], rows))
    print(f"wall time, {surface_name}: " + ", ".join(      # (varies run to run: not a result)
        f"{name} {runs[surface_name, name]['seconds']:.3g} s" for name in OPTIMIZERS))

if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    for surface_name, surface in SURFACES.items():
        paths = {name: runs[surface_name, name]["path"] for name in OPTIMIZERS}
        paths = {name: path[np.all(np.isfinite(path), axis=1)] for name, path in paths.items()}
        minima = surface.minima or surface.saddle_points
        file = viz.plot_trajectories(surface, paths, os.path.join(args.plot,
                                     f"optimizers_2d_{surface_name}.png"), minima=minima,
                                     title=f"{surface_name}: {MAX_STEPS} steps at most")
        print("wrote " + file)
else:
    print(viz.PLOT_HINT)
