"""Consent grant bodies: what an owner grants, what the owner and an agency's dispatchers are shown."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.registry.owners.schemas import LonLat


class GrantCreate(BaseModel):
    """An owner lets an agency watch one camera live from `starts_at` (default now) until `expires_at`."""

    model_config = ConfigDict(extra="forbid")

    expires_at: AwareDatetime = Field(description="end of the window (UTC offset required)")
    starts_at: AwareDatetime | None = Field(default=None, description="start of the window; defaults to now")
    agency_id: uuid.UUID | None = Field(default=None, description="the agency that may watch; defaults to the "
                                                                   "camera's agency")


class GrantRead(BaseModel):
    """A grant as its owner sees it; `revoked_at` is set once the owner revoked it."""

    id: uuid.UUID
    camera_id: uuid.UUID
    agency_id: uuid.UUID
    starts_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime


class AgencyGrantRead(BaseModel):
    """A grant to the caller's agency with what a dispatcher needs to start a session (no owner contact)."""

    id: uuid.UUID
    agency_id: uuid.UUID
    camera_id: uuid.UUID
    camera_label: str
    location: LonLat
    device_id: uuid.UUID | None
    starts_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool
