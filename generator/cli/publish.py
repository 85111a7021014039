"""``juesuan publish`` and ``juesuan check-published``: thin click commands over generator.publish.

Exit codes: publish 0 written, 1 pre-publication checks failed (nothing written unless --force),
2 unusable input. check-published 0 every figure agrees, 1 differences found, 2 unusable input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..core.dataset import DataError
from ..core.findings import ERROR, INFO, WARNING, sort_findings, stats
from ..core.fsutil import atomic_write_bytes, atomic_write_text
from .common import key_arg

EXIT_OK, EXIT_FINDINGS, EXIT_UNUSABLE = 0, 1, 2
FORMATS = ("html", "pdf", "docx")


def _die(message: str) -> None:
    click.echo(f"错误：{message}", err=True)
    sys.exit(EXIT_UNUSABLE)


def _print_profile_template(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from ..publish.profile import SKELETON

        click.echo(SKELETON, nl=False)
        ctx.exit(EXIT_OK)


def _formats(text: str) -> list[str]:
    out = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise click.BadParameter(f"可选格式：{','.join(FORMATS)}（逗号分隔）", param_hint="--format")
    return out


def _source(source: str, db: str | None, specs: str | None, key: str | None, include_errors: bool,  # noqa: ANN202
            allow_unfinished: bool = False, include_unapproved: bool = False):
    """The source to publish or check against; in a round its database, and the spec a workbook or a
    submission was built with, by hash, among the round's (never the installed package's)."""
    from ..publish.source import SourceError, load_source
    from .common import current_round, spec_arg

    spec = spec_arg(specs) if specs else None
    rnd = current_round()
    spec_dirs = None
    if rnd is not None:
        db = db or rnd.db
        if spec is None:
            spec_dirs = rnd.spec_dirs()
            if not Path(source).suffix:  # a unit of the database: the spec its round collected with
                with rnd.store(create=False) as store:
                    spec = rnd.collected_spec(store)
    try:
        return load_source(source, db, spec, key_arg(key), include_errors, spec_dirs=spec_dirs,
                           allow_unfinished=allow_unfinished, include_unapproved=include_unapproved)
    except SourceError as exc:
        _die(str(exc))
        raise  # unreachable


@click.command("publish")
@click.argument("source", metavar="SOURCE")
@click.option("-o", "--out", "outdir", type=click.Path(file_okay=False), help="输出目录（轮次中默认 out/公开）")
@click.option("--format", "fmt", default="html,pdf,docx", show_default=True, help="输出格式，逗号分隔：html,pdf,docx")
@click.option("--profile", "profile_path", type=click.Path(dir_okay=False), help="概况文件（YAML）：职责、机构设置等")
@click.option("--db", type=click.Path(dir_okay=False), help="收集数据库（SOURCE 为单位代码时）")
@click.option("--specs", help="规格目录（默认由数据来源决定）")
@click.option("--key", help="指纹密钥（读取工作簿时；默认取环境变量 JUESUAN_KEY）")
@click.option("--include-errors", is_flag=True, help="汇总时有错误的单位也纳入")
@click.option("--force", is_flag=True, help="发布前检查未通过（含汇总有单位未报送或有错误）也照样输出")
@click.option("--allow-unfinished", is_flag=True, help="最近一次收集没有完成时，仍按数据库现有的数汇总")
@click.option("--include-unapproved", is_flag=True,
              help="（轮次中）汇总时未经审核通过的报表也纳入：草稿，每页标明“草稿”，须 --force 才输出")
@click.option("--name", "basename", help="输出文件名（不含扩展名），默认“单位名称+年度+部门决算公开”")
@click.option("--profile-template", is_flag=True, is_eager=True, expose_value=False,
              callback=_print_profile_template, help="打印概况文件模板后退出。")
def publish(source: str, outdir: str | None, fmt: str, profile_path: str | None, db: str | None, specs: str | None,
            key: str | None, include_errors: bool, force: bool, allow_unfinished: bool, include_unapproved: bool,
            basename: str | None) -> None:
    """由工作簿、数据文件或数据库中的单位（含汇总）生成完整的部门决算公开报告（HTML/PDF/Word）。

    SOURCE：填好的工作簿 .xlsx、标准数据 JSON，或 --db 数据库中的单位代码。"""
    from ..publish.profile import Profile, load_profile
    from ..publish.report import blocking, build_report, preflight
    from .common import current_round

    rnd = current_round()
    if rnd is not None:
        outdir = outdir or str(rnd.folder("out") / "公开")
        profile_path = profile_path or (str(rnd.profile_file) if rnd.profile_file else None)
    if outdir is None:
        raise click.UsageError("请用 -o 给出输出目录")
    formats = _formats(fmt)
    src = _source(source, db, specs, key, include_errors, allow_unfinished, include_unapproved)
    try:
        profile = load_profile(profile_path) if profile_path else Profile()
    except DataError as exc:
        _die(str(exc))
        return
    try:
        report = build_report(src, profile)
    except ValueError as exc:  # a unit's data that cannot be laid out (LayoutError), a bad reasons file
        _die(str(exc))
        return
    findings = sort_findings(preflight(src, report, profile))
    counts = stats(findings)
    for f in findings:
        if f.severity != INFO:
            click.echo(f.render(), err=True)
    click.echo(f"发布前检查（{src.description}）：错误 {counts[ERROR]} 条，提示 {counts[WARNING]} 条，信息 {counts[INFO]} 条。")
    if blocking(findings) and not force:
        click.echo("检查未通过，未输出报告；核实后可用 --force 照样发布。", err=True)
        sys.exit(EXIT_FINDINGS)
    out = Path(outdir)
    stem = output_stem(basename or f"{report.unit_name}{report.year}年度部门决算公开")
    for kind in formats:
        if not _inside(out / f"{stem}.{kind}", out):
            _die(f"输出文件名 {stem[:60]!r} 会写到输出目录之外，未输出")
    out.mkdir(parents=True, exist_ok=True)
    html = None
    for kind in formats:
        target = out / f"{stem}.{kind}"
        if kind == "html":
            from ..publish.html import render_html

            html = html or render_html(report)
            atomic_write_text(target, html)
        elif kind == "pdf":
            from ..publish.html import render_html
            from ..publish.pdf import render_pdf

            html = html or render_html(report)
            atomic_write_bytes(target, render_pdf(report, html))
        else:
            from ..publish.docx import render_docx

            atomic_write_bytes(target, render_docx(report))
        click.echo(f"已生成 {target}")
    sys.exit(EXIT_FINDINGS if blocking(findings) else EXIT_OK)


def output_stem(name: str) -> str:
    """A file name made from a unit's name (untrusted: it comes from a workbook or a units file):
    no path separators, no '..', no control characters, no leading dot, at most 120 characters."""
    import re
    import unicodedata

    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in name)
    text = re.sub(r'[\\/:*?"<>|\s]+', "_", text).strip("._ ")
    return text[:120].rstrip("._ ") or "部门决算公开"


def _inside(target: Path, folder: Path) -> bool:
    return target.resolve().parent == folder.resolve()


@click.command("check-published")
@click.argument("pdf", type=click.Path(dir_okay=False))
@click.option("--against", "source", required=True, metavar="SOURCE", help="核对所依据的数据：工作簿、数据文件或单位代码")
@click.option("--db", type=click.Path(dir_okay=False), help="收集数据库（SOURCE 为单位代码时）")
@click.option("--specs", help="规格目录")
@click.option("--key", help="指纹密钥（读取工作簿时）")
@click.option("--include-errors", is_flag=True, help="汇总时有错误的单位也纳入")
@click.option("--allow-unfinished", is_flag=True, help="最近一次收集没有完成时，仍按数据库现有的数汇总")
@click.option("--include-unapproved", is_flag=True,
              help="（轮次中）汇总时未经审核通过的报表也纳入：草稿，每页标明“草稿”，须 --force 才输出")
@click.option("--no-info", is_flag=True, help="不显示信息级结果")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出全部结果")
def check_published(pdf: str, source: str, db: str | None, specs: str | None, key: str | None,
                    include_errors: bool, allow_unfinished: bool, include_unapproved: bool, no_info: bool,
                    as_json: bool) -> None:
    """核对已公开的决算 PDF：每张公开表的每个数及情况说明中的数是否与报送数据一致。"""
    from ..publish.verify import PublishedError, check_published_pdf

    src = _source(source, db, specs, key, include_errors, allow_unfinished, include_unapproved)
    try:
        findings = sort_findings(check_published_pdf(Path(pdf), src))
    except (PublishedError, ValueError) as exc:  # ValueError: data the format cannot lay out (LayoutError)
        _die(str(exc))
        return
    counts = stats(findings)
    shown = [f for f in findings if not (no_info and f.severity == INFO)]
    if as_json:
        click.echo(json.dumps({"findings": [f.to_dict() for f in shown], "stats": counts}, ensure_ascii=False, indent=1))
    else:
        for f in shown:
            click.echo(f.render())
        click.echo(f"核对完毕：错误 {counts[ERROR]} 条，提示 {counts[WARNING]} 条，信息 {counts[INFO]} 条。")
    sys.exit(EXIT_FINDINGS if counts[ERROR] or counts[WARNING] else EXIT_OK)


def demo_step(outdir: Path, _spec: object = None) -> None:
    """``juesuan demo``: the seed's report published as HTML (PDF/DOCX with ``juesuan publish``)."""
    from ..core.resources import specs_root
    from ..publish.html import render_html
    from ..publish.report import build_report
    from ..publish.source import load_source

    src = load_source(str(specs_root() / "samples" / "seed-2024.json"))
    target = Path(outdir) / "seed-公开.html"
    atomic_write_text(target, render_html(build_report(src)))
    click.echo(f"已生成决算公开报告（HTML）{target}")


__all__ = ["publish", "check_published", "demo_step"]
