"""Read a returned workbook back: identity, structure, formula integrity, values, 审核 rules.

Nothing is trusted: the layout is recomputed from the spec and the workbook's recorded identity,
every cell of every sheet is compared with it, figures come only from input cells and every derived
figure is recomputed. Every problem is a Finding; a file that cannot be used at all yields
``usable=False`` (exit 2), never an exception.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..core.calc import CellKey, formula_values
from ..core.catalog import find_spec_dirs, load_spec
from ..core.cellformula import FormulaRefused, evaluate
from ..core.dataset import Dataset, Values
from ..core.expr import Fig, Items, a1, is_item_code, terms
from ..core.findings import ERROR, INFO, WARNING, Finding, exit_code, has_errors, sort_findings
from ..core.indicators import check_indicators
from ..core.layout import (
    CHECK as CHECK_SHEET,
)
from ..core.layout import (
    CODES,
    COVER,
    COVER_FIELDS,
    DEFAULT_KEY,
    MAX_SPARE_ROWS,
    MAX_UNITS,
    META,
    META_FIELDS,
    STYLE_FORMATS,
    SUMMARY_KINDS,
    CellPlan,
    LayoutError,
    SheetPlan,
    WorkbookPlan,
    fingerprint,
    identity,
    plan_workbook,
)
from ..core.model import Figures
from ..core.money import fmt, parse_lenient
from ..core.money import shown as shown_number
from ..core.rules import FAIL, RuleCells, RuleResult, evaluate_rules, expand_rules, rule_findings
from ..core.spec import MAX_CELL_TEXT, Spec, SpecInvalid
from .ooxml import Limits, RawBook, RawCell, RawSheet, XlsxError, open_xlsx

MAX_AMOUNT = Decimal("1e15")  # 万元; anything this large is not an amount (and would break exact arithmetic)
MAX_COVER_TEXT = 100  # characters of a cover field (names, phone, date)
MAX_NOTE_TEXT = 2000  # characters of a table's note (空表说明)
MAX_EXPLAIN_TEXT = 500  # characters of a 差异说明 (as on the web page)
MAX_NAME_TEXT = 200  # characters of a 科目 name typed over a spare row's name


@dataclass
class ReadResult:
    path: str
    usable: bool
    findings: list[Finding] = field(default_factory=list)
    template: dict[str, str] = field(default_factory=dict)
    dataset: Dataset | None = None
    values: Values = field(default_factory=dict)
    plan: WorkbookPlan | None = None
    results: list[RuleResult] = field(default_factory=list)
    spec: Spec | None = None

    @property
    def valid(self) -> bool:
        return self.usable and not has_errors(self.findings)

    @property
    def exit_code(self) -> int:
        return exit_code(self.usable, self.findings)

    def to_json(self) -> dict[str, Any]:
        ds = self.dataset or Dataset()
        return {
            "file": self.path,
            "usable": self.usable,
            "valid": self.valid,
            "template": self.template,
            "unit": {"code": ds.unit_code, "name": ds.unit_name},
            "year": ds.year,
            "values": {t: {r: {c: fmt(v) for c, v in cols.items()} for r, cols in rows.items()}
                       for t, rows in self.values.items()},
            "names": ds.names,
            "notes": ds.notes,
            "cover": ds.cover,
            "explanations": ds.explanations,
            "texts": ds.texts,
            "findings": [f.to_dict() for f in self.findings],
        }


class _Ctx:
    def __init__(self, path: str):
        self.path = path
        self.findings: list[Finding] = []
        self.text_numbers: dict[Fig, Decimal] = {}  # numbers typed as text (counted 0, as the workbook does)

    def add(self, code: str, severity: str, message: str, **kw: Any) -> None:
        self.findings.append(Finding(code, severity, message, **kw))


# A number as Excel and LibreOffice parse a cell's <v>: ASCII digits, one point, optional sign and
# exponent, nothing around it but XML whitespace. Python's Decimal() also takes "2_128.85", full-width or Arabic-Indic
# digits and surrounding spaces (NBSP included), which a spreadsheet shows as text or 0.
_XL_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def number_value(text: str) -> Decimal:
    """The number a cell holds, exactly. The XML carries a double; writers print it with up to 17
    significant digits (95.29 may come as 95.29000000000001), so long forms are read back as the
    shortest decimal that is the same double. Only the form a spreadsheet reads as a number counts
    (``_XL_NUMBER``); anything else raises InvalidOperation (the text it is). A number below the
    double range (1E-999999) is what a spreadsheet makes of it: 0."""
    text = text.strip(" \t\r\n")  # XML whitespace (xsd:double collapses it); NBSP and the like are not
    if len(text) > 400 or _XL_NUMBER.fullmatch(text) is None:
        raise InvalidOperation(f"not a number: {text[:40]}")
    d = Decimal(text)
    if not d.is_finite() or d.copy_abs() >= MAX_AMOUNT:
        raise InvalidOperation(f"not an amount: {text[:40]}")  # NaN, sNaN, ±Infinity, 1e27, 1e308
    # at most 15 digits when the text is at most 15 characters long: skip counting them
    if (len(text) > 15 and len(d.as_tuple().digits) > 15) or (d and d.adjusted() < -300):
        d = Decimal(repr(float(text)))
    return d


def _cell_text(c: RawCell | None) -> str:
    if c is None or c.value is None:
        return ""
    if c.type == "b":  # a boolean cell shows TRUE/FALSE, whatever text its <v> holds
        return "FALSE" if c.value.strip() in ("", "0", "false", "FALSE") else "TRUE"
    if c.type == "n":
        try:
            d = number_value(c.value)
            return format(d.normalize(), "f") if d == d.to_integral_value() else format(d, "f")
        except InvalidOperation:
            return c.value
    return c.value


_STRING_LITERAL = re.compile(r'("[^"]*")')
_XL_PREFIX = re.compile(r"_xlfn\.|_xlws\.", re.I)
_BOOL_CALL = re.compile(r"\b(TRUE|FALSE)\(\)", re.I)
_IGNORED = re.compile(r"[\s$']")


def normalize_formula(f: str) -> str:
    """Compare formulas as Excel, LibreOffice and WPS may write them: quoting of sheet names,
    $ anchors, case, spaces and the _xlfn. prefix do not matter (string literals are kept).
    Memoised for formulas of ordinary length: a batch of workbooks repeats the same formulas."""
    return _normalize_cached(f) if len(f) <= 1000 else _normalize(f)


def _normalize(f: str) -> str:
    parts = _STRING_LITERAL.split(f.strip().lstrip("="))
    out = []
    for i, p in enumerate(parts):
        if i % 2:
            out.append(p)
        else:
            p = _XL_PREFIX.sub("", p)
            p = _BOOL_CALL.sub(r"\1", p)
            out.append(_IGNORED.sub("", p).upper())
    return "".join(out)


_normalize_cached = functools.lru_cache(maxsize=4096)(_normalize)


def _parse_number(c: RawCell) -> tuple[Decimal | None, str | None, str | None]:
    """(value, finding code, severity) for an input amount cell."""
    if c.type == "e":
        return None, "cell-error-value", ERROR
    if c.type == "b":
        return None, "not-a-number", ERROR
    if c.type == "n":
        try:
            return number_value(c.value or "0"), None, None
        except InvalidOperation:
            return None, "not-a-number", ERROR
    text = c.value or ""
    if not text.strip():
        return None, None, None
    v = parse_lenient(text)
    if v is None or not v.is_finite() or v.copy_abs() >= MAX_AMOUNT:
        return None, "not-a-number", ERROR
    return v, "number-as-text", WARNING


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


def _find_spec(version: str, spec_dirs: list[Path] | None, spec_hash: str = "") -> tuple[Spec | None, list[str]]:
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


def _meta_values(sheet: RawSheet | None) -> dict[str, str]:
    if sheet is None:
        return {}
    out = {}
    for (r, c), cell in sheet.cells.items():
        if c == 0 and cell.value:
            val = sheet.cells.get((r, 1))
            out[cell.value] = _cell_text(val)
    return out


def _infer_sections(book: RawBook, spec: Spec) -> dict[str, list[str]]:
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
        body = 3 + len(t.header) + 1
        codes = []
        r = body
        while True:
            code, name = sheet.cells.get((r, ci)), sheet.cells.get((r, ni))
            if code is None or name is None or name.formula is not None or not _cell_text(code).isdigit():
                break
            codes.append(_cell_text(code))
            r += 1
        out[t.id] = codes
    return out


def _xlsx_finding(exc: XlsxError, path: str) -> Finding:
    """The unit's Chinese sentence; the library's own words, if any, kept for the office in extra."""
    return Finding(exc.code, ERROR, exc.message, file=path, extra={"exception": exc.detail} if exc.detail else {})


def read_workbook(
    path: str | Path,
    spec_dirs: list[Path] | None = None,
    key: str | None = None,
    expect_unit: str | None = None,
    expect_year: int | None = None,
    file_password: str | None = None,
    limits: Limits | None = None,
    spec: Spec | None = None,
) -> ReadResult:
    path = str(path)
    ctx = _Ctx(path)
    limits = limits or Limits()
    try:
        book = open_xlsx(path, limits, file_password)
    except XlsxError as exc:
        return ReadResult(path, False, [_xlsx_finding(exc, path)])
    except Exception as exc:  # noqa: BLE001 - the batch boundary: whatever a file does, it is that file's finding
        # the unit reads a Chinese sentence; what went wrong inside is kept for the office (extra)
        return ReadResult(path, False, [Finding("file-corrupt", ERROR, "文件已损坏，无法读取；请用下发的模板重新填报后报送",
                                                file=path, extra={"exception": f"{type(exc).__name__}: {exc}"})])
    try:
        res = _read(book, ctx, spec_dirs, key, expect_unit, expect_year, spec)
    except XlsxError as exc:
        res = ReadResult(path, False, ctx.findings + [_xlsx_finding(exc, path)])
    except LayoutError as exc:  # our own words (a 科目 no code list has, …): said as they are
        res = ReadResult(path, False, ctx.findings + [
            Finding("file-unreadable-structure", ERROR, f"工作簿无法按模板排布，无法读取：{exc}", file=path)])
    except Exception as exc:  # noqa: BLE001 - the batch boundary: a malformed file is a finding, never a traceback
        res = ReadResult(path, False, ctx.findings + [
            Finding("file-unreadable-structure", ERROR, "工作簿的内容组织得不像下发的模板，无法读取；请用下发的模板重新填报后报送",
                    file=path, extra={"exception": f"{type(exc).__name__}: {exc}"})])
    res.findings = cap_findings(res.findings, limits.max_findings)
    return res


def cap_findings(findings: list[Finding], limit: int) -> list[Finding]:
    """At most ``limit`` findings per file (errors first); the rest summed up in one finding by code,
    so one hostile file cannot flood the report or the database."""
    if len(findings) <= limit:
        return findings
    ordered = sort_findings(findings)
    kept, dropped = ordered[: max(limit - 1, 0)], ordered[max(limit - 1, 0):]
    by_code: dict[str, int] = {}
    for f in dropped:
        by_code[f.code] = by_code.get(f.code, 0) + 1
        summary = "，".join(f"{c} {n} 条" for c, n in sorted(by_code.items(), key=lambda kv: -kv[1])[:10])
    kept.append(Finding("findings-truncated", WARNING, f"问题过多：只列出前 {len(kept)} 条，另有 {len(dropped)} 条未逐条列出（{summary}）",
                        actual=str(len(findings)), extra={"dropped": by_code}))
    return kept


def _read(book: RawBook, ctx: _Ctx, spec_dirs: list[Path] | None, key: str | None, expect_unit: str | None,
          expect_year: int | None, spec: Spec | None) -> ReadResult:
    path = ctx.path
    for code, cell, message in book.problems:
        ctx.add(code, ERROR, message, cell=cell)
    external = book.external or [p for p in book.parts if p.lower().startswith("xl/externallinks/")]
    if external:
        ctx.add("external-link", ERROR, f"工作簿引用了其他工作簿或外部数据（{len(external)} 处：{'；'.join(external[:3])[:200]}），"
                                        "外部数据不会被读取或计算")
    meta_sheet = book.sheet(META)
    meta = _meta_values(meta_sheet)
    custom = {k.removeprefix("juesuan."): v for k, v in book.custom.items() if k.startswith("juesuan.")}
    if not meta and not custom:
        return ReadResult(path, False, [Finding("not-a-template", ERROR,
                                                "不是本系统下发的模板（找不到模板标识），无法识别", file=path)])
    if meta_sheet is None:
        ctx.add("meta-sheet-missing", ERROR, f"隐藏的标识工作表 {META} 已被删除", cell=META)
    if meta and not custom:
        ctx.add("doc-properties-missing", WARNING, "工作簿的自定义文档属性（docProps/custom.xml 中的模板标识）已被删除，"
                                                   "只能按标识表核对")
    ident_src = meta or custom
    for k in ("template", "version", "spec_hash", "unit_code", "unit_name", "year", "units", "kind", "spare_rows"):
        if meta and custom and (k in custom or k in meta) and custom.get(k) != meta.get(k):
            ctx.add("identity-mismatch", ERROR, f"文档属性与标识表中的 {k} 不一致（标识被改动）",
                    expected=meta.get(k), actual=custom.get(k), cell=f"{META}!B{META_FIELDS.index(k) + 1}")
    version = ident_src.get("version", "")
    broken: list[str] = []
    recorded_hash = ident_src.get("spec_hash", "")
    if spec is None or spec.version != version or (spec_dirs and spec.hash != recorded_hash):
        found, broken = _find_spec(version, spec_dirs, recorded_hash)
        if spec is None or spec.version != version or (found is not None and found.hash == recorded_hash):
            spec = found
    if spec is None:
        why = f"；以下规格目录有错误未能加载：{'、'.join(broken)}（用 juesuan check-spec 查看）" if broken else ""
        return ReadResult(path, False, ctx.findings + [Finding(
            "template-version-unknown", ERROR, f"模板版本 {version!r} 不在已知规格中，无法读取{why}", file=path,
            actual=version)])
    template = {"id": ident_src.get("template", ""), "version": version, "spec_hash": ident_src.get("spec_hash", "")}
    if template["id"] != spec.template:
        ctx.add("template-mismatch", ERROR, "不是本套模板", expected=spec.template, actual=template["id"])
    if template["spec_hash"] != spec.hash:
        ctx.add("template-spec-changed", ERROR, "模板生成后规格已变更（或标识被改动）；请按新模板重新填报或迁移",
                expected=spec.hash, actual=template["spec_hash"])
    unit_code, unit_name = ident_src.get("unit_code", ""), ident_src.get("unit_name", "")
    try:
        year = int(ident_src.get("year") or spec.year)
    except ValueError:
        year = spec.year
        ctx.add("identity-mismatch", ERROR, "年度标识无法识别", actual=ident_src.get("year"))
    units = 1
    if ident_src.get("units"):
        try:
            units = int(ident_src["units"])
            if not 1 <= units <= MAX_UNITS:
                raise ValueError(units)
        except ValueError:
            units = 1
            ctx.add("identity-mismatch", ERROR, "汇总单位数标识无法识别", actual=ident_src.get("units"),
                    cell=f"{META}!B{META_FIELDS.index('units') + 1}")
    kind = ident_src.get("kind") or ""
    spare_rows: int | None = None
    if ident_src.get("spare_rows"):
        try:
            spare_rows = int(ident_src["spare_rows"])
            if not 0 <= spare_rows <= MAX_SPARE_ROWS:
                raise ValueError(spare_rows)
        except ValueError:
            spare_rows = None
            ctx.add("identity-mismatch", ERROR, "新增科目行数标识无法识别", actual=ident_src.get("spare_rows"))
    if kind not in ("", *SUMMARY_KINDS):
        ctx.add("identity-mismatch", ERROR, "工作簿类别标识无法识别", actual=kind)
        kind = ""
    if expect_unit is not None and unit_code != expect_unit:
        ctx.add("wrong-unit", ERROR, "工作簿属于另一单位", expected=expect_unit, actual=unit_code)
    if expect_year is not None and year != expect_year:
        ctx.add("wrong-year", ERROR, "工作簿年度不符", expected=str(expect_year), actual=str(year))
    try:
        sections = json.loads(meta["sections"]) if "sections" in meta else _infer_sections(book, spec)
        names = json.loads(meta.get("names") or "{}")
        if not isinstance(sections, dict) or not isinstance(names, dict):
            raise ValueError("not a mapping")
        sections = {str(t): [str(c) for c in v] for t, v in sections.items()}
        names = {str(k): str(v) for k, v in names.items()}
    except (ValueError, TypeError):
        ctx.add("identity-mismatch", ERROR, "标识表中的科目清单已损坏", cell=f"{META}!B8")
        sections, names = _infer_sections(book, spec), {}
    if not key:  # no key configured: the built-in one, which everybody has
        key = DEFAULT_KEY
        ctx.add("default-key-in-use", WARNING, "未设置指纹密钥，按内置的公开默认密钥校验：任何人都能为任何单位生成可通过校验的工作簿；"
                                               "请用 juesuan key init 生成密钥")
    ident = identity(template["id"], version, template["spec_hash"], unit_code, unit_name, year, units, kind, spare_rows)
    expected_fp = fingerprint(ident, sections, names, key)
    if meta and meta.get("fingerprint") != expected_fp:
        ctx.add("fingerprint-mismatch", ERROR, "指纹校验不通过：单位标识或模板结构被改动，或密钥不符",
                cell=f"{META}!B{META_FIELDS.index('fingerprint') + 1}")
    names = _shown_names(book, spec, sections, names)  # after the fingerprint: it covers the recorded names only
    try:
        plan = plan_workbook(spec, unit_code, unit_name, year, sections, names, key, units=units, kind=kind,
                             spare_rows=spare_rows)
    except LayoutError as exc:  # 科目 rows the spec's code list lacks, with no name shown for them
        if {f.code for f in ctx.findings} & {"fingerprint-mismatch", "identity-mismatch"}:
            raise  # an edited 科目 list, not the round's codes: the file is unreadable (the caller says so)
        return ReadResult(path, False, ctx.findings + [Finding(
            "spec-codes-missing", ERROR,
            f"无法按 {spec.version} 版模板读取：{exc}。工作簿用到了本轮代码表中没有的科目代码（生成模板时导入过代码表？）："
            "主管部门请先用 juesuan codes import 把本轮的代码表导入，或用生成本模板的规格读取（--specs）",
            file=path, expected=spec.hash, actual=template["spec_hash"])])
    plan.fingerprint = meta.get("fingerprint", plan.fingerprint) if meta else plan.fingerprint
    ds = Dataset(unit_code=unit_code, unit_name=unit_name, year=year, names=dict(names))
    _check_structure(book, plan, ctx)
    inputs, cell_inputs, code_texts = _read_cells(book, plan, ds, ctx)
    figures = Figures(spec, inputs)
    ds.values = inputs
    expected, plan_results = formula_values(plan, figures, ds.notes, cell_inputs, code_texts)
    _check_formulas(book, plan, expected, ctx)
    # rules over every 科目 actually reported (spare rows included); when those are the plan's own
    # instances (no spare row used), their results were just computed on the same figures
    instances = expand_rules(spec, figures.item_codes)
    if len(instances) == len(plan.rule_instances) and all(a is b for a, b in zip(instances, plan.rule_instances, strict=True)):
        results = plan_results
    else:
        results = evaluate_rules(spec, figures, ds.notes, instances, units)

    for bad in sorted(set(book.bad_formats)):
        why = format_problem(bad)
        if why is not None:
            ctx.add("number-format-changed", ERROR, f"条件格式把数字显示为 {bad[:60]}（{why}）：满足条件时屏幕上的数与实际值不符",
                    cell="styles.xml", actual=bad[:200])
    failing = _not_caused_by_text(spec, inputs, ds.notes, instances, units, results, ctx)
    ctx.findings.extend(rule_findings(failing, ds.explanations, lambda inst: rule_cells(plan, figures, inst)))

    def locate_fig(table: str, row: str, col: str) -> str | None:
        pos = plan.fig_cells.get(Fig(table, row, col))
        return f"{pos[0]}!{a1(pos[1], pos[2])}" if pos else None

    ctx.findings.extend(check_indicators(spec, inputs, ds.texts, locate_fig))
    _outdated(ctx, plan, template, bool(meta))
    return ReadResult(path, True, ctx.findings, template, ds, figures.all_values(), plan, results, spec)


def _shown_names(book: RawBook, spec: Spec, sections: dict[str, list[str]], names: dict[str, str]) -> dict[str, str]:
    """``names`` plus, for every 科目 row whose code the spec's code list lacks (a template of an older
    code list: the round's own codes, imported after), the name the workbook shows for it — its
    hidden 代码表 sheet, from which the template was built — so its rows are laid out as shown and
    the name travels on (``migrate``)."""
    missing = set()
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
        code = _cell_text(cell) if c == 0 else ""
        if code in missing:
            name = _cell_text(sheet.cells.get((r, 1))).strip()
            if name:
                shown[code] = name
    return {**names, **shown}


def _outdated(ctx: _Ctx, plan: WorkbookPlan, template: dict[str, str], has_meta: bool) -> None:
    """A genuine template of an older spec of the same version (its recorded identity intact: the
    fingerprint holds, the template id is this one, only the spec hash differs) is one finding,
    ``template-outdated``, with the way out (``juesuan migrate``): its hidden sheets (the identity
    sheet, the code list) differ from the current spec's because the spec changed, not because the
    unit changed them, so they are not reported as tampering."""
    codes = {f.code for f in ctx.findings}
    if (not has_meta or template["spec_hash"] == plan.spec.hash or template["id"] != plan.spec.template
            or "fingerprint-mismatch" in codes or "identity-mismatch" in codes):
        return
    hidden = {s.name for s in plan.sheets if s.state != "visible"}

    def on_hidden(f: Finding) -> bool:
        where = f.cell or ""
        return (where.split("!", 1)[0] if "!" in where else where) in hidden

    ctx.findings[:] = [f for f in ctx.findings if f.code != "template-spec-changed" and not on_hidden(f)]
    ctx.findings.insert(0, Finding(
        "template-outdated", ERROR,
        f"按旧版模板填报：本工作簿由 {template['version']} 版的旧版模板生成，本轮的代码表或模板已更新。"
        "所填数据可以保留：主管部门可用 juesuan migrate 把它迁移为新模板，由单位核对后报回；或按新模板重新填报",
        file=ctx.path, expected=plan.spec.hash, actual=template["spec_hash"]))


def _not_caused_by_text(spec: Spec, inputs: Values, notes: dict[str, str], instances: list[Any], units: int,
                        results: list[RuleResult], ctx: _Ctx) -> list[RuleResult]:
    """One cause, one finding: rules that fail only because numbers were typed as text (they pass
    with those numbers counted) are not reported on their own; the text cells' findings say so."""
    if not ctx.text_numbers:
        return results
    alt: Values = {t: {r: dict(c) for r, c in rows.items()} for t, rows in inputs.items()}
    for f, v in ctx.text_numbers.items():
        alt.setdefault(f.table, {}).setdefault(f.row, {})[f.col] = v
    alt_figures = Figures(spec, alt)
    alt_results = evaluate_rules(spec, alt_figures, notes, expand_rules(spec, alt_figures.item_codes), units)
    passing = {a.instance.id for a in alt_results if a.status != FAIL}
    caused = [r for r in results if r.status == FAIL and r.instance.id in passing]
    if caused:
        note = f"；因此有 {len(caused)} 条审核不通过，改为数字后即可通过"
        ctx.findings[:] = [replace(f, message=f.message + note, extra={**f.extra, "rules": [r.instance.id for r in caused]})
                           if f.code == "number-as-text" else f for f in ctx.findings]
    return [r for r in results if r not in caused]


