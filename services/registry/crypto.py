"""Contact data at rest: Fernet encryption (rotatable keys) and keyed blind indexes for look-ups."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.registry.settings import SecuritySettings


class ContactCipher:
    """Encrypts personal fields; the newest key encrypts, every listed key decrypts."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one data key is required")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        # The blind-index key is derived, so one secret protects both and rotation stays simple.
        self._index_key = hashlib.sha256(b"lookout-blind-index:" + keys[-1]).digest()

    def encrypt(self, value: str | None) -> bytes | None:
        """Ciphertext of a personal field (None stays None)."""
        return None if value is None else self._fernet.encrypt(value.encode())

    def decrypt(self, token: bytes | None) -> str | None:
        """Plaintext of a personal field; raises ValueError when the key does not fit."""
        if token is None:
            return None
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken as exc:
            raise ValueError("contact data cannot be decrypted with the configured keys") from exc

    def blind_index(self, value: str) -> str:
        """A keyed digest of a normalised value, to find a row by email without storing it in clear."""
        return hmac.new(self._index_key, value.strip().lower().encode(), hashlib.sha256).hexdigest()


def load_cipher(settings: SecuritySettings) -> ContactCipher:
    """Keys from `REGISTRY_DATA_KEYS`, else from the key file (created 0600 on first start)."""
    if settings.data_keys:
        return ContactCipher([k.strip().encode() for k in settings.data_keys.split(",") if k.strip()])
    path = Path(settings.data_key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
    return ContactCipher([line.strip() for line in path.read_bytes().splitlines() if line.strip()])
