"""Agencies, which agency serves a point, and sharing agreements."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, Uuid, bindparam, func, or_, select, union
from sqlalchemy.orm import Session

from services.common.errors import Conflict, InvalidInput, NotFound
from services.registry import geo
from services.registry.agencies.models import Agency, SharingAgreement
from services.registry.agencies.schemas import AgencyCreate
from services.registry.audit import service as audit
from services.registry.context import Caller


def create_agency(session: Session, *, caller: Caller | None, data: AgencyCreate) -> Agency:
    """Register an agency with its jurisdiction."""
    shape = geo.parse_geojson(data.jurisdiction, field="jurisdiction", kinds=("Polygon", "MultiPolygon"))
    if session.scalar(select(Agency.id).where(Agency.slug == data.slug)):
        raise Conflict(f"agency '{data.slug}' exists", field="slug")
    agency = Agency(slug=data.slug, name=data.name, jurisdiction=geo.to_db(geo.as_multipolygon(shape)))
    session.add(agency)
    session.flush()
    audit.record(session, caller=caller, action="agency.created", object_type="agency", object_id=agency.id,
                 agency_id=agency.id)
    session.commit()
    return agency


def list_agencies(session: Session) -> list[Agency]:
    """Every participating agency, by name."""
    return list(session.scalars(select(Agency).order_by(Agency.name)))


def get_agency(session: Session, *, agency_id: uuid.UUID) -> Agency:
    """One agency, or NotFound."""
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("no such agency")
    return agency


def agency_by_slug(session: Session, *, slug: str) -> Agency:
    """One agency by its slug, or NotFound."""
    agency = session.scalar(select(Agency).where(Agency.slug == slug))
    if agency is None:
        raise NotFound(f"no agency '{slug}'")
    return agency


def agency_for_point(session: Session, *, lon: float, lat: float) -> Agency:
    """The agency whose jurisdiction holds the point; where two overlap, the smaller (more local) one."""
    dialect = session.get_bind().dialect.name
    pt = geo.parse_geojson({"type": "Point", "coordinates": [lon, lat]}, field="location", kinds=("Point",))
    agency = session.scalar(
        select(Agency).where(geo.intersects(dialect, Agency.jurisdiction, geo.geometry_param(dialect, "point")))
        .order_by(func.ST_Area(Agency.jurisdiction), Agency.slug).limit(1), {"point": pt.wkt}
    )
    if agency is None:
        raise InvalidInput("no participating agency serves this location", field="location")
    return agency


def searchable_agencies(agency_id: uuid.UUID | None = None) -> Select[tuple[uuid.UUID]]:
    """A subquery of an agency plus every agency sharing its cameras with it (`agency_id` may be bound later)."""
    agency = bindparam("agency_id", agency_id, type_=Uuid())
    own = select(agency.label("agency_id"))
    grantors = select(SharingAgreement.grantor_agency_id).where(SharingAgreement.grantee_agency_id == agency)
    return union(own, grantors)  # type: ignore[return-value]


def searchable_agency_ids(session: Session, *, agency_id: uuid.UUID) -> list[uuid.UUID]:
    """The agencies whose cameras the caller's agency may search, as a list."""
    return list(session.scalars(searchable_agencies(agency_id)))


def create_agreement(session: Session, *, caller: Caller | None, grantor_id: uuid.UUID,
                     grantee_id: uuid.UUID) -> SharingAgreement:
    """The grantor shares its cameras with the grantee's investigators."""
    if grantor_id == grantee_id:
        raise InvalidInput("an agency cannot share with itself", field="grantee_agency_id")
    get_agency(session, agency_id=grantee_id)
    exists = session.scalar(select(SharingAgreement.id).where(
        SharingAgreement.grantor_agency_id == grantor_id, SharingAgreement.grantee_agency_id == grantee_id))
    if exists:
        raise Conflict("this agreement exists already")
    agreement = SharingAgreement(grantor_agency_id=grantor_id, grantee_agency_id=grantee_id)
    session.add(agreement)
    session.flush()
    audit.record(session, caller=caller, action="agreement.created", object_type="sharing_agreement",
                 object_id=agreement.id, agency_id=grantor_id, detail={"grantee": str(grantee_id)})
    session.commit()
    return agreement


def list_agreements(session: Session, *, agency_id: uuid.UUID) -> list[SharingAgreement]:
    """Agreements the agency grants or receives."""
    return list(session.scalars(select(SharingAgreement).where(or_(
        SharingAgreement.grantor_agency_id == agency_id, SharingAgreement.grantee_agency_id == agency_id))))


def revoke_agreement(session: Session, *, caller: Caller, agreement_id: uuid.UUID) -> None:
    """The grantor ends an agreement."""
    agreement = session.get(SharingAgreement, agreement_id)
    if agreement is None or agreement.grantor_agency_id != caller.principal.agency_id:
        raise NotFound("no such agreement granted by your agency")
    session.delete(agreement)
    audit.record(session, caller=caller, action="agreement.revoked", object_type="sharing_agreement",
                 object_id=agreement_id)
    session.commit()
