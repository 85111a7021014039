"""Where a report's figures come from: a filled workbook, a data file, or a unit of the collection
database (its current submission, or — for a unit with subordinates — the 汇总 of its tree).

Every source ends as a :class:`Source`: the spec, the unit's :class:`Dataset` (input figures, names,
空表说明) and the units its figures sum (决算单位构成: the unit itself, or a 汇总's members).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..core.catalog import default_specs_dir, load_spec, spec_by_version
from ..core.dataset import DataError, Dataset, load_dataset
from ..core.findings import Finding
from ..core.spec import Spec


class SourceError(ValueError):
    """A source that cannot be published from; message in Chinese."""


@dataclass
class Source:
    spec: Spec
    dataset: Dataset
    units: list[tuple[str, str]] = field(default_factory=list)  # (code, name) whose figures are summed here
    consolidated: bool = False
    description: str = ""
    findings: list[Finding] = field(default_factory=list)  # what reading the source found
    # a 汇总's units missing (no current report) or unfinished (errors): (code, name, why), Chinese
    incomplete: list[tuple[str, str, str]] = field(default_factory=list)
    draft: bool = False  # a 汇总 with unapproved reports in it: 草稿 on every page, never published as final


def _spec(spec: Spec | None) -> Spec:
    return spec if spec is not None else load_spec(default_specs_dir())


def from_workbook(path: Path, spec: Spec | None = None, key: str | None = None,
                  spec_dirs: list[Path] | None = None) -> Source:
    from ..xlsx.reader import read_workbook

    res = read_workbook(path, spec_dirs, key=key, spec=spec)
    if not res.usable or res.dataset is None or res.spec is None:
        reasons = "；".join(f.message for f in res.findings[:3])
        raise SourceError(f"{path}：工作簿无法使用（{reasons or '未读出数据'}）")
    ds = res.dataset
    n = res.plan.units if res.plan is not None else 1
    return Source(res.spec, ds, [(ds.unit_code, ds.unit_name)], n > 1, f"工作簿 {path.name}", list(res.findings))


def _spec_of_version(version: str, spec_dirs: list[Path] | None) -> Spec:
    """The spec a data file says it is keyed by (its ``version``), among ``spec_dirs`` (default: the
    bundled ones)."""
    found = spec_by_version(version, dirs=spec_dirs or None)
    if found is not None:
        return found
    raise SourceError(f"数据文件按规格 {version!r} 编制，找不到该版规格（请用 --specs 指定规格目录）")


def from_data_file(path: Path, spec: Spec | None = None, spec_dirs: list[Path] | None = None) -> Source:
    try:
        ds = load_dataset(path)
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (DataError, OSError, ValueError) as exc:
        raise SourceError(str(exc)) from exc
    if spec is None and ds.version:
        spec = _spec_of_version(ds.version, spec_dirs)
    members = doc.get("consolidated_units") if isinstance(doc, dict) else None
    if isinstance(members, list) and members:
        names = doc.get("consolidated_unit_names") or {}
        units = [(str(c), str(names.get(str(c), c))) for c in members]
        return Source(_spec(spec), ds, units, True, f"汇总数据文件 {path.name}")
    return Source(_spec(spec), ds, [(ds.unit_code, ds.unit_name)], False, f"数据文件 {path.name}")


def from_database(db: str | Path, unit: str, spec: Spec | None = None, include_errors: bool = False,
                  allow_unfinished: bool = False, include_unapproved: bool = False) -> Source:
    """A unit's current submission; a unit with subordinates: the 汇总 of its tree, made now by the
    office's one policy (:func:`~generator.office.consolidate.consolidate_round`: refused after an
    unfinished collect unless ``allow_unfinished``)."""
    from ..office.collect import submission_dataset, tree_from_store, unit_report
    from ..office.consolidate import ConsolidateError, consolidate_round, incomplete_members
    from ..office.store import DBError, Store

    if "://" not in str(db) and not Path(db).is_file():
        raise SourceError(f"找不到收集数据库 {db}")
    try:
        store = Store(db, create=False)
    except DBError as exc:
        raise SourceError(str(exc)) from exc
    with store:
        if spec is None:
            version = store.get_meta("spec_version")
            spec = spec_by_version(version) if version else None
            spec = spec or load_spec(default_specs_dir())
        tree = tree_from_store(store)
        if unit not in tree.units:
            raise SourceError(f"单位 {unit} 不在数据库的单位清单中")
        if tree.kids(unit):
            try:
                from ..office.review import approval_mode

                cons = consolidate_round(store, tree, spec, unit, include_errors, allow_unfinished,
                                         approval_mode(store, include_unapproved))
            except ConsolidateError as exc:
                raise SourceError(str(exc)) from exc
            units = [(m.unit, m.name) for m in cons.included]
            incomplete = [(m.unit, m.name, m.reason or f"报送 #{(m.submission or {}).get('id')} 有错误（已按要求计入）")
                          for m in incomplete_members(cons) if m.submission is not None or m.reason]
            return Source(spec, cons.dataset, units, True,
                          f"{cons.name}（{unit}）汇总 {len(units)} 个单位" + ("（草稿）" if cons.draft else ""),
                          cons.all_findings(), incomplete, draft=cons.draft)
        rep = unit_report(store, tree)
        row = next(r for r in rep.rows if r.code == unit)
        if row.current is None:
            raise SourceError(f"单位 {unit} {row.name} 没有可用的报送（状态：{row.status}）")
        sub = row.current
        ds = submission_dataset(store, sub["id"], unit, row.name, spec.year)  # figures and every text kept
        return Source(spec, ds, [(unit, row.name)], False, f"{row.name}（{unit}）报送 #{sub['id']}",
                      store.findings(sub["id"]))


def load_source(arg: str, db: str | Path | None = None, spec: Spec | None = None, key: str | None = None,
                include_errors: bool = False, spec_dirs: list[Path] | None = None,
                allow_unfinished: bool = False, include_unapproved: bool = False) -> Source:
    """A workbook (.xlsx), a data file (.json), else a unit code in the database ``db``. A workbook
    is read with ``spec`` or the spec of its version among ``spec_dirs`` (default: the bundled ones)."""
    p = Path(arg)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        if not p.is_file():
            raise SourceError(f"{p}：文件不存在")
        return from_workbook(p, spec, key, spec_dirs)
    if p.suffix.lower() == ".json" or p.is_file():
        if not p.is_file():
            raise SourceError(f"{p}：文件不存在")
        return from_data_file(p, spec, spec_dirs)
    if db is None:
        raise SourceError(f"{arg}：不是工作簿或数据文件；按单位代码发布需给出收集数据库（--db）")
    return from_database(db, arg, spec, include_errors, allow_unfinished, include_unapproved)
