"""The nine tables as printed: a grid of cells read off the workbook's cell plan.

:func:`table_views` walks :func:`generator.core.layout.plan_workbook`'s sheets — the same plan the
writer writes and the reader checks — and turns each table sheet into a :class:`TableView`: title,
公开NN表 line, 单位 line, header rows and body rows with their row/col spans (the plan's merges),
notes and the 空表说明. Amount cells carry their figure key and the printed figure. Spare input rows
(新增科目) are left out: they are for filling in, not for publishing. Nothing here knows a table's
layout; HTML, DOCX and the published-PDF check all render or read these views.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ..core.dataset import Dataset
from ..core.expr import Fig
from ..core.layout import SheetPlan, WorkbookPlan, plan_workbook, section_codes
from ..core.model import Figures
from ..core.money import fmt
from ..core.spec import Spec

# the layout's cell styles, as printed
_KIND = {
    "header": "header", "label": "label", "label_total": "label_total", "line": "line", "code": "code",
    "blank": "blank", "amount_input": "amount", "amount_formula": "amount", "amount_total": "amount_total",
}


@dataclass
class Cell:
    text: str
    kind: str  # header | label | label_total | line | code | amount | amount_total | blank
    rowspan: int = 1
    colspan: int = 1
    col: int = 0  # first grid column
    fig: Fig | None = None
    value: Decimal | None = None


@dataclass
class TableView:
    id: str  # 公开01
    title: str
    number: str  # 公开01表
    unit_line: str  # 单位：长沙市企业服务中心
    money_line: str  # 单位：万元
    widths: list[float]  # relative column widths (the workbook's)
    header: list[list[Cell]]
    body: list[list[Cell]]
    notes: list[str]
    statement: str | None  # 空表说明 (None: the table has none)
    landscape: bool
    ncols: int = 0
    figs: dict[Fig, Decimal] = field(default_factory=dict)

    def row_key(self, row: list[Cell]) -> str:
        """The keys of one body row, for messages ('1/31' in 公开01, '2150550')."""
        keys = []
        for c in row:
            if c.fig is not None and c.fig.row not in keys:
                keys.append(c.fig.row)
        return "/".join(keys)


def amount_text(value: Decimal | None) -> str:
    """A figure as printed: thousands separators, 2 decimals, half up."""
    return "" if value is None else fmt(value, thousands=True)


def plan_for(spec: Spec, ds: Dataset) -> WorkbookPlan:
    """The workbook's cell plan for the unit's data: the single description of every table's cells."""
    return plan_workbook(spec, ds.unit_code, ds.unit_name, ds.year, section_codes(spec, ds.values), ds.names)


def _grid(sh: SheetPlan, first: int, last: int, skip: set[int], figures: Figures | None,
          override: Mapping[Fig, Decimal]) -> list[list[Cell]]:
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    covered: set[tuple[int, int]] = set()
    for r1, c1, r2, c2 in sh.merges:
        spans[(r1, c1)] = (r2, c2)
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                if (r, c) != (r1, c1):
                    covered.add((r, c))
    rows: list[list[Cell]] = []
    ncols = len(sh.widths)
    for r in range(first, last + 1):
        if r in skip:
            continue
        out: list[Cell] = []
        for c in range(ncols):
            if (r, c) in covered:
                continue
            plan = sh.cells.get((r, c))
            r2, c2 = spans.get((r, c), (r, c))
            cell = Cell("", "blank", min(r2, last) - r + 1, c2 - c + 1, c)
            if plan is not None:
                cell.kind = _KIND.get(plan.style, "label")
                if plan.fig is not None and figures is not None:
                    value = override.get(plan.fig)
                    if value is None:
                        f = plan.fig
                        value = figures.inputs.get(f.table, {}).get(f.row, {}).get(f.col)
                    if value is None:
                        value = figures.value(plan.fig.table, plan.fig.row, plan.fig.col)
                    cell.fig, cell.value, cell.text = plan.fig, value, amount_text(value)
                else:
                    cell.text = plan.text
            out.append(cell)
        rows.append(out)
    return rows


def table_view(plan: WorkbookPlan, sh: SheetPlan, figures: Figures, statement: str | None,
               override: Mapping[Fig, Decimal] | None = None) -> TableView:
    t = sh.table
    assert t is not None and sh.header_rows is not None
    override = override or {}
    h0, h1 = sh.header_rows
    notes: list[str] = []
    body_end = sh.max_row
    skip: set[int] = set()
    for (r, _c), cell in sh.cells.items():
        if cell.style == "note" or cell.kind == "note":
            body_end = min(body_end, r - 1)
        if cell.kind == "code" or (cell.calc and cell.calc[0] in ("spare", "name")):
            skip.add(r)  # a spare input row
    for r in range(body_end + 1, sh.max_row + 1):
        cell = sh.cells.get((r, 0))
        if cell is not None and cell.kind == "text" and cell.text:
            notes.append(cell.text)
    view = TableView(
        id=t.id, title=t.title, number=t.number, unit_line=sh.cells[(2, 0)].text, money_line="单位：万元",
        widths=list(sh.widths), header=_grid(sh, h0, h1, set(), None, {}),
        body=_grid(sh, h1 + 1, body_end, skip, figures, override), notes=notes,
        statement=(statement or "") if t.statement else None,
        landscape=str(t.print.get("orientation", "landscape")) == "landscape", ncols=len(sh.widths))
    for row in view.body:
        for c in row:
            if c.fig is not None and c.value is not None:
                view.figs[c.fig] = c.value
    return view


def table_views(spec: Spec, ds: Dataset, override: Mapping[Fig, Decimal] | None = None,
                tables: list[str] | None = None) -> list[TableView]:
    """Every table of the spec (or of ``tables``) for the unit's data, in the spec's order.

    A figure the data gives is printed as given (a 汇总 or data file may carry the official rounding
    of a derived figure); any other is computed by the spec's formulas, as the workbook shows it.
    ``override`` replaces printed figures (a doctored report in the tests)."""
    plan = plan_for(spec, ds)
    figures = Figures(spec, ds.values)
    out = []
    for sh in plan.sheets:
        if sh.kind != "table" or sh.table is None:
            continue
        if sh.table.kind == "form":  # 附件1–3 (form tables): not published by this table view yet
            continue
        if tables is not None and sh.table.id not in tables:
            continue
        out.append(table_view(plan, sh, figures, ds.notes.get(sh.table.id), override))
    return out
