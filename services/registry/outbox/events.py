"""The registry's contract events (CameraChanged, SiteChanged, DeviceChanged), written to the outbox."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.registry import geo
from services.registry.consent.models import ConsentGrant
from services.registry.database import utcnow
from services.registry.devices.models import Device
from services.registry.outbox.service import emit
from services.registry.owners.models import Camera, Site


def _id(value: uuid.UUID | None) -> str:
    return str(value) if value else ""


def sharing_mode(mode: str) -> str:
    """The contract enum's name for a registry sharing mode ("live_on_alert" -> SHARING_MODE_LIVE_ON_ALERT)."""
    return f"SHARING_MODE_{mode.upper()}"


# A grant that ended longer ago than this is left out of the camera's events; receivers forget it.
GRANT_GRACE = timedelta(hours=1)


def camera_grants(session: Session, camera_id: uuid.UUID) -> list[pb.ConsentGrant]:
    """The camera's grants receivers must know: unexpired ones (revoked too, so they see it) and recent ones."""
    rows = session.scalars(select(ConsentGrant).where(ConsentGrant.camera_id == camera_id,
                                                      ConsentGrant.expires_at > utcnow() - GRANT_GRACE)
                           .order_by(ConsentGrant.created_at, ConsentGrant.id))
    return [pb.ConsentGrant(grant_id=str(g.id), starts_at=wire.timestamp(g.starts_at),
                            expires_at=wire.timestamp(g.expires_at), revoked=g.revoked_at is not None,
                            agency_id=str(g.agency_id)) for g in rows]


def camera_changed(session: Session, camera: Camera, *, deleted: bool = False) -> int:
    """Announce a camera's new state (or its deletion); returns the event's version."""
    session.flush()
    lon, lat = geo.lon_lat(camera.location)
    message = pb.CameraChanged(
        camera_id=str(camera.id), site_id=str(camera.site_id), agency_id=str(camera.agency_id),
        device_id="" if deleted else _id(camera.device_id), sharing_mode=sharing_mode(camera.sharing_mode),
        core_enabled=camera.core_enabled, lon=lon, lat=lat, label=camera.label, deleted=deleted,
        grants=[] if deleted else camera_grants(session, camera.id), changed_at=wire.timestamp(utcnow()))
    version = emit(session, topic=topics.registry_camera(str(camera.id)), message=message)
    if camera.device_id is not None:
        policy_update(session, camera, deleted=deleted)
    return version


def policy_update(session: Session, camera: Camera, *, deleted: bool = False) -> int:
    """Tell the camera's box its new sharing mode and grants; the box enforces them (the owner's last gate)."""
    session.flush()
    mode = "registry_only" if deleted or not camera.core_enabled else camera.sharing_mode
    update = pb.PolicyUpdate(camera_id=str(camera.id), sharing_mode=sharing_mode(mode),
                             grants=[] if deleted else camera_grants(session, camera.id))
    command = pb.DeviceCommand(command_id=f"policy-{camera.id}-{uuid.uuid4().hex[:8]}",
                               issued_at=wire.timestamp(utcnow()), policy_update=update)
    return emit(session, topic=topics.device_commands(str(camera.device_id)), message=command,
                versioned=command.policy_update)


def site_changed(session: Session, site: Site, *, deleted: bool = False) -> int:
    """Announce a site's new state (or its deletion); returns the event's version."""
    session.flush()
    lon, lat = geo.lon_lat(site.location)
    message = pb.SiteChanged(site_id=str(site.id), owner_id=str(site.owner_id), agency_id=str(site.agency_id),
                             lon=lon, lat=lat, deleted=deleted, changed_at=wire.timestamp(utcnow()))
    return emit(session, topic=topics.registry_site(str(site.id)), message=message)


def device_changed(session: Session, device: Device, site: Site) -> int:
    """Announce a box's site, agency and cameras, or its revocation; returns the event's version."""
    session.flush()
    lon, lat = geo.lon_lat(site.location)
    revoked = device.revoked_at is not None
    cameras = [] if revoked else session.scalars(
        select(Camera.id).where(Camera.device_id == device.id).order_by(Camera.created_at, Camera.id)).all()
    message = pb.DeviceChanged(device_id=str(device.id), site_id=str(device.site_id), agency_id=str(device.agency_id),
                               lon=lon, lat=lat, camera_ids=[str(c) for c in cameras], revoked=revoked,
                               changed_at=wire.timestamp(utcnow()))
    return emit(session, topic=topics.registry_device(str(device.id)), message=message)
