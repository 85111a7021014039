"""The year's code list imported into a spec; templates laid out from a units file's subjects or
last year's database, with a chosen number of spare rows; words for people in the 填报说明;
check-narrative on narrative's own text."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from generator.cli.main import cli
from generator.core.catalog import load_spec
from generator.core.layout import DEFAULT_KEY
from generator.core.spec import Spec
from generator.xlsx.reader import read_workbook

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "specs" / "samples"


@pytest.fixture()
def specs(tmp_path: Path) -> Path:
    d = tmp_path / "specs2024"
    shutil.copytree(ROOT / "specs" / "2024", d)
    return d


def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([("code", "name"), *rows])
    return path


def test_codes_import_from_xlsx_merges_and_reports(specs: Path, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["科目编码", "科目名称"])
    for row in list(csv.reader((SAMPLES / "functional-2024-sample.csv").read_text(encoding="utf-8").splitlines()))[1:]:
        name = "事业运行（更名）" if row[0] == "2150550" else row[1]
        ws.append([int(row[0]), name])  # codes typed as numbers, as finance exports often are
    wb.save(tmp_path / "codes.xlsx")
    before = load_spec(specs)
    r = CliRunner().invoke(cli, ["codes", "import", str(tmp_path / "codes.xlsx"), "--specs", str(specs)])
    assert r.exit_code == 0, r.output
    assert "+ 2050202 小学教育" in r.output and "~ 2150550 事业运行 → 事业运行（更名）" in r.output
    after = load_spec(specs)
    assert after.hash != before.hash and after.code_name("functional", "2101101") == "行政单位医疗"
    assert "已写入" in r.output and "须重新生成" in r.output
    # the same list again changes nothing
    r = CliRunner().invoke(cli, ["codes", "import", str(tmp_path / "codes.xlsx"), "--specs", str(specs)])
    assert "新增 0 个，改名 0 个，删除 0 个" in r.output and load_spec(specs).hash == after.hash


def test_codes_import_refuses_an_invalid_list_and_writes_nothing(specs: Path, tmp_path: Path) -> None:
    path = specs / "codes" / "functional.yaml"
    before = path.read_bytes()
    bad = _csv(tmp_path / "bad.csv", [("201", "一般公共服务支出"), ("20101", "人大事务"), ("2010101", "行政运行"),
                                      ("2010101", "行政运行（另一个名字）"), ("2059901", "无上级的项"), ("20101A", "坏代码"),
                                      ("2010102", "")])
    r = CliRunner().invoke(cli, ["codes", "import", str(bad), "--specs", str(specs)])
    assert r.exit_code == 1
    for code in ("codes-duplicate", "codes-parent-missing", "codes-invalid-code", "codes-name-missing",
                 "codes-required-missing"):
        assert code in r.output, code
    assert "未写入" in r.output and path.read_bytes() == before
    # --keep keeps the codes a partial list lacks (the spec's own 类 rows among them)
    part = _csv(tmp_path / "part.csv", [("205", "教育支出"), ("20502", "普通教育"), ("2050202", "小学教育")])
    r = CliRunner().invoke(cli, ["codes", "import", str(part), "--specs", str(specs), "--keep", "--dry-run"])
    assert r.exit_code == 0 and "新增 2 个" in r.output and path.read_bytes() == before
    r = CliRunner().invoke(cli, ["codes", "import", str(tmp_path / "none.csv"), "--specs", str(specs)])
    assert r.exit_code == 2
    empty = tmp_path / "empty.csv"
    empty.write_text("code,name\n\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["codes", "import", str(empty), "--specs", str(specs)])
    assert r.exit_code == 1 and "codes-empty" in r.output and path.read_bytes() == before


def test_build_units_lays_out_subjects_with_no_figures(spec: Spec, tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    units.write_text("code,name,parent,subjects\n"
                     "430100,主管部门,,\n"
                     "430100001,单位甲,430100,2150550 2150805 公开07:2150899\n"
                     "430100002,单位乙,430100,2150550 21505\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["build", "--units", str(units), "-o", str(tmp_path / "t"), "--spare-rows", "2"])
    assert r.exit_code == 1 and "单位 430100002" in r.output and "21505" in r.output  # a 款 is not a subject
    res = read_workbook(next((tmp_path / "t").glob("430100001-*.xlsx")), spec=spec, key=DEFAULT_KEY)
    assert res.plan is not None and res.dataset is not None
    assert res.plan.sections["公开05"] == ["215", "21505", "2150550", "21508", "2150805"]
    assert res.plan.sections["公开07"] == ["215", "21508", "2150899"]
    assert all(sp.last - sp.first + 1 == 2 for sp in res.plan.spare.values())  # --spare-rows 2, read back as such
    assert not [f for f in res.findings if f.rule is None and f.severity != "info"]
    assert all(v == 0 for rows in res.dataset.values.values() for cols in rows.values() for v in cols.values())
    # the spare-row count is part of the fingerprinted identity
    assert res.template and not [f for f in res.findings if f.code == "fingerprint-mismatch"]


def test_build_from_last_years_database(spec: Spec, tmp_path: Path) -> None:
    from generator.core.dataset import load_dataset
    from generator.office.collect import collect, load_tree
    from generator.office.store import Store
    from generator.xlsx.writer import build_workbook

    returned = tmp_path / "returned"
    returned.mkdir()
    for code in ("430100002", "430100003"):
        build_workbook(spec, load_dataset(SAMPLES / f"unit-{code}.json"), returned / f"{code}.xlsx")
    db = tmp_path / "2023.sqlite"
    with Store(db) as store:
        collect(store, returned, load_tree(SAMPLES / "units.csv"), spec, workers=1, progress=False, key=DEFAULT_KEY)
    units = tmp_path / "units.csv"
    units.write_text("code,name,parent\n430100002,长沙市工业信息研究所,\n430100003,长沙市中小企业发展服务站,\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["build", "--units", str(units), "--previous", str(db), "-o", str(tmp_path / "t")])
    assert r.exit_code == 0, r.output
    for code in ("430100002", "430100003"):
        last = load_dataset(SAMPLES / f"unit-{code}.json")
        res = read_workbook(next((tmp_path / "t").glob(f"{code}-*.xlsx")), spec=spec, key=DEFAULT_KEY)
        assert res.plan is not None and res.dataset is not None
        for t in ("公开02", "公开03", "公开05"):
            assert {c for c in res.plan.sections.get(t, []) if len(c) == 7} == {c for c in last.values.get(t, {}) if len(c) == 7}
        assert all(v == 0 for rows in res.dataset.values.values() for cols in rows.values() for v in cols.values())


def test_guide_and_check_sheet_speak_to_people(spec: Spec, seed_build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from generator.core.dataset import Dataset
    from generator.xlsx.writer import build_workbook

    blank = build_workbook(spec, Dataset("430100009", "长沙市测试单位"), tmp_path / "blank.xlsx")
    for res, listed in ((blank, False), (seed_build, True)):
        wb = openpyxl.load_workbook(res.path)
        guide = "\n".join(str(c.value) for row in wb["填报说明"].iter_rows() for c in row if c.value)
        assert not re.search(r"\{[a-z_]+\}|\bg0\d-|\brow \w|\bcol \w|sum\(", guide), guide
        assert ("已按本单位科目列出" in guide) == listed and ("尚未列出科目" in guide) == (not listed)
        assert "代码表中没有的项级科目" in guide
        ids = [wb["审核"].cell(row=r, column=1).value for r in range(3, 8)]
        assert ids == ["1", "2", "3", "4", "5"]


def test_check_narrative_passes_on_narratives_own_output(tmp_path: Path) -> None:
    seed = SAMPLES / "seed-2024.json"
    wb = tmp_path / "seed.xlsx"
    assert CliRunner().invoke(cli, ["build", "--data", str(seed), "-o", str(wb)]).exit_code == 0
    for source in (seed, wb):  # 说明 written from the data file (925.85) and from the workbook (925.86)
        text = tmp_path / f"说明-{source.suffix[1:]}.md"
        r = CliRunner().invoke(cli, ["narrative", str(source), "-o", str(text)])
        assert r.exit_code == 0, r.output
        for figures in (seed, wb):
            r = CliRunner().invoke(cli, ["check-narrative", str(text), str(figures), "--json"])
            assert r.exit_code == 0, (source.name, figures.name, r.output)
    # the published 925.85 against the workbook's 925.86: a 尾数差异, information only
    r = CliRunner().invoke(cli, ["check-narrative", str(tmp_path / "说明-json.md"), str(wb)])
    assert "narrative-rounding" in r.output and "925.85" in r.output


def test_narrative_of_a_unit_in_the_database(spec: Spec, tmp_path: Path) -> None:
    from generator.core.dataset import load_dataset
    from generator.office.collect import collect, load_tree
    from generator.office.store import Store
    from generator.xlsx.writer import build_workbook

    returned = tmp_path / "returned"
    returned.mkdir()
    build_workbook(spec, load_dataset(SAMPLES / "unit-430100001.json"), returned / "430100001.xlsx")
    db = tmp_path / "j.sqlite"
    with Store(db) as store:
        collect(store, returned, load_tree(SAMPLES / "units.csv"), spec, workers=1, progress=False, key=DEFAULT_KEY)
    r = CliRunner().invoke(cli, ["narrative", "430100001", "--db", str(db)])
    assert r.exit_code == 0 and "2,128.85" in r.output, r.output
    r = CliRunner().invoke(cli, ["narrative", "430100003", "--db", str(db)])
    assert r.exit_code == 2 and "没有单位 430100003 的有效报表" in r.output
