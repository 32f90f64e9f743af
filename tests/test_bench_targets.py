"""The targets' summary of ``tinygrad-opt bench`` (benchmarks/run.py) reads the suites'
rows: each target's ratio from the row it names, the floor's beside the small ones."""

from tinygrad_opt.benchmarks import run

OPS = [((8,), 1e-5, 2e-6, 6.1, 0.01), ((1024, 1024), 3e-3, 2e-3, 1.8, 0.02)]
MLP = [("MLP 784-512-512-10, batch 128, sgd", 0, 0, 1.11, 0, 0),
       ("MLP 784-512-512-10, batch 128, adam", 0, 0, 1.2, 0, 0),
       ("MLP 64-64-10, batch 32, sgd", 0, 0, 2.8, 0, 0),
       ("MLP 64-64-10, batch 32, adam", 0, 0, 2.5, 0, 0)]
ADAM = [{"case": "1 x 10M", "ratio": 0.93}, {"case": "100 x 100k", "ratio": 0.9},
        {"case": "1 x 10M, default", "ratio": 0.75}, {"case": "1 x 10M, no Numba", "ratio": 0.5}]
FLOOR = [("per-op chain on (8,), fwd + bwd", 6.2, 5.8, 4.2),
         ("MLP 64-64-10, batch 32, sgd step", 2.7, 2.6, 1.8)]


def test_each_target_reads_its_row():
    summary = run.targets({"ops": OPS, "mlp": MLP, "adam": ADAM})
    assert [(ratio, target) for _, ratio, target, _ in summary] == [
        (6.1, 4.0), (2.8, 2.0), (1.11, 1.15), (1.2, 1.15), (0.75, 0.8)]
    assert all(floor is None for *_, floor in summary)


def test_the_floor_suite_alone_gives_the_two_small_targets_with_their_floor():
    summary = run.targets({"floor": FLOOR})
    assert summary == [("per-op chain on (8,), fwd + bwd", 6.2, 4.0, 4.2),
                       ("MLP 64-64-10, batch 32, SGD step", 2.7, 2.0, 1.8)]
    with_ops = run.targets({"floor": FLOOR, "ops": OPS})
    assert with_ops[0] == ("per-op chain on (8,), fwd + bwd", 6.1, 4.0, 4.2)


def test_the_printed_summary_says_which_are_met(capsys):
    # (the Adam target reads the default update's row; the readable rule's is printed below)
    results = {"mlp": MLP, "adam": ADAM}
    run.print_targets(run.targets(results), results)
    lines = capsys.readouterr().out.splitlines()
    assert "without Numba (the NumPy twin): 0.50x; " in lines[-1]
    assert "the readable Adam rule over 10M (fused=False): 0.93x" in lines[-1]
    met = {line.split("|")[0].strip(): line.split("|")[3].strip() for line in lines[3:-1]}
    assert met == {"MLP 64-64-10, batch 32, SGD step": "no",
                   "MLP 784-512-512-10, batch 128, SGD step": "yes",
                   "MLP 784-512-512-10, batch 128, Adam step": "no",
                   "Adam over 10M parameters (one-pass hand Adam)": "yes"}
