"""Parameter averaging: a running average of the weights seen during training.

The notes' last ensembling trick: while training, keep an average of the
network's weights. The loss surface near a minimum is a bowl and SGD bounces
around its bottom; the average of the bouncing points lies closer to the
centre, so the averaged weights usually have a lower error than the last ones.
Two averages, as in PyTorch's ``torch.optim.swa_utils``::

    mode='mean' (SWA, stochastic weight averaging): after n updates
        w̄_(n+1) = w̄_n + (w − w̄_n) / (n + 1)        = the plain mean of all n+1 w's
    mode='ema' (exponential moving average, "Polyak averaging"):
        w̄ ← δ·w̄ + (1 − δ)·w                          (δ = decay, e.g. 0.999)

The first ``update_parameters`` copies the weights (w̄_1 = w in both modes).

A network with BatchNorm needs one more step: its running mean and variance
were computed for the trained weights, not for the averaged ones.
``update_bn(loader, averaged_model)`` recomputes them with one pass over the
data in train mode.

Usage, with ``SWALR`` annealing the learning rate to a constant for the averaging phase::

    swa_model = AveragedModel(model)                # or mode='ema', decay=0.999
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs)
    swa_scheduler = SWALR(optimizer, swa_lr=0.05)
    for epoch in range(epochs):
        train_one_epoch(model, optimizer)
        if epoch >= swa_start:
            swa_model.update_parameters(model)
            swa_scheduler.step()
        else:
            scheduler.step()
    update_bn(train_loader, swa_model)              # if the model has BatchNorm
    predictions = swa_model(X_test)

PyTorch's averaging functions are here too, for ``AveragedModel(avg_fn=...)`` (one
tensor at a time) and ``AveragedModel(multi_avg_fn=...)`` (lists of tensors, in place):
``get_swa_avg_fn``, ``get_ema_avg_fn``, ``get_swa_multi_avg_fn``, ``get_ema_multi_avg_fn``.
"""

from __future__ import annotations

import copy
import math
from typing import Callable, Iterable, Sequence

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import no_grad
from tinygrad_opt.nn.module import Module
from tinygrad_opt.nn.normalization import _BatchNorm
from tinygrad_opt.optim.lr_scheduler import LRScheduler
from tinygrad_opt.optim.optimizer import Optimizer
from tinygrad_opt.tensor import Tensor


# --- the averaging rules as functions (PyTorch's get_*_avg_fn) ---

def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         "[0,1] range.")


def get_swa_avg_fn() -> Callable:
    """The equal-weight running mean, one tensor at a time (for ``avg_fn=``)::

        swa_update(w̄, w, n) = w̄ + (w − w̄) / (n + 1)      (n = models averaged so far)
    """
    def swa_update(averaged: Tensor, current: Tensor, num_averaged) -> Tensor:
        with no_grad():
            return averaged + (current - averaged) / (num_averaged + 1)   # w̄ + (w − w̄)/(n+1)
    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """The exponential moving average with decay δ, one tensor at a time (for ``avg_fn=``)::

        ema_update(w̄, w, n) = δ·w̄ + (1 − δ)·w
    """
    _check_decay(decay)

    def ema_update(ema: Tensor, current: Tensor, num_averaged) -> Tensor:
        with no_grad():
            return decay * ema + (1 - decay) * current                     # δ·w̄ + (1 − δ)·w
    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """The equal-weight running mean of lists of tensors, in place (for ``multi_avg_fn=``)::

        w̄ ← w̄ + (w − w̄) / (n + 1)      for each pair (w̄, w) of the two lists
    """
    def swa_update(averaged_list: Sequence[Tensor], current_list: Sequence[Tensor],
                   num_averaged) -> None:
        with no_grad():
            for averaged, current in zip(averaged_list, current_list):
                averaged.copy_(averaged + (current - averaged) / (num_averaged + 1))
    return swa_update


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """The exponential moving average of lists of tensors, in place (for ``multi_avg_fn=``)::

        w̄ ← w̄ + (1 − δ)·(w − w̄)      (= δ·w̄ + (1 − δ)·w; PyTorch's lerp)
        w̄ ← δ·w̄ + (1 − δ)·w          (integer tensors, truncated back to integers: PyTorch's)
    """
    _check_decay(decay)

    def ema_update(ema_list: Sequence[Tensor], current_list: Sequence[Tensor],
                   num_averaged) -> None:
        with no_grad():
            for ema, current in zip(ema_list, current_list):
                if backend.is_floating(ema.dtype):
                    ema.copy_(ema + (1 - decay) * (current - ema))
                else:
                    ema.copy_(ema * decay + current * (1 - decay))
    return ema_update


