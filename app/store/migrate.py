"""Alembic, driven from code: ``upgrade`` for ``python -m app migrate`` and the tests, and
``pending_revision`` so the server refuses to serve a database it does not understand."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        command.upgrade(_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Back to ``revision`` (operators undoing an upgrade; the tests check each way works)."""

    def run(connection: Connection) -> None:
        command.downgrade(_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def pending_revision(engine: AsyncEngine) -> str | None:
    """``None`` when the database is at head, else a one-line explanation."""
    current = await current_revision(engine)
    head = head_revision()
    if current == head:
        return None
    if current is None:
        return "the database has not been migrated: run `python -m app migrate` (or `make run`)"
    return (
        f"the database is at revision {current}, this code needs {head}: "
        "run `python -m app migrate`"
    )
