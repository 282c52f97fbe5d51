"""ICE host addresses, live session ids in the status, the answer subscription, the link's wait, the live LED."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aioice.ice
import pytest

from edge_core.gpio import start_led
from edge_core.ice import restrict_host_addresses
from edge_core.link import Link, LinkSettings, _wait, answers_filter
from edge_core.outbox import Outbox
from proto.lookout.v1 import lookout_pb2 as pb
from proto.topics import TopicError
from proto.wire import decode


def test_ice_gathers_only_the_configured_addresses() -> None:
    current = aioice.ice.get_host_addresses  # another test's relay may have restricted it already
    original = getattr(current, "lookout_original", current)
    try:
        restrict_host_addresses(["127.0.0.1", "::1"])
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        restrict_host_addresses([])
        assert aioice.ice.get_host_addresses is original
    finally:
        aioice.ice.get_host_addresses = current


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


def test_the_links_wait_never_swallows_a_cancellation() -> None:
    # asyncio.wait_for on 3.11 returns normally when cancelled just as the event is set: the link's TaskGroup
    # then waited for its status loop forever and the agent did not stop on SIGTERM.
    async def main() -> None:
        event = asyncio.Event()
        task = asyncio.ensure_future(_wait(event, 60))
        await asyncio.sleep(0)
        event.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await _wait(event, 1) is True
        event.clear()
        assert await _wait(event, 0.01) is False

    asyncio.run(main())


def test_the_links_wait_still_times_out_after_a_failed_task_group() -> None:
    # Python 3.11's TaskGroup leaves its parent with a pending cancel count when a child fails (the broker
    # went away); asyncio.timeout then raised CancelledError and the agent died instead of reconnecting.
    async def crash() -> None:
        raise OSError("broker lost")

    async def main() -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(crash())
                tasks.create_task(asyncio.sleep(10))
        except* OSError:
            pass
        assert await _wait(asyncio.Event(), 0.01) is False

    asyncio.run(main())
