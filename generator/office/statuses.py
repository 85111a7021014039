"""A submission's status, decided from what is known about it: a pure function, no database.

Statuses of a submission (one file):
  通过 / 有提示 / 有错误   read, right template, known unit: by its findings (info does not count)
  未变                    the same content (SHA-256) was already received under another name
  模板版本不符            template version or spec hash differs from the spec of the collect
  单位不符                identity unit not in the units file, or not the unit the name/folder says
  无法读取 / 附件         not a usable workbook (not xlsx, damaged, not our template) / not a spreadsheet
  部门附件                the department's 汇总 workbook sent back with its 附件1–3
A unit without a submission is 未报送, or 汇总单位 when it only sums its subordinates.

:func:`judge` is the decision: one rule after another (:data:`RULES`), the first that applies
decides; none applies and the findings decide. ``collect.refresh_statuses`` feeds it the stored
submissions and writes back what changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..core.findings import ERROR, INFO, WARNING, Finding

PASS, WARN, ERR = "通过", "有提示", "有错误"
MISSING, DUP, TEMPLATE, WRONG_UNIT, UNREADABLE = "未报送", "未变", "模板版本不符", "单位不符", "无法读取"
AGGREGATE, ATTACH = "汇总单位", "附件"
# a department's own 附件1–3: its 汇总 workbook (juesuan consolidate) returned with the forms filled in;
# kept beside the department, never its report, read by the 汇总 (office/consolidate.py)
DEPT_FORMS = "部门附件"
STATUS_ORDER = [PASS, WARN, ERR, MISSING, DUP, TEMPLATE, WRONG_UNIT, UNREADABLE, ATTACH, DEPT_FORMS, AGGREGATE]
# the catalogue of statuses: each one's stable code (snake_case: no finding code looks like it), what the database stores (SCHEMA_VERSION 4); the
# program and the people see the Chinese label, the store translates at its boundary (store.py)
STATUS_CODES = {PASS: "pass", WARN: "warning", ERR: "error", MISSING: "missing", DUP: "unchanged",
                TEMPLATE: "template_mismatch", WRONG_UNIT: "wrong_unit", UNREADABLE: "unreadable",
                ATTACH: "attachment", DEPT_FORMS: "department_forms", AGGREGATE: "aggregate"}
STATUS_LABELS = {code: label for label, code in STATUS_CODES.items()}


def status_code(status: str | None) -> str | None:
    """A status as the database stores it (a code already stored, or an unknown text, as it is)."""
    return STATUS_CODES.get(status, status) if status is not None else None
STATUS_CLASS = {PASS: "pass", WARN: "warn", ERR: "err", MISSING: "missing", DUP: "dup", TEMPLATE: "tpl",
                WRONG_UNIT: "wrong", UNREADABLE: "bad", ATTACH: "att", DEPT_FORMS: "att", AGGREGATE: "agg"}
# files a unit sends along with its workbook (a signed scan, a 说明): listed beside the unit, never its report
SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".et", ".ods", ".csv"}
ACCEPTED = {PASS, WARN, ERR}
TEMPLATE_CODES = {"template-version-unknown", "template-mismatch", "template-spec-changed", "template-outdated"}
LEVEL_PATH = "（汇总）/"  # the path of a level's 汇总 submitted as its 汇总 unit's report (consolidate.submit_level)
OFFICE_CODES = {"default-key-in-use"}  # about the office's set-up, not the unit's file: no effect on its status
CONSOLIDATED = {"consolidated-workbook", "consolidated-report"}


class Row(Protocol):
    """A stored submission's row (a ``sqlite3.Row``, a dict): its fields by name."""

    def __getitem__(self, key: str, /) -> Any: ...


class Tree(Protocol):
    """What the decision needs of the units file."""

    @property
    def units(self) -> Mapping[str, Any]: ...

    def kids(self, code: str) -> list[str]: ...

    def is_aggregate(self, code: str) -> bool: ...


@dataclass(frozen=True)
class Case:
    """One submission to judge: its stored row, its findings, its original when it is a copy, the
    units of the submissions judged before it, the units file and the collect's spec."""

    sub: Row
    findings: list[tuple[str, str]]  # (code, severity) of its active findings
    orig: Row | None
    units_of: Mapping[int, str | None]
    tree: Tree
    spec_version: str
    spec_hash: str

    @property
    def codes(self) -> set[str]:
        return {c for c, _ in self.findings}

    @property
    def unit_code(self) -> str:
        return str(self.sub["unit_code"] or "")

    @property
    def expect_unit(self) -> str | None:
        return self.sub["expect_unit"] or None

    def own_unit(self) -> str | None:
        return self.sub["unit_code"] or self.sub["expect_unit"] or None

    def unreadable(self) -> str:
        """A file that is no usable workbook: 无法读取 when it is a spreadsheet, else an attachment."""
        return UNREADABLE if Path(self.sub["file_name"]).suffix.lower() in SPREADSHEET_SUFFIXES else ATTACH


@dataclass
class Judgement:
    status: str | None  # None: the findings decide (通过/有提示/有错误)
    unit: str | None
    extra: list[Finding] = field(default_factory=list)  # collect's own findings about it
    counts: tuple[int, int, int] = (0, 0, 0)  # errors, warnings, infos

    @property
    def accepted(self) -> bool:
        return self.status in ACCEPTED


Rule = Callable[[Case], "Judgement | None"]


def _copy_of_unreadable(case: Case) -> Judgement | None:
    """The same attachment or broken file sent by two units is each one's own (not a copy of a report)."""
    orig = case.orig
    if orig is not None and not orig["usable"] and orig["status"] in (UNREADABLE, ATTACH):
        return Judgement(case.unreadable(), case.expect_unit)
    return None


