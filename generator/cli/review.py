"""``juesuan review`` and ``juesuan status``: approval up the tree (see :mod:`generator.office.review`).

Exit codes: 0 done (status: every reporting unit approved); 1 status: some unit not yet approved;
2 unusable (no such unit, nothing to review, a report with errors to approve, a return without reason).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..office.review import ReviewState

from ..core.findings import printable
from .collect import _die, _open_store, _tree, store_errors
from .common import db_option


def _reviewer(name: str | None) -> str:
    if name:
        return name
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container): say who by role
        return "财务部门"


@click.command()
@click.argument("code")
@click.option("--approve", "approve", is_flag=True, help="审核通过该单位当前的报送")
@click.option("--return", "reason", metavar="原因", help="退回该单位当前的报送，并写明原因")
@click.option("--cell", "cells", multiple=True, metavar="表!单元格[:意见]",
              help="退回意见所在的单元格，如 公开05表!D10:应为975.45（可多次）")
@click.option("--reviewer", help="审核人（默认为当前登录名）")
@click.option("--units", "units_file", type=click.Path(dir_okay=False), help="单位清单 CSV（默认用轮次或数据库中的清单）")
@db_option
@store_errors
def review(code: str, approve: bool, reason: str | None, cells: tuple[str, ...], reviewer: str | None,
           units_file: str | None, db: str) -> None:
    """审核 CODE 单位当前的报送：--approve 审核通过，或 --return "原因" 退回（可用 --cell 指出单元格）。"""
    from ..office.review import APPROVE, RETURN, ReviewError, parse_cells, record

    if approve == (reason is not None):
        _die("请给出 --approve 或 --return \"原因\" 之一")
    with _open_store(db, False) as store:
        tree = _tree(units_file, store, False)
        try:
            st = record(store, tree, code, APPROVE if approve else RETURN, _reviewer(reviewer), reason or "",
                        parse_cells(cells))
        except ReviewError as exc:
            _die(str(exc))
            return
    what = f"{st.code} {st.name}：报送 #{st.submission} {st.label}（{st.reviewer}，{st.at}）"
    click.echo(printable(what + (f"；原因：{st.reason}" if st.reason else "")))
    for c in st.cells:
        click.echo(printable(f"  {c['cell']}" + (f"：{c['note']}" if c["note"] else "")))


@click.command()
@click.option("--units", "units_file", type=click.Path(dir_okay=False), help="单位清单 CSV（默认用轮次或数据库中的清单）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（每个单位的 status 与 review）")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="按此日期计算天数（默认今天）")
@db_option
@store_errors
def status(units_file: str | None, as_json: bool, today: object, db: str) -> None:
    """本轮各单位的报送与审核情况：状态、审核、当前报送、审核人、时间；逾期、退回未重报、待审核的天数。"""
    from ..office.review import APPROVED, round_status

    with _open_store(db, False) as store:
        tree = _tree(units_file, store, False)
        day = today.date() if today is not None else None  # type: ignore[attr-defined]
        rows, deadline = round_status(store, tree, day)
    reporting = [r for r in rows if r.state != "aggregate"]
    if as_json:
        click.echo(json.dumps({"deadline": deadline.isoformat() if isinstance(deadline, date) else None,
                               "units": [r.to_json() for r in rows]}, ensure_ascii=False, indent=1))
    else:
        _status_table(rows)
        _status_summary(reporting, deadline)
    sys.exit(0 if all(r.state == APPROVED for r in reporting) else 1)


def _status_table(rows: list[ReviewState]) -> None:
    """One line per unit, columns aligned by their printed width."""
    from ..core.clock import shown
    from ..core.layout import text_width
    from ..office.review import NOT_SUBMITTED, RETURNED

    head = ("单位代码", "单位名称", "状态", "审核", "当前报送", "审核人", "时间", "天数", "说明")
    table: list[tuple[Any, ...]] = [head]
    for r in rows:
        days = ""
        if r.days is not None:
            days = f"逾期 {r.days} 天" if r.late and r.state == NOT_SUBMITTED else f"{r.days} 天"
        note = r.note or (f"原因：{r.reason}" if r.state == RETURNED else "")
        table.append((r.code, r.name, r.status, r.label, f"#{r.submission}" if r.submission else "—", r.reviewer,
                      shown(r.at), days, note))
    widths = [max(text_width(str(row[i])) for row in table) for i in range(len(head) - 1)]
    for row in table:
        cells = [str(v) + " " * (w - text_width(str(v))) for v, w in zip(row, widths, strict=False)]
        click.echo(printable("  ".join([*cells, str(row[-1])]).rstrip()))


def _status_summary(reporting: list[ReviewState], deadline: date | None) -> None:
    """The counts by review state, the deadline, the late units and those waiting for review."""
    from ..office.review import PENDING

    counts = {label: sum(1 for r in reporting if r.label == label) for label in ("已审核", "待审核", "已退回", "有错误", "未报送")}
    click.echo(f"共 {len(reporting)} 个报送单位：" + "，".join(f"{k} {v}" for k, v in counts.items() if v)
               + (f"；截止日期 {deadline.isoformat()}" if deadline else ""))
    late = [r for r in reporting if r.late]
    if late:
        click.echo("逾期：" + "、".join(f"{r.code} {r.name}" for r in late))
    waiting = [r for r in reporting if r.state == PENDING]
    if waiting:
        click.echo("待审核：" + "、".join(f"{r.code}（{r.days} 天）" if r.days is not None else r.code for r in waiting))


__all__ = ["review", "status"]
