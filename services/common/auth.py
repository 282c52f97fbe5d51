"""Offline verification of the registry's access tokens (EdDSA JWTs checked against its JWKS)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
import jwt

from services.common.errors import Forbidden, Unauthenticated


class Role(StrEnum):
    """Every role of DESIGN.md section 5."""

    OWNER = "owner"
    ADVOCATE = "advocate"
    INVESTIGATOR = "investigator"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    INTEGRATOR = "integrator"
    DEVICE = "device"


# People who work for an agency: they sign in with TOTP and again at least every 12 hours. Advocates are
# among them because they read and write owners' contact data.
STAFF_ROLES = frozenset({Role.ADVOCATE, Role.INVESTIGATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.AUDITOR})
ISSUER = "lookout-registry"
AUDIENCE = "lookout"


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the token says."""

    account_id: uuid.UUID
    role: Role
    agency_id: uuid.UUID | None
    owner_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    auth_time: int = 0

    def has(self, *roles: Role) -> bool:
        """True when the principal holds one of these roles."""
        return self.role in roles


@dataclass
class TokenVerifier:
    """Verifies access tokens against a JWKS; refreshes the key set once when it meets an unknown key."""

    jwks: dict[str, Any]
    staff_session_max_s: int = 12 * 3600
    jwks_url: str | None = None
    leeway_s: int = 5
    _keys: dict[str, Any] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._load(self.jwks)

    def _load(self, jwks: dict[str, Any]) -> None:
        self._keys = {k["kid"]: jwt.PyJWK(k).key for k in jwks.get("keys", []) if "kid" in k}

    @classmethod
    def from_source(cls, *, jwks_json: str, jwks_url: str, staff_session_max_s: int) -> TokenVerifier:
        """The registry's keys from inline JWKS JSON when given, else fetched from its JWKS URL."""
        if jwks_json:
            return cls(jwks=json.loads(jwks_json), staff_session_max_s=staff_session_max_s)
        return cls.from_url(jwks_url, staff_session_max_s=staff_session_max_s)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> TokenVerifier:
        """Build a verifier from the registry's `/.well-known/jwks.json`."""
        jwks = httpx.get(url, timeout=5).raise_for_status().json()
        return cls(jwks=jwks, jwks_url=url, **kwargs)

    def _key_for(self, kid: str) -> Any:
        if kid not in self._keys and self.jwks_url:
            self._load(httpx.get(self.jwks_url, timeout=5).raise_for_status().json())
        if kid not in self._keys:
            raise Unauthenticated("token signed by an unknown key", code="invalid_token")
        return self._keys[kid]

    def verify(self, token: str, *, typ: str = "access") -> Principal:
        """Check signature, issuer, audience, expiry, type and staff session age; return the principal."""
        try:
            kid = jwt.get_unverified_header(token).get("kid", "")
            claims = jwt.decode(
                token, self._key_for(kid), algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER,
                leeway=self.leeway_s, options={"require": ["exp", "iat", "sub", "role", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("token expired", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}", code="invalid_token") from exc
        if claims["typ"] != typ:
            raise Unauthenticated(f"a {claims['typ']} token cannot be used here", code="invalid_token")
        return principal_from_claims(claims, staff_session_max_s=self.staff_session_max_s)


def principal_from_claims(claims: dict[str, Any], *, staff_session_max_s: int) -> Principal:
    """Turn verified claims into a Principal, enforcing re-authentication of staff."""
    try:
        role = Role(claims["role"])
        principal = Principal(
            account_id=uuid.UUID(claims["sub"]),
            role=role,
            agency_id=uuid.UUID(claims["agency"]) if claims.get("agency") else None,
            owner_id=uuid.UUID(claims["owner"]) if claims.get("owner") else None,
            scopes=frozenset(claims.get("scope", "").split()),
            auth_time=int(claims.get("auth_time", 0)),
        )
    except (ValueError, KeyError) as exc:
        raise Unauthenticated("invalid token claims", code="invalid_token") from exc
    if role in STAFF_ROLES and time.time() - principal.auth_time > staff_session_max_s:
        raise Unauthenticated("staff must sign in again (12 hour limit)", code="reauthentication_required")
    return principal


def require_role(principal: Principal, *roles: Role, scope: str | None = None) -> Principal:
    """Raise Forbidden unless the principal holds one of the roles (and, for integrators, the scope)."""
    if principal.role not in roles:
        raise Forbidden(f"role '{principal.role}' may not do this")
    if principal.role is Role.INTEGRATOR and scope and scope not in principal.scopes:
        raise Forbidden(f"this client lacks the '{scope}' scope")
    return principal
