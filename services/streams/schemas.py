"""Request and response bodies of the relay's API (pydantic v2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SessionRead(BaseModel):
    """A stream session as dispatchers of its agency see it."""

    model_config = ConfigDict(from_attributes=True)

    session_id: str
    camera_id: str
    camera_label: str = ""
    device_id: str
    agency_id: str
    alert_id: str | None
    grant_id: str | None
    state: str
    started_at: datetime
    live_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    expires_at: datetime
    viewers: int


class ConsentSessionCreate(BaseModel):
    """Which camera to watch under its owner's consent grant to your agency."""

    model_config = ConfigDict(extra="forbid")

    camera_id: str = Field(min_length=1, max_length=64)


class IceServerRead(BaseModel):
    """A STUN/TURN server for the viewer's browser."""

    urls: list[str] | str
    username: str | None = None
    credential: str | None = None


class ViewerTokenRead(BaseModel):
    """A token good for watching one session, and where to use it."""

    token: str
    expires_at: datetime
    whep_url: str
    ice_servers: list[IceServerRead]

    @classmethod
    def of(cls, token: str, expires: int, whep_url: str, ice: list[dict[str, Any]]) -> ViewerTokenRead:
        """Build from the issued token and the relay's ICE settings."""
        return cls(token=token, expires_at=datetime.fromtimestamp(expires, UTC), whep_url=whep_url,
                   ice_servers=[IceServerRead.model_validate(s) for s in ice])
