"""The pure core at its edges, exact values each: money parsing and printing, findings as data,
the data file format. Written against the survivors of the mutation run (tools/mutation.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from generator.core.dataset import DataError, Dataset, dump_dataset, load_dataset
from generator.core.findings import (
    ERROR,
    INFO,
    WARNING,
    Finding,
    exit_code,
    flatten,
    has_errors,
    sort_findings,
    stats,
)
from generator.core.money import fmt, fmt_exact, parse_lenient, q2, to_decimal

D = Decimal


# ---------------------------------------------------------------- money


@pytest.mark.parametrize(("given", "want"), [
    (D("1.10"), D("1.10")), (3, D(3)), (0.1, D("0.1")), (95.29, D("95.29")), ("  12.50 ", D("12.50")),
    ("-0.5", D("-0.5")), ("+7", D(7)), (".25", D("0.25")), ("1e2", D("1e2")), ("3.", D(3)),
])
def test_to_decimal_exact(given: object, want: Decimal) -> None:
    got = to_decimal(given)
    assert got == want and isinstance(got, Decimal)
    assert str(got) == str(want)  # exact, not merely equal: 1.10 stays 1.10


@pytest.mark.parametrize("bad", [True, False, None, "1,234.00", "abc", "", "1.2.3", "¥5", [1], "1e", "--1"])
def test_to_decimal_refuses(bad: object) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        to_decimal(bad)


@pytest.mark.parametrize(("text", "want"), [
    ("1,234.50", D("1234.50")), ("１，２３４．５０", D("1234.50")), (" 12 ", D(12)), ("1\u30002", D(12)),
    ("-3.5", D("-3.5")), ("+4", D(4)), ("12,345,678", D(12345678)), ("7.", D(7)),
    ("", None), ("   ", None), ("1,23", None), ("12,3456", None), ("abc", None), ("1.2.3", None), ("1e5", None),
    (",123", None),
])
def test_parse_lenient(text: str, want: Decimal | None) -> None:
    assert parse_lenient(text) == want


@pytest.mark.parametrize(("value", "want"), [
    (D("0.125"), D("0.13")), (D("-0.125"), D("-0.13")), (D("0.124"), D("0.12")), (D("2"), D("2.00")),
    (D("2.005"), D("2.01")), (D("2.0049"), D("2.00")),
])
def test_q2_rounds_half_up(value: Decimal, want: Decimal) -> None:
    assert q2(value) == want and str(q2(value)) == str(want)


@pytest.mark.parametrize(("value", "exact", "thousands"), [
    (D("2128.85"), "2128.85", "2,128.85"), (D("0.125"), "0.125", "0.13"), (D("5"), "5.00", "5.00"),
    (D("5.10"), "5.10", "5.10"), (D("1234567.8"), "1234567.80", "1,234,567.80"), (D("0"), "0.00", "0.00"),
    (D("0.00"), "0.00", "0.00"), (D("-0.5"), "-0.50", "-0.50"), (D("1E+2"), "100.00", "100.00"),
    (D("-1234.5"), "-1234.50", "-1,234.50"), (D("0.1"), "0.10", "0.10"),
])
def test_fmt(value: Decimal, exact: str, thousands: str) -> None:
    assert fmt(value) == exact == fmt_exact(value)
    assert fmt(value, True) == thousands
    assert fmt(value, thousands=False) == exact


def test_fmt_of_nothing() -> None:
    assert fmt(None) == "" and fmt(None, True) == ""


# ---------------------------------------------------------------- findings


@pytest.fixture()
def lax(monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings with made-up codes and severities, to test the Finding type itself."""
    import generator.core.findings as findings

    monkeypatch.setattr(findings, "STRICT", False)


