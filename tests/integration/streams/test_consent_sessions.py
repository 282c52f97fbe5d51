"""POST /v1/consent-sessions: a dispatcher starts a camera's stream under its owner's grant to their agency.

A real relay app on a fresh Mosquitto: camera policies arrive as CameraChanged on the registry topic, the
start goes to the box's command topic (read here by a stand-in for the box), and the relay reads it back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.common.auth import Role
from services.streams.app import create_app
from services.streams.deps import Streams
from services.streams.models import CameraPolicy, StreamSession
from services.streams.policy import policy_row
from tests.support.mosquitto import Mosquitto, MqttClient

AGENCY, OTHER = str(uuid.uuid4()), str(uuid.uuid4())
DEVICE = "core-consent-1"
_versions = count(1)


@dataclass
class Relay:
    """The relay app, its parts, and an MQTT client standing in for the registry and the box."""

    streams: Streams
    client: TestClient
    mqtt: MqttClient

    def announce(self, camera_id: str, *grants: pb.ConsentGrant, mode: pb.SharingMode = pb.SHARING_MODE_LIVE_ON_CONSENT,
                 deleted: bool = False, device_id: str = DEVICE) -> None:
        """Publish a CameraChanged and wait until the relay keeps it."""
        version = next(_versions)
        changed = pb.CameraChanged(camera_id=camera_id, agency_id=AGENCY, device_id=device_id, sharing_mode=mode,
                                   label="Front door", deleted=deleted, grants=grants, version=version)
        self.mqtt.publish(topics.registry_camera(camera_id), wire.encode(changed))
        deadline = time.monotonic() + 10
        while True:
            with self.streams.store.sessions() as db:
                row = db.get(CameraPolicy, camera_id)
                if row is not None and row.version == version:
                    return
            assert time.monotonic() < deadline, "the relay never stored the camera policy"
            time.sleep(0.02)

    def starts(self, wait: float = 0.5) -> list[tuple[str, pb.StreamStart]]:
        """Stream starts the box received since last asked (topic, message)."""
        found = []
        for message in self.mqtt.drain(wait):
            command = wire.decode(pb.DeviceCommand, message.payload)
            assert message.qos == 1
            if command.WhichOneof("command") == "stream_start":
                found.append((message.topic, command.stream_start))
        return found


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """A fresh Mosquitto for one test."""
    with Mosquitto() as mosquitto:
        yield mosquitto


@pytest.fixture
def relay(make_streams: Callable[..., Streams], broker: Mosquitto) -> Iterator[Relay]:
    """A relay connected to the broker, and a client reading the box's commands."""
    streams = make_streams(broker.port)
    mqtt = MqttClient(broker.port, None, None, client_id=f"box-{uuid.uuid4().hex[:6]}")
    assert mqtt.subscribe(topics.device_commands(DEVICE))
    with TestClient(create_app(streams=streams)) as client:
        deadline = time.monotonic() + 10
        while streams.mqtt is not None and not streams.mqtt.connected:
            assert time.monotonic() < deadline, "the relay never connected to the broker"
            time.sleep(0.02)
        yield Relay(streams, client, mqtt)
    mqtt.close()


def grant(grant_id: str | None = None, *, agency: str = AGENCY, starts: timedelta = timedelta(hours=-1),
          expires: timedelta = timedelta(hours=1), revoked: bool = False) -> pb.ConsentGrant:
    now = datetime.now(UTC)
    return pb.ConsentGrant(grant_id=grant_id or str(uuid.uuid4()), agency_id=agency, revoked=revoked,
                           starts_at=wire.timestamp(now + starts), expires_at=wire.timestamp(now + expires))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(relay: Relay, headers: dict[str, str], camera_id: str) -> tuple[int, dict[str, object]]:
    answer = relay.client.post("/v1/consent-sessions", json={"camera_id": camera_id}, headers=headers)
    return answer.status_code, answer.json()


def code(body: dict[str, object]) -> object:
    return body["error"]["code"]  # type: ignore[index]


