"""The agent's TOML configuration (`core.toml`), read with tomllib and validated with clear messages.

Secrets (camera RTSP URLs, the LAN page PIN) are kept out of every repr and every error message.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from proto.topics import TopicError, check_id

MIN_PIN_LENGTH = 6


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid; the message says where and why."""


@dataclass(frozen=True)
class BrokerConfig:
    """Overrides for the broker the registry named at enrolment (host, port, TLS and its CA file)."""

    host: str | None = None
    port: int | None = None
    tls: bool | None = None
    ca_file: Path | None = None


@dataclass(frozen=True)
class CameraConfig:
    """One camera on the owner's LAN; the RTSP URL never leaves the box."""

    camera_id: str
    rtsp_url: str = field(repr=False)
    label: str = ""
    warm_standby: bool | None = None  # None: the [live] default


@dataclass(frozen=True)
class GpioConfig:
    """A push button on a GPIO pin (BCM numbering)."""

    pin: int
    pull_up: bool = True
    bounce_time_s: float = 0.05
    min_interval_s: float = 2.0


@dataclass(frozen=True)
class LanConfig:
    """The PIN-protected panic page on the owner's LAN."""

    pin: str = field(repr=False)
    bind: str = "0.0.0.0"  # noqa: S104 - the page is meant for the owner's LAN
    port: int = 8080


@dataclass(frozen=True)
class LiveConfig:
    """Live video: warm standby, session limits, queue bounds, the "live" LED, ICE host addresses."""

    warm_standby: bool = False
    max_sessions: int = 4
    answer_timeout_s: float = 10.0
    rtsp_timeout_s: float = 10.0
    gop_cache_max_bytes: int = 8 * 1024 * 1024
    queue_max_packets: int = 100
    ice_host_addresses: tuple[str, ...] = ()
    led_pin: int | None = None

    def warm(self, camera: CameraConfig) -> bool:
        """Whether this camera's RTSP source stays open (with its latest GOP) while nothing is shared."""
        return self.warm_standby if camera.warm_standby is None else camera.warm_standby


@dataclass(frozen=True)
class Config:
    """The whole agent configuration."""

    data_dir: Path
    credentials_file: Path
    registry_url: str | None = None
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    cameras: tuple[CameraConfig, ...] = ()
    gpio: GpioConfig | None = None
    lan: LanConfig | None = None
    live: LiveConfig = field(default_factory=LiveConfig)
    cli_panic: bool = True
    status_interval_s: float = 60.0
    camera_probe_interval_s: float = 30.0
    outbox_poll_s: float = 5.0
    reconnect_base_s: float = 1.0
    reconnect_cap_s: float = 60.0

    @property
    def outbox_path(self) -> Path:
        """The SQLite outbox of panic presses."""
        return self.data_dir / "outbox.db"

    @property
    def wake_socket(self) -> Path:
        """The unix datagram socket `run` listens on so a CLI press is sent at once."""
        return self.data_dir / "wake.sock"

    @property
    def policy_path(self) -> Path:
        """The owner's sharing policy as last pushed, and the local revocations (JSON)."""
        return self.data_dir / "live-policy.json"


