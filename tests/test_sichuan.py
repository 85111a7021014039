"""The Sichuan 2024 format (specs/sichuan-2024): a second real format written in YAML alone —
thirteen 附表, two 科目 × 经济分类 matrices (columns generated from the economic code list), two
sections over the economic list (款 typed in, 类 their sums), its own rules and figures.yaml — built,
read back, recalculated by LibreOffice, collected, consolidated and published with a 说明 whose every
amount is the figure of the table it names."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from generator.core.catalog import load_spec
from generator.core.dataset import Dataset, load_dataset
from generator.core.findings import ERROR, WARNING
from generator.core.model import Figures
from generator.core.resources import specs_root
from generator.core.spec import Spec
from generator.narrative import check_narrative, render_narrative
from generator.narrative.figures import figure_value
from generator.xlsx.reader import read_workbook
from generator.xlsx.writer import BuildResult, build_workbook

from .conftest import assert_recalculated

ROOT = Path(__file__).resolve().parents[1]
SC = specs_root() / "sichuan-2024"
SAMPLE = specs_root() / "samples" / "sichuan-2024.json"
KEY = "sichuan-test-key"
D = Decimal
ECONOMIC_CLASSES = ["301", "302", "303", "307", "309", "310", "312", "399"]


@pytest.fixture(scope="module")
def sc() -> Spec:
    return load_spec(SC)


@pytest.fixture(scope="module")
def built(sc: Spec, tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    path = tmp_path_factory.mktemp("sichuan") / "sc.xlsx"
    return build_workbook(sc, load_dataset(SAMPLE), path, key=KEY)


def _read(path: Path):  # type: ignore[no-untyped-def]
    return read_workbook(path, [SC], KEY)


def test_the_matrix_columns_and_headers_come_from_the_economic_list(sc: Spec) -> None:
    for tid in ("公开05", "公开07"):
        t = sc.tables[tid]
        assert [c.key for c in t.blocks[0].value_columns] == ["合计", *ECONOMIC_CLASSES]
        assert [h.text for h in t.header[1][2:]] == [
            "工资福利支出", "商品和服务支出", "对个人和家庭的补助", "债务利息及费用支出", "资本性支出（基本建设）",
            "资本性支出", "对企业补助", "其他支出"]
        assert [h.text for h in t.header[2][1:]] == ["合计", *ECONOMIC_CLASSES]
    g08 = sc.tables["公开08"]
    assert g08.section is not None and g08.section.levels == (3, 5)
    assert [c for c in ("301", "30101", "2130104", "合计") if g08.is_item(c)] == ["30101"]
    assert sc.tables["公开06"].is_item("2130104") and not sc.tables["公开06"].is_item("30101")


def test_the_sample_reads_back_clean_with_its_figures(sc: Spec, built: BuildResult) -> None:
    res = _read(built.path)
    assert [f.code for f in res.findings if f.severity in (ERROR, WARNING)] == []
    v = res.values
    assert v["公开05"]["合计"]["合计"] == D("1510.26")  # every 财政拨款
    assert v["公开05"]["2130104"]["合计"] == D("900.00") and v["公开05"]["213"]["302"] == D("360.26")
    assert v["公开06"]["合计"]["1"] == D("1490.26")  # the 一般公共预算 part
    assert v["公开07"]["合计"]["301"] == D("1010.00")
    assert v["公开08"]["301"]["1"] == D("1010.00") and v["公开08"]["合计"]["2"] == D("1090.00")
    assert v["公开08"]["30217"]["1"] == D("2.00")
    assert v["公开09"]["302"]["1"] == D("260.26") and v["公开09"]["合计"]["1"] == D("300.26")
    sample = load_dataset(SAMPLE)
    for t, rows in sample.values.items():
        for r, cols in rows.items():
            assert {c: res.dataset.values[t][r][c] for c in cols} == cols, (t, r)


def test_the_guide_says_which_tables_take_5_digit_kuan(built: BuildResult) -> None:
    guide = [str(r[0]) for r in openpyxl.load_workbook(built.path)["填报说明"].iter_rows(values_only=True) if r[0]]
    assert any("选择 7 位项级代码（公开08表、公开09表 为 5 位末级代码）" in line for line in guide)


def test_an_economic_sections_rows_are_its_kuan_with_their_lei(built: BuildResult) -> None:
    ws = openpyxl.load_workbook(built.path)["公开08表"]
    rows = [(str(r[0].value), str(r[1].value or "").strip()) for r in ws.iter_rows(min_row=7, max_row=24)]
    assert rows[:4] == [("合计", ""), ("301", "工资福利支出"), ("30101", "基本工资"), ("30102", "津贴补贴")]
    assert ("303", "对个人和家庭的补助") in rows and ("30302", "退休费") in rows
    # the 类 rows are sums (formulas), the 款 rows typed in
    assert str(ws["D8"].value).startswith("=") and not str(ws["D9"].value or "").startswith("=")


def _spare_filled(built: BuildResult, out: Path, rows: list[tuple[str, str, Decimal]]) -> Path:
    """The workbook with 公开08's spare rows typed in with openpyxl: (code, column key, amount)."""
    sp = built.plan.spare["公开08"]
    wb = openpyxl.load_workbook(built.path)
    ws = wb["公开08表"]
    for i, (code, col, amount) in enumerate(rows):
        ws.cell(row=sp.first + i + 1, column=sp.code_col + 1).value = code
        ws.cell(row=sp.first + i + 1, column=sp.value_cols[col] + 1).value = float(amount)
    wb.save(out)
    return out


