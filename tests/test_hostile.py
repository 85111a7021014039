"""Hostile and broken returned files: one small fixture per case, built here, each with its code."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.xlsx.ooxml import OLE_MAGIC, Limits
from generator.xlsx.reader import read_workbook

from .xlsxparts import sheet_part
from .ziputil import rezip as _rezip


def _read(tmp_path: Path, data: bytes, name: str = "f.xlsx", **kw):  # type: ignore[no-untyped-def]
    p = tmp_path / name
    p.write_bytes(data)
    res = read_workbook(p, **kw)
    return res


def _code(res) -> str:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2, [f.render() for f in res.findings]
    return res.findings[-1].code


def test_not_a_zip(tmp_path: Path) -> None:
    assert _code(_read(tmp_path, b"hello, this is plain text")) == "file-not-xlsx"


def test_truncated_zip(tmp_path: Path, seed_xlsx: Path) -> None:
    data = seed_xlsx.read_bytes()
    assert _code(_read(tmp_path, data[: len(data) // 2])) == "file-corrupt-zip"


def test_csv_and_pdf_renamed(tmp_path: Path) -> None:
    assert _code(_read(tmp_path, "code,name\n1,甲\n".encode())) == "file-not-xlsx"
    res = _read(tmp_path, b"%PDF-1.7\n%...")
    assert _code(res) == "file-not-xlsx" and "PDF" in res.findings[0].message


def test_legacy_xls(tmp_path: Path) -> None:
    res = _read(tmp_path, OLE_MAGIC + b"\x00" * 600, "old.xls")
    assert _code(res) == "file-legacy-xls" and ".xls" in res.findings[0].message


def test_macros_refused(tmp_path: Path, seed_xlsx: Path) -> None:
    data = _rezip(seed_xlsx.read_bytes(), add={"xl/vbaProject.bin": b"\x00" * 64})
    assert _code(_read(tmp_path, data, "m.xlsm")) == "file-has-macros"


def test_encrypted_file_is_named_and_decrypts_with_the_password(tmp_path: Path, seed_xlsx: Path) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    enc = io.BytesIO()
    OOXMLFile(io.BytesIO(seed_xlsx.read_bytes())).encrypt("mima123", enc)
    res = _read(tmp_path, enc.getvalue())
    assert _code(res) == "file-encrypted" and "--file-password" in res.findings[0].message
    ok = _read(tmp_path, enc.getvalue(), "e2.xlsx", file_password="mima123")
    assert ok.usable and ok.exit_code == 0
    bad = _read(tmp_path, enc.getvalue(), "e3.xlsx", file_password="wrong")
    assert _code(bad) == "file-decrypt-failed"


def test_zip_bomb_refused_before_inflating(tmp_path: Path, seed_xlsx: Path) -> None:
    data = _rezip(seed_xlsx.read_bytes(), add={"xl/media/big.bin": b"\x00" * (3 * 1024 * 1024)})
    res = _read(tmp_path, data, limits=Limits(max_part_bytes=1024 * 1024))
    assert _code(res) == "zip-bomb"
    res = _read(tmp_path, data, "r.xlsx")  # default limits: ratio of a 3 MB run of zeros
    assert _code(res) == "zip-bomb"


def test_very_many_parts(tmp_path: Path, seed_xlsx: Path) -> None:
    data = _rezip(seed_xlsx.read_bytes(), add={f"customXml/item{i}.xml": b"<a/>" for i in range(2100)})
    assert _code(_read(tmp_path, data)) == "zip-too-many-parts"


def test_million_row_dimension(tmp_path: Path, seed_xlsx: Path) -> None:
    part = sheet_part(seed_xlsx, "公开01表")
    sheet = zipfile.ZipFile(seed_xlsx).read(part)
    import re

    sheet, n = re.subn(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', sheet)
    assert n == 1
    data = _rezip(seed_xlsx.read_bytes(), change={part: sheet})
    assert _code(_read(tmp_path, data)) == "sheet-too-large"


def test_entity_expansion_refused(tmp_path: Path, seed_xlsx: Path) -> None:
    z = zipfile.ZipFile(seed_xlsx)
    sst = z.read("xl/sharedStrings.xml")
    bomb = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
    sst = bomb + sst.split(b"?>", 1)[1]
    data = _rezip(seed_xlsx.read_bytes(), change={"xl/sharedStrings.xml": sst})
    assert _code(_read(tmp_path, data)) == "xml-doctype"


@pytest.mark.slow
def test_external_reference_formula_never_evaluated(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    import openpyxl

    wb = openpyxl.load_workbook(seed_xlsx)
    wb["公开01表"]["C7"] = "=[1]Sheet1!A1"
    wb["公开01表"]["C8"] = '=WEBSERVICE("http://example.invalid")'
    wb["公开01表"]["C9"] = '=HYPERLINK("http://x","y")'
    wb.save(seed_xlsx)
    res = read_workbook(seed_xlsx, spec=spec)
    cells = {f.cell for f in res.findings if f.code == "formula-forbidden"}
    assert cells == {"公开01表!C7", "公开01表!C8", "公开01表!C9"}
    assert res.exit_code == 1


def test_merged_header_changed(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    import openpyxl

    wb = openpyxl.load_workbook(seed_xlsx)
    wb["公开05表"].unmerge_cells("C4:E4")
    wb.save(seed_xlsx)
    res = read_workbook(seed_xlsx, spec=spec)
    assert any(f.code == "merge-changed" and f.cell == "公开05表" for f in res.findings)


def test_spare_codes_not_in_list_or_malformed(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    import openpyxl

    wb = openpyxl.load_workbook(seed_xlsx)
    ws = wb["公开02表"]
    ws["A15"], ws["D15"] = "2999999", 5
    ws["A16"], ws["D16"] = "21505", 5
    wb.save(seed_xlsx)
    res = read_workbook(seed_xlsx, spec=spec)
    got = [(f.code, f.cell) for f in res.findings if f.severity == "error"]
    # the unknown 项's 5 enters 公开01's totals (as the sheet counts it): the two ties to 公开02 fail
    assert got == [("code-unknown-unnamed", "公开02表!A15"), ("code-malformed", "公开02表!A16"),
                   ("rule-failed", "公开01表!C33"), ("rule-failed", "公开01表!C7")]
    # an unknown 项 is counted as the workbook counts it (its 合计 includes it), and named an error without a name
    assert res.values["公开02"]["2999999"]["1"] == 5
    assert next(f for f in res.findings if f.code == "code-unknown-unnamed").severity == "error"


def test_another_unit_or_year(seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(seed_xlsx, spec=spec, expect_unit="430009999", expect_year=2023)
    codes = {f.code for f in res.findings}
    assert {"wrong-unit", "wrong-year"} <= codes and res.exit_code == 1


SHEETS = ["公开01表", "公开03表", "公开09表", "审核", "_meta"]
PARTS = ["xl/sharedStrings.xml", "xl/workbook.xml", "docProps/custom.xml", "xl/_rels/workbook.xml.rels"]


def _norm_formula(v: object) -> object:
    return v.upper().replace(" ", "").replace("$", "") if isinstance(v, str) and v.startswith("=") else v


def shown(data: bytes) -> object:
    """What a spreadsheet shows, as an independent reader (openpyxl) sees it: sheet names and
    states in order, every cell's value or formula (spaces, $ and case of formulas aside) and every
    formula's cached result (a typed 0 counts as empty). None when openpyxl cannot open the file."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data))
        cached = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except Exception:  # noqa: BLE001 - any failure: a file openpyxl cannot open
        return None
    out = []
    for ws in wb.worksheets:
        cws = cached[ws.title]
        # an amount of 0 and an empty amount cell are the same figure (the reader reads both as 0)
        cells = {(c.row, c.column): (_norm_formula(c.value), cws.cell(c.row, c.column).value)
                 for row in ws.iter_rows() for c in row if c.value is not None and not (
                     isinstance(c.value, int | float) and not isinstance(c.value, bool) and c.value == 0)}
        out.append((ws.title, ws.sheet_state, cells))
    return out


