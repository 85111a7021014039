"""A round run the way the README tells a new office (issue 23's "Must show"): ``juesuan init``, a code
list imported, units with ``subjects``, templates, fills (openpyxl and LibreOffice), collect, feedback,
consolidate, publish, check-published, ``serve`` + an upload; every command run as a subprocess inside
the round folder, with no ``--specs``/``--db``/``--key`` and no ``JUESUAN_*`` variable set. Asserted on
the way: no default-key finding anywhere, the web template equal to the CLI's byte for byte, publishing
a unit from the database equal to publishing its returned workbook, and the installed package's
``specs/`` unchanged by the whole round."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from generator.core.catalog import load_spec
from generator.core.dataset import load_dataset
from generator.core.expr import a1
from generator.core.resources import specs_root
from generator.xlsx.libreoffice import soffice
from generator.xlsx.reader import read_workbook

from . import lo_fill

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "specs" / "samples"
DEPT = "430100"
# the sample tree; 430100002 is typed in LibreOffice, 430100000 filled with openpyxl, and 430100001
# returns the seed's own report (its figures, 附件1–3 and their texts) as the seed's workbook was made
UNITS = [("430100000", "长沙市示范工业和信息化局（本级）"), ("430100001", "长沙市企业服务中心"),
         ("430100002", "长沙市工业信息研究所")]
LO_UNIT = "430100002"
SEED_UNIT = "430100001"


def _data(code: str):  # type: ignore[no-untyped-def]
    if code == SEED_UNIT:
        ds = load_dataset(SAMPLES / "seed-2024.json")
        ds.unit_code, ds.unit_name = code, dict(UNITS)[code]
        return ds
    return load_dataset(SAMPLES / f"unit-{code}.json")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUESUAN_")}
    env.update(XDG_CACHE_HOME=str(home / "cache"), XDG_DATA_HOME=str(home / "data"), PYTHONPATH=str(ROOT))
    return env


def juesuan(cwd: Path, env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,), stdin: str | None = None) -> str:
    proc = subprocess.run([sys.executable, "-m", "generator", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, input=stdin)
    out = proc.stdout + proc.stderr
    assert proc.returncode in ok, f"juesuan {' '.join(args)} → {proc.returncode}\n{out}"
    return out


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _subjects(code: str) -> str:
    ds = _data(code)
    items = {t: sorted(r for r in ds.values.get(t, {}) if len(r) == 7 and r.isdigit())
             for t in ("公开02", "公开03", "公开05", "公开07")}
    general = sorted({c for t in ("公开02", "公开03", "公开05") for c in items[t]})
    return " ".join(general + [f"公开07:{c}" for c in items["公开07"]])


def _cells(template: Path, spec: Any, code: str) -> tuple[list[tuple[str, str, Any]], dict[str, str]]:
    """What the unit types: every input figure of its sample data at its cell, and its 空表说明."""
    ds = _data(code)
    res = read_workbook(template, spec=spec)
    plan = res.plan
    assert plan is not None
    cells = []
    for f, (sheet, r, c) in plan.fig_cells.items():
        v = ds.values.get(f.table, {}).get(f.row, {}).get(f.col)
        if v is not None and plan.sheet(sheet).cells[(r, c)].kind == "input":
            cells.append((sheet, a1(r, c), float(v)))
    notes = {}
    for tid, text in ds.notes.items():
        t = spec.tables[tid]
        st = plan.sheet(t.sheet).statement_cell
        if st:
            notes[f"{t.sheet}!{a1(*st)}"] = text
    return cells, notes


def _fill_openpyxl(template: Path, target: Path, cells: list[tuple[str, str, Any]], notes: dict[str, str]) -> None:
    book = openpyxl.load_workbook(template)
    for sheet, addr, v in cells:
        book[sheet][addr] = v
    for where, text in notes.items():
        sheet, addr = where.split("!")
        book[sheet][addr] = text
    book.save(target)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None or not lo_fill.available(), reason="LibreOffice with python3-uno not installed")
def test_a_round_run_as_the_readme_tells(tmp_path: Path) -> None:
    import httpx

    package_specs = specs_root()
    before = _tree_digest(package_specs)
    env = _env(tmp_path)
    home = tmp_path / "work"
    home.mkdir()

    # 1. the round's home
    out = juesuan(home, env, "init", "demo", "--year", "2024")
    rnd = home / "demo"
    assert "已生成指纹密钥" in out and (rnd / "round.yaml").is_file() and (rnd / "README.txt").is_file()
    assert oct((rnd / "juesuan.sqlite").stat().st_mode & 0o777) == "0o600"

    # 2. the year's code list (xlsx as the finance system exports it) into the round, not the package
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["科目编码", "科目名称"])
    for row in list(csv.reader((SAMPLES / "functional-2024-sample.csv").read_text(encoding="utf-8").splitlines()))[1:]:
        ws.append(row)
    wb.save(home / "科目2024.xlsx")
    out = juesuan(rnd, env, "codes", "import", str(home / "科目2024.xlsx"))
    assert "成为本轮当前规格" in out
    specs = sorted(p.name for p in (rnd / "specs").iterdir())
    assert len(specs) == 2  # the bundled spec as the round started, and the one with the imported list

    # 3. units with their own 科目 (subjects), no data files
    units = home / "单位清单.csv"
    with units.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "parent", "kind", "subjects"])
        w.writerow([DEPT, "长沙市示范工业和信息化局", "", "汇总", ""])
        for code, name in UNITS:
            w.writerow([code, name, DEPT, "", _subjects(code)])
    juesuan(rnd, env, "units", "set", str(units))

    # 4. templates, signed with the round's key and laid out from each unit's subjects
    out = juesuan(rnd / "templates", env, "build")  # from a subfolder: the round is found upwards
    assert "已生成 3 个工作簿" in out
    templates = {code: next((rnd / "templates").glob(f"{code}-*.xlsx")) for code, _ in UNITS}
    spec = load_spec(rnd / "specs" / _round_spec(rnd))
    plan = read_workbook(templates["430100001"], spec=spec).plan
    assert plan is not None and "2150550" in plan.sections["公开05"]

    # 5. units fill them: openpyxl, and one typed in LibreOffice
    filled = {}
    lo_jobs = []
    for code, name in UNITS:
        cells, notes = _cells(templates[code], spec, code)
        target = rnd / "returned" / f"{code}-{name}.xlsx"
        filled[code] = target
        if code == SEED_UNIT:  # written with the round's key, 附件 texts and all
            from generator.office.round import open_round
            from generator.xlsx.writer import build_workbook

            build_workbook(spec, _data(code), target, open_round(rnd).key())
        elif code == LO_UNIT:
            lo_jobs.append((templates[code], target, cells + [(k.split("!")[0], k.split("!")[1], v) for k, v in notes.items()]))
        else:
            _fill_openpyxl(templates[code], target, cells, notes)
    lo_fill.fill_in_libreoffice(lo_jobs)

    # 6. collect, feedback, consolidate: no flag names the spec, the database or the key
    out = juesuan(rnd, env, "collect", "--json", str(rnd / "out" / "collect.json"))
    assert "默认密钥" not in out
    report = json.loads((rnd / "out" / "collect.json").read_text(encoding="utf-8"))
    statuses = {u["code"]: u["status"] for u in report["units"] if u["code"] != DEPT}
    assert statuses == {"430100000": "通过", SEED_UNIT: "有提示", LO_UNIT: "通过"}, statuses
    assert (rnd / "out" / "collect-report.html").is_file()
    juesuan(rnd, env, "feedback")
    assert len(list((rnd / "out" / "反馈").glob("*-反馈.html"))) == 3
    for code, _name in UNITS:  # the office reviews: each report approved, the 汇总 takes the approved ones
        juesuan(rnd, env, "review", code, "--approve", "--reviewer", "财务科")
    out = juesuan(rnd, env, "consolidate", DEPT)
    assert (rnd / "out" / f"{DEPT}-汇总.xlsx").is_file() and "默认密钥" not in out

    # 7. publish a unit from the database and from its returned workbook: the same report
    unit = SEED_UNIT
    juesuan(rnd, env, "publish", unit, "--format", "html,pdf", "-o", str(rnd / "out" / "db"))
    juesuan(rnd, env, "publish", str(filled[unit]), "--format", "html", "-o", str(rnd / "out" / "wb"))
    from_db = next((rnd / "out" / "db").glob("*.html")).read_text(encoding="utf-8")
    from_wb = next((rnd / "out" / "wb").glob("*.html")).read_text(encoding="utf-8")
    assert "厉行节约" in from_wb and "强化成本意识" in from_wb  # the 附件 texts, as the workbook holds them
    assert _comparable(from_db) == _comparable(from_wb)
    pdf = next((rnd / "out" / "db").glob("*.pdf"))
    out = juesuan(rnd, env, "check-published", str(pdf), "--against", unit, "--no-info")
    assert "错误 0 条" in out

    # 8. the web page: the round's spec, key and units; a unit's template equals the CLI's
    juesuan(rnd, env, "office-password", stdin="办公室-correct-horse\n")
    links = dict(line.split("\t") for line in juesuan(rnd, env, "links").strip().splitlines() if "\t" in line)
    port = _free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen([sys.executable, "-m", "generator", "serve", "--port", str(port), "--workers", "1"],
                              cwd=rnd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/", timeout=2)
                break
            except httpx.HTTPError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")
                time.sleep(0.3)
        with httpx.Client(base_url=base, follow_redirects=True, timeout=60) as c:
            page = c.get(links[LO_UNIT].replace("http://127.0.0.1:8000", ""))
            assert page.status_code == 200, page.text[:300]
            tpl = c.get(f"/unit/{LO_UNIT}/template")
            assert tpl.status_code == 200 and tpl.content == templates[LO_UNIT].read_bytes()
            # the unit fills the downloaded template (openpyxl) and uploads it: read with the round's key
            (tmp_path / "web.xlsx").write_bytes(tpl.content)
            _fill_openpyxl(tmp_path / "web.xlsx", tmp_path / "web-filled.xlsx", *_cells(tmp_path / "web.xlsx", spec, LO_UNIT))
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            up = c.post(f"/unit/{LO_UNIT}/upload", data={"csrf": csrf},
                        files={"file": ("网上报送.xlsx", (tmp_path / "web-filled.xlsx").read_bytes(), "application/octet-stream")})
            assert up.status_code == 200 and "通过" in up.text and "默认密钥" not in up.text, up.text
    finally:
        server.terminate()
        server.wait(20)
        log.close()

    # nowhere a default-key finding; the installed package's specs untouched by the whole round
    with sqlite3.connect(rnd / "juesuan.sqlite") as conn:
        codes = {r[0] for r in conn.execute("SELECT code FROM findings")}
        assert conn.execute("SELECT count(*) FROM spec_versions").fetchone()[0] == 2
    assert "default-key-in-use" not in codes, codes
    assert _tree_digest(package_specs) == before


def _round_spec(rnd: Path) -> str:
    import yaml

    return str(yaml.safe_load((rnd / "round.yaml").read_text(encoding="utf-8"))["spec"])


def _comparable(html: str) -> str:
    """The report without the line that names where its figures came from (file or database)."""
    return re.sub(r"<!--\s*source:.*?-->", "", html)
