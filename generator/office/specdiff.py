"""What changed between two spec versions, table by table: rows and columns added, removed, renamed
or moved, header and layout changes, formulas and 审核 rules changed, code lists.

:func:`diff_specs` is pure (two Spec objects in, a :class:`SpecDiff` out); :func:`render_markdown`
turns it into the Markdown sent to units with the new templates (``templates/spec_diff.md.j2``).
Keys of the old version are resolved to the new one with :mod:`generator.core.specmap`, so a formula or
rule whose text changed only because its keys were renamed is told apart from one whose meaning
changed — and a rule whose text did not change but whose keys now mean something else is caught.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import jinja2

from ..core.expr import BNode, Context, ExprError, Fig, Items, compile_expr, in_words, terms
from ..core.resources import templates_root
from ..core.rules import RuleInstance, describe_rule, expand_rules
from ..core.spec import Block, CodeList, Row, Rule, Spec, Table, header_grid
from ..core.specmap import (
    DROPPED,
    GONE,
    MERGED,
    RENAMED,
    SAME,
    SPLIT,
    SpecMap,
    TableMap,
    canon,
    old_canon,
    resolve,
    row_label,
)

TEMPLATES = templates_root()
SAMPLE_ITEMS = ["2150550"]  # a 项 code to expand rules and formulas over 科目 sections
ROLE_ZH = {"label": "项目", "line": "行次", "code": "科目代码", "name": "科目名称", "value": "金额", "text": "文字"}


@dataclass
class ColInfo:
    key: str
    caption: str
    block: str
    formula: str | None = None


@dataclass
class ColChange:
    old: ColInfo | None
    new: ColInfo | None


@dataclass
class RowInfo:
    key: str
    label: str
    block: str
    input: bool = True
    formula: str | None = None


@dataclass
class RowChange:
    kind: str  # added | removed | renamed | merged | split | moved | relabeled | input
    old: list[RowInfo] = field(default_factory=list)
    new: list[RowInfo] = field(default_factory=list)
    reason: str = ""


@dataclass
class FormulaChange:
    where: str
    old: str | None
    new: str | None
    same_meaning: bool | None  # None: cannot be compared (e.g. an input became a formula)
    detail: str = ""


@dataclass
class TableDiff:
    id: str
    title: str
    status: str  # added | removed | changed | unchanged
    old_title: str = ""
    changes: list[str] = field(default_factory=list)
    header_old: list[str] = field(default_factory=list)
    header_new: list[str] = field(default_factory=list)
    role_cols_removed: list[tuple[str, str]] = field(default_factory=list)  # (block, role)
    role_cols_added: list[tuple[str, str]] = field(default_factory=list)
    cols_added: list[ColInfo] = field(default_factory=list)
    cols_removed: list[ColInfo] = field(default_factory=list)
    cols_renamed: list[ColChange] = field(default_factory=list)
    cols_moved: list[ColChange] = field(default_factory=list)
    cols_recaptioned: list[ColChange] = field(default_factory=list)
    rows_added: list[RowChange] = field(default_factory=list)
    rows_removed: list[RowChange] = field(default_factory=list)
    rows_renamed: list[RowChange] = field(default_factory=list)
    rows_merged: list[RowChange] = field(default_factory=list)
    rows_split: list[RowChange] = field(default_factory=list)
    rows_moved: list[RowChange] = field(default_factory=list)
    rows_relabeled: list[RowChange] = field(default_factory=list)
    rows_input_changed: list[RowChange] = field(default_factory=list)
    blank_rows_removed: list[str] = field(default_factory=list)
    blank_rows_added: list[str] = field(default_factory=list)
    formulas: list[FormulaChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.status != "unchanged"

    def summary(self) -> list[str]:
        """A few words per kind of change, for the overview."""
        if self.status in ("added", "removed"):
            return ["新增的表" if self.status == "added" else "删除的表"]
        out: list[str] = []
        if self.role_cols_removed:
            out.append("删除“" + "”“".join(dict.fromkeys(ROLE_ZH[r] for _, r in self.role_cols_removed)) + "”列")
        if self.role_cols_added:
            out.append("新增“" + "”“".join(dict.fromkeys(ROLE_ZH[r] for _, r in self.role_cols_added)) + "”列")
        if any(c.startswith("表名") for c in self.changes):
            out.append("表名调整")
        if self.header_old:
            out.append("表头调整")
        for items, what in ((self.cols_added, "新增 {n} 栏"), (self.cols_removed, "删除 {n} 栏"),
                            (self.cols_renamed, "{n} 栏改栏次"), (self.cols_moved, "{n} 栏移位"),
                            (self.cols_recaptioned, "{n} 栏改名"),
                            (self.rows_added, "新增 {n} 行"), (self.rows_removed, "删除 {n} 行"),
                            (self.rows_renamed, "{n} 行改了行次或代码"), (self.rows_merged, "{n} 处合并行"),
                            (self.rows_split, "{n} 行拆分"), (self.rows_moved, "{n} 行移位"),
                            (self.rows_relabeled, "{n} 行改名"), (self.rows_input_changed, "{n} 行填报方式变化")):
            if items:
                out.append(what.format(n=len(items)))
        changed_meaning = [f for f in self.formulas if f.same_meaning is not True]
        if changed_meaning:
            out.append(f"{len(changed_meaning)} 处公式口径变化")
        elif self.formulas:
            out.append(f"{len(self.formulas)} 处公式随键名调整")
        if any(c.startswith(("表注", "无数据", "允许负数", "科目区", "区块", "工作表名", "表号")) for c in self.changes):
            out.append("其他说明调整")
        if (self.blank_rows_removed or self.blank_rows_added) and not out:
            out.append("排版空行调整")
        return out


@dataclass
class RuleChange:
    id: str
    kind: str  # added | removed | changed
    old: Rule | None = None
    new: Rule | None = None
    fields: list[str] = field(default_factory=list)
    same_meaning: bool | None = None
    instances_removed: list[str] = field(default_factory=list)
    instances_added: list[str] = field(default_factory=list)

    @property
    def severity_changed(self) -> bool:
        return self.old is not None and self.new is not None and self.old.severity != self.new.severity


@dataclass
class CodeListDiff:
    id: str
    name: str
    status: str  # added | removed | changed
    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class SpecDiff:
    old_version: str
    new_version: str
    old_year: int
    new_year: int
    old_hash: str
    new_hash: str
    template: str
    title: str
    changes: list[str] = field(default_factory=list)
    tables: list[TableDiff] = field(default_factory=list)
    rules: list[RuleChange] = field(default_factory=list)
    rules_unchanged: int = 0
    codelists: list[CodeListDiff] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    previous: str | None = None

    def table(self, tid: str) -> TableDiff | None:
        return next((t for t in self.tables if t.id == tid), None)

    def rule(self, rid: str) -> RuleChange | None:
        return next((r for r in self.rules if r.id == rid), None)

    @property
    def changed_tables(self) -> list[TableDiff]:
        return [t for t in self.tables if t.changed]

    @property
    def unchanged_tables(self) -> list[TableDiff]:
        return [t for t in self.tables if not t.changed]

    def to_dict(self) -> dict[str, Any]:
        def rule_dict(r: Rule | None) -> dict[str, Any] | None:
            return _rule_fields(r) if r is not None else None

        doc = asdict(self)
        doc["rules"] = [
            {**{k: v for k, v in asdict(r).items() if k not in ("old", "new")}, "old": rule_dict(r.old), "new": rule_dict(r.new)}
            for r in self.rules
        ]
        return doc


# ---------------------------------------------------------------- helpers


def _rule_fields(r: Rule) -> dict[str, Any]:
    d = asdict(r)
    d.pop("file", None)
    d.pop("line", None)
    return d


def column_captions(t: Table) -> dict[tuple[str, str], str]:
    """(block id, 栏次) -> the header texts above the column ('本年支出/小计'), 栏次 rows left out."""
    grid = header_grid(t.header)
    out: dict[tuple[str, str], str] = {}
    i = 0
    for b in t.blocks:
        for c in b.columns:
            if c.role == "value":
                parts: list[str] = []
                for r, row in enumerate(grid):
                    if i >= len(row) or row[i] is None:
                        continue
                    hr, idx = row[i]  # type: ignore[misc]
                    text = t.header[hr][idx].text.strip()
                    if not text or text == "栏次" or text.isdigit() or text in parts or (r and text == c.key):
                        continue
                    parts.append(text)
                out[(b.id, c.key or "")] = "/".join(parts) or (c.key or "")
            i += 1
    return out


def _header_lines(t: Table) -> list[str]:
    lines = []
    for row in t.header:
        cells = []
        for c in row:
            text = c.text.strip() or "（空）"
            if c.colspan > 1:
                text += f"（跨{c.colspan}栏）"
            cells.append(text)
        lines.append(" ｜ ".join(cells))
    return lines


def _all_rows(t: Table) -> list[tuple[Block, Row]]:
    out: list[tuple[Block, Row]] = []
    for b in t.blocks:
        out.extend((b, r) for r in b.rows)
        if b.total is not None:
            out.append((b, b.total))
    return out


def _is_blank(r: Row) -> bool:
    return not r.input and not r.formula and not r.label.strip()


def _info(spec: Spec, t: Table, b: Block, r: Row) -> RowInfo:
    return RowInfo(r.key, row_label(spec, t, r.key), b.id, r.input, r.formula)


def _lcs_keep(a: list[str], b: list[str]) -> set[str]:
    """Items of ``a`` (all also in ``b``) that keep their relative order: a longest common subsequence."""
    n, m = len(a), len(b)
    dp = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            dp[i][j] = dp[i + 1][j + 1] + 1 if a[i] == b[j] else max(dp[i + 1][j], dp[i][j + 1])
    keep: set[str] = set()
    i = j = 0
    while i < n and j < m:
        if a[i] == b[j]:
            keep.add(a[i])
            i += 1
            j += 1
        elif dp[i + 1][j] >= dp[i][j + 1]:
            i += 1
        else:
            j += 1
    return keep


def compress_keys(keys: list[str]) -> str:
    """'9、10、11、61' -> '9–11、61' for numeric keys; other keys joined as they are."""
    out: list[str] = []
    run: list[int] = []

    def flush() -> None:
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}")
            run.clear()

    for k in keys:
        if k.isdigit() and run and int(k) == run[-1] + 1:
            run.append(int(k))
        elif k.isdigit():
            flush()
            run.append(int(k))
        else:
            flush()
            out.append(k)
    flush()
    return "、".join(out)


def _describe_terms(spec: Spec, items: list[Fig | Items]) -> str:
    """Figures in words, the columns of one row put together: '公开01 行 54（二十四、债务还本支出）栏2–5'."""
    groups: dict[tuple[str, str, bool], list[str]] = {}
    for term in items:
        row = term.prefix if isinstance(term, Items) else term.row
        groups.setdefault((term.table, row, isinstance(term, Items)), []).append(term.col)
    out = []
    for (tid, row, is_items), cols in groups.items():
        t = spec.tables.get(tid)
        if is_items:
            shown = f"科目 {row or '合计'}"
        else:
            label = row_label(spec, t, row) if t is not None else row
            shown = f"行 {row}" + ("" if label == row else f"（{label}）")
        out.append(f"{tid} {shown} 栏{compress_keys(cols)}")
    return "、".join(out)


def _term_delta(sm: SpecMap, pairs: list[tuple[BNode, BNode]]) -> str:
    """Which figures only one side of (old, new) expression pairs refers to, in words."""
    gone: dict[str, Fig | Items] = {}
    came: dict[str, Fig | Items] = {}
    for old, new in pairs:
        old_terms = {old_canon(sm, tm): tm for tm in terms(old)}
        new_terms = {canon(tm): tm for tm in terms(new)}
        for k, tm in old_terms.items():
            if k not in new_terms:
                gone.setdefault(k, tm)
        for k, tm in new_terms.items():
            if k not in old_terms:
                came.setdefault(k, tm)
    parts = []
    if gone:
        parts.append("不再包括 " + _describe_terms(sm.old, list(gone.values())))
    if came:
        parts.append("新增 " + _describe_terms(sm.new, list(came.values())))
    return "；".join(parts)


def _bind(text: str, spec: Spec, ctx: Context) -> BNode | None:
    try:
        return compile_expr(text, spec, ctx)
    except ExprError:
        return None


# ---------------------------------------------------------------- tables


def _title(title: str, year: int) -> str:
    """A table title as the workbook prints it (``{year}年度…`` filled in)."""
    return title.replace("{year}", str(year))


def _diff_table(sm: SpecMap, tid: str) -> TableDiff:
    old, new = sm.old.tables.get(tid), sm.new.tables.get(tid)
    if old is None:
        assert new is not None
        return TableDiff(tid, _title(new.title, sm.new.year), "added")
    if new is None:
        return TableDiff(tid, _title(old.title, sm.old.year), "removed", old_title=_title(old.title, sm.old.year))
    tm = sm.table(tid)
    td = TableDiff(tid, _title(new.title, sm.new.year), "unchanged", old_title=_title(old.title, sm.old.year))
    td.changes += _table_changes(sm, old, new)
    _diff_blocks(old, new, td)
    _diff_columns(sm, tm, old, new, td)
    _diff_rows(sm, tm, old, new, td)
    _diff_formulas(sm, tm, old, new, td)
    if any([td.changes, td.header_old, td.role_cols_removed, td.role_cols_added, td.cols_added, td.cols_removed,
            td.cols_renamed, td.cols_moved, td.cols_recaptioned, td.rows_added, td.rows_removed, td.rows_renamed,
            td.rows_merged, td.rows_split, td.rows_moved, td.rows_relabeled, td.rows_input_changed,
            td.blank_rows_removed, td.blank_rows_added, td.formulas]):
        td.status = "changed"
    return td


def _yes_no(old: bool) -> str:
    return "是 → 否" if old else "否 → 是"


def _table_changes(sm: SpecMap, old: Table, new: Table) -> list[str]:
    """What changed in the table's own settings: title, sheet, number, notes, statement, negatives, 科目区."""
    out = []
    if old.title != new.title:
        out.append(f"表名：{_title(old.title, sm.old.year)} → {_title(new.title, sm.new.year)}")
    if old.sheet != new.sheet:
        out.append(f"工作表名：{old.sheet} → {new.sheet}")
    if old.number != new.number:
        out.append(f"表号：{old.number} → {new.number}")
    if old.notes != new.notes:
        out.append("表注：" + " ".join(n.strip() for n in old.notes) + " → " + " ".join(n.strip() for n in new.notes))
    if old.statement != new.statement:
        out.append("无数据时须填空表说明：" + _yes_no(old.statement))
    if old.negative != new.negative:
        out.append("允许负数：" + _yes_no(old.negative))
    osec, nsec = old.section, new.section
    if bool(osec) != bool(nsec):
        out.append("科目区：" + ("删除" if osec else "新增") + "（按单位科目列示的行）")
    elif osec and nsec and osec.section != nsec.section:
        out.append(f"科目区代码表：{osec.section} → {nsec.section}")
    return out


