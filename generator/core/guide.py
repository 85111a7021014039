"""The 填报说明 sheet's text: ``templates/guide.txt.j2`` rendered once per spec, reused for every unit.

Design: the text depends on the unit only through its name, its code and whether it has 科目 rows.
So the template is rendered twice per spec (with and without 科目 rows) with stand-ins in the
place of the name and the code, and a unit's text is that rendering with the stand-ins replaced
in one pass (the replaced values are never scanned again, whatever they hold). The two renderings
are a memo of the spec (``spec.cache("guide")``) and :mod:`catalog` writes them into the spec cache
beside the parsed spec, so a process that loads a cached spec -- ``juesuan read FILE``, a collect
worker -- never imports Jinja2. The stand-ins are private-use characters; a spec whose own text
holds one (never in practice) is rendered per unit, as before. The cache entry is named by the
template's bytes and this module's code too (:data:`catalog._CODE`), so an edited template is seen
by the next process (a running process keeps the text it rendered first).
"""

from __future__ import annotations

import re
from typing import Any

from .resources import templates_root
from .rules import describe_rule
from .spec import Spec

TEMPLATE = "guide.txt.j2"
_MARK = "\ue000"  # no spec text holds it (checked: else the spec's guide is rendered per unit)
_SLOTS = {"unit_name": f"{_MARK}单位名称\ue001", "unit_code": f"{_MARK}单位代码\ue001"}
_SLOT_RE = re.compile(f"{_MARK}(单位名称|单位代码)\ue001")
_SLOT_KEY = {"单位名称": "unit_name", "单位代码": "unit_code"}
_JINJA: list[Any] = []


def _env() -> Any:
    """One Jinja2 environment per process, made on first use (it keeps the compiled template)."""
    if not _JINJA:
        import jinja2

        _JINJA.append(jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_root())), autoescape=False,
                                         keep_trailing_newline=False, undefined=jinja2.StrictUndefined))
    return _JINJA[0]


def render(spec: Spec, unit_name: str, unit_code: str, has_sections: bool) -> str:
    """The template rendered for one unit (Jinja2)."""
    tables = list(spec.tables.values())
    text: str = _env().get_template(TEMPLATE).render(
        spec=spec, unit_name=unit_name, unit_code=unit_code, tables=tables,
        section_tables=[t.sheet for t in tables if t.section],
        statement_tables=[t.sheet for t in tables if t.statement],
        rules=[(r.severity, describe_rule(r.message)) for r in spec.rules],
        has_sections=has_sections,
    )
    return text


def _with_slots(spec: Spec, has_sections: bool) -> str | None:
    """The rendering with stand-ins for the unit's name and code; None when the spec's own text
    holds the stand-in mark (then every unit is rendered by Jinja2)."""
    if _MARK in render(spec, "", "", has_sections):
        return None
    return render(spec, _SLOTS["unit_name"], _SLOTS["unit_code"], has_sections)


def prerender(spec: Spec) -> dict[bool, str | None]:
    """Both renderings of a spec (with and without 科目 rows), as the spec cache keeps them."""
    return {has: _with_slots(spec, has) for has in (False, True)}


def guide_text(spec: Spec, unit_name: str, unit_code: str, has_sections: bool) -> str:
    """The guide of one unit: the spec's rendering with its name and code put in."""
    memo = spec.cache("guide")
    if has_sections not in memo:
        memo[has_sections] = _with_slots(spec, has_sections)
    slotted: str | None = memo[has_sections]
    if slotted is None:
        return render(spec, unit_name, unit_code, has_sections)
    values = {"unit_name": unit_name, "unit_code": unit_code}
    return _SLOT_RE.sub(lambda m: values[_SLOT_KEY[m.group(1)]], slotted)
