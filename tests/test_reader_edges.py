"""The reader's smaller branches with exact expectations: numbers as writers print them, what a
read returns as JSON, identity rows that cannot be parsed, the environment's key, broken spec
folders named, labels turned into formulas, numeric subject codes, shown texts forged, and the
cover, notes and 差异说明 a unit types."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal, InvalidOperation
from pathlib import Path

import openpyxl
import pytest

from generator.core.layout import DEFAULT_KEY, META_FIELDS
from generator.xlsx.ooxml import RawCell
from generator.xlsx.reader import _cell_text, _parse_number, number_value, read_workbook

from .conftest import SPECS
from .xlsxparts import forge_cached_text

D = Decimal


def _edit(path: Path, fn) -> Path:  # type: ignore[no-untyped-def]
    wb = openpyxl.load_workbook(path)
    fn(wb)
    wb.save(path)
    return path


def _meta_row(field: str) -> int:
    return META_FIELDS.index(field) + 1


@pytest.mark.parametrize(("text", "want"), [
    ("95.29", "95.29"), ("95.290000000000006", "95.29"), ("2128.8499999999999", "2128.85"), (" 7 ", "7"),
    ("95.28999999999999", "95.28999999999999"), ("0.30000000000000004", "0.30000000000000004"),
    ("0.1000000000000000055511151231257827", "0.1"), ("123456789012345", "123456789012345"),
    ("123456789012345.5", "123456789012345.5"), ("1E+2", "1E+2"), ("-0.5", "-0.5"),
])
def test_number_value_is_the_shortest_same_double(text: str, want: str) -> None:
    assert str(number_value(text)) == want


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-inf", "1e27", "1e15", "abc"])
def test_number_value_refuses_what_is_no_amount(text: str) -> None:
    with pytest.raises(InvalidOperation):
        number_value(text)


@pytest.mark.parametrize(("cell", "want"), [
    (RawCell(0, 0, "n", "5", None), "5"), (RawCell(0, 0, "n", "5.0", None), "5"), (RawCell(0, 0, "n", "5.50", None), "5.50"),
    (RawCell(0, 0, "n", "1E+2", None), "100"), (RawCell(0, 0, "n", "x", None), "x"), (RawCell(0, 0, "str", "行次", None), "行次"),
    (RawCell(0, 0, "n", None, None), ""), (None, ""),
])
def test_cell_text(cell: RawCell | None, want: str) -> None:
    assert _cell_text(cell) == want


@pytest.mark.parametrize(("cell", "want"), [
    (RawCell(0, 0, "e", "#DIV/0!", None), (None, "cell-error-value", "error")),
    (RawCell(0, 0, "b", "1", None), (None, "not-a-number", "error")),
    (RawCell(0, 0, "n", "abc", None), (None, "not-a-number", "error")),
    (RawCell(0, 0, "n", None, None), (D(0), None, None)),
    (RawCell(0, 0, "n", "2.5", None), (D("2.5"), None, None)),
    (RawCell(0, 0, "str", "  ", None), (None, None, None)),
    (RawCell(0, 0, "str", "1,234.5", None), (D("1234.5"), "number-as-text", "warning")),
    (RawCell(0, 0, "str", "一百", None), (None, "not-a-number", "error")),
])
def test_parse_number(cell: RawCell, want: tuple[object, object, object]) -> None:
    assert _parse_number(cell) == want


def test_json_of_a_read(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(seed_xlsx, spec=spec, key=DEFAULT_KEY)
    doc = json.loads(json.dumps(res.to_json(), ensure_ascii=False))
    assert doc["file"] == str(seed_xlsx) and doc["usable"] is True and doc["valid"] is True
    assert doc["unit"] == {"code": "430001001", "name": "长沙市企业服务中心"} and doc["year"] == 2024
    assert doc["template"] == {"id": "bumen-juesuan-gongkai", "version": "2024", "spec_hash": spec.hash}
    assert doc["values"]["公开01"]["30"]["1"] == "2128.85" and doc["notes"]["公开07"].startswith("说明：")
    # the seed: its 尾数 slips, and its 附件 cost rows scored actual ÷ target where the standard rule gives full marks
    assert {f["code"] for f in doc["findings"]} == {"rounding-difference", "indicator-reverse-proportional"}
    assert res.valid and res.exit_code == 0


def test_identity_rows_that_cannot_be_parsed(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    def bad(wb):  # type: ignore[no-untyped-def]
        wb["_meta"].cell(_meta_row("year"), 2).value = "二〇二四"
        wb["_meta"].cell(_meta_row("sections"), 2).value = "[1, 2"
        props = wb.custom_doc_props
        for p in props.props:
            if p.name == "juesuan.year":
                p.value = "二〇二四"

    res = read_workbook(_edit(seed_xlsx, bad), spec=spec)
    msgs = {f.message for f in res.findings if f.code == "identity-mismatch"}
    assert "年度标识无法识别" in msgs and "标识表中的科目清单已损坏" in msgs
    assert res.usable and res.dataset.year == 2024  # the spec's year, said to be guessed
    assert res.values["公开03"]["2150550"]["1"] == D("975.45")  # rows inferred from the sheets


@pytest.mark.slow
def test_units_count_out_of_range_is_named(spec, seed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from generator.xlsx.writer import build_workbook

    built = build_workbook(spec, seed, tmp_path / "sum.xlsx", units=3)
    res = read_workbook(built.path, spec=spec)
    assert res.exit_code == 0 and res.plan.units == 3

    def many(wb):  # type: ignore[no-untyped-def]
        ws = wb["_meta"]
        row = next(r for r in range(1, 20) if ws.cell(r, 1).value == "units")
        ws.cell(row, 2).value = "0"
        for p in wb.custom_doc_props.props:
            if p.name == "juesuan.units":
                p.value = "0"

    res = read_workbook(_edit(built.path, many), spec=spec)
    f = next(f for f in res.findings if f.code == "identity-mismatch" and "汇总单位数" in f.message)
    assert f.actual == "0" and f.cell.startswith("_meta!B") and res.plan.units == 1


def test_the_reader_takes_its_key_from_its_caller_never_the_environment(spec, seed, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Settings travel explicitly: the library ignores JUESUAN_KEY; the CLI (outside a round) maps it."""
    from click.testing import CliRunner

    from generator.cli import cli
    from generator.xlsx.writer import build_workbook

    built = build_workbook(spec, seed, tmp_path / "k.xlsx", key="secret-1")
    monkeypatch.setenv("JUESUAN_KEY", "secret-1")
    codes = {f.code for f in read_workbook(built.path, spec=spec).findings}
    assert {"fingerprint-mismatch", "default-key-in-use"} <= codes  # no key given: the built-in one, said so
    assert "fingerprint-mismatch" not in {f.code for f in read_workbook(built.path, spec=spec, key="secret-1").findings}
    assert "fingerprint-mismatch" in {f.code for f in read_workbook(built.path, spec=spec, key="other").findings}
    monkeypatch.chdir(tmp_path)  # no round here: the command line maps JUESUAN_KEY onto the reader's key
    out = CliRunner().invoke(cli, ["read", str(built.path), "--json"]).output
    assert "fingerprint-mismatch" not in out and "default-key-in-use" not in out


