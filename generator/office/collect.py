"""Collect returned workbooks into the database, judge each unit, report, and recheck.

A file counts for the unit named in the workbook's identity (the hidden _meta sheet), not for its
file name. A file name (``430100002-….xlsx``) or folder (``…/430100002/…``) naming a unit of the
units file only adds an expectation: a workbook of another unit is then 单位不符, and is not taken
as anybody's submission.

A submission's status is decided by :mod:`generator.office.statuses` (a pure function over the
submission, its findings and the units file). This module reads the files (in worker processes),
collects a folder and takes one upload; its other parts are their own modules, re-exported here:
the unit tree (:mod:`.tree`), the statuses refreshed (:mod:`.submissions`), the unit report and its
terminal/CSV/HTML forms (:mod:`.report`), the recheck (:mod:`.recheck`). A unit's status is that of the latest file it received (an unchanged file collected again is not
news); a unit that never received one is 未报送, or 汇总单位 when it only sums its subordinates
(``kind`` 汇总 in the units file, or a unit one of whose subordinates is its 本级). Its
current submission is the latest 通过/有提示/有错误 one; earlier ones stay as history.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.findings import ERROR, INFO, WARNING, Finding
from ..core.fsutil import atomic_write_bytes
from ..core.layout import DRAFT, META, SUMMARY_KINDS
from ..core.model import Figures
from ..core.rules import evaluate_rules, expand_rules, rule_findings
from ..core.spec import Spec
from .recheck import RecheckSummary, recheck
from .report import (
    REPORT_HEADER,
    UnitReport,
    UnitRow,
    _finding_view,
    beside_text,
    csv_safe,
    jinja_env,
    pad,
    render_table,
    report_cells,
    report_csv,
    report_html,
    report_html_chunks,
    safe_text,
    terminal_table,
    unit_report,
    write_reports,
)
from .statuses import (
    ACCEPTED,
    AGGREGATE,
    ATTACH,
    DEPT_FORMS,
    DUP,
    ERR,
    LEVEL_PATH,
    MISSING,
    OFFICE_CODES,
    PASS,
    SPREADSHEET_SUFFIXES,
    STATUS_CLASS,
    STATUS_ORDER,
    TEMPLATE,
    TEMPLATE_CODES,
    UNREADABLE,
    WARN,
    WRONG_UNIT,
)
from .store import Store, figure_rows, now
from .submissions import refresh_statuses, submission_dataset, unfinished_collect
from .tree import AGGREGATE_KINDS, Unit, UnitTree, load_tree, tree_from_store

if TYPE_CHECKING:
    from ..xlsx.ooxml import Limits

COMMIT_EVERY = 50
FUTURE_SLACK = 600  # seconds a sender's clock may run ahead before a file time counts as in the future


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
    store.deactivate_rule_findings(sid, ("recheck", "web"))
    store.add_findings(sid, new, "web")
    store.update_submission(sid, doc=json.dumps(doc, ensure_ascii=False))
    store.commit()
    refresh_statuses(store, tree, spec.version, spec.hash, only=[sid])
    return True


# the statuses (generator/office/statuses.py) are re-exported: collect's callers import them from here
__all__ = ["ACCEPTED", "AGGREGATE", "ATTACH", "DEPT_FORMS", "DUP", "ERR", "LEVEL_PATH", "MISSING", "OFFICE_CODES", "PASS", "SPREADSHEET_SUFFIXES", "STATUS_CLASS", "STATUS_ORDER", "TEMPLATE", "TEMPLATE_CODES", "UNREADABLE", "WARN", "WRONG_UNIT", "UnitTree", "collect", "ingest_bytes", "explain_online", "store_upload", "keep_evidence", "recheck", "refresh_statuses", "unit_report", "write_reports", "terminal_table", "csv_safe", "named_unit", "scan", "read_one", "AGGREGATE_KINDS", "Unit", "load_tree", "tree_from_store", "submission_dataset", "unfinished_collect", "REPORT_HEADER", "UnitReport", "UnitRow", "_finding_view", "beside_text", "jinja_env", "pad", "render_table", "report_cells", "report_csv", "report_html", "report_html_chunks", "safe_text", "RecheckSummary", "evidence_path", "UPLOAD_PREFIX", "FileTask", "read_many", "_crash_doc", "_worker_init", "_worker_read"]
