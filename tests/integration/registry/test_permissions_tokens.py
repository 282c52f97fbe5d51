"""Forged, tampered, expired and wrong-type tokens get 401 everywhere, and a refused write changes nothing."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.accounts.tokens import TokenIssuer, load_signing_key
from services.registry.deps import Registry
from services.registry.owners.models import Camera
from tests import builders as b

Forge = Callable[[Registry, b.Person], str]


def _claims(registry: Registry, person: b.Person) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(person.token, options={"verify_signature": False})
    return claims


def _sign(registry: Registry, claims: dict[str, Any], *, key: Any = None, kid: str | None = None) -> str:
    """Sign with the registry's own key (the file the test registry keeps it in) unless told otherwise."""
    key = key or load_signing_key(registry.settings.security.signing_key_file)
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid or registry.kit.issuer.kid})


def _resigned(**changes: Any) -> Forge:
    """The person's own claims with some changed (None removes one), signed with the real key."""
    def forge(registry: Registry, person: b.Person) -> str:
        claims = {**_claims(registry, person), **changes}
        return _sign(registry, {k: v for k, v in claims.items() if v is not None})
    return forge


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tampered(registry: Registry, person: b.Person) -> str:
    """Claims rewritten to a supervisor of the same agency, signature left as it was."""
    header, _, signature = person.token.split(".")
    claims = {**_claims(registry, person), "role": "supervisor", "scope": "cameras:search"}
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def other_key(registry: Registry, person: b.Person) -> str:
    """A well-formed token from an issuer with its own key and kid."""
    issuer = TokenIssuer(Ed25519PrivateKey.generate(), access_ttl_s=900, staff_session_max_s=12 * 3600)
    claims = {k: v for k, v in _claims(registry, person).items() if k not in {"iat", "exp", "jti", "typ", "iss", "aud"}}
    return issuer.issue(claims, auth_time=int(time.time()), session_max_s=3600).access_token


def other_key_same_kid(registry: Registry, person: b.Person) -> str:
    """Another key pretending to be the registry's (same kid header)."""
    return _sign(registry, _claims(registry, person), key=Ed25519PrivateKey.generate())


def refresh_as_access(registry: Registry, person: b.Person) -> str:
    """A real refresh token for the person: signed and unexpired, but of type `refresh`."""
    claims = {k: v for k, v in _claims(registry, person).items() if k not in {"iat", "exp", "jti", "typ", "iss", "aud"}}
    return registry.kit.issuer.issue(claims, auth_time=int(time.time()), session_max_s=3600).refresh_token


def expired(registry: Registry, person: b.Person) -> str:
    """A genuine token whose sign-in session ended an hour ago."""
    claims = {k: v for k, v in _claims(registry, person).items() if k not in {"iat", "exp", "jti", "typ", "iss", "aud"}}
    return registry.kit.issuer.issue(claims, auth_time=int(time.time()) - 7200, session_max_s=3600).access_token


def unsigned(registry: Registry, person: b.Person) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": registry.kit.issuer.kid}).encode())
    return f"{header}.{_b64(json.dumps(_claims(registry, person)).encode())}."


def hmac_with_public_key(registry: Registry, person: b.Person) -> str:
    """Algorithm confusion: HS256 keyed with the published public key."""
    public = registry.kit.issuer.jwks()["keys"][0]["x"].encode()
    header = {"alg": "HS256", "kid": registry.kit.issuer.kid}
    return jwt.api_jws.encode(json.dumps(_claims(registry, person)).encode(), public.ljust(32, b"="),
                              algorithm="HS256", headers=header)


