"""The registry's declarative base, its column helpers and the session dependency."""

from __future__ import annotations

import uuid

from geoalchemy2 import Geometry
from sqlalchemy.orm import DeclarativeBase

from services.common.db import UTCDateTime, new_metadata, utcnow

__all__ = ["Base", "UTCDateTime", "multipolygon_column", "new_id", "point_column", "utcnow"]


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
