"""docs/spec-language.md cannot drift: every ```yaml example in it is parsed with the real loader
and checked with the real schema, parser and expression compiler (its first line says how, see the
page's "Keeping this page true"), and every key of the schema and every function and keyword of
the expression language is described there."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.core.catalog import load_spec
from generator.core.expr import FUNCS, KEYWORDS, BCompare, Context, compile_expr
from generator.core.spec import Spec, _block, _Collector, _form_cell, _loader, _row
from generator.core.specmap import check_mapping
from generator.core.specschema import LEVELS, check_level

from .conftest import ROOT, SPECS

DOC = ROOT / "docs" / "spec-language.md"
TEXT = DOC.read_text(encoding="utf-8")
EXAMPLES = [(TEXT.count("\n", 0, m.start()) + 2, m.group(1))
            for m in re.finditer(r"^```yaml\n(.*?)^```$", TEXT, re.M | re.S)]
PARSERS = {"row": _row, "block": _block, "form_cell": _form_cell}  # the parser's own view of a part


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_loader())  # noqa: S506 - SafeLoader subclass


def test_the_page_has_examples_of_every_kind() -> None:
    heads = {text.splitlines()[0].split(":")[0] for _line, text in EXAMPLES}
    assert heads == {"# level", "# file", "# expr", "# rule"}, heads
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize(("line", "text"), EXAMPLES, ids=[f"line{line}" for line, _ in EXAMPLES])
def test_each_example_is_valid(line: int, text: str, spec: Spec, tmp_path: Path) -> None:
    head = text.splitlines()[0]
    where = f"docs/spec-language.md:{line}"
    if m := re.fullmatch(r"# level: (\w+)", head):
        level = m.group(1)
        assert level in LEVELS, where
        raw = _load(text)
        parts = raw if isinstance(raw, list) else [raw]
        for part in parts:
            assert isinstance(part, dict) or (level == "form_cell" and isinstance(part, str)), where
            assert check_level(level, part, where) == [], where
            if level in PARSERS:
                col = _Collector()
                assert PARSERS[level](part, where, col) is not None and col.problems == [], (where, col.problems)
    elif m := re.fullmatch(r"# file: (\S+)", head):
        name = m.group(1)
        copy = tmp_path / "spec"
        shutil.copytree(SPECS, copy)
        (copy / name).write_text(text, encoding="utf-8")
        manifest = copy / "spec.yaml"
        if re.fullmatch(r"(gongkai|fujian)\d+\.yaml", name) and not (SPECS / name).exists():
            manifest.write_text(manifest.read_text(encoding="utf-8").replace(
                "  - fujian3.yaml\n", f"  - fujian3.yaml\n  - {name}\n"), encoding="utf-8")
        loaded = load_spec(copy)  # raises SpecInvalid naming every problem
        if name == "mapping.yaml":
            assert check_mapping(loaded) == [], where
        elif name == "figures.yaml":  # the example replaces the figures file: its names loaded
            assert set(loaded.figures) == set(_load(text)["figures"]), where
        else:
            assert any(t.file == str(copy / name) for t in loaded.tables.values()), where
    elif m := re.fullmatch(r"# expr: (\S+) row (\S+) col (\S+)", head):
        ctx = Context(m.group(1), m.group(2), m.group(3))
        exprs = _load(text)
        assert isinstance(exprs, list) and exprs, where
        for e in exprs:
            compile_expr(str(e), spec, ctx)
    elif head == "# rule":
        exprs = _load(text)
        assert isinstance(exprs, list) and exprs, where
        for e in exprs:
            assert isinstance(compile_expr(str(e), spec, Context(), allow_compare=True), BCompare), (where, e)
    else:
        pytest.fail(f"{where}: an example's first line says what it is (# level: / # file: / # expr: / # rule)")


def test_every_key_and_expression_form_is_described() -> None:
    missing = [f"{level}.{key}" for level, keys in LEVELS.items() for key in keys if f"`{key}`" not in TEXT]
    assert missing == [], "keys of generator/core/specschema.py not described in docs/spec-language.md"
    words = [w for w in sorted(FUNCS | KEYWORDS) if not re.search(rf"`[^`]*\b{w}\b[^`]*`", TEXT)]
    assert words == [], "expression functions/keywords not described"
    assert [lv for lv in LEVELS if f"`{lv}`" not in TEXT] == [], "levels not listed in 'Keeping this page true'"
