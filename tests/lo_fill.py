"""Type values into workbooks in LibreOffice itself (through its UNO API, as a person typing in
Calc would: the cell takes the value, LibreOffice recalculates and saves the file as .xlsx).

Runs the system Python that carries LibreOffice's ``uno`` module (Debian ``python3-uno``) in a
subprocess; :func:`available` says whether it can."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SYSTEM_PYTHON = "/usr/bin/python3"

_SCRIPT = r'''
import json, os, subprocess, sys, time
import uno
from com.sun.star.beans import PropertyValue

jobs_file, profile = sys.argv[1], sys.argv[2]
pipe = "juesuan%d" % os.getpid()
proc = subprocess.Popen(["soffice", "-env:UserInstallation=file://" + profile, "--headless", "--norestore",
                         "--nolockcheck", "--accept=pipe,name=%s;urp;" % pipe],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
local = uno.getComponentContext()
resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
ctx = None
for _ in range(300):
    try:
        ctx = resolver.resolve("uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe)
        break
    except Exception:
        time.sleep(0.2)
if ctx is None:
    proc.kill()
    sys.exit("LibreOffice did not start")
desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)


def pv(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


try:
    for job in json.load(open(jobs_file, encoding="utf-8")):
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(job["src"]), "_blank", 0, (pv("Hidden", True),))
        for sheet, addr, value in job["cells"]:
            cell = doc.Sheets.getByName(sheet).getCellRangeByName(addr)
            if isinstance(value, str):
                cell.setString(value)
            else:
                cell.setValue(value)
        doc.calculateAll()
        doc.storeToURL(uno.systemPathToFileUrl(job["out"]), (pv("FilterName", "Calc MS Excel 2007 XML"),))
        doc.close(True)
finally:
    try:
        desktop.terminate()
    except Exception:
        pass
    try:
        proc.wait(timeout=60)
    except Exception:
        proc.kill()
'''


def available() -> bool:
    if shutil.which("soffice") is None or not Path(SYSTEM_PYTHON).exists():
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True).returncode == 0


def fill_in_libreoffice(jobs: list[tuple[Path, Path, list[tuple[str, str, Any]]]], timeout: int = 600) -> None:
    """Each job: (template, output, [(sheet, "D10", value)]); a str value is typed as text, a
    number as a number. One LibreOffice process for all jobs."""
    with tempfile.TemporaryDirectory(prefix="juesuan-uno-") as tmp:
        jobs_file = Path(tmp) / "jobs.json"
        jobs_file.write_text(json.dumps([{"src": str(Path(s).resolve()), "out": str(Path(o).resolve()), "cells": cells}
                                         for s, o, cells in jobs], ensure_ascii=False), encoding="utf-8")
        script = Path(tmp) / "fill.py"
        script.write_text(_SCRIPT, encoding="utf-8")
        profile = Path(tmp) / "profile"
        profile.mkdir()
        env = {"HOME": tmp, "PATH": "/usr/bin:/bin"}
        subprocess.run([SYSTEM_PYTHON, str(script), str(jobs_file), str(profile)], check=True, capture_output=True,
                       timeout=timeout, env=env)
    for _s, out, _c in jobs:
        if not Path(out).exists():
            raise RuntimeError(f"LibreOffice did not write {out}")
