"""The seeded mutation fuzz of read_workbook (tests/fuzz_read.py), 2,000 cases, in its own process under
a memory rlimit: no exception escapes, every case ends in a result, each within the time bound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = 2000
MAX_CASE_SECONDS = 10.0  # one case, on a shared 2-core machine (a normal read takes ~0.03 s)
MAX_RSS_MB = 600  # the fuzzing process's peak; the rlimit (address space) is 1.5 GB


@pytest.mark.slow
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


DIFF_CASES = 2000
LO_SAMPLE = 60


@pytest.mark.libreoffice
@pytest.mark.slow
def test_differential_fuzz_every_clean_read_shows_what_a_spreadsheet_shows() -> None:
    """tests/fuzz_diff.py: 2,000 seeded mutations of the seed's filled workbook (number forms, hostile
    digit forms, values, cell types, typed formulas, cells given twice, cells without r=, XML inside
    <v>); every read that exits 0 shows the same figures as openpyxl's reading of the file (values and
    cached results) and, for a sample of 60 spread over the kinds, as LibreOffice's recalculation. No
    silent disagreement; the fuzzing process stays under 500 MB and a file's findings under 2 MB."""
    import pytest

    from generator.xlsx.libreoffice import soffice

    if soffice() is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice is not installed; .ci/run installs it")
        pytest.skip("LibreOffice (soffice) is not installed")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("JUESUAN_LIMITS", None)
    proc = subprocess.run([sys.executable, "-m", "tests.fuzz_diff", "--cases", str(DIFF_CASES), "--seed", "24",
                           "--lo-sample", str(LO_SAMPLE), "--max-mb", "1500"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1800)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and report["failed"] == 0, report["failures"]
    assert report["cases"] == DIFF_CASES and sum(report["exits"].values()) == DIFF_CASES
    assert report["compared_openpyxl"] == report["exits"].get("0", 0) >= 300  # every clean read compared
    assert report["openpyxl_unreadable"] == 0, report["openpyxl_unreadable_first"]
    assert report["compared_libreoffice"] >= 50 and not report["libreoffice_error"]
    assert len(report["libreoffice_kinds"]) == 8  # the sample covers every kind of mutation
    assert report["peak_rss_mb"] < 500 and report["max_findings_json_bytes"] < 2_000_000
    assert report["slowest_seconds"] < MAX_CASE_SECONDS, report["slowest"]
