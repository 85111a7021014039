"""第五部分 附件 (绩效自评): 附件1–3 built from the seed, its printed scores reproduced, read back
exactly, checked, tampered with, with 0 and 12 projects, recalculated by LibreOffice."""

from __future__ import annotations

import copy
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest

from generator.core.dataset import Dataset
from generator.core.expr import Fig
from generator.core.indicators import (
    EQUAL,
    POSITIVE,
    QUALITATIVE,
    REVERSE,
    check_indicators,
    parse_actual,
    parse_target,
    rule_score,
)
from generator.xlsx.libreoffice import soffice
from generator.xlsx.reader import number_value, read_workbook
from generator.xlsx.writer import build_workbook

from .conftest import assert_recalculated

# (sheet, 执行率, 执行率得分, 总分) as the seed prints them
PRINTED = [("附件2", "0.7573", "7.57", "96.08"), ("附件3-1", "0.9720", "9.72", "99.16"),
           ("附件3-2", "0.7655", "7.65", "92.95"), ("附件3-3", "0.9836", "9.84", "99.51"),
           ("附件3-4", "0.6220", "6.22", "88.66")]


def _key(sheet: str, row: str) -> tuple[str, str]:
    return ("附件2", row) if sheet == "附件2" else ("附件3", f"{sheet.rsplit('-', 1)[1]}:{row}")


def _fujian(findings):  # type: ignore[no-untyped-def]
    return [f for f in findings if (f.table or "").startswith("附件")]


def test_seed_scores_are_the_printed_ones(seed_build) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(seed_build.path)
    assert res.usable and res.exit_code == 0
    for sheet, rate, score, total in PRINTED:
        t, row = _key(sheet, "年度资金总额")
        assert res.values[t][row]["执行率"] == D(rate), sheet
        assert res.values[t][row]["得分"] == D(score), sheet
        t, row = _key(sheet, "总分")
        assert res.values[t][row]["得分"] == D(total), sheet
        assert res.values[t][row]["分值"] == D(100), sheet
    # 控制率 29 编制, 26 在职 -> 89.66%
    assert res.values["附件1"]["财政供养人员"]["控制率"] == D("0.8966")
    assert res.values["附件1"]["三公经费"]["本年决算"] == D("1.61")
    # the workbook's cached results are the same figures (what Excel/WPS show before recalculating)
    wb = openpyxl.load_workbook(seed_build.path, data_only=True)
    for sheet, _rate, score, total in PRINTED:
        t, row = _key(sheet, "总分")
        s, r, c = seed_build.plan.fig_cells[Fig(t, row, "得分")]
        assert D(str(wb[s].cell(row=r + 1, column=c + 1).value)) == D(total)
        t, row = _key(sheet, "年度资金总额")
        s, r, c = seed_build.plan.fig_cells[Fig(t, row, "得分")]
        assert D(str(wb[s].cell(row=r + 1, column=c + 1).value)) == D(score)


def test_seed_reads_back_exactly(seed, seed_build) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(seed_build.path)
    assert res.dataset is not None
    for t in ("附件1", "附件2", "附件3"):
        assert res.dataset.texts[t] == seed.texts[t], t
        for row, cols in seed.values[t].items():
            for col, v in cols.items():
                assert res.dataset.values[t][row][col] == v, (t, row, col)
        assert set(res.dataset.values[t]) == set(seed.values[t]), t
    # all four projects, every indicator row (38 in 附件2; 15, 17, 17, 15 in the projects)
    assert len([k for k in res.dataset.texts["附件2"] if k.isdigit()]) == 38
    for p, n in (("1", 15), ("2", 17), ("3", 17), ("4", 15)):
        assert len([k for k in res.dataset.texts["附件3"] if k.startswith(p + ":") and k[2:].isdigit()]) == n
    # rebuilt from what was read, the same workbook (keys, layout and all)
    again = build_workbook(seed_build.plan.spec, Dataset(seed.unit_code, seed.unit_name, seed.year, res.dataset.values,
                                                         seed.names, seed.notes, texts=res.dataset.texts))
    assert again.plan.sections == seed_build.plan.sections


