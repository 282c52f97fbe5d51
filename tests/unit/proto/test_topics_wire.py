"""Topic builders and parser, and strict decoding (proto/topics.py, proto/wire.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb

DEVICE = str(uuid.uuid4())


def test_builders_and_parser_agree() -> None:
    session = "s-1"
    cases = {
        topics.device_status(DEVICE): topics.Topic("status", device_id=DEVICE),
        topics.device_panic(DEVICE): topics.Topic("panic", device_id=DEVICE),
        topics.device_commands(DEVICE): topics.Topic("commands", device_id=DEVICE),
        topics.device_webrtc(DEVICE, session, "offer"): topics.Topic("webrtc", device_id=DEVICE, session_id=session,
                                                                      signal="offer"),
        topics.alert("agency-1", "alert-1"): topics.Topic("alert", agency_id="agency-1", alert_id="alert-1"),
        topics.registry_camera("cam-1"): topics.Topic("camera", camera_id="cam-1"),
        topics.registry_device(DEVICE): topics.Topic("device", device_id=DEVICE),
        topics.registry_site("site-1"): topics.Topic("site", site_id="site-1"),
    }
    for topic, parsed in cases.items():
        assert topic.startswith("lookout/v1/")
        assert topics.parse(topic) == parsed


@pytest.mark.parametrize("bad", ["a/b", "+", "#", "", "x" * 65, "dev ice", "dé", "a\x00b"])
def test_identifiers_cannot_carry_separators_or_wildcards(bad: str) -> None:
    with pytest.raises(topics.TopicError):
        topics.device_panic(bad)


@pytest.mark.parametrize("topic", [
    "lookout/v2/devices/x/status", "lookout/v1/devices/x", "lookout/v1/devices/x/events/other",
    "lookout/v1/devices/+/status", "lookout/v1/devices/x/webrtc/s/hello", "other/v1/devices/x/status",
    "lookout/v1/alerts/a", "lookout/v1/registry/owners/x", "lookout/v1/devices/x/status/extra",
])
def test_parser_refuses_what_is_not_in_the_contract(topic: str) -> None:
    with pytest.raises(topics.TopicError):
        topics.parse(topic)


def test_shared_subscription() -> None:
    assert topics.shared("alerts", topics.PANIC_FILTER) == "$share/alerts/lookout/v1/devices/+/events/panic"


def test_round_trip_and_timestamps() -> None:
    at = datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC)
    event = pb.PanicEvent(event_id=str(uuid.uuid4()), device_id=DEVICE, pressed_at=wire.timestamp(at),
                          trigger=pb.TRIGGER_KIND_BUTTON, camera_ids=["c1", "c2"])
    back = wire.decode(pb.PanicEvent, wire.encode(event))
    assert back == event and wire.to_datetime(back.pressed_at) == at


@pytest.mark.parametrize("payload", [b"\xff\xff\xff", b"\x0a\x05ab", b"\x08" + b"\xff" * 11])
def test_malformed_payloads_are_wire_errors(payload: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode(pb.PanicEvent, payload)


def test_oversized_payload_is_refused_before_parsing() -> None:
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.decode(pb.PanicEvent, b"\x00" * (wire.MAX_PAYLOAD_BYTES + 1))