def rule_cells(plan: WorkbookPlan, figures: Figures, inst: Any) -> RuleCells:
    """The data cells a rule instance compares (each side), and its 审核 row."""
    r = plan.rule_rows.get(inst.id)
    check = f"{CHECK_SHEET}!H{r + 1}" if r is not None else None

    def where(pos: tuple[str, int, int] | None) -> list[str]:
        return [f"{pos[0]}!{a1(pos[1], pos[2])}"] if pos is not None else []

    def cell_of(f: Fig) -> tuple[str, int, int] | None:
        pos = plan.fig_cells.get(f)
        r = plan.used_spare.get((f.table, f.row)) if pos is None else None
        sp = plan.spare.get(f.table)
        if r is not None and sp is not None and f.col in sp.value_cols:
            return plan.spec.tables[f.table].sheet, r, sp.value_cols[f.col]  # a 项 typed into a spare row
        return pos

    def side(node: Any) -> list[str]:
        out: list[str] = []
        for t in terms(node):
            found = where(cell_of(t) if isinstance(t, Fig) else plan.items_cell(t))
            if not found and isinstance(t, Items):  # a 类/款 without a row: its 项 rows
                found = [c for code in figures.item_codes(t.table) if code.startswith(t.prefix)
                         for c in where(cell_of(Fig(t.table, code, t.col)))]
            out += [c for c in found if c not in out]
        return out

    rule = inst.rule
    if inst.node is not None:
        return RuleCells(side(inst.node.left), side(inst.node.right), check)
    if rule.kind == "statement":
        t = plan.spec.tables.get(rule.table or "")
        st = plan.sheet(t.sheet).statement_cell if t is not None else None
        return RuleCells([f"{t.sheet}!{a1(*st)}"] if t is not None and st else [], [], check)
    if rule.kind == "subset":
        inner = set(figures.item_codes(rule.in_ or ""))
        missing = [c for c in figures.item_codes(rule.of or "") if c not in inner]
        sp = plan.spare.get(rule.of or "")
        cells: list[str] = []
        for code in missing:
            pos = next((p for f, p in plan.fig_cells.items() if f.table == rule.of and f.row == code), None)
            if pos is not None and sp is not None:
                cells.append(f"{pos[0]}!{a1(pos[1], sp.code_col)}")
            elif sp is not None and (rule.of, code) in plan.used_spare:
                t = plan.spec.tables[rule.of or ""]
                cells.append(f"{t.sheet}!{a1(plan.used_spare[(rule.of or '', code)], sp.code_col)}")
        if not cells and sp is not None:
            t = plan.spec.tables[rule.of or ""]
            cells = [f"{t.sheet}!{a1(sp.first, sp.code_col)}"]
        return RuleCells(cells, [], check)
    return RuleCells([], [], check)