def _duplicate(case: Case) -> Judgement | None:
    s, orig = case.sub, case.orig
    if s["duplicate_of"] is None:
        return None
    unit = case.units_of.get(s["duplicate_of"], orig["unit"] if orig is not None and orig["unit"] else case.own_unit())
    j = Judgement(DUP, unit, [Finding("submission-duplicate", WARNING,
                                      f"与已收录的报送 #{orig['id'] if orig else '?'}（{orig['path'] if orig else ''}，"
                                      f"{orig['received'] if orig else ''}）内容完全相同，未重复入库",
                                      actual=s["sha256"][:16])])
    if case.expect_unit and orig is not None and orig["unit_code"] and case.expect_unit != orig["unit_code"]:
        j.status, j.unit = WRONG_UNIT, case.expect_unit  # a copy of another unit's file sent under this name
        j.extra.append(Finding("wrong-unit", ERROR, "工作簿属于另一单位（与该单位已收录的报表完全相同）",
                               expected=case.expect_unit, actual=orig["unit_code"]))
    return j


def _unusable(case: Case) -> Judgement | None:
    if not case.sub["usable"] and "template-version-unknown" not in case.codes:
        return Judgement(case.unreadable(), case.expect_unit)
    return None


def _template(case: Case) -> Judgement | None:
    s, codes = case.sub, case.codes
    if not (not s["usable"] or codes & TEMPLATE_CODES or s["template_version"] != case.spec_version
            or s["spec_hash"] != case.spec_hash):
        return None
    j = Judgement(TEMPLATE, case.own_unit())
    # an older template of this version: the reader's one finding (template-outdated) says it, with migrate
    if "template-outdated" not in codes:
        j.extra.append(Finding("template-version-mismatch", ERROR,
                               f"模板版本 {s['template_version'] or '（未知）'}（规格 {s['spec_hash'] or '—'}）与本次收集所用的"
                               f" {case.spec_version}（规格 {case.spec_hash}）不符，请用新模板重新填报",
                               expected=f"{case.spec_version}/{case.spec_hash}",
                               actual=f"{s['template_version'] or ''}/{s['spec_hash'] or ''}"))
    return j


def _wrong_unit(case: Case) -> Judgement | None:
    codes = case.codes
    if "wrong-unit" not in codes and case.sub["unit_code"] in case.tree.units:
        return None
    unit = case.expect_unit if "wrong-unit" in codes and case.expect_unit else case.own_unit()
    return Judgement(WRONG_UNIT, unit)


def _level(case: Case) -> Judgement | None:
    """A level's 汇总, submitted by consolidate (never a file's own claim): its unit's report."""
    if str(case.sub["path"]).startswith(LEVEL_PATH) and "consolidation-submitted" in case.codes:
        return Judgement(None, case.own_unit())
    return None


def _consolidated(case: Case) -> Judgement | None:
    codes, tree, code = case.codes, case.tree, case.unit_code
    if not codes & CONSOLIDATED or not tree.kids(code):
        return None
    if "department-forms-received" in codes and code in tree.units:
        return Judgement(DEPT_FORMS, case.own_unit())  # the department's 汇总 sent back with its 附件1–3: never its report
    # a 汇总 is never the report of a unit whose subordinates report in this round
    return Judgement(WRONG_UNIT, case.own_unit(), [Finding(
        "consolidated-workbook", ERROR, "这是汇总工作簿（由 juesuan consolidate 生成），不是单位的报表，"
        "不作为任何单位的报送收录（其下级单位在本轮次中各自报送）")])


def _other_year(case: Case) -> Judgement | None:
    return Judgement(TEMPLATE, case.own_unit()) if "wrong-year" in case.codes else None  # not this round's report


def _aggregate(case: Case) -> Judgement | None:
    s = case.sub
    if not case.tree.is_aggregate(case.unit_code):
        return None
    return Judgement(WRONG_UNIT, case.own_unit(), [Finding(
        "aggregate-unit-report", ERROR, f"单位 {s['unit_code']}（{s['unit_name']}）是汇总单位：只汇总下级单位，不报送本级报表；"
        "此文件不收录（本级的数请由其“本级”单位报送）", actual=s["unit_code"])])


RULES: tuple[Rule, ...] = (_copy_of_unreadable, _duplicate, _unusable, _template, _wrong_unit, _level, _consolidated,
                           _other_year, _aggregate)


def counts(severities: list[str]) -> tuple[int, int, int]:
    return severities.count(ERROR), severities.count(WARNING), severities.count(INFO)


def by_findings(errors: int, warnings: int) -> str:
    """A readable submission's status by its findings: info does not count."""
    return ERR if errors else WARN if warnings else PASS


def judge(case: Case) -> Judgement:
    """The status, unit, collect findings and counts of one submission (the first rule that applies decides)."""
    j = next((got for rule in RULES if (got := rule(case)) is not None), None) or Judgement(None, case.own_unit())
    s = case.sub
    if s["duplicate_of"] is None and s["unit_code"] and s["unit_code"] not in case.tree.units:
        j.extra.append(Finding("unit-unknown", ERROR, f"工作簿标识的单位代码 {s['unit_code']}（{s['unit_name']}）不在单位清单中",
                               actual=s["unit_code"]))
    sev = [sv for c, sv in case.findings
           if c not in OFFICE_CODES and not (j.status == DEPT_FORMS and c == "consolidated-workbook")]
    j.counts = counts(sev + [f.severity for f in j.extra])
    if j.status is None:
        j.status = by_findings(j.counts[0], j.counts[1])
    return j
