"""Every role against every registry endpoint: who may call it, who may not, and that a refusal changes nothing.

The world of each case is one agency (WEST) with a self-registered owner who has a site and a camera in it; the
caller is that owner or a member of that agency, so an admitted role always reaches the object (foreign objects
are covered in test_permissions_cross.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.accounts.models import Account
from services.registry.agencies.models import Agency, SharingAgreement
from services.registry.app import create_app
from services.registry.audit.models import AuditEvent
from services.registry.deps import Registry
from services.registry.devices.models import Device
from services.registry.devices.schemas import EnrolRequest
from services.registry.devices.service import create_code, enrol
from services.registry.owners.models import Camera, Owner, Site
from tests import builders as b
from tests.integration.registry import test_canvass, test_consent, test_evidence_access, test_requests_permissions

ROLES = ("anonymous", "owner", "advocate", "investigator", "dispatcher", "supervisor", "auditor",
         "integrator:search", "integrator", "device")
TOKEN_ROLES = frozenset(ROLES) - {"anonymous"}
PUBLIC = frozenset(ROLES)
OWNER = frozenset({"owner"})
MANAGERS = frozenset({"advocate", "supervisor"})
SITE = OWNER | MANAGERS
SUPERVISOR = frozenset({"supervisor"})
AUDITORS = frozenset({"auditor", "supervisor"})
SEARCHERS = frozenset({"investigator", "supervisor", "integrator:search"})
CONTACT = frozenset({"investigator", "supervisor"})
THIRD = (-81.70, 28.50, -81.65, 28.60)  # a third jurisdiction east of EAST
CASE = "C-2026-100"
CSV = ("owner_name,owner_phone,address,site_kind,lon,lat,camera_label,bearing_deg,fov_deg,range_m,retention_days\n"
       "Brochure Person,+1 352 555 0100,12 Lake Ave,residential,-81.7760,28.5560,Porch,90,90,30,14\n")


@dataclass
class World:
    """One agency, its self-registered owner with a site and a camera, and lazily the extras some cases need."""

    db: Session
    registry: Registry
    agency: Agency
    owner: b.Person
    site: Site
    camera: Camera
    made: set[str] = field(default_factory=set)

    @cached_property
    def other_agency(self) -> Agency:
        self.made.add("other_agency")
        return b.make_agency(self.db, bounds=b.EAST)

    @cached_property
    def locked(self) -> Account:
        """A locked investigator of the agency (the target of unlock)."""
        self.made.add("locked")
        person = b.make_staff(self.db, self.registry, self.agency, Role.INVESTIGATOR)
        person.account.locked_at = person.account.created_at
        self.db.commit()
        return person.account

    @cached_property
    def agreement(self) -> SharingAgreement:
        """An agreement the agency grants to a third agency (the target of revoke)."""
        self.made.add("agreement")
        third = b.make_agency(self.db, bounds=THIRD)
        agreement = SharingAgreement(grantor_agency_id=self.agency.id, grantee_agency_id=third.id)
        self.db.add(agreement)
        self.db.commit()
        return agreement

    @cached_property
    def enrolment_code(self) -> str:
        """A fresh one-time code for the site (the credential of POST /v1/devices/enroll)."""
        self.made.add("enrolment_code")
        return create_code(self.db, caller=self.owner.caller(self.registry), cipher=self.registry.kit.cipher,
                           settings=self.registry.settings.devices, site_id=self.site.id).code

    @cached_property
    def device(self) -> Device:
        """A box enrolled at the site (the target of read and revoke)."""
        self.made.add("device")
        enrolled = enrol(self.db, cipher=self.registry.kit.cipher, broker=self.registry.broker,
                         broker_settings=self.registry.settings.broker, settings=self.registry.settings.devices,
                         data=EnrolRequest(code=self.enrolment_code, firmware="test"), source="test")
        device = self.db.get(Device, enrolled.device_id)
        assert device is not None
        return device

    def count(self, model: type[Any]) -> int:
        return self.db.scalar(select(func.count()).select_from(model)) or 0


def device_token(registry: Registry, agency: Agency) -> str:
    """A genuine registry token for a CORE device: a role the registry API admits nowhere."""
    claims = {"sub": str(uuid.uuid4()), "role": Role.DEVICE.value, "agency": str(agency.id), "owner": None,
              "scope": ""}
    return registry.kit.issuer.issue(claims, auth_time=int(time.time()), session_max_s=3600).access_token


def headers_for(w: World, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role == "owner":
        return w.owner.headers
    if role == "device":
        return {"Authorization": f"Bearer {device_token(w.registry, w.agency)}"}
    name, _, scope = role.partition(":")
    scopes = [f"cameras:{scope}"] if scope else None
    return b.make_staff(w.db, w.registry, w.agency, Role(name), scopes=scopes).headers


def fingerprint(w: World) -> tuple[Any, ...]:
    """Everything a refused call must leave as it was, read fresh from the database."""
    w.db.expire_all()
    owner, site, camera = (w.db.get(Owner, w.owner.owner_id), w.db.get(Site, w.site.id),
                           w.db.get(Camera, w.camera.id))
    counts = tuple(w.count(m) for m in (Account, Owner, Site, Camera, SharingAgreement, AuditEvent))
    return (*counts, owner and (owner.name_enc, owner.email_enc, owner.phone_enc),
            site and (site.kind, site.address_enc, site.agency_id),
            camera and (camera.label, camera.bearing_deg, camera.sharing_mode, camera.core_enabled),
            w.locked.locked_at if "locked" in w.made else None)


@dataclass(frozen=True)
class Case:
    """One endpoint: how to call it, which roles it admits, what success looks like."""

    method: str
    route: str
    allowed: frozenset[str]
    prepare: Callable[[World], Any] | None = None
    body: Callable[[World], Any] | None = None
    params: Callable[[World], dict[str, Any]] | None = None
    upload: bool = False
    ok: int = 200
    mutates: bool = False
    effect: Callable[[World, Any], None] | None = None

    def url(self, w: World) -> str:
        """The route with the world's ids filled in (creating the objects it names)."""
        ids = {"account_id": lambda: w.locked.id, "agreement_id": lambda: w.agreement.id,
               "owner_id": lambda: w.owner.owner_id, "site_id": lambda: w.site.id, "camera_id": lambda: w.camera.id,
               "device_id": lambda: w.device.id, "kind": lambda: "cameras"}
        return self.route.format(**{k: f() for k, f in ids.items() if f"{{{k}}}" in self.route})

    def setup(self, w: World) -> None:
        """Build everything the call needs, before the snapshot of what a refusal must not change."""
        self.url(w)
        for part in (self.prepare, self.body, self.params):
            if part:
                part(w)