class AveragedModel(Module):
    """A copy of ``model`` whose weights are the running average of ``model``'s.

        mode='mean':  w̄ ← w̄ + (w − w̄) / (n + 1)      (n = ``n_averaged``, before the update)
        mode='ema':   w̄ ← δ·w̄ + (1 − δ)·w             (δ = ``decay``)
        avg_fn:       w̄ ← avg_fn(w̄, w, n)             (one tensor at a time)
        multi_avg_fn: multi_avg_fn([w̄, ...], [w, ...], n) writes each w̄ in place

    Args:
        model: the model being trained; it is deep-copied (its weights at this
            moment do not count in the average: the first ``update_parameters``
            overwrites them).
        device: if given, the copy lives on this device.
        avg_fn: optional ``avg_fn(averaged, current, n_averaged) -> Tensor``
            replacing the rule of ``mode`` (PyTorch's keyword; e.g. ``get_ema_avg_fn(0.99)``).
        multi_avg_fn: optional ``multi_avg_fn(averaged_list, current_list, n_averaged)``
            that updates the averaged tensors in place, called once per (device, dtype)
            group of tensors (PyTorch's keyword; e.g. ``get_ema_multi_avg_fn(0.99)``).
            At most one of ``avg_fn`` and ``multi_avg_fn``.
        use_buffers: also average the buffers (e.g. BatchNorm's running
            statistics) instead of copying them from ``model``.
        mode: (keyword only; ours) ``'mean'`` (SWA) or ``'ema'``.
        decay: (keyword only; ours) δ of the exponential moving average (``mode='ema'``).

    The arguments PyTorch has come in PyTorch's order (``AveragedModel(model, 'cpu')``
    puts the copy on 'cpu'); ``mode`` and ``decay`` come after them, by keyword.

    The first ``update_parameters`` copies the weights whatever the rule. Integer tensors
    (BatchNorm's ``num_batches_tracked``, with ``use_buffers=True``) are averaged too, as in
    PyTorch: the rule is computed in the default floating dtype and the result truncated
    toward zero into the integer tensor (e.g. counts 1, 3, 5 average to 1, 2, 3); they reach
    ``avg_fn`` one at a time and ``multi_avg_fn`` as a group of their own. ``n_averaged``
    reaches the functions as a Python int.

    Attributes:
        module: the averaged copy (``swa_model.module``).
        n_averaged: a 0-d int64 buffer, the number of models averaged so far.
    """

    def __init__(self, model: Module, device: str | None = None, avg_fn: Callable | None = None,
                 multi_avg_fn: Callable | None = None, use_buffers: bool = False, *,
                 mode: str = "mean", decay: float = 0.999):
        super().__init__()
        if mode not in ("mean", "ema"):
            raise ValueError(f"AveragedModel: mode must be 'mean' or 'ema', got {mode!r}")
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"AveragedModel: decay must lie in [0, 1], got {decay}")
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: only one of avg_fn and multi_avg_fn should be "
                             "provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module.to(device)
        first = next(iter(self.module.parameters()), None)
        home = device if device is not None else (first.device if first is not None else None)
        self.register_buffer("n_averaged", tg.tensor(0, dtype=backend.int64, device=home))
        self.mode = mode
        self.decay = decay
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        """Run the averaged model."""
        return self.module(*args, **kwargs)

    def _averaged_tensors(self, model: Module) -> tuple[list[Tensor], list[Tensor]]:
        """The (averaged, current) tensors to combine, checked to correspond."""
        averaged = list(self.module.parameters())
        current = list(model.parameters())
        if self.use_buffers:
            averaged += list(self.module.buffers())
            current += list(model.buffers())
        if len(averaged) != len(current):
            raise ValueError(f"AveragedModel.update_parameters: the model has {len(current)} "
                             f"tensors to average but the averaged copy has {len(averaged)}: "
                             "pass the model this AveragedModel was made from")
        for number, (a, w) in enumerate(zip(averaged, current)):
            if a.shape != w.shape:
                raise ValueError(f"AveragedModel.update_parameters: tensor {number} has shape "
                                 f"{w.shape} in the model but {a.shape} in the averaged copy")
        return averaged, current

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current weights into the average (the first call copies them)."""
        averaged, current = self._averaged_tensors(model)
        n = self.n_averaged.item()
        with no_grad():
            pairs = []                                   # (w̄, w) of the tensors to average
            for average, tensor in zip(averaged, current):
                w = backend.to_device(tensor.data, average.device)           # w, on our device
                if n == 0:
                    average.data[...] = w                                    # w̄ ← w
                else:
                    pairs.append((average, w))
            if self.multi_avg_fn is not None:
                self._average_lists(pairs, n)                # each w̄ written in place
            else:
                for average, w in pairs:
                    average.data[...] = self._average(average, w, n)
            for average in averaged:
                average._version += 1  # written in place: a graph that saved it refuses
            if not self.use_buffers:
                # buffers (BatchNorm statistics) follow the model; update_bn recomputes them
                for mine, theirs in zip(self.module.buffers(), model.buffers()):
                    mine.data[...] = backend.to_device(theirs.data, mine.device)
                    mine._version += 1
            self.n_averaged.data += 1                                        # n ← n + 1
            self.n_averaged._version += 1

    def _average(self, average: Tensor, w, n: int):
        """The new w̄ (an array) from w̄, the model's w (an array) and n, by avg_fn or mode.
        An integer w̄ gets a floating result, which the caller's assignment truncates."""
        avg_fn = self.avg_fn
        if avg_fn is None and not backend.is_floating(average.dtype):
            # PyTorch's rule on Tensors: int64 with a float gives the default dtype, as there
            avg_fn = get_swa_avg_fn() if self.mode == "mean" else get_ema_avg_fn(self.decay)
        if avg_fn is not None:
            return avg_fn(average.detach(), Tensor(w, device=average.device), n).data
        if self.mode == "mean":
            return average.data + (w - average.data) / (n + 1)               # w̄ + (w − w̄)/(n+1)
        return self.decay * average.data + (1 - self.decay) * w              # δ·w̄ + (1 − δ)·w

    def _average_lists(self, pairs: list, n: int) -> None:
        """Hand ``multi_avg_fn`` the tensors grouped by (device, dtype), as PyTorch does."""
        groups: dict = {}
        for average, w in pairs:
            averages, currents = groups.setdefault((average.device, str(average.dtype)), ([], []))
            averages.append(average.detach())            # the same memory: written in place
            currents.append(Tensor(w, device=average.device))
        for averages, currents in groups.values():
            self.multi_avg_fn(averages, currents, n)

    def extra_repr(self) -> str:
        decay = f", decay={self.decay}" if self.mode == "ema" else ""
        return f"mode={self.mode!r}{decay}, n_averaged={self.n_averaged.item()}"