def _diff_blocks(old: Table, new: Table, td: TableDiff) -> None:
    """Blocks removed or added, the header, and the label/line/code/name columns of each block."""
    old_blocks = {b.id: b for b in old.blocks}
    new_blocks = {b.id: b for b in new.blocks}
    td.changes += [f"区块 {bid} 删除" for bid in old_blocks if bid not in new_blocks]
    td.changes += [f"区块 {bid} 新增" for bid in new_blocks if bid not in old_blocks]
    if _header_lines(old) != _header_lines(new):
        td.header_old, td.header_new = _header_lines(old), _header_lines(new)
    for bid, nb in new_blocks.items():
        ob = old_blocks.get(bid)
        if ob is None:
            continue
        o_roles = [c.role for c in ob.columns if c.role != "value"]
        n_roles = [c.role for c in nb.columns if c.role != "value"]
        for role in dict.fromkeys(o_roles):
            td.role_cols_removed += [(bid, role)] * max(o_roles.count(role) - n_roles.count(role), 0)
        for role in dict.fromkeys(n_roles):
            td.role_cols_added += [(bid, role)] * max(n_roles.count(role) - o_roles.count(role), 0)


def _value_cols(t: Table) -> list[tuple[Block, str, str | None]]:
    """(block, 栏次, formula) of each value column, first occurrence of a key only."""
    seen: set[str] = set()
    out = []
    for b in t.blocks:
        for c in b.value_columns:
            key = c.key or ""
            if key in seen:
                continue
            seen.add(key)
            out.append((b, key, c.formula))
    return out


