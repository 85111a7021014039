"""汇总: sum the current submissions of a unit tree, level by level, into a workbook of the same template.

A level is a unit with subordinate units. Its figures are its own current submission (its 本级
report, when it has one) plus the consolidated figures of each child, so every intermediate level
exists and is checked on the way up. Only input figures are summed (exact Decimal); derived figures
are recomputed from the sums by the spec's formulas. 科目 rows are the union of the units' rows.
A unit whose current submission has errors is left out unless ``include_errors``; a unit with no
current submission (未报送, or only unusable files) is left out and reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..core.clock import shown
from ..core.dataset import Dataset, Values
from ..core.findings import ERROR, INFO, WARNING, Finding, sort_findings, stats
from ..core.fsutil import atomic_write_text
from ..core.layout import DRAFT, SUMMARY
from ..core.model import Figures, is_formula_figure
from ..core.money import fmt
from ..core.rules import evaluate_rules, expand_rules, rule_findings, statement_left
from ..core.spec import Spec, Table
from .collect import (
    AGGREGATE,
    ERR,
    LEVEL_PATH,
    MISSING,
    UnitReport,
    UnitTree,
    jinja_env,
    refresh_statuses,
    unfinished_collect,
    unit_report,
)
from .store import Store


class ConsolidateError(Exception):
    """Nothing can be consolidated (unknown unit, …); message in Chinese."""


class UnfinishedCollect(ConsolidateError):
    """The last collect did not finish (or is running): the database may lack files of the folder."""

    def __init__(self, finding: Finding, allowable: bool):
        hint = "；确认只按数据库现有的报送汇总，可选择“仍按现有的数汇总”（命令行 --allow-unfinished）" if allowable else ""
        super().__init__(finding.message + hint)
        self.finding = finding
        self.allowable = allowable  # False while a collect is running: never consolidated over


@dataclass
class Member:
    unit: str
    name: str
    depth: int  # below the consolidated unit (0 = the unit itself)
    node: str  # the level its own figures are first summed into
    submission: dict[str, Any] | None
    included: bool
    reason: str  # why it is left out (or "" when included)
    status: str


@dataclass
class Level:
    code: str
    name: str
    depth: int
    units: list[str] = field(default_factory=list)  # included units in this subtree
    excluded: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=dict)

    @property
    def stats(self) -> dict[str, int]:
        return stats(self.findings)


SUMMARY_FIGURES = ("收支总计", "财政拨款收支总计", "一般公共预算财政拨款支出", "一般公共预算财政拨款基本支出",
                   "“三公”经费决算数")
"""The figures a 汇总 level shows, by the names of the spec's figures: map (those the format names)."""


@dataclass
class Consolidation:
    parent: str
    name: str
    spec: Spec
    include_errors: bool
    members: list[Member]
    levels: list[Level]  # top-down (tree order)
    dataset: Dataset  # the consolidated unit: identity, input figures, names, notes
    values: Values  # every figure, derived ones recomputed
    findings: list[Finding] = field(default_factory=list)  # about the consolidation itself
    forms_submission: int | None = None  # the department's own 附件1–3: its returned 汇总 workbook (id)
    draft: bool = False  # unapproved reports summed in (草稿: never sent up, never published as final)

    @property
    def included(self) -> list[Member]:
        return [m for m in self.members if m.included]

    @property
    def excluded(self) -> list[Member]:
        """Units left out (an aggregate-only node with no own report is not one)."""
        return [m for m in self.members if not m.included and m.reason]

    def all_findings(self) -> list[Finding]:
        return self.findings + [f for lv in self.levels for f in lv.findings]


def add_values(acc: Values, values: Values) -> None:
    for t, rows in values.items():
        at = acc.setdefault(t, {})
        for r, cols in rows.items():
            ar = at.setdefault(r, {})
            for c, v in cols.items():
                ar[c] = ar.get(c, Decimal(0)) + v


def form_tables(spec: Spec) -> set[str]:
    """The 附件 forms (附件1–3, ``kind: form``): a department's own, never a sum of its units'."""
    return {t.id for t in spec.tables.values() if t.kind == "form"}


