"""A round's units as the office sees them: each unit's status, current and earlier submissions
(:func:`unit_report`), as a terminal table, CSV and HTML (collect-report.*)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.clock import shown
from ..core.findings import Finding, printable, sort_findings, visible
from ..core.fsutil import atomic_write_bytes, atomic_write_text
from ..core.layout import TEMPLATES, text_width
from .statuses import (
    AGGREGATE,
    ATTACH,
    DEPT_FORMS,
    ERR,
    MISSING,
    STATUS_CLASS,
    STATUS_ORDER,
)
from .store import LIGHT_COLUMNS, Store, now
from .tree import UnitTree

# ---------------------------------------------------------------- per-unit status


@dataclass
class UnitRow:
    code: str
    name: str
    parent: str
    depth: int
    has_children: bool
    status: str
    latest: dict[str, Any] | None = None  # the submission the status is about (the current one, if any)
    current: dict[str, Any] | None = None  # the latest accepted one
    history: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0
    warnings: int = 0
    infos: int = 0
    anchor: str = ""
    beside: list[dict[str, Any]] = field(default_factory=list)  # files that are not its report: 附件, 未变, 无法读取 …

    @property
    def done(self) -> bool:
        """Has a current submission without errors (or is only a 汇总 node)."""
        if self.status == AGGREGATE:
            return True
        return self.current is not None and self.current["status"] != ERR


@dataclass
class UnitReport:
    rows: list[UnitRow]
    others: list[dict[str, Any]]  # files counted for no unit of the units file
    counts: dict[str, int]
    spec_version: str
    spec_hash: str
    created: str

    @property
    def ok(self) -> bool:
        return all(r.done for r in self.rows) and not [s for s in self.others if s["status"] != ATTACH]


def unit_report(store: Store, tree: UnitTree) -> UnitReport:
    """Each unit's status is that of its current submission: the latest accepted (通过/有提示/有错误)
    file in order of receipt. Files that are not a report of the unit (attachments, unreadable
    files, a copy of a file already received, another unit's workbook sent under its name) are
    listed beside it and never replace its current report; only a unit without any current report
    takes the status of its latest such file (an attachment alone leaves it 未报送)."""
    subs = [dict(s) for s in store.submissions(columns=LIGHT_COLUMNS)]  # without doc: store.doc(id) when needed
    by_unit: dict[str, list[dict[str, Any]]] = {}
    others = []
    for s in subs:
        if s["unit"] in tree.units:
            by_unit.setdefault(s["unit"], []).append(s)
        else:
            others.append(s)
    rows: list[UnitRow] = []
    for i, (code, depth) in enumerate(tree.walk()):
        u = tree.units[code]
        hist = by_unit.get(code, [])  # ordered by (run, seq)
        has_children = bool(tree.kids(code))
        row = UnitRow(code, u.name, u.parent, depth, has_children, MISSING, history=hist, anchor=f"u{i}")
        accepted = [s for s in hist if s["accepted"]]
        row.current = accepted[-1] if accepted else None
        row.beside = [s for s in hist if not s["accepted"]]
        if row.current is not None:
            row.latest = row.current
            row.status = row.current["status"]
        else:
            reports = [s for s in hist if s["status"] not in (ATTACH, DEPT_FORMS)]
            if reports:
                row.latest = reports[-1]
                row.status = reports[-1]["status"]
            elif tree.is_aggregate(code):
                row.status = AGGREGATE
        if row.latest is not None:
            row.errors, row.warnings, row.infos = row.latest["errors"], row.latest["warnings"], row.latest["infos"]
        rows.append(row)
    counts = {s: 0 for s in STATUS_ORDER}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return UnitReport(rows, others, counts, store.get_meta("spec_version") or "", store.get_meta("spec_hash") or "",
                      shown(now()))


# ---------------------------------------------------------------- reports: terminal, CSV, HTML



def pad(s: str, width: int) -> str:
    return s + " " * max(0, width - text_width(s))


def render_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max([text_width(h)] + [text_width(r[i]) for r in rows]) for i, h in enumerate(header)]
    lines = ["  ".join(pad(h, w) for h, w in zip(header, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


REPORT_HEADER = ["单位代码", "单位名称", "上级单位", "层级", "状态", "当前报送", "错误", "提示", "信息", "报送次数", "文件", "收到时间",
                 "另收文件"]


def beside_text(r: UnitRow) -> str:
    """The files received for a unit that are not its report, for one table cell."""
    return "；".join(f"{Path(s['path']).name}（{s['status']}）" for s in r.beside)


def report_cells(r: UnitRow) -> list[str]:
    cur = r.current
    current = f"#{cur['id']} {cur['status']}" if cur else "—"
    latest = r.latest
    return [r.code, r.name, r.parent, str(r.depth + 1), r.status, current, str(r.errors), str(r.warnings), str(r.infos),
            str(len(r.history)), latest["path"] if latest else "", shown(latest["received"]) if latest else "",
            beside_text(r)]


def terminal_table(rep: UnitReport) -> str:
    rows = []
    for r in rep.rows:
        # names from files and folders: every cell one line, no escape sequence reaches the terminal
        cells = [printable(c) for c in report_cells(r)]
        cells[1] = "  " * r.depth + cells[1]
        rows.append([cells[0], cells[1], cells[4], cells[5], cells[6], cells[7], cells[8], cells[9], cells[10]])
        if r.beside:
            rows[-1].append(printable(beside_text(r)))
    text = render_table(["单位代码", "单位名称", "状态", "当前报送", "错误", "提示", "信息", "次数", "文件", "另收文件"],
                        [row + [""] * (10 - len(row)) for row in rows])
    summary = "，".join(f"{s} {n}" for s, n in rep.counts.items() if n)
    text += f"\n共 {len(rep.rows)} 个单位：{summary}"
    if rep.others:
        text += f"\n另有 {len(rep.others)} 个文件不属于清单中的任何单位或无法识别（见报告“其他文件”）"
    return text


def csv_safe(value: Any) -> str:
    """A cell a spreadsheet will never take for a formula: text starting with = + - @ (or a tab or
    carriage return) gets a leading single quote."""
    s = visible("" if value is None else str(value))  # an ESC from a file name is shown, not written raw
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def report_csv(rep: UnitReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(REPORT_HEADER)
    for r in rep.rows:
        w.writerow([csv_safe(c) for c in report_cells(r)])
    for s in rep.others:
        w.writerow([csv_safe(c) for c in [s["unit_code"], s["unit_name"], "", "", s["status"], "", s["errors"],
                                          s["warnings"], s["infos"], 1, s["path"], shown(s["received"]), ""]])
    return buf.getvalue()


def safe_text(value: Any) -> Any:
    """Jinja's finalize: a plain text shown without raw control characters (Markup left as it is)."""
    return visible(value) if isinstance(value, str) and not hasattr(value, "__html__") else value


def jinja_env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["status_class"] = lambda s: STATUS_CLASS.get(s, "other")
    env.filters["when"] = shown
    env.finalize = safe_text  # no raw control characters in a report
    return env


def _finding_view(f: Finding) -> dict[str, Any]:
    from ..core.findings import SEVERITY_ZH

    return {"severity": f.severity, "severity_zh": SEVERITY_ZH.get(f.severity, f.severity), "code": f.code,
            "title": f.title, "advice": f.advice, "location": f.location(), "message": f.message, "expected": f.expected, "actual": f.actual}


class _UnitView:
    """One unit of the HTML report; its findings are read from the store when the template gets to
    them, so a round's report is rendered unit by unit and never held whole in memory."""

    def __init__(self, store: Store, row: UnitRow):
        self.store, self.row = store, row

    @property
    def cells(self) -> list[str]:
        return report_cells(self.row)

    @property
    def shown(self) -> Iterator[dict[str, Any]]:
        r, store = self.row, self.store
        for s in ([r.latest] if r.latest else []) + ([r.current] if r.current and r.current is not r.latest else []):
            sid = s["duplicate_of"] or s["id"]
            fs = sort_findings(store.findings(s["id"]) + (store.findings(sid) if sid != s["id"] else []))
            yield {"sub": s, "findings": [_finding_view(f) for f in fs]}


class _UnitViews:
    """The report's units, iterable as often as the template walks them (summary, then details)."""

    def __init__(self, store: Store, rep: UnitReport):
        self.store, self.rep = store, rep

    def __iter__(self) -> Iterator[_UnitView]:
        return (_UnitView(self.store, r) for r in self.rep.rows)


def report_html_chunks(store: Store, rep: UnitReport, title: str = "决算公开表收集情况",
                       notice: str | None = None) -> Iterator[str]:
    """The collect report as HTML, in chunks as the template renders them (streamed to the file);
    ``notice``: a banner above everything (the office's set-up, e.g. no key of its own)."""
    others = [{"sub": s, "findings": [_finding_view(f) for f in sort_findings(store.findings(s["id"]))]}
              for s in rep.others]
    return jinja_env().get_template("collect_report.html.j2").generate(
        title=title, rep=rep, units=_UnitViews(store, rep), others=others, header=REPORT_HEADER, statuses=STATUS_ORDER,
        notice=notice)


def report_html(store: Store, rep: UnitReport, title: str = "决算公开表收集情况", notice: str | None = None) -> str:
    return "".join(report_html_chunks(store, rep, title, notice))


def write_reports(store: Store, rep: UnitReport, outdir: Path, stem: str = "collect-report",
                  notice: str | None = None) -> tuple[Path, Path]:
    html = outdir / f"{stem}.html"
    csv_path = outdir / f"{stem}.csv"
    atomic_write_text(html, report_html_chunks(store, rep, notice=notice))
    atomic_write_bytes(csv_path, report_csv(rep).encode("utf-8-sig"))
    return html, csv_path
