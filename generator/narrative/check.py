"""A written 第三部分 说明 checked against the figures.

Checking
--------
:func:`check_narrative` reads a written 说明 line by line. Rules (conservative: a number it cannot
tie to a figure is reported as info, never as an error):

* An amount ``…万元`` is tied to a figure when a known label stands right before it, optionally
  followed by a connector (``为``, ``是``, ``：``, ``支出``, and the measure words ``预算/年初预算/
  全年预算数/决算/决算支出/执行数``). A measure word with no label takes the label of the amount
  right before it in the same sentence when that one has the other measure
  (``…预算为1.90万元，支出决算为1.61万元``). Labels are the
  row and column names of the tables, the totals (收、支总计, 财政拨款收、支总计, 收入合计 …),
  人员经费/公用经费, the 公开06 economic names (only in lines about 基本支出/人员经费/公用经费)
  and the 三公 items; in lines about 政府性基金 or 国有资本经营 the words 收入, 支出, 基本支出,
  项目支出 and 结转和结余 refer to 公开07 and 公开08/04. A label names one or more figures; the
  amount passes if it equals any of them within 0.005.
* ``占X%`` right after an amount is that amount's share of ``占…的`` (a label, or an amount printed
  earlier in the same line under that name); a bare ``占X%`` is the share of the amount stated
  before the nearest ``其中``/``主要用于``/``主要包括``.
* ``完成预算的X%``, ``预算执行率X%``, ``控制率X%`` = the last 决算 amount / the last 预算 amount of
  the same sentence (0/0 counts as 100%).
* ``增加/减少 X万元`` and ``增长/降低 X%`` in a sentence about 上年 need last year's figures: with
  ``previous`` they are checked, without it they are info (unverifiable). The subject is the label
  right before the change word, or, with none written (``。与上年相比，减少…``), the amount stated
  just before. A rate is still checked against the change printed with it when the current amount
  is printed too: rate = change / (current ∓ change), a warning when it disagrees.
* Numbers after ``原因``/``是因为``/``由于`` in a sentence are about other things: not checked.
* A printed percentage passes if it is within 0.005 of the exact value (so either rounding of a tie).
* Malformed numbers: ``%%``, bad thousands grouping, two decimal points, ``为万元`` with no number.
* Severity: a mismatch against the tables is an error; one computed from printed numbers the checker
  could not tie to figures (a share of an untied total, a rate of untied amounts) is a warning.
"""


from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..core.dataset import Dataset
from ..core.findings import ERROR, INFO, WARNING, Finding
from ..core.money import ZERO, q2
from ..core.money import fmt as money_fmt
from ..core.spec import Spec
from .figures import (
    CLASS_NAMES,
    ECON_NAMES,
    HUNDRED,
    TOLERANCE,
    Budget,
    as_budget,
    class_name,
    default_format,
    econ_name,
    expr_ref,
    figure_measure,
    figure_ref,
    figure_value,
    named_figures,
)
from .performance import check_performance

# ---------------------------------------------------------------- checking: labels

Ref = tuple[str, str, str]  # table, row, col


@dataclass
class _Fig:
    value: Decimal | None
    previous: Decimal | None = None
    ref: Ref | None = None


@dataclass
class _Label:
    text: str
    desc: str
    actual: list[_Fig] = field(default_factory=list)
    budget: list[_Fig] = field(default_factory=list)
    budget_initial_only: bool = False  # budget figures are 年初预算 (not 全年/调整后)


def _variants(text: str) -> set[str]:
    out = {text}
    for a, b in (("“", '"'), ("”", '"'), ("（", "("), ("）", ")")):
        out |= {v.replace(a, b) for v in out}
    out |= {v.replace("“", "").replace("”", "").replace('"', "") for v in out}
    return out


def _where(spec: Spec | None, name: str) -> str:
    """The tables a named figure is read from, as the 说明's reader knows them (附表1)."""
    if spec is None or name not in spec.figures:
        return ""
    from ..core.expr import Context, compile_expr, terms

    return "、".join(dict.fromkeys(t.table for t in terms(compile_expr(spec.figures[name], spec, Context()))))


_COUNT_UNITS = "辆|台（套）|台\\(套\\)|台|套|个|人次|人"


def check_counts(text: str, ds: Dataset, spec: Spec | None) -> list[Finding]:
    """Counts the 说明 states after a named count figure (``共有车辆1辆``, ``机要通信用车1辆``,
    ``单位价值100万元以上设备（不含车辆）0台（套）``) against the figure."""
    out: list[Finding] = []
    named = named_figures(spec, ds)
    for name, value in named.items():
        if figure_measure(spec, name) != "count":
            continue
        pattern = re.compile(re.escape(name) + r"(?:（[^）]{1,8}）)?(?:为|共|有)?\s*(\d+)\s*(" + _COUNT_UNITS + ")")
        for lineno, line in enumerate(text.splitlines(), 1):
            for m in pattern.finditer(line):
                if Decimal(m.group(1)) != value:
                    out.append(Finding(
                        "narrative-count-mismatch", ERROR,
                        f"第{lineno}行：“{name}”{m.group(1)}{m.group(2)}与{_where(spec, name)}的{value}{m.group(2)}不符。"
                        f"原句：“{line.strip()[:120]}”",
                        expected=str(value), actual=m.group(1)))
    return out


