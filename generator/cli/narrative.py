"""``juesuan narrative`` and ``juesuan check-narrative``: plain click commands,
attached lazily by ``generator/cli/main.py`` (its ``LAZY`` table).

Exit codes of check-narrative: 0 no mismatch (only info), 1 mismatches (error or warning findings),
2 input unusable. narrative exits 0, or 2 when its input is unusable.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click

from .. import narrative as nar
from ..core.dataset import DataError, Dataset, load_dataset
from ..core.findings import ERROR, INFO, WARNING, sort_findings, stats
from ..core.fsutil import atomic_write_bytes, atomic_write_text
from ..core.resources import specs_root
from .common import db_option

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_UNUSABLE = 2


def _spec_for(ds: Dataset) -> Any:
    """The format whose named figures the 说明 speaks: the spec of the data's version (among the
    round's specs in a round), else the round's spec, else the bundled spec of the data's year (None
    when there is none: those sections are then left out)."""
    from ..core.catalog import load_spec, spec_by_version
    from ..core.spec import SpecInvalid
    from ..office.round import RoundError
    from .common import current_round

    rnd = current_round()
    try:
        if rnd is not None:
            found = spec_by_version(ds.version, dirs=rnd.spec_dirs()) if ds.version else None
            return found if found is not None else rnd.spec()
        if ds.version:
            return nar.default_format(ds)
        folder = specs_root() / str(ds.year or "")
        return load_spec(folder) if ds.year and (folder / "spec.yaml").is_file() else None
    except (RoundError, SpecInvalid):
        return None


def _load_figures(arg: str, db: str | None = None) -> Dataset:
    """A canonical data JSON, an Excel workbook read by generator.xlsx.reader, or a unit code: that
    unit's current submission in the collection database (``--db``)."""
    p = Path(arg)
    if db is not None and not p.exists() and arg.isdigit():
        return _unit_from_db(arg, db)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        if not p.is_file():
            raise DataError(f"{p}：文件不存在")
        try:
            from ..xlsx.reader import read_workbook  # written in parallel; imported only when needed
        except ImportError as exc:
            raise DataError(f"{p}：读取 Excel 决算表需要 generator.xlsx.reader 模块，当前不可用（{exc}）") from exc
        from .common import current_round, key_arg

        rnd = current_round()
        try:
            result = read_workbook(p, rnd.spec_dirs() if rnd is not None else None, key_arg(None))
        except Exception as exc:  # the reader's own errors: the input is unusable either way
            raise DataError(f"{p}：无法读取 Excel 决算表（{exc}）") from exc
        dataset = getattr(result, "dataset", None)
        if not getattr(result, "usable", True) or dataset is None:
            reasons = "；".join(f.message for f in getattr(result, "findings", [])[:3])
            raise DataError(f"{p}：Excel 决算表无法使用（{reasons or '未读出数据'}）")
        # result.dataset holds the typed-in figures; result.values adds the totals the workbook computes
        merged: dict[str, dict[str, dict[str, Any]]] = {}
        for source in (getattr(result, "values", None) or {}, dataset.values):
            for t, rows in source.items():
                for r, cols in rows.items():
                    merged.setdefault(t, {}).setdefault(r, {}).update(cols)
        return replace(dataset, values=merged)
    if p.is_file():
        return load_dataset(p)
    raise DataError(f"{arg}：找不到数据文件（请给出标准数据 JSON 或 Excel 决算表）")


