"""The collection database: every returned file, its figures by key and its findings, in SQLite.

SQLite is the embedded default (stdlib ``sqlite3``; no server to start). One writer: the main
process of ``juesuan collect``; readers of workbooks run in worker processes and hand back plain
data. WAL journal, foreign keys on. Amounts are stored as exact decimal strings, never floats.

Tables (see :data:`SCHEMA`):

- ``meta``: schema version and the spec (version, hash) of the last collect.
- ``spec_versions``: every spec a round has used, its files kept whole and addressed by hash, so a
  submission is always read, consolidated and published with the exact spec it was built with.
- ``units``: the units file (code, name, parent), replaced by every collect.
- ``runs``: one row per collect/recheck run.
- ``submissions``: one row per file received (history is never deleted; a duplicate is a row
  pointing at its original). ``unit`` is the unit the file counts for; ``accepted`` marks a
  submission that can be its unit's current one.
- ``figures``: every figure of a submission by key (table, row, col), ``input`` = typed in.
- ``findings``: every finding of a submission; ``active`` = 0 once a recheck superseded it.
- ``consolidations`` / ``consolidation_members``: what each 汇总 took from whom (provenance).
- ``reviews``: every 审核通过/退回 with who, when, which submission (content hash) and why;
  append-only, enforced by the database (triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import zlib
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..core.clock import now as clock_now
from ..core.dataset import Values
from ..core.findings import Finding
from .statuses import STATUS_CODES, STATUS_LABELS, status_code

SCHEMA_VERSION = 4

# The schema of version 1 (every database starts from it); later versions are the MIGRATIONS, each
# applied once, in order, in one transaction with the version bump. A database of an older version
# is upgraded when opened; a newer one is refused (an older program must not write into it).
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS units(
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  parent TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL DEFAULT '',
  ord INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,                 -- collect | recheck
  started TEXT NOT NULL,
  finished TEXT,
  source TEXT,                        -- the folder collected
  spec_version TEXT,
  spec_hash TEXT,
  summary TEXT                        -- JSON counts
);
CREATE TABLE IF NOT EXISTS submissions(
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  seq INTEGER NOT NULL,               -- order of receipt within the run: file time, then path
  path TEXT NOT NULL,                 -- relative to the collected folder
  file_name TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime TEXT,
  received TEXT NOT NULL,
  unit_code TEXT NOT NULL DEFAULT '', -- from the workbook's identity
  unit_name TEXT NOT NULL DEFAULT '',
  expect_unit TEXT,                   -- the unit the file name or folder names, if any
  unit TEXT,                          -- the unit the file counts for
  year INTEGER,
  template_id TEXT,
  template_version TEXT,
  spec_hash TEXT,
  usable INTEGER NOT NULL,
  duplicate_of INTEGER REFERENCES submissions(id),
  status TEXT NOT NULL,
  accepted INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  warnings INTEGER NOT NULL DEFAULT 0,
  infos INTEGER NOT NULL DEFAULT 0,
  doc TEXT NOT NULL DEFAULT '{}'      -- names, notes, cover, explanations (JSON)
);
CREATE INDEX IF NOT EXISTS submissions_sha ON submissions(sha256);
CREATE INDEX IF NOT EXISTS submissions_unit ON submissions(unit, run_id, seq);
CREATE TABLE IF NOT EXISTS figures(
  submission_id INTEGER NOT NULL REFERENCES submissions(id),
  tbl TEXT NOT NULL,
  row TEXT NOT NULL,
  col TEXT NOT NULL,
  value TEXT NOT NULL,                -- exact decimal
  input INTEGER NOT NULL,             -- 1 = typed in, 0 = derived (recomputed)
  PRIMARY KEY (submission_id, tbl, row, col)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inputs(
  submission_id INTEGER NOT NULL PRIMARY KEY REFERENCES submissions(id),
  data BLOB NOT NULL                  -- zlib(JSON {table: {row: {col: "exact decimal"}}}): the typed-in figures
);
CREATE TABLE IF NOT EXISTS findings(
  id INTEGER PRIMARY KEY,
  submission_id INTEGER NOT NULL REFERENCES submissions(id),
  source TEXT NOT NULL,               -- read | collect | recheck
  run_id INTEGER,
  active INTEGER NOT NULL DEFAULT 1,
  code TEXT NOT NULL,
  severity TEXT NOT NULL,
  message TEXT NOT NULL,
  tbl TEXT, row TEXT, col TEXT, cell TEXT, expected TEXT, actual TEXT, rule TEXT,
  extra TEXT
);
CREATE INDEX IF NOT EXISTS findings_sub ON findings(submission_id, active);
CREATE TABLE IF NOT EXISTS consolidations(
  id INTEGER PRIMARY KEY,
  parent TEXT NOT NULL,
  created TEXT NOT NULL,
  include_errors INTEGER NOT NULL,
  spec_version TEXT,
  spec_hash TEXT,
  workbook TEXT,
  data_file TEXT,
  summary TEXT
);
CREATE TABLE IF NOT EXISTS consolidation_members(
  consolidation_id INTEGER NOT NULL REFERENCES consolidations(id),
  unit TEXT NOT NULL,
  node TEXT NOT NULL,                 -- the level the unit's figures are summed into first
  submission_id INTEGER REFERENCES submissions(id),
  included INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (consolidation_id, unit)
);
"""

