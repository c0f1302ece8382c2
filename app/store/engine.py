"""Engine construction for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.store.sqlite_driver import one_trip_dbapi


def make_engine(
    database_url: str,
    *,
    statement_timeout: float | None = None,
    sqlite_busy_timeout: float = 5.0,
    **kwargs: Any,
) -> AsyncEngine:
    """``statement_timeout`` (seconds, PostgreSQL only) makes the server itself abandon a
    statement the app has given up on, instead of letting it wait on a lock indefinitely.
    ``sqlite_busy_timeout`` (seconds): how long SQLite waits for another writer before
    "database is locked" (answered SERVICE_UNAVAILABLE, app.store.writes)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        if url.get_driver_name() == "aiosqlite":
            kwargs.setdefault("module", one_trip_dbapi())  # one trip per statement
        engine = create_async_engine(url, **kwargs)
        busy_ms = int(sqlite_busy_timeout * 1000)

        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_connection, busy_ms)

        event.listen(engine.sync_engine, "connect", pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if statement_timeout is not None:
        server_settings = {"statement_timeout": str(int(statement_timeout * 1000))}
        kwargs.setdefault("connect_args", {}).setdefault("server_settings", server_settings)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, busy_ms: int) -> None:
    # WAL lets readers run beside a writer (several uvicorn workers on one file); NORMAL is
    # durable under WAL except for the last transactions on power loss; foreign keys are off in
    # SQLite unless asked for; busy_timeout waits for a writer instead of failing at once.
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        f"busy_timeout={busy_ms}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
