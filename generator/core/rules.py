"""审核公式: expand the spec's rules into instances and judge them with the rounding band.

An identity of n figures holds when |left − right| ≤ 0.005 × n, n counting the figures on both
sides (the interval rule of XBRL Calculations 1.1: each 万元 figure stands for ±0.005). A difference
inside the band is a 尾数差异, reported as info; outside it, at the rule's severity.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .expr import BCompare, Context, compile_expr, count_terms, evaluate
from .findings import ERROR, INFO, Finding
from .model import Figures
from .money import HALF_CENT, fmt
from .spec import Rule, Spec

PASS, SLIP, FAIL = "通过", "尾数差异", "不通过"


@dataclass
class RuleInstance:
    rule: Rule
    id: str
    message: str
    node: BCompare | None = None
    tolerance: Decimal = Decimal(0)
    binding: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.rule.kind

    @property
    def severity(self) -> str:
        return self.rule.severity


@dataclass
class RuleResult:
    instance: RuleInstance
    left: Decimal
    right: Decimal
    status: str
    tolerance: Decimal = Decimal(0)  # the band it was judged with (the instance's, times the units summed)

    @property
    def diff(self) -> Decimal:
        return self.left - self.right


ItemCodes = Callable[[str], list[str]]


def _foreach_bindings(rule: Rule, spec: Spec, item_codes: ItemCodes) -> Iterator[dict[str, str]]:
    dims: list[list[dict[str, str]]] = []
    for fe in rule.foreach:
        if "rows_of" in fe:
            t = spec.tables[fe["rows_of"]]
            attr = fe.get("with")
            opts = []
            for b in t.blocks:
                if fe.get("block") and b.id != fe["block"]:
                    continue
                for r in b.rows:
                    if attr and getattr(r, attr, None) is None:
                        continue
                    opts.append({"row": r.key, "code": r.code or "", "label": r.label})
            dims.append(opts)
        elif "values" in fe:
            name = fe.get("as", "value")
            dims.append([{str(k): str(v) for k, v in x.items()} if isinstance(x, dict) else {name: str(x)} for x in fe["values"]])
        elif "items_of" in fe:
            t = spec.tables[fe["items_of"]]
            codes = list(item_codes(t.id))
            if fe.get("total") and t.section and t.section.total:
                codes = [t.section.total.key] + codes
            dims.append([{"code": c} for c in codes])
        else:
            raise ValueError(f"未知的 foreach：{fe}")
    if not dims:
        yield {}
        return
    for combo in itertools.product(*dims):
        merged: dict[str, str] = {}
        for part in combo:
            merged.update(part)
        yield merged


def _instance_id(rule: Rule, binding: dict[str, str]) -> str:
    if not binding:
        return rule.id
    shown = [binding[k] for k in sorted(binding) if k != "label"]
    return f"{rule.id}[{','.join(shown)}]"


def expand_rule_static(
    rule: Rule, spec: Spec, sample_items: list[str]
) -> Iterator[tuple[str, str, Context, dict[str, str]]]:
    """(expr text, message, context, binding) per instance; items_of uses sample codes."""
    yield from _expand(rule, spec, lambda _t: sample_items)


class _Default(dict[str, str]):  # format_map that leaves unknown {names} alone
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_INSTANCES_MAX = 20_000


def expand_rules(spec: Spec, item_codes: ItemCodes) -> list[RuleInstance]:
    out: list[RuleInstance] = []
    # an instance is a function of its rule and binding alone: memoised per spec (instances are
    # never changed), so a batch does not re-format and re-count the same instances per workbook
    memo = spec.cache("rule_instances")
    for i, rule in enumerate(spec.rules):
        if rule.kind != "compare":
            inst = memo.get((i, None))
            if inst is None:
                inst = memo[(i, None)] = RuleInstance(rule, rule.id, rule.message)
            out.append(inst)
            continue
        for b in _foreach_bindings(rule, spec, item_codes):
            key = (i, tuple(b.items()))
            inst = memo.get(key)
            if inst is None:
                text, msg, ctx = _instance_parts(rule, b)
                node = compile_expr(text, spec, ctx, allow_compare=True)
                assert isinstance(node, BCompare)
                n = count_terms(node)
                inst = RuleInstance(rule, _instance_id(rule, b), msg, node, HALF_CENT * n, b)
                if len(memo) >= _INSTANCES_MAX:
                    memo.clear()
                memo[key] = inst
            out.append(inst)
    return out


def _expand(rule: Rule, spec: Spec, item_codes: ItemCodes) -> Iterator[tuple[str, str, Context, dict[str, str]]]:
    for b in _foreach_bindings(rule, spec, item_codes):
        yield (*_instance_parts(rule, b), b)


def _instance_parts(rule: Rule, b: dict[str, str]) -> tuple[str, str, Context]:
    """(expression text, message, context) of a rule under one binding."""
    return (rule.expr or "").format_map(b), rule.message.format_map(_Default(b)), Context(rule.table, None, rule.col)


def judge(op: str, left: Decimal, right: Decimal, tol: Decimal) -> str:
    diff = left - right
    if op == "=":
        bad = abs(diff)
    elif op in ("<=", "<"):
        bad = diff if op == "<=" else diff + Decimal("0.01")
    else:
        bad = -diff if op == ">=" else -diff + Decimal("0.01")
    if bad <= 0:
        return PASS
    if bad <= tol:
        return SLIP
    return FAIL


def statement_left(spec: Spec, figures: Figures, table: str) -> Decimal:
    """Sum of absolute input amounts of a table (0 = an empty table)."""
    return figures.typed_total(table)


def evaluate_instance(inst: RuleInstance, spec: Spec, figures: Figures, statements: dict[str, str],
                      units: int = 1) -> RuleResult:
    """``units``: how many units' figures were summed into these (a 汇总): each amount of a sum
    of n rounded figures is exact to ±0.005·n, so the band widens n times."""
    rule = inst.rule
    if rule.kind == "compare" and inst.node is not None:
        left = evaluate(inst.node.left, figures)
        right = evaluate(inst.node.right, figures)
        tol = inst.tolerance * units
        if rule.when and statement_left(spec, figures, rule.when) == 0:
            return RuleResult(inst, left, right, PASS, tol)  # the table it checks is not filled in
        return RuleResult(inst, left, right, judge(inst.node.op, left, right, tol), tol)
    if rule.kind == "subset":
        inner = set(figures.item_codes(rule.in_ or ""))
        missing = [c for c in figures.item_codes(rule.of or "") if c not in inner]
        return RuleResult(inst, Decimal(len(missing)), Decimal(0), PASS if not missing else FAIL)
    # statement: an empty table must carry its 空表说明
    left = statement_left(spec, figures, rule.table or "")
    right = Decimal(len((statements.get(rule.table or "") or "").strip()))
    return RuleResult(inst, left, right, PASS if left > 0 or right > 0 else FAIL)


def evaluate_rules(
    spec: Spec, figures: Figures, statements: dict[str, str], instances: list[RuleInstance] | None = None,
    units: int = 1,
) -> list[RuleResult]:
    insts = instances if instances is not None else expand_rules(spec, figures.item_codes)
    return [evaluate_instance(i, spec, figures, statements, units) for i in insts]


@dataclass
class RuleCells:
    """Where a rule instance's figures are: the data cells of each side (``公开05表!D10``) and the
    row of the 审核 sheet that shows it (a reference, not the place to fix)."""

    left: list[str] = field(default_factory=list)
    right: list[str] = field(default_factory=list)
    check: str | None = None

    def first(self) -> str | None:
        if self.left:
            return self.left[0]
        return self.right[0] if self.right else self.check


def _cells_text(cells: list[str]) -> str:
    if not cells:
        return ""
    return "、".join(cells[:3]) + (f" 等 {len(cells)} 格" if len(cells) > 3 else "")


def _sides_text(cells: RuleCells | None, res: RuleResult) -> str:
    """'左边 公开05表!D10 为 1,234.00，右边 公开03表!C8 为 1,230.00，相差 4.00'."""
    lt = _cells_text(cells.left) if cells else ""
    rt = _cells_text(cells.right) if cells else ""
    return (f"左边{(' ' + lt) if lt else ''} 为 {fmt(res.left, True)}，右边{(' ' + rt) if rt else ''} 为 {fmt(res.right, True)}，"
            f"差额 {fmt(res.diff, True)}")


def _failed(severity: str) -> str:
    """A failing rule's code: a 强制 rule's ``rule-failed`` (error), a 提示 rule's ``rule-warning``."""
    return "rule-failed" if severity == ERROR else "rule-warning"


