"""Fixtures: one production broker for the session, clients closed after each test, enrolled devices."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from tests.support.mosquitto import MqttClient, ProductionBroker

Connect = Callable[..., MqttClient]


@pytest.fixture(scope="session")
def broker() -> Iterator[ProductionBroker]:
    """The production configuration, started once; tests that crash or reconfigure a broker start their own."""
    with ProductionBroker() as started:
        yield started


@pytest.fixture
def connect(broker: ProductionBroker) -> Iterator[Connect]:
    """Factory: a connected client on the plain loopback listener, closed after the test."""
    made: list[MqttClient] = []

    def make(username: str, password: str | None = None, **kwargs: object) -> MqttClient:
        client = broker.client(username, password, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def device(broker: ProductionBroker, connect: Connect) -> Callable[[], tuple[str, MqttClient]]:
    """Factory: enrol a new device through MosquittoAccounts and connect it as itself."""

    def make() -> tuple[str, MqttClient]:
        device_id, password = broker.add_device()
        return device_id, connect(device_id, password)

    return make


@pytest.fixture(scope="session")
def observer(broker: ProductionBroker) -> tuple[str, str]:
    """A test-only account allowed to read everything (never part of production)."""
    password = secrets.token_urlsafe(12)
    accounts = broker.accounts()
    accounts.run([{"command": "createRole", "rolename": "test-observer",
                   "acls": [{"acltype": "subscribePattern", "topic": "#", "allow": True},
                            {"acltype": "publishClientReceive", "topic": "#", "allow": True}]}])
    accounts.add_client("test-observer", password, roles=["test-observer"])
    return "test-observer", password
