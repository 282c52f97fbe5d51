"""The audit event table: each row carries the hash of the row before it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.database import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """Who did what to which object, for which case, with what outcome, from where, when.

    Holds identifiers only, never personal data, so it can outlive an owner's deletion.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index(None, "agency_id", "recorded_at"),
        Index(None, "subject_owner_id", "recorded_at"),
        Index(None, "action", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[uuid.UUID | None]
    actor_role: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str | None] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(64))
    subject_owner_id: Mapped[uuid.UUID | None]
    case_number: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(2000))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The tip of the chain, one row: appends take its lock, and it shows when the newest rows are cut off."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
