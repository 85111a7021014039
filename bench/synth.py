"""Synthetic unit data for the benchmark and the sample tree: varied, and internally consistent.

Every figure is generated in cents and every identity the 审核 rules check is built in, so the
data passes all rules exactly (no 尾数差异) and any sum of such units does too. Input figures only:
derived figures are the workbook's formulas.

    python bench/synth.py   # (re)writes the sample tree's data: specs/samples/unit-*.json
"""

from __future__ import annotations

import json
import random
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from generator.core.dataset import Dataset  # noqa: E402

# 款/项 names the code list may not know (the data file carries them)
NAMES = {
    "20103": "政府办公厅（室）及相关机构事务",
    "2010301": "行政运行",
    "2010302": "一般行政管理事务",
    "2010350": "事业运行",
    "2010399": "其他政府办公厅（室）及相关机构事务支出",
    "20805": "行政事业单位养老支出",
    "2080505": "机关事业单位基本养老保险缴费支出",
    "2080506": "机关事业单位职业年金缴费支出",
    "21011": "行政事业单位医疗",
    "2101101": "行政单位医疗",
    "2101102": "事业单位医疗",
    "21208": "国有土地使用权出让收入安排的支出",
    "2120803": "城市建设支出",
    "2120899": "其他国有土地使用权出让收入安排的支出",
    "21505": "工业和信息产业监管",
    "2150501": "行政运行",
    "2150502": "一般行政管理事务",
    "2150550": "事业运行",
    "2150599": "其他工业和信息产业监管支出",
    "21508": "支持中小企业发展和管理支出",
    "2150805": "中小企业发展专项",
    "2150899": "其他支持中小企业发展和管理支出",
    "22102": "住房改革支出",
    "2210201": "住房公积金",
}
RUNNING = ["2010301", "2010350", "2150501", "2150550"]  # 运行 items: basic spending
PROJECTS = ["2010302", "2010399", "2150502", "2150599", "2150805", "2150899"]
SOCIAL = ["2080505", "2080506", "2101101", "2101102", "2210201"]  # basic, small
FUND = ["2120803", "2120899"]  # 政府性基金 projects
# 公开01 row of each 类 (income-expenditure total; the 2024 list, ../shared/reference/), 公开04 row of each 类
CLASSES = {"201": "一般公共服务支出", "204": "公共安全支出", "205": "教育支出", "206": "科学技术支出",
           "207": "文化旅游体育与传媒支出", "208": "社会保障和就业支出", "210": "卫生健康支出", "211": "节能环保支出",
           "212": "城乡社区支出", "213": "农林水支出", "214": "交通运输支出", "215": "资源勘探工业信息等支出",
           "216": "商业服务业等支出", "220": "自然资源海洋气象等支出", "221": "住房保障支出", "224": "灾害防治及应急管理支出"}
_ROW01 = {"201": 31, "204": 34, "205": 35, "206": 36, "207": 37, "208": 38, "210": 39, "211": 40, "212": 41,
          "213": 42, "214": 43, "215": 44, "216": 45, "220": 48, "221": 49, "224": 52}
CLASS_ROW_01 = {c: str(r) for c, r in _ROW01.items()}
CLASS_ROW_04 = {c: str(r + 2) for c, r in _ROW01.items()}
# the wide pool (pool="wide"): hundreds of 项 codes over 16 类, named as the 2024 list names its 项 by suffix
_ITEM_NAMES = {"01": "行政运行", "02": "一般行政管理事务", "03": "机关服务", "04": "专项业务活动", "05": "信息化建设",
               "06": "专项工作经费", "07": "监督检查", "08": "宣传教育", "50": "事业运行", "99": "其他{}支出"}


def _wide_pool() -> tuple[dict[str, str], list[str], list[str]]:
    """(names of every 类/款/项 code, running 项 codes, project 项 codes): 16 类 x 6 款 x 7-10 项."""
    names: dict[str, str] = {}
    running: list[str] = []
    projects: list[str] = []
    for i, (cls, cname) in enumerate(CLASSES.items()):
        for k in range(6):
            kuan = f"{cls}{(i * 7 + k * 3) % 40 + 1:02d}"
            names[kuan] = f"{cname[:4]}事务{k + 1}"
            for j, (suffix, iname) in enumerate(_ITEM_NAMES.items()):
                if (i + k + j) % 4 == 3 and suffix not in ("01", "50", "99"):
                    continue
                code = kuan + suffix
                names[code] = iname.format(names[kuan])
                (running if suffix in ("01", "50") else projects).append(code)
    return names, running, projects


WIDE_NAMES, WIDE_RUNNING, WIDE_PROJECTS = _wide_pool()
MAX_SECTION_ROWS = 40
PERSONNEL_301 = ["30101", "30102", "30103", "30107", "30108", "30109", "30110", "30112", "30113", "30199"]
PERSONNEL_303 = ["30302", "30305", "30309", "30399"]
PUBLIC_302 = ["30201", "30205", "30206", "30207", "30211", "30213", "30215", "30216", "30217", "30228", "30231",
              "30239", "30299"]


