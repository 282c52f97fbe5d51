"""Evidence routes: owners' resumable uploads, staff listing and signed download links, case export."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.requests import ClientDisconnect

from services.common.errors import ErrorBody, error_body
from services.registry.deps import ContactCaller, OwnerCaller, RegistryDep, SessionDep, source_of
from services.registry.evidence import bundle, links, service, uploads
from services.registry.evidence import schemas as s
from services.registry.evidence.names import clean_filename, content_disposition

router = APIRouter(tags=["evidence"])
STREAM_BYTES = 1024 * 1024
CASE_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9/_.:-]*$"  # as everywhere else a case number is given


def _errors(*codes: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": text} for status, text in codes}


UPLOAD_ERRORS = _errors((409, "`offset_mismatch` (the `Upload-Offset` header says where to resume), "
                              "`upload_busy`, `upload_complete`, `request_closed`"),
                        (413, "`upload_too_large`: over the size cap, or more bytes than declared (upload removed)"),
                        (415, "`unsupported_media_type`: not an accepted video or image by its content "
                              "(upload removed)"))
PATCH_BODY = {"requestBody": {"required": True, "description": "the next bytes of the file, from `Upload-Offset`",
                              "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                  "format": "binary"}}}}}
OffsetHeader = Annotated[int, Header(alias="Upload-Offset", ge=0, le=2**62,
                                     description="where this body starts in the file (bytes already uploaded)")]


@router.post("/v1/my/requests/{request_id}/uploads", response_model=s.UploadRead, status_code=201,
             responses=UPLOAD_ERRORS, summary="Begin a resumable upload of a file for one of your requests")
def create_upload(request_id: uuid.UUID, body: s.UploadCreate, caller: OwnerCaller, session: SessionDep,
                  registry: RegistryDep) -> s.UploadRead:
    """Declare the file's name and exact size; then PATCH its bytes. Uploading to a pending request accepts it."""
    return uploads.create_upload(session, caller=caller, request_id=request_id, data=body,
                                 limits=registry.settings.evidence)


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise uploads.Disconnected from None


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


@router.patch("/v1/my/uploads/{upload_id}", response_model=s.UploadRead, responses=UPLOAD_ERRORS,
              openapi_extra=PATCH_BODY, summary="Send the next bytes of an upload (raw body, any size)")
async def patch_upload(upload_id: uuid.UUID, upload_offset: OffsetHeader, request: Request, caller: OwnerCaller,
                       session: SessionDep, registry: RegistryDep) -> Response:
    """Append the raw body at `Upload-Offset`. The type is judged from the first 4 KiB (send at least those, or
    the whole file if smaller, in the first PATCH); the last byte seals the file and records its SHA-256.

    A connection that breaks keeps what arrived: ask `HEAD` for the offset and resume from there.
    """
    try:
        done = await uploads.receive(session, caller=caller, upload_id=upload_id, offset=upload_offset,
                                     declared=_declared_length(request), body=_body(request),
                                     storage=registry.storage, limits=registry.settings.evidence)
    except uploads.OffsetMismatch as exc:
        return JSONResponse(error_body(exc.code, exc.message, exc.field), 409,
                            headers={"Upload-Offset": str(exc.offset)})
    return JSONResponse(done.model_dump(mode="json"), headers={"Upload-Offset": str(done.offset)})


@router.head("/v1/my/uploads/{upload_id}", status_code=200, summary="Where an upload stands (Upload-Offset)")
def head_upload(upload_id: uuid.UUID, caller: OwnerCaller, session: SessionDep, registry: RegistryDep) -> Response:
    """`Upload-Offset`: bytes stored so far; `Upload-Length`: the declared size."""
    status = uploads.upload_status(session, caller=caller, upload_id=upload_id, storage=registry.storage,
                                   limits=registry.settings.evidence)
    return Response(headers={"Upload-Offset": str(status.offset), "Upload-Length": str(status.size_bytes),
                             "Cache-Control": "no-store"})


@router.get("/v1/my/uploads/{upload_id}", response_model=s.UploadRead, summary="One of your uploads")
def get_upload(upload_id: uuid.UUID, caller: OwnerCaller, session: SessionDep, registry: RegistryDep) -> s.UploadRead:
    return uploads.upload_status(session, caller=caller, upload_id=upload_id, storage=registry.storage,
                                 limits=registry.settings.evidence)


@router.delete("/v1/my/uploads/{upload_id}", status_code=204, responses=UPLOAD_ERRORS,
               summary="Cancel an unfinished upload (its bytes are removed)")
