"""What every command shares: the round, the spec option, the fingerprint key and the database.

Inside a round (a folder made by ``juesuan init``, found from the current folder upwards like git
finds its repository, or named by ``juesuan --round DIR``) every default comes from the round:
its spec (the copy by hash), its database, its office key, its units file and profile. An explicit
flag still wins. Outside a round the flags, then the ``JUESUAN_*`` variables, then the built-in
defaults apply, as before; the environment is read here, never by the library."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..core.spec import Spec
    from ..office.round import Round
    from ..xlsx.ooxml import Limits

ROUND_FILE = "round.yaml"  # generator.office.round.ROUND_FILE (not imported: ``--help`` stays light)


class RoundRef:
    """The group's ``--round`` and the round found from it (opened on first use)."""

    def __init__(self, folder: str | None):
        self.folder = folder
        self._round: Round | None = None
        self._looked = False

    def get(self) -> Round | None:
        if not self._looked:
            self._looked = True
            self._round = _find(self.folder)
        return self._round


def _find(folder: str | None) -> Round | None:
    start = Path(folder) if folder else Path.cwd()
    if folder is None and not any((p / ROUND_FILE).is_file() for p in (start.resolve(), *start.resolve().parents)):
        return None
    from ..office.round import RoundError, find_round, open_round

    try:
        return open_round(start) if folder else find_round(start)
    except RoundError as exc:
        click.echo(f"[错误] {exc}", err=True)
        sys.exit(2)


def current_round() -> Round | None:
    """The round this command runs in (``--round`` or found from the current folder), or None."""
    ctx = click.get_current_context(silent=True)
    ref = ctx.find_root().obj if ctx is not None else None
    return ref.get() if isinstance(ref, RoundRef) else None


def round_path(sub: str, *more: str) -> Path | None:
    """A folder or file of the current round (None outside a round)."""
    rnd = current_round()
    return rnd.folder(sub).joinpath(*more) if rnd is not None else None


def spec_arg(path: str | None) -> Spec:
    """The spec of ``--specs`` (default: the round's current spec, outside a round the bundled
    2024); a broken one ends the command with exit 2."""
    from ..core.catalog import default_specs_dir, load_spec
    from ..core.spec import SpecInvalid
    from ..office.round import RoundError

    rnd = current_round() if not path else None
    try:
        if rnd is not None:
            return rnd.spec()
        return load_spec(Path(path) if path else default_specs_dir())
    except RoundError as exc:  # the round's spec is neither in its folder nor in its database
        click.echo(f"[错误] {exc}", err=True)
        sys.exit(2)
    except SpecInvalid as exc:
        click.echo("规格文件有误：", err=True)
        for p in exc.problems:
            click.echo(f"  {p}", err=True)
        sys.exit(2)


def key_arg(key: str | None) -> str | None:
    """``--key``, else the round's office key, else (outside a round) ``JUESUAN_KEY``, else the key
    ``juesuan key init`` stored with the default database (``JUESUAN_DB`` or the user's data
    folder), if that database exists and has one."""
    if key:
        return key
    rnd = current_round()
    if rnd is not None:
        return rnd.key()
    return os.environ.get("JUESUAN_KEY") or stored_key()


def db_default() -> str:
    """The database of a command without ``--db``: the round's, else ``JUESUAN_DB``, else the
    user's data folder."""
    from ..office.store import default_db_path

    rnd = current_round()
    return rnd.db if rnd is not None else str(default_db_path())


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


def db_option(func):
    """``--db``: the collection database, the same default for every command (see
    :func:`generator.office.store.default_db_path`: ``$JUESUAN_DB``, else the user's data folder)."""
    from ..office.store import DB_ENV, default_db_path

    return click.option("--db", default=db_default, show_default=f"轮次的数据库；轮次外 ${DB_ENV}，否则 {default_db_path()}",
                        help="数据库：SQLite 文件路径或 sqlite:///路径，或 PostgreSQL 的 postgresql://用户@主机/库名"
                             f"（也可用环境变量 {DB_ENV} 指定）")(func)


def limits_option(f):
    """``--limit KEY=VALUE`` (repeatable): the reader's limits for this run (see docs/threat-model.md)."""
    return click.option("--limit", "limits", multiple=True, metavar="KEY=VALUE",
                        help="读取限额，如 max_cells=300000（可多次；亦可用环境变量 JUESUAN_LIMITS）")(f)


def limits_arg(limits: tuple[str, ...]) -> Limits:
    """The reader's limits for this run: the round's (``limits:`` in round.yaml), outside a round
    ``JUESUAN_LIMITS``, then each ``--limit``; handed to the reader (and its worker processes)
    explicitly. A value that is no limit ends the command with exit 2."""
    from ..xlsx.ooxml import Limits

    rnd = current_round()
    base = str(rnd.config.get("limits") or "") if rnd is not None else os.environ.get("JUESUAN_LIMITS", "")
    text = ",".join([base, *limits]).strip(",")
    try:
        return Limits.parse(text)
    except ValueError as exc:
        click.echo(f"[错误] {exc}", err=True)
        sys.exit(2)
