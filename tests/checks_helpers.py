"""What the tests of the reader's checks share: the seed's workbook parsed once, a reading brought up
to the check under test (every check before it run), and that one check's findings."""

from __future__ import annotations

import copy
from pathlib import Path
from types import ModuleType

from generator.core.findings import Finding
from generator.core.layout import DEFAULT_KEY
from generator.core.spec import Spec
from generator.xlsx.checks import PIPELINE, Reading
from generator.xlsx.ooxml import RawBook, RawCell, open_xlsx

_BOOKS: dict[str, RawBook] = {}


def seed_book(path: Path) -> RawBook:
    """The seed's workbook as the parser gives it (a fresh copy each time: tests change it)."""
    key = str(path)
    if key not in _BOOKS:
        _BOOKS[key] = open_xlsx(path)
    return copy.deepcopy(_BOOKS[key])


def reading_before(book: RawBook, spec: Spec, module: ModuleType, **kw: object) -> Reading:
    """A reading of ``book`` with every check before ``module`` run."""
    reading = Reading(book, "seed.xlsx", spec=spec, key=str(kw.pop("key", DEFAULT_KEY)), **kw)  # type: ignore[arg-type]
    for m in PIPELINE:
        if m is module:
            break
        reading.findings.extend(m.check(reading))
    return reading


def check_findings(book: RawBook, spec: Spec, module: ModuleType, **kw: object) -> tuple[Reading, list[Finding]]:
    """The findings ``module``'s check yields on ``book`` (and the reading after it)."""
    reading = reading_before(book, spec, module, **kw)
    found: list[Finding] = []
    for f in module.check(reading):
        reading.findings.append(f)
        found.append(f)
    return reading, found


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def put(book: RawBook, sheet: str, r: int, c: int, value: str | None, type_: str = "n",
        formula: str | None = None) -> None:
    """Set one cell of the parsed book (0-based row and column)."""
    raw = book.sheet(sheet)
    assert raw is not None
    old = raw.cells.get((r, c))
    raw.cells[(r, c)] = RawCell(r, c, type_, value, formula, old.style if old else 0)
