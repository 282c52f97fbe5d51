"""The exception tree every Lookout service raises, documented in one place.

    LookoutError                      base: a message, an optional offending field, a stable code
    ├── InvalidInput        422       the request is well-formed but a value is wrong (names the field)
    ├── Unauthenticated     401       no token, a bad token, wrong credentials
    ├── Forbidden           403       authenticated, but this role or agency may not do this
    ├── NotFound            404       no such object, or not one the caller may know exists
    ├── Conflict            409       the object exists already, or its state forbids the change
    ├── Gone                410       the object existed but is no longer available (expired link, deleted file)
    ├── TooLarge            413       the body is over a size cap
    ├── UnsupportedMedia    415       the content is not of an allowed type (checked by content, not by name)
    ├── Locked              423       the account is locked after too many failed logins
    └── RateLimited         429       too many attempts from one source

Service functions raise these and never an HTTP exception; `STATUS` maps them to HTTP in one table.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("lookout.errors")


class LookoutError(Exception):
    """Base of every domain error: a message, a stable code and optionally the offending field."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class InvalidInput(LookoutError):
    code = "invalid_input"


class Unauthenticated(LookoutError):
    code = "unauthenticated"


class Forbidden(LookoutError):
    code = "forbidden"


class NotFound(LookoutError):
    code = "not_found"


class Conflict(LookoutError):
    code = "conflict"


class Gone(LookoutError):
    code = "gone"


class TooLarge(LookoutError):
    code = "too_large"


class UnsupportedMedia(LookoutError):
    code = "unsupported_media_type"


class Locked(LookoutError):
    code = "locked"


class RateLimited(LookoutError):
    code = "rate_limited"


STATUS: dict[type[LookoutError], int] = {
    InvalidInput: 422,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    TooLarge: 413,
    UnsupportedMedia: 415,
    Locked: 423,
    RateLimited: 429,
}


def status_for(exc: LookoutError) -> int:
    """HTTP status of a domain error, walking up its classes."""
    for klass in type(exc).__mro__:
        if klass in STATUS:
            return STATUS[klass]
    return 400


def error_body(code: str, message: str, field: str | None = None) -> dict[str, object]:
    """The one JSON shape of every error response."""
    return {"error": {"code": code, "message": message, "field": field}}


class ErrorDetail(BaseModel):
    """What went wrong, machine-readable (`code`) and for people (`message`), with the offending field."""

    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in ((401, "Missing, invalid or expired token, or wrong credentials"),
                                (403, "Your role or agency may not do this"),
                                (404, "No such object, or not one you may see"),
                                (422, "Invalid input; `field` names the offending field"))
}


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors and validation errors to clear JSON responses."""

    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LookoutError)
        status = status_for(exc)
        log.info("refused %s %s: %s (%s)", request.method, request.url.path, exc.code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status, headers=headers)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header"))
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        log.info("refused %s %s: %s", request.method, request.url.path, message)
        body = error_body("invalid_input", message, field or None)
        body["error"]["details"] = [  # type: ignore[index]
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
            for e in exc.errors()
        ]
        return JSONResponse(body, 422)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        # Unknown routes, wrong methods, unparsable bodies: the same error shape as everything else.
        assert isinstance(exc, StarletteHTTPException)
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    app.add_exception_handler(LookoutError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
