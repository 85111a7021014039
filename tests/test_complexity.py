"""No function of the package above cyclomatic complexity 25 (radon): a function that grows past it is
split before it is merged (issue 28)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_CC = 25


def test_no_function_of_the_package_is_too_complex() -> None:
    radon = pytest.importorskip("radon.complexity")
    over: set[str] = set()
    for path in sorted((ROOT / "generator").rglob("*.py")):
        for block in radon.cc_visit(path.read_text(encoding="utf-8")):
            items = [block, *getattr(block, "closures", [])]
            if hasattr(block, "methods"):
                items += block.methods
            for b in items:
                if b.complexity > MAX_CC:
                    over.add(f"{path.relative_to(ROOT)}:{b.lineno} {b.fullname} CC {b.complexity}")
    assert sorted(over) == [], "\n".join(sorted(over))
