"""Advocates import paper brochure forms from CSV: every line or none, with a report naming line and column."""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.agencies.models import Agency
from services.registry.app import create_app
from services.registry.audit.models import AuditEvent
from services.registry.deps import Registry, get_session
from services.registry.owners.imports import COLUMNS
from services.registry.owners.models import Camera, Owner, Site
from tests import builders as b

pytestmark = pytest.mark.spatialite

URL = "/v1/imports/cameras"


def row(**over: Any) -> dict[str, Any]:
    """One good brochure line inside builders.WEST."""
    base = {"owner_name": "Ada Brochure", "owner_email": "ada@example.org", "owner_phone": "352-555-0101",
            "address": "12 Lake Ave, Clermont, FL", "site_kind": "residential", "lon": "-81.7745",
            "lat": "28.5567", "camera_label": "Porch", "bearing_deg": "180", "fov_deg": "90", "range_m": "30",
            "retention_days": "14", "indoor": "", "sharing_mode": "on_request", "core_enabled": ""}
    return {**base, **over}


def to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...] | list[str] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def upload(client: TestClient, who: b.Person, data: bytes, *, dry_run: bool | None = None) -> Any:
    params = {"dry_run": str(dry_run).lower()} if dry_run is not None else {}
    return client.post(URL, headers=who.headers, params=params, files={"file": ("forms.csv", data, "text/csv")})


def counts(db: Session, agency: Agency) -> tuple[int, int, int]:
    owners = db.scalar(select(func.count()).select_from(Owner).where(Owner.agency_id == agency.id))
    sites = db.scalar(select(func.count()).select_from(Site).where(Site.agency_id == agency.id))
    cameras = db.scalar(select(func.count()).select_from(Camera).where(Camera.agency_id == agency.id))
    return int(owners or 0), int(sites or 0), int(cameras or 0)


@pytest.fixture
def west(db: Session) -> Agency:
    agency = b.make_agency(db, bounds=b.WEST)
    b.make_agency(db, bounds=b.EAST)
    return agency


@pytest.fixture
def advocate(db: Session, registry: Registry, west: Agency) -> b.Person:
    return b.make_staff(db, registry, west, Role.ADVOCATE)


GOOD = [
    row(),
    row(camera_label="Driveway", bearing_deg="90", sharing_mode="live_on_alert", core_enabled="true"),
    row(owner_name="Bo Paper", owner_email="", owner_phone="", address="3 Oak St", site_kind="commercial",
        lon="-81.7800", lat="28.5600", camera_label="Till", indoor="yes", retention_days="0"),
]


def test_good_file_imports_owners_sites_and_cameras(client: TestClient, db: Session, registry: Registry,
                                                    west: Agency, advocate: b.Person) -> None:
    response = upload(client, advocate, to_csv(GOOD))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rejected"] == []
    assert (report["rows"], report["imported"], report["dry_run"]) == (3, True, False)
    assert (report["owners_created"], report["sites_created"], report["cameras_created"]) == (2, 2, 3)
    assert counts(db, west) == (2, 2, 3)

    cipher = registry.kit.cipher
    owners = {cipher.decrypt(o.name_enc): o for o in db.scalars(select(Owner).where(Owner.agency_id == west.id))}
    assert set(owners) == {"Ada Brochure", "Bo Paper"}
    assert cipher.decrypt(owners["Ada Brochure"].email_enc) == "ada@example.org"
    assert owners["Bo Paper"].email_enc is None or cipher.decrypt(owners["Bo Paper"].email_enc) is None
    assert all(o.account_id is None for o in owners.values())

    [ada_site] = db.scalars(select(Site).where(Site.owner_id == owners["Ada Brochure"].id)).all()
    assert cipher.decrypt(ada_site.address_enc) == "12 Lake Ave, Clermont, FL"
    cams = {c.label: c for c in db.scalars(select(Camera).where(Camera.agency_id == west.id))}
    assert cams["Porch"].site_id == cams["Driveway"].site_id == ada_site.id  # same owner + address: one site
    assert cams["Driveway"].sharing_mode == "live_on_alert" and cams["Driveway"].core_enabled is True
    assert cams["Porch"].sharing_mode == "on_request" and cams["Porch"].core_enabled is False
    assert cams["Till"].indoor is True and cams["Till"].retention_days == 0
    assert cams["Till"].site_id != ada_site.id

    audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "camera.imported")).all()
    assert [a.actor_id for a in audit] == [advocate.account.id]


