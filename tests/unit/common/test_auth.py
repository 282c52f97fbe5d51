"""Offline token verification, bearer parsing, role checks and the error status table (no network)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from services.common import errors
from services.common.auth import (
    AUDIENCE,
    ISSUER,
    Principal,
    Role,
    TokenVerifier,
    principal_from_claims,
    require_role,
)
from services.common.errors import Forbidden, LookoutError, Unauthenticated
from services.registry.accounts.tokens import TokenIssuer

HOUR = 3600
STAFF_MAX = 12 * HOUR


def make_issuer(key: Ed25519PrivateKey | None = None) -> TokenIssuer:
    return TokenIssuer(key or Ed25519PrivateKey.generate(), access_ttl_s=900, staff_session_max_s=STAFF_MAX)


@pytest.fixture
def issuer() -> TokenIssuer:
    return make_issuer()


@pytest.fixture
def verifier(issuer: TokenIssuer) -> TokenVerifier:
    """A verifier built only from the public JWKS, as another service would build it."""
    return TokenVerifier(jwks=issuer.jwks())


def staff_claims(role: Role = Role.INVESTIGATOR, **extra: Any) -> dict[str, Any]:
    return {"sub": str(uuid.uuid4()), "role": str(role), "agency": str(uuid.uuid4()), "owner": None,
            "scope": "", **extra}


def full_claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {**staff_claims(), "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, "auth_time": now,
            "typ": "access"}
    return {k: v for k, v in {**base, **over}.items() if v is not ...}


def sign(key: Ed25519PrivateKey, kid: str, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


def refused(verifier: TokenVerifier, token: str, *, typ: str = "access") -> Unauthenticated:
    with pytest.raises(Unauthenticated) as info:
        verifier.verify(token, typ=typ)
    return info.value


# --- tokens the issuer makes -------------------------------------------------------------------------------


def test_verifier_accepts_issued_access_token(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    claims = staff_claims(Role.SUPERVISOR)
    now = int(time.time())
    pair = issuer.issue(claims, auth_time=now, session_max_s=STAFF_MAX)
    principal = verifier.verify(pair.access_token)
    assert principal == Principal(account_id=uuid.UUID(claims["sub"]), role=Role.SUPERVISOR,
                                  agency_id=uuid.UUID(claims["agency"]), owner_id=None, scopes=frozenset(),
                                  auth_time=now)
    assert 890 <= pair.expires_in <= 900
    header = jwt.get_unverified_header(pair.access_token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == issuer.kid == issuer.jwks()["keys"][0]["kid"]


def test_owner_and_integrator_claims_become_principal(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    owner_id = uuid.uuid4()
    owner = issuer.issue({"sub": str(uuid.uuid4()), "role": "owner", "agency": None, "owner": str(owner_id),
                          "scope": ""}, auth_time=int(time.time()), session_max_s=30 * 24 * HOUR)
    p = verifier.verify(owner.access_token)
    assert (p.role, p.owner_id, p.agency_id) == (Role.OWNER, owner_id, None)
    client = issuer.issue(staff_claims(Role.INTEGRATOR, scope="cameras:read cameras:search"),
                          auth_time=int(time.time()), session_max_s=STAFF_MAX)
    assert verifier.verify(client.access_token).scopes == frozenset({"cameras:read", "cameras:search"})


def test_access_expiry_never_passes_session_limit(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    auth_time = int(time.time()) - STAFF_MAX + 60  # one minute of the sign-in session left
    pair = issuer.issue(staff_claims(), auth_time=auth_time, session_max_s=STAFF_MAX)
    access = jwt.decode(pair.access_token, options={"verify_signature": False})
    refresh = jwt.decode(pair.refresh_token, options={"verify_signature": False})
    assert access["exp"] == refresh["exp"] == auth_time + STAFF_MAX
    assert pair.expires_in <= 60
    assert verifier.verify(pair.access_token).auth_time == auth_time


def test_refresh_token_is_not_an_access_token(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    pair = issuer.issue(staff_claims(), auth_time=int(time.time()), session_max_s=STAFF_MAX)
    assert refused(verifier, pair.refresh_token).code == "invalid_token"
    assert refused(verifier, pair.access_token, typ="refresh").code == "invalid_token"
    assert verifier.verify(pair.refresh_token, typ="refresh").role is Role.INVESTIGATOR


# --- what must be refused ----------------------------------------------------------------------------------


def test_expired_token(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    now = int(time.time())
    token = sign(issuer._key, issuer.kid, full_claims(iat=now - 1000, exp=now - 60))
    assert refused(verifier, token).code == "token_expired"


def test_expiry_within_leeway_is_accepted(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    token = sign(issuer._key, issuer.kid, full_claims(exp=int(time.time()) - 2))
    assert verifier.verify(token).role is Role.INVESTIGATOR


@pytest.mark.parametrize("over", [{"iss": "someone-else"}, {"aud": "other-audience"}, {"iss": ...}, {"aud": ...}],
                         ids=["wrong-iss", "wrong-aud", "no-iss", "no-aud"])
def test_wrong_issuer_or_audience(issuer: TokenIssuer, verifier: TokenVerifier, over: dict[str, Any]) -> None:
    assert refused(verifier, sign(issuer._key, issuer.kid, full_claims(**over))).code == "invalid_token"


def test_token_of_another_key(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    other = make_issuer()
    foreign = other.issue(staff_claims(), auth_time=int(time.time()), session_max_s=STAFF_MAX).access_token
    error = refused(verifier, foreign)
    assert error.code == "invalid_token"
    assert "unknown key" in error.message
    # Signed by another key but claiming our key id: the signature check must fail.
    spoofed = sign(Ed25519PrivateKey.generate(), issuer.kid, full_claims())
    assert refused(verifier, spoofed).code == "invalid_token"


def test_alg_none_forgery(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    forged = jwt.encode(full_claims(role="supervisor"), None, algorithm="none", headers={"kid": issuer.kid})
    assert refused(verifier, forged).code == "invalid_token"
    # The same claims with a valid signature pass, so the refusal is about the algorithm.
    assert verifier.verify(sign(issuer._key, issuer.kid, full_claims(role="supervisor"))).role is Role.SUPERVISOR


def test_hs256_forgery_with_public_key_as_secret(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    public_x = issuer.jwks()["keys"][0]["x"]
    secret = base64.urlsafe_b64decode(public_x + "=" * (-len(public_x) % 4))
    assert len(secret) == 32
    for key in (secret, public_x.encode()):
        forged = jwt.encode(full_claims(), key, algorithm="HS256", headers={"kid": issuer.kid})
        assert refused(verifier, forged).code == "invalid_token"


def test_tampered_payload(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    token = issuer.issue(staff_claims(Role.DISPATCHER), auth_time=int(time.time()),
                         session_max_s=STAFF_MAX).access_token
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["role"] = "supervisor"
    raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert raw != payload
    assert refused(verifier, f"{header}.{raw}.{signature}").code == "invalid_token"
    assert refused(verifier, "not-a-jwt").code == "invalid_token"


def test_staff_session_older_than_12_hours(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    old = int(time.time()) - STAFF_MAX - 60
    # Signed correctly and not expired: only the sign-in age is wrong.
    pair = issuer.issue(staff_claims(), auth_time=old, session_max_s=30 * 24 * HOUR)
    assert refused(verifier, pair.access_token).code == "reauthentication_required"
    # An owner may stay signed in that long.
    owner = issuer.issue({"sub": str(uuid.uuid4()), "role": "owner", "owner": str(uuid.uuid4())},
                         auth_time=old, session_max_s=30 * 24 * HOUR)
    assert verifier.verify(owner.access_token).role is Role.OWNER
    # Just inside the limit is fine.
    fresh = issuer.issue(staff_claims(), auth_time=int(time.time()) - STAFF_MAX + 120, session_max_s=STAFF_MAX)
    assert verifier.verify(fresh.access_token).role is Role.INVESTIGATOR


@pytest.mark.parametrize("role", [Role.INVESTIGATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.AUDITOR])
def test_every_staff_role_must_reauthenticate(role: Role) -> None:
    claims = {**staff_claims(role), "auth_time": int(time.time()) - STAFF_MAX - 1}
    with pytest.raises(Unauthenticated) as info:
        principal_from_claims(claims, staff_session_max_s=STAFF_MAX)
    assert info.value.code == "reauthentication_required"


@pytest.mark.parametrize("over", [
    {"role": "wizard"}, {"sub": "not-a-uuid"}, {"agency": "nope"}, {"owner": "x"}, {"sub": ...}, {"role": ...},
    {"typ": ...}, {"exp": ...}, {"iat": ...}, {"auth_time": "yesterday"},
], ids=["role", "sub", "agency", "owner", "no-sub", "no-role", "no-typ", "no-exp", "no-iat", "auth_time"])
def test_malformed_claims(issuer: TokenIssuer, verifier: TokenVerifier, over: dict[str, Any]) -> None:
    assert refused(verifier, sign(issuer._key, issuer.kid, full_claims(**over))).code == "invalid_token"


def test_missing_auth_time_counts_as_ancient_for_staff(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    assert refused(verifier, sign(issuer._key, issuer.kid, full_claims(auth_time=...))).code == \
        "reauthentication_required"


# --- bearer header, roles ----------------------------------------------------------------------------------


def principal(role: Role, scopes: set[str] | None = None) -> Principal:
    return Principal(account_id=uuid.uuid4(), role=role, agency_id=uuid.uuid4(), scopes=frozenset(scopes or ()))


def test_require_role() -> None:
    p = principal(Role.INVESTIGATOR)
    assert require_role(p, Role.INVESTIGATOR, Role.SUPERVISOR) is p
    with pytest.raises(Forbidden):
        require_role(p, Role.SUPERVISOR, Role.AUDITOR)
    with pytest.raises(Forbidden):
        require_role(principal(Role.OWNER), Role.ADVOCATE)
    # Scopes only narrow integrators; staff are not asked for one.
    assert require_role(p, Role.INVESTIGATOR, Role.INTEGRATOR, scope="cameras:search") is p


def test_require_role_integrator_scopes() -> None:
    searching = principal(Role.INTEGRATOR, {"cameras:search"})
    reading = principal(Role.INTEGRATOR, {"cameras:read"})
    assert require_role(searching, Role.INTEGRATOR, scope="cameras:search") is searching
    with pytest.raises(Forbidden) as info:
        require_role(reading, Role.INVESTIGATOR, Role.INTEGRATOR, scope="cameras:search")
    assert "cameras:search" in info.value.message
    with pytest.raises(Forbidden):
        require_role(searching, Role.INVESTIGATOR, scope="cameras:search")  # integrators not admitted at all
    assert require_role(reading, Role.INTEGRATOR) is reading


# --- the error table ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("klass,status,code", [
    (errors.InvalidInput, 422, "invalid_input"), (errors.Unauthenticated, 401, "unauthenticated"),
    (errors.Forbidden, 403, "forbidden"), (errors.NotFound, 404, "not_found"), (errors.Conflict, 409, "conflict"),
    (errors.Gone, 410, "gone"),
    (errors.TooLarge, 413, "too_large"), (errors.UnsupportedMedia, 415, "unsupported_media_type"),
    (errors.Locked, 423, "locked"), (errors.RateLimited, 429, "rate_limited"), (errors.LookoutError, 400, "error"),
])
def test_status_table(klass: type[LookoutError], status: int, code: str) -> None:
    exc = klass("message")
    assert errors.status_for(exc) == status
    assert exc.code == code
    assert klass("m", code="custom").code == "custom"
    assert klass("m").code == code  # a custom code on one instance does not leak into the class


def test_subclass_inherits_status() -> None:
    class Vanished(errors.NotFound):
        code = "vanished"

    assert errors.status_for(Vanished("deleted")) == 404
    assert set(errors.STATUS.values()) == {401, 403, 404, 409, 410, 413, 415, 422, 423, 429}


class Body(BaseModel):
    count: int = Field(ge=1)


def test_error_handlers_shape() -> None:
    app = FastAPI()
    errors.install_error_handlers(app)

    @app.get("/auth")
    def auth() -> None:
        raise Unauthenticated("no token", code="missing_token")

    @app.get("/locked")
    def locked() -> None:
        raise errors.Locked("locked out")

    @app.post("/body")
    def body(data: Body) -> int:
        return data.count

    client = TestClient(app)
    r = client.get("/auth")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"error": {"code": "missing_token", "message": "no token", "field": None}}
    r = client.get("/locked")
    assert (r.status_code, r.json()["error"]["code"]) == (423, "locked")
    assert "www-authenticate" not in r.headers
    r = client.post("/body", json={"count": 0})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"
    assert r.json()["error"]["field"] == "count"
    assert r.json()["error"]["details"][0]["field"] == "body.count"
