"""Spec versions as the tool finds them: load one (parsed and every expression checked), list them.

This sits above :mod:`spec`, :mod:`expr` and :mod:`rules`: the parser knows nothing of the
expression language, and the expression checks are passed to it here, so the core has no cycle.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

from .expr import Compare, Context, ExprError, compile_expr, parse
from .resources import specs_root
from .rules import expand_rule_static
from .spec import Spec, SpecInvalid, parse_spec


def load_spec(root: str | Path) -> Spec:
    """Load a spec directory; raise SpecInvalid listing every problem found (YAML and expressions).

    A valid spec, once parsed and checked, is kept in a cache file (see :func:`spec_cache_dir`)
    named by the SHA-256 of every file of the folder and of the code that parses and checks it, so
    the next process (a command that starts, a worker) loads it in milliseconds. Any change to a
    spec file or to that code is a different name: a stale entry is never read. A cache that
    cannot be read or written is ignored."""
    root = Path(root)
    path = _cache_path(root)
    if path is not None:
        try:
            with open(path, "rb") as fh:
                spec = pickle.load(fh)
            if isinstance(spec, Spec):
                if spec.root != root:  # the same content in another folder (keep the shared object otherwise)
                    spec.root = root
                return spec
        except Exception:  # noqa: BLE001 - missing, truncated or from another Python: parse again
            pass
    spec = parse_spec(root, checks=(validate_spec_expressions,))
    if path is not None:
        _write_cache(path, spec)
    return spec


_CODE = ("spec.py", "expr.py", "rules.py", "catalog.py")


def spec_cache_dir() -> Path | None:
    """``JUESUAN_CACHE`` (empty: no cache), else ``$XDG_CACHE_HOME/juesuan``, else ``~/.cache/juesuan``."""
    env = os.environ.get("JUESUAN_CACHE")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "juesuan"


def _cache_path(root: Path) -> Path | None:
    where = spec_cache_dir()
    if where is None:
        return None
    h = hashlib.sha256()
    try:
        here = Path(__file__).parent
        for name in _CODE:
            h.update((here / name).read_bytes())
        for p in sorted(root.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    except OSError:
        return None
    return where / f"spec-{h.hexdigest()[:32]}.pickle"


def _write_cache(path: Path, spec: Spec) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        with open(tmp, "wb") as fh:
            pickle.dump(spec, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - a read-only home, a full disk, an unpicklable memo: no cache
        pass


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
    figures_file = str(spec.root / str(spec.raw.get("spec.yaml", {}).get("figures", "")))
    for name, text in spec.figures.items():
        try:  # a named figure stands alone: every reference names its table
            compile_expr(text, spec, Context())
        except ExprError as exc:
            problems.append((figures_file, None, f"数字“{name}”的表达式 {text!r}：{exc}"))
    for name, (table, row, col) in spec.texts.items():
        t = spec.tables.get(table)
        if t is None or t.kind != "form" or col not in t.text_keys() or \
                not any(fr.key == row and any(c.kind == "field" and c.key == col for c in fr.cells) for fr in t.form):
            problems.append((figures_file, None, f"文字“{name}”：{table} 没有行 {row} 栏 {col} 的填写文字单元格"))
    return problems
