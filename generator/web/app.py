"""The Starlette application: unit pages (reached by a per-unit link), office pages (behind a login).

Unit side: ``/u/<code>/<secret>`` checks the link (constant time), opens a signed session for that
unit and redirects to ``/unit/<code>``; every unit page checks that the session's unit and link
generation are current (403 otherwise: another unit's page, a revoked link). Office side: ``/office``
behind a password (scrypt), sessions signed with itsdangerous (Starlette's SessionMiddleware).
Every form carries a CSRF token bound to the session. Request bodies are limited before they are
read whole (:class:`BodyLimit`); access logs never carry a link secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.findings import SEVERITY_ZH, Finding, sort_findings
from ..core.layout import TEMPLATES
from ..office.collect import (
    STATUS_CLASS,
    STATUS_ORDER,
    report_cells,
    safe_text,
    tree_from_store,
    unit_report,
)
from ..office.store import Store
from ..office.units import safe_filename, unit_filename
from . import auth
from .service import Round, template_stamp, unit_template

log = logging.getLogger("juesuan.web")
MAX_UPLOAD = 20 * 1024 * 1024
LOGIN_TRIES, LOGIN_WINDOW = 10, 300  # failed office logins allowed per window (seconds), then 429 until it passes
UPLOADS_PER_HOUR = 30  # uploads one unit may make in any hour
UNIT_EVIDENCE_MB = 200  # bytes of distinct uploaded files kept for one unit
STATIC = TEMPLATES / "web" / "static"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------- middleware


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuse a request body over ``limit`` bytes: at once from its Content-Length, else as soon
    as the bytes received pass the limit (the rest is never read)."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await too_large(self.limit)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge()
            return msg

        await self.app(scope, limited, send)


def too_large(limit: int) -> Response:
    return HTMLResponse(f"<!DOCTYPE html><meta charset=utf-8><title>文件过大</title><h1>文件过大</h1>"
                        f"<p>上传内容超过 {limit // (1024 * 1024)} MB 的上限，未被接收。请检查是否选错了文件。</p>",
                        status_code=413, headers={"Connection": "close"})


_SECRET_PATH = re.compile(r"^(/u/[^/]+/)[^/?]+")


def redact(path: str) -> str:
    """A path fit for a log: the secret of a unit link replaced."""
    return _SECRET_PATH.sub(r"\1***", path)


class AccessLog:
    """One log line per request (method, path without secrets, status, milliseconds) and the
    security headers on every response."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
               (b"x-frame-options", b"DENY"),
               (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                            b"script-src 'self'; form-action 'self'; frame-ancestors 'none'")]

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [0]

        static = scope["path"].startswith("/static/")

        async def wrapped(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                status[0] = msg["status"]
                headers = list(msg.get("headers", [])) + self.HEADERS
                if not static and not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))  # a unit's figures, links, the office's pages
                msg["headers"] = headers
            await send(msg)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            log.info("%s %s %s %.0fms", scope["method"], redact(scope["path"]), status[0],
                     (time.perf_counter() - t0) * 1000)


# ---------------------------------------------------------------- views


def finding_view(f: Finding) -> dict[str, Any]:
    from ..office.feedback import advice

    return {"advice": advice(f), "severity": f.severity, "severity_zh": SEVERITY_ZH.get(f.severity, f.severity), "code": f.code,
            "title": f.title,
            "cell": f.cell or "", "table": f.table or "", "row": f.row or "", "col": f.col or "",
            "location": f.location(), "message": f.message, "expected": f.expected, "actual": f.actual,
            "rule": f.rule or "", "explanation": (f.extra or {}).get("explanation", ""),
            "explainable": f.code == "rule-warning"}


