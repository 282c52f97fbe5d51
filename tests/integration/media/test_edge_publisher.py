"""The box's live-video publisher against the simulated RTSP camera and an aiortc viewer standing in for the relay.

What is proved: decoded 1280x720 frames arrive (single- and multi-slice IDRs), warm standby starts on a keyframe
at once, a camera restart only pauses the stream, refused starts send and open nothing, and every way a session
ends (stop, expiry, revocation, rejection, no answer) closes it. Printed timings are the measured figures.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from proto.lookout.v1 import lookout_pb2 as pb
from tests.integration.media.edge_support import Publisher, Viewer, wait_for
from tests.support.rtsp_camera import APT_PACKAGES, RtspCamera, gstreamer_available

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
WIDTH, HEIGHT, FPS, GOP = 1280, 720, 25, 50  # one keyframe every 2 s, as many cameras do


@pytest.fixture(scope="module", autouse=True)
def require_gstreamer() -> None:
    """No skipping: `make test` installs GStreamer, so its absence is a broken setup."""
    if not gstreamer_available():
        pytest.fail(f"GStreamer's RTSP server is missing for /usr/bin/python3: apt-get install {APT_PACKAGES}")


class Nvr:
    """Another client (a recorder) that keeps the camera's encoder running, so the box joins mid-GOP."""

    def __init__(self, url: str) -> None:
        self.container = av.open(url, options={"rtsp_transport": "tcp"}, timeout=10)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        try:
            for _ in self.container.demux(video=0):
                if self.stopping.is_set():
                    break
        except av.error.FFmpegError:
            pass

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.container.close()


@pytest.fixture
def camera() -> Iterator[RtspCamera]:
    with RtspCamera(width=WIDTH, height=HEIGHT, fps=FPS, gop=GOP, user="admin", password="s3cret") as cam:
        yield cam


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(main())


def assert_monotonic(viewer: Viewer) -> None:
    pts = [f[3] for f in viewer.frames]
    assert all(b > a for a, b in itertools.pairwise(pts)), "session timestamps went backwards"


