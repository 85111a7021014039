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
        # Every field is bounded, whatever a hostile file puts in it (a value of 10^6 digits, a
        # 32,767-character cell): one finding stays under ~3 KB, so a file's findings (capped at
        # Limits.max_findings) stay under 2 MB of JSON, in memory, the database and the reports.
        for name, cap in _CAPS.items():
            value = getattr(self, name)
            if isinstance(value, str) and len(value) > cap:
                object.__setattr__(self, name, clip(value, cap))
        if self.extra:
            object.__setattr__(self, "extra", _bounded(self.extra, 0))
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
        known: dict[str, Any] = {k: d.get(k) for k in cls.__dataclass_fields__ if k != "extra"}
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


MAX_MESSAGE = 600  # characters of a message
MAX_FIELD = 200  # characters of expected/actual and of every other text field (a text excerpt)
MAX_EXTRA_TEXT = 500  # characters of a text in ``extra`` (a 差异说明 is at most this long)
_CAPS = {"message": MAX_MESSAGE, "expected": MAX_FIELD, "actual": MAX_FIELD, "table": MAX_FIELD, "row": MAX_FIELD,
         "col": MAX_FIELD, "cell": MAX_FIELD, "rule": MAX_FIELD, "file": 1000, "code": 100, "severity": 20}


def clip(text: str, cap: int = MAX_FIELD) -> str:
    """``text`` cut to at most ``cap`` characters, the cut marked with … and the length."""
    if len(text) <= cap:
        return text
    tail = f"…（共 {len(text)} 个字符）"
    return text[: max(cap - len(tail), 0)] + tail


def _bounded(value: Any, depth: int) -> Any:
    """``extra`` kept small: texts clipped to 500 characters, dicts cut to 50 keys, lists to 100 items, nesting to 4 levels."""
    if isinstance(value, str):
        return clip(value, MAX_EXTRA_TEXT)
    if depth >= 4:
        return None
    if isinstance(value, dict):
        return {clip(str(k), 100): _bounded(v, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, (list, tuple)):
        return [_bounded(v, depth + 1) for v in list(value)[:100]]
    return value


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


def visible(text: str) -> str:
    """Text safe for a report (HTML, CSV): like :func:`printable`, but line breaks and tabs kept
    (a report may show a multi-line 说明); an escape or a bidi override from a file name is shown, not obeyed."""
    if text.isprintable():
        return text
    import unicodedata

    out = []
    for ch in text:
        if ch not in "\n\r\t" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
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
