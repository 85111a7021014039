"""The store behind one interface, two backends: every test here runs on SQLite and on PostgreSQL.

The collect/consolidate tests of ``tests/test_collect.py`` are run again with their database on
PostgreSQL (the same test bodies, each ``Store(path)`` opening a fresh PostgreSQL database instead),
so both backends are held to one behaviour.
"""

from __future__ import annotations

import inspect
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.core.findings import ERROR, WARNING, Finding
from generator.office.store import SCHEMA, SCHEMA_VERSION, DBError, Store, figure_rows
from tests import test_collect
from tests.test_collect import SAMPLES, build, tree, unit_data  # noqa: F401 - tree is a fixture

D = Decimal


def _sub(run_id: int, seq: int, sha: str, **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "seq": seq, "path": f"f{seq}.xlsx", "file_name": f"f{seq}.xlsx", "sha256": sha,
            "size": 10, "mtime": None, "received": "2026-01-01T00:00:00+00:00", "unit_code": "430100001",
            "unit_name": "单位", "usable": 1, "status": "通过", **extra}


def test_one_interface_two_backends(db_url: str) -> None:
    with Store(db_url) as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        store.set_meta("spec_version", "2024")
        store.set_meta("spec_hash", "abc")
        store.set_meta("spec_hash", "def")  # upsert
        assert (store.get_meta("spec_version"), store.get_meta("spec_hash")) == ("2024", "def")
        store.replace_units([("430100", "局", "", "汇总"), ("430100001", "单位一", "430100", "")])
        store.replace_units([("430100", "局", "", "汇总"), ("430100001", "单位一", "430100", ""),
                             ("430100002", "单位二", "430100", "")])
        assert [tuple(r) for r in store.units()] == [("430100", "局", "", "汇总"), ("430100001", "单位一", "430100", ""),
                                                    ("430100002", "单位二", "430100", "")]
        run = store.start_run("collect", "in/", "2024", "def")
        assert run >= 1
        values = {"公开01": {"1": {"1": D("12.30")}, "30": {"1": D("12.30")}}}
        inputs = {"公开01": {"1": {"1": D("12.30")}}}
        store.begin()
        sid = store.add_submission(_sub(run, 0, "h1", doc='{"names": {"x": "名"}}'), figure_rows(values, inputs),
                                   [Finding("negative-value", ERROR, "不能为负：100%", table="公开01", row="1", col="1",
                                            extra={"k": [1, "二"]})])
        dup = store.add_submission(_sub(run, 1, "h1", duplicate_of=sid, status="重复", path="copy.xlsx"))
        store.commit()
        assert sid != dup and store.known_file("f0.xlsx", "h1") == sid and store.known_file("x.xlsx", "h1") is None
        orig = store.original_of("h1")
        assert orig is not None and orig["id"] == sid and dict(orig)["path"] == "f0.xlsx"
        # inputs are stored, derived figures are not (recomputed from the inputs where needed)
        assert store.values(sid) == store.values(sid, inputs_only=True) == inputs
        assert store.figure(sid, "公开01", "1", "1") == D("12.30") and store.figure(sid, "公开01", "30", "1") is None
        f = store.findings(sid)
        assert [(x.code, x.message, x.extra) for x in f] == [("negative-value", "不能为负：100%", {"k": [1, "二"]})]
        store.begin()
        store.add_findings(sid, [Finding("rule-warning", WARNING, "提示", rule="r1")], "recheck", run)
        assert store.deactivate_findings(sid, "rule IS NOT NULL OR source='recheck'") == 1
        store.replace_derived(sid, [("公开01", "1", "1", "99", 0), ("公开01", "30", "1", "13.00", 0)])
        store.update_submission(sid, status="有错误", errors=1)
        store.commit()
        assert store.values(sid) == inputs  # inputs stay, nothing derived is stored
        assert [x.code for x in store.findings(sid, active_only=False)] == ["negative-value", "rule-warning"]
        assert store.finding_codes() == {sid: [("negative-value", ERROR, None, "read")]}
        assert [s["id"] for s in store.submissions()] == [sid, dup]
        assert [s["status"] for s in store.submissions("duplicate_of IS NULL")] == ["有错误"]
        cid = store.add_consolidation("430100", False, "2024", "def", "a.xlsx", None, {"n": 1},
                                      [("430100001", "430100", sid, True, ""), ("430100002", "430100", None, False, "未报送")])
        last = store.last_consolidation("430100")
        assert last is not None and last[0]["id"] == cid and sorted(m["unit"] for m in last[1]) == ["430100001", "430100002"]
        assert store.last_consolidation("999") is None
        store.finish_run(run, {"files": 2})
    with Store(db_url, create=False) as again:  # reopened: everything is there
        assert again.get_meta("spec_hash") == "def" and len(again.submissions()) == 2


