"""The log handler: the lines of one event-loop turn leave in one write, at the end of that turn, in order; errors,
lines logged outside a loop and the flush at exit are written at once, so nothing is held back or lost."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest

from motorcade_service.logs import JsonFormatter, TurnBufferedStreamHandler


class RecordingStream:
    """Stands in for stdout: records each write (one write = one write() on the container's pipe)."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass

    def events(self) -> list[str]:
        return [json.loads(line)["event"] for text in self.writes for line in text.splitlines()]


@pytest.fixture
def stream() -> RecordingStream:
    return RecordingStream()


@pytest.fixture
def logger(stream: RecordingStream) -> Iterator[logging.Logger]:
    handler = TurnBufferedStreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger(f"motorcade_service.test_logs.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger
    logger.handlers.clear()


def test_lines_of_one_turn_leave_together_at_its_end(logger: logging.Logger, stream: RecordingStream) -> None:
    async def main() -> list[str]:
        for number in range(3):
            logger.info(f"request {number}")
        before_the_turn_ended = list(stream.writes)
        await asyncio.sleep(0)  # the turn ends; the next one writes
        await asyncio.sleep(0)
        logger.info("request 3")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return before_the_turn_ended

    assert asyncio.run(main()) == []
    assert len(stream.writes) == 2
    assert stream.events() == ["request 0", "request 1", "request 2", "request 3"]
    assert all(text.endswith("\n") for text in stream.writes)


def test_an_error_is_written_at_once_after_the_lines_waiting(logger: logging.Logger, stream: RecordingStream) -> None:
    async def main() -> list[str]:
        logger.info("request 0")
        logger.error("unexpected_error")
        return stream.events()

    assert asyncio.run(main()) == ["request 0", "unexpected_error"]


def test_lines_outside_a_loop_are_written_at_once(logger: logging.Logger, stream: RecordingStream) -> None:
    logger.info("starting")
    assert stream.events() == ["starting"]


def test_flush_writes_what_a_closed_loop_left_and_a_new_loop_writes_its_own(
    logger: logging.Logger, stream: RecordingStream
) -> None:
    """A loop that stops in the turn that logged (a test's client, a shutdown) leaves lines waiting: the next loop's
    turn writes them with its own, and ``flush`` (``logging.shutdown`` at exit) writes whatever is left."""

    def log_in_the_last_turn(event: str) -> None:
        loop = asyncio.new_event_loop()

        def last_turn() -> None:
            logger.info(event)
            loop.stop()  # the loop ends with this turn: the write it scheduled never runs

        loop.call_soon(last_turn)
        try:
            loop.run_forever()
        finally:
            loop.close()

    log_in_the_last_turn("last line of the first loop")
    assert stream.events() == []

    async def second() -> None:
        logger.info("first line of the second loop")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(second())
    assert stream.events() == ["last line of the first loop", "first line of the second loop"]

    log_in_the_last_turn("logged as the process exits")
    assert stream.events()[-1] == "first line of the second loop"
    for handler in logger.handlers:
        handler.flush()
    assert stream.events()[-1] == "logged as the process exits"
