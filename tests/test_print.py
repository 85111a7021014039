"""Printing as LibreOffice prints: every table sheet one page wide, no page holding only a table's
last rows or notes, the 填报说明 and 审核 sheets within the page; blank, filled, long and 汇总
workbooks. Pages are told apart by the running header each sheet prints (公开NN表, 填报说明, 审核);
the pages are also rendered to PNG (pdftoppm) for people to look at."""

from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from generator.core.dataset import Dataset
from generator.core.spec import Spec
from generator.xlsx.libreoffice import convert_many, soffice
from generator.xlsx.writer import MIN_LAST_PAGE, build_workbook

pytestmark = [pytest.mark.libreoffice,
              pytest.mark.skipif(soffice() is None or shutil.which("pdftotext") is None,
                                 reason="LibreOffice and poppler-utils needed")]


def pages(pdf: Path) -> list[str]:
    n = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                                                          check=True).stdout).group(1))  # type: ignore[union-attr]
    return [subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), "-layout", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout for i in range(1, n + 1)]


def by_sheet(texts: list[str]) -> dict[str, list[str]]:
    """Pages per sheet, by the running header on top of each page."""
    out: dict[str, list[str]] = {}
    for t in texts:
        first = next((ln.strip() for ln in t.splitlines() if ln.strip()), "")
        out.setdefault(first, []).append(t)
    return out


def big_unit(spec: Spec) -> Dataset:
    """A unit with 90 项 in 公开03: more rows than one page holds."""
    ds = Dataset("430100099", "长沙市大型综合单位", 2024)
    for i in range(90):
        code = f"2150{5 + (i // 45) * 3:01d}{i % 45 + 10:02d}"  # 21505xx and 21508xx
        ds.names[code] = f"测试项目{i + 1}"
        ds.set("公开03", code, "2", Decimal("1.00"))
    return ds


@pytest.fixture(scope="module")
def printed(spec: Spec, seed_build, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    from generator.core.dataset import load_dataset

    root = tmp_path_factory.mktemp("print")
    src = {"filled": seed_build.path, "blank": root / "blank.xlsx", "big": root / "big.xlsx",
           "summary": root / "summary.xlsx"}
    build_workbook(spec, Dataset("430100009", "长沙市测试单位"), src["blank"])
    build_workbook(spec, big_unit(spec), src["big"])
    seed = load_dataset(Path(__file__).resolve().parent.parent / "specs" / "samples" / "seed-2024.json")
    build_workbook(spec, seed, src["summary"], units=3, kind="汇总")
    files = []
    for name, path in src.items():
        dst = root / f"{name}.xlsx"
        if path != dst:
            shutil.copy(path, dst)
        files.append(dst)
    pdfs = convert_many(files, root / "pdf", "pdf")
    for pdf in pdfs:  # PNGs of every page, to look at
        subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(pdf.with_suffix(""))], check=True)
        assert list(pdf.parent.glob(f"{pdf.stem}-*.png"))
    return {pdf.stem: pages(pdf) for pdf in pdfs}


@pytest.mark.parametrize("name", ["blank", "filled", "summary"])
def test_each_table_prints_on_one_page(spec: Spec, printed: dict[str, list[str]], name: str) -> None:
    sheets = by_sheet(printed[name])
    for t in spec.tables.values():
        if not t.id.startswith("公开"):
            continue  # the 公开 tables; other sheets (附件) only share the page setup
        got = sheets.get(t.number, [])
        assert len(got) == 1, (name, t.number, len(got))  # one page: one page wide, nothing left over
        body = got[0]
        assert t.title in body and "单位：万元" in body
        for note in t.notes:  # the notes are on the table's own page
            assert note.strip()[:12] in body.replace(" ", ""), (t.number, note)
    guide = sheets.get("填报说明", [])
    if name == "summary":
        assert not guide  # a 汇总 is nobody's form to fill
    else:
        assert 1 <= len(guide) <= 2 and "部门决算公开表（2024年度）填报说明" in guide[0]
        # nothing cut off: every numbered paragraph starts at the left edge of the text
        for n in ("一、", "二、", "三、", "九、"):
            assert re.search(rf"^\s*{n}", guide[0], re.M), n
    assert sheets.get("审核")
    assert {t.number for t in spec.tables.values()} >= {s for s in sheets if s.startswith("公开")}


def test_a_long_table_breaks_without_orphans(printed: dict[str, list[str]]) -> None:
    long = by_sheet(printed["big"])["公开03表"]
    assert len(long) >= 2
    for i, page in enumerate(long):
        codes = re.findall(r"^\s*21505\d\d|^\s*21508\d\d", page, re.M)
        # every page, the last one too, holds 科目 rows, not only the last rows and the notes
        assert len(codes) >= MIN_LAST_PAGE, (i, len(codes))
        assert "科目代码" in page  # header rows repeated
    assert "注：" in long[-1] and all("注：" not in p for p in long[:-1])
