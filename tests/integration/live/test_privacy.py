"""Privacy of live video, end to end: the box is the owner's last gate, even against forged commands.

A stream_start sent straight to the box's command topic with the relay's own broker credentials makes the
box publish nothing (no offer, so no peer connection and no media) unless the camera's sharing mode allows
it; after the owner revokes, a live stream ends within a second and a new start is refused.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.registry.deps import Registry
from tests.support.live import LiveStack, start_stack
from tests.support.mosquitto import MqttClient
from tests.support.pgcluster import PgCluster
from tests.support.services import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(pg_cluster: PgCluster, make_registry: Callable[[str], Registry],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """One running system for the module."""
    with ExitStack() as stack:
        yield start_stack(stack, pg_cluster, make_registry("postgis"), tmp_path_factory.mktemp("live"), warm=False)


@pytest.fixture
def relay_account(live: LiveStack) -> Iterator[MqttClient]:
    """The relay's own broker account, as a forger would use it, watching the box's offers."""
    client = live.broker.client("streams", client_id=f"forger-{uuid.uuid4().hex[:6]}")
    assert client.subscribe(f"{topics.PREFIX}/devices/{live.box.device_id}/webrtc/+/offer")
    yield client
    client.close()


def forge_start(live: LiveStack, client: MqttClient, camera_id: str) -> str:
    """Publish a well-formed stream_start for this camera, with an alert id, to the box; the session id."""
    session_id = str(uuid.uuid4())
    start = pb.StreamStart(session_id=session_id, camera_id=camera_id, relay_id="relay-1", alert_id=str(uuid.uuid4()),
                           agency_id=live.agency_id,
                           expires_at=wire.timestamp(datetime.now(UTC) + timedelta(minutes=5)))
    command = pb.DeviceCommand(command_id=str(uuid.uuid4()), issued_at=wire.timestamp(datetime.now(UTC)),
                               stream_start=start)
    client.publish(topics.device_commands(live.box.device_id), wire.encode(command))
    return session_id


@pytest.mark.parametrize("mode", ["registry_only", "on_request"])
def test_a_forged_start_for_a_camera_not_shared_live_sends_nothing(live: LiveStack, relay_account: MqttClient,
                                                                    mode: str) -> None:
    session_id = forge_start(live, relay_account, live.box.cameras[mode])
    assert relay_account.drain(wait=4.0) == []  # no offer: no peer connection, no media
    assert "refused" in wait_for(lambda: live.box.log_tail(400) if session_id in live.box.log_tail(400) else None,
                                 10, "the box's refusal in its log")
    assert not [s for s in live.sessions() if s["session_id"] == session_id and s["state"] == "live"]


def test_revocation_ends_a_live_stream_within_a_second_and_refuses_the_next_start(
        live: LiveStack, relay_account: MqttClient, tmp_path: Path) -> None:
    camera = live.box.cameras["live_on_alert"]
    # Control: the same forged start for a live-on-alert camera is honoured, so the refusals above are real.
    session_id = forge_start(live, relay_account, camera)
    offers = relay_account.expect(1, timeout=15)
    assert topics.parse(offers[0].topic).session_id == session_id
    wait_for(lambda: any(s["session_id"] == session_id and s["state"] == "live" for s in live.sessions()), 20,
             f"media at the relay; streams log:\n{live.streams.tail()}")
    revoked_at = time.monotonic()
    answer = live.client.patch(f"/v1/cameras/{camera}", headers=live.owner, json={"sharing_mode": "registry_only"})
    assert answer.status_code == 200, answer.text

    def ended() -> dict[str, object] | None:
        rows = httpx.get(f"{live.streams.url}/v1/sessions/{session_id}", headers=live.dispatcher, timeout=5).json()
        return rows if rows["state"] == "ended" else None
    row = wait_for(ended, 5, "the session to end", every=0.05)
    took = time.monotonic() - revoked_at
    print(f"revocation to session end: {took * 1000:.0f} ms (reason {row['end_reason']})")
    assert took < 1.0 and row["end_reason"] == "revoked"
    # The box heard it too (PolicyUpdate): a new start for the camera gets no offer.
    wait_for(lambda: "policy" in live.box.log_tail(400).lower(), 10, "the box to apply the policy update")
    forge_start(live, relay_account, camera)
    assert relay_account.drain(wait=4.0) == []
