"""Issue 24, the third hardening round: what a spreadsheet shows is what is stored, one file cannot
blow up a round, the office session and keys are safe. One test per class of the issue, named after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from generator.xlsx.reader import read_workbook

from .xlsxparts import edit_part, sheet_part
from .ziputil import set_cell

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- 1. digit forms


def _set_v(path: Path, sheet: str, ref: str, cell_xml: str) -> None:
    """Replace the cell ``ref`` of ``sheet`` by ``cell_xml`` (``{s}`` = its style attribute)."""
    edit_part(path, sheet_part(path, sheet), lambda body: set_cell(body, ref, cell_xml))


@pytest.mark.slow
@pytest.mark.parametrize("form", ["2_128.85", "２１２８.８５", "٢١٢٨.٨٥", "\u00a02128.85", "2128.85\u00a0", "\u20072128.85",
                                  "2128.8\u0665", "+2128.85e0_0"])
def test_digit_forms_not_read_as_numbers(form: str, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    """公开01表 C7 holding a number in a form Excel and LibreOffice do not read as that number
    (underscore, full-width, Arabic-Indic digits, NBSP around it) is not stored as the number: it is
    the text it is, an error at its cell, counted 0 as the spreadsheet counts it."""
    clean = read_workbook(seed_xlsx, spec=spec)
    assert clean.exit_code == 0 and clean.values["公开01"]["1"]["1"] == Decimal("2128.85")
    _set_v(seed_xlsx, "公开01表", "C7", f'<c r="C7" {{s}}><v>{form}</v></c>')
    res = read_workbook(seed_xlsx, spec=spec)
    assert res.exit_code == 1
    at = [f for f in res.findings if f.cell == "公开01表!C7"]
    assert at and at[0].code in ("not-a-number", "number-as-text") and at[0].severity == "error", at
    assert res.values.get("公开01", {}).get("1", {}).get("1") in (None, Decimal(0))


def test_digit_forms_in_input_formulas_and_cached_results(seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    """The same forms inside a typed formula are refused, and as a formula's cached result they are stale."""
    from generator.core.cellformula import FormulaRefused, evaluate

    for f in ("=２１２８.８５", "=2_128.85", "=١+1"):
        with pytest.raises(FormulaRefused):
            evaluate(f)
    assert evaluate("=2128.85") == Decimal("2128.85")
    from generator.xlsx.reader import number_value

    for ok in ("2128.85", "-1", "+1.5E+3", ".5", "5.", "1e-5"):
        assert number_value(ok) == Decimal(ok)
    for bad in ("2_128.85", "２１２８.８５", "1,234", "\u00a01", "1\u3000", "0x1F", "1.2.3", "", "e5", "1e", "NaN", "Infinity"):
        with pytest.raises(ArithmeticError):
            number_value(bad)


# ---------------------------------------------------------------- 2. finding amplification


def _tiny_formulas(src: Path, out: Path, spec, n: int = 150) -> Path:  # type: ignore[no-untyped-def]
    """``=1E-999999`` typed into ``n`` input cells (the red team's 69 KB file)."""
    from generator.core.layout import plan_workbook  # noqa: F401 - the plan comes with the build

    res = read_workbook(src, spec=spec)
    wb = openpyxl.load_workbook(src)
    k = 0
    for sp in res.plan.sheets:
        for (r, c), cell in sorted(sp.cells.items()):
            if cell.kind == "input" and k < n:
                wb[sp.name].cell(row=r + 1, column=c + 1).value = "=1E-999999"
                k += 1
    assert k == n
    wb.save(out)
    return out


def _read_in_subprocess(path: Path, *extra: str) -> tuple[int, int, float]:
    """``juesuan read --json`` of one file in its own process: (exit code, bytes of JSON, peak RSS MB)."""
    code = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True); "
            "sys.stderr.write(p.stderr.decode('utf-8', 'replace')[-2000:]); "
            "r = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
            "print(p.returncode, len(p.stdout), r / 1024)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "generator", "read", str(path), "--json",
                           *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    rc, size, rss = proc.stdout.split()
    return int(rc), int(size), float(rss)


