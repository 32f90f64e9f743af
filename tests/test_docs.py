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


def test_docs_do_not_cite_issue_numbers_a_reader_cannot_see():
    pages = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    cited = [f"{page.name}: {line.strip()}" for page in pages
             for line in page.read_text().splitlines()
             if re.search(r"\bissues? #?\d+", line, flags=re.I)]
    assert cited == []


def test_examples_write_pictures_to_a_git_ignored_folder():
    """Each example's --plot default is 'plots', which .gitignore ignores wherever it is."""
    import shutil
    import subprocess

    defaults = {}
    for example in sorted((ROOT / "examples").glob("*.py")):
        match = re.search(r'add_argument\("--plot", default="([^"]+)"', example.read_text())
        if match:
            defaults[example.name] = match.group(1)
    assert len(defaults) >= 15 and set(defaults.values()) == {"plots"}
    assert "plots/" in (ROOT / ".gitignore").read_text().splitlines()
    if shutil.which("git") and (ROOT / ".git").exists():
        for path in ("plots/ensembles.png", "examples/plots/ensembles.png"):
            ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
            assert ignored.returncode == 0, path


def test_deviations_page_links_resolve_and_readme_points_to_it():
    page = (ROOT / "docs" / "deviations.md").read_text()
    links = re.findall(r"\]\(([^)#]+\.md)\)", page)
    assert links and all((ROOT / "docs" / link).exists() for link in links)
    assert "docs/deviations.md" in (ROOT / "README.md").read_text()
    for name in ("clip", "max_pool2d", "binary_cross_entropy", "chaining", "tg.save",
                 "DataLoader"):
        assert name in page


def test_the_surface_page_cites_files_that_exist_and_namespaces_that_import():
    import importlib
    page = (ROOT / "docs" / "pytorch-surface.md").read_text()
    files = set(re.findall(r"`((?:[a-z_0-9]+/)*[a-z_0-9]+\.py)`", page))
    assert len(files) >= 40
    missing = [f for f in files if not (ROOT / "tinygrad_opt" / f).exists()]
    assert missing == []
    for folder in re.findall(r"`([a-z_]+)/`", page):
        assert (ROOT / "tinygrad_opt" / folder).is_dir(), folder
    for name in re.findall(r"`tg\.([a-z_]+(?:\.[a-z_]+)*)`", page):
        module = "tinygrad_opt." + name
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:   # a function or an attribute: it must exist there
            parent, _, leaf = module.rpartition(".")
            assert hasattr(importlib.import_module(parent), leaf), name
    assert "pytorch-surface.md" in (ROOT / "README.md").read_text()