def test_unknown_version_names_the_broken_spec_folders(seed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from generator.core.catalog import load_spec
    from generator.xlsx.writer import build_workbook

    d = tmp_path / "v2019"
    shutil.copytree(SPECS, d)
    (d / "spec.yaml").write_text((d / "spec.yaml").read_text(encoding="utf-8").replace('"2024"', '"2019"'),
                                 encoding="utf-8")
    built = build_workbook(load_spec(d), seed, tmp_path / "old.xlsx")
    broken = tmp_path / "broken"
    shutil.copytree(SPECS, broken)
    (broken / "gongkai03.yaml").write_text("id: [\n", encoding="utf-8")
    res = read_workbook(built.path, spec_dirs=[broken, SPECS])
    f = res.findings[-1]
    assert (f.code, f.actual) == ("template-version-unknown", "2019")
    assert str(broken) in f.message and "check-spec" in f.message
    ok = read_workbook(built.path, spec_dirs=[SPECS, d])
    assert ok.usable and ok.template["version"] == "2019"


def test_a_label_turned_into_a_formula(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(_edit(seed_xlsx, lambda wb: wb["公开01表"].__setitem__("A8", '="二、政府性基金"')), spec=spec)
    f = next(f for f in res.findings if f.cell == "公开01表!A8")
    assert (f.code, f.actual, f.expected) == ("label-changed", '="二、政府性基金"', "二、政府性基金预算财政拨款收入")


@pytest.mark.slow
def test_a_line_number_changed(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(_edit(seed_xlsx, lambda wb: wb["公开01表"].__setitem__("B9", 33)), spec=spec)
    f = next(f for f in res.findings if f.cell == "公开01表!B9")
    assert (f.code, f.expected, f.actual) == ("label-changed", "3", "33")
    same = read_workbook(_edit(seed_xlsx, lambda wb: wb["公开01表"].__setitem__("B9", 3.0)), spec=spec)
    assert not [f for f in same.findings if f.cell == "公开01表!B9"]


@pytest.mark.slow
def test_a_spare_code_typed_as_a_number_or_full_width(spec, seed, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    def add(wb):  # type: ignore[no-untyped-def]
        wb["公开03表"]["A15"], wb["公开03表"]["D15"] = 2150899, 2  # a number, as Excel keeps a code typed bare
        wb["公开02表"]["A15"], wb["公开02表"]["D15"] = "２１５０８９９", 3  # full-width digits

    res = read_workbook(_edit(seed_xlsx, add), spec=spec)
    assert not [f for f in res.findings if f.code.startswith("code-") or f.code == "spare-row-without-code"]
    assert res.values["公开03"]["2150899"]["2"] == D(2)
    # 公开02 already lists 2150899: the full-width code is recognised as that code (a duplicate, summed)
    dup = next(f for f in res.findings if f.code == "duplicate-code")
    assert (dup.cell, dup.row) == ("公开02表!A15", "2150899")
    assert res.values["公开02"]["2150899"]["2"] == seed.values["公开02"]["2150899"]["2"] + D(3)
    assert res.values["公开03"]["21508"]["2"] == res.values["公开03"]["2150805"]["2"] + D(2)


def test_a_forged_status_text_on_the_audit_sheet(spec, seed_xlsx: Path, seed_build) -> None:  # type: ignore[no-untyped-def]
    r = seed_build.plan.rule_rows["g01-balance"] + 1
    forge_cached_text(seed_xlsx, "审核", f"H{r}", "不通过")
    res = read_workbook(seed_xlsx, spec=spec)
    f = next(f for f in res.findings if f.code == "stale-cached-value")
    assert (f.cell, f.expected, f.actual) == (f"审核!H{r}", "通过", "不通过")


@pytest.mark.slow
def test_cover_notes_and_explanations_are_read(spec, seed_xlsx: Path, seed_build) -> None:  # type: ignore[no-untyped-def]
    plan = seed_build.plan
    cover = {c.label: (rr, cc) for (rr, cc), c in plan.sheet("封面").cells.items() if c.kind == "cover"}
    r = plan.rule_rows["g09-car-vs-g06"] + 1

    def type_in(wb):  # type: ignore[no-untyped-def]
        rr, cc = cover["单位负责人"]
        wb["封面"].cell(rr + 1, cc + 1).value = "张三"
        wb["审核"].cell(r, 9).value = "  运维费含保险  "

    res = read_workbook(_edit(seed_xlsx, type_in), spec=spec)
    assert res.dataset.cover["单位负责人"] == "张三"
    assert res.dataset.explanations == {"g09-car-vs-g06": "运维费含保险"}
    assert res.dataset.notes["公开07"].startswith("说明：我单位没有政府性基金收入")


@pytest.mark.slow
def test_a_negative_amount_is_named_with_its_printed_value(spec, seed_xlsx: Path, seed_build) -> None:  # type: ignore[no-untyped-def]
    plan = seed_build.plan
    fig, (sheet, r, c) = next((f, at) for f, at in plan.fig_cells.items()
                              if plan.sheet(at[0]).cells[(at[1], at[2])].kind == "input"
                              and not plan.sheet(at[0]).cells[(at[1], at[2])].negative)

    def negative(wb):  # type: ignore[no-untyped-def]
        wb[sheet].cell(r + 1, c + 1).value = -1234.5

    res = read_workbook(_edit(seed_xlsx, negative), spec=spec)
    f = next(f for f in res.findings if f.code == "negative-value")
    assert f.severity == "error" and f.actual == "-1,234.50" and f.message.endswith("不应为负数")
    assert (f.table, f.row, f.col) == (fig.table, fig.row, fig.col)


@pytest.mark.slow
@pytest.mark.parametrize(("length", "too_long"), [(100, False), (101, True)])
def test_a_cover_field_at_and_past_its_limit(spec, seed_xlsx: Path, seed_build, length: int, too_long: bool) -> None:  # type: ignore[no-untyped-def]
    plan = seed_build.plan
    rr, cc = next((at for at, c in plan.sheet("封面").cells.items() if c.kind == "cover" and c.label == "单位负责人"))
    text = "张" * length

    def type_in(wb):  # type: ignore[no-untyped-def]
        wb["封面"].cell(rr + 1, cc + 1).value = text

    res = read_workbook(_edit(seed_xlsx, type_in), spec=spec)
    found = [f for f in res.findings if f.code == "cover-field-too-long"]
    assert bool(found) is too_long
    assert res.dataset.cover["单位负责人"] == text[:100]
    if too_long:
        assert found[0].actual == "张" * 100 + "…" and "101 个字符" in found[0].message


@pytest.mark.slow
def test_a_workbook_kind_that_is_neither_unit_nor_summary(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    def kind(wb):  # type: ignore[no-untyped-def]
        ws = wb["_meta"]
        ws.cell(ws.max_row + 1, 1).value = "kind"  # a unit's workbook has no kind row: one added
        ws.cell(ws.max_row, 2).value = "XYZ"
        wb.custom_doc_props.append(openpyxl.packaging.custom.StringProperty(name="juesuan.kind", value="XYZ"))

    res = read_workbook(_edit(seed_xlsx, kind), spec=spec)
    f = next(f for f in res.findings if f.message == "工作簿类别标识无法识别")
    assert (f.code, f.severity, f.actual) == ("identity-mismatch", "error", "XYZ")
    assert res.plan.kind == ""  # read as a unit's own workbook


@pytest.mark.slow
def test_identity_from_document_properties_without_a_unit_code(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    """Meta sheet deleted and the unit code property removed: the unit code is read as empty (and
    named as the wrong unit), never invented."""
    def strip(wb):  # type: ignore[no-untyped-def]
        del wb["_meta"]
        props = wb.custom_doc_props
        for p in list(props.props):
            if p.name == "juesuan.unit_code":
                props.props.remove(p)

    res = read_workbook(_edit(seed_xlsx, strip), spec=spec, expect_unit="430000001")
    codes = {f.code for f in res.findings}
    assert "meta-sheet-missing" in codes
    assert res.dataset.unit_code == ""
    f = next(f for f in res.findings if f.code == "wrong-unit")
    assert (f.expected, f.actual) == ("430000001", "")


def test_a_cached_name_forged_on_an_empty_spare_row(spec, seed_xlsx: Path, seed_build) -> None:  # type: ignore[no-untyped-def]
    """A spare row's name cell shows "" while its code cell is empty: a cached name put there by
    editing the file is a stale result, although the formula is intact."""
    plan = seed_build.plan
    sp = plan.sheet("公开02表")
    r, c = min((at for at, cell in sp.cells.items() if cell.kind == "formula" and cell.calc and cell.calc[0] == "name"))
    ref = f"{chr(ord('A') + c)}{r + 1}"
    forge_cached_text(seed_xlsx, "公开02表", ref, "一般公共服务支出")
    res = read_workbook(seed_xlsx, spec=spec)
    f = next(f for f in res.findings if f.code == "stale-cached-value")
    assert (f.cell, f.expected, f.actual) == (f"公开02表!{ref}", "", "一般公共服务支出")


@pytest.mark.slow
def test_an_identity_field_on_one_side_only_is_a_mismatch(spec, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    """The unit name removed from the document properties (kept in the meta sheet): the two sources
    of the identity disagree, which is said, with the meta sheet's value expected."""
    def strip(wb):  # type: ignore[no-untyped-def]
        props = wb.custom_doc_props
        for p in list(props.props):
            if p.name == "juesuan.unit_name":
                props.props.remove(p)

    res = read_workbook(_edit(seed_xlsx, strip), spec=spec)
    f = next(f for f in res.findings if f.code == "identity-mismatch")
    assert "unit_name" in f.message and f.expected == "长沙市企业服务中心" and f.actual is None
    assert f.cell == f"_meta!B{_meta_row('unit_name')}"
