from __future__ import annotations

import csv
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from generator.cli.main import cli
from generator.core.dataset import Dataset
from generator.core.layout import DEFAULT_KEY
from generator.core.model import is_formula_figure
from generator.xlsx.libreoffice import convert, soffice
from generator.xlsx.ooxml import open_xlsx
from generator.xlsx.reader import number_value, read_workbook
from generator.xlsx.writer import build_workbook, prepare_inputs, write_plan

from .conftest import SEED


def test_every_printed_total_equals_the_seed_within_rounding(spec, seed, seed_build) -> None:  # type: ignore[no-untyped-def]
    wb = openpyxl.load_workbook(seed_build.path, data_only=True)
    checked = 0
    for f, (sheet, r, c) in seed_build.plan.fig_cells.items():
        t = spec.tables[f.table]
        given = seed.get(f.table, f.row, f.col)
        if given is None or not is_formula_figure(t, f.row, f.col):
            continue
        cached = Decimal(repr(wb[sheet].cell(row=r + 1, column=c + 1).value))
        assert abs(cached - given) <= Decimal("0.01"), (f, cached, given)
        checked += 1
    assert checked > 60
    # the only slip the seed has on a formula cell is 人员经费合计 (its 301 + 303 = 925.86)
    codes = [(x.code, x.row) for x in seed_build.findings]
    assert codes == [("data-formula-rounding", "人员经费合计")]


def test_input_figures_are_written_exactly(spec, seed, seed_build) -> None:  # type: ignore[no-untyped-def]
    wb = openpyxl.load_workbook(seed_build.path)
    plan = seed_build.plan
    for f, (sheet, r, c) in plan.fig_cells.items():
        if plan.sheet(sheet).cells[(r, c)].kind != "input":
            continue
        v = wb[sheet].cell(row=r + 1, column=c + 1).value
        want = seed.get(f.table, f.row, f.col)
        if want is None:
            assert v is None
        else:
            assert Decimal(repr(v)) == want


