"""The whole 部门决算公开 report, assembled once and rendered to HTML, PDF and DOCX.

Parts, as the published reports have them: 第一部分 部门（单位）概况 (职责, 机构设置及决算单位构成, from
the profile and the source), 第二部分 部门决算表 (the spec's tables, :mod:`.tables`), 第三部分 情况说明
(:mod:`generator.narrative`), 第四部分 名词解释, 第五部分 附件 (整体支出绩效自评报告 from the profile,
and the tables of an annex spec when the spec carries them).

Figures: every figure the source gives, as given, and every other one computed by the spec's
formulas (what the unit's workbook shows); tables and text are both made from this one set, so they
agree by construction. A data file giving a derived figure with its own rounding (the seed prints
人员经费合计 925.85 where Σ 款 is 925.86) is published as given, as the official report printed it;
the 审核 rules report such a slip as 尾数差异 (information).

Cross-checks before publishing (:func:`preflight`): every 审核 rule of the spec (errors and
warnings; 尾数差异 stays information) and ``check_narrative`` on the assembled 第三部分.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ..core.dataset import Dataset
from ..core.expr import Fig
from ..core.findings import ERROR, INFO, Finding
from ..core.model import Figures
from ..core.rules import evaluate_rules, expand_rules, rule_findings
from ..core.spec import Spec
from ..narrative import check_narrative, render_narrative, render_performance
from .profile import SLOT, Profile
from .source import Source
from .tables import TableView, table_views

# the spec tables that belong to the annex (附件1–3, added by a later spec); a table whose id starts
# with one of these is rendered in 第五部分 with the same renderer, not in 第二部分
ANNEX_PREFIXES = ("附件",)


@dataclass
class Report:
    unit_code: str
    unit_name: str
    year: int
    duties: list[str]
    institutions: str
    composition: list[str]
    consolidated: bool
    tables: list[TableView]
    narrative_html: str  # 第三部分 body (h2/h3 + p), autoescaped by the narrative's templates
    narrative_md: str
    terms: list[str]
    annex_title: str
    annex: list[str]
    annex_tables: list[TableView] = field(default_factory=list)
    # the 整体支出绩效自评报告 made from 附件2/3 (sections 一–五, its title left to annex_title), when the
    # profile gives no text of its own (``annex``): HTML fragment and Markdown
    annex_html: str = ""
    annex_md: str = ""
    annex_note: str = ""  # why a 汇总 publishes no 附件1–3 (printed where they would stand)
    draft: bool = False  # 草稿: a 汇总 with unapproved reports, marked on every page
    dataset: Dataset | None = None  # every figure, derived ones recomputed
    findings: list[Finding] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.unit_name}{self.year}年度部门决算公开"

    def slot(self, what: str) -> str:
        return SLOT.format(what)


def published_dataset(source: Source) -> Dataset:
    """The source's dataset with every figure (derived ones recomputed), as the report prints it."""
    ds = source.dataset
    values = Figures(source.spec, ds.values).all_values()
    for t, rows in ds.values.items():
        for r, cols in rows.items():
            values.setdefault(t, {}).setdefault(r, {}).update(cols)
    return Dataset(ds.unit_code, ds.unit_name, ds.year or source.spec.year, values, dict(ds.names),
                   dict(ds.notes), dict(ds.cover), dict(ds.explanations), texts=ds.texts,
                   version=source.spec.version)


def _narrative_body(html: str) -> str:
    """The narrative page's body without its own title: sections 一 … as h2/h3 and paragraphs."""
    m = re.search(r"<body>(.*)</body>", html, re.S)
    body = m.group(1) if m else html
    return re.sub(r"^\s*<h1>.*?</h1>", "", body, count=1, flags=re.S).strip()


