"""Resumable evidence uploads: an owner streams a file in one or many PATCHes; it is hashed while it streams.

1. `POST /v1/my/requests/{id}/uploads {filename, size_bytes}` creates the upload (offset 0).
2. `PATCH /v1/my/uploads/{id}` with `Upload-Offset: n` appends the raw body at n. Any number of PATCHes; a
   broken connection keeps what arrived, `HEAD` tells where to resume.
3. When `size_bytes` arrived the file is sealed, its SHA-256 recorded, and it becomes evidence.

Refusals leave nothing behind: a type that is not an allowed video or image (judged from the first bytes, never
the name), a body past the declared size, or a declared size over the cap remove the upload's bytes and row.
Unfinished uploads are not evidence; the maintenance sweep purges those left idle (service.purge_stale_uploads).

No database transaction is held while bytes stream (SQLite would hold its one write lock for minutes): the row
is read, the transaction ends, the body streams to storage, then a second transaction records the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anyio import to_thread
from sqlalchemy.orm import Session

from services.common.auth import Role, require_role
from services.common.errors import Conflict, NotFound, TooLarge, UnsupportedMedia
from services.registry.audit import service as audit
from services.registry.context import Caller
from services.registry.database import utcnow
from services.registry.evidence import schemas as s
from services.registry.evidence.models import EvidenceFile
from services.registry.evidence.names import clean_filename
from services.registry.evidence.service import evidence_event, retention_until
from services.registry.evidence.sniff import SNIFF_BYTES, sniff
from services.registry.evidence.storage import Storage, Writer, new_key
from services.registry.requests.access import visible_request
from services.registry.requests.models import OPEN_STATES, FootageRequest
from services.registry.settings import EvidenceSettings

PROGRESS_MAX = 256  # running hashes kept between PATCHes; one pushed out only costs a re-read of its prefix
DEAD_REQUEST_STATES = ("declined", "withdrawn", "closed")  # an upload begun before may not finish


class OffsetMismatch(Conflict):
    """The client's Upload-Offset is not where the upload stands; `offset` is where it does."""

    code = "offset_mismatch"

    def __init__(self, offset: int, claimed: int) -> None:
        super().__init__(f"Upload-Offset is {claimed} but the upload holds {offset} bytes; resume at {offset}",
                         field="Upload-Offset")
        self.offset = offset


class Disconnected(Exception):
    """The client went away mid-body: keep what arrived, the client resumes later."""


