"""``check-published``: a published report (PDF) read back and every figure compared with the data.

What a 公开 checker does for a published 决算 PDF, but against the submitted figures: the tables are
found by their 公开NN表 or 附件N line (a table runs on until the next one or the next 第N部分; a
number that several tables share, 附件3 once per project, stands for them in order), each page's
ruled tables are extracted (pdfplumber) — a page without rules (a word processor's table with its
borders off) by where its words sit (:func:`_text_table`; a form's figures in reading order,
:func:`compare_words`) — and every row the data expects — laid out by the same
:func:`~.tables.table_views` the report is rendered with — is looked up by its keys (行次, 科目代码,
label; a 附件 form's rows in order) and each of its figures compared at its column, as printed.
第三部分 (情况说明) and 第五部分's 整体支出绩效自评报告 are extracted as text and checked by :func:`generator.narrative.check_narrative`.

Findings (codes):
- ``published-table-missing`` (error): a table of the spec is not in the PDF;
- ``published-row-missing`` (error): a row the data has is not in the table;
- ``published-figure-mismatch`` (error): a figure differs from the data (expected, actual);
- ``published-row-extra`` (warning): a row with figures the data does not have;
- ``published-text-missing`` (warning): no 第三部分 text was found to check;
- the narrative checker's own codes for the 说明's figures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..core.expr import Fig
from ..core.findings import ERROR, INFO, WARNING, Finding
from ..core.money import parse_lenient
from ..core.textfold import fold, fold_number_spaces
from ..narrative import check_narrative
from .report import published_dataset
from .source import Source
from .tables import Cell, TableView, table_views

_WS = re.compile(r"\s+")
_PART = re.compile(r"^\s*第([一二三四五])部分")
_HEADING = re.compile(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\d+\.(?!\d))")


class PublishedError(ValueError):
    """A PDF that cannot be read at all; message in Chinese."""


def _norm(text: str | None) -> str:
    return _WS.sub("", fold(text or ""))


@dataclass
class _Extracted:
    tables: dict[str, list[list[str]]] = field(default_factory=dict)  # table id -> rows of cell texts
    narrative: list[str] = field(default_factory=list)  # lines of 第三部分
    annex: list[str] = field(default_factory=list)  # lines of 第五部分 before its first form (the 自评报告)
    font_warnings: int = 0  # glyphs whose font lacks metrics (said once, as one finding)
    unruled: set[str] = field(default_factory=set)  # tables found on pages without rules


def _page_tables(page: object) -> list[list[list[str]]]:
    """The ruled tables of a page. A row that a page break cut off its table's rules (a browser
    prints a collapsed border with the row before it, on the previous page; the first row of the
    next page then has no top rule, the last of this page no bottom rule) is closed by a rule where
    the page's vertical rules begin and end."""
    settings: dict[str, object] = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}
    verticals = [e for e in page.edges if e["orientation"] == "v"]  # type: ignore[attr-defined]
    if verticals:
        settings["explicit_horizontal_lines"] = [min(e["top"] for e in verticals), max(e["bottom"] for e in verticals)]
    out = []
    for t in page.extract_tables(settings):  # type: ignore[attr-defined]
        out.append([[fold(c) if c is not None else "\x00" for c in row] for row in t])
    return out


_NUMBER = re.compile(r"^[-−]?(?:\d[\d,]*)(?:\.\d+)?%?$")


def _lines(page: object) -> list[tuple[float, list[tuple[float, float, str]]]]:
    """The page's words as lines (top, [(x0, x1, text)…]), top to bottom, left to right."""
    words = page.extract_words(keep_blank_chars=False, use_text_flow=False)  # type: ignore[attr-defined]
    lines: list[tuple[float, list[tuple[float, float, str]]]] = []
    for w in sorted(words, key=lambda w: (round(float(w["top"])), float(w["x0"]))):
        word = (float(w["x0"]), float(w["x1"]), fold(str(w["text"])))
        if lines and abs(lines[-1][0] - float(w["top"])) <= 2:
            lines[-1][1].append(word)
        else:
            lines.append((float(w["top"]), [word]))
    return lines