def _unit_from_db(code: str, db: str) -> Dataset:
    """Every figure (typed in and derived) of a unit's current submission in the database."""
    from ..core.catalog import spec_by_version
    from ..core.model import Figures
    from ..office.collect import submission_dataset, tree_from_store, unit_report
    from ..office.store import DBError, Store

    try:
        store = Store(db, create=False)
    except DBError as exc:
        raise DataError(str(exc)) from exc
    with store:
        row = next((r for r in unit_report(store, tree_from_store(store)).rows if r.code == code), None)
        if row is None:
            raise DataError(f"单位 {code} 不在数据库 {db} 的单位清单中")
        if row.current is None:
            raise DataError(f"数据库 {db} 中没有单位 {code} 的有效报表（状态：{row.status}）")
        sub = row.current
        spec = spec_by_version(sub["template_version"] or "")
        if spec is None:
            raise DataError(f"单位 {code} 的报表按规格 {sub['template_version']!r} 填报，本机没有该版规格")
        # the figures and every text the submission keeps (附件 words: the projects' names); the
        # totals are recomputed exactly as the workbook does
        ds = submission_dataset(store, sub["id"], sub["unit_code"], sub["unit_name"], int(sub["year"] or 0))
        ds.values = Figures(spec, ds.values).all_values()
        return ds


def _read_text(path: str) -> str:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DataError(f"{p}：无法读取文本文件（{exc.strerror or exc}）") from exc
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _html_text(text) if _is_html(p, text) else text
    raise DataError(f"{p}：文本编码无法识别（应为 UTF-8 或 GBK）")


def _is_html(p: Path, text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return p.suffix.lower() in (".html", ".htm") or head.startswith(("<!doctype html", "<html"))


_BLOCKS = {"p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "table", "section", "title"}


def _html_text(text: str) -> str:
    """An HTML page (a published report) as the text a reader sees: one line per block, no tags,
    entities resolved, style/script dropped; table cells of a row on one line, tab-separated."""
    from html.parser import HTMLParser

    class _Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []
            self.skip = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in ("style", "script"):
                self.skip += 1
            elif tag in _BLOCKS:
                self.parts.append("\n")
            elif tag in ("td", "th"):
                self.parts.append("\t")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("style", "script"):
                self.skip = max(0, self.skip - 1)
            elif tag in _BLOCKS:
                self.parts.append("\n")

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.parts.append(data.replace("\n", " "))

    parser = _Text()
    parser.feed(text)
    parser.close()
    return "\n".join(line.strip() for line in "".join(parser.parts).splitlines() if line.strip()) + "\n"


def _fail(message: str) -> NoReturn:
    click.echo(f"错误：{message}", err=True)
    raise click.exceptions.Exit(EXIT_UNUSABLE)


def _print_reasons_template(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(nar.reasons_skeleton(), nl=False)
        ctx.exit(EXIT_OK)


@click.command("narrative")
@click.argument("figures", metavar="FILE_OR_DB_UNIT")
@click.option("--previous", "previous_path", metavar="LAST_YEAR_DATA",
              help="上年决算数据（标准数据 JSON 或 Excel），用于“与上年相比”。")
@click.option("--budget", "budget_path", metavar="BUDGET_DATA",
              help="预算数据（YAML/JSON：年初预算数、项目、机关运行经费）。")
@click.option("--reasons", "reasons_path", metavar="REASONS_YAML",
              help="按章节填写的原因（YAML），生成时填入【待填】处。")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "docx"]), default="md",
              show_default=True, help="输出格式。")
@click.option("-o", "--output", metavar="OUT", help="输出文件；不给则 md/html 打印到标准输出。")
@click.option("--reasons-template", is_flag=True, is_eager=True, expose_value=False,
              callback=_print_reasons_template, help="打印原因文件模板（全部键）后退出。")
@db_option
def narrative(figures: str, previous_path: str | None, budget_path: str | None,
              reasons_path: str | None, fmt: str, output: str | None, db: str) -> None:
    """由决算数字生成第三部分 决算情况说明（一至十）。

    FILE_OR_DB_UNIT：标准数据 JSON、Excel 决算表，
    或单位代码（取收集数据库中该单位的当前报表）。"""
    try:
        ds = _load_figures(figures, db)
        previous = _load_figures(previous_path) if previous_path else None
        budget = nar.load_budget(budget_path) if budget_path else None
        reasons = nar.load_reasons(reasons_path) if reasons_path else None
    except DataError as exc:
        _fail(str(exc))
    if fmt == "docx":
        if not output:
            _fail("Word 格式需用 -o 指定输出文件")
        try:
            data = nar.render_docx(ds, previous, budget, reasons, spec=_spec_for(ds))
        except ImportError:
            _fail("生成 Word 文件需要安装 python-docx（pip install python-docx）")
        atomic_write_bytes(Path(output), data)
        click.echo(f"已写入 {output}", err=True)
        return
    text = nar.render_narrative(ds, previous, budget, reasons, fmt=fmt, spec=_spec_for(ds))
    if output:
        atomic_write_text(Path(output), text)
        click.echo(f"已写入 {output}", err=True)
    else:
        click.echo(text, nl=False)