class App:
    def __init__(self, rnd: Round, max_upload: int = MAX_UPLOAD, base_url: str = "",
                 uploads_per_hour: int = UPLOADS_PER_HOUR, unit_evidence: int = UNIT_EVIDENCE_MB * 1024 * 1024):
        self.round = rnd
        self.max_upload = max_upload
        self.uploads_per_hour, self.unit_evidence = uploads_per_hour, unit_evidence
        self.unit_locks: dict[str, asyncio.Lock] = {}
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES / "web")), autoescape=True,
                                      undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.finalize = safe_text  # no raw control characters from file names or typed texts
        self.env.globals["status_class"] = lambda s: STATUS_CLASS.get(s, "other")
        self.env.globals["statuses"] = STATUS_ORDER
        from ..core.clock import shown

        self.env.filters["when"] = shown
        self.login_failures: dict[str, list[float]] = {}  # per client address: times of failed office logins

    # -- plumbing
    def render(self, request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("csrf", self.csrf(request))
        ctx.setdefault("office", bool(request.session.get("office")))
        ctx.setdefault("spec", self.round.spec)
        return HTMLResponse(self.env.get_template(name).render(**ctx), status_code=status_code)

    @staticmethod
    def csrf(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = auth.new_token()
        return token

    async def form(self, request: Request) -> Any:
        """The posted form, once its CSRF token matches the session's (403 otherwise)."""
        form = await request.form(max_files=1, max_fields=20)
        if not auth.same_token(request.session.get("csrf"), str(form.get("csrf") or "")):
            raise HTTPException(403, "csrf")
        return form

    async def unit_guard(self, request: Request) -> str:
        code = request.path_params["code"]
        sess = request.session.get("unit")
        if not sess or sess.get("code") != code:
            raise HTTPException(403, "unit")
        gen = await self.round.db(auth.link_generation, code)
        if sess.get("gen") != gen:
            raise HTTPException(403, "unit")
        return code

    async def office_guard(self, request: Request) -> None:
        """An office page needs an office session of the current generation (logout and a new
        office password end every office session, in every browser)."""
        sess = request.session.get("office")
        if not isinstance(sess, dict) or sess.get("gen") != await self.round.db(auth.office_generation):
            request.session.pop("office", None)
            raise HTTPException(303, "login")

    # -- errors
    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 303:
            return RedirectResponse("/office/login", 303)
        messages = {403: ("无权访问", "链接无效、已失效，或该页面不属于您的单位。请使用财务部门发给本单位的链接。"),
                    404: ("页面不存在", "您要找的页面不存在。"),
                    405: ("请求方式不对", "请从页面上的按钮操作。")}
        if exc.status_code == 403 and exc.detail == "csrf":
            messages[403] = ("请求已过期", "表单已过期或来源不明，未被处理。请刷新页面后重试。")
        title, text = messages.get(exc.status_code, ("请求有误", "请求未能处理。"))
        return self.render(request, "error.html.j2", exc.status_code, title=title, text=text)

    async def server_error(self, request: Request, exc: Exception) -> Response:
        """Whatever went wrong inside: a Chinese page, never a bare 500. A database that cannot be
        written (read-only, a full disk, locked) is 503 and says so."""
        from ..office.store import DBError, db_error_text

        log.error("error on %s %s: %s: %s", request.method, redact(request.url.path), type(exc).__name__, str(exc)[:300])
        low = f"{type(exc).__name__} {exc}".lower()
        if isinstance(exc, DBError) or re.search(r"sqlite|database|disk|psycopg|read.?only", low):
            text = str(exc) if isinstance(exc, DBError) else db_error_text(exc, "报送数据库")
            return self.render_plain("数据库暂时无法使用", f"{text}。请稍后再试，或联系财务部门。", 503)
        return self.render_plain("服务器出错", "请求未能完成，已记录。请稍后再试，或联系财务部门。", 500)

    def render_plain(self, title: str, text: str, status: int) -> Response:
        """An error page that needs no session and no database (the error may be the database's)."""
        try:
            html = self.env.get_template("error.html.j2").render(title=title, text=text, csrf="", office=False,
                                                                spec=self.round.spec)
        except Exception:  # noqa: BLE001 - the page of last resort
            from html import escape

            html = f"<!DOCTYPE html><meta charset=utf-8><title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(text)}</p>"
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})

    async def body_too_large(self, request: Request, exc: Exception) -> Response:
        return too_large(self.max_upload)

    # -- public
    async def home(self, request: Request) -> Response:
        return self.render(request, "home.html.j2")

    async def link(self, request: Request) -> Response:
        code, secret = request.path_params["code"], request.path_params["secret"]

        def check(store: Store) -> int | None:
            known = any(r["code"] == code for r in store.units())
            gen = auth.check_link(store, code, secret)  # computed for unknown codes too: same time either way
            return gen if known else None

        gen = await self.round.db(check)
        if gen is None:
            raise HTTPException(403, "link")
        request.session.clear()
        request.session["unit"] = {"code": code, "gen": gen}
        request.session["csrf"] = auth.new_token()
        return RedirectResponse(f"/unit/{quote(code)}", 303)

    # -- unit side
    def _unit_view(self, store: Store, code: str) -> dict[str, Any]:
        tree = tree_from_store(store)
        u = tree.units[code]
        rep = unit_report(store, tree)
        row = next(r for r in rep.rows if r.code == code)
        uploaded = [dict(s) for s in store.sent_under_name_of(code)]
        history = sorted(row.history + uploaded, key=lambda s: s["id"], reverse=True)
        latest = row.latest
        findings = self._findings_for(store, code, latest) if latest else []
        from ..office.feedback import WHAT_TO_DO
        from ..office.review import review_state

        review = review_state(row, store.reviews(code))
        what = WHAT_TO_DO.get(row.status, "")
        if review.state == "returned":
            what = f"报表已被退回：{review.reason}。请按退回意见改正后重新报送整份工作簿。"
        elif review.state == "approved":
            what = "报表已审核通过，无需再报送。"
        # a workbook of this unit sent in under another unit's name, and one of another unit sent here:
        # both units are told (每个单位看到的是自己的事)
        names = {r["code"]: r["name"] for r in store.units()}
        elsewhere = [{"by": s["expect_unit"], "by_name": names.get(s["expect_unit"], ""), "received": s["received"]}
                     for s in store.sent_elsewhere(code)]
        foreign = None
        if latest is not None and latest["unit_code"] and latest["unit_code"] != code:
            foreign = {"code": latest["unit_code"], "name": latest["unit_name"]}
        # a unit counts its own submissions (第 1 次, 第 2 次 …), not the round's numbers
        nums = {s["id"]: i for i, s in enumerate(sorted(history, key=lambda s: s["id"]), start=1)}
        return {"unit": u, "row": row, "history": history, "latest": latest, "findings": findings, "review": review,
                "nums": nums, "elsewhere": elsewhere, "foreign": foreign,
                "aggregate": tree.is_aggregate(code) and not row.history, "what_to_do": what}

    @staticmethod
    def _findings_for(store: Store, code: str, sub: Any) -> list[dict[str, Any]]:
        """Findings of a submission as its unit may see them: a duplicate of another unit's file
        says only that it is a duplicate."""
        fs = store.findings(sub["id"])
        if sub["duplicate_of"]:
            orig = store.submission(sub["duplicate_of"])
            if orig is not None and orig["unit"] == code:
                fs += store.findings(orig["id"])
            else:
                fs = [Finding("submission-duplicate", "warning", "与已收录的一份报送内容完全相同，未重复入库")]
        return [finding_view(f) for f in sort_findings(fs)]

    async def unit_page(self, request: Request) -> Response:
        code = await self.unit_guard(request)
        view = await self.round.db(self._unit_view, code)
        return self.render(request, "unit.html.j2", **view, code=code, max_mb=self.max_upload // (1024 * 1024))

    async def unit_template(self, request: Request) -> Response:
        code = await self.unit_guard(request)
        path = await self.round.db(self.template_file, code, False)
        if isinstance(path, str):
            return self.render(request, "error.html.j2", 500, title="模板暂时无法生成",
                               text=f"本单位的模板未能生成：{path}。请联系财务部门。")
        return FileResponse(path, media_type=XLSX, filename=path.name)

    def template_file(self, store: Store, code: str, rebuild: bool) -> Path | str:
        """The unit's template: the one generated last, else built now (and kept) by the same
        function as ``juesuan build --units``; a text (Chinese) saying why when it cannot be built."""
        from ..core.fsutil import atomic_write_bytes

        u = next(r for r in store.units() if r["code"] == code)
        path = self.round.templates / unit_filename(code, u["name"])
        stamp = path.with_suffix(".spec")
        made_from = template_stamp(store, self.round.spec, code)  # the spec and the unit's row: either changed, build again
        if rebuild or not path.is_file() or not stamp.is_file() or stamp.read_text() != made_from:
            built = unit_template(store, self.round.spec, code, self.round.key)
            if built is None or built.data is None:
                log.warning("template of unit %s not built: %s", code, built.problem if built else "unknown unit")
                return (built.problem or "未知原因") if built is not None else "单位不在单位清单中"
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, built.data)
            stamp.write_text(made_from)
        return path

    async def unit_upload(self, request: Request) -> Response:
        code = await self.unit_guard(request)
        form = await self.form(request)
        file = form.get("file")
        if not isinstance(file, UploadFile) or not (file.filename or "").strip():
            return self.render(request, "error.html.j2", 400, title="未选择文件", text="请先选择要上传的工作簿（.xlsx）。")
        data = await file.read()
        await file.close()
        async with self.unit_locks.setdefault(code, asyncio.Lock()):  # one unit's uploads: checked and stored in turn
            problem = await self.round.db(self.quota_problem, code, data)
            if problem:
                log.warning("upload refused for unit %s: quota", code)
                return self.render(request, "error.html.j2", 429, title="上传过于频繁或过多", text=problem)
            res = await self.round.upload(data, file.filename or "", code)
        return RedirectResponse(f"/unit/{quote(code)}/s/{res.sid}", 303)

    def quota_problem(self, store: Store, code: str, data: bytes) -> str | None:
        """Why this upload is over the unit's quota (uploads in the last hour; bytes of distinct files
        kept), or None. A content already stored costs no bytes."""
        import datetime as dt
        import hashlib

        from ..office.collect import UPLOAD_PREFIX

        rows = store.conn.execute("SELECT received, size, duplicate_of, sha256 FROM submissions WHERE path LIKE ? "
                                  "AND expect_unit=?", (f"{UPLOAD_PREFIX}/%", code)).fetchall()
        hour_ago = dt.datetime.now().astimezone() - dt.timedelta(hours=1)
        recent = 0
        for r in rows:
            try:
                recent += dt.datetime.fromisoformat(r["received"]) > hour_ago
            except (TypeError, ValueError):
                recent += 1
        if recent >= self.uploads_per_hour:
            return (f"本单位最近一小时已上传 {recent} 次，达到每小时 {self.uploads_per_hour} 次的上限，本次未接收。"
                    "请核对后稍后再上传。")
        sha = hashlib.sha256(data).hexdigest()
        if any(r["sha256"] == sha for r in rows):
            return None
        kept = sum(int(r["size"] or 0) for r in rows if r["duplicate_of"] is None)
        if kept + len(data) > self.unit_evidence:
            return (f"本单位已上传的文件共 {kept // (1024 * 1024)} MB，再收这份会超过 {self.unit_evidence // (1024 * 1024)} MB "
                    "的上限，本次未接收。请与财务部门联系。")
        return None

    def _submission_view(self, store: Store, code: str, sid: int) -> dict[str, Any] | None:
        sub = store.submission(sid)
        if sub is None or code not in (sub["unit"], sub["expect_unit"]):
            return None
        mine = store.submission_ids_of(code)
        return {"sub": dict(sub), "findings": self._findings_for(store, code, sub), "nth": mine.index(sid) + 1 if sid in mine else 0,
                "unit": next(r for r in store.units() if r["code"] == code)}

    async def unit_submission(self, request: Request) -> Response:
        code = await self.unit_guard(request)
        view = await self.round.db(self._submission_view, code, self.sid(request))
        if view is None:
            raise HTTPException(404)
        return self.render(request, "submission.html.j2", **view, code=code)

    async def unit_explain(self, request: Request) -> Response:
        """差异说明 for the warnings of the unit's submission, typed on the page."""
        from ..office.collect import explain_online

        code = await self.unit_guard(request)
        form = await self.form(request)
        sid = self.sid(request)
        texts = {k.removeprefix("explain:"): str(v) for k, v in form.multi_items() if k.startswith("explain:")}

        def run(store: Store) -> bool:
            sub = store.submission(sid)
            if sub is None or code not in (sub["unit"], sub["expect_unit"]):
                return False
            return explain_online(store, tree_from_store(store), self.round.spec, sid, texts)

        if not await self.round.db(run):
            raise HTTPException(404)
        return RedirectResponse(f"/unit/{quote(code)}/s/{sid}", 303)

    # -- office side
    async def login_page(self, request: Request) -> Response:
        has = await self.round.db(lambda s: bool(s.get_meta(auth.PASSWORD_KEY)))
        return self.render(request, "login.html.j2", has_password=has, failed=False)

    async def login(self, request: Request) -> Response:
        form = await self.form(request)
        t = time.monotonic()
        # a throttle per client address (not one lockout for everyone: a stranger cannot lock the office out)
        client = request.client.host if request.client else ""
        for who in [w for w, ts in self.login_failures.items() if not ts or t - ts[-1] >= LOGIN_WINDOW]:
            del self.login_failures[who]
        tries = self.login_failures.setdefault(client, [])
        tries[:] = [f for f in tries if t - f < LOGIN_WINDOW]
        if len(tries) >= LOGIN_TRIES:
            log.warning("office login refused: %d failed tries in %d s from one client", len(tries), LOGIN_WINDOW)
            return self.render(request, "error.html.j2", 429, title="尝试次数过多",
                               text=f"密码连续输错 {LOGIN_TRIES} 次，请 {LOGIN_WINDOW // 60} 分钟后再试。")
        password = str(form.get("password") or "")
        ok = await self.round.db(auth.check_office_password, password)
        if not ok:
            tries.append(t)
            log.warning("office login failed")
            return self.render(request, "login.html.j2", 403, has_password=True, failed=True)
        gen = await self.round.db(auth.office_generation)
        request.session.clear()
        request.session["office"] = {"gen": gen}
        request.session["csrf"] = auth.new_token()
        return RedirectResponse("/office", 303)

    async def logout(self, request: Request) -> Response:
        await self.form(request)
        if isinstance(request.session.get("office"), dict):
            await self.round.db(auth.end_office_sessions)  # the cookie may have been copied: end them all
        request.session.clear()
        return RedirectResponse("/office/login", 303)

    def _dashboard(self, store: Store) -> dict[str, Any]:
        tree = tree_from_store(store)
        rep = unit_report(store, tree)
        last = store.conn.execute("SELECT max(id) FROM submissions").fetchone()[0] or 0
        parents = [c for c in tree.units if tree.kids(c)]
        from ..office.review import round_status

        reviews, deadline = round_status(store, tree)
        by_code = {st.code: st for st in reviews}
        version = f"{last}.{len(store.reviews())}"  # a new file or a review action reloads the page
        return {"rep": rep, "rows": [(r, report_cells(r), by_code[r.code]) for r in rep.rows], "version": version,
                "parents": parents, "tree": tree, "deadline": deadline,
                "late": [st for st in reviews if st.late], "returned": [st for st in reviews if st.state == "returned"],
                "waiting": [st for st in reviews if st.state == "pending"],
                "consolidated": {p for p in parents if store.last_consolidation(p) is not None}}

    async def dashboard(self, request: Request) -> Response:
        await self.office_guard(request)
        view = await self.round.db(self._dashboard)
        return self.render(request, "office.html.j2", **view)

    async def status_json(self, request: Request) -> Response:
        await self.office_guard(request)
        view = await self.round.db(self._dashboard)
        return JSONResponse({"version": view["version"], "counts": view["rep"].counts})

    def _office_unit(self, store: Store, code: str) -> dict[str, Any] | None:
        tree = tree_from_store(store)
        if code not in tree.units:
            return None
        view = self._unit_view(store, code)
        shown = []
        for s in view["history"]:
            fs = store.findings(s["id"]) + (store.findings(s["duplicate_of"]) if s["duplicate_of"] else [])
            shown.append({"sub": s, "findings": [finding_view(f) for f in sort_findings(fs)]})
        view["shown"] = shown
        return view

    async def office_unit(self, request: Request) -> Response:
        await self.office_guard(request)
        code = request.path_params["code"]
        view = await self.round.db(self._office_unit, code)
        if view is None:
            raise HTTPException(404)
        return self.render(request, "office_unit.html.j2", **view, code=code)

    async def evidence(self, request: Request) -> Response:
        await self.office_guard(request)
        from ..office.collect import evidence_path

        sid = self.sid(request)
        sub = await self.round.db(lambda s: s.submission(sid))
        if sub is None:
            raise HTTPException(404)
        path = evidence_path(self.round.evidence, sub["sha256"])
        if not path.is_file():
            raise HTTPException(404)
        return FileResponse(path, media_type="application/octet-stream",
                            filename=f"{sub['id']}-{sub['file_name']}")

    async def office_feedback(self, request: Request) -> Response:
        """The unit's feedback file (``juesuan feedback``: HTML or xlsx), written now from the current state."""
        from ..office.feedback import feedback

        await self.office_guard(request)
        code, kind = request.path_params["code"], request.path_params["kind"]
        if kind not in ("html", "xlsx"):
            raise HTTPException(404)

        def make(store: Store) -> Path | None:
            tree = tree_from_store(store)
            if code not in tree.units or tree.is_aggregate(code):
                return None
            paths = feedback(store, tree, self.round.files / "feedback", [code])
            return next((p for p in paths if p.suffix == f".{kind}"), None)

        path = await self.round.db(make)
        if path is None:
            raise HTTPException(404)
        media = XLSX if kind == "xlsx" else "text/html; charset=utf-8"
        return FileResponse(path, media_type=media, filename=path.name)

    async def review(self, request: Request) -> Response:
        """The office approves or returns a unit's current report (审核通过 / 退回 with a reason and
        notes at cells, one ``表!单元格[:意见]`` a line); back to the unit's page, which says so."""
        from ..office.review import APPROVE, RETURN, ReviewError, parse_cells, record

        await self.office_guard(request)
        form = await self.form(request)
        code = request.path_params["code"]
        action = str(form.get("action") or "")
        reason = str(form.get("reason") or "")[:2000]
        reviewer = str(form.get("reviewer") or "").strip()[:100] or "财务部门"
        lines = [x.strip() for x in str(form.get("cells") or "").splitlines() if x.strip()][:50]

        def act(store: Store) -> str | None:
            tree = tree_from_store(store)
            if code not in tree.units:
                return "单位不在单位清单中"
            try:
                record(store, tree, code, APPROVE if action == "approve" else RETURN if action == "return" else "",
                       reviewer, reason, parse_cells(lines))
            except ReviewError as exc:
                return str(exc)
            return None

        problem = await self.round.db(act)
        if problem is not None:
            view = await self.round.db(self._office_unit, code)
            if view is None:
                raise HTTPException(404)
            return self.render(request, "office_unit.html.j2", 400, **view, code=code, review_error=problem,
                               reason=reason, cells_text="\n".join(lines))
        return RedirectResponse(f"/office/unit/{quote(code)}#review", 303)

    async def revoke(self, request: Request) -> Response:
        await self.office_guard(request)
        await self.form(request)
        code = request.path_params["code"]

        def new_link(store: Store) -> str | None:
            if not any(r["code"] == code for r in store.units()):
                return None
            auth.revoke_link(store, code)
            return auth.link_secret(store, code)

        secret = await self.round.db(new_link)
        if secret is None:
            raise HTTPException(404)
        url = f"{str(request.base_url).rstrip('/')}/u/{quote(code)}/{secret}"
        return self.render(request, "revoked.html.j2", code=code, url=url)

    # -- office: 汇总, explain, spec, templates
    def _consolidate(self, store: Store, parent: str, include_errors: bool, allow_unfinished: bool = False,
                     include_unapproved: bool = False) -> str | None:
        from ..office.consolidate import ConsolidateError, consolidate_round, write_outputs
        from ..office.review import approval_mode

        tree = tree_from_store(store)
        if parent not in tree.units:
            return "单位不在单位清单中"
        try:  # the office's one policy: refused after an unfinished collect unless asked
            cons = consolidate_round(store, tree, self.round.spec, parent, include_errors, allow_unfinished,
                                     approval_mode(store, include_unapproved))  # a round: approved reports, or a draft
        except ConsolidateError as exc:
            return str(exc)
        out = self.round.consolidations / f"{safe_filename(parent)}-汇总.xlsx"
        write_outputs(store, cons, out, out.with_suffix(".json"), out.with_suffix(".html"), self.round.key)
        return None

    async def run_consolidation(self, request: Request) -> Response:
        await self.office_guard(request)
        form = await self.form(request)
        parent = str(form.get("parent") or "")
        problem = await self.round.db(self._consolidate, parent, bool(form.get("include_errors")),
                                      bool(form.get("allow_unfinished")), bool(form.get("include_unapproved")))
        if problem:
            return self.render(request, "error.html.j2", 400, title="无法汇总", text=problem)
        return RedirectResponse(f"/office/consolidation/{quote(parent)}", 303)

    def _consolidation_view(self, store: Store, parent: str, table: str) -> dict[str, Any] | None:
        from ..core.dataset import load_dataset
        from ..core.money import fmt

        got = store.last_consolidation(parent)
        if got is None or not got[0]["data_file"] or not Path(got[0]["data_file"]).is_file():
            return None
        row, members = got
        ds = load_dataset(Path(row["data_file"]))
        spec = self.round.spec
        table = table if table in spec.tables else next(iter(spec.tables))
        rows = ds.values.get(table, {})
        cols = sorted({c for r in rows.values() for c in r}, key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else 0, c))
        t = spec.tables[table]
        lists = [b.codelist or b.section for b in t.blocks if b.codelist or b.section]

        def name_of(r: str) -> str:  # the row's label, its 科目 name from the code list, or the unit's own
            found = t.row(r)
            if found is not None and (found[1].label or "").strip():
                return found[1].label.strip()
            total = next((b.total for b in t.blocks if b.total is not None and b.total.key == r), None)
            if total is not None:
                return (total.label or total.key).strip()
            return ds.names.get(r) or next((n for cl in lists if (n := spec.code_name(cl, r))), "")

        grid = [(r, name_of(r), [(c, fmt(rows[r][c], True) if c in rows[r] else "") for c in cols]) for r in rows]
        units = {u["code"]: u["name"] for u in store.units()}
        return {"cons": dict(row), "members": [{**dict(m), "name": units.get(m["unit"], "")} for m in members],
                "summary": json.loads(row["summary"] or "{}"), "table": table, "tables": list(spec.tables),
                "cols": cols, "grid": grid, "parent": parent, "parent_name": units.get(parent, "")}

    async def consolidation(self, request: Request) -> Response:
        await self.office_guard(request)
        parent = request.path_params["parent"]
        view = await self.round.db(self._consolidation_view, parent, request.query_params.get("table", ""))
        if view is None:
            raise HTTPException(404)
        return self.render(request, "consolidation.html.j2", **view)

    async def consolidation_file(self, request: Request) -> Response:
        await self.office_guard(request)
        parent, kind = request.path_params["parent"], request.path_params["kind"]
        got = await self.round.db(lambda s: s.last_consolidation(parent))
        if got is None or kind not in ("xlsx", "json", "html"):
            raise HTTPException(404)
        path = Path(got[0]["workbook"]).with_suffix(f".{kind}")
        if not path.is_file():
            raise HTTPException(404)
        media = {"xlsx": XLSX, "json": "application/json", "html": "text/html; charset=utf-8"}[kind]
        return FileResponse(path, media_type=media, filename=path.name)

    def _explain(self, store: Store, parent: str, table: str, row: str, col: str) -> Any:
        from ..office.consolidate import ConsolidateError, explain

        tree = tree_from_store(store)
        if parent not in tree.units:
            return None
        try:
            return explain(store, tree, self.round.spec, parent, table, row, col)
        except ConsolidateError:
            return None

    async def explain_figure(self, request: Request) -> Response:
        await self.office_guard(request)
        q = request.query_params
        ex = await self.round.db(self._explain, request.path_params["parent"], q.get("table", ""), q.get("row", ""),
                                 q.get("col", ""))
        if ex is None:
            raise HTTPException(404)
        return self.render(request, "explain.html.j2", ex=ex.to_json())

    def _spec_view(self, store: Store, against: str) -> dict[str, Any]:
        from ..core.catalog import find_spec_dirs, load_spec
        from ..core.spec import SpecInvalid
        from ..office.specdiff import diff_specs, render_markdown

        others = []
        for d in find_spec_dirs():
            try:
                s = load_spec(d)
            except SpecInvalid:
                continue
            if s.version != self.round.spec.version:
                others.append(s)
        diff = ""
        chosen = next((s for s in others if s.version == against), None)
        if chosen is not None:
            old, new = sorted([chosen, self.round.spec], key=lambda s: s.version)
            diff = render_markdown(diff_specs(old, new))
        return {"others": [s.version for s in others], "against": chosen.version if chosen else "", "diff": diff,
                "rules": len(self.round.spec.rules), "tables": list(self.round.spec.tables)}

    async def spec_page(self, request: Request) -> Response:
        await self.office_guard(request)
        view = await self.round.db(self._spec_view, request.query_params.get("against", ""))
        return self.render(request, "spec.html.j2", **view)

    def _regenerate(self, store: Store) -> int:
        tree = tree_from_store(store)
        n = 0
        for code in tree.units:
            if not tree.is_aggregate(code) and isinstance(self.template_file(store, code, True), Path):
                n += 1
        return n

    async def regenerate(self, request: Request) -> Response:
        await self.office_guard(request)
        await self.form(request)
        n = await self.round.db(self._regenerate)
        return self.render(request, "error.html.j2", title="模板已重新生成",
                           text=f"已按模板 {self.round.spec.version}（规格 {self.round.spec.hash}）重新生成 {n} 个单位的模板；"
                                f"各单位此后下载到的即为新模板。")

    @staticmethod
    def sid(request: Request) -> int:
        """The submission id of the path; one no database row can have (over 2^63) is 404, not a 500."""
        sid = int(request.path_params["sid"])
        if not 0 < sid < 2**63:
            raise HTTPException(404)
        return sid

    def routes(self) -> list[Any]:
        return [
            Route("/", self.home),
            Route("/u/{code}/{secret}", self.link),
            Route("/unit/{code}", self.unit_page),
            Route("/unit/{code}/template", self.unit_template),
            Route("/unit/{code}/upload", self.unit_upload, methods=["POST"]),
            Route("/unit/{code}/s/{sid:int}", self.unit_submission),
            Route("/office", self.dashboard),
            Route("/office/login", self.login_page),
            Route("/office/login", self.login, methods=["POST"]),
            Route("/office/logout", self.logout, methods=["POST"]),
            Route("/office/status.json", self.status_json),
            Route("/office/unit/{code}", self.office_unit),
            Route("/office/unit/{code}/revoke", self.revoke, methods=["POST"]),
            Route("/office/unit/{code}/review", self.review, methods=["POST"]),
            Route("/office/unit/{code}/feedback/{kind}", self.office_feedback),
            Route("/office/submission/{sid:int}/file", self.evidence),
            Route("/office/consolidate", self.run_consolidation, methods=["POST"]),
            Route("/office/consolidation/{parent}", self.consolidation),
            Route("/office/consolidation/{parent}/file/{kind}", self.consolidation_file),
            Route("/office/explain/{parent}", self.explain_figure),
            Route("/office/spec", self.spec_page),
            Route("/office/templates", self.regenerate, methods=["POST"]),
            Route("/unit/{code}/s/{sid:int}/explain", self.unit_explain, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        ]


def _lifespan(rnd: Round) -> Any:
    @contextlib.asynccontextmanager
    async def span(app: Any) -> AsyncIterator[None]:
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, rnd.warm_up)  # readers ready before the first upload
        try:
            yield
        finally:
            rnd.close()

    return span


