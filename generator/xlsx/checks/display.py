"""Display: what a person sees is what is stored. The number format of every amount cell (the
cell's own, and any conditional format's) shows the amount, and no figure sits in a hidden row or
column."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...core.expr import a1
from ...core.findings import ERROR, Finding
from ...core.layout import STYLE_FORMATS, SheetPlan
from ..ooxml import RawBook, RawSheet
from ..values import cell_text
from .reading import Reading

_FMT_TAG = re.compile(r"\[(black|blue|cyan|green|magenta|red|white|yellow|color\s*\d{1,2})\]|\[\$[^\]]*\]", re.I)
_FMT_ESCAPES = re.compile(r"\\[-() ]|_.|\* ")
_FMT_ALLOWED = set("0#?,. -()+")
_FMT_DECIMALS = re.compile(r"\.[0#?]{2,}")


def format_problem(code: str) -> str | None:
    """Why a number format shows something other than the amount stored (None: it shows the amount).

    A format shows the amount when each of its sections is made of digit placeholders, grouping,
    a decimal point with at least 2 decimals, signs, parentheses, spaces, colours and locale tags;
    the negative section shows a sign or parentheses; the zero section may be empty or a dash; a
    text section holds @. Quoted text, conditions ([<0]), %, scientific or date codes are refused:
    ``[<0]#,##0.00;"2,222.22"`` prints every amount as 2,222.22."""
    if code in ("General", "@", "0.00", "#,##0.00"):
        return None
    if code.startswith("builtin:") or code == "?":
        return f"内置格式 {code.removeprefix('builtin:')}（非数字金额格式）"
    if "[" in _FMT_TAG.sub("", code):
        return "含条件或未知的方括号标记"
    plain = _FMT_TAG.sub("", code)
    plain = plain.replace('"-"', "-")
    plain = _FMT_ESCAPES.sub(lambda m: m.group(0)[-1] if m.group(0)[0] == "\\" else " ", plain)
    sections = plain.split(";")
    if len(sections) > 4:
        return "节数过多"
    for i, sec in enumerate(sections):
        if i == 3:
            if sec.strip() and "@" not in sec:
                return "文本节不显示文本"
            if set(sec) - set("@ "):
                return "文本节含其他内容"
            continue
        if i == 2 and sec.strip() in ("", "-"):
            continue
        if set(sec) - _FMT_ALLOWED:
            bad = "".join(sorted(set(sec) - _FMT_ALLOWED))[:10]
            return f"含文字或符号 {bad!r}（会显示为别的内容）"
        if not any(ch in sec for ch in "0#?"):
            return "某节不显示数字"
        if i < 2 and not _FMT_DECIMALS.search(sec):
            return "少于两位小数（显示的数与实际值不同）"
        if i == 1 and "-" not in sec and "(" not in sec:
            return "负数显示为正数"
    return None



def _sheet(book: RawBook, sp: SheetPlan, raw: RawSheet) -> Iterator[Finding]:
    """The number format of every amount cell (styles.xml), and no figure in a hidden row or column."""
    bad: dict[str, list[str]] = {}
    hidden: list[str] = []
    any_hidden = sp.state == "visible" and bool(raw.hidden_rows or raw.hidden_cols)
    verdicts: dict[tuple[int, str], str | None] = {}  # (cell style index, plan style) -> problem
    for (r, c), cell in sp.cells.items():
        if cell.kind not in ("input", "formula", "number"):
            continue
        got = raw.cells.get((r, c))
        if got is None:
            continue
        vk = (got.style, cell.style)
        if vk in verdicts:
            why = verdicts[vk]
        else:
            code = book.format_of(got)
            # the format the plan writes on this style (0.00% on a rate) is no problem
            why = None if code == STYLE_FORMATS.get(cell.style) else format_problem(code)
            verdicts[vk] = why = None if why is None else f"{code}（{why}）"
        if why is not None:
            bad.setdefault(why, []).append(a1(r, c))
        if any_hidden and (r in raw.hidden_rows or raw.col_hidden(c)) and (
                got.formula is not None or cell_text(got).strip()):
            hidden.append(a1(r, c))
    for what, cells in bad.items():
        yield Finding("number-format-changed", ERROR, f"{sp.name} 的 {len(cells)} 个金额单元格（{'、'.join(cells[:5])}"
                                                     f"{'等' if len(cells) > 5 else ''}）的显示格式被改为 {what[:120]}：屏幕和打印上的数与实际值不符",
                      cell=f"{sp.name}!{cells[0]}", actual=what[:200])
    if hidden:
        yield Finding("data-hidden", ERROR, f"{sp.name} 有数据的单元格所在的行或列被隐藏（{'、'.join(hidden[:5])}"
                                           f"{'等' if len(hidden) > 5 else ''}）：看不到的数也会被收录", cell=f"{sp.name}!{hidden[0]}")


def conditional_formats(book: RawBook) -> Iterator[Finding]:
    """A conditional format may show a number differently when its condition holds."""
    for bad in sorted(set(book.bad_formats)):
        why = format_problem(bad)
        if why is not None:
            yield Finding("number-format-changed", ERROR, f"条件格式把数字显示为 {bad[:60]}（{why}）：满足条件时屏幕上的数与实际值不符",
                          cell="styles.xml", actual=bad[:200])


def check(reading: Reading) -> Iterator[Finding]:
    book = reading.book
    if book.formats:
        for sp in reading.the_plan.sheets:
            raw = book.sheet(sp.name)
            if raw is not None:
                yield from _sheet(book, sp, raw)
    yield from conditional_formats(book)
