"""A real Mosquitto on a free loopback port, started and stopped (or killed) by the tests.

Minimal harness: start with any configuration text (`{port}`, `{data}` and `{root}` are filled in).
`ProductionBroker` starts deploy/mosquitto/mosquitto.conf as rendered by `production_config()` (loopback
ports, temporary paths, throwaway CA), bootstrapped like production; `MqttClient` is a blocking test client.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import queue
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion

from services.registry.devices.mosquitto import SERVICES, MosquittoAccounts
from tests.support.pgcluster import free_port, wait_for_port

PRODUCTION_CONF = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"
ADMIN = "admin"

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


# --- the production configuration -----------------------------------------------------------------


def production_config(tls_port: int, overrides: dict[str, str] | None = None) -> str:
    """deploy/mosquitto/mosquitto.conf for a test: loopback ports, paths under {root}/{data}, log to stderr."""
    text = PRODUCTION_CONF.read_text().replace("{", "{{").replace("}", "}}")
    swaps = {
        "\nlistener 8883\n": f"\nlistener {tls_port} 127.0.0.1\n",
        "\nlistener 1883 127.0.0.1\n": "\nlistener {port} 127.0.0.1\n",
        "/etc/mosquitto/certs/": "{root}/certs/",
        "log_dest file /var/log/mosquitto/mosquitto.log": "log_dest stderr",
        "/var/lib/mosquitto/": "{data}/",
    }
    for old, new in swaps.items():
        if old not in text:
            raise AssertionError(f"production config no longer contains {old!r}: update production_config()")
        text = text.replace(old, new)
    lines = text.splitlines()
    for option, value in (overrides or {}).items():
        found = [i for i, line in enumerate(lines) if line.split(" ", 1)[0] == option]
        if not found:
            raise AssertionError(f"production config has no {option!r} line to override")
        lines[found[0]] = f"{option} {value}"
    return "\n".join(lines) + "\n"


def make_certificates(folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Path:
    """A throwaway CA and a server certificate for `hosts` (ca.crt, server.crt, server.key); returns ca.crt."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lookout test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    (folder / "server.key").chmod(0o600)
    return folder / "ca.crt"


class ProductionBroker(Mosquitto):
    """The production configuration on loopback: TLS on `tls_port`, plain on `port`, services bootstrapped."""

    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        self.tls_port = free_port()
        super().__init__(production_config(self.tls_port, overrides))
        self.ca_file = make_certificates(self.root / "certs")
        self.admin_password = secrets.token_urlsafe(16)
        dynsec = self.data / "dynamic-security.json"
        subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(dynsec), ADMIN, self.admin_password],
                       check=True, capture_output=True)
        if os.geteuid() == 0:
            for path in (self.root / "certs", *(self.root / "certs").iterdir(), dynsec):
                shutil.chown(path, "mosquitto")
        self.service_passwords = {name: secrets.token_urlsafe(16) for name in SERVICES}
        self._bootstrapped = False

    def start(self) -> ProductionBroker:
        """Start (or restart) the broker; the first start sets up the service roles and accounts."""
        super().start()
        wait_for_port(self.tls_port, timeout=15)
        if not self._bootstrapped:
            self.accounts().setup_services(self.service_passwords)
            self._bootstrapped = True
        return self

    def accounts(self, *, tls: bool = False) -> MosquittoAccounts:
        """The registry's BrokerAccounts for this broker (admin account; plain loopback or TLS)."""
        if tls:
            return MosquittoAccounts("127.0.0.1", self.tls_port, ADMIN, self.admin_password,
                                     ca_file=str(self.ca_file))
        return MosquittoAccounts("127.0.0.1", self.port, ADMIN, self.admin_password)

    def add_device(self, device_id: str | None = None) -> tuple[str, str]:
        """Enrol a device account as the registry does; returns (device_id, password)."""
        device_id = device_id or f"dev-{uuid.uuid4().hex[:12]}"
        password = secrets.token_urlsafe(16)
        self.accounts().add_device(device_id, password)
        return device_id, password

    def client(self, username: str, password: str | None = None, **kwargs: Any) -> MqttClient:
        """A connected client on the plain loopback listener (service passwords are filled in)."""
        password = password if password is not None else self.service_passwords[username]
        return MqttClient(self.port, username, password, **kwargs)

    def __enter__(self) -> ProductionBroker:
        return self.start()


