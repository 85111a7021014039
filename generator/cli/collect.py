"""``juesuan collect``, ``consolidate``, ``explain`` and ``recheck``: click commands over
:mod:`generator.office.collect` and :mod:`generator.office.consolidate`, attached lazily by ``generator/cli/main.py`` (its ``LAZY`` table).

Exit codes: 0 clean (every unit 通过/有提示; a consolidation whose levels pass every 审核 rule and
whose workbook reads back clean); 1 findings (a unit with errors, missing, duplicate, wrong unit …;
a level failing a rule); 2 unusable (no units file, no folder, a database that cannot be opened, a
unit not in the tree, nothing to consolidate).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from ..core.catalog import spec_by_version
from ..core.findings import ERROR, printable
from ..core.fsutil import atomic_write_text
from ..core.spec import Spec
from ..office.collect import UnitTree, load_tree, tree_from_store, unit_report
from ..office.store import DBError, Store
from .common import db_option, limits_option

EXIT_OK, EXIT_FINDINGS, EXIT_UNUSABLE = 0, 1, 2
KEY_META = "fingerprint_key"
DEFAULT_KEY_WARNING = ("未设置指纹密钥，正在使用内置的公开默认密钥：任何人都能为任何单位生成可通过校验的工作簿。"
                       "请用 juesuan key init 生成密钥（与数据库一起保存），再用它生成下发的模板")


def _die(message: str) -> None:
    click.echo(f"[错误] {printable(message)}", err=True)
    sys.exit(EXIT_UNUSABLE)


def store_errors(func):
    """A database or file-system error (read-only database or folder, full disk, corrupt database, …)
    ends the command with one Chinese message and exit 2, never a traceback. Transactions are rolled
    back (the Store's context manager), reports are written atomically: nothing is half-written."""
    import functools
    import sqlite3

    from ..office.store import db_error_text

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        after = "本次操作未完成；已提交的部分完整保存，问题解决后重新运行即可（已收录的文件不会重复入库）"
        try:
            return func(*args, **kwargs)
        except DBError as exc:
            _die(f"{exc}。{after}")
        except sqlite3.Error as exc:
            _die(f"{db_error_text(exc, kwargs.get('db') or '')}。{after}")
        except OSError as exc:
            _die(f"无法读写文件 {exc.filename or ''}：{exc.strerror or exc}。{after}")
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                _die(f"{db_error_text(exc, kwargs.get('db') or '')}。{after}")
            raise

    return wrapper


def report_dir_of(db: str, report_dir: str | None) -> Path:
    """--report-dir, else the round's out/, else the folder of a SQLite database, else the user's
    data folder (a PostgreSQL URL has no folder)."""
    if report_dir:
        return Path(report_dir)
    from .common import round_path

    in_round = round_path("out")
    if in_round is not None:
        return in_round
    from ..office.pgstore import is_url
    from ..office.store import data_dir

    return data_dir() if is_url(db) else Path(db.removeprefix("sqlite:///")).parent


def _open_store(db: str, create: bool) -> Store:
    try:
        return Store(db, create=create)
    except DBError as exc:
        _die(str(exc))
        raise  # unreachable: _die exits


def _tree(units_file: str | None, store: Store | None, required: bool) -> UnitTree:
    """The unit tree from the units file (in a round: the round's), else from the database (the
    last collect's units)."""
    from .common import current_round

    rnd = current_round()
    if not units_file and rnd is not None and rnd.units_file is not None:
        units_file = str(rnd.units_file)
    if units_file:
        tree = load_tree(Path(units_file))
        for f in tree.findings:
            click.echo(f.render(), err=True)
        if not tree.units:
            _die(f"单位清单 {units_file} 中没有可用的单位")
        return tree
    if required or store is None:
        _die("请用 --units 给出单位清单（CSV：code,name,parent）" if current_round() is None
             else "本轮次还没有单位清单；请先 juesuan units set 单位清单.csv")
    tree = tree_from_store(store)  # type: ignore[arg-type]
    if not tree.units:
        _die("数据库中没有单位清单；请用 --units 给出")
    return tree


def _store_spec(store: Store, specs: str | None) -> Spec:
    """--specs if given, else the spec the database was collected with (in a round: that very spec,
    by hash, from the round's copies)."""
    from .common import current_round, spec_arg
    from .migrate import load_spec_arg

    if specs:
        return load_spec_arg(specs)
    rnd = current_round()
    if rnd is not None:
        return rnd.collected_spec(store)
    version = store.get_meta("spec_version")
    if version:
        spec = spec_by_version(version)
        if spec is not None:
            return spec
        _die(f"找不到数据库收集时所用的规格版本 {version}；请用 --specs 指定")
    return spec_arg(None)


def report_json(store: Store, tree: UnitTree) -> dict[str, Any]:
    """The per-unit view as data: status, counts, current submission, its findings."""
    rep = unit_report(store, tree)
    units = []
    for r in rep.rows:
        sub = r.latest
        units.append({
            "code": r.code, "name": r.name, "parent": r.parent, "status": r.status,
            "errors": r.errors, "warnings": r.warnings, "infos": r.infos, "submissions": len(r.history),
            "current": r.current["id"] if r.current else None,
            "latest": {"id": sub["id"], "path": sub["path"], "status": sub["status"], "sha256": sub["sha256"],
                       "received": sub["received"]} if sub else None,
            "findings": [f.to_dict() for f in store.findings(sub["duplicate_of"] or sub["id"])] if sub else [],
        })
    others = [{"id": s["id"], "path": s["path"], "status": s["status"], "unit_code": s["unit_code"],
               "findings": [f.to_dict() for f in store.findings(s["id"])]} for s in rep.others]
    return {"ok": rep.ok, "spec": {"version": rep.spec_version, "hash": rep.spec_hash}, "counts": rep.counts,
            "units": units, "others": others}


@click.command()
@click.argument("folder", type=click.Path(), required=False)
@click.option("--units", "units_file", type=click.Path(dir_okay=False), help="单位清单 CSV：code,name,parent[,data][,kind][,subjects]（kind 为“汇总”的单位只汇总下级、不单独报送）；轮次中默认为轮次的单位清单")
@db_option
@click.option("--specs", type=click.Path(file_okay=False), help="本轮收集所用的规格目录，默认 specs/2024")
@click.option("--key", help="指纹密钥（默认取环境变量 JUESUAN_KEY）")
@click.option("--file-password", help="加密工作簿的打开密码")
@click.option("--workers", type=int, help="并行读取的进程数（本机或 LocalCluster），默认为 CPU 核数")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="读取方式：本机进程池，或 Dask 集群（见 --scheduler）")
@click.option("--scheduler", help="Dask 调度器地址（tcp://主机:8786）；不给则在本机启动 LocalCluster")
@click.option("--report-dir", type=click.Path(file_okay=False), help="报告目录，默认与数据库同目录")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="另把各单位状态与问题写成 JSON")
@limits_option
@store_errors
def collect(folder: str | None, units_file: str | None, db: str, specs: str | None, key: str | None, file_password: str | None,
            workers: int | None, engine: str, scheduler: str | None, report_dir: str | None,
            json_out: str | None, limits: tuple[str, ...]) -> None:
    """收集 FOLDER 下报回的工作簿：逐份读取审核、入库（SQLite），输出各单位报送情况（HTML、CSV 与屏幕）。

    在轮次目录中 FOLDER 默认为轮次的 returned/。"""
    from ..office.collect import collect as run_collect
    from ..office.collect import terminal_table, write_reports
    from .common import current_round, key_arg, limits_arg, spec_arg

    lim = limits_arg(limits)

    if folder is None:
        rnd = current_round()
        if rnd is None:
            raise click.UsageError("请给出收回工作簿所在的目录 FOLDER")
        folder = str(rnd.folder("returned"))
    src = Path(folder)
    if not src.is_dir():
        _die(f"目录 {folder} 不存在")
    spec = spec_arg(specs)
    tree = _tree(units_file, None, True)
    with _open_store(db, True) as store:
        rnd = current_round()
        if rnd is not None:  # every spec a round collects with is kept in it, by hash
            rnd.keep_spec(spec)
        key = key_arg(key) or store.get_meta(KEY_META)
        if not key:
            click.echo(f"[注意] {DEFAULT_KEY_WARNING}", err=True)
        reader = None
        if engine == "dask":
            from ..cluster.daskengine import DaskEngine

            reader = DaskEngine(scheduler, workers).read_many
        summary = run_collect(store, src, tree, spec, key, file_password, workers, reader=reader, limits=lim)
        rep = unit_report(store, tree)
        html, csv_path = write_reports(store, rep, report_dir_of(db, report_dir),
                                       notice=None if key else DEFAULT_KEY_WARNING)
        if json_out:
            atomic_write_text(Path(json_out), json.dumps(report_json(store, tree), ensure_ascii=False, indent=1) + "\n")
        if not key:
            click.echo(f"[注意] {DEFAULT_KEY_WARNING}")
        click.echo(terminal_table(rep))
        click.echo(f"本次收到 {summary.files} 个文件：新读取 {summary.read} 个，重复 {summary.duplicates} 个，"
                   f"未变 {summary.unchanged} 个" + (f"，忽略 {len(summary.ignored)} 个（临时/隐藏文件、链接、非普通文件）"
                                                     if summary.ignored else "")
                   + f"；用时 {summary.seconds:.1f} 秒")
        for item in summary.ignored[:50]:
            click.echo(printable(f"  已忽略：{item}"))
        if len(summary.ignored) > 50:
            click.echo(f"  ……另有 {len(summary.ignored) - 50} 个已忽略")
        click.echo(f"报告：{html}  {csv_path}  数据库：{db}")
    sys.exit(EXIT_OK if rep.ok and not tree.findings else EXIT_FINDINGS)


