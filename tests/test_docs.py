"""Every Python code block in the README runs and prints what it claims."""

import contextlib
import io
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_opens_with_the_two_commands():
    lines = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()[:2]]
    assert lines == ['pip install . && tinygrad-opt train',
                     'pip install -e ".[dev,fast,distributed]" && pytest']


def test_readme_example_trains_digits_to_a_real_accuracy():
    (block,) = python_blocks(ROOT / "README.md")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(block, "README.md", "exec"), {})
    accuracy = float(output.getvalue().split("test accuracy:")[1])
    assert accuracy >= 0.95
