"""What the 说明 and its checker share: the names of the tables' figures, arithmetic, the budget file.

Amounts are Decimal, percentages rounded half up to 2 decimals (:func:`percent`, :func:`completion`).
"""


from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ..core.dataset import DataError, Dataset
from ..core.money import fmt as money_fmt
from ..core.money import q2, to_decimal
from ..core.spec import Spec

TOLERANCE = Decimal("0.005")
HUNDRED = Decimal("100")

# 功能分类 类 (the 26 classes of 公开01 rows 31-56).
CLASS_NAMES: dict[str, str] = {
    "201": "一般公共服务支出", "202": "外交支出", "203": "国防支出", "204": "公共安全支出",
    "205": "教育支出", "206": "科学技术支出", "207": "文化旅游体育与传媒支出",
    "208": "社会保障和就业支出", "210": "卫生健康支出", "211": "节能环保支出",
    "212": "城乡社区支出", "213": "农林水支出", "214": "交通运输支出",
    "215": "资源勘探工业信息等支出", "216": "商业服务业等支出", "217": "金融支出",
    "219": "援助其他地区支出", "220": "自然资源海洋气象等支出", "221": "住房保障支出",
    "222": "粮油物资储备支出", "223": "国有资本经营预算支出", "224": "灾害防治及应急管理支出",
    "229": "其他支出", "231": "债务还本支出", "232": "债务付息支出", "234": "抗疫特别国债安排的支出",
}
CLASS_ROW_01 = {code: str(31 + i) for i, code in enumerate(CLASS_NAMES)}

# 公开06 economic classification names (2024), used when Dataset.names lacks them.
ECON_NAMES: dict[str, str] = {
    "301": "工资福利支出", "30101": "基本工资", "30102": "津贴补贴", "30103": "奖金",
    "30106": "伙食补助费", "30107": "绩效工资", "30108": "机关事业单位基本养老保险缴费",
    "30109": "职业年金缴费", "30110": "职工基本医疗保险缴费", "30111": "公务员医疗补助缴费",
    "30112": "其他社会保障缴费", "30113": "住房公积金", "30114": "医疗费",
    "30199": "其他工资福利支出",
    "302": "商品和服务支出", "30201": "办公费", "30202": "印刷费", "30203": "咨询费",
    "30204": "手续费", "30205": "水费", "30206": "电费", "30207": "邮电费", "30208": "取暖费",
    "30209": "物业管理费", "30211": "差旅费", "30212": "因公出国（境）费用",
    "30213": "维修（护）费", "30214": "租赁费", "30215": "会议费", "30216": "培训费",
    "30217": "公务接待费", "30218": "专用材料费", "30224": "被装购置费", "30225": "专用燃料费",
    "30226": "劳务费", "30227": "委托业务费", "30228": "工会经费", "30229": "福利费",
    "30231": "公务用车运行维护费", "30239": "其他交通费用", "30240": "税金及附加费用",
    "30299": "其他商品和服务支出",
    "303": "对个人和家庭的补助", "30301": "离休费", "30302": "退休费", "30303": "退职（役）费",
    "30304": "抚恤金", "30305": "生活补助", "30306": "救济费", "30307": "医疗费补助",
    "30308": "助学金", "30309": "奖励金", "30310": "个人农业生产补贴", "30311": "代缴社会保险费",
    "30399": "其他对个人和家庭的补助",
    "307": "债务利息及费用支出", "30701": "国内债务付息", "30702": "国外债务付息",
    "310": "资本性支出", "31001": "房屋建筑物购建", "31002": "办公设备购置",
    "31003": "专用设备购置", "31005": "基础设施建设", "31006": "大型修缮",
    "31007": "信息网络及软件购置更新", "31008": "物资储备", "31009": "土地补偿",
    "31010": "安置补助", "31011": "地上附着物和青苗补偿", "31012": "拆迁补偿",
    "31013": "公务用车购置", "31019": "其他交通工具购置", "31021": "文物和陈列品购置",
    "31022": "无形资产购置", "31099": "其他资本性支出",
    "399": "其他支出", "39907": "国家赔偿费用支出",
    "39908": "对民间非营利组织和群众性自治组织补贴", "39909": "经常性赠与",
    "39910": "资本性赠与", "39999": "其他支出",
}
PERSONNEL_PREFIXES = ("301", "303")  # 人员经费; every other 公开06 code is 公用经费

# 公开02 columns 2..7 and 公开03 columns 2..6 as the 说明 names them.
INCOME_ITEMS = [("2", "财政拨款收入"), ("3", "上级补助收入"), ("4", "事业收入"),
                ("5", "经营收入"), ("6", "附属单位上缴收入"), ("7", "其他收入")]
SPENDING_ITEMS = [("2", "基本支出"), ("3", "项目支出"), ("4", "上缴上级支出"),
                  ("5", "经营支出"), ("6", "对附属单位补助支出")]

