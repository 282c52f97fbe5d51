"""Helpers for the box's live-video tests: the publisher driven directly, and a viewer standing in for the relay.

The viewer is a plain aiortc peer connection that answers the box's offer and decodes what arrives with
aiortc's normal receiver. No broker: the publisher's `send_offer` hands the offer straight to the viewer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from edge_core.config import CameraConfig, LiveConfig
from edge_core.live import Live
from edge_core.policy import Policy
from edge_core.source import SourcePool, _av_open
from proto.lookout.v1 import lookout_pb2 as pb
from proto.wire import timestamp


class Viewer:
    """Answers offers (or rejects, or stays silent) and records every decoded frame: (arrival, w, h, pts)."""

    def __init__(self, *, answer: str = "answer") -> None:
        self.mode = answer
        self.frames: list[tuple[float, int, int, int]] = []
        self.pcs: list[RTCPeerConnection] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    async def answer(self, offer: pb.SessionDescription) -> pb.SessionDescription | None:
        """The relay's reply to an offer (None: no reply at all)."""
        if self.mode == "silent":
            return None
        if self.mode == "reject":
            return pb.SessionDescription(session_id=offer.session_id, type="reject", sdp="relay full")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(pc)
        pc.on("track", self._on_track)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pb.SessionDescription(session_id=offer.session_id, type="answer", sdp=pc.localDescription.sdp)

    def _on_track(self, track: MediaStreamTrack) -> None:
        task = asyncio.get_running_loop().create_task(self._consume(track))
        self._tasks.add(task)

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame: Any = await track.recv()
                self.frames.append((time.monotonic(), frame.width, frame.height, frame.pts))

    def frames_after(self, moment: float) -> int:
        """How many frames were decoded after a monotonic instant."""
        return sum(1 for f in self.frames if f[0] > moment)

    async def close(self) -> None:
        """Close every peer connection and stop consuming."""
        for pc in self.pcs:
            await pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class CountingOpener:
    """av.open, counted: how many RTSP connections the box made."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, url: str, **kwargs: Any) -> Any:
        self.calls += 1
        return _av_open(url, **kwargs)


class Publisher:
    """The box's live video (Live + SourcePool + Policy) for one camera, its offers answered by a Viewer."""

    def __init__(self, tmp_path: Path, url: str, *, warm: bool = False, mode: str = "live_on_alert",
                 viewer: Viewer | None = None, answer_timeout_s: float = 10.0) -> None:
        self.config = LiveConfig(warm_standby=warm, ice_host_addresses=("127.0.0.1",),
                                 answer_timeout_s=answer_timeout_s, rtsp_timeout_s=5.0)
        self.cameras = (CameraConfig("cam-1", url, "Front door"),)
        self.viewer = viewer or Viewer()
        self.offers: list[pb.SessionDescription] = []
        self.changes: list[list[str]] = []
        self.opener = CountingOpener()
        self.policy = Policy(tmp_path / "live-policy.json", ["cam-1"], {"cam-1": mode})
        self.pool = SourcePool(self.cameras, self.config, opener=self.opener)
        self.live = Live(self.config, self.cameras, self.policy, self.pool, self.send_offer,
                         on_change=lambda: self.changes.append(self.live.live_session_ids()))
        self._tasks: set[asyncio.Task[Any]] = set()

    async def send_offer(self, offer: pb.SessionDescription) -> None:
        """What the Link would publish: here the viewer answers it, as the relay would, a moment later."""
        self.offers.append(offer)
        task = asyncio.get_running_loop().create_task(self._reply(offer))
        self._tasks.add(task)

    async def _reply(self, offer: pb.SessionDescription) -> None:
        answer = await self.viewer.answer(offer)
        if answer is not None:
            self.live.answer(answer)

    def start(self, session_id: str = "s-1", *, alert_id: str = "alert-1", seconds: float = 120) -> str:
        """Send a StreamStart as the relay would."""
        return self.live.stream_start(pb.StreamStart(
            session_id=session_id, camera_id="cam-1", alert_id=alert_id, agency_id="agency-1", relay_id="relay-1",
            expires_at=timestamp(datetime.now(UTC) + timedelta(seconds=seconds))))

    async def close(self) -> None:
        """End every session, the sources and the viewer."""
        await self.live.close()
        await self.pool.close()
        await self.viewer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def wait_for(predicate: Any, timeout: float, what: str) -> float:
    """Poll `predicate()` every 10 ms; the monotonic time it became true, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
