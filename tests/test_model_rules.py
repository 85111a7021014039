"""Figures and 审核 rules with exact expectations: which figures are derived, what a section shows,
how each kind of rule expands and judges, and what a finding of each status carries."""

from __future__ import annotations

from decimal import Decimal

from generator.core.dataset import Dataset
from generator.core.findings import ERROR, INFO, WARNING
from generator.core.model import Figures, is_formula_figure
from generator.core.rules import FAIL, PASS, SLIP, evaluate_rules, expand_rules, rule_findings

D = Decimal


def test_which_figures_are_derived(spec) -> None:  # type: ignore[no-untyped-def]
    g01, g03, g06 = spec.tables["公开01"], spec.tables["公开03"], spec.tables["公开06"]
    assert is_formula_figure(g01, "27", "1") and is_formula_figure(g01, "30", "1")
    assert not is_formula_figure(g01, "1", "1") and not is_formula_figure(g01, "99", "1")
    assert is_formula_figure(g03, "合计", "2") and is_formula_figure(g03, "215", "2")
    assert is_formula_figure(g03, "21505", "2")  # a 款 row: the sum of its 项
    assert not is_formula_figure(g03, "2150550", "2")  # a 项 is typed in
    assert is_formula_figure(g03, "2150550", "1")  # …except a column that is a formula (栏1 = 栏2 + 栏3 …)
    assert not is_formula_figure(g06, "301", "决算数") and is_formula_figure(g06, "人员经费合计", "决算数")


def test_figures_of_a_section_and_fixed_rows(spec) -> None:  # type: ignore[no-untyped-def]
    inputs = {"公开03": {"2150550": {"2": D("1.10"), "3": D("2.20")}, "2080501": {"2": D("3.00")}},
              "公开01": {"1": {"1": D("5.00")}, "2": {"1": D("0.25")}}}
    figs = Figures(spec, inputs)
    assert figs.value("公开03", "2150550", "1") == D("3.30")  # column formula on a 项
    assert figs.value("公开03", "215", "1") == D("3.30") and figs.value("公开03", "21505", "2") == D("1.10")
    assert figs.value("公开03", "208", "2") == D("3.00") and figs.value("公开03", "合计", "1") == D("6.30")
    assert figs.value("公开03", "201", "1") == D(0)  # a class nobody reports
    assert figs.value("公开01", "27", "1") == D("5.25") and figs.value("公开01", "30", "1") == D("5.25")
    assert figs.value("公开01", "3", "1") == D(0)
    assert figs.item_codes("公开03") == ["2080501", "2150550"] and figs.item_codes("公开02") == []
    assert figs.section_rows("公开03") == ["合计", "208", "20805", "2080501", "215", "21505", "2150550"]
    assert figs.section_rows("公开01") == []
    everything = figs.all_values()
    got = everything["公开03"]["21505"]
    assert (got["1"], got["2"], got["3"]) == (D("3.30"), D("1.10"), D("2.20"))
    assert set(got) == set(spec.tables["公开03"].col_keys())
    assert set(everything["公开03"]) == set(figs.section_rows("公开03"))
    assert everything["公开01"]["27"]["1"] == D("5.25")
    assert list(everything["公开02"]) == ["合计"] and set(everything["公开02"]["合计"].values()) == {D(0)}
    # blank rows that take no figure are not figures at all
    g01_rows = {r.key for b, r in spec.tables["公开01"].fixed_rows() if not r.input and not r.formula}
    assert not g01_rows & set(everything["公开01"])


def test_rules_expand_per_binding(spec) -> None:  # type: ignore[no-untyped-def]
    codes = {"公开05": ["2150550", "2150599"], "公开07": ["2120801"]}
    insts = expand_rules(spec, lambda t: codes.get(t, []))
    ids = [i.id for i in insts]
    assert "g05-le-g03[2150550,1]" in ids and "g05-le-g03[2150599,3]" in ids
    assert len([i for i in ids if i.startswith("g05-le-g03[")]) == 2 * 3
    # items_of with total: the 合计 row first, then each code
    assert [i for i in ids if i.startswith("g07-closing")] == ["g07-closing[合计]", "g07-closing[2120801]"]
    assert "g06-class[301,30101,30199]" in ids and "g04-g01-income[2]" in ids
    le = next(i for i in insts if i.id == "g05-le-g03[2150550,2]")
    assert le.message == "公开05表 2150550 栏2 不应大于 公开03表 同科目同栏"
    assert le.binding == {"code": "2150550", "col": "2"} and le.tolerance == D("0.010")
    cls = next(i for i in insts if i.id == "g06-class[301,30101,30199]")
    assert cls.tolerance == D("0.005") * (1 + 13)  # 301 and its 13 款 rows 30101..30199
    statement = next(i for i in insts if i.id == "g07-empty-statement")
    assert statement.kind == "statement" and statement.node is None and statement.severity == ERROR


