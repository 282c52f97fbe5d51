"""Evidence storage: the local folder, and S3 through moto's real HTTP server (multipart composition included)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.registry.evidence.storage import MIN_PART, LocalStorage, S3Storage, Storage, StorageBusy, new_key
from services.registry.settings import EvidenceSettings
from tests.support.s3 import moto_s3

PART = MIN_PART  # the smallest part S3 accepts, so a few parts make a small test
BUCKET = "lookout-evidence"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 as a real HTTP server on loopback."""
    with moto_s3() as endpoint:
        yield endpoint


def s3_settings(endpoint: str, prefix: str) -> EvidenceSettings:
    return EvidenceSettings(storage="s3", s3_endpoint_url=endpoint, s3_bucket=BUCKET, s3_access_key="test",
                            s3_secret_key="test", s3_prefix=prefix)


@pytest.fixture
def s3(s3_endpoint: str, request: pytest.FixtureRequest) -> S3Storage:
    """An S3Storage on its own prefix of the bucket."""
    store = S3Storage(s3_settings(s3_endpoint, f"t-{request.node.name[-40:]}-{os.getpid()}/"), part_bytes=PART)
    with contextlib.suppress(store.client.exceptions.BucketAlreadyOwnedByYou):
        store.client.create_bucket(Bucket=BUCKET)
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Each backend in turn."""
    if request.param == "local":
        return LocalStorage(tmp_path / "evidence")
    s3_store: S3Storage = request.getfixturevalue("s3")
    return s3_store


def blob(size: int, seed: int = 1) -> bytes:
    """Deterministic bytes that differ at every offset (a shifted part would not compare equal)."""
    out, counter = bytearray(), 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def append(store: Storage, key: str, data: bytes, pieces: list[int]) -> None:
    """Write `data` through one writer per piece (a resumable upload's PATCHes), in odd-sized writes."""
    start = 0
    for end in [*pieces, len(data)]:
        writer = store.append(key)
        assert writer.offset == start
        for i in range(start, end, 777_777):
            writer.write(data[i:min(i + 777_777, end)])
        writer.close()
        start = end


def read_all(store: Storage, key: str, **kw: Any) -> bytes:
    return b"".join(store.read(key, **kw))


@pytest.mark.parametrize("size", [1, 4000, PART - 1, PART, PART + 1, 3 * PART + 12345])
def test_append_read_seal_delete(store: Storage, size: int) -> None:
    data, key = blob(size), new_key()
    assert store.size(key) is None and key not in store.stored_keys()
    cut = [size // 3, 2 * size // 3] if size > 3 else []
    append(store, key, data, cut)
    assert store.size(key) == size
    assert read_all(store, key) == data  # readable before sealing: a lost hasher re-reads the prefix
    assert read_all(store, key, limit=size // 2, chunk_bytes=65536) == data[:size // 2]
    store.seal(key)
    assert store.size(key) == size and read_all(store, key, chunk_bytes=100_000) == data
    assert store.stored_keys() == [key]
    store.delete(key)
    assert store.size(key) is None and store.stored_keys() == []
    store.delete(key)  # nothing there: no error


def test_unfinished_upload_is_deleted_completely(store: Storage) -> None:
    key = new_key()
    append(store, key, blob(2 * PART + 10), [PART + 3])
    store.delete(key)
    assert store.stored_keys() == []


def test_keys_are_only_generated_names(store: Storage) -> None:
    for hostile in ("../../etc/passwd", "/etc/passwd", "a" * 31, "A" * 32, "0" * 31 + "/", "", "0" * 32 + "\x00"):
        with pytest.raises(ValueError, match="not a storage key"):
            store.append(hostile)
        with pytest.raises(ValueError, match="not a storage key"):
            store.delete(hostile)


def test_local_second_writer_is_refused(tmp_path: Path) -> None:
    store, key = LocalStorage(tmp_path / "evidence"), new_key()
    first = store.append(key)
    with pytest.raises(StorageBusy):
        store.append(key)
    first.write(b"abc")
    first.close()
    second = store.append(key)
    assert second.offset == 3
    second.close()
    assert os.stat(tmp_path / "evidence" / key).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "evidence").st_mode & 0o777 == 0o700


def test_s3_stores_one_object_composed_from_parts(s3: S3Storage) -> None:
    data, key = blob(3 * PART + 99), new_key()
    append(s3, key, data, [PART // 2, 2 * PART + 7])
    listed = s3.client.list_objects_v2(Bucket=BUCKET, Prefix=s3.prefix)["Contents"]
    # Until sealed: full parts plus one short tail, each an ordinary object.
    assert sorted(o["Size"] for o in listed) == [99, PART, PART, PART]
    s3.seal(key)
    listed = s3.client.list_objects_v2(Bucket=BUCKET, Prefix=s3.prefix)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [(f"{s3.prefix}{key}", len(data))]
    head = s3.client.head_object(Bucket=BUCKET, Key=f"{s3.prefix}{key}")
    assert head["ETag"].strip('"').endswith("-4")  # a multipart object of four parts
    got = s3.client.get_object(Bucket=BUCKET, Key=f"{s3.prefix}{key}")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert s3.client.list_multipart_uploads(Bucket=BUCKET, Prefix=s3.prefix).get("Uploads", []) == []


def test_s3_cannot_append_to_a_sealed_object_and_cleans_a_dead_seal(s3: S3Storage) -> None:
    key = new_key()
    append(s3, key, blob(100), [])
    s3.seal(key)
    with pytest.raises(Exception, match="sealed"):
        s3.append(key)
    # A seal that died half-way leaves a multipart upload; delete aborts it too.
    other = new_key()
    s3.client.create_multipart_upload(Bucket=BUCKET, Key=f"{s3.prefix}{other}")
    assert other in s3.stored_keys()
    s3.delete(other)
    s3.delete(key)
    assert s3.stored_keys() == []


def test_s3_part_size_floor(s3_endpoint: str) -> None:
    with pytest.raises(ValueError, match="at least"):
        S3Storage(s3_settings(s3_endpoint, "x/"), part_bytes=PART - 1)


def test_s3_memory_is_one_part(s3: S3Storage) -> None:
    # The writer never holds more than one part plus the write in hand, whatever the object's size.
    key = new_key()
    writer, peak = s3.append(key), 0
    for i in range(12):
        writer.write(blob(1_000_000, seed=i))
        peak = max(peak, len(writer._buffer))  # type: ignore[attr-defined]
    writer.close()
    assert peak < PART and s3.size(key) == 12_000_000
    s3.delete(key)
