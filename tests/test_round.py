"""A real round with units that are not the seed (the issue's "Must show"): a code list imported
from an xlsx, a units file with each unit's own 科目, blank templates built from it, each filled the
way a unit would (openpyxl for some, LibreOffice for others; one types numbers as text, one adds a
项 the code list lacks with its name, one leaves a spare row half-filled), collected, feedback
written, the text-typing unit's correction collected, consolidated; then LibreOffice recalculates
every filled workbook and the reader agrees with it and with each workbook's own 审核 sheet."""

from __future__ import annotations

import csv
import os
import random
import shutil
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from bench.synth import synth_dataset
from generator.cli.main import cli
from generator.core.catalog import load_spec
from generator.core.dataset import Dataset
from generator.core.expr import a1, is_item_code
from generator.core.layout import DEFAULT_KEY
from generator.core.model import is_formula_figure
from generator.core.spec import Spec
from generator.office.collect import ERR, PASS, WARN, collect, load_tree, unit_report
from generator.office.consolidate import consolidate, write_outputs
from generator.office.store import Store
from generator.xlsx.libreoffice import convert_many, soffice
from generator.xlsx.ooxml import open_xlsx
from generator.xlsx.reader import read_workbook

from . import lo_fill

pytestmark = [pytest.mark.libreoffice,
              pytest.mark.skipif(soffice() is None or not lo_fill.available(),
                                 reason="LibreOffice with its Python (python3-uno) not installed")]

ROOT = Path(__file__).resolve().parent.parent
CODES_CSV = ROOT / "specs" / "samples" / "functional-2024-sample.csv"
D = Decimal
DEPT = "430200"
POOLS = {  # the 项 a kind of unit reports: none is one of the seed's
    "admin": {"running": ["2010301", "2011301"], "projects": ["2010302", "2011308"],
              "social": ["2080505", "2080506", "2101101", "2210201"], "fund": ["2296002"]},
    "school": {"running": ["2050202", "2050203", "2050204"], "projects": ["2050201", "2050803"],
               "social": ["2080505", "2101102", "2210201", "2210202"], "fund": ["2296003"]},
    "farm": {"running": ["2130101", "2130104"], "projects": ["2130108", "2070109"],
             "social": ["2080501", "2080505", "2101101", "2101103"], "fund": ["2120803"]},
}
# code, name, kind of unit, how it fills its template
UNITS = [
    ("430200000", "示范县教育局（本级）", "admin", "openpyxl"),
    ("430200001", "示范县第一小学", "school", "openpyxl"),
    ("430200002", "示范县第二小学", "school", "libreoffice"),
    ("430200003", "示范县实验中学", "school", "libreoffice"),
    ("430200004", "示范县职业高中", "school", "openpyxl"),
    ("430200005", "示范县农技推广站", "farm", "libreoffice"),
    ("430200006", "示范县文化馆", "farm", "half"),  # LibreOffice, a spare row with a code and no amounts
    ("430200007", "示范县教师进修学校", "school", "text"),  # openpyxl, three numbers typed as text
    ("430200008", "示范县幼儿园", "school", "unknown"),  # LibreOffice, a 项 not in the code list, with its name
    ("430200009", "示范县教育考试中心", "admin", "openpyxl"),
    ("430200010", "示范县青少年活动中心", "admin", "libreoffice"),
]
UNKNOWN = ("2080599", "其他行政事业单位养老支出")  # a real 项, not in the imported list
HALF = "2050803"


@dataclass
class Round:
    spec: Spec
    root: Path
    db: Path
    templates: dict[str, Path]
    returned: Path
    filled: dict[str, Path]
    typed: dict[str, dict[tuple[str, str, str], Decimal]]  # what each unit typed, by key
    text_cells: list[str] = field(default_factory=list)
    out: dict[str, Any] = field(default_factory=dict)


def _class_rows(spec: Spec) -> tuple[dict[str, str], dict[str, str]]:
    rows = []
    for tid in ("公开01", "公开04"):
        rows.append({r.code: r.key for b in spec.tables[tid].blocks if b.id == "expenditure" for r in b.rows if r.code})
    return rows[0], rows[1]


