"""Geometry in and out of the database, the same on PostGIS and SpatiaLite.

Distances are metres on the WGS 84 spheroid on both backends: PostGIS through the geography type
(an index on `location::geography` serves it), SpatiaLite through `ST_Distance(a, b, 1)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from geoalchemy2 import Geography
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.validation import explain_validity
from sqlalchemy import ColumnElement, String, bindparam, cast, func

from services.common.errors import InvalidInput

SRID = 4326
# Plain `geography`, no typmod: `CAST(x AS geography(GEOMETRY,-1))` (what a bare `Geography` renders) is not the
# expression of the GiST index on `location::geography`, so PostGIS would scan instead of using it.
GEOGRAPHY = Geography(geometry_type=None)


def parse_geojson(value: dict[str, Any], *, field: str, kinds: tuple[str, ...]) -> Any:
    """A valid shapely geometry of one of `kinds` from GeoJSON, or InvalidInput naming the field."""
    if not isinstance(value, dict) or value.get("type") not in kinds:
        raise InvalidInput(f"expected a GeoJSON {' or '.join(kinds)}", field=field)
    try:
        with np.errstate(invalid="raise"):  # NaN coordinates: an error, not a RuntimeWarning
            geom = shape(value)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, FloatingPointError,
            shapely.errors.GEOSException) as exc:
        raise InvalidInput(f"malformed GeoJSON {value.get('type')}: {exc}", field=field) from exc
    if geom.is_empty:
        raise InvalidInput("geometry is empty", field=field)
    min_x, min_y, max_x, max_y = geom.bounds
    if not (-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90):
        raise InvalidInput("coordinates must be longitude in [-180, 180], latitude in [-90, 90]", field=field)
    if not geom.is_valid:
        raise InvalidInput(f"invalid geometry: {explain_validity(geom)}", field=field)
    return geom


def as_multipolygon(geom: Polygon | MultiPolygon) -> MultiPolygon:
    """Polygons become one-part multipolygons, so a jurisdiction column has one type."""
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def to_db(geom: Any) -> WKBElement:
    """A shapely geometry as a bind value for a 4326 column."""
    return from_shape(geom, srid=SRID)


def point(lon: float, lat: float) -> WKBElement:
    """A lon/lat point as a bind value."""
    return to_db(Point(lon, lat))


def lon_lat(value: Any) -> tuple[float, float]:
    """(lon, lat) of a point read from the database."""
    p = to_shape(value)
    assert isinstance(p, Point)
    return float(p.x), float(p.y)


def geometry_param(dialect: str, name: str) -> ColumnElement[Any]:
    """A 4326 geometry from a WKT bind parameter, given when the statement runs (so statements can be reused)."""
    wkt = bindparam(name, type_=String())
    if dialect == "postgresql":
        return func.ST_GeomFromText(wkt, SRID)
    return func.GeomFromText(wkt, SRID)


def distance_m(dialect: str, column: Any, geom: ColumnElement[Any]) -> ColumnElement[float]:
    """Spheroidal distance in metres between a column and a geometry expression."""
    if dialect == "postgresql":
        return func.ST_Distance(cast(column, GEOGRAPHY), cast(geom, GEOGRAPHY))
    return func.ST_Distance(column, geom, 1)


def within_m(dialect: str, column: Any, geom: ColumnElement[Any], metres: Any) -> ColumnElement[bool]:
    """True where the column lies within `metres` of the geometry (index-assisted on PostGIS)."""
    if dialect == "postgresql":
        return func.ST_DWithin(cast(column, GEOGRAPHY), cast(geom, GEOGRAPHY), metres)
    return func.ST_Distance(column, geom, 1) <= metres


def intersects(dialect: str, column: Any, geom: ColumnElement[Any]) -> ColumnElement[bool]:
    """True where the column intersects the geometry."""
    if dialect == "postgresql":
        return func.ST_Intersects(column, geom)  # bare, so the GiST index is used
    return func.ST_Intersects(column, geom) == 1


def closest_point(geom: ColumnElement[Any], column: Any) -> tuple[ColumnElement[float], ColumnElement[float]]:
    """Longitude and latitude of the point of `geom` nearest to the column."""
    nearest = func.ST_ClosestPoint(geom, column)
    return func.ST_X(nearest), func.ST_Y(nearest)
