"""The canvass report for an incident: CSV or printable PDF (case number and reason required; audited)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from services.common.errors import ERROR_RESPONSES
from services.registry.canvass import render_csv, render_pdf, service
from services.registry.canvass.schemas import CanvassQuery, CanvassReport, ReportFormat
from services.registry.context import Caller
from services.registry.deps import RegistryDep, SessionDep, roles

router = APIRouter(tags=["canvass"])
CanvassCaller = Annotated[Caller, Depends(roles(*service.CANVASS_ROLES))]
QueryDep = Annotated[CanvassQuery, Query()]


def _responses(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type: {}}, "description": "The report, as an attachment"}, **ERROR_RESPONSES}


def filename(report: CanvassReport, extension: str) -> str:
    """canvass-<case>-<date>.<ext>, the case number reduced to characters safe in any file name and header."""
    case = re.sub(r"[^A-Za-z0-9._-]+", "_", report.case_number).strip("._") or "case"
    return f"canvass-{case}-{report.generated_at:%Y-%m-%d}.{extension}"


def _report(caller: Caller, session: SessionDep, registry: RegistryDep, query: CanvassQuery,
            fmt: ReportFormat) -> CanvassReport:
    return service.canvass_report(session, caller=caller, cipher=registry.kit.cipher, query=query,
                                  limits=registry.settings.search, fmt=fmt)


def _attachment(content: bytes, media_type: str, name: str) -> Response:
    # Personal data: no cache may keep a copy; the name is plain ASCII, so no RFC 5987 encoding is needed.
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/v1/canvass.csv", response_class=Response, responses=_responses("text/csv"),
            summary="Cameras to ask about near an incident, with contacts, as CSV (case number and reason; audited)")
def canvass_csv(query: QueryDep, caller: CanvassCaller, session: SessionDep, registry: RegistryDep) -> Response:
    report = _report(caller, session, registry, query, "csv")
    return _attachment(render_csv.render_csv(report), render_csv.MEDIA_TYPE, filename(report, "csv"))


@router.get("/v1/canvass.pdf", response_class=Response, responses=_responses(render_pdf.MEDIA_TYPE),
            summary="Cameras to ask about near an incident, with contacts, as a printable PDF (audited)")
def canvass_pdf(query: QueryDep, caller: CanvassCaller, session: SessionDep, registry: RegistryDep) -> Response:
    report = _report(caller, session, registry, query, "pdf")
    return _attachment(render_pdf.render_pdf(report), render_pdf.MEDIA_TYPE, filename(report, "pdf"))
