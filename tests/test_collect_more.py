"""Collection cases no other test pinned down: files of one run taken in order of receipt (not of
path), a unit whose current report has errors while every unit has reported, and `explain` summing
a level's own figure (its 本级 report) with its subordinates'."""

from __future__ import annotations

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli.main import cli
from generator.core.dataset import Dataset, load_dataset
from generator.core.model import Figures
from generator.core.spec import Spec
from generator.office.collect import ERR, PASS, collect, load_tree, unit_report
from generator.office.consolidate import consolidate, explain, write_outputs
from generator.office.store import Store
from generator.xlsx.writer import build_workbook

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "specs" / "samples"
UNITS = ["430100000", "430100001", "430100002", "430100003", "430100031"]
D = Decimal


def unit(code: str) -> Dataset:
    return load_dataset(SAMPLES / f"unit-{code}.json")


def put(spec: Spec, ds: Dataset, path: Path, mtime: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    build_workbook(spec, ds, path)
    os.utime(path, (mtime, mtime))
    return path


def test_files_of_one_run_are_taken_in_order_of_receipt_not_of_name(spec: Spec, tmp_path: Path) -> None:
    """Two reports of one unit in one folder: the one received later is current, although its name
    sorts first; the earlier one is history."""
    tree = load_tree(SAMPLES / "units.csv")
    returned = tmp_path / "r"
    first = unit("430100002")
    first.set("公开01", "8", "1", (first.get("公开01", "8", "1") or D(0)) + D("1.00"))  # 其他收入 +1: unbalanced
    put(spec, first, returned / "430100002-b-初报.xlsx", 1_700_000_000)
    put(spec, unit("430100002"), returned / "430100002-a-更正.xlsx", 1_700_000_500)
    with Store(tmp_path / "db.sqlite") as store:
        collect(store, returned, tree, spec, workers=1, progress=False)
        row = next(r for r in unit_report(store, tree).rows if r.code == "430100002")
        assert [s["path"] for s in row.history] == ["430100002-b-初报.xlsx", "430100002-a-更正.xlsx"]
        assert [s["status"] for s in row.history] == [ERR, PASS]
        assert [s["seq"] for s in row.history] == sorted(s["seq"] for s in row.history)
        assert row.current is not None and row.current["path"] == "430100002-a-更正.xlsx"
        assert row.status == PASS


@pytest.mark.slow
def test_a_unit_whose_current_report_has_errors_fails_the_collect(spec: Spec, tmp_path: Path) -> None:
    """Every unit has reported; one report has an error: exit 1 (and 0 once it is corrected)."""
    units_csv = tmp_path / "units.csv"
    units_csv.write_text((SAMPLES / "units.csv").read_text(encoding="utf-8"), encoding="utf-8")
    returned = tmp_path / "r"
    for i, code in enumerate(UNITS):
        ds = unit(code)
        if code == "430100031":
            ds.set("公开01", "8", "1", (ds.get("公开01", "8", "1") or D(0)) + D("1.00"))
        put(spec, ds, returned / f"{code}.xlsx", 1_700_000_000 + i)
    db = tmp_path / "j.sqlite"
    r = CliRunner().invoke(cli, ["collect", str(returned), "--units", str(units_csv), "--db", str(db),
                                 "--json", str(tmp_path / "status.json")])
    assert r.exit_code == 1, r.output
    doc = json.loads((tmp_path / "status.json").read_text(encoding="utf-8"))
    assert doc["ok"] is False and doc["counts"].get("未报送", 0) == 0  # nobody is missing: the error decides
    st = {u["code"]: u["status"] for u in doc["units"]}
    assert st["430100031"] == ERR and all(st[c] == PASS for c in UNITS if c != "430100031")
    put(spec, unit("430100031"), returned / "430100031-更正.xlsx", 1_700_001_000)
    r = CliRunner().invoke(cli, ["collect", str(returned), "--units", str(units_csv), "--db", str(db)])
    assert r.exit_code == 0, r.output
    # recheck: 0 while every current report passes, 1 once a stricter rule fails one
    r = CliRunner().invoke(cli, ["recheck", "--db", str(db), "--report-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    strict = tmp_path / "strict"
    shutil.copytree(ROOT / "specs" / "2024", strict)
    with (strict / "rules.yaml").open("a", encoding="utf-8") as fh:
        fh.write('  - id: strict-no-grant\n    severity: error\n    expr: "公开01 row 1 col 1 <= 0"\n'
                 "    message: 一般公共预算财政拨款收入应为 0（测试用的更严规则）\n")
    r = CliRunner().invoke(cli, ["recheck", "--db", str(db), "--specs", str(strict), "--report-dir", str(tmp_path)])
    assert r.exit_code == 1, r.output
    assert "有错误" in r.output


@pytest.mark.slow
def test_explain_adds_each_levels_own_report_to_its_subordinates(spec: Spec, tmp_path: Path) -> None:
    tree = load_tree(SAMPLES / "units.csv")
    returned = tmp_path / "r"
    for i, code in enumerate(UNITS):
        put(spec, unit(code), returned / f"{code}.xlsx", 1_700_000_000 + i)
    own = {c: Figures(spec, unit(c).values).value("公开01", "30", "1") for c in UNITS}
    assert all(v > 0 for v in own.values())
    with Store(tmp_path / "db.sqlite") as store:
        collect(store, returned, tree, spec, workers=1, progress=False)
        cons = consolidate(store, tree, spec, "430100")
        write_outputs(store, cons, tmp_path / "汇总.xlsx")
        ex = explain(store, tree, spec, "430100", "公开01", "30", "1")
    by = {c.unit: c for c in ex.contributions}
    # the department's 本级 is one of its subordinates, and it is counted
    assert by["430100000"].included and by["430100000"].value == own["430100000"]
    # a unit that reports and has a subordinate: its subtotal is its own figure plus the subordinate's
    assert by["430100003"].subtotal == own["430100003"] + own["430100031"]
    # the top: every unit once, equal to the consolidated figure
    assert by["430100"].subtotal == sum(own.values(), D(0)) == ex.value == ex.total
    assert cons.values["公开01"]["30"]["1"] == ex.value
