"""Seeded mutation fuzzing of read_workbook: ``python -m tests.fuzz_read --cases 2000 --seed 13``.

Each case takes the seed's workbook (built here) and applies one seeded mutation -- zip header
fields (flags, method, versions, sizes, CRC, name lengths), random bytes anywhere, truncation,
byte edits inside one XML part, hostile cell values (NaN, 1e308, …), cells without r=, changed
relationship targets, DOCTYPEs, duplicated sheets -- then reads it. It asserts that no exception
escapes, every result has a documented exit code and coded findings, and prints one JSON line:
cases, failures, the slowest case's seconds, the process's peak RSS and the codes seen.
Run under a memory rlimit (``--max-mb``) so a case that blows up memory fails instead of the machine.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import resource
import struct
import sys
import tempfile
import time
import traceback
import zipfile
from collections import Counter
from pathlib import Path

NASTY = ["NaN", "sNaN", "-Infinity", "Infinity", "1e27", "1e308", "-1e308", "1E-400", "9" * 400, "", "0x1F", "١٢٣",
         "1,234.50", " ", "-0", "1e999999999", "TRUE", "#DIV/0!", "<", "\u202e12"]
TARGETS = ["/xl/worksheets/sheet3.xml", "xl/worksheets/sheet3.xml", "../x.xml", "%2e%2e/%2e%2e/x", "worksheets/SHEET3.XML",
           "worksheets/sheet3.xml#frag", "", "worksheets/../worksheets/sheet4.xml", "\\xl\\worksheets\\sheet3.xml"]



def peak_rss_mb() -> float:
    """This process's peak resident memory since it started (VmHWM). Not ru_maxrss: Linux carries the
    forking parent's peak over an exec into it, so under pytest-xdist a worker's memory would count (and
    in bench/probe.py, which uses this too, bench/run.py's own). Elsewhere ru_maxrss (bytes on macOS)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024 * 1024 if sys.platform == "darwin" else 1024)

def rezip(data: bytes, change: dict[str, bytes]) -> bytes:
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change.get(info.filename, zin.read(info.filename)))
    return out.getvalue()


def header_offsets(data: bytes) -> list[tuple[int, int]]:
    """(offset, kind) of every local header (kind 0) and central record (kind 1)."""
    out = [(m.start(), 0) for m in re.finditer(b"PK\x03\x04", data)]
    out += [(m.start(), 1) for m in re.finditer(b"PK\x01\x02", data)]
    out += [(m.start(), 2) for m in re.finditer(b"PK\x05\x06", data)]
    return out


