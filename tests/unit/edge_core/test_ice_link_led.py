"""ICE host addresses, the live session ids in the status, the answer subscription, the live LED."""

from __future__ import annotations

import sys
from pathlib import Path

import aioice.ice
import pytest

from edge_core.gpio import start_led
from edge_core.ice import restrict_host_addresses
from edge_core.link import Link, LinkSettings, answers_filter
from edge_core.outbox import Outbox
from proto.lookout.v1 import lookout_pb2 as pb
from proto.topics import TopicError
from proto.wire import decode


def test_ice_gathers_only_the_configured_addresses() -> None:
    original = aioice.ice.get_host_addresses
    try:
        restrict_host_addresses(["127.0.0.1", "::1"])
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        restrict_host_addresses([])
        assert aioice.ice.get_host_addresses is original
    finally:
        restrict_host_addresses([])


def test_the_status_lists_live_sessions_only_while_online(tmp_path: Path) -> None:
    settings = LinkSettings("dev-1", "site-1", "127.0.0.1", 1883, "dev-1", "pw")
    with Outbox(tmp_path / "outbox.db") as outbox:
        link = Link(settings, outbox, ("cam-1",), live_ids=lambda: ["s-2", "s-1"])
        online = decode(pb.DeviceStatus, link.status_payload(online=True))
        offline = decode(pb.DeviceStatus, link.status_payload(online=False))
    assert list(online.live_session_ids) == ["s-2", "s-1"] and list(offline.live_session_ids) == []


def test_the_box_subscribes_to_its_own_answers_only() -> None:
    assert answers_filter("dev-1") == "lookout/v1/devices/dev-1/webrtc/+/answer"
    with pytest.raises(TopicError):
        answers_filter("dev/#")


def test_the_led_without_gpiozero_is_disabled_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gpiozero", None)
    assert start_led(18) is None