class _Live:
    """This process's view of uploads in flight: which are streaming now, and running hashes between PATCHes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[uuid.UUID] = set()
        self._progress: OrderedDict[uuid.UUID, tuple[int, Any]] = OrderedDict()

    @contextlib.contextmanager
    def busy(self, file_id: uuid.UUID) -> Iterator[None]:
        with self._lock:
            if file_id in self._busy:
                raise Conflict("another request is writing this upload; retry when it ends", code="upload_busy")
            self._busy.add(file_id)
        try:
            yield
        finally:
            with self._lock:
                self._busy.discard(file_id)

    def take(self, file_id: uuid.UUID, offset: int) -> Any:
        with self._lock:
            kept = self._progress.pop(file_id, None)
        return kept[1] if kept and kept[0] == offset else None

    def keep(self, file_id: uuid.UUID, offset: int, hasher: Any) -> None:
        with self._lock:
            self._progress[file_id] = (offset, hasher)
            while len(self._progress) > PROGRESS_MAX:
                self._progress.popitem(last=False)

    def forget(self, file_id: uuid.UUID | None = None) -> None:
        with self._lock:
            if file_id is None:
                self._progress.clear()
            else:
                self._progress.pop(file_id, None)


LIVE = _Live()


def forget_progress() -> None:
    """Drop every running hash, as a restart does (the next PATCH re-reads the stored prefix)."""
    LIVE.forget()


@dataclass(frozen=True)
class Ticket:
    """What streaming a PATCH needs, read before the body and held outside any transaction."""

    file_id: uuid.UUID
    owner_id: uuid.UUID | None
    storage_key: str
    size_bytes: int
    content_type: str | None


@dataclass
class _Streamed:
    offset: int
    hasher: Any
    content_type: str | None


# --- reading and creating ---------------------------------------------------------------------------------

def _own_upload(session: Session, caller: Caller, upload_id: uuid.UUID,
                for_update: bool = False) -> tuple[EvidenceFile, FootageRequest]:
    require_role(caller.principal, Role.OWNER)
    row = session.get(EvidenceFile, upload_id, with_for_update=for_update)
    request = session.get(FootageRequest, row.request_id) if row else None
    if row is None or request is None or request.owner_id is None or request.owner_id != caller.principal.owner_id:
        raise NotFound("no such upload", code="upload_not_found")
    return row, request


def upload_read(row: EvidenceFile, *, offset: int, chunk_bytes: int) -> s.UploadRead:
    """The API view of an upload at `offset`."""
    return s.UploadRead(upload_id=row.id, request_id=row.request_id, filename=row.filename, size_bytes=row.size_bytes,
                        offset=offset, chunk_bytes=chunk_bytes, state=row.state,
                        content_type=row.content_type, sha256=row.sha256)


def create_upload(session: Session, *, caller: Caller, request_id: uuid.UUID, data: s.UploadCreate,
                  limits: EvidenceSettings) -> s.UploadRead:
    """Begin an upload to one of the caller's open requests (uploading to a pending request accepts it)."""
    require_role(caller.principal, Role.OWNER)
    request = visible_request(session, caller=caller, request_id=request_id, for_update=True)
    now = utcnow()
    if request.state not in OPEN_STATES:
        raise Conflict(f"this request is {request.state}; files can only be sent to an open request",
                       code="request_not_open")
    if request.due_at <= now:
        raise Conflict("this request passed its due date", code="request_expired")
    name = clean_filename(data.filename)
    if data.size_bytes > limits.max_upload_bytes:
        audit.record(session, caller=caller, action="evidence.upload_refused", object_type="footage_request",
                     object_id=request.id, subject_owner_id=request.owner_id, agency_id=request.agency_id,
                     case_number=request.case_number, outcome="refused", reason="too_large",
                     detail={"filename": name, "size_bytes": data.size_bytes})
        session.commit()
        raise TooLarge(f"files are limited to {limits.max_upload_bytes} bytes", field="size_bytes",
                       code="upload_too_large")
    if request.state == "pending":
        request.state, request.answered_at = "accepted", now
        audit.record(session, caller=caller, action="request.accepted", object_type="footage_request",
                     object_id=request.id, subject_owner_id=request.owner_id, agency_id=request.agency_id,
                     case_number=request.case_number, detail={"by": "upload"})
    row = EvidenceFile(request_id=request.id, agency_id=request.agency_id, case_number=request.case_number,
                       uploaded_by=caller.principal.account_id, filename=name, size_bytes=data.size_bytes,
                       received_bytes=0, storage_key=new_key(), state="uploading")
    session.add(row)
    session.commit()
    return upload_read(row, offset=0, chunk_bytes=limits.chunk_bytes)


def upload_status(session: Session, *, caller: Caller, upload_id: uuid.UUID, storage: Storage,
                  limits: EvidenceSettings) -> s.UploadRead:
    """Where an upload stands (the stored bytes are the truth: a crash may have kept more than the row says)."""
    row, _ = _own_upload(session, caller, upload_id)
    offset = (storage.size(row.storage_key) or 0) if row.state == "uploading" else row.received_bytes
    return upload_read(row, offset=offset, chunk_bytes=limits.chunk_bytes)


def cancel_upload(session: Session, *, caller: Caller, upload_id: uuid.UUID, storage: Storage) -> None:
    """The owner abandons an unfinished upload: its bytes and row go (stored evidence cannot be withdrawn)."""
    row, _ = _own_upload(session, caller, upload_id, for_update=True)
    if row.state != "uploading":
        raise Conflict("this file is stored as evidence and cannot be withdrawn", code="upload_complete")
    with LIVE.busy(row.id):
        storage.delete(row.storage_key)
        LIVE.forget(row.id)
        session.delete(row)
        session.commit()


