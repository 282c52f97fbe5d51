"""The canvass report as CSV: UTF-8 (with a BOM, so spreadsheets read accents right), header row, safe cells."""

from __future__ import annotations

import csv
import io

from services.registry.canvass.schemas import HEADERS, CanvassReport

# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPE = "text/csv; charset=utf-8"


def safe_cell(value: str) -> str:
    """The cell with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def render_csv(report: CanvassReport) -> bytes:
    """The report's rows under a header row, nearest first, every cell quoted as needed and formula-safe."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows([safe_cell(cell) for cell in row.cells()] for row in report.rows)
    return out.getvalue().encode("utf-8-sig")

