"""FastAPI dependencies as `Annotated` aliases: the relay's parts and who is calling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from services.common.auth import Principal, TokenVerifier
from services.common.errors import Unauthenticated
from services.common.mqtt import MqttClient
from services.streams.consumer import Consumer
from services.streams.relay import Relay
from services.streams.service import SessionStore
from services.streams.settings import StreamsSettings
from services.streams.tokens import ViewerTokens

_bearer = HTTPBearer(auto_error=False, description="Registry access token, or a viewer token for WHEP")


@dataclass
class Streams:
    """Everything `create_app` builds once and every request shares."""

    settings: StreamsSettings
    engine: Engine
    verifier: TokenVerifier
    store: SessionStore
    relay: Relay
    tokens: ViewerTokens
    consumer: Consumer
    mqtt: MqttClient | None


async def get_streams(request: Request) -> Streams:
    """The relay parts of this app."""
    streams: Streams = request.app.state.streams
    return streams


StreamsDep = Annotated[Streams, Depends(get_streams)]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def bearer_token(credentials: Bearer) -> str:
    """The raw bearer token, or 401."""
    if credentials is None:
        raise Unauthenticated("missing bearer token", code="missing_token")
    return credentials.credentials


TokenDep = Annotated[str, Depends(bearer_token)]


async def get_principal(streams: StreamsDep, token: TokenDep) -> Principal:
    """The authenticated registry identity, or 401."""
    return streams.verifier.verify(token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
