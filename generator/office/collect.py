"""Collect returned workbooks into the database, judge each unit, report, and recheck.

A file counts for the unit named in the workbook's identity (the hidden _meta sheet), not for its
file name. A file name (``430100002-….xlsx``) or folder (``…/430100002/…``) naming a unit of the
units file only adds an expectation: a workbook of another unit is then 单位不符, and is not taken
as anybody's submission.

Statuses of a submission (one file):
  通过 / 有提示 / 有错误   read, right template, known unit: by its findings (info does not count)
  重复                    the same content (SHA-256) was already received under another name
  模板版本不符            template version or spec hash differs from the spec of the collect
  单位不符                identity unit not in the units file, or not the unit the name/folder says
  无法读取                not a usable workbook (not xlsx, damaged, not our template)
A unit's status is that of the latest file it received (an unchanged file collected again is not
news); a unit that never received one is 未报送, or 汇总单位 when it only sums its subordinates
(``kind`` 汇总 in the units file, or a unit one of whose subordinates is its 本级). Its
current submission is the latest 通过/有提示/有错误 one; earlier ones stay as history.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import stat
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.clock import shown
from ..core.dataset import Dataset
from ..core.findings import ERROR, INFO, WARNING, Finding, printable, sort_findings, visible
from ..core.fsutil import atomic_write_bytes, atomic_write_text
from ..core.layout import DRAFT, META, SUMMARY_KINDS, TEMPLATES, text_width
from ..core.model import Figures
from ..core.rules import evaluate_rules, expand_rules, rule_findings
from ..core.spec import Spec
from .store import LIGHT_COLUMNS, Store, figure_rows, now

if TYPE_CHECKING:
    from ..xlsx.ooxml import Limits

PASS, WARN, ERR = "通过", "有提示", "有错误"
MISSING, DUP, TEMPLATE, WRONG_UNIT, UNREADABLE = "未报送", "未变", "模板版本不符", "单位不符", "无法读取"
AGGREGATE, ATTACH = "汇总单位", "附件"
# a department's own 附件1–3: its 汇总 workbook (juesuan consolidate) returned with the forms filled in;
# kept beside the department, never its report, read by the 汇总 (office/consolidate.py)
DEPT_FORMS = "部门附件"
STATUS_ORDER = [PASS, WARN, ERR, MISSING, DUP, TEMPLATE, WRONG_UNIT, UNREADABLE, ATTACH, DEPT_FORMS, AGGREGATE]
STATUS_CLASS = {PASS: "pass", WARN: "warn", ERR: "err", MISSING: "missing", DUP: "dup", TEMPLATE: "tpl",
                WRONG_UNIT: "wrong", UNREADABLE: "bad", ATTACH: "att", DEPT_FORMS: "att", AGGREGATE: "agg"}
# files a unit sends along with its workbook (a signed scan, a 说明): listed beside the unit, never its report
SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".et", ".ods", ".csv"}
ACCEPTED = {PASS, WARN, ERR}
TEMPLATE_CODES = {"template-version-unknown", "template-mismatch", "template-spec-changed", "template-outdated"}
COMMIT_EVERY = 50
LEVEL_PATH = "（汇总）/"  # the path of a level's 汇总 submitted as its 汇总 unit's report (consolidate.submit_level)
OFFICE_CODES = {"default-key-in-use"}  # about the office's set-up, not the unit's file: no effect on its status
FUTURE_SLACK = 600  # seconds a sender's clock may run ahead before a file time counts as in the future


# ---------------------------------------------------------------- the unit tree


AGGREGATE_KINDS = {"汇总", "汇总单位", "aggregate"}


@dataclass
class Unit:
    code: str
    name: str
    parent: str = ""
    line: int | None = None
    kind: str = ""  # 汇总: sums its subordinates, no report of its own

    @property
    def declared_aggregate(self) -> bool:
        return self.kind in AGGREGATE_KINDS


@dataclass
class UnitTree:
    """The units file as a tree. Unknown parents and cycles are findings; such units become roots."""

    units: dict[str, Unit] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, str]] | Iterable[tuple[str, str, str]], source: str = "") -> UnitTree:
        tree = cls()
        for r in rows:
            if isinstance(r, dict):
                u = Unit(r["code"], r["name"], r.get("parent") or "", int(r["line"]) if r.get("line") else None,
                         r.get("kind") or "")
            else:
                u = Unit(r[0], r[1], r[2] or "", None, r[3] if len(r) > 3 else "")
            tree.units[u.code] = u
        for u in tree.units.values():
            if u.parent and u.parent not in tree.units:
                tree.findings.append(Finding("units-parent-unknown", ERROR,
                                             f"单位 {u.code} 的上级单位 {u.parent} 不在单位清单中，按顶层单位处理",
                                             file=source or None, row=str(u.line) if u.line else None))
                u.parent = ""
        for u in tree.units.values():  # cycles: walk up; a unit met twice closes a loop
            seen = {u.code}
            p = u.parent
            while p:
                if p in seen:
                    tree.findings.append(Finding("units-cycle", ERROR, f"单位 {u.code} 的上级关系成环，按顶层单位处理",
                                                 file=source or None, row=str(u.line) if u.line else None))
                    u.parent = ""
                    break
                seen.add(p)
                p = tree.units[p].parent
        for u in tree.units.values():
            tree.children.setdefault(u.parent, []).append(u.code)
        return tree

    def rows(self) -> list[tuple[str, str, str, str]]:
        return [(u.code, u.name, u.parent, u.kind) for u in self.units.values()]

    def is_aggregate(self, code: str) -> bool:
        """A unit that reports nothing of its own and only sums its subordinates: marked 汇总 in the
        units file, or (unmarked) a unit with subordinates one of which is its 本级."""
        u = self.units[code]
        kids = self.kids(code)
        if u.declared_aggregate:
            return True
        return not u.kind and any("本级" in self.units[k].name for k in kids)

    @property
    def roots(self) -> list[str]:
        return list(self.children.get("", []))

    def kids(self, code: str) -> list[str]:
        return self.children.get(code, []) if code else []

    def walk(self, start: str | None = None) -> list[tuple[str, int]]:
        """(code, depth) in tree order (pre-order, units-file order among siblings)."""
        out: list[tuple[str, int]] = []
        stack = [(c, 0) for c in reversed([start] if start else self.roots)]
        while stack:
            code, depth = stack.pop()
            out.append((code, depth))
            stack.extend((c, depth + 1) for c in reversed(self.kids(code)))
        return out


def load_tree(units_file: Path) -> UnitTree:
    from .units import read_units_csv  # the one parser of the units file

    rows, problems = read_units_csv(units_file)
    tree = UnitTree.from_rows(rows, str(units_file))
    tree.findings = problems + tree.findings
    return tree


def tree_from_store(store: Store) -> UnitTree:
    return UnitTree.from_rows([(r["code"], r["name"], r["parent"], r["kind"]) for r in store.units()])


# ---------------------------------------------------------------- reading files (in worker processes)


@dataclass
class FileTask:
    path: str  # absolute
    rel: str  # relative to the folder collected
    sha256: str
    size: int
    mtime: float
    expect_unit: str | None = None
    seq: int = 0
    received: float = 0.0  # when the file arrived on this machine (inode change time): the order of receipt


_TOKEN = re.compile(r"[-_\s.（(·]")


def named_unit(rel: str, codes: set[str] | dict[str, Any]) -> str | None:
    """The unit a file's name (first token of the name) or, failing that, its nearest folder names."""
    p = Path(rel)
    stem = unicodedata.normalize("NFKC", p.stem)
    first = _TOKEN.split(stem, maxsplit=1)[0]
    if first in codes:
        return first
    for part in reversed(p.parts[:-1]):
        part = unicodedata.normalize("NFKC", part)
        if part in codes:
            return part
    return None


