"""Training diagnostics: what every layer's gradients, weights and activations are doing.

A :class:`Monitor` attaches to a model and records, per layer and per step::

    grad_norm       ‖g‖₂ of each weight after backward             (vanishing / exploding?)
    weight_norm     ‖w‖₂ of each weight before the update
    update_ratio    ‖Δw‖₂ / ‖w‖₂ of the optimizer's step            (rule of thumb: about 1e-3)
    act_mean, act_std   mean and standard deviation of each activation's output
    saturated       fraction of sigmoid / tanh inputs in the flat tails
    dead            fraction of ReLU-family units that are off for the whole batch

Use it around the usual loop; nothing else changes::

    monitor = Monitor(model)
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)       # forward hooks record activation statistics
        loss.backward()
        monitor.step(optimizer)           # = before_step(); optimizer.step(); after_step()
    print(monitor.table())                # the last step, one row per layer
    monitor.grad_norms                    # NumPy array (steps, layers)

Definitions (the choices a reader should know about):

* **Which weights.** By default every parameter with two or more dimensions
  (the weight matrices of ``Linear`` layers: "the layers"); biases and
  BatchNorm's scale are left out. Pass ``parameters=[names]`` to choose.
* **Which activations.** Every activation *module* of the model (``nn.Sigmoid``,
  ``nn.ReLU``, ...), hooked with ``register_forward_hook``. Activations
  written as functions inside a ``forward`` (``x.relu()``) are invisible to hooks.
  Only forward passes in training mode are recorded, so an evaluation pass
  between steps does not overwrite the training statistics.
* **Saturated** (Sigmoid, Tanh): the fraction of pre-activations x with
  ``|x| > threshold``, 4 for sigmoid and 2 for tanh by default. Both thresholds
  put the local derivative below 7% of its maximum (σ'(4) = 0.0177 = 0.07·¼,
  tanh'(2) = 0.0707; tanh(x) = 2σ(2x) − 1, so the tanh threshold is half the
  sigmoid one). A saturated unit passes almost no gradient backwards.
* **Dead** (ReLU, LeakyReLU, PReLU, RReLU, ELU, SELU): the fraction of units (columns:
  everything but the batch axis 0) whose pre-activation is ≤ 0 for *every*
  sample of the batch. For ReLU such a unit outputs 0 and gets gradient 0 for
  that whole batch; if it stays so on every batch it never learns again (a dead
  ReLU). The leaky variants count the same units but still pass a small gradient
  (slope a, or α·eˣ for ELU and SELU), so their units can come back.
* **Update ratio**: ``before_step`` copies each tracked weight, ``after_step``
  computes ``‖w_after − w_before‖₂ / ‖w_before‖₂``. For plain SGD this is
  ``lr·‖g‖/‖w‖``. Far above 1e-3 the learning rate is probably too high, far
  below it too low (CS231n's rule of thumb).

Cheap when off: ``Monitor(model, enabled=False)`` (or ``monitor.enabled = False``)
installs no hooks at all, and ``before_step``/``after_step``/``record`` return at
once. Statistics are computed on the parameters' device and only the final
numbers are copied to the host (``.item()``), so this works on the GPU too.

The module also holds two small helpers the experiments share:
:func:`layer_grad_norms` (one gradient norm per weight matrix, right now) and
:func:`format_table` (a plain-text table).

**Sanity checks** (the lecture notes' "why doesn't it converge?"), each returning a
:class:`CheckResult` (passed, value, expected, a one-line diagnosis)::

    check_initial_loss(model, loss_fn, X, y)          loss at initialisation ≈ ln C?
    overfit_small_batch(model, loss_fn, opt, X, y)    can it memorise 20 samples?
    check_update_ratios(monitor)                      ‖Δw‖/‖w‖ per layer about 1e-3?
    check_learning_curves(train_losses, val_losses)   diverged / stalled / oscillating /
                                                      overfitting / ok

and :func:`lr_range_test` (loss while the learning rate grows geometrically, with a
suggested rate; ``tinygrad-opt lr-find`` (tinygrad_opt/cli/lr_find.py) runs it on the
digits MLP).
examples/why_not_converging.py shows which check catches which cause.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections import OrderedDict
from typing import Iterable, Sequence

import numpy as np  # host-side: the recorded results are plain NumPy arrays

from tinygrad_opt import backend
from tinygrad_opt.nn.activation import ELU, PReLU, ReLU, RReLU, LeakyReLU, SELU, Sigmoid, Tanh
from tinygrad_opt.nn.module import Module, snapshot

__all__ = ["Monitor", "layer_grad_norms", "format_table", "SATURATION_THRESHOLDS",
           "CheckResult", "check_initial_loss", "overfit_small_batch", "check_update_ratios",
           "check_learning_curves", "lr_range_test", "plot_lr_range_test"]

# |pre-activation| beyond which a unit counts as saturated (derivative < 7% of its max)
SATURATION_THRESHOLDS = {"Sigmoid": 4.0, "Tanh": 2.0}

_SATURATING = (Sigmoid, Tanh)
_RECTIFIERS = (ReLU, LeakyReLU, PReLU, RReLU, ELU, SELU)

# the per-step quantities, in table order: (attribute, table header)
_PARAMETER_FIELDS = (("grad_norms", "|grad|"), ("weight_norms", "|w|"),
                     ("update_ratios", "|dw|/|w|"))
_ACTIVATION_FIELDS = (("activation_means", "mean"), ("activation_stds", "std"),
                      ("saturated_fractions", "saturated"), ("dead_fractions", "dead"))


def _norm(array) -> float:
    """‖a‖₂ of a backend array (any device), accumulated in float64, as a Python float."""
    wide = array.astype(backend.float64)   # before squaring: float32 squares overflow at 1.8e19
    return math.sqrt((wide * wide).sum().item())


def layer_grad_norms(model: Module) -> "OrderedDict[str, float]":
    """``{name: ‖∂L/∂W‖₂}`` for every weight matrix (parameters with ndim ≥ 2), in order.

    Call it after ``loss.backward()``. A parameter without a gradient gives NaN.
    The first entry is the layer nearest the input: a deep sigmoid net shows
    the first norms orders of magnitude below the last (vanishing gradients).
    """
    norms = OrderedDict()
    for name, param in model.named_parameters():
        if param.ndim >= 2:
            norms[name] = math.nan if param.grad is None else _norm(param.grad.data)
    return norms


class Monitor:
    """Record per-layer gradient, weight, update and activation statistics of a model.

    Args:
        model: the Module to watch.
        parameters: names of the parameters to track (``model.named_parameters()``
            names); default: every parameter with ``ndim >= 2``.
        saturation_thresholds: ``{'Sigmoid': 4.0, 'Tanh': 2.0}`` overrides, keyed by
            class name.
        enabled: ``False`` installs no hooks and makes every method a no-op until
            ``monitor.enabled = True``.

    After each step (``step``, ``after_step`` or ``record``) one row is appended to
    each of: ``grad_norms``, ``weight_norms``, ``update_ratios`` (arrays of shape
    ``(steps, len(param_names))``) and ``activation_means``, ``activation_stds``,
    ``saturated_fractions``, ``dead_fractions`` (``(steps, len(activation_names))``).
    A value that does not apply (saturation of a ReLU, the update ratio of
    ``record()``, an activation not run during the step, the activation statistics
    of an empty batch) is NaN.
    """

    def __init__(self, model: Module, parameters: Sequence[str] | None = None,
                 saturation_thresholds: dict | None = None, enabled: bool = True):
        self.model = model
        named = OrderedDict(model.named_parameters())
        if parameters is None:
            parameters = [name for name, p in named.items() if p.ndim >= 2]
        unknown = [name for name in parameters if name not in named]
        if unknown:
            raise KeyError(f"Monitor: no parameter named {unknown}; "
                           f"the model has {list(named)}")
        self.param_names = list(parameters)
        self._params = [named[name] for name in self.param_names]
        self.thresholds = dict(SATURATION_THRESHOLDS)
        self.thresholds.update(saturation_thresholds or {})
        self._activation_modules = OrderedDict(
            (name, module) for name, module in model.named_modules()
            if isinstance(module, _SATURATING + _RECTIFIERS))
        self.activation_names = list(self._activation_modules)
        self.activation_kinds = [type(m).__name__ for m in self._activation_modules.values()]
        self.steps: list[int] = []
        self._rows = {field: [] for field, _ in _PARAMETER_FIELDS + _ACTIVATION_FIELDS}
        self._handles = []
        self._latest_activations = {}   # name -> (mean, std, saturated, dead), this step
        self._pending = None            # (grad norms, weight norms, weight copies)
        self._step = 0
        self._enabled = False
        self.enabled = enabled

    # ----------------------------------------------------------- on / off

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, flag: bool) -> None:
        """Turning the monitor on installs the forward hooks; off removes them."""
        if flag and not self._enabled:
            for name, module in self._activation_modules.items():
                self._handles.append(module.register_forward_hook(self._make_hook(name)))
        if not flag:
            self.remove()
        self._enabled = bool(flag)

    def remove(self) -> None:
        """Remove every hook this monitor installed (the recorded rows are kept)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._enabled = False
        self._pending = None

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc_info) -> bool:
        self.remove()
        return False

    # ------------------------------------------------- activations (hooks)

    def _make_hook(self, name: str):
        def hook(module, inputs, output):
            if module.training:
                self._latest_activations[name] = self._activation_stats(module, inputs[0],
                                                                         output)
        return hook

    def _activation_stats(self, module, x, output) -> tuple:
        """(mean, std, saturated, dead) of one activation module's forward pass.

        An empty output (a batch of 0 samples, or 0 units) has no statistics: all NaN,
        not "every unit dead". Dead: ``pre <= 0`` on every sample, so a NaN
        pre-activation is not a dead unit (NaN is not <= 0).
        """
        y = output.data.astype(backend.float64)     # (N, units...); float32 squares overflow
        if y.size == 0:
            return (math.nan,) * 4
        mean = y.mean().item()
        std = math.sqrt(max(((y - mean) ** 2).mean().item(), 0.0))
        saturated = dead = math.nan
        pre = x.data                                                   # (N, units...)
        if isinstance(module, _SATURATING):
            threshold = self.thresholds[type(module).__name__]
            saturated = (abs(pre) > threshold).mean(dtype=backend.float64).item()
        if isinstance(module, _RECTIFIERS):
            off_everywhere = (pre <= 0).all(axis=0)                    # (units...)
            dead = off_everywhere.mean(dtype=backend.float64).item()
        return mean, std, saturated, dead

    # ------------------------------------------------ gradients and updates

    def _gradient_stats(self) -> tuple[list, list]:
        grads = [math.nan if p.grad is None else _norm(p.grad.data) for p in self._params]
        weights = [_norm(p.data) for p in self._params]
        return grads, weights

    def before_step(self) -> None:
        """After ``backward``, before ``optimizer.step()``: record gradient and weight
        norms and keep a copy of each tracked weight to measure the update."""
        if not self._enabled:
            return
        grads, weights = self._gradient_stats()
        copies = [p.data.copy() for p in self._params]
        self._pending = (grads, weights, copies)

    def after_step(self) -> None:
        """After ``optimizer.step()``: the update ratios ‖Δw‖/‖w‖; closes the step's row."""
        if not self._enabled:
            return
        if self._pending is None:
            raise RuntimeError("Monitor.after_step: call before_step() before optimizer.step()")
        grads, weights, copies = self._pending
        ratios = []
        for param, before, norm in zip(self._params, copies, weights):
            change = _norm(param.data - before)                        # ‖w_after − w_before‖
            ratios.append(change / norm if norm > 0 else math.nan)
        self._pending = None
        self._commit(grads, weights, ratios)

    def step(self, optimizer, closure=None):
        """``before_step(); loss = optimizer.step(closure); after_step()``; returns loss."""
        self.before_step()
        loss = optimizer.step(closure) if closure is not None else optimizer.step()
        self.after_step()
        return loss

    def record(self) -> None:
        """Close a row without an update (update ratio NaN): e.g. after the first
        ``backward`` at initialisation, to see the gradients before any training."""
        if not self._enabled:
            return
        grads, weights = self._gradient_stats()
        self._commit(grads, weights, [math.nan] * len(self._params))

    def _commit(self, grads: list, weights: list, ratios: list) -> None:
        self._rows["grad_norms"].append(grads)
        self._rows["weight_norms"].append(weights)
        self._rows["update_ratios"].append(ratios)
        missing = (math.nan,) * 4
        stats = [self._latest_activations.get(name, missing) for name in self.activation_names]
        for index, (field, _) in enumerate(_ACTIVATION_FIELDS):
            self._rows[field].append([row[index] for row in stats])
        self._latest_activations = {}
        self.steps.append(self._step)
        self._step += 1

    # ------------------------------------------------------------ results

    def _array(self, field: str, width: int) -> np.ndarray:
        rows = self._rows[field]
        return np.array(rows, dtype=np.float64).reshape(len(rows), width)   # (steps, width)

    @property
    def grad_norms(self) -> np.ndarray:
        """(steps, parameters): ‖∂L/∂W‖₂ at each step."""
        return self._array("grad_norms", len(self.param_names))

    @property
    def weight_norms(self) -> np.ndarray:
        """(steps, parameters): ‖W‖₂ before each step's update."""
        return self._array("weight_norms", len(self.param_names))

    @property
    def update_ratios(self) -> np.ndarray:
        """(steps, parameters): ‖ΔW‖₂ / ‖W‖₂ of each step's update (NaN for ``record``)."""
        return self._array("update_ratios", len(self.param_names))

    @property
    def activation_means(self) -> np.ndarray:
        """(steps, activations): mean of each activation's output."""
        return self._array("activation_means", len(self.activation_names))

    @property
    def activation_stds(self) -> np.ndarray:
        """(steps, activations): standard deviation (population) of each output."""
        return self._array("activation_stds", len(self.activation_names))

    @property
    def saturated_fractions(self) -> np.ndarray:
        """(steps, activations): fraction of saturated inputs (NaN for non-sigmoid/tanh)."""
        return self._array("saturated_fractions", len(self.activation_names))

    @property
    def dead_fractions(self) -> np.ndarray:
        """(steps, activations): fraction of units off on the whole batch (NaN for
        non-rectifiers)."""
        return self._array("dead_fractions", len(self.activation_names))

    def as_dict(self) -> dict:
        """Every recorded quantity as ``{name: array}``, plus the names and step numbers."""
        result = {field: getattr(self, field)
                  for field, _ in _PARAMETER_FIELDS + _ACTIVATION_FIELDS}
        result["steps"] = np.array(self.steps, dtype=np.int64)
        result["param_names"] = list(self.param_names)
        result["activation_names"] = list(self.activation_names)
        return result

    def table(self, step: int = -1) -> str:
        """A printable table of one recorded step (default: the last): one row per
        tracked weight, then one row per activation module."""
        if not self.steps:
            return "Monitor: nothing recorded yet (call step(), after_step() or record())"
        index = range(len(self.steps))[step]
        rows = [[name] + [getattr(self, field)[index, column] for field, _ in _PARAMETER_FIELDS]
                for column, name in enumerate(self.param_names)]
        text = f"step {self.steps[index]}\n"
        text += format_table(["weight"] + [header for _, header in _PARAMETER_FIELDS], rows)
        if self.activation_names:
            rows = [[name, kind] + [getattr(self, field)[index, column]
                                    for field, _ in _ACTIVATION_FIELDS]
                    for column, (name, kind) in enumerate(zip(self.activation_names,
                                                              self.activation_kinds))]
            headers = ["activation", "kind"] + [header for _, header in _ACTIVATION_FIELDS]
            text += "\n" + format_table(headers, rows)
        return text

    def __repr__(self) -> str:
        return (f"Monitor({len(self.param_names)} weights, {len(self.activation_names)} "
                f"activations, {len(self.steps)} steps, enabled={self._enabled})")


