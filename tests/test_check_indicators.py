"""The reader's indicators check (generator/xlsx/checks/indicators.py) on its own: the 附件's 绩效
indicators scored against their weights, each finding at the indicator's cell."""

from __future__ import annotations

from pathlib import Path

from generator.core.spec import Spec
from generator.xlsx.checks import indicators

from .checks_helpers import check_findings, codes, put, seed_book

REVERSE = ["indicator-reverse-proportional"] * 6  # the seed's own (its 自评 scores them so)



def test_the_seed_indicators(spec: Spec, seed_path: Path) -> None:
    assert codes(check_findings(seed_book(seed_path), spec, indicators)[1]) == REVERSE


def test_a_score_over_its_weight_at_its_cell(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    put(book, "附件2", 17, 7, "11")  # 指标 1: 分值 10
    found = check_findings(book, spec, indicators)[1]
    # an over-score is not also judged against the indicator's results (the reverse-proportional note)
    assert codes(found) == ["indicator-score-over", *REVERSE[1:]] and found[0].cell == "附件2!H18"
