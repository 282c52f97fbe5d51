"""One incoming stream fanned out to many viewers, as encoded H.264: no decoding, bounded everywhere.

The hub keeps the access units since the last keyframe (the current group of pictures), so a viewer who
joins a running stream starts decoding at once instead of waiting for the camera's next keyframe.
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from services.streams.media.h264 import is_keyframe

TIME_BASE = fractions.Fraction(1, 90000)
Unit = tuple[bytes, int, bool]  # (Annex-B access unit, 90 kHz timestamp, keyframe)


class ViewerTrack(MediaStreamTrack):
    """What one viewer's sender pulls: access units as `av.Packet`, which aiortc packetises without encoding."""

    kind = "video"

    def __init__(self, hub: Hub, max_units: int) -> None:
        super().__init__()
        self._hub = hub
        self._queue: asyncio.Queue[Unit | None] = asyncio.Queue()
        self._max = max_units
        self._waiting_key = True
        self._base: int | None = None
        self.bytes_out = 0
        self.dropped = 0

    def offer(self, unit: Unit) -> None:
        """Queue one access unit; past the bound, drop everything and resume at the next keyframe."""
        if self._waiting_key and not unit[2]:
            self.dropped += 1
            return
        if self._queue.qsize() >= self._max:
            self.dropped += self._queue.qsize()
            while not self._queue.empty():
                self._queue.get_nowait()
            self._waiting_key = True
            if not unit[2]:
                return
        self._waiting_key = False
        self._queue.put_nowait(unit)

    def finish(self) -> None:
        """End the track: the sender stops at its next read."""
        self._queue.put_nowait(None)

    async def recv(self) -> av.Packet:
        """The next access unit, timestamps rebased so this viewer's stream starts at zero."""
        unit = await self._queue.get()
        if unit is None or self.readyState != "live":
            raise MediaStreamError
        data, ts, _ = unit
        if self._base is None:
            self._base = ts
        packet = av.Packet(data)
        packet.pts = max(0, ts - self._base)
        packet.time_base = TIME_BASE
        self.bytes_out += len(data)
        return packet

    def stop(self) -> None:
        """Leave the hub and end the track."""
        self._hub.unsubscribe(self)
        super().stop()


class Hub:
    """Fan-out of one session's access units, with the current group of pictures cached."""

    def __init__(self, *, gop_cache_max_bytes: int = 8 << 20, queue_max_units: int = 150) -> None:
        self._gop: deque[Unit] = deque()
        self._gop_bytes = 0
        self._gop_max = gop_cache_max_bytes
        self._queue_max = queue_max_units
        self._viewers: set[ViewerTrack] = set()
        self.first_unit = asyncio.Event()
        self.units_in = 0
        self.bytes_in = 0
        self.closed = False

    def push(self, data: bytes, timestamp: int) -> None:
        """One complete access unit from the box, in Annex-B form."""
        key = is_keyframe(data)
        unit = (data, timestamp, key)
        self.units_in += 1
        self.bytes_in += len(data)
        self._cache(unit)
        for viewer in self._viewers:
            viewer.offer(unit)
        if not self.first_unit.is_set():
            self.first_unit.set()

    def _cache(self, unit: Unit) -> None:
        if unit[2]:
            self._gop.clear()
            self._gop_bytes = 0
        elif not self._gop:
            return  # no keyframe yet: nothing a new viewer could decode
        self._gop.append(unit)
        self._gop_bytes += len(unit[0])
        if self._gop_bytes > self._gop_max:  # an unusually long GOP: stop caching until the next keyframe
            self._gop.clear()
            self._gop_bytes = 0

    def subscribe(self) -> ViewerTrack:
        """A new viewer's track, primed with the cached group of pictures."""
        if self.closed:
            raise MediaStreamError
        track = ViewerTrack(self, max(self._queue_max, len(self._gop) + 1))
        for unit in self._gop:
            track.offer(unit)
        self._viewers.add(track)
        return track

    def unsubscribe(self, track: ViewerTrack) -> None:
        """Forget a viewer."""
        self._viewers.discard(track)

    @property
    def viewer_count(self) -> int:
        """Viewers attached now."""
        return len(self._viewers)

    def close(self) -> None:
        """End every viewer's track."""
        self.closed = True
        for viewer in list(self._viewers):
            viewer.finish()
        self._viewers.clear()
        self._gop.clear()
