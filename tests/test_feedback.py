"""Statuses by the current valid submission, feedback files per unit, the default database, file
modes, local times, explain's unknown keys."""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from generator.cli.main import cli
from generator.core.clock import shown
from generator.core.dataset import load_dataset
from generator.core.fsutil import atomic_write_text
from generator.core.spec import Spec
from generator.office.collect import ATTACH, DUP, MISSING, PASS, WRONG_UNIT, collect, load_tree, unit_report
from generator.office.store import Store, default_db_path
from generator.xlsx.writer import build_workbook

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "specs" / "samples"


def _build(spec: Spec, code: str, path: Path, mtime: int) -> Path:
    build_workbook(spec, load_dataset(SAMPLES / f"unit-{code}.json"), path)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture()
def round_db(spec: Spec, tmp_path: Path) -> tuple[Path, Path]:
    """000 passes and then sends the same file again; 002 passes and then sends a PDF 说明; a copy
    of 002's workbook arrives under 003's name; 031 sends only an attachment; 001 nothing."""
    returned = tmp_path / "returned"
    returned.mkdir()
    t0 = 1_700_000_000
    first = _build(spec, "430100000", returned / "430100000-本级.xlsx", t0)
    _build(spec, "430100002", returned / "430100002-研究所.xlsx", t0 + 10)
    shutil.copy(first, returned / "430100000-再次.xlsx")
    os.utime(returned / "430100000-再次.xlsx", (t0 + 20, t0 + 20))
    (returned / "430100002-说明.pdf").write_bytes(b"%PDF-1.7\n")
    os.utime(returned / "430100002-说明.pdf", (t0 + 30, t0 + 30))
    _build(spec, "430100002", returned / "430100003-服务站.xlsx", t0 + 40)
    wb = openpyxl.load_workbook(returned / "430100003-服务站.xlsx")  # not byte-identical: a changed copy
    wb["封面"]["B6"] = "张三"
    wb.save(returned / "430100003-服务站.xlsx")
    (returned / "430100031-盖章页.pdf").write_bytes(b"%PDF-1.7\n")
    db = tmp_path / "j.sqlite"
    with Store(db) as store:
        collect(store, returned, load_tree(SAMPLES / "units.csv"), spec, workers=1, progress=False)
    return db, returned


@pytest.mark.slow
def test_status_follows_the_current_valid_submission(spec: Spec, round_db: tuple[Path, Path]) -> None:
    db, _ = round_db
    tree = load_tree(SAMPLES / "units.csv")
    with Store(db) as store:
        rows = {r.code: r for r in unit_report(store, tree).rows}
    r0, r2, r3, r31 = rows["430100000"], rows["430100002"], rows["430100003"], rows["430100031"]
    # the same file again is 未变 beside the unit, its status stays that of the report
    assert r0.status == PASS and [s["status"] for s in r0.beside] == [DUP]
    # an attachment does not replace the current report
    assert r2.status == PASS and r2.current is not None and r2.current["path"] == "430100002-研究所.xlsx"
    assert [(s["path"], s["status"]) for s in r2.beside] == [("430100002-说明.pdf", ATTACH)]
    assert (r2.errors, r2.warnings) == (r2.current["errors"], r2.current["warnings"]) == (0, 0)
    # another unit's workbook under 003's name: 单位不符, counted for nobody
    assert r3.status == WRONG_UNIT and r3.current is None
    # only an attachment: still 未报送, the attachment listed
    assert r31.status == MISSING and [s["status"] for s in r31.beside] == [ATTACH]
    assert rows["430100001"].status == MISSING and not rows["430100001"].beside


@pytest.mark.slow
def test_feedback_files_per_unit(spec: Spec, round_db: tuple[Path, Path], tmp_path: Path) -> None:
    db, _ = round_db
    out = tmp_path / "fb"
    r = CliRunner().invoke(cli, ["feedback", "--db", str(db), "-o", str(out)])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    units = ["430100000", "430100001", "430100002", "430100003", "430100031"]  # not the 汇总 department
    assert names == sorted([f"{c}-反馈.html" for c in units] + [f"{c}-反馈.xlsx" for c in units])
    h2 = (out / "430100002-反馈.html").read_text(encoding="utf-8")
    assert "通过" in h2 and "430100002-说明.pdf" in h2 and "附件" in h2 and "无需再报送" in h2
    h3 = (out / "430100003-反馈.html").read_text(encoding="utf-8")
    assert "单位不符" in h3 and "属于另一单位" in h3 and "怎么改" in h3
    assert "尚未收到" in (out / "430100001-反馈.html").read_text(encoding="utf-8")
    wb = openpyxl.load_workbook(out / "430100003-反馈.xlsx")
    ws = wb.active
    text = [c for row in ws.iter_rows(values_only=True) for c in row if c]
    assert "状态：单位不符" in text and "怎么改" in text
    assert any("wrong-unit" not in str(t) and "另一单位" in str(t) for t in text)
    # every file is readable by colleagues (the umask's mode, not a temporary file's 0600)
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~_umask(), p
    r = CliRunner().invoke(cli, ["feedback", "--db", str(db), "-o", str(out), "--unit", "999"])
    assert r.exit_code == 2


