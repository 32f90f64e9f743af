"""Learning-rate schedules: the learning rate as a function of the step count t.

Every scheduler here (except ``ReduceLROnPlateau``, which reacts to a metric)
is a closed-form function of t and of the initial learning rate α0 of each
parameter group::

    StepLR              α_t = α0 · γ^⌊t / step_size⌋              (step decay)
    MultiStepLR         α_t = α0 · γ^(number of milestones ≤ t)
    ExponentialLR       α_t = α0 · γ^t  =  α0 · e^(−k·t)  with γ = e^(−k)
    InverseTimeLR       α_t = α0 / (1 + k·t)                       (1/t decay)
    CosineAnnealingLR   α_t = η_min + (α0 − η_min) · (1 + cos(π·t / T_max)) / 2
    LinearLR            α_t = α0 · (s + (e − s) · min(t, T) / T)   (warm-up)
    LambdaLR            α_t = α0 · λ(t)

The first three are the lecture notes' annealing schedules. ``step()`` adds one
to t (``last_epoch``) and writes α_t into ``group["lr"]``; it does nothing else.
The usage is PyTorch's::

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(...)          # optimizer.step() inside, with lr = α_t
        scheduler.step()              # t ← t + 1, group["lr"] ← α_t

Like PyTorch, constructing a scheduler stores ``group["initial_lr"] = α0``
(unless a scheduler already did) and performs the first step, so that
``last_epoch == 0`` and ``group["lr"] == α_0`` afterwards.

Same numbers as PyTorch: PyTorch computes most schedules recursively
(α_t from α_(t−1), the "chainable form") and has a closed form
(``_get_closed_form_lr``) for each of them. When nothing else writes the
learning rate, the two give the same sequence, and that is what we compute.
What we do not copy is *chaining*: PyTorch lets two schedulers step the same
optimizer at once and multiplies their effects; here each ``step()`` writes its
own closed-form value, so the last one wins. Combine schedules with
``SequentialLR`` (one after the other, PyTorch's semantics) or with one
``LambdaLR`` whose λ is the product you want.
"""

from __future__ import annotations

import math
import types
from bisect import bisect_right
from typing import Callable, Iterable, Sequence

from tinygrad_opt.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: a learning rate α_t = schedule(α0, t) for each parameter group.

    Subclasses write ``get_lr()``: the closed form at ``t = self.last_epoch``,
    one value per group, from ``self.base_lrs`` (the α0 of each group).

    Args:
        optimizer: the optimizer whose groups' ``"lr"`` is written.
        last_epoch: the index of the last step taken; ``-1`` starts a new
            schedule. To resume, prefer ``load_state_dict``; with
            ``last_epoch=k`` every group must already hold ``"initial_lr"`` and
            the initial step moves to t = k + 1 and writes α_(k+1).

    Attributes:
        last_epoch: t, the number of ``step()`` calls since the start.
        base_lrs: α0 of each group (its ``"initial_lr"``).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for number, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups"
                                   f"[{number}] when resuming an optimizer")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The step every scheduler takes when it is made: t = 0, lr = α_0."""
        self._step_count = 0
        self.step()

    def get_lr(self) -> list[float]:
        """α_t of each group at t = ``self.last_epoch`` (the closed form)."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr()")

    def step(self, epoch: int | None = None) -> None:
        """t ← t + 1 (or t ← ``epoch``, PyTorch's deprecated form); write α_t into each group."""
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
        else:
            self.last_epoch = epoch
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rate of each group written by the last ``step()``."""
        return self._last_lr

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (save the optimizer's own state_dict too)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the attributes saved by ``state_dict()``."""
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


def _check_positive_int(owner: str, name: str, value) -> None:
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")


