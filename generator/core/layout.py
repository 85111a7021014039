"""The cell plan: spec + unit → every sheet, cell, merge and formula of the workbook.

Computed once and used by both the writer (to write) and the reader (to verify and to find the
figures), so cell positions cannot drift between them. Pure Python: no spreadsheet library.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any
from unicodedata import east_asian_width

from .. import __version__
from .expr import (
    BNode,
    Context,
    Fig,
    Items,
    _ranges,
    a1,
    cell_formula,
    col_letter,
    compile_expr,
    is_item_code,
    sheet_prefix,
    terms,
    to_excel,
)
from .guide import guide_text
from .resources import templates_root
from .rules import FAIL, PASS, SLIP, RuleInstance, expand_rules
from .spec import (
    DEFAULT_FIELD_LENGTH,
    DEFAULT_LEVELS,
    Block,
    CodeList,
    Column,
    FormCell,
    FormRow,
    HeaderCell,
    IndicatorBlock,
    Row,
    Spec,
    Table,
    form_grid,
    is_indicator_key,
    split_repeat,
)

TEMPLATES = templates_root()
COVER = "封面"
GUIDE = "填报说明"
CHECK = "审核"
CODES = "代码表"
META = "_meta"
DEFAULT_KEY = "juesuan-default-key"
COVER_FIELDS = ["单位名称", "单位代码", "年度", "单位负责人", "财务负责人", "填表人", "联系电话", "报送日期"]
COVER_INPUTS = COVER_FIELDS[3:]
CHECK_COLUMNS = ["序号", "审核内容", "类别", "左值", "右值", "差额", "容差", "结果", "差异说明"]
META_FIELDS = ["template", "version", "spec_hash", "unit_code", "unit_name", "year", "generator",
               "sections", "names", "fingerprint", "units", "kind", "spare_rows"]
# units: only on a 汇总 of more than 1; kind 汇总: a consolidated workbook (no 填报说明, no spare rows);
# spare_rows: only when a build chose another number of spare rows than the spec's
SUMMARY = "汇总"
DRAFT = "汇总草稿"  # a 汇总 with unapproved reports in it: 草稿 on its cover and every printed page
SUMMARY_KINDS = (SUMMARY, DRAFT)
MAX_SPARE_ROWS = 200
MAX_UNITS = 1_000_000


class LayoutError(ValueError):
    """A unit's data that cannot be laid out (e.g. an unknown 科目 without a name)."""


@dataclass
class CellPlan:
    kind: str  # text | input | formula | code | note | cover | explain
    style: str
    text: str = ""
    fig: Fig | None = None
    node: BNode | None = None
    formula: str = ""
    calc: tuple[Any, ...] = ()
    negative: bool = False
    validate: str = ""  # 'amount' | 'count' (a whole number ≥ 0) | 'area' (㎡) | 'code' | ''
    label: str = ""  # what the cell is, for messages (行/科目 and 栏)
    max_length: int = 0  # characters a text cell may hold (0: only the spreadsheet's own limit)


@dataclass
class SpareRows:
    table: str
    first: int
    last: int
    code_col: int
    name_col: int
    value_cols: dict[str, int]


@dataclass
class SheetPlan:
    name: str
    kind: str  # table | cover | guide | check | codes | meta
    table: Table | None = None
    cells: dict[tuple[int, int], CellPlan] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    heights: dict[int, float] = field(default_factory=dict)
    header_rows: tuple[int, int] | None = None
    freeze: tuple[int, int] | None = None
    state: str = "visible"  # visible | hidden | veryHidden
    spare: SpareRows | None = None
    statement_cell: tuple[int, int] | None = None
    landscape: bool = True
    lists: dict[str, tuple[int, int]] = field(default_factory=dict)  # (code sheet) a list's leaf rows

    def put(self, r: int, c: int, cell: CellPlan) -> None:
        self.cells[(r, c)] = cell

    def text(self, r: int, c: int, text: str, style: str) -> None:
        self.cells[(r, c)] = CellPlan("text", style, text=text)

    def merge(self, r1: int, c1: int, r2: int, c2: int) -> None:
        if (r1, c1) != (r2, c2):
            self.merges.append((r1, c1, r2, c2))

    @property
    def max_row(self) -> int:
        return max((r for r, _ in self.cells), default=0)

    @property
    def max_col(self) -> int:
        return max((c for _, c in self.cells), default=0)


