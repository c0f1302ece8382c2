"""``INSERT ... ON CONFLICT`` lives in each dialect's own ``insert``; pick the connection's."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

Upsert = postgresql.Insert | sqlite.Insert


def upsert_into(connection: AsyncConnection, table: Any) -> Upsert:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
