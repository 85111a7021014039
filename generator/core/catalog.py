"""Spec versions as the tool finds them: load one (parsed and every expression checked), list them.

This sits above :mod:`spec`, :mod:`expr` and :mod:`rules`: the parser knows nothing of the
expression language, and the expression checks are passed to it here, so the core has no cycle.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

from . import guide
from .expr import Compare, Context, ExprError, Fig, Items, cell_formula, compile_expr, parse, terms
from .gcpause import gc_paused
from .resources import specs_root, templates_root
from .rules import expand_rule_static
from .spec import Block, Rule, Spec, SpecInvalid, Table, parse_spec, split_repeat


def load_spec(root: str | Path) -> Spec:
    """Load a spec directory; raise SpecInvalid listing every problem found (YAML and expressions).

    A valid spec, once parsed and checked, is kept in a cache file (see :func:`spec_cache_dir`)
    named by the SHA-256 of every file of the folder and of the code that parses and checks it, so
    the next process (a command that starts, a worker) loads it in milliseconds. Any change to a
    spec file or to that code is a different name: a stale entry is never read. A cache that
    cannot be read or written is ignored. Beside the spec the entry keeps memo tables of it
    (:func:`_kept`: the guide sheet's text, rendered once, and more), put back into the loaded spec."""
    root = Path(root)
    path = _cache_path(root)
    if path is not None:
        try:
            with open(path, "rb") as fh, gc_paused():  # ~50,000 objects: no collection halfway
                spec, kept = pickle.load(fh)
            if isinstance(spec, Spec) and isinstance(kept, dict):
                for name, memo in kept.items():
                    spec.cache(name).update(memo)
                if spec.root != root:  # the same content in another folder (keep the shared object otherwise)
                    spec.root = root
                return spec
        except Exception:  # noqa: BLE001 - missing, truncated or from another Python: parse again
            pass
    spec = parse_spec(root, checks=(validate_spec_expressions, formula_cycles))
    if path is not None:
        _write_cache(path, spec)
    return spec


# the code whose results the cache entry holds: the parsed spec's and the kept memo tables' (layout.py
# lays out the blank unit of _kept)
_CODE = ("spec.py", "specschema.py", "tableid.py", "expr.py", "rules.py", "catalog.py", "guide.py", "layout.py")
_KEPT_FILES = (guide.TEMPLATE,)  # templates the kept memo tables are rendered from (part of the name too)


def _kept(spec: Spec) -> dict[str, dict[Any, Any]]:
    """The memo tables the cache entry keeps beside the spec: the guide's text (both renderings),
    and what laying out a unit without 科目 fills -- the compiled expressions, the fixed tables'
    sheets, the rule instances and the 审核 sheet's fixed sides -- so that the first workbook a fresh
    process reads or builds starts where the second would. Pickled with the spec in one dump, so
    the sheets' tables are the spec's own objects again when loaded."""
    from .layout import plan_workbook

    guide.guide_text(spec, "", "", True)  # the rendering with 科目 (the blank unit below renders the other)
    try:
        plan_workbook(spec, "000000000", "", spec.year)
    except Exception:  # noqa: BLE001 - a spec that cannot lay a blank unit out says so where it is used; cached all the same
        pass
    return {name: dict(spec.cache(name)) for name in _KEPT_MEMOS}


_KEPT_MEMOS = ("guide", "compiled", "fixed_sheets", "rule_instances", "check_sides")


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
        for name in _KEPT_FILES:
            h.update((templates_root() / name).read_bytes())
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
            pickle.dump((spec, _kept(spec)), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - a read-only home, a full disk, an unpicklable memo: no cache
        pass


def default_specs_dir() -> Path:
    return specs_root() / "2024"


def find_spec_dirs(base: Path | None = None) -> list[Path]:
    base = base or specs_root()
    return sorted(p for p in base.iterdir() if (p / "spec.yaml").is_file()) if base.is_dir() else []


def spec_by_version(version: str, base: Path | None = None, dirs: list[Path] | None = None) -> Spec | None:
    """The valid spec among ``dirs`` (default :func:`find_spec_dirs`; a round's spec folders) whose
    version is ``version`` (broken ones skipped)."""
    for d in dirs if dirs is not None else find_spec_dirs(base):
        try:
            spec = load_spec(d)
        except SpecInvalid:
            continue
        if spec.version == version:
            return spec
    return None


Problem = tuple[str, int | None, str]  # file, line, message


class _ExprCheck:
    """Compiles every expression of a spec, collecting what fails to compile."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.problems: list[Problem] = []

    def __call__(self, text: str, ctx: Context, file: str, line: int | None, allow_compare: bool = False) -> None:
        if not isinstance(text, str):
            return  # the schema names a formula that is not text
        try:
            compile_expr(text, self.spec, ctx, allow_compare)
        except ExprError as exc:
            self.problems.append((file, line, f"表达式 {text!r}：{exc}"))

    def form(self, t: Table) -> None:
        prefix = "1:" if t.repeat else ""
        for fr in t.form:
            for cell in fr.cells:
                if cell.kind == "value" and cell.formula:
                    self(cell.formula, Context(t.id, prefix + (fr.key or ""), cell.key), t.file, fr.line)
                elif cell.kind == "grade":
                    self(cell.key, Context(t.id, prefix + (fr.key or ""), ""), t.file, fr.line)

    def block(self, t: Table, b: Block) -> None:
        self._percents(t, b)
        for c in b.value_columns:
            if c.formula:
                sample_rows = [r.key for r in b.rows if r.input or r.formula] or ["合计"]
                self(c.formula, Context(t.id, sample_rows[0], c.key), t.file, c.line)
        for r in b.rows + ([b.total] if b.total else []):
            if r.formula:
                for c in b.value_columns:
                    self(r.formula, Context(t.id, r.key, c.key), t.file, r.line)
        if isinstance(b.subtotal, str) and b.subtotal:
            try:
                text = b.subtotal.format(code="215")
            except (KeyError, IndexError, ValueError):
                self.problems.append((t.file, b.line, f"subtotal {b.subtotal!r}：花括号中只能写 {{code}}（类/款行的科目代码）"))
                return
            for c in b.value_columns:
                self(text, Context(t.id, "215", c.key), t.file, b.line)

    def _percents(self, t: Table, b: Block) -> None:
        """A share (measure percent) is computed, never typed in: every percent cell has a formula."""
        for r in b.rows:
            for c in b.value_columns:
                if "percent" in (r.measure, c.measure) and (r.input or r.formula) and cell_formula(
                        t, b.id, r.key, c.key or "") is None:
                    self.problems.append((t.file, r.line, f"行 {r.key} 栏 {c.key} 是百分比（percent），只能由公式计算，须给出 formula"))
        if b.section and any(c.measure == "percent" and not c.formula for c in b.value_columns):
            self.problems.append((t.file, b.line, "科目 section 的百分比栏（percent）须有列公式（formula）"))

    def rule(self, rule: Rule) -> None:
        spec = self.spec
        bad = foreach_problems(rule, spec)
        if bad:
            self.problems += [(rule.file, rule.line, f"规则 {rule.id}：{p}") for p in bad]
            return
        if rule.kind != "compare" or not rule.expr:
            for attr in ("of", "in_", "table"):
                tid = getattr(rule, attr)
                if tid is not None and tid not in spec.tables:
                    self.problems.append((rule.file, rule.line, f"规则 {rule.id}：未知的表 {tid}"))
            return
        try:
            for text, _msg, ctx, _bind in expand_rule_static(rule, spec, sample_items=["2150550"]):
                self(text, ctx, rule.file, rule.line, allow_compare=True)
                if not isinstance(parse(text, allow_compare=True), Compare):
                    self.problems.append((rule.file, rule.line, f"规则 {rule.id} 须为比较式（=、<=、>=）"))
                    break
        except KeyError as exc:
            self.problems.append((rule.file, rule.line, f"规则 {rule.id} 的 expr 用了 {{{exc.args[0]}}}，但 foreach 没有给出它"))
        except (ExprError, ValueError) as exc:
            self.problems.append((rule.file, rule.line, f"规则 {rule.id} 的 foreach 无法展开：{exc}"))

    def figures(self) -> None:
        """The spec's named figures (each stands alone: every reference names its table), its quoted
        texts (a typed-in text cell of a form) and the tables a unit's 科目 go into."""
        spec = self.spec
        for tid in spec.subject_tables:
            if spec.tables[tid].section is None:
                self.problems.append((str(spec.root / "spec.yaml"), None,
                                      f"subject_tables 中的 {tid} 没有科目 section，单位的科目无处列示"))
        for name, text in spec.figures.items():
            try:
                compile_expr(text, spec, Context())
            except ExprError as exc:
                self.problems.append((spec.figures_file, spec.figure_lines.get(name), f"数字“{name}”的表达式 {text!r}：{exc}"))
        for lab in spec.labels:
            for text in lab.figures + lab.budget:
                if text in spec.figures:
                    continue
                try:  # not a name: an expression over the format's tables
                    compile_expr(text, spec, Context())
                except ExprError as exc:
                    self.problems.append((spec.figures_file, lab.line,
                                          f"说明用语 {lab.words[0]}：{text!r} 既不是数字名称，也不是有效的表达式（{exc}）"))
        for name, (table, row, col) in spec.texts.items():
            t = spec.tables.get(table)
            if t is None or t.kind != "form" or col not in t.text_keys() or \
                    not any(fr.key == row and any(c.kind == "field" and c.key == col for c in fr.cells) for fr in t.form):
                self.problems.append((spec.figures_file, None, f"文字“{name}”：{table} 没有行 {row} 栏 {col} 的填写文字单元格"))


def validate_spec_expressions(spec: Spec) -> list[tuple[str, int | None, str]]:
    check = _ExprCheck(spec)
    for t in spec.tables.values():
        if t.kind == "form":
            check.form(t)
            continue
        for b in t.blocks:
            check.block(t, b)
    for rule in spec.rules:
        check.rule(rule)
    check.figures()
    return check.problems


def foreach_problems(rule: Rule, spec: Spec) -> list[str]:
    """What is wrong with a rule's ``foreach`` (each entry: rows_of, values or items_of)."""
    out: list[str] = []
    for fe in rule.foreach:
        kinds = [k for k in ("rows_of", "values", "items_of") if k in fe]
        if len(kinds) != 1:
            out.append("foreach 的每一项须且只能有 rows_of、values、items_of 之一")
            continue
        tid = fe.get(kinds[0])
        if kinds[0] == "values":
            continue
        t = spec.tables.get(str(tid))
        if t is None:
            out.append(f"foreach {kinds[0]} 的表 {tid} 不存在")
        elif kinds[0] == "items_of" and t.section is None and t.indicators is None:
            out.append(f"foreach items_of 的表 {tid} 没有科目 section（items_of 只用于科目表或有指标区的表单）")
        elif kinds[0] == "rows_of" and fe.get("block") is not None and all(b.id != str(fe["block"]) for b in t.blocks):
            out.append(f"foreach rows_of 的表 {tid} 没有 block {fe['block']}")
    return out


ITEM_ROW = "*"  # in the graph below: any 项 row of a section (their column formulas are the same)


def formula_cycles(spec: Spec) -> list[tuple[str, int | None, str]]:
    """Formulas that depend on themselves, through any chain of other formulas (the build would
    recurse without end): one problem per cycle, at the line of a formula in it."""
    graph: dict[tuple[str, str, str], list[tuple[str, str, str]]] = {}
    where: dict[tuple[str, str, str], tuple[str, int | None]] = {}

    def node_of(term: Fig | Items) -> list[tuple[str, str, str]]:
        t = spec.tables.get(term.table)
        if t is None:
            return []
        if isinstance(term, Items):
            return [(t.id, ITEM_ROW, term.col)] if t.section is not None else []
        row = split_repeat(term.row)[1] if t.repeat is not None else term.row
        if t.row(row) is not None:
            return [(t.id, row, term.col)]
        return [(t.id, ITEM_ROW, term.col)] if t.section is not None else []

    def add(t: Table, row: str, col: str, text: str, ctx: Context, line: int | None) -> None:
        if not isinstance(text, str):
            return
        try:
            node = compile_expr(text, spec, ctx)
        except ExprError:
            return  # said by validate_spec_expressions
        key = (t.id, row, col)
        graph[key] = [n for term in terms(node) for n in node_of(term)]
        where[key] = (t.file, line)

    for t in spec.tables.values():
        prefix = "1:" if t.repeat else ""
        for b in t.blocks:
            rows = b.rows + ([b.total] if b.total else [])
            for r in rows:
                if not r.input and not r.formula:
                    continue
                for c in b.value_columns:
                    found = cell_formula(t, b.id, r.key, c.key or "")
                    if found is not None:
                        line = r.line if found[0] == r.formula or found[0] == r.formulas.get(c.key or "") else c.line
                        add(t, r.key, c.key or "", found[0], Context(t.id, prefix + r.key, c.key), line)
            if b.section:
                for c in b.value_columns:
                    if c.formula:
                        add(t, ITEM_ROW, c.key or "", c.formula, Context(t.id, "2150550", c.key), c.line)
    return _cycles(graph, where)


Node = tuple[str, str, str]


def _cycles(graph: dict[Node, list[Node]], where: dict[Node, tuple[str, int | None]]) -> list[tuple[str, int | None, str]]:
    """Every cycle of the formula graph once (depth first, without recursion), said at a formula in it."""
    problems: list[tuple[str, int | None, str]] = []
    state: dict[Node, int] = {}  # 1: on the path, 2: done
    reported: set[frozenset[Node]] = set()
    for start in graph:
        if state.get(start):
            continue
        path: list[Node] = []
        stack = [(start, iter(graph.get(start, ())))]
        state[start] = 1
        path.append(start)
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    shown = " → ".join(_fig_text(n) for n in [*cycle, nxt])
                    file, line = where[nxt]
                    problems.append((file, line, f"公式循环引用：{shown}"))
            elif not state.get(nxt) and nxt in graph:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(graph[nxt])))
    return problems


def _fig_text(node: tuple[str, str, str]) -> str:
    table, row, col = node
    return f"{table} 项级科目行 col {col}" if row == ITEM_ROW else f"{table} row {row} col {col}"
