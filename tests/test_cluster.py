"""``--engine dask``: a collect of 200+ files on a LocalCluster of 2 workers, into PostgreSQL and into
SQLite, gives the same statuses, figures and findings as the local engine; ``build --units`` on the
cluster writes the same bytes as the local build."""

from __future__ import annotations

import importlib.util
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from distributed import WorkerPlugin

from generator.cli import cli
from generator.cluster.daskengine import DaskEngine
from generator.core.dataset import Dataset
from generator.core.spec import Spec
from generator.office.collect import DUP, ERR, PASS, UNREADABLE, WRONG_UNIT, UnitTree, collect, unit_report
from generator.office.store import Store
from generator.xlsx.writer import build_workbook

ROOT = Path(__file__).resolve().parent.parent
PARENT = "430100"
N_UNITS = 196


def _synth() -> Any:
    spec = importlib.util.spec_from_file_location("bench_synth", ROOT / "bench" / "synth.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def round_folder(spec: Spec, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, UnitTree]:
    """196 units' workbooks (varied figures; two with a rule error), three copies sent again (重复),
    one unit's workbook under another unit's name (单位不符), one file that is no workbook: 201 files."""
    synth = _synth()
    folder = tmp_path_factory.mktemp("cluster") / "returned"
    folder.mkdir()
    rows = [(PARENT, "长沙市示范局", "", "汇总")]
    for i in range(1, N_UNITS + 1):
        code, name = f"4301{i:05d}", f"示范单位{i:03d}"
        rows.append((code, name, PARENT, ""))
        ds: Dataset = synth.synth_dataset(random.Random(i), code, name, scale=random.Random(-i).choice([0.2, 1, 3]))
        if i in (7, 150):  # income no longer balances
            ds.set("公开01", "1", "1", ds.get("公开01", "1", "1") + 100)
        path = folder / f"{code}-{name}.xlsx"
        build_workbook(spec, ds, path)
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    for i in (3, 40, 99):
        src = next(folder.glob(f"4301{i:05d}-*.xlsx"))
        shutil.copy(src, folder / f"4301{i:05d}-再次报送.xlsx")
        os.utime(folder / f"4301{i:05d}-再次报送.xlsx", (1_700_100_000 + i, 1_700_100_000 + i))
    shutil.copy(next(folder.glob("430100005-*.xlsx")), folder / "430100006-错发.xlsx")
    os.utime(folder / "430100006-错发.xlsx", (1_700_200_000, 1_700_200_000))
    (folder / "430100008-说明.xlsx").write_bytes(b"not a workbook")
    assert len(list(folder.iterdir())) == 201
    return folder, UnitTree.from_rows(rows)


def _plain(message: str) -> str:
    """A message without the run's clock and row ids (a duplicate names when and as which row its original came)."""
    return re.sub(r"\d{4}-\d\d-\d\dT[\d:]+[+-]\d\d:\d\d", "<time>", re.sub(r"#\d+", "#", message))


def snapshot(store: Store, tree: UnitTree) -> dict[str, Any]:
    """Everything a collect decides, independent of row ids: per unit its status and current file; per
    file its status, counts, figures and findings."""
    units = {r.code: (r.status, r.current["path"] if r.current else None) for r in unit_report(store, tree).rows}
    files = {}
    for s in store.submissions():
        files[s["path"]] = (s["status"], s["unit"], s["errors"], s["warnings"], s["infos"], s["sha256"],
                            store.values(s["id"]),
                            sorted((f.code, f.severity, f.table or "", f.row or "", f.col or "", _plain(f.message))
                                   for f in store.findings(s["id"])))
    return {"units": units, "files": files}


@pytest.mark.slow
def test_dask_collect_equals_the_local_engine_on_sqlite_and_postgresql(spec: Spec, round_folder, pg_url: str,  # type: ignore[no-untyped-def]
                                                                       tmp_path: Path) -> None:
    folder, tree = round_folder
    with Store(tmp_path / "local.sqlite") as store:
        local_summary = collect(store, folder, tree, spec, workers=2, progress=False)
        local = snapshot(store, tree)
    assert (local_summary.files, local_summary.read, local_summary.duplicates) == (201, 197, 4)
    st = local["units"]
    assert st["430100007"][0] == ERR and st["430100150"][0] == ERR
    assert sum(1 for s, _ in st.values() if s == PASS) == N_UNITS - 2
    files = local["files"]
    assert files["430100003-再次报送.xlsx"][0] == DUP and files["430100006-错发.xlsx"][0] == WRONG_UNIT
    assert files["430100008-说明.xlsx"][0] == UNREADABLE
    engine = DaskEngine(workers=2)
    for db in (f"sqlite:///{tmp_path / 'dask.sqlite'}", pg_url):
        with Store(db) as store:
            summary = collect(store, folder, tree, spec, progress=False, reader=engine.read_many)
            got = snapshot(store, tree)
        assert (summary.files, summary.read, summary.duplicates) == (201, 197, 4), db
        assert got["units"] == local["units"], db
        assert got["files"].keys() == local["files"].keys()
        for path, want in local["files"].items():
            assert got["files"][path] == want, (db, path)


class Fragile(WorkerPlugin):
    """A worker plugin: on every worker (restarted ones too) a read of a file named *crash* kills the
    worker process, as a parser crash or the out-of-memory killer would."""

    name = "juesuan-test-fragile"

    def setup(self, worker: Any) -> None:
        import generator.cluster.daskengine as engine_mod

        real = engine_mod.read_one

        def fragile(path: str, *args: Any, **kw: Any) -> Any:
            if "crash" in path:
                os._exit(3)
            return real(path, *args, **kw)

        engine_mod.read_one = fragile  # type: ignore[assignment]


@pytest.mark.slow
def test_dask_collect_cli_and_a_file_that_kills_its_worker(spec: Spec, round_folder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The CLI's --engine dask; then a file whose read kills its worker costs that file only."""
    import dask

    folder, tree = round_folder
    small = tmp_path / "small"
    small.mkdir()
    for p in sorted(folder.glob("43010001*.xlsx"))[:6]:
        shutil.copy(p, small / p.name)
    units = tmp_path / "units.csv"
    units.write_text("code,name,parent,kind\n" + "".join(f"{u.code},{u.name},{u.parent},{u.kind}\n"
                                                         for u in tree.units.values()), encoding="utf-8")
    r = CliRunner().invoke(cli, ["collect", str(small), "--units", str(units), "--db", str(tmp_path / "c.sqlite"),
                                 "--engine", "dask", "--workers", "2"])
    assert r.exit_code == 1, r.output  # most units of the list are missing from this small folder
    assert "通过 6" in r.output and "未报送 190" in r.output, r.output[-800:]

    (small / "430100019-crash.xlsx").write_bytes(b"whatever")
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), Store(tmp_path / "k.sqlite") as store:
        summary = collect(store, small, tree, spec, progress=False,
                          reader=DaskEngine(workers=2, batch=4, plugins=[Fragile()]).read_many)
        assert summary.read == 7
        subs = {s["path"]: s for s in store.submissions()}
        assert sum(1 for s in subs.values() if s["status"] == PASS) == 6
        crashed = subs["430100019-crash.xlsx"]
        assert crashed["status"] == UNREADABLE
        assert [f.code for f in store.findings(crashed["id"])] == ["file-read-crashed"]


@pytest.mark.slow
def test_dask_build_writes_the_same_bytes_as_the_local_build(tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    samples = ROOT / "specs" / "samples"
    for p in samples.glob("unit-*.json"):
        shutil.copy(p, tmp_path / p.name)
    units.write_text((samples / "units.csv").read_text(encoding="utf-8"), encoding="utf-8")
    runner = CliRunner()
    r1 = runner.invoke(cli, ["build", "--units", str(units), "-o", str(tmp_path / "local")])
    r2 = runner.invoke(cli, ["build", "--units", str(units), "-o", str(tmp_path / "dask"), "--engine", "dask",
                             "--workers", "2"])
    assert r1.exit_code == r2.exit_code == 0, (r1.output, r2.output)
    local = {p.name: p.read_bytes() for p in (tmp_path / "local").iterdir()}
    assert len(local) >= 5 and local == {p.name: p.read_bytes() for p in (tmp_path / "dask").iterdir()}


def test_a_read_task_fetches_an_fsspec_url_and_checks_its_hash(spec: Spec, tmp_path: Path) -> None:
    """A worker that does not share the folder reads the file from a URL (here fsspec's memory
    filesystem): the same document as from the path; content that no longer matches the hash
    the main process registered is not read as the unit's report."""
    import hashlib

    import fsspec

    from generator.cluster import daskengine
    from generator.office.collect import read_one

    path = tmp_path / "430100001.xlsx"
    build_workbook(spec, Dataset(unit_code="430100001", unit_name="测试单位"), path)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    fs = fsspec.filesystem("memory")
    fs.pipe("/round/430100001.xlsx", data)
    fs.pipe("/round/changed.xlsx", data + b"\0")  # changed after it was hashed
    daskengine.SpecPlugin(spec).setup(None)
    got = daskengine._read_task([(0, "memory:///round/430100001.xlsx", "430100001", sha),
                                 (1, "memory:///round/changed.xlsx", "430100001", sha)], spec.hash, None, None)
    want = read_one(str(path), "430100001", spec)
    doc = got[0][1]
    assert got[0][0] == sha and doc["usable"] and doc["unit_code"] == "430100001"
    # the same document as read from the path, but for the (temporary) file named in findings
    assert {k: v for k, v in doc.items() if k != "findings"} == {k: v for k, v in want.items() if k != "findings"}
    assert [(f["code"], f["cell"]) for f in doc["findings"]] == [(f["code"], f["cell"]) for f in want["findings"]]
    assert got[1][0] == sha and not got[1][1]["usable"]
    assert "哈希不符" in got[1][1]["findings"][0]["message"]
