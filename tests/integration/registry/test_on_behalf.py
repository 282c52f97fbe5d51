"""Staff registering on an owner's behalf: second factor, their own jurisdiction only, explicit owner."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.deps import Registry
from services.registry.owners.models import Camera, Site
from tests import builders as b

pytestmark = pytest.mark.spatialite
IN_WEST = {"lon": -81.7760, "lat": 28.5560}
IN_EAST = {"lon": -81.7300, "lat": 28.5560}


def _count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_advocates_sign_in_with_totp(client: TestClient, db: Session, registry: Registry) -> None:
    advocate = b.make_staff(db, registry, b.make_agency(db), Role.ADVOCATE)
    body = {"username": advocate.account.username, "password": b.PASSWORD}
    assert client.post("/v1/auth/login", json=body).json()["error"]["code"] == "totp_required"
    ok = client.post("/v1/auth/login", json={**body, "totp": b.totp_now(registry, advocate.account)})
    assert ok.status_code == 200, ok.text


def test_advocate_places_sites_and_cameras_only_in_their_jurisdiction(
    client: TestClient, db: Session, registry: Registry
) -> None:
    west = b.make_agency(db, bounds=b.WEST)
    b.make_agency(db, bounds=b.EAST)
    advocate = b.make_staff(db, registry, west, Role.ADVOCATE)
    owner = client.post("/v1/owners", headers=advocate.headers, json={"name": "Phone Campaign Person"}).json()
    sites, cameras = _count(db, Site), _count(db, Camera)

    new_site = {"owner_id": owner["id"], "kind": "residential", "address": "1 Lake St"}
    outside = client.post("/v1/sites", headers=advocate.headers, json={**new_site, "location": IN_EAST})
    assert outside.status_code == 422 and outside.json()["error"]["field"] == "location"
    assert _count(db, Site) == sites

    site = client.post("/v1/sites", headers=advocate.headers, json={**new_site, "location": IN_WEST})
    assert site.status_code == 201, site.text
    camera = {"label": "Porch", "bearing_deg": 90, "fov_deg": 90, "range_m": 30, "retention_days": 14}
    across = client.post(f"/v1/sites/{site.json()['id']}/cameras", headers=advocate.headers,
                         json={**camera, "location": IN_EAST})
    assert across.status_code == 422 and across.json()["error"]["field"] == "location"
    assert _count(db, Camera) == cameras
    made = client.post(f"/v1/sites/{site.json()['id']}/cameras", headers=advocate.headers, json=camera)
    assert made.status_code == 201, made.text
    moved = client.patch(f"/v1/cameras/{made.json()['id']}", headers=advocate.headers, json={"location": IN_EAST})
    assert moved.status_code == 422
    assert client.get(f"/v1/cameras/{made.json()['id']}", headers=advocate.headers).json()["agency_id"] == str(west.id)


def test_owner_may_register_anywhere_a_program_runs(client: TestClient, db: Session, registry: Registry) -> None:
    b.make_agency(db, bounds=b.WEST)
    east = b.make_agency(db, bounds=b.EAST)
    owner = b.make_owner(db, registry)
    site = client.post("/v1/sites", headers=owner.headers,
                       json={"kind": "commercial", "address": "2 East St", "location": IN_EAST})
    assert site.status_code == 201 and site.json()["agency_id"] == str(east.id)


def test_listing_sites_on_behalf_needs_the_owner(client: TestClient, db: Session, registry: Registry) -> None:
    advocate = b.make_staff(db, registry, b.make_agency(db), Role.ADVOCATE)
    response = client.get("/v1/sites", headers=advocate.headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == "owner_id"
