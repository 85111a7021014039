"""The round trip and the tampering suite: one test per case, each caught with its code and cell."""

from __future__ import annotations

import io
import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from generator.cli.main import cli
from generator.core.dataset import Dataset
from generator.core.expr import Fig
from generator.core.findings import flatten
from generator.xlsx.reader import normalize_formula, read_workbook
from generator.xlsx.writer import build_workbook

from .conftest import fill
from .xlsxparts import sheet_part


@pytest.fixture(scope="module")
def template(spec, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The seed unit's template: its 科目 rows, no figures (what a unit receives)."""
    from generator.core.dataset import load_dataset

    from .conftest import SEED, template_rows

    seed = load_dataset(SEED)
    blank = Dataset(unit_code=seed.unit_code, unit_name=seed.unit_name, year=2024, names=seed.names,
                    values=template_rows(spec, seed))
    path = tmp_path_factory.mktemp("tpl") / "template.xlsx"
    return build_workbook(spec, blank, path)


@pytest.fixture()
def filled(template, seed, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    return fill(template.path, template.plan, seed.values, tmp_path / "filled.xlsx", seed.notes, seed.texts)


def codes_at(res) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    return [(f.code, f.cell) for f in res.findings]


@pytest.fixture(scope="module")
def untouched(spec, template, tmp_path_factory) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """What the filled seed says before any tampering (its 尾数差异, the default key, …)."""
    from generator.core.dataset import load_dataset

    from .conftest import SEED

    seed = load_dataset(SEED)
    path = fill(template.path, template.plan, seed.values, tmp_path_factory.mktemp("untouched") / "f.xlsx",
                seed.notes, seed.texts)
    return codes_at(read_workbook(path, spec=spec))


def added(res, untouched: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """The findings a tampering adds to the untouched workbook's, in the reader's order."""
    return [x for x in codes_at(res) if x not in untouched]


@pytest.mark.slow
def test_round_trip_reads_the_seed_back_exactly(spec, seed, filled: Path) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(filled, spec=spec)
    assert res.usable and res.exit_code == 0, [f.render() for f in res.findings]
    for t, rows in seed.values.items():
        for r, cols in rows.items():
            for c, v in cols.items():
                got = res.values[t][r][c]
                if (t, r) == ("公开06", "人员经费合计"):
                    assert got == Decimal("925.86")  # recomputed 301 + 303, never taken on trust
                else:
                    assert got == v, (t, r, c, got, v)
    slips = sorted(f.rule for f in res.findings if f.code == "rounding-difference")
    assert slips == ["g05-g06-basic", "g06-class[301,30101,30199]", "g06-class[302,30201,30299]",
                     "g06-class[303,30301,30399]", "附件1-公用经费"]
    assert all(f.severity == "info" for f in res.findings if f.code == "rounding-difference")
    assert res.dataset.notes["公开07"].startswith("说明：我单位没有政府性基金收入")


def test_json_document_is_canonical(spec, filled: Path) -> None:  # type: ignore[no-untyped-def]
    out = CliRunner().invoke(cli, ["read", str(filled), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["template"]["version"] == "2024" and doc["unit"]["code"] == "430001001"
    assert doc["values"]["公开05"]["2150550"]["1"] == "975.45"
    assert doc["values"]["公开01"]["30"]["1"] == "2128.85"
    f = next(x for x in doc["findings"] if x["code"] == "rounding-difference")
    assert set(f) >= {"code", "severity", "table", "row", "col", "cell", "message", "expected", "actual"}


def test_report_for_people_is_grouped_and_in_chinese(filled: Path) -> None:
    out = CliRunner().invoke(cli, ["read", str(filled)])
    assert out.exit_code == 0
    # a rule finding points at the data cells it compares; the 审核 row is only a reference
    assert "【公开06】" in out.output and "尾数误差" in out.output and "公开06表!F6" in out.output
    assert "审核!H" in out.output


def _edit(path: Path, fn) -> Path:  # type: ignore[no-untyped-def]
    wb = openpyxl.load_workbook(path)
    fn(wb)
    wb.save(path)
    return path


@pytest.mark.slow
def test_tamper_formula_overwritten(spec, filled: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    _edit(filled, lambda wb: wb["公开01表"].__setitem__("C33", 9999))
    res = read_workbook(filled, spec=spec)
    assert added(res, untouched) == [("formula-replaced", "公开01表!C33")] and res.exit_code == 1


@pytest.mark.slow
def test_tamper_formula_edited(spec, filled: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    _edit(filled, lambda wb: wb["公开01表"].__setitem__("C33", "=SUM(C7:C12)"))
    res = read_workbook(filled, spec=spec)
    assert added(res, untouched) == [("formula-changed", "公开01表!C33")]


@pytest.mark.slow
def test_tamper_label_edited(spec, filled: Path) -> None:  # type: ignore[no-untyped-def]
    _edit(filled, lambda wb: wb["公开01表"].__setitem__("A7", "一、财政拨款收入"))
    res = read_workbook(filled, spec=spec)
    f = next(f for f in res.findings if f.code == "label-changed")
    assert f.cell == "公开01表!A7" and f.expected == "一、一般公共预算财政拨款收入" and f.actual == "一、财政拨款收入"


@pytest.mark.slow
def test_tamper_row_inserted(spec, filled: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    _edit(filled, lambda wb: wb["公开05表"].insert_rows(10))
    res = read_workbook(filled, spec=spec)
    assert added(res, untouched)[0] == ("row-inserted", "公开05表!A10"), added(res, untouched)[:5]
    assert [c for c, _ in added(res, untouched)].count("row-inserted") == 1  # said once, at the first moved cell


@pytest.mark.slow
def test_tamper_sheet_renamed(spec, filled: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    def rename(wb):  # type: ignore[no-untyped-def]
        wb["公开03表"].title = "支出表"

    res = read_workbook(_edit(filled, rename), spec=spec)
    # the renamed sheet's figures are read as missing: every rule over 公开03 fails
    assert added(res, untouched) == [("sheet-missing", "公开03表"), ("sheet-extra", "支出表"), *[("rule-failed", c) for c in (
        "公开01表!F33", "公开01表!F20", "公开05表!A10", "公开05表!C10", "公开05表!D10", "公开05表!C11", "公开05表!E11",
        "公开05表!C13", "公开05表!E13", "公开05表!C14", "公开05表!E14", "附件2!F13", "附件2!F14", "附件1!F13")]]


@pytest.mark.slow
def test_tamper_hidden_sheet_deleted(spec, filled: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    def drop(wb):  # type: ignore[no-untyped-def]
        del wb["_meta"]

    res = read_workbook(_edit(filled, drop), spec=spec)
    # first, the cause (without the sheet's 科目 lists the 附件 rows and projects are not known: the
    # sheets laid out without them differ cell by cell, hundreds of findings after this one)
    assert added(res, untouched)[0] == ("meta-sheet-missing", "_meta")
    assert res.usable  # identity still known from the document properties; figures still read
    assert res.values["公开01"]["1"]["1"] == Decimal("2128.85")


@pytest.mark.slow
def test_tamper_protection_removed_is_a_warning(spec, filled: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    def unprotect(wb):  # type: ignore[no-untyped-def]
        wb["公开02表"].protection.sheet = False
        wb["_meta"].sheet_state = "visible"

    res = read_workbook(_edit(filled, unprotect), spec=spec)
    assert added(res, untouched) == [("sheet-unprotected", "公开02表"), ("hidden-sheet-visible", "_meta")]
    assert res.exit_code == 0  # a warning, not an error


@pytest.mark.slow
def test_tamper_identity_changed(spec, filled: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    _edit(filled, lambda wb: wb["_meta"].__setitem__("B4", "430001002"))
    res = read_workbook(filled, spec=spec)
    # the unit code also shows on the cover and in the guide, and the recorded fingerprint is not the
    # one the changed identity gives
    assert added(res, untouched) == [("identity-mismatch", "_meta!B4"), ("fingerprint-mismatch", "_meta!B10"),
                                     ("label-changed", "封面!B4"), ("label-changed", "填报说明!A2"),
                                     ("meta-changed", "_meta!B10")]


@pytest.mark.slow
def test_wrong_key_fails_the_fingerprint(spec, filled: Path) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(filled, spec=spec, key="another-key")
    assert [c for c, _ in codes_at(res) if c == "fingerprint-mismatch"]


@pytest.mark.slow
def test_tamper_text_in_a_number_cell(spec, filled: Path) -> None:  # type: ignore[no-untyped-def]
    def typo(wb):  # type: ignore[no-untyped-def]
        wb["公开06表"]["C7"] = "九十五"
        wb["公开06表"]["C8"] = "１，０００.５０"

    res = read_workbook(_edit(filled, typo), spec=spec)
    f = next(f for f in res.findings if f.cell == "公开06表!C7")
    assert (f.code, f.severity, f.row, f.col) == ("not-a-number", "error", "30101", "决算数")
    g = next(f for f in res.findings if f.cell == "公开06表!C8")
    # text is no number to the workbook (its sums skip it): an error at its cell, counted 0 as there
    assert (g.code, g.severity, g.expected) == ("number-as-text", "error", "1,000.50")
    assert res.values["公开06"]["30102"]["决算数"] == Decimal("0")
    assert len([f for f in res.findings if f.cell == "公开06表!C8"]) == 1


@pytest.mark.slow
def test_tamper_value_outside_the_input_area(spec, filled: Path) -> None:  # type: ignore[no-untyped-def]
    _edit(filled, lambda wb: wb["公开01表"].__setitem__("H40", 123.45))
    res = read_workbook(filled, spec=spec)
    f = next(f for f in res.findings if f.code == "value-outside-input")
    assert f.cell == "公开01表!H40" and f.actual == "123.45"


def _rewrite_part(path: Path, part: str, fn) -> None:  # type: ignore[no-untyped-def]
    src = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            dst.writestr(info, fn(body) if info.filename == part else body)
    path.write_bytes(out.getvalue())


def test_tamper_stale_cached_total(spec, template, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A total whose shown result was forged (or not recalculated) is an error at that cell."""
    path = tmp_path / "t.xlsx"
    path.write_bytes(template.path.read_bytes())
    # 公开01表's part (found through the workbook's relationships): the cached result of C33 (本年收入合计)
    _rewrite_part(path, sheet_part(path, "公开01表"),
                  lambda b: re.sub(rb'(<c r="C33"[^>]*><f>[^<]*</f><v>)[^<]*(</v>)', rb"\g<1>5000\g<2>", b))
    res = read_workbook(path, spec=spec)
    f = next(f for f in res.findings if f.code == "stale-cached-value")
    assert f.cell == "公开01表!C33" and f.expected == "0.00" and f.actual == "5,000.00"
    assert [x.code for x in res.findings].count("stale-cached-value") == 1  # one cause, one finding


@pytest.mark.slow
def test_negative_and_extra_decimals(spec, filled: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    def bad(wb):  # type: ignore[no-untyped-def]
        wb["公开01表"]["C8"] = -3
        wb["公开01表"]["C9"] = 1.234

    res = read_workbook(_edit(filled, bad), spec=spec)
    assert added(res, untouched) == [("negative-value", "公开01表!C8"), ("too-many-decimals", "公开01表!C9"), *[
        ("rule-failed", c) for c in ("公开01表!C36", "公开01表!C33", "公开01表!C7", "公开04表!C8", "公开04表!C9")]]
    assert res.values["公开01"]["3"]["1"] == Decimal("1.234")  # the exact value is kept


@pytest.mark.slow
def test_spare_rows_add_a_new_code_and_subtotals_follow(spec, filled: Path, untouched) -> None:  # type: ignore[no-untyped-def]
    def add(wb):  # type: ignore[no-untyped-def]
        ws = wb["公开03表"]
        ws["A15"] = "2150805"  # duplicate of a prefilled code
        ws["E15"] = 1
        ws["A16"] = "2150899"  # prefilled too
        ws["D16"] = 2
        ws["A17"] = ""
        ws["E17"] = 7  # amount without a code

    res = read_workbook(_edit(filled, add), spec=spec)
    assert added(res, untouched) == [
        ("duplicate-code", "公开03表!A15"), ("duplicate-code", "公开03表!A16"), ("spare-row-without-code", "公开03表!A17"),
        *[("rule-failed", c) for c in ("公开01表!F33", "公开01表!F20", "附件2!F13", "附件2!F14", "附件1!F13")]]
    assert res.values["公开03"]["2150805"]["3"] == Decimal("216.05")
    assert res.values["公开03"]["21508"]["1"] == Decimal("253.94")


def test_unknown_template_and_garbage(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active["A1"] = "随便一个表"
    p = tmp_path / "other.xlsx"
    wb.save(p)
    res = read_workbook(p)
    assert (res.usable, res.exit_code, flatten(res.findings, "code")) == (False, 2, [["not-a-template"]])
    q = tmp_path / "garbage.xlsx"
    q.write_bytes(b"code,name\n1,2\n")
    res = read_workbook(q)
    assert res.exit_code == 2 and res.findings[0].code == "file-not-xlsx"


def test_normalize_formula_ignores_quoting_case_and_spaces() -> None:
    assert normalize_formula("='公开01表'!$C$7 + sum(c1:c2)") == normalize_formula("=公开01表!C7+SUM(C1:C2)")
    assert normalize_formula('IF(A1="",0,VLOOKUP(A1,B:C,2,FALSE()))') == normalize_formula('IF(A1="",0,VLOOKUP(A1,B:C,2,FALSE))')
    assert normalize_formula('IF(A1="a b","x")') != normalize_formula('IF(A1="ab","x")')


@pytest.mark.slow
def test_warning_carries_the_units_explanation(spec, filled: Path, template) -> None:  # type: ignore[no-untyped-def]
    row = template.plan.rule_rows["g09-car-vs-g06"] + 1

    sheet, r, c = template.plan.fig_cells[Fig("附件1", "公车运行维护", "本年决算")]

    def car(wb):  # type: ignore[no-untyped-def]
        wb["公开09表"]["K8"] = 1.00  # 决算 公务用车运行维护费 below 公开06 30231 (1.61)
        wb["公开09表"]["L8"] = 0
        wb[sheet].cell(row=r + 1, column=c + 1).value = 1.00  # 附件1 keeps agreeing with 公开09

    res = read_workbook(_edit(filled, car), spec=spec)
    f = next(f for f in res.findings if f.rule == "g09-car-vs-g06")
    assert (f.severity, f.extra["explained"], f.check_cell) == ("warning", False, f"审核!H{row}")
    assert f.cell == "公开09表!K8" and "公开09表!K8" in f.message and "公开06表!" in f.message
    _edit(filled, lambda wb: wb["审核"].__setitem__(f"I{row}", "部分运行维护费由项目支出列支"))
    res = read_workbook(filled, spec=spec)
    f = next(f for f in res.findings if f.rule == "g09-car-vs-g06")
    assert f.extra["explained"] is True and "项目支出" in f.message
    assert res.exit_code == 0  # an explained warning is not an error


@pytest.mark.slow
def test_empty_table_needs_its_statement(spec, filled: Path) -> None:  # type: ignore[no-untyped-def]
    st = "A14"
    _edit(filled, lambda wb: wb["公开08表"].__setitem__(st, None))
    res = read_workbook(filled, spec=spec)
    f = next(f for f in res.findings if f.code == "empty-table-statement-missing")
    assert (f.table, f.severity) == ("公开08", "error")


@pytest.mark.slow
def test_rule_failure_names_cells_keys_expected_and_actual(spec, filled: Path) -> None:  # type: ignore[no-untyped-def]
    _edit(filled, lambda wb: wb["公开01表"].__setitem__("F20", 100))  # 公开01 row 44 (215): 2128.85 -> 100
    res = read_workbook(filled, spec=spec)
    f = next(f for f in res.findings if f.rule == "g01-g03-class[215,44]")
    assert (f.code, f.severity, f.table, f.row, f.col) == ("rule-failed", "error", "公开01", "44", "2")
    assert (f.expected, f.actual) == ("2,128.85", "100.00")
    # the data cell to fix, the other side's cell, the 审核 row as a reference; amounts as #,##0.00
    assert f.cell == "公开01表!F20" and f.extra["right_cells"] == ["公开03表!C8"]
    assert f.check_cell is not None and f.check_cell.startswith("审核!H") and f.to_dict()["check_cell"] == f.check_cell
    assert "左边 公开01表!F20 为 100.00，右边 公开03表!C8 为 2,128.85，差额 -2,028.85" in f.message
