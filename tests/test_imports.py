"""The import picture of the package: no circles outside the core, no library module
reaching up into the command line.

The graph is read from the source with ``ast`` (nothing is imported): an edge
``a -> b`` for every ``import tinygrad_opt.b`` / ``from tinygrad_opt.b import x``
in module ``a`` (``from tinygrad_opt import nn`` resolves to the module
``tinygrad_opt.nn``). Circles are looked for among the imports that run when the
module is imported (module level and class bodies, not function bodies, not
``if TYPE_CHECKING:``), then once more counting the imports inside functions too
(a lazy import does not untie a circle); the layering rule counts every import.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "tinygrad_opt"

# The one allowed knot: a Tensor's operators delegate to the ops, and the ops build
# Tensors through the autograd machinery. Only imports between two of these modules
# may close a circle.
CORE_PREFIXES = ("tinygrad_opt.autograd.", "tinygrad_opt.ops.")
CORE_MODULES = {"tinygrad_opt.tensor", "tinygrad_opt.autograd", "tinygrad_opt.ops"}

# The command line is the top layer: only it and ``python -m tinygrad_opt`` import it.
CLI = "tinygrad_opt.cli"
MAY_IMPORT_CLI = ("tinygrad_opt.__main__",)


def in_core(module: str) -> bool:
    return module in CORE_MODULES or module.startswith(CORE_PREFIXES)


def is_cli(module: str) -> bool:
    return module == CLI or module.startswith(CLI + ".")


def package_modules(root: pathlib.Path = ROOT) -> dict[str, pathlib.Path]:
    """``{dotted module name: path}`` for every ``.py`` file of the package."""
    modules = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _runs_at_import(tree: ast.Module):
    """The import statements executed when the module is imported."""
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        pending.extend(ast.iter_child_nodes(node))


def _resolve(name: str, modules) -> str | None:
    """The longest module of the package that ``name`` (dotted) lies in, if any."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imported_modules(module: str, node, modules) -> set[str]:
    """The package modules one import statement of ``module`` imports."""
    if isinstance(node, ast.Import):
        found = {_resolve(alias.name, modules) for alias in node.names}
        return found - {None}
    base = node.module or ""
    if node.level:                                   # relative: from .x import y
        is_package = modules[module].name == "__init__.py"
        anchor = module.split(".")[:len(module.split(".")) - node.level + is_package]
        base = ".".join(anchor + ([base] if base else []))
    found = set()
    for alias in node.names:                         # from pkg import submodule, or a name
        found.add(_resolve(f"{base}.{alias.name}", modules) if f"{base}.{alias.name}" in modules
                  else _resolve(base, modules))
    return found - {None}


def import_graph(root: pathlib.Path = ROOT, at_import_only: bool = True) -> dict[str, set[str]]:
    """``{module: the package modules it imports}``."""
    modules = package_modules(root)
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        nodes = _runs_at_import(tree) if at_import_only else (
            node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)))
        graph[module] = set()
        for node in nodes:
            graph[module] |= imported_modules(module, node, modules)
        graph[module].discard(module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def without_core_knot(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph less the imports between two core modules (the allowed Tensor<->ops knot)."""
    return {module: {target for target in targets if not (in_core(module) and in_core(target))}
            for module, targets in graph.items()}


def cli_importers(graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """``{library module: the command-line modules it imports}``."""
    return {module: sorted(filter(is_cli, targets)) for module, targets in graph.items()
            if not is_cli(module) and module not in MAY_IMPORT_CLI
            and any(map(is_cli, targets))}


# --- the package ----------------------------------------------------------------------------

def test_no_import_circle_outside_the_core_knot():
    found = cycles(without_core_knot(import_graph()))
    assert found == [], "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_circle_held_open_by_an_import_inside_a_function():
    """An import moved into a function body to dodge a circle is still a circle
    (imports of optional extras such as dask or matplotlib are not package modules)."""
    found = cycles(without_core_knot(import_graph(at_import_only=False)))
    assert found == [], "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_library_module_imports_the_command_line():
    assert cli_importers(import_graph(at_import_only=False)) == {}


def test_the_command_line_is_a_package_with_main():
    graph = import_graph()
    assert "tinygrad_opt.cli" in graph and "tinygrad_opt.cli.args" in graph
    assert (ROOT / "tinygrad_opt" / "cli" / "__init__.py").exists()
    assert "tinygrad_opt.cli" in graph["tinygrad_opt.__main__"]


# --- the checks themselves --------------------------------------------------------------------

def test_the_checks_catch_a_circle_and_a_library_module_importing_the_cli(tmp_path):
    files = {
        "tinygrad_opt/__init__.py": "",
        "tinygrad_opt/tensor.py": "from tinygrad_opt.ops import elementwise\n",
        "tinygrad_opt/ops/__init__.py": "",
        "tinygrad_opt/ops/elementwise.py": "from tinygrad_opt.tensor import Tensor\n",
        "tinygrad_opt/tune/__init__.py": "",
        "tinygrad_opt/tune/search.py": "from tinygrad_opt.tune.bayes import bayes_trials\n",
        "tinygrad_opt/tune/bayes.py": "from .search import run_trials\n",
        "tinygrad_opt/train.py": "def run():\n    from tinygrad_opt import cli\n",
        "tinygrad_opt/cli/__init__.py": "from tinygrad_opt.cli import args\n",
        "tinygrad_opt/cli/args.py": "import tinygrad_opt.train\n",
        "tinygrad_opt/__main__.py": "from tinygrad_opt.cli import main\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert graph["tinygrad_opt.tune.bayes"] == {"tinygrad_opt.tune.search"}
    assert graph["tinygrad_opt.cli"] == {"tinygrad_opt.cli.args"}
    assert graph["tinygrad_opt.train"] == set()               # the import is inside a function
    assert cycles(graph) == [["tinygrad_opt.ops.elementwise", "tinygrad_opt.tensor"],
                             ["tinygrad_opt.tune.bayes", "tinygrad_opt.tune.search"]]
    assert cycles(without_core_knot(graph)) == [["tinygrad_opt.tune.bayes",
                                                 "tinygrad_opt.tune.search"]]
    assert cli_importers(import_graph(tmp_path, at_import_only=False)) == {
        "tinygrad_opt.train": ["tinygrad_opt.cli"]}


@pytest.mark.parametrize("module", ["tinygrad_opt.tensor", "tinygrad_opt.autograd.engine",
                                    "tinygrad_opt.ops.shape"])
def test_the_core_knot_is_only_the_core(module):
    assert in_core(module)
    assert not in_core("tinygrad_opt.nn.functional") and not in_core("tinygrad_opt.optim.sgd")
    assert not in_core("tinygrad_opt.tensor_utils") and not in_core("tinygrad_opt.opsx")
