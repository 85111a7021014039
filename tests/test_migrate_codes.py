"""``migrate`` and the round's own codes: the names a workbook shows for 科目 the new spec's code list
lacks travel into the new workbook; a code nobody names is a Chinese finding that says to import the
code list first (never a LayoutError text); a workbook of an older code list is read with the names
its own 代码表 shows."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.core.catalog import load_spec
from generator.core.dataset import Dataset
from generator.core.spec import Spec
from generator.office.migrate import carry_names, migrate_workbook
from generator.xlsx.reader import read_workbook
from generator.xlsx.writer import build_workbook

from .conftest import SPECS

ROOT = SPECS.parent.parent
EDU = {"205": "教育支出", "20502": "普通教育", "2050202": "小学教育"}


@pytest.fixture(scope="module")
def round_spec(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    """specs/2024 with the round's own codes imported (one more 款 and 项)."""
    d = tmp_path_factory.mktemp("specs") / "round-2024"
    shutil.copytree(SPECS, d)
    codes = d / "codes" / "functional.yaml"
    text = codes.read_text(encoding="utf-8")
    codes.write_text(text.replace('  "21505": 工业和信息产业监管\n',
                                  '  "21505": 工业和信息产业监管\n  "20502": 普通教育\n  "2050202": 小学教育\n'),
                     encoding="utf-8")
    return load_spec(d)


def _edu_unit(seed: Dataset) -> Dataset:
    """The seed with a row of 2050202 (a code of the round's list only) in 公开02/03/05."""
    values = {t: {r: dict(c) for r, c in rows.items()} for t, rows in seed.values.items()}
    for t in ("公开02", "公开03", "公开05"):
        values[t]["2050202"] = {c: Decimal("0.00") for c in values[t]["2150550"]}
    return Dataset(seed.unit_code, seed.unit_name, seed.year, values, dict(seed.names), dict(seed.notes),
                   texts=seed.texts)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["2025", "2024"])
def test_migrate_carries_the_names_the_workbook_shows(round_spec: Spec, seed: Dataset, tmp_path: Path,
                                                      target: str) -> None:
    """To 2025 (the old spec given) and to the bundled 2024 (the old spec unknown: an older template of
    the version, read with its own 代码表's names): the new workbook lists 2050202 as 小学教育."""
    src = tmp_path / "edu.xlsx"
    build_workbook(round_spec, _edu_unit(seed), src)
    out = tmp_path / f"edu-{target}.xlsx"
    args = ["migrate", str(src), "--to", str(ROOT / "specs" / target), "-o", str(out)]
    if target == "2025":
        args += ["--specs", str(round_spec.root)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0 and out.is_file(), r.output
    assert "LayoutError" not in r.output and "migrate-build-failed" not in r.output
    if target == "2024":  # the bundled 2024 is not the spec the template was built with: said once, as information
        assert "migrate-outdated-source" in r.output and "template-outdated" not in r.output
    new = load_spec(ROOT / "specs" / target)
    assert new.code_name("functional", "2050202") is None  # the new list lacks it
    back = read_workbook(out, spec=new)
    assert back.plan is not None and back.dataset is not None
    assert "2050202" in back.plan.sections["公开05"]
    assert {c: back.dataset.names.get(c) for c in ("20502", "2050202")} == {"20502": "普通教育", "2050202": "小学教育"}
    assert not [f for f in back.findings if f.severity == "error"], [f.render() for f in back.findings]


def test_an_old_code_list_workbook_reads_with_its_own_names(round_spec: Spec, seed: Dataset, tmp_path: Path,
                                                            spec: Spec) -> None:
    src = tmp_path / "edu.xlsx"
    build_workbook(round_spec, _edu_unit(seed), src)
    res = read_workbook(src, spec=spec)  # the bundled 2024, which lacks the round's codes
    assert res.usable and res.dataset is not None and res.dataset.names["2050202"] == "小学教育"
    assert [f.code for f in res.findings if f.severity == "error"] == ["template-outdated"]


@pytest.mark.slow
def test_a_code_no_one_names_says_to_import_the_codes(spec: Spec, seed: Dataset, tmp_path: Path) -> None:
    """A 项 typed into a spare row without its name: migrating it to a spec that lacks it is a finding
    saying to import the round's code list first, not a layout error."""
    src = tmp_path / "seed.xlsx"
    built = build_workbook(spec, seed, src)
    sp = built.plan.spare["公开05"]
    sheet = spec.tables["公开05"].sheet
    wb = openpyxl.load_workbook(src)
    wb[sheet].cell(row=sp.first + 1, column=sp.code_col + 1).value = "2990101"
    wb.save(src)
    new = load_spec(ROOT / "specs" / "2025")
    res = migrate_workbook(src, new, tmp_path / "out.xlsx")
    f = next(f for f in res.findings if f.code == "migrate-codes-missing")
    assert f.severity == "error" and "299、29901" in f.message and "juesuan codes import" in f.message
    assert not res.written and "LayoutError" not in " ".join(x.message for x in res.findings)
    names, missing = carry_names(spec, new, {"公开05": {"2990101": {}, "2150550": {}}}, {})
    assert missing == ["299", "29901", "2990101"] and "2150550" not in names


@pytest.mark.slow
def test_a_workbook_whose_codes_no_spec_names_is_a_chinese_finding(round_spec: Spec, seed: Dataset, spec: Spec,
                                                                   tmp_path: Path) -> None:
    """An older template whose 代码表 no longer shows the name (the hidden sheet emptied) and a spec
    that lacks the code: one finding telling to import the codes, not a LayoutError traceback text."""
    src = tmp_path / "edu.xlsx"
    build_workbook(round_spec, _edu_unit(seed), src)
    wb = openpyxl.load_workbook(src)
    ws = wb["代码表"]
    for row in ws.iter_rows():
        if row[0].value in EDU:
            row[1].value = None
    wb.save(src)
    res = read_workbook(src, spec=spec)
    assert not res.usable
    f = next(f for f in res.findings if f.code == "spec-codes-missing")
    assert "juesuan codes import" in f.message and "2050202" in f.message
    assert "file-unreadable-structure" not in {x.code for x in res.findings}
