"""Program statistics (staff) and the public transparency report."""

from __future__ import annotations

from fastapi import APIRouter

from services.registry.deps import AuditorCaller, SessionDep
from services.registry.stats import service
from services.registry.stats.schemas import ProgramStats, TransparencyReport

router = APIRouter(tags=["stats"])


@router.get("/v1/stats/program", response_model=ProgramStats,
            summary="Registered vs CORE-integrated cameras of your agency, month by month")
def program(caller: AuditorCaller, session: SessionDep) -> ProgramStats:
    assert caller.principal.agency_id is not None
    return service.program_stats(session, agency_id=caller.principal.agency_id)


@router.get("/v1/transparency", response_model=TransparencyReport,
            summary="Public report: aggregate counts per agency, nothing about any person or camera")
def transparency(session: SessionDep) -> TransparencyReport:
    return service.transparency(session)