def _split(total: int, parts: list[str], rng: random.Random) -> dict[str, int]:
    """total cents over parts with random weights, exactly."""
    if not parts:
        return {}
    weights = [rng.random() + 0.05 for _ in parts]
    s = sum(weights)
    out = {p: int(total * w / s) for p, w in zip(parts, weights, strict=True)}
    out[parts[0]] += total - sum(out.values())
    return out


def _d(cents: int) -> Decimal:
    return Decimal(cents) / 100


def _section_rows(items: dict[str, list[int]]) -> int:
    """Rows of the unit's 科目 section: its 项 with their 类 and 款."""
    return len({c[:n] for c in items for n in (3, 5, 7)})


def synth_dataset(rng: random.Random, code: str, name: str, year: int = 2024, scale: float = 1.0,
                  fund: bool | None = None, pools: dict[str, list[str]] | None = None,
                  class_rows: tuple[dict[str, str], dict[str, str]] | None = None,
                  names: dict[str, str] | None = None, pool: str = "sample") -> Dataset:
    """One unit's input figures; ``scale`` sizes the unit (1 = a unit of a few 千万元); ``fund``: with
    政府性基金 spending (公开07), by default one unit in four. ``pools`` (keys running, projects,
    social, fund) draw the unit's 项 from other code lists, ``class_rows`` the 公开01/公开04 row of
    every 类 they fall in, ``names`` the names a data file gives (default: :data:`NAMES`). ``pool``
    "wide": 项 drawn from hundreds of codes over 16 类, up to 40 rows in a 科目 section (most units
    small, a few large), as a real round's units look."""
    pools = pools or {}
    running, projects = pools.get("running", RUNNING), pools.get("projects", PROJECTS)
    social, fund_items = pools.get("social", SOCIAL), pools.get("fund", FUND)
    rows01, rows04 = class_rows or (CLASS_ROW_01, CLASS_ROW_04)
    names = NAMES if names is None else names

    def amount(lo: float, hi: float) -> int:
        return int(rng.uniform(lo, hi) * scale * 100)

    # items: code -> (basic b, general project p, fund project g, 事业收入 project s), cents
    items: dict[str, list[int]] = {}
    if pool == "wide":
        names = {**names, **WIDE_NAMES}
        home = rng.choice(list(CLASSES))  # a unit's main 类; other 类 appear now and then
        near = [c for c in WIDE_RUNNING if c.startswith(home)]
        items[rng.choice(near)] = [amount(200, 2000), 0, 0, 0]
        target = min(int(rng.paretovariate(1.2) * 3), 30)
        candidates = [c for c in WIDE_PROJECTS if c.startswith(home)]
        while len(items) < target:
            c = rng.choice(candidates if rng.random() < 0.7 else WIDE_PROJECTS + WIDE_RUNNING)
            if c in items or _section_rows({**items, c: []}) > MAX_SECTION_ROWS - 12:
                if _section_rows(items) >= MAX_SECTION_ROWS - 12:
                    break
                continue
            if c[5:] in ("01", "50"):
                items[c] = [amount(20, 600), 0, 0, 0]
            else:
                items[c] = [0, amount(5, 500), 0, amount(5, 100) if rng.random() < 0.2 else 0]
    else:
        items[rng.choice(running)] = [amount(200, 2000), 0, 0, 0]
        for c in rng.sample(projects, min(len(projects), rng.randint(0, 3))):
            items[c] = [0, amount(10, 900), 0, amount(5, 200) if rng.random() < 0.3 else 0]
    for c in rng.sample(social, min(len(social), rng.randint(1, 3))):
        items[c] = [amount(5, 120), 0, 0, 0]
    if fund is None:
        fund = rng.random() < 0.25
    if fund:
        items[rng.choice(fund_items)] = [0, 0, amount(20, 600), 0]
    ds = Dataset(unit_code=code, unit_name=name, year=year)
    # a wide unit's data file names its 款 and 项 (the 类 names come from the spec)
    ds.names = {k: v for k, v in names.items() if any(c.startswith(k) for c in items) and (pool != "wide" or len(k) > 3)}
    put = ds.set
    for c, (b, p, g, s) in sorted(items.items()):
        for col, v in zip("234567", (b + p + g, 0, s, 0, 0, 0), strict=True):
            put("公开02", c, col, _d(v))
        for col, v in zip("23456", (b, p + g + s, 0, 0, 0), strict=True):
            put("公开03", c, col, _d(v))
        if b + p:
            put("公开05", c, "2", _d(b))
            put("公开05", c, "3", _d(p))
        if g:
            gc = amount(0, 50)
            for col, v in zip("124", (gc, g, 0), strict=True):
                put("公开07", c, col, _d(v))
            put("公开07", c, "5", _d(g))
            put("公开07", c, "6", _d(gc))
    F = sum(b + p for b, p, _, _ in items.values())
    G = sum(g for _, _, g, _ in items.values())
    S = sum(s for *_, s in items.values())
    GC = int(sum(ds.values.get("公开07", {}).get(c, {}).get("1", Decimal(0)) * 100 for c in items))
    C = amount(0, 300)  # 年初/年末 一般公共预算财政拨款结转
    # 公开01
    put("公开01", "1", "1", _d(F))
    put("公开01", "2", "1", _d(G))
    put("公开01", "5", "1", _d(S))
    put("公开01", "29", "1", _d(C + GC))
    put("公开01", "59", "2", _d(C + GC))
    by_class: dict[str, list[int]] = {}
    for c, (b, p, g, s) in items.items():
        acc = by_class.setdefault(c[:3], [0, 0, 0])
        acc[0] += b + p + g + s
        acc[1] += b + p
        acc[2] += g
    for cls, (total, fiscal, fundv) in by_class.items():
        put("公开01", rows01[cls], "2", _d(total))
        put("公开04", rows04[cls], "3", _d(fiscal))
        put("公开04", rows04[cls], "4", _d(fundv))
    # 公开04
    put("公开04", "1", "1", _d(F))
    put("公开04", "2", "1", _d(G))
    put("公开04", "29", "1", _d(C))
    put("公开04", "30", "1", _d(GC))
    put("公开04", "60", "3", _d(C))
    put("公开04", "60", "4", _d(GC))
    # 公开06: basic spending split into 人员经费 and 公用经费
    basic = sum(b for b, *_ in items.values())
    personnel = int(basic * rng.uniform(0.75, 0.9))
    p301 = int(personnel * rng.uniform(0.6, 0.8))
    p303 = personnel - p301
    p302 = basic - personnel
    for cls, total, subs in (("301", p301, PERSONNEL_301), ("303", p303, PERSONNEL_303), ("302", p302, PUBLIC_302)):
        put("公开06", cls, "决算数", _d(total))
        chosen = rng.sample(subs, rng.randint(2, len(subs)))
        for k, v in _split(total, chosen, rng).items():
            put("公开06", k, "决算数", _d(v))
    # 公开09 三公: 决算 (8, 10, 11, 12) and 预算 (2, 4, 5, 6)
    car_run = int((ds.get("公开06", "30231", "决算数") or Decimal(0)) * 100)
    reception = int((ds.get("公开06", "30217", "决算数") or Decimal(0)) * 100)
    abroad = amount(0, 8) if rng.random() < 0.3 else 0
    car_buy = amount(10, 30) if rng.random() < 0.15 else 0
    car_run += amount(0, 3) if rng.random() < 0.5 else 0
    actual = {"8": abroad, "10": car_buy, "11": car_run, "12": reception}
    for col, v in actual.items():
        put("公开09", "1", col, _d(v))
    for col, src in (("2", "8"), ("4", "10"), ("5", "11"), ("6", "12")):
        put("公开09", "1", col, _d(actual[src] + amount(0, 2)))
    ds.notes = {"公开08": "说明：本单位没有使用国有资本经营预算安排的支出，故本表无数据。"}
    if not fund:
        ds.notes["公开07"] = "说明：本单位没有政府性基金收入，也没有使用政府性基金安排的支出，故本表无数据。"
    return ds


