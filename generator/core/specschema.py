"""The spec language's schema: every key allowed at every level of every spec file, and its type.

This is the one place that says which keys a spec file may hold. ``check-spec`` (and every load
of a spec, see :func:`generator.core.spec.parse_spec`; ``mapping.yaml`` wherever the mapping is read,
:func:`generator.core.specmap.load_mapping`) walks each file's YAML against it and reports, as
``file:line: message`` in Chinese:

- a key not allowed at its level (a misspelling gets "是否应为 …？" from difflib; a key that
  belongs to another level says where it belongs);
- a value of the wrong type: not an integer (``colspan: five``), not a number
  (``widths: [30, a]``), not true/false, not one of the allowed words, a list where a mapping
  belongs, a table id that is not 公开NN / 附件N (:data:`TABLE_ID_RE`, also the expression
  language's rule for table names).

Adding a key is one line in :data:`LEVELS`, in the level it belongs to, e.g. a measure on
columns, rows and form cells::

    "measure": Enum("money", "count", "area", "percent", "text"),

in ``column``, ``row`` and ``form_cell``; a top-level map of named figures in ``spec.yaml``::

    "figures": MapOf(Text(), Expr()),

in ``manifest``. A key of a new level is ``Nested("level")`` plus that level's own entry in
:data:`LEVELS`, :data:`SUBJECTS` and :data:`WHERE`. Then describe the key in
docs/spec-language.md (a row of the level's table, and an example if it is new in kind):
tests/test_spec_language_doc.py fails for a key of this module the page does not mention, and
checks every example of the page against this schema. Since every load of a spec runs the schema,
a key the code reads but this module lacks is refused: the key comes here first.

What the schema does not say (required keys, a row's key being unique, expressions, code lists,
formula cycles) is checked by the parser (:mod:`generator.core.spec`) and by
:func:`generator.core.catalog.validate_spec_expressions` and :func:`~generator.core.catalog.formula_cycles`. A type marked ``quiet=True`` is one whose
wrong value the parser already reports in its own words: the schema does not say it twice, but
still checks what is inside a value of the right shape.

Pure Python, no import of the rest of the core (spec.py and expr.py import this module). The YAML
it walks is the line-numbered kind :func:`generator.core.spec._loader` makes: mappings carry
``line`` and ``key_lines`` ({key: line}), lists ``line`` and ``item_lines``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .tableid import TABLE_ID_RE  # the table-id rule (in its own module: expr needs it on every read)

Problem = tuple[str, "int | None", str]


def is_table_id(value: Any) -> bool:
    return isinstance(value, str) and bool(TABLE_ID_RE.match(value))


# ---------------------------------------------------------------- types


@dataclass(frozen=True)
class Type:
    """A value's type. ``quiet``: a wrong value is the parser's to report (see the module doc)."""

    quiet: bool = field(default=False, kw_only=True)

    def check(self, v: Any, name: str) -> str | None:
        """None when ``v`` fits, else the Chinese message (``name`` is the key)."""
        raise NotImplementedError

    def children(self, v: Any) -> Iterator[tuple[Any, Type, int | None, str]]:
        """(value, type, line, name) of the parts of a value that fits: walked in turn."""
        return iter(())

    def shape(self) -> str:
        return "scalar"


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _cat(*parts: str) -> str:
    """Join words as the messages write them: a space between a Latin word or number and the
    next, none between Chinese characters."""
    out = ""
    for p in parts:
        if out and p and (out[-1].isascii() and out[-1].isalnum() or p[0].isascii() and p[0].isalnum()):
            out += " "
        out += p
    return out


def _says(name: str, text: str, value: Any) -> str:
    """The message "name 应为…，实为 value": a value written in the spec set off by a space, the
    words for a list or a mapping not."""
    shown = _show(value)
    return _cat(name, text) + (shown if isinstance(value, (dict, list)) or value is None else " " + shown)


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return "映射"
    if isinstance(v, list):
        return "列表"
    return "空值" if v is None else str(v)


@dataclass(frozen=True)
class Text(Type):
    """Text (a number or true/false written unquoted is read as its text)."""

    def check(self, v: Any, name: str) -> str | None:
        return None if _scalar(v) else _says(name, "应为文字，实为", v)


@dataclass(frozen=True)
class Expr(Type):
    """An expression of the spec language (see expr.py): text, checked when the spec is bound."""

    def check(self, v: Any, name: str) -> str | None:
        if isinstance(v, str):
            return None
        return _says(name, "应为表达式（文字，数字也须加引号），实为", v)


@dataclass(frozen=True)
class TableId(Type):
    """A table id, 公开NN or 附件N."""

    def check(self, v: Any, name: str) -> str | None:
        return None if is_table_id(v) else _says(name, "应为表 id（公开NN、附件N 或 附表N），实为", v)


def _as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"\s*[-+]?\d+\s*", v):
        return int(v)
    return None


@dataclass(frozen=True)
class Int(Type):
    """A whole number, at least ``min``."""

    min: int | None = None

    def check(self, v: Any, name: str) -> str | None:
        n = _as_int(v)
        if n is None:
            return _says(name, "应为整数，实为", v)
        if self.min is not None and n < self.min:
            return _says(name, f"应为不小于 {self.min} 的整数，实为", n)
        return None


@dataclass(frozen=True)
class Number(Type):
    """A number (a width in characters, a height in points), greater than 0 when ``positive``."""

    positive: bool = False

    def check(self, v: Any, name: str) -> str | None:
        try:
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                raise ValueError
            x = float(v)
        except ValueError:
            return _says(name, "应为数字，实为", v)
        if self.positive and not x > 0:
            return _says(name, "应为大于 0 的数字，实为", v)
        return None


@dataclass(frozen=True)
class Bool(Type):
    """true or false (left out: the default)."""

    def check(self, v: Any, name: str) -> str | None:
        return None if v is None or isinstance(v, bool) else _says(name, "应为 true 或 false，实为", v)


@dataclass(frozen=True, init=False)
class Enum(Type):
    """One of the given words."""

    values: tuple[str, ...] = ()

    def __init__(self, *values: str, quiet: bool = False) -> None:
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "quiet", quiet)

    def check(self, v: Any, name: str) -> str | None:
        if isinstance(v, str) and v in self.values:
            return None
        return _says(name, f"应为 {'、'.join(self.values)} 之一，实为", v)


@dataclass(frozen=True)
class ListOf(Type):
    item: Type = Text()

    def shape(self) -> str:
        return "list"

    def check(self, v: Any, name: str) -> str | None:
        return None if isinstance(v, list) else _says(name, "应为列表，实为", v)

    def children(self, v: Any) -> Iterator[tuple[Any, Type, int | None, str]]:
        lines = getattr(v, "item_lines", None) or []
        for i, x in enumerate(v):
            yield x, self.item, lines[i] if i < len(lines) else getattr(v, "line", None), f"__item__{i + 1}"


@dataclass(frozen=True)
class MapOf(Type):
    """A mapping of free keys (codes, table ids, old keys) to values."""

    key: Type = Text()
    value: Type = Text()

    def shape(self) -> str:
        return "map"

    def check(self, v: Any, name: str) -> str | None:
        return None if isinstance(v, dict) else _says(name, "应为映射，实为", v)

    def children(self, v: Any) -> Iterator[tuple[Any, Type, int | None, str]]:
        lines = getattr(v, "key_lines", None) or {}
        for k, x in v.items():
            line = lines.get(str(k), getattr(v, "line", None))
            yield k, self.key, line, f"__key__{k}"
            yield x, self.value, line, str(k)


@dataclass(frozen=True)
class Nested(Type):
    """A mapping whose keys are those of a level of :data:`LEVELS`."""

    level: str = ""

    def shape(self) -> str:
        return "map"

    def check(self, v: Any, name: str) -> str | None:
        return None if isinstance(v, dict) else _says(name, "应为映射，实为", v)


@dataclass(frozen=True, init=False)
class AnyOf(Type):
    """The first of ``options`` of the value's shape (text, list or mapping)."""

    options: tuple[Type, ...] = ()

    def __init__(self, *options: Type, quiet: bool = False) -> None:
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "quiet", quiet)

    def pick(self, v: Any) -> Type | None:
        shape = "map" if isinstance(v, dict) else "list" if isinstance(v, list) else "scalar"
        return next((o for o in self.options if o.shape() == shape), None)

    def check(self, v: Any, name: str) -> str | None:
        opt = self.pick(v)
        if opt is None:
            shapes = {"scalar": "文字", "list": "列表", "map": "映射"}
            return _says(name, f"应为{'或'.join(shapes[o.shape()] for o in self.options)}，实为", v)
        return opt.check(v, name)


