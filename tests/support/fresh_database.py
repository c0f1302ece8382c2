"""A database of its own for tests that need real, committed transactions (several processes, or
the app's own engine), rather than the shared rolled-back test transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from app.broker_postgres import asyncpg_dsn


@asynccontextmanager
async def postgres_database(cluster_url: str) -> AsyncIterator[str]:
    """A new, empty database on the test cluster; yields its SQLAlchemy URL; dropped after."""
    name = f"footage_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(asyncpg_dsn(cluster_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield cluster_url.rsplit("/", 1)[0] + "/" + name
    finally:
        admin = await asyncpg.connect(asyncpg_dsn(cluster_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
