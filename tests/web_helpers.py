"""What the web tests share: a round database with the sample unit tree and links, workbooks a unit
would upload (its template filled with openpyxl, with or without an error), and a live server."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from bench.web_load import Server  # noqa: F401 - the live server the browser and load tests share
from generator.cli import cli
from generator.core.dataset import Dataset, load_dataset
from generator.core.layout import WorkbookPlan
from generator.core.spec import Spec
from generator.web.service import unit_template
from generator.xlsx.reader import read_workbook

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "specs" / "samples"
UNITS = SAMPLES / "units.csv"
PASSWORD = "办公室-correct-horse"


def make_round(tmp: Path, units: Path = UNITS) -> tuple[Path, dict[str, str]]:
    """A database with the units file recorded, an office password, and every unit's link (path only)."""
    db = tmp / "round.sqlite"
    run = CliRunner().invoke(cli, ["links", "--db", str(db), "--units", str(units), "--base-url", "http://testserver"])
    assert run.exit_code == 0, run.output
    links = {}
    for line in run.stdout.strip().splitlines():
        code, url = line.split("\t")
        links[code] = url.removeprefix("http://testserver")
    pw = CliRunner().invoke(cli, ["office-password", "--db", str(db)], input=PASSWORD + "\n")
    assert pw.exit_code == 0, pw.output
    return db, links


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def template_plan(spec: Spec, code: str, name: str, units: Path = UNITS) -> tuple[bytes, WorkbookPlan]:
    """The template the server builds for a unit (``juesuan build --units``'s, the same inputs give
    the same bytes) and its plan (as the reader lays it out)."""
    import tempfile

    from generator.office.store import Store

    with Store(":memory:") as store:
        store.set_meta("web.units_file", str(units))
        built = unit_template(store, spec, code)
    assert built is not None and built.data is not None, built
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.xlsx"
        path.write_bytes(built.data)
        res = read_workbook(path, spec=spec)
    assert res.plan is not None
    return built.data, res.plan


def fill_template(template: Path, plan: WorkbookPlan, ds: Dataset, out: Path,
                  typo: tuple[str, str, str, str] | None = None) -> Path:
    """Type a unit's figures into its template's input cells as a person would (openpyxl), and
    optionally one wrong entry (table, row, col, text)."""
    wb = openpyxl.load_workbook(template)
    for f, (sheet, r, c) in plan.fig_cells.items():
        v = ds.values.get(f.table, {}).get(f.row, {}).get(f.col)
        cell = plan.sheet(sheet).cells[(r, c)]
        if cell.kind != "input":
            continue
        if typo and (f.table, f.row, f.col) == typo[:3]:
            wb[sheet].cell(row=r + 1, column=c + 1).value = typo[3]
        elif v is not None:
            wb[sheet].cell(row=r + 1, column=c + 1).value = float(v) if isinstance(v, Decimal) else v
    for tid, text in ds.notes.items():
        t = plan.spec.tables[tid]
        st = plan.sheet(t.sheet).statement_cell
        if st:
            wb[t.sheet].cell(row=st[0] + 1, column=st[1] + 1).value = text
    wb.save(out)
    return out


def typo_cell(plan: WorkbookPlan, table: str, row: str, col: str) -> str:
    """The address (A1) of a figure's cell in the workbook, as the finding names it."""
    from openpyxl.utils import get_column_letter

    for f, (_sheet, r, c) in plan.fig_cells.items():
        if (f.table, f.row, f.col) == (table, row, col):
            return f"{get_column_letter(c + 1)}{r + 1}"
    raise KeyError((table, row, col))


def unit_data(code: str) -> Dataset:
    return load_dataset(SAMPLES / f"unit-{code}.json")
