"""Enrolment codes, enrolling a CORE box with one, listing and revoking boxes."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.common.errors import Conflict, Forbidden, NotFound, RateLimited
from services.registry.audit import service as audit
from services.registry.context import Caller
from services.registry.crypto import ContactCipher
from services.registry.database import utcnow
from services.registry.devices import links
from services.registry.devices import schemas as s
from services.registry.devices.broker import BrokerAccounts
from services.registry.devices.models import Device, EnrolmentAttempt, EnrolmentCode
from services.registry.outbox import events
from services.registry.owners import service as owners
from services.registry.owners.models import Camera, Site
from services.registry.settings import BrokerSettings, DeviceSettings

MANAGERS = (Role.ADVOCATE, Role.SUPERVISOR)


def new_code() -> str:
    """Twelve random characters of the unambiguous alphabet, as XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(s.CODE_ALPHABET) for _ in range(s.CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, s.CODE_LENGTH, 4))


def normalise(code: str) -> str | None:
    """The code's twelve characters (dashes, spaces and case ignored), or None if it cannot be one."""
    raw = "".join(code.split()).replace("-", "").upper()
    if len(raw) != s.CODE_LENGTH or any(c not in s.CODE_ALPHABET for c in raw):
        return None
    return raw


def create_code(session: Session, *, caller: Caller, cipher: ContactCipher, settings: DeviceSettings,
                site_id: uuid.UUID) -> s.EnrolmentCodeRead:
    """A one-time code for a site the caller owns or manages; only its keyed digest is stored."""
    site = owners.get_site(session, caller=caller, site_id=site_id)
    code = new_code()
    row = EnrolmentCode(site_id=site.id, code_digest=cipher.blind_index(code.replace("-", "")),
                        created_by=caller.principal.account_id,
                        expires_at=utcnow() + timedelta(seconds=settings.code_ttl_s))
    session.add(row)
    session.flush()
    audit.record(session, caller=caller, action="enrolment_code.created", object_type="site", object_id=site.id,
                 agency_id=site.agency_id, subject_owner_id=site.owner_id)
    session.commit()
    return s.EnrolmentCodeRead(code=code, expires_at=row.expires_at, site_id=site.id)


def _check_source(session: Session, source: str, settings: DeviceSettings) -> None:
    since = utcnow() - timedelta(seconds=settings.window_s)
    failures = session.scalar(select(func.count()).where(EnrolmentAttempt.source == source,
                                                         EnrolmentAttempt.attempted_at > since)) or 0
    if failures >= settings.failures_per_window:
        raise RateLimited("too many wrong enrolment codes from this address; try again later")


def _consume(session: Session, digest: str) -> EnrolmentCode:
    """Mark the code used in one statement (a concurrent second use finds it used), or say why not."""
    now = utcnow()
    used = session.execute(update(EnrolmentCode)
                           .where(EnrolmentCode.code_digest == digest, EnrolmentCode.used_at.is_(None),
                                  EnrolmentCode.expires_at > now)
                           .values(used_at=now).returning(EnrolmentCode.id)
                           .execution_options(synchronize_session=False)).scalar_one_or_none()
    code = session.scalar(select(EnrolmentCode).where(EnrolmentCode.code_digest == digest)
                          .execution_options(populate_existing=True))
    if used is not None and code is not None:
        return code
    if code is None:
        raise NotFound("no such enrolment code", field="code", code="invalid_code")
    if code.used_at is not None:
        raise Conflict("this enrolment code was already used", field="code", code="code_used")
    raise Conflict("this enrolment code has expired; ask for a new one", field="code", code="code_expired")


def _claim_code(session: Session, *, cipher: ContactCipher, settings: DeviceSettings, code: str,
                source: str) -> EnrolmentCode:
    _check_source(session, source, settings)
    raw = normalise(code)
    try:
        if raw is None:
            raise NotFound("no such enrolment code", field="code", code="invalid_code")
        return _consume(session, cipher.blind_index(raw))
    except (NotFound, Conflict):
        session.add(EnrolmentAttempt(source=source))
        session.commit()
        raise


