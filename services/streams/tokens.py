"""Viewer tokens: short-lived, signed by the relay, good for one stream session and one account only."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

from services.common.errors import Forbidden, Unauthenticated

AUDIENCE = "lookout-streams-viewer"


@dataclass(frozen=True)
class ViewerGrant:
    """What a valid viewer token says."""

    session_id: str
    account_id: str
    agency_id: str


class ViewerTokens:
    """Issues and checks HS256 viewer tokens with the relay's own key (the registry's keys sign identities)."""

    def __init__(self, key: str = "", ttl_s: int = 120) -> None:
        self._key = key.encode() if key else secrets.token_bytes(32)
        self.ttl_s = ttl_s

    def issue(self, *, session_id: str, account_id: str, agency_id: str, now: float | None = None) -> tuple[str, int]:
        """A token for one session and its expiry (epoch seconds)."""
        issued = int(now if now is not None else time.time())
        expires = issued + self.ttl_s
        claims = {"aud": AUDIENCE, "sid": session_id, "sub": account_id, "agency": agency_id, "iat": issued,
                  "exp": expires}
        return jwt.encode(claims, self._key, algorithm="HS256"), expires

    def check(self, token: str, *, session_id: str) -> ViewerGrant:
        """The grant of a token for exactly this session; 401 when invalid, 403 for another session."""
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"], audience=AUDIENCE,
                                options={"require": ["exp", "sid", "sub", "agency"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("viewer token expired; ask for a new one", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid viewer token", code="invalid_token") from None
        if claims["sid"] != session_id:
            raise Forbidden("this viewer token is for another stream session", code="wrong_session")
        return ViewerGrant(session_id=str(claims["sid"]), account_id=str(claims["sub"]),
                           agency_id=str(claims["agency"]))
