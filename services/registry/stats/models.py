"""The camera ledger: +1/-1 rows per agency, so counts over time survive deletions without personal data."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.database import Base, UTCDateTime, utcnow


class CameraLedger(Base):
    """A change in an agency's registered or CORE-integrated camera count."""

    __tablename__ = "camera_ledger"
    __table_args__ = (Index(None, "agency_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    registered_delta: Mapped[int] = mapped_column(SmallInteger)
    core_delta: Mapped[int] = mapped_column(SmallInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
