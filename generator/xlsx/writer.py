"""Write a plan as a locked .xlsx with formulas and correct cached results (xlsxwriter only here)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from .. import __version__
from ..core.calc import CellKey, formula_values
from ..core.dataset import Dataset
from ..core.expr import Fig, is_item_code
from ..core.findings import ERROR, INFO, Finding
from ..core.fsutil import atomic_write_bytes
from ..core.gcpause import gc_paused
from ..core.layout import (
    CODES,
    COVER,
    DRAFT,
    STYLE_FORMATS,
    CellPlan,
    WorkbookPlan,
    form_sections,
    item_code_list_range,
    plan_workbook,
    section_codes,
)
from ..core.model import Figures, is_formula_figure
from ..core.money import HALF_CENT, fmt
from ..core.rules import RuleResult
from ..core.spec import Spec, is_indicator_key
from .cellkinds import CellHandler

FONT = "宋体"
DEFAULT_PASSWORD = "juesuan"
MAX_AMOUNT = 1e12
MAX_COUNT = 1_000_000_000  # a count (人、辆、台（套）) the validation accepts

_STYLES: dict[str, dict[str, Any]] = {
    "title": {"bold": True, "font_size": 16, "align": "center", "valign": "vcenter", "font_name": "黑体"},
    "number": {"align": "right", "valign": "vcenter"},
    "unit_left": {"align": "left", "valign": "vcenter"},
    "unit_right": {"align": "right", "valign": "vcenter"},
    "header": {"bold": True, "align": "center", "valign": "vcenter", "text_wrap": True, "border": 1},
    "label": {"border": 1, "valign": "vcenter"},
    "label_total": {"border": 1, "valign": "vcenter", "bold": True},
    "line": {"border": 1, "align": "center", "valign": "vcenter"},
    "code": {"border": 1, "align": "left", "valign": "vcenter", "num_format": "@"},
    "blank": {"border": 1},
    "amount_input": {"border": 1, "num_format": "#,##0.00", "locked": False, "bg_color": "#FFF2CC"},
    "amount_formula": {"border": 1, "num_format": "#,##0.00", "hidden": True},
    "amount_total": {"border": 1, "num_format": "#,##0.00", "hidden": True, "bold": True},
    "code_input": {"border": 1, "num_format": "@", "locked": False, "bg_color": "#FFF2CC"},
    "name_formula": {"border": 1, "hidden": True},
    "code_total": {"border": 1, "align": "left", "valign": "vcenter", "num_format": "@", "bold": True},
    # spare rows: no border, no shading, zero not shown -- an unused spare row prints as nothing;
    # conditional formats (see _spare_formats) draw the row once a code is typed in
    "spare_code": {"num_format": "@", "locked": False, "valign": "vcenter"},
    "spare_name": {"locked": False, "valign": "vcenter"},
    "spare_input": {"num_format": "#,##0.00", "locked": False},
    "spare_formula": {"num_format": "#,##0.00;-#,##0.00;;@", "hidden": True},
    "note": {"text_wrap": True, "valign": "top"},
    "statement": {"text_wrap": True, "valign": "top", "locked": False, "bg_color": "#FFF2CC", "border": 1},
    "cover_label": {"border": 1, "bold": True, "align": "center", "valign": "vcenter"},
    "cover_value": {"border": 1, "valign": "vcenter"},
    "cover_input": {"border": 1, "valign": "vcenter", "locked": False, "bg_color": "#FFF2CC", "num_format": "@"},
    "guide": {"text_wrap": True, "valign": "top"},
    "check_id": {"border": 1, "valign": "vcenter"},
    "check_text": {"border": 1, "text_wrap": True, "valign": "vcenter"},
    "check_amount": {"border": 1, "num_format": "#,##0.00", "hidden": True},
    "check_tol": {"border": 1, "num_format": "0.000"},
    "check_status": {"border": 1, "align": "center", "hidden": True, "bold": True},
    "explain_input": {"border": 1, "text_wrap": True, "locked": False, "bg_color": "#FFF2CC"},
    "plain": {},
    # 附件 forms
    "percent_formula": {"border": 1, "num_format": STYLE_FORMATS["percent_formula"], "hidden": True, "align": "center"},
    "score_input": {"border": 1, "num_format": "0.00", "locked": False, "bg_color": "#FFF2CC", "align": "center"},
    "score_formula": {"border": 1, "num_format": "0.00", "hidden": True, "align": "center", "bold": True},
    "count_input": {"border": 1, "locked": False, "bg_color": "#FFF2CC", "align": "center"},
    "count_formula": {"border": 1, "hidden": True, "align": "center"},
    # an area (㎡): two decimals like an amount, its own prompt and validation
    "area_input": {"border": 1, "num_format": "#,##0.00", "locked": False, "bg_color": "#FFF2CC"},
    "area_formula": {"border": 1, "num_format": "#,##0.00", "hidden": True},
    "text_input": {"border": 1, "text_wrap": True, "valign": "vcenter", "locked": False, "bg_color": "#FFF2CC",
                   "num_format": "@"},
    "grade_formula": {"border": 1, "align": "center", "hidden": True, "bold": True},
}


@dataclass
class BuildResult:
    path: Path | None
    data: bytes
    plan: WorkbookPlan
    findings: list[Finding] = field(default_factory=list)
    results: list[RuleResult] = field(default_factory=list)


def _num(value: Decimal) -> float:
    """xlsx stores IEEE doubles; a 2-decimal Decimal converts to the nearest double exactly once."""
    return float(value)


def prepare_inputs(spec: Spec, ds: Dataset) -> tuple[dict[str, dict[str, dict[str, Decimal]]], list[Finding]]:
    """Split a data file into input figures and values given for formula cells (checked, not written)."""
    inputs: dict[str, dict[str, dict[str, Decimal]]] = {}
    given: list[tuple[str, str, str, Decimal]] = []
    findings: list[Finding] = []
    for tid, rows in ds.values.items():
        t = spec.tables.get(tid)
        if t is None:
            findings.append(Finding("data-unknown-table", ERROR, f"数据中的表 {tid} 不在模板中", table=tid))
            continue
        cols = set(t.col_keys())
        for row, vals in rows.items():
            known_row = t.row(row) is not None or (t.kind == "form" and is_indicator_key(row)) or (t.section is not None and (row.isdigit() and len(row) in (3, 5, 7)
                                                                                  or (t.section.total and row == t.section.total.key)))
            if not known_row:
                findings.append(Finding("data-unknown-row", ERROR, f"{tid} 没有行/科目 {row}，数据未导入", table=tid, row=row))
                continue
            for col, v in vals.items():
                if col not in cols:
                    findings.append(Finding("data-unknown-col", ERROR, f"{tid} 没有栏 {col}，数据未导入", table=tid, row=row, col=col))
                    continue
                if is_formula_figure(t, row, col):
                    given.append((tid, row, col, v))
                else:
                    found = t.row(row)
                    if found is not None and not found[1].input:
                        if v != 0:
                            findings.append(Finding("data-no-cell", ERROR, f"{tid} 行 {row} 栏 {col} 不填数，数据未导入",
                                                    table=tid, row=row, col=col, actual=fmt(v)))
                        continue
                    inputs.setdefault(tid, {}).setdefault(row, {})[col] = v
    figs = Figures(spec, inputs)
    for tid, row, col, v in given:
        computed = figs.value(tid, row, col)
        diff = abs(computed - v)
        if diff == 0:
            continue
        # band: the formula's figures are each ±0.005
        t = spec.tables[tid]
        n = 1 + _leaf_count(figs, t.id, row, col)
        sev = INFO if diff <= HALF_CENT * n else ERROR
        code = "data-formula-rounding" if sev == INFO else "data-formula-mismatch"
        msg = "给定数与公式计算数有尾数差异" if sev == INFO else "给定数与公式计算数不符（以公式为准）"
        findings.append(Finding(code, sev, msg, table=tid, row=row, col=col, expected=fmt(computed), actual=fmt(v)))
    return inputs, findings


def _leaf_count(figs: Figures, table: str, row: str, col: str) -> int:
    """How many typed-in figures a derived figure adds up (for its rounding band)."""
    from ..core.expr import cell_formula, compile_expr, terms

    t = figs.spec.tables[table]
    found = t.row(row)
    if found is None:
        return max(1, sum(1 for c in figs.item_codes(table) if c.startswith("" if row == "合计" else row)))
    formula = cell_formula(t, found[0].id, row, col)
    if formula is None:
        return 1
    node = compile_expr(formula[0], figs.spec, formula[1])
    return sum(1 for _ in terms(node))


_PREPARED: dict[tuple[str, bool, bool], str] = {}
_PREPARED_MAX = 16_384


class _Worksheet(Worksheet):
    """xlsxwriter's worksheet with its formula preparation memoised. ``_prepare_formula`` runs some
    thirty regex substitutions per formula (dynamic-array and future-function prefixes) and is a
    pure function of the formula text and two flags; a batch writes the same formulas again and
    again. (Should xlsxwriter rename the hook, this override is simply never called.)"""

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        key = (formula, bool(expand_future_functions), bool(self.use_future_functions))
        out = _PREPARED.get(key)
        if out is None:
            out = super()._prepare_formula(formula, expand_future_functions)
            if len(_PREPARED) >= _PREPARED_MAX:
                _PREPARED.clear()
            _PREPARED[key] = out
        return out


class _Workbook(xlsxwriter.Workbook):
    """xlsxwriter has no workbook structure lock: this writes ``<workbookProtection
    lockStructure="1">`` right after ``<workbookPr>`` of xl/workbook.xml as the workbook is written
    (where _lock_structure would otherwise rewrite the finished zip; the bytes are the same)."""

    structure_password: str | None = None
    structure_locked = False

    def _write_workbook_pr(self) -> None:
        super()._write_workbook_pr()
        if self.structure_password is not None:
            attrs = [("workbookPassword", _legacy_hash(self.structure_password))] if self.structure_password else []
            self._xml_empty_tag("workbookProtection", [*attrs, ("lockStructure", "1")])
            self.structure_locked = True


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook):
        self.wb = wb
        self._cache: dict[str, Any] = {}

    def __getitem__(self, style: str) -> Any:
        if style not in self._cache:
            props = {"font_name": FONT, "font_size": 10, **_STYLES.get(style, {})}
            self._cache[style] = self.wb.add_format(props)
        return self._cache[style]


def write_plan(plan: WorkbookPlan, inputs: dict[str, dict[str, dict[str, Decimal]]], ds: Dataset,
               password: str | None = None, cached: bool = True) -> tuple[bytes, list[RuleResult]]:
    """Write the workbook; ``cached=False`` writes 0 as every formula's cached result (tests use it
    to prove a spreadsheet engine recomputes the same figures on its own)."""
    spec = plan.spec
    password = DEFAULT_PASSWORD if password is None else password
    figures = Figures(spec, inputs)
    # values of input cells by position (for spare-row formulas) -- a new template has none there
    cell_inputs: dict[CellKey, Decimal] = {}
    values, results = formula_values(plan, figures, ds.notes, cell_inputs, {})
    if not cached:
        values = {k: (Decimal(0) if isinstance(v, Decimal) else "") for k, v in values.items()}
    buf = io.BytesIO()
    wb = _Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                         "strings_to_urls": False})
    wb.structure_password = password
    created = dt.datetime(plan.year + 1, 1, 1)
    wb.set_properties({"title": f"{plan.year}年度{spec.title}", "subject": plan.unit_name, "author": "juesuan",
                       "company": plan.unit_name, "created": created, "comments": f"juesuan {__version__}"})
    for k, v in plan.identity().items():
        wb.set_custom_property(f"juesuan.{k}", str(v))
    wb.set_custom_property("juesuan.generator", f"juesuan {__version__}")
    fmts = _Formats(wb)
    item_list = item_code_list_range(plan)
    for sh in plan.sheets:
        ws = wb.add_worksheet(sh.name, worksheet_class=_Worksheet)
        leaves = item_list if sh.spare is None or sh.table is None else item_code_list_range(plan, sh.table)
        _write_sheet(ws, sh, plan, fmts, values, inputs, ds, leaves)
        ws.protect(password, {"select_locked_cells": True, "select_unlocked_cells": True})
        if sh.state == "hidden":
            ws.hide()
        elif sh.state == "veryHidden":
            ws.very_hidden()
    first_table = next(i for i, s in enumerate(plan.sheets) if s.kind == "table")
    wb.worksheets()[first_table].activate()  # 公开01表
    wb.close()
    data = buf.getvalue()
    if not wb.structure_locked:  # xlsxwriter without the _write_workbook_pr hook: rewrite the zip
        data = _lock_structure(data, password)
    return data, results


class _CellWriter(CellHandler[None]):
    """Writes one sheet's planned cells, by kind (the dispatch the reader shares); remembers the runs
    of amount and code cells for their validations."""

    def __init__(self, ws: Worksheet, sh: Any, plan: WorkbookPlan, values: dict[CellKey, Any],
                 inputs: dict[str, dict[str, dict[str, Decimal]]], ds: Dataset):
        self.ws, self.sh, self.plan, self.values, self.inputs, self.ds = ws, sh, plan, values, inputs, ds
        self.f: Any = None  # the cell's format, set before each visit
        self.amount_runs: dict[tuple[int, bool], list[int]] = {}
        self.count_runs: dict[int, list[int]] = {}  # whole numbers (人、辆、台（套）)
        self.area_runs: dict[int, list[int]] = {}  # areas (㎡)
        self.code_runs: dict[int, list[int]] = {}

    def _string(self, r: int, c: int, text: str) -> None:
        if text:
            self.ws.write_string(r, c, text, self.f)
        else:
            self.ws.write_blank(r, c, None, self.f)

    def text(self, r: int, c: int, cell: CellPlan) -> None:
        self._string(r, c, cell.text)

    def number(self, r: int, c: int, cell: CellPlan) -> None:
        self.ws.write_number(r, c, float(cell.text), self.f)

    def formula(self, r: int, c: int, cell: CellPlan) -> None:
        v = self.values.get((self.sh.name, r, c))
        cached: Any = _num(v) if isinstance(v, Decimal) else (v if v is not None else 0)
        self.ws.write_formula(r, c, "=" + cell.formula, self.f, cached)

    def input(self, r: int, c: int, cell: CellPlan) -> None:
        v = None
        if cell.fig is not None:
            v = self.inputs.get(cell.fig.table, {}).get(cell.fig.row, {}).get(cell.fig.col)
        if v is not None:
            self.ws.write_number(r, c, _num(v), self.f)
        else:
            self.ws.write_blank(r, c, None, self.f)
        if cell.validate == "count":
            self.count_runs.setdefault(c, []).append(r)
        elif cell.validate == "area":
            self.area_runs.setdefault(c, []).append(r)
        else:
            self.amount_runs.setdefault((c, cell.negative), []).append(r)

    def code(self, r: int, c: int, cell: CellPlan) -> None:
        self.ws.write_blank(r, c, None, self.f)
        self.code_runs.setdefault(c, []).append(r)

    def field(self, r: int, c: int, cell: CellPlan) -> None:
        self._string(r, c, self.ds.text(cell.fig.table, cell.fig.row, cell.fig.col) if cell.fig is not None else "")

    def _filled(self, r: int, c: int, cell: CellPlan) -> None:
        self._string(r, c, _cell_text(cell, self.sh, self.plan, self.ds))

    note = cover = explain = _filled


def _merges(sh: Any) -> tuple[dict[tuple[int, int], tuple[int, int, int, int]], set[tuple[int, int]]]:
    """Each merged range by its first cell, and the cells the ranges cover besides their first."""
    merged_first: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    covered: set[tuple[int, int]] = set()
    for (r1, c1, r2, c2) in sh.merges:
        merged_first[(r1, c1)] = (r1, c1, r2, c2)
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                if (r, c) != (r1, c1):
                    covered.add((r, c))
    return merged_first, covered


def _write_sheet(ws: Worksheet, sh: Any, plan: WorkbookPlan, fmts: _Formats, values: dict[CellKey, Any],
                 inputs: dict[str, dict[str, dict[str, Decimal]]], ds: Dataset, item_list: str) -> None:
    for i, w in enumerate(sh.widths):
        ws.set_column(i, i, w)
    for r, h in sh.heights.items():
        ws.set_row(r, h)
    merged_first, covered = _merges(sh)
    writer = _CellWriter(ws, sh, plan, values, inputs, ds)
    write_string, write_blank = ws.write_string, ws.write_blank
    for (r, c), cell in sorted(sh.cells.items()):
        if (r, c) in covered:
            continue
        writer.f = f = fmts[cell.style]
        if (r, c) in merged_first:
            r1, c1, r2, c2 = merged_first[(r, c)]
            ws.merge_range(r1, c1, r2, c2, "", f)
            if cell.kind not in ("formula", "input", "field"):
                text = _cell_text(cell, sh, plan, ds)
                if text:
                    write_string(r, c, text, f)
                continue
        if cell.kind == "text":  # most cells: what writer.text does, without the dispatch
            if cell.text:
                write_string(r, c, cell.text, f)
            else:
                write_blank(r, c, None, f)
            continue
        writer.visit(r, c, cell)
    _validations(ws, writer, item_list, sh.table.leaf_words if sh.table is not None else "7 位项级")
    _sheet_setup(ws, sh, plan, fmts)


_AREA_VALIDATION = {
    "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": MAX_AMOUNT,
    "input_title": "请输入面积", "input_message": "单位：平方米（㎡），保留两位小数，不得为负数",
    "error_title": "面积有误", "error_message": "请输入数字面积（平方米），不得为负数。"}
_COUNT_VALIDATION = {
    "validate": "integer", "criteria": "between", "minimum": 0, "maximum": MAX_COUNT,
    "input_title": "请输入数量", "input_message": "填整数（人数、辆、台（套）等），不得为负数",
    "error_title": "数量有误", "error_message": "请输入不小于 0 的整数。"}


def _validations(ws: Worksheet, writer: _CellWriter, item_list: str, level_words: str = "7 位项级") -> None:
    """Amounts between 0 (or -MAX) and MAX, areas ≥ 0, counts whole ≥ 0; codes from the 项 list (a
    warning only: a new 科目 is allowed)."""
    amount_runs, area_runs, count_runs, code_runs = writer.amount_runs, writer.area_runs, writer.count_runs, writer.code_runs
    for (c, negative), rows in amount_runs.items():
        for a, b in _runs(sorted(rows)):
            ws.data_validation(a, c, b, c, {
                "validate": "decimal", "criteria": "between",
                "minimum": -MAX_AMOUNT if negative else 0, "maximum": MAX_AMOUNT,
                "input_title": "请输入金额", "input_message": "单位：万元，保留两位小数" + ("" if negative else "，不得为负数"),
                "error_title": "金额有误", "error_message": "请输入数字金额（万元）" + ("" if negative else "，不得为负数") + "。"})
    for runs, options in ((area_runs, _AREA_VALIDATION), (count_runs, _COUNT_VALIDATION)):
        for c, rows in runs.items():
            for a, b in _runs(sorted(rows)):
                ws.data_validation(a, c, b, c, options)
    for c, rows in code_runs.items():
        for a, b in _runs(sorted(rows)):
            if item_list:
                ws.data_validation(a, c, b, c, {
                    "validate": "list", "source": "=" + item_list,
                    "input_title": "新增科目", "input_message": f"从下拉列表选择 {level_words}科目代码；代码表中没有的科目，"
                                                                  "直接输入代码并在右侧名称格填写名称",
                    "error_type": "warning", "error_title": "科目代码不在代码表中",
                    "error_message": "代码表中没有这个代码。确属新增科目的，请在右侧名称格填写科目名称。"})


def _sheet_setup(ws: Worksheet, sh: Any, plan: WorkbookPlan, fmts: _Formats) -> None:
    """Spare rows' formats, the 审核 verdicts' colours, frozen panes, printing, the running header."""
    if sh.spare is not None:
        _spare_formats(ws, sh, fmts)
    if sh.kind == "check":
        last = max(sh.max_row, 2)
        for text, color in (("不通过", "#FFC7CE"), ("尾数差异", "#FFEB9C"), ("通过", "#C6EFCE")):
            ws.conditional_format(2, 7, last, 7, {"type": "cell", "criteria": "==", "value": f'"{text}"',
                                                   "format": fmts.wb.add_format({"bg_color": color})})
    if sh.freeze:
        ws.freeze_panes(*sh.freeze)
    _print_setup(ws, sh)
    # every printed page says which sheet it belongs to (the table number, 填报说明, 审核)
    running = sh.table.number if sh.kind == "table" and sh.table is not None else sh.name if sh.kind in ("guide", "check") else ""
    if running and plan.kind == DRAFT:
        running = f"草稿（未经审核） {running}"
    if running:
        ws.set_header(f"&C&\"{FONT}\"{running}")
        ws.set_footer("&C第 &P 页，共 &N 页")


ROWS_PER_PAGE = 38  # body rows a landscape A4 page holds at the scale a table sheet is printed
ONE_PAGE_ROWS = 60  # a sheet of up to this many rows is shrunk onto one page (公开01's 60 rows included)
MIN_LAST_PAGE = 6  # never leave fewer body rows than this alone on a table's last page


def _print_setup(ws: Worksheet, sh: Any) -> None:
    """A4 landscape, one page wide, header rows repeated, no gridlines; shading not printed (Excel
    and WPS honour "black and white"); a table of up to ONE_PAGE_ROWS rows on one page, a longer one
    broken so that no page holds only its last rows and notes."""
    if sh.landscape:
        ws.set_landscape()
    ws.set_paper(9)
    ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
    if sh.kind != "guide":  # LibreOffice scales a centred single wrapped column past the page
        ws.center_horizontally()
    ws.print_black_and_white()
    if sh.header_rows:
        ws.repeat_rows(0, sh.header_rows[1])
    last = sh.max_row
    if sh.state != "visible":
        return  # hidden sheets are not printed (a print area would make LibreOffice print them)
    ws.print_area(0, 0, last, max(sh.max_col, 0))
    if sh.kind != "table" or last + 1 <= ONE_PAGE_ROWS:
        ws.fit_to_pages(1, 1 if sh.kind in ("table", "cover") else 0)
        return
    ws.fit_to_pages(1, 0)
    body = (sh.header_rows[1] + 1) if sh.header_rows else 0
    end = sh.spare.first if sh.spare is not None else last + 1  # rows after the 科目 rows print blank
    breaks = list(range(body + ROWS_PER_PAGE, last + 1, ROWS_PER_PAGE))
    if breaks and end - breaks[-1] < MIN_LAST_PAGE:  # the last page keeps some 科目 rows with the notes
        breaks[-1] = max(body + 1, end - MIN_LAST_PAGE)
        if len(breaks) > 1 and breaks[-1] - breaks[-2] < MIN_LAST_PAGE:
            breaks.pop()
    ws.set_h_pagebreaks(breaks)


def _spare_formats(ws: Worksheet, sh: Any, fmts: _Formats) -> None:
    """Spare rows drawn only once used: a row whose code is typed gets the table's borders and its
    empty amount cells the input shading; of the unused rows only the next one's code cell is
    shaded (where to type). An unused spare row prints as nothing."""
    sp = sh.spare
    first, last = sp.first, sp.last
    cols = [sp.code_col, sp.name_col, *sp.value_cols.values()]
    c0, c1 = min(cols), max(cols)
    code = f"${_col(sp.code_col)}{first + 1}"
    above = f"${_col(sp.code_col)}{first}"
    border = fmts.wb.add_format({"border": 1})
    shade = fmts.wb.add_format({"bg_color": "#FFF2CC"})
    ws.conditional_format(first, c0, last, c1, {"type": "formula", "criteria": f"=LEN({code})>0", "format": border})
    for c in sp.value_cols.values():
        cell = f"{_col(c)}{first + 1}"
        ws.conditional_format(first, c, last, c, {"type": "formula", "criteria": f"=AND(LEN({code})>0,LEN({cell})=0)",
                                                  "format": shade})
    next_free = f"=AND(LEN({code})=0,OR(ROW()={first + 1},LEN({above})>0))"
    ws.conditional_format(first, sp.code_col, last, sp.code_col, {"type": "formula", "criteria": next_free, "format": shade})


def _col(c: int) -> str:
    from ..core.expr import col_letter

    return col_letter(c)


def _runs(nums: list[int]) -> list[tuple[int, int]]:
    from ..core.expr import _runs as runs

    return runs(nums)


def _cell_text(cell: CellPlan, sh: Any, plan: WorkbookPlan, ds: Dataset) -> str:
    if cell.kind == "text":
        return cell.text
    if cell.kind == "note" and sh.table is not None:
        return ds.notes.get(sh.table.id, "")
    if cell.kind == "cover":
        return cell.text
    if cell.kind == "explain":
        rid = cell.label.replace("差异说明 ", "")
        return ds.explanations.get(rid, "")
    return ""


_WB_PR = re.compile(rb"(<workbookPr[^>]*/>)")


def _followed_by(tag: bytes) -> Callable[[re.Match[bytes]], bytes]:
    """A replacement that keeps the match and puts ``tag`` right after it."""
    return lambda m: m.group(1) + tag


def _lock_structure(data: bytes, password: str) -> bytes:
    """xlsxwriter has no workbook structure lock: add <workbookProtection lockStructure="1"> to
    xl/workbook.xml, keeping every other part and the fixed zip timestamps byte for byte."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/workbook.xml":
                pw = f'workbookPassword="{_legacy_hash(password)}" ' if password else ""
                tag = f'<workbookProtection {pw}lockStructure="1"/>'.encode()
                body, n = _WB_PR.subn(_followed_by(tag), body, count=1)
                assert n == 1, "workbookPr not found"
            zi = zipfile.ZipInfo(info.filename, info.date_time)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            dst.writestr(zi, body)
    return out.getvalue()


