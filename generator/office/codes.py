"""The functional code list (政府收支分类科目: 类 3 digits, 款 5, 项 7) of a spec version, imported
from the list the finance office already has (an xlsx or csv export with columns code,name).

The import is checked as a whole before anything is written: every code 3/5/7 digits, every 款
under a 类 and every 项 under a 款 of the resulting list, no code twice with two names, every code
the spec's own rows name still present. Then the file replaces the list (``keep=True``: codes the
file lacks are kept), and what was added, renamed and removed is reported."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.clock import now
from ..core.findings import ERROR, Finding
from ..core.fsutil import atomic_write_text
from ..core.spec import Spec

CODE_HEADERS = {"code", "代码", "科目代码", "科目编码", "编码"}
NAME_HEADERS = {"name", "名称", "科目名称"}


@dataclass
class CodeImport:
    codes: dict[str, str] = field(default_factory=dict)  # the resulting list, in code order
    added: list[tuple[str, str]] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)  # code, old name, new name
    removed: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = [f"新增 {len(self.added)} 个，改名 {len(self.renamed)} 个，删除 {len(self.removed)} 个；导入后共 {len(self.codes)} 个科目"]
        lines += [f"  + {c} {n}" for c, n in self.added]
        lines += [f"  ~ {c} {a} → {b}" for c, a, b in self.renamed]
        lines += [f"  - {c} {n}" for c, n in self.removed]
        return "\n".join(lines)


def _norm(text: str) -> str:
    t = unicodedata.normalize("NFKC", text or "").strip()
    return t[:-2] if t.endswith(".0") and t[:-2].isdigit() else t


def parse_code_rows(rows: list[list[str]], source: str = "") -> tuple[dict[str, str], list[Finding]]:
    """(code → name, problems) from a table's rows; a header row naming the columns is optional."""
    problems: list[Finding] = []
    ci, ni, start = 0, 1, 0
    for i, row in enumerate(rows[:5]):
        heads = [_norm(c).lower() for c in row]
        found_c = next((k for k, h in enumerate(heads) if h in CODE_HEADERS), None)
        found_n = next((k for k, h in enumerate(heads) if h in NAME_HEADERS), None)
        if found_c is not None and found_n is not None:
            ci, ni, start = found_c, found_n, i + 1
            break
    codes: dict[str, str] = {}
    for i, row in enumerate(rows[start:], start=start + 1):
        code = _norm(row[ci]) if ci < len(row) else ""
        name = (row[ni] or "").strip() if ni < len(row) else ""  # names as written (full-width brackets kept)
        if not code and not name:
            continue
        where: dict[str, Any] = {"file": source or None, "row": str(i)}
        if not code.isdigit() or len(code) not in (3, 5, 7):
            problems.append(Finding("codes-invalid-code", ERROR, f"第 {i} 行：科目代码 {code!r} 应为 3 位（类）、5 位（款）或 7 位（项）数字",
                                    actual=code, **where))
            continue
        if not name:
            problems.append(Finding("codes-name-missing", ERROR, f"第 {i} 行：科目 {code} 没有名称", actual=code, **where))
            continue
        if code in codes and codes[code] != name:
            problems.append(Finding("codes-duplicate", ERROR, f"第 {i} 行：科目 {code} 重复出现，名称不同（“{codes[code]}”与“{name}”）",
                                    actual=code, **where))
            continue
        codes[code] = name
    if not codes and not problems:
        problems.append(Finding("codes-empty", ERROR, "文件中没有科目（应有 code,name 两列）", file=source or None))
    return codes, problems


def required_codes(spec: Spec, codelist: str = "functional") -> set[str]:
    """Codes the spec's own fixed rows name (公开01/04's 类 rows): the list must keep them."""
    out: set[str] = set()
    for t in spec.tables.values():
        for b, row in t.fixed_rows():
            if row.code and (b.codelist in (None, codelist)) and len(row.code) in (3, 5, 7):
                out.add(row.code)
    return out


def merge_codes(old: dict[str, str], new: dict[str, str], keep: bool = False, required: set[str] | None = None,
                source: str = "") -> CodeImport:
    result = dict(old) if keep else {}
    result.update(new)
    imp = CodeImport(dict(sorted(result.items())))
    for code, name in imp.codes.items():
        parent = code[:3] if len(code) == 5 else code[:5] if len(code) == 7 else None
        if parent and parent not in imp.codes:
            what = "类" if len(parent) == 3 else "款"
            imp.problems.append(Finding("codes-parent-missing", ERROR, f"科目 {code} {name} 的上级{what} {parent} 不在代码表中",
                                        file=source or None, actual=code))
    for code in sorted((required or set()) - set(imp.codes)):
        imp.problems.append(Finding("codes-required-missing", ERROR,
                                    f"科目 {code} {old.get(code, '')} 是公开表固定行所用的代码，导入后不能没有", file=source or None,
                                    actual=code))
    imp.added = [(c, n) for c, n in imp.codes.items() if c not in old]
    imp.renamed = [(c, old[c], n) for c, n in imp.codes.items() if c in old and old[c] != n]
    imp.removed = [(c, n) for c, n in sorted(old.items()) if c not in imp.codes]
    return imp


def codelist_file(spec: Spec, codelist: str = "functional") -> Path:
    import yaml

    manifest = yaml.safe_load((spec.root / "spec.yaml").read_text(encoding="utf-8"))
    for name in manifest.get("codelists") or []:
        raw = yaml.safe_load((spec.root / name).read_text(encoding="utf-8"))
        if isinstance(raw, dict) and str(raw.get("id")) == codelist:
            return spec.root / name
    raise KeyError(codelist)


def write_codelist(path: Path, codelist: str, name: str, codes: dict[str, str], source: str) -> None:
    """The code list as YAML: the file's leading comments kept, one line saying where the list came from."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    head = [ln for ln in old.splitlines() if ln.startswith("#") and not ln.startswith("# imported:")]
    lines = head[:6] + [f"# imported: {Path(source).name} {now()}", f"id: {codelist}", f"name: {json.dumps(name, ensure_ascii=False)}",
                        "codes:"]
    lines += [f'  "{c}": {json.dumps(n, ensure_ascii=False)}' for c, n in codes.items()]
    atomic_write_text(path, "\n".join(lines) + "\n")


__all__ = ["CodeImport", "parse_code_rows", "merge_codes", "required_codes", "codelist_file", "write_codelist"]
