"""The panic consumer against a real Mosquitto and a real PostGIS: one alert per event, stream commands, hostility."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import aiomqtt
from sqlalchemy import func, select

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.alerts.deps import Alerts
from services.alerts.models import Alert, AlertFeed, DeviceCopy
from services.common.mqtt import running
from tests.integration.alerts.conftest import World, panic_event, seed, until
from tests.support.mosquitto import Mosquitto


def count_alerts(alerts: Alerts) -> int:
    with alerts.service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Alert)) or 0)


def all_alerts(alerts: Alerts) -> list[Alert]:
    with alerts.service.sessions() as session:
        return list(session.scalars(select(Alert)))


class Listener:
    """A test client collecting everything under lookout/v1/devices/+/commands and lookout/v1/alerts/#."""

    def __init__(self) -> None:
        self.got: list[tuple[str, bytes]] = []

    async def collect(self, client: aiomqtt.Client) -> None:
        await client.subscribe("lookout/v1/devices/+/commands", qos=1)
        await client.subscribe("lookout/v1/alerts/#", qos=1)
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            self.got.append((str(message.topic), message.payload))

    def commands(self) -> list[tuple[str, pb.DeviceCommand]]:
        return [(t, wire.decode(pb.DeviceCommand, p)) for t, p in self.got if t.endswith("/commands")]

    def alert_events(self) -> list[pb.AlertEvent]:
        return [wire.decode(pb.AlertEvent, p) for t, p in self.got if t.startswith("lookout/v1/alerts/")]


async def with_service(broker: Mosquitto, alerts: Alerts, scenario: Callable[[aiomqtt.Client, Listener], Any]) -> None:
    """Run the service's MQTT client, a device client and a listener around a scenario."""
    assert alerts.mqtt is not None
    listener = Listener()
    async with running(alerts.mqtt, wait_s=10), \
            aiomqtt.Client("127.0.0.1", broker.port, identifier=f"dev-{uuid.uuid4().hex[:6]}") as device, \
            aiomqtt.Client("127.0.0.1", broker.port, identifier=f"lis-{uuid.uuid4().hex[:6]}") as watcher:
        task = asyncio.create_task(listener.collect(watcher))
        await asyncio.sleep(0.2)
        try:
            await scenario(device, listener)
        finally:
            task.cancel()


def test_panic_opens_exactly_one_alert_and_starts_only_live_cameras(broker: Mosquitto,
                                                                    make_alerts: Callable[..., Alerts]) -> None:
    alerts = make_alerts(broker.port)
    world = World()
    seed(alerts, world)
    event = panic_event(world)

    async def scenario(device: aiomqtt.Client, listener: Listener) -> None:
        for _ in range(3):  # QoS 1 redelivery / replay of the same event id
            await device.publish(topics.device_panic(world.device), wire.encode(event), qos=1)
        await until(lambda: count_alerts(alerts) == 1)
        await until(lambda: len(listener.commands()) >= 2 and listener.alert_events())
        await asyncio.sleep(0.5)  # room for a wrong extra alert or command
        assert count_alerts(alerts) == 1
        (alert,) = all_alerts(alerts)
        assert alert.agency_id == world.agency and alert.site_id == world.site and alert.device_id == world.device
        assert str(alert.event_id) == event.event_id and alert.status == "open" and alert.announced_at is not None
        commands = listener.commands()
        assert sorted(c.stream_start.camera_id for _, c in commands) == sorted(world.live)
        for topic, command in commands:
            assert topic == topics.device_commands(world.device)
            start = command.stream_start
            assert start.alert_id == str(alert.id) and start.agency_id == world.agency and start.relay_id
            assert start.expires_at.seconds > 0
        (opened,) = listener.alert_events()
        assert opened.opened.alert_id == str(alert.id) and opened.opened.agency_id == world.agency
        assert alerts.consumer.counts.get("panic_duplicate") == 2

    asyncio.run(with_service(broker, alerts, scenario))
    with alerts.service.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AlertFeed)) == 1


def test_hostile_payloads_open_nothing_and_the_consumer_survives(broker: Mosquitto,
                                                                 make_alerts: Callable[..., Alerts]) -> None:
    alerts = make_alerts(broker.port)
    world, other, revoked = World(), World(), World()
    seed(alerts, world)
    seed(alerts, other)
    seed(alerts, revoked, revoked=True)
    panic = topics.device_panic

    hostile: list[tuple[str, bytes, str]] = [
        (panic(world.device), b"\x00" * (70 * 1024), "bad_payload"),
        (panic(world.device), b"\xff\xfe garbage \x01\x02", "bad_payload"),
        (panic(world.device), wire.encode(panic_event(world, device_id=other.device)), "device_mismatch"),
        (panic("core-unknown"), wire.encode(panic_event(world, device_id="core-unknown")), "unknown_device"),
        (panic(revoked.device), wire.encode(panic_event(revoked)), "revoked_device"),
        (panic(world.device), wire.encode(panic_event(world, site_id=other.site)), "site_mismatch"),
        (panic(world.device), wire.encode(panic_event(world, event_id="not-a-uuid")), "bad_event_id"),
    ]

    async def scenario(device: aiomqtt.Client, listener: Listener) -> None:
        for topic, payload, _ in hostile:
            await device.publish(topic, payload, qos=1)
        good = panic_event(world)
        await device.publish(panic(world.device), wire.encode(good), qos=1)
        alert = await until(lambda: all_alerts(alerts))
        assert [str(a.event_id) for a in alert] == [good.event_id]
        counts = alerts.consumer.counts
        for _, _, reason in hostile:
            assert counts.get(f"panic_rejected_{reason}", 0) >= 1, (reason, counts)
        assert not [c for t, c in listener.commands() if t != topics.device_commands(world.device)]

    asyncio.run(with_service(broker, alerts, scenario))


def test_registry_events_keep_the_newest_version(broker: Mosquitto, make_alerts: Callable[..., Alerts]) -> None:
    alerts = make_alerts(broker.port)
    world = World()

    async def scenario(device: aiomqtt.Client, listener: Listener) -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="registry") as registry:
            for topic, payload in world.registry_messages(version=5):
                await registry.publish(topic, payload, qos=1)
            for topic, payload in world.registry_messages(version=3, revoked=True):  # stale: ignored
                await registry.publish(topic, payload, qos=1)

        def device_row() -> DeviceCopy | None:
            with alerts.service.sessions() as session:
                return session.get(DeviceCopy, world.device)

        await until(lambda: alerts.consumer.counts.get("registry_stale", 0) == 6)
        row = device_row()
        assert row is not None and row.version == 5 and not row.revoked
        event = panic_event(world)
        await device.publish(topics.device_panic(world.device), wire.encode(event), qos=1)
        await until(lambda: count_alerts(alerts) == 1)

    asyncio.run(with_service(broker, alerts, scenario))
