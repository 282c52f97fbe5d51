"""Contact encryption at rest and blind indexes (services/registry/crypto.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from services.registry.crypto import ContactCipher, load_cipher
from services.registry.settings import SecuritySettings


def test_round_trip_and_ciphertext_hides_plaintext() -> None:
    cipher = ContactCipher([Fernet.generate_key()])
    token = cipher.encrypt("Dana Whitfield")
    assert token is not None and b"Dana" not in token
    assert cipher.decrypt(token) == "Dana Whitfield"
    assert cipher.encrypt(None) is None and cipher.decrypt(None) is None


def test_rotation_new_key_first_still_reads_old_data_and_keeps_the_index() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    before = ContactCipher([old])
    token = before.encrypt("555-0100")
    after = ContactCipher([new, old])
    assert after.decrypt(token) == "555-0100"
    assert Fernet(new).decrypt(after.encrypt("x") or b"") == b"x"  # new data uses the new key
    assert after.blind_index("Owner@Example.org") == before.blind_index("owner@example.org ")


def test_wrong_key_is_a_clear_error() -> None:
    token = ContactCipher([Fernet.generate_key()]).encrypt("secret")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        ContactCipher([Fernet.generate_key()]).decrypt(token)


def test_blind_index_is_keyed() -> None:
    a, b = ContactCipher([Fernet.generate_key()]), ContactCipher([Fernet.generate_key()])
    assert a.blind_index("x@example.org") != b.blind_index("x@example.org")
    assert len(a.blind_index("x@example.org")) == 64


def test_key_file_created_owner_only(tmp_path: Path) -> None:
    settings = SecuritySettings(data_key_file=str(tmp_path / "k"))
    cipher = load_cipher(settings)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert load_cipher(settings).decrypt(cipher.encrypt("same key")) == "same key"
