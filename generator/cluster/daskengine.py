"""``--engine dask``: collect and ``build --units`` as batched tasks on Dask distributed.

Each task takes a batch of files (or units) and returns self-contained records: for a read, the
file's SHA-256 and the plain-data document :func:`~generator.office.collect.read_one` makes (the
same the local process pool returns), for a build the workbook's bytes. The main process hands
out work only for content it has not seen (duplicates are removed by hash before anything is
submitted, in :func:`~generator.office.collect.collect`), keeps a bounded window of batches in
flight, and is the one writer of the store (or of the output folder). A worker that dies is
retried by Dask; a batch that keeps killing workers is split and each file retried alone, and the
one file that still kills its worker becomes a ``file-read-crashed`` finding, as with the local
engine.

Without ``--scheduler`` a ``LocalCluster`` of worker processes (one thread each) is started on
127.0.0.1 for the run. With one, the files and the units file's data must be readable by the
workers under the same paths (a shared folder), or given as fsspec URLs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

from ..core.spec import Spec
from ..office.collect import FileTask, _crash_doc, read_one
from ..office.units import UnitBuild, build_unit

READ_BATCH = 16
BUILD_BATCH = 8

_SPECS: dict[str, Spec] = {}  # on a worker: the specs its plugins installed, by hash


class SpecPlugin(WorkerPlugin):
    """Installs the round's spec on every worker, also on one that joins or is restarted later (data
    scattered to the workers would die with them); tasks then name the spec by its hash."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.name = f"juesuan-spec-{spec.hash}"

    def setup(self, worker: Any) -> None:
        _SPECS[self.spec.hash] = self.spec


def _spec(spec_hash: str) -> Spec:
    return _SPECS[spec_hash]


def _read_task(items: list[tuple[int, str, str | None, str]], spec_hash: str, key: str | None,
               file_password: str | None, limits: Any = None) -> list[tuple[str, dict[str, Any]]]:
    """Runs on a worker: read and check a batch of files; (sha256, document) per file."""
    spec = _spec(spec_hash)
    out = []
    for _i, path, expect_unit, sha in items:
        if "://" in path:  # an fsspec URL: fetch the bytes, check them against the hash, read a local copy
            import fsspec

            with fsspec.open(path, "rb") as fh:
                data = fh.read()
            got = hashlib.sha256(data).hexdigest()
            with tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False) as tmp:
                tmp.write(data)
            try:
                doc = read_one(tmp.name, expect_unit, spec, key, file_password, limits)
            finally:
                os.unlink(tmp.name)
            if sha and got != sha:
                doc = _crash_doc("文件在收集过程中被改动（内容与登记的哈希不符），请重新收集")
        else:
            doc = read_one(path, expect_unit, spec, key, file_password, limits)
        out.append((sha, doc))
    return out


def _build_task(rows: list[dict[str, Any]], spec_hash: str, base: str, key: str | None,
                password: str | None, spare_rows: int | None) -> list[UnitBuild]:
    spec = _spec(spec_hash)
    return [build_unit(spec, r, Path(base), key, password, spare_rows) for r in rows]


def _close_quietly(cluster: Any) -> None:
    """Close a LocalCluster whose work is done. A worker a hostile file killed may be half restarted
    by its nanny at that moment, and distributed then asserts while joining a process that has not
    started ("can only join a started process"): the run's results are in, so that is logged, not
    raised (the command would otherwise end in a traceback after a complete collect)."""
    try:
        cluster.close()
    except AssertionError as exc:
        logging.getLogger(__name__).warning("LocalCluster close: %s", exc)


