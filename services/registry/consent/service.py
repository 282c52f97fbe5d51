"""Consent grants: owners grant and revoke live access; dispatchers list their agency's grants."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, not_, select
from sqlalchemy.orm import Session

from services.common.errors import Conflict, InvalidInput, NotFound
from services.registry import geo
from services.registry.agencies.models import Agency
from services.registry.audit import service as audit
from services.registry.consent import schemas as s
from services.registry.consent.models import ConsentGrant
from services.registry.context import Caller
from services.registry.database import utcnow
from services.registry.outbox import events
from services.registry.owners.models import Camera
from services.registry.owners.schemas import LonLat
from services.registry.settings import ConsentSettings

LIVE_MODES = ("live_on_consent", "live_on_alert")
MAX_LEAD = timedelta(days=30)  # how far ahead a window may start


def grant_read(grant: ConsentGrant) -> s.GrantRead:
    """The owner's view of a grant."""
    return s.GrantRead.model_validate(grant, from_attributes=True)


def is_active(grant: ConsentGrant, now: datetime) -> bool:
    """Not revoked and inside its window."""
    return grant.revoked_at is None and grant.starts_at <= now < grant.expires_at


def owned_camera(session: Session, *, caller: Caller, camera_id: uuid.UUID) -> Camera:
    """A camera of the calling owner; anyone else's is 404 (its existence is not revealed)."""
    camera = session.get(Camera, camera_id)
    if camera is None or caller.principal.owner_id is None or camera.owner_id != caller.principal.owner_id:
        raise NotFound("no such camera")
    return camera


def _check_live_capable(camera: Camera) -> None:
    if camera.sharing_mode not in LIVE_MODES:
        raise Conflict(f"camera sharing mode is '{camera.sharing_mode}'; live grants need 'live_on_consent' or "
                       "'live_on_alert'", code="camera_not_live_capable")
    if not camera.core_enabled or camera.device_id is None:
        raise Conflict("camera is not served by an enrolled CORE box, so it cannot stream live",
                       code="camera_not_live_capable")


def _window(data: s.GrantCreate, limits: ConsentSettings, now: datetime) -> tuple[datetime, datetime]:
    starts_at = data.starts_at or now
    expires_at = data.expires_at
    if expires_at <= starts_at:
        raise InvalidInput("expires_at must be after starts_at", field="expires_at")
    if expires_at <= now:
        raise InvalidInput("expires_at must be in the future", field="expires_at")
    if expires_at - starts_at > timedelta(hours=limits.max_hours):
        raise InvalidInput(f"a grant may last at most {limits.max_hours:g} hours", field="expires_at")
    if starts_at - now > MAX_LEAD:
        raise InvalidInput(f"starts_at may be at most {MAX_LEAD.days} days ahead", field="starts_at")
    return starts_at, expires_at


def _audit(session: Session, *, caller: Caller, action: str, camera: Camera, grant: ConsentGrant) -> None:
    audit.record(session, caller=caller, action=action, object_type="consent_grant", object_id=grant.id,
                 subject_owner_id=camera.owner_id, agency_id=grant.agency_id,
                 detail={"camera_id": str(camera.id), "starts_at": grant.starts_at.isoformat(),
                         "expires_at": grant.expires_at.isoformat()})


def create_grant(session: Session, *, caller: Caller, limits: ConsentSettings, camera_id: uuid.UUID,
                 data: s.GrantCreate) -> ConsentGrant:
    """Grant an agency live access to the caller's camera for a window; audited and announced at once."""
    camera = owned_camera(session, caller=caller, camera_id=camera_id)
    _check_live_capable(camera)
    now = utcnow()
    starts_at, expires_at = _window(data, limits, now)
    agency_id = data.agency_id or camera.agency_id
    if session.get(Agency, agency_id) is None:
        raise InvalidInput("no such agency", field="agency_id", code="agency_not_found")
    grant = ConsentGrant(camera_id=camera.id, agency_id=agency_id, created_by=caller.principal.account_id,
                         starts_at=starts_at, expires_at=expires_at, created_at=now)
    session.add(grant)
    session.flush()
    _audit(session, caller=caller, action="consent.granted", camera=camera, grant=grant)
    events.camera_changed(session, camera)
    session.commit()
    return grant


def list_grants(session: Session, *, caller: Caller, camera_id: uuid.UUID) -> list[ConsentGrant]:
    """Every grant of the caller's camera, newest first."""
    camera = owned_camera(session, caller=caller, camera_id=camera_id)
    query = (select(ConsentGrant).where(ConsentGrant.camera_id == camera.id)
             .order_by(ConsentGrant.created_at.desc(), ConsentGrant.id.desc()))
    return list(session.scalars(query))


def revoke_grant(session: Session, *, caller: Caller, camera_id: uuid.UUID, grant_id: uuid.UUID) -> None:
    """Revoke a grant now (a second revocation changes nothing); audited and announced at once."""
    camera = owned_camera(session, caller=caller, camera_id=camera_id)
    grant = session.get(ConsentGrant, grant_id)
    if grant is None or grant.camera_id != camera.id:
        raise NotFound("no such grant")
    if grant.revoked_at is not None:
        return
    grant.revoked_at = utcnow()
    session.flush()
    _audit(session, caller=caller, action="consent.revoked", camera=camera, grant=grant)
    events.camera_changed(session, camera)
    session.commit()


def agency_grants(session: Session, *, caller: Caller, active: bool | None) -> list[s.AgencyGrantRead]:
    """Grants to the caller's agency (optionally only active or only inactive ones), newest first."""
    now = utcnow()
    live = and_(ConsentGrant.revoked_at.is_(None), ConsentGrant.starts_at <= now, ConsentGrant.expires_at > now)
    query = (select(ConsentGrant, Camera).join(Camera, Camera.id == ConsentGrant.camera_id)
             .where(ConsentGrant.agency_id == caller.principal.agency_id)
             .order_by(ConsentGrant.created_at.desc(), ConsentGrant.id.desc()))
    if active is not None:
        query = query.where(live if active else not_(live))
    out = []
    for grant, camera in session.execute(query).tuples():
        lon, lat = geo.lon_lat(camera.location)
        out.append(s.AgencyGrantRead(
            id=grant.id, agency_id=grant.agency_id, camera_id=camera.id, camera_label=camera.label,
            location=LonLat(lon=lon, lat=lat), device_id=camera.device_id, starts_at=grant.starts_at,
            expires_at=grant.expires_at, revoked_at=grant.revoked_at, active=is_active(grant, now)))
    return out
