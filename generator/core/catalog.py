"""Spec versions as the tool finds them: load one (parsed and every expression checked), list them.

This sits above :mod:`spec`, :mod:`expr` and :mod:`rules`: the parser knows nothing of the
expression language, and the expression checks are passed to it here, so the core has no cycle.
"""

from __future__ import annotations

from pathlib import Path

from .expr import Compare, Context, ExprError, compile_expr, parse
from .resources import specs_root
from .rules import expand_rule_static
from .spec import Spec, SpecInvalid, parse_spec


def load_spec(root: str | Path) -> Spec:
    """Load a spec directory; raise SpecInvalid listing every problem found (YAML and expressions)."""
    return parse_spec(root, checks=(validate_spec_expressions,))


def default_specs_dir() -> Path:
    return specs_root() / "2024"


def find_spec_dirs(base: Path | None = None) -> list[Path]:
    base = base or specs_root()
    return sorted(p for p in base.iterdir() if (p / "spec.yaml").is_file()) if base.is_dir() else []


def spec_by_version(version: str, base: Path | None = None) -> Spec | None:
    """The valid spec among :func:`find_spec_dirs` whose version is ``version`` (broken ones skipped)."""
    for d in find_spec_dirs(base):
        try:
            spec = load_spec(d)
        except SpecInvalid:
            continue
        if spec.version == version:
            return spec
    return None


def validate_spec_expressions(spec: Spec) -> list[tuple[str, int | None, str]]:
    problems: list[tuple[str, int | None, str]] = []

    def check(text: str, ctx: Context, file: str, line: int | None, allow_compare: bool = False) -> None:
        try:
            compile_expr(text, spec, ctx, allow_compare)
        except ExprError as exc:
            problems.append((file, line, f"表达式 {text!r}：{exc}"))

    for t in spec.tables.values():
        if t.kind == "form":
            prefix = "1:" if t.repeat else ""
            for fr in t.form:
                for cell in fr.cells:
                    if cell.kind == "value" and cell.formula:
                        check(cell.formula, Context(t.id, prefix + (fr.key or ""), cell.key), t.file, fr.line)
                    elif cell.kind == "grade":
                        check(cell.key, Context(t.id, prefix + (fr.key or ""), ""), t.file, fr.line)
            continue
        for b in t.blocks:
            for c in b.value_columns:
                if c.formula:
                    sample_rows = [r.key for r in b.rows if r.input or r.formula] or ["合计"]
                    check(c.formula, Context(t.id, sample_rows[0], c.key), t.file, c.line)
            for r in b.rows + ([b.total] if b.total else []):
                if r.formula:
                    for c in b.value_columns:
                        check(r.formula, Context(t.id, r.key, c.key), t.file, r.line)
            if b.subtotal:
                for c in b.value_columns:
                    check(b.subtotal.format(code="215"), Context(t.id, "215", c.key), t.file, b.line)
    for rule in spec.rules:
        if rule.kind != "compare" or not rule.expr:
            for attr in ("of", "in_", "table"):
                tid = getattr(rule, attr)
                if tid is not None and tid not in spec.tables:
                    problems.append((rule.file, rule.line, f"规则 {rule.id}：未知的表 {tid}"))
            continue
        try:
            for text, _msg, ctx, _bind in expand_rule_static(rule, spec, sample_items=["2150550"]):
                check(text, ctx, rule.file, rule.line, allow_compare=True)
                node = parse(text, allow_compare=True)
                if not isinstance(node, Compare):
                    problems.append((rule.file, rule.line, f"规则 {rule.id} 须为比较式（=、<=、>=）"))
                    break
        except (KeyError, ExprError, ValueError) as exc:
            problems.append((rule.file, rule.line, f"规则 {rule.id} 的 foreach 无法展开：{exc}"))
    return problems
