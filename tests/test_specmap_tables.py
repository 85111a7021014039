"""Version mappings when a table comes or goes: a table new in a version has nowhere to come from
(a renamed_from on it is a problem), going back a version its figures have no home, and a table a
version drops takes its figures nowhere — each said with its reason."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from generator.core.catalog import load_spec
from generator.core.specmap import GONE, resolve
from generator.office.migrate import Unplaced, migrate_values

ROOT = Path(__file__).resolve().parent.parent


def _with_table_10(tmp_path: Path, version: str = "2025", extra_row: str = "") -> Path:
    """The 2025 spec plus 公开10 (a copy of 公开09)."""
    d = tmp_path / f"spec-{version}-10"
    shutil.copytree(ROOT / "specs" / "2025", d)
    g09 = (d / "gongkai09.yaml").read_text(encoding="utf-8")
    g10 = g09.replace("id: 公开09", "id: 公开10").replace("sheet: 公开09表", "sheet: 公开10表").replace(
        "number: 公开09表", "number: 公开10表")
    if extra_row:
        g10 = g10.replace('      - {key: "1"}', '      - {key: "1"' + extra_row + "}")
    (d / "gongkai10.yaml").write_text(g10, encoding="utf-8")
    manifest = (d / "spec.yaml").read_text(encoding="utf-8")
    (d / "spec.yaml").write_text(manifest.replace("  - gongkai09.yaml\n", "  - gongkai09.yaml\n  - gongkai10.yaml\n"),
                                 encoding="utf-8")
    return d


def _edited_2025(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of the 2025 spec with one text of one file replaced (which must be there)."""
    d = tmp_path / "edited-2025"
    shutil.copytree(ROOT / "specs" / "2025", d)
    p = d / name
    text = p.read_text(encoding="utf-8")
    assert old in text, old
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return d


