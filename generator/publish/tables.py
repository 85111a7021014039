"""The nine tables as printed: a grid of cells read off the workbook's cell plan.

:func:`table_views` walks :func:`generator.core.layout.plan_workbook`'s sheets — the same plan the
writer writes and the reader checks — and turns each table sheet into a :class:`TableView`: title,
公开NN表 line, 单位 line, header rows and body rows with their row/col spans (the plan's merges),
notes and the 空表说明. Amount cells carry their figure key and the printed figure. Spare input rows
(新增科目) are left out: they are for filling in, not for publishing. Nothing here knows a table's
layout; HTML, DOCX and the published-PDF check all render or read these views.

The 附件 forms (kind ``form``: 附件1, 附件2, one 附件3-n per project) are views too, one per sheet,
read off the same plan: 附件N line, title and 单位 line from the sheet's first three rows, every
row below as body (their headers sit inside the form, so a form has no repeated header rows), the
说明 as notes. Their cells print as the workbook shows them: amounts with 2 decimals, a 执行率 as a
percentage (0.00%), 分值/得分 with 2 decimals, a head count as a whole number, the 自评等级 computed
by the same expression the workbook's formula is compiled from, the unit's words (``text`` cells).
Spare indicator rows and spare project sheets carry nothing yet: they are left out, and so is a
form the data did not fill in (a 汇总's 附件2/3, a unit that has none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ..core.dataset import Dataset
from ..core.expr import Fig, evaluate
from ..core.layout import SheetPlan, WorkbookPlan, form_sections, grade_of, plan_workbook, section_codes, unit_line
from ..core.model import Figures
from ..core.money import fmt, q2
from ..core.spec import Spec, is_indicator_key

# the layout's cell styles, as printed
_KIND = {
    "header": "header", "label": "label", "label_total": "label_total", "line": "line", "code": "code",
    "blank": "blank", "amount_input": "amount", "amount_formula": "amount", "amount_total": "amount_total",
    # 附件 forms: figures centred as the workbook shows them, the unit's words, headers inside the body
    "percent_formula": "figure", "score_input": "figure", "score_formula": "figure", "count_input": "figure",
    "count_formula": "figure", "grade_formula": "figure", "text_input": "text",
    "area_input": "amount", "area_formula": "amount",
}  # count_input/count_formula: figures (above), printed whole
_PERCENT = {"percent_formula"}
_COUNT = {"count_input", "count_formula"}


@dataclass
class Cell:
    text: str
    kind: str  # header | label | label_total | line | code | amount | amount_total | blank | figure | text
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
    form: bool = False  # a 附件 form: its 附件N line above the title, on the left
    table: str = ""  # the spec table (附件3 for each 附件3-n sheet); findings name it

    def __post_init__(self) -> None:
        self.table = self.table or self.id

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
    codes = section_codes(spec, {t: r for t, r in ds.values.items() if t in spec.tables})
    codes.update(form_sections(spec, ds.values, ds.texts))
    return plan_workbook(spec, ds.unit_code, ds.unit_name, ds.year, codes, ds.names)


def figure_text(style: str, value: Decimal | None) -> str:
    """A figure as its cell shows it: an amount or a score with 2 decimals, a rate as 0.00%, a count whole."""
    if value is None:
        return ""
    if style in _PERCENT:
        return f"{q2(value * 100)}%"
    if style in _COUNT:
        return f"{value:,.0f}" if value == value.to_integral_value() else fmt(value)
    return amount_text(value)


def _grid(sh: SheetPlan, first: int, last: int, skip: set[int], figures: Figures | None,
          override: Mapping[Fig, Decimal], texts: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
          ) -> list[list[Cell]]:
    # a merge keeps its rows that are printed: its first printed row holds it (with the merge's own
    # cell), spanning the printed rows only (a spare row left out inside it shortens the span)
    spans: dict[tuple[int, int], tuple[int, int, tuple[int, int]]] = {}  # at -> rowspan, colspan, source
    covered: set[tuple[int, int]] = set()
    for r1, c1, r2, c2 in sh.merges:
        kept = [r for r in range(max(r1, first), min(r2, last) + 1) if r not in skip]
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                covered.add((r, c))
        if kept:
            spans[(kept[0], c1)] = (len(kept), c2 - c1 + 1, (r1, c1))
            covered.discard((kept[0], c1))
    rows: list[list[Cell]] = []
    ncols = len(sh.widths)
    for r in range(first, last + 1):
        if r in skip:
            continue
        out: list[Cell] = []
        for c in range(ncols):
            if (r, c) in covered:
                continue
            rowspan, colspan, source = spans.get((r, c), (1, 1, (r, c)))
            plan = sh.cells.get(source)
            cell = Cell("", "blank", rowspan, colspan, c)
            if plan is not None:
                cell.kind = _KIND.get(plan.style, "label")
                if plan.kind == "field" and plan.fig is not None:  # the unit's words (附件)
                    f = plan.fig
                    cell.text = (texts or {}).get(f.table, {}).get(f.row, {}).get(f.col, "")
                elif plan.calc and plan.calc[0] == "grade" and figures is not None:  # 自评等级
                    cell.text = grade_of(evaluate(plan.calc[1], figures))
                elif plan.fig is not None and figures is not None:
                    value = override.get(plan.fig)
                    if value is None:
                        f = plan.fig
                        value = figures.inputs.get(f.table, {}).get(f.row, {}).get(f.col)
                    if value is None:
                        value = figures.value(plan.fig.table, plan.fig.row, plan.fig.col)
                    cell.fig, cell.value, cell.text = plan.fig, value, figure_text(plan.style, value)
                else:
                    cell.text = plan.text
            out.append(cell)
        rows.append(out)
    return rows


def table_view(plan: WorkbookPlan, sh: SheetPlan, figures: Figures, statement: str | None,
               override: Mapping[Fig, Decimal] | None = None,
               texts: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None) -> TableView:
    """One table as printed; ``texts``: the unit's words of its text columns."""
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
        note = sh.cells.get((r, 0))
        if note is not None and note.kind == "text" and note.text:
            notes.append(note.text)
    view = TableView(
        id=t.id, title=t.title, number=t.number, unit_line=sh.cells[(2, 0)].text,
        money_line=unit_line(t),
        widths=list(sh.widths), header=_grid(sh, h0, h1, set(), None, {}),
        body=_grid(sh, h1 + 1, body_end, skip, figures, override, texts), notes=notes,
        statement=(statement or "") if t.statement else None,
        landscape=str(t.print.get("orientation", "landscape")) == "landscape", ncols=len(sh.widths))
    for row in view.body:
        for c in row:
            if c.fig is not None and c.value is not None:
                view.figs[c.fig] = c.value
    return view


