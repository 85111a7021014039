"""The units file (``code,name,parent[,data][,kind][,subjects]``) and unit file names: what every office flow shares.

``subjects``: the unit's 项 codes separated by spaces (or commas/semicolons); a template built for
the unit lists them (with their 类/款) in 公开02, 公开03 and 公开05 without figures. A code may name
its tables: ``公开07:2296002`` (a government-fund 项 only in 公开07)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.findings import ERROR, Finding
from ..core.spec import DEFAULT_SUBJECT_TABLES, Spec


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


def parse_subjects(text: str, tables: tuple[str, ...] = DEFAULT_SUBJECT_TABLES, leaves: dict[str, int] | None = None
                   ) -> tuple[dict[str, list[str]], list[str]]:
    """``"2080501 2101101 公开07:2296002"`` → ({table: [leaf codes]}, problems in Chinese). ``leaves``:
    the digits of each table's leaf 科目 (default 7, a 项 of the functional list; 5 for a section over
    the economic list): a code goes into the tables whose leaves it is (30201 into 公开08, not 公开02)."""
    out: dict[str, list[str]] = {}
    problems: list[str] = []
    for token in re.split(r"[\s,;，；、]+", text.strip()):
        if not token:
            continue
        where, _, code = token.rpartition(":")
        targets = tuple(t if t.startswith("公开") else f"公开{t.zfill(2)}" for t in where.split("+")) if where else tables
        digits = {t: (leaves or {}).get(t, 7) for t in targets}
        fit = [t for t in targets if code.isdigit() and len(code) == digits[t]]
        if not fit:
            lengths = sorted(set(digits.values()))
            words = "7 位项级" if lengths == [7] else "或".join(f"{n} 位" for n in lengths) + "末级"
            problems.append(f"科目 {token!r} 应为 {words}代码")
            continue
        for t in fit:
            if code not in out.setdefault(t, []):
                out[t].append(code)
    return out, problems


@dataclass
class UnitBuild:
    """One unit's workbook built from its row of the units file: plain data (crosses process and
    machine boundaries). ``data`` is the workbook's bytes (None when it could not be built)."""

    code: str
    filename: str
    data: bytes | None = None
    problem: str | None = None  # why it was not built (Chinese)
    errors: list[str] = field(default_factory=list)  # the build's error findings, rendered


def build_unit(spec: Spec, row: dict[str, Any], base: Path, key: str | None = None,
               password: str | None = None, spare_rows: int | None = None) -> UnitBuild:
    """Build the workbook of one units-file row (its data file, if any, relative to ``base``): its
    ``subjects`` and, under ``previous``, last year's (项 codes per table, names) listed as rows
    without figures."""
    from ..core.dataset import DataError, Dataset, load_dataset
    from ..xlsx.writer import build_workbook

    out = UnitBuild(row["code"], unit_filename(row["code"], row["name"]))
    try:
        ds = load_dataset(base / row["data"]) if row.get("data") else Dataset()
    except DataError as exc:
        out.problem = f"{exc}"
        return out
    ds.unit_code, ds.unit_name = row["code"], row["name"]
    leaves = {t.id: t.leaf_len for t in spec.tables.values() if t.section is not None}
    subjects, bad = parse_subjects(row.get("subjects") or "", tuple(spec.subject_tables), leaves)
    if bad:
        out.problem = "；".join(bad)
        return out
    prev_codes, prev_names = row.get("previous") or ({}, {})
    for src in (subjects, prev_codes):
        for t, codes in src.items():
            if t in spec.tables and spec.tables[t].section is not None:
                rows = ds.values.setdefault(t, {})
                for code in codes:
                    rows.setdefault(code, {})  # the row, without figures
    for c, n in prev_names.items():
        ds.names.setdefault(c, n)
    try:
        res = build_workbook(spec, ds, None, key, password, spare_rows)
    except ValueError as exc:
        out.problem = f"{exc}"
        return out
    out.data = res.data
    out.errors = [f.render() for f in res.findings if f.severity == ERROR]
    return out


def build_units(spec: Spec, rows: list[dict[str, Any]], base: Path, key: str | None = None,
                password: str | None = None, spare_rows: int | None = None) -> Iterator[UnitBuild]:
    """The local engine of ``build --units``: one unit after another in this process."""
    for row in rows:
        yield build_unit(spec, row, base, key, password, spare_rows)
