"""Who may connect to the production broker: accounts, client ids, TLS, revocation."""

from __future__ import annotations

import socket
import ssl

import paho.mqtt.client as mqtt
import pytest

from proto import topics
from proto.topics import TopicError
from services.registry.devices.mosquitto import BrokerAdminError, MosquittoAccounts
from tests.integration.broker.conftest import Connect
from tests.support.mosquitto import MqttClient, MqttRefused, ProductionBroker


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_anonymous_connection_is_refused(broker: ProductionBroker, protocol: int) -> None:
    with pytest.raises(MqttRefused, match=r"Not authorized|Bad user name"):
        MqttClient(broker.port, None, None, client_id="anonymous-test", protocol=protocol)


def test_wrong_password_and_unknown_user_are_refused(broker: ProductionBroker) -> None:
    device_id, password = broker.add_device()
    with pytest.raises(MqttRefused):
        MqttClient(broker.port, device_id, password + "x")
    with pytest.raises(MqttRefused):
        MqttClient(broker.port, "no-such-device", password)
    MqttClient(broker.port, device_id, password).close()  # the right password works


def test_device_client_id_must_equal_its_username(broker: ProductionBroker, connect: Connect) -> None:
    device_id, password = broker.add_device()
    for client_id in ("someone-else", f"{device_id}x", f"{device_id}#", f"{device_id}/+", "#", "+"):
        with pytest.raises(MqttRefused, match="Not authorized"):
            MqttClient(broker.port, device_id, password, client_id=client_id)
    assert not connect(device_id, password, client_id=device_id).disconnected.is_set()


def test_wildcard_usernames_cannot_log_in_or_be_enrolled(broker: ProductionBroker) -> None:
    for username in ("#", "+", "dev+1", "dev#1", "lookout/v1/#"):
        with pytest.raises(MqttRefused):
            MqttClient(broker.port, username, "password", client_id=username)
        with pytest.raises(TopicError):
            broker.accounts().add_device(username, "password")


def test_another_device_cannot_take_over_a_session(broker: ProductionBroker, connect: Connect) -> None:
    victim, victim_password = broker.add_device()
    attacker, attacker_password = broker.add_device()
    victim_client = connect(victim, victim_password)
    with pytest.raises(MqttRefused):
        MqttClient(broker.port, attacker, attacker_password, client_id=victim)
    assert not victim_client.disconnected.wait(0.5)


def test_revoking_a_device_disconnects_it_and_it_cannot_reconnect(broker: ProductionBroker, connect: Connect) -> None:
    device_id, password = broker.add_device()
    client = connect(device_id, password)
    assert client.subscribe(topics.device_commands(device_id))
    broker.accounts().remove_device(device_id)
    assert client.disconnected.wait(5), "the revoked device is still connected"
    with pytest.raises(MqttRefused, match="Not authorized"):
        MqttClient(broker.port, device_id, password)
    broker.accounts().remove_device(device_id)  # idempotent


def test_reenrolling_resets_the_password(broker: ProductionBroker, connect: Connect) -> None:
    device_id, old = broker.add_device()
    broker.accounts().add_device(device_id, "a-new-password")
    with pytest.raises(MqttRefused):
        MqttClient(broker.port, device_id, old)
    client = connect(device_id, "a-new-password")
    assert client.subscribe(topics.device_commands(device_id))
    assert not client.subscribe(topics.device_commands("someone-else"))


def test_admin_errors_are_reported(broker: ProductionBroker) -> None:
    wrong = MosquittoAccounts("127.0.0.1", broker.port, "admin", "wrong-password", timeout=3)
    with pytest.raises(BrokerAdminError, match="refused"):
        wrong.add_device("dev-x", "pw")
    with pytest.raises(BrokerAdminError, match="refused by the broker"):
        broker.accounts().run([{"command": "deleteRole", "rolename": "no-such-role"}])
    alerts = MosquittoAccounts("127.0.0.1", broker.port, "alerts", broker.service_passwords["alerts"], timeout=2)
    with pytest.raises(BrokerAdminError, match="subscribe"):
        alerts.remove_device("dev-x")  # a service account cannot administer accounts


def test_admin_reports_an_unreachable_broker() -> None:
    from tests.support.pgcluster import free_port

    with pytest.raises(BrokerAdminError, match="cannot reach"):
        MosquittoAccounts("127.0.0.1", free_port(), "admin", "pw", timeout=2).add_device("dev-x", "pw")


def test_tls_listener_works_with_the_ca_and_refuses_plaintext(broker: ProductionBroker) -> None:
    device_id, password = broker.add_device()
    client = MqttClient(broker.tls_port, device_id, password, ca_file=broker.ca_file)
    try:
        assert client.subscribe(topics.device_commands(device_id))
    finally:
        client.close()
    with pytest.raises((MqttRefused, OSError)):
        MqttClient(broker.tls_port, device_id, password, timeout=3)  # plaintext on the TLS port
    untrusted = ssl.create_default_context(cafile=str(broker.root / "certs" / "server.crt"))  # not our CA
    with pytest.raises(ssl.SSLCertVerificationError), socket.create_connection(("127.0.0.1", broker.tls_port)) as raw, \
            untrusted.wrap_socket(raw, server_hostname="127.0.0.1"):
        pass
    trusted = ssl.create_default_context(cafile=str(broker.ca_file))
    with socket.create_connection(("127.0.0.1", broker.tls_port)) as raw, \
            trusted.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    tls_admin = broker.accounts(tls=True)
    tls_admin.remove_device(device_id)  # the registry may administer from another host, over TLS
    with pytest.raises(MqttRefused):
        MqttClient(broker.tls_port, device_id, password, ca_file=broker.ca_file)
