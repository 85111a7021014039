"""The one expression language of formulas and 审核 rules.

An expression is written over keys, never cell addresses::

    sum(rows 1..8)                      same column, rows 1 to 8 of the block
    row 27 + row 28 + row 29            same column
    sum(cols 2..7)   col 4 + col 5      same row
    公开01 row 30 col 1 = 公开01 row 60 col 2
    sum(items)   sum(items 215)         a 科目 section's 项 rows (all, or by code prefix)
    公开03 row 215 col 1                a section row by code: the sum of its 项 rows

It is parsed once into an AST, *bound* against a spec and a context (table, row, col) into terms
(:class:`Fig` a single figure, :class:`Items` the 项 rows of a section with a code prefix), then
either evaluated exactly with Decimal (:func:`evaluate`) or compiled to an Excel formula
(:func:`to_excel`) with a resolver that knows the cell layout. Both sides share the binding, so the
workbook and the reader cannot disagree on what a formula means.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from .tableid import TABLE_ID_RE as TABLE_RE  # the one table-id rule (公开NN / 附件N)

if TYPE_CHECKING:
    from .spec import Spec, Table

KEYWORDS = {"row", "rows", "col", "cols", "items"}
FUNCS = {"sum", "abs", "min", "max", "round", "div"}
FUNC_ARITY = {"min": 2, "max": 2, "round": 2, "div": 2}
CMP_OPS = {"=", "<=", ">=", "<", ">"}

_TOKEN = re.compile(
    r"\s*(?:(?P<range>\.\.)|(?P<cmp><=|>=|=|<|>)|(?P<op>[-+*/(),])|(?P<num>\d+\.\d+(?!\.))|(?P<word>[^\s()+\-*/,=<>.]+))"
)


class ExprError(ValueError):
    """An expression that cannot be parsed or bound; message in Chinese."""


# ---------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Num:
    value: Decimal


@dataclass(frozen=True)
class Ref:
    table: str | None
    row: str | None = None
    row_to: str | None = None  # rows a..b
    col: str | None = None
    col_to: str | None = None
    items: bool = False
    prefix: str = ""


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Bin:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


Node = Num | Ref | Call | Bin | Neg | Compare


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f"无法识别的字符：{text[pos:pos + 10]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ExprError(f"表达式不完整：{self.text}")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok[1] != value:
            raise ExprError(f"应为 {value!r}，实为 {tok[1]!r}：{self.text}")

    def parse(self, allow_compare: bool) -> Node:
        left = self.additive()
        tok = self.peek()
        if tok and tok[0] == "cmp":
            if not allow_compare:
                raise ExprError(f"公式中不能使用比较运算：{self.text}")
            self.take()
            left = Compare(tok[1], left, self.additive())
        if self.peek() is not None:
            raise ExprError(f"多余的内容 {self.peek()[1]!r}：{self.text}")  # type: ignore[index]
        return left

    def additive(self) -> Node:
        node = self.multiplicative()
        while (tok := self.peek()) and tok[1] in "+-" and tok[0] == "op":
            self.take()
            node = Bin(tok[1], node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while (tok := self.peek()) and tok[1] in "*/" and tok[0] == "op":
            self.take()
            node = Bin(tok[1], node, self.unary())
        return node

    def unary(self) -> Node:
        tok = self.peek()
        if tok and tok == ("op", "-"):
            self.take()
            return Neg(self.unary())
        return self.primary()

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            return Num(Decimal(value))
        if value == "(":
            node = self.additive()
            self.expect(")")
            return node
        if kind == "word" and value in FUNCS:
            self.expect("(")
            args = [self.additive()]
            while self.peek() == ("op", ","):
                self.take()
                args.append(self.additive())
            self.expect(")")
            return Call(value, tuple(args))
        if kind == "word" and (TABLE_RE.match(value) or value in KEYWORDS):
            self.i -= 1
            return self.ref()
        if kind == "word" and value.isdigit():
            return Num(Decimal(value))
        raise ExprError(f"无法识别 {value!r}：{self.text}")

    def _key(self) -> str:
        kind, value = self.take()
        if kind not in ("word", "num") or value in KEYWORDS:
            raise ExprError(f"应为行/栏的 key，实为 {value!r}：{self.text}")
        return value

    def ref(self) -> Ref:
        table = None
        tok = self.peek()
        if tok and TABLE_RE.match(tok[1]):
            table = self.take()[1]
        parts: dict[str, Any] = {}
        while (tok := self.peek()) and tok[1] in KEYWORDS:
            word = self.take()[1]
            if word in parts or (word.rstrip("s") in parts) or (word + "s" in parts):
                raise ExprError(f"{word} 重复：{self.text}")
            if word == "items":
                nxt = self.peek()
                prefix = ""
                if nxt and nxt[0] in ("word", "num") and nxt[1] not in KEYWORDS and nxt[1] not in FUNCS:
                    prefix = self.take()[1]
                parts["items"] = prefix
            elif word in ("rows", "cols"):
                a = self._key()
                self.expect("..")
                parts[word] = (a, self._key())
            else:
                parts[word] = self._key()
        if not parts:
            raise ExprError(f"{table} 之后应有 row/col：{self.text}")
        row = row_to = col = col_to = None
        if "rows" in parts:
            row, row_to = parts["rows"]
        elif "row" in parts:
            row = parts["row"]
        if "cols" in parts:
            col, col_to = parts["cols"]
        elif "col" in parts:
            col = parts["col"]
        if "items" in parts and row is not None:
            raise ExprError(f"items 与 row 不能同用：{self.text}")
        return Ref(table, row, row_to, col, col_to, "items" in parts, str(parts.get("items") or ""))


def parse(text: str, allow_compare: bool = False) -> Node:
    if not isinstance(text, str) or not text.strip():
        raise ExprError("表达式为空")
    return _Parser(text).parse(allow_compare)


# ---------------------------------------------------------------- binding


@dataclass(frozen=True)
class Fig:
    """One figure by key."""

    table: str
    row: str
    col: str


@dataclass(frozen=True)
class Items:
    """The 项 rows of a 科目 section whose code starts with prefix ('' = all), one column."""

    table: str
    prefix: str
    col: str


@dataclass(frozen=True)
class BSum:
    terms: tuple[BNode, ...]


@dataclass(frozen=True)
class BBin:
    op: str
    left: BNode
    right: BNode


@dataclass(frozen=True)
class BNeg:
    operand: BNode


@dataclass(frozen=True)
class BAbs:
    operand: BNode


@dataclass(frozen=True)
class BFunc:
    """min(a, b), max(a, b), round(x, n) (half away from zero, as Excel), div(a, b) (0 when b is 0)."""

    name: str
    args: tuple[BNode, ...]


@dataclass(frozen=True)
class BCompare:
    op: str
    left: BNode
    right: BNode


BNode = Num | Fig | Items | BSum | BBin | BNeg | BAbs | BFunc | BCompare


@dataclass(frozen=True)
class Context:
    table: str | None = None
    row: str | None = None
    col: str | None = None


ITEM_LEN = 7


def is_item_code(code: str) -> bool:
    return len(code) == ITEM_LEN and code.isdigit()


def _resolve_row_keys(spec: Spec, t: Table, ref: Ref, ctx: Context) -> list[str] | None:
    """Row keys for a ref (None = a section items ref)."""
    row = ref.row if ref.row is not None else (ctx.row if not ref.items else None)
    if ref.items:
        if t.section is None:
            raise ExprError(f"{t.id} 没有科目 section，不能使用 items")
        return None
    if row is None:
        raise ExprError(f"未指定行（{t.id}）")
    if ref.row_to is None:
        return [row]
    for key in (row, ref.row_to):
        if t.row(key) is None:
            raise ExprError(f"{t.id} rows {row}..{ref.row_to}：没有行 {key}")
    for b in t.blocks:
        keys = [r.key for r in b.rows]
        if row in keys and ref.row_to in keys:
            a, z = keys.index(row), keys.index(ref.row_to)
            if a > z:
                raise ExprError(f"{t.id} rows {row}..{ref.row_to} 顺序颠倒")
            return keys[a : z + 1]
    raise ExprError(f"{t.id} rows {row}..{ref.row_to} 不在同一区块中")


def _resolve_col_keys(t: Table, ref: Ref, ctx: Context) -> list[str]:
    keys = t.col_keys()
    col = ref.col if ref.col is not None else ctx.col
    if col is None:
        raise ExprError(f"未指定栏（{t.id}）")
    if col not in keys:
        raise ExprError(f"{t.id} 没有栏 {col}")
    if ref.col_to is None:
        return [col]
    if ref.col_to not in keys:
        raise ExprError(f"{t.id} 没有栏 {ref.col_to}")
    a, z = keys.index(col), keys.index(ref.col_to)
    if a > z:
        raise ExprError(f"{t.id} cols {col}..{ref.col_to} 顺序颠倒")
    return keys[a : z + 1]


def _bind_form_ref(t: Table, ref: Ref, ctx: Context) -> list[BNode]:
    """Form tables (附件): keyed rows; ``items`` = the indicator rows (of the context's project in a
    repeated table); a row key without a project takes the context's project."""
    cols = _resolve_col_keys(t, ref, ctx)
    project = ""
    if t.repeat is not None and ctx.table == t.id and ctx.row and ":" in ctx.row:
        project = ctx.row.split(":", 1)[0] + ":"
    if ref.items:
        if t.indicators is None:
            raise ExprError(f"{t.id} 没有指标区，不能使用 items")
        return [Items(t.id, project + ref.prefix, c) for c in cols]
    row = ref.row if ref.row is not None else ctx.row
    if row is None or ref.row_to is not None:
        raise ExprError(f"{t.id} 须指定一行")
    if t.repeat is not None and ":" not in row:
        if not project:
            raise ExprError(f"{t.id} 按项目分表，须在本表公式中引用行")
        row = project + row
    found = t.row(row)
    if found is None:
        raise ExprError(f"{t.id} 没有行 {row}")
    out: list[BNode] = []
    for c in cols:
        if found[1].cols is not None and c not in found[1].cols:
            raise ExprError(f"{t.id} 行 {row} 没有栏 {c}")
        out.append(Fig(t.id, row, c))
    return out


