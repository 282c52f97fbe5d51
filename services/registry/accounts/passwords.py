"""Memory-hard password hashing (Argon2id) and TOTP second factors."""

from __future__ import annotations

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.registry.settings import SecuritySettings

MIN_PASSWORD_LENGTH = 12


def hasher(settings: SecuritySettings) -> PasswordHasher:
    """An Argon2id hasher with the configured cost."""
    return PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib)


def verify_password(ph: PasswordHasher, stored: str, password: str) -> bool:
    """True when the password matches the stored hash."""
    try:
        return ph.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret."""
    return pyotp.random_base32()


def totp_uri(secret: str, *, account_name: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def totp_ok(secret: str, code: str) -> bool:
    """True for the current code or its immediate neighbours (clock drift)."""
    return pyotp.TOTP(secret).verify(code.strip(), valid_window=1)