def test_seed_cost_indicators_reported_and_nothing_else(seed_build) -> None:  # type: ignore[no-untyped-def]
    res = read_workbook(seed_build.path)
    found = _fujian(res.findings)
    rev = [f for f in found if f.code == "indicator-reverse-proportional"]
    assert [(f.table, f.row, f.actual) for f in rev] == [
        ("附件2", "1", "8.79"), ("附件2", "2", "9.72"), ("附件3", "1:1", "19.44"), ("附件3", "2:1", "15.30"),
        ("附件3", "3:1", "19.67"), ("附件3", "4:1", "12.44")]
    assert all(f.severity == "warning" and f.expected == f"{'10' if f.table == '附件2' else '20'}.00" for f in rev)
    assert "按标准规则（达成即满分）应得 10.00 分" in rev[0].message and "10.00×1153.40÷1311.67" in rev[0].message
    # everything else about the 附件: the 公用经费 49.59 vs 公开06 49.60 尾数差异 (info)
    rest = [(f.code, f.severity, f.rule) for f in found if f not in rev]
    assert rest == [("rounding-difference", "info", "附件1-公用经费")]


def test_indicator_parsing() -> None:
    t = parse_target("≤1311.67万元")
    assert (t.direction, t.high, t.unit) == (REVERSE, D("1311.67"), "万元")
    t = parse_target("3-4次")
    assert (t.direction, t.low, t.high, t.unit) == (POSITIVE, D(3), D(4), "次")
    assert (parse_target("≥95%").direction, parse_target("≥95%").low) == (POSITIVE, D(95))
    assert (parse_target("100%").direction, parse_target("1年").unit) == (POSITIVE, "年")
    assert parse_target("184万元", cost=True).direction == REVERSE
    assert parse_target("全部落实").direction == QUALITATIVE and parse_target("全部落实").parsed
    assert parse_target("提高").band == 1
    assert not parse_target("企业数字化").parsed  # kept as 定性, flagged
    a = parse_actual("系列活动合计18次")
    assert (a.direction, a.value, a.unit) == (EQUAL, D(18), "次")
    assert parse_actual("1153.40万元").value == D("1153.40")
    assert parse_actual("完成").band == 1 and parse_actual("基本完成").band == D("0.8")
    # standard scores
    assert rule_score(D(10), parse_target("≤1311.67万元"), parse_actual("1153.40万元")) == D(10)
    assert rule_score(D(2), parse_target("3-4次"), parse_actual("3次")) == D(2)
    assert rule_score(D(2), parse_target("10笔"), parse_actual("5笔")) == D(1)
    assert rule_score(D(10), parse_target("≤100万元"), parse_actual("125万元")) == D(8)
    assert rule_score(D(5), parse_target("提高"), parse_actual("部分完成")) == D(3)


def _check(spec, seed, **edits):  # type: ignore[no-untyped-def]
    values, texts = copy.deepcopy(seed.values), copy.deepcopy(seed.texts)
    for (t, r, c), v in edits.get("values", {}).items():
        if v is None:
            values[t][r].pop(c, None)
        else:
            values.setdefault(t, {}).setdefault(r, {})[c] = D(v)
    for (t, r, c), v in edits.get("texts", {}).items():
        texts.setdefault(t, {}).setdefault(r, {})[c] = v
    return check_indicators(spec, values, texts)


