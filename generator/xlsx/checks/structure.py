"""Structure: the workbook's sheets are the plan's, in its order, each with its protection, its
visibility and its merged cells; no name is defined but the print titles."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from ...core.expr import a1
from ...core.findings import ERROR, INFO, WARNING, Finding
from ...core.layout import META, SheetPlan
from ..ooxml import RawBook, RawSheet
from .reading import Reading

_BUILTIN_NAMES = {"_xlnm.print_titles", "_xlnm.print_area", "_xlnm._filterdatabase"}
_RANGE_LIST = re.compile(r"^\s*(('[^']+'|[^'!\s(),\[\]]+)!)?\$?[A-Z]{0,3}\$?\d*(:\$?[A-Z]{0,3}\$?\d*)?"
                         r"(\s*,\s*(('[^']+'|[^'!\s(),\[\]]+)!)?\$?[A-Z]{0,3}\$?\d*(:\$?[A-Z]{0,3}\$?\d*)?)*\s*$", re.I)


def _sheets(reading: Reading, expected: list[str], actual: list[str]) -> Iterator[Finding]:
    """Sheets missing, extra, or there twice under names a spreadsheet takes for one."""
    for name in expected:
        if name not in actual:
            code = "meta-sheet-missing" if name == META else "sheet-missing"
            if code == "meta-sheet-missing" and code in reading.codes():
                continue
            yield Finding(code, ERROR, f"缺少工作表 {name}（被删除或改名）", cell=name, expected=name)
    for name in actual:
        if name not in expected:
            yield Finding("sheet-extra", ERROR, f"多出工作表 {name}（被新增或改名）", cell=name, actual=name)
    folded: dict[str, int] = {}
    for name in actual:
        key = unicodedata.normalize("NFKC", name).casefold()
        folded[key] = folded.get(key, 0) + 1
        if folded[key] == 2:
            yield Finding("sheet-name-duplicate", ERROR, f"工作表名 {name} 出现不止一次（不区分大小写）；电子表格软件会显示另一张同名表，"
                                                        "显示的与核对的可能不是同一张", cell=name, actual=name)


def defined_names(book: RawBook) -> Iterator[Finding]:
    """The template defines only print titles. Any other name -- or a print setting that is more than
    a range -- can stand in a formula for anything (``x`` = ``WEBSERVICE(…)``): refused."""
    for name, _local, text in book.defined_names:
        if name.lower() in _BUILTIN_NAMES and _RANGE_LIST.match(text):
            continue
        yield Finding("defined-name-unexpected", ERROR, f"工作簿定义了模板中没有的名称 {name[:40]} = {text[:80]}；"
                                                       "名称可在公式中代替任何内容（外部数据、函数），已拒绝其使用",
                      actual=f"{name[:40]}={text[:120]}")


def _visibility(sp: SheetPlan, raw: RawSheet) -> Iterator[Finding]:
    """A sheet hidden as planned stays hidden (LibreOffice's "hidden" for "very hidden" is fine); a
    visible one stays visible."""
    if sp.state == "veryHidden" and raw.state != "veryHidden":
        if raw.state == "hidden":
            yield Finding("hidden-sheet-state", INFO, f"工作表 {sp.name} 的隐藏方式在 LibreOffice 另存时改变（仍为隐藏），无需处理",
                          cell=sp.name)
        else:
            yield Finding("hidden-sheet-visible", WARNING, f"隐藏的工作表 {sp.name} 被取消隐藏", cell=sp.name)
    elif sp.state == "hidden" and raw.state == "visible":
        yield Finding("hidden-sheet-visible", WARNING, f"隐藏的工作表 {sp.name} 被取消隐藏", cell=sp.name)
    elif sp.state == "visible" and raw.state != "visible":
        yield Finding("sheet-hidden", ERROR, f"工作表 {sp.name} 被隐藏：其中的数看不到却会被收录", cell=sp.name)


def _merges(sp: SheetPlan, raw: RawSheet) -> Iterator[Finding]:
    if set(sp.merges) == raw.merges:
        return
    missing = sorted(set(sp.merges) - raw.merges)
    extra = sorted(raw.merges - set(sp.merges))
    desc = "；".join([f"缺少合并 {a1(m[0], m[1])}:{a1(m[2], m[3])}" for m in missing[:3]] +
                    [f"多出合并 {a1(m[0], m[1])}:{a1(m[2], m[3])}" for m in extra[:3]])
    yield Finding("merge-changed", ERROR, f"{sp.name} 的合并单元格被改变：{desc}", cell=sp.name)


def check(reading: Reading) -> Iterator[Finding]:
    book, plan = reading.book, reading.the_plan
    expected = [s.name for s in plan.sheets]
    actual = [s.name for s in book.sheets]
    yield from _sheets(reading, expected, actual)
    yield from defined_names(book)
    common = [n for n in actual if n in expected]
    if common != [n for n in expected if n in actual]:
        yield Finding("sheet-order-changed", WARNING, "工作表顺序被改变")
    if not book.structure_locked:
        # LibreOffice and WPS drop the lock on save: protection is a courtesy, every cell is verified
        yield Finding("structure-unlocked", INFO, "工作簿结构保护未保留（用 LibreOffice 或 WPS 保存时常见）；各表已逐格核对，无需处理")
    for sp in plan.sheets:
        raw = book.sheet(sp.name)
        if raw is None:
            continue
        if not raw.protected:
            yield Finding("sheet-unprotected", WARNING, f"工作表 {sp.name} 的保护已被取消", cell=sp.name)
        yield from _visibility(sp, raw)
        yield from _merges(sp, raw)
