"""Learning-rate schedules: the learning rate as a function of the step count t.

Every scheduler here (except ``ReduceLROnPlateau``, which reacts to a metric)
is a closed-form function of t and of the initial learning rate α0 of each
parameter group::

    StepLR              α_t = α0 · γ^⌊t / step_size⌋              (step decay)
    MultiStepLR         α_t = α0 · γ^(number of milestones ≤ t)
    ExponentialLR       α_t = α0 · γ^t  =  α0 · e^(−k·t)  with γ = e^(−k)
    InverseTimeLR       α_t = α0 / (1 + k·t)                       (1/t decay)
    CosineAnnealingLR   α_t = η_min + (α0 − η_min) · (1 + cos(π·t / T_max)) / 2
    CosineAnnealingWarmRestarts   the same cosine over T_cur / T_i, restarting at α0
    LinearLR            α_t = α0 · (s + (e − s) · min(t, T) / T)   (warm-up)
    ConstantLR          α_t = α0 · factor for t < T, then α0
    PolynomialLR        α_t = α0 · (1 − min(t, T) / T)^power
    LambdaLR            α_t = α0 · λ(t)
    MultiplicativeLR    α_t = α0 · λ(1) · λ(2) ··· λ(t)
    OneCycleLR          α0 = max_lr / div_factor up to max_lr, then down far below α0
    CyclicLR            a triangle wave between base_lr and max_lr

The first three are the lecture notes' annealing schedules. ``step()`` adds one
to t (``last_epoch``) and writes α_t into ``group["lr"]``; it does nothing else,
except in ``OneCycleLR`` and ``CyclicLR``, which also write the momentum (or β1)
that their docstrings give as a function of t. The usage is PyTorch's::

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
What we do not copy is *implicit* chaining: PyTorch lets two schedulers step the
same optimizer at once and multiplies their effects; here each ``step()`` writes
its own closed-form value, so the last one wins. Combine schedules with
``ChainedScheduler`` (the product α0·f₁(t)·…·f_k(t) of closed forms, PyTorch's
numbers), ``SequentialLR`` (one after the other) or one ``LambdaLR`` whose λ is
the product you want.
"""

from __future__ import annotations

import math
import numbers
import types
import warnings
from bisect import bisect_right
from typing import Callable, Iterable, Sequence

from tinygrad_opt.optim.optimizer import Optimizer
from tinygrad_opt.tensor import Tensor

STEP_ORDER_WARNING = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. Call them in the "
    "opposite order, `optimizer.step()` before `lr_scheduler.step()`: otherwise the first "
    "value of the learning rate schedule is skipped (as in PyTorch 1.1.0 and later).")


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
        verbose: PyTorch's deprecated switch (every scheduler takes it last): a value
            other than ``"deprecated"`` only warns, as in PyTorch; read the rates with
            ``get_last_lr()``.

    Attributes:
        last_epoch: t, the number of ``step()`` calls since the start.
        base_lrs: α0 of each group (its ``"initial_lr"``).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1,
                 verbose="deprecated"):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        _check_verbose(verbose)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", _copy_lr(group["lr"]))
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
        if self._step_count == 1 and not self.optimizer._opt_called:  # (optim/hooks.py)
            warnings.warn(STEP_ORDER_WARNING, UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
        else:
            self.last_epoch = epoch
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            _write_lr(group, lr)
        self._last_lr = _group_lrs(self.optimizer)

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


def _copy_lr(lr):
    """``lr``, or a copy of it if it is a Tensor (so no list of rates aliases a group's)."""
    return lr.clone() if isinstance(lr, Tensor) else lr


def _write_lr(group: dict, lr) -> None:
    """``group["lr"] ← lr``. An lr given as a one-element Tensor (PyTorch's
    ``lr=torch.tensor(0.01)``) is filled in place, as PyTorch does: the Tensor the
    caller holds, and the optimizer reads at each step, shows the new rate."""
    current = group["lr"]
    if isinstance(current, Tensor):
        current.data[...] = lr.item() if isinstance(lr, Tensor) else lr
        current._version += 1
    else:
        group["lr"] = lr


def _group_lrs(optimizer) -> list:
    """Each group's lr, a Tensor one copied (PyTorch's ``get_last_lr()`` never aliases it)."""
    return [_copy_lr(group["lr"]) for group in optimizer.param_groups]


def _check_verbose(verbose) -> None:
    """PyTorch's ``verbose`` argument, deprecated since PyTorch 2.2: warn when it is given."""
    if verbose != "deprecated":
        warnings.warn("The verbose parameter is deprecated. Please use get_last_lr() to "
                      "access the learning rate.", UserWarning, stacklevel=3)


def _is_integer(value) -> bool:
    """A Python or NumPy integer (``np.int64(10)`` from array arithmetic counts), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_positive_int(owner: str, name: str, value) -> None:
    if not _is_integer(value) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")


def _check_non_negative_int(owner: str, name: str, value) -> None:
    if not _is_integer(value) or value < 0:
        raise ValueError(f"{owner}: {name} must be a non-negative integer, got {value!r}")


class StepLR(LRScheduler):
    """Step decay: multiply the learning rate by γ every ``step_size`` steps.

        α_t = α0 · γ^⌊t / step_size⌋

    E.g. α0 = 1, step_size = 3, γ = 0.1 gives 1, 1, 1, 0.1, 0.1, 0.1, 0.01, ...
    (the notes: "halve it every 5 epochs" is step_size=5, gamma=0.5). As PyTorch, which
    does not type-check it, a float step_size is taken (its language-modelling tutorial
    passes 1.0): ⌊t / step_size⌋ is ``t // step_size``.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1,
                 verbose="deprecated"):
        if (not isinstance(step_size, numbers.Real) or isinstance(step_size, bool)
                or not step_size > 0):
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch, verbose)

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
                 last_epoch: int = -1,
                 verbose="deprecated"):
        self.milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch, verbose)

    def get_lr(self) -> list[float]:
        passed = bisect_right(self.milestones, self.last_epoch)   # m(t)
        return [base_lr * self.gamma ** passed for base_lr in self.base_lrs]   # α0·γ^m(t)


