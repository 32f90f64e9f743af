"""The training workflow: ``fit``, ``evaluate``, ``History`` and ``EarlyStopping``.

``fit`` is the loop every deep-learning course writes by hand, written once and
read top to bottom (nanoGPT style)::

    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()             # forget last step's gradients
            output = model(x)                 # forward
            loss = loss_fn(output, y)
            loss.backward()                   # backward: fills p.grad for every parameter
            clip_grad_norm_(params, max_norm) # optional: ||g|| ≤ max_norm
            optimizer.step()                  # the update rule
            scheduler.step()                  # optional: per-batch schedules (warm-up)
        evaluate(model, val_loader)           # eval mode, no graph
        scheduler.step()                      # per-epoch schedules (ReduceLROnPlateau: val loss)
        early_stopping.step(val_loss, model)  # stop when the monitored value stops improving

Nothing here is hidden state: the model, the optimizer, the scheduler and the
loaders are the user's objects, and ``fit`` only calls their public methods.
Use it, or copy the loop into your own script and change it.

Conventions:

* epochs are numbered from 0 (``History.epoch``, ``best_epoch``, the
  ``epoch`` argument of callbacks); printed summaries count from 1;
* ``loss_fn`` is expected to return the *mean* loss of a batch (the default
  ``reduction='mean'``); the epoch loss is the sample-weighted mean of the
  batch losses, i.e. the mean over all samples of the epoch;
* metrics are computed once per epoch on all outputs of the epoch (not
  averaged over batches, which would be wrong for F1 or G-mean); training
  metrics use the outputs of the training passes (training mode, weights
  changing during the epoch), validation metrics a separate pass in eval mode.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Callable, Iterable, Sequence

from tqdm.auto import tqdm

from tinygrad_opt import metrics as metric_functions
from tinygrad_opt.autograd.grad_mode import no_grad
from tinygrad_opt.nn.module import snapshot
from tinygrad_opt.nn.utils import clip_grad_norm_
from tinygrad_opt.ops.shape import cat
from tinygrad_opt.optim.lr_scheduler import ReduceLROnPlateau

__all__ = ["fit", "evaluate", "eval_mode", "History", "EarlyStopping", "get_metric",
           "format_epoch"]


# --- metrics by name -----------------------------------------------------------

def _f1(average: str) -> Callable:
    def f1(y_true, y_pred) -> float:
        return metric_functions.precision_recall_f1(y_true, y_pred, average=average)[2]
    return f1


def _precision(average: str) -> Callable:
    def precision(y_true, y_pred) -> float:
        return metric_functions.precision_recall_f1(y_true, y_pred, average=average)[0]
    return precision


def _recall(average: str) -> Callable:
    def recall(y_true, y_pred) -> float:
        return metric_functions.precision_recall_f1(y_true, y_pred, average=average)[1]
    return recall


def _roc_auc(y_true, y_score) -> float:
    """ROC AUC from the model's outputs: the score of class 1 for ``(N, 2)`` outputs."""
    scores = y_score.numpy() if hasattr(y_score, "numpy") else y_score
    if scores.ndim == 2 and scores.shape[1] == 2:
        scores = scores[:, 1] - scores[:, 0]        # log-odds of class 1 for logits
    elif scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    return metric_functions.roc_auc(y_true, scores)


METRICS: dict[str, Callable] = {
    "accuracy": metric_functions.accuracy,
    "g_mean": metric_functions.g_mean,
    "roc_auc": _roc_auc,
    "f1": _f1("binary"),
    "precision": _precision("binary"),
    "recall": _recall("binary"),
}
for _average in ("macro", "micro", "weighted"):
    METRICS[f"f1_{_average}"] = _f1(_average)
    METRICS[f"precision_{_average}"] = _precision(_average)
    METRICS[f"recall_{_average}"] = _recall(_average)


def get_metric(metric) -> tuple[str, Callable]:
    """``(name, function)`` for a metric name from :data:`METRICS` or a callable.

    A metric function is called as ``function(y_true, outputs)`` with the labels
    and the model's raw outputs of a whole epoch (``(N, C)`` scores are
    arg-maxed by the functions of :mod:`tinygrad_opt.metrics`) and returns a
    float. A callable is named by its ``__name__``.
    """
    if callable(metric):
        return getattr(metric, "__name__", type(metric).__name__), metric
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: expected a callable or one of "
                         + ", ".join(sorted(METRICS)))
    return metric, METRICS[metric]


