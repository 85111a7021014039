"""The reader's identity check (generator/xlsx/checks/identity.py) on its own: the seed's identity
is believed and gives the plan; each way the recorded identity can be wrong is its one finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.core.layout import META, META_FIELDS
from generator.core.spec import Spec
from generator.xlsx.checks import Unusable, identity

from .checks_helpers import check_findings, codes, put, seed_book


def test_the_seed_is_who_it_says_and_gives_the_plan(spec: Spec, seed_path: Path) -> None:
    reading, found = check_findings(seed_book(seed_path), spec, identity)
    assert found == []
    assert reading.plan is not None and reading.plan.spec is spec
    assert (reading.ds.unit_code, reading.ds.year, reading.units, reading.kind) == (reading.plan.unit_code, 2024, 1, "")


def test_without_a_key_the_built_in_one_is_said(spec: Spec, seed_path: Path) -> None:
    _, found = check_findings(seed_book(seed_path), spec, identity, key="")
    assert codes(found) == ["default-key-in-use"]


def test_properties_removed_is_a_warning_only(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    book.custom = {}
    assert codes(check_findings(book, spec, identity)[1]) == ["doc-properties-missing"]


def test_properties_that_disagree_with_the_sheet(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    book.custom["juesuan.unit_code"] = "999999999"
    found = check_findings(book, spec, identity)[1]
    assert codes(found) == ["identity-mismatch"] and found[0].actual == "999999999"


def test_an_edited_unit_on_the_sheet_breaks_the_fingerprint(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    book.custom = {}
    put(book, META, META_FIELDS.index("unit_name"), 1, "别的单位", "s")
    assert codes(check_findings(book, spec, identity)[1]) == ["doc-properties-missing", "fingerprint-mismatch"]


def test_expected_unit_and_year(spec: Spec, seed_path: Path) -> None:
    found = check_findings(seed_book(seed_path), spec, identity, expect_unit="1", expect_year=2023)[1]
    assert codes(found) == ["wrong-unit", "wrong-year"]


def test_no_identity_at_all_is_unusable(spec: Spec, seed_path: Path) -> None:
    book = seed_book(seed_path)
    book.custom = {}
    book.sheets = [s for s in book.sheets if s.name != META]
    with pytest.raises(Unusable) as exc:
        check_findings(book, spec, identity)
    assert codes(exc.value.findings) == ["not-a-template"]


def test_an_unknown_version_is_unusable(spec: Spec, seed_path: Path, tmp_path: Path) -> None:
    book = seed_book(seed_path)
    book.custom = {}
    put(book, META, META_FIELDS.index("version"), 1, "1999", "s")
    with pytest.raises(Unusable) as exc:
        check_findings(book, spec, identity, spec_dirs=[tmp_path])
    assert codes(exc.value.findings) == ["doc-properties-missing", "template-version-unknown"]