class ExponentialLR(LRScheduler):
    """Exponential decay: multiply the learning rate by γ every step.

        α_t = α0 · γ^t = α0 · e^(−k·t)   with γ = e^(−k), i.e. k = −ln γ

    The notes write this schedule as α = α0·e^(−kt); PyTorch (and we) take γ.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1,
                 verbose="deprecated"):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch, verbose)

    def get_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]  # α0·γ^t


class InverseTimeLR(LRScheduler):
    """1/t decay (ours; PyTorch has no class for it):

        α_t = α0 / (1 + k·t)

    Args:
        k: the decay rate, ``k >= 0`` (k = 0 keeps α0).
    """

    def __init__(self, optimizer: Optimizer, k: float, last_epoch: int = -1,
                 verbose="deprecated"):
        if not k >= 0:
            raise ValueError(f"InverseTimeLR: k must be >= 0, got {k}")
        self.k = k
        super().__init__(optimizer, last_epoch, verbose)

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

    def __init__(self, optimizer: Optimizer, T_max: float, eta_min: float = 0.0,
                 last_epoch: int = -1,
                 verbose="deprecated"):
        if not isinstance(T_max, numbers.Real) or isinstance(T_max, bool) or not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive number, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch, verbose)

    def get_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2  # (1+cos(πt/T))/2
        return [self.eta_min + (base_lr - self.eta_min) * cosine          # η_min + (α0−η_min)·…
                for base_lr in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing with warm restarts (SGDR): the cosine restarts at α0 after each cycle.

        α_t = η_min + (α0 − η_min) · (1 + cos(π · T_cur / T_i)) / 2

    where T_i is the length of the cycle that t lies in and T_cur = t − (its start).
    The cycles last T_0, T_0·T_mult, T_0·T_mult², ... steps, so with T_mult = 1
    simply T_cur = t mod T_0. At a restart T_cur = 0 and α_t = α0 again.

    t may be fractional, as in PyTorch: ``step(epoch + i / iters)`` after batch i
    of an epoch of ``iters`` batches. Then ``last_epoch = ⌊t⌋``, and a plain
    ``step()`` moves t on by one, keeping its fraction (PyTorch's T_cur + 1).

    Args:
        T_0: the length of the first cycle, a positive integer.
        T_mult: the factor by which each cycle is longer than the last, an integer ≥ 1.
        eta_min: the lowest learning rate η_min.

    Attributes:
        T_cur, T_i: the values at the last ``step()``.
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1,
                 verbose="deprecated"):
        _check_positive_int("CosineAnnealingWarmRestarts", "T_0", T_0)
        if not _is_integer(T_mult) or T_mult < 1:
            raise ValueError(f"CosineAnnealingWarmRestarts: T_mult must be an integer >= 1, "
                             f"got {T_mult!r}")
        if not isinstance(eta_min, (int, float)):
            raise ValueError(f"CosineAnnealingWarmRestarts: eta_min must be a number, "
                             f"got {type(eta_min).__name__}")
        self.T_0 = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_i = T_0
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch, verbose)

    def cycle_at(self, t: float) -> tuple[float, int]:
        """(T_cur, T_i) at step t: the time since the last restart and the cycle's length."""
        if self.T_mult == 1:
            return t % self.T_0, self.T_0                  # equal cycles: T_cur = t mod T_0
        start, length = 0, self.T_0
        while t >= start + length:                         # walk the cycles T_0, T_0·T_mult, ...
            start += length
            length *= self.T_mult
        return t - start, length

    def step(self, epoch: float | None = None) -> None:
        """t ← t + 1 (keeping t's fraction), or t ← ``epoch`` (a float ≥ 0); write α_t."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        elif epoch is None:
            epoch = self.last_epoch + 1 + self.T_cur % 1   # ⌊t⌋ + 1 + the fraction of t
        elif epoch < 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: epoch must be >= 0, got {epoch}")
        self.T_cur, self.T_i = self.cycle_at(epoch)
        super().step(math.floor(epoch))                    # last_epoch ← ⌊t⌋, lr ← α_t

    def get_lr(self) -> list[float]:
        cosine = 1 + math.cos(math.pi * self.T_cur / self.T_i)          # 1 + cos(π·T_cur/T_i)
        return [self.eta_min + (base_lr - self.eta_min) * cosine / 2    # η_min + (α0−η_min)·…/2
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear warm-up (or decay) of a multiplicative factor over ``total_iters`` steps:

        α_t = α0 · (s + (e − s) · min(t, T) / T)

    with s = ``start_factor`` (0 < s ≤ 1), e = ``end_factor`` (0 ≤ e ≤ 1),
    T = ``total_iters``. The default warms up from α0/3 to α0 in 5 steps.
    T = 0 is PyTorch's: the rate stays α0 · s (its step-by-step form sets α0 · s at
    t = 0 and leaves the rate alone for every t > T).
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1,
                 verbose="deprecated"):
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError(f"LinearLR: Starting multiplicative factor expected to be greater "
                             f"than 0 and less or equal to 1, got start_factor={start_factor!r}")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError(f"LinearLR: Ending multiplicative factor expected to be between 0 "
                             f"and 1, got end_factor={end_factor!r}")
        _check_non_negative_int("LinearLR", "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch, verbose)

    def get_lr(self) -> list[float]:
        if self.total_iters == 0:
            return [base_lr * self.start_factor for base_lr in self.base_lrs]   # α0·s
        progress = min(self.last_epoch, self.total_iters) / self.total_iters      # min(t,T)/T
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]                  # α0·(s+(e−s)·…)


class ConstantLR(LRScheduler):
    """A constant factor for the first ``total_iters`` steps, then the full rate:

        α_t = α0 · factor   for t < T
              α0            for t ≥ T

    with T = ``total_iters`` (0 ≤ factor ≤ 1). The default runs at α0/3 for 5 steps.
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1,
                 verbose="deprecated"):
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be between 0 and 1, got {factor}")
        if not _is_integer(total_iters) or total_iters < 0:
            raise ValueError(f"ConstantLR: total_iters must be a non-negative integer, "
                             f"got {total_iters!r}")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch, verbose)

    def get_lr(self) -> list[float]:
        factor = self.factor if self.last_epoch < self.total_iters else 1.0   # factor, or 1 from T
        return [base_lr * factor for base_lr in self.base_lrs]                # α0·factor


