"""Camera search through the HTTP API, on both backends: areas, coverage, agencies, paging, formats, audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.agencies.models import Agency
from services.registry.audit.models import AuditEvent
from services.registry.deps import Registry
from tests import builders as b
from tests.builders import LAT, LON, offset

pytestmark = pytest.mark.spatialite

URL = "/v1/search/cameras"


@dataclass
class World:
    west: Agency
    east: Agency
    investigator: b.Person
    owner: b.Person


@pytest.fixture
def world(db: Session, registry: Registry) -> World:
    west = b.make_agency(db, bounds=b.WEST)
    east = b.make_agency(db, bounds=b.EAST)
    investigator = b.make_staff(db, registry, west, Role.INVESTIGATOR)
    owner = b.make_owner(db, registry)
    return World(west, east, investigator, owner)


def camera_at(db: Session, registry: Registry, w: World, point: tuple[float, float], **kw: Any) -> str:
    """A camera (on its own site at the same point); returns its id as a string."""
    site = b.make_site(db, registry, w.owner, lon=point[0], lat=point[1])
    return str(b.make_camera(db, registry, w.owner, site, **kw).id)


def near(client: TestClient, who: b.Person, *, lon: float = LON, lat: float = LAT, radius_m: float = 300,
         case: str = "C-100", **extra: Any) -> dict[str, Any]:
    body = {"case_number": case, "area": {"type": "near", "lon": lon, "lat": lat, "radius_m": radius_m}, **extra}
    response = client.post(URL, headers=who.headers, json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def ids(result: dict[str, Any]) -> list[str]:
    return [hit["camera_id"] for hit in result["items"]]


def test_radius_search_sorted_by_distance(client: TestClient, db: Session, registry: Registry, world: World) -> None:
    far = camera_at(db, registry, world, offset(200))
    close = camera_at(db, registry, world, offset(10))
    middle = camera_at(db, registry, world, offset(0, -100))
    outside = camera_at(db, registry, world, offset(400))
    result = near(client, world.investigator)
    assert ids(result) == [close, middle, far]
    assert outside not in ids(result)
    distances = [hit["distance_m"] for hit in result["items"]]
    assert distances[0] == pytest.approx(10, abs=1)
    assert distances[1] == pytest.approx(100, abs=2)
    assert distances[2] == pytest.approx(200, abs=3)
    # the GET form gives the same answer
    got = client.get(URL, headers=world.investigator.headers,
                     params={"lon": LON, "lat": LAT, "radius_m": 300, "case_number": "C-100"})
    assert got.status_code == 200, got.text
    assert ids(got.json()) == [close, middle, far]


def test_camera_facing_away_does_not_cover_incident(client: TestClient, db: Session, registry: Registry,
                                                     world: World) -> None:
    # both cameras are 30 m south of the incident; one looks north at it, the other looks south, away
    facing = camera_at(db, registry, world, offset(-30), bearing=0, fov=60, range_m=50, label="north")
    away = camera_at(db, registry, world, offset(-30, 1), bearing=180, fov=60, range_m=50, label="south")
    short = camera_at(db, registry, world, offset(-30, -1), bearing=0, fov=60, range_m=20, label="short")
    result = near(client, world.investigator, radius_m=100)
    covers = {hit["camera_id"]: hit["covers_incident"] for hit in result["items"]}
    assert covers == {facing: True, away: False, short: False}


def test_incident_point_overrides_the_search_centre(client: TestClient, db: Session, registry: Registry,
                                                    world: World) -> None:
    cam = camera_at(db, registry, world, offset(0), bearing=90, fov=40, range_m=60)
    centre_only = near(client, world.investigator, radius_m=100)
    assert centre_only["items"][0]["covers_incident"] is True  # within a metre: direction is noise
    east_lon, east_lat = offset(0, 40)
    west_lon, west_lat = offset(0, -40)
    seen = near(client, world.investigator, radius_m=100, incident_point={"lon": east_lon, "lat": east_lat})
    unseen = near(client, world.investigator, radius_m=100, incident_point={"lon": west_lon, "lat": west_lat})
    assert ids(seen) == ids(unseen) == [cam]
    assert seen["items"][0]["covers_incident"] is True
    assert unseen["items"][0]["covers_incident"] is False


def test_camera_across_the_line_belongs_to_the_other_agency(client: TestClient, db: Session, registry: Registry,
                                                             world: World) -> None:
    # the site sits 50 m west of the line lon=-81.75; its camera is mounted 50 m east of it
    line_lat = 28.55
    site_point = offset(0, -50, lon=-81.75, lat=line_lat)
    cam_point = offset(0, 50, lon=-81.75, lat=line_lat)
    site = b.make_site(db, registry, world.owner, lon=site_point[0], lat=site_point[1])
    home = b.make_camera(db, registry, world.owner, site, label="porch")
    across = b.make_camera(db, registry, world.owner, site, lon=cam_point[0], lat=cam_point[1], label="gate")
    assert site.agency_id == world.west.id
    assert home.agency_id == world.west.id
    assert across.agency_id == world.east.id

    result = near(client, world.investigator, lon=-81.75, lat=line_lat, radius_m=500)
    assert ids(result) == [str(home.id)]
    assert all(hit["agency_id"] == str(world.west.id) for hit in result["items"])

    east_investigator = b.make_staff(db, registry, world.east, Role.INVESTIGATOR)
    assert ids(near(client, east_investigator, lon=-81.75, lat=line_lat, radius_m=500)) == [str(across.id)]

    # once the east agency shares with the west, the west's investigator sees both
    east_supervisor = b.make_staff(db, registry, world.east, Role.SUPERVISOR)
    granted = client.post("/v1/agreements", headers=east_supervisor.headers,
                          json={"grantee_agency_id": str(world.west.id)})
    assert granted.status_code == 201, granted.text
    shared = near(client, world.investigator, lon=-81.75, lat=line_lat, radius_m=500)
    assert sorted(ids(shared)) == sorted([str(home.id), str(across.id)])
    agencies = {hit["camera_id"]: hit["agency_id"] for hit in shared["items"]}
    assert agencies[str(across.id)] == str(world.east.id)
    # sharing is one-way: the east investigator still sees only the east camera
    assert ids(near(client, east_investigator, lon=-81.75, lat=line_lat, radius_m=500)) == [str(across.id)]


def test_polygon_search(client: TestClient, db: Session, registry: Registry, world: World) -> None:
    inside = camera_at(db, registry, world, offset(50, 50))
    also_inside = camera_at(db, registry, world, offset(-80, -20))
    outside = camera_at(db, registry, world, offset(300, 0))
    (x0, y0), (x1, y1) = offset(-100, -100), offset(100, 100)
    body = {"case_number": "C-200", "area": {"type": "within", "polygon": b.box(x0, y0, x1, y1)}}
    response = client.post(URL, headers=world.investigator.headers, json=body)
    assert response.status_code == 200, response.text
    found = ids(response.json())
    assert sorted(found) == sorted([inside, also_inside])
    assert outside not in found
    # nearest the centroid first: (50, 50) is ~71 m away, (-80, -20) ~82 m
    assert found == [inside, also_inside]


def test_route_search(client: TestClient, db: Session, registry: Registry, world: World) -> None:
    # a route running 600 m east from the origin; cameras beside it, one far off
    start, end = offset(0, 0), offset(0, 600)
    beside = camera_at(db, registry, world, offset(30, 300), bearing=180, fov=90, range_m=50)
    beside_away = camera_at(db, registry, world, offset(-30, 450), bearing=180, fov=90, range_m=50)
    off_route = camera_at(db, registry, world, offset(200, 300))
    past_end = camera_at(db, registry, world, offset(0, 800))
    body = {"case_number": "C-300", "area": {"type": "along", "buffer_m": 50,
                                             "route": {"type": "LineString", "coordinates": [start, end]}}}
    response = client.post(URL, headers=world.investigator.headers, json=body)
    assert response.status_code == 200, response.text
    hits = {hit["camera_id"]: hit for hit in response.json()["items"]}
    assert set(hits) == {beside, beside_away}
    assert off_route not in hits and past_end not in hits
    assert hits[beside]["distance_m"] == pytest.approx(30, abs=2)
    # coverage is judged against the nearest point of the route: the north camera looks south at it
    assert hits[beside]["covers_incident"] is True
    assert hits[beside_away]["covers_incident"] is False


def test_paging(client: TestClient, db: Session, registry: Registry, world: World) -> None:
    made = [camera_at(db, registry, world, offset(20 * i + 5)) for i in range(5)]
    pages = [near(client, world.investigator, page=p, page_size=2) for p in (1, 2, 3)]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert [p["page"] for p in pages] == [1, 2, 3]
    assert all(p["page_size"] == 2 for p in pages)
    seen = [cid for p in pages for cid in ids(p)]
    assert seen == made  # nearest first, no duplicates, none missing
    beyond = near(client, world.investigator, page=4, page_size=2)
    assert beyond["items"] == [] and beyond["has_more"] is False
    exact = near(client, world.investigator, page_size=5)
    assert len(exact["items"]) == 5 and exact["has_more"] is False


def test_equal_distances_page_without_duplicates(client: TestClient, db: Session, registry: Registry,
                                                 world: World) -> None:
    site = b.make_site(db, registry, world.owner, lon=LON, lat=LAT)
    made = {str(b.make_camera(db, registry, world.owner, site, label=f"c{i}").id) for i in range(5)}
    seen = [cid for p in (1, 2, 3) for cid in ids(near(client, world.investigator, page=p, page_size=2))]
    assert len(seen) == 5 and set(seen) == made


@pytest.mark.parametrize("how", ["accept", "query"])
def test_geojson_output(client: TestClient, db: Session, registry: Registry, world: World, how: str) -> None:
    cam = camera_at(db, registry, world, offset(20), label="Driveway")
    body = {"case_number": "C-400", "area": {"type": "near", "lon": LON, "lat": LAT, "radius_m": 100}}
    if how == "accept":
        response = client.post(URL, headers={**world.investigator.headers, "Accept": "application/geo+json"},
                               json=body)
    else:
        response = client.post(URL, params={"format": "geojson"}, headers=world.investigator.headers, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    doc = response.json()
    assert doc["type"] == "FeatureCollection"
    [feature] = doc["features"]
    assert feature["type"] == "Feature" and feature["id"] == cam
    assert feature["geometry"]["type"] == "Point"
    lon, lat = feature["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx(offset(20))
    assert feature["properties"]["label"] == "Driveway"
    assert "location" not in feature["properties"]
    assert doc["case_number"] == "C-400" and doc["has_more"] is False


def test_geojson_on_get_and_json_by_default(client: TestClient, db: Session, registry: Registry,
                                            world: World) -> None:
    camera_at(db, registry, world, offset(20))
    params: dict[str, Any] = {"lon": LON, "lat": LAT, "radius_m": 100, "case_number": "C-401"}
    geojson = client.get(URL, headers=world.investigator.headers, params={**params, "format": "geojson"})
    assert geojson.headers["content-type"].startswith("application/geo+json")
    assert len(geojson.json()["features"]) == 1
    plain = client.get(URL, headers=world.investigator.headers, params=params)
    assert plain.headers["content-type"].startswith("application/json")
    assert "items" in plain.json() and "features" not in plain.json()
    bad = client.get(URL, headers=world.investigator.headers, params={**params, "format": "kml"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "format"


def test_footage_likely_retained(client: TestClient, db: Session, registry: Registry, world: World) -> None:
    week = camera_at(db, registry, world, offset(10), retention_days=7)
    month = camera_at(db, registry, world, offset(20), retention_days=30)
    none_kept = camera_at(db, registry, world, offset(30), retention_days=0)
    now = datetime.now(UTC)

    def retained(incident_at: datetime | None) -> dict[str, Any]:
        extra: dict[str, Any] = {"incident_at": incident_at.isoformat()} if incident_at else {}
        return {h["camera_id"]: h["footage_likely_retained"] for h in near(client, world.investigator,
                                                                          **extra)["items"]}

    assert retained(now - timedelta(days=3)) == {week: True, month: True, none_kept: False}
    assert retained(now - timedelta(days=10)) == {week: False, month: True, none_kept: False}
    assert retained(now - timedelta(days=45)) == {week: False, month: False, none_kept: False}
    # retention 0 keeps nothing, even from a minute ago
    assert retained(now - timedelta(minutes=1)) == {week: True, month: True, none_kept: False}
    assert retained(None) == {week: None, month: None, none_kept: None}
    # an offset other than UTC means the same instant
    eastern = (now - timedelta(days=10)).astimezone(timezone(timedelta(hours=-5)))
    assert eastern.isoformat().endswith("-05:00")
    assert retained(eastern)[week] is False


def test_live_possible_only_for_core_cameras_that_share_live(client: TestClient, db: Session, registry: Registry,
                                                             world: World) -> None:
    cases = {
        ("live_on_alert", True): True,
        ("live_on_consent", True): True,
        ("on_request", True): False,
        ("registry_only", True): False,
        ("live_on_alert", False): False,
        ("live_on_consent", False): False,
        ("on_request", False): False,
    }
    made = {camera_at(db, registry, world, offset(10 * i + 5), mode=mode, core=core): expected
            for i, ((mode, core), expected) in enumerate(cases.items())}
    hits = near(client, world.investigator)["items"]
    assert {h["camera_id"]: h["live_possible"] for h in hits} == made
    assert {h["camera_id"]: (h["sharing_mode"], h["core_enabled"]) for h in hits} == {
        cid: key for cid, key in zip(made, cases, strict=True)}


def test_no_contact_data_in_search_results(client: TestClient, db: Session, registry: Registry) -> None:
    west = b.make_agency(db, bounds=b.WEST)
    investigator = b.make_staff(db, registry, west, Role.INVESTIGATOR)
    owner = b.make_owner(db, registry, name="Zebulon Quartermaine", email="zebulon.q@example.org",
                         phone="+1 352 555 0142")
    site = b.make_site(db, registry, owner, address="9876 Marigoldhaven Terrace, Clermont, FL")
    b.make_camera(db, registry, owner, site, label="Porch")
    json_body = {"case_number": "C-500", "area": {"type": "near", "lon": LON, "lat": LAT, "radius_m": 100}}
    texts = [
        client.post(URL, headers=investigator.headers, json=json_body).text,
        client.post(URL, params={"format": "geojson"}, headers=investigator.headers, json=json_body).text,
        client.get(URL, headers=investigator.headers,
                   params={"lon": LON, "lat": LAT, "radius_m": 100, "case_number": "C-500"}).text,
    ]
    for text in texts:
        assert "Porch" in text  # the camera is there...
        for secret in ("Zebulon", "Quartermaine", "zebulon.q", "example.org", "555 0142", "5550142",
                       "Marigoldhaven", "9876", str(site.id), str(owner.owner_id)):
            assert secret not in text  # ...its owner is not
    hit = client.post(URL, headers=investigator.headers, json=json_body).json()["items"][0]
    assert not {"owner_id", "site_id", "owner_name", "email", "phone", "address"} & set(hit)


def test_each_search_is_audited_with_case_number(client: TestClient, db: Session, registry: Registry,
                                                 world: World) -> None:
    camera_at(db, registry, world, offset(10))
    near(client, world.investigator, case="CASE-2026/0042")
    client.get(URL, headers=world.investigator.headers,
               params={"lon": LON, "lat": LAT, "radius_m": 100, "case_number": "CASE-2026/0043"})
    rows = db.scalars(select(AuditEvent).where(AuditEvent.action == "camera.search")
                      .where(AuditEvent.case_number.in_(["CASE-2026/0042", "CASE-2026/0043"]))
                      .order_by(AuditEvent.id)).all()
    assert [r.case_number for r in rows] == ["CASE-2026/0042", "CASE-2026/0043"]
    for row in rows:
        assert row.actor_id == world.investigator.account.id
        assert row.agency_id == world.west.id
        assert row.actor_role == "investigator"
        assert '"results": 1' in (row.detail or "")


def test_search_needs_a_case_number_and_a_search_role(client: TestClient, db: Session, registry: Registry,
                                                      world: World) -> None:
    before = db.scalars(select(AuditEvent).where(AuditEvent.action == "camera.search")).all()
    no_case = client.post(URL, headers=world.investigator.headers,
                          json={"area": {"type": "near", "lon": LON, "lat": LAT, "radius_m": 100}})
    assert no_case.status_code == 422 and no_case.json()["error"]["field"] == "case_number"
    as_owner = client.post(URL, headers=world.owner.headers, json={
        "case_number": "C-1", "area": {"type": "near", "lon": LON, "lat": LAT, "radius_m": 100}})
    assert as_owner.status_code == 403
    anonymous = client.get(URL, params={"lon": LON, "lat": LAT, "case_number": "C-1"})
    assert anonymous.status_code == 401
    after = db.scalars(select(AuditEvent).where(AuditEvent.action == "camera.search")).all()
    assert len(after) == len(before)
