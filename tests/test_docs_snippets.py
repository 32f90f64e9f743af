"""The docs cannot drift from the code: every snippet runs, every line reference holds.

1. Every ```python block of README.md and docs/*.md runs. The blocks of one page
   run in order in one fresh namespace (a later block may use an earlier one's
   names), with the working directory set to a temporary folder. A block that
   is not meant to run is fenced as ```text (or a plain fence), never ```python.
2. In the guided pages (docs/tour.md, docs/from-the-notes.md) a ```text block
   right after a ```python block is that block's printed output, and a
   ``# prints: ...`` comment states the line that statement prints. Both are
   compared with what the block really prints: text exactly (runs of spaces
   count as one), numbers to within one unit of the last digit shown.
3. In the guided pages, every reference of the form
   "`path/to/file.py`, lines A–B (`symbol`)" names an existing file and cites
   exactly: a (qualified) name of a function or class covers exactly its
   definition, from its first decorator or its def/class line to its last line;
   any other symbol (a statement) lies in the lines, which start or end on it
   and stay inside one definition.
4. Every ```python block of docs/tour.md pastes into the plain interactive
   prompt (``code.InteractiveConsole``), line by line, as a reader would.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import pathlib
import re

import pytest

import tinygrad_opt as tg

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
GUIDED = [ROOT / "docs" / "tour.md", ROOT / "docs" / "from-the-notes.md"]

FENCE = re.compile(r"^```[ \t]*([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
REFERENCE = re.compile(
    r"(?:`(?P<path>[\w./-]+\.py)`,\s+)?lines?\s+(?P<start>\d+)(?:[–-](?P<end>\d+))?"
    r"\s+\(`(?P<symbol>[^`]+)`\)")
PY_PATH = re.compile(r"`([\w./-]+\.py)`")
LINE_MENTION = re.compile(r"\blines?\s+\d+")
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?\b(?:nan|inf)\b")
PRINTS = re.compile(r"#\s*prints:\s?(.*)$")


# --- reading the Markdown ---------------------------------------------------------------

def fences(path: pathlib.Path) -> list[tuple[str, str, int]]:
    """(info string, body, line number) of every fenced block, in order."""
    text = path.read_text()
    return [(match.group(1).strip(), match.group(2), text.count("\n", 0, match.start()) + 1)
            for match in FENCE.finditer(text)]


def snippets(path: pathlib.Path, stated_output: bool | None = None):
    """(code, line, expected output or None) for every ```python block of a page.

    With ``stated_output`` (the default for the guided pages) the expected output
    is the ```text block right after the code, or else the ``# prints:`` comments
    of the code in order (when a block has some, they cover all it prints)."""
    if stated_output is None:
        stated_output = path in GUIDED
    blocks = fences(path)
    text = path.read_text()
    result = []
    for index, (info, body, line) in enumerate(blocks):
        if info != "python":
            continue
        expected = None
        if stated_output:
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            if following is not None and following[0] == "text" and \
                    _only_blank_between(text, line, body, following[2]):
                expected = following[1]
            else:
                stated = [PRINTS.search(code_line) for code_line in body.splitlines()]
                if any(stated):
                    expected = "".join(m.group(1) + "\n" for m in stated if m)
        result.append((body, line, expected))
    return result


def _only_blank_between(text: str, line: int, body: str, next_line: int) -> bool:
    """True when nothing but blank lines separates a block from the next one."""
    lines = text.splitlines()
    block_end = line + body.count("\n") + 1  # the closing fence (1-based)
    return all(not lines[i].strip() for i in range(block_end, next_line - 1))


# --- comparing printed output -------------------------------------------------------------

def _tolerance(token: str) -> float:
    """One unit of the last digit shown: '0.1234' -> 1e-4, '3.2e-05' -> 1e-6, '12' -> 0."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    if decimals == 0 and not exponent:
        return 0.0
    return 10.0 ** (-decimals + (int(exponent) if exponent else 0))


def outputs_match(actual: str, expected: str) -> bool:
    actual_lines = [line for line in actual.strip("\n").splitlines()]
    expected_lines = [line for line in expected.strip("\n").splitlines()]
    if len(actual_lines) != len(expected_lines):
        return False
    return all(_line_matches(a, e) for a, e in zip(actual_lines, expected_lines))


