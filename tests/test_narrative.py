"""The 情况说明 rendered from the seed's figures, and check-narrative on the seed's own text."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli.narrative import check_narrative as check_cmd
from generator.cli.narrative import narrative as narrative_cmd
from generator.core.dataset import DataError, Dataset, load_dataset
from generator.core.findings import ERROR, INFO, WARNING
from generator.narrative import build_context, change, check_narrative, load_budget, load_reasons, render_narrative
from generator.narrative.render import REASON_SLOTS

REPO = Path(__file__).resolve().parents[1]
SEED_JSON = REPO / "specs" / "samples" / "seed-2024.json"
SEED_TEXT = REPO / "specs" / "samples" / "seed-2024-report.txt"

# 五（三） of the seed: 年初预算数 and the six projects (年初预算, 决算).
BUDGET = {
    "年初预算数": "2314.68",
    "项目": [
        {"名称": "长沙市企业服务中心工作经费", "年初预算": "184", "决算": "178.84"},
        {"名称": "公共服务平台运维和项目评审室工作经费", "年初预算": "110", "决算": "84.20"},
        {"名称": "离退休人员工作经费", "年初预算": "17.67", "决算": "17.38"},
        {"名称": "中小企业公共服务专项活动经费", "年初预算": "1000", "决算": "622.03"},
        {"名称": "中小企业发展专项", "年初预算": "440", "决算": "215.05"},
        {"名称": "中小企业公共服务平台补助资金", "年初预算": "40", "决算": "35.89"},
    ],
    "机关运行经费": {"本年": "0.00", "上年": "0.00"},
}


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return load_dataset(SEED_JSON)


@pytest.fixture()
def previous() -> Dataset:
    """Last year as the seed's 说明 implies it: 总计 2,239.30 (减少110.45), 三公 0.79 (增加0.82)."""
    prev = Dataset(unit_code="430001001", unit_name="长沙市企业服务中心", year=2023)
    for table, row, col, value in [
        ("公开01", "30", "1", "2239.30"),
        ("公开04", "32", "1", "2239.30"),
        ("公开05", "合计", "1", "2239.30"),
        ("公开09", "1", "7", "0.79"),
        ("公开09", "1", "8", "0.00"),
        ("公开09", "1", "9", "0.79"),
        ("公开09", "1", "10", "0.00"),
        ("公开09", "1", "11", "0.79"),
        ("公开09", "1", "12", "0.00"),
    ]:
        prev.set(table, row, col, Decimal(value))
    return prev


def section(text: str, start: str, end: str | None) -> str:
    """The Markdown between heading ``## start…`` and the next ``## end…``."""
    begin = text.index(f"## {start}")
    stop = text.index(f"## {end}", begin) if end else len(text)
    return text[begin:stop]


def seed_part(first: str, last: str | None) -> str:
    text = SEED_TEXT.read_text(encoding="utf-8")
    begin = text.index(first)
    return text[begin: text.index(last, begin) if last else len(text)]


def loud(findings):  # the findings that fail a check (error or warning)
    return [f for f in findings if f.severity in (ERROR, WARNING)]


# ---------------------------------------------------------------- arithmetic


def test_change_words_and_rates():
    down = change(Decimal("2128.85"), Decimal("2239.30"))
    assert (down["word"], down["amount"], down["rate_word"], down["rate"]) == ("减少", "110.45", "降低", "4.93")
    up = change(Decimal("1.61"), Decimal("0.79"))
    assert (up["word"], up["amount"], up["rate_word"], up["rate"]) == ("增加", "0.82", "增长", "103.80")
    assert change(Decimal("5"), Decimal("5.00")) == {"known": True, "flat": True}
    assert change(Decimal("5"), None) == {"known": False, "flat": False}
    from_zero = change(Decimal("3"), Decimal("0"))
    assert from_zero["word"] == "增加" and from_zero["rate"] is None


# ---------------------------------------------------------------- sections 一 … 十


def test_section_1_totals_and_change(ds, previous):
    without = section(render_narrative(ds), "一、", "二、")
    assert "2024年度收、支总计2,128.85万元，与上年相比，【待填：上年数】。" in without
    assert "主要原因是：【待填：主要原因】。" in without
    with_prev = section(render_narrative(ds, previous=previous), "一、", "二、")
    assert "收、支总计2,128.85万元，与上年相比，减少110.45万元，降低4.93%。" in with_prev
    assert "【待填：上年数】" not in with_prev


