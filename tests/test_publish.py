"""Publishing the seed: HTML, PDF and DOCX hold every figure of the nine tables at its row.

The expected figures are walked from the spec's keys (fixed rows, the data's 科目 codes and 合计,
every value column) and the data, not from the renderer's own table views; the rendered outputs
are read back with the tools a reader of the report would use (pdftotext, python-docx).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli.main import cli
from generator.core.dataset import Dataset
from generator.core.model import Figures
from generator.core.money import fmt
from generator.core.resources import specs_root
from generator.core.spec import Spec
from generator.publish.report import build_report, published_dataset
from generator.publish.source import load_source
from generator.publish.tables import table_views

SEED = specs_root() / "samples" / "seed-2024.json"
AMOUNT = re.compile(r"^-?[\d,]+\.\d{2}$")


def expected_rows(spec: Spec, ds: Dataset) -> list[tuple[str, str, str, list[str]]]:
    """(table, row key, anchor text, printed figures in column order) for every row of every table,
    walked from the spec: fixed rows with a value, each 科目 code of the data with its 类/款 and 合计."""
    given = ds.values
    figures = Figures(spec, given)

    def value(t: str, r: str, c: str) -> str:
        v = given.get(t, {}).get(r, {}).get(c)
        return fmt(figures.value(t, r, c) if v is None else v, thousands=True)

    out = []
    for t in spec.tables.values():
        if t.kind == "form":
            continue  # 附件1–3: not published as tables yet
        for b in t.blocks:
            cols = [c.key or "" for c in b.value_columns]
            roles = {c.role for c in b.columns}
            if b.section:
                codes = set()
                for r in given.get(t.id, {}):
                    if r.isdigit():
                        codes.update({r, r[:3], r[:5]} if len(r) == 7 else {r})
                for r in ["合计", *sorted(codes)]:
                    out.append((t.id, r, r, [value(t.id, r, c) for c in cols]))
                continue
            for row in b.rows:
                if not row.input and not row.formula:
                    continue
                if row.footer or not ({"line", "code"} & roles):
                    anchor = row.label or ""
                else:
                    anchor = row.key
                out.append((t.id, row.key, anchor, [value(t.id, row.key, c) for c in cols]))
    return out


def find_row(lines: list[list[str]], anchor: str, figures: list[str]) -> bool:
    """Some line holds the anchor token followed (after at most two other tokens: a 科目 name, a 行次)
    by exactly these figures, in order. An empty anchor (公开09's one row): the line's figures are these."""
    for tokens in lines:
        if not anchor:
            if [t for t in tokens if AMOUNT.match(t)] == figures:
                return True
            continue
        for i, tok in enumerate(tokens):
            if tok != anchor:
                continue
            j, skipped = i + 1, 0
            while j < len(tokens) and not AMOUNT.match(tokens[j]) and skipped < 2:
                j, skipped = j + 1, skipped + 1
            if tokens[j:j + len(figures)] == figures:
                return True
    return False


def table_segments(text: str, spec: Spec) -> dict[str, list[list[str]]]:
    """Lines (as tokens) of each table, from its 公开NN表 line to the next table's."""
    lines = text.splitlines()
    starts = []
    for t in (t for t in spec.tables.values() if t.kind != "form"):
        idx = next(i for i, line in enumerate(lines) if line.strip().endswith(t.number) and t.title not in line
                   and "．" not in line and "..." not in line and "……" not in line)
        starts.append((idx, t.id))
    starts.sort()
    out = {}
    for k, (idx, tid) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        out[tid] = [line.split() for line in lines[idx:end]]
    return out


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pub")
    res = CliRunner().invoke(cli, ["publish", str(SEED), "-o", str(out), "--name", "seed"])
    assert res.exit_code == 0, res.output
    return out


def test_tables_are_the_workbook_layout(spec: Spec, seed: Dataset) -> None:
    """Each table's header cells, spans, notes and 空表说明 are the spec's; no spare input row is published."""
    from generator.publish.tables import plan_for

    views = [v for v in table_views(spec, seed) if not v.form]
    plan = plan_for(spec, seed)
    assert [v.id for v in views] == [t for t in spec.tables if spec.tables[t].kind != "form"]
    for v in views:
        t = spec.tables[v.id]
        assert (v.title, v.number) == (t.title, t.number)
        assert [[(c.text, c.rowspan, c.colspan) for c in row] for row in v.header] == \
            [[(h.text, h.rowspan, h.colspan) for h in row] for row in t.header]
        assert v.notes == t.notes
        assert (v.statement is not None) == t.statement
        placed = {f for f, (sheet, _r, _c) in plan.fig_cells.items() if sheet == t.sheet}
        assert set(v.figs) == placed  # every figure cell of the workbook, nothing else
        assert all(c.kind != "blank" or not c.text for row in v.body for c in row)
        assert all(isinstance(c.text, str) for row in v.header + v.body for c in row)  # never printed as "None"
    assert views[6].statement == seed.notes["公开07"]


def test_annex_forms_are_the_workbook_sheets(spec: Spec, seed: Dataset) -> None:
    """附件1, 附件2 and one 附件3-n per project of the data (the spare project sheet and spare
    indicator rows left out), read off the workbook's own sheets: every figure the data has or the
    workbook computes, as the workbook shows it, and every word the unit typed."""
    from generator.core.model import Figures
    from generator.core.spec import split_repeat
    from generator.publish.tables import plan_for

    forms = [v for v in table_views(spec, seed) if v.form]
    assert [v.id for v in forms] == ["附件1", "附件2", "附件3-1", "附件3-2", "附件3-3", "附件3-4"]
    assert [v.number for v in forms] == ["附件1", "附件2", "附件3", "附件3", "附件3", "附件3"]
    assert forms[1].title == "2024年度部门整体支出绩效自评表" and forms[1].unit_line == "单位：长沙市企业服务中心"
    assert forms[0].notes and forms[0].notes[0].startswith("说明：") and not forms[0].landscape and forms[1].landscape
    figures = Figures(spec, seed.values)
    plan = plan_for(spec, seed)
    for v in forms:
        texts = {c.text for row in v.body for c in row}
        sheet = plan.sheet(v.id)
        tid = sheet.table.id
        project = v.id.partition("-")[2]
        for f, value in v.figs.items():
            assert value == seed.values.get(tid, {}).get(f.row, {}).get(f.col, figures.value(tid, f.row, f.col))
        # every word of the sheet's rows is printed (附件3: this project's only)
        words = {w for r, cols in seed.texts.get(tid, {}).items() if split_repeat(r)[0] == project
                 for w in cols.values() if w.strip()}
        assert words and words <= texts, words - texts
        # every indicator row of the data is there, and no spare one
        keys = {r for r in seed.values.get(tid, {}) | seed.texts.get(tid, {}) if split_repeat(r)[0] == project
                and split_repeat(r)[1].isdigit()}
        shown = {c.fig.row for row in v.body for c in row if c.fig is not None and split_repeat(c.fig.row)[1].isdigit()}
        assert shown == keys
    cells = {(v.id, c.fig.row, c.fig.col): c.text for v in forms for row in v.body for c in row if c.fig is not None}
    assert cells[("附件1", "财政供养人员", "控制率")] == "89.66%"
    assert cells[("附件2", "年度资金总额", "执行率")] == "75.73%"
    assert cells[("附件2", "总分", "得分")] == "96.08" and cells[("附件3-4", "4:年度资金总额", "全年执行数")] == "622.03"
    assert cells[("附件1", "项目支出", "本年决算")] == "1,153.40"
    # a form the data did not fill in is not published (its 总分 0 would print 自评等级 差): 附件2 gone,
    # 附件3 with the words and figures of project 3 only
    from generator.core.spec import split_repeat as sr

    partial = Dataset(seed.unit_code, seed.unit_name, seed.year,
                      {t: ({r: c for r, c in rows.items() if sr(r)[0] == "3"} if t == "附件3" else rows)
                       for t, rows in seed.values.items() if t != "附件2"}, dict(seed.names), dict(seed.notes),
                      texts={t: ({r: c for r, c in rows.items() if sr(r)[0] == "3"} if t == "附件3" else rows)
                             for t, rows in seed.texts.items() if t != "附件2"})
    assert [v.id for v in table_views(spec, partial) if v.form] == ["附件1", "附件3-3"]  # project 3 keeps its number
    grades = [c.text for v in forms for row in v.body for c in row if c.kind == "figure" and c.text and c.text in "优良中差"]
    assert grades == ["优", "优", "优", "优", "良"]  # 附件2, then 附件3-1…4 (88.66 is 良)


@pytest.mark.slow
def test_pdf_text_has_every_figure_at_its_row(published: Path, spec: Spec, seed: Dataset) -> None:
    pdf = published / "seed.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    segments = table_segments(text, spec)
    rows = expected_rows(spec, seed)
    assert len(rows) > 100
    missing = [(t, r, figs) for t, r, anchor, figs in rows if not find_row(segments[t], anchor, figs)]
    assert not missing
    # the seed's official rounding of a derived figure is printed as the data gives it
    assert find_row(segments["公开06"], "人员经费合计", ["925.85"])


@pytest.mark.slow
def test_pdf_is_a4_with_fonts_embedded_bookmarks_and_page_numbers(published: Path) -> None:
    pdf = published / "seed.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert "595.276 x 841.89" in info  # A4 (the table pages are A4 landscape)
    fonts = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True).stdout
    body = [line for line in fonts.splitlines()[2:] if line.strip()]
    assert body and all(" yes yes " in line for line in body), fonts
    assert any("CJK" in line for line in body)
    import pdfplumber

    with pdfplumber.open(pdf) as doc:
        outline = [str(o[1]) for o in doc.doc.get_outlines()]  # (level, title, dest, action, se)
        pages = len(doc.pages)
        last = doc.pages[-1].extract_text() or ""
        widths = {round(p.width) for p in doc.pages}
    for part in ("第一部分", "第二部分", "第三部分", "第四部分", "第五部分"):
        assert any(part in (t or "") for t in outline), outline
    assert any("公开09表" in (t or "") for t in outline)
    assert f"— {pages} —" in last
    assert widths == {595, 842}  # portrait text, landscape tables