def load_config(path: str | Path) -> Config:
    """Read and validate a core.toml file, or raise ConfigError."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, base=path.parent)


def parse_config(raw: dict[str, Any], *, base: Path = Path()) -> Config:
    """Validate an already-parsed TOML document; relative paths are taken from `base`."""
    _only(raw, "", {"data_dir", "credentials_file", "registry_url", "broker", "cameras", "panic",
                    "live", "status_interval_s", "camera_probe_interval_s", "outbox_poll_s", "reconnect_base_s",
                    "reconnect_cap_s"})
    data_dir = _path(raw, "data_dir", base, required=True)
    assert data_dir is not None
    credentials = _path(raw, "credentials_file", base) or data_dir / "credentials.json"
    registry = raw.get("registry_url")
    if registry is not None:
        registry = check_registry_url(_str(raw, "registry_url"), "registry_url")
    panic = _table(raw, "panic", "")
    _only(panic, "panic.", {"gpio", "lan", "cli"})
    config = Config(
        data_dir=data_dir, credentials_file=credentials, registry_url=registry,
        broker=_broker(_table(raw, "broker", ""), base), cameras=_cameras(raw.get("cameras", [])),
        gpio=_gpio(panic["gpio"]) if "gpio" in panic else None,
        lan=_lan(panic["lan"]) if "lan" in panic else None,
        live=_live(_table(raw, "live", "")),
        cli_panic=_bool(_table(panic, "cli", "panic."), "enabled", "panic.cli.", default=True),
        status_interval_s=_number(raw, "status_interval_s", "", 60.0, low=5.0, high=3600.0),
        camera_probe_interval_s=_number(raw, "camera_probe_interval_s", "", 30.0, low=1.0, high=3600.0),
        outbox_poll_s=_number(raw, "outbox_poll_s", "", 5.0, low=0.1, high=300.0),
        reconnect_base_s=_number(raw, "reconnect_base_s", "", 1.0, low=0.01, high=60.0),
        reconnect_cap_s=_number(raw, "reconnect_cap_s", "", 60.0, low=0.1, high=3600.0),
    )
    if config.reconnect_cap_s < config.reconnect_base_s:
        raise ConfigError("reconnect_cap_s: must not be smaller than reconnect_base_s")
    return config


def check_registry_url(url: str, where: str = "registry") -> str:
    """An https URL (plain http only to a loopback address), without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{where}: must be an https:// URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(f"{where}: plain http is only allowed to a loopback address; use https://")
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _broker(raw: dict[str, Any], base: Path) -> BrokerConfig:
    _only(raw, "broker.", {"host", "port", "tls", "ca_file"})
    port = raw.get("port")
    return BrokerConfig(
        host=_str(raw, "host", "broker.") if "host" in raw else None,
        port=_int(raw, "port", "broker.", low=1, high=65535) if port is not None else None,
        tls=_bool(raw, "tls", "broker.", default=False) if "tls" in raw else None,
        ca_file=_path(raw, "ca_file", base, prefix="broker."),
    )


def _cameras(raw: object) -> tuple[CameraConfig, ...]:
    if not isinstance(raw, list):
        raise ConfigError("cameras: must be an array of tables ([[cameras]])")
    cameras: list[CameraConfig] = []
    for i, item in enumerate(raw):
        where = f"cameras[{i}]."
        if not isinstance(item, dict):
            raise ConfigError(f"cameras[{i}]: must be a table")
        _only(item, where, {"camera_id", "rtsp_url", "label", "warm_standby"})
        camera_id = _str(item, "camera_id", where)
        try:
            check_id(camera_id, "camera_id")
        except TopicError as exc:
            raise ConfigError(f"{where}camera_id: {exc}") from None
        url = _str(item, "rtsp_url", where)
        if urlsplit(url).scheme not in ("rtsp", "rtsps") or not urlsplit(url).hostname:
            raise ConfigError(f"{where}rtsp_url: must be an rtsp:// or rtsps:// URL with a host (value not shown)")
        label = _str(item, "label", where) if "label" in item else ""
        warm = _bool(item, "warm_standby", where, default=False) if "warm_standby" in item else None
        cameras.append(CameraConfig(camera_id=camera_id, rtsp_url=url, label=label, warm_standby=warm))
    ids = [c.camera_id for c in cameras]
    if len(set(ids)) != len(ids):
        raise ConfigError("cameras: camera_id values must be unique")
    return tuple(cameras)