def summable(spec: Spec, values: Values) -> Values:
    """The figures a 汇总 adds up: every table but the 附件 forms (附件1–3 describe the department as
    a whole — its 编制, its 三公 budget, its own 绩效自评 — so a sum over the units that happened to
    fill them is nobody's; the department's own forms come from its returned 汇总 workbook:
    :func:`department_forms`) and those listed per unit (``consolidate: list``)."""
    forms = form_tables(spec)
    return {t: rows for t, rows in values.items()
            if t not in spec.tables or (t not in forms and spec.tables[t].consolidate != "list")}


def _nonzero(values: Values) -> dict[tuple[str, str, str], Decimal]:
    return {(t, r, c): v for t, rows in values.items() for r, cols in rows.items() for c, v in cols.items() if v != 0}


def department_forms(store: Store, spec: Spec, parent: str, sums: Values
                     ) -> tuple[Values, dict[str, dict[str, dict[str, str]]], int | None, Finding | None]:
    """The department's own 附件1–3 for the 汇总 of ``parent``: the forms of its 汇总 workbook sent
    back with them filled in (status 部门附件, the latest one), when the other figures of that
    workbook are still the 汇总's (``sums``); else none. Returns (form figures, form texts, the
    submission's id, a finding saying which it is; none for a format without forms)."""
    from .collect import DEPT_FORMS

    forms = form_tables(spec)
    if not forms:
        return {}, {}, None, None
    subs = store.submissions_with_status(parent, DEPT_FORMS)
    if not subs:
        return {}, {}, None, Finding(
            "consolidate-no-department-forms", INFO,
            "汇总不合计各单位的附件1–3；尚未收到部门自己的附件1–3（在汇总工作簿中填写附件后报回），汇总不含附件",
            extra={"unit": parent})
    sub = subs[-1]
    values = store.values(sub["id"], inputs_only=True)
    if _nonzero({t: r for t, r in values.items() if t not in forms}) != _nonzero(sums):
        return {}, {}, None, Finding(
            "department-forms-stale", WARNING,
            f"部门自己的附件1–3（报送 #{sub['id']} {sub['path']}）所在的汇总工作簿与当前汇总的数不一致（汇总后又有单位报送或改正），"
            "未采用；请用最新的汇总工作簿重新填写附件后报回", actual=str(sub["id"]), extra={"unit": parent})
    texts = {t: rows for t, rows in (store.doc(sub["id"]).get("texts") or {}).items() if t in forms}
    return ({t: rows for t, rows in values.items() if t in forms}, texts, sub["id"], Finding(
        "consolidate-department-forms", INFO,
        f"附件1–3 为部门自己填报的（报送 #{sub['id']} {sub['path']}），不是各单位之和", actual=str(sub["id"]), extra={"unit": parent}))


def is_level_report(sub: dict[str, Any] | None) -> bool:
    """Is this submission a 汇总 submitted by consolidate as its (汇总) unit's report?"""
    return sub is not None and str(sub["path"]).startswith(LEVEL_PATH)


