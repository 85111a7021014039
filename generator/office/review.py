"""Review and approval (审核/退回) up the unit tree: a person in the round, beside the checks.

Each unit's report is reviewed by its parent unit's reviewer (the office for the department's
direct units; a 汇总 unit for its own children when it has reviewers). The state of a unit is a pure
function of its current submission (see :func:`generator.office.collect.unit_report`) and the review
actions taken, in order (:func:`review_state`):

- 未报送 ``not-submitted``: no current report;
- 有错误 ``has-errors``: the current report has errors: it cannot be approved (return it, or wait
  for the unit's correction);
- 待审核 ``pending``: a current report without errors that nobody has approved or returned yet
  (a new submission after an approval or a return starts here again, and says so);
- 已审核 ``approved``: the current report (that very content) was approved;
- 已退回 ``returned``: the current report was returned, with a reason and, optionally, notes at
  cells (退回意见).

Actions are stored with who, when, the submission and its content hash, and why, in the store's
append-only ``reviews`` table (:meth:`generator.office.store.Store.add_review`): the database itself
refuses to change or delete one. An approved report is never replaced silently: a later
submission is a new report to review, and until then the unit is not approved.

A deadline (the round's, ``meta round_deadline``, ISO date) makes :func:`round_status` count the
days: late (no report after the deadline), returned and not resubmitted, waiting for review.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from .collect import AGGREGATE, ERR, UnitRow, UnitTree, unit_report
from .store import Store

NOT_SUBMITTED, HAS_ERRORS, PENDING, APPROVED, RETURNED, AGGREGATE_ONLY = (
    "not-submitted", "has-errors", "pending", "approved", "returned", "aggregate")
LABEL = {NOT_SUBMITTED: "未报送", HAS_ERRORS: "有错误", PENDING: "待审核", APPROVED: "已审核", RETURNED: "已退回",
         AGGREGATE_ONLY: "汇总单位"}
APPROVE, RETURN = "approve", "return"
DEADLINE_META = "round_deadline"
REVIEW_META = "review_required"  # set by juesuan init: the round's 汇总 take approved reports only
_CELL = re.compile(r"^(?P<sheet>[^!:]+)!(?P<addr>\$?[A-Z]{1,3}\$?\d{1,7})(?::(?P<note>.*))?$")


class ReviewError(ValueError):
    """An action that cannot be taken; message in Chinese."""


@dataclass
class ReviewState:
    """One unit's review state, as shown (status table, web pages, feedback)."""

    code: str
    name: str
    parent: str
    status: str  # the checks' status (通过/有提示/有错误/未报送/汇总单位)
    state: str  # a stable code (see the module doc)
    submission: int | None = None  # the current report
    sha256: str = ""
    received: str = ""
    reviewer: str = ""
    reviewer_unit: str = ""
    at: str = ""
    reason: str = ""
    cells: list[dict[str, str]] = field(default_factory=list)
    note: str = ""  # e.g. a new report after an approval or a return
    days: int | None = None  # waiting / late / returned for so many days (with a deadline or a date)
    late: bool = False

    @property
    def label(self) -> str:
        return LABEL[self.state]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["review"] = self.state
        out["review_label"] = self.label
        return out


def review_state(row: UnitRow, actions: list[dict[str, Any]]) -> ReviewState:
    """The state of one unit from its current submission and its review actions (oldest first)."""
    st = ReviewState(row.code, row.name, row.parent, row.status, NOT_SUBMITTED)
    cur = row.current
    if cur is None:
        st.state = AGGREGATE_ONLY if row.status == AGGREGATE else NOT_SUBMITTED
        return st
    st.submission, st.sha256, st.received = int(cur["id"]), str(cur["sha256"]), str(cur["received"] or "")
    on_current = [a for a in actions if a["submission_id"] == st.submission]
    earlier = [a for a in actions if a["submission_id"] != st.submission]  # on reports it replaced
    if on_current:
        last = on_current[-1]
        st.state = APPROVED if last["action"] == APPROVE else RETURNED
        st.reviewer, st.reviewer_unit, st.at = last["reviewer"], last["reviewer_unit"], last["at"]
        st.reason, st.cells = last["reason"], list(last["cells"])
        return st
    st.state = HAS_ERRORS if cur["status"] == ERR else PENDING
    if earlier:
        prev = earlier[-1]
        was = "已审核通过" if prev["action"] == APPROVE else "已退回"
        st.note = f"重新报送：上一份报送 #{prev['submission_id']} {was}（{prev['reviewer']}，{prev['at'][:10]}），本次报送须重新审核"
    return st