def _bind_ref(spec: Spec, ref: Ref, ctx: Context) -> list[BNode]:
    tid = ref.table or ctx.table
    if tid is None or tid not in spec.tables:
        raise ExprError(f"未知的表：{tid}")
    t = spec.tables[tid]
    if t.kind == "form":
        return _bind_form_ref(t, ref, ctx)
    rows = _resolve_row_keys(spec, t, ref, ctx)
    cols = _resolve_col_keys(t, ref, ctx)
    out: list[BNode] = []
    sec = t.section
    if rows is None and ref.prefix and not ref.prefix.isdigit():  # a typo would sum no 科目 at all
        raise ExprError(f"{tid} items 之后应为科目代码前缀（数字）：{ref.prefix}")
    for col in cols:
        if rows is None:
            out.append(Items(tid, ref.prefix, col))
            continue
        for row in rows:
            if t.row(row) is not None and not (sec and sec.total and row == sec.total.key):
                out.append(Fig(tid, row, col))
            elif sec and sec.total and row == sec.total.key:
                out.append(Items(tid, "", col))
            elif sec and row.isdigit():
                out.append(Items(tid, row, col))
            else:
                raise ExprError(f"{tid} 没有行 {row}")
    return out


def bind(node: Node, spec: Spec, ctx: Context) -> BNode:
    if isinstance(node, Num):
        return node
    if isinstance(node, Ref):
        bound = _bind_ref(spec, node, ctx)
        if len(bound) != 1:
            raise ExprError("多个单元格的引用须放在 sum(...) 中")
        return bound[0]
    if isinstance(node, Call):
        if node.name == "sum":
            terms: list[BNode] = []
            for a in node.args:
                if isinstance(a, Ref):
                    terms.extend(_bind_ref(spec, a, ctx))
                else:
                    terms.append(bind(a, spec, ctx))
            return BSum(tuple(terms))
        if node.name == "abs":
            if len(node.args) != 1:
                raise ExprError("abs 只接受一个参数")
            return BAbs(bind(node.args[0], spec, ctx))
        if node.name in FUNC_ARITY:
            if len(node.args) != FUNC_ARITY[node.name]:
                raise ExprError(f"{node.name} 需要 {FUNC_ARITY[node.name]} 个参数")
            if node.name == "round" and not isinstance(node.args[1], Num):
                raise ExprError("round 的小数位数须为常数")
            return BFunc(node.name, tuple(bind(a, spec, ctx) for a in node.args))
        raise ExprError(f"未知函数 {node.name}")
    if isinstance(node, Bin):
        return BBin(node.op, bind(node.left, spec, ctx), bind(node.right, spec, ctx))
    if isinstance(node, Neg):
        return BNeg(bind(node.operand, spec, ctx))
    if isinstance(node, Compare):
        return BCompare(node.op, bind(node.left, spec, ctx), bind(node.right, spec, ctx))
    raise ExprError(f"无法绑定 {node!r}")


