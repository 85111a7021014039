"""A small, defensive .xlsx reader over zipfile + lxml (the reader's only spreadsheet parser).

Returned workbooks are untrusted. What this module guarantees (see docs/threat-model.md):

- every problem is an :class:`XlsxError` with a stable code and a Chinese message -- never a
  traceback: any exception raised while reading the zip or a part (zipfile's RuntimeError and
  NotImplementedError for encrypted entries, deflate64, strong encryption, newer zip versions, …)
  becomes a finding of that one file;
- limits (:class:`Limits`, configurable with ``JUESUAN_LIMITS="max_cells=300000,…"`` or the
  ``--limit`` option) are checked before inflating (sizes, ratio, parts) and before each part is
  parsed (XML elements, counted on the raw bytes) and while parsing (sheets, cells);
- the package is read as OPC says: the workbook part found through ``_rels/.rels``, every
  relationship target resolved against its source part, part names compared case-insensitively,
  ambiguous packages (duplicate names, two sheets on one part, targets outside the package) refused;
- XML is parsed with entities and network off; any DOCTYPE is refused whatever the encoding;
- macros are found by content type and relationship type (and VBA storage content), external
  links and data connections by relationship and content type, never by folder name;
- cells are placed as Excel places them: by ``r=``, or (without it) after the previous cell/row;
  number formats (styles.xml) and hidden rows/columns are returned so the reader can check that
  what a person sees is what is stored.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import stat
import zipfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lxml import etree

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "ct": "http://schemas.openxmlformats.org/package/2006/content-types",
    "cp": "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties",
    "vt": "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes",
}
_M = "{" + NS["m"] + "}"
_REL = "{" + NS["rel"] + "}Relationship"
_V_TAG, _F_TAG, _IS_TAG, _T_TAG = _M + "v", _M + "f", _M + "is", _M + "t"
_ROW_TAG, _C_TAG = _M + "row", _M + "c"
_CT = "{" + NS["ct"] + "}"


@dataclass(frozen=True)
class Limits:
    """What one returned workbook may cost. Every limit is checked before the work it bounds."""

    max_file_bytes: int = 50 * 1024 * 1024  # the file on disk
    max_parts: int = 2000  # zip entries
    # inflated sizes (declared, enforced by zipfile); with the cells and elements below they keep a
    # read under 500 MB of memory (a part's XML tree takes ~7x its bytes; a big unit's workbook is ~5 MB)
    max_part_bytes: int = 32 * 1024 * 1024  # one entry
    max_total_bytes: int = 100 * 1024 * 1024  # all entries
    max_ratio: int = 200  # inflated / compressed, for entries over 1 MB
    max_rows: int = 10000  # a dimension beyond 100x this is refused
    max_cols: int = 200
    max_cells: int = 200000  # cells of all sheets together
    max_sheets: int = 64
    max_elements: int = 1_000_000  # XML elements of all parts together (counted before parsing)
    max_findings: int = 300  # findings kept per file; the rest are summed up in one finding

    @classmethod
    def parse(cls, text: str, base: Limits | None = None) -> Limits:
        """``"max_cells=300000,max_findings=500"`` (as in ``JUESUAN_LIMITS`` or ``--limit``)."""
        names = {f.name for f in fields(cls)}
        changes: dict[str, int] = {}
        for item in re.split(r"[,\s]+", text.strip()):
            if not item:
                continue
            k, sep, v = item.partition("=")
            k = k.strip()
            if not sep or k not in names or not v.strip().isdigit() or int(v) <= 0:
                raise ValueError(f"无法识别的限额设置 {item!r}（可用：{'、'.join(sorted(names))}，值为正整数）")
            changes[k] = int(v)
        return replace(base or cls(), **changes)


class XlsxError(Exception):
    """A file the reader cannot open: a finding code, a Chinese message for the unit, and the
    technical detail (the library's own words) kept apart for the office — never in the message."""

    def __init__(self, code: str, message: str, detail: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


def _detail(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


@dataclass(slots=True)
class RawCell:
    row: int
    col: int
    type: str  # n s str inlineStr b e
    value: str | None
    formula: str | None
    style: int = 0  # index into RawBook.formats (cellXfs)


@dataclass
class RawSheet:
    name: str
    state: str
    cells: dict[tuple[int, int], RawCell] = field(default_factory=dict)
    merges: set[tuple[int, int, int, int]] = field(default_factory=set)
    protected: bool = False
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: list[tuple[int, int]] = field(default_factory=list)  # 0-based inclusive ranges
    part: str = ""

    def col_hidden(self, c: int) -> bool:
        return any(lo <= c <= hi for lo, hi in self.hidden_cols)


@dataclass
class RawBook:
    sheets: list[RawSheet]
    structure_locked: bool
    custom: dict[str, str]
    parts: list[str]
    formats: list[str] = field(default_factory=list)  # number format code of each cellXfs entry
    bad_formats: list[str] = field(default_factory=list)  # conditional-format (dxf) number formats
    defined_names: list[tuple[str, str, str]] = field(default_factory=list)  # name, localSheetId, text
    external: list[str] = field(default_factory=list)  # external links / data connections found
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # code, cell, message (errors)

    def sheet(self, name: str) -> RawSheet | None:
        for s in self.sheets:
            if s.name == name:
                return s
        return None

    def format_of(self, cell: RawCell) -> str:
        return self.formats[cell.style] if 0 <= cell.style < len(self.formats) else "General"


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_comments=True, remove_pis=True)
_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_ROW, MAX_COL = 1_048_576, 16_384
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
_VBA_MARKS = ("_VBA_PROJECT".encode("utf-16-le"), b"_VBA_PROJECT", "VBA".encode("utf-16-le") + b"\x00\x00")

# built-in number formats (ECMA-376 18.8.30) a reader may meet on an amount cell
BUILTIN_FORMATS = {0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%",
                   11: "0.00E+00", 37: "#,##0 ;(#,##0)", 38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)",
                   40: "#,##0.00;[Red](#,##0.00)", 49: "@"}


def parse_ref(ref: str) -> tuple[int, int]:
    m = _REF.match(ref.replace("$", ""))
    if not m:
        raise XlsxError("bad-cell-reference", f"单元格地址无法识别：{ref[:20]}")
    letters, digits = m.groups()
    col = 0
    for ch in letters:
        col = col * 26 + (ord(ch) - 64)
    row = int(digits)
    if not 1 <= row <= MAX_ROW or col > MAX_COL:
        raise XlsxError("bad-cell-reference", f"单元格地址超出工作表范围：{ref[:20]}")
    return row - 1, col - 1


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
        raise XlsxError("file-decrypt-failed", "无法用所给密码解密；请确认密码，或去掉密码后报送", _detail(exc)) from exc


def open_xlsx(source: str | Path | bytes, limits: Limits | None = None, password: str | None = None) -> RawBook:
    """The workbook's sheets, cells and package facts; any failure is an XlsxError."""
    limits = limits or Limits()
    try:
        return _open(source, limits, password)
    except XlsxError:
        raise
    except MemoryError as exc:
        raise XlsxError("file-too-complex", "工作簿过于庞大，读取时内存不足，已拒绝") from exc
    except RecursionError as exc:
        raise XlsxError("file-too-complex", "工作簿结构嵌套过深，已拒绝") from exc
    except Exception as exc:  # noqa: BLE001 - whatever zipfile/lxml raise on a hostile file is that file's finding
        raise XlsxError("file-corrupt", "工作簿结构损坏，无法读取；请用 Excel/WPS 打开后重新保存，或用下发的模板重新填报",
                        _detail(exc)) from exc


def _open(source: str | Path | bytes, limits: Limits, password: str | None) -> RawBook:
    if isinstance(source, (str, Path)):
        p = Path(source)
        try:
            # opened without blocking and checked on the open file: a FIFO, a device or a folder put
            # (or swapped) where a workbook was expected is refused, never waited on
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise XlsxError("file-not-regular", "不是普通文件（管道、设备或文件夹），未读取")
                size = st.st_size
                if size > limits.max_file_bytes:
                    raise XlsxError("file-too-large", f"文件过大（{size // 1024 // 1024} MB，上限 "
                                                      f"{limits.max_file_bytes // 1024 // 1024} MB）")
                data = fh.read(limits.max_file_bytes + 1)
            if len(data) > limits.max_file_bytes:
                raise XlsxError("file-too-large", f"文件过大（上限 {limits.max_file_bytes // 1024 // 1024} MB）")
        except OSError as exc:
            raise XlsxError("file-unreadable", f"无法读取文件：{exc.strerror or exc}") from exc
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
    except NotImplementedError as exc:
        raise XlsxError("zip-unsupported", "文件的压缩格式不受支持；请用 Excel/WPS 重新保存为 .xlsx", _detail(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - BadZipFile, OSError, ValueError, EOFError, struct.error, …
        raise XlsxError("file-corrupt-zip", "文件已损坏或不完整（可能没有传完）；请重新保存后再报送", _detail(exc)) from exc
    return _Package(zf, infos, limits).read()


class _Package:
    """One zip opened as an OPC package; every part read through :meth:`read_part`."""

    def __init__(self, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: Limits):
        self.zf, self.limits = zf, limits
        if len(infos) > limits.max_parts:
            raise XlsxError("zip-too-many-parts", f"工作簿含 {len(infos)} 个部件，超过上限 {limits.max_parts}")
        total = 0
        self.by_lower: dict[str, zipfile.ZipInfo] = {}
        for i in infos:
            if i.flag_bits & 0x1:
                raise XlsxError("zip-encrypted", f"部件 {i.filename[:80]} 以 zip 密码加密，无法读取；请去掉密码后报送")
            if i.flag_bits & 0x60 or i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) \
                    or i.extract_version > 63:
                raise XlsxError("zip-unsupported", f"部件 {i.filename[:80]} 的 zip 压缩方式/版本不受支持（方法 {i.compress_type}，"
                                                   f"标志 {i.flag_bits:#x}，版本 {i.extract_version}）；请用 Excel/WPS 重新保存为 .xlsx")
            total += i.file_size
            if i.file_size > limits.max_part_bytes or total > limits.max_total_bytes:
                raise XlsxError("zip-bomb", f"解压后体积过大（{i.filename[:80]}：{i.file_size} 字节），疑似压缩炸弹，已拒绝")
            if i.file_size > 1024 * 1024 and i.file_size / max(i.compress_size, 1) > limits.max_ratio:
                raise XlsxError("zip-bomb", f"{i.filename[:80]} 压缩比异常（{i.file_size // max(i.compress_size, 1)}:1），疑似压缩炸弹，已拒绝")
            key = i.filename.lstrip("/").lower()
            if key in self.by_lower:
                raise XlsxError("package-ambiguous", f"部件名 {i.filename[:80]} 出现两次（不区分大小写），"
                                                     "不同软件会显示不同的内容，已拒绝")
            self.by_lower[key] = i
        self.names = [i.filename for i in infos]
        self.elements = 0
        self.cells = 0
        self.cells_by_sheet: dict[str, int] = {}  # cells counted so far per sheet (to name the largest)

    # -- parts
    def has(self, name: str) -> bool:
        return name.lower() in self.by_lower

    def read_part(self, name: str) -> bytes:
        info = self.by_lower.get(name.lower())
        if info is None:
            raise XlsxError("package-part-missing", f"工作簿缺少部件 {name[:80]}")
        try:
            return self.zf.read(info)
        except NotImplementedError as exc:
            raise XlsxError("zip-unsupported", f"部件 {name[:80]} 的压缩格式不受支持；请用 Excel/WPS 重新保存为 .xlsx",
                            _detail(exc)) from exc
        except RuntimeError as exc:
            raise XlsxError("zip-encrypted", f"部件 {name[:80]} 加了密，无法读取；请去掉密码后报送", _detail(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - BadZipFile (CRC, header mismatch), zlib.error, EOFError, …
            raise XlsxError("file-corrupt-zip", f"部件 {name[:80]} 已损坏（文件可能没有传完）；请重新保存后再报送",
                            _detail(exc)) from exc

    def xml(self, name: str) -> Any:
        data = self.read_part(name)
        n = data.count(b"<")
        self.elements += n
        if self.elements > self.limits.max_elements:
            raise XlsxError("file-too-complex", f"工作簿的 XML 元素超过上限 {self.limits.max_elements}（{name[:80]}），已拒绝")
        text = data
        if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:2] in (b"<\x00", b"\x00<"):
            try:
                text = data.decode("utf-16").encode("utf-8")
            except UnicodeDecodeError:
                text = data
        if _DTD.search(text):
            raise XlsxError("xml-doctype", f"{name[:80]} 含 DOCTYPE/实体声明（可能是 XML 实体攻击），已拒绝")
        try:
            root = etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise XlsxError("xml-malformed", f"部件 {name[:80]} 的内容已损坏，无法读取；请用 Excel/WPS 打开后重新保存",
                            _detail(exc)) from exc
        doc = root.getroottree().docinfo
        if doc.internalDTD is not None or doc.externalDTD is not None or doc.doctype:
            raise XlsxError("xml-doctype", f"{name[:80]} 含 DOCTYPE 声明，已拒绝")
        return root

    def rels(self, part: str) -> list[tuple[str, str, str, str]]:
        """(id, type, resolved target or external URI, mode) of a part's relationships, targets resolved as OPC does."""
        d, base = posixpath.split(part)
        rels_name = posixpath.join(d, "_rels", base + ".rels")
        if not self.has(rels_name):
            return []
        out = []
        for rel in self.xml(rels_name).iter(_REL):
            target, mode = rel.get("Target", ""), rel.get("TargetMode", "Internal")
            if mode == "External":
                out.append((rel.get("Id", ""), rel.get("Type", ""), target, mode))
                continue
            out.append((rel.get("Id", ""), rel.get("Type", ""), resolve_target(d, target), mode))
        return out

    # -- the package
    def content_types(self) -> tuple[dict[str, str], dict[str, str]]:
        defaults: dict[str, str] = {}
        overrides: dict[str, str] = {}
        if self.has("[Content_Types].xml"):
            root = self.xml("[Content_Types].xml")
            for el in root:
                if el.tag == _CT + "Default":
                    defaults[(el.get("Extension") or "").lower()] = (el.get("ContentType") or "").lower()
                elif el.tag == _CT + "Override":
                    overrides[(el.get("PartName") or "").lstrip("/").lower()] = (el.get("ContentType") or "").lower()
        return defaults, overrides

    def read(self) -> RawBook:
        defaults, overrides = self.content_types()

        def ctype(name: str) -> str:
            low = name.lower()
            return overrides.get(low) or defaults.get(posixpath.splitext(low)[1].lstrip("."), "")

        all_cts = set(defaults.values()) | set(overrides.values())
        if any("macro" in ct or "vbaproject" in ct for ct in all_cts):
            raise XlsxError("file-has-macros", "工作簿含宏（按内容类型识别：启用宏的格式或 VBA 工程），按规定拒收；请另存为不含宏的 .xlsx")
        external: list[str] = [n for n in self.names if "externallink" in ctype(n) or "connections" in ctype(n)
                               or "querytable" in ctype(n)]
        self._refuse_vba_parts()
        external += self._related_externals()
        wb_part = self._main_part()
        ct = ctype(wb_part)
        if ct and "spreadsheetml" not in ct and ct != "application/xml":
            raise XlsxError("file-not-xlsx", f"主文档不是 Excel 工作簿（内容类型 {ct[:80]}）")
        return self._book(wb_part, external, ctype)

    def _refuse_vba_parts(self) -> None:
        """A VBA project, by name or by content (an OLE file with VBA marks), whatever it is called."""
        for name, info in self.by_lower.items():
            if name.endswith("vbaproject.bin"):
                raise XlsxError("file-has-macros", "工作簿含宏（VBA 工程），按规定拒收；请另存为不含宏的 .xlsx")
            if not name.endswith((".xml", ".rels", ".vml")) and info.file_size >= 8:
                head = self.read_part(info.filename)
                if head[:8] == OLE_MAGIC and any(m in head for m in _VBA_MARKS):
                    raise XlsxError("file-has-macros", f"部件 {info.filename[:80]} 是 VBA 宏工程（按内容识别），按规定拒收")

    def _related_externals(self) -> list[str]:
        """Every relationship part: macros refused and external links listed, by relationship type."""
        external: list[str] = []
        for name in list(self.by_lower):
            if not name.endswith(".rels"):
                continue
            for rel in self.xml(self.by_lower[name].filename).iter(_REL):
                rtype = (rel.get("Type") or "").lower().rsplit("/", 1)[-1]
                if rtype in ("vbaproject", "xlmacrosheet", "xlintlmacrosheet", "macrosheet", "wordvbadata"):
                    raise XlsxError("file-has-macros", "工作簿含宏（按关系类型识别），按规定拒收；请另存为不含宏的 .xlsx")
                if rtype in ("externallink", "externallinkpath", "connections", "querytable", "attachedtemplate") or (
                        rtype == "oleobject" and rel.get("TargetMode") == "External"):
                    external.append(f"{rel.get('Target', '')[:120]}（{rtype}）")
        return external

    def _main_part(self) -> str:
        """The workbook part the package's relationships name (one at most), else xl/workbook.xml."""
        wb_part = "xl/workbook.xml"
        if self.has("_rels/.rels"):
            main = [t for _, typ, t, mode in self.rels("") if typ.endswith("/officeDocument") and mode != "External"]
            if len(main) > 1:
                raise XlsxError("package-ambiguous", "包中有多个主文档关系，已拒绝")
            if main:
                wb_part = main[0]
        if not self.has(wb_part):
            raise XlsxError("file-not-xlsx", "zip 中没有工作簿部件（xl/workbook.xml），不是 Excel 工作簿")
        return wb_part

    def _book(self, wb_part: str, external: list[str], ctype: Any) -> RawBook:
        wb = self.xml(wb_part)
        rels = {rid: (typ, target, mode) for rid, typ, target, mode in self.rels(wb_part)}
        by_type: dict[str, list[str]] = {}
        for typ, target, mode in rels.values():
            if mode != "External":
                by_type.setdefault(typ.rsplit("/", 1)[-1], []).append(target)
            elif not typ.endswith("/hyperlink"):
                external.append(f"{target[:120]}（{typ.rsplit('/', 1)[-1]}）")
        problems: list[tuple[str, str, str]] = []
        shared = self._shared(by_type.get("sharedStrings", []))
        formats, bad_formats = self._styles(by_type.get("styles", []))
        prot = wb.find(_M + "workbookProtection")
        locked = prot is not None and prot.get("lockStructure") in ("1", "true")
        sheet_els = [s for s in wb.iter(_M + "sheet")]
        if len(sheet_els) > self.limits.max_sheets:
            raise XlsxError("too-many-sheets", f"工作簿含 {len(sheet_els)} 个工作表，超过上限 {self.limits.max_sheets}")
        sheets: list[RawSheet] = []
        used: dict[str, str] = {}
        for s in sheet_els:
            name = s.get("name", "")
            sheet = RawSheet(name, s.get("state", "visible"))
            rel = rels.get(s.get("{" + NS["r"] + "}id", ""))
            if rel is None or rel[2] == "External":
                problems.append(("sheet-part-missing", name, f"工作表 {name} 没有对应的内容部件（关系缺失），其内容无法核对"))
            else:
                target = rel[1]
                if target.lower() in used:
                    raise XlsxError("package-ambiguous", f"工作表 {name} 与 {used[target.lower()]} 指向同一部件 {target[:80]}，已拒绝")
                used[target.lower()] = name
                if not self.has(target):
                    raise XlsxError("package-part-missing", f"工作表 {name} 指向的部件 {target[:80]} 不存在")
                sheet.part = target
                self._sheet(target, sheet, shared, problems)
            sheets.append(sheet)
        names = []
        dn = wb.find(_M + "definedNames")
        if dn is not None:
            for d in dn.iter(_M + "definedName"):
                names.append((d.get("name", ""), d.get("localSheetId", ""), d.text or ""))
        custom: dict[str, str] = {}
        for path in ("docProps/custom.xml",):
            if self.has(path):
                for prop in self.xml(path).iter("{" + NS["cp"] + "}property"):
                    val = next(iter(prop), None)
                    custom[prop.get("name", "")] = (val.text or "") if val is not None else ""
        return RawBook(sheets, locked, custom, self.names, formats, bad_formats, names, external, problems)

    def _shared(self, targets: list[str]) -> list[str]:
        shared: list[str] = []
        for target in targets[:1]:
            if not self.has(target):
                continue
            t_tag, rph_tag = _M + "t", _M + "rPh"
            for si in self.xml(target).iter(_M + "si"):
                if len(si) == 1 and si[0].tag == t_tag and len(si[0]) == 0:  # plain: one bare <t>
                    shared.append(si[0].text or "")
                else:
                    shared.append("".join(t.text or "" for t in si.iter(t_tag) if t.getparent().tag != rph_tag))
        return shared

    def _styles(self, targets: list[str]) -> tuple[list[str], list[str]]:
        """Number format code of every cellXfs entry, and the number formats of conditional formats (dxfs)."""
        for target in targets[:1]:
            if not self.has(target):
                continue
            root = self.xml(target)
            custom: dict[int, str] = {}
            nf = root.find(_M + "numFmts")
            if nf is not None:
                for f in nf.iter(_M + "numFmt"):
                    try:
                        custom[int(f.get("numFmtId", ""))] = f.get("formatCode", "")
                    except ValueError:
                        continue

            def code_of(fid: str | None, custom: dict[int, str] = custom) -> str:
                try:
                    i = int(fid or 0)
                except ValueError:
                    return "?"
                return custom.get(i) or BUILTIN_FORMATS.get(i) or f"builtin:{i}"

            formats: list[str] = []
            xfs = root.find(_M + "cellXfs")
            if xfs is not None:
                formats = [code_of(x.get("numFmtId")) for x in xfs.iter(_M + "xf")]
            dxf_formats: list[str] = []
            dxfs = root.find(_M + "dxfs")
            if dxfs is not None:
                dxf_formats = [f.get("formatCode", "") for f in dxfs.iter(_M + "numFmt")]
            return formats, dxf_formats
        return [], []

    def _sheet(self, part: str, sheet: RawSheet, shared: list[str], problems: list[tuple[str, str, str]]) -> None:
        root = self.xml(part)
        self._sheet_head(root, sheet)
        sd = root.find(_M + "sheetData")
        if sd is None:
            return
        start = count = self.cells
        max_cells = self.limits.max_cells
        masters: dict[str, tuple[int, int, str]] = {}
        cells, refs = sheet.cells, _REF_CACHE
        r_idx = -1
        # the tag filters run in lxml (what is not a row, or not a cell of a row, Excel ignores and does not show)
        for row in sd.iterchildren(_ROW_TAG):
            r_idx = _row_index(row, r_idx, sheet)
            c_idx = -1
            for c in row.iterchildren(_C_TAG):
                count += 1
                if count > max_cells:  # refused, naming the largest sheet
                    self.cells = count - 1
                    self._count_cell(sheet, start)
                ref = c.get("r")
                if ref is None:  # placed as Excel and LibreOffice place it: after the previous cell of its row
                    r, col = r_idx, c_idx + 1
                    if col >= MAX_COL:
                        raise XlsxError("bad-cell-reference", f"工作表 {sheet.name} 第 {r_idx + 1} 行的单元格超出范围")
                else:
                    r, col = refs.get(ref) or _cached_ref(ref)
                c_idx = col
                if len(c):  # else a formatted empty cell: no value, no formula
                    got = _cell(c, r, col, sheet.name, shared, masters, problems)
                    if got is not None:
                        cells[(r, col)] = got
        self.cells = count
        self.cells_by_sheet[sheet.name] = self.cells_by_sheet.get(sheet.name, 0) + self.cells - start
        _merges(root, sheet)

    def _sheet_head(self, root: Any, sheet: RawSheet) -> None:
        """The declared dimension (refused when far beyond the limits), protection, hidden columns."""
        limits = self.limits
        dim = root.find(_M + "dimension")
        if dim is not None:
            ref = dim.get("ref", "")
            try:
                r, c = parse_ref(ref.split(":")[-1])
            except XlsxError:
                r, c = 0, 0
            if r >= limits.max_rows * 100 or c >= limits.max_cols * 100:
                raise XlsxError("sheet-too-large", f"工作表 {sheet.name} 声明的范围 {ref[:40]} 过大，已拒绝")
        sp = root.find(_M + "sheetProtection")
        sheet.protected = sp is not None and sp.get("sheet") in ("1", "true")
        cols = root.find(_M + "cols")
        if cols is not None:
            for col in cols.iter(_M + "col"):
                width = col.get("width")
                try:
                    zero = width is not None and float(width) <= 0
                    if col.get("hidden") in ("1", "true") or zero:
                        sheet.hidden_cols.append((int(col.get("min", "1")) - 1, int(col.get("max", "1")) - 1))
                except ValueError:
                    continue

    def _count_cell(self, sheet: RawSheet, start: int) -> None:
        """One more cell; past the limit of all sheets together the workbook is refused, naming the largest."""
        self.cells += 1
        max_cells = self.limits.max_cells
        if self.cells > max_cells:
            counts = dict(self.cells_by_sheet)
            counts[sheet.name] = counts.get(sheet.name, 0) + self.cells - start
            big = max(counts, key=lambda k: counts[k])
            raise XlsxError("sheet-too-large", f"工作簿单元格过多（全部工作表超过 {max_cells} 个；最多的是工作表 {big[:60]}，"
                                               f"{counts[big]} 个），已拒绝")


def _row_index(row: Any, r_idx: int, sheet: RawSheet) -> int:
    """A row's 0-based index (its r=, else the one after the previous row); hidden rows recorded."""
    rr = row.get("r")
    if rr is not None:
        try:
            r_idx = int(rr) - 1
        except ValueError:
            raise XlsxError("bad-cell-reference", f"工作表 {sheet.name} 的行号无法识别：{rr[:20]}") from None
        if not 0 <= r_idx < MAX_ROW:
            raise XlsxError("bad-cell-reference", f"工作表 {sheet.name} 的行号超出范围：{rr[:20]}")
    else:
        r_idx += 1
    if row.get("hidden") in ("1", "true"):
        sheet.hidden_rows.add(r_idx)
    elif row.get("ht") is not None and row.get("customHeight") in ("1", "true"):
        try:
            if float(row.get("ht", "1")) <= 0:
                sheet.hidden_rows.add(r_idx)
        except ValueError:
            pass
    return r_idx


def _children(c: Any) -> tuple[Any, Any, Any]:
    """A cell's first <f>, <v> and <is> (later ones are ignored, as Excel ignores them)."""
    f = v = is_ = None
    for ch in c:
        tag = ch.tag
        if tag == _V_TAG:
            if v is None:
                v = ch
        elif tag == _F_TAG:
            if f is None:
                f = ch
        elif tag == _IS_TAG and is_ is None:
            is_ = ch
    return f, v, is_


def _formula(f: Any, r: int, col: int, masters: dict[str, tuple[int, int, str]]) -> str | None:
    """A cell's formula; a shared formula's followers shifted from their master."""
    if f is None:
        return None
    formula: str = f.text or ""
    if f.get("t") == "shared":
        si = f.get("si", "")
        if formula:
            masters[si] = (r, col, formula)
        elif si in masters:
            mr, mc_, mf = masters[si]
            formula = shift_formula(mf, r - mr, col - mc_)
    return formula


def _cell(c: Any, r: int, col: int, sheet_name: str, shared: list[str], masters: dict[str, tuple[int, int, str]],
          problems: list[tuple[str, str, str]]) -> RawCell | None:
    """One <c> with children: its type, value (a shared string resolved), formula and style; None when
    it holds neither a value nor a formula."""
    t = c.get("t", "n")
    if len(c) == 1:  # the usual cell: one <v> (or one <f>), taken as _children takes it, without the call
        f = v = is_ = None
        ch = c[0]
        tag = ch.tag
        if tag == _V_TAG:
            v = ch
        elif tag == _F_TAG:
            f = ch
        elif tag == _IS_TAG:
            is_ = ch
    else:
        f, v, is_ = _children(c)
    formula = _formula(f, r, col, masters) if f is not None else None
    value: str | None
    if t == "s":
        value = None
        if v is not None and v.text is not None:
            try:
                i = int(v.text)
            except ValueError:
                i = -1
            if 0 <= i < len(shared):
                value = shared[i]
            else:
                problems.append(("shared-string-invalid", f"{sheet_name}!{_a1(r, col)}",
                                 f"{sheet_name}!{_a1(r, col)} 引用的共享字符串 {v.text[:20]!r} 不存在（文件被改动），其内容无法确定"))
        t = "str"
    elif t == "inlineStr":
        value = "".join(x.text or "" for x in is_.iter(_T_TAG)) if is_ is not None else None
        t = "str"
    else:
        value = v.text if v is not None else None
    if value is None and formula is None:
        return None
    s_attr = c.get("s")
    style = 0
    if s_attr is not None:
        try:
            style = int(s_attr)
        except ValueError:
            style = -1
    return RawCell(r, col, t, value, formula, style)


def _merges(root: Any, sheet: RawSheet) -> None:
    mc = root.find(_M + "mergeCells")
    if mc is not None:
        for m in mc.iter(_M + "mergeCell"):
            ref = m.get("ref", "")
            if ":" in ref:
                a, b = ref.split(":", 1)
                r1, c1 = _cached_ref(a)
                r2, c2 = _cached_ref(b)
                sheet.merges.add((r1, c1, r2, c2))


def resolve_target(source_dir: str, target: str) -> str:
    """A relationship target as OPC resolves it: relative to the source part's folder, or from the
    package root when it starts with "/"; percent-escapes decoded. Outside the package: refused."""
    t = unquote(target.split("#", 1)[0]).replace("\\", "/")
    path = t.lstrip("/") if t.startswith("/") else posixpath.join(source_dir, t)
    norm = posixpath.normpath(path) if path else ""
    if not norm or norm == "." or norm.startswith("../") or norm == "..":
        raise XlsxError("package-ambiguous", f"关系目标 {target[:80]} 指向包外，已拒绝")
    return norm


def _a1(r: int, c: int) -> str:
    name = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        name = chr(65 + rem) + name
    return f"{name}{r + 1}"


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