def _compute_metrics(named_metrics, targets: list, outputs: list, prefix: str) -> dict:
    """Each metric on the concatenated targets and outputs of an epoch."""
    if not named_metrics or not outputs:
        return {}
    with no_grad():
        y_true = cat(targets, 0).numpy()            # (N,)
        y_pred = cat(outputs, 0).numpy()            # (N, C)
    return {prefix + name: float(function(y_true, y_pred)) for name, function in named_metrics}


# --- evaluation ------------------------------------------------------------------

@contextmanager
def eval_mode(model):
    """Run a block with ``model`` and all its sub-modules in eval mode, then put *each*
    module back in the mode it had, not the model's: a BatchNorm frozen in eval mode
    inside a training model stays frozen (``model.train(was_training)`` would not)."""
    modules = list(model.modules()) if hasattr(model, "modules") else [model]
    modes = [(module, getattr(module, "training", False)) for module in modules]
    if hasattr(model, "eval"):
        model.eval()
    try:
        yield model
    finally:
        for module, was_training in modes:
            if hasattr(model, "modules"):
                module.training = was_training      # this module only, not its children
            elif hasattr(module, "train"):
                module.train(was_training)


def _unpack(batch, where: str):
    """``(x, y)`` of one batch, or a TypeError saying what the loader yielded instead."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch
    what = (f"a {type(batch).__name__} of {len(batch)} items"
            if isinstance(batch, (tuple, list)) else f"a {type(batch).__name__}")
    raise TypeError(f"{where}: each batch must be a pair (x, y), but the loader yielded "
                    f"{what}; wrap the loader or give the DataLoader a collate_fn that returns "
                    "(inputs, targets)")


def evaluate(model, loader, metrics: Sequence = ("accuracy",), loss_fn=None) -> dict:
    """Loss and metrics of ``model`` on every batch of ``loader``, in eval mode.

    Runs under ``no_grad`` (no graph is recorded) with ``model.eval()``
    (Dropout off, BatchNorm on running statistics) and puts the model and each
    of its sub-modules back in the mode it was in (:func:`eval_mode`). Returns
    ``{'loss': ..., 'accuracy': ...}``: ``'loss'`` only when ``loss_fn`` is given
    (the mean over samples, from mean batch losses), one entry per metric.
    """
    named_metrics = [get_metric(metric) for metric in metrics]
    total_loss = 0.0
    count = 0
    targets, outputs = [], []
    with eval_mode(model), no_grad():
        for batch in loader:
            x, y = _unpack(batch, "evaluate")
            output = model(x)
            if loss_fn is not None:
                total_loss += loss_fn(output, y).item() * len(y)
            count += len(y)
            targets.append(y)
            outputs.append(output)
    if count == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    results = {}
    if loss_fn is not None:
        results["loss"] = total_loss / count
    results.update(_compute_metrics(named_metrics, targets, outputs, prefix=""))
    return results


# --- history ---------------------------------------------------------------------

class History:
    """What happened in each epoch of :func:`fit`: one list per quantity.

    Keys (and attributes of the same name): ``epoch`` (0, 1, ...),
    ``train_loss``, ``train_<metric>`` (e.g. ``train_accuracy``), ``lr`` (the
    learning rate of the first parameter group at the start of the epoch) and,
    with a validation loader, ``val_loss`` and ``val_<metric>``::

        history = fit(...)
        history["val_accuracy"][-1]     # or history.val_accuracy[-1]
        history.best_epoch              # index of the best epoch

    ``best_epoch`` is the epoch with the best monitored value: the early
    stopping monitor if there was one, else the lowest ``val_loss`` (or
    ``train_loss`` without validation). It ignores ``min_delta``, so it can be later
    than ``EarlyStopping.best_epoch`` (the last improvement by more than
    ``min_delta``, whose weights ``restore_best`` puts back). ``stopped_epoch`` is the
    epoch after which early stopping or a callback ended training, or None.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min"):
        self.history: dict[str, list] = {}
        self.monitor = monitor
        self.mode = mode
        self.stopped_epoch: int | None = None

    def append(self, logs: dict) -> None:
        """Record one epoch's logs (a dict of numbers)."""
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list:
        if key not in self.history:
            raise KeyError(f"History has no {key!r}; it has {', '.join(self.history) or 'nothing'}")
        return self.history[key]

    def __getattr__(self, name: str):
        history = self.__dict__.get("history", {})
        if name in history:
            return history[name]
        raise AttributeError(f"History has no attribute {name!r}; "
                             f"its keys are {', '.join(history) or 'none'}")

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.history.get("epoch", []))

    def keys(self):
        return self.history.keys()

    def items(self):
        return self.history.items()

    def as_dict(self) -> dict:
        """A plain ``{key: list}`` copy (e.g. to save with ``tg.save``)."""
        return {key: list(values) for key, values in self.history.items()}

    @property
    def best_epoch(self) -> int | None:
        """Index of the epoch with the best monitored value (None before any epoch)."""
        monitor = self.monitor
        if monitor not in self.history and monitor.startswith("val_"):
            monitor = "train_" + monitor[len("val_"):]
        values = self.history.get(monitor)
        if not values:
            return None
        candidates = [index for index, value in enumerate(values) if not math.isnan(value)]
        if not candidates:                              # every value NaN: nothing is best
            return None
        pick = min if self.mode == "min" else max
        return pick(candidates, key=lambda index: values[index])

    def __repr__(self) -> str:
        last = {key: values[-1] for key, values in self.history.items() if values}
        return f"History(epochs={len(self)}, last={last})"


