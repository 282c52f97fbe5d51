"""Consent grants: an owner lets one agency's dispatchers watch one camera live during a window."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.database import Base, UTCDateTime, new_id, utcnow


class ConsentGrant(Base):
    """Live access to a camera for an agency from `starts_at` until `expires_at`, unless revoked."""

    __tablename__ = "consent_grant"
    __table_args__ = (CheckConstraint("expires_at > starts_at", name="window"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    camera_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