# ---------------------------------------------------------------- the levels

_CELL_TEXT = AnyOf(Text(), Nested("form_cell"))
_KEYS = AnyOf(Text(), ListOf(Text()))  # one old key or a list of them

LEVELS: dict[str, dict[str, Type]] = {
    # spec.yaml, the manifest of a spec folder
    "manifest": {
        "template": Text(),
        "version": Text(),
        "year": Int(min=1),
        "title": Text(),
        "tables": ListOf(Text()),
        "codelists": ListOf(Text()),
        "rules": Text(),
        "previous": Text(),
        "mapping": Text(),
        "figures": Text(),  # the file naming the 说明's figures (level figures_file)
        "subject_tables": ListOf(TableId()),
    },
    # a table file (gongkaiNN.yaml): a grid of blocks side by side under a header
    "table": {
        "id": TableId(),
        "sheet": Text(),
        "title": Text(),
        "number": Text(),
        "kind": Enum("table", "form"),
        "header": ListOf(ListOf(AnyOf(Text(), Nested("header_cell")), quiet=True), quiet=True),
        "blocks": ListOf(Nested("block", quiet=True)),
        "notes": ListOf(Text()),
        "statement": Bool(),
        "negative": Bool(),
        "publish": Bool(),
        "print": Nested("print"),
    },
    "header_cell": {
        "text": Text(),
        "colspan": Int(min=1),
        "rowspan": Int(min=1),
        "codes_of": Text(),
        "show": Enum("name", "code"),
    },
    "block": {
        "id": Text(),
        "columns": ListOf(Nested("column", quiet=True)),
        "rows": ListOf(Nested("row", quiet=True)),
        "section": Text(),
        "codelist": Text(),
        "total": Nested("row", quiet=True),
        "subtotal": Expr(),
        "spare_rows": Int(min=0),
        "header": ListOf(ListOf(AnyOf(Text(), Nested("header_cell")), quiet=True), quiet=True),
    },
    "column": {
        "role": Enum("label", "line", "code", "name", "value", "text", quiet=True),
        "key": Text(),
        "width": Number(positive=True),
        "formula": Expr(),
        "measure": Enum("money", "count", "area", "percent"),
        "codelist": Text(),
        "codes": ListOf(Text()),
        "level": Int(min=1),
        "max_length": Int(min=1),
    },
    "row": {
        "key": Text(),
        "label": Text(),
        "code": Text(),
        "input": Bool(),
        "formula": Expr(),
        "style": Enum("total"),
        "footer": Bool(),
        "negative": Bool(),
        "renamed_from": _KEYS,
        "merged_from": _KEYS,
        "split_to": _KEYS,
        "measure": Enum("money", "count", "area", "percent"),
    },
    "print": {
        "orientation": Enum("landscape", "portrait"),
        "paper": Text(),
        "fit_width": Bool(),
    },
    # a form file (fujianN.yaml, kind: form): rows of cells placed like an HTML table
    "form_table": {
        "id": TableId(),
        "sheet": Text(),
        "title": Text(),
        "number": Text(),
        "kind": Enum("table", "form"),
        "widths": ListOf(Number(positive=True)),
        "form": ListOf(Nested("form_row", quiet=True)),
        "repeat": Enum("project", quiet=True),
        "spare_repeats": Int(min=0),
        "consolidate": Enum("sum", "list"),
        "publish": Bool(),
        "notes": ListOf(Text()),
        "print": Nested("print"),
    },
    "form_row": {
        "key": Text(),
        "cells": ListOf(_CELL_TEXT),
        "style": Enum("header"),
        "height": Number(positive=True),
        "indicators": Nested("indicators"),
    },
    "form_cell": {
        "text": Text(),
        "value": Text(),
        "field": Text(),
        "grade": Expr(),
        "colspan": Int(min=1),
        "rowspan": Int(min=1),
        "formula": Expr(),
        "format": Enum("amount", "percent", "score", "count", "area", quiet=True),
        "max_length": Int(quiet=True),
    },
    "indicators": {
        "label": Text(),
        "spare_rows": Int(min=0),
        "columns": ListOf(_CELL_TEXT),
    },
    # a code list file (codes/*.yaml)
    "codelist": {
        "id": Text(),
        "name": Text(),
        "codes": MapOf(Text(), Text(), quiet=True),
        "levels": ListOf(Int(min=1)),
    },
    # the rules file (rules.yaml)
    "rules_file": {
        "rules": ListOf(Nested("rule", quiet=True), quiet=True),
    },
    "rule": {
        "id": Text(),
        "severity": Enum("error", "warning", quiet=True),
        "message": Text(),
        "kind": Enum("compare", "subset", "statement", quiet=True),
        "expr": Expr(),
        "table": TableId(),
        "col": Text(),
        "foreach": AnyOf(Nested("foreach"), ListOf(Nested("foreach"))),
        "of": TableId(),
        "in": TableId(),
        "when": TableId(),
    },
    "foreach": {
        "rows_of": TableId(),
        "block": Text(),
        "with": Enum("code", "formula"),  # only the rows where that field is set
        "values": ListOf(AnyOf(Text(), MapOf(Text(), Text()))),
        "as": Text(),
        "items_of": TableId(),
        "total": Bool(),
    },
    # the figures file (figures.yaml): the names 第三部分 and the report checks speak
    "figures_file": {
        "figures": MapOf(Text(), Expr()),
        "texts": MapOf(Text(), Text()),
        "labels": ListOf(Nested("label")),
    },
    # one entry of labels: the 说明's words and the figures they stand for (check-narrative)
    "label": {
        "words": ListOf(Text()),
        "figures": ListOf(Text()),
        "budget": ListOf(Text()),
        "scope": Enum("base", "basic", "fund", "soe"),
        "initial": Bool(),
    },
    # the mapping file (mapping.yaml): how keys of the previous version resolve to this one's
    "mapping": {
        "previous": Text(),
        "tables": MapOf(TableId(), Nested("mapping_table", quiet=True), quiet=True),
    },
    "mapping_table": {
        "columns_from": MapOf(Text(), Text(), quiet=True),
        "rows_from": MapOf(Text(), Text(), quiet=True),
        "split_to": MapOf(Text(), _KEYS, quiet=True),
        "dropped": MapOf(Text(), Text(), quiet=True),
    },
}