@pytest.mark.slow
def test_table_header_repeats_when_a_table_breaks(tmp_path: Path, spec: Spec, seed: Dataset) -> None:
    """A unit with 40 科目 rows: 公开02 runs over pages, each page starts with the header rows."""
    import pdfplumber

    from generator.publish.pdf import render_pdf
    from generator.publish.source import Source

    ds = Dataset(seed.unit_code, seed.unit_name, seed.year, {k: dict(v) for k, v in seed.values.items()},
                 dict(seed.names), dict(seed.notes))
    codes = [f"2150{i:03d}" for i in range(501, 541)]
    ds.values["公开02"] = {c: {"2": Decimal("1.00")} for c in codes}
    for c in codes:
        ds.names[c] = f"测试科目{c}"
    ds.names.update({"21505": "工业和信息产业监管", "215": "资源勘探工业信息等支出"})
    report = build_report(Source(spec, ds, [(ds.unit_code, ds.unit_name)]))
    out = tmp_path / "long.pdf"
    out.write_bytes(render_pdf(report))
    with pdfplumber.open(out) as doc:
        pages = [p.extract_text() or "" for p in doc.pages]
    g02 = [p for p in pages if "2150501" in p or "2150540" in p or "测试科目" in p]
    assert len(g02) >= 2
    assert all("本年收入合计" in p and "栏次" in p for p in g02)


