"""``juesuan init``, ``units``, ``profile`` and ``round``: a round's home and what is added to it.

Exit codes: 0 done; 1 a file given is invalid (nothing changed); 2 unusable (not in a round, a
folder that is not empty, a broken spec).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import current_round


def _die(message: str, code: int = 2) -> None:
    click.echo(f"[错误] {message}", err=True)
    sys.exit(code)


def _need_round():
    rnd = current_round()
    if rnd is None:
        _die("当前目录不在决算轮次中：请先 juesuan init DIR 建立轮次，在其目录中运行（或用 juesuan --round DIR …）")
    return rnd


def _bundled_spec_for(year: int) -> Path | None:
    from ..core.catalog import find_spec_dirs, load_spec
    from ..core.spec import SpecInvalid

    # the folder named by the year first (specs/2024), then any other format of that year
    for d in sorted(find_spec_dirs(), key=lambda d: d.name != str(year)):
        try:
            if load_spec(d).year == year:
                return d
        except SpecInvalid:
            continue
    return None


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--year", type=int, help="决算年度（默认取规格的年度；不给 --specs 时必填）")
@click.option("--specs", type=click.Path(file_okay=False, exists=True), help="起始规格目录（默认随附的该年度规格）")
@click.option("--db", help="数据库：默认轮次目录中的 SQLite 文件；也可给 postgresql://用户@主机/库名")
@click.option("--name", help="轮次名称（默认目录名）")
def init(folder: str, year: int | None, specs: str | None, db: str | None, name: str | None) -> None:
    """建立一个决算公开轮次目录：数据库、本轮规格的副本（按 hash）、指纹密钥和下一步说明。"""
    from ..core.catalog import load_spec
    from ..core.spec import SpecInvalid
    from ..office.round import README, RoundError, init_round
    from ..office.store import DBError

    if specs is None:
        if year is None:
            _die("请用 --year 给出决算年度（或用 --specs 给出规格目录）")
        found = _bundled_spec_for(year)  # type: ignore[arg-type]
        if found is None:
            _die(f"没有随附 {year} 年度的规格；请用 --specs 给出规格目录")
        specs = str(found)
    try:
        year = year or load_spec(Path(specs)).year
        rnd = init_round(Path(folder), year, Path(specs), db, name)
    except SpecInvalid as exc:
        _die("规格文件有误：" + "；".join(str(p) for p in exc.problems[:5]))
        return
    except (RoundError, DBError) as exc:
        _die(str(exc))
        return
    spec = rnd.spec()
    click.echo(f"已建立决算轮次 {rnd.root}：{year} 年度，规格 {spec.template} {spec.version}（{spec.hash}），"
               f"数据库 {rnd.db}，已生成指纹密钥（只存于数据库）。")
    click.echo(README.format(name=rnd.name, year=year, db=rnd.config["database"]).split("\n\n", 2)[2].rstrip())


@click.group("units")
def units_group() -> None:
    """本轮次的单位清单：登记（units set）或查看（units show）。"""


@units_group.command("set")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
def units_set(file: str) -> None:
    """登记单位清单 FILE（CSV：code,name,parent[,data][,kind][,subjects]）为本轮次的单位树；有错误时不登记（退出码 1）。"""
    from ..office.round import RoundError

    rnd = _need_round()
    try:
        n = rnd.set_units(Path(file))
    except RoundError as exc:
        _die(str(exc), 1)
        return
    click.echo(f"已登记 {n} 个单位（{rnd.root / 'units.csv'}）；juesuan build 为各报送单位生成模板")


@units_group.command("show")
def units_show() -> None:
    """列出本轮次登记的单位树。"""
    from ..office.collect import load_tree

    rnd = _need_round()
    if rnd.units_file is None:
        _die("本轮次还没有单位清单；请用 juesuan units set 单位清单.csv 登记")
    tree = load_tree(rnd.units_file)
    for code, depth in tree.walk():
        u = tree.units[code]
        click.echo(f"{'  ' * depth}{code} {u.name}" + ("（汇总）" if tree.is_aggregate(code) else ""))


@click.group("profile")
def profile_group() -> None:
    """本轮次的公开设置（概况文件 YAML）：登记后 publish 自动使用。"""


@profile_group.command("set")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
def profile_set(file: str) -> None:
    """登记概况文件 FILE（YAML：职责、机构设置等；juesuan publish --profile-template 打印模板）。"""
    from ..core.dataset import DataError
    from ..publish.profile import load_profile

    rnd = _need_round()
    try:
        load_profile(file)
    except DataError as exc:
        _die(str(exc), 1)
    rnd.set_profile(Path(file))
    click.echo(f"已登记公开设置 {rnd.root / 'profile.yaml'}")


@click.group("round", invoke_without_command=True)
@click.pass_context
def round_group(ctx: click.Context) -> None:
    """查看当前决算轮次的设置：年度、数据库、规格、单位、密钥。"""
    if ctx.invoked_subcommand is not None:
        return
    rnd = _need_round()
    spec = rnd.spec()
    with rnd.store(create=False) as store:
        versions = store.spec_versions()
        has_key = bool(store.get_meta("fingerprint_key"))
        n_units = len(store.units())
    click.echo(f"轮次：{rnd.name}（{rnd.root}）")
    click.echo(f"年度：{rnd.year}")
    click.echo(f"数据库：{rnd.db}")
    click.echo(f"当前规格：{spec.template} {spec.version}（{spec.hash}）；本轮用过的规格 {len(versions)} 版")
    click.echo(f"单位清单：{rnd.units_file or '未登记'}（数据库中 {n_units} 个单位）")
    click.echo(f"公开设置：{rnd.profile_file or '未登记'}")
    click.echo(f"指纹密钥：{'已生成（只存于数据库）' if has_key else '未生成'}")
    click.echo(f"报送截止：{rnd.config.get('deadline') or '未设置（juesuan round deadline YYYY-MM-DD）'}")


@round_group.command("add-spec")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
def round_add_spec(folder: str) -> None:
    """把规格目录 FOLDER（如新年度或财政部修订后的规格）复制进本轮次（按 hash），作为当前规格；原有规格仍保留，已收的报送照旧按其原规格读取。"""
    from ..core.spec import SpecInvalid

    rnd = _need_round()
    try:
        spec = rnd.add_spec(Path(folder))
    except SpecInvalid as exc:
        _die("规格文件有误：" + "；".join(str(p) for p in exc.problems[:5]))
        return
    click.echo(f"本轮当前规格：{spec.template} {spec.version}（{spec.hash}）；此前生成的模板须重新生成（juesuan build）")


@round_group.command("deadline")
@click.argument("day", type=click.DateTime(["%Y-%m-%d"]))
def round_deadline(day: object) -> None:
    """设置本轮报送截止日期 DAY（YYYY-MM-DD）：juesuan status 与网页据此列出逾期单位。"""
    from ..office.review import DEADLINE_META

    rnd = _need_round()
    text = day.date().isoformat()  # type: ignore[attr-defined]
    with rnd.store() as store:
        store.begin()
        store.set_meta(DEADLINE_META, text)
        store.commit()
    rnd.config["deadline"] = text
    rnd.save()
    click.echo(f"本轮报送截止日期：{text}")


def demo_in_round(rnd) -> None:
    """``juesuan demo`` inside a round: the bundled sample tree run as this round's own — its units
    registered, each unit's returned workbook (made from its sample figures, signed with the round's
    key) put in returned/, collected, feedback written, the department consolidated and one unit's
    report published; everything in the round's folders and database."""
    from ..core.dataset import load_dataset
    from ..core.fsutil import atomic_write_text
    from ..core.resources import specs_root
    from ..office.collect import collect as run_collect
    from ..office.collect import load_tree, terminal_table, unit_report, write_reports
    from ..office.consolidate import consolidate, render_text, write_outputs
    from ..office.feedback import feedback
    from ..office.units import read_units_csv, unit_filename
    from ..publish.html import render_html
    from ..publish.report import build_report
    from ..publish.source import from_database
    from ..xlsx.writer import build_workbook

    spec, key = rnd.spec(), rnd.key()
    samples = specs_root() / "samples"
    # the sample tree of the round's format: Changsha's (units.csv) for 2024, a format's own (units-VERSION.csv)
    tree_file = samples / ("units.csv" if spec.version == "2024" else f"units-{spec.version}.csv")
    if not tree_file.is_file():
        have = ["2024"] + sorted(p.stem[len("units-"):] for p in samples.glob("units-*.csv"))
        _die(f"本轮规格 {spec.version} 没有随附的样例单位树（有样例的规格：{'、'.join(have)}）；"
             "请用 juesuan units set 登记本轮单位，或在 2024 规格的轮次中运行 demo")
    n = rnd.set_units(tree_file)
    click.echo(f"已登记样例单位树（{n} 个单位）到本轮次")
    returned = rnd.folder("returned")
    rows, _ = read_units_csv(rnd.units_file)
    for r in rows:
        if r["data"]:
            ds = load_dataset(rnd.root / r["data"])
            ds.unit_code, ds.unit_name = r["code"], r["name"]
            try:
                build_workbook(spec, ds, returned / unit_filename(r["code"], r["name"]), key)
            except ValueError as exc:  # sample figures another format's tables cannot hold
                _die(f"随附的样例数据不适用于本轮规格 {spec.version}（{exc}）；请用 juesuan units set 登记本轮单位")
    click.echo(f"已把各单位填好的样例工作簿放入 {returned}")
    tree = load_tree(rnd.units_file)
    out = rnd.folder("out")
    with rnd.store() as store:
        run_collect(store, returned, tree, spec, key, progress=False)
        rep = unit_report(store, tree)
        html, _ = write_reports(store, rep, out)
        click.echo(terminal_table(rep))
        written = feedback(store, tree, out / "反馈")
        # the office reviews: every unit's report approved (juesuan review CODE --approve), then the
        # final 汇总 takes the approved reports
        from ..office.review import APPROVE, record, states

        for st in states(store, tree):
            if st.state == "pending":
                record(store, tree, st.code, APPROVE, "样例审核人")
        root = tree.roots[0]
        cons = consolidate(store, tree, spec, root, approval="approved")
        outs = write_outputs(store, cons, out / f"{root}-汇总.xlsx", out / f"{root}-汇总.json", out / f"{root}-汇总.html",
                             key)
    click.echo(render_text(cons, outs.readback))
    unit = rows[1]["code"] if len(rows) > 1 else rows[0]["code"]
    report = build_report(from_database(rnd.db, unit, spec))
    target = out / "公开" / f"{report.unit_name}{report.year}年度部门决算公开.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, render_html(report))
    click.echo(f"收集报告 {html}；反馈 {len(written) // 2} 个单位（{out / '反馈'}）；汇总工作簿 {outs.workbook}；公开报告 {target}")


__all__ = ["init", "units_group", "profile_group", "round_group", "demo_in_round"]
