"""The passthrough track aiortc sends: the camera's H.264 packets as they are, with session timestamps.

aiortc's RTCRtpSender packs an `av.Packet` from `recv()` without encoding anything. It reads the packet's
`pts` and `time_base` synchronously right after `recv()` returns, so the packet object shared by every
session can be stamped with this session's timestamp just before it is returned: no per-session copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from edge_core.fanout import Fanout, Subscriber, SubscriberClosed
from edge_core.h264 import AccessUnit

CLOCK_RATE = 90_000  # RTP clock of video
OUT_TIME_BASE = Fraction(1, CLOCK_RATE)
BURST_STEP = 90  # 1 ms: the cached GOP is fast-forwarded, so the viewer shows the latest picture at once
DEFAULT_STEP = 3_600  # one frame at 25 fps, when the camera's spacing is unknown
MAX_GAP = 10 * CLOCK_RATE  # a jump larger than this is a discontinuity, not a pause


class Timeline:
    """Session timestamps (90 kHz) that only go forward, starting at 0.

    Cached units are spaced BURST_STEP apart; live units keep the camera's spacing; after a reconnect (new
    epoch) or a jump in the camera's clock the timeline advances by the wall-clock time that passed instead.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._out: int | None = None
        self._last: tuple[int, Fraction, int] | None = None  # pts, time base, epoch of the previous unit
        self._at = 0.0

    def stamp(self, unit: AccessUnit, burst: bool) -> int:
        """The session timestamp of the next unit."""
        now = self._clock()
        if self._out is None:
            out = 0
        elif burst:
            out = self._out + BURST_STEP
        else:
            out = self._out + self._step(unit, now)
        self._out, self._last, self._at = out, (unit.pts, unit.time_base, unit.epoch), now
        return out

    def _step(self, unit: AccessUnit, now: float) -> int:
        assert self._last is not None
        pts, time_base, epoch = self._last
        if epoch == unit.epoch and time_base == unit.time_base:
            delta = (unit.pts - pts) * time_base.numerator * CLOCK_RATE // time_base.denominator
            if 0 < delta <= MAX_GAP:
                return delta
        return max(DEFAULT_STEP, int((now - self._at) * CLOCK_RATE))


class PassthroughTrack(MediaStreamTrack):
    """A video track over one camera's fanout; subscribes on the first `recv()` (when the peer is connected)."""

    kind = "video"

    def __init__(self, fanout: Fanout, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._fanout = fanout
        self._subscriber: Subscriber | None = None
        self._timeline = Timeline(clock)

    async def recv(self) -> av.Packet:  # aiortc sends packets as they are
        """The next packet, stamped for this session."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._subscriber is None:
            # Subscribing late, when the sender starts, means the session begins with the freshest GOP.
            self._subscriber = self._fanout.subscribe()
        try:
            unit, burst = await self._subscriber.get()
        except SubscriberClosed:
            self.stop()
            raise MediaStreamError from None
        packet = unit.packet
        packet.pts = self._timeline.stamp(unit, burst)
        packet.time_base = OUT_TIME_BASE
        return packet

    def stop(self) -> None:
        """End the track and its subscription."""
        if self._subscriber is not None:
            self._fanout.unsubscribe(self._subscriber)
        super().stop()
