"""The seeded mutation fuzz of read_workbook (tests/fuzz_read.py), 2,000 cases, in its own process under
a memory rlimit: no exception escapes, every case ends in a result, each within the time bound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = 2000
MAX_CASE_SECONDS = 10.0  # one case, on a shared 2-core machine (a normal read takes ~0.03 s)
MAX_RSS_MB = 600  # the fuzzing process's peak; the rlimit (address space) is 1.5 GB


def test_fuzz_2000_mutated_workbooks_never_raise_and_stay_bounded() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("JUESUAN_LIMITS", None)
    proc = subprocess.run([sys.executable, "-m", "tests.fuzz_read", "--cases", str(CASES), "--seed", "13",
                           "--max-mb", "1500"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and report["failed"] == 0, report["failures"]
    assert report["cases"] == CASES and sum(report["exits"].values()) == CASES
    assert report["slowest_seconds"] < MAX_CASE_SECONDS, report["slowest"]
    assert report["peak_rss_mb"] < MAX_RSS_MB
    # the mutations reach every layer: zip, XML, values, package structure
    for code in ("file-corrupt-zip", "xml-malformed", "not-a-number", "package-ambiguous", "zip-unsupported"):
        assert code in report["codes"], code
    assert "file-unreadable-structure" not in report["codes"], "an unexpected exception inside the checks"
