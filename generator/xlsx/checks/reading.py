"""What the checks of one read share: the workbook, what the caller expects, and what each check
found out for the ones after it (the identity and the plan, the figures, the recomputed formulas).

A check is a function ``check(reading) -> Iterable[Finding]``: it yields its findings (the pipeline
appends each one to ``reading.findings`` as it comes, so what comes later sees the earlier ones) and
fills in what it established on ``reading``. A check that finds the file unusable raises
:class:`Unusable` with the findings the result is to carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ...core.calc import CellKey
from ...core.dataset import Dataset, Values
from ...core.expr import Fig
from ...core.findings import Finding
from ...core.layout import CellPlan, SheetPlan, WorkbookPlan
from ...core.model import Figures
from ...core.rules import RuleInstance, RuleResult
from ...core.spec import Spec
from ..ooxml import RawBook

Check = Callable[["Reading"], Iterable[Finding]]


class Unusable(Exception):  # noqa: N818 - a verdict, not an error of the program
    """The file cannot be used: the read ends here, its result carries ``findings``."""

    def __init__(self, findings: list[Finding]):
        super().__init__(findings[-1].code if findings else "unusable")
        self.findings = findings


@dataclass
class Reading:
    """One workbook being read: given, then established check by check."""

    book: RawBook
    path: str
    spec_dirs: list[Path] | None = None
    key: str | None = None
    expect_unit: str | None = None
    expect_year: int | None = None
    spec: Spec | None = None
    findings: list[Finding] = field(default_factory=list)
    # identity
    meta: dict[str, str] = field(default_factory=dict)  # the hidden identity sheet's fields
    ident: dict[str, str] = field(default_factory=dict)  # the identity read (the sheet's, else the properties')
    template: dict[str, str] = field(default_factory=dict)
    units: int = 1  # the 汇总's units (1: a unit's own workbook)
    kind: str = ""  # "" or a 汇总 kind
    spare_rows: int | None = None  # spare 科目 rows per table, when recorded
    plan: WorkbookPlan | None = None
    ds: Dataset = field(default_factory=Dataset)
    # cells
    inputs: Values = field(default_factory=dict)
    cell_inputs: dict[CellKey, Decimal] = field(default_factory=dict)
    code_texts: dict[CellKey, str] = field(default_factory=dict)
    typed_names: dict[CellKey, str] = field(default_factory=dict)
    text_numbers: dict[Fig, Decimal] = field(default_factory=dict)  # numbers typed as text (counted 0)
    shifted: set[str] = field(default_factory=set)  # sheets whose rows or columns moved
    # formulas and rules
    figures: Figures | None = None
    expected: dict[CellKey, Any] = field(default_factory=dict)
    plan_results: list[RuleResult] = field(default_factory=list)
    instances: list[RuleInstance] = field(default_factory=list)
    results: list[RuleResult] = field(default_factory=list)

    @property
    def the_plan(self) -> WorkbookPlan:
        """The plan (established by the identity check: every later check has it)."""
        assert self.plan is not None
        return self.plan

    @property
    def the_figures(self) -> Figures:
        assert self.figures is not None
        return self.figures

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}


def label_of(sp: SheetPlan, cell: CellPlan) -> dict[str, Any]:
    """A finding's table/row/col for a planned cell."""
    kw: dict[str, Any] = {}
    if sp.table is not None:
        kw["table"] = sp.table.id
    if cell.fig is not None:
        kw["row"], kw["col"] = cell.fig.row, cell.fig.col
    return kw