def plan_members(rep: UnitReport, tree: UnitTree, parent: str, include_errors: bool,
                 approved: set[int] | None = None) -> list[Member]:
    """Every unit under ``parent`` (itself included), tree order, with whether it is summed in;
    with ``approved`` (the approved current submissions), a report not among them is left out, and
    a 汇总 unit below ``parent`` that submitted its level's 汇总 counts with that report (approved
    at this level) in place of its units'."""
    rows = {r.code: r for r in rep.rows}
    out = []
    covered: set[str] = set()  # units whose figures a level's submitted 汇总 already holds
    for code, depth in tree.walk(parent):
        r = rows[code]
        node = code if tree.kids(code) else tree.units[code].parent
        cur = r.current
        if tree.units[code].parent in covered:
            covered.add(code)
            out.append(Member(code, r.name, depth, node, None, False, "", r.status))
            continue
        if is_level_report(cur):
            if approved is not None and code != parent:
                covered.add(code)
                ok = cur is not None and cur["id"] in approved
                out.append(Member(code, r.name, depth, node, cur, ok, "" if ok else f"汇总报送 #{cur['id']} 未经审核通过",  # type: ignore[index]
                                  r.status))
                continue
            cur = None  # its own 汇总 is not summed again when its units are
        if cur is None:
            reason = "" if r.status == AGGREGATE or tree.is_aggregate(code) else (MISSING if r.status == MISSING else f"无可用报送（最近一次：{r.status}）")
            out.append(Member(code, r.name, depth, node, None, False, reason, r.status))
        elif cur["status"] == ERR and not include_errors:
            out.append(Member(code, r.name, depth, node, cur, False, f"报送 #{cur['id']} 有错误", r.status))
        elif approved is not None and cur["id"] not in approved:
            out.append(Member(code, r.name, depth, node, cur, False, f"报送 #{cur['id']} 未经审核通过", r.status))
        else:
            out.append(Member(code, r.name, depth, node, cur, True, "", r.status))
    return out


def _notes_for(spec: Spec, figures: Figures, name: str, n_units: int) -> dict[str, str]:
    """空表说明 of the consolidated unit: for each statement table that sums to nothing."""
    notes = {}
    for rule in spec.rules:
        if rule.kind == "statement" and rule.table and statement_left(spec, figures, rule.table) == 0:
            notes[rule.table] = f"说明：{name}汇总范围内的 {n_units} 个单位本表均无数据，故本表无数据。"
    return notes


def consolidate(store: Store, tree: UnitTree, spec: Spec, parent: str, include_errors: bool = False,
                rep: UnitReport | None = None, approval: str | None = None) -> Consolidation:
    """The 汇总 of ``parent``'s tree. ``approval``: None — every current report (no review in use);
    ``"approved"`` — approved reports only (the final 汇总 of a round with review);
    ``"draft"`` — every current report, marked 草稿."""
    if parent not in tree.units:
        raise ConsolidateError(f"单位 {parent} 不在单位清单中")
    rep = rep or unit_report(store, tree)
    approved = None
    if approval == "approved":
        from .review import approved_submissions

        approved = approved_submissions(store, tree)
    members = plan_members(rep, tree, parent, include_errors, approved)
    by_unit = {m.unit: m for m in members}
    fold = _Fold(store, spec, tree, parent, by_unit)
    for code, _ in reversed(tree.walk(parent)):  # every unit after all of its subordinates
        fold.unit(code)
    sums, levels, findings, names, inc_top = fold.sums, fold.levels, fold.findings, fold.names, fold.inc_top
    top = sums[parent]
    top_m = by_unit[parent]
    if not inc_top:
        raise ConsolidateError(f"单位 {parent} 及其下级单位没有可汇总的报送")
    forms, texts, forms_sid, forms_note = department_forms(store, spec, parent, top)
    if forms_note is not None:
        findings.append(forms_note)
    if forms:  # the department's own forms, judged with its 汇总 (the rules tie them to its totals)
        top = {**top, **forms}
        lv = levels[parent]
        levels[parent] = _judge_level(spec, Level(lv.code, lv.name, lv.depth, lv.units, lv.excluded), top)
    figures = Figures(spec, top)
    ds = Dataset(unit_code=parent, unit_name=top_m.name, year=spec.year, values=top, names=names,
                 notes=_notes_for(spec, figures, top_m.name, len(inc_top)), texts=texts, version=spec.version)
    for m in members:
        if not m.included and m.reason:
            code = "consolidate-unit-missing" if m.reason == MISSING else "consolidate-unit-excluded"
            # the unit is named in words and kept in extra, never shown as a 行/科目 of a table
            findings.append(Finding(code, WARNING, f"单位 {m.unit} {m.name} 未纳入汇总：{m.reason}", extra={"unit": m.unit}))
    ordered = [levels[c] for c, _ in tree.walk(parent) if c in levels]
    if approval == "draft":
        findings.insert(0, Finding("consolidate-draft", WARNING, "草稿：未经审核通过的报表也已汇总在内，本汇总只供查看，"
                                                                 "不得上报或公开"))
    return Consolidation(parent, top_m.name, spec, include_errors, members, ordered, ds, figures.all_values(), findings,
                         forms_sid, draft=approval == "draft")


