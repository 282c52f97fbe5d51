"""The relay forwards a box's H.264 to viewers without decoding it, and ends everything on request."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.common.errors import Conflict, InvalidInput
from services.streams.deps import Streams
from services.streams.models import State
from tests.integration.streams.peers import ClipBox, Viewer


class Wire:
    """Stands in for MQTT between relay and box: keeps answers and stop commands."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[str, str]] = {}
        self.stops: list[tuple[str, str, str]] = []

    async def answer(self, device_id: str, session_id: str, kind: str, sdp: str) -> None:
        self.answers[session_id] = (kind, sdp)

    async def stop(self, device_id: str, session_id: str, reason: str) -> None:
        self.stops.append((device_id, session_id, reason))


def wired(streams: Streams) -> Wire:
    wire = Wire()
    streams.relay.answer, streams.relay.stop_device = wire.answer, wire.stop
    return wire


async def start(streams: Streams, clip: Path, wire: Wire, **over: str) -> tuple[str, ClipBox]:
    session_id = str(uuid.uuid4())
    fields = {"camera_id": "cam-1", "device_id": "core-1", "agency_id": "agency-1", "alert_id": "alert-1"} | over
    await streams.relay.started(session_id=session_id, grant_id=None,
                                expires_at=datetime.now(UTC) + timedelta(minutes=5), **fields)  # type: ignore[arg-type]
    box = ClipBox(clip)
    await streams.relay.offered(device_id=fields["device_id"], session_id=session_id, sdp=await box.offer())
    kind, sdp = wire.answers[session_id]
    assert kind == "answer", sdp
    await box.answered(sdp)
    return session_id, box


async def watch(streams: Streams, session_id: str) -> Viewer:
    viewer = Viewer()
    _viewer_id, answer = await streams.relay.join(session_id=session_id, account_id="acct-1", sdp=await viewer.offer())
    await viewer.answered(answer)
    return viewer


def test_two_viewers_decode_the_forwarded_stream_and_ending_stops_both(
        make_streams: Callable[..., Streams], h264_clip: Path) -> None:
    streams = make_streams()

    async def scenario() -> None:
        wire = wired(streams)
        session_id, box = await start(streams, h264_clip, wire)
        first, second = await watch(streams, session_id), await watch(streams, session_id)
        await first.wait_frames(25)
        await second.wait_frames(25)
        assert first.width == second.width == 640
        row = streams.store.get(session_id=session_id)
        assert row.state == State.LIVE and row.viewers == 2
        ended_at = asyncio.get_running_loop().time()
        assert await streams.relay.end(session_id, "alert_resolved")
        await asyncio.wait_for(asyncio.gather(first.ended.wait(), second.ended.wait()), 1.0)
        assert asyncio.get_running_loop().time() - ended_at < 1.0
        frames = first.frames
        await asyncio.sleep(0.5)
        assert first.frames == frames
        assert wire.stops == [("core-1", session_id, "alert_resolved")]
        row = streams.store.get(session_id=session_id)
        assert row.state == State.ENDED and row.end_reason == "alert_resolved" and row.bytes_in > 0
        for peer in (first, second, box):
            await peer.close()

    asyncio.run(scenario())


def test_a_viewer_joining_a_running_stream_starts_from_the_cached_keyframe(
        make_streams: Callable[..., Streams], h264_clip: Path) -> None:
    streams = make_streams()

    async def scenario() -> None:
        wire = wired(streams)
        session_id, box = await start(streams, h264_clip, wire)
        early = await watch(streams, session_id)
        await early.wait_frames(40)  # past the first keyframe: without the cache a late viewer waits for the next
        # The camera goes silent: from now on nothing reaches the hub, so whatever the late viewer decodes can only
        # come from the cached group of pictures. (Not a timing assertion: its speed is in the benchmark.)
        hub = streams.relay.live[session_id].hub
        arrived = hub.units_in
        hub.push = lambda data, timestamp: None  # type: ignore[method-assign]
        late = await watch(streams, session_id)
        await late.wait_frames(1, timeout=10)
        assert late.frames >= 1 and hub.units_in == arrived
        for peer in (early, late, box):
            await peer.close()
        await streams.relay.close()

    asyncio.run(scenario())


def test_offers_for_unknown_sessions_and_bad_viewer_offers_are_refused(
        make_streams: Callable[..., Streams], h264_clip: Path) -> None:
    streams = make_streams(offer_wait_s=0.2)

    async def scenario() -> None:
        wire = wired(streams)
        box = ClipBox(h264_clip)
        await streams.relay.offered(device_id="core-1", session_id="nobody-asked", sdp=await box.offer())
        assert wire.answers["nobody-asked"][0] == "reject"
        session_id, other = await start(streams, h264_clip, wire)
        # the same session offered by another box is refused too
        intruder = ClipBox(h264_clip)
        await streams.relay.offered(device_id="core-2", session_id=session_id, sdp=await intruder.offer())
        assert wire.answers[session_id][0] == "reject"
        with pytest.raises(InvalidInput):
            await streams.relay.join(session_id=session_id, account_id="a", sdp="v=0\r\nnot really")
        await streams.relay.end(session_id, "test")
        with pytest.raises(Conflict):
            await streams.relay.join(session_id=session_id, account_id="a", sdp="v=0")
        for peer in (box, other, intruder):
            await peer.close()

    asyncio.run(scenario())