@pytest.mark.parametrize("slices", [1, 4])
def test_a_session_delivers_decoded_720p_frames_and_stops_cleanly(tmp_path: Path, slices: int,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    with RtspCamera(width=WIDTH, height=HEIGHT, fps=FPS, gop=GOP, slices=slices, user="admin",
                    password="s3cret") as camera:
        async def main() -> None:
            box = Publisher(tmp_path, camera.url)
            try:
                assert "started" in box.start()
                assert box.live.live_session_ids() == ["s-1"] and box.changes == [["s-1"]]
                await wait_for(lambda: len(box.viewer.frames) >= 60, 20, "60 decoded frames")
                assert {(w, h) for _, w, h, _ in box.viewer.frames} == {(WIDTH, HEIGHT)}
                assert_monotonic(box.viewer)
                [offer] = box.offers
                assert "H264" in offer.sdp and "VP8" not in offer.sdp and "a=sendonly" in offer.sdp
                box.live.stream_stop(pb.StreamStop(session_id="s-1", camera_id="cam-1", reason="alert resolved"))
                await wait_for(lambda: not box.live.live_session_ids(), 5, "the session to end")
                assert box.changes[-1] == [] and box.pool.source("cam-1") is None  # no warm standby: closed
                assert box.viewer.pcs[0].connectionState in ("closed", "failed") or await _closes(box)
            finally:
                await box.close()

        run(main)
    assert "s3cret" not in caplog.text


async def _closes(box: Publisher) -> bool:
    await wait_for(lambda: box.viewer.pcs[0].connectionState in ("closed", "failed"), 40, "the viewer to see the end")
    return True


def first_frame_after_start(tmp_path: Path, url: str, *, warm: bool) -> float:
    """Seconds from StreamStart to the viewer's first decoded frame, the camera running mid-GOP."""
    result: list[float] = []

    async def main() -> None:
        box = Publisher(tmp_path, url, warm=warm)
        try:
            box.pool.start_warm()
            if warm:
                source = box.pool.source("cam-1")
                assert source is not None
                await wait_for(lambda: bool(source.fanout.cache.snapshot()), 10, "a cached GOP")
            await asyncio.sleep(0.9)  # land in the middle of a GOP
            started = time.monotonic()
            assert "started" in box.start()
            first = await wait_for(lambda: bool(box.viewer.frames), 10, "the first frame")
            result.append(first - started)
            assert box.viewer.frames[0][1:3] == (WIDTH, HEIGHT)
        finally:
            await box.close()

    run(main)
    return result[0]


def test_warm_standby_starts_on_a_keyframe_at_once(tmp_path: Path, camera: RtspCamera) -> None:
    nvr = Nvr(camera.url)
    try:
        time.sleep(0.5)
        warm = first_frame_after_start(tmp_path / "warm", camera.url, warm=True)
        cold = first_frame_after_start(tmp_path / "cold", camera.url, warm=False)
    finally:
        nvr.close()
    print(f"\nfirst decoded frame after StreamStart: warm standby {warm:.3f}s, cold {cold:.3f}s (GOP 2 s)")
    assert warm < 0.8


def test_the_stream_resumes_after_the_camera_restarts(tmp_path: Path, camera: RtspCamera) -> None:
    async def main() -> None:
        box = Publisher(tmp_path, camera.url)
        try:
            box.start()
            await wait_for(lambda: len(box.viewer.frames) >= 25, 20, "frames before the restart")
            await asyncio.to_thread(camera.restart, 1.0)
            back = time.monotonic()
            await wait_for(lambda: box.viewer.frames_after(back) >= 25, 30, "frames after the restart")
            source = box.pool.source("cam-1")
            assert source is not None and source.connections >= 2
            assert box.live.live_session_ids() == ["s-1"] and len(box.offers) == 1  # the same session went on
            assert {(w, h) for _, w, h, _ in box.viewer.frames} == {(WIDTH, HEIGHT)}
            assert_monotonic(box.viewer)
        finally:
            await box.close()

    run(main)


@pytest.mark.parametrize("warm", [False, True])
def test_a_refused_start_sends_no_offer_and_opens_no_camera(tmp_path: Path, camera: RtspCamera, warm: bool) -> None:
    async def main() -> None:
        box = Publisher(tmp_path, camera.url, mode="registry_only", warm=warm)
        try:
            box.pool.start_warm()
            await asyncio.sleep(0.5)
            opened = box.opener.calls
            assert opened == (1 if warm else 0)
            outcome = box.start()
            await asyncio.sleep(1.5)
            assert outcome.startswith("refused:")
            assert box.offers == [] and box.viewer.pcs == [] and box.viewer.frames == []
            assert box.opener.calls == opened and box.changes == []
        finally:
            await box.close()

    run(main)


def test_expiry_revocation_and_the_owners_stop_end_sessions_within_a_second(tmp_path: Path,
                                                                             camera: RtspCamera) -> None:
    async def main() -> None:
        box = Publisher(tmp_path, camera.url, warm=True)
        try:
            box.pool.start_warm()
            box.start("s-expiring", alert_id="alert-1", seconds=3)
            await wait_for(lambda: box.viewer.frames, 10, "frames")
            await wait_for(lambda: not box.live.live_session_ids(), 5, "expiry")

            box.start("s-policy", alert_id="alert-2")
            await wait_for(lambda: box.viewer.frames_after(time.monotonic() - 0.05), 10, "frames")
            revoked = time.monotonic()
            box.live.policy_update(pb.PolicyUpdate(camera_id="cam-1", version=7,
                                                   sharing_mode=pb.SHARING_MODE_REGISTRY_ONLY))
            ended = await wait_for(lambda: not box.live.live_session_ids(), 5, "revocation")
            assert ended - revoked < 1.0
            assert box.viewer.frames_after(ended + 0.5) == 0  # nothing more reaches the viewer

            box.live.policy_update(pb.PolicyUpdate(camera_id="cam-1", version=8,
                                                   sharing_mode=pb.SHARING_MODE_LIVE_ON_ALERT))
            box.start("s-owner", alert_id="alert-3")
            await wait_for(lambda: len(box.live.sessions()) == 1, 5, "a session")
            assert await box.live.stop_sharing("s-owner")
            await wait_for(lambda: not box.live.live_session_ids(), 1, "the owner's stop")
            assert "revoked" in box.start("s-owner", alert_id="alert-3")  # the relay's retry changes nothing
            assert box.pool.source("cam-1") is not None  # warm standby stays, sending nothing
        finally:
            await box.close()

    run(main)


@pytest.mark.parametrize(("mode", "reason"), [("reject", "rejected by the relay: relay full"),
                                              ("silent", "no answer within 1s")])
def test_a_rejected_or_unanswered_offer_closes_the_session(tmp_path: Path, camera: RtspCamera, mode: str,
                                                           reason: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")

    async def main() -> None:
        box = Publisher(tmp_path, camera.url, viewer=Viewer(answer=mode), answer_timeout_s=1.0)
        try:
            box.start()
            await wait_for(lambda: not box.live.live_session_ids(), 5, "the session to end")
            assert len(box.offers) == 1 and box.pool.source("cam-1") is None
        finally:
            await box.close()

    run(main)
    assert reason in caplog.text