def test_a_dispatcher_starts_a_session_under_the_grant_and_a_repeat_finds_it(
        relay: Relay, token: Callable[..., str]) -> None:
    camera, the_grant = str(uuid.uuid4()), grant()
    relay.announce(camera, the_grant)
    dispatcher = auth(token(Role.DISPATCHER, agency=AGENCY))
    status, body = post(relay, dispatcher, camera)
    assert status == 201, body
    assert body["grant_id"] == the_grant.grant_id and body["agency_id"] == AGENCY and body["alert_id"] is None
    assert body["camera_id"] == camera and body["device_id"] == DEVICE and body["state"] == "pending"
    assert body["camera_label"] == "Front door"
    [(topic, start)] = relay.starts()
    assert topic == topics.device_commands(DEVICE)
    assert (start.session_id, start.camera_id, start.grant_id, start.agency_id, start.relay_id, start.alert_id) == (
        body["session_id"], camera, the_grant.grant_id, AGENCY, "relay-1", "")
    assert start.expires_at.ToDatetime(tzinfo=UTC) <= the_grant.expires_at.ToDatetime(tzinfo=UTC)
    # A second click (or another dispatcher of the agency) gets the same session; nothing new goes to the box.
    again, same = post(relay, auth(token(Role.SUPERVISOR, agency=AGENCY)), camera)
    assert again == 200 and same["session_id"] == body["session_id"]
    assert relay.starts() == []
    # The session is the agency's like any other: listed, readable, watchable with a viewer token.
    session_id = str(body["session_id"])
    listed = relay.client.get("/v1/sessions", headers=dispatcher).json()
    assert [s["session_id"] for s in listed] == [session_id]
    assert relay.client.get(f"/v1/sessions/{session_id}", headers=dispatcher).json()["grant_id"] == the_grant.grant_id
    viewer = relay.client.post(f"/v1/sessions/{session_id}/viewer-token", headers=dispatcher)
    assert viewer.status_code == 200 and viewer.json()["whep_url"] == f"/v1/sessions/{session_id}/whep"
    other = relay.client.post(f"/v1/sessions/{session_id}/viewer-token",
                              headers=auth(token(Role.DISPATCHER, agency=OTHER)))
    assert other.status_code == 404


def test_a_start_the_box_never_answered_is_given_up_for_a_new_one(relay: Relay, token: Callable[..., str]) -> None:
    camera = str(uuid.uuid4())
    relay.announce(camera, grant())
    dispatcher = auth(token(Role.DISPATCHER, agency=AGENCY))
    first = post(relay, dispatcher, camera)[1]["session_id"]
    with relay.streams.store.sessions() as db:  # the box refused (or was away) long enough ago
        db.execute(update(StreamSession).where(StreamSession.id == first)
                   .values(started_at=datetime.now(UTC) - timedelta(minutes=1)))
        db.commit()
    status, second = post(relay, dispatcher, camera)
    assert status == 201 and second["session_id"] != first
    old = relay.client.get(f"/v1/sessions/{first}", headers=dispatcher).json()
    assert old["state"] == "ended" and old["end_reason"] == "box_did_not_answer"
    assert [s.session_id for _t, s in relay.starts()] == [first, second["session_id"]]


def test_revoking_the_grant_ends_the_session_and_refuses_the_next_start(
        relay: Relay, token: Callable[..., str]) -> None:
    camera, the_grant = str(uuid.uuid4()), grant()
    relay.announce(camera, the_grant)
    dispatcher = auth(token(Role.DISPATCHER, agency=AGENCY))
    status, body = post(relay, dispatcher, camera)
    assert status == 201
    revoked = pb.ConsentGrant()
    revoked.CopyFrom(the_grant)
    revoked.revoked = True
    relay.announce(camera, revoked)
    row = relay.client.get(f"/v1/sessions/{body['session_id']}", headers=dispatcher).json()
    assert row["state"] == "ended" and row["end_reason"] == "revoked"
    status, refused = post(relay, dispatcher, camera)
    assert status == 409 and code(refused) == "no_active_grant" and "grant" in str(refused["error"])


# Built when the test runs, not when it is collected: a suite can take longer than "five minutes from now".
@pytest.mark.parametrize("grants", [
    lambda: (),
    lambda: (grant(revoked=True),),
    lambda: (grant(starts=timedelta(hours=-2), expires=timedelta(seconds=-1)),),  # expired
    lambda: (grant(starts=timedelta(minutes=5)),),  # not yet started
    lambda: (grant(agency=OTHER),),  # another agency's grant on our camera
], ids=["no_grant", "revoked", "expired", "not_started", "other_agencys_grant"])
def test_without_a_grant_in_force_for_the_agency_the_start_is_refused(
        relay: Relay, token: Callable[..., str], grants: Callable[[], tuple[pb.ConsentGrant, ...]]) -> None:
    camera = str(uuid.uuid4())
    relay.announce(camera, *grants())
    status, body = post(relay, auth(token(Role.DISPATCHER, agency=AGENCY)), camera)
    assert status == 409 and code(body) == "no_active_grant", body
    assert relay.starts() == []


