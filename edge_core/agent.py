"""`lookout-core run`: wires the outbox, the MQTT link, camera health, the panic inputs and live video together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from edge_core import gpio, wake
from edge_core.backoff import Backoff
from edge_core.cameras import CameraMonitor
from edge_core.config import Config
from edge_core.credentials import Credentials, load_credentials
from edge_core.lan import LanPage
from edge_core.link import Link, LinkSettings
from edge_core.live import Live
from edge_core.outbox import Outbox, PendingPress
from edge_core.policy import Policy
from edge_core.source import SourcePool
from proto.lookout.v1 import lookout_pb2 as pb

log = logging.getLogger(__name__)


def link_settings(config: Config, creds: Credentials) -> LinkSettings:
    """Broker address and identity: the credentials, with the config's [broker] overrides."""
    broker = config.broker
    tls = creds.mqtt.tls if broker.tls is None else broker.tls
    return LinkSettings(device_id=creds.device_id, site_id=creds.site_id, host=broker.host or creds.mqtt.host,
                        port=broker.port or creds.mqtt.port, username=creds.mqtt.username,
                        password=creds.mqtt.password, tls=tls,
                        ca_file=str(broker.ca_file) if broker.ca_file else None)


def initial_modes(creds: Credentials) -> dict[str, str]:
    """Each camera's sharing mode as the registry said at enrolment (until a PolicyUpdate says otherwise)."""
    return {str(c.get("camera_id")): str(c.get("sharing_mode", "")) for c in creds.cameras}


class Agent:
    """Everything `run` starts, kept together so tests and signals can reach it."""

    def __init__(self, config: Config, creds: Credentials) -> None:
        self.config = config
        self.outbox = Outbox(config.outbox_path)
        self.monitor = CameraMonitor(config.cameras, interval=config.camera_probe_interval_s)
        camera_ids = tuple(c.camera_id for c in config.cameras)
        self.link = Link(link_settings(config, creds), self.outbox, camera_ids, statuses=self.monitor.statuses,
                         status_interval=config.status_interval_s, poll_s=config.outbox_poll_s,
                         backoff=Backoff(config.reconnect_base_s, config.reconnect_cap_s))
        self.policy = Policy(config.policy_path, camera_ids, initial_modes(creds))
        self.sources = SourcePool(config.cameras, config.live)
        self.monitor.open_health = self.sources.health
        self.live = Live(config.live, config.cameras, self.policy, self.sources, self.link.publish_offer,
                         on_change=self._live_changed)
        self.link.live = self.live
        self.link.live_ids = self.live.live_session_ids
        self.led: Any = None
        self.stop = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        unknown = sorted(set(camera_ids) - creds.camera_ids) if creds.cameras else []
        if unknown:
            log.warning("cameras not registered for this box at enrolment: %s", ", ".join(unknown))

    async def press(self, trigger: int) -> PendingPress:
        """Record a press durably, then wake the relay."""
        pressed = await asyncio.to_thread(self.outbox.add, trigger)
        log.info("panic recorded (event %s, trigger %s)", pressed.event_id, pb.TriggerKind.Name(trigger))
        self.link.wake.set()
        return pressed

    def _press_soon(self, trigger: int) -> None:
        task = asyncio.get_running_loop().create_task(self.press(trigger))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _live_changed(self) -> None:
        """The set of live sessions changed: tell the relay (retained status) and the owner (LED)."""
        self.link.status_changed.set()
        if self.led is not None:
            self.led.value = bool(self.live.live_session_ids())

    async def _lan_press(self) -> tuple[str, Any]:
        pressed = await self.press(pb.TRIGGER_KIND_LAN_PAGE)
        return pressed.event_id, pressed.pressed_at

    async def _forward_camera_changes(self) -> None:
        while True:
            await self.monitor.changed.wait()
            self.monitor.changed.clear()
            self.link.status_changed.set()

    async def _start_lan_page(self) -> asyncio.Server | None:
        lan = self.config.lan
        if lan is None:
            return None
        try:
            server = await LanPage(lan.pin, self._lan_press, live=self.live).start(lan.bind, lan.port)
        except OSError as exc:  # the other inputs must keep working
            log.error("LAN panic page unavailable on %s:%d: %s", lan.bind, lan.port, exc.strerror)
            return None
        log.info("LAN panic page on %s:%d", lan.bind, lan.port)
        return server

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT (or `stop` is set)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop.set)
        waker = await wake.listen(self.config.wake_socket, self.link.wake) if self.config.cli_panic else None
        server = await self._start_lan_page()
        button = None
        if self.config.gpio is not None:
            button = gpio.start_button(self.config.gpio, lambda: self._press_soon(pb.TRIGGER_KIND_BUTTON), loop)
        if self.config.live.led_pin is not None:
            self.led = gpio.start_led(self.config.live.led_pin)
        self.sources.start_warm()
        helpers = [loop.create_task(self.monitor.run()), loop.create_task(self._forward_camera_changes())]
        try:
            await self.link.run(self.stop)
        finally:
            await self._shutdown(helpers, server, waker, button)

    async def _shutdown(self, helpers: list[asyncio.Task[Any]], server: asyncio.Server | None,
                        waker: asyncio.DatagramTransport | None, button: Any) -> None:
        await self.live.close()
        await self.sources.close()
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, *self._tasks, return_exceptions=True)
        if server is not None:
            server.close()
            await server.wait_closed()
        if waker is not None:
            waker.close()
            with contextlib.suppress(FileNotFoundError):
                self.config.wake_socket.unlink()
        if button is not None:
            button.close()
        if self.led is not None:
            self.led.close()
        self.outbox.close()


def run(config: Config) -> None:
    """Load the credentials and run the agent until stopped."""
    creds = load_credentials(config.credentials_file)

    async def main() -> None:
        await Agent(config, creds).run()

    asyncio.run(main())
