"""The round behind the web page: one database thread (the only writer of this process), a pool of
reader processes, the round's spec, and the files kept next to the database.

Files (``<db stem>-files/`` beside a SQLite database, ``out/juesuan-files`` for a PostgreSQL one, or
``--files``): ``evidence/`` every uploaded file's bytes, once per
content hash; ``templates/`` each unit's template as last generated; ``consolidations/`` 汇总
workbooks, data files and reports.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..core.catalog import default_specs_dir, load_spec, spec_by_version
from ..core.spec import Spec
from ..office.collect import (
    UnitTree,
    _crash_doc,
    _worker_init,
    _worker_read,
    keep_evidence,
    read_one,
    store_upload,
    tree_from_store,
)
from ..office.service import UNITS_FILE_KEY, unit_row  # noqa: F401 - UNITS_FILE_KEY: the CLI's
from ..office.store import Store
from ..office.units import UnitBuild, build_unit

T = TypeVar("T")


@dataclass
class UploadResult:
    sid: int
    duplicate: bool


def round_spec(store: Store, specs: str | Path | None = None) -> Spec:
    """The spec of the round: ``specs`` if given, else the one the database was collected with,
    else the bundled default; recorded in the database when it has none."""
    spec = None
    if specs:
        spec = load_spec(Path(specs)) if Path(specs).is_dir() else spec_by_version(str(specs))
    if spec is None:
        version = store.get_meta("spec_version")
        spec = spec_by_version(version) if version else None
    if spec is None:
        spec = load_spec(default_specs_dir())
    if not store.get_meta("spec_version"):
        store.set_meta("spec_version", spec.version)
        store.set_meta("spec_hash", spec.hash)
    return spec


def unit_template(store: Store, spec: Spec, code: str, key: str | None = None) -> UnitBuild | None:
    """A unit's template as ``juesuan build --units`` makes it (the same :func:`build_unit` over the
    same units row: its ``data``, its ``subjects``), byte for byte; None for a unit not in the list."""
    row, base = unit_row(store, code)
    if row is None:
        return None
    return build_unit(spec, row, base, key)


def template_stamp(store: Store, spec: Spec, code: str) -> str:
    """What a kept template was built from: the spec's hash and the unit's row (with its data
    file's bytes); a kept template whose stamp differs is built again."""
    import hashlib
    import json

    row, base = unit_row(store, code)
    h = hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
    if row is not None and row.get("data"):
        try:
            h.update((base / row["data"]).read_bytes())
        except OSError:
            pass  # a missing data file: the build says so
    return f"{spec.hash} {h.hexdigest()[:16]}"


class Round:
    """Everything the app does to the database runs in one thread (``db``); workbooks are read in
    worker processes (``workers`` > 0) or threads (``workers`` = 0, for tests)."""

    def __init__(self, db: str | Path, specs: str | Path | None = None, workers: int = 2, key: str | None = None,
                 files: str | Path | None = None, limits: Any = None):
        from ..office.pgstore import is_url

        self.db_url = str(db)
        if files is not None:
            self.files = Path(files)
        elif is_url(self.db_url):
            self.files = Path("out") / "juesuan-files"
        else:
            path = Path(self.db_url.removeprefix("sqlite:///"))
            self.files = path.parent / f"{path.stem}-files"
        self.evidence = self.files / "evidence"
        self.templates = self.files / "templates"
        self.consolidations = self.files / "consolidations"
        self.key = key
        self.limits = limits  # the reader's limits (xlsx.ooxml.Limits), None for its defaults
        self.workers = workers
        self._store: Store | None = None
        self._db_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="juesuan-db")
        self._readers: Executor | None = None
        self._readers_lock = threading.Lock()
        self.spec: Spec = self._db_pool.submit(self._init_spec, specs).result()

    # -- the database thread
    def _open(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_url)
        return self._store

    def _init_spec(self, specs: str | Path | None) -> Spec:
        return round_spec(self._open(), specs)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(store, *args)`` in the database thread and wait (for code not on the event loop)."""
        return self._db_pool.submit(lambda: fn(self._open(), *args)).result()

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_pool, lambda: fn(self._open(), *args))

    # -- reading
    def _reader_pool(self) -> Executor:
        with self._readers_lock:
            if self._readers is None:
                if self.workers > 0:
                    self._readers = ProcessPoolExecutor(
                        max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                        initializer=_worker_init, initargs=(self.spec, self.key, None, self.limits))
                else:
                    self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="juesuan-read")
            return self._readers

    def _reset_readers(self, broken: Executor) -> None:
        with self._readers_lock:
            if self._readers is broken:
                self._readers = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def read(self, path: Path, expect_unit: str | None) -> dict[str, Any]:
        """Read one file like ``collect`` does; a worker that dies on it makes a finding, and any
        other file it held is tried once more in a fresh worker of its own."""
        loop = asyncio.get_running_loop()
        pool = self._reader_pool()
        if isinstance(pool, ThreadPoolExecutor):
            return await loop.run_in_executor(pool, read_one, str(path), expect_unit, self.spec, self.key, None,
                                              self.limits)
        try:
            return await loop.run_in_executor(pool, _worker_read, str(path), expect_unit)
        except BrokenProcessPool:
            self._reset_readers(pool)
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_worker_init,
                                 initargs=(self.spec, self.key, None, self.limits)) as one:
            try:
                return await loop.run_in_executor(one, _worker_read, str(path), expect_unit)
            except BrokenProcessPool:
                return _crash_doc("读取该文件时工作进程异常退出（文件可能有问题），未能读取")

    def warm_up(self) -> None:
        """Start the reader processes now rather than on the first upload."""
        pool = self._reader_pool()
        if isinstance(pool, ProcessPoolExecutor):
            for f in [pool.submit(int, 0) for _ in range(self.workers)]:
                f.result()

    # -- one upload, the collect pipeline
    async def upload(self, data: bytes, file_name: str, unit: str) -> UploadResult:
        digest, path = await asyncio.get_running_loop().run_in_executor(None, keep_evidence, data, self.evidence)
        tree = await self.db(tree_from_store)
        sid, need = await self.db(store_upload, tree, self.spec, digest, len(data), file_name, unit, None)
        if not need:
            return UploadResult(sid, True)
        doc = await self.read(path, unit)
        sid, _ = await self.db(store_upload, tree, self.spec, digest, len(data), file_name, unit, doc)
        return UploadResult(sid, False)

    def tree(self) -> UnitTree:
        return self.call(tree_from_store)

    def close(self) -> None:
        if self._readers is not None:
            self._readers.shutdown(wait=False, cancel_futures=True)
        if self._store is not None:
            self._db_pool.submit(self._store.close).result()
            self._store = None
        self._db_pool.shutdown(wait=True)
