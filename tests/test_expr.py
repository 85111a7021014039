from __future__ import annotations

from decimal import Decimal

import pytest

from generator.core.expr import (
    BCompare,
    Context,
    ExprError,
    Fig,
    Items,
    compile_expr,
    count_terms,
    evaluate,
    parse,
    to_excel,
)
from generator.core.model import Figures


def test_parse_refs_ranges_and_precedence() -> None:
    node = parse("公开01 row 30 col 1 = row 27 + row 28 * 2 - (row 29)", allow_compare=True)
    assert node.op == "="  # type: ignore[union-attr]
    with pytest.raises(ExprError):
        parse("row 1 = row 2")  # comparisons only in rules
    with pytest.raises(ExprError):
        parse("sum(rows 1..)")
    with pytest.raises(ExprError):
        parse("row 1 +")


def test_bind_resolves_keys_and_sections(spec) -> None:  # type: ignore[no-untyped-def]
    node = compile_expr("sum(rows 1..8)", spec, Context("公开01", "27", "1"))
    assert count_terms(node) == 8
    node = compile_expr("公开03 row 215 col 1", spec, Context())
    assert node == Items("公开03", "215", "1")
    node = compile_expr("公开02 row 合计 col 2", spec, Context())
    assert node == Items("公开02", "", "2")
    assert compile_expr("row 301", spec, Context("公开06", None, "决算数")) == Fig("公开06", "301", "决算数")
    with pytest.raises(ExprError, match="没有栏"):
        compile_expr("公开01 row 1 col 7", spec, Context())
    with pytest.raises(ExprError, match="没有行"):
        compile_expr("公开06 row 99999", spec, Context(None, None, "决算数"))


def test_evaluate_is_exact_decimal(spec, seed) -> None:  # type: ignore[no-untyped-def]
    figs = Figures(spec, seed.values)
    node = compile_expr("公开06 row 301 col 决算数 = sum(公开06 rows 30101..30199 col 决算数)", spec, Context(), True)
    assert isinstance(node, BCompare)
    assert evaluate(node.left, figs) == Decimal("597.13")
    assert evaluate(node.right, figs) == Decimal("597.12")
    assert figs.value("公开03", "21505", "1") == Decimal("1877.91")
    assert figs.value("公开03", "合计", "3") == Decimal("1153.40")
    assert figs.value("公开06", "人员经费合计", "决算数") == Decimal("925.86")


def test_excel_compilation_uses_layout_cells(spec, seed_build) -> None:  # type: ignore[no-untyped-def]
    plan = seed_build.plan
    node = compile_expr("sum(rows 1..8)", spec, Context("公开01", "27", "1"))
    assert to_excel(node, plan, "公开01表") == "SUM(C7:C14)"
    node = compile_expr("公开01 row 57 col 2", spec, Context())
    assert to_excel(node, plan, "审核") == "'公开01表'!F33"
    # a 科目 absent from the unit's rows still sums its spare rows
    node = compile_expr("公开03 row 201 col 1", spec, Context())
    text = to_excel(node, plan, "审核")
    assert 'LEFT(\'公开03表\'!$A$15:$A$19,3)="201"' in text
