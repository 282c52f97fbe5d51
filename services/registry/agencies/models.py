"""Agency and sharing-agreement tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.database import Base, UTCDateTime, multipolygon_column, new_id, utcnow


class Agency(Base):
    """A police agency taking part in the program, with the area it serves."""

    __tablename__ = "agency"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    jurisdiction: Mapped[object] = mapped_column(multipolygon_column())
    # Days evidence is kept after it is stored; empty means REGISTRY_EVIDENCE_RETENTION_DAYS.
    evidence_retention_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SharingAgreement(Base):
    """The grantor agency lets the grantee's investigators search its cameras and see contacts."""

    __tablename__ = "sharing_agreement"
    __table_args__ = (
        UniqueConstraint("grantor_agency_id", "grantee_agency_id"),
        CheckConstraint("grantor_agency_id <> grantee_agency_id", name="not_self"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    grantor_agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    grantee_agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
