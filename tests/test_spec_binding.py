"""What the spec decides that code used to: which tables a unit's 科目 go into (subject_tables),
the figures a 汇总 level shows (the named figures), the order of a findings report by table."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from generator.cli import cli
from generator.cli.report import render_text
from generator.core.catalog import load_spec
from generator.core.findings import ERROR, Finding
from generator.core.resources import specs_root
from generator.office.units import build_unit


def _copy(tmp_path: Path, old: str, new: str, file: str = "spec.yaml") -> Path:
    """The bundled 2024 spec with one text of ``file`` replaced."""
    folder = shutil.copytree(specs_root() / "2024", tmp_path / "spec")
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return folder


def _subject_rows(data: bytes, sheet: str) -> list[str]:
    ws = openpyxl.load_workbook(io.BytesIO(data))[sheet]
    return [str(c.value) for row in ws.iter_rows() for c in row if str(c.value) == "2150550"]


def test_a_units_subjects_go_into_the_tables_the_spec_names(tmp_path: Path) -> None:
    row = {"code": "430100009", "name": "测试单位", "subjects": "2150550"}
    default = build_unit(load_spec(specs_root() / "2024"), row, tmp_path)
    assert default.problem is None
    assert [t for t in ("公开02表", "公开03表", "公开05表") if _subject_rows(default.data, t)] == ["公开02表", "公开03表", "公开05表"]
    folder = _copy(tmp_path, "subject_tables: [公开02, 公开03, 公开05]", "subject_tables: [公开03]")
    only = build_unit(load_spec(folder), row, tmp_path)
    assert [t for t in ("公开02表", "公开03表", "公开05表") if _subject_rows(only.data, t)] == ["公开03表"]


def test_a_subject_table_without_a_section_is_a_spec_mistake(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "subject_tables: [公开02, 公开03, 公开05]", "subject_tables: [公开02, 公开09]")
    res = CliRunner().invoke(cli, ["check-spec", str(folder)])
    assert res.exit_code == 2 and "subject_tables 中的 公开09 没有科目 section" in res.output


def test_a_findings_report_lists_tables_in_their_order() -> None:
    fs = [Finding("rule-failed", ERROR, m, table=t) for t, m in
          (("附件1", "a"), ("附表1", "b"), ("公开09", "c"), (None, "d"), ("公开01", "e"))]
    groups = [line for line in render_text(fs).splitlines() if line.startswith("【")]
    assert groups == ["【公开01】", "【公开09】", "【附件1】", "【附表1】", "【其他】"]


def test_the_checker_reads_a_label_as_the_format_names_it(tmp_path: Path) -> None:
    """check-narrative ties the 说明's words to the figures the format's own figures.yaml names: a
    format whose 一般公共预算财政拨款支出 is another figure is checked against that one, never the
    Changsha table's."""
    from generator.core.dataset import load_dataset
    from generator.narrative import check_narrative

    seed = load_dataset(specs_root() / "samples" / "seed-2024.json")
    line = "2024年度一般公共预算财政拨款支出2,128.85万元。"
    bundled = [(f.code, f.severity) for f in check_narrative(line, seed, spec=load_spec(specs_root() / "2024"))]
    assert bundled == []
    other = _copy(tmp_path, "{words: [一般公共预算财政拨款支出], figures: [一般公共预算财政拨款支出, 公开04 row 59 col 3], initial: true}",
                  "{words: [一般公共预算财政拨款支出], figures: [一般公共预算财政拨款支出]}", "figures.yaml")
    figures = other / "figures.yaml"  # this format's 一般公共预算财政拨款支出 is another figure
    figures.write_text(figures.read_text(encoding="utf-8").replace(
        "一般公共预算财政拨款支出: 公开05 row 合计 col 1", "一般公共预算财政拨款支出: 公开05 row 合计 col 2"), encoding="utf-8")
    got = [(f.code, f.expected, f.actual) for f in check_narrative(line, seed, spec=load_spec(other)) if f.severity == ERROR]
    assert got == [("narrative-amount-mismatch", "975.45", "2,128.85")]


def test_a_label_over_no_figure_is_a_spec_mistake(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "figures: [公开01 row 28 col 1]", "figures: [公开01 row 280 col 1]", "figures.yaml")
    res = CliRunner().invoke(cli, ["check-spec", str(folder)])
    assert res.exit_code == 2 and "说明用语 使用非财政拨款结余：'公开01 row 280 col 1' 既不是数字名称，也不是有效的表达式" in res.output


