"""Plain report workbooks (a feedback list, …): sheets of a title, a header and rows, A4 landscape,
printed with the header repeated. No protection, no formulas: a document for people."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter

from ..core.fsutil import atomic_write_bytes

FONT = "宋体"


@dataclass
class SimpleSheet:
    name: str
    title: str
    lines: list[str] = field(default_factory=list)  # text lines under the title (status, what to do)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    row_styles: list[str] = field(default_factory=list)  # per row: "error" | "warning" | "info" | ""


_FILL = {"error": "#FFC7CE", "warning": "#FFEB9C", "info": "#FFFFFF", "": "#FFFFFF"}


def write_simple(path: Path, sheets: list[SimpleSheet]) -> None:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False})
    base = {"font_name": FONT, "font_size": 10, "valign": "top", "text_wrap": True}
    title = wb.add_format({**base, "font_name": "黑体", "font_size": 14, "bold": True, "text_wrap": False})
    line = wb.add_format({**base, "text_wrap": False})
    head = wb.add_format({**base, "bold": True, "border": 1, "align": "center", "valign": "vcenter", "bg_color": "#D9D9D9"})
    body = {k: wb.add_format({**base, "border": 1, "bg_color": v}) for k, v in _FILL.items()}
    for sh in sheets:
        ws = wb.add_worksheet(sh.name[:31])
        ncol = max(len(sh.header), 1)
        ws.merge_range(0, 0, 0, ncol - 1, sh.title, title) if ncol > 1 else ws.write_string(0, 0, sh.title, title)
        r = 1
        for text in sh.lines:
            ws.write_string(r, 0, text, line)
            r += 1
        r += 1
        first = r
        for c, h in enumerate(sh.header):
            ws.write_string(r, c, h, head)
        for i, w in enumerate(sh.widths):
            ws.set_column(i, i, w)
        for i, row in enumerate(sh.rows):
            style = body.get(sh.row_styles[i] if i < len(sh.row_styles) else "", body[""])
            for c, v in enumerate(row):
                ws.write_string(r + 1 + i, c, v or "", style)
        if sh.header:
            ws.repeat_rows(first, first)
            ws.freeze_panes(first + 1, 0)
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        ws.set_footer("&C第 &P 页，共 &N 页")
    wb.close()
    atomic_write_bytes(path, buf.getvalue())
