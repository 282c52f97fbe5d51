"""Checking an evidence bundle's signature offline against the registry's published key set (JWKS).

`verify.py` proves the files match the manifest; this proves the manifest is the registry's: `manifest.sig` is
a JWS (EdDSA) whose `manifest_sha256` claim must equal the manifest's hash, signed by a key of the JWKS the
registry serves at `/.well-known/jwks.json` (saved beforehand: the check needs no network).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import jwt

from services.registry.evidence.verify import MANIFEST, SIGNATURE

MAX_SIGNATURE = 16 * 1024


@dataclass(frozen=True)
class SignatureCheck:
    """Whether the bundle's manifest carries a valid registry signature, and why not."""

    ok: bool
    message: str


def key_id(bundle_path: str) -> str | None:
    """The key id in the bundle's signature header (None if there is no readable signature)."""
    try:
        with zipfile.ZipFile(bundle_path) as bundle:
            token = bundle.read(SIGNATURE)[:MAX_SIGNATURE].decode().strip()
        return str(jwt.get_unverified_header(token).get("kid"))
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, jwt.InvalidTokenError):
        return None


def check_signature(bundle_path: str, jwks_path: Path) -> SignatureCheck:
    """Check `manifest.sig` against the key set in `jwks_path`; never raises for a hostile bundle."""
    try:
        keys = {k.get("kid"): k for k in json.loads(jwks_path.read_text())["keys"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return SignatureCheck(False, f"cannot read the key set {jwks_path}: {exc}")
    try:
        with zipfile.ZipFile(bundle_path) as bundle:
            if SIGNATURE not in bundle.namelist():
                return SignatureCheck(False, f"the bundle has no {SIGNATURE}: its origin cannot be proven")
            token = bundle.read(SIGNATURE)[:MAX_SIGNATURE].decode().strip()
            digest = hashlib.sha256(bundle.read(MANIFEST)).hexdigest()
        kid = jwt.get_unverified_header(token).get("kid")
        if kid not in keys:
            return SignatureCheck(False, f"signed with key {kid!r}, which is not in {jwks_path}")
        claims = jwt.decode(token, jwt.PyJWK(keys[kid]).key, algorithms=["EdDSA"],
                            options={"require": ["manifest_sha256"], "verify_aud": False})
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, jwt.PyJWTError) as exc:
        return SignatureCheck(False, f"signature invalid: {exc}")
    if claims.get("manifest_sha256") != digest:
        return SignatureCheck(False, "the signature is for another manifest: the manifest was replaced")
    return SignatureCheck(True, f"signed by the registry key {kid} on the manifest sha256={digest}")
