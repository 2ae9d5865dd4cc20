"""Structured JSON logs. Log calls pass fields in ``extra={"fields": {...}}``; messages never carry personal data."""

from __future__ import annotations

import asyncio
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


class TurnBufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A ``StreamHandler`` that writes the lines logged during one turn of the running event loop with one write.

    Under load one turn answers many requests (a batch of leads commits together), each with its access line. Written
    one by one, every line is a ``write()`` on the container's stdout pipe and a wake-up of the reader (podman's
    conmon, which hands the lines to journald). Here the lines wait in a list until the end of the turn
    (``loop.call_soon``, as ``transport.CoalescingTransport`` does for responses) and leave in one ``write()``; the
    reader still passes each line on as its own journal entry. Nothing waits longer than that turn: lines at
    ``ERROR`` and above, lines logged outside a running loop (start-up, other threads) and ``flush()`` (called by
    ``logging.shutdown`` at exit) write at once, in order after anything still waiting.
    """

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        # The loop whose turn will write the waiting lines; another loop (a test's next one, after the first closed
        # with lines waiting) schedules its own write.
        self._flush_loop: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            try:
                loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is None or record.levelno >= logging.ERROR:
                self._pending.append(line)
                self._write_pending()
                return
            if self._flush_loop is not loop:
                loop.call_soon(self.flush)
                self._flush_loop = loop
            self._pending.append(line)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Write the lines still waiting (if any) and flush the stream."""
        self.acquire()  # emit runs under this lock (Handler.handle); the loop's call to flush takes it too
        try:
            self._flush_loop = None
            self._write_pending()
        finally:
            self.release()

    def _write_pending(self) -> None:
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self.stream.write(text)
        if self.stream and hasattr(self.stream, "flush"):
            self.stream.flush()


def configure_logging(service: str, level: str) -> None:
    """Send every logger (uvicorn's too) to stdout as JSON, one write per turn of the event loop
    (``TurnBufferedStreamHandler``); uvicorn's access log stays off (it logs query strings)."""
    handler = TurnBufferedStreamHandler(sys.stdout)
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