def _runs(lines: list[list[tuple[float, float, str]]], ncols: int) -> list[list[float]]:
    """Column runs of x: the spans the fullest lines' words cover (a gap no such word crosses
    separates two columns; a merged cell's label — 合计 over 科目代码 and 科目名称 — is in a line
    with fewer words and so draws no run); the narrowest gaps merged while there are more runs than
    the table's grid has columns."""
    most = max(len(line) for line in lines)
    runs: list[list[float]] = []
    for x0, x1 in sorted((x0, x1) for line in lines if len(line) == most for x0, x1, _t in line):
        if runs and x0 <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], x1)
        else:
            runs.append([x0, x1])
    while ncols and len(runs) > ncols:
        i = min(range(len(runs) - 1), key=lambda k: runs[k + 1][0] - runs[k][1])
        runs[i:i + 2] = [[runs[i][0], max(runs[i][1], runs[i + 1][1])]]
    return runs


def _text_table(page: object, ncols: int) -> list[list[str]]:
    """A table printed without rules (a word processor's table with its borders off): rows are the
    lines of words from the first line with a figure to the last, each word in the column run
    (:func:`_runs`) its middle falls in. A line without figures between two rows holds a label that
    wrapped (a word processor centres it, so its parts sit above and below its row): each part goes to
    the neighbouring row whose cell there is otherwise empty, else continues the row above."""
    lines = _lines(page)
    if not ncols:  # a form (cells spanning columns, rows in order): each line its words in order
        return [[t for _x0, _x1, t in line] for _top, line in lines]
    numeric = [i for i, (_top, line) in enumerate(lines) if _has_figure(line)]
    if not numeric:
        return []
    lines = lines[numeric[0]: numeric[-1] + 1]
    runs = _runs([line for _top, line in lines if _has_figure(line)], ncols)
    rows: list[tuple[float, dict[int, str]]] = []
    loose: list[tuple[float, dict[int, str]]] = []
    for top, line in lines:
        (rows if _has_figure(line) else loose).append((top, _cells(line, runs)))
    parts = _wrapped_parts(rows, loose)
    table = []
    for i, (top, got) in enumerate(rows):
        row = ["\x00"] * len(runs)
        for k in range(len(runs)):
            pieces = sorted(parts.get((i, k), []) + ([(top, got[k])] if k in got else []))
            if pieces:
                row[k] = "".join(t for _top, t in pieces)
        table.append(row)
    return table


def _has_figure(line: list[tuple[float, float, str]]) -> bool:
    return any(_NUMBER.match(t) for _x0, _x1, t in line)


def _cells(line: list[tuple[float, float, str]], runs: list[list[float]]) -> dict[int, str]:
    """A line's words by the column run their middle falls in (else the nearest)."""
    out: dict[int, str] = {}
    for x0, x1, text in line:
        mid = (x0 + x1) / 2
        k = min(range(len(runs)), key=lambda k: 0 if runs[k][0] <= mid <= runs[k][1]
                else min(abs(mid - runs[k][0]), abs(mid - runs[k][1])))
        out[k] = out.get(k, "") + text
    return out


def _wrapped_parts(rows: list[tuple[float, dict[int, str]]],
                   loose: list[tuple[float, dict[int, str]]]) -> dict[tuple[int, int], list[tuple[float, str]]]:
    """(row, column) -> the parts of a wrapped label there, by their top: each part of a line without
    figures goes to the row above or below whose cell is otherwise empty, else to the row above."""
    parts: dict[tuple[int, int], list[tuple[float, str]]] = {}
    for top, got in loose:
        below = next((i for i, (t, _c) in enumerate(rows) if t > top), len(rows))
        for k, text in got.items():
            near = [i for i in (below - 1, below) if 0 <= i < len(rows)]
            empty = [i for i in near if k not in rows[i][1] or (i, k) in parts]
            target = empty[0] if empty else near[0]
            parts.setdefault((target, k), []).append((top, text))
    return parts


class _Count:
    """pdfminer's per-glyph warnings (a font without FontBBox, …) counted, not printed one by one."""

    def __init__(self) -> None:
        import logging

        self.n = 0
        self.logger = logging.getLogger("pdfminer")
        outer = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                outer.n += 1

        self.handler = _Handler(logging.WARNING)

    def __enter__(self) -> _Count:
        self.saved = (self.logger.propagate, self.logger.level)
        self.logger.addHandler(self.handler)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.propagate, _level = self.saved


MAX_PDF_BYTES = 50 * 1024 * 1024  # as a returned workbook (Limits.max_file_bytes)
MAX_PDF_PAGES = 1000  # a 部门决算公开 report has tens of pages, a large 汇总 a few hundred
PDF_MEMORY_MB = 1024  # address space of the process that parses the PDF (a flate bomb stops there)
PDF_SECONDS = 600  # wall time of that process


def _limit_memory(mb: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (mb * 1024 * 1024, resource.getrlimit(resource.RLIMIT_AS)[1]))
    except (ImportError, ValueError, OSError):  # no rlimits here (Windows): the page and size limits still hold
        pass


