"""Migration of filled workbooks between spec versions (2024 → 2025) and the key mapping behind it."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from generator.cli.main import cli
from generator.core.catalog import load_spec
from generator.core.dataset import load_dataset
from generator.core.findings import ERROR, INFO, WARNING
from generator.core.layout import DEFAULT_KEY
from generator.core.rules import expand_rules
from generator.core.spec import Spec
from generator.core.specmap import DROPPED, MERGED, RENAMED, SECTION, SPLIT, resolve
from generator.office.migrate import Unplaced, map_explanations, migrate_values, migrate_workbook
from generator.xlsx.reader import read_workbook

ROOT = Path(__file__).resolve().parent.parent
SPECS_2025 = ROOT / "specs" / "2025"
SEED = ROOT / "specs" / "samples" / "seed-2024.json"
D = Decimal


@pytest.fixture(scope="session")
def spec25() -> Spec:
    return load_spec(SPECS_2025)


@pytest.fixture()
def spec_variant(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A copy of a spec directory with text replacements: make('2025', {'gongkai01.yaml': [(a, b)]})."""
    counter = iter(range(100))

    def make(version: str, patches: dict[str, list[tuple[str, str]]]) -> Path:
        d = tmp_path / f"spec-{version}-{next(counter)}"
        shutil.copytree(ROOT / "specs" / version, d)
        for name, reps in patches.items():
            p = d / name
            text = p.read_text(encoding="utf-8") if p.exists() else ""
            for a, b in reps:
                if a:
                    assert a in text, f"{a!r} not in {name}"
                    text = text.replace(a, b, 1)
                else:
                    text += b
            p.write_text(text, encoding="utf-8")
        return d

    return make


# ---------------------------------------------------------------- the mapping


def test_2025_spec_loads_and_maps_from_2024(spec: Spec, spec25: Spec) -> None:
    assert spec25.version == "2025" and spec25.year == 2025
    assert spec25.raw["spec.yaml"]["previous"] == "2024"
    sm = resolve(spec, spec25)
    assert sm.problems == []
    g01 = sm.table("公开01")
    assert g01.row("44").kind == RENAMED and g01.row("44").key == "215"  # 资源勘探工业信息等支出
    assert g01.row("56").key == "234"  # 抗疫特别国债 moved up from 二十六 to 二十四
    assert g01.row("1").key == "一般公共预算财政拨款收入"
    assert g01.row("27").key == "本年收入合计" and g01.row("60").key == "支出总计"
    assert g01.row("54").kind == DROPPED and "债务还本支出" in g01.row("54").reason
    assert g01.row("55").kind == DROPPED and "债务付息支出" in g01.row("55").reason
    g04 = sm.table("公开04")
    assert g04.row("46").key == "215" and g04.row("29").key == "年初一般公共预算财政拨款"
    assert {g04.row(k).kind for k in ("56", "57")} == {DROPPED}
    assert sm.table("公开08").cols == {"1": "3", "2": "4", "3": "5"}
    assert sm.table("公开02").row("2150550").kind == SECTION
    tgt = sm.figure("公开08", "2150550", "2")
    assert tgt.fig is not None and (tgt.fig.row, tgt.fig.col) == ("2150550", "4")


def test_migrate_values_moves_inputs_and_skips_formulas(spec: Spec, spec25: Spec) -> None:
    values = {
        "公开01": {"1": {"1": D("10.00")}, "27": {"1": D("10.00")}, "44": {"2": D("7.50")}, "55": {"2": D("12.34")}},
        "公开08": {"2150550": {"1": D("3.00"), "2": D("1.00"), "3": D("2.00")}, "合计": {"1": D("3.00")}},
        "公开02": {"2150550": {"1": D("5.00"), "2": D("5.00")}},
    }
    new, unplaced, mapped = migrate_values(spec, spec25, values)
    assert new["公开01"] == {"一般公共预算财政拨款收入": {"1": D("10.00")}, "215": {"2": D("7.50")}}
    assert new["公开08"] == {"2150550": {"4": D("1.00"), "5": D("2.00")}}  # 合计 col 1 (formula) recomputed as col 3
    assert new["公开02"] == {"2150550": {"2": D("5.00")}}  # col 1 is a formula
    assert unplaced == [Unplaced("公开01", "55", "2", D("12.34"))]
    assert ("公开01", "44", "2", "公开01", "215", "2", D("7.50")) in mapped
    assert len(mapped) == 5