# --- streaming a PATCH ------------------------------------------------------------------------------------

def open_patch(session: Session, *, caller: Caller, upload_id: uuid.UUID, storage: Storage) -> Ticket:
    """Check the upload may take bytes; end the transaction before the body streams."""
    row, request = _own_upload(session, caller, upload_id)
    if row.state != "uploading":
        raise Conflict("this upload is complete", code="upload_complete")
    ticket = Ticket(row.id, request.owner_id, row.storage_key, row.size_bytes, row.content_type)
    if request.state in DEAD_REQUEST_STATES:
        discard(session, caller=caller, ticket=ticket, storage=storage, reason="request_closed")
        raise Conflict(f"this request is {request.state}; the unfinished upload was removed", code="request_closed")
    session.commit()
    return ticket


def discard(session: Session, *, caller: Caller | None, ticket: Ticket, storage: Storage, reason: str) -> None:
    """Remove a refused upload's bytes and row; record the refusal."""
    storage.delete(ticket.storage_key)
    LIVE.forget(ticket.file_id)
    row = session.get(EvidenceFile, ticket.file_id)
    if row is not None and row.state == "uploading":
        evidence_event(session, caller=caller, action="evidence.upload_refused", row=row, owner_id=ticket.owner_id,
                       outcome="refused", reason=reason,
                       detail={"filename": row.filename, "size_bytes": row.size_bytes})
        session.delete(row)
    session.commit()


def _type_of(head: bytes | bytearray, limits: EvidenceSettings) -> str:
    kind = sniff(bytes(head[:SNIFF_BYTES]))
    if kind is None or kind not in limits.allowed_types:
        allowed = ", ".join(limits.allowed_types)
        raise UnsupportedMedia(f"the file's content is not an accepted video or image ({allowed}); the name and "
                               "declared type are not considered", code="unsupported_media_type")
    return kind


def _resume(ticket: Ticket, offset: int, storage: Storage, limits: EvidenceSettings) -> tuple[Any, str | None]:
    """The running hash at `offset` (re-read from storage if this process lost it) and the sniffed type."""
    hasher = LIVE.take(ticket.file_id, offset)
    if hasher is None:
        hasher = hashlib.sha256()
        for data in storage.read(ticket.storage_key, chunk_bytes=limits.chunk_bytes, limit=offset) if offset else ():
            hasher.update(data)
    kind = ticket.content_type
    if kind is None and offset:  # bytes stored, row not updated: a crash between the two
        kind = _type_of(b"".join(storage.read(ticket.storage_key, limit=SNIFF_BYTES)), limits)
    return hasher, kind


class _Sink:
    """Hashes and writes chunks in a worker thread, one in flight while the next arrives (both release the GIL)."""

    def __init__(self, writer: Writer, hasher: Any) -> None:
        self.writer, self.hasher = writer, hasher
        self._inflight: asyncio.Future[None] | None = None

    def _write(self, chunk: bytearray) -> None:
        self.hasher.update(chunk)
        self.writer.write(chunk)

    async def put(self, chunk: bytearray) -> None:
        await self.drain()
        self._inflight = asyncio.ensure_future(to_thread.run_sync(self._write, chunk))

    async def drain(self) -> None:
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            await inflight


async def _pump(ticket: Ticket, sink: _Sink, body: AsyncIterator[bytes], *, offset: int, kind: str | None,
                limits: EvidenceSettings) -> str | None:
    pending, total, ended = bytearray(), offset, True
    try:
        async for data in body:
            total += len(data)
            if total > ticket.size_bytes:
                raise TooLarge(f"the body goes past the declared size of {ticket.size_bytes} bytes; the upload was "
                               "removed", code="upload_too_large")
            pending += data
            if kind is None:
                if len(pending) < min(SNIFF_BYTES, ticket.size_bytes - offset):
                    continue
                kind = _type_of(pending, limits)
            if len(pending) >= limits.chunk_bytes:
                await sink.put(pending)
                pending = bytearray()
    except Disconnected:
        ended = False
    if kind is None and pending and ended:  # a first PATCH shorter than the sniffing window: judge what came
        kind = _type_of(pending, limits)
    if kind is not None and pending:
        await sink.put(pending)
    await sink.drain()
    return kind


