"""Search requests and results."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.registry.owners.schemas import LonLat, SharingMode

CaseNumber = Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9/_.:-]*$",
                                  description="the case this search is made for (audited)")]


class Near(BaseModel):
    """Cameras within a radius of a point."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["near"] = "near"
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    radius_m: float = Field(gt=0)


class Within(BaseModel):
    """Cameras inside a polygon (GeoJSON Polygon)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["within"] = "within"
    polygon: dict[str, Any]


class Along(BaseModel):
    """Cameras within a buffer of a route (GeoJSON LineString), e.g. a suspect's path."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["along"] = "along"
    route: dict[str, Any]
    buffer_m: float = Field(gt=0)


class SearchRequest(BaseModel):
    """One search: an area, the case number, and optionally the incident's point and time."""

    model_config = ConfigDict(extra="forbid")

    case_number: CaseNumber
    area: Annotated[Near | Within | Along, Field(discriminator="type")]
    incident_point: LonLat | None = Field(default=None, description="for coverage; defaults from the area")
    incident_at: AwareDatetime | None = Field(default=None, description="for the retention estimate")
    page: int = Field(default=1, ge=1, le=10_000)
    page_size: int | None = Field(default=None, ge=1)


class CameraHit(BaseModel):
    """One camera found: where it is and what it can offer. Never contact data."""

    camera_id: uuid.UUID
    agency_id: uuid.UUID
    label: str
    location: LonLat
    distance_m: float
    bearing_deg: float
    fov_deg: float
    range_m: float
    indoor: bool
    covers_incident: bool = Field(description="the incident point lies inside the camera's field-of-view cone")
    retention_days: int
    footage_likely_retained: bool | None = Field(description="null without incident_at")
    sharing_mode: SharingMode
    core_enabled: bool
    live_possible: bool


class SearchResult(BaseModel):
    """A page of cameras, nearest first."""

    case_number: str
    page: int
    page_size: int
    has_more: bool
    items: list[CameraHit]
    searched_at: datetime
