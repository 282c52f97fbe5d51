"""Footage requests to owners, the cameras each covers, and shares of a request with another agency."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.database import Base, UTCDateTime, new_id, utcnow

LEGAL_BASES = ("owner_consent", "warrant", "exigent")
# pending -> accepted -> fulfilled (files uploaded and the owner said done); pending -> declined;
# pending/accepted -> expired (due date passed); any open -> withdrawn (investigator) or closed (owner left).
REQUEST_STATES = ("pending", "accepted", "declined", "fulfilled", "expired", "withdrawn", "closed")
OPEN_STATES = ("pending", "accepted")


class FootageRequest(Base):
    """One agency's request to one owner for footage of a time window from some of their cameras."""

    __tablename__ = "footage_request"
    __table_args__ = (
        CheckConstraint(f"legal_basis IN {LEGAL_BASES!r}", name="legal_basis"),
        CheckConstraint(f"state IN {REQUEST_STATES!r}", name="state"),
        CheckConstraint("window_end_at > window_start_at", name="window"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"), index=True)
    # The owner asked; empty once the owner deleted their account (the request is then closed).
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("owner.id", ondelete="SET NULL"), index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    case_number: Mapped[str] = mapped_column(String(64), index=True)
    legal_basis: Mapped[str] = mapped_column(String(20))
    window_start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    message: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class FootageRequestCamera(Base):
    """A camera a request covers (the row goes if the owner deletes the camera; the label is kept)."""

    __tablename__ = "footage_request_camera"
    __table_args__ = (UniqueConstraint("request_id", "camera_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("footage_request.id", ondelete="CASCADE"), index=True)
    camera_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("camera.id", ondelete="SET NULL"), index=True)
    camera_label: Mapped[str] = mapped_column(String(100))


class RequestShare(Base):
    """The requesting agency let another agency see a request and its evidence (recorded, revocable)."""

    __tablename__ = "request_share"
    __table_args__ = (UniqueConstraint("request_id", "agency_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("footage_request.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    shared_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
