"""Benchmark of a collection round: build, read+check, the CLI, collect (local and Dask) and consolidate.

    python bench/run.py [--n 1000] [--sample 200] [--subset 400] [--workdir DIR] [--seed 1] [--no-dask]

Every figure is a ratio to a floor or peer measured in the same run on the same files (this
machine is shared; absolute times move with its load, paired ratios much less). Every timed call,
ours or a floor's or a peer's, runs with the same garbage-collector setting: the cyclic collector
paused, then one collection inside the timing (as the reader and the writer run, gcpause.py).

Units
-----
N units ``4301xxxxx`` under one parent get varied figures from ``bench/synth.py`` with the *wide*
code pool: 项 drawn from ~500 codes over 16 类, up to 40 rows per 科目 section, most units small and
a few large; one in 25 has a figure that breaks a 审核 rule (有错误), one in 50 sends its file twice
under another name (重复). So per-spec memo tables meet as many different 科目 sets as a real round has.

Per workbook (on ``--sample`` of them, evenly spread; ratio = median of per-workbook ratios)
-------------------------------------------------------------------------------------------
* **build** ``writer.build_workbook`` (plan, formulas with cached results, validation, protection,
  fingerprint) vs its *floor*: plain xlsxwriter, in memory, replaying the very cell writes our
  writer made for that unit -- the same strings, numbers, formulas with their cached values, blanks,
  merges, column widths and row heights, with the same formats -- and nothing else.
* **read+check** ``reader.read_workbook`` (every integrity check and 审核 rule) vs
  the *parse floor*: zipfile + lxml parsing every worksheet part and sharedStrings, nothing else;
  the *visit floor*: that parse plus one visit of every cell (address, type, value, shared string);
  openpyxl's plain ``load_workbook`` and its ``read_only=True`` mode (every cell's value iterated);
  python-calamine (Rust; every sheet's values).

Commands
--------
* **CLI**: ``python -m generator read FILE`` and ``python -m generator --help`` vs ``python -c pass``,
  each run 7 times interleaved, medians (the spec cache warm, as after any first run).

Collect (each in a fresh process of its own: ``bench/probe.py`` runs the real CLI in-process and
reports its own peak RSS -- the main process, not the workers)
----------------------------------------------------------------------------------------------
* all files with 2 worker processes into a fresh SQLite database: ``collect_s``; stored bytes per
  file (database pages in use after a checkpoint / files); main-process peak RSS;
* the files of the first N/10 units the same way: ``rss_growth`` = peak RSS at N / at N/10;
* ``--subset`` files with 1 and with 2 worker processes: ``collect_eff`` = files/s with 2 /
  (2 x files/s with 1);
* the same subset on a Dask ``LocalCluster`` of 1 and of 2 workers (started beforehand, so
  cluster start-up is not counted): files/s each;
* then ``consolidate`` of the parent and ``write_outputs`` (the 汇总 workbook, read back).

The last line is machine-readable: ``key=value`` pairs, ratios as ours / theirs (below 1 = faster)::

    read_vs_floor read_vs_visit read_vs_openpyxl read_vs_openpyxl_ro read_vs_calamine build_vs_floor
    cli_read_vs_python cli_help_vs_python collect_eff rss_growth bytes_per_file collect_s
    dask1_fps dask2_fps
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import openpyxl  # noqa: E402
import xlsxwriter  # noqa: E402
import xlsxwriter.worksheet  # noqa: E402
from lxml import etree  # noqa: E402
from synth import synth_dataset  # noqa: E402

from generator.core.catalog import load_spec  # noqa: E402
from generator.core.dataset import Dataset  # noqa: E402
from generator.core.gcpause import gc_paused  # noqa: E402
from generator.core.spec import Spec  # noqa: E402
from generator.office.collect import ERR, PASS, UnitTree, unit_report  # noqa: E402
from generator.office.consolidate import consolidate, write_outputs  # noqa: E402
from generator.office.store import Store  # noqa: E402
from generator.xlsx.reader import read_workbook  # noqa: E402
from generator.xlsx.writer import build_workbook  # noqa: E402

try:  # the writer's worksheet class (formula preparation memoised), if it has one
    from generator.xlsx.writer import _Worksheet as FloorWorksheet  # noqa: E402
except ImportError:
    FloorWorksheet = xlsxwriter.worksheet.Worksheet

try:
    from python_calamine import CalamineWorkbook  # noqa: E402
except ImportError:  # pip install 'juesuan[bench]'
    CalamineWorkbook = None

PARENT = "430100000"
PARENT_NAME = "长沙市示范工业和信息化局"
WARMUP = 5
CLI_RUNS = 7
ERROR_EVERY = 25  # one unit in 25 sends a workbook with a rule error
DUP_EVERY = 50  # one unit in 50 sends its file twice
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@dataclass
class Sample:
    """Per-workbook timings (seconds) of one sampled unit."""

    build: float = 0.0
    build_floor: float = 0.0
    read: float = 0.0
    read_floor: float = 0.0
    read_visit: float = 0.0
    openpyxl: float = 0.0
    openpyxl_ro: float = 0.0
    calamine: float = 0.0


@dataclass
class Run:
    n: int
    files: int = 0
    samples: list[Sample] = field(default_factory=list)
    section_rows: list[int] = field(default_factory=list)
    build_all_s: float = 0.0
    cli: dict[str, float] = field(default_factory=dict)
    collect: dict[str, dict[str, Any]] = field(default_factory=dict)
    dask_fps: dict[int, float] = field(default_factory=dict)
    bytes_per_file: float = 0.0
    consolidate_s: float = 0.0
    outputs_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    readback_problems: int = 0
    consolidated_units: int = 0


# an office's own fingerprint key, as `juesuan key init` gives one: without it every file carries the
# default-key warning (templates built and read with it here; the CLI runs and collect workers get it
# from JUESUAN_KEY)
KEY = "bench-office-key-0f3c9a5e"


def unit_rows(n: int) -> list[tuple[str, str, str]]:
    """(code, name, parent) of the parent and its N units; the first unit is the parent's 本级."""
    rows = [(PARENT, PARENT_NAME, "")]
    for i in range(1, n + 1):
        name = f"{PARENT_NAME}（本级）" if i == 1 else f"长沙市示范单位{i:05d}"
        rows.append((f"4301{i:05d}", name, PARENT))
    return rows


