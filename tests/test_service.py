"""The office's one service layer as every face uses it: the 汇总 policy (an unfinished collect is
refused by ``consolidate``, ``publish PARENT`` and the web page alike unless allowed), a 汇总 with
units missing or unfinished published only with ``--force``, naming them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from generator.cli import cli
from generator.core.dataset import load_dataset
from generator.core.resources import specs_root
from generator.core.spec import Spec
from generator.office.collect import load_tree
from generator.office.consolidate import UnfinishedCollect, consolidate_round
from generator.office.store import Store
from generator.web.app import create_app
from generator.xlsx.writer import build_workbook

from .web_helpers import PASSWORD, csrf_of

SAMPLES = specs_root() / "samples"
UNITS = SAMPLES / "units.csv"
LEFT_OUT = ("430100003", "长沙市中小企业发展服务站")


def _round(tmp: Path, spec: Spec, skip: tuple[str, ...] = ()) -> Path:
    """The sample tree collected into a database (the units in ``skip`` send nothing)."""
    returned = tmp / "returned"
    returned.mkdir()
    for u in csv.DictReader(UNITS.open(encoding="utf-8")):
        if u["data"] and u["code"] not in skip:
            build_workbook(spec, load_dataset(SAMPLES / u["data"]), returned / f"{u['code']}.xlsx")
    db = tmp / "round.sqlite"
    r = CliRunner().invoke(cli, ["collect", str(returned), "--units", str(UNITS), "--db", str(db)])
    assert r.exit_code in (0, 1), r.output
    return db


def _interrupt(db: Path) -> None:
    """A collect that started and never finished (killed): its run stays open."""
    with Store(db) as store:
        store.start_run("collect", "/share/returned", "2024", "x")
        store.commit()


@pytest.fixture(scope="module")
def collected(spec: Spec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _round(tmp_path_factory.mktemp("round"), spec)


def _copy(db: Path, tmp: Path) -> Path:
    import shutil

    out = tmp / "round.sqlite"
    shutil.copy(db, out)
    return out


@pytest.mark.slow
def test_the_policy_refuses_an_unfinished_collect_unless_allowed(spec: Spec, collected: Path, tmp_path: Path) -> None:
    db = _copy(collected, tmp_path)
    _interrupt(db)
    with Store(db) as store:
        tree = load_tree(UNITS)
        with pytest.raises(UnfinishedCollect) as got:
            consolidate_round(store, tree, spec, "430100")
        assert got.value.allowable and "没有完成" in str(got.value) and "--allow-unfinished" in str(got.value)
        cons = consolidate_round(store, tree, spec, "430100", allow_unfinished=True)
        assert cons.findings[0].code == "collect-unfinished" and len(cons.included) == 5


@pytest.mark.slow
def test_publish_parent_follows_the_policy_consolidate_does(spec: Spec, collected: Path, tmp_path: Path) -> None:
    db = _copy(collected, tmp_path)
    _interrupt(db)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["consolidate", "430100", "--db", str(db), "-o", str(tmp_path / "c.xlsx")])
    assert r.exit_code == 2 and "没有完成" in r.output
    r = CliRunner().invoke(cli, ["publish", "430100", "--db", str(db), "-o", str(out), "--format", "html", "--force"])
    assert r.exit_code == 2 and "没有完成" in r.output and not out.exists()  # --force is about checks, not this
    r = CliRunner().invoke(cli, ["publish", "430100", "--db", str(db), "-o", str(out), "--format", "html", "--force",
                                 "--allow-unfinished", "--name", "dept"])
    assert r.exit_code in (0, 1) and (out / "dept.html").is_file(), r.output


@pytest.mark.slow
def test_the_web_consolidation_follows_the_policy(spec: Spec, collected: Path, tmp_path: Path) -> None:
    db = _copy(collected, tmp_path)
    pw = CliRunner().invoke(cli, ["office-password", "--db", str(db)], input=PASSWORD + "\n")
    assert pw.exit_code == 0, pw.output
    _interrupt(db)
    with TestClient(create_app(db, workers=0), base_url="http://testserver", follow_redirects=True) as c:
        dash = c.post("/office/login", data={"csrf": csrf_of(c.get("/office/login").text), "password": PASSWORD})
        r = c.post("/office/consolidate", data={"csrf": csrf_of(dash.text), "parent": "430100"})
        assert r.status_code == 400 and "无法汇总" in r.text and "没有完成" in r.text
        r = c.post("/office/consolidate", data={"csrf": csrf_of(dash.text), "parent": "430100", "allow_unfinished": "1"})
        assert r.status_code == 200 and str(r.url).endswith("/office/consolidation/430100")


@pytest.mark.slow
def test_publishing_a_consolidation_with_a_unit_missing_needs_force_and_names_it(spec: Spec, tmp_path: Path) -> None:
    db = _round(tmp_path, spec, skip=(LEFT_OUT[0],))
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["publish", "430100", "--db", str(db), "-o", str(out), "--format", "html", "--name", "d"])
    assert r.exit_code == 1 and not (out / "d.html").exists()
    assert "publish-consolidation-incomplete" in r.output and "汇总不完整" in r.output
    assert f"{LEFT_OUT[0]} {LEFT_OUT[1]}（未报送）" in r.output and "未输出报告" in r.output
    r = CliRunner().invoke(cli, ["publish", "430100", "--db", str(db), "-o", str(out), "--format", "html", "--name", "d",
                                 "--force"])
    assert r.exit_code == 1 and (out / "d.html").is_file()


def test_a_complete_consolidation_has_no_incomplete_finding(collected: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["publish", "430100", "--db", str(collected), "-o", str(tmp_path), "--format", "html",
                                 "--name", "d", "--force"])
    assert r.exit_code in (0, 1) and "publish-consolidation-incomplete" not in r.output and "汇总不完整" not in r.output


# ---------------------------------------------------------------- the department's own 附件1–3


def _forms_round(tmp: Path, spec: Spec) -> tuple[Path, Path]:
    """The sample tree where one unit (430100001) filled 附件1–3 (the seed's, figures and words)."""
    from generator.core.dataset import Dataset

    seed = load_dataset(SAMPLES / "seed-2024.json")
    returned = tmp / "returned"
    returned.mkdir()
    for u in csv.DictReader(UNITS.open(encoding="utf-8")):
        if not u["data"]:
            continue
        ds = load_dataset(SAMPLES / u["data"])
        if u["code"] == "430100001":  # a unit that filled its forms: the seed's whole report under its name
            ds = Dataset(u["code"], u["name"], seed.year, seed.values, seed.names, seed.notes, texts=seed.texts)
        build_workbook(spec, ds, returned / f"{u['code']}.xlsx")
    db = tmp / "round.sqlite"
    r = CliRunner().invoke(cli, ["collect", str(returned), "--units", str(UNITS), "--db", str(db)])
    assert r.exit_code in (0, 1), r.output
    return db, returned


@pytest.mark.slow
def test_a_consolidation_never_sums_the_units_forms(spec: Spec, tmp_path: Path) -> None:
    import json

    db, _ = _forms_round(tmp_path, spec)
    out = tmp_path / "c.xlsx"
    r = CliRunner().invoke(cli, ["consolidate", "430100", "--db", str(db), "-o", str(out), "--json", str(out.with_suffix(".json"))])
    assert r.exit_code in (0, 1), r.output
    doc = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert not [t for t, rows in doc["values"].items() if t.startswith("附件") and rows] and not doc.get("texts")
    r = CliRunner().invoke(cli, ["explain", "430100", "附件1", "财政供养人员", "编制数", "--db", str(db)])
    assert r.exit_code == 2 and "不汇总" in r.output
    pub = tmp_path / "pub"
    r = CliRunner().invoke(cli, ["publish", "430100", "--db", str(db), "-o", str(pub), "--format", "html,docx",
                                 "--name", "d", "--force"])
    assert r.exit_code in (0, 1), r.output
    html = (pub / "d.html").read_text(encoding="utf-8")
    assert 'data-table="附件1"' not in html and 'data-table="附件2"' not in html and 'id="annex-note"' in html
    assert "本次汇总未收到部门自己填报的附件1–3" in html
    from docx import Document

    assert "本次汇总未收到部门自己填报的附件1–3" in "\n".join(p.text for p in Document(str(pub / "d.docx")).paragraphs)
    # the unit publishes its own forms as before
    r = CliRunner().invoke(cli, ["publish", "430100001", "--db", str(db), "-o", str(pub), "--format", "html",
                                 "--name", "u", "--force"])
    assert 'data-table="附件1"' in (pub / "u.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_departments_own_forms_come_from_its_returned_consolidation(spec: Spec, tmp_path: Path) -> None:
    """The department fills 附件1–3 in its 汇总 workbook and sends it back: kept beside it (部门附件,
    never its report), its forms — figures and words — are the 汇总's, until the 汇总 changes."""
    from generator.core.dataset import Dataset
    from generator.core.layout import SUMMARY
    from generator.office.collect import AGGREGATE, DEPT_FORMS, tree_from_store, unit_report

    db, returned = _forms_round(tmp_path, spec)
    seed = load_dataset(SAMPLES / "seed-2024.json")
    forms = {t: rows for t, rows in seed.values.items() if t.startswith("附件")}
    forms["附件1"]["财政供养人员"]["编制数"] = forms["附件1"]["财政供养人员"]["编制数"] + 47  # the department's own
    texts = {t: rows for t, rows in seed.texts.items() if t.startswith("附件")}
    with Store(db) as store:
        tree = tree_from_store(store)
        cons = consolidate_round(store, tree, spec, "430100")
        assert cons.forms_submission is None and cons.findings[-1].code == "consolidate-no-department-forms"
        filled = Dataset("430100", cons.name, spec.year, {**cons.dataset.values, **forms}, cons.dataset.names,
                         cons.dataset.notes, texts=texts)
    back = tmp_path / "back"
    back.mkdir()
    build_workbook(spec, filled, back / "430100-汇总-附件已填.xlsx", units=len(cons.included), kind=SUMMARY)
    r = CliRunner().invoke(cli, ["collect", str(back), "--units", str(UNITS), "--db", str(db)])
    assert r.exit_code in (0, 1), r.output
    with Store(db) as store:
        tree = tree_from_store(store)
        row = next(x for x in unit_report(store, tree).rows if x.code == "430100")
        assert row.status == AGGREGATE and [s["status"] for s in row.history] == [DEPT_FORMS]
        cons = consolidate_round(store, tree, spec, "430100")
        assert cons.forms_submission == row.history[0]["id"]
        assert "department-forms-received" in {f.code for f in store.findings(row.history[0]["id"])}
        assert "consolidate-department-forms" in {f.code for f in cons.findings}
        assert cons.dataset.values["附件1"]["财政供养人员"]["编制数"] == forms["附件1"]["财政供养人员"]["编制数"]
        assert cons.dataset.texts["附件3"]["1:项目"]["名称"] == seed.texts["附件3"]["1:项目"]["名称"]
    pub = tmp_path / "pub"
    r = CliRunner().invoke(cli, ["publish", "430100", "--db", str(db), "-o", str(pub), "--format", "html",
                                 "--name", "d", "--force"])
    assert r.exit_code in (0, 1), r.output
    html = (pub / "d.html").read_text(encoding="utf-8")
    assert 'data-table="附件1"' in html and 'id="annex-note"' not in html
    assert seed.texts["附件3"]["1:项目"]["名称"] in html
    # a unit sends other figures afterwards: the forms were filled against another 汇总, not used
    again = tmp_path / "again"
    again.mkdir()
    other = load_dataset(SAMPLES / "unit-430100031.json")
    other.unit_code, other.unit_name = LEFT_OUT
    build_workbook(spec, other, again / f"{LEFT_OUT[0]}-更正.xlsx")
    r = CliRunner().invoke(cli, ["collect", str(again), "--units", str(UNITS), "--db", str(db)])
    assert r.exit_code in (0, 1), r.output
    with Store(db) as store:
        cons = consolidate_round(store, tree_from_store(store), spec, "430100")
    assert cons.forms_submission is None and not cons.values.get("附件1")
    stale = next(f for f in cons.findings if f.code == "department-forms-stale")
    assert stale.severity == "warning" and "重新填写附件" in stale.message
