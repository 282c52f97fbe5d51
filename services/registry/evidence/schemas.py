"""Evidence bodies: starting an upload, a file's state, a download link."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CASE_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9 ._/#:-]{0,63}$"


class UploadCreate(BaseModel):
    """Start a resumable upload: the file's name (shown only, sanitised) and its exact size in bytes."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=1024, description="the name on the owner's device")
    size_bytes: int = Field(ge=1, description="exact size; the upload is complete when this many bytes arrived")


class UploadRead(BaseModel):
    """Where an upload stands. Send the next bytes with PATCH at `offset`, at most `chunk_bytes` is advised."""

    upload_id: uuid.UUID
    request_id: uuid.UUID
    filename: str
    size_bytes: int
    offset: int
    chunk_bytes: int
    state: Literal["uploading", "stored", "deleted"]
    content_type: str | None = None
    sha256: str | None = None


class EvidenceRead(BaseModel):
    """One evidence file: its hash, times and state (`deleted` files keep their hash and size)."""

    id: uuid.UUID
    request_id: uuid.UUID
    case_number: str
    filename: str
    content_type: str | None
    size_bytes: int
    received_bytes: int
    sha256: str | None
    state: Literal["uploading", "stored", "deleted"]
    created_at: datetime
    stored_at: datetime | None
    retain_until_at: datetime | None
    deleted_at: datetime | None


class LinkRead(BaseModel):
    """A short-lived download link; anyone holding it can download until `expires_at`, so do not share it."""

    url: str
    expires_at: datetime
