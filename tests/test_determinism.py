"""The same inputs give the same file, whatever the clock says: a build never reads the time.

Each build runs under a frozen clock (time-machine patches ``datetime.now``, ``time.time`` and
``time.localtime``, which xlsxwriter and zipfile would use); two builds under clocks years apart
must be byte-identical, and the document and zip times must be the fixed ones."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
import time_machine

from generator.core.dataset import Dataset
from generator.xlsx.writer import build_workbook

from .dump import dump_workbook

CLOCKS = [dt.datetime(2026, 12, 3, 9, 15, 0, tzinfo=dt.UTC), dt.datetime(2031, 6, 15, 13, 37, 42, tzinfo=dt.UTC)]


def _build_at(clock: dt.datetime, spec, ds: Dataset, path: Path) -> bytes:  # type: ignore[no-untyped-def]
    with time_machine.travel(clock, tick=False):
        assert dt.datetime.now(dt.UTC) == clock  # the clock really is frozen there
        return build_workbook(spec, ds, path).data


@pytest.mark.slow
def test_build_is_byte_identical_under_two_different_clocks(spec, seed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = _build_at(CLOCKS[0], spec, seed, tmp_path / "a.xlsx")
    b = _build_at(CLOCKS[1], spec, seed, tmp_path / "b.xlsx")
    assert a == b
    assert dump_workbook(tmp_path / "a.xlsx") == dump_workbook(tmp_path / "b.xlsx")


def test_document_and_zip_times_are_the_fixed_ones(spec, seed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _build_at(CLOCKS[1], spec, seed, tmp_path / "a.xlsx")
    with zipfile.ZipFile(tmp_path / "a.xlsx") as zf:
        core = zf.read("docProps/core.xml").decode()
        stamps = {i.date_time for i in zf.infolist()}
    # the document is dated the first day after its year, not the day it was built
    assert "<dcterms:created xsi:type=\"dcterms:W3CDTF\">2025-01-01T00:00:00Z</dcterms:created>" in core
    assert "<dcterms:modified xsi:type=\"dcterms:W3CDTF\">2025-01-01T00:00:00Z</dcterms:modified>" in core
    assert "2031" not in core and stamps == {(1980, 1, 1, 0, 0, 0)}
    dump = dump_workbook(tmp_path / "a.xlsx")["_workbook"]
    assert "2025-01-01T00:00:00Z" in dump and "zip times: (1980, 1, 1, 0, 0, 0)" in dump


def test_blank_template_is_byte_identical_under_two_clocks(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ds = Dataset(unit_code="430001999", unit_name="空白单位", year=2024)
    assert _build_at(CLOCKS[0], spec, ds, tmp_path / "a.xlsx") == _build_at(CLOCKS[1], spec, ds, tmp_path / "b.xlsx")
