"""The outbox relay: publishes pending rows in id order with QoS 1, marking each only after its PUBACK.

Several relays may run against one database: each claims a batch with `SELECT ... FOR UPDATE SKIP LOCKED`,
so no row is claimed by two relays at once and a row is marked published in the same transaction that
claimed it. A broker outage loses nothing: unacknowledged rows stay pending and go out after reconnecting
(QoS 1 is at-least-once; consumers keep the newest `version`). On SQLite run a single relay.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress

import aiomqtt
from sqlalchemy import Connection, Engine

from services.registry.outbox.service import claim_pending, mark_published
from services.registry.settings import MqttSettings

log = logging.getLogger("lookout.registry.outbox")


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class OutboxRelay:
    """One relay loop between the registry database and the broker."""

    def __init__(self, engine: Engine, settings: MqttSettings, *, identifier: str | None = None,
                 publish_timeout_s: float = 5.0) -> None:
        self.engine = engine
        self.settings = settings
        self.identifier = identifier or f"lookout-registry-outbox-{uuid.uuid4().hex[:12]}"
        self.publish_timeout_s = publish_timeout_s
        self.published = 0  # rows this relay got acknowledged (for tests and metrics)

    def client(self) -> aiomqtt.Client:
        """A fresh MQTT client for one connection attempt."""
        s = self.settings
        if not s.host:
            raise ValueError("REGISTRY_MQTT_HOST is not set")
        tls = ssl.create_default_context(cafile=s.tls_ca) if s.tls_ca else None
        return aiomqtt.Client(s.host, s.port, username=s.username, password=s.password, identifier=self.identifier,
                              tls_context=tls, timeout=self.publish_timeout_s)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Publish until `stop` is set, reconnecting with exponential backoff when the broker or database fails."""
        stop = stop or asyncio.Event()
        backoff = 0.2
        while not stop.is_set():
            try:
                async with self.client() as client:
                    log.info("outbox relay %s connected to %s:%s", self.identifier, self.settings.host,
                             self.settings.port)
                    backoff = 0.2
                    await self._pump(client, stop)
            except aiomqtt.MqttError as exc:
                log.warning("outbox relay %s: broker unavailable (%s); retrying in %.1fs", self.identifier, exc,
                            backoff)
            except Exception:
                log.exception("outbox relay %s failed; retrying in %.1fs", self.identifier, backoff)
            await _sleep_unless(stop, backoff)
            backoff = min(backoff * 2, self.settings.max_backoff_s)

    async def _pump(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sent = await self.publish_batch(client)
            if sent < self.settings.batch_size:
                await _sleep_unless(stop, self.settings.poll_interval_s)

    async def publish_batch(self, client: aiomqtt.Client) -> int:
        """Claim, publish (QoS 1, not retained) and mark one batch; returns how many rows were acknowledged."""
        conn = await asyncio.to_thread(self.engine.connect)
        try:
            rows = await asyncio.to_thread(self._claim, conn)
            acked: list[int] = []
            try:
                for event_id, topic, payload in rows:
                    await client.publish(topic, payload, qos=1, retain=False)
                    acked.append(event_id)
            finally:
                # Also after a failure part-way: what was acknowledged is marked, the rest stays pending.
                await asyncio.to_thread(self._finish, conn, acked)
            self.published += len(acked)
            return len(acked)
        finally:
            await asyncio.to_thread(conn.close)

    def _claim(self, conn: Connection) -> Sequence[tuple[int, str, bytes]]:
        conn.begin()
        return claim_pending(conn, limit=self.settings.batch_size)

    @staticmethod
    def _finish(conn: Connection, acked: Sequence[int]) -> None:
        mark_published(conn, ids=acked)
        conn.commit()

    async def run_until_signalled(self) -> None:
        """Run until SIGINT or SIGTERM, then finish the batch in hand and stop (the CLI's relay)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.run(stop)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[asyncio.Task[None]]:
        """Run the relay as a background task for the duration of the block (the app's lifespan)."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop), name=self.identifier)
        try:
            yield task
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, timeout=self.publish_timeout_s + 5)
            except TimeoutError:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