def _check_structure(book: RawBook, plan: WorkbookPlan, ctx: _Ctx) -> None:
    expected = [s.name for s in plan.sheets]
    actual = [s.name for s in book.sheets]
    for name in expected:
        if name not in actual:
            code = "meta-sheet-missing" if name == META else "sheet-missing"
            if code == "meta-sheet-missing" and any(f.code == code for f in ctx.findings):
                continue
            ctx.add(code, ERROR, f"缺少工作表 {name}（被删除或改名）", cell=name, expected=name)
    for name in actual:
        if name not in expected:
            ctx.add("sheet-extra", ERROR, f"多出工作表 {name}（被新增或改名）", cell=name, actual=name)
    folded: dict[str, int] = {}
    for name in actual:
        key = unicodedata.normalize("NFKC", name).casefold()
        folded[key] = folded.get(key, 0) + 1
        if folded[key] == 2:
            ctx.add("sheet-name-duplicate", ERROR, f"工作表名 {name} 出现不止一次（不区分大小写）；电子表格软件会显示另一张同名表，"
                                                   "显示的与核对的可能不是同一张", cell=name, actual=name)
    _check_defined_names(book, ctx)
    common = [n for n in actual if n in expected]
    if common != [n for n in expected if n in actual]:
        ctx.add("sheet-order-changed", WARNING, "工作表顺序被改变")
    if not book.structure_locked:
        # LibreOffice and WPS drop the lock on save: protection is a courtesy, every cell is verified below
        ctx.add("structure-unlocked", INFO, "工作簿结构保护未保留（用 LibreOffice 或 WPS 保存时常见）；各表已逐格核对，无需处理")
    for sp in plan.sheets:
        raw = book.sheet(sp.name)
        if raw is None:
            continue
        if not raw.protected:
            ctx.add("sheet-unprotected", WARNING, f"工作表 {sp.name} 的保护已被取消", cell=sp.name)
        if sp.state == "veryHidden" and raw.state != "veryHidden":
            if raw.state == "hidden":
                ctx.add("hidden-sheet-state", INFO, f"工作表 {sp.name} 的隐藏方式在 LibreOffice 另存时改变（仍为隐藏），无需处理", cell=sp.name)
            else:
                ctx.add("hidden-sheet-visible", WARNING, f"隐藏的工作表 {sp.name} 被取消隐藏", cell=sp.name)
        elif sp.state == "hidden" and raw.state == "visible":
            ctx.add("hidden-sheet-visible", WARNING, f"隐藏的工作表 {sp.name} 被取消隐藏", cell=sp.name)
        elif sp.state == "visible" and raw.state != "visible":
            ctx.add("sheet-hidden", ERROR, f"工作表 {sp.name} 被隐藏：其中的数看不到却会被收录", cell=sp.name)
        _check_display(book, sp, raw, ctx)
        if set(sp.merges) != raw.merges:
            missing = sorted(set(sp.merges) - raw.merges)
            extra = sorted(raw.merges - set(sp.merges))
            desc = "；".join([f"缺少合并 {a1(m[0], m[1])}:{a1(m[2], m[3])}" for m in missing[:3]] +
                            [f"多出合并 {a1(m[0], m[1])}:{a1(m[2], m[3])}" for m in extra[:3]])
            ctx.add("merge-changed", ERROR, f"{sp.name} 的合并单元格被改变：{desc}", cell=sp.name)


