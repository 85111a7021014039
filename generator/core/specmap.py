"""Resolve keys of one spec version to keys of another: the mapping both the spec diff and the
migration of filled workbooks use.

The mapping is written in the *new* spec:

- on its rows (table files): ``renamed_from`` (the row's key in the previous version) and
  ``merged_from`` (several old rows whose amounts are summed into this one);
- in an optional mapping file (``mapping: mapping.yaml`` in spec.yaml, else ``mapping.yaml`` beside
  it), per table: ``columns_from`` {old 栏次: new 栏次}, ``rows_from`` {old row: new row},
  ``split_to`` {old row: [new rows]} (an amount that cannot be divided automatically) and
  ``dropped`` {old row: reason}.

Rows and columns that keep their key map to themselves; 科目 rows (codes) of a section always do.
Explicit claims win: an old key claimed by a new row or column is never also mapped to the new
one of the same key. Pure Python: no spreadsheet library here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .expr import BAbs, BBin, BCompare, BNeg, BNode, BSum, Fig, Items, Num
from .spec import Row, Spec, SpecProblem, Table, _loader, is_indicator_key, split_repeat
from .specschema import check_level

SAME = "same"  # the key did not change
RENAMED = "renamed"  # one old key -> one new key
MERGED = "merged"  # several old keys -> one new key (summed)
SPLIT = "split"  # one old key -> several new keys (not divisible automatically)
DROPPED = "dropped"  # removed on purpose (with a reason)
GONE = "gone"  # no home in the new version and no reason given
SECTION = "section"  # a 科目 code of a section table



@dataclass(frozen=True)
class RowTarget:
    """Where an old row goes."""

    kind: str
    keys: tuple[str, ...] = ()
    reason: str = ""

    @property
    def key(self) -> str | None:
        """The single new key, when the row has exactly one home."""
        return self.keys[0] if len(self.keys) == 1 and self.kind != SPLIT else None


@dataclass(frozen=True)
class FigTarget:
    """Where an old figure goes: ``fig`` is None when it has no (single) home."""

    fig: Fig | None
    kind: str
    reason: str = ""


@dataclass
class TableMap:
    id: str
    old: Table | None
    new: Table | None
    rows: dict[str, RowTarget] = field(default_factory=dict)  # every fixed row (and total) of the old table
    cols: dict[str, str | None] = field(default_factory=dict)  # every value column of the old table
    col_kind: dict[str, str] = field(default_factory=dict)
    row_sources: dict[str, list[str]] = field(default_factory=dict)  # new row -> old rows
    col_sources: dict[str, str] = field(default_factory=dict)  # new col -> old col

    def row(self, key: str) -> RowTarget:
        if key in self.rows:
            return self.rows[key]
        if self.new is None:
            return RowTarget(GONE, (), "新版没有此表")
        if self.new.kind == "form":  # 附件: indicator rows keep their keys; a project's rows map as the row
            if is_indicator_key(key):
                return RowTarget(SECTION, (key,))
            project, rest = split_repeat(key)
            if project and rest in self.rows:
                rt = self.rows[rest]
                return RowTarget(rt.kind, tuple(f"{project}:{k}" for k in rt.keys), rt.reason)
        if self.new.section is not None and key.isdigit():
            return RowTarget(SECTION, (key,))
        return RowTarget(GONE, (), "旧版没有此行")

    def col(self, key: str) -> str | None:
        return self.cols.get(key)


@dataclass
class SpecMap:
    old: Spec
    new: Spec
    tables: dict[str, TableMap]
    problems: list[SpecProblem] = field(default_factory=list)
    previous: str | None = None
    mapping_file: Path | None = None
    reverse: bool = False  # the mapping is the old spec's own, read backwards (new -> old versions)

    def table(self, tid: str) -> TableMap:
        tm = self.tables.get(tid)
        if tm is None:
            tm = TableMap(tid, None, self.new.tables.get(tid))
        return tm

    def figure(self, table: str, row: str, col: str) -> FigTarget:
        tm = self.table(table)
        if tm.new is None:
            return FigTarget(None, GONE, "新版没有此表")
        rt = tm.row(row)
        if rt.kind == SPLIT:
            return FigTarget(None, SPLIT, rt.reason or f"拆分至 {'、'.join(rt.keys)}，须手工分配")
        if rt.key is None:
            return FigTarget(None, rt.kind, rt.reason or "新版没有此行")
        new_col = tm.col(col) if tm.old is not None else (col if col in tm.new.col_keys() else None)
        if new_col is None:
            return FigTarget(None, GONE, f"新版没有对应的栏（原栏 {col}）")
        kind = rt.kind
        if kind in (SAME, SECTION) and new_col != col:
            kind = RENAMED
        return FigTarget(Fig(table, rt.key, new_col), kind, rt.reason)


# ---------------------------------------------------------------- the mapping file


def mapping_path(spec: Spec) -> Path | None:
    manifest = spec.raw.get("spec.yaml") or {}
    name = manifest.get("mapping")
    if name:
        return spec.root / str(name)
    p = spec.root / "mapping.yaml"
    return p if p.is_file() else None


def load_mapping(spec: Spec) -> tuple[dict[str, Any], list[SpecProblem], Path | None]:
    """The mapping file of a spec (empty when it has none) and the problems found in it."""
    path = mapping_path(spec)
    problems: list[SpecProblem] = []
    if path is None:
        return {}, problems, None
    file = str(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_loader())  # noqa: S506 - SafeLoader subclass
    except FileNotFoundError:
        return {}, [SpecProblem(file, None, "映射文件不存在")], path
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return {}, [SpecProblem(file, mark.line + 1 if mark else None, f"YAML 语法错误：{exc}")], path
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [SpecProblem(file, None, f"无法读取：{exc}")], path
    if raw is None:
        return {}, problems, path
    if not isinstance(raw, dict):
        return {}, [SpecProblem(file, 1, "映射文件应为映射")], path
    problems += [SpecProblem(f, line, message) for f, line, message in check_level("mapping", raw, file)]
    tables = raw.get("tables") or {}
    if not isinstance(tables, dict):
        problems.append(SpecProblem(file, getattr(raw, "line", None), "tables 应为 {表: {...}} 映射"))
        tables = {}
    out: dict[str, Any] = {"previous": str(raw["previous"]) if raw.get("previous") is not None else None,
                           "tables": {}}
    for tid, entry in tables.items():
        line = getattr(entry, "line", None)
        if not isinstance(entry, dict):
            problems.append(SpecProblem(file, line, f"{tid} 的映射应为映射"))
            continue
        t: dict[str, Any] = {}
        for name in ("columns_from", "rows_from", "dropped"):
            v = entry.get(name) or {}
            if not isinstance(v, dict):
                problems.append(SpecProblem(file, line, f"{tid} 的 {name} 应为 {{旧键: 新键}} 映射"))
                v = {}
            t[name] = {str(k): ("" if x is None else str(x)) for k, x in v.items()}
        split = entry.get("split_to") or {}
        if not isinstance(split, dict):
            problems.append(SpecProblem(file, line, f"{tid} 的 split_to 应为 {{旧键: [新键…]}} 映射"))
            split = {}
        t["split_to"] = {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in split.items()}
        t["line"] = line
        out["tables"][str(tid)] = t
    return out, problems, path


def check_mapping(spec: Spec) -> list[SpecProblem]:
    """The problems of a spec's mapping file that need no previous version (check-spec): the
    file's own (schema, shapes) and tables it names that this version does not have."""
    mapping, problems, path = load_mapping(spec)
    for tid, entry in (mapping.get("tables") or {}).items():
        if tid not in spec.tables:
            problems.append(SpecProblem(str(path), entry.get("line"), f"映射中的表 {tid} 不在本版规格中"))
    return problems


