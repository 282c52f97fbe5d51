"""Short-lived signed download links: the link is the capability, so the file store is never served directly.

A token is `base64url(payload).base64url(HMAC-SHA256(key, payload))` where the payload packs a version byte, the
file id, the account the link was issued to, and the expiry (Unix seconds). The key is
REGISTRY_EVIDENCE_LINK_KEY, or derived with HKDF from the registry's data key when that is empty; rotating the
data key only invalidates links that live minutes anyway.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.common.errors import Forbidden, Gone
from services.registry.settings import RegistrySettings

VERSION = 1
_PAYLOAD = struct.Struct(">B16s16sQ")
HKDF_INFO = b"lookout evidence download links v1"


@dataclass(frozen=True)
class LinkClaims:
    """What a valid token says: which file, for whom, until when."""

    file_id: uuid.UUID
    account_id: uuid.UUID
    expires_at: datetime


@functools.cache
def _derived_key(link_key: str, data_keys: str, data_key_file: str) -> bytes:
    if link_key:
        return hashlib.sha256(link_key.encode()).digest()
    if data_keys:
        keys = [k.strip().encode() for k in data_keys.split(",") if k.strip()]
    else:
        keys = [line.strip() for line in Path(data_key_file).read_bytes().splitlines() if line.strip()]
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO)
    return hkdf.derive(keys[-1])  # the oldest key still listed, as the blind index uses: stable across rotation


def link_key(settings: RegistrySettings) -> bytes:
    """The HMAC key of download links for these settings."""
    sec = settings.security
    return _derived_key(settings.evidence.link_key, sec.data_keys, sec.data_key_file)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(*, key: bytes, file_id: uuid.UUID, account_id: uuid.UUID, ttl_s: int,
         now: datetime) -> tuple[str, datetime]:
    """A token for one file and one account, and when it expires."""
    expires_at = (now + timedelta(seconds=ttl_s)).replace(microsecond=0)
    payload = _PAYLOAD.pack(VERSION, file_id.bytes, account_id.bytes, int(expires_at.timestamp()))
    return f"{_b64(payload)}.{_b64(hmac.new(key, payload, hashlib.sha256).digest())}", expires_at


def verify(token: str, *, key: bytes, now: datetime) -> LinkClaims:
    """The claims of an authentic, unexpired token; Forbidden `invalid_link` or Gone `link_expired` otherwise."""
    invalid = Forbidden("this download link is not valid", code="invalid_link")
    body, _, mac = token.partition(".")
    try:
        payload, signature = _unb64(body), _unb64(mac)
    except (binascii.Error, ValueError):
        raise invalid from None
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected) or len(payload) != _PAYLOAD.size:
        raise invalid
    version, file_id, account_id, expiry = _PAYLOAD.unpack(payload)
    if version != VERSION:
        raise invalid
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if now >= expires_at:
        raise Gone("this download link has expired; ask for a new one", code="link_expired")
    return LinkClaims(uuid.UUID(bytes=file_id), uuid.UUID(bytes=account_id), expires_at)