_FMT_TAG = re.compile(r"\[(black|blue|cyan|green|magenta|red|white|yellow|color\s*\d{1,2})\]|\[\$[^\]]*\]", re.I)
_FMT_ESCAPES = re.compile(r"\\[-() ]|_.|\* ")
_FMT_ALLOWED = set("0#?,. -()+")
_FMT_DECIMALS = re.compile(r"\.[0#?]{2,}")


def format_problem(code: str) -> str | None:
    """Why a number format shows something other than the amount stored (None: it shows the amount).

    A format shows the amount when each of its sections is made of digit placeholders, grouping,
    a decimal point with at least 2 decimals, signs, parentheses, spaces, colours and locale tags;
    the negative section shows a sign or parentheses; the zero section may be empty or a dash; a
    text section holds @. Quoted text, conditions ([<0]), %, scientific or date codes are refused:
    ``[<0]#,##0.00;"2,222.22"`` prints every amount as 2,222.22."""
    if code in ("General", "@", "0.00", "#,##0.00"):
        return None
    if code.startswith("builtin:") or code == "?":
        return f"内置格式 {code.removeprefix('builtin:')}（非数字金额格式）"
    if "[" in _FMT_TAG.sub("", code):
        return "含条件或未知的方括号标记"
    plain = _FMT_TAG.sub("", code)
    plain = plain.replace('"-"', "-")
    plain = _FMT_ESCAPES.sub(lambda m: m.group(0)[-1] if m.group(0)[0] == "\\" else " ", plain)
    sections = plain.split(";")
    if len(sections) > 4:
        return "节数过多"
    for i, sec in enumerate(sections):
        if i == 3:
            if sec.strip() and "@" not in sec:
                return "文本节不显示文本"
            if set(sec) - set("@ "):
                return "文本节含其他内容"
            continue
        if i == 2 and sec.strip() in ("", "-"):
            continue
        if set(sec) - _FMT_ALLOWED:
            bad = "".join(sorted(set(sec) - _FMT_ALLOWED))[:10]
            return f"含文字或符号 {bad!r}（会显示为别的内容）"
        if not any(ch in sec for ch in "0#?"):
            return "某节不显示数字"
        if i < 2 and not _FMT_DECIMALS.search(sec):
            return "少于两位小数（显示的数与实际值不同）"
        if i == 1 and "-" not in sec and "(" not in sec:
            return "负数显示为正数"
    return None


