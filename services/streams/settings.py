"""Relay settings: small classes, each read from the environment with the `STREAMS_` prefix."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.mqtt import MqttSettings
from services.common.settings import DatabaseSettingsBase, LookoutSettings


class DatabaseSettings(DatabaseSettingsBase):
    """Where stream sessions are recorded: SQLite + SpatiaLite by default, PostgreSQL in production."""

    model_config = SettingsConfigDict(env_prefix="STREAMS_DATABASE_")

    url: str = "sqlite:///var/streams.db"


class StreamsMqttSettings(MqttSettings):
    """The broker connection (`STREAMS_MQTT_HOST`, `..._USERNAME`, `..._TLS_CA`, ...)."""

    model_config = SettingsConfigDict(env_prefix="STREAMS_MQTT_")

    enabled: bool = True


class AuthSettings(LookoutSettings):
    """How registry tokens are verified, and how the relay signs its own per-session viewer tokens."""

    model_config = SettingsConfigDict(env_prefix="STREAMS_")

    registry_jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    registry_jwks_json: str = ""
    staff_session_max_s: int = 12 * 3600
    # HMAC key of viewer tokens; empty = a random key per process (tokens die with the relay, which holds
    # the media anyway). Set it when a load balancer may send the WHEP POST to another process.
    viewer_token_key: str = Field(default="", repr=False)
    viewer_token_ttl_s: int = 120


class RelaySettings(LookoutSettings):
    """The relay's identity, ICE configuration and limits."""

    model_config = SettingsConfigDict(env_prefix="STREAMS_")

    relay_id: str = "relay-1"
    # STUN/TURN for viewers, e.g. '[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]'.
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    # Host addresses ICE may offer; empty = every non-loopback interface (aioice's default). Tests and the
    # one-machine demo use ["127.0.0.1"].
    ice_host_addresses: list[str] = Field(default_factory=list)
    max_session_s: int = 3600
    offer_wait_s: float = 5.0  # an offer may overtake the stream_start command the relay also reads
    max_viewers: int = 50
    queue_max_packets: int = 150  # per viewer; a slow viewer drops to the next keyframe beyond this
    gop_cache_max_bytes: int = 8 * 1024 * 1024
    public_path: str = ""  # prefix when served behind a reverse proxy, for WHEP Location headers


class StreamsSettings(LookoutSettings):
    """All relay settings together."""

    model_config = SettingsConfigDict(env_prefix="STREAMS_")

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    mqtt: StreamsMqttSettings = Field(default_factory=StreamsMqttSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    relay: RelaySettings = Field(default_factory=RelaySettings)
