"""Issue 13, the office side: no run loses or double-counts data, database and file-system errors
are one Chinese message (exit 2), 汇总 workbooks and 汇总-only units, year, order of receipt, links
out of the folder, escape sequences, the fingerprint key. Fixtures built here; real processes,
real signals, a real full disk (tmpfs) where the machine allows it."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli.main import cli
from generator.core.dataset import load_dataset
from generator.core.model import Figures
from generator.core.spec import Spec
from generator.office.collect import PASS, TEMPLATE, UNREADABLE, WRONG_UNIT, collect, load_tree, unit_report
from generator.office.consolidate import consolidate, write_outputs
from generator.office.statuses import STATUS_CODES
from generator.office.store import DBError, Store
from generator.xlsx.reader import read_workbook
from generator.xlsx.writer import build_workbook

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "specs" / "samples"
UNITS = SAMPLES / "units.csv"
CODES = ["430100000", "430100001", "430100002", "430100003", "430100031"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _data(code: str):  # type: ignore[no-untyped-def]
    return load_dataset(SAMPLES / f"unit-{code}.json")


def _expected_income(spec: Spec) -> Decimal:
    return sum((Figures(spec, _data(c).values).value("公开01", "30", "1") for c in CODES), Decimal(0))


def _returned(spec: Spec, folder: Path, extra: int = 0) -> list[Path]:
    """The sample tree's five reports, plus ``extra`` distinct copies (another zip comment each) of the
    first unit's report (more files of the batch, each read and stored; the same figures)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for c in CODES:
        ds = _data(c)
        paths.append(build_workbook(spec, ds, folder / f"{c}-{ds.unit_name}.xlsx").path)
    base = paths[0].read_bytes()
    for i in range(extra):
        buf = io.BytesIO(base)
        with zipfile.ZipFile(buf, "a") as z:
            z.comment = f"copy {i}".encode()
        p = folder / "其他" / f"copy-{i:03d}.xlsx"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(buf.getvalue())
        paths.append(p)
    return paths


