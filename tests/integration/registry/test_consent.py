"""Owners' consent grants through the HTTP API, on both backends: rules, roles, audit, events, cascade."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.common.auth import Role
from services.registry.agencies.models import Agency
from services.registry.audit.models import AuditEvent
from services.registry.consent.models import ConsentGrant
from services.registry.deps import Registry
from services.registry.outbox import events
from services.registry.outbox.models import OutboxEvent
from services.registry.owners.models import Camera
from services.registry.settings import ConsentSettings
from tests import builders as b

pytestmark = pytest.mark.spatialite


@dataclass
class World:
    db: Session
    registry: Registry
    west: Agency
    east: Agency
    owner: b.Person
    camera: Camera

    def staff(self, role: Role, agency: Agency | None = None) -> b.Person:
        """A staff account of the agency (west by default)."""
        return b.make_staff(self.db, self.registry, agency or self.west, role)


def live_camera(db: Session, registry: Registry, owner: b.Person, *, mode: str = "live_on_consent",
                core: bool = True, device: bool = True) -> Camera:
    """A camera of the owner on its own site, served by a (pretend) CORE box."""
    site = b.make_site(db, registry, owner)
    camera = b.make_camera(db, registry, owner, site, mode=mode, core=core, label="Porch")
    if device:
        camera.device_id = uuid.uuid4()
        db.flush()
    return camera


@pytest.fixture
def world(db: Session, registry: Registry) -> World:
    west = b.make_agency(db, bounds=b.WEST)
    east = b.make_agency(db, bounds=b.EAST)
    owner = b.make_owner(db, registry)
    return World(db, registry, west, east, owner, live_camera(db, registry, owner))


def at(**delta: float) -> str:
    """An ISO time this far from now."""
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def grant(client: TestClient, who: b.Person | dict[str, str], camera: Camera, **body: Any) -> Any:
    headers = who if isinstance(who, dict) else who.headers
    return client.post(f"/v1/cameras/{camera.id}/grants", headers=headers, json={"expires_at": at(hours=2), **body})


def outbox(db: Session, after: int) -> list[tuple[str, str, Any]]:
    """(kind, topic, decoded message) of every outbox row after `after`."""
    db.expire_all()
    kinds = {"camera": pb.CameraChanged, "commands": pb.DeviceCommand}
    rows = db.scalars(select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id))
    return [(topics.parse(r.topic).kind, r.topic, wire.decode(kinds[topics.parse(r.topic).kind], r.payload))
            for r in rows]


def last_event(db: Session) -> int:
    return int(db.scalar(select(func.max(OutboxEvent.id))) or 0)


def test_owner_creates_lists_and_revokes(client: TestClient, world: World) -> None:
    first = grant(client, world.owner, world.camera)
    assert first.status_code == 201, first.text
    made = first.json()
    assert set(made) == {"id", "camera_id", "agency_id", "starts_at", "expires_at", "revoked_at", "created_at"}
    assert (made["camera_id"], made["agency_id"], made["revoked_at"]) == (str(world.camera.id), str(world.west.id),
                                                                          None)
    second = grant(client, world.owner, world.camera, starts_at=at(hours=1), expires_at=at(hours=3),
                   agency_id=str(world.east.id))
    assert second.status_code == 201 and second.json()["agency_id"] == str(world.east.id)
    path = f"/v1/cameras/{world.camera.id}/grants"
    listed = client.get(path, headers=world.owner.headers).json()
    assert [g["id"] for g in listed] == [second.json()["id"], made["id"]]  # newest first

    for _ in range(2):  # idempotent
        assert client.delete(f"{path}/{made['id']}", headers=world.owner.headers).status_code == 204
    revoked = {g["id"]: g["revoked_at"] for g in client.get(path, headers=world.owner.headers).json()}
    assert revoked[made["id"]] is not None and revoked[second.json()["id"]] is None
    assert client.delete(f"{path}/{uuid.uuid4()}", headers=world.owner.headers).status_code == 404


def test_grant_of_another_camera_is_not_found_under_this_one(client: TestClient, world: World) -> None:
    other = live_camera(world.db, world.registry, world.owner)
    made = grant(client, world.owner, other).json()
    response = client.delete(f"/v1/cameras/{world.camera.id}/grants/{made['id']}", headers=world.owner.headers)
    assert response.status_code == 404
    assert world.db.get(ConsentGrant, uuid.UUID(made["id"])).revoked_at is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("body", "field"), [
    ({"expires_at": at(minutes=-5)}, "expires_at"),
    ({"starts_at": at(hours=2), "expires_at": at(hours=1)}, "expires_at"),
    ({"starts_at": at(hours=-3), "expires_at": at(hours=-1)}, "expires_at"),
    ({"expires_at": at(hours=25)}, "expires_at"),
    ({"starts_at": at(days=31), "expires_at": at(days=31, hours=1)}, "starts_at"),
    ({"expires_at": "2026-12-01T10:00:00"}, "expires_at"),  # naive
    ({"starts_at": at(hours=1)}, "expires_at"),  # missing
    ({"expires_at": at(hours=1), "note": "x"}, "note"),
])
def test_bad_windows_are_refused(client: TestClient, world: World, body: dict[str, Any], field: str) -> None:
    response = client.post(f"/v1/cameras/{world.camera.id}/grants", headers=world.owner.headers, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert world.db.scalar(select(func.count()).select_from(ConsentGrant)) == 0


def test_unknown_agency_is_refused(client: TestClient, world: World) -> None:
    response = grant(client, world.owner, world.camera, agency_id=str(uuid.uuid4()))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "agency_not_found"


@pytest.mark.parametrize(("mode", "core", "device"), [
    ("on_request", True, True), ("registry_only", True, True), ("live_on_consent", False, True),
    ("live_on_alert", True, False),
])
def test_camera_must_be_live_capable(client: TestClient, world: World, mode: str, core: bool, device: bool) -> None:
    camera = live_camera(world.db, world.registry, world.owner, mode=mode, core=core, device=device)
    response = grant(client, world.owner, camera)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "camera_not_live_capable" and error["message"]


def test_live_on_alert_camera_may_be_granted(client: TestClient, world: World) -> None:
    camera = live_camera(world.db, world.registry, world.owner, mode="live_on_alert")
    assert grant(client, world.owner, camera).status_code == 201


def test_window_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch, client: TestClient, world: World) -> None:
    monkeypatch.setenv("REGISTRY_CONSENT_MAX_HOURS", "2")
    assert ConsentSettings().max_hours == 2
    assert world.registry.settings.consent.max_hours == 24
    monkeypatch.setattr(world.registry.settings, "consent", ConsentSettings(max_hours=1))
    assert grant(client, world.owner, world.camera, expires_at=at(minutes=90)).status_code == 422
    assert grant(client, world.owner, world.camera, expires_at=at(minutes=50)).status_code == 201


def _grants_of(message: Any) -> list[tuple[str, bool, str]]:
    return [(g.grant_id, g.revoked, g.agency_id) for g in message.grants]


def test_create_and_revoke_tell_relay_and_box(client: TestClient, world: World) -> None:
    mark = last_event(world.db)
    made = grant(client, world.owner, world.camera).json()
    sent = outbox(world.db, mark)
    assert [(k, t) for k, t, _ in sent] == [
        ("camera", topics.registry_camera(str(world.camera.id))),
        ("commands", topics.device_commands(str(world.camera.device_id)))]
    changed, command = sent[0][2], sent[1][2]
    assert _grants_of(changed) == [(made["id"], False, str(world.west.id))]
    assert command.WhichOneof("command") == "policy_update"
    assert _grants_of(command.policy_update) == [(made["id"], False, str(world.west.id))]
    assert command.policy_update.sharing_mode == pb.SHARING_MODE_LIVE_ON_CONSENT
    expires = datetime.fromisoformat(made["expires_at"])
    assert changed.grants[0].expires_at.ToDatetime(tzinfo=UTC) == expires

    mark = last_event(world.db)
    assert client.delete(f"/v1/cameras/{world.camera.id}/grants/{made['id']}",
                         headers=world.owner.headers).status_code == 204
    sent = outbox(world.db, mark)
    assert [k for k, _, _ in sent] == ["camera", "commands"]
    assert _grants_of(sent[0][2]) == [(made["id"], True, str(world.west.id))]
    assert _grants_of(sent[1][2].policy_update) == [(made["id"], True, str(world.west.id))]
    mark = last_event(world.db)
    client.delete(f"/v1/cameras/{world.camera.id}/grants/{made['id']}", headers=world.owner.headers)
    assert outbox(world.db, mark) == []  # a second revocation changes nothing


def test_events_leave_out_long_expired_grants(world: World) -> None:
    now = datetime.now(UTC)
    old = ConsentGrant(camera_id=world.camera.id, agency_id=world.west.id, starts_at=now - timedelta(hours=5),
                       expires_at=now - timedelta(hours=2))
    recent = ConsentGrant(camera_id=world.camera.id, agency_id=world.west.id, starts_at=now - timedelta(hours=2),
                          expires_at=now - timedelta(minutes=20))
    world.db.add_all([old, recent])
    world.db.flush()
    mark = last_event(world.db)
    events.camera_changed(world.db, world.camera)
    sent = outbox(world.db, mark)
    assert [g.grant_id for g in sent[0][2].grants] == [str(recent.id)]
    mark = last_event(world.db)
    events.camera_changed(world.db, world.camera, deleted=True)
    deleted = outbox(world.db, mark)
    assert [k for k, _, _ in deleted] == ["camera", "commands"]
    assert not deleted[0][2].grants and not deleted[1][2].policy_update.grants


def test_create_and_revoke_are_audited(client: TestClient, world: World) -> None:
    made = grant(client, world.owner, world.camera, agency_id=str(world.east.id)).json()
    client.delete(f"/v1/cameras/{world.camera.id}/grants/{made['id']}", headers=world.owner.headers)
    client.delete(f"/v1/cameras/{world.camera.id}/grants/{made['id']}", headers=world.owner.headers)
    world.db.expire_all()
    rows = world.db.scalars(select(AuditEvent).where(AuditEvent.action.like("consent.%"))
                            .order_by(AuditEvent.id)).all()
    assert [r.action for r in rows] == ["consent.granted", "consent.revoked"]
    for row in rows:
        assert (row.object_id, row.subject_owner_id, row.agency_id, row.actor_id) == (
            made["id"], world.owner.owner_id, world.east.id, world.owner.account.id)
        detail = json.loads(row.detail or "{}")
        assert detail["camera_id"] == str(world.camera.id)
        assert datetime.fromisoformat(detail["expires_at"]) == datetime.fromisoformat(made["expires_at"])


def test_agency_lists_its_grants_without_contact_data(client: TestClient, world: World) -> None:
    now_grant = grant(client, world.owner, world.camera).json()
    later = grant(client, world.owner, world.camera, starts_at=at(hours=3), expires_at=at(hours=4)).json()
    gone = grant(client, world.owner, world.camera).json()
    client.delete(f"/v1/cameras/{world.camera.id}/grants/{gone['id']}", headers=world.owner.headers)
    east = grant(client, world.owner, world.camera, agency_id=str(world.east.id)).json()
    dispatcher = world.staff(Role.DISPATCHER)

    listed = client.get("/v1/grants", headers=dispatcher.headers).json()
    assert [g["id"] for g in listed] == [gone["id"], later["id"], now_grant["id"]]
    row = listed[-1]
    assert set(row) == {"id", "agency_id", "camera_id", "camera_label", "location", "device_id", "starts_at",
                        "expires_at", "revoked_at", "active"}
    assert (row["camera_id"], row["camera_label"], row["device_id"], row["active"]) == (
        str(world.camera.id), "Porch", str(world.camera.device_id), True)
    assert row["location"] == {"lon": pytest.approx(-81.7745), "lat": pytest.approx(28.5567)}
    active = client.get("/v1/grants", params={"active": "true"}, headers=dispatcher.headers).json()
    assert [g["id"] for g in active] == [now_grant["id"]]
    inactive = client.get("/v1/grants", params={"active": "false"}, headers=dispatcher.headers).json()
    assert [g["id"] for g in inactive] == [gone["id"], later["id"]]
    others = client.get("/v1/grants", headers=world.staff(Role.DISPATCHER, world.east).headers).json()
    assert [g["id"] for g in others] == [east["id"]]


def test_deleting_the_camera_takes_its_grants(client: TestClient, world: World) -> None:
    grant(client, world.owner, world.camera)
    assert client.delete(f"/v1/cameras/{world.camera.id}", headers=world.owner.headers).status_code == 204
    world.db.expire_all()
    assert world.db.scalar(select(func.count()).select_from(ConsentGrant)) == 0


def test_deleting_the_owner_takes_their_grants(client: TestClient, world: World) -> None:
    grant(client, world.owner, world.camera)
    assert client.delete("/v1/owners/me", headers=world.owner.headers).status_code == 204
    world.db.expire_all()
    assert world.db.scalar(select(func.count()).select_from(ConsentGrant)) == 0


def headers_for(world: World, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role == "owner":
        return world.owner.headers
    if role == "other_owner":
        return b.make_owner(world.db, world.registry).headers
    return world.staff(Role(role)).headers


OWNER_ONLY = [("owner", None), ("other_owner", 404), ("advocate", 403), ("supervisor", 403),
              ("dispatcher", 403), ("investigator", 403), ("auditor", 403), ("anonymous", 401)]


@pytest.mark.parametrize(("role", "status"), OWNER_ONLY)
@pytest.mark.parametrize(("method", "expected"), [("POST", 201), ("GET", 200), ("DELETE", 204)])
def test_owner_routes_matrix(client: TestClient, world: World, role: str, status: int | None, method: str,
                             expected: int) -> None:
    made = grant(client, world.owner, world.camera).json()
    path = f"/v1/cameras/{world.camera.id}/grants" + (f"/{made['id']}" if method == "DELETE" else "")
    body = {"expires_at": at(hours=1)} if method == "POST" else None
    response = client.request(method, path, headers=headers_for(world, role), json=body)
    assert response.status_code == (status or expected), response.text
    world.db.expire_all()
    count = world.db.scalar(select(func.count()).select_from(ConsentGrant))
    assert count == (2 if method == "POST" and status is None else 1)
    revoked = world.db.get(ConsentGrant, uuid.UUID(made["id"])).revoked_at  # type: ignore[union-attr]
    assert (revoked is not None) == (method == "DELETE" and status is None)


@pytest.mark.parametrize(("role", "status"), [
    ("dispatcher", 200), ("supervisor", 200), ("investigator", 403), ("advocate", 403), ("auditor", 403),
    ("owner", 403), ("anonymous", 401),
])
def test_agency_list_matrix(client: TestClient, world: World, role: str, status: int) -> None:
    made = grant(client, world.owner, world.camera).json()
    response = client.get("/v1/grants", headers=headers_for(world, role))
    assert response.status_code == status, response.text
    if status == 200:
        assert [g["id"] for g in response.json()] == [made["id"]]

# The routes this module's permission matrix covers (test_permissions.test_matrix_covers_every_route counts them).
MATRIX_ROUTES = frozenset({("POST", "/v1/cameras/{camera_id}/grants"), ("GET", "/v1/cameras/{camera_id}/grants"),
                           ("DELETE", "/v1/cameras/{camera_id}/grants/{grant_id}"), ("GET", "/v1/grants")})
