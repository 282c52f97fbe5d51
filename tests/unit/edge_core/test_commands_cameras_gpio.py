"""Commands and answers are decoded strictly, never crash, reach live video; camera health hides the URL; GPIO."""

from __future__ import annotations

import asyncio
import sys
import types
from pathlib import Path

import pytest

from edge_core.cameras import CameraMonitor, Health, probe_with_pyav, scrub
from edge_core.commands import handle_answer, handle_command
from edge_core.config import CameraConfig
from edge_core.gpio import PressFilter
from proto.lookout.v1 import lookout_pb2 as pb
from proto.wire import encode

CAMS = {"cam-1"}
URL = "rtsp://admin:s3cret@192.168.1.20:554/stream1"


class FakeLive:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def stream_start(self, start: pb.StreamStart) -> str:
        self.calls.append(("start", start.session_id))
        return "started"

    def stream_stop(self, stop: pb.StreamStop) -> str:
        self.calls.append(("stop", stop.session_id))
        return "stopping"

    def policy_update(self, update: pb.PolicyUpdate) -> str:
        self.calls.append(("policy", update.version))
        return "applied"

    def answer(self, description: pb.SessionDescription) -> str:
        self.calls.append(("answer", description.type))
        return "answered"


def test_well_formed_commands_reach_live_video() -> None:
    live = FakeLive()
    start = pb.DeviceCommand(command_id="c1", stream_start=pb.StreamStart(session_id="s1", camera_id="cam-1"))
    assert handle_command(encode(start), CAMS, live) == "started"
    stop = pb.DeviceCommand(command_id="c2", stream_stop=pb.StreamStop(session_id="s1", camera_id="cam-1"))
    assert handle_command(encode(stop), CAMS, live) == "stopping"
    policy = pb.DeviceCommand(command_id="c3", policy_update=pb.PolicyUpdate(camera_id="cam-1", version=4))
    assert handle_command(encode(policy), CAMS, live) == "applied"
    assert live.calls == [("start", "s1"), ("stop", "s1"), ("policy", 4)]
    assert "no live video" in handle_command(encode(start), CAMS)


def test_answers_are_checked_before_reaching_live_video() -> None:
    live = FakeLive()
    answer = pb.SessionDescription(session_id="s1", type="answer", sdp="v=0")
    assert handle_answer("s1", encode(answer), live) == "answered"
    assert "names session" in handle_answer("s2", encode(answer), live)
    offer = pb.SessionDescription(session_id="s1", type="offer", sdp="v=0")
    assert handle_answer("s1", encode(offer), live).startswith("dropped:")
    assert handle_answer("s1", b"\xff\xff", live).startswith("dropped:")
    assert handle_answer("s1", "text", live).startswith("dropped:")
    assert live.calls == [("answer", "answer")]


@pytest.mark.parametrize("payload", [
    b"\xff\xff\xff\xff",
    b"\x0a\x05ab",  # truncated field
    b"",  # no command at all
    b"\x00" * (65 * 1024),  # oversized
    "a string",
    None,
])
def test_malformed_commands_are_dropped(payload: object) -> None:
    assert handle_command(payload, CAMS).startswith("dropped:")


def test_a_command_for_another_boxs_camera_is_dropped() -> None:
    start = pb.DeviceCommand(command_id="c1", stream_start=pb.StreamStart(session_id="s1", camera_id="cam-9"))
    assert "not one of this box's" in handle_command(encode(start), CAMS)


def test_scrub_removes_urls() -> None:
    assert "s3cret" not in scrub(f"Connection refused: '{URL}'", URL)
    assert "s3cret" not in scrub("error rtsp://other:s3cret@cam/x", URL)


def test_without_pyav_the_camera_is_reported_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)
    assert probe_with_pyav(URL, 1.0) == Health(error="PyAV not installed")


def test_pyav_errors_never_carry_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(url: str, **kwargs: object) -> None:
        raise OSError(f"[Errno 111] Connection refused: '{url}'")

    monkeypatch.setitem(sys.modules, "av", types.SimpleNamespace(open=boom))
    health = probe_with_pyav(URL, 1.0)
    assert not health.reachable and "Connection refused" in health.error and "s3cret" not in health.error


class FakeStream:
    codec_context = types.SimpleNamespace(name="h264", width=1920, height=1080)


class FakeContainer:
    streams = types.SimpleNamespace(video=[FakeStream()])

    def demux(self, stream: object) -> list[object]:
        return [types.SimpleNamespace(size=1200)]

    def __enter__(self) -> FakeContainer:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_a_healthy_camera_reports_codec_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_open(url: str, **kwargs: object) -> FakeContainer:
        seen.update(kwargs)
        return FakeContainer()

    monkeypatch.setitem(sys.modules, "av", types.SimpleNamespace(open=fake_open))
    health = probe_with_pyav(URL, 3.0)
    assert (health.reachable, health.codec, health.width, health.height) == (True, "h264", 1920, 1080)
    assert health.last_frame_at is not None
    assert seen["options"] == {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32768"}
    assert seen["timeout"] == 3.0


def test_monitor_statuses_never_carry_the_url() -> None:
    def prober(url: str, timeout: float) -> Health:
        return Health(error=f"timeout opening {url}")

    async def main() -> list[pb.CameraStatus]:
        monitor = CameraMonitor((CameraConfig("cam-1", URL, "Front"),), prober=prober)
        await monitor.probe_once(monitor.cameras[0])
        assert monitor.changed.is_set()
        return monitor.statuses()

    [status] = asyncio.run(main())
    assert status.camera_id == "cam-1" and not status.reachable
    assert "s3cret" not in status.error and "192.168" not in status.SerializeToString().decode("latin-1")


def test_press_filter_drops_bounces_and_repeats() -> None:
    now = [0.0]
    presses = PressFilter(2.0, clock=lambda: now[0])
    results = []
    for t in (0.0, 0.01, 0.5, 1.99, 2.0, 2.1, 10.0):
        now[0] = t
        results.append(presses.accept())
    assert results == [True, False, False, False, True, False, True]


def test_gpio_without_gpiozero_is_disabled_not_fatal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from edge_core.config import GpioConfig
    from edge_core.gpio import start_button

    monkeypatch.setitem(sys.modules, "gpiozero", None)

    async def main() -> object:
        return start_button(GpioConfig(pin=17), lambda: None, asyncio.get_running_loop())

    assert asyncio.run(main()) is None


def test_a_camera_whose_stream_is_open_is_not_probed_again() -> None:
    probed: list[str] = []

    def prober(url: str, timeout: float) -> Health:
        probed.append(url)
        return Health(error="unreachable")

    async def main() -> Health:
        monitor = CameraMonitor((CameraConfig("cam-1", URL, "Front"),), prober=prober)
        monitor.open_health = lambda camera_id: Health(reachable=True, codec="h264", width=1280, height=720, error="")
        return await monitor.probe_once(monitor.cameras[0])

    health = asyncio.run(main())
    assert health.reachable and health.width == 1280 and probed == []
