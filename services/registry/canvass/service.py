"""The canvass report: the cameras to ask about near an incident, with who to ask. Contact data, so audited."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Role, require_role
from services.common.errors import InvalidInput
from services.registry.audit import service as audit
from services.registry.canvass.schemas import CanvassQuery, CanvassReport, CanvassRow, ReportFormat
from services.registry.context import Caller
from services.registry.crypto import ContactCipher
from services.registry.database import utcnow
from services.registry.owners.models import Camera, Owner, Site
from services.registry.requests import access
from services.registry.requests.models import FootageRequest, FootageRequestCamera
from services.registry.search import service as search
from services.registry.search.schemas import CameraHit, Near
from services.registry.settings import SearchSettings

# Not integrators: the report holds owners' contacts, which only people with a case number see (ContactCaller).
CANVASS_ROLES = (Role.INVESTIGATOR, Role.SUPERVISOR)
# A report is printed and walked: past a few hundred doors it is no longer one canvass but several.
MAX_ROWS = 500
NO_REQUEST = "none"


def canvass_report(session: Session, *, caller: Caller, cipher: ContactCipher, query: CanvassQuery,
                   limits: SearchSettings, fmt: ReportFormat) -> CanvassReport:
    """Cameras within the radius, nearest first, with address, owner and this case's request state; audited."""
    require_role(caller.principal, *CANVASS_ROLES)
    agency_id = caller.principal.agency_id
    assert agency_id is not None  # every canvass role belongs to an agency
    if query.radius_m > limits.max_radius_m:
        raise InvalidInput(f"radius_m above the cap of {limits.max_radius_m:g} m", field="radius_m")
    now = utcnow()
    age_days = search.incident_age_days(query.at, now=now, field="at")
    hits = search.find_cameras(session, agency_id=agency_id, area=Near(lon=query.lon, lat=query.lat,
                                                                       radius_m=query.radius_m),
                               limits=limits, age_days=age_days, limit=MAX_ROWS + 1)
    if len(hits) > MAX_ROWS:
        raise InvalidInput(f"more than {MAX_ROWS} cameras within {query.radius_m:g} m: narrow radius_m",
                           field="radius_m")
    contacts = _contacts(session, cipher, [h.camera_id for h in hits])
    hits = [h for h in hits if h.camera_id in contacts]  # a camera deleted since the search is not listed
    states = _request_states(session, caller=caller, case_number=query.case_number,
                             camera_ids=[h.camera_id for h in hits])
    rows = [_row(hit, contacts[hit.camera_id], states.get(hit.camera_id, NO_REQUEST)) for hit in hits]
    _audit(session, caller=caller, query=query, fmt=fmt,
           owner_of={hit.camera_id: contacts[hit.camera_id]["owner_id"] for hit in hits})
    session.commit()
    return CanvassReport(case_number=query.case_number, reason=query.reason, lon=query.lon, lat=query.lat,
                         at=query.at, radius_m=query.radius_m, generated_at=now,
                         generated_by=caller.principal.account_id, rows=rows)


def _contacts(session: Session, cipher: ContactCipher, camera_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Address, site kind and owner of each camera, decrypted here and only here."""
    if not camera_ids:
        return {}
    stmt = (select(Camera.id, Site.kind, Site.address_enc, Owner.id.label("owner_id"), Owner.name_enc,
                   Owner.phone_enc)
            .join(Site, Site.id == Camera.site_id).join(Owner, Owner.id == Camera.owner_id)
            .where(Camera.id.in_(camera_ids)))
    return {
        r.id: {"site_kind": r.kind, "address": cipher.decrypt(r.address_enc) or "", "owner_id": r.owner_id,
               "owner_name": cipher.decrypt(r.name_enc) or "", "phone": cipher.decrypt(r.phone_enc)}
        for r in session.execute(stmt)
    }


def _request_states(session: Session, *, caller: Caller, case_number: str,
                    camera_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """State of the latest request of this case by the caller's agency for each camera (if the caller may see it)."""
    if not camera_ids:
        return {}
    stmt = (select(FootageRequestCamera.camera_id, FootageRequest)
            .join(FootageRequest, FootageRequest.id == FootageRequestCamera.request_id)
            .where(FootageRequestCamera.camera_id.in_(camera_ids), FootageRequest.case_number == case_number,
                   FootageRequest.agency_id == caller.principal.agency_id)
            .order_by(FootageRequest.created_at, FootageRequest.id))
    states: dict[uuid.UUID, str] = {}
    for camera_id, request in session.execute(stmt):  # oldest first: the latest one wins
        assert camera_id is not None  # the IN clause matched it
        if access.may_see(session, caller.principal, request):
            states[camera_id] = request.state
    return states


def _row(hit: CameraHit, contact: dict[str, Any], request_state: str) -> CanvassRow:
    return CanvassRow(camera_id=hit.camera_id, label=hit.label, address=contact["address"],
                      site_kind=contact["site_kind"], distance_m=hit.distance_m, bearing_deg=hit.bearing_deg,
                      covers_incident=hit.covers_incident, retention_days=hit.retention_days,
                      footage_likely_retained=hit.footage_likely_retained, sharing_mode=hit.sharing_mode,
                      core_enabled=hit.core_enabled, owner_name=contact["owner_name"], phone=contact["phone"],
                      request_state=request_state)


def _audit(session: Session, *, caller: Caller, query: CanvassQuery, fmt: ReportFormat,
           owner_of: dict[uuid.UUID, uuid.UUID]) -> None:
    """One event for the report, and one contact view per owner shown, so each owner's access feed lists it."""
    report = audit.record(session, caller=caller, action="canvass.report", object_type="area",
                          case_number=query.case_number, reason=query.reason,
                          detail={"cameras": len(owner_of), "format": fmt, "lon": query.lon, "lat": query.lat,
                                  "radius_m": query.radius_m, "at": query.at.isoformat()})
    cameras_of: dict[uuid.UUID, list[str]] = {}
    for camera_id, owner_id in owner_of.items():  # nearest first: each owner's first camera is their nearest
        cameras_of.setdefault(owner_id, []).append(str(camera_id))
    for owner_id, camera_ids in cameras_of.items():
        audit.record(session, caller=caller, action="contact.view", object_type="camera", object_id=camera_ids[0],
                     subject_owner_id=owner_id, case_number=query.case_number, reason=query.reason,
                     detail={"via": "canvass.report", "report_event": report.id, "cameras": camera_ids})
