"""Footage requests: investigators ask, owners answer in the portal, agencies share; every step audited."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.common.auth import Role
from services.registry.context import Caller
from services.registry.deps import OwnerCaller, RegistryDep, SessionDep, roles
from services.registry.requests import schemas as s
from services.registry.requests import service, shares
from services.registry.requests.service import CREATE_SCOPE, Mailer

router = APIRouter(tags=["requests"])

RequesterCaller = Annotated[Caller, Depends(roles(Role.INVESTIGATOR, Role.SUPERVISOR, Role.INTEGRATOR,
                                                  scope=CREATE_SCOPE))]
StaffCaller = Annotated[Caller, Depends(roles(Role.INVESTIGATOR, Role.SUPERVISOR))]
Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
After = Annotated[uuid.UUID | None, Query(description="id of the last request of the previous page")]


def _mailer(registry: RegistryDep) -> Mailer:
    return Mailer(cipher=registry.kit.cipher, public_url=registry.settings.public_url)


MailerDep = Annotated[Mailer, Depends(_mailer)]


@router.post("/v1/requests", response_model=s.RequestsCreated, status_code=201,
             summary="Ask the owners of cameras for footage (one request per owner; audited, owners emailed)")
def create(body: s.RequestCreate, caller: RequesterCaller, session: SessionDep, registry: RegistryDep,
           mailer: MailerDep) -> s.RequestsCreated:
    made = service.create_requests(session, caller=caller, mailer=mailer, limits=registry.settings.requests,
                                   data=body)
    return s.RequestsCreated(requests=made)


@router.get("/v1/requests", response_model=list[s.FootageRequestRead],
            summary="Your agency's requests and those shared with it, newest first")
def list_requests(caller: StaffCaller, session: SessionDep, limit: Limit = 50, after: After = None,
                  case_number: Annotated[str | None, Query(max_length=64)] = None,
                  state: s.RequestState | None = None) -> list[s.FootageRequestRead]:
    return service.list_requests(session, caller=caller, case_number=case_number, state=state, limit=limit,
                                 after=after)


@router.get("/v1/requests/{request_id}", response_model=s.FootageRequestRead,
            summary="One request (the view is audited)")
def read(request_id: uuid.UUID, caller: StaffCaller, session: SessionDep) -> s.FootageRequestRead:
    return service.get_request(session, caller=caller, request_id=request_id)


@router.post("/v1/requests/{request_id}/withdraw", response_model=s.FootageRequestRead,
             summary="Withdraw an open request (requesting agency; the owner is told)")
def withdraw(request_id: uuid.UUID, caller: StaffCaller, session: SessionDep,
             mailer: MailerDep) -> s.FootageRequestRead:
    return service.withdraw(session, caller=caller, mailer=mailer, request_id=request_id)


@router.post("/v1/requests/{request_id}/shares", response_model=s.ShareRead, status_code=201,
             summary="Let another agency see the request and its evidence (recorded, audited)")
def share(request_id: uuid.UUID, body: s.ShareCreate, caller: StaffCaller, session: SessionDep) -> s.ShareRead:
    return shares.share_request(session, caller=caller, request_id=request_id, data=body)


@router.get("/v1/requests/{request_id}/shares", response_model=list[s.ShareRead],
            summary="Agencies the request is or was shared with (requesting agency)")
def list_shares(request_id: uuid.UUID, caller: StaffCaller, session: SessionDep) -> list[s.ShareRead]:
    return shares.list_shares(session, caller=caller, request_id=request_id)


@router.delete("/v1/requests/{request_id}/shares/{agency_id}", status_code=204,
               summary="End a share: the other agency loses sight of the request")
def revoke_share(request_id: uuid.UUID, agency_id: uuid.UUID, caller: StaffCaller, session: SessionDep) -> Response:
    shares.revoke_share(session, caller=caller, request_id=request_id, agency_id=agency_id)
    return Response(status_code=204)


@router.get("/v1/my/requests", response_model=list[s.OwnerRequestRead],
            summary="Footage requests to you, newest first")
def my_requests(caller: OwnerCaller, session: SessionDep, limit: Limit = 50, after: After = None,
                state: s.RequestState | None = None) -> list[s.OwnerRequestRead]:
    return service.list_my_requests(session, caller=caller, state=state, limit=limit, after=after)


@router.get("/v1/my/requests/{request_id}", response_model=s.OwnerRequestRead, summary="One request to you")
def my_request(request_id: uuid.UUID, caller: OwnerCaller, session: SessionDep) -> s.OwnerRequestRead:
    return service.get_my_request(session, caller=caller, request_id=request_id)


@router.post("/v1/my/requests/{request_id}/accept", response_model=s.OwnerRequestRead,
             summary="Agree to provide footage (then upload it)")
def accept(request_id: uuid.UUID, caller: OwnerCaller, session: SessionDep) -> s.OwnerRequestRead:
    return service.accept(session, caller=caller, request_id=request_id)


@router.post("/v1/my/requests/{request_id}/decline", response_model=s.OwnerRequestRead,
             summary="Decline, optionally saying why")
def decline(request_id: uuid.UUID, caller: OwnerCaller, session: SessionDep,
            body: s.DeclineBody | None = None) -> s.OwnerRequestRead:
    return service.decline(session, caller=caller, request_id=request_id, reason=body.reason if body else None)


@router.post("/v1/my/requests/{request_id}/complete", response_model=s.OwnerRequestRead,
             summary="Done uploading: an accepted request with at least one stored file is fulfilled")
def complete(request_id: uuid.UUID, caller: OwnerCaller, session: SessionDep) -> s.OwnerRequestRead:
    return service.complete(session, caller=caller, request_id=request_id)
