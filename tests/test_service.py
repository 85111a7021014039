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
