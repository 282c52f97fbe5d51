"""Parts of the fault-test system: the alerts service as a killable process, a cuttable link, the agent fleet."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select

from edge_core.agent import Agent
from edge_core.config import load_config
from edge_core.credentials import load_credentials
from proto.lookout.v1 import lookout_pb2 as pb
from services.alerts.models import Alert, AlertFeed
from tests.support.services import ServiceProcess

ROOT = Path(__file__).resolve().parents[3]


class AlertsProcess(ServiceProcess):
    """The alert service as a killable process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__("services.alerts.app:create_app", env, log, name="alerts service")


class Cable:
    """A TCP relay to the broker that can be unplugged: while cut, connections are closed and refused."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.closed = threading.Event()
        self.accepted_while_cut = 0
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def unplug(self) -> None:
        """Drop every open connection; refuse new ones until `plug()`."""
        self.cut.set()
        with self._lock:
            for sock in list(self._socks):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def plug(self) -> None:
        """Let connections through again."""
        self.cut.clear()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut.is_set():
                self.accepted_while_cut += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with self._lock:
                    if sock in self._socks:
                        self._socks.discard(sock)
                        sock.close()

    def close(self) -> None:
        """Stop accepting and end every connection."""
        self.closed.set()
        self.unplug()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)


@dataclass
class Box:
    """One enrolled CORE box: its folder (core.toml, credentials, outbox) and what the registry knows of it."""

    root: Path
    device_id: str
    site_id: str
    agency_id: str
    camera_ids: list[str]

    def write_config(self, port: int, ca_file: Path) -> Path:
        """core.toml pointing at a broker TLS port (directly or through a cable), quick reconnects."""
        cams = "".join(f'[[cameras]]\ncamera_id = "{c}"\nrtsp_url = "rtsp://127.0.0.1:9/{c}"\n'
                       for c in self.camera_ids)
        path = self.root / "core.toml"
        path.write_text(f'data_dir = "data"\noutbox_poll_s = 0.5\nreconnect_base_s = 0.2\nreconnect_cap_s = 1.0\n'
                        f'status_interval_s = 600\ncamera_probe_interval_s = 600\n'
                        f'[broker]\nhost = "127.0.0.1"\nport = {port}\ntls = true\nca_file = "{ca_file}"\n'
                        f'[panic.cli]\nenabled = false\n{cams}')
        return path


@dataclass
class Fleet:
    """Every box's agent (`edge_core.agent.Agent`) as a task on one event loop; presses through their outboxes."""

    boxes: list[Box]
    ports: dict[str, int]
    ca_file: Path
    agents: dict[str, Agent] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    pressed: dict[str, str] = field(default_factory=dict)  # event_id -> device_id

    def start(self) -> None:
        """Build and run one agent per box (config and credentials read from its folder, as `run` does)."""
        for box in self.boxes:
            config = load_config(box.write_config(self.ports[box.device_id], self.ca_file))
            agent = Agent(config, load_credentials(config.credentials_file))
            self.agents[box.device_id] = agent
            self.tasks.append(asyncio.create_task(agent.run(), name=f"agent-{box.device_id}"))

    async def connected(self, device_ids: list[str], timeout: float = 30) -> None:
        """Wait until these agents are connected to the broker."""
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(self.agents[d].link.connected.wait() for d in device_ids))

    async def press(self, device_id: str) -> None:
        """A button press on one box (recorded in its durable outbox, then relayed by its link)."""
        pressed = await self.agents[device_id].press(pb.TRIGGER_KIND_BUTTON)
        self.pressed[pressed.event_id] = device_id

    def pending(self) -> int:
        """Presses still in the outboxes."""
        return sum(agent.outbox.count() for agent in self.agents.values())

    async def stop(self) -> None:
        """Stop every agent (each says offline if it can) and wait for them."""
        for agent in self.agents.values():
            agent.stop.set()
        try:
            async with asyncio.timeout(30):
                await asyncio.gather(*self.tasks, return_exceptions=True)
        except TimeoutError:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)


@dataclass(frozen=True)
class Tally:
    """What the alerts database holds: alert rows, their distinct event ids, agencies, announcements, feed."""

    rows: int
    event_ids: dict[str, str]  # event_id -> agency_id
    announced: int
    opened_feed: int


def tally(engine: Engine) -> Tally:
    """Count the alerts database."""
    with engine.connect() as conn:
        rows = conn.execute(select(Alert.event_id, Alert.agency_id, Alert.announced_at)).all()
        opened = conn.scalar(select(func.count()).select_from(AlertFeed).where(AlertFeed.kind == "opened"))
    return Tally(rows=len(rows), event_ids={str(e): a for e, a, _ in rows},
                 announced=sum(1 for *_, at in rows if at is not None), opened_feed=int(opened or 0))