def extract(pdf: Path, numbers: Mapping[str, str], ncols: Mapping[str, int] | None = None) -> _Extracted:
    """Tables (by 公开NN表 marker) and the 第三部分 lines of a PDF, read in a process of its own
    under a memory limit and a time limit: the PDF is untrusted (a flate bomb, 20,000 pages); what
    goes wrong is one Chinese :class:`PublishedError`."""
    import multiprocessing
    import stat
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    try:
        st = pdf.stat()
    except OSError as exc:
        raise PublishedError(f"{pdf}：无法读取（{exc.strerror or exc}）") from exc
    if not stat.S_ISREG(st.st_mode):
        raise PublishedError(f"{pdf}：不是普通文件，未读取")
    if st.st_size > MAX_PDF_BYTES:
        raise PublishedError(f"{pdf}：文件过大（{st.st_size // 1024 // 1024} MB，上限 {MAX_PDF_BYTES // 1024 // 1024} MB）")
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_limit_memory, initargs=(PDF_MEMORY_MB,))
    try:
        return pool.submit(_extract, pdf, dict(numbers), dict(ncols or {})).result(timeout=PDF_SECONDS)
    except PublishedError:
        raise
    except MemoryError as exc:
        raise PublishedError(f"{pdf}：PDF 过于庞大（解压后超过 {PDF_MEMORY_MB} MB 内存上限，疑似压缩炸弹），已拒绝") from exc
    except FutureTimeout as exc:
        raise PublishedError(f"{pdf}：读取 PDF 超过 {PDF_SECONDS} 秒，已停止") from exc
    except BrokenProcessPool as exc:
        raise PublishedError(f"{pdf}：读取 PDF 的进程异常退出（文件可能有问题或过于庞大），已拒绝") from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure: the file is unusable
        raise PublishedError(f"{pdf}：无法读取 PDF（文件已损坏或不是标准 PDF）") from exc
    finally:
        for proc in list(getattr(pool, "_processes", {}).values()):  # a worker still at it (the time limit)
            proc.kill()
        pool.shutdown(wait=True, cancel_futures=True)


def _out_of_memory(exc: BaseException | None) -> bool:
    """Did the memory limit stop it (pdfplumber wraps what pdfminer raises)?"""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, MemoryError) or "allocate" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _extract(pdf: Path, numbers: Mapping[str, str], ncols: Mapping[str, int]) -> _Extracted:
    import pdfplumber  # the PDF reader; imported only when a PDF is checked

    try:
        doc = pdfplumber.open(pdf)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure: the file is unusable
        raise PublishedError(f"{pdf}：无法读取 PDF（文件已损坏或不是标准 PDF）") from exc
    try:
        from pdfminer.pdftypes import resolve1

        count = int(resolve1(resolve1(doc.doc.catalog["Pages"])["Count"]))
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - no usable /Count: the pages are counted as they come
        count = 0
    if count > MAX_PDF_PAGES:
        doc.close()
        raise PublishedError(f"{pdf}：PDF 有 {count} 页，超过 {MAX_PDF_PAGES} 页的上限，未核对")
    # a number may stand for several tables (附件3 once per project): they come in the views' order
    marker: dict[str, list[str]] = {}
    for tid, num in numbers.items():
        marker.setdefault(_norm(num), []).append(tid)
    out = _Extracted()
    walk = _Walk(marker, out, ncols)
    with doc, _Count() as warned:
        for n, page in enumerate(doc.pages):
            if n >= MAX_PDF_PAGES:
                raise PublishedError(f"{pdf}：PDF 超过 {MAX_PDF_PAGES} 页的上限，未核对")
            try:
                text = page.extract_text() or ""
            except Exception as exc:  # noqa: BLE001
                if _out_of_memory(exc):
                    raise MemoryError from exc
                raise PublishedError(f"{pdf}：第{page.page_number}页无法读取（{exc}）") from exc
            walk.page(page, text)
    out.font_warnings = warned.n
    return out