def _diff_columns(sm: SpecMap, tm: TableMap, old: Table, new: Table, td: TableDiff) -> None:
    ocap, ncap = column_captions(old), column_captions(new)
    o_cols = {k: ColInfo(k, ocap.get((b.id, k), k), b.id, f) for b, k, f in _value_cols(old)}
    n_cols = {k: ColInfo(k, ncap.get((b.id, k), k), b.id, f) for b, k, f in _value_cols(new)}
    for k, info in o_cols.items():
        target = tm.col(k)
        if target is None:
            td.cols_removed.append(info)
        elif target != k:
            td.cols_renamed.append(ColChange(info, n_cols[target]))
        elif info.caption != n_cols[target].caption:
            td.cols_recaptioned.append(ColChange(info, n_cols[target]))
    for k, info in n_cols.items():
        if k not in tm.col_sources:
            td.cols_added.append(info)
    mapped_old = [tm.col(k) for k in o_cols if tm.col(k) is not None]
    mapped_new = [k for k in n_cols if k in tm.col_sources]
    keep = _lcs_keep([k for k in mapped_old if k], mapped_new)
    for k in mapped_new:
        src = tm.col_sources[k]
        if k not in keep or o_cols[src].block != n_cols[k].block:
            td.cols_moved.append(ColChange(o_cols[src], n_cols[k]))


