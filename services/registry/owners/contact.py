"""Who to call about a camera (case number and reason required, audited) and the owner's access feed."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Role, require_role
from services.common.errors import NotFound
from services.registry.agencies.models import Agency
from services.registry.agencies.service import searchable_agency_ids
from services.registry.audit import service as audit
from services.registry.audit.models import AuditEvent
from services.registry.context import Caller
from services.registry.crypto import ContactCipher
from services.registry.owners import schemas as s
from services.registry.owners.models import Camera, Owner, Site

CONTACT_ROLES = (Role.INVESTIGATOR, Role.SUPERVISOR)
# What an owner is shown in their feed: every time someone looked at, or asked for, their data.
# What an owner's access feed shows: who saw their contact, asked for or handled their footage.
FEED_ACTIONS = ("contact.view", "contact.denied", "owner.created", "owner.deleted", "request.created",
                "request.viewed", "request.shared", "request.share_revoked", "request.withdrawn", "request.expired",
                "evidence.downloaded", "evidence.deleted")


def view_contact(session: Session, *, caller: Caller, cipher: ContactCipher, camera_id: uuid.UUID,
                 request: s.ContactRequest) -> s.ContactRead:
    """The owner's contact for a camera the caller's agency may search; the view is audited first."""
    require_role(caller.principal, *CONTACT_ROLES)
    assert caller.principal.agency_id is not None
    camera = session.get(Camera, camera_id)
    allowed = searchable_agency_ids(session, agency_id=caller.principal.agency_id)
    if camera is None or camera.agency_id not in allowed:
        raise NotFound("no such camera in your agency's reach")
    site = session.get(Site, camera.site_id)
    owner = session.get(Owner, camera.owner_id)
    assert site is not None and owner is not None  # foreign keys guarantee both
    audit.record(session, caller=caller, action="contact.view", object_type="camera", object_id=camera.id,
                 subject_owner_id=owner.id, case_number=request.case_number, reason=request.reason)
    session.commit()
    return s.ContactRead(camera_id=camera.id, owner_name=cipher.decrypt(owner.name_enc) or "",
                         phone=cipher.decrypt(owner.phone_enc), email=cipher.decrypt(owner.email_enc),
                         address=cipher.decrypt(site.address_enc) or "", site_kind=s.SiteKind(site.kind),
                         case_number=request.case_number)


def access_feed(session: Session, *, caller: Caller, limit: int = 100,
                before_id: int | None = None) -> list[s.AccessRead]:
    """Every access to the calling owner's data, newest first, with agency and case number."""
    require_role(caller.principal, Role.OWNER)
    # A token outlives a deleted owner by minutes; it must not read the audit trail left behind.
    if caller.principal.owner_id is None or session.get(Owner, caller.principal.owner_id) is None:
        raise NotFound("no owner profile for this account")
    stmt = (
        select(AuditEvent, Agency.name)
        .outerjoin(Agency, Agency.id == AuditEvent.agency_id)
        .where(AuditEvent.subject_owner_id == caller.principal.owner_id, AuditEvent.action.in_(FEED_ACTIONS))
        .order_by(AuditEvent.id.desc()).limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    return [
        s.AccessRead(at=e.recorded_at, action=e.action, agency_id=e.agency_id, agency_name=name,
                     case_number=e.case_number, object_type=e.object_type, object_id=e.object_id)
        for e, name in session.execute(stmt)
    ]
