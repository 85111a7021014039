"""Differential fuzz of read_workbook: ``python -m tests.fuzz_diff --cases 2000 --seed 24 --lo-sample 60``.

Each case takes the seed's filled workbook and applies one seeded mutation to the values of one sheet
-- a number written in another form (``2.12885E3``, ``+2128.85``, `` 2128.85 ``) or in a form a
spreadsheet does not read as that number (``2_128.85``, full-width or Arabic-Indic digits, an NBSP,
``1,234``, hex), another value (with every cached result removed, or kept and now stale), another cell
type (``t="s"/"str"/"b"/"e"/"inlineStr"/"d"``), a formula typed into an input cell (``=1E-999999``,
``=ROUND(10/3,2)``, ``=１+1``), a cell given twice, cells without ``r=``, CDATA, character references and
comments inside ``<v>`` -- then reads it. Every read that exits 0 must show the same figures as an
independent reading:

- **openpyxl** (``data_only``: the values and cached results the file holds), for every figure cell
  that has one;
- **LibreOffice** (the file opened, every formula recalculated, saved again, read with openpyxl) for a
  sample of the cases that exit 0 (``--lo-sample``), every figure cell.

No silent disagreement: a figure that differs is a failure. Prints one JSON line: cases, exits, how
many were compared with each reading, the disagreements (first 20), the slowest case, peak RSS, the
largest findings JSON of one file.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.fuzz_read import peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent

# forms of a number a spreadsheet reads as that number
SAME = [lambda v: f"{Decimal(v):E}", lambda v: "+" + v, lambda v: "0" + v, lambda v: v + ("0" if "." in v else ".0"),
        lambda v: f" {v} ", lambda v: f"\n{v}\t", lambda v: f"{float(v):.17g}"]
# forms Python's Decimal or float would take but a spreadsheet does not
LO_BATCH = 20  # files per LibreOffice run
FULL = str.maketrans("0123456789.", "０１２３４５６７８９．")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
HOSTILE = [lambda v: v[:1] + "_" + v[1:] if len(v) > 1 else v + "_0", lambda v: v.translate(FULL),
           lambda v: v.translate(ARABIC), lambda v: "\u00a0" + v, lambda v: v + "\u00a0", lambda v: "\u2007" + v,
           lambda v: "1," + v, lambda v: v.replace(".", ","), lambda v: hex(int(float(v))), lambda v: v + "x",
           lambda v: v.replace(".", "٫"), lambda v: "\u202e" + v, lambda v: v + "\u200b", lambda v: v + "e",
           lambda v: "0b1", lambda v: "Infinity", lambda v: "nan", lambda v: "1e999", lambda v: "--" + v]
VALUES = ["0", "1", "12.5", "100.25", "2128.85", "99999999999.99", "1E-300", "1E-999999", "0.005", "-3", "1e14",
          "123456789012345.6", "0.1000000000000000055511151231257827", "95.290000000000006", "7E2"]
FORMULAS = ["1+2", "SUM(1,2.5)", "ROUND(10/3,2)", "1E-999999", "2128.85", "１+1", "10%", "-(-5)", "1/3", "2_0+1",
            "SUM(C7)", "1e-5*1e-5", "(((7)))"]
XMLISH = ["<![CDATA[{v}]]>", "&#x31;{v}", "{v}<!-- c -->1", "<!-- c -->{v}", "{v}&#160;"]


def rezip(data: bytes, change: dict[str, bytes]) -> bytes:
    """The package with parts replaced; stored (not deflated): fast, and the same for every reader."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change.get(info.filename, zin.read(info.filename)))
    return out.getvalue()


_CACHED = re.compile(rb"(<c [^>]*>)(<f>[^<]*</f>)<v>[^<]*</v>(</c>)")


def strip_cached(parts: dict[str, bytes]) -> dict[str, bytes]:
    """Every formula's cached result removed (a tool that does not calculate saved it): allowed."""
    return {n: _CACHED.sub(rb"\1\2\3", b) for n, b in parts.items() if n.startswith("xl/worksheets/")}