def test_same_owner_at_two_addresses_is_one_owner(client: TestClient, db: Session, west: Agency,
                                                  advocate: b.Person) -> None:
    data = to_csv([row(), row(address="99 Second Home Rd", lon="-81.7790", camera_label="Dock")])
    report = upload(client, advocate, data).json()
    assert report["imported"] is True
    assert (report["owners_created"], report["sites_created"], report["cameras_created"]) == (1, 2, 2)
    assert counts(db, west) == (1, 2, 2)


def test_imported_cameras_are_searchable(client: TestClient, db: Session, registry: Registry, west: Agency,
                                         advocate: b.Person) -> None:
    assert upload(client, advocate, to_csv(GOOD)).json()["imported"] is True
    investigator = b.make_staff(db, registry, west, Role.INVESTIGATOR)
    found = client.get("/v1/search/cameras", headers=investigator.headers,
                       params={"lon": -81.7745, "lat": 28.5567, "radius_m": 100, "case_number": "C-77"})
    assert sorted(h["label"] for h in found.json()["items"]) == ["Driveway", "Porch"]


@pytest.mark.parametrize(("bad", "field"), [
    (row(sharing_mode="broadcast"), "sharing_mode"),
    (row(lat="91.5"), "lat"),
    (row(lon="-200"), "lon"),
    (row(lat="north"), "lat"),
    (row(camera_label=""), "camera_label"),
    (row(retention_days=""), "retention_days"),
    (row(owner_name="  "), "owner_name"),
    (row(site_kind="castle"), "site_kind"),
    (row(fov_deg="0"), "fov_deg"),
    (row(bearing_deg="360"), "bearing_deg"),
    (row(owner_email="not-an-email"), "owner_email"),
    (row(indoor="maybe"), "indoor"),
    (row(lon="-81.7200"), "lon"),   # inside the neighbouring (east) agency's jurisdiction
    (row(lon="-80.0", lat="27.0"), "lon"),   # inside no agency at all
])
def test_one_bad_row_imports_nothing(client: TestClient, db: Session, west: Agency, advocate: b.Person,
                                     bad: dict[str, Any], field: str) -> None:
    data = to_csv([GOOD[0], GOOD[2], bad, GOOD[1]])
    response = upload(client, advocate, data)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["imported"] is False and report["rows"] == 4
    assert report["cameras_created"] == 0
    assert len(report["rejected"]) == 1
    [rejection] = report["rejected"]
    assert rejection["line"] == 4  # header is line 1
    assert rejection["field"] == field
    assert rejection["message"]
    assert counts(db, west) == (0, 0, 0)


def test_extra_cells_are_rejected_with_their_line(client: TestClient, db: Session, west: Agency,
                                                  advocate: b.Person) -> None:
    data = to_csv(GOOD[:2]) + b",".join(str(v).encode() for v in row().values()) + b",surplus\n"
    report = upload(client, advocate, data).json()
    assert report["imported"] is False
    assert [r["line"] for r in report["rejected"]] == [4]
    assert "cells" in report["rejected"][0]["message"]
    assert counts(db, west) == (0, 0, 0)


def test_report_lists_every_rejected_line(client: TestClient, db: Session, west: Agency,
                                          advocate: b.Person) -> None:
    data = to_csv([row(lat="95"), GOOD[0], row(sharing_mode="nope"), row(camera_label="")])
    report = upload(client, advocate, data).json()
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [(2, "lat"), (4, "sharing_mode"),
                                                                      (5, "camera_label")]
    assert report["imported"] is False
    assert counts(db, west) == (0, 0, 0)


def test_dry_run_writes_nothing(client: TestClient, db: Session, west: Agency, advocate: b.Person) -> None:
    audited = db.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "camera.imported"))
    response = upload(client, advocate, to_csv(GOOD), dry_run=True)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["dry_run"], report["imported"], report["rows"], report["rejected"]) == (True, False, 3, [])
    # the report says what the import would do
    assert (report["owners_created"], report["sites_created"], report["cameras_created"]) == (2, 2, 3)
    assert counts(db, west) == (0, 0, 0)
    assert db.scalar(select(func.count()).select_from(AuditEvent)
                     .where(AuditEvent.action == "camera.imported")) == audited
    bad = upload(client, advocate, to_csv([*GOOD, row(lat="99")]), dry_run=True).json()
    assert [r["line"] for r in bad["rejected"]] == [5]
    assert counts(db, west) == (0, 0, 0)


