"""The round's home (``juesuan init``) through the CLI in-process: what it creates, how commands find it,
what is added to it, and that nothing writes into the installed package."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.core.catalog import load_spec
from generator.core.dataset import load_dataset
from generator.core.resources import specs_root
from generator.office.round import open_round
from generator.xlsx.reader import read_workbook

from .test_round_home import _tree_digest

SAMPLES = specs_root() / "samples"


def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
    res = CliRunner().invoke(cli, list(args), env=env)
    assert res.exit_code == code, res.output + repr(res.exception)
    return res.output


@pytest.fixture()
def round_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("JUESUAN_KEY", raising=False)
    monkeypatch.delenv("JUESUAN_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    run("init", "r", "--year", "2024")
    return tmp_path / "r"


def _units(path: Path, n: int = 2) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "parent", "kind", "subjects"])
        w.writerow(["430100", "局", "", "汇总", ""])
        for i in range(1, n + 1):
            w.writerow([f"43010000{i}", f"单位{i}", "430100", "", "2150550 2150805"])
    return path


def test_init_makes_the_round_home(round_dir: Path) -> None:
    rnd = open_round(round_dir)
    assert rnd.year == 2024 and (round_dir / "README.txt").is_file()
    assert {p.name for p in round_dir.iterdir()} >= {"round.yaml", "juesuan.sqlite", "specs", "returned", "templates", "out"}
    assert oct((round_dir / "juesuan.sqlite").stat().st_mode & 0o777) == "0o600"
    key = rnd.key()
    assert key and len(key) >= 32
    spec = rnd.spec()
    assert spec.hash == load_spec(specs_root() / "2024").hash and rnd.spec_dir().parent.name == "specs"
    with rnd.store(create=False) as store:
        assert [v[:2] for v in store.spec_versions()] == [(spec.hash, "2024")]


def test_init_refuses_a_folder_that_is_not_empty_or_a_year_without_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    assert "不是空的" in run("init", "full", "--year", "2024", code=2)
    assert "没有随附 1999 年度的规格" in run("init", "new", "--year", "1999", code=2)
    run("init", "ok", "--year", "2024")
    assert "已经是一个决算轮次" in run("init", "ok", "--year", "2024", code=2)


def test_commands_find_the_round_upwards_or_by_round_option(round_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(round_dir / "out")
    assert f"轮次：r（{round_dir}）" in run("round")
    monkeypatch.chdir(tmp_path)
    assert "当前目录不在决算轮次中" in run("round", code=2)
    assert f"数据库：{round_dir / 'juesuan.sqlite'}" in run("--round", str(round_dir), "round")
    assert "不是决算轮次目录" in run("--round", str(tmp_path), "round", code=2)


def test_codes_import_in_a_round_is_a_new_spec_of_the_round_never_the_package(round_dir: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    before = _tree_digest(specs_root())
    old = open_round(round_dir).spec_hash
    monkeypatch.chdir(round_dir)
    out = run("codes", "import", str(SAMPLES / "functional-2024-sample.csv"))
    rnd = open_round(round_dir)
    assert rnd.spec_hash != old and f"{old} → {rnd.spec_hash}" in out
    assert rnd.spec().code_name("functional", "2050202") == "小学教育"
    assert {p.name for p in (round_dir / "specs").iterdir()} == {old, rnd.spec_hash}
    with rnd.store(create=False) as store:
        assert {v[0] for v in store.spec_versions()} == {old, rnd.spec_hash}
    assert _tree_digest(specs_root()) == before
    # a lost spec folder is written again from the database, the same spec by hash
    shutil.rmtree(round_dir / "specs" / old)
    assert rnd.spec(old).hash == old and (round_dir / "specs" / old / "spec.yaml").is_file()


def test_units_set_takes_the_file_whole_or_not_at_all(round_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(round_dir)
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,parent\n430100001,单位,999\n", encoding="utf-8")
    assert "有误" in run("units", "set", str(bad), code=1)
    assert open_round(round_dir).units_file is None
    assert "已登记 3 个单位" in run("units", "set", str(_units(tmp_path / "u.csv")))
    assert "  430100002 单位2" in run("units", "show")
    with open_round(round_dir).store(create=False) as store:
        assert [r["code"] for r in store.units()] == ["430100", "430100001", "430100002"]


def test_templates_of_a_round_carry_its_key_whatever_the_environment(round_dir: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """JUESUAN_KEY set by habit does not change a round's templates; read in the round they are clean,
    read outside with another key they fail their fingerprint."""
    monkeypatch.chdir(round_dir)
    run("units", "set", str(_units(tmp_path / "u.csv")))
    run("build", env={"JUESUAN_KEY": "another-key-from-the-environment"})
    built = sorted((round_dir / "templates").glob("*.xlsx"))
    assert [p.name[:9] for p in built] == ["430100001", "430100002"]
    out = run("read", str(built[0]), code=1, env={"JUESUAN_KEY": "another-key-from-the-environment"})  # blank: 空表说明 due
    assert "默认密钥" not in out and "指纹" not in out
    plan = read_workbook(built[0], spec=open_round(round_dir).spec(), key=open_round(round_dir).key()).plan
    assert plan is not None and "2150550" in plan.sections["公开05"]
    bad = read_workbook(built[0], [open_round(round_dir).spec_dir()], key="another-key-from-the-environment")
    assert "fingerprint-mismatch" in {f.code for f in bad.findings}


def test_build_of_several_units_with_the_default_key_refuses_outside_a_round(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {k: "" for k in os.environ if k.startswith("JUESUAN_") and k != "JUESUAN_CACHE"}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    units = _units(tmp_path / "u.csv")
    out = run("build", "--units", str(units), "-o", str(tmp_path / "t"), code=2, env=env)
    assert "没有指纹密钥" in out and "--allow-default-key" in out and not (tmp_path / "t").exists()
    run("build", "--units", str(units), "-o", str(tmp_path / "t"), "--allow-default-key", env=env)
    assert len(list((tmp_path / "t").glob("*.xlsx"))) == 2
    # one unit's template with the default key is still allowed (a try-out), with its warning on read
    run("build", "--units", str(_units(tmp_path / "one.csv", 1)), "-o", str(tmp_path / "one"), env=env)


def test_a_round_s_reader_limits_are_its_own_not_the_environment_s(round_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.xlsx.writer import build_workbook

    rnd = open_round(round_dir)
    monkeypatch.chdir(round_dir)
    wb = round_dir / "returned" / "x.xlsx"
    build_workbook(rnd.spec(), load_dataset(SAMPLES / "unit-430100001.json"), wb, rnd.key())
    monkeypatch.setenv("JUESUAN_LIMITS", "max_sheets=3")  # ignored inside a round
    assert "too-many-sheets" not in run("read", str(wb), "--json", code=0)
    rnd.config["limits"] = "max_sheets=3"
    rnd.save()
    assert "too-many-sheets" in run("read", str(wb), "--json", code=2)
    assert "too-many-sheets" not in run("read", str(wb), "--json", "--limit", "max_sheets=64", code=0)