def test_merged_and_split_rows(spec: Spec, spec_variant) -> None:  # type: ignore[no-untyped-def]
    # 2025 variant: 事业收入 (old 5) merged into 上级补助收入; old 6 经营收入 split in the mapping file
    d = spec_variant("2025", {
        "gongkai01.yaml": [
            ('{key: 上级补助收入, label: 四、上级补助收入, renamed_from: ["4"]}',
             '{key: 上级补助收入, label: 四、上级补助及事业收入, merged_from: ["4", "5"]}'),
            ('      - {key: 事业收入, label: 五、事业收入, renamed_from: ["5"]}\n', ""),
            ('{key: 经营收入, label: 六、经营收入, renamed_from: ["6"]}', "{key: 经营收入, label: 六、经营收入}"),
        ],
        "mapping.yaml": [("  公开04:\n", '    split_to: {"6": [经营收入, 其他收入]}\n  公开04:\n')],
        # the 说明's label for 事业收入 no longer has a 公开01 row of its own
        "figures.yaml": [(", 公开01 row 事业收入 col 1]", "]")],
    })
    new_spec = load_spec(d)
    sm = resolve(spec, new_spec)
    assert sm.problems == []
    assert sm.table("公开01").row("5").kind == MERGED and sm.table("公开01").row("4").kind == MERGED
    assert sm.table("公开01").row("6").kind == SPLIT
    values = {"公开01": {"4": {"1": D("1.25")}, "5": {"1": D("2.50")}, "6": {"1": D("4.00")}}}
    new, unplaced, mapped = migrate_values(spec, new_spec, values, sm)
    assert new["公开01"]["上级补助收入"]["1"] == D("3.75")
    assert unplaced == [Unplaced("公开01", "6", "1", D("4.00"))]
    assert "拆分" in sm.figure("公开01", "6", "1").reason
    assert len(mapped) == 2


def test_mapping_problems_are_reported(spec: Spec, spec_variant, seed_xlsx: Path) -> None:  # type: ignore[no-untyped-def]
    d = spec_variant("2025", {
        "gongkai01.yaml": [('renamed_from: ["8"]', 'renamed_from: ["99"]')],
        "mapping.yaml": [('columns_from: {"1": "3", "2": "4", "3": "5"}', 'columns_from: {"1": "3", "2": "3", "3": "9"}')],
    })
    new_spec = load_spec(d)
    problems = [p.message for p in resolve(spec, new_spec).problems]
    assert any("不存在的行 99" in p for p in problems)
    assert any("栏 3 被多个旧栏映射" in p for p in problems)
    assert any("目标栏 9" in p for p in problems)
    res = migrate_workbook(seed_xlsx, new_spec, seed_xlsx.parent / "out.xlsx")
    assert res.exit_code == 2 and not res.written
    assert {f.code for f in res.findings if f.severity == ERROR} == {"migrate-mapping-invalid"}


def test_explanations_follow_their_rule_instance(spec: Spec, spec25: Spec) -> None:
    sm = resolve(spec, spec25)
    old_inst = expand_rules(spec, lambda _t: [])
    new_inst = expand_rules(spec25, lambda _t: [])
    kept, dropped = map_explanations(sm, {"g01-g03-class[215,44]": "甲", "g09-car-vs-g06": "乙",
                                          "g01-g03-class[232,55]": "丙"}, old_inst, new_inst)
    assert kept == {"g01-g03-class[215,215]": "甲", "g09-car-vs-g06": "乙"}
    assert dropped == {"g01-g03-class[232,55]": "丙"}


# ---------------------------------------------------------------- whole workbooks


def _figure(values: dict, table: str, row: str, col: str) -> Decimal | None:  # type: ignore[type-arg]
    return values.get(table, {}).get(row, {}).get(col)


