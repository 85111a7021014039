"""Indicators: the 附件's 绩效 indicators (targets, results, scores) checked against the spec's
scoring rules, each finding at the indicator's cell."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.expr import Fig, a1
from ...core.findings import Finding
from ...core.indicators import check_indicators
from .reading import Reading


def check(reading: Reading) -> Iterator[Finding]:
    plan = reading.the_plan

    def locate_fig(table: str, row: str, col: str) -> str | None:
        pos = plan.fig_cells.get(Fig(table, row, col))
        return f"{pos[0]}!{a1(pos[1], pos[2])}" if pos else None

    yield from check_indicators(plan.spec, reading.inputs, reading.ds.texts, locate_fig)
