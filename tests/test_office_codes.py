"""Findings of the flows no other test reached: a data file with keys the template does not have,
units files that cannot be used, a workbook for a unit not on the list, a recheck that fails on one
submission, 科目 names that differ between units, and every branch of migrate — same version, a
version gap, zeros and notes and 差异说明 with no home, an old input landing on a new formula,
a build that cannot be made, and the read-back checks of migrate and consolidate."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

import generator.xlsx.writer as writer
from generator.core.catalog import load_spec
from generator.core.dataset import Dataset, load_dataset
from generator.core.findings import ERROR, INFO, WARNING
from generator.core.spec import Spec
from generator.office.collect import ERR, PASS, collect, load_tree, recheck, unit_report
from generator.office.consolidate import consolidate, write_outputs
from generator.office.migrate import Mapped, Unplaced, migrate_values, migrate_workbook
from generator.office.store import Store
from generator.office.units import read_units_csv
from generator.xlsx.writer import build_workbook, prepare_inputs

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "specs" / "samples"
SPECS_2025 = ROOT / "specs" / "2025"
D = Decimal


@pytest.fixture(scope="module")
def spec25() -> Spec:
    return load_spec(SPECS_2025)


def variant(tmp_path: Path, version: str, patches: dict[str, list[tuple[str, str]]]) -> Path:
    d = tmp_path / f"spec-{version}-variant"
    shutil.copytree(ROOT / "specs" / version, d)
    for name, reps in patches.items():
        p = d / name
        text = p.read_text(encoding="utf-8")
        for a, b in reps:
            assert a in text, f"{a!r} not in {name}"
            text = text.replace(a, b, 1)
        p.write_text(text, encoding="utf-8")
    return d


# ---------------------------------------------------------------- data files (build)


def test_data_file_keys_the_template_does_not_have(spec: Spec) -> None:
    ds = Dataset(unit_code="9", unit_name="单位", year=2024)
    ds.set("公开99", "1", "1", D(1))
    ds.set("公开01", "99", "1", D(1))
    ds.set("公开01", "1", "9", D(1))
    ds.set("公开01", "1", "1", D(5))
    ds.set("公开01", "27", "1", D("5.00"))  # a formula figure given right: nothing said
    ds.set("公开01", "30", "1", D("9.00"))  # a formula figure given wrong: the formula wins
    inputs, findings = prepare_inputs(spec, ds)
    got = {(f.code, f.table, f.row, f.col, f.severity) for f in findings}
    assert got == {("data-unknown-table", "公开99", None, None, ERROR), ("data-unknown-row", "公开01", "99", None, ERROR),
                   ("data-unknown-col", "公开01", "1", "9", ERROR),
                   ("data-formula-mismatch", "公开01", "30", "1", ERROR)}
    f = next(f for f in findings if f.code == "data-formula-mismatch")
    assert (f.expected, f.actual) == ("5.00", "9.00")
    assert inputs == {"公开01": {"1": {"1": D(5)}}}


def test_a_figure_for_a_row_that_takes_no_figure(spec25: Spec) -> None:
    ds = Dataset(unit_code="9", unit_name="单位", year=2025)
    ds.set("公开01", "空行1", "1", D("3.00"))
    ds.set("公开01", "空行2", "1", D(0))  # zero on a blank row is nothing to report
    inputs, findings = prepare_inputs(spec25, ds)
    assert [(f.code, f.row, f.actual) for f in findings] == [("data-no-cell", "空行1", "3.00")]
    assert inputs == {}


# ---------------------------------------------------------------- units files


def test_units_file_that_cannot_be_read_or_has_no_header(tmp_path: Path) -> None:
    rows, problems = read_units_csv(tmp_path / "missing.csv")
    assert rows == [] and [f.code for f in problems] == ["units-unreadable"]
    bad = tmp_path / "noheader.csv"
    bad.write_text("430100,局,\n430101,所,430100\n", encoding="utf-8")
    rows, problems = read_units_csv(bad)
    assert rows == [] and [(f.code, f.severity) for f in problems] == [("units-bad-header", ERROR)]


# ---------------------------------------------------------------- collection


def _build(spec: Spec, ds: Dataset, folder: Path, name: str, mtime: int) -> Path:
    path = folder / name
    build_workbook(spec, ds, path)
    os.utime(path, (mtime, mtime))
    return path


def test_workbook_of_a_unit_not_on_the_list(spec: Spec, tmp_path: Path) -> None:
    tree = load_tree(SAMPLES / "units.csv")
    returned = tmp_path / "r"
    returned.mkdir()
    ds = load_dataset(SAMPLES / "unit-430100002.json")
    ds.unit_code, ds.unit_name = "430199999", "名单外单位"
    _build(spec, ds, returned, "名单外.xlsx", 1_700_000_000)
    with Store(tmp_path / "db.sqlite") as store:
        collect(store, returned, tree, spec, workers=1, progress=False)
        rep = unit_report(store, tree)
        assert [s["path"] for s in rep.others] == ["名单外.xlsx"]
        f = next(f for f in store.findings(rep.others[0]["id"]) if f.code == "unit-unknown")
        assert f.severity == ERROR and "430199999" in f.message


def test_recheck_that_fails_on_one_submission_goes_on(spec: Spec, tmp_path: Path) -> None:
    tree = load_tree(SAMPLES / "units.csv")
    returned = tmp_path / "r"
    returned.mkdir()
    _build(spec, load_dataset(SAMPLES / "unit-430100000.json"), returned, "430100000.xlsx", 1_700_000_000)
    _build(spec, load_dataset(SAMPLES / "unit-430100002.json"), returned, "430100002.xlsx", 1_700_000_010)
    with Store(tmp_path / "db.sqlite") as store:
        collect(store, returned, tree, spec, workers=1, progress=False)
        sid = next(s["id"] for s in store.submissions() if s["unit_code"] == "430100002")
        from generator.office.store import pack_values  # the stored inputs, one figure damaged

        store.conn.execute("UPDATE inputs SET data=? WHERE submission_id=?",
                           (pack_values({"公开01": {"1": {"1": "九"}}}), sid))
        summary = recheck(store, tree, spec)
        assert (summary.submissions, summary.failed) == (2, 1)
        f = next(f for f in store.findings(sid) if f.code == "recheck-failed")
        assert f.severity == ERROR and "Error" not in f.message  # Chinese only; the exception kept apart
        assert f.extra["exception"].startswith(("InvalidOperation", "DataError", "ValueError"))
        st = {r.code: r.status for r in unit_report(store, tree).rows}
        assert (st["430100000"], st["430100002"]) == (PASS, ERR)


def test_names_that_differ_between_units_are_noted_in_the_consolidation(spec: Spec, tmp_path: Path) -> None:
    tree = load_tree(SAMPLES / "units.csv")
    returned = tmp_path / "r"
    returned.mkdir()
    code = "2089999"  # a 项 no code list has: each unit names it
    for i, (unit, name) in enumerate((("430100000", "其他社会保障支出甲"), ("430100002", "其他社会保障支出乙"))):
        ds = load_dataset(SAMPLES / f"unit-{unit}.json")
        ds.names[code] = name
        ds.names.setdefault("20899", "其他社会保障和就业支出")
        for t in ("公开02", "公开03"):
            ds.set(t, code, "1" if t == "公开02" else "2", D(0))
        _build(spec, ds, returned, f"{unit}.xlsx", 1_700_000_000 + i)
    with Store(tmp_path / "db.sqlite") as store:
        collect(store, returned, tree, spec, workers=1, progress=False)
        cons = consolidate(store, tree, spec, "430100")
        f = next(f for f in cons.findings if f.code == "consolidate-name-conflict")
        assert (f.severity, f.row) == (INFO, code)
        # both names are shown; the workbook takes the first one met (the message's first)
        kept, other = f.message.split("（", 1)[1].split("）", 1)[0].split(" / ")
        assert {kept, other} == {"其他社会保障支出甲", "其他社会保障支出乙"}
        assert cons.dataset.names[code] == kept
        missing = {f.extra["unit"] for f in cons.findings if f.code == "consolidate-unit-missing"}
        assert missing == {"430100001", "430100003", "430100031"}


@pytest.mark.slow
def test_consolidation_read_back_catches_a_wrong_workbook(spec: Spec, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """If the written 汇总 workbook does not hold the summed figures (here: a writer that rounds one
    amount wrongly), the read-back says so."""
    tree = load_tree(SAMPLES / "units.csv")
    returned = tmp_path / "r"
    returned.mkdir()
    _build(spec, load_dataset(SAMPLES / "unit-430100000.json"), returned, "430100000.xlsx", 1_700_000_000)
    with Store(tmp_path / "db.sqlite") as store:
        collect(store, returned, tree, spec, workers=1, progress=False)
        cons = consolidate(store, tree, spec, "430100")
        ok = write_outputs(store, cons, tmp_path / "ok.xlsx")
        assert not [f for f in ok.readback if f.code == "consolidate-readback-mismatch"]
        real = writer._num
        target = cons.dataset.values["公开01"]["1"]["1"]
        monkeypatch.setattr(writer, "_num", lambda v: real(v) + 1 if v == target else real(v))
        bad = write_outputs(store, cons, tmp_path / "bad.xlsx")
        f = next(f for f in bad.readback if f.code == "consolidate-readback-mismatch")
        assert f.severity == ERROR and f.file == str(tmp_path / "bad.xlsx")


# ---------------------------------------------------------------- migrate


def test_migrate_to_the_same_version_is_said(spec: Spec, seed_xlsx: Path, tmp_path: Path) -> None:
    res = migrate_workbook(seed_xlsx, spec, tmp_path / "again.xlsx")
    assert [(f.code, f.severity) for f in res.findings if f.code.startswith("migrate-")] == [("migrate-same-version", INFO)]
    assert res.exit_code == 0 and res.written and res.unplaced == []


@pytest.mark.slow
def test_migrate_across_a_version_gap_warns(seed_xlsx: Path, tmp_path: Path) -> None:
    d = variant(tmp_path, "2025", {"spec.yaml": [('previous: "2024"', 'previous: "2023"')],
                                   "mapping.yaml": [('previous: "2024"', 'previous: "2023"')]})
    res = migrate_workbook(seed_xlsx, load_spec(d), tmp_path / "gap.xlsx")
    f = next(f for f in res.findings if f.code == "migrate-version-gap")
    assert (f.severity, f.expected, f.actual) == (WARNING, "2023", "2024")


@pytest.mark.slow
def test_zero_with_no_home_is_information_not_loss(seed_build, seed_xlsx: Path, filler, spec25: Spec,  # type: ignore[no-untyped-def]
                                                  tmp_path: Path) -> None:
    filled = filler(seed_xlsx, seed_build.plan, {"公开01": {"55": {"2": D(0)}}}, out=tmp_path / "zero.xlsx")
    res = migrate_workbook(filled, spec25, tmp_path / "zero-2025.xlsx")
    f = next(f for f in res.findings if f.code == "migrate-unplaced-zero" and f.row == "55")
    assert (f.severity, f.table, f.row, f.col, f.actual) == (INFO, "公开01", "55", "2", "0.00")
    assert res.lost == [] and res.written and res.exit_code == 0


@pytest.mark.slow
def test_note_and_explanation_with_no_home_are_warnings(seed_build, seed_xlsx: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the new version no longer asks 公开07 for an 空表说明 (the seed has one), and has no rule g09-car-vs-g06
    d = variant(tmp_path, "2025", {"gongkai07.yaml": [("statement: true", "statement: false")],
                                   "rules.yaml": [("id: g09-car-vs-g06\n", "id: g09-car-vs-g06-new\n"),
                                                  ('"公开09 row 1 col 11 >= 公开06 row 30231', '"公开09 row 1 col 10 >= 公开06 row 30231')]})
    plan = seed_build.plan
    wb = openpyxl.load_workbook(seed_xlsx)
    wb["审核"].cell(row=plan.rule_rows["g09-car-vs-g06"] + 1, column=9).value = "车辆运维费含保险"
    wb.save(seed_xlsx)
    res = migrate_workbook(seed_xlsx, load_spec(d), tmp_path / "out.xlsx")
    note = next(f for f in res.findings if f.code == "migrate-note-dropped")
    assert (note.severity, note.table) == (WARNING, "公开07") and "没有政府性基金收入" in note.message
    ex = next(f for f in res.findings if f.code == "migrate-explanation-dropped")
    assert (ex.severity, ex.rule) == (WARNING, "g09-car-vs-g06") and "车辆运维费含保险" in ex.message


RESERVE = '{key: 使用非财政拨款结余, label: 使用非财政拨款结余（含专用结余）, renamed_from: ["28"]}'


@pytest.mark.parametrize(("used", "carried", "placed"), [("5.00", "5.00", True), ("5.01", "5.00", False)])
def test_old_input_landing_on_a_new_formula(spec: Spec, tmp_path: Path, used: str, carried: str, placed: bool) -> None:
    """In this variant 使用非财政拨款结余 is a formula (= 年初结转和结余): the old typed figure is placed
    only when the new formula gives the same amount, else it is unplaced with the recomputed figure."""
    d = variant(tmp_path, "2025", {"gongkai01.yaml": [(RESERVE, RESERVE.replace("renamed_from", 'formula: "row 年初结转和结余", renamed_from'))]})
    new_spec = load_spec(d)
    values = {"公开01": {"28": {"1": D(used)}, "29": {"1": D(carried)}}}
    new, unplaced, mapped = migrate_values(spec, new_spec, values)
    assert new == {"公开01": {"年初结转和结余": {"1": D(carried)}}}  # a formula figure is never an input
    on_formula = Mapped("公开01", "28", "1", "公开01", "使用非财政拨款结余", "1", D(used))
    if placed:
        assert unplaced == [] and on_formula in mapped
    else:
        assert unplaced == [Unplaced("公开01", "28", "1", D(used))] and on_formula not in mapped


@pytest.mark.slow
def test_migrate_build_failure_is_a_finding(seed_xlsx: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # the new version's code list lacks a 项 the unit reports: the workbook's own 代码表 names it, so
    # the migration carries that name (tests/test_migrate_codes.py); a workbook that still cannot be
    # built is one finding, never a traceback
    d = variant(tmp_path, "2025", {"codes/functional.yaml": [('  "2150550": ', '  "2150551": ')]})
    ok = migrate_workbook(seed_xlsx, load_spec(d), tmp_path / "named.xlsx")
    assert ok.usable and (tmp_path / "named.xlsx").exists()
    monkeypatch.setattr(writer, "build_workbook", lambda *a, **k: (_ for _ in ()).throw(ValueError("代码表 缺少 2150550")))
    res = migrate_workbook(seed_xlsx, load_spec(d), tmp_path / "x.xlsx")
    assert not res.usable and res.exit_code == 2 and not (tmp_path / "x.xlsx").exists()
    f = next(f for f in res.findings if f.code == "migrate-build-failed")
    assert f.severity == ERROR and "2150550" in f.message and "导入" in f.message


def test_migrate_read_back_catches_a_wrong_workbook(seed_xlsx: Path, spec25: Spec, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = writer._num
    monkeypatch.setattr(writer, "_num", lambda v: real(v) + 1 if v == D("975.45") else real(v))
    res = migrate_workbook(seed_xlsx, spec25, tmp_path / "x.xlsx")
    bad = [f for f in res.findings if f.code == "migrate-value-mismatch"]
    assert bad and all(f.severity == ERROR and f.expected == "975.45" and f.actual == "976.45" for f in bad)
    assert res.exit_code == 1


@pytest.mark.slow
def test_a_published_pdf_without_its_third_part_is_a_warning(tmp_path: Path) -> None:
    """check-published on a PDF that has the tables but no 第三部分 (情况说明): the numbers of the text
    cannot be checked, said as a warning; the tables are still checked (and match)."""
    import re

    from generator.publish.html import render_html
    from generator.publish.pdf import render_pdf
    from generator.publish.report import build_report
    from generator.publish.source import load_source
    from generator.publish.verify import check_published_pdf

    src = load_source(str(SAMPLES / "seed-2024.json"))
    report = build_report(src)
    html, n = re.subn(r'<section class="part narrative" id="part3">.*?</section>', "", render_html(report), flags=re.S)
    assert n == 1
    html = html.replace("第三部分", "")  # nor in the table of contents
    pdf = tmp_path / "no-text.pdf"
    pdf.write_bytes(render_pdf(report, html))
    found = check_published_pdf(pdf, src)
    assert [(f.code, f.severity) for f in found] == [("published-text-missing", WARNING)]
    assert found[0].file == str(pdf)
