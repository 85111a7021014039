"""The expression language at its edges: every parse and bind error with its message, exact
evaluation of each operator, Excel text with the parentheses precedence needs, and cell ranges
grouped into runs. Pure: a fake figure source and a fake cell resolver stand in for a workbook."""

from __future__ import annotations

from decimal import Decimal

import pytest

from generator.core.expr import (
    BAbs,
    BBin,
    BNeg,
    BSum,
    Context,
    ExprError,
    Fig,
    Items,
    Num,
    a1,
    col_letter,
    compile_expr,
    count_terms,
    evaluate,
    is_item_code,
    parse,
    sheet_prefix,
    terms,
    to_excel,
)

D = Decimal


class Source:
    def __init__(self, figs: dict[tuple[str, str, str], Decimal], items: dict[tuple[str, str, str], Decimal]):
        self.figs, self.its = figs, items

    def fig(self, f: Fig) -> Decimal:
        return self.figs.get((f.table, f.row, f.col), D(0))

    def items(self, it: Items) -> Decimal:
        return self.its.get((it.table, it.prefix, it.col), D(0))


class Resolver:
    """Fig (t, row, col) -> cell on sheet t+"表" at (int(row), int(col)); Items -> a named range."""

    def __init__(self, missing: set[str] | None = None, item_cells: dict[str, tuple[str, int, int]] | None = None):
        self.missing = missing or set()
        self.item_cells = item_cells or {}

    def cell(self, f: Fig, sheet: str) -> tuple[str, int, int] | None:
        if f.row in self.missing:
            return None
        return (f.table + "表", int(f.row), int(f.col))

    def items_excel(self, it: Items, sheet: str) -> str:
        return f"SUM(ITEMS_{it.prefix or 'ALL'}_{it.col})"

    def items_cell(self, it: Items) -> tuple[str, int, int] | None:
        return self.item_cells.get(it.prefix)


