"""GOP cache, bounded subscriber queues (a slow consumer drops to the next keyframe) and session timestamps."""

from __future__ import annotations

import asyncio
from fractions import Fraction

import av
import pytest
from aiortc.mediastreams import MediaStreamError

from edge_core.fanout import Fanout, GopCache, Subscriber, SubscriberClosed
from edge_core.h264 import AccessUnit
from edge_core.track import BURST_STEP, DEFAULT_STEP, OUT_TIME_BASE, PassthroughTrack, Timeline

TB = Fraction(1, 90_000)


def unit(pts: int, *, key: bool = False, size: int = 100, epoch: int = 0) -> AccessUnit:
    return AccessUnit(packet=av.Packet(b"\x00" * size), pts=pts, time_base=TB, keyframe=key, size=size, epoch=epoch)


def gop(start: int, length: int, *, epoch: int = 0) -> list[AccessUnit]:
    return [unit((start + i) * 3600, key=i == 0, epoch=epoch) for i in range(length)]


def test_the_cache_holds_the_latest_gop_from_its_keyframe() -> None:
    cache = GopCache(max_bytes=10_000)
    for u in [unit(0), unit(3600)]:  # nothing before the first keyframe
        cache.add(u)
    assert cache.snapshot() == []
    first, second = gop(2, 5), gop(7, 3)
    for u in first + second:
        cache.add(u)
    assert cache.snapshot() == second and cache.size == 300


def test_a_gop_too_big_for_the_cache_is_dropped_until_the_next_keyframe() -> None:
    cache = GopCache(max_bytes=350)
    for u in gop(0, 4):
        cache.add(u)
    assert cache.snapshot() == [] and cache.size == 0
    cache.add(unit(99, key=True))
    assert len(cache.snapshot()) == 1


def drain(subscriber: Subscriber) -> list[tuple[int, bool]]:
    async def main() -> list[tuple[int, bool]]:
        got = []
        while subscriber.pending():
            u, burst = await subscriber.get()
            got.append((u.pts // 3600, burst))
        return got

    return asyncio.run(main())


def test_a_new_subscriber_gets_the_cached_gop_then_live_units() -> None:
    fanout = Fanout(gop_max_bytes=1 << 20, queue_max_units=10)
    for u in gop(0, 3):
        fanout.publish(u)
    subscriber = fanout.subscribe()
    fanout.publish(unit(3 * 3600))
    assert drain(subscriber) == [(0, True), (1, True), (2, True), (3, False)]


def test_without_a_cache_a_subscriber_starts_at_the_next_keyframe() -> None:
    fanout = Fanout(gop_max_bytes=1 << 20, queue_max_units=10)
    fanout.publish(unit(0))  # joined mid-GOP: no keyframe seen yet
    subscriber = fanout.subscribe()
    for u in [unit(3600), unit(7200), *gop(3, 2)]:
        fanout.publish(u)
    assert drain(subscriber) == [(3, False), (4, False)]
    assert subscriber.dropped == 2


def test_a_slow_consumer_drops_to_the_next_keyframe_and_memory_stays_bounded() -> None:
    fanout = Fanout(gop_max_bytes=1 << 20, queue_max_units=4)
    fanout.publish(unit(0, key=True))
    subscriber = fanout.subscribe()  # burst: the keyframe
    for i in range(1, 24):  # the consumer reads nothing meanwhile
        fanout.publish(unit(i * 3600, key=i % 10 == 0))
        assert subscriber.pending() <= 4 + 1
    got = drain(subscriber)
    assert got == [(20, False), (21, False), (22, False), (23, False)]  # restarts on a keyframe, never mid-GOP
    assert subscriber.dropped == 20


def test_a_reconnect_makes_subscribers_wait_for_a_keyframe_and_empties_the_cache() -> None:
    fanout = Fanout(gop_max_bytes=1 << 20, queue_max_units=10)
    for u in gop(0, 2):
        fanout.publish(u)
    subscriber = fanout.subscribe()
    fanout.reset()
    assert fanout.cache.snapshot() == []
    for u in [unit(5, epoch=1), *gop(1, 2, epoch=1)]:
        fanout.publish(u)
    assert drain(subscriber) == [(0, True), (1, True), (1, False), (2, False)]


def test_close_ends_pending_gets_and_later_publishes_are_ignored() -> None:
    async def main() -> None:
        fanout = Fanout(gop_max_bytes=1 << 20, queue_max_units=10)
        subscriber = fanout.subscribe()
        waiter = asyncio.ensure_future(subscriber.get())
        await asyncio.sleep(0)
        fanout.close()
        with pytest.raises(SubscriberClosed):
            await waiter
        fanout.publish(unit(0, key=True))
        assert fanout.cache.snapshot() == [] and fanout.subscribers == 0

    asyncio.run(main())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_timeline_fast_forwards_the_burst_then_keeps_the_cameras_spacing() -> None:
    timeline = Timeline(Clock())
    stamps = [timeline.stamp(u, burst=True) for u in gop(40, 3)]
    stamps += [timeline.stamp(unit(43 * 3600), burst=False), timeline.stamp(unit(44 * 3600), burst=False)]
    assert stamps == [0, BURST_STEP, 2 * BURST_STEP, 2 * BURST_STEP + 3600, 2 * BURST_STEP + 7200]


def test_the_timeline_never_goes_back_across_a_reconnect() -> None:
    clock = Clock()
    timeline = Timeline(clock)
    before = [timeline.stamp(u, burst=False) for u in gop(1000, 3)]
    clock.now += 4.0  # the camera was away four seconds and restarts its clock at 0
    after = [timeline.stamp(u, burst=False) for u in gop(0, 3, epoch=1)]
    assert after[0] - before[-1] == 4 * 90_000
    assert after[1:] == [after[0] + 3600, after[0] + 7200]
    clock.now += 0.0001
    assert timeline.stamp(unit(0, epoch=1), burst=False) - after[-1] == DEFAULT_STEP  # backwards pts


def test_the_track_stamps_shared_packets_for_its_own_session() -> None:
    async def main() -> None:
        fanout = Fanout(gop_max_bytes=1 << 20, queue_max_units=10)
        for u in gop(10, 2):
            fanout.publish(u)
        one, two = PassthroughTrack(fanout), PassthroughTrack(fanout)
        first = await one.recv()
        assert (first.pts, first.time_base) == (0, OUT_TIME_BASE)
        assert (await one.recv()).pts == BURST_STEP
        assert (await two.recv()).pts == 0  # the same packet object, stamped for the other session
        fanout.publish(unit(12 * 3600))
        assert (await one.recv()).pts == BURST_STEP + 3600
        one.stop()
        assert fanout.subscribers == 1
        with pytest.raises(MediaStreamError):
            await one.recv()
        fanout.close()  # the camera source stopped: what was queued goes too
        with pytest.raises(MediaStreamError):
            await two.recv()

    asyncio.run(main())