@pytest.fixture(scope="module")
def fuzz_base(spec, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A filled workbook, its part names for the sheets fuzzed and what it shows."""
    from generator.core.dataset import load_dataset
    from generator.xlsx.writer import build_workbook

    from .conftest import SEED

    path = tmp_path_factory.mktemp("fuzzbase") / "seed.xlsx"
    data = build_workbook(spec, load_dataset(SEED), path).data
    parts = PARTS + [sheet_part(data, name) for name in SHEETS]
    return data, parts, shown(data)


def _clean(res) -> bool:  # type: ignore[no-untyped-def]
    return res.exit_code == 0 and not [f for f in res.findings if f.severity in ("error", "warning")]


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.slow
@given(which=st.integers(0, len(PARTS) + len(SHEETS) - 1),
       ops=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 4), st.binary(min_size=0, max_size=8)),
                    min_size=1, max_size=6))
def test_mutated_xml_parts_give_findings_never_exceptions(fuzz_base, spec, tmp_path_factory, which, ops) -> None:  # type: ignore[no-untyped-def]
    """Seeded (derandomize): the same 60 mutations every run. A mutation that changes what a
    spreadsheet shows never reads back clean; any mutation gives findings, never an exception."""
    data, parts, before = fuzz_base
    part = parts[which]
    body = bytearray(zipfile.ZipFile(io.BytesIO(data)).read(part))
    for pos, kind, chunk in ops:
        i = pos % max(len(body), 1)
        if kind == 0:
            body[i:i + len(chunk)] = chunk
        elif kind == 1:
            body[i:i] = chunk
        elif kind == 2:
            del body[i:i + 1 + len(chunk)]
        elif kind == 3:  # a digit changed where a digit was: the kind of edit that keeps the XML valid
            digits = [j for j in range(len(body)) if 48 <= body[j] <= 57]
            if digits:
                j = digits[pos % len(digits)]
                body[j] = 48 + (body[j] - 47) % 10
        else:
            body = body[:i]
    mutated = _rezip(data, change={part: bytes(body)})
    p = tmp_path_factory.mktemp("fuzz") / "m.xlsx"
    p.write_bytes(mutated)
    res = read_workbook(p, spec=spec)
    assert res.exit_code in (0, 1, 2)
    assert all(f.code and f.message and f.severity in ("error", "warning", "info") for f in res.findings)
    after = shown(mutated)
    if after is not None and after != before:
        assert not _clean(res), (part, ops)


@pytest.mark.slow
def test_a_changed_digit_in_a_sheet_never_reads_back_clean(fuzz_base, spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every digit of 公开01表's part changed in turn (a sample of them): whenever the change shows, the
    reader says so."""
    data, _parts, before = fuzz_base
    part = sheet_part(data, "公开01表")
    body = zipfile.ZipFile(io.BytesIO(data)).read(part)
    digits = [j for j in range(len(body)) if 48 <= body[j] <= 57]
    shown_changes = 0
    for j in digits[:: max(1, len(digits) // 40)]:  # a sample of ~40 digits
        b = bytearray(body)
        b[j] = 48 + (b[j] - 47) % 10
        mutated = _rezip(data, change={part: bytes(b)})
        p = tmp_path / "d.xlsx"
        p.write_bytes(mutated)
        after = shown(mutated)
        res = read_workbook(p, spec=spec)
        if after is not None and after != before:
            shown_changes += 1
            assert not _clean(res), body[max(0, j - 60):j + 20]
    assert shown_changes >= 8


def _variants(src: bytes) -> dict[str, bytes]:
    return {"seed.xlsx": src, "truncated.xlsx": src[: len(src) // 2],
            "macro.xlsm": _rezip(src, add={"xl/vbaProject.bin": b"\x00" * 64}),
            "csv-renamed.xlsx": b"code,name\n1,2\n"}


@pytest.mark.parametrize("name", ["seed.xlsx", "truncated.xlsx", "macro.xlsm", "csv-renamed.xlsx"])
def test_returned_file_is_never_modified(tmp_path: Path, seed_xlsx: Path, spec, name: str) -> None:  # type: ignore[no-untyped-def]
    import os

    folder = tmp_path / "returned"
    folder.mkdir()
    p = folder / name
    p.write_bytes(_variants(seed_xlsx.read_bytes())[name])
    os.utime(p, (1_700_000_000, 1_700_000_000))
    before = p.read_bytes()
    res = read_workbook(p, spec=spec)
    assert res.exit_code == (0 if name == "seed.xlsx" else 2)
    assert p.read_bytes() == before and p.stat().st_mtime == 1_700_000_000
    assert sorted(x.name for x in folder.iterdir()) == [name]  # nothing written beside it
