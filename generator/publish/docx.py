"""The report as a Word document (python-docx): real Word tables with merged header cells, header
rows repeated on every page, landscape sections for the wide tables, the 第N部分 headings as
Heading 1 (Word's navigation pane and table of contents), 【待填】 slots highlighted.
"""

from __future__ import annotations

import io
import re
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import _Cell

from .report import Report
from .tables import TableView

CELL_STYLE = "表格文字"
CELL_STYLE_ID = "TableText"
SERIF = "宋体"
SANS = "黑体"
SLOT_RE = re.compile(r"(【待填：[^】]*】)")


def _fonts(style: object, east_asia: str, size: float | None = None, bold: bool | None = None) -> None:
    font = style.font  # type: ignore[attr-defined]
    font.name = "Times New Roman"
    if size:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    rpr = style.element.get_or_add_rPr()  # type: ignore[attr-defined]
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), east_asia)


def _para(doc: object, text: str, style: str | None = None, indent: bool = True,
          align: WD_ALIGN_PARAGRAPH | None = None) -> Any:
    p = doc.add_paragraph(style=style)  # type: ignore[attr-defined]
    if indent:
        p.paragraph_format.first_line_indent = Pt(22)
    if align is not None:
        p.alignment = align
    for part in SLOT_RE.split(text):
        if part:
            run = p.add_run(part)
            if part.startswith("【待填："):
                run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    return p


def _heading(doc: object, text: str, level: int, center: bool = False) -> None:
    h = doc.add_heading(text, level=level)  # type: ignore[attr-defined]
    if center:
        h.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _new_section(doc: object, landscape: bool) -> None:
    sec = doc.add_section(WD_SECTION.NEW_PAGE)  # type: ignore[attr-defined]
    _orient(sec, landscape)


def _draft_headers(doc: object) -> None:
    """草稿 in the header of every section (a 汇总 with unapproved reports in it)."""
    for sec in doc.sections:  # type: ignore[attr-defined]
        sec.header.is_linked_to_previous = False
        p = sec.header.paragraphs[0] if sec.header.paragraphs else sec.header.add_paragraph()
        p.text = "草稿 · 含未经审核的报表 · 不得公开"
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT


def _orient(sec: object, landscape: bool) -> None:
    w, h = Cm(21.0), Cm(29.7)
    sec.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT  # type: ignore[attr-defined]
    sec.page_width, sec.page_height = (h, w) if landscape else (w, h)  # type: ignore[attr-defined]
    margin = Cm(1.2) if landscape else Cm(2.2)
    sec.left_margin = sec.right_margin = sec.top_margin = sec.bottom_margin = margin  # type: ignore[attr-defined]


KEEP_LAST_ROWS = 4  # rows before a form's last one kept on its page (with 总分 and 自评等级)


def _repeat_header(row: object) -> None:
    trpr = row._tr.get_or_add_trPr()  # type: ignore[attr-defined]
    trpr.append(OxmlElement("w:tblHeader"))  # no w:val: on


def _cell_text(cell: object, text: str, bold: bool = False, align: WD_ALIGN_PARAGRAPH | None = None) -> None:
    p = cell.paragraphs[0]  # type: ignore[attr-defined]
    p._p.style = CELL_STYLE_ID  # the style by id: Paragraph.style= looks the name up through every style each time
    if align is not None:
        p.alignment = align
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER  # type: ignore[attr-defined]
    run = p.add_run(text)
    if bold:
        run.font.bold = True


def _table(doc: object, t: TableView, width_cm: float) -> None:
    if t.form:  # a 附件 form: its 附件N line above the title, on the left
        _para(doc, t.number, indent=False)
        _heading(doc, t.title, 2, center=True)
    else:
        _heading(doc, t.title, 2, center=True)
        _para(doc, t.number, indent=False, align=WD_ALIGN_PARAGRAPH.RIGHT)
    p = _para(doc, f"{t.unit_line}\t{t.money_line}", indent=False)
    p.paragraph_format.tab_stops.add_tab_stop(Cm(width_cm), alignment=2)  # right
    rows = t.header + t.body
    table = doc.add_table(rows=len(rows), cols=t.ncols)  # type: ignore[attr-defined]
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    total = sum(t.widths) or 1
    widths = [Cm(width_cm * w / total) for w in t.widths]
    for col, w in zip(table.columns, widths, strict=True):
        col.width = w
    # every cell by its grid position, taken before any merge (table.cell() rescans the whole table
    # on each call; a merge removes the covered w:tc elements, not the ones kept here)
    grid = [[_Cell(tc, table) for tc in tr.tc_lst] for tr in table._tbl.tr_lst]
    for r, tr_cells in enumerate(grid):
        for c, cell in enumerate(tr_cells):
            cell.width = widths[c]
        if r < len(t.header):
            _repeat_header(table.rows[r])
    _fill(grid, rows, len(t.header))
    _keep_together(doc, table, t, len(rows))