@pytest.mark.slow
def test_seed_workbook_migrates_to_2025_with_every_figure_in_place(spec: Spec, spec25: Spec, seed_build,  # type: ignore[no-untyped-def]
                                                                     seed_xlsx: Path, tmp_path: Path) -> None:
    # a unit's texts: cover fields and a 差异说明 typed into the 2024 workbook
    plan = seed_build.plan
    wb = openpyxl.load_workbook(seed_xlsx)
    cover = {c.label: (r, col) for (r, col), c in plan.sheet("封面").cells.items() if c.kind == "cover"}
    wb["封面"].cell(row=cover["单位负责人"][0] + 1, column=cover["单位负责人"][1] + 1).value = "张三"
    wb["审核"].cell(row=plan.rule_rows["g09-car-vs-g06"] + 1, column=9).value = "车辆运维费含保险"
    wb.save(seed_xlsx)

    out = tmp_path / "seed-2025.xlsx"
    res = migrate_workbook(seed_xlsx, spec25, out, key=DEFAULT_KEY)
    assert res.exit_code == 0, [f.render() for f in res.findings if f.severity != INFO]
    assert res.written and out.is_file()
    assert (res.old_version, res.new_version) == ("2024", "2025")
    assert res.lost == []
    # the only figures with no home are the zeros of the two dropped classes
    assert {(u.table, u.row) for u in res.unplaced} == {("公开01", "54"), ("公开01", "55"), ("公开04", "56"),
                                                        ("公开04", "57")}
    # the seed's own 提示 on its 附件 cost indicators (scored proportionally, see test_fujian) come along
    assert all(f.severity == INFO or f.code == "indicator-reverse-proportional" for f in res.findings)

    # read back on its own: the reader finds the 2025 spec by the workbook's recorded version
    back = read_workbook(out, key=DEFAULT_KEY)
    assert back.usable and back.template["version"] == "2025" and back.spec is not None
    assert back.spec.version == "2025"
    assert [f.render() for f in back.findings if f.severity != INFO and f.code != "indicator-reverse-proportional"] == []
    ds = back.dataset
    assert ds is not None
    assert (ds.unit_code, ds.unit_name, ds.year) == ("430001001", "长沙市企业服务中心", 2024)
    assert ds.cover.get("单位负责人") == "张三"
    assert ds.explanations == {"g09-car-vs-g06": "车辆运维费含保险"}
    seed = load_dataset(SEED)
    assert ds.notes["公开07"] == seed.notes["公开07"] and ds.notes["公开08"] == seed.notes["公开08"]

    # every figure of the seed's 2024 workbook (inputs and computed totals) is in 2025 where the
    # mapping puts it, unchanged. (Totals are compared as the 2024 workbook computes them: the
    # published seed prints some totals rounded on their own, e.g. 人员经费合计 925.85 = 925.86.)
    before = read_workbook(seed_xlsx, spec=spec, key=DEFAULT_KEY)
    assert before.dataset is not None
    for t, rows in seed.values.items():
        for r, cols in rows.items():
            for c, v in cols.items():
                assert _figure(before.values, t, r, c) is not None
                if _figure(before.dataset.values, t, r, c) is not None:  # an input: exactly the seed's
                    assert _figure(before.dataset.values, t, r, c) == v
    sm = resolve(spec, spec25)
    checked = 0
    for t, rows in before.values.items():
        for r, cols in rows.items():
            for c, v in cols.items():
                tgt = sm.figure(t, r, c)
                if tgt.fig is None:
                    assert v == 0 and (t, r) in {("公开01", "54"), ("公开01", "55"), ("公开04", "56"), ("公开04", "57")}
                    continue
                assert _figure(back.values, tgt.fig.table, tgt.fig.row, tgt.fig.col) == v, (t, r, c, tgt.fig)
                checked += 1
    assert checked > 300
    # spot checks in the new keys
    assert _figure(back.values, "公开01", "215", "2") == D("2128.85")
    assert _figure(back.values, "公开01", "一般公共预算财政拨款收入", "1") == D("2128.85")
    assert _figure(back.values, "公开01", "收入总计", "1") == _figure(back.values, "公开01", "支出总计", "2") == D("2128.85")
    assert _figure(back.values, "公开04", "215", "3") == D("2128.85")
    assert _figure(back.values, "公开02", "2150550", "1") == D("975.45")
    assert _figure(back.values, "公开06", "30101", "决算数") == D("95.29")
    assert _figure(back.values, "公开09", "1", "11") == D("1.61")
    assert _figure(back.values, "公开08", "合计", "3") == D("0")


@pytest.mark.slow
def test_nonzero_debt_interest_is_reported_unplaceable(seed_build, seed_xlsx: Path, filler, spec25: Spec,  # type: ignore[no-untyped-def]
                                                       tmp_path: Path) -> None:
    filled = filler(seed_xlsx, seed_build.plan, {"公开01": {"55": {"2": D("12.34")}}}, out=tmp_path / "debt.xlsx")
    out = tmp_path / "debt-2025.xlsx"
    res = migrate_workbook(filled, spec25, out)
    assert res.lost == [Unplaced("公开01", "55", "2", D("12.34"))]
    lost = [f for f in res.findings if f.code == "migrate-unplaced"]
    assert len(lost) == 1
    f = lost[0]
    assert (f.severity, f.table, f.row, f.col, f.actual) == (ERROR, "公开01", "55", "2", "12.34")
    assert "债务付息支出" in f.message
    assert res.exit_code == 1 and not res.written and not out.exists()

    res = migrate_workbook(filled, spec25, out, allow_loss=True)
    assert res.written and out.is_file()
    f = next(f for f in res.findings if f.code == "migrate-unplaced-allowed")
    assert f.severity == WARNING and f.actual == "12.34"
    # 本年支出合计 loses the 12.34 in 2025: said so, not hidden
    derived = {(x.table, x.row, x.col): x for x in res.findings if x.code == "migrate-derived-changed"}
    assert derived[("公开01", "57", "2")].expected == "2141.19" and derived[("公开01", "57", "2")].actual == "2128.85"
    # what still fails is the 2024 workbook's own checks (it did not balance); the 2025 one does
    errors = [x for x in res.findings if x.severity == ERROR]
    assert errors and {x.extra.get("stage") for x in errors} == {"source"}
    assert res.check is not None and res.check.exit_code == 0


