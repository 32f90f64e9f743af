"""Each example's quick run, made once per test session and shared by the tests that read it.

``quick_run(name)`` runs ``examples/<name>.py --quick --seed 0 --device cpu --plot DIR``
(plus ``--json PATH`` where the script has it), exactly as examples/regenerate.py does for
the snapshots, and caches the result: tests/test_examples.py compares it with the snapshot,
and the tests of each example's key finding (tests/test_examples*.py) read the same run.
The readers of the printed tables (:func:`rows_of`, :func:`table`) are shared by those tests too.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib.util
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def _load_regenerate():
    spec = importlib.util.spec_from_file_location("regenerate", ROOT / "examples" / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


regenerate = _load_regenerate()
_WORKDIR = pathlib.Path(tempfile.mkdtemp(prefix="tinygrad-opt-examples-"))
atexit.register(shutil.rmtree, _WORKDIR, ignore_errors=True)
_runs: dict = {}


@dataclasses.dataclass
class QuickRun:
    name: str
    returncode: int
    stdout: str
    stderr: str
    plots: pathlib.Path
    data: dict | None  # the --json output, for the scripts that write one


def quick_run(name: str) -> QuickRun:
    """The (cached) quick run of ``examples/<name>.py``."""
    if name not in _runs:
        workdir = _WORKDIR / name
        finished = regenerate.run_quick(name, workdir)
        json_path = workdir / f"{name}.json"
        data = json.loads(json_path.read_text()) if json_path.exists() else None
        _runs[name] = QuickRun(name, finished.returncode, finished.stdout, finished.stderr,
                               workdir / "plots", data)
    return _runs[name]


def output_of(name: str) -> str:
    """The quick run's printed text; fails the calling test if the script failed."""
    run = quick_run(name)
    assert run.returncode == 0, f"examples/{name}.py --quick failed:\n{run.stdout}{run.stderr}"
    return run.stdout


def run_example(name: str, tmp_path=None, *extra) -> str:
    """The shared quick run of ``examples/<name>`` (``name`` with or without ``.py``); with
    ``extra`` flags, a run of its own in ``tmp_path``."""
    if not extra:
        return output_of(name.removesuffix(".py"))
    finished = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--quick",
                               "--plot", str(tmp_path / "plots"), *extra],
                              capture_output=True, text=True, env=regenerate.environment(),
                              cwd=tmp_path, timeout=120)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


# --- reading the printed tables ---

def rows_of(output: str, title: str | None = None) -> list[list[str]]:
    """The rows (lists of cells) of the first table after the line starting with ``title``
    (or of the first table): a header line, a line of dashes, rows up to a blank line or a
    line that is no row (a note in parentheses, the wall time, 'wrote ...', the matplotlib
    hint). Cells are split at two or more spaces."""
    lines = output.splitlines()
    start = 0 if title is None else next(i for i, line in enumerate(lines)
                                         if line.startswith(title))
    rule = next(i for i in range(start, len(lines)) if re.fullmatch(r"[- ]+", lines[i])
                and "--" in lines[i])
    rows = []
    for line in lines[rule + 1:]:
        if not line.strip() or line.startswith(("wrote", "matplotlib", "(", "wall time")):
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def table(output: str, title: str | None = None) -> dict:
    """``{first cell: other cells}`` of a table (see :func:`rows_of`)."""
    return {cells[0]: cells[1:] for cells in rows_of(output, title)}


def number_or_text(cell: str):
    """A cell as a float (a trailing % dropped) where it reads as one, else the text."""
    try:
        return float(cell.rstrip("%"))
    except ValueError:
        return cell


def numeric_table(output: str, title: str | None = None) -> dict:
    """``{first cell: other cells as floats where possible}`` (see :func:`number_or_text`)."""
    return {key: [number_or_text(cell) for cell in cells]
            for key, cells in table(output, title).items()}