# How a mapping of a level is named in a message ({name}: its key in the mapping above it, {key},
# {id}: its own field of that name)
SUBJECTS: dict[str, str] = {
    "manifest": "spec.yaml ",
    "table": "表 {id} ",
    "form_table": "表 {id} ",
    "header_cell": "表头单元格",
    "block": "block {id} ",
    "column": "列 {key} ",
    "row": "行 {key} ",
    "print": "print ",
    "form_row": "表单行 {key} ",
    "form_cell": "表单单元格",
    "indicators": "indicators ",
    "codelist": "代码表 {id} ",
    "rules_file": "规则文件",
    "figures_file": "数字名称文件",
    "label": "说明用语",
    "rule": "规则 {id} ",
    "foreach": "foreach ",
    "mapping": "映射文件",
    "mapping_table": "{name} 的映射",
}

# Where a level's keys are written, for "该字段只用于 …" when a key is put at the wrong level
WHERE: dict[str, str] = {
    "manifest": "spec.yaml",
    "table": "表文件的顶层",
    "form_table": "表单（kind: form）文件的顶层",
    "header_cell": "表头单元格",
    "block": "blocks 的区块",
    "column": "columns 的列",
    "row": "rows 的行（或 total）",
    "print": "print",
    "form_row": "form 的表单行",
    "form_cell": "表单单元格",
    "indicators": "indicators",
    "codelist": "代码表文件",
    "rules_file": "rules.yaml 的顶层",
    "figures_file": "figures.yaml 的顶层",
    "label": "figures.yaml 的 labels",
    "rule": "rules 的规则",
    "foreach": "规则的 foreach",
    "mapping": "mapping.yaml 的顶层",
    "mapping_table": "mapping.yaml 的表映射",
}


