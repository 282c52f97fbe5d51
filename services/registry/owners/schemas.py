"""Owner, site and camera bodies. Field constraints here are the API's validation."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class SharingMode(StrEnum):
    """What the owner lets the police do with a camera."""

    REGISTRY_ONLY = "registry_only"
    ON_REQUEST = "on_request"
    LIVE_ON_ALERT = "live_on_alert"
    LIVE_ON_CONSENT = "live_on_consent"


LIVE_MODES = frozenset({SharingMode.LIVE_ON_ALERT, SharingMode.LIVE_ON_CONSENT})


class SiteKind(StrEnum):
    """Residential or commercial premises."""

    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"


class LonLat(BaseModel):
    """A WGS 84 position."""

    model_config = ConfigDict(extra="forbid")

    lon: float = Field(ge=-180, le=180, description="longitude, degrees east")
    lat: float = Field(ge=-90, le=90, description="latitude, degrees north")


NO_NUL = r"^[^\x00]*$"  # stored as plain text, and PostgreSQL text cannot hold NUL
Phone = Field(default=None, min_length=3, max_length=40, pattern=r"^[0-9+() .-]+$")
Name = Field(min_length=1, max_length=200)


class OwnerSignup(BaseModel):
    """An owner registering themselves."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=12, max_length=1024)
    name: str = Name
    phone: str | None = Phone


class OwnerCreate(BaseModel):
    """An owner registered by an advocate on their behalf (no login until they claim it)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Name
    email: EmailStr | None = None
    phone: str | None = Phone


class OwnerUpdate(BaseModel):
    """Changes to an owner's contact data."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Phone


class OwnerRead(BaseModel):
    """An owner's own contact data (never shown in searches)."""

    id: uuid.UUID
    name: str
    email: str | None
    phone: str | None
    has_login: bool
    created_at: datetime


class SiteCreate(BaseModel):
    """A site: street address and, unless a geocoder is configured, the owner's pin."""

    model_config = ConfigDict(extra="forbid")

    owner_id: uuid.UUID | None = Field(default=None, description="required when an advocate registers a site")
    kind: SiteKind
    address: str = Field(min_length=3, max_length=300)
    location: LonLat | None = None


class SiteUpdate(BaseModel):
    """Changes to a site."""

    model_config = ConfigDict(extra="forbid")

    kind: SiteKind | None = None
    address: str | None = Field(default=None, min_length=3, max_length=300)
    location: LonLat | None = None


class SiteRead(BaseModel):
    """A site as its owner (or their advocate) sees it."""

    id: uuid.UUID
    owner_id: uuid.UUID
    agency_id: uuid.UUID
    kind: SiteKind
    address: str
    location: LonLat
    created_at: datetime


class CameraFields(BaseModel):
    """What describes a camera (shared by create and CSV import)."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    location: LonLat | None = Field(default=None, description="defaults to the site's point")
    bearing_deg: float = Field(ge=0, lt=360, description="direction it faces, degrees clockwise from north")
    fov_deg: float = Field(gt=0, le=360, description="horizontal field of view")
    range_m: float = Field(gt=0, le=1000, description="how far it sees usefully")
    retention_days: int = Field(ge=0, le=3650)
    indoor: bool = False
    sharing_mode: SharingMode = SharingMode.ON_REQUEST
    core_enabled: bool = Field(default=False, description="served by a CORE box")


class CameraCreate(CameraFields):
    """A new camera on a site."""


class CameraUpdate(BaseModel):
    """Changes to a camera."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, min_length=1, max_length=100, pattern=NO_NUL)
    location: LonLat | None = None
    bearing_deg: float | None = Field(default=None, ge=0, lt=360)
    fov_deg: float | None = Field(default=None, gt=0, le=360)
    range_m: float | None = Field(default=None, gt=0, le=1000)
    retention_days: int | None = Field(default=None, ge=0, le=3650)
    indoor: bool | None = None
    sharing_mode: SharingMode | None = None
    core_enabled: bool | None = None


class CameraRead(BaseModel):
    """A camera as its owner, advocate or an investigator sees it (no contact data)."""

    id: uuid.UUID
    site_id: uuid.UUID
    agency_id: uuid.UUID
    label: str
    location: LonLat
    bearing_deg: float
    fov_deg: float
    range_m: float
    retention_days: int
    indoor: bool
    sharing_mode: SharingMode
    core_enabled: bool
    created_at: datetime
    updated_at: datetime


class ContactRequest(BaseModel):
    """Why an investigator needs to see who to call."""

    model_config = ConfigDict(extra="forbid")

    case_number: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9/_.:-]*$")
    reason: str = Field(min_length=5, max_length=500, pattern=NO_NUL)


class ContactRead(BaseModel):
    """The owner's contact for one camera, shown with a case number and audited."""

    camera_id: uuid.UUID
    owner_name: str
    phone: str | None
    email: str | None
    address: str
    site_kind: SiteKind
    case_number: str


class AccessRead(BaseModel):
    """One access to the owner's data, for their access feed."""

    at: datetime
    action: str
    agency_id: uuid.UUID | None
    agency_name: str | None
    case_number: str | None
    object_type: str | None
    object_id: str | None
