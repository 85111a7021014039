"""Review on the web page, without a browser: only a logged-in office with the page's CSRF token may
approve or return; a report with errors cannot be approved, a return needs its reason (both said in
Chinese on the unit's office page, nothing stored); the unit's page and the dashboard say the state."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.core.spec import Spec
from generator.office.store import Store

from .test_web import CODE, client, filled, text_of, upload
from .web_helpers import PASSWORD, csrf_of, make_round


def _office(c) -> None:  # type: ignore[no-untyped-def]
    c.post("/office/login", data={"csrf": csrf_of(c.get("/office/login").text), "password": PASSWORD})


@pytest.mark.slow
def test_review_on_the_web_is_for_the_office_with_its_token(spec: Spec, tmp_path: Path) -> None:
    db, links = make_round(tmp_path)
    with client(db) as c:
        page = c.get(links[CODE])
        tpl = c.get(f"/unit/{CODE}/template").content
        upload(c, page.text, filled(spec, tmp_path, tpl, typo=True), "初报.xlsx")
        # a unit's session is no office: back to the login page, nothing done
        r = c.post(f"/office/unit/{CODE}/review", data={"csrf": csrf_of(page.text), "action": "approve"})
        assert str(r.url).endswith("/office/login")
        _office(c)
        unit_page = c.get(f"/office/unit/{CODE}").text
        assert "审核当前报送" in unit_page
        assert c.post(f"/office/unit/{CODE}/review", data={"csrf": "wrong", "action": "approve"}).status_code == 403
        r = c.post(f"/office/unit/{CODE}/review", data={"csrf": csrf_of(unit_page), "action": "approve"})
        assert r.status_code == 400 and "有错误，不能审核通过" in text_of(r.text)
        r = c.post(f"/office/unit/{CODE}/review", data={"csrf": csrf_of(unit_page), "action": "return", "reason": " ",
                                                         "cells": "公开01表!C7"})
        assert r.status_code == 400 and "退回须写明原因" in text_of(r.text) and "公开01表!C7" in r.text
        r = c.post(f"/office/unit/{CODE}/review", data={"csrf": csrf_of(unit_page), "action": "return",
                                                         "reason": "公开01 第1行填了文字", "cells": "公开01表!C7:应填数字\n坏格子"})
        assert r.status_code == 400 and "表名!单元格" in text_of(r.text)
        r = c.post(f"/office/unit/{CODE}/review", data={"csrf": csrf_of(unit_page), "action": "return",
                                                         "reason": "公开01 第1行填了文字", "cells": "公开01表!C7:应填数字"})
        assert r.status_code == 200 and "已退回" in text_of(r.text)
        dash = text_of(c.get("/office").text)
        assert "已退回、尚未重报" in dash
    with Store(db) as store:
        got = store.reviews(CODE)
        assert [(a["action"], a["reviewer"], a["reason"], a["cells"]) for a in got] == [
            ("return", "财务部门", "公开01 第1行填了文字", [{"cell": "公开01表!C7", "note": "应填数字"}])]
    with client(db) as unit:  # the unit, in its own session, sees why
        page = text_of(unit.get(links[CODE]).text)
        assert "已退回" in page and "公开01 第1行填了文字" in page and "公开01表!C7" in page and "应填数字" in page


@pytest.mark.slow
def test_a_workbook_sent_under_another_units_name_is_told_to_both(spec: Spec, tmp_path: Path) -> None:
    """430100002's workbook uploaded from 430100003's page: the sender sees whose it is, the owner that
    its workbook arrived under another unit's name; the summary counts what the table lists."""
    db, links = make_round(tmp_path)
    other = "430100003"
    with client(db) as c:
        page = c.get(links[CODE])
        tpl = c.get(f"/unit/{CODE}/template").content
        mine = filled(spec, tmp_path, tpl, typo=False)
    with client(db) as c:
        page = c.get(links[other])
        r = upload(c, page.text, mine, "发错了.xlsx", code=other)
        text = text_of(r.text)
        shown_errors = r.text.count('<tr class="error">')
        assert f"错误 {shown_errors} 项" in text
        page = text_of(c.get(f"/unit/{other}").text)
        assert f"最近一次上传的工作簿属于 {CODE}" in page
    with client(db) as c:
        page = text_of(c.get(links[CODE]).text)
        assert f"本单位的工作簿曾以 {other}" in page