def _fill(grid: list[list[Any]], rows: list[Any], header_rows: int) -> None:
    """Every cell's text, aligned and emboldened by its kind; merges done after (they drop covered cells)."""
    merges = []
    for r, row in enumerate(rows):
        header = r < header_rows
        for c in row:
            cell = grid[r][c.col]
            if c.rowspan > 1 or c.colspan > 1:
                merges.append((cell, grid[r + c.rowspan - 1][c.col + c.colspan - 1]))
            if header or c.kind == "header":
                _cell_text(cell, c.text, True, WD_ALIGN_PARAGRAPH.CENTER)
            elif c.kind in ("amount", "amount_total"):
                _cell_text(cell, c.text, c.kind == "amount_total", WD_ALIGN_PARAGRAPH.RIGHT)
            elif c.kind in ("line", "code", "figure"):
                _cell_text(cell, c.text, False, WD_ALIGN_PARAGRAPH.CENTER)
            else:
                _cell_text(cell, c.text, c.kind == "label_total")
    for a, b in merges:
        a.merge(b)


def _keep_together(doc: object, table: Any, t: TableView, n_rows: int) -> None:
    """No row splits; the last rows keep together and with the notes (a form's 总分 and 自评等级, a
    table's 合计/总计 row and its notes are never alone on a page)."""
    tail = [*t.notes, *([t.statement] if t.statement else [])]
    for r, row in enumerate(table.rows):
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
        if r >= n_rows - 1 - KEEP_LAST_ROWS and (r < n_rows - 1 or tail):
            for cell in row.cells:
                for p in cell.paragraphs:
                    p.paragraph_format.keep_with_next = True
    for i, text in enumerate(tail):
        _para(doc, text, indent=False).paragraph_format.keep_with_next = i < len(tail) - 1


def _drop_styles_with_effects(doc: object) -> None:
    """python-docx's default template carries a Word 2010 stylesWithEffects part that disagrees with
    its styles.xml (Word may call that unreadable content); the part is optional: leave it out."""
    part = doc.part  # type: ignore[attr-defined]
    for rid, rel in list(part.rels.items()):
        if rel.reltype.endswith("/stylesWithEffects"):
            part.drop_rel(rid)


def _markdown(doc: object, text: str, shift: int = 0) -> None:
    """The narrative's Markdown as headings and paragraphs; its own title (``#``) left out: the part
    or annex heading stands for it."""
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^(#+)\s+(.*)$", line)
        if m:
            if len(m.group(1)) == 1:
                continue
            _heading(doc, m.group(2), min(len(m.group(1)) + shift, 3))
        else:
            _para(doc, line.strip())


def render_docx(report: Report) -> bytes:
    doc = Document()
    _fonts(doc.styles["Normal"], SERIF, 11)
    for level in (1, 2, 3):
        st = doc.styles[f"Heading {level}"]
        _fonts(st, SANS, {1: 18, 2: 14, 3: 12}[level], True)
        st.font.color.rgb = None
    cell = doc.styles.add_style(CELL_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    cell.element.styleId = CELL_STYLE_ID
    cell.base_style = doc.styles["Normal"]
    _fonts(cell, SERIF, 8.5)  # as the printed report (report.css): 公开01 on one landscape page
    fmt = cell.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing = Pt(10.5)  # exact: a CJK font's own "single" line is ~1.45 em, and 公开01 would not fit its page
    fmt.first_line_indent = None
    _orient(doc.sections[0], False)
    doc.core_properties.title = report.title
    _heading(doc, f"{report.unit_name}{report.year}年度部门决算公开", 0, center=True)

    _new_section(doc, False)
    _heading(doc, f"第一部分　{report.unit_name}部门（单位）概况", 1, center=True)
    _heading(doc, "一、部门职责", 2)
    for d in report.duties or [report.slot("部门职责")]:
        _para(doc, d)
    _heading(doc, "二、机构设置及决算单位构成", 2)
    _para(doc, f"（一）内设机构设置。{report.unit_name}单位内设机构包括：{report.institutions or report.slot('内设机构设置')}")
    comp = "、".join(report.composition)
    tail = "，没有其它二级预算单位" if len(report.composition) == 1 else f"，共{len(report.composition)}个单位"
    _para(doc, f"（二）决算单位构成。{report.unit_name}单位{report.year}年部门决算汇总公开单位构成包括：{comp}{tail}。")

    # the part's title on a page of its own, as the printed report has it: a table never shares its
    # page with it (公开01 would not fit and be split by a word processor)
    _new_section(doc, False)
    _heading(doc, "第二部分　部门决算表", 1, center=True)
    for t in report.tables:
        _new_section(doc, t.landscape)
        _table(doc, t, 26.7 if t.landscape else 16.6)

    _new_section(doc, False)
    _heading(doc, f"第三部分　{report.year}年度部门决算情况说明", 1, center=True)
    _markdown(doc, report.narrative_md)

    _new_section(doc, False)
    _heading(doc, "第四部分　名词解释", 1, center=True)
    for term in report.terms:
        _para(doc, term)

    _new_section(doc, False)
    _heading(doc, "第五部分　附件", 1, center=True)
    _heading(doc, report.annex_title, 2, center=True)
    if report.annex or not report.annex_md:
        for p in report.annex or [report.slot("整体支出绩效自评报告")]:
            _para(doc, p)
    else:
        _markdown(doc, report.annex_md, 1)
    if report.annex_note:
        _para(doc, report.annex_note)
    for t in report.annex_tables:
        _new_section(doc, t.landscape)
        _table(doc, t, 26.7 if t.landscape else 16.6)
    if report.draft:
        _draft_headers(doc)
    _drop_styles_with_effects(doc)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
