"""Model ensembles: average several networks' predictions; distil them into one.

The lecture notes: train several independent models and average their
predictions at test time; accuracy rises with the number of models (with
diminishing returns), more so when the models differ. Four ways to get the
members, each a helper here, and one way to get rid of them:

1. **Same hyperparameters, different initialisations**: :func:`train_seeds`.
   Cheap to set up; the diversity comes only from the seed.
2. **The top models of a hyperparameter search**: :func:`from_search`. More
   diversity, at the risk of including weaker models.
3. **Checkpoints of one run** (snapshot ensembles): :class:`SnapshotCollector`
   keeps copies of the weights at chosen epochs (e.g. the last k), and
   :func:`cyclic_cosine` restarts the learning rate so that each cycle ends in
   a different minimum (Huang et al. 2017, "Snapshot ensembles: train 1, get M
   for free"); :func:`snapshot_ensemble` turns the copies into an ensemble.
4. **A running average of the parameters** is not an ensemble of outputs but a
   single averaged model: ``optim.swa_utils.AveragedModel`` (mean or EMA).

A fifth way, from the notes' list against overfitting: **bagging** (Breiman
1996), :func:`bagging`, trains each member on its own bootstrap sample of the
training set, so the members also differ in the data they saw; it takes a
``train_fn(model, dataset)``, and :func:`trainer` builds the usual one (an
optimizer, a shuffled loader, ``fit``, optional augmentation).

Distillation (Hinton et al. 2015): :func:`distill` trains one small *student*
to match the ensemble's softened probabilities (and the labels), so the
deployed model is a single network.

What is averaged: :class:`Ensemble` averages the members' *probabilities*,
``p̄ = Σ_m w_m softmax(z_m)`` with ``z_m = model_m(x)`` the logits of member m
(weights ``w_m = 1/M`` by default). Averaging probabilities (rather than
logits) is what the notes describe and what keeps a confident wrong member
from dominating.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections import deque
from typing import Callable, Iterable, Sequence

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt._checks import whole_number
from tinygrad_opt.backend import randomness
from tinygrad_opt.autograd.grad_mode import no_grad
from tinygrad_opt.nn.module import Module, ModuleList, snapshot
from tinygrad_opt.tensor import Tensor
from tinygrad_opt.train import eval_mode

__all__ = ["Ensemble", "train_seeds", "SnapshotCollector", "snapshot_ensemble",
           "cyclic_cosine", "from_search", "soft_targets", "distillation_loss", "distill",
           "bagging", "trainer"]

TINY = 1e-12   # probabilities are clipped to this before a log: log(0) would be -inf


class Ensemble(Module):
    """Average the predictions of several classifiers that output logits ``(N, C)``.

    ``combine`` says what is averaged (``T`` the temperature, 1 by default)::

        'proba'   p̄ = Σ_m w_m · softmax(z_m / T)          (the default)
        'logits'  p̄ = softmax(Σ_m w_m · z_m / T)
        'vote'    p̄_c = Σ_m w_m · [argmax z_m = c]          (majority vote)

    ``weights`` (default equal) are normalised to sum to 1. The members may differ
    in architecture but must give logits of one shape (a ValueError otherwise).

    Outputs:
        * ``ensemble(x)`` (``forward``): scores usable as logits, so the
          ensemble plugs into ``train.evaluate``, ``F.cross_entropy`` and
          metrics: ``log p̄`` for ``'proba'`` and ``'vote'`` (softmax(log p̄)
          = p̄, and the cross-entropy of ``log p̄`` is the ensemble's NLL),
          the averaged logits for ``'logits'``. Runs in the ensemble's current
          mode and records a graph like any module: call ``ensemble.eval()``
          first to predict.
        * ``predict_proba(x, temperature=1.0)``: p̄ ``(N, C)``, in eval mode and
          without a graph (afterwards every member and sub-module is back in
          the mode it had, not the ensemble's).
        * ``predict(x)``: the labels ``argmax p̄`` ``(N,)``, int64.

    The members are registered sub-modules (``ensemble.members``), so ``.to``,
    ``.eval()``, ``state_dict()`` and ``parameters()`` cover all of them.
    """

    def __init__(self, models: Sequence[Module], weights: Sequence[float] | None = None,
                 combine: str = "proba"):
        super().__init__()
        models = list(models)
        if not models:
            raise ValueError("Ensemble: needs at least one model")
        if combine not in ("proba", "logits", "vote"):
            raise ValueError(f"Ensemble: combine must be 'proba', 'logits' or 'vote', "
                             f"got {combine!r}")
        if weights is None:
            weights = [1.0] * len(models)
        weights = [float(weight) for weight in weights]
        if len(weights) != len(models) or any(not 0 <= weight < math.inf for weight in weights) \
                or sum(weights) <= 0:
            raise ValueError(f"Ensemble: need one finite non-negative weight per model "
                             f"({len(models)} models), not all zero; got {weights}")
        self.members = ModuleList(models)
        weights = [weight / max(weights) for weight in weights]   # a sum of 1e308s overflows
        self.weights = [weight / sum(weights) for weight in weights]
        self.combine = combine

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, index: int) -> Module:
        return self.members[index]

    def __iter__(self):
        return iter(self.members)

    def _probabilities(self, x, temperature: float) -> Tensor:
        """p̄ (N, C) of the rule ``combine``, in the current mode, with a graph if enabled."""
        logits = self._member_logits(x)                                     # M × (N, C)
        if self.combine == "logits":
            average = sum(w * z for w, z in zip(self.weights, logits))       # Σ w_m z_m
            return F.softmax(average / temperature, dim=1)                  # (N, C)
        if self.combine == "vote":
            num_classes = logits[0].shape[1]
            one_hot = tg.eye(num_classes, dtype=logits[0].dtype,             # (C, C)
                             device=logits[0].device)
            return sum(w * one_hot[z.argmax(dim=1)]                 # Σ w_m [argmax z_m = c]
                       for w, z in zip(self.weights, logits))
        return sum(w * F.softmax(z / temperature, dim=1)                     # Σ w_m softmax(z_m/T)
                   for w, z in zip(self.weights, logits))

    def _member_logits(self, x) -> list[Tensor]:
        """Each member's logits ``z_m``, checked to share one shape (else they would broadcast)."""
        logits = [member(x) for member in self.members]                     # M × (N, C)
        shapes = [tuple(z.shape) for z in logits]
        if len(set(shapes)) > 1:
            raise ValueError(f"Ensemble: the members' outputs differ in shape {shapes}; every "
                             f"member must give logits (N, C) over the same C classes")
        return logits

    def forward(self, x) -> Tensor:
        """Scores usable as logits: ``log p̄`` (proba, vote) or ``Σ w_m z_m`` (logits)."""
        if self.combine == "logits":
            return sum(w * z for w, z in zip(self.weights, self._member_logits(x)))
        return self._probabilities(x, 1.0).clip(TINY, None).log()           # (N, C)

    def predict_proba(self, x, temperature: float = 1.0) -> Tensor:
        """The ensemble's probabilities p̄ ``(N, C)`` (eval mode, no graph)."""
        if not temperature > 0:
            raise ValueError(f"Ensemble.predict_proba: temperature must be > 0, "
                             f"got {temperature}")
        with no_grad(), eval_mode(self):
            return self._probabilities(x, temperature)

    def predict(self, x) -> Tensor:
        """The predicted labels ``argmax_c p̄_c`` ``(N,)`` (eval mode, no graph)."""
        return self.predict_proba(x).argmax(dim=1)

    def extra_repr(self) -> str:
        weights = "" if len(set(self.weights)) == 1 else f", weights={self.weights}"
        return f"combine={self.combine!r}{weights}"


# --- 1. different initialisations ---------------------------------------------------

def train_seeds(make_model: Callable[[], Module], make_optimizer: Callable, loss_fn: Callable,
                train_loader: Iterable, seeds: Sequence[int], epochs: int = 1,
                val_loader: Iterable | None = None, combine: str = "proba",
                **fit_kwargs) -> Ensemble:
    """Train one model per seed with :func:`tinygrad_opt.train.fit`; return their :class:`Ensemble`.

    For each seed: ``tg.manual_seed(seed)``, ``model = make_model()``,
    ``optimizer = make_optimizer(model.parameters())`` (e.g.
    ``lambda params: optim.Adam(params, lr=1e-3)``), then ``fit`` for
    ``epochs`` (extra keywords go to ``fit``; ``progress`` defaults to False).
    A loader built with ``seed=None`` shuffles from the framework's generator,
    so members also see different batch orders; a loader with a fixed seed
    gives every member the same order (the diversity is then the
    initialisation alone).

    The returned ensemble has ``histories``: each member's ``History``.
    """
    from tinygrad_opt.train import fit
    seeds = list(seeds)
    if not seeds:
        raise ValueError("train_seeds: needs at least one seed")
    fit_kwargs.setdefault("progress", False)
    models, histories = [], []
    for seed in seeds:
        tg.manual_seed(seed)
        model = make_model()
        optimizer = make_optimizer(model.parameters())
        histories.append(fit(model, optimizer, loss_fn, train_loader, val_loader,
                             epochs=epochs, **fit_kwargs))
        models.append(model)
    ensemble = Ensemble(models, combine=combine)
    ensemble.histories = histories
    return ensemble


# --- 2. the top models of a search -----------------------------------------------------

def from_search(result, k: int = 5, make_model: Callable[[dict], Module] | None = None,
                combine: str = "proba") -> Ensemble:
    """An :class:`Ensemble` of the ``k`` best trials of a ``tune`` search.

    The objective must leave the trained weights in its extras, one of::

        return {"value": val_accuracy, "model": model}                   # the model itself
        return {"value": val_accuracy,                                    # or its weights
                "state_dict": {name: t.numpy() for name, t in model.state_dict().items()}}

    For ``'state_dict'`` pass ``make_model(params)`` that builds the
    architecture of a configuration; the weights are loaded into it. (With a
    process pool, returning the state dict as NumPy arrays is the light
    choice: extras travel back by pickling.) Trials are ranked by
    ``result.ranked()`` (best first, ``mode`` respected); trials without
    weights are skipped; fewer than ``k`` usable trials give a smaller
    ensemble.
    """
    if not whole_number(k):
        raise ValueError(f"from_search: k must be a positive integer, got {k!r}")
    models = []
    for trial in result.ranked():
        if len(models) == k:
            break
        if "model" in trial.extras:
            models.append(trial.extras["model"])
        elif "state_dict" in trial.extras:
            if make_model is None:
                raise ValueError("from_search: the trials carry a 'state_dict'; pass "
                                 "make_model(params) to build the model it belongs to")
            model = make_model(trial.params)
            model.load_state_dict(trial.extras["state_dict"])
            models.append(model)
    if not models:
        raise ValueError("from_search: no successful trial has a 'model' or 'state_dict' in "
                         "its extras; return one from the objective (see the docstring)")
    return Ensemble(models, combine=combine)


# --- 3. checkpoints of one run ------------------------------------------------------------

def _copy_state(model: Module) -> dict:
    """A snapshot of ``model.state_dict()``: copies of the arrays (the state shares memory)."""
    return snapshot(model, lambda tensor: Tensor(tensor.data.copy(), device=tensor.device))


class SnapshotCollector:
    """A ``fit`` callback that keeps copies of the model's weights at chosen epochs.

    Exactly one of:
        epochs: the epochs (0-based, as ``fit`` counts) to keep, e.g. ``[9, 19, 29]``;
        every: keep epochs ``every-1, 2·every-1, ...`` (the ends of lr cycles
            with :func:`cyclic_cosine` of the same length);
        last: keep only the last ``last`` epochs seen.

    ``snapshots`` is the list of state dicts, ``snapshot_epochs`` their epochs;
    ``ensemble()`` builds an :class:`Ensemble` of them::

        collector = SnapshotCollector(model, last=5)
        fit(model, optimizer, loss_fn, train_loader, epochs=30, callbacks=[collector])
        ensemble = collector.ensemble()
    """

    def __init__(self, model: Module, epochs: Sequence[int] | None = None,
                 every: int | None = None, last: int | None = None):
        if sum(option is not None for option in (epochs, every, last)) != 1:
            raise ValueError("SnapshotCollector: give exactly one of epochs, every, last")
        for name, value in (("every", every), ("last", last)):
            if value is not None and not whole_number(value):
                raise ValueError(f"SnapshotCollector: {name} must be a positive integer, "
                                 f"got {value!r}")
        if epochs is not None:
            epochs = list(epochs)
            if not all(whole_number(epoch, minimum=0) for epoch in epochs):
                raise ValueError(f"SnapshotCollector: epochs must be whole numbers >= 0 "
                                 f"(0-based, as fit counts), got {epochs!r}")
        self.model = model
        self.epochs = None if epochs is None else set(int(epoch) for epoch in epochs)
        self.every = None if every is None else int(every)
        self.last = None if last is None else int(last)
        self._kept = deque(maxlen=self.last)     # (epoch, state) pairs; bounded for `last`

    def wants(self, epoch: int) -> bool:
        """Whether the weights at the end of ``epoch`` are kept."""
        if self.epochs is not None:
            return epoch in self.epochs
        if self.every is not None:
            return (epoch + 1) % self.every == 0
        return True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.wants(epoch):
            self._kept.append((epoch, _copy_state(self.model)))

    @property
    def snapshots(self) -> list[dict]:
        return [state for _, state in self._kept]

    @property
    def snapshot_epochs(self) -> list[int]:
        return [epoch for epoch, _ in self._kept]

    def ensemble(self, combine: str = "proba") -> Ensemble:
        """An :class:`Ensemble` of copies of the model, one per snapshot."""
        return snapshot_ensemble(self.model, self.snapshots, combine=combine)


def snapshot_ensemble(model: Module, snapshots: Sequence[dict],
                      combine: str = "proba") -> Ensemble:
    """An :class:`Ensemble` of deep copies of ``model``, each loaded with one state dict."""
    snapshots = list(snapshots)
    if not snapshots:
        raise ValueError("snapshot_ensemble: no snapshots (did the collector see any epoch?)")
    members = []
    for state in snapshots:
        member = copy.deepcopy(model)
        member.load_state_dict(state)
        members.append(member)
    return Ensemble(members, combine=combine)


def cyclic_cosine(epochs_per_cycle: int) -> Callable[[int], float]:
    """A factor for ``LambdaLR``: cosine annealing restarted every ``epochs_per_cycle`` steps.

        λ(t) = ½ · (1 + cos(π · (t mod C) / C))      C = epochs_per_cycle

    Stepped once per epoch, the learning rate falls from α0 towards 0 over C
    epochs, then jumps back to α0. The weights at the end of each cycle (epochs
    C−1, 2C−1, ...: ``SnapshotCollector(model, every=C)``) sit in different
    minima and make a snapshot ensemble::

        scheduler = optim.lr_scheduler.LambdaLR(optimizer, cyclic_cosine(10))
        collector = SnapshotCollector(model, every=10)
        fit(..., epochs=50, scheduler=scheduler, callbacks=[collector])
    """
    if not whole_number(epochs_per_cycle):
        raise ValueError(f"cyclic_cosine: epochs_per_cycle must be a positive integer, "
                         f"got {epochs_per_cycle!r}")

    def factor(t: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * (t % epochs_per_cycle) / epochs_per_cycle))
    return factor


# --- distillation ------------------------------------------------------------------------------

def soft_targets(teacher, x, temperature: float = 1.0) -> Tensor:
    """The teacher's probabilities at temperature T, ``(N, C)``, eval mode, no graph.

    ``softmax(teacher(x) / T)`` for a model; for an :class:`Ensemble` its
    ``predict_proba(x, T)`` (the average of the members' softened
    probabilities, as in Hinton et al.).
    """
    if isinstance(teacher, Ensemble):
        return teacher.predict_proba(x, temperature)
    with no_grad(), eval_mode(teacher):
        return F.softmax(teacher(x) / temperature, dim=1)


def distillation_loss(student_logits: Tensor, teacher_probs: Tensor, target=None,
                      temperature: float = 4.0, alpha: float = 0.5) -> Tensor:
    """Hinton's distillation loss, averaged over the batch::

        p_t = teacher_probs                 (the teacher's softmax(t / T), see soft_targets)
        log p_s = log_softmax(s / T)        (s = student_logits)
        KL = (1/N) Σ_n Σ_c p_t (log p_t − log p_s)
        loss = α · T² · KL + (1 − α) · CE(s, y)

    The T² keeps the soft term's gradients on the same scale as the hard one's
    when T changes (the gradient of the KL term scales as 1/T²). CE is
    ``F.cross_entropy`` on the unscaled logits with the labels ``target``
    (not needed when ``alpha == 1``). ``0·log 0`` counts as 0.
    """
    if not temperature > 0:
        raise ValueError(f"distillation_loss: temperature must be > 0, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"distillation_loss: alpha must lie in [0, 1], got {alpha}")
    if tuple(student_logits.shape) != tuple(teacher_probs.shape):
        raise ValueError(f"distillation_loss: student logits {tuple(student_logits.shape)} and "
                         f"teacher probabilities {tuple(teacher_probs.shape)} differ in shape")
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)        # (N, C)
    log_p_teacher = teacher_probs.clip(TINY, None).log()                      # (N, C)
    kl = (teacher_probs * (log_p_teacher - log_p_student)).sum(dim=1).mean()  # KL(p_t ‖ p_s)
    loss = alpha * temperature ** 2 * kl
    if alpha < 1.0:
        if target is None:
            raise ValueError("distillation_loss: alpha < 1 needs the labels (target)")
        loss = loss + (1.0 - alpha) * F.cross_entropy(student_logits, target)
    return loss


def distill(teacher, student: Module, loader: Iterable, temperature: float = 4.0,
            alpha: float = 0.5, optimizer=None, epochs: int = 1,
            val_loader: Iterable | None = None, progress: bool = False):
    """Train ``student`` on the teacher's softened probabilities and the labels.

    Each batch ``(x, y)`` of ``loader``: ``p_t = soft_targets(teacher, x, T)``
    (no graph; the teacher stays frozen), then one step of ``optimizer``
    (default ``optim.Adam(student.parameters(), lr=1e-3)``) on
    :func:`distillation_loss` ``(student(x), p_t, y, T, alpha)``.

    Returns a ``train.History`` with ``train_loss`` per epoch (the mean
    distillation loss) and, with ``val_loader``, ``val_accuracy`` of the student.
    ``progress=True`` prints one line per epoch.
    """
    from tinygrad_opt import optim
    from tinygrad_opt.train import History, evaluate
    if not whole_number(epochs):
        raise ValueError(f"distill: epochs must be a positive integer, got {epochs!r}")
    if optimizer is None:
        optimizer = optim.Adam(student.parameters(), lr=1e-3)
    history = History(monitor="train_loss")
    for epoch in range(epochs):
        student.train()
        total, count = 0.0, 0
        for x, y in loader:
            teacher_probs = soft_targets(teacher, x, temperature)                # (N, C)
            optimizer.zero_grad()
            loss = distillation_loss(student(x), teacher_probs, y, temperature, alpha)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            count += len(y)
        logs = {"epoch": epoch, "train_loss": total / max(count, 1)}
        if val_loader is not None:
            logs["val_accuracy"] = evaluate(student, val_loader, metrics=("accuracy",))["accuracy"]
        history.append(logs)
        if progress:
            shown = "  ".join(f"{key} {value:.4f}" for key, value in logs.items() if key != "epoch")
            print(f"distill epoch {epoch + 1}/{epochs}  {shown}", flush=True)
    return history


# --- bagging: one bootstrap sample of the training set per member ----------------------------

class _TransformedLoader:
    """The batches of ``loader`` with ``transform`` applied to their inputs (augmentation)."""

    def __init__(self, loader, transform: Callable):
        self.loader = loader
        self.transform = transform

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            yield self.transform(x), y


def trainer(make_optimizer: Callable, loss_fn: Callable, epochs: int = 1, batch_size: int = 32,
            transform: Callable | None = None, device: str | None = None,
            **fit_kwargs) -> Callable[[Module, object], object]:
    """A ``train_fn(model, dataset)`` for :func:`bagging`: one member's training by ``fit``.

    The returned function moves ``model`` to ``device`` (in place; None: the default
    device, ``tg.get_default_device()`` when it runs), builds
    ``optimizer = make_optimizer(model.parameters())`` (e.g.
    ``lambda params: optim.Adam(params, lr=1e-3)``) and runs
    :func:`tinygrad_opt.train.fit` with ``loss_fn`` for ``epochs`` on a shuffled
    ``DataLoader`` of ``dataset`` (``batch_size``; the batch order is seeded by
    ``tg.initial_seed()``, which inside :func:`bagging` is the member's seed
    ``seed + m``; with no seed set, by the framework's generator). ``transform``,
    if given, is applied to every training batch's inputs (data augmentation,
    e.g. ``data.RandomShiftRotate``). Extra keywords go to ``fit`` (e.g.
    ``val_loader``; ``progress`` defaults to False). It returns fit's ``History``::

        bag = ensemble.bagging(make_model, ensemble.trainer(make_optimizer, F.cross_entropy,
                                                            epochs=10), train_set, 5, 0)
    """
    from tinygrad_opt.data import DataLoader
    from tinygrad_opt.train import fit
    fit_kwargs.setdefault("progress", False)

    def train_fn(model: Module, dataset):
        home = tg.get_default_device() if device is None else device
        model.to(home)
        optimizer = make_optimizer(model.parameters())
        seed = tg.initial_seed() if randomness.seeded else None  # (unseeded: a new order)
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=seed,
                            device=home)
        train_loader = loader if transform is None else _TransformedLoader(loader, transform)
        return fit(model, optimizer, loss_fn, train_loader, epochs=epochs, **fit_kwargs)
    return train_fn