@click.command()
@click.argument("parent")
@click.option("--units", "units_file", type=click.Path(dir_okay=False), help="单位清单 CSV（默认用数据库中最近一次收集的清单）")
@db_option
@click.option("--specs", help="规格目录或版本号，默认为收集时所用的规格")
@click.option("--include-errors", is_flag=True, help="有错误的单位也纳入汇总")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), help="汇总工作簿 .xlsx（轮次中默认 out/PARENT-汇总.xlsx）")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="汇总数据文件（规范 JSON）")
@click.option("--report", "report_out", type=click.Path(dir_okay=False), help="汇总报告 HTML（默认与工作簿同名 .html）")
@click.option("--key", help="指纹密钥（默认取环境变量 JUESUAN_KEY）")
@click.option("--password", help="工作表保护密码")
@click.option("--allow-unfinished", is_flag=True, help="最近一次收集没有完成时，仍按数据库现有的数汇总（报告中注明）")
@click.option("--include-unapproved", is_flag=True,
              help="（轮次中）未经审核通过的报表也纳入，生成标明“草稿”的汇总（只供查看，不得上报或公开）")
@store_errors
def consolidate(parent: str, units_file: str | None, db: str, specs: str | None, include_errors: bool, out: str | None,
                json_out: str | None, report_out: str | None, key: str | None, password: str | None,
                allow_unfinished: bool, include_unapproved: bool) -> None:
    """汇总 PARENT 及其全部下级单位的当前报送，逐级审核，输出同一模板的汇总工作簿与数据文件。"""
    from ..office.consolidate import ConsolidateError, UnfinishedCollect, render_text, write_outputs
    from ..office.consolidate import consolidate_round as run
    from .common import key_arg, round_path

    if out is None:
        default = round_path("out", f"{parent}-汇总.xlsx")
        if default is None:
            raise click.UsageError("请用 -o 给出汇总工作簿 .xlsx")
        out = str(default)
    target = Path(out)
    if json_out is None and round_path("out") is not None:
        json_out = str(target.with_suffix(".json"))
    if target.suffix.lower() != ".xlsx":
        _die("-o 应为 .xlsx 文件")
    with _open_store(db, False) as store:
        tree = _tree(units_file, store, False)
        spec = _store_spec(store, specs)
        from ..office.review import approval_mode

        approval = approval_mode(store, include_unapproved)  # a round reviews: approved reports, else a draft
        try:  # the office's one 汇总 policy (refused after an unfinished collect unless --allow-unfinished)
            cons = run(store, tree, spec, parent, include_errors, allow_unfinished, approval=approval)
        except UnfinishedCollect as exc:
            _die(str(exc))
            return
        except ConsolidateError as exc:
            _die(str(exc) + ("；轮次中只汇总审核通过的报表（juesuan review 单位代码 --approve），"
                             "或加 --include-unapproved 生成草稿" if approval == "approved" else ""))
            return
        for f in cons.findings[:1]:
            if f.code == "collect-unfinished":
                click.echo(f"[提示] {f.message}", err=True)
        outs = write_outputs(store, cons, target, Path(json_out) if json_out else None,
                             Path(report_out) if report_out else target.with_suffix(".html"),
                             key_arg(key) or store.get_meta(KEY_META), password)
        submitted = None
        if approval == "approved":
            from ..office.consolidate import submit_level

            submitted = submit_level(store, tree, cons, outs.workbook)
    click.echo(render_text(cons, outs.readback))
    if cons.draft:
        click.echo("[注意] 这是草稿：含未经审核通过的报表，只供查看，不得上报或公开")
    if submitted is not None:
        click.echo(f"已作为 {cons.name}（{parent}）的报送 #{submitted} 提交上级审核（juesuan review {parent} --approve）")
    elif approval == "approved" and cons.excluded and tree.units[parent].parent:
        click.echo(f"未提交上级：{len(cons.excluded)} 个单位未纳入（见上），全部审核通过后再汇总即提交")
    click.echo(f"汇总工作簿：{outs.workbook}" + (f"  数据文件：{outs.data_file}" if outs.data_file else "")
               + (f"  报告：{outs.report}" if outs.report else ""))
    bad = any(f.severity == ERROR for f in cons.all_findings() + outs.readback)
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)