# Each migration: its statements, the same on both engines, or {"sqlite": [...], "postgresql": [...]}.
Migration = list[str] | dict[str, list[str]]
MIGRATIONS: dict[int, Migration] = {
    2: ["""
CREATE TABLE IF NOT EXISTS spec_versions(
  hash TEXT PRIMARY KEY,              -- the spec's content hash (Spec.hash)
  version TEXT NOT NULL,
  year INTEGER,
  files BLOB NOT NULL,                -- zlib(JSON {relative path: text}): the spec folder, whole
  added TEXT NOT NULL
)"""],
    # review and approval (审核/退回): one row per action, append-only -- the store itself refuses
    # to change or delete one (triggers), so the history cannot be rewritten through it
    3: {
        "sqlite": ["""
CREATE TABLE IF NOT EXISTS reviews(
  id INTEGER PRIMARY KEY,
  unit TEXT NOT NULL,
  reviewer_unit TEXT NOT NULL DEFAULT '', -- the unit reviewing (the parent; '' = the office)
  submission_id INTEGER NOT NULL REFERENCES submissions(id),
  sha256 TEXT NOT NULL,               -- the content reviewed
  action TEXT NOT NULL,               -- approve | return
  reviewer TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  cells TEXT NOT NULL DEFAULT '[]',   -- JSON [{"cell": "公开05表!D10", "note": "…"}]
  at TEXT NOT NULL
)""", "CREATE INDEX IF NOT EXISTS reviews_unit ON reviews(unit, id)",
            """CREATE TRIGGER IF NOT EXISTS reviews_no_update BEFORE UPDATE ON reviews
BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END""",
            """CREATE TRIGGER IF NOT EXISTS reviews_no_delete BEFORE DELETE ON reviews
BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END"""],
        "postgresql": ["""
CREATE TABLE IF NOT EXISTS reviews(
  id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  unit TEXT NOT NULL,
  reviewer_unit TEXT NOT NULL DEFAULT '',
  submission_id INTEGER NOT NULL REFERENCES submissions(id),
  sha256 TEXT NOT NULL,
  action TEXT NOT NULL,
  reviewer TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  cells TEXT NOT NULL DEFAULT '[]',
  at TEXT NOT NULL
)""", "CREATE INDEX IF NOT EXISTS reviews_unit ON reviews(unit, id)",
            """CREATE OR REPLACE FUNCTION juesuan_reviews_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'reviews are append-only'; END $$""",
            "DROP TRIGGER IF EXISTS reviews_append_only ON reviews",
            """CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON reviews
FOR EACH STATEMENT EXECUTE FUNCTION juesuan_reviews_append_only()"""],
    },
    # a submission's status as a stable code (statuses.STATUS_CODES), no longer its Chinese label
    4: ["UPDATE submissions SET status = CASE status "
        + " ".join(f"WHEN '{label}' THEN '{code}'" for label, code in STATUS_CODES.items()) + " ELSE status END"],
}

# a submission's status read back as its label (the database holds its code)
STATUS_AS_LABEL = ("CASE status " + " ".join(f"WHEN '{code}' THEN '{label}'" for code, label in STATUS_LABELS.items())
                   + " ELSE status END AS status")

