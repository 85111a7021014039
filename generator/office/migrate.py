"""Move a workbook filled on one spec version to another, with nothing dropped silently.

:func:`migrate_values` is pure: the input figures of the old version, keyed the old way, become
input figures of the new version through the mapping of :mod:`generator.core.specmap`; every value with
no home is returned with its old key and amount. Derived (formula) figures are never carried as
inputs: the new workbook recomputes them with the new formulas.

:func:`migrate_workbook` reads a returned workbook with the reader (all its checks), migrates, builds
the new workbook with the unit's identity, 科目 names, 空表说明, cover and 差异说明, reads the result
back to prove every placed figure is where it should be, and reports everything as findings.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from ..core.dataset import Dataset, Values
from ..core.findings import ERROR, INFO, WARNING, Finding, exit_code
from ..core.fsutil import atomic_write_bytes
from ..core.model import Figures, is_formula_figure
from ..core.money import fmt
from ..core.rules import RuleInstance, expand_rules
from ..core.spec import Spec
from ..core.specmap import SpecMap, canon, old_canon, resolve, row_label
from ..xlsx.reader import ReadResult, read_workbook

ZERO = Decimal(0)


class Unplaced(NamedTuple):
    """An input figure of the old version with no home in the new one (old keys)."""

    table: str
    row: str
    col: str
    amount: Decimal


class Mapped(NamedTuple):
    """An input figure moved: old keys, new keys, amount."""

    table: str
    row: str
    col: str
    new_table: str
    new_row: str
    new_col: str
    amount: Decimal


def _is_fixed_blank(spec: Spec, table: str, row: str) -> bool:
    t = spec.tables.get(table)
    found = t.row(row) if t is not None else None
    return found is not None and not found[1].input and not found[1].formula


def migrate_values(old_spec: Spec, new_spec: Spec, values: Values,
                   specmap: SpecMap | None = None) -> tuple[Values, list[Unplaced], list[Mapped]]:
    """Old input figures -> (new input figures, unplaced, mapped).

    Formula figures of the old version in ``values`` are skipped (the new workbook recomputes its
    own). A figure that lands on a formula of the new version counts as placed only when the new
    formula gives the same amount; otherwise it is unplaced. Amounts of several old figures mapped
    to one new figure (merged rows) are summed."""
    sm = specmap or resolve(old_spec, new_spec)
    out: Values = {}
    unplaced: list[Unplaced] = []
    mapped: list[Mapped] = []
    derived: dict[tuple[str, str, str], list[Unplaced]] = {}
    for tid, rows in values.items():
        ot = old_spec.tables.get(tid)
        for row, cols in rows.items():
            for col, amount in cols.items():
                if ot is not None and is_formula_figure(ot, row, col):
                    continue
                u = Unplaced(tid, row, col, amount)
                tgt = sm.figure(tid, row, col)
                if tgt.fig is None or _is_fixed_blank(new_spec, tgt.fig.table, tgt.fig.row):
                    unplaced.append(u)
                    continue
                f = tgt.fig
                nt = new_spec.tables[f.table]
                if is_formula_figure(nt, f.row, f.col):
                    derived.setdefault((f.table, f.row, f.col), []).append(u)
                    continue
                cell = out.setdefault(f.table, {}).setdefault(f.row, {})
                cell[f.col] = cell.get(f.col, ZERO) + amount
                mapped.append(Mapped(tid, row, col, f.table, f.row, f.col, amount))
    if derived:
        figs = Figures(new_spec, out)
        for (t, r, c), us in derived.items():
            if figs.value(t, r, c) == sum((u.amount for u in us), ZERO):
                mapped.extend(Mapped(u.table, u.row, u.col, t, r, c, u.amount) for u in us)
            else:
                unplaced.extend(us)
    return out, unplaced, mapped


def unplaced_reason(sm: SpecMap, u: Unplaced, new_values: Values | None = None) -> str:
    """Why a figure has no home, in Chinese."""
    tgt = sm.figure(u.table, u.row, u.col)
    if tgt.fig is None:
        return tgt.reason or "新版没有对应的行或栏"
    if _is_fixed_blank(sm.new, tgt.fig.table, tgt.fig.row):
        return f"新版 {tgt.fig.table} 行 {tgt.fig.row} 不填数"
    nt = sm.new.tables[tgt.fig.table]
    if is_formula_figure(nt, tgt.fig.row, tgt.fig.col):
        shown = ""
        if new_values is not None:
            shown = f"，按新版公式重算为 {fmt(Figures(sm.new, new_values).value(tgt.fig.table, tgt.fig.row, tgt.fig.col))}"
        return f"新版 {tgt.fig.table} 行 {tgt.fig.row} 栏 {tgt.fig.col} 是公式{shown}，与原数不符"
    return "无法放置"


def _old_label(spec: Spec, table: str, row: str) -> str:
    t = spec.tables.get(table)
    if t is None:
        return row
    label = row_label(spec, t, row)
    return row if label == row else f"{row}（{label}）"


# ---------------------------------------------------------------- explanations (差异说明)


def map_explanations(sm: SpecMap, explanations: dict[str, str], old_instances: list[RuleInstance],
                     new_instances: list[RuleInstance]) -> tuple[dict[str, str], dict[str, str]]:
    """(kept, dropped): a 差异说明 keyed by a rule instance moves to the instance of the new version
    that checks the same figures; one keyed by a rule id stays when the rule still exists."""
    by_canon: dict[str, str] = {}
    for inst in new_instances:
        if inst.node is not None:
            by_canon.setdefault(canon(inst.node), inst.id)
    old_by_id = {i.id: i for i in old_instances}
    new_ids = {i.id for i in new_instances} | {r.id for r in sm.new.rules}
    kept: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for key, text in explanations.items():
        old_inst = old_by_id.get(key)
        if old_inst is not None and old_inst.node is not None:
            target = by_canon.get(old_canon(sm, old_inst.node))
            if target is not None:
                kept[target] = text
                continue
        if key in new_ids:
            kept[key] = text
        else:
            dropped[key] = text
    return kept, dropped


# ---------------------------------------------------------------- whole workbooks


@dataclass
class MigrateResult:
    source: str
    usable: bool
    findings: list[Finding] = field(default_factory=list)
    out: Path | None = None
    written: bool = False
    old_version: str = ""
    new_version: str = ""
    unplaced: list[Unplaced] = field(default_factory=list)
    mapped: list[Mapped] = field(default_factory=list)
    reasons: dict[Unplaced, str] = field(default_factory=dict)
    data: bytes | None = None
    read: ReadResult | None = None  # the source workbook, read on its own version
    check: ReadResult | None = None  # the migrated workbook, read back

    @property
    def lost(self) -> list[Unplaced]:
        """Unplaced figures that are not zero: real loss."""
        return [u for u in self.unplaced if u.amount != 0]

    @property
    def exit_code(self) -> int:
        return exit_code(self.usable, self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "usable": self.usable,
            "from_version": self.old_version,
            "to_version": self.new_version,
            "out": str(self.out) if self.out else None,
            "written": self.written,
            "mapped": [{"from": {"table": m.table, "row": m.row, "col": m.col},
                        "to": {"table": m.new_table, "row": m.new_row, "col": m.new_col},
                        "amount": fmt(m.amount)} for m in self.mapped],
            "unplaced": [{"table": u.table, "row": u.row, "col": u.col, "amount": fmt(u.amount),
                          "reason": self.reasons.get(u, "")} for u in self.unplaced],
            "findings": [f.to_dict() for f in self.findings],
        }


def carry_names(old_spec: Spec, new_spec: Spec, values: Values, names: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The names of the 科目 (项 and their 类/款) of ``values`` that the new spec's code list lacks,
    as the old workbook shows them (its names, else the old code list it was built with), added to
    ``names``; and the codes no name is known for (Chinese message: import the codes first)."""
    out = dict(names)
    missing: list[str] = []
    for tid, rows in values.items():
        t = new_spec.tables.get(tid)
        sec = t.section if t is not None else None
        if t is None or sec is None:
            continue
        for r in rows:
            if not t.is_item(r):
                continue
            for c in t.with_ancestors(r):
                if c in out or new_spec.code_name(sec.codelist, c) is not None:
                    continue
                name = old_spec.code_name(sec.codelist, c) or next(
                    (cl.codes[c] for cl in old_spec.codelists.values() if c in cl.codes), None)
                if name:
                    out[c] = name
                elif c not in missing:
                    missing.append(c)
    return out, missing