_COMPILED_MAX = 50_000


def compile_expr(text: str, spec: Spec, ctx: Context, allow_compare: bool = False) -> BNode:
    """Parse and bind; memoised per spec (bound trees are immutable, and the same formulas are
    compiled for every workbook of a batch). Errors are not memoised: they raise every time."""
    memo = spec.cache("compiled")
    key = (text, ctx, allow_compare)
    try:
        node = memo.get(key)
    except TypeError:  # a malformed spec value (a list where text belongs): not memoised, parse() says why
        return bind(parse(text, allow_compare), spec, ctx)
    if node is None:
        node = bind(parse(text, allow_compare), spec, ctx)
        if len(memo) >= _COMPILED_MAX:
            memo.clear()
        memo[key] = node
    return node


def terms(node: BNode) -> Iterator[Fig | Items]:
    if isinstance(node, (Fig, Items)):
        yield node
    elif isinstance(node, BSum):
        for t in node.terms:
            yield from terms(t)
    elif isinstance(node, (BBin, BCompare)):
        yield from terms(node.left)
        yield from terms(node.right)
    elif isinstance(node, (BNeg, BAbs)):
        yield from terms(node.operand)
    elif isinstance(node, BFunc):
        for a in node.args:
            yield from terms(a)


def count_terms(node: BNode) -> int:
    """Figures an expression refers to: the n of the rounding band 0.005 × n."""
    return sum(1 for _ in terms(node))