def _check_display(book: RawBook, sp: SheetPlan, raw: RawSheet, ctx: _Ctx) -> None:
    """What a person sees must be what is stored: the number format of every amount cell (styles.xml),
    and no figure in a hidden row or column."""
    if not book.formats:
        return
    bad: dict[str, list[str]] = {}
    hidden: list[str] = []
    any_hidden = sp.state == "visible" and bool(raw.hidden_rows or raw.hidden_cols)
    verdicts: dict[tuple[int, str], str | None] = {}  # (cell style index, plan style) -> problem
    for (r, c), cell in sp.cells.items():
        if cell.kind not in ("input", "formula", "number"):
            continue
        got = raw.cells.get((r, c))
        if got is None:
            continue
        vk = (got.style, cell.style)
        if vk in verdicts:
            why = verdicts[vk]
        else:
            code = book.format_of(got)
            # the format the plan writes on this style (0.00% on a rate) is no problem
            why = None if code == STYLE_FORMATS.get(cell.style) else format_problem(code)
            verdicts[vk] = why = None if why is None else f"{code}（{why}）"
        if why is not None:
            bad.setdefault(why, []).append(a1(r, c))
        if any_hidden and (r in raw.hidden_rows or raw.col_hidden(c)) and (
                got.formula is not None or _cell_text(got).strip()):
            hidden.append(a1(r, c))
    for what, cells in bad.items():
        ctx.add("number-format-changed", ERROR, f"{sp.name} 的 {len(cells)} 个金额单元格（{'、'.join(cells[:5])}"
                                                f"{'等' if len(cells) > 5 else ''}）的显示格式被改为 {what[:120]}：屏幕和打印上的数与实际值不符",
                cell=f"{sp.name}!{cells[0]}", actual=what[:200])
    if hidden:
        ctx.add("data-hidden", ERROR, f"{sp.name} 有数据的单元格所在的行或列被隐藏（{'、'.join(hidden[:5])}"
                                      f"{'等' if len(hidden) > 5 else ''}）：看不到的数也会被收录", cell=f"{sp.name}!{hidden[0]}")