def test_indicator_findings(spec, seed) -> None:  # type: ignore[no-untyped-def]
    base = {(f.code, f.row) for f in _check(spec, seed)}
    assert {c for c, _ in base} == {"indicator-reverse-proportional"}

    def new(**edits):  # type: ignore[no-untyped-def]
        return [f for f in _check(spec, seed, **edits) if (f.code, f.row) not in base]

    # 得分 above 分值
    got = new(values={("附件2", "5", "得分"): "3"})
    assert [(f.code, f.severity, f.row) for f in got] == [("indicator-score-over", "error", "5")]
    # a score the rule does not give (target 10笔 reached: full marks 2, not 1.5) and no 偏差原因
    got = new(values={("附件2", "18", "得分"): "1.5"})
    assert {f.code for f in got} == {"indicator-score-mismatch", "indicator-deviation-missing"}
    assert next(f for f in got if f.code == "indicator-score-mismatch").expected == "2.00"
    # target missed, scored proportionally, reason given: nothing; reason missing: asked for
    got = new(texts={("附件2", "18", "实际完成值"): "5笔"}, values={("附件2", "18", "得分"): "1"})
    assert [f.code for f in got] == ["indicator-deviation-missing"]
    assert new(texts={("附件2", "18", "实际完成值"): "5笔", ("附件2", "18", "偏差原因"): "年末项目延期"},
               values={("附件2", "18", "得分"): "1"}) == []
    # 分值 without 得分
    got = new(values={("附件2", "18", "得分"): None})
    assert [f.code for f in got] == ["indicator-score-missing"]
    # unparseable target: kept as 定性, flagged as info
    got = new(texts={("附件2", "18", "年度指标值"): "按计划推进"})
    assert [(f.code, f.severity) for f in got] == [("indicator-unparsed", "info")]
    # a 分值 changed in a project: the 一级指标 weight and the project's 100 no longer hold
    got = new(values={("附件3", "1:4", "分值"): "7"})
    assert sorted(f.code for f in got) == ["indicator-deviation-missing", "indicator-score-mismatch",
                                           "indicator-total-not-100", "indicator-weight-mismatch"]
    # Σ 附件3 全年预算数 against 附件1 项目支出 本年预算
    got = new(values={("附件3", "1:当年财政拨款", "全年预算数"): "200"})
    assert "fujian3-budget-mismatch" in {f.code for f in got}


# ---------------------------------------------------------------- tampering (as the 公开 tables)


def _cell(plan, t: str, row: str, col: str) -> tuple[str, int, int]:  # type: ignore[no-untyped-def]
    s, r, c = plan.fig_cells[Fig(t, row, col)]
    return s, r + 1, c + 1