def test_a_new_table_has_no_source_and_going_back_its_figures_have_no_home(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new = load_spec(_with_table_10(tmp_path))
    fwd = resolve(spec, new)
    assert fwd.problems == [] and fwd.table("公开10").old is None and fwd.table("公开10").rows == {}
    back = resolve(new, spec)
    assert back.reverse and back.problems == []
    tm = back.table("公开10")
    assert tm.old is not None and tm.new is None
    assert tm.row("1").kind == GONE and tm.row("1").reason == "旧版没有此表"
    assert tm.cols == dict.fromkeys(tm.old.col_keys()) and set(tm.col_kind.values()) == {GONE}
    tgt = back.figure("公开10", "1", "2")
    assert tgt.fig is None and tgt.reason == "新版没有此表"
    values = {"公开10": {"1": {"2": Decimal("3.00")}}, "公开09": {"1": {"2": Decimal("1.00")}}}
    out, unplaced, mapped = migrate_values(new, spec, values, back)
    assert unplaced == [Unplaced("公开10", "1", "2", Decimal("3.00"))]
    assert out["公开09"]["1"]["2"] == Decimal("1.00") and len(mapped) == 1


def test_renamed_from_on_a_new_table_is_a_problem(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new = load_spec(_with_table_10(tmp_path, extra_row=', renamed_from: ["1"]'))
    problems = resolve(spec, new).problems
    assert [p.message for p in problems] == ["公开10 是新增的表，行 1 的 renamed_from/merged_from 无处对应"]
    assert problems[0].file.endswith("gongkai10.yaml") and problems[0].line


def test_a_table_dropped_by_the_next_version(tmp_path: Path) -> None:
    old = load_spec(_with_table_10(tmp_path))
    d = tmp_path / "spec-2026"
    shutil.copytree(ROOT / "specs" / "2025", d)
    for name in ("spec.yaml", "mapping.yaml"):
        p = d / name
        text = p.read_text(encoding="utf-8").replace('previous: "2024"', 'previous: "2025"')
        p.write_text(text.replace('version: "2025"', 'version: "2026"').replace("year: 2025", "year: 2026"),
                     encoding="utf-8")
    mapping = d / "mapping.yaml"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text.split("tables:")[0] + "tables: {}\n", encoding="utf-8")
    new = load_spec(d)
    sm = resolve(old, new)
    # (the copied tables still name 2024 rows in renamed_from: problems of their own, not of 公开10)
    assert not sm.reverse and not [p for p in sm.problems if "公开10" in p.message]
    tm = sm.table("公开10")
    assert tm.new is None and tm.row("1").kind == GONE and tm.row("1").reason == "新版没有此表"
    assert tm.cols == dict.fromkeys(old.tables["公开10"].col_keys())
    assert sm.figure("公开10", "1", "7").reason == "新版没有此表"
    assert sm.figure("公开09", "1", "7").fig is not None  # the tables that stay map to themselves


def test_merged_rows_read_backwards_must_be_split_by_hand(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "merged"
    shutil.copytree(ROOT / "specs" / "2025", d)
    g01 = d / "gongkai01.yaml"
    text = g01.read_text(encoding="utf-8")
    text = text.replace('{key: 上级补助收入, label: 四、上级补助收入, renamed_from: ["4"]}',
                        '{key: 上级补助收入, label: 四、上级补助及事业收入, merged_from: ["4", "5"]}')
    text = text.replace('      - {key: 事业收入, label: 五、事业收入, renamed_from: ["5"]}\n', "")
    g01.write_text(text, encoding="utf-8")
    figures = d / "figures.yaml"  # the 说明's label for 事业收入 no longer has a 公开01 row of its own
    figures.write_text(figures.read_text(encoding="utf-8").replace(", 公开01 row 事业收入 col 1]", "]"), encoding="utf-8")
    new = load_spec(d)
    back = resolve(new, spec)
    assert back.reverse
    rt = back.table("公开01").row("上级补助收入")
    assert rt.kind == "split" and rt.keys == ("4", "5") and rt.reason == "由 4、5 合并而来，须手工拆分"
    tgt = back.figure("公开01", "上级补助收入", "1")
    assert tgt.fig is None and tgt.reason == "由 4、5 合并而来，须手工拆分"


MAPPING_CASES = [
    ("tables: [\n", "YAML 语法错误", True),
    ("- 公开01\n", "映射文件应为映射", True),
    ("tables: [1, 2]\n", "tables 应为 {表: {...}} 映射", True),
    ("tables:\n  公开01: 5\n", "公开01 的映射应为映射", False),  # a scalar carries no line
    ("tables:\n  公开01:\n    colour: red\n", "公开01 的映射含未知字段：colour", True),
    ("tables:\n  公开08:\n    columns_from: [1, 2]\n", "公开08 的 columns_from 应为 {旧键: 新键} 映射", True),
    ("tables:\n  公开01:\n    split_to: 5\n", "公开01 的 split_to 应为 {旧键: [新键…]} 映射", True),
    ("tables:\n  公开99: {}\n", "映射中的表 公开99 不在新版中", True),
    ('tables:\n  公开08:\n    columns_from: {"9": "1"}\n', "公开08：columns_from 引用了旧版不存在的栏 9", True),
]


@pytest.mark.parametrize(("text", "message", "has_line"), MAPPING_CASES, ids=[c[1][:16] for c in MAPPING_CASES])
def test_mapping_file_problems_are_named(spec, tmp_path: Path, text: str, message: str, has_line: bool) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "m"
    shutil.copytree(ROOT / "specs" / "2025", d)
    (d / "mapping.yaml").write_text('previous: "2024"\n' + text if not text.startswith("-") else text, encoding="utf-8")
    problems = resolve(spec, load_spec(d)).problems
    hits = [p for p in problems if message in p.message]
    assert hits, [p.message for p in problems]
    assert hits[0].file == str(d / "mapping.yaml")
    assert (hits[0].line is not None) == has_line


def test_mapping_file_missing_or_naming_its_previous_version(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from generator.core.specmap import load_mapping

    d = tmp_path / "m"
    shutil.copytree(ROOT / "specs" / "2025", d)
    (d / "mapping.yaml").write_text("previous: 2023\ntables: {}\n", encoding="utf-8")
    mapping, problems, path = load_mapping(load_spec(d))
    assert (mapping["previous"], mapping["tables"], problems, path) == ("2023", {}, [], d / "mapping.yaml")
    (d / "mapping.yaml").write_text("tables: {}\n", encoding="utf-8")
    assert load_mapping(load_spec(d))[0]["previous"] is None
    (d / "mapping.yaml").unlink()
    manifest = d / "spec.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "mapping: gone.yaml\n", encoding="utf-8")
    mapping, problems, path = load_mapping(load_spec(d))
    assert mapping == {} and [p.message for p in problems] == ["映射文件不存在"] and path == d / "gone.yaml"


def test_an_old_row_nothing_maps_to_has_no_home_with_a_reason(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "m"
    shutil.copytree(ROOT / "specs" / "2025", d)
    g01 = d / "gongkai01.yaml"
    g01.write_text(g01.read_text(encoding="utf-8").replace(
        '{key: 其他收入, label: 八、其他收入, renamed_from: ["8"]}', "{key: 其他收入, label: 八、其他收入}"), encoding="utf-8")
    sm = resolve(spec, load_spec(d))
    tgt = sm.figure("公开01", "8", "1")
    assert tgt.fig is None and tgt.kind == GONE and tgt.reason == "新版没有此行"
    values = {"公开01": {"8": {"1": Decimal("2.00")}}}
    assert migrate_values(spec, load_spec(d), values, sm)[1] == [Unplaced("公开01", "8", "1", Decimal("2.00"))]


def test_a_dropped_row_goes_nowhere_with_its_reason(spec) -> None:  # type: ignore[no-untyped-def]
    """公开01 54/55 are dropped by the 2025 mapping with a reason each: no target, the reason said;
    a dropped row given no reason is said to be removed by the new version."""
    from generator.core.specmap import DROPPED

    new = load_spec(ROOT / "specs" / "2025")
    rt = resolve(spec, new).table("公开01").row("54")
    assert (rt.kind, rt.keys, rt.reason) == (DROPPED, (), "2025 年起收入支出决算总表不再列示债务还本支出")
    tgt = resolve(spec, new).figure("公开01", "54", "1")
    assert tgt.fig is None and tgt.reason == "2025 年起收入支出决算总表不再列示债务还本支出"


def test_a_dropped_row_without_a_reason(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from generator.core.specmap import DROPPED

    d = _edited_2025(tmp_path, "mapping.yaml", '"54": 2025 年起收入支出决算总表不再列示债务还本支出', '"54": ""')
    rt = resolve(spec, load_spec(d)).table("公开01").row("54")
    assert (rt.kind, rt.keys, rt.reason) == (DROPPED, (), "新版删除了此行")



def test_a_row_the_new_version_lacks_goes_nowhere_with_its_reason(spec) -> None:  # type: ignore[no-untyped-def]
    """2024 公开01 行 9 (an empty row of the old layout) has no counterpart in 2025 and no mapping."""
    from generator.core.specmap import GONE

    rt = resolve(spec, load_spec(ROOT / "specs" / "2025")).table("公开01").row("9")
    assert (rt.kind, rt.keys, rt.reason, rt.key) == (GONE, (), "新版没有此行", None)


def test_split_to_on_a_new_row_is_a_problem_in_its_file(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """split_to belongs in mapping.yaml on the old row: written on a row of a table file it is a
    problem named in that file, at that row."""
    d = _edited_2025(tmp_path, "gongkai09.yaml", '      - {key: "1"}', '      - {key: "1", split_to: ["2"]}')
    hits = [p for p in resolve(spec, load_spec(d)).problems if "split_to 应写在 mapping.yaml" in p.message]
    assert len(hits) == 1 and hits[0].file == str(d / "gongkai09.yaml") and hits[0].line
