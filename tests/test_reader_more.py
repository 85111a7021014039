"""The reader's findings no other test reached: a stale spec hash, foreign templates, moved sheets,
deleted rows and columns, edited identity rows, formulas and error values in input cells, external
links, and files broken at the zip or XML level. One case per test, each with its code and cell."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest

from generator.core.catalog import load_spec
from generator.xlsx.ooxml import Limits
from generator.xlsx.reader import read_workbook
from generator.xlsx.writer import build_workbook

from .conftest import SPECS
from .xlsxparts import edit_part, read_part, rezip, sheet_part


def _edit(path: Path, fn) -> Path:  # type: ignore[no-untyped-def]
    wb = openpyxl.load_workbook(path)
    fn(wb)
    wb.save(path)
    return path


def _found(res) -> list[tuple[str, str | None, str]]:  # type: ignore[no-untyped-def]
    return [(f.code, f.cell, f.severity) for f in res.findings]


@pytest.fixture(scope="module")
def untouched(spec, seed_build, tmp_path_factory) -> list[tuple[str, str | None, str]]:  # type: ignore[no-untyped-def]
    """What the seed's workbook says, saved by openpyxl with nothing changed (its 尾数差异, the default key, …)."""
    path = tmp_path_factory.mktemp("untouched") / "seed.xlsx"
    shutil.copy(seed_build.path, path)
    return _found(read_workbook(_edit(path, lambda wb: None), spec=spec))


def _added(res, untouched: list[tuple[str, str | None, str]]) -> list[tuple[str, str | None, str]]:  # type: ignore[no-untyped-def]
    return [x for x in _found(res) if x not in untouched]


