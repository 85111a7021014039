"""Findings as data: every problem the tool sees is a Finding with a stable code.

Modelled on frictionless-py: a finding has a kebab-case ``code`` that never changes,
a severity, a location expressed in keys (table/row/col) and in cells (sheet!A1),
a Chinese message for people, and the expected/actual values where they apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

ERROR = "error"  # 强制
WARNING = "warning"  # 提示
INFO = "info"

SEVERITY_ZH = {ERROR: "错误", WARNING: "提示", INFO: "信息"}
# True in the test suite (tests/conftest.py): every finding made must agree with the catalogue
# (generator/core/codes.py: an entry, its severity), or making it raises
STRICT = False
_SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    table: str | None = None
    row: str | None = None
    col: str | None = None
    cell: str | None = None
    expected: str | None = None
    actual: str | None = None
    rule: str | None = None
    file: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if STRICT:
            from .codes import check

            problem = check(self)
            if problem is not None:
                raise ValueError(problem)

    @property
    def title(self) -> str:
        """The code's Chinese title (generator/core/codes.py), what people see instead of the code."""
        from .codes import title

        return title(self.code)

    @property
    def advice(self) -> str:
        """What to do about it (怎么改), from the catalogue."""
        from .codes import advice

        return advice(self.code)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not d["extra"]:
            d.pop("extra")
        elif "check_cell" in d["extra"]:
            d["check_cell"] = d["extra"]["check_cell"]  # the 审核 sheet row of a rule finding
        return d

    @property
    def check_cell(self) -> str | None:
        """A rule finding's row on the 审核 sheet (``cell`` is the data cell to fix)."""
        return self.extra.get("check_cell") if self.extra else None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        known = {k: d.get(k) for k in cls.__dataclass_fields__ if k != "extra"}
        return cls(**known, extra=dict(d.get("extra") or {}))

    def location(self) -> str:
        parts = []
        if self.cell:
            parts.append(self.cell)
        if self.table:
            parts.append(self.table)
        if self.row:
            parts.append(f"行/科目 {self.row}")
        if self.col:
            parts.append(f"栏 {self.col}")
        return " ".join(parts)

    def render(self) -> str:
        text = f"[{SEVERITY_ZH.get(self.severity, self.severity)}] {self.title}"
        loc = self.location()
        if loc:
            text += f" {loc}"
        text += f"：{self.message}"
        if self.expected is not None or self.actual is not None:
            text += f"（应为 {self.expected if self.expected is not None else '—'}，"
            text += f"实际 {self.actual if self.actual is not None else '—'}）"
        if self.check_cell:
            text += f"［审核表 {self.check_cell}］"
        return printable(text + f" ‹{self.code}›")  # the code: a small reference for whoever helps


def printable(text: str) -> str:
    """Text safe for a terminal: control characters (escape sequences, newlines, carriage returns) and
    bidirectional/format characters of untrusted names shown as \\x1b, \\n, \\u202e …"""
    import unicodedata

    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\t":
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (_SEVERITY_ORDER.get(f.severity, 9), f.table or "", f.cell or ""))


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


def exit_code(usable: bool, findings: Iterable[Finding]) -> int:
    """The CLI contract: 0 valid, 1 errors, 2 unusable."""
    if not usable:
        return 2
    return 1 if has_errors(findings) else 0


def stats(findings: Iterable[Finding]) -> dict[str, int]:
    c = Counter(f.severity for f in findings)
    return {ERROR: c.get(ERROR, 0), WARNING: c.get(WARNING, 0), INFO: c.get(INFO, 0)}


def flatten(findings: Iterable[Finding], *fields: str) -> list[list[Any]]:
    """One-line test assertions: ``flatten(fs, "code", "cell")``."""
    fields = fields or ("code", "severity", "table", "row", "col")
    return [[getattr(f, name) for name in fields] for f in findings]
