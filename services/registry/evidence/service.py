"""Evidence files once stored: who may list them, signed links and their use, retention, purging idle uploads.

Visibility is the request's (requests/access.py): staff who may see the request see its evidence; a file of a
request one may not see is 404 like the request itself. Uploading is in uploads.py, export in bundle.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Principal, Role, require_role
from services.common.errors import Conflict, Forbidden, Gone, NotFound
from services.registry.accounts.models import Account
from services.registry.agencies.models import Agency
from services.registry.audit import service as audit
from services.registry.context import Caller
from services.registry.database import utcnow
from services.registry.evidence import links
from services.registry.evidence import schemas as s
from services.registry.evidence.models import EvidenceFile
from services.registry.evidence.storage import Storage
from services.registry.requests.access import STAFF, may_see, visible_request
from services.registry.requests.models import FootageRequest

OBJECT = "evidence_file"
DOWNLOAD_PATH = "/v1/evidence/download/"


def evidence_event(session: Session, *, caller: Caller | None, action: str, row: EvidenceFile,
                   owner_id: uuid.UUID | None, outcome: str = "ok", reason: str | None = None,
                   detail: dict[str, object] | None = None) -> None:
    """A custody event of one file, filed under the requesting agency and the owner whose footage it is."""
    audit.record(session, caller=caller, action=action, object_type=OBJECT, object_id=row.id,
                 subject_owner_id=owner_id, agency_id=row.agency_id, case_number=row.case_number, reason=reason,
                 outcome=outcome, detail=detail)


def evidence_read(row: EvidenceFile) -> s.EvidenceRead:
    """The API view of a file."""
    return s.EvidenceRead.model_validate(row, from_attributes=True)


def retention_until(session: Session, *, agency_id: uuid.UUID, stored_at: datetime, default_days: int) -> datetime:
    """When a file stored now must be deleted: the agency's retention, else the registry's default."""
    agency = session.get(Agency, agency_id)
    days = agency.evidence_retention_days if agency and agency.evidence_retention_days else default_days
    return stored_at + timedelta(days=days)


def _owner_of(session: Session, row: EvidenceFile) -> uuid.UUID | None:
    request = session.get(FootageRequest, row.request_id)
    return request.owner_id if request else None


def _rows(session: Session, request_id: uuid.UUID, states: Sequence[str]) -> list[EvidenceFile]:
    stmt = (select(EvidenceFile).where(EvidenceFile.request_id == request_id, EvidenceFile.state.in_(states))
            .order_by(EvidenceFile.created_at, EvidenceFile.id))
    return list(session.scalars(stmt))


def list_request_evidence(session: Session, *, caller: Caller, request_id: uuid.UUID) -> list[s.EvidenceRead]:
    """Stored (and retention-deleted) files of a request the calling staff member may see."""
    require_role(caller.principal, *STAFF)
    request = visible_request(session, caller=caller, request_id=request_id)
    return [evidence_read(r) for r in _rows(session, request.id, ("stored", "deleted"))]


def list_my_evidence(session: Session, *, caller: Caller, request_id: uuid.UUID) -> list[s.EvidenceRead]:
    """Every file the calling owner uploaded (or is uploading) to one of their requests."""
    require_role(caller.principal, Role.OWNER)
    request = visible_request(session, caller=caller, request_id=request_id)
    return [evidence_read(r) for r in _rows(session, request.id, ("uploading", "stored", "deleted"))]


def _visible_file(session: Session, principal: Principal, file_id: uuid.UUID) -> tuple[EvidenceFile, FootageRequest]:
    row = session.get(EvidenceFile, file_id)
    request = session.get(FootageRequest, row.request_id) if row else None
    if row is None or request is None or principal.role not in STAFF or not may_see(session, principal, request):
        raise NotFound("no such evidence file", code="evidence_not_found")
    return row, request


def _require_stored(row: EvidenceFile) -> None:
    if row.state == "deleted":
        raise Gone("this file was deleted at the end of its retention period", code="evidence_deleted")
    if row.state != "stored":
        raise Conflict("this file is still being uploaded", code="evidence_not_stored")


def get_evidence(session: Session, *, caller: Caller, file_id: uuid.UUID) -> s.EvidenceRead:
    """One file of a request the calling staff member may see."""
    return evidence_read(_visible_file(session, caller.principal, file_id)[0])


def issue_link(session: Session, *, caller: Caller, key: bytes, file_id: uuid.UUID, ttl_s: int,
               now: datetime | None = None) -> s.LinkRead:
    """A short-lived download link for a stored file the caller may see (audited)."""
    row, request = _visible_file(session, caller.principal, file_id)
    _require_stored(row)
    token, expires_at = links.sign(key=key, file_id=row.id, account_id=caller.principal.account_id, ttl_s=ttl_s,
                                   now=now or utcnow())
    evidence_event(session, caller=caller, action="evidence.link_issued", row=row, owner_id=request.owner_id,
                   detail={"expires_at": expires_at, "by_agency": caller.principal.agency_id})
    session.commit()
    return s.LinkRead(url=f"{DOWNLOAD_PATH}{token}", expires_at=expires_at)


def use_link(session: Session, *, token: str, key: bytes, source: str | None,
             now: datetime | None = None) -> EvidenceFile:
    """The file a valid link points to, checked again against who it was issued to (audited as a download)."""
    claims = links.verify(token, key=key, now=now or utcnow())
    account = session.get(Account, claims.account_id)
    if account is None or account.disabled_at is not None:
        raise Forbidden("the account this link was issued to can no longer download", code="invalid_link")
    # The link was issued to someone who could see the file; a share revoked since then still wins.
    principal = Principal(account_id=account.id, role=Role(account.role), agency_id=account.agency_id)
    row, request = _visible_file(session, principal, claims.file_id)
    _require_stored(row)
    evidence_event(session, caller=Caller(principal, source), action="evidence.downloaded", row=row,
                   owner_id=request.owner_id, detail={"sha256": row.sha256, "by_agency": account.agency_id})
    session.commit()
    return row


def delete_past_retention(session: Session, *, storage: Storage, now: datetime) -> int:
    """Delete stored files whose retention ended; keep the row (hash, size, times) and record why. No commit."""
    stmt = (select(EvidenceFile).where(EvidenceFile.state == "stored", EvidenceFile.retain_until_at <= now)
            .order_by(EvidenceFile.retain_until_at, EvidenceFile.id).with_for_update(skip_locked=True))
    deleted = 0
    for row in session.scalars(stmt):
        storage.delete(row.storage_key)  # first: a rollback after this only means the next sweep repeats it
        row.state, row.deleted_at = "deleted", now
        evidence_event(session, caller=None, action="evidence.deleted", row=row, owner_id=_owner_of(session, row),
                       reason="retention", detail={"reason": "retention", "retain_until_at": row.retain_until_at,
                                                   "sha256": row.sha256, "size_bytes": row.size_bytes})
        deleted += 1
    session.flush()
    return deleted


def purge_stale_uploads(session: Session, *, storage: Storage, now: datetime, idle_s: int) -> int:
    """Remove unfinished uploads idle for `idle_s` seconds: their bytes and their row (never evidence). No commit."""
    stmt = (select(EvidenceFile).where(EvidenceFile.state == "uploading",
                                       EvidenceFile.updated_at <= now - timedelta(seconds=idle_s))
            .order_by(EvidenceFile.updated_at, EvidenceFile.id).with_for_update(skip_locked=True))
    purged = 0
    for row in session.scalars(stmt):
        storage.delete(row.storage_key)
        evidence_event(session, caller=None, action="evidence.upload_refused", row=row,
                       owner_id=_owner_of(session, row), outcome="refused", reason="abandoned",
                       detail={"received_bytes": row.received_bytes, "size_bytes": row.size_bytes})
        session.delete(row)
        purged += 1
    session.flush()
    return purged