class _Fold:
    """The walk up a tree: each unit's figures folded into its level's running total as soon as it is
    read, so memory holds one total per open level, not every unit's figures; the included/excluded
    units under each open level kept as the lists its subordinates handed up (in reverse walk order)
    and joined once per level, so a parent of n units costs O(n), not O(n²)."""

    def __init__(self, store: Store, spec: Spec, tree: UnitTree, parent: str, by_unit: dict[str, Member]):
        self.store, self.spec, self.tree, self.parent, self.by_unit = store, spec, tree, parent, by_unit
        self.sums: dict[str, Values] = {}
        self.names: dict[str, str] = {}
        self.included_under: dict[str, list[list[str]]] = {}
        self.excluded_under: dict[str, list[list[str]]] = {}
        self.levels: dict[str, Level] = {}
        self.findings: list[Finding] = []
        self.inc_top: list[str] = []

    def _own(self, code: str, acc: Values) -> tuple[list[str], list[str]]:
        """A unit's own report added to ``acc`` (its names kept, a name that differs noted): (included, excluded)."""
        m = self.by_unit[code]
        if m.included and m.submission is not None:
            add_values(acc, summable(self.spec, self.store.values(m.submission["id"], inputs_only=True)))
            doc = self.store.doc(m.submission["id"])
            for c, n in (doc.get("names") or {}).items():
                if c in self.names and self.names[c] != n:
                    self.findings.append(Finding("consolidate-name-conflict", INFO,
                                                 f"科目 {c} 在各单位的名称不一致（{self.names[c]} / {n}），汇总表用前者", row=c))
                self.names.setdefault(c, n)
            return [code], []
        return [], ([code] if m.status != AGGREGATE else [])

    def unit(self, code: str) -> None:
        """One unit, after all of its subordinates: its level judged, its total folded into the level above."""
        m, tree = self.by_unit[code], self.tree
        acc = self.sums.pop(code, None) or {}  # its subordinates' totals, folded in as they were done
        own_inc, own_exc = self._own(code, acc)
        inc = own_inc + [u for part in reversed(self.included_under.pop(code, [])) for u in part]
        exc = own_exc + [u for part in reversed(self.excluded_under.pop(code, [])) for u in part]
        if tree.kids(code) or code == self.parent:
            self.levels[code] = _judge_level(self.spec, Level(code, m.name, m.depth, list(inc), list(exc)), acc)
        if code == self.parent:
            self.sums[code], self.inc_top = acc, inc
        else:  # fold into the level above
            up = tree.units[code].parent
            add_values(self.sums.setdefault(up, {}), acc)
            self.included_under.setdefault(up, []).append(inc)
            self.excluded_under.setdefault(up, []).append(exc)


def _judge_level(spec: Spec, level: Level, acc: Values) -> Level:
    """A level's 审核 over its figures ``acc``, and its key totals."""
    figures = Figures(spec, acc)
    n = len(level.units)
    notes = _notes_for(spec, figures, level.name, n)
    results = evaluate_rules(spec, figures, notes, expand_rules(spec, figures.item_codes), max(1, n))
    for f in rule_findings(results, {}):
        extra = dict(f.extra)
        extra["level"] = level.code
        level.findings.append(Finding(f.code, f.severity, f"［{level.name}］{f.message}", f.table, f.row, f.col, None,
                                      f.expected, f.actual, f.rule, None, extra))
    level.totals = {name: _named(spec, figures, name) for name in SUMMARY_FIGURES if name in spec.figures}
    return level


def _named(spec: Spec, figures: Figures, name: str) -> Decimal:
    from ..core.expr import Context, compile_expr, evaluate

    return evaluate(compile_expr(spec.figures[name], spec, Context()), figures)