SUBMISSION_COLUMNS = (
    "run_id", "seq", "path", "file_name", "sha256", "size", "mtime", "received", "unit_code", "unit_name",
    "expect_unit", "unit", "year", "template_id", "template_version", "spec_hash", "usable", "duplicate_of",
    "status", "accepted", "errors", "warnings", "infos", "doc",
)
# every column but ``doc`` (names, notes, cover, explanations: the bulk of a row): what statuses and
# reports need, so a round's unit report holds ~200 bytes per submission
LIGHT_COLUMNS = ", ".join(("id", *(c for c in SUBMISSION_COLUMNS if c != "doc")))


def _select(columns: str) -> str:
    """A submissions column list with the status read back as its label."""
    if columns.strip() == "*":
        columns = ", ".join(("id", *SUBMISSION_COLUMNS))
    return ", ".join(STATUS_AS_LABEL if c.strip() == "status" else c.strip() for c in columns.split(","))


DB_ENV = "JUESUAN_DB"
WRITER_LOCK_KEY = 0x4A55455355414E  # "JUESUAN": the PostgreSQL advisory lock of the one writer


def db_error_text(exc: BaseException, name: str) -> str:
    """One clear Chinese sentence for a database error (the engine's own words kept in brackets)."""
    raw = str(exc)
    low = raw.lower()
    if re.search(r"read.?only", low):
        why = "数据库是只读的（没有写入权限）"
    elif "full" in low or "no space" in low:
        why = "磁盘已满（或数据库已达大小上限）"
    elif "malformed" in low or "not a database" in low or "corrupt" in low:
        why = "数据库文件已损坏或不是数据库"
    elif "locked" in low or "busy" in low:
        why = "数据库正被其他程序占用"
    elif "unable to open" in low:
        why = "无法打开数据库文件"
    else:
        why = "数据库出错"
    return f"{why}：{name}（{raw[:200]}）"


def data_dir() -> Path:
    """The user's data folder of the tool (``$XDG_DATA_HOME/juesuan``, ``~/.local/share/juesuan``;
    ``%LOCALAPPDATA%\\juesuan`` on Windows)."""
    import os

    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "juesuan"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser() / "juesuan"


def default_db_path() -> str:
    """The one default database of every command: ``$JUESUAN_DB`` if set, else the user's data
    folder (``$XDG_DATA_HOME/juesuan/juesuan.sqlite``, ``~/.local/share/juesuan/juesuan.sqlite``;
    ``%LOCALAPPDATA%\\juesuan\\juesuan.sqlite`` on Windows): never relative to the current folder."""
    import os

    env = os.environ.get(DB_ENV)
    if env:
        return env if "://" in env else str(Path(env).expanduser())
    return str(data_dir() / "juesuan.sqlite")


class DBError(Exception):
    """A database that cannot be used; message in Chinese."""


def now() -> str:
    return clock_now()


