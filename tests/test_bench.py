"""The benchmark script still runs end to end and ends with its one line of figures (no timing
is asserted: speed is measured by bench/run.py, not by tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_runs_and_ends_with_the_figures_line(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--n", "3", "--subset", "3", "--no-dask",
                          "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=600, check=True).stdout
    last = out.strip().splitlines()[-1]
    keys = ["read_vs_floor", "read_vs_visit", "read_vs_openpyxl", "read_vs_openpyxl_ro", "read_vs_calamine",
            "build_vs_floor", "cli_read_vs_python", "cli_help_vs_python", "collect_eff", "rss_growth",
            "bytes_per_file", "collect_s"]
    got = dict(pair.split("=") for pair in last.split())
    assert list(got) == keys, last
    assert all(re.fullmatch(r"\d+(\.\d+)?", v) for v in got.values()), last
    assert "statuses 通过 3" in out and "0 read-back problems" in out
    assert len(list(tmp_path.rglob("*.xlsx"))) >= 3