def consolidate_round(store: Store, tree: UnitTree, spec: Spec, parent: str, include_errors: bool = False,
                      allow_unfinished: bool = False, approval: str | None = None) -> Consolidation:
    """The 汇总 every face makes (``consolidate``, ``publish PARENT``, the web page): after a collect
    that did not finish it refuses (:class:`UnfinishedCollect`) unless ``allow_unfinished`` — while a
    collect is running, always — and an allowed one carries the ``collect-unfinished`` finding."""
    unfinished = unfinished_collect(store)
    if unfinished is not None and (unfinished.severity == ERROR or not allow_unfinished):
        raise UnfinishedCollect(unfinished, unfinished.severity != ERROR)
    cons = consolidate(store, tree, spec, parent, include_errors, approval=approval)
    if unfinished is not None:
        cons.findings.insert(0, unfinished)
    return cons


def incomplete_members(cons: Consolidation) -> list[Member]:
    """The units of a 汇总 that are missing (no current report) or unfinished (their report has
    errors, summed in or not): a 汇总 published over them is not the department's."""
    return [m for m in cons.members
            if (not m.included and m.reason) or (m.submission is not None and m.submission["status"] == ERR)]


@dataclass
class Outputs:
    workbook: Path
    data_file: Path | None
    report: Path | None
    readback: list[Finding]
    consolidation_id: int