# --- early stopping ------------------------------------------------------------------

class EarlyStopping:
    """Stop training when a monitored value has not improved for ``patience`` epochs.

    With ``best`` the best value so far, an epoch improves when::

        value < best − min_delta     (mode='min', e.g. a loss)
        value > best + min_delta     (mode='max', e.g. an accuracy)

    ``step(value, model)`` records one epoch and returns True when training
    should stop: after ``patience`` consecutive epochs without improvement.
    With ``restore_best`` (and a model passed to ``step``), a copy of the
    weights of the best epoch is kept and :meth:`restore` (called by
    :func:`fit` when training ends) copies it back into the model: the model
    you get is the one that scored best on validation, not the last one.

    This is the notes' "early stopping": the validation error is the estimate
    of the test error, so the epoch where it was lowest is the one to keep.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "min",
                 monitor: str = "val_loss", restore_best: bool = True):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be a non-negative int, "
                             f"got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) \
                or not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = mode
        self.monitor = monitor
        self.restore_best = restore_best
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far (fit calls this when training begins)."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.num_bad_epochs = 0
        self.epoch = -1
        self.stopped_epoch: int | None = None
        self.best_state: dict | None = None

    def is_better(self, value: float) -> bool:
        """Whether ``value`` improves on the best so far by more than ``min_delta``."""
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value, model=None) -> bool:
        """Record one epoch's monitored value; True means: stop now."""
        value = value.item() if hasattr(value, "item") else float(value)
        self.epoch += 1
        if self.is_better(value):
            self.best = value
            self.best_epoch = self.epoch
            self.num_bad_epochs = 0
            if self.restore_best and model is not None:
                self.best_state = snapshot(model)  # (state_dict shares memory: a copy)
            return False
        self.num_bad_epochs += 1
        if self.num_bad_epochs >= self.patience:
            self.stopped_epoch = self.epoch
            return True
        return False

    @property
    def should_stop(self) -> bool:
        return self.stopped_epoch is not None

    def restore(self, model) -> bool:
        """Copy the best epoch's weights back into ``model``; True if there were any."""
        if not self.restore_best or self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor!r}, mode={self.mode!r}, "
                f"patience={self.patience}, min_delta={self.min_delta}, best={self.best}, "
                f"best_epoch={self.best_epoch}, num_bad_epochs={self.num_bad_epochs})")


# --- the loop ---------------------------------------------------------------------------

