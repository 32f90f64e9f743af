"""fit / evaluate / History / EarlyStopping.

Most tests use a one-weight "scripted" model whose trajectory is known in
closed form: ``y = w x`` with ``w0 = 0``, trained by plain SGD (lr 0.05) on the
single sample ``x = 1, y = 1`` with the MSE loss (gradient ``2(w - 1)``), so
after t steps ``w_t = 1 - 0.9^t``. Its validation sample is ``x = 1, y = 0.3``: the
validation loss ``(w_t - 0.3)^2`` falls until ``w`` passes 0.3 (after epoch 2,
0-based) and rises from then on, while the training loss keeps falling.
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import datasets, nn, optim
from tinygrad_opt.data import DataLoader, TensorDataset
from tinygrad_opt.optim import lr_scheduler
from tinygrad_opt.train import METRICS, EarlyStopping, History, evaluate, fit, get_metric


# --- helpers --------------------------------------------------------------------------

def scripted_problem(device, lr=0.05):
    model = nn.Linear(1, 1, bias=False).to(device)
    nn.init.zeros_(model.weight)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    one = np.ones((1, 1), dtype=np.float32)
    train = DataLoader(TensorDataset(one, one), batch_size=1, device=device)
    val = DataLoader(TensorDataset(one, 0.3 * one), batch_size=1, device=device)
    return model, optimizer, train, val


def weight(model) -> float:
    return float(model.weight.numpy().reshape(-1)[0])


def classification_data(rng, n=60, d=4, classes=3):
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = rng.integers(0, classes, size=n).astype(np.int64)
    return X, y


# --- EarlyStopping driven directly --------------------------------------------------------

def test_early_stopping_stops_after_patience_bad_epochs():
    stopper = EarlyStopping(patience=3)
    losses = [1.0, 0.9, 0.8, 0.85, 0.80, 0.81, 0.5]
    decisions = [stopper.step(loss) for loss in losses[:6]]
    # best 0.8 at epoch 2; epochs 3, 4 (0.80 is not < 0.8), 5 are bad -> stop after epoch 5
    assert decisions == [False, False, False, False, False, True]
    assert stopper.best == 0.8
    assert stopper.best_epoch == 2
    assert stopper.stopped_epoch == 5
    assert stopper.should_stop


def test_early_stopping_min_delta_and_max_mode():
    stopper = EarlyStopping(patience=2, min_delta=0.05)
    # 0.97 and 0.96 do not beat 1.0 by more than 0.05
    assert [stopper.step(v) for v in (1.0, 0.97, 0.96)] == [False, False, True]
    assert stopper.best_epoch == 0

    stopper = EarlyStopping(patience=1, mode="max", monitor="val_accuracy")
    assert [stopper.step(v) for v in (0.5, 0.7, 0.9, 0.85)] == [False, False, False, True]
    assert stopper.best == 0.9


def test_early_stopping_patience_zero_stops_at_first_bad_epoch():
    stopper = EarlyStopping(patience=0)
    assert [stopper.step(v) for v in (3.0, 2.0, 2.5)] == [False, False, True]


def test_early_stopping_restore_copies_the_best_weights(device):
    model, _, _, _ = scripted_problem(device)
    stopper = EarlyStopping(patience=1)
    with tg.no_grad():
        model.weight.data[...] = 2.0
    stopper.step(1.0, model)                  # best: the snapshot holds 2.0
    with tg.no_grad():
        model.weight.data[...] = 5.0          # in-place change must not reach the snapshot
    stopper.step(2.0, model)
    assert stopper.restore(model)
    assert weight(model) == 2.0


@pytest.mark.parametrize("kwargs", [dict(patience=-1), dict(patience=1.5), dict(mode="best"),
                                    dict(min_delta=-0.1)])
def test_early_stopping_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        EarlyStopping(**kwargs)


# --- fit with the scripted model -----------------------------------------------------------

def test_fit_follows_the_sgd_trajectory_and_records_history(device):
    model, optimizer, train, val = scripted_problem(device)
    history = fit(model, optimizer, nn.MSELoss(), train, val, epochs=4, metrics=(),
                  progress=False)
    w = [1 - 0.9 ** t for t in range(1, 5)]                    # w after each epoch
    w_before = [0.0] + w[:-1]
    assert history["epoch"] == [0, 1, 2, 3]
    np.testing.assert_allclose(history["train_loss"], [(v - 1) ** 2 for v in w_before],
                               rtol=1e-5)
    np.testing.assert_allclose(history.val_loss, [(v - 0.3) ** 2 for v in w], rtol=1e-4)
    assert history["lr"] == [0.05] * 4
    assert history.best_epoch == 2                             # lowest validation loss
    assert history.stopped_epoch is None
    assert math.isclose(weight(model), w[-1], rel_tol=1e-5)


def test_fit_early_stopping_stops_and_restores_best_weights(device):
    model, optimizer, train, val = scripted_problem(device)
    stopper = EarlyStopping(patience=2)
    history = fit(model, optimizer, nn.MSELoss(), train, val, epochs=20, metrics=(),
                  early_stopping=stopper, progress=False)
    # val loss: best at epoch 2, worse at 3 and 4 -> stop after epoch 4
    assert len(history) == 5
    assert history.stopped_epoch == 4
    assert history.best_epoch == 2 and stopper.best_epoch == 2
    assert math.isclose(weight(model), 1 - 0.9 ** 3, rel_tol=1e-5)   # the weights of epoch 2


def test_fit_early_stopping_without_restore_keeps_last_weights(device):
    model, optimizer, train, val = scripted_problem(device)
    fit(model, optimizer, nn.MSELoss(), train, val, epochs=20, metrics=(), progress=False,
        early_stopping=EarlyStopping(patience=2, restore_best=False))
    assert math.isclose(weight(model), 1 - 0.9 ** 5, rel_tol=1e-5)


def test_fit_early_stopping_falls_back_to_train_loss_without_validation(device):
    model, optimizer, train, _ = scripted_problem(device)
    history = fit(model, optimizer, nn.MSELoss(), train, epochs=6, metrics=(),
                  early_stopping=EarlyStopping(patience=1), progress=False)
    assert len(history) == 6                                   # train loss always improves
    assert "val_loss" not in history
    assert history.best_epoch == 5


# --- schedulers ------------------------------------------------------------------------------

def test_scheduler_steps_once_per_epoch(device):
    model, optimizer, train, val = scripted_problem(device, lr=0.08)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    history = fit(model, optimizer, nn.MSELoss(), train, val, epochs=5, metrics=(),
                  scheduler=scheduler, progress=False)
    np.testing.assert_allclose(history.lr, [0.08, 0.08, 0.04, 0.04, 0.02])
    assert scheduler.last_epoch == 5


def test_scheduler_steps_once_per_batch(device, rng):
    X, y = classification_data(rng, n=30)
    model = nn.Linear(4, 3).to(device)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
    loader = DataLoader(TensorDataset(X, y), batch_size=10, device=device)   # 3 batches
    history = fit(model, optimizer, nn.CrossEntropyLoss(), loader, epochs=3, progress=False,
                  scheduler=scheduler, scheduler_interval="batch")
    np.testing.assert_allclose(history.lr, [0.1, 0.1 * 0.9 ** 3, 0.1 * 0.9 ** 6], rtol=1e-6)
    assert scheduler.last_epoch == 9


def test_plateau_scheduler_is_fed_the_validation_loss(device):
    model, optimizer, train, val = scripted_problem(device)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    history = fit(model, optimizer, nn.MSELoss(), train, val, epochs=5, metrics=(),
                  scheduler=scheduler, progress=False)
    # val loss first rises in epoch 3 -> lr halves for epoch 4; the train loss never rises
    np.testing.assert_allclose(history.lr, [0.05, 0.05, 0.05, 0.05, 0.025])


def test_plateau_scheduler_without_validation_is_fed_the_training_loss(device):
    model, optimizer, train, _ = scripted_problem(device)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    history = fit(model, optimizer, nn.MSELoss(), train, epochs=5, metrics=(),
                  scheduler=scheduler, progress=False)
    assert history.lr == [0.05] * 5


def test_plateau_scheduler_per_batch_is_refused(device):
    model, optimizer, train, _ = scripted_problem(device)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        fit(model, optimizer, nn.MSELoss(), train, scheduler=scheduler, metrics=(),
            scheduler_interval="batch", progress=False)


# --- gradient clipping -----------------------------------------------------------------------

def test_clip_grad_norm_limits_each_update(device, rng):
    X, y = classification_data(rng, n=20)
    X = 100 * X                                                # large inputs, large gradients
    model = nn.Linear(4, 3).to(device)
    before = [p.numpy().copy() for p in model.parameters()]
    optimizer = optim.SGD(model.parameters(), lr=1.0)
    loader = DataLoader(TensorDataset(X, y), batch_size=20, device=device)
    fit(model, optimizer, nn.CrossEntropyLoss(), loader, epochs=1, clip_grad_norm=0.01,
        progress=False)
    after = [p.numpy() for p in model.parameters()]
    step = np.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(after, before)))
    grad_norm = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in model.parameters()))
    assert step == pytest.approx(0.01, rel=1e-3)                # ||Δw|| = lr · max_norm
    assert grad_norm == pytest.approx(0.01, rel=1e-3)          # the gradient left is clipped


def test_without_clipping_the_same_step_is_large(device, rng):
    X, y = classification_data(rng, n=20)
    model = nn.Linear(4, 3).to(device)
    before = [p.numpy().copy() for p in model.parameters()]
    loader = DataLoader(TensorDataset(100 * X, y), batch_size=20, device=device)
    fit(model, optim.SGD(model.parameters(), lr=1.0), nn.CrossEntropyLoss(), loader,
        progress=False)
    step = np.sqrt(sum(((p.numpy() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert step > 1.0


# --- callbacks ----------------------------------------------------------------------------------

class Recorder:
    def __init__(self, stop_after=None):
        self.calls = []
        self.stop_after = stop_after

    def on_train_begin(self, logs):
        self.calls.append(("begin",))

    def on_batch_end(self, batch, logs):
        self.calls.append(("batch", batch, round(logs["loss"], 6), logs["batch_size"]))

    def on_epoch_end(self, epoch, logs):
        self.calls.append(("epoch", epoch, sorted(logs)))
        return self.stop_after is not None and epoch >= self.stop_after

    def on_train_end(self, logs):
        self.calls.append(("end", logs["epoch"]))


def test_callbacks_are_called_in_order(device, rng):
    X, y = classification_data(rng, n=10)
    model = nn.Linear(4, 3).to(device)
    loader = DataLoader(TensorDataset(X, y), batch_size=5, device=device)
    val = DataLoader(TensorDataset(X, y), batch_size=10, device=device)
    recorder = Recorder()
    seen = []
    fit(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), loader, val,
        epochs=2, callbacks=[recorder, lambda epoch, logs: seen.append(epoch)], progress=False)
    kinds = [call[0] for call in recorder.calls]
    assert kinds == ["begin", "batch", "batch", "epoch", "batch", "batch", "epoch", "end"]
    keys = ["epoch", "lr", "train_accuracy", "train_loss", "val_accuracy", "val_loss"]
    assert recorder.calls[3] == ("epoch", 0, keys)
    assert [call[1] for call in recorder.calls if call[0] == "batch"] == [0, 1, 0, 1]
    assert all(call[3] == 5 for call in recorder.calls if call[0] == "batch")
    assert recorder.calls[-1] == ("end", 1)
    assert seen == [0, 1]                                       # plain functions: epoch end


def test_a_callback_returning_true_stops_training(device, rng):
    X, y = classification_data(rng, n=10)
    model = nn.Linear(4, 3).to(device)
    loader = DataLoader(TensorDataset(X, y), batch_size=10, device=device)
    history = fit(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), loader,
                  epochs=10, callbacks=[Recorder(stop_after=2)], progress=False)
    assert len(history) == 3
    assert history.stopped_epoch == 2


# --- metrics and evaluate -------------------------------------------------------------------------

def numpy_cross_entropy(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(y)), y].mean()


def numpy_macro_f1(y, pred, classes):
    scores = []
    for c in range(classes):
        tp = np.sum((pred == c) & (y == c))
        fp = np.sum((pred == c) & (y != c))
        fn = np.sum((pred != c) & (y == c))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return np.mean(scores)


def test_evaluate_matches_numpy_and_restores_the_mode(device, rng):
    X, y = classification_data(rng, n=50)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 3))
    model.to(device)
    loader = DataLoader(TensorDataset(X, y), batch_size=16, device=device)   # uneven batches
    with tg.no_grad():
        model.eval()
        logits = model(tg.tensor(X, device=device)).numpy()
        model.train()

    def share_of_class_0(y_true, outputs):
        return float(np.mean(np.argmax(outputs, axis=1) == 0))

    results = evaluate(model, loader, metrics=("accuracy", "f1_macro", share_of_class_0),
                       loss_fn=nn.CrossEntropyLoss())
    pred = logits.argmax(axis=1)
    assert set(results) == {"loss", "accuracy", "f1_macro", "share_of_class_0"}
    assert results["loss"] == pytest.approx(numpy_cross_entropy(logits, y), rel=1e-5)
    assert results["accuracy"] == pytest.approx(np.mean(pred == y))
    assert results["f1_macro"] == pytest.approx(numpy_macro_f1(y, pred, 3))
    assert results["share_of_class_0"] == pytest.approx(np.mean(pred == 0))
    assert model.training                                       # mode restored
    assert evaluate(model.eval(), loader, metrics=()) == {}
    assert not model.training


def test_evaluate_puts_each_sub_module_back_in_its_own_mode(device, rng):
    X, y = classification_data(rng, n=20)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(8, 3)).to(device)
    model.train()
    model[1].eval()                                              # a frozen BatchNorm
    loader = DataLoader(TensorDataset(X, y), batch_size=8, device=device)
    evaluate(model, loader)
    assert [module.training for module in model.modules()] == [True, True, False, True,
                                                                True, True]
    model.eval()
    model[3].train()                                             # MC dropout at test time
    evaluate(model, loader)
    assert not model.training and model[3].training and not model[1].training


def test_evaluate_records_no_graph(device, rng):
    X, y = classification_data(rng, n=8)
    model = nn.Linear(4, 3).to(device)
    outputs = []
    model.register_forward_hook(lambda module, inputs, output: outputs.append(output))
    evaluate(model, DataLoader(TensorDataset(X, y), batch_size=8, device=device))
    assert outputs and all(output.grad_fn is None for output in outputs)


def test_fit_metrics_are_computed_on_the_whole_epoch(device, rng):
    X, y = classification_data(rng, n=30)
    model = nn.Linear(4, 3).to(device)
    loader = DataLoader(TensorDataset(X, y), batch_size=7, device=device)
    val = DataLoader(TensorDataset(X, y), batch_size=30, device=device)
    history = fit(model, optim.SGD(model.parameters(), lr=0.0), nn.CrossEntropyLoss(), loader,
                  val, epochs=1, metrics=("accuracy", "g_mean"), progress=False)
    with tg.no_grad():
        pred = model(tg.tensor(X, device=device)).numpy().argmax(axis=1)
    recalls = [np.mean(pred[y == c] == c) for c in range(3)]
    # lr = 0: the training outputs equal the final model's outputs
    assert history.train_accuracy[0] == pytest.approx(np.mean(pred == y))
    assert history.val_g_mean[0] == pytest.approx(np.prod(recalls) ** (1 / 3))
    assert history.train_g_mean == history.val_g_mean


def test_metric_names_and_errors():
    assert {"accuracy", "f1_macro", "g_mean", "roc_auc", "f1"} <= set(METRICS)
    assert get_metric("accuracy")[0] == "accuracy"
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        get_metric("acuracy")


# --- fit arguments, progress output, History ------------------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(epochs=0), dict(epochs=-2), dict(epochs=1.5),
                                    dict(scheduler_interval="step"),
                                    dict(metrics=("no_such_metric",))])
def test_fit_rejects_bad_arguments(kwargs):
    model, optimizer, train, _ = scripted_problem("cpu")
    with pytest.raises(ValueError):
        fit(model, optimizer, nn.MSELoss(), train, progress=False, **kwargs)


def test_fit_with_progress_off_prints_nothing(capsys):
    model, optimizer, train, val = scripted_problem("cpu")
    fit(model, optimizer, nn.MSELoss(), train, val, epochs=3, metrics=(), progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_fit_with_progress_prints_one_summary_line_per_epoch(capsys):
    model, optimizer, train, val = scripted_problem("cpu")
    fit(model, optimizer, nn.MSELoss(), train, val, epochs=3, metrics=(), progress=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3") and "val_loss" in lines[0] and "lr 0.05" in lines[0]


def test_fit_raises_on_a_diverging_loss():
    model, optimizer, train, _ = scripted_problem("cpu", lr=1e20)
    with pytest.raises(FloatingPointError, match="learning rate"), \
            np.errstate(over="ignore", invalid="ignore"):
        fit(model, optimizer, nn.MSELoss(), train, epochs=5, metrics=(), progress=False)


def test_the_divergence_error_counts_epochs_as_the_progress_lines_do(capsys):
    """Epoch 1 prints 'epoch 1/3'; the weights turn to NaN after it; the error names epoch 2/3."""
    model, optimizer, train, _ = scripted_problem("cpu")

    def poison(epoch, logs):
        model.weight.data[...] = np.nan

    with pytest.raises(FloatingPointError, match=r"in epoch 2/3; lower the learning rate"):
        fit(model, optimizer, nn.MSELoss(), train, epochs=3, metrics=(), progress=True,
            callbacks=[poison])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("epoch 1/3")


def test_history_access():
    history = History()
    history.append({"epoch": 0, "train_loss": 2.0, "val_loss": 1.5})
    history.append({"epoch": 1, "train_loss": 1.0, "val_loss": 1.7})
    assert history["val_loss"] == history.val_loss == [1.5, 1.7]
    assert len(history) == 2 and "train_loss" in history
    assert history.best_epoch == 0
    assert history.as_dict() == {"epoch": [0, 1], "train_loss": [2.0, 1.0],
                                 "val_loss": [1.5, 1.7]}
    with pytest.raises(KeyError, match="val_accuracy"):
        history["val_accuracy"]
    with pytest.raises(AttributeError, match="val_accuracy"):
        history.val_accuracy
    assert "epochs=2" in repr(history)
    assert History().best_epoch is None


# --- the CS231n spiral ----------------------------------------------------------------------------

def test_two_layer_relu_net_fits_the_spiral():
    """CS231n: a 2-layer ReLU net (100 hidden units) separates the 3-arm spiral (~98-99%)."""
    tg.manual_seed(0)
    X, y = datasets.spiral(n_per_class=100, n_classes=3, seed=0)
    model = nn.Sequential(nn.Linear(2, 100), nn.ReLU(), nn.Linear(100, 3))
    loader = DataLoader(TensorDataset(X, y), batch_size=len(X))          # full batch
    history = fit(model, optim.Adam(model.parameters(), lr=0.02), nn.CrossEntropyLoss(), loader,
                  epochs=300, progress=False)
    with tg.no_grad():
        pred = model(tg.tensor(X)).numpy().argmax(axis=1)
    assert np.mean(pred == y) >= 0.98
    assert history.train_accuracy[-1] >= 0.98
    assert history.train_loss[-1] < 0.1 < history.train_loss[0]
