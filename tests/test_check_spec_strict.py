"""check-spec as a strict schema (issue 26): each mistake a spec author makes that used to pass in
silence, fail later with a misleading message, or end in a traceback is named by check-spec as
``file:line: message``, exit 2. One tiny scenario each: the 2024 spec (2025 for the mapping file)
copied, broken in one place, checked through the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli.main import cli

from .conftest import ROOT, SPECS


def _copy(tmp_path: Path, version: str = "2024") -> Path:
    copy = tmp_path / "spec"
    shutil.copytree(SPECS if version == "2024" else ROOT / "specs" / version, copy)
    return copy


def _break(copy: Path, name: str, old: str, new: str) -> Path:
    p = copy / name
    text = p.read_text(encoding="utf-8")
    assert old in text, old
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


def _line(path: Path, text: str) -> int:
    """The line (1-based) of the first line of ``path`` holding ``text``."""
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def _check(copy: Path, *args: str) -> list[str]:
    """check-spec's problems (``file:line: message``); asserts exit 2 and no traceback."""
    res = CliRunner().invoke(cli, [*args, "check-spec", str(copy)] if args else ["check-spec", str(copy)])
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    lines = res.output.splitlines()
    assert lines[0] == "规格文件有误：", res.output
    return [x.strip() for x in lines[1:]]


