"""Read a returned workbook back: identity, structure, formula integrity, values, 审核 rules.

Nothing is trusted: the layout is recomputed from the spec and the workbook's recorded identity,
every cell of every sheet is compared with it, figures come only from input cells and every derived
figure is recomputed. Every problem is a Finding; a file that cannot be used at all yields
``usable=False`` (exit 2), never an exception. The checks themselves are the pipeline of
:mod:`generator.xlsx.checks`; this module opens the file, runs them and shapes the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.dataset import Dataset, Values
from ..core.findings import ERROR, WARNING, Finding, exit_code, has_errors, sort_findings
from ..core.gcpause import gc_paused
from ..core.layout import CODES, COVER, COVER_FIELDS, LayoutError, WorkbookPlan
from ..core.money import fmt
from ..core.rules import RuleResult
from ..core.spec import Spec
from . import checks
from .checks.cells import MAX_COVER_TEXT, MAX_EXPLAIN_TEXT, MAX_NAME_TEXT, MAX_NOTE_TEXT, input_formula
from .checks.display import format_problem
from .checks.reading import Reading, Unusable
from .checks.rules import rule_cells
from .ooxml import Limits, XlsxError, open_xlsx
from .values import MAX_AMOUNT, normalize_formula, number_value
from .values import cell_text as _cell_text
from .values import parse_number as _parse_number


@dataclass
class ReadResult:
    path: str
    usable: bool
    findings: list[Finding] = field(default_factory=list)
    template: dict[str, str] = field(default_factory=dict)
    dataset: Dataset | None = None
    values: Values = field(default_factory=dict)
    plan: WorkbookPlan | None = None
    results: list[RuleResult] = field(default_factory=list)
    spec: Spec | None = None

    @property
    def valid(self) -> bool:
        return self.usable and not has_errors(self.findings)

    @property
    def exit_code(self) -> int:
        return exit_code(self.usable, self.findings)

    def to_json(self) -> dict[str, Any]:
        ds = self.dataset or Dataset()
        return {
            "file": self.path,
            "usable": self.usable,
            "valid": self.valid,
            "template": self.template,
            "unit": {"code": ds.unit_code, "name": ds.unit_name},
            "year": ds.year,
            "values": {t: {r: {c: fmt(v) for c, v in cols.items()} for r, cols in rows.items()}
                       for t, rows in self.values.items()},
            "names": ds.names,
            "notes": ds.notes,
            "cover": ds.cover,
            "explanations": ds.explanations,
            "texts": ds.texts,
            "findings": [f.to_dict() for f in self.findings],
        }


def _xlsx_finding(exc: XlsxError, path: str) -> Finding:
    """The unit's Chinese sentence; the library's own words, if any, kept for the office in extra."""
    return Finding(exc.code, ERROR, exc.message, file=path, extra={"exception": exc.detail} if exc.detail else {})


def read_workbook(
    path: str | Path,
    spec_dirs: list[Path] | None = None,
    key: str | None = None,
    expect_unit: str | None = None,
    expect_year: int | None = None,
    file_password: str | None = None,
    limits: Limits | None = None,
    spec: Spec | None = None,
) -> ReadResult:
    """Read one returned workbook with every check (:mod:`generator.xlsx.checks`, in order). Whatever
    the file holds, the answer is a :class:`ReadResult`, never an exception. (The cyclic garbage
    collector is paused meanwhile, :mod:`generator.core.gcpause`.)"""
    with gc_paused():
        return _read_workbook(str(path), spec_dirs, key, expect_unit, expect_year, file_password, limits, spec)


def _read_workbook(path: str, spec_dirs: list[Path] | None, key: str | None, expect_unit: str | None,
                   expect_year: int | None, file_password: str | None, limits: Limits | None,
                   spec: Spec | None) -> ReadResult:
    limits = limits or Limits()
    try:
        book = open_xlsx(path, limits, file_password)
    except XlsxError as exc:
        return ReadResult(path, False, [_xlsx_finding(exc, path)])
    except Exception as exc:  # noqa: BLE001 - the batch boundary: whatever a file does, it is that file's finding
        # the unit reads a Chinese sentence; what went wrong inside is kept for the office (extra)
        return ReadResult(path, False, [Finding("file-corrupt", ERROR, "文件已损坏，无法读取；请用下发的模板重新填报后报送",
                                                file=path, extra={"exception": f"{type(exc).__name__}: {exc}"})])
    reading = Reading(book, path, spec_dirs, key, expect_unit, expect_year, spec)
    try:
        res = _read(reading)
    except XlsxError as exc:
        res = ReadResult(path, False, reading.findings + [_xlsx_finding(exc, path)])
    except LayoutError as exc:  # our own words (a 科目 no code list has, …): said as they are
        res = ReadResult(path, False, reading.findings + [
            Finding("file-unreadable-structure", ERROR, f"工作簿无法按模板排布，无法读取：{exc}", file=path)])
    except Exception as exc:  # noqa: BLE001 - the batch boundary: a malformed file is a finding, never a traceback
        res = ReadResult(path, False, reading.findings + [
            Finding("file-unreadable-structure", ERROR, "工作簿的内容组织得不像下发的模板，无法读取；请用下发的模板重新填报后报送",
                    file=path, extra={"exception": f"{type(exc).__name__}: {exc}"})])
    res.findings = cap_findings(res.findings, limits.max_findings)
    return res


def cap_findings(findings: list[Finding], limit: int) -> list[Finding]:
    """At most ``limit`` findings per file (errors first); the rest summed up in one finding by code,
    so one hostile file cannot flood the report or the database."""
    if len(findings) <= limit:
        return findings
    ordered = sort_findings(findings)
    kept, dropped = ordered[: max(limit - 1, 0)], ordered[max(limit - 1, 0):]
    by_code: dict[str, int] = {}
    for f in dropped:
        by_code[f.code] = by_code.get(f.code, 0) + 1
        summary = "，".join(f"{c} {n} 条" for c, n in sorted(by_code.items(), key=lambda kv: -kv[1])[:10])
    kept.append(Finding("findings-truncated", WARNING, f"问题过多：只列出前 {len(kept)} 条，另有 {len(dropped)} 条未逐条列出（{summary}）",
                        actual=str(len(findings)), extra={"dropped": by_code}))
    return kept


def _read(reading: Reading) -> ReadResult:
    try:
        checks.run(reading)
    except Unusable as exc:
        return ReadResult(reading.path, False, exc.findings)
    figures = reading.the_figures
    return ReadResult(reading.path, True, reading.findings, reading.template, reading.ds, figures.all_values(),
                      reading.plan, reading.results, reading.spec)


__all__ = ["ReadResult", "read_workbook", "normalize_formula", "number_value", "format_problem", "rule_cells",
           "input_formula", "cap_findings", "COVER", "COVER_FIELDS", "CODES", "MAX_AMOUNT", "MAX_COVER_TEXT",
           "MAX_NOTE_TEXT", "MAX_EXPLAIN_TEXT", "MAX_NAME_TEXT", "_cell_text", "_parse_number"]
