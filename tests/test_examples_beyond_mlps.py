"""The four beyond-MLP experiments run end to end (``--quick``) and show what
docs/experiments.md reports, with a margin.

Each example runs once per session as a subprocess, as a user would run it, and
writes its numbers with ``--json`` (tests/examples_runner.py; tests/test_examples.py
compares the same run with its snapshot and checks the common flags). BLAS is
limited to one thread: these are tiny matrices, and on a busy machine OpenBLAS's
thread pool makes them many times slower.
"""

import math

from examples_runner import output_of, quick_run


def run_example(name, tmp_path=None):
    """The shared quick run (``--quick --seed 0 --device cpu --json PATH``): (numbers, text)."""
    stdout = output_of(name)
    assert "----" in stdout  # a table was printed
    return quick_run(name).data, stdout


def test_rnn_vs_lstm_gates_keep_gradients_alive(tmp_path):
    data, stdout = run_example("rnn_vs_lstm", tmp_path)
    rnn, lstm = data["at_init"]["RNN (tanh)"], data["at_init"]["LSTM (forget bias 1)"]
    for T in ("10", "20", "40"):
        assert lstm[T] > 10 * rnn[T]                 # more gradient reaches step 1
    assert rnn["40"] < 1e-6 < lstm["40"]             # vanishes in the RNN, not in the LSTM
    results = {r["model"]: r for r in data["results"]}
    assert results["RNN (tanh)"]["test_mse"] > 0.1   # baseline 1/6: nothing learned
    assert results["LSTM (forget bias 1)"]["test_mse"] < 0.02
    assert results["LSTM (forget bias 1)"]["accuracy"] > 0.3 > results["RNN (tanh)"]["accuracy"]
    # after training the LSTM passes the gradient on undiminished; the RNN does not
    assert results["LSTM (forget bias 1)"]["grad_ratio_trained"] > 0.1
    assert results["RNN (tanh)"]["grad_ratio_trained"] < 1e-4


def test_exploding_gradients_clipping_restores_training(tmp_path):
    data, stdout = run_example("exploding_gradients", tmp_path)
    runs = {r["run"]: r for r in data["results"]}
    he, big = runs["He init (gain 1), no clipping"], runs["gain 1.6, no clipping"]
    clipped = runs["gain 1.6, clip at 10"]
    assert big["first_norm"] > 50 * he["first_norm"]  # large weights: exploding gradient
    assert big["diverged_at"] is not None and big["diverged_at"] <= 10
    assert clipped["diverged_at"] is None and math.isfinite(clipped["last_norm"])
    assert clipped["accuracy"] > 0.5                   # 10% is chance
    assert he["accuracy"] > 0.8


def test_initialisation_xavier_and_he_keep_the_scale(tmp_path):
    data, stdout = run_example("initialisation", tmp_path)
    runs = {(r["activation"], r["init"]): r for r in data["results"]}
    last_std = {key: r["stds"][-1] for key, r in runs.items()}
    assert last_std[("relu", "N(0, 0.01^2)")] < 1e-6   # vanishes
    assert last_std[("tanh", "N(0, 0.01^2)")] < 1e-6
    assert last_std[("relu", "N(0, 1)")] > 1e6          # explodes
    assert last_std[("tanh", "N(0, 1)")] > 0.9          # saturated at +-1
    assert 0.3 < last_std[("relu", "He")] < 3           # kept
    assert 0.1 < last_std[("tanh", "Xavier")] < 1
    assert runs[("relu", "He")]["accuracy"] > 0.5
    assert runs[("tanh", "Xavier")]["accuracy"] > 0.5
    for key in [("relu", "N(0, 0.01^2)"), ("tanh", "N(0, 0.01^2)"), ("relu", "N(0, 1)")]:
        assert runs[key]["accuracy"] < 0.2, key         # does not train


def test_transfer_learning_reports_what_was_found(tmp_path):
    """On these digits the claim does NOT hold (see the docs): fine-tuning is no
    better than training from scratch, and a frozen 0-4 feature extractor is worse."""
    data, stdout = run_example("transfer_learning", tmp_path)
    mean = data["mean"]
    assert data["source_accuracy"] > 0.95               # pretraining worked
    assert mean["scratch"]["50"] > 0.95 and mean["fine-tune"]["50"] > 0.95
    assert mean["frozen"]["50"] < mean["fine-tune"]["50"] - 0.05
    assert mean["fine-tune"]["2"] < mean["scratch"]["2"] + 0.02
    assert mean["frozen"]["2"] < mean["scratch"]["2"]
