"""Load on the collection web page: N units upload at once, M files in all, against ``juesuan serve``
on 127.0.0.1 only; every upload's latency from the start of its POST to the result page received.

    python bench/web_load.py [--units 50] [--per-unit 10] [--workers 2]

Each unit is a client of its own (its link, its session, its CSRF token) uploading its files one
after another; all units start together. Every file is distinct (a rule-clean workbook of its unit,
bench/synth.py, then the same saved again at other times), so every upload is read, must end 通过
and be stored once. The last line is the figures:
``uploads=… errors=… stored_once=yes|no p50_ms=… p95_ms=… max_ms=… wall_s=… per_s=…``.
Bounded: at most ``--units`` connections at a time, each request 120 s at most, the whole run
``--deadline`` seconds.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"  # the only address this script sends to


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """``juesuan serve`` in a subprocess on 127.0.0.1, stopped (by its pid) on exit."""

    def __init__(self, db: Path, workers: int = 2, max_upload_mb: int = 20, log: Path | None = None):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = log or db.with_suffix(".log")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.fh = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "generator", "serve", "--db", str(db), "--host", HOST, "--port", str(self.port),
             "--workers", str(workers), "--max-upload-mb", str(max_upload_mb)],
            stdout=self.fh, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.fh.close()
                raise RuntimeError(self.log.read_text(errors="replace"))
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not self.fh.closed:
            self.fh.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def resaved(src: Path, k: int, dst: Path) -> Path:
    """The workbook as its unit saved it again ``k`` minutes later: the same sheets, another
    modification time in docProps/core.xml, so another file (another hash) with the same figures."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "docProps/core.xml":
                stamp = f"2025-03-{1 + k // 1440:02d}T{k // 60 % 24:02d}:{k % 60:02d}:00Z".encode()
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            zout.writestr(info, data)
    return dst


def prepare(workdir: Path, units: int, per_unit: int, seed: int = 7) -> tuple[Path, dict[str, list[Path]]]:
    """A units file (one 汇总 parent, ``units`` units) and ``per_unit`` distinct files per unit: a
    rule-clean synthetic workbook of its own (bench/synth.py) and the same saved again later."""
    from bench.synth import synth_dataset
    from generator.core.catalog import default_specs_dir, load_spec
    from generator.xlsx.writer import build_workbook

    spec = load_spec(default_specs_dir())
    rows = ["code,name,parent,data,kind", "990000,压力测试主管部门,,,汇总"]
    files: dict[str, list[Path]] = {}
    rng = random.Random(seed)
    for i in range(units):
        code, name = f"9900{i + 1:02d}", f"压力测试单位{i + 1:02d}"
        rows.append(f"{code},{name},990000,,")
        folder = workdir / "files" / code
        folder.mkdir(parents=True, exist_ok=True)
        first = folder / f"{code}-第1次.xlsx"
        build_workbook(spec, synth_dataset(random.Random(rng.random()), code, name, spec.year), first)
        files[code] = [first] + [resaved(first, k, folder / f"{code}-第{k + 1}次.xlsx") for k in range(1, per_unit)]
    units_csv = workdir / "units.csv"
    units_csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return units_csv, files


@dataclass
class Upload:
    unit: str
    file: str
    http_status: int
    result: str  # the status the result page shows ('' when none)
    seconds: float
    error: str = ""


_STATUS = re.compile(r'<span id="status" class="[^"]*">([^<]+)</span>')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def run_unit(base: str, link: str, files: list[Path], out: list[Upload], start: threading.Barrier,
             deadline: float) -> None:
    import httpx

    with httpx.Client(base_url=base, follow_redirects=True, timeout=120) as c:
        page = c.get(link)
        start.wait()
        for f in files:
            if time.monotonic() > deadline:
                out.append(Upload(link.split("/")[2], f.name, 0, "", 0.0, "deadline"))
                continue
            m = _CSRF.search(page.text)
            t0 = time.perf_counter()
            try:
                r = c.post(page.url.path + "/upload", data={"csrf": m.group(1) if m else ""},
                           files={"file": (f.name, f.read_bytes(), "application/octet-stream")})
                dt = time.perf_counter() - t0
                s = _STATUS.search(r.text)
                out.append(Upload(link.split("/")[2], f.name, r.status_code, s.group(1) if s else "", dt))
            except httpx.HTTPError as exc:
                out.append(Upload(link.split("/")[2], f.name, 0, "", time.perf_counter() - t0, repr(exc)))