def _gone(model: type[Any], attr: Callable[[World], uuid.UUID | None]) -> Callable[[World, Any], None]:
    def check(w: World, _: Any) -> None:
        assert w.db.get(model, attr(w)) is None
    return check


def _accounts_listed(w: World, body: Any) -> None:
    assert body and {a["agency_id"] for a in body} == {str(w.agency.id)}


def _account_made(w: World, body: Any) -> None:
    made = w.db.get(Account, uuid.UUID(body["id"]))
    assert made is not None and made.agency_id == w.agency.id and made.role == "investigator"


def _agreement_made(w: World, body: Any) -> None:
    assert w.db.scalar(select(SharingAgreement).where(SharingAgreement.grantor_agency_id == w.agency.id,
                                                      SharingAgreement.grantee_agency_id == w.other_agency.id))


def _owner_renamed(w: World, body: Any) -> None:
    owner = w.db.get(Owner, w.owner.owner_id)
    assert owner is not None and w.registry.kit.cipher.decrypt(owner.name_enc) == "Renamed Owner"
    assert body["name"] == "Renamed Owner"


def _sites_of_owner(w: World, body: Any) -> None:
    assert len(w.db.scalars(select(Site).where(Site.owner_id == w.owner.owner_id)).all()) == 2
    assert body["owner_id"] == str(w.owner.owner_id) and body["agency_id"] == str(w.agency.id)