SAMPLES = [  # code, name, rng seed, scale, fund
    ("430100000", "长沙市示范工业和信息化局（本级）", 100, 1.5, False),
    ("430100002", "长沙市工业信息研究所", 2, 0.6, True),
    ("430100003", "长沙市中小企业发展服务站", 3, 0.8, False),
    ("430100031", "长沙市中小企业发展服务站浏阳分站", 31, 0.3, False),
]


def _doc(ds: Dataset, source: str) -> dict[str, Any]:
    doc = ds.to_json()
    doc["source"] = source
    return doc


def main() -> None:
    out = ROOT / "specs" / "samples"
    for code, name, seed, scale, fund in SAMPLES:
        ds = synth_dataset(random.Random(seed), code, name, scale=scale, fund=fund)
        path = out / f"unit-{code}.json"
        path.write_text(json.dumps(_doc(ds, f"合成样例（bench/synth.py，随机种子 {seed}）"), ensure_ascii=False,
                                   indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    # the seed report as one more unit of the tree (its own 尾数差异 included)
    seed = json.loads((out / "seed-2024.json").read_text(encoding="utf-8"))
    seed["unit"] = {"code": "430100001", "name": seed["unit"]["name"]}
    seed["source"] = "seed-2024.json，单位代码改为样例树中的 430100001"
    path = out / "unit-430100001.json"
    path.write_text(json.dumps(seed, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
