"""Group commit for the intake form: submissions arriving together are stored by one statement.

Each ``POST /leads`` costs PostgreSQL a statement and a commit (a WAL flush), and the service a round trip. Under load
most of that is paid again for every lead. ``LeadWriter`` keeps at most ``concurrency`` statements in flight; a
submission arriving while they all are waits for the next free one and goes with everything else that arrived
meanwhile (up to ``max_batch``), in one statement (``store.create_leads``). Alone, a submission is written at once:
nothing waits for a batch to fill.

A batch is atomic — all of it is stored or none — so a submission the database refuses would take the others down
with it: when a batch of several fails with an error about its data, its submissions are written again one by one,
and only the one at fault gets the error. Any other failure (the database unreachable, the pool exhausted) is every
submission's answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import psycopg
from motorcade_service.db import Connection
from psycopg_pool import AsyncConnectionPool

from lead_intake.models import LeadCreate
from lead_intake.store import Created, Submission, create_leads

# Errors the server raises for the data of a statement (a value it refuses, a constraint): another row's fault too.
_DATA_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError)


@dataclass
class WriterStats:
    """What the writer has done since it started: statements run and submissions they carried."""

    statements: int = 0
    submissions: int = 0
    largest_batch: int = 0
    retried_one_by_one: int = 0


class LeadWriter:
    """Stores submissions through ``pool``, batching those that arrive while ``concurrency`` statements run."""

    def __init__(self, pool: AsyncConnectionPool[Connection], *, concurrency: int, max_batch: int) -> None:
        if concurrency < 1 or max_batch < 1:
            raise ValueError("concurrency and max_batch must be at least 1")
        self.pool = pool
        self.concurrency = concurrency
        self.max_batch = max_batch
        self.stats = WriterStats()
        self._waiting: list[tuple[Submission, asyncio.Future[Created]]] = []
        self._writing = 0  # statements in flight (each in a task of its own)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Submissions waiting for a statement (all ``concurrency`` statements are in flight)."""
        return len(self._waiting)

    async def create(self, lead: LeadCreate, key: str | None) -> Created:
        """Store one submission (with whatever arrives meanwhile); its ``Created``, or its error raised."""
        future: asyncio.Future[Created] = asyncio.get_running_loop().create_future()
        self._waiting.append((Submission(lead, key), future))
        if self._writing < self.concurrency:
            self._writing += 1
            task = asyncio.create_task(self._write_while_waiting())
            self._tasks.add(task)  # the loop keeps only a weak reference to a task
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _write_while_waiting(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                await self._write(batch)
        finally:
            self._writing -= 1  # with nothing waiting: no await since the check, so nothing arrived unseen

    async def _write(self, batch: list[tuple[Submission, asyncio.Future[Created]]]) -> None:
        self.stats.statements += 1
        self.stats.submissions += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        try:
            async with self.pool.connection() as conn:
                outcomes = await create_leads(conn, [submission for submission, _ in batch])
        except _DATA_ERRORS as error:
            if len(batch) == 1:
                _settle(batch[0][1], error)
                return
            self.stats.retried_one_by_one += 1
            for item in batch:
                await self._write([item])
            return
        except Exception as error:  # the answer of every submission in the batch, raised in each request
            for _, future in batch:
                _settle(future, error)
            return
        except asyncio.CancelledError:  # the loop is shutting down: nobody is left waiting
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome)


def _settle(future: asyncio.Future[Created], outcome: Created | BaseException) -> None:
    """Hand ``outcome`` to the request waiting on ``future`` (unless it stopped waiting)."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
