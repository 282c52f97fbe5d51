"""Rendering the canvass report: CSV quoting and formula safety, PDF text, Unicode, pagination and font fallback."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from services.registry.canvass import render_csv, render_pdf
from services.registry.canvass.api import filename
from services.registry.canvass.schemas import HEADERS, CanvassReport, CanvassRow, facing, yes_no
from services.registry.owners.schemas import SharingMode

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
ACCOUNT = uuid.UUID("00000000-0000-4000-8000-000000000042")


def row(label: str = "Porch", **kw: Any) -> CanvassRow:
    fields: dict[str, Any] = dict(
        camera_id=uuid.uuid4(), label=label, address="742 W Montrose St, Clermont, FL", site_kind="residential",
        distance_m=12.4, bearing_deg=90, covers_incident=True, retention_days=30, footage_likely_retained=True,
        sharing_mode=SharingMode.ON_REQUEST, core_enabled=False, owner_name="Pat Example", phone="+1 352 555 0199",
        request_state="none")
    fields.update(kw)
    return CanvassRow(**fields)


def report(rows: list[CanvassRow], case: str = "C-2026/77") -> CanvassReport:
    return CanvassReport(case_number=case, reason="burglary on the block", lon=-81.7745, lat=28.5567,
                         at=NOW - timedelta(hours=5), radius_m=200, generated_at=NOW, generated_by=ACCOUNT, rows=rows)


def parse_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheets need to read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_csv_header_and_cells() -> None:
    lines = parse_csv(render_csv.render_csv(report([row(), row("Drive", distance_m=87.6, bearing_deg=226,
                                                                  covers_incident=False, footage_likely_retained=None,
                                                                  core_enabled=True, phone=None,
                                                                  request_state="accepted")])))
    assert lines[0] == list(HEADERS)
    assert lines[1] == ["Porch", "742 W Montrose St, Clermont, FL", "residential", "12", "E (90°)", "yes", "30",
                        "yes", "on request", "no", "Pat Example", "'+1 352 555 0199", "none", ""]
    assert lines[2][:4] == ["Drive", "742 W Montrose St, Clermont, FL", "residential", "88"]
    assert lines[2][4:] == ["SW (226°)", "no", "30", "unknown", "on request", "yes", "Pat Example", "", "accepted", ""]


def test_csv_quotes_commas_quotes_newlines_and_unicode() -> None:
    nasty = 'Front "gate", left\nside'
    lines = parse_csv(render_csv.render_csv(report([row(nasty, address="Straße 5, Zürich — Ωμέγα")])))
    assert lines[1][0] == nasty
    assert lines[1][1] == "Straße 5, Zürich — Ωμέγα"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_formula_injection_is_defused(start: str) -> None:
    payload = f"{start}HYPERLINK(\"http://evil.example\",\"x\")"
    lines = parse_csv(render_csv.render_csv(report([row(payload, owner_name=payload, address=payload)])))
    assert lines[1][0] == "'" + payload
    assert lines[1][1] == "'" + payload
    assert lines[1][10] == "'" + payload


def test_safe_cell_leaves_ordinary_text() -> None:
    assert render_csv.safe_cell("Porch = front") == "Porch = front"
    assert render_csv.safe_cell("") == ""


def test_filename_is_sanitised() -> None:
    assert filename(report([], case="C-2026/77"), "csv") == "canvass-C-2026_77-2026-11-24.csv"
    assert filename(report([], case="A:b..c/../x"), "pdf") == "canvass-A_b..c_.._x-2026-11-24.pdf"


def test_facing_and_yes_no() -> None:
    assert facing(0) == "N (0°)"
    assert facing(359.6) == "N (0°)"
    assert facing(44) == "NE (44°)"
    assert facing(180) == "S (180°)"
    assert [yes_no(True), yes_no(False), yes_no(None)] == ["yes", "no", "unknown"]


def test_pdf_has_heading_rows_note_and_unicode() -> None:
    rows = [row("Porch"), row("Кухня café 東", address="Straße 5, Zürich"), row("Garage", request_state="pending")]
    pages, text = pdf_text(render_pdf.render_pdf(report(rows)))
    assert pages == 1
    assert "Canvass report" in text and "C-2026/77" in text
    assert "28.556700, -81.774500" in text
    assert str(ACCOUNT) in text
    assert "Porch" in text and "Garage" in text and "pending" in text
    assert "Кухня café" in text and "Straße 5, Zürich" in text
    assert "東" not in text  # not in DejaVu Sans: replaced, not dropped silently
    assert "Confidential — contains personal data; for the investigation of case C-2026/77 only" in text
    assert "Page 1/1" in text


def test_pdf_paginates_many_rows_with_page_numbers() -> None:
    rows = [row(f"Camera {i:03d}", distance_m=float(i)) for i in range(120)]
    pages, text = pdf_text(render_pdf.render_pdf(report(rows)))
    assert pages >= 3
    assert f"Page {pages}/{pages}" in text
    assert text.count("Confidential — contains personal data") == pages
    assert text.count("Retention") >= pages  # the header row repeats on every page
    assert all(f"Camera {i:03d}" in text for i in range(120))
    assert text.index("Camera 000") < text.index("Camera 119")


def test_pdf_without_unicode_font_falls_back(tmp_path: Path) -> None:
    data = render_pdf.render_pdf(report([row("Кухня café")]), font_dir=tmp_path)  # an empty folder: no font
    pages, text = pdf_text(data)
    assert pages == 1
    assert "?????" in text and "café" in text  # Latin-1 survives; the rest is replaced, the render does not fail
    assert "Confidential - contains personal data" in text


def test_pdf_with_no_cameras_says_so() -> None:
    _, text = pdf_text(render_pdf.render_pdf(report([])))
    assert "No registered camera within the radius." in text
    assert "Cameras: 0" in text