def build_report(source: Source, profile: Profile | None = None,
                 override: Mapping[Fig, Decimal] | None = None) -> Report:
    profile = profile or Profile()
    spec = source.spec
    ds = published_dataset(source)
    views = table_views(spec, ds, override)
    main = [v for v in views if not v.id.startswith(ANNEX_PREFIXES)]
    annex = [v for v in views if v.id.startswith(ANNEX_PREFIXES)]
    composition = profile.composition or [_member_name(code, name, source) for code, name in source.units]
    # 第三部分 is sections 一–十; the 整体支出绩效自评报告 is 第五部分's (once, under the table of contents' title)
    narrative_html = _narrative_body(render_narrative(ds, profile.previous, profile.budget, profile.reasons, fmt="html",
                                                      performance=False, spec=spec))
    narrative_md = render_narrative(ds, profile.previous, profile.budget, profile.reasons, fmt="md", performance=False,
                                    spec=spec)
    annex_html = annex_md = ""
    if not profile.annex:
        annex_html = re.sub(r"^\s*<h1>.*?</h1>", "", render_performance(ds, "html"), count=1, flags=re.S).strip()
        annex_html = re.sub(r"<(/?)h2>", r"<\1h3>", annex_html)
        annex_md = re.sub(r"^# [^\n]*\n", "", render_performance(ds, "md"), count=1)
    return Report(
        unit_code=ds.unit_code, unit_name=ds.unit_name, year=int(ds.year or spec.year),
        duties=profile.duties, institutions=profile.institutions, composition=composition,
        consolidated=source.consolidated, tables=main, narrative_html=narrative_html, narrative_md=narrative_md,
        terms=profile.terms, annex_title=profile.annex_title or f"{ds.year or spec.year}年度{ds.unit_name}整体支出绩效自评报告",
        annex=profile.annex, annex_tables=annex, annex_html=annex_html, annex_md=annex_md,
        annex_note=ANNEX_NOTE if source.consolidated and not _has_forms(spec, ds) else "", dataset=ds,
        draft=source.draft)


ANNEX_NOTE = ("说明：本报告为汇总公开，附件1–3（部门整体支出绩效评价基础数据表、部门整体支出绩效自评表、项目支出绩效自评表）"
              "是部门自己的表，不由各单位的表相加；本次汇总未收到部门自己填报的附件1–3，故不列示。")


def _has_forms(spec: Spec, ds: Dataset) -> bool:
    """Whether the data carry any figure or word of a 附件 form."""
    forms = {t.id for t in spec.tables.values() if t.kind == "form"}
    return any(ds.values.get(t) or ds.texts.get(t) for t in forms)


def _member_name(code: str, name: str, source: Source) -> str:
    """A unit of 决算单位构成; a unit publishing only itself is its 本级."""
    if not source.consolidated and len(source.units) == 1 and not name.endswith("本级"):
        return f"{name}本级"
    return name


def narrative_text(report: Report) -> str:
    """第三部分 and 第五部分's 整体支出绩效自评报告 as the published text reads (for the checks)."""
    annex = "\n".join(report.annex) if report.annex else report.annex_md
    return report.narrative_md + ("\n" + annex if annex else "")


def preflight(source: Source, report: Report, profile: Profile | None = None) -> list[Finding]:
    """What must hold before publishing: the 审核 rules of every table, the 说明's figures."""
    profile = profile or Profile()
    spec = source.spec
    figures = Figures(spec, source.dataset.values)
    units = max(1, len(source.units)) if source.consolidated else 1
    results = evaluate_rules(spec, figures, source.dataset.notes, expand_rules(spec, figures.item_codes), units)
    out = [f for f in rule_findings(results, source.dataset.explanations)]
    if source.draft:
        out.append(Finding("publish-draft", ERROR, "这是草稿：汇总中含未经审核通过的报表，不得公开；各单位审核通过后再发布",
                           expected="只含审核通过的报表", actual="草稿"))
    if source.incomplete:
        listed = "；".join(f"{code} {name}（{why}）" for code, name, why in source.incomplete)
        out.append(Finding("publish-consolidation-incomplete", ERROR,
                           f"汇总不完整：{len(source.incomplete)} 个单位未报送或报送未完成，发布的不是全部门的数：{listed}",
                           expected="全部单位报送且无错误", actual=f"{len(source.incomplete)} 个单位未完成"))
    assert report.dataset is not None
    for f in check_narrative(narrative_text(report), report.dataset, profile.previous, profile.budget, spec=source.spec):
        out.append(f)
    return out


def blocking(findings: list[Finding]) -> list[Finding]:
    """Findings that stop a publication unless forced: errors and warnings, not information."""
    return [f for f in findings if f.severity != INFO]
