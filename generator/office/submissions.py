"""What is judged of the stored submissions as a whole: every submission's status refreshed (the decision
itself is :mod:`generator.office.statuses`), a submission's dataset, an unfinished collect."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.dataset import Dataset
from ..core.findings import ERROR, WARNING, Finding
from .statuses import (
    Case,
    judge,
)
from .store import Store
from .tree import UnitTree


def refresh_statuses(store: Store, tree: UnitTree, spec_version: str | None = None, spec_hash: str | None = None,
                     only: Iterable[int] | None = None) -> None:
    """Recompute every submission's unit, status, acceptance, counts and collect findings
    (duplicate, unknown unit, template mismatch) from its stored findings and the units file
    (:func:`generator.office.statuses.judge`). ``only``: just these submissions (a single upload); a
    submission's judgement depends on itself and, for a duplicate, on the unit of its original, so
    the rest need not be walked."""
    spec_version = spec_version if spec_version is not None else store.get_meta("spec_version") or ""
    spec_hash = spec_hash if spec_hash is not None else store.get_meta("spec_hash") or ""
    ids = sorted(set(only)) if only is not None else None
    store.begin()
    store.delete_collect_findings(ids)
    codes_of = store.finding_codes(ids)
    units_of: dict[int, str | None] = {}
    for s in store.submissions_by_id(ids):
        sid = s["id"]
        orig = store.submission(s["duplicate_of"]) if s["duplicate_of"] is not None else None
        j = judge(Case(s, [(c, sv) for c, sv, *_ in codes_of.get(sid, [])], orig, units_of, tree, spec_version, spec_hash))
        units_of[sid] = j.unit
        if j.extra:
            store.add_findings(sid, j.extra, "collect")
        status, accepted = j.status, int(j.accepted)
        if (s["status"], s["accepted"], s["unit"], s["errors"], s["warnings"], s["infos"]) != (status, accepted, j.unit, *j.counts):
            store.update_submission(sid, status=status, accepted=accepted, unit=j.unit, errors=j.counts[0],
                                    warnings=j.counts[1], infos=j.counts[2])
    store.commit()


def submission_dataset(store: Store, sid: int, unit: str, name: str, year: int | None) -> Dataset:
    """What a stored submission holds, as reading its workbook gives it: the typed figures and every
    text kept with it (names, 空表说明, cover, 差异说明, the 附件 forms' words) — what ``publish UNIT``
    and ``narrative UNIT`` start from, so they say what they say from the workbook itself."""
    doc = dict(store.doc(sid))
    doc.pop("values", None)
    ds = Dataset.from_json({**doc, "unit": {"code": unit, "name": name}, "year": year})
    ds.values = store.values(sid, inputs_only=True)
    return ds


def unfinished_collect(store: Store) -> Finding | None:
    """The last collect did not finish (killed, a full disk, …): the database may lack some files of
    the folder. None when it finished (or there was none)."""
    last = store.last_run("collect")
    if last is None or last["finished"]:
        return None
    busy = store.writer_busy()
    what = "正在进行" if busy else "没有完成（被中断）"
    return Finding("collect-running" if busy else "collect-unfinished", ERROR if busy else WARNING,
                   f"最近一次收集（#{last['id']}，{last['source'] or ''}，开始于 {last['started']}）{what}：数据库中可能缺少该次收集的部分文件。"
                   "请（等它结束后）重新运行 juesuan collect —— 已收录的文件不会重复入库", actual=str(last["id"]))
