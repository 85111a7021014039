"""整体支出绩效自评报告 (第五部分, before 附件1): its figure-bearing paragraphs from the 附件, and the
checks of a written text against them.

The figures are those of 附件2 (部门整体) and 附件3 (each project) as the spec computes them —
执行率, 执行率得分, 总分, 自评等级 — so the text and the tables cannot disagree. What only a person
can write (用途, 问题, 改进措施) is a 【待填】 slot, as in the 情况说明.

Checks (``check_performance``), on the whole text (情况说明 and 自评报告 alike):
- ``narrative-score-mismatch``: “绩效自评得分X分” against the 总分 of 附件2, or of the 附件3 project the
  sentence names (the seed's 十四（二）says 7.57 — that is the 预算执行率得分, the 总分 is 96.08);
- ``narrative-grade-mismatch``: “自评等级为…” against the grade of the 总分;
- ``narrative-rate-mismatch``: a 预算执行率 in a sentence (or line) naming a 附件3 project, or a line
  about 部门整体支出, against that 自评表's 执行率;
- ``narrative-fujian-amount-mismatch``: 年初预算 / 全年预算数 (合计安排) / 决算支出 (执行数) / 调增 in such
  a sentence against the 自评表's 年度资金总额;
- ``narrative-project-not-evaluated`` / ``narrative-project-not-listed`` (info): the projects of
  五（三）against the 附件3 projects, by name (a near name is named in the message).
"""

from __future__ import annotations

import difflib
import re
from decimal import Decimal
from typing import Any

from ..core.catalog import default_specs_dir, load_spec, spec_by_version
from ..core.dataset import Dataset
from ..core.findings import INFO, WARNING, Finding
from ..core.indicators import project_names
from ..core.layout import grade_of
from ..core.model import Figures
from ..core.spec import Spec

HUNDRED = Decimal(100)


def _spec_for(ds: Dataset) -> Spec | None:
    spec = spec_by_version(str(ds.year)) if ds.year else None
    if spec is None:
        spec = load_spec(default_specs_dir())
    return spec if "附件2" in spec.tables else None


def _money(v: Decimal | None) -> str | None:
    return None if v is None else format(v.quantize(Decimal("0.01")), ",f")


def _pct(rate: Decimal | None) -> str | None:
    return None if rate is None else format((rate * HUNDRED).quantize(Decimal("0.01")), "f")


def _score(v: Decimal | None) -> str | None:
    return None if v is None else format(v.quantize(Decimal("0.01")), "f")


def _funds(figs: Figures, table: str, prefix: str) -> dict[str, Any]:
    row = prefix + "年度资金总额"
    initial = figs.value(table, row, "年初预算数")
    full = figs.value(table, row, "全年预算数")
    actual = figs.value(table, row, "全年执行数")
    total = figs.value(table, prefix + "总分", "得分")
    return {
        "initial": _money(initial), "full": _money(full), "actual": _money(actual),
        "added": _money(full - initial) if full and initial else None,
        "rate": _pct(figs.value(table, row, "执行率")) if full else None,
        "rate_score": _score(figs.value(table, row, "得分")),
        "total": _score(total), "grade": grade_of(total),
        "_total": total, "_rate": figs.value(table, row, "执行率"),
    }


def performance_context(ds: Dataset) -> dict[str, Any] | None:
    """The report's figures, or None when the data carry no 附件2/附件3."""
    if not ds.values.get("附件2") and not ds.values.get("附件3"):
        return None
    spec = _spec_for(ds)
    if spec is None:
        return None
    inputs = {t: rows for t, rows in ds.values.items() if t in spec.tables and spec.tables[t].kind == "form"}
    for t, rows in ds.values.items():  # 公开 inputs too (cross-table figures are not needed here)
        inputs.setdefault(t, rows)
    figs = Figures(spec, inputs)
    whole = _funds(figs, "附件2", "") if ds.values.get("附件2") else None
    if whole is not None:
        whole["basic"] = _money(ds.get("附件2", "基本支出", "全年执行数"))
        whole["project"] = _money(ds.get("附件2", "项目支出", "全年执行数"))
    names = project_names(ds.texts)
    projects = []
    for p in figs.projects("附件3"):
        f = _funds(figs, "附件3", p + ":")
        f["name"] = names.get(p) or f"项目{p}"
        projects.append(f)
    return {"year": str(ds.year) if ds.year else None, "unit_name": ds.unit_name, "whole": whole,
            "projects": projects}


# ---------------------------------------------------------------- checks

_SCORE = re.compile(r"绩效自评得分(?:为)?\s*(\d+(?:\.\d+)?)\s*分")
_GRADE = re.compile(r"自评等级(?:为|是)?[“\"「]?([优良中差])")
_RATE = re.compile(r"(?:预算)?执行率(?:为)?\s*(\d+(?:\.\d+)?)\s*%")
_LISTED = re.compile(r"^\s*([^：:，。\s]{2,40})[：:]\s*年初预算为")


