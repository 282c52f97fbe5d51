"""Who may do what with a footage request: every role against every request route, and that a refusal changes nothing.

The world: agency HOME made a request to an owner; agency SHARED sees it through a share; agency REVOKED had a share
that was revoked; agency OTHER never had one. Roles are members of those agencies, the owner, or another owner.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.agencies.models import Agency
from services.registry.audit.models import AuditEvent
from services.registry.database import utcnow
from services.registry.deps import Registry
from services.registry.evidence.models import EvidenceFile
from services.registry.notify.models import Notification
from services.registry.owners.models import Camera
from services.registry.requests import api as requests_api
from services.registry.requests.models import FootageRequest, RequestShare
from tests import builders as b

pytestmark = pytest.mark.spatialite

THIRD = (-81.70, 28.50, -81.65, 28.60)
FOURTH = (-81.65, 28.50, -81.60, 28.60)
FIFTH = (-81.60, 28.50, -81.55, 28.60)

REQUESTING = frozenset({"investigator", "supervisor"})
SHARED = frozenset({"shared_investigator", "shared_supervisor"})
FOREIGN = frozenset({"other_investigator", "other_supervisor", "revoked_investigator", "revoked_supervisor"})
OWNER, OTHER_OWNER = "owner", "other_owner"
NON_STAFF = frozenset({"dispatcher", "advocate", "auditor", "integrator", "integrator:requests"})
ROLES = sorted(REQUESTING | SHARED | FOREIGN | NON_STAFF | {OWNER, OTHER_OWNER, "anonymous"})


@dataclass
class World:
    """The request of HOME to the owner, with its shares; people are made on demand."""

    db: Session
    registry: Registry
    home: Agency
    owner: b.Person
    camera: Camera
    request: FootageRequest
    shared: Agency
    revoked: Agency

    @cached_property
    def other(self) -> Agency:
        return b.make_agency(self.db, bounds=b.EAST)

    @cached_property
    def target(self) -> Agency:
        """An agency a request may newly be shared with."""
        return b.make_agency(self.db, bounds=FIFTH)

    def person(self, role: str) -> b.Person | None:
        if role == "anonymous":
            return None
        if role == OWNER:
            return self.owner
        if role == OTHER_OWNER:
            return b.make_owner(self.db, self.registry)
        prefix, _, name = role.rpartition("_")
        agency = {"": self.home, "shared": self.shared, "revoked": self.revoked, "other": self.other}[prefix]
        name, _, scope = name.partition(":")
        if scope:  # a client with the requests:write scope (set directly: the scope list is not ours to extend)
            person = b.make_staff(self.db, self.registry, agency, Role.INTEGRATOR, scopes=["cameras:search"])
            person.account.scopes = "requests:write"
            self.db.commit()
            person.token = b.token_for(self.db, self.registry, person.account)
            return person
        return b.make_staff(self.db, self.registry, agency, Role(name))

    def fingerprint(self) -> tuple[Any, ...]:
        """Everything a refused call must leave as it was."""
        self.db.expire_all()
        rows = self.db.execute(select(FootageRequest.id, FootageRequest.state, FootageRequest.decline_reason,
                                      FootageRequest.closed_at).order_by(FootageRequest.id)).all()
        shares = self.db.execute(select(RequestShare.agency_id, RequestShare.revoked_at)
                                 .order_by(RequestShare.agency_id)).all()
        counts = [self.db.scalar(select(func.count()).select_from(m)) for m in (AuditEvent, Notification)]
        return tuple(rows), tuple(shares), *counts


def staff_expect(requesting: int, shared: int, foreign: int) -> Callable[[str], int]:
    def expect(role: str) -> int:
        if role == "anonymous":
            return 401
        if role in REQUESTING:
            return requesting
        if role in SHARED:
            return shared
        return foreign if role in FOREIGN else 403
    return expect


def owner_expect(own: int, other: int) -> Callable[[str], int]:
    def expect(role: str) -> int:
        return {"anonymous": 401, OWNER: own, OTHER_OWNER: other}.get(role, 403)
    return expect


def create_expect(role: str) -> int:
    if role == "anonymous":
        return 401
    if role in REQUESTING or role == "integrator:requests":
        return 201
    return 422 if role in SHARED | FOREIGN else 403  # staff elsewhere: the camera is not in their reach


def _listed(present: bool) -> Callable[[World, Any], None]:
    def check(w: World, body: Any) -> None:
        assert (str(w.request.id) in {r["id"] for r in body}) is present
    return check


def _state(state: str) -> Callable[[World, Any], None]:
    def check(w: World, body: Any) -> None:
        assert body["state"] == state and w.db.get(FootageRequest, w.request.id).state == state  # type: ignore[union-attr]
    return check


def _viewed(w: World, body: Any) -> None:
    assert body["id"] == str(w.request.id) and body["owner_id"] == str(w.owner.owner_id)
    assert w.db.scalar(select(AuditEvent).where(AuditEvent.action == "request.viewed",
                                                AuditEvent.object_id == str(w.request.id)))


def _share_made(w: World, body: Any) -> None:
    assert body["agency_id"] == str(w.target.id)
    assert w.db.scalar(select(RequestShare).where(RequestShare.agency_id == w.target.id))


def _share_ended(w: World, body: Any) -> None:
    share = w.db.scalar(select(RequestShare).where(RequestShare.agency_id == w.shared.id))
    assert share is not None and share.revoked_at is not None


def _shares_listed(w: World, body: Any) -> None:
    assert {(x["agency_id"], x["revoked_at"] is None) for x in body} == {(str(w.shared.id), True),
                                                                          (str(w.revoked.id), False)}


def _made(w: World, body: Any) -> None:
    assert [r["owner_id"] for r in body["requests"]] == [str(w.owner.owner_id)]


def _accepted_with_file(w: World) -> None:
    w.request.state = "accepted"
    w.db.add(EvidenceFile(request_id=w.request.id, agency_id=w.home.id, case_number=w.request.case_number,
                          filename="a.mp4", size_bytes=1, received_bytes=1, sha256="0" * 64,
                          storage_key=f"test/{uuid.uuid4()}", state="stored", stored_at=utcnow()))
    w.db.commit()


def _request_body(w: World) -> dict[str, Any]:
    end = utcnow() - timedelta(hours=2)
    return {"case_number": "PERM-2", "legal_basis": "warrant", "message": "please",
            "window_start_at": (end - timedelta(hours=1)).isoformat(), "window_end_at": end.isoformat(),
            "camera_ids": [str(w.camera.id)]}


@dataclass(frozen=True)
class Case:
    """One request route: how to call it, who gets which status, what success changes."""

    method: str
    route: str
    expect: Callable[[str], int]
    body: Callable[[World], Any] | None = None
    prepare: Callable[[World], Any] | None = None
    effect: Callable[[World, Any], None] | None = None
    mutates: bool = True

    def url(self, w: World) -> str:
        ids = {"request_id": lambda: w.request.id, "agency_id": lambda: w.shared.id}
        return self.route.format(**{k: f() for k, f in ids.items() if f"{{{k}}}" in self.route})


R = "/v1/requests/{request_id}"
M = "/v1/my/requests/{request_id}"
CASES = [
    Case("POST", "/v1/requests", create_expect, body=_request_body, effect=_made),
    Case("GET", "/v1/requests", staff_expect(200, 200, 200), mutates=False,
         effect=lambda w, body: None),  # what each sees is checked in test_list_shows_what_may_be_seen
    Case("GET", R, staff_expect(200, 200, 404), effect=_viewed),
    Case("POST", R + "/withdraw", staff_expect(200, 403, 404), effect=_state("withdrawn")),
    Case("POST", R + "/shares", staff_expect(201, 403, 404), effect=_share_made,
         body=lambda w: {"agency_id": str(w.target.id), "reason": "regional robbery unit"}),
    Case("GET", R + "/shares", staff_expect(200, 403, 404), mutates=False, effect=_shares_listed),
    Case("DELETE", R + "/shares/{agency_id}", staff_expect(204, 403, 404), effect=_share_ended),
    Case("GET", "/v1/my/requests", owner_expect(200, 200), mutates=False, effect=lambda w, body: None),
    Case("GET", M, owner_expect(200, 404), mutates=False, effect=_state("pending")),
    Case("POST", M + "/accept", owner_expect(200, 404), effect=_state("accepted")),
    Case("POST", M + "/decline", owner_expect(200, 404), effect=_state("declined"),
         body=lambda w: {"reason": "not comfortable"}),
    Case("POST", M + "/complete", owner_expect(200, 404), prepare=_accepted_with_file, effect=_state("fulfilled")),
]
MATRIX = [pytest.param(case, role, id=f"{case.method} {case.route} as {role}") for case in CASES for role in ROLES]


@pytest.fixture
def world(db: Session, registry: Registry) -> World:
    home = b.make_agency(db, bounds=b.WEST)
    owner = b.make_owner(db, registry)
    camera = b.make_camera(db, registry, owner, b.make_site(db, registry, owner))
    request = b.make_request_row(db, home, camera, case_number="PERM-1")
    shared, revoked = b.make_agency(db, bounds=THIRD), b.make_agency(db, bounds=FOURTH)
    db.add(RequestShare(request_id=request.id, agency_id=shared.id, reason="joint task force"))
    db.add(RequestShare(request_id=request.id, agency_id=revoked.id, reason="was joint", revoked_at=utcnow()))
    db.commit()
    return World(db, registry, home, owner, camera, request, shared, revoked)


@pytest.mark.parametrize(("case", "role"), MATRIX)
def test_request_matrix(client: TestClient, world: World, case: Case, role: str) -> None:
    person = world.person(role)
    url = case.url(world)
    body = case.body(world) if case.body else None
    if case.prepare:
        case.prepare(world)
    before = world.fingerprint()
    response = client.request(case.method, url, headers=person.headers if person else {}, json=body)
    expected = case.expect(role)
    assert response.status_code == expected, response.text
    if expected < 300:
        world.db.expire_all()
        if case.effect:
            case.effect(world, response.json() if response.content else None)
        if case.mutates:
            assert world.fingerprint() != before
        return
    codes = {401: {"missing_token"}, 403: {"forbidden", "not_requesting_agency"}, 404: {"request_not_found"},
             422: {"camera_not_found"}}
    assert response.json()["error"]["code"] in codes[expected]
    assert world.fingerprint() == before, f"refused {case.method} {case.route} as {role} changed data"


@pytest.mark.parametrize("role", sorted(REQUESTING | SHARED | FOREIGN | {OWNER, OTHER_OWNER}))
def test_list_shows_what_may_be_seen(client: TestClient, world: World, role: str) -> None:
    person = world.person(role)
    assert person is not None
    url = "/v1/my/requests" if role in (OWNER, OTHER_OWNER) else "/v1/requests"
    response = client.get(url, headers=person.headers)
    assert response.status_code == 200, response.text
    _listed(role in REQUESTING | SHARED | {OWNER})(world, response.json())


def test_matrix_covers_every_request_route() -> None:
    """A new route of the requests router must get a row in CASES."""
    routes = {(method, route.path) for route in requests_api.router.routes if isinstance(route, APIRoute)
              for method in route.methods or ()}
    assert routes == {(c.method, c.route) for c in CASES}


# The routes this module's permission matrix covers (test_permissions.test_matrix_covers_every_route counts them).
MATRIX_ROUTES = frozenset((c.method, c.route) for c in CASES)
