"""Finding cameras for an incident. Locations only; every search is audited with its case number."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import Point
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from services.common.auth import Role, require_role
from services.common.errors import InvalidInput
from services.registry import geo
from services.registry.agencies.service import searchable_agencies
from services.registry.audit import service as audit
from services.registry.context import Caller
from services.registry.database import utcnow
from services.registry.owners.models import Camera
from services.registry.owners.schemas import LIVE_MODES, LonLat, SharingMode
from services.registry.search import geometry
from services.registry.search.schemas import Along, CameraHit, Near, SearchRequest, SearchResult, Within
from services.registry.settings import SearchSettings

SEARCH_ROLES = (Role.INVESTIGATOR, Role.SUPERVISOR, Role.INTEGRATOR)
FUTURE_SKEW = timedelta(minutes=5)  # clocks of callers and server disagree a little


@dataclass(frozen=True)
class _Area:
    """A validated area: which statement serves it, its parameters, and the point coverage is judged against."""

    kind: str
    params: dict[str, Any]
    reference: tuple[float, float] | None


def _area(area: Near | Within | Along, limits: SearchSettings) -> _Area:
    if isinstance(area, Near):
        if area.radius_m > limits.max_radius_m:
            raise InvalidInput(f"radius_m above the cap of {limits.max_radius_m:g} m", field="area.radius_m")
        return _Area("near", {"area": Point(area.lon, area.lat).wkt, "metres": area.radius_m}, (area.lon, area.lat))
    if isinstance(area, Within):
        poly = geo.parse_geojson(area.polygon, field="area.polygon", kinds=("Polygon",))
        if geometry.approx_area_km2(poly) > limits.max_polygon_km2:
            raise InvalidInput(f"polygon larger than {limits.max_polygon_km2:g} km²", field="area.polygon")
        centre = poly.centroid
        return _Area("within", {"area": poly.wkt, "centre": centre.wkt}, (centre.x, centre.y))
    line = geo.parse_geojson(area.route, field="area.route", kinds=("LineString",))
    if area.buffer_m > limits.max_buffer_m:
        raise InvalidInput(f"buffer_m above the cap of {limits.max_buffer_m:g} m", field="area.buffer_m")
    if geometry.line_length_m(list(line.coords)) > limits.max_route_km * 1000:
        raise InvalidInput(f"route longer than {limits.max_route_km:g} km", field="area.route")
    return _Area("along", {"area": line.wkt, "metres": area.buffer_m}, None)


@functools.cache
def _statement(dialect: str, kind: str) -> Select[Any]:
    """The search for one kind of area, built once: every value is a bind parameter."""
    area, camera = geo.geometry_param(dialect, "area"), Camera.__table__.c
    extra: list[Any] = []
    if kind == "within":
        where = geo.intersects(dialect, camera.location, area)
        distance = geo.distance_m(dialect, camera.location, geo.geometry_param(dialect, "centre"))
    else:
        where = geo.within_m(dialect, camera.location, area, bindparam("metres"))
        distance = geo.distance_m(dialect, camera.location, area)
    if kind == "along":  # coverage is judged against the route's point nearest each camera
        x, y = geo.closest_point(area, camera.location)
        extra = [x.label("ref_x"), y.label("ref_y")]
    return (
        select(camera.id, camera.agency_id, camera.label, func.ST_X(camera.location).label("x"),
               func.ST_Y(camera.location).label("y"), camera.bearing_deg, camera.fov_deg, camera.range_m,
               camera.indoor, camera.retention_days, camera.sharing_mode, camera.core_enabled,
               distance.label("distance_m"), *extra)
        .where(camera.agency_id.in_(searchable_agencies()), where)
        .order_by(distance, camera.id).offset(bindparam("offset")).limit(bindparam("limit"))
    )


def _hit(row: Any, reference: tuple[float, float] | None, age_days: float | None) -> CameraHit:
    target = reference or (row.ref_x, row.ref_y)
    mode = SharingMode(row.sharing_mode)
    return CameraHit(
        camera_id=row.id, agency_id=row.agency_id, label=row.label, location=LonLat(lon=row.x, lat=row.y),
        distance_m=round(float(row.distance_m), 1), bearing_deg=row.bearing_deg, fov_deg=row.fov_deg,
        range_m=row.range_m, indoor=row.indoor, retention_days=row.retention_days, sharing_mode=mode,
        covers_incident=geometry.covers(camera=(row.x, row.y), bearing_deg=row.bearing_deg, fov_deg=row.fov_deg,
                                        range_m=row.range_m, target=target),
        footage_likely_retained=None if age_days is None else age_days <= row.retention_days,
        core_enabled=row.core_enabled, live_possible=row.core_enabled and mode in LIVE_MODES,
    )


def incident_age_days(incident_at: datetime | None, *, now: datetime, field: str = "incident_at") -> float | None:
    """Days from the incident to now, for the retention estimate (None without a time); the future is refused."""
    if incident_at is None:
        return None
    age = now - incident_at
    if age < -FUTURE_SKEW:
        raise InvalidInput(f"{field} is in the future", field=field)
    return max(age.total_seconds(), 0) / 86400


def find_cameras(session: Session, *, agency_id: uuid.UUID, area: Near | Within | Along, limits: SearchSettings,
                 incident_point: LonLat | None = None, age_days: float | None = None, offset: int = 0,
                 limit: int) -> list[CameraHit]:
    """Cameras of the agency (and agencies sharing with it) in the area, nearest first. No role check, no audit."""
    found = _area(area, limits)
    reference = (incident_point.lon, incident_point.lat) if incident_point else found.reference
    # One round trip: the agencies sharing with the caller are a subquery of the search itself.
    params = {**found.params, "agency_id": agency_id, "offset": offset, "limit": limit}
    statement = _statement(session.get_bind().dialect.name, found.kind)
    return [_hit(r, reference, age_days) for r in session.connection().execute(statement, params)]


def search_cameras(session: Session, *, caller: Caller, request: SearchRequest,
                   limits: SearchSettings) -> SearchResult:
    """Cameras of the caller's agency (and agencies sharing with it) in the area, nearest first."""
    require_role(caller.principal, *SEARCH_ROLES, scope="cameras:search")
    now = utcnow()
    age_days = incident_age_days(request.incident_at, now=now)
    page_size = request.page_size or limits.default_page_size
    if page_size > limits.max_page_size:
        raise InvalidInput(f"page_size above the cap of {limits.max_page_size}", field="page_size")
    assert caller.principal.agency_id is not None  # every search role belongs to an agency
    hits = find_cameras(session, agency_id=caller.principal.agency_id, area=request.area, limits=limits,
                        incident_point=request.incident_point, age_days=age_days,
                        offset=(request.page - 1) * page_size, limit=page_size + 1)
    items = hits[:page_size]
    audit.record(session, caller=caller, action="camera.search", object_type="area", case_number=request.case_number,
                 detail={"area": request.area.type, "results": len(items), "page": request.page})
    session.commit()
    return SearchResult(case_number=request.case_number, page=request.page, page_size=page_size,
                        has_more=len(hits) > page_size, items=items, searched_at=now)


def as_geojson(result: SearchResult) -> dict[str, Any]:
    """The result as a GeoJSON FeatureCollection (`application/geo+json`)."""
    features = [
        {"type": "Feature", "id": str(hit.camera_id),
         "geometry": {"type": "Point", "coordinates": [hit.location.lon, hit.location.lat]},
         "properties": hit.model_dump(mode="json", exclude={"location"})}
        for hit in result.items
    ]
    meta = result.model_dump(mode="json", exclude={"items"})
    return {"type": "FeatureCollection", "features": features, **meta}


