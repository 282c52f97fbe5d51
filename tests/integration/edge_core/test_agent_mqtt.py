"""The agent against a real Mosquitto: presses arrive exactly once and oldest first, through outages and crashes."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_core import FIRMWARE
from edge_core.outbox import Outbox
from proto import topics
from proto.lookout.v1 import lookout_pb2 as pb
from proto.wire import decode, encode
from tests.integration.edge_core.support import Box, Proxy, Watcher, status_topic, wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.pgcluster import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    with Mosquitto() as mosquitto:
        yield mosquitto


@pytest.fixture
def box(tmp_path: Path, broker: Mosquitto) -> Iterator[Box]:
    made = Box(tmp_path, broker.port)
    yield made
    made.kill()


def statuses(watcher: Watcher, box: Box) -> list[pb.DeviceStatus]:
    return [decode(pb.DeviceStatus, m.payload) for m in watcher.on(status_topic(box))]


def panics(watcher: Watcher, box: Box) -> list[pb.PanicEvent]:
    return [decode(pb.PanicEvent, m.payload) for m in watcher.on(topics.device_panic(box.device_id))]


def wait_online(watcher: Watcher, box: Box) -> pb.DeviceStatus:
    def online() -> pb.DeviceStatus | None:
        return next((s for s in statuses(watcher, box) if s.online), None)
    return wait_until(online, 30, f"online status; agent log:\n{box.agent_log()}")


def test_a_press_arrives_exactly_once_with_its_event_id(broker: Mosquitto, box: Box) -> None:
    with Watcher(broker.port, topics.device_panic(box.device_id), status_topic(box)) as watcher:
        box.start()
        status = wait_online(watcher, box)
        assert status.firmware == FIRMWARE and status.device_id == box.device_id
        assert [c.camera_id for c in status.cameras] == ["cam-1"]
        event_id = box.panic()
        wait_until(lambda: panics(watcher, box), 15, "panic event")
        time.sleep(1.5)  # anything sent twice would have arrived by now
        [event] = panics(watcher, box)
    assert event.event_id == event_id and event.device_id == box.device_id and event.site_id == box.site_id
    assert event.trigger == pb.TRIGGER_KIND_CLI and list(event.camera_ids) == ["cam-1"]
    assert event.pressed_at.seconds > 0
    assert box.pending() == []
    assert "s3cret" not in box.agent_log()


def test_fifty_presses_while_the_broker_is_down_all_arrive_oldest_first(broker: Mosquitto, box: Box) -> None:
    panic_topic = topics.device_panic(box.device_id)
    watcher = Watcher(broker.port, panic_topic, status_topic(box), persistent=True).start()
    try:
        box.start()
        wait_online(watcher, box)
        broker.stop()
        with Outbox(box.data / "outbox.db") as outbox:  # what `lookout-core panic` does, 50 times over
            pressed = [outbox.add(pb.TRIGGER_KIND_CLI).event_id for _ in range(50)]
        time.sleep(1.0)
        assert [row[0] for row in box.pending()] == pressed
        broker.start()
        wait_until(lambda: len(panics(watcher, box)) >= 50, 60, "50 panic events")
        time.sleep(1.5)
        received = [e.event_id for e in panics(watcher, box)]
    finally:
        watcher.close()
    assert received == pressed  # all, oldest first, none twice
    wait_until(lambda: box.pending() == [], 10, "empty outbox")
    assert box.alive()


def test_killed_after_writing_before_the_ack_sends_on_restart(broker: Mosquitto, tmp_path: Path) -> None:
    proxy = Proxy(broker.port)
    box = Box(tmp_path, proxy.port)
    try:
        with Watcher(broker.port, topics.device_panic(box.device_id), status_topic(box)) as watcher:
            box.start()
            wait_online(watcher, box)
            proxy.frozen.set()  # the broker never sees the publish, the agent never sees a PUBACK
            event_id = box.panic()
            wait_until(lambda: box.pending() and box.pending()[0][1] >= 1, 15, "a publish attempt")
            box.kill()
            assert [row[0] for row in box.pending()] == [event_id]
            assert panics(watcher, box) == []
            proxy.frozen.clear()
            box.start()
            wait_until(lambda: panics(watcher, box), 30, f"panic after restart; log:\n{box.agent_log()}")
            time.sleep(1.0)
            assert [e.event_id for e in panics(watcher, box)] == [event_id]
        wait_until(lambda: box.pending() == [], 10, "empty outbox")
    finally:
        box.kill()
        proxy.close()


def test_status_is_retained_and_the_last_will_says_offline(broker: Mosquitto, box: Box) -> None:
    with Watcher(broker.port, status_topic(box)) as first:
        box.start()
        wait_online(first, box)
    with Watcher(broker.port, status_topic(box)) as late:  # a late subscriber gets the retained status
        wait_until(lambda: late.on(status_topic(box)), 10, "retained status")
        message = late.on(status_topic(box))[0]  # later ones may be live updates (camera health)
        assert message.retain and decode(pb.DeviceStatus, message.payload).online
        box.kill()
        wait_until(lambda: any(not s.online for s in statuses(late, box)), 15, "last will")
    with Watcher(broker.port, status_topic(box)) as after:
        wait_until(lambda: after.on(status_topic(box)), 10, "retained will")
        message = after.on(status_topic(box))[0]
        status = decode(pb.DeviceStatus, message.payload)
        assert message.retain and not status.online and status.device_id == box.device_id


def test_a_clean_stop_says_offline(broker: Mosquitto, box: Box) -> None:
    with Watcher(broker.port, status_topic(box)) as watcher:
        box.start()
        wait_online(watcher, box)
        assert box.stop() == 0
        wait_until(lambda: any(not s.online for s in statuses(watcher, box)), 10, "offline status")


def test_malformed_commands_do_not_crash_the_agent(broker: Mosquitto, box: Box) -> None:
    commands = topics.device_commands(box.device_id)
    with Watcher(broker.port, topics.device_panic(box.device_id), status_topic(box)) as watcher:
        box.start()
        wait_online(watcher, box)
        foreign = pb.DeviceCommand(command_id="c-foreign",
                                   stream_start=pb.StreamStart(session_id="s1", camera_id="cam-other"))
        good = pb.DeviceCommand(command_id="c-good", stream_start=pb.StreamStart(session_id="s2", camera_id="cam-1"))
        for payload in (b"\xff\xfe\xfd", b"\x0a\x50short", b"\x00" * (100 * 1024), b"", encode(foreign), encode(good)):
            watcher.client.publish(commands, payload, qos=1).wait_for_publish(10)
        wait_until(lambda: "c-good" in box.agent_log(), 15, "the good command in the log")
        assert box.agent_log().count("command dropped") >= 5
        assert box.alive()
        event_id = box.panic()
        wait_until(lambda: [e.event_id for e in panics(watcher, box)] == [event_id], 15, "panic after garbage")


def test_commands_queued_while_offline_are_delivered(broker: Mosquitto, box: Box) -> None:
    with Watcher(broker.port, status_topic(box)) as watcher:
        box.start()
        wait_online(watcher, box)
        assert box.stop() == 0
        queued = pb.DeviceCommand(command_id="c-queued",
                                  stream_stop=pb.StreamStop(session_id="s9", camera_id="cam-1"))
        watcher.client.publish(topics.device_commands(box.device_id), encode(queued), qos=1).wait_for_publish(10)
        box.start()
        wait_until(lambda: "c-queued" in box.agent_log(), 20, f"queued command; log:\n{box.agent_log()}")


def test_the_lan_page_press_arrives(broker: Mosquitto, tmp_path: Path) -> None:
    box = Box(tmp_path, broker.port, lan_port=free_port())
    try:
        with Watcher(broker.port, topics.device_panic(box.device_id), status_topic(box)) as watcher:
            box.start()
            wait_online(watcher, box)
            url = f"http://127.0.0.1:{box.lan_port}/panic"
            with pytest.raises(urllib.error.HTTPError) as wrong:
                urllib.request.urlopen(url, data=b"pin=000000", timeout=10)
            assert wrong.value.code == 403
            wrong.value.close()
            with urllib.request.urlopen(url, data=b"pin=482913", timeout=10) as answer:
                assert answer.status == 200 and "Panic recorded at" in answer.read().decode()
            wait_until(lambda: panics(watcher, box), 15, "LAN page panic")
            time.sleep(1.0)
            [event] = panics(watcher, box)
            assert event.trigger == pb.TRIGGER_KIND_LAN_PAGE
    finally:
        box.kill()