def dataset_for(code: str, name: str, seed: int, broken: bool = False) -> Dataset:
    """Varied figures from the wide code pool: own seed, size from a tenth to five times a typical
    unit; ``broken``: income no longer equals spending (a rule error)."""
    rng = random.Random(seed)
    scale = rng.choice([0.1, 0.3, 0.6, 1.0, 1.0, 1.5, 2.5, 5.0])
    ds = synth_dataset(rng, code, name, scale=scale, pool="wide")
    if broken:
        ds.set("公开01", "1", "1", (ds.get("公开01", "1", "1") or 0) + 100)
    return ds


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds of one call. Every side -- ours, the floors, the peers -- runs with the cyclic garbage
    collector paused and one collection at the end, inside the timing: the setting read_workbook and
    build_workbook give themselves (generator/core/gcpause.py), given to all."""
    t0 = time.perf_counter()
    with gc_paused():
        out = fn()
    return time.perf_counter() - t0, out


# ---------------------------------------------------------------- the build floor: a replay


_RECORDED = ("write_string", "write_number", "write_formula", "write_blank", "merge_range", "set_column", "set_row")


@dataclass
class Script:
    """The cell writes our writer made for one unit, to replay in plain xlsxwriter."""

    formats: list[dict[str, Any]] = field(default_factory=list)
    sheets: list[tuple[str, list[tuple[str, tuple[Any, ...], int | None]]]] = field(default_factory=list)


def record_build(spec: Spec, ds: Dataset) -> Script:
    """Build once more with xlsxwriter's cell-writing methods recorded (outside any timing)."""
    script = Script()
    fmt_index: dict[int, int] = {}
    sheet_calls: dict[str, list[tuple[str, tuple[Any, ...], int | None]]] = {}
    originals = {name: getattr(xlsxwriter.worksheet.Worksheet, name) for name in _RECORDED}
    orig_add_format = xlsxwriter.Workbook.add_format

    def add_format(self: Any, props: dict[str, Any] | None = None) -> Any:
        f = orig_add_format(self, props)
        if props and "xf_index" not in props:  # not xlsxwriter's own default formats
            fmt_index[id(f)] = len(script.formats)
            script.formats.append(dict(props))
        return f

    def recorder(name: str) -> Callable[..., Any]:
        orig = originals[name]

        def call(self: Any, *args: Any) -> Any:
            if self.name not in sheet_calls:
                sheet_calls[self.name] = []
                script.sheets.append((self.name, sheet_calls[self.name]))
            fmt = None
            plain = []
            for a in args:
                if isinstance(a, xlsxwriter.format.Format):
                    fmt = fmt_index.get(id(a))
                    plain.append(None)
                else:
                    plain.append(a)
            sheet_calls[self.name].append((name, tuple(plain), fmt))
            return orig(self, *args)

        return call

    try:
        xlsxwriter.Workbook.add_format = add_format  # type: ignore[method-assign]
        for name in _RECORDED:
            setattr(xlsxwriter.worksheet.Worksheet, name, recorder(name))
        build_workbook(spec, ds, None, KEY)
    finally:
        xlsxwriter.Workbook.add_format = orig_add_format  # type: ignore[method-assign]
        for name, fn in originals.items():
            setattr(xlsxwriter.worksheet.Worksheet, name, fn)
    return script


