"""The canvass report as a printable PDF: landscape A4, a table that wraps and paginates, page numbers, a warning."""

from __future__ import annotations

import logging
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from services.registry.canvass.schemas import HEADERS, CanvassReport

MEDIA_TYPE = "application/pdf"
# Debian's fonts-dejavu-core: a Unicode font, so labels and addresses in any European script print as typed.
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
FAMILY = "dejavu"
# Millimetres per column, in HEADERS order; they fill the 277 mm between the margins of landscape A4.
COL_WIDTHS = (26, 40, 18, 15, 15, 12, 16, 16, 19, 11, 26, 26, 16, 21)
# The core fonts only know Latin-1: typographic marks get their plain look-alike, the rest a question mark.
PLAIN = str.maketrans({"\u2014": "-", "\u2013": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                       "\u2026": "...", "\u2022": "*"})  # dashes, quotes, ellipsis, bullet
GREY = 110
# fpdf2 subsets the font with fontTools, which narrates every step at INFO: one report, a hundred log lines.
logging.getLogger("fontTools").setLevel(logging.WARNING)


class _Sheet(FPDF):
    """A4 landscape with a running head and a footer carrying the confidentiality note and page numbers."""

    def __init__(self, report: CanvassReport, font_dir: Path | None) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.report = report
        self.family = "helvetica"
        self.glyphs: frozenset[int] | None = None  # code points the Unicode font can draw; None: Latin-1 only
        if font_dir is not None and (font_dir / REGULAR).is_file():
            self.add_font(FAMILY, "", str(font_dir / REGULAR))
            bold = font_dir / BOLD if (font_dir / BOLD).is_file() else font_dir / REGULAR
            self.add_font(FAMILY, "B", str(bold))
            self.family = FAMILY
            self.glyphs = frozenset(getattr(self.fonts[FAMILY], "cmap", {}))
        self.set_margins(10, 12, 10)
        self.set_auto_page_break(auto=True, margin=14)
        self.set_title(self.clean(f"Canvass report, case {report.case_number}"))
        self.set_creator("Lookout registry")

    def clean(self, text: str) -> str:
        """The text with every character the current font cannot draw replaced, so nothing fails or vanishes."""
        if self.glyphs is not None:
            return "".join(c if ord(c) in self.glyphs or c in "\n\t" else "?" for c in text)
        return text.translate(PLAIN).encode("latin-1", "replace").decode("latin-1")

    def header(self) -> None:
        self.set_font(self.family, "", 7)
        self.set_text_color(GREY)
        self.cell(0, 4, self.clean(f"Lookout canvass report · case {self.report.case_number}"), align="R",
                  new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(self.family, "", 7)
        self.set_text_color(GREY)
        note = (f"Confidential — contains personal data; for the investigation of case "
                f"{self.report.case_number} only")
        self.cell(self.epw - 30, 4, self.clean(note), align="L")
        self.cell(30, 4, f"Page {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0)


def render_pdf(report: CanvassReport, *, font_dir: Path | None = FONT_DIR) -> bytes:
    """The report as PDF bytes; without the Unicode font it falls back to Helvetica and replaces what it lacks."""
    pdf = _Sheet(report, font_dir)
    pdf.add_page()
    _heading(pdf, report)
    _table(pdf, report)
    return bytes(pdf.output())


def _heading(pdf: _Sheet, report: CanvassReport) -> None:
    pdf.set_font(pdf.family, "B", 15)
    pdf.cell(0, 9, pdf.clean(f"Canvass report — case {report.case_number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 9)
    lines = (
        f"Incident point: {report.lat:.6f}, {report.lon:.6f} (lat, lon)   Radius: {report.radius_m:g} m   "
        f"Cameras: {len(report.rows)}",
        f"Incident time: {report.at.isoformat(timespec='minutes')}",
        f"Reason: {report.reason}",
        f"Generated at {report.generated_at:%Y-%m-%d %H:%M} UTC by account {report.generated_by}",
    )
    for line in lines:
        pdf.multi_cell(0, 4.5, pdf.clean(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def _table(pdf: _Sheet, report: CanvassReport) -> None:
    pdf.set_font(pdf.family, "", 7.5)
    headings = FontFace(emphasis="BOLD", size_pt=7, fill_color=(225, 225, 225))
    with pdf.table(col_widths=COL_WIDTHS, width=sum(COL_WIDTHS), align="LEFT", text_align="LEFT", line_height=3.6,
                   headings_style=headings, repeat_headings=1, cell_fill_color=(246, 246, 246),
                   cell_fill_mode="ROWS", padding=1) as table:
        table.row([pdf.clean(h) for h in HEADERS])
        for row in report.rows:
            table.row([pdf.clean(cell) for cell in row.cells()])
    if not report.rows:
        pdf.ln(2)
        pdf.cell(0, 5, "No registered camera within the radius.", new_x="LMARGIN", new_y="NEXT")