def _gpio(raw: object) -> GpioConfig:
    if not isinstance(raw, dict):
        raise ConfigError("panic.gpio: must be a table")
    w = "panic.gpio."
    _only(raw, w, {"pin", "pull_up", "bounce_time_s", "min_interval_s"})
    return GpioConfig(pin=_int(raw, "pin", w, low=0, high=27), pull_up=_bool(raw, "pull_up", w, default=True),
                      bounce_time_s=_number(raw, "bounce_time_s", w, 0.05, low=0.001, high=1.0),
                      min_interval_s=_number(raw, "min_interval_s", w, 2.0, low=0.0, high=600.0))


def _lan(raw: object) -> LanConfig:
    if not isinstance(raw, dict):
        raise ConfigError("panic.lan: must be a table")
    w = "panic.lan."
    _only(raw, w, {"pin", "bind", "port"})
    pin = _str(raw, "pin", w)
    if len(pin) < MIN_PIN_LENGTH or not pin.isascii() or not pin.isprintable() or len(pin) > 64:
        raise ConfigError(f"{w}pin: must be {MIN_PIN_LENGTH} to 64 printable ASCII characters (value not shown)")
    bind = _str(raw, "bind", w) if "bind" in raw else LanConfig.bind
    try:
        ipaddress.ip_address(bind)
    except ValueError:
        raise ConfigError(f"{w}bind: must be an IP address, got {bind!r}") from None
    return LanConfig(pin=pin, bind=bind, port=_int(raw, "port", w, low=1, high=65535, default=8080))


def _live(raw: dict[str, Any]) -> LiveConfig:
    w = "live."
    _only(raw, w, {"warm_standby", "max_sessions", "answer_timeout_s", "rtsp_timeout_s", "gop_cache_max_bytes",
                   "queue_max_packets", "ice_host_addresses", "led_pin"})
    addresses = raw.get("ice_host_addresses", [])
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise ConfigError(f"{w}ice_host_addresses: must be an array of IP address strings")
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ConfigError(f"{w}ice_host_addresses: {address!r} is not an IP address") from None
    defaults = LiveConfig()
    return LiveConfig(
        warm_standby=_bool(raw, "warm_standby", w, default=False),
        max_sessions=_int(raw, "max_sessions", w, low=1, high=32, default=defaults.max_sessions),
        answer_timeout_s=_number(raw, "answer_timeout_s", w, defaults.answer_timeout_s, low=1.0, high=120.0),
        rtsp_timeout_s=_number(raw, "rtsp_timeout_s", w, defaults.rtsp_timeout_s, low=1.0, high=120.0),
        gop_cache_max_bytes=_int(raw, "gop_cache_max_bytes", w, low=64 * 1024, high=256 * 1024 * 1024,
                                 default=defaults.gop_cache_max_bytes),
        queue_max_packets=_int(raw, "queue_max_packets", w, low=8, high=10_000, default=defaults.queue_max_packets),
        ice_host_addresses=tuple(addresses),
        led_pin=_int(raw, "led_pin", w, low=0, high=27) if "led_pin" in raw else None,
    )


def _only(raw: dict[str, Any], where: str, allowed: set[str]) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where}{unknown[0]}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}{key}: must be a table")
    return value


def _str(raw: dict[str, Any], key: str, where: str = "") -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}{key}: required, must be a non-empty string")
    return value.strip()


def _bool(raw: dict[str, Any], key: str, where: str, *, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}{key}: must be true or false")
    return value


def _int(raw: dict[str, Any], key: str, where: str, *, low: int, high: int, default: int | None = None) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}{key}: required, must be an integer from {low} to {high}")
    return value


def _number(raw: dict[str, Any], key: str, where: str, default: float, *, low: float, high: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{where}{key}: must be a number from {low} to {high}")
    return float(value)


def _path(raw: dict[str, Any], key: str, base: Path, *, required: bool = False, prefix: str = "") -> Path | None:
    if key not in raw:
        if required:
            raise ConfigError(f"{prefix}{key}: required")
        return None
    return base / Path(_str(raw, key, prefix)).expanduser()
