"""check-published on the PDFs an office really publishes: our HTML printed by a browser (headless
Chromium's --print-to-pdf) and our DOCX printed by LibreOffice. Each checks clean as printed; with one
figure changed before printing, exactly that figure is found (published-figure-mismatch), nothing
else. The text such printers give back (Kangxi radicals ⼀ ⽀, ⻓ ⻔ of the radical supplement, a row
cut off its rules by a page break, a font without metrics) is folded in one place
(generator/core/textfold.py, tests below)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.core.findings import ERROR, WARNING
from generator.core.resources import specs_root
from generator.core.textfold import fold, fold_number_spaces
from generator.publish.source import load_source
from generator.publish.verify import check_published_pdf
from generator.xlsx.libreoffice import soffice

SEED = specs_root() / "samples" / "seed-2024.json"
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.slow
def test_our_own_pdf_has_no_page_of_notes_or_totals_alone(tmp_path: Path) -> None:
    assert _lonely_pages(_published(tmp_path, "pdf")) == []


def test_fold_gives_back_what_was_written() -> None:
    assert fold("⻓沙市企业服务中⼼部⻔") == "长沙市企业服务中心部门"
    assert fold("⼀般公共预算财政拨款⽀出") == "一般公共预算财政拨款支出"
    assert fold("２１２８．８５") == "2128．85"  # full-width digits folded, Chinese punctuation kept
    assert fold("（一）支出：1，2。") == "（一）支出：1，2。"
    assert fold("纳入专戶管理") == "纳入专户管理"
    assert fold_number_spaces("支出 2, 128 . 85 万元，增长 12.5 %") == "支出 2,128.85 万元，增长 12.5%"
    assert fold("plain ascii 1.00") == "plain ascii 1.00"


def _problems(pdf: Path) -> list[tuple[str, str | None, str | None, str | None, str | None]]:
    src = load_source(str(SEED))
    return [(f.code, f.table, f.row, f.col, f.actual) for f in check_published_pdf(pdf, src)
            if f.severity in (ERROR, WARNING)]


def _lonely_pages(pdf: Path) -> list[int]:
    """Pages that hold only a table's notes, its total row or a form's 总分/自评等级 (and a page number)."""
    import pdfplumber

    out = []
    with pdfplumber.open(pdf) as doc:
        for i, page in enumerate(doc.pages, start=1):
            lines = [fold(x).strip() for x in (page.extract_text() or "").splitlines()]
            lines = [x for x in lines if x and not re.fullmatch(r"—\s*\d+\s*—", x)]
            if lines and all(re.match(r"(注：|\d+\.|总计|合计|总分|自评等级)", x) for x in lines):
                out.append(i)
    return out


def _published(tmp: Path, fmt: str) -> Path:
    from click.testing import CliRunner

    from generator.cli import cli

    res = CliRunner().invoke(cli, ["publish", str(SEED), "-o", str(tmp), "--format", fmt])
    assert res.exit_code == 0, res.output
    return next(tmp.glob(f"*.{fmt}"))


def _changed_html(html: str) -> tuple[str, str]:
    """One figure changed (2150550 栏1 975.45 → 975.46 in the first table that prints it); its table."""
    m = re.search(r'(data-key="2150550:1">)975\.45<', html)
    assert m is not None
    table = re.findall(r"(公开0\d)表", html[: m.start()])[-1]
    return html[: m.start()] + m.group(1) + "975.46<" + html[m.end():], table


def _print_chromium(html: Path, pdf: Path) -> None:
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={pdf.parent / 'chromium-profile'}", f"--print-to-pdf={pdf}",
                    "--no-pdf-header-footer", html.as_uri()], check=True, capture_output=True, timeout=180)
    assert pdf.is_file()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian's chromium")
def test_a_browser_printed_pdf_checks_clean_and_finds_one_changed_figure(tmp_path: Path) -> None:
    html = _published(tmp_path, "html")
    _print_chromium(html, tmp_path / "printed.pdf")
    assert _problems(tmp_path / "printed.pdf") == []
    assert _lonely_pages(tmp_path / "printed.pdf") == []
    # Chromium's CJK fonts lack metrics pdfminer wants: said once, as information, not per glyph
    found = [f.code for f in check_published_pdf(tmp_path / "printed.pdf", load_source(str(SEED)))]
    assert found.count("published-font-metrics") == 1
    changed, table = _changed_html(html.read_text(encoding="utf-8"))
    (tmp_path / "changed.html").write_text(changed, encoding="utf-8")
    _print_chromium(tmp_path / "changed.html", tmp_path / "changed.pdf")
    assert _problems(tmp_path / "changed.pdf") == [("published-figure-mismatch", table, "2150550", "1", "975.46")]


@pytest.mark.slow
@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice not installed")
def test_a_docx_printed_by_libreoffice_checks_clean_and_finds_one_changed_figure(tmp_path: Path) -> None:
    from docx import Document

    from generator.xlsx.libreoffice import convert

    docx = _published(tmp_path, "docx")
    printed = convert(docx, tmp_path / "lo", "pdf")
    assert _problems(printed) == [] and _lonely_pages(printed) == []
    with __import__("pdfplumber").open(printed) as pdf:  # 公开01 whole on its one page
        pages = [i for i, p in enumerate(pdf.pages) if "公开01" in fold(p.extract_text() or "").replace(" ", "")]
        assert len(pages) == 1 and "总计" in fold(pdf.pages[pages[0]].extract_text() or "")
    doc = Document(str(docx))
    changed = None
    for t in doc.tables:
        for row in t.rows:
            cells = row.cells
            if cells and cells[0].text.strip() == "2150550" and changed is None:
                for cell in cells[2:]:
                    if cell.text.strip() == "975.45":
                        cell.paragraphs[0].runs[0].text = "975.46"
                        changed = True
                        break
    assert changed
    doc.save(str(tmp_path / "changed.docx"))
    got = _problems(convert(tmp_path / "changed.docx", tmp_path / "lo2", "pdf"))
    assert [(c, r, col, a) for c, _t, r, col, a in got] == [("published-figure-mismatch", "2150550", "1", "975.46")]


def _without_rules(docx: Path, out: Path, change: tuple[str, str, str] | None = None) -> Path:
    """The DOCX as a word processor's tables with their borders off (text-positioned tables, no
    rules in the PDF); ``change``: (first cell of a row, old text, new text), the first such cell."""
    from docx import Document
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    doc = Document(str(docx))
    for el in doc.element.body.iter():
        if el.tag in (qn("w:tblBorders"), qn("w:tcBorders")):
            for side in el:
                side.set(qn("w:val"), "nil")
    for t in doc.tables:
        borders = t._tbl.tblPr.find(qn("w:tblBorders"))
        if borders is None:
            borders = OxmlElement("w:tblBorders")
            t._tbl.tblPr.append(borders)
        for name in ("top", "left", "bottom", "right", "insideH", "insideV"):
            side = borders.find(qn(f"w:{name}"))
            if side is None:
                side = OxmlElement(f"w:{name}")
                borders.append(side)
            side.set(qn("w:val"), "nil")
    done = change is None
    for t in doc.tables:
        for row in t.rows:
            cells = row.cells
            if done or not cells or cells[0].text.strip() != change[0]:  # type: ignore[index]
                continue
            for cell in cells[1:]:
                if cell.text.strip() == change[1]:  # type: ignore[index]
                    cell.paragraphs[0].runs[0].text = change[2]  # type: ignore[index]
                    done = True
                    break
    assert done
    doc.save(str(out))
    return out


@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice not installed")
def test_tables_printed_without_rules_check_clean_and_changed_figures_are_found(tmp_path: Path) -> None:
    """A word processor's tables with their borders off: no rules in the PDF, the tables found by
    where the words sit (columns from the gaps the rows leave, a wrapped 科目 name put back into its
    row, a form's figures in reading order)."""
    import pdfplumber

    from generator.xlsx.libreoffice import convert

    docx = _published(tmp_path, "docx")
    printed = convert(_without_rules(docx, tmp_path / "plain.docx"), tmp_path / "lo", "pdf")
    with pdfplumber.open(printed) as pdf:  # no table rules at all on the 公开 pages
        assert all(not p.edges for p in pdf.pages if re.search(r"公开0\d表", fold(p.extract_text() or "")))
    assert _problems(printed) == []
    changed = _without_rules(docx, tmp_path / "c1.docx", ("2150550", "975.45", "975.46"))
    got = _problems(convert(changed, tmp_path / "lo1", "pdf"))
    assert [(c, r, col, a) for c, _t, r, col, a in got] == [("published-figure-mismatch", "2150550", "1", "975.46")]
    changed = _without_rules(docx, tmp_path / "c2.docx", ("总分（含预算执行率10分）", "88.66", "88.67"))
    got = _problems(convert(changed, tmp_path / "lo2", "pdf"))
    assert [(c, t, r, col) for c, t, r, col, _a in got] == [("published-figure-mismatch", "附件3", "4:总分", "得分")]