def _codes_hint(new_spec: Spec) -> str:
    where = f" --specs {new_spec.root}" if new_spec.root is not None else ""
    return (f"请先用 juesuan codes import 代码表文件{where} 把本轮的代码表（功能分类科目）导入 {new_spec.version} 版规格，"
            "再迁移")


def _stage(findings: list[Finding], stage: str, prefix: str) -> list[Finding]:
    return [replace(f, message=prefix + f.message, extra={**f.extra, "stage": stage}) for f in findings]


def migrate_workbook(
    path: str | Path,
    new_spec: Spec,
    out: str | Path | None = None,
    *,
    key: str | None = None,
    allow_loss: bool = False,
    spec_dirs: list[Path] | None = None,
    password: str | None = None,
    file_password: str | None = None,
) -> MigrateResult:
    """Read ``path`` (built on any known spec version), migrate it to ``new_spec`` and, unless a
    non-zero figure would be lost without ``allow_loss``, write the new workbook to ``out``."""
    from ..xlsx.writer import build_workbook  # xlsxwriter only where a workbook is written

    src = read_workbook(path, spec_dirs, key, file_password=file_password)
    res = MigrateResult(str(path), src.usable, new_version=new_spec.version, read=src,
                        out=Path(out) if out is not None else None)
    if not src.usable or src.spec is None or src.dataset is None:
        res.usable = False
        res.findings = list(src.findings)
        return res
    old_spec = src.spec
    res.old_version = old_spec.version
    # an older template of this version is what migrating is for: said as such, not an error of the migration
    res.findings.extend(_stage([f for f in src.findings if f.code != "template-outdated"], "source", "原工作簿："))
    res.findings += [Finding("migrate-outdated-source", INFO,
                             f"原工作簿按旧版模板填报（规格 {f.actual}），迁移为现行规格 {new_spec.hash} 的新模板",
                             expected=new_spec.hash, actual=f.actual) for f in src.findings if f.code == "template-outdated"]
    sm = resolve(old_spec, new_spec)
    if sm.problems:
        res.usable = False
        res.findings.extend(Finding("migrate-mapping-invalid", ERROR, f"版本映射有误：{p}", file=p.file)
                            for p in sm.problems)
        return res
    res.findings += _version_notes(old_spec, new_spec, sm)
    new_ds = _new_dataset(res, src.dataset, old_spec, new_spec, sm, allow_loss)
    if new_ds is None:
        return res
    new_values = new_ds.values
    try:
        built = build_workbook(new_spec, new_ds, None, key, password)
    except ValueError as exc:
        res.usable = False
        hint = f"；{_codes_hint(new_spec)}" if "代码表" in str(exc) else ""
        res.findings.append(Finding("migrate-build-failed", ERROR, f"无法生成 {new_spec.version} 版工作簿：{exc}{hint}"))
        return res
    res.data = built.data
    res.findings.extend(_stage(built.findings, "build", "生成新工作簿："))
    check = _read_back(res, src, sm, new_spec, new_values, built.data, key)
    if res.out is not None and (allow_loss or not res.lost) and check.usable:
        atomic_write_bytes(res.out, built.data)
        res.written = True
    return res