def rule_findings(
    results: list[RuleResult], explanations: dict[str, str] | None = None,
    locate: Callable[[RuleInstance], str | None | RuleCells] | None = None,
) -> list[Finding]:
    """Findings of the rules that did not pass. ``locate`` gives an instance's cells: a
    :class:`RuleCells` (the finding's ``cell`` is then the first data cell, ``check_cell`` the 审核
    row), or only the 审核 cell as text."""
    explanations = explanations or {}
    out: list[Finding] = []
    for res in results:
        inst = res.instance
        if res.status == PASS:
            continue
        where = locate(inst) if locate else None
        cells = where if isinstance(where, RuleCells) else RuleCells(check=where) if where else None
        cell = cells.first() if cells else None
        extra: dict[str, Any] = {"rule_id": inst.id}
        if cells is not None and cells.check:
            extra["check_cell"] = cells.check
        if cells is not None and (cells.left or cells.right):
            extra["left_cells"], extra["right_cells"] = cells.left, cells.right
        if inst.kind == "subset":
            out.append(Finding(_failed(inst.severity), inst.severity, f"{inst.message}：有 {int(res.left)} 个科目不在其中",
                               table=inst.rule.of, cell=cell, expected="0", actual=str(int(res.left)), rule=inst.id,
                               extra=extra))
            continue
        if inst.kind == "statement":
            code = "empty-table-statement-missing" if inst.severity == ERROR else "empty-table-statement-advised"
            out.append(Finding(code, inst.severity, inst.message,
                               table=inst.rule.table, cell=cell, rule=inst.id, extra=extra))
            continue
        fig_loc = _first_fig(inst)
        extra["difference"] = fmt(res.diff, True)
        if res.status == SLIP:
            out.append(Finding(
                "rounding-difference", INFO,
                f"{inst.message}：{_sides_text(cells, res)}，在尾数误差范围（±{fmt(res.tolerance)}）内，无需处理",
                table=fig_loc[0], row=fig_loc[1], col=fig_loc[2], cell=cell,
                expected=fmt(res.right, True), actual=fmt(res.left, True), rule=inst.id, extra=extra))
            continue
        note = ""
        if inst.severity != ERROR:
            explained = (explanations.get(inst.id) or explanations.get(inst.rule.id) or "").strip()
            extra["explained"] = bool(explained)
            if explained:
                extra["explanation"] = explained
                note = f"（已说明：{explained}）"
            else:
                note = "（未填写差异说明）"
        out.append(Finding(
            _failed(inst.severity), inst.severity, f"{inst.message}：{_sides_text(cells, res)}{note}",
            table=fig_loc[0], row=fig_loc[1], col=fig_loc[2], cell=cell,
            expected=fmt(res.right, True), actual=fmt(res.left, True), rule=inst.id, extra=extra))
    return out


