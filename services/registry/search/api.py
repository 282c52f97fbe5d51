"""Camera search: POST for any area, GET for the common radius case; JSON or GeoJSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from services.registry.deps import RegistryDep, SearchCaller, SessionDep
from services.registry.search import service
from services.registry.search.schemas import CaseNumber, Near, SearchRequest, SearchResult

router = APIRouter(tags=["search"])
GEOJSON = "application/geo+json"
_responses: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {"schema": {"type": "object", "description": "GeoJSON FeatureCollection"}}}}
}


def _respond(result: SearchResult, accept: str | None, fmt: str | None) -> Response:
    if fmt == "geojson" or (accept and GEOJSON in accept):
        return JSONResponse(service.as_geojson(result), media_type=GEOJSON)
    # Serialised here, once: returning the model would make FastAPI validate all hits a second time.
    return Response(result.model_dump_json(), media_type="application/json")


@router.post("/v1/search/cameras", response_model=SearchResult, responses=_responses,
             summary="Cameras near a point, inside a polygon or along a route (case number required)")
def search(body: SearchRequest, caller: SearchCaller, session: SessionDep, registry: RegistryDep,
           accept: Annotated[str | None, Header()] = None,
           format: Annotated[str | None, Query(pattern="^(json|geojson)$")] = None) -> Response:
    result = service.search_cameras(session, caller=caller, request=body, limits=registry.settings.search)
    return _respond(result, accept, format)


@router.get("/v1/search/cameras", response_model=SearchResult, responses=_responses,
            summary="Cameras within radius_m of lon/lat (case number required)")
def search_near(caller: SearchCaller, session: SessionDep, registry: RegistryDep,
                case_number: Annotated[CaseNumber, Query()],
                lon: Annotated[float, Query(ge=-180, le=180)], lat: Annotated[float, Query(ge=-90, le=90)],
                radius_m: Annotated[float, Query(gt=0)] = 300, incident_at: AwareDatetime | None = None,
                page: Annotated[int, Query(ge=1, le=10_000)] = 1, page_size: Annotated[int | None, Query(ge=1)] = None,
                accept: Annotated[str | None, Header()] = None,
                format: Annotated[str | None, Query(pattern="^(json|geojson)$")] = None) -> Response:
    request = SearchRequest(case_number=case_number, area=Near(lon=lon, lat=lat, radius_m=radius_m),
                            incident_at=incident_at, page=page, page_size=page_size)
    result = service.search_cameras(session, caller=caller, request=request, limits=registry.settings.search)
    return _respond(result, accept, format)
