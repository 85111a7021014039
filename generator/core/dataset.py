"""The canonical data document: values[table][row][col] as Decimal, plus names and notes.

A figure is identified by keys, never by a cell address:
- table: "公开01" … "公开09"
- row: 行次 ("1"…"60") in 公开01/04; 科目代码 ("2150550") or "合计" in 科目 sections;
  economic code ("30101"), "人员经费合计", "公用经费合计" in 公开06; "1" in 公开09
- col: 栏次 ("1", "2", …); "决算数" in 公开06
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .money import fmt, to_decimal

Values = dict[str, dict[str, dict[str, Decimal]]]
Texts = dict[str, dict[str, dict[str, str]]]
"""Typed-in text of the 附件 forms by the same keys: texts[table][row][col] (名称, 年度目标, 指标…)."""


class DataError(ValueError):
    """A data file that cannot be used; message in Chinese."""


@dataclass
class Dataset:
    unit_code: str = ""
    unit_name: str = ""
    year: int | None = None
    values: Values = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    cover: dict[str, str] = field(default_factory=dict)
    explanations: dict[str, str] = field(default_factory=dict)
    texts: Texts = field(default_factory=dict)
    # the spec version the figures are keyed by (a workbook records it; a data file may say it): the
    # format whose named figures its 说明 speaks of
    version: str = ""

    def text(self, table: str, row: str, col: str) -> str:
        return self.texts.get(table, {}).get(row, {}).get(col, "")

    def get(self, table: str, row: str, col: str) -> Decimal | None:
        return self.values.get(table, {}).get(row, {}).get(col)

    def set(self, table: str, row: str, col: str, value: Decimal) -> None:
        self.values.setdefault(table, {}).setdefault(row, {})[col] = value

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "unit": {"code": self.unit_code, "name": self.unit_name},
            "year": self.year,
            "values": {
                t: {r: {c: fmt(v) for c, v in cols.items()} for r, cols in rows.items()}
                for t, rows in self.values.items()
            },
            "names": dict(self.names),
            "notes": dict(self.notes),
        }
        if self.cover:
            doc["cover"] = dict(self.cover)
        if self.explanations:
            doc["explanations"] = dict(self.explanations)
        if self.texts:
            doc["texts"] = {t: {r: dict(cols) for r, cols in rows.items()} for t, rows in self.texts.items()}
        if self.version:
            doc["version"] = self.version
        return doc

    @classmethod
    def from_json(cls, doc: Any, source: str = "") -> Dataset:
        where = f"{source}：" if source else ""
        if not isinstance(doc, dict):
            raise DataError(f"{where}数据文件应为 JSON 对象")
        unit = doc.get("unit") or {}
        ds = cls(
            unit_code=str(unit.get("code", "")),
            unit_name=str(unit.get("name", "")),
            year=int(doc["year"]) if doc.get("year") is not None else None,
            names=_strings(doc.get("names")),
            notes=_strings(doc.get("notes")),
            cover=_strings(doc.get("cover")),
            explanations=_strings(doc.get("explanations")),
            version=str(doc.get("version") or ""),
        )
        _read_texts(ds, doc.get("texts") or {}, where)
        _read_values(ds, doc.get("values") or {}, where)
        return ds


def _strings(got: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (got or {}).items()}


def _read_texts(ds: Dataset, texts: Any, where: str) -> None:
    """``{table: {row: {col: text}}}``; blank texts left out."""
    if not isinstance(texts, dict) or not all(
            isinstance(rows, dict) and all(isinstance(cols, dict) for cols in rows.values()) for rows in texts.values()):
        raise DataError(f"{where}texts 应为 {{表: {{行: {{栏: 文字}}}}}}")
    for t, rows in texts.items():
        for r, cols in rows.items():
            for c, v in cols.items():
                if v is not None and str(v).strip():
                    ds.texts.setdefault(str(t), {}).setdefault(str(r), {})[str(c)] = str(v)


def _read_values(ds: Dataset, values: Any, where: str) -> None:
    """``{table: {row: {col: amount}}}``; empty amounts left out, an amount that is none an error."""
    if not isinstance(values, dict):
        raise DataError(f"{where}values 应为 {{表: {{行: {{栏: 金额}}}}}}")
    for t, rows in values.items():
        if not isinstance(rows, dict):
            raise DataError(f"{where}{t} 的值应为 {{行: {{栏: 金额}}}}")
        for r, cols in rows.items():
            if not isinstance(cols, dict):
                raise DataError(f"{where}{t} 行 {r} 的值应为 {{栏: 金额}}")
            for c, v in cols.items():
                if v is None or v == "":
                    continue
                try:
                    ds.set(str(t), str(r), str(c), to_decimal(v))
                except ValueError as exc:
                    raise DataError(f"{where}{t} 行 {r} 栏 {c}：金额无法识别 {v!r}") from exc


def load_dataset(path: str | Path) -> Dataset:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{p}：无法读取数据文件（{exc}）") from exc
    return Dataset.from_json(doc, str(p))


def dump_dataset(ds: Dataset, path: str | Path) -> None:
    from .fsutil import atomic_write_text

    atomic_write_text(Path(path), json.dumps(ds.to_json(), ensure_ascii=False, indent=1) + "\n")
