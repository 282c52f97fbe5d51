"""Program statistics (registered vs CORE-integrated by month) and the public transparency report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.audit import service as audit
from services.registry.audit.models import AuditEvent
from services.registry.database import utcnow
from services.registry.deps import Registry
from services.registry.stats.models import CameraLedger
from tests import builders as b

pytestmark = pytest.mark.spatialite


def months(client: TestClient, person: b.Person) -> list[tuple[str, int, int]]:
    r = client.get("/v1/stats/program", headers=person.headers)
    assert r.status_code == 200, r.text
    assert r.json()["agency_id"] == str(person.account.agency_id)
    return [(m["month"], m["registered"], m["core_integrated"]) for m in r.json()["months"]]


def now_counts(client: TestClient, person: b.Person) -> tuple[int, int]:
    series = months(client, person)
    assert series and series[-1][0] == utcnow().strftime("%Y-%m")
    return series[-1][1], series[-1][2]


def camera_body(label: str, core: bool) -> dict[str, object]:
    return {"label": label, "bearing_deg": 0, "fov_deg": 90, "range_m": 40, "retention_days": 30,
            "core_enabled": core}


def test_counts_follow_cameras(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db)
    supervisor = b.make_staff(db, registry, agency, Role.SUPERVISOR)
    auditor = b.make_staff(db, registry, agency, Role.AUDITOR)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    assert months(client, supervisor) == []  # nothing registered yet: no series

    def add(label: str, core: bool) -> str:
        r = client.post(f"/v1/sites/{site.id}/cameras", headers=owner.headers, json=camera_body(label, core))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def patch(camera: str, **change: object) -> None:
        r = client.patch(f"/v1/cameras/{camera}", headers=owner.headers, json=change)
        assert r.status_code == 200, r.text

    first = add("Driveway", core=False)
    assert now_counts(client, supervisor) == (1, 0)
    second = add("Garage", core=True)
    assert now_counts(client, supervisor) == (2, 1)
    patch(first, core_enabled=True)
    assert now_counts(client, supervisor) == (2, 2)
    patch(second, core_enabled=False)
    assert now_counts(client, supervisor) == (2, 1)
    rows = len(db.scalars(select(CameraLedger.id).where(CameraLedger.agency_id == agency.id)).all())
    patch(first, core_enabled=True, label="Driveway left")  # no change in CORE state: no ledger row
    patch(second, retention_days=7)
    assert len(db.scalars(select(CameraLedger.id).where(CameraLedger.agency_id == agency.id)).all()) == rows
    assert now_counts(client, auditor) == (2, 1)
    assert client.delete(f"/v1/cameras/{first}", headers=owner.headers).status_code == 204
    assert now_counts(client, supervisor) == (1, 0)
    assert client.delete(f"/v1/sites/{site.id}", headers=owner.headers).status_code == 204
    assert now_counts(client, supervisor) == (0, 0)
    assert len(months(client, supervisor)) == 1  # one month, ending at zero


def test_camera_moving_between_agencies(client: TestClient, db: Session, registry: Registry) -> None:
    west, east = b.make_agency(db, bounds=b.WEST), b.make_agency(db, bounds=b.EAST)
    west_sup = b.make_staff(db, registry, west, Role.SUPERVISOR)
    east_sup = b.make_staff(db, registry, east, Role.SUPERVISOR)
    owner = b.make_owner(db, registry)
    camera = b.make_camera(db, registry, owner, b.make_site(db, registry, owner), core=True)
    assert now_counts(client, west_sup) == (1, 1)
    assert months(client, east_sup) == []
    moved = {"location": {"lon": -81.72, "lat": 28.55}}
    r = client.patch(f"/v1/cameras/{camera.id}", headers=owner.headers, json=moved)
    assert r.status_code == 200, r.text
    assert r.json()["agency_id"] == str(east.id)
    assert now_counts(client, west_sup) == (0, 0)
    assert now_counts(client, east_sup) == (1, 1)


def test_month_series_carries_counts_forward(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db)
    supervisor = b.make_staff(db, registry, agency, Role.SUPERVISOR)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    b.make_camera(db, registry, owner, site, core=True)
    then = utcnow().replace(day=15) - timedelta(days=93)  # about three months ago
    for row in db.scalars(select(CameraLedger).where(CameraLedger.agency_id == agency.id)):
        row.recorded_at = then
    db.commit()
    b.make_camera(db, registry, owner, site, core=False)
    series = months(client, supervisor)
    expected, cursor = [], then.replace(day=1)
    while cursor.strftime("%Y-%m") <= utcnow().strftime("%Y-%m"):
        expected.append(cursor.strftime("%Y-%m"))
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    assert [m for m, _, _ in series] == expected
    assert len(series) == 4
    assert [(r, c) for _, r, c in series] == [(1, 1), (1, 1), (1, 1), (2, 1)]


def test_program_stats_access(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db)
    for role in (Role.INVESTIGATOR, Role.DISPATCHER, Role.ADVOCATE):
        person = b.make_staff(db, registry, agency, role)
        assert client.get("/v1/stats/program", headers=person.headers).status_code == 403
    client_person = b.make_staff(db, registry, agency, Role.INTEGRATOR, scopes=["cameras:search"])
    assert client.get("/v1/stats/program", headers=client_person.headers).status_code == 403
    assert client.get("/v1/stats/program", headers=b.make_owner(db, registry).headers).status_code == 403
    assert client.get("/v1/stats/program").status_code == 401


def test_transparency_is_public_and_aggregate(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db)
    investigator = b.make_staff(db, registry, agency, Role.INVESTIGATOR, username="det-sergeant-visible")
    owner = b.make_owner(db, registry, name="Ophelia Transparent", email="ophelia.t@example.org",
                         phone="+1 352 555 0777")
    site = b.make_site(db, registry, owner, address="9 Secret Orchard Way")
    cameras = [b.make_camera(db, registry, owner, site, core=n == 0, label=f"Label-{n}-hidden") for n in range(3)]
    case, reason = "TRN-2026-777", "suspicious vehicle seen"
    found = client.get("/v1/search/cameras", headers=investigator.headers,
                       params={"lon": -81.7745, "lat": 28.5565, "radius_m": 300, "case_number": case})
    assert found.status_code == 200, found.text
    viewed = client.post(f"/v1/cameras/{cameras[0].id}/contact", headers=investigator.headers,
                         json={"case_number": case, "reason": reason})
    assert viewed.status_code == 200, viewed.text

    r = client.get("/v1/transparency")
    assert r.status_code == 200, r.text
    month = utcnow().strftime("%Y-%m")
    [entry] = [a for a in r.json()["agencies"] if a["agency"] == agency.slug]
    assert entry == {"agency": agency.slug, "name": agency.name, "cameras_registered": 3,
                     "cameras_core_integrated": 1, "searches_by_month": {month: 1},
                     "contact_views_by_month": {month: 1}, "requests_by_month": {}}
    assert set(r.json()) == {"generated_at", "agencies"}
    leaks = [str(c.id) for c in cameras] + [str(site.id), str(owner.owner_id), str(owner.account.id),
                                            str(investigator.account.id), "det-sergeant-visible", case, reason,
                                            "Ophelia", "ophelia.t@example.org", "555 0777", "Secret Orchard",
                                            "Label-0-hidden", "-81.77", "28.55"]
    assert [leak for leak in leaks if leak in r.text] == []
    # Authentication is not needed, and a token does not unlock more detail.
    assert client.get("/v1/transparency", headers=investigator.headers).json()["agencies"] == r.json()["agencies"]


def test_transparency_months_are_utc(client: TestClient, db: Session, registry: Registry) -> None:
    """Months are UTC months on both backends, whatever time zone the database session uses."""
    agency = b.make_agency(db)
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SET LOCAL TIME ZONE 'Pacific/Honolulu'"))  # UTC-10: 00:30 UTC is the day before
    first = utcnow().replace(day=1, hour=0, minute=30, second=0, microsecond=0)
    prev = db.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or audit.GENESIS
    event = AuditEvent(recorded_at=first, actor_role="investigator", agency_id=agency.id, action="contact.view",
                       outcome="ok", case_number="TZ-1", prev_hash=prev)
    event.hash = audit.chain_hash(prev, event)
    db.add(event)
    db.commit()
    [entry] = [a for a in client.get("/v1/transparency").json()["agencies"] if a["agency"] == agency.slug]
    assert entry["contact_views_by_month"] == {first.strftime("%Y-%m"): 1}
