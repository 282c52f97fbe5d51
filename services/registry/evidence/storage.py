"""Where evidence bytes live: a local folder or an S3-compatible store, behind one small interface.

Objects are named by server-generated keys (32 hex digits), never by anything a client sent, so no file name can
reach a filesystem path or an object key. An object is written by appending (a resumable upload is many appends,
possibly from several processes over time), then sealed once its last byte arrived; only sealed objects are
evidence. Memory stays bounded by the chunk (local) or one multipart part (S3), whatever the object's size.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from services.common.errors import Conflict
from services.registry.settings import EvidenceSettings

KEY = re.compile(r"[0-9a-f]{32}")
READ_BYTES = 1024 * 1024


def new_key() -> str:
    """A fresh storage key (random; says nothing about the file or its owner)."""
    return uuid.uuid4().hex


def check_key(key: str) -> str:
    """The key itself, if it is one this module generated; anything else is a programming error."""
    if not KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class StorageBusy(Conflict):
    """Another writer holds the object (a second PATCH of the same upload in flight)."""

    code = "upload_busy"


class Writer(Protocol):
    """Appends to one object; `offset` is how many bytes it holds. Close it to make the bytes durable."""

    offset: int

    def write(self, data: bytes | bytearray) -> None:
        """Append bytes at `offset`."""

    def close(self) -> None:
        """Flush what is buffered and release the object."""


class Storage(Protocol):
    """The operations evidence needs from a store."""

    def append(self, key: str) -> Writer:
        """Open the (possibly new) unsealed object for appending; raises StorageBusy if another writer holds it."""

    def seal(self, key: str) -> None:
        """Mark the object complete: it is durable and readable as one piece."""

    def size(self, key: str) -> int | None:
        """Bytes held (sealed or not), or None if there is no such object."""

    def read(self, key: str, *, chunk_bytes: int = READ_BYTES, limit: int | None = None) -> Iterator[bytes]:
        """The object's bytes (at most `limit`) in chunks of at most `chunk_bytes`."""

    def delete(self, key: str) -> None:
        """Remove the object and anything an unfinished upload left (no error if there is nothing)."""

    def stored_keys(self) -> list[str]:
        """Every key with something stored under it (for operators and for tests that nothing was left)."""


# --- local folder -----------------------------------------------------------------------------------------

