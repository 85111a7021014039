"""Helpers for tests that edit a workbook's XML parts directly (as Excel, a tool or an attacker would):
find a sheet's part by its name through workbook.xml and its rels, never by a hard-coded file name."""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Callable
from pathlib import Path

from lxml import etree

M = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PR = "http://schemas.openxmlformats.org/package/2006/relationships"


def sheet_parts(data: bytes) -> dict[str, str]:
    """Sheet name -> zip part name, as the workbook's relationships say."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    wb = etree.fromstring(zf.read("xl/workbook.xml"))
    rels = etree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels.iter(f"{{{PR}}}Relationship")}
    out = {}
    for s in wb.iter(f"{{{M}}}sheet"):
        t = target[s.get(f"{{{R}}}id")].lstrip("/")
        out[s.get("name")] = t if t.startswith("xl/") else posixpath.normpath("xl/" + t)
    return out


def sheet_part(data: bytes | Path, name: str) -> str:
    raw = data.read_bytes() if isinstance(data, Path) else data
    return sheet_parts(raw)[name]


def rezip(src: bytes, change: dict[str, bytes | None] | None = None, add: dict[str, bytes] | None = None,
          stored: set[str] | None = None) -> bytes:
    """The same package with parts replaced (None drops one) or added; ``stored`` parts are not deflated."""
    zin = zipfile.ZipFile(io.BytesIO(src))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = (change or {}).get(info.filename, zin.read(info.filename))
            if body is not None:
                kind = zipfile.ZIP_STORED if info.filename in (stored or set()) else zipfile.ZIP_DEFLATED
                zout.writestr(info.filename, body, compress_type=kind)
        for name, body in (add or {}).items():
            zout.writestr(name, body)
    return out.getvalue()


def edit_part(path: Path, part: str, fn: Callable[[bytes], bytes]) -> None:
    src = path.read_bytes()
    body = zipfile.ZipFile(io.BytesIO(src)).read(part)
    path.write_bytes(rezip(src, change={part: fn(body)}))


def read_part(path: Path | bytes, part: str) -> bytes:
    raw = path.read_bytes() if isinstance(path, Path) else path
    return zipfile.ZipFile(io.BytesIO(raw)).read(part)


def forge_cached_text(path: Path, sheet: str, ref: str, text: str) -> None:
    """Give the formula cell ``ref`` of ``sheet`` the cached text result ``text`` (formula kept), as a
    tool that edits the file without recalculating would: the cell must be there, with its formula."""
    import re

    part = sheet_part(path, sheet)
    pat = re.compile(rb'<c r="' + ref.encode() + rb'"([^>]*?)(?: t="[^"]*")?>(<f>[^<]*</f>)<v>[^<]*</v></c>')

    def forge(body: bytes) -> bytes:
        new, n = pat.subn(rb'<c r="' + ref.encode() + rb'"\1 t="str">\2<v>' + text.encode() + rb"</v></c>", body)
        assert n == 1, ref
        return new

    edit_part(path, part, forge)

