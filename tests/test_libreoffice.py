"""A real spreadsheet engine: LibreOffice headless recalculates our workbooks; its results must
equal ours. `.ci/run` installs LibreOffice (Debian libreoffice-calc-nogui)."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from generator.core.layout import DEFAULT_KEY
from generator.xlsx.libreoffice import convert, soffice
from generator.xlsx.reader import read_workbook

from .conftest import assert_recalculated

pytestmark = [pytest.mark.libreoffice,
              pytest.mark.skipif(soffice() is None, reason="LibreOffice not installed")]


def test_libreoffice_recalculates_every_formula_to_our_values(seed_build, seed_recalculated) -> None:  # type: ignore[no-untyped-def]
    plan = seed_build.plan
    ours, book = seed_recalculated
    compared = assert_recalculated(ours, book)
    assert compared > 500
    # the live check sheet agrees with the reader: same statuses rule by rule
    statuses = {inst.id: ours[("审核", plan.rule_rows[inst.id], 7)] for inst in plan.rule_instances}
    assert statuses["g06-class[301,30101,30199]"] == "尾数差异"
    assert statuses["g01-balance"] == "通过"


def test_opens_in_libreoffice_protected_with_only_input_cells_unlocked(seed_build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = convert(seed_build.path, tmp_path / "lo")
    wb = openpyxl.load_workbook(out)
    plan = seed_build.plan
    assert [ws.title for ws in wb.worksheets] == [s.name for s in plan.sheets]
    for sp in plan.sheets:
        ws = wb[sp.name]
        assert ws.protection.sheet, sp.name
        for (r, c), cell in sp.cells.items():
            locked = ws.cell(row=r + 1, column=c + 1).protection.locked
            assert locked == (cell.kind not in ("input", "code", "note", "cover", "explain", "field")
                              and cell.style != "spare_name"), (sp.name, r, c)


def test_filled_workbook_after_libreoffice_round_trip_reads_back_the_same(spec, seed, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                         filler) -> None:
    from generator.core.dataset import Dataset
    from generator.core.layout import section_codes
    from generator.core.spec import is_indicator_key
    from generator.xlsx.writer import build_workbook

    # a template with the unit's 科目 rows but no figures, then filled as a person would
    blank = Dataset(unit_code=seed.unit_code, unit_name=seed.unit_name, year=2024, names=seed.names,
                    values={t: {r: {c: Decimal(0) for c in cols} for r, cols in rows.items()
                                if len(r) == 7 or is_indicator_key(r)}  # 科目 rows; 附件 indicator rows
                            for t, rows in seed.values.items()
                            if t in section_codes(spec, seed.values) or spec.tables[t].kind == "form"})
    res = build_workbook(spec, blank, tmp_path / "template.xlsx")
    filled = filler(res.path, res.plan, seed.values, tmp_path / "filled.xlsx", seed.notes, seed.texts)
    direct = read_workbook(filled, spec=spec, key=DEFAULT_KEY)
    out = convert(filled, tmp_path / "lo")
    shutil.copy(out, tmp_path / "lo-saved.xlsx")
    after = read_workbook(tmp_path / "lo-saved.xlsx", spec=spec, key=DEFAULT_KEY)
    assert after.usable and after.exit_code == 0, [f.render() for f in after.findings if f.severity == "error"]
    assert after.values == direct.values
    assert {f.code for f in after.findings} <= {"structure-unlocked", "hidden-sheet-state", "rounding-difference",
                                                "indicator-reverse-proportional"}  # the seed's 附件 cost rows


def test_a_number_typed_as_text_in_libreoffice_is_one_finding_and_the_check_sheet_agrees(seed_build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A 项 amount of 公开05 typed as text in LibreOffice (its row total and the 审核 sheet refer to it
    directly): after LibreOffice recalculated, exactly one finding, number-as-text at that cell — no
    "not recalculated" finding — and every verdict of the workbook's own 审核 sheet equals the reader's."""
    from generator.core.layout import DEFAULT_KEY
    from generator.xlsx.ooxml import open_xlsx

    from . import lo_fill

    if not lo_fill.available():
        pytest.skip("LibreOffice's Python (python3-uno) not installed")
    out = tmp_path / "text.xlsx"
    lo_fill.fill_in_libreoffice([(seed_build.path, out, [("公开05表", "D10", "975.45")])])
    def problems(path: Path) -> list[tuple[str, str | None]]:
        return sorted((f.code, f.cell) for f in read_workbook(path, key=DEFAULT_KEY).findings if f.severity != "info")

    before = problems(seed_build.path)  # the seed's own 提示 (its indicators), as built
    res = read_workbook(out, key=DEFAULT_KEY)
    assert problems(out) == sorted([*before, ("number-as-text", "公开05表!D10")]), [f.render() for f in res.findings]
    assert not [f for f in res.findings if f.code == "stale-cached-value"]
    check = open_xlsx(out).sheet("审核")
    assert check is not None and res.plan is not None
    verdicts = {r.instance.id: r.status for r in res.results}
    for inst_id, row in res.plan.rule_rows.items():
        shown = check.cells.get((row, 7))
        assert shown is not None and shown.value == verdicts[inst_id], (inst_id, shown and shown.value, verdicts[inst_id])
