"""Encoding and strictly decoding contract messages: every consumer goes through `decode`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

MAX_PAYLOAD_BYTES = 64 * 1024  # also the broker's message_size_limit: nothing legitimate comes near it

M = TypeVar("M", bound=Message)


class WireError(ValueError):
    """A payload that is not a valid message of the expected type (too big, malformed, or incomplete)."""


def decode(message_type: type[M], payload: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> M:
    """Parse a payload into `message_type`, refusing oversized or malformed input."""
    if not isinstance(payload, bytes | bytearray):
        raise WireError("payload must be bytes")
    if len(payload) > max_bytes:
        raise WireError(f"payload of {len(payload)} bytes exceeds {max_bytes}")
    message = message_type()
    try:
        message.ParseFromString(bytes(payload))
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise WireError(f"malformed {message_type.__name__}: {exc}") from exc
    return message


def encode(message: Message) -> bytes:
    """Serialise a message deterministically."""
    return message.SerializeToString(deterministic=True)


def timestamp(at: datetime) -> Timestamp:
    """A protobuf Timestamp from an aware datetime."""
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    ts = Timestamp()
    ts.FromDatetime(at.astimezone(UTC))
    return ts


def to_datetime(ts: Timestamp) -> datetime:
    """An aware UTC datetime from a protobuf Timestamp."""
    return ts.ToDatetime(tzinfo=UTC)