MEASURED = """id: 公开10
sheet: 公开10表
title: 车辆及用房情况表
number: 公开10表
header:
  - [项目, 运行维护费（万元）, 车辆数（辆）, 办公用房面积（㎡）]
  - [栏次, "1", "2", "3"]
blocks:
  - id: main
    columns:
      - {role: label, width: 24}
      - {role: value, key: "1", width: 14}
      - {role: value, key: "2", width: 12, measure: count}
      - {role: value, key: "3", width: 14, measure: area}
    rows:
      - {key: 合计, label: 合计, formula: "row 机关 + row 事业", style: total}
      - {key: 机关, label: 机关}
      - {key: 事业, label: 事业}
"""


def test_a_table_column_measures_counts_and_areas(tmp_path: Path) -> None:
    """A table's column with ``measure: count`` is whole (validation, reader check, printed whole), one
    with ``measure: area`` is ㎡; the table's 单位 line then says 金额单位：万元."""
    from decimal import Decimal

    from generator.core.dataset import Dataset
    from generator.publish.tables import table_views
    from generator.xlsx.reader import read_workbook
    from generator.xlsx.writer import build_workbook

    folder = _copy(tmp_path, "  - fubiao1.yaml\n", "  - fubiao1.yaml\n  - gongkai10.yaml\n")
    (folder / "gongkai10.yaml").write_text(MEASURED, encoding="utf-8")
    figures = folder / "figures.yaml"  # a named figure over the count column is a count in the 说明
    figures.write_text(figures.read_text(encoding="utf-8").replace(
        "figures:\n", "figures:\n  实有车辆: 公开10 row 合计 col 2\n", 1), encoding="utf-8")
    spec = load_spec(folder)
    ds = Dataset(unit_code="430100009", unit_name="测试单位", year=2024,
                 values={"公开10": {"机关": {"1": Decimal("1.50"), "2": Decimal("2"), "3": Decimal("120.50")},
                                   "事业": {"1": Decimal("0.25"), "2": Decimal("1"), "3": Decimal("80")}}})
    res = build_workbook(spec, ds, tmp_path / "m.xlsx")
    ws = openpyxl.load_workbook(res.path)["公开10表"]
    assert ws["D3"].value == "金额单位：万元"
    kinds = {str(dv.sqref): (dv.type, dv.prompt) for dv in ws.data_validations.dataValidation}
    assert kinds == {"B7:B8": ("decimal", "单位：万元，保留两位小数，不得为负数"),
                     "C7:C8": ("whole", "填整数（人数、辆、台（套）等），不得为负数"),
                     "D7:D8": ("decimal", "单位：平方米（㎡），保留两位小数，不得为负数")}
    back = read_workbook(res.path, spec=spec)
    assert back.values["公开10"]["合计"] == {"1": Decimal("1.75"), "2": Decimal("3"), "3": Decimal("200.50")}
    view = next(v for v in table_views(spec, ds) if v.id == "公开10")
    assert view.money_line == "金额单位：万元"
    assert [c.text for c in view.body[0] if c.fig is not None] == ["1.75", "3", "200.50"]
    from generator.narrative import check_narrative

    said = [(f.code, f.expected, f.actual) for f in check_narrative("单位实有车辆4辆。", ds, spec=spec) if f.severity == ERROR]
    assert said == [("narrative-count-mismatch", "3", "4")]
    ws["C7"].value = 1.5
    ws.parent.save(tmp_path / "half.xlsx")
    errors = [(f.code, f.cell) for f in read_workbook(tmp_path / "half.xlsx", spec=spec).findings
              if f.severity == ERROR and (f.cell or "").startswith("公开10")]
    assert errors == [("count-not-whole", "公开10表!C7")]


ROW_MEASURED = """id: 公开10
sheet: 公开10表
title: 会议及人数情况表
number: 公开10表
header:
  - [项目, 本年, 上年, 增减率]
  - [栏次, "1", "2", "3"]
blocks:
  - id: main
    columns:
      - {role: label, width: 24}
      - {role: value, key: "1", width: 14}
      - {role: value, key: "2", width: 14}
      - {role: value, key: "3", width: 12, measure: percent, formula: "round(div(col 1 - col 2, col 2), 4)"}
    rows:
      - {key: 会议费, label: 会议费（万元）}
      - {key: 会议次数, label: 会议次数（次）, measure: count}
"""

