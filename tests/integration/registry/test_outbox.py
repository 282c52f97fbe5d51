"""Every registry change writes its event in the same transaction; the relay publishes them to a real Mosquitto."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import aiomqtt
import pytest
from fastapi.testclient import TestClient
from google.protobuf.message import Message
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.common.auth import Role
from services.registry.app import create_app
from services.registry.deps import Registry
from services.registry.outbox.models import OutboxEvent
from services.registry.outbox.relay import OutboxRelay
from services.registry.outbox.service import emit
from services.registry.settings import MqttSettings
from tests import builders as b
from tests.integration.registry.test_devices import RecordingBroker
from tests.support.mosquitto import Mosquitto

KINDS: dict[str, type[Message]] = {"camera": pb.CameraChanged, "site": pb.SiteChanged, "device": pb.DeviceChanged,
                                   "commands": pb.DeviceCommand}


def events(db: Session, after: int = 0) -> list[tuple[str, Any]]:
    """(kind, decoded message) of every outbox row after `after`, checking version == row id."""
    db.expire_all()
    out = []
    for row in db.scalars(select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id)):
        kind = topics.parse(row.topic).kind
        message = wire.decode(KINDS[kind], row.payload)
        versioned = message.policy_update if kind == "commands" else message  # type: ignore[attr-defined]
        assert versioned.version == row.id and row.published_at is None
        out.append((kind, message))
    return out


def cam_mode(camera: Any) -> int:
    return int(pb.SharingMode.Value(f"SHARING_MODE_{camera.sharing_mode.upper()}"))


def last_id(db: Session) -> int:
    return int(db.scalar(select(func.max(OutboxEvent.id))) or 0)


def test_site_and_camera_changes_write_their_events(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    start = last_id(db)
    site = b.make_site(db, registry, owner)
    camera = b.make_camera(db, registry, owner, site, mode="live_on_consent", label="Porch")
    created = events(db, start)
    assert [k for k, _ in created] == ["site", "camera"]
    s_msg, c_msg = created[0][1], created[1][1]
    assert (s_msg.site_id, s_msg.owner_id, s_msg.agency_id, s_msg.deleted) == (
        str(site.id), str(owner.owner_id), str(agency.id), False)
    assert (c_msg.camera_id, c_msg.site_id, c_msg.label, c_msg.deleted) == (str(camera.id), str(site.id), "Porch",
                                                                            False)
    assert c_msg.sharing_mode == pb.SHARING_MODE_LIVE_ON_CONSENT and c_msg.lon == pytest.approx(-81.7745)

    mark = last_id(db)
    assert client.patch(f"/v1/cameras/{camera.id}", headers=owner.headers,
                        json={"sharing_mode": "live_on_alert"}).status_code == 200
    assert client.patch(f"/v1/sites/{site.id}", headers=owner.headers, json={"kind": "commercial"}).status_code == 200
    changed = events(db, mark)
    assert [k for k, _ in changed] == ["camera", "site"]
    assert changed[0][1].sharing_mode == pb.SHARING_MODE_LIVE_ON_ALERT and changed[0][1].version > c_msg.version

    mark = last_id(db)
    assert client.delete(f"/v1/cameras/{camera.id}", headers=owner.headers).status_code == 204
    gone = events(db, mark)
    assert [(k, m.camera_id, m.deleted) for k, m in gone] == [("camera", str(camera.id), True)]


def test_deleting_a_site_announces_its_cameras_and_itself(client: TestClient, db: Session, registry: Registry) -> None:
    b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    cams = [b.make_camera(db, registry, owner, site, label=f"C{i}") for i in range(2)]
    mark = last_id(db)
    assert client.delete(f"/v1/sites/{site.id}", headers=owner.headers).status_code == 204
    assert [(k, m.deleted) for k, m in events(db, mark)] == [("camera", True), ("camera", True), ("site", True)]
    assert {m.camera_id for k, m in events(db, mark) if k == "camera"} == {str(c.id) for c in cams}


def test_deleting_everything_announces_every_deletion(client: TestClient, db: Session, registry: Registry,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "broker", RecordingBroker())
    b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    sites = [b.make_site(db, registry, owner, address=f"{i} Main St") for i in range(2)]
    cams = [b.make_camera(db, registry, owner, s, core=True) for s in sites]
    code = client.post(f"/v1/sites/{sites[0].id}/enrolment-codes", headers=owner.headers).json()["code"]
    device_id = client.post("/v1/devices/enroll", json={"code": code, "firmware": "f"}).json()["device_id"]
    mark = last_id(db)
    assert client.delete("/v1/owners/me", headers=owner.headers).status_code == 204
    after = events(db, mark)
    assert [(k, m.device_id, m.revoked) for k, m in after if k == "device"] == [("device", device_id, True)]
    assert {m.camera_id for k, m in after if k == "camera" and m.deleted} == {str(c.id) for c in cams}
    assert {m.site_id for k, m in after if k == "site" and m.deleted} == {str(s.id) for s in sites}


def test_enrolment_and_revocation_write_device_and_camera_events(client: TestClient, db: Session,
                                                                 registry: Registry,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "broker", RecordingBroker())
    b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    cam = b.make_camera(db, registry, owner, site, core=True)
    code = client.post(f"/v1/sites/{site.id}/enrolment-codes", headers=owner.headers).json()["code"]
    mark = last_id(db)
    device_id = client.post("/v1/devices/enroll", json={"code": code, "firmware": "f"}).json()["device_id"]
    enrolled = events(db, mark)
    assert [k for k, _ in enrolled] == ["camera", "commands", "device"]
    assert enrolled[0][1].device_id == device_id
    policy = enrolled[1][1].policy_update  # the box learns its camera's sharing mode from the registry
    assert (policy.camera_id, policy.sharing_mode) == (str(cam.id), cam_mode(cam))
    device = enrolled[2][1]
    assert (device.site_id, list(device.camera_ids), device.revoked) == (str(site.id), [str(cam.id)], False)
    mark = last_id(db)
    assert client.delete(f"/v1/devices/{device_id}", headers=owner.headers).status_code == 204
    revoked = events(db, mark)
    assert [(k, m.revoked, list(m.camera_ids)) for k, m in revoked] == [("device", True, [])]


def test_a_mode_change_of_a_served_camera_tells_its_box(client: TestClient, db: Session, registry: Registry,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "broker", RecordingBroker())
    b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    cam = b.make_camera(db, registry, owner, site, core=True, mode="live_on_alert")
    code = client.post(f"/v1/sites/{site.id}/enrolment-codes", headers=owner.headers).json()["code"]
    device_id = client.post("/v1/devices/enroll", json={"code": code, "firmware": "f"}).json()["device_id"]
    mark = last_id(db)
    assert client.patch(f"/v1/cameras/{cam.id}", headers=owner.headers,
                        json={"sharing_mode": "registry_only"}).status_code == 200
    changed = events(db, mark)
    assert [k for k, _ in changed] == ["camera", "commands"]
    command = changed[1][1]
    assert topics.device_commands(device_id) in [r.topic for r in db.scalars(select(OutboxEvent)
                                                                             .where(OutboxEvent.id > mark))]
    assert command.policy_update.sharing_mode == pb.SHARING_MODE_REGISTRY_ONLY
    assert command.policy_update.version > changed[0][1].version


def test_refused_changes_write_no_event(client: TestClient, db: Session, registry: Registry,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    agency = b.make_agency(db, bounds=b.WEST)
    b.make_agency(db, bounds=b.EAST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    camera = b.make_camera(db, registry, owner, site, core=True)
    stranger = b.make_owner(db, registry)
    advocate = b.make_staff(db, registry, agency, Role.ADVOCATE)
    mark = last_id(db)
    assert client.patch(f"/v1/cameras/{camera.id}", headers=stranger.headers, json={"label": "x"}).status_code == 404
    assert client.delete(f"/v1/sites/{site.id}", headers=stranger.headers).status_code == 404
    outside = {"location": {"lon": -81.72, "lat": 28.55}}  # the other agency's jurisdiction
    assert client.patch(f"/v1/cameras/{camera.id}", headers=advocate.headers, json=outside).status_code == 422
    assert client.patch(f"/v1/cameras/{camera.id}", headers=owner.headers, json={"label": None}).status_code == 422
    assert last_id(db) == mark
    # A revocation the broker refuses is rolled back with its event (one transaction).
    monkeypatch.setattr(registry, "broker", RecordingBroker())
    code = client.post(f"/v1/sites/{site.id}/enrolment-codes", headers=owner.headers).json()["code"]
    device_id = client.post("/v1/devices/enroll", json={"code": code, "firmware": "f"}).json()["device_id"]
    mark = last_id(db)
    monkeypatch.setattr(registry, "broker", RecordingBroker(fail=True))
    with pytest.raises(RuntimeError):
        client.delete(f"/v1/devices/{device_id}", headers=owner.headers)
    db.rollback()
    assert last_id(db) == mark


def test_sync_returns_events_after_a_version(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    mark = last_id(db)
    site = b.make_site(db, registry, owner)
    camera = b.make_camera(db, registry, owner, site)
    integrator = b.make_staff(db, registry, agency, Role.INTEGRATOR)
    claims = {"sub": str(integrator.account.id), "role": "integrator", "agency": str(agency.id), "owner": None,
              "scope": "registry:sync"}
    token = registry.kit.issuer.issue(claims, auth_time=int(time.time()), session_max_s=3600).access_token
    page = client.get("/v1/sync/cameras", params={"after_version": mark},
                      headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert [i["topic"] for i in items] == [topics.registry_camera(str(camera.id))]
    message = wire.decode(pb.CameraChanged, base64.b64decode(items[0]["payload_b64"]))
    assert message.version == items[0]["version"] == page.json()["next_after_version"]
    assert client.get("/v1/sync/sites", headers=integrator.headers).status_code == 403  # no registry:sync scope


# --- the relay, against a real broker and committed rows -------------------------------------------------------


@pytest.fixture(scope="module")
def relay_registry(make_registry: Callable[[str], Registry]) -> Registry:
    """A registry on its own PostGIS database, whose rows really commit (the relay reads them from other
    connections)."""
    return make_registry("postgis")


@pytest.fixture
def committed(relay_registry: Registry) -> Iterator[Callable[[int], list[int]]]:
    """Factory: commit n CameraChanged events for fresh camera ids; returns their versions."""
    with relay_registry.engine.begin() as conn:
        conn.execute(delete(OutboxEvent))

    def write(n: int) -> list[int]:
        with relay_registry.sessions() as session:
            ids = [emit(session, topic=topics.registry_camera(str(uuid.uuid4())),
                        message=pb.CameraChanged(label=f"event {i}")) for i in range(n)]
            session.commit()
        return ids

    yield write


def pending(registry: Registry) -> int:
    with registry.sessions() as session:
        return int(session.scalar(select(func.count()).where(OutboxEvent.published_at.is_(None))) or 0)


def settings_for(broker: Mosquitto, **extra: Any) -> MqttSettings:
    return MqttSettings(host="127.0.0.1", port=broker.port, poll_interval_s=0.05, max_backoff_s=0.5, **extra)


class Subscriber:
    """Collects registry events on a persistent QoS 1 session (it survives a broker restart)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.identifier = f"test-sub-{uuid.uuid4().hex[:8]}"
        self.received: list[aiomqtt.Message] = []
        self.subscribed = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client("127.0.0.1", self.port, identifier=self.identifier,
                                          clean_session=False) as client:
                    await client.subscribe(topics.REGISTRY_FILTER, qos=1)
                    self.subscribed.set()
                    async for message in client.messages:
                        self.received.append(message)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)

    def versions(self) -> list[int]:
        return [wire.decode(pb.CameraChanged, bytes(m.payload)).version  # type: ignore[arg-type,unused-ignore]
                for m in self.received]