@pytest.mark.slow
def test_docx_tables_hold_every_figure(published: Path, spec: Spec, seed: Dataset) -> None:
    from docx import Document

    doc = Document(str(published / "seed.docx"))
    tables = [t for t in spec.tables.values() if t.kind != "form"]
    forms = [v for v in table_views(spec, seed) if v.form]  # 附件1, 附件2, 附件3-1…4 follow the nine
    assert len(doc.tables) == len(tables) + len(forms) == 15
    segments = {}
    for t, table in zip(tables, doc.tables[:len(tables)], strict=True):
        lines = []
        for row in table.rows:
            seen, tokens = set(), []
            for cell in row.cells:  # a merged cell is listed once per grid column it covers
                if id(cell._tc) in seen:
                    continue
                seen.add(id(cell._tc))
                tokens.append(cell.text.strip())
            lines.append([x for x in tokens if x])
        segments[t.id] = lines
        header = [c.text for c in table.rows[0].cells]
        assert header[0] == t.header[0][0].text
    missing = [(t, r, figs) for t, r, anchor, figs in expected_rows(spec, seed)
               if not find_row(segments[t], anchor, figs)]
    assert not missing
    # each 附件 form: its rows in order, every cell printed as the view prints it (figures, words)
    for v, table in zip(forms, doc.tables[len(tables):], strict=True):
        got = []
        seen: set[object] = set()  # the w:tc elements themselves (kept alive: their ids stay theirs)
        for row in table.rows:
            texts = []
            for c in row.cells:  # a merged cell is listed once per grid cell it covers (across rows too)
                if c._tc not in seen:
                    seen.add(c._tc)
                    texts.append(c.text)
            got.append(texts)
        want = [[c.text for c in row] for row in v.body]
        assert got == want, v.id
        assert any(c.text == "优" or c.text == "良" for row in v.body for c in row) or v.id == "附件1"
    # header rows repeat on every page in Word (the nine tables; a form's headers sit inside it)
    for table in doc.tables[:len(tables)]:
        assert table.rows[0]._tr.trPr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}tblHeader") is not None