@pytest.mark.slow
def test_migrate_and_read_cli(seed_build, seed_xlsx: Path, filler, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    out = tmp_path / "new.xlsx"
    r = runner.invoke(cli, ["migrate", str(seed_xlsx), "--to", str(SPECS_2025), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "2024 版 → 2025 版" in r.output and f"已写出 {out}" in r.output
    r = runner.invoke(cli, ["read", str(out)])
    assert r.exit_code == 0, r.output
    assert "错误 0 条" in r.output

    filled = filler(seed_xlsx, seed_build.plan, {"公开04": {"57": {"3": D("5.00")}}}, out=tmp_path / "debt.xlsx")
    lossy = tmp_path / "lossy.xlsx"
    r = runner.invoke(cli, ["migrate", str(filled), "--to", "2025", "-o", str(lossy)])
    assert r.exit_code == 1
    assert "公开04 行 57 栏 3：5.00" in r.output and "--allow-loss" in r.output
    assert not lossy.exists()
    r = runner.invoke(cli, ["migrate", str(filled), "--to", "2025", "-o", str(lossy), "--allow-loss", "--json"])
    assert lossy.is_file()
    assert '"amount": "5.00"' in r.output
    doc = json.loads(r.output)
    # the loss is allowed (a warning) and written; what still fails is the 2024 workbook's own balance
    assert doc["written"] is True and r.exit_code == 1
    lost = [f for f in doc["findings"] if f["code"] == "migrate-unplaced-allowed"]
    assert [(f["severity"], f["actual"]) for f in lost] == [("warning", "5.00")]
    errors = [f for f in doc["findings"] if f["severity"] == "error"]
    assert errors and {f["extra"]["stage"] for f in errors} == {"source"}
    clean = tmp_path / "clean-2025.xlsx"
    r = runner.invoke(cli, ["migrate", str(seed_xlsx), "--to", "2025", "-o", str(clean), "--allow-loss", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["written"] is True and clean.is_file()

    r = runner.invoke(cli, ["migrate", str(tmp_path / "missing.xlsx"), "--to", "2025", "-o", str(tmp_path / "x.xlsx")])
    assert r.exit_code == 2
    r = runner.invoke(cli, ["migrate", str(seed_xlsx), "--to", "1999", "-o", str(tmp_path / "x.xlsx")])
    assert r.exit_code == 2


def test_blank_2025_template_reads_back_clean(spec25: Spec, tmp_path: Path) -> None:
    from generator.core.dataset import Dataset
    from generator.xlsx.writer import build_workbook

    path = tmp_path / "blank.xlsx"
    build_workbook(spec25, Dataset(unit_code="1", unit_name="测试单位"), path)
    back = read_workbook(path, key=DEFAULT_KEY)
    assert back.usable and back.template["version"] == "2025"
    assert not [f for f in back.findings if f.severity == ERROR and f.code != "empty-table-statement-missing"]


@pytest.mark.slow
def test_round_trip_2024_2025_2024(spec: Spec, spec25: Spec, seed_xlsx: Path, tmp_path: Path) -> None:
    """Going back a version reads the 2025 mapping backwards: nothing but the dropped zeros moves."""
    sm_back = resolve(spec25, spec)
    assert sm_back.reverse and sm_back.problems == []
    assert sm_back.table("公开01").row("215").key == "44" and sm_back.table("公开08").cols == {
        "1": None, "2": None, "3": "1", "4": "2", "5": "3", "6": None}
    mid = migrate_workbook(seed_xlsx, spec25, tmp_path / "2025.xlsx")
    back = migrate_workbook(tmp_path / "2025.xlsx", spec, tmp_path / "2024.xlsx")
    assert mid.exit_code == 0 and back.exit_code == 0 and back.unplaced == []
    before = read_workbook(seed_xlsx, spec=spec, key=DEFAULT_KEY)
    after = read_workbook(tmp_path / "2024.xlsx", key=DEFAULT_KEY)
    assert after.template["version"] == "2024" and after.exit_code == 0
    assert after.values == before.values


def test_migrate_never_overwrites_the_returned_file(seed_xlsx) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from generator.cli.main import cli

    from .conftest import SPECS

    before = seed_xlsx.read_bytes()
    res = CliRunner().invoke(cli, ["migrate", str(seed_xlsx), "--to", str(SPECS.parent / "2025"), "-o", str(seed_xlsx)])
    assert res.exit_code == 2 and "原文件" in res.output
    assert seed_xlsx.read_bytes() == before