def _batchnorm_layers(model: Module) -> list[Module]:
    """The BatchNorm modules (1d/2d/3d, SyncBatchNorm, the lazy ones) that keep running
    statistics. As in PyTorch (its ``_BatchNorm``), InstanceNorm is not one of them: its
    statistics, if tracked, go on with its own momentum during the pass."""
    return [module for module in model.modules()
            if isinstance(module, _BatchNorm) and module.running_mean is not None]


def update_bn(loader: Iterable, model: Module, device: str | None = None) -> None:
    """Recompute every BatchNorm's running mean and variance with one pass over ``loader``.

    The averaged weights w̄ were never used to compute running statistics, so
    they are recomputed: each BatchNorm's statistics are reset and its
    momentum set to ``None`` (a cumulative average: after batches 1..k the
    running mean is the plain mean of the k batch means, and likewise the
    running variance of the k unbiased batch variances), then the model runs
    once over the data in train mode, without recording a graph. Momenta and
    the train/eval mode are restored afterwards.

    Args:
        loader: yields input batches, or tuples/lists whose first item is the
            input (as a DataLoader over ``(X, y)`` does); Tensors or arrays, or
            dicts, which reach the model as they are (PyTorch's ``model(input)``)
            with their Tensors moved to ``device`` if it is given.
        model: the model (e.g. an ``AveragedModel``).
        device: if given, inputs are moved there first (host arrays go to the
            model's device when it is not given).
    """
    layers = _batchnorm_layers(model)
    if not layers:
        return
    first = next(iter(model.parameters()), None)
    input_device = device or (first.device if first is not None else None)
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None                      # cumulative average over the pass
    was_training = model.training
    model.train()
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if isinstance(batch, dict):
                # a dict goes to the model whole, as in PyTorch; only its Tensors move
                if device is not None:
                    batch = {key: value.to(device) if isinstance(value, Tensor) else value
                             for key, value in batch.items()}
            elif not isinstance(batch, Tensor):
                batch = tg.tensor(batch, device=input_device)
            elif device is not None:
                batch = batch.to(device)
            model(batch)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    model.train(was_training)


