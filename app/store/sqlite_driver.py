"""SQLAlchemy's aiosqlite adaptation, with one trip to the database thread per statement.

aiosqlite runs every call on its connection in one worker thread, and SQLAlchemy's adapted
cursor makes four calls per statement: open a cursor, execute, fetch all rows, close. Each is a
trip to that thread and back (a queue put, a thread wake-up, a wake-up of the event loop
through its self-pipe): about 0.35 ms of CPU and latency per statement on this machine, 16
trips for a 100-result page's four reads (BENCHMARKS.md). Here a statement is one function
run in that thread, which does the same four steps with ``sqlite3`` itself and hands back the
description, rows, row count and last row id.

A connection with no transaction open (after a read, in sqlite3's legacy transaction
handling) is not sent a rollback when it goes back to the pool: that trip would do nothing. A
page's reads are then four trips in all, where they were seventeen.

Everything else is SQLAlchemy's and aiosqlite's: the connection, its thread and queue (the
function goes through aiosqlite's own queue, as SQLAlchemy's ``isolation_level`` setter does),
transactions, the statement mutex, error translation, server-side cursors. The sqlite3 cursor
answers exactly what it answered through aiosqlite; ``tests/test_sqlite_driver.py`` compares
the two and counts the trips.

It relies on aiosqlite internals SQLAlchemy also uses: ``Connection._execute`` (queue a
function for the thread, await its result) and the sqlite3 connection it holds (used in that
thread, but for reading its ``in_transaction`` flag). pyproject.toml bounds aiosqlite's
version accordingly.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

# description, rows, rowcount, lastrowid, and whether a transaction is open after it
Outcome = tuple[Any, Sequence[Any], int, int | None, bool]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """One statement, in aiosqlite's thread."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description and not many else ()
        return description, rows, cursor.rowcount, cursor.lastrowid, connection.in_transaction
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's buffered aiosqlite cursor, each statement one trip to the thread. The rows
    are buffered as SQLAlchemy's cursor buffers them; the values a DBAPI cursor reports after
    a statement are kept from the sqlite3 cursor that ran it."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # Not the base __init__: it opens an aiosqlite cursor (a trip) that is not used here.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1  # sqlite3's default

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        """Nothing is left open in the thread: each statement's cursor is closed there."""

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        """sqlite3 ignores input sizes."""

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._statement(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._statement(operation, seq_of_parameters, many=True)

    async def _statement(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        in_thread = cast("Callable[..., Awaitable[Outcome]]", connection._execute)
        async with adapted._execute_mutex:
            adapted.idle = False  # unknown until the statement has run
            outcome = await in_thread(_run, connection._conn, operation, parameters, many)
        self._description, rows, self._rowcount, self._lastrowid, in_transaction = outcome
        adapted.idle = not in_transaction
        self._rows = collections.deque(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection, with ``OneTripCursor`` cursors, and no trip to roll
    back when no transaction is open. A read in sqlite3's (legacy) transaction handling opens
    none, so the rollback that ends each request's connection would be a trip that does
    nothing.

    A rollback is skipped only when both say so: ``idle`` (no statement of this connection's
    cursors is under way, or ended without an answer: a cancelled one may still run in the
    thread; set False by a server-side cursor or an isolation change too) and sqlite3's own
    ``in_transaction``, read here (it asks SQLite, under SQLite's own mutex), which also sees
    SQL run on the driver's connection directly."""

    __slots__ = ("idle",)

    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.idle = False

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:
            self.idle = False
        return super().cursor(server_side)

    @property
    def isolation_level(self) -> str | None:
        return cast("str | None", self._connection.isolation_level)

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self.idle = False
        AsyncAdapt_aiosqlite_connection.isolation_level.fset(self, value)  # type: ignore[attr-defined]

    def _in_transaction(self) -> bool:
        raw: sqlite3.Connection | None = self._connection._connection  # None once closed
        return raw is not None and raw.in_transaction

    def rollback(self) -> None:
        if self.idle and not self._in_transaction():
            return
        super().rollback()
        self.idle = True

    def commit(self) -> None:
        super().commit()
        self.idle = not self._in_transaction()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DBAPI module, its connections' cursors ``OneTripCursor``. Given
    to ``create_async_engine`` as its ``module``."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
