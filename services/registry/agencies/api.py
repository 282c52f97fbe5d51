"""Agencies (public list) and sharing agreements (supervisors)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from services.registry.agencies import service
from services.registry.agencies.schemas import AgencyRead, AgreementCreate, AgreementRead
from services.registry.deps import SessionDep, SupervisorCaller

router = APIRouter(tags=["agencies"])


@router.get("/v1/agencies", response_model=list[AgencyRead], summary="Participating agencies")
def list_agencies(session: SessionDep) -> list[Any]:
    return [AgencyRead(id=a.id, slug=a.slug, name=a.name, created_at=a.created_at)
            for a in service.list_agencies(session)]


@router.get("/v1/agreements", response_model=list[AgreementRead], summary="Agreements your agency grants or receives")
def list_agreements(caller: SupervisorCaller, session: SessionDep) -> list[Any]:
    assert caller.principal.agency_id is not None
    return service.list_agreements(session, agency_id=caller.principal.agency_id)


@router.post("/v1/agreements", response_model=AgreementRead, status_code=201,
             summary="Share your agency's cameras with another agency's investigators")
def create_agreement(body: AgreementCreate, caller: SupervisorCaller, session: SessionDep) -> Any:
    assert caller.principal.agency_id is not None
    return service.create_agreement(session, caller=caller, grantor_id=caller.principal.agency_id,
                                    grantee_id=body.grantee_agency_id)


@router.delete("/v1/agreements/{agreement_id}", status_code=204, summary="End an agreement your agency grants")
def revoke_agreement(agreement_id: uuid.UUID, caller: SupervisorCaller, session: SessionDep) -> Response:
    service.revoke_agreement(session, caller=caller, agreement_id=agreement_id)
    return Response(status_code=204)