def test_section_1_flat_and_increase(ds, previous):
    previous.set("公开01", "30", "1", Decimal("2128.85"))
    assert "收、支总计2,128.85万元，与上年持平。" in render_narrative(ds, previous=previous)
    previous.set("公开01", "30", "1", Decimal("2000.00"))
    assert "与上年相比，增加128.85万元，增长6.44%。" in render_narrative(ds, previous=previous)


def test_section_2_income_shares(ds):
    text = section(render_narrative(ds), "二、", "三、")
    assert "2024年度收入合计2,128.85万元，其中：财政拨款收入2,128.85万元，占100.00%；" in text
    for name in ("上级补助收入", "事业收入", "经营收入", "附属单位上缴收入"):
        assert f"{name}0.00万元，占0.00%；" in text
    assert "其他收入0.00万元，占0.00%。" in text


def test_section_3_spending_shares(ds):
    text = section(render_narrative(ds), "三、", "四、")
    assert "2024年度支出合计2,128.85万元，其中：基本支出975.45万元，占45.82%；项目支出1,153.40万元，占54.18%；" in text
    assert "对附属单位补助支出0.00万元，占0.00%。" in text


def test_section_4_financial_totals(ds, previous):
    text = section(render_narrative(ds, previous=previous), "四、", "五、")
    assert "2024年度财政拨款收、支总计2,128.85万元，与上年相比，减少110.45万元，降低4.93%。" in text


def test_section_5_general_budget(ds, previous):
    text = section(render_narrative(ds, previous=previous, budget=BUDGET), "五、", "六、")
    assert "一般公共预算财政拨款支出2,128.85万元，占本年支出合计的100.00%，与上年相比，一般公共预算财政拨款支出减少110.45万元，降低4.93%。" in text
    assert "主要用于以下方面：资源勘探工业信息等支出2,128.85万元，占100.00%。" in text
    assert "年初预算数为2,314.68万元，支出决算数为2,128.85万元，完成年初预算的91.97%，其中：" in text
    assert "长沙市企业服务中心工作经费：年初预算为184.00万元，支出决算为178.84万元，完成年初预算的97.20%。" in text
    for rate in ("76.55", "98.36", "62.20", "48.88"):
        assert f"完成年初预算的{rate}%" in text
    # 35.89 / 40 = 89.725 exactly: half up is 89.73 (the seed prints 89.72, a float artefact)
    assert "中小企业公共服务平台补助资金：年初预算为40.00万元，支出决算为35.89万元，完成年初预算的89.73%。" in text


def test_section_5_without_budget_has_slots(ds):
    text = section(render_narrative(ds), "五、", "六、")
    assert "年初预算数为【待填：年初预算数】万元，支出决算数为2,128.85万元，完成年初预算的【待填：完成比例】%。" in text
    assert "【待填：各项目年初预算、支出决算及完成年初预算的比例】" in text


def test_section_6_basic_spending(ds):
    text = section(render_narrative(ds), "六、", "七、")
    assert "2024年度一般公共预算财政拨款基本支出975.45万元，其中：" in text
    assert "人员经费925.85万元，占基本支出的94.92%，主要包括基本工资95.29万元、津贴补贴9.00万元、" in text
    assert "其他对个人和家庭的补助70.76万元。" in text
    assert "公用经费49.60万元，占基本支出的5.08%，主要包括办公费1.85万元、" in text
    assert "其他商品和服务支出29.95万元。" in text
    assert "伙食补助费" not in text  # zero items are left out


def test_section_7_sangong(ds, previous):
    text = section(render_narrative(ds, previous=previous), "七、", "八、")
    assert "2024年度“三公”经费财政拨款支出预算为1.90万元，支出决算为1.61万元，完成预算的84.74%；与上年相比，增加0.82万元，增长103.80%。" in text
    assert "决算数小于预算数的主要原因是：【待填：主要原因】。决算数大于上年数的主要原因是：" in text
    assert "1.因公出国（境）费支出预算为0.00万元，支出决算为0.00万元，完成预算的100.00%；与上年持平。" in text
    assert "2.公务用车购置费及运行维护费支出预算为1.90万元，支出决算为1.61万元，完成预算的84.74%；与上年相比，增加0.82万元，增长103.80%。其中：" in text
    assert "公务用车运行维护费支出预算为1.90万元，支出决算为1.61万元，完成预算的84.74%；" in text
    assert "3.公务接待费支出预算为0.00万元，支出决算为0.00万元，完成预算的100.00%；与上年持平。" in text
    without = section(render_narrative(ds), "七、", "八、")
    assert "决算数【待填：大于/小于/等于】上年数" in without


