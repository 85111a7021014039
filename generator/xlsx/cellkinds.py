"""The one dispatch on a planned cell's kind, shared by the writer and the reader.

A :class:`~generator.core.layout.CellPlan` is one of :data:`KINDS`. The writer (what to put in the
cell) and the reader (what to take from it, what to report) each subclass :class:`CellHandler` and
give one method per kind; :meth:`CellHandler.visit` is the only place a kind is turned into code.
A new kind of cell is a new entry in :data:`KINDS` and a method on both sides: a handler that lacks
it raises, it is never silently skipped.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from ..core.layout import CellPlan

R = TypeVar("R")

# kind -> the handler's method; the order is the layout's (fixed texts first, then what a unit fills)
KINDS: dict[str, str] = {
    "text": "text",  # a fixed label
    "number": "number",  # a fixed number (a 审核 row's tolerance)
    "formula": "formula",  # computed by the workbook (and recomputed by the reader)
    "input": "input",  # an amount a unit types
    "code": "code",  # a spare row's 科目代码
    "field": "field",  # a text a unit types into a form (附件)
    "note": "note",  # a table's 空表说明
    "cover": "cover",  # a cover field
    "explain": "explain",  # a 审核 row's 差异说明
}


class CellKindError(ValueError):
    """A planned cell of a kind no handler knows."""


class CellHandler(Generic[R]):
    """One method per cell kind, each called with the cell's 0-based row and column and its plan."""

    def visit(self, r: int, c: int, cell: CellPlan) -> R:
        name = KINDS.get(cell.kind)
        if name is None:
            raise CellKindError(f"unknown cell kind {cell.kind!r} at ({r}, {c})")
        method = getattr(self, name)
        result: R = method(r, c, cell)
        return result

    def text(self, r: int, c: int, cell: CellPlan) -> R:
        raise NotImplementedError

    def number(self, r: int, c: int, cell: CellPlan) -> R:
        raise NotImplementedError

    def formula(self, r: int, c: int, cell: CellPlan) -> R:
        raise NotImplementedError

    def input(self, r: int, c: int, cell: CellPlan) -> R:
        raise NotImplementedError

    def code(self, r: int, c: int, cell: CellPlan) -> R:
        raise NotImplementedError

    def field(self, r: int, c: int, cell: CellPlan) -> R:
        raise NotImplementedError

    def note(self, r: int, c: int, cell: CellPlan) -> R:
        raise NotImplementedError

    def cover(self, r: int, c: int, cell: CellPlan) -> R:
        raise NotImplementedError

    def explain(self, r: int, c: int, cell: CellPlan) -> R:
        raise NotImplementedError
