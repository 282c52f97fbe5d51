"""REST endpoints under /v1/alerts: the owner's panic trigger, the lifecycle, and reads for dispatchers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from services.alerts.deps import OwnerCaller, ServiceDep, StaffCaller, ViewerCaller
from services.alerts.lifecycle import alert_view
from services.alerts.models import Alert, Status

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class PanicIn(BaseModel):
    """The owner's app trigger: which site, and a UUID made on the phone at the press (the retry key)."""

    site_id: str = Field(pattern=ID_PATTERN)
    event_id: uuid.UUID


class AlertOut(BaseModel):
    """An alert as dashboards and owners see it."""

    id: uuid.UUID
    event_id: uuid.UUID
    device_id: str | None
    site_id: str
    agency_id: str
    lon: float
    lat: float
    trigger: str
    camera_ids: list[str]
    status: Status
    pressed_at: datetime
    opened_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    outcome: str | None


def out(alert: Alert) -> AlertOut:
    """The response model of an alert."""
    return AlertOut.model_validate(alert_view(alert))


@router.post("/panic", status_code=201, response_model=AlertOut,
             responses={200: {"model": AlertOut, "description": "This event id already opened an alert"},
                        409: {"description": "The site is served by no agency, or the event id is another's"}})
async def panic(body: PanicIn, owner: OwnerCaller, service: ServiceDep, response: Response) -> AlertOut:
    """Raise a panic for one of your sites; retrying with the same event id never opens a second alert."""
    outcome = await service.open_from_app(owner, body.site_id, body.event_id)
    if not outcome.created:
        response.status_code = 200
    return out(outcome.alert)


@router.get("", response_model=list[AlertOut])
def list_alerts(staff: StaffCaller, service: ServiceDep, status: Annotated[list[Status] | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[AlertOut]:
    """Your agency's alerts, newest first (dispatcher, supervisor); filter with `status` (repeatable)."""
    return [out(a) for a in service.list_alerts(staff, status or [], limit)]


@router.get("/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: uuid.UUID, viewer: ViewerCaller, service: ServiceDep) -> AlertOut:
    """One alert of your agency (dispatcher, supervisor) or of your own site (owner)."""
    return out(service.get(viewer, alert_id))


@router.post("/{alert_id}/acknowledge", response_model=AlertOut, responses={409: {"description": "Not open"}})
async def acknowledge(alert_id: uuid.UUID, staff: StaffCaller, service: ServiceDep) -> AlertOut:
    """Take an open alert of your agency (records who and when)."""
    return out(await service.act(staff, alert_id, "acknowledge"))


@router.post("/{alert_id}/resolve", response_model=AlertOut, responses={409: {"description": "Not acknowledged"}})
async def resolve(alert_id: uuid.UUID, staff: StaffCaller, service: ServiceDep) -> AlertOut:
    """Close an acknowledged alert of your agency; its live streams end."""
    return out(await service.act(staff, alert_id, "resolve"))


@router.post("/{alert_id}/cancel", response_model=AlertOut, responses={409: {"description": "Already closed"}})
async def cancel(alert_id: uuid.UUID, owner: OwnerCaller, service: ServiceDep) -> AlertOut:
    """False alarm: the owner cancels an open or acknowledged alert of their own site."""
    return out(await service.act(owner, alert_id, "cancel"))
