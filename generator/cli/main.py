"""Command line: a thin layer over the library. Exit 0 valid, 1 invalid, 2 unusable."""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

if TYPE_CHECKING:
    from ..core.spec import Spec

from .common import key_arg, limits_arg, limits_option, spec_arg


class Lazy(NamedTuple):
    """A command of another cli module, imported only when it runs or shows its own help; ``help`` is
    the first paragraph of its docstring, for the command list (tests/test_cli_startup.py keeps the
    two equal)."""

    module: str
    attr: str
    help: str


# the command name is the attribute's, with - for _ (diff_spec -> diff-spec; key_group -> key)
LAZY: dict[str, Lazy] = {lazy.attr.removesuffix("_group").replace("_", "-"): lazy for lazy in (
    Lazy("round", "init", "建立一个决算公开轮次目录：数据库、本轮规格的副本（按 hash）、指纹密钥和下一步说明。"),
    Lazy("round", "units_group", "本轮次的单位清单：登记（units set）或查看（units show）。"),
    Lazy("round", "profile_group", "本轮次的公开设置（概况文件 YAML）：登记后 publish 自动使用。"),
    Lazy("round", "round_group", "查看当前决算轮次的设置：年度、数据库、规格、单位、密钥。"),
    Lazy("review", "review", "审核 CODE 单位当前的报送：--approve 审核通过，或 --return \"原因\" 退回（可用 --cell 指出单元格）。"),
    Lazy("review", "status", "本轮各单位的报送与审核情况：状态、审核、当前报送、审核人、时间；逾期、退回未重报、待审核的天数。"),
    Lazy("codes", "codes", "科目代码表：从财政系统导出的政府收支分类科目（code,name）导入规格。"),
    Lazy("narrative", "narrative", "由决算数字生成第三部分 决算情况说明（一至十）。"),
    Lazy("narrative", "check_narrative", "核对已写好的情况说明中的金额和百分比是否与决算表一致。"),
    Lazy("collect", "collect", "收集 FOLDER 下报回的工作簿：逐份读取审核、入库（SQLite），输出各单位报送情况（HTML、CSV 与屏幕）。"),
    Lazy("collect", "consolidate", "汇总 PARENT 及其全部下级单位的当前报送，逐级审核，输出同一模板的汇总工作簿与数据文件。"),
    Lazy("collect", "explain", "汇总数的来源：PARENT 的 TABLE 表 ROW（行次/科目代码/合计）COL 栏由哪些单位各贡献多少。"),
    Lazy("collect", "recheck", "按新的审核公式重新审核数据库中已收的报送（不重读文件）；旧的审核结果留作历史。"),
    Lazy("collect", "key_group", "指纹密钥：生成一把真正的密钥并与数据库一起保存（从不写入工作簿）。"),
    Lazy("collect", "feedback",
         "给每个单位写一份审核反馈（CODE-反馈.html 与 CODE-反馈.xlsx）：状态、问题清单（位置、应为、实际、怎么改）、另收文件。"),
    Lazy("migrate", "diff_spec", "比较两版规格（目录或版本号）：逐表列出行、栏、公式和审核公式的变化，生成可随新模板下发的说明。"),
    Lazy("migrate", "migrate", "把按旧版填好的工作簿迁移到新版：逐数搬入新版并重算公式，列出无处安放的数。"),
    Lazy("publish", "publish", "由工作簿、数据文件或数据库中的单位（含汇总）生成完整的部门决算公开报告（HTML/PDF/Word）。"),
    Lazy("publish", "check_published", "核对已公开的决算 PDF：每张公开表的每个数及情况说明中的数是否与报送数据一致。"),
    Lazy("web", "serve", "启动报送网页：各单位凭链接下载模板、上传工作簿并立即看到审核结果；财务部门登录后实时查看报送情况。"),
    Lazy("web", "links", "每个报送单位一行：单位代码<TAB>专用链接（含该单位的密钥，请只发给该单位）。汇总单位不单独报送，不列出。"),
    Lazy("web", "office_password", "从标准输入读入财务部门的登录密码（至少 8 个字符），以 scrypt 散列保存。"),
)}


