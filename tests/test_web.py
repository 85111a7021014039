"""The collection web page in-process (Starlette's TestClient over the real app, real database, real
reader): unit links and their sessions, template download, upload → the collect pipeline → findings
at their cells, history, duplicates, the office pages; secrets, CSRF, escaping, limits."""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from generator.cli import cli
from generator.core.model import Figures
from generator.core.spec import Spec
from generator.office.collect import (
    ATTACH,
    DUP,
    ERR,
    PASS,
    UNREADABLE,
    WARN,
    evidence_path,
    tree_from_store,
    unit_report,
)
from generator.office.store import Store
from generator.web import auth
from generator.web.app import create_app, redact

from .web_helpers import PASSWORD, SAMPLES, csrf_of, fill_template, make_round, template_plan, typo_cell, unit_data

CODE, NAME = "430100002", "长沙市工业信息研究所"


@pytest.fixture()
def rnd(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return make_round(tmp_path)


def client(db: Path, **kw) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(create_app(db, workers=0, **kw), base_url="http://testserver", follow_redirects=True)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def filled(spec: Spec, tmp: Path, template: bytes, typo: bool) -> bytes:
    _, plan = template_plan(spec, CODE, NAME)
    src = tmp / "template.xlsx"
    src.write_bytes(template)
    out = fill_template(src, plan, unit_data(CODE), tmp / ("bad.xlsx" if typo else "good.xlsx"),
                        ("公开01", "1", "1", "一百二十") if typo else None)
    return out.read_bytes()


def upload(c: TestClient, page: str, data: bytes, name: str = "填好.xlsx", code: str = CODE):  # type: ignore[no-untyped-def]
    return c.post(f"/unit/{code}/upload", data={"csrf": csrf_of(page)}, files={"file": (name, data, "application/octet-stream")})


@pytest.mark.slow
def test_unit_downloads_template_uploads_error_then_fix(spec: Spec, rnd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, links = rnd
    with client(db) as c:
        page = c.get(links[CODE])
        assert page.status_code == 200 and str(page.url).endswith(f"/unit/{CODE}")
        assert NAME in page.text and "未报送" in page.text
        tpl = c.get(f"/unit/{CODE}/template")
        assert tpl.status_code == 200 and tpl.content[:2] == b"PK"
        assert tpl.content == template_plan(spec, CODE, NAME)[0]  # the unit's own template, its 科目 rows
        bad = upload(c, page.text, filled(spec, tmp_path, tpl.content, typo=True), "初报.xlsx")
        assert bad.status_code == 200 and re.search(r"/unit/430100002/s/\d+$", str(bad.url))
        body = text_of(bad.text)
        assert f"审核结果： {ERR}" in body
        _, plan = template_plan(spec, CODE, NAME)
        cell = typo_cell(plan, "公开01", "1", "1")
        assert re.search(rf'<td class="cell">公开01表!{cell}</td>', bad.text), "the finding names the cell to fix"
        assert "not-a-number" in bad.text and "一百二十" in bad.text
        assert "该单元格只能填数字金额" in bad.text  # what to do about it, in the feedback file's words
        good = upload(c, c.get(f"/unit/{CODE}").text, filled(spec, tmp_path, tpl.content, typo=False), "改好.xlsx")
        assert f"审核结果： {PASS}" in text_of(good.text)
        page = c.get(f"/unit/{CODE}")
        assert "初报.xlsx" in page.text and "改好.xlsx" in page.text  # history, newest first
        assert page.text.index("改好.xlsx") < page.text.index("初报.xlsx")
    with Store(db) as store:  # the collect pipeline: statuses, figures, findings, evidence
        tree = tree_from_store(store)
        row = next(r for r in unit_report(store, tree).rows if r.code == CODE)
        assert row.status == PASS and [s["status"] for s in row.history] == [ERR, PASS]
        assert row.current is not None and row.current["path"] == f"上传/{CODE}/改好.xlsx"
        assert store.values(row.current["id"], inputs_only=True)["公开01"]["1"]["1"] == unit_data(CODE).values["公开01"]["1"]["1"]
        for s in row.history:
            kept = evidence_path(db.parent / "round-files" / "evidence", s["sha256"])
            assert kept.is_file() and len(kept.read_bytes()) == s["size"]


@pytest.mark.slow
def test_same_file_twice_is_stored_once(spec: Spec, rnd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, links = rnd
    data = filled(spec, tmp_path, template_plan(spec, CODE, NAME)[0], typo=False)
    with client(db) as c:
        page = c.get(links[CODE]).text
        assert f"审核结果： {PASS}" in text_of(upload(c, page, data).text)
        again = upload(c, page, data, "again.xlsx")
        assert f"审核结果： {DUP}" in text_of(again.text)
    with Store(db) as store:
        subs = store.submissions()
        assert [s["duplicate_of"] for s in subs] == [None, subs[0]["id"]]
        assert store.conn.execute("SELECT count(DISTINCT submission_id) FROM inputs").fetchone()[0] == 1


@pytest.mark.slow
def test_another_units_page_wrong_or_revoked_secret_is_403(rnd) -> None:  # type: ignore[no-untyped-def]
    db, links = rnd
    with client(db) as c:
        assert c.get(links[CODE]).status_code == 200
        for path in ("/unit/430100001", "/unit/430100001/template", "/unit/430100001/s/1"):
            r = c.get(path)
            assert r.status_code == 403, path
        # a unit's secret with another unit's code; a wrong secret; an unknown unit: the same answer
        secret = links[CODE].rsplit("/", 1)[1]
        answers = [c.get(p) for p in (f"/u/430100001/{secret}", f"/u/{CODE}/{'x' * 32}", f"/u/999/{secret}")]
        assert {r.status_code for r in answers} == {403}
        assert len({r.text for r in answers}) == 1  # nothing tells a wrong secret from an unknown unit
        for r in answers:
            assert secret not in r.text and "430100001" not in r.text and "999" not in r.text
            assert NAME not in r.text and "长沙" not in r.text
    run = CliRunner().invoke(cli, ["links", "--db", str(db), "--revoke", CODE])
    assert run.exit_code == 0
    new = dict(line.split("\t") for line in run.stdout.strip().splitlines())[CODE]
    assert new.rsplit("/", 1)[1] != links[CODE].rsplit("/", 1)[1]
    with client(db) as c:
        assert c.get(links[CODE]).status_code == 403  # the old link
        assert c.get(new.removeprefix("http://127.0.0.1:8000")).status_code == 200


def test_a_revoked_link_ends_the_session_it_opened(rnd) -> None:  # type: ignore[no-untyped-def]
    db, links = rnd
    with client(db) as c:
        assert c.get(links[CODE]).status_code == 200
        app_round = c.app.app.app.state.round  # type: ignore[attr-defined]
        app_round.call(auth.revoke_link, CODE)
        assert c.get(f"/unit/{CODE}").status_code == 403


@pytest.mark.slow
def test_csrf_token_missing_or_wrong_is_refused(spec: Spec, rnd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, links = rnd
    data = filled(spec, tmp_path, template_plan(spec, CODE, NAME)[0], typo=False)
    with client(db) as c:
        c.get(links[CODE])
        for form in ({}, {"csrf": "forged"}):
            r = c.post(f"/unit/{CODE}/upload", data=form, files={"file": ("a.xlsx", data, "application/octet-stream")})
            assert r.status_code == 403 and "请求已过期" in r.text
        r = c.post("/office/login", data={"password": PASSWORD})
        assert r.status_code == 403
        assert "报送情况" not in c.get("/office").text  # still not logged in
    with Store(db) as store:
        assert store.submissions() == []


@pytest.mark.slow
def test_zip_bomb_and_junk_uploads_are_finding_pages(spec: Spec, rnd) -> None:  # type: ignore[no-untyped-def]
    db, links = rnd
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (300 * 1024 * 1024))  # 300 MB of zeros in ~300 KB
    with client(db) as c:
        page = c.get(links[CODE]).text
        for name, data in (("bomb.xlsx", bomb.getvalue()), ("报表.pdf", b"%PDF-1.4 not a workbook"),
                           ("empty.xlsx", b"")):
            r = upload(c, page, data, name)
            assert r.status_code == 200, name
            want = ATTACH if name.endswith(".pdf") else UNREADABLE  # a PDF is an attachment, never the report
            assert f"审核结果： {want}" in text_of(r.text), name
            assert 'class="error"' in r.text  # at least one error finding shown
    with Store(db) as store:
        assert [s["status"] for s in store.submissions()] == [UNREADABLE, ATTACH, UNREADABLE]


@pytest.mark.slow
def test_oversized_body_is_refused_by_its_length(rnd) -> None:  # type: ignore[no-untyped-def]
    db, links = rnd
    with client(db, max_upload=1024 * 1024) as c:
        page = c.get(links[CODE]).text
        r = upload(c, page, b"PK" + b"\0" * (2 * 1024 * 1024))
        assert r.status_code == 413 and "文件过大" in r.text
    with Store(db) as store:
        assert store.submissions() == []


@pytest.mark.slow
def test_html_in_unit_names_and_explanations_is_escaped(spec: Spec, tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    units.write_text('code,name,parent\n9001,"<script>alert(""x"")</script>所",\n', encoding="utf-8")
    db, links = make_round(tmp_path, units)
    with client(db) as c:
        page = c.get(links["9001"])
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text
        c.post("/office/login", data={"csrf": csrf_of(c.get("/office/login").text), "password": PASSWORD})
        dash = c.get("/office")
        assert "<script>alert" not in dash.text and "&lt;script&gt;alert" in dash.text
        assert "<script>alert" not in c.get("/office/unit/9001").text


@pytest.mark.slow
def test_office_login_dashboard_and_unit_detail(spec: Spec, rnd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, links = rnd
    with client(db) as c:
        assert str(c.get("/office").url).endswith("/office/login")
        bad = c.post("/office/login", data={"csrf": csrf_of(c.get("/office/login").text), "password": "wrong-password"})
        assert bad.status_code == 403 and "密码不正确" in bad.text
        ok = c.post("/office/login", data={"csrf": csrf_of(c.get("/office/login").text), "password": PASSWORD})
        assert ok.status_code == 200 and str(ok.url).endswith("/office")
        assert "未报送 5" in text_of(ok.text) and "汇总单位 1" in text_of(ok.text)
        v0 = c.get("/office/status.json").json()["version"]
        # a unit uploads in another browser
        with client(db) as u:
            page = u.get(links[CODE]).text
            upload(u, page, filled(spec, tmp_path, template_plan(spec, CODE, NAME)[0], typo=False))
        assert c.get("/office/status.json").json()["version"] != v0
        dash = text_of(c.get("/office").text)
        assert f"{CODE} {NAME} {PASS}" in dash and "未报送 4" in dash
        detail = c.get(f"/office/unit/{CODE}")
        assert "下载原件" in detail.text
        fb = c.get(f"/office/unit/{CODE}/feedback/xlsx")  # the feedback file of `juesuan feedback`, for this unit
        assert fb.status_code == 200 and fb.content[:2] == b"PK"
        fb_html = c.get(f"/office/unit/{CODE}/feedback/html")
        assert fb_html.status_code == 200 and NAME in fb_html.text and PASS in fb_html.text
        sid = int(re.search(r"/office/submission/(\d+)/file", detail.text).group(1))  # type: ignore[union-attr]
        got = c.get(f"/office/submission/{sid}/file")
        assert got.status_code == 200 and got.content[:2] == b"PK"
        c.post("/office/logout", data={"csrf": csrf_of(c.get("/office").text)})
        assert str(c.get("/office").url).endswith("/office/login")
        r = c.get(f"/office/submission/{sid}/file", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/office/login"


@pytest.mark.slow
def test_password_is_scrypt_and_links_are_constant_time_hmac(tmp_path: Path) -> None:
    with Store(tmp_path / "x.sqlite") as store:
        auth.set_office_password(store, "long enough")
        stored = store.get_meta(auth.PASSWORD_KEY) or ""
        assert stored.startswith("scrypt$") and "long enough" not in stored
        assert auth.check_office_password(store, "long enough") and not auth.check_office_password(store, "long enougH")
        with pytest.raises(ValueError):
            auth.set_office_password(store, "short")
        s1 = auth.link_secret(store, "A")
        assert auth.check_link(store, "A", s1) == 0 and auth.check_link(store, "B", s1) is None
        auth.revoke_link(store, "A")
        assert auth.check_link(store, "A", s1) is None and auth.check_link(store, "A", auth.link_secret(store, "A")) == 1


def test_secrets_never_reach_the_log(rnd, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    db, links = rnd
    secret = links[CODE].rsplit("/", 1)[1]
    assert redact(links[CODE]) == f"/u/{CODE}/***"
    with caplog.at_level(logging.INFO, logger="juesuan.web"), client(db) as c:
        c.get(links[CODE])
        c.get(f"/u/{CODE}/{secret[:-1]}x")
    assert f"/u/{CODE}/***" in caplog.text
    assert secret not in caplog.text and secret[:-1] not in caplog.text


@pytest.mark.slow
def test_unit_explains_a_warning_online_html_escaped(spec: Spec, rnd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from generator.xlsx.writer import build_workbook

    db, links = rnd
    ds = unit_data(CODE)
    ds.set("公开09", "1", "12", Decimal("0"))  # 公务接待费 below 公开06 30217: a warning (提示), not an error
    ds.explanations["g09-reception-vs-g06"] = "<b>接待</b>费在<script>alert(1)</script>别处列支"
    path = tmp_path / "warn.xlsx"
    build_workbook(spec, ds, path)
    with client(db) as c:
        page = c.get(links[CODE]).text
        r = upload(c, page, path.read_bytes(), "有提示.xlsx")
        assert f"审核结果： {WARN}" in text_of(r.text)
        assert "<script>alert(1)" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
        assert "&lt;b&gt;接待&lt;/b&gt;" in r.text
        sid = int(str(r.url).rsplit("/", 1)[1])
        # the unit rewrites the 差异说明 on the page
        evil = '"><img src=x onerror=alert(2)>另有原因'
        r = c.post(f"/unit/{CODE}/s/{sid}/explain", data={"csrf": csrf_of(r.text), "explain:g09-reception-vs-g06": evil})
        assert r.status_code == 200 and str(r.url).endswith(f"/s/{sid}")
        assert "<img src=x" not in r.text and "&lt;img src=x onerror=alert(2)&gt;另有原因" in r.text
        assert f"审核结果： {WARN}" in text_of(r.text)  # explained, still a 提示 for the office to judge
        # without a token: refused, nothing changed
        assert c.post(f"/unit/{CODE}/s/{sid}/explain", data={"explain:g09-reception-vs-g06": "x"}).status_code == 403
        c.post("/office/login", data={"csrf": csrf_of(c.get("/office/login").text), "password": PASSWORD})
        office = c.get(f"/office/unit/{CODE}").text
        assert "<img src=x" not in office and "&lt;img src=x onerror=alert(2)&gt;另有原因" in office
    with Store(db) as store:
        s = store.submission(sid)
        assert s is not None and json.loads(s["doc"])["explanations"]["g09-reception-vs-g06"] == evil.strip()
        active = [f for f in store.findings(sid) if f.rule == "g09-reception-vs-g06"]
        assert len(active) == 1 and active[0].extra["explanation"] == evil.strip() and active[0].cell
        assert len([f for f in store.findings(sid, active_only=False) if f.rule == "g09-reception-vs-g06"]) == 2


@pytest.mark.slow
def test_office_consolidates_explains_a_figure_and_diffs_the_spec(spec: Spec, rnd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from generator.xlsx.writer import build_workbook

    db, links = rnd
    with client(db) as u:
        for code in ("430100000", "430100001", "430100002", "430100003", "430100031"):
            page = u.get(links[code]).text
            path = tmp_path / f"{code}.xlsx"
            build_workbook(spec, unit_data(code), path)
            assert f"审核结果： {PASS}" in text_of(upload(u, page, path.read_bytes(), code=code).text)
    with client(db) as c:
        dash = c.post("/office/login", data={"csrf": csrf_of(c.get("/office/login").text), "password": PASSWORD})
        assert "通过 5" in text_of(dash.text)
        r = c.post("/office/consolidate", data={"csrf": csrf_of(dash.text), "parent": "430100"})
        assert r.status_code == 200 and str(r.url).endswith("/office/consolidation/430100")
        assert text_of(r.text).count("纳入") >= 5
        xlsx = c.get("/office/consolidation/430100/file/xlsx")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
        grid = c.get("/office/consolidation/430100?table=公开05").text
        href = re.search(r'href="(/office/explain/430100\?table=[^"]*row=2150550[^"]*col=1)"', grid)
        assert href, "the 汇总 figure links to its explanation"
        # every row named (科目 names from the code list, labels of fixed rows), amounts with thousands separators
        body = grid.split("<tbody>")[-1]
        names = re.findall(r'<tr><td class="code">([^<]*)</td><td>([^<]*)</td>', body)
        assert names and all(n.strip() for _c, n in names) and ("2150550", "事业运行") in names
        g01 = c.get("/office/consolidation/430100?table=公开01").text
        assert re.search(r">\d{1,3}(,\d{3})+\.\d\d<", g01), "amounts over 999 carry thousands separators"
        ex = c.get(href.group(1).replace("&amp;", "&"))
        value = Decimal(re.search(r'<span id="value">([^<]+)</span>', ex.text).group(1).replace(",", ""))  # type: ignore[union-attr]
        parts = [Figures(spec, unit_data(code).values).value("公开05", "2150550", "1")
                 for code in ("430100000", "430100001", "430100002", "430100003", "430100031")]
        assert value == sum(parts) > 0
        spec_page = c.get("/office/spec?against=2025")
        assert spec_page.status_code == 200 and '<pre class="diff" id="diff">' in spec_page.text
        regen = c.post("/office/templates", data={"csrf": csrf_of(spec_page.text)})
        assert "重新生成 5 个单位的模板" in regen.text
        assert c.post("/office/templates", data={}).status_code == 403
    assert len(list((db.parent / "round-files" / "templates").glob("*.xlsx"))) == 5


@pytest.mark.slow
def test_office_login_tries_are_limited(rnd) -> None:  # type: ignore[no-untyped-def]
    from generator.web.app import LOGIN_TRIES

    db, _ = rnd
    with client(db) as c:
        for _ in range(LOGIN_TRIES):
            r = c.post("/office/login", data={"csrf": csrf_of(c.get("/office/login").text), "password": "guess-guess"})
            assert r.status_code == 403
        r = c.post("/office/login", data={"csrf": csrf_of(c.get("/office/login").text), "password": PASSWORD})
        assert r.status_code == 429 and "尝试次数过多" in r.text  # even the right password waits out the window
        assert str(c.get("/office").url).endswith("/office/login")


@pytest.mark.slow
def test_web_template_is_the_cli_build_byte_for_byte(spec: Spec, tmp_path: Path) -> None:
    """One function builds a unit's template from its units row (``data``, ``subjects``): the page's
    download and ``juesuan build --units`` give the same bytes; the 科目 of ``subjects`` are rows."""
    from generator.xlsx.reader import read_workbook

    units = tmp_path / "units.csv"
    units.write_text("code,name,parent,data,kind,subjects\n"
                     "430100,主管部门,,,汇总,\n"
                     f"{CODE},{NAME},430100,{SAMPLES / f'unit-{CODE}.json'},,2150550 2150805 公开07:2150899\n"
                     "430100009,只有科目的单位,430100,,,2150550 2150805\n", encoding="utf-8")
    db, links = make_round(tmp_path, units)
    built = CliRunner().invoke(cli, ["build", "--units", str(units), "-o", str(tmp_path / "cli")])
    assert built.exit_code == 0, built.output
    for code in (CODE, "430100009"):
        with client(db) as c:
            assert c.get(links[code]).status_code == 200
            tpl = c.get(f"/unit/{code}/template")
        assert tpl.status_code == 200
        cli_bytes = next((tmp_path / "cli").glob(f"{code}-*.xlsx")).read_bytes()
        assert tpl.content == cli_bytes, code
    res = read_workbook(next((tmp_path / "cli").glob("430100009-*.xlsx")), spec=spec)
    assert res.plan is not None and res.plan.sections["公开05"] == ["215", "21505", "2150550", "21508", "2150805"]
    # the units file changes (one more 科目): the page's kept template is built again, still the command's
    units.write_text(units.read_text(encoding="utf-8").replace(",,,2150550 2150805", ",,,2150550 2150805 2150899"),
                     encoding="utf-8")
    built = CliRunner().invoke(cli, ["build", "--units", str(units), "-o", str(tmp_path / "cli2")])
    assert built.exit_code == 0, built.output
    with client(db) as c:
        c.get(links["430100009"])
        again = c.get("/unit/430100009/template").content
    assert again == next((tmp_path / "cli2").glob("430100009-*.xlsx")).read_bytes() != tpl.content
    res = read_workbook(next((tmp_path / "cli").glob(f"{CODE}-*.xlsx")), spec=spec)
    assert res.plan is not None and "2150899" in res.plan.sections["公开07"]
    assert {"2150550", "2150805"} <= set(res.plan.sections["公开05"]) & set(res.plan.sections["公开02"])


@pytest.mark.slow
def test_web_template_lists_last_years_subjects_as_build_previous(spec: Spec, tmp_path: Path) -> None:
    """``links --previous LAST`` gives the page the same last year's 科目 as ``build --units --previous
    LAST``: the same bytes."""
    from generator.core.dataset import load_dataset
    from generator.office.collect import collect, load_tree
    from generator.xlsx.reader import read_workbook
    from generator.xlsx.writer import build_workbook

    returned = tmp_path / "returned"
    returned.mkdir()
    build_workbook(spec, load_dataset(SAMPLES / f"unit-{CODE}.json"), returned / f"{CODE}.xlsx")
    last = tmp_path / "2023.sqlite"
    with Store(last) as store:
        collect(store, returned, load_tree(SAMPLES / "units.csv"), spec, workers=1, progress=False)
    units = tmp_path / "units.csv"
    units.write_text(f"code,name,parent\n{CODE},{NAME},\n", encoding="utf-8")
    db, links = make_round(tmp_path, units)
    r = CliRunner().invoke(cli, ["links", "--db", str(db), "--previous", str(last)])
    assert r.exit_code == 0, r.output
    built = CliRunner().invoke(cli, ["build", "--units", str(units), "--previous", str(last), "-o", str(tmp_path / "cli")])
    assert built.exit_code == 0, built.output
    with client(db) as c:
        c.get(links[CODE])
        tpl = c.get(f"/unit/{CODE}/template").content
    cli_bytes = next((tmp_path / "cli").glob(f"{CODE}-*.xlsx")).read_bytes()
    assert tpl == cli_bytes
    res = read_workbook(next((tmp_path / "cli").glob(f"{CODE}-*.xlsx")), spec=spec)
    last_codes = sorted(c for c in load_dataset(SAMPLES / f"unit-{CODE}.json").values["公开05"] if len(c) == 7)
    assert res.plan is not None and [c for c in res.plan.sections["公开05"] if len(c) == 7] == last_codes
