"""Each example's quick run, made once per test session and shared by the tests that read it.

``quick_run(name)`` runs ``examples/<name>.py --quick --seed 0 --device cpu --plot DIR``
(plus ``--json PATH`` where the script has it), exactly as examples/regenerate.py does for
the snapshots, and caches the result: tests/test_examples.py compares it with the snapshot,
and the tests of each example's key finding (tests/test_examples*.py) read the same run.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib.util
import json
import pathlib
import shutil
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
