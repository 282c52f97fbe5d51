"""A real Mosquitto on a free loopback port, started and stopped (or killed) by the tests.

Minimal harness: start with any configuration text (`{port}` and `{data}` are filled in). The production
configuration from deploy/mosquitto/ is rendered by `production_config()` once it exists.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.support.pgcluster import free_port, wait_for_port

DEV_CONFIG = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {data}/
autosave_interval 1
"""


def unique_topic(prefix: str = "test") -> str:
    """A topic no other test uses, so MQTT tests never see each other's messages."""
    return f"{prefix}/{uuid.uuid4().hex}"


class Mosquitto:
    """One broker process with its own folder (config, persistence, log)."""

    def __init__(self, config: str = DEV_CONFIG, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="lookout-mqtt-"))
        self.data = self.root / "data"
        self.data.mkdir()
        self.config_file = self.root / "mosquitto.conf"
        self.config_file.write_text(config.format(port=self.port, data=self.data, root=self.root))
        self.log = self.root / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:  # mosquitto drops privileges to its own user; let it keep its files
            shutil.chown(self.root, "mosquitto")
            shutil.chown(self.data, "mosquitto")

    def start(self) -> Mosquitto:
        """Start (or restart) the broker and wait until it accepts connections."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(["mosquitto", "-c", str(self.config_file)], stdout=log, stderr=log)
        wait_for_port(self.port, timeout=15)
        return self

    def stop(self) -> None:
        """Stop cleanly (it saves its persistence file)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)

    def kill(self) -> None:
        """Crash it: SIGKILL, no chance to save anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=15)

    def reload(self) -> None:
        """SIGHUP: re-read password and ACL files."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def close(self) -> None:
        """Stop and delete every file."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
