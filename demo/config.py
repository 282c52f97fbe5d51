"""Where the demo keeps its files and which ports it uses; every service reads these as its environment."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path("var/demo")
HOST = os.environ.get("DEMO_HOST", "127.0.0.1")
REGISTRY_PORT = int(os.environ.get("DEMO_REGISTRY_PORT", "8000"))
ALERTS_PORT = int(os.environ.get("DEMO_ALERTS_PORT", "8001"))
MQTT_PORT = int(os.environ.get("DEMO_MQTT_PORT", "18830"))  # 1883 is often taken by a system broker
LAN_PORT = int(os.environ.get("DEMO_LAN_PORT", "8080"))
LAN_PIN = "246810"
PASSWORD = "lookout-demo-pass"  # noqa: S105 - the published demo credential
CORE_DIR = ROOT / "core"
CORE_CONFIG = CORE_DIR / "core.toml"


def registry_url() -> str:
    """Base URL of the registry."""
    return f"http://{HOST}:{REGISTRY_PORT}"


def alerts_url() -> str:
    """Base URL of the alert service."""
    return f"http://{HOST}:{ALERTS_PORT}"


def environment() -> dict[str, str]:
    """The settings of every demo service, as environment variables."""
    return {
        "REGISTRY_DATABASE_URL": f"sqlite:///{ROOT}/registry.db",
        "REGISTRY_SIGNING_KEY_FILE": str(ROOT / "signing-key.pem"),
        "REGISTRY_DATA_KEY_FILE": str(ROOT / "data-key"),
        "REGISTRY_PUBLIC_URL": registry_url(),
        "REGISTRY_MQTT_HOST": HOST, "REGISTRY_MQTT_PORT": str(MQTT_PORT),
        "REGISTRY_BROKER_HOST": HOST, "REGISTRY_BROKER_PORT": str(MQTT_PORT), "REGISTRY_BROKER_TLS": "false",
        "REGISTRY_BROKER_ACCOUNTS": "none",
        "ALERTS_DATABASE_URL": f"sqlite:///{ROOT}/alerts.db",
        "ALERTS_MQTT_HOST": HOST, "ALERTS_MQTT_PORT": str(MQTT_PORT), "ALERTS_MQTT_MQTT5": "false",
        "ALERTS_MQTT_SHARED_GROUP": "", "ALERTS_MQTT_CLIENT_ID": "lookout-demo-alerts",
        "ALERTS_REGISTRY_JWKS_URL": f"{registry_url()}/.well-known/jwks.json",
    }


def core_toml() -> str:
    """The simulated CORE box's configuration (no real camera: health says so)."""
    return f"""\
data_dir = "."
registry_url = "{registry_url()}"
status_interval_s = 30

[panic.lan]
pin = "{LAN_PIN}"
bind = "{HOST}"
port = {LAN_PORT}
"""
