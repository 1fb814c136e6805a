"""Imports point down the flow of stages (lolzoo.STAGES) and never back up or in a circle.

The check reads the source with `ast` (nothing is imported, so no torch): every import
statement counts, at module level or inside a function, absolute or relative.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lolzoo

PACKAGE_DIR = Path(lolzoo.__file__).parent


def module_names(package_dir: Path, package: str) -> dict[str, Path]:
    """Every module of the package by dotted name; a package's `__init__` is the package's name."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((package, *parts))] = path
    return modules


def imported_modules(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The package's modules that the file at `path` (module `name`) imports, anywhere in it."""
    is_package = path.name == "__init__.py"
    found = set()

    def resolve(base: str, names: list[str]) -> None:
        # `from base import x` imports module base.x when there is one, else a name of base.
        if base not in modules and not any(m.startswith(base + ".") for m in modules):
            return
        for imported in names:
            found.add(f"{base}.{imported}" if f"{base}.{imported}" in modules else base)

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in modules:  # `import a.b.c` of a missing c
                    target = target.rpartition(".")[0]
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = name.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            resolve(base, [alias.name for alias in node.names])
    found.discard(name)
    return found


def import_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    modules = module_names(package_dir, package)
    return {name: imported_modules(path, name, modules) for name, path in modules.items()}


def stage_of(module: str, package: str, stages) -> str | None:
    """The stage holding the module's top-level module or package (`__init__` for the package)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for stage, members in stages:
        if top in members:
            return stage
    return None


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in sorted(graph.get(node, ())):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [cycle_through(component, graph) for component in components]


def cycle_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the component's first module back to itself, for the message."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    return paths[node] + [start]
                if child not in paths:
                    paths[child] = paths[node] + [child]
                    next_frontier.append(child)
        frontier = next_frontier
    return component


def flow_problems(package_dir: Path, package: str, stages, siblings) -> list[str]:
    """Every unclassified module, upward or sideways import and import cycle, one line each."""
    rank = {stage: position for position, (stage, _) in enumerate(stages)}
    graph = import_graph(package_dir, package)
    problems = []
    for module in sorted(graph):
        if stage_of(module, package, stages) is None:
            top = module.split(".")[1]
            problems.append(f"{package}.{top} belongs to no stage: add it to STAGES in "
                            f"{package}/__init__.py")
    for module, imports in sorted(graph.items()):
        importer_stage = stage_of(module, package, stages)
        for imported in sorted(imports):
            imported_stage = stage_of(imported, package, stages)
            if importer_stage is None or imported_stage is None:
                continue
            if rank[imported_stage] > rank[importer_stage]:
                problems.append(f"{module} (stage {importer_stage}) imports {imported} from the "
                                f"later stage {imported_stage}")
            elif (importer_stage != imported_stage and importer_stage in siblings
                  and imported_stage in siblings):
                problems.append(f"{module} (stage {importer_stage}) imports {imported} from the "
                                f"sibling stage {imported_stage}")
    for cycle in find_cycles(graph):
        problems.append("import cycle: " + " -> ".join(cycle))
    return problems


def test_lolzoo_imports_point_down_the_flow():
    problems = flow_problems(PACKAGE_DIR, "lolzoo", lolzoo.STAGES, lolzoo.SIBLINGS)
    assert not problems, "\n".join(problems)


def test_stages_are_named_once_and_hold_each_module_once():
    stage_names = [stage for stage, _ in lolzoo.STAGES]
    members = [member for _, stage_members in lolzoo.STAGES for member in stage_members]
    assert len(stage_names) == len(set(stage_names))
    assert len(members) == len(set(members))
    assert lolzoo.SIBLINGS <= set(stage_names)


# The guard must be able to fail: a tiny fake package with stages low < mid < high.
FAKE_STAGES = (("low", ("__init__", "base")), ("mid", ("middle",)), ("high", ("top", "other")),
               ("left", ("left",)), ("right", ("right",)))


def write_package(root: Path, files: dict[str, str]) -> Path:
    package_dir = root / "fake"
    for relative, text in files.items():
        path = package_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package_dir


def fake_problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    base = {"__init__.py": "", "base.py": "", "middle/__init__.py": "",
            "middle/a.py": "from fake.base import x\n", "top.py": "from fake.middle import a\n",
            "left.py": "", "right.py": ""}
    package_dir = write_package(tmp_path, {**base, **files})
    return flow_problems(package_dir, "fake", FAKE_STAGES, frozenset({"left", "right"}))


def test_checker_passes_a_package_that_flows_down(tmp_path):
    assert fake_problems(tmp_path, {}) == []


def test_checker_fails_on_an_upward_import_inside_a_function(tmp_path):
    problems = fake_problems(tmp_path, {"middle/b.py": "def f():\n    from fake import top\n"})
    assert problems == ["fake.middle.b (stage mid) imports fake.top from the later stage high"]


def test_checker_fails_on_a_relative_upward_import(tmp_path):
    problems = fake_problems(tmp_path, {"middle/b.py": "from .. import top\n"})
    assert problems == ["fake.middle.b (stage mid) imports fake.top from the later stage high"]


def test_checker_fails_on_a_cycle_within_a_stage(tmp_path):
    problems = fake_problems(tmp_path, {"middle/a.py": "from . import b\n",
                                        "middle/b.py": "import fake.middle.a\n"})
    assert problems == ["import cycle: fake.middle.a -> fake.middle.b -> fake.middle.a"]


def test_checker_fails_on_an_import_between_siblings(tmp_path):
    problems = fake_problems(tmp_path, {"right.py": "from fake.left import thing\n"})
    assert problems == ["fake.right (stage right) imports fake.left from the sibling stage left"]


def test_checker_fails_on_a_module_of_no_stage(tmp_path):
    problems = fake_problems(tmp_path, {"stray/__init__.py": ""})
    assert problems == ["fake.stray belongs to no stage: add it to STAGES in fake/__init__.py"]


@pytest.mark.parametrize("source", ["import fake.high_and_mighty\n", "import os\n"])
def test_checker_ignores_modules_outside_the_package(tmp_path, source):
    assert fake_problems(tmp_path, {"base.py": source}) == []
