"""Footage requests: asking owners for footage, their answers, withdrawal and expiry, every step audited.

Visibility is decided by requests/access.py alone; shares with other agencies live in requests/shares.py.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import Session

from services.common.auth import Role, require_role
from services.common.errors import Conflict, Forbidden, InvalidInput
from services.registry.agencies.models import Agency
from services.registry.agencies.service import searchable_agencies
from services.registry.audit import service as audit
from services.registry.context import Caller
from services.registry.crypto import ContactCipher
from services.registry.database import utcnow
from services.registry.evidence.models import EvidenceFile
from services.registry.notify import service as notify
from services.registry.notify.models import Notification
from services.registry.owners.models import Camera, Owner
from services.registry.requests import mail
from services.registry.requests import schemas as s
from services.registry.requests.access import STAFF, is_requesting_staff, visible_request
from services.registry.requests.models import OPEN_STATES, FootageRequest, FootageRequestCamera, RequestShare
from services.registry.settings import RequestSettings

CREATE_ROLES = (Role.INVESTIGATOR, Role.SUPERVISOR, Role.INTEGRATOR)
CREATE_SCOPE = "requests:write"  # integrators (e.g. a records system) need this scope to make requests
CLOCK_SKEW = timedelta(minutes=5)  # a window may end "now" by the caller's clock, a little ahead of ours
OBJECT = "footage_request"
CREATED_MAIL = "request.created"


@dataclass(frozen=True)
class Mailer:
    """What sending an owner a message needs: the cipher of their address and the portal's base URL."""

    cipher: ContactCipher
    public_url: str


# --- creating ---------------------------------------------------------------------------------------------

def _due_at(data: s.RequestCreate, limits: RequestSettings, now: datetime) -> datetime:
    start, end = data.window_start_at, data.window_end_at
    if end <= start:
        raise InvalidInput("window_end_at must be after window_start_at", field="window_end_at")
    if end > now + CLOCK_SKEW:
        raise InvalidInput("window_end_at is in the future: footage can be asked for once it exists",
                           field="window_end_at")
    if end - start > timedelta(hours=limits.max_window_h):
        raise InvalidInput(f"the window is longer than the cap of {limits.max_window_h:g} hours",
                           field="window_end_at")
    due = data.due_at or now + timedelta(days=limits.default_due_days)
    if due <= now:
        raise InvalidInput("due_at is in the past", field="due_at")
    if due > now + timedelta(days=limits.max_due_days):
        raise InvalidInput(f"due_at is more than {limits.max_due_days} days away", field="due_at")
    return due


def _cameras(session: Session, *, agency_id: uuid.UUID, camera_ids: list[uuid.UUID],
             limits: RequestSettings) -> list[Camera]:
    """The cameras asked for, each visible to the agency as a search would show it, in the order given."""
    ids = list(dict.fromkeys(camera_ids))
    if len(ids) > limits.max_cameras:
        raise InvalidInput(f"at most {limits.max_cameras} cameras per request", field="camera_ids")
    found = {c.id: c for c in session.scalars(select(Camera).where(
        Camera.id.in_(ids), Camera.agency_id.in_(searchable_agencies(agency_id))))}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"no camera in your agency's reach with id {', '.join(missing)}", field="camera_ids",
                           code="camera_not_found")
    return [found[i] for i in ids]


def check_retained(cameras: list[Camera], *, window_start_at: datetime, now: datetime) -> None:
    """Refuse the whole request when any camera no longer keeps the footage asked for."""
    start = window_start_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    gone = [
        f"camera {c.label!r} ({c.id}) " + (f"keeps {c.retention_days} days" if c.retention_days else
                                           "keeps no recordings") + f"; footage from {start} is gone"
        for c in cameras
        if c.retention_days == 0 or window_start_at < now - timedelta(days=c.retention_days)
    ]
    if gone:
        raise InvalidInput("; ".join(gone), field="camera_ids", code="footage_not_retained")


