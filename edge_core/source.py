"""RTSP sources: one reader thread per open camera, reconnecting with backoff, feeding the camera's fanout.

The thread opens the camera with fast probing, demuxes its H.264 (no decoding), assembles access units and
hands each to the event loop with `call_soon_threadsafe`. A source is open while a session uses it, or all
the time for a camera in warm standby (then it only fills the GOP cache: nothing leaves the box).
The RTSP URL never appears in a log line or an error (cameras.scrub).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from edge_core.backoff import Backoff
from edge_core.cameras import Health, scrub
from edge_core.config import CameraConfig, LiveConfig
from edge_core.fanout import Fanout
from edge_core.h264 import AccessUnit, Assembler, frame_ticks, parameter_sets

log = logging.getLogger(__name__)
# analyzeduration=0 and a small probesize: opening takes ~0.05 s instead of ~1.3 s (the SDP already says
# H.264 and carries SPS/PPS). Not fflags=nobuffer: it throws away the packets read while probing, and the
# first of them may be the IDR a cold start is waiting for.
OPEN_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "4096"}
Opener = Callable[..., Any]


def _av_open(url: str, **kwargs: Any) -> Any:
    import av

    return av.open(url, **kwargs)


class RtspSource:
    """One camera's reader thread; `start()` and `stop()` are called on the event loop."""

    def __init__(self, camera: CameraConfig, fanout: Fanout, loop: asyncio.AbstractEventLoop, *,
                 timeout_s: float = 10.0, backoff: Backoff | None = None, opener: Opener = _av_open) -> None:
        self.camera = camera
        self.fanout = fanout
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff(base=0.5, cap=10.0)
        self.connected = False
        self.error = ""
        self.connections = 0
        self.codec = ("", 0, 0)  # name, width, height of the open stream
        self.last_unit_at = 0.0  # monotonic
        self._loop = loop
        self._opener = opener
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start reading (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"rtsp-{self.camera.camera_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to leave; it does within one packet, or one read timeout if the camera is silent."""
        self._stopping.set()
        self.fanout.close()

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end (blocking: call from a worker thread); True if it did."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def health(self, fresh_s: float = 10.0) -> Health | None:
        """The camera's health as this open stream shows it; None if it is not delivering pictures now."""
        age = time.monotonic() - self.last_unit_at
        if not self.connected or self._stopping.is_set() or age > fresh_s:
            return None
        name, width, height = self.codec
        return Health(reachable=True, codec=name, width=width, height=height, error="",
                      last_frame_at=datetime.now(UTC) - timedelta(seconds=age))

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._session()
            except Exception as exc:  # any failure of the camera or the demuxer: log it (scrubbed) and retry
                self.error = scrub(f"{type(exc).__name__}: {exc}", self.camera.rtsp_url)
            was_connected, self.connected = self.connected, False
            if self._stopping.is_set():
                return
            if was_connected or self.error:
                log.warning("camera %s: stream lost: %s", self.camera.camera_id, self.error or "ended")
            self._post(self.fanout.reset)
            if self._stopping.wait(self.backoff.next_delay()):
                return

    def _session(self) -> None:
        """One connection: open, then demux until the camera drops or the source is stopped."""
        self.error = ""
        container = self._opener(self.camera.rtsp_url, options=OPEN_OPTIONS, timeout=(self.timeout_s, self.timeout_s))
        try:
            if self._stopping.is_set():  # released while the camera was answering
                return
            if not container.streams.video:
                raise ValueError("the camera offers no video stream")
            stream = container.streams.video[0]
            if stream.codec_context.name != "h264":
                raise ValueError(f"codec {stream.codec_context.name} is not H.264; passthrough needs H.264")
            time_base = Fraction(stream.time_base or Fraction(1, 90_000))
            rate = stream.guessed_rate or stream.average_rate
            self.connections += 1
            context = stream.codec_context
            self.codec = (str(context.name), int(context.width or 0), int(context.height or 0))
            assembler = Assembler(time_base, frame_ticks(time_base, Fraction(rate) if rate else None),
                                  parameter_sets(stream.codec_context.extradata), epoch=self.connections)
            self.connected = True
            log.info("camera %s: stream open (connection %d)", self.camera.camera_id, self.connections)
            self._pump(container, stream, assembler)
        finally:
            container.close()

    def _pump(self, container: Any, stream: Any, assembler: Assembler) -> None:
        for packet in container.demux(stream):
            if self._stopping.is_set():
                return
            unit = assembler.push(packet)
            if unit is not None:
                self.last_unit_at = time.monotonic()
                if unit.keyframe:
                    self.backoff.reset()  # a reconnect that delivers pictures counts as a success
                self._post(self.fanout.publish, unit)

    def _post(self, callback: Callable[..., None], *args: AccessUnit) -> None:
        """Run `callback(*args)` on the event loop; a closed loop means the agent is leaving."""
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            self._stopping.set()


class SourcePool:
    """Open sources by camera, shared by sessions and kept open for warm standby; reference counted."""

    def __init__(self, cameras: tuple[CameraConfig, ...], live: LiveConfig, *,
                 opener: Opener = _av_open) -> None:
        self.cameras = {c.camera_id: c for c in cameras}
        self.live = live
        self._opener = opener
        self._sources: dict[str, RtspSource] = {}
        self._users: dict[str, int] = {}

    def start_warm(self) -> None:
        """Open every camera configured for warm standby."""
        for camera in self.cameras.values():
            if self.live.warm(camera):
                self._open(camera.camera_id)
                log.info("camera %s: warm standby (the stream is read on the LAN, sent nowhere)", camera.camera_id)

    def acquire(self, camera_id: str) -> Fanout:
        """The camera's fanout, opening its source if needed; pair with `release`."""
        self._users[camera_id] = self._users.get(camera_id, 0) + 1
        return self._open(camera_id).fanout

    def release(self, camera_id: str) -> None:
        """One user fewer; the source closes when none is left and the camera is not in warm standby."""
        users = self._users.get(camera_id, 0) - 1
        self._users[camera_id] = max(0, users)
        if users <= 0 and not self.live.warm(self.cameras[camera_id]):
            source = self._sources.pop(camera_id, None)
            if source is not None:
                source.stop()

    def health(self, camera_id: str) -> Health | None:
        """A camera's health from its open stream, if it is open and delivering (see CameraMonitor)."""
        source = self._sources.get(camera_id)
        return source.health() if source is not None else None

    def source(self, camera_id: str) -> RtspSource | None:
        """The open source of a camera, if any."""
        return self._sources.get(camera_id)

    def _open(self, camera_id: str) -> RtspSource:
        source = self._sources.get(camera_id)
        if source is None:
            fanout = Fanout(gop_max_bytes=self.live.gop_cache_max_bytes, queue_max_units=self.live.queue_max_packets)
            source = RtspSource(self.cameras[camera_id], fanout, asyncio.get_running_loop(),
                                timeout_s=self.live.rtsp_timeout_s, opener=self._opener)
            self._sources[camera_id] = source
            source.start()
        return source

    async def close(self, timeout: float = 5.0) -> None:
        """Stop every source and wait (off the loop) a little for the threads."""
        sources = list(self._sources.values())
        self._sources.clear()
        for source in sources:
            source.stop()
        for source in sources:
            await asyncio.to_thread(source.join, timeout)
