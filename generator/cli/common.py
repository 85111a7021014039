"""What every command shares: the spec option and the fingerprint key."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..core.spec import Spec


def spec_arg(path: str | None) -> Spec:
    """The spec of ``--specs`` (default: the bundled 2024); a broken one ends the command with exit 2."""
    from ..core.catalog import default_specs_dir, load_spec
    from ..core.spec import SpecInvalid

    try:
        return load_spec(Path(path) if path else default_specs_dir())
    except SpecInvalid as exc:
        click.echo("规格文件有误：", err=True)
        for p in exc.problems:
            click.echo(f"  {p}", err=True)
        sys.exit(2)


def key_arg(key: str | None) -> str | None:
    """``--key``, else ``JUESUAN_KEY``, else the key ``juesuan key init`` stored with the default
    database (``JUESUAN_DB`` or the user's data folder), if that database exists and has one."""
    return key or os.environ.get("JUESUAN_KEY") or stored_key()


def stored_key(db: str | None = None) -> str | None:
    """The fingerprint key kept in a database (meta ``fingerprint_key``), or None."""
    from ..office.pgstore import is_url
    from ..office.store import DBError, Store, default_db_path

    db = db or str(default_db_path())
    if not is_url(db) and not Path(db.removeprefix("sqlite:///")).is_file():
        return None
    try:
        with Store(db, create=False) as store:
            return store.get_meta("fingerprint_key")
    except (DBError, OSError):
        return None


def db_option(func):  # type: ignore[no-untyped-def]
    """``--db``: the collection database, the same default for every command (see
    :func:`generator.office.store.default_db_path`: ``$JUESUAN_DB``, else the user's data folder)."""
    from ..office.store import DB_ENV, default_db_path

    return click.option("--db", default=lambda: str(default_db_path()), show_default=f"${DB_ENV}，否则 {default_db_path()}",
                        help="数据库：SQLite 文件路径或 sqlite:///路径，或 PostgreSQL 的 postgresql://用户@主机/库名"
                             f"（也可用环境变量 {DB_ENV} 指定）")(func)


def limits_option(f):  # type: ignore[no-untyped-def]
    """``--limit KEY=VALUE`` (repeatable): the reader's limits for this run (see README, Threat model and limits)."""
    return click.option("--limit", "limits", multiple=True, metavar="KEY=VALUE",
                        help="读取限额，如 max_cells=300000（可多次；亦可用环境变量 JUESUAN_LIMITS）")(f)


def apply_limits(limits: tuple[str, ...]) -> None:
    """Check ``--limit`` values and hand them to the reader (and its worker processes) via JUESUAN_LIMITS."""
    if not limits:
        return
    from ..xlsx.ooxml import Limits

    text = ",".join([os.environ.get("JUESUAN_LIMITS", ""), *limits]).strip(",")
    try:
        Limits.parse(text)
    except ValueError as exc:
        click.echo(f"[错误] {exc}", err=True)
        sys.exit(2)
    os.environ["JUESUAN_LIMITS"] = text
