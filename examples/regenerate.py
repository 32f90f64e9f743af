"""Regenerate every table and picture of docs/experiments.md, and the quick-run snapshots.

    python examples/regenerate.py                    # full-size docs blocks + pictures + snapshots
    python examples/regenerate.py --snapshots        # only tests/snapshots/*.txt (quick runs)
    python examples/regenerate.py --docs             # only the docs blocks and pictures
    python examples/regenerate.py --only second_order --only batch_sizes   # a subset

Two things are kept in step with the examples' numbers:

* **The docs.** In docs/experiments.md a marker line

      <!-- regenerate: second_order.py --seed 0 -->

  is followed by a ```text block. Regenerating runs ``python examples/second_order.py
  --seed 0 --plot docs/images`` (full size: no ``--quick``) and replaces the block with a
  first line ``$ python examples/second_order.py --seed 0    # 2026-12-04, 9.8 s`` and what
  the script printed, without its ``wrote ...`` lines. The pictures the page shows
  (``![...](images/NAME.png)``) are copied into docs/images from the ``--seed 0`` runs
  (runs with another seed would replace them with a different run's figures); figures
  the page does not show are not kept. The verdicts around the blocks are prose: read
  them again after a regeneration, and say so where a verdict changed.
* **The snapshots.** ``tests/test_examples.py`` runs every example here with
  ``--quick --seed 0 --device cpu`` and compares what it printed, minus the lines that
  cannot repeat (:func:`comparable`), with ``tests/snapshots/<example>.txt``. Any change
  of numerics fails that test until both the snapshots and the full tables are
  regenerated with this script (``--snapshots`` refreshes only the snapshots, after a
  change that is known not to touch the full-size results, e.g. an example's new row).

Every run uses one BLAS thread (``OMP_NUM_THREADS=1`` and friends): faster for these small
matrices, and one source of run-to-run variation less. An example is every ``*.py`` file in
examples/ except this one and files starting with ``_``; each must accept ``--quick``,
``--seed``, ``--device`` and ``--plot DIR``, print timings only on lines starting with
``wall time`` and write its figures only into the ``--plot`` directory.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
SNAPSHOTS = ROOT / "tests" / "snapshots"
DOC = ROOT / "docs" / "experiments.md"
IMAGES = ROOT / "docs" / "images"
PLOT_HINT = "matplotlib is not installed: pip install 'tinygrad_opt[plot]'"
QUICK_ARGS = ("--quick", "--seed", "0", "--device", "cpu")
MARKER = re.compile(r"^<!-- regenerate: (?P<command>\S+\.py(?: [^>]*?)?) -->\n"
                    r"```[^\n]*\n.*?^```[ \t]*$", re.S | re.M)
NOT_COMPARED = ("wall time", "wrote ", PLOT_HINT)
IMAGE = re.compile(r"\]\(images/([^)\s]+\.png)\)")


def discover() -> list[str]:
    """The examples' names (file stems), sorted."""
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.py")
                  if path.name != "regenerate.py" and not path.name.startswith("_"))


def environment() -> dict:
    """One BLAS thread, and this checkout first on the import path."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def comparable(output: str) -> str:
    """The printed text without what cannot repeat from run to run or machine to machine:
    timing lines (``wall time ...``), the paths of written figures and the matplotlib hint."""
    lines = [line.rstrip() for line in output.splitlines()
             if not line.startswith(NOT_COMPARED)]
    return "\n".join(lines).strip("\n") + "\n"


def snapshot_path(name: str) -> pathlib.Path:
    return SNAPSHOTS / f"{name}.txt"


def quick_command(name: str, workdir: pathlib.Path) -> list[str]:
    """The quick run of one example, as the snapshot test runs it (figures into workdir)."""
    script = EXAMPLES_DIR / f"{name}.py"
    command = [sys.executable, str(script), *QUICK_ARGS, "--plot", str(workdir / "plots")]
    if '"--json"' in script.read_text():
        command += ["--json", str(workdir / f"{name}.json")]
    return command


def run_quick(name: str, workdir: pathlib.Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run one example's quick version in ``workdir`` (created); returns the finished process."""
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(quick_command(name, workdir), capture_output=True, text=True,
                          env=environment(), cwd=workdir, timeout=timeout)


def write_snapshot(name: str, output: str) -> pathlib.Path:
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    path = snapshot_path(name)
    path.write_text(comparable(output))
    return path


def update_snapshots(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        for name in names:
            started = time.perf_counter()
            finished = run_quick(name, pathlib.Path(directory) / name)
            if finished.returncode != 0:
                sys.exit(f"examples/{name}.py --quick failed:\n{finished.stderr}")
            path = write_snapshot(name, finished.stdout)
            print(f"{path.relative_to(ROOT)} ({time.perf_counter() - started:.1f} s)",
                  flush=True)


def run_full(command: str, plot_dir: pathlib.Path) -> tuple[str, float]:
    """Run ``examples/<command>`` at full size; returns (printed text, seconds)."""
    script, *args = shlex.split(command)
    started = time.perf_counter()
    finished = subprocess.run([sys.executable, str(EXAMPLES_DIR / script), *args,
                               "--plot", str(plot_dir)], capture_output=True, text=True,
                              env=environment(), cwd=ROOT)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        sys.exit(f"examples/{command} failed:\n{finished.stderr}")
    return finished.stdout, seconds


def regenerate_docs(names: list[str] | None) -> None:
    """Rerun every marked block of docs/experiments.md (or those of ``names``) in place."""
    text = DOC.read_text()
    commands = [match.group("command") for match in MARKER.finditer(text)]
    if names is not None:
        commands = [command for command in commands
                    if pathlib.Path(shlex.split(command)[0]).stem in names]
    outputs = {}
    with tempfile.TemporaryDirectory() as scratch:
        figures = {}                                   # file name -> path, seed-0 runs only
        for number, command in enumerate(commands):
            seed_zero = "--seed 0" in command or "--seed" not in command
            plot_dir = pathlib.Path(scratch) / str(number)
            output, seconds = run_full(command, plot_dir)
            if seed_zero and plot_dir.is_dir():
                figures.update({path.name: path for path in plot_dir.glob("*.png")})
            kept = [line for line in output.splitlines()
                    if not line.startswith(("wrote ", PLOT_HINT))]
            header = (f"$ python examples/{command}    # {datetime.date.today()}, "
                      f"{seconds:.1f} s")
            outputs[command] = "\n".join([header] + kept).rstrip("\n")
            print(f"{header}", flush=True)
        IMAGES.mkdir(parents=True, exist_ok=True)
        for name in IMAGE.findall(DOC.read_text()):    # only the figures the page shows
            if name in figures:
                shutil.copyfile(figures[name], IMAGES / name)
    # read the file again: another edit may have landed during the runs
    text = DOC.read_text()

    def replace(match):
        command = match.group("command")
        if command not in outputs:
            return match.group(0)
        return f"<!-- regenerate: {command} -->\n```text\n{outputs[command]}\n```"

    DOC.write_text(MARKER.sub(replace, text))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", action="store_true", help="only the quick snapshots")
    parser.add_argument("--docs", action="store_true", help="only the full-size docs blocks")
    parser.add_argument("--only", action="append", metavar="EXAMPLE",
                        help="only this example (repeatable; name without .py)")
    args = parser.parse_args(argv)
    names = discover()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"unknown example {', '.join(unknown)}; examples: {', '.join(names)}")
        names = [name for name in names if name in args.only]
    both = not (args.snapshots or args.docs)
    if args.docs or both:
        regenerate_docs(names if args.only else None)
    if args.snapshots or both:
        update_snapshots(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