def enrol(session: Session, *, cipher: ContactCipher, broker: BrokerAccounts, broker_settings: BrokerSettings,
          settings: DeviceSettings, data: s.EnrolRequest, source: str | None) -> s.EnrolResponse:
    """Enrol a box with a one-time code: its identity, its broker account and the site's CORE cameras."""
    code = _claim_code(session, cipher=cipher, settings=settings, code=data.code, source=source or "unknown")
    site = session.get(Site, code.site_id)
    if site is None:  # the site went between the two statements
        raise NotFound("no such enrolment code", field="code", code="invalid_code")
    device = Device(site_id=site.id, owner_id=site.owner_id, agency_id=site.agency_id, firmware=data.firmware)
    session.add(device)
    session.flush()
    cameras = list(session.scalars(select(Camera).where(Camera.site_id == site.id, Camera.core_enabled.is_(True))
                                   .order_by(Camera.created_at, Camera.id)))
    for camera in cameras:
        camera.device_id = device.id
        events.camera_changed(session, camera)
    events.device_changed(session, device, site)
    audit.record(session, caller=None, action="device.enrolled", object_type="device", object_id=device.id,
                 agency_id=site.agency_id, subject_owner_id=site.owner_id,
                 detail={"site_id": str(site.id), "firmware": data.firmware, "source": source})
    password = secrets.token_urlsafe(32)
    broker.add_device(str(device.id), password)
    try:
        session.commit()
    except Exception:
        broker.remove_device(str(device.id))  # no orphaned account for a box the registry does not know
        raise
    mqtt = s.MqttCredentials(host=broker_settings.host, port=broker_settings.port, tls=broker_settings.tls,
                             username=str(device.id), password=password, client_id=str(device.id))
    return s.EnrolResponse(device_id=device.id, site_id=site.id, mqtt=mqtt, cameras=[
        s.EnrolledCamera(camera_id=c.id, label=c.label, sharing_mode=s.SharingMode(c.sharing_mode)) for c in cameras])


def _visible(caller: Caller, device: Device) -> bool:
    principal = caller.principal
    if principal.role is Role.OWNER:
        return principal.owner_id is not None and device.owner_id == principal.owner_id
    return principal.role in MANAGERS and device.agency_id == principal.agency_id


def list_devices(session: Session, *, caller: Caller) -> list[Device]:
    """An owner's boxes, or every box of the advocate's or supervisor's agency."""
    principal = caller.principal
    if principal.role is Role.OWNER:
        where = Device.owner_id == principal.owner_id
    elif principal.role in MANAGERS:
        where = Device.agency_id == principal.agency_id
    else:
        raise Forbidden(f"role '{principal.role}' may not list devices")
    return list(session.scalars(select(Device).where(where).order_by(Device.enrolled_at, Device.id)))


def get_device(session: Session, *, caller: Caller, device_id: uuid.UUID) -> Device:
    """One box the caller owns, or one of their agency."""
    device = session.get(Device, device_id)
    if device is None or not _visible(caller, device):
        raise NotFound("no such device")
    return device


def revoke_device(session: Session, *, caller: Caller, broker: BrokerAccounts, device_id: uuid.UUID) -> Device:
    """The site's owner or a supervisor of its agency revokes a box: its account goes, its cameras are freed."""
    device = get_device(session, caller=caller, device_id=device_id)
    if caller.role not in (Role.OWNER, Role.SUPERVISOR):
        raise Forbidden("only the owner or a supervisor may revoke a device")
    if device.revoked_at is not None:
        raise Conflict("this device is already revoked", code="already_revoked")
    site = session.get(Site, device.site_id)
    assert site is not None  # the device row cascades with its site
    links.revoke(session, caller=caller, broker=broker, device=device, site=site)
    session.commit()
    return device


def device_read(session: Session, device: Device) -> s.DeviceRead:
    """A device with the cameras it serves."""
    cameras = session.scalars(select(Camera.id).where(Camera.device_id == device.id)
                              .order_by(Camera.created_at, Camera.id)).all()
    return s.DeviceRead(id=device.id, site_id=device.site_id, owner_id=device.owner_id, agency_id=device.agency_id,
                        firmware=device.firmware, enrolled_at=device.enrolled_at, revoked_at=device.revoked_at,
                        last_seen_at=device.last_seen_at, camera_ids=list(cameras))