class PolynomialLR(LRScheduler):
    """Polynomial decay to zero over ``total_iters`` steps:

        α_t = α0 · (1 − min(t, T) / T)^power

    with T = ``total_iters``; power = 1 (the default) is a straight line from α0
    to 0 at t = T, and α stays 0 after it. T = 0 is PyTorch's: the rate stays α0 (its
    step-by-step form leaves the rate alone at t = 0 and for every t > T).
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1,
                 verbose="deprecated"):
        _check_non_negative_int("PolynomialLR", "total_iters", total_iters)
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch, verbose)

    def get_lr(self) -> list[float]:
        if self.total_iters == 0:
            return list(self.base_lrs)                                                # α0
        remaining = 1.0 - min(self.last_epoch, self.total_iters) / self.total_iters  # 1−min(t,T)/T
        return [base_lr * remaining ** self.power for base_lr in self.base_lrs]     # α0·(…)^power


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
                 last_epoch: int = -1,
                 verbose="deprecated"):
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
        super().__init__(optimizer, last_epoch, verbose)

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


class MultiplicativeLR(LambdaLR):
    """Multiply the learning rate by λ(t) at every step t ≥ 1:

        α_t = α0 · λ(1) · λ(2) ··· λ(t)        (α_0 = α0, the empty product)

    PyTorch writes it as α_t = α_(t−1) · λ(t); this is the same sequence as a
    function of t. The value at the last step is kept and multiplied by one
    factor per step, so each λ(s) is called once, in order, as in PyTorch; a
    ``step(epoch)`` that moves t back starts again from α0.

    ``step(0)`` starts the product from the group's current rate instead, as
    PyTorch's α_0 = (the rate as it is): that is how ``SequentialLR`` starts it at
    a milestone, so it goes on from the rate the schedule before it left there.

    Its arguments and its ``state_dict`` are ``LambdaLR``'s (one function, or one
    per parameter group; plain functions are saved as ``None``).
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1,
                 verbose="deprecated"):
        self._product_step = 0         # s: the last factor λ(s) taken into _products
        self._products = None          # α0·λ(1)···λ(s) of each group, None before the first step
        super().__init__(optimizer, lr_lambda, last_epoch, verbose)

    def step(self, epoch: int | None = None) -> None:
        """t ← t + 1, or t ← ``epoch``; with ``epoch == 0``, α_0 ← each group's current rate."""
        if epoch is not None and epoch == 0:
            self._product_step = 0
            self._products = [group["lr"] for group in self.optimizer.param_groups]
        super().step(epoch)

    def get_lr(self) -> list[float]:
        if self._products is None or self.last_epoch < self._product_step:
            self._product_step = 0                               # (re)start at s = 0: α0
            self._products = list(self.base_lrs)
        while self._product_step < self.last_epoch:              # take λ(s) for s up to t
            self._product_step += 1
            self._products = [product * lr_lambda(self._product_step)    # ·λ(s)
                              for product, lr_lambda in zip(self._products, self.lr_lambdas)]
        return list(self._products)                              # α0·λ(1)···λ(t)


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
                 milestones: Sequence[int], last_epoch: int = -1,
                 verbose="deprecated"):
        _check_verbose(verbose)
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
            _write_lr(group, group["initial_lr"])      # reset to α0
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
                 cooldown: int = 0, min_lr: float | Sequence[float] = 0, eps: float = 1e-8,
                 verbose="deprecated"):
        _check_verbose(verbose)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: Factor should be < 1.0, got factor={factor!r}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"ReduceLROnPlateau: expected {len(optimizer.param_groups)} "
                                 f"min_lrs (one per group), got min_lr={min_lr!r}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _group_lrs(optimizer)
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode {mode} is unknown! (mode must be "
                             "'min' or 'max')")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold mode {threshold_mode} is unknown! "
                             "(threshold_mode must be 'rel' or 'abs')")
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

        self._last_lr = _group_lrs(self.optimizer)

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
                _write_lr(group, new_lr)

    def get_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)

    def __repr__(self) -> str:
        return (f"ReduceLROnPlateau(mode={self.mode!r}, factor={self.factor}, "
                f"patience={self.patience}, best={self.best}, "
                f"num_bad_epochs={self.num_bad_epochs}, last_lr={self._last_lr})")