async def until(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_relay_publishes_in_order_with_qos1_and_marks_rows(relay_registry: Registry,
                                                           committed: Callable[[int], list[int]]) -> None:
    versions = committed(30)

    async def scenario() -> Subscriber:
        with Mosquitto() as broker:
            sub = Subscriber(broker.port)
            sub_task = asyncio.create_task(sub.run())
            await sub.subscribed.wait()
            relay = OutboxRelay(relay_registry.engine, settings_for(broker, batch_size=7))
            async with relay.running():
                await until(lambda: len(sub.received) >= len(versions))
                await until(lambda: pending(relay_registry) == 0)
            late = aiomqtt.Client("127.0.0.1", broker.port)
            async with late:  # nothing is retained: a late subscriber gets nothing
                await late.subscribe(topics.REGISTRY_FILTER, qos=1)
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(anext(late.messages), timeout=0.5)
            sub_task.cancel()
            return sub

    sub = asyncio.run(scenario())
    assert sub.versions() == versions
    assert {m.qos for m in sub.received} == {1} and not any(m.retain for m in sub.received)


def test_broker_outage_leaves_rows_pending_until_it_is_back(relay_registry: Registry,
                                                            committed: Callable[[int], list[int]]) -> None:
    async def scenario() -> tuple[Subscriber, list[int]]:
        broker = Mosquitto().start()
        try:
            sub = Subscriber(broker.port)
            sub_task = asyncio.create_task(sub.run())
            await sub.subscribed.wait()
            async with OutboxRelay(relay_registry.engine, settings_for(broker)).running():
                first = committed(5)
                await until(lambda: len(sub.received) == 5 and pending(relay_registry) == 0)
                broker.stop()
                second = committed(5)
                await asyncio.sleep(1.5)
                assert pending(relay_registry) == 5  # nothing lost, nothing marked without a PUBACK
                broker.start()  # same port, same persistence: the subscriber's session survives
                await until(lambda: pending(relay_registry) == 0, timeout=20)
                await until(lambda: set(sub.versions()) >= set(second), timeout=20)
            sub_task.cancel()
            return sub, first + second
        finally:
            broker.close()

    sub, versions = asyncio.run(scenario())
    assert set(sub.versions()) == set(versions)  # QoS 1 is at-least-once: a redelivery may repeat one


def test_two_relays_never_publish_the_same_row(relay_registry: Registry,
                                               committed: Callable[[int], list[int]]) -> None:
    versions = committed(300)

    async def scenario() -> tuple[Subscriber, list[OutboxRelay]]:
        with Mosquitto() as broker:
            sub = Subscriber(broker.port)
            sub_task = asyncio.create_task(sub.run())
            await sub.subscribed.wait()
            relays = [OutboxRelay(relay_registry.engine, settings_for(broker, batch_size=10)) for _ in range(2)]
            async with relays[0].running(), relays[1].running():
                await until(lambda: pending(relay_registry) == 0, timeout=30)
                await until(lambda: len(sub.received) >= len(versions))
                await asyncio.sleep(0.3)
            sub_task.cancel()
            return sub, relays

    sub, relays = asyncio.run(scenario())
    assert sorted(sub.versions()) == versions  # each exactly once
    assert sum(r.published for r in relays) == len(versions)


def test_the_app_runs_the_relay_when_a_broker_is_configured(relay_registry: Registry,
                                                            committed: Callable[[int], list[int]],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    committed(3)
    with Mosquitto() as broker:
        monkeypatch.setattr(relay_registry.settings, "mqtt", settings_for(broker))
        with TestClient(create_app(registry=relay_registry)) as client:
            assert client.get("/healthz").status_code == 200
            deadline = time.monotonic() + 15
            while pending(relay_registry) and time.monotonic() < deadline:
                time.sleep(0.05)
    assert pending(relay_registry) == 0
