"""The four tuning and ensemble examples (issue 7) run end to end (``--quick``) and
their printed tables show what docs/experiments.md reports (sections 15-18).

Each example runs once per session as a subprocess, the way a user runs it
(tests/examples_runner.py; tests/test_examples.py compares the same run with its
snapshot). The assertions are what
the quick runs really show, with margins; where a quick run shows no clear winner
(Bayes vs random), the test asserts only what it does show. BLAS is kept to one
thread: these matrices are tiny, and threads only add overhead.
"""

from examples_runner import numeric_table as table, run_example


def test_random_vs_grid(tmp_path):
    output = run_example("random_vs_grid.py", tmp_path)
    synthetic = table(output, "Synthetic")
    # same 16 trials: the grid tries 4 values of x, random search 16
    assert synthetic["grid"][0] == 4 and synthetic["random"][0] == 16
    # and random search's mean best error is less than half the grid's (0.031 vs 0.18)
    assert synthetic["random"][1] < 0.5 * synthetic["grid"][1]
    digits = table(output, "Digits MLP")
    assert digits["grid"][0] == 3 and digits["random"][0] == 9
    # digits (quick: 2 seeds): random search's mean best validation accuracy >= the grid's
    assert digits["random"][1] >= digits["grid"][1]
    assert digits["grid"][1] > 85


def test_coarse_to_fine(tmp_path):
    output = run_example("coarse_to_fine.py", tmp_path)
    stages = table(output, "Coarse to fine")
    assert list(stages) == ["1", "2", "3"]
    lr_decades = [cells[3] for cells in stages.values()]
    wd_decades = [cells[5] for cells in stages.values()]
    mean_accuracy = [cells[6] for cells in stages.values()]
    assert lr_decades[0] == 5 and wd_decades[0] == 6            # the wide starting ranges
    # the ranges shrink stage by stage (in decades: log space) ...
    assert lr_decades[0] > lr_decades[1] > lr_decades[2]
    assert wd_decades[0] > wd_decades[1] >= wd_decades[2]
    # ... and the trials get better on average (quick run: 72%, 92%, 94%)
    assert mean_accuracy[0] + 10 < mean_accuracy[1] < mean_accuracy[2]
    best = table(output, "Best configuration")
    assert best["coarse-to-fine"][3] > 90 and best["random, final length"][3] > 90


def test_bayes_vs_random(tmp_path):
    output = run_example("bayes_vs_random.py", tmp_path)
    rows = table(output, "Digits MLP")
    # both start from the same 3 random trials
    assert rows["3"][0] == rows["3"][1]
    last = rows[max(rows, key=int)]
    # quick run (12 trials, 3 seeds): a tie within 10%; both find a good configuration
    assert last[1] <= 1.1 * last[0]
    assert last[0] < 0.3 and last[1] < 0.3


def test_ensembles(tmp_path):
    output = run_example("ensembles.py", tmp_path)
    growth = table(output, "Ensembles of k models")
    assert len(growth) == 4
    four = growth["seeds, first 4"]
    # 4 models from different seeds beat the mean single model by > 1 point (quick: 2.0)
    assert four[3] > 1.0
    assert four[4] < four[5]                                       # and in test NLL
    others = table(output, "Other ensembles")
    snapshots = next(cells for name, cells in others.items() if name.startswith("snapshots"))
    assert snapshots[0] == 2 and snapshots[3] >= 0 and snapshots[4] < snapshots[5]
    top = next(cells for name, cells in others.items() if name.startswith("top"))
    assert top[0] == 3 and top[3] >= 0 and top[4] < top[5]
    distillation = table(output, "Distillation")
    student, alone = distillation["student, distilled"], distillation["same net, trained alone"]
    # quick run: the distilled student has the lower NLL (1.40 vs 1.43), not the higher accuracy
    assert student[1] < alone[1]
    assert student[0] > 60 and alone[0] > 60
