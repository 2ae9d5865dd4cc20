"""The connection pool of the runtime role and the per-request connection dependency."""

from __future__ import annotations

import select
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from motorcade_service.settings import ServiceSettings

Connection = AsyncConnection[DictRow]


def make_pool(settings: ServiceSettings) -> AsyncConnectionPool[Connection]:
    """A closed pool of autocommit connections as the runtime role; writes open explicit transactions."""

    async def check(conn: Connection) -> None:
        """``check_if_spoken_to``; a connection the server closed means it closed the others too (a restart, a
        restore), so every idle one is checked at once. Otherwise the pool would skip them one by one, waiting 1, 2,
        4… s in between, and a pool that had grown to six connections would spend its whole timeout on them."""
        try:
            await check_if_spoken_to(conn)
        except Exception:
            await pool.check()
            raise

    pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
        settings.conninfo(),
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        kwargs={"autocommit": True, "row_factory": dict_row},
        connection_class=AsyncConnection[DictRow],
        open=False,
        name=settings.application_name,
        timeout=settings.db_pool_timeout,
        # A connection the server closed (a restart, a restore that swapped the database) is replaced before it is
        # lent, instead of failing the request it was lent to.
        check=check,
    )
    return pool


async def check_if_spoken_to(conn: Connection) -> None:
    """Raise if an idle connection is no longer usable; the pool then replaces it before lending it.

    An idle connection has nothing to say: if its socket is readable, the server wrote to it (the FATAL message it
    sends before closing a terminated backend) or closed it, and a real round trip (``check_connection``) tells.
    Otherwise the connection is lent as it is: a round trip for every request costs a tenth of the request's CPU.
    """
    if conn.closed:
        raise ConnectionError("the connection is closed")
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if poller.poll(0):
        await AsyncConnectionPool.check_connection(conn)


async def get_connection(request: Request) -> AsyncIterator[Connection]:
    """Lend one pooled connection to the request; it goes back when the endpoint returns."""
    pool: AsyncConnectionPool[Connection] = request.app.state.pool
    async with pool.connection() as conn:
        yield conn


ConnectionDep = Annotated[Connection, Depends(get_connection, scope="function")]