# --- Cyclical schedules: the learning rate and, inversely, the momentum ---

def _per_group(owner: str, name: str, optimizer: Optimizer, value) -> list:
    """One value per parameter group: a list or tuple as given, else ``value`` repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{owner}: {name} must have one value per parameter group "
                             f"({len(optimizer.param_groups)}), got {len(value)}")
        return list(value)
    return [value] * len(optimizer.param_groups)


def _momentum_is_beta1(owner: str, optimizer: Optimizer) -> bool:
    """Whether the momentum to cycle is β1 of ``betas`` (Adam-like) rather than ``momentum``."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(f"{owner}: cycle_momentum=True needs an optimizer with a 'momentum' or "
                         f"'betas' hyperparameter, and {type(optimizer).__name__} has neither; "
                         "pass cycle_momentum=False")
    return "betas" in optimizer.defaults


def _set_momentum(group: dict, use_beta1: bool, momentum: float) -> None:
    """Write m into the group: ``betas = (m, β2)`` for Adam-like optimizers, else ``momentum``."""
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up from α0 to max_lr, then anneal to far below α0.

    With T = ``total_steps`` (or ``epochs · steps_per_epoch``), p = ``pct_start``
    and, per parameter group::

        α_max = max_lr,   α0 = α_max / div_factor,   α_min = α0 / final_div_factor

    the steps fall into phases; phase k runs from step s_k to e_k (s_1 = 0,
    s_k = e_(k−1)), and in it the learning rate goes from a to b and the
    momentum m (β1 for Adam-like optimizers) from c to d::

        phase              e_k              a → b             c → d
        1                  p·T − 1          α0 → α_max        m_max → m_base
        2                  T − 1            α_max → α_min     m_base → m_max
      with three_phase=True:
        1                  p·T − 1          α0 → α_max        m_max → m_base
        2                  2·p·T − 2        α_max → α0        m_base → m_max
        3                  T − 1            α0 → α_min        m_max → m_max

        α_t = anneal(a, b, x),  m_t = anneal(c, d, x),  x = (t − s_k) / (e_k − s_k)

    in the first phase with t ≤ e_k (the last phase for t past every end), where::

        anneal(a, b, x) = b + (a − b) / 2 · (1 + cos(π·x))     anneal_strategy='cos'
        anneal(a, b, x) = a + (b − a) · x                      anneal_strategy='linear'

    So α_0 = α0 and m_0 = m_max. As in PyTorch, t may reach T (one step past the
    last phase's end) and a step to t > T raises ValueError.

    Construction writes into each group (as PyTorch does, unless resuming with
    ``last_epoch``): ``initial_lr = α0`` (replacing any), ``max_lr``, ``min_lr``, and
    with ``cycle_momentum`` ``max_momentum`` and ``base_momentum``; then the step
    to t = 0 writes α_0 and m_0.
    ``max_lr``, ``base_momentum`` and ``max_momentum`` take one value or one per group.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85,
                 max_momentum: float | Sequence[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1,
                 verbose="deprecated"):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if total_steps is not None:
            _check_positive_int("OneCycleLR", "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int("OneCycleLR", "epochs", epochs)
            _check_positive_int("OneCycleLR", "steps_per_epoch", steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be between 0 and 1, got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', "
                             f"got {anneal_strategy!r}")
        max_lrs = _per_group("OneCycleLR", "max_lr", optimizer, max_lr)
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_is_beta1("OneCycleLR", optimizer)
            max_momentums = _per_group("OneCycleLR", "max_momentum", optimizer, max_momentum)
            base_momentums = _per_group("OneCycleLR", "base_momentum", optimizer, base_momentum)
        self.total_steps = total_steps
        self.anneal_strategy = anneal_strategy
        warm_up = {"end_step": float(pct_start * total_steps) - 1,
                   "start_lr": "initial_lr", "end_lr": "max_lr",
                   "start_momentum": "max_momentum", "end_momentum": "base_momentum"}
        if three_phase:
            self._schedule_phases = [
                warm_up,
                {"end_step": float(2 * pct_start * total_steps) - 2,
                 "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": total_steps - 1,
                 "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"}]
        else:
            self._schedule_phases = [
                warm_up,
                {"end_step": total_steps - 1,
                 "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"}]
        if last_epoch == -1:
            for number, group in enumerate(optimizer.param_groups):
                group["initial_lr"] = max_lrs[number] / div_factor        # α0 = α_max / div
                group["max_lr"] = max_lrs[number]
                group["min_lr"] = group["initial_lr"] / final_div_factor  # α_min = α0 / final
                if cycle_momentum:
                    group["max_momentum"] = max_momentums[number]
                    group["base_momentum"] = base_momentums[number]
        super().__init__(optimizer, last_epoch, verbose)

    def anneal(self, start: float, end: float, x: float) -> float:
        """From ``start`` (x = 0) to ``end`` (x = 1) along a half cosine or a straight line."""
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2 * (1 + math.cos(math.pi * x))   # b + (a−b)/2·(1+cos πx)
        return start + (end - start) * x                                  # a + (b−a)·x

    def phase_at(self, t: int) -> tuple[dict, float]:
        """The phase that step t lies in, and x, how far through it t is."""
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {t} times, but total_steps is "
                             f"{self.total_steps}")
        start = 0.0                                                        # s_1 = 0
        for number, phase in enumerate(self._schedule_phases):
            end = phase["end_step"]
            if t <= end or number == len(self._schedule_phases) - 1:
                return phase, (t - start) / (end - start)                  # x = (t−s_k)/(e_k−s_k)
            start = end                                                    # s_(k+1) = e_k

    def get_lr(self) -> list[float]:
        phase, x = self.phase_at(self.last_epoch)
        return [self.anneal(group[phase["start_lr"]], group[phase["end_lr"]], x)   # anneal(a,b,x)
                for group in self.optimizer.param_groups]

    def get_momentum(self) -> list[float]:
        """m_t of each group at t = ``self.last_epoch``."""
        phase, x = self.phase_at(self.last_epoch)
        return [self.anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], x)
                for group in self.optimizer.param_groups]                  # anneal(c, d, x)

    def step(self, epoch: int | None = None) -> None:
        """t ← t + 1; write α_t into each group's lr and, if cycle_momentum, m_t as its momentum."""
        super().step(epoch)
        if self.cycle_momentum:
            for group, momentum in zip(self.optimizer.param_groups, self.get_momentum()):
                _set_momentum(group, self.use_beta1, momentum)


