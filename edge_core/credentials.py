"""The device credentials the registry issued at enrolment: stored once, readable by the agent's user only."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proto.topics import TopicError, check_id


class CredentialsError(ValueError):
    """The credentials file is missing, unreadable, malformed, or would be overwritten."""


@dataclass(frozen=True)
class MqttCredentials:
    """Where and as whom the box connects to the broker."""

    host: str
    port: int
    tls: bool
    username: str
    password: str = field(repr=False)
    client_id: str


@dataclass(frozen=True)
class Credentials:
    """What the registry answered at enrolment."""

    device_id: str
    site_id: str
    mqtt: MqttCredentials
    cameras: tuple[dict[str, Any], ...] = ()

    @property
    def camera_ids(self) -> frozenset[str]:
        """Registry ids of the cameras this box serves."""
        return frozenset(str(c.get("camera_id")) for c in self.cameras)


def parse_credentials(doc: object) -> Credentials:
    """Validate an enrolment answer (or a stored credentials file), or raise CredentialsError."""
    if not isinstance(doc, dict):
        raise CredentialsError("credentials must be a JSON object")
    try:
        mqtt = doc["mqtt"]
        creds = Credentials(
            device_id=check_id(str(doc["device_id"]), "device_id"),
            site_id=str(doc["site_id"]),
            mqtt=MqttCredentials(host=str(mqtt["host"]), port=int(mqtt["port"]), tls=bool(mqtt["tls"]),
                                 username=str(mqtt["username"]), password=str(mqtt["password"]),
                                 client_id=str(mqtt["client_id"])),
            cameras=tuple(c for c in doc.get("cameras", []) if isinstance(c, dict)),
        )
    except (KeyError, TypeError, ValueError, TopicError) as exc:
        raise CredentialsError(f"credentials are incomplete or malformed: {exc}") from None
    if not 0 < creds.mqtt.port < 65536 or not creds.mqtt.host:
        raise CredentialsError("credentials: mqtt.host and mqtt.port must be valid")
    return creds


def store_credentials(path: Path, doc: dict[str, Any], *, force: bool = False) -> None:
    """Write the enrolment answer to `path`, created with mode 0600; refuse to overwrite unless forced."""
    parse_credentials(doc)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    if force:
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        _write_new(tmp, data)
        os.replace(tmp, path)
        return
    _write_new(path, data)


def _write_new(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CredentialsError(f"{path} already exists; this box is enrolled (use --force to replace it)") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def load_credentials(path: Path) -> Credentials:
    """Read the stored credentials, refusing a file other users could read."""
    try:
        mode = path.stat().st_mode
        raw = path.read_text()
    except FileNotFoundError:
        raise CredentialsError(f"{path}: not found; enrol the box first (lookout-core enroll CODE)") from None
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"{path}: readable by other users; run chmod 600 on it")
    try:
        return parse_credentials(json.loads(raw))
    except json.JSONDecodeError:
        raise CredentialsError(f"{path}: not valid JSON") from None