_AMOUNTS = (  # (pattern, figure key): amounts the 自评报告 sentences state
    (re.compile(r"年初(?:安排)?预算(?:数)?(?:为)?\s*([\d,]+(?:\.\d+)?)\s*万元"), "initial"),
    (re.compile(r"(?:全年预算数|合计安排)(?:为)?\s*([\d,]+(?:\.\d+)?)\s*万元"), "full"),
    (re.compile(r"(?:决算支出|执行数)(?:为)?\s*([\d,]+(?:\.\d+)?)\s*万元"), "actual"),
    (re.compile(r"调增\s*([\d,]+(?:\.\d+)?)\s*万元"), "added"),
)


def check_performance(text: str, ds: Dataset) -> list[Finding]:
    ctx = performance_context(ds)
    if ctx is None:
        return []
    out: list[Finding] = []
    projects = ctx["projects"]
    whole = ctx["whole"]
    for lineno, line in enumerate(text.splitlines(), 1):
        in_line = [p for p in projects if p["name"] in line]
        for s in (x for x in re.split(r"(?<=[。；;])", line) if x.strip()):
            named = [p for p in projects if p["name"] in s]
            if len(named) == 1:
                subject = named[0]
            elif len(in_line) == 1:
                subject = in_line[0]
            else:
                subject = whole
            if subject is None:
                continue
            out.extend(_check_sentence(s, lineno, subject, subject is whole, "整体" in line))
    out.extend(_project_lists(text, projects))
    return out


def _check_sentence(s: str, lineno: int, subject: dict[str, Any], is_whole: bool, says_whole: bool) -> list[Finding]:
    out: list[Finding] = []
    what = "部门整体支出（附件2）" if is_whole else f"项目“{subject['name']}”（附件3）"
    for m in _SCORE.finditer(s):
        said = Decimal(m.group(1))
        if said != subject["_total"]:
            note = "（这是预算执行率得分，不是总分）" if _score(said) == subject["rate_score"] else ""
            out.append(Finding("narrative-score-mismatch", WARNING,
                               f"第 {lineno} 行 “{m.group(0)}” 与{what}总分 {subject['total']} 不符{note}",
                               expected=subject["total"], actual=m.group(1), extra={"line": lineno}))
    for m in _GRADE.finditer(s):
        if m.group(1) != subject["grade"]:
            out.append(Finding("narrative-grade-mismatch", WARNING,
                               f"第 {lineno} 行 自评等级“{m.group(1)}”与{what}总分 {subject['total']} 的等级“{subject['grade']}”不符",
                               expected=subject["grade"], actual=m.group(1), extra={"line": lineno}))
    if is_whole and not says_whole:
        return out  # rates and amounts in a line about something else (基本支出, 项目支出, …)
    for m in _RATE.finditer(s):
        if subject["rate"] is not None and Decimal(m.group(1)) != Decimal(subject["rate"]):
            out.append(Finding("narrative-rate-mismatch", WARNING,
                               f"第 {lineno} 行 预算执行率 {m.group(1)}% 与{what}执行率 {subject['rate']}% 不符",
                               expected=subject["rate"], actual=m.group(1), extra={"line": lineno}))
    for pattern, key in _AMOUNTS:
        for m in pattern.finditer(s):
            want = subject.get(key)
            if want is None:
                continue
            if Decimal(m.group(1).replace(",", "")) != Decimal(want.replace(",", "")):
                out.append(Finding("narrative-fujian-amount-mismatch", WARNING,
                                   f"第 {lineno} 行 “{m.group(0)}” 与{what}的 {want} 万元不符",
                                   expected=want, actual=m.group(1), extra={"line": lineno}))
    return out


def _project_lists(text: str, projects: list[dict[str, Any]]) -> list[Finding]:
    """五（三）'s projects (``名称：年初预算为…`` lines) against the 附件3 projects."""
    listed = [m.group(1).strip() for line in text.splitlines() if (m := _LISTED.match(line))]
    if not listed or not projects:
        return []
    evaluated = [p["name"] for p in projects]
    out = []
    for name in listed:
        if name not in evaluated:
            near = difflib.get_close_matches(name, evaluated, n=1, cutoff=0.7)
            hint = f"；附件3 有名称相近的“{near[0]}”，请统一名称" if near else ""
            out.append(Finding("narrative-project-not-evaluated", INFO,
                               f"情况说明五（三）列出的项目“{name}”没有附件3 项目支出绩效自评表{hint}", actual=name))
    for name in evaluated:
        if name not in listed:
            near = difflib.get_close_matches(name, listed, n=1, cutoff=0.7)
            hint = f"；五（三）有名称相近的“{near[0]}”" if near else ""
            out.append(Finding("narrative-project-not-listed", INFO,
                               f"附件3 的项目“{name}”不在情况说明五（三）的项目中{hint}", actual=name))
    return out


__all__ = ["check_performance", "performance_context"]