class CyclicLR(LRScheduler):
    """Cyclical learning rates: a triangle wave between base_lr and max_lr (Smith, 2017).

    With L = step_size_up + step_size_down and r = step_size_up / L::

        cycle = ⌊1 + t / L⌋                     the cycle number, 1, 2, ...
        x = 1 + t / L − cycle                   how far through the cycle, in [0, 1)
        h = x / r                if x ≤ r       up from 0 to 1 in step_size_up steps,
            (x − 1) / (r − 1)    otherwise      then down to 0 in step_size_down steps
        α_t = base_lr + (max_lr − base_lr) · h · scale(c)
        m_t = max_momentum − (max_momentum − base_momentum) · h · scale(c)

    with c = cycle (scale_mode 'cycle') or c = t (scale_mode 'iterations') and::

        scale(c) = 1                  mode='triangular'    (scale_mode 'cycle')
                   1 / 2^(c − 1)      mode='triangular2'   (scale_mode 'cycle': halves each cycle)
                   γ^c                mode='exp_range'     (scale_mode 'iterations')
                   scale_fn(c)        a given scale_fn, with the given scale_mode (mode is ignored)

    So α_0 = base_lr (or, as in PyTorch, a group's earlier ``initial_lr`` if it had
    one; base_lr from t = 1) and m_0 = max_momentum: the momentum (β1 for Adam-like
    optimizers) moves opposite to the learning rate. ``base_lr``, ``max_lr``,
    ``base_momentum`` and ``max_momentum`` take one value or one per group.

    As in PyTorch, construction (unless resuming with ``last_epoch``) sets each
    group's lr to base_lr, its ``initial_lr`` to base_lr unless the group has one,
    and with ``cycle_momentum`` its ``max_momentum`` and ``base_momentum``; then
    the step to t = 0 writes α_0 and m_0. ``state_dict()`` saves a ``scale_fn`` as
    ``LambdaLR`` saves its functions.
    """

    def __init__(self, optimizer: Optimizer, base_lr: float | Sequence[float],
                 max_lr: float | Sequence[float], step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
                 scale_mode: str = "cycle", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.8,
                 max_momentum: float | Sequence[float] = 0.9, last_epoch: int = -1,
                 verbose="deprecated"):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if step_size_down is None:
            step_size_down = step_size_up
        if not step_size_up > 0:
            raise ValueError(f"CyclicLR: step_size_up must be > 0, got {step_size_up}")
        if not step_size_down >= 0:
            raise ValueError(f"CyclicLR: step_size_down must be >= 0, got {step_size_down}")
        if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(f"CyclicLR: mode must be 'triangular', 'triangular2' or "
                             f"'exp_range' (or give scale_fn), got {mode!r}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"CyclicLR: scale_mode must be 'cycle' or 'iterations', "
                             f"got {scale_mode!r}")
        base_lrs = _per_group("CyclicLR", "base_lr", optimizer, base_lr)
        self.max_lrs = _per_group("CyclicLR", "max_lr", optimizer, max_lr)
        self.total_size = float(step_size_up + step_size_down)         # L
        self.step_ratio = step_size_up / self.total_size               # r
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        if scale_fn is not None:
            self.scale_mode = scale_mode
        else:
            self.scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_is_beta1("CyclicLR", optimizer)
            self.base_momentums = _per_group("CyclicLR", "base_momentum", optimizer,
                                             base_momentum)
            self.max_momentums = _per_group("CyclicLR", "max_momentum", optimizer, max_momentum)
        if last_epoch == -1:
            for number, group in enumerate(optimizer.param_groups):
                _write_lr(group, base_lrs[number])
                if cycle_momentum:
                    group["max_momentum"] = self.max_momentums[number]
                    group["base_momentum"] = self.base_momentums[number]
        # initial_lr ← base_lr unless set; step to t = 0
        super().__init__(optimizer, last_epoch, verbose)
        # From here on the lower bound is base_lr, even in a group that already had an
        # initial_lr (whose value the step to t = 0 above wrote, as in PyTorch).
        self.base_lrs = base_lrs

    def scale_fn(self, c: float) -> float:
        """scale(c): the fraction of the full height max_lr − base_lr that the wave reaches."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(c)
        if self.mode == "triangular":
            return 1.0                                   # 1
        if self.mode == "triangular2":
            return 1 / (2.0 ** (c - 1))                  # 1 / 2^(c−1)
        return self.gamma ** c                           # γ^c

    def wave_at(self, t: int) -> tuple[float, float]:
        """(h, scale(c)) at step t: h from 0 (bottom of the wave) to 1 (top)."""
        cycle = math.floor(1 + t / self.total_size)          # ⌊1 + t/L⌋
        x = 1.0 + t / self.total_size - cycle                # 1 + t/L − cycle
        if x <= self.step_ratio:
            h = x / self.step_ratio                          # x / r
        else:
            h = (x - 1) / (self.step_ratio - 1)              # (x − 1)/(r − 1)
        return h, self.scale_fn(cycle if self.scale_mode == "cycle" else t)

    def get_lr(self) -> list[float]:
        h, scale = self.wave_at(self.last_epoch)
        return [base_lr + (max_lr - base_lr) * h * scale     # base + (max − base)·h·scale(c)
                for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]

    def get_momentum(self) -> list[float]:
        """m_t of each group at t = ``self.last_epoch``."""
        h, scale = self.wave_at(self.last_epoch)
        return [max_momentum - (max_momentum - base_momentum) * h * scale   # m_max − (…)·h·scale
                for base_momentum, max_momentum in zip(self.base_momentums, self.max_momentums)]

    def step(self, epoch: int | None = None) -> None:
        """t ← t + 1; write α_t into each group's lr and, if cycle_momentum, m_t as its momentum."""
        super().step(epoch)
        if self.cycle_momentum:
            for group, momentum in zip(self.optimizer.param_groups, self.get_momentum()):
                _set_momentum(group, self.use_beta1, momentum)

    def state_dict(self) -> dict:
        """As the base class, with a ``scale_fn`` saved as ``LambdaLR`` saves its functions."""
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_scale_fn_custom")}
        function = self._scale_fn_custom
        state["_scale_fn_custom"] = (None if function is None
                                     or isinstance(function, types.FunctionType)
                                     else function.__dict__.copy())
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        saved = state_dict.pop("_scale_fn_custom")
        self.__dict__.update(state_dict)
        if saved is not None:
            self._scale_fn_custom.__dict__.update(saved)


