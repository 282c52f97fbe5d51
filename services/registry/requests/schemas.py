"""Footage request bodies: what an investigator asks, what staff and owners are shown, shares."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.registry.owners.schemas import NO_NUL
from services.registry.search.schemas import CaseNumber


class LegalBasis(StrEnum):
    """Why the agency may ask for footage."""

    OWNER_CONSENT = "owner_consent"
    WARRANT = "warrant"
    EXIGENT = "exigent"


class RequestState(StrEnum):
    """Where a request stands (see requests/models.py for the transitions)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    FULFILLED = "fulfilled"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class RequestCreate(BaseModel):
    """An investigator asks the owners of some cameras for footage of a time window."""

    model_config = ConfigDict(extra="forbid")

    case_number: CaseNumber
    legal_basis: LegalBasis
    window_start_at: AwareDatetime = Field(description="start of the incident window (UTC offset required)")
    window_end_at: AwareDatetime = Field(description="end of the incident window; not in the future")
    message: str = Field(min_length=1, max_length=4000, pattern=NO_NUL, description="shown to the owner")
    due_at: AwareDatetime | None = Field(default=None, description="answer by; defaults to the configured days")
    camera_ids: list[uuid.UUID] = Field(min_length=1, description="cameras found by a search")


class RequestCameraRead(BaseModel):
    """A camera a request covers; `camera_id` is empty once the owner removed the camera."""

    camera_id: uuid.UUID | None
    label: str


class OwnerRequestRead(BaseModel):
    """A request as its owner sees it: who asks, why, for what window, from which of their cameras."""

    id: uuid.UUID
    agency_name: str
    case_number: str
    legal_basis: LegalBasis
    window_start_at: datetime
    window_end_at: datetime
    message: str
    due_at: datetime
    state: RequestState
    decline_reason: str | None
    answered_at: datetime | None
    created_at: datetime
    cameras: list[RequestCameraRead]


class FootageRequestRead(OwnerRequestRead):
    """A request as agency staff see it: everything but the owner's contact details."""

    agency_id: uuid.UUID
    owner_id: uuid.UUID | None
    created_by: uuid.UUID | None
    closed_at: datetime | None
    updated_at: datetime
    notified: bool = Field(description="an email to the owner was queued (false: the owner has no email)")


class RequestsCreated(BaseModel):
    """One request per owner of the cameras asked for."""

    requests: list[FootageRequestRead]


class DeclineBody(BaseModel):
    """The owner declines, optionally saying why."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000, pattern=NO_NUL)


class ShareCreate(BaseModel):
    """The requesting agency lets another agency see a request and its evidence."""

    model_config = ConfigDict(extra="forbid")

    agency_id: uuid.UUID
    reason: str = Field(min_length=5, max_length=500, pattern=NO_NUL)


class ShareRead(BaseModel):
    """A share of a request with another agency (revoked ones are listed too)."""

    agency_id: uuid.UUID
    agency_name: str
    shared_by: uuid.UUID | None
    reason: str
    created_at: datetime
    revoked_at: datetime | None
