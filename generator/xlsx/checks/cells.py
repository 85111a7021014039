"""Cells: every planned cell of every sheet compared with the workbook's, by its kind (the one
dispatch the writer shares, :mod:`generator.xlsx.cellkinds`): fixed texts and numbers unchanged
(rows or columns moved are said once), amounts read from input cells only, texts within their
limits, nothing typed where the plan has no cell. Establishes the figures typed in
(``reading.inputs``, ``cell_inputs``), the spare rows' codes and names, the notes, cover, 差异说明
and 附件 texts."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from ...core.cellformula import FormulaRefused, evaluate
from ...core.expr import a1
from ...core.findings import ERROR, WARNING, Finding
from ...core.layout import CellPlan, SheetPlan
from ...core.money import fmt
from ...core.money import shown as shown_number
from ...core.spec import MAX_CELL_TEXT
from ..cellkinds import CellHandler
from ..ooxml import RawCell, RawSheet
from ..values import cell_text, number_value, parse_number
from .reading import Reading, label_of

MAX_COVER_TEXT = 100  # characters of a cover field (names, phone, date)
MAX_NOTE_TEXT = 2000  # characters of a table's note (空表说明)
MAX_EXPLAIN_TEXT = 500  # characters of a 差异说明 (as on the web page)
MAX_NAME_TEXT = 200  # characters of a 科目 name typed over a spare row's name

_CENT = Decimal("0.01")
_MICRO = Decimal("0.000001")
_MOVES = (("row-inserted", "插入了行"), ("row-deleted", "删除了行"), ("col-inserted", "插入了列"), ("col-deleted", "删除了列"))

Found = Iterator[Finding]


def bounded_text(text: str, cap: int, where: str, kw: dict[str, Any]) -> tuple[str, Finding | None]:
    """A typed text within its limits: over what a spreadsheet cell holds (32,767 characters: the
    file was not made by a spreadsheet) it is refused and not imported; over the field's own limit
    (the spec's ``max_length``) it is an error and kept cut there."""
    if len(text) > MAX_CELL_TEXT:
        return "", Finding("text-too-long", ERROR, f"{where} 的文字有 {len(text)} 个字符，超过单元格上限 {MAX_CELL_TEXT}（不是电子表格能保存的内容），"
                                                   "未导入", cell=where, actual=text[:100], expected=f"≤ {MAX_CELL_TEXT} 个字符", **kw)
    if cap and len(text) > cap:
        return text[:cap], Finding("text-too-long", ERROR, f"{where} 的文字有 {len(text)} 个字符，超过该栏上限 {cap}，只收录前 {cap} 个字符；"
                                                           "请精简后重新填写", cell=where, actual=text[:100], expected=f"≤ {cap} 个字符", **kw)
    return text, None


def input_formula(got: RawCell, where: str, kw: dict[str, Any]) -> tuple[Decimal | None, list[Finding]]:
    """A formula typed into an input cell: evaluated here when it is made of numbers, + - * / %, SUM
    and ROUND only (the cached result in the file is never taken; one that differs is reported);
    refused and not imported when it refers to anything (cells, other sheets, other workbooks, names)."""
    f = got.formula or ""
    try:
        value = evaluate(f)
    except FormulaRefused as exc:
        return None, [Finding("formula-forbidden", ERROR, f"{where} 含不允许的公式（{exc}），未计算、未导入", cell=where,
                              actual="=" + f[:200], **kw)]
    found = [Finding("formula-in-input", WARNING, f"{where} 填的是公式 ={f[:60]}，按其计算结果 {shown_number(value)} 读入",
                     cell=where, actual="=" + f[:200], **kw)]
    if got.value is not None:
        try:
            cached = number_value(got.value) if got.type == "n" else None
        except InvalidOperation:
            cached = None
        if cached is None or abs(cached - value) > _MICRO:
            found.append(Finding("stale-cached-value", ERROR, f"{where} 显示的结果 {got.value[:30]} 与公式 ={f[:60]} 的计算结果 "
                                                             f"{shown_number(value)} 不符（结果过期或被伪造）；按计算结果读入",
                                 cell=where, expected=shown_number(value), actual=got.value[:200], **kw))
    return value, found


def _shift(raw: RawSheet, r: int, c: int, text: str) -> tuple[str, int] | None:
    """Is the expected text found a few rows/columns away? Then rows/columns were inserted or deleted."""
    if not text:
        return None
    for k in range(1, 6):
        for dr, dc, what in ((k, 0, "row-inserted"), (-k, 0, "row-deleted"), (0, k, "col-inserted"), (0, -k, "col-deleted")):
            other = raw.cells.get((r + dr, c + dc))
            if other is not None and cell_text(other) == text:
                return what, k
    return None


def _unchanged_text(got: RawCell | None, cell: CellPlan) -> bool:
    """The common case of a fixed text: it is there, unchanged (nothing to report)."""
    if got is None:
        return not cell.text
    return got.formula is None and got.type != "n" and got.value == cell.text


class _SheetReader(CellHandler[Found]):
    """Reads one sheet's planned cells into the reading, yielding what it finds."""

    def __init__(self, reading: Reading, sp: SheetPlan, raw: RawSheet):
        self.reading, self.sp, self.raw = reading, sp, raw
        self.shifted = False  # rows or columns moved: later differences are that one cause

    def got(self, r: int, c: int) -> RawCell | None:
        return self.raw.cells.get((r, c))

    def where(self, r: int, c: int) -> str:
        return f"{self.sp.name}!{a1(r, c)}"

    # fixed content
    def text(self, r: int, c: int, cell: CellPlan) -> Found:
        got = self.got(r, c)
        if _unchanged_text(got, cell):
            return
        yield from self._fixed(r, c, cell, got)

    def number(self, r: int, c: int, cell: CellPlan) -> Found:
        got = self.got(r, c)
        if got is not None and got.formula is None:
            try:
                if number_value(got.value or "") == Decimal(cell.text):
                    return
            except InvalidOperation:
                pass
        yield from self._fixed(r, c, cell, got)

    def _fixed(self, r: int, c: int, cell: CellPlan, got: RawCell | None) -> Found:
        where, kw, want, have = self.where(r, c), label_of(self.sp, cell), cell.text, cell_text(got)
        if got is not None and got.formula is not None:
            yield Finding("label-changed", ERROR, f"{where} 应为固定内容，却被改为公式", cell=where,
                          expected=want, actual="=" + got.formula, **kw)
            return
        if have == want or self.shifted:
            return
        moved = _shift(self.raw, r, c, want)
        if moved:
            self.shifted = True
            what, k = moved
            zh = dict(_MOVES)[what]
            yield Finding(what, ERROR, f"{self.sp.name} 在 {a1(r, c)} 附近{zh}（内容错位 {k} 格），之后的内容不再逐格报告",
                          cell=where, expected=want, actual=have, **kw)
        else:
            code = "meta-changed" if self.sp.kind == "meta" else "label-changed"
            yield Finding(code, ERROR, f"{where} 的内容被改动", cell=where, expected=want, actual=have, **kw)

    def formula(self, r: int, c: int, cell: CellPlan) -> Found:
        """Checked by the formulas check; only a spare row's name typed over is taken here."""
        got = self.got(r, c)
        if cell.calc and cell.calc[0] == "name" and got is not None and got.formula is None:
            where = self.where(r, c)
            text, finding = bounded_text(cell_text(got).strip(), MAX_NAME_TEXT, where, {})
            if finding is not None:
                yield finding
            self.reading.typed_names[(self.sp.name, r, c)] = text

    # what a unit fills in
    def input(self, r: int, c: int, cell: CellPlan) -> Found:
        got = self.got(r, c)
        value: Decimal | None = None
        if got is not None and got.formula is not None:
            value, found = input_formula(got, self.where(r, c), label_of(self.sp, cell))
            yield from found
        elif got is not None:
            value, code, _sev = parse_number(got)
            if code is not None:  # the usual number needs no address: made for a finding only
                value = yield from self._typed_amount(got, cell, self.where(r, c), label_of(self.sp, cell))
        reading = self.reading
        if value is None:
            if cell.fig is not None and reading.the_plan.spec.tables[cell.fig.table].is_item(cell.fig.row):
                reading.inputs.setdefault(cell.fig.table, {}).setdefault(cell.fig.row, {})[cell.fig.col] = Decimal(0)
            return
        where, kw = self.where(r, c), label_of(self.sp, cell)
        if value < 0 and not cell.negative:
            yield Finding("negative-value", ERROR, f"{where} 不应为负数", cell=where, actual=fmt(value, True), **kw)
        if cell.validate == "count" and value != value.to_integral_value():
            yield Finding("count-not-whole", ERROR, f"{where} 是数量（人、辆、台（套）等），应为整数，实为 {shown_number(value)}，"
                          "未导入", cell=where, actual=shown_number(value), **kw)
            return
        if value != value.quantize(_CENT):
            yield Finding("too-many-decimals", WARNING, f"{where} 超过两位小数，报告中按 {fmt(value, True)} 显示，保留原值",
                          cell=where, actual=shown_number(value), **kw)
        reading.cell_inputs[(self.sp.name, r, c)] = value
        if cell.fig is not None:
            reading.inputs.setdefault(cell.fig.table, {}).setdefault(cell.fig.row, {})[cell.fig.col] = value

    def _typed_amount(self, got: RawCell, cell: CellPlan, where: str,
                      kw: dict[str, Any]) -> Generator[Finding, None, Decimal | None]:
        """A typed amount's value (None: not imported), yielding why not."""
        value, code, _sev = parse_number(got)
        if code == "number-as-text":
            # the workbook's own sums (SUM, SUMPRODUCT, N()) count text as 0: so does the reader
            yield Finding(code, ERROR, f"{where} 填的是文字“{got.value}”而不是数字，表内合计和审核都没有计入它；"
                          f"请在该单元格重新输入数字 {fmt(value, True)}", cell=where,
                          actual=got.value, expected=fmt(value, True), **kw)
            if cell.fig is not None and value is not None:
                self.reading.text_numbers[cell.fig] = value
            return None
        if code is not None:
            yield Finding(code, ERROR, f"{where} 应为金额，实为 {got.value!r}，未导入", cell=where, actual=got.value, **kw)
        return value

    def code(self, r: int, c: int, cell: CellPlan) -> Found:
        got, where = self.got(r, c), self.where(r, c)
        text = cell_text(got).strip()
        if got is not None and got.formula is not None:
            yield Finding("formula-in-text-cell", ERROR, f"{where} 科目代码不应是公式", cell=where, **label_of(self.sp, cell))
            text = ""
        self.reading.code_texts[(self.sp.name, r, c)] = text

    def field(self, r: int, c: int, cell: CellPlan) -> Found:
        got, where, kw = self.got(r, c), self.where(r, c), label_of(self.sp, cell)
        if got is None or cell.fig is None:
            return
        if got.formula is not None:
            yield Finding("formula-in-text-cell", ERROR, f"{where} 应填文字，不应是公式，未导入", cell=where,
                          actual="=" + got.formula[:200], **kw)
            return
        text, finding = bounded_text(cell_text(got), cell.max_length, where, kw)
        if finding is not None:
            yield finding
        if text.strip():
            f = cell.fig
            self.reading.ds.texts.setdefault(f.table, {}).setdefault(f.row, {})[f.col] = text

    def note(self, r: int, c: int, cell: CellPlan) -> Found:
        got, table = self.got(r, c), self.sp.table
        if table is None or got is None:
            return
        text, finding = bounded_text(cell_text(got), MAX_NOTE_TEXT, self.where(r, c), {"table": table.id})
        if finding is not None:
            yield finding
        self.reading.ds.notes[table.id] = text

    def cover(self, r: int, c: int, cell: CellPlan) -> Found:
        text = cell_text(self.got(r, c))
        if not text:
            return
        if len(text) > MAX_COVER_TEXT:
            where = self.where(r, c)
            yield Finding("cover-field-too-long", ERROR, f"{where} 封面“{cell.label}”过长（{len(text)} 个字符，上限 "
                                                        f"{MAX_COVER_TEXT}），只收录前 {MAX_COVER_TEXT} 个字符",
                          cell=where, actual=text[:MAX_COVER_TEXT] + "…")
            text = text[:MAX_COVER_TEXT]
        self.reading.ds.cover[cell.label] = text

    def explain(self, r: int, c: int, cell: CellPlan) -> Found:
        typed = cell_text(self.got(r, c)).strip()
        if not typed:
            return
        text, finding = bounded_text(typed, MAX_EXPLAIN_TEXT, self.where(r, c), {})
        if finding is not None:
            yield finding
        if text:
            self.reading.ds.explanations[cell.label.replace("差异说明 ", "")] = text

    def outside(self) -> Found:
        """Anything typed where the plan has no cell (unless rows or columns moved: that is the cause)."""
        sp = self.sp
        for (r, c), got in self.raw.cells.items():
            if (r, c) in sp.cells or (got.formula is None and not cell_text(got).strip()):
                continue
            if self.shifted:
                continue
            where = self.where(r, c)
            shown = ("=" + got.formula) if got.formula is not None else cell_text(got)
            kw: dict[str, Any] = {"table": sp.table.id} if sp.table else {}
            yield Finding("value-outside-input", ERROR, f"{where} 不是填报单元格，其内容未导入：{shown[:50]}",
                          cell=where, actual=shown[:200], **kw)


def check(reading: Reading) -> Iterator[Finding]:
    for sp in reading.the_plan.sheets:
        raw = reading.book.sheet(sp.name)
        if raw is None:
            continue
        sheet, got = _SheetReader(reading, sp, raw), raw.cells.get
        for (r, c), cell in sorted(sp.cells.items()):
            kind = cell.kind
            if kind == "text" and _unchanged_text(got((r, c)), cell):
                continue  # what sheet.text would find, without a generator per cell
            if kind == "formula" and not (cell.calc and cell.calc[0] == "name"):
                continue  # sheet.formula takes a spare row's name cell only (the formulas check the rest)
            yield from sheet.visit(r, c, cell)
        yield from sheet.outside()
    reading.ds.values = reading.inputs
