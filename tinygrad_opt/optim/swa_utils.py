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

Usage::

    swa_model = AveragedModel(model)                # or mode='ema', decay=0.999
    for epoch in range(epochs):
        train_one_epoch(model, optimizer)
        if epoch >= swa_start:
            swa_model.update_parameters(model)
    update_bn(train_loader, swa_model)              # if the model has BatchNorm
    predictions = swa_model(X_test)
"""

from __future__ import annotations

import copy
from typing import Callable, Iterable

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import no_grad
from tinygrad_opt.nn.module import Module
from tinygrad_opt.tensor import Tensor


class AveragedModel(Module):
    """A copy of ``model`` whose weights are the running average of ``model``'s.

        mode='mean':  w̄ ← w̄ + (w − w̄) / (n + 1)      (n = ``n_averaged``, before the update)
        mode='ema':   w̄ ← δ·w̄ + (1 − δ)·w             (δ = ``decay``)

    Args:
        model: the model being trained; it is deep-copied (its weights at this
            moment do not count in the average: the first ``update_parameters``
            overwrites them).
        mode: ``'mean'`` (SWA) or ``'ema'``.
        decay: δ of the exponential moving average (``mode='ema'``).
        device: if given, the copy lives on this device.
        avg_fn: optional ``avg_fn(averaged, current, n_averaged) -> Tensor``
            replacing the rule above (PyTorch's keyword).
        use_buffers: also average the buffers (e.g. BatchNorm's running
            statistics) instead of copying them from ``model``.

    Attributes:
        module: the averaged copy (``swa_model.module``).
        n_averaged: a 0-d int64 buffer, the number of models averaged so far.
    """

    def __init__(self, model: Module, mode: str = "mean", decay: float = 0.999,
                 device: str | None = None, avg_fn: Callable | None = None,
                 use_buffers: bool = False):
        super().__init__()
        if mode not in ("mean", "ema"):
            raise ValueError(f"AveragedModel: mode must be 'mean' or 'ema', got {mode!r}")
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"AveragedModel: decay must lie in [0, 1], got {decay}")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module.to(device)
        first = next(iter(self.module.parameters()), None)
        home = device if device is not None else (first.device if first is not None else "cpu")
        self.register_buffer("n_averaged", tg.tensor(0, dtype=backend.int64, device=home))
        self.mode = mode
        self.decay = decay
        self.avg_fn = avg_fn
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
            for average, tensor in zip(averaged, current):
                w = backend.to_device(tensor.data, average.device)           # w, on our device
                if n == 0 or not backend.is_floating(average.dtype):
                    average.data[...] = w                                    # w̄ ← w
                elif self.avg_fn is not None:
                    result = self.avg_fn(average.detach(), Tensor(w), n)
                    average.data[...] = result.data                          # w̄ ← avg_fn(w̄, w, n)
                elif self.mode == "mean":
                    average.data += (w - average.data) / (n + 1)           # w̄ ← w̄ + (w−w̄)/(n+1)
                else:
                    average.data[...] = (self.decay * average.data
                                         + (1 - self.decay) * w)             # w̄ ← δ·w̄ + (1−δ)·w
                average._version += 1  # written in place: a graph that saved it refuses
            if not self.use_buffers:
                # buffers (BatchNorm statistics) follow the model; update_bn recomputes them
                for mine, theirs in zip(self.module.buffers(), model.buffers()):
                    mine.data[...] = backend.to_device(theirs.data, mine.device)
                    mine._version += 1
            self.n_averaged.data += 1                                        # n ← n + 1
            self.n_averaged._version += 1

    def extra_repr(self) -> str:
        decay = f", decay={self.decay}" if self.mode == "ema" else ""
        return f"mode={self.mode!r}{decay}, n_averaged={self.n_averaged.item()}"


def _batchnorm_layers(model: Module) -> list[Module]:
    """The modules that keep BatchNorm running statistics."""
    return [module for module in model.modules()
            if hasattr(module, "running_mean") and hasattr(module, "reset_running_stats")
            and module.running_mean is not None]


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
            input (as a DataLoader over ``(X, y)`` does); Tensors or arrays.
        model: the model (e.g. an ``AveragedModel``).
        device: if given, inputs are moved there first (host arrays go to the
            model's device when it is not given).
    """
    layers = _batchnorm_layers(model)
    if not layers:
        return
    first = next(iter(model.parameters()), None)
    input_device = device or (first.device if first is not None else "cpu")
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
            if not isinstance(batch, Tensor):
                batch = tg.tensor(batch, device=input_device)
            elif device is not None:
                batch = batch.to(device)
            model(batch)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    model.train(was_training)
