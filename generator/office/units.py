"""The units file (``code,name,parent[,data][,kind][,subjects]``) and unit file names: what every office flow shares.

``subjects``: the unit's 项 codes separated by spaces (or commas/semicolons); a template built for
the unit lists them (with their 类/款) in 公开02, 公开03 and 公开05 without figures. A code may name
its tables: ``公开07:2296002`` (a government-fund 项 only in 公开07)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..core.findings import ERROR, Finding


def safe_filename(text: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", text).strip("._") or "unit"


def unit_filename(code: str, name: str) -> str:
    return f"{safe_filename(code)}-{safe_filename(name)}.xlsx"


def read_units_csv(path: Path) -> tuple[list[dict[str, str]], list[Finding]]:
    """code,name,parent[,data][,kind]; bad rows become findings, the rest are returned. ``kind`` 汇总 marks
    a unit that only sums its subordinates (no report of its own)."""
    rows: list[dict[str, str]] = []
    problems: list[Finding] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Finding("units-unreadable", ERROR, f"无法读取单位清单 {path}：{exc}", file=str(path))]
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"code", "name"} <= set(reader.fieldnames):
        return [], [Finding("units-bad-header", ERROR, "单位清单须有表头 code,name,parent", file=str(path))]
    seen: set[str] = set()
    for i, row in enumerate(reader, start=2):
        code, name = (row.get("code") or "").strip(), (row.get("name") or "").strip()
        if not code or not name:
            problems.append(Finding("units-bad-row", ERROR, f"第 {i} 行缺少单位代码或名称，已跳过", file=str(path), row=str(i)))
            continue
        if code in seen:
            problems.append(Finding("units-duplicate", ERROR, f"第 {i} 行单位代码 {code} 重复，已跳过", file=str(path), row=str(i)))
            continue
        seen.add(code)
        rows.append({"code": code, "name": name, "parent": (row.get("parent") or "").strip(),
                     "data": (row.get("data") or "").strip(), "kind": (row.get("kind") or "").strip(),
                     "subjects": (row.get("subjects") or "").strip(), "line": str(i)})
    return rows, problems


DEFAULT_SUBJECT_TABLES = ("公开02", "公开03", "公开05")


def parse_subjects(text: str, tables: tuple[str, ...] = DEFAULT_SUBJECT_TABLES) -> tuple[dict[str, list[str]], list[str]]:
    """``"2080501 2101101 公开07:2296002"`` → ({table: [项 codes]}, problems in Chinese)."""
    out: dict[str, list[str]] = {}
    problems: list[str] = []
    for token in re.split(r"[\s,;，；、]+", text.strip()):
        if not token:
            continue
        where, _, code = token.rpartition(":")
        targets = tuple(t if t.startswith("公开") else f"公开{t.zfill(2)}" for t in where.split("+")) if where else tables
        if not (code.isdigit() and len(code) == 7):
            problems.append(f"科目 {token!r} 应为 7 位项级代码")
            continue
        for t in targets:
            if code not in out.setdefault(t, []):
                out[t].append(code)
    return out, problems
