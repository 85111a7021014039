"""Issue 13: what is checked is what a spreadsheet shows, and no file stops a batch.

One test per case, each fixture built here from the writer's output, each ending in a finding
with its code and the documented exit code (0 valid / 1 errors / 2 unusable)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from generator.xlsx.ooxml import Limits, XlsxError, open_xlsx, resolve_target
from generator.xlsx.reader import format_problem, read_workbook

from .ziputil import parts, patch_header, rezip, set_cell

S01 = "xl/worksheets/sheet3.xml"  # 公开01表
SCHECK = "xl/worksheets/sheet20.xml"  # 审核 (after 公开01–09, 附表1, 附件1, 附件2 and the seed's 附件3-1…3-5)


def _read(tmp_path: Path, data: bytes, spec, name: str = "t.xlsx", **kw):  # type: ignore[no-untyped-def]
    p = tmp_path / name
    p.write_bytes(data)
    return read_workbook(p, spec=spec, **kw)


def _codes(res) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.code for f in res.findings}


def _find(res, code: str):  # type: ignore[no-untyped-def]
    got = [f for f in res.findings if f.code == code]
    assert got, [f.render() for f in res.findings]
    return got[0]


def _unusable(res, code: str) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2 and not res.usable, [f.render() for f in res.findings]
    assert res.findings[-1].code == code, [f.render() for f in res.findings]


# ---------------------------------------------------------------- zip-level errors


@pytest.mark.parametrize("flags,code", [(0x1, "zip-encrypted"), (0x20, "zip-unsupported"), (0x40, "zip-unsupported"),
                                        (0x41, "zip-encrypted")])
def test_zip_flag_bits_are_a_finding(tmp_path: Path, seed_xlsx: Path, spec, flags: int, code: str) -> None:  # type: ignore[no-untyped-def]
    data = patch_header(seed_xlsx.read_bytes(), S01, flags=flags)
    _unusable(_read(tmp_path, data, spec), code)


@pytest.mark.parametrize("method", [9, 99, 12, 14])
def test_zip_compression_methods_deflate64_aes_bzip2_lzma(tmp_path: Path, seed_xlsx: Path, spec, method: int) -> None:  # type: ignore[no-untyped-def]
    data = patch_header(seed_xlsx.read_bytes(), S01, method=method)
    _unusable(_read(tmp_path, data, spec), "zip-unsupported")


def test_zip_extract_version_above_6_3(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = patch_header(seed_xlsx.read_bytes(), S01, version=64)
    res = _read(tmp_path, data, spec)
    assert res.exit_code == 2 and res.findings[-1].code == "zip-unsupported"


@pytest.mark.parametrize("where", ["local", "central"])
def test_zip_header_only_on_one_side_still_a_finding(tmp_path: Path, seed_xlsx: Path, spec, where: str) -> None:  # type: ignore[no-untyped-def]
    """Local header and central directory disagreeing: whatever zipfile raises is this file's finding
    (the central directory is what zipfile, Excel and LibreOffice go by; a local-only change reads as before)."""
    for kw in ({"flags": 0x1}, {"method": 9}, {"flags": 0x20}):
        data = patch_header(seed_xlsx.read_bytes(), S01, local=where == "local", central=where == "central", **kw)
        res = _read(tmp_path, data, spec)
        assert res.exit_code in (0, 1, 2), kw
        if where == "central":
            assert res.exit_code == 2, kw
            assert res.findings[-1].code in {"zip-unsupported", "zip-encrypted", "file-corrupt-zip"}


def test_zip_crc_error_is_a_finding(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(seed_xlsx.read_bytes())
    info = zipfile.ZipFile(seed_xlsx).getinfo(S01)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    _unusable(_read(tmp_path, bytes(data), spec), "file-corrupt-zip")


# ---------------------------------------------------------------- numbers that are not amounts


@pytest.mark.parametrize("text", ["NaN", "sNaN", "Infinity", "-Infinity", "inf", "1e27", "1e308", "-1E+400"])
def test_nan_infinity_and_huge_numbers_are_not_a_number_at_the_cell(tmp_path: Path, seed_xlsx: Path, spec,
                                                                    text: str) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    sheet = set_cell(parts(data)[S01], "C7", f'<c r="C7" {{s}}><v>{text}</v></c>')
    res = _read(tmp_path, rezip(data, {S01: sheet}), spec)
    assert res.usable and res.exit_code == 1
    f = _find(res, "not-a-number")
    assert f.cell == "公开01表!C7" and f.actual == text
    assert all(v.is_finite() for rows in res.values.values() for cols in rows.values() for v in cols.values()
               if hasattr(v, "is_finite"))
    assert res.values.get("公开01", {}).get("1", {}).get("1") in (None, 0)


def test_huge_number_typed_as_text_is_not_a_number(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    sheet = set_cell(parts(data)[S01], "C7", '<c r="C7" {s} t="inlineStr"><is><t>' + "9" * 40 + "</t></is></c>")
    res = _read(tmp_path, rezip(data, {S01: sheet}), spec)
    assert res.exit_code == 1 and _find(res, "not-a-number").cell == "公开01表!C7"


# ---------------------------------------------------------------- limits, checked while parsing, configurable


def test_many_sheet_entries_on_one_part_refused_at_once(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    wb = parts(data)["xl/workbook.xml"]
    extra = b"".join(b'<sheet name="x%d" sheetId="%d" r:id="rId3"/>' % (i, 100 + i) for i in range(40))
    wb = wb.replace(b"</sheets>", extra + b"</sheets>")
    _unusable(_read(tmp_path, rezip(data, {"xl/workbook.xml": wb}), spec), "package-ambiguous")
    many = b"".join(b'<sheet name="y%d" sheetId="%d" r:id="rId%d"/>' % (i, 200 + i, 1000 + i) for i in range(70))
    wb2 = parts(data)["xl/workbook.xml"].replace(b"</sheets>", many + b"</sheets>")
    _unusable(_read(tmp_path, rezip(data, {"xl/workbook.xml": wb2}), spec, "m.xlsx"), "too-many-sheets")


def test_unknown_elements_counted_before_parsing(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    sheet = parts(data)[S01].replace(b"<sheetData>", b"<sheetData>" + b"<x/>" * 20000)
    res = _read(tmp_path, rezip(data, {S01: sheet}), spec, limits=Limits(max_elements=20000))
    _unusable(res, "file-too-complex")


def test_cells_of_all_sheets_counted(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    _unusable(read_workbook(seed_xlsx, spec=spec, limits=Limits(max_cells=500)), "sheet-too-large")


def test_limits_are_configurable(monkeypatch: pytest.MonkeyPatch, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    assert Limits.parse("max_cells=300000, max_findings=50").max_findings == 50
    with pytest.raises(ValueError):
        Limits.parse("max_bogus=1")
    _unusable(read_workbook(seed_xlsx, spec=spec, limits=Limits.parse("max_sheets=3")), "too-many-sheets")
    # the library reads no environment: JUESUAN_LIMITS is the command line's (outside a round)
    from click.testing import CliRunner

    from generator.cli import cli

    monkeypatch.setenv("JUESUAN_LIMITS", "max_sheets=3")
    assert read_workbook(seed_xlsx, spec=spec).usable
    r = CliRunner().invoke(cli, ["read", str(seed_xlsx), "--json"])
    assert r.exit_code == 2 and "too-many-sheets" in r.output


@pytest.mark.slow
def test_findings_capped_per_file_with_a_summary(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    wb = openpyxl.load_workbook(seed_xlsx)
    ws = wb["公开01表"]
    for r in range(40, 140):
        for c in range(8, 38):
            ws.cell(row=r, column=c).value = r * c
    wb.save(seed_xlsx)
    res = read_workbook(seed_xlsx, spec=spec)
    assert res.exit_code == 1 and len(res.findings) == Limits().max_findings
    last = res.findings[-1]
    assert last.severity == "warning" and int(last.actual) > 3000  # the file's kept errors make it fail
    assert last.code == "findings-truncated" and last.extra["dropped"]["value-outside-input"] >= 2700


# ---------------------------------------------------------------- the package as OPC reads it


def test_relationship_targets_resolved_as_opc(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    assert resolve_target("xl", "worksheets/sheet3.xml") == "xl/worksheets/sheet3.xml"
    assert resolve_target("xl", "/xl/worksheets/sheet3.xml") == "xl/worksheets/sheet3.xml"
    assert resolve_target("xl", "xl/worksheets/sheet3.xml") == "xl/xl/worksheets/sheet3.xml"
    assert resolve_target("xl", "../xl/worksheets/sheet%33.xml") == "xl/worksheets/sheet3.xml"
    with pytest.raises(XlsxError):
        resolve_target("xl", "../../etc/passwd")
    # a target written relative to the root points at xl/xl/…: that part is what Excel/openpyxl show
    data = seed_xlsx.read_bytes()
    p = parts(data)
    rels = p["xl/_rels/workbook.xml.rels"].replace(b'Target="worksheets/sheet3.xml"', b'Target="xl/worksheets/sheet3.xml"')
    shown = set_cell(p[S01], "C7", '<c r="C7" {s}><v>9999</v></c>')
    res = _read(tmp_path, rezip(data, {"xl/_rels/workbook.xml.rels": rels}, {"xl/xl/worksheets/sheet3.xml": shown}), spec)
    assert res.values["公开01"]["1"]["1"] == 9999
    assert openpyxl.load_workbook(tmp_path / "t.xlsx")["公开01表"]["C7"].value == 9999
    # the target missing altogether
    res = _read(tmp_path, rezip(data, {"xl/_rels/workbook.xml.rels": rels}), spec, "m.xlsx")
    _unusable(res, "package-part-missing")


def test_ambiguous_packages_refused(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    p = parts(data)
    _unusable(_read(tmp_path, rezip(data, add={"XL/Worksheets/Sheet3.xml": p[S01]}), spec), "package-ambiguous")
    rels = p["xl/_rels/workbook.xml.rels"].replace(b'Target="worksheets/sheet3.xml"', b'Target="../../../etc/passwd"')
    _unusable(_read(tmp_path, rezip(data, {"xl/_rels/workbook.xml.rels": rels}), spec, "b.xlsx"), "package-ambiguous")


def test_cells_without_r_are_placed_by_position(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    base = read_workbook(seed_xlsx, spec=spec)
    sheet = parts(data)[S01]
    # row 7 and row 8 written without any r=: the same figures
    def strip(m: re.Match[bytes]) -> bytes:
        return re.sub(rb' r="[A-Z]+\d+"', b"", m.group(0))
    plain = re.sub(rb'<row r="[78]".*?</row>', strip, sheet, flags=re.S)
    plain = plain.replace(b'<row r="8"', b"<row", 1)
    assert b'<c r="C7"' not in plain
    res = _read(tmp_path, rezip(data, {S01: plain}), spec)
    assert res.values == base.values and res.exit_code == base.exit_code
    # a cell without r= after F7 is G7, outside the input area: reported, not skipped
    extra = sheet.replace(b'</c></row><row r="8"', b'</c><c><v>777</v></c></row><row r="8"', 1)
    res = _read(tmp_path, rezip(data, {S01: extra}), spec, "g.xlsx")
    assert _find(res, "value-outside-input").cell == "公开01表!G7" and res.exit_code == 1


def test_negative_shared_string_index(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    sheet = set_cell(parts(data)[S01], "A7", '<c r="A7" {s} t="s"><v>-1</v></c>')
    res = _read(tmp_path, rezip(data, {S01: sheet}), spec)
    assert res.exit_code == 1 and _find(res, "shared-string-invalid").cell == "公开01表!A7"


# ---------------------------------------------------------------- formulas


def _formula(tmp_path: Path, seed_xlsx: Path, spec, formula: str, cached: str, add=None):  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    p = parts(data)
    sheet = set_cell(p[S01], "C7", f'<c r="C7" {{s}}><f>{formula}</f><v>{cached}</v></c>')
    change: dict[str, bytes | None] = {S01: sheet}
    if add:
        change["xl/workbook.xml"] = p["xl/workbook.xml"].replace(b"</definedNames>", add + b"</definedNames>")
    return _read(tmp_path, rezip(data, change), spec)


def test_allowed_input_formula_is_computed_not_taken_from_the_cache(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    res = _formula(tmp_path, seed_xlsx, spec, "SUM(500)", "0")
    assert res.values["公开01"]["1"]["1"] == 500
    assert _find(res, "stale-cached-value").cell == "公开01表!C7"
    assert _find(res, "formula-in-input").severity == "warning"
    ok = _formula(tmp_path, seed_xlsx, spec, "2000+128.85", "2128.85")
    assert str(ok.values["公开01"]["1"]["1"]) == "2128.85"
    assert "stale-cached-value" not in _codes(ok) and "formula-in-input" in _codes(ok)


@pytest.mark.parametrize("formula,why", [("SUM(C7)-C7", "单元格"), ("C8*2", "单元格"), ("'公开02表'!C7", "工作表"),
                                         ("[1]Sheet1!A1", "其他工作簿"), ("SUM(x)", "名称"), ("WEBSERVICE(&quot;u&quot;)", "函数"),
                                         ("INDIRECT(&quot;C8&quot;)", "函数")])
def test_input_formula_with_a_reference_is_refused(tmp_path: Path, seed_xlsx: Path, spec, formula: str, why: str) -> None:  # type: ignore[no-untyped-def]
    res = _formula(tmp_path, seed_xlsx, spec, formula, "2128.85")
    f = _find(res, "formula-forbidden")
    assert f.cell == "公开01表!C7" and why in f.message and res.exit_code == 1
    assert res.values.get("公开01", {}).get("1", {}).get("1") in (None, 0)  # never the cached 2128.85


def test_defined_names_are_inspected(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    res = _formula(tmp_path, seed_xlsx, spec, "SUM(x)", "2128.85",
                   b'<definedName name="x">WEBSERVICE("http://example.invalid")</definedName>')
    assert {"defined-name-unexpected", "formula-forbidden"} <= _codes(res)
    assert "WEBSERVICE" in _find(res, "defined-name-unexpected").message


def test_fixed_number_cell_with_a_formula_is_flagged(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    sheet = parts(data)[SCHECK]
    m = re.search(rb'<c r="G3"[^>]*><v>([^<]*)</v></c>', sheet)
    assert m, "tolerance cell"
    sheet = set_cell(sheet, "G3", f'<c r="G3" {{s}}><f>0.005*1000/1000</f><v>{m.group(1).decode()}</v></c>')
    res = _read(tmp_path, rezip(data, {SCHECK: sheet}), spec)
    f = _find(res, "label-changed")
    assert f.cell == "审核!G3" and "公式" in f.message and res.exit_code == 1


# ---------------------------------------------------------------- external links, macros, DOCTYPE


def test_external_link_found_by_content_type_and_relationship(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    p = parts(data)
    link = (b'<?xml version="1.0"?><externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<externalBook/></externalLink>')
    ct = p["[Content_Types].xml"].replace(b"</Types>", b'<Override PartName="/xl/misc/data1.xml" ContentType='
                                          b'"application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/></Types>')
    res = _read(tmp_path, rezip(data, {"[Content_Types].xml": ct}, {"xl/misc/data1.xml": link}), spec)
    assert _find(res, "external-link").severity == "error" and res.exit_code == 1
    rels = p["xl/_rels/workbook.xml.rels"].replace(b"</Relationships>", b'<Relationship Id="rId99" Type="http://schemas.'
                                                   b'openxmlformats.org/officeDocument/2006/relationships/externalLink" '
                                                   b'Target="other/place.xml"/></Relationships>')
    res = _read(tmp_path, rezip(data, {"xl/_rels/workbook.xml.rels": rels}, {"xl/other/place.xml": link}), spec, "r.xlsx")
    assert "external-link" in _codes(res) and res.exit_code == 1


def test_macros_found_by_content_type_relationship_and_content(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    p = parts(data)
    ct = p["[Content_Types].xml"].replace(b"</Types>", b'<Override PartName="/xl/stuff.dat" ContentType='
                                          b'"APPLICATION/VND.MS-OFFICE.VBAPROJECT"/></Types>')
    _unusable(_read(tmp_path, rezip(data, {"[Content_Types].xml": ct}, {"xl/stuff.dat": b"\x00" * 64}), spec), "file-has-macros")
    rels = p["xl/_rels/workbook.xml.rels"].replace(b"</Relationships>", b'<Relationship Id="rId98" Type="http://schemas.'
                                                   b'microsoft.com/office/2006/relationships/vbaProject" Target="x.bin"/>'
                                                   b'</Relationships>')
    _unusable(_read(tmp_path, rezip(data, {"xl/_rels/workbook.xml.rels": rels}), spec, "b.xlsx"), "file-has-macros")
    from generator.xlsx.ooxml import OLE_MAGIC

    ole = OLE_MAGIC + b"\x00" * 100 + "_VBA_PROJECT".encode("utf-16-le") + b"\x00" * 100
    _unusable(_read(tmp_path, rezip(data, add={"xl/media/image1.png": ole}), spec, "c.xlsx"), "file-has-macros")


def test_doctype_refused_in_utf16_and_after_a_long_comment(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    sst = parts(data)["xl/sharedStrings.xml"]
    body = sst.split(b"?>", 1)[1]
    dtd = b'<!DOCTYPE sst [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?>' + dtd.decode() + body.decode()).encode("utf-16")
    _unusable(_read(tmp_path, rezip(data, {"xl/sharedStrings.xml": utf16}), spec), "xml-doctype")
    long = b'<?xml version="1.0"?><!--' + b"x" * 5000 + b"-->" + dtd + body
    _unusable(_read(tmp_path, rezip(data, {"xl/sharedStrings.xml": long}), spec, "l.xlsx"), "xml-doctype")


# ---------------------------------------------------------------- display-only tampering


def test_number_format_that_prints_another_amount(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    styles = parts(data)["xl/styles.xml"].replace(b'formatCode="#,##0.00"', b'formatCode="[&lt;0]#,##0.00;&quot;2,222.22&quot;"')
    res = _read(tmp_path, rezip(data, {"xl/styles.xml": styles}), spec)
    f = _find(res, "number-format-changed")
    assert res.exit_code == 1 and "2,222.22" in f.message
    assert format_problem("#,##0.00") is None and format_problem("#,##0.00;[Red]-#,##0.00") is None
    for bad in ("0", "#,##0.00;#,##0.00", "0.00%", "0.00E+00", ";;;", '#,##0.00;-#,##0.00;0.00;"通过"'):
        assert format_problem(bad) is not None, bad


def test_conditional_format_number_format(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    styles = parts(data)["xl/styles.xml"]
    dxf = b'<dxfs count="1"><dxf><numFmt numFmtId="200" formatCode="&quot;0.00&quot;"/></dxf></dxfs>'
    styles = re.sub(rb"<dxfs[^>]*/>|<dxfs.*?</dxfs>", dxf, styles, flags=re.S) if b"<dxfs" in styles else \
        styles.replace(b"<tableStyles", dxf + b"<tableStyles")
    res = _read(tmp_path, rezip(data, {"xl/styles.xml": styles}), spec)
    assert _find(res, "number-format-changed").cell == "styles.xml"


def test_hidden_rows_and_columns_holding_figures(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    sheet = parts(data)[S01].replace(b'<row r="7" ', b'<row r="7" hidden="1" ', 1)
    res = _read(tmp_path, rezip(data, {S01: sheet}), spec)
    assert _find(res, "data-hidden").cell == "公开01表!C7" and res.exit_code == 1
    sheet = re.sub(rb'<col min="3" max="3" ([^/]*)/>', rb'<col min="3" max="3" \1 hidden="1"/>', parts(data)[S01])
    res = _read(tmp_path, rezip(data, {S01: sheet}), spec, "c.xlsx")
    assert "data-hidden" in _codes(res)


def test_table_sheet_hidden_and_duplicate_sheet_names(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    wb = parts(data)["xl/workbook.xml"]
    hidden = wb.replace('name="公开01表" sheetId="3"'.encode(), 'name="公开01表" sheetId="3" state="hidden"'.encode())
    res = _read(tmp_path, rezip(data, {"xl/workbook.xml": hidden}), spec)
    assert _find(res, "sheet-hidden").cell == "公开01表" and res.exit_code == 1
    dup = wb.replace('name="填报说明"'.encode(), 'name="公开01表"'.encode())
    res = _read(tmp_path, rezip(data, {"xl/workbook.xml": dup}), spec, "d.xlsx")
    assert _find(res, "sheet-name-duplicate").severity == "error" and res.exit_code == 1


# ---------------------------------------------------------------- identity parts and cover


def test_deleted_custom_properties(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    data = seed_xlsx.read_bytes()
    res = _read(tmp_path, rezip(data, {"docProps/custom.xml": None}), spec)
    assert _find(res, "doc-properties-missing").severity == "warning" and res.usable


def test_cover_field_length(tmp_path: Path, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    wb = openpyxl.load_workbook(seed_xlsx)
    wb["封面"]["B6"] = "张" * 5000
    wb.save(seed_xlsx)
    res = read_workbook(seed_xlsx, spec=spec)
    f = _find(res, "cover-field-too-long")
    assert f.cell == "封面!B6" and res.exit_code == 1
    assert all(len(v) <= 100 for v in res.dataset.cover.values())


def test_open_xlsx_never_raises_anything_but_xlsx_error(seed_xlsx: Path) -> None:
    data = seed_xlsx.read_bytes()
    for cut in (30, 100, len(data) - 10):
        with pytest.raises(XlsxError):
            open_xlsx(data[:cut])


def test_limit_option_on_read(seed_xlsx: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from generator.cli.main import cli

    monkeypatch.setenv("JUESUAN_LIMITS", "")  # recorded, so the value --limit sets is undone after the test
    r = CliRunner().invoke(cli, ["read", str(seed_xlsx), "--limit", "max_sheets=3"])
    assert r.exit_code == 2 and "too-many-sheets" in r.output
    r = CliRunner().invoke(cli, ["read", str(seed_xlsx), "--limit", "max_nonsense=3"])
    assert r.exit_code == 2 and "限额" in r.output


def test_truncated_findings_are_summed_up_by_code_ten_most_frequent_named() -> None:
    """The summary finding names the ten most frequent dropped codes with their counts (most first);
    the count of every dropped code stays in extra["dropped"]."""
    import generator.core.findings as findings_mod
    from generator.core.findings import Finding
    from generator.xlsx.reader import cap_findings

    findings_mod.STRICT = False  # fifteen made-up codes, to count them
    try:
        found = [Finding(f"code-{i:02d}", "warning", "x") for i in range(15) for _ in range(i + 1)]
    finally:
        findings_mod.STRICT = True
    kept = cap_findings(found, 5)
    assert len(kept) == 5 and kept[-1].code == "findings-truncated"
    dropped = kept[-1].extra["dropped"]
    assert len(dropped) >= 12 and len(set(dropped.values())) == len(dropped)  # more than ten codes, no ties
    summary = kept[-1].message.split("（", 1)[1].rstrip("）")
    assert summary.split("，") == [f"{c} {n} 条" for c, n in sorted(dropped.items(), key=lambda kv: -kv[1])[:10]]
    assert summary.startswith("code-14 15 条")  # most frequent first
    assert sum(kept[-1].extra["dropped"].values()) == len(found) - 4
    assert cap_findings(found[:5], 5) == found[:5]
