"""Seed the demo: two agencies with a sharing agreement, one of each staff role, owners and cameras.

Points are on real streets of downtown Clermont, FL; names and phone numbers are invented.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Role, principal_from_claims
from services.registry.accounts import service as accounts
from services.registry.accounts.models import Account
from services.registry.accounts.schemas import AccountCreate
from services.registry.agencies import service as agencies
from services.registry.agencies.models import Agency
from services.registry.agencies.schemas import AgencyCreate
from services.registry.context import Caller
from services.registry.deps import Registry
from services.registry.owners import schemas as s
from services.registry.owners import service as owners

HERE = Path(__file__).parent
STAFF = [("clermont", "sup.clermont", Role.SUPERVISOR), ("clermont", "inv.clermont", Role.INVESTIGATOR),
         ("clermont", "dispatch.clermont", Role.DISPATCHER), ("clermont", "audit.clermont", Role.AUDITOR),
         ("clermont", "advocate.clermont", Role.ADVOCATE), ("groveland", "inv.groveland", Role.INVESTIGATOR)]
# (owner, kind, address, lon, lat, [(label, bearing, fov, range, retention, mode, core)])
SITES = [
    ("Dana Whitfield", "residential", "742 W Montrose St, Clermont, FL", -81.7745, 28.5567,
     [("Porch", 180, 110, 25, 14, "on_request", False), ("Driveway", 270, 90, 30, 14, "live_on_alert", True)]),
    ("Lakeside Books LLC", "commercial", "698 W Montrose St, Clermont, FL", -81.7731, 28.5566,
     [("Storefront", 0, 100, 40, 30, "live_on_alert", True), ("Back alley", 180, 80, 20, 30, "on_request", True)]),
    ("Marco Ruiz", "residential", "8th St & Minnehaha Ave, Clermont, FL", -81.7716, 28.5588,
     [("Doorbell", 90, 160, 15, 7, "registry_only", False)]),
    ("Citrus Tower Diner", "commercial", "Minneola Ave & 7th St, Clermont, FL", -81.7725, 28.5547,
     [("Parking lot", 225, 120, 60, 45, "live_on_consent", True)]),
]


def _owner_caller(owner_id: object, account_id: object) -> Caller:
    claims = {"sub": str(account_id), "role": "owner", "owner": str(owner_id), "auth_time": 0}
    return Caller(principal_from_claims(claims, staff_session_max_s=0))


def seed(session: Session, *, registry: Registry, password: str) -> Iterator[str]:
    """Create what is missing of the demo and describe it, line by line."""
    for slug, name in (("clermont", "Clermont Police Department"), ("groveland", "Groveland Police Department")):
        if session.scalar(select(Agency.id).where(Agency.slug == slug)) is None:
            geometry = json.loads((HERE / f"{slug}.geojson").read_text())["geometry"]
            agencies.create_agency(session, caller=None, data=AgencyCreate(slug=slug, name=name, jurisdiction=geometry))
    clermont = agencies.agency_by_slug(session, slug="clermont")
    groveland = agencies.agency_by_slug(session, slug="groveland")
    if not agencies.list_agreements(session, agency_id=groveland.id):
        agencies.create_agreement(session, caller=None, grantor_id=groveland.id, grantee_id=clermont.id)
    for slug, username, role in STAFF:
        if session.scalar(select(Account.id).where(Account.login_digest == registry.kit.cipher.blind_index(username))):
            continue
        agency = clermont if slug == "clermont" else groveland
        accounts.create_staff(session, kit=registry.kit, caller=None, agency_id=agency.id,
                              data=AccountCreate(username=username, password=password, role=role))
    yield from _seed_owners(session, registry=registry, password=password)
    yield f"staff (password '{password}', TOTP code: `make totp USER=<name>`): " + ", ".join(u for _, u, _ in STAFF)


def _seed_owners(session: Session, *, registry: Registry, password: str) -> Iterator[str]:
    email = "owner@example.org"
    if session.scalar(select(Account.id).where(Account.login_digest == registry.kit.cipher.blind_index(email))):
        yield f"owner sign-in: {email} / '{password}' (exists)"
        return
    owner = owners.signup(session, kit=registry.kit, data=s.OwnerSignup(
        email=email, password=password, name=SITES[0][0], phone="+1 352 555 0100"), source=None)
    for index, (name, kind, address, lon, lat, cameras) in enumerate(SITES):
        caller = _owner_caller(owner.id, owner.account_id)
        if index > 0:  # the others were registered by the advocate during a phone campaign
            owner = owners.signup(session, kit=registry.kit, data=s.OwnerSignup(
                email=f"owner{index}@example.org", password=password, name=name, phone=f"+1 352 555 01{index:02d}"),
                source=None)
            caller = _owner_caller(owner.id, owner.account_id)
        site = owners.create_site(session, caller=caller, cipher=registry.kit.cipher, geocoder=registry.geocoder,
                                  data=s.SiteCreate(kind=kind, address=address,
                                                    location=s.LonLat(lon=lon, lat=lat)))
        for label, bearing, fov, rng, keep, mode, core in cameras:
            owners.create_camera(session, caller=caller, site_id=site.id, data=s.CameraFields(
                label=label, bearing_deg=bearing, fov_deg=fov, range_m=rng, retention_days=keep,
                sharing_mode=mode, core_enabled=core))
    yield f"owner sign-in: {email} / '{password}' (and owner1..owner3@example.org)"
