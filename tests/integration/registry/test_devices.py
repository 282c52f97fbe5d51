"""CORE device enrolment with one-time codes, its refusals, listing and revocation (broker accounts recorded)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.audit.models import AuditEvent
from services.registry.deps import Registry
from services.registry.devices import service as devices
from services.registry.devices.models import Device, EnrolmentCode
from services.registry.devices.schemas import EnrolRequest
from services.registry.owners.models import Camera
from tests import builders as b

CODE = re.compile(r"^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$")


@dataclass
class RecordingBroker:
    """A double of the BrokerAccounts interface that remembers what it was asked (or refuses, if told to)."""

    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    fail: bool = False

    def add_device(self, device_id: str, password: str) -> None:
        if self.fail:
            raise RuntimeError("broker unavailable")
        self.added.append((device_id, password))

    def remove_device(self, device_id: str) -> None:
        if self.fail:
            raise RuntimeError("broker unavailable")
        self.removed.append(device_id)


@pytest.fixture
def broker(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> RecordingBroker:
    recording = RecordingBroker()
    monkeypatch.setattr(registry, "broker", recording)
    return recording


@dataclass
class Home:
    """An agency, an owner, their site with two CORE cameras and one plain camera."""

    agency: Any
    owner: b.Person
    site: Any
    core: list[Camera]
    plain: Camera


@pytest.fixture
def home(db: Session, registry: Registry) -> Home:
    agency = b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    core = [b.make_camera(db, registry, owner, site, core=True, mode="live_on_alert", label=f"Core {i}")
            for i in range(2)]
    return Home(agency, owner, site, core, b.make_camera(db, registry, owner, site, label="Plain"))


def new_code(client: TestClient, home: Home, headers: dict[str, str] | None = None) -> str:
    made = client.post(f"/v1/sites/{home.site.id}/enrolment-codes", headers=headers or home.owner.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["code"])


def enrol(client: TestClient, code: str) -> Any:
    return client.post("/v1/devices/enroll", json={"code": code, "firmware": "lookout-core 1.0.0"})


def test_enrolment_code_is_one_time_and_stored_only_as_a_digest(client: TestClient, db: Session, home: Home,
                                                                 broker: RecordingBroker) -> None:
    made = client.post(f"/v1/sites/{home.site.id}/enrolment-codes", headers=home.owner.headers)
    assert made.status_code == 201, made.text
    body = made.json()
    assert CODE.match(body["code"]) and body["site_id"] == str(home.site.id)
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=24)
    stored = db.scalars(select(EnrolmentCode).where(EnrolmentCode.site_id == home.site.id)).one()
    assert body["code"].replace("-", "") not in stored.code_digest and len(stored.code_digest) == 64
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "enrolment_code.created"))


def test_a_box_enrols_with_the_code(client: TestClient, db: Session, registry: Registry, home: Home,
                                    broker: RecordingBroker) -> None:
    code = new_code(client, home)
    response = enrol(client, code.lower().replace("-", " "))  # typed loosely: case, spaces
    assert response.status_code == 201, response.text
    body = response.json()
    device_id = body["device_id"]
    assert uuid.UUID(device_id) and "#" not in device_id and "+" not in device_id
    assert body["site_id"] == str(home.site.id)
    mqtt = body["mqtt"]
    settings = registry.settings.broker
    assert (mqtt["host"], mqtt["port"], mqtt["tls"]) == (settings.host, settings.port, settings.tls)
    assert mqtt["username"] == mqtt["client_id"] == device_id and len(mqtt["password"]) >= 40
    assert broker.added == [(device_id, mqtt["password"])]
    assert {c["camera_id"] for c in body["cameras"]} == {str(c.id) for c in home.core}
    assert {c["sharing_mode"] for c in body["cameras"]} == {"live_on_alert"}
    db.expire_all()
    assert {c.id: c.device_id for c in db.scalars(select(Camera).where(Camera.site_id == home.site.id))} == {
        **{c.id: uuid.UUID(device_id) for c in home.core}, home.plain.id: None}
    device = db.get(Device, uuid.UUID(device_id))
    assert device is not None and device.owner_id == home.owner.owner_id and device.agency_id == home.agency.id
    assert device.firmware == "lookout-core 1.0.0" and device.revoked_at is None
    enrolled = db.scalar(select(AuditEvent).where(AuditEvent.action == "device.enrolled"))
    assert enrolled is not None and enrolled.object_id == device_id and enrolled.agency_id == home.agency.id
    assert mqtt["password"] not in (enrolled.detail or "")

    second = enrol(client, code)
    assert second.status_code == 409 and second.json()["error"]["code"] == "code_used"
    assert len(broker.added) == 1


def test_wrong_malformed_and_expired_codes_are_refused(client: TestClient, db: Session, home: Home,
                                                       broker: RecordingBroker) -> None:
    for wrong in ("2222-3333-4444", "not a code", "ABCD-EFGH-IJK0"):
        refused = enrol(client, wrong)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "invalid_code"
    code = new_code(client, home)
    row = db.scalars(select(EnrolmentCode).where(EnrolmentCode.site_id == home.site.id)).one()
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.commit()
    expired = enrol(client, code)
    assert expired.status_code == 409 and expired.json()["error"]["code"] == "code_expired"
    assert broker.added == [] and db.scalar(select(Device.id)) is None


def test_wrong_codes_are_rate_limited_per_source(client: TestClient, registry: Registry, home: Home,
                                                 broker: RecordingBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.settings.devices, "failures_per_window", 3)
    code = new_code(client, home)
    for _ in range(3):
        assert enrol(client, "2222-3333-4444").status_code == 404
    limited = enrol(client, code)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert broker.added == []


def test_who_may_make_codes(client: TestClient, db: Session, registry: Registry, home: Home,
                            broker: RecordingBroker) -> None:
    stranger = b.make_owner(db, registry)
    refused = client.post(f"/v1/sites/{home.site.id}/enrolment-codes", headers=stranger.headers)
    assert refused.status_code == 404
    other_agency = b.make_agency(db, bounds=b.EAST)
    for person in (b.make_staff(db, registry, other_agency, Role.ADVOCATE),
                   b.make_staff(db, registry, other_agency, Role.SUPERVISOR)):
        assert client.post(f"/v1/sites/{home.site.id}/enrolment-codes", headers=person.headers).status_code == 404
    for role in (Role.INVESTIGATOR, Role.DISPATCHER, Role.AUDITOR):
        person = b.make_staff(db, registry, home.agency, role)
        assert client.post(f"/v1/sites/{home.site.id}/enrolment-codes", headers=person.headers).status_code == 403
    advocate = b.make_staff(db, registry, home.agency, Role.ADVOCATE)
    assert CODE.match(new_code(client, home, advocate.headers))
    assert client.post(f"/v1/sites/{uuid.uuid4()}/enrolment-codes", headers=home.owner.headers).status_code == 404


def test_listing_devices_by_owner_and_agency(client: TestClient, db: Session, registry: Registry, home: Home,
                                             broker: RecordingBroker) -> None:
    device_id = enrol(client, new_code(client, home)).json()["device_id"]
    mine = client.get("/v1/devices", headers=home.owner.headers).json()
    assert [d["id"] for d in mine] == [device_id]
    assert set(mine[0]["camera_ids"]) == {str(c.id) for c in home.core}
    assert client.get(f"/v1/devices/{device_id}", headers=home.owner.headers).json()["site_id"] == str(home.site.id)
    supervisor = b.make_staff(db, registry, home.agency, Role.SUPERVISOR)
    assert [d["id"] for d in client.get("/v1/devices", headers=supervisor.headers).json()] == [device_id]
    stranger = b.make_owner(db, registry)
    other = b.make_staff(db, registry, b.make_agency(db, bounds=b.EAST), Role.SUPERVISOR)
    for person in (stranger, other):
        assert client.get("/v1/devices", headers=person.headers).json() == []
        assert client.get(f"/v1/devices/{device_id}", headers=person.headers).status_code == 404


def test_revocation_removes_the_broker_account_and_frees_cameras(client: TestClient, db: Session,
                                                                 registry: Registry, home: Home,
                                                                 broker: RecordingBroker) -> None:
    device_id = enrol(client, new_code(client, home)).json()["device_id"]
    advocate = b.make_staff(db, registry, home.agency, Role.ADVOCATE)
    assert client.delete(f"/v1/devices/{device_id}", headers=advocate.headers).status_code == 403
    other = b.make_staff(db, registry, b.make_agency(db, bounds=b.EAST), Role.SUPERVISOR)
    assert client.delete(f"/v1/devices/{device_id}", headers=other.headers).status_code == 404
    assert broker.removed == []

    assert client.delete(f"/v1/devices/{device_id}", headers=home.owner.headers).status_code == 204
    assert broker.removed == [device_id]
    db.expire_all()
    device = db.get(Device, uuid.UUID(device_id))
    assert device is not None and device.revoked_at is not None
    assert db.scalars(select(Camera.device_id).where(Camera.site_id == home.site.id)).all() == [None] * 3
    revoked = db.scalar(select(AuditEvent).where(AuditEvent.action == "device.revoked"))
    assert revoked is not None and revoked.object_id == device_id
    again = client.delete(f"/v1/devices/{device_id}", headers=home.owner.headers)
    assert again.status_code == 409 and broker.removed == [device_id]


def test_supervisor_of_the_agency_may_revoke(client: TestClient, db: Session, registry: Registry, home: Home,
                                             broker: RecordingBroker) -> None:
    device_id = enrol(client, new_code(client, home)).json()["device_id"]
    supervisor = b.make_staff(db, registry, home.agency, Role.SUPERVISOR)
    assert client.delete(f"/v1/devices/{device_id}", headers=supervisor.headers).status_code == 204
    assert broker.removed == [device_id]


def test_new_core_cameras_join_the_box_and_deleting_the_site_revokes_it(client: TestClient, db: Session,
                                                                        registry: Registry, home: Home,
                                                                        broker: RecordingBroker) -> None:
    device_id = uuid.UUID(enrol(client, new_code(client, home)).json()["device_id"])
    later = b.make_camera(db, registry, home.owner, home.site, core=True, label="Later")
    assert later.device_id == device_id
    patched = client.patch(f"/v1/cameras/{home.plain.id}", headers=home.owner.headers, json={"core_enabled": True})
    assert patched.status_code == 200
    db.expire_all()
    assert db.get(Camera, home.plain.id).device_id == device_id  # type: ignore[union-attr]
    assert client.delete(f"/v1/sites/{home.site.id}", headers=home.owner.headers).status_code == 204
    assert broker.removed == [str(device_id)]
    assert db.get(Device, device_id) is None


def test_deleting_everything_revokes_the_owners_boxes(client: TestClient, db: Session, home: Home,
                                                      broker: RecordingBroker) -> None:
    device_id = enrol(client, new_code(client, home)).json()["device_id"]
    assert client.delete("/v1/owners/me", headers=home.owner.headers).status_code == 204
    assert broker.removed == [device_id]
    assert db.scalar(select(Device.id)) is None


def test_a_broker_refusal_leaves_the_code_unused(client: TestClient, db: Session, registry: Registry, home: Home,
                                                 broker: RecordingBroker) -> None:
    code = new_code(client, home)
    broker.fail = True
    with pytest.raises(RuntimeError):
        devices.enrol(db, cipher=registry.kit.cipher, broker=broker, broker_settings=registry.settings.broker,
                      settings=registry.settings.devices, data=EnrolRequest(code=code, firmware="x"), source="t")
    db.rollback()  # what the request's session does when it closes uncommitted
    row = db.scalars(select(EnrolmentCode).where(EnrolmentCode.site_id == home.site.id)).one()
    assert row.used_at is None and db.scalar(select(Device.id)) is None
    broker.fail = False
    assert enrol(client, code).status_code == 201