def test_finding_renders_location_expected_and_actual(lax: None) -> None:
    f = Finding("rule-failed", ERROR, "不平", table="公开01", row="30", col="1", cell="审核!H5", expected="1.00",
                actual="2.00", rule="g01")
    assert f.location() == "审核!H5 公开01 行/科目 30 栏 1"
    assert f.render() == "[错误] 审核不通过（强制） 审核!H5 公开01 行/科目 30 栏 1：不平（应为 1.00，实际 2.00） ‹rule-failed›"
    g = Finding("structure-unlocked", INFO, "结构保护已取消")
    assert g.location() == "" and g.render() == "[信息] 工作簿结构保护未保留：结构保护已取消 ‹structure-unlocked›"
    h = Finding("x-y", INFO, "信息", actual="3")  # a code the catalogue does not know shows as itself
    assert h.render() == "[信息] x-y：信息（应为 —，实际 3） ‹x-y›"
    k = Finding("x-y", INFO, "信息", expected="4")
    assert k.render() == "[信息] x-y：信息（应为 4，实际 —） ‹x-y›"
    assert Finding("x-y", "odd", "m").render() == "[odd] x-y：m ‹x-y›"
    assert Finding("x-y", INFO, "m", row="7").location() == "行/科目 7"
    assert Finding("x-y", INFO, "m", col="2").location() == "栏 2"


def test_finding_round_trips_through_a_dict(lax: None) -> None:
    f = Finding("rule-warning", WARNING, "说明", table="公开09", row="1", col="11", cell="审核!H9", expected="1.61",
                actual="1.00", rule="g09", file="a.xlsx", extra={"explained": True})
    d = f.to_dict()
    assert d["extra"] == {"explained": True} and d["code"] == "rule-warning" and d["file"] == "a.xlsx"
    back = Finding.from_dict(json.loads(json.dumps(d)))
    assert back == f and back.extra == {"explained": True}
    plain = Finding("a-b", INFO, "m").to_dict()
    assert "extra" not in plain and set(plain) == {"code", "severity", "message", "table", "row", "col", "cell",
                                                   "expected", "actual", "rule", "file"}
    assert Finding.from_dict({"code": "a-b", "severity": INFO, "message": "m", "unknown": 1}).extra == {}


def test_findings_sorted_counted_and_exit_codes(lax: None) -> None:
    fs = [Finding("c", INFO, "m", table="公开02"), Finding("a", ERROR, "m", table="公开03", cell="B"),
          Finding("b", WARNING, "m"), Finding("d", ERROR, "m", table="公开03", cell="A"),
          Finding("e", ERROR, "m", table="公开01"), Finding("f", "odd", "m")]
    assert [f.code for f in sort_findings(fs)] == ["e", "d", "a", "b", "c", "f"]
    assert stats(fs) == {ERROR: 3, WARNING: 1, INFO: 1}
    assert stats([]) == {ERROR: 0, WARNING: 0, INFO: 0}
    assert has_errors(fs) and not has_errors(fs[2:3]) and not has_errors([])
    assert exit_code(True, []) == 0 and exit_code(True, fs[2:3]) == 0 and exit_code(True, fs) == 1
    assert exit_code(False, []) == 2 and exit_code(False, fs) == 2
    assert flatten(fs[:1]) == [["c", INFO, "公开02", None, None]]
    assert flatten(fs[:2], "code", "cell") == [["c", None], ["a", "B"]]


# ---------------------------------------------------------------- the data file


def test_dataset_json_round_trip(tmp_path: Path) -> None:
    ds = Dataset("430001001", "单位", 2024, {"公开01": {"1": {"1": D("2128.85")}, "2": {"1": D("0.125")}}},
                 {"2150599": "其他"}, {"公开07": "无"}, {"单位负责人": "张三"}, {"g09": "已说明"})
    doc = ds.to_json()
    assert doc["values"]["公开01"] == {"1": {"1": "2128.85"}, "2": {"1": "0.125"}}
    assert doc["cover"] == {"单位负责人": "张三"} and doc["explanations"] == {"g09": "已说明"}
    assert doc["unit"] == {"code": "430001001", "name": "单位"} and doc["year"] == 2024
    dump_dataset(ds, tmp_path / "d.json")
    back = load_dataset(tmp_path / "d.json")
    assert back == ds
    bare = Dataset("1", "甲").to_json()
    assert "cover" not in bare and "explanations" not in bare and bare["year"] is None
    assert Dataset.from_json(bare) == Dataset("1", "甲")