class Base:
    """The seed's filled workbook, its parts, its figure cells and what openpyxl shows in it."""

    def __init__(self, tmp: Path):
        from generator.core.catalog import load_spec
        from generator.core.dataset import load_dataset
        from generator.core.layout import a1
        from generator.xlsx.reader import read_workbook
        from generator.xlsx.writer import build_workbook

        from .xlsxparts import sheet_parts

        self.spec = load_spec(ROOT / "specs" / "2024")
        path = tmp / "seed.xlsx"
        build_workbook(self.spec, load_dataset(ROOT / "specs" / "samples" / "seed-2024.json"), path)
        self.data = path.read_bytes()
        z = zipfile.ZipFile(io.BytesIO(self.data))
        self.parts = {i.filename: z.read(i) for i in z.infolist()}
        res = read_workbook(path, spec=self.spec)
        assert res.exit_code == 0, [f.code for f in res.findings]
        self.plan = res.plan
        self.part_of = sheet_parts(self.data)
        self.inputs: dict[str, list[str]] = {}  # sheet -> refs of its input amount cells
        for sp in self.plan.sheets:
            refs = [a1(r, c) for (r, c), cell in sorted(sp.cells.items()) if cell.kind == "input"]
            if refs:
                self.inputs[sp.name] = refs
        self.figs = {f: (sheet, a1(r, c)) for f, (sheet, r, c) in self.plan.fig_cells.items()}
        self.shown = openpyxl_values(path, {s for s, _ in self.figs.values()})
        self.formula_refs = {(sp.name, a1(r, c)) for sp in self.plan.sheets for (r, c), cell in sp.cells.items()
                             if cell.kind == "formula"}

    def shown_without(self, sheet: str, stripped: bool) -> dict[tuple[str, str], Any]:
        """What openpyxl shows in the base, but for ``sheet`` (read anew) and, when the cached
        results were stripped, for every formula cell (it then shows none)."""
        return {k: v for k, v in self.shown.items()
                if k[0] != sheet and not (stripped and k in self.formula_refs)}


def cell_xml(body: bytes, ref: str) -> re.Match[bytes] | None:
    return re.search(rb'<c r="' + ref.encode() + rb'"([^>]*?)(/>|>(.*?)</c>)', body, re.S)


def value_of(m: re.Match[bytes]) -> str | None:
    v = re.search(rb"<v>([^<]*)</v>", m.group(3) or b"")
    return v.group(1).decode() if v else None


def put(body: bytes, m: re.Match[bytes], new: str) -> bytes:
    style = re.search(rb's="\d+"', m.group(1))
    new_b = new.replace("{s}", style.group(0).decode() if style else "").encode()
    return body[:m.start()] + new_b + body[m.end():]


def mutate(base: Base, rng: random.Random) -> tuple[str, bytes, bool, str, set[str]]:
    """(what, bytes, caches stripped, the sheet changed, its cells given a formula without a cached result)."""
    sheet = rng.choice(list(base.inputs))
    part = base.part_of[sheet]
    body = base.parts[part]
    refs = base.inputs[sheet]
    kind = rng.randrange(8)
    strip = kind >= 2 and rng.random() < 0.6
    what = ""
    uncached: set[str] = set()
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        ref = rng.choice(refs)
        m = cell_xml(body, ref)
        if m is None:
            continue
        v = value_of(m) or rng.choice(VALUES)
        try:
            float(v)
        except ValueError:
            v = "1"
        if kind == 0:
            new = rng.choice(SAME)(v)
            body = put(body, m, f'<c r="{ref}" {{s}}><v>{new}</v></c>')
        elif kind == 1:
            new = rng.choice(HOSTILE)(v)
            body = put(body, m, f'<c r="{ref}" {{s}}><v>{new}</v></c>')
        elif kind == 2:
            new = rng.choice(VALUES + [str(rng.randrange(10**6)) + "." + str(rng.randrange(100))])
            body = put(body, m, f'<c r="{ref}" {{s}}><v>{new}</v></c>')
        elif kind == 3:
            t = rng.choice(["s", "str", "b", "e", "inlineStr", "d", "zz", "n"])
            new = rng.choice([v, "0", "1", "TRUE", "#N/A", "2024-01-01"])
            inner = f"<is><t>{new}</t></is>" if t == "inlineStr" else f"<v>{new}</v>"
            body = put(body, m, f'<c r="{ref}" {{s}} t="{t}">{inner}</c>')
        elif kind == 4:
            f = rng.choice(FORMULAS)
            cached = rng.choice(["", "<v>3</v>", f"<v>{v}</v>"])
            body = put(body, m, f'<c r="{ref}" {{s}}><f>{f}</f>{cached}</c>')
            new = "=" + f
            uncached.add(ref)  # openpyxl shows a formula's cached result only: none when stripped or absent
        elif kind == 5:
            new = rng.choice(VALUES)
            body = body[:m.end()] + f'<c r="{ref}" {m.group(1).decode().strip()}><v>{new}</v></c>'.encode() + body[m.end():]
        elif kind == 6:
            row = re.search(rb'<row r="' + re.sub(r"[A-Z]+", "", ref).encode() + rb'"[^>]*>.*?</row>', body, re.S)
            if row is not None:
                cut = re.sub(rb' r="[A-Z]+\d+"', b"", row.group(0))
                body = body[:row.start()] + cut + body[row.end():]
            new = "no-r"
        else:
            new = rng.choice(XMLISH).format(v=v)
            body = put(body, m, f'<c r="{ref}" {{s}}><v>{new}</v></c>')
        what += f" {sheet}!{ref}={new[:20]!r}"
    change = {part: body}
    if strip:
        stripped = strip_cached({**base.parts, **change})
        change.update(stripped)
    return f"kind {kind}{' nocache' if strip else ''}:{what}", rezip(base.data, change), strip, sheet, uncached


