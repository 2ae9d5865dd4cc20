"""Structured JSON logs. Log calls pass fields in ``extra={"fields": {...}}``; messages never carry personal data."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

# One encoder for every line: ``json.dumps(..., default=str)`` builds a new JSONEncoder per call.
_encode = json.JSONEncoder(default=str).encode


class JsonFormatter(logging.Formatter):
    """One JSON object per line; exceptions are rendered as type and frames only (their messages may hold user data)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["exc_frames"] = [
                f"{frame.filename}:{frame.lineno}:{frame.name}" for frame in traceback.extract_tb(record.exc_info[2])
            ]
        return _encode(entry)


def configure_logging(service: str, level: str) -> None:
    """Send every logger (uvicorn's too) to stdout as JSON; uvicorn's access log stays off (it logs query strings)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # The lines never show the caller's file and line, thread or process: skip collecting them for every record
    # (the logging HOWTO's "Optimization" section; finding the caller walks the stack on each call).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with structured ``fields`` (ids, counts, statuses — never names, emails, phones or free text)."""
    logger.log(level, event, extra={"fields": fields})