_BUILTIN_NAMES = {"_xlnm.print_titles", "_xlnm.print_area", "_xlnm._filterdatabase"}
_RANGE_LIST = re.compile(r"^\s*(('[^']+'|[^'!\s(),\[\]]+)!)?\$?[A-Z]{0,3}\$?\d*(:\$?[A-Z]{0,3}\$?\d*)?"
                         r"(\s*,\s*(('[^']+'|[^'!\s(),\[\]]+)!)?\$?[A-Z]{0,3}\$?\d*(:\$?[A-Z]{0,3}\$?\d*)?)*\s*$", re.I)


def _check_defined_names(book: RawBook, ctx: _Ctx) -> None:
    """The template defines only print titles. Any other name -- or a print setting that is more than
    a range -- can stand in a formula for anything (``x`` = ``WEBSERVICE(…)``): refused."""
    for name, _local, text in book.defined_names:
        if name.lower() in _BUILTIN_NAMES and _RANGE_LIST.match(text):
            continue
        ctx.add("defined-name-unexpected", ERROR, f"工作簿定义了模板中没有的名称 {name[:40]} = {text[:80]}；"
                                                  "名称可在公式中代替任何内容（外部数据、函数），已拒绝其使用",
                actual=f"{name[:40]}={text[:120]}")


def _label_of(sp: SheetPlan, cell: CellPlan) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if sp.table is not None:
        kw["table"] = sp.table.id
    if cell.fig is not None:
        kw["row"], kw["col"] = cell.fig.row, cell.fig.col
    return kw


def _shift(sp: SheetPlan, raw: RawSheet, r: int, c: int, text: str) -> tuple[str, int] | None:
    """Is the expected text found a few rows/columns away? Then rows/columns were inserted or deleted."""
    if not text:
        return None
    for k in range(1, 6):
        for dr, dc, what in ((k, 0, "row-inserted"), (-k, 0, "row-deleted"), (0, k, "col-inserted"), (0, -k, "col-deleted")):
            other = raw.cells.get((r + dr, c + dc))
            if other is not None and _cell_text(other) == text:
                return what, k
    return None


_CENT = Decimal("0.01")
_MICRO = Decimal("0.000001")


def _codelist_codes(spec: Spec) -> frozenset[str]:
    """Every code of the spec's code lists (once per spec)."""
    memo = spec.cache("reader")
    codes = memo.get("codelist_codes")
    if codes is None:
        codes = memo["codelist_codes"] = frozenset(c for cl in spec.codelists.values() for c in cl.codes)
    return codes


