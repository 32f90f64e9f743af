"""The core must stay readable in about an hour: a line budget keeps it small.

Counted: lines of code in every file that docs/reading-order.md lists (its one
reading order), not blank lines, comments or docstrings: explanations are
free, code is not. Nothing listed there is left out of the count.
"""

import ast
import io
import pathlib
import re
import tokenize

ROOT = pathlib.Path(__file__).resolve().parent.parent
READING_ORDER = ROOT / "docs" / "reading-order.md"
BUDGET = 2000  # STYLE.md rule 19


def code_lines(path: pathlib.Path) -> int:
    source = path.read_text()
    docstring_lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant) and isinstance(
                    body[0].value.value, str):
                docstring_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                              tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstring_lines)


def reading_order() -> list:
    """The numbered entries of docs/reading-order.md, in order."""
    return re.findall(r"^\d+\. `(tinygrad_opt/[\w/]+\.py)`", READING_ORDER.read_text(), re.M)


def test_code_line_counter_counts_code_only(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Doc."""\n\n# comment\nx = 1\n\n\ndef f():\n    """Doc\n    more."""\n'
                      '    return (x +\n            1)\n')
    assert code_lines(sample) == 4  # x = 1, def f():, and the two lines of the return


def test_reading_order_is_numbered_and_every_file_exists():
    files = reading_order()
    assert len(files) >= 10
    assert len(set(files)) == len(files)
    missing = [name for name in files if not (ROOT / name).exists()]
    assert not missing, missing


def test_reading_path_stays_within_its_line_budget():
    counts = {name: code_lines(ROOT / name) for name in reading_order()}
    total = sum(counts.values())
    assert total <= BUDGET, f"the reading path has {total} lines of code, over {BUDGET}: {counts}"


def test_the_engine_files_are_on_the_reading_path():
    # The files no reader of the engine can skip must be counted, strict device included.
    for name in ("backend/__init__.py", "backend/strict.py", "tensor.py", "autograd/engine.py",
                 "autograd/function.py", "autograd/grad_mode.py", "ops/elementwise.py",
                 "optim/optimizer.py"):
        assert f"tinygrad_opt/{name}" in reading_order()


def test_package_docstrings_point_to_the_one_reading_order():
    for package in ("tinygrad_opt", "tinygrad_opt/autograd", "tinygrad_opt/ops"):
        docstring = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
        assert "docs/reading-order.md" in docstring, package
