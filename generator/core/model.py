"""Figures: input values plus every derived figure, computed exactly from the spec's formulas.

The writer uses it for cached formula results, the reader to recompute what the workbook claims,
the rules to evaluate 审核 expressions, the collector to consolidate. Pure Python (Decimal).
"""

from __future__ import annotations

from decimal import Decimal

from .dataset import Values
from .expr import BNode, Context, Fig, Items, cell_formula, compile_expr, evaluate
from .spec import Spec, Table, is_indicator_key, split_repeat

ZERO = Decimal(0)


class Figures:
    def __init__(self, spec: Spec, inputs: Values):
        self.spec = spec
        self.inputs = inputs
        self._memo: dict[tuple[str, str, str], Decimal] = {}
        self._compiled: dict[tuple[str, str, str, str], BNode] = {}
        self._item_codes: dict[str, tuple[str, ...]] = {}

    # -- FigureSource protocol
    def fig(self, f: Fig) -> Decimal:
        key = (f.table, f.row, f.col)
        if key in self._memo:
            return self._memo[key]
        t = self.spec.tables[f.table]
        found = t.row(f.row)
        if found is None:
            sec = t.section
            if t.kind == "form":
                value = self._input(f.table, f.row, f.col)
            elif sec is None:
                value = ZERO
            else:
                prefix = "" if sec.total and f.row == sec.total.key else f.row
                value = self.items(Items(f.table, prefix, f.col))
        else:
            block, row = found
            formula = _cell_formula(self.spec, t, block.id, f.row, f.col)
            if not row.input and not row.formula:
                value = ZERO
            elif formula is not None:
                value = evaluate(self._compile(formula[0], formula[1]), self)
            else:
                value = self._input(f.table, f.row, f.col)
        self._memo[key] = value
        return value

    def items(self, it: Items) -> Decimal:
        key = (it.table, "items " + it.prefix, it.col)  # memoised with the figures (no row key starts so)
        if key in self._memo:
            return self._memo[key]
        total = ZERO
        codes = self._item_codes.get(it.table)
        if codes is None:
            self.item_codes(it.table)
            codes = self._item_codes[it.table]
        for code in codes:
            if code.startswith(it.prefix):
                total += self.item_value(it.table, code, it.col)
        self._memo[key] = total
        return total

    # -- helpers
    def _compile(self, text: str, ctx: Context) -> BNode:
        key = (text, ctx.table or "", ctx.row or "", ctx.col or "")
        node = self._compiled.get(key)
        if node is None:
            node = compile_expr(text, self.spec, ctx)
            self._compiled[key] = node
        return node

    def _input(self, table: str, row: str, col: str) -> Decimal:
        return self.inputs.get(table, {}).get(row, {}).get(col, ZERO)

    def typed_total(self, table: str) -> Decimal:
        """Sum of the absolute amounts typed into a table (0: not filled in); once per table."""
        key = (table, "typed total", "")  # memoised with the figures (no row key is so)
        if key not in self._memo:
            self._memo[key] = sum((abs(v) for row in self.inputs.get(table, {}).values() for v in row.values()), ZERO)
        return self._memo[key]

    def item_codes(self, table: str) -> list[str]:
        """The 项 codes of a 科目 section, or the indicator row keys of a form table."""
        codes = self._item_codes.get(table)
        if codes is None:  # the inputs do not change once figures are asked for (see _memo)
            t = self.spec.tables[table]
            test = is_indicator_key if t.kind == "form" else t.is_item
            codes = self._item_codes[table] = tuple(sorted(r for r in self.inputs.get(table, {}) if test(r)))
        return list(codes)

    def projects(self, table: str) -> list[str]:
        """The projects of a repeated form table (附件3) the inputs carry, in number order."""
        found = {split_repeat(r)[0] for r in self.inputs.get(table, {})} - {""}
        return sorted(found, key=int)

    def item_value(self, table: str, code: str, col: str) -> Decimal:
        key = (table, code, col)
        if key in self._memo:
            return self._memo[key]
        t = self.spec.tables[table]
        sec = t.section
        formula = None
        if sec:
            for c in sec.value_columns:
                if c.key == col and c.formula:
                    formula = c.formula
        if formula:
            value = evaluate(self._compile(formula, Context(table, code, col)), self)
        else:
            value = self._input(table, code, col)
        self._memo[key] = value
        return value

    def value(self, table: str, row: str, col: str) -> Decimal:
        """Any figure by key: fixed rows, section codes (类/款/项) and 合计."""
        return self.fig(Fig(table, row, col))

    def section_rows(self, table: str) -> list[str]:
        """Total + every code shown in a section: its leaf codes (项) with their ancestors in the
        section's levels (类/款), and any other code the inputs carry, in code order."""
        t = self.spec.tables[table]
        sec = t.section
        if not sec or not sec.total:
            return []
        codes: set[str] = set()
        for r in self.inputs.get(table, {}):
            if r.isdigit():
                codes.update(t.with_ancestors(r) if t.is_item(r) else (r,))
        return [sec.total.key] + sorted(codes)

    def all_values(self) -> Values:
        """Every figure, derived ones recomputed: the canonical ``values`` of a read-back."""
        out: Values = {}
        for t in self.spec.tables.values():
            rows = out.setdefault(t.id, {})
            if t.kind == "form":
                if not self.inputs.get(t.id):  # a 附件 not filled in has no figures (not even constants)
                    continue
                prefixes = [p + ":" for p in self.projects(t.id)] if t.repeat else [""]
                for prefix in prefixes:
                    for _b, row in t.fixed_rows():
                        for c in row.cols if row.cols is not None else t.col_keys():
                            rows.setdefault(prefix + row.key, {})[c] = self.value(t.id, prefix + row.key, c)
                for key in self.item_codes(t.id):
                    rows.setdefault(key, {}).update(self.inputs[t.id][key])
                continue
            if t.section:
                for r in self.section_rows(t.id):
                    for c in t.col_keys():
                        rows.setdefault(r, {})[c] = self.value(t.id, r, c)
            for b, row in t.fixed_rows():
                if not row.input and not row.formula:
                    continue
                for col in b.value_columns:
                    rows.setdefault(row.key, {})[col.key or ""] = self.value(t.id, row.key, col.key or "")
        return out


def _cell_formula(spec: Spec, t: Table, block_id: str, row_key: str, col_key: str) -> tuple[str, Context] | None:
    """cell_formula, memoised per spec (a fixed figure's formula is the spec's, the same in every workbook)."""
    memo = spec.cache("cell_formula")
    key = (t.id, block_id, row_key, col_key)
    if key not in memo:
        memo[key] = cell_formula(t, block_id, row_key, col_key)
    found: tuple[str, Context] | None = memo[key]
    return found


def is_formula_figure(t: Table, row_key: str, col_key: str) -> bool:
    """True when the figure is derived (a formula cell) rather than typed in."""
    sec = t.section
    if sec is not None and t.row(row_key) is None:
        if any(c.key == col_key and c.formula for c in sec.value_columns):
            return True
        return not t.is_item(row_key)
    found = t.row(row_key)
    if found is None:
        return False
    block, row = found
    return cell_formula(t, block.id, row_key, col_key) is not None