def test_dataset_from_json_skips_blanks_and_converts_keys() -> None:
    ds = Dataset.from_json({"unit": {"code": 430001, "name": "甲"}, "year": "2024",
                            "values": {"公开01": {1: {"1": 5, "2": None, "3": ""}}}, "names": {215: "x"}})
    assert (ds.unit_code, ds.year, ds.values, ds.names) == ("430001", 2024, {"公开01": {"1": {"1": D(5)}}}, {"215": "x"})
    assert ds.get("公开01", "1", "1") == D(5) and ds.get("公开01", "1", "2") is None and ds.get("公开09", "1", "1") is None


@pytest.mark.parametrize(("doc", "msg"), [
    ([], "应为 JSON 对象"), ({"values": [1]}, "values 应为"), ({"values": {"公开01": [1]}}, "公开01 的值应为"),
    ({"values": {"公开01": {"1": 5}}}, "公开01 行 1 的值应为"),
    ({"values": {"公开01": {"1": {"1": "一百"}}}}, "公开01 行 1 栏 1：金额无法识别 '一百'"),
    ({"values": {}, "texts": {"附件1": {"厉行节约": "措施"}}}, "texts 应为 {表: {行: {栏: 文字}}}"),
    ({"values": {}, "texts": ["措施"]}, "texts 应为 {表: {行: {栏: 文字}}}"),
])
def test_dataset_from_json_errors_name_the_place(doc: object, msg: str) -> None:
    with pytest.raises(DataError, match=msg) as exc:
        Dataset.from_json(doc, "f.json")
    assert str(exc.value).startswith("f.json：")
    with pytest.raises(DataError) as exc2:
        Dataset.from_json(doc)
    assert not str(exc2.value).startswith("：")


def test_load_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="无法读取数据文件"):
        load_dataset(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match=str(bad).replace("\\", "\\\\")):
        load_dataset(bad)


# ---------------------------------------------------------------- times shown to people


@pytest.mark.parametrize(("tz", "iso", "want"), [
    ("Asia/Shanghai", "2026-12-03T12:15:02+00:00", "2026-12-03 20:15:02 UTC+08:00 CST"),
    ("Asia/Shanghai", "2026-12-03T12:15:02", "2026-12-03 20:15:02 UTC+08:00 CST"),  # no zone: taken as UTC
    ("UTC", "2026-12-03T20:15:02+08:00", "2026-12-03 12:15:02 UTC+00:00"),
    ("America/St_Johns", "2026-12-03T12:00:00+00:00", "2026-12-03 08:30:00 UTC-03:30 NST"),
    ("Etc/GMT-14", "2026-12-03T12:00:00+00:00", "2026-12-04 02:00:00 UTC+14:00"),
    # a zone whose abbreviation is only its offset ("-03"): not said twice
    ("America/Sao_Paulo", "2026-12-03T12:00:00+00:00", "2026-12-03 09:00:00 UTC-03:00"),
])
def test_times_are_shown_local_with_their_zone(monkeypatch, tz: str, iso: str, want: str) -> None:  # type: ignore[no-untyped-def]
    import time

    from generator.core.clock import shown

    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        assert shown(iso) == want
    finally:
        monkeypatch.undo()
        time.tzset()


def test_what_is_not_a_time_is_shown_as_it_is() -> None:
    from generator.core.clock import shown

    assert shown(None) == "" and shown("") == "" and shown("昨天") == "昨天"


