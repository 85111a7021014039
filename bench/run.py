"""Benchmark of a collection round: build, read+check, collect and consolidate N unit workbooks.

    python bench/run.py [--n 1000] [--sample 200] [--workdir DIR] [--seed 1]

Method
------
N units ``4301xxxxx`` under one parent (``430100000``, a 汇总 node whose first child is its 本级)
get varied, rule-clean figures from ``bench/synth.py`` (own random seed and size per unit, one in
four with 政府性基金 spending). Then, in one process and on the same files:

* **build**: ``writer.build_workbook(spec, ds, path)`` for every unit. On a sample of the units
  (``--sample`` of them, evenly spread) the build is timed next to its *floor*: xlsxwriter writing the
  same cells with the same values (every value and cached formula result the built workbook
  holds, taken from it beforehand) to a workbook on disk -- plain: no styles, formulas,
  validation, protection or properties. Whatever the floor does not do (the cell plan, formulas,
  cached results, validation, protection, the structure lock) is our cost.
* **read+check**: ``reader.read_workbook(path, spec=spec)`` (every integrity check and 审核 rule;
  the result must be valid) timed on the same sample, interleaved per workbook with its *floor*:
  a plain pass of zipfile + lxml over the same file (open the zip, read and inflate every worksheet
  part and sharedStrings.xml, ``etree.fromstring`` each -- nothing else), and with openpyxl's plain
  ``load_workbook(path)`` as the naive peer. For context the output also shows a second floor that
  additionally visits every cell (address, type, value, shared string looked up) -- the least any
  reader of values must do -- but the ratio reported is against the strict parse-only floor.
* **collect**: ``collect.collect`` over the folder of all N files with ``os.cpu_count()`` worker
  processes into a fresh SQLite store (timed whole; shown as total and per workbook), then
  ``consolidate.consolidate`` of the parent and ``write_outputs`` (the consolidated workbook,
  read back and checked).

Ratios are ours / theirs, computed per workbook and then the median taken over the sample, so
machine noise during one workbook hits both sides of its ratio. Before timing, a few other
workbooks are built and read untimed so that imports and per-spec memo tables are warm on every
side, as they are in any batch (the generator keeps such tables per spec -- compiled formulas,
rule instances, the layout of tables without a 科目 section -- never anything per file). Peak
memory is the peak RSS (``ru_maxrss``) of this process (also shown after each phase) and of its
children (the collect workers); the larger is reported, so runs at N=100 and N=1000 show whether
memory stays flat as N grows. The last line is machine-readable::

    read_vs_floor=X.XX read_vs_openpyxl=X.XX build_vs_floor=X.XX collect_s=X.X peak_mb=X
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
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
from lxml import etree  # noqa: E402
from synth import synth_dataset  # noqa: E402

from generator.core.catalog import load_spec  # noqa: E402
from generator.core.dataset import Dataset  # noqa: E402
from generator.core.spec import Spec  # noqa: E402
from generator.office.collect import PASS, UnitTree, collect, unit_report  # noqa: E402
from generator.office.consolidate import consolidate, write_outputs  # noqa: E402
from generator.office.store import Store  # noqa: E402
from generator.xlsx.ooxml import open_xlsx  # noqa: E402
from generator.xlsx.reader import read_workbook  # noqa: E402
from generator.xlsx.writer import build_workbook  # noqa: E402

PARENT = "430100000"
PARENT_NAME = "长沙市示范工业和信息化局"
WARMUP = 5
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

# one cell as the floor writer needs it: (row, col, is_number, value)
FloorCell = tuple[int, int, bool, Any]


@dataclass
class Sample:
    """Per-workbook timings (seconds) of one sampled unit."""

    build: float = 0.0
    build_floor: float = 0.0
    read: float = 0.0
    read_floor: float = 0.0
    read_visit: float = 0.0
    openpyxl: float = 0.0


@dataclass
class Run:
    n: int
    samples: list[Sample] = field(default_factory=list)
    build_all_s: float = 0.0
    collect_s: float = 0.0
    consolidate_s: float = 0.0
    outputs_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    readback_problems: int = 0
    consolidated_units: int = 0
    peak_after: dict[str, float] = field(default_factory=dict)  # phase -> this process's peak RSS so far, MB


def unit_rows(n: int) -> list[tuple[str, str, str]]:
    """(code, name, parent) of the parent and its N units; the first unit is the parent's 本级."""
    rows = [(PARENT, PARENT_NAME, "")]
    for i in range(1, n + 1):
        name = f"{PARENT_NAME}（本级）" if i == 1 else f"长沙市示范单位{i:04d}"
        rows.append((f"4301{i:05d}", name, PARENT))
    return rows