def _legacy_hash(password: str) -> str:
    """The 16-bit legacy password hash Excel uses in workbookPassword/sheetProtection."""
    h = 0
    for i, ch in enumerate(password):
        v = ord(ch) << (i + 1)
        h ^= (v & 0x7FFF) | (v >> 15)
    h ^= len(password)
    h ^= 0xCE4B
    return f"{h:X}"


def build_workbook(spec: Spec, ds: Dataset, out: Path | None = None, key: str | None = None,
                   password: str | None = None, spare_rows: int | None = None, units: int = 1,
                   kind: str = "") -> BuildResult:
    """Build one unit's workbook from its data (or an empty Dataset for a blank template);
    ``units`` > 1 for a 汇总 of that many units (recorded, and the rounding band widened);
    ``kind`` 汇总 for a consolidated workbook (no 填报说明, no spare rows); ``spare_rows`` the
    number of spare rows per 科目 table (default: the spec's). (The cyclic garbage collector is
    paused meanwhile, :mod:`generator.core.gcpause`.)"""
    with gc_paused():
        return _build_workbook(spec, ds, out, key, password, spare_rows, units, kind)


def _build_workbook(spec: Spec, ds: Dataset, out: Path | None, key: str | None, password: str | None,
                    spare_rows: int | None, units: int, kind: str) -> BuildResult:
    inputs, findings = prepare_inputs(spec, ds)
    codes = section_codes(spec, {t: r for t, r in ds.values.items() if t in spec.tables})
    codes.update(form_sections(spec, ds.values, ds.texts))
    plan = plan_workbook(spec, ds.unit_code, ds.unit_name, ds.year or spec.year, codes, ds.names, key, ds.cover,
                         units, kind, spare_rows)
    data, results = write_plan(plan, inputs, ds, password)
    if out is not None:
        atomic_write_bytes(Path(out), data)
    return BuildResult(Path(out) if out else None, data, plan, findings, results)


__all__ = ["BuildResult", "build_workbook", "prepare_inputs", "write_plan", "Fig", "is_item_code", "CODES", "COVER"]
