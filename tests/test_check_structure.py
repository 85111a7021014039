"""The reader's structure check (generator/xlsx/checks/structure.py) on its own: sheets, order,
protection, visibility, merges and defined names, each change its one finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.core.spec import Spec
from generator.xlsx.checks import structure

from .checks_helpers import check_findings, codes, seed_book


def test_the_seed_has_the_planned_structure(spec: Spec, seed_path: Path) -> None:
    assert check_findings(seed_book(seed_path), spec, structure)[1] == []


def test_a_sheet_removed_and_one_added(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    gone = next(s for s in book.sheets if s.name == "公开09表")
    gone.name = "Sheet1"
    assert codes(check_findings(book, spec, structure)[1]) == ["sheet-missing", "sheet-extra"]


def test_sheets_reordered(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    book.sheets[2], book.sheets[3] = book.sheets[3], book.sheets[2]
    assert codes(check_findings(book, spec, structure)[1]) == ["sheet-order-changed"]


def test_protection_dropped(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    book.structure_locked = False
    next(s for s in book.sheets if s.name == "公开01表").protected = False
    assert codes(check_findings(book, spec, structure)[1]) == ["structure-unlocked", "sheet-unprotected"]


@pytest.mark.parametrize(("sheet", "state", "want"), [
    ("代码表", "visible", ["hidden-sheet-visible"]),
    ("_meta", "hidden", ["hidden-sheet-state"]),
    ("_meta", "visible", ["hidden-sheet-visible"]),
    ("公开01表", "hidden", ["sheet-hidden"]),
])
def test_visibility(spec: Spec, seed_path: Path, sheet: str, state: str, want: list[str]) -> None:
    book = seed_book(seed_path)
    next(s for s in book.sheets if s.name == sheet).state = state
    assert codes(check_findings(book, spec, structure)[1]) == want


def test_merges_changed(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    raw = next(s for s in book.sheets if s.name == "公开01表")
    raw.merges = set(list(raw.merges)[1:]) | {(40, 0, 41, 1)}
    found = check_findings(book, spec, structure)[1]
    assert codes(found) == ["merge-changed"] and "缺少合并" in found[0].message and "多出合并 A41:B42" in found[0].message


def test_a_defined_name_other_than_print_titles(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    book.defined_names.append(("x", "", "WEBSERVICE(\"http://example\")"))
    book.defined_names.append(("_xlnm.Print_Titles", "2", "'公开01表'!$1:$5"))
    assert codes(check_findings(book, spec, structure)[1]) == ["defined-name-unexpected"]