def dataset_for(code: str, name: str, seed: int) -> Dataset:
    """Varied figures: own seed, size from a tenth to five times a typical unit."""
    rng = random.Random(seed)
    scale = rng.choice([0.1, 0.3, 0.6, 1.0, 1.0, 1.5, 2.5, 5.0])
    return synth_dataset(rng, code, name, scale=scale)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# ---------------------------------------------------------------- floors


def floor_cells(path: Path) -> list[tuple[str, list[FloorCell]]]:
    """Every sheet's values as the built workbook holds them (cached results for formulas), for the
    build floor to write again. Taken once, outside any timing."""
    book = open_xlsx(path)
    out = []
    for sheet in book.sheets:
        cells: list[FloorCell] = []
        for (r, c), cell in sorted(sheet.cells.items()):
            if cell.value is None or cell.value == "":
                continue
            if cell.type == "n":
                cells.append((r, c, True, float(cell.value)))
            else:
                cells.append((r, c, False, cell.value))
        out.append((sheet.name, cells))
    return out


def build_floor(path: Path, sheets: list[tuple[str, list[FloorCell]]]) -> None:
    """xlsxwriter writing the same cells and values to disk, plain."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    for name, cells in sheets:
        ws = wb.add_worksheet(name)
        for r, c, is_number, value in cells:
            if is_number:
                ws.write_number(r, c, value)
            else:
                ws.write_string(r, c, value)
    wb.close()


def _sheet_parts(zf: zipfile.ZipFile) -> list[str]:
    return [n for n in zf.namelist()
            if (n.startswith("xl/worksheets/") and n.endswith(".xml")) or n == "xl/sharedStrings.xml"]


def read_floor(path: Path) -> int:
    """The strict floor: open the zip and parse every worksheet and the shared strings."""
    with zipfile.ZipFile(path) as zf:
        roots = [etree.fromstring(zf.read(n)) for n in _sheet_parts(zf)]
    return len(roots)


def read_visit_floor(path: Path) -> int:
    """Context only: the parse plus one plain visit of every cell (address, type, value, shared
    strings looked up) -- the least a reader of values must do."""
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


# ---------------------------------------------------------------- the phases


def sample_indexes(n: int, size: int) -> set[int]:
    """Evenly spread unit indexes (0-based) of the timed sample."""
    size = max(1, min(n, size))
    step = n / size
    return {int(i * step) for i in range(size)}


def warm_up(spec: Spec, work: Path) -> None:
    """Untimed builds and reads so that imports and per-spec caches are warm on every side."""
    d = work / "warmup"
    d.mkdir()
    for i in range(WARMUP):
        ds = dataset_for(f"4309{i:05d}", f"预热单位{i}", 10_000 + i)
        path = d / f"{ds.unit_code}.xlsx"
        build_workbook(spec, ds, path)
        build_floor(d / "floor.xlsx", floor_cells(path))
        read_workbook(path, spec=spec)
        read_floor(path)
        read_visit_floor(path)
        openpyxl.load_workbook(path)


def build_and_read(spec: Spec, rows: list[tuple[str, str, str]], folder: Path, scratch: Path, sample: set[int],
                   seed: int, run: Run) -> None:
    t0 = time.perf_counter()
    for i, (code, name, _parent) in enumerate(rows[1:]):
        ds = dataset_for(code, name, seed + i)
        path = folder / f"{code}.xlsx"
        if i not in sample:
            build_workbook(spec, ds, path)
            continue
        s = Sample()
        s.build, res = timed(lambda ds=ds, path=path: build_workbook(spec, ds, path))
        if res.findings:
            raise SystemExit(f"{code}: the build reported {res.findings[0].code}")
        cells = floor_cells(path)
        s.build_floor, _ = timed(lambda cells=cells: build_floor(scratch / "floor.xlsx", cells))
        s.read_floor, _ = timed(lambda path=path: read_floor(path))
        s.read, got = timed(lambda path=path: read_workbook(path, spec=spec))
        if not got.valid or any(f.severity != "info" for f in got.findings):
            codes = sorted({f.code for f in got.findings})
            raise SystemExit(f"{code}: the workbook did not read back clean: {codes}")
        s.read_visit, _ = timed(lambda path=path: read_visit_floor(path))
        s.openpyxl, _ = timed(lambda path=path: openpyxl.load_workbook(path))
        run.samples.append(s)
    run.build_all_s = time.perf_counter() - t0


def collect_and_consolidate(spec: Spec, rows: list[tuple[str, str, str]], folder: Path, work: Path, run: Run) -> None:
    tree = UnitTree.from_rows(rows)
    with Store(work / "juesuan.sqlite") as store:
        run.collect_s, summary = timed(lambda: collect(store, folder, tree, spec, workers=os.cpu_count(),
                                                       progress=False))
        run.peak_after["collect"] = peak_mb()[0]
        if summary.read != run.n:
            raise SystemExit(f"collect read {summary.read} of {run.n} files")
        rep = unit_report(store, tree)
        run.statuses = {k: v for k, v in rep.counts.items() if v}
        run.consolidate_s, cons = timed(lambda: consolidate(store, tree, spec, PARENT, rep=rep))
        run.consolidated_units = len(cons.included)
        run.outputs_s, out = timed(lambda: write_outputs(store, cons, work / f"{PARENT}-汇总.xlsx"))
        run.readback_problems = len(out.readback)
        run.peak_after["consolidate"] = peak_mb()[0]


def peak_mb() -> tuple[float, float]:
    """Peak RSS of this process and of its largest waited-for child, MB (ru_maxrss is KB on Linux)."""
    div = 1024 * 1024 if sys.platform == "darwin" else 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / div
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / div
    return own, kids


# ---------------------------------------------------------------- report


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def _median_ratio(ours: list[float], theirs: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def report(run: Run, spec: Spec, sample_size: int) -> str:
    s = run.samples
    build = [x.build for x in s]
    read = [x.read for x in s]
    ratios = {
        "build_vs_floor": _median_ratio(build, [x.build_floor for x in s]),
        "read_vs_floor": _median_ratio(read, [x.read_floor for x in s]),
        "read_vs_visit": _median_ratio(read, [x.read_visit for x in s]),
        "read_vs_openpyxl": _median_ratio(read, [x.openpyxl for x in s]),
    }
    own, kids = peak_mb()
    sampled = "all" if sample_size >= run.n else f"a sample of {sample_size} (evenly spread)"
    lines = [
        f"juesuan benchmark: N={run.n} unit workbooks, spec {spec.version} ({spec.hash}), "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        f"per-workbook build and read+check timed on {sampled} of the {run.n} workbooks, "
        "interleaved with their floors; medians; ratio = median of per-workbook ratios",
        "",
        f"{'':34}{'ours ms':>10}{'floor ms':>10}{'ratio':>8}",
        f"{'build (xlsxwriter, same values)':34}{_median_ms(build):10.2f}"
        f"{_median_ms([x.build_floor for x in s]):10.2f}{ratios['build_vs_floor']:8.2f}",
        f"{'read+check (zip+lxml parse)':34}{_median_ms(read):10.2f}"
        f"{_median_ms([x.read_floor for x in s]):10.2f}{ratios['read_vs_floor']:8.2f}",
        f"{'  context: parse + visit cells':34}{'':10}{_median_ms([x.read_visit for x in s]):10.2f}"
        f"{ratios['read_vs_visit']:8.2f}",
        f"{'read+check vs openpyxl load':34}{_median_ms(read):10.2f}"
        f"{_median_ms([x.openpyxl for x in s]):10.2f}{ratios['read_vs_openpyxl']:8.2f}",
        "",
        f"build of all {run.n}: {run.build_all_s:.1f} s (sampled ones with their floors and reads)",
        f"collect of all {run.n} ({os.cpu_count()} workers): {run.collect_s:.1f} s = "
        f"{run.collect_s / run.n * 1000:.1f} ms per workbook; statuses "
        + ", ".join(f"{k} {v}" for k, v in run.statuses.items()),
        f"consolidate {PARENT} ({run.consolidated_units} units): {run.consolidate_s:.2f} s; "
        f"write_outputs (workbook, read back): {run.outputs_s:.2f} s, {run.readback_problems} read-back problems",
        f"peak RSS: this process {own:.0f} MB (after "
        + ", ".join(f"{k} {v:.0f}" for k, v in run.peak_after.items()) + f"), collect workers {kids:.0f} MB",
        "",
        f"read_vs_floor={ratios['read_vs_floor']:.2f} read_vs_openpyxl={ratios['read_vs_openpyxl']:.2f} "
        f"build_vs_floor={ratios['build_vs_floor']:.2f} collect_s={run.collect_s:.1f} peak_mb={max(own, kids):.0f}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=1000, help="number of unit workbooks (default 1000)")
    ap.add_argument("--sample", type=int, default=200,
                    help="workbooks whose build and read are timed against the floors (default 200)")
    ap.add_argument("--workdir", type=Path, help="keep the files here (default: a temporary folder)")
    ap.add_argument("--seed", type=int, default=1, help="random seed of the first unit's figures")
    args = ap.parse_args(argv)
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
        run.peak_after["warm-up"] = peak_mb()[0]
        build_and_read(spec, rows, folder, scratch, sample, args.seed, run)
        run.peak_after["build+read"] = peak_mb()[0]
        collect_and_consolidate(spec, rows, folder, work, run)
        print(report(run, spec, len(sample)))
        if run.statuses.get(PASS, 0) != args.n:
            print(f"warning: not every unit is {PASS}: {run.statuses}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