class LazyGroup(click.Group):
    """``juesuan``: the commands of cli/main.py at once, those of the other cli modules (and the
    libraries they pull in) only when asked for -- ``juesuan --help`` and ``juesuan read`` start
    without importing the web server, the publisher or the collection flows."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in LAZY:
            import importlib

            lazy = LAZY[name]
            self.add_command(getattr(importlib.import_module(f"{__package__}.{lazy.module}"), lazy.attr), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            cmd = self.commands.get(name)
            if cmd is not None:
                if not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit)))
            else:
                # a stand-in command shortens the help as click does (without importing the module)
                rows.append((name, click.Command(name, help=LAZY[name].help).get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def demo_steps() -> list[Any]:
    """The ``demo_step`` of every cli module that has one, in the order the demo runs them."""
    import importlib

    steps = []
    for module in ("codes", "narrative", "collect", "migrate", "publish", "web"):
        step = getattr(importlib.import_module(f"{__package__}.{module}"), "demo_step", None)
        if step is not None:
            steps.append(step)
    return steps


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="juesuan")
@click.option("--round", "-C", "round_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="在该决算轮次目录中运行（默认：当前目录或其上级中的轮次）")
@click.pass_context
def cli(ctx: click.Context, round_dir: str | None) -> None:
    """juesuan：部门决算公开表的模板下发、收集审核与汇总。

    在 juesuan init 建立的轮次目录中运行时，规格、数据库、密钥、单位清单和公开设置都取自轮次。"""
    from .common import RoundRef

    ctx.obj = RoundRef(round_dir)


@cli.command("check-spec")
@click.argument("specs", required=False)
def check_spec(specs: str | None) -> None:
    """检查规格目录（YAML），列出全部问题（文件:行号）。"""
    from ..core.specmap import check_mapping

    spec = spec_arg(specs)
    problems = check_mapping(spec)
    if problems:
        click.echo("规格文件有误：", err=True)
        for p in problems:
            click.echo(f"  {p}", err=True)
        sys.exit(2)
    n_rows = sum(len(b.rows) for t in spec.tables.values() for b in t.blocks)
    click.echo(f"规格 {spec.template} {spec.version} 有效：{len(spec.tables)} 张表，{n_rows} 个固定行，"
               f"{len(spec.rules)} 条审核规则，hash {spec.hash}")


@cli.command()
@click.option("--specs", type=click.Path(file_okay=False), help="规格目录，默认 specs/2024")
@click.option("--data", "data_file", type=click.Path(dir_okay=False), help="单位数据 JSON（规范格式）")
@click.option("--units", "units_file", type=click.Path(dir_okay=False),
              help="单位清单 CSV：code,name,parent[,data][,kind][,subjects]（subjects：本单位的末级科目（功能分类 7 位项级；经济分类科目表 5 位款级），空格分隔）")
@click.option("--previous", "previous_db", help="上年度的收集数据库：各单位按其上年报表的科目列行（不带数）")
@click.option("--spare-rows", type=click.IntRange(0, 200), help="每张科目表末的“新增科目”空行数，默认按规格（5）")
@click.option("--unit", "unit_code", help="空白模板的单位代码")
@click.option("--name", "unit_name", help="空白模板的单位名称")
@click.option("--key", help="指纹密钥（默认取环境变量 JUESUAN_KEY）")
@click.option("--password", help="工作表保护密码")
@click.option("-o", "--out", "out", type=click.Path(),
              help="输出文件（单个单位）或目录（多个单位）；轮次中默认为轮次的 templates/")
@click.option("--allow-default-key", is_flag=True, help="没有指纹密钥时仍为多个单位生成模板（不安全：见 docs/threat-model.md）")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="--units 时的执行方式：本进程，或 Dask 集群（见 --scheduler）")
@click.option("--scheduler", help="Dask 调度器地址（tcp://主机:8786）；不给则在本机启动 LocalCluster")
@click.option("--workers", type=int, help="本机 LocalCluster 的工作进程数，默认为 CPU 核数")
def build(specs: str | None, data_file: str | None, units_file: str | None, previous_db: str | None,
          spare_rows: int | None, unit_code: str | None, unit_name: str | None, key: str | None, password: str | None,
          out: str | None, allow_default_key: bool, engine: str, scheduler: str | None, workers: int | None) -> None:
    """生成锁定的、带公式的填报工作簿。

    在轮次目录中不带参数运行时，为轮次单位清单中的每个报送单位生成模板，写入轮次的 templates/。"""
    from .common import current_round

    rnd = current_round()
    if rnd is not None and not (data_file or units_file or unit_code):
        if rnd.units_file is None:
            click.echo("[错误] 本轮次还没有单位清单；请先 juesuan units set 单位清单.csv", err=True)
            sys.exit(2)
        units_file = str(rnd.units_file)
    if out is None:
        if rnd is None:
            raise click.UsageError("请用 -o 给出输出文件或目录")
        out = str(rnd.folder("templates"))
    spec = spec_arg(specs)
    key = key_arg(key)
    if units_file:
        _build_units(spec, Path(units_file), previous_db, Path(out), key, password, spare_rows, allow_default_key,
                     engine, scheduler, workers)
    _build_one(spec, data_file, unit_code, unit_name, Path(out), key, password, spare_rows)


def _build_units(spec: Spec, units_file: Path, previous_db: str | None, outdir: Path, key: str | None,
                 password: str | None, spare_rows: int | None, allow_default_key: bool, engine: str,
                 scheduler: str | None, workers: int | None) -> None:
    """``build --units``: every reporting unit's template into ``outdir``; exits."""
    from ..office.collect import AGGREGATE_KINDS
    from ..office.units import read_units_csv

    rows, problems = read_units_csv(units_file)
    for p in problems:
        click.echo(p.render(), err=True)
    units: list[dict[str, Any]] = [u for u in rows if u.get("kind") not in AGGREGATE_KINDS]  # they send no report of their own
    if not key and len(units) > 1 and not allow_default_key:
        click.echo("[错误] 没有指纹密钥：用内置的公开默认密钥生成的模板，任何人都能伪造。请在轮次目录中运行"
                   "（juesuan init 已生成密钥），或先 juesuan key init；确需如此请加 --allow-default-key", err=True)
        sys.exit(2)
    previous = _previous_subjects(previous_db, [u["code"] for u in units]) if previous_db else {}
    outdir.mkdir(parents=True, exist_ok=True)
    from tqdm import tqdm

    from ..core.fsutil import atomic_write_bytes
    from ..office.units import build_units

    base = units_file.parent
    for u in units:
        if u["code"] in previous:
            u["previous"] = previous[u["code"]]
    if engine == "dask":
        from ..cluster.daskengine import DaskEngine

        eng = DaskEngine(scheduler, workers)
        results = eng.build_units(spec, units, base, key, password, spare_rows)
    else:
        results = build_units(spec, units, base, key, password, spare_rows)
    failed = len(problems)
    built = 0
    for b in tqdm(results, total=len(units), desc="生成工作簿", unit="户", disable=None):
        if b.data is None:
            click.echo(f"[错误] 单位 {b.code}：{b.problem}，已跳过", err=True)
            failed += 1
            continue
        atomic_write_bytes(outdir / b.filename, b.data)
        built += 1
        for text in b.errors:
            click.echo(f"单位 {b.code}：{text}", err=True)
    click.echo(f"已生成 {built} 个工作簿到 {outdir}" + (f"，{failed} 个单位有问题" if failed else ""))
    sys.exit(1 if failed else 0)


