"""Re-run a spec's 审核 rules on the stored submissions (no file reread); old results kept as history."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..core.findings import ERROR, WARNING, Finding
from ..core.model import Figures
from ..core.rules import evaluate_rules, expand_rules, rule_findings
from ..core.spec import Spec
from .report import unit_report
from .store import Store, figure_rows
from .submissions import refresh_statuses
from .tree import UnitTree

# ---------------------------------------------------------------- recheck


@dataclass
class RecheckSummary:
    run_id: int
    submissions: int = 0
    added: int = 0
    resolved: int = 0
    failed: int = 0
    unplaced: int = 0  # non-zero figures with no home in the new version (cross-version recheck)
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)  # unit, name, before, after


def recheck(store: Store, tree: UnitTree, spec: Spec, old_spec: Spec | None = None) -> RecheckSummary:
    """Re-run a spec's 审核 rules on the stored figures of every readable submission (values from
    the database, not the files): earlier rule findings are kept as history (inactive), the new
    ones are active, statuses refreshed.

    Same version (rules or formulas changed): derived figures are recomputed and stored. Another
    version (``old_spec`` = the version the submissions were collected on): the input figures are
    carried to the new version's keys by the spec mapping first; a non-zero figure with no home is
    a warning; the stored figures stay as collected."""
    store.acquire_writer("重新审核")
    try:
        return _recheck(store, tree, spec, old_spec)
    finally:
        store.release_writer()


def _recheck(store: Store, tree: UnitTree, spec: Spec, old_spec: Spec | None) -> RecheckSummary:
    from ..core.specmap import resolve
    from .migrate import migrate_values, unplaced_reason

    specmap = resolve(old_spec, spec) if old_spec is not None else None
    before = {r.code: r.status for r in unit_report(store, tree).rows}
    store.begin()
    run_id = store.start_run("recheck", "", spec.version, spec.hash)
    store.set_meta("recheck_spec", f"{spec.version}/{spec.hash}")
    store.commit()
    summary = RecheckSummary(run_id)
    for s in store.originals():
        sid = s["id"]
        old = {(f.code, f.rule, f.severity) for f in store.findings(sid) if f.rule or f.code == "recheck-unplaced"}
        doc = json.loads(s["doc"] or "{}")
        store.begin()
        derived = None
        try:
            inputs = store.values(sid, inputs_only=True)
            new: list[Finding] = []
            if old_spec is not None and specmap is not None:
                inputs, unplaced, _ = migrate_values(old_spec, spec, inputs, specmap)
                for u in unplaced:
                    if u.amount:
                        summary.unplaced += 1
                        new.append(Finding("recheck-unplaced", WARNING,
                                           f"{u.table} 行 {u.row} 栏 {u.col} 的数 {u.amount} 在新版 {spec.version} 中无处放置："
                                           f"{unplaced_reason(specmap, u, inputs)}",
                                           table=u.table, row=u.row, col=u.col, actual=str(u.amount)))
            figures = Figures(spec, inputs)
            results = evaluate_rules(spec, figures, doc.get("notes") or {}, expand_rules(spec, figures.item_codes))
            new += rule_findings(results, doc.get("explanations") or {})
            if old_spec is None:
                derived = figure_rows(figures.all_values(), {})
        except Exception as exc:  # noqa: BLE001 - one bad submission never stops the batch
            new = [Finding("recheck-failed", ERROR, "按新规格审核这份报送时出错，未能审核；请把这份报送交给技术人员查看",
                           extra={"exception": f"{type(exc).__name__}: {str(exc)[:300]}"})]
            summary.failed += 1
        store.deactivate_rule_findings(sid, ("recheck",))
        store.add_findings(sid, new, "recheck", run_id)
        if derived is not None:
            store.replace_derived(sid, derived)
        store.commit()
        got = {(f.code, f.rule, f.severity) for f in new}
        summary.added += len(got - old)
        summary.resolved += len(old - got)
        summary.submissions += 1
    refresh_statuses(store, tree)
    after = unit_report(store, tree)
    summary.changes = [(r.code, r.name, before.get(r.code, ""), r.status) for r in after.rows
                       if before.get(r.code) != r.status]
    store.begin()
    store.finish_run(run_id, {"submissions": summary.submissions, "added": summary.added,
                              "resolved": summary.resolved, "failed": summary.failed, "unplaced": summary.unplaced})
    store.commit()
    return summary
