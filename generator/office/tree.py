"""The units file as a tree: each unit, its parent and subordinates; unknown parents and cycles are findings;
aggregate units (汇总单位) that only sum their subordinates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.findings import ERROR, Finding
from .store import Store

# ---------------------------------------------------------------- the unit tree


AGGREGATE_KINDS = {"汇总", "汇总单位", "aggregate"}


@dataclass
class Unit:
    code: str
    name: str
    parent: str = ""
    line: int | None = None
    kind: str = ""  # 汇总: sums its subordinates, no report of its own

    @property
    def declared_aggregate(self) -> bool:
        return self.kind in AGGREGATE_KINDS


@dataclass
class UnitTree:
    """The units file as a tree. Unknown parents and cycles are findings; such units become roots."""

    units: dict[str, Unit] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, str]] | Iterable[tuple[str, ...]], source: str = "") -> UnitTree:
        tree = cls()
        for r in rows:
            if isinstance(r, dict):
                u = Unit(r["code"], r["name"], r.get("parent") or "", int(r["line"]) if r.get("line") else None,
                         r.get("kind") or "")
            else:
                u = Unit(r[0], r[1], r[2] or "", None, r[3] if len(r) > 3 else "")
            tree.units[u.code] = u
        for u in tree.units.values():
            if u.parent and u.parent not in tree.units:
                tree.findings.append(Finding("units-parent-unknown", ERROR,
                                             f"单位 {u.code} 的上级单位 {u.parent} 不在单位清单中，按顶层单位处理",
                                             file=source or None, row=str(u.line) if u.line else None))
                u.parent = ""
        for u in tree.units.values():  # cycles: walk up; a unit met twice closes a loop
            seen = {u.code}
            p = u.parent
            while p:
                if p in seen:
                    tree.findings.append(Finding("units-cycle", ERROR, f"单位 {u.code} 的上级关系成环，按顶层单位处理",
                                                 file=source or None, row=str(u.line) if u.line else None))
                    u.parent = ""
                    break
                seen.add(p)
                p = tree.units[p].parent
        for u in tree.units.values():
            tree.children.setdefault(u.parent, []).append(u.code)
        return tree

    def rows(self) -> list[tuple[str, str, str, str]]:
        return [(u.code, u.name, u.parent, u.kind) for u in self.units.values()]

    def is_aggregate(self, code: str) -> bool:
        """A unit that reports nothing of its own and only sums its subordinates: marked 汇总 in the
        units file, or (unmarked) a unit with subordinates one of which is its 本级."""
        u = self.units[code]
        kids = self.kids(code)
        if u.declared_aggregate:
            return True
        return not u.kind and any("本级" in self.units[k].name for k in kids)

    @property
    def roots(self) -> list[str]:
        return list(self.children.get("", []))

    def kids(self, code: str) -> list[str]:
        return self.children.get(code, []) if code else []

    def walk(self, start: str | None = None) -> list[tuple[str, int]]:
        """(code, depth) in tree order (pre-order, units-file order among siblings)."""
        out: list[tuple[str, int]] = []
        stack = [(c, 0) for c in reversed([start] if start else self.roots)]
        while stack:
            code, depth = stack.pop()
            out.append((code, depth))
            stack.extend((c, depth + 1) for c in reversed(self.kids(code)))
        return out


def load_tree(units_file: Path) -> UnitTree:
    from .units import read_units_csv  # the one parser of the units file

    rows, problems = read_units_csv(units_file)
    tree = UnitTree.from_rows(rows, str(units_file))
    tree.findings = problems + tree.findings
    return tree


def tree_from_store(store: Store) -> UnitTree:
    return UnitTree.from_rows([(r["code"], r["name"], r["parent"], r["kind"]) for r in store.units()])
