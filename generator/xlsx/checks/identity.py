"""Identity: what the file says it is, and whether that can be believed.

The parts the parser refused, external links; the identity recorded twice (the hidden identity
sheet and the document properties) and whether both agree; the spec the template was made from;
the unit, year, 汇总 units, kind and spare rows; the 科目 lists; the fingerprint over all of it.
Establishes ``reading.plan`` — the layout every later check compares the workbook with — and the
dataset's identity.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ...core.catalog import find_spec_dirs, load_spec
from ...core.dataset import Dataset
from ...core.findings import ERROR, WARNING, Finding
from ...core.layout import (
    CODES,
    DEFAULT_KEY,
    MAX_SPARE_ROWS,
    MAX_UNITS,
    META,
    META_FIELDS,
    SUMMARY_KINDS,
    LayoutError,
    fingerprint,
    identity,
    plan_workbook,
)
from ...core.spec import Spec, SpecInvalid
from ..ooxml import RawBook, RawSheet
from ..values import cell_text
from .reading import Reading, Unusable

IDENTITY_KEYS = ("template", "version", "spec_hash", "unit_code", "unit_name", "year", "units", "kind", "spare_rows")

_SPEC_CACHE: dict[tuple[str, float], Spec | SpecInvalid] = {}


def _load_cached(d: Path) -> Spec | SpecInvalid:
    """Specs are loaded once per process (keyed by folder and newest file time): a batch of a
    thousand workbooks must not parse the YAML a thousand times."""
    stamp = max((f.stat().st_mtime for f in d.rglob("*.yaml")), default=0.0)
    key = (str(d.resolve()), stamp)
    if key not in _SPEC_CACHE:
        try:
            _SPEC_CACHE[key] = load_spec(d)
        except SpecInvalid as exc:
            _SPEC_CACHE[key] = exc
    return _SPEC_CACHE[key]


def find_spec(version: str, spec_dirs: list[Path] | None, spec_hash: str = "") -> tuple[Spec | None, list[str]]:
    """The spec of ``version`` among ``spec_dirs`` (default: the bundled ones): the one whose hash is
    the workbook's recorded ``spec_hash`` when there is one, else the first of that version."""
    broken: list[str] = []
    first: Spec | None = None
    for d in spec_dirs or find_spec_dirs():
        spec = _load_cached(Path(d))
        if isinstance(spec, SpecInvalid):
            broken.append(f"{d}（{len(spec.problems)} 处错误）")
            continue
        if spec.version == version:
            if not spec_hash or spec.hash == spec_hash:
                return spec, broken
            first = first or spec
    return first, broken


def meta_values(sheet: RawSheet | None) -> dict[str, str]:
    """The identity sheet's fields: column A the name, column B the value."""
    if sheet is None:
        return {}
    out = {}
    for (r, c), cell in sheet.cells.items():
        if c == 0 and cell.value:
            out[cell.value] = cell_text(sheet.cells.get((r, 1)))
    return out


def infer_sections(book: RawBook, spec: Spec) -> dict[str, list[str]]:
    """Without the meta sheet: prefilled 科目 rows are those whose name cell is plain text."""
    out: dict[str, list[str]] = {}
    for t in spec.tables.values():
        sec = t.section
        sheet = book.sheet(t.sheet)
        if not sec or sheet is None:
            continue
        col0 = 0
        for b in t.blocks:
            if b is sec:
                break
            col0 += len(b.columns)
        ci, ni = col0 + (sec.role_index("code") or 0), col0 + (sec.role_index("name") or 0)
        codes = []
        r = 3 + len(t.header) + 1  # the body's first row
        while True:
            code, name = sheet.cells.get((r, ci)), sheet.cells.get((r, ni))
            if code is None or name is None or name.formula is not None or not cell_text(code).isdigit():
                break
            codes.append(cell_text(code))
            r += 1
        out[t.id] = codes
    return out


def shown_names(book: RawBook, spec: Spec, sections: dict[str, list[str]], names: dict[str, str]) -> dict[str, str]:
    """``names`` plus, for every 科目 row whose code the spec's code list lacks (a template of an older
    code list: the round's own codes, imported after), the name the workbook shows for it — its
    hidden 代码表 sheet, from which the template was built — so its rows are laid out as shown and
    the name travels on (``migrate``)."""
    missing: set[str] = set()
    for tid, codes in sections.items():
        t = spec.tables.get(tid)
        sec = t.section if t is not None else None
        if sec is not None:
            missing.update(c for c in codes if c not in names and spec.code_name(sec.codelist, c) is None)
    sheet = book.sheet(CODES)
    if not missing or sheet is None:
        return names
    shown = {}
    for (r, c), cell in sheet.cells.items():
        code = cell_text(cell) if c == 0 else ""
        if code in missing:
            name = cell_text(sheet.cells.get((r, 1))).strip()
            if name:
                shown[code] = name
    return {**names, **shown}