def write_outputs(store: Store, cons: Consolidation, out: Path, json_path: Path | None = None,
                  report_path: Path | None = None, key: str | None = None, password: str | None = None) -> Outputs:
    """The consolidated workbook (same template, locked, formulas, the parent's identity), the data
    file (canonical JSON, every figure), the HTML report; the workbook is read back and checked."""
    from ..xlsx.reader import read_workbook
    from ..xlsx.writer import build_workbook

    res = build_workbook(cons.spec, cons.dataset, out, key, password, units=max(1, len(cons.included)),
                         kind=DRAFT if cons.draft else SUMMARY)
    cons.findings.extend(f for f in res.findings if f.severity != INFO)
    back = read_workbook(out, spec=cons.spec, key=key)
    readback = [f for f in back.findings if f.rule is None and f.severity != INFO and f.code != "default-key-in-use"]
    if not back.usable or back.values != cons.values:
        readback.append(Finding("consolidate-readback-mismatch", ERROR, "汇总工作簿回读的数与汇总数不一致", file=str(out)))
    if json_path is not None:
        doc = Dataset(cons.dataset.unit_code, cons.dataset.unit_name, cons.dataset.year, cons.values,
                      cons.dataset.names, cons.dataset.notes, texts=cons.dataset.texts,
                      version=cons.dataset.version).to_json()
        doc["source"] = (f"juesuan consolidate：{cons.name}（{cons.parent}）汇总 {len(cons.included)} 个单位"
                         + ("（含有错误的单位）" if cons.include_errors else ""))
        doc["consolidated_units"] = [m.unit for m in cons.included]
        if cons.draft:
            doc["draft"] = True
        atomic_write_text(json_path, json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    cid = store.add_consolidation(
        cons.parent, cons.include_errors, cons.spec.version, cons.spec.hash, str(out), str(json_path) if json_path else None,
        {"included": len(cons.included), "excluded": len(cons.excluded),
         "levels": {lv.code: lv.stats for lv in cons.levels}},
        [(m.unit, m.node, m.submission["id"] if m.submission else None, m.included, m.reason) for m in cons.members])
    if report_path is not None:
        atomic_write_text(report_path, report_html(cons, out, readback))
    return Outputs(out, json_path, report_path, readback, cid)


def submit_level(store: Store, tree: UnitTree, cons: Consolidation, workbook: Path) -> int | None:
    """A final 汇总 (approved reports only) of a 汇总 unit below the top of the tree, submitted as
    that unit's report, to be reviewed by its parent like any unit's (the department's 汇总 goes
    up to the 财政局). Its figures are the 汇总's; its findings the level's 审核 results. Only a
    complete 汇总 goes up: None for a draft, the top of the tree, a 汇总 that left units out (not yet
    approved, returned, missing), or when the unit's current report is already this very 汇总."""
    import hashlib

    from .store import figure_rows, now

    if cons.draft or not tree.units[cons.parent].parent or cons.excluded:
        return None  # a draft, the top of the tree, or units left out: nothing complete to send up
    data = workbook.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    rows = {r.code: r for r in unit_report(store, tree).rows}
    cur = rows[cons.parent].current
    if cur is not None and cur["sha256"] == digest:
        return None
    level = next(lv for lv in cons.levels if lv.code == cons.parent)
    ds = cons.dataset
    received = now()
    store.begin()
    run_id = store.start_run("consolidate", str(workbook), cons.spec.version, cons.spec.hash)
    sid = store.add_submission(
        {"run_id": run_id, "seq": 0, "path": f"{LEVEL_PATH}{workbook.name}", "file_name": workbook.name, "sha256": digest,
         "size": len(data), "mtime": received, "received": received, "unit_code": cons.parent, "unit_name": cons.name,
         "expect_unit": cons.parent, "year": ds.year, "template_id": cons.spec.template,
         "template_version": cons.spec.version, "spec_hash": cons.spec.hash, "usable": 1, "status": "",
         "doc": json.dumps({"names": ds.names, "notes": ds.notes, "consolidated_units": [m.unit for m in cons.included]},
                           ensure_ascii=False)},
        figure_rows({}, summable(cons.spec, ds.values)),
        [Finding("consolidation-submitted", INFO, f"{cons.name}汇总 {len(cons.included)} 个审核通过的单位，作为本单位的报送，"
                                                  "由上级审核", actual=str(len(cons.included))), *level.findings])
    store.finish_run(run_id, {"files": 1, "read": 1, "duplicates": 0})
    store.commit()
    refresh_statuses(store, tree, cons.spec.version, cons.spec.hash, only=[sid])
    return sid


def report_html(cons: Consolidation, workbook: Path | None = None, readback: list[Finding] | None = None) -> str:
    from .collect import _finding_view
    from .store import now

    levels = [{"level": lv, "findings": [_finding_view(f) for f in sort_findings(lv.findings)],
               "totals": [(k, fmt(v, True)) for k, v in lv.totals.items()]} for lv in cons.levels]
    return jinja_env().get_template("collect_consolidate.html.j2").render(
        title=f"{cons.name}（{cons.parent}）汇总报告", cons=cons, levels=levels, created=shown(now()),
        workbook=str(workbook) if workbook else "", notes=[_finding_view(f) for f in cons.findings],
        readback=[_finding_view(f) for f in readback or []], readback_done=readback is not None)


def render_text(cons: Consolidation, readback: list[Finding] | None = None) -> str:
    lines = [f"汇总 {cons.parent} {cons.name}：纳入 {len(cons.included)} 个单位，未纳入 {len(cons.excluded)} 个"
             + ("（含有错误的单位）" if cons.include_errors else "")]
    for m in cons.members:
        mark = "纳入" if m.included else f"未纳入（{m.reason}）" if m.reason else "汇总单位"
        sub = f" 报送 #{m.submission['id']} {m.submission['path']}" if m.submission else ""
        lines.append(f"  {'  ' * m.depth}{m.unit} {m.name}：{mark}{sub}")
    for lv in cons.levels:
        st = lv.stats
        lines.append(f"层级 {lv.code} {lv.name}（{len(lv.units)} 个单位）审核：错误 {st[ERROR]} 条，提示 {st[WARNING]} 条，"
                     f"尾数差异 {st[INFO]} 条")
        for f in sort_findings(lv.findings):
            if f.severity != INFO:
                lines.append("  " + f.render())
    for f in cons.findings:
        if f.code not in ("consolidate-unit-missing", "consolidate-unit-excluded"):
            lines.append(f.render())
    if readback is not None:
        if readback:
            lines.append("回读汇总工作簿发现问题：")
            lines += ["  " + f.render() for f in readback]
        else:
            lines.append("回读汇总工作簿：完整性检查通过，数与汇总数一致。")
    return "\n".join(lines)


# ---------------------------------------------------------------- provenance


@dataclass
class Contribution:
    unit: str
    name: str
    depth: int
    included: bool
    reason: str
    submission: dict[str, Any] | None
    value: Decimal | None  # this unit's own figure (None: the unit has no such row)
    subtotal: Decimal | None = None  # for a unit with subordinates: its level's consolidated figure


@dataclass
class Explanation:
    parent: str
    name: str
    table: str
    row: str
    col: str
    value: Decimal  # the consolidated figure, recomputed from the summed inputs
    contributions: list[Contribution]
    source: str  # which consolidation it describes

    @property
    def total(self) -> Decimal:
        return sum((c.value or Decimal(0) for c in self.contributions if c.included), Decimal(0))

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": {"code": self.parent, "name": self.name}, "table": self.table, "row": self.row, "col": self.col,
            "value": fmt(self.value), "sum_of_units": fmt(self.total), "source": self.source,
            "contributions": [
                {"unit": c.unit, "name": c.name, "depth": c.depth, "included": c.included, "reason": c.reason,
                 "submission": c.submission["id"] if c.submission else None,
                 "file": c.submission["path"] if c.submission else None,
                 "value": fmt(c.value) if c.value is not None else None,
                 "subtotal": fmt(c.subtotal) if c.subtotal is not None else None}
                for c in self.contributions],
        }

    def render(self, show_all: bool = False) -> str:
        lines = [f"{self.table} 行/科目 {self.row} 栏 {self.col}：{self.parent} {self.name} 汇总数 {fmt(self.value, True)}",
                 f"（{self.source}）"]
        silent = 0
        for c in self.contributions:
            if not show_all and c.included and not c.value and c.subtotal is None:
                silent += 1
                continue
            indent = "  " * (c.depth + 1)
            if not c.included:
                what = f"未纳入（{c.reason}）" if c.reason else "汇总单位，无本级报表"
                if c.subtotal is not None:
                    what += f"，下级合计 {fmt(c.subtotal, True)}"
                lines.append(f"{indent}{c.unit} {c.name}：{what}")
                continue
            own = "无此项" if c.value is None else fmt(c.value, True)
            sub = f"  [含下级小计 {fmt(c.subtotal, True)}]" if c.subtotal is not None else ""
            file = f"  报送 #{c.submission['id']} {c.submission['path']}" if c.submission else ""
            lines.append(f"{indent}{c.unit} {c.name}：{own}{sub}{file}")
        if silent:
            lines.append(f"  另有 {silent} 个纳入的单位此数为 0 或无此项（--all 列出）")
        same = "与汇总数一致" if self.total == self.value else f"与汇总数相差 {fmt(self.total - self.value)}"
        lines.append(f"各单位合计 {fmt(self.total, True)}，{same}")
        return "\n".join(lines)


