"""The agent process over a real Mosquitto: stream commands, offers and answers, live ids in the status, the LAN stop.

A viewer in the test plays the relay: it takes the box's offer from the broker, answers through the broker and
decodes the frames. The box checks its own policy: a registry-only camera never produces an offer.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_core.ice import restrict_host_addresses
from proto import topics
from proto.lookout.v1 import lookout_pb2 as pb
from proto.wire import decode, encode, timestamp
from tests.integration.edge_core.support import Box, Watcher, status_topic, wait_until
from tests.integration.media.edge_support import Viewer
from tests.support.mosquitto import Mosquitto
from tests.support.pgcluster import free_port
from tests.support.rtsp_camera import APT_PACKAGES, RtspCamera, gstreamer_available

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
PIN = "482913"


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    with Mosquitto() as mosquitto:
        yield mosquitto


@pytest.fixture
def camera() -> Iterator[RtspCamera]:
    if not gstreamer_available():
        pytest.fail(f"GStreamer's RTSP server is missing for /usr/bin/python3: apt-get install {APT_PACKAGES}")
    with RtspCamera(gop=25, user="admin", password="s3cret") as cam:
        yield cam


@pytest.fixture
def box(tmp_path: Path, broker: Mosquitto, camera: RtspCamera) -> Iterator[Box]:
    made = Box(tmp_path, broker.port, cameras=("cam-live", "cam-reg"), lan_port=free_port(),
               rtsp_urls={"cam-live": camera.url, "cam-reg": camera.url},
               modes={"cam-live": "live_on_alert", "cam-reg": "registry_only"},
               extra='[live]\nice_host_addresses = ["127.0.0.1"]\nanswer_timeout_s = 10\n')
    yield made
    made.kill()


def command(box: Box, watcher: Watcher, **kinds: object) -> None:
    message = pb.DeviceCommand(command_id=str(uuid.uuid4()), issued_at=timestamp(datetime.now(UTC)), **kinds)
    watcher.client.publish(topics.device_commands(box.device_id), encode(message), qos=1).wait_for_publish(5)


def start(session: str, camera: str, alert: str) -> pb.StreamStart:
    return pb.StreamStart(session_id=session, camera_id=camera, alert_id=alert, agency_id="agency-1",
                          relay_id="relay-1", expires_at=timestamp(datetime.now(UTC) + timedelta(minutes=5)))


def live_ids(watcher: Watcher, box: Box) -> list[str] | None:
    """live_session_ids of the newest online status, if any."""
    statuses = [decode(pb.DeviceStatus, m.payload) for m in watcher.on(status_topic(box))]
    online = [s for s in statuses if s.online]
    return list(online[-1].live_session_ids) if online else None


def offers(watcher: Watcher, box: Box) -> list[str]:
    prefix = f"{topics.PREFIX}/devices/{box.device_id}/webrtc/"
    with watcher.lock:
        return [m.topic for m in watcher.messages if m.topic.startswith(prefix) and m.topic.endswith("/offer")]


def lan_stop(box: Box, session: str) -> str:
    body = urllib.parse.urlencode({"pin": PIN, "session": session}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{box.lan_port}/stop", data=body, timeout=10) as answer:
        return answer.read().decode()


async def answer_offer(watcher: Watcher, box: Box, viewer: Viewer, session: str) -> None:
    """Do what the relay does with the box's offer: answer it on the session's answer topic."""
    topic = topics.device_webrtc(box.device_id, session, "offer")
    for _ in range(1000):
        if watcher.on(topic):
            break
        await asyncio.sleep(0.01)
    offer = decode(pb.SessionDescription, watcher.on(topic)[0].payload)
    answer = await viewer.answer(offer)
    assert answer is not None
    watcher.client.publish(topics.device_webrtc(box.device_id, session, "answer"), encode(answer), qos=1)


async def frames(viewer: Viewer, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(viewer.frames) < count:
        assert time.monotonic() < deadline, f"only {len(viewer.frames)} frames decoded"
        await asyncio.sleep(0.05)


def test_commands_offers_answers_status_and_the_owners_stop(box: Box, broker: Mosquitto) -> None:
    restrict_host_addresses(["127.0.0.1"])  # the viewer, in this process, on loopback too
    try:
        with Watcher(broker.port, f"{topics.PREFIX}/devices/{box.device_id}/#") as watcher:
            box.start()
            wait_until(lambda: live_ids(watcher, box) == [], 30, f"online status; agent log:\n{box.agent_log()}")
            command(box, watcher, stream_start=start("s-reg", "cam-reg", "alert-1"))
            wait_until(lambda: "stream_start refused" in box.agent_log(), 10, "the refusal in the log")

            command(box, watcher, stream_start=start("s-live", "cam-live", "alert-1"))
            wait_until(lambda: live_ids(watcher, box) == ["s-live"], 10, "the session in the status")
            viewer = Viewer()

            async def stream(session: str) -> None:
                await answer_offer(watcher, box, viewer, session)
                await frames(viewer, 25, 20)

            asyncio.run(_then_close(viewer, stream("s-live")))
            assert {(f[1], f[2]) for f in viewer.frames} == {(1280, 720)}
            command(box, watcher, stream_stop=pb.StreamStop(session_id="s-live", camera_id="cam-live"))
            wait_until(lambda: live_ids(watcher, box) == [], 10, "the session gone from the status")

            command(box, watcher, stream_start=start("s-two", "cam-live", "alert-2"))
            wait_until(lambda: live_ids(watcher, box) == ["s-two"], 10, "the second session")
            with urllib.request.urlopen(f"http://127.0.0.1:{box.lan_port}/", timeout=10) as page:
                assert "Stop sharing" in page.read().decode()
            assert "stopped" in lan_stop(box, "s-two")
            wait_until(lambda: live_ids(watcher, box) == [], 10, "the owner's stop in the status")
            command(box, watcher, stream_start=start("s-two", "cam-live", "alert-2"))  # the relay retries
            wait_until(lambda: "revoked by the owner" in box.agent_log(), 10, "the retry refused")
            time.sleep(1.0)
            assert sorted(offers(watcher, box)) == sorted(topics.device_webrtc(box.device_id, s, "offer")
                                                          for s in ("s-live", "s-two"))
            assert (box.data / "live-policy.json").exists()
    finally:
        restrict_host_addresses([])
    assert box.stop() == 0
    assert "s3cret" not in box.agent_log()


async def _then_close(viewer: Viewer, work: object) -> None:
    try:
        await work  # type: ignore[misc]
    finally:
        await viewer.close()
