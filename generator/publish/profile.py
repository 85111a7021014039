"""The profile (YAML): what a published report says that the nine tables do not carry.

Every key is optional; what is missing is printed as a visible 【待填：…】 slot, never invented.
Paths (``情况说明原因``/``预算``/``上年数据`` given as strings) are relative to the profile file.
``juesuan publish --profile-template`` prints :data:`SKELETON`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..core.dataset import DataError, Dataset, load_dataset
from ..narrative import Budget, budget_from_mapping, load_budget, load_reasons, normalize_reasons

SLOT = "【待填：{}】"

DEFAULT_TERMS = [
    "一、一般公共预算财政拨款收入：指本级财政当年拨付的资金。",
    "二、基本支出：指保障机构正常运转、完成日常工作任务而发生的人员支出和公用支出。",
    "三、项目支出：指在基本支出之外为完成特定行政任务和事业发展目标所发生的支出。",
    "四、“三公”经费：纳入财政预算管理的“三公”经费，是指用当年一般公共预算拨款安排的公务接待费、公务用车购置及运行维护费"
    "和因公出国（境）费。其中，公务接待费反映单位按规定开支的各类公务接待支出；公务用车购置及运行费反映单位公务用车车辆购置支出"
    "（含车辆购置税）及燃料费、维修费、保险费等支出；因公出国（境）费反映单位公务出国（境）的国际旅费、国外城市间交通费、"
    "住宿费等支出。",
]

KEYS = {"部门职责", "内设机构", "决算单位构成", "情况说明原因", "预算", "上年数据", "名词解释", "绩效自评报告"}

SKELETON = """\
# juesuan publish --profile：决算公开报告中决算表以外的内容。缺少的键在报告中显示为【待填：…】。
部门职责:                 # 第一部分 一、部门职责，每条一段
  - 贯彻落实……
内设机构: 我单位为……       # 第一部分 二（一）内设机构设置
# 决算单位构成: [××本级]   # 二（二）；不写时取数据来源：单个单位为其本身，汇总为纳入汇总的各单位
情况说明原因: reasons.yaml  # 第三部分【待填】处的原因（文件或映射；键见 juesuan narrative --reasons-template）
预算: budget.yaml           # 年初预算数、项目、机关运行经费（文件或映射）
# 上年数据: last-year.json  # 上年决算数据（与上年相比）
# 名词解释: [……]           # 第四部分；不写时用通用的四条
绩效自评报告:              # 第五部分 附件
  标题: 整体支出绩效自评报告
  正文:
    - 一、部门概况……
"""


@dataclass
class Profile:
    duties: list[str] = field(default_factory=list)
    institutions: str = ""
    composition: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    budget: Budget | None = None
    previous: Dataset | None = None
    terms: list[str] = field(default_factory=lambda: list(DEFAULT_TERMS))
    annex_title: str = ""
    annex: list[str] = field(default_factory=list)


def _texts(value: Any, what: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [x.strip() for x in value.splitlines() if x.strip()]
    if isinstance(value, list) and all(isinstance(x, str | int | float) for x in value):
        return [str(x).strip() for x in value if str(x).strip()]
    raise DataError(f"{where}“{what}”应为文字或文字列表")


def profile_from_mapping(doc: Any, base: Path | None = None, source: str = "") -> Profile:
    where = f"{source}：" if source else ""
    if doc is None:
        return Profile()
    if not isinstance(doc, Mapping):
        raise DataError(f"{where}概况文件应为 YAML 映射")
    unknown = sorted(str(k) for k in doc if k not in KEYS)
    if unknown:
        raise DataError(f"{where}未知的键 {', '.join(unknown)}；可用的键：{', '.join(sorted(KEYS))}")
    base = base or Path(".")
    p = Profile(duties=_texts(doc.get("部门职责"), "部门职责", where),
                institutions="".join(_texts(doc.get("内设机构"), "内设机构", where)),
                composition=_texts(doc.get("决算单位构成"), "决算单位构成", where))
    reasons = doc.get("情况说明原因")
    if isinstance(reasons, str):
        p.reasons = load_reasons(base / reasons)
    elif reasons is not None:
        p.reasons = normalize_reasons(reasons, source)
    budget = doc.get("预算")
    if isinstance(budget, str):
        p.budget = load_budget(base / budget)
    elif budget is not None:
        p.budget = budget_from_mapping(budget, source)
    if doc.get("上年数据"):
        p.previous = load_dataset(base / str(doc["上年数据"]))
    if doc.get("名词解释") is not None:
        p.terms = _texts(doc.get("名词解释"), "名词解释", where)
    annex = doc.get("绩效自评报告")
    if annex is not None:
        if isinstance(annex, Mapping):
            p.annex_title = str(annex.get("标题") or "").strip()
            p.annex = _texts(annex.get("正文"), "绩效自评报告.正文", where)
        else:
            p.annex = _texts(annex, "绩效自评报告", where)
    return p


def load_profile(path: str | Path) -> Profile:
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"{p}：无法读取概况文件（{exc}）") from exc
    return profile_from_mapping(doc, p.parent, str(p))