async def _stream(ticket: Ticket, *, offset: int, declared: int | None, body: AsyncIterator[bytes],
                  storage: Storage, limits: EvidenceSettings) -> _Streamed:
    writer = await to_thread.run_sync(storage.append, ticket.storage_key)
    sink: _Sink | None = None
    try:
        if writer.offset != offset:
            raise OffsetMismatch(writer.offset, offset)
        if declared is not None and offset + declared > ticket.size_bytes:
            raise TooLarge(f"the body goes past the declared size of {ticket.size_bytes} bytes; the upload was "
                           "removed", code="upload_too_large")
        hasher, kind = await to_thread.run_sync(_resume, ticket, offset, storage, limits)
        sink = _Sink(writer, hasher)
        kind = await _pump(ticket, sink, body, offset=offset, kind=kind, limits=limits)
    finally:
        if sink is not None:
            with contextlib.suppress(Exception):  # a failed write already raised; just let it finish
                await sink.drain()
        await to_thread.run_sync(writer.close)
    assert sink is not None
    return _Streamed(writer.offset, sink.hasher, kind)


def record_progress(session: Session, *, caller: Caller, ticket: Ticket, done: _Streamed, storage: Storage,
                    limits: EvidenceSettings, now: datetime | None = None) -> s.UploadRead:
    """Note how far the upload got; when complete, seal it and record it as evidence with its SHA-256."""
    complete = done.offset == ticket.size_bytes
    if complete:
        storage.seal(ticket.storage_key)  # before the transaction: on S3 this composes the parts server-side
    try:
        row, request = _own_upload(session, caller, ticket.file_id, for_update=True)
    except NotFound:
        storage.delete(ticket.storage_key)  # cancelled by another process while this one streamed
        raise
    row.received_bytes, row.content_type = done.offset, done.content_type
    if complete:
        now = now or utcnow()
        row.sha256, row.state, row.stored_at = done.hasher.hexdigest(), "stored", now
        row.retain_until_at = retention_until(session, agency_id=row.agency_id, stored_at=now,
                                              default_days=limits.retention_days)
        evidence_event(session, caller=caller, action="evidence.uploaded", row=row, owner_id=request.owner_id,
                       detail={"sha256": row.sha256, "size_bytes": row.size_bytes, "content_type": row.content_type,
                               "filename": row.filename, "request_id": request.id})
    else:
        LIVE.keep(ticket.file_id, done.offset, done.hasher)
    session.commit()
    return upload_read(row, offset=done.offset, chunk_bytes=limits.chunk_bytes)


async def receive(session: Session, *, caller: Caller, upload_id: uuid.UUID, offset: int, declared: int | None,
                  body: AsyncIterator[bytes], storage: Storage, limits: EvidenceSettings) -> s.UploadRead:
    """Append one PATCH body at `offset` (checked against what storage holds) and record the progress."""
    ticket = await to_thread.run_sync(lambda: open_patch(session, caller=caller, upload_id=upload_id, storage=storage))
    with LIVE.busy(ticket.file_id):
        try:
            done = await _stream(ticket, offset=offset, declared=declared, body=body, storage=storage, limits=limits)
        except (TooLarge, UnsupportedMedia) as exc:
            reason = exc.code
            await to_thread.run_sync(lambda: discard(session, caller=caller, ticket=ticket, storage=storage,
                                                     reason=reason))
            raise
        return await to_thread.run_sync(lambda: record_progress(session, caller=caller, ticket=ticket, done=done,
                                                                storage=storage, limits=limits))
