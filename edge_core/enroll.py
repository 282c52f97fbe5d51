"""Enrolment: trade a one-time code for device credentials at the registry (stdlib HTTP only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from edge_core import FIRMWARE
from edge_core.config import check_registry_url
from edge_core.credentials import Credentials, parse_credentials, store_credentials

MAX_ANSWER_BYTES = 64 * 1024
_ERRORS = {
    400: "the registry rejected the request",
    401: "the registry refused the request",
    403: "the registry refused the request",
    404: "unknown enrolment code: check it, or ask for a new one in the owner portal",
    409: "this enrolment code was already used (or has expired); ask for a new one in the owner portal",
    422: "the enrolment request was invalid (check the code's format)",
    429: "too many enrolment attempts; wait and try again later",
}


class EnrollError(RuntimeError):
    """Enrolment failed; the message is meant for the owner."""


def enroll(code: str, registry: str, credentials_file: Path, *, force: bool = False,
           timeout: float = 20.0) -> Credentials:
    """POST the code to {registry}/v1/devices/enroll and store the answer as the credentials file."""
    code = code.strip()
    if not code or len(code) > 128:
        raise EnrollError("the enrolment code is empty or too long")
    if credentials_file.exists() and not force:
        raise EnrollError(f"{credentials_file} already exists; this box is enrolled (use --force to replace it)")
    url = check_registry_url(registry, "--registry") + "/v1/devices/enroll"
    doc = _post_json(url, {"code": code, "firmware": FIRMWARE}, timeout)
    creds = parse_credentials(doc)
    store_credentials(credentials_file, doc, force=force)
    return creds


def _post_json(url: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310 - https checked
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - scheme checked above
            status = answer.status
            raw = answer.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        with exc:  # closes the answer's connection
            message = _http_error(exc)
        raise EnrollError(message) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EnrollError(f"cannot reach the registry: {reason}") from None
    if status != 201:
        raise EnrollError(f"unexpected answer from the registry: HTTP {status}")
    if len(raw) > MAX_ANSWER_BYTES:
        raise EnrollError("the registry's answer is too large")
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise EnrollError("the registry's answer is not JSON") from None
    if not isinstance(doc, dict):
        raise EnrollError("the registry's answer is not a JSON object")
    return doc


def _http_error(exc: urllib.error.HTTPError) -> str:
    message = _ERRORS.get(exc.code, "the registry answered with an error")
    if exc.code == 429:
        retry = exc.headers.get("Retry-After")
        if retry and retry.isdigit():
            message = f"too many enrolment attempts; try again in {int(retry)} seconds"
    detail = _detail(exc)
    return f"{message} (HTTP {exc.code}{': ' + detail if detail else ''})"


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        doc = json.loads(exc.read(4096))
    except (ValueError, OSError):
        return ""
    detail = doc.get("detail") if isinstance(doc, dict) else None
    if isinstance(detail, str):
        return detail[:200]
    return ""
