"""Values of every formula cell of a plan, computed in Python: the writer's cached results and
the reader's expectation of what a recalculating spreadsheet shows."""

from __future__ import annotations

from decimal import Decimal

from .expr import Fig, Items, evaluate
from .layout import SPARE_CODE, WorkbookPlan, grade_of
from .model import Figures
from .rules import RuleResult, evaluate_rules

CellKey = tuple[str, int, int]


class _SpareSource:
    def __init__(self, sheet: str, row: int, value_cols: dict[str, int], inputs: dict[CellKey, Decimal]):
        self.sheet, self.row, self.value_cols, self.inputs = sheet, row, value_cols, inputs

    def fig(self, f: Fig) -> Decimal:
        return Decimal(0)

    def items(self, it: Items) -> Decimal:
        assert it.prefix == SPARE_CODE
        return self.inputs.get((self.sheet, self.row, self.value_cols[it.col]), Decimal(0))


def code_names(plan: WorkbookPlan) -> dict[str, str]:
    """Every code's name: the code lists' (the first list naming it), then the unit's own names.
    The code lists' part is the same for every unit: gathered once per spec (not to be changed)."""
    memo = plan.spec.cache("code_names")
    names: dict[str, str] | None = memo.get("")
    if names is None:
        names = memo[""] = {}
        for cl in plan.spec.codelists.values():
            for code, name in cl.codes.items():
                names.setdefault(code, name)
    extra = {code: name for code, name in plan.names.items() if code not in names}
    return {**names, **extra} if extra else names


def formula_values(
    plan: WorkbookPlan,
    figures: Figures,
    statements: dict[str, str],
    cell_inputs: dict[CellKey, Decimal],
    code_texts: dict[CellKey, str],
) -> tuple[dict[CellKey, Decimal | str], list[RuleResult]]:
    results = evaluate_rules(plan.spec, figures, statements, plan.rule_instances, plan.units)
    names = code_names(plan)
    out: dict[CellKey, Decimal | str] = {}
    for sh in plan.sheets:
        for (r, c), cell in sh.cells.items():
            if cell.kind != "formula":
                continue
            kind = cell.calc[0] if cell.calc else ""
            if kind == "fig":
                f = cell.calc[1]
                out[(sh.name, r, c)] = figures.value(f.table, f.row, f.col)
            elif kind == "spare":
                assert sh.spare is not None and cell.node is not None
                out[(sh.name, r, c)] = evaluate(cell.node, _SpareSource(sh.name, r, sh.spare.value_cols, cell_inputs))
            elif kind == "name":
                code = (code_texts.get((sh.name, cell.calc[1], cell.calc[2])) or "").strip()
                out[(sh.name, r, c)] = "" if not code else names.get(code, "（代码不在代码表中）")
            elif kind == "grade":
                out[(sh.name, r, c)] = grade_of(evaluate(cell.calc[1], figures))
            elif kind == "rule":
                res = results[cell.calc[1]]
                part = cell.calc[2]
                out[(sh.name, r, c)] = (
                    res.left if part == "left" else res.right if part == "right" else
                    res.diff if part == "diff" else res.status
                )
    return out, results
