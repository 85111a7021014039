"""The reader's spare-rows check (generator/xlsx/checks/spare.py) on its own: a 科目 added in a spare
row counts as the workbook counts it; each way a spare row can be wrong is its one finding."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from generator.core.spec import Spec
from generator.xlsx.checks import spare

from .checks_helpers import check_findings, codes, put, seed_book

SHEET = "公开02表"  # spare rows 15-19 (0-based 14-18): code in A, name in B, 栏 1-7 in C-I



def test_unused_spare_rows_say_nothing(spec: Spec, seed_path: Path) -> None:
    assert check_findings(seed_book(seed_path), spec, spare)[1] == []


def test_every_way_a_spare_row_is_wrong(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    put(book, SHEET, 14, 0, "2150599", "s")  # prefilled already
    put(book, SHEET, 14, 3, "5")
    put(book, SHEET, 15, 0, "21505", "s")  # not a 项
    put(book, SHEET, 16, 3, "7")  # an amount, no code
    put(book, SHEET, 17, 0, "2159999", "s")  # no such code, no name
    put(book, SHEET, 17, 3, "1")
    reading, found = check_findings(book, spec, spare)
    assert codes(found) == ["duplicate-code", "code-malformed", "spare-row-without-code", "code-unknown-unnamed"]
    assert reading.inputs["公开02"]["2159999"]["2"] == Decimal(1) and reading.ds.names["2159999"] == "科目2159999"


def test_an_unknown_code_with_its_name_typed(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    put(book, SHEET, 14, 0, "２１５９９９８", "s")  # full-width digits, as an IME types them
    put(book, SHEET, 14, 1, "新的科目", "s")
    put(book, SHEET, 14, 3, "5")
    reading, found = check_findings(book, spec, spare)
    assert codes(found) == ["code-unknown"] and reading.ds.names["2159998"] == "新的科目"
    assert reading.inputs["公开02"]["2159998"]["2"] == Decimal(5)
    assert reading.the_plan.used_spare[("公开02", "2159998")] == 14
