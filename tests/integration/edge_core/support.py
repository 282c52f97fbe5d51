"""Helpers for the agent's integration tests: a box (config + credentials + process), an MQTT watcher, a proxy."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from proto import topics

ROOT = Path(__file__).resolve().parents[3]


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy and return it, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Box:
    """A CORE box: its config and credentials in a folder, and `lookout-core` processes run on them."""

    def __init__(self, root: Path, broker_port: int, *, cameras: tuple[str, ...] = ("cam-1",),
                 lan_port: int | None = None, rtsp_urls: dict[str, str] | None = None,
                 modes: dict[str, str] | None = None, extra: str = "") -> None:
        self.root = root
        self.device_id = f"dev-{uuid.uuid4().hex[:12]}"
        self.site_id = f"site-{uuid.uuid4().hex[:8]}"
        self.cameras = cameras
        self.lan_port = lan_port
        self.rtsp_urls = rtsp_urls or {}
        self.extra = extra
        self.data = root / "data"
        self.config = root / "core.toml"
        self.log = root / "agent.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.write_config(broker_port)
        enrolled = [{"camera_id": c, "sharing_mode": m} for c, m in (modes or {}).items()]
        creds = {"device_id": self.device_id, "site_id": self.site_id, "cameras": enrolled,
                 "mqtt": {"host": "127.0.0.1", "port": broker_port, "tls": False, "username": self.device_id,
                          "password": "dev-password", "client_id": self.device_id}}
        self.data.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self.data / "credentials.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(creds, fh)

    def write_config(self, broker_port: int) -> None:
        """(Re)write core.toml pointing at a broker port."""
        urls = {c: self.rtsp_urls.get(c, f"rtsp://admin:s3cret@127.0.0.1:9/{c}") for c in self.cameras}
        cams = "".join(f'[[cameras]]\ncamera_id = "{c}"\nrtsp_url = "{urls[c]}"\n' for c in self.cameras)
        lan = f'[panic.lan]\nbind = "127.0.0.1"\nport = {self.lan_port}\npin = "482913"\n' if self.lan_port else ""
        self.config.write_text(f'data_dir = "data"\noutbox_poll_s = 0.5\nreconnect_base_s = 0.2\n'
                               f'reconnect_cap_s = 1.0\ncamera_probe_interval_s = 60\n'
                               f'[broker]\nhost = "127.0.0.1"\nport = {broker_port}\n{cams}' + lan + self.extra)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `lookout-core ARGS --config core.toml` to completion."""
        return subprocess.run([sys.executable, "-m", "edge_core.cli", *args, "--config", str(self.config)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)

    def panic(self) -> str:
        """Press through the CLI; the event id it recorded."""
        result = self.cli("panic")
        assert result.returncode == 0, result.stderr
        return result.stdout.split("(event ")[1].split(")")[0]

    def start(self) -> Box:
        """Start `lookout-core run` in the background."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "edge_core.cli", "run", "--config", str(self.config)],
                                         cwd=ROOT, stdout=log, stderr=log)
        return self

    def kill(self) -> None:
        """SIGKILL: the agent dies without a word."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=15)

    def stop(self) -> int | None:
        """SIGTERM and wait; the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        return self.proc.returncode if self.proc else None

    def alive(self) -> bool:
        """Whether the agent process still runs."""
        return self.proc is not None and self.proc.poll() is None

    def pending(self) -> list[tuple[str, int]]:
        """(event_id, attempts) of the presses still in the outbox, oldest first."""
        path = self.data / "outbox.db"
        if not path.exists():
            return []
        db = sqlite3.connect(path, timeout=30)
        try:
            return db.execute("SELECT event_id, attempts FROM pending_press ORDER BY seq").fetchall()
        finally:
            db.close()

    def agent_log(self) -> str:
        """What the agent wrote so far."""
        return self.log.read_text() if self.log.exists() else ""


class Watcher:
    """A paho MQTT 5 client in a background thread that records every message on its subscriptions."""

    def __init__(self, port: int, *filters: str, persistent: bool = False) -> None:
        self.port = port
        self.filters = filters
        self.messages: list[mqtt.MQTTMessage] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex[:10]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.reconnect_delay_set(0.1, 0.5)
        self.props = Properties(PacketTypes.CONNECT)
        self.props.SessionExpiryInterval = 3600 if persistent else 0
        self.clean_start = not persistent

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object) -> None:
        for f in self.filters:
            client.subscribe(f, qos=1)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(message)

    def start(self) -> Watcher:
        """Connect, subscribe and wait for the SUBACK."""
        self.client.connect("127.0.0.1", self.port, keepalive=10, clean_start=self.clean_start,
                            properties=self.props)
        self.client.loop_start()
        assert self.subscribed.wait(15), "watcher did not subscribe"
        return self

    def close(self) -> None:
        """Disconnect and stop the thread."""
        self.client.disconnect()
        self.client.loop_stop()
        # paho's own loopback socket pair (and its socket, if the loop left it open) are only closed by
        # Client.__del__, which may run after gc finalised the sockets: close them now (no ResourceWarning).
        self.client._reset_sockets()

    def on(self, topic: str) -> list[mqtt.MQTTMessage]:
        """Messages received on one topic so far."""
        with self.lock:
            return [m for m in self.messages if m.topic == topic]

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def status_topic(box: Box) -> str:
    """The box's status topic."""
    return topics.device_status(box.device_id)


class Proxy:
    """A TCP proxy to the broker that can be frozen: while frozen nothing passes in either direction."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self.closed.is_set():
                readable, _, _ = select.select([a, b], [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if not self.frozen.is_set():
                        peers[sock].sendall(data)
        except OSError:
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        """Stop accepting and end every pump."""
        self.closed.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.listener.close()
        self.thread.join(5)