# (file, text, replacement, text on the line named, message): each the only problem found
ONLY = [
    # the figures file: a name over a row the table lacks, an unknown key, a text over no text cell
    ("figures.yaml", "  收支总计: 公开01 row 30 col 1", "  收支总计: 公开01 row 300 col 1", "收支总计",
     "数字“收支总计”的表达式 '公开01 row 300 col 1'：公开01 没有行 300"),
    ("figures.yaml", "texts:", "text:", "text:", "数字名称文件含未知字段：text（是否应为 texts？）"),
    # unknown keys at every level, with a "did you mean" or where the key belongs
    ("gongkai02.yaml", "    spare_rows: 5", "    spare_row: 5", "spare_row",
     "block main 含未知字段：spare_row（是否应为 spare_rows？）"),
    ("gongkai07.yaml", "statement: true", "statment: true", "statment", "表 公开07 含未知字段：statment（是否应为 statement？）"),
    ("gongkai05.yaml", "    spare_rows: 5", '    spare_rows: 5\n    columns_from: {"1": "2"}', "columns_from",
     "block main 含未知字段：columns_from（columns_from 只用于 mapping.yaml 的表映射）"),
    ("gongkai03.yaml", "header:\n", "unit_label: 单位：万元\nheader:\n", "unit_label", "表 公开03 含未知字段：unit_label"),
    ("spec.yaml", "title: 部门决算公开表", "titel: 部门决算公开表", "titel", "spec.yaml 含未知字段：titel（是否应为 title？）"),
    ("gongkai09.yaml", '      - {key: "1"}', '      - {key: "1", lable: 一}', "lable", "行 1 含未知字段：lable（是否应为 label？）"),
    ("gongkai09.yaml", '{role: value, key: "2", width: 11}', '{role: value, key: "2", widht: 11}', "widht",
     "列 2 含未知字段：widht（是否应为 width？）"),
    ("gongkai09.yaml", "{text: 预算数, colspan: 6}", "{text: 预算数, colspan: 6, rowpsan: 1}", "rowpsan",
     "表头单元格含未知字段：rowpsan（是否应为 rowspan？）"),
    ("gongkai09.yaml", "  orientation: landscape", "  orientaton: landscape", "orientaton",
     "print 含未知字段：orientaton（是否应为 orientation？）"),
    ("fujian2.yaml", "      spare_rows: 5", "      spare_rows: 5\n      lable: 指标", "lable",
     "indicators 含未知字段：lable（是否应为 label？）"),
    ("fujian2.yaml", "{value: 分值, format: score, formula: \"10\"}", "{value: 分值, fromat: score, formula: \"10\"}",
     "fromat", "表单单元格含未知字段：fromat（是否应为 format？）"),
    ("fujian2.yaml", "  - key: 总体目标\n    height: 90", "  - key: 总体目标\n    hieght: 90", "hieght",
     "表单行 总体目标 含未知字段：hieght（是否应为 height？）"),
    ("fujian3.yaml", "spare_repeats: 1", "spare_repeat: 1", "spare_repeat",
     "表 附件3 含未知字段：spare_repeat（是否应为 spare_repeats？）"),
    ("codes/economic.yaml", "name: 部门预算支出经济分类科目", "nmae: 部门预算支出经济分类科目", "nmae",
     "代码表 economic 含未知字段：nmae（是否应为 name？）"),
    ("rules.yaml", "  - id: g01-balance\n    severity: error", "  - id: g01-balance\n    severty: error", "severty",
     "规则 g01-balance 含未知字段：severty（是否应为 severity？）"),
    ("rules.yaml", "foreach: {items_of: 公开07, total: true}", "foreach: {items_of: 公开07, totl: true}", "totl",
     "foreach 含未知字段：totl（是否应为 total？）"),
    ("rules.yaml", "rules:\n", "version: 1\nrules:\n", "version:", "规则文件含未知字段：version（version 只用于 spec.yaml）"),
    # integers, numbers and true/false that are not: a traceback or a silent misreading before
    ("gongkai08.yaml", "{text: 项目, colspan: 2}", "{text: 项目, colspan: five}", "five", "colspan 应为整数，实为 five"),
    ("fujian1.yaml", "widths: [30, 10,", "widths: [30, a,", "widths", "widths 的第 2 项应为数字，实为 a"),
    ("gongkai09.yaml", '{role: value, key: "2", width: 11}', '{role: value, key: "2", width: wide}', "wide",
     "width 应为数字，实为 wide"),
    ("gongkai02.yaml", "    spare_rows: 5", "    spare_rows: -1", "spare_rows", "spare_rows 应为不小于 0 的整数，实为 -1"),
    ("gongkai07.yaml", "statement: true", 'statement: "no"', "statement", "statement 应为 true 或 false，实为 no"),
    ("spec.yaml", "year: 2024", "year: 二〇二四", "year", "year 应为整数，实为 二〇二四"),
    ("gongkai09.yaml", "print:\n  orientation: landscape\n  paper: A4\n  fit_width: true", "print: landscape", "print:",
     "print 应为映射，实为 landscape"),
    ("gongkai09.yaml", "  orientation: landscape", "  orientation: sideways", "orientation",
     "orientation 应为 landscape、portrait 之一，实为 sideways"),
    ("gongkai09.yaml", '      - {key: "1"}', '      - {key: "1", style: bold}', "bold", "style 应为 total 之一，实为 bold"),
    ("rules.yaml", "foreach: {items_of: 公开07, total: true}", "foreach: 公开07", "foreach: 公开07",
     "foreach 应为映射或列表，实为 公开07"),
    ("gongkai05.yaml", 'formula: "col 2 + col 3"', "formula: [col 2, col 3]", "formula: [col 2",
     "formula 应为表达式（文字，数字也须加引号），实为列表"),
    # the codes of fixed rows are in their code list (was: a row named "" and, in a range, a misleading message)
    ("gongkai06.yaml", '      - {key: "31099"}', '      - {key: "31099"}\n      - {key: "31098"}', '"31098"',
     "行 31098 的科目代码 31098 不在代码表 economic 中"),
    ("gongkai01.yaml", '{key: "31", label: 一、一般公共服务支出, code: "201"}', '{key: "31", label: 一、一般公共服务支出, code: "291"}',
     'code: "291"', "行 31 的科目代码 291 不在任何代码表中"),
    # items_of over a table without a 科目 section (was: "公开09 没有行 2150550")
    ("rules.yaml", "foreach: {items_of: 公开07, total: true}", "foreach: {items_of: 公开09, total: true}", "id: g07-closing",
     "规则 g07-closing：foreach items_of 的表 公开09 没有科目 section（items_of 只用于科目表或有指标区的表单）"),
    ("rules.yaml", "foreach: {rows_of: 公开01, block: expenditure, with: code}",
     "foreach: {rows_of: 公开01, block: spending, with: code}", "id: g01-g03-class",
     "规则 g01-g03-class：foreach rows_of 的表 公开01 没有 block spending"),
    # a circular formula (was: RecursionError in the build)
    ("gongkai09.yaml", 'formula: "col 2 + col 3 + col 6"', 'formula: "col 2 + col 3 + col 1"', 'key: "1", width: 11',
     "公式循环引用：公开09 row 1 col 1 → 公开09 row 1 col 1"),
    ("gongkai01.yaml", 'formula: "sum(rows 1..8)"', 'formula: "sum(rows 1..8) + row 30"', 'key: "27"',
     "公式循环引用：公开01 row 27 col 1 → 公开01 row 30 col 1 → 公开01 row 27 col 1"),
]


@pytest.mark.parametrize(("name", "old", "new", "at", "message"), ONLY, ids=[c[4][:30] for c in ONLY])
def test_each_mistake_is_one_problem_at_its_line(tmp_path: Path, name: str, old: str, new: str, at: str,
                                                 message: str) -> None:
    copy = _copy(tmp_path)
    p = _break(copy, name, old, new)
    assert _check(copy) == [f"{p}:{_line(p, at)}: {message}"]