SECTION_COUNTED = """id: 公开11
sheet: 公开11表
title: 分科目人数表
number: 公开11表
header:
  - [科目代码, 科目名称, 金额, 人数]
  - [{text: 栏次, colspan: 2}, "1", "2"]
blocks:
  - id: main
    section: functional
    columns:
      - {role: code, width: 12}
      - {role: name, width: 30}
      - {role: value, key: "1", width: 14}
      - {role: value, key: "2", width: 10, measure: count}
    total: {key: 合计, label: 合计, formula: "sum(items)", style: total}
    subtotal: "sum(items {code})"
    spare_rows: 2
"""


def test_a_row_measures_counts_a_column_shares_and_spare_rows_count_whole(tmp_path: Path) -> None:
    """A row with ``measure: count`` in a table of money is whole; a ``percent`` column is a computed
    share shown 0.00% (typing one in is a spec mistake); a section's count column asks and checks
    whole numbers in its spare rows too."""
    from decimal import Decimal

    from generator.core.dataset import Dataset
    from generator.publish.tables import table_views
    from generator.xlsx.reader import read_workbook
    from generator.xlsx.writer import build_workbook

    folder = _copy(tmp_path, "  - fubiao1.yaml\n", "  - fubiao1.yaml\n  - gongkai10.yaml\n  - gongkai11.yaml\n")
    (folder / "gongkai10.yaml").write_text(ROW_MEASURED, encoding="utf-8")
    (folder / "gongkai11.yaml").write_text(SECTION_COUNTED, encoding="utf-8")
    spec = load_spec(folder)
    ds = Dataset(unit_code="430100009", unit_name="测试单位", year=2024,
                 values={"公开10": {"会议费": {"1": Decimal("3.00"), "2": Decimal("4.00")},
                                   "会议次数": {"1": Decimal("6"), "2": Decimal("8")}},
                         "公开11": {"2150550": {"1": Decimal("10.00"), "2": Decimal("3")}}})
    res = build_workbook(spec, ds, tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(res.path)
    ws = wb["公开10表"]
    assert ws["D3"].value == "金额单位：万元"
    assert (ws["B6"].number_format, ws["B7"].number_format, ws["D6"].number_format) == ("#,##0.00", "General", "0.00%")
    kinds = {str(dv.sqref): dv.type for dv in ws.data_validations.dataValidation}
    assert kinds == {"B6": "decimal", "C6": "decimal", "B7": "whole", "C7": "whole"}
    back = read_workbook(res.path, spec=spec)
    assert back.values["公开10"]["会议费"]["3"] == Decimal("-0.25") and back.values["公开10"]["会议次数"]["3"] == Decimal("-0.25")
    view = next(v for v in table_views(spec, ds) if v.id == "公开10")
    assert [c.text for c in view.body[1] if c.fig is not None] == ["6", "8", "-25.00%"]
    # a fraction of a count in the count row, and in the section's spare row: each refused
    sp = res.plan.spare["公开11"]
    ws["B7"].value = 6.5
    wb["公开11表"].cell(row=sp.first + 1, column=sp.code_col + 1).value = "2150599"
    wb["公开11表"].cell(row=sp.first + 1, column=sp.value_cols["2"] + 1).value = 1.5
    wb.save(tmp_path / "half.xlsx")
    back = read_workbook(tmp_path / "half.xlsx", spec=spec)
    assert [(f.code, f.cell) for f in back.findings if f.code == "count-not-whole"] == [
        ("count-not-whole", "公开10表!B7"), ("count-not-whole", f"公开11表!D{sp.first + 1}")]
    assert back.dataset.values["公开11"]["2150599"]["2"] == 0  # the 1.5 not imported
    for r in (sp.first + 1, sp.last + 1):  # the spare rows' count cells ask for whole numbers
        assert [dv.type for dv in wb["公开11表"].data_validations.dataValidation if f"D{r}" in dv.sqref] == ["whole"]


def test_a_share_typed_in_is_a_spec_mistake(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "  - fubiao1.yaml\n", "  - fubiao1.yaml\n  - gongkai10.yaml\n")
    (folder / "gongkai10.yaml").write_text(ROW_MEASURED.replace(', formula: "round(div(col 1 - col 2, col 2), 4)"', ""),
                                           encoding="utf-8")
    res = CliRunner().invoke(cli, ["check-spec", str(folder)])
    assert res.exit_code == 2 and "行 会议费 栏 3 是百分比（percent），只能由公式计算，须给出 formula" in res.output


STACKED = """id: 公开10
sheet: 公开10表
title: 国有资产使用情况表
number: 公开10表
header:
  - [项目, 行次, 资产总额, 流动资产, 固定资产, 无形资产]
  - [栏次, "", "1", "2", "3", "4"]
blocks:
  - id: assets
    columns:
      - {role: label, width: 24}
      - {role: line, width: 6}
      - {role: value, key: "1", width: 14, formula: "col 2 + col 3 + col 4"}
      - {role: value, key: "2", width: 12}
      - {role: value, key: "3", width: 12}
      - {role: value, key: "4", width: 12}
    rows:
      - {key: "1", label: 合计, formula: "row 2 + row 3", style: total}
      - {key: "2", label: 行政单位}
      - {key: "3", label: 事业单位}
  - id: vehicles
    header:
      - [车辆, 行次, 合计（辆）, 领导用车（辆）, 执法执勤用车（辆）, 其他用车（辆）]
    columns:
      - {role: label, width: 30}
      - {role: line, width: 6}
      - {role: value, key: 辆, width: 12, measure: count, formula: "col 领导 + col 执法 + col 其他"}
      - {role: value, key: 领导, width: 12, measure: count}
      - {role: value, key: 执法, width: 12, measure: count}
      - {role: value, key: 其他, width: 12, measure: count}
    rows:
      - {key: "4", label: 实有车辆}
"""


def test_a_row_group_stacked_under_another_with_its_own_header(tmp_path: Path) -> None:
    """A block with a ``header`` of its own starts a row group under the blocks above it: its header
    rows are printed there, its columns (counts here) are its own, and the table is read, checked and
    printed as one."""
    from decimal import Decimal

    from generator.core.dataset import Dataset
    from generator.publish.tables import table_views
    from generator.xlsx.reader import read_workbook
    from generator.xlsx.writer import build_workbook

    folder = _copy(tmp_path, "  - fubiao1.yaml\n", "  - fubiao1.yaml\n  - gongkai10.yaml\n")
    (folder / "gongkai10.yaml").write_text(STACKED, encoding="utf-8")
    spec = load_spec(folder)
    assert [[b.id for b in blocks] for _h, blocks in spec.tables["公开10"].groups] == [["assets"], ["vehicles"]]
    ds = Dataset(unit_code="430100009", unit_name="测试单位", year=2024,
                 values={"公开10": {"2": {"2": Decimal("10.00"), "3": Decimal("5.50")},
                                   "3": {"3": Decimal("1.25")}, "4": {"领导": Decimal("1"), "其他": Decimal("2")}}})
    res = build_workbook(spec, ds, tmp_path / "s.xlsx")
    ws = openpyxl.load_workbook(res.path)["公开10表"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=4, max_row=10, max_col=6)]
    assert rows[0] == ["项目", "行次", "资产总额", "流动资产", "固定资产", "无形资产"]
    assert rows[2][:2] == ["合计", "1"] and rows[4][:2] == ["事业单位", "3"]
    assert rows[5] == ["车辆", "行次", "合计（辆）", "领导用车（辆）", "执法执勤用车（辆）", "其他用车（辆）"]
    assert rows[6][:2] == ["实有车辆", "4"] and rows[6][3:] == [1, None, 2]
    assert ws.column_dimensions["A"].width > 30  # the wider of the two groups' widths
    kinds = {str(dv.sqref): dv.type for dv in ws.data_validations.dataValidation}
    assert kinds["D10"] == "whole" and kinds["D7:D8"] == "decimal"
    back = read_workbook(res.path, spec=spec)
    assert [f.code for f in back.findings if f.severity == ERROR and (f.cell or "").startswith("公开10")] == []
    assert back.values["公开10"]["1"]["1"] == Decimal("16.75") and back.values["公开10"]["4"]["辆"] == Decimal("3")
    view = next(v for v in table_views(spec, ds) if v.id == "公开10")
    texts = [[c.text for c in row] for row in view.body]
    assert ["车辆", "行次", "合计（辆）", "领导用车（辆）", "执法执勤用车（辆）", "其他用车（辆）"] in texts
    assert ["实有车辆", "4", "3", "1", "0", "2"] in texts
    assert {c.kind for c in view.body[texts.index(["车辆", "行次", "合计（辆）", "领导用车（辆）", "执法执勤用车（辆）",
                                                   "其他用车（辆）"])]} == {"header"}