def create_requests(session: Session, *, caller: Caller, mailer: Mailer, limits: RequestSettings,
                    data: s.RequestCreate) -> list[s.FootageRequestRead]:
    """One request per owner of the cameras asked for, each audited and mailed; all or nothing."""
    require_role(caller.principal, *CREATE_ROLES, scope=CREATE_SCOPE)
    agency = session.get(Agency, caller.principal.agency_id) if caller.principal.agency_id else None
    if agency is None:
        raise Forbidden("only an agency's staff can request footage")
    now = utcnow()
    due_at = _due_at(data, limits, now)
    cameras = _cameras(session, agency_id=agency.id, camera_ids=data.camera_ids, limits=limits)
    check_retained(cameras, window_start_at=data.window_start_at, now=now)
    by_owner: dict[uuid.UUID, list[Camera]] = defaultdict(list)
    for camera in cameras:
        by_owner[camera.owner_id].append(camera)
    made = [_create_one(session, caller=caller, mailer=mailer, agency=agency, owner_id=owner_id, cameras=owned,
                        data=data, due_at=due_at) for owner_id, owned in by_owner.items()]
    session.commit()
    return staff_reads(session, made)


def _create_one(session: Session, *, caller: Caller, mailer: Mailer, agency: Agency, owner_id: uuid.UUID,
                cameras: list[Camera], data: s.RequestCreate, due_at: datetime) -> FootageRequest:
    request = FootageRequest(
        agency_id=agency.id, owner_id=owner_id, created_by=caller.principal.account_id,
        case_number=data.case_number, legal_basis=data.legal_basis.value,
        window_start_at=data.window_start_at.astimezone(UTC), window_end_at=data.window_end_at.astimezone(UTC),
        message=data.message, due_at=due_at.astimezone(UTC), state="pending")
    session.add(request)
    session.flush()
    session.add_all(FootageRequestCamera(request_id=request.id, camera_id=c.id, camera_label=c.label)
                    for c in cameras)
    url = mail.portal_url(mailer.public_url, request.id)
    message = mail.request_created(
        agency_name=agency.name, case_number=request.case_number, legal_basis=request.legal_basis,
        window_start_at=request.window_start_at, window_end_at=request.window_end_at, due_at=request.due_at,
        message=request.message, camera_labels=[c.label for c in cameras], url=url)
    notified = _mail_owner(session, mailer=mailer, request=request, kind=CREATED_MAIL, message=message)
    audit.record(session, caller=caller, action="request.created", object_type=OBJECT, object_id=request.id,
                 subject_owner_id=owner_id, agency_id=agency.id, case_number=request.case_number,
                 reason=request.legal_basis,
                 detail={"cameras": [str(c.id) for c in cameras], "window_start_at": request.window_start_at,
                         "window_end_at": request.window_end_at, "due_at": request.due_at, "notified": notified})
    return request


def _mail_owner(session: Session, *, mailer: Mailer, request: FootageRequest, kind: str, message: mail.Mail) -> bool:
    """Queue a message to the request's owner; False when they gave no email address."""
    owner = session.get(Owner, request.owner_id) if request.owner_id else None
    to = mailer.cipher.decrypt(owner.email_enc) if owner else None
    if owner is None or not to:
        return False
    notify.enqueue(session, cipher=mailer.cipher, owner_id=owner.id, to=to, kind=kind, subject=message.subject,
                   body=message.body, request_id=request.id)
    return True


# --- reading ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Extras:
    """What reads of several requests need, each loaded in one query."""

    cameras: dict[uuid.UUID, list[s.RequestCameraRead]]
    agency_names: dict[uuid.UUID, str]
    notified: set[uuid.UUID]


