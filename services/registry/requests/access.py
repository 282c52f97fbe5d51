"""Who may see a footage request and its evidence: the one rule every request and evidence endpoint uses.

The requesting agency's investigators and supervisors see it; another agency's investigators and supervisors
only through an unrevoked share; the owner only their own requests. Anyone else gets NotFound: a request's
existence is itself confidential.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from services.common.auth import Principal, Role
from services.common.errors import NotFound
from services.registry.context import Caller
from services.registry.requests.models import FootageRequest, RequestShare

STAFF = (Role.INVESTIGATOR, Role.SUPERVISOR)


def shared_with(session: Session, *, request_id: uuid.UUID, agency_id: uuid.UUID | None) -> bool:
    """Whether an unrevoked share lets `agency_id` see the request."""
    if agency_id is None:
        return False
    return bool(session.scalar(select(exists().where(
        RequestShare.request_id == request_id, RequestShare.agency_id == agency_id,
        RequestShare.revoked_at.is_(None)))))


def may_see(session: Session, principal: Principal, request: FootageRequest) -> bool:
    """The rule above, for one principal and one request."""
    if principal.role is Role.OWNER:
        return principal.owner_id is not None and request.owner_id == principal.owner_id
    if principal.role not in STAFF:
        return False
    if request.agency_id == principal.agency_id:
        return True
    return shared_with(session, request_id=request.id, agency_id=principal.agency_id)


def is_requesting_staff(principal: Principal, request: FootageRequest) -> bool:
    """Investigators and supervisors of the agency that made the request (they alone may change or share it)."""
    return principal.role in STAFF and request.agency_id == principal.agency_id


def visible_request(session: Session, *, caller: Caller, request_id: uuid.UUID,
                    for_update: bool = False) -> FootageRequest:
    """The request if the caller may see it, else NotFound."""
    query = select(FootageRequest).where(FootageRequest.id == request_id)
    request = session.scalar(query.with_for_update() if for_update else query)
    if request is None or not may_see(session, caller.principal, request):
        raise NotFound("no such footage request", code="request_not_found")
    return request