def _site_changed(w: World, body: Any) -> None:
    assert body["kind"] == "commercial" and w.db.get(Site, w.site.id).kind == "commercial"  # type: ignore[union-attr]


def _site_deleted(w: World, body: Any) -> None:
    assert w.db.get(Site, w.site.id) is None and w.db.get(Camera, w.camera.id) is None


def _camera_made(w: World, body: Any) -> None:
    assert body["site_id"] == str(w.site.id)
    assert len(w.db.scalars(select(Camera).where(Camera.site_id == w.site.id)).all()) == 2


def _camera_changed(w: World, body: Any) -> None:
    assert body["label"] == "Renamed cam" and w.db.get(Camera, w.camera.id).label == "Renamed cam"  # type: ignore[union-attr]


def _contact_shown(w: World, body: Any) -> None:
    assert body["owner_name"] == "Pat Example" and body["case_number"] == CASE
    assert w.db.scalar(select(AuditEvent).where(AuditEvent.action == "contact.view",
                                                AuditEvent.object_id == str(w.camera.id)))


def _imported(w: World, body: Any) -> None:
    assert body["imported"] is True and body["cameras_created"] == 1 and not body["rejected"]


def _found(w: World, body: Any) -> None:
    assert [h["camera_id"] for h in body["items"]] == [str(w.camera.id)]


def _revoked(w: World) -> None:
    device = w.db.get(Device, w.device.id)
    assert device is not None and device.revoked_at is not None


def _is(key: str, value: Callable[[World], Any]) -> Callable[[World, Any], None]:
    def check(w: World, body: Any) -> None:
        assert body[key] == value(w)
    return check


def _contains(attr: Callable[[World], uuid.UUID]) -> Callable[[World, Any], None]:
    def check(w: World, body: Any) -> None:
        assert str(attr(w)) in {x["id"] for x in body}
    return check


def _site_body(w: World) -> dict[str, Any]:
    return {"owner_id": str(w.owner.owner_id), "kind": "residential", "address": "9 Second St, Clermont, FL",
            "location": {"lon": -81.7770, "lat": 28.5580}}


CAMERA_BODY = {"label": "Garage", "bearing_deg": 45, "fov_deg": 90, "range_m": 30, "retention_days": 14}
NEAR = {"lon": -81.7745, "lat": 28.5565, "radius_m": 300}