_BAGGING_SIGNATURE = ("bagging(make_model, train_fn, dataset, n_models=5, seed=0, *, "
                      "max_samples=1.0, bootstrap=True, combine='proba')")


def bagging(make_model: Callable[[], Module], train_fn: Callable, dataset, n_models: int = 5,
            seed: int = 0, *, max_samples: float = 1.0, bootstrap: bool = True,
            combine: str = "proba") -> Ensemble:
    """Bootstrap aggregating: ``n_models`` models, each trained on a bootstrap sample.

    For member m = 0, 1, ...: draw ``round(max_samples · N)`` indices from the
    N samples of ``dataset`` uniformly *with replacement* (a bootstrap sample:
    with ``max_samples = 1`` it holds about 1 − 1/e ≈ 63% of the distinct
    samples, some several times; ``bootstrap=False`` draws *without*
    replacement, so with ``max_samples = 1`` every member sees the whole set
    and differs only by its seed, as :func:`train_seeds`), then
    ``tg.manual_seed(seed + m)``, ``model = make_model()`` and
    ``train_fn(model, Subset(dataset, indices))``, which trains the model in
    place. :func:`trainer` builds the usual ``train_fn`` (an optimizer, a
    shuffled loader whose batch order is seeded by the member's seed, ``fit``
    for some epochs, optional augmentation)::

        train_fn = ensemble.trainer(lambda params: optim.Adam(params, lr=1e-3),
                                    F.cross_entropy, epochs=10, batch_size=32)
        bag = ensemble.bagging(make_model, train_fn, train_set, n_models=5, seed=0)

    The average of the members (:class:`Ensemble`, ``combine``) has a lower
    variance than one member: each member overfits its own sample, and the
    average keeps what they agree on. The bootstrap indices are drawn from
    ``numpy.random.default_rng(seed)``, so one seed fixes the whole ensemble.

    Returns the :class:`Ensemble`, with ``histories`` (what ``train_fn``
    returned for each member: a ``History`` for :func:`trainer`, or None),
    ``bootstrap_indices`` (each member's sample, int64) and ``out_of_bag``
    (each member's unseen indices: a free validation set for that member;
    empty without bootstrap and ``max_samples = 1``).
    """
    import numpy as np
    from tinygrad_opt.data import Subset
    if callable(dataset) or not (hasattr(dataset, "__len__")
                                 and hasattr(dataset, "__getitem__")):
        raise TypeError(f"bagging: the third argument must be the dataset (with __len__ and "
                        f"__getitem__), got {type(dataset).__name__}; the signature is "
                        f"{_BAGGING_SIGNATURE}. For the old (make_model, make_optimizer, "
                        f"loss_fn, dataset, ...) call pass train_fn=ensemble.trainer("
                        f"make_optimizer, loss_fn, epochs=..., batch_size=...)")
    if not callable(train_fn):
        raise TypeError(f"bagging: train_fn must be callable as train_fn(model, dataset), got "
                        f"{type(train_fn).__name__}; the signature is {_BAGGING_SIGNATURE}. "
                        f"ensemble.trainer(make_optimizer, loss_fn, ...) builds one")
    if not whole_number(n_models):
        raise ValueError(f"bagging: n_models must be a positive integer, got {n_models!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"bagging: seed must be an integer >= 0 (it seeds the bootstrap "
                        f"samples and member m's model with seed + m), got {seed!r}")
    if not 0.0 < max_samples <= 1.0:
        raise ValueError(f"bagging: max_samples must lie in (0, 1], got {max_samples!r}")
    n = len(dataset)
    if n == 0:
        raise ValueError("bagging: the dataset is empty")
    sample_size = max(1, int(round(max_samples * n)))
    rng = np.random.default_rng(seed)
    models, histories, samples, out_of_bag = [], [], [], []
    for member in range(int(n_models)):
        if bootstrap:
            indices = rng.integers(0, n, size=sample_size)              # with replacement
        else:
            indices = rng.permutation(n)[:sample_size]                  # without
        tg.manual_seed(seed + member)
        model = make_model()
        histories.append(train_fn(model, Subset(dataset, indices)))   # trains model in place
        models.append(model)
        samples.append(indices.astype(np.int64))
        out_of_bag.append(np.setdiff1d(np.arange(n), indices).astype(np.int64))
    ensemble = Ensemble(models, combine=combine)
    ensemble.histories = histories
    ensemble.bootstrap_indices = samples
    ensemble.out_of_bag = out_of_bag
    return ensemble
