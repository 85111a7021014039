"""The report as one HTML page (Jinja2 ``templates/publish/report.html.j2``, autoescaped)."""

from __future__ import annotations

import functools

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ..core.resources import templates_root
from .report import Report

TEMPLATE_DIR = templates_root() / "publish"


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), autoescape=select_autoescape(["html", "j2"]),
                       trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)


def css() -> str:
    return (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")


def render_html(report: Report) -> str:
    return _environment().get_template("report.html.j2").render(report=report, css=css())
