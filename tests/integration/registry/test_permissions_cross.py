"""One agency's staff against another agency's data, and one owner against another owner's: refused, unchanged.

Agency A serves WEST, agency B serves EAST. Foreign objects answer 404 (the service hides that they exist);
sharing agreements are the one way in, and only for searching and contact views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.accounts.models import Account
from services.registry.agencies.models import Agency, SharingAgreement
from services.registry.audit.models import AuditEvent
from services.registry.deps import Registry
from services.registry.owners.models import Camera, Owner, Site
from tests import builders as b
from tests.builders import Person

pytestmark = pytest.mark.spatialite

WEST_PIN = {"lon": -81.7745, "lat": 28.5567}
EAST_PIN = {"lon": -81.7300, "lat": 28.5567}
CAMERA = {"label": "Sneaky", "bearing_deg": 10, "fov_deg": 90, "range_m": 30, "retention_days": 7}
REASON = "burglary next door"


@dataclass
class Two:
    """Agencies A and B, and A's self-registered owner with a site and a camera in A."""

    a: Agency
    b: Agency
    owner: Person
    site: Site
    camera: Camera


@pytest.fixture
def two(db: Session, registry: Registry) -> Two:
    agency_a, agency_b = b.make_agency(db, bounds=b.WEST), b.make_agency(db, bounds=b.EAST)
    owner = b.make_owner(db, registry, name="Alex Westside")
    site = b.make_site(db, registry, owner)
    return Two(agency_a, agency_b, owner, site, b.make_camera(db, registry, owner, site, bearing=180))


def search(client: TestClient, person: Person, pin: dict[str, float], case: str = "C-1") -> list[str]:
    """Camera ids a near search finds (GET and POST must agree)."""
    got = client.get("/v1/search/cameras", headers=person.headers, params={**pin, "radius_m": 500, "case_number": case})
    posted = client.post("/v1/search/cameras", headers=person.headers,
                         json={"case_number": case, "area": {"type": "near", "radius_m": 500, **pin}})
    assert got.status_code == posted.status_code == 200, (got.text, posted.text)
    ids = [h["camera_id"] for h in got.json()["items"]]
    assert ids == [h["camera_id"] for h in posted.json()["items"]]
    return ids


def contact(client: TestClient, person: Person, camera: Camera, case: str = "C-1") -> Any:
    return client.post(f"/v1/cameras/{camera.id}/contact", headers=person.headers,
                       json={"case_number": case, "reason": REASON})


def count(db: Session, model: type[Any], *where: Any) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_other_agency_finds_and_views_nothing_until_shared(client: TestClient, db: Session, registry: Registry,
                                                            two: Two) -> None:
    a_sup = b.make_staff(db, registry, two.a, Role.SUPERVISOR)
    a_inv = b.make_staff(db, registry, two.a, Role.INVESTIGATOR)
    b_inv = b.make_staff(db, registry, two.b, Role.INVESTIGATOR)
    b_sup = b.make_staff(db, registry, two.b, Role.SUPERVISOR)
    b_client = b.make_staff(db, registry, two.b, Role.INTEGRATOR, scopes=["cameras:search"])
    east = b.make_owner(db, registry)
    east_site = b.make_site(db, registry, east, lon=EAST_PIN["lon"], lat=EAST_PIN["lat"])
    east_camera = b.make_camera(db, registry, east, east_site)
    mine = str(two.camera.id)

    assert search(client, a_inv, WEST_PIN) == [mine]
    for person in (b_inv, b_sup, b_client):
        assert search(client, person, WEST_PIN) == []
    assert search(client, b_inv, EAST_PIN) == [str(east_camera.id)]  # B's own camera is found
    for person in (b_inv, b_sup):
        refused = contact(client, person, two.camera)
        assert refused.status_code == 404, refused.text
        assert "Westside" not in refused.text
    assert count(db, AuditEvent, AuditEvent.action == "contact.view") == 0

    granted = client.post("/v1/agreements", headers=a_sup.headers, json={"grantee_agency_id": str(two.b.id)})
    assert granted.status_code == 201, granted.text
    assert search(client, b_inv, WEST_PIN) == [mine]
    assert search(client, b_client, WEST_PIN) == [mine]
    shown = contact(client, b_inv, two.camera, case="B-77")
    assert shown.status_code == 200, shown.text
    assert shown.json()["owner_name"] == "Alex Westside"
    assert contact(client, b_sup, two.camera).status_code == 200
    # The agreement is one way: A still sees nothing of B.
    assert search(client, a_inv, EAST_PIN) == []
    assert contact(client, a_inv, east_camera).status_code == 404
    # Sharing opens search and contact, not the owner's records.
    b_adv = b.make_staff(db, registry, two.b, Role.ADVOCATE)
    for person in (b_sup, b_adv):
        assert client.get(f"/v1/cameras/{two.camera.id}", headers=person.headers).status_code == 404
        assert client.get(f"/v1/owners/{two.owner.owner_id}", headers=person.headers).status_code == 404

    revoked = client.delete(f"/v1/agreements/{granted.json()['id']}", headers=a_sup.headers)
    assert revoked.status_code == 204, revoked.text
    assert search(client, b_inv, WEST_PIN) == []
    assert contact(client, b_inv, two.camera).status_code == 404