def _new_dataset(res: MigrateResult, ds: Dataset, old_spec: Spec, new_spec: Spec, sm: SpecMap,
                 allow_loss: bool) -> Dataset | None:
    """The workbook's figures and texts moved to ``new_spec``, each loss said; None (and ``res``
    unusable) when a 科目 would have no name to be listed under."""
    new_values, unplaced, mapped = migrate_values(old_spec, new_spec, ds.values, sm)
    res.unplaced, res.mapped = unplaced, mapped
    for u in unplaced:
        res.findings.append(_unplaced(res, sm, old_spec, new_spec, u, new_values, allow_loss))
    # texts that travel with the figures
    notes = {t: v for t, v in ds.notes.items() if t in new_spec.tables and new_spec.tables[t].statement}
    res.findings += [Finding("migrate-note-dropped", WARNING, f"{t} 的空表说明在 {new_spec.version} 版中无处填写，未迁移：{v[:60]}",
                             table=t) for t, v in ds.notes.items() if t not in notes and v.strip()]
    old_instances = expand_rules(old_spec, Figures(old_spec, ds.values).item_codes)
    new_instances = expand_rules(new_spec, Figures(new_spec, new_values).item_codes)
    explanations, dropped = map_explanations(sm, ds.explanations, old_instances, new_instances)
    res.findings += [Finding("migrate-explanation-dropped", WARNING,
                             f"审核 {rid} 的差异说明在 {new_spec.version} 版中没有对应的审核，未迁移：{text[:60]}", rule=rid)
                     for rid, text in dropped.items()]
    names, unnamed = carry_names(old_spec, new_spec, new_values, ds.names)
    if unnamed:
        res.usable = False
        res.findings.append(Finding(
            "migrate-codes-missing", ERROR,
            f"{new_spec.version} 版规格的代码表没有原工作簿用到的科目代码 {'、'.join(unnamed)}，原工作簿也没有显示其名称，"
            f"无法列出这些行：{_codes_hint(new_spec)}", actual="、".join(unnamed)))
        return None
    new_ds = Dataset(unit_code=ds.unit_code, unit_name=ds.unit_name, year=ds.year, values=new_values,
                     names=names, notes=notes, cover=dict(ds.cover), explanations=explanations,
                     texts={t: rows for t, rows in ds.texts.items() if t in new_spec.tables})
    return new_ds


