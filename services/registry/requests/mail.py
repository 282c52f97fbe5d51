"""The emails an owner gets about a footage request: plain text, about their own cameras only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

BASIS_WORDS = {
    "owner_consent": "your consent (you decide whether to share)",
    "warrant": "a warrant",
    "exigent": "urgent circumstances (exigency)",
}


@dataclass(frozen=True)
class Mail:
    """One message: a one-line subject and a plain-text body."""

    subject: str
    body: str


def _one_line(text: str) -> str:
    # A subject is a mail header: a line break in it would start a header of the sender's choosing.
    return " ".join(text.split())


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def portal_url(public_url: str, request_id: object) -> str:
    """Where the owner answers the request."""
    return f"{public_url.rstrip('/')}/v1/my/requests/{request_id}"


def request_created(*, agency_name: str, case_number: str, legal_basis: str, window_start_at: datetime,
                    window_end_at: datetime, due_at: datetime, message: str, camera_labels: list[str],
                    url: str) -> Mail:
    """The owner is asked for footage."""
    cameras = "\n".join(f"  - {label}" for label in camera_labels)
    body = (
        f"{agency_name} asks for video from your cameras for case {case_number}.\n\n"
        f"Time window: {_at(window_start_at)} to {_at(window_end_at)}\n"
        f"Cameras:\n{cameras}\n"
        f"Legal basis: {BASIS_WORDS.get(legal_basis, legal_basis)}\n"
        f"Please answer by: {_at(due_at)}\n\n"
        f"Message from the investigator:\n{message}\n\n"
        f"To answer (accept, decline, or upload the video), sign in to Lookout and open:\n{url}\n"
        "You can accept or decline there, and upload files once you have accepted.\n\n"
        "If you did not register cameras with Lookout, you can ignore this message.\n"
    )
    return Mail(_one_line(f"Footage request from {agency_name} (case {case_number})"), body)


def request_withdrawn(*, agency_name: str, case_number: str, url: str) -> Mail:
    """The agency no longer needs the footage."""
    body = (
        f"{agency_name} has withdrawn its request for video for case {case_number}.\n"
        "You do not need to do anything.\n\n"
        f"The request: {url}\n"
    )
    return Mail(_one_line(f"Footage request withdrawn by {agency_name} (case {case_number})"), body)
