"""Workbooks as Excel writes them, built here from the XML since Excel is not at hand: shared
(filled-down) formulas, numbers printed with 17 significant digits, a calcChain part, ``_xlfn.``
prefixes, and input cells holding an allowed formula with its cached result. Each must read back
exactly as the workbook we wrote, with nothing new reported.

The shared formulas are grouped with openpyxl's formula Translator (an implementation independent
of the reader's ``shift_formula``): a run of cells down a column whose formulas are the first one's
moved by their row offset is written as Excel does, the first cell carrying the text, ``t="shared"``,
``ref`` and ``si``, the others only ``<f t="shared" si="…"/>``.
"""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path

from lxml import etree
from openpyxl.formula.translate import Translator

from generator.xlsx.ooxml import parse_ref
from generator.xlsx.reader import read_workbook

from .xlsxparts import M, rezip, sheet_parts

NS = {"m": M}


def _a1(r: int, c: int) -> str:
    name = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        name = chr(65 + rem) + name
    return f"{name}{r + 1}"


def share_formulas(xml: bytes) -> tuple[bytes, int]:
    """The sheet with every fill-down run of formulas written as one shared formula; the count of
    followers (cells that carry no formula text of their own)."""
    root = etree.fromstring(xml)
    cells = {}
    for c in root.iter(f"{{{M}}}c"):
        f = c.find("m:f", NS)
        if f is not None and f.text:
            cells[parse_ref(c.get("r"))] = (c, f)
    followers = 0
    si = 0
    done: set[tuple[int, int]] = set()
    for (r, col) in sorted(cells, key=lambda rc: (rc[1], rc[0])):
        if (r, col) in done:
            continue
        c0, f0 = cells[(r, col)]
        master = "=" + f0.text
        run = [(r, col)]
        nxt = r + 1
        while (nxt, col) in cells and (nxt, col) not in done:
            want = Translator(master, origin=_a1(r, col)).translate_formula(_a1(nxt, col))
            if "=" + cells[(nxt, col)][1].text != want:
                break
            run.append((nxt, col))
            nxt += 1
        if len(run) < 2:
            continue
        f0.set("t", "shared")
        f0.set("ref", f"{_a1(r, col)}:{_a1(run[-1][0], col)}")
        f0.set("si", str(si))
        for rc in run[1:]:
            _c, f = cells[rc]
            f.text = None
            f.set("t", "shared")
            f.set("si", str(si))
            followers += 1
        done.update(run)
        si += 1
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), followers


def seventeen_digits(xml: bytes) -> tuple[bytes, int]:
    """Every number printed the way Excel stores a double: up to 17 significant digits
    (95.29 -> 95.290000000000006)."""
    root = etree.fromstring(xml)
    changed = 0
    for c in root.iter(f"{{{M}}}c"):
        v = c.find("m:v", NS)
        if c.get("t", "n") == "n" and v is not None and v.text:
            long = format(float(v.text), ".17g")
            if long != v.text:
                v.text = long
                changed += 1
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), changed


def calc_chain(data: bytes) -> dict[str, bytes]:
    """xl/calcChain.xml listing every formula cell (sheet index i = its position), its content type
    and the workbook relationship, as Excel adds them."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    entries = []
    for i, (_name, part) in enumerate(sheet_parts(data).items(), start=1):
        root = etree.fromstring(zf.read(part))
        for c in root.iter(f"{{{M}}}c"):
            if c.find("m:f", NS) is not None:
                entries.append(f'<c r="{c.get("r")}" i="{i}"/>')
    chain = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<calcChain xmlns="{M}">'
             + "".join(entries) + "</calcChain>").encode()
    ct = zf.read("[Content_Types].xml").replace(
        b"</Types>", b'<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-'
                     b'officedocument.spreadsheetml.calcChain+xml"/></Types>')
    rels = zf.read("xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>", b'<Relationship Id="rIdCalc" Type="http://schemas.openxmlformats.org/officeDocument/'
                             b'2006/relationships/calcChain" Target="calcChain.xml"/></Relationships>')
    return {"xl/calcChain.xml": chain, "[Content_Types].xml": ct, "xl/_rels/workbook.xml.rels": rels}


def _summary(res):  # type: ignore[no-untyped-def]
    return sorted((f.code, f.cell, f.rule) for f in res.findings)


def test_shared_formulas_as_excel_writes_them_read_back_clean(spec, seed_build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = seed_build.path.read_bytes()
    zf = zipfile.ZipFile(io.BytesIO(data))
    change, followers = {}, 0
    for part in sheet_parts(data).values():
        body, n = share_formulas(zf.read(part))
        if n:
            change[part] = body
            followers += n
    assert followers > 50 and len(change) >= 5  # the fixture really is made of shared formulas
    p = tmp_path / "shared.xlsx"
    p.write_bytes(rezip(data, change=change))
    assert b't="shared"' in zipfile.ZipFile(p).read(sheet_parts(data)["公开05表"])
    before = read_workbook(seed_build.path, spec=spec)
    after = read_workbook(p, spec=spec)
    assert _summary(after) == _summary(before)
    assert after.values == before.values and after.exit_code == 0


def test_a_follower_moved_the_wrong_way_is_caught(spec, seed_build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A shared formula whose master is edited changes every follower: the reader sees each change."""
    data = seed_build.path.read_bytes()
    part = sheet_parts(data)["公开05表"]
    body, n = share_formulas(zipfile.ZipFile(io.BytesIO(data)).read(part))
    assert n
    body = body.replace(b'<f t="shared" ref="C7:C', b'<f t="shared" ref="C7:C', 1)
    body = body.replace(b">D7+E7</f>", b">D8+E8</f>", 1)  # the master (and so every follower) one row off
    p = tmp_path / "off.xlsx"
    p.write_bytes(rezip(data, change={part: body}))
    res = read_workbook(p, spec=spec)
    changed = {f.cell for f in res.findings if f.code == "formula-changed"}
    assert {"公开05表!C7", "公开05表!C8", "公开05表!C9"} <= changed


