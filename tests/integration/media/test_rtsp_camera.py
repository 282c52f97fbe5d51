"""The simulated RTSP camera behaves like a real one, as seen through FFmpeg (PyAV), the way services read it."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import av
import pytest
from av.container import InputContainer

from tests.support.rtsp_camera import APT_PACKAGES, RtspCamera, gstreamer_available

pytestmark = pytest.mark.timeout(90)  # a hung RTSP read should fail this module, not stall the suite

IDR_SLICE, SPS, PPS = 5, 7, 8
GOP = 10  # short GOPs keep the keyframe tests fast


@pytest.fixture(scope="module", autouse=True)
def require_gstreamer() -> None:
    """No skipping: `make test` installs GStreamer, so its absence is a broken setup."""
    if not gstreamer_available():
        pytest.fail(f"GStreamer's RTSP server is missing for /usr/bin/python3: apt-get install {APT_PACKAGES}")


@pytest.fixture(scope="module")
def camera() -> Iterator[RtspCamera]:
    """One 720p camera shared by the read-only tests."""
    with RtspCamera(gop=GOP) as cam:
        yield cam


def open_stream(url: str) -> InputContainer:
    """Open the stream as the services do: RTSP over TCP, 10 s open and read timeouts."""
    return av.open(url, options={"rtsp_transport": "tcp"}, timeout=10)


def read_packets(container: InputContainer, count: int) -> list[av.Packet]:
    """The next `count` video packets (access units) with data."""
    got: list[av.Packet] = []
    for packet in container.demux(video=0):
        if packet.size:
            got.append(packet)
            if len(got) == count:
                break
    assert len(got) == count, f"stream ended after {len(got)} packets"
    return got


def nal_types(access_unit: bytes) -> list[int]:
    """The NAL unit types of an Annex-B access unit (units start with 00 00 01 or 00 00 00 01)."""
    types = []
    start = access_unit.find(b"\x00\x00\x01")
    while start != -1 and start + 3 < len(access_unit):
        types.append(access_unit[start + 3] & 0x1F)
        start = access_unit.find(b"\x00\x00\x01", start + 3)
    return types


def keyframe_positions(packets: list[av.Packet]) -> list[int]:
    """Indexes of the keyframes in a run of packets."""
    return [i for i, packet in enumerate(packets) if packet.is_keyframe]


def gaps(positions: list[int]) -> set[int]:
    """The distinct distances between successive positions."""
    return {b - a for a, b in itertools.pairwise(positions)}


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080)])
def test_stream_is_h264_high_profile_at_the_configured_size(width: int, height: int) -> None:
    with RtspCamera(width=width, height=height, gop=GOP) as cam, open_stream(cam.url) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (width, height)
        assert stream.codec_context.profile == "High"
        decoded = [frame for packet in read_packets(container, 2 * GOP) for frame in stream.decode(packet)]
        assert decoded, "no frame decoded from two GOPs"
        assert (decoded[0].width, decoded[0].height) == (width, height)


def test_keyframes_come_every_gop_frames_with_parameter_sets(camera: RtspCamera) -> None:
    with open_stream(camera.url) as container:
        packets = read_packets(container, 3 * GOP + 1)
    keys = keyframe_positions(packets)
    assert len(keys) >= 3, keys
    assert gaps(keys) == {GOP}
    keyframe = bytes(packets[keys[1]])
    assert keyframe.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01")), "not Annex-B"
    types = nal_types(keyframe)
    # SPS and PPS ride in-band with every IDR, so a viewer can start at any keyframe.
    assert SPS in types and PPS in types
    assert types.count(IDR_SLICE) == 1  # single-slice frames unless `slices` says otherwise


def test_two_clients_read_the_same_encoder_at_once(camera: RtspCamera) -> None:
    with open_stream(camera.url) as first, open_stream(camera.url) as second:
        a: list[av.Packet] = []
        b: list[av.Packet] = []
        # Opening reads ahead (~1.3 s of stream info probing), so the second client's first packets are
        # newer than the first's: read two seconds from each, alternating so neither connection stalls.
        for _ in range(50):
            a += read_packets(first, 1)
            b += read_packets(second, 1)
    assert keyframe_positions(a) and keyframe_positions(b)
    # One shared pipeline: both clients receive byte-identical access units from the one encoder.
    assert {bytes(p) for p in a} & {bytes(p) for p in b}


def drain_until_closed(container: InputContainer, limit_s: float) -> str:
    """Read until the stream fails or ends and say how; fails if it still delivers after `limit_s`."""
    deadline = time.monotonic() + limit_s
    try:
        for _packet in container.demux(video=0):
            if time.monotonic() > deadline:
                raise AssertionError(f"stream still delivering {limit_s} s after the camera went away")
    except av.error.FFmpegError as exc:  # OSError subclasses too (connection reset, timeout)
        return f"error: {exc}"
    return "end of stream"


def test_restart_cuts_old_clients_and_serves_new_ones() -> None:
    with RtspCamera(gop=GOP) as cam:
        url, port = cam.url, cam.port
        with open_stream(cam.url) as before:
            read_packets(before, 1)
            started = time.monotonic()
            cam.restart(down_s=0.2)
            how = drain_until_closed(before, limit_s=5)
            # Well inside the 10 s read timeout: the client saw the connection close, it did not just time out.
            assert time.monotonic() - started < 5, how
        assert (cam.url, cam.port) == (url, port)
        with open_stream(cam.url) as after:
            assert keyframe_positions(read_packets(after, 2 * GOP))


def test_multi_slice_keyframes_carry_several_idr_slices() -> None:
    with RtspCamera(gop=GOP, slices=4) as cam, open_stream(cam.url) as container:
        packets = read_packets(container, 2 * GOP)
    keys = keyframe_positions(packets)
    assert gaps(keys) == {GOP}  # each multi-slice IDR arrives as one access unit
    assert nal_types(bytes(packets[keys[-1]])).count(IDR_SLICE) == 4


def test_basic_auth_rejects_a_wrong_password_and_accepts_the_right_one() -> None:
    with RtspCamera(gop=GOP, user="viewer", password="s3cret:/@x") as cam:
        wrong = f"rtsp://viewer:nope@127.0.0.1:{cam.port}{cam.path}"
        anonymous = f"rtsp://127.0.0.1:{cam.port}{cam.path}"
        for url in (wrong, anonymous):
            with pytest.raises(av.error.HTTPUnauthorizedError):
                open_stream(url).close()
        with open_stream(cam.url) as container:
            assert read_packets(container, 1)
