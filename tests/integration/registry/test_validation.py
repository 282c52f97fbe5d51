"""Bad input gets a clear 4xx naming the field: never a 500, never half-written data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.audit.models import AuditEvent
from services.registry.deps import Registry
from services.registry.owners.models import Camera, Owner, Site
from tests import builders as b

pytestmark = pytest.mark.spatialite

LON, LAT = -81.7745, 28.5567
SEARCH = "/v1/search/cameras"
NEAR = {"type": "near", "lon": LON, "lat": LAT, "radius_m": 100}
CAMERA = {"label": "Porch", "bearing_deg": 90, "fov_deg": 90, "range_m": 30, "retention_days": 7}
SITE = {"kind": "residential", "address": "1 Lake Ave", "location": {"lon": LON, "lat": LAT}}
BOW_TIE = {"type": "Polygon", "coordinates": [[[-81.78, 28.55], [-81.77, 28.56], [-81.77, 28.55], [-81.78, 28.56],
                                               [-81.78, 28.55]]]}


@dataclass
class World:
    investigator: b.Person
    supervisor: b.Person
    owner: b.Person
    site_id: str
    camera_id: str


@pytest.fixture
def world(db: Session, registry: Registry) -> World:
    west = b.make_agency(db, bounds=b.WEST)
    b.make_agency(db, bounds=b.EAST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    camera = b.make_camera(db, registry, owner, site)
    return World(b.make_staff(db, registry, west, Role.INVESTIGATOR), b.make_staff(db, registry, west, Role.SUPERVISOR),
                 owner, str(site.id), str(camera.id))


def refused(response: Any, field: str | None, status: int = 422) -> dict[str, Any]:
    """Assert the one error shape, the status and the named field; return the error."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "field"}
    assert error["message"]
    if field is not None:
        assert error["field"] == field, error
    return dict(error)


def totals(db: Session) -> tuple[int, ...]:
    return tuple(int(db.scalar(select(func.count()).select_from(t)) or 0) for t in (Owner, Site, Camera, AuditEvent))


def search(client: TestClient, who: b.Person, **body: Any) -> Any:
    return client.post(SEARCH, headers=who.headers, json={"case_number": "C-1", "area": NEAR, **body})


# --- search --------------------------------------------------------------------------------------------------------

def far_line(km: float) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [[LON, LAT], [LON, LAT + km / 111.195]]}