def test_section_8_government_funds(ds):
    text = section(render_narrative(ds), "八、", "九、")
    assert ("2024年度政府性基金预算财政拨款收入0.00万元；年初结转和结余0.00万元；支出0.00万元，"
            "其中基本支出0.00万元，项目支出0.00万元；年末结转和结余0.00万元。") in text
    assert "具体情况如下：本单位无政府性基金预算财政拨款收支。" in text


def test_section_9_state_capital(ds):
    text = section(render_narrative(ds), "九、", "十、")
    assert "2024年度国有资本经营预算财政拨款收入0.00万元；" in text
    assert "具体情况如下：本单位无国有资本经营预算财政拨款收支。" in text
    busy = Dataset.from_json(ds.to_json())
    busy.set("公开04", "3", "1", Decimal("10"))
    busy.set("公开08", "合计", "1", Decimal("10"))
    busy.set("公开08", "合计", "2", Decimal("4"))
    busy.set("公开08", "合计", "3", Decimal("6"))
    text = section(render_narrative(busy), "九、", "十、")
    assert "国有资本经营预算财政拨款收入10.00万元；年初结转和结余0.00万元；支出10.00万元，其中基本支出4.00万元，项目支出6.00万元；" in text
    assert "具体情况如下：【待填：具体情况】" in text


def test_section_10_admin_costs(ds):
    # the workbook's 附表1 (the seed fills it) gives 机关运行经费; without it, the budget file
    assert "机关运行经费支出0.00万元，比上年决算数持平。" in render_narrative(ds)
    ds = Dataset(ds.unit_code, ds.unit_name, ds.year, {t: v for t, v in ds.values.items() if t != "附表1"}, ds.names)
    assert "机关运行经费支出【待填：机关运行经费】万元，比上年决算数【待填：上年数】。" in render_narrative(ds)
    same = render_narrative(ds, budget=BUDGET, reasons={"十": "本单位无机关运行经费。"})
    assert "本部门2024年度机关运行经费支出0.00万元，比上年决算数持平。主要原因是：本单位无机关运行经费。" in same
    more = render_narrative(ds, budget={"机关运行经费": {"本年": "12.5", "上年": "10"}})
    assert "机关运行经费支出12.50万元，比上年决算数增加2.50万元，增长25.00%。" in more


def test_context_is_plain_data(ds):
    ctx = build_context(ds)
    assert ctx["s3"]["parts"][0] == {"name": "基本支出", "amount": "975.45", "share": "45.82"}
    assert ctx["s7"]["合计"]["rate"] == "84.74"
    assert ctx["s5"]["initial"] is None


# ---------------------------------------------------------------- reasons, formats


def test_reasons_file_fills_slots(ds, tmp_path):
    path = tmp_path / "reasons.yaml"
    path.write_text("一: 评审室建设已完工。\n七:\n  一:\n    预算: 厉行节约，公车使用频率减少\n", encoding="utf-8")
    reasons = load_reasons(path)
    assert reasons == {"一": "评审室建设已完工", "七.一.预算": "厉行节约，公车使用频率减少"}
    text = render_narrative(ds, reasons=reasons)
    assert "主要原因是：评审室建设已完工。" in text  # one 。, not two
    assert "决算数小于预算数的主要原因是：厉行节约，公车使用频率减少。" in text
    bad = tmp_path / "bad.yaml"
    bad.write_text("十一: 不存在的章节\n", encoding="utf-8")
    with pytest.raises(DataError, match="未知的原因键"):
        load_reasons(bad)


def test_budget_file_errors(tmp_path):
    path = tmp_path / "budget.yaml"
    path.write_text("年初预算数: abc\n", encoding="utf-8")
    with pytest.raises(DataError, match="年初预算数"):
        load_budget(path)
    path.write_text(json.dumps(BUDGET, ensure_ascii=False), encoding="utf-8")
    assert load_budget(path).projects[4].initial == Decimal("440")


