"""The MQTT link: a persistent MQTT 5 session as the device, status with a last will, the outbox relay, commands.

Reconnects forever with exponential backoff and full jitter. A press leaves the outbox only after PUBACK.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiomqtt

from edge_core import FIRMWARE
from edge_core.backoff import Backoff
from edge_core.commands import LiveControl, handle_answer, handle_command
from edge_core.outbox import Outbox, PendingPress
from proto import topics
from proto.lookout.v1 import lookout_pb2 as pb
from proto.wire import encode, timestamp

log = logging.getLogger(__name__)
# Commands queued while the box is offline wait at the broker for persistent_client_expiration (deploy/mosquitto).
KEEPALIVE_S = 30


@dataclass(frozen=True)
class LinkSettings:
    """Where and as whom to connect (from the credentials, with the config's broker overrides)."""

    device_id: str
    site_id: str
    host: str
    port: int
    username: str
    password: str
    tls: bool = False
    ca_file: str | None = None


class _Stopping(Exception):
    """Raised inside a session to leave it cleanly."""


class Link:
    """One box's connection to the broker, kept up until `stop` is set."""

    def __init__(self, settings: LinkSettings, outbox: Outbox, camera_ids: tuple[str, ...], *,
                 statuses: Callable[[], list[pb.CameraStatus]] = list, status_interval: float = 60.0,
                 poll_s: float = 5.0, backoff: Backoff | None = None, live: LiveControl | None = None,
                 live_ids: Callable[[], list[str]] = list) -> None:
        self.settings = settings
        self.outbox = outbox
        self.camera_ids = camera_ids
        self.statuses = statuses
        self.status_interval = status_interval
        self.poll_s = poll_s
        self.backoff = backoff or Backoff(base=1.0, cap=60.0)
        self.live = live
        self.live_ids = live_ids
        self._client: aiomqtt.Client | None = None
        self.wake = asyncio.Event()
        self.status_changed = asyncio.Event()
        self.connected = asyncio.Event()

    def client(self) -> aiomqtt.Client:
        """An MQTT 3.1.1 client: id = username = device id, persistent session, retained last will.

        3.1.1 rather than 5: Mosquitto 2.0 restores 3.1.1 persistent sessions after a restart but not MQTT 5
        ones (measured in tests/integration/broker), and the embedded demo broker speaks 3.1.1 only.
        """
        s = self.settings
        will = aiomqtt.Will(topics.device_status(s.device_id), self.status_payload(online=False), qos=1, retain=True)
        tls = ssl.create_default_context(cafile=s.ca_file) if s.tls else None
        return aiomqtt.Client(s.host, s.port, username=s.username, password=s.password, identifier=s.device_id,
                              protocol=aiomqtt.ProtocolVersion.V311, clean_session=False, will=will,
                              keepalive=KEEPALIVE_S, tls_context=tls, max_queued_incoming_messages=100)

    def status_payload(self, *, online: bool, pending: int = 0) -> bytes:
        """Encoded DeviceStatus."""
        status = pb.DeviceStatus(device_id=self.settings.device_id, online=online, firmware=FIRMWARE,
                                 cameras=self.statuses() if online else [], pending_events=pending,
                                 reported_at=timestamp(datetime.now(UTC)),
                                 live_session_ids=self.live_ids() if online else [])
        return encode(status)

    def panic_payload(self, press: PendingPress) -> bytes:
        """Encoded PanicEvent for a pending press."""
        event = pb.PanicEvent(event_id=press.event_id, device_id=self.settings.device_id,
                              pressed_at=timestamp(press.pressed_at), trigger=press.trigger,  # type: ignore[arg-type]
                              site_id=self.settings.site_id, camera_ids=self.camera_ids)
        return encode(event)

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until `stop` is set, then say offline and disconnect."""
        while not stop.is_set():
            stopped = False
            try:
                async with self.client() as client:
                    self.backoff.reset()
                    await self._session(client, stop)
            except* _Stopping:
                stopped = True
            except* (aiomqtt.MqttError, OSError) as group:
                log.warning("broker link down: %s", _first(group))
            finally:
                self.connected.clear()
                self._client = None
            if stopped:
                return
            delay = self.backoff.next_delay()
            log.info("reconnecting in %.1fs", delay)
            await _wait(stop, delay)

    async def _session(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        device = self.settings.device_id
        await client.subscribe(topics.device_commands(device), qos=1)
        await client.subscribe(answers_filter(device), qos=1)
        await self.publish_status(client)
        log.info("connected to the broker as %s", device)
        self._client = client
        self.connected.set()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._commands(client))
            tasks.create_task(self._relay(client))
            tasks.create_task(self._status_loop(client))
            tasks.create_task(self._stop_when(client, stop))

    async def publish_status(self, client: aiomqtt.Client, *, online: bool = True) -> None:
        """Publish the retained status (QoS 1) with the current camera health and outbox size."""
        pending = await asyncio.to_thread(self.outbox.count)
        payload = self.status_payload(online=online, pending=pending)
        await client.publish(topics.device_status(self.settings.device_id), payload, qos=1, retain=True)

    async def _stop_when(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        await stop.wait()
        try:
            await self.publish_status(client, online=False)
        except aiomqtt.MqttError as exc:
            log.warning("could not say offline before leaving: %s", exc)
        raise _Stopping

    async def _relay(self, client: aiomqtt.Client) -> None:
        """Send pending presses oldest first, one at a time, each deleted only after its PUBACK."""
        topic = topics.device_panic(self.settings.device_id)
        while True:
            self.wake.clear()
            batch = await asyncio.to_thread(self.outbox.pending, 50)
            for press in batch:
                await asyncio.to_thread(self.outbox.mark_attempt, press.event_id)
                await client.publish(topic, self.panic_payload(press), qos=1)
                await asyncio.to_thread(self.outbox.delete, press.event_id)
                log.info("panic event %s delivered to the broker", press.event_id)
            if batch:
                self.status_changed.set()
                continue
            await _wait(self.wake, self.poll_s)

    async def _status_loop(self, client: aiomqtt.Client) -> None:
        while True:
            await _wait(self.status_changed, self.status_interval)
            self.status_changed.clear()
            await self.publish_status(client)

    async def publish_offer(self, offer: pb.SessionDescription) -> None:
        """Publish a session's offer (QoS 1); raises ConnectionError while the broker link is down."""
        client = self._client
        if client is None:
            raise ConnectionError("broker link down: the offer cannot be sent")
        topic = topics.device_webrtc(self.settings.device_id, offer.session_id, "offer")
        await client.publish(topic, encode(offer), qos=1)

    async def _commands(self, client: aiomqtt.Client) -> None:
        commands = topics.device_commands(self.settings.device_id)
        async for message in client.messages:  # oversized or malformed: logged and dropped
            topic = str(message.topic)
            if topic == commands:
                handle_command(message.payload, self.camera_ids, self.live)
                continue
            try:
                parsed = topics.parse(topic)
            except topics.TopicError:
                log.warning("message on an unexpected topic dropped")
                continue
            if parsed.kind == "webrtc" and parsed.signal == "answer" and parsed.session_id:
                handle_answer(parsed.session_id, message.payload, self.live)


def answers_filter(device_id: str) -> str:
    """The relay's answers to this box's offers, any session (the broker's ACL allows exactly this)."""
    return f"{topics.PREFIX}/devices/{topics.check_id(device_id, 'device_id')}/webrtc/+/answer"


async def _wait(event: asyncio.Event, timeout: float) -> bool:
    """Wait for an event at most `timeout` seconds; True if it was set.

    Neither asyncio.wait_for nor asyncio.timeout, on Python 3.11: wait_for swallows a cancellation that
    arrives as the event is set (the link's TaskGroup then waited forever for the status loop, and the agent
    ignored SIGTERM), and after a TaskGroup failed (broker lost) the task keeps a cancel request count that
    makes asyncio.timeout raise CancelledError instead of TimeoutError. asyncio.wait does neither.
    """
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return bool(done)


def _first(group: BaseExceptionGroup) -> BaseException:
    """The first leaf exception of a (nested) group, for the log line."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