def _read_cells(book: RawBook, plan: WorkbookPlan, ds: Dataset,
                ctx: _Ctx) -> tuple[Values, dict[CellKey, Decimal], dict[CellKey, str]]:
    inputs: Values = {}
    cell_inputs: dict[CellKey, Decimal] = {}
    code_texts: dict[CellKey, str] = {}
    typed_names: dict[CellKey, str] = {}
    known_codes = _codelist_codes(plan.spec) | set(plan.names)
    for sp in plan.sheets:
        raw = book.sheet(sp.name)
        if raw is None:
            continue
        shifted = False
        raw_cells = raw.cells
        for (r, c), cell in sorted(sp.cells.items()):
            got = raw_cells.get((r, c))
            kind = cell.kind
            if kind == "formula":
                if cell.calc and cell.calc[0] == "name" and got is not None and got.formula is None:
                    typed_names[(sp.name, r, c)] = _bounded_text(  # a spare row's name typed over
                        _cell_text(got).strip(), MAX_NAME_TEXT, f"{sp.name}!{a1(r, c)}", ctx, {})
                continue  # checked by _check_formulas
            if kind == "text":
                # the common case first: the fixed text is there, unchanged (nothing to report)
                if got is None:
                    if not cell.text:
                        continue
                elif got.formula is None and got.type != "n" and got.value == cell.text:
                    continue
            where = f"{sp.name}!{a1(r, c)}"
            if kind == "text" or kind == "number":
                kw = _label_of(sp, cell)
                want = cell.text
                have = _cell_text(got)
                if kind == "number" and got is not None and got.formula is None:
                    try:
                        same = number_value(got.value or "") == Decimal(want)
                    except InvalidOperation:
                        same = False
                    if same:
                        continue
                if got is not None and got.formula is not None:
                    ctx.add("label-changed", ERROR, f"{where} 应为固定内容，却被改为公式", cell=where,
                            expected=want, actual="=" + got.formula, **kw)
                elif have != want:
                    if shifted:
                        continue
                    moved = _shift(sp, raw, r, c, want)
                    if moved:
                        shifted = True
                        what, k = moved
                        zh = {"row-inserted": "插入了行", "row-deleted": "删除了行", "col-inserted": "插入了列",
                              "col-deleted": "删除了列"}[what]
                        ctx.add(what, ERROR, f"{sp.name} 在 {a1(r, c)} 附近{zh}（内容错位 {k} 格），之后的内容不再逐格报告",
                                cell=where, expected=want, actual=have, **kw)
                    else:
                        code = "meta-changed" if sp.kind == "meta" else "label-changed"
                        ctx.add(code, ERROR, f"{where} 的内容被改动", cell=where, expected=want, actual=have, **kw)
            elif kind == "input":
                if got is None:
                    value = None
                elif got.formula is not None:
                    value = input_formula(got, where, _label_of(sp, cell), ctx)
                else:
                    value, code, sev = _parse_number(got)
                    if code == "number-as-text":
                        # the workbook's own sums (SUM, SUMPRODUCT, N()) count text as 0: so does the reader
                        ctx.add(code, ERROR, f"{where} 填的是文字“{got.value}”而不是数字，表内合计和审核都没有计入它；"
                                f"请在该单元格重新输入数字 {fmt(value, True)}", cell=where,
                                actual=got.value, expected=fmt(value, True), **_label_of(sp, cell))
                        if cell.fig is not None and value is not None:
                            ctx.text_numbers[cell.fig] = value
                        value = None
                    elif code is not None:
                        ctx.add(code, ERROR, f"{where} 应为金额，实为 {got.value!r}，未导入", cell=where,
                                actual=got.value, **_label_of(sp, cell))
                if value is None:
                    if cell.fig is not None and is_item_code(cell.fig.row):
                        inputs.setdefault(cell.fig.table, {}).setdefault(cell.fig.row, {})[cell.fig.col] = Decimal(0)
                    continue
                if value < 0 and not cell.negative:
                    ctx.add("negative-value", ERROR, f"{where} 不应为负数", cell=where, actual=fmt(value, True),
                            **_label_of(sp, cell))
                if cell.validate == "count" and value != value.to_integral_value():
                    ctx.add("count-not-whole", ERROR, f"{where} 是数量（人、辆、台（套）等），应为整数，实为 {shown_number(value)}，"
                            "未导入", cell=where, actual=shown_number(value), **_label_of(sp, cell))
                    continue
                if value != value.quantize(_CENT):
                    ctx.add("too-many-decimals", WARNING, f"{where} 超过两位小数，报告中按 {fmt(value, True)} 显示，保留原值",
                            cell=where, actual=shown_number(value), **_label_of(sp, cell))
                cell_inputs[(sp.name, r, c)] = value
                if cell.fig is not None:
                    inputs.setdefault(cell.fig.table, {}).setdefault(cell.fig.row, {})[cell.fig.col] = value
            elif kind == "code":
                text = _cell_text(got).strip()
                if got is not None and got.formula is not None:
                    ctx.add("formula-in-text-cell", ERROR, f"{where} 科目代码不应是公式", cell=where, **_label_of(sp, cell))
                    text = ""
                code_texts[(sp.name, r, c)] = text
            elif kind == "field":
                if got is not None and cell.fig is not None:
                    if got.formula is not None:
                        ctx.add("formula-in-text-cell", ERROR, f"{where} 应填文字，不应是公式，未导入", cell=where,
                                actual="=" + got.formula[:200], **_label_of(sp, cell))
                        continue
                    text = _bounded_text(_cell_text(got), cell.max_length, where, ctx, _label_of(sp, cell))
                    if text.strip():
                        f = cell.fig
                        ds.texts.setdefault(f.table, {}).setdefault(f.row, {})[f.col] = text
            elif kind == "note":
                if sp.table is not None and got is not None:
                    ds.notes[sp.table.id] = _bounded_text(_cell_text(got), MAX_NOTE_TEXT, where, ctx,
                                                          {"table": sp.table.id})
            elif kind == "cover":
                if got is not None and _cell_text(got):
                    text = _cell_text(got)
                    if len(text) > MAX_COVER_TEXT:
                        ctx.add("cover-field-too-long", ERROR, f"{where} 封面“{cell.label}”过长（{len(text)} 个字符，上限 "
                                                               f"{MAX_COVER_TEXT}），只收录前 {MAX_COVER_TEXT} 个字符",
                                cell=where, actual=text[:MAX_COVER_TEXT] + "…")
                        text = text[:MAX_COVER_TEXT]
                    ds.cover[cell.label] = text
            elif kind == "explain":
                if got is not None and _cell_text(got).strip():
                    text = _bounded_text(_cell_text(got).strip(), MAX_EXPLAIN_TEXT, where, ctx, {})
                    if text:
                        ds.explanations[cell.label.replace("差异说明 ", "")] = text
        # anything typed where the plan has nothing
        for (r, c), got in raw.cells.items():
            if (r, c) in sp.cells:
                continue
            if got.formula is None and not _cell_text(got).strip():
                continue
            where = f"{sp.name}!{a1(r, c)}"
            shown = ("=" + got.formula) if got.formula is not None else _cell_text(got)
            kw2: dict[str, Any] = {"table": sp.table.id} if sp.table else {}
            if not shifted:
                ctx.add("value-outside-input", ERROR, f"{where} 不是填报单元格，其内容未导入：{shown[:50]}",
                        cell=where, actual=shown[:200], **kw2)
        if sp.spare is not None:
            _read_spare(sp, plan, raw, inputs, cell_inputs, code_texts, known_codes, ctx, typed_names, ds.names)
    # section codes must be unique and well formed
    return inputs, cell_inputs, code_texts


def _bounded_text(text: str, cap: int, where: str, ctx: _Ctx, kw: dict[str, Any]) -> str:
    """A typed text within its limits: over what a spreadsheet cell holds (32,767 characters: the
    file was not made by a spreadsheet) it is refused and not imported; over the field's own limit
    (the spec's ``max_length``) it is an error and kept cut there."""
    if len(text) > MAX_CELL_TEXT:
        ctx.add("text-too-long", ERROR, f"{where} 的文字有 {len(text)} 个字符，超过单元格上限 {MAX_CELL_TEXT}（不是电子表格能保存的内容），"
                                        "未导入", cell=where, actual=text[:100], expected=f"≤ {MAX_CELL_TEXT} 个字符", **kw)
        return ""
    if cap and len(text) > cap:
        ctx.add("text-too-long", ERROR, f"{where} 的文字有 {len(text)} 个字符，超过该栏上限 {cap}，只收录前 {cap} 个字符；"
                                        "请精简后重新填写", cell=where, actual=text[:100], expected=f"≤ {cap} 个字符", **kw)
        return text[:cap]
    return text


def input_formula(got: RawCell, where: str, kw: dict[str, Any], ctx: _Ctx) -> Decimal | None:
    """A formula typed into an input cell: evaluated here when it is made of numbers, + - * / %, SUM
    and ROUND only (the cached result in the file is never taken; one that differs is reported);
    refused and not imported when it refers to anything (cells, other sheets, other workbooks, names)."""
    f = got.formula or ""
    try:
        value = evaluate(f)
    except FormulaRefused as exc:
        ctx.add("formula-forbidden", ERROR, f"{where} 含不允许的公式（{exc}），未计算、未导入", cell=where,
                actual="=" + f[:200], **kw)
        return None
    ctx.add("formula-in-input", WARNING, f"{where} 填的是公式 ={f[:60]}，按其计算结果 {shown_number(value)} 读入",
            cell=where, actual="=" + f[:200], **kw)
    if got.value is not None:
        try:
            cached = number_value(got.value) if got.type == "n" else None
        except InvalidOperation:
            cached = None
        if cached is None or abs(cached - value) > _MICRO:
            ctx.add("stale-cached-value", ERROR, f"{where} 显示的结果 {got.value[:30]} 与公式 ={f[:60]} 的计算结果 {shown_number(value)} 不符"
                                                 "（结果过期或被伪造）；按计算结果读入", cell=where, expected=shown_number(value),
                    actual=got.value[:200], **kw)
    return value


