"""Consent grants: owners grant and revoke live video of a camera; dispatchers see their agency's grants."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.common.auth import Role
from services.registry.consent import schemas as s
from services.registry.consent import service
from services.registry.context import Caller
from services.registry.deps import OwnerCaller, RegistryDep, SessionDep, roles

router = APIRouter(tags=["consent"])

DispatchCaller = Annotated[Caller, Depends(roles(Role.DISPATCHER, Role.SUPERVISOR))]


@router.post("/v1/cameras/{camera_id}/grants", response_model=s.GrantRead, status_code=201,
             summary="Let an agency watch this camera live for a window (owner; audited, sent to relay and box)")
def create(camera_id: uuid.UUID, body: s.GrantCreate, caller: OwnerCaller, session: SessionDep,
           registry: RegistryDep) -> s.GrantRead:
    grant = service.create_grant(session, caller=caller, limits=registry.settings.consent, camera_id=camera_id,
                                 data=body)
    return service.grant_read(grant)


@router.get("/v1/cameras/{camera_id}/grants", response_model=list[s.GrantRead],
            summary="Every consent grant of your camera, newest first")
def list_grants(camera_id: uuid.UUID, caller: OwnerCaller, session: SessionDep) -> list[s.GrantRead]:
    return [service.grant_read(g) for g in service.list_grants(session, caller=caller, camera_id=camera_id)]


@router.delete("/v1/cameras/{camera_id}/grants/{grant_id}", status_code=204,
               summary="Revoke a grant now: streams under it stop (idempotent; audited)")
def revoke(camera_id: uuid.UUID, grant_id: uuid.UUID, caller: OwnerCaller, session: SessionDep) -> Response:
    service.revoke_grant(session, caller=caller, camera_id=camera_id, grant_id=grant_id)
    return Response(status_code=204)


@router.get("/v1/grants", response_model=list[s.AgencyGrantRead],
            summary="Consent grants to your agency, newest first (no owner contact data)")
def agency_grants(caller: DispatchCaller, session: SessionDep,
                  active: Annotated[bool | None, Query(description="only active (true) or inactive (false)")] = None,
                  ) -> list[s.AgencyGrantRead]:
    return service.agency_grants(session, caller=caller, active=active)
