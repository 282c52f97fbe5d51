"""What changes to sites and cameras do to the CORE boxes serving them (used by owners.service)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.registry.audit import service as audit
from services.registry.context import Caller
from services.registry.database import utcnow
from services.registry.devices.broker import BrokerAccounts
from services.registry.devices.models import Device
from services.registry.outbox import events
from services.registry.owners.models import Camera, Site


def active_devices(session: Session, site_ids: Iterable[uuid.UUID]) -> list[Device]:
    """The site's boxes that are not revoked, newest first."""
    ids = list(site_ids)
    if not ids:
        return []
    query = (select(Device).where(Device.site_id.in_(ids), Device.revoked_at.is_(None))
             .order_by(Device.enrolled_at.desc(), Device.id))
    return list(session.scalars(query))


def serve_camera(session: Session, camera: Camera) -> None:
    """A CORE-enabled camera is served by its site's newest box; any other camera by none."""
    devices = active_devices(session, [camera.site_id]) if camera.core_enabled else []
    camera.device_id = devices[0].id if devices else None


def revoke(session: Session, *, caller: Caller | None, broker: BrokerAccounts, device: Device, site: Site) -> None:
    """Revoke a box: stamp it, free its cameras, announce it, audit it and delete its broker account."""
    device.revoked_at = utcnow()
    session.execute(update(Camera).where(Camera.device_id == device.id).values(device_id=None)
                    .execution_options(synchronize_session="fetch"))
    events.device_changed(session, device, site)
    audit.record(session, caller=caller, action="device.revoked", object_type="device", object_id=device.id,
                 agency_id=device.agency_id, subject_owner_id=device.owner_id)
    # Last, inside the transaction: if the broker refuses, nothing is committed and the box stays enrolled.
    broker.remove_device(str(device.id))


def release_sites(session: Session, *, caller: Caller | None, broker: BrokerAccounts, sites: Iterable[Site]) -> None:
    """Revoke every box of sites about to be deleted."""
    for site in sites:
        for device in active_devices(session, [site.id]):
            revoke(session, caller=caller, broker=broker, device=device, site=site)


def site_moved(session: Session, site: Site) -> None:
    """A site's boxes follow it to its (possibly new) agency and announce their new position."""
    for device in active_devices(session, [site.id]):
        device.agency_id = site.agency_id
        events.device_changed(session, device, site)
