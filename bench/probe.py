"""Run one ``juesuan`` command in this process and print, as the last line, a JSON object with its
wall time, exit code and this process's peak RSS (the command's main process: worker processes are
children and not counted). For bench/run.py.

    python bench/probe.py collect DIR --units units.csv --db x.sqlite
"""

from __future__ import annotations

import io
import json
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fuzz_read import peak_rss_mb  # noqa: E402 - VmHWM, the command's own peak (one helper for bench and fuzz)


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


if __name__ == "__main__":
    main()
