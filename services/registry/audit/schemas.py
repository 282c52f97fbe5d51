"""Audit log bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AuditEventRead(BaseModel):
    """One audit row, with its place in the chain."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    recorded_at: datetime
    actor_id: uuid.UUID | None
    actor_role: str
    agency_id: uuid.UUID | None
    action: str
    object_type: str | None
    object_id: str | None
    case_number: str | None
    reason: str | None
    outcome: str
    source: str | None
    detail: str | None
    prev_hash: str
    hash: str


class ChainReportRead(BaseModel):
    """Result of verifying the whole chain."""

    ok: bool
    rows_checked: int
    first_broken_id: int | None
    problem: str | None
