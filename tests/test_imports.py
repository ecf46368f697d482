"""Package structure: imports run one way (no cycle between modules, counting imports inside functions,
and a fixed order between the subpackages), optional extras are never imported by the core, and the
tree stays navigable (few top-level modules, no name-prefix families, no oversized module)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.factories import REPO

PACKAGE = REPO / "actbench"

# The flow, lowest first: a unit (top-level module or subpackage) may import only units on earlier lines
# (or itself). Units on one line do not import each other.
LAYERS = [
    ["errors"],
    ["actbench", "timing", "lists"],
    ["runs", "activations"],
    ["config"],
    ["data", "stats"],
    ["models"],
    ["session"],
    ["evaluation"],
    ["predictions", "robustness"],
    ["training"],
    ["pack"],
    ["sweep", "report"],
    ["suites", "trackers", "analysis"],
    ["cli"],
    ["__main__"],
]
MAX_TOP_LEVEL_MODULES = 12
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """actbench names imported anywhere in `path`: module level and inside functions (they run later, but
    they are dependencies all the same); only `if TYPE_CHECKING:` blocks, which never run, are skipped."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("actbench"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("actbench"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the actbench modules it imports. `from actbench.x import y` where y is a submodule counts
    as importing y (not the package x itself, whose __init__ Python runs first in any case)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        found = _imports(path) & set(files)
        found -= {
            m.rsplit(".", 1)[0]
            for m in found
            if m.rsplit(".", 1)[0] in found
            and m in files
            and "." in m
            and _is_pkg(m.rsplit(".", 1)[0], files)
        }
        graph[name] = found - {name}
    return graph


def _is_pkg(module: str, files: dict[str, Path]) -> bool:
    return files[module].name == "__init__.py"


def unit(module: str) -> str:
    """actbench.report.tables -> report; actbench.config -> config; actbench -> actbench."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    rank = {u: i for i, line in enumerate(LAYERS) for u in line}
    bad = []
    for a, targets in graph.items():
        for b in targets:
            ua, ub = unit(a), unit(b)
            if ua != ub and rank[ub] >= rank[ua]:
                bad.append(f"{a} -> {b}")
    return sorted(bad)


def test_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_imports_inside_functions(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from actbench.cli import app\n"
        "def f():\n    from actbench.runs import CONFIG\n"
    )
    assert _imports(f) == {"actbench.runs", "actbench.runs.CONFIG"}


def test_no_import_cycles_between_modules() -> None:
    graph = import_graph()
    assert {"actbench.report.build", "actbench.training.loop", "actbench.robustness.noise"} <= set(graph)
    assert "actbench.report.model" in graph["actbench.report.figures"]  # the graph does see imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_imports_follow_the_layers() -> None:
    graph = import_graph()
    units = {unit(m) for m in graph}
    assert units == {u for line in LAYERS for u in line}, "a unit is missing from LAYERS (or gone)"
    assert upward_imports({"actbench.runs": {"actbench.cli.app"}}) == ["actbench.runs -> actbench.cli.app"]
    assert upward_imports(graph) == []


def test_the_tree_stays_navigable() -> None:
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    prefixes = Counter(name.split("_")[0] for name in top if "_" in name)
    assert not [p for p, n in prefixes.items() if n > 1], f"name-prefix family at the top level: {prefixes}"
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_core_imports_no_optional_extra() -> None:
    code = (
        "import sys\n"
        "import actbench.cli, actbench.training.loop, actbench.report.build, actbench.sweep.local\n"
        "import actbench.report.exports, actbench.pack.train\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorboard', 'mlflow', 'ray')"
        " or m.startswith('actbench.trackers'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_command_line_starts_without_torch() -> None:
    """`actbench --help` and the CLI's option defaults must not pay for importing torch (seconds)."""
    code = "import sys, actbench.cli\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def _empty_type_checking_blocks(source: str) -> int:
    tree = ast.parse(source)
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and "TYPE_CHECKING" in ast.unparse(node.test)
        and all(isinstance(n, ast.Pass) for n in node.body)
    )


def test_no_empty_type_checking_blocks() -> None:
    """An `if TYPE_CHECKING: pass` left after its imports went is dead code that reads as a dependency."""
    assert _empty_type_checking_blocks("if TYPE_CHECKING:\n    pass\n") == 1  # the check can fail
    found = [
        p.name for p in PACKAGE.rglob("*.py") if _empty_type_checking_blocks(p.read_text(encoding="utf-8"))
    ]
    assert not found, found