def mutate(data: bytes, parts: dict[str, bytes], rng: random.Random) -> tuple[str, bytes]:
    kind = rng.randrange(8)
    if kind == 0:  # one zip header field
        buf = bytearray(data)
        off, which = rng.choice(header_offsets(data))
        span = {0: 30, 1: 46, 2: 22}[which]
        field = rng.randrange(4, span - 1)
        value = rng.choice([0, 1, 0x20, 0x40, 0x41, 8, 9, 12, 14, 99, 63, 64, 0xFFFF, rng.randrange(65536)])
        struct.pack_into("<H", buf, off + field, value & 0xFFFF)
        return f"zip-header {which}@{field}={value}", bytes(buf)
    if kind == 1:  # random bytes anywhere
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        return "bytes", bytes(buf)
    if kind == 2:
        return "truncate", data[: rng.randrange(len(data))]
    name = rng.choice([n for n in parts if n.endswith((".xml", ".rels"))])
    body = bytearray(parts[name])
    if kind == 3:  # edits inside one XML part
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(max(len(body), 1))
            op = rng.randrange(4)
            chunk = bytes(rng.randrange(256) for _ in range(rng.randint(0, 8)))
            if op == 0:
                body[i:i + len(chunk)] = chunk
            elif op == 1:
                body[i:i] = rng.choice([chunk, b"<", b">", b"&", b'"', b"</c>", b"<c>", b"<v>NaN</v>", b"<!DOCTYPE x>"])
            elif op == 2:
                del body[i:i + 1 + len(chunk)]
            else:
                body = body[:i]
        return f"xml {name}", rezip(data, {name: bytes(body)})
    sheet = rng.choice([n for n in parts if n.startswith("xl/worksheets/")])
    text = parts[sheet]
    if kind == 4:  # hostile values in <v>
        vs = list(re.finditer(rb"<v>[^<]*</v>", text))
        for m in rng.sample(vs, min(len(vs), rng.randint(1, 5))):
            text = text.replace(m.group(0), b"<v>" + rng.choice(NASTY).encode() + b"</v>", 1)
        if rng.random() < 0.3:
            text = re.sub(rb' t="s"', rng.choice([b' t="e"', b' t="b"', b' t="str"', b' t="zz"', b""]), text, count=3)
        return f"values {sheet}", rezip(data, {sheet: text})
    if kind == 5:  # cells/rows without r=, or formulas
        if rng.random() < 0.5:
            text = re.sub(rb' r="[A-Z]*\d+"', lambda m: b"" if rng.random() < 0.3 else m.group(0), text)
        else:
            f = rng.choice([b"SUM(500)", b"SUM(C7)-C7", b"1/0", b"ROUND(1/3,2)", b"x", b"(((((1)))))" * 20, b"9^9^9",
                            b"SUM(" * 60 + b"1" + b")" * 60, b"[1]S!A1"])
            text = re.sub(rb"<v>([^<]*)</v>", lambda m: (b"<f>" + f + b"</f>" + m.group(0)) if rng.random() < 0.1 else m.group(0),
                          text)
        return f"cells {sheet}", rezip(data, {sheet: text})
    if kind == 6:  # relationship targets
        rels = parts["xl/_rels/workbook.xml.rels"]
        targets = list(re.finditer(rb'Target="[^"]*"', rels))
        m = rng.choice(targets)
        rels = rels.replace(m.group(0), b'Target="' + rng.choice(TARGETS).encode() + b'"', 1)
        return "rels", rezip(data, {"xl/_rels/workbook.xml.rels": rels})
    # kind 7: workbook.xml sheets: duplicates, states, many entries; styles
    wb = parts["xl/workbook.xml"]
    sheets = re.findall(rb"<sheet [^>]*/>", wb)
    extra = b"".join(rng.choice(sheets) for _ in range(rng.choice([1, 2, 10, 80])))
    wb = wb.replace(b"</sheets>", extra + b"</sheets>") if rng.random() < 0.5 else re.sub(
        rb'state="[^"]*"', b'state="' + rng.choice([b"visible", b"hidden", b"veryHidden", b"x"]) + b'"', wb)
    styles = parts["xl/styles.xml"].replace(b'formatCode="#,##0.00"', rng.choice(
        [b'formatCode="#,##0.00"', b'formatCode="&quot;1&quot;"', b'formatCode="[&lt;0]0;0"', b'formatCode=""']))
    return "workbook", rezip(data, {"xl/workbook.xml": wb, "xl/styles.xml": styles})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--max-mb", type=int, default=1500, help="address-space limit of this process")
    args = ap.parse_args(argv)
    if args.max_mb:
        lim = args.max_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    from generator.core.catalog import load_spec
    from generator.core.dataset import load_dataset
    from generator.xlsx.reader import read_workbook
    from generator.xlsx.writer import build_workbook

    root = Path(__file__).resolve().parent.parent
    spec = load_spec(root / "specs" / "2024")
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-"))
    seed_path = tmp / "seed.xlsx"
    build_workbook(spec, load_dataset(root / "specs" / "samples" / "seed-2024.json"), seed_path)
    data = seed_path.read_bytes()
    z = zipfile.ZipFile(io.BytesIO(data))
    parts = {i.filename: z.read(i) for i in z.infolist()}
    rng = random.Random(args.seed)
    codes: Counter[str] = Counter()
    exits: Counter[int] = Counter()
    failures: list[str] = []
    slowest = (0.0, "")
    target = tmp / "case.xlsx"
    for case in range(args.cases):
        what, mutated = mutate(data, parts, rng)
        target.write_bytes(mutated)
        t0 = time.perf_counter()
        try:
            res = read_workbook(target, spec=spec)
            ok = res.exit_code in (0, 1, 2) and all(f.code and f.message for f in res.findings) and (
                res.findings or res.exit_code == 0)
            if not ok:
                failures.append(f"case {case} ({what}): bad result {res.exit_code} {[f.code for f in res.findings][:5]}")
            exits[res.exit_code] += 1
            codes.update({f.code for f in res.findings})
        except BaseException as exc:  # noqa: BLE001 - what the fuzz is looking for
            failures.append(f"case {case} ({what}): {type(exc).__name__}: {exc}\n{traceback.format_exc()[-800:]}")
        dt = time.perf_counter() - t0
        if dt > slowest[0]:
            slowest = (dt, f"case {case} ({what})")
    rss_mb = peak_rss_mb()
    print(json.dumps({"cases": args.cases, "failures": failures[:20], "failed": len(failures),
                      "slowest_seconds": round(slowest[0], 3), "slowest": slowest[1], "peak_rss_mb": round(rss_mb, 1),
                      "exits": dict(exits), "codes": dict(codes.most_common())}, ensure_ascii=False))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
