"""Per-unit feedback the office sends back after a collect: status, the problems of the unit's
current report (where, what, what to do) and the other files received, one HTML and one xlsx file
per unit (``CODE-反馈.html``, ``CODE-反馈.xlsx``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.clock import now, shown
from ..core.findings import ERROR, INFO, SEVERITY_ZH, WARNING, Finding, sort_findings
from ..core.fsutil import atomic_write_text
from ..xlsx.simple import SimpleSheet, write_simple
from .collect import (
    AGGREGATE,
    ATTACH,
    DEPT_FORMS,
    DUP,
    ERR,
    MISSING,
    PASS,
    TEMPLATE,
    UNREADABLE,
    WARN,
    WRONG_UNIT,
    UnitRow,
    UnitTree,
    jinja_env,
    unit_report,
)
from .store import Store
from .units import safe_filename

WHAT_TO_DO = {
    PASS: "报表已通过审核，无需再报送。",
    WARN: "报表已收录。请逐条核对下列提示：确有原因的，在“审核”表的“差异说明”栏写明理由；填错的，改正后重新报送整份工作簿。",
    ERR: "报表未通过审核。请按下列各条逐一改正（位置栏是要改的单元格），改正后重新报送整份工作簿。",
    MISSING: "尚未收到贵单位的报表，请用下发的模板填报后尽快报送。",
    UNREADABLE: "收到的文件无法读取（不是下发的 Excel 模板，或文件已损坏）。请用下发的模板填报，另存为 .xlsx 后重新报送。",
    TEMPLATE: "收到的工作簿不是本轮下发的模板版本。请用本轮下发的新模板重新填报后报送。",
    WRONG_UNIT: "收到的工作簿属于另一单位（可能发错了文件）。请报送贵单位自己的工作簿。",
    DUP: "收到的文件与此前已收录的完全相同，未作为新的报送。",
    ATTACH: "只收到附件，尚未收到报表工作簿。",
    AGGREGATE: "本单位为汇总单位，不单独填报。",
    DEPT_FORMS: "已收到部门自己的附件1–3（汇总工作簿），汇总与发布时采用。",
}

def advice(f: Finding) -> str:
    """What to do about a finding: the catalogue's advice for its code (generator/core/codes.py)."""
    return f.advice


@dataclass
class UnitFeedback:
    code: str
    name: str
    status: str
    what_to_do: str
    current: dict[str, Any] | None
    findings: list[dict[str, str]] = field(default_factory=list)
    beside: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    review: str = ""  # 审核：已审核 / 已退回（原因） / 待审核 …, when the round reviews
    returned: list[dict[str, str]] = field(default_factory=list)  # 退回意见 at cells


def _review_lines(fb: UnitFeedback, st: Any) -> None:
    """The reviewer's word on the current report (see :mod:`.review`): the state, and for a return
    its reason and the notes at cells, first in the list of what to change."""
    if st is None or st.state in ("not-submitted", "aggregate"):
        return
    fb.review = st.label + (f"（{st.reviewer}，{shown(st.at)}）" if st.at else "") + (f"：{st.note}" if st.note else "")
    if st.state == "returned":
        fb.what_to_do = f"报表已被退回：{st.reason}。请按退回意见改正后重新报送整份工作簿。"
        fb.returned = [{"severity": ERROR, "severity_zh": "退回意见", "cell": c["cell"], "key": "", "message": c["note"] or st.reason,
                        "expected": "", "actual": "", "advice": "按退回意见核对、改正", "check_cell": "", "code": "review-returned"}
                       for c in st.cells] or [{"severity": ERROR, "severity_zh": "退回意见", "cell": "", "key": "",
                                               "message": st.reason, "expected": "", "actual": "",
                                               "advice": "按退回意见改正", "check_cell": "", "code": "review-returned"}]
        fb.findings = fb.returned + fb.findings
    elif st.state == "approved":
        fb.what_to_do = "报表已审核通过，无需再报送。"