# ---------------------------------------------------------------- evaluation


class FigureSource(Protocol):
    def fig(self, f: Fig) -> Decimal: ...

    def items(self, it: Items) -> Decimal: ...


def evaluate(node: BNode, src: FigureSource) -> Decimal:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Fig):
        return src.fig(node)
    if isinstance(node, Items):
        return src.items(node)
    if isinstance(node, BSum):
        return sum((evaluate(t, src) for t in node.terms), Decimal(0))
    if isinstance(node, BNeg):
        return -evaluate(node.operand, src)
    if isinstance(node, BAbs):
        return abs(evaluate(node.operand, src))
    if isinstance(node, BFunc):
        args = [evaluate(a, src) for a in node.args]
        if node.name == "min":
            return min(args)
        if node.name == "max":
            return max(args)
        if node.name == "div":
            return args[0] / args[1] if args[1] else Decimal(0)
        return round_half_up(args[0], int(args[1]))
    if isinstance(node, BBin):
        a, b = evaluate(node.left, src), evaluate(node.right, src)
        if node.op == "+":
            return a + b
        if node.op == "-":
            return a - b
        if node.op == "*":
            return a * b
        return a / b if b else Decimal(0)
    raise ExprError(f"不能求值 {node!r}")


def round_half_up(value: Decimal, places: int) -> Decimal:
    """Excel's ROUND: halves away from zero."""
    from decimal import ROUND_HALF_UP

    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- Excel


