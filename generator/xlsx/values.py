"""What a cell of a returned workbook holds, as a spreadsheet reads it: numbers exactly, the text a
cell shows, an input amount's value (or why it is none), formulas compared as Excel, LibreOffice and
WPS may write them."""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation

from ..core.findings import ERROR, WARNING
from ..core.money import parse_lenient
from .ooxml import RawCell

MAX_AMOUNT = Decimal("1e15")  # 万元; anything this large is not an amount (and would break exact arithmetic)


# A number as Excel and LibreOffice parse a cell's <v>: ASCII digits, one point, optional sign and
# exponent, nothing around it but XML whitespace. Python's Decimal() also takes "2_128.85", full-width or Arabic-Indic
# digits and surrounding spaces (NBSP included), which a spreadsheet shows as text or 0.
_XL_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


@functools.lru_cache(maxsize=8192)
def number_value(text: str) -> Decimal:
    """The number a cell holds, exactly (memoised: a workbook's ~1,000 numbers are ~100 texts, "0.0"
    and "0" most of all; a text that is no number raises every time). The XML carries a double; writers print it with up to 17
    significant digits (95.29 may come as 95.29000000000001), so long forms are read back as the
    shortest decimal that is the same double. Only the form a spreadsheet reads as a number counts
    (``_XL_NUMBER``); anything else raises InvalidOperation (the text it is). A number below the
    double range (1E-999999) is what a spreadsheet makes of it: 0."""
    text = text.strip(" \t\r\n")  # XML whitespace (xsd:double collapses it); NBSP and the like are not
    if len(text) > 400 or _XL_NUMBER.fullmatch(text) is None:
        raise InvalidOperation(f"not a number: {text[:40]}")
    d = Decimal(text)
    if not d.is_finite() or d.copy_abs() >= MAX_AMOUNT:
        raise InvalidOperation(f"not an amount: {text[:40]}")  # NaN, sNaN, ±Infinity, 1e27, 1e308
    # at most 15 digits when the text is at most 15 characters long: skip counting them
    if (len(text) > 15 and len(d.as_tuple().digits) > 15) or (d and d.adjusted() < -300):
        d = Decimal(repr(float(text)))
    return d


def cell_text(c: RawCell | None) -> str:
    if c is None or c.value is None:
        return ""
    if c.type == "b":  # a boolean cell shows TRUE/FALSE, whatever text its <v> holds
        return "FALSE" if c.value.strip() in ("", "0", "false", "FALSE") else "TRUE"
    if c.type == "n":
        try:
            d = number_value(c.value)
            return format(d.normalize(), "f") if d == d.to_integral_value() else format(d, "f")
        except InvalidOperation:
            return c.value
    return c.value


_STRING_LITERAL = re.compile(r'("[^"]*")')
_XL_PREFIX = re.compile(r"_xlfn\.|_xlws\.", re.I)
_BOOL_CALL = re.compile(r"\b(TRUE|FALSE)\(\)", re.I)
_IGNORED = re.compile(r"[\s$']")


def normalize_formula(f: str) -> str:
    """Compare formulas as Excel, LibreOffice and WPS may write them: quoting of sheet names,
    $ anchors, case, spaces and the _xlfn. prefix do not matter (string literals are kept).
    Memoised for formulas of ordinary length: a batch of workbooks repeats the same formulas."""
    return _normalize_cached(f) if len(f) <= 1000 else _normalize(f)


def _normalize(f: str) -> str:
    parts = _STRING_LITERAL.split(f.strip().lstrip("="))
    out = []
    for i, p in enumerate(parts):
        if i % 2:
            out.append(p)
        else:
            p = _XL_PREFIX.sub("", p)
            p = _BOOL_CALL.sub(r"\1", p)
            out.append(_IGNORED.sub("", p).upper())
    return "".join(out)


_normalize_cached = functools.lru_cache(maxsize=4096)(_normalize)


def parse_number(c: RawCell) -> tuple[Decimal | None, str | None, str | None]:
    """(value, finding code, severity) for an input amount cell."""
    if c.type == "e":
        return None, "cell-error-value", ERROR
    if c.type == "b":
        return None, "not-a-number", ERROR
    if c.type == "n":
        try:
            return number_value(c.value or "0"), None, None
        except InvalidOperation:
            return None, "not-a-number", ERROR
    text = c.value or ""
    if not text.strip():
        return None, None, None
    v = parse_lenient(text)
    if v is None or not v.is_finite() or v.copy_abs() >= MAX_AMOUNT:
        return None, "not-a-number", ERROR
    return v, "number-as-text", WARNING
