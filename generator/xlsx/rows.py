"""Rows of a plain table file a user gives us (a code list exported from a finance system): the
first sheet of an .xlsx, or a CSV in UTF-8 or GBK. Every cell as text; nothing evaluated."""

from __future__ import annotations

import csv
from pathlib import Path


class TableFileError(ValueError):
    """A table file that cannot be read; message in Chinese."""


MAX_ROWS = 100_000  # rows of a code list (the national list has a few thousand)
MAX_FIELD = 1000  # characters of one CSV field


def read_rows(path: Path, limits: object | None = None) -> list[list[str]]:
    """Every row of the file as texts, read under the reader's limits (size, zip bomb, XML
    complexity, cells: :class:`~.ooxml.Limits`); a file over them is a Chinese TableFileError."""
    import stat

    from .ooxml import Limits, XlsxError, open_xlsx

    path = Path(path)
    lim = limits if isinstance(limits, Limits) else Limits()
    try:
        st = path.stat()
    except OSError:
        raise TableFileError(f"文件 {path} 不存在") from None
    if not stat.S_ISREG(st.st_mode):
        raise TableFileError(f"{path.name} 不是普通文件")
    if st.st_size > lim.max_file_bytes:
        raise TableFileError(f"{path.name} 过大（{st.st_size // 1024 // 1024} MB，上限 {lim.max_file_bytes // 1024 // 1024} MB）")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            book = open_xlsx(path, lim)
        except XlsxError as exc:
            raise TableFileError(f"无法读取 {path.name}：{exc.message}") from exc
        if not book.sheets:
            raise TableFileError(f"{path.name} 中没有工作表")
        cells = book.sheets[0].cells
        rows: dict[int, dict[int, str]] = {}
        for (r, c), cell in cells.items():
            if cell.value is not None:
                rows.setdefault(r, {})[c] = _cell(cell.type, cell.value)
        if len(rows) > MAX_ROWS:
            raise TableFileError(f"{path.name} 有 {len(rows)} 行，超过 {MAX_ROWS} 行的上限")
        out = []
        for r in sorted(rows):
            cols = rows[r]
            out.append([cols.get(c, "") for c in range(max(cols) + 1)] if max(cols) < 50 else [cols.get(c, "") for c in range(50)])
        return out
    data = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableFileError(f"{path.name} 的编码无法识别（应为 UTF-8 或 GBK）")
    out = []
    try:
        for row in csv.reader(text.splitlines()):
            if len(out) >= MAX_ROWS:
                raise TableFileError(f"{path.name} 超过 {MAX_ROWS} 行的上限")
            if any(len(c) > MAX_FIELD for c in row):
                raise TableFileError(f"{path.name} 第 {len(out) + 1} 行有超过 {MAX_FIELD} 个字符的内容，不是代码表")
            out.append([c.strip() for c in row[:50]])
    except csv.Error as exc:
        raise TableFileError(f"{path.name} 第 {len(out) + 1} 行无法按 CSV 读取（{str(exc)[:100]}）") from exc
    return out


def _cell(kind: str, value: str) -> str:
    """A cell's text as a spreadsheet shows it: 2010101 for the number 2010101.0."""
    if kind == "n":
        try:
            f = float(value)
            if f.is_integer() and abs(f) < 1e15:
                return str(int(f))
        except ValueError:
            pass
    return value.strip()
