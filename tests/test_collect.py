"""Collect and consolidate a unit tree: built, filled, returned, collected, summed, read back.

The tree is the bundled sample (specs/samples/units.csv): a department 430100 with no report of
its own, its 本级 430100000, three subordinate units (430100001 is the seed report), and one
grandchild 430100031 under 430100003.
"""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from generator.core.dataset import Dataset, Values, load_dataset
from generator.core.findings import ERROR, INFO
from generator.core.model import Figures, is_formula_figure
from generator.core.spec import Spec
from generator.office.collect import (
    AGGREGATE,
    ATTACH,
    DUP,
    ERR,
    MISSING,
    PASS,
    TEMPLATE,
    UNREADABLE,
    WRONG_UNIT,
    UnitTree,
    collect,
    load_tree,
    unit_report,
)
from generator.office.consolidate import consolidate, explain, write_outputs
from generator.office.store import Store
from generator.xlsx.reader import read_workbook
from generator.xlsx.writer import build_workbook

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "specs" / "samples"
D = Decimal


@pytest.fixture(scope="module")
def tree() -> UnitTree:
    return load_tree(SAMPLES / "units.csv")


def unit_data(code: str) -> Dataset:
    return load_dataset(SAMPLES / f"unit-{code}.json")


def build(spec: Spec, ds: Dataset, folder: Path, name: str | None = None, mtime: int = 1_700_000_000,
          password: str | None = None) -> Path:
    path = folder / (name or f"{ds.unit_code}-{ds.unit_name}.xlsx")
    build_workbook(spec, ds, path, password=password)
    os.utime(path, (mtime, mtime))
    return path


def add(acc: Values, values: Values) -> None:
    for t, rows in values.items():
        for r, cols in rows.items():
            for c, v in cols.items():
                cell = acc.setdefault(t, {}).setdefault(r, {})
                cell[c] = cell.get(c, D(0)) + v


def get(values: Values, t: str, r: str, c: str) -> Decimal:
    return values.get(t, {}).get(r, {}).get(c, D(0))


def inputs(spec: Spec, ds: Dataset) -> set[tuple[str, str, str]]:
    """Keys of the figures a unit types in (formula figures are the workbook's)."""
    return {(t, r, c) for t, r, c in keys(ds.values) if not is_formula_figure(spec.tables[t], r, c)}


def keys(*vs: Values) -> set[tuple[str, str, str]]:
    return {(t, r, c) for v in vs for t, rows in v.items() for r, cols in rows.items() for c in cols}


def statuses(store: Store, tree: UnitTree) -> dict[str, str]:
    return {r.code: r.status for r in unit_report(store, tree).rows}