def test_html_is_escaped_and_marks_slots(ds):
    html = render_narrative(ds, reasons={"一": "<b>原因</b>"}, fmt="html")
    assert html.startswith("<!DOCTYPE html>")
    assert "<h2>一、收入支出决算总体情况说明</h2>" in html
    assert "&lt;b&gt;原因&lt;/b&gt;" in html and "<b>原因</b>" not in html
    assert '<mark class="slot">【待填：上年数】</mark>' in html
    assert "<p>2024年度收入合计2,128.85万元，其中：" in html


def test_docx_output(ds):
    docx = pytest.importorskip("docx")
    from generator.narrative import render_docx

    data = render_docx(ds)
    assert data[:2] == b"PK"
    import io

    paragraphs = [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]
    assert "一、收入支出决算总体情况说明" in paragraphs
    assert any("基本支出975.45万元，占45.82%" in p for p in paragraphs)


# ---------------------------------------------------------------- check-narrative


def test_seed_part_three_has_no_mismatch(ds):
    text = seed_part("第三部分", "第四部分")
    # the two mismatches: 十二 “服务采购授予中小企业合同金额占服务支出金额的0%” where 附表1's share is 100%
    # (346.49 of 346.49: the seed's own slip), and 十四（二）“绩效自评得分7.57分” where 附件2's 总分 is 96.08
    # (7.57 is its 执行率 score)
    fujian = [("narrative-percent-mismatch", "0%"), ("narrative-score-mismatch", "7.57")]
    assert [(f.code, f.actual) for f in loud(check_narrative(text, ds))] == fujian
    # with last year's figures and the budget data, the 与上年相比 and 五（三） numbers are checked too
    prev = Dataset()
    for table, row, col in (("公开01", "30", "1"), ("公开04", "32", "1"), ("公开05", "合计", "1")):
        prev.set(table, row, col, Decimal("2239.30"))
    for col, value in (("7", "0.79"), ("8", "0"), ("9", "0.79"), ("10", "0"), ("11", "0.79"), ("12", "0")):
        prev.set("公开09", "1", col, Decimal(value))
    findings = check_narrative(text, ds, previous=prev, budget=BUDGET)
    assert [(f.code, f.actual) for f in loud(findings)] == fujian
    assert not [f for f in findings if f.code == "narrative-unverifiable" and "上年" in f.message]


@pytest.mark.slow
def test_seed_part_three_checks_are_real(ds):
    """The same sentences, one number changed: each change is caught."""
    text = seed_part("第三部分", "第四部分")
    for right, wrong, code, expected in [
        ("基本支出975.45万元，占45.82%", "基本支出975.54万元，占45.82%", "narrative-amount-mismatch", "975.45"),
        ("基本支出975.45万元，占45.82%", "基本支出975.45万元，占45.28%", "narrative-percent-mismatch", "45.82%"),
        ("公用经费49.60万元，占基本支出的5.08%", "公用经费49.60万元，占基本支出的5.80%",
         "narrative-percent-mismatch", "5.08%"),
        ("支出决算为1.61万元，完成预算的84.74%；与上年相比增加",
         "支出决算为1.61万元，完成预算的87.44%；与上年相比增加", "narrative-percent-mismatch", "84.74%"),
        ("其他交通费用10.09万元", "其他交通费用10.90万元", "narrative-amount-mismatch", "10.09"),
        ("年末结转和结余0.00万元。具体情况如下：    本单位无政府性基金收支",
         "年末结转和结余3.00万元。具体情况如下：    本单位无政府性基金收支", "narrative-amount-mismatch", "0.00"),
    ]:
        assert right in text
        findings = [f for f in loud(check_narrative(text.replace(right, wrong, 1), ds))  # the seed's own slips (test
                    if f.code != "narrative-score-mismatch" and f.actual != "0%"]  # above): 7.57 and 服务's 0%
        assert [(f.code, f.severity, f.expected) for f in findings] == [(code, ERROR, expected)], wrong


def test_seed_part_five_flags_goods_and_services(ds):
    text = seed_part("第五部分", None)
    findings = check_narrative(text, ds)
    hit = [f for f in findings if f.code == "narrative-amount-mismatch"]
    assert len(hit) == 1
    f = hit[0]
    assert (f.severity, f.table, f.row, f.col, f.expected, f.actual) == (ERROR, "公开06", "302", "决算数", "49.60", "49.59")
    assert "商品和服务支出为49.59万元" in f.message
    malformed = [f for f in findings if f.code == "narrative-malformed-number"]
    assert {f.actual for f in malformed} == {"75.73%%", "76.55%%", "98.36%%", "62.20%%"}


