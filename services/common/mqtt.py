"""A small asyncio MQTT wrapper over aiomqtt: one connection, a reconnect loop, acknowledgements after work.

Incoming QoS 1 messages are acknowledged (PUBACK) only after the handler returned, so a process killed
between receipt and its database commit leaves the message unacknowledged in the broker, which delivers it
again to the persistent session (same client id, clean start off) or to another member of a shared group.
A handler that raises an unexpected error drops the connection without acknowledging: the message returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from services.common.settings import LookoutSettings

log = logging.getLogger("lookout.mqtt")
Handler = Callable[[aiomqtt.Message], Awaitable[None]]


class MqttSettings(LookoutSettings):
    """How a service reaches the broker; each service subclasses it with its own env prefix."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None  # path of the CA bundle; set means TLS
    client_id: str = ""  # stable per replica so its session survives restarts; empty: derived from the host
    mqtt5: bool = True
    session_expiry_s: int = 3600
    keepalive_s: int = 30
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 30.0
    publish_timeout_s: float = 10.0


class NotConnected(RuntimeError):
    """Publishing was impossible: no broker connection within the timeout."""


def backoff_delays(base: float, cap: float, rng: random.Random | None = None) -> Iterator[float]:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt)), forever."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    attempt = 0
    while True:
        yield rng.uniform(0, min(cap, base * 2 ** min(attempt, 30)))
        attempt += 1


@dataclass(frozen=True)
class Subscription:
    """A topic filter (possibly `$share/...`) with the handler of the messages it brings."""

    topic_filter: str
    handler: Handler
    qos: int = 1


class MqttClient:
    """One broker connection per process: subscriptions with handlers, QoS 1 publishing, reconnects."""

    def __init__(self, settings: MqttSettings, subscriptions: list[Subscription] | None = None,
                 *, client_id: str | None = None) -> None:
        self.settings = settings
        self.subscriptions = list(subscriptions or [])
        self.client_id = client_id or settings.client_id or f"lookout-{socket.gethostname()}"[:64]
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self.connections = 0

    def _build(self) -> aiomqtt.Client:
        s = self.settings
        tls = ssl.create_default_context(cafile=s.tls_ca) if s.tls_ca else None
        if s.mqtt5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = s.session_expiry_s
            client = aiomqtt.Client(s.host, s.port, username=s.username, password=s.password,
                                    identifier=self.client_id, protocol=aiomqtt.ProtocolVersion.V5,
                                    clean_start=False, properties=props, tls_context=tls, keepalive=s.keepalive_s)
        else:
            client = aiomqtt.Client(s.host, s.port, username=s.username, password=s.password,
                                    identifier=self.client_id, protocol=aiomqtt.ProtocolVersion.V311,
                                    clean_session=False, tls_context=tls, keepalive=s.keepalive_s)
        # aiomqtt 2.x does not expose manual acknowledgement; its paho client does (ack after the work).
        client._client.manual_ack_set(True)
        return client

    @property
    def connected(self) -> bool:
        """True while a broker connection is up."""
        return self._connected.is_set()

    async def run(self, *, ready: asyncio.Event | None = None) -> None:
        """Connect, subscribe and dispatch until cancelled, reconnecting with backoff and jitter."""
        delays = backoff_delays(self.settings.backoff_base_s, self.settings.backoff_cap_s)
        while True:
            try:
                await self._session(ready)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker gone, handler failed: reconnect; unacked messages come back
                self._connected.clear()
                delay = next(delays)
                log.warning("mqtt connection lost, reconnecting", extra={"error": repr(exc), "delay_s": delay})
                await asyncio.sleep(delay)
            else:
                delays = backoff_delays(self.settings.backoff_base_s, self.settings.backoff_cap_s)

    async def _session(self, ready: asyncio.Event | None) -> None:
        client = self._build()
        try:
            async with client:
                self._client = client
                for sub in self.subscriptions:
                    await client.subscribe(sub.topic_filter, qos=sub.qos)
                self.connections += 1
                self._connected.set()
                if ready:
                    ready.set()
                log.info("mqtt connected", extra={"client_id": self.client_id, "port": self.settings.port})
                async for message in client.messages:
                    await self._dispatch(client, message)
        finally:
            self._connected.clear()
            self._client = None

    async def _dispatch(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        for sub in self.subscriptions:
            if message.topic.matches(sub.topic_filter):
                await sub.handler(message)
                break
        else:
            log.warning("mqtt message on an unexpected topic", extra={"topic": str(message.topic)[:200]})
        if message.qos > 0:
            client._client.ack(message.mid, message.qos)

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        """Publish (QoS 1 by default), waiting for a connection up to `publish_timeout_s`."""
        timeout = self.settings.publish_timeout_s
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError as exc:
            raise NotConnected(f"no broker connection within {timeout} s") from exc
        client = self._client
        if client is None:
            raise NotConnected("broker connection closed")
        await client.publish(topic, payload, qos=qos, timeout=timeout)


@contextlib.asynccontextmanager
async def running(client: MqttClient, *, wait_s: float | None = None) -> AsyncIterator[MqttClient]:
    """Run the client in a background task for the block; optionally wait for the first connection."""
    ready = asyncio.Event()
    task = asyncio.create_task(client.run(ready=ready), name=f"mqtt-{client.client_id}")
    try:
        if wait_s is not None:
            await asyncio.wait_for(ready.wait(), wait_s)
        yield client
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
