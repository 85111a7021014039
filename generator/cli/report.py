"""Render findings for people (terminal text grouped by table) and for machines (JSON)."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.findings import ERROR, INFO, WARNING, Finding, sort_findings, stats

_ORDER = ["文件与标识", "公开01", "公开02", "公开03", "公开04", "公开05", "公开06", "公开07", "公开08", "公开09", "其他"]


def _group(f: Finding) -> str:
    if f.table:
        return f.table
    if f.code.startswith(("file-", "zip-", "xml-", "template-", "identity-", "fingerprint-", "meta-", "wrong-",
                          "sheet-", "structure-", "hidden-", "not-a-")):
        return "文件与标识"
    return "其他"


def render_text(findings: Iterable[Finding], title: str = "") -> str:
    fs = sort_findings(findings)
    st = stats(fs)
    lines = []
    if title:
        lines.append(title)
    lines.append(f"错误 {st[ERROR]} 条，提示 {st[WARNING]} 条，信息 {st[INFO]} 条")
    groups: dict[str, list[Finding]] = {}
    for f in fs:
        groups.setdefault(_group(f), []).append(f)
    for g in sorted(groups, key=lambda x: _ORDER.index(x) if x in _ORDER else 99):
        lines.append(f"【{g}】")
        for f in groups[g]:
            lines.append("  " + f.render())
    if not fs:
        lines.append("未发现问题。")
    return "\n".join(lines)
