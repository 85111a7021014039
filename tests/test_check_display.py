"""The reader's display check (generator/xlsx/checks/display.py) on its own: number formats that
show something else than the amount, and figures in hidden rows or columns."""

from __future__ import annotations

from pathlib import Path

from generator.core.spec import Spec
from generator.xlsx.checks import display

from .checks_helpers import check_findings, codes, seed_book


def test_the_seed_shows_what_it_stores(spec: Spec, seed_path: Path) -> None:
    assert check_findings(seed_book(seed_path), spec, display)[1] == []


def test_an_amount_format_changed(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    raw = book.sheet("公开01表")
    assert raw is not None
    style = raw.cells[(6, 2)].style
    book.formats[style] = '0.00;"2,222.22"'
    found = check_findings(book, spec, display)[1]
    assert {f.code for f in found} == {"number-format-changed"} and "公开01表!" in (found[0].cell or "")


def test_a_conditional_format_that_hides_the_amount(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    book.bad_formats = ['[<0]#,##0.00;"2,222.22"', "0.00"]
    found = check_findings(book, spec, display)[1]
    assert codes(found) == ["number-format-changed"] and found[0].cell == "styles.xml"


def test_a_figure_in_a_hidden_row(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    raw = book.sheet("公开01表")
    assert raw is not None
    raw.hidden_rows = {6}
    found = check_findings(book, spec, display)[1]
    assert codes(found) == ["data-hidden"] and found[0].cell == "公开01表!C7"
