"""The rounding band at its edges, per operator: exactly at the band and one cent past it, for one
unit and for a 汇总 of three, judged the same by the rule engine, by the reader of a built workbook
and by LibreOffice recalculating the workbook's 审核 sheet.

The rules are added to a copy of the 2024 spec, each comparing two typed-in 公开06 figures
(``left OP right``, two figures: one unit's band is 0.005 × 2 = 0.01, three units' 0.03). Strict
comparisons need a cent of room: ``a < b`` is judged as ``a <= b − 0.01``.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from generator.core.calc import formula_values
from generator.core.catalog import load_spec
from generator.core.dataset import Dataset
from generator.core.model import Figures
from generator.core.rules import FAIL, PASS, SLIP, evaluate_rules, judge
from generator.core.spec import Spec
from generator.xlsx.libreoffice import convert, soffice
from generator.xlsx.ooxml import open_xlsx
from generator.xlsx.reader import read_workbook
from generator.xlsx.writer import build_workbook, prepare_inputs, write_plan

from .conftest import SPECS

D = Decimal
C = D("0.01")
BASE = D("10.00")


def cases(units: int) -> list[tuple[str, str, Decimal, str]]:
    """(name, operator, left − right, expected status) with the band of ``units`` units."""
    band = C * units
    return [
        ("eq-pass", "=", D(0), PASS),
        ("eq-band-up", "=", band, SLIP),
        ("eq-band-down", "=", -band, SLIP),
        ("eq-past-up", "=", band + C, FAIL),
        ("eq-past-down", "=", -band - C, FAIL),
        ("le-pass", "<=", -C, PASS),
        ("le-equal", "<=", D(0), PASS),
        ("le-band", "<=", band, SLIP),
        ("le-past", "<=", band + C, FAIL),
        ("ge-pass", ">=", C, PASS),
        ("ge-band", ">=", -band, SLIP),
        ("ge-past", ">=", -band - C, FAIL),
        ("lt-pass", "<", -C, PASS),
        ("lt-band", "<", band - C, SLIP),
        ("lt-past", "<", band, FAIL),
        ("gt-pass", ">", C, PASS),
        ("gt-band", ">", C - band, SLIP),
        ("gt-past", ">", -band, FAIL),
    ]


ROWS = ["30101", "30102", "30103", "30106", "30107", "30108", "30109", "30110", "30111", "30112", "30113", "30114",
        "30199", "30301", "30302", "30303", "30304", "30305", "30306", "30307", "30308", "30309", "30310", "30311",
        "30399", "30201", "30202", "30203", "30204", "30205", "30206", "30207", "30208", "30209", "30211", "30212"]


def pairs() -> dict[str, tuple[str, str]]:
    names = [n for n, *_ in cases(1)]
    assert len(ROWS) >= 2 * len(names)
    return {n: (ROWS[2 * i], ROWS[2 * i + 1]) for i, n in enumerate(names)}


@pytest.fixture(scope="module")
def band_spec(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    d = tmp_path_factory.mktemp("band") / "spec"
    shutil.copytree(SPECS, d)
    ops = {n: op for n, op, *_ in cases(1)}
    extra = "".join(
        f"  - id: band-{n}\n    severity: error\n"
        f'    expr: "公开06 row {a} col 决算数 {ops[n]} 公开06 row {b} col 决算数"\n'
        f"    message: 边界测试 {n}\n" for n, (a, b) in pairs().items())
    with (d / "rules.yaml").open("a", encoding="utf-8") as fh:
        fh.write(extra)
    return load_spec(d)


def dataset(units: int) -> Dataset:
    ds = Dataset(unit_code="430009999", unit_name="边界单位", year=2024)
    p = pairs()
    for name, _op, diff, _want in cases(units):
        a, b = p[name]
        ds.set("公开06", a, "决算数", BASE + diff)
        ds.set("公开06", b, "决算数", BASE)
    return ds


def expected(units: int) -> dict[str, str]:
    return {f"band-{n}": want for n, _op, _d, want in cases(units)}


@pytest.mark.parametrize("units", [1, 3])
def test_judge_at_the_band_and_one_cent_past(units: int) -> None:
    tol = D("0.005") * 2 * units
    for name, op, diff, want in cases(units):
        assert judge(op, BASE + diff, BASE, tol) == want, (name, op, diff)


@pytest.mark.parametrize("units", [1, 3])
def test_rule_engine_at_the_band_and_one_cent_past(band_spec: Spec, units: int) -> None:
    ds = dataset(units)
    results = evaluate_rules(band_spec, Figures(band_spec, ds.values), {}, None, units)
    got = {r.instance.id: r.status for r in results if r.instance.id.startswith("band-")}
    assert got == expected(units)
    assert {r.tolerance for r in results if r.instance.id.startswith("band-")} == {C * units}


@pytest.mark.parametrize("units", [1, 3])
def test_reader_reports_the_edges_with_the_right_code(band_spec: Spec, tmp_path: Path, units: int) -> None:
    built = build_workbook(band_spec, dataset(units), tmp_path / "band.xlsx", units=units)
    res = read_workbook(built.path, spec=band_spec)
    assert res.usable
    by_rule: dict[str, list[str]] = {}
    for f in res.findings:
        if f.rule and f.rule.startswith("band-"):
            by_rule.setdefault(f.rule, []).append(f.code)
    code = {PASS: [], SLIP: ["rounding-difference"], FAIL: ["rule-failed"]}
    for rid, want in expected(units).items():
        assert by_rule.get(rid, []) == code[want], (rid, want)
    # the built workbook's own 审核 sheet (cached results) says the same
    statuses = {r.instance.id: r.status for r in built.results if r.instance.id.startswith("band-")}
    assert statuses == expected(units)


@pytest.mark.slow
@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice not installed")
@pytest.mark.parametrize("units", [1, 3])
def test_libreoffice_audit_sheet_agrees_at_the_edges(band_spec: Spec, tmp_path: Path, units: int) -> None:
    ds = dataset(units)
    res = build_workbook(band_spec, ds, None, units=units)
    inputs, _ = prepare_inputs(band_spec, ds)
    data, _ = write_plan(res.plan, inputs, ds, cached=False)  # every cached result 0: LibreOffice computes
    src = tmp_path / "nocache.xlsx"
    src.write_bytes(data)
    audit = open_xlsx(convert(src, tmp_path / "lo")).sheet("审核")
    assert audit is not None
    ours, _ = formula_values(res.plan, Figures(band_spec, inputs), ds.notes, {}, {})
    for rid, want in expected(units).items():
        r = res.plan.rule_rows[rid]
        assert ours[("审核", r, 7)] == want, rid
        assert audit.cells[(r, 7)].value == want, (rid, audit.cells[(r, 7)].value, want)


@pytest.mark.parametrize("units", [1, 3])
def test_audit_sheet_formulas_per_operator(band_spec: Spec, units: int) -> None:
    """The text LibreOffice recalculates above (so a fast run without it still pins it): per operator,
    how far past the band the difference is, ROUND(…, 6) against float noise, then 通过/尾数差异/不通过;
    the tolerance cell holds one unit's band times the units summed."""
    res = build_workbook(band_spec, dataset(units), None, units=units)
    audit = res.plan.sheet("审核")
    bad = {"=": "ROUND(ABS({D}),6)", "<=": "ROUND({D},6)", ">=": "ROUND(-{D},6)", "<": "ROUND({D}+0.01,6)",
           ">": "ROUND(-{D}+0.01,6)"}
    for name, op, _diff, _want in cases(units):
        r = res.plan.rule_rows[f"band-{name}"]
        n = r + 1
        b = bad[op].format(D=f"F{n}")
        assert audit.cells[(r, 7)].formula == f'IF({b}<=0,"通过",IF({b}<=G{n},"尾数差异","不通过"))', name
        assert audit.cells[(r, 5)].formula == f"D{n}-E{n}"
        assert audit.cells[(r, 6)].text == format(D("0.010") * units, "f")
