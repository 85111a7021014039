"""The report as PDF: WeasyPrint lays out the same HTML page (A4, landscape pages for the wide
tables, header rows repeated on every page a table runs over, page numbers, the 第N部分 headings and
the tables as PDF bookmarks, Noto CJK embedded as subsets).

Why WeasyPrint and not LibreOffice Writer from the DOCX: one renderer — the PDF is the HTML page,
so what the browser shows is what is printed; CSS paged media gives repeated table headers, named
landscape pages, page counters, a table of contents with page numbers and bookmarks directly; it
runs in-process in about a second for the seed, while a soffice conversion starts a whole office
suite (several seconds, one instance at a time per profile) and re-lays out Word tables on its own.
"""

from __future__ import annotations

import logging

from .html import render_html
from .report import Report


def render_pdf(report: Report, html: str | None = None) -> bytes:
    from weasyprint import HTML  # the PDF engine; imported only when a PDF is asked for

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    doc = HTML(string=html if html is not None else render_html(report), base_url=".")
    out = doc.write_pdf()
    assert out is not None
    return bytes(out)