def test_other_supervisor_cannot_unlock_list_or_revoke(client: TestClient, db: Session, registry: Registry,
                                                       two: Two) -> None:
    a_sup = b.make_staff(db, registry, two.a, Role.SUPERVISOR)
    b_sup = b.make_staff(db, registry, two.b, Role.SUPERVISOR)
    locked = b.make_staff(db, registry, two.a, Role.INVESTIGATOR).account
    locked.locked_at = locked.created_at
    third = b.make_agency(db, bounds=(-81.70, 28.50, -81.65, 28.60))
    to_b = SharingAgreement(grantor_agency_id=two.a.id, grantee_agency_id=two.b.id)
    to_third = SharingAgreement(grantor_agency_id=two.a.id, grantee_agency_id=third.id)
    db.add_all([to_b, to_third])
    db.commit()

    refused = client.post(f"/v1/accounts/{locked.id}/unlock", headers=b_sup.headers)
    assert refused.status_code == 404, refused.text
    db.expire_all()
    assert db.get(Account, locked.id).locked_at is not None  # type: ignore[union-attr]
    listed = client.get("/v1/accounts", headers=b_sup.headers).json()
    assert {a["agency_id"] for a in listed} == {str(two.b.id)}
    assert str(locked.id) not in {a["id"] for a in listed}

    for agreement in (to_b, to_third):  # neither the grantee nor a stranger may end A's agreements
        gone = client.delete(f"/v1/agreements/{agreement.id}", headers=b_sup.headers)
        assert gone.status_code == 404, gone.text
    assert count(db, SharingAgreement, SharingAgreement.grantor_agency_id == two.a.id) == 2
    seen = {x["id"] for x in client.get("/v1/agreements", headers=b_sup.headers).json()}
    assert seen == {str(to_b.id)}  # B sees what it receives, not what A grants others
    forged = client.post("/v1/agreements", headers=b_sup.headers,
                         json={"grantee_agency_id": str(two.b.id), "grantor_agency_id": str(two.a.id)})
    assert forged.status_code == 422, forged.text
    to_self = client.post("/v1/agreements", headers=b_sup.headers, json={"grantee_agency_id": str(two.b.id)})
    assert to_self.status_code == 422, to_self.text
    assert count(db, SharingAgreement) == 2

    # The same calls work for A's own supervisor: the refusals were about the agency, not the objects.
    assert client.post(f"/v1/accounts/{locked.id}/unlock", headers=a_sup.headers).json()["locked_at"] is None
    assert client.delete(f"/v1/agreements/{to_third.id}", headers=a_sup.headers).status_code == 204