def _umask() -> int:
    m = os.umask(0o022)
    os.umask(m)
    return m


def test_outputs_respect_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
        os.umask(0o027)
        atomic_write_text(tmp_path / "b.txt", "x")
        assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o640
    finally:
        os.umask(old)


@pytest.mark.slow
def test_reports_show_local_time_with_zone(round_db: tuple[Path, Path], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert re.fullmatch(r"2026-01-02 \d\d:\d\d:05 UTC[+-]\d\d:\d\d.*", shown("2026-01-02T03:04:05+00:00"))
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    import time

    time.tzset()
    try:
        assert shown("2026-01-02T03:04:05+00:00") == "2026-01-02 11:04:05 UTC+08:00 CST"
        db, returned = round_db
        r = CliRunner().invoke(cli, ["collect", str(returned), "--units", str(SAMPLES / "units.csv"), "--db", str(db)])
        html = (db.parent / "collect-report.html").read_text(encoding="utf-8")
        assert "UTC+08:00" in html and not re.search(r"\d{4}-\d\d-\d\dT\d\d:", html), r.output
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_one_default_database_for_every_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUESUAN_DB", str(tmp_path / "env.sqlite"))
    assert default_db_path() == str(tmp_path / "env.sqlite")
    monkeypatch.delenv("JUESUAN_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert default_db_path() == str(tmp_path / "data" / "juesuan" / "juesuan.sqlite")
    for cmd in (["collect", "x", "--units", "u.csv"], ["consolidate", "1", "-o", "x.xlsx"], ["explain", "1", "1", "1", "1"],
                ["recheck"], ["feedback", "-o", "x"]):
        r = CliRunner().invoke(cli, [*cmd, "--help"])
        assert "JUESUAN_DB" in r.output, cmd
    # without --db every command uses the same file: here none exists yet
    r = CliRunner().invoke(cli, ["feedback", "-o", str(tmp_path / "fb")])
    assert r.exit_code == 2 and str(tmp_path / "data" / "juesuan" / "juesuan.sqlite") in r.output


@pytest.mark.slow
def test_explain_unknown_code_is_an_error(round_db: tuple[Path, Path]) -> None:
    db, _ = round_db
    r = CliRunner().invoke(cli, ["explain", "430100", "公开05", "2999999", "1", "--db", str(db), "--current"])
    assert r.exit_code == 2 and "没有科目 2999999" in r.output
    r = CliRunner().invoke(cli, ["explain", "430100", "公开05", "2150550", "1", "--db", str(db), "--current"])
    assert r.exit_code == 0, r.output


def test_current_is_the_latest_valid_file_by_arrival_not_by_file_time(spec: Spec, tmp_path: Path) -> None:
    """Two valid reports of one unit in one collect: the one that arrived last is current, even when
    its modification time (kept by a copy from the unit's computer) is older."""
    import time

    returned = tmp_path / "returned"
    returned.mkdir()
    first = _build(spec, "430100002", returned / "430100002-第一版.xlsx", 1_700_000_500)  # newer file time
    time.sleep(0.05)
    second = returned / "430100002-第二版.xlsx"
    wb = openpyxl.load_workbook(first)
    wb["封面"]["B6"] = "李四"  # another version of the same report
    wb.save(second)
    os.utime(second, (1_700_000_000, 1_700_000_000))  # an older file time, but it arrived later
    tree = load_tree(SAMPLES / "units.csv")
    with Store(tmp_path / "j.sqlite") as store:
        collect(store, returned, tree, spec, workers=1, progress=False)
        row = next(r for r in unit_report(store, tree).rows if r.code == "430100002")
        assert row.current is not None and row.current["path"] == second.name
        assert [s["path"] for s in row.history] == [first.name, second.name]


@pytest.mark.slow
def test_feedback_and_template_workbooks_are_valid_ooxml(spec: Spec, round_db: tuple[Path, Path], tmp_path: Path) -> None:
    """The feedback workbook (a new kind) and a template with its print setup and the spare rows'
    conditional formats open cleanly in Excel, by the OOXML schema."""
    import subprocess

    exe = shutil.which("openxml-audit")
    if exe is None:
        pytest.skip("openxml-audit not installed")
    db, _ = round_db
    assert CliRunner().invoke(cli, ["feedback", "--db", str(db), "-o", str(tmp_path / "fb")]).exit_code == 0
    template = tmp_path / "t.xlsx"
    build_workbook(spec, load_dataset(SAMPLES / "unit-430100002.json"), template)
    for path in (tmp_path / "fb" / "430100003-反馈.xlsx", template):
        res = subprocess.run([exe, "-f", "microsoft365", str(path)], capture_output=True, text=True)
        assert res.returncode == 0 and "Errors: 0" in res.stdout, res.stdout + res.stderr
