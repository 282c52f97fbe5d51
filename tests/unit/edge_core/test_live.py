"""Live video decisions: refused starts send and open nothing, duplicates are ignored, revocation always wins."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge_core.config import CameraConfig, LiveConfig
from edge_core.fanout import Fanout
from edge_core.live import Live
from edge_core.policy import Policy
from proto.lookout.v1 import lookout_pb2 as pb
from proto.wire import timestamp

NOW = datetime(2030, 5, 6, 12, 0, tzinfo=UTC)
CAMERAS = (CameraConfig("cam-1", "rtsp://admin:s3cret@192.168.1.20/1", "Front door"),
           CameraConfig("cam-2", "rtsp://admin:s3cret@192.168.1.21/1", "Shop"))


class FakeSession:
    """Stands in for PublishSession: records what it was asked, runs until ended."""

    made: list[FakeSession] = []

    def __init__(self, start: pb.StreamStart, until: datetime, fanout: Fanout, send_offer: Any, **kwargs: Any) -> None:
        self.start, self.until, self.fanout = start, until, fanout
        self.session_id, self.camera_id = start.session_id, start.camera_id
        self.state, self.reason = "negotiating", ""
        self.answers: list[pb.SessionDescription] = []
        self.ended = asyncio.Event()
        FakeSession.made.append(self)

    def end(self, reason: str) -> None:
        if not self.ended.is_set():
            self.reason = reason
            self.ended.set()

    def deliver(self, description: pb.SessionDescription) -> bool:
        self.answers.append(description)
        return len(self.answers) == 1

    def shorten(self, until: datetime) -> None:
        self.until = min(self.until, until)

    async def run(self) -> str:
        await self.ended.wait()
        return self.reason


class FakePool:
    def __init__(self) -> None:
        self.users: dict[str, int] = {}
        self.acquired: list[str] = []

    def acquire(self, camera_id: str) -> Fanout:
        self.acquired.append(camera_id)
        self.users[camera_id] = self.users.get(camera_id, 0) + 1
        return Fanout(gop_max_bytes=1 << 20, queue_max_units=10)

    def release(self, camera_id: str) -> None:
        self.users[camera_id] -= 1


class Box:
    def __init__(self, tmp_path: Path, modes: dict[str, str], max_sessions: int = 4) -> None:
        FakeSession.made = []
        self.offers: list[pb.SessionDescription] = []
        self.changes = 0
        self.pool = FakePool()
        self.policy = Policy(tmp_path / "live-policy.json", ["cam-1", "cam-2"], modes)

        async def send_offer(offer: pb.SessionDescription) -> None:
            self.offers.append(offer)

        self.live = Live(LiveConfig(max_sessions=max_sessions), CAMERAS, self.policy, self.pool,  # type: ignore[arg-type]
                         send_offer, on_change=self._changed, clock=lambda: NOW,
                         session_factory=FakeSession)  # type: ignore[arg-type]

    def _changed(self) -> None:
        self.changes += 1


def start(session: str = "s1", camera: str = "cam-1", *, alert: str = "a1", grant: str = "",
          minutes: int = 10) -> pb.StreamStart:
    return pb.StreamStart(session_id=session, camera_id=camera, alert_id=alert, grant_id=grant, agency_id="ag-1",
                          expires_at=timestamp(NOW + timedelta(minutes=minutes)))


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(main())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.parametrize(("modes", "message", "why"), [
    ({"cam-1": "registry_only"}, start(), "registry_only"),
    ({"cam-1": "on_request"}, start(), "on_request"),
    ({"cam-1": "live_on_consent"}, start(), "live_on_consent"),
    ({"cam-1": "live_on_alert"}, start(minutes=-1), "expired"),
    ({"cam-1": "live_on_alert"}, start(camera="cam-9"), "not configured"),
    ({"cam-1": "live_on_alert"}, start(session="bad/id"), "session_id"),
    ({"cam-1": "live_on_consent"}, start(alert="", grant="g-unknown"), "grant"),
])
def test_a_refused_start_opens_nothing_and_sends_nothing(tmp_path: Path, modes: dict[str, str],
                                                         message: pb.StreamStart, why: str) -> None:
    async def main() -> None:
        box = Box(tmp_path, modes)
        outcome = box.live.stream_start(message)
        await settle()
        assert outcome.startswith("refused:") and why in outcome
        assert box.pool.acquired == [] and FakeSession.made == [] and box.offers == []
        assert box.live.live_session_ids() == [] and box.changes == 0

    run(main)


def test_an_allowed_start_runs_once_and_duplicates_are_ignored(tmp_path: Path) -> None:
    async def main() -> None:
        box = Box(tmp_path, {"cam-1": "live_on_alert"})
        assert "started" in box.live.stream_start(start())
        assert "duplicate ignored" in box.live.stream_start(start())
        await settle()
        assert len(FakeSession.made) == 1 and box.pool.acquired == ["cam-1"]
        assert box.live.live_session_ids() == ["s1"] and box.changes == 1
        [info] = box.live.sessions()
        assert (info.label, info.agency_id, info.alert_id) == ("Front door", "ag-1", "a1")
        assert FakeSession.made[0].until == NOW + timedelta(minutes=10)
        assert "stopping" in box.live.stream_stop(pb.StreamStop(session_id="s1", camera_id="cam-1"))
        await settle()
        assert box.live.live_session_ids() == [] and box.changes == 2 and box.pool.users["cam-1"] == 0
        assert "nothing to do" in box.live.stream_stop(pb.StreamStop(session_id="s1", camera_id="cam-1"))

    run(main)


def test_at_most_max_sessions_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        box = Box(tmp_path, {"cam-1": "live_on_alert", "cam-2": "live_on_alert"}, max_sessions=2)
        assert "started" in box.live.stream_start(start("s1"))
        assert "started" in box.live.stream_start(start("s2", "cam-2"))
        assert "max_sessions" in box.live.stream_start(start("s3", alert="a2"))
        box.live.stream_stop(pb.StreamStop(session_id="s1"))
        await settle()
        assert "started" in box.live.stream_start(start("s3", alert="a2"))
        await box.live.close()

    run(main)


def test_a_policy_update_ends_at_once_every_session_it_no_longer_allows(tmp_path: Path) -> None:
    async def main() -> None:
        box = Box(tmp_path, {"cam-1": "live_on_alert", "cam-2": "live_on_alert"})
        box.live.stream_start(start("s1"))
        box.live.stream_start(start("s2", "cam-2"))
        outcome = box.live.policy_update(pb.PolicyUpdate(camera_id="cam-1", version=3,
                                                         sharing_mode=pb.SHARING_MODE_LIVE_ON_CONSENT))
        assert "ended s1" in outcome
        assert "no longer allowed" in FakeSession.made[0].reason and not FakeSession.made[1].ended.is_set()
        await settle()
        assert box.live.live_session_ids() == ["s2"]
        stale = pb.PolicyUpdate(camera_id="cam-1", version=2, sharing_mode=pb.SHARING_MODE_LIVE_ON_ALERT)
        assert "ignored" in box.live.policy_update(stale)
        assert "refused" in box.live.stream_start(start("s1"))
        await box.live.close()

    run(main)


def test_a_revoked_grant_ends_its_session_and_a_shortened_one_shortens_it(tmp_path: Path) -> None:
    async def main() -> None:
        box = Box(tmp_path, {"cam-1": "live_on_consent"})
        grant = pb.ConsentGrant(grant_id="g1", starts_at=timestamp(NOW - timedelta(hours=1)),
                                expires_at=timestamp(NOW + timedelta(hours=1)))
        box.live.policy_update(pb.PolicyUpdate(camera_id="cam-1", version=1, grants=[grant],
                                               sharing_mode=pb.SHARING_MODE_LIVE_ON_CONSENT))
        assert "started" in box.live.stream_start(start(alert="", grant="g1"))
        grant.expires_at.CopyFrom(timestamp(NOW + timedelta(minutes=2)))
        box.live.policy_update(pb.PolicyUpdate(camera_id="cam-1", version=2, grants=[grant],
                                               sharing_mode=pb.SHARING_MODE_LIVE_ON_CONSENT))
        assert FakeSession.made[0].until == NOW + timedelta(minutes=2)
        grant.revoked = True
        box.live.policy_update(pb.PolicyUpdate(camera_id="cam-1", version=3, grants=[grant],
                                               sharing_mode=pb.SHARING_MODE_LIVE_ON_CONSENT))
        assert FakeSession.made[0].ended.is_set()
        await box.live.close()

    run(main)


def test_stop_sharing_on_the_box_is_never_undone_by_a_retry(tmp_path: Path) -> None:
    async def main() -> None:
        box = Box(tmp_path, {"cam-1": "live_on_alert"})
        box.live.stream_start(start("s1"))
        assert await box.live.stop_sharing("s1")
        assert FakeSession.made[0].reason == "stopped by the owner on the box"
        await settle()
        assert box.live.live_session_ids() == []
        assert "revoked" in box.live.stream_start(start("s1"))  # the relay's retry
        assert "revoked" in box.live.stream_start(start("s1-bis"))  # or a new session for the same alert
        assert len(FakeSession.made) == 1
        assert not await box.live.stop_sharing("s1")
        again = Box(tmp_path, {"cam-1": "live_on_alert"})  # after a reboot
        assert "revoked" in again.live.stream_start(start("s1"))
        assert "started" in again.live.stream_start(start("s2", alert="a2"))
        await again.live.close()

    run(main)


def test_answers_go_to_their_session_once(tmp_path: Path) -> None:
    async def main() -> None:
        box = Box(tmp_path, {"cam-1": "live_on_alert"})
        box.live.stream_start(start("s1"))
        answer = pb.SessionDescription(session_id="s1", type="answer", sdp="v=0")
        assert "received" in box.live.answer(answer)
        assert "ignored" in box.live.answer(answer)  # a QoS 1 duplicate
        assert "ignored" in box.live.answer(pb.SessionDescription(session_id="s9", type="answer"))
        await box.live.close()
        assert FakeSession.made[0].reason == "the box is shutting down"

    run(main)
