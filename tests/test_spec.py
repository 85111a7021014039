from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.core.catalog import load_spec
from generator.core.spec import SpecInvalid

from .conftest import SPECS


def test_2024_spec_loads_all_nine_tables(spec) -> None:  # type: ignore[no-untyped-def]
    assert list(spec.tables) == [f"公开0{i}" for i in range(1, 10)] + ["附表1", "附件1", "附件2", "附件3"]  # + 附表1 (十–十三), 第五部分 附件
    assert spec.tables["公开01"].sheet == "公开01表"
    # all 26 classes of the 2024 list on 公开01 rows 31-56, with their codes
    rows = {r.key: r.code for b in spec.tables["公开01"].blocks for r in b.rows if r.code}
    assert len(rows) == 26 and rows["44"] == "215" and rows["55"] == "232"
    assert len([c for c in spec.codelists["functional"].codes if len(c) == 3]) == 26
    assert spec.codelists["economic"].codes["30231"] == "公务用车运行维护费"
    # 科目 sections
    assert {t.id for t in spec.tables.values() if t.section} == {"公开02", "公开03", "公开05", "公开07", "公开08"}


def test_spec_hash_ignores_comments_but_not_content(tmp_path: Path) -> None:
    copy = tmp_path / "s"
    shutil.copytree(SPECS, copy)
    h0 = load_spec(copy).hash
    f = copy / "gongkai09.yaml"
    f.write_text("# a comment\n" + f.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_spec(copy).hash == h0
    f.write_text(f.read_text(encoding="utf-8").replace("公务接待费", "公务接待费用", 1), encoding="utf-8")
    assert load_spec(copy).hash != h0


def _break(copy: Path, name: str, old: str, new: str) -> None:
    p = copy / name
    text = p.read_text(encoding="utf-8")
    assert old in text, old
    p.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_malformed_spec_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    copy = tmp_path / "bad"
    shutil.copytree(SPECS, copy)
    _break(copy, "gongkai01.yaml", 'formula: "sum(rows 1..8)"', 'formula: "sum(rows 1..99)"')
    _break(copy, "gongkai02.yaml", "{role: code, width: 12}", "{role: kode, width: 12}")
    _break(copy, "gongkai09.yaml", '- ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]',
           '- ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]')
    _break(copy, "gongkai06.yaml", '- {key: "30102"}', '- {key: "30101"}')
    _break(copy, "rules.yaml", "message: 公开01表 收入总计(30) 应等于 支出总计(60)", "")
    _break(copy, "rules.yaml", '"公开04 row 59 col 5 = 公开08 row 合计 col 1"', '"公开04 row 59 col 9 = 公开08 row 合计 col 1"')
    with pytest.raises(SpecInvalid) as exc:
        load_spec(copy)
    problems = exc.value.problems
    text = "\n".join(str(p) for p in problems)
    files = {Path(p.file).name for p in problems}
    assert {"gongkai01.yaml", "gongkai02.yaml", "gongkai09.yaml", "gongkai06.yaml", "rules.yaml"} <= files, text
    assert all(p.line for p in problems), text
    assert "rows 1..99" in text and "role" in text and "表头" in text and "30101" in text
    assert "缺少中文 message" in text and "没有栏 9" in text
    # line numbers point at the right place
    g01 = next(p for p in problems if p.file.endswith("gongkai01.yaml"))
    line = (copy / "gongkai01.yaml").read_text(encoding="utf-8").splitlines()[g01.line - 1]
    assert "1..99" in line


def test_broken_yaml_is_reported_not_raised(tmp_path: Path) -> None:
    copy = tmp_path / "bad"
    shutil.copytree(SPECS, copy)
    (copy / "gongkai03.yaml").write_text("id: 公开03\nblocks: [\n", encoding="utf-8")
    with pytest.raises(SpecInvalid) as exc:
        load_spec(copy)
    assert any("YAML" in p.message and p.file.endswith("gongkai03.yaml") for p in exc.value.problems)


def test_check_spec_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from generator.cli.main import cli

    ok = CliRunner().invoke(cli, ["check-spec", str(SPECS)])
    assert ok.exit_code == 0 and "13 张表" in ok.output  # 9 公开 tables + 附表1 + 附件1–3
    copy = tmp_path / "bad"
    shutil.copytree(SPECS, copy)
    _break(copy, "gongkai05.yaml", '"col 2 + col 3"', '"col 2 + col 33"')
    bad = CliRunner().invoke(cli, ["check-spec", str(copy)])
    assert bad.exit_code == 2 and "gongkai05.yaml" in bad.output and "没有栏 33" in bad.output


def test_a_row_that_may_be_negative(tmp_path: Path) -> None:
    """``negative: true`` on a row lets its input cells take a negative amount (the reader names any
    other negative one); rows without it may not."""
    from generator.core.layout import plan_workbook

    copy = tmp_path / "spec"
    shutil.copytree(SPECS, copy)
    _break(copy, "gongkai09.yaml", '      - {key: "1"}', '      - {key: "1", negative: true}')
    spec = load_spec(copy)
    t = spec.tables["公开09"]
    assert t.row("1")[1].negative is True and not load_spec(SPECS).tables["公开09"].row("1")[1].negative
    plan = plan_workbook(spec, "430001001", "单位", 2024)
    sheet = plan.sheet(t.sheet)
    flags = {f.col: sheet.cells[(r, c)].negative for f, (s, r, c) in plan.fig_cells.items()
             if f.table == "公开09" and f.row == "1" and s == t.sheet and sheet.cells[(r, c)].kind == "input"}
    assert flags and all(flags.values())


def test_a_column_formula_is_checked_in_its_own_column(tmp_path: Path) -> None:
    """A column formula's reference without a 栏 means its own column (here 公开03's 合计 in 栏 1):
    the spec check binds it so, and the spec loads."""
    copy = tmp_path / "spec"
    shutil.copytree(SPECS, copy)
    _break(copy, "gongkai05.yaml", 'formula: "col 2 + col 3"', 'formula: "col 2 + col 3 + 公开03 row 合计 - 公开03 row 合计"')
    spec = load_spec(copy)
    assert any("公开03 row 合计" in (c.formula or "") for b in spec.tables["公开05"].blocks for c in b.columns)


def test_a_forms_spare_indicator_rows_are_the_specs(tmp_path: Path) -> None:
    copy = tmp_path / "spec"
    shutil.copytree(SPECS, copy)
    _break(copy, "fujian2.yaml", "      spare_rows: 5", "      spare_rows: 2")
    blocks = [r.indicators for r in load_spec(copy).tables["附件2"].form if r.indicators is not None]
    assert [b.spare_rows for b in blocks] == [2]