@pytest.mark.slow
def test_tree_is_collected_and_consolidated_exactly(spec: Spec, tree: UnitTree, filler, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    returned = tmp_path / "returned"
    returned.mkdir()
    data = {code: unit_data(code) for code in ("430100000", "430100001", "430100002", "430100003", "430100031")}
    for code, ds in data.items():
        if code == "430100002":  # this one is typed in by hand into its template, like a unit would
            blank = Dataset(ds.unit_code, ds.unit_name, ds.year, {t: {r: {c: D(0) for c in cols} for r, cols in rows.items()}
                                                                  for t, rows in ds.values.items()}, ds.names, ds.notes)
            res = build_workbook(spec, blank, tmp_path / "template-002.xlsx")
            filler(res.path, res.plan, ds.values, out=returned / "430100002-工业信息研究所-填好.xlsx", notes=ds.notes)
        else:
            build(spec, ds, returned)
    db = tmp_path / "juesuan.sqlite"
    with Store(db) as store:
        summary = collect(store, returned, tree, spec, workers=2, progress=False)
        assert (summary.files, summary.read, summary.duplicates) == (5, 5, 0)
        assert statuses(store, tree) == {"430100": AGGREGATE, "430100000": PASS, "430100001": PASS,
                                         "430100002": PASS, "430100003": PASS, "430100031": PASS}
        # every typed-in figure of every unit is in the database, exactly
        for code, ds in data.items():
            sid = next(r.current for r in unit_report(store, tree).rows if r.code == code)["id"]  # type: ignore[index]
            stored = store.values(sid, inputs_only=True)
            assert inputs(spec, ds)
            for t, r, c in inputs(spec, ds):
                assert get(stored, t, r, c) == get(ds.values, t, r, c), (code, t, r, c)

        cons = consolidate(store, tree, spec, "430100")
        assert [m.unit for m in cons.included] == ["430100000", "430100001", "430100002", "430100003", "430100031"]
        assert cons.excluded == []
        # every figure of the consolidation, typed-in and derived, is the exact sum of the units' figures
        unit_values = [Figures(spec, ds.values).all_values() for ds in data.values()]
        for t, r, c in keys(cons.values, *unit_values):
            assert get(cons.values, t, r, c) == sum((get(v, t, r, c) for v in unit_values), D(0)), (t, r, c)
        assert get(cons.values, "公开01", "30", "1") == sum((get(v, "公开01", "30", "1") for v in unit_values), D(0)) > 0
        # 科目 rows are the union of the units' rows
        for t in ("公开02", "公开03", "公开05"):
            assert set(cons.values[t]) >= {r for ds in data.values() for r in ds.values.get(t, {})}
        # the intermediate level 430100003 = itself + 430100031, checked on the way up
        lv = next(lv for lv in cons.levels if lv.code == "430100003")
        assert lv.units == ["430100003", "430100031"]
        assert not [f for f in lv.findings if f.severity != INFO]
        assert lv.totals["收支总计"] == (Figures(spec, data["430100003"].values).value("公开01", "30", "1")
                                        + Figures(spec, data["430100031"].values).value("公开01", "30", "1"))
        # the figures a level shows are the spec's named ones (figures.yaml), by their names
        assert list(lv.totals) == ["收支总计", "财政拨款收支总计", "一般公共预算财政拨款支出", "一般公共预算财政拨款基本支出",
                                   "“三公”经费决算数"]

        out = tmp_path / "430100-汇总.xlsx"
        outs = write_outputs(store, cons, out, tmp_path / "430100-汇总.json", tmp_path / "430100-汇总.html")
        assert outs.readback == []
        ex = explain(store, tree, spec, "430100", "公开05", "2150550", "1")
        assert ex.value == ex.total == get(cons.values, "公开05", "2150550", "1") > 0
        assert {c.unit: c.value for c in ex.contributions if c.value}.keys() <= set(data)
    # the consolidated workbook: same template, the parent's identity, reads back clean
    back = read_workbook(out, spec=spec)
    assert back.exit_code == 0, [f.render() for f in back.findings if f.severity != INFO]
    assert back.dataset is not None and (back.dataset.unit_code, back.dataset.unit_name) == ("430100", "长沙市示范工业和信息化局")
    assert back.values == cons.values
    assert back.template["version"] == spec.version
    # the data file is the canonical format, every figure
    doc = load_dataset(tmp_path / "430100-汇总.json")
    assert doc.unit_code == "430100" and keys(doc.values) == keys(cons.values)
    assert all(get(doc.values, *k) == get(cons.values, *k) for k in keys(cons.values))
    html = (tmp_path / "430100-汇总.html").read_text(encoding="utf-8")
    assert "430100031" in html and "纳入" in html


def test_resubmission_duplicate_wrong_unit_and_missing(spec: Spec, tree: UnitTree, tmp_path: Path) -> None:
    returned = tmp_path / "returned"
    returned.mkdir()
    t0 = 1_700_000_000
    build(spec, unit_data("430100000"), returned, mtime=t0)
    bad = unit_data("430100001")
    bad.set("公开01", "1", "1", (bad.get("公开01", "1", "1") or D(0)) + D("100.00"))  # income no longer balances
    build(spec, bad, returned, "430100001-企业服务中心-初报.xlsx", mtime=t0 + 10)
    build(spec, unit_data("430100002"), returned, mtime=t0 + 20)
    db = tmp_path / "juesuan.sqlite"
    with Store(db) as store:
        collect(store, returned, tree, spec, workers=1, progress=False)
        st = statuses(store, tree)
        assert (st["430100001"], st["430100003"], st["430100031"]) == (ERR, MISSING, MISSING)
        # a unit with errors is left out of the consolidation unless asked for, and the report says so
        cons = consolidate(store, tree, spec, "430100")
        assert [m.unit for m in cons.included] == ["430100000", "430100002"]
        reasons = {m.unit: m.reason for m in cons.excluded}
        assert reasons["430100003"] == MISSING and "有错误" in reasons["430100001"]
        excluded = [f for f in cons.findings if f.code == "consolidate-unit-excluded"]
        assert {f.extra["unit"] for f in excluded} == {"430100001"} and not any(f.row for f in excluded)
        assert all(f.location() == "" and f.message.startswith("单位 430100001 ") for f in excluded)
        assert [m.unit for m in consolidate(store, tree, spec, "430100", include_errors=True).included] == [
            "430100000", "430100001", "430100002"]

    # round 2: the corrected report comes late; a copy of 000's file under another name; 002's
    # workbook sent under 003's name
    build(spec, unit_data("430100001"), returned, "430100001-企业服务中心-更正.xlsx", mtime=t0 + 100)
    shutil.copy(returned / "430100000-长沙市示范工业和信息化局（本级）.xlsx", returned / "430100000-再次报送.xlsx")
    os.utime(returned / "430100000-再次报送.xlsx", (t0 + 110, t0 + 110))
    build(spec, unit_data("430100002"), returned, "430100003-中小企业发展服务站.xlsx", mtime=t0 + 120, password="x")
    with Store(db) as store:
        summary = collect(store, returned, tree, spec, workers=2, progress=False)
        assert (summary.files, summary.read, summary.duplicates, summary.unchanged) == (6, 2, 1, 3)
        rows = {r.code: r for r in unit_report(store, tree).rows}
        # the late resubmission is current; the earlier one is kept as history
        r1 = rows["430100001"]
        assert r1.status == PASS and [s["status"] for s in r1.history] == [ERR, PASS]
        assert r1.current is not None and r1.current["path"] == "430100001-企业服务中心-更正.xlsx"
        assert store.findings(r1.history[0]["id"])  # the first report's findings are still there
        # the same content twice is recognised by its hash: 未变, listed beside; the first stays current
        # and gives the unit its status
        r0 = rows["430100000"]
        assert r0.status == PASS and r0.current is not None and r0.current["path"].endswith("（本级）.xlsx")
        assert [s["status"] for s in r0.beside] == [DUP]
        dup = r0.beside[0]
        assert dup["duplicate_of"] == r0.current["id"]
        assert [f.code for f in store.findings(dup["id"])] == ["submission-duplicate"]
        # a workbook of 002 named for 003: 单位不符 for 003, not taken as anybody's report
        r3 = rows["430100003"]
        assert r3.status == WRONG_UNIT and r3.current is None
        wrong = [f for f in store.findings(r3.history[0]["id"]) if f.code == "wrong-unit"]
        assert wrong and wrong[0].severity == ERROR and (wrong[0].expected, wrong[0].actual) == ("430100003", "430100002")
        assert rows["430100002"].current is not None and len(rows["430100002"].history) == 1
        assert rows["430100031"].status == MISSING
        cons = consolidate(store, tree, spec, "430100")
        assert [m.unit for m in cons.included] == ["430100000", "430100001", "430100002"]
        assert {m.unit for m in cons.excluded} == {"430100003", "430100031"}
        # collecting the same folder again changes nothing
        again = collect(store, returned, tree, spec, workers=1, progress=False)
        assert (again.read, again.duplicates, again.unchanged) == (0, 0, 6)
        assert {r.code: r.status for r in unit_report(store, tree).rows} == {c: r.status for c, r in rows.items()}


def test_mixed_folder_stores_every_good_submission(spec: Spec, tree: UnitTree, tmp_path: Path) -> None:
    returned = tmp_path / "returned"
    (returned / "sub").mkdir(parents=True)
    good = [build(spec, unit_data(c), returned) for c in ("430100000", "430100002")]
    good.append(build(spec, unit_data("430100031"), returned / "sub"))
    (returned / "430100003-中小企业发展服务站.xlsx").write_bytes(b"not a workbook at all")
    (returned / "说明.pdf").write_bytes(b"%PDF-1.7\n")
    (returned / "units.csv").write_text("code,name\n", encoding="utf-8")
    data = good[0].read_bytes()
    (returned / "截断.xlsx").write_bytes(data[: len(data) // 3])
    (returned / "~$430100000-锁定文件.xlsx").write_bytes(b"lock")  # Office lock files are ignored, and listed
    with Store(tmp_path / "db.sqlite") as store:
        summary = collect(store, returned, tree, spec, workers=2, progress=False)
        assert summary.files == 7 and summary.read == 7 and summary.ignored == ["~$430100000-锁定文件.xlsx"]
        rep = unit_report(store, tree)
        st = {r.code: r.status for r in rep.rows}
        assert (st["430100000"], st["430100002"], st["430100031"]) == (PASS, PASS, PASS)
        assert st["430100003"] == UNREADABLE  # the file named for it could not be read
        assert st["430100001"] == MISSING
        assert sorted(s["path"] for s in rep.others) == ["units.csv", "截断.xlsx", "说明.pdf"]
        assert {s["path"]: s["status"] for s in rep.others} == {"units.csv": UNREADABLE, "截断.xlsx": UNREADABLE,
                                                               "说明.pdf": ATTACH}
        codes = {s["path"]: [f.code for f in store.findings(s["id"])] for s in rep.others}
        assert codes["截断.xlsx"] == ["file-corrupt-zip"] and codes["说明.pdf"] == ["file-not-xlsx"]
        # every good submission is stored with all its figures
        for p in good:
            sub = next(s for s in store.submissions() if s["path"].endswith(p.name))
            ds = load_dataset(SAMPLES / f"unit-{sub['unit_code']}.json")
            stored = store.values(sub["id"], inputs_only=True)
            assert all(get(stored, *k) == get(ds.values, *k) for k in inputs(spec, ds))


def test_workbook_of_another_template_version(spec: Spec, tree: UnitTree, tmp_path: Path) -> None:
    from generator.core.catalog import load_spec

    spec25 = load_spec(ROOT / "specs" / "2025")
    returned = tmp_path / "returned"
    returned.mkdir()
    blank = Dataset("430100002", "长沙市工业信息研究所", 2025)
    build(spec25, blank, returned, "430100002-新模板.xlsx")
    with Store(tmp_path / "db.sqlite") as store:
        collect(store, returned, tree, spec, workers=1, progress=False)
        row = next(r for r in unit_report(store, tree).rows if r.code == "430100002")
        assert row.status == TEMPLATE and row.current is None
        sub = row.history[0]
        assert (sub["unit_code"], sub["template_version"]) == ("430100002", "2025")
        f = next(f for f in store.findings(sub["id"]) if f.code == "template-version-mismatch")
        assert f.severity == ERROR and f.expected is not None and f.expected.startswith("2024/")


def test_a_worker_that_dies_costs_one_file_not_the_batch(spec: Spec, tree: UnitTree, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that kills its reader process (a parser crash, out of memory) becomes a finding; the
    other files in flight with it are read again in fresh workers."""
    import multiprocessing

    import generator.office.collect as collect_mod

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the patched reader reaches the workers only when they are forked")
    real = collect_mod.read_one

    def fragile(path: str, *args, **kw):  # type: ignore[no-untyped-def]
        if "crash" in path:
            os._exit(3)
        return real(path, *args, **kw)

    monkeypatch.setattr(collect_mod, "read_one", fragile)  # inherited by the forked workers
    returned = tmp_path / "returned"
    returned.mkdir()
    for code in ("430100000", "430100002", "430100003", "430100031"):
        build(spec, unit_data(code), returned)
    (returned / "430100001-crash.xlsx").write_bytes(b"whatever")
    with Store(tmp_path / "db.sqlite") as store:
        summary = collect(store, returned, tree, spec, workers=2, progress=False)
        assert summary.read == 5
        st = statuses(store, tree)
        assert [st[c] for c in ("430100000", "430100002", "430100003", "430100031")] == [PASS] * 4
        assert st["430100001"] == UNREADABLE
        sub = next(s for s in store.submissions() if "crash" in s["path"])
        assert [f.code for f in store.findings(sub["id"])] == ["file-read-crashed"]


@pytest.mark.libreoffice
@pytest.mark.slow
def test_rounding_band_of_a_consolidation_widens_with_the_units_summed(spec: Spec, tmp_path: Path) -> None:
    """Five copies of the seed (each 0.01 off in 公开05 合计 vs 公开06, within one unit's ±0.015)
    sum to 0.05 off: a 尾数差异 for a 汇总 of five (±0.075), not an error; the workbook records the
    five, LibreOffice's 审核 sheet agrees, and the count cannot be changed without the fingerprint."""
    from generator.core.calc import formula_values
    from generator.xlsx.libreoffice import convert, soffice
    from generator.xlsx.ooxml import open_xlsx
    from generator.xlsx.writer import prepare_inputs, write_plan

    tree = UnitTree.from_rows([("4309", "某部门", "", "汇总")] + [(f"43090{i}", f"单位{i}", "4309", "") for i in range(5)])
    returned = tmp_path / "returned"
    returned.mkdir()
    for i in range(5):
        ds = unit_data("430100001")
        ds.unit_code, ds.unit_name = f"43090{i}", f"单位{i}"
        build(spec, ds, returned)
    with Store(tmp_path / "db.sqlite") as store:
        collect(store, returned, tree, spec, workers=1, progress=False)
        cons = consolidate(store, tree, spec, "4309")
        slip = [f for f in cons.levels[0].findings if f.rule == "g05-g06-basic"]
        assert [(f.severity, f.expected, f.actual) for f in slip] == [(INFO, "4,877.30", "4,877.25")]
        assert "±0.075" in slip[0].message
        assert not [f for f in cons.all_findings() if f.severity == ERROR]
        out = tmp_path / "4309.xlsx"
        assert write_outputs(store, cons, out).readback == []
    back = read_workbook(out, spec=spec)
    assert back.exit_code == 0 and [f.rule for f in back.findings if f.code == "rounding-difference"].count(
        "g05-g06-basic") == 1
    # one unit's band would call it an error: the count is what widens it, and it is fingerprinted
    tampered = tmp_path / "tampered.xlsx"
    import openpyxl

    wb = openpyxl.load_workbook(out)
    meta = wb["_meta"]
    row = next(r for r in range(1, 20) if meta.cell(r, 1).value == "units")
    assert meta.cell(row, 2).value == "5"
    meta.cell(row, 2).value = "50"
    wb.save(tampered)
    assert "fingerprint-mismatch" in {f.code for f in read_workbook(tampered, spec=spec).findings}
    if soffice() is None:
        pytest.skip("LibreOffice not installed")
    res = build_workbook(spec, cons.dataset, None, units=5)
    inputs, _ = prepare_inputs(spec, cons.dataset)
    data, _ = write_plan(res.plan, inputs, cons.dataset, cached=False)
    src = tmp_path / "nocache.xlsx"
    src.write_bytes(data)
    book = open_xlsx(convert(src, tmp_path / "lo"))
    ours, _ = formula_values(res.plan, Figures(spec, inputs), cons.dataset.notes, {}, {})
    r = res.plan.rule_rows["g05-g06-basic"]
    assert ours[("审核", r, 7)] == "尾数差异"
    assert book.sheet("审核").cells[(r, 7)].value == "尾数差异"  # type: ignore[union-attr]