CASES = [
    Case("GET", "/v1/accounts", SUPERVISOR, effect=_accounts_listed),
    Case("POST", "/v1/accounts", SUPERVISOR, ok=201, mutates=True, effect=_account_made,
         body=lambda w: {"username": f"made-{w.agency.slug}", "password": b.PASSWORD, "role": "investigator"}),
    Case("POST", "/v1/accounts/{account_id}/unlock", SUPERVISOR, mutates=True,
         effect=_is("locked_at", lambda w: None)),
    Case("GET", "/v1/agreements", SUPERVISOR, prepare=lambda w: w.agreement,
         effect=lambda w, body: _contains(lambda x: x.agreement.id)(w, body)),
    Case("POST", "/v1/agreements", SUPERVISOR, ok=201, mutates=True, effect=_agreement_made,
         body=lambda w: {"grantee_agency_id": str(w.other_agency.id)}),
    Case("DELETE", "/v1/agreements/{agreement_id}", SUPERVISOR, ok=204,
         mutates=True, effect=_gone(SharingAgreement, lambda w: w.agreement.id)),
    Case("POST", "/v1/owners", MANAGERS, ok=201, mutates=True, body=lambda w: {"name": "Phone Campaign"},
         effect=lambda w, body: _is("has_login", lambda _: False)(w, body)),
    Case("GET", "/v1/owners/me", OWNER, effect=_is("id", lambda w: str(w.owner.owner_id))),
    Case("PATCH", "/v1/owners/me", OWNER, body=lambda w: {"name": "Renamed Owner"}, mutates=True,
         effect=_owner_renamed),
    Case("DELETE", "/v1/owners/me", OWNER, ok=204, mutates=True, effect=_gone(Owner, lambda w: w.owner.owner_id)),
    Case("GET", "/v1/owners/me/access", OWNER, effect=lambda w, body: None),
    Case("GET", "/v1/owners/{owner_id}", MANAGERS, effect=_is("name", lambda w: "Pat Example")),
    Case("DELETE", "/v1/owners/{owner_id}", MANAGERS, ok=204,
         mutates=True, effect=_site_deleted),
    Case("POST", "/v1/sites", SITE, ok=201, mutates=True, body=_site_body, effect=_sites_of_owner),
    Case("GET", "/v1/sites", SITE, params=lambda w: {"owner_id": str(w.owner.owner_id)},
         effect=_contains(lambda w: w.site.id)),
    Case("GET", "/v1/sites/{site_id}", SITE,
         effect=_is("address", lambda w: "742 W Montrose St, Clermont, FL")),
    Case("PATCH", "/v1/sites/{site_id}", SITE, body=lambda w: {"kind": "commercial"},
         mutates=True, effect=_site_changed),
    Case("DELETE", "/v1/sites/{site_id}", SITE, ok=204, mutates=True,
         effect=_site_deleted),
    Case("POST", "/v1/sites/{site_id}/cameras", SITE, ok=201,
         mutates=True, body=lambda w: CAMERA_BODY, effect=_camera_made),
    Case("GET", "/v1/sites/{site_id}/cameras", SITE,
         effect=_contains(lambda w: w.camera.id)),
    Case("GET", "/v1/cameras/{camera_id}", SITE,
         effect=_is("site_id", lambda w: str(w.site.id))),
    Case("PATCH", "/v1/cameras/{camera_id}", SITE,
         body=lambda w: {"label": "Renamed cam"}, mutates=True, effect=_camera_changed),
    Case("DELETE", "/v1/cameras/{camera_id}", SITE, ok=204, mutates=True,
         effect=_gone(Camera, lambda w: w.camera.id)),
    Case("POST", "/v1/cameras/{camera_id}/contact", CONTACT,
         body=lambda w: {"case_number": CASE, "reason": "burglary next door"}, mutates=True, effect=_contact_shown),
    Case("POST", "/v1/imports/cameras", MANAGERS, upload=True, mutates=True, effect=_imported),
    Case("GET", "/v1/search/cameras", SEARCHERS, params=lambda w: {**NEAR, "case_number": CASE}, mutates=True,
         effect=_found),
    Case("POST", "/v1/search/cameras", SEARCHERS, mutates=True, effect=_found,
         body=lambda w: {"case_number": CASE, "area": {"type": "near", **NEAR}}),
    Case("GET", "/v1/audit/events", AUDITORS,
         effect=lambda w, body: _is("agency_id", lambda x: str(x.agency.id))(w, body[0])),
    Case("GET", "/v1/audit/verify", AUDITORS, mutates=True, effect=_is("ok", lambda w: True)),
    Case("GET", "/v1/stats/program", AUDITORS, effect=_is("agency_id", lambda w: str(w.agency.id))),
    Case("GET", "/v1/auth/me", TOKEN_ROLES, effect=lambda w, body: None),
    Case("GET", "/v1/agencies", PUBLIC, effect=lambda w, body: _contains(lambda x: x.agency.id)(w, body)),
    Case("GET", "/v1/transparency", PUBLIC, effect=lambda w, body: None),
    Case("GET", "/.well-known/jwks.json", PUBLIC, effect=lambda w, body: None),
    Case("POST", "/v1/owners/signup", PUBLIC, ok=201, mutates=True,
         body=lambda w: {"email": f"new-{w.agency.slug}@example.org", "password": b.PASSWORD, "name": "New Owner"},
         effect=_is("has_login", lambda w: True)),
    Case("POST", "/v1/sites/{site_id}/enrolment-codes", SITE, ok=201, mutates=True,
         effect=_is("site_id", lambda w: str(w.site.id))),
    Case("POST", "/v1/devices/enroll", PUBLIC, ok=201, mutates=True,
         body=lambda w: {"code": w.enrolment_code, "firmware": "lookout-core 1.0.0"},
         effect=_is("site_id", lambda w: str(w.site.id))),
    Case("GET", "/v1/devices", SITE, prepare=lambda w: w.device, effect=_contains(lambda w: w.device.id)),
    Case("GET", "/v1/devices/{device_id}", SITE, effect=_is("id", lambda w: str(w.device.id))),
    Case("DELETE", "/v1/devices/{device_id}", OWNER | SUPERVISOR, ok=204, mutates=True,
         effect=lambda w, body: _revoked(w)),
    Case("GET", "/v1/sync/{kind}", frozenset(), effect=lambda w, body: None),  # integrators with registry:sync only
    Case("GET", "/healthz", PUBLIC, effect=_is("status", lambda w: "ok")),
    Case("GET", "/readyz", PUBLIC, effect=_is("status", lambda w: "ok")),
    Case("GET", "/metrics", PUBLIC),
]
MATRIX = [pytest.param(case, role, id=f"{case.method} {case.route} as {role}") for case in CASES for role in ROLES]


