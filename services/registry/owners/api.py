"""Owners, sites, cameras, contact views, the access feed and CSV import."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile

from services.registry.deps import (
    ContactCaller,
    ManagerCaller,
    OwnerCaller,
    RegistryDep,
    SessionDep,
    SiteCaller,
)
from services.registry.owners import contact, imports, service
from services.registry.owners import schemas as s

router = APIRouter(tags=["owners"])


@router.post("/v1/owners/signup", response_model=s.OwnerRead, status_code=201, summary="Register as an owner")
def signup(body: s.OwnerSignup, session: SessionDep, registry: RegistryDep) -> s.OwnerRead:
    owner = service.signup(session, kit=registry.kit, data=body, source=None)
    return service.owner_read(owner, registry.kit.cipher)


@router.post("/v1/owners", response_model=s.OwnerRead, status_code=201,
             summary="Register an owner on their behalf (advocate)")
def create_owner(body: s.OwnerCreate, caller: ManagerCaller, session: SessionDep, registry: RegistryDep) -> s.OwnerRead:
    return service.owner_read(service.create_owner(session, caller=caller, cipher=registry.kit.cipher, data=body),
                               registry.kit.cipher)


@router.get("/v1/owners/me", response_model=s.OwnerRead, summary="Your own contact data")
def read_me(caller: OwnerCaller, session: SessionDep, registry: RegistryDep) -> s.OwnerRead:
    return service.owner_read(service.get_owner(session, caller=caller), registry.kit.cipher)


@router.get("/v1/owners/me/access", response_model=list[s.AccessRead],
            summary="Every access to your data: who, which agency, which case")
def access_feed(caller: OwnerCaller, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                before_id: int | None = None) -> list[s.AccessRead]:
    return contact.access_feed(session, caller=caller, limit=limit, before_id=before_id)


@router.get("/v1/owners/{owner_id}", response_model=s.OwnerRead, summary="An owner you manage (advocate)")
def read_owner(owner_id: uuid.UUID, caller: ManagerCaller, session: SessionDep, registry: RegistryDep) -> s.OwnerRead:
    return service.owner_read(service.get_owner(session, caller=caller, owner_id=owner_id), registry.kit.cipher)


@router.patch("/v1/owners/me", response_model=s.OwnerRead, summary="Change your contact data")
def update_me(body: s.OwnerUpdate, caller: OwnerCaller, session: SessionDep, registry: RegistryDep) -> s.OwnerRead:
    owner = service.update_owner(session, caller=caller, cipher=registry.kit.cipher, owner_id=None, data=body)
    return service.owner_read(owner, registry.kit.cipher)


@router.delete("/v1/owners/me", status_code=204, summary="Delete your account and everything personal")
def delete_me(caller: OwnerCaller, session: SessionDep, registry: RegistryDep) -> Response:
    service.delete_owner(session, caller=caller, broker=registry.broker)
    return Response(status_code=204)


@router.delete("/v1/owners/{owner_id}", status_code=204, summary="Delete an owner you manage, at their request")
def delete_owner(owner_id: uuid.UUID, caller: ManagerCaller, session: SessionDep, registry: RegistryDep) -> Response:
    service.delete_owner(session, caller=caller, broker=registry.broker, owner_id=owner_id)
    return Response(status_code=204)


@router.post("/v1/sites", response_model=s.SiteRead, status_code=201, tags=["sites"], summary="Add a site")
def create_site(body: s.SiteCreate, caller: SiteCaller, session: SessionDep, registry: RegistryDep) -> s.SiteRead:
    site = service.create_site(session, caller=caller, cipher=registry.kit.cipher, geocoder=registry.geocoder,
                               data=body)
    return service.site_read(site, registry.kit.cipher)


@router.get("/v1/sites", response_model=list[s.SiteRead], tags=["sites"], summary="Your sites (or an owner's)")
def list_sites(caller: SiteCaller, session: SessionDep, registry: RegistryDep,
               owner_id: uuid.UUID | None = None) -> list[s.SiteRead]:
    return [service.site_read(x, registry.kit.cipher)
            for x in service.list_sites(session, caller=caller, owner_id=owner_id)]


@router.get("/v1/sites/{site_id}", response_model=s.SiteRead, tags=["sites"], summary="One site")
def read_site(site_id: uuid.UUID, caller: SiteCaller, session: SessionDep, registry: RegistryDep) -> s.SiteRead:
    return service.site_read(service.get_site(session, caller=caller, site_id=site_id), registry.kit.cipher)


@router.patch("/v1/sites/{site_id}", response_model=s.SiteRead, tags=["sites"], summary="Change a site")
def update_site(site_id: uuid.UUID, body: s.SiteUpdate, caller: SiteCaller, session: SessionDep,
                registry: RegistryDep) -> s.SiteRead:
    site = service.update_site(session, caller=caller, cipher=registry.kit.cipher, geocoder=registry.geocoder,
                               site_id=site_id, data=body)
    return service.site_read(site, registry.kit.cipher)


@router.delete("/v1/sites/{site_id}", status_code=204, tags=["sites"], summary="Remove a site and its cameras")
def delete_site(site_id: uuid.UUID, caller: SiteCaller, session: SessionDep, registry: RegistryDep) -> Response:
    service.delete_site(session, caller=caller, broker=registry.broker, site_id=site_id)
    return Response(status_code=204)


@router.post("/v1/sites/{site_id}/cameras", response_model=s.CameraRead, status_code=201, tags=["cameras"],
             summary="Add a camera to a site")
def create_camera(site_id: uuid.UUID, body: s.CameraCreate, caller: SiteCaller, session: SessionDep) -> s.CameraRead:
    return service.camera_read(service.create_camera(session, caller=caller, site_id=site_id, data=body))


@router.get("/v1/sites/{site_id}/cameras", response_model=list[s.CameraRead], tags=["cameras"],
            summary="A site's cameras")
def list_cameras(site_id: uuid.UUID, caller: SiteCaller, session: SessionDep) -> list[s.CameraRead]:
    return [service.camera_read(c) for c in service.list_cameras(session, caller=caller, site_id=site_id)]


@router.get("/v1/cameras/{camera_id}", response_model=s.CameraRead, tags=["cameras"], summary="One camera")
def read_camera(camera_id: uuid.UUID, caller: SiteCaller, session: SessionDep) -> s.CameraRead:
    return service.camera_read(service.get_camera(session, caller=caller, camera_id=camera_id))


@router.patch("/v1/cameras/{camera_id}", response_model=s.CameraRead, tags=["cameras"], summary="Change a camera")
def update_camera(camera_id: uuid.UUID, body: s.CameraUpdate, caller: SiteCaller, session: SessionDep) -> s.CameraRead:
    return service.camera_read(service.update_camera(session, caller=caller, camera_id=camera_id, data=body))


@router.delete("/v1/cameras/{camera_id}", status_code=204, tags=["cameras"], summary="Remove a camera")
def delete_camera(camera_id: uuid.UUID, caller: SiteCaller, session: SessionDep) -> Response:
    service.delete_camera(session, caller=caller, camera_id=camera_id)
    return Response(status_code=204)


@router.post("/v1/cameras/{camera_id}/contact", response_model=s.ContactRead, tags=["cameras"],
             summary="See who to contact about a camera (case number and reason required; audited)")
def view_contact(camera_id: uuid.UUID, body: s.ContactRequest, caller: ContactCaller, session: SessionDep,
                 registry: RegistryDep) -> s.ContactRead:
    return contact.view_contact(session, caller=caller, cipher=registry.kit.cipher, camera_id=camera_id, request=body)


@router.post("/v1/imports/cameras", response_model=imports.ImportReport, tags=["imports"],
             summary="Import brochure forms from CSV: every line or none, with a per-line report")
def import_cameras(caller: ManagerCaller, session: SessionDep, registry: RegistryDep,
                         file: Annotated[UploadFile, File(description="CSV with the columns of the template")],
                         dry_run: bool = False) -> imports.ImportReport:
    limit = registry.settings.imports.max_bytes
    data = file.file.read(limit + 1)  # one byte over the cap is enough to refuse it
    return imports.import_cameras(session, caller=caller, cipher=registry.kit.cipher, data=data, dry_run=dry_run,
                                  limits=registry.settings.imports)
