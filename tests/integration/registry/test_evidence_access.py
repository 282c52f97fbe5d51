"""Who may list, link, download and export evidence: the requesting agency's investigators and supervisors;
another agency only through an unrevoked share; the owner only their own uploads; nobody else. Signed links
expire, cannot be forged, and are checked again when used."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.accounts.models import Account
from services.registry.audit.models import AuditEvent
from services.registry.database import utcnow
from services.registry.deps import Registry
from services.registry.evidence import api as evidence_api
from services.registry.evidence import links
from services.registry.evidence.models import EvidenceFile
from services.registry.evidence.storage import LocalStorage
from services.registry.requests.models import RequestShare
from tests import builders as b
from tests.integration.registry.test_evidence_support import (
    World,
    make_world,
    media,
    storage,
    stored_files,
    upload,
)

pytestmark = pytest.mark.spatialite
__all__ = ["media", "storage"]  # fixtures used by name below


def stored(client: TestClient, db: Session, registry: Registry, data: bytes) -> tuple[World, EvidenceFile]:
    world = make_world(db, registry)
    done = upload(client, world.owner, world.request.id, data)
    row = db.get(EvidenceFile, uuid.UUID(done["upload_id"]))
    assert row is not None
    return world, row


def attempt(client: TestClient, person: b.Person | None, world: World, row: EvidenceFile) -> dict[str, int]:
    """Status of each evidence operation for this caller (download through a link they were issued, if any)."""
    headers = person.headers if person else {}
    listed = client.get(f"/v1/requests/{world.request.id}/evidence", headers=headers)
    one = client.get(f"/v1/evidence/{row.id}", headers=headers)
    link = client.post(f"/v1/evidence/{row.id}/link", headers=headers)
    export = client.post(f"/v1/cases/{world.request.case_number}/export", headers=headers)
    download = client.get(link.json()["url"]).status_code if link.status_code == 200 else None
    if listed.status_code == 200:
        assert [f["id"] for f in listed.json()] == [str(row.id)]
    return {"list": listed.status_code, "get": one.status_code, "link": link.status_code,
            "download": download or 0, "export": export.status_code}


ALLOWED = {"list": 200, "get": 200, "link": 200, "download": 200, "export": 200}
HIDDEN = {"list": 404, "get": 404, "link": 404, "download": 0, "export": 404}
WRONG_ROLE = {"list": 403, "get": 403, "link": 403, "download": 0, "export": 403}


@pytest.mark.parametrize(("who", "expected"), [
    ("investigator", ALLOWED), ("supervisor", ALLOWED),
    ("dispatcher", WRONG_ROLE), ("advocate", WRONG_ROLE), ("auditor", WRONG_ROLE),
    ("owner", WRONG_ROLE), ("other owner", WRONG_ROLE),
    ("other agency investigator", HIDDEN), ("other agency supervisor", HIDDEN),
    ("anonymous", {"list": 401, "get": 401, "link": 401, "download": 0, "export": 401}),
])
def test_evidence_permission_matrix(who: str, expected: dict[str, int], client: TestClient, db: Session,
                                    registry: Registry, storage: LocalStorage, media: dict[str, bytes]) -> None:
    world, row = stored(client, db, registry, media["mp4"])
    other = b.make_agency(db, bounds=b.EAST)
    people: dict[str, Any] = {
        "investigator": world.investigator, "supervisor": world.supervisor, "owner": world.owner,
        "other owner": b.make_owner(db, registry), "anonymous": None,
        "other agency investigator": world.staff(Role.INVESTIGATOR, other),
        "other agency supervisor": world.staff(Role.SUPERVISOR, other)}
    for role in ("dispatcher", "advocate", "auditor"):
        people[role] = world.staff(Role(role))
    assert attempt(client, people[who], world, row) == expected


def test_another_agency_sees_evidence_only_while_shared(client: TestClient, db: Session, registry: Registry,
                                                        storage: LocalStorage, media: dict[str, bytes]) -> None:
    world, row = stored(client, db, registry, media["mp4"])
    other = b.make_agency(db, bounds=b.EAST)
    guest = world.staff(Role.INVESTIGATOR, other)
    assert attempt(client, guest, world, row) == HIDDEN

    share = RequestShare(request_id=world.request.id, agency_id=other.id, shared_by=world.supervisor.account.id,
                         reason="joint investigation")
    db.add(share)
    db.commit()
    assert attempt(client, guest, world, row) == ALLOWED
    link = client.post(f"/v1/evidence/{row.id}/link", headers=guest.headers).json()["url"]

    share.revoked_at = utcnow()
    db.commit()
    assert attempt(client, guest, world, row) == HIDDEN
    # A link issued while the share stood is dead once it is revoked: checked again when used.
    late = client.get(link)
    assert late.status_code == 404 and late.json()["error"]["code"] == "evidence_not_found"
    # The guest agency's downloads were filed under the agency whose evidence it is, naming who downloaded.
    events = db.scalars(select(AuditEvent).where(AuditEvent.object_id == str(row.id),
                                                 AuditEvent.action == "evidence.downloaded")).all()
    assert {e.actor_id for e in events} == {guest.account.id}
    assert {e.agency_id for e in events} == {world.agency.id}


def test_owner_lists_only_their_own_uploads(client: TestClient, db: Session, registry: Registry,
                                            storage: LocalStorage, media: dict[str, bytes]) -> None:
    world, row = stored(client, db, registry, media["mp4"])
    mine = client.get(f"/v1/my/requests/{world.request.id}/evidence", headers=world.owner.headers)
    assert mine.status_code == 200 and [(f["id"], f["state"]) for f in mine.json()] == [(str(row.id), "stored")]
    stranger = b.make_owner(db, registry)
    assert client.get(f"/v1/my/requests/{world.request.id}/evidence", headers=stranger.headers).status_code == 404
    assert client.get(f"/v1/my/uploads/{row.id}", headers=stranger.headers).status_code == 404
    for role in (Role.INVESTIGATOR, Role.DISPATCHER):
        staff = world.investigator if role is Role.INVESTIGATOR else world.staff(role)
        assert client.get(f"/v1/my/requests/{world.request.id}/evidence", headers=staff.headers).status_code == 403


def test_links_expire_and_cannot_be_forged(client: TestClient, db: Session, registry: Registry,
                                           storage: LocalStorage, media: dict[str, bytes]) -> None:
    world, row = stored(client, db, registry, media["mp4"])
    key = links.link_key(registry.settings)
    expired, _ = links.sign(key=key, file_id=row.id, account_id=world.investigator.account.id, ttl_s=60,
                            now=utcnow() - timedelta(minutes=5))
    gone = client.get(f"/v1/evidence/download/{expired}")
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "link_expired"

    url = client.post(f"/v1/evidence/{row.id}/link", headers=world.investigator.headers).json()["url"]
    token = url.rsplit("/", 1)[1]
    body, mac = token.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    other_key, _ = links.sign(key=b"x" * 32, file_id=row.id, account_id=world.investigator.account.id, ttl_s=60,
                              now=utcnow())
    for forged in (f"{flipped}.{mac}", f"{body}.{mac[:-3]}", other_key, "garbage", f"{body}.", "\u00e9.\u00e9"):
        answer = client.get(f"/v1/evidence/download/{forged}")
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "invalid_link", forged
    assert client.get(url).content == media["mp4"]

    # The account the link was issued to is disabled: the link dies with it.
    account = db.get(Account, world.investigator.account.id)
    assert account is not None
    account.disabled_at = utcnow()
    db.commit()
    assert client.get(url).status_code == 403
    downloads = db.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.downloaded")).all()
    assert len(downloads) == 1  # refused attempts download nothing and record no download


def test_deleted_file_is_gone_for_links_old_and_new(client: TestClient, db: Session, registry: Registry,
                                                    storage: LocalStorage, media: dict[str, bytes]) -> None:
    world, row = stored(client, db, registry, media["mp4"])
    url = client.post(f"/v1/evidence/{row.id}/link", headers=world.investigator.headers).json()["url"]
    from services.registry.evidence.service import delete_past_retention

    assert row.retain_until_at is not None
    assert delete_past_retention(db, storage=storage, now=row.retain_until_at) == 1
    db.commit()
    old = client.get(url)
    assert old.status_code == 410 and old.json()["error"]["code"] == "evidence_deleted"
    new = client.post(f"/v1/evidence/{row.id}/link", headers=world.investigator.headers)
    assert new.status_code == 410
    listed = client.get(f"/v1/requests/{world.request.id}/evidence", headers=world.investigator.headers).json()
    assert [(f["state"], f["sha256"]) for f in listed] == [("deleted", hashlib.sha256(media["mp4"]).hexdigest())]


OWNER_ROUTES = {("POST", "/v1/my/requests/{request_id}/uploads"), ("PATCH", "/v1/my/uploads/{upload_id}"),
                ("HEAD", "/v1/my/uploads/{upload_id}"), ("GET", "/v1/my/uploads/{upload_id}"),
                ("DELETE", "/v1/my/uploads/{upload_id}"), ("GET", "/v1/my/requests/{request_id}/evidence")}
STAFF_ROUTES = {("GET", "/v1/requests/{request_id}/evidence"), ("GET", "/v1/evidence/{file_id}"),
                ("POST", "/v1/evidence/{file_id}/link"), ("GET", "/v1/evidence/download/{token}"),
                ("POST", "/v1/cases/{case_number}/export")}
# The routes these matrices cover (test_permissions.test_matrix_covers_every_route can count them).
MATRIX_ROUTES = frozenset(OWNER_ROUTES | STAFF_ROUTES)


def test_matrices_cover_every_evidence_route() -> None:
    routes = {(method, route.path.replace(":path", "")) for route in evidence_api.router.routes
              if isinstance(route, APIRoute) for method in route.methods or ()}
    assert routes == MATRIX_ROUTES


def owner_attempts(client: TestClient, person: b.Person | None, world: World, upload_id: str,
                   data: bytes) -> dict[str, int]:
    """Status of each owner operation on the world's request and an unfinished upload of it."""
    headers = person.headers if person else {}
    at = f"/v1/my/uploads/{upload_id}"
    return {
        "begin": client.post(f"/v1/my/requests/{world.request.id}/uploads", headers=headers,
                             json={"filename": "a.mp4", "size_bytes": 10}).status_code,
        "head": client.head(at, headers=headers).status_code,
        "get": client.get(at, headers=headers).status_code,
        "list": client.get(f"/v1/my/requests/{world.request.id}/evidence", headers=headers).status_code,
        "patch": client.patch(at, content=data, headers={**headers, "Upload-Offset": "0"}).status_code,
        "cancel": client.delete(at, headers=headers).status_code,
    }