def level_of_table(raw: Any) -> str:
    """The level of a table file: a form (``kind: form``) or a table of blocks."""
    return "form_table" if isinstance(raw, dict) and raw.get("kind") == "form" else "table"


# ---------------------------------------------------------------- the walk


def _subject(level: str, raw: dict[str, Any], name: str) -> str:
    fields = {"name": name, "key": "", "id": ""}
    for k in ("key", "id"):
        v = raw.get(k)
        if _scalar(v) and v is not None:
            fields[k] = str(v)
    template = SUBJECTS.get(level, "")
    text = re.sub(r"\s+", " ", template.format_map(fields)).strip()
    last = re.search(r"\{(\w+)\}\s*$", template)
    named = bool(last and fields[last.group(1)])  # the subject ends with a name from the spec
    # "行 1 含…", "表单行 总体目标 含…" (a name set off), "表单行含…" (none), "block main 含…"
    return text + " " if named or text[-1:].isascii() and text[-1:].isalnum() else text


def _hint(key: str, level: str) -> str:
    import difflib  # only when a key is wrong: loading a spec from the cache imports no more than it needs

    allowed = list(LEVELS[level])
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
    if close:
        return f"（是否应为 {close[0]}？）"
    elsewhere = [WHERE[lv] for lv, keys in LEVELS.items() if lv != level and key in keys]
    if elsewhere:
        return f"（{_cat(key, '只用于', '、'.join(dict.fromkeys(elsewhere)))}）"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f"（是否应为 {close[0]}？）" if close else ""