@click.command()
@click.argument("parent")
@click.argument("table")
@click.argument("row")
@click.argument("col")
@click.option("--units", "units_file", type=click.Path(dir_okay=False), help="单位清单 CSV（默认用数据库中的清单）")
@db_option
@click.option("--specs", help="规格目录或版本号，默认为收集时所用的规格")
@click.option("--current", is_flag=True, help="按当前报送情况，而不是最近一次汇总的记录")
@click.option("--include-errors", is_flag=True, help="（与 --current 同用）有错误的单位也计入")
@click.option("--all", "show_all", is_flag=True, help="列出全部单位，包括此数为 0 的")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@store_errors
def explain(parent: str, table: str, row: str, col: str, units_file: str | None, db: str, specs: str | None,
            current: bool, include_errors: bool, show_all: bool, as_json: bool) -> None:
    """汇总数的来源：PARENT 的 TABLE 表 ROW（行次/科目代码/合计）COL 栏由哪些单位各贡献多少。"""
    from ..office.consolidate import ConsolidateError
    from ..office.consolidate import explain as run

    with _open_store(db, False) as store:
        tree = _tree(units_file, store, False)
        spec = _store_spec(store, specs)
        table = table if table.startswith("公开") or table in spec.tables else f"公开{table.zfill(2)}"
        try:
            ex = run(store, tree, spec, parent, table, row, col, include_errors, use_record=not current)
        except ConsolidateError as exc:
            _die(str(exc))
            return
    click.echo(json.dumps(ex.to_json(), ensure_ascii=False, indent=1) if as_json else ex.render(show_all))


