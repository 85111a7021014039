"""The spec diff of 2024 → 2025, its Markdown, and the diff-spec command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli.main import cli
from generator.core.catalog import load_spec
from generator.core.spec import Spec
from generator.office.specdiff import SpecDiff, column_captions, compress_keys, diff_specs, render_markdown

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def spec25() -> Spec:
    return load_spec(ROOT / "specs" / "2025")


@pytest.fixture(scope="module")
def diff(spec: Spec, spec25: Spec) -> SpecDiff:
    return diff_specs(spec, spec25)


def test_two_dropped_classes(diff: SpecDiff) -> None:
    for tid, keys in (("公开01", ["54", "55"]), ("公开04", ["56", "57"])):
        t = diff.table(tid)
        assert t is not None and t.status == "changed"
        removed = [(r.old[0].key, r.old[0].label) for r in t.rows_removed]
        assert [k for k, _ in removed] == keys
        assert "债务还本支出" in removed[0][1] and "债务付息支出" in removed[1][1]
        assert all(r.reason for r in t.rows_removed)
        assert t.rows_added == []


def test_dropped_line_column_and_stable_keys(diff: SpecDiff) -> None:
    for tid in ("公开01", "公开04"):
        t = diff.table(tid)
        assert t is not None
        assert sorted(t.role_cols_removed) == [("expenditure", "line"), ("income", "line")]
        assert t.header_old and t.header_new and "行次" in t.header_old[1] and "行次" not in t.header_new[1]
        assert t.cols_added == t.cols_removed == t.cols_renamed == []
    renamed = {r.old[0].key: r.new[0].key for r in diff.table("公开01").rows_renamed}  # type: ignore[union-attr]
    assert renamed["44"] == "215" and renamed["27"] == "本年收入合计" and renamed["56"] == "234"
    # the 26 → 24 renumbering shows as a label change on the renamed row
    r234 = next(r for r in diff.table("公开01").rows_renamed if r.new[0].key == "234")  # type: ignore[union-attr]
    assert r234.old[0].label.startswith("二十六") and r234.new[0].label.startswith("二十四")
    # spacer rows are layout only, not content
    assert compress_keys(diff.table("公开01").blank_rows_removed) == "9–26"  # type: ignore[union-attr]


def test_g08_relayout(diff: SpecDiff) -> None:
    t = diff.table("公开08")
    assert t is not None and t.status == "changed"
    assert [(c.key, c.caption) for c in t.cols_added] == [("1", "年初结转和结余"), ("2", "本年收入"), ("6", "年末结转和结余")]
    assert [(c.old.key, c.new.key) for c in t.cols_renamed if c.old and c.new] == [("1", "3"), ("2", "4"), ("3", "5")]
    assert t.cols_removed == []
    assert any(c.startswith("表名") for c in t.changes)
    assert "年初结转和结余" in " ".join(t.header_new)
    (f,) = t.formulas
    assert (f.old, f.new, f.same_meaning) == ("col 2 + col 3", "col 4 + col 5", True)


def test_formula_changes_tell_renames_from_meaning(diff: SpecDiff) -> None:
    t = diff.table("公开01")
    assert t is not None
    by_where = {f.where: f for f in t.formulas}
    assert by_where["行 本年收入合计（原 27）"].same_meaning is True
    spend = by_where["行 本年支出合计（原 57）"]
    assert spend.same_meaning is False and "债务还本支出" in spend.detail and "债务付息支出" in spend.detail


def test_rules(diff: SpecDiff) -> None:
    added = [r.id for r in diff.rules if r.kind == "added"]
    assert added == ["g08-closing"]
    assert [r.id for r in diff.rules if r.kind == "removed"] == []
    g48 = diff.rule("g04-g08-total")
    assert g48 is not None and g48.kind == "changed" and g48.same_meaning is True  # col 1 -> col 3 is the same 合计
    cls = diff.rule("g01-g03-class")
    assert cls is not None and cls.same_meaning is False and len(cls.instances_removed) == 2
    assert diff.rule("g09-car-vs-g06") is None  # unchanged
    assert diff.rules_unchanged == 24  # 9 on the 公开 tables, 9 of the 10 附件 rules (附件2-公开01: 57 → 本年支出合计), the 6 of 附表1
    assert diff.problems == [] and diff.codelists == []
    assert [t.id for t in diff.unchanged_tables] == ["公开02", "公开03", "公开05", "公开06", "公开07", "公开09",
                                                    "附表1", "附件1", "附件2", "附件3"]


def test_markdown(diff: SpecDiff) -> None:
    md = render_markdown(diff)
    assert md.startswith("# 部门决算公开表规格变更说明：2024 版 → 2025 版")
    for text in ("债务还本支出", "债务付息支出", "删除“行次”列", "## 公开08表 国有资本经营预算财政拨款收入支出决算表",
                 "| — | — | 1 | 年初结转和结余 | 新增，须填报 |", "| 1 | 本年支出/合计 | 3 | 本年支出/小计 |",
                 "| 44 | 215 | 十四、资源勘探工业信息等支出 |", "公开08表 各科目 年末结转和结余(栏6)", "juesuan migrate"):
        assert text in md, text
    assert "\n\n\n" not in md
    # words for the units who read it: no placeholder, no rule id, no expression syntax, no block id
    import re

    assert not re.search(r"\{[a-z_]+\}|\bg0\d-|\brow \w|\bcol \w|sum\(|\bincome\b|\bexpenditure\b", md), \
        re.search(r".{30}(\{[a-z_]+\}|\bg0\d-|\brow \w|\bcol \w|sum\(|\bincome\b).{30}", md)


def test_same_spec_has_no_changes(spec: Spec) -> None:
    d = diff_specs(spec, spec)
    assert d.changed_tables == [] and d.rules == [] and d.rules_unchanged == len(spec.rules)
    assert "各表均无变化" in render_markdown(d)


def test_unchanged_rule_text_with_new_meaning_is_flagged(tmp_path: Path) -> None:
    # the same rule text in both versions, but 公开08 栏 1 is 合计 in 2024 and 年初结转和结余 in 2025
    rule = ('  - {id: x-g08, severity: warning, expr: "公开08 row 合计 col 1 >= 0", message: 公开08表 合计栏1 不应为负}\n')
    dirs = []
    for version in ("2024", "2025"):
        d = tmp_path / version
        shutil.copytree(ROOT / "specs" / version, d)
        with (d / "rules.yaml").open("a", encoding="utf-8") as fh:
            fh.write(rule)
        dirs.append(load_spec(d))
    d = diff_specs(*dirs)
    rc = d.rule("x-g08")
    assert rc is not None and rc.fields == [] and rc.same_meaning is False
    assert "公式文字未变，但所引用的行、栏在新版中含义已变" in render_markdown(d)


def test_column_captions(spec: Spec) -> None:
    caps = column_captions(spec.tables["公开09"])
    assert caps[("main", "11")] == "决算数/公务用车购置及运行维护费/公务用车运行维护费"
    assert column_captions(spec.tables["公开01"])[("income", "1")] == "收入/金额"


def test_diff_spec_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "diff.md"
    r = runner.invoke(cli, ["diff-spec", str(ROOT / "specs" / "2024"), "2025", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "债务付息支出" in out.read_text(encoding="utf-8")
    r = runner.invoke(cli, ["diff-spec", "2024", "2025", "--json"])
    assert r.exit_code == 0
    doc = json.loads(r.output)
    assert doc["old_version"] == "2024" and any(t["id"] == "公开08" and t["status"] == "changed" for t in doc["tables"])
    r = runner.invoke(cli, ["diff-spec", "2024", str(tmp_path / "nowhere")])
    assert r.exit_code == 2