def _build_one(spec: Spec, data_file: str | None, unit_code: str | None, unit_name: str | None, out: Path,
               key: str | None, password: str | None, spare_rows: int | None) -> None:
    """``build --data`` or a blank template (``--unit``/``--name``); exits."""
    from ..core.dataset import DataError, Dataset, load_dataset
    from ..core.findings import has_errors
    from ..office.units import unit_filename
    from ..xlsx.writer import build_workbook

    if data_file:
        try:
            ds = load_dataset(data_file)
        except DataError as exc:
            click.echo(f"[错误] {exc}", err=True)
            sys.exit(2)
    else:
        if not unit_code or not unit_name:
            raise click.UsageError("请给出 --data、--units，或空白模板的 --unit 与 --name")
        ds = Dataset(unit_code=unit_code, unit_name=unit_name)
    target = out
    if target.suffix.lower() != ".xlsx":
        target = target / unit_filename(ds.unit_code, ds.unit_name)
    try:
        res = build_workbook(spec, ds, target, key, password, spare_rows)
    except ValueError as exc:
        click.echo(f"[错误] {exc}", err=True)
        sys.exit(2)
    for f in res.findings:
        click.echo(f.render())
    click.echo(f"已生成 {target}")
    sys.exit(1 if has_errors(res.findings) else 0)


def _previous_subjects(db: str, codes: list[str]) -> dict[str, tuple[dict[str, list[str]], dict[str, str]]]:
    """Each unit's 科目 rows (项 codes per table) and data-given names from its current submission
    in a previous year's database."""
    from ..office.service import previous_subjects
    from ..office.store import DBError, Store

    try:
        store = Store(db, create=False)
    except DBError as exc:
        click.echo(f"[错误] {exc}", err=True)
        sys.exit(2)
    with store:
        return previous_subjects(store, codes)