# ---------------------------------------------------------------- resolution


def _all_rows(t: Table) -> list[Row]:
    rows: list[Row] = []
    for b in t.blocks:
        rows.extend(b.rows)
        if b.total is not None:
            rows.append(b.total)
    return rows


def declared_previous(spec: Spec) -> str | None:
    """The version a spec says it migrates from (spec.yaml ``previous``, else the mapping file's)."""
    prev = (spec.raw.get("spec.yaml") or {}).get("previous")
    if prev is None:
        mapping, _problems, _path = load_mapping(spec)
        prev = mapping.get("previous")
    return str(prev) if prev is not None else None


def resolve(old: Spec, new: Spec) -> SpecMap:
    """Map every key of ``old`` to ``new``; problems of the mapping itself are collected, not raised.

    The mapping is the new spec's. When only the old spec names the other as its ``previous``
    (going back a version, e.g. 2025 -> 2024), the old spec's mapping is read backwards."""
    if declared_previous(new) != old.version and declared_previous(old) == new.version != old.version:
        return _invert(resolve(new, old))
    mapping, problems, path = load_mapping(new)
    manifest_prev = (new.raw.get("spec.yaml") or {}).get("previous")
    previous = mapping.get("previous") or (str(manifest_prev) if manifest_prev is not None else None)
    sm = SpecMap(old, new, {}, problems, previous, path)
    file = str(path) if path else str(new.root / "mapping.yaml")
    for tid, entry in (mapping.get("tables") or {}).items():
        if tid not in new.tables:
            problems.append(SpecProblem(file, entry.get("line"), f"映射中的表 {tid} 不在新版中"))
    for tid in list(old.tables) + [t for t in new.tables if t not in old.tables]:
        ot, nt = old.tables.get(tid), new.tables.get(tid)
        entry = (mapping.get("tables") or {}).get(tid) or {}
        sm.tables[tid] = _resolve_table(tid, ot, nt, entry, file, problems)
    return sm


