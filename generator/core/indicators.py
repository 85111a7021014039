"""绩效 indicators as typed data: parse 年度指标值 / 实际完成值, score them, check the 自评表 (附件2/3).

A target such as ``≤1311.67万元``, ``3-4次``, ``100%``, ``≥95%``, ``1年``, ``全部落实``, ``提高`` is parsed into
an :class:`Indicator` — direction 正向 (≥; a range's lower bound), 反向 (≤), 等于 (=) or 定性 — with its
bound(s) and unit; an actual such as ``18次``, ``系列活动合计18次``, ``1153.40万元``, ``完成`` likewise. Text
that is neither a number nor a known 定性 word is kept as 定性 with ``parsed=False`` and flagged.

The standard scoring rule, per direction: 正向 full marks when the actual reaches the target, else
分值 × actual / target; 反向 full marks when the actual stays within the target (a cost kept under
budget), else 分值 × target / actual; 等于 full marks when equal, else 分值 × the smaller ratio; 定性 by
bands of the actual's wording (完成/提高/落实… 100%, 基本完成 80%, 部分完成 60%, 未完成 0). A typed-in
得分 is judged against it to the cent (a score is written with 2 decimals, rounded or truncated).
A 成本 indicator whose plain target (``184万元``) has no sign is 反向: a cost is kept within it.

The seed scores its cost indicators proportionally — 分值 × actual / target (8.79 of 10 for 1153.40
against ≤1311.67) — though the target is met; that is reported as a 提示
(``indicator-reverse-proportional``) naming both figures, and nothing else about those rows.
Pure Python, Decimal only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .findings import ERROR, INFO, WARNING, Finding
from .money import fmt
from .spec import Spec, is_indicator_key, split_repeat

POSITIVE, REVERSE, EQUAL, QUALITATIVE = "正向", "反向", "等于", "定性"
CENT = Decimal("0.01")
WEIGHT_RE = re.compile(r"[（(]\s*(\d+(?:\.\d+)?)\s*分\s*[)）]")
_NUM = r"(\d+(?:\.\d+)?)"
_FULL = re.compile(rf"^(≥|>=|>|≤|<=|<|=)?\s*{_NUM}\s*(?:[-~～—至到]\s*{_NUM})?\s*([^\d\s]{{0,4}})$")
_UNITS = "万元|亿元|元|次|人次|人|笔|年|家|个|%|场|项|天|月|期|条|篇|户|件"
_EMBEDDED = re.compile(rf"{_NUM}\s*({_UNITS})")
# 定性 wording, most specific first: (words, share of full marks)
_BANDS: tuple[tuple[tuple[str, ...], Decimal], ...] = (
    (("未完成", "未达到", "未落实", "未实现", "不合格", "不满意"), Decimal(0)),
    (("部分完成", "部分达到", "部分落实"), Decimal("0.6")),
    (("基本完成", "基本达到", "基本落实", "基本满意"), Decimal("0.8")),
    (("完成", "达到", "达标", "落实", "提高", "提升", "增强", "改善", "正常", "规范", "合格", "满意", "实现", "确保",
      "有效", "全年", "优化", "降低", "促进", "保障"), Decimal(1)),
)


@dataclass(frozen=True)
class Indicator:
    """A parsed 年度指标值 or 实际完成值."""

    raw: str
    direction: str  # 正向 | 反向 | 等于 | 定性
    low: Decimal | None = None
    high: Decimal | None = None
    unit: str = ""
    parsed: bool = True  # False: neither a number nor a known 定性 word (kept as 定性, flagged)
    band: Decimal | None = None  # 定性: share of full marks its wording stands for

    @property
    def value(self) -> Decimal | None:
        """The one number of an actual (or the bound of a one-sided target)."""
        return self.low if self.low is not None else self.high


def _band(text: str) -> Decimal | None:
    for words, share in _BANDS:
        if any(w in text for w in words):
            return share
    return None


NONE_WORDS = {"无", "/", "-", "—", "不适用"}  # "no indicator here": parsed, nothing to score


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").strip()
    return text.replace("％", "%").replace(" ", "")


def parse_target(text: str, cost: bool = False) -> Indicator:
    """A 年度指标值. ``cost``: the row is a 成本 indicator (a plain amount is then a ceiling)."""
    t = _normal(text)
    m = _FULL.match(t)
    if m and t:
        op, a, b, unit = m.group(1), Decimal(m.group(2)), m.group(3), m.group(4)
        if b is not None:
            return Indicator(text, POSITIVE, a, Decimal(b), unit)
        if op in ("≥", ">=", ">"):
            return Indicator(text, POSITIVE, a, None, unit)
        if op in ("≤", "<=", "<"):
            return Indicator(text, REVERSE, None, a, unit)
        if op == "=":
            return Indicator(text, EQUAL, a, a, unit)
        return Indicator(text, REVERSE, None, a, unit) if cost else Indicator(text, POSITIVE, a, None, unit)
    band = _band(t)
    return Indicator(text, QUALITATIVE, parsed=band is not None or not t or t in NONE_WORDS, band=band)


def parse_actual(text: str) -> Indicator:
    """A 实际完成值: a number with its unit (also inside words: 系列活动合计18次), else 定性 wording."""
    t = _normal(text)
    m = _FULL.match(t)
    if m and t and m.group(3) is None:
        v = Decimal(m.group(2))
        return Indicator(text, EQUAL, v, v, m.group(4))
    band = _band(t)
    if band is not None:
        return Indicator(text, QUALITATIVE, band=band)
    found = _EMBEDDED.findall(t)
    if len(found) == 1:
        v = Decimal(found[0][0])
        return Indicator(text, EQUAL, v, v, found[0][1])
    return Indicator(text, QUALITATIVE, parsed=not t or t in NONE_WORDS)


def met(target: Indicator, actual: Indicator) -> bool | None:
    """Whether the actual reaches the target (None when they cannot be compared)."""
    if actual.direction == QUALITATIVE or target.direction == QUALITATIVE:
        return None if actual.band is None else actual.band == 1
    a = actual.value
    if a is None or (target.unit and actual.unit and target.unit != actual.unit):
        return None
    if target.direction == POSITIVE:
        return a >= (target.low or Decimal(0))
    if target.direction == REVERSE:
        return a <= (target.high or Decimal(0))
    return a == target.low


def rule_score(weight: Decimal, target: Indicator, actual: Indicator) -> Decimal | None:
    """The standard score (unrounded), or None when the rule cannot judge the row."""
    if actual.direction == QUALITATIVE or target.direction == QUALITATIVE:
        return None if actual.band is None else weight * actual.band
    a = actual.value
    if a is None or (target.unit and actual.unit and target.unit != actual.unit):
        return None
    if met(target, actual):
        return weight
    if target.direction == POSITIVE:
        low = target.low or Decimal(0)
        return weight * a / low if low else weight
    if target.direction == REVERSE:
        return weight * (target.high or Decimal(0)) / a if a else weight
    v = target.low or Decimal(0)
    if not v or not a:
        return Decimal(0)
    return weight * min(a / v, v / a)


@dataclass
class IndicatorRow:
    table: str
    key: str
    first: str  # 一级指标
    second: str
    third: str
    target: Indicator
    actual: Indicator
    weight: Decimal | None
    score: Decimal | None
    reason: str


def indicator_rows(spec: Spec, table: str, values: dict[str, dict[str, Decimal]],
                   texts: dict[str, dict[str, str]]) -> list[IndicatorRow]:
    """Every indicator row a unit reported in a 自评表 (附件2, or every project of 附件3), in order."""
    keys = {k for k in set(values) | set(texts) if is_indicator_key(k)}

    def order(k: str) -> tuple[int, int]:
        p, rest = split_repeat(k)
        return (int(p) if p else 0, int(rest))

    out = []
    for k in sorted(keys, key=order):
        tx, vs = texts.get(k, {}), values.get(k, {})
        first = tx.get("一级指标", "")
        out.append(IndicatorRow(
            table, k, first, tx.get("二级指标", ""), tx.get("三级指标", ""),
            parse_target(tx.get("年度指标值", ""), cost="成本" in first),
            parse_actual(tx.get("实际完成值", "")), vs.get("分值"), vs.get("得分"), tx.get("偏差原因", "").strip()))
    return out


Locate = Callable[[str, str, str], str | None]


def check_indicators(spec: Spec, values: dict[str, dict[str, dict[str, Decimal]]],
                     texts: dict[str, dict[str, dict[str, str]]], locate: Locate | None = None) -> list[Finding]:
    """Findings of the 自评表 indicator tables (scores, weights, deviations) and the 附件 ties the
    rule language cannot state per project (附件3 per project; Σ 附件3 vs 附件1)."""
    out: list[Finding] = []
    where = locate or (lambda _t, _r, _c: None)
    for t in spec.tables.values():
        if t.kind != "form" or t.indicators is None:
            continue
        rows = indicator_rows(spec, t.id, values.get(t.id, {}), texts.get(t.id, {}))
        for row in rows:
            out.extend(_check_row(row, where))
        groups: dict[str, list[IndicatorRow]] = {}
        for row in rows:
            groups.setdefault(split_repeat(row.key)[0], []).append(row)
        for project, prow in groups.items():
            out.extend(_check_weights(t.id, project, prow, where))
            if t.repeat:
                total = Decimal(10) + sum((r.weight or Decimal(0) for r in prow), Decimal(0))
                if total != 100:
                    out.append(Finding("indicator-total-not-100", ERROR,
                                       f"{t.id} 项目{project} 分值合计（执行率10分 + 各指标分值）应为 100，实为 {fmt(total)}",
                                       table=t.id, row=f"{project}:总分", col="分值", cell=where(t.id, f"{project}:总分", "分值"),
                                       expected="100", actual=fmt(total)))
    out.extend(_check_project_budget(spec, values))
    return out


def _label(row: IndicatorRow) -> str:
    return row.third or row.second or row.first or f"指标{row.key}"


def _check_row(row: IndicatorRow, where: Locate) -> list[Finding]:
    out: list[Finding] = []
    name = f"{row.table} 指标{row.key}（{_label(row)}）"
    loc: dict[str, Any] = {"table": row.table, "row": row.key}
    for what, ind in (("年度指标值", row.target), ("实际完成值", row.actual)):
        if not ind.parsed:
            out.append(Finding("indicator-unparsed", INFO,
                               f"{name} 的{what}“{ind.raw}”不是数值指标，也不是可判定的定性表述，按定性处理、未自动评分",
                               col=what, cell=where(row.table, row.key, "得分"), actual=ind.raw, **loc))
    if row.weight is None and row.score is None:
        return out
    weight = row.weight or Decimal(0)
    if row.score is None:
        out.append(Finding("indicator-score-missing", WARNING, f"{name} 有分值 {fmt(weight)} 但没有得分",
                           col="得分", cell=where(row.table, row.key, "得分"), expected=fmt(weight), **loc))
        return out
    score = row.score
    if score > weight:
        out.append(Finding("indicator-score-over", ERROR, f"{name} 得分 {fmt(score)} 超过分值 {fmt(weight)}",
                           col="得分", cell=where(row.table, row.key, "得分"), expected=f"≤ {fmt(weight)}",
                           actual=fmt(score), **loc))
        return out
    standard = rule_score(weight, row.target, row.actual)
    reached = met(row.target, row.actual)
    proportional = False
    if standard is not None and abs(score - standard) >= CENT:
        a = row.actual.value
        bound = row.target.high
        if (row.target.direction == REVERSE and reached and a is not None and bound
                and abs(score - weight * a / bound) < CENT):
            proportional = True
            out.append(Finding(
                "indicator-reverse-proportional", WARNING,
                f"{name} 为反向指标（{row.target.raw}），实际 {row.actual.raw} 已达成，却按 实际÷目标 比例计分 "
                f"{fmt(score)}（{fmt(weight)}×{fmt(a)}÷{fmt(bound)}）；按标准规则（达成即满分）应得 {fmt(weight)} 分",
                col="得分", cell=where(row.table, row.key, "得分"), expected=fmt(weight), actual=fmt(score), **loc))
        else:
            out.append(Finding(
                "indicator-score-mismatch", WARNING,
                f"{name} 得分 {fmt(score)} 与评分规则不符：{row.target.direction}指标 {row.target.raw or '（空）'}，"
                f"实际 {row.actual.raw or '（空）'}，应得 {fmt(standard.quantize(CENT))}",
                col="得分", cell=where(row.table, row.key, "得分"), expected=fmt(standard.quantize(CENT)),
                actual=fmt(score), **loc))
    if not row.reason and not proportional and (reached is False or score < weight):
        why = "实际未达到目标" if reached is False else f"得分 {fmt(score)} 低于分值 {fmt(weight)}"
        out.append(Finding("indicator-deviation-missing", WARNING, f"{name} {why}，须填写偏差原因分析及改进措施",
                           col="偏差原因", cell=where(row.table, row.key, "得分"), **loc))
    return out


def _check_weights(table: str, project: str, rows: list[IndicatorRow], where: Locate) -> list[Finding]:
    out: list[Finding] = []
    sums: dict[str, Decimal] = {}
    for r in rows:
        if r.first:
            sums[r.first] = sums.get(r.first, Decimal(0)) + (r.weight or Decimal(0))
    for label, total in sums.items():
        m = WEIGHT_RE.search(unicodedata.normalize("NFKC", label))
        if m and Decimal(m.group(1)) != total:
            p = f"项目{project} " if project else ""
            out.append(Finding("indicator-weight-mismatch", ERROR,
                               f"{table} {p}一级指标“{label}”标明 {m.group(1)} 分，其下各指标分值合计 {fmt(total)}",
                               table=table, row=f"{project}:总分" if project else "总分", col="分值",
                               expected=m.group(1), actual=fmt(total)))
    return out


def _check_project_budget(spec: Spec, values: dict[str, dict[str, dict[str, Decimal]]]) -> list[Finding]:
    """Σ 附件3 全年预算数 against 附件1 项目支出 本年预算 (both filled in): the projects evaluated
    should be the 项目支出 of the year; a gap is a 提示 (a unit may evaluate only its key projects)."""
    if "附件3" not in spec.tables or "附件1" not in spec.tables:
        return []
    a3, a1 = values.get("附件3", {}), values.get("附件1", {})
    if not a3 or not a1:
        return []
    total = sum((cols.get("全年预算数", Decimal(0)) for k, cols in a3.items()
                 if split_repeat(k)[0] and split_repeat(k)[1] in ("当年财政拨款", "上年结转资金", "其他资金")), Decimal(0))
    budget = sum((a1.get(r, {}).get("本年预算", Decimal(0)) for r in ("业务工作经费", "运行维护经费", "本级专项资金")),
                 Decimal(0))
    if abs(total - budget) > Decimal("0.005") * (len(a3) + 3):
        return [Finding("fujian3-budget-mismatch", WARNING,
                        f"附件3 各项目全年预算数合计 {fmt(total)} 与附件1 项目支出本年预算数 {fmt(budget)} 不一致",
                        table="附件3", col="全年预算数", expected=fmt(budget), actual=fmt(total))]
    return []


def project_names(texts: dict[str, dict[str, dict[str, str]]]) -> dict[str, str]:
    """附件3 project number -> 项目支出名称."""
    out = {}
    for k, cols in texts.get("附件3", {}).items():
        p, rest = split_repeat(k)
        if p and rest == "项目" and cols.get("名称"):
            out[p] = cols["名称"]
    return out


__all__ = ["Indicator", "IndicatorRow", "check_indicators", "indicator_rows", "met", "parse_actual", "parse_target",
           "project_names", "rule_score"]
