"""The registry's declarative base, its column helpers and the session dependency."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from geoalchemy2 import Geometry
from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

from services.common.db import new_metadata


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, in UTC, to the microsecond."""
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """A fresh random identifier."""
    return uuid.uuid4()


def point_column() -> Geometry:
    """A WGS 84 point with a spatial index."""
    return Geometry("POINT", srid=4326, spatial_index=True)


def multipolygon_column() -> Geometry:
    """A WGS 84 multipolygon with a spatial index."""
    return Geometry("MULTIPOLYGON", srid=4326, spatial_index=True)


class Base(DeclarativeBase):
    """Every registry table hangs off this metadata (its naming convention names every constraint)."""

    metadata = new_metadata()