def _invert(fwd: SpecMap) -> SpecMap:
    """The mapping of ``fwd`` (A -> B) read backwards (B -> A): renamed rows and columns turn back,
    merged rows become split ones (their sum cannot be divided) and split rows merge again."""
    rev = SpecMap(fwd.new, fwd.old, {}, list(fwd.problems), None, fwd.mapping_file, reverse=True)
    for tid, tm in fwd.tables.items():
        r = TableMap(tid, tm.new, tm.old)
        if r.old is None or r.new is None:
            if r.old is not None:
                r.rows = {row.key: RowTarget(GONE, (), "旧版没有此表") for row in _all_rows(r.old)}
                r.cols = {c: None for c in r.old.col_keys()}
                r.col_kind = {c: GONE for c in r.old.col_keys()}
            rev.tables[tid] = r
            continue
        split_back: dict[str, list[str]] = {}
        for a_key, rt in tm.rows.items():
            if rt.kind == SPLIT:
                for b_key in rt.keys:
                    split_back.setdefault(b_key, []).append(a_key)
        for row in _all_rows(r.old):
            srcs = tm.row_sources.get(row.key, [])
            if len(srcs) == 1:
                r.rows[row.key] = RowTarget(SAME if srcs[0] == row.key else RENAMED, (srcs[0],))
            elif len(srcs) > 1:
                r.rows[row.key] = RowTarget(SPLIT, tuple(srcs), f"由 {'、'.join(srcs)} 合并而来，须手工拆分")
            elif len(split_back.get(row.key, [])) == 1:
                r.rows[row.key] = RowTarget(MERGED, (split_back[row.key][0],))
            else:
                r.rows[row.key] = RowTarget(GONE, (), "目标版本没有此行")
        for k, rt in r.rows.items():
            if rt.key is not None:
                r.row_sources.setdefault(rt.key, []).append(k)
        for c in r.old.col_keys():
            src = tm.col_sources.get(c)
            r.cols[c] = src
            r.col_kind[c] = GONE if src is None else SAME if src == c else RENAMED
            if src is not None:
                r.col_sources[src] = c
        rev.tables[tid] = r
    return rev


def _resolve_table(tid: str, ot: Table | None, nt: Table | None, entry: dict[str, Any], file: str,
                   problems: list[SpecProblem]) -> TableMap:
    tm = TableMap(tid, ot, nt)
    if ot is None:
        if nt is not None:
            for r in _all_rows(nt):
                if r.renamed_from or r.merged_from:
                    problems.append(SpecProblem(nt.file, r.line, f"{tid} 是新增的表，行 {r.key} 的 renamed_from/merged_from 无处对应"))
        return tm
    if nt is None:
        for r in _all_rows(ot):
            tm.rows[r.key] = RowTarget(GONE, (), "新版没有此表")
        for c in ot.col_keys():
            tm.cols[c] = None
            tm.col_kind[c] = GONE
        return tm
    resolver = _TableResolver(tm, ot, nt, entry, file, problems)
    resolver.rows()
    resolver.columns()
    return tm