class StepLR(LRScheduler):
    """Step decay: multiply the learning rate by γ every ``step_size`` steps.

        α_t = α0 · γ^⌊t / step_size⌋

    E.g. α0 = 1, step_size = 3, γ = 0.1 gives 1, 1, 1, 0.1, 0.1, 0.1, 0.01, ...
    (the notes: "halve it every 5 epochs" is step_size=5, gamma=0.5).
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        _check_positive_int("StepLR", "step_size", step_size)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t = self.last_epoch
        return [base_lr * self.gamma ** (t // self.step_size)      # α0·γ^⌊t/step_size⌋
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Decay by γ at each milestone step.

        α_t = α0 · γ^m(t),   m(t) = number of milestones ≤ t

    A milestone listed twice counts twice (as in PyTorch).
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1):
        self.milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        passed = bisect_right(self.milestones, self.last_epoch)   # m(t)
        return [base_lr * self.gamma ** passed for base_lr in self.base_lrs]   # α0·γ^m(t)


class ExponentialLR(LRScheduler):
    """Exponential decay: multiply the learning rate by γ every step.

        α_t = α0 · γ^t = α0 · e^(−k·t)   with γ = e^(−k), i.e. k = −ln γ

    The notes write this schedule as α = α0·e^(−kt); PyTorch (and we) take γ.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]  # α0·γ^t


class InverseTimeLR(LRScheduler):
    """1/t decay (ours; PyTorch has no class for it):

        α_t = α0 / (1 + k·t)

    Args:
        k: the decay rate, ``k >= 0`` (k = 0 keeps α0).
    """

    def __init__(self, optimizer: Optimizer, k: float, last_epoch: int = -1):
        if not k >= 0:
            raise ValueError(f"InverseTimeLR: k must be >= 0, got {k}")
        self.k = k
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr / (1 + self.k * self.last_epoch)          # α0 / (1 + k·t)
                for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from α0 down to η_min over T_max steps:

        α_t = η_min + (α0 − η_min) · (1 + cos(π·t / T_max)) / 2

    PyTorch computes it recursively,
    α_t = η_min + (α_(t−1) − η_min) · (1 + cos(π·t/T_max)) / (1 + cos(π·(t−1)/T_max)),
    which gives the same sequence for t ≤ T_max when nothing else writes the
    learning rate; past T_max both follow the cosine back up (no restarts are
    intended: choose T_max = the number of steps you will take).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1):
        _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2  # (1+cos(πt/T))/2
        return [self.eta_min + (base_lr - self.eta_min) * cosine          # η_min + (α0−η_min)·…
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear warm-up (or decay) of a multiplicative factor over ``total_iters`` steps:

        α_t = α0 · (s + (e − s) · min(t, T) / T)

    with s = ``start_factor`` (0 < s ≤ 1), e = ``end_factor`` (0 ≤ e ≤ 1),
    T = ``total_iters``. The default warms up from α0/3 to α0 in 5 steps.
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1):
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 "
                             "and less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        _check_positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        progress = min(self.last_epoch, self.total_iters) / self.total_iters      # min(t,T)/T
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]                  # α0·(s+(e−s)·…)