def _extras(session: Session, requests: Sequence[FootageRequest]) -> _Extras:
    ids = [r.id for r in requests]
    cameras: dict[uuid.UUID, list[s.RequestCameraRead]] = defaultdict(list)
    for row in session.scalars(select(FootageRequestCamera).where(FootageRequestCamera.request_id.in_(ids))
                               .order_by(FootageRequestCamera.camera_label, FootageRequestCamera.id)):
        cameras[row.request_id].append(s.RequestCameraRead(camera_id=row.camera_id, label=row.camera_label))
    names = {agency_id: name for agency_id, name in session.execute(
        select(Agency.id, Agency.name).where(Agency.id.in_({r.agency_id for r in requests})))}
    notified = set(session.scalars(select(Notification.request_id).where(
        Notification.request_id.in_(ids), Notification.kind == CREATED_MAIL)))
    return _Extras(cameras, names, {n for n in notified if n is not None})


def staff_reads(session: Session, requests: Sequence[FootageRequest]) -> list[s.FootageRequestRead]:
    """Requests as agency staff see them (no contact details of the owner)."""
    extras = _extras(session, requests)
    return [s.FootageRequestRead(
        id=r.id, agency_id=r.agency_id, agency_name=extras.agency_names.get(r.agency_id, ""), owner_id=r.owner_id,
        created_by=r.created_by, case_number=r.case_number, legal_basis=s.LegalBasis(r.legal_basis),
        window_start_at=r.window_start_at, window_end_at=r.window_end_at, message=r.message, due_at=r.due_at,
        state=s.RequestState(r.state), decline_reason=r.decline_reason, answered_at=r.answered_at,
        closed_at=r.closed_at, created_at=r.created_at, updated_at=r.updated_at,
        cameras=extras.cameras.get(r.id, []), notified=r.id in extras.notified) for r in requests]


def owner_reads(session: Session, requests: Sequence[FootageRequest]) -> list[s.OwnerRequestRead]:
    """Requests as their owner sees them."""
    extras = _extras(session, requests)
    return [s.OwnerRequestRead(
        id=r.id, agency_name=extras.agency_names.get(r.agency_id, ""), case_number=r.case_number,
        legal_basis=s.LegalBasis(r.legal_basis), window_start_at=r.window_start_at, window_end_at=r.window_end_at,
        message=r.message, due_at=r.due_at, state=s.RequestState(r.state), decline_reason=r.decline_reason,
        answered_at=r.answered_at, created_at=r.created_at, cameras=extras.cameras.get(r.id, []))
        for r in requests]


def _page(session: Session, stmt: Select[tuple[FootageRequest]], *, limit: int,
          after: uuid.UUID | None) -> list[FootageRequest]:
    """Newest first; `after` is the id of the last request of the previous page (it must be in this list)."""
    if after is not None:
        cursor = session.scalar(stmt.where(FootageRequest.id == after))
        if cursor is None:
            raise InvalidInput("after is not a request of this list", field="after")
        stmt = stmt.where(or_(FootageRequest.created_at < cursor.created_at,
                              and_(FootageRequest.created_at == cursor.created_at, FootageRequest.id < cursor.id)))
    return list(session.scalars(stmt.order_by(FootageRequest.created_at.desc(), FootageRequest.id.desc())
                                .limit(limit)))


def list_requests(session: Session, *, caller: Caller, case_number: str | None = None,
                  state: s.RequestState | None = None, limit: int = 50,
                  after: uuid.UUID | None = None) -> list[s.FootageRequestRead]:
    """The requests of the caller's agency and those shared with it, newest first."""
    require_role(caller.principal, *STAFF)
    agency_id = caller.principal.agency_id
    shared = select(RequestShare.request_id).where(RequestShare.agency_id == agency_id,
                                                   RequestShare.revoked_at.is_(None))
    stmt = select(FootageRequest).where(or_(FootageRequest.agency_id == agency_id, FootageRequest.id.in_(shared)))
    if case_number is not None:
        stmt = stmt.where(FootageRequest.case_number == case_number)
    if state is not None:
        stmt = stmt.where(FootageRequest.state == state.value)
    return staff_reads(session, _page(session, stmt, limit=limit, after=after))


