"""Load and validate the YAML specs. Pure Python: no spreadsheet library here.

A spec directory (``specs/2024``) holds ``spec.yaml`` (the manifest), one YAML file per 公开 table,
code lists and the 审核 rules. Every problem found is collected with its file and line and reported
together (:class:`SpecInvalid`), so a spec author fixes them in one pass.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any, TypeVar

_T = TypeVar("_T")

ROLES = {"label", "line", "code", "name", "value", "text"}
DEFAULT_LEVELS = (3, 5, 7)  # digits of a 类, 款, 项 in a code list unless it says its levels
SEVERITIES = {"error", "warning"}
RULE_KINDS = {"compare", "subset", "statement"}


@dataclass(frozen=True)
class SpecProblem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line or '?'}: {self.message}"


class SpecInvalid(Exception):
    def __init__(self, problems: list[SpecProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# ---------------------------------------------------------------- YAML with line numbers


class _LineDict(dict[str, Any]):
    line: int = 0
    key_lines: dict[str, int] = {}  # noqa: RUF012 - set per instance by the loader


class _LineList(list[Any]):
    line: int = 0
    item_lines: list[int] = []  # noqa: RUF012 - set per instance by the loader


_LOADER: list[Any] = []


def _loader() -> Any:
    """The YAML loader with line numbers, made on first use: a spec loaded from the cache (the
    usual case once a spec has been read) never imports PyYAML. libyaml's parser when PyYAML was
    built with it (some 10x faster on the specs), else the pure-Python one; both give the same
    nodes, marks included, and the constructors below are the same Python code."""
    if _LOADER:
        return _LOADER[0]
    import yaml

    class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    def construct_mapping(loader: Any, node: Any) -> _LineDict:
        d = _LineDict(loader.construct_mapping(node, deep=True))
        d.line = node.start_mark.line + 1
        # the line of each key, for the schema's "file:line" (a scalar key's text is str(key))
        d.key_lines = {k.value: k.start_mark.line + 1 for k, _v in node.value if isinstance(k.value, str)}
        return d

    def construct_seq(loader: Any, node: Any) -> _LineList:
        lst = _LineList(loader.construct_sequence(node, deep=True))
        lst.line = node.start_mark.line + 1
        lst.item_lines = [n.start_mark.line + 1 for n in node.value]
        return lst

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_seq)
    _LOADER.append(_Loader)
    return _Loader


def _line(obj: Any) -> int | None:
    return getattr(obj, "line", None)


# ---------------------------------------------------------------- model


@dataclass(frozen=True)
class HeaderCell:
    text: str
    colspan: int = 1
    rowspan: int = 1


@dataclass
class Column:
    role: str
    key: str | None = None
    width: float = 12
    formula: str | None = None
    line: int | None = None
    measure: str = "money"  # a value column's figures: money (万元, 2 decimals) | count (whole ≥ 0) | area (㎡) | percent
    codelist: str | None = None  # generated from this code list: the key is a code of it (a matrix's columns)
    max_length: int = 0  # (a text column) characters a cell may hold (0: DEFAULT_FIELD_LENGTH)


@dataclass
class Row:
    key: str
    label: str = ""
    code: str | None = None
    input: bool = True
    formula: str | None = None
    style: str = ""
    footer: bool = False
    negative: bool = False
    formulas: dict[str, str] = field(default_factory=dict)  # per-column formulas of one row (form tables)
    cols: list[str] | None = None  # the value columns this row has (form tables; None = every one)
    renamed_from: list[str] = field(default_factory=list)  # keys of this row in the previous spec version
    merged_from: list[str] = field(default_factory=list)  # several old rows summed into this one
    split_to: list[str] = field(default_factory=list)  # (on a removed row, in a mapping file) where it went
    line: int | None = None
    measure: str | None = None  # the row's figures measure this, whatever their columns' measure (a count row)


@dataclass
class Block:
    id: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    section: str | None = None  # code list id: rows are the unit's 科目
    codelist: str | None = None  # code list naming fixed rows (公开06)
    total: Row | None = None
    subtotal: str | None = None
    spare_rows: int = 0
    line: int | None = None
    # a section's code levels (digits of its 类, 款, 项 …), from its code list when the spec is built
    levels: tuple[int, ...] = DEFAULT_LEVELS
    # its own header rows: the block starts a row group stacked under the blocks above it (the blocks
    # after it, until the next with a header, stand beside it)
    header: list[list[HeaderCell]] = field(default_factory=list)

    @cached_property
    def value_columns(self) -> list[Column]:
        """The value columns (a loaded spec is never changed, so computed once per block)."""
        return [c for c in self.columns if c.role == "value"]

    def role_index(self, role: str) -> int | None:
        for i, c in enumerate(self.columns):
            if c.role == role:
                return i
        return None


@dataclass(frozen=True)
class FormCell:
    """One cell of a form row: fixed ``text``, a ``value`` (figure; input, or formula when
    ``formula``), a ``field`` (typed-in text), or a ``grade`` (优/良/中/差 of an expression)."""

    kind: str  # text | value | field | grade
    key: str = ""  # the column key of a value/field cell, the text of a text cell
    colspan: int = 1
    rowspan: int = 1
    formula: str | None = None
    fmt: str = "amount"  # amount | percent | score | count | area (value cells)
    max_length: int | None = None  # characters a field may hold (default: DEFAULT_FIELD_LENGTH)


@dataclass
class FormRow:
    key: str | None
    cells: list[FormCell]
    style: str = ""
    height: float | None = None
    indicators: IndicatorBlock | None = None
    line: int | None = None


@dataclass
class IndicatorBlock:
    """The variable rows of a 绩效 indicator table: one row per indicator from the unit's data,
    then ``spare_rows`` blank ones; ``label`` is the merged cell on their left."""

    columns: list[FormCell]
    label: str = ""
    spare_rows: int = 5


@dataclass
class Table:
    id: str
    sheet: str
    title: str
    number: str
    header: list[list[HeaderCell]]
    blocks: list[Block]
    notes: list[str]
    statement: bool
    print: dict[str, Any]
    file: str
    negative: bool = False
    kind: str = "table"  # table | form (rows of cells placed like an HTML table, 附件1–3)
    form: list[FormRow] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    repeat: str | None = None  # "project": one sheet per project (附件3), row keys "<n>:<key>"
    spare_repeats: int = 0
    consolidate: str = "sum"  # sum | list (indicator tables are listed per unit, never summed)
    publish: bool = True  # False: filled in the workbook, not printed as a table (附表1: the 说明's figures)
    _row_index: dict[str, tuple[Block, Row]] | None = field(default=None, init=False, repr=False, compare=False)
    _section: Block | bool | None = field(default=None, init=False, repr=False, compare=False)  # False: none

    @property
    def ncols(self) -> int:
        if self.kind == "form":
            return len(self.widths)
        return sum(len(b.columns) for b in self.groups[0][1]) if self.blocks else 0

    @property
    def groups(self) -> list[tuple[list[list[HeaderCell]], list[Block]]]:
        """The row groups, top to bottom: (header rows, blocks side by side). The first is the table's
        header over the blocks up to the first block with a header of its own; each such block starts
        the next group."""
        out: list[tuple[list[list[HeaderCell]], list[Block]]] = [(self.header, [])]
        for b in self.blocks:
            if b.header and out[-1][1]:
                out.append((b.header, []))
            out[-1][1].append(b)
        return out

    @property
    def indicators(self) -> IndicatorBlock | None:
        for fr in self.form:
            if fr.indicators is not None:
                return fr.indicators
        return None

    def text_keys(self) -> list[str]:
        """Column keys of the form's typed-in text cells (fixed rows and indicator rows)."""
        keys: list[str] = []
        cells = [c for fr in self.form for c in fr.cells]
        if self.indicators is not None:
            cells += self.indicators.columns
        for c in cells:
            if c.kind == "field" and c.key not in keys:
                keys.append(c.key)
        return keys

    @property
    def section(self) -> Block | None:
        """The block that is the table's 科目 section (at most one), found once: a loaded table is
        never changed, and the reader asks for every blank cell of a section."""
        if self._section is None:
            self._section = next((b for b in self.blocks if b.section), False)
        return self._section if isinstance(self._section, Block) else None

    def is_item(self, code: str) -> bool:
        """Is ``code`` a leaf 科目 of the table's section (a 7-digit 项 of the functional list, a
        5-digit 款 of the economic one)? Leaves are typed in; the levels above them are subtotals."""
        return self.section is not None and code.isdigit() and len(code) == self.leaf_len

    @property
    def leaf_len(self) -> int:
        """Digits of the 科目 a unit types into the table's section (7 for a functional 项, 5 for an
        economic 款; 7 without a section)."""
        return self.section.levels[-1] if self.section is not None else DEFAULT_LEVELS[-1]

    @property
    def leaf_words(self) -> str:
        """How the section's leaf 科目 are called in messages: 7 位项级 (functional), else by digits."""
        return "7 位项级" if self.leaf_len == 7 else f"{self.leaf_len} 位末级"

    def with_ancestors(self, code: str) -> list[str]:
        """The code and the codes of its levels above it in the section's list (30101 → 301, 30101)."""
        sec = self.section
        levels = sec.levels if sec is not None else DEFAULT_LEVELS
        return [code[:n] for n in levels if n < len(code)] + [code]

    def col_keys(self) -> list[str]:
        keys: list[str] = []
        for b in self.blocks:
            for c in b.value_columns:
                if c.key not in keys:
                    keys.append(c.key or "")
        return keys

    def fixed_rows(self) -> list[tuple[Block, Row]]:
        return [(b, r) for b in self.blocks for r in b.rows]

    def row(self, key: str) -> tuple[Block, Row] | None:
        if self.repeat is not None:
            key = split_repeat(key)[1]
        index = self._row_index
        if index is None:  # built on first use: a loaded table is never changed afterwards
            index = {}
            for b, r in self.fixed_rows():
                index.setdefault(r.key, (b, r))  # the first row with the key, as a scan would find
            self._row_index = index
        return index.get(key)


