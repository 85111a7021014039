"""Rows of a plain table file a user gives us (a code list exported from a finance system): the
first sheet of an .xlsx, or a CSV in UTF-8 or GBK. Every cell as text; nothing evaluated."""

from __future__ import annotations

import csv
from pathlib import Path


class TableFileError(ValueError):
    """A table file that cannot be read; message in Chinese."""


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def read_rows(path: Path) -> list[list[str]]:
    path = Path(path)
    if not path.is_file():
        raise TableFileError(f"文件 {path} 不存在")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any damaged workbook: one message
            raise TableFileError(f"无法读取 {path.name}：{type(exc).__name__}: {exc}") from exc
        try:
            ws = wb.worksheets[0]
            return [[_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        finally:
            wb.close()
    data = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableFileError(f"{path.name} 的编码无法识别（应为 UTF-8 或 GBK）")
    return [[c.strip() for c in row] for row in csv.reader(text.splitlines())]