def _walk(folder: Path, ignored: list[str]) -> list[Path]:
    """Files under the folder without following links out of it: a symbolic link (file or folder)
    whose target lies outside the folder is listed as ignored, never read."""
    root = folder.resolve()
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        d = Path(dirpath)
        for name in sorted(dirnames):
            p = d / name
            if p.is_symlink():
                ignored.append(f"{p.relative_to(folder).as_posix()}（链接到文件夹，未跟随）")
        for name in sorted(filenames):
            p = d / name
            try:
                mode = p.stat().st_mode  # through a link: what it points at
            except OSError:
                mode = 0
            if mode and not stat.S_ISREG(mode):
                ignored.append(f"{p.relative_to(folder).as_posix()}（不是普通文件，未读取）")
                continue
            if p.is_symlink():
                try:
                    target = p.resolve(strict=True)
                except (OSError, RuntimeError):
                    ignored.append(f"{p.relative_to(folder).as_posix()}（失效的链接，未读取）")
                    continue
                if not target.is_relative_to(root) or not target.is_file():
                    ignored.append(f"{p.relative_to(folder).as_posix()}（链接指向收集文件夹之外，未读取）")
                    continue
            out.append(p)
    return sorted(out)


def scan(folder: Path, codes: set[str] | dict[str, Any]) -> tuple[list[FileTask], list[str]]:
    """Every file under the folder, in order of receipt (when the file arrived on this machine --
    its inode change time, which a sender cannot set -- then path; the file's modification time is
    the sender's and only recorded); hidden files, Office lock files (~$…) and links out of the
    folder are ignored and listed."""
    tasks: list[FileTask] = []
    ignored: list[str] = []
    for p in _walk(folder, ignored):
        rel = p.relative_to(folder).as_posix()
        if any(part.startswith((".", "~$")) for part in p.relative_to(folder).parts):
            ignored.append(rel)
            continue
        try:
            # opened without blocking, checked on the open file: only regular files are read (a FIFO
            # would hang the collect forever, a device never end)
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode):
                    ignored.append(f"{rel}（不是普通文件，未读取）")
                    continue
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            digest, st = "", None
        tasks.append(FileTask(str(p), rel, digest, st.st_size if st else 0, st.st_mtime if st else 0.0,
                              named_unit(rel, codes), received=st.st_ctime if st else 0.0))
    tasks.sort(key=lambda t: (t.received, t.rel))
    for i, t in enumerate(tasks):
        t.seq = i
    return tasks, ignored


def _raw_identity(path: str, file_password: str | None) -> dict[str, str]:
    """Identity of a workbook the reader could not use (an unknown template version): from the
    _meta sheet or the document properties, to say whose file it is."""
    from ..xlsx.ooxml import XlsxError, open_xlsx

    try:
        book = open_xlsx(path, None, file_password)
    except XlsxError:
        return {}
    out: dict[str, str] = {k.removeprefix("juesuan."): v for k, v in book.custom.items() if k.startswith("juesuan.")}
    meta = book.sheet(META)
    if meta is not None:
        for (r, c), cell in meta.cells.items():
            if c == 0 and cell.value:
                val = meta.cells.get((r, 1))
                if val is not None and val.value is not None:
                    out[cell.value] = val.value
    return out