def test_a_stacked_group_narrower_than_the_table_is_a_spec_mistake(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "  - fubiao1.yaml\n", "  - fubiao1.yaml\n  - gongkai10.yaml\n")
    (folder / "gongkai10.yaml").write_text(STACKED.replace(
        "      - {role: value, key: 其他, width: 12, measure: count}\n", "").replace(", 其他用车（辆）]", "]").replace(
        " + col 其他", ""), encoding="utf-8")
    res = CliRunner().invoke(cli, ["check-spec", str(folder)])
    assert res.exit_code == 2 and "block vehicles 起的行组共 5 列，但表有 6 列（叠放的行组须与表同宽）" in res.output, res.output


TEXTED = """id: 公开10
sheet: 公开10表
title: 重点项目支出表
number: 公开10表
header:
  - [项目, 行次, 项目名称, 金额, 主要用途]
  - [栏次, "", "", "1", ""]
blocks:
  - id: main
    columns:
      - {role: label, width: 12}
      - {role: line, width: 6}
      - {role: text, key: 名称, width: 24, max_length: 40}
      - {role: value, key: "1", width: 14}
      - {role: text, key: 用途, width: 30}
    rows:
      - {key: "1", label: 合计, formula: "row 2 + row 3", style: total}
      - {key: "2", label: 项目一}
      - {key: "3", label: 项目二}
"""


