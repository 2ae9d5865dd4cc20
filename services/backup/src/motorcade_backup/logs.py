"""Structured logs: one JSON object per line on stdout, for the systemd journal.

Under systemd (``JOURNAL_STREAM`` set) each line starts with a ``<N>`` syslog priority so that the journal
records warnings and failures at their real priority (``SyslogLevelPrefix=`` is on by default).
Every line passes through :func:`motorcade_backup.redact.redact`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from motorcade_backup.redact import redact

LOGGER_NAME = "motorcade_backup"
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class JsonLineFormatter(logging.Formatter):
    """Format a record as one redacted JSON line."""

    def __init__(self, *, journal: bool) -> None:
        super().__init__()
        self._journal = journal

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["traceback"] = self.formatException(record.exc_info)
        line = redact(json.dumps(payload, default=str, sort_keys=False))
        if self._journal:
            line = f"<{_PRIORITY.get(record.levelno, 6)}>{line}"
        return line


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send the package's logs as JSON lines to ``stream`` (stdout by default)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonLineFormatter(journal=bool(os.environ.get("JOURNAL_STREAM"))))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    # Libraries log request details at DEBUG; keep them out of the journal.
    for noisy in ("boto3", "botocore", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class EventLogger:
    """``log.info("backup_started", database="x")`` — an event name plus typed fields."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(f"{LOGGER_NAME}.{name}")

    def _emit(self, level: int, event: str, fields: dict[str, object], exc_info: bool = False) -> None:
        self._logger.log(level, event, extra={"fields": fields}, exc_info=exc_info)

    def debug(self, event: str, **fields: object) -> None:
        self._emit(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: object) -> None:
        self._emit(logging.INFO, event, fields)

    def warning(self, event: str, **fields: object) -> None:
        self._emit(logging.WARNING, event, fields)

    def error(self, event: str, **fields: object) -> None:
        self._emit(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: object) -> None:
        self._emit(logging.ERROR, event, fields, exc_info=True)


def get_logger(name: str) -> EventLogger:
    """An :class:`EventLogger` below the package logger."""
    return EventLogger(name)