def test_a_cycle_through_two_tables(tmp_path: Path) -> None:
    """公开09's 合计 (栏1) from 公开01, whose 本年收入合计 is made to depend on 公开09 栏1."""
    copy = _copy(tmp_path)
    _break(copy, "gongkai09.yaml", 'formula: "col 2 + col 3 + col 6"', 'formula: "col 2 + col 3 + 公开01 row 27 col 1"')
    g01 = _break(copy, "gongkai01.yaml", 'formula: "sum(rows 1..8)"', 'formula: "sum(rows 1..8) + 公开09 row 1 col 1"')
    assert _check(copy) == [f"{g01}:{_line(g01, '公开09 row 1 col 1')}: "
                            "公式循环引用：公开01 row 27 col 1 → 公开09 row 1 col 1 → 公开01 row 27 col 1"]


def test_a_circular_formula_stops_the_build_too(tmp_path: Path) -> None:
    """The schema and the checks run wherever a spec is loaded: build says the cycle, exit 2."""
    copy = _copy(tmp_path)
    _break(copy, "gongkai09.yaml", 'formula: "col 2 + col 3 + col 6"', 'formula: "col 2 + col 3 + col 1"')
    res = CliRunner().invoke(cli, ["build", "--specs", str(copy), "--unit", "1", "--name", "x", "-o",
                                   str(tmp_path / "x.xlsx")])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert "公式循环引用：公开09 row 1 col 1" in res.output


def test_two_sections_in_one_table(tmp_path: Path) -> None:
    """Was: passed check-spec, then the build failed with "不在代码表中"."""
    copy = _copy(tmp_path)
    g05 = _break(copy, "gongkai05.yaml", "blocks:\n", "blocks:\n  - id: by-economic\n    section: economic\n"
                 "    columns: [{role: code}, {role: name}, {role: value, key: \"9\"}]\n"
                 "    total: {key: 经济合计, formula: \"sum(items)\"}\n")
    problems = _check(copy)
    assert f"{g05}:{_line(g05, '  - id: main')}: 一张表只能有一个科目 section：block main 与 block by-economic 都有 section" \
        in problems


def test_a_table_id_that_is_not_one(tmp_path: Path) -> None:
    """Was: noticed only where a rule names the table."""
    copy = _copy(tmp_path)
    g09 = _break(copy, "gongkai09.yaml", "id: 公开09", "id: 三公表")
    assert f"{g09}:{_line(g09, 'id: 三公表')}: id 应为表 id（公开NN、附件N 或 附表N），实为 三公表" in _check(copy)
    copy = _copy(tmp_path / "rule")
    rules = _break(copy, "rules.yaml", "    table: 公开07\n", "    table: 公开7\n")
    assert f"{rules}:{_line(rules, 'table: 公开7')}: table 应为表 id（公开NN、附件N 或 附表N），实为 公开7" in _check(copy)


def test_a_range_over_a_row_that_is_not_there(tmp_path: Path) -> None:
    """rows a..b where a is no row of the table: named, not "不在同一区块中"."""
    copy = _copy(tmp_path)
    g06 = _break(copy, "gongkai06.yaml", 'formula: "row 301 + row 303"', 'formula: "sum(rows 31302..31304)"')
    assert _check(copy) == [f"{g06}:{_line(g06, 'sum(rows 31302..31304)')}: "
                            "表达式 'sum(rows 31302..31304)'：公开06 rows 31302..31304：没有行 31302"]


MAPPING = [
    ("previous: \"2024\"", "previos: \"2024\"", "previos", "映射文件含未知字段：previos（是否应为 previous？）"),
    ('    columns_from: {"1": "3", "2": "4", "3": "5"}', '    column_from: {"1": "3", "2": "4", "3": "5"}', "column_from",
     "公开08 的映射含未知字段：column_from（是否应为 columns_from？）"),
    ("  公开04:\n", "  公开4:\n", "公开4:", "tables 的键 公开4 应为表 id（公开NN、附件N 或 附表N），实为 公开4"),
]


@pytest.mark.parametrize(("old", "new", "at", "message"), MAPPING, ids=[c[3][:24] for c in MAPPING])
def test_mapping_file_mistakes(tmp_path: Path, old: str, new: str, at: str, message: str) -> None:
    copy = _copy(tmp_path, "2025")
    p = _break(copy, "mapping.yaml", old, new)
    assert f"{p}:{_line(p, at)}: {message}" in _check(copy)


def test_the_shipped_specs_pass() -> None:
    for version in ("2024", "2025", "sichuan-2024"):
        res = CliRunner().invoke(cli, ["check-spec", str(ROOT / "specs" / version)])
        assert res.exit_code == 0 and "有效" in res.output, res.output


