"""Exporting a case's evidence as one ZIP: every file, and a manifest with hashes and the custody trail.

The archive is written to a file the caller provides (a temporary file), member by member in chunks, so memory
does not grow with the evidence; videos are stored, not compressed (they are compressed already). Each file is
hashed again as it is copied: a file changed at rest stops the export rather than ship a bundle that lies.
verify.py checks a bundle offline; the manifest's SHA-256 is also recorded in the audit event of the export.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import require_role
from services.common.errors import Conflict, NotFound
from services.registry.agencies.models import Agency
from services.registry.audit import service as audit
from services.registry.audit.models import AuditEvent
from services.registry.context import Caller
from services.registry.database import utcnow
from services.registry.evidence.models import EvidenceFile
from services.registry.evidence.storage import Storage
from services.registry.evidence.verify import FORMAT, MANIFEST, MANIFEST_HASH, SIGNATURE
from services.registry.requests.access import STAFF, may_see
from services.registry.requests.models import FootageRequest

READ_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Exported:
    """What an export wrote."""

    files: int
    bytes: int
    manifest_sha256: str


def member_name(row: EvidenceFile) -> str:
    """Where a file goes in the bundle: its id keeps names unique, the sanitised name keeps it recognisable."""
    return f"files/{row.id}-{row.filename}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _evidence(session: Session, caller: Caller, case_number: str) -> tuple[list[FootageRequest], list[EvidenceFile]]:
    requests = [r for r in session.scalars(select(FootageRequest).where(FootageRequest.case_number == case_number)
                                           .order_by(FootageRequest.created_at, FootageRequest.id))
                if may_see(session, caller.principal, r)]
    files = list(session.scalars(
        select(EvidenceFile).where(EvidenceFile.request_id.in_([r.id for r in requests]),
                                   EvidenceFile.state == "stored")
        .order_by(EvidenceFile.stored_at, EvidenceFile.id))) if requests else []
    if not files:
        raise NotFound(f"no stored evidence you may see for case {case_number}", code="no_evidence")
    return requests, files


def _event(e: AuditEvent) -> dict[str, Any]:
    return {"audit_id": e.id, "action": e.action, "actor_role": e.actor_role,
            "actor_id": str(e.actor_id) if e.actor_id else None, "agency_id": str(e.agency_id) if e.agency_id else None,
            "at": _iso(e.recorded_at), "outcome": e.outcome, "hash": e.hash}


def _custody(session: Session, case_number: str, requests: list[FootageRequest],
             files: list[EvidenceFile]) -> dict[str, list[Any]]:
    """Audit events of each request and file, keyed by object id (each row's hash ties it to the chain)."""
    ids = [str(r.id) for r in requests] + [str(f.id) for f in files]
    trail: dict[str, list[Any]] = {i: [] for i in ids}
    for e in session.scalars(select(AuditEvent).where(AuditEvent.object_id.in_(ids)).order_by(AuditEvent.id)):
        trail[str(e.object_id)].append(_event(e))
    # Earlier exports are events of the case; they name the files they carried.
    exports = select(AuditEvent).where(AuditEvent.action == "evidence.exported",
                                       AuditEvent.case_number == case_number).order_by(AuditEvent.id)
    for e in session.scalars(exports):
        for file_id in json.loads(e.detail or "{}").get("file_ids", []):
            if file_id in trail:
                trail[file_id].append(_event(e))
    return trail


def _copy(bundle: zipfile.ZipFile, storage: Storage, row: EvidenceFile) -> None:
    info = zipfile.ZipInfo(member_name(row), date_time=(row.stored_at or utcnow()).timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = row.size_bytes  # lets zipfile choose ZIP64 up front for files over 2 GiB
    digest, size = hashlib.sha256(), 0
    with bundle.open(info, "w") as out:
        for data in storage.read(row.storage_key, chunk_bytes=READ_BYTES):
            digest.update(data)
            size += len(data)
            out.write(data)
    if size != row.size_bytes or digest.hexdigest() != row.sha256:
        raise Conflict(f"evidence file {row.id} ({row.filename}) no longer matches the SHA-256 recorded when it "
                       "was stored; the export was stopped", code="evidence_corrupt")


def _manifest(caller: Caller, agency: Agency | None, case_number: str, requests: list[FootageRequest],
              files: list[EvidenceFile], trail: dict[str, list[Any]], now: datetime) -> dict[str, Any]:
    by_id = {r.id: r for r in requests}
    entries = []
    for f in files:
        request = by_id[f.request_id]
        entries.append({
            "id": str(f.id), "path": member_name(f), "name": f.filename, "size_bytes": f.size_bytes,
            "sha256": f.sha256, "content_type": f.content_type, "request_id": str(request.id),
            "requesting_agency_id": str(request.agency_id), "legal_basis": request.legal_basis,
            "uploaded_by": str(f.uploaded_by) if f.uploaded_by else None, "stored_at": _iso(f.stored_at),
            "retain_until_at": _iso(f.retain_until_at),
            "custody": sorted(trail[str(request.id)] + trail[str(f.id)], key=lambda e: e["audit_id"])})
    return {
        "format": FORMAT, "case_number": case_number,
        "agency": {"id": str(agency.id), "slug": agency.slug, "name": agency.name} if agency else None,
        "exported_at": now.isoformat(),
        "exported_by": {"account_id": str(caller.principal.account_id), "role": str(caller.principal.role)},
        "files": entries,
    }


def export_case(session: Session, *, caller: Caller, storage: Storage, case_number: str, out: IO[bytes],
                sign: Callable[[dict[str, Any]], str] | None = None, now: datetime | None = None) -> Exported:
    """Write the bundle of every stored file of the case the caller may see to `out`; audited, committed."""
    require_role(caller.principal, *STAFF)
    now = now or utcnow()
    requests, files = _evidence(session, caller, case_number)
    agency = session.get(Agency, caller.principal.agency_id) if caller.principal.agency_id else None
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as bundle:
        for row in files:
            _copy(bundle, storage, row)
        trail = _custody(session, case_number, requests, files)
        raw = json.dumps(_manifest(caller, agency, case_number, requests, files, trail, now), indent=2,
                         ensure_ascii=False).encode()
        digest = hashlib.sha256(raw).hexdigest()
        bundle.writestr(MANIFEST, raw, compress_type=zipfile.ZIP_DEFLATED)
        bundle.writestr(MANIFEST_HASH, f"{digest}  {MANIFEST}\n")
        if sign is not None:
            bundle.writestr(SIGNATURE, sign({"typ": "evidence-manifest", "case_number": case_number,
                                             "manifest_sha256": digest}) + "\n")
    audit.record(session, caller=caller, action="evidence.exported", object_type="case", object_id=case_number,
                 agency_id=caller.principal.agency_id, case_number=case_number,
                 detail={"files": len(files), "manifest_sha256": digest, "file_ids": [str(f.id) for f in files],
                         "request_ids": sorted({str(f.request_id) for f in files})})
    session.commit()
    return Exported(files=len(files), bytes=sum(f.size_bytes for f in files), manifest_sha256=digest)