def format_epoch(epoch: int, epochs: int, logs: dict) -> str:
    """One summary line: ``epoch  3/40  train_loss 0.1234  val_loss 0.1400 ...  lr 0.001``."""
    width = len(str(epochs))
    parts = [f"epoch {epoch + 1:>{width}}/{epochs}"]
    for key, value in logs.items():
        if key == "epoch":
            continue
        parts.append(f"{key} {value:.4g}" if key == "lr" else f"{key} {value:.4f}")
    return "  ".join(parts)


def _call(callbacks: Iterable, hook: str, *args) -> bool:
    """Call ``hook`` on every callback that has it; True if one of them returned True."""
    stop = False
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is None and hook == "on_epoch_end" and callable(callback):
            method = callback  # a plain function(epoch, logs) is an on_epoch_end
        if method is not None and method(*args) is True:
            stop = True
    return stop


def fit(model, optimizer, loss_fn, train_loader, val_loader=None, epochs: int = 1,
        scheduler=None, early_stopping: EarlyStopping | None = None,
        clip_grad_norm: float | None = None, metrics: Sequence = ("accuracy",),
        callbacks: Sequence = (), progress: bool = True,
        scheduler_interval: str = "epoch", distributed: bool = False) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; returns a :class:`History`.

    Args:
        model: an ``nn.Module`` whose output goes into ``loss_fn``.
        optimizer: an optimizer over the model's parameters.
        loss_fn: ``loss_fn(output, y)`` returns the mean loss of the batch.
        train_loader, val_loader: iterables of ``(x, y)`` batches (DataLoaders).
            A training sampler with ``set_epoch`` (a ``DistributedSampler``) is
            told each epoch's number before the pass, so it reshuffles.
        epochs: the number of passes over the training data.
        scheduler: a learning-rate scheduler, stepped once per epoch
            (``scheduler_interval='epoch'``, after validation) or once per batch
            (``'batch'``, after each optimizer step, for warm-up and one-cycle
            schedules). ``ReduceLROnPlateau`` is stepped per epoch with the
            validation loss (the training loss without a validation loader).
        early_stopping: an :class:`EarlyStopping`; it sees its ``monitor`` key
            of the epoch's logs (``'val_loss'`` falls back to ``'train_loss'``
            without validation); when training ends the best weights are
            restored if it says so.
        clip_grad_norm: if given, ``nn.utils.clip_grad_norm_(params, clip_grad_norm)``
            between backward and step.
        metrics: names from :data:`METRICS` (``'accuracy'``, ``'f1_macro'``,
            ``'g_mean'``, ...) or callables ``f(y_true, outputs)``; use ``()``
            for regression.
        callbacks: objects with any of ``on_train_begin(logs)``,
            ``on_epoch_end(epoch, logs)``, ``on_batch_end(batch, logs)``,
            ``on_train_end(logs)``, or plain functions ``f(epoch, logs)``
            (called at each epoch end). An ``on_epoch_end`` that returns True
            stops training.
        progress: show a progress bar per epoch and print one summary line per
            epoch; False prints nothing at all.
        distributed: data-parallel training over MPI, one process per rank
            (``mpirun -n P``; :mod:`tinygrad_opt.distributed`): rank 0's weights
            are broadcast first, the gradients are averaged over the ranks after
            each backward (one all-reduce per step), ``train_loader`` must draw
            from a ``DistributedSampler`` (each rank its shard; its ``set_epoch``
            is called per epoch), the epoch's loss and metrics cover every
            rank's examples, rank 0's logs drive schedulers, early stopping and
            callbacks' stop on every rank, and only rank 0 shows progress.
            BatchNorm statistics stay per rank.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', "
                         f"got {scheduler_interval!r}")
    plateau = isinstance(scheduler, ReduceLROnPlateau)
    if plateau and scheduler_interval == "batch":
        raise ValueError("fit: ReduceLROnPlateau reacts to the epoch's loss; "
                         "use scheduler_interval='epoch'")
    named_metrics = [get_metric(metric) for metric in metrics]
    callbacks = list(callbacks)
    batch_callbacks = [callback for callback in callbacks if hasattr(callback, "on_batch_end")]
    history = History()
    if early_stopping is not None:
        early_stopping.reset()
        history.monitor, history.mode = early_stopping.monitor, early_stopping.mode
    parameters = list(model.parameters())
    sampler = getattr(train_loader, "sampler", None)
    if distributed:
        from tinygrad_opt import distributed as dist
        if dist.world_size() > 1 and not isinstance(sampler, dist.DistributedSampler):
            raise ValueError("fit(distributed=True): train_loader must draw from a "
                             "DistributedSampler (each rank its own shard), got sampler="
                             f"{type(sampler).__name__}")
        dist.broadcast_parameters(model)            # every rank starts from rank 0's weights
        progress = progress and dist.rank() == 0
    _call(callbacks, "on_train_begin", {})

    for epoch in range(epochs):
        logs = {"epoch": epoch}
        lr = optimizer.param_groups[0]["lr"]
        # ---- train: one pass over the training data
        model.train()
        if hasattr(sampler, "set_epoch"):
            # a DistributedSampler repeats its epoch until told (PyTorch's rule): this epoch's
            # permutation, the same on every rank
            sampler.set_epoch(epoch)
        total_loss = 0.0
        count = 0
        targets, outputs = [], []
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{epochs}", leave=False,
                   disable=not progress, dynamic_ncols=True)
        for batch, pair in enumerate(bar):
            x, y = _unpack(pair, "fit")
            optimizer.zero_grad()
            output = model(x)
            loss = loss_fn(output, y)
            loss.backward()
            if distributed:
                dist.all_reduce_gradients(model)     # g = mean over the ranks: one collective
            if clip_grad_norm is not None:
                clip_grad_norm_(parameters, clip_grad_norm)
            optimizer.step()
            if scheduler is not None and scheduler_interval == "batch":
                scheduler.step()
            # ---- bookkeeping (no graph: the output is detached)
            loss_value = loss.item()
            total_loss += loss_value * len(y)
            count += len(y)
            if named_metrics:
                targets.append(y)
                outputs.append(output.detach())
            if progress:
                bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)
            if batch_callbacks:
                _call(batch_callbacks, "on_batch_end", batch, {"loss": loss_value,
                                                                "batch_size": len(y)})
        bar.close()
        if distributed:  # the epoch over every rank's shard
            total_loss, count, targets, outputs = dist.gather_epoch(total_loss, count,
                                                                    targets, outputs)
        if count == 0:
            raise ValueError("fit: the training loader yielded no samples")
        if not math.isfinite(total_loss):
            raise FloatingPointError(f"fit: the training loss became {total_loss / count} in "
                                     f"epoch {epoch + 1}/{epochs}; lower the learning rate or "
                                     "clip gradients")
        logs["train_loss"] = total_loss / count
        logs.update(_compute_metrics(named_metrics, targets, outputs, prefix="train_"))

        # ---- validate: eval mode, no graph
        if val_loader is not None:
            results = evaluate(model, val_loader, metrics=metrics, loss_fn=loss_fn)
            logs.update({"val_" + key: value for key, value in results.items()})
        logs["lr"] = lr
        if distributed:  # rank 0's logs: every rank's schedule and stopping decide alike
            logs = dist.broadcast(logs)

        # ---- per-epoch schedule
        if scheduler is not None and scheduler_interval == "epoch":
            if plateau:
                scheduler.step(logs.get("val_loss", logs["train_loss"]))
            else:
                scheduler.step()

        history.append(logs)
        if progress:
            tqdm.write(format_epoch(epoch, epochs, logs))
        stop = _call(callbacks, "on_epoch_end", epoch, logs)

        # ---- early stopping
        if early_stopping is not None:
            monitor = early_stopping.monitor
            if monitor not in logs and monitor.startswith("val_") and val_loader is None:
                monitor = "train_" + monitor[len("val_"):]
            if monitor not in logs:
                raise KeyError(f"EarlyStopping monitors {early_stopping.monitor!r}, but the "
                               f"logs have only {', '.join(logs)}")
            if early_stopping.step(logs[monitor], model):
                stop = True
        if distributed:
            stop = dist.broadcast(stop)              # a callback may stop rank 0 only
        if stop:
            history.stopped_epoch = epoch
            break

    if early_stopping is not None:
        early_stopping.restore(model)
    _call(callbacks, "on_train_end", dict(logs))
    return history