def build_floor(script: Script) -> bytes:
    """xlsxwriter, in memory: the same formats and cell writes, nothing else -- on the writer's own
    worksheet class (its formula preparation memoised), so the floor has every trick the writer has."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False})
    fmts = [wb.add_format(p) for p in script.formats]
    for name, calls in script.sheets:
        ws = wb.add_worksheet(name, worksheet_class=FloorWorksheet)
        for method, args, fmt in calls:
            if fmt is not None:
                args = tuple(fmts[fmt] if a is None and i == _fmt_pos(method, args) else a for i, a in enumerate(args))
            getattr(ws, method)(*args)
    wb.close()
    return buf.getvalue()


def _fmt_pos(method: str, args: tuple[Any, ...]) -> int:
    """Where the format goes in the call's arguments."""
    return {"write_string": 3, "write_number": 3, "write_formula": 3, "write_blank": 3, "merge_range": 5,
            "set_column": 3, "set_row": 2}[method]


# ---------------------------------------------------------------- read floors and peers


def _sheet_parts(zf: zipfile.ZipFile) -> list[str]:
    return [n for n in zf.namelist()
            if (n.startswith("xl/worksheets/") and n.endswith(".xml")) or n == "xl/sharedStrings.xml"]


def read_floor(path: Path) -> int:
    """The strict floor: open the zip and parse every worksheet and the shared strings."""
    with zipfile.ZipFile(path) as zf:
        roots = [etree.fromstring(zf.read(n)) for n in _sheet_parts(zf)]
    return len(roots)


def read_visit_floor(path: Path) -> int:
    """The parse plus one plain visit of every cell (address, type, value, shared strings looked
    up) -- the least any reader of values must do."""
    c_tag, v_tag, si_tag, t_tag = _MAIN + "c", _MAIN + "v", _MAIN + "si", _MAIN + "t"
    n = 0
    with zipfile.ZipFile(path) as zf:
        names = _sheet_parts(zf)
        shared: list[str] = []
        if "xl/sharedStrings.xml" in names:
            for si in etree.fromstring(zf.read("xl/sharedStrings.xml")).iter(si_tag):
                shared.append("".join(t.text or "" for t in si.iter(t_tag)))
        for name in names:
            if name == "xl/sharedStrings.xml":
                continue
            for c in etree.fromstring(zf.read(name)).iter(c_tag):
                ref, typ, value = c.get("r"), c.get("t"), None
                for ch in c:
                    if ch.tag == v_tag:
                        value = ch.text
                if typ == "s" and value is not None:
                    value = shared[int(value)]
                n += ref is not None
    return n


