"""Small typed builders for test data, going through the real service functions."""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy.orm import Session

from services.common.auth import Principal, Role
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
from services.registry.owners.models import Camera, Owner, Site
from services.registry.requests.models import FootageRequest, FootageRequestCamera

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)

# Two neighbouring test jurisdictions (around Clermont, FL): west is "lakeside", east is "hillcrest".
WEST = (-81.80, 28.50, -81.75, 28.60)
EAST = (-81.75, 28.50, -81.70, 28.60)


# A point inside WEST (downtown Clermont), and metres per degree of latitude for offsets from it.
LON, LAT = -81.7745, 28.5567
M_PER_DEG_LAT = 111_195.0


def offset(metres_north: float = 0, metres_east: float = 0, *, lon: float = LON,
           lat: float = LAT) -> tuple[float, float]:
    """A point some metres north/east of (lon, lat)."""
    return (lon + metres_east / (M_PER_DEG_LAT * math.cos(math.radians(lat))),
            lat + metres_north / M_PER_DEG_LAT)


def box(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> dict[str, object]:
    """A GeoJSON rectangle."""
    ring = [[min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat], [min_lon, max_lat], [min_lon, min_lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def make_agency(db: Session, *, bounds: tuple[float, float, float, float] = WEST, slug: str | None = None) -> Agency:
    """An agency with a rectangular jurisdiction."""
    slug = slug or f"agency-{next(_seq)}"
    return agencies.create_agency(db, caller=None, data=AgencyCreate(slug=slug, name=slug.title(),
                                                                    jurisdiction=box(*bounds)))


@dataclass
class Person:
    """An account plus a valid bearer token for it."""

    account: Account
    token: str
    owner_id: uuid.UUID | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header."""
        return {"Authorization": f"Bearer {self.token}"}

    def caller(self, registry: Registry) -> Caller:
        """The principal the token stands for, as a service-layer caller."""
        principal: Principal = registry.verifier.verify(self.token)
        return Caller(principal, "127.0.0.1")


def token_for(db: Session, registry: Registry, account: Account) -> str:
    """A real signed access token, as a successful login would return."""
    return accounts.issue_tokens(db, kit=registry.kit, account=account).access_token


def make_staff(db: Session, registry: Registry, agency: Agency, role: Role, *, scopes: list[str] | None = None,
               username: str | None = None) -> Person:
    """A staff account (or integrator client) of the agency, with a token."""
    data = AccountCreate(username=username or f"{role}-{next(_seq)}", password=PASSWORD, role=role, scopes=scopes or [])
    account, _ = accounts.create_staff(db, kit=registry.kit, caller=None, agency_id=agency.id, data=data)
    return Person(account, token_for(db, registry, account))


def totp_now(registry: Registry, account: Account) -> str:
    """The current TOTP code of a staff account."""
    secret = registry.kit.cipher.decrypt(account.totp_secret_enc)
    assert secret
    return pyotp.TOTP(secret).now()


def make_owner(db: Session, registry: Registry, *, email: str | None = None, name: str = "Pat Example",
               phone: str | None = "+1 352 555 0199") -> Person:
    """A self-registered owner, with a token."""
    email = email or f"owner{next(_seq)}@example.org"
    owner = owners.signup(db, kit=registry.kit, data=s.OwnerSignup(email=email, password=PASSWORD, name=name,
                                                                   phone=phone), source=None)
    account = db.get(Account, owner.account_id)
    assert account is not None
    return Person(account, token_for(db, registry, account), owner.id)


def make_site(db: Session, registry: Registry, owner: Person, *, lon: float = -81.7745, lat: float = 28.5567,
              address: str = "742 W Montrose St, Clermont, FL", kind: str = "residential") -> Site:
    """A site of the owner at a point."""
    data = s.SiteCreate(kind=s.SiteKind(kind), address=address, location=s.LonLat(lon=lon, lat=lat))
    return owners.create_site(db, caller=owner.caller(registry), cipher=registry.kit.cipher,
                              geocoder=registry.geocoder, data=data)


def make_camera(db: Session, registry: Registry, owner: Person, site: Site, *, lon: float | None = None,
                lat: float | None = None, bearing: float = 0, fov: float = 90, range_m: float = 50,
                retention_days: int = 30, mode: str = "on_request", core: bool = False, label: str = "Cam") -> Camera:
    """A camera on the site (at the site's point unless lon/lat are given)."""
    location = s.LonLat(lon=lon, lat=lat) if lon is not None and lat is not None else None
    return owners.create_camera(db, caller=owner.caller(registry), site_id=site.id, data=s.CameraFields(
        label=label, location=location, bearing_deg=bearing, fov_deg=fov, range_m=range_m,
        retention_days=retention_days, sharing_mode=s.SharingMode(mode), core_enabled=core))


def owner_row(db: Session, person: Person) -> Owner:
    """The owner row behind an owner's account."""
    owner = db.get(Owner, person.owner_id)
    assert owner is not None
    return owner


def make_request_row(db: Session, agency: Agency, camera: Camera, *, case_number: str = "2026-000123",
                     legal_basis: str = "owner_consent", state: str = "pending", hours_ago: float = 6.0,
                     created_by: Person | None = None) -> FootageRequest:
    """A footage request stored directly (for tests of evidence and reports that need one, not of requesting)."""
    now = datetime.now(UTC)
    request = FootageRequest(agency_id=agency.id, owner_id=camera.owner_id, case_number=case_number,
                             legal_basis=legal_basis, window_start_at=now - timedelta(hours=hours_ago),
                             window_end_at=now - timedelta(hours=hours_ago - 1), message="Please share footage.",
                             due_at=now + timedelta(days=7), state=state,
                             created_by=created_by.account.id if created_by else None)
    db.add(request)
    db.flush()
    db.add(FootageRequestCamera(request_id=request.id, camera_id=camera.id, camera_label=camera.label))
    db.flush()
    return request