class _Labels:
    """The label table: label text -> figures, for the base scope and the special scopes."""

    def __init__(self, ds: Dataset, previous: Dataset | None, budget: Budget, spec: Spec | None = None):
        self.ds, self.previous = ds, previous
        self.scopes: dict[str, dict[str, _Label]] = {"base": {}, "basic": {}, "fund": {}, "soe": {}}
        self._merged: dict[tuple[bool, str], dict[str, _Label]] = {}
        self.spec = spec  # check_narrative resolved it (the bundled format when none was given)
        self.shares: dict[str, tuple[list[Decimal], str]] = {}  # words -> (the shares they state, where)
        self.named = {name: v for name, v in named_figures(spec, ds).items() if figure_measure(spec, name) == "money"}
        self._build(budget)
        # the format's other named figures (十–十三): each name is its own label, as the 说明 writes it
        named_prev = named_figures(spec, previous) if previous is not None else {}
        worded = {w for lab in (spec.labels if spec is not None else []) for w in lab.words}
        for name, value in self.named.items():
            if name == "机关运行经费" or name in worded:
                continue  # 机关运行经费: added in _build (with 上年机关运行经费 as its last year)
            self.add("base", name, f"{_where(spec, name)} {name}", [_Fig(value, named_prev.get(name))])

    def fig(self, table: str, row: str, col: str) -> _Fig:
        prev = self.previous.get(table, row, col) if self.previous is not None else None
        return _Fig(self.ds.get(table, row, col), prev, (table, row, col))

    def add(self, scope: str, texts: str | list[str], desc: str, actual: list[_Fig],
            budget: list[_Fig] | None = None, initial_only: bool = False) -> None:
        for text in [texts] if isinstance(texts, str) else texts:
            for v in _variants(text):
                lab = self.scopes[scope].get(v)
                if lab is None:
                    lab = self.scopes[scope][v] = _Label(v, desc, budget_initial_only=initial_only)
                else:
                    lab.desc = f"{lab.desc}／{desc}" if desc not in lab.desc else lab.desc
                lab.actual.extend(actual)
                lab.budget.extend(budget or [])

    def _build(self, b: Budget) -> None:
        """The labels the format's spec gives (figures.yaml's labels), the 类 and 款 names of its
        tables, then what the budget file gives (机关运行经费 without 附表1, the projects)."""
        base = "base"
        if self.spec is not None and self.spec.labels:
            self._spec_labels(self.spec, b)
        if "机关运行经费" in self.named:
            self.add(base, ["机关运行经费", "机关运行经费支出"], f"{_where(self.spec, '机关运行经费')} 机关运行经费",
                     [_Fig(self.named["机关运行经费"], self.named.get("上年机关运行经费"))])
        elif b.admin_cost is not None:
            self.add(base, "机关运行经费", "机关运行经费（预算数据）", [_Fig(b.admin_cost, b.admin_cost_previous)])
        else:
            self.add(base, "机关运行经费", "机关运行经费", [])
        for p in b.projects:
            if len(p.name) >= 4:
                self.add(base, p.name, f"项目“{p.name}”（预算数据）",
                         [_Fig(p.actual)] if p.actual is not None else [],
                         [_Fig(p.initial)] if p.initial is not None else [], initial_only=True)

    def _spec_fig(self, text: str, figures: Any, before: Any, zero: bool) -> _Fig:
        """A figure of the spec's labels (a name of its figures or an expression), now and last year."""
        spec = self.spec
        assert spec is not None
        expr = spec.figures.get(text, text)
        value = figure_value(spec, self.ds, expr, figures)
        prev = figure_value(spec, self.previous, expr, before) if self.previous is not None else None
        if zero and value is None:
            value = ZERO  # 公开07/08 are blank when a unit has no such funds: blank means zero
        ref = expr_ref(spec, expr)
        return _Fig(value, prev, ref)

    def _spec_labels(self, spec: Spec, b: Budget) -> None:
        from ..core.model import Figures

        figures = Figures(spec, self.ds.values)
        before = Figures(spec, self.previous.values) if self.previous is not None else None
        initial = [_Fig(b.initial_total)] if b.initial_total is not None else []
        for lab in spec.labels:
            if all(figure_measure(spec, t) == "percent" for t in lab.figures if t in spec.figures) and all(
                    t in spec.figures for t in lab.figures):
                self._share_label(spec, lab.words, lab.figures, figures)
                continue
            zero = lab.scope in ("fund", "soe")
            actual = [self._spec_fig(t, figures, before, zero) for t in lab.figures]
            budget = initial if lab.initial else [self._spec_fig(t, figures, before, zero) for t in lab.budget]
            where = "、".join(dict.fromkeys(f.ref[0] for f in actual if f.ref is not None))
            self.add(lab.scope, lab.words, f"{where} {lab.words[0]}".strip(), actual, budget, initial_only=lab.initial)
        self._class_labels(spec)
        self._econ_labels(spec)

    def _share_label(self, spec: Spec, words: list[str], names: list[str], figures: Any) -> None:
        """Words a percentage follows directly (货物采购授予中小企业合同金额占货物支出金额的): the share
        the named percent figures hold (fractions; blank is unknown)."""
        values = [v for v in (figure_value(spec, self.ds, spec.figures[n], figures) for n in names) if v is not None]
        for w in words:
            self.shares[w.translate(_FULLWIDTH)] = (values, f"{_where(spec, names[0])} {names[0]}")

    def _class_labels(self, spec: Spec) -> None:
        """A 类 name (一般公共服务支出 …): its row in the tables of 一般公共预算财政拨款支出 and
        支出合计 (by code) and in the table of 本年支出合计 (the fixed row carrying that code)."""
        by_code = [ref for ref in (figure_ref(spec, n) for n in ("一般公共预算财政拨款支出", "支出合计")) if ref]
        fixed = figure_ref(spec, "本年支出合计")
        coded: dict[str, str] = {}
        if fixed is not None:
            t = spec.tables[fixed[0]]
            coded = {r.code: r.key for _b, r in t.fixed_rows() if r.code}
        for code in sorted(set(CLASS_NAMES) | {c for t, _r, _c in by_code for c in self.ds.values.get(t, {}) if len(c) == 3}):
            name = class_name(self.ds, code)
            figs = [self.fig(t, code, col) for t, _row, col in by_code]
            if fixed is not None and code in coded:
                figs.append(self.fig(fixed[0], coded[code], fixed[2]))
            self.add("base", name, f"{code} {name}", figs)

    def _econ_labels(self, spec: Spec) -> None:
        """公开06's economic names (the table of 人员经费): only in lines about 基本支出 / 人员经费 / 公用经费."""
        where = figure_ref(spec, "人员经费")
        if where is None:
            return
        table, _row, col = where
        codes = set(ECON_NAMES) | set(self.ds.values.get(table, {}))
        for code in sorted(c for c in codes if c.isdigit() and c.startswith("3")):
            name = econ_name(self.ds, code)
            names = [name] + (["对个人和家庭的补助支出"] if code == "303" else [])
            self.add("basic", names, f"{table} {code} {name}", [self.fig(table, code, col)])

    def table(self, basic: bool, special: str) -> dict[str, _Label]:
        key = (basic, special)
        if key not in self._merged:
            merged = dict(self.scopes["base"])
            if basic:
                for text, lab in self.scopes["basic"].items():
                    if text in merged:
                        merged[text] = _Label(text, f"{merged[text].desc}／{lab.desc}",
                                              merged[text].actual + lab.actual, merged[text].budget,
                                              merged[text].budget_initial_only)
                    else:
                        merged[text] = lab
            if special:
                merged.update(self.scopes[special])
            self._merged[key] = merged
        return self._merged[key]


