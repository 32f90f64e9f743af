"""The experiments added for the rest of the lecture notes (issue 17) show, in their quick
runs, what docs/experiments.md reports at full size (with margins).

Each example runs once per session (tests/examples_runner.py); tests/test_examples.py
compares the same run with its snapshot.
"""

from examples_runner import output_of, quick_run, table


def number(cell):
    try:
        return float(cell)
    except ValueError:
        return None


def test_batch_sizes_one_example_per_step_is_fastest_per_example_and_noisiest():
    rows = table(output_of("batch_sizes"), "digits MLP")
    sizes = list(rows)
    assert sizes[:4] == ["1", "8", "32", "128"] and sizes[4].startswith("full")
    noise = [float(rows[size][5]) for size in sizes]
    assert all(a > 2 * b for a, b in zip(noise[:3], noise[1:4]))    # roughly 1/B
    assert noise[-1] == 0.0                                          # the exact gradient
    final = {size: float(rows[size][1]) for size in sizes}
    # same examples read, same lr: more (smaller) steps get further (quick run)
    assert final["1"] < final["8"] < final["32"] < final["128"] < final[sizes[4]]
    assert number(rows["1"][3]) is not None                      # loss < 0.3 reached
    assert rows[sizes[4]][3] == "not reached"                    # 3 full-batch steps
    steps = {size: int(rows[size][0]) for size in sizes}
    assert steps["1"] == 32 * steps["32"]


def test_why_not_converging_each_cause_is_caught_by_a_check():
    output = output_of("why_not_converging")
    checks = table(output, "Which check catches it")
    verdicts = {name: [cell.split()[0] for cell in cells] for name, cells in checks.items()}
    # columns: init loss, overfit 20 samples, |dw|/|w|, learning curves, lr-find
    assert verdicts["healthy"][0] == "ok" and verdicts["healthy"][3] == "ok"
    assert verdicts["healthy"][4] == "ok"
    assert verdicts["lr too high"][2:] == ["FAIL", "FAIL", "FAIL"]
    assert "diverged" in checks["lr too high"][3]
    assert verdicts["lr too low"][1:] == ["FAIL", "FAIL", "FAIL", "FAIL"]
    assert "stalled" in checks["lr too low"][3]
    assert verdicts["unnormalised"][0] == "FAIL"                 # loss at init above ln 10
    assert verdicts["noisy labels"][0] == "ok"                   # init says nothing about labels
    runs = table(output, "What each cause does")
    # noisy training labels: the training accuracy ends below the (clean) validation's
    assert float(runs["noisy labels"][4]) < float(runs["noisy labels"][5])


def test_second_order_mini_batch_lbfgs_stays_far_from_the_full_batch_optimum():
    rows = table(output_of("second_order"), "The mini-batch half")
    final = {name: float(cells[2]) for name, cells in rows.items()}
    assert final["L-BFGS, full batch"] < final["L-BFGS, batch 128"] < final["L-BFGS, batch 32"]
    assert all(abs(float(cells[1]) - 20) < 1 for cells in rows.values())   # same budget


def test_exploding_gradients_weight_decay_does_not_stop_the_first_explosion():
    """What the run shows (docs/experiments.md section 12): L2 weight decay shrinks the
    weights by 1 - lr*lambda per step, far too slowly for an explosion within 4 steps."""
    data = quick_run("exploding_gradients").data
    runs = {r["run"]: r for r in data["results"]}
    decayed = runs["gain 1.6, weight decay 0.01"]
    assert decayed["diverged_at"] is not None and decayed["diverged_at"] <= 10
    assert runs["gain 1.6, clip at 10"]["diverged_at"] is None