def test_now_is_local_time_with_its_offset() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    import time_machine

    from generator.core.clock import now

    # time-machine also sets the local zone to the destination's
    with time_machine.travel(dt.datetime(2026, 12, 3, 20, 15, 2, 500000, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        assert now() == "2026-12-03T20:15:02+08:00"


# ---------------------------------------------------------------- formulas typed into input cells


@pytest.mark.parametrize(("formula", "want"), [
    ("=1200.5+30", "1230.5"), ("= 1 + 2 ", "3"), ("1+2", "3"), ("=(100+20.5)*2", "241.0"), ("=-(2-5)", "3"),
    ("=+3", "3"), ("=3-2-1", "0"), ("=8/4/2", "1"), ("=2+3*4", "14"), ("=(2+3)*4", "20"), ("=.5+1.", "1.5"),
    ("=10%", "0.1"), ("=50%%", "0.005"), ("=-2%", "-0.02"), ("=SUM(1)%", "0.01"),
    ("=SUM(100,200.25)", "300.25"), ("=SUM()", "0"), ("=sum(1, 2)", "3"), ("=_xlfn.SUM(1,2)", "3"),
    ("=SUM((1+2),3)", "6"), ("=SUM(1,SUM(2,3))*2", "12"),
    ("=ROUND(1/3,2)", "0.33"), ("=ROUND(2.5,0)", "3"), ("=ROUND(-2.5,0)", "-3"), ("=ROUND(1.005,2)", "1.01"),
    ("=ROUND(1234.5,-15)", "0E+15"), ("=ROUND(1234.5,15)", "1234.500000000000000"), ("=ROUND(1250,-2)", "1.3E+3"),
    ("=1e14", "1E+14"), ("=" + "(" * 31 + "1" + ")" * 31, "1"),
])
def test_input_formula_computed_exactly(formula: str, want: str) -> None:
    """The README's input formulas (numbers, + - * /, postfix %, parentheses, SUM, ROUND half up to
    -15..15 digits), computed in Decimal, exact to the digit."""
    from generator.core.cellformula import evaluate

    got = evaluate(formula)
    assert isinstance(got, Decimal) and str(got) == want


@pytest.mark.parametrize(("formula", "why"), [
    ("=C7*2", "引用了单元格"), ("=$C$7", "引用了单元格"), ("=A1:B2", "引用了单元格"), ("=1+c7", "引用了单元格"),
    ("=Sheet1!A1", "引用了其他工作表"), ("='公开02表'!C7", "引用了其他工作表"), ("=SUM(1,Sheet1!A1)", "引用了其他工作表"),
    ("=[1]Sheet1!A1", "其他工作簿"), ('="a"', "含文本"), ("=foo", "引用了名称"), ("=_x", "引用了名称"),
    ("=|x", "DDE"), ("=2^3", "不支持的内容 '^3'"), ("=SUM(1;2)", "不支持的内容 ';2)'"),
    ("=WEBSERVICE(1)", "不允许的函数 WEBSERVICE"), ("=_xlfn.CONCAT(1)", "不允许的函数 CONCAT"),
    ("=1/0", "除数为 0"), ("=1/(2-2)", "除数为 0"), ("=1 2", "公式有误（'2' 处）"), ("=(1+2", "括号不配对"),
    ("=SUM(1,)", "公式有误（')' 处）"), ("=SUM(1 2)", "函数参数有误"), ("=)", "公式有误（')' 处）"),
    ("=2*", "公式不完整"), ("=", "公式为空"), ("=  ", "公式为空"), ("=1e15", "超出金额范围"), ("=-1e15", "超出金额范围"),
    ("=ROUND(1,16)", "ROUND 需要两个参数"), ("=ROUND(1,-16)", "ROUND 需要两个参数"), ("=ROUND(1,0.5)", "ROUND 需要两个参数"),
    ("=ROUND(1)", "ROUND 需要两个参数"), ("=ROUND(1,2,3)", "ROUND 需要两个参数"),
    ("=" + "(" * 32 + "1" + ")" * 32, "嵌套过深"), ("=" + "1+" * 300 + "1", "公式过长"),
])
def test_input_formula_refused_with_its_reason(formula: str, why: str) -> None:
    from generator.core.cellformula import FormulaRefused, evaluate

    with pytest.raises(FormulaRefused) as exc:
        evaluate(formula)
    assert why in str(exc.value)


@pytest.mark.parametrize(("formula", "reason"), [
    ("=foo*2", "引用了名称（定义的名称可能指向任何内容）"), ("=C7*2", "引用了单元格（填报单元格只能填数或由数构成的公式）"),
    ("=[1]Sheet1!A1", "引用了其他工作簿（外部链接）"), ("=Sheet1!A1", "引用了其他工作表"), ('="a"', "含文本"),
    ("=|x", "含 DDE 调用"),
])
def test_input_formula_refusal_is_the_whole_reason(formula: str, reason: str) -> None:
    """The reason a unit reads is exactly the sentence, nothing around it."""
    from generator.core.cellformula import FormulaRefused, evaluate

    with pytest.raises(FormulaRefused) as exc:
        evaluate(formula)
    assert str(exc.value) == reason


# ---------------------------------------------------------------- model: repeated tables


def test_projects_of_a_repeated_table_in_number_order(spec) -> None:  # type: ignore[no-untyped-def]
    """附件3 projects are numbered 1, 2, … 10, 11: the sheets 附件3-1 … follow that order, not the
    text order in which "10" would come before "2"."""
    from generator.core.model import Figures

    rows = {f"{p}:年度资金总额": {"1": D(1)} for p in ("10", "2", "1", "11")}
    rows["备注"] = {"1": D(0)}  # a key that is no project's
    assert Figures(spec, {"附件3": rows}).projects("附件3") == ["1", "2", "10", "11"]


# ---------------------------------------------------------------- findings: text for a terminal


@pytest.mark.parametrize(("text", "shown"), [
    ("a\x1b[2Jb", "a\\x1b[2Jb"),  # Cc: an escape sequence
    ("甲\u202e乙", "甲\\u202e乙"),  # Cf: right-to-left override
    ("甲\u200b乙", "甲\\u200b乙"),  # Cf: zero-width space
    ("甲\u2028乙", "甲\\u2028乙"),  # Zl: line separator
    ("甲\u2029乙", "甲\\u2029乙"),  # Zp: paragraph separator
    ("甲\t乙 丙", "甲\t乙 丙"),  # a tab and a space stay
])
def test_printable_escapes_what_would_move_or_hide_text(text: str, shown: str) -> None:
    from generator.core.findings import printable

    assert printable(text) == shown



def test_a_row_the_table_does_not_have_is_zero(spec) -> None:  # type: ignore[no-untyped-def]
    """A figure asked for by key on a row its (fixed-row) table does not have counts as 0, never as
    no value (a data file from another version may name such a row)."""
    from generator.core.expr import Fig
    from generator.core.model import Figures

    figs = Figures(spec, {"公开09": {"99": {"1": D(5)}}})
    got = figs.fig(Fig("公开09", "99", "1"))
    assert isinstance(got, Decimal) and got == 0


# ---------------------------------------------------------------- layout: per-spec memo of check formulas


def test_check_formulas_over_a_form_follow_each_units_rows() -> None:
    """The 审核 sheet's Excel text of a rule is kept per spec only when its cells are the same for
    every unit; a 附件 form's rows move with the unit's indicators, so after a unit with 38
    indicators, a unit with 2 gets formulas for its own rows (as with a spec loaded afresh)."""
    from generator.core.catalog import load_spec
    from generator.core.layout import form_sections, plan_workbook, section_codes
    from generator.core.spec import split_repeat

    from .conftest import SEED, SPECS

    seed = load_dataset(SEED)
    small_values = {t: ({r: c for r, c in rows.items() if not split_repeat(r)[1].isdigit() or split_repeat(r)[1] in ("1", "2")}
                        if t.startswith("附件") else rows) for t, rows in seed.values.items()}
    small_texts = {t: {r: c for r, c in rows.items() if not split_repeat(r)[1].isdigit() or split_repeat(r)[1] in ("1", "2")}
                   for t, rows in seed.texts.items()}

    def check_sheet(spec, values, texts):  # type: ignore[no-untyped-def]
        codes = section_codes(spec, {t: r for t, r in values.items() if t in spec.tables})
        codes.update(form_sections(spec, values, texts))
        plan = plan_workbook(spec, seed.unit_code, seed.unit_name, 2024, codes, seed.names)
        return {at: c.formula for at, c in plan.sheet("审核").cells.items() if c.formula}

    shared = load_spec(SPECS)
    check_sheet(shared, seed.values, seed.texts)  # the big unit first: its formulas are memoised
    after = check_sheet(shared, small_values, small_texts)
    fresh = check_sheet(load_spec(SPECS), small_values, small_texts)
    assert after == fresh
    assert any("附件2" in f for f in fresh.values())
