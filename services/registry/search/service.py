"""Finding cameras for an incident. Locations only; every search is audited with its case number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shapely.geometry import Point
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.common.auth import Role, require_role
from services.common.errors import InvalidInput
from services.registry import geo
from services.registry.agencies.service import searchable_agency_ids
from services.registry.audit import service as audit
from services.registry.context import Caller
from services.registry.database import utcnow
from services.registry.owners.models import Camera
from services.registry.owners.schemas import LIVE_MODES, LonLat, SharingMode
from services.registry.search import geometry
from services.registry.search.schemas import Along, CameraHit, Near, SearchRequest, SearchResult, Within
from services.registry.settings import SearchSettings

SEARCH_ROLES = (Role.INVESTIGATOR, Role.SUPERVISOR, Role.INTEGRATOR)


@dataclass(frozen=True)
class _Plan:
    """The area as SQL: its filter, the distance to sort by, and the point coverage is judged against."""

    where: Any
    distance: Any
    reference: tuple[float, float] | None
    closest: tuple[Any, Any] | None = None


def _plan(dialect: str, area: Near | Within | Along, limits: SearchSettings) -> _Plan:
    if isinstance(area, Near):
        if area.radius_m > limits.max_radius_m:
            raise InvalidInput(f"radius_m above the cap of {limits.max_radius_m:g} m", field="area.radius_m")
        centre = Point(area.lon, area.lat)
        return _Plan(geo.within_m(dialect, Camera.location, centre, area.radius_m),
                     geo.distance_m(dialect, Camera.location, centre), (area.lon, area.lat))
    if isinstance(area, Within):
        poly = geo.parse_geojson(area.polygon, field="area.polygon", kinds=("Polygon",))
        if geometry.approx_area_km2(poly) > limits.max_polygon_km2:
            raise InvalidInput(f"polygon larger than {limits.max_polygon_km2:g} km²", field="area.polygon")
        centre = poly.centroid
        return _Plan(geo.intersects(dialect, Camera.location, poly),
                     geo.distance_m(dialect, Camera.location, centre), (centre.x, centre.y))
    line = geo.parse_geojson(area.route, field="area.route", kinds=("LineString",))
    if area.buffer_m > limits.max_buffer_m:
        raise InvalidInput(f"buffer_m above the cap of {limits.max_buffer_m:g} m", field="area.buffer_m")
    if geometry.line_length_m(list(line.coords)) > limits.max_route_km * 1000:
        raise InvalidInput(f"route longer than {limits.max_route_km:g} km", field="area.route")
    return _Plan(geo.within_m(dialect, Camera.location, line, area.buffer_m),
                 geo.distance_m(dialect, Camera.location, line), None,
                 geo.closest_point(dialect, line, Camera.location))


def _statement(plan: _Plan, agency_ids: list[Any], offset: int, limit: int) -> Select[Any]:
    extra = [plan.closest[0].label("ref_x"), plan.closest[1].label("ref_y")] if plan.closest else []
    return (
        select(Camera.id, Camera.agency_id, Camera.label, func.ST_X(Camera.location).label("x"),
               func.ST_Y(Camera.location).label("y"), Camera.bearing_deg, Camera.fov_deg, Camera.range_m,
               Camera.indoor, Camera.retention_days, Camera.sharing_mode, Camera.core_enabled,
               plan.distance.label("distance_m"), *extra)
        .where(Camera.agency_id.in_(agency_ids), plan.where)
        .order_by(plan.distance, Camera.id).offset(offset).limit(limit)
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


def search_cameras(session: Session, *, caller: Caller, request: SearchRequest,
                   limits: SearchSettings) -> SearchResult:
    """Cameras of the caller's agency (and agencies sharing with it) in the area, nearest first."""
    require_role(caller.principal, *SEARCH_ROLES, scope="cameras:search")
    now = utcnow()
    age_days = None
    if request.incident_at is not None:
        age = now - request.incident_at
        if age < -timedelta(minutes=5):
            raise InvalidInput("incident_at is in the future", field="incident_at")
        age_days = max(age.total_seconds(), 0) / 86400
    page_size = request.page_size or limits.default_page_size
    if page_size > limits.max_page_size:
        raise InvalidInput(f"page_size above the cap of {limits.max_page_size}", field="page_size")
    plan = _plan(session.get_bind().dialect.name, request.area, limits)
    reference = ((request.incident_point.lon, request.incident_point.lat) if request.incident_point
                 else plan.reference)
    assert caller.principal.agency_id is not None  # every search role belongs to an agency
    agencies = searchable_agency_ids(session, agency_id=caller.principal.agency_id)
    rows = session.execute(_statement(plan, agencies, (request.page - 1) * page_size, page_size + 1)).all()
    items = [_hit(r, reference, age_days) for r in rows[:page_size]]
    audit.record(session, caller=caller, action="camera.search", object_type="area", case_number=request.case_number,
                 detail={"area": request.area.type, "results": len(items), "page": request.page})
    session.commit()
    return SearchResult(case_number=request.case_number, page=request.page, page_size=page_size,
                        has_more=len(rows) > page_size, items=items, searched_at=now)


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


