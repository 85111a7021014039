"""LibreOffice headless: recalculate and re-save workbooks (tests, and `juesuan recalc`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(src: Path, outdir: Path, fmt: str = "xlsx", timeout: int = 180) -> Path:
    """Open ``src`` in LibreOffice (recalculating every formula on load) and save it as ``fmt``."""
    return convert_many([src], outdir, fmt, timeout)[0]


def convert_many(srcs: list[Path], outdir: Path, fmt: str = "xlsx", timeout: int = 600) -> list[Path]:
    """:func:`convert` for many files in one LibreOffice run (their stems must differ)."""
    exe = soffice()
    if exe is None:
        raise RuntimeError("LibreOffice (soffice) not found")
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="juesuan-lo-") as profile:
        user = Path(profile) / "user"
        user.mkdir(parents=True)
        (user / "registrymodifications.xcu").write_text(_XCU, encoding="utf-8")
        env = dict(os.environ, HOME=profile)
        cmd = [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore", "--nolockcheck",
               "--convert-to", fmt, "--outdir", str(outdir), *map(str, srcs)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout, env=env)
    outs = [outdir / (src.stem + "." + fmt.split(":")[0]) for src in srcs]
    for out in outs:
        if not out.exists():
            raise RuntimeError(f"LibreOffice did not write {out}")
    return outs
