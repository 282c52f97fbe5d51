"""WebRTC peer connections of the relay: the box's incoming stream (tapped before decoding) and each viewer.

aiortc decodes every received track in a worker thread. The relay forwards instead: it swaps the
receiver's decoder queue for a tap that hands each re-assembled access unit to the hub, so the decoder
thread idles and no frame is ever decoded or re-encoded here.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Sequence
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)

from services.streams.media.hub import Hub, ViewerTrack

log = logging.getLogger("lookout.streams.media")
MAX_SDP_BYTES = 32 * 1024
_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"  # aiortc's private name; checked by check_aiortc()


class OfferError(ValueError):
    """An SDP offer the relay cannot take (malformed, too big, no H.264 video)."""


class _Tap(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue: complete access units go to the hub, not to a decoder."""

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self._hub = hub

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Called on the event loop with (codec, JitterFrame); None (shutdown) still reaches the idle thread."""
        if item is None:
            super().put(item, block, timeout)
            return
        _codec, frame = item
        self._hub.push(frame.data, frame.timestamp)


def check_aiortc() -> None:
    """Fail at start-up, not mid-alert, if this aiortc no longer has the decoder queue the tap replaces."""
    receiver = RTCRtpReceiver.__new__(RTCRtpReceiver)
    RTCRtpReceiver.__init__(receiver, "video", _DummyTransport())  # type: ignore[arg-type]
    if not isinstance(getattr(receiver, _DECODER_QUEUE, None), queue.Queue):
        raise RuntimeError("this aiortc version has no receiver decoder queue to tap; pin aiortc to a tested one")


class _DummyTransport:
    """Enough of an RTCDtlsTransport for RTCRtpReceiver's constructor."""

    state = "new"
    transport = None


def configuration(ice_servers: Sequence[dict[str, Any]]) -> RTCConfiguration:
    """aiortc configuration from the settings' STUN/TURN list (empty: host candidates only)."""
    servers = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
               for s in ice_servers]
    return RTCConfiguration(iceServers=servers)


def h264_codecs() -> list[Any]:
    """aiortc's H.264 codecs: the only ones a passthrough relay may negotiate."""
    return [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in ("video/H264", "video/rtx")]


def check_offer(sdp: str) -> None:
    """Refuse an offer that is oversized, not SDP, or has no H.264 video."""
    if len(sdp.encode()) > MAX_SDP_BYTES:
        raise OfferError(f"SDP offer larger than {MAX_SDP_BYTES} bytes")
    if not sdp.startswith("v=0") or "\nm=video " not in sdp:
        raise OfferError("not an SDP offer with a video section")
    if "H264/90000" not in sdp:
        raise OfferError("the offer has no H.264 (the relay forwards the camera's H.264 without re-encoding)")


async def _answer(pc: RTCPeerConnection, sdp: str) -> str:
    """Apply a remote offer and make the answer; an offer aiortc cannot use closes the connection."""
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
    except Exception as exc:
        await pc.close()
        raise OfferError(f"unusable offer: {type(exc).__name__}: {str(exc)[:200]}") from None
    return str(pc.localDescription.sdp)


async def answer_ingest(sdp: str, hub: Hub, *, ice_servers: Sequence[dict[str, Any]],
                        on_state: Callable[[str], None]) -> tuple[RTCPeerConnection, str]:
    """Answer the box's offer; its video access units go to the hub without decoding."""
    check_offer(sdp)
    pc = RTCPeerConnection(configuration(ice_servers))
    pc.on("connectionstatechange", lambda: on_state(pc.connectionState))

    @pc.on("track")
    def tap(track: Any) -> None:
        for transceiver in pc.getTransceivers():
            if transceiver.receiver.track is track:
                setattr(transceiver.receiver, _DECODER_QUEUE, _Tap(hub))

    return pc, await _answer(pc, sdp)


async def answer_viewer(sdp: str, track: ViewerTrack, *, ice_servers: Sequence[dict[str, Any]],
                        on_state: Callable[[str], None]) -> tuple[RTCPeerConnection, str]:
    """Answer a viewer's WHEP offer with the hub's H.264, forced as the only codec."""
    check_offer(sdp)
    pc = RTCPeerConnection(configuration(ice_servers))
    pc.on("connectionstatechange", lambda: on_state(pc.connectionState))
    # The codec must be set on a transceiver made by addTrack before the remote offer, or aiortc answers
    # VP8 first and sends H.264 labelled as VP8 (see ../shared/notes/live-video-facts.md).
    sender = pc.addTrack(track)
    for transceiver in pc.getTransceivers():
        if transceiver.sender is sender:
            transceiver.setCodecPreferences(h264_codecs())
    answer = await _answer(pc, sdp)
    if "H264/90000" not in answer:
        await pc.close()
        raise OfferError("could not agree on H.264 with the viewer")
    return pc, answer