@pytest.mark.parametrize(("body", "field"), [
    ({"area": {**NEAR, "radius_m": 5001}}, "area.radius_m"),
    ({"area": {**NEAR, "radius_m": 0}}, "area.near.radius_m"),
    ({"area": {**NEAR, "radius_m": -5}}, "area.near.radius_m"),
    ({"area": {**NEAR, "lat": 90.5}}, "area.near.lat"),
    ({"area": {**NEAR, "lon": -181}}, "area.near.lon"),
    ({"area": {**NEAR, "lat": "north"}}, "area.near.lat"),
    ({"area": {**NEAR, "radius_m": [100]}}, "area.near.radius_m"),
    ({"area": {**NEAR, "shape": "circle"}}, "area.near.shape"),
    ({"area": {"type": "circle", "lon": LON, "lat": LAT}}, "area"),
    ({"area": "near me"}, "area"),
    ({"area": {"type": "within", "polygon": BOW_TIE}}, "area.polygon"),
    ({"area": {"type": "within", "polygon": {"type": "Polygon", "coordinates": "lots"}}}, "area.polygon"),
    ({"area": {"type": "within", "polygon": {"type": "Polygon"}}}, "area.polygon"),
    ({"area": {"type": "within", "polygon": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}},
     "area.polygon"),
    ({"area": {"type": "within", "polygon": {"type": "Polygon", "coordinates": [[[0, 0], [1], [1, 1], [0, 0]]]}}},
     "area.polygon"),
    ({"area": {"type": "within", "polygon": {"type": "Point", "coordinates": [LON, LAT]}}}, "area.polygon"),
    ({"area": {"type": "within", "polygon": {"type": "Polygon", "coordinates": []}}}, "area.polygon"),
    ({"area": {"type": "within", "polygon": b.box(-81.8, 28.5, -81.7, 28.6)}}, "area.polygon"),  # ~107 km²
    ({"area": {"type": "within", "polygon": b.box(100, 95, 101, 96)}}, "area.polygon"),
    ({"area": {"type": "within", "polygon": "POLYGON((0 0, 1 0, 1 1, 0 0))"}}, "area.within.polygon"),
    ({"area": {"type": "along", "route": far_line(60), "buffer_m": 50}}, "area.route"),
    ({"area": {"type": "along", "route": far_line(1), "buffer_m": 1001}}, "area.buffer_m"),
    ({"area": {"type": "along", "route": far_line(1), "buffer_m": 0}}, "area.along.buffer_m"),
    ({"area": {"type": "along", "route": {"type": "LineString", "coordinates": [[LON, LAT]]}, "buffer_m": 5}},
     "area.route"),
    ({"area": {"type": "along", "route": {"type": "LineString", "coordinates": [[LON, LAT], [LON, 91]]},
               "buffer_m": 5}}, "area.route"),
    ({"area": {"type": "along", "route": BOW_TIE, "buffer_m": 5}}, "area.route"),
    ({"page_size": 201}, "page_size"),
    ({"page_size": 0}, "page_size"),
    ({"page": 0}, "page"),
    ({"page": 10_001}, "page"),
    ({"page": "two"}, "page"),
    ({"incident_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, "incident_at"),
    ({"incident_at": "2026-01-01T10:00:00"}, "incident_at"),
    ({"incident_at": "yesterday"}, "incident_at"),
    ({"incident_point": {"lon": LON, "lat": 100}}, "incident_point.lat"),
    ({"incident_point": {"lon": LON}}, "incident_point.lat"),
    ({"case_number": ""}, "case_number"),
    ({"case_number": "C" * 100_000}, "case_number"),
    ({"case_number": "C-1; DROP TABLE camera"}, "case_number"),
    ({"case_number": 12345}, "case_number"),
    ({"favourite": "colour"}, "favourite"),
])
def test_bad_search_is_refused_naming_the_field(client: TestClient, db: Session, world: World,
                                                body: dict[str, Any], field: str) -> None:
    before = totals(db)
    refused(search(client, world.investigator, **body), field)
    assert totals(db) == before  # not even an audit row


@pytest.mark.parametrize(("params", "field"), [
    ({"lat": 91}, "lat"),
    ({"radius_m": 5001}, "area.radius_m"),
    ({"radius_m": "far"}, "radius_m"),
    ({"page_size": 500}, "page_size"),
    ({"incident_at": "2026-01-01T10:00:00"}, "incident_at"),
    ({"case_number": None}, "case_number"),
])
def test_bad_get_search_is_refused(client: TestClient, db: Session, world: World, params: dict[str, Any],
                                   field: str) -> None:
    query = {"lon": LON, "lat": LAT, "radius_m": 100, "case_number": "C-1", **params}
    refused(client.get(SEARCH, headers=world.investigator.headers,
                       params={k: v for k, v in query.items() if v is not None}), field)


def test_malformed_json_body(client: TestClient, world: World) -> None:
    headers = {**world.investigator.headers, "Content-Type": "application/json"}
    for raw in (b'{"case_number": "C-1", "area": ', b"not json", b"[]", b"", b'"just a string"', b"\xff\xfe"):
        response = client.post(SEARCH, headers=headers, content=raw)
        assert response.status_code == 422, (raw, response.text)
        assert response.json()["error"]["code"] == "invalid_input"


def test_non_finite_numbers_are_refused(client: TestClient, world: World) -> None:
    headers = {**world.investigator.headers, "Content-Type": "application/json"}
    for area in ('{"type": "near", "lon": NaN, "lat": 28.5, "radius_m": 100}',
                 '{"type": "near", "lon": -81.7, "lat": 28.5, "radius_m": Infinity}',
                 '{"type": "along", "buffer_m": 10, "route": {"type": "LineString", '
                 '"coordinates": [[-81.7, 28.5], [NaN, 28.6]]}}',
                 '{"type": "within", "polygon": {"type": "Polygon", "coordinates": '
                 '[[[-81.7, 28.5], [-81.71, 28.5], [-81.71, Infinity], [-81.7, 28.5]]]}}'):
        response = client.post(SEARCH, headers=headers, content=f'{{"case_number": "C-1", "area": {area}}}')
        assert response.status_code == 422, (area, response.text)
        assert response.json()["error"]["field"].startswith("area")


# --- sites and cameras ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "field"), [
    ({**SITE, "location": {"lon": LON, "lat": 91}}, "location.lat"),
    ({**SITE, "location": {"lon": 181, "lat": LAT}}, "location.lon"),
    ({**SITE, "location": {"lon": -80.0, "lat": 27.0}}, "location"),   # no participating agency there
    ({**SITE, "location": [LON, LAT]}, "location"),
    ({**SITE, "location": None}, "location"),   # no pin and no geocoder
    ({**SITE, "kind": "castle"}, "kind"),
    ({**SITE, "address": "x" * 301}, "address"),
    ({**SITE, "address": "x" * 1_000_000}, "address"),
    ({**SITE, "address": 42}, "address"),
    ({**SITE, "owner_id": "not-a-uuid"}, "owner_id"),
    ({**SITE, "colour": "blue"}, "colour"),
    ({"kind": "residential"}, "address"),
])
def test_bad_site_is_refused(client: TestClient, db: Session, world: World, body: dict[str, Any],
                             field: str) -> None:
    before = totals(db)
    refused(client.post("/v1/sites", headers=world.owner.headers, json=body), field)
    assert totals(db) == before


