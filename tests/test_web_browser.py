"""The collection web page in a real headless Chromium (Debian's chromium + chromium-driver, driven
by selenium) against ``juesuan serve`` on 127.0.0.1: a unit opens its link, downloads its template,
uploads it filled with an error, sees the finding at its cell, uploads the fixed one and sees 通过;
the office logs in, watches the status change live and sees both submissions; a unit's session
cannot open another unit's page (403). Screenshots of both pages go to ``$JUESUAN_SCREENSHOTS``
when set (the README's pictures)."""

from __future__ import annotations

import http.client
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.core.spec import Spec

from .web_helpers import PASSWORD, Server, fill_template, make_round, template_plan, typo_cell, unit_data

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CODE, NAME = "430100002", "长沙市工业信息研究所"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                                 reason="needs Debian's chromium and chromium-driver")]


def browser(profile: Path, downloads: Path):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must not look for a browser of its own
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                f"--user-data-dir={profile}", "--lang=zh-CN"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_page_load_timeout(60)
    return driver


def wait_for(cond, timeout: float = 30, what: str = ""):  # type: ignore[no-untyped-def]
    """Poll ``cond`` until it is true; a page that reloads under it (the live dashboard) is polled again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = cond()
        except (StaleElementReferenceException, NoSuchElementException):
            got = None
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    db, links = make_round(tmp_path)
    with Server(db, workers=1) as server:
        yield server, links


def shot(driver, name: str) -> None:  # type: ignore[no-untyped-def]
    where = os.environ.get("JUESUAN_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(where) / name))


def test_unit_and_office_in_chromium(spec: Spec, served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    server, links = served
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    unit = browser(tmp_path / "profile-unit", downloads)
    office = browser(tmp_path / "profile-office", tmp_path)
    try:
        # the unit opens its link: its own page, no secret left in the address bar
        unit.get(server.url + links[CODE])
        assert unit.current_url == f"{server.url}/unit/{CODE}"
        assert NAME in unit.find_element(By.TAG_NAME, "h1").text
        assert unit.find_element(By.ID, "status").text == "未报送"
        # downloads its template: the unit's own workbook
        unit.find_element(By.ID, "template").click()
        got = wait_for(lambda: [p for p in downloads.glob("*.xlsx")], what="the template download")[0]
        wait_for(lambda: not list(downloads.glob("*.crdownload")), what="the download to finish")
        template, plan = template_plan(spec, CODE, NAME)
        assert got.name == f"{CODE}-{NAME}.xlsx" and got.read_bytes() == template
        # fills it in with one entry that is not a number, uploads it
        bad = fill_template(got, plan, unit_data(CODE), tmp_path / "初报.xlsx", ("公开01", "1", "1", "一百二十"))
        unit.find_element(By.ID, "file").send_keys(str(bad))
        unit.find_element(By.ID, "upload").click()
        wait_for(lambda: "/s/" in unit.current_url, what="the result page")
        assert unit.find_element(By.ID, "status").text == "有错误"
        cells = [td.text for td in unit.find_elements(By.CSS_SELECTOR, "table.findings td.cell")]
        assert f"公开01表!{typo_cell(plan, '公开01', '1', '1')}" in cells
        typo = f"公开01表!{typo_cell(plan, '公开01', '1', '1')}"
        row = unit.find_element(By.XPATH, f"//tr[td[@class='cell' and text()='{typo}']]")
        assert "一百二十" in row.text and "错误" in row.text
        shot(unit, "unit-finding.png")

        # the office logs in and sees the unit's error
        office.get(server.url + "/office")
        assert office.current_url.endswith("/office/login")
        office.find_element(By.ID, "password").send_keys(PASSWORD)
        office.find_element(By.ID, "login").click()
        wait_for(lambda: office.current_url.endswith("/office"), what="the dashboard")
        wait_for(lambda: office.find_element(By.CSS_SELECTOR, f"tr[data-unit='{CODE}'] .st").text == "有错误",
                 what="the dashboard to show 有错误")

        # the unit fixes the cell and uploads again: 通过
        unit.get(f"{server.url}/unit/{CODE}")
        unit.find_element(By.ID, "file").send_keys(str(fill_template(got, plan, unit_data(CODE), tmp_path / "改好.xlsx")))
        unit.find_element(By.ID, "upload").click()
        wait_for(lambda: unit.find_element(By.ID, "status").text == "通过", what="通过")
        unit.get(f"{server.url}/unit/{CODE}")
        shot(unit, "unit-page.png")
        history = unit.find_element(By.CSS_SELECTOR, "table.history").text
        assert "初报.xlsx" in history and "改好.xlsx" in history

        # the office dashboard follows by itself (no reload by the test)
        wait_for(lambda: office.find_element(By.CSS_SELECTOR, f"tr[data-unit='{CODE}'] .st").text == "通过",
                 timeout=20, what="the dashboard to show 通过")
        shot(office, "office-dashboard.png")
        office.get(f"{server.url}/office/unit/{CODE}")  # (a click could race the dashboard's reload)
        subs = office.find_elements(By.CSS_SELECTOR, "section.sub h2")
        assert [s.text.split()[1] for s in subs] == ["改好.xlsx", "初报.xlsx"]
        assert "有错误" in subs[1].text and "通过" in subs[0].text

        # another unit's page with this unit's session: 403, and the page names nobody
        unit.get(f"{server.url}/unit/430100001")
        assert unit.title == "无权访问" and "430100001" not in unit.page_source
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in unit.get_cookies())
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for path, expected in (("/unit/430100001", 403), ("/unit/430100001/template", 403), (f"/unit/{CODE}", 200)):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", path, headers={"Cookie": cookie})
            resp = conn.getresponse()
            assert resp.status == expected, path  # the same cookie does open its own page
            resp.read()
            conn.close()
    finally:
        unit.quit()
        office.quit()
    log = server.log.read_text(encoding="utf-8", errors="replace")
    assert links[CODE].rsplit("/", 1)[1] not in log and f"/u/{CODE}/***" in log
    shutil.rmtree(tmp_path / "profile-unit", ignore_errors=True)