def _unit_data(spec: Spec, i: int, code: str, name: str, kind: str) -> Dataset:
    pools = POOLS[kind] if code != "430200008" else {**POOLS[kind], "social": ["2080505"]}
    return synth_dataset(random.Random(1000 + i), code, name, scale=0.2 + 0.1 * i, fund=(i % 4 == 1), pools=pools,
                         class_rows=_class_rows(spec), names={})


def _subjects(ds: Dataset) -> str:
    """The units file's subjects: 项 codes; a government-fund 项 only in 公开02, 公开03 and 公开07."""
    out = []
    fund = set(ds.values.get("公开07", {}))
    for c in sorted({r for t in ("公开02", "公开03", "公开05", "公开07") for r in ds.values.get(t, {}) if is_item_code(r)}):
        out.append(f"公开02+公开03+公开07:{c}" if c in fund else c)
    return " ".join(out)


def _typed(spec: Spec, ds: Dataset) -> dict[tuple[str, str, str], Decimal]:
    return {(t, r, c): v for t, rows in ds.values.items() for r, cols in rows.items() for c, v in cols.items()
            if not is_formula_figure(spec.tables[t], r, c)}


def _cells(plan: Any, typed: dict[tuple[str, str, str], Decimal]) -> list[tuple[str, str, Any]]:
    from generator.core.expr import Fig

    out = []
    for (t, r, c), v in sorted(typed.items()):
        sheet, row, col = plan.fig_cells[Fig(t, r, c)]
        out.append((sheet, a1(row, col), float(v)))
    return out


def _fill_openpyxl(template: Path, out: Path, cells: list[tuple[str, str, Any]], notes: dict[str, str], plan: Any) -> None:
    wb = openpyxl.load_workbook(template)
    for sheet, addr, v in cells:
        wb[sheet][addr] = v
    _notes(plan, notes, lambda sheet, addr, text: wb[sheet].__setitem__(addr, text))
    wb.save(out)


def _notes(plan: Any, notes: dict[str, str], put: Any) -> None:
    for tid, text in notes.items():
        t = plan.spec.tables[tid]
        st = plan.sheet(t.sheet).statement_cell
        put(t.sheet, a1(*st), text)


@pytest.fixture(scope="module")
def rnd(tmp_path_factory: pytest.TempPathFactory) -> Round:
    root = tmp_path_factory.mktemp("round")
    specs = root / "specs2024"
    shutil.copytree(ROOT / "specs" / "2024", specs)
    # the year's code list, as the finance system exports it (xlsx), imported into the spec
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["科目编码", "科目名称"])
    for row in list(csv.reader(CODES_CSV.read_text(encoding="utf-8").splitlines()))[1:]:
        ws.append(row)
    wb.save(root / "功能分类科目2024.xlsx")
    r = CliRunner().invoke(cli, ["codes", "import", str(root / "功能分类科目2024.xlsx"), "--specs", str(specs)])
    assert r.exit_code == 0, r.output
    assert "+ 2050202 小学教育" in r.output and "删除 0 个" in r.output
    spec = load_spec(specs)
    assert spec.code_name("functional", "2050202") == "小学教育" and UNKNOWN[0] not in spec.codelists["functional"].codes

    data = {code: _unit_data(spec, i, code, name, kind) for i, (code, name, kind, _) in enumerate(UNITS)}
    units = root / "units.csv"
    with units.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "parent", "kind", "subjects"])
        w.writerow([DEPT, "示范县教育局", "", "汇总", ""])
        for code, name, _k, _h in UNITS:
            w.writerow([code, name, DEPT, "", _subjects(data[code])])
    tdir = root / "templates"
    r = CliRunner().invoke(cli, ["build", "--units", str(units), "--specs", str(specs), "-o", str(tdir)])
    assert r.exit_code == 0, r.output
    templates = {code: next(tdir.glob(f"{code}-*.xlsx")) for code, *_ in UNITS}

    returned = root / "returned"
    returned.mkdir()
    filled: dict[str, Path] = {}
    typed: dict[str, dict[tuple[str, str, str], Decimal]] = {}
    text_cells: list[str] = []
    lo_jobs = []
    for code, name, _kind, how in UNITS:
        ds = data[code]
        plan = read_workbook(templates[code], spec=spec).plan
        assert plan is not None
        typed[code] = _typed(spec, ds)
        extra: list[tuple[str, str, Any]] = []
        if how == "unknown":  # move 1.00 of 2080505 to a 项 the code list lacks, typed with its name
            for t, col in (("公开02", "2"), ("公开03", "2"), ("公开05", "2")):
                typed[code][(t, "2080505", col)] -= D("1.00")
                sp = plan.spare[t]
                sheet = spec.tables[t].sheet
                extra += [(sheet, a1(sp.first, sp.code_col), UNKNOWN[0]), (sheet, a1(sp.first, sp.name_col), UNKNOWN[1]),
                          (sheet, a1(sp.first, sp.value_cols[col]), 1.0)]
                typed[code][(t, UNKNOWN[0], col)] = D("1.00")
        cells = _cells(plan, {k: v for k, v in typed[code].items() if k[1] != UNKNOWN[0]}) + extra
        out = returned / f"{code}-{name}.xlsx"
        filled[code] = out
        if how == "text":  # three amounts typed as text: '1,234.50'
            picks = [i for i, (_s, _a, v) in enumerate(cells) if v][:3]
            for i in picks:
                sheet, addr, v = cells[i]
                cells[i] = (sheet, addr, f"{v:,.2f}")
                text_cells.append(f"{sheet}!{addr}")
        if how == "half":  # a spare row of 公开03 with its code and nothing else
            sp = plan.spare["公开03"]
            cells.append(("公开03表", a1(sp.first, sp.code_col), HALF))
        if how in ("openpyxl", "text"):
            _fill_openpyxl(templates[code], out, cells, ds.notes, plan)
            os.utime(out, (1_700_000_000, 1_700_000_000))
        else:
            _notes(plan, ds.notes, lambda sheet, addr, text, cells=cells: cells.append((sheet, addr, text)))
            lo_jobs.append((templates[code], out, cells))
    lo_fill.fill_in_libreoffice(lo_jobs)
    db = root / "round.sqlite"
    return Round(spec, root, db, templates, returned, filled, typed, text_cells)


