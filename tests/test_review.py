"""Review and approval up the tree (issue 27): a round of three levels — units → two departments →
the 财政局 — run through the CLI inside the round. Returns with reasons at cells, a resubmission,
approvals, each department's 汇总 submitted and approved at the top, and the 财政局's 汇总 equal to
the sum of the approved units' figures; a returned or unapproved unit's figures never in a final
汇总, only in a draft marked 草稿."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.core.dataset import load_dataset
from generator.core.model import Figures
from generator.core.resources import specs_root
from generator.office.collect import ERR, PASS, UnitRow
from generator.office.consolidate import summable
from generator.office.review import APPROVE, RETURN, review_state
from generator.office.round import open_round
from generator.xlsx.writer import build_workbook

SAMPLES = specs_root() / "samples"
TOP, DEPT_A, DEPT_B = "4301", "430100", "430200"
UNITS = {  # code: (name, parent, sample data)
    "430100000": ("甲局本级", DEPT_A, "unit-430100000.json"),
    "430100001": ("甲局服务中心", DEPT_A, "unit-430100001.json"),
    "430100002": ("甲局研究所", DEPT_A, "unit-430100002.json"),
    "430200001": ("乙局本级", DEPT_B, "unit-430100002.json"),
    "430200002": ("乙局服务站", DEPT_B, "unit-430100000.json"),
}


def run(*args: str, code: int = 0) -> str:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == code, f"juesuan {' '.join(args)} → {res.exit_code}\n{res.output}{res.exception!r}"
    return res.output


def status() -> dict[str, dict[str, Any]]:
    res = CliRunner().invoke(cli, ["status", "--json", "--today", "2025-04-10"])
    assert res.exit_code in (0, 1), res.output
    return {u["code"]: u for u in json.loads(res.output)["units"]}


def _data(code: str, extra_note: str = ""):  # type: ignore[no-untyped-def]
    name, _parent, src = UNITS[code]
    ds = load_dataset(SAMPLES / src)
    ds.unit_code, ds.unit_name = code, name
    if extra_note:  # a corrected resubmission: other content
        ds.cover = {**ds.cover, "填表人": extra_note}
    return ds


def _inputs_sum(codes: list[str], spec: Any) -> dict[str, Any]:
    acc: dict[str, dict[str, dict[str, Decimal]]] = {}
    for c in codes:
        for t, rows in summable(spec, _data(c).values).items():
            for r, cols in rows.items():
                for k, v in cols.items():
                    cell = acc.setdefault(t, {}).setdefault(r, {})
                    cell[k] = cell.get(k, Decimal(0)) + v
    return Figures(spec, acc).all_values()


def _consolidated(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {t: {r: {c: Decimal(v) for c, v in cols.items()} for r, cols in rows.items()} for t, rows in doc["values"].items()}


def _key_totals(values: dict[str, Any]) -> dict[tuple[str, str, str], Decimal]:
    """The figures a 汇总 is judged by: every figure of 公开01, 公开03 and 公开09."""
    return {(t, r, c): v for t in ("公开01", "公开03", "公开09") for r, cols in values.get(t, {}).items() for c, v in cols.items()}


@pytest.fixture()
def round_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("JUESUAN_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    run("init", "r", "--year", "2024")
    rnd = tmp_path / "r"
    units = tmp_path / "units.csv"
    with units.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "parent", "kind"])
        w.writerow([TOP, "示范市财政局", "", "汇总"])
        w.writerow([DEPT_A, "甲局", TOP, "汇总"])
        w.writerow([DEPT_B, "乙局", TOP, "汇总"])
        for code, (name, parent, _src) in UNITS.items():
            w.writerow([code, name, parent, ""])
    monkeypatch.chdir(rnd)
    run("units", "set", str(units))
    run("round", "deadline", "2025-03-31")
    r = open_round(rnd)
    spec, key = r.spec(), r.key()
    for code in UNITS:
        build_workbook(spec, _data(code), rnd / "returned" / f"{code}.xlsx", key)
    run("collect")
    return rnd


@pytest.mark.slow
def test_three_levels_returns_resubmission_approval_and_the_top_sum(round_dir: Path) -> None:
    spec = open_round(round_dir).spec()
    st = status()
    assert {c: st[c]["review"] for c in UNITS} == {c: "pending" for c in UNITS}
    assert st[TOP]["review"] == "aggregate" and st[DEPT_A]["review"] == "aggregate"
    assert all(st[c]["days"] == 0 or st[c]["days"] is not None for c in UNITS)

    # the department returns one unit, with reasons at two cells; approves the others
    out = run("review", "430100001", "--return", "公开05 与公开03 不符，请核对", "--cell", "公开05表!D10:应为 975.45",
              "--cell", "公开03表!D10", "--reviewer", "甲局 张三")
    assert "已退回" in out and "公开05表!D10：应为 975.45" in out
    for c in ("430100000", "430100002"):
        run("review", c, "--approve", "--reviewer", "甲局 张三")
    st = status()
    assert st["430100001"]["review"] == "returned" and st["430100001"]["reason"] == "公开05 与公开03 不符，请核对"
    assert st["430100001"]["cells"] == [{"cell": "公开05表!D10", "note": "应为 975.45"}, {"cell": "公开03表!D10", "note": ""}]
    assert st["430100000"]["review"] == "approved" and st["430100000"]["reviewer"] == "甲局 张三"
    assert "已审核通过" in run("review", "430100000", "--approve", code=2)  # never twice
    # the unit's feedback carries the 退回意见, first, at their cells (HTML and xlsx)
    run("feedback", "--unit", "430100001")
    html = (round_dir / "out" / "反馈" / "430100001-反馈.html").read_text(encoding="utf-8")
    assert "审核：已退回（甲局 张三" in html and "报表已被退回：公开05 与公开03 不符，请核对" in html
    assert html.index("公开05表!D10") < html.index("应为 975.45") and "review-returned" not in html.split("<tbody>")[0]
    import openpyxl

    ws = openpyxl.load_workbook(round_dir / "out" / "反馈" / "430100001-反馈.xlsx").active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert ["1", "退回意见", "公开05表!D10"] == [str(v) for v in next(r for r in rows if r[1] == "退回意见")[:3]]
    assert "须写明原因" in run("review", "430100002", "--return", " ", code=2)

    # the final 汇总 of 甲局 holds the approved units only; a draft holds all, marked 草稿, never sent up
    out = run("consolidate", DEPT_A)
    assert "430100001 甲局服务中心：未纳入" in out and "未经审核通过" in out and "未提交上级" in out
    first = _consolidated(round_dir / "out" / f"{DEPT_A}-汇总.json")
    assert _key_totals(first) == _key_totals(_inputs_sum(["430100000", "430100002"], spec))
    out = run("consolidate", DEPT_A, "--include-unapproved", "-o", str(round_dir / "out" / "draft.xlsx"))
    assert "这是草稿" in out and "提交上级审核" not in out
    draft = json.loads((round_dir / "out" / "draft.json").read_text(encoding="utf-8"))
    assert draft["draft"] is True and len(draft["consolidated_units"]) == 3
    from generator.xlsx.ooxml import open_xlsx

    cover = open_xlsx(round_dir / "out" / "draft.xlsx").sheet("封面")
    assert cover is not None and "草稿" in str(cover.cells[(0, 0)].value)
    assert "consolidate-draft" in out
    # a draft sent in as a report is refused (a 汇总 of a unit with subordinates here, and a draft)
    (round_dir / "returned" / "甲局-草稿.xlsx").write_bytes((round_dir / "out" / "draft.xlsx").read_bytes())
    run("collect", code=1)  # 甲局 单位不符: never its report
    with open_round(round_dir).store(create=False) as store:
        sub = next(s for s in store.submissions() if s["path"] == "甲局-草稿.xlsx")
        codes = {f.code for f in store.findings(sub["id"])}
        assert not sub["accepted"] and {"consolidated-report", "draft-consolidation", "consolidated-workbook"} <= codes
    (round_dir / "returned" / "甲局-草稿.xlsx").unlink()

    # the unit corrects and sends again: pending once more, and it says so; then approved
    build_workbook(spec, _data("430100001", "李四（更正）"), round_dir / "returned" / "430100001-更正.xlsx",
                   open_round(round_dir).key())
    run("collect", code=1)  # 甲局 is still 单位不符 (the draft sent in), until its own 汇总 goes up
    st = status()
    assert st["430100001"]["review"] == "pending" and "上一份报送" in st["430100001"]["note"] and "已退回" in st["430100001"]["note"]
    run("review", "430100001", "--approve", "--reviewer", "甲局 张三")
    for c in ("430200001", "430200002"):
        run("review", c, "--approve", "--reviewer", "乙局 王五")

    # each department's final 汇总 goes up as its report, to be approved by the 财政局
    out_a = run("consolidate", DEPT_A)
    out_b = run("consolidate", DEPT_B)
    assert "提交上级审核" in out_a and "提交上级审核" in out_b
    with open_round(round_dir).store(create=False) as store:
        level = next(s for s in store.submissions() if s["unit"] == DEPT_A and s["accepted"])
        assert "consolidation-submitted" in {f.code for f in store.findings(level["id"])}
    st = status()
    assert st[DEPT_A]["review"] == "pending" and st[DEPT_B]["review"] == "pending"
    assert "尚未" not in run("review", DEPT_A, "--approve", "--reviewer", "财政局 赵六")
    # 乙局 not yet approved: the 财政局's final 汇总 holds 甲局 only
    run("consolidate", TOP)
    top = _consolidated(round_dir / "out" / f"{TOP}-汇总.json")
    assert _key_totals(top) == _key_totals(_inputs_sum(["430100000", "430100001", "430100002"], spec))
    run("review", DEPT_B, "--approve", "--reviewer", "财政局 赵六")
    run("consolidate", TOP)
    top = _consolidated(round_dir / "out" / f"{TOP}-汇总.json")
    assert _key_totals(top) == _key_totals(_inputs_sum(list(UNITS), spec))
    st = status()
    assert {c: st[c]["review"] for c in [*UNITS, DEPT_A, DEPT_B]} == {c: "approved" for c in [*UNITS, DEPT_A, DEPT_B]}
    assert "共 7 个报送单位：已审核 7" in run("status", "--today", "2025-04-10")


@pytest.mark.slow
def test_status_counts_the_days_against_the_deadline(round_dir: Path) -> None:
    run("review", "430100001", "--return", "请补充说明")
    (round_dir / "returned" / "430200002.xlsx").unlink()
    res = CliRunner().invoke(cli, ["status", "--json", "--today", "2025-04-10"])
    doc = json.loads(res.output)
    assert res.exit_code == 1 and doc["deadline"] == "2025-03-31"
    # collected files stay in the database: every unit has a report; a new, empty unit would be late
    units = {u["code"]: u for u in doc["units"]}
    assert units["430100001"]["review"] == "returned" and units["430100001"]["days"] is not None
    text = run("status", "--today", "2025-04-10", code=1)
    assert "原因：请补充说明" in text and "截止日期 2025-03-31" in text and "待审核：" in text


def _row(status: str, sid: int | None) -> UnitRow:
    cur = {"id": sid, "sha256": f"h{sid}", "received": "2025-03-01T10:00:00+08:00", "status": status} if sid else None
    return UnitRow("430100001", "单位", "430100", 1, False, status, current=cur)


def test_review_state_is_a_function_of_the_current_report_and_the_actions() -> None:
    def act(i: int, sid: int, action: str) -> dict[str, Any]:
        return {"id": i, "submission_id": sid, "action": action, "reviewer": "张三", "reviewer_unit": "430100",
                "at": "2025-03-02T09:00:00+08:00", "reason": "原因" if action == RETURN else "", "cells": []}

    assert review_state(_row("未报送", None), []).state == "not-submitted"
    assert review_state(_row(ERR, 5), []).state == "has-errors"
    assert review_state(_row(PASS, 5), []).state == "pending"
    assert review_state(_row(PASS, 5), [act(1, 5, APPROVE)]).state == "approved"
    assert review_state(_row(PASS, 5), [act(1, 5, APPROVE), act(2, 5, RETURN)]).state == "returned"
    again = review_state(_row(PASS, 6), [act(1, 5, APPROVE)])  # a new report after an approval
    assert again.state == "pending" and "#5 已审核通过" in again.note
    after_return = review_state(_row(ERR, 7), [act(1, 6, RETURN)])
    assert after_return.state == "has-errors" and "#6 已退回" in after_return.note


@pytest.mark.slow
def test_publishing_a_summary_takes_approved_reports_or_is_a_draft(round_dir: Path) -> None:
    """publish PARENT in a round: the 汇总 of approved reports; units not yet approved are named and
    stop it; --include-unapproved is a draft, refused unless --force, then 草稿 on every page."""
    run("review", "430100000", "--approve")
    run("review", "430100002", "--approve")
    res = CliRunner().invoke(cli, ["publish", DEPT_A, "--format", "html"])
    assert res.exit_code == 1 and "430100001 甲局服务中心（报送 #" in res.output and "未经审核通过" in res.output
    res = CliRunner().invoke(cli, ["publish", DEPT_A, "--format", "html", "--include-unapproved"])
    assert res.exit_code == 1 and "publish-draft" in res.output and "未输出报告" in res.output
    res = CliRunner().invoke(cli, ["publish", DEPT_A, "--format", "html,docx", "--include-unapproved", "--force",
                                   "-o", str(round_dir / "out" / "draft")])
    html = next((round_dir / "out" / "draft").glob("*.html")).read_text(encoding="utf-8")
    assert 'id="draft-mark"' in html and "<title>（草稿）" in html
    from docx import Document

    doc = Document(str(next((round_dir / "out" / "draft").glob("*.docx"))))
    assert all("草稿" in sec.header.paragraphs[0].text for sec in doc.sections)
    run("review", "430100001", "--approve")
    res = CliRunner().invoke(cli, ["publish", DEPT_A, "--format", "html", "-o", str(round_dir / "out" / "final")])
    assert "publish-draft" not in res.output and "未经审核通过" not in res.output
    html = next((round_dir / "out" / "final").glob("*.html")).read_text(encoding="utf-8")
    assert 'id="draft-mark"' not in html and "（草稿）" not in html