def _stored_once(db: Path, folder: Path) -> None:
    """Every file of the folder has exactly one submission row for its path, and none other exists."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT path, COUNT(*) FROM submissions GROUP BY path").fetchall()
    con.close()
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*.xlsx")}
    assert {p for p, _ in rows} == files
    assert all(n == 1 for _, n in rows), [r for r in rows if r[1] != 1]


def _consolidated_income(db: Path, spec: Spec) -> Decimal:
    tree = load_tree(UNITS)
    with Store(db) as store:
        cons = consolidate(store, tree, spec, "430100")
    return cons.values["公开01"]["30"]["1"]


def _cli(*args: str, **kw):  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=600, **kw)


# ---------------------------------------------------------------- one writer, stored once, kill -9


@pytest.mark.slow
def test_two_collects_at_once_store_every_file_once(spec: Spec, tmp_path: Path) -> None:
    folder = tmp_path / "returned"
    _returned(spec, folder, extra=30)
    db = tmp_path / "j.sqlite"
    Store(db).close()
    cmd = [sys.executable, "-m", "generator", "collect", str(folder), "--units", str(UNITS), "--db", str(db),
           "--workers", "2"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 0], [0, 2]), outs
    if codes == [0, 2]:  # the second one met the lock: one clear message, nothing written by it
        err = next(o[1] for p, o in zip(procs, outs, strict=True) if p.returncode == 2)
        assert "正被另一个收集或重新审核写入" in err and "Traceback" not in err
    _stored_once(db, folder)
    assert _consolidated_income(db, spec) == _expected_income(spec)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_collect_killed_with_sigkill_then_rerun(spec: Spec, tmp_path: Path) -> None:
    folder = tmp_path / "returned"
    _returned(spec, folder, extra=110)
    db = tmp_path / "j.sqlite"
    Store(db).close()
    proc = subprocess.Popen([sys.executable, "-m", "generator", "collect", str(folder), "--units", str(UNITS), "--db",
                             str(db), "--workers", "2"], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    stored = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            con = sqlite3.connect(db, timeout=1)
            stored = con.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
            con.close()
        except sqlite3.Error:
            stored = 0
        if stored:
            break
        time.sleep(0.05)
    assert proc.poll() is None and stored, "the collect ended before it could be killed"
    workers = _children(proc.pid)
    assert workers, "no worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(5)
    assert not [w for w in workers if _alive(w)], "worker processes outlived their parent"
    # what was committed before the kill is consistent: judged, not left 无法读取
    con = sqlite3.connect(db)
    partial = con.execute("SELECT COUNT(*), SUM(status=?) FROM submissions", (STATUS_CODES[UNREADABLE],)).fetchone()
    unfinished = con.execute("SELECT COUNT(*) FROM runs WHERE kind='collect' AND finished IS NULL").fetchone()[0]
    con.close()
    assert 0 < partial[0] < 115 and partial[1] == 0 and unfinished == 1
    # consolidate refuses to sum an unfinished collect, or says so when asked to go on
    out = tmp_path / "汇总.xlsx"
    r = _cli("consolidate", "430100", "--db", str(db), "-o", str(out))
    assert r.returncode == 2 and "没有完成" in r.stderr and "Traceback" not in r.stderr
    r = _cli("consolidate", "430100", "--db", str(db), "-o", str(out), "--allow-unfinished")
    assert r.returncode in (0, 1) and "collect-unfinished" in out.with_suffix(".html").read_text(encoding="utf-8")
    # the rerun reads only what is missing: every file stored exactly once, consolidate correct
    r = _cli("collect", str(folder), "--units", str(UNITS), "--db", str(db), "--workers", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    _stored_once(db, folder)
    with Store(db) as store:
        assert {row.code: row.status for row in unit_report(store, load_tree(UNITS)).rows if row.code in CODES} == {
            c: PASS for c in CODES}
    assert _consolidated_income(db, spec) == _expected_income(spec)
    r = _cli("consolidate", "430100", "--db", str(db), "-o", str(out))
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- database and file-system errors


def _read_only(folder: Path) -> bool:
    """Make a folder read-only for this user: a read-only bind mount as root (root ignores
    permissions), else chmod. False when neither works here."""
    if os.geteuid() != 0:
        for p in [folder, *folder.rglob("*")]:
            os.chmod(p, 0o555 if p.is_dir() else 0o444)
        return True
    return subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode == 0 and \
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True).returncode == 0


def _undo(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["umount", str(folder)], capture_output=True)
    else:
        for p in [folder, *folder.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)


@pytest.mark.slow
def test_read_only_database_is_one_message_exit_2(spec: Spec, tmp_path: Path) -> None:
    folder = tmp_path / "returned"
    _returned(spec, folder)
    dbdir = tmp_path / "db"
    dbdir.mkdir()
    db = dbdir / "ro.sqlite"
    Store(db).close()
    if not _read_only(dbdir):
        pytest.skip("cannot make a read-only folder here")
    try:
        r = _cli("collect", str(folder), "--units", str(UNITS), "--db", str(db))
        assert r.returncode == 2 and "只读" in r.stderr and "Traceback" not in r.stderr, r.stderr
        r = _cli("consolidate", "430100", "--db", str(db), "-o", str(tmp_path / "x.xlsx"))
        assert r.returncode == 2 and "只读" in r.stderr and "Traceback" not in r.stderr, r.stderr
    finally:
        _undo(dbdir)


@pytest.mark.slow
def test_read_only_report_folder_after_the_commit(spec: Spec, tmp_path: Path) -> None:
    folder = tmp_path / "returned"
    _returned(spec, folder)
    reports = tmp_path / "reports"
    reports.mkdir()
    if not _read_only(reports):
        pytest.skip("cannot make a read-only folder here")
    db = tmp_path / "j.sqlite"
    try:
        r = _cli("collect", str(folder), "--units", str(UNITS), "--db", str(db), "--report-dir", str(reports))
        assert r.returncode == 2 and "无法读写文件" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not list(reports.iterdir())  # no half-written report
    finally:
        _undo(reports)
    _stored_once(db, folder)  # the collect itself was committed whole


@pytest.mark.slow
def test_full_disk_is_named_and_nothing_half_written(spec: Spec, tmp_path: Path) -> None:
    folder = tmp_path / "returned"
    # ~2.5 KB stored per file (typed-in figures only): 150 files need ~370 KB, the disk holds 256 KB
    _returned(spec, folder, extra=150)
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        db = mnt / "j.sqlite"
        r = _cli("collect", str(folder), "--units", str(UNITS), "--db", str(db), "--workers", "1",
                 "--report-dir", str(tmp_path))
        assert r.returncode == 2 and "磁盘已满" in r.stderr, r.stderr
        assert "no transaction is active" not in r.stderr and "Traceback" not in r.stderr
        con = sqlite3.connect(db)
        rows = con.execute("SELECT COUNT(*), SUM(status=?) FROM submissions", (STATUS_CODES[UNREADABLE],)).fetchone()
        runs = con.execute("SELECT finished FROM runs WHERE kind='collect'").fetchall()
        con.close()
        assert rows[1] in (0, None) and runs == [(None,)]  # batches kept are judged; the run is unfinished
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


@pytest.mark.slow
def test_corrupt_database(spec: Spec, tmp_path: Path) -> None:
    folder = tmp_path / "returned"
    _returned(spec, folder)
    db = tmp_path / "bad.sqlite"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    r = _cli("collect", str(folder), "--units", str(UNITS), "--db", str(db))
    assert r.returncode == 2 and "损坏" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = _cli("consolidate", "430100", "--db", str(db), "-o", str(tmp_path / "x.xlsx"))
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_store_commit_failure_raises_the_real_error(tmp_path: Path) -> None:
    with Store(tmp_path / "j.sqlite") as store:
        store.conn.execute("PRAGMA max_page_count=8")
        store.begin()
        with pytest.raises((DBError, sqlite3.OperationalError)) as exc:
            for i in range(2000):
                store.set_meta(f"k{i}", "x" * 500)
            store.commit()
        assert "full" in str(exc.value) or "已满" in str(exc.value)
        store.rollback()
        assert store.get_meta("k1") is None  # nothing of the failed transaction kept


# ---------------------------------------------------------------- what a submission is


@pytest.mark.slow
def test_consolidated_workbook_is_never_a_units_report(spec: Spec, tmp_path: Path) -> None:
    tree = load_tree(UNITS)
    folder = tmp_path / "returned"
    _returned(spec, folder)
    db = tmp_path / "j.sqlite"
    with Store(db) as store:
        collect(store, folder, tree, spec, workers=1, progress=False)
        cons = consolidate(store, tree, spec, "430100")
        write_outputs(store, cons, folder / "430100-汇总.xlsx", None, None)
        before = cons.values["公开01"]["30"]["1"]
        # a 汇总 dropped into the folder, and one filed under a unit's code: neither counts
        (folder / "430100001-其实是汇总.xlsx").write_bytes((folder / "430100-汇总.xlsx").read_bytes() + b"")
        collect(store, folder, tree, spec, workers=1, progress=False)
        subs = {s["path"]: s for s in store.submissions()}
        agg = subs["430100-汇总.xlsx"]
        assert agg["accepted"] == 0 and agg["status"] == WRONG_UNIT
        assert "consolidated-workbook" in {f.code for f in store.findings(agg["id"])}
        again = consolidate(store, tree, spec, "430100")
        assert again.values["公开01"]["30"]["1"] == before == _expected_income(spec)


@pytest.mark.slow
def test_aggregate_only_unit_accepts_no_report(spec: Spec, tmp_path: Path) -> None:
    tree = load_tree(UNITS)
    folder = tmp_path / "returned"
    _returned(spec, folder)
    ds = _data("430100000")
    ds.unit_code, ds.unit_name = "430100", "长沙市示范工业和信息化局"
    build_workbook(spec, ds, folder / "430100-局.xlsx")
    with Store(tmp_path / "j.sqlite") as store:
        collect(store, folder, tree, spec, workers=1, progress=False)
        sub = next(s for s in store.submissions() if s["path"] == "430100-局.xlsx")
        assert sub["status"] == WRONG_UNIT and sub["accepted"] == 0
        assert "aggregate-unit-report" in {f.code for f in store.findings(sub["id"])}
        assert consolidate(store, tree, spec, "430100").values["公开01"]["30"]["1"] == _expected_income(spec)


def test_another_years_workbook_is_not_this_rounds_report(spec: Spec, tmp_path: Path) -> None:
    tree = load_tree(UNITS)
    folder = tmp_path / "returned"
    folder.mkdir()
    ds = _data("430100002")
    ds.year = 2019
    build_workbook(spec, ds, folder / "430100002-2019.xlsx")
    with Store(tmp_path / "j.sqlite") as store:
        collect(store, folder, tree, spec, workers=1, progress=False)
        row = next(r for r in unit_report(store, tree).rows if r.code == "430100002")
        assert row.status == TEMPLATE and row.current is None
        assert "wrong-year" in {f.code for f in store.findings(row.latest["id"])}  # type: ignore[index]


def test_order_of_receipt_not_file_time_and_future_times_warned(spec: Spec, tmp_path: Path) -> None:
    tree = load_tree(UNITS)
    folder = tmp_path / "returned"
    folder.mkdir()
    good = _data("430100002")
    bad = _data("430100002")
    bad.set("公开01", "1", "1", (bad.get("公开01", "1", "1") or Decimal(0)) + Decimal("100"))
    # the corrected file arrives last, but its sender's clock says 2001; the first one says next year
    first = build_workbook(spec, bad, folder / "430100002-初报.xlsx").path
    os.utime(first, (time.time() + 365 * 86400,) * 2)
    time.sleep(0.02)
    second = build_workbook(spec, good, folder / "430100002-更正.xlsx").path
    os.utime(second, (1_000_000_000,) * 2)
    with Store(tmp_path / "j.sqlite") as store:
        collect(store, folder, tree, spec, workers=1, progress=False)
        row = next(r for r in unit_report(store, tree).rows if r.code == "430100002")
        assert row.current is not None and row.current["path"] == "430100002-更正.xlsx" and row.status == PASS
        early = next(s for s in store.submissions() if s["path"] == "430100002-初报.xlsx")
        assert "file-time-future" in {f.code for f in store.findings(early["id"])}


@pytest.mark.slow
def test_links_out_of_the_folder_are_not_followed(spec: Spec, tmp_path: Path) -> None:
    tree = load_tree(UNITS)
    folder = tmp_path / "returned"
    _returned(spec, folder)
    secret = tmp_path / "outside.txt"
    secret.write_text("not for collecting")
    (folder / "430100001-link.xlsx").symlink_to(secret)
    (folder / "dirlink").symlink_to(tmp_path)
    (folder / "inside-link.xlsx").symlink_to(folder / "430100002-长沙市工业信息研究所.xlsx")
    with Store(tmp_path / "j.sqlite") as store:
        summary = collect(store, folder, tree, spec, workers=1, progress=False)
        paths = {s["path"] for s in store.submissions()}
    assert "430100001-link.xlsx" not in paths and not any(p.startswith("dirlink") for p in paths)
    assert "inside-link.xlsx" in paths
    assert any("collecting" not in i and "收集文件夹之外" in i for i in summary.ignored)
    assert any("dirlink" in i for i in summary.ignored)


def test_escape_sequences_in_file_names_never_reach_the_terminal(spec: Spec, tmp_path: Path) -> None:
    folder = tmp_path / "returned"
    folder.mkdir()
    ds = _data("430100002")
    build_workbook(spec, ds, folder / "430100002-\x1b[31m红\x1b]0;title\x07\n第二行\u202e.xlsx")
    (folder / "bad\x1b[2J.xlsx").write_bytes(b"not a workbook")
    r = CliRunner().invoke(cli, ["collect", str(folder), "--units", str(UNITS), "--db", str(tmp_path / "j.sqlite"),
                                 "--workers", "1"])
    assert r.exit_code == 1, r.output
    assert "\x1b" not in r.output and "\u202e" not in r.output and "\x07" not in r.output
    assert "\\x1b[31m" in r.output


# ---------------------------------------------------------------- the fingerprint key


@pytest.mark.slow
def test_key_init_stores_a_key_with_the_database_and_no_key_is_loud(spec: Spec, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUESUAN_KEY", raising=False)
    monkeypatch.setenv("JUESUAN_DB", str(tmp_path / "default.sqlite"))
    folder = tmp_path / "returned"
    folder.mkdir()
    path = build_workbook(spec, _data("430100002"), folder / "430100002-x.xlsx").path  # the built-in key
    res = read_workbook(path, spec=spec)
    assert res.exit_code == 0 and [f.severity for f in res.findings if f.code == "default-key-in-use"] == ["warning"]
    db = tmp_path / "j.sqlite"
    r = CliRunner().invoke(cli, ["collect", str(folder), "--units", str(UNITS), "--db", str(db), "--workers", "1"])
    assert "未设置指纹密钥" in r.output
    with Store(db) as store:  # the office's warning does not make the unit's report 有提示
        row = next(x for x in unit_report(store, load_tree(UNITS)).rows if x.code == "430100002")
        assert row.status == PASS and "default-key-in-use" in {f.code for f in store.findings(row.current["id"])}  # type: ignore[index]
    r = CliRunner().invoke(cli, ["key", "init", "--db", str(db)])
    assert r.exit_code == 0 and "已生成指纹密钥" in r.output
    with Store(db) as store:
        key = store.get_meta("fingerprint_key")
    assert key and len(key) >= 40
    r = CliRunner().invoke(cli, ["key", "init", "--db", str(db)])
    assert r.exit_code == 2 and "已有指纹密钥" in r.output
    assert key not in path.read_bytes().decode("latin-1")
    # with the key stored, a workbook made with the public built-in key no longer passes
    (folder / "430100002-x.xlsx").write_bytes(path.read_bytes() + b"")
    os.utime(folder / "430100002-x.xlsx")
    r = CliRunner().invoke(cli, ["collect", str(folder), "--units", str(UNITS), "--db", str(tmp_path / "k.sqlite"),
                                 "--workers", "1", "--key", key])
    assert "fingerprint-mismatch" in (tmp_path / "collect-report.csv").read_text(encoding="utf-8-sig") or r.exit_code == 1
    # build and read find the key stored with the default database
    monkeypatch.setenv("JUESUAN_DB", str(db))
    out = tmp_path / "b.xlsx"
    r = CliRunner().invoke(cli, ["build", "--data", str(SAMPLES / "unit-430100002.json"), "-o", str(out)])
    assert r.exit_code in (0, 1), r.output
    assert read_workbook(out, spec=spec, key=key).exit_code == 0
    assert "fingerprint-mismatch" in {f.code for f in read_workbook(out, spec=spec).findings}
    r = CliRunner().invoke(cli, ["read", str(out)])
    assert r.exit_code == 0 and "default-key-in-use" not in r.output