def _first_fig(inst: RuleInstance) -> tuple[str | None, str | None, str | None]:
    from .expr import Fig, Items, terms

    if inst.node is None:
        return (inst.rule.table, None, None)
    for t in terms(inst.node.left):
        if isinstance(t, Fig):
            return (t.table, t.row, t.col)
        if isinstance(t, Items):
            return (t.table, t.prefix or "合计", t.col)
    return (None, None, None)


_PLACEHOLDER_WORDS = [  # (pattern, first occurrence, later occurrences)
    (r"第\{row\}行", "各行", "对应行"),
    (r"\{label\}", "各行", "对应行"),
    (r"\{code\} 类", "各类", "对应类"),
    (r"\{code\}", "各科目", "同一科目"),
    (r"栏\{col\}", "各栏", "同一栏"),
    (r"\{fund\}", "各类", "同类"),
]


def describe_rule(message: str) -> str:
    """A rule's message for people, without its placeholders: "公开01表 第{row}行 应等于 公开03表
    {code} 类 …" → "公开01表 各行 应等于 公开03表 对应类 …" (what the rule says of all its instances)."""
    import re

    text = message
    for pattern, first, later in _PLACEHOLDER_WORDS:
        seen = [False]

        def word(_m: re.Match[str], first: str = first, later: str = later, seen: list[bool] = seen) -> str:
            out = later if seen[0] else first
            seen[0] = True
            return out

        text = re.sub(pattern, word, text)
    return re.sub(r"\{[^{}]*\}", "各项", text)