def _meta_cell(name: str) -> str:
    return f"{META}!B{META_FIELDS.index(name) + 1}"


def _parts(reading: Reading) -> Iterator[Finding]:
    """What the parser refused, and links to other workbooks or data."""
    book = reading.book
    for code, cell, message in book.problems:
        yield Finding(code, ERROR, message, cell=cell)
    external = book.external or [p for p in book.parts if p.lower().startswith("xl/externallinks/")]
    if external:
        yield Finding("external-link", ERROR, f"工作簿引用了其他工作簿或外部数据（{len(external)} 处：{'；'.join(external[:3])[:200]}），"
                                             "外部数据不会被读取或计算")


def _recorded(reading: Reading) -> Iterator[Finding]:
    """The identity as recorded in the identity sheet and in the document properties; both must agree."""
    book = reading.book
    meta_sheet = book.sheet(META)
    meta = meta_values(meta_sheet)
    custom = {k.removeprefix("juesuan."): v for k, v in book.custom.items() if k.startswith("juesuan.")}
    if not meta and not custom:
        raise Unusable([Finding("not-a-template", ERROR, "不是本系统下发的模板（找不到模板标识），无法识别", file=reading.path)])
    if meta_sheet is None:
        yield Finding("meta-sheet-missing", ERROR, f"隐藏的标识工作表 {META} 已被删除", cell=META)
    if meta and not custom:
        yield Finding("doc-properties-missing", WARNING, "工作簿的自定义文档属性（docProps/custom.xml 中的模板标识）已被删除，"
                                                        "只能按标识表核对")
    for k in IDENTITY_KEYS:
        if meta and custom and (k in custom or k in meta) and custom.get(k) != meta.get(k):
            yield Finding("identity-mismatch", ERROR, f"文档属性与标识表中的 {k} 不一致（标识被改动）",
                          expected=meta.get(k), actual=custom.get(k), cell=_meta_cell(k))
    reading.meta, reading.ident = meta, meta or custom


def _the_spec(reading: Reading) -> Iterator[Finding]:
    """The spec the template was made from: the caller's when it is that one, else found by version
    and recorded hash among the spec folders."""
    ident, spec, spec_dirs = reading.ident, reading.spec, reading.spec_dirs
    version, recorded_hash = ident.get("version", ""), ident.get("spec_hash", "")
    broken: list[str] = []
    if spec is None or spec.version != version or (spec_dirs and spec.hash != recorded_hash):
        found, broken = find_spec(version, spec_dirs, recorded_hash)
        if spec is None or spec.version != version or (found is not None and found.hash == recorded_hash):
            spec = found
    if spec is None:
        why = f"；以下规格目录有错误未能加载：{'、'.join(broken)}（用 juesuan check-spec 查看）" if broken else ""
        raise Unusable(reading.findings + [Finding(
            "template-version-unknown", ERROR, f"模板版本 {version!r} 不在已知规格中，无法读取{why}", file=reading.path,
            actual=version)])
    reading.spec = spec
    reading.template = template = {"id": ident.get("template", ""), "version": version, "spec_hash": recorded_hash}
    if template["id"] != spec.template:
        yield Finding("template-mismatch", ERROR, "不是本套模板", expected=spec.template, actual=template["id"])
    if template["spec_hash"] != spec.hash:
        yield Finding("template-spec-changed", ERROR, "模板生成后规格已变更（或标识被改动）；请按新模板重新填报或迁移",
                      expected=spec.hash, actual=template["spec_hash"])


def _bounded_int(text: str | None, lo: int, hi: int) -> int | None:
    """``text`` as a whole number within [lo, hi]; None when it is not one."""
    try:
        n = int(text or "")
    except ValueError:
        return None
    return n if lo <= n <= hi else None