# --- Several schedules at once: their factors multiply ---

# The schedules whose closed form is α_t = α0 · f(t), a factor times the initial rate
# (CosineAnnealingLR only with η_min = 0): the ones that chain as PyTorch chains them.
_FACTOR_SCHEDULES = (StepLR, MultiStepLR, ExponentialLR, InverseTimeLR, LinearLR, ConstantLR,
                     PolynomialLR, MultiplicativeLR, CosineAnnealingLR)


def _is_factor_schedule(scheduler) -> bool:
    """Whether ``scheduler``'s rate is α0 · f(t) (so that ChainedScheduler can multiply it)."""
    if isinstance(scheduler, ChainedScheduler):
        return True                                       # a product of factors is a factor
    if type(scheduler) is LambdaLR:
        return False    # PyTorch's LambdaLR writes α0·λ(t) over the chain instead of multiplying
    if isinstance(scheduler, CosineAnnealingLR):
        return scheduler.eta_min == 0
    return isinstance(scheduler, _FACTOR_SCHEDULES)


def _schedules_group(scheduler, number: int) -> bool:
    """Whether ``scheduler`` writes the rate of parameter group ``number``: one of the groups
    its optimizer had when it was made (a chain: one that any of its schedulers writes)."""
    if isinstance(scheduler, ChainedScheduler):
        return any(_schedules_group(inner, number) for inner in scheduler._schedulers)
    return number < len(scheduler.base_lrs)


