"""CORE devices: enrolment codes for owners, enrolment for boxes, listing and revocation."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.common.auth import Role
from services.registry.context import Caller
from services.registry.deps import RegistryDep, SessionDep, SiteCaller, roles, source_of
from services.registry.devices import schemas as s
from services.registry.devices import service

router = APIRouter(tags=["devices"])
RevokeCaller = Annotated[Caller, Depends(roles(Role.OWNER, Role.SUPERVISOR))]


@router.post("/v1/sites/{site_id}/enrolment-codes", response_model=s.EnrolmentCodeRead, status_code=201,
             summary="A one-time code to enrol a CORE box at this site (valid 24 hours, shown once)")
def create_code(site_id: uuid.UUID, caller: SiteCaller, session: SessionDep,
                registry: RegistryDep) -> s.EnrolmentCodeRead:
    return service.create_code(session, caller=caller, cipher=registry.kit.cipher,
                               settings=registry.settings.devices, site_id=site_id)


@router.post("/v1/devices/enroll", response_model=s.EnrolResponse, status_code=201,
             summary="Enrol a CORE box with an owner's one-time code (no token: the code is the credential)",
             description="Consumes the code. Unknown codes answer 404, used or expired ones 409; wrong codes "
                         "from one address are rate-limited (429). The MQTT password is shown only here.")
def enroll(body: s.EnrolRequest, request: Request, session: SessionDep, registry: RegistryDep) -> s.EnrolResponse:
    return service.enrol(session, cipher=registry.kit.cipher, broker=registry.broker,
                         broker_settings=registry.settings.broker, settings=registry.settings.devices, data=body,
                         source=source_of(request))


@router.get("/v1/devices", response_model=list[s.DeviceRead],
            summary="Your CORE boxes (owner) or your agency's (advocate, supervisor)")
def list_devices(caller: SiteCaller, session: SessionDep) -> list[s.DeviceRead]:
    return [service.device_read(session, d) for d in service.list_devices(session, caller=caller)]


@router.get("/v1/devices/{device_id}", response_model=s.DeviceRead, summary="One CORE box")
def read_device(device_id: uuid.UUID, caller: SiteCaller, session: SessionDep) -> s.DeviceRead:
    return service.device_read(session, service.get_device(session, caller=caller, device_id=device_id))


@router.delete("/v1/devices/{device_id}", status_code=204,
               summary="Revoke a CORE box: its broker account is deleted and its cameras freed (owner, supervisor)")
def revoke_device(device_id: uuid.UUID, caller: RevokeCaller, session: SessionDep, registry: RegistryDep) -> Response:
    service.revoke_device(session, caller=caller, broker=registry.broker, device_id=device_id)
    return Response(status_code=204)
