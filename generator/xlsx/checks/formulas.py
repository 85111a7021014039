"""Formulas: every derived figure is recomputed from the figures typed in (``reading.figures``,
``expected``), and every formula cell of the workbook must hold the plan's formula; a cached result
that differs from the recomputation is reported once per sheet (its one cause: a file saved without
recalculating, or results edited)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from ...core.calc import formula_values
from ...core.expr import a1
from ...core.findings import ERROR, Finding
from ...core.layout import CHECK as CHECK_SHEET
from ...core.layout import CellPlan, SheetPlan
from ...core.model import Figures
from ...core.money import fmt
from ..ooxml import RawCell
from ..values import cell_text, normalize_formula, number_value
from .reading import Reading, label_of

_MICRO = Decimal("0.000001")


def _stale(sp: SheetPlan, r: int, c: int, cell: CellPlan, got: RawCell, want: Any) -> Finding | None:
    """A cached result that is not the recomputed one (no cached result at all is fine)."""
    if got.value is None or want is None:
        return None
    if isinstance(want, Decimal):
        try:
            have: Decimal | None = number_value(got.value)
        except (InvalidOperation, ValueError):
            have = None
        if have is None or abs(have - want) > _MICRO:
            return Finding("stale-cached-value", ERROR, "", cell=f"{sp.name}!{a1(r, c)}", expected=fmt(want, True),
                           actual=fmt(have, True) if have is not None else got.value, **label_of(sp, cell))
    elif str(want) != (got.value or "") and not (want == "" and got.value in ("", None)):
        return Finding("stale-cached-value", ERROR, "", cell=f"{sp.name}!{a1(r, c)}", expected=str(want),
                       actual=got.value, **label_of(sp, cell))
    return None


def _cell(reading: Reading, sp: SheetPlan, r: int, c: int, cell: CellPlan, got: RawCell | None,
          stale: list[Finding]) -> Iterator[Finding]:
    if cell.calc and cell.calc[0] == "name" and (got is None or got.formula is None):
        return  # a spare row's name cell: a typed name is allowed (read with the row)
    where = f"{sp.name}!{a1(r, c)}"
    if got is None or got.formula is None:
        yield Finding("formula-replaced", ERROR, f"{where} 的公式被删除或被改为常数", cell=where,
                      expected="=" + cell.formula, actual=cell_text(got) or "（空）", **label_of(sp, cell))
    elif got.formula != cell.formula and normalize_formula(got.formula) != normalize_formula(cell.formula):
        yield Finding("formula-changed", ERROR, f"{where} 的公式被改动", cell=where,
                      expected="=" + cell.formula, actual="=" + got.formula, **label_of(sp, cell))
    else:
        found = _stale(sp, r, c, cell, got, reading.expected.get((sp.name, r, c)))
        if found is not None:
            stale.append(found)


def report_stale(stale: list[Finding]) -> Iterator[Finding]:
    """Cached results that differ from the recomputation: one finding per sheet; the 审核 sheet only
    when no table sheet is stale (its results follow from the tables')."""
    by_sheet: dict[str, list[Finding]] = {}
    for f in stale:
        by_sheet.setdefault((f.cell or "").split("!")[0], []).append(f)
    if len(by_sheet) > 1:
        by_sheet.pop(CHECK_SHEET, None)
    for sheet, fs in by_sheet.items():
        first = fs[0]
        cells = "、".join((f.cell or "").split("!")[-1] for f in fs[:5]) + ("等" if len(fs) > 5 else "")
        msg = (f"{sheet} 有 {len(fs)} 个公式单元格（{cells}）显示的结果与按表内数据重新计算的不符："
               "文件保存前没有重新计算，或计算结果被改动")
        yield Finding("stale-cached-value", ERROR, msg, table=first.table, row=first.row, col=first.col,
                      cell=first.cell, expected=first.expected, actual=first.actual,
                      extra={"cells": [f.cell for f in fs]})


def check(reading: Reading) -> Iterator[Finding]:
    plan, ds = reading.the_plan, reading.ds
    reading.figures = Figures(plan.spec, reading.inputs)
    reading.expected, reading.plan_results = formula_values(plan, reading.figures, ds.notes, reading.cell_inputs,
                                                            reading.code_texts)
    stale: list[Finding] = []
    expected = reading.expected
    for sp in plan.sheets:
        raw = reading.book.sheet(sp.name)
        if raw is None:
            continue
        name, got_at = sp.name, raw.cells.get
        for (r, c), cell in sp.cells.items():
            if cell.kind != "formula":
                continue
            got = got_at((r, c))
            if got is not None and got.formula is not None and got.formula == cell.formula:  # the usual case, as _cell takes it, without a generator
                found = _stale(sp, r, c, cell, got, expected.get((name, r, c)))
                if found is not None:
                    stale.append(found)
                continue
            yield from _cell(reading, sp, r, c, cell, got, stale)
    yield from report_stale(stale)