BAD: dict[str, tuple[Forge, str]] = {
    "tampered payload": (tampered, "invalid_token"),
    "other key": (other_key, "invalid_token"),
    "other key, same kid": (other_key_same_kid, "invalid_token"),
    "refresh token as access": (refresh_as_access, "invalid_token"),
    "expired": (expired, "token_expired"),
    "expired, re-signed": (_resigned(exp=int(time.time()) - 60), "token_expired"),
    "wrong audience": (_resigned(aud="someone-else"), "invalid_token"),
    "wrong issuer": (_resigned(iss="evil-registry"), "invalid_token"),
    "no role claim": (_resigned(role=None), "invalid_token"),
    "no typ claim": (_resigned(typ=None), "invalid_token"),
    "unknown role": (_resigned(role="root"), "invalid_token"),
    "bad subject": (_resigned(sub="not-a-uuid"), "invalid_token"),
    "alg none": (unsigned, "invalid_token"),
    "HS256 with public key": (hmac_with_public_key, "invalid_token"),
    "garbage": (lambda r, p: "not.a.jwt", "invalid_token"),
}


def _check_refused(response: Any, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("forge", "code"), list(BAD.values()), ids=list(BAD))
def test_bad_token_is_refused_on_reads(client: TestClient, db: Session, registry: Registry, forge: Forge,
                                       code: str) -> None:
    agency = b.make_agency(db)
    supervisor = b.make_staff(db, registry, agency, Role.SUPERVISOR)
    assert client.get("/v1/accounts", headers=supervisor.headers).status_code == 200
    header = {"Authorization": f"Bearer {forge(registry, supervisor)}"}
    for path in ("/v1/accounts", "/v1/auth/me", "/v1/audit/events"):
        _check_refused(client.get(path, headers=header), code)


@pytest.mark.parametrize(("forge", "code"), list(BAD.values()), ids=list(BAD))
def test_bad_token_changes_nothing(client: TestClient, db: Session, registry: Registry, forge: Forge,
                                   code: str) -> None:
    b.make_agency(db)
    owner = b.make_owner(db, registry)
    site = b.make_site(db, registry, owner)
    camera = b.make_camera(db, registry, owner, site, label="Front door")
    header = {"Authorization": f"Bearer {forge(registry, owner)}"}
    _check_refused(client.patch(f"/v1/cameras/{camera.id}", headers=header, json={"label": "Changed"}), code)
    _check_refused(client.delete(f"/v1/cameras/{camera.id}", headers=header), code)
    _check_refused(client.delete("/v1/owners/me", headers=header), code)
    db.expire_all()
    kept = db.get(Camera, camera.id)
    assert kept is not None and kept.label == "Front door"
    assert client.get("/v1/owners/me", headers=owner.headers).status_code == 200


def test_resigned_control_token_is_accepted(client: TestClient, db: Session, registry: Registry) -> None:
    """The forging helpers themselves make valid tokens: only the change they make is refused."""
    supervisor = b.make_staff(db, registry, b.make_agency(db), Role.SUPERVISOR)
    token = _resigned()(registry, supervisor)
    assert client.get("/v1/accounts", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_staff_must_sign_in_again_after_twelve_hours(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db)
    investigator = b.make_staff(db, registry, agency, Role.INVESTIGATOR)
    stale = _resigned(auth_time=int(time.time()) - 13 * 3600)(registry, investigator)
    response = client.get("/v1/search/cameras", headers={"Authorization": f"Bearer {stale}"},
                          params={"lon": -81.7745, "lat": 28.5565, "radius_m": 300, "case_number": "C-1"})
    _check_refused(response, "reauthentication_required")


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_missing_or_malformed_authorization_header(client: TestClient, header: str) -> None:
    response = client.get("/v1/auth/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "missing_token"


def test_access_token_cannot_refresh(client: TestClient, db: Session, registry: Registry) -> None:
    owner = b.make_owner(db, registry)
    refused = client.post("/v1/auth/refresh", json={"refresh_token": owner.token})
    _check_refused(refused, "invalid_token")
    good = client.post("/v1/auth/refresh", json={"refresh_token": refresh_as_access(registry, owner)})
    assert good.status_code == 200, good.text
    assert client.get("/v1/owners/me", headers={"Authorization": f"Bearer {good.json()['access_token']}"}).json()[
        "id"] == str(owner.owner_id)
