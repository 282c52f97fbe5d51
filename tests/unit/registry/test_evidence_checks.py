"""The small pure pieces of evidence: type sniffing on real files, file-name cleaning, signed download links."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from services.common.errors import Forbidden, Gone, InvalidInput
from services.registry.evidence import links
from services.registry.evidence.names import clean_filename, content_disposition
from services.registry.evidence.sniff import sniff
from services.registry.settings import EvidenceSettings, RegistrySettings, SecuritySettings

REAL = {"mp4": "video/mp4", "mov": "video/quicktime", "mkv": "video/x-matroska", "webm": "video/webm",
        "avi": "video/x-msvideo", "ts": "video/mp2t", "jpg": "image/jpeg", "png": "image/png"}


@pytest.fixture(scope="module")
def real_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """One second of ffmpeg's test pattern in every container evidence accepts."""
    assert shutil.which("ffmpeg"), "ffmpeg is needed (make system-test installs it)"
    folder = tmp_path_factory.mktemp("real")
    out = {}
    for kind in REAL:
        path = folder / f"x.{kind}"
        extra = ["-frames:v", "1"] if kind in ("jpg", "png") else ["-pix_fmt", "yuv420p"]
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=d=1:s=160x120:r=10", *extra,
                        str(path)], check=True, timeout=120)
        out[kind] = Path(path).read_bytes()
    return out


@pytest.mark.parametrize("kind", sorted(REAL))
def test_real_files_are_recognised(kind: str, real_files: dict[str, bytes]) -> None:
    assert sniff(real_files[kind][:4096]) == REAL[kind]


@pytest.mark.parametrize("head", [
    b"<!DOCTYPE html><html>", b"<?xml version='1.0'?><svg", b"PK\x03\x04\x14\x00", b"MZ\x90\x00", b"\x7fELF\x02",
    b"%PDF-1.7", b"#!/bin/sh\n", b"ID3\x03\x00", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"GIF89a",
    b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",  # a still photo in an ISO container
    b"\x00\x00\x00\x14ftypM4A \x00\x00\x00\x00",  # audio only
    b"\x00\x00\x00\x10ftypzzzz\x00\x00\x00\x00",  # unknown brand
    b"\x00\x00\x00\x07ftypisom",  # a box too short to be real
    b"\x1a\x45\xdf\xa3\x00\x00\x00\x00",  # EBML but not Matroska
    b"\x47" + b"\x00" * 187 + b"\x48" + b"\x00" * 400,  # a lone 0x47 is not a transport stream
    b"\x47" + b"\x00" * 100,  # too short to tell
    b"", b"\xff\xd8",
])
def test_other_content_is_not_recognised(head: bytes) -> None:
    assert sniff(head) is None


def test_sniffing_ignores_everything_but_bytes(real_files: dict[str, bytes]) -> None:
    # An MP4 is an MP4 whatever it is called; a page called clip.mp4 is not.
    assert sniff(real_files["mp4"][:64]) == "video/mp4"
    assert sniff(b"<html>" + real_files["mp4"]) is None


@pytest.mark.parametrize(("raw", "clean"), [
    ("clip.mp4", "clip.mp4"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\..\\Videos\\porch.mov", "porch.mov"),
    ("a\x00b.mp4", "ab.mp4"),
    ("line\nbreak\r.mp4", "linebreak.mp4"),
    ("evil\u202egpj.exe", "evilgpj.exe"),
    ("zero\u200bwidth.mp4", "zerowidth.mp4"),
    ("...hidden", "hidden"),
    ("trailing. . .", "trailing"),
    ("a..b.mp4", "a.b.mp4"),
    ('what?<is>:"this"|*.mp4', "what__is___this___.mp4"),
    ("con.mp4", "_con.mp4"),
    ("LPT1", "_LPT1"),
    ("Cafe\u0301 front.mp4", "Caf\u00e9 front.mp4"),
    ("porch video 2026-11-21 19:04.mp4", "porch video 2026-11-21 19_04.mp4"),
])
def test_names_are_made_harmless(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


@pytest.mark.parametrize("raw", ["..", "/", "\\", "\x00", " . ", "dir/", "\u202e", "C:\\"])
def test_names_with_nothing_left_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as err:
        clean_filename(raw)
    assert err.value.code == "invalid_filename" and err.value.field == "filename"


def test_long_names_keep_their_extension_within_255_bytes() -> None:
    name = clean_filename("\u00e9" * 300 + ".mp4")
    assert name.endswith(".mp4") and len(name.encode()) <= 255
    assert clean_filename("x" * 1000) == "x" * 255


def test_content_disposition_carries_the_exact_name_safely() -> None:
    header = content_disposition('caf\u00e9 "porch".mp4')
    assert header == ("attachment; filename=\"caf_ _porch_.mp4\"; "
                      "filename*=UTF-8''caf%C3%A9%20%22porch%22.mp4")
    assert "\n" not in content_disposition(clean_filename("a\nb.mp4"))


NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = b"k" * 32


def test_link_round_trip_and_expiry() -> None:
    file_id, account_id = uuid.uuid4(), uuid.uuid4()
    token, expires = links.sign(key=KEY, file_id=file_id, account_id=account_id, ttl_s=300, now=NOW)
    assert expires == NOW + timedelta(seconds=300) and len(token) < 120
    claims = links.verify(token, key=KEY, now=NOW + timedelta(seconds=299))
    assert (claims.file_id, claims.account_id, claims.expires_at) == (file_id, account_id, expires)
    with pytest.raises(Gone) as err:
        links.verify(token, key=KEY, now=expires)
    assert err.value.code == "link_expired"


def test_forged_links_are_refused_before_expiry_is_even_read() -> None:
    token, _ = links.sign(key=KEY, file_id=uuid.uuid4(), account_id=uuid.uuid4(), ttl_s=300, now=NOW)
    body, mac = token.split(".")
    longer, _ = links.sign(key=KEY, file_id=uuid.uuid4(), account_id=uuid.uuid4(), ttl_s=10**6, now=NOW)
    forged = [f"{longer.split('.')[0]}.{mac}",  # another payload (say, a later expiry) under this signature
              token.replace(".", ".A"), f"{body}.", ".", "", "\u00e9", f"{body}.{mac}.x", f"{body}!.{mac}"]
    for bad in forged:
        with pytest.raises(Forbidden):
            links.verify(bad, key=KEY, now=NOW)
    with pytest.raises(Forbidden):  # an expired link signed with another key is forged, not expired
        links.verify(token, key=b"other" * 8, now=NOW + timedelta(days=1))


def test_link_key_comes_from_the_setting_or_the_data_key(tmp_path: Path) -> None:
    data_key = Fernet.generate_key().decode()

    def settings(link_key: str = "", data_keys: str = data_key, key_file: str = "") -> RegistrySettings:
        return RegistrySettings(evidence=EvidenceSettings(link_key=link_key),
                                security=SecuritySettings(data_keys=data_keys, data_key_file=key_file))

    derived = links.link_key(settings())
    assert len(derived) == 32 and derived != data_key.encode()
    assert links.link_key(settings(data_keys=f"{Fernet.generate_key().decode()},{data_key}")) == derived  # rotated
    assert links.link_key(settings(link_key="an explicit secret")) not in (derived, b"an explicit secret")
    key_file = tmp_path / "data-key"
    key_file.write_text(data_key + "\n")
    assert links.link_key(settings(data_keys="", key_file=str(key_file))) == derived
