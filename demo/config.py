"""Where the demo keeps its files and which ports it uses; every service reads these as its environment."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path("var/demo")
HOST = os.environ.get("DEMO_HOST", "127.0.0.1")
REGISTRY_PORT = int(os.environ.get("DEMO_REGISTRY_PORT", "8000"))
ALERTS_PORT = int(os.environ.get("DEMO_ALERTS_PORT", "8001"))
STREAMS_PORT = int(os.environ.get("DEMO_STREAMS_PORT", "8002"))
CAMERA_PORT = int(os.environ.get("DEMO_CAMERA_PORT", "8554"))
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


def streams_url() -> str:
    """Base URL of the live-video relay."""
    return f"http://{HOST}:{STREAMS_PORT}"


def camera_url() -> str:
    """The simulated camera on the demo "LAN" (GStreamer's RTSP server, tests/support/rtsp_server.py)."""
    return f"rtsp://{HOST}:{CAMERA_PORT}/cam"


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
        "STREAMS_DATABASE_URL": f"sqlite:///{ROOT}/streams.db",
        "STREAMS_MQTT_HOST": HOST, "STREAMS_MQTT_PORT": str(MQTT_PORT), "STREAMS_MQTT_MQTT5": "false",
        "STREAMS_MQTT_CLIENT_ID": "lookout-demo-streams", "STREAMS_ICE_HOST_ADDRESSES": f'["{HOST}"]',
    }


def core_toml(camera_id: str | None = None) -> str:
    """The simulated CORE box's configuration; once enrolled, its live-on-alert camera is the simulated one."""
    camera = f"""
[[cameras]]
camera_id = "{camera_id}"
rtsp_url = "{camera_url()}"
label = "Driveway (simulated)"
""" if camera_id else ""
    return f"""\
data_dir = "."
registry_url = "{registry_url()}"
status_interval_s = 30

[panic.lan]
pin = "{LAN_PIN}"
bind = "{HOST}"
port = {LAN_PORT}

[live]
warm_standby = true
ice_host_addresses = ["{HOST}"]
{camera}"""