def test_other_auditor_sees_no_events_or_stats(client: TestClient, db: Session, registry: Registry,
                                               two: Two) -> None:
    a_inv = b.make_staff(db, registry, two.a, Role.INVESTIGATOR)
    a_aud = b.make_staff(db, registry, two.a, Role.AUDITOR)
    b_aud = b.make_staff(db, registry, two.b, Role.AUDITOR)
    b_sup = b.make_staff(db, registry, two.b, Role.SUPERVISOR)
    assert search(client, a_inv, WEST_PIN, case="A-SECRET-1") == [str(two.camera.id)]
    assert contact(client, a_inv, two.camera, case="A-SECRET-1").status_code == 200

    own = client.get("/v1/audit/events", headers=a_aud.headers, params={"case_number": "A-SECRET-1"}).json()
    assert {e["action"] for e in own} == {"camera.search", "contact.view"}
    for person in (b_aud, b_sup):
        everything = client.get("/v1/audit/events", headers=person.headers, params={"limit": 1000}).json()
        assert everything and {e["agency_id"] for e in everything} == {str(two.b.id)}
        assert "A-SECRET-1" not in str(everything)
        by_case = client.get("/v1/audit/events", headers=person.headers, params={"case_number": "A-SECRET-1"})
        assert by_case.status_code == 200 and by_case.json() == []
        stats = client.get("/v1/stats/program", headers=person.headers).json()
        assert stats["agency_id"] == str(two.b.id)
        assert all(m["registered"] == 0 for m in stats["months"])
    a_stats = client.get("/v1/stats/program", headers=a_aud.headers).json()
    assert a_stats["months"][-1]["registered"] == 1


@pytest.fixture
def advocated(client: TestClient, db: Session, registry: Registry, two: Two) -> dict[str, Any]:
    """An owner registered by A's advocate over the API, with a site and a camera in A."""
    adv = b.make_staff(db, registry, two.a, Role.ADVOCATE)
    owner = client.post("/v1/owners", headers=adv.headers, json={"name": "Brook Paper", "phone": "+1 352 555 0111"})
    assert owner.status_code == 201, owner.text
    site = client.post("/v1/sites", headers=adv.headers, json={"owner_id": owner.json()["id"], "kind": "commercial",
                                                              "address": "1 Main St", "location": WEST_PIN})
    assert site.status_code == 201, site.text
    camera = client.post(f"/v1/sites/{site.json()['id']}/cameras", headers=adv.headers, json=CAMERA)
    assert camera.status_code == 201, camera.text
    return {"adv": adv, "owner": owner.json()["id"], "site": site.json()["id"], "camera": camera.json()["id"]}


# (method, path, json) against the target's owner, site and camera; every one must answer 404.
FOREIGN_CALLS: list[tuple[str, str, Any]] = [
    ("GET", "/v1/owners/{owner}", None),
    ("DELETE", "/v1/owners/{owner}", None),
    ("GET", "/v1/sites?owner_id={owner}", None),
    ("POST", "/v1/sites", "site"),
    ("GET", "/v1/sites/{site}", None),
    ("PATCH", "/v1/sites/{site}", {"kind": "residential", "address": "taken over"}),
    ("DELETE", "/v1/sites/{site}", None),
    ("POST", "/v1/sites/{site}/cameras", CAMERA),
    ("GET", "/v1/sites/{site}/cameras", None),
    ("GET", "/v1/cameras/{camera}", None),
    ("PATCH", "/v1/cameras/{camera}", {"label": "hijacked", "sharing_mode": "live_on_alert"}),
    ("DELETE", "/v1/cameras/{camera}", None),
]


def snapshot(client: TestClient, person: Person, target: dict[str, Any], owner_path: str) -> list[Any]:
    """What the rightful holder sees of the owner, site and camera."""
    paths = [owner_path, f"/v1/sites?owner_id={target['owner']}", f"/v1/sites/{target['site']}",
             f"/v1/sites/{target['site']}/cameras", f"/v1/cameras/{target['camera']}"]
    answers = [client.get(p, headers=person.headers) for p in paths]
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    return [r.json() for r in answers]


def attempt(client: TestClient, person: Person, call: tuple[str, str, Any], target: dict[str, Any],
            pin: dict[str, float]) -> Any:
    method, path, body = call
    if body == "site":  # a site for the foreign owner, even one inside the caller's own jurisdiction
        body = {"owner_id": target["owner"], "kind": "residential", "address": "2 Elsewhere Rd", "location": pin}
    return client.request(method, path.format(**target), headers=person.headers, json=body)


def counts(db: Session) -> tuple[int, ...]:
    return tuple(count(db, m) for m in (Owner, Site, Camera, AuditEvent))


