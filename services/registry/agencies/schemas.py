"""Agency and sharing-agreement bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AgencyCreate(BaseModel):
    """A new participating agency and its jurisdiction (GeoJSON Polygon or MultiPolygon)."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=2, max_length=200)
    jurisdiction: dict[str, Any]


class AgencyRead(BaseModel):
    """An agency as anyone may see it."""

    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime


class AgreementCreate(BaseModel):
    """Let another agency's investigators search this agency's cameras."""

    model_config = ConfigDict(extra="forbid")

    grantee_agency_id: uuid.UUID


class AgreementRead(BaseModel):
    """A sharing agreement."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    grantor_agency_id: uuid.UUID
    grantee_agency_id: uuid.UUID
    created_at: datetime
