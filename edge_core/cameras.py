"""Camera health: probe each RTSP source with PyAV (if installed) off the event loop, with backoff.

The RTSP URL (which often holds the camera's password) never appears in a message, an error or a log line.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from edge_core.backoff import Backoff
from edge_core.config import CameraConfig
from proto.lookout.v1 import lookout_pb2 as pb
from proto.wire import timestamp

log = logging.getLogger(__name__)
_URL = re.compile(r"rtsps?://\S+", re.IGNORECASE)
PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Health:
    """What the box last saw of one camera."""

    reachable: bool = False
    codec: str = ""
    width: int = 0
    height: int = 0
    last_frame_at: datetime | None = None
    error: str = "not probed yet"


Prober = Callable[[str, float], Health]


def scrub(text: str, url: str) -> str:
    """Remove the camera URL (and anything URL-like) from a text meant for logs or the wire."""
    return _URL.sub("<camera url>", text.replace(url, "<camera url>"))[:200]


def probe_with_pyav(url: str, timeout: float) -> Health:
    """Open the stream, read one video packet, report its codec and size (blocking: run it in an executor)."""
    try:
        import av
    except ImportError:
        return Health(error="PyAV not installed")
    options = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32768"}
    try:
        with av.open(url, options=options, timeout=timeout) as container:
            if not container.streams.video:
                return Health(error="no video stream")
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                if packet.size:
                    break
            ctx = stream.codec_context
            return Health(reachable=True, codec=str(ctx.name or ""), width=int(ctx.width or 0),
                          height=int(ctx.height or 0), last_frame_at=datetime.now(UTC), error="")
    except Exception as exc:
        return Health(error=scrub(f"{type(exc).__name__}: {exc}", url))


def to_status(camera_id: str, health: Health) -> pb.CameraStatus:
    """The wire form of one camera's health."""
    status = pb.CameraStatus(camera_id=camera_id, reachable=health.reachable, codec=health.codec,
                             width=health.width, height=health.height, error=health.error)
    if health.last_frame_at is not None:
        status.last_frame_at.CopyFrom(timestamp(health.last_frame_at))
    return status


class CameraMonitor:
    """Keeps the latest health of every configured camera, probing each on its own schedule."""

    def __init__(self, cameras: tuple[CameraConfig, ...], *, interval: float = 30.0,
                 prober: Prober = probe_with_pyav, timeout: float = PROBE_TIMEOUT_S) -> None:
        self.cameras = cameras
        self.interval = interval
        self.timeout = timeout
        self._prober = prober
        # The health of a stream the box already reads (live video, warm standby), or None: then it is probed.
        self.open_health: Callable[[str], Health | None] = lambda camera_id: None
        self.health: dict[str, Health] = {c.camera_id: Health() for c in cameras}
        self.changed = asyncio.Event()

    def statuses(self) -> list[pb.CameraStatus]:
        """The wire form of every camera's latest health."""
        return [to_status(c.camera_id, self.health[c.camera_id]) for c in self.cameras]

    async def probe_once(self, camera: CameraConfig) -> Health:
        """Probe one camera in a worker thread (unless its stream is open already) and record the result."""
        health = self.open_health(camera.camera_id)  # many cameras allow few RTSP clients: no second one
        if health is None:
            loop = asyncio.get_running_loop()
            health = await loop.run_in_executor(None, self._prober, camera.rtsp_url, self.timeout)
        health = replace(health, error=scrub(health.error, camera.rtsp_url))
        old = self.health.get(camera.camera_id)
        self.health[camera.camera_id] = health
        if old is None or (old.reachable, old.codec, old.error) != (health.reachable, health.codec, health.error):
            log.info("camera %s: reachable=%s %s", camera.camera_id, health.reachable, health.error or health.codec)
            self.changed.set()
        return health

    async def watch(self, camera: CameraConfig) -> None:
        """Probe one camera forever: every `interval` while healthy, with backoff while not."""
        backoff = Backoff(base=max(1.0, self.interval / 8), cap=max(self.interval * 10, 60.0))
        while True:
            health = await self.probe_once(camera)
            if health.error == "PyAV not installed":
                return
            if health.reachable:
                backoff.reset()
                await asyncio.sleep(self.interval)
            else:
                await asyncio.sleep(backoff.next_delay() + 1.0)

    async def run(self) -> None:
        """Watch every camera until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            for camera in self.cameras:
                tasks.create_task(self.watch(camera))