def _diff_rows(sm: SpecMap, tm: TableMap, old: Table, new: Table, td: TableDiff) -> None:
    o_rows = {r.key: (b, r) for b, r in _all_rows(old)}
    n_rows = {r.key: (b, r) for b, r in _all_rows(new)}
    merged: dict[str, list[RowInfo]] = {}
    for k, (b, r) in o_rows.items():
        _diff_row(sm, tm, old, new, td, k, b, r, n_rows, merged)
    for nkey, infos in merged.items():
        nb, nr = n_rows[nkey]
        td.rows_merged.append(RowChange("merged", infos, [_info(sm.new, new, nb, nr)]))
    for k, (b, r) in n_rows.items():
        if k not in tm.row_sources:
            if _is_blank(r):
                td.blank_rows_added.append(k)
            else:
                td.rows_added.append(RowChange("added", new=[_info(sm.new, new, b, r)]))
    _rows_moved(sm, tm, old, new, td, o_rows, n_rows)


def _diff_row(sm: SpecMap, tm: TableMap, old: Table, new: Table, td: TableDiff, k: str, b: Block, r: Row,
              n_rows: dict[str, tuple[Block, Row]], merged: dict[str, list[RowInfo]]) -> None:
    """Where one old row went: removed, split, merged (collected), renamed, relabelled, input changed."""
    rt = tm.row(k)
    info = _info(sm.old, old, b, r)
    if rt.kind in (DROPPED, GONE) or (rt.kind != SPLIT and rt.key is None):
        if _is_blank(r):
            td.blank_rows_removed.append(k)
        else:
            td.rows_removed.append(RowChange("removed", [info], reason=rt.reason if rt.kind == DROPPED else ""))
        return
    if rt.kind == SPLIT:
        td.rows_split.append(RowChange("split", [info], [_info(sm.new, new, *n_rows[x]) for x in rt.keys if x in n_rows],
                                       rt.reason))
        return
    nkey = rt.key
    assert nkey is not None
    nb, nr = n_rows[nkey]
    ninfo = _info(sm.new, new, nb, nr)
    if rt.kind == MERGED:
        merged.setdefault(nkey, []).append(info)
        return
    if rt.kind == RENAMED:
        td.rows_renamed.append(RowChange("renamed", [info], [ninfo]))
    elif info.label != ninfo.label and not (_is_blank(r) and _is_blank(nr)):
        td.rows_relabeled.append(RowChange("relabeled", [info], [ninfo]))
    if r.input != nr.input:
        td.rows_input_changed.append(RowChange("input", [info], [ninfo], "新版该行不再填数" if r.input else "新版该行须填数"))