def figure_of(spec: Spec, inputs: Values, table: str, row: str, col: str) -> Decimal | None:
    """One figure of a submission from its typed-in figures (derived ones are recomputed, as the store
    keeps inputs only); None when the unit has no such figure."""
    got = inputs.get(table, {}).get(row, {}).get(col)
    if got is None and table in spec.tables and is_formula_figure(spec.tables[table], row, col):
        got = Figures(spec, inputs).all_values().get(table, {}).get(row, {}).get(col)
    return got


def explain(store: Store, tree: UnitTree, spec: Spec, parent: str, table: str, row: str, col: str,
            include_errors: bool = False, use_record: bool = True) -> Explanation:
    """Which units contributed what to one consolidated figure. Follows the last consolidation of
    ``parent`` recorded in the database (the submissions it took), else the current state."""
    t = _explained_table(spec, table, row, col)
    if parent not in tree.units:
        raise ConsolidateError(f"单位 {parent} 不在单位清单中")
    members, source = _explained_members(store, tree, parent, include_errors, use_record)
    contributions: list[Contribution] = []
    inputs: Values = {}
    for m in members:
        value = None
        if m.submission is not None:
            own = store.values(m.submission["id"], inputs_only=True)
            value = figure_of(spec, own, table, row, col)
            if m.included:
                add_values(inputs, summable(spec, own))
        contributions.append(Contribution(m.unit, m.name, m.depth, m.included, m.reason, m.submission, value))
    _subtotals(tree, parent, {c.unit: c for c in contributions})
    sec = t.section
    known = sec is not None and sec.codelist is not None and spec.code_name(sec.codelist, row) is not None
    if (t.row(row) is None and not known and not (sec is not None and sec.total is not None and row == sec.total.key)
            and all(c.value is None for c in contributions)):
        raise ConsolidateError(f"{table} 没有科目 {row}：代码表中没有此代码，{parent} 下也没有单位填报过它")
    value = Figures(spec, inputs).value(table, row, col)
    return Explanation(parent, tree.units[parent].name, table, row, col, value, contributions, source)


