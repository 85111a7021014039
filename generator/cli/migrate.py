"""``juesuan diff-spec`` and ``juesuan migrate``: plain click commands,
attached lazily by ``generator/cli/main.py`` (its ``LAZY`` table).

Exit codes: 0 done and clean; 1 done with errors (diff-spec: the mapping between the versions has
problems; migrate: a non-zero value has no home without --allow-loss, or a workbook has errors);
2 input unusable (a spec directory invalid or unknown, a workbook that cannot be read).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..core.catalog import find_spec_dirs, load_spec, spec_by_version
from ..core.fsutil import atomic_write_text
from ..core.spec import Spec, SpecInvalid

EXIT_OK, EXIT_ERRORS, EXIT_UNUSABLE = 0, 1, 2


def load_spec_arg(arg: str) -> Spec:
    """A spec directory, or a version ("2025") among specs/*/spec.yaml. Exits 2 when unusable."""
    p = Path(arg)
    if not (p / "spec.yaml").is_file():
        named = [d for d in find_spec_dirs() if d.name == arg]
        if named:
            p = named[0]
        else:
            spec = spec_by_version(arg)
            if spec is None:
                click.echo(f"找不到规格：{arg}（应为规格目录，或 specs/ 下某一版本号）", err=True)
                sys.exit(EXIT_UNUSABLE)
            return spec
    try:
        return load_spec(p)
    except SpecInvalid as exc:
        click.echo(f"规格文件有误（{p}）：", err=True)
        for prob in exc.problems:
            click.echo(f"  {prob}", err=True)
        sys.exit(EXIT_UNUSABLE)


@click.command("diff-spec")
@click.argument("old")
@click.argument("new")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="把 Markdown 写入文件（默认输出到屏幕）")
@click.option("--json", "as_json", is_flag=True, help="输出结构化 JSON 而不是 Markdown")
def diff_spec(old: str, new: str, out: str | None, as_json: bool) -> None:
    """比较两版规格（目录或版本号）：逐表列出行、栏、公式和审核公式的变化，生成可随新模板下发的说明。"""
    from ..office.specdiff import diff_specs, render_markdown

    diff = diff_specs(load_spec_arg(old), load_spec_arg(new))
    text = (json.dumps(diff.to_dict(), ensure_ascii=False, indent=1) + "\n") if as_json else render_markdown(diff)
    if out:
        atomic_write_text(Path(out), text)
        click.echo(f"已写出 {out}（{len(diff.changed_tables)} 张表有变化，{len(diff.rules)} 条审核公式有变化）")
    else:
        click.echo(text, nl=False)
    for p in diff.problems:
        click.echo(f"[错误] 映射问题：{p}", err=True)
    sys.exit(EXIT_ERRORS if diff.problems else EXIT_OK)


@click.command("migrate")
@click.argument("file", type=click.Path())
@click.option("--to", "to", required=True, help="新版规格目录或版本号（如 specs/2025 或 2025）")
@click.option("-o", "--out", "out", required=True, type=click.Path(), help="新版工作簿（.xlsx，或输出目录）")
@click.option("--allow-loss", is_flag=True, help="允许舍弃新版中无处安放的非零数（仍逐条列出）")
@click.option("--key", help="指纹密钥（默认取环境变量 JUESUAN_KEY）")
@click.option("--specs", "specs", multiple=True, type=click.Path(file_okay=False),
              help="查找原工作簿规格的目录（可多次；默认 specs/ 下全部版本）")
@click.option("--password", help="新工作簿的工作表保护密码")
@click.option("--file-password", help="原工作簿的打开密码")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（含每个数的去向）")
def migrate(file: str, to: str, out: str, allow_loss: bool, key: str | None, specs: tuple[str, ...],
            password: str | None, file_password: str | None, as_json: bool) -> None:
    """把按旧版填好的工作簿迁移到新版：逐数搬入新版并重算公式，列出无处安放的数。"""
    from ..office.migrate import migrate_workbook, summary_text
    from .common import key_arg
    from .report import render_text

    new_spec = load_spec_arg(to)
    target = Path(out)
    if target.suffix.lower() != ".xlsx":
        target = target / (Path(file).stem + f"-{new_spec.version}.xlsx")
    if target.exists() and Path(file).exists() and target.resolve() == Path(file).resolve():
        click.echo("[错误] 输出文件不能是报回的原文件：报回文件从不修改或覆盖", err=True)
        sys.exit(2)
    res = migrate_workbook(file, new_spec, target, key=key_arg(key), allow_loss=allow_loss,
                           spec_dirs=[Path(s) for s in specs] or None, password=password, file_password=file_password)
    if as_json:
        click.echo(json.dumps(res.to_json(), ensure_ascii=False, indent=1))
    else:
        click.echo(render_text(res.findings, f"{file} → {new_spec.version} 版"))
        click.echo(summary_text(res))
    sys.exit(res.exit_code)


__all__ = ["diff_spec", "load_spec_arg", "migrate"]