def _cell(value) -> str:
    """Numbers as 4 significant digits (``-`` for NaN), everything else as str."""
    if isinstance(value, (float, np.floating)):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def format_table(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A plain-text table: a header line, a rule, one line per row; numbers as ``%.4g``.

    >>> print(format_table(["layer", "norm"], [["0.weight", 0.00123]]))
    layer     norm
    --------  -------
    0.weight  0.00123
    """
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(str(header))] + [len(row[column]) for row in cells])
              for column, header in enumerate(headers)]
    lines = ["  ".join(str(header).ljust(width) for header, width in zip(headers, widths)),
             "  ".join("-" * width for width in widths)]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


# ------------------------------------------------------------------ sanity checks
#
# The lecture notes' checks for a network that will not train ("why doesn't my model
# converge?"), each a function that returns a CheckResult: whether it passed, the measured
# value, what was expected, and a sentence saying what a failure usually means.

@dataclasses.dataclass
class CheckResult:
    """The outcome of one sanity check; ``str(result)`` is a one-line report."""

    name: str
    passed: bool
    value: float
    expected: str
    message: str
    details: dict = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return f"[{'ok' if self.passed else 'FAIL'}] {self.name}: {self.message}"


def _as_tensor(values, device: str):
    """A Tensor on ``device`` from a Tensor or a host array."""
    from tinygrad_opt.tensor import Tensor
    if isinstance(values, Tensor):
        return values.to(device)
    return Tensor(values, device=device)


def _device_of(model: Module) -> str:
    return next(iter(model.parameters())).device


def _checked_inputs(X, device: str, caller: str):
    """``X`` as a Tensor on ``device``; ValueError when it is empty or not finite (the
    checks would otherwise blame the initialisation or the learning rate for it)."""
    x = _as_tensor(X, device)
    if x.numel() == 0:
        raise ValueError(f"{caller}: X is empty (shape {tuple(x.shape)}): need samples")
    if not bool(x.isfinite().all().item()):
        raise ValueError(f"{caller}: X holds values that are not finite (NaN or inf)")
    return x


def check_initial_loss(model: Module, loss_fn, X, y, num_classes: int | None = None,
                       rtol: float = 0.1) -> CheckResult:
    """Is the loss of the untrained model ln C (C classes)?

    A freshly initialised classifier should be unsure: its softmax close to uniform,
    so its cross-entropy close to ``ln C`` (2.303 for 10 classes). Much more means the
    initial logits are large (weights too big, inputs not normalised); much less means
    the model is confident before it has learned anything (labels leaking into the
    inputs, a bug in the loss). Passes when ``|loss − ln C| <= rtol·ln C``. Runs one
    forward pass under ``no_grad`` in the model's current mode; ``C`` is the width of
    the model's output unless given.
    """
    from tinygrad_opt.autograd.grad_mode import no_grad
    if not rtol >= 0:
        raise ValueError(f"check_initial_loss: rtol must be >= 0, got {rtol}")
    if num_classes is not None and not num_classes >= 2:   # ln 1 = 0: nothing to compare
        raise ValueError(f"check_initial_loss: num_classes must be >= 2, got {num_classes}")
    device = _device_of(model)
    x = _checked_inputs(X, device, "check_initial_loss")
    with no_grad():
        logits = model(x)                                                # (N, C)
        loss = float(loss_fn(logits, _as_tensor(y, device)).item())
    classes = logits.shape[-1] if num_classes is None else num_classes
    if classes < 2:
        raise ValueError(f"check_initial_loss: the model's output has width {classes}, "
                         "so C < 2 and ln C says nothing: pass num_classes (2 for the one "
                         "logit of a binary classifier)")
    expected = math.log(classes)
    passed = abs(loss - expected) <= rtol * expected
    if passed:
        message = f"loss at initialisation {loss:.4g} ≈ ln {classes} = {expected:.4g}"
    elif not math.isfinite(loss) or loss > expected:
        message = (f"loss at initialisation {loss:.4g} is {loss / expected:.3g} × ln {classes}"
                   f" = {expected:.4g}: the initial logits are too large (inputs not "
                   "normalised? weights initialised too big?)")
    else:
        message = (f"loss at initialisation {loss:.4g} is below ln {classes} = "
                   f"{expected:.4g}: confident before training (labels leaking into the "
                   "inputs? a bug in the loss?)")
    return CheckResult("initial loss", passed, loss, f"ln {classes} = {expected:.4g}", message)


def overfit_small_batch(model: Module, loss_fn, optimizer, X, y, steps: int = 200,
                        target_loss: float = 0.01) -> CheckResult:
    """Can the model drive the loss on a handful of samples to about 0?

    Trains ``model`` in place with ``optimizer`` on the one fixed batch ``(X, y)`` for
    ``steps`` steps (pass a fresh model and optimizer: this is a check, not training).
    A network that cannot memorise 20 examples has a bug, a learning rate far off, or
    too little capacity; one that can is at least able to learn. Passes when the final
    loss is at most ``target_loss``. ``details['losses']`` holds the loss of every step.
    """
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"overfit_small_batch: steps must be an integer >= 1, got {steps!r}")
    if math.isnan(target_loss):
        raise ValueError("overfit_small_batch: target_loss is NaN (no loss is <= NaN)")
    device = _device_of(model)
    x = _checked_inputs(X, device, "overfit_small_batch")
    target = _as_tensor(y, device)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
        if not math.isfinite(losses[-1]):
            break
    final = losses[-1] if losses else math.nan
    passed = math.isfinite(final) and final <= target_loss
    size = x.shape[0]
    if passed:
        message = f"loss {losses[0]:.4g} -> {final:.3g} on {size} samples in {len(losses)} steps"
    elif not math.isfinite(final):
        message = (f"the loss became {final} after {len(losses)} steps on {size} samples: "
                   "the learning rate is too high")
    else:
        message = (f"loss {losses[0]:.4g} -> {final:.3g} on {size} samples after {steps} "
                   f"steps, not <= {target_loss:g}: a learning rate far off, a bug, or too "
                   "small a model")
    return CheckResult("overfit a small batch", passed, final, f"<= {target_loss:g}", message,
                       {"losses": losses})


def check_update_ratios(monitor: Monitor, low: float = 1e-4, high: float = 1e-2) -> CheckResult:
    """Are the per-layer update-to-weight ratios ‖Δw‖/‖w‖ near 1e-3?

    Uses the ratios a :class:`Monitor` recorded (median over its steps, per layer).
    CS231n's rule of thumb: about 1e-3. Passes when every layer's median lies in
    ``[low, high]``; above it the learning rate is probably too high, below it too low.
    ``value`` is the median over all layers; ``details['ratios']`` is ``{layer: median}``.
    """
    ratios = monitor.update_ratios                                       # (steps, layers)
    medians = {}
    for column, name in enumerate(monitor.param_names):
        values = ratios[:, column]
        values = values[np.isfinite(values)]
        medians[name] = float(np.median(values)) if values.size else math.nan
    finite = [value for value in medians.values() if math.isfinite(value)]
    overall = float(np.median(finite)) if finite else math.nan
    too_high = [name for name, value in medians.items() if value > high]
    too_low = [name for name, value in medians.items() if value < low]
    unknown = [name for name, value in medians.items() if not math.isfinite(value)]
    passed = bool(finite) and not (too_high or too_low or unknown)
    if passed:
        message = f"median |dw|/|w| {overall:.2g}, every layer within [{low:g}, {high:g}]"
    elif too_high:
        message = (f"|dw|/|w| above {high:g} in {', '.join(too_high)} (median {overall:.2g}): "
                   "the learning rate is probably too high")
    elif too_low:
        message = (f"|dw|/|w| below {low:g} in {', '.join(too_low)} (median {overall:.2g}): "
                   "the learning rate is probably too low")
    else:
        message = f"no finite update ratio for {', '.join(unknown)} (diverged, or no steps)"
    return CheckResult("update/weight ratio", passed, overall, f"about 1e-3 ([{low:g}, {high:g}])",
                       message, {"ratios": medians})


def check_learning_curves(train_losses: Sequence[float],
                          val_losses: Sequence[float] | None = None) -> CheckResult:
    """Read the learning curves (one loss per epoch) the way the notes do.

    In order, the first that applies: **diverged** (a non-finite loss, or the last
    training loss above the first); **stalled** (the training loss fell by less than
    10% of its first value); **oscillating** (it rose in more than a third of the
    epochs, of four or more); **overfitting** (the validation loss ended over 10% above
    its minimum, reached more than two epochs before the end, while the training loss kept
    falling); else **ok**. ``value`` is the last training loss. ``val_losses``, if given,
    has one loss per epoch too.
    """
    train = [float(value) for value in train_losses]
    val = None if val_losses is None else [float(value) for value in val_losses]
    if not train:
        raise ValueError("check_learning_curves: train_losses is empty (one loss per epoch)")
    if val is not None and len(val) != len(train):
        raise ValueError(f"check_learning_curves: {len(train)} train_losses but {len(val)} "
                         "val_losses (one of each per epoch)")
    last = train[-1] if train else math.nan
    rises = sum(later > earlier for earlier, later in zip(train, train[1:]))
    verdict, message = "ok", "the training loss falls steadily"
    if not train or not all(math.isfinite(value) for value in train + (val or [])):
        verdict, message = "diverged", "the loss became inf or NaN: the learning rate is too high"
    elif last > train[0]:
        verdict, message = "diverged", (f"the training loss rose from {train[0]:.4g} to "
                                        f"{last:.4g}: the learning rate is too high")
    elif train[0] - last < 0.1 * train[0]:
        verdict, message = "stalled", (f"the training loss barely moved ({train[0]:.4g} -> "
                                       f"{last:.4g}): the learning rate is too low, or the "
                                       "gradients vanish")
    elif len(train) > 3 and rises > (len(train) - 1) / 3:
        verdict, message = "oscillating", (f"the training loss rose in {rises} of "
                                           f"{len(train) - 1} epochs: the learning rate is "
                                           "probably too high")
    elif val and len(val) > 3:
        best = int(np.argmin(val))
        if best < len(val) - 3 and val[-1] > 1.1 * val[best] and train[-1] < train[best]:
            verdict, message = "overfitting", (f"the validation loss was lowest at epoch "
                                               f"{best + 1} ({val[best]:.4g}) and ended at "
                                               f"{val[-1]:.4g} while the training loss kept "
                                               "falling: regularise, stop early, get more "
                                               "(or cleaner) data")
    passed = verdict == "ok"
    return CheckResult("learning curves", passed, last, "falling, no val rise", message,
                       {"verdict": verdict})


def lr_range_test(model: Module, loss_fn, optimizer_cls, loader, lr_min: float = 1e-7,
                  lr_max: float = 10.0, steps: int = 100, smoothing: float = 0.98,
                  divergence: float = 4.0, **optimizer_kwargs):
    """The learning-rate range test (Smith, 2017): returns ``(lrs, losses, suggested_lr)``.

    Trains ``model`` for up to ``steps`` mini-batches from ``loader`` (cycled as needed)
    while the learning rate grows geometrically from ``lr_min`` to ``lr_max``::

        lr_i = lr_min · (lr_max / lr_min)^t = lr_min^(1 − t) · lr_max^t,   t = i / (steps − 1)

    and records the loss of every step, smoothed as an exponential moving average
    with bias correction (``smoothing`` is its β). It stops early once the smoothed loss
    exceeds ``divergence`` times its minimum so far. The model's weights are restored
    afterwards, so the test leaves the model as it found it. A loss that is not finite at
    the first step (before any update) is a ValueError: no rate can be suggested from it.

    Suggested rate: the rate at the minimum of the smoothed loss divided by 10: the
    loss still falls fast there, safely below the rates where it turns and diverges.
    ``optimizer_cls(params, lr=..., **optimizer_kwargs)`` builds the optimizer (a class
    such as ``optim.SGD`` or any function with that signature).
    """
    if not 0 < lr_min < lr_max < math.inf:
        raise ValueError(f"lr_range_test: need 0 < lr_min < lr_max < inf, got {lr_min}, "
                         f"{lr_max}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 2:
        raise ValueError(f"lr_range_test: steps must be an integer >= 2, got {steps!r}")
    if not 0 <= smoothing < 1:      # β = 1 would never move the average (and 1 − β^t = 0)
        raise ValueError(f"lr_range_test: smoothing (the moving average's β) must lie in "
                         f"[0, 1), got {smoothing}")
    if not divergence > 1:
        raise ValueError(f"lr_range_test: divergence must be > 1 (a factor over the lowest "
                         f"smoothed loss), got {divergence}")
    saved = snapshot(model)  # (the weights as they were, restored at the end)
    optimizer = optimizer_cls(model.parameters(), lr=lr_min, **optimizer_kwargs)
    lrs, losses = [], []
    average, best = 0.0, math.inf
    batches = iter(loader)
    try:
        for step in range(steps):
            t = step / (steps - 1)
            lr = lr_min ** (1 - t) * lr_max ** t     # lr_max / lr_min itself may overflow
            for group in optimizer.param_groups:
                group["lr"] = lr
            try:
                x, y = next(batches)
            except StopIteration:
                batches = iter(loader)
                x, y = next(batches, (None, None))
                if x is None and step == 0:
                    raise ValueError("lr_range_test: the loader gave no batch") from None
                if x is None:
                    raise ValueError(f"lr_range_test: the loader gave no batch when iterated "
                                     f"again after {step} batches (a one-shot iterator?): "
                                     "pass one that can be cycled (a DataLoader, a list) or "
                                     "fewer steps") from None
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            value = float(loss.item())
            if step == 0 and not math.isfinite(value):   # before any update: not the rate
                raise ValueError(f"lr_range_test: the loss of the first batch is not finite "
                                 f"({value}) before any update: check the inputs and the "
                                 "model")
            average = smoothing * average + (1 - smoothing) * value
            smoothed = average / (1 - smoothing ** (step + 1))             # bias-corrected
            lrs.append(lr)
            losses.append(smoothed)
            if not math.isfinite(smoothed) or smoothed > divergence * best:
                break
            best = min(best, smoothed)
    finally:
        model.load_state_dict(saved)
    finite = [index for index, value in enumerate(losses) if math.isfinite(value)]
    lowest = min(finite, key=lambda index: losses[index]) if finite else 0
    return lrs, losses, lrs[lowest] / 10


def plot_lr_range_test(lrs, losses, suggested_lr: float, path: str,
                       title: str | None = None) -> str:
    """Loss against learning rate (log scale) with the suggested rate marked; writes a PNG.
    RuntimeError with the install hint without matplotlib."""
    from tinygrad_opt import viz
    if not viz.matplotlib_available():
        raise RuntimeError(viz.PLOT_HINT)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    finite = [(lr, loss) for lr, loss in zip(lrs, losses) if math.isfinite(loss)]
    axes.plot([lr for lr, _ in finite], [loss for _, loss in finite], label="smoothed loss")
    axes.axvline(suggested_lr, color="tab:red", linestyle="--",
                 label=f"suggested lr {suggested_lr:.2g}")
    axes.set_xscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("training loss (smoothed)")
    if finite:
        low = min(loss for _, loss in finite)
        axes.set_ylim(top=max(finite[0][1], low) * 1.5, bottom=low * 0.9 if low > 0 else None)
    axes.legend()
    axes.grid(alpha=0.3)
    axes.set_title(title or "learning-rate range test")
    figure.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