@pytest.mark.parametrize(("body", "field"), [
    ({**CAMERA, "sharing_mode": "broadcast"}, "sharing_mode"),
    ({**CAMERA, "bearing_deg": 360}, "bearing_deg"),
    ({**CAMERA, "bearing_deg": -1}, "bearing_deg"),
    ({**CAMERA, "fov_deg": 0}, "fov_deg"),
    ({**CAMERA, "fov_deg": 361}, "fov_deg"),
    ({**CAMERA, "range_m": 0}, "range_m"),
    ({**CAMERA, "range_m": 1e9}, "range_m"),
    ({**CAMERA, "retention_days": 1.5}, "retention_days"),
    ({**CAMERA, "retention_days": 10**30}, "retention_days"),
    ({**CAMERA, "label": ""}, "label"),
    ({**CAMERA, "label": "L" * 101}, "label"),
    ({**CAMERA, "core_enabled": "perhaps"}, "core_enabled"),
    ({**CAMERA, "location": {"lon": LON, "lat": -91}}, "location.lat"),
    ({**CAMERA, "location": {"lon": LON, "lat": LAT, "alt": 3}}, "location.alt"),
    ({**CAMERA, "agency_id": "00000000-0000-0000-0000-000000000000"}, "agency_id"),
    ({k: v for k, v in CAMERA.items() if k != "retention_days"}, "retention_days"),
])
def test_bad_camera_is_refused(client: TestClient, db: Session, world: World, body: dict[str, Any],
                               field: str) -> None:
    before = totals(db)
    refused(client.post(f"/v1/sites/{world.site_id}/cameras", headers=world.owner.headers, json=body), field)
    patch = {k: v for k, v in body.items() if k == field.split(".")[0]}
    if patch:
        refused(client.patch(f"/v1/cameras/{world.camera_id}", headers=world.owner.headers, json=patch), field)
    assert totals(db) == before
    unchanged = client.get(f"/v1/cameras/{world.camera_id}", headers=world.owner.headers).json()
    assert (unchanged["label"], unchanged["bearing_deg"], unchanged["sharing_mode"]) == ("Cam", 0, "on_request")


def test_bad_path_ids(client: TestClient, world: World) -> None:
    refused(client.get("/v1/cameras/not-a-uuid", headers=world.owner.headers), "camera_id")
    refused(client.post("/v1/sites/123/cameras", headers=world.owner.headers, json=CAMERA), "site_id")
    missing = "00000000-0000-0000-0000-000000000000"
    refused(client.post(f"/v1/sites/{missing}/cameras", headers=world.owner.headers, json=CAMERA), None, 404)


def test_text_with_nul_bytes_is_refused_or_stored(client: TestClient, world: World) -> None:
    """PostgreSQL text cannot hold NUL: it must be a 4xx (or stored intact), never a 500."""
    response = client.post(f"/v1/sites/{world.site_id}/cameras", headers=world.owner.headers,
                           json={**CAMERA, "label": "Por\x00ch"})
    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        assert response.json()["error"]["field"] == "label"
    contact = client.post(f"/v1/cameras/{world.camera_id}/contact", headers=world.investigator.headers,
                          json={"case_number": "C-1", "reason": "burglary \x00 next door"})
    assert contact.status_code in (200, 422), contact.text


# --- a sweep of hostile values over every JSON endpoint ------------------------------------------------------------

HOSTILE: list[Any] = [None, "", " ", "x" * 20_000, "\x00", "\u202e\ufeff🙂", "'; DROP TABLE camera; --", -1, 0,
                      1e308, -1e308, 2**63, True, [], {}, [[1, 2]], {"$gt": ""}, "../../etc/passwd", "NaN"]