@click.command("check-narrative")
@click.argument("text_file", metavar="TEXT_FILE")
@click.argument("figures", metavar="FILE_OR_DB_UNIT")
@click.option("--previous", "previous_path", metavar="LAST_YEAR_DATA",
              help="上年决算数据，用于核对“与上年相比”的增减额和增减率。")
@click.option("--budget", "budget_path", metavar="BUDGET_DATA", help="预算数据（YAML/JSON）。")
@click.option("--no-info", is_flag=True, help="不显示信息级结果（无法对应或无法核对的数字）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出全部结果。")
@db_option
def check_narrative(text_file: str, figures: str, previous_path: str | None,
                    budget_path: str | None, no_info: bool, as_json: bool, db: str) -> None:
    """核对已写好的情况说明中的金额和百分比是否与决算表一致。

    FILE_OR_DB_UNIT 同 narrative。"""
    try:
        text = _read_text(text_file)
        ds = _load_figures(figures, db)
        previous = _load_figures(previous_path) if previous_path else None
        budget = nar.load_budget(budget_path) if budget_path else None
    except DataError as exc:
        _fail(str(exc))
    findings = [replace(f, file=text_file)
                for f in sort_findings(nar.check_narrative(text, ds, previous=previous, budget=budget,
                                                           spec=_spec_for(ds)))]
    counts = stats(findings)
    shown = [f for f in findings if not (no_info and f.severity == INFO)]
    if as_json:
        doc: dict[str, Any] = {"findings": [f.to_dict() for f in shown], "stats": counts}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        for f in shown:
            click.echo(f.render())
        click.echo(f"核对完毕：错误 {counts[ERROR]} 条，提示 {counts[WARNING]} 条，信息 {counts[INFO]} 条。")
    if counts[ERROR] or counts[WARNING]:
        raise click.exceptions.Exit(EXIT_MISMATCH)


def demo_step(outdir: Path, _spec: Any = None) -> None:
    """``juesuan demo``: the seed's 说明 from its figures, and the seed's own text checked."""
    samples = specs_root() / "samples"
    ds = load_dataset(samples / "seed-2024.json")
    for fmt in ("md", "html"):
        target = Path(outdir) / f"seed-shuoming.{fmt}"
        atomic_write_text(target, nar.render_narrative(ds, fmt=fmt, spec=_spec_for(ds)))
        click.echo(f"已生成情况说明 {target}")
    seed_text = samples / "seed-2024-report.txt"  # the published report, as text
    if seed_text.is_file():
        findings = sort_findings(nar.check_narrative(seed_text.read_text(encoding="utf-8"), ds, spec=_spec_for(ds)))
        counts = stats(findings)
        lines = [f.render() for f in findings if f.severity != INFO]
        lines.append(f"核对完毕：错误 {counts[ERROR]} 条，提示 {counts[WARNING]} 条，信息 {counts[INFO]} 条。")
        target = Path(outdir) / "seed-narrative-check.txt"
        atomic_write_text(target, "\n".join(lines) + "\n")
        click.echo(f"样例情况说明核对：{lines[-1]}（详见 {target}）")
        click.echo("  这些是样例公开稿自身的问题，有意保留以演示核对：百分号重复（“75.73%%”）、"
                   "“商品和服务支出 49.59”与表中 49.60 的尾数之差、完成预算比例差 0.01 个百分点、把执行率得分写作总分。")
