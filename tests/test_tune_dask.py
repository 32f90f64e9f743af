"""Searches on a Dask cluster (the ``distributed`` extra): a LocalCluster of 2 worker
processes, 1 thread each, shared by the tests of this file.

* random, grid, coarse-to-fine and Bayesian search give exactly the serial trials
  with the same seed;
* a worker killed while it runs a trial: Dask retries the trial on another worker,
  and a trial that kills every worker it runs on becomes a failed trial; the search
  finishes either way (a thread with a deadline shows it does not hang);
* ``tinygrad-opt tune --scheduler ADDRESS`` and ``--scheduler local:N`` run.

The objectives are cheap formulas; this file's functions are pickled by value,
since the worker processes cannot import a test module.
"""

import math
import os
import signal
import sys
import threading

import pytest

from tinygrad_opt import tune

distributed = pytest.importorskip(
    "distributed", reason="the distributed extra (Dask) is not installed: "
    "pip install 'tinygrad_opt[distributed]'")
import cloudpickle  # noqa: E402  (installed with distributed)
import dask  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])

SPACE = {"lr": tune.loguniform(1e-5, 1.0), "dropout": tune.uniform(0.0, 1.0),
         "act": tune.choice(["relu", "tanh"]), "kill_dir": None}


@pytest.fixture(scope="module")
def client():
    # worker-saturation 1.0: a worker holds only the trial it runs, so a worker that dies
    # takes no queued trial with it (Dask counts a death against every trial it held).
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        client = distributed.Client(n_workers=2, threads_per_worker=1, processes=True,
                                    dashboard_address=":0")
    try:
        yield client
    finally:
        client.close()


def quadratic(params):
    """Fails for large dropout, NaN for small: failed trials must match too."""
    if params["dropout"] > 0.8:
        raise ValueError(f"diverged at dropout {params['dropout']:.3f}")
    if params["dropout"] < 0.1:
        return float("nan")
    value = (math.log10(params["lr"]) + 2.5) ** 2 + 4.0 * (params["dropout"] - 0.3) ** 2
    return {"value": value + (0.1 if params["act"] == "tanh" else 0.0), "pid": os.getpid(),
            "budget": params.get("budget")}


KILL_BELOW, KILL_SEED = 1e-4, 2    # with seed 2, one of the 6 trials has lr < 1e-4 (trial 1)


def killing(params):
    """Kills the worker process running it when ``lr < KILL_BELOW`` (and ``kill_dir`` is
    set): only the first time with ``once`` (a marker file remembers), else every time."""
    if params["kill_dir"] is not None and params["lr"] < KILL_BELOW:
        marker = os.path.join(params["kill_dir"], repr(params["lr"]))
        if not (params.get("once") and os.path.exists(marker)):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
    return quadratic(params)


def searches(executor):
    stages = [{"n_trials": 4, "budget": 1}, {"n_trials": 2, "budget": 2}]
    return {
        "random": tune.random_search(quadratic, SPACE, n_trials=6, seed=3, executor=executor),
        "grid": tune.grid_search(quadratic, SPACE, n_trials=8, executor=executor),
        "coarse_to_fine": tune.coarse_to_fine(quadratic, SPACE, stages, seed=3,
                                              executor=executor),
        "bayes": tune.bayes_search(quadratic, SPACE, n_trials=6, seed=3, batch_size=2,
                                   n_candidates=200, executor=executor),
    }


def same_trials(a, b):
    return ([(t.number, t.params, t.value, t.status, t.error, t.budget, t.stage)
             for t in a.trials] ==
            [(t.number, t.params, t.value, t.status, t.error, t.budget, t.stage)
             for t in b.trials])


def test_every_search_gives_the_serial_trials_on_dask(client):
    serial = searches(None)
    with client.get_executor() as executor:
        on_dask = searches(executor)
    for name in serial:
        assert same_trials(serial[name], on_dask[name]), name
    pids = {t.extras["pid"] for result in on_dask.values() for t in result.trials if t.ok}
    assert pids and os.getpid() not in pids                   # the workers ran them
    statuses = [t.status for t in on_dask["random"].trials]
    assert "failed" in statuses and "ok" in statuses


def search_with_deadline(client, space, seconds=60):
    """random_search on the cluster in a thread; fails the test if it is not done in time."""
    outcome = {}

    def search():
        with client.get_executor() as executor:
            outcome["result"] = tune.random_search(killing, space, n_trials=6, seed=KILL_SEED,
                                                   executor=executor)
    thread = threading.Thread(target=search, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the search hung for {seconds} s after a worker died"
    return outcome["result"]


def test_a_worker_killed_once_is_retried_and_gives_the_serial_trials(client, tmp_path):
    serial = tune.random_search(killing, SPACE, n_trials=6, seed=KILL_SEED)
    space = dict(SPACE, kill_dir=str(tmp_path), once=True)
    result = search_with_deadline(client, space)
    killed = [t for t in result.trials if t.params["lr"] < KILL_BELOW]
    assert len(killed) == 1 and len(list(tmp_path.iterdir())) == 1   # it killed a worker
    assert [(t.value, t.status) for t in result.trials] == \
        [(t.value, t.status) for t in serial.trials]


def test_a_trial_that_kills_every_worker_fails_and_the_search_goes_on(client, tmp_path):
    serial = tune.random_search(killing, SPACE, n_trials=6, seed=KILL_SEED)
    result = search_with_deadline(client, dict(SPACE, kill_dir=str(tmp_path)))
    for trial, reference in zip(result.trials, serial.trials):
        if trial.params["lr"] < KILL_BELOW:
            assert trial.status == "failed"
            assert trial.error.startswith("the worker running it died (KilledWorker")
        else:
            assert (trial.value, trial.status) == (reference.value, reference.status)
    assert any(t.params["lr"] < KILL_BELOW for t in result.trials)


def test_tune_command_runs_on_a_scheduler_address_and_on_a_local_cluster(client, capsys):
    from tinygrad_opt.cli import main
    address = client.scheduler.address                               # tcp://127.0.0.1:port
    client.wait_for_workers(2, timeout=60)       # a worker killed above may be restarting
    assert main(["tune", "--method", "bayes", "--scheduler", address, "--trials", "2",
                 "--epochs", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"2 workers on Dask ({address})" in out and "best configuration" in out
    assert main(["tune", "--scheduler", "local:1", "--trials", "1", "--epochs", "1",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "1 worker on Dask (local:1)" in out and "validation accuracy: 0." in out


def test_tune_command_rejects_a_bad_scheduler(capsys):
    from tinygrad_opt.cli import main
    assert main(["tune", "--scheduler", "local:zero"]) == 2
    assert "expected local:N" in capsys.readouterr().err
