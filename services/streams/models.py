"""The relay's tables: stream sessions, their viewers, and a copy of each camera's sharing policy."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import UTCDateTime, new_metadata

Bytes = BigInteger().with_variant(Integer(), "sqlite")


class State(StrEnum):
    """Where a stream session is: asked for, media flowing, or over."""

    PENDING = "pending"
    LIVE = "live"
    ENDED = "ended"


class Base(DeclarativeBase):
    """Every relay table hangs off this metadata."""

    metadata = new_metadata()


class StreamSession(Base):
    """One camera published by its box to this relay, for one alert or one consent grant."""

    __tablename__ = "stream_session"
    __table_args__ = (CheckConstraint("state IN ('pending', 'live', 'ended')", name="state"),
                      CheckConstraint("alert_id IS NOT NULL OR grant_id IS NOT NULL", name="basis"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    alert_id: Mapped[str | None] = mapped_column(String(64), index=True)
    grant_id: Mapped[str | None] = mapped_column(String(64))
    relay_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=State.PENDING)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    live_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(64))
    viewers: Mapped[int] = mapped_column(Integer, default=0)
    bytes_in: Mapped[int] = mapped_column(Bytes, default=0)
    bytes_out: Mapped[int] = mapped_column(Bytes, default=0)


class StreamViewer(Base):
    """One person watching one session: who, when, how much (an accountability record of every live view)."""

    __tablename__ = "stream_viewer"

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("stream_session.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bytes_out: Mapped[int] = mapped_column(Bytes, default=0)


class CameraPolicy(Base):
    """The registry's newest word on a camera (from CameraChanged): what the relay must end at once."""

    __tablename__ = "camera_policy"

    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), default="")
    agency_id: Mapped[str] = mapped_column(String(64), default="")
    label: Mapped[str] = mapped_column(String(200), default="")
    sharing_mode: Mapped[str] = mapped_column(String(32))
    grants: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    deleted: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(Bytes, default=0)
