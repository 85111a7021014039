"""Issue 24, the third hardening round: what a spreadsheet shows is what is stored, one file cannot
blow up a round, the office session and keys are safe. One test per class of the issue, named after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from generator.xlsx.reader import read_workbook

from .xlsxparts import edit_part, sheet_part
from .ziputil import set_cell

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- 1. digit forms


def _set_v(path: Path, sheet: str, ref: str, cell_xml: str) -> None:
    """Replace the cell ``ref`` of ``sheet`` by ``cell_xml`` (``{s}`` = its style attribute)."""
    edit_part(path, sheet_part(path, sheet), lambda body: set_cell(body, ref, cell_xml))


@pytest.mark.parametrize("form", ["2_128.85", "２１２８.８５", "٢١٢٨.٨٥", "\u00a02128.85", "2128.85\u00a0", "\u20072128.85",
                                  "2128.8\u0665", "+2128.85e0_0"])
def test_digit_forms_not_read_as_numbers(form: str, seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    """公开01表 C7 holding a number in a form Excel and LibreOffice do not read as that number
    (underscore, full-width, Arabic-Indic digits, NBSP around it) is not stored as the number: it is
    the text it is, an error at its cell, counted 0 as the spreadsheet counts it."""
    clean = read_workbook(seed_xlsx, spec=spec)
    assert clean.exit_code == 0 and clean.values["公开01"]["1"]["1"] == Decimal("2128.85")
    _set_v(seed_xlsx, "公开01表", "C7", f'<c r="C7" {{s}}><v>{form}</v></c>')
    res = read_workbook(seed_xlsx, spec=spec)
    assert res.exit_code == 1
    at = [f for f in res.findings if f.cell == "公开01表!C7"]
    assert at and at[0].code in ("not-a-number", "number-as-text") and at[0].severity == "error", at
    assert res.values.get("公开01", {}).get("1", {}).get("1") in (None, Decimal(0))


def test_digit_forms_in_input_formulas_and_cached_results(seed_xlsx: Path, spec) -> None:  # type: ignore[no-untyped-def]
    """The same forms inside a typed formula are refused, and as a formula's cached result they are stale."""
    from generator.core.cellformula import FormulaRefused, evaluate

    for f in ("=２１２８.８５", "=2_128.85", "=١+1"):
        with pytest.raises(FormulaRefused):
            evaluate(f)
    assert evaluate("=2128.85") == Decimal("2128.85")
    from generator.xlsx.reader import number_value

    for ok in ("2128.85", "-1", "+1.5E+3", ".5", "5.", "1e-5"):
        assert number_value(ok) == Decimal(ok)
    for bad in ("2_128.85", "２１２８.８５", "1,234", "\u00a01", "1\u3000", "0x1F", "1.2.3", "", "e5", "1e", "NaN", "Infinity"):
        with pytest.raises(ArithmeticError):
            number_value(bad)


# ---------------------------------------------------------------- 2. finding amplification


def _tiny_formulas(src: Path, out: Path, spec, n: int = 150) -> Path:  # type: ignore[no-untyped-def]
    """``=1E-999999`` typed into ``n`` input cells (the red team's 69 KB file)."""
    from generator.core.layout import plan_workbook  # noqa: F401 - the plan comes with the build

    res = read_workbook(src, spec=spec)
    wb = openpyxl.load_workbook(src)
    k = 0
    for sp in res.plan.sheets:
        for (r, c), cell in sorted(sp.cells.items()):
            if cell.kind == "input" and k < n:
                wb[sp.name].cell(row=r + 1, column=c + 1).value = "=1E-999999"
                k += 1
    assert k == n
    wb.save(out)
    return out


def _read_in_subprocess(path: Path, *extra: str) -> tuple[int, int, float]:
    """``juesuan read --json`` of one file in its own process: (exit code, bytes of JSON, peak RSS MB)."""
    code = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True); "
            "sys.stderr.write(p.stderr.decode('utf-8', 'replace')[-2000:]); "
            "r = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
            "print(p.returncode, len(p.stdout), r / 1024)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "generator", "read", str(path), "--json",
                           *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    rc, size, rss = proc.stdout.split()
    return int(rc), int(size), float(rss)


def test_finding_amplification_bounded(seed_xlsx: Path, spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``=1E-999999`` in 150 input cells: every message field bounded (a number shown with at most 20
    significant digits, a text excerpt at most 200 characters), the file's findings JSON under 2 MB,
    the read under 500 MB RSS, the value what a spreadsheet computes (0)."""
    bad = _tiny_formulas(seed_xlsx, tmp_path / "tiny.xlsx", spec)
    res = read_workbook(bad, spec=spec)
    assert res.usable and res.findings
    for f in res.findings:
        assert len(f.message) <= 600 and len(f.expected or "") <= 200 and len(f.actual or "") <= 200, f.code
    blob = json.dumps(res.to_json(), ensure_ascii=False)
    assert len(blob.encode()) < 2_000_000
    assert all(len(v) < 60 for cols in res.to_json()["values"].values() for row in cols.values() for v in row.values())
    rc, size, rss = _read_in_subprocess(bad)
    assert rc in (0, 1) and size < 2_000_000 and rss < 500, (rc, size, rss)


def test_finding_fields_bounded_whatever_they_are_given() -> None:
    from generator.core.findings import Finding
    from generator.core.money import shown

    f = Finding("x", "error", "说" * 10**6, expected="9" * 10**6, actual="a" * 300,
                extra={"cells": list(range(10**5)), "t": "b" * 10**5})
    assert len(f.message) <= 600 and len(f.expected) <= 200 and len(f.actual) <= 200
    assert len(f.extra["cells"]) <= 100 and len(f.extra["t"]) <= 200
    assert shown(Decimal("1E-300")) == "1.0000000000000000000E-300"
    assert shown(Decimal(1) / Decimal(3)).startswith("3.333333333333333333") and len(shown(Decimal(1) / 3)) < 30
    assert shown(Decimal("2128.85")) == "2128.85"
