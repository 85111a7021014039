"""``juesuan codes import``: a year's functional code list from the finance system into a spec.

Exit codes: 0 imported, 1 the list is invalid (nothing written), 2 unusable (no file, broken spec)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import spec_arg


@click.group()
def codes() -> None:
    """科目代码表：从财政系统导出的政府收支分类科目（code,name）导入规格。"""


MAX_SHOWN = 200  # problems listed one by one; the rest counted


@codes.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--specs", type=click.Path(file_okay=False), help="规格目录，默认 specs/2024")
@click.option("--keep", is_flag=True, help="保留文件中没有的原有科目（默认以文件为准）")
@click.option("--dry-run", is_flag=True, help="只列出变化，不写入")
def import_codes(file: str, specs: str | None, keep: bool, dry_run: bool) -> None:
    """把 FILE（.xlsx 或 .csv，两列 code,name：类 3 位、款 5 位、项 7 位）并入规格的支出功能分类代码表，
    列出新增、改名、删除的科目。代码表有误时不写入任何内容（退出码 1）。

    在轮次目录中：导入到本轮规格的一份新副本（新的 hash），成为本轮的当前规格；随附的规格从不改动。"""
    import shutil
    import tempfile

    from .common import current_round

    rnd = current_round() if not specs else None
    work: Path | None = None
    if rnd is not None:  # a copy of the round's spec, taken into the round as a new version when valid
        work = Path(tempfile.mkdtemp(prefix="codes-", dir=rnd.root / "specs")) / "spec"
        shutil.copytree(rnd.spec_dir(), work)
        specs = str(work)
    try:
        _import(file, specs, keep, dry_run, rnd)
    finally:
        if work is not None:
            shutil.rmtree(work.parent, ignore_errors=True)


def _import(file: str, specs: str | None, keep: bool, dry_run: bool, rnd) -> None:
    from ..core.catalog import load_spec
    from ..core.spec import SpecInvalid
    from ..office.codes import codelist_file, merge_codes, parse_code_rows, required_codes, write_codelist
    from ..xlsx.rows import TableFileError, read_rows

    spec = spec_arg(specs)
    try:
        rows = read_rows(Path(file))
    except TableFileError as exc:
        click.echo(f"[错误] {exc}", err=True)
        sys.exit(2)
    new, problems = parse_code_rows(rows, file)
    cl = spec.codelists.get("functional")
    if cl is None:
        click.echo("[错误] 规格中没有支出功能分类代码表（id: functional）", err=True)
        sys.exit(2)
    imp = merge_codes(cl.codes, new, keep, required_codes(spec), file)
    imp.problems = problems + imp.problems
    click.echo(imp.render())
    if not imp.ok:
        for p in imp.problems[:MAX_SHOWN]:
            click.echo(p.render(), err=True)
        if len(imp.problems) > MAX_SHOWN:
            click.echo(f"……另有 {len(imp.problems) - MAX_SHOWN} 处错误未逐条列出", err=True)
        click.echo(f"代码表有 {len(imp.problems)} 处错误，未写入", err=True)
        sys.exit(1)
    if dry_run:
        sys.exit(0)
    path = codelist_file(spec)
    before = path.read_text(encoding="utf-8")
    write_codelist(path, cl.id, cl.name, imp.codes, file)
    try:
        after = load_spec(spec.root)
    except SpecInvalid as exc:
        path.write_text(before, encoding="utf-8")
        click.echo("[错误] 写入后规格无法加载，已恢复原代码表：", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    if rnd is not None:
        rnd.add_spec(spec.root)
        click.echo(f"已导入本轮次：规格 hash {spec.hash} → {after.hash}，成为本轮当前规格（specs/{after.hash}）；"
                   "此前生成的模板须重新生成（juesuan build）")
        return
    click.echo(f"已写入 {path}；规格 hash {spec.hash} → {after.hash}（此前生成的模板须重新生成）")