def _explained_table(spec: Spec, table: str, row: str, col: str) -> Table:
    """The table of a figure to explain; an unknown table, 栏 or 行/科目, or a 附件 form, refused."""
    t = spec.tables.get(table)
    if t is None:
        raise ConsolidateError(f"没有表 {table}（应为 {'、'.join(spec.tables)}）")
    if t.kind == "form":
        raise ConsolidateError(f"{table} 不汇总：汇总的附件1–3 是部门自己填报的（在汇总工作簿中填写后报回），不是各单位之和")
    if col not in t.col_keys():
        raise ConsolidateError(f"{table} 没有栏 {col}（应为 {'、'.join(t.col_keys())}）")
    sec = t.section
    if t.row(row) is None and not (sec is not None and (row.isdigit() and len(row) in (3, 5, 7)
                                                        or (sec.total is not None and row == sec.total.key))):
        raise ConsolidateError(f"{table} 没有行/科目 {row}")
    return t


def _explained_members(store: Store, tree: UnitTree, parent: str, include_errors: bool,
                       use_record: bool) -> tuple[list[Member], str]:
    """The members of the last recorded consolidation of ``parent`` (else of the current state), and
    which it is."""
    record = store.last_consolidation(parent) if use_record else None
    if record is None:
        members = plan_members(unit_report(store, tree), tree, parent, include_errors)
        return members, "依据当前报送情况" + ("（含有错误的单位）" if include_errors else "")
    head, rows = record
    recorded = {r["unit"]: r for r in rows}
    members = []
    for code, depth in tree.walk(parent):
        r = recorded.get(code)
        row = store.submission(r["submission_id"]) if r is not None and r["submission_id"] else None
        sub = dict(row) if row is not None else None
        members.append(Member(code, tree.units[code].name, depth, "", sub, bool(r["included"]) if r else False,
                              (r["reason"] if r else "汇总后新增的单位，未纳入该次汇总"), ""))
    return members, f"依据 {shown(head['created'])} 的汇总记录 #{head['id']}"


def _subtotals(tree: UnitTree, parent: str, by_unit: dict[str, Contribution]) -> None:
    """The subtotal of every unit with subordinates: its own figure (when included) and theirs."""
    for code, _ in reversed(tree.walk(parent)):
        kids = tree.kids(code)
        if not kids:
            continue
        c = by_unit[code]
        own = c.value if c.included and c.value is not None else Decimal(0)
        c.subtotal = own + sum((_part(by_unit[k]) for k in kids), Decimal(0))


def _part(c: Contribution) -> Decimal:
    """What a subordinate adds to its parent's subtotal: its own subtotal, else its figure when included."""
    if c.subtotal is not None:
        return c.subtotal
    return (c.value or Decimal(0)) if c.included else Decimal(0)


__all__ = ["Consolidation", "ConsolidateError", "UnfinishedCollect", "consolidate", "consolidate_round",
           "incomplete_members", "write_outputs", "explain", "render_text", "add_values"]