class _LocalWriter:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            # Across processes (uvicorn workers): one appender per object, the second is refused, not interleaved.
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._fd)
            raise StorageBusy("another request is writing this upload; retry when it ends") from exc
        self.offset = os.fstat(self._fd).st_size

    def write(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self.offset += written

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class LocalStorage:
    """Objects as files in one folder (mode 0700), never served directly."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / check_key(key)

    def append(self, key: str) -> Writer:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return _LocalWriter(self._path(key))

    def seal(self, key: str) -> None:
        fd = os.open(self._path(key), os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)  # evidence is acknowledged as stored only once it is on disk
        finally:
            os.close(fd)

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, key: str, *, chunk_bytes: int = READ_BYTES, limit: int | None = None) -> Iterator[bytes]:
        left = limit
        with self._path(key).open("rb", buffering=0) as fh:
            while left is None or left > 0:
                data = fh.read(chunk_bytes if left is None else min(chunk_bytes, left))
                if not data:
                    return
                if left is not None:
                    left -= len(data)
                yield data

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def stored_keys(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir())


# --- S3-compatible store ----------------------------------------------------------------------------------

MIN_PART = 5 * 1024 * 1024  # S3's smallest multipart part (every part but the last)


class _S3Writer:
    """Appends by storing fixed-size segments; only the last (short) segment is rewritten by the next append.

    An unfinished multipart upload cannot be read back, but a resumed upload whose hasher was lost must re-read
    its prefix; so until sealing, the bytes live as ordinary objects `<key>.part/<offset>`, each exactly one part
    long except the last. Sealing composes them server-side (UploadPartCopy): no byte comes back through here.
    """

    def __init__(self, store: S3Storage, key: str) -> None:
        self._store, self._key = store, key
        segments = store._segments(key)
        self.offset = sum(size for _, size in segments)
        self._start, self._buffer = self.offset, bytearray()
        if segments and segments[-1][1] < store.part_bytes:
            name, size = segments[-1]
            self._start = self.offset - size
            self._buffer += store._get(name)  # the short tail, at most one part

    def write(self, data: bytes | bytearray) -> None:
        self._buffer += data
        self.offset += len(data)
        part = self._store.part_bytes
        while len(self._buffer) >= part:
            self._store._put(self._store._segment(self._key, self._start), bytes(self._buffer[:part]))
            del self._buffer[:part]
            self._start += part

    def close(self) -> None:
        if self._buffer:
            self._store._put(self._store._segment(self._key, self._start), bytes(self._buffer))
            self._start += len(self._buffer)
            self._buffer = bytearray()


class S3Storage:
    """Objects in a bucket of any S3-compatible store (boto3), under a prefix."""

    def __init__(self, settings: EvidenceSettings, *, part_bytes: int = 8 * 1024 * 1024, client: Any = None) -> None:
        if part_bytes < MIN_PART:
            raise ValueError(f"S3 parts are at least {MIN_PART} bytes")
        if client is None:
            import boto3  # only S3 deployments need it (the `s3` extra)
            from botocore.config import Config

            client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
                                  aws_access_key_id=settings.s3_access_key,
                                  aws_secret_access_key=settings.s3_secret_key,
                                  config=Config(signature_version="s3v4", retries={"mode": "standard"}))
        self.client, self.bucket, self.prefix, self.part_bytes = client, settings.s3_bucket, settings.s3_prefix, \
            part_bytes

    def _object(self, key: str) -> str:
        return f"{self.prefix}{check_key(key)}"

    def _segment(self, key: str, offset: int) -> str:
        return f"{self._object(key)}.part/{offset:016d}"

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def _segments(self, key: str) -> list[tuple[str, int]]:
        found = [(o["Key"], int(o["Size"])) for o in self._list(f"{self._object(key)}.part/")]
        return sorted(found)  # zero-padded offsets sort in byte order

    def _get(self, name: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=name)["Body"].read())

    def _put(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=name, Body=data)

    def _sealed_size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._object(key))["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def append(self, key: str) -> Writer:
        if self._sealed_size(key) is not None:
            raise Conflict("this object is sealed", code="upload_complete")
        return _S3Writer(self, key)

    def seal(self, key: str) -> None:
        segments, target = self._segments(key), self._object(key)
        if len(segments) <= 1:
            if segments:
                self.client.copy_object(Bucket=self.bucket, Key=target,
                                        CopySource={"Bucket": self.bucket, "Key": segments[0][0]})
            else:
                self._put(target, b"")
        else:
            upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=target)["UploadId"]
            try:
                parts = []
                for number, (name, _) in enumerate(segments, start=1):
                    done = self.client.upload_part_copy(Bucket=self.bucket, Key=target, UploadId=upload,
                                                        PartNumber=number,
                                                        CopySource={"Bucket": self.bucket, "Key": name})
                    parts.append({"PartNumber": number, "ETag": done["CopyPartResult"]["ETag"]})
                self.client.complete_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload,
                                                      MultipartUpload={"Parts": parts})
            except Exception:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload)
                raise
        self._delete_many([name for name, _ in segments])

    def size(self, key: str) -> int | None:
        sealed = self._sealed_size(key)
        if sealed is not None:
            return sealed
        segments = self._segments(key)
        return sum(size for _, size in segments) if segments else None

    def read(self, key: str, *, chunk_bytes: int = READ_BYTES, limit: int | None = None) -> Iterator[bytes]:
        names = [self._object(key)] if self._sealed_size(key) is not None else [n for n, _ in self._segments(key)]
        left = limit
        for name in names:
            body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"]
            with contextlib.closing(body):
                for data in body.iter_chunks(chunk_bytes):
                    if left is not None:
                        data = data[:left]
                        left -= len(data)
                    if data:
                        yield data
                    if left == 0:
                        return

    def _delete_many(self, names: list[str]) -> None:
        for i in range(0, len(names), 1000):
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": n} for n in names[i:i + 1000]],
                                                                   "Quiet": True})

    def delete(self, key: str) -> None:
        target = self._object(key)
        self._delete_many([target, *(name for name, _ in self._segments(key))])
        pending = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=target).get("Uploads", [])
        for upload in pending:  # a seal that died half-way
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])

    def stored_keys(self) -> list[str]:
        found = {o["Key"][len(self.prefix):][:32] for o in self._list(self.prefix)}
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix).get("Uploads", [])
        found.update(u["Key"][len(self.prefix):][:32] for u in uploads)
        return sorted(found)


def build_storage(settings: EvidenceSettings) -> Storage:
    """The store the settings name: the local folder (default) or an S3-compatible bucket."""
    if settings.storage == "s3":
        return S3Storage(settings)
    return LocalStorage(settings.folder)