class Store:
    """The collection database. Use as a context manager, or call :meth:`close`.

    ``db`` is a file path or ``sqlite:///PATH`` (SQLite, the embedded default) or a
    ``postgresql://…`` URL (PostgreSQL, for a cluster: see :mod:`.pgstore`). Both backends run the
    same SQL and the same tests."""

    def __init__(self, db: str | Path, create: bool = True):
        from .pgstore import is_url

        text = str(db)
        self.url = text if is_url(text) else None
        # sqlite:///relative/path, sqlite:////absolute/path (SQLAlchemy's spelling), or a plain path
        self.path: Path | None = None if self.url else Path(text.removeprefix("sqlite:///"))
        try:
            if self.url:
                self.conn = self._connect_pg(self.url)
            else:
                self.conn = self._connect_sqlite(self.path, create)  # type: ignore[arg-type]
            self._in_tx = False
            self.conn.executescript(SCHEMA)
            self._original_index()
            self._upgrade()
        except DBError:
            raise
        except Exception as exc:  # noqa: BLE001 - sqlite3.DatabaseError or psycopg.Error: an unusable database
            raise DBError("无法打开数据库，" + db_error_text(exc, self.name)) from exc

    def _upgrade(self) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION` (a new database: every migration; an older one:
        the missing ones, in one transaction); refuse a database written by a newer program."""
        text = self.get_meta("schema_version")
        try:
            version = int(text) if text is not None else 1
            if version < 1:
                raise ValueError(version)
        except ValueError:
            raise DBError(f"数据库 {self.name} 的结构版本 {text!r} 无法识别") from None
        if version > SCHEMA_VERSION:
            raise DBError(f"数据库 {self.name} 由较新版本的 juesuan 建立（结构版本 {version}，本程序认得到 {SCHEMA_VERSION}）；"
                          "请升级 juesuan 后再打开")
        if text is not None and version == SCHEMA_VERSION:
            return
        self.begin()
        try:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                migration = MIGRATIONS[step]
                if isinstance(migration, dict):
                    migration = migration["postgresql" if self.url else "sqlite"]
                for statement in migration:
                    self.conn.execute(statement)
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        except BaseException:
            self.rollback()
            raise
        self.commit()

    @property
    def name(self) -> str:
        """The database as shown to people (a URL without its password)."""
        if self.url:
            return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", self.url)
        return str(self.path)

    @staticmethod
    def _connect_sqlite(path: Path, create: bool) -> Any:
        if not create and not path.is_file():
            raise DBError(f"数据库 {path} 不存在；请先运行 juesuan collect")
        if path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
            raise DBError(f"数据库是只读的（没有写入权限）：{path}；请检查该文件及其所在文件夹的权限")
        path.parent.mkdir(parents=True, exist_ok=True)
        if str(path) != ":memory:" and not path.exists():
            # the database holds the session, link and fingerprint keys: created 0600 (its -wal and
            # -shm files take the database file's mode)
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @staticmethod
    def _connect_pg(url: str) -> Any:
        from .pgstore import PgConnection

        return PgConnection(url)

    # -- plumbing
    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:  # an error half-way: what the open transaction holds is not kept
            self.rollback()
        self.close()

    def close(self) -> None:
        try:
            if self._in_tx:
                self.commit()
        finally:
            self.release_writer()
            self.conn.close()

    def _original_index(self) -> None:
        """At most one original (a row that is no duplicate) per content, whoever writes (a collect,
        an upload): the database refuses a second one. A database that already holds two (written
        before this index) keeps working without it."""
        try:
            self.conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS submissions_original ON submissions(sha256) "
                              "WHERE duplicate_of IS NULL AND sha256 <> ''")
        except Exception:  # noqa: BLE001, S110 - duplicates from an older version: the per-content lock still holds
            pass

    def begin(self) -> None:
        """Open a write transaction. SQLite: BEGIN IMMEDIATE, so the write lock is taken first and
        what the transaction reads (is this content new?) is what it writes on."""
        if not self._in_tx:
            self.conn.execute("BEGIN" if self.url else "BEGIN IMMEDIATE")
            self._in_tx = True

    def lock_content(self, sha256: str) -> None:
        """Inside a transaction: hold the content ``sha256`` until commit, so deciding "is this content
        new" and inserting it are one step for every writer. SQLite's BEGIN IMMEDIATE already
        serialises writers; PostgreSQL takes a transaction advisory lock on the content."""
        if self.url and sha256:
            key = int.from_bytes(hashlib.sha256(sha256.encode()).digest()[:7], "big")  # < 2**63
            self.conn.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    def commit(self) -> None:
        """Commit the open transaction. A failed COMMIT (a full disk, a read-only file) is rolled back
        and raised as the real error, never hidden behind "no transaction is active" later."""
        if self._in_tx:
            self._in_tx = False
            try:
                self.conn.execute("COMMIT")
            except Exception as exc:
                try:
                    self.conn.execute("ROLLBACK")
                except Exception:  # noqa: BLE001, S110 - SQLite may have rolled back already
                    pass
                raise DBError(db_error_text(exc, self.name)) from exc

    def rollback(self) -> None:
        if self._in_tx:
            self._in_tx = False
            try:
                self.conn.execute("ROLLBACK")
            except Exception:  # noqa: BLE001, S110 - nothing open any more (SQLite rolled back itself)
                pass

    # -- one writer at a time
    _lock: Any = None

    def acquire_writer(self, what: str) -> None:
        """Take the database's writer lock for a collect or recheck, or raise DBError naming who
        holds it. SQLite: an advisory lock (flock) on ``<db>.lock``; PostgreSQL: a session advisory
        lock. Both are released when the process ends, however it ends (kill -9 included)."""
        holder = f"进程 {os.getpid()}，{what}，开始于 {now()}"
        if self.url:
            got = self.conn.execute("SELECT pg_try_advisory_lock(?)", (WRITER_LOCK_KEY,)).fetchone()[0]
            if not got:
                raise DBError(f"另一个收集或重新审核正在写入数据库 {self.name}；同一时间只能有一个，请等它结束后再运行")
            self._lock = "pg"
            return
        import fcntl

        assert self.path is not None
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fh = open(lock_path, "a+", encoding="utf-8", opener=lambda p, flags: os.open(p, flags, 0o600))
        except OSError as exc:
            raise DBError(f"无法在 {lock_path.parent} 建立数据库锁文件（{exc.strerror}）；请检查该目录是否可写") from exc
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            other = fh.read().strip() or "另一进程"
            fh.close()
            raise DBError(f"数据库 {self.name} 正被另一个收集或重新审核写入（{other}）；同一时间只能有一个，"
                          "请等它结束后再运行") from None
        fh.seek(0)
        fh.truncate()
        fh.write(holder)
        fh.flush()
        self._lock = fh

    def release_writer(self) -> None:
        lock, self._lock = self._lock, None
        if lock == "pg":
            try:
                self.conn.execute("SELECT pg_advisory_unlock(?)", (WRITER_LOCK_KEY,))
            except Exception:  # noqa: BLE001, S110 - the session ends anyway
                pass
        elif lock is not None:
            lock.close()

    def writer_busy(self) -> bool:
        """Is a collect or recheck writing right now (someone holds the writer lock)?"""
        if self._lock is not None:
            return False
        try:
            self.acquire_writer("检查")
        except DBError:
            return True
        self.release_writer()
        return False

    def last_run(self, kind: str = "collect") -> Any:
        return self.conn.execute("SELECT * FROM runs WHERE kind=? ORDER BY id DESC LIMIT 1", (kind,)).fetchone()

    def restrict_mode(self) -> None:
        """The database file and its -wal/-shm readable by their owner only (0600): called when a key
        is first stored in it. Files of another owner are left alone."""
        if self.path is None or str(self.path) == ":memory:":
            return
        for p in (self.path, self.path.with_name(self.path.name + "-wal"), self.path.with_name(self.path.name + "-shm")):
            with contextlib.suppress(OSError):
                st = p.stat()
                if st.st_uid == os.getuid() and st.st_mode & 0o077:
                    os.chmod(p, st.st_mode & 0o700)

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                          (key, value))

    # -- spec versions
    def add_spec_files(self, spec_hash: str, version: str, year: int | None, files: dict[str, str]) -> bool:
        """Keep a spec folder's files under its hash; False if that hash is already kept."""
        if self.conn.execute("SELECT 1 FROM spec_versions WHERE hash=?", (spec_hash,)).fetchone():
            return False
        data = zlib.compress(json.dumps(files, ensure_ascii=False, sort_keys=True).encode(), 6)
        self.conn.execute("INSERT INTO spec_versions(hash, version, year, files, added) VALUES(?, ?, ?, ?, ?)"
                          " ON CONFLICT(hash) DO NOTHING", (spec_hash, version, year, data, now()))
        return True

    def spec_files(self, spec_hash: str) -> dict[str, str] | None:
        """The files of the spec kept under ``spec_hash`` ({relative path: text}), or None."""
        row = self.conn.execute("SELECT files FROM spec_versions WHERE hash=?", (spec_hash,)).fetchone()
        return json.loads(zlib.decompress(bytes(row[0]))) if row else None

    def spec_versions(self) -> list[tuple[str, str, str]]:
        """Every kept spec: (hash, version, added), oldest first."""
        return [(r[0], r[1], r[2]) for r in
                self.conn.execute("SELECT hash, version, added FROM spec_versions ORDER BY added, hash")]

    # -- reviews (append-only: see MIGRATIONS[3])
    def add_review(self, unit: str, reviewer_unit: str, submission_id: int, sha256: str, action: str, reviewer: str,
                   reason: str, cells: list[dict[str, str]], at: str | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO reviews(unit, reviewer_unit, submission_id, sha256, action, reviewer, reason, cells, at)"
            " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (unit, reviewer_unit, submission_id, sha256, action, reviewer, reason,
             json.dumps(cells, ensure_ascii=False), at or now()))
        return int(cur.lastrowid or 0)

    def reviews(self, unit: str | None = None) -> list[dict[str, Any]]:
        """Review actions in the order they were taken (of one unit, or all)."""
        sql = "SELECT * FROM reviews" + (" WHERE unit=?" if unit is not None else "") + " ORDER BY id"
        out = []
        for r in self.conn.execute(sql, (unit,) if unit is not None else ()):
            d = dict(r)
            d["cells"] = json.loads(d["cells"] or "[]")
            out.append(d)
        return out

    # -- units
    def replace_units(self, units: Iterable[tuple[str, str, str, str]]) -> None:
        self.begin()
        self.conn.execute("DELETE FROM units")
        self.conn.executemany("INSERT INTO units(code, name, parent, kind, ord) VALUES(?, ?, ?, ?, ?)",
                              [(c, n, p, k, i) for i, (c, n, p, k) in enumerate(units)])
        self.commit()

    def units(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT code, name, parent, kind FROM units ORDER BY ord").fetchall()

    # -- runs
    def start_run(self, kind: str, source: str, spec_version: str, spec_hash: str) -> int:
        cur = self.conn.execute("INSERT INTO runs(kind, started, source, spec_version, spec_hash) VALUES(?, ?, ?, ?, ?)",
                                (kind, now(), source, spec_version, spec_hash))
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, summary: dict[str, Any]) -> None:
        self.conn.execute("UPDATE runs SET finished=?, summary=? WHERE id=?",
                          (now(), json.dumps(summary, ensure_ascii=False), run_id))

    # -- submissions
    def known_file(self, path: str, sha256: str) -> int | None:
        """A file already collected under the same relative path with the same content."""
        row = self.conn.execute("SELECT id FROM submissions WHERE sha256=? AND path=? ORDER BY id LIMIT 1",
                                (sha256, path)).fetchone()
        return int(row[0]) if row else None

    def original_of(self, sha256: str) -> sqlite3.Row | None:
        """The first stored submission with this content (not itself a duplicate)."""
        return self.conn.execute(
            f"SELECT {_select('*')} FROM submissions WHERE sha256=? AND duplicate_of IS NULL ORDER BY id LIMIT 1",
            (sha256,)).fetchone()

    def add_submission(self, fields: dict[str, Any], figures: Iterable[tuple[str, str, str, str, int]] = (),
                       findings: Iterable[Finding] = (), source: str = "read") -> int:
        cols = [c for c in SUBMISSION_COLUMNS if c in fields]
        cur = self.conn.execute(f"INSERT INTO submissions({', '.join(cols)}) VALUES({', '.join('?' * len(cols))})",
                                [status_code(fields[c]) if c == "status" else fields[c] for c in cols])
        sid = int(cur.lastrowid or 0)
        typed: dict[str, dict[str, dict[str, str]]] = {}
        for t, r, c, v, i in figures:
            if i:  # derived figures are not stored: Figures(spec, inputs) recomputes them exactly
                typed.setdefault(t, {}).setdefault(r, {})[c] = v
        if typed:
            self.conn.execute("INSERT INTO inputs(submission_id, data) VALUES(?, ?)", (sid, pack_values(typed)))
        self.add_findings(sid, findings, source, fields.get("run_id"))
        return sid

    def add_findings(self, sid: int, findings: Iterable[Finding], source: str, run_id: int | None = None) -> None:
        self.conn.executemany(
            "INSERT INTO findings(submission_id, source, run_id, code, severity, message, tbl, row, col, cell, expected,"
            " actual, rule, extra) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((sid, source, run_id, f.code, f.severity, f.message, f.table, f.row, f.col, f.cell, f.expected, f.actual,
              f.rule, json.dumps(f.extra, ensure_ascii=False) if f.extra else None) for f in findings))

    def submissions(self, where: str = "1=1", params: tuple[Any, ...] = (), order: str = "run_id, seq, id",
                    columns: str = "*") -> list[sqlite3.Row]:
        """Submissions in order of receipt (run, then order within the run); ``columns``
        :data:`LIGHT_COLUMNS` leaves out ``doc`` (read it with :meth:`doc`)."""
        return self.conn.execute(f"SELECT {_select(columns)} FROM submissions WHERE {where} ORDER BY {order}",
                                 params).fetchall()

    # named queries: what collect, consolidate and the web page ask, so no caller writes SQL
    def submissions_by_id(self, sids: Iterable[int] | None = None) -> list[sqlite3.Row]:
        """Every submission (or those of ``sids``), by id."""
        if sids is None:
            return self.submissions(order="id")
        ids = tuple(sids)
        return self.submissions(f"id IN ({', '.join('?' * len(ids))})", ids, order="id") if ids else []

    def originals(self) -> list[sqlite3.Row]:
        """The usable submissions that are no copy of another (what a recheck re-judges)."""
        return self.submissions("usable=1 AND duplicate_of IS NULL")

    def submissions_with_status(self, unit: str, status: str) -> list[sqlite3.Row]:
        """The submissions counted for ``unit`` with ``status``, by id."""
        return self.submissions("unit=? AND status=?", (unit, status_code(status)), order="id")

    def sent_under_name_of(self, code: str) -> list[sqlite3.Row]:
        """Files sent under ``code``'s name (file name or folder) that count for no unit or another one."""
        return self.submissions("expect_unit=? AND (unit IS NULL OR unit<>?)", (code, code))

    def sent_elsewhere(self, code: str) -> list[sqlite3.Row]:
        """``code``'s workbooks sent in under another unit's name: who sent them, when."""
        return self.submissions("unit_code=? AND expect_unit IS NOT NULL AND expect_unit<>?", (code, code),
                                columns="expect_unit, received")

    def submission_ids_of(self, code: str) -> list[int]:
        """The ids of every submission counted for ``code`` or sent under its name, by id."""
        return [s["id"] for s in self.submissions("unit=? OR expect_unit=?", (code, code), order="id", columns="id")]

    def delete_collect_findings(self, sids: Iterable[int] | None = None) -> None:
        """The findings collect itself made (duplicate, unknown unit, template), of every submission or of
        ``sids``: they are judged anew from the rest."""
        if sids is None:
            self.delete_findings("source='collect'")
            return
        ids = tuple(sids)
        if ids:
            self.delete_findings(f"source='collect' AND submission_id IN ({', '.join('?' * len(ids))})", ids)

    def deactivate_rule_findings(self, sid: int, sources: tuple[str, ...]) -> int:
        """A submission's rule findings, and those of ``sources`` (recheck, web), made inactive (kept as
        history) before new ones are added."""
        return self.deactivate_findings(sid, f"rule IS NOT NULL OR source IN ({', '.join('?' * len(sources))})", sources)

    def doc(self, sid: int) -> dict[str, Any]:
        """A submission's names, notes, cover, explanations and texts (``{}`` if none)."""
        row = self.conn.execute("SELECT doc FROM submissions WHERE id=?", (sid,)).fetchone()
        got = json.loads(row[0] or "{}") if row is not None else {}
        return got if isinstance(got, dict) else {}

    def submission(self, sid: int) -> sqlite3.Row | None:
        return self.conn.execute(f"SELECT {_select('*')} FROM submissions WHERE id=?", (sid,)).fetchone()

    def update_submission(self, sid: int, **fields: Any) -> None:
        if "status" in fields:
            fields["status"] = status_code(fields["status"])
        sets = ", ".join(f"{k}=?" for k in fields)
        self.conn.execute(f"UPDATE submissions SET {sets} WHERE id=?", [*fields.values(), sid])

    # -- findings
    def findings(self, sid: int, active_only: bool = True) -> list[Finding]:
        sql = "SELECT * FROM findings WHERE submission_id=?" + (" AND active=1" if active_only else "") + " ORDER BY id"
        return [row_finding(r) for r in self.conn.execute(sql, (sid,))]

    def finding_codes(self, sids: Iterable[int] | None = None) -> dict[int, list[tuple[str, str, str | None, str]]]:
        """Active findings of every submission (or of ``sids``): (code, severity, rule, source)."""
        out: dict[int, list[tuple[str, str, str | None, str]]] = {}
        sql = "SELECT submission_id, code, severity, rule, source FROM findings WHERE active=1"
        params: tuple[Any, ...] = ()
        if sids is not None:
            ids = tuple(sids)
            sql += f" AND submission_id IN ({', '.join('?' * len(ids))})"
            params = ids
        for r in self.conn.execute(sql, params):
            out.setdefault(r[0], []).append((r[1], r[2], r[3], r[4]))
        return out

    def deactivate_findings(self, sid: int, where: str, params: tuple[Any, ...] = ()) -> int:
        cur = self.conn.execute(f"UPDATE findings SET active=0 WHERE submission_id=? AND active=1 AND ({where})",
                                (sid, *params))
        return cur.rowcount

    def delete_findings(self, where: str, params: tuple[Any, ...] = ()) -> None:
        self.conn.execute(f"DELETE FROM findings WHERE {where}", params)

    # -- figures
    def values(self, sid: int, inputs_only: bool = False) -> Values:
        """The stored figures of a submission: the typed-in ones (``inputs``). Derived figures are not
        stored (``Figures(spec, values).all_values()`` recomputes them); a database written before
        that may still hold some in ``figures``, returned too unless ``inputs_only``."""
        out: Values = {}
        got = self.conn.execute("SELECT data FROM inputs WHERE submission_id=?", (sid,)).fetchone()
        if got is not None:
            for t, rows in unpack_values(got[0]).items():
                for r, cols in rows.items():
                    out.setdefault(t, {})[r] = {c: Decimal(v) for c, v in cols.items()}
        sql = "SELECT tbl, row, col, value FROM figures WHERE submission_id=?" + (" AND input=1" if inputs_only else "")
        for t, r, c, v in self.conn.execute(sql, (sid,)):
            out.setdefault(t, {}).setdefault(r, {}).setdefault(c, Decimal(v))
        return out

    def figure(self, sid: int, table: str, row: str, col: str) -> Decimal | None:
        """One stored figure (a typed-in one; a derived one from a database of the earlier layout)."""
        return self.values(sid).get(table, {}).get(row, {}).get(col)

    def replace_derived(self, sid: int, figures: Iterable[tuple[str, str, str, str, int]]) -> None:
        """Derived figures are recomputed, never stored: drop any an earlier layout stored (they could
        be stale after a rule or formula change)."""
        self.conn.execute("DELETE FROM figures WHERE submission_id=? AND input=0", (sid,))

    # -- consolidations
    def add_consolidation(self, parent: str, include_errors: bool, spec_version: str, spec_hash: str,
                          workbook: str | None, data_file: str | None, summary: dict[str, Any],
                          members: Iterable[tuple[str, str, int | None, bool, str]]) -> int:
        self.begin()
        cur = self.conn.execute(
            "INSERT INTO consolidations(parent, created, include_errors, spec_version, spec_hash, workbook, data_file, summary)"
            " VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
            (parent, now(), int(include_errors), spec_version, spec_hash, workbook, data_file,
             json.dumps(summary, ensure_ascii=False)))
        cid = int(cur.lastrowid or 0)
        self.conn.executemany(
            "INSERT INTO consolidation_members(consolidation_id, unit, node, submission_id, included, reason)"
            " VALUES(?, ?, ?, ?, ?, ?)", ((cid, u, n, s, int(inc), reason) for u, n, s, inc, reason in members))
        self.commit()
        return cid

    def last_consolidation(self, parent: str) -> tuple[sqlite3.Row, list[sqlite3.Row]] | None:
        row = self.conn.execute("SELECT * FROM consolidations WHERE parent=? ORDER BY id DESC LIMIT 1", (parent,)).fetchone()
        if row is None:
            return None
        members = self.conn.execute("SELECT * FROM consolidation_members WHERE consolidation_id=?", (row["id"],)).fetchall()
        return row, members


def pack_values(values: dict[str, dict[str, dict[str, str]]]) -> bytes:
    """Figures as stored: compact JSON of exact decimal strings, deflated."""
    return zlib.compress(json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode(), 6)


def unpack_values(data: bytes | memoryview) -> dict[str, dict[str, dict[str, str]]]:
    return json.loads(zlib.decompress(bytes(data)))


def row_finding(r: sqlite3.Row) -> Finding:
    extra = json.loads(r["extra"]) if r["extra"] else {}
    return Finding(r["code"], r["severity"], r["message"], table=r["tbl"], row=r["row"], col=r["col"], cell=r["cell"],
                   expected=r["expected"], actual=r["actual"], rule=r["rule"], extra=extra)


def figure_rows(values: Values, inputs: Values) -> list[tuple[str, str, str, str, int]]:
    """(table, row, col, value, input) rows for the figures table, every figure once."""
    from ..core.money import fmt

    out = []
    seen: set[tuple[str, str, str]] = set()
    for src, flag in ((inputs, 1), (values, 0)):
        for t, rows in src.items():
            for r, cols in rows.items():
                for c, v in cols.items():
                    if (t, r, c) in seen:
                        continue
                    seen.add((t, r, c))
                    out.append((t, r, c, fmt(v) if isinstance(v, Decimal) else str(v), flag))
    return out
