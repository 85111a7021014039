"""bench/publish.py still runs end to end and ends with its line of figures (no timing asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_publish_bench_runs_and_ends_with_the_figures_line(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "publish.py"), "--repeat", "1", "--items", "0",
                          "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=600, check=True).stdout
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"pdf_s=\d+\.\d\d pdf_vs_floor=\d+\.\d\d docx_s=\d+\.\d\d docx_vs_floor=\d+\.\d\d "
                        r"check_s=\d+\.\d\d check_vs_floor=\d+\.\d\d", last), last
    assert (tmp_path / "seed.pdf").is_file() and (tmp_path / "seed.docx").is_file()
