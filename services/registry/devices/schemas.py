"""Enrolment codes, the enrolment exchange of a CORE box, and device views."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.registry.owners.schemas import SharingMode

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud and typed without mistakes
CODE_LENGTH = 12


class EnrolmentCodeRead(BaseModel):
    """A fresh one-time code, shown once: type it into the box within its lifetime."""

    code: str = Field(description="XXXX-XXXX-XXXX; dashes, spaces and case are ignored when entered",
                      examples=["7KQM-4TZP-W9HC"])
    expires_at: datetime
    site_id: uuid.UUID


class EnrolRequest(BaseModel):
    """What a CORE box sends to enrol: the owner's code is its only credential."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=40, examples=["7KQM-4TZP-W9HC"])
    firmware: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$", examples=["lookout-core 1.0.0"])


class MqttCredentials(BaseModel):
    """How the box reaches the broker; the password is shown only in this response."""

    host: str
    port: int
    tls: bool
    username: str
    password: str
    client_id: str


class EnrolledCamera(BaseModel):
    """A camera the box now serves."""

    camera_id: uuid.UUID
    label: str
    sharing_mode: SharingMode


class EnrolResponse(BaseModel):
    """The box's identity, broker account and cameras."""

    device_id: uuid.UUID
    site_id: uuid.UUID
    mqtt: MqttCredentials
    cameras: list[EnrolledCamera]


class DeviceRead(BaseModel):
    """A CORE box as its owner or agency sees it."""

    id: uuid.UUID
    site_id: uuid.UUID
    owner_id: uuid.UUID
    agency_id: uuid.UUID
    firmware: str
    enrolled_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None
    camera_ids: list[uuid.UUID]