def test_a_text_column_holds_the_units_words(tmp_path: Path) -> None:
    """A column of ``role: text`` is words the unit types in (not a figure): asked for on rows with
    figures, read back into the data's texts (bounded by max_length), printed; blank on a total row."""
    from decimal import Decimal

    from generator.core.dataset import Dataset
    from generator.publish.tables import table_views
    from generator.xlsx.reader import read_workbook
    from generator.xlsx.writer import build_workbook

    folder = _copy(tmp_path, "  - fubiao1.yaml\n", "  - fubiao1.yaml\n  - gongkai10.yaml\n")
    (folder / "gongkai10.yaml").write_text(TEXTED, encoding="utf-8")
    spec = load_spec(folder)
    assert spec.tables["公开10"].col_keys() == ["1"]  # words are not figures
    ds = Dataset(unit_code="430100009", unit_name="测试单位", year=2024,
                 values={"公开10": {"2": {"1": Decimal("12.00")}, "3": {"1": Decimal("3.50")}}},
                 texts={"公开10": {"2": {"名称": "中小企业服务平台运维", "用途": "平台运行维护"}}})
    res = build_workbook(spec, ds, tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(res.path)
    ws = wb["公开10表"]
    assert [ws[f"C{r}"].value for r in (6, 7, 8)] == [None, "中小企业服务平台运维", None]
    assert ws["C6"].protection.locked and not ws["C7"].protection.locked and not ws["E8"].protection.locked
    ws["C8"].value = "农技推广"
    ws["E8"].value = "=1+1"
    ws["E7"].value = "长" * 2001
    wb.save(tmp_path / "typed.xlsx")
    back = read_workbook(tmp_path / "typed.xlsx", spec=spec)
    assert back.dataset.texts["公开10"] == {"2": {"名称": "中小企业服务平台运维", "用途": "长" * 2000}, "3": {"名称": "农技推广"}}
    assert sorted(f.code for f in back.findings if (f.cell or "").startswith("公开10")) == ["formula-in-text-cell",
                                                                                            "text-too-long"]
    assert back.values["公开10"]["1"]["1"] == Decimal("15.50")
    view = next(v for v in table_views(spec, back.dataset) if v.id == "公开10")
    assert [c.text for c in view.body[1]] == ["项目一", "2", "中小企业服务平台运维", "12.00", "长" * 2000]