def _spec_copy(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    d = tmp_path / "spec-copy"
    shutil.copytree(SPECS, d)
    edit(d)
    return d


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.slow
def test_template_built_under_an_older_spec_is_template_outdated(spec, seed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The spec changed after the template went out (only a rule's wording here, so nothing else in
    the workbook differs and the fingerprint, made over the recorded hash, still holds): one finding,
    按旧版模板填报, with the migrate hint (tests/test_outdated.py: the code list changed)."""
    d = _spec_copy(tmp_path, lambda d: _replace(d / "rules.yaml", "应等于 支出总计(60)", "须等于 支出总计(60)"))
    old = load_spec(d)
    assert old.version == spec.version and old.hash != spec.hash
    built = build_workbook(old, seed, tmp_path / "old.xlsx")
    res = read_workbook(built.path, spec=spec)
    f = next(f for f in res.findings if f.code == "template-outdated")
    assert (f.severity, f.expected, f.actual) == ("error", spec.hash, old.hash) and "juesuan migrate" in f.message
    assert "template-spec-changed" not in {x.code for x in res.findings}
    assert res.exit_code == 1
    assert "fingerprint-mismatch" not in {x.code for x in res.findings}
    # read under the spec it was made with, the same file is clean
    assert read_workbook(built.path, spec=old).exit_code == 0


def test_another_template_family_is_template_mismatch(spec, seed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = _spec_copy(tmp_path, lambda d: _replace(d / "spec.yaml", "template: bumen-juesuan-gongkai",
                                                "template: other-template"))
    built = build_workbook(load_spec(d), seed, tmp_path / "other.xlsx")
    res = read_workbook(built.path, spec=spec)
    f = next(f for f in res.findings if f.code == "template-mismatch")
    assert (f.expected, f.actual) == ("bumen-juesuan-gongkai", "other-template")
    assert res.exit_code == 1


def test_a_version_no_spec_knows_is_template_version_unknown(seed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = _spec_copy(tmp_path, lambda d: _replace(d / "spec.yaml", 'version: "2024"', 'version: "2019"'))
    built = build_workbook(load_spec(d), seed, tmp_path / "v2019.xlsx")
    res = read_workbook(built.path)  # the bundled spec folders: 2024, 2025
    assert not res.usable and res.exit_code == 2
    f = res.findings[-1]
    assert (f.code, f.actual) == ("template-version-unknown", "2019")


@pytest.mark.slow
def test_sheets_moved_is_a_warning(spec, seed_xlsx: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(_edit(seed_xlsx, lambda wb: wb.move_sheet("公开02表", offset=1)), spec=spec)
    assert _added(res, untouched) == [("sheet-order-changed", None, "warning")]
    assert res.exit_code == 0


def test_row_deleted(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(_edit(seed_xlsx, lambda wb: wb["公开05表"].delete_rows(10)), spec=spec)
    assert any(c == "row-deleted" and cell.startswith("公开05表!") for c, cell, _ in _found(res)), _found(res)[:5]
    assert res.exit_code == 1


@pytest.mark.slow
@pytest.mark.parametrize(("edit", "code"), [("insert_cols", "col-inserted"), ("delete_cols", "col-deleted")])
def test_column_inserted_or_deleted(spec, seed_xlsx: Path, edit: str, code: str) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(_edit(seed_xlsx, lambda wb: getattr(wb["公开05表"], edit)(4)), spec=spec)
    f = next(f for f in res.findings if f.code in ("col-inserted", "col-deleted", "row-inserted", "row-deleted"))
    assert f.code == code and f.cell.startswith("公开05表!") and f.severity == "error"


def test_identity_row_label_edited_is_meta_changed(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(_edit(seed_xlsx, lambda wb: wb["_meta"].__setitem__("B7", "juesuan 9")), spec=spec)
    f = next(f for f in res.findings if f.code == "meta-changed")
    assert (f.cell, f.expected, f.actual, f.severity) == ("_meta!B7", "juesuan 0.1.0", "juesuan 9", "error")


@pytest.mark.slow
def test_formula_typed_into_an_amount_cell_is_a_warning(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(_edit(seed_xlsx, lambda wb: wb["公开01表"].__setitem__("C7", "=1+2")), spec=spec)
    f = next(f for f in res.findings if f.cell == "公开01表!C7")
    assert (f.code, f.actual, f.table, f.row, f.col) == ("formula-in-input", "=1+2", "公开01", "1", "1")


def test_formula_in_a_spare_code_cell_is_an_error(spec, seed_xlsx: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    def typed(wb):  # type: ignore[no-untyped-def]
        wb["公开03表"]["A15"] = '="2150899"'
        wb["公开03表"]["D15"] = 5

    res = read_workbook(_edit(seed_xlsx, typed), spec=spec)
    # the code is not taken from a formula: the row's amount is an amount without a code
    assert _added(res, untouched) == [("formula-in-text-cell", "公开03表!A15", "error"),
                                      ("spare-row-without-code", "公开03表!A15", "error")]


def test_error_value_in_an_amount_cell(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(_edit(seed_xlsx, lambda wb: wb["公开01表"].__setitem__("C7", "#N/A")), spec=spec)
    f = next(f for f in res.findings if f.cell == "公开01表!C7")
    assert (f.code, f.severity, f.actual) == ("cell-error-value", "error", "#N/A")
    assert "1" not in res.values["公开01"].get("1", {}) or res.values["公开01"]["1"]["1"] == 0


def test_external_link_part_is_an_error_but_the_figures_are_read(spec, seed_xlsx: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    link = (b'<?xml version="1.0" encoding="UTF-8"?><externalLink xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main"><externalBook/></externalLink>')
    seed_xlsx.write_bytes(rezip(seed_xlsx.read_bytes(), add={"xl/externalLinks/externalLink1.xml": link}))
    res = read_workbook(seed_xlsx, spec=spec)
    assert _added(res, untouched) == [("external-link", None, "error")]
    assert res.usable and str(res.values["公开01"]["1"]["1"]) == "2128.85"


@pytest.mark.slow
def test_broken_identity_list_is_file_unreadable_structure_not_a_traceback(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    """A 科目 list naming a code no code list has (and no name given) cannot be laid out: the file is
    unusable, said as a finding."""
    res = read_workbook(_edit(seed_xlsx, lambda wb: wb["_meta"].__setitem__("B8", '{"公开03": ["9999999"]}')), spec=spec)
    assert not res.usable and res.exit_code == 2
    assert res.findings[-1].code == "file-unreadable-structure" and "9999999" in res.findings[-1].message


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.xlsx"
    p.write_bytes(b"")
    res = read_workbook(p)
    assert (res.exit_code, res.findings[-1].code) == (2, "file-empty")


def test_file_over_the_size_limit_is_refused_before_reading(seed_xlsx: Path) -> None:
    res = read_workbook(seed_xlsx, limits=Limits(max_file_bytes=1000))
    assert (res.exit_code, res.findings[-1].code) == (2, "file-too-large")


def test_a_path_that_cannot_be_read(tmp_path: Path) -> None:
    d = tmp_path / "folder.xlsx"
    d.mkdir()
    res = read_workbook(d)
    assert (res.exit_code, res.findings[-1].code) == (2, "file-unreadable")


def test_malformed_sheet_xml(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    part = sheet_part(seed_xlsx, "公开01表")
    edit_part(seed_xlsx, part, lambda b: b[: len(b) // 2])
    res = read_workbook(seed_xlsx, spec=spec)
    assert (res.exit_code, res.findings[-1].code) == (2, "xml-malformed")
    assert part in res.findings[-1].message


def test_bad_cell_address(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    part = sheet_part(seed_xlsx, "公开09表")
    edit_part(seed_xlsx, part, lambda b: b.replace(b'r="A1"', b'r="1A"', 1))
    res = read_workbook(seed_xlsx, spec=spec)
    assert (res.exit_code, res.findings[-1].code) == (2, "bad-cell-reference")


def test_part_whose_bytes_fail_their_checksum(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    part = sheet_part(seed_xlsx, "公开09表")
    data = rezip(seed_xlsx.read_bytes(), stored={part})
    body = read_part(data, part)
    at = data.find(body)
    assert at > 0
    i = at + body.find(b"<sheetData") + 1  # flip one byte inside the stored part: CRC no longer matches
    broken = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
    seed_xlsx.write_bytes(broken)
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(seed_xlsx).read(part)
    res = read_workbook(seed_xlsx, spec=spec)
    assert (res.exit_code, res.findings[-1].code) == (2, "file-corrupt-zip")
    assert part in res.findings[-1].message


def test_an_unforeseen_failure_inside_the_parser_is_file_corrupt(spec, seed_xlsx: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Whatever a library raises on a hostile file that nobody foresaw is that file's finding, never
    a traceback (simulated: the XML parser failing with an error of no known kind)."""
    import generator.xlsx.ooxml as ooxml

    real = ooxml.etree.fromstring

    def fromstring(data, parser=None):  # type: ignore[no-untyped-def]
        if b"<sheetData" in data:
            raise AttributeError("simulated failure")
        return real(data, parser)

    monkeypatch.setattr(ooxml.etree, "fromstring", fromstring)
    res = read_workbook(seed_xlsx, spec=spec)
    f = res.findings[-1]
    assert (res.exit_code, f.code) == (2, "file-corrupt")
    # the unit reads Chinese only; the library's words are kept for the office
    assert "AttributeError" not in f.message and "重新保存" in f.message
    assert f.extra["exception"] == "AttributeError: simulated failure"


@pytest.mark.slow
def test_without_the_identity_sheet_the_subject_rows_are_inferred(spec, seed, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    """_meta deleted: the 科目 rows are read off the sheets (a plain-text name beside a code), so every
    section figure is still read where it is."""
    def drop(wb):  # type: ignore[no-untyped-def]
        del wb["_meta"]

    res = read_workbook(_edit(seed_xlsx, drop), spec=spec)
    assert res.usable and ("meta-sheet-missing", "_meta", "error") in _found(res)
    for t in ("公开02", "公开03", "公开05", "公开07", "公开08"):
        want = {r: cols for r, cols in seed.values.get(t, {}).items() if len(r) == 7}
        got = {r: {c: res.values[t][r][c] for c in cols} for r, cols in want.items()}
        assert got == want, t
    assert sorted(res.plan.sections["公开03"]) == sorted({r for r in seed.values["公开03"] if r.isdigit()})


def test_cross_sheet_reference_typed_into_an_amount_is_refused(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(_edit(seed_xlsx, lambda wb: wb["公开01表"].__setitem__("C7", "=公开02表!C7")), spec=spec)
    f = next(f for f in res.findings if f.cell == "公开01表!C7")
    assert (f.code, f.severity) == ("formula-forbidden", "error")


def test_a_sheet_whose_relationship_is_missing(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    """workbook.xml names 公开09表 with a relationship id the rels part does not have: the sheet is
    there by name but its content cannot be checked — an error at that sheet, the rest still read."""
    import re

    def drop_rel(body: bytes) -> bytes:
        new, n = re.subn(rb'(<sheet name="' + "公开09表".encode() + rb'"[^>]*r:id=")[^"]*(")', rb"\g<1>rIdNone\g<2>", body)
        assert n == 1
        return new

    edit_part(seed_xlsx, "xl/workbook.xml", drop_rel)
    res = read_workbook(seed_xlsx, spec=spec)
    f = next(f for f in res.findings if f.code == "sheet-part-missing")
    assert (f.severity, f.cell) == ("error", "公开09表") and res.exit_code == 1
    assert str(res.values["公开01"]["30"]["1"]) == "2128.85"


def test_inferred_subject_rows_stop_at_the_spare_rows(spec, seed, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    """_meta deleted and a 项 typed into a spare row: the inferred 科目 rows are the prefilled ones (their
    name is text; a spare row's name is a formula), so the typed 项 is read as a spare row (here one the
    table already lists: a duplicate, added to it)."""
    def edit(wb):  # type: ignore[no-untyped-def]
        del wb["_meta"]
        wb["公开03表"]["A15"], wb["公开03表"]["D15"] = "2150899", 4

    res = read_workbook(_edit(seed_xlsx, edit), spec=spec)
    assert sorted(res.plan.sections["公开03"]) == sorted(r for r in seed.values["公开03"] if r.isdigit())
    dup = next(f for f in res.findings if f.code == "duplicate-code")
    assert dup.cell == "公开03表!A15"
    assert res.values["公开03"]["2150899"]["2"] == seed.values["公开03"]["2150899"]["2"] + 4


def test_an_exception_inside_a_check_is_a_chinese_finding_without_its_internals(spec, seed_xlsx: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Whatever goes wrong inside a check is the file's finding in Chinese; the exception's own text is
    kept for the office (extra), never in the message a unit reads."""
    from generator.xlsx.checks import structure

    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("internal detail _meta!B10 KeyError")

    monkeypatch.setattr(structure, "check", boom)
    res = read_workbook(seed_xlsx, spec=spec)
    f = res.findings[-1]
    assert (res.exit_code, f.code) == (2, "file-unreadable-structure")
    assert "RuntimeError" not in f.message and "_meta" not in f.message and "下发的模板" in f.message
    assert "RuntimeError: internal detail" in f.extra["exception"]
