"""The benchmark script still runs end to end and ends with its one line of figures (no timing
is asserted: speed is measured by bench/run.py, not by tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_runs_and_ends_with_the_figures_line(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--n", "3", "--workdir", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"read_vs_floor=\d+\.\d\d read_vs_openpyxl=\d+\.\d\d build_vs_floor=\d+\.\d\d "
                        r"collect_s=\d+\.\d peak_mb=\d+", last), last
    assert "statuses 通过 3" in out and "0 read-back problems" in out
    assert len(list(tmp_path.rglob("*.xlsx"))) >= 3