# ---------------------------------------------------------------- checking: text patterns

_FULLWIDTH = str.maketrans("０１２３４５６７８９％．", "0123456789%.")
_AMOUNT = re.compile(r"(?<![\d.])(?<!\d,)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*万元")
_THRESHOLD_AFTER = re.compile(r"^(?:以上|以下|以内|及以上|及以下)")
_PERCENT = re.compile(r"(?<![\d.])(?<!\d,)(\d+(?:\.\d+)?)\s*%")
_MALFORMED = [
    (re.compile(r"\d(?:[\d.,]*\d)?\s*%\s*%"), "百分号重复"),
    (re.compile(r"(?<![\d.])\d+\.\d+(?:\.\d+)+\s*(?:万元|%)"), "数字中有多个小数点"),
    (re.compile(r"(?<![\d.,])\d+(?:,\d+)+(?:\.\d+)?\s*(?:万元|%)"), "千分位分隔错误"),
    (re.compile(r"(?:为|是)\s*万元"), "缺少金额"),
]
_GOOD_GROUPING = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*(?:万元|%)$")
_CONNECTOR = re.compile(
    r"(?:[（(][类款项][）)])?[：:]?\s*(?:支出|费用)?"
    r"(?:(?P<budget>(?:年初安排|年初|全年|调整后|安排)?预算数?|合计安排|安排)"
    r"|(?P<actual>决算支出数?|支出决算数?|决算数?|执行数|实际支出))?"
    r"(?:为|是|达到?|共计|合计)?\s*"
)
_CHANGE_WORD = re.compile(r"(增加|减少|增长|下降|降低|调增|调减|上升|节约|超支)了?\s*$")
_UP_WORDS = ("增加", "增长", "调增", "上升", "超支")
_SHARE = re.compile(
    r"占(?:比[例重]?(?:为|是)?|(?P<base>[^，。；,;：:%\d]{1,24}?)的(?:比[例重])?(?:为|是)?)?\s*$"
)
_RATE = re.compile(
    r"(?:完成(?P<initial>年初)?(?:全年)?预算(?:数)?的|(?:预算)?执行率|控制率|完成率)(?:为|是|达到?)?\s*$"
)
_RATE_CHANGE = re.compile(r"(增长|增加|上升|提高|降低|下降|减少)了?\s*$")
_HEAD_MARKER = re.compile(r"其中|主要用于|主要包括")
_REASON_MARKER = re.compile(r"原因|是因为|由于")
_VS_LAST = re.compile(r"同比|(?:与|比|较)(?:上年|上一年|\d{4}\s*年)度?(?:决算数?)?(?:相比|比较)?")
_VS_LAST_TAIL = re.compile(r"(?:" + _VS_LAST.pattern + r")[\s，,]*$")
_PCT_CLAUSE = re.compile(r"[^，,；;。]*\d+(?:\.\d+)?\s*%")
_SEPARATORS = "，,。；;、：: \t"
_GAP = re.compile(r"[\s，,。；;、]*")
_HEADING = re.compile(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|第[一二三四五六七八九十]+部分)")
_LEFT_OK = re.compile(r"(?:^|[^\u4e00-\u9fff]|年度|年|其中|包括|用于|部门|单位|以及|和|及|开支)$")
_SPECIAL_LINE = {
    "fund": re.compile(r"^\s*(?:\d{4}\s*年度?\s*)?(?:本(?:部门|单位))?\s*政府性基金"),
    "soe": re.compile(r"^\s*(?:\d{4}\s*年度?\s*)?(?:本(?:部门|单位))?\s*国有资本经营"),
}
_SPECIAL_WORD = {"fund": "政府性基金", "soe": "国有资本经营"}
_BASIC_WORDS = ("基本支出", "人员经费", "公用经费")