def test_tampered_score_formula_overwritten(seed_build, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    s, r, c = _cell(seed_build.plan, "附件2", "年度资金总额", "得分")
    wb = openpyxl.load_workbook(seed_xlsx)
    wb[s].cell(row=r, column=c).value = 10
    s2, r2, c2 = _cell(seed_build.plan, "附件3", "2:总分", "得分")
    wb[s2].cell(row=r2, column=c2).value = 99
    wb.save(seed_xlsx)
    res = read_workbook(seed_xlsx)
    bad = [(f.code, f.table, f.row, f.col) for f in res.findings if f.severity == "error"]
    assert bad == [("formula-replaced", "附件2", "年度资金总额", "得分"), ("formula-replaced", "附件3", "2:总分", "得分")]
    assert res.exit_code == 1


def test_tampered_indicator_score_typed_over_its_weight(seed_build, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    s, r, c = _cell(seed_build.plan, "附件3", "3:4", "得分")
    wb = openpyxl.load_workbook(seed_xlsx)
    wb[s].cell(row=r, column=c).value = 9  # 分值 7
    wb.save(seed_xlsx)
    res = read_workbook(seed_xlsx)
    over = [f for f in res.findings if f.code == "indicator-score-over"]
    assert [(f.table, f.row, f.cell) for f in over] == [("附件3", "3:4", f"附件3-3!H{r}")]
    assert res.values["附件3"]["3:总分"]["得分"] == D("101.51")  # the total follows what was typed


def test_tampered_weight_changed(seed_build, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    s, r, c = _cell(seed_build.plan, "附件2", "5", "分值")
    wb = openpyxl.load_workbook(seed_xlsx)
    wb[s].cell(row=r, column=c).value = 5
    wb.save(seed_xlsx)
    res = read_workbook(seed_xlsx)
    codes = [(f.code, f.rule) for f in res.findings if f.severity == "error"]
    # the 审核 sheet's 分值合计 = 100, and the indicators' weights against the form's total
    assert codes == [("rule-failed", "附件2-总分值"), ("indicator-weight-mismatch", None)]
    assert res.values["附件2"]["总分"]["分值"] == D(103)


def test_tampered_indicator_row_inserted(seed_build, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    s, r, _c = _cell(seed_build.plan, "附件2", "10", "分值")
    wb = openpyxl.load_workbook(seed_xlsx)
    wb[s].protection.sheet = False
    wb[s].insert_rows(r)
    wb.save(seed_xlsx)
    res = read_workbook(seed_xlsx)
    assert "row-inserted" in {f.code for f in res.findings if f.table == "附件2"}
    assert res.exit_code == 1


# ---------------------------------------------------------------- 0 and 12 projects


EMPTY_STATEMENTS = {t: "本单位无此项收支，故本表为空表。" for t in ("公开07", "公开08")}


def _projects(n: int) -> Dataset:
    ds = Dataset(unit_code="430001888", unit_name="测试单位", year=2024, notes=EMPTY_STATEMENTS)
    for p in range(1, n + 1):
        ds.texts.setdefault("附件3", {})[f"{p}:项目"] = {"名称": f"项目{p}"}
        ds.values.setdefault("附件3", {})[f"{p}:当年财政拨款"] = {
            "年初预算数": D(10 * p), "全年预算数": D(10 * p), "全年执行数": D(9 * p)}
        rows = [("成本指标（20分）", "经济成本", "经费控制在预算内", f"≤{10 * p}万元", f"{9 * p}万元", "20", "20"),
                ("产出指标（40分）", "数量指标", "活动次数", "3-4次", f"{p}次", "40", str(min(40, round(40 * p / 3, 2)))),
                ("效益指标（20分）", "社会效益", "受益企业", "提高", "提高", "20", "20"),
                ("满意度指标（10分）", "服务对象满意度", "满意度", "≥95%", "96%", "10", "10")]
        for i, (a, b, c, t, act, w, s) in enumerate(rows, 1):
            ds.texts["附件3"][f"{p}:{i}"] = {"一级指标": a, "二级指标": b, "三级指标": c, "年度指标值": t,
                                            "实际完成值": act, **({"偏差原因": "下半年集中开展"} if p < 3 and i == 2 else {})}
            ds.values["附件3"][f"{p}:{i}"] = {"分值": D(w), "得分": D(s)}
    return ds


@pytest.mark.parametrize("n", [0, 12])
def test_projects_round_trip(spec, tmp_path: Path, n: int) -> None:  # type: ignore[no-untyped-def]
    ds = _projects(n)
    built = build_workbook(spec, ds, tmp_path / f"p{n}.xlsx")
    sheets = [s.name for s in built.plan.sheets if s.name.startswith("附件3")]
    assert sheets == [f"附件3-{p}" for p in range(1, n + 2)]  # one per project, one spare
    res = read_workbook(tmp_path / f"p{n}.xlsx")
    assert res.usable and res.exit_code == 0, [f.render() for f in res.findings]
    assert res.dataset is not None
    assert res.dataset.texts.get("附件3", {}) == ds.texts.get("附件3", {})
    assert {k: v for k, v in res.dataset.values.get("附件3", {}).items()} == ds.values.get("附件3", {})
    assert not _fujian(res.findings)
    for p in range(1, n + 1):
        rate = D(9 * p) / D(10 * p)
        assert res.values["附件3"][f"{p}:年度资金总额"]["执行率"] == D("0.9")
        assert res.values["附件3"][f"{p}:年度资金总额"]["得分"] == D(9) == (10 * rate).quantize(D("0.01"))
        assert res.values["附件3"][f"{p}:总分"]["得分"] == D(9) + 50 + min(D(40), (D(40) * p / 3).quantize(D("0.01")))
    if n == 0:
        assert "附件3" not in res.dataset.values and not res.values["附件3"]


def test_project_typed_into_the_spare_sheet_is_read(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    built = build_workbook(spec, _projects(1), tmp_path / "p1.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "p1.xlsx")
    for (t, row, col), value in {("附件3", "2:当年财政拨款", "全年预算数"): 50, ("附件3", "2:当年财政拨款", "全年执行数"): 40}.items():
        s, r, c = _cell(built.plan, t, row, col)
        wb[s].cell(row=r, column=c).value = value
    wb.save(tmp_path / "p1.xlsx")
    res = read_workbook(tmp_path / "p1.xlsx")
    assert res.values["附件3"]["2:年度资金总额"]["执行率"] == D("0.8")
    assert res.values["附件3"]["2:年度资金总额"]["得分"] == D(8)
    # the new project has no indicators yet: its 分值 is not 100
    assert "indicator-total-not-100" not in {f.code for f in res.findings}  # no indicator rows: not judged


# ---------------------------------------------------------------- LibreOffice


@pytest.mark.slow
@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice not installed")
def test_libreoffice_recalculates_the_fujian_sheets(seed_build, seed_recalculated) -> None:  # type: ignore[no-untyped-def]
    plan = seed_build.plan
    ours, book = seed_recalculated
    compared = assert_recalculated(ours, book, lambda sheet: sheet.startswith("附件"))
    # every formula of every 附件 sheet (执行率, 得分, 总分, 等级, 附件1's sums and 控制率), spare sheet included
    assert compared == sum(1 for sh in plan.sheets if sh.name.startswith("附件")
                           for cell in sh.cells.values() if cell.kind == "formula") > 60
    for sheet, rate, score, total in PRINTED:
        t, row = _key(sheet, "总分")
        s, r, c = plan.fig_cells[Fig(t, row, "得分")]
        assert number_value(book.sheet(s).cells[(r, c)].value or "") == D(total)  # type: ignore[union-attr]
        t, row = _key(sheet, "年度资金总额")
        s, r, c = plan.fig_cells[Fig(t, row, "执行率")]
        assert number_value(book.sheet(s).cells[(r, c)].value or "") == D(rate)  # type: ignore[union-attr]
        s, r, c = plan.fig_cells[Fig(t, row, "得分")]
        assert number_value(book.sheet(s).cells[(r, c)].value or "") == D(score)  # type: ignore[union-attr]


def test_blank_fujian_is_not_judged(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A unit that has not filled in its 附件 yet: no 附件 rule fails, no 附件 figure is made up."""
    res = build_workbook(spec, Dataset(unit_code="430001999", unit_name="空白单位", year=2024, notes=EMPTY_STATEMENTS),
                         tmp_path / "b.xlsx")
    assert not [r for r in res.results if r.instance.rule.when and r.status != "通过"]
    back = read_workbook(tmp_path / "b.xlsx")
    assert back.exit_code == 0 and back.values["附件2"] == {} and back.values["附件1"] == {}


# ---------------------------------------------------------------- 整体支出绩效自评报告


def test_narrative_writes_the_performance_report(seed) -> None:  # type: ignore[no-untyped-def]
    from generator.narrative import check_narrative, render_narrative

    text = render_narrative(seed)
    part = text[text.index("整体支出绩效自评报告"):]
    assert ("部门整体支出年初预算2,314.68万元，年内调增496.25万元，合计安排2,810.93万元。全年预算数2,810.93万元，"
            "决算支出2,128.85万元，预算执行率75.73%") in part
    assert "经自评，部门整体支出绩效自评得分96.08分（其中预算执行率得分7.57分），自评等级为“优”。" in part
    for name, rate, total, grade in (("长沙市企业服务中心工作经费", "97.20", "99.16", "优"),
                                     ("公共服务平台运维和项目评审室工作经费", "76.55", "92.95", "优"),
                                     ("离退休人员工作经费", "98.36", "99.51", "优"),
                                     ("中小企业公共服务活动专项经费", "62.20", "88.66", "良")):
        assert f"预算执行率{rate}%" in part and f"“{name}”绩效自评得分{total}分" in part and f"等级为“{grade}”" in part
    assert "【待填：存在的问题及原因】" in part and "【待填：基本支出主要用途】" in part
    # what it writes, check-narrative accepts; a unit without 附件 gets no such report
    assert [f for f in check_narrative(text, seed) if f.severity != "info"] == []
    assert "整体支出绩效自评报告" not in render_narrative(Dataset(unit_name="x", year=2024, values={
        t: r for t, r in seed.values.items() if t.startswith("公开")}))
    assert "整体支出绩效自评报告" in render_narrative(seed, fmt="html")


def test_check_narrative_ties_scores_rates_and_projects(seed) -> None:  # type: ignore[no-untyped-def]
    from generator.narrative import check_narrative

    report = (Path(__file__).resolve().parent.parent / "specs" / "samples" / "seed-2024-report.txt").read_text(encoding="utf-8")
    part3 = report[report.index("第三部分"):report.index("第四部分")]
    part5 = report[report.index("第五部分"):]
    mine = ("narrative-score-mismatch", "narrative-grade-mismatch", "narrative-rate-mismatch",
            "narrative-fujian-amount-mismatch", "narrative-project-not-evaluated", "narrative-project-not-listed")
    got = [f for f in check_narrative(part3, seed) if f.code in mine]
    # 十四（二）“绩效自评得分7.57分”: the 总分 is 96.08 (7.57 is the 预算执行率 score)
    assert [(f.code, f.severity, f.expected, f.actual) for f in got if f.severity != "info"] == [
        ("narrative-score-mismatch", "warning", "96.08", "7.57")]
    assert "这是预算执行率得分" in got[0].message
    # 五（三）lists six projects; 附件3 evaluates four, one of them under a reordered name
    info = sorted((f.code, f.actual) for f in got if f.severity == "info")
    assert info == [("narrative-project-not-evaluated", "中小企业公共服务专项活动经费"),
                    ("narrative-project-not-evaluated", "中小企业公共服务平台补助资金"),
                    ("narrative-project-not-evaluated", "中小企业发展专项"),
                    ("narrative-project-not-listed", "中小企业公共服务活动专项经费")]
    # the 自评报告's own paragraphs agree with the 附件; a changed figure is caught
    assert [f for f in check_narrative(part5, seed) if f.code in mine] == []
    for right, wrong, code in [
        ("决算支出84.20万元，预算执行率76.55%", "决算支出84.20万元，预算执行率75.65%", "narrative-rate-mismatch"),
        ("全年预算数184万元，决算支出178.84万元", "全年预算数184万元，决算支出187.84万元", "narrative-fujian-amount-mismatch"),
        ("年初预算2314.68万元，年内调增496.25万元", "年初预算2314.68万元，年内调增469.25万元",
         "narrative-fujian-amount-mismatch"),
    ]:
        assert right in part5, right
        found = [f for f in check_narrative(part5.replace(right, wrong, 1), seed) if f.code in mine]
        assert [f.code for f in found] == [code], wrong
    graded = check_narrative("经自评，部门整体支出绩效自评得分96.08分，自评等级为“良”。", seed)
    assert [(f.code, f.expected) for f in graded if f.code in mine] == [("narrative-grade-mismatch", "优")]