def get_request(session: Session, *, caller: Caller, request_id: uuid.UUID) -> s.FootageRequestRead:
    """One request a staff member may see; the view is a custody step, audited."""
    require_role(caller.principal, *STAFF)
    request = visible_request(session, caller=caller, request_id=request_id)
    audit.record(session, caller=caller, action="request.viewed", object_type=OBJECT, object_id=request.id,
                 subject_owner_id=request.owner_id, case_number=request.case_number,
                 detail={"requesting_agency_id": request.agency_id,
                         "via_share": request.agency_id != caller.principal.agency_id})
    session.commit()
    return staff_reads(session, [request])[0]


def list_my_requests(session: Session, *, caller: Caller, state: s.RequestState | None = None, limit: int = 50,
                     after: uuid.UUID | None = None) -> list[s.OwnerRequestRead]:
    """The calling owner's own requests, newest first."""
    require_role(caller.principal, Role.OWNER)
    if caller.principal.owner_id is None:
        return []
    stmt = select(FootageRequest).where(FootageRequest.owner_id == caller.principal.owner_id)
    if state is not None:
        stmt = stmt.where(FootageRequest.state == state.value)
    return owner_reads(session, _page(session, stmt, limit=limit, after=after))


def get_my_request(session: Session, *, caller: Caller, request_id: uuid.UUID) -> s.OwnerRequestRead:
    """One of the calling owner's requests."""
    require_role(caller.principal, Role.OWNER)
    return owner_reads(session, [visible_request(session, caller=caller, request_id=request_id)])[0]


# --- answers and withdrawal -------------------------------------------------------------------------------

def _require_state(request: FootageRequest, allowed: tuple[str, ...], *, doing: str, code: str) -> None:
    if request.state not in allowed:
        raise Conflict(f"this request is {request.state}; only a {' or '.join(allowed)} request can be {doing}",
                       code=code)


def custody_event(session: Session, *, caller: Caller | None, action: str, request: FootageRequest,
             reason: str | None = None, detail: dict[str, object] | None = None) -> None:
    """An audit event of the request, filed under the requesting agency (owners and the system have none)."""
    audit.record(session, caller=caller, action=action, object_type=OBJECT, object_id=request.id,
                 subject_owner_id=request.owner_id, agency_id=request.agency_id, case_number=request.case_number,
                 reason=reason, detail=detail)


def _owners_request(session: Session, caller: Caller, request_id: uuid.UUID) -> FootageRequest:
    require_role(caller.principal, Role.OWNER)
    return visible_request(session, caller=caller, request_id=request_id, for_update=True)


def accept(session: Session, *, caller: Caller, request_id: uuid.UUID) -> s.OwnerRequestRead:
    """The owner agrees to provide footage (then uploads it)."""
    request = _owners_request(session, caller, request_id)
    _require_state(request, ("pending",), doing="accepted", code="request_not_pending")
    now = utcnow()
    if request.due_at <= now:
        raise Conflict("this request passed its due date", code="request_expired")
    request.state, request.answered_at = "accepted", now
    custody_event(session, caller=caller, action="request.accepted", request=request)
    session.commit()
    return owner_reads(session, [request])[0]


def decline(session: Session, *, caller: Caller, request_id: uuid.UUID, reason: str | None) -> s.OwnerRequestRead:
    """The owner says no, before or after accepting; the reason is optional."""
    request = _owners_request(session, caller, request_id)
    _require_state(request, OPEN_STATES, doing="declined", code="request_not_open")
    now = utcnow()
    if request.due_at <= now:
        raise Conflict("this request passed its due date", code="request_expired")
    request.state, request.decline_reason, request.answered_at, request.closed_at = "declined", reason, now, now
    custody_event(session, caller=caller, action="request.declined", request=request, reason=reason)
    session.commit()
    return owner_reads(session, [request])[0]


