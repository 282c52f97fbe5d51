"""Alert service settings: small classes, each read from the environment with the `ALERTS_` prefix."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.mqtt import MqttSettings
from services.common.settings import DatabaseSettingsBase, LookoutSettings


class DatabaseSettings(DatabaseSettingsBase):
    """Where alerts live: SQLite + SpatiaLite by default, PostGIS in production."""

    model_config = SettingsConfigDict(env_prefix="ALERTS_DATABASE_")

    url: str = "sqlite:///var/alerts.db"


class AlertsMqttSettings(MqttSettings):
    """The broker connection (`ALERTS_MQTT_HOST`, `..._USERNAME`, `..._TLS_CA`, ...)."""

    model_config = SettingsConfigDict(env_prefix="ALERTS_MQTT_")

    enabled: bool = True
    # Panic events: empty = a plain subscription, kept in the persistent session across broker restarts. A group
    # name = a shared subscription `$share/{group}/...` for several replicas; Mosquitto 2.0 does not restore shared
    # subscriptions after a restart, so panics sent before the replicas resubscribe are lost (tests/integration/faults).
    shared_group: str = ""


class AuthSettings(LookoutSettings):
    """How tokens are verified: the registry's JWKS, by URL or inline JSON."""

    model_config = SettingsConfigDict(env_prefix="ALERTS_")

    registry_jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    registry_jwks_json: str = ""
    staff_session_max_s: int = 12 * 3600


class AlertRules(LookoutSettings):
    """Limits applied to panic events and the streams they start."""

    model_config = SettingsConfigDict(env_prefix="ALERTS_")

    relay_id: str = "relay-1"
    # STUN/TURN the boxes use to reach the relay from behind NAT (sent in each stream_start), e.g.
    # '[{"urls": ["turn:turn.example.org:3478?transport=tcp"], "username": "u", "credential": "p"}]'.
    stream_ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    stream_ttl_s: int = 15 * 60
    max_clock_skew_s: int = 5 * 60
    feed_poll_s: float = 0.3
    sse_heartbeat_s: float = 15.0
    sse_max_s: float = 900.0


class AlertsSettings(LookoutSettings):
    """All alert service settings together."""

    model_config = SettingsConfigDict(env_prefix="ALERTS_")

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    mqtt: AlertsMqttSettings = Field(default_factory=AlertsMqttSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rules: AlertRules = Field(default_factory=AlertRules)
