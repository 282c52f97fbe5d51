"""What each account may publish and read on the production broker (subscribers must see nothing else)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest

from proto import topics
from proto.wire import MAX_PAYLOAD_BYTES
from tests.integration.broker.conftest import Connect
from tests.support.mosquitto import MqttClient, ProductionBroker

Device = Callable[[], tuple[str, MqttClient]]


def _own_topics(device_id: str) -> list[str]:
    session = uuid.uuid4().hex
    return [topics.device_status(device_id), topics.device_panic(device_id),
            topics.device_webrtc(device_id, session, "offer"), topics.device_webrtc(device_id, session, "candidate")]


def test_device_publishes_its_own_topics_and_reads_its_own_commands(
        device: Device, connect: Connect, observer: tuple[str, str]) -> None:
    device_id, client = device()
    watcher = connect(*observer, client_id=f"observer-{uuid.uuid4().hex[:8]}")
    assert watcher.subscribe(f"lookout/v1/devices/{device_id}/#")
    published = _own_topics(device_id)
    for topic in published:
        assert not client.publish(topic, topic.encode()).is_failure, topic
    assert sorted(m.topic for m in watcher.expect(4)) == sorted(published)
    session = uuid.uuid4().hex
    own_reads = [topics.device_commands(device_id), topics.device_webrtc(device_id, session, "answer"),
                 topics.device_webrtc(device_id, session, "candidate")]
    assert client.subscribe(own_reads[0])
    assert client.subscribe(f"lookout/v1/devices/{device_id}/webrtc/+/answer")
    assert client.subscribe(f"lookout/v1/devices/{device_id}/webrtc/+/candidate")
    alerts, streams = connect("alerts", client_id="alerts-a"), connect("streams", client_id="streams-a")
    assert alerts.publish(own_reads[0], b"from-alerts").is_failure is False
    for topic in own_reads:
        streams.publish(topic, b"from-streams")
    got = client.expect(4)
    assert sorted((m.topic, m.payload) for m in got) == sorted(
        [(own_reads[0], b"from-alerts")] + [(t, b"from-streams") for t in own_reads])
    assert client.drain(0.3) == []


def test_device_publishes_reach_the_services(device: Device, connect: Connect) -> None:
    device_id, client = device()
    alerts = connect("alerts", client_id=f"alerts-{uuid.uuid4().hex[:8]}")
    assert alerts.subscribe(topics.PANIC_FILTER)
    client.publish(topics.device_panic(device_id), b"help")
    [message] = alerts.expect(1)
    assert (message.topic, message.payload) == (topics.device_panic(device_id), b"help")


def test_device_cannot_publish_under_another_device(device: Device, connect: Connect,
                                                     observer: tuple[str, str]) -> None:
    victim, _victim_client = device()
    attacker_id, attacker = device()
    watcher = connect(*observer, client_id=f"observer-{uuid.uuid4().hex[:8]}")
    assert watcher.subscribe("lookout/v1/#")
    session = uuid.uuid4().hex
    forged = [topics.device_status(victim), topics.device_panic(victim), topics.device_commands(victim),
              topics.device_commands(attacker_id), topics.device_webrtc(victim, session, "offer"),
              topics.device_webrtc(attacker_id, session, "answer"), topics.alert("agency-1", "alert-1"),
              topics.registry_camera("cam-1"), topics.registry_device(victim), f"lookout/v1/devices/{attacker_id}",
              f"lookout/v1/devices/{attacker_id}/other", "lookout/v1/other", "elsewhere", "$SYS/broker/x"]
    for topic in forged:
        reason = attacker.publish(topic, b"forged")
        assert reason is not None and reason.is_failure, topic  # MQTT 5: PUBACK "Not authorized"
        attacker.publish(topic, b"forged-qos0", qos=0)
    attacker.publish(topics.device_status(attacker_id), b"sentinel")
    got = watcher.drain(0.5)
    assert [(m.topic, m.payload) for m in got if not m.retain] == [(topics.device_status(attacker_id), b"sentinel")]


def test_device_cannot_read_other_devices_or_everything(device: Device, connect: Connect) -> None:
    victim, victim_client = device()
    _attacker_id, attacker = device()
    session = uuid.uuid4().hex
    denied = [topics.device_commands(victim), topics.device_panic(victim), topics.device_status(victim),
              topics.device_webrtc(victim, session, "answer"), f"lookout/v1/devices/{victim}/#",
              "lookout/v1/devices/+/commands", "lookout/v1/devices/+/events/panic", "lookout/v1/#", "#", "+/#",
              "lookout/v1/alerts/#", "lookout/v1/registry/#", f"$share/g/{topics.PANIC_FILTER}",
              "$share/alerts/lookout/v1/devices/+/events/panic", "$CONTROL/dynamic-security/v1/response", "$SYS/#"]
    for topic_filter in denied:
        assert not attacker.subscribe(topic_filter), topic_filter
    alerts = connect("alerts", client_id=f"alerts-{uuid.uuid4().hex[:8]}")
    alerts.publish(topics.device_commands(victim), b"secret command")
    victim_client.publish(topics.device_panic(victim), b"secret panic")
    assert attacker.drain(0.5) == []


@pytest.mark.parametrize("service", ["alerts", "streams"])
def test_services_cannot_publish_as_devices_or_to_foreign_trees(service: str, connect: Connect,
                                                                observer: tuple[str, str]) -> None:
    client = connect(service, client_id=f"{service}-{uuid.uuid4().hex[:8]}")
    watcher = connect(*observer, client_id=f"observer-{uuid.uuid4().hex[:8]}")
    assert watcher.subscribe("lookout/v1/#")
    for topic in (topics.device_status("dev-1"), topics.device_panic("dev-1"), topics.registry_camera("cam-1")):
        assert client.publish(topic).is_failure, topic
    assert [m for m in watcher.drain(0.4) if not m.retain] == []


def test_registry_publishes_registry_events_and_policy_but_not_alerts(connect: Connect,
                                                                     observer: tuple[str, str]) -> None:
    registry = connect("registry", client_id=f"registry-{uuid.uuid4().hex[:8]}")
    alerts = connect("alerts", client_id=f"alerts-{uuid.uuid4().hex[:8]}")
    assert alerts.subscribe(topics.REGISTRY_FILTER)
    assert not registry.publish(topics.registry_camera("cam-1"), b"changed").is_failure
    assert registry.publish(topics.alert("agency-1", "alert-1")).is_failure
    # PolicyUpdate commands to boxes come from the registry (the owner's sharing choice), so it may send commands.
    assert not registry.publish(topics.device_commands("dev-1")).is_failure
    assert registry.publish(topics.device_status("dev-1")).is_failure
    assert [m.topic for m in alerts.expect(1)] == [topics.registry_camera("cam-1")]


def test_alerts_replicas_share_panic_events(device: Device, connect: Connect) -> None:
    device_id, client = device()
    shared = topics.shared("alerts", topics.PANIC_FILTER)
    replicas = [connect("alerts", client_id=f"alerts-replica-{i}-{uuid.uuid4().hex[:6]}") for i in range(2)]
    for replica in replicas:
        assert replica.subscribe(shared)
    assert not connect("streams", client_id=f"streams-{uuid.uuid4().hex[:6]}").subscribe(shared)
    payloads = {f"panic-{i}".encode() for i in range(20)}
    for payload in sorted(payloads):
        client.publish(topics.device_panic(device_id), payload)
    received = [replica.drain(0.5) for replica in replicas]
    assert all(received), "each replica gets a share"
    flat = [m.payload for got in received for m in got]
    assert sorted(flat) == sorted(payloads), "every event exactly once across the group"


def test_oversized_messages_are_dropped(device: Device, connect: Connect) -> None:
    device_id, client = device()
    alerts = connect("alerts", client_id=f"alerts-{uuid.uuid4().hex[:8]}")
    assert alerts.subscribe(topics.PANIC_FILTER)
    client.publish(topics.device_panic(device_id), b"a" * MAX_PAYLOAD_BYTES)
    assert [len(m.payload) for m in alerts.expect(1)] == [MAX_PAYLOAD_BYTES]
    reason = client.publish(topics.device_panic(device_id), b"b" * (MAX_PAYLOAD_BYTES + 1))
    assert reason is None or reason.is_failure
    assert alerts.drain(0.5) == []


def test_oversized_packets_disconnect_the_sender(broker: ProductionBroker, connect: Connect) -> None:
    device_id, password = broker.add_device()
    alerts = connect("alerts", client_id=f"alerts-{uuid.uuid4().hex[:8]}")
    assert alerts.subscribe(topics.PANIC_FILTER)
    client = connect(device_id, password, protocol=mqtt.MQTTv311)  # paho does not police 3.1.1 packet sizes
    client.paho.publish(topics.device_panic(device_id), b"c" * (MAX_PAYLOAD_BYTES + 2048), qos=1)
    assert client.disconnected.wait(5)
    assert alerts.drain(0.5) == []


def test_only_device_status_is_ever_retained(device: Device, connect: Connect, observer: tuple[str, str]) -> None:
    devices = [device() for _ in range(2)]
    services = {name: connect(name, client_id=f"{name}-{uuid.uuid4().hex[:8]}") for name in ("alerts", "streams",
                                                                                           "registry")}
    for device_id, client in devices:  # what the CORE agent publishes: status retained, nothing else
        client.publish(topics.device_status(device_id), b"online", retain=True)
        client.publish(topics.device_panic(device_id), b"panic")
        client.publish(topics.device_webrtc(device_id, "s1", "offer"), b"sdp")
        services["alerts"].publish(topics.device_commands(device_id), b"start")
        services["streams"].publish(topics.device_webrtc(device_id, "s1", "answer"), b"sdp")
    services["alerts"].publish(topics.alert("agency-1", uuid.uuid4().hex), b"opened")
    services["registry"].publish(topics.registry_camera(uuid.uuid4().hex), b"changed")
    late = connect(*observer, client_id=f"observer-{uuid.uuid4().hex[:8]}")
    assert late.subscribe("lookout/v1/#")
    retained = [m for m in late.drain(0.5) if m.retain]
    assert {topics.device_status(device_id) for device_id, _ in devices} <= {m.topic for m in retained}
    assert all(topics.parse(m.topic).kind == "status" for m in retained), [m.topic for m in retained]
