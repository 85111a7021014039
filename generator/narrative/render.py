"""第三部分 决算情况说明 rendered from the figures.

Rendering
---------
:func:`render_narrative` fills ``templates/narrative/shuoming.{md,html}.j2`` with the context of
:func:`build_context`: sections 一 to 十 in the sentence shapes of the published reports, every
amount and percentage computed from the figures (Decimal, rounded half up to 2 decimals). What only
a person can write is a marked slot ``【待填：…】``; so are numbers whose data were not given
(上年数 without ``previous``, 年初预算数 without ``budget``).

Reasons file (YAML), keyed by section; nested mappings are flattened with dots, so
``七: {一: {预算: …}}`` is the same as ``七.一.预算: …``. The keys are :data:`REASON_SLOTS`
(``juesuan narrative --reasons-template`` prints a skeleton)::

    一: 2023年度建设项目评审室，2024年度已完工，相应支出减少
    四: 同上
    五.一: 同上
    七.一.预算: 厉行节约，公车使用频率减少
    七.一.上年: 公车使用年限长，维修费用增加
    七.二.运行.情况: 截止2024年12月31日，我单位开支财政拨款的公务用车保有量为1辆
    十: 本单位无机关运行经费

Budget file (YAML or JSON): what the nine tables do not carry. All keys optional; amounts in 万元,
written as strings ("184.00") or numbers. The 三公 budget comes from 公开09 columns 1-6::

    年初预算数: "2314.68"        # 一般公共预算财政拨款支出年初预算数（五（三））
    项目:                         # 五（三）各项目执行情况
      - {名称: 长沙市企业服务中心工作经费, 年初预算: "184", 决算: "178.84"}
    机关运行经费: {本年: "0.00", 上年: "0.00"}   # 十
"""


from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..core.dataset import DataError, Dataset
from ..core.money import ZERO
from ..core.resources import templates_root
from ..core.spec import Spec
from .figures import (
    HUNDRED,
    INCOME_ITEMS,
    PERSONNEL_PREFIXES,
    SANGONG,
    SPENDING_ITEMS,
    Budget,
    _compare_word,
    _money,
    _pct,
    as_budget,
    change,
    class_name,
    completion,
    default_format,
    econ_name,
    figure_ref,
    named_figures,
    named_texts,
    percent,
)
from .performance import performance_context

# 八/九's figures after their fund's name (政府性基金预算财政拨款收入 …), in the sentence's order
FUND_WORDS = ("收入", "年初结转和结余", "支出", "基本支出", "项目支出", "年末结转和结余")

TEMPLATE_DIR = templates_root() / "narrative"
SLOT = "【待填：{}】"

# ---------------------------------------------------------------- names

REASON_SLOTS: dict[str, str] = {
    "一": "收、支总计与上年相比增减变化的主要原因",
    "四": "财政拨款收、支总计与上年相比增减变化的主要原因",
    "五.一": "一般公共预算财政拨款支出与上年相比增减变化的主要原因",
    "七.一.预算": "“三公”经费决算数与预算数差异的主要原因",
    "七.一.上年": "“三公”经费决算数与上年数差异的主要原因",
    "七.二.出国.预算": "因公出国（境）费决算数与预算数差异的主要原因",
    "七.二.出国.上年": "因公出国（境）费决算数与上年数差异的主要原因",
    "七.二.出国.情况": "因公出国（境）团组、人次及主要内容",
    "七.二.购置.预算": "公务用车购置费决算数与预算数差异的主要原因",
    "七.二.购置.上年": "公务用车购置费决算数与上年数差异的主要原因",
    "七.二.运行.预算": "公务用车运行维护费决算数与预算数差异的主要原因",
    "七.二.运行.上年": "公务用车运行维护费决算数与上年数差异的主要原因",
    "七.二.运行.情况": "公务用车运行维护费主要用途及公务用车保有量",
    "七.二.接待.预算": "公务接待费决算数与预算数差异的主要原因",
    "七.二.接待.上年": "公务接待费决算数与上年数差异的主要原因",
    "七.二.接待.情况": "国内公务接待批次、人次及主要内容",
    "八": "政府性基金预算收支具体情况",
    "九": "国有资本经营预算收支具体情况",
    "十": "机关运行经费增减变化的主要原因",
}

