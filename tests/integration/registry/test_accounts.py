"""Sign-in: TOTP, lockout and release, rate limits, refresh, JWKS, and supervisors creating accounts."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import Role, TokenVerifier
from services.registry.accounts.models import Account, LoginAttempt
from services.registry.app import create_app
from services.registry.audit.models import AuditEvent
from services.registry.database import utcnow
from services.registry.deps import Registry, get_session
from tests import builders as b

pytestmark = pytest.mark.spatialite
LOGIN = "/v1/auth/login"


def client_with(registry: Registry, db: Session, *, host: str = "testclient", **security: Any) -> TestClient:
    """The API over the test's session, with changed security settings and/or another client address."""
    kit = dataclasses.replace(registry.kit, settings=registry.kit.settings.model_copy(update=security))
    app = create_app(registry=dataclasses.replace(registry, kit=kit))
    app.dependency_overrides[get_session] = lambda: db
    return TestClient(app, client=(host, 40000))


def wrong_totp(registry: Registry, account: Account) -> str:
    secret = registry.kit.cipher.decrypt(account.totp_secret_enc)
    assert secret
    totp, now = pyotp.TOTP(secret), time.time()
    valid = {totp.at(now + d) for d in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{n:06d}" for n in range(0, 999999, 7919)) if c not in valid)


def staff_login(client: TestClient, registry: Registry, person: b.Person, password: str = b.PASSWORD) -> Any:
    return client.post(LOGIN, json={"username": person.account.username, "password": password,
                                    "totp": b.totp_now(registry, person.account)})


def code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def failures(db: Session, account: Account) -> int:
    return db.scalar(select(func.count()).where(LoginAttempt.login_digest == account.login_digest,
                                                LoginAttempt.succeeded.is_(False))) or 0


def test_staff_need_totp(client: TestClient, db: Session, registry: Registry) -> None:
    person = b.make_staff(db, registry, b.make_agency(db), Role.DISPATCHER)
    body = {"username": person.account.username, "password": b.PASSWORD}
    r = client.post(LOGIN, json=body)
    assert (r.status_code, code(r)) == (401, "totp_required")
    r = client.post(LOGIN, json={**body, "totp": wrong_totp(registry, person.account)})
    assert (r.status_code, code(r)) == (401, "invalid_totp")
    assert failures(db, person.account) == 1  # a wrong second factor counts toward lockout
    r = staff_login(client, registry, person)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    assert registry.verifier.verify(r.json()["access_token"]).account_id == person.account.id


def test_passwords_are_argon2id(db: Session, registry: Registry) -> None:
    person = b.make_staff(db, registry, b.make_agency(db), Role.AUDITOR)
    owner = b.make_owner(db, registry)
    for account in (person.account, owner.account):
        stored = db.scalar(select(Account.password_hash).where(Account.id == account.id))
        assert stored is not None and stored.startswith("$argon2id$")
        assert b.PASSWORD not in stored


def test_unknown_user_looks_like_wrong_password(client: TestClient, db: Session, registry: Registry) -> None:
    person = b.make_staff(db, registry, b.make_agency(db), Role.INVESTIGATOR)
    wrong = client.post(LOGIN, json={"username": person.account.username, "password": "not the password"})
    unknown = client.post(LOGIN, json={"username": "nobody-at-all", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert code(unknown) == "invalid_credentials"
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate") == "Bearer"


def test_lockout_until_supervisor_releases(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db)
    person = b.make_staff(db, registry, agency, Role.INVESTIGATOR)
    supervisor = b.make_staff(db, registry, agency, Role.SUPERVISOR)
    auditor = b.make_staff(db, registry, agency, Role.AUDITOR)
    stranger = b.make_staff(db, registry, b.make_agency(db, bounds=b.EAST), Role.SUPERVISOR)
    for _ in range(5):
        r = client.post(LOGIN, json={"username": person.account.username, "password": "guess guess guess"})
        assert (r.status_code, code(r)) == (401, "invalid_credentials")
    r = staff_login(client, registry, person)
    assert (r.status_code, code(r)) == (423, "locked")
    assert db.get(Account, person.account.id).locked_at is not None  # type: ignore[union-attr]
    assert db.scalar(select(AuditEvent.id).where(AuditEvent.action == "account.locked",
                                                 AuditEvent.object_id == str(person.account.id)))
    url = f"/v1/accounts/{person.account.id}/unlock"
    assert client.post(url, headers=stranger.headers).status_code == 404
    assert client.post(url, headers=auditor.headers).status_code == 403
    assert client.post(url, headers=person.headers).status_code == 403
    assert staff_login(client, registry, person).status_code == 423
    released = client.post(url, headers=supervisor.headers)
    assert released.status_code == 200, released.text
    assert released.json()["locked_at"] is None
    r = staff_login(client, registry, person)
    assert r.status_code == 200, r.text
    # The release starts a fresh count: one more typo does not lock again.
    assert client.post(LOGIN, json={"username": person.account.username, "password": "typo typo typo"}
                       ).status_code == 401
    assert staff_login(client, registry, person).status_code == 200


def test_supervisor_cannot_release_themselves(client: TestClient, db: Session, registry: Registry) -> None:
    supervisor = b.make_staff(db, registry, b.make_agency(db), Role.SUPERVISOR)
    r = client.post(f"/v1/accounts/{supervisor.account.id}/unlock", headers=supervisor.headers)
    assert r.status_code == 403


def test_only_failures_within_window_count(client: TestClient, db: Session, registry: Registry) -> None:
    person = b.make_staff(db, registry, b.make_agency(db), Role.INVESTIGATOR)
    window = registry.kit.settings.lockout_window_s
    old = utcnow() - timedelta(seconds=window + 60)
    db.add_all([LoginAttempt(login_digest=person.account.login_digest, source="198.51.100.1", succeeded=False,
                             attempted_at=old) for _ in range(10)])
    db.commit()
    bad = {"username": person.account.username, "password": "wrong wrong wrong"}
    for _ in range(4):
        assert client.post(LOGIN, json=bad).status_code == 401
    assert staff_login(client, registry, person).status_code == 200
    # The success resets the count: four more failures still leave the account open.
    for _ in range(4):
        assert client.post(LOGIN, json=bad).status_code == 401
    assert staff_login(client, registry, person).status_code == 200
    for _ in range(5):
        assert client.post(LOGIN, json=bad).status_code == 401
    assert staff_login(client, registry, person).status_code == 423


def test_owner_lock_expires_by_itself(client: TestClient, db: Session, registry: Registry) -> None:
    owner = b.make_owner(db, registry, email="locked.owner@example.org")
    staff = b.make_staff(db, registry, b.make_agency(db), Role.DISPATCHER)
    for username in ("locked.owner@example.org", staff.account.username):
        for _ in range(5):
            assert client.post(LOGIN, json={"username": username, "password": "nope nope nope"}).status_code == 401
    good = {"username": "Locked.Owner@example.org", "password": b.PASSWORD}
    assert client.post(LOGIN, json=good).status_code == 423
    lock_s = registry.kit.settings.owner_lockout_s

    def age(account: Account, seconds: int) -> None:
        # Time passes: the lock and every attempt move into the past together.
        then = timedelta(seconds=seconds)
        row = db.get(Account, account.id)
        assert row is not None and row.locked_at is not None
        row.locked_at -= then
        for attempt in db.scalars(select(LoginAttempt).where(LoginAttempt.login_digest == account.login_digest)):
            attempt.attempted_at -= then
        db.commit()

    age(owner.account, lock_s - 30)
    assert client.post(LOGIN, json=good).status_code == 423
    age(owner.account, 40)
    r = client.post(LOGIN, json=good)
    assert r.status_code == 200, r.text
    assert db.get(Account, owner.account.id).locked_at is None  # type: ignore[union-attr]
    age(staff.account, lock_s * 10)
    assert staff_login(client, registry, staff).status_code == 423  # staff wait for a supervisor


def test_rate_limit_per_source(db: Session, registry: Registry) -> None:
    owner = b.make_owner(db, registry, email="ratelimited@example.org")
    noisy = client_with(registry, db, host="203.0.113.7", ip_failures_per_window=3)
    quiet = client_with(registry, db, host="203.0.113.8", ip_failures_per_window=3)
    for n in range(3):
        r = noisy.post(LOGIN, json={"username": f"nobody{n}@example.org", "password": "whatever whatever"})
        assert r.status_code == 401
    good = {"username": "ratelimited@example.org", "password": b.PASSWORD}
    r = noisy.post(LOGIN, json=good)
    assert (r.status_code, code(r)) == (429, "rate_limited")
    assert quiet.post(LOGIN, json=good).status_code == 200
    assert db.get(Account, owner.account.id).locked_at is None  # type: ignore[union-attr]


def test_rate_limit_default_budget(client: TestClient, db: Session, registry: Registry) -> None:
    limit = registry.kit.settings.ip_failures_per_window
    for n in range(limit):
        assert client.post(LOGIN, json={"username": f"ghost{n}", "password": "x"}).status_code == 401
    assert client.post(LOGIN, json={"username": "ghost", "password": "x"}).status_code == 429


def test_refresh(client: TestClient, db: Session, registry: Registry) -> None:
    b.make_owner(db, registry, email="refresher@example.org")
    tokens = client.post(LOGIN, json={"username": "refresher@example.org", "password": b.PASSWORD}).json()
    r = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, r.text
    fresh = r.json()["access_token"]
    assert client.get("/v1/auth/me", headers={"Authorization": f"Bearer {fresh}"}).json()["role"] == "owner"
    r = client.post("/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert (r.status_code, code(r)) == (401, "invalid_token")
    r = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert r.status_code == 401


def test_staff_refresh_bounded_by_sign_in(client: TestClient, db: Session, registry: Registry) -> None:
    person = b.make_staff(db, registry, b.make_agency(db), Role.INVESTIGATOR)
    tokens = staff_login(client, registry, person).json()
    first = jwt.decode(tokens["refresh_token"], options={"verify_signature": False})
    assert first["exp"] <= first["auth_time"] + 12 * 3600
    again = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    for token in (again["access_token"], again["refresh_token"]):
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["auth_time"] == first["auth_time"]  # refreshing does not extend the sign-in
        assert claims["exp"] <= first["auth_time"] + 12 * 3600
    old = registry.kit.issuer.issue({"sub": str(person.account.id), "role": "investigator",
                                     "agency": str(person.account.agency_id), "scope": ""},
                                    auth_time=int(time.time()) - 13 * 3600, session_max_s=12 * 3600)
    r = client.post("/v1/auth/refresh", json={"refresh_token": old.refresh_token})
    assert r.status_code == 401


def test_no_refresh_for_locked_account(client: TestClient, db: Session, registry: Registry) -> None:
    person = b.make_staff(db, registry, b.make_agency(db), Role.INVESTIGATOR)
    tokens = staff_login(client, registry, person).json()
    for _ in range(5):
        client.post(LOGIN, json={"username": person.account.username, "password": "bad bad bad bad"})
    r = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (r.status_code, code(r)) == (401, "invalid_token")


def test_jwks_verifies_tokens_offline(client: TestClient, db: Session, registry: Registry) -> None:
    person = b.make_staff(db, registry, b.make_agency(db), Role.SUPERVISOR)
    token = staff_login(client, registry, person).json()["access_token"]
    jwks = client.get("/.well-known/jwks.json").json()
    assert [k["kty"] for k in jwks["keys"]] == ["OKP"]
    assert all("d" not in k for k in jwks["keys"])  # the private part never leaves the registry
    principal = TokenVerifier(jwks=jwks).verify(token)
    assert (principal.account_id, principal.role, principal.agency_id) == (
        person.account.id, Role.SUPERVISOR, person.account.agency_id)


def test_supervisor_creates_accounts(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db)
    supervisor = b.make_staff(db, registry, agency, Role.SUPERVISOR)
    body = {"username": "new.investigator", "password": "a long enough password", "role": "investigator"}
    r = client.post("/v1/accounts", headers=supervisor.headers, json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["agency_id"] == str(agency.id)
    assert created["totp_uri"].startswith("otpauth://totp/")
    account = db.get(Account, uuid.UUID(created["id"]))
    assert account is not None and account.password_hash.startswith("$argon2id$")
    ok = client.post(LOGIN, json={"username": "new.investigator", "password": "a long enough password",
                                  "totp": pyotp.parse_uri(created["totp_uri"]).now()})
    assert ok.status_code == 200, ok.text
    listed = client.get("/v1/accounts", headers=supervisor.headers)
    assert "new.investigator" in [a["username"] for a in listed.json()]
    assert "totp_uri" not in listed.text and "argon2" not in listed.text
    dup = client.post("/v1/accounts", headers=supervisor.headers, json={**body, "username": "New.Investigator"})
    assert dup.status_code == 409
    assert dup.json()["error"]["field"] == "username"


def test_integrator_clients(client: TestClient, db: Session, registry: Registry) -> None:
    supervisor = b.make_staff(db, registry, b.make_agency(db), Role.SUPERVISOR)
    body = {"username": "vms-client", "password": "client secret long", "role": "integrator",
            "scopes": ["cameras:search"]}
    r = client.post("/v1/accounts", headers=supervisor.headers, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["totp_uri"] is None
    assert r.json()["scopes"] == "cameras:search"
    tokens = client.post(LOGIN, json={"username": "vms-client", "password": "client secret long"})
    assert tokens.status_code == 200, tokens.text
    assert registry.verifier.verify(tokens.json()["access_token"]).scopes == frozenset({"cameras:search"})
    bad = client.post("/v1/accounts", headers=supervisor.headers,
                      json={**body, "username": "vms-2", "scopes": ["cameras:delete"]})
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "scopes")
    misplaced = client.post("/v1/accounts", headers=supervisor.headers,
                            json={**body, "username": "inv-2", "role": "investigator"})
    assert (misplaced.status_code, misplaced.json()["error"]["field"]) == (422, "scopes")


@pytest.mark.parametrize("change,status", [({"role": "owner"}, 422), ({"role": "device"}, 422),
                                           ({"password": "short"}, 422), ({"username": "no spaces"}, 422)])
def test_account_create_refusals(client: TestClient, db: Session, registry: Registry, change: dict[str, str],
                                 status: int) -> None:
    supervisor = b.make_staff(db, registry, b.make_agency(db), Role.SUPERVISOR)
    body = {"username": "someone", "password": "a long enough password", "role": "dispatcher", **change}
    assert client.post("/v1/accounts", headers=supervisor.headers, json=body).status_code == status


def test_only_supervisors_create_accounts(client: TestClient, db: Session, registry: Registry) -> None:
    investigator = b.make_staff(db, registry, b.make_agency(db), Role.INVESTIGATOR)
    body = {"username": "sneaky", "password": "a long enough password", "role": "supervisor"}
    assert client.post("/v1/accounts", headers=investigator.headers, json=body).status_code == 403
    assert client.post("/v1/accounts", json=body).status_code == 401
