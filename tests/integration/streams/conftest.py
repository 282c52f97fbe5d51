"""Fixtures for the relay: its own database, settings with loopback ICE, and a sample H.264 clip."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from services.registry.accounts.tokens import TokenIssuer
from services.streams.app import build_streams
from services.streams.deps import Streams
from services.streams.migrate import upgrade
from services.streams.settings import (
    AuthSettings,
    DatabaseSettings,
    RelaySettings,
    StreamsMqttSettings,
    StreamsSettings,
)
from tests.support.pgcluster import PgCluster

_names = count()


@pytest.fixture(scope="session")
def h264_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten seconds of 640x360 H.264 in MPEG-TS (Annex-B, as RTSP gives it; MP4's AVCC would not be sent)."""
    path = tmp_path_factory.mktemp("media") / "clip.ts"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "10",
                    "-c:v", "libx264", "-profile:v", "high", "-g", "25", "-bf", "0", "-pix_fmt", "yuv420p", "-y",
                    str(path)], check=True, timeout=120)
    return path


def streams_settings(db_url: str, issuer: TokenIssuer, port: int | None = None, **relay: Any) -> StreamsSettings:
    """Settings for a test relay: loopback ICE only, MQTT off when no port."""
    mqtt = StreamsMqttSettings(port=port or 1, enabled=port is not None, backoff_base_s=0.05, backoff_cap_s=0.5)
    relay_settings = RelaySettings(ice_host_addresses=["127.0.0.1"], **relay)
    return StreamsSettings(database=DatabaseSettings(url=db_url), mqtt=mqtt, relay=relay_settings,
                           auth=AuthSettings(registry_jwks_json=json.dumps(issuer.jwks())))


@pytest.fixture
def make_streams(pg_cluster: PgCluster, issuer: TokenIssuer) -> Iterator[Callable[..., Streams]]:
    """Factory: a relay on a fresh, migrated PostgreSQL database."""
    made: list[Streams] = []
    url = pg_cluster.create_database(f"streams_{next(_names)}_{uuid.uuid4().hex[:6]}")

    def make(port: int | None = None, **relay: Any) -> Streams:
        settings = streams_settings(url, issuer, port, **relay)
        streams = build_streams(settings, client_id=f"streams-{uuid.uuid4().hex[:8]}")
        if not made:
            upgrade(streams.engine)
        made.append(streams)
        return streams

    yield make
    for streams in made:
        streams.engine.dispose()