def test_round_collected_with_feedback_and_consolidated(rnd: Round) -> None:
    spec = rnd.spec
    tree = load_tree(rnd.root / "units.csv")
    # blank templates: each unit's own 科目 rows (not the seed's), no figure typed anywhere
    blank = read_workbook(rnd.templates["430200001"], spec=spec, key=DEFAULT_KEY)
    assert blank.dataset is not None and blank.plan is not None
    rows05 = blank.plan.sections["公开05"]
    assert rows05 and not {"2150550", "2150599"} & set(rows05) and all(c[:3] in ("205", "208", "210", "221", "229")
                                                                       for c in rows05)
    assert all(v == 0 for rows in blank.dataset.values.values() for cols in rows.values() for v in cols.values())

    with Store(rnd.db) as store:
        collect(store, rnd.returned, tree, spec, workers=2, progress=False, key=DEFAULT_KEY)
        rows = {r.code: r for r in unit_report(store, tree).rows}
        status = {c: rows[c].status for c, *_ in UNITS}
        assert status == {c: (ERR if c == "430200007" else WARN if c == "430200008" else PASS) for c, *_ in UNITS}
        # the unit that typed text: exactly one finding per text cell, at that cell, and nothing else
        f7 = store.findings(rows["430200007"].current["id"])  # type: ignore[index]
        assert sorted(f.cell for f in f7 if f.severity != "info") == sorted(rnd.text_cells)
        assert {f.code for f in f7 if f.severity != "info"} == {"number-as-text"}
        # the unknown 项 is imported under its typed name, a warning at its code cell
        f8 = [f for f in store.findings(rows["430200008"].current["id"]) if f.severity != "info"]  # type: ignore[index]
        assert {(f.code, f.severity) for f in f8} == {("code-unknown", "warning")}
        assert {f.cell.split("!")[0] for f in f8 if f.cell} == {"公开02表", "公开03表", "公开05表"}
        # every finding of every current report points at a data cell; a rule's 审核 row is a reference only
        for r in rows.values():
            if r.current is None:
                continue
            for f in store.findings(r.current["id"]):
                if f.severity == "info" and f.code in ("structure-unlocked", "hidden-sheet-state"):
                    continue
                assert f.cell and f.cell.split("!")[0] in {t.sheet for t in spec.tables.values()}, f.render()
                if f.rule:
                    assert (f.check_cell or "").startswith("审核!H"), f.render()

        # feedback for every reporting unit; the text unit's names its cells and what to do
        fb = rnd.root / "feedback"
        r = CliRunner().invoke(cli, ["feedback", "--db", str(rnd.db), "-o", str(fb)])
        assert r.exit_code == 0, r.output
        assert sorted(p.name for p in fb.iterdir()) == sorted(f"{c}-反馈.{x}" for c, *_ in UNITS for x in ("html", "xlsx"))
        html = (fb / "430200007-反馈.html").read_text(encoding="utf-8")
        assert all(c in html for c in rnd.text_cells) and "重新输入数字" in html and "有错误" in html
        sheet = openpyxl.load_workbook(fb / "430200007-反馈.xlsx").active
        assert sum(1 for row in sheet.iter_rows(values_only=True) if row[2] in rnd.text_cells) == 3

    # the unit corrects its workbook (numbers, not text) and sends it again
    fixed = rnd.returned / "430200007-示范县教师进修学校-更正.xlsx"
    wb = openpyxl.load_workbook(rnd.filled["430200007"])
    for ref in rnd.text_cells:
        sheet, addr = ref.split("!")
        wb[sheet][addr] = float(D(str(wb[sheet][addr].value).replace(",", "")))
    wb.save(fixed)
    os.utime(fixed, (1_700_000_100, 1_700_000_100))
    with Store(rnd.db) as store:
        collect(store, rnd.returned, tree, spec, workers=2, progress=False, key=DEFAULT_KEY)
        rows = {r.code: r for r in unit_report(store, tree).rows}
        assert rows["430200007"].status == PASS and rows["430200007"].current["path"].endswith("更正.xlsx")  # type: ignore[index]
        cons = consolidate(store, tree, spec, DEPT)
        assert [m.unit for m in cons.included] == [c for c, *_ in UNITS] and not cons.excluded
        # every figure a unit typed arrives at its key in the 汇总
        total: dict[tuple[str, str, str], Decimal] = {}
        for typed in rnd.typed.values():
            for k, v in typed.items():
                total[k] = total.get(k, D(0)) + v
        for (t, r_, c), v in total.items():
            assert cons.values.get(t, {}).get(r_, {}).get(c, D(0)) == v, (t, r_, c)
        assert cons.dataset.names.get(UNKNOWN[0]) == UNKNOWN[1]
        assert HALF in cons.values["公开03"]
        out = rnd.root / f"{DEPT}-汇总.xlsx"
        outs = write_outputs(store, cons, out)
        assert outs.readback == []
    # the 汇总 workbook: nobody's form to fill -- no 填报说明, no spare rows
    back = read_workbook(out, spec=spec, key=DEFAULT_KEY)
    assert back.exit_code == 0 and back.plan is not None and not back.plan.spare
    assert "填报说明" not in [s.name for s in back.plan.sheets]
    rnd.out["consolidated"] = out


def test_libreoffice_recalculation_agrees_with_the_reader_and_the_check_sheet(rnd: Round) -> None:
    """Every filled workbook of the round recalculated by LibreOffice: no stale cached value, and the
    workbook's own 审核 sheet gives every rule the verdict the reader gives it."""
    srcs = sorted(rnd.filled.values())
    outs = convert_many(srcs, rnd.root / "recalculated")
    for src, out in zip(srcs, outs, strict=True):
        res = read_workbook(out, spec=rnd.spec, key=DEFAULT_KEY)
        assert res.usable and res.plan is not None, src.name
        assert not [f for f in res.findings if f.code == "stale-cached-value"], (src.name, [
            f.render() for f in res.findings if f.code == "stale-cached-value"])
        book = open_xlsx(out)
        check = book.sheet("审核")
        assert check is not None
        verdicts = {r.instance.id: r.status for r in res.results}
        compared = 0
        for inst_id, row in res.plan.rule_rows.items():
            shown = check.cells.get((row, 7))
            assert shown is not None and shown.value, (src.name, inst_id)
            assert shown.value == verdicts[inst_id], (src.name, inst_id, shown.value, verdicts[inst_id])
            compared += 1
        assert compared > 40