@pytest.mark.slow
def test_docx_is_valid_ooxml(published: Path) -> None:
    exe = shutil.which("openxml-audit")
    if exe is None:
        pytest.skip("openxml-audit not installed")
    res = subprocess.run([exe, "-f", "microsoft365", str(published / "seed.docx")], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Errors: 0" in res.stdout


def test_html_passes_check_narrative(published: Path) -> None:
    res = CliRunner().invoke(cli, ["check-narrative", str(published / "seed.html"), str(SEED)])
    assert "错误 0 条" in res.output, res.output
    assert res.exit_code == 0, res.output


def test_html_tables_carry_keys(published: Path, spec: Spec, seed: Dataset) -> None:
    html = (published / "seed.html").read_text(encoding="utf-8")
    for t, r, _anchor, figs in expected_rows(spec, seed):
        cells = re.findall(rf'data-key="{re.escape(r)}:[^"]*">([^<]*)<', html.split(f'data-table="{t}"')[1].split("</section>")[0])
        assert cells[:len(figs)] == figs, (t, r)


def test_published_figures_are_the_data_and_formulas(spec: Spec) -> None:
    src = load_source(str(SEED))
    ds = published_dataset(src)
    assert ds.values["公开06"]["人员经费合计"]["决算数"] == Decimal("925.85")  # as given
    assert ds.values["公开03"]["21505"]["1"] == Decimal("1877.91")


def test_missing_profile_parts_are_visible_slots(published: Path) -> None:
    html = (published / "seed.html").read_text(encoding="utf-8")
    assert "【待填：部门职责】" in html and "【待填：内设机构设置】" in html
    assert "长沙市企业服务中心本级，没有其它二级预算单位" in html


def test_profile_fills_the_first_part(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("部门职责:\n  - （一）贯彻落实有关法律法规。\n内设机构: 没有内设机构。\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["publish", str(SEED), "-o", str(tmp_path), "--format", "html", "--profile",
                                   str(profile), "--name", "r"])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "（一）贯彻落实有关法律法规。" in html and "【待填：部门职责】" not in html
    bad = tmp_path / "bad.yaml"
    bad.write_text("职责: x\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["publish", str(SEED), "-o", str(tmp_path), "--profile", str(bad)])
    assert res.exit_code == 2 and "未知的键" in res.output
    res = CliRunner().invoke(cli, ["publish", "--profile-template"])
    assert res.exit_code == 0 and "部门职责" in res.output


# ---------------------------------------------------------------- check-published

D = Decimal
# twelve figures across all nine tables, input and derived ones, altered in the printed report only
ALTERED = {
    ("公开01", "1", "1"): D("2182.85"),
    ("公开01", "44", "2"): D("2128.58"),
    ("公开02", "2150550", "1"): D("975.54"),
    ("公开03", "合计", "3"): D("1135.40"),
    ("公开03", "21508", "1"): D("250.49"),
    ("公开04", "1", "1"): D("2128.86"),
    ("公开05", "2150805", "3"): D("251.05"),
    ("公开06", "30101", "决算数"): D("59.29"),
    ("公开06", "人员经费合计", "决算数"): D("952.85"),
    ("公开07", "合计", "1"): D("1.00"),
    ("公开08", "合计", "1"): D("0.01"),
    ("公开09", "1", "7"): D("1.16"),
    # 附件 forms: a head count, a score, a 执行率 of project 2, an amount of project 4
    ("附件1", "财政供养人员", "编制数"): D("30"),
    ("附件2", "总分", "得分"): D("69.08"),
    ("附件3", "2:年度资金总额", "执行率"): D("0.7565"),
    ("附件3", "4:年度资金总额", "全年执行数"): D("620.03"),
    ("公开09", "1", "2"): D("1.00"),
}


@pytest.mark.slow
def test_check_published_finds_nothing_on_our_pdf(published: Path) -> None:
    res = CliRunner().invoke(cli, ["check-published", str(published / "seed.pdf"), "--against", str(SEED)])
    assert res.exit_code == 0, res.output
    assert "错误 0 条，提示 0 条" in res.output


@pytest.mark.slow
def test_check_published_finds_every_altered_figure(tmp_path: Path) -> None:
    from generator.core.expr import Fig
    from generator.publish.pdf import render_pdf

    src = load_source(str(SEED))
    report = build_report(src, override={Fig(*k): v for k, v in ALTERED.items()})
    # and one figure of the 说明 (第三部分) changed in the text
    assert "基本支出975.45万元" in report.narrative_html
    report.narrative_html = report.narrative_html.replace("基本支出975.45万元", "基本支出957.45万元", 1)
    doctored = tmp_path / "doctored.pdf"
    doctored.write_bytes(render_pdf(report))
    res = CliRunner().invoke(cli, ["check-published", str(doctored), "--against", str(SEED), "--json"])
    assert res.exit_code == 1, res.output
    import json

    findings = json.loads(res.output)["findings"]
    figs = {(f["table"], f["row"], f["col"]): f for f in findings if f["code"] == "published-figure-mismatch"}
    assert set(figs) == set(ALTERED)  # each one found, nothing else
    printed = {("附件1", "财政供养人员", "编制数"): "30", ("附件3", "2:年度资金总额", "执行率"): "75.65%"}
    for k, v in ALTERED.items():
        assert figs[k]["actual"] == printed.get(k, fmt(v, thousands=True))
    text = [f for f in findings if f["code"] == "narrative-amount-mismatch"]
    assert len(text) == 1 and text[0]["actual"] == "957.45"
    assert not [f for f in findings if f["severity"] == "error" and f["code"] not in
                ("published-figure-mismatch", "narrative-amount-mismatch")]


@pytest.mark.slow
def test_check_published_rows_missing_and_extra(tmp_path: Path, spec: Spec) -> None:
    """A PDF of another unit's data: the seed's 科目 rows are missing, the other's are extra."""
    from generator.publish.pdf import render_pdf
    from generator.publish.source import Source

    other = load_source(str(specs_root() / "samples" / "unit-430100002.json"))
    pdf = tmp_path / "other.pdf"
    pdf.write_bytes(render_pdf(build_report(other)))
    res = CliRunner().invoke(cli, ["check-published", str(pdf), "--against", str(SEED), "--json"])
    assert res.exit_code == 1
    import json

    codes = {f["code"] for f in json.loads(res.output)["findings"]}
    assert {"published-row-missing", "published-row-extra", "published-figure-mismatch"} <= codes
    assert isinstance(other, Source)


@pytest.mark.slow
def test_check_published_unusable_input(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"not a pdf at all")
    res = CliRunner().invoke(cli, ["check-published", str(junk), "--against", str(SEED)])
    assert res.exit_code == 2 and "无法读取" in res.output
    res = CliRunner().invoke(cli, ["check-published", str(tmp_path / "none.pdf"), "--against", str(SEED)])
    assert res.exit_code == 2


@pytest.mark.slow
def test_check_published_table_missing(tmp_path: Path) -> None:
    from generator.publish.pdf import render_pdf

    src = load_source(str(SEED))
    report = build_report(src)
    report.tables = [t for t in report.tables if t.id != "公开05"]
    pdf = tmp_path / "no05.pdf"
    pdf.write_bytes(render_pdf(report))
    res = CliRunner().invoke(cli, ["check-published", str(pdf), "--against", str(SEED), "--json"])
    import json

    findings = json.loads(res.output)["findings"]
    assert [f["table"] for f in findings if f["code"] == "published-table-missing"] == ["公开05"]


# ---------------------------------------------------------------- a 汇总's report


@pytest.mark.slow
def test_consolidated_report_lists_the_units_it_sums(tmp_path: Path, spec: Spec) -> None:
    import csv

    from generator.core.dataset import load_dataset
    from generator.xlsx.writer import build_workbook

    samples = specs_root() / "samples"
    units = list(csv.DictReader((samples / "units.csv").open(encoding="utf-8")))
    returned = tmp_path / "in"
    returned.mkdir()
    for u in units:
        if u["data"]:
            build_workbook(spec, load_dataset(samples / u["data"]), returned / f"{u['code']}.xlsx")
    db = tmp_path / "j.sqlite"
    res = CliRunner().invoke(cli, ["collect", str(returned), "--units", str(samples / "units.csv"), "--db", str(db)])
    assert res.exit_code in (0, 1), res.output
    out = tmp_path / "pub"
    res = CliRunner().invoke(cli, ["publish", "430100", "--db", str(db), "-o", str(out), "--format", "html,docx",
                                   "--name", "dept", "--force"])
    assert res.exit_code in (0, 1), res.output
    assert "汇总 5 个单位" in res.output
    html = (out / "dept.html").read_text(encoding="utf-8")
    members = [u["name"] for u in units if u["data"]]
    part1 = html.split('id="part1"')[1].split("</section>")[0]
    for name in members:
        assert f"<li>{name}</li>" in part1
    assert "共5个单位" in part1 and "长沙市示范工业和信息化局单位2024年部门决算汇总公开单位构成包括" in part1
    # the 汇总's tables are the sums of the units' figures
    total = sum(load_dataset(samples / u["data"]).values["公开01"]["1"]["1"] for u in units if u["data"])
    assert f'data-key="1:1">{fmt(total, thousands=True)}<' in html
    from docx import Document

    text = "\n".join(p.text for p in Document(str(out / "dept.docx")).paragraphs)
    assert all(name in text for name in members)
    # a unit without subordinates publishes its current submission, as its own 本级
    res = CliRunner().invoke(cli, ["publish", "430100002", "--db", str(db), "-o", str(out), "--format", "html",
                                   "--name", "one", "--force"])
    assert res.exit_code in (0, 1), res.output
    one = (out / "one.html").read_text(encoding="utf-8")
    assert "长沙市工业信息研究所本级，没有其它二级预算单位" in one
    res = CliRunner().invoke(cli, ["publish", "999", "--db", str(db), "-o", str(out)])
    assert res.exit_code == 2 and "不在" in res.output


@pytest.mark.slow
def test_publish_stops_on_failed_checks_unless_forced(tmp_path: Path) -> None:
    """A figure that breaks a 审核 rule (公开01 总计 ≠ 公开04 …): listed, nothing written, exit 1;
    --force writes the report anyway and still exits 1."""
    import json

    doc = json.loads(SEED.read_text(encoding="utf-8"))
    doc["values"]["公开01"]["1"]["1"] = "2000.00"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["publish", str(bad), "-o", str(out), "--format", "html", "--name", "r"])
    assert res.exit_code == 1
    assert "[错误]" in res.output and "未输出报告" in res.output
    assert not (out / "r.html").exists()
    res = CliRunner().invoke(cli, ["publish", str(bad), "-o", str(out), "--format", "html", "--name", "r", "--force"])
    assert res.exit_code == 1 and (out / "r.html").is_file()


def test_publish_from_a_workbook(seed_xlsx: Path, tmp_path: Path, spec: Spec, seed: Dataset) -> None:
    """A filled workbook as the source: the same tables (derived figures as the workbook computes them)."""
    res = CliRunner().invoke(cli, ["publish", str(seed_xlsx), "-o", str(tmp_path), "--format", "html", "--name", "wb",
                                   "--force"])
    assert res.exit_code in (0, 1), res.output
    html = (tmp_path / "wb.html").read_text(encoding="utf-8")
    assert 'data-key="2150550:1">975.45<' in html
    assert 'data-key="人员经费合计:决算数">925.86<' in html  # Σ of the workbook's formula


@pytest.mark.slow
def test_publish_from_the_database_is_publishing_the_workbook(seed_xlsx: Path, tmp_path: Path, seed: Dataset) -> None:
    """``publish UNIT --db`` after collecting a workbook prints what ``publish WORKBOOK`` prints: the
    附件 forms' words (project names, 指标) kept with the submission, the 整体支出绩效自评报告 once,
    in 第五部分 under the title the table of contents names, not after 第三部分."""
    returned = tmp_path / "returned"
    returned.mkdir()
    seed_xlsx.rename(returned / "seed.xlsx")
    units = tmp_path / "units.csv"
    units.write_text(f"code,name,parent\n{seed.unit_code},{seed.unit_name},\n", encoding="utf-8")
    db = tmp_path / "round.sqlite"
    r = CliRunner().invoke(cli, ["collect", str(returned), "--units", str(units), "--db", str(db)])
    assert r.exit_code in (0, 1), r.output
    out = tmp_path / "out"
    for name, src, extra in (("wb", str(returned / "seed.xlsx"), []), ("db", seed.unit_code, ["--db", str(db)])):
        r = CliRunner().invoke(cli, ["publish", src, *extra, "-o", str(out), "--format", "html", "--name", name, "--force"])
        assert r.exit_code in (0, 1) and (out / f"{name}.html").is_file(), r.output
    wb, db_html = ((out / f"{n}.html").read_text(encoding="utf-8") for n in ("wb", "db"))
    assert db_html == wb
    project = seed.texts["附件3"]["1:项目"]["名称"]
    assert project in db_html and "项目1：" not in db_html  # the project's own name, not a placeholder
    title = f"{seed.year}年度{seed.unit_name}整体支出绩效自评报告"
    assert db_html.count(f">{title}<") == 1
    part3, part4, part5 = (db_html.index(f'id="part{i}"') for i in (3, 4, 5))
    assert db_html.index(title) > part5 > part4 > part3
    assert db_html.index("三、绩效自评结果") > part5 and "自评等级为“优”" in db_html[part5:]
    # the 说明 from the database names the projects as the workbook does
    r = CliRunner().invoke(cli, ["narrative", seed.unit_code, "--db", str(db)])
    assert r.exit_code in (0, 1) and f"“{project}”绩效自评得分" in r.output and "“项目1”" not in r.output, r.output[-500:]


# ---------------------------------------------------------------- a PDF laid out by another engine


@pytest.mark.slow
@pytest.mark.libreoffice
def test_check_published_on_a_word_edited_report_printed_by_libreoffice(published: Path, tmp_path: Path,
                                                                          spec: Spec) -> None:
    """The office edits our DOCX (as it would in Word/WPS) and prints it with LibreOffice Writer — a PDF
    laid out by another engine. Untouched it checks clean; with ten figures typed over in the Word
    tables, each is found at its key."""
    from docx import Document

    from generator.xlsx.libreoffice import convert, soffice

    if soffice() is None:
        pytest.skip("LibreOffice not installed")
    clean = convert(published / "seed.docx", tmp_path / "clean", "pdf")
    res = CliRunner().invoke(cli, ["check-published", str(clean), "--against", str(SEED)])
    assert res.exit_code == 0 and "错误 0 条，提示 0 条" in res.output, res.output

    doc = Document(str(published / "seed.docx"))
    tables = dict(zip([v.id for v in table_views(spec, load_source(str(SEED)).dataset)], doc.tables, strict=True))
    edits = {  # (table, anchor in the row, old figure) -> new figure
        ("公开01", "1", "2,128.85"): "2,128.58", ("公开01", "57", "2,128.85"): "2,182.85",
        ("公开02", "2150599", "902.46"): "902.64", ("公开03", "2150805", "215.05"): "215.50",
        ("公开04", "46", "2,128.85"): "2,128.95", ("公开05", "21508", "250.94"): "205.94",
        ("公开06", "30239", "10.09"): "100.09", ("公开06", "30113", "51.92"): "51.29",
        ("公开06", "303", "328.73"): "328.37", ("公开09", "", "1.90"): "9.10",
        ("附件2", "总分（含预算执行率10分）", "96.08"): "69.08", ("附件3-2", "年度资金总额", "76.55%"): "67.55%",
    }
    for (t, anchor, old), new in edits.items():
        done = False
        for row in tables[t].rows:
            texts = [c.text for c in row.cells]
            if (anchor and anchor not in texts) or old not in texts or done:
                continue
            cell = row.cells[texts.index(old, texts.index(anchor) if anchor else 0)]
            cell.paragraphs[0].runs[0].text = new
            done = True
        assert done, (t, anchor)
    edited = tmp_path / "edited.docx"
    doc.save(str(edited))
    pdf = convert(edited, tmp_path / "edited", "pdf")
    res = CliRunner().invoke(cli, ["check-published", str(pdf), "--against", str(SEED), "--json"])
    assert res.exit_code == 1
    import json

    found = {(f["table"], f["actual"]) for f in json.loads(res.output)["findings"]
             if f["code"] == "published-figure-mismatch"}
    assert found == {(t.split("-")[0], new) for (t, _a, _o), new in edits.items()}  # 附件3-2: table 附件3


@pytest.mark.slow
def test_annex_tables_render_in_part_five_with_the_same_renderer(tmp_path: Path, seed: Dataset) -> None:
    """The hook for 附件1–3 (issue 18): a spec table whose id starts with 附件 is laid out by the same
    layout and renderer, printed in 第五部分, and checked by check-published like the nine. A table
    附件9 of the nine's kind (rows and columns, not a form) beside the real 附件1–3 forms."""
    from generator.core.catalog import load_spec
    from generator.publish.html import render_html
    from generator.publish.pdf import render_pdf
    from generator.publish.source import Source
    from generator.publish.verify import check_published_pdf

    specs = tmp_path / "2024"
    shutil.copytree(specs_root() / "2024", specs)
    (specs / "fujian9.yaml").write_text(
        "id: 附件9\nsheet: 附件9\ntitle: 部门整体支出绩效评价基础数据表\nnumber: 附件9\n"
        "header:\n  - [项目, 行次, 数值]\n"
        "blocks:\n  - id: main\n    columns:\n      - {role: label, width: 30}\n      - {role: line, width: 6}\n"
        "      - {role: value, key: \"1\", width: 14}\n    rows:\n"
        "      - {key: \"1\", label: 编制数}\n      - {key: \"2\", label: 实际在职人数}\n"
        "notes: []\nstatement: false\nprint: {orientation: portrait, paper: A4}\n", encoding="utf-8")
    manifest = specs / "spec.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("  - gongkai09.yaml\n",
                                                                    "  - gongkai09.yaml\n  - fujian9.yaml\n"),
                        encoding="utf-8")
    spec = load_spec(specs)
    ds = Dataset(seed.unit_code, seed.unit_name, seed.year, {k: dict(v) for k, v in seed.values.items()},
                 dict(seed.names), dict(seed.notes), texts=seed.texts)
    ds.values["附件9"] = {"1": {"1": Decimal("29")}, "2": {"1": Decimal("26")}}
    src = Source(spec, ds, [(ds.unit_code, ds.unit_name)])
    report = build_report(src)
    assert [t.id for t in report.tables] == [f"公开0{i}" for i in range(1, 10)]
    assert [t.id for t in report.annex_tables] == [  # the workbook's sheet order
        "附件9", "附件1", "附件2", "附件3-1", "附件3-2", "附件3-3", "附件3-4"]
    html = render_html(report)
    part5 = html.split('id="part5"')[1]
    assert 'data-table="附件9"' in part5 and 'data-key="1:1">29.00<' in part5
    pdf = tmp_path / "annex.pdf"
    pdf.write_bytes(render_pdf(report, html))
    assert [f for f in check_published_pdf(pdf, src) if f.severity != "info"] == []
    bad = check_published_pdf(pdf, Source(spec, Dataset(ds.unit_code, ds.unit_name, ds.year,
                                                        {**ds.values, "附件9": {"1": {"1": Decimal("30")},
                                                                                "2": {"1": Decimal("26")}}},
                                                        ds.names, ds.notes, texts=ds.texts), src.units))
    assert [(f.table, f.row, f.actual) for f in bad if f.code == "published-figure-mismatch"] == [("附件9", "1", "29.00")]


@pytest.mark.slow
def test_check_published_without_part_three_warns(tmp_path: Path) -> None:
    import json

    from generator.publish.html import render_html
    from generator.publish.pdf import render_pdf

    report = build_report(load_source(str(SEED)))
    html = render_html(report)
    start = html.index('<section class="part narrative" id="part3">')
    end = html.index("</section>", start) + len("</section>")
    pdf = tmp_path / "no-part3.pdf"
    pdf.write_bytes(render_pdf(report, html[:start] + html[end:]))
    res = CliRunner().invoke(cli, ["check-published", str(pdf), "--against", str(SEED), "--json"])
    findings = json.loads(res.output)["findings"]
    assert [f["code"] for f in findings if f["severity"] != "info"] == ["published-text-missing"]
    assert res.exit_code == 1
