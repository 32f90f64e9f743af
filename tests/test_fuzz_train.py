"""Property-based fuzzing of the training workflow, ``tinygrad_opt.train``.

* ``fit``: every per-epoch number of its History (train and validation loss, the metrics
  on the whole epoch's outputs, ``lr`` at the start of the epoch), the per-batch losses its
  callbacks see and the final weights equal those of a plain loop written here: the same
  float64 model (Linear, or Linear-Dropout-Tanh-Linear), the same batch order (no shuffle,
  a seeded loader, or the framework's generator), the same optimizer (SGD, momentum, Adam),
  ``nn.utils.clip_grad_norm_`` after each backward, and the learning rate set by hand from
  the schedules' closed forms (StepLR per epoch, ExponentialLR per batch) or from PyTorch's
  ReduceLROnPlateau rule fed the validation loss (the training loss without validation);
  callbacks in order with their documented arguments, one returning True stops training;
* ``EarlyStopping`` stepped by hand and inside ``fit`` (a scripted monitored value drawn on
  a grid of binary fractions, so ties and ``min_delta`` boundaries are exact, NaN
  included), against its docstring's rule: which epoch stops, best value and epoch,
  ``min_delta`` in min and max mode, ``restore_best`` putting back the best epoch's weights;
* ``evaluate`` on batches of drawn, unequal sizes: the sample mean of the loss, metrics,
  and every sub-module's own train/eval flag put back;
* ``History``: ``best_epoch`` (first of ties, NaN skipped, ``val_`` falling back to
  ``train_``), its keys, ``as_dict`` as an independent copy.

Examples per property: TRAIN_FUZZ_EXAMPLES (default 10), e.g.
TRAIN_FUZZ_EXAMPLES=300 HYPOTHESIS_PROFILE=explore for a bug hunt.
"""

import math

import numpy as np
import pytest
from fuzzing import examples, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import nn, optim
from tinygrad_opt.data import DataLoader, TensorDataset
from tinygrad_opt.optim import lr_scheduler
from tinygrad_opt.train import EarlyStopping, History, evaluate, fit

EXAMPLES = examples("TRAIN_FUZZ_EXAMPLES", 10)
F64 = tg.float64
RTOL, ATOL = 1e-9, 1e-12                 # float64, same ops: only schedule rounding differs
PLATEAU_FACTOR = 0.5


def weighted_by_position(y_true, outputs):
    """A metric that sees the order of the epoch's samples and of its outputs."""
    n = len(y_true)
    return float(np.dot(np.arange(1, n + 1), np.reshape(y_true, (n, -1))[:, 0]
                        + np.reshape(outputs, (n, -1))[:, 0]))


# --- reference metrics (scikit-learn's definitions) -------------------------------------------

def ref_f1_macro(y, pred):
    scores = []
    for c in sorted(set(y.tolist()) | set(pred.tolist())):
        tp = np.sum((pred == c) & (y == c))
        fp = np.sum((pred == c) & (y != c))
        fn = np.sum((pred != c) & (y == c))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def ref_metrics(names, prefix, ys, outs):
    y, out = np.concatenate(ys), np.concatenate(outs)
    results = {}
    for name in names:
        if name == "accuracy":
            results[prefix + name] = float(np.mean(out.argmax(axis=1) == y))
        elif name == "f1_macro":
            results[prefix + name] = ref_f1_macro(y, out.argmax(axis=1))
        else:
            n = len(y)
            results[prefix + "weighted_by_position"] = float(
                sum((i + 1) * (y.reshape(n, -1)[i, 0] + out.reshape(n, -1)[i, 0])
                    for i in range(n)))
    return results


# --- the problem: drawn sizes, model, optimizer, schedule -----------------------------------

SCHEDULERS = [None, "step", "exponential_batch", "plateau"]