class ChainedScheduler(LRScheduler):
    """Several schedules at once: the learning rate is α0 times the product of their factors.

    Each scheduler chained here has a closed form α_t⁽ⁱ⁾ = α0 · f_i(t) (α0 = the group's
    ``initial_lr``); chained, every ``step()`` steps each of them and writes::

        α_t = α0 · f_1(t) · f_2(t) ··· f_k(t),      f_i(t) = α_t⁽ⁱ⁾ / α0

    each f_i at the scheduler's own step count (α_t = 0 if α0 = 0). This is PyTorch's
    sequence: there each scheduler multiplies the current rate by its own f_i(t) / f_i(t−1)
    (its "chainable form"), and the product of those ratios is the product of the f_i.
    (One exception: past T_max, PyTorch's CosineAnnealingLR adds to the rate just after
    T_max instead of multiplying, which drops the other factors there; here the chained
    cosine keeps multiplying: docs/deviations.md.)
    E.g. PyTorch's example, with α0 = 0.5::

        ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=20),
                          ExponentialLR(opt, gamma=0.9)])
        # α_t = 0.5 · 0.1 · 0.9^t for t < 20 (0.05, 0.045, 0.0405, ...), then 0.5 · 0.9^t

    Construction does not step; it writes the product at the schedulers' current steps
    (as their own initial steps do, one after the other, in PyTorch).

    The schedules accepted are those whose rate is a factor of α0: StepLR, MultiStepLR,
    ExponentialLR, InverseTimeLR, LinearLR, ConstantLR, PolynomialLR, MultiplicativeLR,
    CosineAnnealingLR with η_min = 0, and a ChainedScheduler of them. The others are refused:
    ReduceLROnPlateau (as in PyTorch), and those whose chained value in PyTorch is not a
    product (LambdaLR, OneCycleLR, CyclicLR and CosineAnnealingWarmRestarts overwrite the
    rate; η_min ≠ 0, SequentialLR and SWALR add to it).

    Args:
        schedulers: the schedulers to step together, all of the same optimizer.
        optimizer: that optimizer (default: the first scheduler's).

    ``state_dict()`` holds ``_last_lr`` and each scheduler's own state_dict under
    ``"_schedulers"``, as PyTorch's.
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None):
        if len(schedulers) < 1:
            raise ValueError("ChainedScheduler expects at least one scheduler to be chained, "
                             "but got no scheduler.")
        if optimizer is None:
            optimizer = getattr(schedulers[0], "optimizer", None)
        for number, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise TypeError(f"ChainedScheduler at index {number} should have `optimizer` "
                                "as its attribute.")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError("ChainedScheduler does not support `ReduceLROnPlateau` "
                                 "scheduler as it requires additional kwargs to be specified "
                                 f"when calling `step`, but got one at index {number} in the "
                                 "given schedulers sequence.")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"ChainedScheduler expects all schedulers to belong to the "
                                 f"same optimizer, but got scheduler {type(scheduler).__name__} "
                                 f"at index {number} with a different optimizer than "
                                 f"{type(optimizer).__name__} (the first scheduler's, or the "
                                 "one given)")
            if not _is_factor_schedule(scheduler):
                raise ValueError(
                    f"ChainedScheduler: the scheduler at index {number}, "
                    f"{type(scheduler).__name__}, is not of the form α0·f(t), so its factors "
                    "cannot be multiplied (chain StepLR, MultiStepLR, ExponentialLR, "
                    "InverseTimeLR, LinearLR, ConstantLR, PolynomialLR, MultiplicativeLR or "
                    "CosineAnnealingLR with eta_min=0; use SequentialLR to run schedules one "
                    "after the other, or one LambdaLR whose λ is the product)")
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._write(self.get_lr())

    def get_lr(self) -> list[float]:
        """α0 · f_1(t) ··· f_k(t) of each group, from each scheduler's last rate α0·f_i(t).

        The product runs over the schedulers that schedule the group: a group added to the
        optimizer after a scheduler was made is not scheduled by it (as in PyTorch), and a
        group no scheduler schedules keeps its rate."""
        lrs = []
        for number, group in enumerate(self.optimizer.param_groups):
            schedulers = [scheduler for scheduler in self._schedulers
                          if _schedules_group(scheduler, number)]
            if not schedulers:
                lrs.append(group["lr"])                                    # left as it is
                continue
            alpha0 = group["initial_lr"]
            lr = alpha0                                                    # α0
            for scheduler in schedulers:
                factor = scheduler.get_last_lr()[number] / alpha0 if alpha0 != 0 else 0.0
                lr = lr * factor                                           # · f_i(t)
            lrs.append(lr)
        return lrs

    def step(self) -> None:
        """Step every scheduler (t ← t + 1 in each), then write α0 · f_1(t) ··· f_k(t)."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._write(self.get_lr())

    def _write(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            _write_lr(group, lr)
        self._last_lr = _group_lrs(self.optimizer)

    def state_dict(self) -> dict:
        """Own attributes (``_last_lr``) and each scheduler's state_dict under ``"_schedulers"``."""
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore ``state_dict()``: own attributes, then each scheduler's."""
        state_dict = dict(state_dict)
        schedulers = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        for scheduler, saved in zip(self._schedulers, schedulers):
            scheduler.load_state_dict(saved)

    def __repr__(self) -> str:
        names = ", ".join(type(scheduler).__name__ for scheduler in self._schedulers)
        return f"ChainedScheduler([{names}], last_lr={self._last_lr})"


class _LRScheduler(LRScheduler):
    """PyTorch's old name of :class:`LRScheduler` (public before PyTorch 2.0), kept there
    for the custom schedulers written against it: ``class Warmup(_LRScheduler)``."""