@cli.command()
@click.argument("file", type=click.Path())
@click.option("--specs", "specs", multiple=True, type=click.Path(file_okay=False), help="规格目录（可多次；默认 specs/ 下全部版本）")
@click.option("--key", help="指纹密钥（默认取环境变量 JUESUAN_KEY）")
@click.option("--unit", "expect_unit", help="应属的单位代码")
@click.option("--file-password", help="加密工作簿的打开密码")
@click.option("--json", "as_json", is_flag=True, help="输出规范 JSON 文档")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="把 JSON 写入文件")
@limits_option
def read(file: str, specs: tuple[str, ...], key: str | None, expect_unit: str | None, file_password: str | None,
         as_json: bool, out: str | None, limits: tuple[str, ...]) -> None:
    """读取报回的工作簿：完整性检查、审核公式，输出报告或 JSON。"""
    from ..core.findings import printable
    from ..core.fsutil import atomic_write_text
    from ..xlsx.reader import read_workbook
    from .report import render_text

    lim = limits_arg(limits)
    from .common import current_round

    rnd = current_round()
    spec_dirs = [Path(s) for s in specs] or (rnd.spec_dirs() if rnd is not None else None)
    res = read_workbook(file, spec_dirs, key_arg(key), expect_unit, None, file_password, lim)
    doc = res.to_json()
    if out:
        atomic_write_text(Path(out), json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        ds = res.dataset
        title = printable(f"{file}：{ds.unit_name}（{ds.unit_code}）{ds.year}年度" if ds else file)
        click.echo(render_text(res.findings, title))
    sys.exit(res.exit_code)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.option("--markdown", is_flag=True, help="以 Markdown 输出（docs/findings.md）")
def findings(as_json: bool, markdown: bool) -> None:
    """问题代码一览：每个代码的级别、标题、怎么改和说明。"""
    from ..core.codes import CATALOGUE
    from ..core.codes import markdown as as_markdown
    from ..core.findings import SEVERITY_ZH

    if as_json:
        click.echo(json.dumps([{"code": e.code, "severity": e.severity, "title": e.title, "advice": e.advice,
                                "doc": e.doc, "group": e.group} for e in CATALOGUE.values()], ensure_ascii=False, indent=1))
    elif markdown:
        click.echo(as_markdown(), nl=False)
    else:
        group = None
        for e in CATALOGUE.values():
            if e.group != group:
                group = e.group
                click.echo(f"\n【{group}】")
            click.echo(f"  {e.code:<34} {SEVERITY_ZH[e.severity]}  {e.title} —— {e.advice}")


@cli.command()
@click.option("-o", "--out", "out", default="out", type=click.Path(file_okay=False), show_default=True)
def demo(out: str) -> None:
    """用随附的样例（长沙市企业服务中心 2024）跑一遍：生成、回读、报告。

    在轮次目录中运行时，把样例单位树当作本轮次的单位：登记、报回、收集、反馈、汇总、公开，全部写入本轮次。"""
    from .common import current_round

    rnd = current_round()
    if rnd is not None:
        from .round import demo_in_round

        demo_in_round(rnd)
        return
    # the demo is a round of its own under the built-in key (its reports say so): an office key in
    # the environment would make every workbook the demo builds fail its own fingerprint check
    office_key = os.environ.pop("JUESUAN_KEY", None)
    if office_key:
        click.echo("样例使用内置的公开默认密钥（本次运行不使用环境变量 JUESUAN_KEY 中的密钥）")
    try:
        _demo(Path(out))
    finally:
        if office_key is not None:
            os.environ["JUESUAN_KEY"] = office_key


def _demo(outdir: Path) -> None:
    from ..core.dataset import load_dataset
    from ..core.fsutil import atomic_write_text
    from ..core.resources import specs_root
    from ..office.units import unit_filename
    from ..xlsx.reader import read_workbook
    from ..xlsx.writer import build_workbook
    from .report import render_text

    spec = spec_arg(None)
    seed = load_dataset(specs_root() / "samples" / "seed-2024.json")
    wb = outdir / unit_filename(seed.unit_code, seed.unit_name)
    res = build_workbook(spec, seed, wb)
    click.echo(f"已生成样例工作簿 {wb}（{len(res.findings)} 条生成提示）")
    read_res = read_workbook(wb, spec=spec)
    text = render_text(read_res.findings, f"回读 {wb.name}")
    atomic_write_text(outdir / "seed-read.json", json.dumps(read_res.to_json(), ensure_ascii=False, indent=1) + "\n")
    atomic_write_text(outdir / "seed-report.txt", text + "\n")
    click.echo(text)
    for extra in demo_steps():
        extra(outdir, spec)
    click.echo(f"输出目录：{outdir}")


def main() -> None:
    # at exit the interpreter's last collection would walk every object a command made (~20 ms after
    # a read, an eighth of juesuan read); frozen first, they are freed by reference counting as the
    # modules go, unwalked (atexit callbacks, weakref finalizers and open files are unaffected)
    atexit.register(gc.freeze)
    cli()


if __name__ == "__main__":
    main()