def _endpoints(w: World) -> list[tuple[str, str, b.Person | None, dict[str, Any]]]:
    return [
        ("POST", SEARCH, w.investigator, {"case_number": "C-1", "area": NEAR, "page": 1, "page_size": 5,
                                          "incident_at": "2026-01-01T00:00:00Z",
                                          "incident_point": {"lon": LON, "lat": LAT}}),
        ("POST", "/v1/sites", w.owner, SITE),
        ("PATCH", f"/v1/sites/{w.site_id}", w.owner, SITE),
        ("POST", f"/v1/sites/{w.site_id}/cameras", w.owner, {**CAMERA, "location": {"lon": LON, "lat": LAT},
                                                            "sharing_mode": "on_request", "indoor": False}),
        ("PATCH", f"/v1/cameras/{w.camera_id}", w.owner, CAMERA),
        ("POST", f"/v1/cameras/{w.camera_id}/contact", w.investigator, {"case_number": "C-1",
                                                                        "reason": "burglary next door"}),
        ("PATCH", "/v1/owners/me", w.owner, {"name": "Pat", "email": "pat@example.org", "phone": "352 555 0100"}),
        ("POST", "/v1/owners/signup", None, {"email": "new@example.org", "password": b.PASSWORD, "name": "New"}),
        ("POST", "/v1/owners", w.supervisor, {"name": "Paper Owner", "email": "p@example.org"}),
        ("POST", "/v1/agreements", w.supervisor, {"grantee_agency_id": "00000000-0000-0000-0000-000000000000"}),
        ("POST", "/v1/auth/login", None, {"username": "nobody", "password": "wrong"}),
        ("POST", "/v1/auth/refresh", None, {"refresh_token": "x.y.z"}),
    ]


def test_hostile_payload_sweep_never_500s(client: TestClient, db: Session, world: World) -> None:
    """Every field of every JSON endpoint, replaced by every hostile value (and a whole-body replacement)."""
    tried, failures = 0, []
    for method, url, who, good in _endpoints(world):
        headers = who.headers if who else {}
        bodies: list[Any] = [[], "body", 7, None, {k: {"nested": v} for k, v in good.items()}]
        bodies += [{**good, key: value} for key in good for value in HOSTILE]
        for body in bodies:
            tried += 1
            try:
                response = client.request(method, url, headers=headers, json=body)
            except Exception as exc:  # a 500, raised by the test client
                failures.append(f"{method} {url} {str(body)[:120]}: {type(exc).__name__}: {str(exc)[:120]}")
                db.rollback()
                continue
            if response.status_code >= 500 or (response.status_code >= 400 and "error" not in response.json()):
                failures.append(f"{method} {url} {str(body)[:120]}: {response.status_code} {response.text[:120]}")
        db.rollback()  # each endpoint starts from the fixture's state
    assert not failures, "\n".join(failures)
    assert tried > 500


def test_refused_requests_leave_no_trace(client: TestClient, db: Session, world: World) -> None:
    before = totals(db)
    search(client, world.investigator, area={"type": "within", "polygon": BOW_TIE})
    client.post("/v1/sites", headers=world.owner.headers, json={**SITE, "location": {"lon": -80.0, "lat": 27.0}})
    client.post(f"/v1/sites/{world.site_id}/cameras", headers=world.owner.headers,
                json={**CAMERA, "location": {"lon": -80.0, "lat": 27.0}})
    client.patch(f"/v1/sites/{world.site_id}", headers=world.owner.headers,
                 json={"kind": "commercial", "address": "2 Elsewhere", "location": {"lon": -80.0, "lat": 27.0}})
    assert totals(db) == before
    site = client.get(f"/v1/sites/{world.site_id}", headers=world.owner.headers).json()
    assert (site["kind"], site["address"]) == ("residential", "742 W Montrose St, Clermont, FL")


def test_framework_errors_share_the_error_shape(client: TestClient, world: World) -> None:
    refused(client.get("/v1/no-such-thing"), None, 404)
    assert refused(client.delete(SEARCH, headers=world.investigator.headers), None, 405)["code"] == "method_not_allowed"
    nested = client.post(SEARCH, headers={**world.investigator.headers, "Content-Type": "application/json"},
                         content=b"[" * 100_000)
    assert nested.status_code in (400, 422) and "error" in nested.json()
