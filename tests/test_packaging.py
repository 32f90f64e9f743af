"""The wheel must hold every subpackage: pyproject.toml lists them explicitly."""

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_pyproject_lists_every_subpackage():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(path.parent.relative_to(ROOT).parts)
               for path in (ROOT / "tinygrad_opt").rglob("__init__.py")}
    on_disk.add("tinygrad_opt.benchmarks")  # benchmarks/ ships as tinygrad_opt.benchmarks
    assert listed == on_disk
    assert config["package-dir"]["tinygrad_opt.benchmarks"] == "benchmarks"


def test_no_deep_learning_framework_is_imported_by_the_package_or_tests():
    for folder in ("tinygrad_opt", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if "external" in path.parts:
                continue  # benchmarks/external: comparison scripts run only on the GPU machine
            text = path.read_text()
            for name in ("torch", "jax", "tensorflow"):
                assert f"import {name}" not in text and f"from {name}" not in text, (path, name)
