"""What every command shares: the spec option and the fingerprint key."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..core.catalog import default_specs_dir, load_spec
from ..core.spec import Spec, SpecInvalid


def spec_arg(path: str | None) -> Spec:
    """The spec of ``--specs`` (default: the bundled 2024); a broken one ends the command with exit 2."""
    try:
        return load_spec(Path(path) if path else default_specs_dir())
    except SpecInvalid as exc:
        click.echo("规格文件有误：", err=True)
        for p in exc.problems:
            click.echo(f"  {p}", err=True)
        sys.exit(2)


def key_arg(key: str | None) -> str | None:
    """``--key``, else ``JUESUAN_KEY``."""
    return key or os.environ.get("JUESUAN_KEY")