class _Walk:
    """The pages in order: which part (第三部分, 第五部分) and which table each page's lines belong to."""

    def __init__(self, marker: dict[str, list[str]], out: _Extracted, ncols: Mapping[str, int]):
        self.marker, self.out, self.ncols = marker, out, ncols
        self.current: str | None = None
        self.part = ""

    def page(self, page: Any, text: str) -> None:
        lines = [fold_number_spaces(line) for line in text.splitlines()]
        text = "\n".join(lines)
        found: list[str] = []
        for line in lines:
            m = _PART.match(line)
            if m and not re.search(r"\.{3,}|…", line):
                self.part = m.group(1)
                self.current = None
            stripped = _norm(line)  # a converter may space CJK from digits (附件 1)
            if stripped in self.marker:
                found.append(stripped)
        if "目录" in _norm(text) and not found and self.part == "":
            return  # the table of contents
        for num in found:
            if self.marker[num]:
                self.current = self.marker[num].pop(0)
        if self.part == "三" and self.current is None:
            self.out.narrative.extend(lines)
        elif self.part == "五" and self.current is None:  # 第五部分's 整体支出绩效自评报告
            self.out.annex.extend(lines)
        if self.current is not None:
            tables = _page_tables(page)
            if not tables:  # no rules: a table laid out by the text alone
                tables = [_text_table(page, self.ncols.get(self.current, 0))]
                self.out.unruled.add(self.current)
            for rows in tables:
                self.out.tables.setdefault(self.current, []).extend(rows)


def _key_cells(row: list[Cell]) -> list[Cell]:
    """The labels that find a row (a 附件's long words are not keys: a PDF may break them anywhere)."""
    return [c for c in row if c.fig is None and c.kind != "text" and _norm(c.text)]


def _cells_at(row: list[str], col: int) -> str:
    return row[col] if col < len(row) else ""


def _aligned(expected: list[Cell], got: list[str], ncols: int) -> dict[int, str]:
    """The printed text under each expected cell, by the cell's first grid column. A fragment of a
    table on a page with fewer column rules than the grid (a form's last rows alone on a page, as a
    word processor may break it) has its own columns: there, cell by cell in order (a table without
    rules prints nothing for an empty cell: its words go to the cells that print something)."""
    if len(got) != ncols:
        solid = [x for x in got if x != "\x00"]
        if len(solid) == len(expected):
            return {c.col: t for c, t in zip(expected, solid, strict=True)}
        shown = [c for c in expected if _norm(c.text)]  # a line of words has no place for an empty cell
        if shown and len(solid) == len(shown):
            return {c.col: "" for c in expected} | {c.col: t for c, t in zip(shown, solid, strict=True)}
    return {c.col: _cells_at(got, c.col) for c in expected}


def _match(expected: list[Cell], rows: list[list[str]], used: set[int], ncols: int, after: int = -1) -> int | None:
    """The first unused row (past ``after``) whose labels are the expected row's; a row without labels:
    the first with a figure (``after`` given: a form, whose rows come in order, takes the next row)."""
    keys = _key_cells(expected)
    if not keys and after >= 0:
        return after + 1 if after + 1 < len(rows) and after + 1 not in used else None
    for i, got in enumerate(rows):
        if i in used or i <= after:
            continue
        at = _aligned(expected, got, ncols)
        if keys:
            if all(_norm(at[c.col]) == _norm(c.text) for c in keys):
                return i
        elif any(parse_lenient(_norm(at[c.col])) is not None and "." in at[c.col]
                 for c in expected if c.fig is not None):
            return i
    return None


def _amounts(row: list[str]) -> list[str]:
    return [c for c in row if c not in ("\x00", "") and "." in c and parse_lenient(_norm(c)) is not None]


def compare_table(view: TableView, rows: list[list[str]]) -> list[Finding]:
    out: list[Finding] = []
    used: set[int] = set()
    last = -1  # a form's rows are matched in order
    for expected in view.body:
        if not _key_cells(expected) and all(c.fig is None for c in expected):
            continue  # nothing to find it by, nothing to compare (a row of words only)
        idx = _match(expected, rows, used, view.ncols, last if view.form else -1)
        label = view.row_key(expected) or "1"
        if idx is None:
            out.append(Finding("published-row-missing", ERROR,
                               f"{view.number} 行 {label}：公开文件中找不到这一行", table=view.table, row=label))
            continue
        used.add(idx)
        last = idx
        out += _compare_row(view, expected, _aligned(expected, rows[idx], view.ncols))
    out += _extra_rows(view, rows, used)
    return out


def _compare_row(view: TableView, expected: list[Cell], at: dict[int, str]) -> list[Finding]:
    """Each figure of a found row against what is printed under it."""
    out = []
    for c in expected:
        if c.fig is None:
            continue
        printed = _norm(at[c.col]).replace("\x00", "")
        if printed == _norm(c.text):
            continue  # printed as the view prints it (an amount, a 执行率 in %, a score, a count)
        value = parse_lenient(printed) if printed else None
        if value is None or value != c.value or c.kind == "figure":
            out.append(Finding(
                "published-figure-mismatch", ERROR,
                f"{view.number} 行 {c.fig.row} 栏 {c.fig.col}：公开数 {printed or '（空）'} 与报送数 {c.text or '（空）'} 不符",
                table=view.table, row=c.fig.row, col=c.fig.col, expected=c.text, actual=printed or ""))
    return out


