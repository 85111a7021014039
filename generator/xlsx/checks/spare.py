"""Spare rows: a 科目 a unit added in a table's spare rows counts as the workbook counts it. A
7-character code takes its amounts into 合计 and its 类/款, known or not; a code not in the code list
is imported under the name typed over the name cell (a warning), or, without a name, still imported
and reported as an error; amounts without a code, malformed and repeated codes are reported."""

from __future__ import annotations

import unicodedata
from collections.abc import Generator, Iterator
from decimal import Decimal

from ...core.expr import a1
from ...core.findings import ERROR, WARNING, Finding
from ...core.layout import SheetPlan, SpareRows
from ...core.money import fmt
from ...core.spec import Spec, Table
from .reading import Reading


def codelist_codes(spec: Spec) -> frozenset[str]:
    """Every code of the spec's code lists (once per spec)."""
    memo = spec.cache("reader")
    codes: frozenset[str] | None = memo.get("codelist_codes")
    if codes is None:
        codes = memo["codelist_codes"] = frozenset(c for cl in spec.codelists.values() for c in cl.codes)
    return codes


def _code(text: str) -> str:
    """A typed code as the code list spells it (full-width digits folded, a number's ".0" dropped)."""
    code = unicodedata.normalize("NFKC", text).strip()
    return code[:-2] if code.endswith(".0") and code[:-2].isdigit() else code


def _unknown(reading: Reading, sp: SheetPlan, r: int, code: str, where: str) -> Iterator[Finding]:
    """A code the code list lacks: its typed name, else a placeholder and an error."""
    assert sp.spare is not None and sp.table is not None
    t, spare, names = sp.table, sp.spare, reading.ds.names
    typed = reading.typed_names.get((sp.name, r, spare.name_col), "")
    if typed and not typed.startswith("（"):
        yield Finding("code-unknown", WARNING, f"{where} 科目代码 {code} 不在代码表中，已按填写的名称“{typed}”导入；"
                      "请确认代码无误", cell=where, table=t.id, row=code, actual=code)
        names[code] = typed
    else:
        name_at = f"{sp.name}!{a1(r, spare.name_col)}"
        yield Finding("code-unknown-unnamed", ERROR, f"{where} 科目代码 {code} 不在代码表中，也没有填写科目名称：金额已按表内公式计入合计，"
                      f"请核对代码，或在 {name_at} 填写科目名称", cell=where, table=t.id, row=code, actual=code)
        names.setdefault(code, f"科目{code}")


def _sheet(reading: Reading, sp: SheetPlan, known: frozenset[str] | set[str]) -> Iterator[Finding]:
    assert sp.spare is not None and sp.table is not None
    plan, t, spare = reading.the_plan, sp.table, sp.spare
    prefilled = set(plan.sections.get(t.id, []))
    first_of: dict[str, bool] = {}  # a 栏's first column: is it a formula (then the row's own formula sums it)
    for x in t.section.value_columns if t.section else []:
        if x.key is not None:
            first_of.setdefault(x.key, bool(x.formula))
    seen: set[str] = set()
    for r in range(spare.first, spare.last + 1):
        code = _code(reading.code_texts.get((sp.name, r, spare.code_col), ""))
        vals = {k: reading.cell_inputs.get((sp.name, r, ci)) for k, ci in spare.value_cols.items()}
        where = f"{sp.name}!{a1(r, spare.code_col)}"
        if not code:
            if any(v not in (None, Decimal(0)) for v in vals.values()):
                shown = "，".join(f"栏{k} {fmt(v, True)}" for k, v in vals.items() if v)
                yield Finding("spare-row-without-code", ERROR, f"{where} 新增科目行填了金额却没有科目代码，未导入：{shown}",
                              cell=where, table=t.id)
            continue
        if not t.is_item(code):
            yield Finding("code-malformed", ERROR, f"{where} 科目代码 {code!r} 应为 {t.leaf_words}代码，本行未导入", cell=where,
                          table=t.id, actual=code)
            continue
        if code not in known:
            yield from _unknown(reading, sp, r, code, where)
        if code in prefilled or code in seen:
            yield Finding("duplicate-code", ERROR, f"{where} 科目代码 {code} 重复出现，金额已合并计入", cell=where, table=t.id,
                          row=code, actual=code)
        seen.add(code)
        vals = yield from _whole_counts(t, vals, sp.name, r, spare)
        plan.used_spare.setdefault((t.id, code), r)
        row = reading.inputs.setdefault(t.id, {}).setdefault(code, {})
        for k, v in vals.items():
            if not first_of.get(k, False):
                row[k] = row.get(k, Decimal(0)) + (v or Decimal(0))


def _whole_counts(t: Table, vals: dict[str, Decimal | None], sheet: str, r: int, spare: SpareRows
                  ) -> Generator[Finding, None, dict[str, Decimal | None]]:
    """A spare row's figures with a fraction in a count column left out (count-not-whole)."""
    counts = {c.key for c in t.section.value_columns if c.measure == "count"} if t.section else set()
    out = dict(vals)
    for k, v in vals.items():
        if k in counts and v is not None and v != v.to_integral_value():
            where = f"{sheet}!{a1(r, spare.value_cols[k])}"
            yield Finding("count-not-whole", ERROR, f"{where} 是数量（人、辆、台（套）等），应为整数，实为 {v}，未导入",
                          cell=where, table=t.id, actual=str(v))
            out[k] = None
    return out


def check(reading: Reading) -> Iterator[Finding]:
    plan = reading.the_plan
    known = codelist_codes(plan.spec) | set(plan.names)
    for sp in plan.sheets:
        if sp.spare is not None and reading.book.sheet(sp.name) is not None:
            yield from _sheet(reading, sp, known)