def test_a_spare_row_of_an_economic_section_takes_a_kuan_and_refuses_a_xiang(built: BuildResult,
                                                                          tmp_path: Path) -> None:
    path = _spare_filled(built, tmp_path / "spare.xlsx", [("30228", "3", D("5.00")), ("2130104", "3", D("1.00"))])
    res = _read(path)
    assert res.dataset.values["公开08"]["30228"]["3"] == D("5.00")
    bad = [f for f in res.findings if f.code == "code-malformed"]
    assert len(bad) == 1 and "应为 5 位末级代码" in bad[0].message and bad[0].actual == "2130104"
    # the 5.00 breaks the tie to 公开06's 基本支出: the rule says so, in words
    failed = [f for f in res.findings if f.code == "rule-failed"]
    assert any("公开06表 合计 基本支出(栏2) 应等于 公开08表 基本支出合计" in f.message for f in failed)


@pytest.mark.libreoffice
def test_libreoffice_recalculates_the_matrices_and_economic_sections(sc: Spec, built: BuildResult,
                                                                   tmp_path: Path) -> None:
    from generator.core.calc import formula_values
    from generator.xlsx.libreoffice import convert
    from generator.xlsx.ooxml import open_xlsx
    from generator.xlsx.writer import prepare_inputs, write_plan

    ds = load_dataset(SAMPLE)
    inputs, _ = prepare_inputs(sc, ds)
    data, _ = write_plan(built.plan, inputs, ds, cached=False)
    src = tmp_path / "nocache.xlsx"
    src.write_bytes(data)
    ours, _ = formula_values(built.plan, Figures(sc, inputs), ds.notes, {}, {})
    book = open_xlsx(convert(src, tmp_path / "lo"))
    assert assert_recalculated(ours, book, lambda name: name in ("公开05表", "公开07表", "公开08表", "公开09表")) > 150
    # a 款 typed into a spare row by the unit: LibreOffice's sums (SUMPRODUCT over 5-digit codes) agree
    filled = _spare_filled(built, tmp_path / "spare.xlsx", [("30228", "3", D("5.00"))])
    res = _read(convert(filled, tmp_path / "lo2"))
    assert [f.code for f in res.findings if f.code in ("stale-cached-value", "formula-changed")] == []
    assert res.values["公开08"]["合计"]["3"] == D("105.00")