class ExcelResolver(Protocol):
    def cell(self, f: Fig, sheet: str) -> tuple[str, int, int] | None:
        """(sheet, row, col) zero-based for a figure's cell, or None when it has no cell."""

    def items_excel(self, it: Items, sheet: str) -> str: ...

    def items_cell(self, it: Items) -> tuple[str, int, int] | None:
        """The cell of a section row standing for these items, when the layout has one."""


def _col_letter(c: int) -> str:
    s = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        s = chr(65 + rem) + s
    return s


_LETTERS = [_col_letter(c) for c in range(702)]  # A..ZZ, precomputed


def col_letter(c: int) -> str:
    return _LETTERS[c] if 0 <= c < 702 else _col_letter(c)


def a1(row: int, col: int) -> str:
    return f"{_LETTERS[col] if 0 <= col < 702 else _col_letter(col)}{row + 1}"


def sheet_prefix(sheet: str, current: str) -> str:
    return "" if sheet == current else f"'{sheet}'!"


def _ranges(cells: list[tuple[str, int, int]], current: str) -> list[str]:
    """Group cells into contiguous runs: C5,C6,C7 -> C5:C7; D7,E7,F7 -> D7:F7."""
    if len({(s, r) for s, r, _ in cells}) == 1 and len(cells) > 1:
        sheet, row = cells[0][0], cells[0][1]
        return [
            f"{sheet_prefix(sheet, current)}{a1(row, a)}" + ("" if a == b else f":{a1(row, b)}")
            for a, b in _runs(sorted({c for _, _, c in cells}))
        ]
    out: list[str] = []
    by_col: dict[tuple[str, int], list[int]] = {}
    for sheet, r, c in cells:
        by_col.setdefault((sheet, c), []).append(r)
    for (sheet, c), rows in by_col.items():
        for a, b in _runs(sorted(set(rows))):
            out.append(f"{sheet_prefix(sheet, current)}{a1(a, c)}" + ("" if a == b else f":{a1(b, c)}"))
    return out


