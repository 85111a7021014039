"""Shared fixtures: the 2024 spec, the seed's figures, and workbooks built from them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from generator.core.catalog import load_spec
from generator.core.dataset import Dataset, load_dataset
from generator.core.layout import DEFAULT_KEY, WorkbookPlan
from generator.core.spec import Spec
from generator.xlsx.writer import build_workbook

ROOT = Path(__file__).resolve().parent.parent

# The tests run with a configured fingerprint key (the built-in one, set explicitly, so golden files
# keep their fingerprints): the "no key configured" warning is asserted where it is the subject
# (tests/test_office_hardening.py), with the variable removed.
os.environ.setdefault("JUESUAN_KEY", DEFAULT_KEY)

# every finding any test makes must agree with the catalogue (generator/core/codes.py): an entry for
# its code, that entry's severity; a stray code or severity raises where the finding is made
import generator.core.findings as _findings  # noqa: E402

_findings.STRICT = True
SPECS = ROOT / "specs" / "2024"
SEED = ROOT / "specs" / "samples" / "seed-2024.json"


@pytest.fixture(scope="session", autouse=True)
def _spec_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Parsed specs are cached in a folder of the test session, not the user's cache."""
    import os

    os.environ.setdefault("JUESUAN_CACHE", str(tmp_path_factory.mktemp("spec-cache")))


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec(SPECS)


@pytest.fixture()
def seed() -> Dataset:
    return load_dataset(SEED)


@pytest.fixture(scope="session")
def seed_build(spec: Spec, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The seed's figures built into a workbook (session-wide; copy before changing it)."""
    path = tmp_path_factory.mktemp("seed") / "seed.xlsx"
    return build_workbook(spec, load_dataset(SEED), path)


@pytest.fixture(scope="session")
def seed_path(seed_build) -> Path:  # type: ignore[no-untyped-def]
    """The seed workbook's path (read-only; the checks' test modules read it)."""
    return seed_build.path  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def seed_recalculated(spec: Spec, seed_build, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The seed's workbook written with every cached result 0 and recalculated by LibreOffice, once
    per session (whatever it then shows it computed itself): (our value of every formula cell by
    (sheet, row, col), LibreOffice's workbook read back)."""
    from generator.core.calc import formula_values
    from generator.core.model import Figures
    from generator.xlsx.libreoffice import convert
    from generator.xlsx.ooxml import open_xlsx
    from generator.xlsx.writer import prepare_inputs, write_plan

    seed = load_dataset(SEED)
    inputs, _ = prepare_inputs(spec, seed)
    data, _ = write_plan(seed_build.plan, inputs, seed, cached=False)
    d = tmp_path_factory.mktemp("lo-seed")
    src = d / "nocache.xlsx"
    src.write_bytes(data)
    ours, _ = formula_values(seed_build.plan, Figures(spec, inputs), seed.notes, {}, {})
    return ours, open_xlsx(convert(src, d / "lo"))


def assert_recalculated(ours: dict, book, sheets: Callable[[str], bool] = lambda name: True) -> int:  # type: ignore[no-untyped-def]
    """Every formula cell of ``sheets`` holds a formula in LibreOffice's workbook and LibreOffice's
    value equals ours (amounts to 1e-6, texts exactly); returns how many were compared."""
    from generator.xlsx.reader import number_value

    compared = 0
    for (sheet, r, c), want in ours.items():
        if not sheets(sheet):
            continue
        got = book.sheet(sheet).cells.get((r, c))
        assert got is not None and got.formula is not None, (sheet, r, c)
        if isinstance(want, Decimal):
            assert abs(number_value(got.value or "0") - want) < Decimal("0.000001"), (sheet, r, c, got.value, want)
        else:
            assert (got.value or "") == want, (sheet, r, c, got.value, want)
        compared += 1
    return compared


@pytest.fixture()
def seed_xlsx(seed_build, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    dst = tmp_path / "seed.xlsx"
    shutil.copy(seed_build.path, dst)
    return dst


def fill(path: Path, plan: WorkbookPlan, values: dict[str, dict[str, dict[str, Decimal | float | str]]],
         out: Path | None = None, notes: dict[str, str] | None = None,
         texts: dict[str, dict[str, dict[str, str]]] | None = None) -> Path:
    """Type figures into a template's input cells with openpyxl, as a person would: only input cells,
    nothing else touched. Keys are the canonical ones; formula figures are skipped. ``texts``: the
    附件's words, typed into their text cells."""
    wb = openpyxl.load_workbook(path)
    for sh in plan.sheets:
        for (r, c), cell in sh.cells.items():
            if cell.kind == "field" and cell.fig is not None and texts:
                text = texts.get(cell.fig.table, {}).get(cell.fig.row, {}).get(cell.fig.col)
                if text:
                    wb[sh.name].cell(row=r + 1, column=c + 1).value = text
    for f, (sheet, r, c) in plan.fig_cells.items():
        v = values.get(f.table, {}).get(f.row, {}).get(f.col)
        if v is None:
            continue
        cell = plan.sheet(sheet).cells[(r, c)]
        if cell.kind != "input":
            continue
        wb[sheet].cell(row=r + 1, column=c + 1).value = float(v) if isinstance(v, Decimal) else v
    for tid, text in (notes or {}).items():
        t = plan.spec.tables[tid]
        st = plan.sheet(t.sheet).statement_cell
        if st:
            wb[t.sheet].cell(row=st[0] + 1, column=st[1] + 1).value = text
    target = out or path
    wb.save(target)
    return target


@pytest.fixture()
def filler() -> Callable[..., Path]:
    return fill


def template_rows(spec: Spec, seed: Dataset) -> dict[str, dict[str, dict[str, Decimal]]]:
    """The rows a unit's template is laid out with, no figures: its 科目 (7-digit codes) and its
    附件 indicator rows and projects (their keys, empty)."""
    out: dict[str, dict[str, dict[str, Decimal]]] = {}
    for t, rows in seed.values.items():
        form = t in spec.tables and spec.tables[t].kind == "form"
        for r in rows:
            if len(r) == 7 and r.isdigit():
                out.setdefault(t, {})[r] = {"1": Decimal(0)}
            elif form:
                out.setdefault(t, {})[r] = {}
    for t, rows in seed.texts.items():
        for r in rows:
            out.setdefault(t, {}).setdefault(r, {})
    return out


# Fixtures that bring in a tier of their own: a test that uses one carries its marker (the quick
# tier, ``-m "not slow and not libreoffice and not browser and not postgres"``, leaves it out).
FIXTURE_MARKS = {"pg_server": "postgres", "pg_url": "postgres", "seed_recalculated": "libreoffice",
                 "published": "slow"}  # published: the whole report (HTML, PDF, Word) once a module


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in FIXTURE_MARKS.items():
            if fixture in names:
                item.add_marker(marker)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgresql":
            item.add_marker("postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from the current output instead of comparing")


@pytest.fixture()
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def pg_server():  # type: ignore[no-untyped-def]
    """A PostgreSQL server for the session (``tests/pgcluster.py``); skipped outside CI when
    PostgreSQL is not installed, a failure in CI (``.ci/run`` installs it)."""
    import os

    from tests.pgcluster import Cluster, pg_bin

    url = os.environ.get("JUESUAN_TEST_PG")
    if url:
        yield url
        return
    bindir = pg_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL (initdb) is not installed; .ci/run installs Debian's postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    cluster = Cluster(bindir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture()
def pg_url(pg_server: str) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    from tests.pgcluster import new_database

    return new_database(pg_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store behind each backend: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'juesuan.sqlite'}"
    return str(request.getfixturevalue("pg_url"))