def test_rule_instances_are_memoised(spec) -> None:  # type: ignore[no-untyped-def]
    codes = {"公开05": ["2150550"]}
    assert expand_rules(spec, lambda t: codes.get(t, []))[0] is expand_rules(spec, lambda t: codes.get(t, []))[0]


def test_each_kind_of_rule_judged_and_reported(spec) -> None:  # type: ignore[no-untyped-def]
    ds = Dataset("1", "甲", 2024)
    ds.set("公开05", "2150550", "2", D("5.00"))  # in 公开05 but not in 公开03: subset fails, <= fails
    ds.set("公开06", "301", "决算数", D("10.01"))
    ds.set("公开06", "30101", "决算数", D("10.00"))  # 301 off by 0.01 of 14 figures' band: a slip
    ds.set("公开09", "1", "11", D("1.00"))
    ds.set("公开06", "30231", "决算数", D("2.00"))  # a warning rule failing
    figs = Figures(spec, ds.values)
    results = {r.instance.id: r for r in evaluate_rules(spec, figs, {"公开07": "无数据"})}
    assert results["g05-in-g03"].status == FAIL and results["g05-in-g03"].left == 1
    assert results["g05-le-g03[2150550,2]"].status == FAIL
    assert results["g06-class[301,30101,30199]"].status == SLIP
    assert results["g07-empty-statement"].status == PASS  # empty but explained
    assert results["g08-empty-statement"].status == FAIL  # empty, nothing said
    assert results["g09-car-vs-g06"].status == FAIL
    found = {f.rule: f for f in rule_findings(list(results.values()), {"g09-car-vs-g06": "已说明"}, lambda i: f"审核!{i.id}")}
    sub = found["g05-in-g03"]
    assert (sub.code, sub.severity, sub.table, sub.expected, sub.actual) == ("rule-failed", ERROR, "公开05", "0", "1")
    slip = found["g06-class[301,30101,30199]"]
    assert (slip.code, slip.severity, slip.table, slip.row, slip.col) == ("rounding-difference", INFO, "公开06", "301", "决算数")
    assert (slip.expected, slip.actual) == ("10.00", "10.01") and "±0.07" in slip.message
    st = found["g08-empty-statement"]
    assert (st.code, st.table, st.cell) == ("empty-table-statement-missing", "公开08", "审核!g08-empty-statement")
    warn = found["g09-car-vs-g06"]
    assert (warn.code, warn.severity, warn.extra["explained"], warn.extra["explanation"]) == (
        "rule-warning", WARNING, True, "已说明")
    assert warn.message.endswith("（已说明：已说明）") and "差额 -1.00" in warn.message
    assert (warn.expected, warn.actual, warn.table, warn.row, warn.col) == ("2.00", "1.00", "公开09", "1", "11")
    bad = found["g05-le-g03[2150550,2]"]
    assert "explained" not in bad.extra and bad.extra["rule_id"] == "g05-le-g03[2150550,2]"
    assert "g01-balance" not in found  # passing rules say nothing
    # an explanation keyed by the rule id covers every instance; none: said so
    unexplained = rule_findings([results["g09-car-vs-g06"]], {})
    assert unexplained[0].extra["explained"] is False and unexplained[0].message.endswith("（未填写差异说明）")
    by_rule = rule_findings([results["g09-car-vs-g06"]], {"g09-car-vs-g06": "  "})
    assert by_rule[0].extra["explained"] is False


def test_a_sections_leaves_and_their_ancestors(spec) -> None:  # type: ignore[no-untyped-def]
    g03, g01 = spec.tables["公开03"], spec.tables["公开01"]
    assert [c for c in ("合计", "215", "2150550", "2080501", "21505") if g03.is_item(c)] == ["2150550", "2080501"]
    assert g03.with_ancestors("2150550") == ["215", "21505", "2150550"]
    assert not g01.is_item("2150550")  # a table without a section has no 科目 leaves