def split_repeat(key: str) -> tuple[str, str]:
    """``"3:年度资金总额"`` -> ("3", "年度资金总额"): the project and the row of a repeated table."""
    head, sep, tail = key.partition(":")
    return (head, tail) if sep and head.isdigit() else ("", key)


INDICATOR_KEY = re.compile(r"^(?:\d+:)?\d+$")


def is_indicator_key(key: str) -> bool:
    """An indicator row's key: its number, ``"7"``, or ``"2:7"`` in a repeated table."""
    return bool(INDICATOR_KEY.match(key))


@dataclass
class Rule:
    id: str
    severity: str
    message: str
    kind: str = "compare"
    expr: str | None = None
    table: str | None = None
    col: str | None = None
    foreach: list[dict[str, Any]] = field(default_factory=list)
    of: str | None = None
    in_: str | None = None
    when: str | None = None  # a table id: the rule applies only once that table has typed-in figures (附件)
    file: str = ""
    line: int | None = None


@dataclass
class CodeList:
    id: str
    name: str
    codes: dict[str, str]
    levels: tuple[int, ...] = DEFAULT_LEVELS  # digits of each level, top down (economic: 3, 5)


@dataclass
class Label:
    """What some words of a 说明 stand for: the figures they may mean (a name of the spec's figures
    or an expression), the budget figures they compare with, where (base/basic/fund/soe), and whether
    the budget is the budget file's 年初预算数 (``initial``)."""

    words: list[str]
    figures: list[str]
    budget: list[str] = field(default_factory=list)
    scope: str = "base"
    initial: bool = False
    line: int | None = None