def _read_spare(sp: SheetPlan, plan: WorkbookPlan, raw: RawSheet, inputs: Values, cell_inputs: dict[CellKey, Decimal],
                code_texts: dict[CellKey, str], known_codes: set[str], ctx: _Ctx, typed_names: dict[CellKey, str],
                names: dict[str, str]) -> None:
    """A spare row counts as the workbook counts it: a 7-character code takes its amounts into
    合计 and its 类/款, known or not. A code not in the code list is imported under the name typed
    over the name cell (a warning), or, without a name, still imported and reported as an error."""
    assert sp.spare is not None and sp.table is not None
    t = sp.table
    spare = sp.spare
    prefilled = set(plan.sections.get(t.id, []))
    seen: set[str] = set()
    for r in range(spare.first, spare.last + 1):
        code = code_texts.get((sp.name, r, spare.code_col), "")
        code = unicodedata.normalize("NFKC", code).strip()
        if code.endswith(".0") and code[:-2].isdigit():
            code = code[:-2]
        vals = {k: cell_inputs.get((sp.name, r, ci)) for k, ci in spare.value_cols.items()}
        has_values = any(v not in (None, Decimal(0)) for v in vals.values())
        where = f"{sp.name}!{a1(r, spare.code_col)}"
        if not code:
            if has_values:
                shown = "，".join(f"栏{k} {fmt(v, True)}" for k, v in vals.items() if v)
                ctx.add("spare-row-without-code", ERROR, f"{where} 新增科目行填了金额却没有科目代码，未导入：{shown}",
                        cell=where, table=t.id)
            continue
        if not is_item_code(code):
            ctx.add("code-malformed", ERROR, f"{where} 科目代码 {code!r} 应为 7 位项级代码，本行未导入", cell=where, table=t.id,
                    actual=code)
            continue
        typed = typed_names.get((sp.name, r, spare.name_col), "")
        if code not in known_codes:
            name_at = f"{sp.name}!{a1(r, spare.name_col)}"
            if typed and not typed.startswith("（"):
                ctx.add("code-unknown", WARNING, f"{where} 科目代码 {code} 不在代码表中，已按填写的名称“{typed}”导入；"
                        "请确认代码无误", cell=where, table=t.id, row=code, actual=code)
                names[code] = typed
            else:
                ctx.add("code-unknown-unnamed", ERROR, f"{where} 科目代码 {code} 不在代码表中，也没有填写科目名称：金额已按表内公式计入合计，"
                        f"请核对代码，或在 {name_at} 填写科目名称", cell=where, table=t.id, row=code, actual=code)
                names.setdefault(code, f"科目{code}")
        if code in prefilled or code in seen:
            ctx.add("duplicate-code", ERROR, f"{where} 科目代码 {code} 重复出现，金额已合并计入", cell=where, table=t.id,
                    row=code, actual=code)
        seen.add(code)
        plan.used_spare.setdefault((t.id, code), r)
        row = inputs.setdefault(t.id, {}).setdefault(code, {})
        for k, v in vals.items():
            col = next((x for x in t.section.value_columns if x.key == k), None) if t.section else None
            if col is not None and col.formula:
                continue
            row[k] = row.get(k, Decimal(0)) + (v or Decimal(0))


def _check_formulas(book: RawBook, plan: WorkbookPlan, expected: dict[CellKey, Any], ctx: _Ctx) -> None:
    stale: list[Finding] = []
    _check_formula_cells(book, plan, expected, _Ctx(ctx.path), ctx, stale)
    _report_stale(stale, ctx)


def _report_stale(stale: list[Finding], ctx: _Ctx) -> None:
    """Cached results that differ from the recomputation: one finding per sheet (their one cause
    is a file saved without recalculating, or edited outside a spreadsheet); the 审核 sheet only
    when no table sheet is stale (its results follow from the tables')."""
    by_sheet: dict[str, list[Finding]] = {}
    for f in stale:
        by_sheet.setdefault((f.cell or "").split("!")[0], []).append(f)
    if len(by_sheet) > 1:
        by_sheet.pop(CHECK_SHEET, None)
    for sheet, fs in by_sheet.items():
        first = fs[0]
        cells = "、".join((f.cell or "").split("!")[-1] for f in fs[:5]) + ("等" if len(fs) > 5 else "")
        msg = (f"{sheet} 有 {len(fs)} 个公式单元格（{cells}）显示的结果与按表内数据重新计算的不符："
               "文件保存前没有重新计算，或计算结果被改动")
        ctx.findings.append(Finding("stale-cached-value", ERROR, msg, table=first.table, row=first.row, col=first.col,
                                    cell=first.cell, expected=first.expected, actual=first.actual,
                                    extra={"cells": [f.cell for f in fs]}))


def _check_formula_cells(book: RawBook, plan: WorkbookPlan, expected: dict[CellKey, Any], _unused: _Ctx, ctx: _Ctx,
                         stale: list[Finding]) -> None:
    for sp in plan.sheets:
        raw = book.sheet(sp.name)
        if raw is None:
            continue
        raw_cells = raw.cells
        for (r, c), cell in sp.cells.items():
            if cell.kind != "formula":
                continue
            got = raw_cells.get((r, c))
            if cell.calc and cell.calc[0] == "name" and (got is None or got.formula is None):
                continue  # a spare row's name cell: a typed name is allowed (read with the row)
            if got is None or got.formula is None:
                where = f"{sp.name}!{a1(r, c)}"
                ctx.add("formula-replaced", ERROR, f"{where} 的公式被删除或被改为常数", cell=where,
                        expected="=" + cell.formula, actual=_cell_text(got) or "（空）", **_label_of(sp, cell))
                continue
            if got.formula != cell.formula and normalize_formula(got.formula) != normalize_formula(cell.formula):
                where = f"{sp.name}!{a1(r, c)}"
                ctx.add("formula-changed", ERROR, f"{where} 的公式被改动", cell=where,
                        expected="=" + cell.formula, actual="=" + got.formula, **_label_of(sp, cell))
                continue
            want = expected.get((sp.name, r, c))
            if got.value is None or want is None:
                continue  # no cached result (a non-calculating tool saved it): fine
            if isinstance(want, Decimal):
                try:
                    have = number_value(got.value)
                except (InvalidOperation, ValueError):
                    have = None
                if have is None or abs(have - want) > _MICRO:
                    where = f"{sp.name}!{a1(r, c)}"
                    stale.append(Finding("stale-cached-value", ERROR, "", cell=where, expected=fmt(want, True),
                                         actual=fmt(have, True) if have is not None else got.value, **_label_of(sp, cell)))
            elif str(want) != (got.value or "") and not (want == "" and got.value in ("", None)):
                where = f"{sp.name}!{a1(r, c)}"
                stale.append(Finding("stale-cached-value", ERROR, "", cell=where, expected=str(want), actual=got.value,
                                     **_label_of(sp, cell)))


__all__ = ["ReadResult", "read_workbook", "normalize_formula", "COVER", "COVER_FIELDS", "CODES"]