def _version_notes(old_spec: Spec, new_spec: Spec, sm: SpecMap) -> list[Finding]:
    """The same version again, or a new one that says it follows another than the workbook's."""
    if old_spec.version == new_spec.version:
        return [Finding("migrate-same-version", INFO, f"原工作簿已是 {new_spec.version} 版，按该版重新生成")]
    if sm.previous is not None and sm.previous != old_spec.version:
        return [Finding(
            "migrate-version-gap", WARNING,
            f"{new_spec.version} 版写明由 {sm.previous} 版迁移而来，原工作簿为 {old_spec.version} 版：映射可能不完整，请逐条核对",
            expected=sm.previous, actual=old_spec.version)]
    return []


def _unplaced(res: MigrateResult, sm: SpecMap, old_spec: Spec, new_spec: Spec, u: Unplaced, new_values: Values,
              allow_loss: bool) -> Finding:
    """A figure without a home in the new version: lost (an error unless allowed), or a 0 (information)."""
    reason = unplaced_reason(sm, u, new_values)
    res.reasons[u] = reason
    where = f"{u.table} 行 {_old_label(old_spec, u.table, u.row)} 栏 {u.col}"
    if u.amount != 0:
        return Finding("migrate-unplaced-allowed" if allow_loss else "migrate-unplaced", WARNING if allow_loss else ERROR,
                       f"{where} 的 {fmt(u.amount)} 万元在 {new_spec.version} 版中无处安放（{reason}）"
                       + ("，已按 --allow-loss 舍弃" if allow_loss else ""),
                       table=u.table, row=u.row, col=u.col, actual=fmt(u.amount), extra={"reason": reason})
    return Finding("migrate-unplaced-zero", INFO, f"{where} 为 0，{new_spec.version} 版中无此项（{reason}）",
                   table=u.table, row=u.row, col=u.col, actual=fmt(u.amount), extra={"reason": reason})


