"""The cell plan memoised per (spec, table, 科目 or indicator list): a table's sheet laid out for one unit
is reused for the next unit with the same list, and a plan made of reused sheets is the plan laid out
afresh (core/layout.py: _fixed_key, _reuse_fixed, _remember_fixed)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from generator.core.dataset import load_dataset
from generator.core.layout import WorkbookPlan, form_sections, plan_workbook, section_codes
from generator.core.spec import Spec
from tests.conftest import SEED


def _fresh(spec: Spec) -> Spec:
    """The spec without any memo table (every sheet laid out anew)."""
    other = copy.copy(spec)
    other._caches = {}
    return other


def _shape(plan: WorkbookPlan) -> list[Any]:
    return [(s.name, s.kind, s.cells, s.merges, s.widths, s.heights, s.spare, s.statement_cell, s.header_rows)
            for s in plan.sheets] + [plan.fig_cells, plan.spare, plan.rule_rows]


def _sections(spec: Spec) -> dict[str, list[str]]:
    ds = load_dataset(SEED)
    codes = section_codes(spec, ds.values)
    codes.update(form_sections(spec, ds.values, ds.texts))
    return codes


@pytest.mark.parametrize("kind, spare_rows", [("", None), ("", 0), ("", 3), ("汇总", None)])
def test_a_plan_of_reused_sheets_is_the_plan_laid_out_afresh(spec: Spec, kind: str, spare_rows: int | None) -> None:
    memo = _fresh(spec)
    sections = _sections(spec)
    names = load_dataset(SEED).names
    units = 3 if kind else 1
    for code, name in (("430100001", "甲单位"), ("430100002", "乙单位"), ("430100003", "丙单位")):
        got = plan_workbook(memo, code, name, 2024, sections, names, "k", units=units, kind=kind, spare_rows=spare_rows)
        want = plan_workbook(_fresh(spec), code, name, 2024, sections, names, "k", units=units, kind=kind,
                             spare_rows=spare_rows)
        assert _shape(got) == _shape(want)
    kept = {key[0] for key in memo.cache("fixed_sheets")}
    assert {"公开02", "公开03", "附件1"} <= kept  # the 科目 tables and the forms are reused too


def test_a_list_seen_once_is_not_kept_and_another_list_is_not_reused(spec: Spec) -> None:
    memo = _fresh(spec)
    one = {"公开02": ["215", "21505", "2150550"]}
    two = {"公开02": ["215", "21508", "2150805"]}
    plan_workbook(memo, "430100001", "甲", 2024, one, key="k")
    assert not [k for k in memo.cache("fixed_sheets") if k[0] == "公开02" and k[2]]
    plan_workbook(memo, "430100002", "乙", 2024, one, key="k")
    assert [k for k in memo.cache("fixed_sheets") if k[0] == "公开02" and k[2]]
    got = plan_workbook(memo, "430100003", "丙", 2024, two, key="k")
    assert _shape(got) == _shape(plan_workbook(_fresh(spec), "430100003", "丙", 2024, two, key="k"))