def test_the_shuoming_speaks_this_formats_figures(sc: Spec, built: BuildResult) -> None:
    """五 says 公开06's 一般公共预算 figure (1,490.26), not 公开05's every 财政拨款 (1,510.26); 八 reads
    政府性基金 income from 公开10; 七 has 公开13's 三公 figures; a 说明 saying 1,510.26 is caught."""
    ds = _read(built.path).dataset
    ds = Dataset(ds.unit_code, ds.unit_name, ds.year, Figures(sc, ds.values).all_values(), ds.names, ds.notes,
                 version=ds.version)
    text = render_narrative(ds, spec=sc)
    assert "一般公共预算财政拨款支出1,490.26万元" in text and "1,510.26" not in text.split("## 五")[1].split("## 六")[0]
    assert "政府性基金预算财政拨款收入20.00万元" in text
    assert "“三公”经费财政拨款支出预算为25.00万元，支出决算为20.00万元" in text
    assert "人员经费1,090.00万元" in text and "公用经费100.00万元" in text
    assert "（本套报表未设置会议费、培训费等数字，本节从略。）" in text
    findings = check_narrative(text, ds, spec=sc)
    assert [f for f in findings if f.severity in (ERROR, WARNING) or f.code == "narrative-unmatched"] == []
    wrong = text.replace("一般公共预算财政拨款支出1,490.26万元，占", "一般公共预算财政拨款支出1,510.26万元，占", 1)
    caught = [f for f in check_narrative(wrong, ds, spec=sc) if f.severity == ERROR]
    assert len(caught) == 1 and caught[0].expected == "1,490.26" and caught[0].actual == "1,510.26"


def _juesuan(cwd: Path, *args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "generator", *args], cwd=cwd, capture_output=True, text=True,
                         timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def _said(html: str) -> str:
    """The 说明's words as a reader sees them (tags dropped)."""
    return re.sub(r"<[^>]+>", "", html)


