"""A readable text dump of a generated workbook, one file per sheet, for golden-file tests
(after XlsxWriter's own tests: compare part by part, volatile parts left out)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter


def dump_workbook(path: Path) -> dict[str, str]:
    wb = openpyxl.load_workbook(path)
    cached = openpyxl.load_workbook(path, data_only=True)
    out: dict[str, str] = {}
    with zipfile.ZipFile(path) as zf:
        wbxml = zf.read("xl/workbook.xml").decode()
        core = zf.read("docProps/core.xml").decode()
        stamps = sorted({i.date_time for i in zf.infolist()})
    locked = 'lockStructure="1"' in wbxml
    head = ["# workbook", f"structure_locked: {locked}",
            "sheets: " + ", ".join(f"{ws.title}({ws.sheet_state})" for ws in wb.worksheets),
            "custom: " + ", ".join(f"{p.name}={p.value}" for p in wb.custom_doc_props.props),
            # document and zip times: a build must not depend on the clock
            "core: " + core.split("?>", 1)[-1],
            "zip times: " + " ".join(str(t) for t in stamps)]
    out["_workbook"] = "\n".join(head) + "\n"
    for ws in wb.worksheets:
        cws = cached[ws.title]
        lines = [f"# sheet {ws.title}", f"state: {ws.sheet_state}", f"protected: {ws.protection.sheet}",
                 f"freeze: {ws.freeze_panes}", f"orientation: {ws.page_setup.orientation} paper: {ws.page_setup.paperSize} "
                 f"fit: {ws.page_setup.fitToWidth}x{ws.page_setup.fitToHeight} print_titles: {ws.print_title_rows}",
                 "widths: " + " ".join(f"{k}={round(v.width, 1)}" for k, v in sorted(ws.column_dimensions.items()) if v.width),
                 "merges: " + " ".join(sorted(str(m) for m in ws.merged_cells.ranges))]
        heights = {k: v.ht for k, v in sorted(ws.row_dimensions.items()) if v.ht}
        if heights:
            lines.append("heights: " + " ".join(f"{k}={v}" for k, v in heights.items()))
        for cf in ws.conditional_formatting:
            for rule in cf.rules:
                fill = rule.dxf.fill if rule.dxf is not None else None
                font = rule.dxf.font if rule.dxf is not None else None
                lines.append(f"conditional {cf.sqref}: #{rule.priority} {rule.type} {rule.operator or ''} {rule.formula} "
                             f"fill={fill.bgColor.rgb if fill is not None and fill.bgColor is not None else None} "
                             f"font={font.color.rgb if font is not None and font.color is not None else None}")
        for dv in ws.data_validations.dataValidation:
            lines.append(f"validation {dv.sqref}: {dv.type} {dv.operator or ''} {dv.formula1} {dv.formula2 or ''} "
                         f"prompt={dv.prompt!r} error={dv.error!r}")
        for row in ws.iter_rows():
            for c in row:
                if c.value is None and c.protection.locked and not c.has_style:
                    continue
                flags = []
                if not c.protection.locked:
                    flags.append("unlocked")
                if c.protection.hidden:
                    flags.append("hidden")
                if c.fill is not None and c.fill.fgColor is not None and c.fill.fill_type:
                    flags.append(f"fill={c.fill.fgColor.rgb}")
                if c.number_format and c.number_format != "General":
                    flags.append(f"fmt={c.number_format}")
                if c.font is not None and c.font.b:
                    flags.append("bold")
                v = c.value
                if isinstance(v, str) and v.startswith("="):
                    shown = f"{v} -> {cws[c.coordinate].value!r}"
                elif v is None:
                    shown = "·"
                else:
                    shown = repr(v)
                lines.append(f"{get_column_letter(c.column)}{c.row}: {shown} [{' '.join(flags)}]")
        out[ws.title] = "\n".join(lines) + "\n"
    return out
