"""The registry answers on both backends: sign in, register, search, contact view."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.deps import Registry
from tests import builders as b

pytestmark = pytest.mark.spatialite


def test_register_search_and_view_contact(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db)
    investigator = b.make_staff(db, registry, agency, Role.INVESTIGATOR)
    owner = b.make_owner(db, registry, name="Dana Whitfield")
    site = b.make_site(db, registry, owner)
    camera = b.make_camera(db, registry, owner, site, bearing=180, fov=90, range_m=40)

    found = client.get("/v1/search/cameras", headers=investigator.headers,
                       params={"lon": -81.7745, "lat": 28.5565, "radius_m": 300, "case_number": "C-1"})
    assert found.status_code == 200, found.text
    [hit] = found.json()["items"]
    assert hit["camera_id"] == str(camera.id)
    assert hit["covers_incident"] is True
    assert "Dana" not in found.text

    contact = client.post(f"/v1/cameras/{camera.id}/contact", headers=investigator.headers,
                          json={"case_number": "C-1", "reason": "burglary next door"})
    assert contact.status_code == 200, contact.text
    assert contact.json()["owner_name"] == "Dana Whitfield"


def test_login_requires_totp_for_staff(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db)
    person = b.make_staff(db, registry, agency, Role.INVESTIGATOR)
    body = {"username": person.account.username, "password": b.PASSWORD}
    assert client.post("/v1/auth/login", json=body).json()["error"]["code"] == "totp_required"
    ok = client.post("/v1/auth/login", json={**body, "totp": b.totp_now(registry, person.account)})
    assert ok.status_code == 200, ok.text
    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {ok.json()['access_token']}"})
    assert me.json()["role"] == "investigator"
