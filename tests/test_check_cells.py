"""The reader's cells check (generator/xlsx/checks/cells.py) on its own: every planned cell by its
kind; figures come only from input cells, each misuse of a cell its one finding."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from generator.core.spec import Spec
from generator.xlsx.checks import cells

from .checks_helpers import check_findings, codes, put, seed_book


def test_the_seed_reads_without_findings(spec: Spec, seed_path: Path, seed_build) -> None:  # type: ignore[no-untyped-def]
    reading, found = check_findings(seed_book(seed_path), spec, cells)
    assert found == []
    assert reading.inputs["公开01"]["1"]["1"] == Decimal("2128.85")
    assert reading.ds.values is reading.inputs


@pytest.mark.parametrize(("value", "type_", "want", "read"), [
    ("12.5", "s", ["number-as-text"], None),
    ("-3", "n", ["negative-value"], Decimal(-3)),
    ("1.234", "n", ["too-many-decimals"], Decimal("1.234")),
    ("TRUE", "b", ["not-a-number"], None),
    ("#REF!", "e", ["cell-error-value"], None),
])
def test_an_input_amount(spec: Spec, seed_path: Path, value: str, type_: str, want: list[str],
                         read: Decimal | None) -> None:
    book = seed_book(seed_path)
    put(book, "公开01表", 6, 2, value, type_)
    reading, found = check_findings(book, spec, cells)
    assert codes(found) == want
    assert reading.inputs.get("公开01", {}).get("1", {}).get("1") == read
    assert list(reading.text_numbers.values()) == ([Decimal("12.5")] if type_ == "s" else [])


def test_a_formula_typed_into_an_input_is_computed(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    put(book, "公开01表", 6, 2, None, "n", formula="1+2")
    reading, found = check_findings(book, spec, cells)
    assert codes(found) == ["formula-in-input"] and reading.inputs["公开01"]["1"]["1"] == 3


def test_a_label_changed_and_something_typed_outside(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    put(book, "公开01表", 0, 0, "别的标题", "s")
    put(book, "公开01表", 200, 20, "多余", "s")
    assert codes(check_findings(book, spec, cells)[1]) == ["label-changed", "value-outside-input"]


def test_a_row_inserted_is_said_once(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    raw = book.sheet("公开01表")
    assert raw is not None
    raw.cells = {(r + 1 if r >= 3 else r, c): cell for (r, c), cell in raw.cells.items()}
    found = codes(check_findings(book, spec, cells)[1])
    # the moved figures land in other cells (their own findings); the labels are not reported one by one
    assert found[0] == "row-inserted" and found.count("row-inserted") == 1
    assert "label-changed" not in found and "value-outside-input" not in found


def test_texts_notes_and_cover(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    put(book, "封面", 5, 1, "张" * 101, "s")
    put(book, "附件1", 24, 1, None, "s", formula="A1")
    reading, found = check_findings(book, spec, cells)
    assert codes(found) == ["cover-field-too-long", "formula-in-text-cell"]
    assert len(next(iter(reading.ds.cover.values()))) == 100
