"""Owners, sites and cameras: who may manage what, and deleting everything on request."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.registry import geo
from services.registry.accounts.models import Account, LoginAttempt
from services.registry.accounts.service import AuthKit
from services.registry.agencies.models import Agency
from services.registry.agencies.service import agency_for_point
from services.registry.audit import service as audit
from services.registry.context import Caller
from services.registry.crypto import ContactCipher
from services.registry.devices import links as devices
from services.registry.devices.broker import BrokerAccounts
from services.registry.geocoding import Geocoder
from services.registry.outbox import events
from services.registry.owners import schemas as s
from services.registry.owners.models import Camera, Owner, Site
from services.registry.requests.service import close_for_owner
from services.registry.stats.service import record_camera_change

MANAGERS = (Role.ADVOCATE, Role.SUPERVISOR)


def owner_read(owner: Owner, cipher: ContactCipher) -> s.OwnerRead:
    """Decrypt an owner for its own eyes."""
    return s.OwnerRead(id=owner.id, name=cipher.decrypt(owner.name_enc) or "", email=cipher.decrypt(owner.email_enc),
                       phone=cipher.decrypt(owner.phone_enc), has_login=owner.account_id is not None,
                       created_at=owner.created_at)


def site_read(site: Site, cipher: ContactCipher) -> s.SiteRead:
    """Decrypt a site for its owner or their advocate."""
    lon, lat = geo.lon_lat(site.location)
    return s.SiteRead(id=site.id, owner_id=site.owner_id, agency_id=site.agency_id, kind=s.SiteKind(site.kind),
                      address=cipher.decrypt(site.address_enc) or "", location=s.LonLat(lon=lon, lat=lat),
                      created_at=site.created_at)


def camera_read(camera: Camera) -> s.CameraRead:
    """A camera without any personal data."""
    lon, lat = geo.lon_lat(camera.location)
    fields = {k: getattr(camera, k) for k in s.CameraRead.model_fields if k != "location"}
    return s.CameraRead(**fields, location=s.LonLat(lon=lon, lat=lat))


def signup(session: Session, *, kit: AuthKit, data: s.OwnerSignup, source: str | None) -> Owner:
    """An owner registers themselves and can sign in with their email."""
    digest = kit.cipher.blind_index(data.email)
    if session.scalar(select(Account.id).where(Account.login_digest == digest)):
        raise Conflict("an account with this email exists", field="email")
    account = Account(role=Role.OWNER, login_digest=digest, password_hash=kit.hasher.hash(data.password), scopes="")
    session.add(account)
    session.flush()
    owner = Owner(account_id=account.id, name_enc=kit.cipher.encrypt(data.name),
                  email_enc=kit.cipher.encrypt(str(data.email)), phone_enc=kit.cipher.encrypt(data.phone))
    session.add(owner)
    session.commit()
    return owner


def create_owner(session: Session, *, caller: Caller, cipher: ContactCipher, data: s.OwnerCreate) -> Owner:
    """An advocate registers an owner on their behalf (phone campaign, brochure)."""
    owner = Owner(agency_id=caller.principal.agency_id, name_enc=cipher.encrypt(data.name),
                  email_enc=cipher.encrypt(str(data.email) if data.email else None),
                  phone_enc=cipher.encrypt(data.phone))
    session.add(owner)
    session.flush()
    audit.record(session, caller=caller, action="owner.created", object_type="owner", object_id=owner.id,
                 subject_owner_id=owner.id)
    session.commit()
    return owner


def get_owner(session: Session, *, caller: Caller, owner_id: uuid.UUID | None = None) -> Owner:
    """The caller's own owner record, or one an advocate or supervisor of the agency manages."""
    principal = caller.principal
    if principal.role is Role.OWNER:
        if owner_id not in (None, principal.owner_id) or principal.owner_id is None:
            raise NotFound("no such owner")
        owner_id = principal.owner_id
    elif principal.role not in MANAGERS:
        raise Forbidden(f"role '{principal.role}' may not manage owners")
    owner = session.get(Owner, owner_id) if owner_id else None
    if owner is None or (principal.role in MANAGERS and not _managed_by_agency(session, owner, principal.agency_id)):
        raise NotFound("no such owner")
    return owner


def _managed_by_agency(session: Session, owner: Owner, agency_id: uuid.UUID | None) -> bool:
    if owner.agency_id == agency_id:
        return True
    site = select(Site.id).where(Site.owner_id == owner.id, Site.agency_id == agency_id).limit(1)
    return session.scalar(site) is not None