def openpyxl_ro(path: Path) -> int:
    """openpyxl's read_only mode, every cell's value iterated (its load alone reads nothing)."""
    wb = openpyxl.load_workbook(path, read_only=True)
    n = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            n += len(row)
    wb.close()
    return n


def calamine(path: Path) -> int:
    """python-calamine: every sheet's values."""
    wb = CalamineWorkbook.from_path(str(path))
    return sum(len(wb.get_sheet_by_name(name).to_python()) for name in wb.sheet_names)


# ---------------------------------------------------------------- the phases


def sample_indexes(n: int, size: int) -> set[int]:
    """Evenly spread unit indexes (0-based) of the timed sample."""
    size = max(1, min(n, size))
    step = n / size
    return {int(i * step) for i in range(size)}


def section_rows(ds: Dataset) -> int:
    codes = set(ds.values.get("公开02", {}))
    return len({c[:k] for c in codes for k in (3, 5, 7)})


def warm_up(spec: Spec, work: Path) -> None:
    """Untimed builds and reads so that imports and per-spec caches are warm on every side."""
    d = work / "warmup"
    d.mkdir()
    for i in range(WARMUP):
        ds = dataset_for(f"4309{i:05d}", f"预热单位{i}", 10_000 + i)
        path = d / f"{ds.unit_code}.xlsx"
        build_workbook(spec, ds, path, KEY)
        build_floor(record_build(spec, ds))
        read_workbook(path, key=KEY, spec=spec)
        read_floor(path)
        read_visit_floor(path)
        openpyxl.load_workbook(path)
        openpyxl_ro(path)
        if CalamineWorkbook is not None:
            calamine(path)


def build_and_read(spec: Spec, rows: list[tuple[str, str, str]], folder: Path, sample: set[int], seed: int,
                   run: Run) -> None:
    t0 = time.perf_counter()
    for i, (code, name, _parent) in enumerate(rows[1:]):
        broken = i % ERROR_EVERY == ERROR_EVERY - 1
        ds = dataset_for(code, name, seed + i, broken)
        path = folder / f"{code}.xlsx"
        mtime = 1_700_000_000 + i
        run.section_rows.append(section_rows(ds))
        if i not in sample:
            build_workbook(spec, ds, path, KEY)
        else:
            s = Sample()
            script = record_build(spec, ds)
            s.build, res = timed(lambda ds=ds, path=path: build_workbook(spec, ds, path, KEY))
            if [f for f in res.findings if f.severity == "error"]:
                raise SystemExit(f"{code}: the build reported {res.findings[0].code}")
            s.build_floor, _ = timed(lambda script=script: build_floor(script))
            s.read_floor, _ = timed(lambda path=path: read_floor(path))
            s.read, got = timed(lambda path=path: read_workbook(path, key=KEY, spec=spec))
            problems = sorted({f.code for f in got.findings if f.severity != "info"})
            if broken != (not got.valid or bool(problems)):
                raise SystemExit(f"{code}: the workbook read back {'clean' if not problems else problems}")
            s.read_visit, _ = timed(lambda path=path: read_visit_floor(path))
            s.openpyxl, _ = timed(lambda path=path: openpyxl.load_workbook(path))
            s.openpyxl_ro, _ = timed(lambda path=path: openpyxl_ro(path))
            if CalamineWorkbook is not None:
                s.calamine, _ = timed(lambda path=path: calamine(path))
            run.samples.append(s)
        os.utime(path, (mtime, mtime))
        if i % DUP_EVERY == DUP_EVERY - 2:  # the same file again under another name, later
            again = folder / f"{code}-再次报送.xlsx"
            shutil.copy(path, again)
            os.utime(again, (mtime + 5_000_000, mtime + 5_000_000))
    run.build_all_s = time.perf_counter() - t0
    run.files = len(list(folder.iterdir()))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def cli_times(path: Path, run: Run, work: Path) -> None:
    """python -c pass, juesuan read FILE, juesuan --help: interleaved, medians. With compiled
    bytecode, as an installed package runs (pip compiles it at install time): the warm-up run
    writes it under ``work`` even where PYTHONDONTWRITEBYTECODE is set (this sandbox sets it)."""
    cmds = {"python": [sys.executable, "-c", "pass"],
            "read": [sys.executable, "-m", "generator", "read", str(path)],
            "help": [sys.executable, "-m", "generator", "--help"]}
    env = _env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    got: dict[str, list[float]] = {k: [] for k in cmds}
    for cmd in cmds.values():  # warm: the page cache, the spec cache
        subprocess.run(cmd, env=env, capture_output=True, check=False)
    for _ in range(CLI_RUNS):
        for k, cmd in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=False)
            got[k].append(time.perf_counter() - t0)
    run.cli = {k: statistics.median(v) for k, v in got.items()}