@st.composite
def problems(draw, schedulers=st.sampled_from(SCHEDULERS)):
    classes = draw(st.sampled_from([0, 2, 3]))          # 0: regression with MSE
    n_train = draw(st.integers(1, 11))
    drop_last = draw(st.booleans())
    names = ["accuracy", "f1_macro", "weighted_by_position"] if classes else \
        ["weighted_by_position"]
    return dict(
        seed=draw(st.integers(0, 2 ** 16)), classes=classes, n_train=n_train,
        n_val=draw(st.integers(1, 9) | st.none()), features=draw(st.integers(1, 3)),
        hidden=draw(st.sampled_from([0, 0, 3])), dropout=draw(st.sampled_from([0.0, 0.5])),
        batch_size=draw(st.integers(1, n_train if drop_last else n_train + 2)),
        val_batch_size=draw(st.integers(1, 4)), drop_last=drop_last,
        shuffle=draw(st.sampled_from([None, "seeded", "framework"])),
        optimizer=draw(st.sampled_from(["sgd", "momentum", "adam"])),
        lr=draw(st.sampled_from([0.01, 0.1, 0.5])),
        clip=draw(st.none() | st.sampled_from([0.05, 0.5, 5.0])),
        scheduler=draw(schedulers),
        step_size=draw(st.integers(1, 3)), gamma=draw(st.sampled_from([0.5, 0.75])),
        plateau_patience=draw(st.integers(0, 2)), epochs=draw(st.integers(2, 6)),
        plateau_threshold=draw(st.sampled_from([1e-4, 0.3])),    # 0.3: frequent cuts
        metrics=draw(st.lists(st.sampled_from(names), unique=True, max_size=3)),
    )


def build(p):
    """Model, optimizer, loss and loaders of problem ``p``; the same objects on every call."""
    tg.manual_seed(p["seed"])
    out = p["classes"] or 1
    d = p["features"]
    if p["hidden"]:
        model = nn.Sequential(nn.Linear(d, p["hidden"], dtype=F64), nn.Dropout(p["dropout"]),
                              nn.Tanh(), nn.Linear(p["hidden"], out, dtype=F64))
    else:
        model = nn.Linear(d, out, dtype=F64)
    if p["optimizer"] == "adam":
        optimizer = optim.Adam(model.parameters(), lr=p["lr"])
    else:
        optimizer = optim.SGD(model.parameters(), lr=p["lr"],
                              momentum=0.9 if p["optimizer"] == "momentum" else 0.0)
    rng = np.random.default_rng(p["seed"])
    X = rng.normal(size=(p["n_train"], d))
    y = rng.integers(0, p["classes"], size=len(X)) if p["classes"] else \
        rng.normal(size=(len(X), 1))
    shuffle = p["shuffle"] is not None
    train = DataLoader(TensorDataset(X, y), batch_size=p["batch_size"], shuffle=shuffle,
                       drop_last=p["drop_last"],
                       seed=p["seed"] if p["shuffle"] == "seeded" else None)
    val = None
    if p["n_val"] is not None:     # the training inputs with wrong targets: val loss rises
        rows = np.arange(p["n_val"]) % len(X)
        wrong = (y[rows] + 1) % p["classes"] if p["classes"] else -y[rows]
        val = DataLoader(TensorDataset(X[rows], wrong), batch_size=p["val_batch_size"])
    loss_fn = nn.CrossEntropyLoss() if p["classes"] else nn.MSELoss()
    return model, optimizer, loss_fn, train, val


def make_scheduler(p, optimizer):
    if p["scheduler"] == "step":
        return lr_scheduler.StepLR(optimizer, step_size=p["step_size"], gamma=p["gamma"])
    if p["scheduler"] == "exponential_batch":
        return lr_scheduler.ExponentialLR(optimizer, gamma=p["gamma"])
    if p["scheduler"] == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, factor=PLATEAU_FACTOR,
                                              patience=p["plateau_patience"],
                                              threshold=p["plateau_threshold"])
    return None


def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr


def snapshot(model):
    return {key: np.array(tensor.numpy(), copy=True) for key, tensor in model.state_dict().items()}


