"""The token issuer: Ed25519-signed JWTs and the JWKS that lets other services verify them offline."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.auth import AUDIENCE, ISSUER, TokenVerifier


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class TokenPair:
    """What a successful login or refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: int


class TokenIssuer:
    """Signs access and refresh tokens with the registry's private key."""

    def __init__(self, key: Ed25519PrivateKey, *, access_ttl_s: int, staff_session_max_s: int) -> None:
        self._key = key
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self._public = {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
        # RFC 7638 thumbprint: the kid changes exactly when the key does.
        self.kid = _b64(hashlib.sha256(json.dumps(self._public, separators=(",", ":"),
                                                  sort_keys=True).encode()).digest())
        self.access_ttl_s = access_ttl_s
        self.staff_session_max_s = staff_session_max_s

    def jwks(self) -> dict[str, Any]:
        """The public key set served at `/.well-known/jwks.json`."""
        return {"keys": [{**self._public, "kid": self.kid, "use": "sig", "alg": "EdDSA"}]}

    def verifier(self) -> TokenVerifier:
        """A verifier for this issuer's own tokens."""
        return TokenVerifier(jwks=self.jwks(), staff_session_max_s=self.staff_session_max_s)

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.kid})

    def sign_statement(self, claims: dict[str, Any]) -> str:
        """A JWS over `claims` (not a token: no audience, no expiry), checkable with the published JWKS."""
        return self._sign({**claims, "iss": ISSUER, "iat": int(time.time())})

    def issue(self, claims: dict[str, Any], *, auth_time: int, session_max_s: int) -> TokenPair:
        """An access token (short) and a refresh token that dies when the sign-in session must end."""
        now = int(time.time())
        base = {**claims, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "auth_time": auth_time}
        access_exp = min(now + self.access_ttl_s, auth_time + session_max_s)
        access = self._sign({**base, "typ": "access", "exp": access_exp, "jti": str(uuid.uuid4())})
        refresh = self._sign({**base, "typ": "refresh", "exp": auth_time + session_max_s,
                              "jti": str(uuid.uuid4())})
        return TokenPair(access, refresh, access_exp - now)


def load_signing_key(path: str) -> Ed25519PrivateKey:
    """Read the PEM private key, or create one (mode 0600) on first start."""
    file = Path(path)
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    key = serialization.load_pem_private_key(file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key