class _TableResolver:
    """One table present in both versions: where each old row and column goes."""

    def __init__(self, tm: TableMap, ot: Table, nt: Table, entry: dict[str, Any], file: str,
                 problems: list[SpecProblem]):
        self.tm, self.ot, self.nt, self.entry, self.file, self.problems = tm, ot, nt, entry, file, problems
        self.tid, self.line = tm.id, entry.get("line")
        self.old_rows = {r.key: r for r in _all_rows(ot)}
        self.new_rows = {r.key: r for r in _all_rows(nt)}
        self.claims: dict[str, tuple[str, str]] = {}  # old key -> (new key, kind)

    def problem(self, message: str, where_file: str | None = None, where_line: int | None = None,
                here: bool = True) -> None:
        self.problems.append(SpecProblem(where_file or self.file, self.line if here else where_line,
                                         f"{self.tid}：{message}"))

    def claim(self, old_key: str, new_key: str, kind: str, where_file: str, where_line: int | None) -> None:
        if old_key not in self.old_rows:
            self.problem(f"映射引用了旧版不存在的行 {old_key}", where_file, where_line, here=False)
            return
        if old_key in self.claims and self.claims[old_key][0] != new_key:
            self.problem(f"旧版行 {old_key} 同时映射到 {self.claims[old_key][0]} 与 {new_key}", where_file, where_line,
                         here=False)
            return
        self.claims[old_key] = (new_key, kind)

    def _claim_all(self) -> None:
        """The new rows' renamed_from/merged_from, then mapping.yaml's rows_from; several old rows renamed
        into one are summed like merged_from."""
        nt = self.nt
        for r in _all_rows(nt):
            for k in r.renamed_from:
                self.claim(k, r.key, RENAMED if k != r.key else SAME, nt.file, r.line)
            for k in r.merged_from:
                self.claim(k, r.key, MERGED, nt.file, r.line)
            if r.split_to:
                self.problem(f"split_to 应写在 mapping.yaml 中被拆分的旧行上，行 {r.key} 的 split_to 未使用", nt.file, r.line,
                             here=False)
        for k, v in self.entry.get("rows_from", {}).items():
            if v not in self.new_rows:
                self.problem(f"rows_from 的目标行 {v} 不在新版中")
                continue
            self.claim(k, v, RENAMED if k != v else SAME, self.file, self.line)
        merged_targets: dict[str, list[str]] = {}
        for k, (v, _kind) in self.claims.items():
            merged_targets.setdefault(v, []).append(k)
        for k, (v, kind) in list(self.claims.items()):
            if kind == RENAMED and len(merged_targets[v]) > 1:
                self.claims[k] = (v, MERGED)  # several old rows renamed into one: summed like merged_from

    def _row_target(self, k: str, split: dict[str, list[str]], dropped: dict[str, str]) -> RowTarget:
        if k in self.claims:
            v, kind = self.claims[k]
            return RowTarget(kind, (v,))
        if k in split:
            return RowTarget(SPLIT, tuple(split[k]), f"拆分至 {'、'.join(split[k])}，须手工分配")
        if k in dropped:
            return RowTarget(DROPPED, (), dropped[k] or "新版删除了此行")
        if k not in self.new_rows:
            return RowTarget(GONE, (), "新版没有此行")
        nr = self.new_rows[k]
        if nr.renamed_from and k not in nr.renamed_from:
            self.problem(f"新版行 {k} 写明 renamed_from {nr.renamed_from}，而旧版也有行 {k}："
                         "请用 merged_from 写明合并，或在 mapping.yaml 的 dropped 中说明旧行", self.nt.file, nr.line,
                         here=False)
        return RowTarget(SAME, (k,))

    def rows(self) -> None:
        self._claim_all()
        split, dropped = self.entry.get("split_to", {}), self.entry.get("dropped", {})
        for k in list(split) + list(dropped):
            if k not in self.old_rows:
                self.problem(f"映射引用了旧版不存在的行 {k}")
        for targets in split.values():
            for v in targets:
                if v not in self.new_rows:
                    self.problem(f"split_to 的目标行 {v} 不在新版中")
        tm = self.tm
        for k in self.old_rows:
            tm.rows[k] = self._row_target(k, split, dropped)
        for k, rt in tm.rows.items():
            if rt.key is not None:
                tm.row_sources.setdefault(rt.key, []).append(k)

    def columns(self) -> None:
        """mapping.yaml's columns_from, then every other old column to the new one of its key, if free."""
        tm = self.tm
        old_cols, new_cols = self.ot.col_keys(), self.nt.col_keys()
        targets: set[str] = set()
        for k, v in self.entry.get("columns_from", {}).items():
            if k not in old_cols:
                self.problem(f"columns_from 引用了旧版不存在的栏 {k}")
            elif v not in new_cols:
                self.problem(f"columns_from 的目标栏 {v} 不在新版中")
            elif v in targets:
                self.problem(f"新版栏 {v} 被多个旧栏映射")
            else:
                targets.add(v)
                tm.cols[k] = v
                tm.col_kind[k] = SAME if k == v else RENAMED
        for k in old_cols:
            if k in tm.cols:
                continue
            if k in new_cols and k not in targets:
                tm.cols[k] = k
                tm.col_kind[k] = SAME
                targets.add(k)
            else:
                tm.cols[k] = None
                tm.col_kind[k] = GONE
        for k, v in tm.cols.items():
            if v is not None:
                tm.col_sources[v] = k