def _dec(v: Any) -> Decimal | None:
    if v is None or v == "":
        return Decimal(0)
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    return None


def same(ours: Decimal, theirs: Decimal) -> bool:
    return abs(ours - theirs) <= max(Decimal("1e-6"), abs(theirs) * Decimal("1e-12"))


def openpyxl_values(path: Path, sheets: set[str]) -> dict[tuple[str, str], Any]:
    """Every cell value openpyxl shows (data_only: cached results) on ``sheets``, by (sheet, A1)."""
    import openpyxl

    wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
    out: dict[tuple[str, str], Any] = {}
    try:
        for name in sheets:
            if name not in wb.sheetnames:
                continue
            for row in wb[name].iter_rows():
                for cell in row:
                    if getattr(cell, "coordinate", None) is not None and cell.value is not None:
                        out[(name, cell.coordinate)] = cell.value
    finally:
        wb.close()
    return out


def compare(base: Base, res: Any, shown: dict[tuple[str, str], Any], every: bool,
            skip: set[tuple[str, str]] | None = None) -> list[str]:
    """Figures that differ between our reading and the other one. ``every``: a figure cell without a
    value there counts as 0 (LibreOffice recalculated everything); else it has no independent value
    (a formula whose cached result was removed) and is skipped."""
    diffs = []
    projects = {t: {r.split(":", 1)[0] for r in rows if ":" in r} for t, rows in res.values.items()}
    for f, (sheet, ref) in base.figs.items():
        if ":" in f.row and f.row.split(":", 1)[0] not in projects.get(f.table, set()):
            cell = base.plan.sheet(sheet).cells.get(_rc(ref))
            if cell is not None and cell.kind == "formula":
                continue  # a blank project sheet (nothing typed: not a project) shows its constant 分值 only
        ours = res.values.get(f.table, {}).get(f.row, {}).get(f.col, Decimal(0))
        if (sheet, ref) not in shown:
            cell = base.plan.sheet(sheet).cells.get(_rc(ref))
            if not every and ((cell is not None and cell.kind == "formula") or (sheet, ref) in (skip or set())):
                continue
            theirs: Decimal | None = Decimal(0)
        else:
            theirs = _dec(shown[(sheet, ref)])
        if theirs is None or not same(ours, theirs):
            diffs.append(f"{sheet}!{ref} ({f.table} {f.row} {f.col}): ours {ours}, theirs {shown.get((sheet, ref))!r}")
    return diffs