def _rows_moved(sm: SpecMap, tm: TableMap, old: Table, new: Table, td: TableDiff,
                o_rows: dict[str, tuple[Block, Row]], n_rows: dict[str, tuple[Block, Row]]) -> None:
    """Single-source rows whose block changed or whose order among the others changed."""
    pairs = [(k, tm.row(k).key) for k in o_rows if tm.row(k).kind in (SAME, RENAMED) and tm.row(k).key in n_rows]
    old_order = [nk for _, nk in pairs if nk]
    new_order = [k for k in n_rows if k in set(old_order)]
    keep = _lcs_keep(old_order, new_order)
    for ok, nk in pairs:
        assert nk is not None
        ob, orow = o_rows[ok]
        nb, nrow = n_rows[nk]
        if _is_blank(orow):
            continue
        if nk not in keep or ob.id != nb.id:
            reason = "移到表的另一侧" if ob.id != nb.id else "位置调整"
            td.rows_moved.append(RowChange("moved", [_info(sm.old, old, ob, orow)], [_info(sm.new, new, nb, nrow)], reason))


def _sample_row(tm: TableMap, old: Table, new: Table, nb: Block) -> tuple[str, str] | None:
    """An (old row, new row) pair to bind a column formula with."""
    if nb.section:
        return SAMPLE_ITEMS[0], SAMPLE_ITEMS[0]
    for r in nb.rows:
        srcs = tm.row_sources.get(r.key) or []
        if len(srcs) == 1 and (r.input or r.formula) and old.row(srcs[0]) is not None:
            return srcs[0], r.key
    return None