@click.command()
@db_option
@click.option("--specs", help="新规格目录或版本号，默认为收集时所用的规格")
@click.option("--units", "units_file", type=click.Path(dir_okay=False), help="单位清单 CSV（默认用数据库中的清单）")
@click.option("--report-dir", type=click.Path(file_okay=False), help="报告目录，默认与数据库同目录")
@store_errors
def recheck(db: str, specs: str | None, units_file: str | None, report_dir: str | None) -> None:
    """按新的审核公式重新审核数据库中已收的报送（不重读文件）；旧的审核结果留作历史。"""
    from ..office.collect import recheck as run
    from ..office.collect import terminal_table, write_reports

    with _open_store(db, False) as store:
        tree = _tree(units_file, store, False)
        if units_file:
            store.replace_units(tree.rows())
        spec = _store_spec(store, specs)
        collected = store.get_meta("spec_version") or ""
        old = None
        if collected and collected != spec.version:
            old = spec_by_version(collected)
            if old is None:
                _die(f"找不到收集时所用的规格版本 {collected}，无法把已收的数换算到 {spec.version}")
        summary = run(store, tree, spec, old)
        rep = unit_report(store, tree)
        html, csv_path = write_reports(store, rep, report_dir_of(db, report_dir),
                                       "recheck-report")
    click.echo(f"按规格 {spec.version}（{spec.hash}）重新审核 {summary.submissions} 份报送："
               f"新增问题 {summary.added} 条，消除 {summary.resolved} 条" +
               (f"，{summary.unplaced} 个数在新版中无处放置" if summary.unplaced else "") +
               (f"，{summary.failed} 份审核出错" if summary.failed else ""))
    for code, name, before, after in summary.changes:
        click.echo(f"  {code} {name}：{before} → {after}")
    click.echo(terminal_table(rep))
    click.echo(f"报告：{html}  {csv_path}")
    sys.exit(EXIT_OK if rep.ok else EXIT_FINDINGS)


