"""Two consumer replicas sharing the panic subscription, and redelivery when announcing fails."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import aiomqtt
import pytest
from sqlalchemy import func, select

from proto import topics, wire
from services.alerts.deps import Alerts
from services.alerts.models import Alert, AlertFeed
from services.common.mqtt import running
from tests.integration.alerts.conftest import World, panic_event, seed, until
from tests.integration.alerts.test_consumer import Listener, count_alerts
from tests.support.mosquitto import Mosquitto


def test_two_replicas_split_events_without_duplicates(broker: Mosquitto, make_alerts: Callable[..., Alerts],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTS_MQTT_SHARED_GROUP", "alerts")  # replicas opt in to sharing the panic subscription
    one, two = make_alerts(broker.port, client_id="alerts-a"), make_alerts(broker.port, client_id="alerts-b")
    world = World()
    seed(one, world)
    events = [panic_event(world) for _ in range(30)]

    async def scenario() -> None:
        assert one.mqtt is not None and two.mqtt is not None
        listener = Listener()
        async with running(one.mqtt, wait_s=10), running(two.mqtt, wait_s=10), \
                aiomqtt.Client("127.0.0.1", broker.port, identifier="device") as device, \
                aiomqtt.Client("127.0.0.1", broker.port, identifier="watcher") as watcher:
            task = asyncio.create_task(listener.collect(watcher))
            await asyncio.sleep(0.2)
            for _ in range(2):  # every event twice: a replay must not open a second alert on either replica
                for event in events:
                    await device.publish(topics.device_panic(world.device), wire.encode(event), qos=1)
            await until(lambda: count_alerts(one) == 30, timeout=20)
            await until(lambda: sum(c.counts.get("panic_duplicate", 0) for c in (one.consumer, two.consumer)) == 30)
            await asyncio.sleep(0.3)
            task.cancel()
        opened = [one.consumer.counts.get("panic_opened", 0), two.consumer.counts.get("panic_opened", 0)]
        assert sum(opened) == 30 and min(opened) > 0, opened  # both replicas took a share
        sessions = {c.stream_start.session_id for _, c in listener.commands()}
        assert len(sessions) == 30 * len(world.live)  # any re-sent command repeats its session id

    asyncio.run(scenario())
    with one.service.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 30
        assert session.scalar(select(func.count()).select_from(AlertFeed).where(AlertFeed.kind == "opened")) == 30


def sessions(listener: Listener) -> set[str]:
    """Distinct stream sessions commanded so far."""
    return {command.stream_start.session_id for _, command in listener.commands()}


def announced(alerts: Alerts) -> bool:
    """True once the (only) alert is marked announced."""
    with alerts.service.sessions() as session:
        return session.scalar(select(Alert.announced_at)) is not None


def test_unannounced_alert_is_announced_on_redelivery(broker: Mosquitto, make_alerts: Callable[..., Alerts]) -> None:
    alerts = make_alerts(broker.port, client_id=f"alerts-{uuid.uuid4().hex[:6]}")
    world = World()
    seed(alerts, world)
    assert alerts.mqtt is not None
    real_publish = alerts.mqtt.publish
    failures = [1]

    async def flaky_publish(topic: str, payload: bytes, *, qos: int = 1) -> None:
        if failures[0]:
            failures[0] -= 1
            raise ConnectionError("broker hiccup after commit")
        await real_publish(topic, payload, qos=qos)

    alerts.service.publisher = type("P", (), {"publish": staticmethod(flaky_publish)})()
    event = panic_event(world)

    async def scenario() -> None:
        assert alerts.mqtt is not None
        listener = Listener()
        async with running(alerts.mqtt, wait_s=10), \
                aiomqtt.Client("127.0.0.1", broker.port, identifier="device") as device, \
                aiomqtt.Client("127.0.0.1", broker.port, identifier="watcher") as watcher:
            task = asyncio.create_task(listener.collect(watcher))
            await asyncio.sleep(0.2)
            await device.publish(topics.device_panic(world.device), wire.encode(event), qos=1)
            # the first attempt committed the alert but could not announce it: unacknowledged, so it came back
            # (publishes go out together, so some may have left before the failure and leave again: same sessions)
            await until(lambda: len(sessions(listener)) == len(world.live) and bool(listener.alert_events())
                        and announced(alerts))
            task.cancel()
            assert {c.stream_start.camera_id for _, c in listener.commands()} == set(world.live)
        assert alerts.mqtt.connections >= 2
        assert count_alerts(alerts) == 1

    asyncio.run(scenario())
    with alerts.service.sessions() as session:
        assert session.scalar(select(Alert.announced_at)) is not None