@dataclass
class Spec:
    template: str
    version: str
    year: int
    title: str
    tables: dict[str, Table]
    codelists: dict[str, CodeList]
    rules: list[Rule]
    hash: str
    root: Path
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    # the figures 第三部分 and the report checks speak of: name -> expression over this format's tables
    figures: dict[str, str] = field(default_factory=dict)
    # the words it quotes from forms: name -> (table, row, col) of a typed-in text cell
    texts: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    # the tables a unit's 科目 (units.csv subjects) are listed in when no table is named
    subject_tables: list[str] = field(default_factory=list)
    # what the 说明's words stand for (check-narrative): words, figures (names or expressions),
    # budget, scope (base/basic/fund/soe), initial (the budget file's 年初预算数)
    labels: list[Label] = field(default_factory=list)
    figures_file: str = ""  # where they are written, and the line of each name
    figure_lines: dict[str, int] = field(default_factory=dict)
    # memo tables of derived, immutable things (compiled expressions, rule instances, layout parts);
    # a loaded spec is never changed, and a batch reuses one spec for every workbook
    _caches: dict[str, dict[Any, Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def cache(self, name: str) -> dict[Any, Any]:
        """The memo table ``name`` of this spec (created empty on first use)."""
        c = self._caches.get(name)
        if c is None:
            c = self._caches[name] = {}
        return c

    def __getstate__(self) -> dict[str, Any]:
        # memo tables are rebuilt where the spec is unpickled (worker processes), not shipped
        state = self.__dict__.copy()
        state["_caches"] = {}
        return state

    def table_by_sheet(self, sheet: str) -> Table | None:
        for t in self.tables.values():
            if t.sheet == sheet:
                return t
        return None

    def code_name(self, codelist: str | None, code: str) -> str | None:
        if codelist and codelist in self.codelists:
            return self.codelists[codelist].codes.get(code)
        return None


# ---------------------------------------------------------------- loading


class _Collector:
    def __init__(self) -> None:
        self.problems: list[SpecProblem] = []

    def add(self, file: str, line: int | None, message: str) -> None:
        self.problems.append(SpecProblem(file, line, message))


_PARSED: dict[Path, Any] | None = None  # while parse_spec runs: each file parsed once


def _read_yaml(path: Path, col: _Collector) -> Any:
    if _PARSED is not None and path in _PARSED:
        return _PARSED[path]
    got = _read_yaml_file(path, col)
    if _PARSED is not None:
        _PARSED[path] = got
    return got


def _read_yaml_file(path: Path, col: _Collector) -> Any:
    import yaml

    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_loader())  # noqa: S506 - SafeLoader subclass
    except FileNotFoundError:
        col.add(str(path), None, "文件不存在")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        col.add(str(path), mark.line + 1 if mark else None, f"YAML 语法错误：{getattr(exc, 'problem', exc)}")
    except (OSError, UnicodeDecodeError) as exc:
        col.add(str(path), None, f"无法读取：{exc}")
    return None


def _str(v: Any) -> str:
    return "" if v is None else str(v)


def _header(raw: Any, file: str, col: _Collector, generated: dict[str, list[tuple[str, str]]] | None = None
            ) -> list[list[HeaderCell]]:
    """The header rows; a cell ``{codes_of: LIST, show: name|code}`` stands for one cell per column
    generated from that code list (``generated``: list id -> (code, name) of those columns)."""
    rows: list[list[HeaderCell]] = []
    if not isinstance(raw, list):
        col.add(file, _line(raw), "header 应为表头行的列表")
        return rows
    for hr in raw:
        if not isinstance(hr, list):
            col.add(file, _line(raw), "header 的每一行应为单元格列表")
            continue
        cells = []
        for c in hr:
            if isinstance(c, dict) and c.get("codes_of") is not None:
                cols = (generated or {}).get(_str(c["codes_of"]))
                if not cols:
                    col.add(file, _line(c), f"表头 codes_of: {c['codes_of']} 没有对应的由代码表生成的列")
                show = _str(c.get("show") or "name")
                cells += [HeaderCell(code if show == "code" else name, 1, int(c.get("rowspan", 1)))
                          for code, name in cols or []]
            elif isinstance(c, dict):
                cells.append(HeaderCell(_str(c.get("text")), int(c.get("colspan", 1)), int(c.get("rowspan", 1))))
            else:
                cells.append(HeaderCell(_str(c)))
        rows.append(cells)
    return rows


def _row(raw: Any, file: str, col: _Collector) -> Row | None:
    if not isinstance(raw, dict) or "key" not in raw:
        col.add(file, _line(raw), "行定义须为含 key 的映射")
        return None
    return Row(
        key=_str(raw["key"]),
        label=_str(raw.get("label")),
        code=_str(raw["code"]) if raw.get("code") is not None else None,
        input=bool(raw.get("input", True)),
        formula=raw.get("formula"),
        style=_str(raw.get("style")),
        footer=bool(raw.get("footer", False)),
        negative=bool(raw.get("negative", False)),
        renamed_from=_keys(raw.get("renamed_from")),
        merged_from=_keys(raw.get("merged_from")),
        split_to=_keys(raw.get("split_to")),
        line=_line(raw),
        measure=_str(raw["measure"]) if raw.get("measure") else None,
    )


def _keys(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, list):
        return [_str(x) for x in v]
    return [_str(v)]


def _generated_columns(c: dict[str, Any], file: str, col: _Collector, codelists: dict[str, CodeList]
                       ) -> list[Column]:
    """The value columns a ``codelist`` column stands for: one per code of its ``codes`` (or of its
    ``level``), keyed by the code (a 科目 × 经济分类 matrix)."""
    cl = codelists.get(_str(c["codelist"]))
    if cl is None:
        col.add(file, _line(c), f"未知代码表：{c['codelist']}")
        return []
    if c.get("codes") is not None:
        codes = [_str(x) for x in c["codes"]] if isinstance(c["codes"], list) else []
        for code in codes:
            if code not in cl.codes:
                col.add(file, _line(c), f"列的代码 {code} 不在代码表 {cl.id} 中")
    elif isinstance(c.get("level"), int):
        codes = [k for k in cl.codes if len(k) == c["level"]]
    else:
        col.add(file, _line(c), "由代码表生成的列须有 codes（代码列表）或 level（位数）")
        return []
    if not codes:
        col.add(file, _line(c), f"由代码表 {cl.id} 生成的列一个代码也没有")
    return [Column(role="value", key=code, width=float(c.get("width", 12)), formula=c.get("formula"), line=_line(c),
                   measure=_str(c.get("measure") or "money"), codelist=cl.id) for code in codes]


def _generated(columns: list[Column], codelists: dict[str, CodeList] | None) -> dict[str, list[tuple[str, str]]]:
    """The columns generated from each code list: list id -> (code, name), what a header's
    ``codes_of`` stands for."""
    out: dict[str, list[tuple[str, str]]] = {}
    for c in columns:
        if c.codelist is not None and codelists is not None:
            out.setdefault(c.codelist, []).append((c.key or "", codelists[c.codelist].codes.get(c.key or "", "")))
    return out


def _columns(c: Any, file: str, col: _Collector, codelists: dict[str, CodeList]) -> list[Column]:
    """The column(s) one entry of a block's ``columns`` stands for."""
    if not isinstance(c, dict) or c.get("role") not in ROLES:
        col.add(file, _line(c), f"列的 role 应为 {sorted(ROLES)} 之一")
        return []
    if c["role"] == "value" and c.get("codelist") is not None:
        return _generated_columns(c, file, col, codelists)
    if c["role"] in ("value", "text") and c.get("key") is None:
        col.add(file, _line(c), "数值列须有 key（栏次）" if c["role"] == "value" else "文字列须有 key")
    return [Column(role=c["role"], key=_str(c["key"]) if c.get("key") is not None else None,
                   width=float(c.get("width", 12)), formula=c.get("formula"), line=_line(c),
                   measure=_str(c.get("measure") or "money"), max_length=int(c.get("max_length") or 0))]


def _block(raw: Any, file: str, col: _Collector, codelists: dict[str, CodeList] | None = None) -> Block | None:
    """A block of a table; its ``header`` (a stacked row group's) may name its own generated columns."""
    if not isinstance(raw, dict):
        col.add(file, _line(raw), "block 应为映射")
        return None
    columns = [x for c in raw.get("columns") or [] for x in _columns(c, file, col, codelists or {})]
    generated = _generated(columns, codelists)
    if not columns:
        col.add(file, _line(raw), f"block {raw.get('id')} 没有列")
    rows = [r for r in (_row(x, file, col) for x in raw.get("rows") or []) if r]
    total = _row(raw["total"], file, col) if raw.get("total") is not None else None
    b = Block(
        id=_str(raw.get("id")),
        columns=columns,
        rows=rows,
        section=raw.get("section"),
        codelist=raw.get("codelist") or raw.get("section"),
        total=total,
        subtotal=raw.get("subtotal"),
        spare_rows=int(raw.get("spare_rows", 0)),
        line=_line(raw),
        header=_header(raw["header"], file, col, generated) if raw.get("header") is not None else [],
    )
    if b.section and (b.role_index("code") is None or b.role_index("name") is None):
        col.add(file, b.line, "科目 section 须有 code 与 name 列")
    if b.section and not b.total:
        col.add(file, b.line, "科目 section 须定义 total（合计行）")
    if not b.section and not b.rows:
        col.add(file, b.line, f"block {b.id} 没有行")
    return b


FORM_CELL_KINDS = ("text", "value", "field", "grade")
MAX_CELL_TEXT = 32767  # characters a spreadsheet cell holds (Excel's limit; LibreOffice cuts there too)
DEFAULT_FIELD_LENGTH = 2000  # characters of a 附件 text field unless its spec says max_length
FORM_FORMATS = {"amount", "percent", "score", "count", "area"}


def _form_cell(raw: Any, file: str, col: _Collector) -> FormCell | None:
    if not isinstance(raw, dict):
        return FormCell("text", _str(raw))
    kinds = [k for k in FORM_CELL_KINDS if k in raw]
    if len(kinds) != 1:
        col.add(file, _line(raw), f"表单单元格须且只能有 {'/'.join(FORM_CELL_KINDS)} 之一")
        return None
    fmt = _str(raw.get("format") or "amount")
    if fmt not in FORM_FORMATS:
        col.add(file, _line(raw), f"format 应为 {sorted(FORM_FORMATS)} 之一")
    kind = kinds[0]
    max_length = raw.get("max_length")
    if max_length is not None and (kind != "field" or not isinstance(max_length, int) or isinstance(max_length, bool)
                                   or not 1 <= max_length <= MAX_CELL_TEXT):
        col.add(file, _line(raw), f"max_length 只用于 field，须为 1 到 {MAX_CELL_TEXT} 的整数")
        max_length = None
    return FormCell(kind, _str(raw[kind]), int(raw.get("colspan", 1)), int(raw.get("rowspan", 1)),
                    raw.get("formula"), fmt, max_length)


def _form(raw: Any, file: str, col: _Collector) -> tuple[list[FormRow], list[Block]]:
    """A form table: rows of cells; keyed rows become one block so expressions and figures work
    on them exactly as on the 公开 tables."""
    rows: list[FormRow] = []
    values: list[str] = []
    block_rows: list[Row] = []
    for fr in raw.get("form") or []:
        if not isinstance(fr, dict):
            col.add(file, _line(fr), "form 的每一行应为映射")
            continue
        if "indicators" in fr:
            rows.append(_indicator_row(fr, file, col, values))
            continue
        rows.append(_keyed_row(fr, file, col, values, block_rows))
    columns = [Column(role="value", key=k) for k in values]
    return rows, [Block(id="form", columns=columns, rows=block_rows, line=_line(raw))]


def _add_values(cells: list[FormCell], values: list[str]) -> None:
    for c in cells:
        if c.kind == "value" and c.key not in values:
            values.append(c.key)


def _indicator_row(fr: dict[str, Any], file: str, col: _Collector, values: list[str]) -> FormRow:
    ind = fr["indicators"] or {}
    cells = [c for c in (_form_cell(x, file, col) for x in ind.get("columns") or []) if c]
    _add_values(cells, values)
    return FormRow(None, [], indicators=IndicatorBlock(cells, _str(ind.get("label")), int(ind.get("spare_rows", 5))),
                   line=_line(fr))


def _keyed_row(fr: dict[str, Any], file: str, col: _Collector, values: list[str], block_rows: list[Row]) -> FormRow:
    """A form row of cells; with a key, also a row of the form's block."""
    cells = [c for c in (_form_cell(x, file, col) for x in fr.get("cells") or []) if c]
    key = _str(fr["key"]) if fr.get("key") is not None else None
    vcells = [c for c in cells if c.kind in ("value", "grade")]
    if vcells and key is None:
        col.add(file, _line(fr), "含数值单元格的行须有 key")
    _add_values(cells, values)
    if key is not None:
        block_rows.append(Row(key=key, label=key, input=True, style=_str(fr.get("style")),
                              formulas={c.key: c.formula for c in cells if c.kind == "value" and c.formula},
                              cols=[c.key for c in cells if c.kind == "value"], line=_line(fr)))
    return FormRow(key, cells, _str(fr.get("style")), fr.get("height"), line=_line(fr))


def _form_table(raw: dict[str, Any], file: str, col: _Collector) -> Table | None:
    for req in ("id", "sheet", "title", "widths", "form"):
        if req not in raw:
            col.add(file, _line(raw), f"缺少字段 {req}")
    if any(req not in raw for req in ("id", "sheet", "form", "widths")):
        return None
    form, blocks = _form(raw, file, col)
    repeat = raw.get("repeat")
    if repeat not in (None, "project"):
        col.add(file, _line(raw), "repeat 只能是 project")
    t = Table(id=_str(raw["id"]), sheet=_str(raw["sheet"]), title=_str(raw.get("title")),
              number=_str(raw.get("number", raw["id"])), header=[], blocks=blocks,
              notes=[_str(n) for n in raw.get("notes") or []], statement=False,
              print=dict(raw.get("print") or {}), file=file, kind="form", form=form,
              widths=[float(w) for w in raw["widths"]], repeat=repeat,
              spare_repeats=int(raw.get("spare_repeats", 0)), consolidate=_str(raw.get("consolidate") or "sum"),
              publish=raw.get("publish", True) is not False)
    _check_form(t, col)
    return t


def _check_table_shape(t: Table, raw: dict[str, Any], file: str, col: _Collector) -> None:
    """The header as wide as the columns; no row key twice."""
    for n, (header, blocks) in enumerate(t.groups):
        where = raw.get("header") if n == 0 else blocks[0].line
        width = sum(len(b.columns) for b in blocks)
        if n and width != t.ncols:
            col.add(file, blocks[0].line, f"block {blocks[0].id} 起的行组共 {width} 列，但表有 {t.ncols} 列（叠放的行组须与表同宽）")
        for i, row in enumerate(header_grid(header)):
            if len(row) != t.ncols:
                col.add(file, where if isinstance(where, int) else _line(where),
                        f"{'表头' if n == 0 else f'block {blocks[0].id} 的表头'}第 {i + 1} 行占 {len(row)} 列，但表有 {t.ncols} 列")
    keys: set[str] = set()
    for b in t.blocks:
        for r in b.rows + ([b.total] if b.total else []):
            if r.key in keys:
                col.add(file, r.line, f"行 key 重复：{r.key}")
            keys.add(r.key)


def _table(path: Path, col: _Collector, codelists: dict[str, CodeList] | None = None) -> Table | None:
    raw = _read_yaml(path, col)
    if raw is None:
        return None
    file = str(path)
    if not isinstance(raw, dict):
        col.add(file, 1, "表定义应为映射")
        return None
    if raw.get("kind") == "form":
        return _form_table(raw, file, col)
    for req in ("id", "sheet", "title", "header", "blocks"):
        if req not in raw:
            col.add(file, _line(raw), f"缺少字段 {req}")
    if any(req not in raw for req in ("id", "sheet", "blocks")):
        return None
    blocks = [b for b in (_block(x, file, col, codelists) for x in raw.get("blocks") or []) if b]
    generated = _generated([c for b in blocks for c in b.columns], codelists)
    sections = [b for b in blocks if b.section]
    for b in sections[1:]:
        col.add(file, b.line, f"一张表只能有一个科目 section：block {b.id} 与 block {sections[0].id} 都有 section")
    t = Table(
        id=_str(raw["id"]),
        sheet=_str(raw["sheet"]),
        title=_str(raw.get("title")),
        number=_str(raw.get("number", raw["id"] + "表")),
        header=_header(raw.get("header"), file, col, generated),
        blocks=blocks,
        notes=[_str(n) for n in raw.get("notes") or []],
        statement=bool(raw.get("statement", False)),
        print=dict(raw.get("print") or {}),
        file=file,
        negative=bool(raw.get("negative", False)),
        publish=raw.get("publish", True) is not False,
    )
    _check_table_shape(t, raw, file, col)
    return t


def form_grid(t: Table) -> list[list[tuple[int, FormCell]]]:
    """Place a form's cells like an HTML table: per form row, (column, cell) of every cell. An
    indicator block is one row here (its columns placed after the cells still spanning into it)."""
    occupied: set[tuple[int, int]] = set()
    out: list[list[tuple[int, FormCell]]] = []
    for r, fr in enumerate(t.form):
        cells = fr.indicators.columns if fr.indicators is not None else fr.cells
        placed: list[tuple[int, FormCell]] = []
        c = 1 if fr.indicators is not None and fr.indicators.label else 0
        for cell in cells:
            while (r, c) in occupied:
                c += 1
            placed.append((c, cell))
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    occupied.add((r + dr, c + dc))
            c += cell.colspan
        out.append(placed)
    return out


def _check_form(t: Table, col: _Collector) -> None:
    grid = form_grid(t)
    for fr, placed in zip(t.form, grid, strict=True):
        end = max((c + cell.colspan for c, cell in placed), default=0)
        if end > t.ncols:
            col.add(t.file, fr.line, f"表单行占 {end} 列，但 widths 只有 {t.ncols} 列")
    if sum(1 for fr in t.form if fr.indicators is not None) > 1:
        col.add(t.file, None, "一张表单最多一个 indicators 区")


def header_grid(header: list[list[HeaderCell]]) -> list[list[tuple[int, int] | None]]:
    """Place header cells like an HTML table: returns, per header row, for each column, the
    (row, index) of the cell that covers it. Used by the layout and for validation."""
    occupied: dict[tuple[int, int], tuple[int, int]] = {}
    width = 0
    for r, cells in enumerate(header):
        c = 0
        for i, cell in enumerate(cells):
            while (r, c) in occupied:
                c += 1
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    occupied[(r + dr, c + dc)] = (r, i)
            c += cell.colspan
        width = max(width, c)
    width = max([width] + [c + 1 for (_, c) in occupied])
    return [
        [occupied.get((r, c)) for c in range(width) if (r, c) in occupied] for r in range(len(header))
    ]


def _rules(path: Path, col: _Collector) -> list[Rule]:
    raw = _read_yaml(path, col)
    if raw is None:
        return []
    file = str(path)
    items = raw.get("rules") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        col.add(file, _line(raw), "rules 文件须含 rules 列表")
        return []
    rules = []
    seen: set[str] = set()
    for r in items:
        if not isinstance(r, dict) or "id" not in r:
            col.add(file, _line(r), "规则须为含 id 的映射")
            continue
        rid = _str(r["id"])
        if rid in seen:
            col.add(file, _line(r), f"规则 id 重复：{rid}")
        seen.add(rid)
        kind = _str(r.get("kind", "compare"))
        if kind not in RULE_KINDS:
            col.add(file, _line(r), f"规则 {rid} 的 kind 应为 {sorted(RULE_KINDS)} 之一")
        sev = _str(r.get("severity", "error"))
        if sev not in SEVERITIES:
            col.add(file, _line(r), f"规则 {rid} 的 severity 应为 error 或 warning")
        if kind == "compare" and not r.get("expr"):
            col.add(file, _line(r), f"规则 {rid} 缺少 expr")
        if not r.get("message"):
            col.add(file, _line(r), f"规则 {rid} 缺少中文 message")
        fe = r.get("foreach") or []
        if isinstance(fe, dict):
            fe = [fe]
        rules.append(
            Rule(
                id=rid,
                severity=sev,
                message=_str(r.get("message")),
                kind=kind,
                expr=r.get("expr"),
                table=r.get("table"),
                col=_str(r["col"]) if r.get("col") is not None else None,
                foreach=[dict(x) for x in fe],
                of=r.get("of"),
                in_=r.get("in"),
                when=_str(r["when"]) if r.get("when") is not None else None,
                file=file,
                line=_line(r),
            )
        )
    return rules


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


DEFAULT_SUBJECT_TABLES = ("公开02", "公开03", "公开05")
"""Where a unit's 科目 go when the spec does not say (subject_tables): the Changsha format's 收入/支出/
一般公共预算 tables."""

_TEXT_REF = re.compile(r"(\S+)\s+row\s+(\S+)\s+col\s+(\S+)")

SpecCheck = Callable[["Spec"], Iterable[tuple[str, "int | None", str]]]
"""A later check of a parsed spec: yields (file, line, message) problems."""


def parse_spec(root: str | Path, checks: Iterable[SpecCheck] = ()) -> Spec:
    """Parse a spec directory; run ``checks`` on the result; raise SpecInvalid listing every problem.

    The expression checks live above this module (:func:`generator.core.catalog.load_spec` passes
    them), so the spec parser depends on nothing of the expression language.
    """
    global _PARSED
    outer, _PARSED = _PARSED, {}
    try:
        return _parse_spec(Path(root), checks)
    finally:
        _PARSED = outer


def _names(v: Any) -> list[str]:
    """The file names a manifest lists (anything else is the schema's to report)."""
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def _schema(root: Path, manifest: dict[str, Any], col: _Collector) -> set[str]:
    """Check every file of the folder against the schema; the files with a problem."""
    from .specschema import check_level, level_of_table

    files: list[tuple[str, Path]] = [("manifest", root / "spec.yaml")]
    files += [("table", root / n) for n in _names(manifest.get("tables"))]
    files += [("codelist", root / n) for n in _names(manifest.get("codelists"))]
    if isinstance(manifest.get("rules"), str) and manifest["rules"]:
        files.append(("rules_file", root / manifest["rules"]))
    if isinstance(manifest.get("figures"), str) and manifest["figures"]:
        files.append(("figures_file", root / manifest["figures"]))
    bad: set[str] = set()
    for level, path in files:
        raw = _read_yaml(path, col)  # read once per parse (a file that cannot be read: said here, once)
        if level == "table":
            level = level_of_table(raw)
        for file, line, message in check_level(level, raw, str(path)):
            col.add(file, line, message)
            bad.add(file)
    return bad


def _parse_spec(root: Path, checks: Iterable[SpecCheck]) -> Spec:
    col = _Collector()
    manifest_path = root / "spec.yaml"
    manifest = _read_yaml(manifest_path, col)
    if not isinstance(manifest, dict):
        if not col.problems:
            col.add(str(manifest_path), 1, "spec.yaml 应为映射")
        raise SpecInvalid(col.problems)
    bad = _schema(root, manifest, col)
    try:
        spec = _build_spec(root, manifest, col, bad)
    except _Broken:
        raise SpecInvalid(col.problems) from None
    for check in checks:
        try:
            found = list(check(spec))
        except Exception:  # noqa: BLE001 - a value the schema named already: its problem is said
            if not bad:
                raise
            found = []
        for file, line, message in found:
            col.add(file, line, message)
    if col.problems:
        raise SpecInvalid(col.problems)
    return spec


class _Broken(Exception):
    """A file the schema found wrong could not be parsed further: its problems are reported."""


def _guarded(file: str, bad: set[str], col: _Collector, parse: Callable[[], _T]) -> _T:
    """``parse()``; when it fails on a file the schema already found wrong, stop with the problems
    said (a wrong type the parser cannot read past), else a problem naming the file."""
    try:
        return parse()
    except Exception as exc:  # noqa: BLE001 - never a traceback for a spec author
        if file not in bad:
            col.add(file, None, f"无法解析此文件（{type(exc).__name__}: {exc}）")
        raise _Broken from exc


def _build_spec(root: Path, manifest: dict[str, Any], col: _Collector, bad: set[str]) -> Spec:
    manifest_path = root / "spec.yaml"
    for req in ("template", "version", "year", "tables"):
        if req not in manifest:
            col.add(str(manifest_path), _line(manifest), f"缺少字段 {req}")
    raw_all: dict[str, Any] = {"spec.yaml": _plain(manifest)}
    codelists = _codelists(root, manifest, raw_all, col)  # before the tables: a matrix's columns come from one
    tables: dict[str, Table] = {}
    for name in _names(manifest.get("tables")):
        p = root / name
        t = _guarded(str(p), bad, col, partial(_table, p, col, codelists))
        raw_all[name] = _plain(_read_yaml(p, _Collector()))
        if t:
            if t.id in tables:
                col.add(str(p), None, f"表 {t.id} 重复定义")
            tables[t.id] = t
    rules: list[Rule] = []
    if isinstance(manifest.get("rules"), str) and manifest["rules"]:  # anything else: the schema says it
        name = manifest["rules"]
        p = root / name
        rules = _guarded(str(p), bad, col, lambda: _rules(p, col))
        raw_all[name] = _plain(_read_yaml(p, _Collector()))
    figures, texts, figure_lines, labels = _figures_file(root, manifest, raw_all, col)
    digest = hashlib.sha256(json.dumps(raw_all, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    spec = _guarded(str(manifest_path), bad, col, lambda: Spec(
        template=_str(manifest.get("template")),
        version=_str(manifest.get("version")),
        year=int(manifest.get("year") or 0),
        title=_str(manifest.get("title")),
        tables=tables,
        codelists=codelists,
        rules=rules,
        hash=digest[:16],
        root=root,
        raw=raw_all,
        figures=figures,
        texts=texts,
        figures_file=str(root / manifest["figures"]) if figures or texts else "",
        figure_lines=figure_lines,
        labels=labels,
        subject_tables=[t for t in _names(manifest.get("subject_tables")) or list(DEFAULT_SUBJECT_TABLES) if t in tables],
    ))
    for t in tables.values():
        for b in t.blocks:
            _check_block_codes(t, b, codelists, col)
            if b.section and b.section in codelists:
                b.levels = codelists[b.section].levels
    return spec


def _codelists(root: Path, manifest: dict[str, Any], raw_all: dict[str, Any], col: _Collector) -> dict[str, CodeList]:
    codelists: dict[str, CodeList] = {}
    for name in _names(manifest.get("codelists")):
        p = root / name
        raw = _read_yaml(p, col)
        raw_all[name] = _plain(raw)
        if not isinstance(raw, dict) or not isinstance(raw.get("codes"), dict):
            col.add(str(p), _line(raw), "代码表须含 id 与 codes 映射")
            continue
        codes = {_str(k): _str(v) for k, v in raw["codes"].items()}
        for k in codes:
            if not k.isdigit():
                col.add(str(p), _line(raw["codes"]), f"代码应为数字：{k}")
        levels = _levels(raw.get("levels"), str(p), col)
        lines = getattr(raw["codes"], "key_lines", {})
        for k in codes:
            if k.isdigit() and len(k) not in levels:
                col.add(str(p), lines.get(k, _line(raw["codes"])), f"代码 {k} 的位数不是代码表的层级位数 {list(levels)} 之一")
        codelists[_str(raw.get("id"))] = CodeList(_str(raw.get("id")), _str(raw.get("name")), codes, levels)
    return codelists


def _levels(raw: Any, file: str, col: _Collector) -> tuple[int, ...]:
    """A code list's ``levels``: increasing digit counts (default 3, 5, 7)."""
    if raw is None:
        return DEFAULT_LEVELS
    levels = tuple(raw) if isinstance(raw, list) and all(isinstance(n, int) and n > 0 for n in raw) else ()
    if not levels or list(levels) != sorted(set(levels)):
        col.add(file, _line(raw), f"levels 应为递增的位数列表（如 [3, 5, 7]），实为 {raw!r}")
        return DEFAULT_LEVELS
    return levels


def _figures_file(root: Path, manifest: dict[str, Any], raw_all: dict[str, Any], col: _Collector
                  ) -> tuple[dict[str, str], dict[str, tuple[str, str, str]], dict[str, int], list[Label]]:
    """The named figures (name -> expression), quoted texts (name -> table, row, col), each
    figure's line and the 说明's labels, from the file ``figures:`` names."""
    figures: dict[str, str] = {}
    texts: dict[str, tuple[str, str, str]] = {}
    figure_lines: dict[str, int] = {}
    labels: list[Label] = []
    if not (isinstance(manifest.get("figures"), str) and manifest["figures"]):
        return figures, texts, figure_lines, labels
    p = root / manifest["figures"]
    raw = _read_yaml(p, col)
    raw_all[manifest["figures"]] = _plain(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("figures"), dict):
        col.add(str(p), _line(raw), "figures 文件须含 figures 映射（名称: 表达式）")
        return figures, texts, figure_lines, labels
    for fname, text in raw["figures"].items():
        if not isinstance(text, str) or not text.strip():
            col.add(str(p), _line(raw["figures"]), f"数字“{fname}”的表达式应为非空文字")
            continue
        figures[_str(fname)] = text
    figure_lines = dict(getattr(raw["figures"], "key_lines", {}))
    for fname, where in (raw.get("texts") or {}).items():
        m = _TEXT_REF.fullmatch(str(where or "").strip())
        if m is None:
            col.add(str(p), _line(raw.get("texts")), f"文字“{fname}”应写作“表 row 行 col 栏”：{where!r}")
            continue
        texts[_str(fname)] = (m.group(1), m.group(2), m.group(3))
    for item in raw.get("labels") or []:
        if isinstance(item, dict) and item.get("words") and item.get("figures"):
            labels.append(Label([_str(w) for w in item["words"]], [_str(f) for f in item["figures"]],
                                [_str(f) for f in item.get("budget") or []], _str(item.get("scope") or "base"),
                                bool(item.get("initial", False)), _line(item)))
        else:
            col.add(str(p), _line(item), "labels 的每一项须有 words 与 figures")
    return figures, texts, figure_lines, labels


def _check_block_codes(t: Table, b: Block, codelists: dict[str, CodeList], col: _Collector) -> None:
    """A block's code list is known, its fixed rows' codes are in it (or, without one, in some list)."""
    if b.codelist and b.codelist not in codelists:
        col.add(t.file, b.line, f"未知代码表：{b.codelist}")
    elif b.codelist:
        _check_codes(t, b, codelists[b.codelist], col)
    for r in b.rows:
        if r.code is not None and not b.codelist and codelists and not any(
                r.code in cl.codes for cl in codelists.values()):
            col.add(t.file, r.line, f"行 {r.key} 的科目代码 {r.code} 不在任何代码表中")


def _check_codes(t: Table, b: Block, cl: CodeList, col: _Collector) -> None:
    """A fixed row of a block over a code list (公开06) is named from the list: its code must be there."""
    for r in b.rows:
        if r.key.isdigit() and not r.label and r.key not in cl.codes:  # its name would be left blank
            col.add(t.file, r.line, f"行 {r.key} 的科目代码 {r.key} 不在代码表 {cl.id} 中")
        elif r.code is not None and r.code not in cl.codes:
            col.add(t.file, r.line, f"行 {r.key} 的科目代码 {r.code} 不在代码表 {cl.id} 中")
