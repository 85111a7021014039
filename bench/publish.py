"""Benchmark of publishing: the seed's report (and a 汇总-sized one) as HTML, PDF, DOCX, and the
published-PDF check, each next to a floor measured in the same run.

    python bench/publish.py [--repeat 3] [--items 40] [--workdir DIR] [--soffice]

Floors (what any tool must at least do for the same output):
* **PDF floor**: WeasyPrint laying out the same tables' cell texts as plain ``<table>`` HTML — no
  spans, no styles, no paged-media features (bookmarks, repeated headers, landscape pages, ToC);
* **DOCX floor**: python-docx writing the same cell texts into plain tables (no merges, styles,
  sections, repeated header rows);
* **check floor**: pdfplumber extracting every page's text and ruled tables of our PDF — the
  parse any checker needs — without matching a single figure.
With ``--soffice`` the run also times LibreOffice Writer converting our DOCX to PDF (the other
engine the issue names), for the README's choice of engine.

Times are medians of ``--repeat`` runs; ratios ours / floor. The unit with ``--items`` extra 项
rows in 公开02/03/05 stands for a large unit or a 汇总 (its tables run over several pages).
The last line is machine-readable::

    pdf_s=X.XX pdf_vs_floor=X.XX docx_s=X.XX docx_vs_floor=X.XX check_s=X.XX check_vs_floor=X.XX
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from html import escape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.core.catalog import default_specs_dir, load_spec  # noqa: E402
from generator.core.dataset import load_dataset  # noqa: E402
from generator.core.resources import specs_root  # noqa: E402
from generator.publish.docx import render_docx  # noqa: E402
from generator.publish.html import render_html  # noqa: E402
from generator.publish.pdf import render_pdf  # noqa: E402
from generator.publish.report import Report, build_report  # noqa: E402
from generator.publish.source import Source, load_source  # noqa: E402
from generator.publish.verify import check_published_pdf  # noqa: E402


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def plain_html(report: Report) -> str:
    parts = ["<html><body>"]
    for t in report.tables:
        parts.append(f"<h2>{escape(t.title)}</h2><table>")
        for row in t.header + t.body:
            parts.append("<tr>" + "".join(f"<td>{escape(c.text)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    parts.append(f"<div>{report.narrative_html}</div></body></html>")
    return "".join(parts)


def plain_pdf(report: Report) -> bytes:
    from weasyprint import HTML

    return HTML(string=plain_html(report)).write_pdf() or b""


def plain_docx(report: Report) -> bytes:
    from docx import Document

    doc = Document()
    for t in report.tables:
        rows = t.header + t.body
        table = doc.add_table(rows=len(rows), cols=t.ncols)
        for tr, row in zip(table._tbl.tr_lst, rows, strict=True):
            tcs = tr.tc_lst
            for c in row:
                tcs[c.col].p_lst[0].add_r().text = c.text
    for line in report.narrative_md.splitlines():
        doc.add_paragraph(line)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def check_floor(pdf: Path) -> None:
    import pdfplumber

    with pdfplumber.open(pdf) as doc:
        for page in doc.pages:
            page.extract_text()
            page.extract_tables({"vertical_strategy": "lines", "horizontal_strategy": "lines"})


def large_source(items: int) -> Source:
    spec = load_spec(default_specs_dir())
    ds = load_dataset(specs_root() / "samples" / "seed-2024.json")
    for t in ("公开02", "公开03", "公开05"):
        for i in range(items):
            code = f"21505{i:02d}"  # under 21505, beside the seed's 2150550
            ds.names[code] = f"示例科目{code}"
            col = "2"
            ds.values.setdefault(t, {})[code] = {col: Decimal("1.00")}
    return Source(spec, ds, [(ds.unit_code, ds.unit_name)])


def run(label: str, src: Source, repeat: int, work: Path, soffice: bool) -> dict[str, float]:
    report = build_report(src)
    html = render_html(report)
    pdf = work / f"{label}.pdf"
    pdf.write_bytes(render_pdf(report, html))
    docx = work / f"{label}.docx"
    docx.write_bytes(render_docx(report))
    plain_pdf(report)  # warm WeasyPrint's font cache
    r = {
        "html_s": timed(lambda: render_html(build_report(src)), repeat),
        "pdf_s": timed(lambda: render_pdf(report, html), repeat),
        "pdf_floor_s": timed(lambda: plain_pdf(report), repeat),
        "docx_s": timed(lambda: render_docx(report), repeat),
        "docx_floor_s": timed(lambda: plain_docx(report), repeat),
        "check_s": timed(lambda: check_published_pdf(pdf, src), repeat),
        "check_floor_s": timed(lambda: check_floor(pdf), repeat),
    }
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    r["pages"] = float(next((ln.split()[-1] for ln in pages.splitlines() if ln.startswith("Pages:")), "0"))
    if soffice and shutil.which("soffice"):
        profile = tempfile.mkdtemp(prefix="lo-bench-")
        out = work / "soffice"
        r["soffice_s"] = timed(lambda: subprocess.run(
            ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf", "--outdir",
             str(out), str(docx)], capture_output=True, check=True, timeout=300), repeat)
    print(f"{label}: {int(r['pages'])} pages; html {r['html_s']:.2f} s; "
          f"pdf {r['pdf_s']:.2f} s / floor {r['pdf_floor_s']:.2f} s = {r['pdf_s'] / r['pdf_floor_s']:.2f}; "
          f"docx {r['docx_s']:.2f} s / floor {r['docx_floor_s']:.2f} s = {r['docx_s'] / r['docx_floor_s']:.2f}; "
          f"check {r['check_s']:.2f} s / floor {r['check_floor_s']:.2f} s = {r['check_s'] / r['check_floor_s']:.2f}"
          + (f"; soffice docx->pdf {r['soffice_s']:.2f} s" if "soffice_s" in r else ""))
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--items", type=int, default=40, choices=range(0, 50), metavar="0..49")
    ap.add_argument("--workdir")
    ap.add_argument("--soffice", action="store_true")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-publish-"))
    work.mkdir(parents=True, exist_ok=True)
    seed = run("seed", load_source(str(specs_root() / "samples" / "seed-2024.json")), args.repeat, work, args.soffice)
    if args.items:
        run(f"large{args.items}", large_source(args.items), args.repeat, work, args.soffice)
    print(f"pdf_s={seed['pdf_s']:.2f} pdf_vs_floor={seed['pdf_s'] / seed['pdf_floor_s']:.2f} "
          f"docx_s={seed['docx_s']:.2f} docx_vs_floor={seed['docx_s'] / seed['docx_floor_s']:.2f} "
          f"check_s={seed['check_s']:.2f} check_vs_floor={seed['check_s'] / seed['check_floor_s']:.2f}")


if __name__ == "__main__":
    main()
