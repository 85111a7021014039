"""Rules: the spec's 审核 rules over every 科目 actually reported (spare rows included), each failing
rule a finding at the cells it compares and at its 审核 row; a rule that fails only because numbers
were typed as text is said on those cells' findings instead (one cause, one finding)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ...core.expr import Fig, Items, a1, terms
from ...core.findings import Finding
from ...core.layout import CHECK as CHECK_SHEET
from ...core.layout import WorkbookPlan
from ...core.model import Figures
from ...core.rules import FAIL, RuleCells, RuleInstance, RuleResult, evaluate_rules, expand_rules, rule_findings
from .reading import Reading


def _not_caused_by_text(reading: Reading) -> list[RuleResult]:
    """The failing results to report: those that pass with the numbers typed as text counted are
    named on the ``number-as-text`` findings instead."""
    results = reading.results
    if not reading.text_numbers:
        return results
    spec = reading.the_plan.spec
    alt = {t: {r: dict(c) for r, c in rows.items()} for t, rows in reading.inputs.items()}
    for f, v in reading.text_numbers.items():
        alt.setdefault(f.table, {}).setdefault(f.row, {})[f.col] = v
    alt_figures = Figures(spec, alt)
    alt_results = evaluate_rules(spec, alt_figures, reading.ds.notes, expand_rules(spec, alt_figures.item_codes),
                                 reading.units)
    passing = {a.instance.id for a in alt_results if a.status != FAIL}
    caused = [r for r in results if r.status == FAIL and r.instance.id in passing]
    if caused:
        note = f"；因此有 {len(caused)} 条审核不通过，改为数字后即可通过"
        reading.findings[:] = [replace(f, message=f.message + note, extra={**f.extra, "rules": [r.instance.id for r in caused]})
                               if f.code == "number-as-text" else f for f in reading.findings]
    return [r for r in results if r not in caused]


def _where(pos: tuple[str, int, int] | None) -> list[str]:
    return [f"{pos[0]}!{a1(pos[1], pos[2])}"] if pos is not None else []


def _cell_of(plan: WorkbookPlan, f: Fig) -> tuple[str, int, int] | None:
    pos = plan.fig_cells.get(f)
    r = plan.used_spare.get((f.table, f.row)) if pos is None else None
    sp = plan.spare.get(f.table)
    if r is not None and sp is not None and f.col in sp.value_cols:
        return plan.spec.tables[f.table].sheet, r, sp.value_cols[f.col]  # a 项 typed into a spare row
    return pos


def _side(plan: WorkbookPlan, figures: Figures, node: Any) -> list[str]:
    out: list[str] = []
    for t in terms(node):
        found = _where(_cell_of(plan, t) if isinstance(t, Fig) else plan.items_cell(t))
        if not found and isinstance(t, Items):  # a 类/款 without a row: its 项 rows
            found = [c for code in figures.item_codes(t.table) if code.startswith(t.prefix)
                     for c in _where(_cell_of(plan, Fig(t.table, code, t.col)))]
        out += [c for c in found if c not in out]
    return out


def _subset_cells(plan: WorkbookPlan, figures: Figures, inst: RuleInstance) -> list[str]:
    """A subset rule: the code cells of the 科目 missing from the other table (else its first spare row)."""
    rule = inst.rule
    of = rule.of or ""
    inner = set(figures.item_codes(rule.in_ or ""))
    missing = [c for c in figures.item_codes(of) if c not in inner]
    sp = plan.spare.get(of)
    if sp is None:
        return []
    sheet = plan.spec.tables[of].sheet if of in plan.spec.tables else ""
    cells: list[str] = []
    for code in missing:
        pos = next((p for f, p in plan.fig_cells.items() if f.table == rule.of and f.row == code), None)
        if pos is not None:
            cells.append(f"{pos[0]}!{a1(pos[1], sp.code_col)}")
        elif (of, code) in plan.used_spare:
            cells.append(f"{sheet}!{a1(plan.used_spare[(of, code)], sp.code_col)}")
    return cells or [f"{sheet}!{a1(sp.first, sp.code_col)}"]


def rule_cells(plan: WorkbookPlan, figures: Figures, inst: RuleInstance) -> RuleCells:
    """The data cells a rule instance compares (each side), and its 审核 row."""
    r = plan.rule_rows.get(inst.id)
    check_at = f"{CHECK_SHEET}!H{r + 1}" if r is not None else None
    rule = inst.rule
    if inst.node is not None:
        return RuleCells(_side(plan, figures, inst.node.left), _side(plan, figures, inst.node.right), check_at)
    if rule.kind == "statement":
        t = plan.spec.tables.get(rule.table or "")
        st = plan.sheet(t.sheet).statement_cell if t is not None else None
        return RuleCells([f"{t.sheet}!{a1(*st)}"] if t is not None and st else [], [], check_at)
    if rule.kind == "subset":
        return RuleCells(_subset_cells(plan, figures, inst), [], check_at)
    return RuleCells([], [], check_at)


def check(reading: Reading) -> Iterator[Finding]:
    plan, figures, spec = reading.the_plan, reading.the_figures, reading.the_plan.spec
    # when the instances are the plan's own (no spare row used), their results were just computed
    # on the same figures by the formulas check
    reading.instances = instances = expand_rules(spec, figures.item_codes)
    if len(instances) == len(plan.rule_instances) and all(a is b for a, b in zip(instances, plan.rule_instances, strict=True)):
        reading.results = reading.plan_results
    else:
        reading.results = evaluate_rules(spec, figures, reading.ds.notes, instances, reading.units)
    failing = _not_caused_by_text(reading)
    yield from rule_findings(failing, reading.ds.explanations, lambda inst: rule_cells(plan, figures, inst))
