"""The package tree is the architecture: no import runs back up, no cycle, libraries at the edges.

Layers, lowest first: ``core`` < ``xlsx`` < ``office`` | ``narrative`` < ``publish`` < ``web`` < ``cli``. A module
may import its own package and any lower layer; two packages of the same rank (office, narrative) may not
import each other. The root package (``generator/__init__``, only the version) is importable by all. Every import
counts, also one inside a function: a late import is still a dependency.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RANK = {"core": 0, "xlsx": 1, "office": 2, "narrative": 2, "cluster": 3, "publish": 3, "web": 4, "cli": 5}
BASE = ("core", "xlsx", "office", "narrative", "cli")  # the layers that must exist
# third-party libraries that belong to one layer only
EDGE_LIBS = {"xlsxwriter": {"xlsx"}, "openpyxl": {"xlsx"}, "lxml": {"xlsx"}, "click": {"cli"},
             "starlette": {"web"}, "uvicorn": {"web", "cli"}, "weasyprint": {"publish"}, "pdfplumber": {"publish"},
             "dask": {"cluster"}, "distributed": {"cluster"}, "fsspec": {"cluster"}, "psycopg": {"office"}}


def _modules(pkg_dir: Path, pkg: str) -> dict[str, Path]:
    out = {}
    for path in sorted(pkg_dir.rglob("*.py")):
        parts = list(path.relative_to(pkg_dir).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([pkg, *parts])] = path
    return out


def _imports(module: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """Every module ``module`` imports (absolute names), with the line; ``from pkg import mod`` is ``pkg.mod``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    here = module.split(".") if is_pkg else module.split(".")[:-1]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.append((sub if sub in known else target, node.lineno))
    return found


def layer_violations(pkg_dir: Path, pkg: str = "generator") -> list[str]:
    """Upward or sideways imports, imports of edge libraries out of their layer, and import cycles."""
    mods = _modules(pkg_dir, pkg)
    problems: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        parts = mod.split(".")
        layer = parts[1] if len(parts) > 1 and parts[1] in RANK else None
        for target, line in _imports(mod, path, mods):
            where = f"{path.relative_to(pkg_dir.parent)}:{line}"
            top = target.split(".")[0]
            if top in EDGE_LIBS and layer not in EDGE_LIBS[top]:
                problems.append(f"{where}: {top} imported outside {sorted(EDGE_LIBS[top])}")
            if top != pkg:
                continue
            if target in mods and target != mod:
                graph[mod].add(target)
            tparts = target.split(".")
            tlayer = tparts[1] if len(tparts) > 1 and tparts[1] in RANK else None
            if layer is None or tlayer is None or tlayer == layer:
                continue
            if RANK[tlayer] >= RANK[layer]:
                problems.append(f"{where}: {mod} ({layer}) imports {target} ({tlayer})")
    # cycles: Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                problems.append("import cycle: " + " -> ".join(sorted(comp)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return problems


def test_the_tree_keeps_its_layers() -> None:
    assert layer_violations(ROOT / "generator") == []


def test_every_layer_is_a_package_with_a_docstring() -> None:
    for name in RANK:
        init = ROOT / "generator" / name / "__init__.py"
        if name not in BASE and not init.parent.exists():
            continue
        assert init.is_file(), name
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{name}/__init__.py says nothing"


def _fixture_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    pkg = tmp_path / "generator"
    for rel, text in files.items():
        p = pkg / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    for d in [pkg, *[p for p in pkg.rglob("*") if p.is_dir()]]:
        (d / "__init__.py").touch()
    return pkg


@pytest.mark.parametrize(("files", "expected"), [
    ({"core/spec.py": "def f():\n    from ..cli.main import cli\n", "cli/main.py": "cli = 1\n"},
     "generator.core.spec (core) imports generator.cli.main (cli)"),
    ({"xlsx/reader.py": "from ..office.store import Store\n", "office/store.py": "Store = 1\n"},
     "generator.xlsx.reader (xlsx) imports generator.office.store (office)"),
    ({"office/collect.py": "from ..narrative import render\n", "narrative/render.py": "x = 1\n"},
     "generator.office.collect (office) imports generator.narrative"),
    ({"core/a.py": "from . import b\n", "core/b.py": "def g():\n    from .a import x\n"},
     "import cycle: generator.core.a -> generator.core.b"),
    ({"core/model.py": "import openpyxl\n"}, "openpyxl imported outside ['xlsx']"),
])
def test_an_upward_import_fails(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    problems = layer_violations(_fixture_tree(tmp_path, files))
    assert any(expected in p for p in problems), problems


def test_a_downward_import_passes(tmp_path: Path) -> None:
    tree = _fixture_tree(tmp_path, {"cli/main.py": "from ..office.collect import run\nfrom ..core import spec\n",
                                    "office/collect.py": "from ..xlsx.reader import read\nrun = 1\n",
                                    "xlsx/reader.py": "from ..core.spec import Spec\nread = 1\n",
                                    "core/spec.py": "Spec = 1\n"})
    assert layer_violations(tree) == []
