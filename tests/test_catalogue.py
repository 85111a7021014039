"""The finding catalogue (generator/core/codes.py) is complete and the one place codes are described:
every code the package makes has an entry with one severity, no entry is dead, docs/findings.md is
generated from it, and what people see says the title and the advice, not the code."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from click.testing import CliRunner

from generator.cli import cli
from generator.core.codes import CATALOGUE, check, markdown
from generator.core.findings import ERROR, INFO, WARNING, Finding

from .test_findings_coverage import KEBAB, ROOT, defined_codes

# kebab-case literals of the package that are not finding codes: review states (office/review.py)
NOT_FINDINGS = {"not-submitted", "has-errors", "utf-16", "utf-16-le"}
_SEV_NAMES = {"ERROR": ERROR, "WARNING": WARNING, "INFO": INFO, ERROR: ERROR, WARNING: WARNING, INFO: INFO}


def test_every_code_the_package_makes_has_one_entry() -> None:
    used = {c: where for c, where in defined_codes().items() if c not in NOT_FINDINGS}
    missing = {c: where[0] for c, where in used.items() if c not in CATALOGUE}
    assert missing == {}, "codes without a catalogue entry (add them to generator/core/codes.py)"
    dead = sorted(set(CATALOGUE) - set(used))
    assert dead == [], "catalogue entries no code makes"


def test_each_code_is_made_with_its_catalogued_severity() -> None:
    """Every call that makes a finding with a literal code and a literal severity agrees with the
    catalogue (conditional severities are checked when made: tests/conftest.py turns STRICT on)."""
    wrong = []
    for p in sorted((ROOT / "generator").rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)):
                continue
            code, sev = node.args[0].value, node.args[1]
            if not (isinstance(code, str) and KEBAB.match(code)) or code not in CATALOGUE:
                continue
            name = sev.id if isinstance(sev, ast.Name) else sev.value if isinstance(sev, ast.Constant) else None
            if name in _SEV_NAMES and _SEV_NAMES[name] != CATALOGUE[code].severity:
                wrong.append(f"{p.relative_to(ROOT)}:{node.lineno} {code} {name}")
    assert wrong == []


def test_a_stray_code_or_severity_is_refused_where_it_is_made() -> None:
    import pytest

    assert check(Finding("rule-failed", ERROR, "x")) is None
    with pytest.raises(ValueError, match="no entry"):
        Finding("no-such-code", ERROR, "x")
    with pytest.raises(ValueError, match="is error in the catalogue"):
        Finding("rule-failed", WARNING, "x")


def test_docs_findings_is_generated_from_the_catalogue() -> None:
    assert (ROOT / "docs" / "findings.md").read_text(encoding="utf-8") == markdown(), \
        "docs/findings.md is stale: juesuan findings --markdown > docs/findings.md"
    listed = json.loads(CliRunner().invoke(cli, ["findings", "--json"]).output)
    assert [e["code"] for e in listed] == list(CATALOGUE) and all(e["title"] and e["advice"] for e in listed)


def test_people_see_titles_and_advice_not_codes() -> None:
    f = Finding("number-as-text", ERROR, "公开01表!C7 应填数字，填的是文字“1,234”", table="公开01", row="1", col="1",
                cell="公开01表!C7")
    text = f.render()
    assert text.startswith("[错误] 数字填成了文字 公开01表!C7") and text.endswith("‹number-as-text›")
    assert f.advice == "在该单元格重新输入数字（不带引号、空格或其他文字）"
    assert all(e.title and not KEBAB.match(e.title) and e.advice for e in CATALOGUE.values())