def _line_matches(actual: str, expected: str) -> bool:
    actual_numbers, expected_numbers = NUMBER.findall(actual), NUMBER.findall(expected)
    if len(actual_numbers) != len(expected_numbers):
        return False

    def words(line):
        return " ".join(" ".join(NUMBER.split(line)).split())
    if words(actual) != words(expected):
        return False
    for a, e in zip(actual_numbers, expected_numbers):
        a_value, e_value = float(a), float(e)
        if math.isnan(e_value) or math.isinf(e_value):
            if str(a_value) != str(e_value):
                return False
        elif abs(a_value - e_value) > _tolerance(e) * 1.0001 + 1e-12 * abs(e_value):
            return False
    return True


def test_output_comparison_is_strict_where_it_should_be():
    assert outputs_match("x = 0.12341\n", "x = 0.1234")
    assert outputs_match("[1.   0.5]", "[1. 0.5]")                     # spacing is free
    assert not outputs_match("x = 0.1236", "x = 0.1234")               # 2 units off
    assert not outputs_match("y = 0.1234", "x = 0.1234")               # the words count
    assert not outputs_match("12", "13")                                # integers: exact
    assert not outputs_match("1\n2", "1")                               # every line counts
    assert outputs_match("3.2e-05", "3.21e-05") and not outputs_match("3.3e-05", "3.21e-05")


def test_stated_outputs_are_read_from_text_blocks_and_prints_comments(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\nprint(1)\n```\n\n```text\n1\n```\n\n"
                    "```python\nprint(2)  # prints: 2\nprint(3)  # prints: 3\n```\n"
                    "Prose in between.\n\n```text\nnot output\n```\n\n"
                    "```python\nx = 4\n```\n")
    assert snippets(page, stated_output=True) == [
        ("print(1)\n", 1, "1\n"),
        ("print(2)  # prints: 2\nprint(3)  # prints: 3\n", 9, "2\n3\n"),
        ("x = 4\n", 19, None)]
    assert [expected for _, _, expected in snippets(page)] == [None, None, None]


# --- 1 and 2: every snippet runs and prints what the page says --------------------------

OPTIONAL_EXTRAS = ("distributed", "mpi4py", "cupy", "matplotlib", "numba")  # pyproject.toml


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_python_snippet_of_the_page_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for code, line, expected in snippets(page):
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
        except ModuleNotFoundError as error:
            if error.name not in OPTIONAL_EXTRAS:
                raise
            pytest.skip(f"{page.relative_to(ROOT)}, line {line}: the optional {error.name!r} "
                        "is not installed (CI installs every extra, so it runs there)")
        except Exception as error:
            pytest.fail(f"{page.relative_to(ROOT)}, the ```python block at line {line} raised "
                        f"{type(error).__name__}: {error}\n{code}")
        finally:
            tg.set_grad_enabled(True)  # a snippet must not leave the next one in no_grad
        if expected is not None:
            assert outputs_match(printed.getvalue(), expected), (
                f"{page.relative_to(ROOT)}, the ```python block at line {line} printed\n"
                f"{printed.getvalue()}\nbut the page says\n{expected}")


def test_the_guided_pages_exist_and_state_their_outputs():
    for page in GUIDED:
        blocks = snippets(page)
        assert len(blocks) >= 8, f"{page.name}: only {len(blocks)} snippets"
        checked = sum(expected is not None for _, _, expected in blocks)
        assert checked >= len(blocks) * 3 // 4, f"{page.name}: few snippets state their output"


def test_no_fence_hides_python_from_the_runner():
    """```py, ```python3 or ```pycon would look runnable but never be run."""
    for page in PAGES:
        for number, text_line in enumerate(page.read_text().splitlines(), 1):
            assert not re.match(r"\s+```", text_line), \
                f"{page.relative_to(ROOT)}:{number}: an indented fence is not run; unindent it"
        for info, _, line in fences(page):
            assert info.lower() not in {"py", "python3", "pycon", "ipython"} and \
                (info == "python" or info.lower() != "python"), \
                f"{page.relative_to(ROOT)}:{line}: fence ```{info}: use ```python or ```text"


# --- 3: line references ------------------------------------------------------------------

def references(page: pathlib.Path) -> list[tuple[str, int, int, str, str]]:
    """(path, start, end, symbol, text) of every line reference of a page. A reference
    without a file ("and lines 70–73 (`no_grad`)") is in the last file named before it."""
    text = page.read_text()
    found = []
    for match in REFERENCE.finditer(text):
        path = match["path"]
        if path is None:
            named_before = PY_PATH.findall(text, 0, match.start())
            path = named_before[-1] if named_before else "(no file named)"
        start = int(match["start"])
        end = int(match["end"] or start)
        found.append((path, start, end, match["symbol"], " ".join(match.group(0).split())))
    return found


