"""Where the bundled specs and templates are: package data of an installed wheel, else the checkout.

The project is known by its top-level ``specs/`` and ``templates/`` folders; a wheel carries copies of
them as ``generator/data/specs`` and ``generator/data/templates`` (see ``pyproject.toml``). Both are
found through :mod:`importlib.resources`, so an installed ``juesuan`` works outside the checkout.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path


@functools.cache
def _folder(name: str) -> Path:
    packaged = Path(str(files("generator"))) / "data" / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / name  # a source checkout or an editable install


def specs_root() -> Path:
    """The folder holding every bundled spec version (``2024/``, ``2025/``) and ``samples/``."""
    return _folder("specs")


def templates_root() -> Path:
    """The Jinja2 templates folder."""
    return _folder("templates")