@click.command()
@db_option
@click.option("--units", "units_file", type=click.Path(dir_okay=False), help="单位清单 CSV（默认用数据库中的清单）")
@click.option("--unit", "only", multiple=True, help="只给这些单位写反馈（可多次）")
@click.option("-o", "--out", "out", type=click.Path(file_okay=False), help="反馈文件目录（轮次中默认 out/反馈）")
def feedback(db: str, units_file: str | None, only: tuple[str, ...], out: str | None) -> None:
    """给每个单位写一份审核反馈（CODE-反馈.html 与 CODE-反馈.xlsx）：状态、问题清单（位置、应为、实际、怎么改）、另收文件。"""
    from ..office.feedback import feedback as run
    from .common import round_path

    if out is None:
        default = round_path("out", "反馈")
        if default is None:
            raise click.UsageError("请用 -o 给出反馈文件目录")
        out = str(default)
    with _open_store(db, False) as store:
        tree = _tree(units_file, store, False)
        unknown = [u for u in only if u not in tree.units]
        if unknown:
            _die(f"单位 {'、'.join(unknown)} 不在单位清单中")
        written = run(store, tree, Path(out), list(only) or None)
    click.echo(f"已写出 {len(written) // 2} 个单位的反馈到 {out}")
    sys.exit(EXIT_OK)


def demo_step(outdir: Path, spec: Spec) -> None:
    """The sample unit tree: build every unit's workbook, collect them, consolidate the department."""
    from ..core.dataset import load_dataset
    from ..core.resources import specs_root
    from ..office.collect import collect as run_collect
    from ..office.collect import terminal_table, write_reports
    from ..office.consolidate import consolidate as run
    from ..office.consolidate import render_text, write_outputs
    from ..office.units import read_units_csv, unit_filename
    from ..xlsx.writer import build_workbook

    samples = specs_root() / "samples"
    rows, _ = read_units_csv(samples / "units.csv")
    returned = outdir / "returned"
    if returned.exists():
        shutil.rmtree(returned)
    returned.mkdir(parents=True)
    for r in rows:
        if r["data"]:
            ds = load_dataset(samples / r["data"])
            ds.unit_code, ds.unit_name = r["code"], r["name"]
            build_workbook(spec, ds, returned / unit_filename(r["code"], r["name"]))
    db = outdir / "juesuan.sqlite"
    for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        p.unlink(missing_ok=True)
    tree = load_tree(samples / "units.csv")
    with Store(db) as store:
        run_collect(store, returned, tree, spec, progress=False)
        rep = unit_report(store, tree)
        html, _ = write_reports(store, rep, outdir, notice=DEFAULT_KEY_WARNING)
        click.echo(terminal_table(rep))
        root = tree.roots[0]
        cons = run(store, tree, spec, root)
        outs = write_outputs(store, cons, outdir / f"{root}-汇总.xlsx", outdir / f"{root}-汇总.json",
                             outdir / f"{root}-汇总.html")
    click.echo(render_text(cons, outs.readback))
    click.echo(f"收集报告 {html}；汇总工作簿 {outs.workbook}")


@click.group("key")
def key_group() -> None:
    """指纹密钥：生成一把真正的密钥并与数据库一起保存（从不写入工作簿）。"""


@key_group.command("init")
@db_option
@store_errors
def key_init(db: str) -> None:
    """生成随机指纹密钥，保存在数据库中；此后 build/read/collect/consolidate 用同一数据库时自动使用。"""
    import secrets

    with _open_store(db, True) as store:
        if store.get_meta(KEY_META):
            _die(f"数据库 {store.name} 已有指纹密钥；更换密钥会使已下发的全部模板校验不通过，未更改")
        store.begin()
        store.set_meta(KEY_META, secrets.token_urlsafe(32))
        store.restrict_mode()
        store.commit()
        name = store.name
    click.echo(f"已生成指纹密钥并保存在数据库 {name} 中（不会写入任何工作簿）。用同一数据库（--db 或环境变量 JUESUAN_DB）"
               "生成模板和收集时自动使用；请与数据库一起备份，不要发给各单位。")


__all__ = ["key_group", "collect", "consolidate", "explain", "recheck", "feedback", "demo_step", "report_json"]