def F(row: int, col: int = 2, table: str = "公开01") -> Fig:
    return Fig(table, str(row), str(col))


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(("text", "msg"), [
    ("", "表达式为空"), ("   ", "表达式为空"), ("row 1 +", "表达式不完整"), ("row 1 . 2", "无法识别的字符"),
    ("row 1 row 2", "row 重复"), ("rows 1..2 row 3", "重复"), ("row 1 rows 2..3", "重复"),
    ("sum(rows 1..)", "应为行/栏的 key"), ("sum(rows 1 2)", "应为 '..'"), ("(row 1", "表达式不完整"),
    ("row 1)", "多余的内容 ')'"), ("公开01", "之后应有 row/col"), ("items row 1", "items 与 row 不能同用"),
    ("row col", "应为行/栏的 key"), ("foo", "无法识别 'foo'"), ("sum(row 1", "表达式不完整"),
    ("row 1 = row 2", "不能使用比较运算"),
])
def test_parse_errors_say_what(text: str, msg: str) -> None:
    with pytest.raises(ExprError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


def test_parse_numbers_words_and_comparisons() -> None:
    assert parse("2.50") == Num(D("2.50")) and parse("7") == Num(D(7))
    cmp = parse("row 1 <= row 2", allow_compare=True)
    assert cmp.op == "<=" and cmp.left.row == "1" and cmp.right.row == "2"  # type: ignore[union-attr]
    for op in ("=", "<", ">", ">=", "<="):
        assert parse(f"row 1 {op} 2", allow_compare=True).op == op  # type: ignore[union-attr]
    with pytest.raises(ExprError, match="多余的内容"):
        parse("row 1 = row 2 = row 3", allow_compare=True)
    ref = parse("公开03 items 215 col 1")
    assert (ref.table, ref.items, ref.prefix, ref.col, ref.row) == ("公开03", True, "215", "1", None)  # type: ignore[union-attr]
    assert parse("sum(items)").args[0].prefix == ""  # type: ignore[union-attr]
    # the parser takes the token after items as the prefix, a decimal too (the binder then refuses it)
    assert parse("公开03 items 1.5 col 1").prefix == "1.5"  # type: ignore[union-attr]
    r = parse("公开01 rows 1..8 cols 1..2")
    assert (r.row, r.row_to, r.col, r.col_to) == ("1", "8", "1", "2")  # type: ignore[union-attr]
    neg = parse("-row 1 - -2")
    assert neg.op == "-"  # type: ignore[union-attr]


# ---------------------------------------------------------------- evaluation


@pytest.mark.parametrize(("text", "want"), [
    ("1 + 2 * 3", D(7)), ("(1 + 2) * 3", D(9)), ("10 - 4 - 3", D(3)), ("12 / 4 / 3", D(1)),
    ("-2 * 3", D(-6)), ("--2", D(2)), ("2 - -3", D(5)), ("abs(2 - 7.50)", D("5.50")), ("sum(1, 2, 3.25)", D("6.25")),
    ("5 / 0", D(0)), ("1.10 * 3", D("3.30")), ("7 / 2", D("3.5")),
])
def test_evaluate_each_operator_exactly(spec, text: str, want: Decimal) -> None:  # type: ignore[no-untyped-def]
    node = compile_expr(text, spec, Context("公开01", "1", "1"))
    got = evaluate(node, Source({}, {}))
    assert got == want and str(got) == str(want)


def test_evaluate_figures_and_items() -> None:
    src = Source({("公开01", "1", "2"): D("1.25"), ("公开01", "2", "2"): D("2.50")},
                 {("公开03", "215", "1"): D(10), ("公开03", "", "1"): D(30)})
    node = BBin("-", BSum((F(1), F(2), Items("公开03", "215", "1"))), BAbs(BNeg(Items("公开03", "", "1"))))
    assert evaluate(node, src) == D("1.25") + D("2.50") + 10 - 30
    assert count_terms(node) == 4
    assert list(terms(node)) == [F(1), F(2), Items("公开03", "215", "1"), Items("公开03", "", "1")]
    with pytest.raises(ExprError, match="不能求值"):
        evaluate("x", src)  # type: ignore[arg-type]


# ---------------------------------------------------------------- binding


@pytest.mark.parametrize(("text", "ctx", "msg"), [
    ("公开99 row 1 col 1", Context(), "未知的表：公开99"), ("row 1", Context(None, None, "1"), "未知的表：None"),
    ("公开01 col 1", Context(), "未指定行"), ("公开01 row 1", Context(), "未指定栏"),
    ("sum(公开01 rows 8..1 col 1)", Context(), "顺序颠倒"), ("sum(公开01 rows 1..31 col 1)", Context(), "不在同一区块中"),
    ("sum(公开09 row 1 cols 9..3)", Context(), "顺序颠倒"), ("sum(公开09 row 1 cols 1..99)", Context(), "没有栏 99"),
    ("公开01 items col 1", Context(), "没有科目 section"), ("公开01 rows 1..2 col 1", Context(), "须放在 sum"),
    ("abs(公开01 row 1 col 1, 2)", Context(), "abs 只接受一个参数"), ("公开01 row 999 col 1", Context(), "没有行 999"),
    ("sum(公开03 items 1.5 col 1)", Context(), "items 之后应为科目代码前缀（数字）：1.5"),
    ("sum(公开03 items 21a col 1)", Context(), "items 之后应为科目代码前缀（数字）：21a"),
])
def test_bind_errors_say_what(spec, text: str, ctx: Context, msg: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExprError, match=msg):
        compile_expr(text, spec, ctx)


def test_bind_uses_the_context_and_sections(spec) -> None:  # type: ignore[no-untyped-def]
    ctx = Context("公开01", "27", "1")
    assert compile_expr("row 1", spec, ctx) == Fig("公开01", "1", "1")
    assert compile_expr("col 2", spec, Context("公开01", "31", "1")) == Fig("公开01", "31", "2")
    s = compile_expr("sum(rows 1..3)", spec, ctx)
    assert s == BSum((Fig("公开01", "1", "1"), Fig("公开01", "2", "1"), Fig("公开01", "3", "1")))
    cols = compile_expr("sum(公开09 row 1 cols 2..4)", spec, Context())
    assert [t.col for t in cols.terms] == ["2", "3", "4"]  # type: ignore[union-attr]
    assert compile_expr("sum(公开03 items 215 col 1)", spec, Context()) == BSum((Items("公开03", "215", "1"),))
    assert compile_expr("公开03 row 21505 col 1", spec, Context()) == Items("公开03", "21505", "1")
    assert compile_expr("公开03 row 合计 col 1", spec, Context()) == Items("公开03", "", "1")
    assert compile_expr("sum(1, row 2)", spec, ctx) == BSum((Num(D(1)), Fig("公开01", "2", "1")))


def test_compiled_expressions_are_memoised(spec) -> None:  # type: ignore[no-untyped-def]
    """The same text and context give the very same bound tree (a batch compiles each formula once)."""
    ctx = Context("公开01", "27", "1")
    assert compile_expr("sum(rows 1..3)", spec, ctx) is compile_expr("sum(rows 1..3)", spec, ctx)


# ---------------------------------------------------------------- Excel text


@pytest.mark.parametrize(("node", "text"), [
    (BBin("-", F(1), BBin("-", F(2), F(3))), "C2-(C3-C4)"),
    (BBin("-", BBin("-", F(1), F(2)), F(3)), "C2-C3-C4"),
    (BBin("+", F(1), BBin("+", F(2), F(3))), "C2+C3+C4"),
    (BBin("*", BBin("+", F(1), F(2)), F(3)), "(C2+C3)*C4"),
    (BBin("/", F(1), BBin("*", F(2), F(3))), "C2/(C3*C4)"),
    (BBin("*", F(1), BBin("/", F(2), F(3))), "C2*C3/C4"),
    (BBin("+", BBin("*", F(1), F(2)), F(3)), "C2*C3+C4"),
    (BNeg(BBin("+", F(1), F(2))), "-(C2+C3)"),
    (BNeg(BBin("*", F(1), F(2))), "-(C2*C3)"),
    (BNeg(F(1)), "-C2"),
    (BAbs(BBin("-", F(1), F(2))), "ABS(C2-C3)"),
    (Num(D("0.50")), "0.50"),
    (F(7, 2, "公开02"), "'公开02表'!C8"),
    (F(99), "0"),
])
def test_excel_text_with_the_parentheses_needed(node, text: str) -> None:  # type: ignore[no-untyped-def]
    assert to_excel(node, Resolver(missing={"99"}), "公开01表") == text


def test_excel_sums_group_cells_into_ranges() -> None:
    res = Resolver(missing={"99"}, item_cells={"215": ("公开03表", 9, 2)})
    # a column run, a gap, another run; a missing figure is left out
    node = BSum((F(1), F(2), F(3), F(5), F(6), F(99)))
    assert to_excel(node, res, "公开01表") == "SUM(C2:C4,C6:C7)"
    # one row, columns in a run
    row = BSum((F(4, 1), F(4, 2), F(4, 3), F(4, 5)))
    assert to_excel(row, res, "公开01表") == "SUM(B5:D5,F5)"
    # another sheet: prefixed
    assert to_excel(BSum((F(1), F(2))), res, "审核") == "SUM('公开01表'!C2:C3)"
    # items: a row that stands for them, or the resolver's own formula
    assert to_excel(BSum((Items("公开03", "215", "1"),)), res, "公开03表") == "SUM(C10)"
    assert to_excel(BSum((Items("公开03", "201", "1"),)), res, "公开03表") == "SUM(ITEMS_201_1)"
    assert to_excel(Items("公开03", "201", "1"), res, "x") == "SUM(ITEMS_201_1)"
    assert to_excel(Items("公开03", "215", "1"), res, "x") == "'公开03表'!C10"
    assert to_excel(BSum((Items("公开03", "", "1"), F(1))), res, "公开01表") == "SUM(C2,SUM(ITEMS_ALL_1))"
    assert to_excel(BSum((F(99),)), res, "公开01表") == "0"
    assert to_excel(BSum((Num(D(2)), F(1))), res, "公开01表") == "SUM(C2,2)"


def test_cell_names() -> None:
    assert [col_letter(c) for c in (0, 25, 26, 51, 52, 701, 702, 703)] == ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "AAB"]
    assert a1(0, 0) == "A1" and a1(9, 27) == "AB10" and a1(0, 702) == "AAA1"
    assert sheet_prefix("公开01表", "公开01表") == "" and sheet_prefix("公开01表", "审核") == "'公开01表'!"
    assert is_item_code("2150550") and not is_item_code("215055") and not is_item_code("215055a")
    assert not is_item_code("21505500")
