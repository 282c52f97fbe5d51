"""The canvass report: what is asked (point, time, radius, case, reason) and the rows an investigator prints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.registry.owners.schemas import NO_NUL, SharingMode
from services.registry.search.schemas import CaseNumber

ReportFormat = Literal["csv", "pdf"]
COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
# Column headers, in order; `CanvassRow.cells` yields one text per header (shared by the CSV and the PDF).
HEADERS = ("Camera", "Address", "Kind", "Distance (m)", "Facing", "Covers point", "Retention (days)", "Retained?",
           "Sharing", "CORE", "Owner", "Phone", "Request", "Notes")


class CanvassQuery(BaseModel):
    """The query string of GET /v1/canvass.{csv,pdf}."""

    model_config = ConfigDict(extra="forbid")

    lon: float = Field(ge=-180, le=180, description="incident longitude (WGS 84)")
    lat: float = Field(ge=-90, le=90, description="incident latitude (WGS 84)")
    at: AwareDatetime = Field(description="incident time, ISO 8601 with a UTC offset")
    radius_m: float = Field(default=200, gt=0, description="capped by the search radius cap")
    case_number: CaseNumber
    reason: Annotated[str, Field(min_length=5, max_length=200, pattern=NO_NUL,
                                 description="why contact data is needed (audited)")]


class CanvassRow(BaseModel):
    """One camera to ask about, with the contact to knock for. Contact-level data: never stored, only rendered."""

    camera_id: uuid.UUID
    label: str
    address: str
    site_kind: str
    distance_m: float
    bearing_deg: float
    covers_incident: bool
    retention_days: int
    footage_likely_retained: bool | None
    sharing_mode: SharingMode
    core_enabled: bool
    owner_name: str
    phone: str | None
    request_state: str = Field(description="latest request of this case for the camera, or 'none'")

    def cells(self) -> list[str]:
        """The row as text, one cell per HEADERS entry (the notes column stays empty for the paper)."""
        return [self.label, self.address, self.site_kind, f"{round(self.distance_m):d}", facing(self.bearing_deg),
                yes_no(self.covers_incident), str(self.retention_days), yes_no(self.footage_likely_retained),
                self.sharing_mode.value.replace("_", " "), yes_no(self.core_enabled), self.owner_name,
                self.phone or "", self.request_state, ""]


class CanvassReport(BaseModel):
    """A whole report: what was asked, by whom and when, and the rows nearest first."""

    case_number: str
    reason: str
    lon: float
    lat: float
    at: datetime
    radius_m: float
    generated_at: datetime
    generated_by: uuid.UUID
    rows: list[CanvassRow]


def yes_no(value: bool | None) -> str:
    """'yes', 'no', or 'unknown' for a missing estimate."""
    return "unknown" if value is None else ("yes" if value else "no")


def facing(bearing_deg: float) -> str:
    """A bearing as compass point and degrees, e.g. 'NE (45°)'."""
    return f"{COMPASS[round(bearing_deg / 45) % 8]} ({round(bearing_deg) % 360:d}°)"
