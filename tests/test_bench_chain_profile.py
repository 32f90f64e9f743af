"""``tinygrad-opt bench --only profile`` splits one op of the per-op chain into its parts
(benchmarks/step_profile.py: ``chain_parts``), ours beside the floor's."""

from tinygrad_opt.benchmarks import step_profile

PARTS = {"forward": 4e-6, "dispatch": 0.4e-6, "number": 0.7e-6, "apply": 1.6e-6,
         "numpy_forward": 0.4e-6, "backward": 3e-6, "order": 0.5e-6, "loop": 2.5e-6,
         "floor_forward": 2.3e-6, "floor_backward": 2.5e-6, "hand": 1e-6}


def test_the_parts_are_measured_and_add_up():
    parts = step_profile.chain_parts(repeats=1)
    assert set(parts) == set(PARTS)
    assert all(seconds > 0 for name, seconds in parts.items() if name != "dispatch")
    assert abs(parts["order"] + parts["loop"] - parts["backward"]) < 1e-12


def test_the_table_names_each_part_with_its_time(capsys):
    step_profile.print_chain_parts(PARTS)
    lines = capsys.readouterr().out.splitlines()[3:]
    assert [line.split()[0] for line in lines] == [
        "forward,", "dispatch:", "the", "Function.apply:", "NumPy's", "backward,", "the",
        "the", "total"]
    assert lines[0].split()[-4:] == ["4.0", "us", "2.3", "us"]
    assert lines[-1].endswith("ratios 7.00x and 4.80x")