# a value of the wrong shape anywhere: a problem named at its line, never a traceback
HOSTILE = [
    ("spec.yaml", "rules: rules.yaml", "rules: [rules.yaml]", "rules 应为文字，实为列表"),
    ("spec.yaml", "codelists:\n", "codelists: 5\nx:\n", "codelists 应为列表，实为 5"),
    ("gongkai09.yaml", "    rows:\n      - {key: \"1\"}", "    rows: 5", "rows 应为列表，实为 5"),
    ("gongkai09.yaml", '      - {key: "1"}', '      - {key: "1", renamed_from: {a: 1}}', "renamed_from 应为文字或列表，实为映射"),
    ("gongkai02.yaml", '    subtotal: "sum(items {code})"', '    subtotal: "sum(items {cod})"',
     "subtotal 'sum(items {cod})'：花括号中只能写 {code}（类/款行的科目代码）"),
    ("fujian2.yaml", "widths: [6, 16, 12, 24, 16, 16, 9, 9, 24]", "widths: 30", "widths 应为列表，实为 30"),
    ("fujian2.yaml", "  - indicators:\n      label: 绩效指标", "  - indicators: [1, 2]\n    x:\n      label: 绩效指标",
     "indicators 应为映射，实为列表"),
    ("fujian3.yaml", "consolidate: list", "consolidate: average", "consolidate 应为 sum、list 之一，实为 average"),
    ("rules.yaml", "foreach: {items_of: 公开07, total: true}", "foreach: [1, 2]", "foreach 的第 1 项应为映射，实为 1"),
    ("rules.yaml", "foreach: {items_of: 公开07, total: true}", "foreach: {}",
     "规则 g07-closing 的 expr 用了 {code}，但 foreach 没有给出它"),
    ("codes/economic.yaml", "codes:\n", "codes: [1, 2]\nx:\n", "代码表 economic 含未知字段：x"),
]


@pytest.mark.parametrize(("name", "old", "new", "message"), HOSTILE, ids=[c[3][:24] for c in HOSTILE])
def test_a_value_of_the_wrong_shape_is_no_traceback(tmp_path: Path, name: str, old: str, new: str, message: str) -> None:
    copy = _copy(tmp_path)
    p = _break(copy, name, old, new)
    problems = _check(copy)
    assert any(x.startswith(f"{p}:") and x.endswith(f": {message}") for x in problems), problems


# the Sichuan format's language (issue 26): code-list levels and columns generated from a code list
SICHUAN = [
    ("codes/economic.yaml", "levels: [3, 5]", "levels: [5, 3]", "levels:",
     "levels 应为递增的位数列表（如 [3, 5, 7]），实为 [5, 3]"),
    ("codes/economic.yaml", '  "30101": 基本工资', '  "30101": 基本工资\n  "3010101": 基本工资（七位）', '"3010101"',
     "代码 3010101 的位数不是代码表的层级位数 [3, 5] 之一"),
]


@pytest.mark.parametrize(("name", "old", "new", "at", "message"), SICHUAN, ids=[c[4][:30] for c in SICHUAN])
def test_each_sichuan_language_mistake_is_one_problem_at_its_line(tmp_path: Path, name: str, old: str, new: str,
                                                                  at: str, message: str) -> None:
    copy = _copy(tmp_path, "sichuan-2024")
    p = _break(copy, name, old, new)
    assert _check(copy) == [f"{p}:{_line(p, at)}: {message}"]


def test_a_generated_columns_code_not_in_its_list(tmp_path: Path) -> None:
    """(the rules over the column it would have been then say it is missing too)"""
    copy = _copy(tmp_path, "sichuan-2024")
    p = _break(copy, "gongkai05.yaml", '"307", "309"', '"307", "308"')
    assert _check(copy)[0] == f"{p}:{_line(p, 'codelist: economic, codes:')}: 列的代码 308 不在代码表 economic 中"


def test_a_generated_column_without_its_codes_and_a_header_over_no_such_columns(tmp_path: Path) -> None:
    copy = _copy(tmp_path, "sichuan-2024")
    p = _break(copy, "gongkai05.yaml", 'codes: ["301", "302", "303", "307", "309", "310", "312", "399"], ', "")
    at = _line(p, "codelist: economic")
    problems = _check(copy)
    assert f"{p}:{at}: 由代码表生成的列须有 codes（代码列表）或 level（位数）" in problems
    assert f"{p}:{_line(p, '[科目代码, 科目名称, {codes_of: economic}]')}: 表头 codes_of: economic 没有对应的由代码表生成的列" in problems
