"""The SQLite engine's cursor (app.store.sqlite_driver): one trip to aiosqlite's thread per
statement, and the same answers as SQLAlchemy's own aiosqlite cursor, which the engine built
here without ``module`` uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.store.engine import make_engine
from app.store.sqlite_driver import OneTripCursor, OneTripDBAPI

Engines = tuple[AsyncEngine, AsyncEngine]  # (SQLAlchemy's cursor, the one-trip cursor)


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[Engines]:
    """Two engines over one new database file: SQLAlchemy's stock aiosqlite adaptation and
    Footage's (make_engine). The schema is made through the stock one."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"
    stock, ours = create_async_engine(url), make_engine(url)
    async with stock.begin() as connection:
        await connection.execute(
            text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, size REAL)")
        )
    yield stock, ours
    await stock.dispose()
    await ours.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The functions handed to aiosqlite's thread, by name, as they are queued."""
    queued: list[str] = []
    queue = cast("Callable[..., Awaitable[Any]]", aiosqlite.Connection._execute)

    async def counted(
        self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        queued.append(getattr(fn, "__name__", type(fn).__name__))
        return await queue(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return queued


async def _answers(engine: AsyncEngine) -> list[Any]:
    """What a sequence of statements reports, through ``engine``: rows, row counts, last row
    ids, descriptions and partial fetches."""
    seen: list[Any] = []
    async with engine.begin() as connection:
        inserted = await connection.exec_driver_sql(
            "INSERT INTO items (name, size) VALUES (?, ?)", ("a", 1.5)
        )
        seen.append(("insert", inserted.rowcount, inserted.lastrowid, inserted.returns_rows))
        many = await connection.execute(
            text("INSERT INTO items (name, size) VALUES (:name, :size)"),
            [{"name": "b", "size": 2.0}, {"name": "c", "size": None}, {"name": "d", "size": 4}],
        )
        seen.append(("executemany", many.rowcount))
        updated = await connection.execute(text("UPDATE items SET size = size * 2 WHERE size > 1"))
        seen.append(("update", updated.rowcount))
        result = await connection.execute(text("SELECT id, name, size FROM items ORDER BY id"))
        seen.append(("keys", list(result.keys())))
        seen.append(("first two", [tuple(row) for row in result.fetchmany(2)]))
        seen.append(("rest", [tuple(row) for row in result.fetchall()]))
        empty = await connection.execute(text("SELECT id FROM items WHERE id < 0"))
        seen.append(("none", empty.all(), list(empty.keys())))
        pragma = await connection.exec_driver_sql("PRAGMA journal_mode")
        seen.append(("pragma", pragma.scalar_one()))
        await connection.rollback()
    async with engine.connect() as connection:
        left = await connection.execute(text("SELECT count(*) FROM items"))
        seen.append(("after rollback", left.scalar_one()))
    return seen


async def test_sqlite_driver_answers_as_sqlalchemys_aiosqlite_cursor(engines: Engines) -> None:
    stock, ours = engines
    assert isinstance(ours.dialect.dbapi, OneTripDBAPI)
    assert not isinstance(stock.dialect.dbapi, OneTripDBAPI)
    assert await _answers(ours) == await _answers(stock)


async def test_sqlite_driver_reports_errors_as_sqlalchemys_aiosqlite_cursor(
    engines: Engines,
) -> None:
    raised: list[Any] = []
    for engine in engines:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO items (name) VALUES ('twice')"))
        for statement, expected in (
            ("INSERT INTO items (name) VALUES ('twice')", IntegrityError),
            ("SELECT nothing FROM nowhere", OperationalError),
        ):
            async with engine.connect() as connection:
                with pytest.raises(expected) as caught:
                    await connection.execute(text(statement))
                error = caught.value
                raised.append((type(error), type(error.orig), str(error.orig)))
                # The connection is still usable after the error.
                assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM items"))
    half = len(raised) // 2
    assert raised[:half] == raised[half:]


async def test_sqlite_driver_makes_one_trip_per_statement(
    engines: Engines, trips: list[str]
) -> None:
    _, ours = engines
    async with ours.connect() as connection:
        await connection.execute(text("SELECT 1"))  # the connection is made and set up
        trips.clear()
        for _ in range(3):
            result = await connection.execute(text("SELECT id, name FROM items"))
            result.all()
        await connection.execute(text("INSERT INTO items (name) VALUES ('x')"))
        assert trips == ["_run"] * 4
        raw = await connection.get_raw_connection()
        cursor = raw.dbapi_connection.cursor()  # type: ignore[union-attr]
        assert isinstance(cursor, OneTripCursor)
        cursor.close()


async def test_sqlite_driver_stock_cursor_makes_four_trips_per_statement(
    engines: Engines, trips: list[str]
) -> None:
    """What the one-trip cursor saves (and a sign that the counting above counts)."""
    stock, _ = engines
    async with stock.connect() as connection:
        await connection.execute(text("SELECT 1"))
        trips.clear()
        (await connection.execute(text("SELECT id, name FROM items"))).all()
        assert len(trips) == 4


async def test_sqlite_driver_skips_the_rollback_only_when_no_transaction_is_open(
    engines: Engines, trips: list[str]
) -> None:
    _, ours = engines
    async with ours.connect() as connection:
        await connection.execute(text("SELECT 1"))
        trips.clear()
        (await connection.execute(text("SELECT id FROM items"))).all()
    assert trips == ["_run"]  # a read: no rollback trip when the connection is returned

    trips.clear()
    async with ours.connect() as connection:
        await connection.execute(text("INSERT INTO items (name) VALUES ('kept?')"))
        await connection.rollback()  # a transaction is open: rolled back for real
    assert trips == ["_run", "rollback"]
    async with ours.connect() as connection:
        left = await connection.execute(text("SELECT count(*) FROM items WHERE name = 'kept?'"))
        assert left.scalar_one() == 0

    async with ours.connect() as connection:
        await connection.execute(text("INSERT INTO items (name) VALUES ('dropped')"))
        trips.clear()
    # Returned with the insert's transaction open: the pool's rollback makes the trip.
    assert trips == ["rollback"]
    async with ours.connect() as connection:
        left = await connection.execute(text("SELECT count(*) FROM items WHERE name = 'dropped'"))
        assert left.scalar_one() == 0

    async with ours.connect() as connection:
        await connection.execute(text("SELECT 1"))
        trips.clear()
        streamed = await connection.stream(text("SELECT id FROM items"))
        await streamed.all()
    # A server-side cursor's statements are not seen by the flag: the rollback is made.
    assert "rollback" in trips


async def test_sqlite_driver_rolls_back_what_its_cursors_did_not_see(
    engines: Engines, trips: list[str]
) -> None:
    """A transaction opened by SQL run on the driver's connection directly, or by a SAVEPOINT,
    is rolled back when the connection goes back to the pool, and a later transaction on that
    connection does not commit it."""
    _, ours = engines
    async with ours.connect() as connection:
        (await connection.execute(text("SELECT id FROM items"))).all()
        raw = await connection.get_raw_connection()
        driver: aiosqlite.Connection = raw.driver_connection  # type: ignore[assignment]
        await driver.execute("INSERT INTO items (name) VALUES ('raw, never committed')")
        trips.clear()
    assert "rollback" in trips

    async with ours.connect() as connection:
        (await connection.execute(text("SELECT id FROM items"))).all()
        await connection.exec_driver_sql("SAVEPOINT kept")
        await connection.exec_driver_sql("INSERT INTO items (name) VALUES ('in a savepoint')")
        trips.clear()
    assert trips == ["rollback"]

    async with ours.begin() as connection:
        await connection.execute(text("INSERT INTO items (name) VALUES ('later')"))
    async with ours.connect() as connection:
        names = (await connection.execute(text("SELECT name FROM items"))).scalars().all()
    assert names == ["later"]
