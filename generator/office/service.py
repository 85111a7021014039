"""The office's service layer over one round's database: what the CLI, the web page and ``publish``
share beyond a single flow — a unit's row as the database knows it (the units file recorded by
``links``, last year's 科目), from which :func:`generator.office.units.build_unit` makes the unit's
template, the same bytes on every face."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .collect import tree_from_store, unit_report
from .store import DBError, Store
from .units import read_units_csv

UNITS_FILE_KEY = "web.units_file"  # meta key: the units file recorded by ``juesuan links --units``
PREVIOUS_DB_KEY = "web.previous_db"  # meta key: last year's database recorded by ``juesuan links --previous``


def previous_subjects(store: Store, codes: list[str]) -> dict[str, tuple[dict[str, list[str]], dict[str, str]]]:
    """Each unit's 科目 rows (项 codes per table) and data-given names from its current submission
    in a previous year's database (``store``): what ``build --previous`` and the web page list."""
    out: dict[str, tuple[dict[str, list[str]], dict[str, str]]] = {}
    for r in unit_report(store, tree_from_store(store)).rows:
        if r.code not in codes or r.current is None:
            continue
        values = store.values(r.current["id"], inputs_only=True)
        # typed-in figures only: a section's rows here are its leaves (7-digit 项, 5-digit economic 款);
        # a fixed row's code (公开06 30101) is dropped by build_unit, which lists codes in sections only
        subjects = {t: sorted(c for c in rows if c.isdigit() and len(c) >= 5) for t, rows in values.items()}
        doc = store.doc(r.current["id"])
        out[r.code] = ({t: c for t, c in subjects.items() if c}, dict(doc.get("names") or {}))
    return out


def unit_row(store: Store, code: str) -> tuple[dict[str, Any] | None, Path]:
    """A unit's row of the units file as the database knows it, and the folder its ``data`` is
    relative to: the row of the units file recorded in the database (``links --units``) when it
    has one, else the database's own units row (with ``data``/``subjects`` when it keeps them);
    with last year's 科目 (``previous``) when ``links --previous`` recorded last year's database.
    None when the unit is unknown."""
    base = Path(".")
    units_file = store.get_meta(UNITS_FILE_KEY)
    row: dict[str, Any] | None = None
    if units_file:
        rows, _ = read_units_csv(Path(units_file))
        row = next((dict(r) for r in rows if r["code"] == code), None)
        if row is not None:
            base = Path(units_file).parent
    if row is None:
        got = next((r for r in store.units() if r["code"] == code), None)
        if got is None:
            return None, base
        keys = got.keys()
        row = {"code": got["code"], "name": got["name"], "parent": got["parent"], "kind": got["kind"],
               "data": (got["data"] if "data" in keys else "") or "",
               "subjects": (got["subjects"] if "subjects" in keys else "") or ""}
    previous_db = store.get_meta(PREVIOUS_DB_KEY)
    if previous_db:  # last year's 科目 of the unit, as build --previous lists them
        try:
            with Store(previous_db, create=False) as last:
                got_prev = previous_subjects(last, [code]).get(code)
        except DBError:
            got_prev = None
        if got_prev is not None:
            row["previous"] = got_prev
    return row, base
