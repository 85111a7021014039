"""The reader's formulas check (generator/xlsx/checks/formulas.py) on its own: every formula cell
holds the plan's formula; cached results that differ from the recomputation are one finding a sheet."""

from __future__ import annotations

from pathlib import Path

from generator.core.spec import Spec
from generator.xlsx.checks import formulas

from .checks_helpers import check_findings, codes, put, seed_book


def _formula(book, sheet: str, r: int, c: int) -> str:  # type: ignore[no-untyped-def]
    return book.sheet(sheet).cells[(r, c)].formula  # type: ignore[no-any-return]


def test_the_seed_recomputes_to_its_cached_results(spec: Spec, seed_path: Path) -> None:
    reading, found = check_findings(seed_book(seed_path), spec, formulas)
    assert found == [] and reading.expected and reading.figures is not None


def test_a_formula_replaced_by_a_number(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    put(book, "公开01表", 32, 2, "5")
    assert codes(check_findings(book, spec, formulas)[1]) == ["formula-replaced"]


def test_a_formula_changed_but_not_its_spelling(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    f, cached = _formula(book, "公开01表", 32, 2), book.sheet("公开01表").cells[(32, 2)].value  # type: ignore[union-attr]
    put(book, "公开01表", 32, 2, cached, formula=f.lower().replace("(", "( "))  # case and spaces: the same formula
    assert check_findings(book, spec, formulas)[1] == []
    put(book, "公开01表", 32, 2, cached, formula=f + "+1")
    assert codes(check_findings(book, spec, formulas)[1]) == ["formula-changed"]


def test_stale_results_are_one_finding_per_sheet(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    for r in (32, 35):
        put(book, "公开01表", r, 2, "1", formula=_formula(book, "公开01表", r, 2))
    found = check_findings(book, spec, formulas)[1]
    assert codes(found) == ["stale-cached-value"] and found[0].extra["cells"] == ["公开01表!C33", "公开01表!C36"]
