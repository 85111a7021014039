"""The few formulas a unit may type into an input cell, evaluated exactly -- and everything else refused.

An input cell may hold a formula made of numbers, ``+ - * /``, a postfix ``%``, parentheses and the
functions SUM and ROUND (``=1200.5+30``, ``=SUM(100,200.25)``, ``=ROUND(1/3,2)``). A reference
(``C7``, ``$C$7``, ``A1:B2``, ``Sheet!A1``, ``[1]Sheet1!A1``), a name (a defined name may hide
anything, e.g. ``WEBSERVICE``), text, any other function or operator is refused with the reason:
such a value depends on something the reader does not check. The value is computed here, in
Decimal, never taken from the cached result in the file.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, localcontext

ALLOWED_FUNCTIONS = ("SUM", "ROUND")
MAX_LENGTH = 500
MAX_DEPTH = 32
MAX_ABS = Decimal("1e15")

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(?![A-Za-z_$:!(0-9])
  | (?P<func>[A-Za-z_][A-Za-z0-9_.]*)\s*\(
  | (?P<op>[-+*/%(),])
""", re.X | re.ASCII)


class FormulaRefused(ValueError):
    """Why a formula is not evaluated (Chinese, for the finding)."""


def _refuse_reason(rest: str) -> str:
    if rest.startswith("["):
        return "引用了其他工作簿（外部链接）"
    if "!" in rest.split(",")[0].split(")")[0]:
        return "引用了其他工作表"
    if rest.startswith('"'):
        return "含文本"
    if re.match(r"\$?[A-Za-z]{1,3}\$?\d+", rest):
        return "引用了单元格（填报单元格只能填数或由数构成的公式）"
    if re.match(r"[A-Za-z_\\]", rest):
        return "引用了名称（定义的名称可能指向任何内容）"
    if rest.startswith("|"):
        return "含 DDE 调用"
    return f"含不支持的内容 {rest[:10]!r}"


def tokenize(formula: str) -> list[tuple[str, str]]:
    text = formula.strip()
    if text.startswith("="):
        text = text[1:]
    if len(text) > MAX_LENGTH:
        raise FormulaRefused(f"公式过长（超过 {MAX_LENGTH} 个字符）")
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FormulaRefused(_refuse_reason(text[pos:]))
        kind = m.lastgroup or ""
        if kind == "func":
            name = m.group("func").upper().removeprefix("_XLFN.")
            if name not in ALLOWED_FUNCTIONS:
                raise FormulaRefused(f"使用了不允许的函数 {name[:30]}（只允许 {'、'.join(ALLOWED_FUNCTIONS)}）")
            out.append(("func", name))
        elif kind != "ws":
            out.append((kind, m.group(kind)))
        pos = m.end()
    if not out:
        raise FormulaRefused("公式为空")
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.t = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, value: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] == value:
            self.i += 1
            return True
        return False

    def expr(self) -> Decimal:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaRefused("公式嵌套过深")
        v = self.term()
        while True:
            if self.take("+"):
                v = v + self.term()
            elif self.take("-"):
                v = v - self.term()
            else:
                break
        self.depth -= 1
        return v

    def term(self) -> Decimal:
        v = self.unary()
        while True:
            if self.take("*"):
                v = v * self.unary()
            elif self.take("/"):
                d = self.unary()
                if d == 0:
                    raise FormulaRefused("除数为 0（#DIV/0!）")
                v = v / d
            else:
                break
        return v

    def unary(self) -> Decimal:
        if self.take("-"):
            return -self.unary()
        if self.take("+"):
            return self.unary()
        v = self.primary()
        while self.take("%"):
            v = v / 100
        return v

    def primary(self) -> Decimal:
        tok = self.peek()
        if tok is None:
            raise FormulaRefused("公式不完整")
        kind, text = tok
        self.i += 1
        if kind == "num":
            v = Decimal(text)
            if v and not -308 <= v.adjusted() <= 308:  # no double holds it: Excel refuses it, LibreOffice shows #VALUE!
                raise FormulaRefused(f"数值 {text[:20]} 超出电子表格能表示的范围")
            return v
        if kind == "op" and text == "(":
            v = self.expr()
            if not self.take(")"):
                raise FormulaRefused("括号不配对")
            return v
        if kind == "func":
            args: list[Decimal] = []
            if not self.take(")"):
                while True:
                    args.append(self.expr())
                    if self.take(")"):
                        break
                    if not self.take(","):
                        raise FormulaRefused("函数参数有误")
            return _call(text, args)
        raise FormulaRefused(f"公式有误（{text!r} 处）")


def _call(name: str, args: list[Decimal]) -> Decimal:
    if name == "SUM":
        return sum(args, Decimal(0))
    if len(args) != 2 or args[1] != args[1].to_integral_value() or not -15 <= args[1] <= 15:
        raise FormulaRefused("ROUND 需要两个参数，位数为 -15 到 15 的整数")
    return args[0].quantize(Decimal(1).scaleb(-int(args[1])), rounding=ROUND_HALF_UP)


def evaluate(formula: str) -> Decimal:
    """The exact value of an allowed input formula; FormulaRefused (with the reason) otherwise."""
    tokens = tokenize(formula)
    with localcontext(Context(prec=40, traps=[InvalidOperation, DivisionByZero])):
        try:
            p = _Parser(tokens)
            v = p.expr()
            if p.i != len(tokens):
                raise FormulaRefused(f"公式有误（{tokens[p.i][1]!r} 处）")
        except (InvalidOperation, DivisionByZero, OverflowError) as exc:
            raise FormulaRefused("公式无法计算") from exc
    if not v.is_finite() or v.copy_abs() >= MAX_ABS:
        raise FormulaRefused("结果超出金额范围")
    return _underflow(+v)


def _underflow(v: Decimal) -> Decimal:
    """A result below the range of a spreadsheet's doubles (1E-200*1E-200) is 0, as the spreadsheet
    computes it, not a value of hundreds of digits."""
    return Decimal(0) if v and v.adjusted() < -307 else v