def _diff_formulas(sm: SpecMap, tm: TableMap, old: Table, new: Table, td: TableDiff) -> None:
    o_cols = {k: (b, f) for b, k, f in _value_cols(old)}
    for nb, nkey, nf in _value_cols(new):  # column formulas
        okey = tm.col_sources.get(nkey)
        if okey is not None:
            _diff_col_formula(sm, tm, old, new, td, nb, nkey, nf, okey, o_cols[okey][1])
    o_rows = {r.key: (b, r) for b, r in _all_rows(old)}
    for nb, nr in _all_rows(new):  # row formulas (fixed rows and totals)
        srcs = tm.row_sources.get(nr.key) or []
        if len(srcs) == 1:
            ob, orow = o_rows[srcs[0]]
            _diff_row_formula(sm, tm, old, new, td, ob, orow, nb, nr)
    if old.section and new.section and old.section.subtotal != new.section.subtotal:
        td.formulas.append(FormulaChange("类、款小计", old.section.subtotal, new.section.subtotal, None))


def _input_or_formula(where: str, of: str | None, nf: str | None) -> FormulaChange:
    return FormulaChange(where, of, nf, None, "由填报改为公式" if of is None else "由公式改为填报")


def _diff_col_formula(sm: SpecMap, tm: TableMap, old: Table, new: Table, td: TableDiff, nb: Block, nkey: str,
                      nf: str | None, okey: str, of: str | None) -> None:
    if of is None and nf is None:
        return
    where = f"栏 {nkey}" + (f"（原栏 {okey}）" if okey != nkey else "")
    if of is None or nf is None:
        td.formulas.append(_input_or_formula(where, of, nf))
        return
    pair = _sample_row(tm, old, new, nb)
    same: bool | None = None
    detail = ""
    if pair is not None:
        on = _bind(of, sm.old, Context(old.id, pair[0], okey))
        nn = _bind(nf, sm.new, Context(new.id, pair[1], nkey))
        if on is not None and nn is not None:
            same = old_canon(sm, on) == canon(nn)
            detail = "" if same else _term_delta(sm, [(on, nn)])
    if of != nf or same is False:
        td.formulas.append(FormulaChange(where, of, nf, same, detail))


def _diff_row_formula(sm: SpecMap, tm: TableMap, old: Table, new: Table, td: TableDiff, ob: Block, orow: Row,
                      nb: Block, nr: Row) -> None:
    if orow.formula is None and nr.formula is None:
        return
    label = row_label(sm.new, new, nr.key)
    where = f"行 {label}" + (f"（原 {orow.key}）" if orow.key != nr.key else "")
    if orow.formula is None or nr.formula is None:
        td.formulas.append(_input_or_formula(where, orow.formula, nr.formula))
        return
    differing: list[tuple[BNode, BNode]] = []
    compared = False
    old_keys = [x.key for x in ob.value_columns]
    for c in nb.value_columns:
        okey = tm.col_sources.get(c.key or "")
        if okey is None or okey not in old_keys:
            continue
        on = _bind(orow.formula, sm.old, Context(old.id, orow.key, okey))
        nn = _bind(nr.formula, sm.new, Context(new.id, nr.key, c.key))
        if on is None or nn is None:
            continue
        compared = True
        if old_canon(sm, on) != canon(nn):
            differing.append((on, nn))
    same = not differing if compared else None
    if orow.formula != nr.formula or same is False:
        td.formulas.append(FormulaChange(where, orow.formula, nr.formula, same, _term_delta(sm, differing)))


# ---------------------------------------------------------------- rules


def _instances(spec: Spec, rule: Rule) -> list[RuleInstance]:
    one = replace(spec, rules=[rule])
    try:
        return expand_rules(one, lambda _t: list(SAMPLE_ITEMS))
    except (ExprError, KeyError, ValueError):
        return []


