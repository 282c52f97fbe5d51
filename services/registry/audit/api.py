"""Reading and verifying the audit log (auditors and supervisors)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.registry.audit import service
from services.registry.audit.schemas import AuditEventRead, ChainReportRead
from services.registry.deps import AuditorCaller, SessionDep

router = APIRouter(tags=["audit"])


@router.get("/v1/audit/events", response_model=list[AuditEventRead], summary="Your agency's audit events")
def list_events(caller: AuditorCaller, session: SessionDep, action: str | None = None,
                case_number: str | None = None, after_id: Annotated[int, Query(ge=0)] = 0,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[Any]:
    return service.list_events(session, caller=caller, action=action, case_number=case_number, after_id=after_id,
                               limit=limit)


@router.get("/v1/audit/verify", response_model=ChainReportRead,
            summary="Verify the whole hash chain; reports the first broken row")
def verify(caller: AuditorCaller, session: SessionDep) -> ChainReportRead:
    report = service.verify_and_record(session, caller=caller)
    return ChainReportRead(ok=report.ok, rows_checked=report.rows_checked, first_broken_id=report.first_broken_id,
                           problem=report.problem)
