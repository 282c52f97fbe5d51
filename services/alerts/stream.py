"""`GET /v1/alerts/stream`: Server-Sent Events of the viewer's agency, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from services.alerts.deps import AlertsDep, StaffCaller
from services.alerts.feed import FEED_PAGE, last_seq, read_feed
from services.alerts.models import AlertFeed
from services.alerts.service import AlertService

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


def sse_frame(entry: AlertFeed) -> str:
    """One SSE event: `id` is the feed sequence number, `event` the kind, `data` the alert as JSON."""
    return f"id: {entry.seq}\nevent: {entry.kind}\ndata: {json.dumps(entry.payload, separators=(',', ':'))}\n\n"


def resume_point(last_event_id: str | None, after: int | None) -> int | None:
    """Where a reconnecting client left off (header first, then `?after=`), or None for "from now"."""
    for value in (last_event_id, after):
        if value is not None and str(value).strip().isdigit():
            return int(str(value).strip())
    return None


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "Alert events, one per change"}})
async def stream(request: Request, staff: StaffCaller, alerts: AlertsDep,
                 last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
                 after: Annotated[int | None, Query(ge=0)] = None) -> StreamingResponse:
    """Live alert events of your agency (dispatcher, supervisor); reconnect with Last-Event-ID for what you missed."""
    service, rules = alerts.service, alerts.settings.rules
    start = resume_point(last_event_id, after)
    if start is None:
        start = await asyncio.to_thread(_last_seq, service)
    agency = str(staff.agency_id)

    async def events() -> AsyncIterator[str]:
        seen, began, beat = start, time.monotonic(), time.monotonic()
        yield "retry: 2000\n\n"
        # A stream outlives no access token: past the limit it ends and the client reconnects with a fresh one.
        while time.monotonic() - began < rules.sse_max_s and not await request.is_disconnected():
            armed = service.signal.arm()  # before the read: a commit during it still wakes the wait below
            entries = await asyncio.to_thread(_read, service, agency, seen)
            for entry in entries:
                seen = entry.seq
                yield sse_frame(entry)
            if len(entries) >= FEED_PAGE:  # a full page: more may be waiting
                continue
            if time.monotonic() - beat >= rules.sse_heartbeat_s:
                beat = time.monotonic()
                yield ": keep-alive\n\n"
            await service.signal.wait(rules.feed_poll_s, armed)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _read(service: AlertService, agency: str, after: int) -> list[AlertFeed]:
    with service.sessions() as session:
        return read_feed(session, agency, after)


def _last_seq(service: AlertService) -> int:
    with service.sessions() as session:
        return last_seq(session)