def load(base: str, links: dict[str, str], files: dict[str, list[Path]], deadline_s: float = 600) -> tuple[list[Upload], float]:
    """Every unit at once, each its files in turn; (uploads, wall seconds)."""
    assert base.startswith(f"http://{HOST}:"), base
    out: list[Upload] = []
    start = threading.Barrier(len(files) + 1)
    deadline = time.monotonic() + deadline_s
    threads = [threading.Thread(target=run_unit, args=(base, links[code], fs, out, start, deadline), daemon=True)
               for code, fs in files.items()]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(max(1.0, deadline - time.monotonic() + 5))
    return out, time.perf_counter() - t0


def make_links(db: Path, units_csv: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "generator", "links", "--db", str(db), "--units", str(units_csv),
                          "--base-url", "http://x"], capture_output=True, text=True, check=True, env=env).stdout
    return {code: url.removeprefix("http://x") for code, url in (line.split("\t") for line in out.strip().splitlines())}


def stored_once(db: Path, files: dict[str, list[Path]]) -> tuple[bool, str]:
    """Every file's content stored exactly once, for its unit, 通过; no other submission."""
    import hashlib

    from generator.office.store import Store

    want = {hashlib.sha256(p.read_bytes()).hexdigest(): code for code, fs in files.items() for p in fs}
    with Store(db) as store:
        subs = store.submissions()
        got = [(s["sha256"], s["unit"], s["status"], s["duplicate_of"]) for s in subs]
        evidence = len(list((db.parent / f"{db.stem}-files" / "evidence").rglob("*.bin")))
    problems = []
    if len(got) != len(want) or {g[0] for g in got} != set(want):
        problems.append(f"{len(got)} submissions, {len({g[0] for g in got})} distinct, {len(want)} files sent")
    problems += [f"{sha[:12]} {unit} {status}" for sha, unit, status, dup in got
                 if want.get(sha) != unit or status != "通过" or dup is not None]
    if evidence != len(want):
        problems.append(f"{evidence} evidence files")
    return not problems, "; ".join(problems[:5])


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))] if s else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=50)
    ap.add_argument("--per-unit", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2, help="the server's reader processes")
    ap.add_argument("--deadline", type=float, default=900, help="seconds the uploads may take in all")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="juesuan-load-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    units_csv, files = prepare(work, args.units, args.per_unit)
    print(f"{args.units} units × {args.per_unit} workbooks built in {time.perf_counter() - t0:.1f} s ({work})")
    db = work / "load.sqlite"
    links = make_links(db, units_csv)
    with Server(db, workers=args.workers) as server:
        ups, wall = load(server.url, links, files, args.deadline)
    bad = [u for u in ups if u.http_status != 200 or u.result != "通过" or u.error]
    ok, why = stored_once(db, files)
    lat = [u.seconds * 1000 for u in ups if not u.error]
    print(f"{len(ups)} uploads by {len(files)} units at once in {wall:.1f} s ({len(ups) / wall:.1f}/s), "
          f"server reading with {args.workers} processes")
    print(f"latency upload→result: p50 {pct(lat, 50):.0f} ms, p95 {pct(lat, 95):.0f} ms, max {max(lat, default=0):.0f} ms")
    for u in bad[:5]:
        print(f"  not 通过: {u}")
    print(f"stored exactly once: {'yes' if ok else 'NO: ' + why}")
    print(f"uploads={len(ups)} errors={len(bad)} stored_once={'yes' if ok else 'no'} p50_ms={pct(lat, 50):.0f} "
          f"p95_ms={pct(lat, 95):.0f} max_ms={max(lat, default=0):.0f} wall_s={wall:.1f} per_s={len(ups) / wall:.1f}")


if __name__ == "__main__":
    main()
