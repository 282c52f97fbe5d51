"""Queued QoS 1 commands of offline devices: broker crashes, restarts and the queue limit."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from proto import topics
from tests.support.mosquitto import PRODUCTION_CONF, MqttClient, ProductionBroker


def _setting(name: str) -> int:
    match = re.search(rf"^{name} (\d+)$", PRODUCTION_CONF.read_text(), re.MULTILINE)
    assert match, f"{name} is not set in {PRODUCTION_CONF}"
    return int(match.group(1))


@pytest.fixture
def own_broker() -> Iterator[ProductionBroker]:
    """A production broker of this test alone (it gets killed)."""
    with ProductionBroker() as broker:
        yield broker


V311, V5 = mqtt.MQTTv311, mqtt.MQTTv5
V5_LOST = pytest.mark.xfail(strict=True, reason="Mosquitto 2.0.11 does not restore MQTT 5 sessions after a restart")


def _offline_session(broker: ProductionBroker, device_id: str, password: str, protocol: int = V311) -> None:
    """The device subscribes with a persistent session (3.1.1 clean_session=false, or 5 with expiry), goes offline."""
    client = MqttClient(broker.port, device_id, password, protocol=protocol, clean=protocol == V5,
                        session_expiry=24 * 3600)
    assert client.subscribe(topics.device_commands(device_id), qos=1)
    client.close()


def _reconnect(broker: ProductionBroker, device_id: str, password: str, protocol: int = V311) -> MqttClient:
    return MqttClient(broker.port, device_id, password, protocol=protocol, clean=False, session_expiry=24 * 3600)


def test_autosave_is_short() -> None:
    assert _setting("autosave_interval") <= 2
    assert "\nautosave_on_changes false\n" in PRODUCTION_CONF.read_text()


@pytest.mark.slow
def test_queued_commands_survive_a_broker_crash(own_broker: ProductionBroker, capsys: pytest.CaptureFixture[str]
                                                ) -> None:
    device_id, password = own_broker.add_device()
    _offline_session(own_broker, device_id, password)
    alerts = own_broker.client("alerts", client_id="alerts-crash")
    saved = [f"saved-{i}".encode() for i in range(50)]
    for payload in saved:
        assert not alerts.publish(topics.device_commands(device_id), payload).is_failure
    time.sleep(2.5 * _setting("autosave_interval"))  # at least two autosaves have run since
    late = [f"late-{i}".encode() for i in range(50)]
    for payload in late:  # acknowledged by the broker, then it crashes before the next autosave
        assert not alerts.publish(topics.device_commands(device_id), payload).is_failure
    alerts.close()
    own_broker.kill()
    own_broker.start()

    client = _reconnect(own_broker, device_id, password)
    try:
        got = [m.payload for m in client.drain(1.5)]
    finally:
        client.close()
    assert got[: len(saved)] == saved, "commands queued before the last autosave must survive a crash"
    lost = [p for p in late if p not in got]
    with capsys.disabled():
        print(f"\nbroker crash: {len(saved)}/{len(saved)} commands queued before an autosave survived; "
              f"{len(late) - len(lost)}/{len(late)} acknowledged within the last autosave interval survived")


@pytest.mark.slow
@pytest.mark.parametrize("protocol", [V311, pytest.param(V5, marks=V5_LOST)], ids=["mqtt311", "mqtt5"])
def test_commands_queued_for_an_offline_device_survive_a_clean_restart(own_broker: ProductionBroker,
                                                                       protocol: int) -> None:
    device_id, password = own_broker.add_device()
    _offline_session(own_broker, device_id, password, protocol)
    alerts = own_broker.client("alerts", client_id="alerts-restart")
    sent = [f"cmd-{i}".encode() for i in range(20)]
    for payload in sent:
        alerts.publish(topics.device_commands(device_id), payload)
    alerts.close()
    own_broker.stop()  # SIGTERM saves everything, however recent
    own_broker.start()
    client = _reconnect(own_broker, device_id, password, protocol)
    try:
        assert [m.payload for m in client.expect(len(sent))] == sent
    finally:
        client.close()


def test_queued_commands_are_delivered_on_reconnect_with_mqtt5(broker: ProductionBroker) -> None:
    device_id, password = broker.add_device()
    _offline_session(broker, device_id, password, V5)
    alerts = broker.client("alerts", client_id="alerts-v5")
    alerts.publish(topics.device_commands(device_id), b"start")
    alerts.close()
    client = _reconnect(broker, device_id, password, V5)
    try:
        assert [m.payload for m in client.expect(1)] == [b"start"]
    finally:
        client.close()


@pytest.mark.slow
def test_queue_limit_for_an_offline_device(broker: ProductionBroker) -> None:
    limit = _setting("max_queued_messages")
    device_id, password = broker.add_device()
    _offline_session(broker, device_id, password)
    streams = broker.client("streams", client_id="streams-queue")
    try:
        for i in range(limit + 50):
            streams.publish(topics.device_commands(device_id), str(i).encode())
    finally:
        streams.close()
    client = _reconnect(broker, device_id, password)
    try:
        got = [int(m.payload) for m in client.drain(1.0)]
    finally:
        client.close()
    assert got == list(range(len(got))), "the oldest commands are kept, in order"
    assert limit <= len(got) <= limit + _setting("max_inflight_messages"), len(got)
