"""The alert service's tables: alerts, their steps, the dashboard feed, and copies of registry data."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import UTCDateTime, new_metadata

# BIGINT on PostgreSQL, INTEGER on SQLite (only "INTEGER PRIMARY KEY" autoincrements there).
SeqInt = BigInteger().with_variant(Integer(), "sqlite")


class Status(StrEnum):
    """Where an alert is in its lifecycle."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class Base(DeclarativeBase):
    """Every alert-service table hangs off this metadata."""

    metadata = new_metadata()


class Alert(Base):
    """One panic, opened once per event id."""

    __tablename__ = "alert"
    __table_args__ = (CheckConstraint("status IN ('open', 'acknowledged', 'resolved', 'cancelled')", name="status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(64))
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    trigger: Mapped[str] = mapped_column(String(16))
    camera_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    pressed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AlertStep(Base):
    """The lifecycle log: who did what to an alert, and when."""

    __tablename__ = "alert_step"

    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    by: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlertFeed(Base):
    """What dashboards are told, in order: the SSE stream's resume log (`seq` is the event id)."""

    __tablename__ = "alert_feed"

    seq: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class SiteCopy(Base):
    """The registry's site, as its newest SiteChanged said."""

    __tablename__ = "site_copy"

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), default="")
    agency_id: Mapped[str] = mapped_column(String(64), default="")
    lon: Mapped[float] = mapped_column(Float, default=0.0)
    lat: Mapped[float] = mapped_column(Float, default=0.0)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(BigInteger)


class DeviceCopy(Base):
    """The registry's CORE box, as its newest DeviceChanged said."""

    __tablename__ = "device_copy"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), default="")
    agency_id: Mapped[str] = mapped_column(String(64), default="")
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(BigInteger)


class CameraCopy(Base):
    """The registry's camera, as its newest CameraChanged said."""

    __tablename__ = "camera_copy"

    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    device_id: Mapped[str] = mapped_column(String(64), default="")
    agency_id: Mapped[str] = mapped_column(String(64), default="")
    sharing_mode: Mapped[str] = mapped_column(String(24), default="registry_only")
    core_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(BigInteger)