def _rc(ref: str) -> tuple[int, int]:
    from generator.xlsx.ooxml import parse_ref

    return parse_ref(ref)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=24)
    ap.add_argument("--lo-sample", type=int, default=60, help="cases that exit 0 recalculated by LibreOffice (0: none)")
    ap.add_argument("--max-mb", type=int, default=1500, help="address-space limit of this process")
    args = ap.parse_args(argv)
    if args.max_mb:
        lim = args.max_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    from generator.xlsx.reader import read_workbook

    tmp = Path(tempfile.mkdtemp(prefix="fuzz-diff-"))
    base = Base(tmp)
    sheets = {s for s, _ in base.figs.values()}
    rng = random.Random(args.seed)
    exits: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    failures: list[str] = []
    compared_openpyxl = 0
    unreadable_openpyxl: list[str] = []
    lo_cases: list[tuple[int, str, Path, Any]] = []
    lo_procs: list[subprocess.Popen[bytes]] = []
    lo_started = 0
    lo_dir = tmp / "lo"
    lo_kinds: Counter[str] = Counter()
    per_kind = -(-args.lo_sample // 8) + 2
    slowest = (0.0, "")
    max_json = 0
    for case in range(args.cases):
        what, data, strip, sheet, uncached = mutate(base, rng)
        path = tmp / f"case{case:05d}.xlsx"
        path.write_bytes(data)
        t0 = time.perf_counter()
        try:
            res = read_workbook(path, spec=base.spec)
        except BaseException as exc:  # noqa: BLE001 - what the fuzz is looking for
            failures.append(f"case {case} ({what}): {type(exc).__name__}: {exc}")
            continue
        dt = time.perf_counter() - t0
        if dt > slowest[0]:
            slowest = (dt, f"case {case} ({what[:80]})")
        exits[res.exit_code] += 1
        kinds[what.split(":")[0] + f" -> {res.exit_code}"] += 1
        max_json = max(max_json, len(json.dumps([f.to_dict() for f in res.findings], ensure_ascii=False).encode()))
        if res.exit_code != 0:
            path.unlink()
            continue
        try:
            # openpyxl reads the changed sheet of this file; every other sheet is byte for byte the
            # base's (less its cached results when they were stripped), read by openpyxl once
            shown = {**base.shown_without(sheet, strip), **openpyxl_values(path, {sheet})}
        except Exception as exc:  # noqa: BLE001 - recorded: no independent reading of a file we took
            unreadable_openpyxl.append(f"case {case} ({what[:120]}): {type(exc).__name__}: {str(exc)[:100]}")
            shown = None
        if shown is not None:
            compared_openpyxl += 1
            diffs = compare(base, res, shown, every=False, skip={(sheet, r) for r in uncached})
            if diffs:
                failures.append(f"case {case} ({what[:160]}) openpyxl: {diffs[:3]}")
        kind = what.split(":")[0].split()[1]
        if len(lo_cases) < args.lo_sample and lo_kinds[kind] < per_kind:  # a sample spread over the kinds
            lo_kinds[kind] += 1
            lo_cases.append((case, what, path, res))
        else:
            path.unlink()
        pending = lo_cases[lo_started:]
        if len(pending) >= LO_BATCH and (not lo_procs or lo_procs[-1].poll() is not None):
            # LibreOffice recalculates a batch while the fuzz goes on (one run at a time)
            lo_procs.append(_start_lo([p for _, _, p, _ in pending], lo_dir / str(len(lo_procs))))
            lo_started = len(lo_cases)
    compared_lo = 0
    lo_error = ""
    if lo_procs:
        lo_procs[-1].wait(timeout=900)
    if lo_cases[lo_started:]:
        lo_procs.append(_start_lo([p for _, _, p, _ in lo_cases[lo_started:]], lo_dir / str(len(lo_procs))))
    for proc in lo_procs:
        try:
            proc.wait(timeout=900)
        except subprocess.TimeoutExpired:
            proc.kill()
            lo_error = "LibreOffice timed out"
    if lo_cases:
        for case, what, path, res in lo_cases:
            out = next((d / path.name for d in lo_dir.glob("*") if (d / path.name).exists()), lo_dir / path.name)
            if not out.exists():
                lo_error = lo_error or f"LibreOffice did not write {out.name}"
                continue
            compared_lo += 1
            diffs = compare(base, res, openpyxl_values(out, sheets), every=True)
            if diffs:
                failures.append(f"case {case} ({what[:160]}) LibreOffice: {diffs[:3]}")
    rss_mb = peak_rss_mb()
    print(json.dumps({"cases": args.cases, "exits": dict(exits), "compared_openpyxl": compared_openpyxl,
                      "openpyxl_unreadable": len(unreadable_openpyxl), "openpyxl_unreadable_first": unreadable_openpyxl[:5],
                      "compared_libreoffice": compared_lo, "libreoffice_kinds": dict(sorted(lo_kinds.items())),
                      "libreoffice_error": lo_error,
                      "failed": len(failures), "failures": failures[:20], "slowest_seconds": round(slowest[0], 3),
                      "slowest": slowest[1], "peak_rss_mb": round(rss_mb, 1), "max_findings_json_bytes": max_json,
                      "kinds": dict(sorted(kinds.items()))}, ensure_ascii=False))
    return 1 if failures else 0


def _start_lo(paths: list[Path], outdir: Path) -> subprocess.Popen[bytes]:
    """LibreOffice converting (recalculating) ``paths`` into ``outdir``, in the background."""
    import os
    import shutil

    from generator.xlsx.libreoffice import _XCU, soffice

    exe = soffice()
    if exe is None:
        raise SystemExit("LibreOffice (soffice) not found")
    outdir.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="juesuan-lo-"))
    (profile / "user").mkdir()
    (profile / "user" / "registrymodifications.xcu").write_text(_XCU, encoding="utf-8")
    env = dict(os.environ, HOME=str(profile))
    del shutil
    return subprocess.Popen([exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore", "--nolockcheck",
                             "--convert-to", "xlsx", "--outdir", str(outdir), *map(str, paths)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


if __name__ == "__main__":
    sys.exit(main())
