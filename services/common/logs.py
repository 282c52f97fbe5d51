"""JSON-lines logging for every service."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from services.common.settings import LoggingSettings


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any `extra` fields."""

    _skip = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in self._skip})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(settings: LoggingSettings | None = None) -> None:
    """Install the JSON (or plain) handler on the root logger once."""
    settings = settings or LoggingSettings()
    root = logging.getLogger()
    if any(getattr(h, "_lookout", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._lookout = True  # type: ignore[attr-defined]
    if settings.json_lines:
        handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(settings.level.upper())