def test_double_percent_is_malformed(ds):
    findings = check_narrative("2024年度本单位整体支出全年预算数2810.93万元,执行数2128.85万元,完成预算的75.73%%。", ds)
    bad = [f for f in findings if f.code == "narrative-malformed-number"]
    assert len(bad) == 1 and bad[0].severity == ERROR and bad[0].actual == "75.73%%"
    assert "75.73%%" in bad[0].message


def test_other_malformed_numbers(ds):
    assert [f.actual for f in check_narrative("收入合计21,28.85万元。", ds)
            if f.code == "narrative-malformed-number"] == ["21,28.85万元"]
    assert [f.actual for f in check_narrative("支出合计2128.85.00万元。", ds)
            if f.code == "narrative-malformed-number"] == ["2128.85.00万元"]
    assert [f.code for f in check_narrative("人员经费为万元。", ds)] == ["narrative-malformed-number"]


def test_thousands_separator_optional(ds):
    for text in ("2024年度收入合计2,128.85万元。", "2024年度收入合计2128.85万元。"):
        assert loud(check_narrative(text, ds)) == []
    wrong = loud(check_narrative("2024年度收入合计2,128.58万元。", ds))
    assert [(f.code, f.expected, f.actual) for f in wrong] == [("narrative-amount-mismatch", "2,128.85", "2,128.58")]


def test_bare_share_uses_the_head_amount(ds):
    ok = "2024年度支出合计2,128.85万元，其中：基本支出975.45万元，占45.82%；项目支出1,153.40万元，占54.18%。"
    assert loud(check_narrative(ok, ds)) == []
    bad = loud(check_narrative(ok.replace("占54.18%", "占55.18%"), ds))
    assert [(f.code, f.expected) for f in bad] == [("narrative-percent-mismatch", "54.18%")]


def test_previous_year_numbers_need_previous(ds, previous):
    text = "2024年度收、支总计2,128.85万元，与上年相比，减少110.45万元，降低4.93%。"
    alone = check_narrative(text, ds)
    assert loud(alone) == []
    assert [f.code for f in alone] == ["narrative-unverifiable", "narrative-unverifiable"]
    assert all(f.severity == INFO for f in alone)
    assert check_narrative(text, ds, previous=previous) == []
    wrong_amount = loud(check_narrative(text.replace("110.45", "100.45"), ds, previous=previous))
    assert [(f.code, f.expected) for f in wrong_amount][0] == ("narrative-amount-mismatch", "减少110.45万元")
    wrong_way = loud(check_narrative(text.replace("减少", "增加"), ds, previous=previous))
    assert wrong_way and wrong_way[0].code == "narrative-amount-mismatch"


def test_change_rate_checked_against_printed_change(ds):
    # without last year's data the rate must still agree with the printed change: 110.45 / 2239.30
    findings = loud(check_narrative("2024年度收、支总计2,128.85万元，与上年相比，减少110.45万元，降低5.93%。", ds))
    assert [(f.code, f.severity, f.expected) for f in findings] == [("narrative-percent-doubtful", WARNING, "4.93%")]


def test_budget_execution_checked_with_budget_data(ds):
    text = "中小企业发展专项：年初预算为440万元，决算支出为215.05万元，完成年初预算的48.88%。"
    assert loud(check_narrative(text, ds, budget=BUDGET)) == []
    # a wrong 年初预算 is one error; the rate still agrees with the budget data, so it is not repeated
    wrong = loud(check_narrative(text.replace("440万元", "450万元"), ds, budget=BUDGET))
    assert [(f.code, f.expected) for f in wrong] == [("narrative-amount-mismatch", "440.00")]
    wrong = loud(check_narrative(text.replace("48.88%", "47.79%"), ds, budget=BUDGET))
    assert [(f.code, f.severity, f.expected) for f in wrong] == [("narrative-percent-mismatch", ERROR, "48.88%")]
    # without budget data the rate is still checked against the two printed amounts (a warning)
    wrong = loud(check_narrative(text.replace("48.88%", "47.79%"), ds))
    assert [(f.code, f.severity, f.expected) for f in wrong] == [("narrative-percent-doubtful", WARNING, "48.88%")]