def test_header_only_file_imports_nothing(client: TestClient, db: Session, west: Agency, advocate: b.Person) -> None:
    report = upload(client, advocate, to_csv([])).json()
    assert (report["rows"], report["imported"], report["rejected"]) == (0, False, [])
    assert counts(db, west) == (0, 0, 0)


def test_byte_order_mark_and_optional_columns_may_be_left_out(client: TestClient, db: Session, west: Agency,
                                                             advocate: b.Person) -> None:
    required = [c for c in COLUMNS if c not in ("owner_email", "owner_phone", "indoor", "sharing_mode",
                                                "core_enabled")]
    line = {k: v for k, v in row().items() if k in required}
    report = upload(client, advocate, b"\xef\xbb\xbf" + to_csv([line], required)).json()
    assert report["imported"] is True, report
    assert counts(db, west) == (1, 1, 1)


def file_error(response: Any) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "file"
    return str(error["message"])


def test_file_level_problems_name_the_file(client: TestClient, db: Session, west: Agency,
                                           advocate: b.Person) -> None:
    latin1 = to_csv([row(owner_name="José")]).decode().encode("latin-1")
    assert "UTF-8" in file_error(upload(client, advocate, latin1))
    no_lat = [c for c in COLUMNS if c != "lat"]
    assert "lat" in file_error(upload(client, advocate, to_csv([{k: v for k, v in row().items() if k != "lat"}],
                                                               no_lat)))
    extra = [*COLUMNS, "favourite_colour"]
    assert "favourite_colour" in file_error(upload(client, advocate, to_csv([{**row(), "favourite_colour": "red"}],
                                                                            extra)))
    assert file_error(upload(client, advocate, b""))
    huge = to_csv(GOOD) + b"#" * (2 * 1024 * 1024)
    assert "larger" in file_error(upload(client, advocate, huge))
    nul = to_csv(GOOD) + b"a,\x00b\n"
    response = upload(client, advocate, nul)
    assert response.status_code == 200, response.text
    assert response.json()["imported"] is False and [r["line"] for r in response.json()["rejected"]] == [5]
    missing = client.post(URL, headers=advocate.headers, data={"other": "x"})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "file"
    assert counts(db, west) == (0, 0, 0)


@pytest.fixture
def small_client(registry: Registry, db: Session) -> Iterator[TestClient]:
    """The API with tiny import limits."""
    settings = registry.settings.model_copy(update={
        "imports": registry.settings.imports.model_copy(update={"max_rows": 2, "max_bytes": 2000})})
    app = create_app(registry=dataclasses.replace(registry, settings=settings))
    app.dependency_overrides[get_session] = lambda: db
    yield TestClient(app)


def test_row_and_byte_limits(small_client: TestClient, db: Session, west: Agency, advocate: b.Person) -> None:
    assert "rows" in file_error(upload(small_client, advocate, to_csv(GOOD)))
    ok = upload(small_client, advocate, to_csv(GOOD[:2]))
    assert ok.status_code == 200 and ok.json()["imported"] is True
    padded = to_csv([row(address="x" * 290)] * 2) + b"\n" * 1500
    assert "larger" in file_error(upload(small_client, advocate, padded))


def test_only_advocates_and_supervisors_import(client: TestClient, db: Session, registry: Registry, west: Agency,
                                               advocate: b.Person) -> None:
    investigator = b.make_staff(db, registry, west, Role.INVESTIGATOR)
    owner = b.make_owner(db, registry)
    assert upload(client, investigator, to_csv(GOOD)).status_code == 403
    assert upload(client, owner, to_csv(GOOD)).status_code == 403
    assert client.post(URL, files={"file": ("f.csv", to_csv(GOOD), "text/csv")}).status_code == 401
    assert counts(db, west) == (0, 0, 0)
    supervisor = b.make_staff(db, registry, west, Role.SUPERVISOR)
    assert upload(client, supervisor, to_csv(GOOD)).json()["imported"] is True
    assert uuid.UUID(str(db.scalar(select(Owner.agency_id).where(Owner.agency_id == west.id).limit(1)))) == west.id