def _extra_rows(view: TableView, rows: list[list[str]], used: set[int]) -> list[Finding]:
    """Rows with figures the data does not have (past the header rows of each page's fragment)."""
    out = []
    for i, got in enumerate(rows):
        if i in used or not _amounts(got):
            continue
        if i < len(view.header) or any(_norm(x) == "栏次" for x in got):
            continue
        text = " ".join(_norm(x) for x in got if x not in ("\x00", ""))
        out.append(Finding("published-row-extra", WARNING, f"{view.number}：公开文件有报送数据中没有的行：{text}",
                           table=view.table, actual=text))
    return out


def compare_words(view: TableView, rows: list[list[str]]) -> list[Finding]:
    """A form printed without rules, whose long words wrap over many lines: its figures looked up in
    reading order, each among the few words after the one before it (a row's cells and the lines
    its long words may wrap into); one not there is a mismatch, and the search goes on from where it was."""
    words = [_norm(t) for row in rows for t in row if t not in ("\x00", "")]
    out: list[Finding] = []
    at = 0
    for expected in view.body:
        reach = 3 * len(expected) + 5 + sum(len(_norm(c.text)) // 4 for c in expected if c.fig is None)
        for c in expected:
            if c.fig is None or not _norm(c.text):
                continue
            want = _norm(c.text)
            hit = next((i for i in range(at, min(at + reach, len(words))) if words[i] == want), None)
            if hit is None:
                out.append(Finding(
                    "published-figure-mismatch", ERROR,
                    f"{view.number} 行 {c.fig.row} 栏 {c.fig.col}：公开文件中该处找不到报送数 {c.text}",
                    table=view.table, row=c.fig.row, col=c.fig.col, expected=c.text, actual=""))
                continue
            at = hit + 1
    return out


def narrative_text(lines: list[str]) -> str:
    """Page lines of 第三部分 joined back into paragraphs (a PDF wraps sentences at the margin)."""
    paras: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line or re.fullmatch(r"—\s*\d+\s*—", line) or _PART.match(line):
            continue
        if paras and not _HEADING.match(line) and not paras[-1].endswith(("。", "：", "】")) \
                and not re.search(r"情况说明$|说明$|情况$", paras[-1]):
            paras[-1] += line
        else:
            paras.append(line)
    return "\n".join(paras) + "\n"


def check_published_pdf(pdf: Path, source: Source, override: Mapping[Fig, Decimal] | None = None) -> list[Finding]:
    """Every figure of the spec's tables and of the 说明 in ``pdf`` against the source's data."""
    if not pdf.is_file():
        raise PublishedError(f"{pdf}：文件不存在")
    ds = published_dataset(source)
    views = table_views(source.spec, ds, override)
    got = extract(pdf, {v.id: v.number for v in views}, {v.id: 0 if v.form else v.ncols for v in views})
    if not got.tables and not got.narrative:
        raise PublishedError(f"{pdf}：未找到任何决算表或说明文字（是否为扫描件？）")
    findings: list[Finding] = []
    if got.font_warnings:
        findings.append(Finding("published-font-metrics", INFO,
                                f"PDF 中的字体缺少度量信息（{got.font_warnings} 处，常见于浏览器或部分软件打印的 PDF）；"
                                "不影响核对，文字已按字形对应的标准汉字读取", actual=str(got.font_warnings)))
    for v in views:
        rows = got.tables.get(v.id)
        if not rows:
            findings.append(Finding("published-table-missing", ERROR, f"公开文件中找不到 {v.number} {v.title}", table=v.table))
            continue
        findings.extend(compare_words(v, rows) if v.form and v.id in got.unruled else compare_table(v, rows))
    if got.narrative:
        for f in check_narrative(narrative_text(got.narrative + got.annex), ds, spec=source.spec):
            findings.append(f)
    else:
        findings.append(Finding("published-text-missing", WARNING, "公开文件中找不到第三部分（情况说明），未核对说明中的数字"))
    return [Finding(f.code, f.severity, f.message, f.table, f.row, f.col, f.cell, f.expected, f.actual, f.rule,
                    str(pdf), f.extra) for f in findings]
