"""A workbook built from an older spec of the same version (the code list grew after the templates
went out): one finding, ``template-outdated`` (按旧版模板填报) with the ``migrate`` way out, no
tampering findings for the hidden sheets the spec change altered; the reader, given several spec
folders of that version, reads it with the one whose hash the workbook records."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from generator.core.catalog import load_spec
from generator.core.dataset import Dataset
from generator.core.findings import ERROR
from generator.core.spec import Spec
from generator.office.collect import TEMPLATE, collect, load_tree, unit_report
from generator.office.store import Store
from generator.xlsx.reader import read_workbook
from generator.xlsx.writer import build_workbook

from .conftest import SPECS
from .xlsxparts import rezip

HIDDEN = ("_meta", "代码表")


def _older(tmp: Path) -> Spec:
    """A copy of specs/2024 whose code list has one more 项 (the list the templates were built with)."""
    old = tmp / "old-2024"
    shutil.copytree(SPECS, old)
    codes = old / "codes" / "functional.yaml"
    text = codes.read_text(encoding="utf-8")
    assert '  "2150550": 事业运行\n' in text and "2150501" not in text
    codes.write_text(text.replace('  "2150550": 事业运行\n', '  "2150550": 事业运行\n  "2150501": 行政运行\n'),
                     encoding="utf-8")
    return load_spec(old)


@pytest.fixture(scope="module")
def older(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return _older(tmp_path_factory.mktemp("specs"))


def test_an_old_template_is_one_finding_with_the_migrate_hint(spec: Spec, older: Spec, seed: Dataset,
                                                              tmp_path: Path) -> None:
    assert older.version == spec.version and older.hash != spec.hash
    path = tmp_path / "old.xlsx"
    build_workbook(older, seed, path)
    res = read_workbook(path, spec=spec)
    errors = [f for f in res.findings if f.severity == ERROR]
    assert [f.code for f in errors] == ["template-outdated"], [f.render() for f in errors]
    f = errors[0]
    assert "按旧版模板填报" in f.message and "juesuan migrate" in f.message
    assert (f.expected, f.actual) == (spec.hash, older.hash)
    assert not [g for g in res.findings if (g.cell or "").split("!")[0] in HIDDEN]
    assert res.usable and res.dataset is not None and res.dataset.values == read_workbook(path, spec=older).dataset.values  # type: ignore[union-attr]


@pytest.mark.slow
def test_the_reader_picks_the_spec_folder_whose_hash_the_workbook_records(spec: Spec, older: Spec, seed: Dataset,
                                                                          tmp_path: Path) -> None:
    assert older.root is not None
    old_book, new_book = tmp_path / "old.xlsx", tmp_path / "new.xlsx"
    build_workbook(older, seed, old_book)
    build_workbook(spec, seed, new_book)
    for dirs in ([SPECS, older.root], [older.root, SPECS]):
        got = read_workbook(old_book, [Path(d) for d in dirs])
        assert got.spec is not None and got.spec.hash == older.hash
        assert not [f for f in got.findings if f.severity == ERROR]
        got = read_workbook(new_book, [Path(d) for d in dirs])
        assert got.spec is not None and got.spec.hash == spec.hash
        assert not [f for f in got.findings if f.severity == ERROR]
    # a spec given, but of another hash, gives way to the folder that matches
    got = read_workbook(old_book, [Path(older.root)], spec=spec)
    assert got.spec is not None and got.spec.hash == older.hash


def test_a_forged_spec_hash_is_still_tampering(spec: Spec, older: Spec, seed: Dataset, tmp_path: Path) -> None:
    """The recorded hash is fingerprinted: a current template whose hash was edited to an older one
    is not an old template."""
    path = tmp_path / "forged.xlsx"
    data = build_workbook(spec, seed, None).data
    zin = zipfile.ZipFile(io.BytesIO(data))
    change = {n: zin.read(n).replace(spec.hash.encode(), older.hash.encode()) for n in zin.namelist()
              if spec.hash.encode() in zin.read(n)}
    assert change
    path.write_bytes(rezip(data, change=change))
    codes = {f.code for f in read_workbook(path, spec=spec).findings}
    assert {"fingerprint-mismatch", "template-spec-changed"} <= codes and "template-outdated" not in codes


def test_collect_marks_an_old_template_with_that_one_finding(spec: Spec, older: Spec, seed: Dataset,
                                                             tmp_path: Path) -> None:
    returned = tmp_path / "returned"
    returned.mkdir()
    build_workbook(older, seed, returned / f"{seed.unit_code}.xlsx")
    units = tmp_path / "units.csv"
    units.write_text(f"code,name,parent\n{seed.unit_code},{seed.unit_name},\n", encoding="utf-8")
    tree = load_tree(units)
    with Store(tmp_path / "db.sqlite") as store:
        collect(store, returned, tree, spec, workers=1, progress=False)
        row = unit_report(store, tree).rows[0]
        assert row.status == TEMPLATE
        sub = row.history[-1]
        errors = [f.code for f in store.findings(sub["id"]) if f.severity == ERROR]
    assert errors == ["template-outdated"]
