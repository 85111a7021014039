"""Issue 13: a batch with every kind of hostile file keeps every good submission; each bad file is one
finding with its code (collect exit 1, never a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.core.spec import Spec
from generator.office.collect import PASS, collect, load_tree, unit_report
from generator.office.store import Store
from generator.xlsx.ooxml import OLE_MAGIC

from .test_office_hardening import CODES, UNITS, _returned
from .ziputil import parts, patch_header, rezip, set_cell

S01 = "xl/worksheets/sheet3.xml"


@pytest.mark.slow
def test_batch_of_hostile_files_keeps_every_good_submission(spec: Spec, tmp_path: Path) -> None:
    folder = tmp_path / "returned"
    good = _returned(spec, folder)
    data = good[2].read_bytes()  # 430100002's report: the hostile files are made from it
    p = parts(data)
    bad = folder / "bad"
    bad.mkdir()
    cases = {
        "zip-encrypted": patch_header(data, S01, flags=0x1),
        "zip-unsupported": patch_header(data, S01, method=9),
        "package-ambiguous": rezip(data, add={"XL/Worksheets/Sheet3.xml": p[S01]}),
        "file-has-macros": rezip(data, add={"xl/media/x.png": OLE_MAGIC + "_VBA_PROJECT".encode("utf-16-le")}),
        "xml-doctype": rezip(data, {"xl/sharedStrings.xml": ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x>'
                                                             + p["xl/sharedStrings.xml"].split(b"?>", 1)[1].decode())
                                    .encode("utf-16")}),
        "zip-bomb": rezip(data, {S01: p[S01].replace(b"<sheetData>", b"<sheetData>" + b"<x/>" * 1_000_001)}),
        "not-a-number": rezip(data, {S01: set_cell(p[S01], "C7", '<c r="C7" {s}><v>NaN</v></c>')}),
        "number-format-changed": rezip(data, {"xl/styles.xml": p["xl/styles.xml"].replace(
            b'formatCode="#,##0.00"', b'formatCode="[&lt;0]#,##0.00;&quot;2,222.22&quot;"')}),
        "formula-forbidden": rezip(data, {S01: set_cell(p[S01], "C7", '<c r="C7" {s}><f>SUM(C8)-C8</f><v>1</v></c>')}),
    }
    for code, body in cases.items():
        (bad / f"{code}.xlsx").write_bytes(body)
    tree = load_tree(UNITS)
    with Store(tmp_path / "j.sqlite") as store:
        summary = collect(store, folder, tree, spec, workers=2, progress=False)
        assert summary.read == len(good) + len(cases)
        subs = {s["path"]: s for s in store.submissions()}
        for code in cases:
            got = {f.code for f in store.findings(subs[f"bad/{code}.xlsx"]["id"])}
            assert code in got, (code, got)
            assert subs[f"bad/{code}.xlsx"]["accepted"] == 0 or subs[f"bad/{code}.xlsx"]["status"] == "有错误"
        for g in good:  # every good report stored, read as 通过, counted for its unit
            sub = subs[g.relative_to(folder).as_posix()]
            assert sub["status"] == PASS and sub["accepted"] == 1 and sub["unit"] in CODES
        assert {r.code for r in unit_report(store, tree).rows if r.current is not None} == set(CODES)