# 公开09: key, name in the 说明, budget column, actual column.
SANGONG = [
    ("合计", "“三公”经费", "1", "7"),
    ("出国", "因公出国（境）费", "2", "8"),
    ("用车", "公务用车购置费及运行维护费", "3", "9"),
    ("购置", "公务用车购置费", "4", "10"),
    ("运行", "公务用车运行维护费", "5", "11"),
    ("接待", "公务接待费", "6", "12"),
]


# ---------------------------------------------------------------- arithmetic


def percent(num: Decimal | None, den: Decimal | None) -> Decimal | None:
    """num / den as a percentage rounded half up to 2 decimals; None when undefined."""
    if num is None or den is None or den == 0:
        return None
    return q2(num * HUNDRED / den)


def completion(actual: Decimal | None, budget: Decimal | None) -> Decimal | None:
    """完成预算的 X%: actual / budget; 0 spent of a 0 budget is 100.00% as the reports write it."""
    if actual is None or budget is None:
        return None
    if budget == 0:
        return HUNDRED if actual == 0 else None
    return percent(actual, budget)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else money_fmt(value, thousands=True)


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def change(current: Decimal | None, previous: Decimal | None) -> dict[str, Any]:
    """与上年相比: the words and numbers of a change; ``known`` False without last year's figure."""
    if current is None or previous is None:
        return {"known": False, "flat": False}
    diff = current - previous
    if diff == 0:
        return {"known": True, "flat": True}
    rate = percent(abs(diff), abs(previous))
    return {
        "known": True,
        "flat": False,
        "word": "增加" if diff > 0 else "减少",
        "amount": _money(abs(diff)),
        "rate_word": "增长" if diff > 0 else "降低",
        "rate": _pct(rate),
    }


def _compare_word(a: Decimal | None, b: Decimal | None) -> str | None:
    if a is None or b is None:
        return None
    return "大于" if a > b else "小于" if a < b else "等于"



# ---------------------------------------------------------------- budget file

@dataclass
class Project:
    name: str
    initial: Decimal | None = None
    actual: Decimal | None = None


@dataclass
class Budget:
    """Figures the nine tables do not carry (see module docstring for the file format)."""

    initial_total: Decimal | None = None
    projects: list[Project] = field(default_factory=list)
    admin_cost: Decimal | None = None
    admin_cost_previous: Decimal | None = None


def parse_amount(value: Any, what: str, where: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return to_decimal(str(value).replace(",", "") if isinstance(value, str) else value)
    except ValueError as exc:
        raise DataError(f"{where}{what}金额无法识别 {value!r}") from exc


def budget_from_mapping(doc: Any, source: str = "") -> Budget:
    where = f"{source}：" if source else ""
    if doc is None:
        return Budget()
    if not isinstance(doc, Mapping):
        raise DataError(f"{where}预算数据应为 YAML/JSON 映射")
    known = {"年初预算数", "项目", "机关运行经费"}
    unknown = sorted(str(k) for k in doc if k not in known)
    if unknown:
        raise DataError(f"{where}未知的键 {', '.join(unknown)}；可用的键：{', '.join(sorted(known))}")
    b = Budget(initial_total=parse_amount(doc.get("年初预算数"), "年初预算数", where))
    projects = doc.get("项目") or []
    if not isinstance(projects, list):
        raise DataError(f"{where}“项目”应为列表")
    for i, item in enumerate(projects, 1):
        if not isinstance(item, Mapping) or not str(item.get("名称") or "").strip():
            raise DataError(f"{where}第{i}个项目应有“名称”")
        name = str(item["名称"]).strip()
        b.projects.append(
            Project(
                name=name,
                initial=parse_amount(item.get("年初预算"), f"项目“{name}”年初预算", where),
                actual=parse_amount(item.get("决算"), f"项目“{name}”决算", where),
            )
        )
    admin = doc.get("机关运行经费")
    if admin is not None:
        if not isinstance(admin, Mapping):
            raise DataError(f"{where}“机关运行经费”应为 {{本年: 金额, 上年: 金额}}")
        b.admin_cost = parse_amount(admin.get("本年"), "机关运行经费本年", where)
        b.admin_cost_previous = parse_amount(admin.get("上年"), "机关运行经费上年", where)
    return b


def load_budget(path: str | Path) -> Budget:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        doc = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"{p}：无法读取预算数据（{exc}）") from exc
    return budget_from_mapping(doc, str(p))


def as_budget(budget: Budget | Mapping[str, Any] | None) -> Budget:
    if budget is None:
        return Budget()
    if isinstance(budget, Budget):
        return budget
    return budget_from_mapping(budget)



def econ_name(ds: Dataset, code: str) -> str:
    return ds.names.get(code) or ECON_NAMES.get(code, code)