def test_conservative_on_what_it_cannot_tie(ds):
    text = "本部门2024年度政府采购支出总额347.02万元，其中：政府采购货物支出0.53 万元。单位价值100万元以上设备0台。"
    # without the 附表1 that names these figures (the seed fills it), nothing ties them
    ds = Dataset(ds.unit_code, ds.unit_name, ds.year, {t: v for t, v in ds.values.items() if t != "附表1"}, ds.names)
    findings = check_narrative(text, ds)
    assert loud(findings) == []
    assert {f.code for f in findings} == {"narrative-unmatched"}
    # numbers inside a reason are about other things (here last year's project)
    reason = "收、支总计2,128.85万元，主要是因为2023年度建设评审室，年度决算支出148.99万元。"
    assert loud(check_narrative(reason, ds)) == []


def test_fund_lines_use_their_own_table(ds):
    line = ("2024年度政府性基金预算财政拨款收入0.00万元；年初结转和结余0.00万元；支出0.00万元，"
            "其中基本支出0.00万元，项目支出0.00万元；年末结转和结余0.00万元。")
    assert loud(check_narrative(line, ds)) == []
    assert loud(check_narrative("其中基本支出0.00万元。", ds))[0].expected == "975.45"


def test_reason_slots_documented():
    assert "五.一" in REASON_SLOTS and "七.二.运行.情况" in REASON_SLOTS


# ---------------------------------------------------------------- CLI