@pytest.mark.slow
def test_finding_amplification_bounded(seed_xlsx: Path, spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``=1E-999999`` in 150 input cells: every message field bounded (a number shown with at most 20
    significant digits, a text excerpt at most 200 characters), the file's findings JSON under 2 MB,
    the read under 500 MB RSS, the value what a spreadsheet computes (0)."""
    bad = _tiny_formulas(seed_xlsx, tmp_path / "tiny.xlsx", spec)
    res = read_workbook(bad, spec=spec)
    assert res.usable and res.findings
    for f in res.findings:
        assert len(f.message) <= 600 and len(f.expected or "") <= 200 and len(f.actual or "") <= 200, f.code
    blob = json.dumps(res.to_json(), ensure_ascii=False)
    assert len(blob.encode()) < 2_000_000
    assert all(len(v) < 60 for cols in res.to_json()["values"].values() for row in cols.values() for v in row.values())
    rc, size, rss = _read_in_subprocess(bad)
    assert rc in (0, 1) and size < 2_000_000 and rss < 500, (rc, size, rss)


def test_finding_fields_bounded_whatever_they_are_given() -> None:
    from generator.core.findings import Finding
    from generator.core.money import shown

    f = Finding("not-a-number", "error", "说" * 10**6, expected="9" * 10**6, actual="a" * 300,
                extra={"cells": list(range(10**5)), "t": "b" * 10**5})
    assert len(f.message) <= 600 and len(f.expected) <= 200 and len(f.actual) <= 200
    assert len(f.extra["cells"]) <= 100 and len(f.extra["t"]) <= 500
    assert shown(Decimal("1E-300")) == "1.0000000000000000000E-300"
    assert shown(Decimal(1) / Decimal(3)).startswith("3.333333333333333333") and len(shown(Decimal(1) / 3)) < 30
    assert shown(Decimal("2128.85")) == "2128.85"


# ---------------------------------------------------------------- 3. an upload racing a collect


SAMPLES = ROOT / "specs" / "samples"
UNITS = SAMPLES / "units.csv"
UNIT = "430100002"


def _unit_workbook(spec, folder: Path) -> Path:  # type: ignore[no-untyped-def]
    from generator.core.dataset import load_dataset
    from generator.xlsx.writer import build_workbook

    folder.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(SAMPLES / f"unit-{UNIT}.json")
    return build_workbook(spec, ds, folder / f"{UNIT}-{ds.unit_name}.xlsx").path


def _originals(db: str, sha: str) -> int:
    from generator.office.store import Store

    with Store(db) as store:
        return int(store.conn.execute("SELECT COUNT(*) FROM submissions WHERE sha256=? AND duplicate_of IS NULL",
                                      (sha,)).fetchone()[0])


def test_upload_racing_collect_stores_once(spec, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A web upload of a file arriving while ``collect`` reads the same content (the collect has
    decided the content is new, the upload stores it first): the content is stored once, the
    collect's file becomes a 重复 row pointing at the upload."""
    import hashlib

    from generator.office.collect import DUP, collect, ingest_bytes, load_tree, read_many
    from generator.office.statuses import STATUS_CODES
    from generator.office.store import Store

    path = _unit_workbook(spec, tmp_path / "returned")
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    tree = load_tree(UNITS)

    def racing_reader(tasks, spec_, key, password, store_result, limits=None):  # type: ignore[no-untyped-def]
        assert [t.sha256 for t in tasks] == [sha]  # the collect took it for new content
        with Store(db_url) as other:  # the web server's own connection
            other.replace_units(tree.rows())
            ingest_bytes(other, tree, spec, data, "填好.xlsx", UNIT, tmp_path / "evidence")
        read_many(tasks, spec_, key, password, 1, store_result)

    with Store(db_url) as store:
        summary = collect(store, tmp_path / "returned", tree, spec, workers=1, progress=False, reader=racing_reader)
        rows = store.conn.execute("SELECT path, duplicate_of, status FROM submissions WHERE sha256=? ORDER BY id",
                                  (sha,)).fetchall()
    assert _originals(db_url, sha) == 1, [tuple(r) for r in rows]
    # (the raw column: the database stores the status's code, schema 4)
    assert len(rows) == 2 and rows[0]["duplicate_of"] is None and rows[1]["status"] == STATUS_CODES[DUP]
    assert summary.duplicates == 1


def test_two_uploads_of_one_content_at_once_store_once(spec, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two writers (two connections: the web page, a second server or a script) both find the content
    new, both read it, both store: one original, one 重复."""
    import hashlib
    import threading

    from generator.office.collect import keep_evidence, load_tree, read_one, store_upload
    from generator.office.store import Store

    data = _unit_workbook(spec, tmp_path / "f").read_bytes()
    tree = load_tree(UNITS)
    with Store(db_url) as s:
        s.replace_units(tree.rows())
    sha, kept = keep_evidence(data, tmp_path / "evidence")
    assert sha == hashlib.sha256(data).hexdigest()
    doc = read_one(str(kept), UNIT, spec)
    both_new = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with Store(db_url) as store:
                _, need = store_upload(store, tree, spec, sha, len(data), "a.xlsx", UNIT, None)
                assert need
                both_new.wait(timeout=60)
                store_upload(store, tree, spec, sha, len(data), "a.xlsx", UNIT, doc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert _originals(db_url, sha) == 1


def test_a_second_original_is_refused_by_the_database(tmp_path: Path) -> None:
    import sqlite3

    from generator.office.store import Store

    with Store(tmp_path / "j.sqlite") as store:
        run = store.start_run("collect", "x", "2024", "h")
        base = {"run_id": run, "seq": 0, "path": "a", "file_name": "a", "sha256": "ab" * 32, "size": 1,
                "received": "t", "usable": 1, "status": "x"}
        store.add_submission(base)
        with pytest.raises(sqlite3.IntegrityError):
            store.add_submission({**base, "path": "b"})
        first = store.conn.execute("SELECT id FROM submissions").fetchone()[0]
        store.add_submission({**base, "path": "b", "duplicate_of": first})  # a 重复 row is fine


# ---------------------------------------------------------------- 4. office session, file modes


@pytest.mark.slow
def test_office_session_ends_at_logout_and_password_change(tmp_path: Path) -> None:
    """A copied office cookie stops working once the office logs out (in any browser) or the office
    password is changed; the database holding the keys, its -wal/-shm and lock file are 0600."""
    import stat

    from click.testing import CliRunner
    from starlette.testclient import TestClient

    from generator.cli import cli
    from generator.web.app import create_app

    from .web_helpers import PASSWORD, csrf_of, make_round

    old = os.umask(0o022)
    try:
        db, _links = make_round(tmp_path)
        app = create_app(db, workers=0)
        with TestClient(app, base_url="http://testserver", follow_redirects=False) as a, \
                TestClient(app, base_url="http://testserver", follow_redirects=False) as thief:
            login = a.get("/office/login")
            r = a.post("/office/login", data={"csrf": csrf_of(login.text), "password": PASSWORD})
            assert r.status_code == 303 and r.headers["location"] == "/office"
            thief.cookies.set("juesuan_session", a.cookies.get("juesuan_session"))
            assert thief.get("/office").status_code == 200  # a copied cookie works while the session lives
            page = a.get("/office")
            assert a.post("/office/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
            assert thief.get("/office").status_code == 303  # logout ended it everywhere
            # log in again; then the password is changed from the command line
            login = a.get("/office/login")
            a.post("/office/login", data={"csrf": csrf_of(login.text), "password": PASSWORD})
            assert a.get("/office").status_code == 200
            run = CliRunner().invoke(cli, ["office-password", "--db", str(db)], input="另一个-correct-horse\n")
            assert run.exit_code == 0
            assert a.get("/office").status_code == 303
        for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            if p.exists():
                assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        fresh = tmp_path / "new.sqlite"
        from generator.office.store import Store

        with Store(fresh) as s:
            s.set_meta("x", "y")
            s.acquire_writer("test")
            assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
            assert stat.S_IMODE(fresh.with_name(fresh.name + ".lock").stat().st_mode) == 0o600
        # an older database created 0644 is made owner-only when a key is stored in it
        older = tmp_path / "older.sqlite"
        Store(older).close()
        os.chmod(older, 0o644)
        CliRunner().invoke(cli, ["key", "init", "--db", str(older)])
        assert stat.S_IMODE(older.stat().st_mode) == 0o600
    finally:
        os.umask(old)


# ---------------------------------------------------------------- 5. publish writes under -o only


@pytest.mark.parametrize("name", ["../../ESCAPED-", "..\\\\..\\\\ESCAPED-", "/tmp/ESCAPED-", "a/../../ESCAPED-\n"])
def test_publish_stays_under_its_output_folder(name: str, tmp_path: Path) -> None:
    """A unit named ``../../ESCAPED-`` (or with a newline, a backslash, an absolute path) cannot make
    ``publish`` write outside ``-o`` or create folders: the output name is built from a sanitised name."""
    from click.testing import CliRunner

    from generator.cli import cli

    data = json.loads((SAMPLES / "seed-2024.json").read_text(encoding="utf-8"))
    data["unit"]["name"] = name
    src = tmp_path / "a" / "b" / "src.json"
    src.parent.mkdir(parents=True)
    src.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "a" / "b" / "out"
    before = {p for p in tmp_path.rglob("*")} | set(Path("/tmp").glob("ESCAPED-*"))
    res = CliRunner().invoke(cli, ["publish", str(src), "-o", str(out), "--format", "html", "--force"])
    assert res.exit_code in (0, 1), res.output
    after = {p for p in tmp_path.rglob("*")} | set(Path("/tmp").glob("ESCAPED-*"))
    new = after - before
    assert new and all(p == out or p.parent == out for p in new), new
    assert [p.name for p in out.iterdir()] == [next(iter(out.iterdir())).name]
    assert "ESCAPED-" in next(iter(out.iterdir())).name and "\n" not in next(iter(out.iterdir())).name


# ---------------------------------------------------------------- 6. FIFOs and other non-regular files


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_fifo_in_collected_folder_is_skipped(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A FIFO (named like a unit's workbook) in the collected folder is listed as skipped, never
    opened for reading: ``collect`` ends; ``read`` of a FIFO is a finding, not a hang."""
    folder = tmp_path / "returned"
    _unit_workbook(spec, folder)
    os.mkfifo(folder / "430100003-伪装.xlsx")
    os.mkfifo(tmp_path / "pipe.xlsx")
    try:
        run = _cli("collect", str(folder), "--units", str(UNITS), "--db", str(tmp_path / "j.sqlite"), "--workers", "1",
                   timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("collect hung on a FIFO")
    assert run.returncode in (0, 1), run.stderr[-2000:]
    assert "430100003-伪装.xlsx（不是普通文件，未读取）" in run.stdout
    import sqlite3

    con = sqlite3.connect(tmp_path / "j.sqlite")
    assert [r[0] for r in con.execute("SELECT path FROM submissions")] == [f"{UNIT}-长沙市工业信息研究所.xlsx"]
    con.close()
    try:
        read = _cli("read", str(tmp_path / "pipe.xlsx"), "--json", timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("read hung on a FIFO")
    assert read.returncode == 2 and "file-not-regular" in read.stdout


# ---------------------------------------------------------------- 7. quotas


def _web_client(db: Path, **kw):  # type: ignore[no-untyped-def]
    from starlette.testclient import TestClient

    from generator.web.app import create_app

    return TestClient(create_app(db, workers=0, **kw), base_url="http://testserver", follow_redirects=True)


def _distinct_copies(data: bytes, n: int, pad: int = 0) -> list[bytes]:
    """``n`` distinct copies of a workbook (another zip comment each; ``pad`` bytes of stored padding)."""
    import io
    import zipfile

    out = []
    for i in range(n):
        buf = io.BytesIO(data)
        with zipfile.ZipFile(buf, "a") as z:
            z.comment = f"copy {i}".encode()
            if pad:
                z.writestr(f"customXml/pad{i}.bin", os.urandom(pad), compress_type=zipfile.ZIP_STORED)
        out.append(buf.getvalue())
    return out


@pytest.mark.slow
def test_unit_quotas_on_uploads_and_explanations(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Per unit: at most N uploads an hour and M bytes of distinct files kept (over it: 429, nothing
    stored); 差异说明 only for the rules the submission has, each capped in length."""
    from generator.office.store import Store

    from .web_helpers import csrf_of, make_round

    db, links = make_round(tmp_path)
    data = _unit_workbook(spec, tmp_path / "f").read_bytes()
    files = _distinct_copies(data, 6)
    with _web_client(db, uploads_per_hour=4, unit_evidence=len(data) * 3 + 1000) as c:
        page = c.get(links[UNIT]).text
        got = []
        for body in files:
            r = c.post(f"/unit/{UNIT}/upload", data={"csrf": csrf_of(page)},
                       files={"file": ("a.xlsx", body, "application/octet-stream")})
            got.append(r.status_code)
        assert got[:3] == [200, 200, 200] and got[3] == 429 and "上限" in r.text  # the 4th: over the bytes
        r = c.post(f"/unit/{UNIT}/upload", data={"csrf": csrf_of(page)},
                   files={"file": ("a.xlsx", files[0], "application/octet-stream")})
        assert r.status_code == 200  # the same content again costs no bytes: a 重复 row
        r = c.post(f"/unit/{UNIT}/upload", data={"csrf": csrf_of(page)},
                   files={"file": ("a.xlsx", files[1], "application/octet-stream")})
        assert r.status_code == 429 and "每小时" in r.text  # the 5th upload of the hour
        with Store(db) as store:
            assert store.conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 4
            sid = store.conn.execute("SELECT id FROM submissions WHERE duplicate_of IS NULL ORDER BY id").fetchone()[0]
            size0 = len(store.submission(sid)["doc"])
        for i in range(50):  # 差异说明 posts with made-up rule ids: nothing kept
            c.post(f"/unit/{UNIT}/s/{sid}/explain",
                   data={"csrf": csrf_of(page), **{f"explain:made-up-{i}-{k}": "x" * 20000 for k in range(15)}})
        with Store(db) as store:
            assert len(store.submission(sid)["doc"]) == size0


def test_explanation_only_for_the_submissions_rules(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from generator.core.dataset import load_dataset
    from generator.office.collect import explain_online, ingest_bytes, load_tree
    from generator.office.store import Store
    from generator.xlsx.writer import build_workbook

    ds = load_dataset(SAMPLES / f"unit-{UNIT}.json")
    ds.set("公开09", "1", "12", Decimal("0"))  # a warning (提示): g09-reception-vs-g06
    path = tmp_path / "warn.xlsx"
    build_workbook(spec, ds, path)
    tree = load_tree(UNITS)
    with Store(tmp_path / "j.sqlite") as store:
        store.replace_units(tree.rows())
        sid = ingest_bytes(store, tree, spec, path.read_bytes(), "w.xlsx", UNIT, tmp_path / "ev")
        size0 = len(store.submission(sid)["doc"])
        for i in range(50):
            explain_online(store, tree, spec, sid, {f"made-up-{i}": "z" * 100000})
        assert len(store.submission(sid)["doc"]) == size0
        explain_online(store, tree, spec, sid, {"g09-reception-vs-g06": "原因" * 10000})
        doc = json.loads(store.submission(sid)["doc"])
        assert set(doc["explanations"]) == {"g09-reception-vs-g06"}
        assert len(doc["explanations"]["g09-reception-vs-g06"]) == 500


# ---------------------------------------------------------------- 8. unbounded texts


def _random_han(n: int) -> str:
    """``n`` seeded random 汉字 (a text that does not compress into a zip bomb)."""
    import random

    rng = random.Random(24)
    return "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(n))


@pytest.mark.slow
def test_unbounded_texts_refused_at_the_cell(seed_xlsx: Path, spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A 699,050-character 附件 field (a spreadsheet cell holds at most 32,767) is refused at its cell
    and not imported; a text over the field's own limit (the spec's max_length, 2,000 by default) is
    an error and kept cut there; the same for a 空表说明 and a 差异说明."""
    from generator.core.spec import DEFAULT_FIELD_LENGTH

    plan = read_workbook(seed_xlsx, spec=spec).plan
    fields = [(sp.name, r, c, cell) for sp in plan.sheets for (r, c), cell in sorted(sp.cells.items())
              if cell.kind == "field" and cell.fig is not None]
    explains = [(sp.name, r, c) for sp in plan.sheets for (r, c), cell in sorted(sp.cells.items()) if cell.kind == "explain"]
    assert len(fields) >= 2 and explains
    (s1, r1, c1, f1), (s2, r2, c2, f2) = fields[:2]
    wb = openpyxl.load_workbook(seed_xlsx)
    wb[s2].cell(row=r2 + 1, column=c2 + 1).value = "中" * (DEFAULT_FIELD_LENGTH + 500)
    se, re_, ce = explains[0]
    wb[se].cell(row=re_ + 1, column=ce + 1).value = "说" * 5000
    wb.save(tmp_path / "long.xlsx")
    from generator.core.layout import a1

    # openpyxl cuts a text at 32,767 characters: the red team's file has the whole text in its XML
    _set_v(tmp_path / "long.xlsx", s1, a1(r1, c1),
           f'<c r="{a1(r1, c1)}" {{s}} t="inlineStr"><is><t>{_random_han(699_050)}</t></is></c>')
    res = read_workbook(tmp_path / "long.xlsx", spec=spec)
    from generator.core.layout import a1

    long = {f.cell: f for f in res.findings if f.code == "text-too-long"}
    assert {f"{s1}!{a1(r1, c1)}", f"{s2}!{a1(r2, c2)}", f"{se}!{a1(re_, ce)}"} <= set(long)
    assert all(f.severity == "error" for f in long.values())
    texts = res.dataset.texts
    assert texts.get(f1.fig.table, {}).get(f1.fig.row, {}).get(f1.fig.col) is None  # not imported
    assert texts[f2.fig.table][f2.fig.row][f2.fig.col] == "中" * (f2.max_length or DEFAULT_FIELD_LENGTH)  # kept cut
    assert all(len(v) <= 500 for v in res.dataset.explanations.values())
    assert len(json.dumps(res.to_json(), ensure_ascii=False).encode()) < 2_000_000


def test_field_max_length_from_the_spec(tmp_path: Path) -> None:
    import shutil

    from generator.core.catalog import load_spec

    d = tmp_path / "s"
    shutil.copytree(ROOT / "specs" / "2024", d)
    y = d / "fujian1.yaml"
    y.write_text(y.read_text(encoding="utf-8").replace("{field: 措施, colspan: 6}", "{field: 措施, colspan: 6, max_length: 300}"),
                 encoding="utf-8")
    s = load_spec(d)
    cell = next(c for r in s.tables["附件1"].form for c in r.cells if c.kind == "field" and c.key == "措施")
    assert cell.max_length == 300
    y.write_text(y.read_text(encoding="utf-8").replace("max_length: 300", "max_length: 40000"), encoding="utf-8")
    from generator.core.spec import SpecInvalid

    with pytest.raises(SpecInvalid, match="max_length"):
        load_spec(d)


# ---------------------------------------------------------------- 9. check-published and codes import


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF of the given objects (1 = catalog), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _flate_bomb_pdf(inflated_mb: int) -> bytes:
    import zlib

    z = zlib.compressobj(9)
    chunk = b" " * (16 * 1024 * 1024)
    data = b"".join(z.compress(chunk) for _ in range(inflated_mb // 16)) + z.flush()
    stream = f"<< /Length {len(data)} /Filter /FlateDecode >>\nstream\n".encode() + data + b"\nendstream"
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>", stream])


def _many_pages_pdf(n: int) -> bytes:
    kids = " ".join(f"{i + 3} 0 R" for i in range(n))
    pages = [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * n
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(), *pages])


def _measured(*args: str, timeout: float = 600) -> tuple[int, str, float]:
    """A juesuan command in its own process: (exit code, stdout + stderr, peak RSS MB of it and its children)."""
    code = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True); "
            "sys.stdout.write(p.stdout.decode('utf-8', 'replace') + p.stderr.decode('utf-8', 'replace')); "
            "print('\\nRSS', p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "generator", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    text, _, tail = proc.stdout.rpartition("\nRSS ")
    rc, rss = tail.split()
    return int(rc), text, float(rss)


@pytest.mark.slow
def test_check_published_and_codes_import_resource_limits(tmp_path: Path) -> None:
    """check-published of a 1 MB flate-bomb PDF or a 20,000-page PDF, codes import of an xlsx bomb,
    a sheet of too many cells, a CSV field over 128 KB: each ends with one Chinese error (exit 2),
    no traceback, in bounded memory."""
    import io
    import zipfile

    seed = SAMPLES / "seed-2024.json"
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(_flate_bomb_pdf(2048))
    assert bomb.stat().st_size < 3 * 1024 * 1024
    pages = tmp_path / "pages.pdf"
    pages.write_bytes(_many_pages_pdf(20_000))
    for pdf, words in ((bomb, "PDF 过于庞大"), (pages, "20000 页")):
        rc, out, rss = _measured("check-published", str(pdf), "--against", str(seed))
        assert rc == 2 and words in out and "Traceback" not in out, out[-2000:]
        assert rss < 1100, rss  # the PDF is parsed under a 1 GB address-space limit
    # codes import: an xlsx bomb (a sheet part that inflates 1,000:1), too many cells, a long CSV field
    xbomb = tmp_path / "codes-bomb.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["code", "name"])
    wb.save(xbomb)
    src = xbomb.read_bytes()
    from .xlsxparts import rezip

    xbomb.write_bytes(rezip(src, change={"xl/worksheets/sheet1.xml": zipfile.ZipFile(xbomb).read(
        "xl/worksheets/sheet1.xml").replace(b"<sheetData>", b"<sheetData>" + b" " * 200_000_000)}))
    big = tmp_path / "codes-big.xlsx"
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>{r}</v></c></row>' for r in range(1, 150_001))
    head = zipfile.ZipFile(io.BytesIO(src)).read("xl/worksheets/sheet1.xml").split(b"<sheetData")[0]
    big.write_bytes(rezip(src, change={"xl/worksheets/sheet1.xml": head + f"<sheetData>{rows}</sheetData></worksheet>".encode()}))
    longcsv = tmp_path / "codes.csv"
    longcsv.write_text("code,name\n2010101," + "长" * 200_000 + "\n", encoding="utf-8")
    specs = tmp_path / "specs"
    import shutil

    shutil.copytree(ROOT / "specs" / "2024", specs)
    for f, words in ((xbomb, "压缩"), (big, "上限"), (longcsv, "codes.csv")):
        rc, out, rss = _measured("codes", "import", str(f), "--specs", str(specs), "--dry-run")
        assert rc == 2 and words in out and "Traceback" not in out, out[-2000:]
        assert len(out) < 10_000 and rss < 500, (len(out), rss)


# ---------------------------------------------------------------- 10. server timeouts


@pytest.mark.slow
def test_web_server_header_and_body_timeouts(tmp_path: Path) -> None:
    """``juesuan serve`` closes a connection whose headers trickle in (a line every 2 s: slowloris),
    a connection that never sends anything, and a body that stops arriving, within the header/body
    timeouts; the server still answers others at once."""
    import socket
    import threading
    import time

    from bench.web_load import Server
    from generator.web.server import BODY_IDLE_TIMEOUT, HEADER_TIMEOUT

    from .web_helpers import make_round

    db, _ = make_round(tmp_path)
    closed_after: dict[str, float] = {}

    def held(name: str, port: int, first: bytes, then: bytes | None, every: float) -> None:
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        t0 = time.monotonic()
        try:
            s.sendall(first)
            s.settimeout(every)
            while time.monotonic() - t0 < 60:
                try:
                    if s.recv(4096) == b"":
                        break
                except TimeoutError:
                    if then:
                        s.sendall(then)
                except OSError:
                    break
        except OSError:
            pass
        finally:
            closed_after[name] = time.monotonic() - t0
            s.close()

    with Server(db, workers=1) as server:
        cases = [("slowloris", b"GET / HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n", 2.0),
                 ("half-open", b"", None, 1.0),
                 ("stalled-body", b"POST /office/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
                                  b"\r\nContent-Length: 1000\r\n\r\ncsrf=", None, 1.0)]
        threads = [threading.Thread(target=held, args=(n, server.port, a, b, e)) for n, a, b, e in cases]
        threads += [threading.Thread(target=held, args=(f"idle-{i}", server.port, b"", None, 1.0)) for i in range(30)]
        for t in threads:
            t.start()
        time.sleep(1)
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 200"), "the server answers others meanwhile"
        s.close()
        for t in threads:
            t.join(timeout=90)
    assert closed_after["slowloris"] < HEADER_TIMEOUT + 5, closed_after
    assert closed_after["half-open"] < HEADER_TIMEOUT + 5, closed_after
    assert closed_after["stalled-body"] < BODY_IDLE_TIMEOUT + 5, closed_after
    assert max(v for k, v in closed_after.items() if k.startswith("idle-")) < HEADER_TIMEOUT + 5


# ---------------------------------------------------------------- 11. smaller ones


@pytest.mark.slow
def test_smaller_web_holes_closed(spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A huge submission id is 404 (not 500); a read-only database or a full disk is a Chinese 503
    page; pages carry Cache-Control: no-store; the login throttle is per client (a stranger's failures
    do not lock the office out); an office password hashed with scrypt N=2^14 is upgraded to 2^17 at login."""
    import sqlite3

    from starlette.testclient import TestClient

    from generator.office.store import Store
    from generator.web import auth
    from generator.web.app import LOGIN_TRIES, create_app

    from .web_helpers import PASSWORD, csrf_of, make_round

    db, links = make_round(tmp_path)
    with Store(db) as s:  # an office password stored by an older version (N=2^14)
        s.set_meta(auth.PASSWORD_KEY, auth.hash_password(PASSWORD, n=2**14))
    app = create_app(db, workers=0)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        page = c.get(links[UNIT])
        assert page.headers["cache-control"] == "no-store"
        assert c.get("/static/web.css").headers.get("cache-control") != "no-store"
        for sid in (10**30, 2**63, 0):
            r = c.get(f"/unit/{UNIT}/s/{sid}")
            assert r.status_code == 404 and "页面不存在" in r.text, (sid, r.status_code)

        def full(*a, **k):  # type: ignore[no-untyped-def]
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr("generator.web.service.store_upload", full)
        r = c.post(f"/unit/{UNIT}/upload", data={"csrf": csrf_of(page.text)},
                   files={"file": ("a.xlsx", _unit_workbook(spec, tmp_path / "f").read_bytes(), "application/octet-stream")})
        assert r.status_code == 503 and "磁盘已满" in r.text and "Traceback" not in r.text
        monkeypatch.undo()
    app = create_app(db, workers=0)  # a new server (the first one's lifespan ended with its client)
    stranger = TestClient(app, base_url="http://testserver", client=("203.0.113.9", 5555))
    office = TestClient(app, base_url="http://testserver", client=("10.0.0.2", 5555))
    with stranger, office:
        for _ in range(LOGIN_TRIES + 2):
            r = stranger.post("/office/login", data={"csrf": csrf_of(stranger.get("/office/login").text), "password": "wrong-wrong"})
        assert r.status_code == 429
        r = office.post("/office/login", data={"csrf": csrf_of(office.get("/office/login").text), "password": PASSWORD})
        assert r.status_code == 200 and "报送情况" in r.text  # the office still gets in
    with Store(db) as s:
        stored = s.get_meta(auth.PASSWORD_KEY)
    assert stored.split("$")[1] == str(2**17) and auth.verify_password(PASSWORD, stored)
    assert auth.SCRYPT_N == 2**17


@pytest.mark.slow
def test_smaller_reader_and_report_holes_closed(spec, seed_xlsx: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A t="b" cell is read as the TRUE/FALSE a spreadsheet shows, not its text; the sheet-too-large
    message names the sheet with the most cells; a newline or ESC in a file name neither forges a row
    of the terminal table nor reaches the CSV/HTML reports raw."""
    import shutil

    from generator.core.layout import a1
    from generator.office.collect import collect, load_tree, report_csv, report_html, terminal_table, unit_report
    from generator.office.store import Store
    from generator.xlsx.ooxml import Limits

    clean = tmp_path / "clean.xlsx"
    shutil.copy(seed_xlsx, clean)
    plan = read_workbook(seed_xlsx, spec=spec).plan
    sp, (r, c) = next((sp, rc) for sp in plan.sheets for rc, cell in sorted(sp.cells.items())
                      if cell.kind == "field" and cell.fig is not None)
    ref = a1(r, c)
    _set_v(seed_xlsx, sp.name, ref, f'<c r="{ref}" {{s}} t="b"><v>本单位已压减会议费</v></c>')
    res = read_workbook(seed_xlsx, spec=spec)
    f = sp.cells[(r, c)].fig
    assert res.dataset.texts[f.table][f.row][f.col] == "TRUE"
    # the largest sheet is named, not the one where the count ran over
    big = tmp_path / "big.xlsx"
    wb = openpyxl.load_workbook(clean)
    for row in range(200, 260):
        for col in range(1, 31):
            wb["公开01表"].cell(row=row, column=col).value = 1
    wb.save(big)
    res = read_workbook(big, spec=spec, limits=Limits(max_cells=3000))
    assert res.findings[0].code == "sheet-too-large" and "最多的是工作表 公开01表" in res.findings[0].message
    # file names with a newline and an escape sequence
    folder = tmp_path / "returned"
    p = _unit_workbook(spec, folder)
    evil = folder / f"{UNIT}-x\n430100003  长沙市伪造单位  通过\x1b[2J.xlsx"
    p.rename(evil)
    tree = load_tree(UNITS)
    with Store(tmp_path / "j.sqlite") as store:
        collect(store, folder, tree, spec, workers=1, progress=False)
        rep = unit_report(store, tree)
        table = terminal_table(rep)
        csv_text = report_csv(rep)
        html = report_html(store, rep)
    assert "\x1b" not in table and "\x1b" not in csv_text and "\x1b" not in html
    lines = table.splitlines()
    assert not any(line.lstrip().startswith("430100003  长沙市伪造单位") for line in lines), table
    assert len(lines) == len(rep.rows) + 3  # header, rule, one line per unit, the summary


# ---------------------------------------------------------------- the round's memory bound


@pytest.mark.slow
def test_read_memory_bounded_at_the_limits(seed_xlsx: Path, tmp_path: Path) -> None:
    """Reading any single file stays under 500 MB RSS and 2 MB of findings JSON: a workbook at the
    part-size limit (a 30 MB sheet of long random 汉字 texts typed outside the input cells, 90,000
    cells), and the finding-amplification file, each read by ``juesuan read --json`` in its own process."""
    import io
    import random
    import zipfile

    from generator.xlsx.ooxml import Limits

    from .xlsxparts import rezip

    src = seed_xlsx.read_bytes()
    part = sheet_part(src, "公开01表")
    body = zipfile.ZipFile(io.BytesIO(src)).read(part)
    rng = random.Random(500)
    han = range(0x4E00, 0x9FA5)
    rows = []
    for i in range(90_000 // 15):
        r = 200 + i
        text = "".join(map(chr, rng.choices(han, k=15 * 100)))
        rows.append(f'<row r="{r}">' + "".join(f'<c r="{chr(72 + j)}{r}" t="inlineStr"><is><t>{text[j * 100:(j + 1) * 100]}'
                                               f"</t></is></c>" for j in range(15)) + "</row>")
    big = body.replace(b"</sheetData>", "".join(rows).encode() + b"</sheetData>")
    assert 25 * 2**20 < len(big) < Limits().max_part_bytes
    path = tmp_path / "at-the-limits.xlsx"
    path.write_bytes(rezip(src, change={part: big}))
    rc, size, rss = _read_in_subprocess(path)
    assert rc == 1 and size < 2_000_000 and rss < 500, (rc, size, rss)


@pytest.mark.slow
def test_upload_racing_collect_live_processes(tmp_path: Path) -> None:
    """The red team's race with real processes: ``juesuan serve`` receiving 20 uploads while a
    ``juesuan collect`` of a folder holding the same 20 files runs on the same SQLite database:
    every content has exactly one original, whoever stored it first."""
    import sqlite3
    import threading

    from bench.web_load import Server, load, make_links, prepare

    units_csv, files = prepare(tmp_path, units=4, per_unit=5)
    db = tmp_path / "round.sqlite"
    links = make_links(db, units_csv)
    with Server(db, workers=2) as server:
        got: list = []
        t = threading.Thread(target=lambda: got.append(load(server.url, links, files, deadline_s=300)))
        t.start()
        run = _cli("collect", str(tmp_path / "files"), "--units", str(units_csv), "--db", str(db), "--workers", "2",
                   timeout=300)
        t.join(timeout=320)
    assert run.returncode in (0, 1), run.stderr[-2000:]
    uploads, _ = got[0]
    assert len(uploads) == 20 and all(u.http_status == 200 for u in uploads), [u for u in uploads if u.http_status != 200]
    con = sqlite3.connect(db)
    rows = con.execute("SELECT sha256, COUNT(*) FROM submissions WHERE duplicate_of IS NULL GROUP BY sha256").fetchall()
    total = con.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
    con.close()
    assert len(rows) == 20 and all(n == 1 for _, n in rows), [r for r in rows if r[1] != 1]
    assert total == 40  # each file once by each channel: one original, one 重复
