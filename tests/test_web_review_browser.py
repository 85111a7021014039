"""Review on the web page in a real headless Chromium (issue 27): the office returns a unit's report
with a reason at a cell; the unit sees 已退回 with the reason at that cell on its page; it uploads a
fix; the office approves; the dashboard shows 已审核. Screenshots to ``$JUESUAN_SCREENSHOTS`` when set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from generator.core.spec import Spec

from .test_web_browser import CHROMIUM, CODE, DRIVER, browser, shot, wait_for
from .web_helpers import PASSWORD, Server, fill_template, make_round, template_plan, unit_data

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                                 reason="needs Debian's chromium and chromium-driver")]


@pytest.fixture()
def live(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    db, links = make_round(tmp_path)
    with Server(db, workers=1) as server:
        yield server, links


def _signed(path: Path, plan, who: str) -> Path:  # type: ignore[no-untyped-def]
    """The same figures with the cover's 填表人 filled (another content, as a corrected report is)."""
    wb = openpyxl.load_workbook(path)
    r, c = next(pos for pos, cell in plan.sheet("封面").cells.items() if cell.kind == "cover" and cell.label == "填表人")
    wb["封面"].cell(row=r + 1, column=c + 1).value = who
    wb.save(path)
    return path


def test_office_returns_the_unit_sees_why_fixes_and_is_approved(spec: Spec, live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    server, links = live
    template, plan = template_plan(spec, CODE, "长沙市工业信息研究所")
    (tmp_path / "t.xlsx").write_bytes(template)
    first = _signed(fill_template(tmp_path / "t.xlsx", plan, unit_data(CODE), tmp_path / "初报.xlsx"), plan, "张三")
    unit = browser(tmp_path / "profile-unit", tmp_path)
    office = browser(tmp_path / "profile-office", tmp_path)
    try:
        unit.get(server.url + links[CODE])
        unit.find_element(By.ID, "file").send_keys(str(first))
        unit.find_element(By.ID, "upload").click()
        wait_for(lambda: unit.find_element(By.ID, "status").text == "通过", what="通过")

        office.get(server.url + "/office/login")
        office.find_element(By.ID, "password").send_keys(PASSWORD)
        office.find_element(By.ID, "login").click()
        wait_for(lambda: office.current_url.endswith("/office"), what="the dashboard")
        assert "待审核" in office.find_element(By.ID, "reminders").text
        office.get(f"{server.url}/office/unit/{CODE}")
        office.find_element(By.ID, "reviewer").send_keys("李审核")
        office.find_element(By.ID, "reason").send_keys("公开05表与公开03表的事业运行支出不一致")
        office.find_element(By.ID, "cells").send_keys("公开05表!D10:应与公开03表一致")
        office.find_element(By.ID, "return").click()
        wait_for(lambda: office.find_element(By.ID, "review-state").text == "已退回", what="已退回 on the office page")

        unit.get(f"{server.url}/unit/{CODE}")
        assert unit.find_element(By.ID, "review-state").text == "已退回"
        assert "公开05表与公开03表的事业运行支出不一致" in unit.find_element(By.ID, "review-reason").text
        cells = unit.find_element(By.ID, "return-cells").text
        assert "公开05表!D10" in cells and "应与公开03表一致" in cells
        assert "报表已被退回" in unit.find_element(By.ID, "todo").text
        shot(unit, "unit-returned.png")

        fixed = _signed(fill_template(tmp_path / "t.xlsx", plan, unit_data(CODE), tmp_path / "改正.xlsx"), plan, "张三（更正）")
        unit.find_element(By.ID, "file").send_keys(str(fixed))
        unit.find_element(By.ID, "upload").click()
        wait_for(lambda: "/s/" in unit.current_url, what="the result page")
        unit.get(f"{server.url}/unit/{CODE}")
        assert unit.find_element(By.ID, "review-state").text == "待审核"
        assert "上一份报送" in unit.find_element(By.ID, "review").text

        office.get(f"{server.url}/office/unit/{CODE}")
        office.find_element(By.ID, "approve").click()
        wait_for(lambda: office.find_element(By.ID, "review-state").text == "已审核", what="已审核")
        office.get(f"{server.url}/office")
        wait_for(lambda: office.find_element(By.CSS_SELECTOR, f"tr[data-unit='{CODE}'] td.review").text == "已审核",
                 what="the dashboard to show 已审核")
        shot(office, "office-reviewed.png")
        unit.get(f"{server.url}/unit/{CODE}")
        assert unit.find_element(By.ID, "review-state").text == "已审核"
        assert unit.find_element(By.ID, "todo").text == "报表已审核通过，无需再报送。"
    finally:
        unit.quit()
        office.quit()