# ---------------------------------------------------------------- reasons and budget files


def _flatten(doc: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in doc.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def normalize_reasons(doc: Mapping[Any, Any] | None, source: str = "") -> dict[str, str]:
    """Flatten and validate a reasons mapping; unknown keys are an error (a typo would leave a slot)."""
    where = f"{source}：" if source else ""
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise DataError(f"{where}原因文件应为“章节: 原因”形式的 YAML 映射")
    flat = _flatten(doc)
    unknown = sorted(k for k in flat if k not in REASON_SLOTS)
    if unknown:
        raise DataError(
            f"{where}未知的原因键 {', '.join(unknown)}；可用的键：{', '.join(REASON_SLOTS)}"
        )
    out: dict[str, str] = {}
    for k, v in flat.items():
        if v is None:
            continue
        if not isinstance(v, (str, int, float)):
            raise DataError(f"{where}原因“{k}”应为文字")
        text = str(v).strip().rstrip("。；;")
        if text:
            out[k] = text
    return out


def load_reasons(path: str | Path) -> dict[str, str]:
    """Read a reasons YAML file (see module docstring) into {key: text}."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"{p}：无法读取原因文件（{exc}）") from exc
    return normalize_reasons(doc, str(p))


def reasons_skeleton() -> str:
    """A reasons YAML with every key, for a unit to fill in once."""
    lines = ["# 情况说明中需人工填写的原因；留空的键在生成时显示为【待填】。"]
    for key, hint in REASON_SLOTS.items():
        lines.append(f"# {hint}")
        lines.append(f'{key}: ""')
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- context


def _sections_10_13(spec: Spec | None, ds: Dataset, named: Mapping[str, Decimal], b: Budget,
                    why: Mapping[str, str]) -> dict[str, Any]:
    """十 机关运行经费, 十一 一般性支出, 十二 政府采购, 十三 国有资产占用 from the spec's named figures
    (its ``figures:`` map). Without a spec, 十 from the budget file as before and 十一–十三 left out;
    with a spec that names none of a section's figures, that section is a visible note (never
    another table's figure); a name defined but not filled is a 【待填】 slot. ``named``: the spec's
    figures for ``ds`` (:func:`named_figures`, computed once by the caller)."""
    texts = named_texts(spec, ds)
    defined = set(spec.figures) if spec is not None else set()

    def amount(name: str) -> str | None:
        return _money(named.get(name))

    def share(name: str, whole: bool = False) -> str | None:
        v = named.get(name)
        if v is None:
            return None
        pct = _pct(v * HUNDRED)
        return pct[:-3] if whole and pct is not None and pct.endswith(".00") else pct

    def count(name: str) -> str | None:
        v = named.get(name)
        return None if v is None else str(int(v))

    if "机关运行经费" in named:  # the workbook's 附表1 (filled) first, else the budget file
        now, before = named.get("机关运行经费"), named.get("上年机关运行经费")
    else:
        now, before = b.admin_cost, b.admin_cost_previous
    out: dict[str, Any] = {
        "s10": {"amount": _money(now), "change": change(now, before), "reason": why.get("十")},
        "s11": None, "s12": None, "s13": None,
        "undefined": [],  # (section heading, what) the format does not define
    }
    if spec is None:
        return out
    if {"会议费", "培训费"} <= defined:
        out["s11"] = {"meeting": amount("会议费"), "meeting_use": texts.get("会议用途"),
                      "training": amount("培训费"), "training_use": texts.get("培训用途")}
    else:
        out["undefined"].append(("十一、一般性支出情况说明", "会议费、培训费"))
    kinds = [("货物", "货物"), ("工程", "工程"), ("服务", "服务")]
    if "政府采购支出总额" in defined:
        out["s12"] = {
            "total": amount("政府采购支出总额"),
            "kinds": [{"name": k, "amount": amount(f"政府采购{k}支出"),
                       "sme_share": share(f"{k}采购授予中小企业占比", whole=True)} for k, _ in kinds],
            "sme": amount("授予中小企业合同金额"), "sme_share": share("授予中小企业合同金额占比"),
            "small": amount("授予小微企业合同金额"), "small_share": share("授予小微企业合同金额占比"),
        }
    else:
        out["undefined"].append(("十二、关于政府采购支出说明", "政府采购支出总额"))
    if "车辆" in defined:
        out["s13"] = {
            "vehicles": count("车辆"),
            "kinds": [{"name": k, "count": count(k)} for k in VEHICLE_KINDS],
            "other_is": texts.get("其他用车主要是"),
            "equipment": count("单位价值100万元以上设备"),
        }
    else:
        out["undefined"].append(("十三、关于国有资产占用情况说明", "车辆"))
    return out


# 十三's vehicle kinds, in the order the published 说明 lists them (names in the spec's figures map)
VEHICLE_KINDS = ("副部（省）级及以上领导用车", "主要负责人用车", "机要通信用车", "应急保障用车",
                 "执法执勤用车", "特种专业技术用车", "离退休干部服务用车", "其他用车")


# The names each section of 一–九 speaks (the spec's figures: map); a format lacking one gets the
# section as a note (its heading, what is missing) instead of another table's figure.
SECTION_NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "s1": ("一、收入支出决算总体情况说明", ("收支总计",)),
    "s2": ("二、收入决算情况说明", ("收入合计", *(name for _c, name in INCOME_ITEMS))),
    "s3": ("三、支出决算情况说明", ("支出合计", *(name for _c, name in SPENDING_ITEMS))),
    "s4": ("四、财政拨款收入支出决算总体情况说明", ("财政拨款收支总计",)),
    "s5": ("五、一般公共预算财政拨款支出决算情况说明", ("一般公共预算财政拨款支出", "本年支出合计")),
    "s6": ("六、一般公共预算财政拨款基本支出决算情况说明", ("一般公共预算财政拨款基本支出", "人员经费", "公用经费")),
    "s7": ("七、财政拨款“三公”经费支出决算情况说明",
           tuple(f"{name}{m}" for _k, name, _b, _a in SANGONG for m in ("预算数", "决算数"))),
    "s8": ("八、政府性基金预算收入支出决算情况", tuple(f"政府性基金预算财政拨款{w}" for w in FUND_WORDS)),
    "s9": ("九、国有资本经营预算收入支出决算情况", tuple(f"国有资本经营预算财政拨款{w}" for w in FUND_WORDS)),
}


def _classes(spec: Spec | None, ds: Dataset, total: Decimal | None) -> list[dict[str, str | None]]:
    """五（二）: the non-zero 类 rows of the table and column 一般公共预算财政拨款支出 names."""
    out: list[dict[str, str | None]] = []
    where = figure_ref(spec, "一般公共预算财政拨款支出")
    if where is None:
        return out
    table, _row, col = where
    for code in sorted(r for r in ds.values.get(table, {}) if len(r) == 3 and r.isdigit()):
        v = ds.get(table, code, col)
        if v:
            out.append({"code": code, "name": class_name(ds, code), "amount": _money(v), "share": _pct(percent(v, total))})
    return out


def _basic_items(spec: Spec | None, ds: Dataset) -> dict[bool, list[dict[str, str | None]]]:
    """六: the non-zero 款 rows of the table and column 人员经费 names, 人员经费's (True) and the rest."""
    items: dict[bool, list[dict[str, str | None]]] = {True: [], False: []}
    where = figure_ref(spec, "人员经费")
    if where is not None:
        table, _row, col = where
        for code, cols in ds.values.get(table, {}).items():
            v = cols.get(col)
            if len(code) == 5 and code.isdigit() and v:
                items[code.startswith(PERSONNEL_PREFIXES)].append(
                    {"code": code, "name": econ_name(ds, code), "amount": _money(v)})
    for lst in items.values():
        lst.sort(key=lambda it: str(it["code"]))
    return items


def _sangong(key: str, name: str, get: Any, prev: Any, why: Mapping[str, str]) -> dict[str, Any]:
    """七: one 三公 item, its 预算数/决算数 and last year's by the spec's names."""
    bv, av, pv = get(f"{name}预算数"), get(f"{name}决算数"), prev(f"{name}决算数")
    head = "七.一" if key == "合计" else f"七.二.{key}"
    return {
        "name": name,
        "budget": _money(bv),
        "actual": _money(av),
        "rate": _pct(completion(av, bv)),
        "change": change(av, pv),
        "vs_budget": _compare_word(av, bv),
        "vs_previous": _compare_word(av, pv),
        "reason_budget": why.get(f"{head}.预算"),
        "reason_previous": why.get(f"{head}.上年"),
        "detail": why.get(f"{head}.情况"),
    }


def build_context(
    ds: Dataset,
    previous: Dataset | None = None,
    budget: Budget | Mapping[str, Any] | None = None,
    reasons: Mapping[str, Any] | None = None,
    spec: Spec | None = None,
) -> dict[str, Any]:
    """Everything the templates print, computed from the figures the format names (its spec's
    ``figures:`` map; without a spec, the bundled format of that name's year): amounts as '2,128.85',
    shares and rates as '45.82', changes as dicts (see :func:`change`); None where the data were not
    given. A section whose names the format lacks is listed in ``omitted`` (printed as a note)."""
    b = as_budget(budget)
    why = normalize_reasons(reasons) if reasons else {}
    spec = spec if spec is not None else default_format(ds)
    now = named_figures(spec, ds)
    before = named_figures(spec, previous) if previous is not None else {}
    defined = set(spec.figures) if spec is not None else set()

    def get(name: str) -> Decimal | None:
        return now.get(name)

    def prev(name: str) -> Decimal | None:
        return before.get(name)

    def zero_if_missing(name: str) -> Decimal:
        # 公开07/08 are blank when a unit has no such funds: blank means zero.
        v = get(name)
        return ZERO if v is None else v

    total = get("收支总计")
    fin_total = get("财政拨款收支总计")
    income_total = get("收入合计")
    income = [{"name": name, "amount": _money(v), "share": _pct(percent(v, income_total))}
              for _col, name in INCOME_ITEMS for v in [get(name)]]
    spend_total = get("支出合计")
    spending = [{"name": name, "amount": _money(v), "share": _pct(percent(v, spend_total))}
                for _col, name in SPENDING_ITEMS for v in [get(name)]]

    gp_total = get("一般公共预算财政拨款支出")
    classes = _classes(spec, ds, gp_total)
    projects = [
        {"name": p.name, "initial": _money(p.initial), "actual": _money(p.actual),
         "rate": _pct(completion(p.actual, p.initial))}
        for p in b.projects
    ]

    # 六 基本支出: 人员经费 and 公用经费 with the non-zero items of the table 人员经费 names
    personnel = get("人员经费")
    public = get("公用经费")
    basic = get("一般公共预算财政拨款基本支出")
    if basic is None and personnel is not None and public is not None:
        basic = personnel + public
    items = _basic_items(spec, ds)

    sangong = {key: _sangong(key, name, get, prev, why) for key, name, _b, _a in SANGONG}

    def fund_section(prefix: str, key: str, none_text: str) -> dict[str, Any]:
        vals = [zero_if_missing(f"{prefix}{w}") for w in FUND_WORDS]
        keys = ("income", "opening", "spent", "basic", "project", "closing")
        sec: dict[str, Any] = {k: _money(v) for k, v in zip(keys, vals, strict=True)}
        sec["detail"] = why.get(key) or (none_text if all(v == 0 for v in vals) else None)
        return sec

    omitted = {key: (heading, "、".join(n for n in names if n not in defined))
               for key, (heading, names) in SECTION_NAMES.items() if not set(names) <= defined}
    return {
        "year": str(ds.year) if ds.year is not None else None,
        "unit_name": ds.unit_name,
        "omitted": omitted,
        "s1": {"total": _money(total), "change": change(total, prev("收支总计")), "reason": why.get("一")},
        "s2": {"total": _money(income_total), "parts": income},
        "s3": {"total": _money(spend_total), "parts": spending},
        "s4": {"total": _money(fin_total), "change": change(fin_total, prev("财政拨款收支总计")),
               "reason": why.get("四")},
        "s5": {
            "total": _money(gp_total),
            "total_is_zero": gp_total == 0,
            "share": _pct(percent(gp_total, get("本年支出合计"))),
            "change": change(gp_total, prev("一般公共预算财政拨款支出")),
            "reason": why.get("五.一"),
            "classes": classes,
            "initial": _money(b.initial_total),
            "rate": _pct(completion(gp_total, b.initial_total)),
            "projects": projects,
        },
        "s6": {
            "basic": _money(basic),
            "personnel": {"amount": _money(personnel), "share": _pct(percent(personnel, basic)),
                          "parts": items[True]},
            "public": {"amount": _money(public), "share": _pct(percent(public, basic)),
                       "parts": items[False]},
        },
        "s7": sangong,
        "s8": fund_section("政府性基金预算财政拨款", "八", "本单位无政府性基金预算财政拨款收支"),
        "s9": fund_section("国有资本经营预算财政拨款", "九", "本单位无国有资本经营预算财政拨款收支"),
        **_sections_10_13(spec, ds, now, b, why),
    }


# ---------------------------------------------------------------- rendering


def _squash(value: Any) -> Any:
    """Join a paragraph written over several template lines: Chinese text needs no spaces."""
    text = re.sub(r"\s*\n\s*", "", str(value)).strip()
    return Markup(text) if isinstance(value, Markup) else text


@functools.lru_cache(maxsize=2)
def _environment(html: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    env.filters["squash"] = _squash
    return env


def render_narrative(
    ds: Dataset,
    previous: Dataset | None = None,
    budget: Budget | Mapping[str, Any] | None = None,
    reasons: Mapping[str, Any] | None = None,
    fmt: str = "md",
    performance: bool = True,
    spec: Spec | None = None,
) -> str:
    """Sections 一 to 十 as Markdown (``fmt="md"``) or a complete HTML page (``fmt="html"``), then the
    整体支出绩效自评报告's paragraphs when the data carry the 附件 (see :mod:`.performance`) unless
    ``performance`` is False (the published report puts them in 第五部分: :func:`render_performance`)."""
    if fmt not in ("md", "html"):
        raise ValueError(f"unknown narrative format {fmt!r}")
    ctx = build_context(ds, previous=previous, budget=budget, reasons=reasons, spec=spec)
    # 第五部分 整体支出绩效自评报告, when the data carry 附件2/3
    ctx["perf"] = performance_context(ds) if performance else None
    text = _environment(fmt == "html").get_template(f"shuoming.{fmt}.j2").render(**ctx)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def render_performance(ds: Dataset, fmt: str = "md") -> str:
    """The 整体支出绩效自评报告 alone (its title, then sections 一–五) as Markdown or HTML fragments;
    "" when the data carry no 附件2/3."""
    if fmt not in ("md", "html"):
        raise ValueError(f"unknown narrative format {fmt!r}")
    perf = performance_context(ds)
    if perf is None:
        return ""
    text = _environment(fmt == "html").get_template(f"performance.{fmt}.j2").render(perf=perf)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def render_docx(
    ds: Dataset,
    previous: Dataset | None = None,
    budget: Budget | Mapping[str, Any] | None = None,
    reasons: Mapping[str, Any] | None = None,
    spec: Spec | None = None,
) -> bytes:
    """The Markdown rendering as a Word file (needs python-docx); slots are highlighted."""
    import io

    from docx import Document
    from docx.enum.text import WD_COLOR_INDEX
    from docx.oxml.ns import qn

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "宋体"
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")
    for line in render_narrative(ds, previous, budget, reasons, fmt="md", spec=spec).splitlines():
        if not line.strip():
            continue
        heading = re.match(r"^(#+)\s+(.*)$", line)
        if heading:
            doc.add_heading(heading.group(2), level=min(len(heading.group(1)) - 1, 3))
            continue
        para = doc.add_paragraph()
        for part in re.split(r"(【待填：[^】]*】)", line):
            if part:
                run = para.add_run(part)
                if part.startswith("【待填："):
                    run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