@dataclass
class WorkbookPlan:
    spec: Spec
    unit_code: str
    unit_name: str
    year: int
    sections: dict[str, list[str]]
    names: dict[str, str]
    fingerprint: str
    sheets: list[SheetPlan] = field(default_factory=list)
    fig_cells: dict[Fig, tuple[str, int, int]] = field(default_factory=dict)
    spare: dict[str, SpareRows] = field(default_factory=dict)
    rule_instances: list[RuleInstance] = field(default_factory=list)
    rule_rows: dict[str, int] = field(default_factory=dict)
    units: int = 1  # units whose figures are summed here (a 汇总): widens the rounding band
    # (table, 项 code) -> row of the spare row a returned workbook carries that code in (set by the reader)
    used_spare: dict[tuple[str, str], int] = field(default_factory=dict, repr=False, compare=False)
    kind: str = ""  # 汇总: a consolidated workbook (nothing to fill: no guide, no spare rows)
    spare_rows: int | None = None  # spare rows per 科目 table; None: the spec's number
    # items_excel() results; only asked once every figure cell is placed (see _finish_formulas)
    _items_excel: dict[tuple[Items, str], str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _item_cells_memo: dict[tuple[str, str], list[tuple[str, tuple[str, int, int]]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def sheet(self, name: str) -> SheetPlan:
        for s in self.sheets:
            if s.name == name:
                return s
        raise KeyError(name)

    def identity(self) -> dict[str, Any]:
        return identity(self.spec.template, self.spec.version, self.spec.hash, self.unit_code, self.unit_name,
                        self.year, self.units, self.kind, self.spare_rows)

    # -- ExcelResolver
    def cell(self, f: Fig, sheet: str) -> tuple[str, int, int] | None:
        return self.fig_cells.get(f)

    def is_input(self, cell: tuple[str, int, int]) -> bool:
        """Is the cell typed in (its text would count in + and - but not in SUM)?"""
        for s in self.sheets:
            if s.name == cell[0]:
                found = s.cells.get((cell[1], cell[2]))
                return found is not None and found.kind == "input"
        return False

    def items_cell(self, it: Items) -> tuple[str, int, int] | None:
        t = self.spec.tables[it.table]
        sec = t.section
        row = it.prefix or (sec.total.key if sec and sec.total else "")
        return self.fig_cells.get(Fig(it.table, row, it.col))

    def items_excel(self, it: Items, sheet: str) -> str:
        key = (it, sheet)
        text = self._items_excel.get(key)
        if text is None:
            text = self._items_excel[key] = self._items_excel_uncached(it, sheet)
        return text

    def _item_cells(self, table: str, col: str) -> list[tuple[str, tuple[str, int, int]]]:
        """(code, cell) of the section's prefilled 项 rows in one column, in row order."""
        key = (table, col)
        found = self._item_cells_memo.get(key)
        if found is None:
            found = []
            t = self.spec.tables[table]
            test = is_indicator_key if t.kind == "form" else t.is_item
            for code in self.sections.get(table, []):
                if test(code):
                    cell = self.fig_cells.get(Fig(table, code, col))
                    if cell is not None:
                        found.append((code, cell))
            self._item_cells_memo[key] = found
        return found

    def _items_excel_uncached(self, it: Items, sheet: str) -> str:
        t = self.spec.tables[it.table]
        prefix = it.prefix
        cells = [cell for code, cell in self._item_cells(it.table, it.col) if code.startswith(prefix)]
        parts = _ranges(cells, sheet)
        sp = self.spare.get(it.table)
        if sp is not None and it.col in sp.value_cols:
            p = sheet_prefix(t.sheet, sheet)
            codes = f"{p}${_col(sp.code_col)}${sp.first + 1}:${_col(sp.code_col)}${sp.last + 1}"
            vals = f"{p}{_abs(sp.first, sp.value_cols[it.col])}:{_abs(sp.last, sp.value_cols[it.col])}"
            # the comma form: SUMPRODUCT counts text in the amounts as 0, as SUM does (the product
            # form (cond)*range would turn "12" into 12)
            leaf = t.leaf_len
            if it.prefix:
                cond = f'(LEFT({codes},{len(it.prefix)})="{it.prefix}")*(LEN({codes})={leaf})'
            else:
                cond = f"(LEN({codes})={leaf})*1"
            parts.append(f"SUMPRODUCT({cond},{vals})")
        if not parts:
            return "0"
        return f"SUM({','.join(parts)})" if len(parts) > 1 or ":" in parts[0] else parts[0]


def _col(c: int) -> str:
    return col_letter(c)


def _abs(r: int, c: int) -> str:
    return f"${_col(c)}${r + 1}"


def identity(template: str, version: str, spec_hash: str, unit_code: str, unit_name: str, year: int,
             units: int = 1, kind: str = "", spare_rows: int | None = None) -> dict[str, Any]:
    """What a workbook says it is (written to _meta and the document properties, fingerprinted).
    ``units``, ``kind`` and ``spare_rows`` only when not the default, so an ordinary unit's
    workbook is unchanged by them."""
    out: dict[str, Any] = {"template": template, "version": version, "spec_hash": spec_hash,
                           "unit_code": unit_code, "unit_name": unit_name, "year": year}
    if units != 1:
        out["units"] = units
    if kind:
        out["kind"] = kind
    if spare_rows is not None and not kind:
        out["spare_rows"] = spare_rows
    return out


def fingerprint(identity: dict[str, Any], sections: dict[str, list[str]], names: dict[str, str], key: str) -> str:
    payload = json.dumps({"identity": identity, "sections": sections, "names": names}, ensure_ascii=False, sort_keys=True)
    return hmac.new(key.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest()


def section_codes(spec: Spec, values: dict[str, dict[str, dict[str, Decimal]]]) -> dict[str, list[str]]:
    """The 科目 rows of each section table: codes the data names, with their ancestors in the
    section's code levels (类/款 of a 项)."""
    out: dict[str, list[str]] = {}
    for t in spec.tables.values():
        sec = t.section
        if not sec:
            continue
        codes: set[str] = set()
        for r in values.get(t.id, {}):
            if r.isdigit() and len(r) in sec.levels:
                codes.update(t.with_ancestors(r))
        out[t.id] = sorted(codes)
    return out


LINE_HEIGHT = 14.0  # points per line of 宋体 10–11 pt text


@lru_cache(maxsize=8192)
def text_width(text: str) -> int:
    """Width of text in column-width units (a CJK character counts two). Memoised: the guide's
    lines and most rule messages are the same for every unit of a round."""
    if text.isascii():
        return len(text)
    return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text)


def _indent(code: str, levels: tuple[int, ...] = DEFAULT_LEVELS) -> str:
    """Two spaces per level below the first (a 款 under its 类, a 项 under its 款)."""
    return "  " * (levels.index(len(code)) if len(code) in levels else 0)


def _name(spec: Spec, codelist: str | None, code: str, names: dict[str, str]) -> str | None:
    return names.get(code) or spec.code_name(codelist, code)


def _amount_cell(kind: str, fig: Fig, node: BNode | None, negative: bool, label: str, total: bool = False,
                 measure: str = "money") -> CellPlan:
    """A value cell of a table: money (万元) by default; a column's or row's ``measure`` count or area
    has its own style, validation and reader check; a percent (a share, always computed) is 0.00%."""
    if measure != "money":
        if kind == "formula" or measure == "percent":
            return CellPlan("formula", f"{measure}_formula", fig=fig, node=node, calc=("fig", fig), label=label)
        return CellPlan("input", f"{measure}_input", fig=fig, validate=measure, label=label)
    if kind == "formula":
        return CellPlan("formula", "amount_total" if total else "amount_formula", fig=fig, node=node,
                        calc=("fig", fig), label=label)
    return CellPlan("input", "amount_input", fig=fig, negative=negative, validate="amount", label=label)


def cell_measure(row: Row, col: Column) -> str:
    """What a table cell's figure measures: a share (percent) of its row or column wins, else the
    row's measure (a count row in a table of money), else its column's."""
    if "percent" in (row.measure, col.measure):
        return "percent"
    return row.measure or col.measure


def unit_line(t: Table) -> str:
    """The table's 单位 line: 单位：万元 when every figure is money, 金额单位：万元 beside counts or areas
    (their units in the header), nothing when no figure is money."""
    measures = {c.measure for b in t.blocks for c in b.value_columns} | {
        r.measure for b in t.blocks for r in b.rows if r.measure} - {"percent"}
    if measures <= {"money"}:
        return "单位：万元"
    return "金额单位：万元" if "money" in measures else ""


class _TableLayout:
    def __init__(self, plan: WorkbookPlan, t: Table, unit_name: str):
        self.plan, self.t, self.spec = plan, t, plan.spec
        self.sheet = SheetPlan(t.sheet, "table", table=t)
        self.unit_name = unit_name

    def build(self) -> SheetPlan:
        t, sh = self.t, self.sheet
        n = t.ncols
        for _header, blocks in t.groups:  # a column as wide as its widest cell of any row group
            widths = [c.width for b in blocks for c in b.columns]
            sh.widths = [max(a, b) for a, b in zip(sh.widths, widths, strict=True)] if sh.widths else widths
        sh.text(0, 0, t.title, "title")
        sh.merge(0, 0, 0, n - 1)
        sh.heights[0] = 30
        sh.text(1, n - 1, t.number, "number")
        sh.text(2, 0, f"单位：{self.unit_name}", "unit_left")
        sh.merge(2, 0, 2, max(0, n // 2 - 1))
        sh.text(2, n - 1, unit_line(t), "unit_right")
        r0 = 3
        self._header(r0, t.header)
        body = r0 + len(t.header)
        sh.header_rows = (r0, body - 1)
        sh.freeze = (body, 0)
        end = self._group(t.groups[0][1], body)
        for header, blocks in t.groups[1:]:  # a row group stacked under the one above, with its own header
            self._header(end, header)
            end = self._group(blocks, end + len(header))
        r = end
        for note in t.notes:
            sh.text(r, 0, note, "note")
            sh.merge(r, 0, r, n - 1)
            r += 1
        if t.statement:
            sh.put(r, 0, CellPlan("note", "statement", label="说明"))
            sh.merge(r, 0, r, n - 1)
            sh.heights[r] = 36
            sh.statement_cell = (r, 0)
        return sh

    def _group(self, blocks: list[Block], body: int) -> int:
        """A row group's blocks side by side from row ``body``; returns the row after it."""
        sh, n = self.sheet, self.t.ncols
        col0 = 0
        heights = []
        for b in blocks:
            heights.append(self._section(b, body, col0) if b.section else self._fixed(b, body, col0))
            col0 += len(b.columns)
        end = max(heights)
        # footers of fixed blocks go on the group's common last row
        if any(r.footer for b in blocks for r in b.rows):
            col0 = 0
            for b in blocks:
                self._footer(b, end, col0)
                col0 += len(b.columns)
            end += 1
        # empty bordered cells where a block is shorter than the group
        for r in range(body, end):
            for c in range(n):
                if (r, c) not in sh.cells:
                    sh.text(r, c, "", "blank")
        return end

    def _header(self, r0: int, header: list[list[HeaderCell]]) -> None:
        sh = self.sheet
        occupied: set[tuple[int, int]] = set()
        for r, cells in enumerate(header):
            c = 0
            for cell in cells:
                while (r, c) in occupied:
                    c += 1
                sh.text(r0 + r, c, cell.text, "header")
                for dr in range(cell.rowspan):
                    for dc in range(cell.colspan):
                        occupied.add((r + dr, c + dc))
                        if dr or dc:
                            sh.text(r0 + r + dr, c + dc, "", "header")
                sh.merge(r0 + r, c, r0 + r + cell.rowspan - 1, c + cell.colspan - 1)
                width = sum(sh.widths[c:c + cell.colspan]) if sh.widths else 10.0
                lines = -(-text_width(cell.text) // max(1, int(width * 0.9 - 1)))  # bold text wraps a bit early
                need = (lines * LINE_HEIGHT + 4) / cell.rowspan
                if need > sh.heights.get(r0 + r, 0):
                    sh.heights[r0 + r] = need
                c += cell.colspan

    def _value_cells(self, b: Block, row: Row, r: int, col0: int, formula_rows: bool) -> None:
        t, sh = self.t, self.sheet
        for i, c in enumerate(b.columns):
            if c.role != "value":
                continue
            key = c.key or ""
            fig = Fig(t.id, row.key, key)
            label = f"{row.label or row.key} 栏{key}"
            if not row.input and not row.formula:
                sh.text(r, col0 + i, "", "blank")
                continue
            found = cell_formula(t, b.id, row.key, key)
            if found:
                node = compile_expr(found[0], self.spec, found[1])
                sh.put(r, col0 + i, _amount_cell("formula", fig, node, False, label, row.style == "total",
                                                 cell_measure(row, c)))
            else:
                sh.put(r, col0 + i, _amount_cell("input", fig, None, row.negative or t.negative, label,
                                                 measure=cell_measure(row, c)))
            self.plan.fig_cells[fig] = (t.sheet, r, col0 + i)

    def _label_cells(self, b: Block, row: Row, r: int, col0: int) -> None:
        sh = self.sheet
        style = "label_total" if row.style == "total" else "label"
        for i, c in enumerate(b.columns):
            if c.role == "label":
                sh.text(r, col0 + i, row.label, style)
            elif c.role == "line":
                sh.text(r, col0 + i, row.key, "line")
            elif c.role == "code":
                sh.text(r, col0 + i, row.key if b.codelist and row.key.isdigit() else "", "code")
            elif c.role == "text":
                self._text_cell(row.key, c, r, col0 + i, row.input and not row.formula, row.label or row.key)
            elif c.role == "name":
                if b.codelist and row.key.isdigit():
                    name = _name(self.spec, b.codelist, row.key, self.plan.names) or row.label
                    cl = self.spec.codelists.get(b.codelist)
                    sh.text(r, col0 + i, _indent(row.key, cl.levels if cl else DEFAULT_LEVELS) + name, style)
                else:
                    sh.text(r, col0 + i, row.label, style)

    def _text_cell(self, row_key: str, c: Column, r: int, col: int, typed: bool, what: str) -> None:
        """A text column's cell: words the unit types in (a row with figures; a 科目 leaf), else blank."""
        if not typed:
            self.sheet.text(r, col, "", "blank")
            return
        self.sheet.put(r, col, CellPlan("field", "text_input", fig=Fig(self.t.id, row_key, c.key or ""),
                                        label=f"{what} {c.key}", max_length=c.max_length or DEFAULT_FIELD_LENGTH))

    def _fixed(self, b: Block, body: int, col0: int) -> int:
        r = body
        for row in b.rows:
            if row.footer:
                continue
            self._label_cells(b, row, r, col0)
            self._value_cells(b, row, r, col0, True)
            r += 1
        return r

    def _footer(self, b: Block, r: int, col0: int) -> None:
        sh = self.sheet
        for row in b.rows:
            if not row.footer:
                continue
            ci, ni = b.role_index("code"), b.role_index("name")
            style = "label_total"
            if ci is not None and ni is not None:
                sh.text(r, col0 + ci, row.label, style)
                sh.text(r, col0 + ni, "", style)
                sh.merge(r, col0 + ci, r, col0 + ni)
            else:
                self._label_cells(b, row, r, col0)
            self._value_cells(b, row, r, col0, True)

    def _section(self, b: Block, body: int, col0: int) -> int:
        t, sh, spec = self.t, self.sheet, self.spec
        ci, ni = b.role_index("code"), b.role_index("name")
        assert ci is not None and ni is not None and b.total is not None
        r = body
        total = b.total
        sh.text(r, col0 + ci, total.label or total.key, "label_total")
        sh.text(r, col0 + ni, "", "label_total")
        sh.merge(r, col0 + ci, r, col0 + ni)
        self._section_values(b, total.key, r, col0, total=True)
        r += 1
        codes = self.plan.sections.get(t.id, [])
        unnamed = [c for c in codes if _name(spec, b.codelist, c, self.plan.names) is None]
        if unnamed:
            raise LayoutError(f"{t.id}：科目代码 {'、'.join(unnamed)} 不在代码表中，数据也未给出名称（names）")
        for code in codes:
            name = _name(spec, b.codelist, code, self.plan.names) or ""
            leaf = t.is_item(code)
            style = "label" if leaf else "label_total"
            sh.text(r, col0 + ci, code, "code" if leaf else "code_total")
            sh.text(r, col0 + ni, _indent(code, b.levels) + name, style)
            self._section_values(b, code, r, col0, total=False)
            r += 1
        n_spare = 0 if self.plan.kind in SUMMARY_KINDS else b.spare_rows if self.plan.spare_rows is None else self.plan.spare_rows
        if n_spare:
            first = r
            value_cols = {}
            for _k in range(n_spare):
                code_cell = a1(r, col0 + ci)
                sh.put(r, col0 + ci, CellPlan("code", "spare_code", validate="code", label="新增科目代码"))
                formula = (f'IF({code_cell}="","",IFERROR(VLOOKUP({code_cell}&"",\'{CODES}\'!$A:$B,2,0),'
                           f'"（代码不在代码表中）"))')
                # unlocked: a 项 the code list lacks is typed with its name over the lookup
                sh.put(r, col0 + ni, CellPlan("formula", "spare_name", formula=formula, calc=("name", r, col0 + ci),
                                               label="新增科目名称"))
                for i, c in enumerate(b.columns):
                    if c.role != "value":
                        continue
                    value_cols[c.key or ""] = col0 + i
                    if c.formula:
                        node = compile_expr(c.formula, spec, Context(t.id, SPARE_CODE, c.key))
                        sh.put(r, col0 + i, CellPlan("formula", "spare_formula", node=node,
                                                      calc=("spare", r), label=f"新增科目 栏{c.key}"))
                    else:  # a count or area column's spare cells are asked and checked as such
                        sh.put(r, col0 + i, CellPlan("input", "spare_input", negative=t.negative,
                                                      validate="amount" if c.measure == "money" else c.measure,
                                                      label=f"新增科目 栏{c.key}"))
                r += 1
            sp = SpareRows(t.id, first, r - 1, col0 + ci, col0 + ni, value_cols)
            sh.spare = sp
            self.plan.spare[t.id] = sp
        return r

    def _section_values(self, b: Block, row_key: str, r: int, col0: int, total: bool) -> None:
        t, sh = self.t, self.sheet
        for i, c in enumerate(b.columns):
            if c.role == "text":  # words on a 科目 leaf's row only
                self._text_cell(row_key, c, r, col0 + i, not total and t.is_item(row_key), row_key)
            if c.role != "value":
                continue
            key = c.key or ""
            fig = Fig(t.id, row_key, key)
            label = f"{row_key} 栏{key}"
            self.plan.fig_cells[fig] = (t.sheet, r, col0 + i)
            if c.formula:  # bold on 合计/类/款 rows like the other columns of the row
                sh.put(r, col0 + i, _amount_cell("formula", fig, None, False, label, total or not t.is_item(row_key),
                                                 c.measure))
                sh.cells[(r, col0 + i)].calc = ("colformula", c.formula)
            elif total:
                sh.put(r, col0 + i, _amount_cell("formula", fig, None, False, label, True, c.measure))
                sh.cells[(r, col0 + i)].calc = ("rowformula", b.total.formula if b.total else "sum(items)")
            elif not t.is_item(row_key):
                sh.put(r, col0 + i, _amount_cell("formula", fig, None, False, label, True, c.measure))
                sh.cells[(r, col0 + i)].calc = ("rowformula", (b.subtotal or "sum(items {code})").format(code=row_key))
            else:
                sh.put(r, col0 + i, _amount_cell("input", fig, None, t.negative, label, measure=c.measure))


GRADES = ((90, "优"), (80, "良"), (60, "中"))
"""自评等级 from the 总分: ≥90 优, ≥80 良, ≥60 中, else 差 (the usual 财政 绩效 bands)."""


def grade_of(score: Decimal) -> str:
    for floor, name in GRADES:
        if score >= floor:
            return name
    return "差"


def grade_excel(x: str) -> str:
    out = '"差"'
    for floor, name in reversed(GRADES):
        out = f'IF({x}>={floor},"{name}",{out})'
    return out


FORM_STYLES = {"amount": "amount", "percent": "percent", "score": "score", "count": "count", "area": "area"}
STYLE_FORMATS = {"percent_formula": "0.00%"}
"""Number formats other than the amount formats that a cell style is written with; the reader
accepts exactly these on those cells. A 执行率/控制率 is rounded to 4 places by its formula, so
0.00% shows the stored value exactly."""


def form_sections(spec: Spec, values: dict[str, dict[str, Any]], texts: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The variable rows of each form table from a unit's data, recorded like 科目 rows (in _meta,
    fingerprinted): indicator rows ``"1"…"n"`` then the spare ones; in a repeated table (附件3) a
    marker ``"p:"`` per project then its rows ``"p:1"…``, projects ``1…P`` then the spare ones."""
    out: dict[str, list[str]] = {}
    for t in spec.tables.values():
        if t.kind != "form":
            continue
        keys = set(values.get(t.id, {})) | set(texts.get(t.id, {}))
        spare = t.indicators.spare_rows if t.indicators is not None else 0
        if t.repeat is None:
            n = max((int(k) for k in keys if is_indicator_key(k)), default=0)
            out[t.id] = [str(i) for i in range(1, n + spare + 1)] if t.indicators is not None else []
            continue
        counts: dict[int, int] = {}
        for k in keys:
            p, rest = split_repeat(k)
            if p:
                counts.setdefault(int(p), 0)
                if rest.isdigit():
                    counts[int(p)] = max(counts[int(p)], int(rest))
        last = max(counts, default=0)
        rows: list[str] = []
        for project in range(1, last + t.spare_repeats + 1):
            rows.append(f"{project}:")
            if t.indicators is not None:
                rows.extend(f"{project}:{i}" for i in range(1, counts.get(project, 0) + spare + 1))
        out[t.id] = rows
    return out


def form_projects(plan: WorkbookPlan, t: Table) -> list[str]:
    """Project prefixes of a repeated form in the plan ("" alone for a plain form)."""
    if t.repeat is None:
        return [""]
    return [k for k in plan.sections.get(t.id, []) if k.endswith(":")]


def form_sheet_name(t: Table, prefix: str) -> str:
    return f"{t.sheet}-{prefix[:-1]}" if prefix else t.sheet


class _FormLayout:
    """A form table (附件1–3): the spec's rows of cells placed like an HTML table, the indicator
    block expanded to the unit's rows; in a repeated table one sheet per project."""

    def __init__(self, plan: WorkbookPlan, t: Table, prefix: str):
        self.plan, self.t, self.spec, self.prefix = plan, t, plan.spec, prefix
        self.sheet = SheetPlan(form_sheet_name(t, prefix), "table", table=t)

    def _fmt(self, text: str) -> str:
        return text.replace("{year}", str(self.plan.year)).replace("{prev}", str(self.plan.year - 1))

    def build(self) -> SheetPlan:
        t, sh, plan = self.t, self.sheet, self.plan
        n = t.ncols
        sh.widths.extend(t.widths)
        sh.text(0, 0, t.number, "unit_left")
        sh.text(1, 0, self._fmt(t.title), "title")
        sh.merge(1, 0, 1, n - 1)
        sh.heights[1] = 30
        sh.text(2, 0, f"单位：{plan.unit_name}", "unit_left")
        sh.merge(2, 0, 2, max(0, n // 2 - 1))
        sh.text(2, n - 1, "金额单位：万元", "unit_right")
        r = 3
        indicator_keys = [k for k in plan.sections.get(t.id, []) if is_indicator_key(k)
                          and split_repeat(k)[0] + (":" if ":" in k else "") == self.prefix]
        covered: set[tuple[int, int]] = set()
        for fr, placed in zip(t.form, form_grid(t), strict=True):
            if fr.indicators is not None:
                r = self._indicator_rows(r, fr.indicators, placed, indicator_keys)
                continue
            self._form_row(r, fr, placed, covered)
            r += 1
        for note in t.notes:
            sh.text(r, 0, self._fmt(note), "note")
            sh.merge(r, 0, r, n - 1)
            r += 1
        for rr in range(3, r):  # every cell of the form bordered
            for c in range(n):
                if (rr, c) not in sh.cells and (rr, c) not in covered:
                    sh.text(rr, c, "", "blank")
        return sh

    def _indicator_rows(self, r: int, ind: IndicatorBlock, placed: list[tuple[int, FormCell]],
                        indicator_keys: list[str]) -> int:
        """The unit's indicator rows of an indicator block, under the block's merged label; the next row."""
        sh = self.sheet
        first = r
        for key in indicator_keys:
            for c, cell in placed:
                self._cell(r, c, cell, key, "指标")
            r += 1
        if ind.label and indicator_keys:
            sh.text(first, 0, ind.label, "header")
            for rr in range(first + 1, r):
                sh.text(rr, 0, "", "header")
            sh.merge(first, 0, r - 1, 0)
        return r

    def _form_row(self, r: int, fr: FormRow, placed: list[tuple[int, FormCell]], covered: set[tuple[int, int]]) -> None:
        """One fixed row of a form: its cells, their spans merged (the cells a span covers noted)."""
        sh = self.sheet
        for c, cell in placed:
            self._cell(r, c, cell, fr.key, fr.style)
            if cell.colspan > 1 or cell.rowspan > 1:
                for dr in range(cell.rowspan):
                    for dc in range(cell.colspan):
                        if not (dr or dc):
                            continue
                        if cell.kind == "text":
                            sh.text(r + dr, c + dc, "", self._style(cell, fr.style))
                        else:  # covered by an input/formula cell: takes that cell's format, not planned
                            covered.add((r + dr, c + dc))
                sh.merge(r, c, r + cell.rowspan - 1, c + cell.colspan - 1)
        if fr.height:
            sh.heights[r] = float(fr.height)

    @staticmethod
    def _style(cell: FormCell, row_style: str) -> str:
        return "header" if row_style == "header" else "label"

    def _cell(self, r: int, c: int, cell: FormCell, key: str | None, row_style: str) -> None:
        t, sh, plan = self.t, self.sheet, self.plan
        if cell.kind == "text":
            sh.text(r, c, self._fmt(cell.key), self._style(cell, row_style))
            return
        assert key is not None
        row = key if row_style == "指标" else self.prefix + key
        fig = Fig(t.id, row, cell.key)
        what = f"指标{split_repeat(row)[1]}" if row_style == "指标" else split_repeat(row)[1]
        label = f"{what} {cell.key}"
        fmt = FORM_STYLES.get(cell.fmt, "amount")
        if cell.kind == "field":
            sh.put(r, c, CellPlan("field", "text_input", fig=fig, label=label,
                                  max_length=cell.max_length or DEFAULT_FIELD_LENGTH))
            return
        if cell.kind == "grade":
            node = compile_expr(cell.key, self.spec, Context(t.id, row, ""))
            sh.put(r, c, CellPlan("formula", "grade_formula", node=node, calc=("grade", node), label=label))
            return
        plan.fig_cells[fig] = (sh.name, r, c)
        if cell.formula:
            node = compile_expr(cell.formula, self.spec, Context(t.id, row, cell.key))
            sh.put(r, c, CellPlan("formula", f"{fmt}_formula", fig=fig, node=node, calc=("fig", fig), label=label))
        else:
            sh.put(r, c, CellPlan("input", f"{fmt}_input", fig=fig, validate=fmt if fmt in ("count", "area") else "amount",
                                  label=label))


def _finish_formulas(plan: WorkbookPlan, sheets: list[SheetPlan] | None = None) -> None:
    """Compile every formula cell to Excel text once all figure cells are placed (of ``sheets``
    only, when given: sheets reused by _reuse_fixed are finished already)."""
    spec = plan.spec
    for sh in plan.sheets if sheets is None else sheets:
        if sh.kind != "table":
            continue
        for (r, _c), cell in sh.cells.items():
            if cell.kind != "formula" or cell.formula:
                continue
            if cell.calc and cell.calc[0] in ("colformula", "rowformula"):
                fig = cell.fig
                assert fig is not None
                expand = cell.calc[0] == "rowformula"
                cell.node = compile_expr(cell.calc[1], spec, Context(fig.table, fig.row, fig.col))
                cell.calc = ("fig", fig)
                if expand:
                    cell.formula = to_excel(cell.node, _Expand(plan), sh.name)
                    continue
            if cell.calc and cell.calc[0] == "grade":
                assert cell.node is not None
                cell.formula = grade_excel(to_excel(cell.node, plan, sh.name))
                continue
            if cell.calc and cell.calc[0] == "spare":
                assert sh.spare is not None and cell.node is not None
                cell.formula = to_excel(cell.node, _SpareResolver(r, sh.spare), sh.name)
                continue
            assert cell.node is not None
            cell.formula = to_excel(cell.node, plan, sh.name)


# kept sheets per spec (a sheet of cell plans is ~100 KB): the fixed tables', and a table's with a 科目
# or indicator list once a second unit has it (the first sighting notes only its hash, _SEEN_MAX of them)
_FIXED_MAX = 128
_SEEN_MAX = 100_000
UNIT_CELL = (2, 0)  # the "单位：…" cell of a table sheet: the only cell of a kept sheet that names the unit
_KEPT_CALCS = ("fig", "grade", "spare", "name")  # finished formulas whose text depends on their own sheet only


def _fixed_key(plan: WorkbookPlan, t: Table, prefix: str = "") -> tuple[Any, ...]:
    """What a table's sheet depends on besides the unit name: the table (and project, of a repeated
    form), its 科目 or indicator rows, the data-given names of its code rows, the year (a form's
    title), the kind of workbook and its spare rows. The memo per (spec, table, 科目 list) a round
    of varied units reuses: a unit whose 科目 list of a table another unit had gets that sheet."""
    keys = {r.key for _b, r in t.fixed_rows()} | set(plan.sections.get(t.id, []))
    return (t.id, prefix, tuple(plan.sections.get(t.id, [])), tuple((k, v) for k, v in plan.names.items() if k in keys),
            plan.year, plan.kind, plan.spare_rows)


def _reuse_fixed(plan: WorkbookPlan, t: Table, prefix: str = "") -> SheetPlan | None:
    """A table's sheet laid out for an earlier unit with the same key (_fixed_key), copied: the
    same but for the unit name (its cell plans are finished and never changed)."""
    hit: tuple[SheetPlan, dict[Fig, tuple[str, int, int]]] | None = plan.spec.cache("fixed_sheets").get(
        _fixed_key(plan, t, prefix))
    if hit is None:
        return None
    sheet, figs = hit
    cells = dict(sheet.cells)
    unit = cells[UNIT_CELL]
    cells[UNIT_CELL] = CellPlan(unit.kind, unit.style, text=f"单位：{plan.unit_name}")
    plan.fig_cells.update(figs)
    if sheet.spare is not None:
        plan.spare[t.id] = sheet.spare
    return replace(sheet, cells=cells, merges=list(sheet.merges), widths=list(sheet.widths), heights=dict(sheet.heights))


def _remember_fixed(plan: WorkbookPlan, sheet: SheetPlan, prefix: str = "") -> None:
    """Keep a freshly laid out table's sheet for _reuse_fixed when nothing in it depends on other
    tables' rows: its formulas are over its own cells and over tables without 科目 or indicator rows."""
    t = sheet.table
    if t is None or UNIT_CELL not in sheet.cells or sheet.cells[UNIT_CELL].text != f"单位：{plan.unit_name}":
        return
    for cell in sheet.cells.values():
        if cell.kind == "formula":
            if not cell.formula or not cell.calc or cell.calc[0] not in _KEPT_CALCS:
                return
            for term in terms(cell.node) if cell.node is not None else ():
                other = plan.spec.tables[term.table]
                if other is not t and (isinstance(term, Items) or other.section is not None or other.kind == "form"):
                    return
    memo, key = plan.spec.cache("fixed_sheets"), _fixed_key(plan, t, prefix)
    if len(memo) >= _FIXED_MAX or (plan.sections.get(t.id) and not _seen_before(plan.spec, key)):
        return
    figs = {f: pos for f, pos in plan.fig_cells.items() if pos[0] == sheet.name}
    memo[key] = (replace(sheet, cells=dict(sheet.cells), merges=list(sheet.merges), widths=list(sheet.widths),
                         heights=dict(sheet.heights)), figs)  # not the plan's own object


def _seen_before(spec: Spec, key: tuple[Any, ...]) -> bool:
    """Has an earlier unit had this sheet key? (Noted now if not: by hash, the memo stays small.)"""
    seen = spec.cache("sheet_keys_seen")
    h = hash(key)
    if h in seen:
        return True
    if len(seen) >= _SEEN_MAX:
        seen.clear()
    seen[h] = True
    return False


SPARE_CODE = "9999999"  # the row key a spare row's column formula is bound with


class _Expand:
    """A section row's own subtotal formula: always the expansion over its 项 rows."""

    def __init__(self, plan: WorkbookPlan):
        self.plan = plan

    def cell(self, f: Fig, sheet: str) -> tuple[str, int, int] | None:
        return self.plan.cell(f, sheet)

    def is_input(self, cell: tuple[str, int, int]) -> bool:
        return self.plan.is_input(cell)

    def items_cell(self, it: Items) -> None:
        return None

    def items_excel(self, it: Items, sheet: str) -> str:
        return self.plan.items_excel(it, sheet)


class _SpareResolver:
    """Column formulas on a spare row refer to the other cells of that same row."""

    def __init__(self, row: int, spare: SpareRows):
        self.row, self.spare = row, spare

    def cell(self, f: Fig, sheet: str) -> None:
        return None

    def items_cell(self, it: Items) -> None:
        return None

    def items_excel(self, it: Items, sheet: str) -> str:
        return f"N({a1(self.row, self.spare.value_cols[it.col])})"


def _cover(plan: WorkbookPlan, extra: dict[str, str]) -> SheetPlan:
    sh = SheetPlan(COVER, "cover", widths=[18, 48], landscape=False)
    sh.text(0, 0, f"{plan.year}年度{plan.spec.title}" + ("（草稿：含未经审核的报表，不得上报或公开）" if plan.kind == DRAFT else ""),
            "title")
    sh.merge(0, 0, 0, 1)
    sh.heights[0] = 36
    fixed = {"单位名称": plan.unit_name, "单位代码": plan.unit_code, "年度": str(plan.year)}
    for i, name in enumerate(COVER_FIELDS):
        r = 2 + i
        sh.text(r, 0, name, "cover_label")
        if name in fixed:
            sh.text(r, 1, fixed[name], "cover_value")
        else:
            sh.put(r, 1, CellPlan("cover", "cover_input", text=extra.get(name, ""), label=name))
    return sh


def _guide(plan: WorkbookPlan) -> SheetPlan:
    has_sections = any(plan.sections.get(t.id) for t in plan.spec.tables.values() if t.section)
    text = guide_text(plan.spec, plan.unit_name, plan.unit_code, has_sections)  # no Jinja2 when prerendered
    width = 110  # fits a landscape A4 page as it is (no scaling needed)
    sh = SheetPlan(GUIDE, "guide", widths=[width], landscape=True)
    for i, line in enumerate(x for x in text.splitlines() if x.strip()):
        sh.text(i, 0, line, "title" if i == 0 else "guide")
        if i:
            sh.heights[i] = -(-text_width(line) // (width - 4)) * LINE_HEIGHT + 3
        else:
            sh.heights[i] = 30
    return sh


def _check(plan: WorkbookPlan) -> SheetPlan:
    sh = SheetPlan(CHECK, "check", widths=[6, 60, 6, 14, 14, 12, 8, 10, 40])
    sh.text(0, 0, "审核结果（实时计算，填报时请保持全部“通过”）", "title")
    sh.merge(0, 0, 0, len(CHECK_COLUMNS) - 1)
    for c, name in enumerate(CHECK_COLUMNS):
        sh.text(1, c, name, "header")
    sh.header_rows = (1, 1)
    sh.freeze = (2, 0)
    r = 2
    filled: dict[str, str] = {}
    for idx, inst in enumerate(plan.rule_instances):
        sh.text(r, 0, str(idx + 1), "check_id")
        sh.text(r, 1, inst.message, "check_text")
        lines = -(-text_width(inst.message) // 90)
        if lines > 1:
            sh.heights[r] = lines * LINE_HEIGHT + 2
        sh.text(r, 2, "强制" if inst.severity == "error" else "提示", "check_id")
        left, right = _check_sides(plan, inst, sh.name)
        L, R, D, T = a1(r, 3), a1(r, 4), a1(r, 5), a1(r, 6)
        sh.put(r, 3, CellPlan("formula", "check_amount", formula=left, calc=("rule", idx, "left")))
        sh.put(r, 4, CellPlan("formula", "check_amount", formula=right, calc=("rule", idx, "right")))
        sh.put(r, 5, CellPlan("formula", "check_amount", formula=f"{L}-{R}", calc=("rule", idx, "diff")))
        sh.put(r, 6, CellPlan("number", "check_tol", text=format(inst.tolerance * plan.units, "f")))
        status = _status_formula(inst, L, R, D, T)
        if inst.rule.when:
            if inst.rule.when not in filled:  # the same few tables for many rules
                filled[inst.rule.when] = _filled(plan, inst.rule.when, sh.name)
            status = f'IF({filled[inst.rule.when]}=0,"{PASS}",{status})'
        sh.put(r, 7, CellPlan("formula", "check_status", formula=status, calc=("rule", idx, "status")))
        if inst.severity != "error":
            sh.put(r, 8, CellPlan("explain", "explain_input", label=f"差异说明 {inst.id}"))
        else:
            sh.text(r, 8, "", "check_text")
        plan.rule_rows[inst.id] = r
        r += 1
    return sh


def _check_sides(plan: WorkbookPlan, inst: RuleInstance, sheet: str) -> tuple[str, str]:
    spec = plan.spec
    rule = inst.rule
    if rule.kind == "compare" and inst.node is not None:
        # over tables without a 科目 section only, the cells are the same for every unit: the
        # Excel text is kept per spec (keyed by instance id and sheet)
        memo = spec.cache("check_sides")
        key = (inst.id, sheet)
        sides = memo.get(key)
        if sides is None:
            sides = (to_excel(inst.node.left, plan, sheet), to_excel(inst.node.right, plan, sheet))
            if all(isinstance(t, Fig) and spec.tables[t.table].section is None and spec.tables[t.table].kind != "form"
                   for t in terms(inst.node)):
                memo[key] = sides
        return sides
    if rule.kind == "subset":
        of, inn = plan.spare.get(rule.of or ""), plan.spare.get(rule.in_ or "")
        of_codes = _code_range(plan, rule.of or "", sheet)
        in_codes = _code_range(plan, rule.in_ or "", sheet)
        if of is None or inn is None or not of_codes or not in_codes:
            return "0", "0"
        leaf = spec.tables[rule.of or ""].leaf_len
        return f"SUMPRODUCT((LEN({of_codes})={leaf})*(COUNTIF({in_codes},{of_codes})=0))", "0"
    # statement
    t = spec.tables[rule.table or ""]
    inputs = []
    tsheet = plan.sheet(t.sheet)
    for (r, c), cell in tsheet.cells.items():
        if cell.kind == "input":
            inputs.append((t.sheet, r, c))
    rng = _ranges(inputs, sheet)
    left = "+".join(f'SUMIF({x},">0")-SUMIF({x},"<0")' for x in rng) or "0"
    st = tsheet.statement_cell
    right = f"LEN(TRIM({sheet_prefix(t.sheet, sheet)}{a1(*st)}))" if st else "0"
    return left, right


def _filled(plan: WorkbookPlan, table: str, sheet: str) -> str:
    """Excel: the sum of the absolute typed-in figures of a table (0 = not filled in)."""
    t = plan.spec.tables[table]
    inputs = [(s.name, r, c) for s in plan.sheets if s.table is t for (r, c), cell in s.cells.items()
              if cell.kind == "input"]
    # SUMIF skips text (ABS of a number typed as text would be #VALUE!): text counts 0, as everywhere
    return "+".join(f'SUMIF({x},">0")-SUMIF({x},"<0")' for x in _ranges(inputs, sheet)) or "0"


def _code_range(plan: WorkbookPlan, table: str, sheet: str) -> str:
    """The whole code column of a section (prefilled and spare rows)."""
    t = plan.spec.tables[table]
    sp = plan.spare.get(table)
    if sp is None:
        return ""
    tsheet = plan.sheet(t.sheet)
    first = tsheet.header_rows[1] + 2 if tsheet.header_rows else sp.first  # after the 合计 row
    p = sheet_prefix(t.sheet, sheet)
    return f"{p}${_col(sp.code_col)}${first + 1}:${_col(sp.code_col)}${sp.last + 1}"


def _status_formula(inst: RuleInstance, L: str, R: str, D: str, T: str) -> str:
    kind = inst.rule.kind
    if kind == "subset":
        return f'IF({L}=0,"{PASS}","{FAIL}")'
    if kind == "statement":
        return f'IF(OR({L}>0,{R}>0),"{PASS}","{FAIL}")'
    assert inst.node is not None
    op = inst.node.op
    if op == "=":
        bad = f"ROUND(ABS({D}),6)"
    elif op == "<=":
        bad = f"ROUND({D},6)"
    elif op == ">=":
        bad = f"ROUND(-{D},6)"
    elif op == "<":
        bad = f"ROUND({D}+0.01,6)"
    else:
        bad = f"ROUND(-{D}+0.01,6)"
    return f'IF({bad}<=0,"{PASS}",IF({bad}<={T},"{SLIP}","{FAIL}"))'


def _codes_sheet(plan: WorkbookPlan) -> SheetPlan:
    """Hidden code list: 7-digit 项 codes first (one contiguous range for the spare rows' list
    validation), then every other code, each with its name."""
    sh = SheetPlan(CODES, "codes", widths=[12, 40], state="hidden")
    sh.text(0, 0, "代码", "plain")
    sh.text(0, 1, "名称", "plain")
    entries: dict[str, str] = {}
    for cl in plan.spec.codelists.values():
        for code, name in cl.codes.items():
            entries.setdefault(code, name)
    for code, name in plan.names.items():
        entries.setdefault(code, name)
    items = sorted(c for c in entries if is_item_code(c))
    rest = [c for c in entries if not is_item_code(c)]
    for r, code in enumerate(items + rest, start=1):
        sh.text(r, 0, code, "plain")
        sh.text(r, 1, entries[code], "plain")
    r = len(items) + len(rest) + 1
    for cl in _leaf_lists(plan.spec):  # a section over a list of other levels: its leaves again, together
        sh.lists[cl.id] = (r, r + len(_leaves(cl)) - 1)
        for code in _leaves(cl):
            sh.text(r, 0, code, "plain")
            sh.text(r, 1, cl.codes[code], "plain")
            r += 1
    return sh


def _leaf_lists(spec: Spec) -> list[CodeList]:
    """Code lists a section uses whose leaves are not 7-digit 项 (the economic list's 款)."""
    ids = {t.section.section for t in spec.tables.values() if t.section is not None}
    return [cl for cl in spec.codelists.values() if cl.id in ids and cl.levels[-1] != 7]


def _leaves(cl: CodeList) -> list[str]:
    return sorted(c for c in cl.codes if len(c) == cl.levels[-1])


def item_code_list_range(plan: WorkbookPlan, table: Table | None = None) -> str:
    """The leaf codes of the code sheet a table's spare rows choose from (the 7-digit 项 unless the
    table's section is over a list of other levels), for their list validation."""
    sh = plan.sheet(CODES)
    sec = table.section if table is not None else None
    if sec is not None and sec.section in sh.lists:
        first, last = sh.lists[sec.section]
        return f"'{CODES}'!$A${first + 1}:$A${last + 1}" if last >= first else ""
    rows = sorted(r for (r, c), cell in sh.cells.items() if c == 0 and is_item_code(cell.text))
    if not rows:
        return ""
    return f"'{CODES}'!$A${rows[0] + 1}:$A${rows[-1] + 1}"


def _meta(plan: WorkbookPlan) -> SheetPlan:
    sh = SheetPlan(META, "meta", widths=[14, 60], state="veryHidden")
    ident = plan.identity()
    values = {
        **{k: str(v) for k, v in ident.items()},
        "generator": f"juesuan {__version__}",
        "sections": json.dumps(plan.sections, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
        "names": json.dumps(plan.names, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
        "fingerprint": plan.fingerprint,
    }
    for i, k in enumerate(k for k in META_FIELDS if k in values):
        sh.text(i, 0, k, "plain")
        sh.text(i, 1, values[k], "plain")
    return sh


def _checked_identity(units: int, kind: str, spare_rows: int | None) -> int | None:
    """The 汇总 units, kind and spare rows within their ranges (a 汇总 has no spare rows): the spare rows."""
    if not 1 <= units <= MAX_UNITS:
        raise LayoutError(f"汇总单位数 {units} 超出范围（1–{MAX_UNITS}）")
    if kind not in ("", *SUMMARY_KINDS):
        raise LayoutError(f"未知的工作簿类别 {kind!r}")
    if kind:
        spare_rows = None
    if spare_rows is not None and not 0 <= spare_rows <= MAX_SPARE_ROWS:
        raise LayoutError(f"新增科目行数 {spare_rows} 超出范围（0–{MAX_SPARE_ROWS}）")
    return spare_rows


def _table_sheets(plan: WorkbookPlan, unit_name: str) -> list[tuple[SheetPlan, str]]:
    """Every table's sheet (a 附件 form once per project) appended to the plan; the ones laid out anew
    (not reused from an earlier unit's identical table, _reuse_fixed) returned with their project."""
    fresh: list[tuple[SheetPlan, str]] = []
    for t in plan.spec.tables.values():
        for prefix in form_projects(plan, t) if t.kind == "form" else [""]:
            sheet = _reuse_fixed(plan, t, prefix)
            if sheet is None:
                sheet = _FormLayout(plan, t, prefix).build() if t.kind == "form" else _TableLayout(plan, t, unit_name).build()
                fresh.append((sheet, prefix))
            plan.sheets.append(sheet)
    return fresh


def plan_workbook(
    spec: Spec,
    unit_code: str,
    unit_name: str,
    year: int | None = None,
    sections: dict[str, list[str]] | None = None,
    names: dict[str, str] | None = None,
    key: str | None = None,
    cover: dict[str, str] | None = None,
    units: int = 1,
    kind: str = "",
    spare_rows: int | None = None,
) -> WorkbookPlan:
    year = year or spec.year
    sections = {t: list(v) for t, v in (sections or {}).items() if v}
    # names only for codes the code lists do not know (keeps the fingerprint small and stable)
    known = {c for cl in spec.codelists.values() for c in cl.codes}
    used = {c for codes in sections.values() for c in codes}
    # sorted: the reader rebuilds them from _meta's sorted JSON, so the code sheet's order must not
    # depend on the order the data happened to give them in
    names = {c: n for c, n in sorted((names or {}).items()) if c in used and c not in known}
    spare_rows = _checked_identity(units, kind, spare_rows)
    ident = identity(spec.template, spec.version, spec.hash, unit_code, unit_name, year, units, kind, spare_rows)
    plan = WorkbookPlan(spec, unit_code, unit_name, year, sections, names,
                        fingerprint(ident, sections, names, key or DEFAULT_KEY), units=units, kind=kind,
                        spare_rows=spare_rows)
    plan.sheets.append(_cover(plan, cover or {}))
    if kind not in SUMMARY_KINDS:  # a 汇总 is nobody's form to fill
        plan.sheets.append(_guide(plan))
    fresh = _table_sheets(plan, unit_name)
    plan.sheets.append(_codes_sheet(plan))
    plan.rule_instances = expand_rules(spec, lambda tid: [c for c in sections.get(tid, []) if is_item_code(c)])
    _finish_formulas(plan, [sheet for sheet, _prefix in fresh])
    for sheet, prefix in fresh:
        _remember_fixed(plan, sheet, prefix)
    plan.sheets.insert(len(plan.sheets) - 1, _check(plan))
    plan.sheets.append(_meta(plan))
    return plan