class DaskEngine:
    """A Dask client for one run: a given scheduler, or a LocalCluster started for it."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None, batch: int | None = None,
                 window: int | None = None, plugins: list[Any] | None = None):
        self.scheduler = scheduler
        self.plugins = plugins or []  # Dask worker plugins to register (set-up on every worker)
        self.workers = workers or os.cpu_count() or 1
        self.batch = batch
        self.window = window

    @contextmanager
    def client(self) -> Iterator[Any]:
        from distributed import Client, LocalCluster

        if self.scheduler:
            with Client(self.scheduler) as client:
                self._setup(client)
                yield client
            return
        cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
        try:
            with Client(cluster) as client:
                self._setup(client)
                yield client
        finally:
            _close_quietly(cluster)

    def _setup(self, client: Any) -> None:
        for plugin in self.plugins:
            client.register_plugin(plugin)

    def _run(self, client: Any, fn: Callable[..., list[Any]], batches: list[list[Any]],
             args: tuple[Any, ...]) -> Iterator[tuple[list[Any], list[Any] | None]]:
        """Submit batches with a bounded window in flight; yield (batch, records) as they finish, or
        (one-item batch, None) for an item that kept killing its worker."""
        from distributed import as_completed
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        n_workers = len(client.scheduler_info().get("workers", {})) or self.workers
        todo = list(reversed(batches))
        suspects: list[Any] = []
        for window in (self.window or n_workers * 3, 1):
            ac = as_completed()
            inflight: dict[Any, list[Any]] = {}

            def submit(window: int = window, ac: Any = ac, inflight: dict[Any, list[Any]] = inflight,
                       todo: list[list[Any]] = todo) -> None:
                while todo and len(inflight) < window:
                    b = todo.pop()
                    fut = client.submit(fn, b, *args, pure=False)
                    inflight[fut] = b
                    ac.add(fut)

            submit()
            for fut in ac:
                batch = inflight.pop(fut)
                try:
                    records = fut.result()
                except (KilledWorker, FutureCancelledError):
                    # a worker died under this task (Dask retried it elsewhere first), or it was lost with one
                    records = None
                finally:
                    fut.release()
                if records is not None:
                    yield batch, records
                elif window > 1:
                    suspects.extend(batch)  # the culprit or a bystander: each is tried alone at the end
                else:
                    yield batch, None  # alone on the cluster, and still it killed its worker
                submit()
            # isolate: every suspect alone, one task at a time, so a bystander never dies with the culprit
            todo = [[x] for x in reversed(suspects)]

    # -- collect
    def read_many(self, tasks: list[FileTask], spec: Spec, key: str | None, file_password: str | None,
                  on_result: Callable[[FileTask, dict[str, Any]], None], limits: Any = None) -> None:
        """The reader of :func:`~generator.office.collect.collect` (its ``reader`` argument)."""
        if not tasks:
            return
        size = self.batch or READ_BATCH
        items = [(i, t.path, t.expect_unit, t.sha256) for i, t in enumerate(tasks)]
        batches = [items[i:i + size] for i in range(0, len(items), size)]
        with self.client() as client:
            client.register_plugin(SpecPlugin(spec))
            for batch, records in self._run(client, _read_task, batches, (spec.hash, key, file_password, limits)):
                if records is None:
                    on_result(tasks[batch[0][0]], _crash_doc("读取该文件时工作进程异常退出（文件可能有问题），未能读取"))
                    continue
                for (i, _path, _unit, sha), (got, doc) in zip(batch, records, strict=True):
                    assert got == sha  # records are keyed by content
                    on_result(tasks[i], doc)

    # -- build --units
    def build_units(self, spec: Spec, rows: list[dict[str, Any]], base: Path, key: str | None = None,
                    password: str | None = None, spare_rows: int | None = None) -> Iterator[UnitBuild]:
        """Every unit's workbook, in the order the builds finish (the caller writes them)."""
        from ..office.units import unit_filename

        size = self.batch or BUILD_BATCH
        batches = [rows[i:i + size] for i in range(0, len(rows), size)]
        with self.client() as client:
            client.register_plugin(SpecPlugin(spec))
            for batch, records in self._run(client, _build_task, batches, (spec.hash, str(base), key, password, spare_rows)):
                if records is None:
                    r = batch[0]
                    yield UnitBuild(r["code"], unit_filename(r["code"], r["name"]), problem="生成时工作进程异常退出")
                else:
                    yield from records