def cancel_upload(upload_id: uuid.UUID, caller: OwnerCaller, session: SessionDep, registry: RegistryDep) -> Response:
    uploads.cancel_upload(session, caller=caller, upload_id=upload_id, storage=registry.storage)
    return Response(status_code=204)


@router.get("/v1/my/requests/{request_id}/evidence", response_model=list[s.EvidenceRead],
            summary="The files you sent for one of your requests")
def list_my_evidence(request_id: uuid.UUID, caller: OwnerCaller, session: SessionDep) -> list[s.EvidenceRead]:
    return service.list_my_evidence(session, caller=caller, request_id=request_id)


@router.get("/v1/requests/{request_id}/evidence", response_model=list[s.EvidenceRead],
            summary="Evidence files of a request you may see")
def list_evidence(request_id: uuid.UUID, caller: ContactCaller, session: SessionDep) -> list[s.EvidenceRead]:
    return service.list_request_evidence(session, caller=caller, request_id=request_id)


@router.get("/v1/evidence/{file_id}", response_model=s.EvidenceRead, summary="One evidence file")
def get_evidence(file_id: uuid.UUID, caller: ContactCaller, session: SessionDep) -> s.EvidenceRead:
    return service.get_evidence(session, caller=caller, file_id=file_id)


@router.post("/v1/evidence/{file_id}/link", response_model=s.LinkRead,
             responses=_errors((409, "`evidence_not_stored`"), (410, "`evidence_deleted` (retention ended)")),
             summary="A short-lived signed download link (audited)")
def issue_link(file_id: uuid.UUID, caller: ContactCaller, session: SessionDep, registry: RegistryDep) -> s.LinkRead:
    settings = registry.settings
    return service.issue_link(session, caller=caller, key=links.link_key(settings), file_id=file_id,
                              ttl_s=settings.evidence.link_ttl_s)


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    with fh:
        while data := fh.read(STREAM_BYTES):
            yield data


@router.get("/v1/evidence/download/{token}", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"},
                       **_errors((403, "`invalid_link`"), (410, "`link_expired` or `evidence_deleted`"))},
            summary="Download through a signed link (no token needed: the link is the permission)")
def download(token: Annotated[str, Path(max_length=200)], request: Request, session: SessionDep,
             registry: RegistryDep) -> StreamingResponse:
    """Stream the file; `X-Content-SHA256` is the hash recorded at upload, to check the copy against."""
    row = service.use_link(session, token=token, key=links.link_key(registry.settings), source=source_of(request))
    headers = {"Content-Disposition": content_disposition(row.filename), "Content-Length": str(row.size_bytes),
               "X-Content-SHA256": row.sha256 or "", "X-Content-Type-Options": "nosniff",
               "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return StreamingResponse(registry.storage.read(row.storage_key, chunk_bytes=STREAM_BYTES),
                             media_type=row.content_type or "application/octet-stream", headers=headers)


@router.post("/v1/cases/{case_number:path}/export", response_class=StreamingResponse,
             responses={200: {"content": {"application/zip": {}}, "description": "the bundle"},
                        **_errors((409, "`evidence_corrupt`: a stored file no longer matches its hash"))},
             summary="Export every evidence file of a case you may see, with a manifest (verify offline)")
def export_case(case_number: Annotated[str, Path(min_length=3, max_length=64, pattern=CASE_NUMBER)],
                caller: ContactCaller, session: SessionDep, registry: RegistryDep) -> StreamingResponse:
    """A ZIP of `files/`, `manifest.json` (hashes, custody trail) and `manifest.sha256`; check it with
    `lookout evidence verify bundle.zip`."""
    # Unnamed: nothing is left on disk whatever happens; the streaming generator closes it.
    fh = tempfile.TemporaryFile(prefix="lookout-export-")  # noqa: SIM115
    try:
        done = bundle.export_case(session, caller=caller, storage=registry.storage, case_number=case_number, out=fh,
                                  sign=registry.kit.issuer.sign_statement)
        size = fh.tell()
        fh.seek(0)
    except BaseException:
        fh.close()
        raise
    name = clean_filename(f"case-{case_number.replace('/', '-')}-evidence.zip")
    headers = {"Content-Disposition": content_disposition(name), "Content-Length": str(size),
               "X-Manifest-SHA256": done.manifest_sha256, "Cache-Control": "no-store"}
    return StreamingResponse(_chunks(fh), media_type="application/zip", headers=headers)