@pytest.mark.parametrize(("version", "why"), [("0", "无法识别"), ("x", "无法识别"), (str(SCHEMA_VERSION + 1), "较新版本")])
def test_a_database_of_an_unknown_or_newer_schema_version_is_refused(db_url: str, version: str, why: str) -> None:
    with Store(db_url) as store:
        store.set_meta("schema_version", version)
    with pytest.raises(DBError, match=why):
        Store(db_url)


FIXTURES = Path(__file__).parent / "fixtures"


def test_a_database_of_schema_1_is_upgraded_in_place(tmp_path: Path) -> None:
    """A stored copy of a round's database as schema 1 wrote it (the demo's, before spec versions
    were kept): it opens, keeps every row, gains the later tables and says the new version."""
    import shutil

    db = tmp_path / "old.sqlite"
    shutil.copy(FIXTURES / "store-schema-1.sqlite", db)
    with Store(db) as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert len(store.units()) == 6 and len(store.submissions()) == 5
        assert store.get_meta("spec_hash") == "cf71b9a95c5e9df6"
        assert store.spec_versions() == []
        assert store.add_spec_files("h1", "2024", 2024, {"spec.yaml": "version: 2024\n"}) is True
        assert store.add_spec_files("h1", "2024", 2024, {"spec.yaml": "other"}) is False  # kept once, never replaced
    with Store(db) as again:
        assert again.spec_files("h1") == {"spec.yaml": "version: 2024\n"} and again.spec_files("h2") is None


def test_schema_1_upgrades_on_both_backends(db_url: str) -> None:
    """The same upgrade on SQLite and PostgreSQL: a database holding only schema 1's tables."""
    if db_url.startswith("postgresql"):
        from generator.office.pgstore import PgConnection

        conn = PgConnection(db_url)
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO meta(key, value) VALUES('schema_version', '1')")
        conn.close()
    else:
        import sqlite3

        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        conn.executescript(SCHEMA + "INSERT INTO meta(key, value) VALUES('schema_version', '1');")
        conn.close()
    with Store(db_url) as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        store.add_spec_files("abc", "2024", 2024, {"a.yaml": "x: 1\n"})
        assert store.spec_versions()[0][:2] == ("abc", "2024")


