"""Program statistics and transparency report bodies."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class MonthCount(BaseModel):
    """Cameras registered and CORE-integrated at the end of a month."""

    month: str
    registered: int
    core_integrated: int


class ProgramStats(BaseModel):
    """One agency's program over time."""

    agency_id: uuid.UUID
    months: list[MonthCount]


class RequestMonth(BaseModel):
    """Footage requests an agency made in one month, by legal basis and by where they stand now."""

    total: int
    by_legal_basis: dict[str, int]
    by_outcome: dict[str, int]


class AgencyTransparency(BaseModel):
    """Aggregate numbers an agency publishes; never an individual camera or person."""

    agency: str
    name: str
    cameras_registered: int
    cameras_core_integrated: int
    searches_by_month: dict[str, int]
    contact_views_by_month: dict[str, int]
    requests_by_month: dict[str, RequestMonth] = Field(
        default_factory=dict, description="counted in the month a request was made, by its current state")


class TransparencyReport(BaseModel):
    """The public report."""

    generated_at: str
    agencies: list[AgencyTransparency]