def _runs(nums: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in nums:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def to_excel(node: BNode, res: ExcelResolver, sheet: str) -> str:
    if isinstance(node, Num):
        return format(node.value, "f")
    if isinstance(node, Fig):
        cell = res.cell(node, sheet)
        if cell is None:
            return "0"
        return _direct_ref(res, cell, sheet)
    if isinstance(node, Items):
        cell = res.items_cell(node)
        if cell is not None:  # a 项 row's own cell (typed in), or a subtotal's
            return _direct_ref(res, cell, sheet)
        return res.items_excel(node, sheet)
    if isinstance(node, BSum):
        cells = []
        rest = []
        for t in node.terms:
            cell = None
            if isinstance(t, Fig):
                cell = res.cell(t, sheet)
            elif isinstance(t, Items):
                cell = res.items_cell(t)
            if cell is not None:
                cells.append(cell)
            elif not isinstance(t, Fig):
                rest.append(to_excel(t, res, sheet))
        args = _ranges(cells, sheet) + rest
        if len(args) == 1 and args[0].startswith("SUM("):
            return args[0]
        return f"SUM({','.join(args)})" if args else "0"
    if isinstance(node, BNeg):
        return f"-{_paren(node.operand, res, sheet, 3)}"
    if isinstance(node, BAbs):
        return f"ABS({to_excel(node.operand, res, sheet)})"
    if isinstance(node, BFunc):
        args = [to_excel(a, res, sheet) for a in node.args]
        if node.name == "div":
            return f"IF({args[1]}=0,0,{_paren(node.args[0], res, sheet, 2)}/{_paren(node.args[1], res, sheet, 3)})"
        return f"{node.name.upper()}({','.join(args)})"
    if isinstance(node, BBin):
        prec = 1 if node.op in "+-" else 2
        left = _paren(node.left, res, sheet, prec)
        right = _paren(node.right, res, sheet, prec + (1 if node.op in "-/" else 0))
        return f"{left}{node.op}{right}"
    raise ExprError(f"不能编译为 Excel 公式：{node!r}")


def _direct_ref(res: ExcelResolver, cell: tuple[str, int, int], sheet: str) -> str:
    """A direct reference to one cell; to a typed-in cell wrapped in N() so that text there counts
    0, as SUM and SUMPRODUCT count it (Excel, LibreOffice and WPS would otherwise turn "12" into 12
    for + and -, and the workbook's own totals would disagree with each other and with the reader)."""
    ref = sheet_prefix(cell[0], sheet) + a1(cell[1], cell[2])
    is_input = getattr(res, "is_input", None)
    return f"N({ref})" if is_input is not None and is_input(cell) else ref


def _paren(node: BNode, res: ExcelResolver, sheet: str, min_prec: int) -> str:
    text = to_excel(node, res, sheet)
    if isinstance(node, BBin):
        prec = 1 if node.op in "+-" else 2
        if prec < min_prec:
            return f"({text})"
    return text


# ---------------------------------------------------------------- spec validation


def cell_formula(t: Table, block_id: str, row_key: str, col_key: str) -> tuple[str, Context] | None:
    """The formula text that defines a fixed-row figure, if any: the column's formula wins."""
    for b in t.blocks:
        if b.id != block_id:
            continue
        if t.kind == "form":
            found = t.row(row_key)
            if found is not None and col_key in found[1].formulas:
                return found[1].formulas[col_key], Context(t.id, row_key, col_key)
            return None
        for c in b.value_columns:
            if c.key == col_key and c.formula:
                return c.formula, Context(t.id, row_key, col_key)
        rows = b.rows + ([b.total] if b.total else [])
        for r in rows:
            if r.key == row_key and r.formula:
                return r.formula, Context(t.id, row_key, col_key)
    return None


SourceFn = Callable[[Fig], Decimal]


_WORDS = [
    (re.compile(r"sum\(\s*rows\s+(\S+?)\s*\.\.\s*(\S+?)\s*\)"), r"第\1至\2行之和"),
    (re.compile(r"sum\(\s*cols\s+(\S+?)\s*\.\.\s*(\S+?)\s*\)"), r"栏\1至栏\2之和"),
    (re.compile(r"sum\(\s*items\s+(\d+)\s*\)"), r"\1 下各项级科目之和"),
    (re.compile(r"sum\(\s*items\s*\)"), "全部项级科目之和"),
    (re.compile(r"(公开\d\d)(?=\s)"), r"\1表"),
    (re.compile(r"\brow\s+(\d+)\b"), r"第\1行"),
    (re.compile(r"\brow\s+([^\s()+\-*/,=<>]+)"), r"“\1”行"),
    (re.compile(r"\bcol\s+([^\s()+\-*/,=<>]+)"), r"栏\1"),
    (re.compile(r"\babs\("), "绝对值("),
    (re.compile(r"\bsum\("), "合计("),
]


def in_words(text: str) -> str:
    """An expression written for people: "row 30 = row 27 + row 28" → "第30行 = 第27行 + 第28行",
    "sum(items 215)" → "215 下各项级科目之和", "公开01 row 30 col 1" → "公开01表 第30行 栏1"."""
    out = text or ""
    for pattern, repl in _WORDS:
        out = pattern.sub(repl, out)
    return out