def _numbers(reading: Reading) -> Iterator[Finding]:
    """Year, 汇总 units, spare rows and kind, each within its range; the unit and year expected."""
    ident, spec = reading.ident, reading.spec
    assert spec is not None
    try:
        year = int(ident.get("year") or spec.year)
    except ValueError:
        year = spec.year
        yield Finding("identity-mismatch", ERROR, "年度标识无法识别", actual=ident.get("year"))
    units = 1
    if ident.get("units"):
        got = _bounded_int(ident["units"], 1, MAX_UNITS)
        if got is None:
            yield Finding("identity-mismatch", ERROR, "汇总单位数标识无法识别", actual=ident.get("units"),
                          cell=_meta_cell("units"))
        units = got or 1
    spare_rows: int | None = None
    if ident.get("spare_rows"):
        spare_rows = _bounded_int(ident["spare_rows"], 0, MAX_SPARE_ROWS)
        if spare_rows is None:
            yield Finding("identity-mismatch", ERROR, "新增科目行数标识无法识别", actual=ident.get("spare_rows"))
    kind = ident.get("kind") or ""
    if kind not in ("", *SUMMARY_KINDS):
        yield Finding("identity-mismatch", ERROR, "工作簿类别标识无法识别", actual=kind)
        kind = ""
    unit_code = ident.get("unit_code", "")
    if reading.expect_unit is not None and unit_code != reading.expect_unit:
        yield Finding("wrong-unit", ERROR, "工作簿属于另一单位", expected=reading.expect_unit, actual=unit_code)
    if reading.expect_year is not None and year != reading.expect_year:
        yield Finding("wrong-year", ERROR, "工作簿年度不符", expected=str(reading.expect_year), actual=str(year))
    reading.units, reading.kind, reading.spare_rows = units, kind, spare_rows
    reading.ds = Dataset(unit_code=unit_code, unit_name=ident.get("unit_name", ""), year=year,
                         version=reading.spec.version if reading.spec is not None else "")


def _lists(reading: Reading) -> tuple[dict[str, list[str]], dict[str, str], list[Finding]]:
    """The 科目 lists and the names of 科目 the code list lacks, as the identity sheet records them
    (without the sheet: inferred from the tables)."""
    meta, spec = reading.meta, reading.spec
    assert spec is not None
    try:
        sections = json.loads(meta["sections"]) if "sections" in meta else infer_sections(reading.book, spec)
        names = json.loads(meta.get("names") or "{}")
        if not isinstance(sections, dict) or not isinstance(names, dict):
            raise ValueError("not a mapping")
        return ({str(t): [str(c) for c in v] for t, v in sections.items()}, {str(k): str(v) for k, v in names.items()}, [])
    except (ValueError, TypeError):
        return infer_sections(reading.book, spec), {}, [
            Finding("identity-mismatch", ERROR, "标识表中的科目清单已损坏", cell=f"{META}!B8")]


def _fingerprint_and_plan(reading: Reading) -> Iterator[Finding]:
    """The fingerprint over the recorded identity and 科目 lists, under the office key; the plan."""
    sections, names, broken = _lists(reading)
    yield from broken
    key = reading.key
    if not key:  # no key configured: the built-in one, which everybody has
        key = DEFAULT_KEY
        yield Finding("default-key-in-use", WARNING, "未设置指纹密钥，按内置的公开默认密钥校验：任何人都能为任何单位生成可通过校验的工作簿；"
                                                    "请用 juesuan key init 生成密钥")
    spec, ds, template, meta = reading.spec, reading.ds, reading.template, reading.meta
    assert spec is not None and ds.year is not None
    kind, spare_rows = reading.kind, reading.spare_rows
    ident = identity(template["id"], template["version"], template["spec_hash"], ds.unit_code, ds.unit_name, ds.year,
                     reading.units, kind, spare_rows)
    if meta and meta.get("fingerprint") != fingerprint(ident, sections, names, key):
        yield Finding("fingerprint-mismatch", ERROR, "指纹校验不通过：单位标识或模板结构被改动，或密钥不符",
                      cell=_meta_cell("fingerprint"))
    names = shown_names(reading.book, spec, sections, names)  # after the fingerprint: it covers the recorded names only
    try:
        plan = plan_workbook(spec, ds.unit_code, ds.unit_name, ds.year, sections, names, key, units=reading.units,
                             kind=kind, spare_rows=spare_rows)
    except LayoutError as exc:  # 科目 rows the spec's code list lacks, with no name shown for them
        if reading.codes() & {"fingerprint-mismatch", "identity-mismatch"}:
            raise  # an edited 科目 list, not the round's codes: the file is unreadable (the caller says so)
        raise Unusable(reading.findings + [Finding(
            "spec-codes-missing", ERROR,
            f"无法按 {spec.version} 版模板读取：{exc}。工作簿用到了本轮代码表中没有的科目代码（生成模板时导入过代码表？）："
            "主管部门请先用 juesuan codes import 把本轮的代码表导入，或用生成本模板的规格读取（--specs）",
            file=reading.path, expected=spec.hash, actual=template["spec_hash"])]) from exc
    plan.fingerprint = meta.get("fingerprint", plan.fingerprint) if meta else plan.fingerprint
    reading.plan = plan
    ds.names = dict(names)


STEPS = (_parts, _recorded, _the_spec, _numbers, _fingerprint_and_plan)


def check(reading: Reading) -> Iterator[Finding]:
    """The identity check: its steps in order (each sees what the ones before found)."""
    for step in STEPS:
        yield from step(reading)