def reference_fit(p):
    """The loop of the notes, written out; the schedules set ``lr`` from their own rules.

    Returns one logs dict per epoch, the weights after each epoch, each epoch's
    per-batch ``(loss, batch_size)`` and the learning rate after each epoch.
    """
    model, optimizer, loss_fn, train, val = build(p)
    rows, weights, batches, lr_after = [], [], [], []
    steps = 0
    best, bad = math.inf, 0                                 # ReduceLROnPlateau's state
    for epoch in range(p["epochs"]):
        lr = optimizer.param_groups[0]["lr"]
        model.train()
        losses, sizes, ys, outs = [], [], [], []
        for x, y in train:
            optimizer.zero_grad()
            output = model(x)
            loss = loss_fn(output, y)
            loss.backward()
            if p["clip"] is not None:
                nn.utils.clip_grad_norm_(model.parameters(), p["clip"])
            optimizer.step()
            steps += 1
            if p["scheduler"] == "exponential_batch":
                set_lr(optimizer, p["lr"] * p["gamma"] ** steps)       # α0·γ^t
            losses.append(loss.item())
            sizes.append(len(y))
            ys.append(y.numpy())
            outs.append(output.detach().numpy())
        batches.append(list(zip(losses, sizes)))
        row = {"epoch": epoch, "train_loss": float(np.average(losses, weights=sizes))}
        row.update(ref_metrics(p["metrics"], "train_", ys, outs))
        if val is not None:
            model.eval()
            losses, sizes, ys, outs = [], [], [], []
            with tg.no_grad():
                for x, y in val:
                    output = model(x)
                    losses.append(loss_fn(output, y).item())
                    sizes.append(len(y))
                    ys.append(y.numpy())
                    outs.append(output.numpy())
            row["val_loss"] = float(np.average(losses, weights=sizes))
            row.update(ref_metrics(p["metrics"], "val_", ys, outs))
        row["lr"] = lr
        if p["scheduler"] == "step":
            set_lr(optimizer, p["lr"] * p["gamma"] ** ((epoch + 1) // p["step_size"]))
        elif p["scheduler"] == "plateau":                   # PyTorch's rule, mode min, rel
            metric = row.get("val_loss", row["train_loss"])
            if metric < best * (1 - p["plateau_threshold"]):
                best, bad = metric, 0
            else:
                bad += 1
            if bad > p["plateau_patience"]:
                if lr - lr * PLATEAU_FACTOR > 1e-8:
                    set_lr(optimizer, lr * PLATEAU_FACTOR)
                bad = 0
        rows.append(row)
        weights.append(snapshot(model))
        lr_after.append(optimizer.param_groups[0]["lr"])
    return rows, weights, batches, lr_after


def fit_metrics(p):
    return [weighted_by_position if name == "weighted_by_position" else name
            for name in p["metrics"]]


def assert_rows_equal(history, rows):
    assert set(history.keys()) == set(rows[0])
    assert len(history) == len(rows)
    for key in rows[0]:
        expected = [row[key] for row in rows]
        if key == "epoch":
            assert history[key] == expected
        else:
            np.testing.assert_allclose(history[key], expected, rtol=RTOL, atol=ATOL, err_msg=key)


def assert_weights_equal(model, expected):
    got = snapshot(model)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=RTOL, atol=ATOL, err_msg=key)


def ref_best_epoch(values, mode):
    """First epoch with the lowest (highest) value, NaN skipped; None if there is none."""
    best = None
    for epoch, value in enumerate(values):
        if math.isnan(value):
            continue
        if best is None or (value < values[best] if mode == "min" else value > values[best]):
            best = epoch
    return best


# --- fit against the reference loop ----------------------------------------------------------

class Recorder:
    """Logs every hook call (with the model's mode) into ``events``; may stop at an epoch."""

    def __init__(self, model, events, stop_at):
        self.model, self.events, self.stop_at = model, events, stop_at

    def on_train_begin(self, logs):
        self.events.append(("begin", dict(logs), self.model.training))

    def on_batch_end(self, batch, logs):
        self.events.append(("batch", batch, dict(logs), self.model.training))

    def on_epoch_end(self, epoch, logs):
        self.events.append(("epoch", epoch, dict(logs), self.model.training))
        return epoch == self.stop_at

    def on_train_end(self, logs):
        self.events.append(("end", dict(logs), self.model.training))


@pytest.mark.parametrize("schedule", SCHEDULERS)
@given(data=st.data())
@fuzz_settings(EXAMPLES)
def test_fit_matches_a_reference_loop(schedule, data):
    p = data.draw(problems(st.just(schedule)), label="problem")
    stop_at = data.draw(st.none() | st.integers(0, p["epochs"] - 1), label="stop_at")
    rows, weights, batches, lr_after = reference_fit(p)

    model, optimizer, loss_fn, train, val = build(p)
    scheduler = make_scheduler(p, optimizer)
    events = []
    recorder = Recorder(model, events, stop_at)
    history = fit(model, optimizer, loss_fn, train, val, epochs=p["epochs"],
                  scheduler=scheduler, clip_grad_norm=p["clip"], metrics=fit_metrics(p),
                  progress=False, callbacks=[recorder, lambda epoch, logs: events.append(
                      ("function", epoch, dict(logs)))],
                  scheduler_interval="batch" if p["scheduler"] == "exponential_batch"
                  else "epoch")

    ran = p["epochs"] if stop_at is None else stop_at + 1
    rows = rows[:ran]
    assert_rows_equal(history, rows)
    assert history.stopped_epoch == stop_at
    assert_weights_equal(model, weights[ran - 1])
    assert math.isclose(optimizer.param_groups[0]["lr"], lr_after[ran - 1], rel_tol=RTOL)
    monitor = "val_loss" if p["n_val"] is not None else "train_loss"
    assert history.best_epoch == ref_best_epoch([row[monitor] for row in rows], "min")
    if p["scheduler"] == "step":
        assert scheduler.last_epoch == ran
    elif p["scheduler"] == "exponential_batch":
        assert scheduler.last_epoch == sum(len(epoch) for epoch in batches[:ran])

    # the callbacks: begin, per epoch its batches then on_epoch_end (object, then function)
    assert events[0][:2] == ("begin", {})
    position = 1
    for epoch in range(ran):
        logs = {key: history[key][epoch] for key in history.keys()}
        for batch, (loss, size) in enumerate(batches[epoch]):
            kind, index, batch_logs, training = events[position]
            assert (kind, index, set(batch_logs), training) == \
                ("batch", batch, {"loss", "batch_size"}, True)
            assert batch_logs["batch_size"] == size
            assert math.isclose(batch_logs["loss"], loss, rel_tol=RTOL, abs_tol=ATOL)
            position += 1
        assert events[position] == ("epoch", epoch, logs, True)       # eval mode undone
        assert events[position + 1] == ("function", epoch, logs)
        position += 2
    assert events[position:] == [("end", logs, True)]                # the last epoch's logs


# --- EarlyStopping ---------------------------------------------------------------------------

# few values, exact in binary: ties and ``value == best ∓ min_delta`` come up often
GRID = st.sampled_from([0.5, 0.25, 0.75, 0.0, 1.0, math.nan])


def ref_early_stopping(values, patience, min_delta, mode):
    """The docstring's rule: improve means beat the best by more than min_delta; stop after
    ``patience`` consecutive epochs without improvement. Returns (stop epoch or None,
    best, best epoch, epochs without improvement)."""
    best, best_epoch, bad = (math.inf if mode == "min" else -math.inf), None, 0
    for epoch, value in enumerate(values):
        improved = value < best - min_delta if mode == "min" else value > best + min_delta
        if improved:
            best, best_epoch, bad = value, epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return epoch, best, best_epoch, bad
    return None, best, best_epoch, bad


early_stopping_settings = dict(
    patience=st.integers(0, 3), min_delta=st.sampled_from([0, 0.25, 0.5]))


@pytest.mark.parametrize("mode", ["min", "max"])
@given(values=st.lists(GRID, min_size=1, max_size=12), restore_best=st.booleans(),
       **early_stopping_settings)
@fuzz_settings(EXAMPLES)
def test_early_stopping_steps_as_documented(values, patience, min_delta, mode, restore_best):
    for start in range(len(values)):                        # every suffix: more sequences
        sequence = values[start:]
        stop, best, best_epoch, bad = ref_early_stopping(sequence, patience, min_delta, mode)
        model = nn.Linear(2, 1, dtype=F64)
        stopper = EarlyStopping(patience=patience, min_delta=min_delta, mode=mode,
                                restore_best=restore_best)
        decisions = []
        for epoch, value in enumerate(sequence):
            with tg.no_grad():
                model.weight.data[...] = epoch               # the weights say their epoch
                model.bias.data[...] = -epoch
            decisions.append(stopper.step(value, model))
            if decisions[-1]:
                break
        ran = len(sequence) if stop is None else stop + 1
        assert decisions == [False] * (ran - 1) + [stop is not None]
        assert stopper.stopped_epoch == stop and stopper.should_stop == (stop is not None)
        assert stopper.best_epoch == best_epoch and stopper.num_bad_epochs == bad
        assert stopper.best == best
        restored = stopper.restore(model)
        assert restored == (restore_best and best_epoch is not None)
        kept = best_epoch if restored else ran - 1
        assert np.all(model.weight.numpy() == kept) and np.all(model.bias.numpy() == -kept)


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("monitor, with_val", [("val_scripted", True), ("val_scripted", False),
                                               ("train_scripted", True)])
@given(p=problems(), data=st.data(), restore_best=st.booleans(), **early_stopping_settings)
@fuzz_settings(EXAMPLES)
def test_fit_early_stopping_matches_the_rule(p, data, patience, min_delta, mode, monitor,
                                             with_val, restore_best):
    p = dict(p, epochs=data.draw(st.integers(1, 8), label="epochs"), metrics=[],
             n_val=(p["n_val"] or 3) if with_val else None)
    values = data.draw(st.lists(GRID, min_size=p["epochs"], max_size=p["epochs"]),
                       label="values")
    stop_at = data.draw(st.none() | st.integers(0, p["epochs"] - 1), label="callback stop")
    rows, weights, _, lr_after = reference_fit(p)

    state = {"epoch": 0}

    def scripted(y_true, outputs):                          # the monitored value, drawn
        return values[state["epoch"]]

    def next_epoch(epoch, logs):
        state["epoch"] += 1
        return epoch == stop_at

    model, optimizer, loss_fn, train, val = build(p)
    stopper = EarlyStopping(patience=patience, min_delta=min_delta, mode=mode,
                            monitor=monitor, restore_best=restore_best)
    stopper.step(-1e9 if mode == "min" else 1e9, model)     # stale state fit must forget
    history = fit(model, optimizer, loss_fn, train, val, epochs=p["epochs"],
                  scheduler=make_scheduler(p, optimizer), clip_grad_norm=p["clip"],
                  metrics=[scripted], early_stopping=stopper, callbacks=[next_epoch],
                  progress=False, scheduler_interval="batch"
                  if p["scheduler"] == "exponential_batch" else "epoch")

    seen = monitor if p["n_val"] is not None else "train_scripted"    # val_ falls back
    stop, best, best_epoch, bad = ref_early_stopping(values, patience, min_delta, mode)
    if stop_at is not None and (stop is None or stop_at < stop):      # the callback first
        stop, best, best_epoch, bad = ref_early_stopping(values[:stop_at + 1], patience,
                                                         min_delta, mode)
        stop = stop_at
        stopped_by_rule = False
    else:
        stopped_by_rule = stop is not None
    ran = p["epochs"] if stop is None else stop + 1
    np.testing.assert_array_equal(history[seen], values[:ran])
    assert_rows_equal(history, [dict(row, train_scripted=values[epoch],
                                     **({"val_scripted": values[epoch]}
                                        if p["n_val"] is not None else {}))
                                for epoch, row in enumerate(rows[:ran])])
    assert history.stopped_epoch == stop
    assert stopper.stopped_epoch == (stop if stopped_by_rule else None)
    assert stopper.best_epoch == best_epoch and stopper.num_bad_epochs == bad
    assert stopper.best == best
    assert history.best_epoch == ref_best_epoch(values[:ran], mode)
    kept = best_epoch if restore_best and best_epoch is not None else ran - 1
    assert_weights_equal(model, weights[kept])
    assert math.isclose(optimizer.param_groups[0]["lr"], lr_after[ran - 1], rel_tol=RTOL)


# --- evaluate ------------------------------------------------------------------------------

def numpy_forward(X, W1, b1, W2, b2):
    return np.tanh(X @ W1.T + b1) @ W2.T + b2               # Dropout is the identity in eval


@given(seed=st.integers(0, 2 ** 16), classes=st.sampled_from([0, 2, 3]),
       sizes=st.lists(st.integers(1, 6), min_size=1, max_size=5),
       modes=st.lists(st.booleans(), min_size=5, max_size=5), with_loss=st.booleans(),
       metric_names=st.lists(st.sampled_from(["accuracy", "f1_macro"]), unique=True))
@fuzz_settings(EXAMPLES)
def test_evaluate_is_the_sample_mean_and_restores_each_mode(seed, classes, sizes, modes,
                                                            with_loss, metric_names):
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n, out = sum(sizes), classes or 1
    X = rng.normal(size=(n, 3))
    y = rng.integers(0, classes, size=n) if classes else rng.normal(size=(n, 1))
    model = nn.Sequential(nn.Linear(3, 4, dtype=F64), nn.Dropout(0.5), nn.Tanh(),
                          nn.Linear(4, out, dtype=F64))
    for module, training in zip(model.modules(), modes):
        module.training = training                          # each module its own mode
    ends = np.cumsum([0] + sizes)
    loader = [(tg.tensor(X[a:b]), tg.tensor(y[a:b])) for a, b in zip(ends[:-1], ends[1:])]
    metric_names = metric_names if classes else []
    loss_fn = (nn.CrossEntropyLoss() if classes else nn.MSELoss()) if with_loss else None

    results = evaluate(model, loader, metrics=metric_names, loss_fn=loss_fn)

    assert [module.training for module in model.modules()] == modes
    logits = numpy_forward(X, *(p.numpy() for p in model.parameters()))
    assert set(results) == set(metric_names) | ({"loss"} if with_loss else set())
    if with_loss:
        if classes:
            shifted = logits - logits.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            per_sample = -log_probs[np.arange(n), y]
        else:
            per_sample = (logits[:, 0] - y[:, 0]) ** 2
        assert math.isclose(results["loss"], per_sample.mean(), rel_tol=1e-12, abs_tol=1e-15)
    expected = ref_metrics(metric_names, "", [y], [logits])
    for name in metric_names:
        assert math.isclose(results[name], expected[name], rel_tol=1e-12)


# --- History ---------------------------------------------------------------------------------

@given(epochs=st.integers(0, 8), data=st.data(),
       monitor=st.sampled_from(["val_loss", "val_accuracy", "train_loss", "train_accuracy"]),
       mode=st.sampled_from(["min", "max"]), with_val=st.booleans())
@fuzz_settings(EXAMPLES)
def test_history_best_epoch_keys_and_copy(epochs, data, monitor, mode, with_val):
    keys = ["epoch", "train_loss", "train_accuracy"] + \
        (["val_loss", "val_accuracy"] if with_val else []) + ["lr"]
    logs = [{key: epoch if key == "epoch" else data.draw(GRID, label=key) for key in keys}
            for epoch in range(epochs)]
    history = History(monitor=monitor, mode=mode)
    for row in logs:
        history.append(row)

    columns = {key: [row[key] for row in logs] for key in keys} if logs else {}
    assert len(history) == epochs
    assert list(history.keys()) == list(columns)
    seen = monitor if with_val or not monitor.startswith("val_") else \
        "train_" + monitor[len("val_"):]
    expected = ref_best_epoch(columns[seen], mode) if logs else None
    assert history.best_epoch == expected
    copy = history.as_dict()
    np.testing.assert_array_equal(list(copy), list(columns))
    for key in columns:
        np.testing.assert_array_equal(copy[key], columns[key])
        np.testing.assert_array_equal(history[key], getattr(history, key))
        assert key in history
        copy[key].append(123.0)                              # a copy: history unchanged
        assert len(history[key]) == epochs
