"""Program statistics and transparency report bodies."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


class MonthCount(BaseModel):
    """Cameras registered and CORE-integrated at the end of a month."""

    month: str
    registered: int
    core_integrated: int


class ProgramStats(BaseModel):
    """One agency's program over time."""

    agency_id: uuid.UUID
    months: list[MonthCount]


class AgencyTransparency(BaseModel):
    """Aggregate numbers an agency publishes; never an individual camera or person."""

    agency: str
    name: str
    cameras_registered: int
    cameras_core_integrated: int
    searches_by_month: dict[str, int]
    contact_views_by_month: dict[str, int]


class TransparencyReport(BaseModel):
    """The public report."""

    generated_at: str
    agencies: list[AgencyTransparency]
