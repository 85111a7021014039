"""Every finding code the package defines is named by at least one test.

A code is any kebab-case string literal in ``generator/`` (``Finding("code", …)``, ``ctx.add("code", …)``,
``XlsxError("code", …)``, ``code = "…"``, tuples of codes …), found by walking the syntax tree, so
a new code cannot hide behind a new way of raising it. The few kebab-case literals that are not
finding codes (command names, encodings, file stems) are listed in ``NOT_CODES``. A test names a code
when the literal occurs in a test module's code (comments and docstrings do not count), this
module excepted.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEBAB = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")

# kebab-case literals in the package that are not finding codes (keyword-argument values and CLI
# command names are recognised as such by where they stand)
NOT_CODES = {
    "utf-8", "utf-8-sig",  # encodings given positionally
    "collect-report", "recheck-report",  # report file stems
    "juesuan-default-key",  # the built-in HMAC key
    "juesuan-files",  # the web app's folder of uploaded files
}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _not_code_positions(tree: ast.AST) -> set[int]:
    """Literals that cannot be finding codes by where they stand: the value of a keyword argument
    other than ``code=`` (``encoding="utf-8"``, ``thread_name_prefix="…"``) and the name given to a
    CLI command or group (``@click.command("check-spec")``, ``@cli.command(…)``)."""
    ids = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for kw in node.keywords:
            if kw.arg != "code" and isinstance(kw.value, ast.Constant):
                ids.add(id(kw.value))
        fn = node.func
        name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
        if name in ("command", "group") and node.args and isinstance(node.args[0], ast.Constant):
            ids.add(id(node.args[0]))
    return ids


def kebab_literals(files: list[Path], skip_non_codes: bool = False) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in files:
        tree = ast.parse(p.read_text(encoding="utf-8"))
        skip = _docstrings(tree) | (_not_code_positions(tree) if skip_non_codes else set())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                    and KEBAB.match(node.value)):
                found.setdefault(node.value, []).append(f"{p.relative_to(ROOT)}:{node.lineno}")
    return found


def defined_codes() -> dict[str, list[str]]:
    lits = kebab_literals(sorted((ROOT / "generator").rglob("*.py")), skip_non_codes=True)
    return {k: v for k, v in lits.items() if k not in NOT_CODES}


def codes_named_in_tests() -> set[str]:
    here = Path(__file__).resolve()
    files = [p for p in sorted((ROOT / "tests").rglob("test_*.py")) if p.resolve() != here]
    return set(kebab_literals(files))


@pytest.mark.slow
def test_every_finding_code_is_asserted_by_a_test() -> None:
    codes = defined_codes()
    missing = sorted(set(codes) - codes_named_in_tests())
    assert not missing, (
        f"{len(missing)} finding code(s) defined in generator/ but named by no test "
        "(write a test that asserts each one; if a literal is not a finding code, add it to NOT_CODES in "
        "tests/test_findings_coverage.py):\n" + "\n".join(f"  {c}  ({codes[c][0]})" for c in missing))


@pytest.mark.slow
def test_the_code_list_is_real() -> None:
    """The scan finds the codes raised in every way the package raises them; NOT_CODES holds only
    literals that still exist (a stale entry would hide a code with the same spelling later)."""
    codes = defined_codes()
    for c in ("rule-failed", "template-spec-changed", "xml-malformed", "row-deleted", "cell-error-value",
              "consolidate-unit-missing", "narrative-unmatched", "units-bad-header"):
        assert c in codes, c
    assert len(codes) > 80
    lits = kebab_literals(sorted((ROOT / "generator").rglob("*.py")), skip_non_codes=True)
    assert NOT_CODES <= set(lits), sorted(NOT_CODES - set(lits))
    assert "check-spec" not in codes and "diff-spec" not in codes  # CLI command names