def states(store: Store, tree: UnitTree) -> list[ReviewState]:
    """Every unit of the tree, in tree order."""
    rep = unit_report(store, tree)
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for a in store.reviews():
        by_unit.setdefault(a["unit"], []).append(a)
    return [review_state(r, by_unit.get(r.code, [])) for r in rep.rows]


def approved_submissions(store: Store, tree: UnitTree) -> set[int]:
    """The current submissions that are approved (what a non-draft 汇总 takes)."""
    return {s.submission for s in states(store, tree) if s.state == APPROVED and s.submission is not None}


def parse_cells(items: list[str] | tuple[str, ...]) -> list[dict[str, str]]:
    """``公开05表!D10`` or ``公开05表!D10:应为 975.45`` → [{"cell": "公开05表!D10", "note": "应为 975.45"}]."""
    out = []
    for text in items:
        m = _CELL.match(text.strip())
        if m is None:
            raise ReviewError(f"单元格 {text!r} 应写成 表名!单元格，如 公开05表!D10（可加 :意见）")
        out.append({"cell": f"{m['sheet']}!{m['addr'].replace('$', '')}", "note": (m["note"] or "").strip()[:500]})
    return out


def record(store: Store, tree: UnitTree, code: str, action: str, reviewer: str, reason: str = "",
           cells: list[dict[str, str]] | None = None) -> ReviewState:
    """Approve or return ``code``'s current report; the new state. Refused (ReviewError): a unit not
    in the tree, no current report, approving a report with errors or one already approved, a return
    without a reason."""
    if code not in tree.units:
        raise ReviewError(f"单位 {code} 不在单位清单中")
    if action not in (APPROVE, RETURN):
        raise ReviewError(f"未知的审核动作 {action!r}")
    reviewer = reviewer.strip()[:100]
    if not reviewer:
        raise ReviewError("请给出审核人")
    reason = reason.strip()[:2000]
    st = next(s for s in states(store, tree) if s.code == code)
    if st.submission is None:
        raise ReviewError(f"单位 {code} {st.name} 没有可审核的报送（{st.label}）")
    if action == APPROVE and st.state == HAS_ERRORS:
        raise ReviewError(f"单位 {code} {st.name} 的报送 #{st.submission} 有错误，不能审核通过；请退回并说明原因")
    if action == APPROVE and st.state == APPROVED:
        raise ReviewError(f"单位 {code} {st.name} 的报送 #{st.submission} 已审核通过（{st.reviewer}，{st.at[:10]}）")
    if action == RETURN and not reason:
        raise ReviewError("退回须写明原因")
    store.begin()
    store.add_review(code, tree.units[code].parent, st.submission, st.sha256, action, reviewer, reason, cells or [])
    store.commit()
    return next(s for s in states(store, tree) if s.code == code)


def approval_mode(store: Store, include_unapproved: bool = False) -> str | None:
    """How a 汇总 of this database chooses reports: None when the round does not review (a database
    made without ``juesuan init``: every current report, as before), else ``"approved"``, or
    ``"draft"`` with ``include_unapproved`` (every current report, the result marked 草稿)."""
    if store.get_meta(REVIEW_META) != "1":
        return None
    return "draft" if include_unapproved else "approved"


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except (TypeError, ValueError):
        return None


def round_status(store: Store, tree: UnitTree, today: date | None = None) -> tuple[list[ReviewState], date | None]:
    """:func:`states` with the days counted against the round's deadline (``meta round_deadline``):
    a unit without a report past the deadline is late by so many days; a returned report waits for
    the unit since its return; a pending one waits for its reviewer since it was received."""
    from ..core.clock import now

    today = today or _day(now()) or date.today()
    deadline = _day(store.get_meta(DEADLINE_META) or "")
    out = states(store, tree)
    for s in out:
        if s.state == NOT_SUBMITTED and deadline is not None and today > deadline:
            s.days, s.late = (today - deadline).days, True
        elif s.state == RETURNED and _day(s.at):
            s.days = (today - _day(s.at)).days  # type: ignore[operator]
        elif s.state in (PENDING, HAS_ERRORS) and _day(s.received):
            s.days = (today - _day(s.received)).days  # type: ignore[operator]
            s.late = s.state == HAS_ERRORS and deadline is not None and today > deadline
    return out, deadline


__all__ = ["APPROVE", "RETURN", "LABEL", "ReviewError", "ReviewState", "approved_submissions", "parse_cells", "record",
           "review_state", "round_status", "states", "DEADLINE_META", "REVIEW_META", "approval_mode"]