@pytest.mark.parametrize("role", [Role.ADVOCATE, Role.SUPERVISOR])
@pytest.mark.parametrize("call", FOREIGN_CALLS, ids=[f"{m} {p}" for m, p, _ in FOREIGN_CALLS])
def test_other_agency_cannot_manage_advocated_owner(client: TestClient, db: Session, registry: Registry, two: Two,
                                                    advocated: dict[str, Any], call: tuple[str, str, Any],
                                                    role: Role) -> None:
    intruder = b.make_staff(db, registry, two.b, role)
    owner_path = f"/v1/owners/{advocated['owner']}"
    before, rows = snapshot(client, advocated["adv"], advocated, owner_path), counts(db)
    refused = attempt(client, intruder, call, advocated, EAST_PIN)
    assert refused.status_code == 404, refused.text
    assert "Brook" not in refused.text and "Main St" not in refused.text
    assert snapshot(client, advocated["adv"], advocated, owner_path) == before
    assert counts(db) == rows


@pytest.mark.parametrize("call", FOREIGN_CALLS[2:], ids=[f"{m} {p}" for m, p, _ in FOREIGN_CALLS[2:]])
def test_owner_cannot_touch_another_owners_data(client: TestClient, db: Session, registry: Registry, two: Two,
                                                call: tuple[str, str, Any]) -> None:
    intruder = b.make_owner(db, registry, name="Other Owner")
    own_site = b.make_site(db, registry, intruder, lon=-81.7760, lat=28.5580)
    target = {"owner": str(two.owner.owner_id), "site": str(two.site.id), "camera": str(two.camera.id)}
    before, rows = snapshot(client, two.owner, target, "/v1/owners/me"), counts(db)
    refused = attempt(client, intruder, call, target, WEST_PIN)
    assert refused.status_code == 404, refused.text
    assert "Westside" not in refused.text and "Montrose" not in refused.text
    assert snapshot(client, two.owner, target, "/v1/owners/me") == before
    assert counts(db) == rows
    mine = client.get("/v1/sites", headers=intruder.headers).json()
    assert [x["id"] for x in mine] == [str(own_site.id)]


def test_owner_sees_only_their_own_access_feed(client: TestClient, db: Session, registry: Registry,
                                               two: Two) -> None:
    other = b.make_owner(db, registry)
    inv = b.make_staff(db, registry, two.a, Role.INVESTIGATOR)
    assert contact(client, inv, two.camera, case="FEED-1").status_code == 200
    feed = client.get("/v1/owners/me/access", headers=two.owner.headers).json()
    assert [(e["action"], e["case_number"]) for e in feed] == [("contact.view", "FEED-1")]
    assert client.get("/v1/owners/me/access", headers=other.headers).json() == []
    assert client.post(f"/v1/cameras/{two.camera.id}/contact", headers=other.headers,
                       json={"case_number": "X-1", "reason": REASON}).status_code == 403


def test_other_agency_advocate_cannot_import_into_foreign_jurisdiction(client: TestClient, db: Session,
                                                                       registry: Registry, two: Two) -> None:
    b_adv = b.make_staff(db, registry, two.b, Role.ADVOCATE)
    csv = ("owner_name,address,site_kind,lon,lat,camera_label,bearing_deg,fov_deg,range_m,retention_days\n"
           f"Planted Person,5 West Rd,residential,{WEST_PIN['lon']},{WEST_PIN['lat']},Cam,0,90,30,7\n")
    rows = counts(db)
    report = client.post("/v1/imports/cameras", headers=b_adv.headers,
                         files={"file": ("forms.csv", csv.encode(), "text/csv")})
    assert report.status_code == 200, report.text
    assert report.json()["imported"] is False
    assert [r["line"] for r in report.json()["rejected"]] == [2]
    assert counts(db) == rows


def test_deleted_owner_token_reaches_nothing(client: TestClient, db: Session, registry: Registry, two: Two) -> None:
    """A still-valid token of an owner who deleted themselves finds no data and cannot create any."""
    assert client.delete("/v1/owners/me", headers=two.owner.headers).status_code == 204
    rows = counts(db)
    assert client.get("/v1/owners/me", headers=two.owner.headers).status_code == 404
    assert client.get("/v1/sites", headers=two.owner.headers).status_code == 404
    made = client.post("/v1/sites", headers=two.owner.headers,
                       json={"kind": "residential", "address": "3 Ghost Ln", "location": WEST_PIN})
    assert made.status_code == 404, made.text
    assert client.get("/v1/owners/me/access", headers=two.owner.headers).status_code == 404
    assert counts(db) == rows