def test_numbers_with_seventeen_digits_and_a_calc_chain(spec, seed_build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = seed_build.path.read_bytes()
    zf = zipfile.ZipFile(io.BytesIO(data))
    change, changed = {}, 0
    for part in sheet_parts(data).values():
        body, n = seventeen_digits(zf.read(part))
        change[part] = body
        changed += n
    assert changed > 20
    change.update(calc_chain(data))
    p = tmp_path / "excel.xlsx"
    p.write_bytes(rezip(data, change=change))
    before = read_workbook(seed_build.path, spec=spec)
    after = read_workbook(p, spec=spec)
    assert _summary(after) == _summary(before) and after.values == before.values
    assert after.values["公开05"]["2150550"]["1"] == Decimal("975.45")


def test_xlfn_prefixes_are_not_a_changed_formula(spec, seed_build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = seed_build.path.read_bytes()
    part = sheet_parts(data)["公开05表"]
    body = zipfile.ZipFile(io.BytesIO(data)).read(part)
    prefixed = body.replace(b"SUMPRODUCT(", b"_xlfn.SUMPRODUCT(").replace(b"<f>SUM(", b"<f>_xlfn.SUM(")
    assert prefixed.count(b"_xlfn.") > 5
    p = tmp_path / "xlfn.xlsx"
    p.write_bytes(rezip(data, change={part: prefixed}))
    res = read_workbook(p, spec=spec)
    assert not [f for f in res.findings if f.code.startswith("formula-")]
    assert res.exit_code == 0


def test_allowed_input_formula_with_its_cached_result(spec, seed_build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Excel stores a typed formula with its result: =ROUND(95.289,2) in 公开06 30101 is read as 95.29
    (the seed's figure), with a warning that a formula was typed."""
    data = seed_build.path.read_bytes()
    part = sheet_parts(data)["公开06表"]
    body = zipfile.ZipFile(io.BytesIO(data)).read(part)
    old = b'<c r="C7" s="'
    i = body.index(old)
    j = body.index(b"</c>", i) + 4
    cell = body[i:j]
    assert b"<f>" not in cell and b"<v>" in cell
    style = cell.split(b's="')[1].split(b'"')[0]
    new = b'<c r="C7" s="' + style + b'"><f>ROUND(95.289,2)</f><v>95.290000000000006</v></c>'
    p = tmp_path / "typed.xlsx"
    p.write_bytes(rezip(data, change={part: body[:i] + new + body[j:]}))
    res = read_workbook(p, spec=spec)
    f = next(f for f in res.findings if f.cell == "公开06表!C7")
    assert (f.code, f.severity, f.actual) == ("formula-in-input", "warning", "=ROUND(95.289,2)")
    assert res.values["公开06"]["30101"]["决算数"] == Decimal("95.29")


def test_typed_formula_whose_cached_result_was_forged(spec, seed_build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """=1+2 shown as 4: the reader computes 3, reads 3 and says the shown result is not the formula's."""
    data = seed_build.path.read_bytes()
    part = sheet_parts(data)["公开06表"]
    body = zipfile.ZipFile(io.BytesIO(data)).read(part)
    i = body.index(b'<c r="C7" s="')
    j = body.index(b"</c>", i) + 4
    style = body[i:j].split(b's="')[1].split(b'"')[0]
    new = b'<c r="C7" s="' + style + b'"><f>1+2</f><v>4</v></c>'
    p = tmp_path / "forged.xlsx"
    p.write_bytes(rezip(data, change={part: body[:i] + new + body[j:]}))
    res = read_workbook(p, spec=spec)
    got = {f.code: f for f in res.findings if f.cell == "公开06表!C7"}
    stale = got["stale-cached-value"]
    assert (stale.severity, stale.expected, stale.actual, stale.table, stale.row) == ("error", "3.00", "4", "公开06", "30101")
    assert got["formula-in-input"].severity == "warning"
    assert res.values["公开06"]["30101"]["决算数"] == Decimal(3)
