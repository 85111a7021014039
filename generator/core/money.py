"""Exact money: amounts are Decimal 万元 with 2 decimals; never float."""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO = Decimal("0")
CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")

_PLAIN = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_LENIENT = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$|^[+-]?\d+(\.\d*)?$")


def to_decimal(value: object) -> Decimal:
    """Convert a data-file amount (int, str, Decimal) to Decimal exactly. Floats go via repr."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip()
        if not _PLAIN.match(text):
            raise ValueError(f"not an amount: {value!r}")
        return Decimal(text)
    raise ValueError(f"not an amount: {value!r}")


def parse_lenient(text: str) -> Decimal | None:
    """Text that is clearly a number: '1,234.50', full-width digits, spaces. None otherwise."""
    t = unicodedata.normalize("NFKC", text).strip().replace(" ", "").replace("\u3000", "")
    if not t or not _LENIENT.match(t):
        return None
    try:
        return Decimal(t.replace(",", ""))
    except InvalidOperation:
        return None


def q2(value: Decimal) -> Decimal:
    """Round half up to cents (the printed figure)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal | None, thousands: bool = False) -> str:
    """Canonical string: at least 2 decimals, exact ('2128.85', '0.125'); or '2,128.85' rounded."""
    if value is None:
        return ""
    if thousands:
        return f"{q2(value):,.2f}"
    return fmt_exact(value)


MAX_SHOWN_DIGITS = 20


def shown(value: Decimal | None, thousands: bool = False) -> str:
    """A number for a message: :func:`fmt`, unless that would take more than 20 significant digits
    or 40 characters (a hostile 1E-300 or a 40-digit quotient): then 20 significant digits in
    scientific form, so no message grows with what a file holds."""
    if value is None:
        return ""
    if not value.is_finite():
        return str(value)[:20]
    text = fmt(value, thousands)
    if len(text) <= 40 and len(value.normalize().as_tuple().digits) <= MAX_SHOWN_DIGITS:
        return text
    return f"{value:.{MAX_SHOWN_DIGITS - 1}E}"


def fmt_exact(value: Decimal) -> str:
    """The exact value as a string, at least 2 decimals ('0.125' stays '0.125')."""
    text = format(value.normalize() if value != 0 else ZERO, "f")
    if "." not in text:
        return text + ".00"
    whole, frac = text.split(".")
    return f"{whole}.{frac.ljust(2, '0')}"