def create_app(db: str | Path, specs: str | Path | None = None, workers: int = 2, key: str | None = None,
               max_upload: int = MAX_UPLOAD, files: str | Path | None = None,
               uploads_per_hour: int = UPLOADS_PER_HOUR, unit_evidence: int = UNIT_EVIDENCE_MB * 1024 * 1024,
               limits: Any = None) -> ASGIApp:
    """The ASGI app over the database ``db`` (a path or URL; created when missing); ``limits``: the
    reader's (xlsx.ooxml.Limits; None for its defaults)."""
    rnd = Round(db, specs, workers, key, files, limits)
    app = App(rnd, max_upload, uploads_per_hour=uploads_per_hour, unit_evidence=unit_evidence)
    secret = rnd.call(auth.session_key)
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        HTTPException: app.http_error, BodyTooLarge: app.body_too_large, Exception: app.server_error}
    star = Starlette(routes=app.routes(), exception_handlers=handlers,
                     middleware=[Middleware(SessionMiddleware, secret_key=secret, session_cookie="juesuan_session",
                                            same_site="lax", max_age=12 * 3600)],
                     lifespan=_lifespan(rnd))
    star.state.round = rnd
    star.state.app = app
    wrapped: ASGIApp = AccessLog(BodyLimit(star, max_upload))
    return wrapped


__all__ = ["create_app", "redact", "BodyLimit", "MAX_UPLOAD"]
