"""The reader's rules check (generator/xlsx/checks/rules.py) on its own: the 审核 rules over the
figures read, each failing rule at the cells it compares; one cause (a number typed as text), one
finding."""

from __future__ import annotations

from pathlib import Path

from generator.core.spec import Spec
from generator.xlsx.checks import rules

from .checks_helpers import check_findings, codes, put, seed_book

ROUNDING = ["rounding-difference"] * 5  # the seed's own 尾数差异 (its published tables have them)



def test_the_seed_passes_but_for_its_rounding(spec: Spec, seed_path: Path) -> None:
    reading, found = check_findings(seed_book(seed_path), spec, rules)
    assert codes(found) == ROUNDING
    assert reading.results is reading.plan_results  # no spare row used: the plan's own results


def test_a_figure_that_breaks_four_rules(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    put(book, "公开01表", 6, 2, "99999")
    found = check_findings(book, spec, rules)[1]
    assert codes(found) == ["rule-failed"] * 4 + ROUNDING
    assert [f.cell for f in found[:4]] == ["公开01表!C36", "公开01表!C33", "公开01表!C7", "公开04表!C7"]


def test_rules_failing_only_for_a_number_typed_as_text_are_said_on_that_cell(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    put(book, "公开01表", 6, 2, "2128.85", "s")
    reading, found = check_findings(book, spec, rules)
    assert codes(found) == ROUNDING
    (text,) = [f for f in reading.findings if f.code == "number-as-text"]
    assert "条审核不通过，改为数字后即可通过" in text.message and text.extra["rules"]