def read_one(path: str, expect_unit: str | None, spec: Spec, key: str | None = None,
             file_password: str | None = None, limits: Limits | None = None) -> dict[str, Any]:
    """Read and check one file; plain data only (crosses the process boundary). ``limits``: the
    reader's (None: its defaults), passed explicitly, never read from the environment here."""
    from ..xlsx.reader import read_workbook

    res = read_workbook(path, spec_dirs=[spec.root], key=key, expect_unit=expect_unit, file_password=file_password,
                        spec=spec, expect_year=spec.year, limits=limits)
    if res.plan is not None and (res.plan.units > 1 or res.plan.kind in SUMMARY_KINDS):
        # a 汇总 is no unit's own report in the round it was made in; in the round above (where its
        # unit has no subordinates of its own) it is that unit's report: refresh_statuses decides
        res.findings.append(Finding("consolidated-report", INFO, f"这是 {res.plan.units} 个单位的汇总工作簿（由 juesuan consolidate 生成）",
                                    actual=str(res.plan.units)))
        if res.plan.kind == DRAFT:
            res.findings.append(Finding("draft-consolidation", ERROR, "这是汇总草稿（含未经审核通过的报表），不能作为报送；"
                                        "请在各单位审核通过后重新汇总，再报送正式汇总工作簿"))
        forms = [t.id for t in spec.tables.values() if t.kind == "form"]
        ds0 = res.dataset
        if ds0 is not None and any(v for t in forms for cols in ds0.values.get(t, {}).values() for v in cols.values()):
            res.findings.append(Finding(
                "department-forms-received", INFO,
                f"汇总工作簿中填有附件1–3：作为单位 {ds0.unit_code}（{ds0.unit_name}）自己的附件，汇总与发布该部门时采用"
                "（其公开表的数须与当时的汇总一致）", actual=ds0.unit_code))
    ds = res.dataset
    doc: dict[str, Any] = {
        "usable": res.usable,
        "template": dict(res.template),
        "unit_code": ds.unit_code if ds else "",
        "unit_name": ds.unit_name if ds else "",
        "year": ds.year if ds else None,
        # typed-in figures only: the store keeps inputs and recomputes the rest
        "figures": figure_rows({}, ds.values) if ds and res.usable else [],
        "doc": {"names": ds.names, "notes": ds.notes, "cover": ds.cover, "explanations": ds.explanations,
                "texts": ds.texts} if ds else {},
        "findings": [f.to_dict() for f in res.findings],
    }
    if not res.usable and any(f.code == "template-version-unknown" for f in res.findings):
        ident = _raw_identity(path, file_password)
        doc["unit_code"], doc["unit_name"] = ident.get("unit_code", ""), ident.get("unit_name", "")
        doc["template"] = {"id": ident.get("template", ""), "version": ident.get("version", ""),
                           "spec_hash": ident.get("spec_hash", "")}
    return doc


_WORKER: dict[str, Any] = {}


def die_with_parent() -> None:
    """Make this worker process end when the process that started it ends, however that ends
    (kill -9 included): Linux's parent-death signal, and a watchdog thread for everything else."""
    import signal
    import threading

    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _worker_init(spec: Spec, key: str | None, file_password: str | None, limits: Limits | None = None) -> None:
    die_with_parent()
    _WORKER.update(spec=spec, key=key, file_password=file_password, limits=limits)


def _worker_read(path: str, expect_unit: str | None) -> dict[str, Any]:
    return read_one(path, expect_unit, _WORKER["spec"], _WORKER["key"], _WORKER["file_password"], _WORKER.get("limits"))


def _crash_doc(message: str) -> dict[str, Any]:
    return {"usable": False, "template": {}, "unit_code": "", "unit_name": "", "year": None, "figures": [], "doc": {},
            "findings": [Finding("file-read-crashed", ERROR, message).to_dict()]}


def read_many(tasks: list[FileTask], spec: Spec, key: str | None, file_password: str | None, workers: int,
              on_result: Callable[[FileTask, dict[str, Any]], None], limits: Limits | None = None) -> None:
    """Read the tasks in worker processes (a bounded window in flight, so memory stays flat) and
    hand every result to ``on_result`` in the main process. A worker that dies takes no file with
    it: the files it may have held are retried one by one in fresh workers."""
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            on_result(t, read_one(t.path, t.expect_unit, spec, key, file_password, limits))
        return
    window = workers * 4
    todo = list(reversed(tasks))
    suspects: list[FileTask] = []

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(spec, key, file_password, limits))

    pool = new_pool()
    pending: dict[Future[dict[str, Any]], FileTask] = {}
    try:
        while todo or pending:
            while todo and len(pending) < window:
                t = todo.pop()
                try:
                    pending[pool.submit(_worker_read, t.path, t.expect_unit)] = t
                except BrokenProcessPool:
                    todo.append(t)
                    break
            if not pending:  # the pool broke before anything could be submitted
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool()
                continue
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                t = pending.pop(fut)
                try:
                    on_result(t, fut.result())
                except BrokenProcessPool:
                    suspects.append(t)
                    broken = True
            if broken:
                suspects.extend(pending.values())
                pending.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for t in suspects:  # isolate: one file per fresh worker
        with ProcessPoolExecutor(max_workers=1, initializer=_worker_init, initargs=(spec, key, file_password, limits)) as one:
            try:
                doc = one.submit(_worker_read, t.path, t.expect_unit).result()
            except BrokenProcessPool:
                doc = _crash_doc("读取该文件时工作进程异常退出（文件可能有问题），未能读取")
        on_result(t, doc)


# ---------------------------------------------------------------- collect

# reads tasks and hands (task, document) to the callback: read_many, or DaskEngine.read_many
Reader = Callable[..., None]  # (tasks, spec, key, file_password, on_result, limits)


