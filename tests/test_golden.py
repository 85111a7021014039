"""Golden text dumps of generated sheets: cell -> value/formula(+cached)/locked/validation.
Regenerate only with ``pytest --update-golden`` and review the diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.core.dataset import Dataset
from generator.xlsx.writer import build_workbook

from .dump import dump_workbook

GOLDEN = Path(__file__).resolve().parent / "golden"


def _check(name: str, dumps: dict[str, str], update: bool) -> None:
    folder = GOLDEN / name
    if update:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.txt"):
            old.unlink()
        for sheet, text in dumps.items():
            (folder / f"{sheet}.txt").write_text(text, encoding="utf-8")
        return
    expected = {p.stem: p.read_text(encoding="utf-8") for p in folder.glob("*.txt")}
    assert sorted(expected) == sorted(dumps), "sheets differ from the golden set"
    for sheet, text in dumps.items():
        assert text == expected[sheet], f"{name}/{sheet}.txt differs (run pytest --update-golden and review)"


@pytest.mark.slow
def test_seed_workbook_matches_golden(seed_build, update_golden: bool) -> None:  # type: ignore[no-untyped-def]
    _check("seed", dump_workbook(seed_build.path), update_golden)


def test_blank_template_matches_golden(spec, tmp_path: Path, update_golden: bool) -> None:  # type: ignore[no-untyped-def]
    res = build_workbook(spec, Dataset(unit_code="430001999", unit_name="空白单位", year=2024), tmp_path / "blank.xlsx")
    dumps = dump_workbook(res.path)
    # the blank template differs from the seed only in figures and 科目 rows: keep the tables
    _check("blank", {k: v for k, v in dumps.items() if k.startswith(("公开", "附件", "_workbook"))}, update_golden)


@pytest.mark.slow
@pytest.mark.parametrize("sheet", ["公开01表", "公开06表", "公开09表"])
def test_golden_dump_has_the_official_labels(seed_build, sheet: str) -> None:  # type: ignore[no-untyped-def]
    text = dump_workbook(seed_build.path)[sheet]
    assert "单位：长沙市企业服务中心" in text and "单位：万元" in text
