"""``juesuan serve``, ``links`` and ``office-password``: the collection web page and its secrets.

Exit codes: 0 done; 2 unusable (no database, no units, a password too short).
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

import click

from ..office.collect import tree_from_store
from .collect import _die, _open_store, _tree
from .common import db_option


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=8000, show_default=True, type=int, help="端口")
@click.option("--specs", help="本轮所用的规格目录或版本号，默认为数据库记录的规格（没有则用 specs/2024）")
@click.option("--workers", default=2, show_default=True, type=int, help="读取工作簿的进程数")
@click.option("--max-upload-mb", default=20, show_default=True, type=int, help="单个上传的大小上限（MB）")
@click.option("--uploads-per-hour", default=30, show_default=True, type=int, help="每个单位每小时最多上传次数")
@click.option("--unit-evidence-mb", default=200, show_default=True, type=int, help="每个单位保存的上传原件总量上限（MB）")
@click.option("--key", help="指纹密钥（默认取环境变量 JUESUAN_KEY）")
@click.option("--files", type=click.Path(file_okay=False), help="上传原件、模板与汇总结果的目录（默认在数据库旁：<库名>-files）")
def serve(db: str, host: str, port: int, specs: str | None, workers: int, max_upload_mb: int, uploads_per_hour: int,
          unit_evidence_mb: int, key: str | None, files: str | None) -> None:
    """启动报送网页：各单位凭链接下载模板、上传工作簿并立即看到审核结果；财务部门登录后实时查看报送情况。"""
    import logging

    import uvicorn

    from ..web.app import create_app
    from ..web.server import server_options
    from .common import current_round, key_arg, limits_arg, stored_key

    rnd = current_round()
    if rnd is not None:  # the round's spec (its copy, by hash), key and files folder
        specs = specs or str(rnd.spec_dir())
        files = files or str(rnd.folder("files"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(db, specs, workers, key_arg(key) or stored_key(db), max_upload_mb * 1024 * 1024, files,
                     uploads_per_hour, unit_evidence_mb * 1024 * 1024, limits_arg(()))
    click.echo(f"报送网页：http://{host}:{port}/  （财务部门登录：/office）  数据库：{db}")
    # header/body/keep-alive timeouts and a connection limit (generator/web/server.py): a slow or
    # half-open client cannot hold connections; a reverse proxy in front keeps its own no longer
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", server_header=False, **server_options())


@click.command()
@db_option
@click.option("--units", "units_file", type=click.Path(dir_okay=False), help="单位清单 CSV（记入数据库；默认用数据库中的清单）")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True, help="网页的地址（单位访问用）")
@click.option("--revoke", "revoke", multiple=True, help="作废该单位的旧链接并生成新链接（可多次给出）")
@click.option("--previous", "previous_db", help="上年度的收集数据库：网页下发的模板按各单位上年报表的科目列行（同 build --previous）")
def links(db: str, units_file: str | None, base_url: str, revoke: tuple[str, ...], previous_db: str | None) -> None:
    """每个报送单位一行：单位代码<TAB>专用链接（含该单位的密钥，请只发给该单位）。汇总单位不单独报送，不列出。"""
    from ..web import auth
    from ..web.service import UNITS_FILE_KEY
    from .common import current_round

    rnd = current_round()
    if not units_file and rnd is not None and rnd.units_file is not None:
        units_file = str(rnd.units_file)
    with _open_store(db, True) as store:
        if units_file:
            tree = _tree(units_file, None, True)
            store.replace_units(tree.rows())
            store.set_meta(UNITS_FILE_KEY, str(Path(units_file).resolve()))
        if previous_db:
            from ..office.pgstore import is_url
            from ..office.service import PREVIOUS_DB_KEY

            if not is_url(previous_db) and not Path(previous_db).is_file():
                _die(f"找不到上年度的收集数据库 {previous_db}")
            store.set_meta(PREVIOUS_DB_KEY, previous_db if is_url(previous_db) else str(Path(previous_db).resolve()))
        tree = tree_from_store(store)
        if not tree.units:
            _die("数据库中没有单位清单；请用 --units 给出")
        for code in revoke:
            if code not in tree.units:
                _die(f"单位 {code} 不在单位清单中")
            auth.revoke_link(store, code)
            click.echo(f"已作废单位 {code} 的旧链接", err=True)
        base = base_url.rstrip("/")
        for code, _depth in tree.walk():
            if tree.is_aggregate(code):
                continue
            click.echo(f"{code}\t{base}/u/{quote(code)}/{auth.link_secret(store, code)}")


@click.command("office-password")
@db_option
def office_password(db: str) -> None:
    """从标准输入读入财务部门的登录密码（至少 8 个字符），以 scrypt 散列保存。"""
    from ..web import auth

    if sys.stdin.isatty():
        password = click.prompt("新密码", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with _open_store(db, True) as store:
        try:
            auth.set_office_password(store, password)
        except ValueError as exc:
            _die(str(exc))
    click.echo("已设置财务部门登录密码")


__all__ = ["serve", "links", "office_password"]