def check_level(level: str, raw: Any, file: str, name: str = "") -> list[Problem]:
    """Every problem of ``raw`` (one file's YAML, or a part of it) against ``level``."""
    out: list[Problem] = []
    _walk_level(level, raw, file, name, out)
    return out


def _walk_level(level: str, raw: Any, file: str, name: str, out: list[Problem]) -> None:
    if not isinstance(raw, dict):
        return  # the parser says what it expected
    fields = LEVELS[level]
    lines = getattr(raw, "key_lines", None) or {}
    here = getattr(raw, "line", None)
    subject = _subject(level, raw, name)
    for k, v in raw.items():
        key = str(k)
        line = lines.get(key, here)
        t = fields.get(key)
        if t is None:
            out.append((file, line, f"{subject}含未知字段：{key}{_hint(key, level)}"))
            continue
        _walk(t, v, file, line, key, out)


def _walk(t: Type, v: Any, file: str, line: int | None, name: str, out: list[Problem]) -> None:
    if isinstance(t, AnyOf):
        opt = t.pick(v)
        if opt is None:
            if not t.quiet:
                out.append((file, line, t.check(v, name) or ""))
            return
        t = opt
    problem = t.check(v, name)
    if problem is not None:
        if not t.quiet:
            out.append((file, line, problem))
        return
    if isinstance(t, Nested):
        _walk_level(t.level, v, file, name, out)
        return
    for x, xt, xline, xname in t.children(v):
        if xname.startswith("__item__"):
            xname = f"{name} 的第 {xname[8:]} 项"
        elif xname.startswith("__key__"):
            xname = f"{name} 的键 {xname[7:]}"
        _walk(xt, x, file, xline, xname, out)


__all__ = ["TABLE_ID_RE", "LEVELS", "SUBJECTS", "WHERE", "check_level", "is_table_id", "level_of_table",
           "Type", "Text", "Expr", "TableId", "Int", "Number", "Bool", "Enum", "ListOf", "MapOf", "Nested", "AnyOf"]