def probe(args: list[str]) -> dict[str, Any]:
    """Run ``juesuan ARGS`` in a fresh process (bench/probe.py); its seconds and its own peak RSS."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "probe.py"), *args], env=_env(), capture_output=True,
                         text=True, check=False)
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if not last.startswith("{"):
        raise SystemExit(f"probe failed: {args}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return json.loads(last)


def link_folder(src: Path, dst: Path, names: list[str]) -> Path:
    dst.mkdir()
    for n in names:
        os.link(src / n, dst / n)
    return dst


def used_bytes(db: Path) -> int:
    """Database pages in use (after folding the WAL in)."""
    conn = sqlite3.connect(str(db))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        count = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        conn.close()
    return int((count - free) * page)


def collect_all(rows: list[tuple[str, str, str]], folder: Path, work: Path, subset: int, dask: bool,
                spec: Spec, run: Run) -> None:
    units = work / "units.csv"
    units.write_text("code,name,parent\n" + "".join(f"{c},{n},{p}\n" for c, n, p in rows), encoding="utf-8")
    names = sorted(p.name for p in folder.iterdir())
    tenth = {c for c, _, _ in rows[1: max(2, len(rows) // 10 + 1)]}
    small = link_folder(folder, work / "tenth", [n for n in names if n[:9] in tenth])
    first = sorted(names)[:subset]
    sub = link_folder(folder, work / "subset", first)

    def go(key: str, src: Path, workers: int) -> None:
        db = work / f"{key}.sqlite"
        run.collect[key] = probe(["collect", str(src), "--units", str(units), "--db", str(db), "--workers",
                                  str(workers), "--report-dir", str(work / f"report-{key}")])
        run.collect[key]["files"] = len(list(src.iterdir()))
        run.collect[key]["bytes"] = used_bytes(db)

    go("all", folder, 2)
    go("tenth", small, 2)
    go("one", sub, 1)
    go("two", sub, 2)
    run.bytes_per_file = run.collect["all"]["bytes"] / run.collect["all"]["files"]
    if dask:
        dask_rates(spec, rows, sub, work, run)


def dask_rates(spec: Spec, rows: list[tuple[str, str, str]], sub: Path, work: Path, run: Run) -> None:
    """Files/s of the subset on a LocalCluster of 1 and of 2 workers, started beforehand."""
    import logging

    from distributed import LocalCluster

    from generator.cluster.daskengine import DaskEngine
    from generator.office.collect import collect

    tree = UnitTree.from_rows(rows)
    files = len(list(sub.iterdir()))
    for k in (1, 2):
        with LocalCluster(n_workers=k, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None, silence_logs=logging.ERROR) as cluster:
            engine = DaskEngine(cluster.scheduler_address)
            with Store(work / f"dask{k}.sqlite") as store:
                t, _ = timed(lambda engine=engine, store=store: collect(store, sub, tree, spec, progress=False,
                                                                        reader=engine.read_many))
        run.dask_fps[k] = files / t


def consolidate_all(spec: Spec, rows: list[tuple[str, str, str]], work: Path, run: Run) -> None:
    tree = UnitTree.from_rows(rows)
    with Store(work / "all.sqlite") as store:
        rep = unit_report(store, tree)
        run.statuses = {k: v for k, v in rep.counts.items() if v}
        run.consolidate_s, cons = timed(lambda: consolidate(store, tree, spec, PARENT, rep=rep))
        run.consolidated_units = len(cons.included)
        run.outputs_s, out = timed(lambda: write_outputs(store, cons, work / f"{PARENT}-汇总.xlsx", key=KEY))
        run.readback_problems = len(out.readback)


# ---------------------------------------------------------------- report


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def _median_ratio(ours: list[float], theirs: list[float]) -> float:
    pairs = [(a, b) for a, b in zip(ours, theirs, strict=True) if b > 0]
    return statistics.median(a / b for a, b in pairs) if pairs else float("nan")


def report(run: Run, spec: Spec, sample_size: int) -> str:
    s = run.samples
    read = [x.read for x in s]
    peers = {"read_vs_floor": "read_floor", "read_vs_visit": "read_visit", "read_vs_openpyxl": "openpyxl",
             "read_vs_openpyxl_ro": "openpyxl_ro", "read_vs_calamine": "calamine"}
    ratios = {k: _median_ratio(read, [getattr(x, a) for x in s]) for k, a in peers.items()}
    ratios["build_vs_floor"] = _median_ratio([x.build for x in s], [x.build_floor for x in s])
    c = run.collect
    one, two = c["one"], c["two"]
    eff = (two["files"] / two["seconds"]) / (2 * one["files"] / one["seconds"])
    rss_growth = c["all"]["peak_rss_mb"] / c["tenth"]["peak_rss_mb"]
    rows_sorted = sorted(run.section_rows)
    sampled = "all" if sample_size >= run.n else f"a sample of {sample_size} (evenly spread)"
    label = {"read_vs_floor": "read+check vs zip+lxml parse", "read_vs_visit": "  vs parse + visit every cell",
             "read_vs_openpyxl": "  vs openpyxl load_workbook", "read_vs_openpyxl_ro": "  vs openpyxl read_only",
             "read_vs_calamine": "  vs python-calamine (values)"}
    lines = [
        f"juesuan benchmark: N={run.n} units ({run.files} files), spec {spec.version} ({spec.hash}), "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        f"科目 section rows per unit: median {statistics.median(rows_sorted):.0f}, "
        f"90th {rows_sorted[int(len(rows_sorted) * 0.9)]}, max {rows_sorted[-1]}",
        f"per-workbook times on {sampled} of the {run.n} workbooks, interleaved with their floors; medians; "
        "ratio = median of per-workbook ratios (ours / theirs)",
        "",
        f"{'':34}{'ours ms':>10}{'theirs ms':>10}{'ratio':>8}",
        f"{'build vs xlsxwriter replay (mem)':34}{_median_ms([x.build for x in s]):10.2f}"
        f"{_median_ms([x.build_floor for x in s]):10.2f}{ratios['build_vs_floor']:8.2f}",
    ]
    for k, a in peers.items():
        theirs = [getattr(x, a) for x in s]
        lines.append(f"{label[k]:34}{_median_ms(read):10.2f}{_median_ms(theirs) if any(theirs) else float('nan'):10.2f}"
                     f"{ratios[k]:8.2f}")
    cli = run.cli
    lines += [
        "",
        f"CLI (median of {CLI_RUNS}): python -c pass {cli['python'] * 1000:.0f} ms; juesuan read FILE "
        f"{cli['read'] * 1000:.0f} ms = {cli['read'] / cli['python']:.2f}x; juesuan --help {cli['help'] * 1000:.0f} ms"
        f" = {cli['help'] / cli['python']:.2f}x",
        f"build of all {run.n}: {run.build_all_s:.1f} s (sampled ones with their floors and reads)",
    ]
    for key, what in (("all", "all files, 2 workers"), ("tenth", "the first N/10 units' files, 2 workers"),
                      ("one", "subset, 1 worker (in-process)"), ("two", "subset, 2 workers")):
        x = c[key]
        lines.append(f"collect {what}: {x['files']} files in {x['seconds']:.1f} s = {x['files'] / x['seconds']:.1f} "
                     f"files/s; main process peak RSS {x['peak_rss_mb']:.0f} MB; {x['bytes'] / x['files'] / 1024:.1f} "
                     "KB stored per file")
    if run.dask_fps:
        lines.append(f"collect subset on Dask LocalCluster: 1 worker {run.dask_fps[1]:.1f} files/s, 2 workers "
                     f"{run.dask_fps[2]:.1f} files/s (efficiency {run.dask_fps[2] / (2 * run.dask_fps[1]):.2f})")
    lines += [
        "statuses " + ", ".join(f"{k} {v}" for k, v in run.statuses.items()),
        f"consolidate {PARENT} ({run.consolidated_units} units): {run.consolidate_s:.2f} s; "
        f"write_outputs (workbook, read back): {run.outputs_s:.2f} s, {run.readback_problems} read-back problems",
        "",
        " ".join(f"{k}={v:.2f}" for k, v in ratios.items())
        + f" cli_read_vs_python={cli['read'] / cli['python']:.2f} cli_help_vs_python={cli['help'] / cli['python']:.2f}"
        f" collect_eff={eff:.2f} rss_growth={rss_growth:.2f} bytes_per_file={run.bytes_per_file:.0f}"
        f" collect_s={c['all']['seconds']:.1f}"
        + (f" dask1_fps={run.dask_fps[1]:.1f} dask2_fps={run.dask_fps[2]:.1f}" if run.dask_fps else ""),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=1000, help="number of unit workbooks (default 1000)")
    ap.add_argument("--sample", type=int, default=200,
                    help="workbooks whose build and read are timed against the floors (default 200)")
    ap.add_argument("--subset", type=int, default=400,
                    help="files collected with 1 and 2 workers, locally and on Dask (default 400)")
    ap.add_argument("--workdir", type=Path, help="keep the files here (default: a temporary folder)")
    ap.add_argument("--seed", type=int, default=1, help="random seed of the first unit's figures")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster rates")
    args = ap.parse_args(argv)
    os.environ["JUESUAN_KEY"] = KEY  # inherited by the CLI runs and the collect workers
    if args.n < 1:
        ap.error("--n must be at least 1")
    spec = load_spec(ROOT / "specs" / "2024")
    with tempfile.TemporaryDirectory(prefix="juesuan-bench-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if any(work.iterdir()):
            ap.error(f"--workdir {work} is not empty")
        folder, scratch = work / "returned", work / "scratch"
        folder.mkdir()
        scratch.mkdir()
        rows = unit_rows(args.n)
        sample = sample_indexes(args.n, args.sample)
        run = Run(args.n)
        warm_up(spec, scratch)
        build_and_read(spec, rows, folder, sample, args.seed, run)
        cli_times(folder / f"{rows[1][0]}.xlsx", run, scratch)
        collect_all(rows, folder, work, min(args.subset, run.files), not args.no_dask, spec, run)
        consolidate_all(spec, rows, work, run)
        print(report(run, spec, len(sample)))
        expected_err = sum(1 for i in range(args.n) if i % ERROR_EVERY == ERROR_EVERY - 1)
        if run.statuses.get(ERR, 0) != expected_err or run.statuses.get(PASS, 0) != args.n - expected_err:
            print(f"warning: unexpected statuses {run.statuses}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
