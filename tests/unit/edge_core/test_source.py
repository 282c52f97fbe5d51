"""The RTSP reader thread, with a fake demuxer: reconnects, hands access units to the loop, never leaks the URL."""

from __future__ import annotations

import asyncio
import logging
import threading
import types
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import av
import pytest

from edge_core.backoff import Backoff
from edge_core.config import CameraConfig, LiveConfig
from edge_core.fanout import Fanout
from edge_core.h264 import AccessUnit
from edge_core.source import OPEN_OPTIONS, RtspSource, SourcePool

URL = "rtsp://admin:s3cret@192.168.1.20:554/stream1"
CAMERA = CameraConfig("cam-1", URL, "Front")
SPS_PPS = b"\x00\x00\x00\x01\x67\x64\x00\x1f\x00\x00\x00\x01\x68\xee\x3c\xb0"
IDR = b"\x00\x00\x00\x01\x65\x88\x84\x00"
P = b"\x00\x00\x00\x01\x41\x9a\x02\x00"


class RecordingFanout(Fanout):
    """A fanout that also remembers every unit it was given."""

    def __init__(self) -> None:
        super().__init__(gop_max_bytes=1 << 20, queue_max_units=100)
        self.units: list[AccessUnit] = []

    def publish(self, unit: AccessUnit) -> None:
        self.units.append(unit)
        super().publish(unit)


def packet(data: bytes, pts: int | None, key: bool = False) -> av.Packet:
    made = av.Packet(data)
    made.pts, made.is_keyframe = pts, key
    return made


class FakeContainer:
    def __init__(self, frames: int, codec: str = "h264", hold: threading.Event | None = None) -> None:
        context = types.SimpleNamespace(name=codec, extradata=SPS_PPS, width=0, height=0)
        self.stream = types.SimpleNamespace(codec_context=context, time_base=Fraction(1, 90_000),
                                            guessed_rate=Fraction(25), average_rate=None)
        self.streams = types.SimpleNamespace(video=[self.stream])
        self.frames = frames
        self.hold = hold  # the camera keeps the connection open, silent, until this is set
        self.closed = False

    def demux(self, stream: object) -> Iterator[av.Packet]:
        yield packet(IDR, None, key=True)  # no pts, and no SPS/PPS in band: both are fixed on the box
        for i in range(1, self.frames):
            yield packet(P, i * 3600)
        if self.hold is not None:
            self.hold.wait(5)
        raise OSError(f"Connection reset while reading {URL}")

    def close(self) -> None:
        self.closed = True


class Opener:
    def __init__(self, *results: object) -> None:
        self.results = list(results)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, url: str, **kwargs: Any) -> FakeContainer:
        self.calls.append(kwargs)
        result = self.results.pop(0) if self.results else FakeContainer(3)
        if isinstance(result, Exception):
            raise result
        assert isinstance(result, FakeContainer)
        return result


def test_the_source_reconnects_and_hands_whole_units_to_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    first, second = FakeContainer(4), FakeContainer(3)
    opener = Opener(OSError(f"[Errno 111] Connection refused: '{URL}'"), first, second)

    async def main() -> tuple[list[tuple[int, bool, int]], RtspSource]:
        fanout = RecordingFanout()
        source = RtspSource(CAMERA, fanout, asyncio.get_running_loop(), timeout_s=3.0,
                            backoff=Backoff(0.001, 0.002), opener=opener)
        source.start()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if source.connections >= 3:
                break
        source.stop()
        assert await asyncio.to_thread(source.join, 5.0)
        return [(u.pts, u.keyframe, u.epoch) for u in fanout.units], source

    got, source = asyncio.run(main())
    # Each connection's last unit waits for a next packet that never comes: it is dropped with the connection.
    assert got[:5] == [(0, True, 1), (3600, False, 1), (7200, False, 1), (0, True, 2), (3600, False, 2)]
    assert first.closed and second.closed
    assert opener.calls[0] == {"options": OPEN_OPTIONS, "timeout": (3.0, 3.0)}
    assert OPEN_OPTIONS["analyzeduration"] == "0" and OPEN_OPTIONS["rtsp_transport"] == "tcp"
    assert "Connection" in source.error or source.error == ""
    assert "s3cret" not in caplog.text and "192.168" not in caplog.text
    assert "stream lost" in caplog.text
    assert source.codec == ("h264", 0, 0) and source.health() is None  # stopped: no longer a witness


def test_an_open_stream_reports_the_cameras_health() -> None:
    async def main() -> None:
        fanout = RecordingFanout()
        hold = threading.Event()
        container = FakeContainer(3, hold=hold)
        container.stream.codec_context.width, container.stream.codec_context.height = 1920, 1080
        source = RtspSource(CAMERA, fanout, asyncio.get_running_loop(), backoff=Backoff(5, 5),
                            opener=Opener(container))
        assert source.health() is None
        source.start()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if fanout.units:
                break
        health = source.health()
        assert health is not None and (health.reachable, health.codec, health.width) == (True, "h264", 1920)
        assert health.last_frame_at is not None
        source.last_unit_at -= 60
        assert source.health() is None  # connected but silent: probe it the usual way
        source.stop()
        hold.set()

    asyncio.run(main())


def test_the_keyframe_gets_the_sdps_parameter_sets() -> None:
    async def main() -> list[bytes]:
        fanout = RecordingFanout()
        source = RtspSource(CAMERA, fanout, asyncio.get_running_loop(), backoff=Backoff(5, 5),
                            opener=Opener(FakeContainer(3)))
        source.start()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if fanout.units:
                break
        source.stop()
        return [bytes(u.packet) for u in fanout.units if u.keyframe]

    assert asyncio.run(main())[0] == SPS_PPS + IDR


def test_a_camera_that_is_not_h264_is_refused_without_its_url(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> str:
        source = RtspSource(CAMERA, Fanout(gop_max_bytes=1 << 20, queue_max_units=10), asyncio.get_running_loop(),
                            backoff=Backoff(5, 5), opener=Opener(FakeContainer(3, codec="hevc")))
        source.start()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if source.error:
                break
        source.stop()
        return source.error

    assert "not H.264" in asyncio.run(main())
    assert "s3cret" not in caplog.text


def test_the_pool_shares_a_source_and_keeps_warm_ones_open() -> None:
    async def main() -> None:
        cameras = (CAMERA, CameraConfig("cam-2", URL + "2", warm_standby=True))
        pool = SourcePool(cameras, LiveConfig(), opener=Opener(*[FakeContainer(2) for _ in range(10)]))
        pool.start_warm()
        assert pool.source("cam-1") is None and pool.source("cam-2") is not None
        one = pool.acquire("cam-1")
        assert pool.acquire("cam-1") is one
        pool.release("cam-1")
        assert pool.source("cam-1") is not None
        pool.release("cam-1")
        assert pool.source("cam-1") is None and one.closed
        warm = pool.acquire("cam-2")
        pool.release("cam-2")
        assert pool.source("cam-2") is not None and not warm.closed
        await pool.close(timeout=5.0)
        assert warm.closed

    asyncio.run(main())