@pytest.fixture
def world(db: Session, registry: Registry) -> World:
    agency = b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    return World(db, registry, agency, owner, site, b.make_camera(db, registry, owner, site))


def call(client: TestClient, w: World, case: Case, headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if case.body:
        kwargs["json"] = case.body(w)
    if case.params:
        kwargs["params"] = case.params(w)
    if case.upload:
        kwargs["files"] = {"file": ("brochures.csv", CSV.encode(), "text/csv")}
    return client.request(case.method, case.url(w), **kwargs)


@pytest.mark.parametrize(("case", "role"), MATRIX)
def test_role_matrix(client: TestClient, world: World, case: Case, role: str) -> None:
    headers = headers_for(world, role)
    case.setup(world)
    before = fingerprint(world)
    response = call(client, world, case, headers)
    if role in case.allowed:
        assert response.status_code == case.ok, response.text
        world.db.expire_all()
        if case.effect:
            case.effect(world, response.json() if response.content else None)
        if case.mutates:
            assert fingerprint(world) != before
        return
    expected = 401 if role == "anonymous" else 403
    assert response.status_code == expected, response.text
    assert response.json()["error"]["code"] in {"missing_token", "forbidden"}
    assert fingerprint(world) == before, f"refused {case.method} {case.route} changed data"


def test_matrix_covers_every_route(registry: Registry) -> None:
    """A new documented route must get a row in CASES (sign-in and refresh are covered with the token tests)."""
    paths = create_app(registry=registry).openapi()["paths"]
    documented = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    documented -= {("POST", "/v1/auth/login"), ("POST", "/v1/auth/refresh")}
    # Requests, evidence and canvass reports have their own matrices (their own worlds), each checked there.
    elsewhere = (test_requests_permissions.MATRIX_ROUTES | test_canvass.MATRIX_ROUTES
                 | test_evidence_access.MATRIX_ROUTES | test_consent.MATRIX_ROUTES)
    assert documented == ({(c.method, c.route) for c in CASES} | elsewhere) - {("GET", "/metrics")}


@pytest.mark.parametrize(("role", "scopes"), [("owner", []), ("device", []), ("integrator", ["accounts:admin"]),
                                              ("investigator", ["cameras:search"])])
def test_supervisor_cannot_mint_accounts_outside_staff(client: TestClient, world: World, role: str,
                                                       scopes: list[str]) -> None:
    """A supervisor creates staff and scoped clients only: no owner or device logins, no invented scopes."""
    supervisor = b.make_staff(world.db, world.registry, world.agency, Role.SUPERVISOR)
    before = fingerprint(world)
    made = client.post("/v1/accounts", headers=supervisor.headers,
                       json={"username": f"mint-{role}", "password": b.PASSWORD, "role": role, "scopes": scopes})
    assert made.status_code == 422, made.text
    assert fingerprint(world) == before
