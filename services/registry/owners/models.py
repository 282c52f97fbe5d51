"""Owner, site and camera tables. Personal fields are ciphertext (`*_enc`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.database import Base, UTCDateTime, new_id, point_column, utcnow

SHARING_MODES = ("registry_only", "on_request", "live_on_alert", "live_on_consent")
SITE_KINDS = ("residential", "commercial")


class Owner(Base):
    """A resident or business; contact data encrypted. `account_id` is empty for advocate-made owners."""

    __tablename__ = "owner"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), unique=True
    )
    # The agency whose advocate registered this owner (empty when they signed up themselves).
    agency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agency.id", ondelete="SET NULL"))
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Site(Base):
    """A place with cameras: street address (encrypted) and a point."""

    __tablename__ = "site"
    __table_args__ = (CheckConstraint(f"kind IN {SITE_KINDS!r}", name="kind"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("owner.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    address_enc: Mapped[bytes] = mapped_column(LargeBinary)
    location: Mapped[object] = mapped_column(point_column())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Camera(Base):
    """One camera: where it is, where it looks, how long it keeps video and what it shares."""

    __tablename__ = "camera"
    __table_args__ = (
        CheckConstraint(f"sharing_mode IN {SHARING_MODES!r}", name="sharing_mode"),
        CheckConstraint("bearing_deg >= 0 AND bearing_deg < 360", name="bearing"),
        CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name="fov"),
        CheckConstraint("range_m > 0", name="range"),
        CheckConstraint("retention_days >= 0", name="retention"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("owner.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    location: Mapped[object] = mapped_column(point_column())
    bearing_deg: Mapped[float] = mapped_column(Float)
    fov_deg: Mapped[float] = mapped_column(Float)
    range_m: Mapped[float] = mapped_column(Float)
    retention_days: Mapped[int] = mapped_column(Integer)
    indoor: Mapped[bool] = mapped_column(default=False)
    sharing_mode: Mapped[str] = mapped_column(String(20))
    core_enabled: Mapped[bool] = mapped_column(default=False)
    # The CORE box serving this camera (set at enrolment, cleared on revocation). No foreign key: SQLite cannot
    # add one to an existing table without copying it, which SpatiaLite's geometry registration does not survive;
    # a box's row only goes with its site or owner, and their cameras go with them.
    device_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
