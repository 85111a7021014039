"""The CLI starts at once: ``juesuan --help`` imports no command module's libraries, ``juesuan read``
only the reader's, and a spec is parsed once per content (then loaded from the cache). Speed itself
is measured by bench/run.py (cli_read_vs_python, cli_help_vs_python), not here."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from generator.cli.main import LAZY, cli
from generator.core import catalog

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("generator.office.collect", "generator.office.store", "generator.web", "generator.publish",
         "generator.narrative", "generator.cluster", "generator.xlsx.writer", "jinja2", "openpyxl", "starlette")


def test_every_lazy_command_is_listed_with_its_own_help() -> None:
    defined = {}
    for module in {lazy.module for lazy in LAZY.values()} | {"main"}:
        mod = importlib.import_module(f"generator.cli.{module}")
        for attr, obj in vars(mod).items():
            if isinstance(obj, click.Command) and obj is not cli and obj.callback is not None \
                    and obj.callback.__module__ == mod.__name__:
                defined[obj.name] = (module, attr, obj)
    top = set(cli.list_commands(click.Context(cli)))
    subcommands = {c.name for obj in (x[2] for x in defined.values()) if isinstance(obj, click.Group)
                   for c in obj.commands.values()}
    assert set(defined) - subcommands <= top, "a command of a cli module is missing from LAZY"
    for name, (module, attr, cmd) in defined.items():
        if name in subcommands:  # a subcommand of a group (key init)
            continue
        if module == "main":
            assert name in cli.commands and name not in LAZY
            continue
        assert LAZY[name][:2] == (module, attr), name
        assert LAZY[name].help == (cmd.help or "").split("\n\n")[0].strip(), name
    assert set(LAZY) <= set(defined)


def _imported(args: list[str], tmp_path: Path) -> list[str]:
    code = ("import sys\nfrom generator.cli import cli\ntry:\n    cli.main(sys.argv[1:], standalone_mode=False)\n"
            "except SystemExit:\n    pass\nimport json\nprint(json.dumps(sorted(sys.modules)))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JUESUAN_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_help_and_read_import_only_what_they_use(seed_xlsx: Path, tmp_path: Path) -> None:
    mods = _imported(["--help"], tmp_path)
    assert "generator.cli.main" in mods
    assert not [m for m in mods if m.startswith(HEAVY + ("generator.xlsx", "generator.core.layout", "yaml"))]
    mods = _imported(["read", str(seed_xlsx)], tmp_path)
    assert "generator.xlsx.reader" in mods
    assert not [m for m in mods if m.startswith(HEAVY) and m != "jinja2" and not m.startswith("jinja2.")]  # the guide sheet
    # the first read parsed the spec; the next one loads it from the cache and needs no YAML parser, nor
    # Jinja2 (the guide sheet's text is in the cache entry), nor the spec schema's checks
    mods = _imported(["read", str(seed_xlsx)], tmp_path)
    assert "generator.xlsx.reader" in mods and "yaml" not in mods
    assert not [m for m in mods if m.startswith((*HEAVY, "generator.core.specschema"))]
    # a lazy command is there when it is asked for
    mods = _imported(["collect", "--help"], tmp_path)
    assert "generator.cli.collect" in mods and "generator.web" not in mods


def test_a_spec_is_parsed_once_per_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("JUESUAN_CACHE", str(cache))
    specs = tmp_path / "2024"
    shutil.copytree(ROOT / "specs" / "2024", specs)
    parsed = []
    real = catalog.parse_spec
    monkeypatch.setattr(catalog, "parse_spec", lambda *a, **kw: parsed.append(1) or real(*a, **kw))
    first = catalog.load_spec(specs)
    again = catalog.load_spec(specs)
    assert len(parsed) == 1 and len(list(cache.iterdir())) == 1
    # equal field by field (pickle bytes may differ by which equal strings share one object)
    assert again == first and again is not first and again.root == specs
    # any change to a spec file is another cache entry: the change is seen
    rules = specs / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    changed = catalog.load_spec(specs)
    assert len(parsed) == 2 and len(list(cache.iterdir())) == 2 and changed.hash == first.hash  # comments: same hash
    # a damaged cache entry is parsed again, never trusted
    for p in cache.iterdir():
        p.write_bytes(b"junk")
    assert catalog.load_spec(specs).hash == first.hash and len(parsed) == 3
    # JUESUAN_CACHE= (empty) turns the cache off
    monkeypatch.setenv("JUESUAN_CACHE", "")
    catalog.load_spec(specs)
    assert len(parsed) == 4


def test_the_c_yaml_parser_keeps_line_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from generator.core import spec as spec_mod
    from generator.core.spec import SpecInvalid

    if getattr(yaml, "CSafeLoader", None) is not None:
        assert issubclass(spec_mod._loader(), yaml.CSafeLoader)
    monkeypatch.setenv("JUESUAN_CACHE", "")
    specs = tmp_path / "2024"
    shutil.copytree(ROOT / "specs" / "2024", specs)
    text = (specs / "gongkai03.yaml").read_text(encoding="utf-8").splitlines()
    text[5] = text[5] + " ]["
    (specs / "gongkai03.yaml").write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(SpecInvalid) as exc:
        catalog.load_spec(specs)
    assert any(str(p).startswith(f"{specs / 'gongkai03.yaml'}:6") for p in exc.value.problems), exc.value.problems


def test_the_cache_entry_keeps_the_memo_of_a_blank_unit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec loaded from its cache entry has the memo tables a first workbook fills (no work twice in a
    fresh process), and the kept sheets' tables are the loaded spec's own objects (identity is compared)."""
    from generator.core.layout import plan_workbook

    monkeypatch.setenv("JUESUAN_CACHE", str(tmp_path / "cache"))
    specs = tmp_path / "2024"
    shutil.copytree(ROOT / "specs" / "2024", specs)
    catalog.load_spec(specs)  # parsed, written
    loaded = catalog.load_spec(specs)
    assert {"guide", "compiled", "fixed_sheets", "rule_instances"} <= set(loaded._caches)
    for sheet, _figs in loaded.cache("fixed_sheets").values():
        assert sheet.table is loaded.tables[sheet.table.id]
    fresh = catalog.parse_spec(specs, checks=(catalog.validate_spec_expressions, catalog.formula_cycles))
    for sections in ({}, {"公开02": ["215", "21505", "2150550"], "公开03": ["215", "21508", "2150805"]}):
        want = plan_workbook(fresh, "430100001", "某单位", 2024, sections, key="k")
        got = plan_workbook(loaded, "430100001", "某单位", 2024, sections, key="k")
        assert [(s.name, s.cells, s.merges) for s in got.sheets] == [(s.name, s.cells, s.merges) for s in want.sheets]
