"""WHEP viewers for the live-video benchmark: aiortc peer connections that count what they receive, never decode.

Each viewer asks for a viewer token, offers a recvonly video transceiver and posts the offer to the relay's WHEP
endpoint. The receiver's decoder queue is swapped for a counting sink (as the relay's own `_Tap` does), so a
complete access unit costs the benchmark a counter increment instead of an H.264 decode. The viewers run on a
private event loop in a thread; the benchmark's synchronous code calls in with `run`.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from services.streams.media.ice import restrict_host_addresses

DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"  # aiortc's private name (services/streams/media/peers.py)
RECEIVE_BUFFER_BYTES = 4 << 20
T = TypeVar("T")


class CountingSink(queue.Queue[Any]):
    """Stands in for a receiver's decoder queue: counts (codec, frame) items; None (shutdown) passes through."""

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0
        self.bytes = 0
        self.first_at: float | None = None  # time.time() of the first complete access unit

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Called on the event loop for every re-assembled frame."""
        if item is None:
            super().put(item, block, timeout)
            return
        if self.first_at is None:
            self.first_at = time.time()
        self.frames += 1
        self.bytes += len(item[1].data)


def widen_receive_buffers(pc: RTCPeerConnection) -> None:
    """Give the viewer's UDP sockets big receive buffers: when 50 viewers get the same keyframe at once, this
    one Python event loop reads thousands of datagrams in a burst, and the default ~208 KB overflow. (The
    kernel caps the size at net.core.rmem_max.) Reaches through aiortc's and aioice's private attributes."""
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport.iceGatherer._connection
        for protocol in connection._protocols:
            sock = protocol.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)


@dataclass
class Viewer:
    """One WHEP viewer: its peer connection, sink, and when it asked for a token and posted its offer."""

    pc: RTCPeerConnection
    sink: CountingSink
    asked_at: float
    posted_at: float


class Viewers:
    """Viewers of one session of the relay, on their own event loop thread."""

    def __init__(self, streams_url: str, dispatcher: dict[str, str], session_id: str) -> None:
        restrict_host_addresses(["127.0.0.1"])  # aioice skips loopback otherwise; the relay offers only it
        self.base, self.dispatcher, self.session_id = streams_url, dispatcher, session_id
        self.viewers: list[Viewer] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-viewers", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        """Run a coroutine on the viewers' loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def add(self, count: int, batch: int = 5) -> list[Viewer]:
        """Join `count` more viewers, `batch` at a time."""
        return self.run(self._add(count, batch))

    async def _add(self, count: int, batch: int) -> list[Viewer]:
        added: list[Viewer] = []
        async with httpx.AsyncClient(base_url=self.base, timeout=20, trust_env=False) as http:
            while len(added) < count:
                k = min(batch, count - len(added))
                added += await asyncio.gather(*(self._join(http) for _ in range(k)))
        self.viewers += added
        return added

    async def _join(self, http: httpx.AsyncClient) -> Viewer:
        asked = time.time()
        grant = await http.post(f"/v1/sessions/{self.session_id}/viewer-token", headers=self.dispatcher)
        if grant.status_code != 200:
            raise RuntimeError(f"viewer token refused: {grant.status_code} {grant.text[:300]}")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = pc.addTransceiver("video", direction="recvonly")
        sink = CountingSink()
        setattr(transceiver.receiver, DECODER_QUEUE, sink)  # before the decoder thread starts (on the answer)
        await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers every candidate here
        widen_receive_buffers(pc)
        posted = time.time()
        answer = await http.post(grant.json()["whep_url"], content=pc.localDescription.sdp,
                                 headers={"Content-Type": "application/sdp",
                                          "Authorization": f"Bearer {grant.json()['token']}"})
        if answer.status_code != 201:
            await pc.close()
            raise RuntimeError(f"WHEP offer refused: {answer.status_code} {answer.text[:300]}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
        return Viewer(pc, sink, asked, posted)

    def frames(self) -> list[int]:
        """Frames each viewer received so far."""
        return [v.sink.frames for v in self.viewers]

    def bytes(self) -> list[int]:
        """Access-unit bytes each viewer received so far."""
        return [v.sink.bytes for v in self.viewers]

    def wait_receiving(self, min_frames: int = 10, timeout: float = 30) -> None:
        """Until every viewer received at least `min_frames` frames."""
        deadline = time.monotonic() + timeout
        while min(self.frames(), default=0) < min_frames:
            if time.monotonic() > deadline:
                raise TimeoutError(f"viewers not receiving: frames {sorted(self.frames())[:10]}...")
            time.sleep(0.1)

    def drop(self, viewers: list[Viewer]) -> None:
        """Close some viewers' peer connections (the relay sees them leave)."""
        async def close_all() -> None:
            await asyncio.gather(*(v.pc.close() for v in viewers), return_exceptions=True)

        self.run(close_all())
        self.viewers = [v for v in self.viewers if v not in viewers]

    def close(self) -> None:
        """Close every viewer and stop the loop."""
        try:
            self.drop(list(self.viewers))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