def _read_back(res: MigrateResult, src: ReadResult, sm: SpecMap, new_spec: Spec, new_values: Values, data: bytes,
               key: str | None) -> ReadResult:
    """The new workbook read back: every placed figure must be there."""
    with tempfile.TemporaryDirectory(prefix="juesuan-migrate-") as tmp:
        probe = Path(tmp) / "migrated.xlsx"
        probe.write_bytes(data)
        check = read_workbook(probe, key=key, spec=new_spec)
    res.check = check
    res.findings.extend(_stage([replace(f, file=None) for f in check.findings if f.code != "default-key-in-use"],
                               "target", "新工作簿："))  # the key warning is said once, for the source
    if not check.usable or check.dataset is None:
        res.findings.append(Finding("migrate-value-mismatch", ERROR, "迁移生成的工作簿无法回读"))
    else:
        _verify(res, src, check, sm, new_values)
    return check


def _verify(res: MigrateResult, src: ReadResult, check: ReadResult, sm: SpecMap, new_values: Values) -> None:
    assert check.dataset is not None
    got = check.dataset.values
    for t, rows in new_values.items():
        for r, cols in rows.items():
            for c, v in cols.items():
                have = got.get(t, {}).get(r, {}).get(c)
                if have != v:
                    res.findings.append(Finding("migrate-value-mismatch", ERROR,
                                                f"{t} 行 {r} 栏 {c} 回读为 {fmt(have)}，应为 {fmt(v)}",
                                                table=t, row=r, col=c, expected=fmt(v), actual=fmt(have)))
    # derived figures recomputed by the new formulas: say where they differ from the old workbook
    old_spec = sm.old
    for t, rows in src.values.items():
        ot = old_spec.tables.get(t)
        if ot is None:
            continue
        for r, cols in rows.items():
            for c, v in cols.items():
                if not is_formula_figure(ot, r, c):
                    continue
                tgt = sm.figure(t, r, c)
                if tgt.fig is None:
                    continue
                now = check.values.get(tgt.fig.table, {}).get(tgt.fig.row, {}).get(tgt.fig.col)
                if now is None or now == v:
                    continue
                res.findings.append(Finding(
                    "migrate-derived-changed", WARNING,
                    f"{t} 行 {_old_label(old_spec, t, r)} 栏 {c} 原为 {fmt(v)}，按 {sm.new.version} 版公式重算"
                    f"（{tgt.fig.table} 行 {tgt.fig.row} 栏 {tgt.fig.col}）为 {fmt(now)}",
                    table=t, row=r, col=c, expected=fmt(v), actual=fmt(now),
                    extra={"new": {"table": tgt.fig.table, "row": tgt.fig.row, "col": tgt.fig.col}}))


def summary_text(res: MigrateResult) -> str:
    """A few lines for the terminal: what moved, what did not, where the result went."""
    lines = [f"迁移 {res.source}：{res.old_version or '?'} 版 → {res.new_version} 版"]
    if not res.usable:
        lines.append("无法迁移（见上）。")
        return "\n".join(lines)
    lost = res.lost
    total = sum((u.amount for u in lost), ZERO)
    lines.append(f"已放置 {len(res.mapped)} 个填报数；无处安放 {len(res.unplaced)} 个"
                 + (f"（其中非零 {len(lost)} 个，合计 {fmt(total)} 万元）" if lost else "（均为 0）" if res.unplaced else ""))
    for u in res.unplaced:
        lines.append(f"  {u.table} 行 {u.row} 栏 {u.col}：{fmt(u.amount)}（{res.reasons.get(u, '')}）")
    if res.written:
        lines.append(f"已写出 {res.out}")
    elif res.out is not None and lost:
        lines.append(f"未写出 {res.out}：有 {len(lost)} 个非零数无处安放；核实后可加 --allow-loss 写出")
    elif res.out is not None:
        lines.append(f"未写出 {res.out}")
    return "\n".join(lines)


def to_json_text(res: MigrateResult) -> str:
    return json.dumps(res.to_json(), ensure_ascii=False, indent=1) + "\n"


__all__ = ["Mapped", "MigrateResult", "Unplaced", "map_explanations", "migrate_values", "migrate_workbook",
           "summary_text", "unplaced_reason"]
