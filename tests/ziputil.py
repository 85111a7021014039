"""Helpers for tests that take a built workbook apart: rezip with changed parts, patch zip headers,
rewrite one cell's XML. Fixtures are always built by the tests from the writer's output."""

from __future__ import annotations

import io
import re
import struct
import zipfile


def parts(data: bytes) -> dict[str, bytes]:
    z = zipfile.ZipFile(io.BytesIO(data))
    return {i.filename: z.read(i) for i in z.infolist()}


def rezip(data: bytes, change: dict[str, bytes | None] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    """The same package with parts replaced (None drops one) and parts added, in the original order."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = (change or {}).get(info.filename, zin.read(info.filename))
            if body is not None:
                zout.writestr(info.filename, body)
        for name, body in (add or {}).items():
            zout.writestr(name, body)
    return out.getvalue()


def patch_header(data: bytes, entry: str, *, flags: int | None = None, method: int | None = None,
                 version: int | None = None, local: bool = True, central: bool = True) -> bytes:
    """Set general-purpose flags, compression method or version-needed of one entry in its local
    header and/or central directory record."""
    buf = bytearray(data)
    z = zipfile.ZipFile(io.BytesIO(data))
    info = z.getinfo(entry)
    if local:
        off = info.header_offset
        assert buf[off:off + 4] == b"PK\x03\x04"
        if version is not None:
            struct.pack_into("<H", buf, off + 4, version)
        if flags is not None:
            struct.pack_into("<H", buf, off + 6, flags)
        if method is not None:
            struct.pack_into("<H", buf, off + 8, method)
    if central:
        pos = z.start_dir
        while buf[pos:pos + 4] == b"PK\x01\x02":
            n, e, c = struct.unpack_from("<HHH", buf, pos + 28)
            name = bytes(buf[pos + 46:pos + 46 + n]).decode("utf-8", "replace")
            if name == entry:
                if version is not None:
                    struct.pack_into("<H", buf, pos + 6, version)
                if flags is not None:
                    struct.pack_into("<H", buf, pos + 8, flags)
                if method is not None:
                    struct.pack_into("<H", buf, pos + 10, method)
            pos += 46 + n + e + c
    return bytes(buf)


def set_cell(xml: bytes, ref: str, new: str) -> bytes:
    """Replace the <c r="REF" …>…</c> (or empty <c …/>) element by ``new`` (``{s}`` = its style attribute)."""
    pat = re.compile(rb'<c r="' + ref.encode() + rb'"([^>]*?)(/>|>.*?</c>)', re.S)
    m = pat.search(xml)
    assert m, ref
    style = re.search(rb's="\d+"', m.group(1))
    body = new.replace("{s}", style.group(0).decode() if style else "").encode()
    return xml[:m.start()] + body + xml[m.end():]