def update_owner(session: Session, *, caller: Caller, cipher: ContactCipher, owner_id: uuid.UUID | None,
                 data: s.OwnerUpdate) -> Owner:
    """Change an owner's contact data."""
    owner = get_owner(session, caller=caller, owner_id=owner_id)
    if data.name is not None:
        owner.name_enc = cipher.encrypt(data.name)  # type: ignore[assignment]
    if "email" in data.model_fields_set:
        owner.email_enc = cipher.encrypt(str(data.email) if data.email else None)
    if "phone" in data.model_fields_set:
        owner.phone_enc = cipher.encrypt(data.phone)
    session.commit()
    return owner


def delete_owner(session: Session, *, caller: Caller, broker: BrokerAccounts,
                 owner_id: uuid.UUID | None = None) -> None:
    """Delete the owner and everything personal: cameras, sites, devices, contact data, login and its traces."""
    owner = get_owner(session, caller=caller, owner_id=owner_id)
    sites = list(session.scalars(select(Site).where(Site.owner_id == owner.id)))
    devices.release_sites(session, caller=caller, broker=broker, sites=sites)
    for camera in session.scalars(select(Camera).where(Camera.owner_id == owner.id)):
        record_camera_change(session, agency_id=camera.agency_id, registered=-1, core=-int(camera.core_enabled))
        events.camera_changed(session, camera, deleted=True)
    for site in sites:
        events.site_changed(session, site, deleted=True)
    close_for_owner(session, caller=caller, owner_id=owner.id)  # open requests end; the rows lose the owner
    account = session.get(Account, owner.account_id) if owner.account_id else None
    session.execute(delete(Camera).where(Camera.owner_id == owner.id))
    session.execute(delete(Site).where(Site.owner_id == owner.id))
    session.delete(owner)
    if account is not None:
        session.execute(delete(LoginAttempt).where(LoginAttempt.login_digest == account.login_digest))
        session.delete(account)
    # The audit row keeps only the random id, which nothing links to a person once the rows are gone.
    audit.record(session, caller=caller, action="owner.deleted", object_type="owner", object_id=owner.id,
                 subject_owner_id=owner.id)
    session.commit()


def placed(session: Session, *, caller: Caller | None, lon: float, lat: float) -> Agency:
    """The agency serving a point; staff registering on an owner's behalf stay inside their own jurisdiction."""
    agency = agency_for_point(session, lon=lon, lat=lat)
    if caller is not None and caller.role in MANAGERS and agency.id != caller.principal.agency_id:
        raise InvalidInput("location is outside your agency's jurisdiction", field="location")
    return agency


def _located(geocoder: Geocoder, address: str, location: s.LonLat | None) -> tuple[float, float]:
    if location is not None:
        return location.lon, location.lat
    found = geocoder.locate(address)
    if found is None:
        raise InvalidInput("the address could not be placed on the map; give a location pin", field="location")
    return found


def create_site(session: Session, *, caller: Caller, cipher: ContactCipher, geocoder: Geocoder,
                data: s.SiteCreate) -> Site:
    """Add a site for the caller (owner) or for an owner the advocate manages."""
    if caller.role is not Role.OWNER and data.owner_id is None:
        raise InvalidInput("owner_id is required when registering on an owner's behalf", field="owner_id")
    owner = get_owner(session, caller=caller, owner_id=data.owner_id)
    lon, lat = _located(geocoder, data.address, data.location)
    agency = placed(session, caller=caller, lon=lon, lat=lat)
    site = Site(owner_id=owner.id, agency_id=agency.id, kind=data.kind, address_enc=cipher.encrypt(data.address),
                location=geo.point(lon, lat))
    session.add(site)
    events.site_changed(session, site)
    session.commit()
    return site


