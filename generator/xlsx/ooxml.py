"""A small, defensive .xlsx reader over zipfile + lxml (the reader's only spreadsheet parser).

Returned workbooks are untrusted: limits are checked before inflating, XML is parsed with
entities and network off and any DOCTYPE refused, macros are refused, and every problem is an
:class:`XlsxError` with a stable code and a Chinese message -- never a traceback.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "cp": "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties",
    "vt": "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes",
}
_M = "{" + NS["m"] + "}"


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 50 * 1024 * 1024
    max_parts: int = 2000
    max_part_bytes: int = 100 * 1024 * 1024
    max_total_bytes: int = 300 * 1024 * 1024
    max_ratio: int = 200
    max_rows: int = 10000
    max_cols: int = 200
    max_cells: int = 200000


class XlsxError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class RawCell:
    row: int
    col: int
    type: str  # n s str inlineStr b e
    value: str | None
    formula: str | None


@dataclass
class RawSheet:
    name: str
    state: str
    cells: dict[tuple[int, int], RawCell] = field(default_factory=dict)
    merges: set[tuple[int, int, int, int]] = field(default_factory=set)
    protected: bool = False


@dataclass
class RawBook:
    sheets: list[RawSheet]
    structure_locked: bool
    custom: dict[str, str]
    parts: list[str]

    def sheet(self, name: str) -> RawSheet | None:
        for s in self.sheets:
            if s.name == name:
                return s
        return None


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_comments=True, remove_pis=True)
_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def parse_ref(ref: str) -> tuple[int, int]:
    m = _REF.match(ref.replace("$", ""))
    if not m:
        raise XlsxError("bad-cell-reference", f"单元格地址无法识别：{ref[:20]}")
    letters, digits = m.groups()
    col = 0
    for ch in letters:
        col = col * 26 + (ord(ch) - 64)
    return int(digits) - 1, col - 1


_REF_CACHE: dict[str, tuple[int, int]] = {}
_REF_CACHE_MAX = 100_000


def _cached_ref(ref: str) -> tuple[int, int]:
    """parse_ref, memoised: the same few thousand addresses recur in every workbook of a batch."""
    rc = _REF_CACHE.get(ref)
    if rc is None:
        rc = parse_ref(ref)  # raises on a bad address, which is never cached
        if len(_REF_CACHE) < _REF_CACHE_MAX:
            _REF_CACHE[ref] = rc
    return rc


def _xml(zf: zipfile.ZipFile, name: str) -> Any:
    data = zf.read(name)
    head = data[:2048].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in data[:65536].upper():
        raise XlsxError("xml-doctype", f"{name} 含 DOCTYPE/实体声明（可能是 XML 实体攻击），已拒绝")
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XlsxError("xml-malformed", f"{name} 的 XML 已损坏：{exc}") from exc


def sniff(data: bytes) -> None:
    """Refuse what is not an .xlsx before unzipping, with a reason a person understands."""
    if data[:8] == OLE_MAGIC:
        if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00i\x00o\x00n\x00I\x00n\x00f\x00o" in data:
            raise XlsxError("file-encrypted", "文件已加密（设置了打开密码）；请去掉密码后报送，或用 --file-password 提供密码")
        raise XlsxError("file-legacy-xls", "这是旧版 .xls（BIFF）文件，请用 Excel/WPS 另存为 .xlsx 后报送")
    if data[:4] != b"PK\x03\x04":
        if data[:5] == b"%PDF-":
            raise XlsxError("file-not-xlsx", "这是 PDF 文件，不是 .xlsx 工作簿")
        if data.lstrip()[:1] in (b"<",):
            raise XlsxError("file-not-xlsx", "这是 HTML/XML 文本，不是 .xlsx 工作簿")
        raise XlsxError("file-not-xlsx", "文件不是 .xlsx 工作簿（不是 zip 格式，可能是 CSV 或其他文件改了扩展名）")


def decrypt(data: bytes, password: str) -> bytes:
    import msoffcrypto

    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        office.load_key(password=password)
        out = io.BytesIO()
        office.decrypt(out)
        return out.getvalue()
    except Exception as exc:  # msoffcrypto raises many types; all mean "cannot decrypt"
        raise XlsxError("file-decrypt-failed", f"无法用所给密码解密：{exc}") from exc


def open_xlsx(source: str | Path | bytes, limits: Limits | None = None, password: str | None = None) -> RawBook:
    limits = limits or Limits()
    if isinstance(source, (str, Path)):
        p = Path(source)
        try:
            size = p.stat().st_size
            if size > limits.max_file_bytes:
                raise XlsxError("file-too-large", f"文件过大（{size // 1024 // 1024} MB）")
            data = p.read_bytes()
        except OSError as exc:
            raise XlsxError("file-unreadable", f"无法读取文件：{exc}") from exc
    else:
        data = source
    if not data:
        raise XlsxError("file-empty", "文件为空")
    if data[:8] == OLE_MAGIC and password:
        data = decrypt(data, password)
    sniff(data)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise XlsxError("file-corrupt-zip", f"文件已损坏或不完整（zip 结构错误：{exc}）") from exc
    if len(infos) > limits.max_parts:
        raise XlsxError("zip-too-many-parts", f"工作簿含 {len(infos)} 个部件，超过上限 {limits.max_parts}")
    total = 0
    names = [i.filename for i in infos]
    for i in infos:
        total += i.file_size
        if i.file_size > limits.max_part_bytes or total > limits.max_total_bytes:
            raise XlsxError("zip-bomb", f"解压后体积过大（{i.filename}：{i.file_size} 字节），疑似压缩炸弹，已拒绝")
        if i.compress_size and i.file_size / max(i.compress_size, 1) > limits.max_ratio and i.file_size > 1024 * 1024:
            raise XlsxError("zip-bomb", f"{i.filename} 压缩比异常（{i.file_size // max(i.compress_size, 1)}:1），疑似压缩炸弹，已拒绝")
    lower = [n.lower() for n in names]
    if any(n.endswith("vbaproject.bin") for n in lower):
        raise XlsxError("file-has-macros", "工作簿含宏（VBA 工程），按规定拒收；请另存为不含宏的 .xlsx")
    if "xl/workbook.xml" not in names:
        raise XlsxError("file-not-xlsx", "zip 中没有 xl/workbook.xml，不是 Excel 工作簿")
    try:
        return _read_book(zf, names, limits)
    except XlsxError:
        raise
    except (KeyError, zipfile.BadZipFile, EOFError, OSError, ValueError, etree.LxmlError) as exc:
        raise XlsxError("file-corrupt", f"工作簿结构损坏：{type(exc).__name__}: {exc}") from exc


def _read_book(zf: zipfile.ZipFile, names: list[str], limits: Limits) -> RawBook:
    ct = zf.read("[Content_Types].xml") if "[Content_Types].xml" in names else b""
    if b"macroEnabled" in ct:
        raise XlsxError("file-has-macros", "工作簿为启用宏的格式（.xlsm），按规定拒收")
    wb = _xml(zf, "xl/workbook.xml")
    rels: dict[str, str] = {}
    if "xl/_rels/workbook.xml.rels" in names:
        for rel in _xml(zf, "xl/_rels/workbook.xml.rels").iter("{" + NS["rel"] + "}Relationship"):
            target = rel.get("Target", "")
            if rel.get("TargetMode") == "External":
                continue
            target = target.lstrip("/")
            if not target.startswith("xl/"):
                target = "xl/" + target
            rels[rel.get("Id", "")] = target
    shared: list[str] = []
    if "xl/sharedStrings.xml" in names:
        t_tag, rph_tag = _M + "t", _M + "rPh"
        for si in _xml(zf, "xl/sharedStrings.xml").iter(_M + "si"):
            if len(si) == 1 and si[0].tag == t_tag and len(si[0]) == 0:  # plain: one bare <t>, no runs/phonetics
                shared.append(si[0].text or "")
            else:
                shared.append("".join(t.text or "" for t in si.iter(t_tag) if t.getparent().tag != rph_tag))
    prot = wb.find(_M + "workbookProtection")
    locked = prot is not None and prot.get("lockStructure") in ("1", "true")
    sheets: list[RawSheet] = []
    for s in wb.iter(_M + "sheet"):
        name = s.get("name", "")
        state = s.get("state", "visible")
        rid = s.get("{" + NS["r"] + "}id", "")
        target = rels.get(rid)
        sheet = RawSheet(name, state)
        if target and target in names:
            _read_sheet(zf, target, sheet, shared, limits)
        sheets.append(sheet)
    custom: dict[str, str] = {}
    if "docProps/custom.xml" in names:
        for prop in _xml(zf, "docProps/custom.xml").iter("{" + NS["cp"] + "}property"):
            val = next(iter(prop), None)
            custom[prop.get("name", "")] = (val.text or "") if val is not None else ""
    return RawBook(sheets, locked, custom, names)


def _read_sheet(zf: zipfile.ZipFile, part: str, sheet: RawSheet, shared: list[str], limits: Limits) -> None:
    root = _xml(zf, part)
    dim = root.find(_M + "dimension")
    if dim is not None:
        ref = dim.get("ref", "")
        last = ref.split(":")[-1]
        try:
            r, c = parse_ref(last)
        except XlsxError:
            r, c = 0, 0
        if r >= limits.max_rows * 100 or c >= limits.max_cols * 100:
            raise XlsxError("sheet-too-large", f"工作表 {sheet.name} 声明的范围 {ref} 过大，已拒绝")
    sheet.protected = root.find(_M + "sheetProtection") is not None and root.find(_M + "sheetProtection").get("sheet") in ("1", "true")
    count = 0
    max_cells = limits.max_cells
    masters: dict[str, tuple[int, int, str]] = {}
    cells = sheet.cells
    c_tag, f_tag, v_tag, is_tag, t_tag = _M + "c", _M + "f", _M + "v", _M + "is", _M + "t"
    for c in root.iter(c_tag):
        count += 1
        if count > max_cells:
            raise XlsxError("sheet-too-large", f"工作表 {sheet.name} 单元格过多（超过 {max_cells}）")
        ref = c.get("r")
        if ref is None:
            continue
        r, col = _cached_ref(ref)
        if not len(c):
            continue  # a formatted empty cell: no value, no formula
        # a value far outside any table (beyond limits.max_rows/max_cols) is kept: the reader reports it
        t = c.get("t", "n")
        # the first <f>, <v> and <is> child, as find() would give, in one pass over the children
        f = v = is_ = None
        for ch in c:
            tag = ch.tag
            if tag == v_tag:
                if v is None:
                    v = ch
            elif tag == f_tag:
                if f is None:
                    f = ch
            elif tag == is_tag and is_ is None:
                is_ = ch
        formula = None
        if f is not None:
            formula = f.text or ""
            if f.get("t") == "shared":
                si = f.get("si", "")
                if formula:
                    masters[si] = (r, col, formula)
                elif si in masters:
                    mr, mc_, mf = masters[si]
                    formula = shift_formula(mf, r - mr, col - mc_)
        value: str | None
        if t == "s":
            try:
                value = shared[int(v.text)] if v is not None and v.text is not None else None
            except (ValueError, IndexError):
                value = None
            t = "str"
        elif t == "inlineStr":
            value = "".join(x.text or "" for x in is_.iter(t_tag)) if is_ is not None else None
            t = "str"
        else:
            value = v.text if v is not None else None
        if value is None and formula is None:
            continue
        cells[(r, col)] = RawCell(r, col, t, value, formula)
    mc = root.find(_M + "mergeCells")
    if mc is not None:
        for m in mc.iter(_M + "mergeCell"):
            ref = m.get("ref", "")
            if ":" in ref:
                a, b = ref.split(":", 1)
                r1, c1 = parse_ref(a)
                r2, c2 = parse_ref(b)
                sheet.merges.add((r1, c1, r2, c2))


_A1_IN_FORMULA = re.compile(r'("[^"]*")|(\$?)([A-Z]{1,3})(\$?)(\d+)(?![\w(])')


def shift_formula(formula: str, dr: int, dc: int) -> str:
    """Translate a shared formula's relative references by (dr, dc), as Excel does for followers."""

    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(1)
        col_abs, letters, row_abs, digits = m.group(2), m.group(3), m.group(4), m.group(5)
        col = 0
        for ch in letters:
            col = col * 26 + (ord(ch) - 64)
        if not col_abs:
            col += dc
        row = int(digits) + (0 if row_abs else dr)
        name = ""
        while col:
            col, rem = divmod(col - 1, 26)
            name = chr(65 + rem) + name
        return f"{col_abs}{name}{row_abs}{row}"

    return _A1_IN_FORMULA.sub(repl, formula)
