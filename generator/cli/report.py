"""Render findings for people (terminal text grouped by table) and for machines (JSON)."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.findings import ERROR, INFO, WARNING, Finding, sort_findings, stats


def _rank(group: str) -> tuple[int, str]:
    """文件与标识 first, then the tables (公开NN, 附表N, 附件N by id, as a spec numbers them), 其他 last."""
    return (0, "") if group == "文件与标识" else (2, "") if group == "其他" else (1, group)


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
    for g in sorted(groups, key=_rank):
        lines.append(f"【{g}】")
        for f in groups[g]:
            lines.append("  " + f.render())
    if not fs:
        lines.append("未发现问题。")
    return "\n".join(lines)
