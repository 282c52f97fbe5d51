"""Owners manage their sites and cameras through the API, on both backends; a camera's point decides its agency."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.deps import Registry
from services.registry.owners.models import Camera, Site
from tests import builders as b

pytestmark = pytest.mark.spatialite

WEST_POINT = {"lon": -81.7745, "lat": 28.5567}
EAST_POINT = {"lon": -81.7200, "lat": 28.5567}
CAMERA = {"label": "Front door", "bearing_deg": 180, "fov_deg": 90, "range_m": 30, "retention_days": 14}


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_owner_creates_reads_updates_and_deletes_a_site(client: TestClient, db: Session, registry: Registry) -> None:
    west = b.make_agency(db, bounds=b.WEST)
    east = b.make_agency(db, bounds=b.EAST)
    owner = b.make_owner(db, registry)
    site = created(client.post("/v1/sites", headers=owner.headers, json={
        "kind": "residential", "address": "742 W Montrose St, Clermont, FL", "location": WEST_POINT}))
    assert site["owner_id"] == str(owner.owner_id)
    assert site["agency_id"] == str(west.id)
    assert site["location"] == pytest.approx(WEST_POINT)
    assert site["address"] == "742 W Montrose St, Clermont, FL"

    listed = client.get("/v1/sites", headers=owner.headers)
    assert [x["id"] for x in listed.json()] == [site["id"]]
    assert client.get(f"/v1/sites/{site['id']}", headers=owner.headers).json() == site

    changed = client.patch(f"/v1/sites/{site['id']}", headers=owner.headers,
                           json={"kind": "commercial", "address": "100 E Main St", "location": EAST_POINT})
    assert changed.status_code == 200, changed.text
    assert changed.json()["kind"] == "commercial"
    assert changed.json()["address"] == "100 E Main St"
    assert changed.json()["agency_id"] == str(east.id)
    assert changed.json()["location"] == pytest.approx(EAST_POINT)

    gone = client.delete(f"/v1/sites/{site['id']}", headers=owner.headers)
    assert gone.status_code == 204
    assert client.get(f"/v1/sites/{site['id']}", headers=owner.headers).status_code == 404
    assert client.get("/v1/sites", headers=owner.headers).json() == []


def test_owner_manages_cameras(client: TestClient, db: Session, registry: Registry) -> None:
    west = b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    cam = created(client.post(f"/v1/sites/{site.id}/cameras", headers=owner.headers, json=CAMERA))
    assert cam["site_id"] == str(site.id) and cam["agency_id"] == str(west.id)
    assert cam["location"] == pytest.approx(WEST_POINT)  # defaults to the site's point
    assert cam["sharing_mode"] == "on_request" and cam["core_enabled"] is False and cam["indoor"] is False
    assert {k: cam[k] for k in CAMERA} == CAMERA

    listed = client.get(f"/v1/sites/{site.id}/cameras", headers=owner.headers).json()
    assert [c["id"] for c in listed] == [cam["id"]]
    assert client.get(f"/v1/cameras/{cam['id']}", headers=owner.headers).json()["label"] == "Front door"

    patched = client.patch(f"/v1/cameras/{cam['id']}", headers=owner.headers,
                           json={"label": "Garage", "bearing_deg": 359.5, "sharing_mode": "live_on_consent",
                                 "core_enabled": True})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["label"], body["bearing_deg"], body["sharing_mode"], body["core_enabled"]) == (
        "Garage", 359.5, "live_on_consent", True)
    assert body["range_m"] == 30  # untouched fields stay

    assert client.delete(f"/v1/cameras/{cam['id']}", headers=owner.headers).status_code == 204
    assert client.get(f"/v1/cameras/{cam['id']}", headers=owner.headers).status_code == 404
    assert db.scalar(select(func.count()).select_from(Camera).where(Camera.site_id == site.id)) == 0


def test_moving_a_camera_across_the_line_changes_its_agency(client: TestClient, db: Session,
                                                            registry: Registry) -> None:
    west = b.make_agency(db, bounds=b.WEST)
    east = b.make_agency(db, bounds=b.EAST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner, lon=-81.7501, lat=28.55)
    cam = created(client.post(f"/v1/sites/{site.id}/cameras", headers=owner.headers, json=CAMERA))
    assert cam["agency_id"] == str(west.id)

    moved = client.patch(f"/v1/cameras/{cam['id']}", headers=owner.headers,
                         json={"location": {"lon": -81.7499, "lat": 28.55}})
    assert moved.status_code == 200, moved.text
    assert moved.json()["agency_id"] == str(east.id)
    assert moved.json()["location"] == pytest.approx({"lon": -81.7499, "lat": 28.55})
    assert db.get(Site, site.id).agency_id == west.id  # type: ignore[union-attr]  # the site stays put

    investigator = b.make_staff(db, registry, west, Role.INVESTIGATOR)
    params: dict[str, Any] = {"lon": -81.75, "lat": 28.55, "radius_m": 200, "case_number": "C-9"}
    assert client.get("/v1/search/cameras", headers=investigator.headers, params=params).json()["items"] == []

    back = client.patch(f"/v1/cameras/{cam['id']}", headers=owner.headers,
                        json={"location": {"lon": -81.7510, "lat": 28.55}})
    assert back.json()["agency_id"] == str(west.id)
    found = client.get("/v1/search/cameras", headers=investigator.headers, params=params).json()["items"]
    assert [h["camera_id"] for h in found] == [cam["id"]]


def test_camera_outside_every_jurisdiction_is_refused(client: TestClient, db: Session, registry: Registry) -> None:
    b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    far = client.post(f"/v1/sites/{site.id}/cameras", headers=owner.headers,
                      json={**CAMERA, "location": {"lon": -80.0, "lat": 27.0}})
    assert far.status_code == 422
    assert far.json()["error"]["field"] == "location"
    assert client.get(f"/v1/sites/{site.id}/cameras", headers=owner.headers).json() == []
    cam = created(client.post(f"/v1/sites/{site.id}/cameras", headers=owner.headers, json=CAMERA))
    moved = client.patch(f"/v1/cameras/{cam['id']}", headers=owner.headers,
                         json={"location": {"lon": -80.0, "lat": 27.0}, "label": "Moved"})
    assert moved.status_code == 422
    again = client.get(f"/v1/cameras/{cam['id']}", headers=owner.headers).json()
    assert again["label"] == "Front door" and again["location"] == pytest.approx(WEST_POINT)
    nulled = client.patch(f"/v1/cameras/{cam['id']}", headers=owner.headers,
                          json={"label": "Renamed", "bearing_deg": None})
    assert nulled.status_code == 422 and nulled.json()["error"]["field"] == "bearing_deg"
    assert client.get(f"/v1/cameras/{cam['id']}", headers=owner.headers).json()["label"] == "Front door"
    site_moved = client.patch(f"/v1/sites/{site.id}", headers=owner.headers,
                              json={"kind": "commercial", "location": {"lon": -80.0, "lat": 27.0}})
    assert site_moved.status_code == 422 and site_moved.json()["error"]["field"] == "location"
    assert client.get(f"/v1/sites/{site.id}", headers=owner.headers).json()["kind"] == "residential"


def test_deleting_a_site_removes_its_cameras(client: TestClient, db: Session, registry: Registry) -> None:
    b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    cams = [b.make_camera(db, registry, owner, site, label=f"c{i}") for i in range(3)]
    assert client.delete(f"/v1/sites/{site.id}", headers=owner.headers).status_code == 204
    for cam in cams:
        assert client.get(f"/v1/cameras/{cam.id}", headers=owner.headers).status_code == 404
    assert db.scalar(select(func.count()).select_from(Camera).where(Camera.owner_id == owner.owner_id)) == 0


def test_another_owner_cannot_see_or_change_them(client: TestClient, db: Session, registry: Registry) -> None:
    b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    stranger = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    cam = b.make_camera(db, registry, owner, site)
    assert client.get(f"/v1/sites/{site.id}", headers=stranger.headers).status_code == 404
    assert client.get(f"/v1/cameras/{cam.id}", headers=stranger.headers).status_code == 404
    assert client.patch(f"/v1/cameras/{cam.id}", headers=stranger.headers,
                        json={"label": "Mine now"}).status_code == 404
    assert client.delete(f"/v1/sites/{site.id}", headers=stranger.headers).status_code == 404
    assert client.post(f"/v1/sites/{site.id}/cameras", headers=stranger.headers, json=CAMERA).status_code == 404
    assert client.get("/v1/sites", headers=stranger.headers).json() == []
    assert client.get(f"/v1/cameras/{cam.id}", headers=owner.headers).json()["label"] == "Cam"


def test_advocate_registers_an_owner_site_and_camera(client: TestClient, db: Session, registry: Registry) -> None:
    west = b.make_agency(db, bounds=b.WEST)
    advocate = b.make_staff(db, registry, west, Role.ADVOCATE)
    owner = created(client.post("/v1/owners", headers=advocate.headers, json={"name": "Ida Paper"}))
    assert owner["has_login"] is False
    missing = client.post("/v1/sites", headers=advocate.headers,
                          json={"kind": "residential", "address": "1 Lake Ave", "location": WEST_POINT})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "owner_id"
    site = created(client.post("/v1/sites", headers=advocate.headers, json={
        "owner_id": owner["id"], "kind": "residential", "address": "1 Lake Ave", "location": WEST_POINT}))
    cam = created(client.post(f"/v1/sites/{site['id']}/cameras", headers=advocate.headers, json=CAMERA))
    assert cam["agency_id"] == str(west.id)
    listed = client.get("/v1/sites", headers=advocate.headers, params={"owner_id": owner["id"]}).json()
    assert [s["id"] for s in listed] == [site["id"]]
