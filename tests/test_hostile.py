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


def _rezip(src: bytes, change: dict[str, bytes | None] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    zin = zipfile.ZipFile(io.BytesIO(src))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = (change or {}).get(info.filename, zin.read(info.filename))
            if body is not None:
                zout.writestr(info.filename, body)
        for name, body in (add or {}).items():
            zout.writestr(name, body)
    return out.getvalue()


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
    z = zipfile.ZipFile(seed_xlsx)
    sheet = z.read("xl/worksheets/sheet3.xml")
    import re

    sheet = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', sheet)
    data = _rezip(seed_xlsx.read_bytes(), change={"xl/worksheets/sheet3.xml": sheet})
    assert _code(_read(tmp_path, data)) == "sheet-too-large"


def test_entity_expansion_refused(tmp_path: Path, seed_xlsx: Path) -> None:
    z = zipfile.ZipFile(seed_xlsx)
    sst = z.read("xl/sharedStrings.xml")
    bomb = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
    sst = bomb + sst.split(b"?>", 1)[1]
    data = _rezip(seed_xlsx.read_bytes(), change={"xl/sharedStrings.xml": sst})
    assert _code(_read(tmp_path, data)) == "xml-doctype"


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
    got = {(f.code, f.cell) for f in res.findings}
    assert ("code-unknown", "公开02表!A15") in got and ("code-malformed", "公开02表!A16") in got


def test_another_unit_or_year(seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(seed_xlsx, spec=spec, expect_unit="430009999", expect_year=2023)
    codes = {f.code for f in res.findings}
    assert {"wrong-unit", "wrong-year"} <= codes and res.exit_code == 1


PARTS = ["xl/worksheets/sheet3.xml", "xl/worksheets/sheet5.xml", "xl/sharedStrings.xml", "xl/workbook.xml",
         "xl/worksheets/sheet14.xml", "docProps/custom.xml", "xl/_rels/workbook.xml.rels"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(part=st.sampled_from(PARTS), ops=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 3),
                                                           st.binary(min_size=0, max_size=8)), min_size=1, max_size=6))
def test_mutated_xml_parts_give_findings_never_exceptions(seed_build, tmp_path_factory, part, ops) -> None:  # type: ignore[no-untyped-def]
    data = seed_build.path.read_bytes()
    body = bytearray(zipfile.ZipFile(io.BytesIO(data)).read(part))
    for pos, kind, chunk in ops:
        i = pos % max(len(body), 1)
        if kind == 0:
            body[i:i + len(chunk)] = chunk
        elif kind == 1:
            body[i:i] = chunk
        elif kind == 2:
            del body[i:i + 1 + len(chunk)]
        else:
            body = body[:i]
    p = tmp_path_factory.mktemp("fuzz") / "m.xlsx"
    p.write_bytes(_rezip(data, change={part: bytes(body)}))
    res = read_workbook(p, spec=seed_build.plan.spec)
    assert res.exit_code in (0, 1, 2)
    assert res.findings or res.exit_code == 0
    assert all(f.code and f.message for f in res.findings)


@pytest.mark.parametrize("name", ["bad.xlsx"])
def test_returned_file_is_never_modified(tmp_path: Path, seed_xlsx: Path, spec, name: str) -> None:  # type: ignore[no-untyped-def]
    before = seed_xlsx.read_bytes()
    read_workbook(seed_xlsx, spec=spec)
    assert seed_xlsx.read_bytes() == before