def test_locked_sheets_structure_and_only_input_cells_unlocked(seed_build) -> None:  # type: ignore[no-untyped-def]
    plan = seed_build.plan
    wb = openpyxl.load_workbook(seed_build.path)
    with zipfile.ZipFile(seed_build.path) as zf:
        assert 'lockStructure="1"' in zf.read("xl/workbook.xml").decode()
    for sp in plan.sheets:
        ws = wb[sp.name]
        assert ws.protection.sheet, sp.name
        master = {(r, c): (r1, c1) for (r1, c1, r2, c2) in sp.merges
                  for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
        for row in ws.iter_rows():
            for cell in row:
                pos = (cell.row - 1, cell.column - 1)
                planned = sp.cells.get(master.get(pos, pos))
                # a spare row's name cell: a lookup formula a unit may type over (a 项 not in the code list)
                typed_over = planned is not None and planned.style == "spare_name"
                is_input = planned is not None and (planned.kind in ("input", "code", "note", "cover", "explain", "field") or typed_over)
                assert cell.protection.locked != is_input, (sp.name, cell.coordinate)
                if planned is not None and planned.kind == "formula" and not typed_over:
                    assert cell.protection.hidden, (sp.name, cell.coordinate)
    assert wb["_meta"].sheet_state == "veryHidden" and wb["代码表"].sheet_state == "hidden"
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    assert props["juesuan.unit_code"] == "430001001" and props["juesuan.version"] == "2024"


def test_input_guidance_validation_and_print_setup(seed_build) -> None:  # type: ignore[no-untyped-def]
    wb = openpyxl.load_workbook(seed_build.path)
    ws = wb["公开03表"]
    kinds = {dv.type for dv in ws.data_validations.dataValidation}
    assert kinds == {"decimal", "list"}
    lst = next(dv for dv in ws.data_validations.dataValidation if dv.type == "list")
    assert lst.formula1.startswith("'代码表'!") and len(lst.formula1) < 255
    dec = next(dv for dv in ws.data_validations.dataValidation if dv.type == "decimal")
    assert "万元" in dec.prompt and dec.error
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.freeze_panes == "A7" and ws.print_title_rows == "$1:$6"


def _forty_codes() -> tuple[Dataset, dict[str, Decimal]]:
    ds = Dataset(unit_code="9", unit_name="大单位", year=2024)
    sums: dict[str, Decimal] = {}
    for i in range(40):
        cls = ["201", "205", "208", "215"][i % 4]
        code = f"{cls}{i % 3 + 1:02d}{i:02d}"
        ds.names[code] = f"项目{i}"
        ds.names.setdefault(code[:5], f"款{code[:5]}")
        v = Decimal(i) + Decimal("0.37")
        ds.set("公开03", code, "2", v)
        for key in ("合计", cls, code[:5]):
            sums[key] = sums.get(key, Decimal(0)) + v
    return ds, sums


def test_a_unit_with_forty_codes_gets_right_subtotals(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """40 项 under 4 类: every 类/款 row and 合计 of the workbook is a formula whose cached result is the
    exact sum of its 项 (what Excel shows before recalculating), and the workbook reads back intact."""
    ds, sums = _forty_codes()
    res = build_workbook(spec, ds, tmp_path / "big.xlsx")
    assert len([c for c in res.plan.sections["公开03"] if len(c) == 7]) == 40
    wb = openpyxl.load_workbook(res.path)
    cached = openpyxl.load_workbook(res.path, data_only=True)
    checked = 0
    for f, (sheet, r, c) in res.plan.fig_cells.items():
        if f.table != "公开03" or f.col != "2" or f.row not in sums:
            continue
        formula = wb[sheet].cell(row=r + 1, column=c + 1).value
        assert isinstance(formula, str) and formula.startswith("=SUM("), (f.row, formula)
        shown = Decimal(repr(cached[sheet].cell(row=r + 1, column=c + 1).value))
        assert shown == sums[f.row], (f.row, shown, sums[f.row])
        checked += 1
    assert checked == len(sums) == 1 + 4 + len({k for k in sums if len(k) == 5})
    back = read_workbook(res.path, spec=spec, key=DEFAULT_KEY)
    # only 审核 rules fail (公开01/02 are empty here); the workbook itself is intact
    assert back.usable and not [x for x in back.findings if x.rule is None and x.severity != "info"]
    assert back.values["公开03"]["合计"]["2"] == sums["合计"]


@pytest.mark.slow
@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice not installed")
def test_forty_codes_recalculated_by_libreoffice(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ds, sums = _forty_codes()
    res = build_workbook(spec, ds, None)
    inputs, _ = prepare_inputs(spec, ds)
    data, _ = write_plan(res.plan, inputs, ds, cached=False)  # cached results 0: LibreOffice computes them
    src = tmp_path / "nocache.xlsx"
    src.write_bytes(data)
    book = open_xlsx(convert(src, tmp_path / "lo"))
    for f, (sheet, r, c) in res.plan.fig_cells.items():
        if f.table == "公开03" and f.col == "2" and f.row in sums:
            got = book.sheet(sheet).cells[(r, c)]  # type: ignore[union-attr]
            assert number_value(got.value or "0") == sums[f.row], (f.row, got.value)


def test_unknown_code_without_name_is_refused_with_a_clear_message(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ds = Dataset(unit_code="9", unit_name="单位", year=2024)
    ds.set("公开03", "2999999", "2", Decimal(1))
    try:
        build_workbook(spec, ds, tmp_path / "x.xlsx")
    except ValueError as exc:
        assert "2999999" in str(exc) and "名称" in str(exc)
    else:
        raise AssertionError("expected a LayoutError")


@pytest.mark.slow
def test_cli_build_one_unit_and_a_units_file_with_a_bad_row(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "seed.xlsx"
    res = runner.invoke(cli, ["build", "--data", str(SEED), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.exists()
    units = tmp_path / "units.csv"
    with units.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "parent"])
        w.writerow(["100", "主管部门", ""])
        w.writerow(["", "没有代码", "100"])
        w.writerow(["101", "下属单位", "100"])
    res = runner.invoke(cli, ["build", "--units", str(units), "-o", str(tmp_path / "units")])
    assert res.exit_code == 1
    assert "第 3 行" in res.output
    assert sorted(p.name for p in (tmp_path / "units").glob("*.xlsx")) == ["100-主管部门.xlsx", "101-下属单位.xlsx"]
