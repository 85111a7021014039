"""A submission's status is a pure function (generator/office/statuses.py): each rule on its own, on
plain rows, no database."""

from __future__ import annotations

from typing import Any

import pytest

from generator.office.statuses import (
    ATTACH,
    DEPT_FORMS,
    DUP,
    ERR,
    PASS,
    TEMPLATE,
    UNREADABLE,
    WARN,
    WRONG_UNIT,
    Case,
    judge,
)


class Tree:
    units = {"430100": None, "430100001": None, "430100002": None, "430100009": None}

    def kids(self, code: str) -> list[str]:
        return ["430100001", "430100002"] if code == "430100" else []

    def is_aggregate(self, code: str) -> bool:
        return code == "430100009"


def sub(**kw: Any) -> dict[str, Any]:
    row = {"id": 2, "unit_code": "430100001", "unit_name": "单位", "expect_unit": None, "duplicate_of": None,
           "usable": 1, "file_name": "a.xlsx", "path": "a.xlsx", "template_version": "2024", "spec_hash": "h",
           "sha256": "ab" * 32, "status": None, "unit": None}
    return {**row, **kw}


def case(row: dict[str, Any], findings: list[tuple[str, str]] = (), orig: dict[str, Any] | None = None,  # type: ignore[assignment]
         units_of: dict[int, str | None] | None = None) -> Case:
    return Case(row, list(findings), orig, units_of or {}, Tree(), "2024", "h")


@pytest.mark.parametrize(("findings", "status", "counts"), [
    ([], PASS, (0, 0, 0)),
    ([("rounding-difference", "info")], PASS, (0, 0, 1)),
    ([("rule-warning", "warning")], WARN, (0, 1, 0)),
    ([("rule-failed", "error"), ("rule-warning", "warning")], ERR, (1, 1, 0)),
    ([("default-key-in-use", "warning")], PASS, (0, 0, 0)),  # the office's set-up, not the unit's file
])
def test_a_readable_report_by_its_findings(findings: list[tuple[str, str]], status: str, counts: tuple[int, int, int]) -> None:
    j = judge(case(sub(), findings))
    assert (j.status, j.unit, j.counts, j.accepted, j.extra) == (status, "430100001", counts, True, [])


def test_a_copy_of_another_units_report_sent_under_this_name() -> None:
    orig = sub(id=1, unit="430100002", unit_code="430100002", path="b.xlsx", received="t")
    j = judge(case(sub(duplicate_of=1, expect_unit="430100001", unit_code="430100002"), orig=orig))
    assert (j.status, j.unit, [f.code for f in j.extra]) == (WRONG_UNIT, "430100001", ["submission-duplicate", "wrong-unit"])
    j = judge(case(sub(duplicate_of=1), orig=orig, units_of={1: "430100002"}))
    assert (j.status, j.unit, [f.code for f in j.extra], j.accepted) == (DUP, "430100002", ["submission-duplicate"], False)


def test_unusable_files_and_attachments() -> None:
    assert judge(case(sub(usable=0, expect_unit="430100001"))).status == UNREADABLE
    j = judge(case(sub(usable=0, file_name="说明.pdf", expect_unit="430100001", unit_code="")))
    assert (j.status, j.unit, j.extra) == (ATTACH, "430100001", [])


def test_templates_of_another_spec_or_year() -> None:
    j = judge(case(sub(spec_hash="old")))
    assert (j.status, [f.code for f in j.extra]) == (TEMPLATE, ["template-version-mismatch"])
    assert judge(case(sub(spec_hash="old"), [("template-outdated", "error")])).extra == []
    assert judge(case(sub(), [("wrong-year", "error")])).status == TEMPLATE


def test_wrong_units_consolidations_and_aggregates() -> None:
    j = judge(case(sub(unit_code="999")))
    assert (j.status, [f.code for f in j.extra]) == (WRONG_UNIT, ["unit-unknown"])
    j = judge(case(sub(unit_code="430100"), [("consolidated-workbook", "warning")]))
    assert (j.status, [f.code for f in j.extra]) == (WRONG_UNIT, ["consolidated-workbook"])
    j = judge(case(sub(unit_code="430100"), [("consolidated-workbook", "warning"), ("department-forms-received", "info")]))
    assert (j.status, j.counts) == (DEPT_FORMS, (0, 0, 1))  # its consolidated-workbook warning does not count
    j = judge(case(sub(unit_code="430100009")))
    assert (j.status, [f.code for f in j.extra]) == (WRONG_UNIT, ["aggregate-unit-report"])
    j = judge(case(sub(unit_code="430100", path="（汇总）/430100"), [("consolidation-submitted", "info")]))
    assert (j.status, j.accepted) == (PASS, True)  # a level's 汇总 is its unit's report


def test_statuses_are_stored_as_codes_and_read_as_labels(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The database holds each status's stable code (schema 4); the store reads it back as the label
    the program and people use. A schema-1 database's labels are turned into codes when it is opened."""
    import shutil
    import sqlite3
    from pathlib import Path

    from generator.office.statuses import STATUS_CODES
    from generator.office.store import SCHEMA_VERSION, Store

    path = tmp_path / "old.sqlite"
    shutil.copy(Path(__file__).parent / "fixtures" / "store-schema-1.sqlite", path)
    with Store(str(path)) as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "4"
        sid = store.submissions()[0]["id"]
        assert [s["status"] for s in store.submissions()] == [PASS] * 5
        store.begin()
        store.update_submission(sid, status=WRONG_UNIT)
        store.commit()
        assert store.submission(sid)["status"] == WRONG_UNIT  # type: ignore[index]
        assert [s["id"] for s in store.submissions_with_status(store.submission(sid)["unit"], WRONG_UNIT)] == [sid]  # type: ignore[index]
    with sqlite3.connect(path) as conn:
        stored = sorted(r[0] for r in conn.execute("SELECT status FROM submissions"))
    assert stored == ["pass"] * 4 + ["wrong_unit"]
    assert len(set(STATUS_CODES.values())) == len(STATUS_CODES)  # one code per status
