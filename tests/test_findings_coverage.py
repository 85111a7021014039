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

ROOT = Path(__file__).resolve().parent.parent
KEBAB = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")

# kebab-case literals in the package that are not finding codes
NOT_CODES = {
    "check-spec", "check-narrative", "diff-spec",  # CLI command names
    "utf-8", "utf-8-sig",  # encodings
    "collect-report", "recheck-report",  # report file stems
    "juesuan-default-key",  # the built-in HMAC key
}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def kebab_literals(files: list[Path]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in files:
        tree = ast.parse(p.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                    and KEBAB.match(node.value)):
                found.setdefault(node.value, []).append(f"{p.relative_to(ROOT)}:{node.lineno}")
    return found


def defined_codes() -> dict[str, list[str]]:
    lits = kebab_literals(sorted((ROOT / "generator").rglob("*.py")))
    return {k: v for k, v in lits.items() if k not in NOT_CODES}


def codes_named_in_tests() -> set[str]:
    here = Path(__file__).resolve()
    files = [p for p in sorted((ROOT / "tests").rglob("test_*.py")) if p.resolve() != here]
    return set(kebab_literals(files))


def test_every_finding_code_is_asserted_by_a_test() -> None:
    codes = defined_codes()
    missing = sorted(set(codes) - codes_named_in_tests())
    assert not missing, (
        f"{len(missing)} finding code(s) defined in generator/ but named by no test "
        "(write a test that asserts each one; if a literal is not a finding code, add it to NOT_CODES in "
        "tests/test_findings_coverage.py):\n" + "\n".join(f"  {c}  ({codes[c][0]})" for c in missing))


def test_the_code_list_is_real() -> None:
    """The scan finds the codes raised in every way the package raises them; NOT_CODES holds only
    literals that still exist (a stale entry would hide a code with the same spelling later)."""
    codes = defined_codes()
    for c in ("rule-failed", "template-spec-changed", "xml-malformed", "row-deleted", "cell-error-value",
              "consolidate-unit-missing", "narrative-unmatched", "units-bad-header"):
        assert c in codes, c
    assert len(codes) > 80
    lits = kebab_literals(sorted((ROOT / "generator").rglob("*.py")))
    assert NOT_CODES <= set(lits), sorted(NOT_CODES - set(lits))