def _spare_indicator_rows(sh: SheetPlan, ds: Dataset) -> set[int]:
    """Rows of indicators the data does not have (the spare rows left for adding one)."""
    t = sh.table
    assert t is not None
    have = set(ds.values.get(t.id, {})) | set(ds.texts.get(t.id, {}))
    keys: dict[int, set[str]] = {}
    for (r, _c), cell in sh.cells.items():
        if cell.fig is not None:
            keys.setdefault(r, set()).add(cell.fig.row)
    return {r for r, rows in keys.items() if all(is_indicator_key(k) and k not in have for k in rows)}


def form_view(sh: SheetPlan, figures: Figures, ds: Dataset, override: Mapping[Fig, Decimal] | None = None) -> TableView:
    """One 附件 form sheet as printed (附件1, 附件2, 附件3-n): see the module's docstring."""
    t = sh.table
    assert t is not None
    first_rows = {r: cell for (r, c), cell in sh.cells.items() if r <= 2 and c == 0}
    money = next((cell.text for (r, _c), cell in sh.cells.items() if r == 2 and cell.style == "unit_right"), "")
    note_rows = sorted({r for (r, _c), cell in sh.cells.items() if cell.style == "note"})
    body_end = (note_rows[0] - 1) if note_rows else sh.max_row
    notes = [sh.cells[(r, 0)].text for r in note_rows if sh.cells.get((r, 0)) is not None and sh.cells[(r, 0)].text]
    body = _grid(sh, 3, body_end, _spare_indicator_rows(sh, ds), figures, override or {}, ds.texts)
    view = TableView(
        id=sh.name, title=first_rows[1].text if 1 in first_rows else t.title,
        number=first_rows[0].text if 0 in first_rows else sh.name,
        unit_line=first_rows[2].text if 2 in first_rows else "", money_line=money, widths=list(sh.widths),
        header=[], body=body, notes=notes, statement=None,
        landscape=str(t.print.get("orientation", "landscape")) == "landscape", ncols=len(sh.widths), form=True,
        table=t.id)
    for row in view.body:
        for c in row:
            if c.fig is not None and c.value is not None:
                view.figs[c.fig] = c.value
    return view


def _carries_data(sh: SheetPlan, ds: Dataset) -> bool:
    """A form the data filled in: a figure other than 0 or a word (for 附件3, of this sheet's project).
    A form nobody filled (a 汇总 has no 附件2/3 of its own; a unit may not have filled one) is not
    published: its 总分 0 would print as 自评等级 差."""
    t = sh.table
    assert t is not None
    prefix = f"{sh.name.rpartition('-')[2]}:" if t.repeat else ""
    figures = any(v for r, cols in ds.values.get(t.id, {}).items() if r.startswith(prefix) for v in cols.values())
    words = any(w.strip() for r, cols in ds.texts.get(t.id, {}).items() if r.startswith(prefix) for w in cols.values())
    return figures or words


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
        if tables is not None and sh.table.id not in tables:
            continue
        if not sh.table.publish:  # filled in the workbook, printed as the 说明's sentences
            continue
        if sh.table.kind == "form":
            if _carries_data(sh, ds):
                out.append(form_view(sh, figures, ds, override))
            continue
        out.append(table_view(plan, sh, figures, ds.notes.get(sh.table.id), override, ds.texts))
    return out