def test_a_camera_not_shared_live_refuses_even_with_a_grant(relay: Relay, token: Callable[..., str]) -> None:
    camera = str(uuid.uuid4())
    relay.announce(camera, grant(), mode=pb.SHARING_MODE_ON_REQUEST)
    status, body = post(relay, auth(token(Role.DISPATCHER, agency=AGENCY)), camera)
    assert status == 409 and code(body) == "no_active_grant"
    relay.announce(camera, grant(), mode=pb.SHARING_MODE_LIVE_ON_ALERT)  # live-on-alert cameras honour grants too
    assert post(relay, auth(token(Role.DISPATCHER, agency=AGENCY)), camera)[0] == 201


def test_another_agencys_camera_unknown_and_deleted_cameras_are_not_found(
        relay: Relay, token: Callable[..., str]) -> None:
    camera, deleted = str(uuid.uuid4()), str(uuid.uuid4())
    relay.announce(camera, grant())
    relay.announce(deleted, grant(), deleted=True)
    other = auth(token(Role.DISPATCHER, agency=OTHER))
    for camera_id, headers in ((camera, other), (str(uuid.uuid4()), other),
                               (deleted, auth(token(Role.DISPATCHER, agency=AGENCY)))):
        status, body = post(relay, headers, camera_id)
        assert status == 404 and code(body) == "camera_not_found"
    assert relay.starts() == []


def test_a_grant_to_another_agency_admits_that_agencys_dispatchers(relay: Relay, token: Callable[..., str]) -> None:
    camera = str(uuid.uuid4())
    relay.announce(camera, grant(agency=OTHER))
    status, body = post(relay, auth(token(Role.DISPATCHER, agency=OTHER)), camera)
    assert status == 201 and body["agency_id"] == OTHER
    [(_topic, start)] = relay.starts()
    assert start.agency_id == OTHER


@pytest.mark.parametrize(("role", "agency"), [(Role.INVESTIGATOR, AGENCY), (Role.AUDITOR, AGENCY),
                                              (Role.OWNER, None), (Role.ADVOCATE, None)])
def test_only_dispatchers_and_supervisors_start_consent_streams(relay: Relay, token: Callable[..., str],
                                                                role: Role, agency: str | None) -> None:
    camera = str(uuid.uuid4())
    relay.announce(camera, grant())
    status, body = post(relay, auth(token(role, agency=agency)), camera)
    assert status == 403 and code(body) == "role_forbidden"
    assert relay.client.post("/v1/consent-sessions", json={"camera_id": camera}).status_code == 401
    assert relay.starts() == []


def test_a_session_never_outlives_the_relays_cap_or_the_grant(relay: Relay, token: Callable[..., str]) -> None:
    long, short = str(uuid.uuid4()), str(uuid.uuid4())
    relay.announce(long, grant(expires=timedelta(hours=5)))
    relay.announce(short, grant(expires=timedelta(minutes=2)))
    dispatcher = auth(token(Role.DISPATCHER, agency=AGENCY))
    now = datetime.now(UTC)
    capped = datetime.fromisoformat(str(post(relay, dispatcher, long)[1]["expires_at"]))
    assert abs((capped - now).total_seconds() - 3600) < 30
    until_grant = datetime.fromisoformat(str(post(relay, dispatcher, short)[1]["expires_at"]))
    assert abs((until_grant - now).total_seconds() - 120) < 30


def test_a_bad_body_is_a_clear_422(relay: Relay, token: Callable[..., str]) -> None:
    dispatcher = auth(token(Role.DISPATCHER, agency=AGENCY))
    for body in ({}, {"camera_id": ""}, {"camera_id": "x" * 65}, {"camera_id": "c", "extra": 1}):
        assert relay.client.post("/v1/consent-sessions", json=body, headers=dispatcher).status_code == 422


def test_a_relay_without_a_broker_refuses_clearly(make_streams: Callable[..., Streams],
                                                  token: Callable[..., str]) -> None:
    streams = make_streams()
    camera = str(uuid.uuid4())
    changed = pb.CameraChanged(camera_id=camera, agency_id=AGENCY, device_id=DEVICE, grants=[grant()], version=1,
                               sharing_mode=pb.SHARING_MODE_LIVE_ON_CONSENT)
    assert streams.store.apply_policy(row=policy_row(changed))
    with TestClient(create_app(streams=streams)) as client:
        answer = client.post("/v1/consent-sessions", json={"camera_id": camera},
                             headers=auth(token(Role.DISPATCHER, agency=AGENCY)))
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "broker_unavailable"