def test_cli_narrative_markdown_and_html(tmp_path):
    runner = CliRunner()
    result = runner.invoke(narrative_cmd, [str(SEED_JSON)])
    assert result.exit_code == 0, result.output
    assert "2024年度收、支总计2,128.85万元" in result.output
    reasons = tmp_path / "r.yaml"
    reasons.write_text("一: 评审室建设已完工\n", encoding="utf-8")
    budget = tmp_path / "b.json"
    budget.write_text(json.dumps(BUDGET, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out" / "shuoming.html"
    result = runner.invoke(narrative_cmd, [str(SEED_JSON), "--format", "html", "-o", str(out),
                                           "--reasons", str(reasons), "--budget", str(budget)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "主要原因是：评审室建设已完工。" in html and "完成年初预算的91.97%" in html


def test_cli_narrative_previous_and_errors(tmp_path, previous):
    runner = CliRunner()
    prev_path = tmp_path / "prev.json"
    prev_path.write_text(json.dumps(previous.to_json(), ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(narrative_cmd, [str(SEED_JSON), "--previous", str(prev_path)])
    assert result.exit_code == 0 and "减少110.45万元，降低4.93%" in result.output
    missing = runner.invoke(narrative_cmd, [str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "找不到数据文件" in missing.output
    docx = runner.invoke(narrative_cmd, [str(SEED_JSON), "--format", "docx"])
    assert docx.exit_code == 2 and "-o" in docx.output
    template = runner.invoke(narrative_cmd, ["--reasons-template"])
    assert template.exit_code == 0 and "七.二.接待.情况:" in template.output


def test_cli_xlsx_without_reader(tmp_path, monkeypatch):
    book = tmp_path / "unit.xlsx"
    book.write_bytes(b"PK")
    monkeypatch.setitem(sys.modules, "generator.xlsx.reader", None)  # import fails
    result = CliRunner().invoke(narrative_cmd, [str(book)])
    assert result.exit_code == 2 and "generator.xlsx.reader" in result.output


def test_cli_check_narrative_exit_codes(tmp_path):
    runner = CliRunner()
    good = tmp_path / "good.txt"
    good.write_text("2024年度支出合计2,128.85万元，其中：基本支出975.45万元，占45.82%。\n", encoding="utf-8")
    result = runner.invoke(check_cmd, [str(good), str(SEED_JSON)])
    assert result.exit_code == 0, result.output
    assert "错误 0 条，提示 0 条" in result.output
    bad = tmp_path / "bad.txt"
    bad.write_text("基本支出决算975.45万元，其中：工资福利支出为597.13万元；商品和服务支出为49.59万元。\n"
                   "执行率75.73%%\n", encoding="gbk")
    result = runner.invoke(check_cmd, [str(bad), str(SEED_JSON), "--no-info"])
    assert result.exit_code == 1
    assert "商品和服务支出为49.59万元" in result.output and "75.73%%" in result.output
    assert "[信息]" not in result.output
    as_json = runner.invoke(check_cmd, [str(bad), str(SEED_JSON), "--json"])
    doc = json.loads(as_json.output)
    assert doc["stats"]["error"] == 2
    assert {f["code"] for f in doc["findings"]} >= {"narrative-amount-mismatch", "narrative-malformed-number"}
    unusable = runner.invoke(check_cmd, [str(tmp_path / "missing.txt"), str(SEED_JSON)])
    assert unusable.exit_code == 2 and "无法读取文本文件" in unusable.output


def test_cli_check_narrative_on_seed(tmp_path):
    text = seed_part("第五部分", None)
    path = tmp_path / "part5.txt"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(check_cmd, [str(path), str(SEED_JSON)])
    assert result.exit_code == 1
    assert "（应为 49.60，实际 49.59）" in result.output


def test_other_phrasings(ds):
    right = [
        "2024年度收入总计2,128.85万元，支出总计2,128.85万元。",
        "一般公共预算财政拨款支出决算2128.85万元。",
        "2024年度一般公共预算财政拨款支出主要用于资源勘探工业信息等支出（类）2,128.85万元。",
        "2024年度支出合计2,128.85万元，其中基本支出975.45万元，占比45.82%。",
        "基本支出975.45万元（占总支出的45.82%），项目支出1153.4万元。",
        "2024年度收、支总计2,128.85万元。与2023年度相比，收、支总计各减少110.45万元，下降4.93%。",
    ]
    assert loud(check_narrative("\n".join(right), ds)) == []
    wrong = "2024年度一般公共预算财政拨款支出主要用于资源勘探工业信息等支出（类）2,128.58万元。"
    assert [f.expected for f in loud(check_narrative(wrong, ds))] == ["2,128.85"]
    wrong = "2024年度支出合计2,128.85万元，其中基本支出975.45万元，占比46.82%。"
    assert [f.expected for f in loud(check_narrative(wrong, ds))] == ["45.82%"]


def test_cli_reads_workbook(seed_xlsx):
    runner = CliRunner()
    from_book = runner.invoke(narrative_cmd, [str(seed_xlsx)])
    assert from_book.exit_code == 0, from_book.output
    # the totals are formulas in the workbook: they come from the reader's computed values
    for sentence in ("2024年度收、支总计2,128.85万元", "收入合计2,128.85万元，其中：财政拨款收入2,128.85万元，占100.00%",
                     "基本支出975.45万元，占45.82%", "完成预算的84.74%"):
        assert sentence in from_book.output
    assert "【待填：金额】" not in from_book.output
    checked = runner.invoke(check_cmd, [str(_write(seed_xlsx.parent / "s.txt", "2024年度收入合计2,128.85万元。")),
                                        str(seed_xlsx)])
    assert checked.exit_code == 0, checked.output


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_change_without_stated_current_amount(ds, previous):
    # 项目支出 is not stated in the sentence: its rate is checked only against last year's data
    text = "项目支出比上年增加100万元，增长10%。"
    assert loud(check_narrative(text, ds)) == []
    previous.set("公开03", "合计", "3", Decimal("1053.40"))  # 100 / 1053.40 = 9.49%
    assert loud(check_narrative(text.replace("增长10%", "增长9.49%"), ds, previous=previous)) == []
    wrong = loud(check_narrative(text, ds, previous=previous))
    assert [(f.code, f.severity, f.expected) for f in wrong] == [("narrative-percent-mismatch", ERROR, "9.49%")]
    # a subject the checker does not know is never replaced by the amount stated before it
    assert loud(check_narrative("2024年度收、支总计2,128.85万元。差旅费较上年减少2万元，下降20%。", ds)) == []
    # nor is a rate without a change amount tied to an amount with another subject between
    previous.set("公开03", "合计", "2", Decimal("900.00"))
    assert loud(check_narrative("基本支出975.45万元，其中培训费较上年减少16.37%。", ds, previous=previous)) == []
    wrong = loud(check_narrative("基本支出975.45万元，较上年增长6.38%。", ds, previous=previous))
    assert [(f.code, f.expected) for f in wrong] == [("narrative-percent-mismatch", "8.38%")]