def _definitions(tree: ast.AST, prefix: str = ""):
    """{qualified name: node} of every class and function, e.g. 'SGD.update'."""
    found = {}
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + node.name
            found[name] = node
            found.update(_definitions(node, name + "."))
    return found


def check_reference(path: str, start: int, end: int, symbol: str) -> str | None:
    """None if the reference holds, else what is wrong with it.

    A symbol that the file defines (``run_backward``, ``SGD.update``) must have
    its ``def``/``class`` line in the range, and the range must not run past the
    definition's end. Any other symbol (a code fragment such as
    ``b[...] = momentum * b``) must appear in the lines as written."""
    file = ROOT / path
    if not file.is_file():
        return f"{path} does not exist"
    source = file.read_text()
    lines = source.splitlines()
    if not 1 <= start <= end <= len(lines):
        return f"lines {start}-{end} are outside {path} ({len(lines)} lines)"
    node = _definitions(ast.parse(source)).get(symbol)
    if node is not None:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        if (start, end) == (first, node.end_lineno):
            return None
        return (f"`{symbol}` is defined in lines {first}-{node.end_lineno} of {path}, "
                f"but the page says lines {start}-{end}")
    cited = "\n".join(lines[start - 1:end])
    if symbol not in cited:
        return f"`{symbol}` is not in lines {start}-{end} of {path}"
    inside = [node for node in _definitions(ast.parse(source)).values()
              if node.lineno <= start and end <= node.end_lineno]
    if not inside and end > start:
        return f"lines {start}-{end} of {path} span more than one definition"
    if symbol not in lines[start - 1] and symbol not in lines[end - 1] and \
            symbol.split("\n")[0] not in lines[start - 1]:
        return f"`{symbol}` is in lines {start}-{end} of {path}, but the range is wider"
    return None


@pytest.mark.parametrize("page", GUIDED, ids=[p.name for p in GUIDED])
def test_every_line_reference_of_the_guided_pages_holds(page):
    found = references(page)
    assert len(found) >= 10, f"{page.name}: only {len(found)} line references"
    problems = []
    for path, start, end, symbol, text in found:
        problem = check_reference(path, start, end, symbol)
        if problem is not None:
            problems.append(f"{text}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", GUIDED, ids=[p.name for p in GUIDED])
def test_every_line_number_in_the_guided_pages_is_a_checked_reference(page):
    """A 'lines A–B' written in another form would escape the check above."""
    text = page.read_text()
    checked = {match.start("start") for match in REFERENCE.finditer(text)}
    for mention in LINE_MENTION.finditer(text):
        number_at = mention.end() - len(mention.group(0).split()[-1])
        assert number_at in checked, (
            f"{page.name}: '{text[mention.start():mention.start() + 60]}...' is not in the "
            "form `file.py`, lines A–B (`symbol`)")


def test_the_reference_check_catches_drift():
    engine = "tinygrad_opt/autograd/engine.py"
    node = _definitions(ast.parse((ROOT / engine).read_text()))["run_backward"]
    assert check_reference(engine, node.lineno, node.end_lineno, "run_backward") is None
    assert check_reference(engine, node.lineno + 1, node.end_lineno, "run_backward")
    assert check_reference(engine, node.lineno, node.end_lineno + 5, "run_backward")
    assert check_reference("tinygrad_opt/missing.py", 1, 2, "x")
    assert check_reference(engine, node.lineno, node.end_lineno, "no_such_text_anywhere")


def test_every_tour_snippet_pastes_into_the_interactive_prompt(tmp_path, monkeypatch):
    """The classic prompt ends a block at a blank line and refuses a statement right
    after a compound one: a snippet with a blank line inside a class body, or with
    no blank line after a block, works in a file but not when pasted."""
    import code
    monkeypatch.chdir(tmp_path)
    console = code.InteractiveConsole({})
    errors = io.StringIO()
    for body, line, _ in snippets(ROOT / "docs" / "tour.md", stated_output=False):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(errors):
            more = False
            for text_line in body.splitlines() + [""]:
                more = console.push(text_line)
            assert not more, f"tour.md:{line}: the block is still open after its last line"
        assert "Error" not in errors.getvalue(), f"tour.md:{line}: {errors.getvalue()[-600:]}"