OWNER_ALLOWED = {"begin": 201, "head": 200, "get": 200, "list": 200, "patch": 200, "cancel": 409}


@pytest.mark.parametrize(("who", "expected"), [
    ("owner", OWNER_ALLOWED),
    ("other owner", dict.fromkeys(OWNER_ALLOWED, 404)),
    *((role, dict.fromkeys(OWNER_ALLOWED, 403)) for role in ("investigator", "supervisor", "dispatcher", "advocate",
                                                             "auditor")),
    ("anonymous", dict.fromkeys(OWNER_ALLOWED, 401)),
])
def test_owner_routes_permission_matrix(who: str, expected: dict[str, int], client: TestClient, db: Session,
                                        registry: Registry, storage: LocalStorage, media: dict[str, bytes]) -> None:
    world = make_world(db, registry)
    data = media["png"]
    upload_id = client.post(f"/v1/my/requests/{world.request.id}/uploads", headers=world.owner.headers,
                            json={"filename": "x.png", "size_bytes": len(data)}).json()["upload_id"]
    people: dict[str, Any] = {"owner": world.owner, "other owner": b.make_owner(db, registry), "anonymous": None,
                              "investigator": world.investigator, "supervisor": world.supervisor}
    for role in ("dispatcher", "advocate", "auditor"):
        people[role] = world.staff(Role(role))
    # The owner's PATCH completes the file, so their cancel is refused (stored evidence stays): 409.
    assert owner_attempts(client, people[who], world, upload_id, data) == expected
    if who != "owner":  # nobody else's attempt changed anything
        db.expire_all()
        row = db.get(EvidenceFile, uuid.UUID(upload_id))
        assert row is not None and row.state == "uploading" and row.received_bytes == 0
        assert stored_files(storage) == []
