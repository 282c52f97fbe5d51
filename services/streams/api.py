"""The relay's REST API: sessions for dispatchers, viewer tokens, WHEP signalling."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.common.errors import InvalidInput
from services.streams.consent import start_consent_session
from services.streams.deps import PrincipalDep, StreamsDep, TokenDep
from services.streams.models import State, StreamSession
from services.streams.schemas import ConsentSessionCreate, SessionRead, ViewerTokenRead

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])
consent_router = APIRouter(prefix="/v1/consent-sessions", tags=["sessions"])
MAX_OFFER_BYTES = 32 * 1024
SDP = "application/sdp"


def _read(row: StreamSession, labels: dict[str, str]) -> SessionRead:
    return SessionRead(session_id=row.id, camera_id=row.camera_id, camera_label=labels.get(row.camera_id, ""),
                       device_id=row.device_id, agency_id=row.agency_id, alert_id=row.alert_id, grant_id=row.grant_id,
                       state=row.state, started_at=row.started_at, live_at=row.live_at, ended_at=row.ended_at,
                       end_reason=row.end_reason, expires_at=row.expires_at, viewers=row.viewers)


@router.get("", response_model=list[SessionRead])
async def list_sessions(principal: PrincipalDep, streams: StreamsDep, state: State | None = None,
                        alert_id: Annotated[str | None, Query(max_length=64)] = None) -> list[SessionRead]:
    """Stream sessions of your agency, newest first (dispatcher, supervisor)."""
    rows = await asyncio.to_thread(streams.store.search, principal=principal, state=state, alert_id=alert_id)
    labels = await asyncio.to_thread(streams.store.labels, camera_ids=[r.camera_id for r in rows])
    return [_read(r, labels) for r in rows]


@router.get("/{session_id}", response_model=SessionRead)
async def get_session(session_id: str, principal: PrincipalDep, streams: StreamsDep) -> SessionRead:
    """One stream session of your agency."""
    row = await asyncio.to_thread(streams.store.visible, principal=principal, session_id=session_id)
    return _read(row, await asyncio.to_thread(streams.store.labels, camera_ids=[row.camera_id]))


@router.post("/{session_id}/viewer-token", response_model=ViewerTokenRead)
async def viewer_token(session_id: str, principal: PrincipalDep, streams: StreamsDep) -> ViewerTokenRead:
    """A short-lived token to watch this one session (dispatchers and supervisors of its agency)."""
    row = await asyncio.to_thread(streams.store.visible, principal=principal, session_id=session_id)
    token, expires = streams.tokens.issue(session_id=row.id, account_id=str(principal.account_id),
                                          agency_id=row.agency_id)
    whep = f"{streams.settings.relay.public_path}/v1/sessions/{row.id}/whep"
    return ViewerTokenRead.of(token, expires, whep, streams.settings.relay.ice_servers)


@router.post("/{session_id}/whep", status_code=201, response_class=Response,
             responses={201: {"content": {SDP: {}}, "description": "The SDP answer; Location names the viewer"}},
             openapi_extra={"requestBody": {"required": True, "content": {SDP: {"schema": {"type": "string"}}}}})
async def whep_offer(session_id: str, request: Request, token: TokenDep, streams: StreamsDep) -> Response:
    """WHEP: post your SDP offer (application/sdp) with a viewer token for this session; get the answer."""
    grant = streams.tokens.check(token, session_id=session_id)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != SDP:
        raise InvalidInput("the offer must be sent as application/sdp", code="bad_content_type")
    body = await _bounded_body(request)
    viewer_id, answer = await streams.relay.join(session_id=session_id, account_id=grant.account_id,
                                                 sdp=body.decode("utf-8", errors="replace"))
    location = f"{streams.settings.relay.public_path}/v1/sessions/{session_id}/whep/{viewer_id}"
    return Response(answer, status_code=201, media_type=SDP, headers={"Location": location})


@router.delete("/{session_id}/whep/{viewer_id}", status_code=204, response_class=Response)
async def whep_leave(session_id: str, viewer_id: uuid.UUID, token: TokenDep, streams: StreamsDep) -> Response:
    """WHEP: leave the stream (with the same viewer token)."""
    grant = streams.tokens.check(token, session_id=session_id)
    await streams.relay.leave(session_id=session_id, viewer_id=viewer_id, account_id=grant.account_id)
    return Response(status_code=204)


@consent_router.post("", response_model=SessionRead, status_code=201,
                     responses={200: {"model": SessionRead, "description": "The camera's session already running"}})
async def start_consent(body: ConsentSessionCreate, principal: PrincipalDep, streams: StreamsDep,
                        response: Response) -> SessionRead:
    """Start a camera's live stream under its owner's consent grant to your agency (dispatcher, supervisor)."""
    row, created = await start_consent_session(
        principal=principal, camera_id=body.camera_id, relay=streams.relay,
        publish=streams.mqtt.publish if streams.mqtt is not None else None,
        ice_servers=streams.settings.relay.ice_servers)
    response.status_code = 201 if created else 200
    return _read(row, await asyncio.to_thread(streams.store.labels, camera_ids=[row.camera_id]))


async def _bounded_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            raise InvalidInput(f"the offer is larger than {MAX_OFFER_BYTES} bytes", code="offer_too_large")
    if not body:
        raise InvalidInput("empty offer", code="empty_offer")
    return bytes(body)
