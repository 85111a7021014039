"""Every problem a spec folder can have, one edit each, named with its file, line and message (what
`juesuan check-spec` prints). The 2024 spec is copied and broken in one place per case."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.core.catalog import load_spec
from generator.core.spec import SpecInvalid

from .conftest import SPECS

# (file, text to replace, replacement, message expected, line expected to hold this text or None)
CASES = [
    ("gongkai09.yaml", "header:\n", "header: 表头\nold_header:\n", "header 应为表头行的列表", None),
    ("gongkai09.yaml", '  - ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]',
     '  - "1"', "header 的每一行应为单元格列表", None),
    ("gongkai09.yaml", '      - {key: "1"}', '      - "1"', "行定义须为含 key 的映射", None),
    ("gongkai09.yaml", '      - {key: "1"}', '      - {key: "1", colour: red}', "行 1 含未知字段：colour", 'colour: red'),
    ("gongkai09.yaml", "      - {role: value, key: \"2\", width: 11}", "      - {role: money, key: \"2\", width: 11}",
     "列的 role 应为", "role: money"),
    ("gongkai09.yaml", "      - {role: value, key: \"2\", width: 11}", "      - {role: value, width: 11}",
     "数值列须有 key（栏次）", None),
    ("gongkai09.yaml", "blocks:\n  - id: main\n", "blocks:\n  - 主表\n  - id: main\n", "block 应为映射", None),
    ("gongkai03.yaml", "      - {role: code, width: 12}\n", "", "科目 section 须有 code 与 name 列", None),
    ("gongkai03.yaml", '    total: {key: 合计, label: 合计, formula: "sum(items)", style: total}\n', "",
     "科目 section 须定义 total（合计行）", None),
    ("gongkai03.yaml", "    section: functional", "    section: functional2", "未知代码表：functional2", None),
    ("gongkai09.yaml", "sheet: 公开09表\n", "", "缺少字段 sheet", None),
    ("gongkai09.yaml", "    rows:\n      - {key: \"1\"}", "    rows: []", "block main 没有行", None),
    ("gongkai06.yaml", '- {key: "30102"}', '- {key: "30101"}', "行 key 重复：30101", None),
    ("rules.yaml", "  - id: g01-expend-total\n", "  - id: g01-income-total\n", "规则 id 重复：g01-income-total", None),
    ("rules.yaml", "  - id: g01-expend-total\n    severity: error\n", "  - id: g01-expend-total\n    severity: fatal\n",
     "规则 g01-expend-total 的 severity 应为 error 或 warning", None),
    ("rules.yaml", "    kind: subset\n", "    kind: superset\n", "规则 g05-in-g03 的 kind 应为", None),
    ("rules.yaml", '    expr: "row 60 = row 57 + row 58 + row 59"\n', "", "规则 g01-expend-total 缺少 expr", None),
    ("rules.yaml", "rules:\n", "rulez:\n", "rules 文件须含 rules 列表", None),
    ("rules.yaml", "  - id: g01-expend-total\n", "  - 规则\n  - id: g01-expend-total\n", "规则须为含 id 的映射", None),
    ("spec.yaml", "year: 2024\n", "", "缺少字段 year", None),
    ("spec.yaml", "  - gongkai09.yaml\n", "  - gongkai09.yaml\n  - gongkai09.yaml\n", "表 公开09 重复定义", None),
    ("codes/economic.yaml", '  "30101": 基本工资', '  "3010A": 基本工资', "代码应为数字：3010A", None),
    ("codes/economic.yaml", "codes:\n", "kodes:\n", "代码表须含 id 与 codes 映射", None),
    ("rules.yaml", "rules:\n", "rules: [\n", "YAML", None),  # a syntax error is a problem, not a crash
    # a 附件 form's expressions: named at the form row's line
    ("fujian2.yaml", '{grade: "row 总分 col 得分"', '{grade: "row 总分 col 得分得"', "表达式 'row 总分 col 得分得'",
     "key: 自评等级"),
    ("fujian2.yaml", 'formula: "row 年度资金总额 col 分值 + sum(items)"', 'formula: "row 年度资金总额 col 分 + sum(items)"',
     "表达式 'row 年度资金总额 col 分 + sum(items)'", "key: 总分"),
]


@pytest.mark.parametrize(("name", "old", "new", "message", "at"), CASES, ids=[c[3][:24] for c in CASES])
def test_each_spec_problem_is_named(tmp_path: Path, name: str, old: str, new: str, message: str, at: str | None) -> None:
    copy = tmp_path / "spec"
    shutil.copytree(SPECS, copy)
    p = copy / name
    text = p.read_text(encoding="utf-8")
    assert old in text, old
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SpecInvalid) as exc:
        load_spec(copy)
    hits = [q for q in exc.value.problems if message in q.message]
    assert hits, "\n".join(str(q) for q in exc.value.problems)
    # the file named is the one edited (a table listed twice: the table's file)
    want = "gongkai09.yaml" if message.startswith("表 公开09") else Path(name).name
    assert all(Path(q.file).name == want for q in hits)
    if at is not None:
        assert hits[0].line is not None
        assert at in p.read_text(encoding="utf-8").splitlines()[hits[0].line - 1]


def test_a_spec_folder_that_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text("- 不是映射\n", encoding="utf-8")
    with pytest.raises(SpecInvalid) as exc:
        load_spec(tmp_path)
    assert [q.message for q in exc.value.problems] == ["spec.yaml 应为映射"]
    empty = tmp_path / "none"
    empty.mkdir()
    with pytest.raises(SpecInvalid) as exc:
        load_spec(empty)
    assert any("文件不存在" in q.message for q in exc.value.problems)