# --- the learning rate of the averaging phase ---

class SWALR(LRScheduler):
    """Anneal each group's learning rate to a constant ``swa_lr``, then hold it (for SWA).

    With s the number of ``step()`` calls since construction, E = ``anneal_epochs`` and
    the annealing curve a::

        a(x) = (1 − cos(π·x)) / 2          anneal_strategy='cos'
        a(x) = x                           anneal_strategy='linear'
        x_s = min(1, s / E)                (x_s = 1 for every s if E = 0)
        α_s = a(x_s)·swa_lr + (1 − a(x_s))·α_start

    so α_0 = α_start, α reaches swa_lr at s = E and stays there. α_start is the rate the
    group had when SWALR began. PyTorch states the rule step by step, and so do we: α_start
    is not stored but recovered from the group's rate, which SWALR wrote at step s − 1::

        α_start ← (lr − a(x_(s−1))·swa_lr) / (1 − a(x_(s−1)))      (swa_lr if a(x_(s−1)) = 1)
        lr ← a(x_s)·swa_lr + (1 − a(x_s))·α_start                 (x_(−1) = 0)

    The two agree when only SWALR writes the rate. A rate written in between by someone
    else, e.g. the schedule that ran before the SWA phase (PyTorch's usage: build SWALR at
    the start, step the other scheduler until ``swa_start``, then SWALR), becomes the
    α_start the annealing starts from. E.g. lr 1, swa_lr 0.1, E = 4, 'linear':
    1, 0.775, 0.55, 0.325, 0.1, 0.1, ...

    Args:
        optimizer: the optimizer whose groups' ``"lr"`` is written.
        swa_lr: the final rate, one number or one per group (stored as ``group["swa_lr"]``).
        anneal_epochs: E, the number of steps of the annealing, an integer ≥ 0.
        anneal_strategy: ``'cos'`` or ``'linear'``.
        last_epoch: as for every scheduler (the annealing counts ``step()`` calls).
    """

    def __init__(self, optimizer: Optimizer, swa_lr: float | Sequence[float],
                 anneal_epochs: int = 10, anneal_strategy: str = "cos", last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if isinstance(swa_lr, (list, tuple)) and len(swa_lr) != len(optimizer.param_groups):
            raise ValueError(f"SWALR: swa_lr must have the same length as "
                             f"optimizer.param_groups. swa_lr has {len(swa_lr)} values, "
                             f"param_groups has {len(optimizer.param_groups)}.")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR: anneal_strategy must be one of 'cos' or 'linear', "
                             f"instead got {anneal_strategy!r}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"SWALR: anneal_epochs must be equal or greater than 0, "
                             f"got {anneal_epochs!r}")
        if not isinstance(swa_lr, (list, tuple)):
            swa_lr = [swa_lr] * len(optimizer.param_groups)
        for group, group_swa_lr in zip(optimizer.param_groups, swa_lr):
            group["swa_lr"] = group_swa_lr
        self._anneal_strategy = anneal_strategy
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal(self, x: float) -> float:
        """a(x): 0 at x = 0, 1 at x = 1, along a half cosine or a straight line."""
        if self._anneal_strategy == "cos":
            return (1 - math.cos(math.pi * x)) / 2                 # (1 − cos(π·x)) / 2
        return x                                                   # x

    def get_lr(self) -> list[float]:
        s = self._step_count - 1                                   # step() calls since made
        if self.anneal_epochs == 0:
            s = max(1, s)                                          # E = 0: swa_lr from the start
        E = max(1, self.anneal_epochs)
        a_before = self.anneal(max(0.0, min(1.0, (s - 1) / E)))   # a(x_(s−1))
        a_now = self.anneal(max(0.0, min(1.0, s / E)))            # a(x_s)
        lrs = []
        for group in self.optimizer.param_groups:
            swa_lr = group["swa_lr"]
            if a_before == 1:
                start = swa_lr                                     # α_start ← swa_lr
            else:
                start = (group["lr"] - a_before * swa_lr) / (1 - a_before)  # α_start, recovered
            lrs.append(a_now * swa_lr + (1 - a_now) * start)     # a·swa_lr + (1 − a)·α_start
        return lrs
