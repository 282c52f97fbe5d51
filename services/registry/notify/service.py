"""Putting a message to an owner in the notification outbox, inside the caller's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from services.registry.crypto import ContactCipher
from services.registry.notify.models import Notification


def enqueue(session: Session, *, cipher: ContactCipher, owner_id: uuid.UUID | None, to: str, kind: str,
            subject: str, body: str, request_id: uuid.UUID | None = None) -> Notification:
    """Queue one message; the sender delivers it after commit (nothing is lost if the mail server is down)."""
    note = Notification(owner_id=owner_id, request_id=request_id, kind=kind, to_enc=cipher.encrypt(to),
                        subject=subject[:200], body=body)
    session.add(note)
    return note

