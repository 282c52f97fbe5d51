"""One camera's access units handed to its sessions: the latest GOP kept for instant starts, every queue bounded.

Everything here runs on the event loop. Access units are shared by reference: nothing is copied per session.
"""

from __future__ import annotations

import asyncio
from collections import deque

from edge_core.h264 import AccessUnit


class GopCache:
    """The access units since the latest keyframe, so a new session starts on a keyframe at once."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._units: list[AccessUnit] = []
        self._bytes = 0

    def add(self, unit: AccessUnit) -> None:
        """Keep a unit: a keyframe starts a new GOP; a GOP grown past `max_bytes` is dropped until the next."""
        if unit.keyframe:
            self._units, self._bytes = [unit], unit.size
        elif self._units:
            self._units.append(unit)
            self._bytes += unit.size
        if self._bytes > self.max_bytes:
            self.clear()

    def snapshot(self) -> list[AccessUnit]:
        """The cached GOP, keyframe first (empty until a keyframe came)."""
        return list(self._units)

    def clear(self) -> None:
        """Forget the GOP (the camera reconnected, or the GOP was too big)."""
        self._units, self._bytes = [], 0

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._bytes


class SubscriberClosed(Exception):
    """The subscription ended: the session or the source is gone."""


class Subscriber:
    """One session's view of a camera: the cached GOP as a burst, then live units in a bounded queue.

    A consumer that falls `max_units` behind loses its queue and waits for the next keyframe, so memory
    never grows and the picture never shows the smearing of a missing reference.
    """

    def __init__(self, max_units: int, burst: list[AccessUnit]) -> None:
        self.max_units = max_units
        self._burst = deque(burst)
        self._queue: deque[AccessUnit] = deque()
        self._need_keyframe = not burst
        self._wakeup = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def offer(self, unit: AccessUnit) -> None:
        """Queue a live unit, dropping to the next keyframe when full."""
        if self._closed:
            return
        if len(self._queue) >= self.max_units:
            self.dropped += len(self._queue) + len(self._burst)
            self._queue.clear()
            self._burst.clear()
            self._need_keyframe = True
        if self._need_keyframe:
            if not unit.keyframe:
                self.dropped += 1
                return
            self._need_keyframe = False
        self._queue.append(unit)
        self._wakeup.set()

    def discontinuity(self) -> None:
        """The source reconnected: what comes next is usable only from its first keyframe."""
        self._need_keyframe = True

    def close(self) -> None:
        """End the subscription; a pending `get` raises SubscriberClosed."""
        self._closed = True
        self._burst.clear()
        self._queue.clear()
        self._wakeup.set()

    def pending(self) -> int:
        """Units waiting (burst and live)."""
        return len(self._burst) + len(self._queue)

    async def get(self) -> tuple[AccessUnit, bool]:
        """The next unit, and whether it comes from the cached burst (to be sent at once)."""
        while True:
            if self._closed:
                raise SubscriberClosed
            if self._burst:
                return self._burst.popleft(), True
            if self._queue:
                return self._queue.popleft(), False
            self._wakeup.clear()
            await self._wakeup.wait()


class Fanout:
    """A camera's units to any number of subscribers, plus the GOP cache."""

    def __init__(self, *, gop_max_bytes: int, queue_max_units: int) -> None:
        self.cache = GopCache(gop_max_bytes)
        self.queue_max_units = queue_max_units
        self._subscribers: set[Subscriber] = set()
        self.closed = False

    def publish(self, unit: AccessUnit) -> None:
        """A new unit from the camera."""
        if self.closed:  # a unit still in flight from a stopped reader thread
            return
        self.cache.add(unit)
        for subscriber in self._subscribers:
            subscriber.offer(unit)

    def reset(self) -> None:
        """The camera reconnected: the cached GOP is stale and every subscriber waits for a keyframe."""
        self.cache.clear()
        for subscriber in self._subscribers:
            subscriber.discontinuity()

    def subscribe(self) -> Subscriber:
        """A new subscriber, starting with the cached GOP if there is one."""
        subscriber = Subscriber(self.queue_max_units, self.cache.snapshot())
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop feeding a subscriber and end it."""
        self._subscribers.discard(subscriber)
        subscriber.close()

    def close(self) -> None:
        """End every subscription and drop the cache."""
        self.closed = True
        for subscriber in list(self._subscribers):
            self.unsubscribe(subscriber)
        self.cache.clear()

    @property
    def subscribers(self) -> int:
        """How many subscribers are fed."""
        return len(self._subscribers)