def class_name(ds: Dataset, code: str) -> str:
    return ds.names.get(code) or CLASS_NAMES.get(code, code)


def named_figures(spec: Spec | None, ds: Dataset) -> dict[str, Decimal]:
    """The figures the spec names for the 说明 (its ``figures:`` map), computed from the unit's data
    by the spec's own formulas; {} without a spec or with no such map. A name a form leaves unfilled
    (the table carries no figure at all) is left out, so its sentence is a 【待填】 or a note."""
    if spec is None or not spec.figures:
        return {}
    from ..core.model import Figures

    figures = Figures(spec, ds.values)
    out: dict[str, Decimal] = {}
    for name, text in spec.figures.items():
        value = figure_value(spec, ds, text, figures)
        if value is not None:
            out[name] = value
    return out


def figure_value(spec: Spec, ds: Dataset, text: str, figures: Any = None) -> Decimal | None:
    """An expression over the spec's tables for the unit's data: a single figure the data gives is
    as given (a 汇总 or a report may carry the official rounding), any other computed by the spec's
    formulas; None when none of its tables carries a figure."""
    from ..core.expr import BSum, Context, Fig, compile_expr, evaluate, terms
    from ..core.model import Figures

    node = compile_expr(text, spec, Context())
    found = list(terms(node))
    if not any(ds.values.get(t.table) for t in found):
        return None
    if len(found) == 1 and (node == found[0] or (isinstance(node, BSum) and len(node.terms) == 1)):
        t = found[0]
        given = ds.get(t.table, t.row, t.col) if isinstance(t, Fig) else ds.get(t.table, t.prefix or "合计", t.col)
        if given is not None:
            return given
    return evaluate(node, figures if figures is not None else Figures(spec, ds.values))


def named_texts(spec: Spec | None, ds: Dataset) -> dict[str, str]:
    """The words the spec names for the 说明 (its ``texts:`` map: name -> "TABLE row R col C", a
    typed-in text cell of a form), as the unit wrote them; unfilled ones left out."""
    if spec is None:
        return {}
    out: dict[str, str] = {}
    for name, (table, row, col) in spec.texts.items():
        text = str(((ds.texts.get(table) or {}).get(row) or {}).get(col) or "").strip().rstrip("。；;")
        if text:
            out[name] = text
    return out


def figure_measure(spec: Spec | None, name: str) -> str:
    """What a named figure measures, from the form cell or table column it names: "count"
    (vehicles), "percent" (a share), else "money" (万元)."""
    if spec is None or name not in spec.figures:
        return "money"
    from ..core.expr import Context, Fig, compile_expr, terms

    for term in terms(compile_expr(spec.figures[name], spec, Context())):
        t = spec.tables.get(term.table)
        if not isinstance(term, Fig) or t is None:
            continue
        if t.kind == "form":
            for fr in t.form:
                for cell in fr.cells:
                    if fr.key == term.row and cell.kind == "value" and cell.key == term.col:
                        return {"count": "count", "percent": "percent"}.get(cell.fmt, "money")
        for b in t.blocks:  # a table's column: its measure
            for c in b.value_columns:
                if c.key == term.col and c.measure == "count":
                    return "count"
    return "money"


def figure_ref(spec: Spec | None, name: str) -> tuple[str, str, str] | None:
    """(table, row, col) of a named figure that is one figure of a table, or a 科目 section's 合计
    (None otherwise)."""
    if spec is None or name not in spec.figures:
        return None
    return expr_ref(spec, spec.figures[name])


def expr_ref(spec: Spec, expr: str) -> tuple[str, str, str] | None:
    """(table, row, col) of an expression that is one figure (a 科目 section's 合计 included)."""
    from ..core.expr import Context, Fig, Items, compile_expr, terms

    found = list(terms(compile_expr(expr, spec, Context())))
    if len(found) == 1 and isinstance(found[0], Fig):
        return found[0].table, found[0].row, found[0].col
    if len(found) == 1 and isinstance(found[0], Items) and not found[0].prefix:  # a section's 合计
        return found[0].table, "合计", found[0].col
    return None


def default_format(ds: Dataset, dirs: list[Path] | None = None) -> Spec | None:
    """The format the data is keyed by: the spec of its version among ``dirs`` (a round's spec
    folders; default the bundled ones), else the bundled format of its year (else the newest bundled
    one): what names the 说明's figures when no spec is given (a data file checked on its own)."""
    from ..core.catalog import default_specs_dir, load_spec, spec_by_version
    from ..core.resources import specs_root

    found = spec_by_version(ds.version, dirs=dirs) if ds.version else None
    if found is not None:
        return found
    folder = specs_root() / str(ds.year or "")
    try:
        return load_spec(folder if ds.year and (folder / "spec.yaml").is_file() else default_specs_dir())
    except Exception:  # noqa: BLE001 - no usable bundled format: the 说明 names nothing
        return None

