"""The connection pool of the runtime role and the per-request connection dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from people.settings import Settings

Connection = AsyncConnection[DictRow]


def make_pool(settings: Settings) -> AsyncConnectionPool[Connection]:
    """A closed pool of autocommit connections as the runtime role; writes open explicit transactions."""
    return AsyncConnectionPool(
        settings.conninfo(),
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        kwargs={"autocommit": True, "row_factory": dict_row},
        connection_class=AsyncConnection[DictRow],
        open=False,
        name="people",
        timeout=10.0,
        # A connection the server closed (a restart, a restore that swapped the database) is replaced before it is
        # lent, instead of failing the request it was lent to.
        check=AsyncConnectionPool.check_connection,
    )


async def get_connection(request: Request) -> AsyncIterator[Connection]:
    """Lend one pooled connection to the request; it goes back when the endpoint returns."""
    pool: AsyncConnectionPool[Connection] = request.app.state.pool
    async with pool.connection() as conn:
        yield conn


ConnectionDep = Annotated[Connection, Depends(get_connection, scope="function")]