class LambdaLR(LRScheduler):
    """Any schedule given as a function: α_t = α0 · λ(t).

    Args:
        lr_lambda: a function of the step t returning the factor λ(t), or a
            list of such functions, one per parameter group.

    ``state_dict()`` cannot save plain functions: it stores ``None`` for them
    (and the ``__dict__`` of callable objects), as PyTorch does.
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1):
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, "
                                 f"but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        for function in self.lr_lambdas:
            if not callable(function):
                raise TypeError(f"lr_lambda should be a function, but got "
                                f"{type(function).__name__}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * lr_lambda(self.last_epoch)            # α0·λ(t)
                for lr_lambda, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict:
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(function, types.FunctionType)
                               else function.__dict__.copy() for function in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        lr_lambdas = state_dict.pop("lr_lambdas")
        self.__dict__.update(state_dict)
        for function, saved in zip(self.lr_lambdas, lr_lambdas):
            if saved is not None:
                function.__dict__.update(saved)


class SequentialLR(LRScheduler):
    """Run schedulers one after the other, switching at the milestone steps.

        scheduler i is active for milestones[i−1] ≤ t < milestones[i]
        and sees the local step t − milestones[i−1] (its own clock restarts at 0)

    PyTorch's semantics, e.g. a warm-up then a decay::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = ExponentialLR(opt, gamma=0.9)
        scheduler = SequentialLR(opt, [warmup, decay], milestones=[5])
        # α_t = α0·(0.1 + 0.9·t/5) for t < 5, then α0·0.9^(t−5)

    Construction resets every group's lr to ``initial_lr``, undoes the initial
    step the sub-schedulers took when they were made, and takes the initial
    step of the first one only.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1):
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler, but got no scheduler.")
        for number, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise TypeError(f"SequentialLR at index {number} should have `optimizer` as "
                                "its attribute.")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError("SequentialLR does not support `ReduceLROnPlateau` scheduler "
                                 "as it requires additional kwargs to be specified when calling "
                                 f"`step`, but got one at index {number} in the given schedulers "
                                 "sequence.")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR expects all schedulers to belong to the same "
                                 f"optimizer, but got scheduler {type(scheduler).__name__} at "
                                 f"index {number} with a different optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers "
                f"{len(schedulers)} and the number of milestones to be equal to "
                f"{len(milestones)}")
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]          # reset to α0
        self._recursive_undo(self)                     # undo the sub-schedulers' initial steps
        self._schedulers[0]._initial_step()           # t = 0 of the first scheduler
        self._last_lr = self._schedulers[0].get_last_lr()

    def _recursive_undo(self, scheduler) -> None:
        if hasattr(scheduler, "_schedulers"):
            for inner in scheduler._schedulers:
                self._recursive_undo(inner)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    def step(self) -> None:
        """t ← t + 1; step the active scheduler (restarting its clock at a milestone)."""
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler.step(0)        # its first step: local t = 0
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        """Own attributes plus each sub-scheduler's state_dict (under ``"_schedulers"``)."""
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        schedulers = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        for scheduler, saved in zip(self._schedulers, schedulers):
            scheduler.load_state_dict(saved)


class ReduceLROnPlateau(LRScheduler):
    """Reduce the learning rate when a metric stops improving (PyTorch's rule).

    Not a function of t: ``step(metric)`` is called once per epoch with e.g. the
    validation loss. With ``best`` the best metric so far::

        better(a)  =  a < best·(1 − threshold)     mode='min', threshold_mode='rel'
                      a < best − threshold         mode='min', threshold_mode='abs'
                      a > best·(1 + threshold)     mode='max', threshold_mode='rel'
                      a > best + threshold         mode='max', threshold_mode='abs'
        if better(metric): best ← metric; num_bad_epochs ← 0
        else:              num_bad_epochs ← num_bad_epochs + 1
        if in cooldown:    cooldown_counter ← cooldown_counter − 1; num_bad_epochs ← 0
        if num_bad_epochs > patience:
            lr ← max(lr·factor, min_lr)   (only if that lowers lr by more than eps)
            cooldown_counter ← cooldown; num_bad_epochs ← 0

    This is the notes' practical rule "when the validation error stops going
    down, multiply the learning rate by a constant (such as 0.5)".

    Args:
        mode: ``'min'`` (the metric should go down) or ``'max'``.
        factor: the multiplier of the learning rate, ``< 1``.
        patience: epochs without improvement tolerated before reducing.
        threshold: how much better counts as better (see ``threshold_mode``).
        threshold_mode: ``'rel'`` or ``'abs'``.
        cooldown: epochs to wait after a reduction before counting bad epochs.
        min_lr: a lower bound, one number or one per group.
        eps: reductions smaller than this are skipped.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | Sequence[float] = 0, eps: float = 1e-8):
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, "
                                 f"got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError("mode " + mode + " is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("threshold mode " + threshold_mode + " is unknown!")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric ``a`` improves on ``best`` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (1.0 + self.threshold)
        return a > best + self.threshold

    def step(self, metrics, epoch: int | None = None) -> None:
        """Record this epoch's metric (a number or a one-element Tensor); maybe reduce lr."""
        current = metrics.item() if hasattr(metrics, "item") else float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch

        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1

        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count

        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer now has {len(self.optimizer.param_groups)} "
                    f"param groups but min_lr was given for {len(self.min_lrs)}; set min_lrs")
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)       # lr·factor, floored at min_lr
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def get_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)

    def __repr__(self) -> str:
        return (f"ReduceLROnPlateau(mode={self.mode!r}, factor={self.factor}, "
                f"patience={self.patience}, best={self.best}, "
                f"num_bad_epochs={self.num_bad_epochs}, last_lr={self._last_lr})")