@dataclass
class CollectSummary:
    run_id: int
    files: int = 0
    read: int = 0
    duplicates: int = 0
    unchanged: int = 0
    ignored: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _mtime(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def collect(store: Store, folder: Path, tree: UnitTree, spec: Spec, key: str | None = None,
            file_password: str | None = None, workers: int | None = None, progress: bool | None = None,
            reader: Reader | None = None, limits: Limits | None = None) -> CollectSummary:
    """Read every file under ``folder`` into the database and refresh every status. ``reader`` runs
    the reads (default: :func:`read_many`, the local process pool; ``generator.cluster`` has a Dask
    one); whatever it is, it gets only content not seen before and hands every document back here,
    to the one writer."""

    store.acquire_writer(f"收集 {folder}")
    try:
        return _collect(store, folder, tree, spec, key, file_password, workers, progress, reader, limits)
    finally:
        store.release_writer()


def _collect(store: Store, folder: Path, tree: UnitTree, spec: Spec, key: str | None, file_password: str | None,
             workers: int | None, progress: bool | None, reader: Reader | None = None,
             limits: Limits | None = None) -> CollectSummary:
    from tqdm import tqdm

    t0 = time.perf_counter()
    store.replace_units(tree.rows())
    store.begin()
    store.set_meta("spec_version", spec.version)
    store.set_meta("spec_hash", spec.hash)
    run_id = store.start_run("collect", str(folder), spec.version, spec.hash)
    store.commit()
    summary = CollectSummary(run_id)
    tasks, summary.ignored = scan(folder, tree.units)
    summary.files = len(tasks)
    fresh: list[FileTask] = []
    dups: list[FileTask] = []
    batch_hashes: set[str] = set()
    for t in tasks:
        if t.sha256 and store.known_file(t.rel, t.sha256) is not None:
            summary.unchanged += 1
        elif t.sha256 and (t.sha256 in batch_hashes or store.original_of(t.sha256) is not None):
            dups.append(t)
        else:
            batch_hashes.add(t.sha256)
            fresh.append(t)
    received = now()
    bar = tqdm(total=len(fresh), desc="读取工作簿", unit="份", disable=(not progress) if progress is not None else None,
               leave=False)
    batch: list[int] = []
    future = time.time() + FUTURE_SLACK

    def flush() -> None:
        """Commit a batch with its statuses judged: a run killed after this leaves consistent rows."""
        if batch:
            refresh_statuses(store, tree, spec.version, spec.hash, only=batch)  # commits
            batch.clear()
        store.commit()

    def store_result(t: FileTask, doc: dict[str, Any]) -> None:
        tpl = doc.get("template") or {}
        findings = [Finding.from_dict(f) for f in doc["findings"]]
        if t.mtime > future:
            findings.append(Finding("file-time-future", WARNING, f"文件时间 {_mtime(t.mtime)} 在将来（发送方电脑的时钟不对或被改动）；"
                                                                 "报送先后按本机收到的时间排列，不按文件时间", actual=_mtime(t.mtime)))
        store.begin()
        store.lock_content(t.sha256)
        if t.sha256 and store.original_of(t.sha256) is not None:
            dups.append(t)  # the same content came in (an upload) while this collect read it: a 重复 row below
            bar.update(1)
            return
        sid = store.add_submission(
            {"run_id": run_id, "seq": t.seq, "path": t.rel, "file_name": Path(t.rel).name, "sha256": t.sha256,
             "size": t.size, "mtime": _mtime(t.mtime), "received": received, "unit_code": doc["unit_code"],
             "unit_name": doc["unit_name"], "expect_unit": t.expect_unit, "year": doc["year"],
             "template_id": tpl.get("id"), "template_version": tpl.get("version"), "spec_hash": tpl.get("spec_hash"),
             "usable": int(bool(doc["usable"])), "status": UNREADABLE,
             "doc": json.dumps(doc["doc"], ensure_ascii=False)},
            doc["figures"], findings)
        summary.read += 1
        batch.append(sid)
        if len(batch) >= COMMIT_EVERY:
            flush()
        bar.update(1)

    try:
        if reader is not None:
            reader(fresh, spec, key, file_password, store_result, limits)
        else:
            read_many(fresh, spec, key, file_password, workers or os.cpu_count() or 1, store_result, limits)
        flush()
    except BaseException:
        store.rollback()  # the unfinished batch is not kept; the run stays unfinished, a rerun reads those files
        raise
    finally:
        bar.close()
    store.begin()
    for t in dups:
        orig = store.original_of(t.sha256)
        assert orig is not None
        store.add_submission(
            {"run_id": run_id, "seq": t.seq, "path": t.rel, "file_name": Path(t.rel).name, "sha256": t.sha256,
             "size": t.size, "mtime": _mtime(t.mtime), "received": received, "unit_code": orig["unit_code"],
             "unit_name": orig["unit_name"], "expect_unit": t.expect_unit, "year": orig["year"],
             "template_id": orig["template_id"], "template_version": orig["template_version"],
             "spec_hash": orig["spec_hash"], "usable": orig["usable"], "duplicate_of": orig["id"], "status": DUP,
             "doc": "{}"})
        summary.duplicates += 1
    store.commit()
    refresh_statuses(store, tree, spec.version, spec.hash)
    summary.seconds = time.perf_counter() - t0
    store.begin()
    store.finish_run(run_id, {"files": summary.files, "read": summary.read, "duplicates": summary.duplicates,
                              "unchanged": summary.unchanged, "ignored": len(summary.ignored),
                              "seconds": round(summary.seconds, 3)})
    store.commit()
    return summary


# ---------------------------------------------------------------- one uploaded file (the web page)


UPLOAD_PREFIX = "上传"
MAX_EXPLANATION = 500  # characters of one 差异说明 typed on the web page


def evidence_path(evidence_dir: Path, sha256: str) -> Path:
    """Where the bytes of an upload are kept, by content: one file per distinct content."""
    return evidence_dir / sha256[:2] / f"{sha256}.bin"


def keep_evidence(data: bytes, evidence_dir: Path) -> tuple[str, Path]:
    """Store the uploaded bytes (once per content hash) and return (sha256, path)."""
    digest = hashlib.sha256(data).hexdigest()
    path = evidence_path(evidence_dir, digest)
    if not path.is_file():
        atomic_write_bytes(path, data)
    return digest, path


def upload_path(unit: str, file_name: str) -> str:
    """The ``path`` of an uploaded file in the store: 上传/<unit page>/<file name as sent>."""
    name = Path(file_name.replace("\\", "/")).name.strip() or "upload.xlsx"
    return f"{UPLOAD_PREFIX}/{unit}/{name[:200]}"


def store_upload(store: Store, tree: UnitTree, spec: Spec, sha256: str, size: int, file_name: str,
                 expect_unit: str | None, doc: dict[str, Any] | None, received: str | None = None) -> tuple[int, bool]:
    """Record one uploaded file exactly as ``collect`` records a file of its folder: a submission
    with hash, size, receipt time, figures and findings (``doc`` from :func:`read_one`), or, when
    the same content is already stored, a 重复 row pointing at the original (``doc`` is then not
    needed). Statuses are refreshed for this submission. Returns (submission id, needs reading):
    ``(0, True)`` when ``doc`` is None and the content is new — read it and call again."""
    received = received or now()
    path = upload_path(expect_unit or "", file_name)
    store.begin()
    store.lock_content(sha256)  # "is this content new" and the insert: one transaction, whoever else writes
    orig = store.original_of(sha256)
    if orig is None and doc is None:
        store.rollback()
        return 0, True
    run_id = store.start_run("upload", path, spec.version, spec.hash)
    base = {"run_id": run_id, "seq": 0, "path": path, "file_name": Path(path).name, "sha256": sha256, "size": size,
            "mtime": received, "received": received, "expect_unit": expect_unit}
    if orig is not None:
        sid = store.add_submission({**base, "unit_code": orig["unit_code"], "unit_name": orig["unit_name"],
                                    "year": orig["year"], "template_id": orig["template_id"],
                                    "template_version": orig["template_version"], "spec_hash": orig["spec_hash"],
                                    "usable": orig["usable"], "duplicate_of": orig["id"], "status": DUP, "doc": "{}"})
    else:
        assert doc is not None
        tpl = doc.get("template") or {}
        sid = store.add_submission(
            {**base, "unit_code": doc["unit_code"], "unit_name": doc["unit_name"], "year": doc["year"],
             "template_id": tpl.get("id"), "template_version": tpl.get("version"), "spec_hash": tpl.get("spec_hash"),
             "usable": int(bool(doc["usable"])), "status": UNREADABLE, "doc": json.dumps(doc["doc"], ensure_ascii=False)},
            doc["figures"], [Finding.from_dict(f) for f in doc["findings"]])
    store.finish_run(run_id, {"files": 1, "read": int(orig is None), "duplicates": int(orig is not None)})
    store.commit()
    refresh_statuses(store, tree, spec.version, spec.hash, only=[sid])
    return sid, False


def ingest_bytes(store: Store, tree: UnitTree, spec: Spec, data: bytes, file_name: str, expect_unit: str | None,
                 evidence_dir: Path, key: str | None = None) -> int:
    """One uploaded file, start to end, in this process: bytes kept as evidence, read (unless the
    same content is already stored), recorded. The web app does the same steps with the read in a
    worker process."""
    digest, path = keep_evidence(data, evidence_dir)
    sid, need = store_upload(store, tree, spec, digest, len(data), file_name, expect_unit, None)
    if need:
        doc = read_one(str(path), expect_unit, spec, key)
        sid, _ = store_upload(store, tree, spec, digest, len(data), file_name, expect_unit, doc)
    return sid


def explain_online(store: Store, tree: UnitTree, spec: Spec, sid: int, texts: dict[str, str]) -> bool:
    """差异说明 typed on the web page for a submission's warnings (rule id → text; empty clears):
    kept with the submission (its doc's ``explanations``, as if typed into the 审核 sheet), its 审核
    rules run again over its stored input figures (as ``recheck`` does), earlier rule findings kept
    as history, its status refreshed. Only for a readable submission of the round's template;
    False otherwise."""
    s = store.submission(sid)
    if (s is None or not s["usable"] or s["duplicate_of"] is not None or s["template_version"] != spec.version
            or s["spec_hash"] != spec.hash):
        return False
    doc = json.loads(s["doc"] or "{}")
    explanations = dict(doc.get("explanations") or {})
    # only for the rules this submission has (a made-up id is ignored), each at most MAX_EXPLANATION
    # characters: a unit cannot grow its stored document by posting
    own = {f.rule for f in store.findings(sid, active_only=False) if f.rule} | set(explanations)
    for rid, text in texts.items():
        if rid not in own:
            continue
        text = text.strip()[:MAX_EXPLANATION]
        if text:
            explanations[rid] = text
        else:
            explanations.pop(rid, None)
    doc["explanations"] = explanations
    cells = {f.rule: f.cell for f in store.findings(sid) if f.rule}
    figures = Figures(spec, store.values(sid, inputs_only=True))
    results = evaluate_rules(spec, figures, doc.get("notes") or {}, expand_rules(spec, figures.item_codes))
    new = rule_findings(results, explanations, lambda inst: cells.get(inst.id))
    store.begin()
    store.deactivate_findings(sid, "rule IS NOT NULL OR source IN ('recheck', 'web')")
    store.add_findings(sid, new, "web")
    store.update_submission(sid, doc=json.dumps(doc, ensure_ascii=False))
    store.commit()
    refresh_statuses(store, tree, spec.version, spec.hash, only=[sid])
    return True


def refresh_statuses(store: Store, tree: UnitTree, spec_version: str | None = None, spec_hash: str | None = None,
                     only: Iterable[int] | None = None) -> None:
    """Recompute every submission's unit, status, acceptance, counts and collect findings
    (duplicate, unknown unit, template mismatch) from its stored findings and the units file.
    ``only``: just these submissions (a single upload); a submission's judgement depends on itself
    and, for a duplicate, on the unit of its original, so the rest need not be walked."""
    spec_version = spec_version if spec_version is not None else store.get_meta("spec_version") or ""
    spec_hash = spec_hash if spec_hash is not None else store.get_meta("spec_hash") or ""
    ids = sorted(set(only)) if only is not None else None
    store.begin()
    if ids is None:
        store.delete_findings("source='collect'")
        codes_of = store.finding_codes()
        subs = store.submissions(order="id")
    else:
        marks = ", ".join("?" * len(ids))
        store.delete_findings(f"source='collect' AND submission_id IN ({marks})", tuple(ids))
        codes_of = store.finding_codes(ids)
        subs = store.submissions(f"id IN ({marks})", tuple(ids), order="id")
    units_of: dict[int, str | None] = {}
    for s in subs:
        sid = s["id"]
        codes = {c for c, *_ in codes_of.get(sid, [])}
        extra: list[Finding] = []
        unit: str | None = s["unit_code"] or s["expect_unit"] or None
        orig = store.submission(s["duplicate_of"]) if s["duplicate_of"] is not None else None
        if orig is not None and not orig["usable"] and orig["status"] in (UNREADABLE, ATTACH):
            # the same attachment or broken file sent by two units is each one's own (not a copy of a report)
            status = UNREADABLE if Path(s["file_name"]).suffix.lower() in SPREADSHEET_SUFFIXES else ATTACH
            unit = s["expect_unit"] or None
        elif s["duplicate_of"] is not None:
            unit = units_of.get(s["duplicate_of"], orig["unit"] if orig is not None and orig["unit"] else unit)
            status = DUP
            extra.append(Finding("submission-duplicate", WARNING,
                                 f"与已收录的报送 #{orig['id'] if orig else '?'}（{orig['path'] if orig else ''}，"
                                 f"{orig['received'] if orig else ''}）内容完全相同，未重复入库",
                                 actual=s["sha256"][:16]))
            if s["expect_unit"] and orig is not None and orig["unit_code"] and s["expect_unit"] != orig["unit_code"]:
                status, unit = WRONG_UNIT, s["expect_unit"]  # a copy of another unit's file sent under this name
                extra.append(Finding("wrong-unit", ERROR, "工作簿属于另一单位（与该单位已收录的报表完全相同）",
                                     expected=s["expect_unit"], actual=orig["unit_code"]))
        elif not s["usable"] and "template-version-unknown" not in codes:
            status = UNREADABLE if Path(s["file_name"]).suffix.lower() in SPREADSHEET_SUFFIXES else ATTACH
            unit = s["expect_unit"] or None
        elif (not s["usable"] or codes & TEMPLATE_CODES or s["template_version"] != spec_version
              or s["spec_hash"] != spec_hash):
            status = TEMPLATE
            # an older template of this version: the reader's one finding (template-outdated) says it, with migrate
            if "template-outdated" not in codes:
                extra.append(Finding("template-version-mismatch", ERROR,
                                     f"模板版本 {s['template_version'] or '（未知）'}（规格 {s['spec_hash'] or '—'}）与本次收集所用的"
                                     f" {spec_version}（规格 {spec_hash}）不符，请用新模板重新填报",
                                     expected=f"{spec_version}/{spec_hash}",
                                     actual=f"{s['template_version'] or ''}/{s['spec_hash'] or ''}"))
        elif "wrong-unit" in codes or s["unit_code"] not in tree.units:
            status = WRONG_UNIT
            if "wrong-unit" in codes and s["expect_unit"]:
                unit = s["expect_unit"]
        elif str(s["path"]).startswith(LEVEL_PATH) and "consolidation-submitted" in codes:
            status = None  # a level's 汇总, submitted by consolidate (never a file's own claim): its unit's report
        elif (("consolidated-workbook" in codes or "consolidated-report" in codes) and "department-forms-received" in codes
              and s["unit_code"] in tree.units and tree.kids(s["unit_code"])):
            status = DEPT_FORMS  # the department's 汇总 workbook sent back with its 附件1–3: never its report
        elif ("consolidated-workbook" in codes or "consolidated-report" in codes) and tree.kids(s["unit_code"]):
            status = WRONG_UNIT  # a 汇总 is never the report of a unit whose subordinates report in this round
            extra.append(Finding("consolidated-workbook", ERROR, "这是汇总工作簿（由 juesuan consolidate 生成），不是单位的报表，"
                                 "不作为任何单位的报送收录（其下级单位在本轮次中各自报送）"))
        elif "wrong-year" in codes:
            status = TEMPLATE  # another year's workbook is not this round's report
        elif tree.is_aggregate(s["unit_code"]):
            status = WRONG_UNIT
            extra.append(Finding("aggregate-unit-report", ERROR,
                                 f"单位 {s['unit_code']}（{s['unit_name']}）是汇总单位：只汇总下级单位，不报送本级报表；"
                                 "此文件不收录（本级的数请由其“本级”单位报送）", actual=s["unit_code"]))
        else:
            status = None
        if s["duplicate_of"] is None and s["unit_code"] and s["unit_code"] not in tree.units:
            extra.append(Finding("unit-unknown", ERROR, f"工作簿标识的单位代码 {s['unit_code']}（{s['unit_name']}）不在单位清单中",
                                 actual=s["unit_code"]))
        units_of[sid] = unit
        if extra:
            store.add_findings(sid, extra, "collect")
        sev = [sv for c, sv, *_ in codes_of.get(sid, [])
               if c not in OFFICE_CODES and not (status == DEPT_FORMS and c == "consolidated-workbook")]
        sev += [f.severity for f in extra]
        counts = (sev.count(ERROR), sev.count(WARNING), sev.count(INFO))
        if status is None:
            status = ERR if counts[0] else WARN if counts[1] else PASS
        accepted = int(status in ACCEPTED)
        if (s["status"], s["accepted"], s["unit"], s["errors"], s["warnings"], s["infos"]) != (status, accepted, unit, *counts):
            store.update_submission(sid, status=status, accepted=accepted, unit=unit, errors=counts[0],
                                    warnings=counts[1], infos=counts[2])
    store.commit()


def submission_dataset(store: Store, sid: int, unit: str, name: str, year: int | None) -> Dataset:
    """What a stored submission holds, as reading its workbook gives it: the typed figures and every
    text kept with it (names, 空表说明, cover, 差异说明, the 附件 forms' words) — what ``publish UNIT``
    and ``narrative UNIT`` start from, so they say what they say from the workbook itself."""
    doc = dict(store.doc(sid))
    doc.pop("values", None)
    ds = Dataset.from_json({**doc, "unit": {"code": unit, "name": name}, "year": year})
    ds.values = store.values(sid, inputs_only=True)
    return ds


def unfinished_collect(store: Store) -> Finding | None:
    """The last collect did not finish (killed, a full disk, …): the database may lack some files of
    the folder. None when it finished (or there was none)."""
    last = store.last_run("collect")
    if last is None or last["finished"]:
        return None
    busy = store.writer_busy()
    what = "正在进行" if busy else "没有完成（被中断）"
    return Finding("collect-running" if busy else "collect-unfinished", ERROR if busy else WARNING,
                   f"最近一次收集（#{last['id']}，{last['source'] or ''}，开始于 {last['started']}）{what}：数据库中可能缺少该次收集的部分文件。"
                   "请（等它结束后）重新运行 juesuan collect —— 已收录的文件不会重复入库", actual=str(last["id"]))


# ---------------------------------------------------------------- per-unit status


@dataclass
class UnitRow:
    code: str
    name: str
    parent: str
    depth: int
    has_children: bool
    status: str
    latest: dict[str, Any] | None = None  # the submission the status is about (the current one, if any)
    current: dict[str, Any] | None = None  # the latest accepted one
    history: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0
    warnings: int = 0
    infos: int = 0
    anchor: str = ""
    beside: list[dict[str, Any]] = field(default_factory=list)  # files that are not its report: 附件, 未变, 无法读取 …

    @property
    def done(self) -> bool:
        """Has a current submission without errors (or is only a 汇总 node)."""
        if self.status == AGGREGATE:
            return True
        return self.current is not None and self.current["status"] != ERR


@dataclass
class UnitReport:
    rows: list[UnitRow]
    others: list[dict[str, Any]]  # files counted for no unit of the units file
    counts: dict[str, int]
    spec_version: str
    spec_hash: str
    created: str

    @property
    def ok(self) -> bool:
        return all(r.done for r in self.rows) and not [s for s in self.others if s["status"] != ATTACH]


def unit_report(store: Store, tree: UnitTree) -> UnitReport:
    """Each unit's status is that of its current submission: the latest accepted (通过/有提示/有错误)
    file in order of receipt. Files that are not a report of the unit (attachments, unreadable
    files, a copy of a file already received, another unit's workbook sent under its name) are
    listed beside it and never replace its current report; only a unit without any current report
    takes the status of its latest such file (an attachment alone leaves it 未报送)."""
    subs = [dict(s) for s in store.submissions(columns=LIGHT_COLUMNS)]  # without doc: store.doc(id) when needed
    by_unit: dict[str, list[dict[str, Any]]] = {}
    others = []
    for s in subs:
        if s["unit"] in tree.units:
            by_unit.setdefault(s["unit"], []).append(s)
        else:
            others.append(s)
    rows: list[UnitRow] = []
    for i, (code, depth) in enumerate(tree.walk()):
        u = tree.units[code]
        hist = by_unit.get(code, [])  # ordered by (run, seq)
        has_children = bool(tree.kids(code))
        row = UnitRow(code, u.name, u.parent, depth, has_children, MISSING, history=hist, anchor=f"u{i}")
        accepted = [s for s in hist if s["accepted"]]
        row.current = accepted[-1] if accepted else None
        row.beside = [s for s in hist if not s["accepted"]]
        if row.current is not None:
            row.latest = row.current
            row.status = row.current["status"]
        else:
            reports = [s for s in hist if s["status"] not in (ATTACH, DEPT_FORMS)]
            if reports:
                row.latest = reports[-1]
                row.status = reports[-1]["status"]
            elif tree.is_aggregate(code):
                row.status = AGGREGATE
        if row.latest is not None:
            row.errors, row.warnings, row.infos = row.latest["errors"], row.latest["warnings"], row.latest["infos"]
        rows.append(row)
    counts = {s: 0 for s in STATUS_ORDER}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return UnitReport(rows, others, counts, store.get_meta("spec_version") or "", store.get_meta("spec_hash") or "",
                      shown(now()))


# ---------------------------------------------------------------- reports: terminal, CSV, HTML



def pad(s: str, width: int) -> str:
    return s + " " * max(0, width - text_width(s))


def render_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max([text_width(h)] + [text_width(r[i]) for r in rows]) for i, h in enumerate(header)]
    lines = ["  ".join(pad(h, w) for h, w in zip(header, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


REPORT_HEADER = ["单位代码", "单位名称", "上级单位", "层级", "状态", "当前报送", "错误", "提示", "信息", "报送次数", "文件", "收到时间",
                 "另收文件"]


def beside_text(r: UnitRow) -> str:
    """The files received for a unit that are not its report, for one table cell."""
    return "；".join(f"{Path(s['path']).name}（{s['status']}）" for s in r.beside)


def report_cells(r: UnitRow) -> list[str]:
    cur = r.current
    current = f"#{cur['id']} {cur['status']}" if cur else "—"
    latest = r.latest
    return [r.code, r.name, r.parent, str(r.depth + 1), r.status, current, str(r.errors), str(r.warnings), str(r.infos),
            str(len(r.history)), latest["path"] if latest else "", shown(latest["received"]) if latest else "",
            beside_text(r)]


def terminal_table(rep: UnitReport) -> str:
    rows = []
    for r in rep.rows:
        # names from files and folders: every cell one line, no escape sequence reaches the terminal
        cells = [printable(c) for c in report_cells(r)]
        cells[1] = "  " * r.depth + cells[1]
        rows.append([cells[0], cells[1], cells[4], cells[5], cells[6], cells[7], cells[8], cells[9], cells[10]])
        if r.beside:
            rows[-1].append(printable(beside_text(r)))
    text = render_table(["单位代码", "单位名称", "状态", "当前报送", "错误", "提示", "信息", "次数", "文件", "另收文件"],
                        [row + [""] * (10 - len(row)) for row in rows])
    summary = "，".join(f"{s} {n}" for s, n in rep.counts.items() if n)
    text += f"\n共 {len(rep.rows)} 个单位：{summary}"
    if rep.others:
        text += f"\n另有 {len(rep.others)} 个文件不属于清单中的任何单位或无法识别（见报告“其他文件”）"
    return text


def csv_safe(value: Any) -> str:
    """A cell a spreadsheet will never take for a formula: text starting with = + - @ (or a tab or
    carriage return) gets a leading single quote."""
    s = visible("" if value is None else str(value))  # an ESC from a file name is shown, not written raw
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def report_csv(rep: UnitReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(REPORT_HEADER)
    for r in rep.rows:
        w.writerow([csv_safe(c) for c in report_cells(r)])
    for s in rep.others:
        w.writerow([csv_safe(c) for c in [s["unit_code"], s["unit_name"], "", "", s["status"], "", s["errors"],
                                          s["warnings"], s["infos"], 1, s["path"], shown(s["received"]), ""]])
    return buf.getvalue()


def safe_text(value: Any) -> Any:
    """Jinja's finalize: a plain text shown without raw control characters (Markup left as it is)."""
    return visible(value) if isinstance(value, str) and not hasattr(value, "__html__") else value


def jinja_env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["status_class"] = lambda s: STATUS_CLASS.get(s, "other")
    env.filters["when"] = shown
    env.finalize = safe_text  # no raw control characters in a report
    return env


def _finding_view(f: Finding) -> dict[str, Any]:
    from ..core.findings import SEVERITY_ZH

    return {"severity": f.severity, "severity_zh": SEVERITY_ZH.get(f.severity, f.severity), "code": f.code,
            "title": f.title, "advice": f.advice, "location": f.location(), "message": f.message, "expected": f.expected, "actual": f.actual}


class _UnitView:
    """One unit of the HTML report; its findings are read from the store when the template gets to
    them, so a round's report is rendered unit by unit and never held whole in memory."""

    def __init__(self, store: Store, row: UnitRow):
        self.store, self.row = store, row

    @property
    def cells(self) -> list[str]:
        return report_cells(self.row)

    @property
    def shown(self) -> Iterator[dict[str, Any]]:
        r, store = self.row, self.store
        for s in ([r.latest] if r.latest else []) + ([r.current] if r.current and r.current is not r.latest else []):
            sid = s["duplicate_of"] or s["id"]
            fs = sort_findings(store.findings(s["id"]) + (store.findings(sid) if sid != s["id"] else []))
            yield {"sub": s, "findings": [_finding_view(f) for f in fs]}


class _UnitViews:
    """The report's units, iterable as often as the template walks them (summary, then details)."""

    def __init__(self, store: Store, rep: UnitReport):
        self.store, self.rep = store, rep

    def __iter__(self) -> Iterator[_UnitView]:
        return (_UnitView(self.store, r) for r in self.rep.rows)


def report_html_chunks(store: Store, rep: UnitReport, title: str = "决算公开表收集情况",
                       notice: str | None = None) -> Iterator[str]:
    """The collect report as HTML, in chunks as the template renders them (streamed to the file);
    ``notice``: a banner above everything (the office's set-up, e.g. no key of its own)."""
    others = [{"sub": s, "findings": [_finding_view(f) for f in sort_findings(store.findings(s["id"]))]}
              for s in rep.others]
    return jinja_env().get_template("collect_report.html.j2").generate(
        title=title, rep=rep, units=_UnitViews(store, rep), others=others, header=REPORT_HEADER, statuses=STATUS_ORDER,
        notice=notice)


def report_html(store: Store, rep: UnitReport, title: str = "决算公开表收集情况", notice: str | None = None) -> str:
    return "".join(report_html_chunks(store, rep, title, notice))


def write_reports(store: Store, rep: UnitReport, outdir: Path, stem: str = "collect-report",
                  notice: str | None = None) -> tuple[Path, Path]:
    html = outdir / f"{stem}.html"
    csv_path = outdir / f"{stem}.csv"
    atomic_write_text(html, report_html_chunks(store, rep, notice=notice))
    atomic_write_bytes(csv_path, report_csv(rep).encode("utf-8-sig"))
    return html, csv_path


# ---------------------------------------------------------------- recheck


@dataclass
class RecheckSummary:
    run_id: int
    submissions: int = 0
    added: int = 0
    resolved: int = 0
    failed: int = 0
    unplaced: int = 0  # non-zero figures with no home in the new version (cross-version recheck)
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)  # unit, name, before, after


def recheck(store: Store, tree: UnitTree, spec: Spec, old_spec: Spec | None = None) -> RecheckSummary:
    """Re-run a spec's 审核 rules on the stored figures of every readable submission (values from
    the database, not the files): earlier rule findings are kept as history (inactive), the new
    ones are active, statuses refreshed.

    Same version (rules or formulas changed): derived figures are recomputed and stored. Another
    version (``old_spec`` = the version the submissions were collected on): the input figures are
    carried to the new version's keys by the spec mapping first; a non-zero figure with no home is
    a warning; the stored figures stay as collected."""
    store.acquire_writer("重新审核")
    try:
        return _recheck(store, tree, spec, old_spec)
    finally:
        store.release_writer()


def _recheck(store: Store, tree: UnitTree, spec: Spec, old_spec: Spec | None) -> RecheckSummary:
    from ..core.specmap import resolve
    from .migrate import migrate_values, unplaced_reason

    specmap = resolve(old_spec, spec) if old_spec is not None else None
    before = {r.code: r.status for r in unit_report(store, tree).rows}
    store.begin()
    run_id = store.start_run("recheck", "", spec.version, spec.hash)
    store.set_meta("recheck_spec", f"{spec.version}/{spec.hash}")
    store.commit()
    summary = RecheckSummary(run_id)
    for s in store.submissions("usable=1 AND duplicate_of IS NULL"):
        sid = s["id"]
        old = {(f.code, f.rule, f.severity) for f in store.findings(sid) if f.rule or f.code == "recheck-unplaced"}
        doc = json.loads(s["doc"] or "{}")
        store.begin()
        derived = None
        try:
            inputs = store.values(sid, inputs_only=True)
            new: list[Finding] = []
            if old_spec is not None and specmap is not None:
                inputs, unplaced, _ = migrate_values(old_spec, spec, inputs, specmap)
                for u in unplaced:
                    if u.amount:
                        summary.unplaced += 1
                        new.append(Finding("recheck-unplaced", WARNING,
                                           f"{u.table} 行 {u.row} 栏 {u.col} 的数 {u.amount} 在新版 {spec.version} 中无处放置："
                                           f"{unplaced_reason(specmap, u, inputs)}",
                                           table=u.table, row=u.row, col=u.col, actual=str(u.amount)))
            figures = Figures(spec, inputs)
            results = evaluate_rules(spec, figures, doc.get("notes") or {}, expand_rules(spec, figures.item_codes))
            new += rule_findings(results, doc.get("explanations") or {})
            if old_spec is None:
                derived = figure_rows(figures.all_values(), {})
        except Exception as exc:  # noqa: BLE001 - one bad submission never stops the batch
            new = [Finding("recheck-failed", ERROR, "按新规格审核这份报送时出错，未能审核；请把这份报送交给技术人员查看",
                           extra={"exception": f"{type(exc).__name__}: {str(exc)[:300]}"})]
            summary.failed += 1
        store.deactivate_findings(sid, "rule IS NOT NULL OR source='recheck'")
        store.add_findings(sid, new, "recheck", run_id)
        if derived is not None:
            store.replace_derived(sid, derived)
        store.commit()
        got = {(f.code, f.rule, f.severity) for f in new}
        summary.added += len(got - old)
        summary.resolved += len(old - got)
        summary.submissions += 1
    refresh_statuses(store, tree)
    after = unit_report(store, tree)
    summary.changes = [(r.code, r.name, before.get(r.code, ""), r.status) for r in after.rows
                       if before.get(r.code) != r.status]
    store.begin()
    store.finish_run(run_id, {"submissions": summary.submissions, "added": summary.added,
                              "resolved": summary.resolved, "failed": summary.failed, "unplaced": summary.unplaced})
    store.commit()
    return summary


__all__ = ["UnitTree", "collect", "ingest_bytes", "explain_online", "store_upload", "keep_evidence", "recheck", "refresh_statuses", "unit_report", "write_reports", "terminal_table",
           "csv_safe", "named_unit", "scan", "read_one"]
