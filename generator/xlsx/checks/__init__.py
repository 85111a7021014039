"""The reader's checks, in the order they run (:data:`PIPELINE`).

Each is a module with one ``check(reading) -> Iterable[Finding]`` (see :mod:`.reading`): identity
(what the file says it is; establishes the plan), structure (sheets, protection, merges, names),
cells (every planned cell by its kind; the figures typed in), spare rows (科目 a unit added),
formulas (recomputed, compared), display (formats, hidden data), rules (审核), indicators (绩效), and
last the outdated-template verdict, which revises what came before.
"""

from __future__ import annotations

from types import ModuleType

from . import cells, display, formulas, identity, indicators, outdated, rules, spare, structure
from .reading import Check, Reading, Unusable

# the modules, each with its ``check``, looked up when it runs (a test may put another in its place)
PIPELINE: tuple[ModuleType, ...] = (identity, structure, cells, spare, formulas, display, rules, indicators, outdated)


def run(reading: Reading, pipeline: tuple[ModuleType, ...] = PIPELINE) -> None:
    """Every check in order, each finding appended as it comes (so what runs later sees it)."""
    for module in pipeline:
        check: Check = module.check
        for finding in check(reading):
            reading.findings.append(finding)


__all__ = ["PIPELINE", "Check", "Reading", "Unusable", "run"]
