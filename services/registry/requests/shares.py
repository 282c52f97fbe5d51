"""Sharing a request (and its evidence) with another agency: recorded, audited, revocable."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.errors import Conflict, InvalidInput, NotFound
from services.registry.agencies.models import Agency
from services.registry.context import Caller
from services.registry.database import utcnow
from services.registry.requests import schemas as s
from services.registry.requests.models import FootageRequest, RequestShare
from services.registry.requests.service import custody_event, requesting_request


def _read(share: RequestShare, agency_name: str) -> s.ShareRead:
    return s.ShareRead(agency_id=share.agency_id, agency_name=agency_name, shared_by=share.shared_by,
                       reason=share.reason, created_at=share.created_at, revoked_at=share.revoked_at)


def _share_of(session: Session, request: FootageRequest, agency_id: uuid.UUID) -> RequestShare | None:
    return session.scalar(select(RequestShare).where(RequestShare.request_id == request.id,
                                                     RequestShare.agency_id == agency_id))


def share_request(session: Session, *, caller: Caller, request_id: uuid.UUID, data: s.ShareCreate) -> s.ShareRead:
    """The requesting agency lets another agency's investigators and supervisors see the request."""
    # Locking the request serialises two shares of it, so the unique (request, agency) row is never raced.
    request = requesting_request(session, caller=caller, request_id=request_id, for_update=True)
    if data.agency_id == request.agency_id:
        raise InvalidInput("a request cannot be shared with the agency that made it", field="agency_id")
    agency = session.get(Agency, data.agency_id)
    if agency is None:
        raise InvalidInput("no such agency", field="agency_id", code="agency_not_found")
    share = _share_of(session, request, agency.id)
    if share is not None and share.revoked_at is None:
        raise Conflict(f"this request is already shared with {agency.name}", code="share_exists")
    if share is None:  # a revoked share is renewed in place: one row per request and agency
        share = RequestShare(request_id=request.id, agency_id=agency.id)
        session.add(share)
    share.shared_by, share.reason, share.created_at, share.revoked_at = (
        caller.principal.account_id, data.reason, utcnow(), None)
    session.flush()
    custody_event(session, caller=caller, action="request.shared", request=request, reason=data.reason,
             detail={"agency_id": agency.id, "agency": agency.slug})
    session.commit()
    return _read(share, agency.name)


def revoke_share(session: Session, *, caller: Caller, request_id: uuid.UUID, agency_id: uuid.UUID) -> None:
    """The requesting agency ends a share; the other agency loses sight of the request at once."""
    request = requesting_request(session, caller=caller, request_id=request_id, for_update=True)
    share = _share_of(session, request, agency_id)
    if share is None or share.revoked_at is not None:
        raise NotFound("this request is not shared with that agency", code="share_not_found")
    share.revoked_at = utcnow()
    agency = session.get(Agency, agency_id)
    custody_event(session, caller=caller, action="request.share_revoked", request=request,
             detail={"agency_id": agency_id, "agency": agency.slug if agency else None})
    session.commit()


def list_shares(session: Session, *, caller: Caller, request_id: uuid.UUID) -> list[s.ShareRead]:
    """Every share of a request, revoked ones included (for the requesting agency)."""
    request = requesting_request(session, caller=caller, request_id=request_id)
    rows = session.execute(select(RequestShare, Agency.name).join(Agency, Agency.id == RequestShare.agency_id)
                           .where(RequestShare.request_id == request.id)
                           .order_by(RequestShare.created_at, RequestShare.id)).tuples()
    return [_read(share, name) for share, name in rows]