def _inst_canon(inst: RuleInstance, fn: Any) -> str:
    if inst.node is not None:
        return fn(inst.node)
    r = inst.rule
    return f"{r.kind}:{r.of}:{r.in_}:{r.table}"


def _diff_rule(sm: SpecMap, old: Rule, new: Rule) -> RuleChange | None:
    of, nf = _rule_fields(old), _rule_fields(new)
    fields = [k for k in nf if of.get(k) != nf.get(k)]
    o_inst = {_inst_canon(i, lambda n: old_canon(sm, n)): i for i in _instances(sm.old, old)}
    n_inst = {_inst_canon(i, canon): i for i in _instances(sm.new, new)}
    same = set(o_inst) == set(n_inst)
    if not fields and same:
        return None
    rc = RuleChange(new.id, "changed", old, new, fields, same)
    rc.instances_removed = [i.message for k, i in o_inst.items() if k not in n_inst]
    rc.instances_added = [i.message for k, i in n_inst.items() if k not in o_inst]
    return rc


# ---------------------------------------------------------------- the whole spec


def diff_specs(old: Spec, new: Spec, sm: SpecMap | None = None) -> SpecDiff:
    sm = sm or resolve(old, new)
    d = SpecDiff(old.version, new.version, old.year, new.year, old.hash, new.hash, new.template, new.title,
                 previous=sm.previous)
    if old.template != new.template:
        d.changes.append(f"模板标识：{old.template} → {new.template}")
    if old.title != new.title:
        d.changes.append(f"报表名称：{old.title} → {new.title}")
    if old.year != new.year:
        d.changes.append(f"年度：{old.year} → {new.year}")
    if sm.previous is not None and sm.previous != old.version:
        d.problems.append(f"新版写明的上一版本为 {sm.previous}，与比较的旧版 {old.version} 不同：映射可能不适用")
    d.problems.extend(str(p) for p in sm.problems)
    for tid in list(new.tables) + [t for t in old.tables if t not in new.tables]:
        d.tables.append(_diff_table(sm, tid))
    _diff_rules(sm, old, new, d)
    for cid in list(new.codelists) + [c for c in old.codelists if c not in new.codelists]:
        cd = _diff_codelist(cid, old.codelists.get(cid), new.codelists.get(cid))
        if cd is not None:
            d.codelists.append(cd)
    return d


def _diff_rules(sm: SpecMap, old: Spec, new: Spec, d: SpecDiff) -> None:
    old_rules = {r.id: r for r in old.rules}
    new_ids = {r.id for r in new.rules}
    for r in new.rules:
        if r.id not in old_rules:
            d.rules.append(RuleChange(r.id, "added", None, r))
            continue
        rc = _diff_rule(sm, old_rules[r.id], r)
        if rc is None:
            d.rules_unchanged += 1
        else:
            d.rules.append(rc)
    d.rules += [RuleChange(r.id, "removed", r, None) for r in old.rules if r.id not in new_ids]


def _diff_codelist(cid: str, oc: CodeList | None, nc: CodeList | None) -> CodeListDiff | None:
    if oc is None and nc is not None:
        return CodeListDiff(cid, nc.name, "added", added=list(nc.codes.items()))
    if nc is None and oc is not None:
        return CodeListDiff(cid, oc.name, "removed", removed=list(oc.codes.items()))
    if oc is None or nc is None:
        return None
    cd = CodeListDiff(cid, nc.name, "changed",
                      added=[(k, v) for k, v in nc.codes.items() if k not in oc.codes],
                      removed=[(k, v) for k, v in oc.codes.items() if k not in nc.codes],
                      renamed=[(k, oc.codes[k], v) for k, v in nc.codes.items() if k in oc.codes and oc.codes[k] != v])
    return cd if cd.added or cd.removed or cd.renamed else None


# ---------------------------------------------------------------- Markdown


def _md_cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def render_markdown(diff: SpecDiff, template: str = "spec_diff.md.j2") -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=False,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["cell"] = _md_cell
    env.filters["words"] = describe_rule  # a rule's message without its {placeholders}
    env.filters["expr"] = in_words  # an expression written for people
    env.filters["keys"] = compress_keys
    env.globals["ROLE_ZH"] = ROLE_ZH
    text = env.get_template(template).render(d=diff)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"


__all__ = ["ColChange", "ColInfo", "FormulaChange", "RowChange", "RowInfo", "RuleChange", "SpecDiff", "TableDiff",
           "column_captions", "compress_keys", "diff_specs", "render_markdown"]