def test_unreachable_databases_are_db_errors(tmp_path: Path, pg_server: str) -> None:
    with pytest.raises(DBError, match="不存在"):
        Store(tmp_path / "none.sqlite", create=False)
    (tmp_path / "junk.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(DBError, match="无法打开数据库"):
        Store(f"sqlite:///{tmp_path / 'junk.sqlite'}")
    bad = pg_server.replace("/postgres?", "/no_such_db?")
    with pytest.raises(DBError, match="无法打开数据库"):
        Store(bad)


COLLECT_TESTS = [n for n, f in inspect.getmembers(test_collect, inspect.isfunction) if n.startswith("test_")]


@pytest.mark.slow
@pytest.mark.parametrize("name", COLLECT_TESTS)
def test_collect_suite_on_postgresql(name: str, pg_server: str, request: pytest.FixtureRequest,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``tests/test_collect.py`` with every database on PostgreSQL: the path a test opens names one
    fresh PostgreSQL database (opening the same path again reopens it)."""
    from tests.pgcluster import new_database

    dbs: dict[str, str] = {}

    def pg_store(path: str | Path, create: bool = True) -> Store:
        key = str(Path(path).resolve())
        if key not in dbs:
            dbs[key] = new_database(pg_server)
        return Store(dbs[key], create=create)

    monkeypatch.setattr(test_collect, "Store", pg_store)
    fn = getattr(test_collect, name)
    kwargs = {p: request.getfixturevalue(p) for p in inspect.signature(fn).parameters}
    fn(**kwargs)
    assert dbs, "the test opened no database"


@pytest.mark.slow
def test_cli_round_on_postgresql(spec, pg_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """collect, consolidate, explain and recheck with ``--db postgresql://…``."""
    returned = tmp_path / "returned"
    returned.mkdir()
    for code in ("430100000", "430100001", "430100002", "430100003", "430100031"):
        build(spec, unit_data(code), returned)
    runner = CliRunner()
    r = runner.invoke(cli, ["collect", str(returned), "--units", str(SAMPLES / "units.csv"), "--db", pg_url,
                            "--workers", "1", "--report-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "通过 5" in r.output and (tmp_path / "collect-report.html").is_file()
    r = runner.invoke(cli, ["consolidate", "430100", "--db", pg_url, "-o", str(tmp_path / "c.xlsx")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["explain", "430100", "公开05", "2150550", "1", "--db", pg_url, "--json"])
    assert r.exit_code == 0 and '"unit": "430100001"' in r.output, r.output
    r = runner.invoke(cli, ["recheck", "--db", pg_url, "--report-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    with Store(pg_url, create=False) as store:
        assert len(store.submissions()) == 5 and store.last_consolidation("430100") is not None


@pytest.mark.slow
def test_inputs_are_stored_and_derived_figures_recomputed(spec, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Stored: each submission's typed-in figures (one deflated record); derived ones (totals, 类/款
    rows) are recomputed from them, so explain of a total still adds up unit by unit."""
    from generator.core.model import Figures
    from generator.office.collect import collect, load_tree
    from generator.office.consolidate import consolidate, explain

    returned = tmp_path / "returned"
    returned.mkdir()
    codes = ("430100000", "430100001", "430100002", "430100003", "430100031")
    for code in codes:
        build(spec, unit_data(code), returned)
    units = load_tree(SAMPLES / "units.csv")
    with Store(db_url) as store:
        collect(store, returned, units, spec, workers=1, progress=False)
        assert store.conn.execute("SELECT count(*) FROM figures").fetchone()[0] == 0
        sizes = [len(bytes(r[0])) for r in store.conn.execute("SELECT data FROM inputs")]
        assert len(sizes) == 5 and max(sizes) < 3000
        cons = consolidate(store, units, spec, "430100")
        ex = explain(store, units, spec, "430100", "公开01", "30", "1", use_record=False)
        want = {c: Figures(spec, unit_data(c).values).value("公开01", "30", "1") for c in codes}
        assert {c.unit: c.value for c in ex.contributions if c.value is not None} == want
        assert ex.value == ex.total == cons.values["公开01"]["30"]["1"] == sum(want.values(), D(0))


def test_review_history_is_append_only_in_the_store(db_url: str) -> None:
    """An update or delete of a review row is refused by the database itself, on both engines."""
    with Store(db_url) as store:
        run = store.start_run("collect", "in/", "2024", "h")
        store.begin()
        sid = store.add_submission(_sub(run, 0, "sha-a"))
        rid = store.add_review("430100001", "430100", sid, "sha-a", "return", "张三", "公开05 有误",
                               [{"cell": "公开05表!D10", "note": "应为 975.45"}])
        store.commit()
        got = store.reviews("430100001")
        assert [(r["id"], r["action"], r["reason"], r["cells"]) for r in got] == [
            (rid, "return", "公开05 有误", [{"cell": "公开05表!D10", "note": "应为 975.45"}])]
        for sql in ("UPDATE reviews SET action='approve'", "DELETE FROM reviews"):
            with pytest.raises(Exception, match="append-only"):
                store.conn.execute(sql)
            store.rollback()
        assert [r["action"] for r in store.reviews()] == ["return"]
