"""Contact data at rest, audited contact views, the owner's access feed, and deleting everything on request."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.accounts.models import Account, LoginAttempt
from services.registry.app import create_app
from services.registry.audit.models import AuditEvent
from services.registry.deps import Registry
from services.registry.owners.models import Camera, Owner, Site
from tests import builders as b
from tests.support.pgcluster import PgCluster, pg_bindir

NAME, EMAIL, PHONE = "Zebulon Quartermaine", "zebulon.quartermaine@example.org", "+1 352 555 0142"
ADDRESS = "1234 Xylophone Crescent, Clermont, FL"
SECRETS = (NAME, EMAIL, PHONE, ADDRESS, "Xylophone", "Quartermaine", "555 0142")
CASE, REASON = "LPD-2026-0042", "hit and run on the corner"


@dataclass
class Fresh:
    """A migrated registry on its own database, served without a rolled-back session: everything commits."""

    registry: Registry
    client: TestClient

    def session(self) -> Session:
        return self.registry.sessions()


@pytest.fixture
def fresh(make_registry: Callable[[str], Registry]) -> Iterator[Callable[[str], Fresh]]:
    def make(backend: str) -> Fresh:
        registry = make_registry(backend)
        return Fresh(registry, TestClient(create_app(registry=registry)))

    yield make


def pg_dump(cluster: PgCluster, registry: Registry) -> str:
    """The whole database as the real `pg_dump` writes it (what a stolen backup would hold)."""
    name = registry.engine.url.database
    assert name
    out = subprocess.run([str(pg_bindir() / "pg_dump"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U",
                          "postgres", "-d", name], check=True, capture_output=True, text=True, timeout=120)
    assert "COPY public.owner" in out.stdout
    return out.stdout


def sqlite_bytes(registry: Registry) -> bytes:
    path = Path(str(registry.engine.url.database))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_up(client: TestClient, *, email: str = EMAIL, name: str = NAME, phone: str = PHONE,
            into: dict[str, str] | None = None) -> dict[str, str]:
    """Register and sign in; the auth header (and, into `into`, the raw tokens)."""
    r = client.post("/v1/owners/signup", json={"email": email, "password": b.PASSWORD, "name": name, "phone": phone})
    assert r.status_code == 201, r.text
    login = client.post("/v1/auth/login", json={"username": email, "password": b.PASSWORD})
    assert login.status_code == 200, login.text
    if into is not None:
        into.update(login.json())
    return bearer(login.json()["access_token"])


def add_site(client: TestClient, headers: dict[str, str], *, address: str = ADDRESS, lat: float = 28.5567,
             owner_id: str | None = None) -> str:
    body: dict[str, Any] = {"kind": "residential", "address": address, "location": {"lon": -81.7745, "lat": lat}}
    if owner_id:
        body["owner_id"] = owner_id
    r = client.post("/v1/sites", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def add_camera(client: TestClient, headers: dict[str, str], site_id: str, *, core: bool = False,
               label: str = "Porch") -> str:
    r = client.post(f"/v1/sites/{site_id}/cameras", headers=headers, json={
        "label": label, "bearing_deg": 90, "fov_deg": 90, "range_m": 30, "retention_days": 14, "core_enabled": core})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def latest(client: TestClient, supervisor: b.Person) -> tuple[int, int]:
    r = client.get("/v1/stats/program", headers=supervisor.headers)
    assert r.status_code == 200, r.text
    last = r.json()["months"][-1]
    return last["registered"], last["core_integrated"]


def blobs_of(session: Session, owner_id: uuid.UUID) -> list[bytes]:
    owner = session.get(Owner, owner_id)
    assert owner is not None
    found = [owner.name_enc, owner.email_enc, owner.phone_enc]
    found += list(session.scalars(select(Site.address_enc).where(Site.owner_id == owner_id)))
    return [bytes(x) for x in found if x]


def test_contact_data_encrypted_at_rest_postgis(fresh: Callable[[str], Fresh], pg_cluster: PgCluster) -> None:
    f = fresh("postgis")
    with f.session() as session:
        b.make_agency(session)
    headers = sign_up(f.client)
    add_camera(f.client, headers, add_site(f.client, headers), label="Vermilion porch cam")
    me = f.client.get("/v1/owners/me", headers=headers).json()
    assert (me["name"], me["email"], me["phone"]) == (NAME, EMAIL, PHONE)
    assert f.client.get("/v1/sites", headers=headers).json()[0]["address"] == ADDRESS
    dump = pg_dump(pg_cluster, f.registry)
    for secret in SECRETS:
        assert secret.lower() not in dump.lower(), secret
    assert "Vermilion porch cam" in dump  # the dump does hold the data: a plain column shows up
    with f.session() as session:
        blobs = blobs_of(session, uuid.UUID(me["id"]))
    assert len(blobs) == 4
    assert all(f"\\x{blob.hex()}" in dump for blob in blobs)  # ... and the ciphertext is what it holds


def test_contact_data_encrypted_at_rest_spatialite(fresh: Callable[[str], Fresh]) -> None:
    f = fresh("spatialite")
    with f.session() as session:
        b.make_agency(session)
    headers = sign_up(f.client)
    add_camera(f.client, headers, add_site(f.client, headers), label="Vermilion porch cam")
    me = f.client.get("/v1/owners/me", headers=headers).json()
    assert (me["name"], me["email"], me["phone"]) == (NAME, EMAIL, PHONE)
    raw = sqlite_bytes(f.registry)
    for secret in SECRETS:
        assert secret.lower().encode() not in raw.lower(), secret
    assert b"Vermilion porch cam" in raw
    with f.session() as session:
        assert all(blob in raw for blob in blobs_of(session, uuid.UUID(me["id"])))


@pytest.mark.spatialite
def test_contact_view_needs_case_and_reason_and_is_audited(client: TestClient, db: Session,
                                                           registry: Registry) -> None:
    agency = b.make_agency(db)
    investigator = b.make_staff(db, registry, agency, Role.INVESTIGATOR)
    dispatcher = b.make_staff(db, registry, agency, Role.DISPATCHER)
    owner = b.make_owner(db, registry, name=NAME, email=EMAIL, phone=PHONE)
    other = b.make_owner(db, registry)
    camera = b.make_camera(db, registry, owner, b.make_site(db, registry, owner, address=ADDRESS))
    url = f"/v1/cameras/{camera.id}/contact"
    for body in ({}, {"reason": REASON}, {"case_number": CASE}, {"case_number": CASE, "reason": "x"},
                 {"case_number": "", "reason": REASON}):
        r = client.post(url, headers=investigator.headers, json=body)
        assert r.status_code == 422, (body, r.text)
        assert NAME not in r.text
    assert client.post(url, headers=dispatcher.headers, json={"case_number": CASE, "reason": REASON}
                       ).status_code == 403
    assert client.post(url, json={"case_number": CASE, "reason": REASON}).status_code == 401
    views = select(AuditEvent).where(AuditEvent.action == "contact.view", AuditEvent.subject_owner_id == owner.owner_id)
    assert db.scalars(views).all() == []  # refusals show nothing and record no view

    r = client.post(url, headers=investigator.headers, json={"case_number": CASE, "reason": REASON})
    assert r.status_code == 200, r.text
    assert (r.json()["owner_name"], r.json()["phone"], r.json()["email"], r.json()["address"]) == (
        NAME, PHONE, EMAIL, ADDRESS)
    [event] = db.scalars(views).all()
    assert (event.case_number, event.reason, event.actor_id, event.agency_id, event.object_id) == (
        CASE, REASON, investigator.account.id, agency.id, str(camera.id))
    assert event.actor_role == "investigator"

    feed = client.get("/v1/owners/me/access", headers=owner.headers)
    assert feed.status_code == 200, feed.text
    [entry] = [e for e in feed.json() if e["action"] == "contact.view"]
    assert (entry["agency_name"], entry["case_number"], entry["object_id"]) == (agency.name, CASE, str(camera.id))
    assert "account" not in str(entry) and str(investigator.account.id) not in feed.text
    assert [e for e in client.get("/v1/owners/me/access", headers=other.headers).json()
            if e["action"] == "contact.view"] == []
    assert client.get("/v1/owners/me/access", headers=investigator.headers).status_code == 403


def count(session: Session, model: Any, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_owner_deletes_everything(fresh: Callable[[str], Fresh], pg_cluster: PgCluster) -> None:
    f = fresh("postgis")
    with f.session() as session:
        agency = b.make_agency(session)
        investigator = b.make_staff(session, f.registry, agency, Role.INVESTIGATOR)
        supervisor = b.make_staff(session, f.registry, agency, Role.SUPERVISOR)
        auditor = b.make_staff(session, f.registry, agency, Role.AUDITOR)
        neighbour = b.make_owner(session, f.registry, name="Nell Neighbour")
        b.make_camera(session, f.registry, neighbour, b.make_site(session, f.registry, neighbour))
    assert f.client.post("/v1/auth/login", json={"username": EMAIL, "password": "wrong password!"}
                         ).status_code == 401
    tokens: dict[str, str] = {}
    headers = sign_up(f.client, into=tokens)
    first = add_site(f.client, headers)
    second = add_site(f.client, headers, address="77 Quartermaine Lane, Clermont, FL", lat=28.5570)
    cameras = [add_camera(f.client, headers, first, core=True), add_camera(f.client, headers, first),
               add_camera(f.client, headers, second)]
    viewed = f.client.post(f"/v1/cameras/{cameras[0]}/contact", headers=investigator.headers,
                           json={"case_number": CASE, "reason": REASON})
    assert viewed.status_code == 200, viewed.text
    owner_id = uuid.UUID(f.client.get("/v1/owners/me", headers=headers).json()["id"])
    assert latest(f.client, supervisor) == (4, 1)
    with f.session() as session:
        blobs = blobs_of(session, owner_id)
        account = session.scalar(select(Account).join(Owner, Owner.account_id == Account.id)
                                 .where(Owner.id == owner_id))
        assert account is not None
        assert count(session, LoginAttempt, LoginAttempt.login_digest == account.login_digest) == 2
    before = pg_dump(pg_cluster, f.registry)
    assert all(f"\\x{blob.hex()}" in before for blob in blobs) and account.login_digest in before

    assert f.client.delete("/v1/owners/me", headers=headers).status_code == 204

    with f.session() as session:
        assert session.get(Owner, owner_id) is None
        assert session.get(Account, account.id) is None
        assert count(session, Site, Site.owner_id == owner_id) == 0
        assert count(session, Camera, Camera.owner_id == owner_id) == 0
        assert count(session, Camera, Camera.id.in_([uuid.UUID(c) for c in cameras])) == 0
        assert count(session, LoginAttempt, LoginAttempt.login_digest == account.login_digest) == 0
        assert count(session, Owner) == 1 and count(session, Camera) == 1  # the neighbour is untouched
        remaining = session.scalars(select(AuditEvent).where(AuditEvent.subject_owner_id == owner_id)).all()
    assert {e.action for e in remaining} == {"contact.view", "owner.deleted"}
    for event in remaining:
        text = " ".join(str(getattr(event, c.key)) for c in AuditEvent.__table__.columns).lower()
        assert not [s for s in SECRETS if s.lower() in text], text
    after = pg_dump(pg_cluster, f.registry)
    for secret in SECRETS:
        assert secret.lower() not in after.lower(), secret
    assert not [blob for blob in blobs if blob.hex() in after]
    assert account.login_digest not in after
    assert "Nell" not in after  # still encrypted, the neighbour too

    verify = f.client.get("/v1/audit/verify", headers=auditor.headers)
    assert verify.status_code == 200 and verify.json()["ok"] is True, verify.text
    assert f.client.get("/v1/owners/me", headers=headers).status_code in (401, 404)
    assert f.client.get("/v1/owners/me/access", headers=headers).status_code in (401, 404)
    assert f.client.post("/v1/auth/login", json={"username": EMAIL, "password": b.PASSWORD}).status_code == 401
    assert f.client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    assert f.client.get("/v1/sites", headers=headers).status_code in (401, 404)
    assert latest(f.client, supervisor) == (1, 0)
    [report] = [a for a in f.client.get("/v1/transparency").json()["agencies"] if a["agency"] == agency.slug]
    assert (report["cameras_registered"], report["cameras_core_integrated"]) == (1, 0)
    sign_up(f.client)  # the email is free again: nothing of the old account blocks it


def test_advocate_deletes_owner_they_registered(fresh: Callable[[str], Fresh], pg_cluster: PgCluster) -> None:
    f = fresh("postgis")
    with f.session() as session:
        agency = b.make_agency(session)
        advocate = b.make_staff(session, f.registry, agency, Role.ADVOCATE)
        other = b.make_staff(session, f.registry, b.make_agency(session, bounds=b.EAST), Role.ADVOCATE)
        supervisor = b.make_staff(session, f.registry, agency, Role.SUPERVISOR)
    r = f.client.post("/v1/owners", headers=advocate.headers, json={"name": NAME, "email": EMAIL, "phone": PHONE})
    assert r.status_code == 201, r.text
    owner_id = r.json()["id"]
    site = add_site(f.client, advocate.headers, owner_id=owner_id)
    camera = add_camera(f.client, advocate.headers, site, core=True)
    assert latest(f.client, supervisor) == (1, 1)
    with f.session() as session:
        blobs = blobs_of(session, uuid.UUID(owner_id))
    assert f.client.delete(f"/v1/owners/{owner_id}", headers=other.headers).status_code == 404
    assert f.client.delete(f"/v1/owners/{owner_id}", headers=advocate.headers).status_code == 204
    assert f.client.get(f"/v1/owners/{owner_id}", headers=advocate.headers).status_code == 404
    assert f.client.get(f"/v1/cameras/{camera}", headers=advocate.headers).status_code == 404
    with f.session() as session:
        assert count(session, Owner) == count(session, Site) == count(session, Camera) == 0
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.subject_owner_id == uuid.UUID(owner_id))
                                  .order_by(AuditEvent.id)).all()
    assert actions == ["owner.created", "owner.deleted"]
    dump = pg_dump(pg_cluster, f.registry)
    assert not [s for s in SECRETS if s.lower() in dump.lower()]
    assert not [blob for blob in blobs if blob.hex() in dump]
    assert latest(f.client, supervisor) == (0, 0)
