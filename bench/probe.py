"""Run one ``juesuan`` command in this process and print, as the last line, a JSON object with its
wall time, exit code and this process's peak RSS (the command's main process: worker processes are
children and not counted). For bench/run.py.

    python bench/probe.py collect DIR --units units.csv --db x.sqlite
"""

from __future__ import annotations

import io
import json
import resource
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    from generator.cli import cli

    t0 = time.perf_counter()
    code = 0
    with redirect_stdout(io.StringIO()):
        try:
            cli.main(args=sys.argv[1:], prog_name="juesuan", standalone_mode=False)
        except SystemExit as exc:
            code = int(exc.code or 0)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "exit": code, "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started (VmHWM). Not ru_maxrss: Linux carries the
    forking parent's peak over an exec into it, so it said the benchmark's own memory (bench/run.py
    builds and reads in its process) rather than the command's -- as tests/fuzz_read.py found."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024 * 1024 if sys.platform == "darwin" else 1024)


if __name__ == "__main__":
    main()
