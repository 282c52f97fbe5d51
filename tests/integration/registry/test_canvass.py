"""The canvass report through the HTTP API, on both backends: rows and order, columns, agencies, audit, roles."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.agencies.models import Agency, SharingAgreement
from services.registry.audit.models import AuditEvent
from services.registry.canvass import service
from services.registry.deps import Registry
from services.registry.owners.models import Camera
from tests import builders as b
from tests.builders import LAT, LON, offset

pytestmark = pytest.mark.spatialite

CASE = "C-2026/0815"
REASON = "burglary at 740 W Montrose"
LABEL, ADDRESS, KIND, DISTANCE, FACING, COVERS, RETENTION, RETAINED, SHARING, CORE, OWNER, PHONE, REQUEST, NOTES = (
    range(14))


@dataclass
class World:
    db: Session
    registry: Registry
    west: Agency
    east: Agency
    investigator: b.Person
    owner: b.Person

    def camera(self, point: tuple[float, float], *, owner: b.Person | None = None, address: str = "1 Main St",
               kind: str = "residential", **kw: Any) -> Camera:
        """A camera on its own site at the point."""
        owner = owner or self.owner
        site = b.make_site(self.db, self.registry, owner, lon=point[0], lat=point[1], address=address, kind=kind)
        return b.make_camera(self.db, self.registry, owner, site, **kw)


@pytest.fixture
def world(db: Session, registry: Registry) -> World:
    west = b.make_agency(db, bounds=b.WEST)
    east = b.make_agency(db, bounds=b.EAST)
    investigator = b.make_staff(db, registry, west, Role.INVESTIGATOR)
    owner = b.make_owner(db, registry, name="Pat Example", phone="+1 352 555 0199")
    return World(db, registry, west, east, investigator, owner)


def params(**kw: Any) -> dict[str, Any]:
    at = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    query = {"lon": LON, "lat": LAT, "at": at, "case_number": CASE, "reason": REASON, **kw}
    return {k: v for k, v in query.items() if v is not None}  # None: leave the parameter out


def fetch(client: TestClient, who: b.Person | dict[str, str], fmt: str = "csv", **kw: Any) -> Any:
    headers = who if isinstance(who, dict) else who.headers
    return client.get(f"/v1/canvass.{fmt}", headers=headers, params=params(**kw))


def table(client: TestClient, who: b.Person | dict[str, str], **kw: Any) -> list[list[str]]:
    """The CSV rows below the header row."""
    response = fetch(client, who, **kw)
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert rows[0][:2] == ["Camera", "Address"]
    return rows[1:]


def labels(rows: list[list[str]]) -> list[str]:
    return [r[LABEL] for r in rows]


def pdf_text(content: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(content))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def events(db: Session, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_csv_lists_cameras_nearest_first_with_contacts(client: TestClient, world: World) -> None:
    world.camera(offset(150), label="Far", address="9 Lake Ave")
    world.camera(offset(10), label="Near", address="742 W Montrose St, Clermont, FL", kind="commercial")
    world.camera(offset(0, -80), label="Middle", address="12 Oak St")
    world.camera(offset(260), label="Outside")
    response = fetch(client, world.investigator)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert response.headers["content-disposition"] == f'attachment; filename="canvass-C-2026_0815-{today}.csv"'
    assert response.headers["cache-control"] == "no-store"
    rows = table(client, world.investigator)
    assert labels(rows) == ["Near", "Middle", "Far"]  # default radius 200 m leaves "Outside" out
    assert [int(r[DISTANCE]) for r in rows] == pytest.approx([10, 80, 150], abs=1)
    near = rows[0]
    assert near[ADDRESS] == "742 W Montrose St, Clermont, FL"
    assert near[KIND] == "commercial"
    assert (near[OWNER], near[PHONE]) == ("Pat Example", "'+1 352 555 0199")  # defused leading '+'
    assert (near[SHARING], near[CORE], near[REQUEST], near[NOTES]) == ("on request", "no", "none", "")
    assert labels(table(client, world.investigator, radius_m=300)) == ["Near", "Middle", "Far", "Outside"]


def test_coverage_and_retention_columns(client: TestClient, world: World) -> None:
    # four cameras 50 m south of the incident: two look north at it, two look away; two keep 30 days, two 7
    world.camera(offset(-50, -5), label="Sees-keeps", bearing=0, range_m=100, retention_days=30, core=True,
                 mode="live_on_alert")
    world.camera(offset(-50, 5), label="Sees-lost", bearing=0, range_m=100, retention_days=7)
    world.camera(offset(-51, 0), label="Away-keeps", bearing=180, range_m=100, retention_days=30)
    world.camera(offset(-52, 0), label="Short-range", bearing=0, range_m=20, retention_days=7)
    at = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    rows = {r[LABEL]: r for r in table(client, world.investigator, at=at)}
    assert {k: (r[FACING], r[COVERS], r[RETENTION], r[RETAINED]) for k, r in rows.items()} == {
        "Sees-keeps": ("N (0°)", "yes", "30", "yes"),
        "Sees-lost": ("N (0°)", "yes", "7", "no"),
        "Away-keeps": ("S (180°)", "no", "30", "yes"),
        "Short-range": ("N (0°)", "no", "7", "no"),
    }
    assert (rows["Sees-keeps"][CORE], rows["Sees-keeps"][SHARING]) == ("yes", "live on alert")
    recent = {r[LABEL]: r[RETAINED] for r in table(client, world.investigator)}  # three hours ago: all kept
    assert set(recent.values()) == {"yes"}


def test_request_status_is_this_cases_latest_of_the_callers_agency(client: TestClient, world: World) -> None:
    asked = world.camera(offset(10), label="Asked")
    other_case = world.camera(offset(20), label="Other-case")
    other_agency = world.camera(offset(30), label="Other-agency")
    world.camera(offset(40), label="Never")
    now = datetime.now(UTC)
    for state, days_ago in (("pending", 1), ("declined", 3)):  # the newer one wins whatever the insert order
        request = b.make_request_row(world.db, world.west, asked, case_number=CASE, state=state)
        request.created_at = now - timedelta(days=days_ago)
    b.make_request_row(world.db, world.west, other_case, case_number="C-2026/0001", state="accepted")
    b.make_request_row(world.db, world.east, other_agency, case_number=CASE, state="fulfilled")
    world.db.commit()
    rows = table(client, world.investigator)
    assert {r[LABEL]: r[REQUEST] for r in rows} == {"Asked": "pending", "Other-case": "none",
                                                    "Other-agency": "none", "Never": "none"}
    assert {r[LABEL]: r[REQUEST] for r in table(client, world.investigator, case_number="C-2026/0001")} == {
        "Asked": "none", "Other-case": "accepted", "Other-agency": "none", "Never": "none"}


def test_another_agencys_cameras_only_through_a_sharing_agreement(client: TestClient, world: World) -> None:
    line_lat = 28.55
    home = world.camera(offset(0, -40, lon=-81.75, lat=line_lat), label="West-side")
    across = world.camera(offset(0, 40, lon=-81.75, lat=line_lat), label="East-side")
    assert (home.agency_id, across.agency_id) == (world.west.id, world.east.id)
    assert labels(table(client, world.investigator, lon=-81.75, lat=line_lat)) == ["West-side"]
    east_investigator = b.make_staff(world.db, world.registry, world.east, Role.INVESTIGATOR)
    assert labels(table(client, east_investigator, lon=-81.75, lat=line_lat)) == ["East-side"]

    world.db.add(SharingAgreement(grantor_agency_id=world.east.id, grantee_agency_id=world.west.id))
    world.db.commit()
    assert sorted(labels(table(client, world.investigator, lon=-81.75, lat=line_lat))) == ["East-side", "West-side"]
    assert labels(table(client, east_investigator, lon=-81.75, lat=line_lat)) == ["East-side"]  # one-way


def test_csv_defuses_formulas(client: TestClient, world: World) -> None:
    hostile = b.make_owner(world.db, world.registry, name="@SUM(1+1)*cmd|' /C calc'!A0", phone="-1 555")
    world.camera(offset(10), owner=hostile, label='=HYPERLINK("http://evil.example","open")', address="+1 Main St")
    world.camera(offset(20), label="Plain = fine")
    rows = table(client, world.investigator)
    assert rows[0][LABEL] == '\'=HYPERLINK("http://evil.example","open")'
    assert rows[0][ADDRESS] == "'+1 Main St"
    assert rows[0][OWNER] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert rows[0][PHONE] == "'-1 555"
    assert rows[1][LABEL] == "Plain = fine"


def test_report_is_audited_and_each_owner_sees_it(client: TestClient, world: World) -> None:
    world.camera(offset(10), label="One")
    world.camera(offset(20), label="Two")
    neighbour = b.make_owner(world.db, world.registry, name="Sam Neighbour")
    world.camera(offset(30), owner=neighbour, label="Three")
    before = len(events(world.db, "canvass.report"))
    assert fetch(client, world.investigator, fmt="pdf").status_code == 200
    report = events(world.db, "canvass.report")[before:]
    assert len(report) == 1
    event = report[0]
    assert (event.case_number, event.reason, event.actor_id, event.agency_id, event.actor_role) == (
        CASE, REASON, world.investigator.account.id, world.west.id, "investigator")
    detail = json.loads(event.detail or "{}")
    assert (detail["cameras"], detail["format"]) == (3, "pdf")

    views = [e for e in events(world.db, "contact.view") if e.id > event.id]
    assert sorted(str(e.subject_owner_id) for e in views) == sorted([str(world.owner.owner_id),
                                                                      str(neighbour.owner_id)])
    assert all(e.case_number == CASE and e.reason == REASON for e in views)
    feed = client.get("/v1/owners/me/access", headers=neighbour.headers)
    assert feed.status_code == 200, feed.text
    newest = feed.json()[0]
    assert (newest["action"], newest["case_number"]) == ("contact.view", CASE)
    verify = client.get("/v1/audit/verify", headers=b.make_staff(world.db, world.registry, world.west,
                                                                  Role.AUDITOR).headers)
    assert verify.json()["ok"] is True


def test_pdf_lists_cameras_with_unicode(client: TestClient, world: World) -> None:
    world.camera(offset(10), label="Porch", address="742 W Montrose St")
    world.camera(offset(20), label="Café Ωμέγα Київ", address="Straße 5")
    response = fetch(client, world.investigator, fmt="pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith('attachment; filename="canvass-C-2026_0815-')
    assert response.headers["content-disposition"].endswith('.pdf"')
    pages, text = pdf_text(response.content)
    assert pages == 1
    assert CASE in text and REASON in text
    assert str(world.investigator.account.id) in text
    assert "Porch" in text and "Café Ωμέγα Київ" in text and "Straße 5" in text and "Pat Example" in text
    assert text.index("Porch") < text.index("Café Ωμέγα Київ")
    assert f"for the investigation of case {CASE} only" in text


def test_pdf_paginates_many_cameras(client: TestClient, world: World) -> None:
    site = b.make_site(world.db, world.registry, world.owner, lon=LON, lat=LAT, address="1 Long Row")
    for i in range(45):
        point = offset(2 + i * 3)
        b.make_camera(world.db, world.registry, world.owner, site, lon=point[0], lat=point[1], label=f"Cam-{i:02d}")
    response = fetch(client, world.investigator, fmt="pdf")
    assert response.status_code == 200, response.text
    pages, text = pdf_text(response.content)
    assert pages >= 2
    assert f"Page {pages}/{pages}" in text
    assert all(f"Cam-{i:02d}" in text for i in range(45))
    assert text.index("Cam-00") < text.index("Cam-44")


def test_too_many_cameras_asks_for_a_smaller_radius(client: TestClient, world: World,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3):
        world.camera(offset(10 + 20 * i), label=f"C{i}")
    monkeypatch.setattr(service, "MAX_ROWS", 2)
    before = len(events(world.db, "canvass.report"))
    response = fetch(client, world.investigator)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "radius_m"
    assert len(events(world.db, "canvass.report")) == before
    assert labels(table(client, world.investigator, radius_m=20)) == ["C0"]


def audit_count(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.mark.parametrize("field", ["case_number", "reason", "lon", "lat", "at"])
def test_missing_parameters_are_refused(client: TestClient, world: World, field: str) -> None:
    query = params()
    del query[field]
    before = audit_count(world.db)
    response = client.get("/v1/canvass.csv", headers=world.investigator.headers, params=query)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert audit_count(world.db) == before


@pytest.mark.parametrize(("field", "value"), [
    ("case_number", "x"), ("case_number", "../../etc/passwd"), ("case_number", "C 1; DROP"), ("case_number", "A" * 65),
    ("reason", "why"), ("reason", "r" * 201), ("reason", "nul \x00 byte"),
    ("lon", 181), ("lon", "east"), ("lat", -90.5), ("radius_m", 0), ("radius_m", -5), ("radius_m", 5001),
    ("radius_m", "nan"), ("at", "2026-01-01T10:00:00"), ("at", "yesterday"), ("at", "future"), ("extra", "1"),
])
def test_invalid_parameters_are_refused(client: TestClient, world: World, field: str, value: Any) -> None:
    if value == "future":
        value = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    before = audit_count(world.db)
    response = fetch(client, world.investigator, fmt="pdf", **{field: value})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert response.json()["error"]["code"] == "invalid_input"
    assert audit_count(world.db) == before


def test_small_clock_skew_is_tolerated(client: TestClient, world: World) -> None:
    world.camera(offset(10), label="Porch", retention_days=0)
    rows = table(client, world.investigator, at=(datetime.now(UTC) + timedelta(minutes=2)).isoformat())
    assert [(r[LABEL], r[RETAINED]) for r in rows] == [("Porch", "yes")]


def scoped_token(world: World, scopes: str) -> dict[str, str]:
    """An integrator client of the west agency whose token carries these scopes."""
    account = b.make_staff(world.db, world.registry, world.west, Role.INTEGRATOR).account
    claims = {"sub": str(account.id), "role": "integrator", "agency": str(world.west.id), "owner": None,
              "scope": scopes}
    token = world.registry.kit.issuer.issue(claims, auth_time=int(time.time()), session_max_s=3600).access_token
    return {"Authorization": f"Bearer {token}"}


def headers_for(world: World, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role == "owner":
        return world.owner.headers
    if role.startswith("integrator"):
        return scoped_token(world, role.partition(":")[2].replace("+", " "))
    return b.make_staff(world.db, world.registry, world.west, Role(role)).headers


@pytest.mark.parametrize("fmt", ["csv", "pdf"])
@pytest.mark.parametrize(("role", "status"), [
    ("investigator", 200), ("supervisor", 200), ("integrator:canvass:read", 403),
    ("integrator:cameras:search+registry:sync", 403), ("integrator:", 403), ("owner", 403), ("dispatcher", 403),
    ("advocate", 403), ("auditor", 403), ("anonymous", 401),
])
def test_permission_matrix(client: TestClient, world: World, role: str, status: int, fmt: str) -> None:
    world.camera(offset(10), label="Porch")
    headers = headers_for(world, role)
    before = audit_count(world.db)
    response = fetch(client, headers, fmt=fmt)
    assert response.status_code == status, response.text
    if status == 200:
        assert audit_count(world.db) == before + 2  # the report and the one owner's contact view
        assert "Porch" in (pdf_text(response.content)[1] if fmt == "pdf" else response.content.decode())
        return
    assert response.json()["error"]["code"] in {"forbidden", "missing_token"}
    assert audit_count(world.db) == before
    assert fetch(client, headers, fmt=fmt, case_number=None).status_code == status  # refused before validation


def test_missing_case_number_is_422_for_an_allowed_role(client: TestClient, world: World) -> None:
    supervisor = b.make_staff(world.db, world.registry, world.west, Role.SUPERVISOR)
    response = fetch(client, supervisor, case_number=None)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "case_number"

# The routes this module's permission matrix covers (test_permissions.test_matrix_covers_every_route counts them).
MATRIX_ROUTES = frozenset({("GET", "/v1/canvass.csv"), ("GET", "/v1/canvass.pdf")})