def _change_pairs(figs: list[_Fig], up: bool) -> list[tuple[Decimal, Decimal]]:
    """(change, last year's figure) of each figure with both years: the base of a growth rate."""
    out = []
    for f in figs:
        if f.value is not None and f.previous is not None:
            out.append(((f.value - f.previous) if up else (f.previous - f.value), f.previous))
    return out


def _num(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def _summed(ref: Ref | None) -> int:
    """How many typed-in figures a table figure adds up (1 for a typed-in one): the n of its
    rounding band. Formulas of the bundled spec of the year (the narrative has no other)."""
    if ref is None:
        return 1
    from ..core.catalog import default_specs_dir, load_spec
    from ..core.expr import cell_formula, compile_expr, count_terms
    from ..core.spec import SpecInvalid

    try:
        if not _SPEC:
            _SPEC.append(load_spec(default_specs_dir()))
        spec = _SPEC[0]
    except SpecInvalid:
        return 1
    t = spec.tables.get(ref[0])
    if t is None:
        return 1
    found = t.row(ref[1])
    if found is None:
        return 1
    formula = cell_formula(t, found[0].id, ref[1], ref[2])
    if formula is None:
        return 1
    return 1 + count_terms(compile_expr(formula[0], spec, formula[1]))


_SPEC: list[Any] = []


def _close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= TOLERANCE


def _s(value: Decimal) -> str:
    return money_fmt(value, thousands=True)


@dataclass
class _Amt:
    start: int
    end: int
    value: Decimal
    sentence: int
    label: _Label | None = None
    measure: str | None = None  # "actual" | "budget"
    initial: bool = False
    direction: int = 0  # +1 / -1 for a change amount (增加/减少)
    values: list[Decimal] = field(default_factory=list)  # the value and the figures it stands for
    tied: bool = False  # equal to a figure
    current: list[Decimal] = field(default_factory=list)  # change amounts: the current figure(s)


class _Checker:
    def __init__(self, ds: Dataset, previous: Dataset | None, budget: Budget, spec: Spec | None = None):
        self.labels = _Labels(ds, previous, budget, spec)
        self.has_previous = previous is not None
        # words that make a 增加/减少 a change on last year
        self.last_year_words = ("上年", "上一年") + ((f"{ds.year - 1}年",) if ds.year else ())
        self.findings: list[Finding] = []

    # ------------------------------------------------------------ driver

    def run(self, text: str) -> list[Finding]:
        heading = ""
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.translate(_FULLWIDTH)
            stripped = line.strip()
            if not stripped:
                continue
            if _HEADING.match(stripped) and len(stripped) <= 40 and not _AMOUNT.search(stripped):
                heading = stripped
                continue
            self._line(line, lineno, heading)
        return self.findings

    def _line(self, line: str, lineno: int, heading: str) -> None:
        self.line, self.lineno = line, lineno
        self.bounds = [0] + [m.end() for m in re.finditer(r"[。！？!?]", line)] + [len(line) + 1]
        context = heading + line
        basic = any(w in context for w in _BASIC_WORDS)
        special = ""
        for scope, word in _SPECIAL_WORD.items():
            if word in heading or _SPECIAL_LINE[scope].match(line):
                special = scope
                break
        self.table = self.labels.table(basic, special)
        self.label_lengths = sorted({len(t) for t in self.table}, reverse=True)

        for m, why in ((m, why) for rx, why in _MALFORMED for m in rx.finditer(line)):
            if why == "千分位分隔错误" and _GOOD_GROUPING.match(m.group(0)):
                continue
            self._finding("narrative-malformed-number", ERROR, m.start(),
                          f"数字格式错误“{m.group(0).strip()}”（{why}）", actual=m.group(0).strip())

        tokens: list[tuple[int, str, re.Match[str]]] = [
            (m.start(), "amount", m) for m in _AMOUNT.finditer(line)
            if not _THRESHOLD_AFTER.match(line[m.end():])
        ]
        tokens += [(m.start(), "percent", m) for m in _PERCENT.finditer(line)]
        self.amounts: list[_Amt] = []
        for _, kind, m in sorted(tokens, key=lambda t: t[0]):
            if kind == "amount":
                self.parse_amount(m)
            else:
                self._percent(m)

    # ------------------------------------------------------------ helpers

    def _sentence_index(self, pos: int) -> int:
        for i in range(len(self.bounds) - 1):
            if self.bounds[i] <= pos < self.bounds[i + 1]:
                return i
        return len(self.bounds) - 2

    def _quote(self, pos: int) -> str:
        starts = [0] + [m.end() for m in re.finditer(r"[。；;！？!?]", self.line)]
        start = max(s for s in starts if s <= pos)
        end_m = re.compile(r"[。；;！？!?]").search(self.line, pos)
        end = end_m.end() if end_m else len(self.line)
        return re.sub(r"\s+", " ", self.line[start:end]).strip()

    def _finding(self, code: str, severity: str, pos: int, what: str, *, ref: Ref | None = None,
                 expected: str | None = None, actual: str | None = None) -> None:
        sentence = self._quote(pos)
        table, row, col = ref if ref else (None, None, None)
        self.findings.append(Finding(
            code=code, severity=severity,
            message=f"第{self.lineno}行：{what}。原句：“{sentence}”",
            table=table, row=row, col=col, expected=expected, actual=actual,
            extra={"line": self.lineno, "sentence": sentence},
        ))

    def _label_ending_at(self, text: str, k: int) -> _Label | None:
        for length in self.label_lengths:
            if length > k:
                continue
            lab = self.table.get(text[k - length:k])
            if lab is not None and _LEFT_OK.search(text[: k - length]):
                return lab
        return None

    def _resolve(self, before: str) -> tuple[_Label | None, str | None, bool]:
        """The label and measure standing right before an amount: (label, measure, 年初)."""
        fallback: tuple[str | None, bool] = (None, False)
        for k in range(len(before), max(-1, len(before) - 16), -1):
            conn = _CONNECTOR.fullmatch(before, k)
            if conn is None:
                continue
            measure = "budget" if conn.group("budget") else "actual" if conn.group("actual") else None
            initial = "年初" in (conn.group("budget") or "")
            if measure:
                fallback = (measure, initial)
            lab = self._label_ending_at(before, k)
            if lab is not None:
                return lab, measure, initial
        return None, fallback[0], fallback[1]

    def _carried_subject(self, amt: _Amt, measure: str) -> _Label | None:
        """``…预算为1.90万元，支出决算为1.61万元``: a measure word with no label of its own takes the
        label of the amount right before it in the same sentence, when that one has the other measure."""
        prior = self.amounts[-2] if len(self.amounts) >= 2 else None
        if (prior is None or prior.sentence != amt.sentence or prior.label is None or prior.direction
                or prior.measure == measure):
            return None
        return prior.label

    def _adjacent(self, amt: _Amt, pos: int) -> bool:
        """Only punctuation, 与上年相比 and percentage clauses between amt and pos."""
        return bool(_GAP.fullmatch(_VS_LAST.sub("", _PCT_CLAUSE.sub("", self.line[amt.end:pos]))))

    def _about_last_year(self, sentence: int, pos: int) -> bool:
        text = self.line[self.bounds[sentence]: pos]
        return any(w in text for w in self.last_year_words)

    def _in_reason(self, pos: int) -> bool:
        """Numbers after 主要原因/是因为 in a sentence tell a story about other figures: not checked."""
        start = self.bounds[self._sentence_index(pos)]
        return _REASON_MARKER.search(self.line, start, pos) is not None

    def _figures(self, lab: _Label, measure: str, initial: bool) -> list[_Fig]:
        if measure == "budget":
            if lab.budget_initial_only and not initial:
                return []
            return [f for f in lab.budget if f.value is not None]
        return [f for f in lab.actual if f.value is not None]

    # ------------------------------------------------------------ amounts

    def parse_amount(self, m: re.Match[str]) -> None:
        value = _num(m.group(1) + (m.group(2) or ""))
        pos = m.start()
        sentence = self._sentence_index(pos)
        amt = _Amt(m.start(), m.end(), value, sentence, values=[value])
        self.amounts.append(amt)
        before = self.line[:pos]
        printed = f"{m.group(1)}{m.group(2) or ''}万元"

        if self._in_reason(pos):
            self._finding("narrative-unmatched", INFO, pos, f"{printed}位于原因说明中，未核对", actual=_s(value))
            return
        cw = _CHANGE_WORD.search(before)
        if cw:
            self._change_amount(amt, before[: cw.start()], cw.group(1), printed)
            return

        lab, measure, initial = self._resolve(before)
        if lab is None and measure:
            lab = self._carried_subject(amt, measure)
        amt.label, amt.measure, amt.initial = lab, measure or ("actual" if lab else None), initial
        if lab is None:
            self._finding("narrative-unmatched", INFO, pos, f"{printed}未能对应到表中数字", actual=_s(value))
            return
        self._check_amount(amt, lab, initial, printed)

    def _check_amount(self, amt: _Amt, lab: _Label, initial: bool, printed: str) -> None:
        """An amount tied to its label: the figure (or a sum within its rounding band), else a mismatch."""
        value, pos = amt.value, amt.start
        measure = amt.measure or "actual"
        figs = self._figures(lab, measure, initial)
        what = f"“{lab.text}”{'预算数' if measure == 'budget' else ''}{printed}"
        if not figs:
            if measure == "budget":
                why = ("预算数据只有年初预算数" if lab.budget else "未提供预算数据") if lab.budget_initial_only \
                    else "决算表中无此预算数"
            else:
                why = "未提供预算数据" if not lab.actual or lab.actual[0].ref is None else "表中无此数"
            self._finding("narrative-unverifiable", INFO, pos, f"{what}无法核对（{why}）", actual=_s(value))
            return
        matched = [f for f in figs if _close(f.value, value)]  # type: ignore[arg-type]
        if matched:
            amt.tied = True
            amt.values = [value] + [f.value for f in matched if f.value is not None]
            return
        amt.values = [value] + [f.value for f in figs if f.value is not None]
        for f in figs:
            n = _summed(f.ref)
            if f.value is not None and n > 1 and abs(f.value - value) <= TOLERANCE * n:
                # the table's figure is a sum of n rounded figures, each ±0.005: the published text may
                # print the sum rounded on its own (人员经费 925.85 where 301 + 303 add up to 925.86)
                amt.tied = True
                self._finding("narrative-rounding", INFO, pos,
                              f"{what}与{lab.desc}的{_s(f.value)}万元相差 {_s(abs(f.value - value))}，在 {n} 个数相加的"
                              f"尾数误差范围（±{money_fmt(TOLERANCE * n)}）内", ref=f.ref, expected=_s(f.value), actual=_s(value))
                return
        expected = figs[0]
        self._finding(
            "narrative-amount-mismatch", ERROR, pos,
            f"{what}与{lab.desc}的{_s(expected.value)}万元不符",  # type: ignore[arg-type]
            ref=expected.ref, expected=_s(expected.value), actual=_s(value),  # type: ignore[arg-type]
        )

    def _change_amount(self, amt: _Amt, before: str, word: str, printed: str) -> None:
        amt.direction = 1 if word in _UP_WORDS else -1
        pos = amt.start
        if not self._about_last_year(amt.sentence, pos):
            self._finding("narrative-unmatched", INFO, pos, f"{word}{printed}未能对应到表中数字",
                          actual=_s(amt.value))
            return
        # The subject: a label right before the change word ("财政拨款支出（比上年）减少"); with no
        # subject written ("。与上年相比，减少"), the amount stated before, in the same sentence or
        # across only punctuation, 与上年相比 and percentages.
        figs = self._change_subject(amt, before)
        with_prev = [f for f in figs if f.previous is not None]
        if not with_prev:
            why = "未提供上年数据" if not self.has_previous else "上年数据中无此数"
            self._finding("narrative-unverifiable", INFO, pos, f"与上年相比{word}{printed}无法核对（{why}）",
                          actual=_s(amt.value))
            return
        diffs = [f.value - f.previous for f in with_prev]  # type: ignore[operator]
        if any(_close(abs(d), amt.value) and (d == 0 or (d > 0) == (amt.direction > 0)) for d in diffs):
            amt.tied = True
            amt.current = [f.value for f in with_prev if f.value is not None]
            return
        d = diffs[0]
        right = f"{'增加' if d > 0 else '减少'}{_s(abs(d))}万元" if d else "持平"
        self._finding("narrative-amount-mismatch", ERROR, pos,
                      f"与上年相比{word}{printed}与上年数据不符，应为{right}",
                      ref=with_prev[0].ref, expected=right, actual=f"{word}{printed}")

    def _change_subject(self, amt: _Amt, before: str) -> list[_Fig]:
        """The figures a change is about: a label right before the change word, else the amount stated
        before (same sentence, or across only punctuation); ``amt.current`` set to what is printed."""
        subject_text = _VS_LAST_TAIL.sub("", before)
        lab = self._label_ending_at(subject_text, len(subject_text))
        figs: list[_Fig] = [f for f in lab.actual if f.value is not None] if lab else []
        if figs:
            # the rate is checked against the printed change only when the current amount is printed
            # too: a 公开06 item, say, may be written about all funds, not 基本支出 alone
            stated = next((a for a in reversed(self.amounts[:-1]) if a.label is lab and a.tied), None)
            amt.current = list(stated.values) if stated else []
        elif not subject_text or subject_text[-1] in _SEPARATORS:
            last = next((a for a in reversed(self.amounts[:-1])
                         if not a.direction and a.measure != "budget"), None)
            if last is not None and (last.sentence == amt.sentence or self._adjacent(last, len(before))):
                amt.current = list(last.values)
                lab = last.label if last.tied else None
                figs = [f for f in lab.actual if f.value is not None] if lab else []
        return figs

    # ------------------------------------------------------------ percentages

    def _percent(self, m: re.Match[str]) -> None:
        value = Decimal(m.group(1))
        pos = m.start()
        before = self.line[:pos]
        printed = f"{m.group(1)}%"
        if self._in_reason(pos):
            return  # percentages in a reason are about other things; only amounts are reported there
        named = next(((w, got) for w, got in self.labels.shares.items() if before.rstrip().endswith(w)), None)
        if named is not None:
            self._named_share(value, pos, printed, named[0], *named[1])
            return
        share = _SHARE.search(before)
        if share:
            self._share(value, pos, printed, share)
            return
        rate = _RATE.search(before)
        if rate:
            self._rate(value, pos, printed, bool(rate.group("initial")))
            return
        rc = _RATE_CHANGE.search(before)
        if rc:
            self._rate_change(value, pos, printed, rc)

    def _named_share(self, value: Decimal, pos: int, printed: str, words: str, shares: list[Decimal], where: str) -> None:
        """A percentage right after a share label's words: the share the spec's figure holds."""
        if not shares:
            self._finding("narrative-unmatched", INFO, pos, f"{words}{printed}：表中没有{where}", actual=printed)
            return
        if any(_close(s * HUNDRED, value) for s in shares):
            return
        expected = q2(shares[0] * HUNDRED)
        self._finding("narrative-percent-mismatch", ERROR, pos, f"{words}{printed}与{where}的{expected:.2f}%不符",
                      expected=f"{expected:.2f}%", actual=printed)

    def _amount_just_before(self, pos: int) -> _Amt | None:
        for a in reversed(self.amounts):
            if a.end <= pos:
                return a if re.fullmatch(r"[\s，,、（(]*", self.line[a.end:pos]) else None
        return None

    def _check_percent(self, value: Decimal, pos: int, printed: str, kind: str,
                       pairs: list[tuple[Decimal, Decimal]], strong: bool, basis: str) -> bool:
        """True when value is within tolerance of any num/den pair (0/0 may be 0% or 100%)."""
        expected: Decimal | None = None
        for num, den in pairs:
            if den == 0:
                if num == 0:  # 0 of 0: the reports write 100.00% (or 0.00%)
                    if value in (ZERO, HUNDRED):
                        return True
                    expected = expected if expected is not None else HUNDRED
                continue
            exact = num * HUNDRED / den
            if _close(exact, value):
                return True
            expected = expected if expected is not None else q2(exact)
        if expected is None:
            self._finding("narrative-unmatched", INFO, pos, f"{kind}{printed}无法计算（分母为零）",
                          actual=printed)
            return False
        self._finding("narrative-percent-mismatch" if strong else "narrative-percent-doubtful", ERROR if strong else WARNING, pos,
                      f"{kind}{printed}与按{basis}计算的{expected:.2f}%不符",
                      expected=f"{expected:.2f}%", actual=printed)
        return False

    def _share(self, value: Decimal, pos: int, printed: str, share: re.Match[str]) -> None:
        num = self._amount_just_before(share.start())
        kind = f"占{share.group('base') or ''}{'的' if share.group('base') else ''}"
        if num is None:
            self._finding("narrative-unmatched", INFO, pos, f"{kind}{printed}未找到所占金额", actual=printed)
            return
        base = (share.group("base") or "").strip()
        dens: list[Decimal] = []
        strong = num.tied
        if base:
            lab = self.table.get(base)
            if lab is not None:
                dens = [f.value for f in lab.actual if f.value is not None]
            else:
                strong = False
                found = re.search(re.escape(base) + r"[^，。；%\d]{0,6}?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*万元",
                                  self.line[:pos])
                if found:
                    dens = [_num(found.group(1) + (found.group(2) or ""))]
            basis = f"“{base}”"
        else:
            markers = [mk for mk in _HEAD_MARKER.finditer(self.line, 0, share.start())]
            head = None
            if markers:
                cut = markers[-1].start()
                head = next((a for a in reversed(self.amounts) if a.end <= cut), None)
            if head is not None:
                dens = list(head.values)
                strong = strong and head.tied
            basis = "句首合计数"
        if not dens:
            self._finding("narrative-unmatched", INFO, pos, f"{kind}{printed}未找到比较基数", actual=printed)
            return
        pairs = [(n, d) for n in num.values for d in dens]
        self._check_percent(value, pos, printed, kind, pairs, strong, f"{_s(num.value)}万元÷{basis}")

    def _rate(self, value: Decimal, pos: int, printed: str, initial: bool) -> None:
        sentence = self._sentence_index(pos)
        here = [a for a in self.amounts if a.sentence == sentence and not a.direction and a.end <= pos]
        budgets = [a for a in here if a.measure == "budget"]
        if initial and any(a.initial for a in budgets):
            budgets = [a for a in budgets if a.initial]
        budget = budgets[-1] if budgets else None
        actual = next((a for a in reversed(here) if a.measure == "actual" and budget and a.start > budget.start),
                      None)
        kind = "完成预算比例"
        if budget is None or actual is None:
            self._finding("narrative-unmatched", INFO, pos, f"{kind}{printed}未找到同句的预算数和决算数",
                          actual=printed)
            return
        pairs = [(n, d) for n in actual.values for d in budget.values]
        self._check_percent(value, pos, printed, kind, pairs, actual.tied and budget.tied,
                            f"{_s(actual.value)}万元÷{_s(budget.value)}万元")

    def _rate_change(self, value: Decimal, pos: int, printed: str, rc: re.Match[str]) -> None:
        word = rc.group(1)
        kind = f"与上年相比{word}"
        sentence = self._sentence_index(pos)
        if not self._about_last_year(sentence, pos):
            self._finding("narrative-unmatched", INFO, pos, f"{word}{printed}未能对应到表中数字", actual=printed)
            return
        diff = self._amount_just_before(rc.start())
        if diff is not None and diff.direction:
            # rate = change / last year's amount, last year's = current - (+/-) change
            pairs = [(diff.value, cur - diff.direction * diff.value) for cur in diff.current]
            if not pairs:
                self._finding("narrative-unverifiable", INFO, pos, f"{kind}{printed}无法核对（未找到本年数）",
                              actual=printed)
                return
            ok = self._check_percent(value, pos, printed, kind, pairs, diff.tied,
                                     f"增减额{_s(diff.value)}万元÷上年数")
            if ok and not diff.tied:
                why = "未提供上年数据" if not self.has_previous else "上年数据中无此数"
                self._finding("narrative-unverifiable", INFO, pos,
                              f"{kind}{printed}与文中增减额一致，但无法与上年决算核对（{why}）", actual=printed)
            return
        # No change amount printed: the rate of the amount stated just before, against last year.
        subject = next((a for a in reversed(self.amounts)
                        if a.sentence == sentence and a.tied and a.label and not a.direction), None)
        if subject is not None and not self._adjacent(subject, rc.start()):
            subject = None
        figs = [f for f in subject.label.actual if f.value is not None and f.previous is not None] \
            if subject and subject.label else []
        if not figs:
            why = "未提供上年数据" if not self.has_previous else "未找到对应的本年数和上年数"
            self._finding("narrative-unverifiable", INFO, pos, f"{kind}{printed}无法核对（{why}）", actual=printed)
            return
        up = word in ("增长", "增加", "上升", "提高")
        pairs = _change_pairs(figs, up)
        self._check_percent(value, pos, printed, kind, pairs, True, "本年数与上年决算数")


def check_narrative(
    text: str,
    ds: Dataset,
    previous: Dataset | None = None,
    budget: Budget | Mapping[str, Any] | None = None,
    spec: Spec | None = None,
) -> list[Finding]:
    """Check every amount and percentage of a written 说明 against the figures (rules: module doc),
    and the 绩效自评 得分/等级/执行率 and project lists against the 附件 (:mod:`.performance`).
    ``spec``: the format, whose named figures and labels tie the words (default: the bundled format
    of the data's year), for the amounts and the counts alike."""
    spec = spec if spec is not None else default_format(ds)
    return (_Checker(ds, previous, as_budget(budget), spec).run(text) + check_counts(text, ds, spec)
            + check_performance(text, ds))