def _finding_row(f: Finding) -> dict[str, str]:
    where = f.cell or ""
    key = []
    if f.table:
        key.append(f.table)
    if f.row:
        key.append(f"行/科目 {f.row}")
    if f.col:
        key.append(f"栏 {f.col}")
    check = f.extra.get("check_cell") if f.extra else None
    return {"severity": f.severity, "severity_zh": SEVERITY_ZH.get(f.severity, f.severity), "cell": where,
            "key": " ".join(key), "message": f"{f.title}：{f.message}", "expected": f.expected or "", "actual": f.actual or "",
            "advice": advice(f), "check_cell": str(check or ""), "code": f.code}


def unit_feedback(store: Store, row: UnitRow) -> UnitFeedback:
    fb = UnitFeedback(row.code, row.name, row.status, WHAT_TO_DO.get(row.status, ""), row.current,
                      counts={"errors": row.errors, "warnings": row.warnings, "infos": row.infos})
    sub = row.latest
    if sub is not None:
        fs = store.findings(sub["duplicate_of"] or sub["id"])
        fb.findings = [_finding_row(f) for f in sort_findings(fs)]
    for s in row.beside:
        if row.current is not None and s["id"] == row.current["id"]:
            continue
        first = next((f for f in sort_findings(store.findings(s["id"])) if f.severity != INFO), None)
        fb.beside.append({"path": s["path"], "status": s["status"], "received": shown(s["received"]),
                          "why": first.message if first else ""})
    return fb


def feedback(store: Store, tree: UnitTree, outdir: Path, units: list[str] | None = None) -> list[Path]:
    """Write ``CODE-反馈.html`` and ``CODE-反馈.xlsx`` for every unit of the tree (or ``units``)
    that reports on its own; returns the files written."""
    from .review import states

    rep = unit_report(store, tree)
    created = shown(now())
    env = jinja_env()
    written: list[Path] = []
    reviewed = {st.code: st for st in states(store, tree)} if store.reviews() else {}
    for row in rep.rows:
        if row.status == AGGREGATE or (units and row.code not in units):
            continue
        fb = unit_feedback(store, row)
        _review_lines(fb, reviewed.get(row.code))
        stem = f"{safe_filename(row.code)}-反馈"
        html = outdir / f"{stem}.html"
        atomic_write_text(html, env.get_template("feedback.html.j2").render(
            fb=fb, created=created, spec_version=rep.spec_version, title=f"{fb.code} {fb.name} 决算公开表审核反馈"))
        xlsx = outdir / f"{stem}.xlsx"
        write_simple(xlsx, [_sheet(fb, created)])
        written += [html, xlsx]
    return written


def _sheet(fb: UnitFeedback, created: str) -> SimpleSheet:
    cur = fb.current
    lines = [f"状态：{fb.status}", *([f"审核：{fb.review}"] if fb.review else []), f"要做的事：{fb.what_to_do}"]
    if cur is not None:
        lines.append(f"当前报送：{cur['path']}（收到于 {shown(cur['received'])}）；错误 {fb.counts['errors']} 条，"
                     f"提示 {fb.counts['warnings']} 条，信息 {fb.counts['infos']} 条")
    for b in fb.beside:
        lines.append(f"另收文件：{b['path']}（{b['status']}，{b['received']}）{b['why']}")
    lines.append(f"生成于 {created}")
    sh = SimpleSheet("反馈", f"{fb.code} {fb.name} 决算公开表审核反馈", lines,
                     ["序号", "级别", "位置", "表/科目/栏", "问题", "应为", "实际", "怎么改"],
                     [[str(i + 1), f["severity_zh"], f["cell"], f["key"], f["message"], f["expected"], f["actual"],
                       f["advice"]] for i, f in enumerate(fb.findings)],
                     [6, 6, 16, 22, 60, 14, 14, 40],
                     [f["severity"] if f["severity"] in (ERROR, WARNING) else "" for f in fb.findings])
    return sh


__all__ = ["feedback", "unit_feedback", "advice", "WHAT_TO_DO"]
