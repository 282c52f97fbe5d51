"""One live session: a sendonly WebRTC peer connection carrying one camera's H.264, offered to the relay.

The box only dials out: it makes the offer (all ICE candidates gathered, no trickle), the relay answers over
MQTT, and the media flows from the box to the relay. The session ends on stream-stop, expiry, revocation,
a rejected or missing answer, or a failed connection; the peer connection is always closed explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCSessionDescription,
)

from edge_core.fanout import Fanout
from edge_core.track import PassthroughTrack
from proto.lookout.v1 import lookout_pb2 as pb

log = logging.getLogger(__name__)
SendOffer = Callable[[pb.SessionDescription], Awaitable[None]]


def ice_servers(start: pb.StreamStart) -> list[RTCIceServer]:
    """The relay's STUN/TURN servers; none given means none (aiortc would otherwise use a public STUN server)."""
    return [RTCIceServer(urls=list(s.urls), username=s.username or None, credential=s.credential or None)
            for s in start.ice_servers if s.urls]


def h264_codecs() -> list[RTCRtpCodecCapability]:
    """aiortc's H.264 codecs: forced, or the answer may pick VP8 and the viewer decodes nothing."""
    return [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]


class PublishSession:
    """Offer, answer, stream, end: `run()` does it all and returns why the session ended."""

    def __init__(self, start: pb.StreamStart, until: datetime, fanout: Fanout, send_offer: SendOffer, *,
                 answer_timeout_s: float = 10.0, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.start = start
        self.session_id = start.session_id
        self.camera_id = start.camera_id
        self.until = until
        self.state = "negotiating"
        self.reason = ""
        self.pc: RTCPeerConnection | None = None
        self.track = PassthroughTrack(fanout)
        self.started_at = clock()
        self._send_offer = send_offer
        self._answer_timeout_s = answer_timeout_s
        self._clock = clock
        self._answer: asyncio.Future[pb.SessionDescription | None] = asyncio.get_running_loop().create_future()
        self._ended = asyncio.Event()
        self._expiry: asyncio.TimerHandle | None = None

    def end(self, reason: str) -> None:
        """Ask the session to end (idempotent; the first reason is kept)."""
        if self._ended.is_set():
            return
        self.reason = reason
        self._ended.set()
        if not self._answer.done():
            self._answer.set_result(None)

    def deliver(self, description: pb.SessionDescription) -> bool:
        """The relay's answer (or rejection); False if one was already taken."""
        if self._answer.done():
            return False
        self._answer.set_result(description)
        return True

    def shorten(self, until: datetime) -> None:
        """End no later than `until` (a grant was shortened)."""
        if until < self.until:
            self.until = until
            self._arm_expiry()

    async def run(self) -> str:
        """Negotiate, stream until ended, tear down; the reason it ended."""
        self._arm_expiry()
        try:
            if await self._negotiate():
                await self._ended.wait()
        except ConnectionError as exc:  # the broker link is down: the relay will not hear of this session
            self.end(f"failed: {exc}")
        except Exception as exc:
            log.exception("session %s failed", self.session_id)
            self.end(f"failed: {type(exc).__name__}")
        finally:
            await self._teardown()
        return self.reason

    def _arm_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        delay = max(0.0, (self.until - self._clock()).total_seconds())
        self._expiry = asyncio.get_running_loop().call_later(delay, self.end, "expired")

    async def _negotiate(self) -> bool:
        """Make and send the offer, apply the answer; False if the session ended meanwhile."""
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers(self.start)))
        pc.on("connectionstatechange", self._on_state)
        sender = pc.addTrack(self.track)
        transceiver = next(t for t in pc.getTransceivers() if t.sender is sender)
        transceiver.direction = "sendonly"
        transceiver.setCodecPreferences(h264_codecs())
        await pc.setLocalDescription(await pc.createOffer())  # gathers every candidate: no trickle
        if self._ended.is_set():
            return False  # stopped or revoked while gathering: nothing was sent
        await self._send_offer(pb.SessionDescription(session_id=self.session_id, type="offer",
                                                     sdp=pc.localDescription.sdp))
        answered, _ = await asyncio.wait({self._answer}, timeout=self._answer_timeout_s)  # see link._wait
        if not answered:
            self.end(f"no answer within {self._answer_timeout_s:g}s")
            return False
        answer = self._answer.result()
        if answer is None or self._ended.is_set():
            return False
        if answer.type != "answer":
            self.end(f"rejected by the relay: {answer.sdp[:200]}")
            return False
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
        return True

    async def _on_state(self) -> None:
        state = self.pc.connectionState if self.pc else "closed"
        if state == "connected":
            self.state = "live"
            log.info("session %s: connected, camera %s is live", self.session_id, self.camera_id)
        elif state in ("failed", "closed"):
            self.end(f"connection {state}")

    async def _teardown(self) -> None:
        self.state = "closed"
        if self._expiry is not None:
            self._expiry.cancel()
        self.track.stop()
        if self.pc is not None:
            with contextlib.suppress(Exception):  # closing must never keep a session half-open
                await self.pc.close()