# ---------------------------------------------------------------- comparing expressions across versions


def canon(node: BNode, fig: Callable[[Fig], str] | None = None, col: Callable[[str, str], str] | None = None) -> str:
    """A canonical text of a bound expression (sums are order-free). ``fig`` and ``col`` rename keys
    first (old → new) so that an old expression and a new one compare equal when they mean the same."""
    fig = fig or (lambda f: f"{f.table}|{f.row}|{f.col}")
    col = col or (lambda _t, c: c)
    if isinstance(node, Num):
        return format(node.value.normalize(), "f")
    if isinstance(node, Fig):
        return fig(node)
    if isinstance(node, Items):
        return f"items({node.table}|{node.prefix}|{col(node.table, node.col)})"
    if isinstance(node, BSum):
        return "sum(" + ",".join(sorted(canon(t, fig, col) for t in node.terms)) + ")"
    if isinstance(node, BNeg):
        return f"-({canon(node.operand, fig, col)})"
    if isinstance(node, BAbs):
        return f"abs({canon(node.operand, fig, col)})"
    if isinstance(node, BBin):
        return f"({canon(node.left, fig, col)}{node.op}{canon(node.right, fig, col)})"
    if isinstance(node, BCompare):
        return f"{canon(node.left, fig, col)}{node.op}{canon(node.right, fig, col)}"
    raise TypeError(f"unknown node {node!r}")


def old_canon(sm: SpecMap, node: BNode) -> str:
    """canon() of an expression bound on the old spec, with its keys mapped to the new spec's."""

    def fig(f: Fig) -> str:
        tgt = sm.figure(f.table, f.row, f.col)
        if tgt.fig is None:
            return f"?{f.table}|{f.row}|{f.col}"
        return f"{tgt.fig.table}|{tgt.fig.row}|{tgt.fig.col}"

    def col(t: str, c: str) -> str:
        tm = sm.table(t)
        new = tm.col(c) if tm.old is not None else c
        return new if new is not None else f"?{c}"

    return canon(node, fig, col)


def row_label(spec: Spec, t: Table, key: str) -> str:
    """How people know a row: its label, else the code's name, else the key."""
    found = t.row(key)
    row = found[1] if found else None
    if row is None:
        for b in t.blocks:
            if b.total is not None and b.total.key == key:
                row = b.total
    if row is not None and row.label.strip():
        return row.label.strip()
    for b in t.blocks:
        name = spec.code_name(b.codelist, key)
        if name:
            return name
    return key


__all__ = ["DROPPED", "GONE", "MERGED", "RENAMED", "SAME", "SECTION", "SPLIT", "FigTarget", "RowTarget", "SpecMap",
           "TableMap", "canon", "declared_previous", "load_mapping", "mapping_path", "old_canon", "resolve", "row_label"]