def get_site(session: Session, *, caller: Caller, site_id: uuid.UUID) -> Site:
    """A site the caller owns or manages."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound("no such site")
    try:
        get_owner(session, caller=caller, owner_id=site.owner_id)
    except NotFound:
        raise NotFound("no such site") from None
    return site


def list_sites(session: Session, *, caller: Caller, owner_id: uuid.UUID | None = None) -> list[Site]:
    """The sites of one owner (the caller, or one the advocate manages)."""
    if caller.role is not Role.OWNER and owner_id is None:
        raise InvalidInput("owner_id is required when listing an owner's sites on their behalf", field="owner_id")
    owner = get_owner(session, caller=caller, owner_id=owner_id)
    return list(session.scalars(select(Site).where(Site.owner_id == owner.id).order_by(Site.created_at)))


def update_site(session: Session, *, caller: Caller, cipher: ContactCipher, geocoder: Geocoder,
                site_id: uuid.UUID, data: s.SiteUpdate) -> Site:
    """Change a site; a moved site may change agency."""
    site = get_site(session, caller=caller, site_id=site_id)
    # A new pin wins; a new address alone moves the site only when the geocoder can place it.
    moved = (data.location.lon, data.location.lat) if data.location else None
    if moved is None and data.address is not None:
        moved = geocoder.locate(data.address)
    # Resolve the agency first: a refused move must leave the site untouched.
    agency = placed(session, caller=caller, lon=moved[0], lat=moved[1]) if moved is not None else None
    if data.kind is not None:
        site.kind = data.kind
    if data.address is not None:
        site.address_enc = cipher.encrypt(data.address)  # type: ignore[assignment]
    if moved is not None and agency is not None:
        site.agency_id = agency.id
        site.location = geo.point(*moved)
    events.site_changed(session, site)
    devices.site_moved(session, site)
    session.commit()
    return site


def delete_site(session: Session, *, caller: Caller, broker: BrokerAccounts, site_id: uuid.UUID) -> None:
    """Remove a site, its cameras and its devices."""
    site = get_site(session, caller=caller, site_id=site_id)
    devices.release_sites(session, caller=caller, broker=broker, sites=[site])
    for camera in session.scalars(select(Camera).where(Camera.site_id == site.id)):
        _remove_camera(session, camera)
    events.site_changed(session, site, deleted=True)
    session.delete(site)
    session.commit()


def create_camera(session: Session, *, caller: Caller, site_id: uuid.UUID, data: s.CameraFields) -> Camera:
    """Add a camera to a site; its point defaults to the site's and decides its agency."""
    site = get_site(session, caller=caller, site_id=site_id)
    camera = add_camera(session, caller=caller, site=site, data=data)
    session.commit()
    return camera


def add_camera(session: Session, *, caller: Caller | None, site: Site, data: s.CameraFields) -> Camera:
    """Add a camera to a site inside the caller's transaction (no commit)."""
    lon, lat = (data.location.lon, data.location.lat) if data.location else geo.lon_lat(site.location)
    agency = placed(session, caller=caller, lon=lon, lat=lat)
    fields: dict[str, Any] = data.model_dump(exclude={"location"})
    camera = Camera(site_id=site.id, owner_id=site.owner_id, agency_id=agency.id, location=geo.point(lon, lat),
                    **fields)
    session.add(camera)
    devices.serve_camera(session, camera)
    session.flush()
    record_camera_change(session, agency_id=agency.id, registered=1, core=int(camera.core_enabled))
    events.camera_changed(session, camera)
    return camera


def get_camera(session: Session, *, caller: Caller, camera_id: uuid.UUID) -> Camera:
    """A camera the caller owns or manages."""
    camera = session.get(Camera, camera_id)
    if camera is None:
        raise NotFound("no such camera")
    get_site(session, caller=caller, site_id=camera.site_id)
    return camera


def list_cameras(session: Session, *, caller: Caller, site_id: uuid.UUID) -> list[Camera]:
    """The cameras of one site."""
    site = get_site(session, caller=caller, site_id=site_id)
    return list(session.scalars(select(Camera).where(Camera.site_id == site.id).order_by(Camera.created_at)))


def update_camera(session: Session, *, caller: Caller, camera_id: uuid.UUID, data: s.CameraUpdate) -> Camera:
    """Change a camera; the ledger follows moves between agencies and CORE changes."""
    camera = get_camera(session, caller=caller, camera_id=camera_id)
    before_agency, before_core = camera.agency_id, camera.core_enabled
    changes = data.model_dump(exclude_unset=True, exclude={"location"})
    for key, value in changes.items():  # refuse before changing anything, so nothing is half-applied
        if value is None:
            raise InvalidInput(f"{key} cannot be null", field=key)
    new_agency = (placed(session, caller=caller, lon=data.location.lon, lat=data.location.lat)
                  if data.location else None)
    for key, value in changes.items():
        setattr(camera, key, value)
    if data.location is not None and new_agency is not None:
        camera.agency_id = new_agency.id
        camera.location = geo.point(data.location.lon, data.location.lat)
    if camera.agency_id != before_agency:
        record_camera_change(session, agency_id=before_agency, registered=-1, core=-int(before_core))
        record_camera_change(session, agency_id=camera.agency_id, registered=1, core=int(camera.core_enabled))
    elif camera.core_enabled != before_core:
        record_camera_change(session, agency_id=camera.agency_id, registered=0,
                             core=1 if camera.core_enabled else -1)
    devices.serve_camera(session, camera)
    events.camera_changed(session, camera)
    session.commit()
    return camera


def _remove_camera(session: Session, camera: Camera) -> None:
    record_camera_change(session, agency_id=camera.agency_id, registered=-1, core=-int(camera.core_enabled))
    events.camera_changed(session, camera, deleted=True)
    session.delete(camera)


def delete_camera(session: Session, *, caller: Caller, camera_id: uuid.UUID) -> None:
    """Remove one camera."""
    _remove_camera(session, get_camera(session, caller=caller, camera_id=camera_id))
    session.commit()
