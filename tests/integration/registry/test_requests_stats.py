"""The transparency report's footage request counts: per agency and month, by legal basis and outcome."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.database import utcnow
from services.registry.deps import Registry
from services.registry.requests import service as requests
from services.registry.requests.models import FootageRequest
from tests import builders as b
from tests.integration.registry.test_requests import create, store_file

pytestmark = pytest.mark.spatialite

ZERO_BASES = {"owner_consent": 0, "warrant": 0, "exigent": 0}
ZERO_STATES = {"pending": 0, "accepted": 0, "declined": 0, "fulfilled": 0, "expired": 0, "withdrawn": 0, "closed": 0}


def month_entry(total: int, bases: dict[str, int], states: dict[str, int]) -> dict[str, Any]:
    return {"total": total, "by_legal_basis": {**ZERO_BASES, **bases}, "by_outcome": {**ZERO_STATES, **states}}


def report_for(client: TestClient, slug: str) -> dict[str, Any]:
    r = client.get("/v1/transparency")
    assert r.status_code == 200, r.text
    [entry] = [a for a in r.json()["agencies"] if a["agency"] == slug]
    return dict(entry)


def test_requests_counted_by_basis_and_outcome(client: TestClient, db: Session, registry: Registry) -> None:
    agency, east = b.make_agency(db), b.make_agency(db, bounds=b.EAST)
    investigator = b.make_staff(db, registry, agency, Role.INVESTIGATOR, username="det-stats-hidden")
    owner = b.make_owner(db, registry, name="Stella Statistic", email="stella.s@example.org")
    camera = b.make_camera(db, registry, owner, b.make_site(db, registry, owner), label="Stats-cam-hidden")
    east_owner = b.make_owner(db, registry)
    east_cam = b.make_camera(db, registry, east_owner, b.make_site(db, registry, east_owner, lon=-81.72, lat=28.55))

    def ask(case: str, basis: str, **extra: Any) -> str:
        [made] = create(client, investigator, [camera], case_number=case, legal_basis=basis, **extra)
        return str(made["id"])

    def answer(request_id: str, verb: str) -> None:
        r = client.post(f"/v1/my/requests/{request_id}/{verb}", headers=owner.headers)
        assert r.status_code == 200, r.text

    answer(ask("STAT-ACCEPT", "owner_consent"), "accept")
    answer(ask("STAT-DECLINE", "warrant"), "decline")
    withdrawn = ask("STAT-WITHDRAW", "exigent")
    assert client.post(f"/v1/requests/{withdrawn}/withdraw", headers=investigator.headers).status_code == 200
    due = utcnow() + timedelta(hours=1)
    ask("STAT-EXPIRE", "owner_consent", due_at=due.isoformat())
    assert requests.expire_due(db, now=due) == 1
    db.commit()
    fulfilled = ask("STAT-FULFIL", "warrant")
    answer(fulfilled, "accept")
    store_file(db, fulfilled)
    answer(fulfilled, "complete")
    ask("STAT-PENDING", "owner_consent")
    old = db.get(FootageRequest, uuid.UUID(ask("STAT-OLD", "exigent")))
    assert old is not None
    then = utcnow().replace(day=15) - timedelta(days=62)  # two months ago
    old.created_at = then
    b.make_request_row(db, east, east_cam, legal_basis="warrant")  # another agency's, counted there only
    db.commit()

    month = utcnow().strftime("%Y-%m")
    entry = report_for(client, agency.slug)
    assert entry["requests_by_month"] == {
        then.strftime("%Y-%m"): month_entry(1, {"exigent": 1}, {"pending": 1}),
        month: month_entry(6, {"owner_consent": 3, "warrant": 2, "exigent": 1},
                           {"accepted": 1, "declined": 1, "withdrawn": 1, "expired": 1, "fulfilled": 1, "pending": 1}),
    }
    assert list(entry["requests_by_month"]) == sorted(entry["requests_by_month"])  # months in order
    assert report_for(client, east.slug)["requests_by_month"] == {
        month: month_entry(1, {"warrant": 1}, {"pending": 1})}
    # The fields the report had before are all still there.
    assert {"agency", "name", "cameras_registered", "cameras_core_integrated", "searches_by_month",
            "contact_views_by_month"} <= set(entry)
    assert entry["cameras_registered"] == 1

    body = client.get("/v1/transparency").text
    leaks = ["STAT-", "det-stats-hidden", "Stella", "stella.s@example.org", "Stats-cam-hidden", str(camera.id),
             str(owner.owner_id), str(investigator.account.id), withdrawn, "Please share"]
    assert [leak for leak in leaks if leak in body] == []


def test_agency_without_requests_has_an_empty_series(client: TestClient, db: Session) -> None:
    agency = b.make_agency(db)
    assert report_for(client, agency.slug)["requests_by_month"] == {}


def test_request_months_are_utc(client: TestClient, db: Session, registry: Registry) -> None:
    """A request made at 00:30 UTC on the 1st counts in that UTC month, whatever the session's time zone."""
    agency = b.make_agency(db)
    owner = b.make_owner(db, registry)
    camera = b.make_camera(db, registry, owner, b.make_site(db, registry, owner))
    request = b.make_request_row(db, agency, camera)
    first = utcnow().replace(day=1, hour=0, minute=30, second=0, microsecond=0)
    request.created_at = first
    db.commit()
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SET LOCAL TIME ZONE 'Pacific/Honolulu'"))  # UTC-10: 00:30 UTC is the day before
    assert list(report_for(client, agency.slug)["requests_by_month"]) == [first.strftime("%Y-%m")]