def complete(session: Session, *, caller: Caller, request_id: uuid.UUID) -> s.OwnerRequestRead:
    """The owner is done uploading: an accepted request with at least one stored file is fulfilled."""
    request = _owners_request(session, caller, request_id)
    _require_state(request, ("accepted",), doing="completed", code="request_not_accepted")
    files = session.scalar(select(func.count()).select_from(EvidenceFile).where(
        EvidenceFile.request_id == request.id, EvidenceFile.state == "stored")) or 0
    if not files:
        raise Conflict("upload at least one file before marking the request done", code="no_evidence")
    request.state, request.closed_at = "fulfilled", utcnow()
    custody_event(session, caller=caller, action="request.fulfilled", request=request, detail={"files": files})
    session.commit()
    return owner_reads(session, [request])[0]


def requesting_request(session: Session, *, caller: Caller, request_id: uuid.UUID,
                       for_update: bool = False) -> FootageRequest:
    """A request the caller may see and, being staff of the agency that made it, may change or share."""
    require_role(caller.principal, *STAFF)
    request = visible_request(session, caller=caller, request_id=request_id, for_update=for_update)
    if not is_requesting_staff(caller.principal, request):
        raise Forbidden("only the agency that made this request can change or share it", code="not_requesting_agency")
    return request


def withdraw(session: Session, *, caller: Caller, mailer: Mailer, request_id: uuid.UUID) -> s.FootageRequestRead:
    """The requesting agency no longer needs the footage; the owner is told."""
    request = requesting_request(session, caller=caller, request_id=request_id, for_update=True)
    _require_state(request, OPEN_STATES, doing="withdrawn", code="request_not_open")
    request.state, request.closed_at = "withdrawn", utcnow()
    agency = session.get(Agency, request.agency_id)
    message = mail.request_withdrawn(agency_name=agency.name if agency else "", case_number=request.case_number,
                                     url=mail.portal_url(mailer.public_url, request.id))
    notified = _mail_owner(session, mailer=mailer, request=request, kind="request.withdrawn", message=message)
    custody_event(session, caller=caller, action="request.withdrawn", request=request, detail={"notified": notified})
    session.commit()
    return staff_reads(session, [request])[0]


# --- expiry and owners leaving ----------------------------------------------------------------------------

def expire_due(session: Session, *, now: datetime) -> int:
    """Open requests past their due date become expired (audited as the system); the caller commits."""
    stmt = (select(FootageRequest).where(FootageRequest.state.in_(OPEN_STATES), FootageRequest.due_at <= now)
            .order_by(FootageRequest.due_at, FootageRequest.id).with_for_update(skip_locked=True))
    expired = 0
    for request in session.scalars(stmt):
        request.state, request.closed_at = "expired", now
        custody_event(session, caller=None, action="request.expired", request=request,
                 detail={"due_at": request.due_at})
        expired += 1
    session.flush()
    return expired


def close_for_owner(session: Session, *, caller: Caller, owner_id: uuid.UUID) -> int:
    """Close the open requests of an owner who is leaving (call before the owner row goes; no commit)."""
    now, closed = utcnow(), 0
    # What the owner wrote goes with them; the request itself stays, as the agency's record of asking.
    session.execute(update(FootageRequest).where(FootageRequest.owner_id == owner_id,
                                                 FootageRequest.decline_reason.is_not(None))
                    .values(decline_reason=None))
    stmt = select(FootageRequest).where(FootageRequest.owner_id == owner_id,
                                        FootageRequest.state.in_(OPEN_STATES)).with_for_update()
    for request in session.scalars(stmt):
        request.state, request.closed_at = "closed", now
        # Nothing personal: not even the owner's id, which the request row loses too.
        audit.record(session, caller=caller, action="request.closed", object_type=OBJECT, object_id=request.id,
                     agency_id=request.agency_id, case_number=request.case_number,
                     detail={"why": "owner_deleted"})
        closed += 1
    session.flush()
    return closed