@pytest.mark.slow
def test_a_round_in_the_sichuan_format_publishes_a_shuoming_of_its_own_figures(sc: Spec, tmp_path: Path) -> None:
    """init with the Sichuan spec, two units, build, collect, review, consolidate and publish: the
    published 说明's every amount next to a figure's name equals that figure of the 汇总's tables."""
    _juesuan(tmp_path, "init", "rnd", "--specs", str(SC))
    rnd = tmp_path / "rnd"
    (rnd / "sc.json").write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    (rnd / "units.csv").write_text("code,name,parent,data,kind\n510000,示例县农业农村局,,,汇总\n"
                                   "510000001,示例县农业综合技术服务中心,510000,sc.json,\n"
                                   "510000002,示例县农业技术推广站,510000,sc.json,\n", encoding="utf-8")
    _juesuan(rnd, "units", "set", "units.csv")
    _juesuan(rnd, "build")
    for f in (rnd / "templates").glob("*.xlsx"):
        (rnd / "returned" / f.name).write_bytes(f.read_bytes())
    _juesuan(rnd, "collect")
    for code in ("510000001", "510000002"):
        _juesuan(rnd, "review", code, "--approve", "--reviewer", "财务科")
    out = _juesuan(rnd, "consolidate", "510000", "--json", "out/510000.json")
    assert "汇总不含附件" not in out  # a format without 附件 says nothing of them
    data = json.loads((rnd / "out" / "510000.json").read_text(encoding="utf-8"))
    assert data["version"] == "sichuan-2024" and data["values"]["公开06"]["合计"]["1"] == "2980.52"
    audit = shutil.which("openxml-audit")
    for book in [*(rnd / "templates").glob("*.xlsx"), rnd / "out" / "510000-汇总.xlsx"] if audit else []:
        res = subprocess.run([audit, "-f", "microsoft365", str(book)], capture_output=True, text=True)
        assert res.returncode == 0 and "Errors: 0" in res.stdout, res.stdout + res.stderr
    _juesuan(rnd, "publish", "510000", "--format", "html,pdf")
    html = next((rnd / "out" / "公开").glob("*.html"))
    # the printed PDF checked against the 汇总's data file: its version names the format
    pdf = next((rnd / "out" / "公开").glob("*.pdf"))
    assert "错误 0 条，提示 0 条" in _juesuan(rnd, "check-published", str(pdf), "--against", "out/510000.json")
    # a data file that does not say its format is read as the bundled one of its year: one Chinese error
    anon = json.loads((rnd / "out" / "510000.json").read_text(encoding="utf-8"))
    del anon["version"]
    (tmp_path / "anon.json").write_text(json.dumps(anon, ensure_ascii=False), encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "generator", "check-published", str(pdf), "--against",
                          str(tmp_path / "anon.json")], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert res.returncode == 2 and "不在代码表中" in res.stderr and "Traceback" not in res.stderr, res.stderr
    # check-narrative on the published page: no mismatch, every amount tied to a figure
    res = subprocess.run([sys.executable, "-m", "generator", "check-narrative", "--json", str(html), "out/510000.json"],
                         cwd=rnd, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert [f["code"] for f in json.loads(res.stdout)["findings"] if f["code"] == "narrative-unmatched"] == []
    # and walked here on its own: each "<name><amount>万元" of the 说明 is that named figure
    ds = load_dataset(rnd / "out" / "510000.json")
    text = _said(html.read_text(encoding="utf-8")).split("第三部分")[-1].split("第四部分")[0]
    names = "|".join(re.escape(n) for n in sorted(sc.figures, key=len, reverse=True))  # the longest name first
    fund, soe = text.index("八、政府性基金"), text.index("九、国有资本经营")
    walked = []
    for m in re.finditer(f"({names})(?:支出)?(?:为)?(-?[\\d,]+\\.\\d\\d)万元", text):
        # in 八 and 九 the bare 基本支出/项目支出 are the fund's and the 国有资本经营 ones
        scope = "" if m.start() < fund else "政府性基金预算财政拨款" if m.start() < soe else "国有资本经营预算财政拨款"
        name = scope + m.group(1) if scope + m.group(1) in sc.figures else m.group(1)
        want = figure_value(sc, ds, sc.figures[name])
        assert want is not None and D(m.group(2).replace(",", "")) == want, (m.group(0), want)
        walked.append(name)
    # 七: "<费>支出预算为<预算数>万元，支出决算为<决算数>万元"
    for m in re.finditer(r"(“三公”经费|因公出国（境）费|公务用车购置费及运行维护费|公务用车购置费|公务用车运行维护费|公务接待费)"
                         r"(?:财政拨款)?支出预算为([\d,]+\.\d\d)万元，支出决算为([\d,]+\.\d\d)万元", text):
        for kind, amount in (("预算数", m.group(2)), ("决算数", m.group(3))):
            assert D(amount.replace(",", "")) == figure_value(sc, ds, sc.figures[m.group(1) + kind]), m.group(0)
            walked.append(m.group(1) + kind)
    assert "“三公”经费决算数" in walked and "公务接待费预算数" in walked
    assert len(walked) >= 30 and {"一般公共预算财政拨款支出", "人员经费", "公用经费", "政府性基金预算财政拨款收入",
                                  "政府性基金预算财政拨款项目支出", "国有资本经营预算财政拨款收入"} <= set(walked), walked


def _sample_subjects() -> str:
    sample = load_dataset(SAMPLE)
    codes = {r for t in ("公开02", "公开08", "公开09") for r in sample.values[t] if r.isdigit()}
    return " ".join(sorted(codes)) + " 10:2296002"  # the 政府性基金 项 into its own table too


def test_a_units_subjects_go_into_the_tables_whose_leaves_they_are(sc: Spec, tmp_path: Path) -> None:
    """units.csv subjects: a 7-digit 项 is listed in the functional tables, a 5-digit 款 in the tables
    over the economic list; a code no table takes is a problem in Chinese."""
    from generator.office.units import build_unit

    row = {"code": "510000009", "name": "测试单位", "subjects": "2130104 30201 31002"}
    built = build_unit(sc, row, tmp_path)
    assert built.problem is None and built.data is not None
    (tmp_path / "t.xlsx").write_bytes(built.data)
    plan = _read(tmp_path / "t.xlsx").plan
    assert plan.sections["公开02"] == ["213", "21301", "2130104"]
    assert plan.sections["公开08"] == ["302", "30201", "310", "31002"] == plan.sections["公开09"]
    bad = build_unit(sc, {**row, "subjects": "2130104 301"}, tmp_path)
    assert bad.problem == "科目 '301' 应为 5 位或7 位末级代码"


@pytest.mark.libreoffice
def test_a_unit_fills_its_blank_sichuan_template_in_libreoffice(sc: Spec, tmp_path: Path) -> None:
    """The unit's template (its 科目 from units.csv, no figures) filled in LibreOffice with the sample's
    figures: read back clean, every figure as typed, the 类 and 合计 rows computed by LibreOffice."""
    from generator.office.units import build_unit

    from . import lo_fill

    if not lo_fill.available():
        pytest.skip("LibreOffice with Python-UNO is not installed")
    built = build_unit(sc, {"code": "510000001", "name": "示例县农业综合技术服务中心", "subjects": _sample_subjects()},
                       tmp_path, key=KEY)
    assert built.problem is None and built.data is not None
    template = tmp_path / "blank.xlsx"
    template.write_bytes(built.data)
    plan = _read(template).plan
    sample = load_dataset(SAMPLE)
    cells = []
    for fig, (sheet, r, c) in plan.fig_cells.items():
        v = sample.values.get(fig.table, {}).get(fig.row, {}).get(fig.col)
        if v is not None:
            cells.append((sheet, f"{openpyxl.utils.get_column_letter(c + 1)}{r + 1}", float(v)))
    cells += [(f"{t}表", f"A{plan.sheet(f'{t}表').statement_cell[0] + 1}", text)  # type: ignore[index]
              for t, text in sample.notes.items()]
    lo_fill.fill_in_libreoffice([(template, tmp_path / "filled.xlsx", cells)])
    res = _read(tmp_path / "filled.xlsx")
    assert [f.code for f in res.findings if f.severity in (ERROR, WARNING)] == []
    assert res.values["公开05"]["合计"]["合计"] == D("1510.26") and res.values["公开08"]["302"]["3"] == D("100.00")
    for t, rows in sample.values.items():
        for r, cols in rows.items():
            assert {c: res.dataset.values[t][r][c] for c in cols} == cols, (t, r)


@pytest.mark.slow
def test_demo_in_a_sichuan_round_runs_its_own_sample_tree(tmp_path: Path) -> None:
    _juesuan(tmp_path, "init", "rnd", "--specs", str(SC))
    out = _juesuan(tmp_path / "rnd", "demo")
    assert "层级 510000 示例县农业农村局（2 个单位）审核：错误 0 条" in out
    assert (tmp_path / "rnd" / "out" / "510000-汇总.xlsx").is_file()
    assert next((tmp_path / "rnd" / "out" / "公开").glob("*.html")).name == "示例县农业综合技术服务中心2024年度部门决算公开.html"


def test_demo_in_a_round_of_a_format_without_a_sample_tree_says_so(tmp_path: Path) -> None:
    _juesuan(tmp_path, "init", "rnd", "--year", "2025")
    res = subprocess.run([sys.executable, "-m", "generator", "demo"], cwd=tmp_path / "rnd", capture_output=True,
                         text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert res.returncode == 2 and "本轮规格 2025 没有随附的样例单位树（有样例的规格：2024、sichuan-2024）" in res.stderr
    assert "Traceback" not in res.stderr