# --- a blocking test client ---------------------------------------------------------------------------


class MqttRefused(ConnectionError):
    """The broker refused the connection (CONNACK failure) or never answered."""


@dataclass(frozen=True)
class Received:
    """One message a test client received."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


class MqttClient:
    """A paho client that connects on construction and collects what it receives (MQTT 5 unless told)."""

    def __init__(self, port: int, username: str | None, password: str | None, *, client_id: str | None = None,
                 protocol: int = mqtt.MQTTv5, ca_file: Path | None = None, clean: bool = True,
                 session_expiry: int = 0, timeout: float = 5.0) -> None:
        self.messages: queue.Queue[Received] = queue.Queue()
        self.disconnected = threading.Event()
        self.timeout = timeout
        self._connected = threading.Event()
        self._connack: Any = None
        self._acks: dict[int, Any] = {}
        self._acked = threading.Condition()
        v5 = protocol == mqtt.MQTTv5
        self.paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or username or "",
                                protocol=mqtt.MQTTProtocolVersion(protocol), clean_session=None if v5 else clean)
        if username is not None:
            self.paho.username_pw_set(username, password)
        if ca_file is not None:
            self.paho.tls_set(ca_certs=str(ca_file))
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = self._on_disconnect
        self.paho.on_message = self._on_message
        self.paho.on_subscribe = self._on_ack
        self.paho.on_publish = self._on_publish
        properties = None
        if v5:
            properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)
            properties.SessionExpiryInterval = session_expiry
        clean_start = clean if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY
        self.paho.connect("127.0.0.1", port, keepalive=30, clean_start=clean_start, properties=properties)
        self.paho.loop_start()
        if not self._connected.wait(timeout) or self._connack is None or self._connack.is_failure:
            self.close()
            raise MqttRefused(f"connection refused: {self._connack}")

    def _on_connect(self, _c: object, _u: object, _flags: object, reason: Any, _p: object = None) -> None:
        self._connack = reason
        self._connected.set()
        if reason.is_failure:
            self.paho.disconnect()

    def _on_disconnect(self, _c: object, _u: object, _f: object, _reason: Any, _p: object = None) -> None:
        self.disconnected.set()
        self._connected.set()

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        self.messages.put(Received(message.topic, message.payload, message.qos, bool(message.retain)))

    def _on_ack(self, _c: object, _u: object, mid: int, reasons: Any, _p: object = None) -> None:
        with self._acked:
            self._acks[mid] = reasons
            self._acked.notify_all()

    def _on_publish(self, _c: object, _u: object, mid: int, reason: Any, _p: object = None) -> None:
        self._on_ack(_c, _u, mid, reason)

    def _wait_ack(self, mid: int) -> Any:
        with self._acked:
            if not self._acked.wait_for(lambda: mid in self._acks or self.disconnected.is_set(), self.timeout):
                raise TimeoutError(f"no acknowledgement for message {mid}")
            return self._acks.pop(mid, None)

    def subscribe(self, topic_filter: str, qos: int = 1) -> bool:
        """Subscribe and wait for the SUBACK; True if the broker granted it."""
        _rc, mid = self.paho.subscribe(topic_filter, qos)
        assert mid is not None, "not connected"
        reasons = self._wait_ack(mid)
        return reasons is not None and not any(r.is_failure for r in reasons)

    def publish(self, topic: str, payload: bytes = b"x", qos: int = 1, retain: bool = False) -> Any:
        """Publish and, for QoS > 0, wait for the acknowledgement; returns its reason code (None if cut off)."""
        info = self.paho.publish(topic, payload, qos, retain)
        return self._wait_ack(info.mid) if qos else None

    def expect(self, count: int = 1, timeout: float | None = None) -> list[Received]:
        """The next `count` messages; fails if they do not arrive in time."""
        got = []
        for _ in range(count):
            try:
                got.append(self.messages.get(timeout=timeout or self.timeout))
            except queue.Empty:
                raise AssertionError(f"expected {count} messages, got {len(got)}: {got}") from None
        return got

    def drain(self, wait: float = 0.5) -> list[Received]:
        """Everything that arrives within `wait` seconds."""
        got = []
        try:
            while True:
                got.append(self.messages.get(timeout=wait))
        except queue.Empty:
            return got

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.paho.disconnect()
        self.paho.loop_stop()
